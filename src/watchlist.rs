//! `watchlist.toml` → validated [`Watch`] values, with every problem reported as `file:line:col`.
//!
//! The watch list is the one file users edit by hand, often in a hurry before a holiday rush, and
//! the daemon re-reads it for weeks. So it is checked up front and completely: every problem in
//! the file is reported at once, each at the position of the offending key or value, with a
//! suggestion where one can be made (`watchlist.toml:12:8: unknown station "北京难" (did you mean
//! 北京南?)`). Nothing downstream ever sees an unvalidated station name, date or seat class.
//!
//! It works in two steps: the TOML document (parsed with `toml_edit`, which keeps byte spans) is
//! read into raw, position-carrying values (unknown keys, wrong types and missing keys are caught
//! here), then each raw watch is validated into a [`Watch`] (stations resolved to telecodes, dates
//! expanded, patterns, windows, seats and schedules checked). A TOML syntax error stops at step one
//! and is itself reported with its position.
//!
//! # Format
//!
//! ```toml
//! # Optional defaults for every [[watch]].
//! [defaults]
//! every = "1m"                  # schedule for watches with neither every nor cron (built in: "1m")
//! # cron = "0 */2 * * * *"      # alternative to every (the two are mutually exclusive)
//! notify = ["me@example.com"]   # recipients for watches without notify
//!
//! [[watch]]                     # one table per route; repeat for more
//! name = "上海→常州 周末"          # required, unique: the key of everything stored about it
//! from = "上海虹桥"                # required: Chinese name, full pinyin, short pinyin or telecode
//! to = "常州"                     # required, a different station
//! same_city = false               # also accept the other stations of both cities
//! dates = ["2026-12-01", "2026-12-03..2026-12-05"]  # required: YYYY-MM-DD (zero-padded) or
//!                                                   # inclusive ranges of at most 60 days
//! trains = ["G*", "D3010"]        # only these trains: exact codes or prefixes ending in *
//! exclude_trains = ["G7*"]        # never these
//! depart = "07:00-12:00"          # departure window, H:MM or HH:MM; "22:00-02:00" wraps midnight
//! arrive = "08:00-13:30"          # arrival window
//! seats = ["二等座", "一等座"]       # seat classes in order of preference; absent = any class
//! passengers = 2                  # seats needed, 1 to 9 (default 1)
//! student = false                 # student tickets
//! every = "30s"                   # how often to check, at least 5s (12306 throttles), or
//! # cron = "0 */2 7-22 * * *"     # a 6-field cron expression, seconds first (Asia/Shanghai)
//! notify = ["a@b.cn"]             # recipients (default: [defaults] notify, then [email])
//! action = "alert"                # "alert" (default) or "grab"
//! ```
//!
//! Dates in the past are warnings, not errors: the file outlives its dates. A file without
//! any `[[watch]]` is valid and watches nothing (with a warning).
//!
//! ```toml
//! [[waitlist]]                  # follow your 候补 (waitlist) orders; needs [rail] cookie
//! name = "我的候补"               # required, unique among waitlists
//! reserve_no = "E87000007466000022"  # optional: only this order (default: any)
//! every = "2m"                  # or cron; default 2m (not [defaults]: logged-in calls are
//!                               # watched more closely by 12306)
//! notify = ["me@example.com"]   # default: [defaults] notify, then [email]
//! ```

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use chrono::{NaiveDate, NaiveTime};
use toml_edit::{Item, TableLike, Value};

use crate::seat::SeatClass;
use crate::stations::{Lookup, Station, StationTable, levenshtein};

/// A validated watch list.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WatchList {
    pub watches: Vec<Watch>,
    /// `[[waitlist]]` entries: the user's 候补 orders to follow.
    pub waitlists: Vec<WaitlistWatch>,
}

/// One `[[waitlist]]`: follow the user's 候补 (waitlist) orders on 12306 (needs `[rail] cookie`).
#[derive(Debug, Clone, PartialEq)]
pub struct WaitlistWatch {
    /// Unique among waitlists; the key of what is stored about it.
    pub name: String,
    /// Only this order (`E87000007466000022`); `None` = whatever order the account has.
    pub reserve_no: Option<String>,
    pub schedule: Schedule,
    /// Recipients; empty = the `[email]` default recipients.
    pub notify: Vec<String>,
    /// 1-based line of the `[[waitlist]]` header.
    pub line: usize,
}

/// How often a `[[waitlist]]` is polled when it says nothing: logged-in calls are the ones 12306
/// watches most closely, and 候补 changes are slow.
pub const DEFAULT_WAITLIST_EVERY: Duration = Duration::from_secs(120);

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

/// Schedule of a watch that sets neither `every` nor `cron`, when `[defaults]` sets neither.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(60);
/// Shortest `every`: 12306 throttles clients that poll faster.
pub const MIN_EVERY: Duration = Duration::from_secs(5);
/// Most passengers 12306 sells to in one order.
pub const MAX_PASSENGERS: u32 = 9;
/// Longest date range, in days (inclusive).
pub const MAX_RANGE_DAYS: i64 = 60;

const TOP_KEYS: &[&str] = &["defaults", "watch", "waitlist"];
const DEFAULTS_KEYS: &[&str] = &["every", "cron", "notify"];
const WAITLIST_KEYS: &[&str] = &["name", "reserve_no", "every", "cron", "notify"];
const WATCH_KEYS: &[&str] = &[
    "name",
    "from",
    "to",
    "same_city",
    "dates",
    "trains",
    "exclude_trains",
    "depart",
    "arrive",
    "seats",
    "passengers",
    "student",
    "every",
    "cron",
    "notify",
    "action",
];
const REQUIRED_WATCH_KEYS: &[&str] = &["name", "from", "to", "dates"];
const CRON_EXAMPLE: &str = "\"0 */5 * * * *\"";
const CRON_FIELDS: [&str; 6] = [
    "seconds",
    "minutes",
    "hours",
    "day-of-month",
    "month",
    "day-of-week",
];

impl TrainPattern {
    /// Whether a train code (`G8294`) is this exact code or starts with this prefix.
    pub fn matches(&self, station_train_code: &str) -> bool {
        let code = station_train_code.trim();
        if self.prefix {
            code.get(..self.text.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(&self.text))
        } else {
            code.eq_ignore_ascii_case(&self.text)
        }
    }
}

impl fmt::Display for TrainPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.text, if self.prefix { "*" } else { "" })
    }
}

impl TimeWindow {
    /// Whether `t` falls in the window, both ends included; a window whose end is before its
    /// start runs past midnight (`22:00-02:00` contains 23:30 and 01:00).
    pub fn contains(&self, t: NaiveTime) -> bool {
        if self.start <= self.end {
            self.start <= t && t <= self.end
        } else {
            t >= self.start || t <= self.end
        }
    }
}

impl fmt::Display for TimeWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start.format("%H:%M"), self.end.format("%H:%M"))
    }
}

impl Watch {
    /// The dates still worth querying: `today` and later, in order.
    pub fn query_dates(&self, today: NaiveDate) -> impl Iterator<Item = NaiveDate> {
        self.dates.iter().copied().filter(move |d| *d >= today)
    }
}

/// Reads and validates the watch list at `path` against the embedded station table.
///
/// An unreadable file is a single diagnostic at 1:1; `file` in every diagnostic is `path` as
/// given. See [`parse`] for the rest.
pub fn load(path: &Path, today: NaiveDate) -> Result<(WatchList, Vec<Diagnostic>), Vec<Diagnostic>> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, &file, today, StationTable::embedded()),
        Err(e) => {
            let advice = match e.kind() {
                std::io::ErrorKind::NotFound => {
                    "create it with one [[watch]] table per route (see the watch list format in the README)"
                }
                std::io::ErrorKind::InvalidData => "save it as UTF-8",
                _ => "check that the path is right and the file is readable",
            };
            Err(vec![Diagnostic {
                file,
                line: 1,
                col: 1,
                severity: Severity::Error,
                message: format!("cannot read the watch list: {e}; {advice}"),
            }])
        }
    }
}

/// Parses and validates a watch list (the format is in the [module docs](self)).
///
/// Every problem is collected, in file order. `Ok` carries the list and its warnings (past
/// dates, duplicate seats, an empty list); `Err` carries every diagnostic, at least one of them
/// an error. `today` (Asia/Shanghai) only decides which dates are reported as past.
pub fn parse(
    text: &str,
    file: &str,
    today: NaiveDate,
    stations: &StationTable,
) -> Result<(WatchList, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut report = Report::new(file, text);
    let doc = match toml_edit::Document::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let at = e.span().map_or(0, |s| s.start);
            report.error(at, syntax_message(&e, text));
            return Err(report.finish());
        }
    };
    let raw = read_document(doc.as_table(), &mut report);
    let list = validate(raw, today, stations, &mut report);
    if report.has_errors() {
        Err(report.finish())
    } else {
        Ok((list, report.finish()))
    }
}

