//! The status page's view model: everything the page shows, as plain owned data.
//!
//! Why a separate model: the page is rendered on every request and pushed to browsers on every
//! change, so what it shows must be a cheap, immutable snapshot the daemon builds once per change
//! (and shares as an `Arc`), not a live database handle. Keeping it plain (serde-serializable, no
//! store or config types inside) also keeps the page honest about privacy: the model has no field
//! that could hold a password, key, token, cookie or whole ID number, and every free text that
//! comes from a service (error messages, order summaries) passes through
//! [`crate::identity::scrub_numbers`] on its way in.
//!
//! The builders at the bottom turn the project's existing types (`status::StatusReport`,
//! `store::Change`, `store::GrabOrderRow`, `config::Settings`, …) into this model; they are free
//! functions so that neither `status.rs` nor `store.rs` needs to know the page exists.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone};
use serde::Serialize;

use crate::clock::beijing;
use crate::config::Settings;
use crate::identity::scrub_numbers;
use crate::juhe::OrderStatus;
use crate::order::OrderSummary;
use crate::seat::SeatClass;
use crate::status::{StatusReport, WaitlistReport, WatchReport};
use crate::store::{GrabOrderRow, OutboxCounts, OutboxRow, OutboxState};
use crate::watchlist::{Schedule, Watch, WatchAction, WatchList};

/// Beijing time, the only zone the page speaks.
pub type Time = DateTime<FixedOffset>;

/// Everything the status page shows, as of [`ViewModel::generated_at`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ViewModel {
    /// When the snapshot was taken; charts end here, "last updated" shows it.
    pub generated_at: Time,
    pub daemon: DaemonView,
    /// The last edit of `watchlist.toml` was refused; the previous list keeps running.
    pub rejected_edit: Option<RejectedEdit>,
    pub watches: Vec<WatchView>,
    /// 候补 orders followed through `[[waitlist]]`.
    pub waitlists: Vec<WaitlistView>,
    /// 抢票 orders placed through Juhe.
    pub grabs: Vec<GrabView>,
    /// Deliveries per channel (email today; push channels later).
    pub outbox: Vec<ChannelView>,
    pub rail: RailView,
}

/// Is the daemon there, since when.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DaemonView {
    pub running: bool,
    pub pid: Option<u32>,
    pub started_at: Option<Time>,
    /// `seat_history` rows kept (all watches).
    pub history_rows: u64,
}

/// A refused watch-list edit: one line per problem, as `check` prints them (`file:line:col: …`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RejectedEdit {
    pub errors: Vec<String>,
}

/// Where a watch is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum WatchState {
    /// In the watch list and polled.
    Active,
    /// Every date has passed (or it was satisfied): no more polls.
    Finished,
    /// No longer in the watch list; only its history remains.
    Removed,
}

/// How the last poll ended (the page colours it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Outcome {
    Ok,
    /// 12306 refused or rate-limited us; the text says how.
    Throttled(String),
    Error(String),
    /// Slowed down for 12306's nightly maintenance.
    Night,
}

impl Outcome {
    /// Reads `status`' stored text (`ok`, `throttled: …`, `error: …`, `night`), scrubbing numbers.
    pub fn from_text(s: &str) -> Outcome {
        match crate::store::PollOutcome::from_text(s) {
            crate::store::PollOutcome::Ok => Outcome::Ok,
            crate::store::PollOutcome::Night => Outcome::Night,
            crate::store::PollOutcome::Throttled(m) => Outcome::Throttled(scrub_numbers(&m)),
            crate::store::PollOutcome::Error(m) => Outcome::Error(scrub_numbers(&m)),
        }
    }
}

/// A watch backing off after failed polls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Backoff {
    pub level: u32,
    pub until: Time,
    pub failures: u32,
}

/// What a watch looks for, in words the page prints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Wants {
    /// Train codes or prefixes (`G*`); empty = every train.
    pub trains: Vec<String>,
    pub exclude_trains: Vec<String>,
    /// Seat class names in priority order; empty = any class.
    pub seats: Vec<String>,
    pub passengers: u32,
    /// `07:00-12:00`.
    pub depart: Option<String>,
    pub arrive: Option<String>,
    pub student: bool,
    /// 抢票 (grab) rather than alert only.
    pub grab: bool,
}

/// A seat count as 12306 shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Level {
    /// An exact count; `0` is 无.
    Seats(u32),
    /// 有: plenty, read as at least 20.
    Plenty,
    /// `*`: not on sale yet (not a count).
    NotOnSale,
    /// `""`/`--`: the class is not on the page (gone, or the train left the results).
    Absent,
}

