//! Pure decoder for 12306 leftTicket answers: `&str` → [`LeftTicketPage`] or a typed error.
//!
//! HELPER-OWNED: the types below are the agreed interface; the helper fills in the body and tests.

use std::collections::BTreeMap;

use crate::seat::SeatClass;

/// One decoded leftTicket answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeftTicketPage {
    /// One entry per row of `data.result`, in 12306's order.
    pub trains: Vec<TrainRow>,
    /// `data.map`: telecode → station name, for every station appearing in the rows.
    pub names: BTreeMap<String, String>,
}

/// What a seat cell (fields 20–33) says. `""` and `--` mean the class is not on the train and
/// produce no [`SeatCell`] at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum SeatLeft {
    /// `无`: none left.
    None,
    /// `有`: plenty, read as at least 20.
    Plenty,
    /// `1`…: exactly this many.
    Count(u32),
    /// `*`: not on sale yet (never availability).
    NotOnSale,
}

/// One seat class on one train.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatCell {
    /// The raw cell text (`有`, `无`, `13`, `*`).
    pub raw: String,
    pub left: SeatLeft,
    /// Price in tenths of a yuan (jiao) from `yp_info_new`, when present.
    pub price_jiao: Option<u32>,
    /// Exact count from `yp_info_new`, when present (exact even where the cell says `有`).
    pub exact_count: Option<u32>,
}

/// One train row (protocol doc §3). Fields past the end of a short row are empty/None.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainRow {
    /// Field 0; empty when the train cannot be booked.
    pub secret_str: String,
    /// Field 1: `预订`, or why not (`停运`, `xx月xx日xx点起售`…).
    pub button_text: String,
    /// Field 2, e.g. `55000G829420`.
    pub train_no: String,
    /// Field 3, e.g. `G8294`.
    pub station_train_code: String,
    /// Fields 4/5: origin / terminus telecodes of the whole train.
    pub start_station: String,
    pub end_station: String,
    /// Fields 6/7: the **actual** boarding / alighting telecodes.
    pub from_station: String,
    pub to_station: String,
    /// Fields 8/9/10: `14:44` / `15:53` / `01:09`.
    pub start_time: String,
    pub arrive_time: String,
    pub lishi: String,
    /// Field 11: `Y`, `N`, `IS_TIME_NOT_BUY`.
    pub can_web_buy: String,
    /// Field 13: `20240422`.
    pub start_train_date: String,
    /// Seat cells present on this train (non-empty, not `--`).
    pub seats: BTreeMap<SeatClass, SeatCell>,
    /// Field 37 == "1": 候补 allowed on this train.
    pub houbu_train_flag: bool,
    /// Field 38: seat codes whose 候补 list is full (`"null"` read as empty).
    pub houbu_seat_limit: String,
    /// Field 55: sale opening `202404081430`, when present.
    pub sale_time: Option<String>,
}

/// Why a body is not a page of trains. The client maps these to its own error classes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeftTicketError {
    /// `{"status":false,"c_url":"leftTicket/queryX"}`: the endpoint was renamed.
    #[error("12306 moved the query endpoint to {c_url}")]
    EndpointMoved { c_url: String },
    /// An HTML page instead of JSON (error page, login page): 12306 is refusing us.
    #[error("12306 answered with an HTML page instead of data (throttled)")]
    Html,
    /// `status:false` or a risk phrase (访问过于频繁, 网络可能存在问题…); `message` is 12306's text.
    #[error("12306 refused the query: {message}")]
    Refused { message: String },
    /// JSON we cannot understand.
    #[error("unreadable leftTicket answer: {0}")]
    Malformed(String),
}
