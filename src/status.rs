//! `yupiao status`: what the daemon is doing, read from the database (works while it runs).
//!
//! It shows the watch list the daemon **runs**, not the file on disk: the daemon records that
//! list ([`RunningList`]: path, content hash, when it was applied, and per watch what status
//! shows) at start and after every applied reload, and the last rejected edit beside it. So a
//! bad edit never makes the running watches look removed. Times that would be stale (a next run
//! in the past, a daemon that stopped) are replaced by why ([`NextRun`]).
//!
//! [`gather`] reads the store read-only into a [`StatusReport`]; [`render_text`] is pure, so the
//! wording is testable, and `--json` is the same struct serialized.

use std::path::Path;

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::store::{Fact, OutboxState, Store, StoreError};
use crate::watchlist::{Schedule, WatchList};

/// The watch list a daemon runs, as it records it in the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningList {
    /// The file it was read from.
    pub path: String,
    /// FNV-1a 64 of the file's content, to tell which version runs.
    pub hash: String,
    pub applied_at: DateTime<FixedOffset>,
    pub watches: Vec<RunningWatch>,
    pub waitlists: Vec<RunningWaitlist>,
}

/// What `status` shows of a running watch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningWatch {
    pub name: String,
    pub from: String,
    pub to: String,
    pub dates: Vec<NaiveDate>,
    /// `alert` or `grab`.
    pub action: String,
    /// `every 30s` / `cron 0 */2 * * * *`.
    pub schedule: String,
}

/// What `status` shows of a running `[[waitlist]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningWaitlist {
    pub name: String,
    pub reserve_no: Option<String>,
    pub schedule: String,
}

fn schedule_text(s: &Schedule) -> String {
    match s {
        Schedule::Every(d) => format!("every {}", humantime::format_duration(*d)),
        Schedule::Cron(c) => format!("cron {c}"),
    }
}

impl RunningList {
    /// The record of `list`, read from `path` whose content was `text`.
    pub fn of(path: &Path, text: &str, applied_at: DateTime<FixedOffset>, list: &WatchList) -> RunningList {
        RunningList {
            path: path.display().to_string(),
            hash: content_hash(text.as_bytes()),
            applied_at,
            watches: list
                .watches
                .iter()
                .map(|w| RunningWatch {
                    name: w.name.clone(),
                    from: w.from.name.clone(),
                    to: w.to.name.clone(),
                    dates: w.dates.clone(),
                    action: if w.grab.is_some() { "grab" } else { "alert" }.to_string(),
                    schedule: schedule_text(&w.schedule),
                })
                .collect(),
            waitlists: list
                .waitlists
                .iter()
                .map(|w| RunningWaitlist {
                    name: w.name.clone(),
                    reserve_no: w.reserve_no.clone(),
                    schedule: schedule_text(&w.schedule),
                })
                .collect(),
        }
    }
}

/// FNV-1a 64 of `bytes`, as 16 hex digits: stable across builds, enough to tell versions apart.
pub fn content_hash(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// When a watch runs next, or why no time can be given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum NextRun {
    At {
        at: DateTime<FixedOffset>,
    },
    /// Every date has passed.
    Finished,
    /// Not in the running list (an older list had it).
    Removed,
    /// No daemon runs on this database.
    DaemonStopped,
    /// 12306 throttled us: nothing is polled before `until`.
    Backoff {
        until: DateTime<FixedOffset>,
    },
    /// A 候补 entry whose 12306 session expired: checked rarely until the cookie changes.
    QuietSession {
        next_check: Option<DateTime<FixedOffset>>,
    },
    /// Its time has come and gone: it waits for the poller (a long cycle is under way).
    Overdue {
        since: DateTime<FixedOffset>,
    },
    /// Not polled yet.
    NotYet,
}

/// The facts that decide [`NextRun`] (pure).
struct NextRunFacts {
    in_list: bool,
    finished: bool,
    daemon_running: bool,
    session_expired: bool,
    backoff_until: Option<DateTime<FixedOffset>>,
    next_run: Option<DateTime<FixedOffset>>,
}

