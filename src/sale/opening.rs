//! The opening (起售) moment of a (boarding station, travel date), and whether a date is on sale.
//!
//! 12306 opens each travel date at a fixed time of day that depends on the **boarding** station,
//! on the first day of the presale window. yupiao learns that moment from four sources, best
//! first ([`OpeningSource`]), and everything here is pure: observations in, [`Opening`] out.
//!
//! # The arithmetic, and the evidence for it
//!
//! - **Opening day = D − (N − 1) days**, N = presale days (`login/conf` `other_control`, 15): the
//!   window counts the opening day as day 1 and the travel day as day N. Real field-55 values:
//!   the 2024 capture (`tests/fixtures/leftTicket/queryG.SHH-CZH.2024-04-22.json`, whose trace's
//!   `login/conf` says `other_control:15`) has D3010 boarding 上海虹桥 AOH on 2024-04-22 with
//!   `sale_time` `202404081330` and G8294 boarding 上海 SHH the same day with `202404081430`: 14
//!   days before. The same author's `QueryXHandler.java` (`hyfsy/scramble-ticket`, commit
//!   `e1f0a120`) keeps two G7316 rows of 2025-01-03 boarding 松江南 IMH and 上海虹桥 AOH with
//!   `202412201430` and `202412201330`: again 14 days, across the year end.
//! - **The time of day belongs to the boarding station**, not the train, and is the same for
//!   every date: 上海虹桥 opens at 13:30 in both captures eight months apart, 上海 at 14:30, and a
//!   2026 copy of `qss.js` (`SilenceWanna/auto-grab:src/data/station_release_time.json`) agrees
//!   (上海虹桥 13:30, 上海 14:30). Times do change: the same copy has 松江南 at 09:30, where the
//!   2024 row said 14:30, so a fresh field 55 beats `qss.js`.
//! - **Field 1** reads `xx月xx日xx点起售` (protocol doc §3), also with minutes and without a date:
//!   `14点30分起售` (next to D3010 in `QueryXHandler.java`), `12点45分起售`, `17点30分起售`,
//!   `9月29日<br/>9点起售` (older answers; 12306's page inserts the text as HTML). A text without
//!   a date means the day it was received; a month and day without a year belong to the latest
//!   year that puts the opening on or before the travel date (an opening never follows travel).
//!
//! Decisions beyond the evidence: when only the window is known ([`OpeningSource::PresaleWindow`])
//! the opening is the start of its day and its time is unknown ([`OnSale::OpeningDay`]): 12306
//! answers queries for that date all day, and the first answer carries field 55.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Datelike, Days, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};

use super::qss::QssTable;
use crate::rail::left_ticket::{LeftTicketPage, TrainRow};

/// Where an [`Opening`] was learnt, best first (the order of the variants is the preference).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum OpeningSource {
    /// Row field 55 (`sale_time`): of a row for this very date, or the station's daily time
    /// read from a row of any other date.
    SaleTimeField,
    /// Row field 1 (`buttonTextInfo`) of a row for this date: `12月06日13点30分起售`.
    ButtonText,
    /// `qss.js`: the station's daily sale time from 12306's published table.
    Qss,
    /// Only the presale window is known: the day, not the time.
    PresaleWindow,
}

impl OpeningSource {
    /// How `check`, `once` and `status` name the source.
    pub fn label(self) -> &'static str {
        match self {
            OpeningSource::SaleTimeField => "from sale_time",
            OpeningSource::ButtonText => "from 12306's 起售 notice",
            OpeningSource::Qss => "from qss.js",
            OpeningSource::PresaleWindow => "from the presale window",
        }
    }
}

/// The moment a (boarding station, travel date) goes on sale, on 12306's clock (Beijing time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Opening {
    /// The opening; for [`OpeningSource::PresaleWindow`] the start of the opening day.
    pub at: DateTime<FixedOffset>,
    pub source: OpeningSource,
}

impl Opening {
    /// The time of day is known (every source but the bare presale window).
    pub fn time_known(&self) -> bool {
        self.source != OpeningSource::PresaleWindow
    }

