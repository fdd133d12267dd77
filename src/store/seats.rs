//! Seat state per (watch, date, train, seat class), its history of changes, the last alert time
//! per train, and why nothing matched a date (`seat_state`, `seat_history`, `train_alert`,
//! `match_note`).
//!
//! History is written on *change* only (the decision says which), so the file grows with what
//! happened, not with how often we looked. The writers here run inside a caller's transaction
//! ([`super::cycle`]).

use chrono::{DateTime, FixedOffset, NaiveDate};
use rusqlite::{Connection, Row};

use super::error::StoreError;
use super::sql::{date_at, date_text, decode, json, ms, opt_time_at, seat_at, time_at};
use super::sqlite::Store;
use crate::decide::{Decision, Previous, SeatKey, SeatState};
use crate::filter::NoMatch;

/// One row of history: a seat's observed values from `at` on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub at: DateTime<FixedOffset>,
    pub key: SeatKey,
    pub raw: String,
    pub count: Option<u32>,
    pub price_jiao: Option<u32>,
    pub available: bool,
}

/// Why nothing matched one date of a watch at its last poll.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchNote {
    pub date: NaiveDate,
    /// The poll that saw it.
    pub at: DateTime<FixedOffset>,
    pub note: NoMatch,
}

/// `date, train, seat, raw, count, price_jiao, available, alerted, since` from column 0.
fn seat_row(row: &Row<'_>) -> rusqlite::Result<(SeatKey, SeatState)> {
    Ok((
        SeatKey {
            date: date_at(row, 0)?,
            train: row.get(1)?,
            seat: seat_at(row, 2)?,
        },
        SeatState {
            raw: row.get(3)?,
            count: row.get(4)?,
            price_jiao: row.get(5)?,
            available: row.get(6)?,
            alerted: row.get(7)?,
            since: time_at(row, 8)?,
        },
    ))
}

/// The stored state of one (watch, date) on `conn`.
fn previous_on(conn: &Connection, watch: &str, date: NaiveDate) -> Result<Previous, StoreError> {
    let d = date_text(date);
    let mut prev = Previous::default();
    let mut stmt = conn.prepare_cached(
        "SELECT date, train, seat, raw, count, price_jiao, available, alerted, since
         FROM seat_state WHERE watch = ?1 AND date = ?2",
    )?;
    for r in stmt.query_map((watch, &d), seat_row)? {
        let (k, s) = r?;
        prev.seats.insert(k, s);
    }
    let mut stmt =
        conn.prepare_cached("SELECT train, last_alert_at FROM train_alert WHERE watch = ?1 AND date = ?2")?;
    for r in stmt.query_map((watch, &d), |row| {
        Ok((row.get::<_, String>(0)?, time_at(row, 1)?))
    })? {
        let (train, at) = r?;
        prev.last_alert.insert((date, train), at);
    }
    Ok(prev)
}

/// A `seat_history` row read from `date, train, seat, raw, count, price_jiao, available, at`,
/// starting at column `i`.
pub(super) fn change_at(row: &Row<'_>, i: usize) -> rusqlite::Result<Change> {
    Ok(Change {
        key: SeatKey {
            date: date_at(row, i)?,
            train: row.get(i + 1)?,
            seat: seat_at(row, i + 2)?,
        },
        raw: row.get(i + 3)?,
        count: row.get(i + 4)?,
        price_jiao: row.get(i + 5)?,
        available: row.get(i + 6)?,
        at: time_at(row, i + 7)?,
    })
}

impl Store {
    /// The stored state of one (watch, date), for [`crate::decide::decide`].
    pub fn previous(&self, watch: &str, date: NaiveDate) -> Result<Previous, StoreError> {
        previous_on(&self.conn, watch, date)
    }

