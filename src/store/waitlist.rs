//! 候补 following: the decision state per `[[waitlist]]` (`waitlist_state`) and the history of
//! the order as it changed (`waitlist_history`), both JSON of [`WaitlistSnapshot`].

use chrono::{DateTime, FixedOffset};
use rusqlite::OptionalExtension;

use super::error::StoreError;
use super::outbox::NewEmail;
use super::outbox::insert_email;
use super::sql::{decode, json, ms, time_at};
use super::sqlite::Store;
use super::status::write_poll_status;
use super::status::{JobKey, PollStatus};
use crate::decide::waitlist::WaitlistSnapshot;

/// One poll of a `[[waitlist]]`, written in one transaction.
#[derive(Debug, Clone)]
pub struct WaitlistRecord {
    pub name: String,
    pub at: DateTime<FixedOffset>,
    /// Persisted whatever changed (it also carries reminder bookkeeping).
    pub snapshot: WaitlistSnapshot,
    /// The order or the session changed: a history row.
    pub changed: bool,
    pub emails: Vec<NewEmail>,
    /// How the poll went, for `status`.
    pub status: PollStatus,
}

impl Store {
    /// The stored decision state of a `[[waitlist]]` and when it was written, if it was ever
    /// polled.
    pub fn waitlist_state(
        &self,
        name: &str,
    ) -> Result<Option<(WaitlistSnapshot, DateTime<FixedOffset>)>, StoreError> {
        let row: Option<(String, DateTime<FixedOffset>)> = self
            .conn
            .prepare_cached("SELECT state, updated_at FROM waitlist_state WHERE name = ?1")?
            .query_row([name], |r| Ok((r.get(0)?, time_at(r, 1)?)))
            .optional()?;
        row.map(|(text, at)| Ok((decode("waitlist_state", name, "state", &text)?, at)))
            .transpose()
    }

    /// The names of every stored waitlist state, for `status`.
    pub fn waitlist_names(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name FROM waitlist_state ORDER BY name")?;
        let rows = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Writes one poll of a `[[waitlist]]` in ONE transaction: the new state, a history row when
    /// the order changed, its emails (filed under its [`JobKey`]) and its poll status. A restart
    /// never repeats or loses them.
    pub fn record_waitlist(&mut self, r: &WaitlistRecord) -> Result<(), StoreError> {
        let state = json(&r.snapshot);
        let filed = JobKey::waitlist(&r.name).to_string();
        self.write_tx(|tx| {
            tx.prepare_cached(
                "INSERT INTO waitlist_state (name, state, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
            )?
            .execute((&r.name, &state, ms(r.at)))?;
            if r.changed {
                tx.prepare_cached("INSERT INTO waitlist_history (at, name, snapshot) VALUES (?1, ?2, ?3)")?
                    .execute((ms(r.at), &r.name, &state))?;
            }
            for email in &r.emails {
                insert_email(tx, &filed, r.at, email)?;
            }
            write_poll_status(tx, &r.status)
        })
    }

    /// Rows of 候补 history (all waitlists).
    pub fn waitlist_history_rows(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM waitlist_history", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Drops the state of a removed or changed `[[waitlist]]` (history stays).
    pub fn forget_waitlist(&mut self, name: &str) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM waitlist_state WHERE name = ?1", [name])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fixtures::{at, open};
    use crate::store::outbox::EmailKind;
    use crate::store::status::PollOutcome;
    use std::time::Duration;

    fn record(min: i64, snapshot: WaitlistSnapshot, changed: bool, emails: Vec<NewEmail>) -> WaitlistRecord {
        WaitlistRecord {
            name: "候补".into(),
            at: at(min),
            snapshot,
            changed,
            emails,
            status: PollStatus {
                key: JobKey::waitlist("候补"),
                at: at(min),
                outcome: PollOutcome::Ok,
                next_run_at: None,
                backoff_level: 0,
                backoff_until: None,
            },
        }
    }

    #[test]
    fn a_waitlist_poll_writes_state_history_and_emails_together() {
        let (_dir, mut store) = open();
        assert_eq!(store.waitlist_state("候补").unwrap(), None);
        let email = NewEmail {
            kind: EmailKind::Waitlist,
            recipients: vec!["me@example.com".into()],
            subject: "【候补】待支付".into(),
            text: "t".into(),
            html: "h".into(),
            push: None,
        };
        let paying = WaitlistSnapshot {
            reminded_for: Some(at(30)),
            ..WaitlistSnapshot::default()
        };
        store
            .record_waitlist(&record(0, paying.clone(), true, vec![email.clone()]))
            .unwrap();
        store
            .record_waitlist(&record(1, paying.clone(), false, vec![]))
            .unwrap();
        assert_eq!(
            store.waitlist_state("候补").unwrap(),
            Some((paying.clone(), at(1)))
        );
        assert_eq!(
            store.waitlist_history_rows().unwrap(),
            1,
            "an unchanged poll adds no history"
        );
        let key = JobKey::waitlist("候补");
        assert_eq!(store.outbox_counts(&key).unwrap().pending, 1);
        assert_eq!(
            store.watch_status(&key).unwrap().unwrap().last_poll_at,
            Some(at(1))
        );

        let bad = NewEmail {
            recipients: vec![],
            ..email
        };
        let err = store.record_waitlist(&record(2, WaitlistSnapshot::default(), true, vec![bad]));
        assert!(
            err.is_err(),
            "an email without recipients breaks the outbox CHECK"
        );
        assert_eq!(
            store.waitlist_state("候补").unwrap().map(|(s, _)| s),
            Some(paying),
            "nothing of the failed poll was written"
        );
        assert_eq!(store.waitlist_history_rows().unwrap(), 1);
        assert_eq!(
            store
                .prune(at(60 * 24 * 100), Duration::from_secs(86_400))
                .unwrap()
                .history,
            1
        );
    }

    #[test]
    fn a_stored_state_that_does_not_decode_is_an_error_naming_the_waitlist() {
        let (_dir, store) = open();
        store
            .conn
            .execute(
                "INSERT INTO waitlist_state (name, state, updated_at) VALUES ('候补', '{\"order\": 7}', 0)",
                [],
            )
            .unwrap();
        let e = store.waitlist_state("候补").unwrap_err();
        assert!(
            matches!(&e, StoreError::BadRow { table: "waitlist_state", key, .. } if key == "候补"),
            "{e:?}"
        );
        assert_eq!(store.waitlist_names().unwrap(), ["候补"]);
    }
}
