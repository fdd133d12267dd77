//! Pure decoder for 12306 leftTicket answers: `&str` → [`LeftTicketPage`] or a typed error.
//!
//! 12306 answers the same query in many shapes (protocol doc §2–§3): data, a renamed endpoint, an
//! HTML error page, a bare digit, a risk-control sentence, rows of 37 to 57 `|`-separated fields.
//! The HTTP client must branch on which one it got (follow `c_url`, back off, alert), so this
//! module turns a body into either a page of typed rows or an error naming the case, without
//! touching the network or the clock. It never panics, whatever the body.
//!
//! Decisions beyond the protocol doc:
//! - A seat cell that is none of `""`, `--`, `无`, `有`, digits or `*` is dropped from
//!   [`TrainRow::seats`] (read as "class not on this train") rather than guessed at.
//! - A non-JSON body containing a [`RISK_PHRASES`] entry is [`LeftTicketError::Refused`], not
//!   `Malformed`: 12306 sometimes answers risk control as plain text.
//! - `yp_info_new` only enriches cells that exist; when two groups map to one class (`M` and
//!   优选 `D`), the first one wins.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::seat::SeatClass;

/// Rows shorter than this are not leftTicket rows (2018 rows have 37 fields, §3).
pub const MIN_ROW_FIELDS: usize = 36;

/// Phrases 12306 uses when risk control refuses a query (protocol doc §2.2, community list 2026).
pub const RISK_PHRASES: &[&str] = &[
    "您的访问过于频繁",
    "访问过于频繁",
    "请求过于频繁",
    "操作过于频繁",
    "请使用本人账号登录",
    "抱歉，当前排队人数超过",
    "网络可能存在问题，请您重试一下",
    "验证码校验失败次数过多",
    "非法请求",
    "系统繁忙，请稍后重试",
];

/// The first risk phrase found in `text`, if any. Full-width and ASCII commas are treated alike,
/// since 12306's messages use both.
pub fn find_risk_phrase(text: &str) -> Option<&'static str> {
    let normalized = text.replace(',', "，");
    RISK_PHRASES.iter().copied().find(|p| normalized.contains(p))
}

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