fn next_run_state(f: NextRunFacts, now: DateTime<FixedOffset>) -> NextRun {
    // A next run a moment ago is still "now" for someone reading it.
    let grace = chrono::TimeDelta::seconds(2);
    if !f.in_list {
        NextRun::Removed
    } else if f.finished {
        NextRun::Finished
    } else if !f.daemon_running {
        NextRun::DaemonStopped
    } else if f.session_expired {
        NextRun::QuietSession {
            next_check: f.next_run,
        }
    } else if let Some(until) = f.backoff_until.filter(|u| *u > now) {
        NextRun::Backoff { until }
    } else {
        match f.next_run {
            Some(at) if at + grace >= now => NextRun::At { at },
            Some(since) => NextRun::Overdue { since },
            None => NextRun::NotYet,
        }
    }
}

/// Why nothing matched one date at its last poll.
#[derive(Debug, Clone, Serialize)]
pub struct DateNote {
    pub date: NaiveDate,
    pub at: DateTime<FixedOffset>,
    /// `12 trains returned; 9 depart outside 07:00–12:00; …`
    pub summary: String,
}

/// The newest email that has not gone out, and why.
#[derive(Debug, Clone, Serialize)]
pub struct EmailProblem {
    pub subject: String,
    /// `pending` (will be retried) or `failed` (given up).
    pub state: String,
    pub attempts: u32,
    pub error: String,
    pub next_attempt: Option<DateTime<FixedOffset>>,
}

/// Everything `status` shows.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub database: String,
    /// The pid of the running daemon, when one holds the lock.
    pub daemon_pid: Option<String>,
    pub daemon_running: bool,
    pub daemon_started_at: Option<String>,
    /// Why the running daemon cannot write to the database (a full disk…), from the health file
    /// beside it; everything else in the report is as of its last successful write.
    pub database_write_error: Option<String>,
    pub database_write_error_since: Option<DateTime<FixedOffset>>,
    /// Email deliveries whose outcome the daemon holds in memory (no email goes out meanwhile).
    pub emails_held: usize,
    /// When the daemon last did anything we can see (stopped, polled, started).
    pub daemon_last_seen: Option<DateTime<FixedOffset>>,
    /// The watch list the daemon runs (or last ran); `None` before it ever ran here.
    pub running_list: Option<RunningListSummary>,
    /// Why the last watch-list edit was rejected (the running list is the previous one).
    pub watchlist_error: Option<String>,
    pub watchlist_error_at: Option<DateTime<FixedOffset>>,
    pub query_endpoint: Option<String>,
    pub history_rows: u64,
    pub email_problem: Option<EmailProblem>,
    pub watches: Vec<WatchReport>,
    /// `[[waitlist]]` entries: the user's 候补 orders.
    pub waitlists: Vec<WaitlistReport>,
}

/// Which list runs.
#[derive(Debug, Clone, Serialize)]
pub struct RunningListSummary {
    pub path: String,
    pub hash: String,
    pub applied_at: DateTime<FixedOffset>,
}

/// One `[[waitlist]]` in the report.
#[derive(Debug, Clone, Serialize)]
pub struct WaitlistReport {
    pub name: String,
    /// In the list the daemon runs.
    pub in_watchlist: bool,
    pub schedule: String,
    pub last_poll: Option<DateTime<FixedOffset>>,
    pub next_run: Option<DateTime<FixedOffset>>,
    pub next: NextRun,
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
    /// Why a pending email has not gone out yet, while it is pending.
    pub email_error: Option<String>,
}

/// One watch in the report.
#[derive(Debug, Clone, Serialize)]
pub struct WatchReport {
    pub name: String,
    /// `every 30s` / `cron 0 */2 * * * *`; empty for watches only in the database.
    pub schedule: String,
    /// In the list the daemon runs.
    pub in_watchlist: bool,
    /// `上海虹桥→常州`; empty for watches only in the database.
    pub route: String,
    pub dates: Vec<NaiveDate>,
    /// `alert` or `grab`.
    pub action: String,
    pub next_run: Option<DateTime<FixedOffset>>,
    pub next: NextRun,
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
    /// Dates whose last answer held no matching train, and why.
    pub no_match: Vec<DateNote>,
    pub alerts_sent: u64,
    pub alerts_pending: u64,
    pub alerts_failed: u64,
    /// Why a pending alert has not gone out yet (the last attempt's error), while it is pending.
    pub email_error: Option<String>,
}

