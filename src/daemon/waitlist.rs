//! 候补 following inside the daemon: each `[[waitlist]]` polls `afterNateOrder/queryQueue` with
//! the user's session cookie, runs the pure [`crate::decide::waitlist::decide`], renders its email
//! ([`crate::notify::waitlist`]), and writes the new state, a history row (only on change), the
//! email and the poll status in one transaction.
//!
//! Two things are special compared with left-ticket watches:
//! - an expired session is reported once (per cookie) and then polled only every
//!   `daemon.expired_session_every`, until the cookie in the settings (or `cookie_file`, re-read
//!   at every due tick) changes — then at once;
//! - a 待支付 order gets a wake-up at `loseTime − payment_reminder`, so the reminder is not late
//!   by up to one polling interval.

use std::sync::Arc;

use chrono::{DateTime, FixedOffset};

use super::context::{Ctx, lock};
use super::gate;
use crate::clock;
use crate::decide::waitlist::{self as wl, WaitlistSnapshot, WaitlistStatus};
use crate::notify::waitlist::render_decision;
use crate::rail::after_nate::{QueueAnswer, load_cookie};
use crate::store::{EmailKind, JobKey, NewEmail, PollOutcome, PollStatus, WaitlistRecord};
use crate::watchlist::WaitlistWatch;

/// Polls `w` unless 12306 refuses the whole client (then it stays due) or this entry alone
/// (then it is tried when that backoff ends).
pub(super) async fn poll_when_allowed(ctx: &Arc<Ctx>, w: &WaitlistWatch) {
    let key = JobKey::waitlist(&w.name);
    if gate::client_backs_off(ctx) {
        ctx.jobs.mark_due([key]);
        return;
    }
    let blocked = ctx.throttle().query_blocked(&key.to_string(), clock::now());
    if let Some(until) = blocked {
        gate::plan_retry(ctx, &key.to_string(), until, vec![key]);
        return;
    }
    ctx.beat();
    poll(ctx, w).await;
}

/// The status of one poll of `w`.
fn status(ctx: &Ctx, w: &WaitlistWatch, outcome: PollOutcome, at: DateTime<FixedOffset>) -> PollStatus {
    let key = JobKey::waitlist(&w.name);
    let query = key.to_string();
    gate::poll_status(ctx, key, outcome, at, [query.as_str()])
}

/// Records a poll that wrote nothing else.
async fn set_status(ctx: &Ctx, w: &WaitlistWatch, outcome: PollOutcome, at: DateTime<FixedOffset>) {
    if let Err(e) = ctx.db.record_poll_status(status(ctx, w, outcome, at)).await {
        tracing::debug!(waitlist = %w.name, error = %e, "cannot record poll status");
    }
}

/// Whether a session known to be expired with this very cookie is left alone this tick (it is
/// checked only every `expired_session_every`; the skipped tick says when it really looks again).
async fn quiet(ctx: &Ctx, key: &JobKey, prev: Option<&WaitlistSnapshot>, fingerprint: &str) -> bool {
    let now = clock::now();
    if prev.and_then(|p| p.session_expired_for.as_deref()) == Some(fingerprint) {
        let every =
            chrono::TimeDelta::from_std(ctx.settings.daemon.expired_session_every).unwrap_or_default();
        let last = lock(&ctx.last_polled).get(key).copied();
        if let Some(l) = last.filter(|l| now - *l < every) {
            let _ = ctx.db.set_next_run(key.clone(), Some(l + every)).await;
            return true;
        }
    }
    lock(&ctx.last_polled).insert(key.clone(), now);
    false
}

