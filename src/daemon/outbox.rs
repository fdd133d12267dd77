//! The outbox sender: delivers queued emails and records each outcome.
//!
//! Three rules shape it:
//! - **Never repeat a delivery blindly.** An outcome (sent, retry later, failed) that cannot be
//!   written to the database — a full disk — is kept in memory, and *no further email is sent*
//!   until every such outcome has been written; the sender retries the writes every few seconds.
//!   Before this rule a `sent` mark that failed left the row due, and the same email went out
//!   every two seconds. What is kept in memory is lost if the process dies before the database
//!   takes writes again: that email is then sent once more (at least once, never a flood).
//! - **One slow server holds back nothing else.** Up to [`PARALLEL`] deliveries run at once, each
//!   bounded by `email.timeout` per SMTP round trip ([`crate::notify::transport`]).
//! - **Per recipient, emails arrive in the order they were queued.** A row is not started while
//!   an earlier row for one of its recipients is in flight or waiting (候补 emails tell a story).
//!
//! Each row is sent with a `Message-ID` derived from the row, the same on every attempt.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use tokio::task::JoinSet;

use super::backoff::Backoff;
use super::context::Ctx;
use crate::clock;
use crate::notify::{self, SendError};
use crate::store::{Delivery, OutboxRow, StoreError};

/// How long a transient email failure may keep being retried before it is marked failed.
const GIVE_UP_AFTER: chrono::TimeDelta = chrono::TimeDelta::hours(48);
/// First wait after a transient failure; doubles per attempt.
const RETRY_START: Duration = Duration::from_secs(5);
/// Longest wait between two delivery attempts of one email.
const RETRY_MAX: Duration = Duration::from_secs(600);
/// Deliveries in flight at once.
pub(super) const PARALLEL: usize = 4;
/// How often held outcomes are written again while the database refuses them.
const HOLD_RETRY: Duration = Duration::from_secs(3);
/// How often the outbox is looked at without being woken.
const IDLE_CHECK: Duration = Duration::from_secs(2);

/// The outcome of `attempt` for `row` at `at` (pure; `jitter01` in 0..1 spreads retries).
pub(super) fn outcome(
    row: &OutboxRow,
    attempt: Result<String, SendError>,
    at: DateTime<FixedOffset>,
    jitter01: f64,
) -> Delivery {
    match attempt {
        Ok(answer) => Delivery::Sent { at, answer },
        Err(SendError::Permanent(error)) => Delivery::Failed { error },
        Err(SendError::Transient(e)) if at - row.created_at > GIVE_UP_AFTER => Delivery::Failed {
            error: format!("gave up after 48 h: {e}"),
        },
        Err(SendError::Transient(error)) => {
            let wait = Backoff::delay(row.attempts + 1, RETRY_START, RETRY_MAX, jitter01);
            Delivery::Retry {
                error,
                next: at + chrono::TimeDelta::from_std(wait).unwrap_or_default(),
            }
        }
    }
}

/// The `Message-ID` key of a row: stable across attempts and restarts, unique per database row.
pub(super) fn message_key(row: &OutboxRow) -> String {
    format!("outbox.{}.{}", row.id, row.created_at.timestamp_millis())
}

/// Which due rows to start now: in queue order, at most `room` of them, none sharing a
/// recipient with a row in flight (`busy`) or with an earlier due row left waiting (pure).
pub(super) fn pick<'a>(
    due: &'a [OutboxRow],
    skip: &HashSet<i64>,
    busy: &HashSet<String>,
    room: usize,
) -> Vec<&'a OutboxRow> {
    let mut blocked = busy.clone();
    let mut picked = Vec::new();
    for row in due {
        let free = !skip.contains(&row.id) && row.recipients.iter().all(|r| !blocked.contains(r));
        if free && picked.len() < room {
            picked.push(row);
        }
        blocked.extend(row.recipients.iter().cloned());
    }
    picked
}

