//! Reading the status report from the database, read-only, beside the running daemon.
//!
//! A row that cannot be read back (a running-list record, a no-match note, a 候补 state that does
//! not decode) is named in [`StatusReport::problems`] and logged; the rest of the report is shown
//! as far as it can be.

use std::path::Path;

use chrono::{DateTime, FixedOffset};

use super::report::{
    ChannelReport, DateNote, EmailProblem, NextRun, NextRunFacts, RunningListSummary, StatusReport,
    WaitlistReport, WatchReport, next_run_state,
};
use super::running::RunningList;
use crate::decide::waitlist::{WaitlistSnapshot, WaitlistStatus};
use crate::rail::after_nate::WaitlistOrder;
use crate::sale::opening::OnSale;
use crate::store::health;
use crate::store::{Fact, JobKey, OutboxState, Store, StoreError, WatchStatus};

/// What every part of the report is read with.
struct Gather<'a> {
    store: &'a Store,
    list: Option<&'a RunningList>,
    /// What the daemon stored about openings and 12306's clock.
    sale: crate::sale::known::Known,
    running: bool,
    now: DateTime<FixedOffset>,
    /// Rows that cannot be read back.
    problems: Vec<String>,
}

/// The email that is not getting through, if any.
fn email_problem(store: &Store) -> Result<Option<EmailProblem>, StoreError> {
    Ok(store.last_email_problem()?.map(|row| EmailProblem {
        subject: row.subject,
        state: row.state.as_str().to_string(),
        attempts: row.attempts,
        error: row.last_error.unwrap_or_default(),
        next_attempt: (row.state == OutboxState::Pending).then_some(row.next_attempt_at),
    }))
}

/// Each push channel's deliveries, as the database knows them (the settings add kind and URL).
fn channels(store: &Store) -> Result<Vec<ChannelReport>, StoreError> {
    Ok(store
        .channel_counts()?
        .into_iter()
        .map(|c| ChannelReport {
            name: c.channel,
            sent: c.sent,
            pending: c.pending,
            failed: c.failed,
            dropped: c.dropped,
            last_sent_at: c.last_sent_at,
            last_error: c.last_error,
            ..ChannelReport::default()
        })
        .collect())
}

impl Gather<'_> {
    /// The value, or `None` with the error recorded (and logged).
    fn keep<T>(&mut self, r: Result<T, StoreError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::warn!(error = %e, "status: a stored row cannot be read back");
                self.problems.push(e.to_string());
                None
            }
        }
    }

    /// When `st`'s key runs next, or why not.
    fn next(
        &self,
        st: Option<&WatchStatus>,
        in_list: bool,
        finished: bool,
        session_expired: bool,
    ) -> NextRun {
        next_run_state(
            NextRunFacts {
                in_list,
                finished,
                daemon_running: self.running,
                session_expired,
                backoff_until: st.and_then(|s| s.backoff_until),
                next_run: st.and_then(|s| s.next_run_at),
            },
            self.now,
        )
    }
}