/// What 有 counts as (protocol doc §3.1): the chart draws it at this height, with a marker.
pub const PLENTY: u32 = 20;

impl Level {
    /// From a stored cell (`raw`) and its integer reading (`count`).
    pub fn from_raw(raw: &str, count: Option<u32>) -> Level {
        match raw.trim() {
            "有" => Level::Plenty,
            "无" => Level::Seats(0),
            "*" => Level::NotOnSale,
            "" | "--" => Level::Absent,
            other => match count.or_else(|| other.parse().ok()) {
                Some(n) => Level::Seats(n),
                None => Level::Absent,
            },
        }
    }

    /// Height on the chart; `None` draws a gap.
    pub fn value(self) -> Option<u32> {
        match self {
            Level::Seats(n) => Some(n),
            Level::Plenty => Some(PLENTY),
            Level::NotOnSale | Level::Absent => None,
        }
    }

    /// As 12306 writes it (`有`, `无`, `3`, `*`, `—`).
    pub fn label(self) -> String {
        match self {
            Level::Seats(0) => "无".into(),
            Level::Seats(n) => n.to_string(),
            Level::Plenty => "有".into(),
            Level::NotOnSale => "*".into(),
            Level::Absent => "—".into(),
        }
    }
}

/// One seat seen on the last poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeatNow {
    pub date: NaiveDate,
    pub train: String,
    pub seat: SeatClass,
    pub level: Level,
    /// Enough seats for the watch's passengers on a bookable train.
    pub available: bool,
}

/// Alert emails of a watch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AlertCounts {
    pub sent: u64,
    pub pending: u64,
    pub failed: u64,
}

/// One point of a seat series: from `at` on, the seat showed `level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Point {
    pub at: Time,
    pub level: Level,
    pub available: bool,
}

/// The history of one train and seat class on one date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    pub train: String,
    pub seat: SeatClass,
    /// Time-ordered; consecutive equal points merged; at most [`chart::POINT_BOUND`] (see
    /// [`chart::reduce`]).
    pub points: Vec<Point>,
    /// Changes recorded before merging and reduction (what the history holds).
    pub changes: u32,
}

/// The timeline of one (watch, date).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timeline {
    pub date: NaiveDate,
    /// The chart's time axis.
    pub from: Time,
    pub to: Time,
    pub series: Vec<Series>,
    /// When an alert about this date was queued.
    pub alerts: Vec<Time>,
}

/// How often seats came back (unavailable → available), by Beijing hour of day 0–23.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct HourHistogram {
    pub counts: [u32; 24],
}

impl HourHistogram {
    pub fn total(&self) -> u32 {
        self.counts.iter().sum()
    }

    /// Counts one return at `at` (its Beijing hour).
    pub fn add(&mut self, at: Time) {
        let hour = at.with_timezone(&beijing()).format("%H").to_string();
        if let Ok(h) = hour.parse::<usize>() {
            self.counts[h] += 1;
        }
    }
}

/// One `[[watch]]` on the page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WatchView {
    pub name: String,
    /// Station names as the watch list resolved them; empty for watches only in the database.
    pub from: String,
    pub to: String,
    pub same_city: bool,
    pub dates: Vec<NaiveDate>,
    pub wants: Wants,
    /// `every 30s` / `cron 0 */2 * * * *`.
    pub schedule: String,
    pub state: WatchState,
    pub next_poll: Option<Time>,
    pub last_poll: Option<Time>,
    pub outcome: Option<Outcome>,
    pub last_error: Option<String>,
    pub backoff: Option<Backoff>,
    pub seats_now: Vec<SeatNow>,
    pub last_change: Option<Time>,
    pub alerts: AlertCounts,
    pub timelines: Vec<Timeline>,
    /// Over the whole retained history of the watch (every date, train and class).
    pub came_back: HourHistogram,
}

/// One 候补 order followed through a `[[waitlist]]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaitlistView {
    pub name: String,
    pub state: WatchState,
    pub last_poll: Option<Time>,
    pub next_poll: Option<Time>,
    pub outcome: Option<Outcome>,
    pub last_error: Option<String>,
    /// The 12306 session cookie expired: the user must copy a fresh one.
    pub session_expired: bool,
    /// The 候补 order number (`reserve_no`), not a personal ID.
    pub reserve_no: Option<String>,
    pub status_code: Option<String>,
    pub status_name: Option<String>,
    /// 支付截止 (`loseTime`): pay the deposit before this (待支付 only).
    pub pay_before: Option<Time>,
    /// 兑现截止 (`realize_limit_time`): when the waitlist gives up.
    pub realize_limit: Option<Time>,
    /// `G105 2020-03-25 商务座 候补人数中等`.
    pub needs: Vec<String>,
    pub emails: AlertCounts,
}