    /// `12-01 13:30 起售`, or `12-01 起售` when the time of day is unknown.
    pub fn short(&self) -> String {
        if self.time_known() {
            format!("{} 起售", self.at.format("%m-%d %H:%M"))
        } else {
            format!("{} 起售", self.at.format("%m-%d"))
        }
    }
}

/// Whether a travel date is on sale at a moment of 12306's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum OnSale {
    /// On sale now.
    Open,
    /// Not yet: the opening is ahead.
    NotYet(Opening),
    /// Its opening day has begun but the time of day is unknown (only the window is known):
    /// 12306 answers queries for it, and the answer tells (field 55, field 1).
    OpeningDay(Opening),
    /// Before 12306's today: nothing is sold any more.
    Past,
    /// Nothing is known about its opening.
    Unknown,
}

impl OnSale {
    /// A query for this date makes sense now (on sale, or on its opening day to learn the time).
    pub fn queryable(&self) -> bool {
        matches!(self, OnSale::Open | OnSale::OpeningDay(_))
    }

    /// The opening, when there is one ahead or today.
    pub fn opening(&self) -> Option<&Opening> {
        match self {
            OnSale::NotYet(o) | OnSale::OpeningDay(o) => Some(o),
            _ => None,
        }
    }

    /// The line `check`, `once` and `status` print for `date`: `12-06 未开售 · 12-01 13:30 起售`.
    pub fn describe(&self, date: NaiveDate) -> String {
        let d = date.format("%m-%d");
        match self {
            OnSale::Open => format!("{d} 已开售"),
            OnSale::NotYet(o) => format!("{d} 未开售 · {}", o.short()),
            OnSale::OpeningDay(o) => format!("{d} 未开售 · {} (time not known yet)", o.short()),
            OnSale::Past => format!("{d} 已过"),
            OnSale::Unknown => format!("{d} 起售时间未知"),
        }
    }

    /// [`OnSale::describe`] followed by where the opening came from, when there is one:
    /// `12-06 未开售 · 12-01 13:30 起售 (from sale_time)`.
    pub fn describe_with_source(&self, date: NaiveDate) -> String {
        match self.opening() {
            Some(o) => format!("{} ({})", self.describe(date), o.source.label()),
            None => self.describe(date),
        }
    }
}

/// Decides whether `date` is on sale at `now` (12306's clock), given its opening if known.
pub fn on_sale(date: NaiveDate, opening: Option<&Opening>, now: DateTime<FixedOffset>) -> OnSale {
    let now = now.with_timezone(&beijing());
    if date < now.date_naive() {
        return OnSale::Past;
    }
    match opening {
        None => OnSale::Unknown,
        Some(o) if now < o.at => OnSale::NotYet(*o),
        // The opening day has passed: on sale, whatever its time was.
        Some(o) if !o.time_known() && now < o.at + chrono::TimeDelta::days(1) => OnSale::OpeningDay(*o),
        Some(_) => OnSale::Open,
    }
}

/// UTC+8: 12306's times are Beijing times.
pub fn beijing() -> FixedOffset {
    crate::clock::beijing()
}

/// `day` at `time`, Beijing.
pub fn at_beijing(day: NaiveDate, time: NaiveTime) -> DateTime<FixedOffset> {
    beijing()
        .from_local_datetime(&day.and_time(time))
        .single()
        .expect("a fixed offset maps every local time exactly once")
}

/// The first day `date` is on sale: the window of `presale_days` counts that day as day 1 and
/// the travel day as the last (`2024-04-22`, 15 days → `2024-04-08`).
pub fn opening_day(date: NaiveDate, presale_days: u32) -> NaiveDate {
    date - Days::new(u64::from(presale_days.max(1) - 1))
}

/// Field 55 `sale_time`, `YYYYMMDDHHMM` (Beijing): `202404081430` → 2024-04-08 14:30+08:00.
/// Anything else (empty in rows before 2024, garbage) is `None`.
pub fn parse_sale_time(field: &str) -> Option<DateTime<FixedOffset>> {
    let f = field.trim();
    if f.len() != 12 || !f.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let dt = NaiveDateTime::parse_from_str(f, "%Y%m%d%H%M").ok()?;
    Some(at_beijing(dt.date(), dt.time()))
}

