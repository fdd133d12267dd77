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
//! action = "alert"                # "alert" (default) or "grab" (below)
//! ```
//!
//! A grab watch (`action = "grab"`) also places a 抢票 order through Juhe's grabTicket API for
//! the people listed in its `[[watch.passenger]]` tables. Juhe needs explicit choices, so it is
//! stricter than an alert watch:
//!
//! ```toml
//! [[watch]]
//! name = "回家 抢票"
//! from = "上海虹桥"
//! to = "常州"
//! dates = ["2026-12-01"]
//! trains = ["G8294", "G7001"]     # required: 1 to 5 exact codes (no prefixes); the first is the
//!                                 # main train (mainTrainNo), the others alternatives (trainNo a|b)
//! seats = ["二等座", "一等座"]       # required: the first is mainSeatClass; each needs a Juhe
//!                                 # seatClassCode (动卧 has none)
//! action = "grab"
//! grab_on = "seats"               # "seats" (default): order when seats appear; "start": order at
//!                                 # once and let Juhe keep grabbing
//! accept_no_seat = false          # acceptNoSeat (default false; listing 无座 in seats needs true)
//! close_time = "3h"               # grab deadline (closeTime): a duration before departure, at
//!                                 # least 3h (default), or "YYYY-MM-DD HH:MM" (Asia/Shanghai)
//! orders_per_date = 1             # live orders per date, 1 to 3 (default 1)
//! # passengers = 1                # optional here: must equal the number of [[watch.passenger]]
//! # student = true                # refused: Juhe sells no student tickets
//!
//! [[watch.passenger]]             # 1 to 5 (Juhe's limit per order); the people on the ticket
//! name = "张三"                    # required, 2-30 characters, as on the document
//! type = "成人"                    # "成人" (default) or "儿童" (under 14); also "adult", "child"
//! id_type = "身份证"               # "身份证" (default), "护照", "港澳通行证", "台湾通行证"
//! id_no = "110101199003074514"    # required; a 身份证号 must pass its GB 11643 checksum
//! birthday = "1990-03-07"         # optional for a 身份证 (read from the number; must match if
//!                                 # given), required for the other documents
//! ```
//!
//! The grab-only keys (`grab_on`, `accept_no_seat`, `close_time`, `orders_per_date`,
//! `[[watch.passenger]]`) are errors on any other watch. ID numbers only ever appear masked
//! (`1101***********514`) in diagnostics and `Debug` output; see [`crate::identity`]. Juhe's
//! other rule, departure at least 3 h away, depends on the train's departure time, which this
//! file does not know: the order code checks it when it places an order.
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

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use toml_edit::{Item, TableLike, Value};

pub use crate::diagnostic::{Diagnostic, Severity};
use crate::diagnostic::{Report, nearest_key, span_start, syntax_message, with_article};
pub use crate::identity::IdNumber;
use crate::identity::{mask_id, resident_id_ok};
use crate::seat::SeatClass;
use crate::stations::{Lookup, Station, StationTable};

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
    /// How to place the 抢票 order: `Some` exactly when `action` is [`WatchAction::Grab`].
    pub grab: Option<GrabSpec>,
    /// 1-based line of the `[[watch]]` header, for messages.
    pub line: usize,
}

/// What a grab watch orders from Juhe besides its trains and seats (which are the watch's own
/// `trains` and `seats`, see [`Watch::juhe_choice`]).
///
/// Juhe also refuses orders for trains leaving within 3 h (msgCode 216). That depends on the
/// departure time of a particular train, unknown here, so the order code checks it when it
/// places an order; this type only holds what the watch list says.
#[derive(Debug, Clone, PartialEq)]
pub struct GrabSpec {
    /// When to place the order.
    pub grab_on: GrabOn,
    /// Juhe `acceptNoSeat`: take a 无座 ticket if that is all there is.
    pub accept_no_seat: bool,
    /// Juhe `closeTime`: when Juhe stops grabbing.
    pub close: CloseTime,
    /// How many orders may be live at once for one date of this watch (1 to 3).
    pub orders_per_date: u32,
    /// The people on the ticket, 1 to 5, in the order written.
    pub passengers: Vec<Passenger>,
}

/// When a grab watch places its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrabOn {
    /// When a poll sees seats that match the watch (the default).
    Seats,
    /// Right away, for each date; Juhe then keeps grabbing until the deadline.
    Start,
}

/// The grab deadline (Juhe `closeTime`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseTime {
    /// This long before the main train departs (at least [`MIN_CLOSE_BEFORE`]).
    BeforeDeparture(Duration),
    /// At this moment, Asia/Shanghai.
    At(NaiveDateTime),
}

/// One person on a grab order (Juhe `passengers[]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Passenger {
    /// As on the ID document (`passengerName`).
    pub name: String,
    /// Ticket type (`passengerType`).
    pub kind: PassengerKind,
    /// Document type (`idCardType`; Juhe's numbering disagrees between its pages, so the code is
    /// chosen where the order is built).
    pub id_type: IdType,
    /// Document number (`idCardNo`); prints masked.
    pub id_no: IdNumber,
    /// `birthday`; for a 身份证 read from the number when not written.
    pub birthday: NaiveDate,
}

/// Ticket type. Juhe sells no student (学生) or disabled-military (残军) tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassengerKind {
    /// 成人
    Adult,
    /// 儿童: under 14.
    Child,
}

/// Identity document type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdType {
    /// 身份证 (居民身份证)
    ResidentId,
    /// 护照
    Passport,
    /// 港澳通行证 (港澳居民来往内地通行证)
    HkMacauPermit,
    /// 台湾通行证 (台湾居民来往大陆通行证, 台胞证)
    TaiwanPermit,
}

/// Juhe's multi-train, multi-seat parameters for one order (createOrder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JuheChoice {
    /// `trainNo`: the main train first, alternatives after it, joined by `|`.
    pub train_no: String,
    /// `mainTrainNo`.
    pub main_train_no: String,
    /// `seatClassCode`: the seat codes in the watch's order, joined by `|`.
    pub seat_class_code: String,
    /// `mainSeatClass`.
    pub main_seat_class: &'static str,
}

impl PassengerKind {
    /// Juhe `passengerType`: 1 adult, 2 child.
    pub fn juhe_code(self) -> u8 {
        match self {
            PassengerKind::Adult => 1,
            PassengerKind::Child => 2,
        }
    }

    /// The Chinese name users write.
    pub fn name(self) -> &'static str {
        match self {
            PassengerKind::Adult => "成人",
            PassengerKind::Child => "儿童",
        }
    }
}

impl IdType {
    /// Every type, in the order the watch list format lists them.
    pub const ALL: [IdType; 4] = [
        IdType::ResidentId,
        IdType::Passport,
        IdType::HkMacauPermit,
        IdType::TaiwanPermit,
    ];

