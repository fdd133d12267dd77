//! 12306 候补 (afterNate waitlist) orders: the pure decoder of `afterNateOrder/queryQueue`, the
//! request that fetches it with the user's own logged-in cookie, and loading that cookie.
//!
//! Users who already hold a 候补 order need to know the moment it must be paid, is fulfilled,
//! moves in the queue or is cancelled; 12306 only shows this on its 候补订单 page
//! (`/otn/view/lineUp_order.html`), which asks `POST /otn/afterNateOrder/queryQueue` (protocol doc
//! §5; *not* `afterNate/queryQueue`, which only answers right after submitting). The answer needs
//! a logged-in session, which expires: a logged-out answer is a state ([`QueueAnswer::SessionExpired`])
//! the caller reports once, never an error to retry fast or to crash on.
//!
//! The decoder is pure and tolerant in the ways 12306 varies (numbers as strings or numbers,
//! `messages` as string or array, `flag` as bool or string, extra fields). Identity numbers never
//! leave this module unmasked: [`mask_id`] is applied to every passenger as it is decoded.

use std::hash::Hasher;
use std::path::Path;

use anyhow::Context as _;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::client::{RailClient, RailError};
use super::throttle::{self, find_risk_phrase};
use crate::clock::beijing;
use crate::config;
use crate::text::snippet;

/// Path of the 候补订单 query, under the 12306 base URL.
pub const QUEUE_PATH: &str = "/otn/afterNateOrder/queryQueue";
/// The page that asks it; sent as `Referer` and linked from emails.
pub const ORDER_PAGE_PATH: &str = "/otn/view/lineUp_order.html";

/// How much of a body an error message quotes.
const QUOTED_CHARS: usize = 80;

/// Phrases with which 12306 says the session is not logged in (as opposed to "slow down").
const LOGGED_OUT_PHRASES: &[&str] = &[
    "用户未登录",
    "未登录",
    "请登录",
    "请重新登录",
    "登录超时",
    "会话已失效",
];

/// One 候补 order as 12306 shows it on the 候补订单 page (seed 000, `data.order` + the payment
/// window from `data`). Serializable so the daemon can keep the last one it saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitlistOrder {
    /// `E87000007466000022`: identifies the order (a different one means a new order).
    pub reserve_no: String,
    /// `00` 排队中, `01` 待支付, `04` 待兑现, `05`/`06` 已退单, `07` 兑现成功; unknown codes kept.
    pub status_code: String,
    /// 12306's own wording of the status (`待支付`).
    pub status_name: String,
    /// The deposit (订金), as 12306 writes it (`1748.0`), for display only.
    pub prepay_amount: String,
    /// When the order was placed, as sent (`2020-03-23`; the format varies).
    pub reserve_time: String,
    /// 兑现截止时间: unfulfilled by then, the waitlist gives up and refunds (Beijing time).
    pub realize_limit_time: Option<NaiveDateTime>,
    /// `data.beginTime`: the deposit payment window opened.
    pub begin_time: Option<DateTime<FixedOffset>>,
    /// `data.loseTime`: the deposit must be paid before this, or the order is void.
    pub lose_time: Option<DateTime<FixedOffset>>,
    /// One entry per train + seat the order waits for.
    pub needs: Vec<WaitlistNeed>,
    /// Travellers, with masked identity numbers only.
    pub passengers: Vec<WaitlistPassenger>,
}

/// One train + seat choice of a 候补 order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitlistNeed {
    pub board_train_code: String,
    pub train_date: Option<NaiveDate>,
    /// `HH:MM`, departure and arrival at the user's stations.
    pub start_time: String,
    pub arrive_time: String,
    /// Arrival day, when 12306 says it (overnight trains).
    pub arrive_date: Option<NaiveDate>,
    pub from_station_name: String,
    pub to_station_name: String,
    pub seat_name: String,
    pub status_code: String,
    pub status_name: String,
    /// `1` short queue, `2` medium, higher = longer; alerts fire when it or `queue_info` changes.
    pub queue_level: String,
    /// 12306's wording of the queue (`候补人数中等`).
    pub queue_info: String,
}

