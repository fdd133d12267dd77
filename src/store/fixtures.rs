//! Test fixtures shared by the tests of every table's file.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, TimeDelta, TimeZone as _};

use super::cycle::{CycleEmail, CyclePoll, CycleRecord};
use super::outbox::{EmailKind, NewEmail};
use super::sqlite::Store;
use crate::clock::beijing;
use crate::decide::{Decision, decide};
use crate::filter::{SeatMatch, TrainMatch};
use crate::seat::SeatClass;

pub const GAP: Duration = Duration::from_secs(600);

pub(crate) use crate::decide::seats::tests::{date, train};

/// Minutes after 2026-01-20 08:00 Beijing time.
pub fn at(min: i64) -> DateTime<FixedOffset> {
    beijing().with_ymd_and_hms(2026, 1, 20, 8, 0, 0).unwrap() + TimeDelta::minutes(min)
}

pub fn db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("yupiao.db");
    (dir, path)
}

/// A fresh database, written by the test alone.
pub fn open() -> (tempfile::TempDir, Store) {
    let (dir, path) = db();
    let store = Store::open(&path).unwrap();
    (dir, store)
}

pub fn seat(class: SeatClass, raw: &str) -> SeatMatch {
    let count = raw.parse().ok().or((raw == "无").then_some(0));
    SeatMatch {
        seat: class,
        raw: raw.into(),
        count,
        price_jiao: Some(5530),
        available: raw == "有" || count.unwrap_or(0) > 0,
    }
}

pub fn email() -> NewEmail {
    NewEmail {
        kind: EmailKind::Alert,
        recipients: vec!["me@example.com".into()],
        subject: "余票: G1 二等座".into(),
        text: "G1 二等座 有".into(),
        html: "<p>G1 二等座 有</p>".into(),
        push: None,
    }
}

/// A cycle of one poll of (`watch`, [`date`]) at minute `min`, with `mail` serving it.
pub fn one_poll(watch: &str, min: i64, decision: &Decision, mail: Option<NewEmail>) -> CycleRecord {
    let mut r = CycleRecord::new(at(min));
    r.polls.push(CyclePoll {
        watch: watch.into(),
        date: date(),
        at: at(min),
        decision: decision.clone(),
        no_match: None,
    });
    r.emails.extend(mail.map(|email| CycleEmail {
        email,
        serves: vec![watch.into()],
    }));
    r
}

/// One poll as the daemon does it: previous → decide → record, with an email when due.
pub fn poll(store: &mut Store, min: i64, obs: &[TrainMatch]) -> Decision {
    let prev = store.previous("w", date()).unwrap();
    let d = decide(&prev, date(), obs, at(min), GAP);
    let mail = (!d.alert.is_empty()).then(email);
    store.record_cycle(&one_poll("w", min, &d, mail)).unwrap();
    d
}

pub fn count(store: &Store, table: &str) -> i64 {
    store
        .conn
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}
