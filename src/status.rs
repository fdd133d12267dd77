//! `yupiao status`: what the daemon is doing, read from the database (works while it runs).
//!
//! [`gather`] reads the store read-only into a [`StatusReport`]; [`render_text`] is pure, so the
//! wording is testable, and `--json` is the same struct serialized.

use std::path::Path;

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use crate::store::{Fact, Store, StoreError};
use crate::watchlist::{Schedule, WatchList};

/// Everything `status` shows.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub database: String,
    /// The pid of the running daemon, when one holds the lock.
    pub daemon_pid: Option<String>,
    pub daemon_running: bool,
    pub daemon_started_at: Option<String>,
    /// Why the last watch-list edit was rejected (the running list is the previous one).
    pub watchlist_error: Option<String>,
    pub query_endpoint: Option<String>,
    pub history_rows: u64,
    pub watches: Vec<WatchReport>,
    /// `[[waitlist]]` entries: the user's 候补 orders.
    pub waitlists: Vec<WaitlistReport>,
}

/// One `[[waitlist]]` in the report.
#[derive(Debug, Clone, Serialize)]
pub struct WaitlistReport {
    pub name: String,
    pub in_watchlist: bool,
    pub last_poll: Option<DateTime<FixedOffset>>,
    pub next_run: Option<DateTime<FixedOffset>>,
    pub outcome: Option<String>,
    pub last_error: Option<String>,
    /// The 12306 session is known to be expired (until the cookie changes).
    pub session_expired: bool,
    pub reserve_no: Option<String>,
    pub status_code: Option<String>,
    pub status_name: Option<String>,
    /// `loseTime`: deposit payment deadline (待支付 only).
    pub pay_before: Option<DateTime<FixedOffset>>,
    /// `realize_limit_time`: when the waitlist gives up (兑现截止), Beijing time.
    pub realize_limit: Option<String>,
    /// `G105 2020-03-25 商务座 候补人数中等`.
    pub needs: Vec<String>,
    pub emails_sent: u64,
    pub emails_pending: u64,
    pub emails_failed: u64,
}

/// One watch in the report.
#[derive(Debug, Clone, Serialize)]
pub struct WatchReport {
    pub name: String,
    /// `every 30s` / `cron 0 */2 * * * *`; empty for watches only in the database.
    pub schedule: String,
    pub in_watchlist: bool,
    pub next_run: Option<DateTime<FixedOffset>>,
    pub last_poll: Option<DateTime<FixedOffset>>,
    pub outcome: Option<String>,
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    pub backoff_level: u32,
    pub backoff_until: Option<DateTime<FixedOffset>>,
    pub finished: bool,
    pub last_change: Option<DateTime<FixedOffset>>,
    /// Seats available right now: `2026-12-01 G8294 二等座 3`.
    pub available: Vec<String>,
    pub alerts_sent: u64,
    pub alerts_pending: u64,
    pub alerts_failed: u64,
}

