//! Whether to query a (boarding station, travel date) now: what is known about openings, read at
//! one moment of 12306's clock.
//!
//! [`SaleView`] borrows the knowledge (the [`SaleCalendar`] learnt from answers, `qss.js`, the
//! presale window) and fixes the moment, so one poll plan, one `check` and one `status` report
//! judge every date alike. It is pure; the daemon, `once`, `check` and `status` each build one
//! from what they have.
//!
//! Until the knowledge is *settled* (12306's clock measured and `qss.js` tried once), a date
//! whose opening might be close is not queried: a clock minutes off, or a station time not yet
//! known, would otherwise send a query for a date before it goes on sale. Dates that opened more
//! than a day ago are on sale whatever the clock says.

use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta};

use super::opening::{OnSale, Opening, SaleCalendar, on_sale};
use super::qss::QssTable;
use crate::stations::Station;

/// What is known about openings, at one moment of 12306's clock.
#[derive(Debug, Clone, Copy)]
pub struct SaleView<'a> {
    pub calendar: &'a SaleCalendar,
    pub qss: Option<&'a QssTable>,
    pub presale_days: u32,
    /// 12306's clock now (this machine's until it is measured).
    pub now: DateTime<FixedOffset>,
    /// 12306's today: a date before it is past (12306 refuses it).
    pub today: NaiveDate,
    /// 12306's clock was measured and `qss.js` tried.
    pub settled: bool,
}

/// Why a (watch, date) is not queried now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Before 12306's today.
    Past,
    /// Not on sale yet (or its opening day, before the clock and `qss.js` are known).
    NotOnSale(OnSale),
}

impl<'a> SaleView<'a> {
    /// The opening of `date` for trains boarding at `from`, best source first.
    pub fn opening(&self, from: &Station, date: NaiveDate) -> Opening {
        self.calendar.opening(
            &from.telecode,
            Some(&from.name),
            date,
            self.presale_days,
            self.qss,
        )
    }

    /// Where `date` stands now for trains boarding at `from`.
    pub fn state(&self, from: &Station, date: NaiveDate) -> OnSale {
        if date < self.today {
            return OnSale::Past;
        }
        on_sale(date, Some(&self.opening(from, date)), self.now)
    }

    /// `None` when a query for (`from`, `date`) may go now, else why not.
    pub fn hold(&self, from: &Station, date: NaiveDate) -> Option<Hold> {
        let state = self.state(from, date);
        match state {
            OnSale::Past => Some(Hold::Past),
            OnSale::Open | OnSale::OpeningDay(_) if self.settled => None,
            OnSale::Open | OnSale::OpeningDay(_) => {
                let long_ago = self.opening(from, date).at + TimeDelta::days(1) < self.now;
                (!long_ago).then_some(Hold::NotOnSale(state))
            }
            OnSale::NotYet(_) | OnSale::Unknown => Some(Hold::NotOnSale(state)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sale::opening::{OpeningSource, at_beijing};
    use crate::stations::StationTable;
    use chrono::NaiveTime;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn bj(day: NaiveDate, h: u32, m: u32) -> DateTime<FixedOffset> {
        at_beijing(day, NaiveTime::from_hms_opt(h, m, 0).unwrap())
    }

    fn view<'a>(
        cal: &'a SaleCalendar,
        qss: Option<&'a QssTable>,
        now: DateTime<FixedOffset>,
        settled: bool,
    ) -> SaleView<'a> {
        SaleView {
            calendar: cal,
            qss,
            presale_days: 15,
            now,
            today: now.date_naive(),
            settled,
        }
    }

    #[test]
    fn the_last_day_of_the_window_is_held_until_its_station_time_and_then_queried() {
        let shh = StationTable::embedded().by_telecode("SHH").unwrap();
        let qss = crate::sale::qss::decode_qss("var citys = {\"上海\":\"14:30\"};").unwrap();
        let cal = SaleCalendar::new();
        let today = ymd(2026, 12, 4);
        let last = ymd(2026, 12, 18);
        let before = view(&cal, Some(&qss), bj(today, 14, 29), true);
        let opening = Opening {
            at: bj(today, 14, 30),
            source: OpeningSource::Qss,
        };
        assert_eq!(
            before.hold(shh, last),
            Some(Hold::NotOnSale(OnSale::NotYet(opening)))
        );
        assert_eq!(before.hold(shh, ymd(2026, 12, 17)), None, "opened yesterday");
        assert_eq!(before.hold(shh, ymd(2026, 12, 3)), Some(Hold::Past));
        let after = view(&cal, Some(&qss), bj(today, 14, 30), true);
        assert_eq!(after.hold(shh, last), None);
    }

    #[test]
    fn until_the_clock_and_qss_are_known_only_dates_open_for_a_day_are_queried() {
        let shh = StationTable::embedded().by_telecode("SHH").unwrap();
        let cal = SaleCalendar::new();
        let today = ymd(2026, 12, 4);
        let early = view(&cal, None, bj(today, 9, 0), false);
        // Its opening day (time unknown): held until settled, then queried to learn field 55.
        assert!(matches!(
            early.hold(shh, ymd(2026, 12, 18)),
            Some(Hold::NotOnSale(OnSale::OpeningDay(_)))
        ));
        // Opened at some time yesterday, more than a day before 12306's now.
        assert_eq!(early.hold(shh, ymd(2026, 12, 17)), None);
        assert_eq!(early.state(shh, ymd(2026, 12, 17)), OnSale::Open);
        let settled = view(&cal, None, bj(today, 9, 0), true);
        assert_eq!(settled.hold(shh, ymd(2026, 12, 18)), None);
    }
}
