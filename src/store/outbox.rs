//! The email outbox (`outbox`) and the watches each email serves (`outbox_serves`).
//!
//! An email is queued in the same transaction as the change that caused it, then delivered by
//! the daemon's sender, which records each attempt's outcome ([`Delivery`]) here.

use chrono::{DateTime, FixedOffset};
use rusqlite::{Connection, OptionalExtension, Row};

use super::delivery::{self, Queue};
pub use super::delivery::{Delivery, OutboxState};
use super::error::StoreError;
use super::sql::{json, ms, opt_time_at, time_at};
use super::sqlite::Store;
use super::status::JobKey;

/// What an email is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmailKind {
    /// Seats appeared (余票).
    Alert,
    /// A 抢票 order changed, or could not be placed.
    Order,
    /// A 候补 order changed, or the 12306 session needs the user.
    Waitlist,
}

impl EmailKind {
    /// Stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            EmailKind::Alert => "alert",
            EmailKind::Order => "order",
            EmailKind::Waitlist => "waitlist",
        }
    }

    fn parse(s: &str) -> Option<EmailKind> {
        Some(match s {
            "alert" => EmailKind::Alert,
            "order" => EmailKind::Order,
            "waitlist" => EmailKind::Waitlist,
            _ => return None,
        })
    }
}

/// A notification to queue with the change that caused it: an email, and a push.
///
/// `recipients` mixes email addresses and `[[channel]]` names, as `notify` lists do: an entry
/// with '@' is an email address (channel names cannot contain one, `push::ChannelSpec`), the
/// others are channels. The email goes to the addresses (one row, none without addresses); the
/// push, when there is one, to each channel (one row per channel, see `push_outbox`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewEmail {
    pub kind: EmailKind,
    pub recipients: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The same event for push channels.
    pub push: Option<crate::push::PushMessage>,
}

/// Whether a `notify` entry is an email address (else it names a channel).
pub fn is_mailbox(recipient: &str) -> bool {
    recipient.contains('@')
}

/// One email in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    pub created_at: DateTime<FixedOffset>,
    /// What it is filed under: the stored [`JobKey`] of the first watch it serves.
    pub watch: String,
    pub kind: EmailKind,
    pub recipients: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub state: OutboxState,
    /// Delivery attempts so far (each recorded delivery counts one).
    pub attempts: u32,
    pub next_attempt_at: DateTime<FixedOffset>,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<FixedOffset>>,
    /// What the mail server said when it accepted the message (queue id), for tracing.
    pub server_answer: Option<String>,
}

/// Outbox totals for one watch, for `status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub sent: u64,
    pub pending: u64,
    pub failed: u64,
}

const OUTBOX_COLUMNS: &str = "id, created_at, watch, kind, recipients, subject, body_text, \
     body_html, state, attempts, next_attempt_at, last_error, sent_at, server_answer";

/// The stored values of one row; [`RawRow::decode`] turns them into an [`OutboxRow`].
struct RawRow {
    row: OutboxRow,
    kind: String,
    recipients: String,
    state: String,
}

fn raw_row(row: &Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        row: OutboxRow {
            id: row.get(0)?,
            created_at: time_at(row, 1)?,
            watch: row.get(2)?,
            kind: EmailKind::Alert,
            recipients: Vec::new(),
            subject: row.get(5)?,
            text: row.get(6)?,
            html: row.get(7)?,
            state: OutboxState::Pending,
            attempts: row.get(9)?,
            next_attempt_at: time_at(row, 10)?,
            last_error: row.get(11)?,
            sent_at: opt_time_at(row, 12)?,
            server_answer: row.get(13)?,
        },
        kind: row.get(3)?,
        recipients: row.get(4)?,
        state: row.get(8)?,
    })
}

impl RawRow {
    fn decode(self) -> Result<OutboxRow, StoreError> {
        let key = format!("id {}", self.row.id);
        let bad = |what: &str, v: &str| StoreError::bad_row("outbox", key.clone(), format!("{what} {v:?}"));
        Ok(OutboxRow {
            kind: EmailKind::parse(&self.kind).ok_or_else(|| bad("kind", &self.kind))?,
            state: OutboxState::parse(&self.state).ok_or_else(|| bad("state", &self.state))?,
            recipients: super::sql::decode("outbox", &key, "recipients", &self.recipients)?,
            ..self.row
        })
    }
}

