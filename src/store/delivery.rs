//! Where a queued delivery is in its life, and what one attempt became: the same for an email
//! (`outbox`) and a push (`push_outbox`), so both senders record outcomes alike.

use chrono::{DateTime, FixedOffset};

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
