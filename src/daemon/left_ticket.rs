//! The poller and its cycle over the due 余票 watches: plan coalesced queries, send them through
//! the paced client ([`crate::poll::execute`], the same step `once` uses), decide each answered
//! (watch, date) against its own stored state ([`crate::decide::decide`]), group the cycle's
//! alerts into one email per person ([`crate::notify::grouping`]), and write everything — state
//! changes, history, no-match notes, emails, every watch's poll status — in ONE transaction.
//!
//! The decisions and the rendering run before the store call, so only the writes sit inside the
//! transaction; an unchanged cycle is one commit for all its watches. Because there is one poller
//! and "due" is a set, a watch never runs twice at once and a slow cycle never piles up queued
//! runs. Dates before 12306's today are finished, not retried; a query refused lately goes last.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDate};

use super::context::{Ctx, lock};
use super::gate;
use super::grab;
use crate::clock;
use crate::decide::{self, Previous};
use crate::notify::{self, grouping};
use crate::poll::{self, Executed, Gate, Skip, WatchResult};
use crate::rail::client::RailError;
use crate::stations::StationTable;
use crate::store::{
    CycleEmail, CyclePoll, CycleRecord, EmailKind, JobKey, NewEmail, PollOutcome, PollStatus,
};
use crate::watchlist::Watch;

/// How long the poller waits after the first watch becomes due, to serve every watch due in the
/// same tick with one request per query.
const GATHER_DUE: Duration = Duration::from_millis(600);

/// How a busy "empty" answer shows in `status`.
const NO_ANSWER: &str = "no answer: 12306 sent an empty train list for a route that had trains (busy?); the last known seats stand";

/// How long a route must answer "no trains" before that is believed (it happens when every train
/// of a route is cancelled; far more often 12306 is busy, and one empty page between two full ones
/// must not read as "sold out" and re-arm every alert).
const EMPTY_BELIEVED_AFTER: chrono::TimeDelta = chrono::TimeDelta::minutes(15);

/// The poller: waits for due watches, polls them together, repeats.
pub(super) async fn poller(ctx: Arc<Ctx>) {
    let shutdown = ctx.shutdown.clone();
    loop {
        ctx.beat();
        let backoff_wait = {
            let now = clock::now();
            let until = ctx.throttle().client_blocked(now);
            until.and_then(|u| (u - now).to_std().ok())
        };
        if let Some(wait) = backoff_wait {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait.min(Duration::from_secs(5))) => continue,
            }
        }
        if !ctx.jobs.has_due() {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = ctx.jobs.due() => {}
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
            continue;
        }
        // Watches due "at the same time" may be marked a few ms apart (a reload, a retry):
        // gather them for a moment so that one request serves them all.
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(GATHER_DUE) => {}
        }
        let due = ctx.jobs.take_due();
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = cycle(&ctx, due) => {}
        }
    }
}

/// One cycle over the due keys: the 余票 watches together, then each 候补 entry.
async fn cycle(ctx: &Arc<Ctx>, due: Vec<JobKey>) {
    let list = ctx.list();
    let now = clock::now();
    let today = ctx.rail_today(now);
    let night_every = chrono::TimeDelta::from_std(ctx.settings.daemon.night_every).unwrap_or_default();
    let mut selected: Vec<&Watch> = Vec::new();
    let mut finished: Vec<String> = Vec::new();
    let mut waitlists = Vec::new();
    for key in &due {
        let name = match key {
            JobKey::Waitlist(name) => {
                waitlists.extend(list.waitlists.iter().find(|w| &w.name == name).cloned());
                continue;
            }
            JobKey::Watch(name) => name,
        };
        let Some(w) = list.watches.iter().find(|w| &w.name == name) else {
            continue;
        };
        if w.dates.iter().all(|d| *d < today) {
            finished.push(w.name.clone());
            continue;
        }
        if ctx.in_night(now) {
            let last = lock(&ctx.last_polled).get(key).copied();
            if last.is_some_and(|l| now - l < night_every) {
                continue;
            }
        }
        selected.push(w);
    }
    if !selected.is_empty() || !finished.is_empty() {
        poll_watches(ctx, &selected, finished, now).await;
    }
    for w in waitlists {
        super::waitlist::poll_when_allowed(ctx, &w).await;
    }
}