fn syntax_message(e: &toml_edit::TomlError, text: &str) -> String {
    let what = e
        .span()
        .filter(|s| !s.is_empty() && s.len() <= 60)
        .and_then(|s| text.get(s))
        .map(|s| format!(" (at `{s}`)"))
        .unwrap_or_default();
    format!("TOML syntax error: {}{what}", e.message())
}

// ---------------------------------------------------------------------------------------------
// Positions and the diagnostics collector

/// Turns byte offsets into 1-based line and character column and collects diagnostics.
struct Report {
    file: String,
    text: String,
    line_starts: Vec<usize>,
    diags: Vec<(usize, Diagnostic)>,
}

impl Report {
    fn new(file: &str, text: &str) -> Report {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Report {
            file: file.to_string(),
            text: text.to_string(),
            line_starts,
            diags: Vec::new(),
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let mut start = self.line_starts[line - 1];
        if start == 0 && self.text.starts_with('\u{feff}') && offset >= 3 {
            start = 3;
        }
        let col = self.text.get(start..offset).map_or(1, |s| s.chars().count() + 1);
        (line, col)
    }

    fn push(&mut self, severity: Severity, at: usize, message: String) {
        let (line, col) = self.position(at);
        let diag = Diagnostic {
            file: self.file.clone(),
            line,
            col,
            severity,
            message,
        };
        self.diags.push((at, diag));
    }

    fn error(&mut self, at: usize, message: impl Into<String>) {
        self.push(Severity::Error, at, message.into());
    }

    fn warning(&mut self, at: usize, message: impl Into<String>) {
        self.push(Severity::Warning, at, message.into());
    }

    fn has_errors(&self) -> bool {
        self.diags.iter().any(|(_, d)| d.severity == Severity::Error)
    }

    /// Every diagnostic in file order (stable: same-position ones keep their order).
    fn finish(mut self) -> Vec<Diagnostic> {
        self.diags.sort_by_key(|(at, _)| *at);
        self.diags.into_iter().map(|(_, d)| d).collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Step 1: TOML document → raw values with positions

/// A value and the byte offset where it was written.
#[derive(Debug, Clone)]
struct Spanned<T> {
    value: T,
    at: usize,
}

type RawList = Spanned<Vec<Spanned<String>>>;

#[derive(Debug, Default)]
struct RawSchedule {
    every: Option<Spanned<String>>,
    cron: Option<Spanned<String>>,
}

#[derive(Debug, Default)]
struct RawDefaults {
    schedule: RawSchedule,
    notify: Option<RawList>,
}

/// One `[[waitlist]]` as written.
#[derive(Debug, Default)]
struct RawWaitlist {
    at: usize,
    name: Option<Spanned<String>>,
    reserve_no: Option<Spanned<String>>,
    schedule: RawSchedule,
    notify: Option<RawList>,
}

/// One `[[watch]]` as written: types checked, nothing else.
#[derive(Debug, Default)]
struct RawWatch {
    /// Offset of the `[[watch]]` header.
    at: usize,
    name: Option<Spanned<String>>,
    from: Option<Spanned<String>>,
    to: Option<Spanned<String>>,
    same_city: Option<bool>,
    dates: Option<RawList>,
    trains: Option<RawList>,
    exclude_trains: Option<RawList>,
    depart: Option<Spanned<String>>,
    arrive: Option<Spanned<String>>,
    seats: Option<RawList>,
    passengers: Option<Spanned<i64>>,
    student: Option<bool>,
    schedule: RawSchedule,
    notify: Option<RawList>,
    action: Option<Spanned<String>>,
}

#[derive(Debug, Default)]
struct RawDocument {
    defaults: RawDefaults,
    watches: Vec<RawWatch>,
    waitlists: Vec<RawWaitlist>,
    /// `watch` is neither `[[watch]]` nor an array of inline tables (already reported, so the
    /// empty-list warning would only repeat it).
    watch_malformed: bool,
}

fn span_start(span: Option<std::ops::Range<usize>>) -> usize {
    span.map_or(0, |s| s.start)
}

/// "a string", "an integer": type names as `toml_edit` spells them, with an article.
fn with_article(type_name: &str) -> String {
    let article = match type_name.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    };
    format!("{article} {type_name}")
}

/// The known key closest to `key`, when it is close enough to be a likely typo.
fn nearest_key<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    let limit = (key.chars().count() / 4).max(1);
    known
        .iter()
        .map(|k| (levenshtein(key, k), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn read_document(root: &toml_edit::Table, r: &mut Report) -> RawDocument {
    let mut raw = RawDocument::default();
    for (key, item) in root.iter() {
        let key_at = span_start(root.key(key).and_then(|k| k.span()));
        match key {
            "defaults" => match item.as_table_like() {
                Some(t) => raw.defaults = read_defaults(t, r),
                None => r.error(
                    span_start(item.span()),
                    format!(
                        "defaults must be a table ([defaults]), found {}",
                        with_article(item.type_name())
                    ),
                ),
            },
            "watch" => match read_watches(item, key_at, r) {
                Some(watches) => raw.watches = watches,
                None => raw.watch_malformed = true,
            },
            "waitlist" => raw.waitlists = read_waitlists(item, key_at, r),
            _ => unknown_top_level(key, item, key_at, r),
        }
    }
    raw
}

fn unknown_top_level(key: &str, item: &Item, at: usize, r: &mut Report) {
    let (what, open, close) = match item {
        Item::ArrayOfTables(_) => ("table", "[[", "]]"),
        Item::Table(_) => ("table", "[", "]"),
        _ => ("top-level key", "\"", "\""),
    };
    let hint = nearest_key(key, TOP_KEYS)
        .map(|k| format!(" (did you mean {open}{k}{close}?)"))
        .unwrap_or_else(|| " (known: [defaults], [[watch]], [[waitlist]])".to_string());
    r.error(at, format!("unknown {what} {open}{key}{close}{hint}"));
}

fn read_watches(item: &Item, key_at: usize, r: &mut Report) -> Option<Vec<RawWatch>> {
    let tables: Vec<(usize, &dyn TableLike)> = match item {
        Item::ArrayOfTables(aot) => aot
            .iter()
            .map(|t| (span_start(t.span()), t as &dyn TableLike))
            .collect(),
        Item::Value(Value::Array(a)) if a.iter().all(|v| v.as_inline_table().is_some()) => a
            .iter()
            .filter_map(|v| {
                v.as_inline_table()
                    .map(|t| (span_start(v.span()), t as &dyn TableLike))
            })
            .collect(),
        Item::Table(_) => {
            r.error(
                key_at,
                "write [[watch]] (double brackets, one per watch), not [watch]",
            );
            return None;
        }
        other => {
            r.error(
                span_start(other.span()),
                format!(
                    "watch must be an array of tables ([[watch]]), found {}",
                    with_article(other.type_name())
                ),
            );
            return None;
        }
    };
    let watches = tables
        .into_iter()
        .map(|(at, t)| read_watch(&Section::new(t, "[[watch]]", WATCH_KEYS), at, r))
        .collect();
    Some(watches)
}

fn read_waitlists(item: &Item, key_at: usize, r: &mut Report) -> Vec<RawWaitlist> {
    let Item::ArrayOfTables(aot) = item else {
        r.error(key_at, "write [[waitlist]] (double brackets, one per entry)");
        return Vec::new();
    };
    aot.iter()
        .map(|t| {
            let at = span_start(t.span());
            let s = Section::new(t, "[[waitlist]]", WAITLIST_KEYS);
            s.check_keys(r);
            if s.table.get("name").is_none() {
                r.error(at, "[[waitlist]] is missing the required key \"name\"");
            }
            RawWaitlist {
                at,
                name: s.string("name", r),
                reserve_no: s.string("reserve_no", r),
                schedule: RawSchedule {
                    every: s.string("every", r),
                    cron: s.string("cron", r),
                },
                notify: s.strings("notify", r),
            }
        })
        .collect()
}

fn read_defaults(t: &dyn TableLike, r: &mut Report) -> RawDefaults {
    let s = Section::new(t, "[defaults]", DEFAULTS_KEYS);
    s.check_keys(r);
    RawDefaults {
        schedule: RawSchedule {
            every: s.string("every", r),
            cron: s.string("cron", r),
        },
        notify: s.strings("notify", r),
    }
}

fn read_watch(s: &Section<'_>, at: usize, r: &mut Report) -> RawWatch {
    s.check_keys(r);
    for key in REQUIRED_WATCH_KEYS {
        if s.table.get(key).is_none() {
            r.error(at, format!("[[watch]] is missing the required key \"{key}\""));
        }
    }
    RawWatch {
        at,
        name: s.string("name", r),
        from: s.string("from", r),
        to: s.string("to", r),
        same_city: s.boolean("same_city", r),
        dates: s.dates(r),
        trains: s.strings("trains", r),
        exclude_trains: s.strings("exclude_trains", r),
        depart: s.string("depart", r),
        arrive: s.string("arrive", r),
        seats: s.strings("seats", r),
        passengers: s.integer("passengers", r),
        student: s.boolean("student", r),
        schedule: RawSchedule {
            every: s.string("every", r),
            cron: s.string("cron", r),
        },
        notify: s.strings("notify", r),
        action: s.string("action", r),
    }
}

/// A table being read: knows its keys and how to report type errors at the right place.
struct Section<'t> {
    table: &'t dyn TableLike,
    name: &'static str,
    known: &'static [&'static str],
}

impl<'t> Section<'t> {
    fn new(table: &'t dyn TableLike, name: &'static str, known: &'static [&'static str]) -> Self {
        Section { table, name, known }
    }

    fn key_at(&self, key: &str) -> usize {
        span_start(self.table.key(key).and_then(|k| k.span()))
    }

    /// Where a value was written (the key for implicit tables, which have no value text).
    fn value_at(&self, key: &str, item: &Item) -> usize {
        item.span().map_or_else(|| self.key_at(key), |s| s.start)
    }

    fn check_keys(&self, r: &mut Report) {
        for (key, _) in self.table.iter() {
            if self.known.contains(&key) {
                continue;
            }
            let hint = nearest_key(key, self.known)
                .map(|k| format!(" (did you mean \"{k}\"?)"))
                .unwrap_or_default();
            r.error(
                self.key_at(key),
                format!("unknown key \"{key}\" in {}{hint}", self.name),
            );
        }
    }

    fn wrong_type(&self, key: &str, item: &Item, expected: &str, hint: String, r: &mut Report) {
        r.error(
            self.value_at(key, item),
            format!(
                "{key} must be {expected}, found {}{hint}",
                with_article(item.type_name())
            ),
        );
    }

    /// What is written for `key`, if anything.
    fn get(&self, key: &str) -> Option<&'t Item> {
        self.table.get(key)
    }