fn rows(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Vec<OutboxRow>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let raw = stmt
        .query_map(params, raw_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    raw.into_iter().map(RawRow::decode).collect()
}

impl Store {
    /// Queues an email (and its pushes) that no poll caused (a 抢票 refusal), in one
    /// transaction; returns the email's outbox id (`None`: no email address among the
    /// recipients).
    pub fn enqueue_email(
        &mut self,
        key: &JobKey,
        now: DateTime<FixedOffset>,
        email: &NewEmail,
    ) -> Result<Option<i64>, StoreError> {
        let filed = key.to_string();
        self.write_tx(|tx| insert_email(tx, &filed, now, email))
    }

    /// Pending emails whose next attempt is due, oldest first.
    pub fn due_emails(&self, now: DateTime<FixedOffset>, limit: u32) -> Result<Vec<OutboxRow>, StoreError> {
        rows(
            &self.conn,
            &format!(
                "SELECT {OUTBOX_COLUMNS} FROM outbox
                 WHERE state = 'pending' AND next_attempt_at <= ?1
                 ORDER BY next_attempt_at, id LIMIT ?2"
            ),
            (ms(now), limit),
        )
    }

    /// One outbox row by id.
    pub fn email(&self, id: i64) -> Result<Option<OutboxRow>, StoreError> {
        let raw = self
            .conn
            .prepare_cached(&format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id = ?1"))?
            .query_row([id], raw_row)
            .optional()?;
        raw.map(RawRow::decode).transpose()
    }

    /// The newest email that is not delivered and has an error (pending retry or failed): what
    /// went wrong and when, for `status`.
    pub fn last_email_problem(&self) -> Result<Option<OutboxRow>, StoreError> {
        let found = rows(
            &self.conn,
            &format!(
                "SELECT {OUTBOX_COLUMNS} FROM outbox
                 WHERE state IN ('pending', 'failed') AND last_error IS NOT NULL
                 ORDER BY id DESC LIMIT 1"
            ),
            [],
        )?;
        Ok(found.into_iter().next())
    }

    /// Records the outcome of one delivery attempt of row `id`.
    pub fn record_delivery(&mut self, id: i64, delivery: &Delivery) -> Result<(), StoreError> {
        delivery::record(&self.conn, Queue::Email, id, delivery)
    }

    /// Sent / pending / failed emails of one watch or waitlist, counting every email that
    /// serves it (not only those filed under it).
    pub fn outbox_counts(&self, key: &JobKey) -> Result<OutboxCounts, StoreError> {
        let mut counts = OutboxCounts::default();
        let mut stmt = self.conn.prepare_cached(
            "SELECT state, count(*) FROM outbox
             WHERE watch = ?1 OR id IN (SELECT outbox_id FROM outbox_serves WHERE watch = ?1)
             GROUP BY state",
        )?;
        let key = key.to_string();
        for r in stmt.query_map([&key], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (state, n) = r?;
            let n = n as u64;
            match OutboxState::parse(&state) {
                Some(OutboxState::Sent) => counts.sent = n,
                Some(OutboxState::Pending) => counts.pending = n,
                Some(OutboxState::Failed) => counts.failed = n,
                None => return Err(StoreError::bad_row("outbox", key, format!("state {state:?}"))),
            }
        }
        Ok(counts)
    }

    /// Why the oldest still-pending email of a watch has not gone out yet (its last attempt's
    /// error), if it has been tried. An email filed under another watch that also serves this
    /// one counts (as in [`Store::outbox_counts`]).
    pub fn pending_email_error(&self, key: &JobKey) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT last_error FROM outbox
                 WHERE (watch = ?1 OR id IN (SELECT outbox_id FROM outbox_serves WHERE watch = ?1))
                 AND state = 'pending' AND last_error IS NOT NULL ORDER BY id LIMIT 1",
            )?
            .query_row([key.to_string()], |r| r.get(0))
            .optional()?)
    }
}

