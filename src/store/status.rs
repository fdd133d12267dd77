//! How the last poll of each watch and `[[waitlist]]` went (`watch_status`), and a few
//! daemon-wide facts (`fact`): what `yupiao status` shows.

use chrono::{DateTime, FixedOffset};
use rusqlite::{Connection, OptionalExtension, Row};

use super::error::StoreError;
use super::sql::{ms, opt_time_at, time_at};
use super::sqlite::Store;

/// What the daemon schedules, polls and keeps a status for: a `[[watch]]` or a `[[waitlist]]`,
/// by name (the two may share a name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobKey {
    Watch(String),
    Waitlist(String),
}

/// How a `[[waitlist]]` key is written in the database (status rows, the outbox's filing key),
/// so that a watch and a waitlist of the same name never share a row.
const WAITLIST_PREFIX: &str = "候补:";

impl JobKey {
    pub fn watch(name: impl Into<String>) -> JobKey {
        JobKey::Watch(name.into())
    }

    pub fn waitlist(name: impl Into<String>) -> JobKey {
        JobKey::Waitlist(name.into())
    }

    /// The name in the watch list.
    pub fn name(&self) -> &str {
        match self {
            JobKey::Watch(n) | JobKey::Waitlist(n) => n,
        }
    }

    /// Reads a key as written by [`JobKey`]'s `Display`.
    pub fn parse(stored: &str) -> JobKey {
        match stored.strip_prefix(WAITLIST_PREFIX) {
            Some(name) => JobKey::Waitlist(name.to_string()),
            None => JobKey::Watch(stored.to_string()),
        }
    }
}

/// The stored form: the watch's name, or `候补:` and the waitlist's name.
impl std::fmt::Display for JobKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobKey::Watch(n) => f.write_str(n),
            JobKey::Waitlist(n) => write!(f, "{WAITLIST_PREFIX}{n}"),
        }
    }
}

/// How the last poll of a watch ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollOutcome {
    Ok,
    /// 12306 refused or rate-limited us; the text says how.
    Throttled(String),
    Error(String),
    /// Skipped or slowed for 12306's nightly maintenance window.
    Night,
}

impl PollOutcome {
    /// Stored text: `ok`, `throttled: …`, `error: …`, `night`.
    pub fn to_text(&self) -> String {
        match self {
            PollOutcome::Ok => "ok".into(),
            PollOutcome::Throttled(m) => format!("throttled: {m}"),
            PollOutcome::Error(m) => format!("error: {m}"),
            PollOutcome::Night => "night".into(),
        }
    }

    /// Inverse of [`PollOutcome::to_text`]; unknown text reads as an error outcome.
    pub fn from_text(s: &str) -> PollOutcome {
        match s {
            "ok" => PollOutcome::Ok,
            "night" => PollOutcome::Night,
            _ => {
                if let Some(m) = s.strip_prefix("throttled: ") {
                    PollOutcome::Throttled(m.into())
                } else {
                    PollOutcome::Error(s.strip_prefix("error: ").unwrap_or(s).into())
                }
            }
        }
    }

    /// The failure text, for a failed poll.
    fn error(&self) -> Option<&str> {
        match self {
            PollOutcome::Throttled(m) | PollOutcome::Error(m) => Some(m),
            PollOutcome::Ok | PollOutcome::Night => None,
        }
    }
}

/// What `yupiao status` shows per watch or waitlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchStatus {
    pub key: JobKey,
    pub last_poll_at: Option<DateTime<FixedOffset>>,
    pub outcome: Option<PollOutcome>,
    /// The last error text, kept after later successes so the user can see what happened.
    pub last_error: Option<String>,
    pub next_run_at: Option<DateTime<FixedOffset>>,
    /// 0 = not backing off.
    pub backoff_level: u32,
    pub backoff_until: Option<DateTime<FixedOffset>>,
    pub consecutive_failures: u32,
    /// All the watch's dates are past (or it was satisfied): no more polls.
    pub finished: bool,
}

