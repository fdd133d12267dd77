//! How values are written to and read from SQLite columns, shared by every table's file.
//!
//! Times are unix milliseconds (compact, ordered) and read back in Beijing time (+08:00); dates are
//! `YYYY-MM-DD` text; JSON columns decode into their domain type or fail with
//! [`StoreError::BadRow`] naming the row.

use chrono::{DateTime, FixedOffset, NaiveDate};
use rusqlite::Row;
use rusqlite::types::Type;
use serde::de::DeserializeOwned;

use super::error::StoreError;
use crate::clock::beijing;
use crate::seat::SeatClass;

pub(super) fn ms(t: DateTime<FixedOffset>) -> i64 {
    t.timestamp_millis()
}

fn conversion(idx: usize, ty: Type, msg: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, ty, msg.into())
}

pub(super) fn time_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<DateTime<FixedOffset>> {
    let v: i64 = row.get(idx)?;
    DateTime::from_timestamp_millis(v)
        .map(|t| t.with_timezone(&beijing()))
        .ok_or_else(|| conversion(idx, Type::Integer, format!("time {v} out of range")))
}

pub(super) fn opt_time_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<DateTime<FixedOffset>>> {
    match row.get_ref(idx)? {
        rusqlite::types::ValueRef::Null => Ok(None),
        _ => time_at(row, idx).map(Some),
    }
}

pub(super) fn date_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

pub(super) fn date_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<NaiveDate> {
    let s: String = row.get(idx)?;
    NaiveDate::parse_from_str(&s, "%Y-%m-%d")
        .map_err(|e| conversion(idx, Type::Text, format!("date {s:?}: {e}")))
}

pub(super) fn seat_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<SeatClass> {
    let s: String = row.get(idx)?;
    SeatClass::parse(&s).ok_or_else(|| conversion(idx, Type::Text, format!("seat class {s:?}")))
}

/// `value` as JSON text for a column.
pub(super) fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("stored values serialize")
}

/// The JSON of `column` in the `table` row named `key`, decoded.
pub(super) fn decode<T: DeserializeOwned>(
    table: &'static str,
    key: &str,
    column: &str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::bad_row(table, key, format!("{column}: {e}")))
}