/// Decodes one leftTicket body (protocol doc §2–§3).
///
/// Empty results (`data` null, `result` empty) are an empty page, not an error: "no trains" is a
/// normal answer. Everything that is not data comes back as the [`LeftTicketError`] case the
/// client branches on.
///
/// ```
/// use yupiao::rail::left_ticket::{decode_left_ticket, LeftTicketError};
/// let moved = r#"{"status":false,"c_url":"leftTicket/queryX","c_name":"CLeftTicketUrl"}"#;
/// assert_eq!(
///     decode_left_ticket(moved),
///     Err(LeftTicketError::EndpointMoved { c_url: "leftTicket/queryX".into() })
/// );
/// assert_eq!(decode_left_ticket("<html>error</html>"), Err(LeftTicketError::Html));
/// ```
pub fn decode_left_ticket(body: &str) -> Result<LeftTicketPage, LeftTicketError> {
    let text = body.trim_start_matches('\u{feff}').trim();
    if text.is_empty() {
        return Err(LeftTicketError::Refused {
            message: "查询失败，请稍后再试！".to_string(),
        });
    }
    if let [d @ b'0'..=b'4'] = text.as_bytes() {
        return Err(LeftTicketError::Refused {
            message: format!("查询失败！（{}）", *d as char),
        });
    }
    if text.starts_with('<') {
        return Err(LeftTicketError::Html);
    }
    let json: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(_) => {
            return Err(match find_risk_phrase(text) {
                Some(_) => LeftTicketError::Refused {
                    message: snippet(text),
                },
                None => LeftTicketError::Malformed(format!("not JSON: {}", snippet(text))),
            });
        }
    };
    let Some(obj) = json.as_object() else {
        return Err(LeftTicketError::Malformed(format!(
            "not a JSON object: {}",
            snippet(text)
        )));
    };

    let status = obj.get("status").and_then(truthy);
    if status != Some(true)
        && let Some(c_url) = obj.get("c_url").and_then(Value::as_str)
        && !c_url.trim().is_empty()
    {
        return Err(LeftTicketError::EndpointMoved {
            c_url: c_url.trim().to_string(),
        });
    }

    let messages = obj.get("messages").map(messages_text).unwrap_or_default();
    if find_risk_phrase(&messages).is_some() {
        return Err(LeftTicketError::Refused { message: messages });
    }
    match status {
        Some(false) => {
            let message = if messages.is_empty() {
                "status:false".to_string()
            } else {
                messages
            };
            return Err(LeftTicketError::Refused { message });
        }
        None if !obj.contains_key("data") => {
            return Err(LeftTicketError::Malformed(format!(
                "neither status nor data: {}",
                snippet(text)
            )));
        }
        _ => {}
    }

    let data = match obj.get("data") {
        None | Some(Value::Null) => return Ok(LeftTicketPage::default()),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(LeftTicketPage::default()),
        Some(Value::Array(a)) if a.is_empty() => return Ok(LeftTicketPage::default()),
        Some(Value::Object(d)) => d,
        Some(other) => {
            return Err(LeftTicketError::Malformed(format!(
                "data is not an object: {}",
                snippet(&other.to_string())
            )));
        }
    };

    let mut page = LeftTicketPage::default();
    if let Some(Value::Object(map)) = data.get("map") {
        for (code, name) in map {
            if let Some(name) = name.as_str() {
                page.names.insert(code.clone(), name.to_string());
            }
        }
    }
    let rows = match data.get("result") {
        None | Some(Value::Null) => return Ok(page),
        Some(Value::Array(rows)) => rows,
        Some(other) => {
            return Err(LeftTicketError::Malformed(format!(
                "data.result is not a list: {}",
                snippet(&other.to_string())
            )));
        }
    };
    for (i, row) in rows.iter().enumerate() {
        let Some(row) = row.as_str() else {
            return Err(LeftTicketError::Malformed(format!(
                "row {i} is not a string: {}",
                snippet(&row.to_string())
            )));
        };
        page.trains.push(decode_row(i, row)?);
    }
    Ok(page)
}

/// Decodes one `|`-separated row; `index` only names the row in the error.
///
/// Any row of at least [`MIN_ROW_FIELDS`] fields is accepted; fields past its end read as empty.
pub fn decode_row(index: usize, row: &str) -> Result<TrainRow, LeftTicketError> {
    let fields: Vec<&str> = row.split('|').collect();
    if fields.len() < MIN_ROW_FIELDS {
        return Err(LeftTicketError::Malformed(format!(
            "row {index} has {} fields, expected at least {MIN_ROW_FIELDS}",
            fields.len()
        )));
    }
    let f = |i: usize| fields.get(i).copied().unwrap_or("").trim();
    let s = |i: usize| f(i).to_string();

    let mut seats = BTreeMap::new();
    for class in SeatClass::ALL {
        let raw = f(class.column());
        if let Some(left) = parse_seat_cell(raw) {
            seats.insert(
                class,
                SeatCell {
                    raw: raw.to_string(),
                    left,
                    price_jiao: None,
                    exact_count: None,
                },
            );
        }
    }
    for entry in parse_yp_info_new(f(39)) {
        if let Some(cell) = seats.get_mut(&entry.seat)
            && cell.price_jiao.is_none()
            && cell.exact_count.is_none()
        {
            cell.price_jiao = Some(entry.price_jiao);
            cell.exact_count = Some(entry.count);
        }
    }

    let houbu_seat_limit = match f(38) {
        "null" => String::new(),
        other => other.to_string(),
    };
    let sale_time = Some(f(55)).filter(|t| !t.is_empty()).map(str::to_string);

    Ok(TrainRow {
        secret_str: s(0),
        button_text: s(1),
        train_no: s(2),
        station_train_code: s(3),
        start_station: s(4),
        end_station: s(5),
        from_station: s(6),
        to_station: s(7),
        start_time: s(8),
        arrive_time: s(9),
        lishi: s(10),
        can_web_buy: s(11),
        start_train_date: s(13),
        seats,
        houbu_train_flag: f(37) == "1",
        houbu_seat_limit,
        sale_time,
    })
}