/// Where a 抢票 order is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum GrabPhase {
    /// Recorded before `createOrder`; Juhe has not confirmed it yet.
    Intent,
    /// Juhe is grabbing (N, B, D, or a code the dictionary does not list).
    Grabbing,
    /// 出票成功.
    Issued,
    /// Ended without a ticket, or after one (failed, expired, cancelled, refunded, changed).
    Ended,
    /// Never placed (refused before sending).
    Abandoned,
}

/// One 抢票 order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GrabView {
    /// `outOrderNo`: our idempotency key, not a personal ID.
    pub out_order_no: String,
    pub watch: String,
    pub date: NaiveDate,
    pub phase: GrabPhase,
    /// `D 抢票中`.
    pub state_label: String,
    pub trains: Vec<String>,
    pub seats: Vec<String>,
    pub from: String,
    pub to: String,
    /// `张三 (成人, 身份证 1101***********514)`: masked.
    pub passengers: Vec<String>,
    /// What happens next, in words.
    pub next_step: String,
    /// When yupiao next asks Juhe (`orderDetail`), for orders still moving.
    pub next_check: Option<Time>,
    pub last_error: Option<String>,
    pub updated_at: Time,
}

/// One delivery channel's outbox.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelView {
    /// `email`, later `bark`, `ntfy`, …
    pub channel: String,
    pub pending: u64,
    pub failed: u64,
    pub sent: u64,
    pub last_error: Option<String>,
    pub last_error_at: Option<Time>,
}

/// One node sharing the work (several nodes, PostgreSQL).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeView {
    pub name: String,
    pub last_seen: Option<Time>,
    pub requests_5min: Option<u32>,
}

/// How yupiao is getting on with 12306.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RailView {
    /// 12306 base URL without credentials, query or fragment.
    pub base_url: String,
    /// The leftTicket endpoint in use (`leftTicket/queryG`).
    pub endpoint: Option<String>,
    /// Requests sent in the last 5 minutes (12306's own rule: at most 80 per 5 minutes).
    pub requests_5min: Option<u32>,
    pub backoff: Option<Backoff>,
    /// 12306's clock minus ours, from `login/conf`'s `nowStr`.
    pub clock_offset_ms: Option<i64>,
    pub nodes: Vec<NodeView>,
}

/// 12306's pacing rule ("原则为5分钟不大于80次", protocol doc §1.3), for the page's gauge.
pub const REQUESTS_PER_5MIN: u32 = 80;

// ---------------------------------------------------------------------------------------------
// Builders from the project's types.

/// The skeleton of a page from what `status` gathers, the watch list and the settings: every
/// watch, 候补 order and the 12306 block. Timelines, 抢票 orders and the outbox come from
/// [`timelines_from_changes`], [`grab_from_row`] and [`channel_from_rows`].
pub fn from_status(
    report: &StatusReport,
    list: Option<&WatchList>,
    settings: &Settings,
    now: Time,
) -> ViewModel {
    let watches = report
        .watches
        .iter()
        .map(|r| {
            watch_from_report(
                r,
                list.and_then(|l| l.watches.iter().find(|w| w.name == r.name)),
                now,
            )
        })
        .collect();
    ViewModel {
        generated_at: now,
        daemon: DaemonView {
            running: report.daemon_running,
            pid: report.daemon_pid.as_deref().and_then(|p| p.parse().ok()),
            started_at: report
                .daemon_started_at
                .as_deref()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok()),
            history_rows: report.history_rows,
        },
        rejected_edit: report.watchlist_error.as_deref().map(rejected_edit),
        watches,
        waitlists: report.waitlists.iter().map(waitlist_from_report).collect(),
        grabs: Vec::new(),
        outbox: Vec::new(),
        rail: rail_from(settings, report.query_endpoint.as_deref()),
    }
}

/// The errors of a refused edit, one per line (numbers scrubbed: a bad line may quote an ID).
pub fn rejected_edit(text: &str) -> RejectedEdit {
    RejectedEdit {
        errors: text
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.trim().is_empty())
            .map(scrub_numbers)
            .collect(),
    }
}