/// A traveller of a 候补 order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitlistPassenger {
    pub name: String,
    /// `中国居民身份证`.
    pub id_type_name: String,
    /// Always masked (`3623***********030`), even when 12306 sent it in full.
    pub id_no_masked: String,
    /// `成人票`.
    pub ticket_type: String,
}

/// What `afterNateOrder/queryQueue` says about the user's 候补 orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueAnswer {
    /// A pending (or just finished) order.
    Order(WaitlistOrder),
    /// No pending order (`status:2`, `isAsync:false`).
    NoOrder,
    /// The cookie no longer opens a logged-in session; the text says how we could tell.
    SessionExpired(String),
}

/// A body that is not a usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AfterNateError {
    /// 12306 is refusing us (risk phrase, error page, `status:false`): back off.
    #[error("throttled by 12306: {reason}")]
    Throttled { reason: String },
    /// Not the shape we know.
    #[error("unreadable 候补 answer: {0}")]
    Malformed(String),
}

impl From<AfterNateError> for RailError {
    fn from(e: AfterNateError) -> RailError {
        match e {
            AfterNateError::Throttled { reason } => RailError::Throttled { reason },
            e @ AfterNateError::Malformed(_) => RailError::Decode(e.to_string()),
        }
    }
}

/// Status codes after which the order can no longer change (退单, 自动退单, 兑现成功).
pub fn is_final_status(code: &str) -> bool {
    matches!(code.trim(), "05" | "06" | "07")
}

/// Decodes a `afterNateOrder/queryQueue` body (pure).
pub fn decode_queue(body: &str) -> Result<QueueAnswer, AfterNateError> {
    let body = body.trim_start_matches('\u{feff}').trim();
    if body.starts_with('<') {
        // A throttling page says so; anything else in HTML is the login page.
        if let Some(p) = find_risk_phrase(body) {
            return Err(AfterNateError::Throttled {
                reason: format!("HTML page: {p}"),
            });
        }
        if body.contains("error.html") || body.contains("logFiles/error") {
            return Err(AfterNateError::Throttled {
                reason: "HTML error page instead of data".into(),
            });
        }
        let lower = body.to_ascii_lowercase();
        if lower.contains("login") || body.contains("登录") {
            return Ok(QueueAnswer::SessionExpired(
                "12306 answered with an HTML page (its login page) instead of data".into(),
            ));
        }
        // Some other page (maintenance, anti-bot): not a verdict on the session.
        return Err(AfterNateError::Throttled {
            reason: "HTML page instead of data (not the login page)".into(),
        });
    }
    let v: Value = serde_json::from_str(body)
        .map_err(|_| AfterNateError::Malformed(format!("not JSON: {}", snippet(body, QUOTED_CHARS))))?;
    let messages = messages_text(&v["messages"]);
    if let Some(p) = LOGGED_OUT_PHRASES.iter().find(|p| messages.contains(*p)) {
        return Ok(QueueAnswer::SessionExpired(format!("12306 says {p}")));
    }
    if let Some(p) = find_risk_phrase(&messages) {
        return Err(AfterNateError::Throttled {
            reason: format!("12306 says {p}"),
        });
    }
    let data = &v["data"];
    if flag(&data["login_flag"]) == Some(false) || flag(&data["is_login"]) == Some(false) {
        return Ok(QueueAnswer::SessionExpired("12306 says login_flag:false".into()));
    }
    if flag(&v["status"]) == Some(false) {
        let why = if messages.is_empty() {
            "status:false".to_string()
        } else {
            messages
        };
        return Err(AfterNateError::Throttled { reason: why });
    }
    if !data.is_object() {
        return Err(AfterNateError::Malformed(format!(
            "no data: {}",
            snippet(body, QUOTED_CHARS)
        )));
    }
    let order = &data["order"];
    if order.as_object().is_some_and(|o| !o.is_empty()) {
        return decode_order(order, data).map(QueueAnswer::Order);
    }
    match number(&data["status"]) {
        Some(2) => Ok(QueueAnswer::NoOrder),
        status => Err(AfterNateError::Malformed(format!(
            "no order and data.status {} (an afterNate/queryQueue answer?): {}",
            status.map_or_else(|| "missing".to_string(), |s| s.to_string()),
            snippet(body, QUOTED_CHARS)
        ))),
    }
}

