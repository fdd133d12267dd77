//! A whole poll cycle, written in ONE transaction across the seat, outbox and status tables.
//!
//! The daemon decides and renders before it calls this (pure work outside the transaction); what
//! is left is writes. After a crash a cycle is either fully recorded and its emails queued, or
//! not at all. An unchanged cycle writes only its poll times and statuses: one commit for all
//! its watches, on pages shared by many rows.

use chrono::{DateTime, FixedOffset, NaiveDate};

use super::error::StoreError;
use super::outbox::NewEmail;
use super::outbox::{insert_email, link_serves};
use super::seats::{write_decision, write_note};
use super::sqlite::Store;
use super::status::{Fact, write_fact, write_finished, write_poll_status, write_polled};
use super::status::{JobKey, PollStatus};
use crate::decide::Decision;
use crate::filter::NoMatch;

/// One answered (watch, date) of a cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct CyclePoll {
    pub watch: String,
    pub date: NaiveDate,
    /// When its answer arrived.
    pub at: DateTime<FixedOffset>,
    pub decision: Decision,
    /// Why nothing matched; `None` when something did.
    pub no_match: Option<NoMatch>,
}

/// An email of a cycle and every watch it serves (the first is the one it is filed under).
#[derive(Debug, Clone, PartialEq)]
pub struct CycleEmail {
    pub email: NewEmail,
    pub serves: Vec<String>,
}

/// Everything one poll cycle writes.
#[derive(Debug, Clone, PartialEq)]
pub struct CycleRecord {
    /// When the cycle is recorded (finished marks, the endpoint fact; emails are queued at the
    /// time of the last answer).
    pub at: DateTime<FixedOffset>,
    pub polls: Vec<CyclePoll>,
    pub emails: Vec<CycleEmail>,
    /// How each polled watch's poll went.
    pub statuses: Vec<PollStatus>,
    /// Watches whose every date has passed.
    pub finished: Vec<String>,
    /// The leftTicket endpoint, when it is not the one recorded before.
    pub endpoint: Option<String>,
}

/// What a written cycle changed beyond what it was given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CycleWritten {
    /// Of [`CycleRecord::finished`], the watches that were not finished before.
    pub newly_finished: Vec<String>,
}

impl CycleRecord {
    /// A record with nothing in it yet.
    pub fn new(at: DateTime<FixedOffset>) -> CycleRecord {
        CycleRecord {
            at,
            polls: Vec::new(),
            emails: Vec::new(),
            statuses: Vec::new(),
            finished: Vec::new(),
            endpoint: None,
        }
    }
}

