//! What yupiao learnt about 起售 (openings), kept across restarts and read by `status`: each
//! boarding station's daily sale time (row field 55), the last `qss.js` body (fetched at most
//! daily, so a restart does not fetch it again), and 12306's clock as last measured.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime};
use rusqlite::OptionalExtension as _;

use super::error::StoreError;
use super::sql::{date_at, date_text, ms, time_at};
use super::sqlite::Store;
use crate::sale::clock::ClockStatus;

/// A boarding station's daily sale time and 12306's day of the row that said it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StationSaleTime {
    pub telecode: String,
    pub time: NaiveTime,
    pub seen_on: NaiveDate,
}

/// The cached `qss.js`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QssCache {
    pub url: String,
    pub body: String,
    pub fetched_at: DateTime<FixedOffset>,
}

/// 12306's clock as last measured, and the presale window `login/conf` gave with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RailClockRecord {
    pub clock: ClockStatus,
    pub presale_days: Option<u32>,
}

fn hhmm(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<NaiveTime> {
    let s: String = row.get(idx)?;
    NaiveTime::parse_from_str(&s, "%H:%M").map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            rusqlite::types::Type::Text,
            format!("sale time {s:?}: {e}").into(),
        )
    })
}

impl Store {
    /// Stores station times; an older observation never replaces a newer one.
    pub fn save_station_times(&mut self, times: &[StationSaleTime]) -> Result<(), StoreError> {
        self.write_tx(|tx| {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO sale_station_time (telecode, time, seen_on) VALUES (?1, ?2, ?3)
                 ON CONFLICT (telecode) DO UPDATE SET time = excluded.time, seen_on = excluded.seen_on
                 WHERE excluded.seen_on >= sale_station_time.seen_on",
            )?;
            for t in times {
                stmt.execute((
                    &t.telecode,
                    t.time.format("%H:%M").to_string(),
                    date_text(t.seen_on),
                ))?;
            }
            Ok(())
        })
    }

    /// Every station time learnt, by telecode.
    pub fn station_times(&self) -> Result<Vec<StationSaleTime>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT telecode, time, seen_on FROM sale_station_time ORDER BY telecode")?;
        let rows = stmt.query_map([], |r| {
            Ok(StationSaleTime {
                telecode: r.get(0)?,
                time: hhmm(r, 1)?,
                seen_on: date_at(r, 2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Replaces the cached `qss.js`.
    pub fn save_qss(&mut self, qss: &QssCache) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO qss_cache (id, url, body, fetched_at) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET url = excluded.url, body = excluded.body,
                 fetched_at = excluded.fetched_at",
            (&qss.url, &qss.body, ms(qss.fetched_at)),
        )?;
        Ok(())
    }

    pub fn qss_cache(&self) -> Result<Option<QssCache>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT url, body, fetched_at FROM qss_cache WHERE id = 1")?
            .query_row([], |r| {
                Ok(QssCache {
                    url: r.get(0)?,
                    body: r.get(1)?,
                    fetched_at: time_at(r, 2)?,
                })
            })
            .optional()?)
    }

    /// Replaces the record of 12306's clock.
    pub fn save_rail_clock(&mut self, rec: &RailClockRecord) -> Result<(), StoreError> {
        let c = &rec.clock;
        self.conn.execute(
            "INSERT INTO rail_clock (id, offset_ms, uncertainty_ms, round_trip_ms, measured_at, presale_days)
             VALUES (1, ?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO UPDATE SET offset_ms = excluded.offset_ms,
                 uncertainty_ms = excluded.uncertainty_ms, round_trip_ms = excluded.round_trip_ms,
                 measured_at = excluded.measured_at, presale_days = excluded.presale_days",
            (
                c.offset_ms,
                c.uncertainty_ms,
                c.round_trip_ms,
                c.measured_at.timestamp_millis(),
                rec.presale_days,
            ),
        )?;
        Ok(())
    }

    pub fn rail_clock(&self) -> Result<Option<RailClockRecord>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT offset_ms, uncertainty_ms, round_trip_ms, measured_at, presale_days
                 FROM rail_clock WHERE id = 1",
            )?
            .query_row([], |r| {
                Ok(RailClockRecord {
                    clock: ClockStatus {
                        offset_ms: r.get(0)?,
                        uncertainty_ms: r.get(1)?,
                        round_trip_ms: r.get(2)?,
                        measured_at: time_at(r, 3)?.to_utc(),
                    },
                    presale_days: r.get(4)?,
                })
            })
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fixtures::{at, open};

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn a_station_time_is_replaced_by_a_newer_observation_and_never_by_an_older_one() {
        let (_dir, mut store) = open();
        let t = |time, seen_on| StationSaleTime {
            telecode: "IMH".into(),
            time,
            seen_on,
        };
        store
            .save_station_times(&[t(hm(14, 30), ymd(2024, 12, 25))])
            .unwrap();
        store
            .save_station_times(&[t(hm(9, 30), ymd(2026, 1, 2))])
            .unwrap();
        store
            .save_station_times(&[t(hm(14, 30), ymd(2024, 12, 25))])
            .unwrap();
        assert_eq!(store.station_times().unwrap(), [t(hm(9, 30), ymd(2026, 1, 2))]);
    }

    #[test]
    fn the_qss_cache_and_the_clock_round_trip_and_start_empty() {
        let (_dir, mut store) = open();
        assert_eq!(store.qss_cache().unwrap(), None);
        assert_eq!(store.rail_clock().unwrap(), None);
        let qss = QssCache {
            url: "https://www.12306.cn/index/script/core/common/qss_v10099.js".into(),
            body: "var citys = {\"上海\":\"14:30\"};".into(),
            fetched_at: at(3),
        };
        store.save_qss(&qss).unwrap();
        store.save_qss(&qss).unwrap();
        assert_eq!(store.qss_cache().unwrap(), Some(qss));
        let rec = RailClockRecord {
            clock: ClockStatus {
                offset_ms: -420_123,
                uncertainty_ms: 12,
                round_trip_ms: 23,
                measured_at: at(5).to_utc(),
            },
            presale_days: Some(15),
        };
        store.save_rail_clock(&rec).unwrap();
        assert_eq!(store.rail_clock().unwrap(), Some(rec));
    }
}