/// Writes `outcome` into row `id`.
async fn record(ctx: &Ctx, id: i64, outcome: &Delivery) -> Result<(), StoreError> {
    ctx.db.record_delivery(id, outcome.clone()).await
}

/// Delivers queued emails until shutdown (see the module docs).
pub(super) async fn sender(ctx: Arc<Ctx>) {
    let shutdown = ctx.shutdown.clone();
    let mut in_flight: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    let mut held: BTreeMap<i64, (OutboxRow, Delivery)> = BTreeMap::new();
    let mut tasks: JoinSet<(OutboxRow, Result<String, SendError>)> = JoinSet::new();
    loop {
        if !held.is_empty() {
            write_held(&ctx, &mut held).await;
        }
        if held.is_empty() && !shutdown.is_cancelled() {
            start_due(&ctx, &mut in_flight, &held, &mut tasks).await;
        }
        let wait = if held.is_empty() { IDLE_CHECK } else { HOLD_RETRY };
        tokio::select! {
            _ = shutdown.cancelled(), if tasks.is_empty() => return,
            // Every queued notification may carry pushes: the push sender is woken too.
            _ = ctx.wake_outbox.notified() => ctx.wake_push.notify_one(),
            _ = tokio::time::sleep(wait) => {}
            Some(done) = tasks.join_next() => {
                if let Ok((row, attempt)) = done {
                    in_flight.remove(&row.id);
                    finish(&ctx, row, attempt, &mut held).await;
                }
            }
        }
    }
}

/// Writes held outcomes again; what still cannot be written stays held.
async fn write_held(ctx: &Ctx, held: &mut BTreeMap<i64, (OutboxRow, Delivery)>) {
    let ids: Vec<i64> = held.keys().copied().collect();
    for id in ids {
        let (row, outcome) = &held[&id];
        match record(ctx, id, outcome).await {
            Ok(()) | Err(StoreError::NoPendingEmail(_)) => {
                tracing::info!(watch = %row.watch, subject = %row.subject, "recorded an email outcome held in memory");
                held.remove(&id);
            }
            Err(e) => {
                tracing::debug!(error = %e, held = held.len(), "the database still refuses writes; email delivery stays held");
                break;
            }
        }
    }
    ctx.db.set_unrecorded_emails(held.len());
    if held.is_empty() {
        tracing::info!("email delivery resumes");
    }
}

/// Starts deliveries of due rows, as many as there is room for.
async fn start_due(
    ctx: &Arc<Ctx>,
    in_flight: &mut BTreeMap<i64, Vec<String>>,
    held: &BTreeMap<i64, (OutboxRow, Delivery)>,
    tasks: &mut JoinSet<(OutboxRow, Result<String, SendError>)>,
) {
    let room = PARALLEL.saturating_sub(in_flight.len());
    if room == 0 {
        return;
    }
    let now = clock::now();
    let due = match ctx.db.due_emails(now, 50).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the outbox");
            return;
        }
    };
    let skip: HashSet<i64> = in_flight.keys().chain(held.keys()).copied().collect();
    let busy: HashSet<String> = in_flight.values().flatten().cloned().collect();
    for row in pick(&due, &skip, &busy, room) {
        in_flight.insert(row.id, row.recipients.clone());
        let (ctx, row) = (ctx.clone(), row.clone());
        tasks.spawn(async move {
            let content = notify::EmailContent {
                subject: row.subject.clone(),
                text: row.text.clone(),
                html: row.html.clone(),
            };
            let key = message_key(&row);
            let attempt = ctx.mailer.send_as(&row.recipients, &content, Some(&key)).await;
            (row, attempt)
        });
    }
}