fn decode_order(order: &Value, data: &Value) -> Result<WaitlistOrder, AfterNateError> {
    let reserve_no = text(&order["reserve_no"]);
    if reserve_no.is_empty() {
        return Err(AfterNateError::Malformed("order without reserve_no".into()));
    }
    let status_code = text(&order["status_code"]);
    if status_code.is_empty() {
        return Err(AfterNateError::Malformed(format!(
            "order {reserve_no} without status_code"
        )));
    }
    let needs = order["needs"]
        .as_array()
        .map(|a| a.iter().map(decode_need).collect())
        .unwrap_or_default();
    let passengers = order["passengers"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| WaitlistPassenger {
                    name: text(&p["passenger_name"]),
                    id_type_name: text(&p["passenger_id_name"]),
                    id_no_masked: mask_id(&text(&p["passenger_id_no"])),
                    ticket_type: text(&p["ticket_type"]),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(WaitlistOrder {
        reserve_no,
        status_name: text(&order["status_name"]),
        status_code,
        prepay_amount: text(&order["prepay_amount"]),
        reserve_time: text(&order["reserve_time"]),
        realize_limit_time: date_time(&text(&order["realize_limit_time"])),
        begin_time: epoch_ms(&data["beginTime"]),
        lose_time: epoch_ms(&data["loseTime"]),
        needs,
        passengers,
    })
}

fn decode_need(n: &Value) -> WaitlistNeed {
    WaitlistNeed {
        board_train_code: text(&n["board_train_code"]),
        train_date: date(&text(&n["train_date"])),
        start_time: text(&n["start_time"]),
        arrive_time: text(&n["arrive_time"]),
        arrive_date: date(&text(&n["arrive_date"])),
        from_station_name: text(&n["from_station_name"]),
        to_station_name: text(&n["to_station_name"]),
        seat_name: text(&n["seat_name"]),
        status_code: text(&n["status_code"]),
        status_name: text(&n["status_name"]),
        queue_level: text(&n["queue_level"]),
        queue_info: text(&n["queue_info"]),
    }
}

pub use crate::identity::mask_id;

/// `messages` as one string, whether 12306 sent a string or an array of them.
fn messages_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.trim().to_string(),
        Value::Array(a) => a
            .iter()
            .map(text)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("；"),
        _ => String::new(),
    }
}

