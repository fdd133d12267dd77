//! Which trains and seats of a leftTicket page a watch cares about (pure: no I/O, no clock).
//!
//! A page holds every train 12306 chose to return, including trains boarding at other stations of
//! the same city (protocol doc §3.5), trains the user excluded and seat classes they never asked
//! for. Alerts and orders must only ever see what the watch asked for, so this module is the one
//! place that narrows a page down to [`TrainMatch`]es and decides, per seat class, whether it is
//! available for the watch's party.
//!
//! Decisions:
//! - A train none of whose wanted classes exist on it is dropped (nothing to watch there).
//! - A time that is not `HH:MM` (`24:00`, `99:59` on unbookable rows) fails any window; with no
//!   window the train is kept.
//! - `有` is available for parties up to [`PLENTY`]; the exact `yp_info_new` count is not used to
//!   raise that bound, since it is as stale as the cell.
//! - When nothing matches, [`explain`] says what the page held and what removed each train, by
//!   the same [`judge`] that [`select`] uses, so the explanation can never disagree with it.

use chrono::{NaiveDate, NaiveTime};

use crate::rail::left_ticket::{LeftTicketPage, SeatLeft, TrainRow};
use crate::seat::SeatClass;
use crate::stations::{Station, StationTable};
use crate::watchlist::{TimeWindow, TrainPattern, Watch};

/// 12306 shows `有` for "plenty"; it was observed for 21 seats, so it counts as at least this many.
pub const PLENTY: u32 = 20;

/// One seat class of one matching train, as a watch sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SeatMatch {
    pub seat: SeatClass,
    /// Raw cell text (`有`, `无`, `3`, `*`).
    pub raw: String,
    /// Integer seats left; `Some(0)` for `无`; `None` for `有` and `*`.
    pub count: Option<u32>,
    /// Price in jiao (tenths of a yuan), from `yp_info_new`.
    pub price_jiao: Option<u32>,
    /// The train is bookable and this class has at least `watch.passengers` seats.
    pub available: bool,
}

/// One train of a page that passes the watch's station, train and time filters.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TrainMatch {
    pub date: NaiveDate,
    /// `G8294`.
    pub station_train_code: String,
    /// Actual boarding / alighting telecodes (fields 6/7) and their names.
    pub from_station: String,
    pub to_station: String,
    pub from_name: String,
    pub to_name: String,
    /// `14:44`, `15:53`, `01:09`.
    pub start_time: String,
    pub arrive_time: String,
    pub lishi: String,
    /// `预订` + canWebBuy `Y` + non-empty secretStr.
    pub bookable: bool,
    /// The watch's seat classes present on this train, in the watch's priority order
    /// (or display order when the watch accepts any class).
    pub seats: Vec<SeatMatch>,
    /// Field 55, `sale_time`: when sales open (`202612061330`), for `*` cells.
    pub sale_time: Option<String>,
}

/// Why [`select`] dropped a train, in the order it looks.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Dropped {
    /// Boards (field 6) at `station`, not at the watch's `wanted`; `same_city` would keep it
    /// when the two are in one city.
    BoardsElsewhere {
        station: String,
        wanted: String,
        same_city_would_keep: bool,
    },
    /// Alights (field 7) at `station`, not at `wanted`.
    AlightsElsewhere {
        station: String,
        wanted: String,
        same_city_would_keep: bool,
    },
    /// Not in `trains = [...]` (shown as written).
    NotInTrains { trains: String },
    /// In `exclude_trains = [...]`.
    Excluded { trains: String },
    /// Departs outside the `depart` window (or has no departure time).
    DepartsOutside { window: String },
    /// Arrives outside the `arrive` window.
    ArrivesOutside { window: String },
    /// Has none of the watch's seat classes.
    NoWantedSeat { seats: String },
}

/// What a page held for a (watch, date) that nothing matched, and what removed it: counts per
/// reason, in the order the filter looks (pure data, for `once`, `once --json` and `status`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NoMatch {
    /// Trains 12306 returned for the query.
    pub returned: usize,
    /// (why, how many trains), in filter order; the counts add up to `returned`.
    pub dropped: Vec<(Dropped, usize)>,
}