    /// The Chinese name users write.
    pub fn name(self) -> &'static str {
        match self {
            IdType::ResidentId => "身份证",
            IdType::Passport => "护照",
            IdType::HkMacauPermit => "港澳通行证",
            IdType::TaiwanPermit => "台湾通行证",
        }
    }

    /// The name, its longer official forms and a few English words.
    fn parse(s: &str) -> Option<IdType> {
        Some(match s.trim() {
            "身份证" | "居民身份证" | "二代身份证" => IdType::ResidentId,
            "护照" => IdType::Passport,
            "港澳通行证" | "港澳居民来往内地通行证" => IdType::HkMacauPermit,
            "台湾通行证" | "台胞证" | "台湾居民来往大陆通行证" => IdType::TaiwanPermit,
            other => match other.to_ascii_lowercase().as_str() {
                "id" | "id_card" | "resident_id" => IdType::ResidentId,
                "passport" => IdType::Passport,
                "hk_macau" | "hk_macau_permit" => IdType::HkMacauPermit,
                "taiwan" | "taiwan_permit" => IdType::TaiwanPermit,
                _ => return None,
            },
        })
    }
}

impl fmt::Display for IdType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl CloseTime {
    /// The `closeTime` for a train departing at `departure` (both Asia/Shanghai). An absolute
    /// time later than [`MIN_CLOSE_BEFORE`] before departure is brought forward to it: Juhe stops
    /// grabbing then anyway.
    pub fn deadline(self, departure: NaiveDateTime) -> NaiveDateTime {
        let before = |d: Duration| {
            chrono::TimeDelta::from_std(d)
                .ok()
                .and_then(|d| departure.checked_sub_signed(d))
                .unwrap_or(NaiveDateTime::MIN)
        };
        match self {
            CloseTime::BeforeDeparture(d) => before(d),
            CloseTime::At(t) => t.min(before(MIN_CLOSE_BEFORE)),
        }
    }
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

/// Schedule of a watch that sets neither `every` nor `cron`, when `[defaults]` sets neither.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(60);
/// Shortest `every`: 12306 throttles clients that poll faster.
pub const MIN_EVERY: Duration = Duration::from_secs(5);
/// Most passengers 12306 sells to in one order.
pub const MAX_PASSENGERS: u32 = 9;
/// Longest date range, in days (inclusive).
pub const MAX_RANGE_DAYS: i64 = 60;
/// Most passengers on one Juhe grab order.
pub const MAX_GRAB_PASSENGERS: usize = 5;
/// Most trains (main + alternatives) yupiao puts in one grab order.
pub const MAX_GRAB_TRAINS: usize = 5;
/// Most live grab orders per watch and date.
pub const MAX_ORDERS_PER_DATE: u32 = 3;
/// Juhe refuses to grab within 3 h of departure, so an earlier deadline is all that is useful;
/// also the default `close_time`.
pub const MIN_CLOSE_BEFORE: Duration = Duration::from_secs(3 * 3600);
/// 儿童票 are for children under this age (12306: 6 to 14).
pub const CHILD_AGE_LIMIT: u32 = 14;

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
    "grab_on",
    "accept_no_seat",
    "close_time",
    "orders_per_date",
    "passenger",
];
/// Keys that only a grab watch may have.
const GRAB_KEYS: &[&str] = &[
    "grab_on",
    "accept_no_seat",
    "close_time",
    "orders_per_date",
    "passenger",
];
const PASSENGER_KEYS: &[&str] = &["name", "type", "id_type", "id_no", "birthday"];
const REQUIRED_PASSENGER_KEYS: &[&str] = &["name", "id_no"];
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

    /// Juhe's train and seat parameters for a grab watch, given the train codes a Juhe search
    /// offered for the date (`trains[].trainNo`): the watch's trains in the watch's order, kept
    /// only if offered (Juhe takes only trains of the search behind its queryKey), so the main
    /// train is the first listed one that runs. `None` for an alert watch, or when none of its
    /// trains is offered.
    pub fn juhe_choice(&self, offered: &[&str]) -> Option<JuheChoice> {
        self.grab.as_ref()?;
        let trains: Vec<&str> = self
            .trains
            .iter()
            .filter(|p| !p.prefix && offered.iter().any(|o| o.eq_ignore_ascii_case(&p.text)))
            .map(|p| p.text.as_str())
            .collect();
        let seats: Vec<&'static str> = self.seats.iter().filter_map(|s| s.juhe_code()).collect();
        Some(JuheChoice {
            train_no: trains.join("|"),
            main_train_no: (*trains.first()?).to_string(),
            seat_class_code: seats.join("|"),
            main_seat_class: seats.first()?,
        })
    }
}

/// Reads and validates the watch list at `path` against the embedded station table.
///
/// An unreadable file is a single diagnostic at 1:1; `file` in every diagnostic is `path` as
/// given. See [`parse`] for the rest.
pub fn load(path: &Path, today: NaiveDate) -> Result<(WatchList, Vec<Diagnostic>), Vec<Diagnostic>> {
    let text = read(path).map_err(|d| vec![d])?;
    parse(
        &text,
        &path.display().to_string(),
        today,
        StationTable::embedded(),
    )
}

/// The text of the watch list at `path`, or why it cannot be read (a diagnostic at 1:1). The
/// daemon reads the text itself to remember which content it runs.
pub fn read(path: &Path) -> Result<String, Diagnostic> {
    std::fs::read_to_string(path).map_err(|e| {
        let message = match e.kind() {
            std::io::ErrorKind::NotFound => format!(
                "cannot read the watch list: {e}; create it with one [[watch]] table per route \
                 (see the watch list format in the README), or name another with --watchlist \
                 or [daemon] watchlist in yupiao.toml"
            ),
            std::io::ErrorKind::InvalidData => {
                format!("cannot read the watch list: {e}; save it as UTF-8")
            }
            _ => crate::diagnostic::unreadable(path, "the watch list", &e),
        };
        Diagnostic {
            file: path.display().to_string(),
            line: 1,
            col: 1,
            severity: Severity::Error,
            message,
        }
    })
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
            report.error(at, syntax_message(&e, text, true));
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
    student: Option<Spanned<bool>>,
    schedule: RawSchedule,
    notify: Option<RawList>,
    action: Option<Spanned<String>>,
    grab: RawGrab,
}