/// Field 1 when it announces an opening: `[MM月DD日]HH点[MM分]起售`, with or without leading zeros,
/// spaces or a `<br/>` between date and time; also `HH:MM起售`. `travel_date` anchors the year
/// (the latest that puts the opening on or before it); `received_on` (12306's date when the
/// answer arrived) is the day of a text without a date. Other texts (`预订`, `停运`,
/// `23:00-06:00系统维护时间`) are `None`.
pub fn parse_button_text(
    text: &str,
    travel_date: NaiveDate,
    received_on: NaiveDate,
) -> Option<DateTime<FixedOffset>> {
    let mut s: String = text
        .replace("<br/>", "")
        .replace("<br />", "")
        .replace("<br>", "")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    s = s.strip_suffix("起售")?.to_string();
    let (day, rest) = match s.split_once('日') {
        Some((md, rest)) => {
            let (m, d) = md.split_once('月')?;
            let (month, day) = (number(m)?, number(d)?);
            (year_before(travel_date, month, day)?, rest.to_string())
        }
        None => (received_on, s),
    };
    let (hour, minute) = if let Some((h, m)) = rest.split_once(':') {
        (number(h)?, number(m)?)
    } else {
        let (h, m) = rest.split_once('点')?;
        let minute = match m {
            "" => 0,
            m => number(m.strip_suffix('分').unwrap_or(m))?,
        };
        (number(h)?, minute)
    };
    let time = NaiveTime::from_hms_opt(hour, minute, 0)?;
    Some(at_beijing(day, time))
}

/// One or two ASCII digits.
fn number(s: &str) -> Option<u32> {
    let digits = (1..=2).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    if digits { s.parse().ok() } else { None }
}

/// `month`/`day` in the latest year that is not after `anchor`.
fn year_before(anchor: NaiveDate, month: u32, day: u32) -> Option<NaiveDate> {
    let this = NaiveDate::from_ymd_opt(anchor.year(), month, day).filter(|d| *d <= anchor);
    this.or_else(|| NaiveDate::from_ymd_opt(anchor.year() - 1, month, day))
}

/// What yupiao has learnt about openings from 12306's own answers (pure data; the daemon keeps
/// one and feeds it every page it decodes).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SaleCalendar {
    /// Boarding telecode → its daily sale time, from field 55 of any date.
    station_times: BTreeMap<String, StationTime>,
    /// (boarding telecode, travel date) → the opening rows of that very date announced.
    dated: BTreeMap<(String, NaiveDate), Opening>,
}

/// A station's daily sale time and when it was last seen (newer observations win).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StationTime {
    time: NaiveTime,
    seen_on: NaiveDate,
}

impl SaleCalendar {
    pub fn new() -> SaleCalendar {
        SaleCalendar::default()
    }

    /// Learns from one answer for `date`, received on 12306's day `received_on`: every row
    /// teaches its boarding station's daily time (field 55) and this date's opening (field 55,
    /// else field 1). Rows of other stations of the same city teach their own stations.
    pub fn learn_page(&mut self, page: &LeftTicketPage, date: NaiveDate, received_on: NaiveDate) {
        let mut daily: BTreeMap<&str, NaiveTime> = BTreeMap::new();
        let mut dated: BTreeMap<&str, Opening> = BTreeMap::new();
        for row in &page.trains {
            let station = row.from_station.as_str();
            if let Some(at) = row.sale_time.as_deref().and_then(parse_sale_time) {
                let t = daily.entry(station).or_insert(at.time());
                // Rows of one station agree in every capture; if they ever do not, the earliest
                // is the one to be on time for.
                *t = (*t).min(at.time());
            }
            if let Some(o) = row_opening(row, date, received_on) {
                let best = dated.entry(station).or_insert(o);
                if (o.source, o.at) < (best.source, best.at) {
                    *best = o;
                }
            }
        }
        // The latest answer about a date replaces what older ones said.
        for (station, o) in dated {
            self.dated.insert((station.to_string(), date), o);
        }
        for (station, time) in daily {
            let newer = self
                .station_times
                .get(station)
                .is_none_or(|old| old.seen_on <= received_on);
            if newer {
                self.station_times.insert(
                    station.to_string(),
                    StationTime {
                        time,
                        seen_on: received_on,
                    },
                );
            }
        }
    }