/// What a watch wants, from the validated watch.
pub fn wants_of(w: &Watch) -> Wants {
    Wants {
        trains: w.trains.iter().map(|t| t.to_string()).collect(),
        exclude_trains: w.exclude_trains.iter().map(|t| t.to_string()).collect(),
        seats: w.seats.iter().map(|s| s.name().to_string()).collect(),
        passengers: w.passengers,
        depart: w.depart.map(|t| t.to_string()),
        arrive: w.arrive.map(|t| t.to_string()),
        student: w.student,
        grab: w.action == WatchAction::Grab,
    }
}

fn schedule_text(s: &Schedule) -> String {
    match s {
        Schedule::Every(d) => format!("every {}", humantime::format_duration(*d)),
        Schedule::Cron(c) => format!("cron {c}"),
    }
}

/// One watch from its `status` row and (when still listed) its validated definition.
pub fn watch_from_report(r: &WatchReport, w: Option<&Watch>, now: Time) -> WatchView {
    let state = if r.finished {
        WatchState::Finished
    } else if r.in_watchlist || w.is_some() {
        WatchState::Active
    } else {
        WatchState::Removed
    };
    WatchView {
        name: r.name.clone(),
        from: w.map(|w| w.from.name.clone()).unwrap_or_default(),
        to: w.map(|w| w.to.name.clone()).unwrap_or_default(),
        same_city: w.is_some_and(|w| w.same_city),
        dates: w.map(|w| w.dates.clone()).unwrap_or_default(),
        wants: w.map(wants_of).unwrap_or_default(),
        schedule: match w {
            Some(w) => schedule_text(&w.schedule),
            None => r.schedule.clone(),
        },
        state,
        next_poll: r.next_run,
        last_poll: r.last_poll,
        outcome: r.outcome.as_deref().map(Outcome::from_text),
        last_error: r.last_error.as_deref().map(scrub_numbers),
        backoff: r.backoff_until.filter(|u| *u > now).map(|until| Backoff {
            level: r.backoff_level,
            until,
            failures: r.consecutive_failures,
        }),
        seats_now: r.available.iter().filter_map(|s| seat_now_from_text(s)).collect(),
        last_change: r.last_change,
        alerts: AlertCounts {
            sent: r.alerts_sent,
            pending: r.alerts_pending,
            failed: r.alerts_failed,
        },
        timelines: Vec::new(),
        came_back: HourHistogram::default(),
    }
}

/// Reads `status`' `2026-12-01 G8294 二等座 3` (only available seats are listed there).
fn seat_now_from_text(s: &str) -> Option<SeatNow> {
    let mut it = s.split_whitespace();
    let date = NaiveDate::parse_from_str(it.next()?, "%Y-%m-%d").ok()?;
    let train = it.next()?.to_string();
    let seat = SeatClass::parse(it.next()?)?;
    let raw = it.next()?;
    Some(SeatNow {
        date,
        train,
        seat,
        level: Level::from_raw(raw, None),
        available: true,
    })
}

/// Seats from the store's current state (`Store::current_seats`), available or not.
pub fn seats_now_from_state(rows: &[(crate::decide::SeatKey, crate::decide::SeatState)]) -> Vec<SeatNow> {
    rows.iter()
        .filter(|(_, s)| !s.raw.is_empty())
        .map(|(k, s)| SeatNow {
            date: k.date,
            train: k.train.clone(),
            seat: k.seat,
            level: Level::from_raw(&s.raw, s.count),
            available: s.available,
        })
        .collect()
}

