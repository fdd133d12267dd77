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
//! This file holds what the rest of yupiao imports: the validated types ([`Watch`], [`GrabSpec`],
//! [`WaitlistWatch`], [`Schedule`], …; [`TimeWindow`] lives in [`crate::clock`] and is
//! re-exported) and the entry points [`load`], [`read`] and [`parse`]. The steps live beside it,
//! each importing only from the ones before it:
//!
//! | module | job |
//! | --- | --- |
//! | `section` | one TOML table read with positions: typed values, type errors, unknown keys |
//! | `read` | step one: the document → raw `[defaults]`, `[[watch]]`, `[[waitlist]]` values |
//! | `values` | one written value → its validated form (station, dates, window, cron, …) |
//! | `grab` | what a 抢票 watch adds: trains, seats, `[[watch.passenger]]`, deadline |
//! | `validate` | step two: raw values → the [`WatchList`], defaults applied |
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
//! burst = "10m"                   # after a date's 起售 opening, poll it as fast as allowed for
//!                                 # this long (default 10m, at most 1h, "0s": no burst)
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

mod grab;
mod read;
mod section;
mod validate;
mod values;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::Path;
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime};

pub use crate::clock::TimeWindow;
pub use crate::diagnostic::{Diagnostic, Severity};
use crate::diagnostic::{Report, syntax_message};
pub use crate::identity::IdNumber;
use crate::seat::SeatClass;
use crate::stations::{Station, StationTable};

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
    /// After a date's 起售 opening, it is polled as fast as allowed for this long (0: no burst).
    pub burst: Duration,
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
    pub fn parse(s: &str) -> Option<IdType> {
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

/// `burst` of a watch that does not set it: the first minutes after 起售 sell most tickets.
pub const DEFAULT_BURST: Duration = Duration::from_secs(600);
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
    load_with_channels(path, today, &[])
}

/// [`load`], where `notify` lists may also name these `[[channel]]`s.
pub fn load_with_channels(
    path: &Path,
    today: NaiveDate,
    channels: &[String],
) -> Result<(WatchList, Vec<Diagnostic>), Vec<Diagnostic>> {
    let text = read(path).map_err(|d| vec![d])?;
    parse_with_channels(
        &text,
        &path.display().to_string(),
        today,
        StationTable::embedded(),
        channels,
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
    parse_with_channels(text, file, today, stations, &[])
}

/// [`parse`], where `notify` lists may also name these `[[channel]]`s of the settings (an
/// unknown name is an error at its `line:col`).
pub fn parse_with_channels(
    text: &str,
    file: &str,
    today: NaiveDate,
    stations: &StationTable,
    channels: &[String],
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
    let raw = read::document(doc.as_table(), &mut report);
    let list = validate::list(raw, today, stations, channels, &mut report);
    if report.has_errors() {
        Err(report.finish())
    } else {
        Ok((list, report.finish()))
    }
}
