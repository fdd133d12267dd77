//! The push outbox (`push_outbox`): one row per (event, channel), beside the email rows.
//!
//! A push is queued by [`super::outbox::insert_email`] in the same transaction as the change
//! that caused it, so a crash either keeps the change and its pushes or neither. The row stores
//! the whole [`PushMessage`]; the request is prepared at send time (signatures expire).
//! `UNIQUE (channel, event_key)` makes a second queueing of the same event on the same channel
//! a no-op: one push per channel per event. The daemon's push sender reads due rows and records
//! each attempt's outcome here ([`Delivery`], shared with email), or holds a row until a
//! channel's quiet hours end, or drops a held seat alert whose seats are gone.

use chrono::{DateTime, FixedOffset, NaiveDate};
use rusqlite::{Connection, OptionalExtension, Row};

use super::delivery::{self, Delivery, OutboxState, Queue};
use super::error::StoreError;
use super::sql::{date_text, decode, json, ms, opt_time_at, time_at};
use super::sqlite::Store;
use crate::push::PushMessage;

/// Where a push row is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushState {
    Pending,
    Sent,
    /// Refused permanently, or still refused after 48 h.
    Failed,
    /// A seat alert held by quiet hours whose seats were gone when the hours ended.
    Dropped,
}

impl PushState {
    pub fn as_str(self) -> &'static str {
        match self {
            PushState::Pending => "pending",
            PushState::Sent => "sent",
            PushState::Failed => "failed",
            PushState::Dropped => "dropped",
        }
    }

    fn parse(s: &str) -> Option<PushState> {
        Some(match s {
            "pending" => PushState::Pending,
            "sent" => PushState::Sent,
            "failed" => PushState::Failed,
            "dropped" => PushState::Dropped,
            _ => return None,
        })
    }
}

impl From<OutboxState> for PushState {
    fn from(s: OutboxState) -> PushState {
        match s {
            OutboxState::Pending => PushState::Pending,
            OutboxState::Sent => PushState::Sent,
            OutboxState::Failed => PushState::Failed,
        }
    }
}

/// One push in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct PushRow {
    pub id: i64,
    pub created_at: DateTime<FixedOffset>,
    /// The stored [`super::JobKey`] it is filed under.
    pub watch: String,
    /// The `[[channel]]` name.
    pub channel: String,
    pub message: PushMessage,
    pub state: PushState,
    pub attempts: u32,
    pub next_attempt_at: DateTime<FixedOffset>,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<FixedOffset>>,
    /// What the service said when it took the push.
    pub server_answer: Option<String>,
}

/// Per-channel totals and the newest error, for `status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelCounts {
    pub channel: String,
    pub sent: u64,
    pub pending: u64,
    pub failed: u64,
    pub dropped: u64,
    /// The newest error of a row still pending or failed (already free of secrets: the sender
    /// scrubs what services echo back).
    pub last_error: Option<String>,
    pub last_sent_at: Option<DateTime<FixedOffset>>,
}

const PUSH_COLUMNS: &str = "id, created_at, watch, channel, message, state, attempts, next_attempt_at, \
     last_error, sent_at, server_answer";

/// The stored values of one row; [`RawPush::decode`] turns them into a [`PushRow`].
struct RawPush {
    id: i64,
    created_at: DateTime<FixedOffset>,
    watch: String,
    channel: String,
    message: String,
    state: String,
    attempts: u32,
    next_attempt_at: DateTime<FixedOffset>,
    last_error: Option<String>,
    sent_at: Option<DateTime<FixedOffset>>,
    server_answer: Option<String>,
}

fn push_row(row: &Row<'_>) -> rusqlite::Result<RawPush> {
    Ok(RawPush {
        id: row.get(0)?,
        created_at: time_at(row, 1)?,
        watch: row.get(2)?,
        channel: row.get(3)?,
        message: row.get(4)?,
        state: row.get(5)?,
        attempts: row.get(6)?,
        next_attempt_at: time_at(row, 7)?,
        last_error: row.get(8)?,
        sent_at: opt_time_at(row, 9)?,
        server_answer: row.get(10)?,
    })
}

impl RawPush {
    fn decode(self) -> Result<PushRow, StoreError> {
        let key = format!("id {}", self.id);
        let state = PushState::parse(&self.state).ok_or_else(|| {
            StoreError::bad_row("push_outbox", key.clone(), format!("state {:?}", self.state))
        })?;
        Ok(PushRow {
            message: decode("push_outbox", &key, "message", &self.message)?,
            state,
            id: self.id,
            created_at: self.created_at,
            watch: self.watch,
            channel: self.channel,
            attempts: self.attempts,
            next_attempt_at: self.next_attempt_at,
            last_error: self.last_error,
            sent_at: self.sent_at,
            server_answer: self.server_answer,
        })
    }
}