/// Reads one seat cell (§3.1). `None` means "no such class on this train": `""`, `--`, and any
/// text 12306 is not known to send.
pub fn parse_seat_cell(raw: &str) -> Option<SeatLeft> {
    match raw.trim() {
        "" | "--" => None,
        "无" => Some(SeatLeft::None),
        "有" => Some(SeatLeft::Plenty),
        "*" => Some(SeatLeft::NotOnSale),
        digits if digits.bytes().all(|b| b.is_ascii_digit()) => {
            // More digits than a u32 holds is still "very many", never a panic.
            Some(SeatLeft::Count(digits.parse().unwrap_or(u32::MAX)))
        }
        _ => None,
    }
}

/// One group of `yp_info_new` (field 39), already resolved to its seat class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YpEntry {
    /// The class the group prices; a count ≥ 3000 turns the group into [`SeatClass::NoSeat`].
    pub seat: SeatClass,
    /// Price in jiao (tenths of a yuan).
    pub price_jiao: u32,
    /// Seats left, exact.
    pub count: u32,
}

/// Splits `yp_info_new` into 10-character groups (§3.2): seat code, price × 10 (5 digits),
/// count (4 digits, ≥ 3000 = the 无座 entry, real count − 3000). Groups that are short, not
/// digits or carry an unknown code are skipped.
pub fn parse_yp_info_new(text: &str) -> Vec<YpEntry> {
    text.trim()
        .as_bytes()
        .chunks(10)
        .filter_map(|g| {
            if g.len() != 10 || !g[1..].iter().all(u8::is_ascii_digit) {
                return None;
            }
            let digits = |r: &[u8]| r.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
            let mut seat = SeatClass::from_code(char::from(g[0]))?;
            let price_jiao = digits(&g[1..6]);
            let mut count = digits(&g[6..10]);
            if count >= 3000 {
                seat = SeatClass::NoSeat;
                count -= 3000;
            }
            Some(YpEntry {
                seat,
                price_jiao,
                count,
            })
        })
        .collect()
}

impl TrainRow {
    /// 12306 would let a user order this train now: `预订`, canWebBuy `Y` and a secretStr (§3.4).
    /// Seed 002 shows `有` next to `IS_TIME_NOT_BUY`, so seat cells alone never decide this.
    pub fn bookable(&self) -> bool {
        self.button_text == "预订" && self.can_web_buy == "Y" && !self.secret_str.is_empty()
    }

    /// A 候补 (waitlist) order is possible for `seat` (§3.4): `预订`, the cell says `无`, the
    /// train allows 候补, the class's waitlist is not full, and it is not 无座/其他. 12306's page
    /// also refuses trains leaving within 3 h; that needs a clock and is left to the caller.
    pub fn houbu_possible(&self, seat: SeatClass) -> bool {
        let Some(code) = seat.code() else {
            return false;
        };
        self.button_text == "预订"
            && self.houbu_train_flag
            && !matches!(seat, SeatClass::NoSeat | SeatClass::Other)
            && self.seats.get(&seat).is_some_and(|c| c.left == SeatLeft::None)
            && !self.houbu_seat_limit.contains(code)
    }
}

/// `true`/`false`, also when 12306 sends them as strings.
fn truthy(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// `messages` is a string in leftTicket answers and an array elsewhere; both become one string.
fn messages_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.trim().to_string(),
        Value::Array(items) => items
            .iter()
            .map(messages_text)
            .filter(|m| !m.is_empty())
            .collect::<Vec<_>>()
            .join("；"),
        other => other.to_string(),
    }
}