/// Reads the report from the database at `db` (read-only), as of `now`.
pub fn gather(db: &Path, now: DateTime<FixedOffset>) -> Result<StatusReport, StoreError> {
    let store = Store::open_read_only(db)?;
    let (running, pid) = Store::daemon_running(db);
    // Only the running daemon's own health file counts (a stopped one's says nothing).
    let health = health::read(db)
        .filter(|h| running && pid.is_none_or(|p| p == h.pid))
        .unwrap_or_default();
    let mut g = Gather {
        store: &store,
        list: None,
        sale: crate::sale::known::Known::from_store(&store),
        running,
        now,
        problems: Vec::new(),
    };
    let recorded = store.get_fact(Fact::RunningList)?;
    let list: Option<RunningList> = recorded.and_then(|(json, _)| {
        g.keep(serde_json::from_str(&json).map_err(|e| StoreError::BadRow {
            table: "fact",
            key: Fact::RunningList.key().into(),
            detail: e.to_string(),
        }))
    });
    g.list = list.as_ref();
    let statuses = store.all_watch_status()?;
    let started = store.get_fact(Fact::DaemonStartedAt)?;
    let stopped = store.get_fact(Fact::DaemonStoppedAt)?;
    let mut last_seen = [&stopped, &started]
        .into_iter()
        .filter_map(|f| f.as_ref().and_then(|(v, _)| DateTime::parse_from_rfc3339(v).ok()))
        .chain(statuses.iter().filter_map(|s| s.last_poll_at))
        .max();
    if running {
        last_seen = Some(now);
    }
    let watches = g.watches(&statuses)?;
    let waitlists = g.waitlists()?;
    let (watchlist_error, watchlist_error_at) = match store.get_fact(Fact::WatchlistError)? {
        Some((text, at)) => (Some(text), Some(at)),
        None => (None, None),
    };
    let email_problem = email_problem(&store)?;
    let recorded_pid = store.get_fact(Fact::DaemonPid)?.map(|(v, _)| v);
    let channels = channels(&store)?;
    Ok(StatusReport {
        database: db.display().to_string(),
        daemon_pid: pid.map(|p| p.to_string()).or(recorded_pid).filter(|_| running),
        channels,
        daemon_running: running,
        daemon_started_at: started.map(|(v, _)| v),
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
        query_endpoint: store.get_fact(Fact::QueryEndpoint)?.map(|(v, _)| v),
        rail_clock: g.sale.clock_status(),
        history_rows: store.history_rows()?,
        email_problem,
        watches,
        waitlists,
        problems: g.problems,
    })
}