    fn string(&self, key: &str, r: &mut Report) -> Option<Spanned<String>> {
        let item = self.get(key)?;
        match item.as_str() {
            Some(v) => Some(Spanned {
                value: v.to_string(),
                at: self.value_at(key, item),
            }),
            None => {
                let hint = match item.as_value() {
                    Some(Value::Integer(_) | Value::Float(_)) => {
                        format!(" (quote it: {key} = \"{}\")", item.to_string().trim())
                    }
                    _ => String::new(),
                };
                self.wrong_type(key, item, "a string", hint, r);
                None
            }
        }
    }

    fn boolean(&self, key: &str, r: &mut Report) -> Option<bool> {
        let item = self.get(key)?;
        if let Some(v) = item.as_bool() {
            return Some(v);
        }
        let hint = match item.as_str() {
            Some(s @ ("true" | "false")) => format!(" (write {key} = {s}, without quotes)"),
            _ => " (true or false)".to_string(),
        };
        self.wrong_type(key, item, "a boolean", hint, r);
        None
    }

    fn integer(&self, key: &str, r: &mut Report) -> Option<Spanned<i64>> {
        let item = self.get(key)?;
        if let Some(v) = item.as_integer() {
            return Some(Spanned {
                value: v,
                at: self.value_at(key, item),
            });
        }
        let hint = match item.as_str().map(|s| s.trim().parse::<i64>()) {
            Some(Ok(n)) => format!(" (write {key} = {n}, without quotes)"),
            _ => String::new(),
        };
        self.wrong_type(key, item, "an integer", hint, r);
        None
    }

    /// An array of strings; elements of other types are reported one by one.
    fn strings(&self, key: &str, r: &mut Report) -> Option<RawList> {
        self.list(key, "an array of strings", r, |v| v.as_str().map(str::to_string))
    }

    /// `dates`: strings, or TOML local dates written without quotes.
    fn dates(&self, r: &mut Report) -> Option<RawList> {
        self.list("dates", "an array of dates", r, |v| match v {
            Value::String(s) => Some(s.value().clone()),
            Value::Datetime(d) => {
                let d = d.value();
                (d.time.is_none() && d.offset.is_none()).then(|| d.to_string())
            }
            _ => None,
        })
    }