/// Status keys of `[[waitlist]]` entries start with this (see the daemon).
const WAITLIST_PREFIX: &str = "候补:";

/// Reads the report from the database at `db` (read-only), as of `now`.
pub fn gather(db: &Path, now: DateTime<FixedOffset>) -> Result<StatusReport, StoreError> {
    let store = Store::open_read_only(db)?;
    let (running, pid) = Store::daemon_running(db);
    // Only the running daemon's own health file counts (a stopped one's says nothing).
    let health = crate::health::read(db)
        .filter(|h| running && pid.is_none_or(|p| p == h.pid))
        .unwrap_or_default();
    let fact = |f: Fact| store.get_fact(f).ok().flatten();
    let list: Option<RunningList> = fact(Fact::RunningList).and_then(|(v, _)| serde_json::from_str(&v).ok());
    let statuses = store.all_watch_status()?;
    let mut last_seen = [Fact::DaemonStoppedAt, Fact::DaemonStartedAt]
        .into_iter()
        .filter_map(|f| fact(f).and_then(|(v, _)| DateTime::parse_from_rfc3339(&v).ok()))
        .chain(statuses.iter().filter_map(|s| s.last_poll_at))
        .max();
    if running {
        last_seen = Some(now);
    }

    let mut names: Vec<String> = list
        .as_ref()
        .map(|l| l.watches.iter().map(|w| w.name.clone()).collect())
        .unwrap_or_default();
    for st in &statuses {
        if !names.contains(&st.watch) && !st.watch.starts_with(WAITLIST_PREFIX) {
            names.push(st.watch.clone());
        }
    }
    let mut watches = Vec::new();
    for name in names {
        let w = list
            .as_ref()
            .and_then(|l| l.watches.iter().find(|w| w.name == name));
        // A database written before running lists were recorded: what was polled is running.
        let in_list = w.is_some() || list.is_none();
        let st = store.watch_status(&name)?;
        let counts = store.outbox_counts(&name)?;
        let available = store
            .current_seats(&name)?
            .into_iter()
            .filter(|(_, s)| s.available)
            .map(|(k, s)| format!("{} {} {} {}", k.date, k.train, k.seat.name(), s.raw))
            .collect();
        let no_match = store
            .match_notes(&name)?
            .into_iter()
            .filter_map(|(date, at, json)| {
                let n: crate::filter::NoMatch = serde_json::from_str(&json).ok()?;
                Some(DateNote {
                    date,
                    at,
                    summary: n.to_string(),
                })
            })
            .collect();
        let finished = st.as_ref().is_some_and(|s| s.finished);
        let next = next_run_state(
            NextRunFacts {
                in_list,
                finished,
                daemon_running: running,
                session_expired: false,
                backoff_until: st.as_ref().and_then(|s| s.backoff_until),
                next_run: st.as_ref().and_then(|s| s.next_run_at),
            },
            now,
        );
        watches.push(WatchReport {
            schedule: w.map(|w| w.schedule.clone()).unwrap_or_default(),
            in_watchlist: in_list,
            route: w.map(|w| format!("{}→{}", w.from, w.to)).unwrap_or_default(),
            dates: w.map(|w| w.dates.clone()).unwrap_or_default(),
            action: w.map(|w| w.action.clone()).unwrap_or_default(),
            next_run: st.as_ref().and_then(|s| s.next_run_at),
            next,
            last_poll: st.as_ref().and_then(|s| s.last_poll_at),
            outcome: st.as_ref().and_then(|s| s.outcome.as_ref().map(|o| o.to_text())),
            last_error: st.as_ref().and_then(|s| s.last_error.clone()),
            consecutive_failures: st.as_ref().map_or(0, |s| s.consecutive_failures),
            backoff_level: st.as_ref().map_or(0, |s| s.backoff_level),
            backoff_until: st.as_ref().and_then(|s| s.backoff_until),
            finished,
            last_change: store.last_change(&name)?,
            available,
            no_match,
            alerts_sent: counts.sent,
            alerts_pending: counts.pending,
            alerts_failed: counts.failed,
            email_error: store.pending_email_error(&name)?,
            name,
        });
    }
    let waitlists = gather_waitlists(&store, list.as_ref(), running, now)?;
    let (watchlist_error, watchlist_error_at) = match fact(Fact::WatchlistError) {
        Some((text, at)) => (Some(text), Some(at)),
        None => (None, None),
    };
    let email_problem = store.last_email_problem()?.map(|row| EmailProblem {
        subject: row.subject,
        state: row.state.as_str().to_string(),
        attempts: row.attempts,
        error: row.last_error.unwrap_or_default(),
        next_attempt: (row.state == OutboxState::Pending).then_some(row.next_attempt_at),
    });
    Ok(StatusReport {
        database: db.display().to_string(),
        daemon_pid: pid
            .map(|p| p.to_string())
            .or_else(|| fact(Fact::DaemonPid).map(|(v, _)| v))
            .filter(|_| running),
        daemon_running: running,
        daemon_started_at: fact(Fact::DaemonStartedAt).map(|(v, _)| v),
        database_write_error: health.error,
        database_write_error_since: health.since,
        emails_held: health.unrecorded_emails,
        daemon_last_seen: last_seen,
        running_list: list.as_ref().map(|l| RunningListSummary {
            path: l.path.clone(),
            hash: l.hash.clone(),
            applied_at: l.applied_at,
        }),
        watchlist_error,
        watchlist_error_at,
        query_endpoint: fact(Fact::QueryEndpoint).map(|(v, _)| v),
        history_rows: store.history_rows()?,
        email_problem,
        watches,
        waitlists,
    })
}

