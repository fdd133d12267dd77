//! Beijing time. 12306 and the user both think in Asia/Shanghai (UTC+8, no DST since 1991), so
//! every "now" and "today" in yupiao comes from here, as an explicit +08:00 offset; so does the
//! daily [`TimeWindow`] that watches (departure, arrival) and the settings (12306's nightly
//! service window) are written in.

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, Utc};

/// UTC+8.
pub fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset")
}

/// The current time in Beijing.
pub fn now() -> DateTime<FixedOffset> {
    Utc::now().with_timezone(&beijing())
}

/// Today's date in Beijing.
pub fn today() -> NaiveDate {
    now().date_naive()
}

/// `"07:00-12:00"`, a part of every day; a window whose end is before its start wraps past
/// midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    pub start: NaiveTime,
    pub end: NaiveTime,
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

#[cfg(test)]
mod tests {
    use super::*;

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