/// One poll of one `[[waitlist]]`.
pub(super) async fn poll(ctx: &Arc<Ctx>, w: &WaitlistWatch) {
    let now = clock::now();
    let key = JobKey::waitlist(&w.name);
    let (cookie, fingerprint) = match load_cookie(&ctx.settings.rail) {
        Ok(Some(c)) => c,
        Ok(None) => {
            let msg = "no 12306 session: set [rail] cookie (or cookie_file) to the Cookie header of a logged-in 12306 page";
            tracing::warn!(waitlist = %w.name, "{msg}");
            return set_status(ctx, w, PollOutcome::Error(msg.into()), now).await;
        }
        Err(e) => {
            tracing::warn!(waitlist = %w.name, error = %e, "cannot read the 12306 session cookie");
            return set_status(ctx, w, PollOutcome::Error(format!("{e:#}")), now).await;
        }
    };
    let prev = match ctx.db.waitlist_state(w.name.clone()).await {
        Ok(state) => state,
        Err(e) => {
            tracing::error!(waitlist = %w.name, error = %e, "cannot read 候补 state");
            return set_status(ctx, w, PollOutcome::Error(format!("database: {e}")), now).await;
        }
    };
    if quiet(ctx, &key, prev.as_ref(), &fingerprint).await {
        return;
    }
    let mut answer = match ctx.client.query_waitlist(&cookie).await {
        Ok(a) => a,
        Err(e) => {
            let outcome = if e.is_throttling() {
                gate::refused(ctx, &key.to_string(), &e, clock::now(), false);
                PollOutcome::Throttled(e.to_string())
            } else {
                tracing::warn!(waitlist = %w.name, error = %e, "候补 query failed");
                PollOutcome::Error(e.to_string())
            };
            return set_status(ctx, w, outcome, clock::now()).await;
        }
    };
    gate::answered(ctx, &key.to_string());
    if let (Some(wanted), QueueAnswer::Order(order)) = (&w.reserve_no, &answer)
        && &order.reserve_no != wanted
    {
        answer = QueueAnswer::NoOrder;
    }
    record(ctx, w, prev.as_ref(), &answer, &fingerprint).await;
}

/// Decides, renders and records one answered poll.
async fn record(
    ctx: &Arc<Ctx>,
    w: &WaitlistWatch,
    prev: Option<&WaitlistSnapshot>,
    answer: &QueueAnswer,
    fingerprint: &str,
) {
    let at = clock::now();
    let decision = wl::decide(
        prev,
        answer,
        fingerprint,
        at,
        ctx.settings.daemon.payment_reminder,
    );
    let push = crate::push::message::waitlist_decision_message(prev, &decision, at, ctx.client.base_url());
    let emails: Vec<NewEmail> = render_decision(prev, &decision, at, ctx.client.base_url())
        .into_iter()
        .map(|c| NewEmail {
            kind: EmailKind::Waitlist,
            recipients: ctx.recipients_for(&w.notify),
            subject: c.subject,
            text: c.text,
            html: c.html,
            push: push.clone(),
        })
        .collect();
    let subjects: Vec<String> = emails.iter().map(|e| e.subject.clone()).collect();
    let outcome = match answer {
        QueueAnswer::SessionExpired(why) => PollOutcome::Error(format!(
            "12306 session expired ({why}): copy a fresh Cookie into [rail] cookie"
        )),
        _ => PollOutcome::Ok,
    };
    let record = WaitlistRecord {
        name: w.name.clone(),
        at,
        snapshot: decision.snapshot.clone(),
        changed: decision.changed,
        emails,
        status: status(ctx, w, outcome, at),
    };
    if let Err(e) = ctx.db.record_waitlist(record).await {
        tracing::error!(waitlist = %w.name, error = %e, "cannot record the 候补 poll");
        return set_status(ctx, w, PollOutcome::Error(format!("database: {e}")), at).await;
    }
    if decision.changed {
        let reasons: Vec<String> = decision.reasons.iter().map(ToString::to_string).collect();
        tracing::info!(waitlist = %w.name, reasons = %reasons.join("; "), "候补 order changed");
    }
    for subject in subjects {
        tracing::info!(waitlist = %w.name, %subject, "候补 email queued");
        ctx.wake_outbox.notify_one();
    }
    schedule_reminder(ctx, w, &decision.snapshot, at);
}

/// Wakes the waitlist up exactly when its payment reminder is due.
fn schedule_reminder(ctx: &Arc<Ctx>, w: &WaitlistWatch, snap: &WaitlistSnapshot, now: DateTime<FixedOffset>) {
    let Some(order) = snap
        .order
        .as_ref()
        .filter(|o| WaitlistStatus::of(o) == WaitlistStatus::AwaitingPayment)
    else {
        return;
    };
    let Some(lose) = order.lose_time else { return };
    let Ok(before) = chrono::TimeDelta::from_std(ctx.settings.daemon.payment_reminder) else {
        return;
    };
    let at = lose - before;
    if at <= now || snap.reminded_for == Some(lose) {
        return;
    }
    let key = JobKey::waitlist(&w.name);
    {
        let mut planned = lock(&ctx.reminders);
        if planned.get(&key) == Some(&at) {
            return;
        }
        planned.insert(key.clone(), at);
    }
    let wait = (at - now).to_std().unwrap_or_default();
    ctx.after(wait, move |ctx| ctx.jobs.mark_due([key]));
}