/// Strings as they are, numbers and booleans as their text, anything else empty.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// `true`, `"true"`, `"Y"`, `1` → true; their opposites → false; absent → None.
fn flag(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "y" | "1" => Some(true),
            "false" | "n" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn number(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Epoch milliseconds (number or string) → Beijing time.
fn epoch_ms(v: &Value) -> Option<DateTime<FixedOffset>> {
    let ms = number(v).filter(|ms| *ms > 0)?;
    beijing().timestamp_millis_opt(ms).single()
}

fn date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%Y%m%d"))
        .ok()
}

fn date_time(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M"))
        .ok()
}

impl RailClient {
    /// Asks 12306 for the user's 候补 order with their cookie, through the pacing gate.
    ///
    /// Logged-out answers (302 to the login page, an HTML page, `login_flag:false`, 用户未登录)
    /// come back as `Ok(QueueAnswer::SessionExpired)`. The cookie is sent as a sensitive header
    /// and appears in no log or error text.
    pub async fn query_waitlist(&self, cookie: &SecretString) -> Result<QueueAnswer, RailError> {
        let mut cookie_value = HeaderValue::from_str(cookie.expose_secret().trim()).map_err(|_| {
            RailError::Decode("the [rail] cookie holds characters not allowed in an HTTP header".into())
        })?;
        cookie_value.set_sensitive(true);
        let req = self
            .logged_in
            .post(format!("{}{QUEUE_PATH}", self.base))
            .header(
                header::CONTENT_TYPE,
                "application/x-www-form-urlencoded; charset=UTF-8",
            )
            .header(header::ORIGIN, self.base.clone())
            .header(header::REFERER, format!("{}{ORDER_PAGE_PATH}", self.base))
            .header(header::COOKIE, cookie_value)
            .body("");
        let (status, headers, body) = self.paced(req).await?;
        classify_queue(status, &headers, &body, &self.extra_risk)
    }
}

/// Turns an HTTP answer of `afterNateOrder/queryQueue` into an answer or a typed error (pure).
pub fn classify_queue(
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
    extra_risk: &[String],
) -> Result<QueueAnswer, RailError> {
    if status.is_redirection() {
        let to = headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        // Only the path: a redirect URL could carry query parameters we should not log.
        let to_path = to.split(['?', '#']).next().unwrap_or("");
        if to.contains("error") {
            return Err(RailError::Throttled {
                reason: format!("HTTP {status} to {to_path}"),
            });
        }
        return Ok(QueueAnswer::SessionExpired(if to_path.is_empty() {
            format!("HTTP {status} (no location)")
        } else {
            format!("HTTP {status} to {to_path}")
        }));
    }
    if let Some(refused) = throttle::refusal(status, body, extra_risk) {
        return Err(refused);
    }
    Ok(decode_queue(body)?)
}

/// The user's 12306 cookie from `[rail] cookie` or `[rail] cookie_file`, with a fingerprint that
/// changes when the cookie does (so one "session expired" email is sent per cookie, and a fresh
/// cookie is noticed). `None` when neither is set or the file is empty.
///
/// The fingerprint is FNV-1a 64 in hex: stable across Rust versions and restarts (unlike
/// `DefaultHasher`), short, and says nothing usable about the cookie.
pub fn load_cookie(settings: &config::Rail) -> anyhow::Result<Option<(SecretString, String)>> {
    let raw = match (&settings.cookie, &settings.cookie_file) {
        (Some(_), Some(_)) => anyhow::bail!(
            "[rail] sets both cookie and cookie_file; keep one (cookie_file can be refreshed without a restart)"
        ),
        (Some(c), None) => c.expose_secret().to_string(),
        (None, Some(path)) => read_cookie_file(path)?,
        (None, None) => return Ok(None),
    };
    let cookie = normalize_cookie(&raw);
    if cookie.is_empty() {
        return Ok(None);
    }
    if HeaderValue::from_str(&cookie).is_err() {
        anyhow::bail!(
            "[rail] cookie holds characters not allowed in an HTTP header; copy the Cookie request header again"
        );
    }
    let fingerprint = fingerprint(&cookie);
    Ok(Some((SecretString::from(cookie), fingerprint)))
}

fn read_cookie_file(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("[rail] cookie_file {}: cannot read it", path.display()))
}

/// Trims, drops a leading `Cookie:` (copied with the header name), joins lines.
fn normalize_cookie(raw: &str) -> String {
    let s = raw.trim_start_matches('\u{feff}').trim();
    let s = match s.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("cookie:") => s[7..].trim(),
        _ => s,
    };
    s.lines()
        .map(|l| l.trim().trim_end_matches(';').trim())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

fn fingerprint(cookie: &str) -> String {
    let mut h = Fnv1a(0xcbf2_9ce4_8422_2325);
    h.write(cookie.as_bytes());
    format!("{:016x}", h.finish())
}

struct Fnv1a(u64);

