//! The push sender: delivers queued pushes (`push_outbox`) through `push::push` and records each
//! outcome, with the email sender's guarantees ([`super::outbox`]).
//!
//! - **Never repeat a delivery blindly.** An outcome the database refuses is held in memory and
//!   no further push is sent until it is written (as for email).
//! - **One slow channel holds back nothing else.** At most one push per channel is in flight
//!   (a channel's pushes arrive in the order they were queued), up to [`PARALLEL`] channels at
//!   once, each bounded by [`push::send::DEFAULT_TIMEOUT`]. The poller never waits for this.
//! - **Retries like email:** a transient refusal (5xx, rate limit, timeout, connection refused)
//!   is retried with backoff (5 s doubling to 10 min, or the service's `Retry-After` when
//!   longer) for up to 48 h; a permanent refusal (bad key, bad signature) is marked failed at
//!   once and shown in `status`.
//! - **Quiet hours** (`push::quiet`): a push inside a channel's quiet hours is held until they
//!   end (not an attempt); urgent pushes (候补 payment deadlines) go at once; a held seat alert
//!   whose seats are gone by then is dropped.
//!
//! The webhook's `Idempotency-Key` is the message's, stored with the row: the same on every
//! attempt and after a restart.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use tokio::task::JoinSet;

use super::backoff::Backoff;
use super::context::Ctx;
use crate::clock;
use crate::push::{self, FailureClass, Outcome, PushEvent, QuietDecision};
use crate::store::{Delivery, PushRow, StoreError};

/// How long a transient push failure may keep being retried before it is marked failed.
const GIVE_UP_AFTER: chrono::TimeDelta = chrono::TimeDelta::hours(48);
/// First wait after a transient failure; doubles per attempt.
const RETRY_START: Duration = Duration::from_secs(5);
/// Longest wait between two attempts (a `Retry-After` may ask for more).
const RETRY_MAX: Duration = Duration::from_secs(600);
/// Channels pushed to at once.
const PARALLEL: usize = 16;
/// How often held outcomes are written again while the database refuses them.
const HOLD_RETRY: Duration = Duration::from_secs(3);
/// How often the outbox is looked at without being woken.
const IDLE_CHECK: Duration = Duration::from_secs(2);

/// What one look at a due push decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Action {
    /// An attempt was made (or the channel is gone): record it.
    Record(Delivery),
    /// Quiet hours: look again at this time.
    Hold(DateTime<FixedOffset>),
    /// A held seat alert that is no longer true.
    Drop(String),
}

/// The delivery an attempt's `outcome` means for `row` at `at` (pure; `jitter01` in 0..1).
pub(super) fn delivery(
    row: &PushRow,
    outcome: Outcome,
    at: DateTime<FixedOffset>,
    jitter01: f64,
) -> Delivery {
    match outcome {
        Outcome::Accepted { detail } => Delivery::Sent { at, answer: detail },
        Outcome::Refused(r) if r.class == FailureClass::Permanent => Delivery::Failed {
            error: format!("{} ({})", r.reason, r.hint.advice()),
        },
        Outcome::Refused(r) if at - row.created_at > GIVE_UP_AFTER => Delivery::Failed {
            error: format!("gave up after 48 h: {}", r.reason),
        },
        Outcome::Refused(r) => {
            let backoff = Backoff::delay(row.attempts + 1, RETRY_START, RETRY_MAX, jitter01);
            let wait = r.retry_after.map_or(backoff, |asked| asked.max(backoff));
            Delivery::Retry {
                error: r.reason,
                next: at + chrono::TimeDelta::from_std(wait).unwrap_or_default(),
            }
        }
    }
}

/// Which due rows to start now: oldest first, at most `room`, one per channel, none for a
/// channel already in flight (`busy`) or behind an earlier row of its channel (pure).
pub(super) fn pick<'a>(
    due: &'a [PushRow],
    skip: &HashSet<i64>,
    busy: &HashSet<String>,
    room: usize,
) -> Vec<&'a PushRow> {
    let mut blocked = busy.clone();
    let mut picked = Vec::new();
    for row in due {
        if !skip.contains(&row.id) && !blocked.contains(&row.channel) && picked.len() < room {
            picked.push(row);
        }
        blocked.insert(row.channel.clone());
    }
    picked
}