/// The grab-only keys of a `[[watch]]` as written.
#[derive(Debug, Default)]
struct RawGrab {
    /// Each grab-only key that is present and where it was written.
    keys: Vec<(&'static str, usize)>,
    grab_on: Option<Spanned<String>>,
    accept_no_seat: Option<bool>,
    close_time: Option<Spanned<String>>,
    orders_per_date: Option<Spanned<i64>>,
    /// `[[watch.passenger]]` entries; `at` is where the first one (or the array) starts.
    passengers: Option<Spanned<Vec<RawPassenger>>>,
}

/// One `[[watch.passenger]]` as written. The ID number is wrapped at once so that no `Debug`
/// of the raw values can print it.
#[derive(Debug, Default)]
struct RawPassenger {
    /// Offset of the `[[watch.passenger]]` header.
    at: usize,
    name: Option<Spanned<String>>,
    kind: Option<Spanned<String>>,
    id_type: Option<Spanned<String>>,
    id_no: Option<Spanned<IdNumber>>,
    birthday: Option<Spanned<String>>,
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
        passengers: seat_count(s, r),
        student: s.boolean_at("student", r),
        schedule: RawSchedule {
            every: s.string("every", r),
            cron: s.string("cron", r),
        },
        notify: s.strings("notify", r),
        action: s.string("action", r),
        grab: read_grab(s, r),
    }
}

/// `passengers`, the seat count; identities written there instead of in `[[watch.passenger]]`
/// get told where they belong.
fn seat_count(s: &Section<'_>, r: &mut Report) -> Option<Spanned<i64>> {
    let item = s.get("passengers")?;
    let holds_tables = match item {
        Item::ArrayOfTables(_) => true,
        Item::Value(Value::Array(a)) => a.iter().any(|v| v.as_inline_table().is_some()),
        _ => false,
    };
    if holds_tables {
        r.error(
            s.value_at("passengers", item),
            "passengers is the number of seats (an integer); write each person in a [[watch.passenger]] table",
        );
        return None;
    }
    s.integer("passengers", r)
}

fn read_grab(s: &Section<'_>, r: &mut Report) -> RawGrab {
    let keys = GRAB_KEYS
        .iter()
        .filter_map(|k| {
            let item = s.get(k)?;
            let at = match item {
                Item::ArrayOfTables(_) => s.entry_at(k, item),
                _ => s.key_at(k),
            };
            Some((*k, at))
        })
        .collect();
    let passengers = s
        .tables("passenger", "[[watch.passenger]]", r)
        .map(|tables| Spanned {
            at: s.get("passenger").map_or(0, |item| s.entry_at("passenger", item)),
            value: tables
                .into_iter()
                .map(|(at, t)| read_passenger(&Section::new(t, "[[watch.passenger]]", PASSENGER_KEYS), at, r))
                .collect(),
        });
    RawGrab {
        keys,
        grab_on: s.string("grab_on", r),
        accept_no_seat: s.boolean("accept_no_seat", r),
        close_time: s.string_or_datetime("close_time", r),
        orders_per_date: s.integer("orders_per_date", r),
        passengers,
    }
}

