//! `yupiao status` as text (pure: the report and `now` in, the text out).

use chrono::{DateTime, FixedOffset, NaiveDate};

use super::report::{NextRun, StatusReport, WaitlistReport, WatchReport};

pub use crate::text::count;

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
pub(super) fn next_run_text(next: &NextRun, last_seen: Option<DateTime<FixedOffset>>) -> Option<String> {
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
    header(&mut out, r);
    for w in &r.watches {
        watch_section(&mut out, w, r.daemon_last_seen, now);
    }
    for w in &r.waitlists {
        waitlist_section(&mut out, w, r.daemon_last_seen, now);
    }
    if r.watches.is_empty() && r.waitlists.is_empty() {
        out.push_str("\nno watches yet\n");
    }
    out
}

/// The daemon, the database, the running list, a rejected edit, the last email problem.
fn header(out: &mut String, r: &StatusReport) {
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
    for p in &r.problems {
        out.push_str(&format!("DATABASE PROBLEM: {p}\n"));
    }
    running_list(out, r);
    if let Some(ep) = &r.query_endpoint {
        out.push_str(&format!("12306 query endpoint: {ep}\n"));
    }
    if let Some(c) = &r.rail_clock {
        out.push_str(&format!(
            "{c} (measured {})\n",
            c.measured_at
                .with_timezone(&crate::clock::beijing())
                .format("%m-%d %H:%M:%S")
        ));
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
    channels(out, r);
    if let Some(p) = &r.email_problem {
        let what = match &p.next_attempt {
            Some(next) => format!("not delivered yet, next attempt {}", t(&Some(*next))),
            None => format!(
                "given up after {}",
                count(p.attempts as usize, "attempt", "attempts")
            ),
        };
        out.push_str(&format!(
            "email problem: \"{}\" {what}:\n  {}\n",
            p.subject, p.error
        ));
    }
}

/// `push iphone (bark, https://api.day.app/***): 3 sent, 1 pending, 0 failed; last error: …`.
fn channels(out: &mut String, r: &StatusReport) {
    for c in &r.channels {
        let about = match (&c.kind, &c.url) {
            (Some(kind), Some(url)) => format!("{kind}, {url}"),
            _ => "not in the settings any more".to_string(),
        };
        out.push_str(&format!(
            "push {} ({about}): {} sent, {} pending, {} failed",
            c.name, c.sent, c.pending, c.failed
        ));
        if c.dropped > 0 {
            out.push_str(&format!(", {} dropped after quiet hours", c.dropped));
        }
        if c.last_sent_at.is_some() {
            out.push_str(&format!("; last sent {}", t(&c.last_sent_at)));
        }
        out.push('\n');
        if let Some(e) = &c.last_error {
            out.push_str(&format!("  last error: {e}\n"));
        }
    }
}

/// `watch list running: PATH as applied … (N watches, M 候补 waitlists; content HASH)`.
fn running_list(out: &mut String, r: &StatusReport) {
    let Some(l) = &r.running_list else { return };
    let verb = if r.daemon_running { "running" } else { "last run" };
    let watches = count(
        r.watches.iter().filter(|w| w.in_watchlist).count(),
        "watch",
        "watches",
    );
    let waitlists = r.waitlists.iter().filter(|w| w.in_watchlist).count();
    let waitlists = if waitlists > 0 {
        format!(", {}", count(waitlists, "候补 waitlist", "候补 waitlists"))
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

fn watch_section(
    out: &mut String,
    w: &WatchReport,
    last_seen: Option<DateTime<FixedOffset>>,
    now: DateTime<FixedOffset>,
) {
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
    if let Some(next) = next_run_text(&w.next, last_seen) {
        out.push_str(&format!("  next run  {next}\n"));
    }
    if let Some(until) = w.backoff_until.filter(|u| *u > now) {
        out.push_str(&format!(
            "  backing off (level {}) until {} after {}\n",
            w.backoff_level,
            until.format("%H:%M:%S"),
            count(w.consecutive_failures as usize, "failed poll", "failed polls")
        ));
    }
    if let Some(e) = &w.last_error {
        out.push_str(&format!("  last error: {e}\n"));
    }
    for s in &w.sale {
        out.push_str(&format!("  {s}\n"));
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

fn waitlist_section(
    out: &mut String,
    w: &WaitlistReport,
    last_seen: Option<DateTime<FixedOffset>>,
    now: DateTime<FixedOffset>,
) {
    out.push_str(&format!("\n候补 {}\n", w.name));
    let state = if !w.in_watchlist {
        "removed from the watch list".to_string()
    } else {
        w.outcome.clone().unwrap_or_else(|| "not polled yet".into())
    };
    out.push_str(&format!("  last poll {}  → {}\n", t(&w.last_poll), state));
    if let Some(next) = next_run_text(&w.next, last_seen) {
        out.push_str(&format!("  next run  {next}\n"));
    }
    if w.session_expired {
        out.push_str("  12306 session EXPIRED: copy a fresh Cookie into [rail] cookie (or cookie_file)\n");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_dates_read_as_ranges() {
        let d = |day| NaiveDate::from_ymd_opt(2026, 12, day).unwrap();
        assert_eq!(dates_text(&[d(1), d(2), d(3), d(5)]), "12-01..12-03, 12-05");
        assert_eq!(dates_text(&[]), "");
    }
}