/// Delivers queued pushes until shutdown (see the module docs).
pub(super) async fn sender(ctx: Arc<Ctx>) {
    let http = match push::client() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the HTTP client for pushes; no push will be sent");
            return;
        }
    };
    let shutdown = ctx.shutdown.clone();
    let mut in_flight: BTreeMap<i64, String> = BTreeMap::new();
    let mut held: BTreeMap<i64, (PushRow, Action)> = BTreeMap::new();
    let mut tasks: JoinSet<(PushRow, Action)> = JoinSet::new();
    loop {
        if !held.is_empty() {
            write_held(&ctx, &mut held).await;
        }
        if held.is_empty() && !shutdown.is_cancelled() {
            start_due(&ctx, &http, &mut in_flight, &held, &mut tasks).await;
        }
        let wait = if held.is_empty() { IDLE_CHECK } else { HOLD_RETRY };
        tokio::select! {
            _ = shutdown.cancelled(), if tasks.is_empty() => return,
            _ = ctx.wake_push.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            Some(done) = tasks.join_next() => {
                if let Ok((row, action)) = done {
                    in_flight.remove(&row.id);
                    finish(&ctx, row, action, &mut held).await;
                }
            }
        }
    }
}

async fn record(ctx: &Ctx, id: i64, action: &Action) -> Result<(), StoreError> {
    match action {
        Action::Record(d) => ctx.db.record_push_delivery(id, d.clone()).await,
        Action::Hold(until) => ctx.db.hold_push(id, *until).await,
        Action::Drop(why) => ctx.db.drop_push(id, why.clone()).await,
    }
}

async fn write_held(ctx: &Ctx, held: &mut BTreeMap<i64, (PushRow, Action)>) {
    let ids: Vec<i64> = held.keys().copied().collect();
    for id in ids {
        let (row, action) = &held[&id];
        match record(ctx, id, action).await {
            Ok(()) | Err(StoreError::NoPendingEmail(_)) => {
                tracing::info!(channel = %row.channel, title = %row.message.title, "recorded a push outcome held in memory");
                held.remove(&id);
            }
            Err(e) => {
                tracing::debug!(error = %e, held = held.len(), "the database still refuses writes; pushes stay held");
                break;
            }
        }
    }
}

async fn start_due(
    ctx: &Arc<Ctx>,
    http: &reqwest::Client,
    in_flight: &mut BTreeMap<i64, String>,
    held: &BTreeMap<i64, (PushRow, Action)>,
    tasks: &mut JoinSet<(PushRow, Action)>,
) {
    let room = PARALLEL.saturating_sub(in_flight.len());
    if room == 0 {
        return;
    }
    let due = match ctx.db.due_pushes(clock::now(), 100).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the push outbox");
            return;
        }
    };
    let skip: HashSet<i64> = in_flight.keys().chain(held.keys()).copied().collect();
    let busy: HashSet<String> = in_flight.values().cloned().collect();
    for row in pick(&due, &skip, &busy, room) {
        in_flight.insert(row.id, row.channel.clone());
        let (ctx, http, row) = (ctx.clone(), http.clone(), row.clone());
        tasks.spawn(async move {
            let action = attempt(&ctx, &http, &row).await;
            (row, action)
        });
    }
}

/// Looks at one due push: quiet hours first, then one exchange with the service.
async fn attempt(ctx: &Ctx, http: &reqwest::Client, row: &PushRow) -> Action {
    let Some(spec) = ctx.settings.channel(&row.channel) else {
        return Action::Record(Delivery::Failed {
            error: format!(
                "no [[channel]] named \"{}\" in the settings any more",
                row.channel
            ),
        });
    };
    let now = clock::now();
    let msg = &row.message;
    let still_true = match &spec.quiet {
        Some(q) if msg.event == PushEvent::Seats && q.contains(row.created_at) && !q.contains(now) => {
            still_true(ctx, row).await
        }
        _ => true,
    };
    match push::quiet::decide(
        spec.quiet.as_ref(),
        msg.event,
        msg.urgent,
        row.created_at,
        now,
        still_true,
    ) {
        QuietDecision::HoldUntil(until) => Action::Hold(until),
        QuietDecision::Drop => Action::Drop(
            "held during quiet hours; the seats were gone when they ended, so it was not sent".to_string(),
        ),
        QuietDecision::Deliver => match push::push(http, spec, msg, now, push::send::DEFAULT_TIMEOUT).await {
            Ok(outcome) => Action::Record(delivery(row, outcome, clock::now(), rand::random())),
            Err(e) => Action::Record(Delivery::Failed { error: e.to_string() }),
        },
    }
}

/// Whether a held seat alert still holds: any of its trains still has seats for one of its
/// watches (as of the last poll). A database error counts as true (better a stale push than a
/// lost one).
async fn still_true(ctx: &Ctx, row: &PushRow) -> bool {
    let d = &row.message.details;
    let Some(date) = d.date else {
        return true;
    };
    let trains: Vec<String> = d.trains.iter().map(|t| t.train.clone()).collect();
    ctx.db
        .seats_still_available(d.watches.clone(), date, trains)
        .await
        .unwrap_or(true)
}

