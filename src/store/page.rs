//! Read-only queries for the status page (issue 14): the whole retained seat history, the alert
//! moments and the outbox totals, read in one transaction so the page's charts, marks and
//! counts agree with each other.
//!
//! Why one bulk read rather than per-watch calls: `seat_history` has no index by watch (its rows
//! are appended in time order and read by `status` only newest first), so a thousand per-watch
//! queries would be a thousand table scans; one ordered scan serves every watch.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, NaiveDate};

use super::error::StoreError;
use super::outbox::OutboxCounts;
use super::seats::{Change, change_at};
use super::sql::{date_at, time_at};
use super::sqlite::Store;

/// What the status page reads besides `status`' report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageHistory {
    /// Every retained `seat_history` row, by watch, oldest first.
    pub changes: HashMap<String, Vec<Change>>,
    /// `train_alert`: the last alert per (watch, date, train), as (date, when), by watch.
    pub last_alerts: HashMap<String, Vec<(NaiveDate, DateTime<FixedOffset>)>>,
    /// When each seat-alert email was queued, by every watch it serves.
    pub alert_emails: HashMap<String, Vec<DateTime<FixedOffset>>>,
    /// The email outbox as a whole (every kind).
    pub email: OutboxCounts,
}

impl Store {
    /// Reads [`PageHistory`] in one read transaction.
    pub fn page_history(&self) -> Result<PageHistory, StoreError> {
        self.read_tx(|tx| {
            let mut out = PageHistory::default();
            let mut stmt = tx.prepare_cached(
                "SELECT watch, date, train, seat, raw, count, price_jiao, available, at
                 FROM seat_history ORDER BY at, id",
            )?;
            let rows = stmt.query_map([], |row| Ok((row.get::<_, String>(0)?, change_at(row, 1)?)))?;
            for r in rows {
                let (watch, change) = r?;
                out.changes.entry(watch).or_default().push(change);
            }

            let mut stmt = tx.prepare_cached("SELECT watch, date, last_alert_at FROM train_alert")?;
            let rows = stmt.query_map([], |row| {
                Ok((row.get::<_, String>(0)?, date_at(row, 1)?, time_at(row, 2)?))
            })?;
            for r in rows {
                let (watch, date, at) = r?;
                out.last_alerts.entry(watch).or_default().push((date, at));
            }

            let mut stmt = tx.prepare_cached(
                "SELECT s.watch, o.created_at FROM outbox o JOIN outbox_serves s ON s.outbox_id = o.id
                 WHERE o.kind = 'alert' ORDER BY o.created_at",
            )?;
            let rows = stmt.query_map([], |row| Ok((row.get::<_, String>(0)?, time_at(row, 1)?)))?;
            for r in rows {
                let (watch, at) = r?;
                out.alert_emails.entry(watch).or_default().push(at);
            }

            let mut stmt = tx.prepare_cached("SELECT state, count(*) FROM outbox GROUP BY state")?;
            let rows = stmt.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)))?;
            for r in rows {
                let (state, n) = r?;
                let n = n as u64;
                match state.as_str() {
                    "sent" => out.email.sent = n,
                    "pending" => out.email.pending = n,
                    "failed" => out.email.failed = n,
                    other => {
                        return Err(StoreError::bad_row("outbox", "state", format!("state {other:?}")));
                    }
                }
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::seat::SeatClass;
    use crate::store::fixtures::{at, date, open, poll, seat, train};

    #[test]
    fn the_page_reads_every_change_alert_and_email_count_of_a_recorded_cycle() {
        let (_dir, mut store) = open();
        poll(&mut store, 0, &[train("G1", vec![seat(SeatClass::Second, "无")])]);
        let d = poll(
            &mut store,
            60,
            &[train("G1", vec![seat(SeatClass::Second, "有")])],
        );
        assert!(!d.alert.is_empty(), "seats came back: an alert");

        let h = store.page_history().unwrap();
        let changes = &h.changes["w"];
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0].raw, "无");
        assert!(!changes[0].available);
        assert_eq!(changes[1].raw, "有");
        assert!(changes[1].available);
        assert!(changes[0].at < changes[1].at);
        assert_eq!(h.last_alerts["w"], vec![(date(), at(60))]);
        assert_eq!(h.alert_emails["w"].len(), 1);
        assert_eq!(h.email.pending, 1);
        assert_eq!(h.email.sent + h.email.failed, 0);
    }
}
