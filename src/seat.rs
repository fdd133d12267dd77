//! Seat classes (座位类型) and how each one crosses the wire.
//!
//! One table ties together the names users write in `watchlist.toml`, the column a class occupies
//! in a 12306 leftTicket row, the order code used in `yp_info_new` and the Juhe `seatClassCode`
//! (protocol doc §3.3). Everything else looks seats up here instead of repeating the mapping.

use std::fmt;

/// A seat class as 12306 sells it. The order of the variants is the order yupiao prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum SeatClass {
    /// 商务座
    Business,
    /// 特等座
    Special,
    /// 一等座
    First,
    /// 二等座
    Second,
    /// 高级软卧
    AdvancedSoftSleeper,
    /// 软卧 (also 一等卧 on some trains: same column)
    SoftSleeper,
    /// 动卧
    EmuSleeper,
    /// 硬卧 (also 二等卧: same column)
    HardSleeper,
    /// 软座
    SoftSeat,
    /// 硬座
    HardSeat,
    /// 无座
    NoSeat,
    /// 其他
    Other,
}

impl SeatClass {
    /// Every class, in display order.
    pub const ALL: [SeatClass; 12] = [
        SeatClass::Business,
        SeatClass::Special,
        SeatClass::First,
        SeatClass::Second,
        SeatClass::AdvancedSoftSleeper,
        SeatClass::SoftSleeper,
        SeatClass::EmuSleeper,
        SeatClass::HardSleeper,
        SeatClass::SoftSeat,
        SeatClass::HardSeat,
        SeatClass::NoSeat,
        SeatClass::Other,
    ];