/// Records and logs one look; an outcome the database refuses is held.
async fn finish(ctx: &Ctx, row: PushRow, action: Action, held: &mut BTreeMap<i64, (PushRow, Action)>) {
    let recorded = record(ctx, row.id, &action).await;
    let (channel, title) = (&row.channel, &row.message.title);
    match &action {
        Action::Record(Delivery::Sent { answer, .. }) => {
            tracing::info!(%channel, %title, %answer, "push sent")
        }
        Action::Record(Delivery::Failed { error }) => {
            tracing::error!(%channel, %title, %error, "push refused permanently; not retrying")
        }
        Action::Record(Delivery::Retry { error, next }) => {
            tracing::warn!(%channel, %error, retry_at = %next.format("%H:%M:%S"), "push not delivered; will retry")
        }
        Action::Hold(until) => {
            tracing::info!(%channel, %title, until = %until.format("%H:%M"), "push held for the channel's quiet hours")
        }
        Action::Drop(why) => tracing::info!(%channel, %title, reason = %why, "held push dropped"),
    }
    if let Err(e) = recorded {
        tracing::error!(
            %channel, error = %e,
            "cannot record this push's outcome; holding it in memory and sending no push until the database takes writes again"
        );
        held.insert(row.id, (row, action));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::{FailureClass, Hint, Refusal};
    use crate::store::PushState;
    use chrono::TimeZone as _;
    use std::collections::HashMap;

    fn by_channel(rows: &[&PushRow]) -> HashMap<String, usize> {
        let mut m = HashMap::new();
        for r in rows {
            *m.entry(r.channel.clone()).or_insert(0) += 1;
        }
        m
    }

    fn at() -> DateTime<FixedOffset> {
        clock::beijing().with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap()
    }

    fn row(id: i64, channel: &str) -> PushRow {
        PushRow {
            id,
            created_at: at(),
            watch: "w".into(),
            channel: channel.into(),
            message: push::message::test_message(channel, at()),
            state: PushState::Pending,
            attempts: 0,
            next_attempt_at: at(),
            last_error: None,
            sent_at: None,
            server_answer: None,
        }
    }

    fn refused(class: FailureClass, retry_after: Option<Duration>) -> Outcome {
        Outcome::Refused(Refusal {
            class,
            reason: "HTTP 503".into(),
            retry_after,
            hint: Hint::ServerError,
        })
    }

    #[test]
    fn a_slow_channel_holds_back_only_its_own_later_pushes() {
        let due = vec![row(1, "a"), row(2, "b"), row(3, "a"), row(4, "c"), row(5, "b")];
        let busy: HashSet<String> = ["a".to_string()].into();
        let picked = pick(&due, &HashSet::from([1]), &busy, 8);
        let ids: Vec<i64> = picked.iter().map(|r| r.id).collect();
        assert_eq!(ids, [2, 4], "3 waits for 1 (same channel), 5 behind 2");
        assert!(by_channel(&picked).values().all(|n| *n == 1), "one per channel");
        let ids: Vec<i64> = pick(&due, &HashSet::new(), &HashSet::new(), 1)
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, [1], "at most `room` at once");
    }

    #[test]
    fn outcomes_become_sent_retry_or_failed_by_class_age_and_retry_after() {
        let r = row(1, "a");
        let now = at() + chrono::TimeDelta::minutes(1);
        assert_eq!(
            delivery(&r, Outcome::Accepted { detail: "ok".into() }, now, 0.5),
            Delivery::Sent {
                at: now,
                answer: "ok".into()
            }
        );
        assert!(matches!(
            delivery(&r, refused(FailureClass::Permanent, None), now, 0.5),
            Delivery::Failed { error } if error.starts_with("HTTP 503 (")
        ));
        let Delivery::Retry { next, error } = delivery(&r, refused(FailureClass::Transient, None), now, 1.0)
        else {
            panic!("a transient refusal is retried");
        };
        assert_eq!(
            (next - now, error.as_str()),
            (chrono::TimeDelta::seconds(5), "HTTP 503")
        );
        let Delivery::Retry { next, .. } = delivery(
            &r,
            refused(FailureClass::Transient, Some(Duration::from_secs(60))),
            now,
            1.0,
        ) else {
            panic!("a rate limit is retried");
        };
        assert_eq!(
            next - now,
            chrono::TimeDelta::seconds(60),
            "Retry-After is honoured"
        );
        let late = at() + chrono::TimeDelta::hours(49);
        assert!(matches!(
            delivery(&r, refused(FailureClass::Transient, None), late, 0.5),
            Delivery::Failed { error } if error.starts_with("gave up after 48 h")
        ));
    }
}