    /// The stored state of each (watch, date), in order, read in one transaction (a poll cycle
    /// decides all its answers against one consistent view).
    pub fn previous_states(&self, keys: &[(String, NaiveDate)]) -> Result<Vec<Previous>, StoreError> {
        self.read_tx(|tx| {
            keys.iter()
                .map(|(watch, date)| previous_on(tx, watch, *date))
                .collect()
        })
    }

    /// Every known seat of a watch, by date, train, then seat class order.
    pub fn current_seats(&self, watch: &str) -> Result<Vec<(SeatKey, SeatState)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT date, train, seat, raw, count, price_jiao, available, alerted, since
             FROM seat_state WHERE watch = ?1",
        )?;
        let mut rows = stmt
            .query_map([watch], seat_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(rows)
    }

    /// When anything about a watch's seats last changed (from the current state, so it is
    /// cheap however long the history; unknown right after [`Store::forget_watch`]).
    pub fn last_change(&self, watch: &str) -> Result<Option<DateTime<FixedOffset>>, StoreError> {
        Ok(self.conn.query_row(
            "SELECT max(since) FROM seat_state WHERE watch = ?1",
            [watch],
            |r| opt_time_at(r, 0),
        )?)
    }

    /// The newest history rows of a watch, newest first.
    pub fn recent_changes(&self, watch: &str, limit: u32) -> Result<Vec<Change>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT date, train, seat, raw, count, price_jiao, available, at
             FROM seat_history WHERE watch = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = stmt
            .query_map((watch, limit), |row| change_at(row, 0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Number of history rows (all watches).
    pub fn history_rows(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM seat_history", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Why nothing matched each date of `watch` at its last poll, by date.
    pub fn match_notes(&self, watch: &str) -> Result<Vec<MatchNote>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT date, at, note FROM match_note WHERE watch = ?1 ORDER BY date")?;
        let rows = stmt
            .query_map([watch], |r| {
                Ok((date_at(r, 0)?, time_at(r, 1)?, r.get::<_, String>(2)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(date, at, text)| {
                let note = decode("match_note", &format!("{watch} {date}"), "note", &text)?;
                Ok(MatchNote { date, at, note })
            })
            .collect()
    }

    /// A watch was removed or changed: drop its current seat state, alert times and poll status,
    /// so a changed watch starts like a new one (and alerts on what is available now). History
    /// and the outbox stay.
    pub fn forget_watch(&mut self, watch: &str) -> Result<(), StoreError> {
        self.write_tx(|tx| {
            tx.execute("DELETE FROM seat_state WHERE watch = ?1", [watch])?;
            tx.execute("DELETE FROM train_alert WHERE watch = ?1", [watch])?;
            tx.execute("DELETE FROM match_note WHERE watch = ?1", [watch])?;
            tx.execute("DELETE FROM watch_status WHERE watch = ?1", [watch])?;
            Ok(())
        })
    }
}

/// One (watch, date)'s decision: state changes and their history rows, alert flags and times.
/// Nothing at all when nothing changed. The caller holds the transaction.
pub(super) fn write_decision(
    conn: &Connection,
    watch: &str,
    date: NaiveDate,
    now: DateTime<FixedOffset>,
    decision: &Decision,
) -> Result<(), StoreError> {
    if decision.is_empty() {
        return Ok(());
    }
    let d = date_text(date);
    let mut upsert = conn.prepare_cached(
        "INSERT INTO seat_state
             (watch, date, train, seat, raw, count, price_jiao, available, alerted, since)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (watch, date, train, seat) DO UPDATE SET
             raw = excluded.raw, count = excluded.count,
             price_jiao = excluded.price_jiao, available = excluded.available,
             alerted = excluded.alerted, since = excluded.since",
    )?;
    let mut history = conn.prepare_cached(
        "INSERT INTO seat_history
             (watch, date, train, seat, raw, count, price_jiao, available, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    let at = ms(now);
    let changed = decision.changes.iter().map(|c| (true, c));
    for (changed, (key, st)) in changed.chain(decision.touched.iter().map(|t| (false, t))) {
        debug_assert_eq!(key.date, date, "a decision covers one date");
        let since = ms(st.since);
        let seat = key.seat.name();
        // The columns the state and the history row share, in both statements' order.
        let observed = rusqlite::params![
            watch,
            d,
            key.train,
            seat,
            st.raw,
            st.count,
            st.price_jiao,
            st.available
        ];
        let state = rusqlite::params![st.alerted, since];
        upsert.execute(rusqlite::params_from_iter(observed.iter().chain(state)))?;
        if changed {
            history.execute(rusqlite::params_from_iter(
                observed.iter().chain(rusqlite::params![at]),
            ))?;
        }
    }
    let mut alert = conn.prepare_cached(
        "INSERT INTO train_alert (watch, date, train, last_alert_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (watch, date, train) DO UPDATE SET last_alert_at = excluded.last_alert_at",
    )?;
    for (train_date, train) in &decision.alerted_trains {
        alert.execute((watch, date_text(*train_date), train, ms(now)))?;
    }
    Ok(())
}

/// Keeps the no-match note of (watch, date) current. SQL compares: an unchanged note, or no
/// note where there is none, writes nothing (no page is dirtied).
pub(super) fn write_note(
    conn: &Connection,
    watch: &str,
    date: NaiveDate,
    now: DateTime<FixedOffset>,
    note: Option<&NoMatch>,
) -> Result<(), StoreError> {
    let d = date_text(date);
    match note {
        None => {
            conn.prepare_cached("DELETE FROM match_note WHERE watch = ?1 AND date = ?2")?
                .execute((watch, &d))?;
        }
        Some(n) => {
            conn.prepare_cached(
                "INSERT INTO match_note (watch, date, at, note) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (watch, date) DO UPDATE SET at = excluded.at, note = excluded.note
                 WHERE match_note.note != excluded.note",
            )?
            .execute((watch, &d, ms(now), json(n)))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::decide;
    use crate::filter::TrainMatch;
    use crate::seat::SeatClass;
    use crate::store::fixtures::{GAP, at, count, date, db, email, one_poll, open, poll, seat, train};
    use crate::store::status::JobKey;

    #[test]
    fn unchanged_polls_add_no_history_rows() {
        let (_dir, mut store) = open();
        let obs = vec![train(
            "G1",
            vec![seat(SeatClass::Second, "有"), seat(SeatClass::First, "无")],
        )];
        poll(&mut store, 0, &obs);
        assert_eq!(store.history_rows().unwrap(), 2);
        for i in 1..=100 {
            assert!(poll(&mut store, i, &obs).is_empty());
        }
        assert_eq!(store.history_rows().unwrap(), 2);
        assert_eq!(count(&store, "outbox"), 1, "one alert for the first poll only");
        let status = store.watch_status(&JobKey::watch("w")).unwrap().unwrap();
        assert_eq!(status.last_poll_at, Some(at(100)));
    }

    #[test]
    fn stored_state_reads_back_as_the_decision_left_it() {
        let (_dir, mut store) = open();
        let mut memory = Previous::default();
        let steps = [
            vec![train("G1", vec![seat(SeatClass::Second, "有")])],
            vec![train("G1", vec![seat(SeatClass::Second, "无")])],
            vec![train("G1", vec![seat(SeatClass::Second, "3")])], // deferred
            vec![],                                                // gone
            vec![train("G1", vec![seat(SeatClass::Second, "5")])],
        ];
        for (i, obs) in steps.iter().enumerate() {
            let now = at(i as i64 * 4);
            let d = poll(&mut store, i as i64 * 4, obs);
            memory.apply(&d, now);
            assert_eq!(store.previous("w", date()).unwrap(), memory, "step {i}");
        }
        assert_eq!(
            store.previous_states(&[("w".into(), date())]).unwrap(),
            [memory],
            "read together, the same"
        );
        assert_eq!(store.history_rows().unwrap(), 5);
        assert_eq!(store.last_change("w").unwrap(), Some(at(16)));
        let changes = store.recent_changes("w", 2).unwrap();
        assert_eq!(changes[0].raw, "5");
        assert_eq!(changes[1].raw, "");
    }

    #[test]
    fn forgetting_a_watch_drops_its_state_but_keeps_history() {
        let (_dir, mut store) = open();
        let obs = vec![train("G1", vec![seat(SeatClass::Second, "有")])];
        poll(&mut store, 0, &obs);
        store.forget_watch("w").unwrap();
        assert!(store.current_seats("w").unwrap().is_empty());
        assert!(store.watch_status(&JobKey::watch("w")).unwrap().is_none());
        assert_eq!(store.history_rows().unwrap(), 1);
        assert_eq!(
            poll(&mut store, 1, &obs).alert.len(),
            1,
            "starts like a new watch"
        );
    }

    #[test]
    fn a_no_match_note_that_does_not_decode_is_an_error_naming_the_row() {
        let (_dir, store) = open();
        store
            .conn
            .execute(
                "INSERT INTO match_note (watch, date, at, note) VALUES ('w', '2026-02-01', 0, 'not json')",
                [],
            )
            .unwrap();
        let e = store.match_notes("w").unwrap_err();
        assert!(
            matches!(&e, StoreError::BadRow { table: "match_note", key, .. } if key == "w 2026-02-01"),
            "{e:?}"
        );
        assert!(e.to_string().contains("cannot be read back"), "{e}");
    }

    #[test]
    fn bytes_per_history_change() {
        const POLLS: i64 = 1000;
        const TRAINS: usize = 10; // each poll changes one seat of each train
        let (dir, path) = db();
        let mut store = Store::open(&path).unwrap();
        let size = |store: &Store, name: &str| {
            let copy = dir.path().join(name);
            store.vacuum_into(&copy).unwrap();
            std::fs::metadata(&copy).unwrap().len()
        };
        let obs = |i: i64| -> Vec<TrainMatch> {
            (0..TRAINS)
                .map(|t| {
                    let n = ((i + t as i64) % 25).to_string();
                    train(
                        &format!("G{}", 100 + t * 37),
                        vec![seat(SeatClass::Second, &n), seat(SeatClass::First, "无")],
                    )
                })
                .collect()
        };
        let watch = "beijing-shanghai";
        let decide_and_record = |store: &mut Store, i: i64| {
            let prev = store.previous(watch, date()).unwrap();
            let d = decide(&prev, date(), &obs(i), at(i), GAP);
            let mail = (!d.alert.is_empty()).then(email);
            store.record_cycle(&one_poll(watch, i, &d, mail)).unwrap();
        };
        decide_and_record(&mut store, 0);
        let rows_before = store.history_rows().unwrap();
        let outbox_before = count(&store, "outbox");
        store.conn.execute("DELETE FROM outbox", []).unwrap();
        store.conn.execute("DELETE FROM outbox_serves", []).unwrap();
        let before = size(&store, "before.db");
        for i in 1..=POLLS {
            decide_and_record(&mut store, i);
        }
        store.conn.execute("DELETE FROM outbox", []).unwrap();
        store.conn.execute("DELETE FROM outbox_serves", []).unwrap();
        let changes = store.history_rows().unwrap() - rows_before;
        let after = size(&store, "after.db");
        assert_eq!(changes, POLLS as u64 * TRAINS as u64);
        let per_change = (after - before) as f64 / changes as f64;
        eprintln!(
            "history: {changes} changes grew the vacuumed file {before} -> {after} bytes: \
             {per_change:.1} bytes per change (watch name {} bytes; outbox excluded, \
             {outbox_before} alert rows)",
            watch.len()
        );
        assert!(per_change < 120.0, "{per_change}");
    }
}