/// Polls the selected 余票 watches (one request per distinct query) and records the cycle.
async fn poll_watches(
    ctx: &Arc<Ctx>,
    selected: &[&Watch],
    finished: Vec<String>,
    now: DateTime<FixedOffset>,
) {
    let plan = super::sale::view(ctx, |sale| poll::plan(selected, sale));
    for (i, date, skip) in &plan.skipped {
        if let Skip::NotOnSale(state) = skip {
            tracing::debug!(watch = %selected[*i].name, sale = %state.describe_with_source(*date), "date not on sale yet");
        }
    }
    // A query that was refused lately goes last: it never holds up the others.
    let mut order: Vec<usize> = (0..plan.queries.len()).collect();
    {
        let t = ctx.throttle();
        order.sort_by_key(|&q| {
            t.for_queries([plan.queries[q].query.query_string().as_str()])
                .level
        });
    }
    let mut busy: HashSet<usize> = HashSet::new();
    let executed = poll::execute(
        &ctx.client,
        selected,
        &plan,
        Some(&order),
        StationTable::embedded(),
        |pq| {
            ctx.beat();
            if gate::client_backs_off(ctx) {
                return Gate::Defer;
            }
            let blocked = ctx
                .throttle()
                .query_blocked(&pq.query.query_string(), clock::now());
            blocked.map_or(Gate::Send, Gate::Wait)
        },
        |qi, pq, answer, at| {
            if let Ok(page) = answer {
                super::sale::learn(ctx, page, pq.query.date);
            }
            if answered(ctx, &pq.query.query_string(), answer, at) {
                busy.insert(qi);
            }
        },
    )
    .await;
    hold(ctx, &plan, selected, &executed);
    let outcomes = record(ctx, selected, &plan, finished, executed, &busy).await;
    super::sale::plan_bursts(ctx);
    for (w, outcome) in selected.iter().zip(outcomes) {
        if outcome.is_some() {
            lock(&ctx.last_polled).insert(JobKey::watch(&w.name), now);
        }
    }
}

/// Bookkeeping of one answer: backoff, the streak of empty pages, logs. True when the answer is
/// an empty page taken as "12306 is busy".
fn answered(
    ctx: &Ctx,
    key: &str,
    answer: &Result<crate::rail::left_ticket::LeftTicketPage, RailError>,
    at: DateTime<FixedOffset>,
) -> bool {
    match answer {
        Ok(page) => {
            gate::answered(ctx, key);
            empty_is_busy(ctx, key, page.trains.is_empty(), at)
        }
        Err(e) => {
            let night = ctx.in_night(at);
            if night {
                tracing::debug!(error = %e, "query failed during 12306's night window");
            }
            if e.is_throttling() {
                // Its watches are tried again at their next tick after the backoff: never
                // sooner than their schedule, and not a whole period later either.
                gate::refused(ctx, key, e, at, night);
            } else if !night {
                tracing::warn!(query = %key, error = %e, "query failed");
            }
            false
        }
    }
}

/// Queries not sent: refused client-wide mid-cycle, the rest waits for the backoff to end, still
/// due; a query backing off alone is tried when its backoff ends.
fn hold(ctx: &Arc<Ctx>, plan: &poll::Plan, selected: &[&Watch], executed: &Executed) {
    let mut deferred: BTreeSet<JobKey> = BTreeSet::new();
    for h in &executed.held {
        let pq = &plan.queries[h.query];
        let keys = pq.users.iter().map(|(i, _)| JobKey::watch(&selected[*i].name));
        match h.gate {
            Gate::Defer => deferred.extend(keys),
            Gate::Wait(until) => gate::plan_retry(ctx, &pq.query.query_string(), until, keys.collect()),
            Gate::Send => {}
        }
    }
    if !deferred.is_empty() {
        ctx.jobs.mark_due(deferred);
    }
}

/// Whether an answer to `query` with `empty` rows is to be taken as "12306 is busy": an empty
/// page not yet repeated for [`EMPTY_BELIEVED_AFTER`]. A page with rows ends the streak.
fn empty_is_busy(ctx: &Ctx, query: &str, empty: bool, at: DateTime<FixedOffset>) -> bool {
    let mut since = lock(&ctx.empty_since);
    if !empty {
        since.remove(query);
        return false;
    }
    let first = *since.entry(query.to_string()).or_insert(at);
    at - first < EMPTY_BELIEVED_AFTER
}