    fn list(
        &self,
        key: &str,
        expected: &str,
        r: &mut Report,
        element: impl Fn(&Value) -> Option<String>,
    ) -> Option<RawList> {
        let item = self.get(key)?;
        let Some(array) = item.as_array() else {
            let hint = item
                .as_str()
                .map(|s| format!(" (write {key} = [\"{s}\"])"))
                .unwrap_or_default();
            self.wrong_type(key, item, expected, hint, r);
            return None;
        };
        let mut values = Vec::new();
        let mut ok = true;
        for v in array.iter() {
            let at = span_start(v.span());
            match element(v) {
                Some(value) => values.push(Spanned { value, at }),
                None => {
                    ok = false;
                    let wanted = expected.trim_start_matches("an array of ");
                    r.error(
                        at,
                        format!(
                            "{key} must hold only {wanted}, found {}",
                            with_article(v.type_name())
                        ),
                    );
                }
            }
        }
        ok.then(|| Spanned {
            value: values,
            at: self.value_at(key, item),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Step 2: raw values → validated watches

/// What a level (`[defaults]` or one `[[watch]]`) says about a setting.
enum Setting<T> {
    Unset,
    Set(T),
    /// Written but wrong; already reported.
    Invalid,
}

struct Defaults {
    schedule: Option<Schedule>,
    notify: Vec<String>,
}

struct Context<'a> {
    today: NaiveDate,
    stations: &'a StationTable,
    defaults: Defaults,
}

fn validate(raw: RawDocument, today: NaiveDate, stations: &StationTable, r: &mut Report) -> WatchList {
    let defaults = Defaults {
        schedule: match schedule(&raw.defaults.schedule, r) {
            Setting::Set(s) => Some(s),
            Setting::Unset | Setting::Invalid => None,
        },
        notify: raw
            .defaults
            .notify
            .as_ref()
            .and_then(|n| notify(n, r))
            .unwrap_or_default(),
    };
    let cx = Context {
        today,
        stations,
        defaults,
    };
    if raw.watches.is_empty() && raw.waitlists.is_empty() && !raw.watch_malformed {
        r.warning(0, "no [[watch]] tables: nothing will be watched");
    }
    check_unique_names(&raw.watches, r);
    let watches = raw
        .watches
        .iter()
        .filter_map(|w| validate_watch(w, &cx, r))
        .collect();
    let waitlists = validate_waitlists(&raw.waitlists, &cx, r);
    WatchList { watches, waitlists }
}

fn validate_waitlists(raw: &[RawWaitlist], cx: &Context<'_>, r: &mut Report) -> Vec<WaitlistWatch> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    for w in raw {
        let name = w.name.as_ref().and_then(|n| watch_name(n, r));
        if let (Some(n), Some(raw_name)) = (&name, &w.name) {
            if let Some(&first) = seen.get(n) {
                let (line, _) = r.position(first);
                r.error(
                    raw_name.at,
                    format!("duplicate waitlist name \"{n}\" (first used on line {line})"),
                );
            } else {
                seen.insert(n.clone(), raw_name.at);
            }
        }
        let reserve_no = match &w.reserve_no {
            None => Some(None),
            Some(s) => {
                let v = s.value.trim();
                if !v.is_empty() && v.len() <= 32 && v.chars().all(|c| c.is_ascii_alphanumeric()) {
                    Some(Some(v.to_ascii_uppercase()))
                } else {
                    r.error(
                        s.at,
                        format!(
                            "reserve_no \"{}\" is not a 候补 order number (letters and digits, like \"E87000007466000022\")",
                            s.value
                        ),
                    );
                    None
                }
            }
        };
        let schedule = match schedule(&w.schedule, r) {
            Setting::Set(s) => Some(s),
            Setting::Invalid => None,
            Setting::Unset => Some(Schedule::Every(DEFAULT_WAITLIST_EVERY)),
        };
        let notify = match &w.notify {
            Some(n) => notify(n, r),
            None => Some(cx.defaults.notify.clone()),
        };
        let (line, _) = r.position(w.at);
        if let (Some(name), Some(reserve_no), Some(schedule), Some(notify)) =
            (name, reserve_no, schedule, notify)
        {
            out.push(WaitlistWatch {
                name,
                reserve_no,
                schedule,
                notify,
                line,
            });
        }
    }
    out
}

fn check_unique_names(watches: &[RawWatch], r: &mut Report) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for name in watches.iter().filter_map(|w| w.name.as_ref()) {
        let key = name.value.trim();
        if key.is_empty() {
            continue;
        }
        match seen.get(key) {
            Some(&first) => {
                let (line, _) = r.position(first);
                r.error(
                    name.at,
                    format!("duplicate watch name \"{key}\" (first used on line {line})"),
                );
            }
            None => {
                seen.insert(key, name.at);
            }
        }
    }
}

fn validate_watch(w: &RawWatch, cx: &Context<'_>, r: &mut Report) -> Option<Watch> {
    let name = w.name.as_ref().and_then(|n| watch_name(n, r));
    let from = w.from.as_ref().and_then(|s| station(s, cx.stations, r));
    let to = w.to.as_ref().and_then(|s| station(s, cx.stations, r));
    if let (Some(f), Some(t), Some(to_raw)) = (&from, &to, &w.to)
        && f.telecode == t.telecode
    {
        r.error(
            to_raw.at,
            format!("from and to are the same station ({} {})", f.name, f.telecode),
        );
    }
    let dates = w.dates.as_ref().and_then(|d| dates(d, cx.today, w, r));
    let trains = patterns(w.trains.as_ref(), r);
    let exclude_trains = patterns(w.exclude_trains.as_ref(), r);
    let depart = optional(w.depart.as_ref(), |s| window("depart", s, r));
    let arrive = optional(w.arrive.as_ref(), |s| window("arrive", s, r));
    let seats = w.seats.as_ref().map_or(Some(Vec::new()), |s| seats(s, r));
    let passengers = w.passengers.as_ref().map_or(Some(1), |p| passengers(p, r));
    let own_schedule = schedule(&w.schedule, r);
    let notify = w.notify.as_ref().map(|n| notify(n, r));
    let action = w
        .action
        .as_ref()
        .map_or(Some(WatchAction::Alert), |a| action(a, r));

    let schedule = match own_schedule {
        Setting::Set(s) => Some(s),
        Setting::Invalid => None,
        Setting::Unset => Some(
            cx.defaults
                .schedule
                .clone()
                .unwrap_or(Schedule::Every(DEFAULT_EVERY)),
        ),
    };
    let notify = match notify {
        Some(own) => own,
        None => Some(cx.defaults.notify.clone()),
    };
    let (line, _) = r.position(w.at);
    Some(Watch {
        name: name?,
        from: from?,
        to: to?,
        same_city: w.same_city.unwrap_or(false),
        dates: dates?,
        trains: trains?,
        exclude_trains: exclude_trains?,
        depart: depart?,
        arrive: arrive?,
        seats: seats?,
        passengers: passengers?,
        student: w.student.unwrap_or(false),
        schedule: schedule?,
        notify: notify?,
        action: action?,
        line,
    })
}

/// `None` = invalid (reported); `Some(None)` = not written.
fn optional<T>(
    raw: Option<&Spanned<String>>,
    validate: impl FnOnce(&Spanned<String>) -> Option<T>,
) -> Option<Option<T>> {
    match raw {
        None => Some(None),
        Some(s) => validate(s).map(Some),
    }
}

fn watch_name(name: &Spanned<String>, r: &mut Report) -> Option<String> {
    let trimmed = name.value.trim();
    if trimmed.is_empty() {
        r.error(name.at, "name is empty; give each watch a unique name");
        return None;
    }
    Some(trimmed.to_string())
}

fn station(text: &Spanned<String>, stations: &StationTable, r: &mut Report) -> Option<Station> {
    let t = &text.value;
    match stations.lookup(t) {
        Lookup::Found(s) => return Some(s.clone()),
        Lookup::Ambiguous(candidates) => {
            let list: Vec<String> = candidates
                .iter()
                .map(|s| format!("{} {}", s.name, s.telecode))
                .collect();
            r.error(
                text.at,
                format!(
                    "station \"{t}\" is ambiguous: {}; write the Chinese name or the telecode",
                    list.join(", ")
                ),
            );
        }
        Lookup::NotFound(nearest) if nearest.is_empty() => r.error(
            text.at,
            format!("unknown station \"{t}\" (search with `yupiao stations {t}`)"),
        ),
        Lookup::NotFound(nearest) => {
            let ascii = t.is_ascii();
            let list: Vec<String> = nearest
                .iter()
                .map(|s| {
                    if ascii {
                        format!("{} ({})", s.name, s.pinyin)
                    } else {
                        s.name.clone()
                    }
                })
                .collect();
            r.error(
                text.at,
                format!("unknown station \"{t}\" (did you mean {}?)", list.join(", ")),
            );
        }
    }
    None
}

// --- dates

/// One entry of `dates`: a day or an inclusive range.
fn date_entry(text: &str) -> Result<(NaiveDate, NaiveDate), String> {
    let Some((a, b)) = text.split_once("..") else {
        let day = day(text)?;
        return Ok((day, day));
    };
    let (first, last) = (day(a.trim())?, day(b.trim())?);
    if last < first {
        return Err(format!(
            "date range \"{text}\" is reversed (did you mean \"{last}..{first}\"?)"
        ));
    }
    let days = (last - first).num_days() + 1;
    if days > MAX_RANGE_DAYS {
        return Err(format!(
            "date range \"{text}\" covers {days} days; a range may cover at most {MAX_RANGE_DAYS}"
        ));
    }
    Ok((first, last))
}

/// `YYYY-MM-DD`, zero-padded: 12306 answers unpadded dates with a redirect, not data.
fn day(text: &str) -> Result<NaiveDate, String> {
    let expected = "expected YYYY-MM-DD, zero-padded, e.g. \"2026-12-01\"";
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    let numbers: Vec<u32> = text.split('-').filter_map(|p| p.parse().ok()).collect();
    let calendar = match numbers.as_slice() {
        [y, m, d] if text.split('-').count() == 3 => i32::try_from(*y)
            .ok()
            .and_then(|y| NaiveDate::from_ymd_opt(y, *m, *d)),
        _ => None,
    };
    match (shaped, calendar) {
        (true, Some(date)) => Ok(date),
        (false, Some(date)) => Err(format!(
            "invalid date \"{text}\": {expected} (did you mean \"{date}\"?)"
        )),
        (true, None) => {
            let why = match numbers.get(1) {
                Some(m) if !(1..=12).contains(m) => format!("there is no month {m}"),
                _ => "no such day".to_string(),
            };
            Err(format!("invalid date \"{text}\": {why} ({expected})"))
        }
        (false, None) => Err(format!("invalid date \"{text}\": {expected}")),
    }
}

fn dates(list: &RawList, today: NaiveDate, watch: &RawWatch, r: &mut Report) -> Option<Vec<NaiveDate>> {
    if list.value.is_empty() {
        r.error(
            list.at,
            "dates is empty; give at least one date, e.g. [\"2026-12-01\"]",
        );
        return None;
    }
    let mut ranges = Vec::new();
    for entry in &list.value {
        match date_entry(entry.value.trim()) {
            Ok(range) => ranges.push((entry, range)),
            Err(message) => r.error(entry.at, message),
        }
    }
    if ranges.len() < list.value.len() {
        return None;
    }
    let past = |(_, last): &(NaiveDate, NaiveDate)| *last < today;
    if ranges.iter().all(|(_, range)| past(range)) {
        let name = watch
            .name
            .as_ref()
            .map(|n| format!("watch \"{}\": ", n.value.trim()))
            .unwrap_or_default();
        r.warning(
            watch.at,
            format!("{name}every date has passed; this watch is finished"),
        );
    } else {
        for (entry, range) in ranges.iter().filter(|(_, range)| past(range)) {
            let what = if range.0 == range.1 { "date" } else { "date range" };
            r.warning(
                entry.at,
                format!(
                    "{what} \"{}\" is in the past and will be skipped",
                    entry.value.trim()
                ),
            );
        }
    }
    let mut days: Vec<NaiveDate> = ranges
        .iter()
        .flat_map(|(_, (first, last))| first.iter_days().take_while(move |d| d <= last))
        .collect();
    days.sort();
    days.dedup();
    Some(days)
}

// --- trains, windows, seats, passengers

fn pattern(text: &str) -> Result<TrainPattern, String> {
    let upper = text.trim().to_ascii_uppercase();
    let (body, prefix) = match upper.strip_suffix('*') {
        Some(body) => (body, true),
        None => (upper.as_str(), false),
    };
    if body.is_empty() {
        return Err(format!(
            "train pattern \"{text}\" matches nothing specific; write a code like \"G1234\" or a prefix like \"G*\" (leave trains out to accept every train)"
        ));
    }
    if !body.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!(
            "invalid train pattern \"{text}\": expected a code like \"G1234\" or a prefix like \"G*\" (only a trailing * is allowed)"
        ));
    }
    Ok(TrainPattern {
        text: body.to_string(),
        prefix,
    })
}

