//! 候补 following inside the daemon: each `[[waitlist]]` polls `afterNateOrder/queryQueue` with
//! the user's session cookie, runs the pure [`crate::waitlist::decide`], and writes the new
//! state, a history row (only on change) and the email in one transaction.
//!
//! Two things are special compared with left-ticket watches:
//! - an expired session is reported once (per cookie) and then polled only every
//!   `daemon.expired_session_every`, until the cookie in the settings (or `cookie_file`, re-read
//!   at every due tick) changes — then at once;
//! - a 待支付 order gets a wake-up at `loseTime − payment_reminder`, so the reminder is not late
//!   by up to one polling interval.

use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use tokio_cron_scheduler::JobScheduler;

use super::{Shared, answered, next_run, record_status, refused, remove_job};
use crate::clock;
use crate::rail::after_nate::{QueueAnswer, load_cookie};
use crate::store::{NewEmail, PollOutcome};
use crate::waitlist::{self as wl, WaitlistSnapshot};
use crate::watchlist::{WaitlistWatch, WatchList};

/// Prefix of scheduler/status keys of `[[waitlist]]` entries (watch names may look alike).
const PREFIX: &str = "候补:";

/// The key under which a `[[waitlist]]` is scheduled, marked due and given a poll status.
pub(super) fn key(name: &str) -> String {
    format!("{PREFIX}{name}")
}

/// The `[[waitlist]]` a due key names, if it is one.
pub(super) fn find<'a>(list: &'a WatchList, due_key: &str) -> Option<&'a WaitlistWatch> {
    let name = due_key.strip_prefix(PREFIX)?;
    list.waitlists.iter().find(|w| w.name == name)
}

async fn set_status(
    shared: &Arc<Shared>,
    sched: &JobScheduler,
    w: &WaitlistWatch,
    outcome: PollOutcome,
    at: DateTime<FixedOffset>,
) {
    let k = key(&w.name);
    let next = next_run(shared, sched, &k, &w.schedule, at).await;
    let backoff = shared.throttle().for_queries([k.as_str()]);
    record_status(shared, &k, outcome, next, backoff, at).await;
}

/// One poll of one `[[waitlist]]`.
pub(super) async fn poll(shared: &Arc<Shared>, sched: &JobScheduler, w: &WaitlistWatch) {
    let now = clock::now();
    let (cookie, fingerprint) = match load_cookie(&shared.settings.rail) {
        Ok(Some(c)) => c,
        Ok(None) => {
            let msg = "no 12306 session: set [rail] cookie (or cookie_file) to the Cookie header of a logged-in 12306 page";
            tracing::warn!(waitlist = %w.name, "{msg}");
            set_status(shared, sched, w, PollOutcome::Error(msg.into()), now).await;
            return;
        }
        Err(e) => {
            tracing::warn!(waitlist = %w.name, error = %e, "cannot read the 12306 session cookie");
            set_status(shared, sched, w, PollOutcome::Error(format!("{e:#}")), now).await;
            return;
        }
    };
    let name = w.name.clone();
    let prev: Option<WaitlistSnapshot> = match shared.db.call(move |s| s.waitlist_state(&name)).await {
        Ok(state) => state.and_then(|json| serde_json::from_str(&json).ok()),
        Err(e) => {
            tracing::error!(waitlist = %w.name, error = %e, "cannot read 候补 state");
            return;
        }
    };
    let k = key(&w.name);
    if prev.as_ref().and_then(|p| p.session_expired_for.as_deref()) == Some(fingerprint.as_str()) {
        // Known expired with this very cookie: stay quiet until it changes, checking rarely.
        let every =
            chrono::TimeDelta::from_std(shared.settings.daemon.expired_session_every).unwrap_or_default();
        let last = shared
            .last_polled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&k)
            .copied();
        if let Some(l) = last.filter(|l| now - *l < every) {
            // Say when it will really look again, not the skipped tick.
            let next = Some(l + every);
            let _ = shared.db.write(move |s| s.set_next_run(&k, next)).await;
            return;
        }
    }
    shared
        .last_polled
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(k, now);

    let mut answer = match shared.client.query_waitlist(&cookie).await {
        Ok(a) => a,
        Err(e) => {
            let outcome = if e.is_throttling() {
                refused(shared, &key(&w.name), &e, clock::now(), false);
                PollOutcome::Throttled(e.to_string())
            } else {
                tracing::warn!(waitlist = %w.name, error = %e, "候补 query failed");
                PollOutcome::Error(e.to_string())
            };
            set_status(shared, sched, w, outcome, clock::now()).await;
            return;
        }
    };
    answered(shared, &key(&w.name));
    if let (Some(wanted), QueueAnswer::Order(order)) = (&w.reserve_no, &answer)
        && &order.reserve_no != wanted
    {
        answer = QueueAnswer::NoOrder;
    }
    let at = clock::now();
    let decision = wl::decide(
        prev.as_ref(),
        &answer,
        &fingerprint,
        at,
        shared.settings.daemon.payment_reminder,
    );
    let content = wl::render_decision(prev.as_ref(), &decision, at, shared.client.base_url());
    let emails: Vec<NewEmail> = content
        .into_iter()
        .map(|c| NewEmail {
            kind: "waitlist".into(),
            recipients: shared.recipients_for(&w.notify),
            subject: c.subject,
            text: c.text,
            html: c.html,
        })
        .collect();
    let state = serde_json::to_string(&decision.snapshot).expect("the snapshot serializes");
    let snapshot = decision.changed.then(|| state.clone());
    let name = w.name.clone();
    let subjects: Vec<String> = emails.iter().map(|e| e.subject.clone()).collect();
    let res = shared
        .db
        .write(move |s| s.record_waitlist(&name, &key(&name), at, &state, snapshot.as_deref(), &emails))
        .await;
    if let Err(e) = res {
        tracing::error!(waitlist = %w.name, error = %e, "cannot record the 候补 poll");
        set_status(shared, sched, w, PollOutcome::Error(format!("database: {e}")), at).await;
        return;
    }
    if decision.changed {
        let reasons = decision
            .reasons
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        tracing::info!(waitlist = %w.name, %reasons, "候补 order changed");
    }
    for subject in subjects {
        tracing::info!(waitlist = %w.name, %subject, "候补 email queued");
        shared.wake_outbox.notify_one();
    }
    let outcome = match &answer {
        QueueAnswer::SessionExpired(why) => PollOutcome::Error(format!(
            "12306 session expired ({why}): copy a fresh Cookie into [rail] cookie"
        )),
        _ => PollOutcome::Ok,
    };
    set_status(shared, sched, w, outcome, at).await;
    schedule_reminder(shared, w, &decision.snapshot, at);
}