    /// The Chinese name 12306 shows and users write.
    pub fn name(self) -> &'static str {
        match self {
            SeatClass::Business => "商务座",
            SeatClass::Special => "特等座",
            SeatClass::First => "一等座",
            SeatClass::Second => "二等座",
            SeatClass::AdvancedSoftSleeper => "高级软卧",
            SeatClass::SoftSleeper => "软卧",
            SeatClass::EmuSleeper => "动卧",
            SeatClass::HardSleeper => "硬卧",
            SeatClass::SoftSeat => "软座",
            SeatClass::HardSeat => "硬座",
            SeatClass::NoSeat => "无座",
            SeatClass::Other => "其他",
        }
    }

    /// Index of this class's cell in a leftTicket row (protocol doc §3, fields 20–33).
    pub fn column(self) -> usize {
        match self {
            SeatClass::Business => 32,
            SeatClass::Special => 25,
            SeatClass::First => 31,
            SeatClass::Second => 30,
            SeatClass::AdvancedSoftSleeper => 21,
            SeatClass::SoftSleeper => 23,
            SeatClass::EmuSleeper => 33,
            SeatClass::HardSleeper => 28,
            SeatClass::SoftSeat => 24,
            SeatClass::HardSeat => 29,
            SeatClass::NoSeat => 26,
            SeatClass::Other => 22,
        }
    }

    /// The order code (`yp_info_new` group prefix, `seat_types`). 无座 has none of its own: it is
    /// carried as its base class with a count ≥ 3000 (§3.2), and `W` in `yp_ex`.
    pub fn code(self) -> Option<char> {
        match self {
            SeatClass::Business => Some('9'),
            SeatClass::Special => Some('P'),
            SeatClass::First => Some('M'),
            SeatClass::Second => Some('O'),
            SeatClass::AdvancedSoftSleeper => Some('6'),
            SeatClass::SoftSleeper => Some('4'),
            SeatClass::EmuSleeper => Some('F'),
            SeatClass::HardSleeper => Some('3'),
            SeatClass::SoftSeat => Some('2'),
            SeatClass::HardSeat => Some('1'),
            SeatClass::NoSeat => Some('W'),
            SeatClass::Other => None,
        }
    }

    /// Class for an order code as found in `yp_info_new` / `seat_types`. Variant codes (优选一等座
    /// `D`, 包座 `S`, 高级动卧 `A`, 一等卧 `I`, 二等卧 `J`) map to the column they are sold from.
    pub fn from_code(code: char) -> Option<SeatClass> {
        Some(match code {
            '9' => SeatClass::Business,
            'P' => SeatClass::Special,
            'M' | 'D' => SeatClass::First,
            'O' | 'S' => SeatClass::Second,
            '6' | 'A' => SeatClass::AdvancedSoftSleeper,
            '4' | 'I' => SeatClass::SoftSleeper,
            'F' => SeatClass::EmuSleeper,
            '3' | 'J' => SeatClass::HardSleeper,
            '2' => SeatClass::SoftSeat,
            '1' => SeatClass::HardSeat,
            'W' => SeatClass::NoSeat,
            _ => return None,
        })
    }

    /// The Juhe `seatClassCode` (seed 001); sleepers default to the lower berth.
    pub fn juhe_code(self) -> Option<&'static str> {
        match self {
            SeatClass::Business => Some("businessseat"),
            SeatClass::Special => Some("specialseat"),
            SeatClass::First => Some("firstseat"),
            SeatClass::Second => Some("secondseat"),
            SeatClass::AdvancedSoftSleeper => Some("advancedsoftsleeper"),
            SeatClass::SoftSleeper => Some("softsleeperdown"),
            SeatClass::HardSleeper => Some("hardsleeperdown"),
            SeatClass::SoftSeat => Some("softseat"),
            SeatClass::HardSeat => Some("hardseat"),
            SeatClass::NoSeat => Some("noseat"),
            SeatClass::Other => Some("otherseat"),
            SeatClass::EmuSleeper => None,
        }
    }

    /// Parses what a user may write: the Chinese name (also 一等卧/二等卧/其它 aliases), the row
    /// column name (`ze`, `ze_num`), the order code (`O`) or the Juhe code (`secondseat`).
    ///
    /// ```
    /// use yupiao::seat::SeatClass;
    /// assert_eq!(SeatClass::parse("二等座"), Some(SeatClass::Second));
    /// assert_eq!(SeatClass::parse("ze"), SeatClass::parse("secondseat"));
    /// assert_eq!(SeatClass::Second.column(), 30);
    /// assert_eq!(SeatClass::parse("三等座"), None);
    /// ```
    pub fn parse(s: &str) -> Option<SeatClass> {
        let t = s.trim();
        if let Some(c) = SeatClass::ALL.iter().find(|c| c.name() == t) {
            return Some(*c);
        }
        let alias = match t {
            "一等卧" => Some(SeatClass::SoftSleeper),
            "二等卧" => Some(SeatClass::HardSleeper),
            "其它" => Some(SeatClass::Other),
            "高级动卧" => Some(SeatClass::AdvancedSoftSleeper),
            _ => None,
        };
        if alias.is_some() {
            return alias;
        }
        let lower = t.to_ascii_lowercase();
        let col = lower.strip_suffix("_num").unwrap_or(&lower);
        let by_column = match col {
            "swz" => Some(SeatClass::Business),
            "tz" => Some(SeatClass::Special),
            "zy" => Some(SeatClass::First),
            "ze" => Some(SeatClass::Second),
            "gr" => Some(SeatClass::AdvancedSoftSleeper),
            "rw" => Some(SeatClass::SoftSleeper),
            "srrb" => Some(SeatClass::EmuSleeper),
            "yw" => Some(SeatClass::HardSleeper),
            "rz" => Some(SeatClass::SoftSeat),
            "yz" => Some(SeatClass::HardSeat),
            "wz" => Some(SeatClass::NoSeat),
            "qt" => Some(SeatClass::Other),
            _ => None,
        };
        if by_column.is_some() {
            return by_column;
        }
        if let Some(c) = SeatClass::ALL
            .iter()
            .find(|c| c.juhe_code() == Some(lower.as_str()))
        {
            return Some(*c);
        }
        let mut chars = t.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => SeatClass::from_code(c.to_ascii_uppercase()),
            _ => None,
        }
    }
}

impl fmt::Display for SeatClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_round_trips_through_its_name_and_code() {
        for c in SeatClass::ALL {
            assert_eq!(SeatClass::parse(c.name()), Some(c));
            if let Some(code) = c.code() {
                assert_eq!(SeatClass::from_code(code), Some(c), "{c}");
            }
        }
    }

    #[test]
    fn users_may_write_column_names_order_codes_and_juhe_codes() {
        assert_eq!(SeatClass::parse("ze"), Some(SeatClass::Second));
        assert_eq!(SeatClass::parse("zy_num"), Some(SeatClass::First));
        assert_eq!(SeatClass::parse("O"), Some(SeatClass::Second));
        assert_eq!(SeatClass::parse("m"), Some(SeatClass::First));
        assert_eq!(SeatClass::parse("businessseat"), Some(SeatClass::Business));
        assert_eq!(SeatClass::parse("二等卧"), Some(SeatClass::HardSleeper));
        assert_eq!(SeatClass::parse("三等座"), None);
    }

    #[test]
    fn columns_are_the_protocol_seat_cells() {
        let mut cols: Vec<usize> = SeatClass::ALL.iter().map(|c| c.column()).collect();
        cols.sort();
        cols.dedup();
        assert_eq!(cols.len(), 12);
        assert!(cols.iter().all(|c| (21..=33).contains(c) && *c != 27));
    }
}