/// Queues `email` filed under `filed` (a stored [`JobKey`]): the email row for its addresses
/// (its id, `None` when there are none) and a push row per channel. The caller should hold a
/// transaction (the rows of one event go in together).
pub(super) fn insert_email(
    conn: &Connection,
    filed: &str,
    now: DateTime<FixedOffset>,
    email: &NewEmail,
) -> Result<Option<i64>, StoreError> {
    let (mailboxes, channels): (Vec<&String>, Vec<&String>) =
        email.recipients.iter().partition(|r| is_mailbox(r));
    if let Some(push) = &email.push {
        super::push_outbox::insert_pushes(conn, filed, now, &channels, push)?;
    }
    // Push-only: no email row. With no recipient at all the insert below goes ahead and the
    // table's CHECK refuses it (a notification for nobody is a bug, and fails its transaction).
    if mailboxes.is_empty() && !channels.is_empty() {
        return Ok(None);
    }
    conn.prepare_cached(
        "INSERT INTO outbox (created_at, watch, kind, recipients, subject, body_text, body_html,
             state, attempts, next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', 0, ?1)",
    )?
    .execute((
        ms(now),
        filed,
        email.kind.as_str(),
        json(&mailboxes),
        &email.subject,
        &email.text,
        &email.html,
    ))?;
    Ok(Some(conn.last_insert_rowid()))
}

/// Links outbox row `id` to every watch it serves.
pub(super) fn link_serves(conn: &Connection, id: i64, serves: &[String]) -> Result<(), StoreError> {
    let mut link =
        conn.prepare_cached("INSERT OR IGNORE INTO outbox_serves (outbox_id, watch) VALUES (?1, ?2)")?;
    for w in serves {
        link.execute((id, w))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fixtures::{at, email, open};

    #[test]
    fn outbox_rows_go_from_pending_through_retry_to_sent_or_failed() {
        let (_dir, mut store) = open();
        let w = JobKey::watch("w");
        let a = store.enqueue_email(&w, at(0), &email()).unwrap().unwrap();
        let b = store.enqueue_email(&w, at(1), &email()).unwrap().unwrap();
        let due: Vec<i64> = store
            .due_emails(at(1), 10)
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(due, [a, b]);
        assert_eq!(store.due_emails(at(0), 10).unwrap().len(), 1);

        let retry = Delivery::Retry {
            error: "421 try later".into(),
            next: at(6),
        };
        store.record_delivery(a, &retry).unwrap();
        let due: Vec<i64> = store
            .due_emails(at(2), 10)
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(due, [b]);
        let row = store.email(a).unwrap().unwrap();
        assert_eq!(
            (row.attempts, row.last_error.as_deref(), row.next_attempt_at),
            (1, Some("421 try later"), at(6))
        );
        assert_eq!(row.recipients, ["me@example.com"]);
        assert_eq!(row.kind, EmailKind::Alert);

        let sent = |at| Delivery::Sent {
            at,
            answer: "250 queued as ABC".into(),
        };
        store.record_delivery(a, &sent(at(6))).unwrap();
        let failed = Delivery::Failed {
            error: "550 no such user".into(),
        };
        store.record_delivery(b, &failed).unwrap();
        assert!(store.due_emails(at(60), 10).unwrap().is_empty());
        let row = store.email(a).unwrap().unwrap();
        assert_eq!(row.state, OutboxState::Sent);
        assert_eq!((row.attempts, row.sent_at), (2, Some(at(6))));
        assert_eq!(row.server_answer.as_deref(), Some("250 queued as ABC"));
        assert!(matches!(
            store.record_delivery(b, &sent(at(7))),
            Err(StoreError::NoPendingEmail(id)) if id == b
        ));
        assert_eq!(
            store.outbox_counts(&w).unwrap(),
            OutboxCounts {
                sent: 1,
                pending: 0,
                failed: 1
            }
        );
        assert_eq!(
            store.outbox_counts(&JobKey::watch("other")).unwrap(),
            OutboxCounts::default()
        );
    }

    #[test]
    fn an_email_of_an_unknown_kind_is_an_error_naming_the_row() {
        let (_dir, mut store) = open();
        let id = store
            .enqueue_email(&JobKey::watch("w"), at(0), &email())
            .unwrap()
            .unwrap();
        store
            .conn
            .execute("UPDATE outbox SET kind = 'fax' WHERE id = ?1", [id])
            .unwrap();
        let e = store.email(id).unwrap_err();
        assert!(
            matches!(&e, StoreError::BadRow { table: "outbox", key, .. } if *key == format!("id {id}")),
            "{e:?}"
        );
    }
}
