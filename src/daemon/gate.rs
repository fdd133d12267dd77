//! The daemon's side of backing off ([`super::backoff`]): recording refusals and clean answers,
//! logging what they mean, and planning the retry of a query that backs off alone.
//!
//! Refusals (302, HTML, risk phrases, timeouts) back off the refused query alone, and the whole
//! client only when refusals are client-wide — 12306 limits per address, but it also refuses a
//! single query for a date its clock calls past. A refusal also asks for an early `login/conf`:
//! 12306's clock may already be on the next day.

use std::sync::Arc;

use chrono::{DateTime, FixedOffset};

use super::backoff::Verdict;
use super::context::{Ctx, lock};
use crate::clock;
use crate::rail::client::RailError;
use crate::store::{JobKey, PollOutcome, PollStatus};

/// Whether the whole client backs off now.
pub(super) fn client_backs_off(ctx: &Ctx) -> bool {
    ctx.throttle().client_blocked(clock::now()).is_some()
}

/// Marks `keys` due again when the own backoff of `query` ends (once per query).
pub(super) fn plan_retry(ctx: &Arc<Ctx>, query: &str, until: DateTime<FixedOffset>, keys: Vec<JobKey>) {
    if !lock(&ctx.retry_planned).insert(query.to_string()) {
        return;
    }
    let wait = (until - clock::now()).to_std().unwrap_or_default();
    let query = query.to_string();
    ctx.after(wait, move |ctx| {
        lock(&ctx.retry_planned).remove(&query);
        ctx.jobs.mark_due(keys);
    });
}

/// A refusal of `query` (a query string or a 候补 key): backs off that query, or the client when
/// refusals are client-wide, and logs which (unless `quiet`: the night window).
pub(super) fn refused(ctx: &Ctx, query: &str, error: &RailError, at: DateTime<FixedOffset>, quiet: bool) {
    let d = &ctx.settings.daemon;
    let verdict = ctx
        .throttle()
        .refused(query, at, d.backoff_start, d.backoff_max, rand::random::<f64>());
    match verdict {
        Verdict::Client(b) if !quiet => {
            tracing::warn!(%query, %error, level = b.level, until = %clock_text(b.until), "12306 refuses every query; the whole client backs off")
        }
        Verdict::Query(b) if !quiet => {
            tracing::warn!(%query, %error, level = b.level, until = %clock_text(b.until), "12306 refused this query; backing it off alone, other queries go on")
        }
        _ => {}
    }
    ctx.wake_discovery.notify_one();
}

/// A clean answer to `query`: clears its backoff and the client's.
pub(super) fn answered(ctx: &Ctx, query: &str) {
    match ctx.throttle().answered(query) {
        (0, 0) => {}
        (0, own) => tracing::info!(%query, after = own, "12306 answers this query again; its backoff reset"),
        (client, _) => tracing::info!(after = client, "12306 answers again; backoff reset"),
    }
}

/// How a poll of `key` went, with when it runs next and the backoff it is under (its own
/// `queries`' or the client's, whichever ends later).
pub(super) fn poll_status<'q>(
    ctx: &Ctx,
    key: JobKey,
    outcome: PollOutcome,
    at: DateTime<FixedOffset>,
    queries: impl IntoIterator<Item = &'q str>,
) -> PollStatus {
    let backoff = ctx.throttle().for_queries(queries);
    PollStatus {
        next_run_at: ctx.jobs.next_run(&key),
        key,
        at,
        outcome,
        backoff_level: backoff.level,
        backoff_until: backoff.until,
    }
}

/// `14:05:09` for logs, or `—`.
fn clock_text(t: Option<DateTime<FixedOffset>>) -> String {
    t.map_or_else(|| "—".to_string(), |t| t.format("%H:%M:%S").to_string())
}