fn rows(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Vec<PushRow>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let raw = stmt
        .query_map(params, push_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    raw.into_iter().map(RawPush::decode).collect()
}

/// Queues `message` for each of `channels`, filed under `filed`; a channel that already has
/// this event is left as it is. The caller may hold a transaction.
pub(super) fn insert_pushes(
    conn: &Connection,
    filed: &str,
    now: DateTime<FixedOffset>,
    channels: &[&String],
    message: &PushMessage,
) -> Result<(), StoreError> {
    let mut insert = conn.prepare_cached(
        "INSERT OR IGNORE INTO push_outbox (created_at, watch, channel, event_key, message, urgent,
             state, attempts, next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?1)",
    )?;
    let text = json(message);
    for channel in channels {
        insert.execute((
            ms(now),
            filed,
            channel.as_str(),
            &message.idempotency_key,
            &text,
            message.urgent,
        ))?;
    }
    Ok(())
}

impl Store {
    /// Pending pushes whose next attempt is due, oldest first.
    pub fn due_pushes(&self, now: DateTime<FixedOffset>, limit: u32) -> Result<Vec<PushRow>, StoreError> {
        rows(
            &self.conn,
            &format!(
                "SELECT {PUSH_COLUMNS} FROM push_outbox
                 WHERE state = 'pending' AND next_attempt_at <= ?1
                 ORDER BY next_attempt_at, id LIMIT ?2"
            ),
            (ms(now), limit),
        )
    }

    /// Every push row of one channel, oldest first (tests, `status`).
    pub fn pushes_of(&self, channel: &str) -> Result<Vec<PushRow>, StoreError> {
        rows(
            &self.conn,
            &format!("SELECT {PUSH_COLUMNS} FROM push_outbox WHERE channel = ?1 ORDER BY id"),
            [channel],
        )
    }

    /// One push row by id.
    pub fn push(&self, id: i64) -> Result<Option<PushRow>, StoreError> {
        let raw = self
            .conn
            .prepare_cached(&format!("SELECT {PUSH_COLUMNS} FROM push_outbox WHERE id = ?1"))?
            .query_row([id], push_row)
            .optional()?;
        raw.map(RawPush::decode).transpose()
    }

    /// Records the outcome of one delivery attempt of push `id` (as for email).
    pub fn record_push_delivery(&mut self, id: i64, delivery: &Delivery) -> Result<(), StoreError> {
        delivery::record(&self.conn, Queue::Push, id, delivery)
    }