impl Dropped {
    /// Filter order: stations, train codes, times, seats.
    fn rank(&self) -> u8 {
        match self {
            Dropped::BoardsElsewhere { .. } => 0,
            Dropped::AlightsElsewhere { .. } => 1,
            Dropped::NotInTrains { .. } => 2,
            Dropped::Excluded { .. } => 3,
            Dropped::DepartsOutside { .. } => 4,
            Dropped::ArrivesOutside { .. } => 5,
            Dropped::NoWantedSeat { .. } => 6,
        }
    }

    /// `3 board at 上海 not 上海虹桥 (same_city = false)`, for `n` trains.
    pub fn describe(&self, n: usize) -> String {
        let verb = |singular: &'static str, plural: &'static str| if n == 1 { singular } else { plural };
        let city = |keep: bool| if keep { " (same_city = false)" } else { "" };
        match self {
            Dropped::BoardsElsewhere {
                station,
                wanted,
                same_city_would_keep,
            } => format!(
                "{n} {} at {station} not {wanted}{}",
                verb("boards", "board"),
                city(*same_city_would_keep)
            ),
            Dropped::AlightsElsewhere {
                station,
                wanted,
                same_city_would_keep,
            } => format!(
                "{n} {} at {station} not {wanted}{}",
                verb("alights", "alight"),
                city(*same_city_would_keep)
            ),
            Dropped::NotInTrains { trains } => format!("{n} not in trains = [{trains}]"),
            Dropped::Excluded { trains } => format!("{n} in exclude_trains = [{trains}]"),
            Dropped::DepartsOutside { window } => {
                format!("{n} {} outside {window}", verb("departs", "depart"))
            }
            Dropped::ArrivesOutside { window } => {
                format!("{n} {} outside {window}", verb("arrives", "arrive"))
            }
            Dropped::NoWantedSeat { seats } => {
                format!("{n} {} no {seats}", verb("has", "have"))
            }
        }
    }
}

impl std::fmt::Display for NoMatch {
    /// `12 trains returned; 9 depart outside 07:00–12:00; 3 board at 上海 not 上海虹桥 (same_city = false)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.returned == 0 {
            return f.write_str("12306 returned no trains");
        }
        let trains = if self.returned == 1 { "train" } else { "trains" };
        write!(f, "{} {trains} returned", self.returned)?;
        for (why, n) in &self.dropped {
            write!(f, "; {}", why.describe(*n))?;
        }
        Ok(())
    }
}

/// The trains of `page` that `watch` cares about, in 12306's order, each with the watch's seat
/// classes in priority order. `date` is the queried date, copied into every match.
pub fn select(
    page: &LeftTicketPage<'_>,
    watch: &Watch,
    date: NaiveDate,
    stations: &StationTable,
) -> Vec<TrainMatch> {
    page.trains
        .iter()
        .filter_map(|row| {
            let seats = check(watch, row, stations).ok()?;
            Some(TrainMatch {
                date,
                station_train_code: row.station_train_code.to_string(),
                from_station: row.from_station.to_string(),
                to_station: row.to_station.to_string(),
                from_name: station_name(page, stations, &row.from_station),
                to_name: station_name(page, stations, &row.to_station),
                start_time: row.start_time.to_string(),
                arrive_time: row.arrive_time.to_string(),
                lishi: row.lishi.to_string(),
                bookable: row.bookable(),
                seats,
                sale_time: row.sale_time.as_deref().map(str::to_string),
            })
        })
        .collect()
}

/// One row through the watch's filters, in order: its seats when it is kept, else the first
/// reason it is not.
pub fn judge(
    page: &LeftTicketPage<'_>,
    watch: &Watch,
    row: &TrainRow<'_>,
    stations: &StationTable,
) -> Result<Vec<SeatMatch>, Dropped> {
    check(watch, row, stations).map_err(|filter| dropped(filter, page, watch, row, stations))
}

/// The filter that removed a row, before it is worded as a [`Dropped`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Filter {
    Boards,
    Alights,
    Trains,
    Exclude,
    Depart,
    Arrive,
    Seats,
}

