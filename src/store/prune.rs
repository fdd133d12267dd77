//! Keeping the file small: history and delivered emails past the retention go, and so does the
//! state of travel dates long past.

use std::time::Duration;

use chrono::{DateTime, FixedOffset, TimeDelta};

use super::error::StoreError;
use super::sql::{date_text, ms};
use super::sqlite::Store;

/// Rows removed by [`Store::prune`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub history: u64,
    pub outbox: u64,
    /// State and alert times of dates older than the retention.
    pub state: u64,
}

impl Pruned {
    pub fn total(&self) -> u64 {
        self.history + self.outbox + self.state
    }
}

impl Store {
    /// Removes history and finished (sent/failed) emails and pushes older than `retention`, and the state
    /// of travel dates that ended more than `retention` ago.
    pub fn prune(&mut self, now: DateTime<FixedOffset>, retention: Duration) -> Result<Pruned, StoreError> {
        let cutoff = now - TimeDelta::from_std(retention).unwrap_or(TimeDelta::MAX / 2);
        let cutoff_ms = ms(cutoff);
        let cutoff_date = date_text(cutoff.date_naive());
        self.write_tx(|tx| {
            let history = tx.execute("DELETE FROM seat_history WHERE at < ?1", [cutoff_ms])?
                + tx.execute("DELETE FROM waitlist_history WHERE at < ?1", [cutoff_ms])?;
            let outbox = tx.execute(
                "DELETE FROM outbox WHERE state IN ('sent', 'failed') AND created_at < ?1",
                [cutoff_ms],
            )? + tx.execute(
                "DELETE FROM push_outbox WHERE state IN ('sent', 'failed', 'dropped') AND created_at < ?1",
                [cutoff_ms],
            )?;
            // A delivered email's bodies are only needed until it is sent; after a week keep just
            // its subject, recipients and outcome for `status` (bodies are most of the file).
            tx.execute(
                "UPDATE outbox SET body_text = '', body_html = '' WHERE state = 'sent' AND sent_at < ?1 AND body_text != ''",
                [ms(now - TimeDelta::days(7))],
            )?;
            tx.execute(
                "DELETE FROM outbox_serves WHERE outbox_id NOT IN (SELECT id FROM outbox)",
                [],
            )?;
            let state = tx.execute("DELETE FROM seat_state WHERE date < ?1", [&cutoff_date])?
                + tx.execute("DELETE FROM train_alert WHERE date < ?1", [&cutoff_date])?
                + tx.execute("DELETE FROM match_note WHERE date < ?1", [&cutoff_date])?;
            Ok(Pruned {
                history: history as u64,
                outbox: outbox as u64,
                state: state as u64,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seat::SeatClass;
    use crate::store::fixtures::{at, count, email, open, poll, seat, train};
    use crate::store::outbox::Delivery;
    use crate::store::status::JobKey;

    fn sent(store: &mut Store, min: i64) -> i64 {
        let id = store
            .enqueue_email(&JobKey::watch("w"), at(min), &email())
            .unwrap()
            .expect("an email row");
        let delivery = Delivery::Sent {
            at: at(min),
            answer: "250".into(),
        };
        store.record_delivery(id, &delivery).unwrap();
        id
    }

    #[test]
    fn prune_removes_only_rows_older_than_the_retention() {
        let (_dir, mut store) = open();
        let has = |raw| vec![train("G1", vec![seat(SeatClass::Second, raw)])];
        poll(&mut store, 0, &has("有")); // history + pending email at 0
        poll(&mut store, 60, &has("无")); // history at 60
        sent(&mut store, 1);
        let new_sent = sent(&mut store, 61);

        let pruned = store.prune(at(90), Duration::from_secs(45 * 60)).unwrap();
        assert_eq!((pruned.history, pruned.outbox, pruned.state), (1, 1, 0));
        assert_eq!(store.history_rows().unwrap(), 1);
        assert_eq!(store.recent_changes("w", 10).unwrap()[0].raw, "无");
        assert_eq!(count(&store, "outbox"), 2, "pending emails are never pruned");
        assert!(store.email(new_sent).unwrap().is_some());
        assert_eq!(store.current_seats("w").unwrap().len(), 1);

        // Long after the travel date, its state goes too.
        let later = at(0) + TimeDelta::days(30);
        let pruned = store.prune(later, Duration::from_secs(7 * 86_400)).unwrap();
        assert_eq!(pruned.state, 2, "seat state and train alert time");
        assert!(store.current_seats("w").unwrap().is_empty());
    }

    #[test]
    fn delivered_email_bodies_are_dropped_after_a_week_but_the_record_stays() {
        let (_dir, mut store) = open();
        let mut mail = email();
        mail.subject = "【余票】G8294".into();
        mail.text = "body".into();
        mail.html = "<p>body</p>".into();
        let w = JobKey::watch("w");
        let sent = store.enqueue_email(&w, at(0), &mail).unwrap().unwrap();
        let pending = store.enqueue_email(&w, at(0), &mail).unwrap().unwrap();
        let delivery = Delivery::Sent {
            at: at(1),
            answer: "250 OK".into(),
        };
        store.record_delivery(sent, &delivery).unwrap();
        store
            .prune(at(60 * 24 * 8), Duration::from_secs(90 * 86_400))
            .unwrap();
        let row = store.email(sent).unwrap().unwrap();
        assert_eq!(
            (row.subject.as_str(), row.text.as_str(), row.html.as_str()),
            ("【余票】G8294", "", "")
        );
        let waiting = store.email(pending).unwrap().unwrap();
        assert_eq!(waiting.text, "body", "an email not yet delivered keeps its body");
        assert_eq!(store.outbox_counts(&w).unwrap().sent, 1);
    }
}