fn gather_waitlists(
    store: &Store,
    list: Option<&RunningList>,
    running: bool,
    now: DateTime<FixedOffset>,
) -> Result<Vec<WaitlistReport>, StoreError> {
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
        let entry = list.and_then(|l| l.waitlists.iter().find(|w| w.name == name));
        let in_list = entry.is_some() || list.is_none();
        let st = store.watch_status(&format!("{WAITLIST_PREFIX}{name}"))?;
        let snap: Option<crate::waitlist::WaitlistSnapshot> = states
            .iter()
            .find(|(n, _, _)| *n == name)
            .and_then(|(_, json, _)| serde_json::from_str(json).ok());
        let order = snap.as_ref().and_then(|s| s.order.as_ref());
        let counts = store.outbox_counts(&format!("{WAITLIST_PREFIX}{name}"))?;
        let session_expired = snap.as_ref().is_some_and(|s| s.session_expired_for.is_some());
        let next = next_run_state(
            NextRunFacts {
                in_list,
                finished: false,
                daemon_running: running,
                session_expired,
                backoff_until: st.as_ref().and_then(|s| s.backoff_until),
                next_run: st.as_ref().and_then(|s| s.next_run_at),
            },
            now,
        );
        out.push(WaitlistReport {
            in_watchlist: in_list,
            schedule: entry.map(|e| e.schedule.clone()).unwrap_or_default(),
            last_poll: st.as_ref().and_then(|s| s.last_poll_at),
            next_run: st.as_ref().and_then(|s| s.next_run_at),
            next,
            outcome: st.as_ref().and_then(|s| s.outcome.as_ref().map(|o| o.to_text())),
            last_error: st.as_ref().and_then(|s| s.last_error.clone()),
            session_expired,
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
            email_error: store.pending_email_error(&format!("{WAITLIST_PREFIX}{name}"))?,
            name,
        });
    }
    Ok(out)
}

fn t(x: &Option<DateTime<FixedOffset>>) -> String {
    x.map_or_else(|| "—".to_string(), |t| t.format("%m-%d %H:%M:%S").to_string())
}