fn read_passenger(s: &Section<'_>, at: usize, r: &mut Report) -> RawPassenger {
    s.check_keys(r);
    for key in REQUIRED_PASSENGER_KEYS {
        if s.table.get(key).is_none() {
            r.error(
                at,
                format!("[[watch.passenger]] is missing the required key \"{key}\""),
            );
        }
    }
    RawPassenger {
        at,
        name: s.string("name", r),
        kind: s.string("type", r),
        id_type: s.string("id_type", r),
        id_no: s.id_number("id_no", r),
        birthday: s.string_or_datetime("birthday", r),
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
                    // A duration needs its unit: `every = 30` means `every = "30s"`.
                    Some(Value::Integer(_) | Value::Float(_)) if matches!(key, "every" | "close_time") => {
                        format!(
                            " (write it with a unit: {key} = \"{}s\")",
                            item.to_string().trim()
                        )
                    }
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

    /// Where an entry starts: its value, or for an array of tables the first table's header.
    fn entry_at(&self, key: &str, item: &Item) -> usize {
        match item {
            Item::ArrayOfTables(aot) => aot
                .iter()
                .next()
                .and_then(|t| t.span())
                .map_or_else(|| self.key_at(key), |s| s.start),
            _ => self.value_at(key, item),
        }
    }

    fn boolean(&self, key: &str, r: &mut Report) -> Option<bool> {
        self.boolean_at(key, r).map(|b| b.value)
    }

    fn boolean_at(&self, key: &str, r: &mut Report) -> Option<Spanned<bool>> {
        let item = self.get(key)?;
        if let Some(v) = item.as_bool() {
            return Some(Spanned {
                value: v,
                at: self.value_at(key, item),
            });
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

    /// A string, or a TOML date or local date-time written without quotes (as `YYYY-MM-DD` or
    /// `YYYY-MM-DDTHH:MM:SS`).
    fn string_or_datetime(&self, key: &str, r: &mut Report) -> Option<Spanned<String>> {
        let item = self.get(key)?;
        match item.as_value() {
            Some(Value::Datetime(d)) if d.value().offset.is_none() => Some(Spanned {
                value: d.value().to_string(),
                at: self.value_at(key, item),
            }),
            _ => self.string(key, r),
        }
    }

    /// An ID number: a string (digits written as a TOML integer are refused without echoing them).
    fn id_number(&self, key: &str, r: &mut Report) -> Option<Spanned<IdNumber>> {
        let item = self.get(key)?;
        match item.as_str() {
            Some(v) => Some(Spanned {
                value: IdNumber::new(v),
                at: self.value_at(key, item),
            }),
            None => {
                let hint = " (quote it: id_no = \"…\")".to_string();
                self.wrong_type(key, item, "a string", hint, r);
                None
            }
        }
    }

    /// An array of tables (`[[watch.passenger]]`) or an array of inline tables.
    fn tables(&self, key: &str, header: &str, r: &mut Report) -> Option<Vec<(usize, &'t dyn TableLike)>> {
        let item = self.get(key)?;
        match item {
            Item::ArrayOfTables(aot) => Some(
                aot.iter()
                    .map(|t| {
                        (
                            t.span().map_or_else(|| self.key_at(key), |s| s.start),
                            t as &dyn TableLike,
                        )
                    })
                    .collect(),
            ),
            Item::Value(Value::Array(a)) if a.iter().all(|v| v.as_inline_table().is_some()) => Some(
                a.iter()
                    .filter_map(|v| {
                        v.as_inline_table()
                            .map(|t| (span_start(v.span()), t as &dyn TableLike))
                    })
                    .collect(),
            ),
            _ => {
                let hint = format!(" (write one {header} table per person)");
                self.wrong_type(key, item, &format!("an array of tables ({header})"), hint, r);
                None
            }
        }
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
    let grab = match (action, &w.action) {
        (Some(WatchAction::Grab), Some(action_raw)) => {
            let choices = Choices {
                action_at: action_raw.at,
                trains: trains.as_deref(),
                seats: seats.as_deref(),
                passengers,
            };
            grab_spec(w, &choices, cx.today, r).map(Some)
        }
        (Some(WatchAction::Alert), _) => {
            for (key, at) in &w.grab.keys {
                let shown = if *key == "passenger" {
                    "[[watch.passenger]]".to_string()
                } else {
                    (*key).to_string()
                };
                r.error(
                    *at,
                    format!(
                        "{shown} is only for action = \"grab\" (this watch only alerts); add action = \"grab\" or remove it"
                    ),
                );
            }
            Some(None)
        }
        // An unknown action is reported already; its grab keys are not judged.
        _ => Some(None),
    };
    // A grab watch needs a seat for each person in it.
    let passengers = match &grab {
        Some(Some(g)) => u32::try_from(g.passengers.len()).ok(),
        _ => passengers,
    };

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
        student: w.student.as_ref().is_some_and(|s| s.value),
        schedule: schedule?,
        notify: notify?,
        action: action?,
        grab: grab?,
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

// --- grab watches

/// What the rest of a grab watch resolved to, for the checks Juhe adds.
struct Choices<'a> {
    /// Where `action = "grab"` is written: where missing requirements are reported.
    action_at: usize,
    /// `None` when invalid (already reported).
    trains: Option<&'a [TrainPattern]>,
    seats: Option<&'a [SeatClass]>,
    passengers: Option<u32>,
}

/// Validates what a grab watch adds (every problem reported); `None` if anything is wrong.
fn grab_spec(w: &RawWatch, c: &Choices<'_>, today: NaiveDate, r: &mut Report) -> Option<GrabSpec> {
    let g = &w.grab;
    let mut ok = true;
    if let Some(student) = w.student.as_ref().filter(|s| s.value) {
        ok = false;
        r.error(
            student.at,
            "Juhe sells no student tickets, so a grab watch cannot set student = true (remove it, or use action = \"alert\" and buy on 12306)",
        );
    }
    ok &= grab_trains(w.trains.as_ref(), c, r);
    ok &= grab_seats(w.seats.as_ref(), c, g.accept_no_seat.unwrap_or(false), r);

    let passengers = match &g.passengers {
        None => {
            r.error(
                c.action_at,
                format!(
                    "action = \"grab\" needs the people to buy for: add 1 to {MAX_GRAB_PASSENGERS} [[watch.passenger]] tables (name, id_no, ...)"
                ),
            );
            None
        }
        Some(list) => grab_passengers(list, today, r),
    };
    if let (Some(people), Some(written), Some(count)) = (&passengers, &w.passengers, c.passengers)
        && usize::try_from(count).ok() != Some(people.len())
    {
        ok = false;
        r.error(
            written.at,
            format!(
                "passengers = {count} but this watch lists {} [[watch.passenger]]: a grab order buys one seat per person listed (remove passengers, it follows the list)",
                people.len()
            ),
        );
    }

    let grab_on = match &g.grab_on {
        None => Some(GrabOn::Seats),
        Some(s) => match s.value.trim() {
            "seats" => Some(GrabOn::Seats),
            "start" => Some(GrabOn::Start),
            other => {
                r.error(
                    s.at,
                    format!(
                        "unknown grab_on \"{other}\" (allowed: \"seats\": order when seats appear, \"start\": order at once and let Juhe grab)"
                    ),
                );
                None
            }
        },
    };
    let close = g
        .close_time
        .as_ref()
        .map_or(Some(CloseTime::BeforeDeparture(MIN_CLOSE_BEFORE)), |s| {
            close_time(s, today, r)
        });
    let orders_per_date = match &g.orders_per_date {
        None => Some(1),
        Some(n) => match u32::try_from(n.value) {
            Ok(v) if (1..=MAX_ORDERS_PER_DATE).contains(&v) => Some(v),
            _ => {
                r.error(
                    n.at,
                    format!(
                        "orders_per_date must be between 1 and {MAX_ORDERS_PER_DATE}, found {}",
                        n.value
                    ),
                );
                None
            }
        },
    };
    if !ok {
        return None;
    }
    Some(GrabSpec {
        grab_on: grab_on?,
        accept_no_seat: g.accept_no_seat.unwrap_or(false),
        close: close?,
        orders_per_date: orders_per_date?,
        passengers: passengers?,
    })
}

/// Juhe orders name their trains: 1 to [`MAX_GRAB_TRAINS`] exact codes, the first the main one.
fn grab_trains(raw: Option<&RawList>, c: &Choices<'_>, r: &mut Report) -> bool {
    let Some(raw) = raw else {
        r.error(
            c.action_at,
            "action = \"grab\" needs trains: Juhe orders name their trains; list 1 to 5 exact codes, the main train first (e.g. trains = [\"G8294\", \"G7001\"])",
        );
        return false;
    };
    let Some(trains) = c.trains else {
        return false;
    };
    if trains.is_empty() {
        r.error(
            raw.at,
            "trains is empty; a grab watch needs 1 to 5 exact train codes, the main train first",
        );
        return false;
    }
    let mut ok = true;
    for (pattern, entry) in trains.iter().zip(&raw.value) {
        if pattern.prefix {
            ok = false;
            r.error(
                entry.at,
                format!(
                    "\"{}\" is a prefix, but Juhe orders name their trains: for action = \"grab\" list exact codes (e.g. \"{}01\")",
                    entry.value.trim(),
                    pattern.text
                ),
            );
        }
    }
    if let Some(extra) = raw.value.get(MAX_GRAB_TRAINS) {
        ok = false;
        r.error(
            extra.at,
            format!(
                "a grab watch takes at most {MAX_GRAB_TRAINS} trains (the main one and {} alternatives); make another watch for the rest",
                MAX_GRAB_TRAINS - 1
            ),
        );
    }
    ok
}

/// Every seat class of a grab watch needs a Juhe `seatClassCode`; the first is the main one.
fn grab_seats(raw: Option<&RawList>, c: &Choices<'_>, accept_no_seat: bool, r: &mut Report) -> bool {
    let Some(raw) = raw else {
        r.error(
            c.action_at,
            "action = \"grab\" needs seats: Juhe orders name their seat classes; list them, the main one first (e.g. seats = [\"二等座\"])",
        );
        return false;
    };
    if c.seats.is_none() {
        return false;
    }
    if raw.value.is_empty() {
        r.error(
            raw.at,
            "seats is empty; a grab watch needs at least one seat class, the main one first",
        );
        return false;
    }
    let mut ok = true;
    for entry in &raw.value {
        match SeatClass::parse(&entry.value) {
            Some(seat) if seat.juhe_code().is_none() => {
                ok = false;
                r.error(
                    entry.at,
                    format!(
                        "{seat} cannot be grabbed: Juhe has no seat code for it (choose 软卧 or 硬卧, or make an alert watch for {seat})"
                    ),
                );
            }
            Some(SeatClass::NoSeat) if !accept_no_seat => {
                ok = false;
                r.error(
                    entry.at,
                    "seats lists 无座 but accept_no_seat is false; set accept_no_seat = true or remove 无座",
                );
            }
            _ => {}
        }
    }
    ok
}

/// The `[[watch.passenger]]` tables: 1 to 5, each valid, no ID number twice.
fn grab_passengers(
    list: &Spanned<Vec<RawPassenger>>,
    today: NaiveDate,
    r: &mut Report,
) -> Option<Vec<Passenger>> {
    let mut ok = true;
    if list.value.is_empty() {
        ok = false;
        r.error(
            list.at,
            format!("a grab watch needs 1 to {MAX_GRAB_PASSENGERS} passengers; this list is empty"),
        );
    }
    if let Some(extra) = list.value.get(MAX_GRAB_PASSENGERS) {
        ok = false;
        r.error(
            extra.at,
            format!(
                "a grab order takes at most {MAX_GRAB_PASSENGERS} passengers (Juhe's limit); split them over two watches"
            ),
        );
    }
    let mut seen: Vec<(&IdNumber, usize)> = Vec::new();
    for id in list.value.iter().filter_map(|p| p.id_no.as_ref()) {
        match seen.iter().find(|(other, _)| *other == &id.value) {
            Some((_, first)) => {
                ok = false;
                let (line, _) = r.position(*first);
                r.error(
                    id.at,
                    format!(
                        "ID number {} is listed twice in this watch (first on line {line}); each person once",
                        id.value
                    ),
                );
            }
            None => seen.push((&id.value, id.at)),
        }
    }
    let people: Vec<Option<Passenger>> = list.value.iter().map(|p| passenger(p, today, r)).collect();
    if !ok {
        return None;
    }
    people.into_iter().collect()
}

fn passenger(p: &RawPassenger, today: NaiveDate, r: &mut Report) -> Option<Passenger> {
    let name = p.name.as_ref().and_then(|n| {
        let t = n.value.trim();
        let len = t.chars().count();
        if (2..=30).contains(&len) {
            Some(t.to_string())
        } else {
            r.error(
                n.at,
                format!(
                    "passenger name \"{t}\" is too {}; write the name as on the ID document (2 to 30 characters)",
                    if len < 2 { "short" } else { "long" }
                ),
            );
            None
        }
    });
    let kind = p
        .kind
        .as_ref()
        .map_or(Some(PassengerKind::Adult), |k| passenger_kind(k, r));
    let id_type = p
        .id_type
        .as_ref()
        .map_or(Some(IdType::ResidentId), |t| match IdType::parse(&t.value) {
            Some(it) => Some(it),
            None => {
                let known: Vec<&str> = IdType::ALL.iter().map(|t| t.name()).collect();
                r.error(
                    t.at,
                    format!(
                        "unknown id_type \"{}\" (known: {})",
                        t.value.trim(),
                        known.join(", ")
                    ),
                );
                None
            }
        });
    // The number can only be judged once its document type is known.
    let from_number = match (id_type, &p.id_no) {
        (Some(t), Some(id)) => id_number(t, id, today, r),
        _ => None,
    };
    let written = p.birthday.as_ref().map(|b| birthday(b, today, r));
    let birthday = match (id_type, from_number, written, &p.birthday) {
        (_, _, Some(None), _) | (None, ..) => None,
        (Some(IdType::ResidentId), Some(Some(derived)), Some(Some(given)), Some(raw)) => {
            if derived == given {
                Some(derived)
            } else {
                r.error(
                    raw.at,
                    format!(
                        "birthday {given} does not match the birth date inside the 身份证号 {}; fix one of them (or leave birthday out)",
                        p.id_no.as_ref().map(|i| i.value.masked()).unwrap_or_default()
                    ),
                );
                None
            }
        }
        (Some(IdType::ResidentId), Some(Some(derived)), None, _) => Some(derived),
        (Some(IdType::ResidentId), _, _, _) => None,
        (Some(_), _, Some(Some(given)), _) => Some(given),
        (Some(t), _, None, _) => {
            r.error(
                p.at,
                format!(
                    "[[watch.passenger]] with id_type = \"{t}\" needs birthday = \"YYYY-MM-DD\" (only a 身份证号 contains it)"
                ),
            );
            None
        }
    };
    if let (Some(PassengerKind::Child), Some(born), Some(k)) = (kind, birthday, &p.kind) {
        let age = today.years_since(born).unwrap_or(0);
        if age >= CHILD_AGE_LIMIT {
            r.error(
                k.at,
                format!(
                    "儿童 tickets are for children under {CHILD_AGE_LIMIT}, and this passenger is {age}; write type = \"成人\""
                ),
            );
            return None;
        }
    }
    let id_no = from_number.and(p.id_no.as_ref()).map(|i| i.value.clone());
    Some(Passenger {
        name: name?,
        kind: kind?,
        id_type: id_type?,
        id_no: id_no?,
        birthday: birthday?,
    })
}

fn passenger_kind(k: &Spanned<String>, r: &mut Report) -> Option<PassengerKind> {
    let t = k.value.trim();
    match t.to_ascii_lowercase().as_str() {
        "成人" | "adult" => Some(PassengerKind::Adult),
        "儿童" | "child" => Some(PassengerKind::Child),
        "学生" | "student" => {
            r.error(
                k.at,
                "Juhe sells no student tickets (学生票); write type = \"成人\" or buy this one on 12306",
            );
            None
        }
        "残军" | "残疾军人" => {
            r.error(
                k.at,
                "Juhe sells no disabled-military tickets (残军票); write type = \"成人\" or buy this one on 12306",
            );
            None
        }
        _ => {
            r.error(
                k.at,
                format!("unknown passenger type \"{t}\" (allowed: \"成人\", \"儿童\")"),
            );
            None
        }
    }
}

/// Checks an ID number for its document type. `Some(Some(birth))` for a valid 身份证号,
/// `Some(None)` for another valid document, `None` when invalid (reported, masked).
fn id_number(
    t: IdType,
    id: &Spanned<IdNumber>,
    today: NaiveDate,
    r: &mut Report,
) -> Option<Option<NaiveDate>> {
    let raw = id.value.expose();
    if t == IdType::ResidentId {
        return match resident_id_ok(raw) {
            Ok(born) if born > today => {
                r.error(
                    id.at,
                    format!("身份证号 {}: the birth date inside it is in the future", id.value),
                );
                None
            }
            Ok(born) => Some(Some(born)),
            Err(why) => {
                r.error(id.at, format!("身份证号 {} is not valid: {why}", mask_id(raw)));
                None
            }
        };
    }
    let len = raw.chars().count();
    if (5..=20).contains(&len) && raw.chars().all(|c| c.is_ascii_alphanumeric()) {
        Some(None)
    } else {
        r.error(
            id.at,
            format!(
                "{t} number {} is not valid: expected 5 to 20 letters and digits, as printed on the document",
                id.value
            ),
        );
        None
    }
}

fn birthday(b: &Spanned<String>, today: NaiveDate, r: &mut Report) -> Option<NaiveDate> {
    match day(b.value.trim()) {
        Ok(d) if d > today => {
            r.error(b.at, format!("birthday {d} is in the future"));
            None
        }
        Ok(d) => Some(d),
        Err(why) => {
            r.error(b.at, format!("birthday: {why}"));
            None
        }
    }
}

/// A duration before departure (at least [`MIN_CLOSE_BEFORE`]) or `YYYY-MM-DD HH:MM[:SS]`.
fn close_time(s: &Spanned<String>, today: NaiveDate, r: &mut Report) -> Option<CloseTime> {
    let t = s.value.trim();
    let absolute = [
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok());
    if let Some(at) = absolute {
        if at.date() < today {
            r.error(
                s.at,
                format!("close_time \"{t}\" has passed; give a later time or a duration like \"3h\""),
            );
            return None;
        }
        return Some(CloseTime::At(at));
    }
    match humantime::parse_duration(t) {
        Ok(d) if d < MIN_CLOSE_BEFORE => {
            r.error(
                s.at,
                format!(
                    "close_time = \"{t}\" is too close to departure: Juhe does not grab within 3 hours of departure, so the deadline must be at least \"3h\" before it"
                ),
            );
            None
        }
        Ok(d) => Some(CloseTime::BeforeDeparture(d)),
        Err(_) => {
            r.error(
                s.at,
                format!(
                    "invalid close_time \"{t}\": write a duration before departure like \"3h\" or \"6h\", or a date and time like \"2026-11-30 18:00\""
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
action = "alert"

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
            action: WatchAction::Alert,
            grab: None,
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
            grab: None,
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

    // --- grab watches

    /// A made-up 身份证号 (region 110101) with a correct check character.
    fn resident(birth: &str, seq: &str) -> String {
        let first17 = format!("110101{birth}{seq}");
        format!("{first17}{}", crate::identity::check_char(&first17))
    }

    /// A grab watch: trains on line 6, seats on line 7, `action = "grab"` on line 8, then `extra`
    /// and the `people` tables.
    fn grab_custom(trains: &str, seats: &str, extra: &str, people: &str) -> String {
        format!(
            "[[watch]]\nname = \"回家\"\nfrom = \"上海虹桥\"\nto = \"常州\"\ndates = [\"2026-12-01\"]\ntrains = {trains}\nseats = {seats}\naction = \"grab\"\n{extra}{people}"
        )
    }

    fn grab_with(extra: &str, people: &str) -> String {
        grab_custom(
            "[\"G8294\", \"G7001\"]",
            "[\"二等座\", \"一等座\"]",
            extra,
            people,
        )
    }

    /// Three lines: header, name, id_no.
    fn person(name: &str, id_no: &str) -> String {
        format!("[[watch.passenger]]\nname = \"{name}\"\nid_no = \"{id_no}\"\n")
    }

    #[track_caller]
    fn assert_no_number(diags: &[Diagnostic], numbers: &[&str]) {
        for d in diags {
            for n in numbers {
                assert!(!d.message.contains(n), "a full ID number leaked: {d}");
            }
        }
    }

    #[test]
    fn a_grab_watch_parses_into_the_exact_grab_spec_with_defaults_and_derived_birthdays() {
        let adult = resident("19900307", "451");
        let child = resident("20160501", "123");
        let people = format!(
            "{}[[watch.passenger]]\nname = \"李小四\"\ntype = \"儿童\"\nid_no = \"{}\"\nbirthday = \"2016-05-01\"\n",
            person("张三", &adult),
            child.to_lowercase()
        );
        let (list, warns) = warnings(&grab_with("", &people));
        assert!(warns.is_empty(), "{warns:#?}");
        let w = &list.watches[0];
        assert_eq!(w.action, WatchAction::Grab);
        assert_eq!(w.passengers, 2, "the seat count follows the passenger list");
        assert_eq!(w.seats, vec![SeatClass::Second, SeatClass::First]);
        let grab = GrabSpec {
            grab_on: GrabOn::Seats,
            accept_no_seat: false,
            close: CloseTime::BeforeDeparture(MIN_CLOSE_BEFORE),
            orders_per_date: 1,
            passengers: vec![
                Passenger {
                    name: "张三".into(),
                    kind: PassengerKind::Adult,
                    id_type: IdType::ResidentId,
                    id_no: IdNumber::new(&adult),
                    birthday: date("1990-03-07"),
                },
                Passenger {
                    name: "李小四".into(),
                    kind: PassengerKind::Child,
                    id_type: IdType::ResidentId,
                    id_no: IdNumber::new(&child),
                    birthday: date("2016-05-01"),
                },
            ],
        };
        assert_eq!(w.grab, Some(grab));
        assert_eq!(
            w.juhe_choice(&["G1", "G7001", "g8294"]),
            Some(JuheChoice {
                train_no: "G8294|G7001".into(),
                main_train_no: "G8294".into(),
                seat_class_code: "secondseat|firstseat".into(),
                main_seat_class: "secondseat",
            })
        );
        let only_alternative = w.juhe_choice(&["G7001"]).expect("G7001 runs");
        assert_eq!(
            (
                only_alternative.train_no.as_str(),
                only_alternative.main_train_no.as_str()
            ),
            ("G7001", "G7001")
        );
        assert_eq!(w.juhe_choice(&["G1"]), None);
        let (alert, _) = warnings(&watch_with("trains = [\"G8294\"]\n"));
        assert_eq!(alert.watches[0].grab, None);
        assert_eq!(alert.watches[0].juhe_choice(&["G8294"]), None);
    }

    #[test]
    fn grab_settings_are_read_as_written() {
        let a = resident("19900307", "451");
        let extra = "grab_on = \"start\"\naccept_no_seat = true\nclose_time = \"2026-11-30 18:00\"\norders_per_date = 3\npassengers = 1\n";
        let (list, _) = warnings(&grab_custom(
            "[\"G8294\"]",
            "[\"二等座\", \"无座\"]",
            extra,
            &person("张三", &a),
        ));
        let w = &list.watches[0];
        let g = w.grab.as_ref().expect("grab watch");
        assert_eq!(g.grab_on, GrabOn::Start);
        assert!(g.accept_no_seat);
        let at = NaiveDateTime::parse_from_str("2026-11-30 18:00", "%Y-%m-%d %H:%M").expect("time");
        assert_eq!(g.close, CloseTime::At(at));
        assert_eq!(g.orders_per_date, 3);
        assert_eq!(w.seats, vec![SeatClass::Second, SeatClass::NoSeat]);
        let choice = w.juhe_choice(&["G8294"]).expect("runs");
        assert_eq!(choice.seat_class_code, "secondseat|noseat");

        let (list, _) = warnings(&grab_with("close_time = \"6h 30m\"\n", &person("张三", &a)));
        let g = list.watches[0].grab.as_ref().expect("grab watch");
        assert_eq!(
            g.close,
            CloseTime::BeforeDeparture(Duration::from_secs(6 * 3600 + 1800))
        );
        let (list, _) = warnings(&grab_with(
            "close_time = 2026-11-30T18:00:00\n",
            &person("张三", &a),
        ));
        let g = list.watches[0].grab.as_ref().expect("grab watch");
        assert_eq!(g.close, CloseTime::At(at));
    }

    #[test]
    fn passengers_may_also_be_an_array_of_inline_tables() {
        let a = resident("19900307", "451");
        let people = format!("passenger = [{{ name = \"张三\", id_no = \"{a}\" }}]\n");
        let (list, _) = warnings(&grab_with(&people, ""));
        let g = list.watches[0].grab.as_ref().expect("grab watch");
        assert_eq!(g.passengers[0].birthday, date("1990-03-07"));
    }

    #[test]
    fn the_deadline_is_before_departure_and_never_later_than_three_hours_before() {
        let t = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time");
        let departure = t("2026-12-01 10:00");
        let before = |h: u64| CloseTime::BeforeDeparture(Duration::from_secs(h * 3600));
        assert_eq!(before(3).deadline(departure), t("2026-12-01 07:00"));
        assert_eq!(before(30).deadline(departure), t("2026-11-30 04:00"));
        assert_eq!(
            CloseTime::At(t("2026-12-01 09:00")).deadline(departure),
            t("2026-12-01 07:00")
        );
        assert_eq!(
            CloseTime::At(t("2026-11-30 18:00")).deadline(departure),
            t("2026-11-30 18:00")
        );
    }

    #[test]
    fn grab_keys_on_an_alert_watch_are_rejected_at_each_key() {
        let a = resident("19900307", "451");
        let extra = format!(
            "grab_on = \"start\"\naccept_no_seat = true\nclose_time = \"3h\"\norders_per_date = 2\n{}",
            person("张三", &a)
        );
        let diags = errors(&watch_with(&extra));
        let got: Vec<(usize, usize)> = diags.iter().map(|d| (d.line, d.col)).collect();
        assert_eq!(got, [(6, 1), (7, 1), (8, 1), (9, 1), (10, 1)], "{diags:#?}");
        assert_at(&diags[0], 6, 1, "grab_on is only for action = \"grab\"");
        assert_at(
            &diags[4],
            10,
            1,
            "[[watch.passenger]] is only for action = \"grab\"",
        );
        assert_no_number(&diags, &[&a]);
        let d = one_error(&watch_with("action = \"alert\"\naccept_no_seat = false\n"));
        assert_at(&d, 7, 1, "accept_no_seat is only for action = \"grab\"");
    }

    #[test]
    fn six_passengers_are_one_too_many_for_juhe() {
        let people: String = (1..=6)
            .map(|i| person(&format!("乘客{i}"), &resident("19900307", &format!("45{i}"))))
            .collect();
        let d = one_error(&grab_with("", &people));
        assert_at(&d, 24, 1, "at most 5 passengers (Juhe's limit)");
        let five: String = (1..=5)
            .map(|i| person(&format!("乘客{i}"), &resident("19900307", &format!("45{i}"))))
            .collect();
        let (list, _) = warnings(&grab_with("", &five));
        assert_eq!(list.watches[0].passengers, 5);
    }

    #[test]
    fn a_grab_watch_for_students_is_refused() {
        let a = resident("19900307", "451");
        let d = one_error(&grab_with("student = true\n", &person("张三", &a)));
        assert_at(&d, 9, 11, "Juhe sells no student tickets");
        let people = format!("[[watch.passenger]]\nname = \"张三\"\ntype = \"学生\"\nid_no = \"{a}\"\n");
        let d = one_error(&grab_with("", &people));
        assert_at(&d, 11, 8, "Juhe sells no student tickets (学生票)");
    }

    #[test]
    fn a_grab_watch_needs_trains_seats_and_passengers() {
        let text = "[[watch]]\nname = \"w\"\nfrom = \"上海虹桥\"\nto = \"常州\"\ndates = [\"2026-12-01\"]\naction = \"grab\"\n";
        let diags = errors(text);
        assert_eq!(diags.len(), 3, "{diags:#?}");
        assert_at(&diags[0], 6, 10, "action = \"grab\" needs trains");
        assert_at(&diags[1], 6, 10, "action = \"grab\" needs seats");
        assert_at(&diags[2], 6, 10, "add 1 to 5 [[watch.passenger]] tables");
        let a = resident("19900307", "451");
        let d = one_error(&grab_custom("[]", "[\"二等座\"]", "", &person("张三", &a)));
        assert_at(&d, 6, 10, "trains is empty");
        let d = one_error(&grab_with("passenger = []\n", ""));
        assert_at(&d, 9, 13, "needs 1 to 5 passengers; this list is empty");
    }

    #[test]
    fn grab_trains_are_at_most_five_exact_codes() {
        let a = resident("19900307", "451");
        let d = one_error(&grab_custom(
            "[\"G8294\", \"G7*\"]",
            "[\"二等座\"]",
            "",
            &person("张三", &a),
        ));
        assert_at(
            &d,
            6,
            20,
            "\"G7*\" is a prefix, but Juhe orders name their trains",
        );
        let six = "[\"G1\", \"G2\", \"G3\", \"G4\", \"G5\", \"G6\"]";
        let d = one_error(&grab_custom(six, "[\"二等座\"]", "", &person("张三", &a)));
        assert_at(&d, 6, 41, "at most 5 trains");
    }

    #[test]
    fn a_seat_class_without_a_juhe_code_cannot_be_grabbed() {
        let a = resident("19900307", "451");
        let d = one_error(&grab_custom(
            "[\"D1\"]",
            "[\"二等座\", \"动卧\"]",
            "",
            &person("张三", &a),
        ));
        assert_at(&d, 7, 17, "动卧 cannot be grabbed: Juhe has no seat code for it");
        let d = one_error(&grab_custom("[\"D1\"]", "[\"无座\"]", "", &person("张三", &a)));
        assert_at(&d, 7, 10, "seats lists 无座 but accept_no_seat is false");
        let d = one_error(&grab_custom("[\"D1\"]", "[]", "", &person("张三", &a)));
        assert_at(&d, 7, 9, "seats is empty");
    }

    #[test]
    fn the_seat_count_must_match_the_passenger_list() {
        let a = resident("19900307", "451");
        let d = one_error(&grab_with("passengers = 3\n", &person("张三", &a)));
        assert_at(
            &d,
            9,
            14,
            "passengers = 3 but this watch lists 1 [[watch.passenger]]",
        );
        let d = one_error(&watch_with("passengers = [{ name = \"张三\" }]\n"));
        assert_at(&d, 6, 14, "passengers is the number of seats");
        assert!(d.message.contains("[[watch.passenger]]"), "{d}");
    }

    #[test]
    fn a_wrong_check_digit_is_reported_with_the_number_masked() {
        let good = resident("19900307", "451");
        let last = good.chars().last().expect("18 chars");
        let bad = format!("{}{}", &good[..17], if last == '0' { '1' } else { '0' });
        let d = one_error(&grab_with("", &person("张三", &bad)));
        assert_at(&d, 11, 9, "身份证号 1101***********");
        assert!(d.message.contains(&crate::identity::mask_id(&bad)), "{d}");
        assert!(d.message.contains("check character"), "{d}");
        assert_no_number(&[d], &[&bad]);
        let d = one_error(&grab_with("", &person("张三", "11010119900307")));
        assert_at(&d, 11, 9, "has 18 characters");
    }

    #[test]
    fn passenger_mistakes_are_each_reported_where_they_are() {
        let a = resident("19900307", "451");
        let b = resident("19850101", "222");
        let c = resident("20100101", "333");
        let people = format!(
            "[[watch.passenger]]\nname = \"张\"\ntype = \"老人\"\nid_no = \"{a}\"\n\
             [[watch.passenger]]\nname = \"李四\"\nid_type = \"驾照\"\nid_no = \"E12345678\"\n\
             [[watch.passenger]]\nname = \"王五\"\nid_no = \"{b}\"\nbirthday = \"1985-01-02\"\n\
             [[watch.passenger]]\nname = \"Anna Smith\"\nid_type = \"护照\"\nid_no = \"X1234567\"\n\
             [[watch.passenger]]\nname = \"赵小六\"\ntype = \"儿童\"\nid_no = \"{c}\"\n"
        );
        let diags = errors(&grab_with("", &people));
        assert_eq!(diags.len(), 6, "{diags:#?}");
        assert_at(&diags[0], 10, 8, "passenger name \"张\" is too short");
        assert_at(
            &diags[1],
            11,
            8,
            "unknown passenger type \"老人\" (allowed: \"成人\", \"儿童\")",
        );
        assert_at(
            &diags[2],
            15,
            11,
            "unknown id_type \"驾照\" (known: 身份证, 护照, 港澳通行证, 台湾通行证)",
        );
        assert_at(
            &diags[3],
            20,
            12,
            "birthday 1985-01-02 does not match the birth date inside the 身份证号 1101",
        );
        assert_at(&diags[4], 21, 1, "with id_type = \"护照\" needs birthday");
        assert_at(
            &diags[5],
            27,
            8,
            "儿童 tickets are for children under 14, and this passenger is 16",
        );
        assert_no_number(&diags, &[&a, &b, &c]);
    }

    #[test]
    fn duplicate_missing_and_impossible_identities_are_errors() {
        let a = resident("19900307", "451");
        let people = format!("{}{}", person("张三", &a), person("张三三", &a.to_lowercase()));
        let d = one_error(&grab_with("", &people));
        assert_at(&d, 14, 9, "is listed twice in this watch (first on line 11)");
        assert_no_number(&[d], &[&a]);

        let d = one_error(&grab_with("", "[[watch.passenger]]\nname = \"张三\"\n"));
        assert_at(
            &d,
            9,
            1,
            "[[watch.passenger]] is missing the required key \"id_no\"",
        );

        let unborn = resident("20270101", "123");
        let d = one_error(&grab_with("", &person("张三", &unborn)));
        assert_at(&d, 11, 9, "the birth date inside it is in the future");
        assert_no_number(&[d], &[&unborn]);

        let passport = "[[watch.passenger]]\nname = \"Anna Smith\"\nid_type = \"passport\"\nid_no = \"AB-1234567890\"\nbirthday = \"2030-01-01\"\n";
        let diags = errors(&grab_with("", passport));
        assert_eq!(diags.len(), 2, "{diags:#?}");
        assert_at(&diags[0], 12, 9, "护照 number A**********90 is not valid");
        assert_at(&diags[1], 13, 12, "birthday 2030-01-01 is in the future");
        assert_no_number(&diags, &["AB-1234567890"]);

        let d = one_error(&grab_with(
            "",
            &format!("{}birthday = \"1990-3-7\"\n", person("张三", &a)),
        ));
        assert_at(&d, 12, 12, "birthday: invalid date \"1990-3-7\"");
    }

    #[test]
    fn grab_deadlines_orders_and_triggers_are_checked() {
        let a = resident("19900307", "451");
        let p = person("张三", &a);
        let d = one_error(&grab_with("close_time = \"1h\"\n", &p));
        assert_at(
            &d,
            9,
            14,
            "too close to departure: Juhe does not grab within 3 hours of departure",
        );
        let d = one_error(&grab_with("close_time = \"2026-11-01 10:00\"\n", &p));
        assert_at(&d, 9, 14, "close_time \"2026-11-01 10:00\" has passed");
        let d = one_error(&grab_with("close_time = \"soon\"\n", &p));
        assert_at(&d, 9, 14, "invalid close_time \"soon\"");
        let d = one_error(&grab_with("orders_per_date = 4\n", &p));
        assert_at(&d, 9, 19, "orders_per_date must be between 1 and 3, found 4");
        let d = one_error(&grab_with("grab_on = \"now\"\n", &p));
        assert_at(&d, 9, 11, "unknown grab_on \"now\"");
        let d = one_error(&grab_with("accept_no_seat = \"yes\"\n", &p));
        assert_at(&d, 9, 18, "accept_no_seat must be a boolean");
    }

    #[test]
    fn id_numbers_never_appear_whole_in_debug_output_or_diagnostics() {
        let a = resident("19900307", "451");
        let (list, _) = warnings(&grab_with("", &person("张三", &a)));
        let dump = format!("{list:?}");
        assert!(!dump.contains(&a), "{dump}");
        assert!(dump.contains(&crate::identity::mask_id(&a)), "{dump}");
        assert_eq!(
            list.watches[0].grab.as_ref().expect("grab").passengers[0]
                .id_no
                .expose(),
            a
        );

        // An ID number written without quotes is a TOML error: its text is not echoed.
        let unquoted = format!("[[watch.passenger]]\nname = \"张三\"\nid_no = {}X\n", &a[..17]);
        let diags = errors(&grab_with("", &unquoted));
        assert_no_number(&diags, &[&a[..17]]);
        let diags = errors(&grab_with(
            "",
            &format!("[[watch.passenger]]\nname = \"张三\"\nid_no = {}\n", &a[..17]),
        ));
        assert_no_number(&diags, &[&a[..17]]);
    }
}