    /// Every station's daily time and the day it was seen (to store them).
    pub fn station_times(&self) -> impl Iterator<Item = (&str, NaiveTime, NaiveDate)> {
        self.station_times
            .iter()
            .map(|(code, s)| (code.as_str(), s.time, s.seen_on))
    }

    /// Takes a station's daily time learnt earlier (stored by a previous run) unless a newer
    /// observation is already known.
    pub fn remember_station(&mut self, telecode: &str, time: NaiveTime, seen_on: NaiveDate) {
        let newer = self
            .station_times
            .get(telecode)
            .is_none_or(|old| old.seen_on <= seen_on);
        if newer {
            self.station_times
                .insert(telecode.to_string(), StationTime { time, seen_on });
        }
    }

    /// The daily sale time learnt for a boarding station (telecode).
    pub fn station_time(&self, telecode: &str) -> Option<NaiveTime> {
        self.station_times.get(telecode).map(|s| s.time)
    }

    /// The opening of `date` for boarding station `telecode` (named `name` in `qss.js`), best
    /// source first: this date's own rows (field 55, then field 1), the station's daily time from
    /// field 55 of other dates, `qss.js`, then the bare presale window of `presale_days`.
    pub fn opening(
        &self,
        telecode: &str,
        name: Option<&str>,
        date: NaiveDate,
        presale_days: u32,
        qss: Option<&QssTable>,
    ) -> Opening {
        if let Some(o) = self.dated.get(&(telecode.to_string(), date)) {
            return *o;
        }
        let day = opening_day(date, presale_days);
        if let Some(time) = self.station_time(telecode) {
            return Opening {
                at: at_beijing(day, time),
                source: OpeningSource::SaleTimeField,
            };
        }
        if let Some(time) = name.zip(qss).and_then(|(n, q)| q.time_of(n)) {
            return Opening {
                at: at_beijing(day, time),
                source: OpeningSource::Qss,
            };
        }
        Opening {
            at: at_beijing(day, NaiveTime::MIN),
            source: OpeningSource::PresaleWindow,
        }
    }

    /// Forgets the openings of travel dates before `day` (they can no longer be sold).
    pub fn forget_before(&mut self, day: NaiveDate) {
        self.dated.retain(|(_, d), _| *d >= day);
    }
}

/// What one row says about the opening of its own date: field 55, else a 起售 notice in field 1.
pub fn row_opening(row: &TrainRow, date: NaiveDate, received_on: NaiveDate) -> Option<Opening> {
    if let Some(at) = row.sale_time.as_deref().and_then(parse_sale_time) {
        return Some(Opening {
            at,
            source: OpeningSource::SaleTimeField,
        });
    }
    parse_button_text(&row.button_text, date, received_on).map(|at| Opening {
        at,
        source: OpeningSource::ButtonText,
    })
}

/// What a row itself says about its sale, whatever the computed opening: a fresh answer saying
/// 起售 overrides a computed opening that has passed (a wrong clock, a changed station time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowSale {
    /// `预订` (bookable or sold out: on sale either way).
    Selling,
    /// A 起售 notice in field 1 (canWebBuy `IS_TIME_NOT_BUY`).
    NotYet,
    /// Anything else in field 1: `停运`, `列车运行图调整,暂停发售`, `23:00-06:00系统维护时间`.
    Halted(String),
}

/// Classifies one row by field 1 (and field 11).
pub fn row_sale(row: &TrainRow) -> RowSale {
    let text = row.button_text.trim();
    if text == "预订" {
        RowSale::Selling
    } else if text.ends_with("起售") {
        RowSale::NotYet
    } else if text.is_empty() && row.can_web_buy == "Y" {
        RowSale::Selling
    } else {
        RowSale::Halted(text.to_string())
    }
}

impl fmt::Display for Opening {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.short(), self.source.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rail::left_ticket::{decode_left_ticket, decode_row};

    const QUERY_G: &str = include_str!("../../tests/fixtures/leftTicket/queryG.SHH-CZH.2024-04-22.json");