impl Store {
    /// Writes a whole poll cycle in ONE transaction (see the module docs). An alert no email
    /// serves is refused before anything is written.
    pub fn record_cycle(&mut self, r: &CycleRecord) -> Result<CycleWritten, StoreError> {
        for p in &r.polls {
            let served = r.emails.iter().any(|e| e.serves.contains(&p.watch));
            if !p.decision.alert.is_empty() && !served {
                return Err(StoreError::AlertWithoutEmail);
            }
        }
        let emails_at = r.polls.iter().map(|p| p.at).max().unwrap_or(r.at);
        self.write_tx(|tx| {
            for p in &r.polls {
                write_decision(tx, &p.watch, p.date, p.at, &p.decision)?;
                write_polled(tx, &p.watch, p.at)?;
                write_note(tx, &p.watch, p.date, p.at, p.no_match.as_ref())?;
            }
            for e in &r.emails {
                let Some(first) = e.serves.first() else {
                    continue;
                };
                if let Some(id) = insert_email(tx, first, emails_at, &e.email)? {
                    link_serves(tx, id, &e.serves)?;
                }
            }
            for s in &r.statuses {
                write_poll_status(tx, s)?;
            }
            let mut written = CycleWritten::default();
            for name in &r.finished {
                if write_finished(tx, &JobKey::watch(name), r.at)? {
                    written.newly_finished.push(name.clone());
                }
            }
            if let Some(ep) = &r.endpoint {
                write_fact(tx, Fact::QueryEndpoint, ep, r.at)?;
            }
            Ok(written)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::{Previous, decide};
    use crate::seat::SeatClass;
    use crate::store::fixtures::{GAP, at, count, date, db, email, one_poll, open, poll, seat, train};
    use crate::store::outbox::Delivery;
    use crate::store::status::PollOutcome;

    #[test]
    fn record_poll_is_atomic() {
        let (_dir, mut store) = open();
        let obs = vec![train("G1", vec![seat(SeatClass::Second, "有")])];
        let d = decide(&Previous::default(), date(), &obs, at(0), GAP);
        let bad = NewEmail {
            recipients: vec![], // violates the outbox CHECK, after the state rows were written
            ..email()
        };
        let e = store.record_cycle(&one_poll("w", 0, &d, Some(bad))).unwrap_err();
        assert!(matches!(e, StoreError::Sqlite(_)), "{e:?}");
        for table in [
            "seat_state",
            "seat_history",
            "train_alert",
            "outbox",
            "watch_status",
        ] {
            assert_eq!(count(&store, table), 0, "{table}");
        }
        // The alert is decided again on the next poll, not lost.
        assert_eq!(poll(&mut store, 1, &obs).alert.len(), 1);
        assert_eq!(count(&store, "outbox"), 1);
    }

    #[test]
    fn an_alert_without_its_email_is_refused() {
        let (_dir, mut store) = open();
        let obs = vec![train("G1", vec![seat(SeatClass::Second, "有")])];
        let d = decide(&Previous::default(), date(), &obs, at(0), GAP);
        let e = store.record_cycle(&one_poll("w", 0, &d, None)).unwrap_err();
        assert!(matches!(e, StoreError::AlertWithoutEmail));
        assert_eq!(count(&store, "seat_state"), 0);
    }

    #[test]
    fn a_restart_neither_repeats_a_sent_alert_nor_loses_a_deferred_one() {
        let (_dir, path) = db();
        let has = |raw| vec![train("G1", vec![seat(SeatClass::Second, raw)])];
        let mut store = Store::open(&path).unwrap();
        assert_eq!(poll(&mut store, 0, &has("有")).alert.len(), 1);
        drop(store);
        let mut store = Store::open(&path).unwrap();
        assert!(poll(&mut store, 1, &has("有")).alert.is_empty());
        poll(&mut store, 2, &has("无"));
        assert!(poll(&mut store, 3, &has("2")).alert.is_empty(), "inside the gap");
        drop(store);
        let mut store = Store::open(&path).unwrap();
        assert_eq!(
            poll(&mut store, 11, &has("2")).alert.len(),
            1,
            "deferred alert fires"
        );
        assert_eq!(count(&store, "outbox"), 2);
    }

    #[test]
    fn a_cycle_records_every_watch_and_files_one_email_under_all_it_serves() {
        let (_dir, mut store) = open();
        let has = vec![train("G1", vec![seat(SeatClass::Second, "有")])];
        let none = Previous::default();
        let (a, b) = (
            decide(&none, date(), &has, at(0), GAP),
            decide(&none, date(), &has, at(0), GAP),
        );
        let mut record = one_poll("提醒", 0, &a, None);
        record.polls.extend(one_poll("抢票", 0, &b, None).polls);
        // An alert no email serves is refused, and nothing is written.
        record.emails = vec![CycleEmail {
            email: email(),
            serves: vec!["提醒".into()],
        }];
        assert!(matches!(
            store.record_cycle(&record),
            Err(StoreError::AlertWithoutEmail)
        ));
        assert_eq!(count(&store, "seat_history"), 0);
        record.emails = vec![CycleEmail {
            email: email(),
            serves: vec!["提醒".into(), "抢票".into()],
        }];
        store.record_cycle(&record).unwrap();
        assert_eq!(count(&store, "outbox"), 1);
        for w in ["提醒", "抢票"] {
            assert_eq!(store.outbox_counts(&JobKey::watch(w)).unwrap().pending, 1, "{w}");
            assert!(
                store
                    .previous(w, date())
                    .unwrap()
                    .last_alert
                    .contains_key(&(date(), "G1".into()))
            );
        }
        assert_eq!(store.email(1).unwrap().unwrap().watch, "提醒");
        // Why it has not gone out yet shows for every watch it serves.
        let retry = Delivery::Retry {
            error: "smtp down".into(),
            next: at(1),
        };
        store.record_delivery(1, &retry).unwrap();
        for w in ["提醒", "抢票"] {
            assert_eq!(
                store.pending_email_error(&JobKey::watch(w)).unwrap().as_deref(),
                Some("smtp down"),
                "{w}"
            );
        }
        assert_eq!(store.pending_email_error(&JobKey::watch("别的")).unwrap(), None);
    }

    #[test]
    fn a_no_match_note_is_written_when_it_changes_and_dropped_when_trains_match() {
        let (_dir, mut store) = open();
        let quiet = Decision::default();
        let why = |returned: usize| NoMatch {
            returned,
            dropped: Vec::new(),
        };
        let note = |n: Option<NoMatch>, min| {
            let mut r = one_poll("w", min, &quiet, None);
            r.polls[0].no_match = n;
            r
        };
        store.record_cycle(&note(Some(why(1)), 0)).unwrap();
        store.record_cycle(&note(Some(why(1)), 1)).unwrap();
        let notes = store.match_notes("w").unwrap();
        assert_eq!(
            notes
                .iter()
                .map(|n| (n.date, n.at, n.note.clone()))
                .collect::<Vec<_>>(),
            vec![(date(), at(0), why(1))],
            "unchanged: not rewritten"
        );
        store.record_cycle(&note(Some(why(2)), 2)).unwrap();
        assert_eq!(store.match_notes("w").unwrap()[0].at, at(2));
        store.record_cycle(&note(None, 3)).unwrap();
        assert!(store.match_notes("w").unwrap().is_empty());
        assert_eq!(
            store
                .watch_status(&JobKey::watch("w"))
                .unwrap()
                .unwrap()
                .last_poll_at,
            Some(at(3))
        );
    }

    #[test]
    fn a_cycle_folds_each_poll_into_its_status_and_marks_finished_watches_once() {
        let (_dir, mut store) = open();
        let status = |outcome: PollOutcome, min| PollStatus {
            key: JobKey::watch("w"),
            at: at(min),
            outcome,
            next_run_at: Some(at(min + 1)),
            backoff_level: 0,
            backoff_until: None,
        };
        let mut r = CycleRecord::new(at(0));
        r.statuses = vec![status(PollOutcome::Error("timeout".into()), 0)];
        store.record_cycle(&r).unwrap();
        r.statuses = vec![status(PollOutcome::Throttled("302".into()), 1)];
        store.record_cycle(&r).unwrap();
        let st = store.watch_status(&JobKey::watch("w")).unwrap().unwrap();
        assert_eq!(
            (st.consecutive_failures, st.last_error.as_deref()),
            (2, Some("302"))
        );
        r.statuses = vec![status(PollOutcome::Night, 2)];
        store.record_cycle(&r).unwrap();
        assert_eq!(
            store
                .watch_status(&JobKey::watch("w"))
                .unwrap()
                .unwrap()
                .consecutive_failures,
            2
        );
        r.statuses = vec![status(PollOutcome::Ok, 3)];
        store.record_cycle(&r).unwrap();
        let st = store.watch_status(&JobKey::watch("w")).unwrap().unwrap();
        assert_eq!(
            (st.consecutive_failures, st.last_error.as_deref(), st.next_run_at),
            (0, Some("302"), Some(at(4))),
            "success resets the count; the last error stays visible"
        );
        let mut done = CycleRecord::new(at(5));
        done.finished = vec!["w".into()];
        assert_eq!(store.record_cycle(&done).unwrap().newly_finished, ["w"]);
        assert!(store.record_cycle(&done).unwrap().newly_finished.is_empty());
        let st = store.watch_status(&JobKey::watch("w")).unwrap().unwrap();
        assert!(st.finished && st.next_run_at.is_none());
    }

    /// Commits and bytes of the WAL file (`-wal`) written since it was last truncated.
    fn wal_commits_and_bytes(db: &std::path::Path) -> (usize, u64) {
        let mut name = db.as_os_str().to_owned();
        name.push("-wal");
        let wal = std::fs::read(std::path::PathBuf::from(name)).unwrap();
        let page = u32::from_be_bytes(wal[8..12].try_into().unwrap()) as usize;
        let commits = wal[32..]
            .chunks(24 + page)
            .filter(|f| f.len() >= 8 && f[4..8] != [0, 0, 0, 0])
            .count();
        (commits, wal.len() as u64)
    }

    #[test]
    fn an_unchanged_cycle_of_a_thousand_watches_is_one_commit_of_under_a_kilobyte_per_poll() {
        const WATCHES: i64 = 1000;
        let (_dir, path) = db();
        let mut store = Store::open(&path).unwrap();
        let names: Vec<String> = (0..WATCHES)
            .map(|i| format!("bench {i:04} 北京南→上海虹桥 2026-02-01 v{}", i / 100))
            .collect();
        let obs = vec![train(
            "G1",
            vec![seat(SeatClass::Second, "无"), seat(SeatClass::First, "无")],
        )];
        let cycle = |store: &Store, min: i64| {
            let mut r = CycleRecord::new(at(min));
            for name in &names {
                let prev = store.previous(name, date()).unwrap();
                let d = decide(&prev, date(), &obs, at(min), GAP);
                r.polls.extend(one_poll(name, min, &d, None).polls);
                r.statuses.push(PollStatus {
                    key: JobKey::watch(name),
                    at: at(min),
                    outcome: PollOutcome::Ok,
                    next_run_at: Some(at(min + 1)),
                    backoff_level: 0,
                    backoff_until: None,
                });
            }
            r
        };
        let first = cycle(&store, 0);
        store.record_cycle(&first).unwrap();
        store
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        let unchanged = cycle(&store, 1);
        assert!(unchanged.polls.iter().all(|p| p.decision.is_empty()));
        store.record_cycle(&unchanged).unwrap();
        let (commits, bytes) = wal_commits_and_bytes(&path);
        let per_poll = bytes as f64 / WATCHES as f64;
        eprintln!(
            "an unchanged cycle of {WATCHES} watches: {commits} commit, {bytes} WAL bytes = {per_poll:.0} per poll"
        );
        assert_eq!(commits, 1, "one commit for the whole cycle");
        assert!(per_poll <= 1024.0, "{per_poll} WAL bytes per unchanged poll");
    }
}