/// One 候补 order from its `status` row.
pub fn waitlist_from_report(r: &WaitlistReport) -> WaitlistView {
    WaitlistView {
        name: r.name.clone(),
        state: if r.in_watchlist {
            WatchState::Active
        } else {
            WatchState::Removed
        },
        last_poll: r.last_poll,
        next_poll: r.next_run,
        outcome: r.outcome.as_deref().map(Outcome::from_text),
        last_error: r.last_error.as_deref().map(scrub_numbers),
        session_expired: r.session_expired,
        reserve_no: r.reserve_no.clone(),
        status_code: r.status_code.clone(),
        status_name: r.status_name.clone(),
        pay_before: r.pay_before,
        realize_limit: r
            .realize_limit
            .as_deref()
            .and_then(|s| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").ok())
            .and_then(|t| beijing().from_local_datetime(&t).single()),
        needs: r.needs.iter().map(|n| scrub_numbers(n)).collect(),
        emails: AlertCounts {
            sent: r.emails_sent,
            pending: r.emails_pending,
            failed: r.emails_failed,
        },
    }
}

/// One 抢票 order from its stored row. The summary was masked when it was stored; numbers in
/// it and in Juhe's error texts are scrubbed again here all the same. A summary that cannot be
/// read back is logged and shown as an error, with the order's other facts.
pub fn grab_from_row(o: &GrabOrderRow, now: Time) -> GrabView {
    let (summary, unreadable) = match stored_summary(o) {
        Ok(s) => (Some(s), None),
        Err(e) => (None, Some(e)),
    };
    let phase = grab_phase(&o.state);
    let state_label = match o.state.as_str() {
        "intent" => "intent 已记录，等待聚合确认".to_string(),
        "abandoned" => "abandoned 未下单".to_string(),
        code => format!("{code} {}", OrderStatus::parse(code).label_zh()),
    };
    let settled = crate::order::GrabState::parse(&o.state).is_settled();
    let next_check = (!settled).then_some(o.next_check_at);
    let last_error = [unreadable, o.last_error.as_deref().map(scrub_numbers)]
        .into_iter()
        .flatten()
        .reduce(|a, b| format!("{a}; {b}"));
    GrabView {
        out_order_no: o.out_order_no.clone(),
        watch: o.watch.clone(),
        date: o.date,
        phase,
        state_label,
        trains: summary.as_ref().map(|s| s.trains.clone()).unwrap_or_default(),
        seats: summary.as_ref().map(|s| s.seat_names.clone()).unwrap_or_default(),
        from: summary
            .as_ref()
            .map(|s| s.from_station.clone())
            .unwrap_or_default(),
        to: summary.as_ref().map(|s| s.to_station.clone()).unwrap_or_default(),
        passengers: summary
            .as_ref()
            .map(|s| s.passengers.iter().map(|p| scrub_numbers(p)).collect())
            .unwrap_or_default(),
        next_step: grab_next_step(phase, o.next_check_at, now),
        next_check,
        last_error,
        updated_at: o.updated_at,
    }
}

/// The order summary stored with a 抢票 order. A row that cannot be read back is logged; the
/// error says where the JSON breaks, never what it holds (it names passengers).
fn stored_summary(o: &GrabOrderRow) -> Result<OrderSummary, String> {
    serde_json::from_str(&o.summary).map_err(|e| {
        let why = format!(
            "stored order summary unreadable ({:?} error at line {}, column {})",
            e.classify(),
            e.line(),
            e.column()
        );
        tracing::warn!(out_order_no = %o.out_order_no, error = %why, "cannot read a 抢票 order back");
        why
    })
}

/// Where a 抢票 order is, from its stored state: yupiao's own `intent` and `abandoned`, or
/// Juhe's status letter.
fn grab_phase(state: &str) -> GrabPhase {
    match state {
        "intent" => GrabPhase::Intent,
        "abandoned" => GrabPhase::Abandoned,
        code => match OrderStatus::parse(code) {
            OrderStatus::Issued => GrabPhase::Issued,
            OrderStatus::Failed
            | OrderStatus::Expired
            | OrderStatus::Cancelled
            | OrderStatus::Refunded
            | OrderStatus::Changed => GrabPhase::Ended,
            OrderStatus::Created
            | OrderStatus::NotStarted
            | OrderStatus::Grabbing
            | OrderStatus::Unknown(_) => GrabPhase::Grabbing,
        },
    }
}

/// What yupiao does next about an order in `phase`, next checked at `next_check`.
fn grab_next_step(phase: GrabPhase, next_check: Time, now: Time) -> String {
    let when = if next_check <= now {
        "now".to_string()
    } else {
        next_check.format("%m-%d %H:%M").to_string()
    };
    match phase {
        GrabPhase::Intent => format!(
            "look the order up with orderDetail ({when}) and adopt it, or send it again under the same outOrderNo"
        ),
        GrabPhase::Grabbing => format!("Juhe is grabbing; next orderDetail check {when}"),
        GrabPhase::Issued => {
            "ticket issued: nothing more to do (refund with `yupiao orders refund`)".to_string()
        }
        GrabPhase::Ended => "nothing: the order has ended".to_string(),
        GrabPhase::Abandoned => "nothing: no order was placed".to_string(),
    }
}

/// A channel's outbox from its counts and its newest error.
pub fn channel_from_counts(
    channel: &str,
    counts: OutboxCounts,
    last_error: Option<(&str, Time)>,
) -> ChannelView {
    ChannelView {
        channel: channel.to_string(),
        pending: counts.pending,
        failed: counts.failed,
        sent: counts.sent,
        last_error: last_error.map(|(e, _)| scrub_numbers(e)),
        last_error_at: last_error.map(|(_, t)| t),
    }
}

/// A push channel's outbox as `status` reports it (its name and kind; never its URL).
pub fn channel_from_report(c: &crate::status::report::ChannelReport) -> ChannelView {
    ChannelView {
        channel: match &c.kind {
            Some(kind) => format!("{} ({kind})", c.name),
            None => c.name.clone(),
        },
        pending: c.pending,
        failed: c.failed,
        sent: c.sent,
        last_error: c.last_error.as_deref().map(scrub_numbers),
        last_error_at: None,
    }
}

/// A channel's outbox from its rows (email: the `outbox` table). Bodies and recipients are not
/// looked at; the newest error is the one of the most recently created row that has one.
pub fn channel_from_rows(channel: &str, rows: &[OutboxRow]) -> ChannelView {
    let mut counts = OutboxCounts::default();
    for r in rows {
        match r.state {
            OutboxState::Pending => counts.pending += 1,
            OutboxState::Failed => counts.failed += 1,
            OutboxState::Sent => counts.sent += 1,
        }
    }
    let last = rows
        .iter()
        .filter(|r| r.last_error.is_some() && r.state != OutboxState::Sent)
        .max_by_key(|r| (r.created_at, r.id));
    channel_from_counts(
        channel,
        counts,
        last.and_then(|r| r.last_error.as_deref().map(|e| (e, r.next_attempt_at))),
    )
}

/// The 12306 block from the settings and the endpoint `status` knows. The base URL is shown
/// without user info, query or fragment (a URL may carry credentials).
pub fn rail_from(settings: &Settings, endpoint: Option<&str>) -> RailView {
    RailView {
        base_url: public_url(&settings.upstream.rail_url),
        endpoint: endpoint.map(str::to_string),
        ..RailView::default()
    }
}

/// `scheme://host[:port]/path` of a URL, never its user, password, query or fragment.
pub fn public_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string().trim_end_matches('/').to_string()
        }
        Err(_) => "(unparsable URL)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Change;
    use crate::web::history::*;

    fn at(s: &str) -> Time {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    #[test]
    fn levels_read_twelve306_cells_as_the_protocol_says() {
        assert_eq!(Level::from_raw("有", None), Level::Plenty);
        assert_eq!(Level::from_raw("无", Some(0)), Level::Seats(0));
        assert_eq!(Level::from_raw("7", Some(7)), Level::Seats(7));
        assert_eq!(Level::from_raw("7", None), Level::Seats(7));
        assert_eq!(Level::from_raw("*", None), Level::NotOnSale);
        assert_eq!(Level::from_raw("", None), Level::Absent);
        assert_eq!(Level::from_raw("--", None), Level::Absent);
        assert_eq!(Level::Plenty.value(), Some(20));
        assert_eq!(Level::NotOnSale.value(), None);
    }

    #[test]
    fn returns_are_counted_per_series_at_their_beijing_hour() {
        let key = |train: &str| crate::decide::SeatKey {
            date: NaiveDate::from_ymd_opt(2026, 12, 5).unwrap(),
            train: train.into(),
            seat: SeatClass::Second,
        };
        let ch = |t: &str, train: &str, raw: &str, available: bool| Change {
            at: at(t),
            key: key(train),
            raw: raw.into(),
            count: raw.parse().ok(),
            price_jiao: None,
            available,
        };
        let changes = vec![
            // G1: available from the first row (not a return), gone, back at 08:xx Beijing.
            ch("2026-12-01T07:10:00+08:00", "G1", "5", true),
            ch("2026-12-01T07:40:00+08:00", "G1", "无", false),
            ch("2026-12-01T08:05:00+08:00", "G1", "有", true),
            // Given in UTC: 14:30Z is 22:30 Beijing.
            ch("2026-12-01T14:00:00+00:00", "G1", "无", false),
            ch("2026-12-01T14:30:00+00:00", "G1", "3", true),
            // G2: 1 → 2 is a change but no return (available throughout).
            ch("2026-12-01T09:00:00+08:00", "G2", "无", false),
            ch("2026-12-01T09:30:00+08:00", "G2", "1", true),
            ch("2026-12-01T09:45:00+08:00", "G2", "2", true),
        ];
        let alerts = vec![AlertMoment {
            at: at("2026-12-01T08:05:00+08:00"),
            date: key("G1").date,
        }];
        let (timelines, hist) = timelines_from_changes(&changes, &alerts, at("2026-12-02T00:00:00+08:00"));
        assert_eq!(hist.total(), 3);
        assert_eq!(hist.counts[8], 1);
        assert_eq!(hist.counts[22], 1);
        assert_eq!(hist.counts[9], 1);
        assert_eq!(timelines.len(), 1);
        let t = &timelines[0];
        assert_eq!(t.series.len(), 2);
        assert_eq!(t.series[0].train, "G1");
        assert_eq!(t.series[0].points.len(), 5);
        assert_eq!(t.alerts, vec![at("2026-12-01T08:05:00+08:00")]);
        assert_eq!(t.from, at("2026-12-01T07:10:00+08:00"));
        assert_eq!(t.to, at("2026-12-02T00:00:00+08:00"));
    }

    #[test]
    fn a_timeline_ends_at_the_end_of_its_travel_date() {
        let date = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let changes = vec![Change {
            at: at("2026-11-30T10:00:00+08:00"),
            key: crate::decide::SeatKey {
                date,
                train: "G1".into(),
                seat: SeatClass::First,
            },
            raw: "无".into(),
            count: Some(0),
            price_jiao: None,
            available: false,
        }];
        let (t, _) = timelines_from_changes(&changes, &[], at("2026-12-04T12:00:00+08:00"));
        assert_eq!(t[0].to, at("2026-12-02T00:00:00+08:00"));
    }

    #[test]
    fn urls_lose_their_credentials_and_query() {
        assert_eq!(
            public_url("https://user:pa55word@kyfw.12306.cn/?key=abc#x"),
            "https://kyfw.12306.cn"
        );
        assert_eq!(public_url("http://127.0.0.1:8306"), "http://127.0.0.1:8306");
    }

    #[test]
    fn a_grab_order_whose_summary_cannot_be_read_back_shows_the_error_and_its_other_facts() {
        let now = at("2026-12-04T09:30:00+08:00");
        let row = GrabOrderRow {
            out_order_no: "YP261204093012K7Q2M9XA".into(),
            watch: "回家 抢票".into(),
            date: NaiveDate::from_ymd_opt(2026, 12, 5).unwrap(),
            state: "D".into(),
            order_no: None,
            summary: r#"{"trains": ["G8294"], "passengers": [110101199003074514"#.into(),
            detail: None,
            last_error: Some("聚合超时".into()),
            created_at: now,
            updated_at: now,
            next_check_at: now,
        };
        let g = grab_from_row(&row, now);
        assert_eq!(g.phase, GrabPhase::Grabbing);
        assert_eq!(g.watch, "回家 抢票");
        assert!(g.trains.is_empty());
        let error = g.last_error.unwrap();
        assert!(
            error.starts_with("stored order summary unreadable (") && error.ends_with("; 聚合超时"),
            "{error}"
        );
        assert!(!error.contains("110101199003074514"), "{error}");
    }

    fn change(t: &str, date: NaiveDate, raw: &str, available: bool) -> Change {
        Change {
            at: at(t),
            key: crate::decide::SeatKey {
                date,
                train: "G1".into(),
                seat: SeatClass::Second,
            },
            raw: raw.into(),
            count: raw.parse().ok(),
            price_jiao: None,
            available,
        }
    }

    #[test]
    fn an_alert_email_marks_the_dates_that_came_back_in_its_cycle_and_train_alerts_fill_the_rest() {
        let d1 = NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        let d2 = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
        let changes = vec![
            change("2026-12-01T08:00:00+08:00", d1, "无", false),
            change("2026-12-01T08:00:00+08:00", d2, "无", false),
            change("2026-12-01T09:00:00+08:00", d1, "3", true),
            // d2 comes back an hour later; its alert email is queued a few seconds after.
            change("2026-12-01T10:00:00+08:00", d2, "有", true),
        ];
        let emails = [at("2026-12-01T09:00:04+08:00"), at("2026-12-01T10:00:02+08:00")];
        let last_alerts = [
            // The same alert as the second email (recorded at the poll, before the email).
            (d2, at("2026-12-01T10:00:00+08:00")),
            // An alert with no email matched (a return alerted when its gap ended).
            (d1, at("2026-12-01T11:30:00+08:00")),
        ];
        let m = alert_moments(&last_alerts, &emails, &changes);
        assert_eq!(
            m,
            vec![
                AlertMoment {
                    at: at("2026-12-01T09:00:04+08:00"),
                    date: d1
                },
                AlertMoment {
                    at: at("2026-12-01T11:30:00+08:00"),
                    date: d1
                },
                AlertMoment {
                    at: at("2026-12-01T10:00:02+08:00"),
                    date: d2
                },
            ]
        );
    }

    #[test]
    fn a_push_channel_shows_its_name_kind_and_counts_and_a_masked_error_never_its_url() {
        let c = crate::status::report::ChannelReport {
            name: "iphone".into(),
            kind: Some("bark".into()),
            url: Some("https://api.day.app/***".into()),
            in_settings: true,
            sent: 3,
            pending: 1,
            failed: 0,
            dropped: 0,
            last_sent_at: None,
            last_error: Some("503 from the service; caller 13812345678".into()),
        };
        let v = channel_from_report(&c);
        assert_eq!(
            (v.channel.as_str(), v.sent, v.pending, v.failed),
            ("iphone (bark)", 3, 1, 0)
        );
        let e = v.last_error.clone().unwrap();
        assert!(!e.contains("13812345678"), "{e}");
        assert!(!format!("{v:?}").contains("api.day.app"));
    }

    #[test]
    fn assembling_adds_history_seats_outbox_and_what_the_daemon_knows_of_12306() {
        let now = at("2026-12-01T12:00:00+08:00");
        let d = NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        let report = StatusReport {
            database: "yupiao.db".into(),
            daemon_pid: None,
            daemon_running: true,
            daemon_started_at: None,
            database_write_error: None,
            database_write_error_since: None,
            emails_held: 0,
            daemon_last_seen: None,
            running_list: None,
            watchlist_error: Some("watchlist.toml:3:7: unknown station".into()),
            watchlist_error_at: None,
            query_endpoint: Some("leftTicket/queryZ".into()),
            history_rows: 2,
            email_problem: None,
            channels: Vec::new(),
            rail_clock: None,
            watches: vec![WatchReport {
                sale: Vec::new(),
                name: "w".into(),
                schedule: "every 1m".into(),
                in_watchlist: true,
                route: String::new(),
                dates: vec![d],
                action: "alert".into(),
                next_run: None,
                next: crate::status::NextRun::DaemonStopped,
                no_match: Vec::new(),
                last_poll: None,
                outcome: Some("ok".into()),
                last_error: None,
                consecutive_failures: 0,
                backoff_level: 0,
                backoff_until: None,
                finished: false,
                last_change: None,
                available: Vec::new(),
                alerts_sent: 1,
                alerts_pending: 0,
                email_error: None,
                alerts_failed: 0,
            }],
            waitlists: Vec::new(),
            problems: Vec::new(),
        };
        let mut history = crate::store::PageHistory::default();
        history.changes.insert(
            "w".into(),
            vec![
                change("2026-12-01T08:00:00+08:00", d, "无", false),
                change("2026-12-01T09:00:00+08:00", d, "3", true),
            ],
        );
        history
            .alert_emails
            .insert("w".into(), vec![at("2026-12-01T09:00:03+08:00")]);
        history.email = OutboxCounts {
            sent: 1,
            pending: 2,
            failed: 3,
        };
        let seat = SeatNow {
            date: d,
            train: "G1".into(),
            seat: SeatClass::Second,
            level: Level::Seats(0),
            available: false,
        };
        let extras = Extras {
            history: Some(&history),
            seats: vec![("w".into(), vec![seat.clone()])],
            grabs: Vec::new(),
            email_problem: Some(("550 rejected 13812345678".into(), now)),
            rail: RailLive {
                endpoint: Some("leftTicket/queryG".into()),
                requests_5min: Some(12),
                backoff: None,
                clock_offset_ms: Some(-350),
            },
        };
        let v = assemble(&report, None, &Settings::default(), &extras, now);
        let w = &v.watches[0];
        assert_eq!(w.seats_now, vec![seat], "every seat, available or not");
        assert_eq!(w.timelines.len(), 1);
        assert_eq!(w.timelines[0].series[0].points.len(), 2);
        assert_eq!(w.timelines[0].alerts, vec![at("2026-12-01T09:00:03+08:00")]);
        assert_eq!(w.came_back.total(), 1);
        assert_eq!(w.came_back.counts[9], 1);
        assert_eq!(v.outbox.len(), 1);
        let email = &v.outbox[0];
        assert_eq!(
            (email.channel.as_str(), email.sent, email.pending, email.failed),
            ("email", 1, 2, 3)
        );
        let error = email.last_error.as_deref().unwrap();
        assert!(
            error.starts_with("550 rejected") && !error.contains("13812345678"),
            "{error}"
        );
        assert_eq!(
            v.rail.endpoint.as_deref(),
            Some("leftTicket/queryG"),
            "the live endpoint wins"
        );
        assert_eq!(v.rail.requests_5min, Some(12));
        assert_eq!(v.rail.clock_offset_ms, Some(-350));
        assert_eq!(
            v.rejected_edit.unwrap().errors,
            vec!["watchlist.toml:3:7: unknown station".to_string()]
        );
    }
}