/// [`judge`] without wording the reason: [`select`] runs it on every row of every page for every
/// watch, and most rows are dropped, so a drop must cost no allocation.
fn check(watch: &Watch, row: &TrainRow<'_>, stations: &StationTable) -> Result<Vec<SeatMatch>, Filter> {
    let at = |wanted: &Station, actual: &str| {
        actual == wanted.telecode || (watch.same_city && in_city(stations, wanted, actual))
    };
    if !at(&watch.from, &row.from_station) {
        return Err(Filter::Boards);
    }
    if !at(&watch.to, &row.to_station) {
        return Err(Filter::Alights);
    }
    let code = row.station_train_code.trim();
    let hit = |patterns: &[TrainPattern]| patterns.iter().any(|p| pattern_matches(p, code));
    if !watch.trains.is_empty() && !hit(&watch.trains) {
        return Err(Filter::Trains);
    }
    if hit(&watch.exclude_trains) {
        return Err(Filter::Exclude);
    }
    let inside = |window: &Option<TimeWindow>, time: &str| match window {
        None => true,
        Some(w) => parse_hhmm(time).is_some_and(|t| window_contains(w, t)),
    };
    if !inside(&watch.depart, &row.start_time) {
        return Err(Filter::Depart);
    }
    if !inside(&watch.arrive, &row.arrive_time) {
        return Err(Filter::Arrive);
    }
    let seats = seat_matches(watch, row);
    if seats.is_empty() {
        return Err(Filter::Seats);
    }
    Ok(seats)
}

/// `actual` is a station of `wanted`'s city.
fn in_city(stations: &StationTable, wanted: &Station, actual: &str) -> bool {
    stations.same_city(wanted).iter().any(|s| s.telecode == actual)
}