/// `12-01..12-03, 12-05`: consecutive days as ranges.
fn dates_text(dates: &[NaiveDate]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < dates.len() {
        let mut j = i;
        while j + 1 < dates.len() && dates[j].succ_opt() == Some(dates[j + 1]) {
            j += 1;
        }
        let d = |x: NaiveDate| x.format("%m-%d").to_string();
        parts.push(if j > i {
            format!("{}..{}", d(dates[i]), d(dates[j]))
        } else {
            d(dates[i])
        });
        i = j + 1;
    }
    parts.join(", ")
}

/// The `next run` line, or `None` when there is nothing to run.
fn next_run_text(next: &NextRun, last_seen: Option<DateTime<FixedOffset>>) -> Option<String> {
    Some(match next {
        NextRun::Finished | NextRun::Removed => return None,
        NextRun::At { at } => t(&Some(*at)),
        NextRun::DaemonStopped => format!("— daemon not running (last seen {})", t(&last_seen)),
        NextRun::Backoff { until } => format!("in backoff until {}", until.format("%m-%d %H:%M:%S")),
        NextRun::QuietSession { next_check } => format!(
            "quiet: 12306 session expired, next check {} (or as soon as the cookie changes)",
            t(next_check)
        ),
        NextRun::Overdue { since } => format!(
            "due since {}, waiting for the poll cycle under way",
            since.format("%H:%M:%S")
        ),
        NextRun::NotYet => "not polled yet".to_string(),
    })
}

