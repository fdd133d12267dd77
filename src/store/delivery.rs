//! Where a queued delivery is in its life, and what one attempt became: the same for an email
//! (`outbox`) and a push (`push_outbox`), so both senders record outcomes alike.

use chrono::{DateTime, FixedOffset};
use rusqlite::Connection;

use super::error::StoreError;
use super::sql::ms;

/// Where an outbox row is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxState {
    Pending,
    Sent,
    /// Given up (permanent refusal or too many attempts); kept for `status` until retention.
    Failed,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Sent => "sent",
            OutboxState::Failed => "failed",
        }
    }

    pub(super) fn parse(s: &str) -> Option<OutboxState> {
        Some(match s {
            "pending" => OutboxState::Pending,
            "sent" => OutboxState::Sent,
            "failed" => OutboxState::Failed,
            _ => return None,
        })
    }
}

/// What became of one delivery attempt: what the outbox row must say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Sent {
        at: DateTime<FixedOffset>,
        answer: String,
    },
    Retry {
        error: String,
        next: DateTime<FixedOffset>,
    },
    Failed {
        error: String,
    },
}

/// Which outbox a delivery belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Queue {
    /// `outbox`: emails.
    Email,
    /// `push_outbox`: one row per (event, channel).
    Push,
}

impl Queue {
    /// The statement recording `delivery` (`?1` the row id), written out per table so that no
    /// SQL is ever assembled from text.
    fn statement(self, delivery: &Delivery) -> &'static str {
        match (self, delivery) {
            (Queue::Email, Delivery::Sent { .. }) => {
                "UPDATE outbox SET state = 'sent', attempts = attempts + 1, sent_at = ?2,
                 server_answer = ?3 WHERE id = ?1 AND state = 'pending'"
            }
            (Queue::Push, Delivery::Sent { .. }) => {
                "UPDATE push_outbox SET state = 'sent', attempts = attempts + 1, sent_at = ?2,
                 server_answer = ?3 WHERE id = ?1 AND state = 'pending'"
            }
            (Queue::Email, Delivery::Retry { .. }) => {
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3
                 WHERE id = ?1 AND state = 'pending'"
            }
            (Queue::Push, Delivery::Retry { .. }) => {
                "UPDATE push_outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3
                 WHERE id = ?1 AND state = 'pending'"
            }
            (Queue::Email, Delivery::Failed { .. }) => {
                "UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ?2
                 WHERE id = ?1 AND state = 'pending'"
            }
            (Queue::Push, Delivery::Failed { .. }) => {
                "UPDATE push_outbox SET state = 'failed', attempts = attempts + 1, last_error = ?2
                 WHERE id = ?1 AND state = 'pending'"
            }
        }
    }
}

/// Records the outcome of one delivery attempt of row `id` in `queue`; a row that is no longer
/// pending (already sent or failed) is [`StoreError::NoPendingEmail`].
pub(super) fn record(
    conn: &Connection,
    queue: Queue,
    id: i64,
    delivery: &Delivery,
) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(queue.statement(delivery))?;
    let changed = match delivery {
        Delivery::Sent { at, answer } => stmt.execute(rusqlite::params![id, ms(*at), answer])?,
        Delivery::Retry { error, next } => stmt.execute(rusqlite::params![id, error, ms(*next)])?,
        Delivery::Failed { error } => stmt.execute(rusqlite::params![id, error])?,
    };
    match changed {
        0 => Err(StoreError::NoPendingEmail(id)),
        _ => Ok(()),
    }
}