impl WatchStatus {
    /// A watch that has not been polled yet.
    pub fn new(key: JobKey) -> WatchStatus {
        WatchStatus {
            key,
            last_poll_at: None,
            outcome: None,
            last_error: None,
            next_run_at: None,
            backoff_level: 0,
            backoff_until: None,
            consecutive_failures: 0,
            finished: false,
        }
    }
}

/// How one poll of a key went, to be folded into its status: the outcome replaces the last one,
/// a failure counts one more consecutive failure and becomes the last error, success resets the
/// count (the last error stays visible), the night window changes neither.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollStatus {
    pub key: JobKey,
    pub at: DateTime<FixedOffset>,
    pub outcome: PollOutcome,
    pub next_run_at: Option<DateTime<FixedOffset>>,
    pub backoff_level: u32,
    pub backoff_until: Option<DateTime<FixedOffset>>,
}

/// Daemon-wide facts that `status` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact {
    /// Why the last edit of the watch list was rejected (cleared when an edit is accepted).
    WatchlistError,
    /// The leftTicket endpoint 12306 currently redirects queries to.
    QueryEndpoint,
    DaemonPid,
    /// RFC 3339.
    DaemonStartedAt,
    /// The secret path component of the Juhe push URLs (stable across restarts).
    CallbackToken,
    /// The watch list the daemon runs (JSON of `crate::status::RunningList`): written at start
    /// and after every applied reload, so `status` shows what runs, not what the file says.
    RunningList,
    /// RFC 3339: when the daemon last stopped cleanly.
    DaemonStoppedAt,
}

impl Fact {
    pub fn key(self) -> &'static str {
        match self {
            Fact::WatchlistError => "watchlist_error",
            Fact::QueryEndpoint => "query_endpoint",
            Fact::DaemonPid => "daemon_pid",
            Fact::DaemonStartedAt => "daemon_started_at",
            Fact::CallbackToken => "callback_token",
            Fact::RunningList => "running_list",
            Fact::DaemonStoppedAt => "daemon_stopped_at",
        }
    }
}

const WATCH_STATUS_SELECT: &str = "SELECT watch, last_poll_at, outcome, last_error, next_run_at,
     backoff_level, backoff_until, consecutive_failures, finished FROM watch_status";

fn watch_status_row(row: &Row<'_>) -> rusqlite::Result<WatchStatus> {
    Ok(WatchStatus {
        key: JobKey::parse(&row.get::<_, String>(0)?),
        last_poll_at: opt_time_at(row, 1)?,
        outcome: row
            .get::<_, Option<String>>(2)?
            .map(|s| PollOutcome::from_text(&s)),
        last_error: row.get(3)?,
        next_run_at: opt_time_at(row, 4)?,
        backoff_level: row.get(5)?,
        backoff_until: opt_time_at(row, 6)?,
        consecutive_failures: row.get(7)?,
        finished: row.get(8)?,
    })
}

