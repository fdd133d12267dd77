//! What `yupiao status` reports: the daemon, the running list, and per watch and waitlist its
//! last poll, next run (or why there is none), seats, no-match notes and emails — one struct,
//! printed as text or serialized for `--json` (and turned into the status page's view).

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::Serialize;

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
pub(super) struct NextRunFacts {
    pub in_list: bool,
    pub finished: bool,
    pub daemon_running: bool,
    pub session_expired: bool,
    pub backoff_until: Option<DateTime<FixedOffset>>,
    pub next_run: Option<DateTime<FixedOffset>>,
}

pub(super) fn next_run_state(f: NextRunFacts, now: DateTime<FixedOffset>) -> NextRun {
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
    /// 12306's clock as the daemon last measured it (offset from this machine's).
    pub rail_clock: Option<crate::sale::clock::ClockStatus>,
    pub history_rows: u64,
    pub email_problem: Option<EmailProblem>,
    /// Push channels: each configured `[[channel]]` and each channel the outbox has rows for.
    pub channels: Vec<ChannelReport>,
    pub watches: Vec<WatchReport>,
    /// `[[waitlist]]` entries: the user's 候补 orders.
    pub waitlists: Vec<WaitlistReport>,
    /// Rows of the database that cannot be read back, each named with what to do; what they
    /// would have shown is missing from the rest of the report.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

/// One push channel in the report. Never its URL's key, secret or token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChannelReport {
    pub name: String,
    /// `bark`, `webhook`…; `None` for a channel only the database knows.
    pub kind: Option<String>,
    /// Scheme and host only: `https://api.day.app/***`.
    pub url: Option<String>,
    /// Declared in the settings `status` read.
    pub in_settings: bool,
    pub sent: u64,
    pub pending: u64,
    pub failed: u64,
    /// Seat alerts held by quiet hours and dropped because the seats were gone.
    pub dropped: u64,
    pub last_sent_at: Option<DateTime<FixedOffset>>,
    /// The newest error of a push still pending or failed.
    pub last_error: Option<String>,
}

impl StatusReport {
    /// Adds what the settings say about each channel (kind, masked URL), and the channels
    /// that have not pushed anything yet.
    pub fn with_channels(mut self, specs: &[crate::push::ChannelSpec]) -> StatusReport {
        for spec in specs {
            let i = match self.channels.iter().position(|c| c.name == spec.name) {
                Some(i) => i,
                None => {
                    self.channels.push(ChannelReport {
                        name: spec.name.clone(),
                        ..ChannelReport::default()
                    });
                    self.channels.len() - 1
                }
            };
            let c = &mut self.channels[i];
            c.kind = Some(spec.kind.to_string());
            c.url = Some(spec.redacted_url());
            c.in_settings = true;
        }
        self
    }
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
    /// Dates not on sale yet, and when they open: `12-06 未开售 · 12-01 13:30 起售 (from qss.js)`.
    pub sale: Vec<String>,
    pub alerts_sent: u64,
    pub alerts_pending: u64,
    pub alerts_failed: u64,
    /// Why a pending alert has not gone out yet (the last attempt's error), while it is pending.
    pub email_error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::render::next_run_text;
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
}