/// How a failed query shows for its watches.
fn failed_outcome(ctx: &Ctx, e: &RailError, at: DateTime<FixedOffset>) -> PollOutcome {
    if ctx.in_night(at) {
        PollOutcome::Night
    } else if e.is_throttling() {
        PollOutcome::Throttled(e.to_string())
    } else {
        PollOutcome::Error(e.to_string())
    }
}

/// Decides and records a cycle in one write; returns each selected watch's outcome (`None`: not
/// polled this cycle, its queries waiting for a backoff).
async fn record(
    ctx: &Arc<Ctx>,
    selected: &[&Watch],
    plan: &poll::Plan,
    finished: Vec<String>,
    executed: Executed,
    busy: &HashSet<usize>,
) -> Vec<Option<PollOutcome>> {
    let _no_reload_meanwhile = ctx.cycle_lock.lock().await;
    let mut outcomes: Vec<Option<PollOutcome>> = vec![None; selected.len()];
    let mut answered: Vec<&WatchResult> = Vec::new();
    for r in &executed.results {
        match &r.outcome {
            Ok(_) => answered.push(r),
            Err(e) => outcomes[r.watch] = Some(failed_outcome(ctx, e, r.at)),
        }
    }
    let keys: Vec<(String, NaiveDate)> = answered
        .iter()
        .map(|r| (selected[r.watch].name.clone(), r.date))
        .collect();
    let previous = match ctx.db.previous_states(keys).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the stored seat state");
            return outcomes;
        }
    };
    let mut record = CycleRecord::new(clock::now());
    record.finished = finished;
    for (r, prev) in answered.iter().zip(&previous) {
        if let Some(poll) = decide_one(ctx, selected[r.watch], r, prev, busy) {
            outcomes[r.watch].get_or_insert(PollOutcome::Ok);
            record.polls.push(poll);
        } else {
            outcomes[r.watch] = Some(PollOutcome::Error(NO_ANSWER.into()));
        }
    }
    record.emails = alert_emails(ctx, selected, &record.polls);
    record.statuses = statuses(ctx, selected, plan, &outcomes);
    record.endpoint = endpoint_to_record(ctx);
    let polled: Vec<(String, NaiveDate, bool)> = record
        .polls
        .iter()
        .map(|p| (p.watch.clone(), p.date, !p.decision.alert.is_empty()))
        .collect();
    if let Err(e) = write(ctx, record).await {
        for (name, ..) in &polled {
            if let Some(i) = selected.iter().position(|w| &w.name == name) {
                outcomes[i] = Some(PollOutcome::Error(format!("database: {e}")));
            }
        }
        let mut statuses_only = CycleRecord::new(clock::now());
        statuses_only.statuses = statuses(ctx, selected, plan, &outcomes);
        let _ = ctx.db.record_cycle(statuses_only).await;
        return outcomes;
    }
    for (name, date, seats_appeared) in polled {
        if let Some(w) = selected.iter().find(|w| w.name == name && w.grab.is_some()) {
            grab::spawn(ctx, w, date, seats_appeared);
        }
    }
    outcomes
}

/// The decision for one answered (watch, date); `None` when the answer is taken as no answer (an
/// empty page while 12306 is busy, for a route that had trains).
fn decide_one(
    ctx: &Ctx,
    w: &Watch,
    r: &WatchResult,
    prev: &Previous,
    busy: &HashSet<usize>,
) -> Option<CyclePoll> {
    let matches = r.outcome.as_deref().unwrap_or_default();
    let had_trains = prev.seats.iter().any(|(k, st)| k.date == r.date && !st.is_gone());
    if busy.contains(&r.query) && r.empty_page && had_trains {
        tracing::info!(watch = %w.name, date = %r.date, "12306 answered with no trains for a route that had trains (busy); taken as no answer, the last known seats stand");
        return None;
    }
    let decision = decide::decide(prev, r.date, matches, r.at, ctx.settings.daemon.alert_min_gap);
    for (key, st) in &decision.changes {
        tracing::info!(watch = %w.name, date = %r.date, train = %key.train, seat = %key.seat, left = %st.raw, available = st.available, "seat changed");
    }
    tracing::debug!(watch = %w.name, date = %r.date, trains = matches.len(), "polled");
    Some(CyclePoll {
        watch: w.name.clone(),
        date: r.date,
        at: r.at,
        decision,
        no_match: r.no_match.clone(),
    })
}