/// The human-readable report (pure).
pub fn render_text(r: &StatusReport, now: DateTime<FixedOffset>) -> String {
    let mut out = String::new();
    let daemon = match (r.daemon_running, &r.daemon_pid) {
        (true, Some(pid)) => format!("running (pid {pid})"),
        (true, None) => "running".to_string(),
        (false, _) => match r.daemon_last_seen {
            Some(_) => format!("not running (last seen {})", t(&r.daemon_last_seen)),
            None => "not running (it never ran on this database)".to_string(),
        },
    };
    out.push_str(&format!(
        "yupiao daemon: {daemon}; database {} ({} history rows)\n",
        r.database, r.history_rows
    ));
    if let Some(err) = &r.database_write_error {
        out.push_str(&format!(
            "DATABASE NOT WRITABLE since {}: {err}\n  everything below is as of the last successful write",
            t(&r.database_write_error_since)
        ));
        if r.emails_held > 0 {
            out.push_str(&format!(
                "; {} email delivery outcome(s) held in memory: no email goes out until the database takes writes again",
                r.emails_held
            ));
        }
        out.push('\n');
    }
    if let Some(l) = &r.running_list {
        let verb = if r.daemon_running { "running" } else { "last run" };
        let watches = crate::cli::count(
            r.watches.iter().filter(|w| w.in_watchlist).count(),
            "watch",
            "watches",
        );
        let waitlists = r.waitlists.iter().filter(|w| w.in_watchlist).count();
        let waitlists = if waitlists > 0 {
            format!(
                ", {}",
                crate::cli::count(waitlists, "候补 waitlist", "候补 waitlists")
            )
        } else {
            String::new()
        };
        out.push_str(&format!(
            "watch list {verb}: {} as applied {} ({watches}{waitlists}; content {})\n",
            l.path,
            l.applied_at.format("%m-%d %H:%M:%S"),
            &l.hash[..8.min(l.hash.len())]
        ));
    }
    if let Some(ep) = &r.query_endpoint {
        out.push_str(&format!("12306 query endpoint: {ep}\n"));
    }
    if let Some(err) = &r.watchlist_error {
        let keeps = if r.daemon_running {
            "the list above keeps running"
        } else {
            "the list above was running"
        };
        out.push_str(&format!(
            "watch list edit REJECTED at {} ({keeps}):\n",
            t(&r.watchlist_error_at)
        ));
        for line in err.lines() {
            out.push_str(&format!("  {line}\n"));
        }
    }
    if let Some(p) = &r.email_problem {
        let what = match &p.next_attempt {
            Some(next) => format!("not delivered yet, next attempt {}", t(&Some(*next))),
            None => format!(
                "given up after {}",
                crate::cli::count(p.attempts as usize, "attempt", "attempts")
            ),
        };
        out.push_str(&format!(
            "email problem: \"{}\" {what}:\n  {}\n",
            p.subject, p.error
        ));
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
        if !w.route.is_empty() {
            out.push_str(&format!(
                "  {}  {}  {}\n",
                w.route,
                dates_text(&w.dates),
                w.action
            ));
        }
        out.push_str(&format!("  last poll {}  → {}\n", t(&w.last_poll), state));
        if let Some(next) = next_run_text(&w.next, r.daemon_last_seen) {
            out.push_str(&format!("  next run  {next}\n"));
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
        for n in &w.no_match {
            out.push_str(&format!("  {}  no matching train: {}\n", n.date, n.summary));
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
        if let Some(e) = &w.email_error {
            out.push_str(&format!("  email not delivered yet: {e}\n"));
        }
    }
    for w in &r.waitlists {
        out.push_str(&format!("\n候补 {}\n", w.name));
        let state = if !w.in_watchlist {
            "removed from the watch list".to_string()
        } else {
            w.outcome.clone().unwrap_or_else(|| "not polled yet".into())
        };
        out.push_str(&format!("  last poll {}  → {}\n", t(&w.last_poll), state));
        if let Some(next) = next_run_text(&w.next, r.daemon_last_seen) {
            out.push_str(&format!("  next run  {next}\n"));
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
        if let Some(e) = &w.email_error {
            out.push_str(&format!("  email not delivered yet: {e}\n"));
        }
    }
    if r.watches.is_empty() && r.waitlists.is_empty() {
        out.push_str("\nno watches yet\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, s: u32) -> DateTime<FixedOffset> {
        crate::clock::beijing()
            .with_ymd_and_hms(2026, 12, 4, h, m, s)
            .unwrap()
    }

    fn facts() -> NextRunFacts {
        NextRunFacts {
            in_list: true,
            finished: false,
            daemon_running: true,
            session_expired: false,
            backoff_until: None,
            next_run: Some(at(10, 0, 30)),
        }
    }

    #[test]
    fn a_next_run_in_the_past_is_never_shown_as_a_time() {
        let now = at(10, 5, 0);
        assert_eq!(
            next_run_state(facts(), at(10, 0, 0)),
            NextRun::At { at: at(10, 0, 30) }
        );
        assert_eq!(
            next_run_state(facts(), now),
            NextRun::Overdue { since: at(10, 0, 30) }
        );
        let stopped = NextRunFacts {
            daemon_running: false,
            ..facts()
        };
        assert_eq!(next_run_state(stopped, now), NextRun::DaemonStopped);
        let throttled = NextRunFacts {
            backoff_until: Some(at(10, 7, 0)),
            ..facts()
        };
        assert_eq!(
            next_run_state(throttled, now),
            NextRun::Backoff { until: at(10, 7, 0) }
        );
        let quiet = NextRunFacts {
            session_expired: true,
            next_run: Some(at(10, 30, 0)),
            ..facts()
        };
        assert_eq!(
            next_run_state(quiet, now),
            NextRun::QuietSession {
                next_check: Some(at(10, 30, 0))
            }
        );
        let seen = Some(at(9, 59, 58));
        assert_eq!(
            next_run_text(&NextRun::DaemonStopped, seen).unwrap(),
            "— daemon not running (last seen 12-04 09:59:58)"
        );
        assert!(
            next_run_text(&NextRun::Overdue { since: at(10, 0, 30) }, seen)
                .unwrap()
                .starts_with("due since 10:00:30")
        );
    }

    #[test]
    fn consecutive_dates_read_as_ranges() {
        let d = |day| NaiveDate::from_ymd_opt(2026, 12, day).unwrap();
        assert_eq!(dates_text(&[d(1), d(2), d(3), d(5)]), "12-01..12-03, 12-05");
        assert_eq!(dates_text(&[]), "");
    }

    #[test]
    fn the_content_hash_is_stable_and_tells_versions_apart() {
        assert_eq!(content_hash(b""), "cbf29ce484222325");
        assert_ne!(content_hash(b"a"), content_hash(b"b"));
    }
}
