//! Everything yupiao knows about openings, owned: the calendar learnt from answers, `qss.js`,
//! the presale window, 12306's clock. The daemon keeps one up to date; `check`, `once` and
//! `status` read the one the daemon stored ([`Known::read`]) and look at it through a
//! [`SaleView`].

use std::path::Path;

use chrono::{DateTime, FixedOffset, TimeDelta, Utc};

use super::clock::{ClockStatus, ServerClock};
use super::opening::SaleCalendar;
use super::qss::{QssTable, decode_qss};
use super::view::SaleView;
use crate::store::Store;
use crate::store::sale::{QssCache, StationSaleTime};

/// What is known about openings.
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub calendar: SaleCalendar,
    pub qss: Option<QssTable>,
    /// When the `qss.js` in use was fetched.
    pub qss_fetched_at: Option<DateTime<FixedOffset>>,
    pub clock: ServerClock,
    /// 12306's clock as stored by the daemon (for readers that take no samples themselves).
    pub stored_clock: Option<ClockStatus>,
    /// From `login/conf` (`other_control`), when it answered.
    pub presale_days: Option<u32>,
    /// 12306's clock has been measured and `qss.js` tried (see [`SaleView::settled`]).
    pub settled: bool,
}

impl Known {
    /// What the daemon stored beside the database at `db`; nothing when there is no database
    /// yet (or it cannot be read: openings then come from the presale window alone).
    pub fn read(db: &Path) -> Known {
        if !db.exists() {
            return Known::default();
        }
        match Store::open_read_only(db) {
            Ok(store) => Known::from_store(&store),
            Err(e) => {
                tracing::debug!(error = %e, "no stored 起售 knowledge");
                Known::default()
            }
        }
    }

    /// What the daemon stored in `store` (a part that cannot be read is left out).
    pub fn from_store(store: &Store) -> Known {
        let mut k = Known::default();
        if let Ok(times) = store.station_times() {
            k.take_station_times(&times);
        }
        if let Ok(Some(qss)) = store.qss_cache() {
            k.take_qss(&qss);
        }
        if let Ok(Some(rec)) = store.rail_clock() {
            k.stored_clock = Some(rec.clock);
            k.presale_days = rec.presale_days;
        }
        k
    }

    pub fn take_station_times(&mut self, times: &[StationSaleTime]) {
        for t in times {
            self.calendar.remember_station(&t.telecode, t.time, t.seen_on);
        }
    }

    /// Uses a cached `qss.js` body (one that no longer decodes is ignored).
    pub fn take_qss(&mut self, qss: &QssCache) {
        match decode_qss(&qss.body) {
            Ok(table) => {
                self.qss = Some(table);
                self.qss_fetched_at = Some(qss.fetched_at);
            }
            Err(e) => {
                tracing::warn!(error = %e, url = %qss.url, "the cached qss.js does not decode; ignored")
            }
        }
    }

    /// 12306's clock minus this machine's: measured here, else as the daemon stored it.
    pub fn offset(&self) -> TimeDelta {
        self.clock
            .offset()
            .or_else(|| self.stored_clock.map(|c| TimeDelta::milliseconds(c.offset_ms)))
            .unwrap_or_default()
    }

    /// What `status` shows: the measurement in use.
    pub fn clock_status(&self) -> Option<ClockStatus> {
        self.clock.status().or(self.stored_clock)
    }

    /// 12306's clock at this machine's `local` instant.
    pub fn server_now(&self, local: DateTime<Utc>) -> DateTime<FixedOffset> {
        (local + self.offset()).with_timezone(&crate::clock::beijing())
    }

    /// The view at this machine's `local` instant; `presale_days` when `login/conf` never said.
    /// 12306's today is never before ours (a date past by either clock is past).
    pub fn view(&self, local: DateTime<Utc>, presale_days: u32) -> SaleView<'_> {
        let now = self.server_now(local);
        let ours = local.with_timezone(&crate::clock::beijing()).date_naive();
        SaleView {
            calendar: &self.calendar,
            qss: self.qss.as_ref(),
            presale_days: self.presale_days.unwrap_or(presale_days),
            now,
            today: now.date_naive().max(ours),
            settled: self.settled,
        }
    }
}