impl Store {
    /// Replaces the poll status of `status.key`.
    pub fn set_watch_status(&mut self, status: &WatchStatus) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO watch_status (watch, last_poll_at, outcome, last_error, next_run_at,
                     backoff_level, backoff_until, consecutive_failures, finished)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (watch) DO UPDATE SET
                     last_poll_at = excluded.last_poll_at, outcome = excluded.outcome,
                     last_error = excluded.last_error, next_run_at = excluded.next_run_at,
                     backoff_level = excluded.backoff_level,
                     backoff_until = excluded.backoff_until,
                     consecutive_failures = excluded.consecutive_failures,
                     finished = excluded.finished",
            )?
            .execute(rusqlite::params![
                status.key.to_string(),
                status.last_poll_at.map(ms),
                status.outcome.as_ref().map(PollOutcome::to_text),
                status.last_error,
                status.next_run_at.map(ms),
                status.backoff_level,
                status.backoff_until.map(ms),
                status.consecutive_failures,
                status.finished,
            ])?;
        Ok(())
    }

    /// Folds one poll into the status of `poll.key` (see [`PollStatus`]).
    pub fn record_poll_status(&mut self, poll: &PollStatus) -> Result<(), StoreError> {
        write_poll_status(&self.conn, poll)
    }

    /// Sets only when `key` runs next (a quiet 候补 entry that skips its ticks says when it will
    /// really look again).
    pub fn set_next_run(
        &mut self,
        key: &JobKey,
        next: Option<DateTime<FixedOffset>>,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO watch_status (watch, next_run_at) VALUES (?1, ?2)
                 ON CONFLICT (watch) DO UPDATE SET next_run_at = excluded.next_run_at",
            )?
            .execute((key.to_string(), next.map(ms)))?;
        Ok(())
    }

    /// The poll status of one watch or waitlist (None before its first poll).
    pub fn watch_status(&self, key: &JobKey) -> Result<Option<WatchStatus>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(&format!("{WATCH_STATUS_SELECT} WHERE watch = ?1"))?
            .query_row([key.to_string()], watch_status_row)
            .optional()?)
    }

    /// Every poll status, by stored key.
    pub fn all_watch_status(&self) -> Result<Vec<WatchStatus>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("{WATCH_STATUS_SELECT} ORDER BY watch"))?;
        let rows = stmt
            .query_map([], watch_status_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn set_fact(
        &mut self,
        fact: Fact,
        value: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<(), StoreError> {
        write_fact(&self.conn, fact, value, now)
    }

    pub fn clear_fact(&mut self, fact: Fact) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM fact WHERE key = ?1", [fact.key()])?;
        Ok(())
    }

    /// The value and when it was set.
    pub fn get_fact(&self, fact: Fact) -> Result<Option<(String, DateTime<FixedOffset>)>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT value, updated_at FROM fact WHERE key = ?1")?
            .query_row([fact.key()], |r| Ok((r.get(0)?, time_at(r, 1)?)))
            .optional()?)
    }

    /// The stored fact, or `value` stored now: one transaction, so two callers agree.
    pub fn fact_or_set(
        &mut self,
        fact: Fact,
        value: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<String, StoreError> {
        self.write_tx(|tx| {
            let stored: Option<String> = tx
                .prepare_cached("SELECT value FROM fact WHERE key = ?1")?
                .query_row([fact.key()], |r| r.get(0))
                .optional()?;
            match stored {
                Some(v) => Ok(v),
                None => {
                    write_fact(tx, fact, value, now)?;
                    Ok(value.to_string())
                }
            }
        })
    }
}

pub(super) fn write_fact(
    conn: &Connection,
    fact: Fact,
    value: &str,
    now: DateTime<FixedOffset>,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO fact (key, value, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )?
    .execute((fact.key(), value, ms(now)))?;
    Ok(())
}

/// Folds one poll into its key's status row, in SQL (no read first).
pub(super) fn write_poll_status(conn: &Connection, p: &PollStatus) -> Result<(), StoreError> {
    // 0: success resets the failure count; 1: the night window keeps it; 2: one more failure.
    let effect: i64 = match p.outcome {
        PollOutcome::Ok => 0,
        PollOutcome::Night => 1,
        PollOutcome::Throttled(_) | PollOutcome::Error(_) => 2,
    };
    conn.prepare_cached(
        "INSERT INTO watch_status (watch, last_poll_at, outcome, last_error, next_run_at,
             backoff_level, backoff_until, consecutive_failures, finished)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 / 2, 0)
         ON CONFLICT (watch) DO UPDATE SET
             last_poll_at = excluded.last_poll_at, outcome = excluded.outcome,
             last_error = coalesce(excluded.last_error, watch_status.last_error),
             next_run_at = excluded.next_run_at, backoff_level = excluded.backoff_level,
             backoff_until = excluded.backoff_until,
             consecutive_failures = CASE ?8 WHEN 0 THEN 0 WHEN 1 THEN watch_status.consecutive_failures
                                    ELSE watch_status.consecutive_failures + 1 END,
             finished = 0",
    )?
    .execute(rusqlite::params![
        p.key.to_string(),
        ms(p.at),
        p.outcome.to_text(),
        p.outcome.error(),
        p.next_run_at.map(ms),
        p.backoff_level,
        p.backoff_until.map(ms),
        effect,
    ])?;
    Ok(())
}

