//! Step two, one value at a time: a written value → its validated form, or a diagnostic.
//!
//! Each checker takes what [`super::read`] produced (a [`Spanned`] value or a [`RawList`]),
//! reports every problem at the value it is about, and returns `None` when the value is wrong.
//! They know nothing of the watch around the value; [`super::validate`] and [`super::grab`]
//! combine them.

use chrono::{NaiveDate, NaiveTime};

use super::read::{RawSchedule, RawWatch};
use super::section::{RawList, Spanned};
use super::{MAX_PASSENGERS, MAX_RANGE_DAYS, MIN_EVERY, Schedule, TrainPattern, WatchAction};
use crate::clock::TimeWindow;
use crate::diagnostic::Report;
use crate::seat::SeatClass;
use crate::stations::{Lookup, Station, StationTable};

const CRON_EXAMPLE: &str = "\"0 */5 * * * *\"";
const CRON_FIELDS: [&str; 6] = [
    "seconds",
    "minutes",
    "hours",
    "day-of-month",
    "month",
    "day-of-week",
];

/// What a level (`[defaults]` or one `[[watch]]`) says about a setting.
pub(super) enum Setting<T> {
    Unset,
    Set(T),
    /// Written but wrong; already reported.
    Invalid,
}

impl<T> Setting<T> {
    /// The value written, if it is valid.
    pub(super) fn written(self) -> Option<T> {
        match self {
            Setting::Set(v) => Some(v),
            Setting::Unset | Setting::Invalid => None,
        }
    }

    /// The value written, or `default` when none is; `None` when it is invalid (reported).
    pub(super) fn or(self, default: T) -> Option<T> {
        self.or_else(|| default)
    }

    /// As [`Setting::or`], the default computed only when needed.
    pub(super) fn or_else(self, default: impl FnOnce() -> T) -> Option<T> {
        match self {
            Setting::Set(v) => Some(v),
            Setting::Invalid => None,
            Setting::Unset => Some(default()),
        }
    }
}

/// `None` = invalid (reported); `Some(None)` = not written.
pub(super) fn optional<T>(
    raw: Option<&Spanned<String>>,
    validate: impl FnOnce(&Spanned<String>) -> Option<T>,
) -> Option<Option<T>> {
    match raw {
        None => Some(None),
        Some(s) => validate(s).map(Some),
    }
}

pub(super) fn watch_name(name: &Spanned<String>, r: &mut Report) -> Option<String> {
    let trimmed = name.value.trim();
    if trimmed.is_empty() {
        r.error(name.at, "name is empty; give each watch a unique name");
        return None;
    }
    Some(trimmed.to_string())
}

/// A 候补 order number (`reserve_no`): letters and digits, upper-cased.
pub(super) fn reserve_no(s: &Spanned<String>, r: &mut Report) -> Option<String> {
    let v = s.value.trim();
    if !v.is_empty() && v.len() <= 32 && v.chars().all(|c| c.is_ascii_alphanumeric()) {
        Some(v.to_ascii_uppercase())
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

pub(super) fn station(text: &Spanned<String>, stations: &StationTable, r: &mut Report) -> Option<Station> {
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
pub(super) fn day(text: &str) -> Result<NaiveDate, String> {
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

pub(super) fn dates(
    list: &RawList,
    today: NaiveDate,
    watch: &RawWatch,
    r: &mut Report,
) -> Option<Vec<NaiveDate>> {
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

pub(super) fn patterns(list: Option<&RawList>, r: &mut Report) -> Option<Vec<TrainPattern>> {
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

pub(super) fn window(key: &str, text: &Spanned<String>, r: &mut Report) -> Option<TimeWindow> {
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

pub(super) fn seats(list: &RawList, r: &mut Report) -> Option<Vec<SeatClass>> {
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

pub(super) fn passengers(p: &Spanned<i64>, r: &mut Report) -> Option<u32> {
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

pub(super) fn schedule(raw: &RawSchedule, r: &mut Report) -> Setting<Schedule> {
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

/// `burst = "10m"`: how long a date is polled as fast as the budget allows after it goes on
/// sale; `"0s"` turns the burst off.
pub(super) fn burst(text: &Spanned<String>, r: &mut Report) -> Option<std::time::Duration> {
    let t = text.value.trim();
    match humantime::parse_duration(t) {
        Ok(d) if d > MAX_BURST => {
            r.error(
                text.at,
                format!("burst = \"{t}\" is too long: at most 1h (the rush is over; a longer burst only starves the other watches)"),
            );
            None
        }
        Ok(d) => Some(d),
        Err(e) => {
            r.error(
                text.at,
                format!("invalid duration \"{t}\" ({e}); write e.g. \"10m\" or \"0s\" for no burst"),
            );
            None
        }
    }
}

/// The longest `burst`.
const MAX_BURST: std::time::Duration = std::time::Duration::from_secs(3600);

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

/// A `notify` list: email addresses and the names of `[[channel]]`s in the settings.
pub(super) fn notify(list: &RawList, channels: &[String], r: &mut Report) -> Option<Vec<String>> {
    let mut ok = true;
    for entry in list.value.iter().filter(|e| !is_email(&e.value)) {
        if channels.contains(&entry.value) {
            continue;
        }
        ok = false;
        let message = if entry.value.contains('@') || channels.is_empty() {
            // With no channel declared, the entry was meant as an address.
            format!(
                "invalid email address \"{}\": expected name@example.com (or the name of a [[channel]] \
                 declared in the settings)",
                entry.value
            )
        } else {
            format!(
                "unknown channel \"{}\" (the settings declare: {}); or write an email address, name@example.com",
                entry.value,
                channels.join(", ")
            )
        };
        r.error(entry.at, message);
    }
    ok.then(|| list.value.iter().map(|e| e.value.clone()).collect())
}

pub(super) fn action(text: &Spanned<String>, r: &mut Report) -> Option<WatchAction> {
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