fn patterns(list: Option<&RawList>, r: &mut Report) -> Option<Vec<TrainPattern>> {
    let Some(list) = list else {
        return Some(Vec::new());
    };
    let mut out = Vec::new();
    let mut ok = true;
    for entry in &list.value {
        match pattern(&entry.value) {
            Ok(p) => out.push(p),
            Err(message) => {
                ok = false;
                r.error(entry.at, message);
            }
        }
    }
    ok.then_some(out)
}

/// `H:MM` or `HH:MM`.
fn clock(text: &str) -> Result<NaiveTime, String> {
    let parts = text.split_once(':').filter(|(h, m)| {
        (1..=2).contains(&h.len()) && m.len() == 2 && h.chars().chain(m.chars()).all(|c| c.is_ascii_digit())
    });
    let Some((h, m)) = parts else {
        return Err(String::new());
    };
    let (h, m): (u32, u32) = (h.parse().unwrap_or(99), m.parse().unwrap_or(99));
    if h == 24 && m == 0 {
        return Err("24:00 is not a time (use 23:59 for the end of the day)".to_string());
    }
    if h > 23 {
        return Err(format!("hour {h} is out of range 0-23"));
    }
    if m > 59 {
        return Err(format!("minute {m} is out of range 00-59"));
    }
    NaiveTime::from_hms_opt(h, m, 0).ok_or_else(String::new)
}

fn window(key: &str, text: &Spanned<String>, r: &mut Report) -> Option<TimeWindow> {
    let t = text.value.trim();
    let parsed = match t.split_once('-') {
        Some((a, b)) => clock(a.trim()).and_then(|start| Ok((start, clock(b.trim())?))),
        None => Err(String::new()),
    };
    match parsed {
        Ok((start, end)) => Some(TimeWindow { start, end }),
        Err(why) => {
            let why = if why.is_empty() {
                "expected HH:MM-HH:MM, e.g. \"07:00-12:00\"".to_string()
            } else {
                why
            };
            r.error(text.at, format!("invalid {key} window \"{t}\": {why}"));
            None
        }
    }
}

fn seats(list: &RawList, r: &mut Report) -> Option<Vec<SeatClass>> {
    let mut out: Vec<SeatClass> = Vec::new();
    let mut ok = true;
    for entry in &list.value {
        match SeatClass::parse(&entry.value) {
            Some(seat) if out.contains(&seat) => r.warning(
                entry.at,
                format!(
                    "seat class \"{}\" ({seat}) is listed twice; the repeat is ignored",
                    entry.value
                ),
            ),
            Some(seat) => out.push(seat),
            None => {
                ok = false;
                let known: Vec<&str> = SeatClass::ALL.iter().map(|c| c.name()).collect();
                r.error(
                    entry.at,
                    format!(
                        "unknown seat class \"{}\" (known: {})",
                        entry.value,
                        known.join(", ")
                    ),
                );
            }
        }
    }
    ok.then_some(out)
}

fn passengers(p: &Spanned<i64>, r: &mut Report) -> Option<u32> {
    match u32::try_from(p.value) {
        Ok(n) if (1..=MAX_PASSENGERS).contains(&n) => Some(n),
        _ => {
            r.error(
                p.at,
                format!(
                    "passengers must be between 1 and {MAX_PASSENGERS} (12306's limit per order), found {}",
                    p.value
                ),
            );
            None
        }
    }
}

// --- schedule, notify, action

fn schedule(raw: &RawSchedule, r: &mut Report) -> Setting<Schedule> {
    let every = raw.every.as_ref().map(|e| every(e, r));
    let cron = raw.cron.as_ref().map(|c| cron(c, r));
    match (every, cron) {
        (Some(_), Some(_)) => {
            let later = raw
                .every
                .iter()
                .chain(raw.cron.iter())
                .map(|s| s.at)
                .max()
                .unwrap_or(0);
            r.error(later, "every and cron are mutually exclusive; keep one of them");
            Setting::Invalid
        }
        (Some(Some(s)), None) | (None, Some(Some(s))) => Setting::Set(s),
        (Some(None), None) | (None, Some(None)) => Setting::Invalid,
        (None, None) => Setting::Unset,
    }
}

fn every(text: &Spanned<String>, r: &mut Report) -> Option<Schedule> {
    let t = text.value.trim();
    match humantime::parse_duration(t) {
        Ok(d) if d < MIN_EVERY => {
            r.error(
                text.at,
                format!(
                    "every = \"{t}\" is too short: at least 5s (12306 throttles clients that poll faster)"
                ),
            );
            None
        }
        Ok(d) => Some(Schedule::Every(d)),
        Err(e) => {
            r.error(
                text.at,
                format!("invalid duration \"{t}\" ({e}); write e.g. \"30s\", \"2m\" or \"1h\""),
            );
            None
        }
    }
}

/// Whether the cron library the scheduler uses accepts `expr` (6 fields, seconds first).
fn cron_parses(expr: &str) -> bool {
    tokio_cron_scheduler::Job::new(expr, |_, _| {}).is_ok()
}

fn cron(text: &Spanned<String>, r: &mut Report) -> Option<Schedule> {
    let t = text.value.trim();
    let fields: Vec<&str> = t.split_whitespace().collect();
    if fields.len() != CRON_FIELDS.len() {
        r.error(
            text.at,
            format!(
                "cron needs 6 fields, seconds first, e.g. {CRON_EXAMPLE} (\"{t}\" has {})",
                fields.len()
            ),
        );
        return None;
    }
    let normalized = fields.join(" ");
    if cron_parses(&normalized) {
        return Some(Schedule::Cron(normalized));
    }
    // Probe one field at a time to say which one is wrong.
    let culprit = (0..fields.len()).find(|&i| {
        let mut probe = ["*"; 6];
        probe[i] = fields[i];
        !cron_parses(&probe.join(" "))
    });
    let why = match culprit {
        Some(i) => format!(": the {} field \"{}\" is not valid", CRON_FIELDS[i], fields[i]),
        None => String::new(),
    };
    r.error(
        text.at,
        format!("invalid cron expression \"{t}\"{why} (6 fields, seconds first, e.g. {CRON_EXAMPLE})"),
    );
    None
}

/// Shape check only: one `@`, a non-empty local part, a dotted domain, no spaces.
fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !s.chars().any(char::is_whitespace)
}

fn notify(list: &RawList, r: &mut Report) -> Option<Vec<String>> {
    let mut ok = true;
    for entry in list.value.iter().filter(|e| !is_email(&e.value)) {
        ok = false;
        r.error(
            entry.at,
            format!(
                "invalid email address \"{}\": expected name@example.com",
                entry.value
            ),
        );
    }
    ok.then(|| list.value.iter().map(|e| e.value.clone()).collect())
}