    /// Two real 2025-01-03 rows of G7316 boarding 松江南 IMH and 上海虹桥 AOH, kept in
    /// `hyfsy/scramble-ticket` (`src/main/java/com/scrambleticket/handler/scramble/QueryXHandler.java`,
    /// commit `e1f0a120`, the author of the 2024 capture): field 55 across a year end, and 候补
    /// open on a sold-out train.
    const G7316_ROWS: &str =
        include_str!("../../tests/fixtures/leftTicket/rows.G7316.IMH-AOH.2025-01-03.txt");

    fn g7316(station: &str) -> &'static str {
        G7316_ROWS
            .lines()
            .find(|r| r.split('|').nth(6) == Some(station))
            .unwrap()
    }

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn bj(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<FixedOffset> {
        at_beijing(ymd(y, m, d), NaiveTime::from_hms_opt(h, min, 0).unwrap())
    }

    fn page_of<'a>(rows: &[&'a str]) -> LeftTicketPage<'a> {
        LeftTicketPage {
            trains: rows
                .iter()
                .enumerate()
                .map(|(i, r)| decode_row(i, r).unwrap())
                .collect(),
            names: BTreeMap::new(),
        }
    }

    #[test]
    fn the_real_field_55_values_are_the_opening_fourteen_days_before_travel_at_the_station_time() {
        let page = decode_left_ticket(QUERY_G).unwrap();
        let travel = ymd(2024, 4, 22);
        let got: Vec<(&str, &str, DateTime<FixedOffset>)> = page
            .trains
            .iter()
            .map(|r| {
                let at = parse_sale_time(r.sale_time.as_deref().unwrap()).unwrap();
                (r.station_train_code.as_str(), r.from_station.as_str(), at)
            })
            .collect();
        assert_eq!(
            got,
            [
                ("D3010", "AOH", bj(2024, 4, 8, 13, 30)),
                ("G8294", "SHH", bj(2024, 4, 8, 14, 30)),
            ]
        );
        for (_, _, at) in got {
            assert_eq!(at.date_naive(), opening_day(travel, 15));
        }
    }

    #[test]
    fn the_real_2025_rows_open_fourteen_days_earlier_across_the_year_end() {
        let travel = ymd(2025, 1, 3);
        assert_eq!(opening_day(travel, 15), ymd(2024, 12, 20));
        let imh = decode_row(0, g7316("IMH")).unwrap();
        let aoh = decode_row(1, g7316("AOH")).unwrap();
        assert_eq!(imh.start_train_date, "20250103");
        assert_eq!(
            parse_sale_time(imh.sale_time.as_deref().unwrap()),
            Some(bj(2024, 12, 20, 14, 30))
        );
        assert_eq!(
            parse_sale_time(aoh.sale_time.as_deref().unwrap()),
            Some(bj(2024, 12, 20, 13, 30))
        );
    }

    #[test]
    fn opening_day_counts_the_opening_day_as_day_one_across_month_and_year_ends() {
        for (travel, days, opens) in [
            (ymd(2024, 4, 22), 15, ymd(2024, 4, 8)),
            (ymd(2025, 1, 3), 15, ymd(2024, 12, 20)),
            (ymd(2026, 12, 6), 15, ymd(2026, 11, 22)),
            (ymd(2026, 3, 1), 15, ymd(2026, 2, 15)),
            (ymd(2024, 3, 14), 15, ymd(2024, 2, 29)),
            (ymd(2027, 1, 1), 15, ymd(2026, 12, 18)),
            (ymd(2026, 12, 4), 1, ymd(2026, 12, 4)),
            (ymd(2026, 12, 4), 0, ymd(2026, 12, 4)),
            (ymd(2027, 1, 2), 30, ymd(2026, 12, 4)),
        ] {
            assert_eq!(opening_day(travel, days), opens, "{travel} with {days} days");
        }
    }

    #[test]
    fn sale_time_is_exactly_twelve_digits_of_a_real_moment() {
        assert_eq!(parse_sale_time(" 202412201330 "), Some(bj(2024, 12, 20, 13, 30)));
        for bad in [
            "",
            "null",
            "2024122013",
            "20241220133000",
            "202413201330",
            "202412201360",
            "2024-12-20 13",
        ] {
            assert_eq!(parse_sale_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn button_texts_with_and_without_date_minutes_and_markup_give_the_opening() {
        let travel = ymd(2026, 12, 6);
        let today = ymd(2026, 11, 22);
        for (text, want) in [
            ("11月22日13点30分起售", bj(2026, 11, 22, 13, 30)),
            ("11月22日14点起售", bj(2026, 11, 22, 14, 0)),
            ("9月29日<br/>9点起售", bj(2026, 9, 29, 9, 0)),
            ("09月29日 09点05分起售", bj(2026, 9, 29, 9, 5)),
            ("14点30分起售", bj(2026, 11, 22, 14, 30)),
            ("18点起售", bj(2026, 11, 22, 18, 0)),
            ("12点45分起售", bj(2026, 11, 22, 12, 45)),
            ("12:30起售", bj(2026, 11, 22, 12, 30)),
        ] {
            assert_eq!(parse_button_text(text, travel, today), Some(want), "{text}");
        }
        for text in [
            "预订",
            "停运",
            "列车运行图调整,暂停发售",
            "23:00-06:00系统维护时间",
            "起售",
            "25点起售",
            "13点61分起售",
            "02月30日10点起售",
            "123点起售",
        ] {
            assert_eq!(parse_button_text(text, travel, today), None, "{text}");
        }
    }

    #[test]
    fn a_december_notice_for_a_january_date_belongs_to_the_year_before() {
        let travel = ymd(2027, 1, 3);
        let received = ymd(2026, 12, 19);
        assert_eq!(
            parse_button_text("12月20日13点30分起售", travel, received),
            Some(bj(2026, 12, 20, 13, 30))
        );
        assert_eq!(
            parse_button_text("01月03日08点起售", travel, received),
            Some(bj(2027, 1, 3, 8, 0)),
            "the travel day itself is the latest possible opening"
        );
        assert_eq!(
            parse_button_text("02月29日10点起售", ymd(2028, 3, 5), received),
            Some(bj(2028, 2, 29, 10, 0))
        );
        assert_eq!(
            parse_button_text("02月29日10点起售", ymd(2027, 3, 5), received),
            None,
            "no 29 February within a year before"
        );
    }

    #[test]
    fn on_sale_turns_at_the_opening_minute_and_dates_before_today_are_past() {
        let date = ymd(2026, 12, 6);
        let o = Opening {
            at: bj(2026, 11, 22, 13, 30),
            source: OpeningSource::SaleTimeField,
        };
        let second = chrono::TimeDelta::seconds(1);
        assert_eq!(on_sale(date, Some(&o), o.at - second), OnSale::NotYet(o));
        assert_eq!(on_sale(date, Some(&o), o.at), OnSale::Open);
        assert_eq!(on_sale(date, Some(&o), o.at + second), OnSale::Open);
        assert_eq!(on_sale(date, None, o.at), OnSale::Unknown);
        assert_eq!(on_sale(date, Some(&o), bj(2026, 12, 7, 0, 0)), OnSale::Past);
        assert_eq!(on_sale(date, Some(&o), bj(2026, 12, 6, 23, 59)), OnSale::Open);
        let utc = (o.at - second).with_timezone(&FixedOffset::east_opt(0).unwrap());
        assert_eq!(
            on_sale(date, Some(&o), utc),
            OnSale::NotYet(o),
            "any offset, same moment"
        );
    }

    #[test]
    fn with_only_the_window_known_the_opening_day_is_queryable_but_not_called_open() {
        let date = ymd(2026, 12, 6);
        let cal = SaleCalendar::new();
        let o = cal.opening("SHH", Some("上海"), date, 15, None);
        assert_eq!(o.source, OpeningSource::PresaleWindow);
        assert_eq!(o.at, bj(2026, 11, 22, 0, 0));
        let before = bj(2026, 11, 21, 23, 59);
        assert_eq!(on_sale(date, Some(&o), before), OnSale::NotYet(o));
        assert!(!on_sale(date, Some(&o), before).queryable());
        let during = on_sale(date, Some(&o), bj(2026, 11, 22, 9, 0));
        assert_eq!(during, OnSale::OpeningDay(o));
        assert!(during.queryable());
        assert_eq!(
            during.describe_with_source(date),
            "12-06 未开售 · 11-22 起售 (time not known yet) (from the presale window)"
        );
    }

    #[test]
    fn at_the_window_edges_the_last_day_opens_today_at_the_station_time_and_the_next_tomorrow() {
        // 上海's daily time learnt from the 2024 capture; 12306's clock reads 2026-12-04 14:29:59.
        let mut cal = SaleCalendar::new();
        cal.learn_page(
            &decode_left_ticket(QUERY_G).unwrap(),
            ymd(2024, 4, 22),
            ymd(2024, 4, 22),
        );
        let now = bj(2026, 12, 4, 14, 29) + chrono::TimeDelta::seconds(59);
        let state = |date: NaiveDate, now: DateTime<FixedOffset>| {
            on_sale(date, Some(&cal.opening("SHH", Some("上海"), date, 15, None)), now)
        };
        let last = ymd(2026, 12, 18);
        let opening = Opening {
            at: bj(2026, 12, 4, 14, 30),
            source: OpeningSource::SaleTimeField,
        };
        assert_eq!(state(last, now), OnSale::NotYet(opening));
        assert_eq!(state(last, now + chrono::TimeDelta::seconds(1)), OnSale::Open);
        assert_eq!(
            state(ymd(2026, 12, 4), now),
            OnSale::Open,
            "today was on sale long ago"
        );
        assert_eq!(
            state(ymd(2026, 12, 19), now + chrono::TimeDelta::seconds(1)),
            OnSale::NotYet(Opening {
                at: bj(2026, 12, 5, 14, 30),
                source: OpeningSource::SaleTimeField,
            })
        );
        assert_eq!(state(ymd(2026, 12, 3), now), OnSale::Past);
        // 上海虹桥 opened its last day an hour earlier.
        let aoh = cal.opening("AOH", Some("上海虹桥"), last, 15, None);
        assert_eq!(on_sale(last, Some(&aoh), now), OnSale::Open);
    }

    #[test]
    fn the_display_line_reads_as_check_once_and_status_print_it() {
        let date = ymd(2026, 12, 6);
        let o = Opening {
            at: bj(2026, 12, 1, 13, 30),
            source: OpeningSource::SaleTimeField,
        };
        let s = on_sale(date, Some(&o), bj(2026, 11, 30, 8, 0));
        assert_eq!(s.describe(date), "12-06 未开售 · 12-01 13:30 起售");
        assert_eq!(
            s.describe_with_source(date),
            "12-06 未开售 · 12-01 13:30 起售 (from sale_time)"
        );
        assert_eq!(OnSale::Open.describe(date), "12-06 已开售");
        assert_eq!(o.to_string(), "12-01 13:30 起售 (from sale_time)");
    }

    #[test]
    fn one_real_page_teaches_every_boarding_station_of_the_city_its_daily_time() {
        let page = decode_left_ticket(QUERY_G).unwrap();
        let mut cal = SaleCalendar::new();
        cal.learn_page(&page, ymd(2024, 4, 22), ymd(2024, 4, 22));
        assert_eq!(cal.station_time("AOH"), NaiveTime::from_hms_opt(13, 30, 0));
        assert_eq!(cal.station_time("SHH"), NaiveTime::from_hms_opt(14, 30, 0));
        assert_eq!(cal.station_time("CZH"), None, "alighting stations teach nothing");

        // A later date of the same stations, not yet queried: the daily time and the window.
        let later = ymd(2024, 5, 1);
        let o = cal.opening("AOH", Some("上海虹桥"), later, 15, None);
        assert_eq!(o.at, bj(2024, 4, 17, 13, 30));
        assert_eq!(o.source, OpeningSource::SaleTimeField);
        // The queried date itself: straight from its own rows.
        let own = cal.opening("SHH", Some("上海"), ymd(2024, 4, 22), 15, None);
        assert_eq!(own.at, bj(2024, 4, 8, 14, 30));
    }

    #[test]
    fn a_dated_row_beats_the_window_arithmetic_when_12306_uses_another_window() {
        // Rows of the 2025 capture, read as if the window were 30 days: the row of the date
        // itself still says 2024-12-20, the station's daily time moves with the window.
        let page = page_of(&[g7316("AOH")]);
        let mut cal = SaleCalendar::new();
        cal.learn_page(&page, ymd(2025, 1, 3), ymd(2024, 12, 25));
        assert_eq!(
            cal.opening("AOH", None, ymd(2025, 1, 3), 30, None).at,
            bj(2024, 12, 20, 13, 30)
        );
        assert_eq!(
            cal.opening("AOH", None, ymd(2025, 1, 10), 30, None).at,
            bj(2024, 12, 12, 13, 30)
        );
    }

    #[test]
    fn a_newer_observation_of_a_station_replaces_an_older_one() {
        let mut cal = SaleCalendar::new();
        cal.learn_page(&page_of(&[g7316("IMH")]), ymd(2025, 1, 3), ymd(2024, 12, 25));
        assert_eq!(cal.station_time("IMH"), NaiveTime::from_hms_opt(14, 30, 0));
        let moved = g7316("IMH").replace("202412201430", "202601010930");
        cal.learn_page(&page_of(&[&moved]), ymd(2026, 1, 15), ymd(2026, 1, 2));
        assert_eq!(cal.station_time("IMH"), NaiveTime::from_hms_opt(9, 30, 0));
        // An old page read late must not undo it.
        cal.learn_page(&page_of(&[g7316("IMH")]), ymd(2025, 1, 3), ymd(2024, 12, 25));
        assert_eq!(cal.station_time("IMH"), NaiveTime::from_hms_opt(9, 30, 0));
    }

    #[test]
    fn a_button_notice_is_used_when_the_row_has_no_field_55() {
        // A 2018-style 37-field row (no field 55) with a 起售 notice.
        let mut fields = vec![""; 37];
        fields[1] = "12月20日13点30分起售";
        fields[3] = "G7316";
        fields[6] = "AOH";
        fields[7] = "CZH";
        fields[11] = "IS_TIME_NOT_BUY";
        let row = fields.join("|");
        let mut cal = SaleCalendar::new();
        cal.learn_page(&page_of(&[&row]), ymd(2025, 1, 3), ymd(2024, 12, 19));
        let o = cal.opening("AOH", None, ymd(2025, 1, 3), 15, None);
        assert_eq!(o.source, OpeningSource::ButtonText);
        assert_eq!(o.at, bj(2024, 12, 20, 13, 30));
        assert_eq!(cal.station_time("AOH"), None, "a notice is about one date only");
        assert_eq!(row_sale(&decode_row(0, &row).unwrap()), RowSale::NotYet);
        cal.forget_before(ymd(2025, 1, 4));
        assert_eq!(
            cal.opening("AOH", None, ymd(2025, 1, 3), 15, None).source,
            OpeningSource::PresaleWindow
        );
    }

    #[test]
    fn qss_is_used_for_stations_never_seen_and_field_55_wins_over_it() {
        let qss = crate::sale::qss::decode_qss(
            "\u{feff}var citys = {\"上海虹桥\":\"13:00\",\"北京南\":\"12:30\"};",
        )
        .unwrap();
        let mut cal = SaleCalendar::new();
        let date = ymd(2026, 12, 6);
        let vnp = cal.opening("VNP", Some("北京南"), date, 15, Some(&qss));
        assert_eq!(
            (vnp.at, vnp.source),
            (bj(2026, 11, 22, 12, 30), OpeningSource::Qss)
        );
        cal.learn_page(
            &decode_left_ticket(QUERY_G).unwrap(),
            ymd(2024, 4, 22),
            ymd(2024, 4, 22),
        );
        let aoh = cal.opening("AOH", Some("上海虹桥"), date, 15, Some(&qss));
        assert_eq!(
            (aoh.at, aoh.source),
            (bj(2026, 11, 22, 13, 30), OpeningSource::SaleTimeField)
        );
    }

    #[test]
    fn rows_say_whether_they_sell_wait_for_their_opening_or_are_halted() {
        let page = decode_left_ticket(QUERY_G).unwrap();
        assert!(page.trains.iter().all(|r| row_sale(r) == RowSale::Selling));
        let seed: &str = include_str!("../../tests/fixtures/seed_002_leftTicket.txt");
        let start = seed.find("```\n{").unwrap() + 4;
        let len = seed[start..].find("\n```").unwrap();
        let old = decode_left_ticket(&seed[start..start + len]).unwrap();
        assert_eq!(
            row_sale(&old.trains[0]),
            RowSale::Halted("23:00-06:00系统维护时间".into())
        );
    }
}