/// The start of a body for an error message: one line, at most 80 characters.
fn snippet(text: &str) -> String {
    const MAX: usize = 60;
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = flat.trim();
    if flat.chars().count() > MAX {
        let cut: String = flat.chars().take(MAX).collect();
        format!("{cut}…")
    } else {
        flat.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUERY_G: &str = include_str!("../../tests/fixtures/leftTicket/queryG.SHH-CZH.2024-04-22.json");
    const SEED_002: &str = include_str!("../../tests/fixtures/seed_002_leftTicket.txt");

    /// The 2018 answer is the JSON block between the ``` fences of seed 002.
    fn seed_002_json() -> &'static str {
        let start = SEED_002.find("```\n{").expect("fenced JSON in seed 002") + 4;
        let len = SEED_002[start..].find("\n```").expect("closing fence");
        &SEED_002[start..start + len]
    }

    fn rows_of(body: &str) -> Vec<String> {
        let v: Value = serde_json::from_str(body).unwrap();
        v["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_string())
            .collect()
    }

    fn refused(body: &str) -> String {
        match decode_left_ticket(body) {
            Err(LeftTicketError::Refused { message }) => message,
            other => panic!("expected Refused for {body:?}, got {other:?}"),
        }
    }

    /// A row of `n` fields with a train code, stations and the given cells set.
    fn row_with(n: usize, set: &[(usize, &str)]) -> String {
        let mut f = vec![""; n];
        for (i, v) in [
            (0, "secret"),
            (1, "预订"),
            (3, "G1"),
            (6, "SHH"),
            (7, "CZH"),
            (11, "Y"),
        ] {
            if i < n {
                f[i] = v;
            }
        }
        for &(i, v) in set {
            f[i] = v;
        }
        f.join("|")
    }

    fn cell(raw: &str, left: SeatLeft, price: Option<u32>, count: Option<u32>) -> SeatCell {
        SeatCell {
            raw: raw.to_string(),
            left,
            price_jiao: price,
            exact_count: count,
        }
    }

    #[test]
    fn the_2024_query_g_answer_decodes_both_rows_completely() {
        let page = decode_left_ticket(QUERY_G).unwrap();
        assert_eq!(page.names.len(), 12);
        assert_eq!(page.names["AOH"], "上海虹桥");
        assert_eq!(page.trains.len(), 2);

        let d = &page.trains[0];
        assert!(d.secret_str.starts_with("Oy1n3fY3wHl5K7F3"));
        assert_eq!(d.button_text, "预订");
        assert_eq!(d.train_no, "5l000D301002");
        assert_eq!(d.station_train_code, "D3010");
        assert_eq!((d.start_station.as_str(), d.end_station.as_str()), ("AOH", "HKN"));
        assert_eq!((d.from_station.as_str(), d.to_station.as_str()), ("AOH", "CZH"));
        assert_eq!(
            (d.start_time.as_str(), d.arrive_time.as_str()),
            ("14:42", "15:44")
        );
        assert_eq!(d.lishi, "01:02");
        assert_eq!(d.can_web_buy, "Y");
        assert_eq!(d.start_train_date, "20240422");
        assert!(!d.houbu_train_flag);
        assert_eq!(d.houbu_seat_limit, "");
        assert_eq!(d.sale_time.as_deref(), Some("202404081330"));
        assert!(d.bookable());
        let want: BTreeMap<_, _> = [
            (
                SeatClass::First,
                cell("14", SeatLeft::Count(14), Some(980), Some(14)),
            ),
            (
                SeatClass::Second,
                cell("3", SeatLeft::Count(3), Some(610), Some(3)),
            ),
            (
                SeatClass::NoSeat,
                cell("有", SeatLeft::Plenty, Some(610), Some(76)),
            ),
        ]
        .into_iter()
        .collect();
        assert_eq!(d.seats, want);

        let g = &page.trains[1];
        assert_eq!(g.train_no, "55000G829420");
        assert_eq!(g.station_train_code, "G8294");
        assert_eq!((g.start_station.as_str(), g.end_station.as_str()), ("SHH", "AFH"));
        assert_eq!((g.from_station.as_str(), g.to_station.as_str()), ("SHH", "CZH"));
        assert_eq!(
            (g.start_time.as_str(), g.arrive_time.as_str()),
            ("14:44", "15:53")
        );
        assert_eq!(g.lishi, "01:09");
        assert_eq!(g.sale_time.as_deref(), Some("202404081430"));
        assert!(g.bookable());
        let want: BTreeMap<_, _> = [
            (
                SeatClass::Business,
                cell("13", SeatLeft::Count(13), Some(2890), Some(13)),
            ),
            (
                SeatClass::First,
                cell("有", SeatLeft::Plenty, Some(1450), Some(21)),
            ),
            (
                SeatClass::Second,
                cell("有", SeatLeft::Plenty, Some(910), Some(21)),
            ),
            (
                SeatClass::NoSeat,
                cell("有", SeatLeft::Plenty, Some(910), Some(110)),
            ),
        ]
        .into_iter()
        .collect();
        assert_eq!(g.seats, want);
    }

    #[test]
    fn yp_info_new_counts_from_3000_are_the_no_seat_entry() {
        let e = parse_yp_info_new("9028900013M014500021O009100021O009103110");
        let got: Vec<_> = e.iter().map(|e| (e.seat, e.price_jiao, e.count)).collect();
        assert_eq!(
            got,
            vec![
                (SeatClass::Business, 2890, 13),
                (SeatClass::First, 1450, 21),
                (SeatClass::Second, 910, 21),
                (SeatClass::NoSeat, 910, 110),
            ]
        );
    }

    #[test]
    fn truncated_or_garbage_yp_info_new_is_ignored_group_by_group() {
        assert_eq!(parse_yp_info_new(""), vec![]);
        assert_eq!(parse_yp_info_new("90289"), vec![]);
        assert_eq!(parse_yp_info_new("X028900013Oabcdefghi座位信息"), vec![]);
        let kept = parse_yp_info_new("O009100021O0091031");
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].count, 21);

        let row = row_with(40, &[(30, "有"), (39, "O00910002₩₩garbage")]);
        let row = decode_row(0, &row).unwrap();
        assert_eq!(row.seats[&SeatClass::Second].price_jiao, None);
    }

    #[test]
    fn the_2018_seed_rows_of_37_fields_decode_but_are_not_bookable() {
        let page = decode_left_ticket(seed_002_json()).unwrap();
        assert_eq!(page.names["VNP"], "北京南");
        assert_eq!(page.trains.len(), 2);
        let g = &page.trains[0];
        assert_eq!(g.station_train_code, "G101");
        assert_eq!(g.secret_str, "");
        assert_eq!(g.button_text, "23:00-06:00系统维护时间");
        assert_eq!(g.can_web_buy, "IS_TIME_NOT_BUY");
        assert_eq!((g.from_station.as_str(), g.to_station.as_str()), ("VNP", "AOH"));
        assert_eq!(g.seats[&SeatClass::Second].left, SeatLeft::Plenty);
        assert_eq!(g.seats[&SeatClass::Business].left, SeatLeft::Count(7));
        assert_eq!(g.seats[&SeatClass::Business].price_jiao, None);
        assert!(!g.bookable());
        assert!(!g.houbu_train_flag);
        assert_eq!(g.sale_time, None);
        assert_eq!(
            page.trains[1].seats[&SeatClass::Business].left,
            SeatLeft::Count(17)
        );
    }

    #[test]
    fn messages_may_be_an_array_and_level_and_extra_fields_may_be_absent_or_present() {
        let body = r#"{"status":true,"extra":{"a":1},"messages":[],"httpstatus":"200",
            "data":{"result":[],"map":{"SHH":"上海"},"flag":"1"}}"#;
        let page = decode_left_ticket(body).unwrap();
        assert!(page.trains.is_empty());
        assert_eq!(page.names["SHH"], "上海");
    }

    #[test]
    fn null_data_and_empty_result_are_an_empty_page() {
        for body in [
            r#"{"httpstatus":200,"data":null,"messages":"","status":true}"#,
            r#"{"status":true,"messages":"","data":{"flag":"1","map":{},"result":[]}}"#,
            r#"{"status":true,"data":{"flag":"1"}}"#,
            r#"{"status":true}"#,
        ] {
            assert_eq!(decode_left_ticket(body), Ok(LeftTicketPage::default()), "{body}");
        }
    }

    #[test]
    fn c_url_means_the_endpoint_moved_whatever_the_key_order() {
        let moved = Err(LeftTicketError::EndpointMoved {
            c_url: "leftTicket/queryX".into(),
        });
        for body in [
            r#"{"status":false,"c_url":"leftTicket/queryX","c_name":"CLeftTicketUrl"}"#,
            r#"{"c_name":"CLeftTicketUrl","c_url":"leftTicket/queryX","status":false}"#,
        ] {
            assert_eq!(decode_left_ticket(body), moved, "{body}");
        }
    }

    #[test]
    fn an_html_page_is_html_even_after_a_bom_and_blank_lines() {
        for body in [
            "<!DOCTYPE html><html><body>error</body></html>",
            "\u{feff}\r\n  <html>",
        ] {
            assert_eq!(decode_left_ticket(body), Err(LeftTicketError::Html));
        }
    }

    #[test]
    fn a_bare_digit_or_empty_body_is_refused_with_the_page_wording() {
        assert_eq!(refused("3"), "查询失败！（3）");
        assert_eq!(refused(" 0\n"), "查询失败！（0）");
        assert_eq!(refused(""), "查询失败，请稍后再试！");
        assert_eq!(refused("\u{feff}  "), "查询失败，请稍后再试！");
    }

    #[test]
    fn every_risk_phrase_in_messages_is_a_refusal_carrying_12306s_text() {
        for phrase in RISK_PHRASES {
            let text = format!("{phrase}！");
            let as_string = format!(
                r#"{{"status":true,"messages":{},"data":null}}"#,
                Value::from(text.as_str())
            );
            assert_eq!(refused(&as_string), text);
            let as_array = format!(
                r#"{{"status":false,"messages":[{}],"httpstatus":200}}"#,
                Value::from(text.as_str())
            );
            assert_eq!(refused(&as_array), text);
            assert_eq!(find_risk_phrase(&format!("<p>{text}</p>")), Some(*phrase));
        }
        assert_eq!(
            find_risk_phrase("系统繁忙,请稍后重试"),
            Some("系统繁忙，请稍后重试")
        );
        assert_eq!(find_risk_phrase("查询成功"), None);
    }

    #[test]
    fn a_plain_text_risk_sentence_is_a_refusal_and_other_text_is_malformed() {
        assert_eq!(
            refused("网络可能存在问题，请您重试一下！"),
            "网络可能存在问题，请您重试一下！"
        );
        match decode_left_ticket(&"garbage ".repeat(50)) {
            Err(LeftTicketError::Malformed(m)) => {
                assert!(m.starts_with("not JSON: garbage"), "{m}");
                assert!(m.chars().count() <= 80, "{m}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn status_false_without_c_url_is_a_refusal() {
        assert_eq!(
            refused(r#"{"status":false,"messages":"","data":null}"#),
            "status:false"
        );
        assert_eq!(
            refused(r#"{"status":"false","messages":["查询异常"]}"#),
            "查询异常"
        );
    }

    #[test]
    fn json_that_is_not_a_left_ticket_answer_is_malformed() {
        for body in [
            "[1,2]",
            "7",
            r#"{"foo":1}"#,
            r#"{"status":true,"data":"x"}"#,
            r#"{"status":true,"data":{"result":"x"}}"#,
            r#"{"status":true,"data":{"result":[1]}}"#,
        ] {
            assert!(
                matches!(decode_left_ticket(body), Err(LeftTicketError::Malformed(_))),
                "{body}"
            );
        }
    }

    #[test]
    fn a_row_of_35_fields_is_malformed_naming_the_row_and_its_length() {
        let body = serde_json::json!({
            "status": true,
            "data": {"result": [row_with(36, &[]), row_with(35, &[])], "map": {}},
        })
        .to_string();
        match decode_left_ticket(&body) {
            Err(LeftTicketError::Malformed(m)) => {
                assert!(m.contains("row 1") && m.contains("35 fields"), "{m}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_row_of_exactly_36_fields_decodes_with_the_missing_fields_empty() {
        let row = decode_row(0, &row_with(36, &[(30, "5"), (32, "*"), (29, "--"), (31, "无")])).unwrap();
        assert_eq!(row.station_train_code, "G1");
        assert!(row.bookable());
        assert!(!row.houbu_train_flag);
        assert_eq!(row.houbu_seat_limit, "");
        assert_eq!(row.sale_time, None);
        assert_eq!(row.seats.len(), 3);
        assert_eq!(row.seats[&SeatClass::Second].left, SeatLeft::Count(5));
        assert_eq!(row.seats[&SeatClass::Business].left, SeatLeft::NotOnSale);
        assert_eq!(row.seats[&SeatClass::First].left, SeatLeft::None);
    }

    #[test]
    fn seat_cells_read_as_the_protocol_says_and_unknown_text_is_no_class() {
        assert_eq!(parse_seat_cell(""), None);
        assert_eq!(parse_seat_cell("--"), None);
        assert_eq!(parse_seat_cell("无"), Some(SeatLeft::None));
        assert_eq!(parse_seat_cell("有"), Some(SeatLeft::Plenty));
        assert_eq!(parse_seat_cell("13"), Some(SeatLeft::Count(13)));
        assert_eq!(parse_seat_cell("*"), Some(SeatLeft::NotOnSale));
        assert_eq!(parse_seat_cell("候补"), None);
        assert_eq!(parse_seat_cell("-3"), None);
        assert_eq!(
            parse_seat_cell("99999999999999999999"),
            Some(SeatLeft::Count(u32::MAX))
        );
    }

    #[test]
    fn bookable_needs_the_button_can_web_buy_and_a_secret() {
        let ok = decode_row(0, &row_with(57, &[])).unwrap();
        assert!(ok.bookable());
        for set in [(0, ""), (1, "停运"), (11, "N"), (11, "IS_TIME_NOT_BUY")] {
            assert!(
                !decode_row(0, &row_with(57, &[set])).unwrap().bookable(),
                "{set:?}"
            );
        }
    }

    #[test]
    fn houbu_is_possible_only_for_sold_out_classes_of_houbu_trains_with_room_in_the_list() {
        let row = decode_row(
            0,
            &row_with(
                57,
                &[
                    (37, "1"),
                    (38, "M"),
                    (30, "无"),
                    (31, "无"),
                    (32, "3"),
                    (26, "无"),
                ],
            ),
        )
        .unwrap();
        assert!(row.houbu_possible(SeatClass::Second));
        assert!(!row.houbu_possible(SeatClass::First), "M's list is full");
        assert!(!row.houbu_possible(SeatClass::Business), "seats are left");
        assert!(!row.houbu_possible(SeatClass::NoSeat));
        assert!(!row.houbu_possible(SeatClass::HardSeat), "not on this train");

        let no_flag = decode_row(0, &row_with(57, &[(37, "0"), (30, "无")])).unwrap();
        assert!(!no_flag.houbu_possible(SeatClass::Second));
        let null_limit = decode_row(0, &row_with(39, &[(37, "1"), (38, "null"), (30, "无")])).unwrap();
        assert_eq!(null_limit.houbu_seat_limit, "");
        assert!(null_limit.houbu_possible(SeatClass::Second));
        let stopped = decode_row(0, &row_with(57, &[(1, "停运"), (37, "1"), (30, "无")])).unwrap();
        assert!(!stopped.houbu_possible(SeatClass::Second));
    }

    #[test]
    fn no_truncation_of_a_real_body_or_row_panics() {
        for body in [QUERY_G, seed_002_json()] {
            for (i, _) in body.char_indices() {
                let _ = decode_left_ticket(&body[..i]);
            }
            for row in rows_of(body) {
                for (i, _) in row.char_indices() {
                    let _ = decode_row(0, &row[..i]);
                    let _ = decode_row(0, &row[i..]);
                    let _ = parse_yp_info_new(&row[i..]);
                }
            }
        }
    }
}