fn action(text: &Spanned<String>, r: &mut Report) -> Option<WatchAction> {
    match text.value.trim() {
        "alert" => Some(WatchAction::Alert),
        "grab" => Some(WatchAction::Grab),
        other => {
            r.error(
                text.at,
                format!("unknown action \"{other}\" (allowed: \"alert\", \"grab\")"),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).expect("valid date")
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().expect("valid test date")
    }

    fn run(text: &str) -> Result<(WatchList, Vec<Diagnostic>), Vec<Diagnostic>> {
        parse(text, "watchlist.toml", today(), StationTable::embedded())
    }

    fn errors(text: &str) -> Vec<Diagnostic> {
        match run(text) {
            Ok(ok) => panic!("expected errors, got {ok:?}"),
            Err(diags) => diags,
        }
    }

    fn one_error(text: &str) -> Diagnostic {
        let diags = errors(text);
        assert_eq!(diags.len(), 1, "{diags:#?}");
        assert_eq!(diags[0].severity, Severity::Error);
        diags.into_iter().next().expect("one")
    }

    fn warnings(text: &str) -> (WatchList, Vec<Diagnostic>) {
        match run(text) {
            Ok(ok) => ok,
            Err(diags) => panic!("unexpected errors: {diags:#?}"),
        }
    }

    #[track_caller]
    fn assert_at(d: &Diagnostic, line: usize, col: usize, text: &str) {
        assert_eq!((d.line, d.col), (line, col), "{d}");
        assert!(d.message.contains(text), "{d}\n  should contain: {text}");
    }

    fn station(code: &str) -> Station {
        StationTable::embedded()
            .by_telecode(code)
            .cloned()
            .expect("known telecode")
    }

    /// A valid watch (lines 1-5) followed by `extra` from line 6 on.
    fn watch_with(extra: &str) -> String {
        format!(
            "[[watch]]\nname = \"w\"\nfrom = \"上海虹桥\"\nto = \"常州\"\ndates = [\"2026-12-01\"]\n{extra}"
        )
    }

    const RICH: &str = r#"# Everything a watch list can say.
[defaults]
every = "2m"
notify = ["me@example.com"]

[[watch]]
name = "上海→常州 周末"
from = "上海虹桥"
to = "常州"
same_city = true
dates = ["2026-12-03..2026-12-05", "2026-12-01", "2026-12-04"]
trains = ["g*", "D3010"]
exclude_trains = ["G7*"]
depart = "7:00-12:00"
arrive = "22:00-01:30"
seats = ["一等座", "二等座", "wz"]
passengers = 2
student = true
cron = "0 */2 7-22 * * *"
notify = ["a@b.cn", "c.d@e.com.cn"]
action = "grab"

[[watch]]
name = "回北京"
from = "shhq"
to = "beijingnan"
dates = [2026-12-10]
"#;

    #[test]
    fn a_rich_valid_list_parses_into_exactly_the_expected_watches() {
        let (list, warns) = warnings(RICH);
        assert!(warns.is_empty(), "{warns:#?}");
        let hm = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("valid time");
        let first = Watch {
            name: "上海→常州 周末".into(),
            from: station("AOH"),
            to: station("CZH"),
            same_city: true,
            dates: ["2026-12-01", "2026-12-03", "2026-12-04", "2026-12-05"]
                .map(date)
                .to_vec(),
            trains: vec![
                TrainPattern {
                    text: "G".into(),
                    prefix: true,
                },
                TrainPattern {
                    text: "D3010".into(),
                    prefix: false,
                },
            ],
            exclude_trains: vec![TrainPattern {
                text: "G7".into(),
                prefix: true,
            }],
            depart: Some(TimeWindow {
                start: hm(7, 0),
                end: hm(12, 0),
            }),
            arrive: Some(TimeWindow {
                start: hm(22, 0),
                end: hm(1, 30),
            }),
            seats: vec![SeatClass::First, SeatClass::Second, SeatClass::NoSeat],
            passengers: 2,
            student: true,
            schedule: Schedule::Cron("0 */2 7-22 * * *".into()),
            notify: vec!["a@b.cn".into(), "c.d@e.com.cn".into()],
            action: WatchAction::Grab,
            line: 6,
        };
        let second = Watch {
            name: "回北京".into(),
            from: station("AOH"),
            to: station("VNP"),
            same_city: false,
            dates: vec![date("2026-12-10")],
            trains: vec![],
            exclude_trains: vec![],
            depart: None,
            arrive: None,
            seats: vec![],
            passengers: 1,
            student: false,
            schedule: Schedule::Every(Duration::from_secs(120)),
            notify: vec!["me@example.com".into()],
            action: WatchAction::Alert,
            line: 23,
        };
        assert_eq!(list.watches, vec![first, second]);
    }

    #[test]
    fn without_defaults_a_watch_polls_every_minute_and_notifies_nobody_in_particular() {
        let (list, _) = warnings(&watch_with(""));
        let w = &list.watches[0];
        assert_eq!(w.schedule, Schedule::Every(DEFAULT_EVERY));
        assert!(w.notify.is_empty());
        assert_eq!(w.action, WatchAction::Alert);
        assert_eq!(w.passengers, 1);
    }

    #[test]
    fn a_watch_schedule_overrides_the_default_of_the_other_kind() {
        let text = format!(
            "[defaults]\ncron = \"0 0 * * * *\"\n{}",
            watch_with("every = \"45s\"\n")
        );
        let (list, _) = warnings(&text);
        assert_eq!(list.watches[0].schedule, Schedule::Every(Duration::from_secs(45)));
        let (list, _) = warnings(&format!("[defaults]\ncron = \"0 0 * * * *\"\n{}", watch_with("")));
        assert_eq!(list.watches[0].schedule, Schedule::Cron("0 0 * * * *".into()));
    }

    #[test]
    fn an_unknown_key_in_a_watch_suggests_the_nearest_known_key() {
        let d = one_error(&watch_with("pasengers = 2\n"));
        assert_at(
            &d,
            6,
            1,
            "unknown key \"pasengers\" in [[watch]] (did you mean \"passengers\"?)",
        );
    }

    #[test]
    fn a_misspelt_required_key_is_unknown_and_missing() {
        let text = "[[watch]]\nname = \"w\"\nfrom = \"上海虹桥\"\nto = \"常州\"\ndats = [\"2026-12-01\"]\n";
        let diags = errors(text);
        assert_eq!(diags.len(), 2, "{diags:#?}");
        assert_at(&diags[0], 1, 1, "missing the required key \"dates\"");
        assert_at(
            &diags[1],
            5,
            1,
            "unknown key \"dats\" in [[watch]] (did you mean \"dates\"?)",
        );
    }

    #[test]
    fn grab_only_keys_are_not_accepted_yet() {
        let d = one_error(&watch_with("accept_no_seat = true\n"));
        assert_at(&d, 6, 1, "unknown key \"accept_no_seat\" in [[watch]]");
    }

    #[test]
    fn an_unknown_top_level_table_suggests_the_known_one() {
        let d = one_error(&format!("{}[[watchs]]\nname = \"x\"\n", watch_with("")));
        assert_at(&d, 6, 3, "unknown table [[watchs]] (did you mean [[watch]]?)");
        let d = one_error(&format!("[defualts]\nevery = \"1m\"\n{}", watch_with("")));
        assert_at(&d, 1, 2, "unknown table [defualts] (did you mean [defaults]?)");
    }

    #[test]
    fn an_unknown_key_in_defaults_is_reported() {
        let d = one_error(&format!("[defaults]\nevry = \"1m\"\n{}", watch_with("")));
        assert_at(
            &d,
            2,
            1,
            "unknown key \"evry\" in [defaults] (did you mean \"every\"?)",
        );
    }

    #[test]
    fn waitlist_entries_are_read_with_their_defaults() {
        let text = format!(
            "[defaults]\nnotify = [\"me@example.com\"]\n{}[[waitlist]]\nname = \"候补\"\n\n[[waitlist]]\nname = \"only one\"\nreserve_no = \"e87000007466000022\"\nevery = \"5m\"\nnotify = [\"a@b.cn\"]\n",
            watch_with("")
        );
        let (list, warns) = warnings(&text);
        assert!(warns.is_empty(), "{warns:#?}");
        assert_eq!(list.watches.len(), 1);
        assert_eq!(
            list.waitlists,
            vec![
                WaitlistWatch {
                    name: "候补".into(),
                    reserve_no: None,
                    schedule: Schedule::Every(DEFAULT_WAITLIST_EVERY),
                    notify: vec!["me@example.com".into()],
                    line: 8,
                },
                WaitlistWatch {
                    name: "only one".into(),
                    reserve_no: Some("E87000007466000022".into()),
                    schedule: Schedule::Every(Duration::from_secs(300)),
                    notify: vec!["a@b.cn".into()],
                    line: 11,
                },
            ]
        );
    }

    #[test]
    fn a_waitlist_alone_is_a_valid_list() {
        let (list, warns) = warnings("[[waitlist]]\nname = \"w\"\n");
        assert!(warns.is_empty(), "{warns:#?}");
        assert!(list.watches.is_empty());
        assert_eq!(list.waitlists.len(), 1);
    }

    #[test]
    fn waitlist_mistakes_are_reported_where_they_are() {
        let text = "[[waitlist]]\nname = \"w\"\nreserve_no = \"E87-0\"\nevry = \"2m\"\n\n[[waitlist]]\nname = \"w\"\ncron = \"* *\"\n";
        let d = errors(text);
        assert_eq!(d.len(), 4, "{d:#?}");
        assert_at(&d[0], 3, 14, "is not a 候补 order number");
        assert_at(
            &d[1],
            4,
            1,
            "unknown key \"evry\" in [[waitlist]] (did you mean \"every\"?)",
        );
        assert_at(
            &d[2],
            7,
            8,
            "duplicate waitlist name \"w\" (first used on line 2)",
        );
        assert_at(&d[3], 8, 8, "cron needs 6 fields");
        let d = errors("[[waitlist]]\nreserve_no = \"E1\"\n");
        assert_at(&d[0], 1, 1, "[[waitlist]] is missing the required key \"name\"");
    }

    #[test]
    fn a_wrong_type_names_the_expected_type() {
        let d = one_error(&watch_with("passengers = \"2\"\n"));
        assert_at(&d, 6, 14, "passengers must be an integer, found a string");
        assert!(d.message.contains("write passengers = 2"), "{d}");
        let d = one_error(&watch_with("student = 1\n"));
        assert_at(&d, 6, 11, "student must be a boolean, found an integer");
        let text = "[[watch]]\nname = \"w\"\nfrom = \"上海虹桥\"\nto = \"常州\"\ndates = \"2026-12-01\"\n";
        let d = one_error(text);
        assert_at(&d, 5, 9, "dates must be an array of dates, found a string");
        assert!(d.message.contains("dates = [\"2026-12-01\"]"), "{d}");
    }

    #[test]
    fn a_wrong_element_type_is_reported_at_the_element() {
        let d = one_error(&watch_with("seats = [\"二等座\", 2]\n"));
        assert_at(&d, 6, 17, "seats must hold only strings, found an integer");
    }

    #[test]
    fn a_missing_required_key_is_reported_at_the_watch_header() {
        let text = "[[watch]]\nname = \"w\"\nfrom = \"上海虹桥\"\ndates = [\"2026-12-01\"]\n";
        let d = one_error(text);
        assert_at(&d, 1, 1, "[[watch]] is missing the required key \"to\"");
    }

    #[test]
    fn an_unknown_station_suggests_the_nearest_names() {
        let text = "[[watch]]\nname = \"w\"\nfrom = \"北京难\"\nto = \"常州\"\ndates = [\"2026-12-01\"]\n";
        let d = one_error(text);
        assert_at(&d, 3, 8, "unknown station \"北京难\" (did you mean ");
        assert!(d.message.contains("北京南"), "{d}");
        let text =
            "[[watch]]\nname = \"w\"\nfrom = \"shanghaihongqia\"\nto = \"常州\"\ndates = [\"2026-12-01\"]\n";
        let d = one_error(text);
        assert_at(&d, 3, 8, "did you mean 上海虹桥 (shanghaihongqiao)");
    }

    #[test]
    fn an_ambiguous_short_pinyin_lists_the_candidates_with_telecodes() {
        let text = "[[watch]]\nname = \"w\"\nfrom = \"上海虹桥\"\nto = \"bjn\"\ndates = [\"2026-12-01\"]\n";
        let d = one_error(text);
        assert_at(&d, 4, 6, "station \"bjn\" is ambiguous: 北京南 VNP, 宝鸡南 BBY");
    }

    #[test]
    fn the_same_station_as_from_and_to_is_an_error() {
        let text = "[[watch]]\nname = \"w\"\nfrom = \"上海虹桥\"\nto = \"AOH\"\ndates = [\"2026-12-01\"]\n";
        let d = one_error(text);
        assert_at(&d, 4, 6, "from and to are the same station (上海虹桥 AOH)");
    }

    fn with_dates(dates: &str) -> String {
        format!("[[watch]]\nname = \"w\"\nfrom = \"上海虹桥\"\nto = \"常州\"\ndates = [{dates}]\n")
    }

    #[test]
    fn malformed_dates_say_the_expected_form() {
        let d = one_error(&with_dates("\"2026-12-1\""));
        assert_at(
            &d,
            5,
            10,
            "invalid date \"2026-12-1\": expected YYYY-MM-DD, zero-padded",
        );
        assert!(d.message.contains("did you mean \"2026-12-01\"?"), "{d}");
        let d = one_error(&with_dates("\"2026-13-01\""));
        assert_at(
            &d,
            5,
            10,
            "invalid date \"2026-13-01\": there is no month 13 (expected YYYY-MM-DD",
        );
        let d = one_error(&with_dates("\"2026-12-02\", \"tomorrow\""));
        assert_at(&d, 5, 24, "invalid date \"tomorrow\": expected YYYY-MM-DD");
        let d = one_error(&with_dates("\"2026-02-30\""));
        assert_at(&d, 5, 10, "invalid date \"2026-02-30\": no such day");
    }

    #[test]
    fn an_empty_date_list_is_an_error() {
        let d = one_error(&with_dates(""));
        assert_at(&d, 5, 9, "dates is empty");
    }

    #[test]
    fn a_reversed_date_range_suggests_the_swapped_range() {
        let d = one_error(&with_dates("\"2026-12-05..2026-12-01\""));
        assert_at(
            &d,
            5,
            10,
            "date range \"2026-12-05..2026-12-01\" is reversed (did you mean \"2026-12-01..2026-12-05\"?)",
        );
    }

    #[test]
    fn a_date_range_longer_than_sixty_days_is_an_error() {
        let (list, _) = warnings(&with_dates("\"2026-12-01..2027-01-29\""));
        assert_eq!(list.watches[0].dates.len(), 60);
        let d = one_error(&with_dates("\"2026-12-01..2027-01-30\""));
        assert_at(&d, 5, 10, "covers 61 days; a range may cover at most 60");
    }

    #[test]
    fn past_dates_are_warnings_not_errors() {
        let (list, warns) = warnings(&with_dates(
            "\"2026-11-01\", \"2026-11-10..2026-11-21\", \"2026-11-21..2026-11-23\", \"2026-12-01\"",
        ));
        assert_eq!(warns.len(), 2, "{warns:#?}");
        assert_eq!(warns[0].severity, Severity::Warning);
        assert_at(
            &warns[0],
            5,
            10,
            "date \"2026-11-01\" is in the past and will be skipped",
        );
        assert_at(
            &warns[1],
            5,
            24,
            "date range \"2026-11-10..2026-11-21\" is in the past and will be skipped",
        );
        let w = &list.watches[0];
        assert_eq!(w.dates.len(), 1 + 12 + 2 + 1, "past dates stay in the list");
        let upcoming: Vec<NaiveDate> = w.query_dates(today()).collect();
        assert_eq!(upcoming, ["2026-11-22", "2026-11-23", "2026-12-01"].map(date));
    }

    #[test]
    fn a_watch_whose_dates_have_all_passed_is_finished_with_a_warning() {
        let (list, warns) = warnings(&with_dates("\"2026-11-01\", \"2026-11-20..2026-11-21\""));
        assert_eq!(list.watches.len(), 1);
        assert_eq!(warns.len(), 1, "{warns:#?}");
        assert_eq!(warns[0].severity, Severity::Warning);
        assert_at(
            &warns[0],
            1,
            1,
            "watch \"w\": every date has passed; this watch is finished",
        );
        assert_eq!(list.watches[0].query_dates(today()).count(), 0);
    }

    #[test]
    fn malformed_time_windows_are_errors() {
        let d = one_error(&watch_with("depart = \"25:00-26:00\"\n"));
        assert_at(
            &d,
            6,
            10,
            "invalid depart window \"25:00-26:00\": hour 25 is out of range 0-23",
        );
        let d = one_error(&watch_with("depart = \"07:00\"\n"));
        assert_at(
            &d,
            6,
            10,
            "invalid depart window \"07:00\": expected HH:MM-HH:MM, e.g. \"07:00-12:00\"",
        );
        let d = one_error(&watch_with("arrive = \"07:00-\"\n"));
        assert_at(
            &d,
            6,
            10,
            "invalid arrive window \"07:00-\": expected HH:MM-HH:MM",
        );
        let d = one_error(&watch_with("arrive = \"07:00-24:00\"\n"));
        assert_at(&d, 6, 10, "use 23:59 for the end of the day");
        let d = one_error(&watch_with("arrive = \"07:60-08:00\"\n"));
        assert_at(&d, 6, 10, "minute 60 is out of range");
    }

    #[test]
    fn an_unknown_seat_class_lists_the_known_ones() {
        let d = one_error(&watch_with("seats = [\"二等座\", \"三等座\"]\n"));
        assert_at(
            &d,
            6,
            17,
            "unknown seat class \"三等座\" (known: 商务座, 特等座, 一等座, 二等座,",
        );
        assert!(d.message.ends_with("无座, 其他)"), "{d}");
    }

    #[test]
    fn a_repeated_seat_class_is_a_warning_and_dropped() {
        let (list, warns) = warnings(&watch_with("seats = [\"二等座\", \"一等座\", \"ze\"]\n"));
        assert_eq!(list.watches[0].seats, vec![SeatClass::Second, SeatClass::First]);
        assert_eq!(warns.len(), 1, "{warns:#?}");
        assert_eq!(warns[0].severity, Severity::Warning);
        assert_at(&warns[0], 6, 24, "seat class \"ze\" (二等座) is listed twice");
    }

    #[test]
    fn passengers_must_be_between_one_and_nine() {
        let d = one_error(&watch_with("passengers = 0\n"));
        assert_at(
            &d,
            6,
            14,
            "passengers must be between 1 and 9 (12306's limit per order), found 0",
        );
        let d = one_error(&watch_with("passengers = 10\n"));
        assert_at(&d, 6, 14, "found 10");
        let (list, _) = warnings(&watch_with("passengers = 9\n"));
        assert_eq!(list.watches[0].passengers, 9);
    }

    #[test]
    fn polling_faster_than_every_five_seconds_is_refused() {
        let d = one_error(&watch_with("every = \"2s\"\n"));
        assert_at(
            &d,
            6,
            9,
            "every = \"2s\" is too short: at least 5s (12306 throttles",
        );
        let d = one_error(&watch_with("every = \"soon\"\n"));
        assert_at(&d, 6, 9, "invalid duration \"soon\"");
        assert!(d.message.contains("e.g. \"30s\""), "{d}");
        let (list, _) = warnings(&watch_with("every = \"5s\"\n"));
        assert_eq!(list.watches[0].schedule, Schedule::Every(MIN_EVERY));
    }

    #[test]
    fn cron_needs_six_fields_seconds_first() {
        let d = one_error(&watch_with("cron = \"*/5 * * * *\"\n"));
        assert_at(
            &d,
            6,
            8,
            "cron needs 6 fields, seconds first, e.g. \"0 */5 * * * *\"",
        );
        let d = one_error(&watch_with("cron = \"0 0 25 * * *\"\n"));
        assert_at(
            &d,
            6,
            8,
            "invalid cron expression \"0 0 25 * * *\": the hours field \"25\" is not valid",
        );
    }

    #[test]
    fn every_and_cron_together_are_an_error_at_the_second() {
        let d = one_error(&watch_with("cron = \"0 * * * * *\"\nevery = \"1m\"\n"));
        assert_at(&d, 7, 9, "every and cron are mutually exclusive");
        let d = one_error(&format!(
            "[defaults]\nevery = \"1m\"\ncron = \"0 * * * * *\"\n{}",
            watch_with("")
        ));
        assert_at(&d, 3, 8, "every and cron are mutually exclusive");
    }

    #[test]
    fn an_unknown_action_lists_the_allowed_values() {
        let d = one_error(&watch_with("action = \"buy\"\n"));
        assert_at(&d, 6, 10, "unknown action \"buy\" (allowed: \"alert\", \"grab\")");
    }

    #[test]
    fn each_malformed_email_address_is_its_own_error() {
        let diags = errors(&watch_with(
            "notify = [\"ok@example.com\", \"nobody\", \"@x.cn\", \"a@localhost\", \"a@b@c.cn\"]\n",
        ));
        let bad: Vec<(usize, usize)> = diags.iter().map(|d| (d.line, d.col)).collect();
        assert_eq!(bad, [(6, 29), (6, 39), (6, 48), (6, 63)], "{diags:#?}");
        assert_at(
            &diags[0],
            6,
            29,
            "invalid email address \"nobody\": expected name@example.com",
        );
        let d = one_error(&format!("[defaults]\nnotify = [\"me\"]\n{}", watch_with("")));
        assert_at(&d, 2, 11, "invalid email address \"me\"");
    }

    #[test]
    fn a_duplicate_name_points_to_the_first_one() {
        let text = format!("{}\n{}", watch_with(""), watch_with(""));
        let d = one_error(&text);
        assert_at(&d, 8, 8, "duplicate watch name \"w\" (first used on line 2)");
    }

    #[test]
    fn a_file_without_watches_is_valid_with_a_warning() {
        let (list, warns) = warnings("# nothing yet\n[defaults]\nevery = \"1m\"\n");
        assert!(list.watches.is_empty());
        assert_eq!(warns.len(), 1);
        assert_eq!(warns[0].severity, Severity::Warning);
        assert_at(&warns[0], 1, 1, "no [[watch]] tables");
        let (list, _) = warnings("");
        assert!(list.watches.is_empty());
    }

    #[test]
    fn a_single_watch_table_is_told_to_use_double_brackets() {
        let d = one_error("[watch]\nname = \"w\"\n");
        assert_at(&d, 1, 2, "write [[watch]] (double brackets");
    }

    #[test]
    fn a_toml_syntax_error_is_reported_with_its_position() {
        let d = one_error("[[watch]]\nname = \"上海\nfrom = \"x\"\n");
        assert_eq!((d.line, d.col), (2, 11), "{d}");
        assert!(d.message.starts_with("TOML syntax error: "), "{d}");
        let d = one_error("[[watch]]\nname = \"a\"\nname = \"b\"\n");
        assert_at(&d, 3, 1, "duplicate key (at `name`)");
    }

    #[test]
    fn five_different_problems_are_all_reported_in_file_order() {
        let text = r#"[defaults]
evry = "1m"

[[watch]]
name = "a"
from = "北京难"
to = "常州"
dates = ["2026-12-1"]
passengers = 0
action = "buy"
"#;
        let diags = errors(text);
        let got: Vec<(usize, usize)> = diags.iter().map(|d| (d.line, d.col)).collect();
        assert_eq!(got, [(2, 1), (6, 8), (8, 10), (9, 14), (10, 10)], "{diags:#?}");
        assert!(diags.iter().all(|d| d.severity == Severity::Error));
        assert!(diags[0].message.contains("evry"));
        assert!(diags[1].message.contains("北京难"));
        assert!(diags[2].message.contains("2026-12-1"));
        assert!(diags[3].message.contains("passengers"));
        assert!(diags[4].message.contains("buy"));
    }

    #[test]
    fn diagnostics_print_as_file_line_col() {
        let d = one_error(&watch_with("action = \"buy\"\n"));
        assert_eq!(
            d.to_string(),
            "watchlist.toml:6:10: unknown action \"buy\" (allowed: \"alert\", \"grab\")"
        );
        let (_, warns) = warnings("");
        assert_eq!(
            warns[0].to_string(),
            "watchlist.toml:1:1: warning: no [[watch]] tables: nothing will be watched"
        );
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let text = "[[watch]]\nname = \"w\"\nfrom = \"上海虹桥\"\nto = \"常州\"\ndates = [\"2026-12-01\"]\nseats = [\"二等座\", \"三等座\"]\n";
        let d = one_error(text);
        assert_eq!((d.line, d.col), (6, 17), "{d}");
    }

    #[test]
    fn a_missing_file_is_one_diagnostic_saying_what_to_do() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("watchlist.toml");
        let diags = load(&path, today()).expect_err("missing file");
        assert_eq!(diags.len(), 1);
        assert_eq!((diags[0].line, diags[0].col), (1, 1));
        assert_eq!(diags[0].file, path.display().to_string());
        assert!(diags[0].message.contains("create it"), "{}", diags[0]);
        std::fs::write(&path, watch_with("")).expect("write");
        let (list, _) = load(&path, today()).expect("valid file");
        assert_eq!(list.watches[0].from.telecode, "AOH");
    }

    #[test]
    fn train_patterns_match_exact_codes_and_prefixes() {
        let exact = TrainPattern {
            text: "D3010".into(),
            prefix: false,
        };
        assert!(exact.matches("D3010"));
        assert!(exact.matches("d3010"));
        assert!(!exact.matches("D30101"));
        assert!(!exact.matches("D301"));
        let prefix = TrainPattern {
            text: "G7".into(),
            prefix: true,
        };
        assert!(prefix.matches("G7"));
        assert!(prefix.matches("G7101"));
        assert!(!prefix.matches("G1701"));
        assert!(!prefix.matches("D7101"));
        assert!(!prefix.matches("G"));
        assert_eq!(prefix.to_string(), "G7*");
    }

    #[test]
    fn train_patterns_are_upper_cased_and_checked() {
        let (list, _) = warnings(&watch_with("trains = [\"g12\", \"k*\"]\n"));
        let shown: Vec<String> = list.watches[0].trains.iter().map(|p| p.to_string()).collect();
        assert_eq!(shown, ["G12", "K*"]);
        let d = one_error(&watch_with("trains = [\"G*1\"]\n"));
        assert_at(&d, 6, 11, "invalid train pattern \"G*1\"");
        let d = one_error(&watch_with("exclude_trains = [\"*\"]\n"));
        assert_at(&d, 6, 19, "train pattern \"*\" matches nothing specific");
    }

    #[test]
    fn time_windows_include_both_ends_and_may_wrap_past_midnight() {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("valid time");
        let day = TimeWindow {
            start: t(7, 0),
            end: t(12, 0),
        };
        assert!(day.contains(t(7, 0)));
        assert!(day.contains(t(9, 30)));
        assert!(day.contains(t(12, 0)));
        assert!(!day.contains(t(6, 59)));
        assert!(!day.contains(t(12, 1)));
        let night = TimeWindow {
            start: t(22, 0),
            end: t(2, 0),
        };
        assert!(night.contains(t(22, 0)));
        assert!(night.contains(t(23, 59)));
        assert!(night.contains(t(0, 0)));
        assert!(night.contains(t(2, 0)));
        assert!(!night.contains(t(2, 1)));
        assert!(!night.contains(t(12, 0)));
        assert!(!night.contains(t(21, 59)));
        assert_eq!(night.to_string(), "22:00-02:00");
    }
}