/// Wakes the waitlist up exactly when its payment reminder is due.
fn schedule_reminder(
    shared: &Arc<Shared>,
    w: &WaitlistWatch,
    snap: &WaitlistSnapshot,
    now: DateTime<FixedOffset>,
) {
    let Some(order) = snap.order.as_ref().filter(|o| o.status_code == "01") else {
        return;
    };
    let Some(lose) = order.lose_time else { return };
    let Ok(before) = chrono::TimeDelta::from_std(shared.settings.daemon.payment_reminder) else {
        return;
    };
    let at = lose - before;
    if at <= now || snap.reminded_for == Some(lose) {
        return;
    }
    let k = key(&w.name);
    {
        let mut planned = shared.reminders.lock().unwrap_or_else(|p| p.into_inner());
        if planned.get(&k) == Some(&at) {
            return;
        }
        planned.insert(k.clone(), at);
    }
    let weak = Arc::downgrade(shared);
    let wait = (at - now).to_std().unwrap_or_default();
    tokio::spawn(async move {
        tokio::time::sleep(wait).await;
        if let Some(shared) = weak.upgrade() {
            shared.mark_due([k]);
        }
    });
}

/// Applies `[[waitlist]]` changes of a reloaded list; returns (started, stopped) keys.
pub(super) async fn reload(
    shared: &Arc<Shared>,
    sched: &JobScheduler,
    old: &WatchList,
    new: &WatchList,
) -> (Vec<String>, Vec<String>) {
    let mut started = Vec::new();
    let mut stopped = Vec::new();
    let same = |a: &WaitlistWatch, b: &WaitlistWatch| {
        WaitlistWatch { line: 0, ..a.clone() } == WaitlistWatch { line: 0, ..b.clone() }
    };
    for w in &old.waitlists {
        if !new.waitlists.iter().any(|n| same(n, w)) {
            let k = key(&w.name);
            remove_job(shared, sched, &k).await;
            // A new schedule or new recipients keep what was already said (no repeated
            // emails); one now following another order starts afresh; a removed one is kept a
            // while in case it comes back (parked).
            match new.waitlists.iter().find(|n| n.name == w.name) {
                None => super::parked::park(
                    shared,
                    &k,
                    super::parked::Left::Waitlist {
                        name: w.name.clone(),
                        reserve_no: w.reserve_no.clone(),
                    },
                ),
                Some(n) if n.reserve_no != w.reserve_no => {
                    let name = w.name.clone();
                    let _ = shared.db.write(move |s| s.forget_waitlist(&name)).await;
                }
                Some(_) => {}
            }
            shared
                .last_polled
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&k);
            stopped.push(k);
        }
    }
    for w in &new.waitlists {
        if !old.waitlists.iter().any(|o| same(o, w)) {
            let k = key(&w.name);
            if let Some(super::parked::Left::Waitlist { reserve_no, .. }) = super::parked::unpark(shared, &k)
                && reserve_no != w.reserve_no
            {
                let name = w.name.clone();
                let _ = shared.db.write(move |s| s.forget_waitlist(&name)).await;
            }
            if let Err(e) = super::add_job(shared, sched, &k, &w.schedule).await {
                tracing::error!(waitlist = %w.name, error = %e, "cannot schedule waitlist");
                continue;
            }
            started.push(k);
        }
    }
    (started, stopped)
}
