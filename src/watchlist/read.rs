//! Step one: the TOML document → raw, position-carrying values.
//!
//! Unknown keys, wrong types, missing required keys and misshapen tables (`[watch]` for
//! `[[watch]]`, people written into `passengers`) are caught here; what the values mean is step
//! two's business ([`super::validate`]). Nothing is dropped silently: a key that cannot be read is
//! reported and left `None`, so step two judges what remains.

use toml_edit::{Item, TableLike, Value};

use super::section::{RawList, Section, Spanned};
use crate::diagnostic::{Report, nearest_key, span_start, with_article};
use crate::identity::IdNumber;

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
    "burst",
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

/// `every` and `cron` as written (at most one may be set; step two says so).
#[derive(Debug, Default)]
pub(super) struct RawSchedule {
    pub(super) every: Option<Spanned<String>>,
    pub(super) cron: Option<Spanned<String>>,
}

/// `[defaults]` as written.
#[derive(Debug, Default)]
pub(super) struct RawDefaults {
    pub(super) schedule: RawSchedule,
    pub(super) notify: Option<RawList>,
}

/// One `[[waitlist]]` as written.
#[derive(Debug, Default)]
pub(super) struct RawWaitlist {
    pub(super) at: usize,
    pub(super) name: Option<Spanned<String>>,
    pub(super) reserve_no: Option<Spanned<String>>,
    pub(super) schedule: RawSchedule,
    pub(super) notify: Option<RawList>,
}

/// One `[[watch]]` as written: types checked, nothing else.
#[derive(Debug, Default)]
pub(super) struct RawWatch {
    /// Offset of the `[[watch]]` header.
    pub(super) at: usize,
    pub(super) name: Option<Spanned<String>>,
    pub(super) from: Option<Spanned<String>>,
    pub(super) to: Option<Spanned<String>>,
    pub(super) same_city: Option<bool>,
    pub(super) dates: Option<RawList>,
    pub(super) trains: Option<RawList>,
    pub(super) exclude_trains: Option<RawList>,
    pub(super) depart: Option<Spanned<String>>,
    pub(super) arrive: Option<Spanned<String>>,
    pub(super) seats: Option<RawList>,
    pub(super) passengers: Option<Spanned<i64>>,
    pub(super) student: Option<Spanned<bool>>,
    pub(super) schedule: RawSchedule,
    /// `burst`: how long a date polls as fast as allowed after its 起售 opening.
    pub(super) burst: Option<Spanned<String>>,
    pub(super) notify: Option<RawList>,
    pub(super) action: Option<Spanned<String>>,
    pub(super) grab: RawGrab,
}

/// The grab-only keys of a `[[watch]]` as written.
#[derive(Debug, Default)]
pub(super) struct RawGrab {
    /// Each grab-only key that is present and where it was written.
    pub(super) keys: Vec<(&'static str, usize)>,
    pub(super) grab_on: Option<Spanned<String>>,
    pub(super) accept_no_seat: Option<bool>,
    pub(super) close_time: Option<Spanned<String>>,
    pub(super) orders_per_date: Option<Spanned<i64>>,
    /// `[[watch.passenger]]` entries; `at` is where the first one (or the array) starts.
    pub(super) passengers: Option<Spanned<Vec<RawPassenger>>>,
}

/// One `[[watch.passenger]]` as written. The ID number is wrapped at once so that no `Debug`
/// of the raw values can print it.
#[derive(Debug, Default)]
pub(super) struct RawPassenger {
    /// Offset of the `[[watch.passenger]]` header.
    pub(super) at: usize,
    pub(super) name: Option<Spanned<String>>,
    pub(super) kind: Option<Spanned<String>>,
    pub(super) id_type: Option<Spanned<String>>,
    pub(super) id_no: Option<Spanned<IdNumber>>,
    pub(super) birthday: Option<Spanned<String>>,
}

/// The whole file as written.
#[derive(Debug, Default)]
pub(super) struct RawDocument {
    pub(super) defaults: RawDefaults,
    pub(super) watches: Vec<RawWatch>,
    pub(super) waitlists: Vec<RawWaitlist>,
    /// `watch` is neither `[[watch]]` nor an array of inline tables (already reported, so the
    /// empty-list warning would only repeat it).
    pub(super) watch_malformed: bool,
}

/// Reads the whole document; every problem of step one goes to `r`.
pub(super) fn document(root: &toml_edit::Table, r: &mut Report) -> RawDocument {
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
            if s.get("name").is_none() {
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
        if s.get(key).is_none() {
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
        burst: s.string("burst", r),
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
        if s.get(key).is_none() {
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