/// Why `filter` removed `row`, in words (for [`explain`]).
fn dropped(
    filter: Filter,
    page: &LeftTicketPage<'_>,
    watch: &Watch,
    row: &TrainRow<'_>,
    stations: &StationTable,
) -> Dropped {
    let list = |patterns: &[TrainPattern]| {
        patterns
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match filter {
        Filter::Boards => Dropped::BoardsElsewhere {
            station: station_name(page, stations, &row.from_station),
            wanted: watch.from.name.clone(),
            same_city_would_keep: in_city(stations, &watch.from, &row.from_station),
        },
        Filter::Alights => Dropped::AlightsElsewhere {
            station: station_name(page, stations, &row.to_station),
            wanted: watch.to.name.clone(),
            same_city_would_keep: in_city(stations, &watch.to, &row.to_station),
        },
        Filter::Trains => Dropped::NotInTrains {
            trains: list(&watch.trains),
        },
        Filter::Exclude => Dropped::Excluded {
            trains: list(&watch.exclude_trains),
        },
        Filter::Depart => Dropped::DepartsOutside {
            window: window_text(watch.depart.as_ref()),
        },
        Filter::Arrive => Dropped::ArrivesOutside {
            window: window_text(watch.arrive.as_ref()),
        },
        Filter::Seats => Dropped::NoWantedSeat {
            seats: watch.seats.iter().map(|s| s.name()).collect::<Vec<_>>().join("/"),
        },
    }
}

/// `07:00–12:00`, as people write a range.
fn window_text(w: Option<&TimeWindow>) -> String {
    w.map_or_else(String::new, |w| {
        format!("{}–{}", w.start.format("%H:%M"), w.end.format("%H:%M"))
    })
}

/// Why nothing of `page` matched `watch` (pure): the trains returned and, per reason, how many
/// the filter removed, in filter order. Meant for pages where [`select`] found nothing.
pub fn explain(page: &LeftTicketPage<'_>, watch: &Watch, stations: &StationTable) -> NoMatch {
    let mut dropped: Vec<(Dropped, usize)> = Vec::new();
    for row in &page.trains {
        if let Err(why) = judge(page, watch, row, stations) {
            match dropped.iter_mut().find(|(d, _)| *d == why) {
                Some((_, n)) => *n += 1,
                None => dropped.push((why, 1)),
            }
        }
    }
    // Stable: first seen first within one kind of reason.
    dropped.sort_by_key(|(d, _)| d.rank());
    NoMatch {
        returned: page.trains.len(),
        dropped,
    }
}

/// The watch's classes present on `row`, in the watch's priority order (display order when the
/// watch accepts any class), each judged for the watch's party size.
pub fn seat_matches(watch: &Watch, row: &TrainRow<'_>) -> Vec<SeatMatch> {
    let wanted: &[SeatClass] = if watch.seats.is_empty() {
        &SeatClass::ALL
    } else {
        &watch.seats
    };
    let bookable = row.bookable();
    let mut out: Vec<SeatMatch> = Vec::new();
    for &seat in wanted {
        if out.iter().any(|m| m.seat == seat) {
            continue;
        }
        let Some(cell) = row.seats.get(&seat) else {
            continue;
        };
        out.push(SeatMatch {
            seat,
            raw: cell.raw.to_string(),
            count: match cell.left {
                SeatLeft::Count(n) => Some(n),
                SeatLeft::None => Some(0),
                SeatLeft::Plenty | SeatLeft::NotOnSale => None,
            },
            price_jiao: cell.price_jiao,
            available: bookable && enough_seats(cell.left, watch.passengers),
        });
    }
    out
}

/// A cell has room for `passengers`: a count at least that large, or `有` for parties up to
/// [`PLENTY`]. `无` and `*` never do. Train-level bookability is checked separately.
pub fn enough_seats(left: SeatLeft, passengers: u32) -> bool {
    match left {
        SeatLeft::Count(n) => n >= passengers,
        SeatLeft::Plenty => passengers <= PLENTY,
        SeatLeft::None | SeatLeft::NotOnSale => false,
    }
}

/// Jiao (tenths of a yuan, as `yp_info_new` carries prices) → yuan.
pub fn price_yuan(jiao: u32) -> f64 {
    f64::from(jiao) / 10.0
}

/// A station's name: the page's own `data.map` first (it names pseudo-stations the embedded table
/// lacks), then the table, else the telecode itself.
fn station_name(page: &LeftTicketPage<'_>, stations: &StationTable, code: &str) -> String {
    page.names
        .get(code)
        .map(|name| name.to_string())
        .or_else(|| stations.by_telecode(code).map(|s| s.name.clone()))
        .unwrap_or_else(|| code.to_string())
}

/// Exact patterns compare whole codes, prefix patterns the start; ASCII case is ignored (`g12`
/// is `G12`).
fn pattern_matches(p: &TrainPattern, code: &str) -> bool {
    let text = p.text.trim();
    if p.prefix {
        code.as_bytes()
            .get(..text.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(text.as_bytes()))
    } else {
        code.eq_ignore_ascii_case(text)
    }
}

/// Strict `HH:MM`: 12306 writes `24:00`/`99:59` for trains without a time, which must not match.
fn parse_hhmm(s: &str) -> Option<NaiveTime> {
    let s = s.trim();
    if s.len() != 5 {
        return None;
    }
    NaiveTime::parse_from_str(s, "%H:%M").ok()
}

/// Inclusive at both ends; a window whose end is before its start wraps past midnight.
fn window_contains(w: &TimeWindow, t: NaiveTime) -> bool {
    if w.start <= w.end {
        w.start <= t && t <= w.end
    } else {
        t >= w.start || t <= w.end
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::rail::left_ticket::{decode_left_ticket, decode_row_owned, test_rows};
    use crate::watchlist::{Schedule, WatchAction};

    const QUERY_G: &str = include_str!("../tests/fixtures/leftTicket/queryG.SHH-CZH.2024-04-22.json");
    const SEED_002: &str = include_str!("../tests/fixtures/seed_002_leftTicket.txt");

    fn table() -> &'static StationTable {
        StationTable::embedded()
    }

    fn station(code: &str) -> Station {
        table().by_telecode(code).unwrap().clone()
    }

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 4, 22).unwrap()
    }

    fn watch(from: &str, to: &str) -> Watch {
        Watch {
            name: "test".into(),
            from: station(from),
            to: station(to),
            same_city: false,
            dates: vec![date()],
            trains: vec![],
            exclude_trains: vec![],
            depart: None,
            arrive: None,
            seats: vec![],
            passengers: 1,
            student: false,
            schedule: Schedule::Every(Duration::from_secs(60)),
            burst: crate::watchlist::DEFAULT_BURST,
            notify: vec![],
            action: WatchAction::Alert,
            grab: None,
            line: 1,
        }
    }

    fn pattern(text: &str) -> TrainPattern {
        match text.strip_suffix('*') {
            Some(p) => TrainPattern {
                text: p.into(),
                prefix: true,
            },
            None => TrainPattern {
                text: text.into(),
                prefix: false,
            },
        }
    }

    fn window(start: &str, end: &str) -> Option<TimeWindow> {
        Some(TimeWindow {
            start: parse_hhmm(start).unwrap(),
            end: parse_hhmm(end).unwrap(),
        })
    }

    fn page() -> LeftTicketPage<'static> {
        decode_left_ticket(QUERY_G).unwrap()
    }

    fn codes(w: &Watch) -> Vec<String> {
        select(&page(), w, date(), table())
            .into_iter()
            .map(|m| m.station_train_code)
            .collect()
    }

    /// A one-train page, SHH→CZH, with the given fields set on a bookable 57-field row.
    fn page_with(set: &[(usize, &str)]) -> LeftTicketPage<'static> {
        let defaults: &[(usize, &str)] = &[(3, "G7"), (8, "10:00"), (9, "11:00")];
        LeftTicketPage {
            trains: vec![decode_row_owned(0, &test_rows::row_with(57, &[defaults, set].concat())).unwrap()],
            names: Default::default(),
        }
    }

    fn seats_of(m: &TrainMatch) -> Vec<(SeatClass, Option<u32>, bool)> {
        m.seats.iter().map(|s| (s.seat, s.count, s.available)).collect()
    }

    #[test]
    fn without_same_city_only_rows_boarding_at_the_watched_station_are_kept() {
        assert_eq!(codes(&watch("SHH", "CZH")), ["G8294"]);
        assert_eq!(codes(&watch("AOH", "CZH")), ["D3010"]);
        assert_eq!(codes(&watch("SHH", "ESH")), Vec::<String>::new());
    }

    #[test]
    fn with_same_city_every_station_of_both_cities_is_accepted() {
        let mut w = watch("SHH", "CZH");
        w.same_city = true;
        assert_eq!(codes(&w), ["D3010", "G8294"]);
        let mut w = watch("AOH", "ESH");
        w.same_city = true;
        assert_eq!(codes(&w), ["D3010", "G8294"]);
    }

    #[test]
    fn matches_carry_the_date_times_and_names_from_the_page() {
        let mut w = watch("SHH", "CZH");
        w.same_city = true;
        let got = select(&page(), &w, date(), table());
        let d = &got[0];
        assert_eq!(d.date, date());
        assert_eq!((d.from_station.as_str(), d.to_station.as_str()), ("AOH", "CZH"));
        assert_eq!((d.from_name.as_str(), d.to_name.as_str()), ("上海虹桥", "常州"));
        assert_eq!(
            (d.start_time.as_str(), d.arrive_time.as_str()),
            ("14:42", "15:44")
        );
        assert_eq!(d.lishi, "01:02");
        assert!(d.bookable);
    }

    #[test]
    fn names_fall_back_to_the_station_table_then_to_the_telecode() {
        let p = page_with(&[(30, "5")]);
        let got = select(&p, &watch("SHH", "CZH"), date(), table());
        assert_eq!(
            (got[0].from_name.as_str(), got[0].to_name.as_str()),
            ("上海", "常州")
        );
        assert!(table().by_telecode("Q9Z").is_none());
        assert_eq!(station_name(&p, table(), "Q9Z"), "Q9Z");
        let mut p = p;
        p.names.insert("SHH".into(), "上 海".into());
        assert_eq!(station_name(&p, table(), "SHH"), "上 海");
    }

    #[test]
    fn include_patterns_are_exact_or_prefix_and_ignore_case() {
        let mut w = watch("SHH", "CZH");
        w.same_city = true;
        w.trains = vec![pattern("G*")];
        assert_eq!(codes(&w), ["G8294"]);
        w.trains = vec![pattern("g8294")];
        assert_eq!(codes(&w), ["G8294"]);
        w.trains = vec![pattern("G829")];
        assert!(codes(&w).is_empty(), "an exact pattern is not a prefix");
        w.trains = vec![pattern("G829*"), pattern("D3010")];
        assert_eq!(codes(&w), ["D3010", "G8294"]);
    }

    #[test]
    fn exclude_patterns_win_over_include_patterns() {
        let mut w = watch("SHH", "CZH");
        w.same_city = true;
        w.exclude_trains = vec![pattern("D*")];
        assert_eq!(codes(&w), ["G8294"]);
        w.trains = vec![pattern("G8294"), pattern("D3010")];
        w.exclude_trains = vec![pattern("G8294")];
        assert_eq!(codes(&w), ["D3010"]);
    }

    #[test]
    fn depart_and_arrive_windows_are_inclusive() {
        let mut w = watch("SHH", "CZH");
        w.same_city = true;
        w.depart = window("14:43", "15:00");
        assert_eq!(codes(&w), ["G8294"]);
        w.depart = window("14:42", "14:42");
        assert_eq!(codes(&w), ["D3010"]);
        w.depart = None;
        w.arrive = window("15:00", "15:44");
        assert_eq!(codes(&w), ["D3010"]);
        w.depart = window("14:44", "14:44");
        assert!(codes(&w).is_empty(), "both windows must hold");
    }

    #[test]
    fn a_window_ending_before_it_starts_wraps_past_midnight() {
        let mut w = watch("SHH", "CZH");
        w.same_city = true;
        w.depart = window("22:00", "14:42");
        assert_eq!(codes(&w), ["D3010"]);
        w.depart = window("14:43", "06:00");
        assert_eq!(codes(&w), ["G8294"]);
        w.depart = window("23:00", "01:00");
        assert!(codes(&w).is_empty());
        let wrap = window("23:00", "01:00").unwrap();
        for (t, inside) in [
            ("23:30", true),
            ("00:00", true),
            ("01:00", true),
            ("01:01", false),
        ] {
            assert_eq!(window_contains(&wrap, parse_hhmm(t).unwrap()), inside, "{t}");
        }
    }

    #[test]
    fn an_unparsable_time_fails_any_window_but_passes_without_one() {
        let p = page_with(&[(8, "24:00"), (9, "99:59"), (30, "无")]);
        let mut w = watch("SHH", "CZH");
        assert_eq!(select(&p, &w, date(), table()).len(), 1);
        w.depart = window("00:00", "23:59");
        assert!(select(&p, &w, date(), table()).is_empty());
        w.depart = None;
        w.arrive = window("23:00", "22:59");
        assert!(select(&p, &w, date(), table()).is_empty());
    }

    #[test]
    fn seats_follow_the_watch_priority_and_skip_classes_the_train_lacks() {
        let mut w = watch("SHH", "CZH");
        w.seats = vec![
            SeatClass::Second,
            SeatClass::HardSeat,
            SeatClass::Business,
            SeatClass::Second,
        ];
        let got = select(&page(), &w, date(), table());
        let order: Vec<_> = got[0].seats.iter().map(|s| s.seat).collect();
        assert_eq!(order, [SeatClass::Second, SeatClass::Business]);

        w.seats = vec![];
        let got = select(&page(), &w, date(), table());
        let order: Vec<_> = got[0].seats.iter().map(|s| s.seat).collect();
        assert_eq!(
            order,
            [
                SeatClass::Business,
                SeatClass::First,
                SeatClass::Second,
                SeatClass::NoSeat
            ]
        );
        let business = &got[0].seats[0];
        assert_eq!(business.raw, "13");
        assert_eq!(business.price_jiao.map(price_yuan), Some(289.0));
        assert_eq!(got[0].seats[2].price_jiao.map(price_yuan), Some(91.0));
    }

    #[test]
    fn trains_without_any_wanted_class_are_dropped() {
        let mut w = watch("SHH", "CZH");
        w.same_city = true;
        w.seats = vec![SeatClass::Business];
        assert_eq!(codes(&w), ["G8294"]);
        w.seats = vec![SeatClass::HardSleeper];
        assert!(codes(&w).is_empty());
    }

    #[test]
    fn you_counts_as_twenty_and_counts_must_cover_every_passenger() {
        let mut w = watch("SHH", "CZH");
        w.same_city = true;
        w.passengers = 2;
        let got = select(&page(), &w, date(), table());
        assert_eq!(
            seats_of(&got[1]),
            [
                (SeatClass::Business, Some(13), true),
                (SeatClass::First, None, true),
                (SeatClass::Second, None, true),
                (SeatClass::NoSeat, None, true),
            ]
        );
        w.passengers = 5;
        let got = select(&page(), &w, date(), table());
        assert_eq!(
            seats_of(&got[0]),
            [
                (SeatClass::First, Some(14), true),
                (SeatClass::Second, Some(3), false),
                (SeatClass::NoSeat, None, true),
            ]
        );
        w.passengers = PLENTY + 1;
        let got = select(&page(), &w, date(), table());
        assert!(got[1].seats.iter().all(|s| !s.available));
    }

    #[test]
    fn not_on_sale_and_none_left_are_never_available() {
        let p = page_with(&[(30, "*"), (31, "无"), (32, "0")]);
        let got = select(&p, &watch("SHH", "CZH"), date(), table());
        assert!(got[0].bookable);
        assert_eq!(
            seats_of(&got[0]),
            [
                (SeatClass::Business, Some(0), false),
                (SeatClass::First, Some(0), false),
                (SeatClass::Second, None, false),
            ]
        );
        assert_eq!(got[0].seats[2].raw, "*");
    }

    #[test]
    fn is_time_not_buy_is_never_available_even_with_you() {
        let start = SEED_002.find("```\n{").unwrap() + 4;
        let len = SEED_002[start..].find("\n```").unwrap();
        let p = decode_left_ticket(&SEED_002[start..start + len]).unwrap();
        let got = select(&p, &watch("VNP", "AOH"), date(), table());
        assert_eq!(got.len(), 2);
        for m in &got {
            assert!(!m.bookable);
            assert!(m.seats.iter().any(|s| s.raw == "有"));
            assert!(m.seats.iter().all(|s| !s.available), "{m:?}");
        }
    }

    #[test]
    fn an_unbookable_row_has_no_available_seats_whatever_the_cells_say() {
        for set in [(0, ""), (1, "停运"), (11, "N")] {
            let p = page_with(&[set, (30, "有"), (32, "9")]);
            let got = select(&p, &watch("SHH", "CZH"), date(), table());
            assert!(got[0].seats.iter().all(|s| !s.available), "{set:?}");
        }
    }

    #[test]
    fn odd_times_and_patterns_never_panic() {
        let w = window("08:00", "09:00").unwrap();
        for t in [
            "", "8:00", "08:0é", "é8:00", "08:60", "24:00", "99:59", "08:00:00", "0800",
        ] {
            let _ = parse_hhmm(t).map(|t| window_contains(&w, t));
        }
        assert!(pattern_matches(&pattern("*"), "G1"));
        assert!(!pattern_matches(&pattern(""), "G1"));
    }

    #[test]
    fn why_nothing_matched_counts_each_train_once_at_the_first_filter_that_drops_it() {
        // 上海虹桥 → 常州, mornings only: G8294 boards at 上海, D3010 departs 14:42.
        let mut w = watch("AOH", "CZH");
        w.depart = window("07:00", "12:00");
        assert!(select(&page(), &w, date(), table()).is_empty());
        let why = explain(&page(), &w, table());
        assert_eq!(why.returned, 2);
        assert_eq!(
            why.to_string(),
            "2 trains returned; 1 boards at 上海 not 上海虹桥 (same_city = false); 1 departs outside 07:00–12:00"
        );
        let total: usize = why.dropped.iter().map(|(_, n)| n).sum();
        assert_eq!(total, why.returned, "every train is accounted for once");
    }

    #[test]
    fn every_kind_of_reason_is_named_with_what_the_watch_said() {
        let mut w = watch("SHH", "CZH");
        w.trains = vec![pattern("D*")];
        assert_eq!(
            explain(&page(), &w, table()).to_string(),
            "2 trains returned; 1 boards at 上海虹桥 not 上海 (same_city = false); 1 not in trains = [D*]"
        );
        let mut w = watch("SHH", "CZH");
        w.same_city = true;
        w.exclude_trains = vec![pattern("G8294"), pattern("D*")];
        assert_eq!(
            explain(&page(), &w, table()).to_string(),
            "2 trains returned; 2 in exclude_trains = [G8294, D*]"
        );
        let mut w = watch("SHH", "CZH");
        w.same_city = true;
        w.arrive = window("18:00", "23:30");
        assert_eq!(
            explain(&page(), &w, table()).to_string(),
            "2 trains returned; 2 arrive outside 18:00–23:30"
        );
        let mut w = watch("SHH", "CZH");
        w.same_city = true;
        w.seats = vec![SeatClass::SoftSleeper];
        assert_eq!(
            explain(&page(), &w, table()).to_string(),
            "2 trains returned; 2 have no 软卧"
        );
        let w = watch("SHH", "ESH");
        assert_eq!(
            explain(&page(), &w, table()).to_string(),
            "2 trains returned; 1 boards at 上海虹桥 not 上海 (same_city = false); 1 alights at 常州 not 常州北 (same_city = false)"
        );
        let empty = LeftTicketPage::default();
        assert_eq!(
            explain(&empty, &w, table()).to_string(),
            "12306 returned no trains"
        );
    }

    #[test]
    fn a_kept_train_carries_its_sale_time_for_star_cells() {
        let mut w = watch("SHH", "CZH");
        w.same_city = true;
        let m = select(&page(), &w, date(), table());
        let g = m.iter().find(|t| t.station_train_code == "G8294").unwrap();
        assert_eq!(g.sale_time.as_deref(), Some("202404081430"));
    }
}