/// Reads the report from the database at `db` (read-only) and the current watch list.
pub fn gather(db: &Path, list: Option<&WatchList>) -> Result<StatusReport, StoreError> {
    let store = Store::open_read_only(db)?;
    let (running, pid) = Store::daemon_running(db);
    let fact = |f: Fact| store.get_fact(f).ok().flatten().map(|(v, _)| v);
    let mut names: Vec<String> = list
        .map(|l| l.watches.iter().map(|w| w.name.clone()).collect())
        .unwrap_or_default();
    for st in store.all_watch_status()? {
        if !names.contains(&st.watch) && !st.watch.starts_with(WAITLIST_PREFIX) {
            names.push(st.watch);
        }
    }
    let mut watches = Vec::new();
    for name in names {
        let w = list.and_then(|l| l.watches.iter().find(|w| w.name == name));
        let st = store.watch_status(&name)?;
        let counts = store.outbox_counts(&name)?;
        let available = store
            .current_seats(&name)?
            .into_iter()
            .filter(|(_, s)| s.available)
            .map(|(k, s)| format!("{} {} {} {}", k.date, k.train, k.seat.name(), s.raw))
            .collect();
        watches.push(WatchReport {
            schedule: w
                .map(|w| match &w.schedule {
                    Schedule::Every(d) => format!("every {}", humantime::format_duration(*d)),
                    Schedule::Cron(c) => format!("cron {c}"),
                })
                .unwrap_or_default(),
            in_watchlist: w.is_some(),
            next_run: st.as_ref().and_then(|s| s.next_run_at),
            last_poll: st.as_ref().and_then(|s| s.last_poll_at),
            outcome: st.as_ref().and_then(|s| s.outcome.as_ref().map(|o| o.to_text())),
            last_error: st.as_ref().and_then(|s| s.last_error.clone()),
            consecutive_failures: st.as_ref().map_or(0, |s| s.consecutive_failures),
            backoff_level: st.as_ref().map_or(0, |s| s.backoff_level),
            backoff_until: st.as_ref().and_then(|s| s.backoff_until),
            finished: st.as_ref().is_some_and(|s| s.finished),
            last_change: store.last_change(&name)?,
            available,
            alerts_sent: counts.sent,
            alerts_pending: counts.pending,
            alerts_failed: counts.failed,
            name,
        });
    }
    let waitlists = gather_waitlists(&store, list)?;
    Ok(StatusReport {
        database: db.display().to_string(),
        daemon_pid: pid
            .map(|p| p.to_string())
            .or_else(|| fact(Fact::DaemonPid))
            .filter(|_| running),
        daemon_running: running,
        daemon_started_at: fact(Fact::DaemonStartedAt),
        watchlist_error: fact(Fact::WatchlistError),
        query_endpoint: fact(Fact::QueryEndpoint),
        history_rows: store.history_rows()?,
        watches,
        waitlists,
    })
}

/// Status keys of `[[waitlist]]` entries start with this (see the daemon).
const WAITLIST_PREFIX: &str = "候补:";