    /// Holds push `id` until `until` (quiet hours); not an attempt.
    pub fn hold_push(&mut self, id: i64, until: DateTime<FixedOffset>) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE push_outbox SET next_attempt_at = ?2 WHERE id = ?1 AND state = 'pending'",
            )?
            .execute((id, ms(until)))?;
        Ok(())
    }

    /// Drops held push `id` for good, saying why.
    pub fn drop_push(&mut self, id: i64, why: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE push_outbox SET state = 'dropped', last_error = ?2 WHERE id = ?1 AND state = 'pending'",
            )?
            .execute((id, why))?;
        Ok(())
    }

    /// Whether any of `trains` on `date` still has an available seat for one of `watches` (the
    /// seat state as of the last poll): a held seat alert is still true.
    pub fn seats_still_available(
        &self,
        watches: &[String],
        date: NaiveDate,
        trains: &[String],
    ) -> Result<bool, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT 1 FROM seat_state WHERE watch = ?1 AND date = ?2 AND train = ?3 AND available = 1 LIMIT 1",
        )?;
        let day = date_text(date);
        for w in watches {
            for t in trains {
                if stmt.exists((w, &day, t))? {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Per channel: sent, pending, failed, dropped, the newest error and the last delivery.
    pub fn channel_counts(&self) -> Result<Vec<ChannelCounts>, StoreError> {
        let mut out: Vec<ChannelCounts> = Vec::new();
        let mut stmt = self.conn.prepare_cached(
            "SELECT channel, state, count(*), max(sent_at) FROM push_outbox GROUP BY channel, state ORDER BY channel",
        )?;
        let found = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    opt_time_at(r, 3)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for (channel, state, n, sent_at) in found {
            if out.last().is_none_or(|c| c.channel != channel) {
                out.push(ChannelCounts {
                    channel: channel.clone(),
                    ..ChannelCounts::default()
                });
            }
            let c = out.last_mut().expect("pushed above");
            let n = u64::try_from(n).unwrap_or(0);
            match PushState::parse(&state) {
                Some(PushState::Sent) => {
                    c.sent = n;
                    c.last_sent_at = sent_at;
                }
                Some(PushState::Pending) => c.pending = n,
                Some(PushState::Failed) => c.failed = n,
                Some(PushState::Dropped) => c.dropped = n,
                None => {
                    return Err(StoreError::bad_row(
                        "push_outbox",
                        channel,
                        format!("state {state:?}"),
                    ));
                }
            }
        }
        let mut last = self.conn.prepare_cached(
            "SELECT last_error FROM push_outbox WHERE channel = ?1 AND state IN ('pending', 'failed')
             AND last_error IS NOT NULL ORDER BY id DESC LIMIT 1",
        )?;
        for c in &mut out {
            c.last_error = last.query_row([&c.channel], |r| r.get(0)).optional()?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::JobKey;
    use crate::store::fixtures::{at, email, open};

    fn with_push(channels: &[&str]) -> crate::store::NewEmail {
        let mut e = email();
        e.recipients.extend(channels.iter().map(|c| c.to_string()));
        e.push = Some(crate::push::message::test_message("t", at(0)));
        e
    }

    #[test]
    fn an_event_queues_one_email_row_and_one_push_row_per_channel() {
        let (_dir, mut store) = open();
        let w = JobKey::watch("w");
        let mail = with_push(&["iphone", "group"]);
        let id = store.enqueue_email(&w, at(0), &mail).unwrap();
        let row = store.email(id.expect("an email row")).unwrap().unwrap();
        assert_eq!(row.recipients, ["me@example.com"], "channel names are not mailed");
        let due = store.due_pushes(at(0), 10).unwrap();
        let channels: Vec<&str> = due.iter().map(|r| r.channel.as_str()).collect();
        assert_eq!(channels, ["iphone", "group"]);
        assert_eq!(due[0].message, *mail.push.as_ref().unwrap());

        // The same event queued again (a replayed transaction) adds nothing.
        store.enqueue_email(&w, at(0), &mail).unwrap();
        assert_eq!(store.due_pushes(at(0), 10).unwrap().len(), 2);
    }

    #[test]
    fn finished_pushes_past_the_retention_are_pruned_and_pending_ones_kept() {
        let (_dir, mut store) = open();
        store
            .enqueue_email(&JobKey::watch("w"), at(0), &with_push(&["a", "b"]))
            .unwrap();
        let due = store.due_pushes(at(0), 10).unwrap();
        let sent = Delivery::Sent {
            at: at(1),
            answer: "ok".into(),
        };
        store.record_push_delivery(due[0].id, &sent).unwrap();
        let pruned = store
            .prune(at(120), std::time::Duration::from_secs(3600))
            .unwrap();
        assert_eq!(pruned.outbox, 1, "the sent push (the email row is still pending)");
        assert_eq!(store.push(due[0].id).unwrap(), None);
        assert!(
            store.push(due[1].id).unwrap().is_some(),
            "a pending push is never pruned"
        );
    }

    #[test]
    fn a_push_only_event_has_no_email_row() {
        let (_dir, mut store) = open();
        let mut mail = with_push(&["iphone"]);
        mail.recipients.retain(|r| !r.contains('@'));
        let id = store.enqueue_email(&JobKey::watch("w"), at(0), &mail).unwrap();
        assert_eq!(id, None);
        assert!(store.due_emails(at(0), 10).unwrap().is_empty());
        assert_eq!(store.due_pushes(at(0), 10).unwrap().len(), 1);
    }

    #[test]
    fn push_rows_are_retried_held_sent_failed_or_dropped_and_counted_per_channel() {
        let (_dir, mut store) = open();
        let w = JobKey::watch("w");
        store.enqueue_email(&w, at(0), &with_push(&["a", "b"])).unwrap();
        let mut second = with_push(&["a"]);
        second.push.as_mut().unwrap().idempotency_key = "other".into();
        store.enqueue_email(&w, at(1), &second).unwrap();
        let due = store.due_pushes(at(1), 10).unwrap();
        let (a1, b1, a2) = (due[0].id, due[1].id, due[2].id);

        store
            .record_push_delivery(
                a1,
                &Delivery::Retry {
                    error: "HTTP 503".into(),
                    next: at(5),
                },
            )
            .unwrap();
        store.hold_push(a2, at(9)).unwrap();
        let due: Vec<i64> = store
            .due_pushes(at(4), 10)
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(due, [b1], "a retried and a held push wait");
        store
            .record_push_delivery(
                a1,
                &Delivery::Sent {
                    at: at(5),
                    answer: "ok".into(),
                },
            )
            .unwrap();
        store
            .record_push_delivery(
                b1,
                &Delivery::Failed {
                    error: "bad key".into(),
                },
            )
            .unwrap();
        store.drop_push(a2, "seats gone").unwrap();
        assert!(matches!(
            store.record_push_delivery(b1, &Delivery::Failed { error: "x".into() }),
            Err(StoreError::NoPendingEmail(id)) if id == b1
        ));
        let counts = store.channel_counts().unwrap();
        assert_eq!(
            counts,
            [
                ChannelCounts {
                    channel: "a".into(),
                    sent: 1,
                    dropped: 1,
                    last_sent_at: Some(at(5)),
                    ..ChannelCounts::default()
                },
                ChannelCounts {
                    channel: "b".into(),
                    failed: 1,
                    last_error: Some("bad key".into()),
                    ..ChannelCounts::default()
                },
            ]
        );
        let row = store.push(a1).unwrap().unwrap();
        assert_eq!((row.state, row.attempts), (PushState::Sent, 2));
    }
}