/// Writes the cycle; logs what it queued and finished.
async fn write(ctx: &Ctx, record: CycleRecord) -> Result<(), crate::store::StoreError> {
    let subjects: Vec<(String, String)> = record
        .emails
        .iter()
        .map(|e| (e.serves.join(", "), e.email.subject.clone()))
        .collect();
    match ctx.db.record_cycle(record).await {
        Err(e) => {
            if e.is_storage_fault() {
                // Logged once by the store handle, and shown in `status`.
                tracing::debug!(error = %e, "cannot record the poll cycle");
            } else {
                tracing::error!(error = %e, "cannot record the poll cycle");
            }
            Err(e)
        }
        Ok(written) => {
            for watch in &written.newly_finished {
                tracing::info!(%watch, "every date of this watch has passed; it is finished");
            }
            for (watches, subject) in &subjects {
                tracing::info!(watch = %watches, %subject, "alert queued");
            }
            if !subjects.is_empty() {
                ctx.wake_outbox.notify_one();
            }
            Ok(())
        }
    }
}

/// The cycle's alert emails: one per person per train and date, naming every watch it serves.
fn alert_emails(ctx: &Ctx, selected: &[&Watch], polls: &[CyclePoll]) -> Vec<CycleEmail> {
    let by_name = |name: &str| selected.iter().copied().find(|w| w.name == name);
    let recipients: Vec<Vec<String>> = polls
        .iter()
        .map(|p| by_name(&p.watch).map_or_else(Vec::new, |w| ctx.recipients_for(&w.notify)))
        .collect();
    let appeared: Vec<grouping::Appeared<'_>> = polls
        .iter()
        .zip(&recipients)
        .filter(|(p, _)| !p.decision.alert.is_empty())
        .filter_map(|(p, to)| {
            Some(grouping::Appeared {
                watch: by_name(&p.watch)?,
                date: p.date,
                trains: &p.decision.alert,
                recipients: to,
            })
        })
        .collect();
    let grab_enabled = ctx.juhe.is_some() && !ctx.settings.juhe.dry_run;
    grouping::group(&appeared)
        .iter()
        .map(|g| {
            let c = notify::render_grouped_alert(g, ctx.client.base_url(), grab_enabled);
            let push = crate::push::message::grouped_seats_message(g, ctx.client.base_url(), clock::now());
            CycleEmail {
                email: NewEmail {
                    kind: EmailKind::Alert,
                    recipients: g.recipients.clone(),
                    subject: c.subject,
                    text: c.text,
                    html: c.html,
                    push: Some(push),
                },
                serves: g.watch_names(),
            }
        })
        .collect()
}

/// The poll status of every selected watch that was polled (or had nothing on sale), with the
/// backoff it is under (its own queries' or the client's, whichever ends later). A watch whose
/// queries all wait for a backoff gets none: it is still due.
fn statuses(
    ctx: &Ctx,
    selected: &[&Watch],
    plan: &poll::Plan,
    outcomes: &[Option<PollOutcome>],
) -> Vec<PollStatus> {
    let at = clock::now();
    let mut out = Vec::new();
    for (i, w) in selected.iter().enumerate() {
        let mine: Vec<String> = plan
            .queries
            .iter()
            .filter(|q| q.users.iter().any(|(j, _)| *j == i))
            .map(|q| q.query.query_string())
            .collect();
        let outcome = match &outcomes[i] {
            Some(o) => o.clone(),
            // Nothing on sale yet (or every date skipped): a successful, empty poll.
            None if mine.is_empty() => PollOutcome::Ok,
            None => continue,
        };
        let key = JobKey::watch(&w.name);
        out.push(gate::poll_status(
            ctx,
            key,
            outcome,
            at,
            mine.iter().map(String::as_str),
        ));
    }
    out
}

/// The leftTicket endpoint, when it differs from the one last recorded.
fn endpoint_to_record(ctx: &Ctx) -> Option<String> {
    let endpoint = ctx.client.endpoint()?;
    let mut recorded = lock(&ctx.recorded_endpoint);
    if recorded.as_deref() == Some(endpoint.as_str()) {
        return None;
    }
    *recorded = Some(endpoint.clone());
    Some(endpoint)
}