fn gather_waitlists(store: &Store, list: Option<&WatchList>) -> Result<Vec<WaitlistReport>, StoreError> {
    let states = store.all_waitlist_states()?;
    let mut names: Vec<String> = list
        .map(|l| l.waitlists.iter().map(|w| w.name.clone()).collect())
        .unwrap_or_default();
    for (name, _, _) in &states {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    let mut out = Vec::new();
    for name in names {
        let st = store.watch_status(&format!("{WAITLIST_PREFIX}{name}"))?;
        let snap: Option<crate::waitlist::WaitlistSnapshot> = states
            .iter()
            .find(|(n, _, _)| *n == name)
            .and_then(|(_, json, _)| serde_json::from_str(json).ok());
        let order = snap.as_ref().and_then(|s| s.order.as_ref());
        let counts = store.outbox_counts(&format!("{WAITLIST_PREFIX}{name}"))?;
        out.push(WaitlistReport {
            in_watchlist: list.is_some_and(|l| l.waitlists.iter().any(|w| w.name == name)),
            last_poll: st.as_ref().and_then(|s| s.last_poll_at),
            next_run: st.as_ref().and_then(|s| s.next_run_at),
            outcome: st.as_ref().and_then(|s| s.outcome.as_ref().map(|o| o.to_text())),
            last_error: st.as_ref().and_then(|s| s.last_error.clone()),
            session_expired: snap.as_ref().is_some_and(|s| s.session_expired_for.is_some()),
            reserve_no: order.map(|o| o.reserve_no.clone()),
            status_code: order.map(|o| o.status_code.clone()),
            status_name: order.map(|o| o.status_name.clone()),
            pay_before: order
                .and_then(|o| o.lose_time)
                .filter(|_| order.is_some_and(|o| o.status_code == "01")),
            realize_limit: order
                .and_then(|o| o.realize_limit_time)
                .map(|t| t.format("%Y-%m-%d %H:%M").to_string()),
            needs: order
                .map(|o| {
                    o.needs
                        .iter()
                        .map(|n| {
                            let date = n.train_date.map(|d| d.to_string()).unwrap_or_default();
                            format!("{} {} {} {}", n.board_train_code, date, n.seat_name, n.queue_info)
                        })
                        .collect()
                })
                .unwrap_or_default(),
            emails_sent: counts.sent,
            emails_pending: counts.pending,
            emails_failed: counts.failed,
            name,
        });
    }
    Ok(out)
}

fn t(x: &Option<DateTime<FixedOffset>>) -> String {
    x.map_or_else(|| "—".to_string(), |t| t.format("%m-%d %H:%M:%S").to_string())
}

/// The human-readable report (pure).
pub fn render_text(r: &StatusReport, now: DateTime<FixedOffset>) -> String {
    let mut out = String::new();
    let daemon = match (&r.daemon_running, &r.daemon_pid) {
        (true, Some(pid)) => format!("running (pid {pid})"),
        (true, None) => "running".to_string(),
        (false, _) => "not running".to_string(),
    };
    out.push_str(&format!(
        "yupiao daemon: {daemon}; database {} ({} history rows)\n",
        r.database, r.history_rows
    ));
    if let Some(ep) = &r.query_endpoint {
        out.push_str(&format!("12306 query endpoint: {ep}\n"));
    }
    if let Some(err) = &r.watchlist_error {
        out.push_str("watch list edit REJECTED (the previous list keeps running):\n");
        for line in err.lines() {
            out.push_str(&format!("  {line}\n"));
        }
    }
    for w in &r.watches {
        let state = if w.finished {
            "finished (every date has passed)".to_string()
        } else if !w.in_watchlist {
            "removed from the watch list".to_string()
        } else {
            w.outcome.clone().unwrap_or_else(|| "not polled yet".into())
        };
        out.push_str(&format!(
            "\n{}  [{}]\n",
            w.name,
            if w.schedule.is_empty() { "—" } else { &w.schedule }
        ));
        out.push_str(&format!("  last poll {}  → {}\n", t(&w.last_poll), state));
        if !w.finished && w.in_watchlist {
            out.push_str(&format!("  next run  {}\n", t(&w.next_run)));
        }
        if let Some(until) = w.backoff_until.filter(|u| *u > now) {
            out.push_str(&format!(
                "  backing off (level {}) until {} after {}\n",
                w.backoff_level,
                until.format("%H:%M:%S"),
                crate::cli::count(w.consecutive_failures as usize, "failed poll", "failed polls")
            ));
        }
        if let Some(e) = &w.last_error {
            out.push_str(&format!("  last error: {e}\n"));
        }
        if w.available.is_empty() {
            out.push_str("  available now: none\n");
        } else {
            out.push_str(&format!("  available now: {}\n", w.available.join("; ")));
        }
        out.push_str(&format!(
            "  last change {}   alerts: {} sent, {} pending, {} failed\n",
            t(&w.last_change),
            w.alerts_sent,
            w.alerts_pending,
            w.alerts_failed
        ));
    }
    for w in &r.waitlists {
        out.push_str(&format!("\n候补 {}\n", w.name));
        let state = if !w.in_watchlist {
            "removed from the watch list".to_string()
        } else {
            w.outcome.clone().unwrap_or_else(|| "not polled yet".into())
        };
        out.push_str(&format!("  last poll {}  → {}\n", t(&w.last_poll), state));
        if w.in_watchlist {
            out.push_str(&format!("  next run  {}\n", t(&w.next_run)));
        }
        if w.session_expired {
            out.push_str(
                "  12306 session EXPIRED: copy a fresh Cookie into [rail] cookie (or cookie_file)\n",
            );
        }
        match (&w.reserve_no, &w.status_name) {
            (Some(no), Some(status)) => {
                out.push_str(&format!(
                    "  order {no}: {status} ({})\n",
                    w.status_code.as_deref().unwrap_or("")
                ));
                if let Some(pay) = w.pay_before {
                    let when = pay.format("%m-%d %H:%M:%S");
                    if pay > now {
                        out.push_str(&format!("  pay the deposit before {when}\n"));
                    } else {
                        out.push_str(&format!("  payment deadline {when} has passed\n"));
                    }
                }
                if let Some(limit) = &w.realize_limit {
                    out.push_str(&format!("  兑现截止 {limit}\n"));
                }
                for n in &w.needs {
                    out.push_str(&format!("  {n}\n"));
                }
            }
            _ => out.push_str("  no 候补 order seen\n"),
        }
        out.push_str(&format!(
            "  emails: {} sent, {} pending, {} failed\n",
            w.emails_sent, w.emails_pending, w.emails_failed
        ));
    }
    if r.watches.is_empty() && r.waitlists.is_empty() {
        out.push_str("\nno watches yet\n");
    }
    out
}