/// Marks a watch finished (every date has passed); true when it was not finished before.
pub(super) fn write_finished(
    conn: &Connection,
    key: &JobKey,
    now: DateTime<FixedOffset>,
) -> Result<bool, StoreError> {
    let stored = key.to_string();
    conn.prepare_cached("INSERT INTO watch_status (watch) VALUES (?1) ON CONFLICT (watch) DO NOTHING")?
        .execute([&stored])?;
    let n = conn
        .prepare_cached(
            "UPDATE watch_status SET finished = 1, next_run_at = NULL,
                 last_poll_at = coalesce(last_poll_at, ?2)
             WHERE watch = ?1 AND finished = 0",
        )?
        .execute((&stored, ms(now)))?;
    Ok(n == 1)
}

/// When (watch, date) was polled: its status's last poll time. The caller holds the transaction.
pub(super) fn write_polled(
    conn: &Connection,
    watch: &str,
    at: DateTime<FixedOffset>,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO watch_status (watch, last_poll_at) VALUES (?1, ?2)
         ON CONFLICT (watch) DO UPDATE SET last_poll_at = excluded.last_poll_at",
    )?
    .execute((watch, ms(at)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fixtures::{at, open};

    #[test]
    fn watch_status_and_facts_round_trip() {
        let (_dir, mut store) = open();
        let status = WatchStatus {
            outcome: Some(PollOutcome::Throttled("网络繁忙".into())),
            last_poll_at: Some(at(0)),
            last_error: Some("网络繁忙".into()),
            next_run_at: Some(at(2)),
            backoff_level: 2,
            backoff_until: Some(at(2)),
            consecutive_failures: 3,
            ..WatchStatus::new(JobKey::watch("w"))
        };
        store.set_watch_status(&status).unwrap();
        store
            .set_watch_status(&WatchStatus {
                outcome: Some(PollOutcome::Night),
                finished: true,
                ..WatchStatus::new(JobKey::watch("a"))
            })
            .unwrap();
        assert_eq!(store.watch_status(&JobKey::watch("w")).unwrap(), Some(status));
        let all: Vec<JobKey> = store
            .all_watch_status()
            .unwrap()
            .into_iter()
            .map(|s| s.key)
            .collect();
        assert_eq!(all, [JobKey::watch("a"), JobKey::watch("w")]);
        for o in [
            PollOutcome::Ok,
            PollOutcome::Night,
            PollOutcome::Error("timeout".into()),
            PollOutcome::Throttled("302".into()),
        ] {
            assert_eq!(PollOutcome::from_text(&o.to_text()), o);
        }

        assert_eq!(store.get_fact(Fact::WatchlistError).unwrap(), None);
        store
            .set_fact(Fact::WatchlistError, "watchlist.toml:3:7: unknown station", at(0))
            .unwrap();
        store.set_fact(Fact::DaemonPid, "42", at(1)).unwrap();
        assert_eq!(
            store.get_fact(Fact::WatchlistError).unwrap(),
            Some(("watchlist.toml:3:7: unknown station".into(), at(0)))
        );
        store.clear_fact(Fact::WatchlistError).unwrap();
        assert_eq!(store.get_fact(Fact::WatchlistError).unwrap(), None);
        assert_eq!(store.get_fact(Fact::DaemonPid).unwrap().unwrap().0, "42");
        assert_eq!(
            store.fact_or_set(Fact::CallbackToken, "first", at(2)).unwrap(),
            "first"
        );
        assert_eq!(
            store.fact_or_set(Fact::CallbackToken, "second", at(3)).unwrap(),
            "first"
        );
    }

    #[test]
    fn a_waitlist_key_and_a_watch_of_the_same_name_are_kept_apart() {
        let w = JobKey::watch("我的");
        let l = JobKey::waitlist("我的");
        assert_eq!(
            (w.to_string(), l.to_string()),
            ("我的".into(), "候补:我的".into())
        );
        assert_eq!(JobKey::parse(&l.to_string()), l);
        assert_eq!(JobKey::parse(&w.to_string()), w);
        assert_ne!(w, l);
    }
}
