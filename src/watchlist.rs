//! `watchlist.toml` → validated [`Watch`] values, with every problem reported as `file:line:col`.
//!
//! HELPER-OWNED: the types below are the agreed interface; the helper fills in parsing and tests.

use std::fmt;
use std::time::Duration;

use chrono::{NaiveDate, NaiveTime};

use crate::seat::SeatClass;
use crate::stations::Station;

/// A validated watch list.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchList {
    pub watches: Vec<Watch>,
}

/// One `[[watch]]`: a route, dates, and what counts as a hit.
#[derive(Debug, Clone, PartialEq)]
pub struct Watch {
    /// Unique within the list; the key of everything stored about this watch.
    pub name: String,
    pub from: Station,
    pub to: Station,
    /// Accept any station of the from/to cities (12306 widens queries itself).
    pub same_city: bool,
    /// Every date, expanded from lists and ranges, sorted, deduplicated (past dates included:
    /// they drop out at poll time).
    pub dates: Vec<NaiveDate>,
    /// Include list; empty = every train.
    pub trains: Vec<TrainPattern>,
    pub exclude_trains: Vec<TrainPattern>,
    /// Departure window at the boarding station.
    pub depart: Option<TimeWindow>,
    /// Arrival window at the alighting station.
    pub arrive: Option<TimeWindow>,
    /// Priority list; empty = any class.
    pub seats: Vec<SeatClass>,
    /// Seats needed (≥ 1).
    pub passengers: u32,
    /// Student tickets (`purpose_codes=0X00`).
    pub student: bool,
    pub schedule: Schedule,
    /// Recipients; empty = the `[email]` default recipients.
    pub notify: Vec<String>,
    pub action: WatchAction,
    /// 1-based line of the `[[watch]]` header, for messages.
    pub line: usize,
}

/// A train code pattern: `G8294` (exact) or `G*` (prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainPattern {
    /// Upper-case code or prefix.
    pub text: String,
    /// True when written with a trailing `*`.
    pub prefix: bool,
}

/// `"07:00-12:00"`; a window whose end is before its start wraps past midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

/// When a watch is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Every this long.
    Every(Duration),
    /// A 6-field cron expression (seconds first), Asia/Shanghai.
    Cron(String),
}

/// What to do when seats appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WatchAction {
    Alert,
    Grab,
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem found in a file, printed as `file:line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub col: usize,
    pub severity: Severity,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "",
            Severity::Warning => "warning: ",
        };
        write!(
            f,
            "{}:{}:{}: {}{}",
            self.file, self.line, self.col, sev, self.message
        )
    }
}