impl Gather<'_> {
    /// The watch's dates not on sale yet, each with its opening and where that was learnt.
    fn not_on_sale(&self, w: &crate::status::running::RunningWatch) -> Vec<String> {
        let Some(from) = crate::stations::StationTable::embedded().by_name(&w.from) else {
            return Vec::new();
        };
        let days = crate::config::Upstream::default().presale_days;
        let mut known = self.sale.clone();
        known.settled = true;
        let view = known.view(self.now.to_utc(), days);
        w.dates
            .iter()
            .filter_map(|d| match view.state(from, *d) {
                s @ (OnSale::NotYet(_) | OnSale::OpeningDay(_)) => Some(s.describe_with_source(*d)),
                _ => None,
            })
            .collect()
    }

    /// Every watch of the running list, then every watch only the database knows.
    fn watches(&mut self, statuses: &[WatchStatus]) -> Result<Vec<WatchReport>, StoreError> {
        let mut names: Vec<String> = self
            .list
            .map(|l| l.watches.iter().map(|w| w.name.clone()).collect())
            .unwrap_or_default();
        for st in statuses {
            if let JobKey::Watch(name) = &st.key
                && !names.contains(name)
            {
                names.push(name.clone());
            }
        }
        names.iter().map(|name| self.watch(name)).collect()
    }

    fn watch(&mut self, name: &str) -> Result<WatchReport, StoreError> {
        let key = JobKey::watch(name);
        let w = self.list.and_then(|l| l.watches.iter().find(|w| w.name == name));
        // A database written before running lists were recorded: what was polled is running.
        let in_list = w.is_some() || self.list.is_none();
        let st = self.store.watch_status(&key)?;
        let counts = self.store.outbox_counts(&key)?;
        let available = self
            .store
            .current_seats(name)?
            .into_iter()
            .filter(|(_, s)| s.available)
            .map(|(k, s)| format!("{} {} {} {}", k.date, k.train, k.seat.name(), s.raw))
            .collect();
        let notes = self.store.match_notes(name);
        let no_match = self
            .keep(notes)
            .unwrap_or_default()
            .into_iter()
            .map(|n| DateNote {
                date: n.date,
                at: n.at,
                summary: n.note.to_string(),
            })
            .collect();
        let finished = st.as_ref().is_some_and(|s| s.finished);
        let sale = w.map(|w| self.not_on_sale(w)).unwrap_or_default();
        Ok(WatchReport {
            sale,
            schedule: w.map(|w| w.schedule.clone()).unwrap_or_default(),
            in_watchlist: in_list,
            route: w.map(|w| format!("{}→{}", w.from, w.to)).unwrap_or_default(),
            dates: w.map(|w| w.dates.clone()).unwrap_or_default(),
            action: w.map(|w| w.action.clone()).unwrap_or_default(),
            next_run: st.as_ref().and_then(|s| s.next_run_at),
            next: self.next(st.as_ref(), in_list, finished, false),
            last_poll: st.as_ref().and_then(|s| s.last_poll_at),
            outcome: st.as_ref().and_then(|s| s.outcome.as_ref().map(|o| o.to_text())),
            last_error: st.as_ref().and_then(|s| s.last_error.clone()),
            consecutive_failures: st.as_ref().map_or(0, |s| s.consecutive_failures),
            backoff_level: st.as_ref().map_or(0, |s| s.backoff_level),
            backoff_until: st.as_ref().and_then(|s| s.backoff_until),
            finished,
            last_change: self.store.last_change(name)?,
            available,
            no_match,
            alerts_sent: counts.sent,
            alerts_pending: counts.pending,
            alerts_failed: counts.failed,
            email_error: self.store.pending_email_error(&key)?,
            name: name.to_string(),
        })
    }

    /// Every `[[waitlist]]` of the running list, then every one only the database knows.
    fn waitlists(&mut self) -> Result<Vec<WaitlistReport>, StoreError> {
        let mut names: Vec<String> = self
            .list
            .map(|l| l.waitlists.iter().map(|w| w.name.clone()).collect())
            .unwrap_or_default();
        for name in self.store.waitlist_names()? {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names.iter().map(|name| self.waitlist(name)).collect()
    }

    fn waitlist(&mut self, name: &str) -> Result<WaitlistReport, StoreError> {
        let key = JobKey::waitlist(name);
        let entry = self
            .list
            .and_then(|l| l.waitlists.iter().find(|w| w.name == name));
        let in_list = entry.is_some() || self.list.is_none();
        let st = self.store.watch_status(&key)?;
        let state = self.store.waitlist_state(name);
        let snap: Option<WaitlistSnapshot> = self.keep(state).flatten().map(|(s, _)| s);
        let order = snap.as_ref().and_then(|s| s.order.as_ref());
        let counts = self.store.outbox_counts(&key)?;
        let session_expired = snap.as_ref().is_some_and(|s| s.session_expired_for.is_some());
        let paying = order.is_some_and(|o| WaitlistStatus::of(o) == WaitlistStatus::AwaitingPayment);
        Ok(WaitlistReport {
            in_watchlist: in_list,
            schedule: entry.map(|e| e.schedule.clone()).unwrap_or_default(),
            last_poll: st.as_ref().and_then(|s| s.last_poll_at),
            next_run: st.as_ref().and_then(|s| s.next_run_at),
            next: self.next(st.as_ref(), in_list, false, session_expired),
            outcome: st.as_ref().and_then(|s| s.outcome.as_ref().map(|o| o.to_text())),
            last_error: st.as_ref().and_then(|s| s.last_error.clone()),
            session_expired,
            reserve_no: order.map(|o| o.reserve_no.clone()),
            status_code: order.map(|o| o.status_code.clone()),
            status_name: order.map(|o| o.status_name.clone()),
            pay_before: order.and_then(|o| o.lose_time).filter(|_| paying),
            realize_limit: order
                .and_then(|o| o.realize_limit_time)
                .map(|t| t.format("%Y-%m-%d %H:%M").to_string()),
            needs: order.map(needs).unwrap_or_default(),
            emails_sent: counts.sent,
            emails_pending: counts.pending,
            emails_failed: counts.failed,
            email_error: self.store.pending_email_error(&key)?,
            name: name.to_string(),
        })
    }
}

/// `G105 2020-03-25 商务座 候补人数中等`, per need.
fn needs(order: &WaitlistOrder) -> Vec<String> {
    order
        .needs
        .iter()
        .map(|n| {
            let date = n.train_date.map(|d| d.to_string()).unwrap_or_default();
            format!("{} {} {} {}", n.board_train_code, date, n.seat_name, n.queue_info)
        })
        .collect()
}