/// Logs and records one finished delivery; an outcome the database refuses is held.
async fn finish(
    ctx: &Ctx,
    row: OutboxRow,
    attempt: Result<String, SendError>,
    held: &mut BTreeMap<i64, (OutboxRow, Delivery)>,
) {
    let outcome = outcome(&row, attempt, clock::now(), rand::random());
    // Recorded first, logged after: whoever reads the log line finds the outcome in `status`.
    let recorded = record(ctx, row.id, &outcome).await;
    match &outcome {
        Delivery::Sent { answer, .. } => {
            tracing::info!(watch = %row.watch, subject = %row.subject, %answer, "email sent")
        }
        Delivery::Failed { error } => {
            tracing::error!(watch = %row.watch, subject = %row.subject, %error, "email refused permanently; not retrying")
        }
        Delivery::Retry { error, next } => {
            tracing::warn!(watch = %row.watch, %error, retry_at = %next.format("%H:%M:%S"), "email not delivered; will retry")
        }
    }
    if let Err(e) = recorded {
        tracing::error!(
            watch = %row.watch, subject = %row.subject, error = %e,
            "cannot record this email's delivery; holding it in memory and sending nothing more until the database takes writes again"
        );
        held.insert(row.id, (row, outcome));
        ctx.db.set_unrecorded_emails(held.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::OutboxState;

    fn row(id: i64, to: &[&str]) -> OutboxRow {
        let at = clock::beijing().with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap();
        OutboxRow {
            id,
            created_at: at,
            watch: "w".into(),
            kind: crate::store::EmailKind::Alert,
            recipients: to.iter().map(|s| s.to_string()).collect(),
            subject: "s".into(),
            text: "t".into(),
            html: "h".into(),
            state: OutboxState::Pending,
            attempts: 0,
            next_attempt_at: at,
            last_error: None,
            sent_at: None,
            server_answer: None,
        }
    }

    use chrono::TimeZone as _;

    #[test]
    fn a_slow_recipient_holds_back_only_later_emails_to_that_recipient() {
        let due = vec![
            row(1, &["a"]),
            row(2, &["b"]),
            row(3, &["a", "c"]),
            row(4, &["c"]),
            row(5, &["d"]),
        ];
        let busy: HashSet<String> = ["a".to_string()].into();
        let ids: Vec<i64> = pick(&due, &HashSet::from([1]), &busy, 4)
            .iter()
            .map(|r| r.id)
            .collect();
        // 1 is in flight (to a); 3 waits behind it, and 4 (to c) waits behind 3.
        assert_eq!(ids, vec![2, 5]);
        let ids: Vec<i64> = pick(&due, &HashSet::new(), &HashSet::new(), 2)
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, vec![1, 2], "at most `room` at once, oldest first");
    }

    #[test]
    fn outcomes_follow_the_error_class_and_the_age_of_the_email() {
        let r = row(1, &["a"]);
        let at = r.created_at + chrono::TimeDelta::minutes(1);
        assert_eq!(
            outcome(&r, Ok("250 OK".into()), at, 0.5),
            Delivery::Sent {
                at,
                answer: "250 OK".into()
            }
        );
        assert_eq!(
            outcome(&r, Err(SendError::Permanent("550".into())), at, 0.5),
            Delivery::Failed { error: "550".into() }
        );
        let Delivery::Retry { next, .. } = outcome(&r, Err(SendError::Transient("timeout".into())), at, 1.0)
        else {
            panic!("a transient failure is retried");
        };
        assert_eq!(next - at, chrono::TimeDelta::seconds(5));
        let late = r.created_at + chrono::TimeDelta::hours(49);
        assert!(matches!(
            outcome(&r, Err(SendError::Transient("timeout".into())), late, 0.5),
            Delivery::Failed { error } if error.starts_with("gave up after 48 h")
        ));
    }

    #[test]
    fn the_message_key_depends_only_on_the_row() {
        let mut r = row(7, &["a"]);
        let k = message_key(&r);
        r.attempts = 3;
        assert_eq!(message_key(&r), k);
        assert_eq!(k, format!("outbox.7.{}", r.created_at.timestamp_millis()));
    }
}