impl Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const SEED: &str = include_str!("../../tests/fixtures/seed_000_afterNateOrder_queryQueue.txt");
    const CHECH_FACE: &str =
        include_str!("../../tests/fixtures/afterNate/chechFace.face_check_code_12.2024-04-22.json");
    const OTHER_QUEUE: &str =
        include_str!("../../tests/fixtures/afterNate/queryQueue.status_1.2024-04-22.json");

    /// The JSON between the ```js fences of the seed document.
    pub(crate) fn seed_body() -> String {
        let start = SEED.find("``` js").expect("seed has a js fence") + "``` js".len();
        let end = start + SEED[start..].find("```").expect("seed fence is closed");
        SEED[start..end].trim().to_string()
    }

    fn bj(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<FixedOffset> {
        beijing().with_ymd_and_hms(y, m, d, h, mi, s).unwrap()
    }

    #[test]
    fn real_seed_body_decodes_every_field() {
        let QueueAnswer::Order(o) = decode_queue(&seed_body()).unwrap() else {
            panic!("seed is an order");
        };
        assert_eq!(o.reserve_no, "E87000007466000022");
        assert_eq!(o.status_code, "01");
        assert_eq!(o.status_name, "待支付");
        assert_eq!(o.prepay_amount, "1748.0");
        assert_eq!(o.reserve_time, "2020-03-23");
        assert_eq!(
            o.realize_limit_time,
            NaiveDate::from_ymd_opt(2020, 3, 24)
                .unwrap()
                .and_hms_opt(23, 30, 0)
        );
        // 1584945059103 ms and 1584946837476 ms, in Beijing time (protocol doc §5.1).
        assert_eq!(
            o.begin_time.unwrap(),
            bj(2020, 3, 23, 14, 30, 59) + chrono::Duration::milliseconds(103)
        );
        assert_eq!(
            o.lose_time.unwrap(),
            bj(2020, 3, 23, 15, 0, 37) + chrono::Duration::milliseconds(476)
        );
        assert_eq!(o.lose_time.unwrap().offset().local_minus_utc(), 8 * 3600);
        assert_eq!(
            o.needs,
            vec![WaitlistNeed {
                board_train_code: "G105".into(),
                train_date: NaiveDate::from_ymd_opt(2020, 3, 25),
                start_time: "07:20".into(),
                arrive_time: "13:08".into(),
                arrive_date: NaiveDate::from_ymd_opt(2020, 3, 25),
                from_station_name: "北京南".into(),
                to_station_name: "上海虹桥".into(),
                seat_name: "商务座".into(),
                status_code: "01".into(),
                status_name: "待支付".into(),
                queue_level: "2".into(),
                queue_info: "候补人数中等".into(),
            }]
        );
        assert_eq!(
            o.passengers,
            vec![WaitlistPassenger {
                name: "杨赟".into(),
                id_type_name: "中国居民身份证".into(),
                id_no_masked: "3623***********030".into(),
                ticket_type: "成人票".into(),
            }]
        );
    }

    #[test]
    fn messages_as_a_string_and_numbers_as_strings_are_accepted() {
        let body = seed_body()
            .replace("\"messages\": []", "\"messages\": \"\"")
            .replace("\"loseTime\": 1584946837476", "\"loseTime\": \"1584946837476\"")
            .replace("\"queue_level\": \"2\"", "\"queue_level\": 2")
            .replace("\"flag\": true", "\"flag\": \"true\"");
        let QueueAnswer::Order(o) = decode_queue(&body).unwrap() else {
            panic!("still an order");
        };
        assert_eq!(o.lose_time.unwrap().timestamp_millis(), 1584946837476);
        assert_eq!(o.needs[0].queue_level, "2");
    }

    #[test]
    fn status_two_without_order_is_no_order() {
        let body = r#"{"validateMessagesShowId":"_validatorMessage","status":true,"httpstatus":200,
            "data":{"flag":true,"status":2,"isAsync":false},"messages":[],"validateMessages":{}}"#;
        assert_eq!(decode_queue(body).unwrap(), QueueAnswer::NoOrder);
        let strings = r#"{"status":true,"data":{"flag":"true","status":"2","isAsync":"false","order":null},"messages":""}"#;
        assert_eq!(decode_queue(strings).unwrap(), QueueAnswer::NoOrder);
    }

    #[test]
    fn html_login_page_is_session_expired() {
        let page = "<!DOCTYPE html><html><head><title>登录 | 客运服务 | 铁路客户服务中心</title></head><body></body></html>";
        assert!(matches!(
            decode_queue(page).unwrap(),
            QueueAnswer::SessionExpired(_)
        ));
    }

    #[test]
    fn html_throttling_page_is_throttling_not_a_logout() {
        let page = "<html><body><div>网络可能存在问题，请您重试一下！</div></body></html>";
        assert!(matches!(
            decode_queue(page),
            Err(AfterNateError::Throttled { .. })
        ));
    }

    #[test]
    fn login_flag_false_is_session_expired() {
        let body = CHECH_FACE.replace("\"login_flag\":true", "\"login_flag\":false");
        assert!(body.contains("\"login_flag\":false"));
        assert!(matches!(
            decode_queue(&body).unwrap(),
            QueueAnswer::SessionExpired(_)
        ));
        let text = CHECH_FACE.replace("\"login_flag\":true", "\"login_flag\":\"false\"");
        assert!(matches!(
            decode_queue(&text).unwrap(),
            QueueAnswer::SessionExpired(_)
        ));
    }

    #[test]
    fn user_not_logged_in_message_is_session_expired() {
        let body = r#"{"status":false,"httpstatus":200,"messages":["用户未登录"],"data":null}"#;
        assert!(
            matches!(decode_queue(body).unwrap(), QueueAnswer::SessionExpired(w) if w.contains("用户未登录"))
        );
    }

    #[test]
    fn risk_phrases_are_throttling() {
        let body = r#"{"status":false,"httpstatus":200,"messages":["您的访问过于频繁，请稍后重试"]}"#;
        assert!(matches!(
            decode_queue(body),
            Err(AfterNateError::Throttled { .. })
        ));
        assert!(RailError::from(decode_queue(body).unwrap_err()).is_throttling());
    }

    #[test]
    fn answers_of_other_endpoints_are_not_mistaken_for_no_order() {
        // afterNate/queryQueue (after confirmHB) and chechFace carry no order and no status 2.
        for body in [OTHER_QUEUE, CHECH_FACE] {
            assert!(
                matches!(decode_queue(body), Err(AfterNateError::Malformed(_))),
                "{body}"
            );
        }
        assert!(matches!(
            decode_queue("not json"),
            Err(AfterNateError::Malformed(_))
        ));
    }

    #[test]
    fn unmasked_id_number_is_masked_before_it_is_stored() {
        let raw = "362321199001011030";
        let body = seed_body().replace("3623***********030", raw);
        let QueueAnswer::Order(o) = decode_queue(&body).unwrap() else {
            panic!("order");
        };
        assert_eq!(o.passengers[0].id_no_masked, "3623***********030");
        assert!(!format!("{o:?}").contains(raw));
        assert!(!serde_json::to_string(&o).unwrap().contains(raw));
    }

    #[test]
    fn mask_id_keeps_first_four_and_last_three() {
        assert_eq!(mask_id("362321199001011030"), "3623***********030");
        assert_eq!(mask_id("36232119900101103X"), "3623***********03X");
        assert_eq!(mask_id("3623***********030"), "3623***********030");
        // One masking policy for the whole program (crate::identity): short numbers keep less.
        assert_eq!(mask_id("E12345678"), "E******78");
        assert_eq!(mask_id("12345"), "*****");
        assert_eq!(mask_id(""), "");
    }

    #[test]
    fn redirect_to_login_is_session_expired_and_to_error_page_is_throttling() {
        let mut h = HeaderMap::new();
        h.insert(
            header::LOCATION,
            HeaderValue::from_static("https://kyfw.12306.cn/otn/resources/login.html?x=1"),
        );
        let a = classify_queue(StatusCode::FOUND, &h, "", &[]).unwrap();
        assert_eq!(
            a,
            QueueAnswer::SessionExpired(
                "HTTP 302 Found to https://kyfw.12306.cn/otn/resources/login.html".into()
            )
        );
        h.insert(
            header::LOCATION,
            HeaderValue::from_static("https://www.12306.cn/mormhweb/logFiles/error.html"),
        );
        assert!(
            classify_queue(StatusCode::FOUND, &h, "", &[])
                .unwrap_err()
                .is_throttling()
        );
        let e = classify_queue(StatusCode::FORBIDDEN, &HeaderMap::new(), "3", &[]).unwrap_err();
        assert!(e.is_throttling());
    }

    #[test]
    fn cookie_is_read_from_settings_or_file_trimmed_and_fingerprinted() {
        let rail = config::Rail {
            cookie: Some(SecretString::from("  Cookie: JSESSIONID=abc; tk=xyz \n")),
            cookie_file: None,
        };
        let (c, fp) = load_cookie(&rail).unwrap().unwrap();
        assert_eq!(c.expose_secret(), "JSESSIONID=abc; tk=xyz");
        assert_eq!(fp.len(), 16);
        assert!(!fp.contains("xyz"));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cookie.txt");
        std::fs::write(&path, "cookie: JSESSIONID=abc; tk=xyz\n").unwrap();
        let from_file = config::Rail {
            cookie: None,
            cookie_file: Some(path.clone()),
        };
        let (c2, fp2) = load_cookie(&from_file).unwrap().unwrap();
        assert_eq!(c2.expose_secret(), "JSESSIONID=abc; tk=xyz");
        assert_eq!(fp2, fp, "same cookie, same fingerprint");

        std::fs::write(&path, "JSESSIONID=abc; tk=new").unwrap();
        let (_, fp3) = load_cookie(&from_file).unwrap().unwrap();
        assert_ne!(fp3, fp, "a refreshed cookie is noticed");

        std::fs::write(&path, "  \n").unwrap();
        assert!(load_cookie(&from_file).unwrap().is_none());
        assert!(load_cookie(&config::Rail::default()).unwrap().is_none());

        let both = config::Rail {
            cookie: Some(SecretString::from("tk=1")),
            cookie_file: Some(path),
        };
        assert!(load_cookie(&both).is_err());
        let missing = config::Rail {
            cookie: None,
            cookie_file: Some(dir.path().join("nope")),
        };
        let e = load_cookie(&missing).unwrap_err();
        assert!(format!("{e:#}").contains("nope"));
    }

    #[test]
    fn a_cookie_that_cannot_be_a_header_is_refused_without_echoing_it() {
        let rail = config::Rail {
            cookie: Some(SecretString::from("tk=se\u{7}cret")),
            cookie_file: None,
        };
        let e = format!("{:#}", load_cookie(&rail).unwrap_err());
        assert!(!e.contains("cret"), "{e}");
    }

    #[test]
    fn only_a_login_page_means_the_session_expired() {
        let login = "<html><head><title>登录 | 客运服务</title></head><body><form action=\"/passport/web/login\"></form></body></html>";
        assert!(matches!(decode_queue(login), Ok(QueueAnswer::SessionExpired(_))));
        let other = "<html><body>系统维护中，请稍后再试</body></html>";
        assert!(
            matches!(decode_queue(other), Err(AfterNateError::Throttled { .. })),
            "a maintenance page says nothing about the session"
        );
    }

    #[tokio::test]
    async fn cookies_a_logged_in_answer_sets_never_reach_the_anonymous_session() {
        use axum::routing::{get, post};
        use std::sync::{Arc, Mutex};
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let record = seen.clone();
        let app = axum::Router::new()
            .route(
                QUEUE_PATH,
                post(|| async {
                    (
                        [(axum::http::header::SET_COOKIE, "uKey=LOGGED-IN-ONLY; Path=/")],
                        r#"{"status":true,"data":{"flag":true,"status":2,"isAsync":false},"messages":[]}"#,
                    )
                }),
            )
            .route(
                "/otn/leftTicket/init",
                get(move |headers: axum::http::HeaderMap| {
                    let record = record.clone();
                    async move {
                        let cookie = headers
                            .get(axum::http::header::COOKIE)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string();
                        record.lock().unwrap().push(cookie);
                        (
                            [(axum::http::header::SET_COOKIE, "JSESSIONID=anon; Path=/")],
                            "var CLeftTicketUrl = 'leftTicket/queryG';",
                        )
                    }
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let client = crate::rail::test_support::unpaced_client(format!("http://{addr}"));
        client.init().await.unwrap();
        let answer = client
            .query_waitlist(&SecretString::from("tk=user-session"))
            .await
            .unwrap();
        assert_eq!(answer, QueueAnswer::NoOrder);
        client.init().await.unwrap();
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 2);
        assert!(
            seen[1].contains("JSESSIONID=anon"),
            "the anonymous session keeps its own cookie: {seen:?}"
        );
        assert!(
            !seen[1].contains("LOGGED-IN-ONLY") && !seen[1].contains("user-session"),
            "nothing of the logged-in session reaches anonymous requests: {seen:?}"
        );
    }
}
