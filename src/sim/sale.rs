//! The simulator's 起售 calendar: each boarding station's daily sale time, the opening of each
//! (train, date), the 起售 notice of field 1, and `qss.js`.
//!
//! 12306 opens a travel date on the first day of its presale window at a time of day set per
//! boarding station (see `crate::sale::opening` for the evidence). The simulator does the same
//! on its own clock, so tests can stand a few seconds before an opening and watch it happen. A
//! station's time comes from, in order: [`crate::sim::Sim::set_sale_time`] (control API
//! `POST /sim/sale-time`), the scenario's `[sale_times]`, the built-in [`STATION_SALE_TIMES`],
//! else [`FALLBACK_SALE_TIME`]. A train's own `sale_time` overrides its station's.

use std::collections::BTreeMap;

use chrono::{NaiveDateTime, NaiveTime, Timelike};

use crate::stations::StationTable;

/// Daily sale times of the stations the built-in scenario and the benchmark use, from `qss.js`
/// as copied on 2026-07-22 (`SilenceWanna/auto-grab:src/data/station_release_time.json`,
/// `7c7e5dee`); 上海 14:30 and 上海虹桥 13:30 agree with the real field 55 of the 2024 capture.
pub const STATION_SALE_TIMES: &[(&str, &str)] = &[
    ("SHH", "14:30"), // 上海
    ("AOH", "13:30"), // 上海虹桥
    ("SNH", "14:30"), // 上海南
    ("SXH", "14:30"), // 上海西
    ("CZH", "17:00"), // 常州
    ("ESH", "17:00"), // 常州北
    ("BJP", "10:00"), // 北京
    ("VNP", "12:30"), // 北京南
    ("BXP", "08:00"), // 北京西
    ("IZQ", "10:00"), // 广州南
    ("IOQ", "09:00"), // 深圳北
    ("HGH", "10:30"), // 杭州东
    ("NKH", "08:00"), // 南京南
    ("NJH", "08:00"), // 南京
    ("ICW", "08:30"), // 成都东
    ("CUW", "11:00"), // 重庆北
    ("WHN", "13:30"), // 武汉
    ("CWQ", "14:30"), // 长沙南
    ("EAY", "10:30"), // 西安北
    ("ZAF", "14:00"), // 郑州东
    ("TJP", "15:00"), // 天津
    ("JGK", "14:00"), // 济南西
    ("QDK", "09:30"), // 青岛
    ("SBT", "09:00"), // 沈阳北
    ("DFT", "13:00"), // 大连北
];

/// A station in neither the scenario nor the table: the 2024 capture's 上海 time.
pub const FALLBACK_SALE_TIME: (u32, u32) = (14, 30);

/// The built-in table as telecode → time.
pub(crate) fn builtin_times() -> BTreeMap<String, NaiveTime> {
    STATION_SALE_TIMES
        .iter()
        .filter_map(|(code, hhmm)| {
            NaiveTime::parse_from_str(hhmm, "%H:%M")
                .ok()
                .map(|t| (code.to_string(), t))
        })
        .collect()
}

pub(crate) fn fallback_time() -> NaiveTime {
    NaiveTime::from_hms_opt(FALLBACK_SALE_TIME.0, FALLBACK_SALE_TIME.1, 0).expect("a valid time")
}

/// Field 1 before an opening: `12月06日13点30分起售`, `12月06日14点起售` (month and day
/// zero-padded, minutes only when not on the hour).
pub(crate) fn button_text(opening: NaiveDateTime) -> String {
    let mut s = opening.format("%m月%d日%H点").to_string();
    if opening.minute() != 0 {
        s.push_str(&format!("{:02}分", opening.minute()));
    }
    s.push_str("起售");
    s
}

/// `qss.js` as 12306 serves it: a BOM, then `var citys = {"站名":"HH:MM",…}` naming stations by
/// name, for every station in `times` (telecode → time) the station table knows.
pub(crate) fn qss_body(times: &BTreeMap<String, NaiveTime>) -> String {
    let table = StationTable::embedded();
    let mut by_name: BTreeMap<String, String> = BTreeMap::new();
    for (code, t) in times {
        if let Some(s) = table.by_telecode(code) {
            by_name.insert(s.name.clone(), t.format("%H:%M").to_string());
        }
    }
    let json = serde_json::to_string(&by_name).expect("a map of strings serializes");
    format!("\u{feff}var citys = {json}")
}

/// 12306's index page, reduced to what clients read from it: the `qss.js` link (versioned, as
/// the real one is).
pub(crate) fn index_page() -> String {
    "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>中国铁路12306</title>\n\
     <script type=\"text/javascript\" src=\"./script/core/common/station_name_v10099.js\"></script>\n\
     <script type=\"text/javascript\" src=\"./script/core/common/qss_v10099.js\"></script>\n\
     </head>\n<body></body>\n</html>\n"
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sale::opening::{at_beijing, parse_button_text};
    use crate::sale::qss::{decode_qss, parse_qss_link};
    use chrono::NaiveDate;

    #[test]
    fn the_notice_reads_like_12306s_and_parses_back() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let at = d.and_hms_opt(13, 30, 0).unwrap();
        assert_eq!(button_text(at), "12月01日13点30分起售");
        assert_eq!(button_text(d.and_hms_opt(8, 0, 0).unwrap()), "12月01日08点起售");
        let travel = NaiveDate::from_ymd_opt(2026, 12, 15).unwrap();
        assert_eq!(
            parse_button_text(&button_text(at), travel, d),
            Some(at_beijing(d, at.time()))
        );
    }

    #[test]
    fn the_served_qss_decodes_with_the_real_decoder_by_station_name() {
        let body = qss_body(&builtin_times());
        assert!(body.starts_with("\u{feff}var citys = {"));
        let table = decode_qss(&body).unwrap();
        assert_eq!(table.len(), STATION_SALE_TIMES.len());
        assert_eq!(table.time_of("上海虹桥"), NaiveTime::from_hms_opt(13, 30, 0));
        assert_eq!(table.time_of("北京南"), NaiveTime::from_hms_opt(12, 30, 0));
        assert_eq!(
            parse_qss_link(&index_page()).as_deref(),
            Some("./script/core/common/qss_v10099.js")
        );
    }
}
