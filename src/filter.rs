//! Which trains and seats of a leftTicket page a watch cares about (pure: no I/O, no clock).
//!
//! HELPER-OWNED: the types below are the agreed interface; the helper fills in [`select`] and tests.

use chrono::NaiveDate;

use crate::seat::SeatClass;

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
}
