//! Pure decoders of Juhe's answers and pushes: text in, typed values out, no I/O.
//!
//! Juhe sends the same field as `1` or `"1"`, prices as `29.5` or `"9.00"`, `null`, `""` or
//! nothing for "no value", and the two views of `orderDetail` name the status differently
//! (`status` vs `orderStateCode`). Serde derives would turn each of those drifts into an outage,
//! so everything is read from a `serde_json::Value` with lenient accessors, and only the envelope
//! (`error_code`) and the identifiers the order flow keys on are required.
//!
//! ID numbers in answers and pushes are kept only masked ([`crate::juhe::mask_id`]): yupiao sent
//! them, it never needs them back, and these values end up in logs, the database and emails.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use super::error::{JuheError, ORDER_NOT_FOUND, msg_code_for_text};
use crate::identity::mask_id;
use crate::text::snippet;

// ---- lenient accessors ----------------------------------------------------------------------

/// A field as text: strings as they are, numbers and booleans printed; `null`, `""` and absent
/// are `None`.
fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A field as a number, from a JSON number or a numeric string.
fn number(v: &Value, key: &str) -> Option<f64> {
    match v.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A field as an integer, from a JSON number or a numeric string (`"490"`, `1`, `1.0`).
fn integer(v: &Value, key: &str) -> Option<i64> {
    match v.get(key)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => {
            let s = s.trim();
            s.parse().ok().or_else(|| s.parse::<f64>().ok().map(|f| f as i64))
        }
        _ => None,
    }
}

fn array<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// How much of a body an error message quotes ([`snippet`] masks the ID and phone numbers
/// pushes carry).
const QUOTED_CHARS: usize = 120;

// ---- envelope -------------------------------------------------------------------------------

/// Checks the envelope `{"reason", "result", "error_code"}` and returns `result` (or `data`,
/// which `addCallbackUrl` uses; `Null` when neither). `error_code != 0` becomes
/// [`JuheError::Api`], or [`JuheError::NotFound`] for a missing order.
pub fn envelope(body: &str) -> Result<Value, JuheError> {
    let v: Value = serde_json::from_str(body.trim_start_matches('\u{feff}'))
        .map_err(|e| JuheError::Decode(format!("not JSON ({e}): {}", snippet(body, QUOTED_CHARS))))?;
    if !v.is_object() {
        return Err(JuheError::Decode(format!(
            "not a JSON object: {}",
            snippet(body, QUOTED_CHARS)
        )));
    }
    let code = integer(&v, "error_code")
        .ok_or_else(|| JuheError::Decode(format!("no error_code: {}", snippet(body, QUOTED_CHARS))))?;
    let result = match v.get("result") {
        Some(r) if !r.is_null() => r.clone(),
        _ => v.get("data").cloned().unwrap_or(Value::Null),
    };
    if code == 0 {
        return Ok(result);
    }
    let reason = crate::identity::scrub_numbers(&text(&v, "reason").unwrap_or_default());
    // Where a msgCode may hide: next to error_code, inside result, or as the reason's wording.
    let msg_code = text(&v, "msgCode")
        .or_else(|| text(&result, "msgCode"))
        .or_else(|| msg_code_for_text(&reason).map(str::to_string));
    let missing_order = match msg_code.as_deref() {
        Some("201") => true,
        None => code == ORDER_NOT_FOUND,
        Some(_) => false,
    };
    if missing_order {
        return Err(JuheError::NotFound { reason });
    }
    Err(JuheError::Api {
        code,
        reason,
        msg_code,
    })
}

fn object(result: Value, what: &str) -> Result<Value, JuheError> {
    if result.is_object() {
        Ok(result)
    } else {
        Err(JuheError::Decode(format!("{what}: result is not an object")))
    }
}

fn required(v: &Value, key: &str, what: &str) -> Result<String, JuheError> {
    text(v, key).ok_or_else(|| JuheError::Decode(format!("{what}: no {key}")))
}

// ---- search ---------------------------------------------------------------------------------

/// `search.php`: the trains between two places on a date, and the `queryKey` an order for one of
/// them must carry.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResult {
    /// Ties a `createOrder` to this search (protocol doc §6.2: msgCode 215 = search again).
    pub query_key: String,
    pub trains: Vec<JuheTrain>,
}

/// One train of a search.
#[derive(Debug, Clone, PartialEq)]
pub struct JuheTrain {
    /// Station train code, `G7066`: what `createOrder` takes as `trainNo`.
    pub train_no: String,
    /// Chinese station names exactly as `createOrder` wants them back.
    pub from_station: String,
    pub to_station: String,
    /// `HH:MM` departure from `from_station`.
    pub from_time: String,
    /// `HH:MM` arrival at `to_station`.
    pub to_time: Option<String>,
    /// Duration in minutes (`runTimeSpan`).
    pub run_minutes: Option<i64>,
    /// 0 not bookable, 1 bookable, 2 nothing bookable, 3 leaves within half an hour.
    pub book_state: i64,
    /// `GD`, `D`, `KS`… (data dictionary `trainClass`).
    pub train_class: Option<String>,
    /// By `seatClassCode` (`secondseat`, `hardsleeperdown`…).
    pub tickets: BTreeMap<String, JuheTicket>,
}

impl JuheTrain {
    /// `bookState == 1`.
    pub fn is_bookable(&self) -> bool {
        self.book_state == 1
    }
}

/// One seat class of a searched train.
#[derive(Debug, Clone, PartialEq)]
pub struct JuheTicket {
    /// `二等座`.
    pub seat_name: Option<String>,
    /// Yuan.
    pub price: Option<f64>,
    /// 0 not bookable, 1 bookable.
    pub seat_state: i64,
    /// Seats left, when Juhe says.
    pub seats: Option<u32>,
}

/// Decodes a `search.php` answer.
pub fn decode_search(body: &str) -> Result<SearchResult, JuheError> {
    let r = object(envelope(body)?, "search")?;
    let query_key = required(&r, "queryKey", "search")?;
    let mut trains = Vec::new();
    for (i, t) in array(&r, "trains").iter().enumerate() {
        let what = format!("search trains[{i}]");
        let tickets = match t.get("tickets") {
            Some(Value::Object(m)) => m
                .iter()
                .map(|(code, v)| {
                    let ticket = JuheTicket {
                        seat_name: text(v, "seatName"),
                        price: number(v, "price"),
                        seat_state: integer(v, "seatState").unwrap_or(0),
                        seats: integer(v, "seats").and_then(|n| u32::try_from(n).ok()),
                    };
                    (code.clone(), ticket)
                })
                .collect(),
            _ => BTreeMap::new(),
        };
        trains.push(JuheTrain {
            train_no: required(t, "trainNo", &what)?,
            from_station: required(t, "fromStation", &what)?,
            to_station: required(t, "toStation", &what)?,
            from_time: text(t, "fromTime").unwrap_or_default(),
            to_time: text(t, "toTime"),
            run_minutes: integer(t, "runTimeSpan"),
            book_state: integer(t, "bookState").unwrap_or(0),
            train_class: text(t, "trainClass"),
            tickets,
        });
    }
    Ok(SearchResult { query_key, trains })
}

// ---- create, cancel, refund -----------------------------------------------------------------

/// `createOrder.php` accepted the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// Juhe's own number (`TFT583U752U210D284004800356`).
    pub order_no: String,
    /// Ours, echoed.
    pub out_order_no: String,
}

/// Decodes a `createOrder.php` answer.
pub fn decode_created(body: &str) -> Result<Created, JuheError> {
    let r = object(envelope(body)?, "createOrder")?;
    Ok(Created {
        order_no: required(&r, "orderNo", "createOrder")?,
        out_order_no: text(&r, "outOrderNo").unwrap_or_default(),
    })
}

/// Decodes a `cancelOrder.php` answer: Juhe's order number.
pub fn decode_cancelled(body: &str) -> Result<String, JuheError> {
    let r = envelope(body)?;
    Ok(text(&r, "orderNo").unwrap_or_default())
}

/// `applyRefundOrder.php` accepted the request; the outcome arrives as a type-2 push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundAccepted {
    pub order_no: String,
    pub passenger_id: String,
}

/// Decodes an `applyRefundOrder.php` answer.
pub fn decode_refund(body: &str) -> Result<RefundAccepted, JuheError> {
    let r = envelope(body)?;
    Ok(RefundAccepted {
        order_no: text(&r, "orderNo").unwrap_or_default(),
        passenger_id: text(&r, "passengerId").unwrap_or_default(),
    })
}

/// Decodes an answer whose only content is success (`addCallbackUrl.php`).
pub fn decode_ack(body: &str) -> Result<(), JuheError> {
    envelope(body).map(|_| ())
}

// ---- order detail ---------------------------------------------------------------------------

/// Order status (data dictionary `orderStatus`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum OrderStatus {
    /// N 抢票单已创建
    Created,
    /// B 未到开抢时间
    NotStarted,
    /// D 抢票中
    Grabbing,
    /// F 抢票成功(出票成功)
    Issued,
    /// U 出票失败
    Failed,
    /// O 已过期
    Expired,
    /// C 已取消
    Cancelled,
    /// T 已退票
    Refunded,
    /// E 已改签
    Changed,
    /// A code the dictionary does not list: store it and alert.
    Unknown(String),
}

impl OrderStatus {
    pub fn parse(code: &str) -> OrderStatus {
        match code.trim() {
            "N" => OrderStatus::Created,
            "B" => OrderStatus::NotStarted,
            "D" => OrderStatus::Grabbing,
            "F" => OrderStatus::Issued,
            "U" => OrderStatus::Failed,
            "O" => OrderStatus::Expired,
            "C" => OrderStatus::Cancelled,
            "T" => OrderStatus::Refunded,
            "E" => OrderStatus::Changed,
            other => OrderStatus::Unknown(other.to_string()),
        }
    }

    /// The one-letter wire code.
    pub fn code(&self) -> &str {
        match self {
            OrderStatus::Created => "N",
            OrderStatus::NotStarted => "B",
            OrderStatus::Grabbing => "D",
            OrderStatus::Issued => "F",
            OrderStatus::Failed => "U",
            OrderStatus::Expired => "O",
            OrderStatus::Cancelled => "C",
            OrderStatus::Refunded => "T",
            OrderStatus::Changed => "E",
            OrderStatus::Unknown(c) => c,
        }
    }

    /// Nothing more will happen to this order: stop polling. An issued order (F) is not final
    /// (it may still be refunded or changed); a refunded one (T) is.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            OrderStatus::Failed | OrderStatus::Expired | OrderStatus::Cancelled | OrderStatus::Refunded
        )
    }

    /// Juhe is still trying (N, B, D): the only states `cancelOrder` accepts.
    pub fn is_cancellable(&self) -> bool {
        matches!(
            self,
            OrderStatus::Created | OrderStatus::NotStarted | OrderStatus::Grabbing
        )
    }

    /// A ticket was issued at some point (F, or its later T / E).
    pub fn has_tickets(&self) -> bool {
        matches!(
            self,
            OrderStatus::Issued | OrderStatus::Refunded | OrderStatus::Changed
        )
    }

    /// The dictionary's Chinese text.
    pub fn label_zh(&self) -> &'static str {
        match self {
            OrderStatus::Created => "抢票单已创建",
            OrderStatus::NotStarted => "未到开抢时间",
            OrderStatus::Grabbing => "抢票中",
            OrderStatus::Issued => "抢票成功(出票成功)",
            OrderStatus::Failed => "出票失败",
            OrderStatus::Expired => "已过期",
            OrderStatus::Cancelled => "已取消",
            OrderStatus::Refunded => "已退票",
            OrderStatus::Changed => "已改签",
            OrderStatus::Unknown(_) => "未知状态",
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code(), self.label_zh())
    }
}

/// Ticket state of one passenger (data dictionary `ticketStateCode`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum TicketState {
    /// N 未出票
    NotIssued,
    /// F 已出票
    Issued,
    /// C 退票中
    Refunding,
    /// T 已退票
    Refunded,
    /// O 退票失败
    RefundFailed,
    /// Y 改签中
    Changing,
    /// G 已改签
    Changed,
    Unknown(String),
}

impl TicketState {
    pub fn parse(code: &str) -> TicketState {
        match code.trim() {
            "N" => TicketState::NotIssued,
            "F" => TicketState::Issued,
            "C" => TicketState::Refunding,
            "T" => TicketState::Refunded,
            "O" => TicketState::RefundFailed,
            "Y" => TicketState::Changing,
            "G" => TicketState::Changed,
            other => TicketState::Unknown(other.to_string()),
        }
    }

    pub fn code(&self) -> &str {
        match self {
            TicketState::NotIssued => "N",
            TicketState::Issued => "F",
            TicketState::Refunding => "C",
            TicketState::Refunded => "T",
            TicketState::RefundFailed => "O",
            TicketState::Changing => "Y",
            TicketState::Changed => "G",
            TicketState::Unknown(c) => c,
        }
    }

    /// The dictionary's Chinese text.
    pub fn label_zh(&self) -> &'static str {
        match self {
            TicketState::NotIssued => "未出票",
            TicketState::Issued => "已出票",
            TicketState::Refunding => "退票中",
            TicketState::Refunded => "已退票",
            TicketState::RefundFailed => "退票失败",
            TicketState::Changing => "改签中",
            TicketState::Changed => "已改签",
            TicketState::Unknown(_) => "未知状态",
        }
    }
}

impl fmt::Display for TicketState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code(), self.label_zh())
    }
}

/// `orderDetail.php`, either view: without `issue` (grab status, `failMsg`) or with `issue=1`
/// (tickets, `passengerId`s for refunds). Fields the view lacks are `None`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OrderDetail {
    /// `status`, or `orderStateCode` in the issued view; `Unknown("")` when neither is sent.
    pub status: OrderStatus,
    pub order_no: Option<String>,
    pub out_order_no: Option<String>,
    pub train_no: Option<String>,
    /// Chinese seat name in the plain view (`硬座`).
    pub seat_class: Option<String>,
    pub from_station: Option<String>,
    pub to_station: Option<String>,
    /// `departDate` / `departureTime` as sent (`2016-12-30T02:29:00`, `2016-12-29 03:34:00`).
    pub depart_time: Option<String>,
    /// When Juhe stops trying (`2016-11-30T18:00:00`).
    pub grab_end_time: Option<String>,
    /// Why it failed (`failMsg`, or `failureReason` in the issued view).
    pub fail_msg: Option<String>,
    /// Raw `orderStateCode` (issued view only).
    pub order_state_code: Option<String>,
    /// `orderState`, Juhe's Chinese text (`已出票`).
    pub order_state: Option<String>,
    /// 12306 ticket (order) number, `E345091034`.
    pub ticket_no: Option<String>,
    /// Yuan.
    pub order_price: Option<f64>,
    pub issue_time: Option<String>,
    pub passengers: Vec<DetailPassenger>,
    /// Yuan.
    pub juhe_service_fee: Option<f64>,
}

/// One passenger of an order detail.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DetailPassenger {
    /// Needed to refund this passenger's ticket; issued view only.
    pub passenger_id: Option<String>,
    pub name: Option<String>,
    /// 1 adult, 2 child.
    pub passenger_type: Option<String>,
    /// `idType` as echoed (see the ID-type note in protocol doc §6.2).
    pub id_type: Option<String>,
    /// The ID number, masked (`idCard` / `certificateNo`).
    pub id_masked: Option<String>,
    /// `hardseat`, and its Chinese name.
    pub seat_class: Option<String>,
    pub seat_class_name: Option<String>,
    /// `07车厢,009号`.
    pub seat_no: Option<String>,
    /// Per-passenger ticket number (`pTicketNo`).
    pub ticket_no: Option<String>,
    pub ticket_state: Option<TicketState>,
    /// Yuan.
    pub ticket_price: Option<f64>,
}

/// Decodes an `orderDetail.php` answer (either view).
pub fn decode_order_detail(body: &str) -> Result<OrderDetail, JuheError> {
    let r = object(envelope(body)?, "orderDetail")?;
    let order_state_code = text(&r, "orderStateCode");
    let status = text(&r, "status")
        .or_else(|| order_state_code.clone())
        .map_or_else(|| OrderStatus::Unknown(String::new()), |c| OrderStatus::parse(&c));
    let passengers = array(&r, "passengers")
        .iter()
        .map(|p| DetailPassenger {
            passenger_id: text(p, "passengerId"),
            name: text(p, "passengerName"),
            passenger_type: text(p, "passengerType"),
            id_type: text(p, "idType").or_else(|| text(p, "idCardType")),
            id_masked: text(p, "idCard")
                .or_else(|| text(p, "certificateNo"))
                .or_else(|| text(p, "idCardNo"))
                .map(|s| mask_id(&s)),
            seat_class: text(p, "seatClass"),
            seat_class_name: text(p, "seatClassName"),
            seat_no: text(p, "seatNo"),
            ticket_no: text(p, "pTicketNo"),
            ticket_state: text(p, "ticketStateCode").map(|c| TicketState::parse(&c)),
            ticket_price: number(p, "ticketPrice"),
        })
        .collect();
    Ok(OrderDetail {
        status,
        order_no: text(&r, "orderNo"),
        out_order_no: text(&r, "outOrderNo"),
        train_no: text(&r, "trainNo"),
        seat_class: text(&r, "seatClass"),
        from_station: text(&r, "fromStation"),
        to_station: text(&r, "toStation"),
        depart_time: text(&r, "departureTime").or_else(|| text(&r, "departDate")),
        grab_end_time: text(&r, "grabEndTime"),
        fail_msg: text(&r, "failMsg")
            .or_else(|| text(&r, "failureReason"))
            .map(|m| crate::identity::scrub_numbers(&m)),
        order_state_code,
        order_state: text(&r, "orderState"),
        ticket_no: text(&r, "ticketNo"),
        order_price: number(&r, "orderPrice"),
        issue_time: text(&r, "issueTime"),
        passengers,
        juhe_service_fee: number(&r, "juheServiceFee"),
    })
}

// ---- pushes ---------------------------------------------------------------------------------

/// A push Juhe sent to one of our callback URLs. Unsigned and overloaded ("101" means both
/// 出票失败 and 抢票单过期): a hint to ask `orderDetail`, never proof (protocol doc §6.4).
#[derive(Debug, Clone, PartialEq)]
pub struct Push {
    /// 1 占座+出票 result, 2 退票退款, 3 抢票过期: the URL it arrived on says which.
    pub kind: u8,
    pub order_no: Option<String>,
    pub out_order_no: String,
    /// `100` success; anything else see [`crate::juhe::msg_code_text`].
    pub msg_code: String,
    pub msg_info: Option<String>,
    /// "姓名|证件号,…": the passengers a failure concerns (ID numbers masked).
    pub msg_detail: Option<String>,
    pub train_no: Option<String>,
    pub from_station: Option<String>,
    pub to_station: Option<String>,
    pub departure_time: Option<String>,
    pub ticket_no: Option<String>,
    /// Yuan (type 1).
    pub order_amount: Option<f64>,
    pub issue_time: Option<String>,
    /// Yuan (type 2).
    pub refund_price: Option<f64>,
    pub refund_type: Option<String>,
    pub refund_time: Option<String>,
    pub passengers: Vec<PushPassenger>,
    pub juhe_service_fee: Option<f64>,
}

/// One passenger of a push.
#[derive(Debug, Clone, PartialEq)]
pub struct PushPassenger {
    pub passenger_id: Option<String>,
    pub name: Option<String>,
    pub passenger_type: Option<String>,
    /// `cardNo`, masked.
    pub id_masked: Option<String>,
    /// Numeric push seat class (data dictionary `seatClass`: 4 二等座…).
    pub seat_class: Option<String>,
    pub seat_no: Option<String>,
    pub ticket_no: Option<String>,
    /// Yuan.
    pub price: Option<f64>,
    /// Yuan (type 2).
    pub refund_price: Option<f64>,
}

impl Push {
    /// Stable identity of a push for deduplication: Juhe re-sends, and a forged copy of a
    /// handled push must not act twice.
    pub fn dedupe_key(&self) -> String {
        let base = format!("{}:{}:{}", self.out_order_no, self.kind, self.msg_code);
        if self.kind != 2 {
            return base;
        }
        // Refunds are per passenger: two passengers' refund pushes are two different events.
        let mut ids: Vec<&str> = self
            .passengers
            .iter()
            .filter_map(|p| p.passenger_id.as_deref())
            .collect();
        ids.sort_unstable();
        format!("{base}:{}", ids.join(","))
    }

    /// `msgCode == "100"`.
    pub fn is_success(&self) -> bool {
        self.msg_code == "100"
    }
}

/// Decodes a push body arriving on the callback URL registered for `kind` (1, 2 or 3). Accepts
/// the JSON of seed 001, a form whose single field holds that JSON, or a flat form (with
/// `passengers` as a JSON string).
pub fn decode_push(kind: u8, body: &str) -> Result<Push, JuheError> {
    if !(1..=3).contains(&kind) {
        return Err(JuheError::Decode(format!("push type {kind} is not 1, 2 or 3")));
    }
    let v = push_value(body)?;
    let out_order_no = text(&v, "outOrderNo").ok_or_else(|| {
        JuheError::Decode(format!(
            "push without outOrderNo: {}",
            snippet(body, QUOTED_CHARS)
        ))
    })?;
    let msg_code = text(&v, "msgCode")
        .ok_or_else(|| JuheError::Decode(format!("push without msgCode: {}", snippet(body, QUOTED_CHARS))))?;
    let passengers = array(&v, "passengers")
        .iter()
        .map(|p| PushPassenger {
            passenger_id: text(p, "passengerId"),
            name: text(p, "passengerName"),
            passenger_type: text(p, "passengerType"),
            id_masked: text(p, "cardNo").map(|s| mask_id(&s)),
            seat_class: text(p, "seatClass"),
            seat_no: text(p, "seatNo"),
            ticket_no: text(p, "pTicketNo"),
            price: number(p, "price"),
            refund_price: number(p, "refundPrice"),
        })
        .collect();
    let msg_detail = text(&v, "msgDetail").map(|d| mask_msg_detail(&d));
    Ok(Push {
        kind,
        order_no: text(&v, "orderNo"),
        out_order_no,
        msg_code,
        msg_info: text(&v, "msgInfo").map(|m| crate::identity::scrub_numbers(&m)),
        msg_detail,
        train_no: text(&v, "trainNo"),
        from_station: text(&v, "fromStation"),
        to_station: text(&v, "toStation"),
        departure_time: text(&v, "departureTime"),
        ticket_no: text(&v, "ticketNo"),
        order_amount: number(&v, "orderAmount"),
        issue_time: text(&v, "issueTime"),
        refund_price: number(&v, "refundPrice"),
        refund_type: text(&v, "refundType"),
        refund_time: text(&v, "refundTime"),
        passengers,
        juhe_service_fee: number(&v, "juheServiceFee"),
    })
}

/// "姓名|证件号,姓名|证件号" with each ID number masked.
fn mask_msg_detail(detail: &str) -> String {
    detail
        .split(',')
        .map(|entry| match entry.split_once('|') {
            Some((name, id)) => format!("{name}|{}", mask_id(id)),
            None => entry.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn push_value(body: &str) -> Result<Value, JuheError> {
    let t = body.trim().trim_start_matches('\u{feff}');
    if t.starts_with('{') {
        return serde_json::from_str(t).map_err(|e| {
            JuheError::Decode(format!("push is not JSON ({e}): {}", snippet(body, QUOTED_CHARS)))
        });
    }
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(t.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if let [(_, value)] = pairs.as_slice()
        && value.trim_start().starts_with('{')
    {
        return serde_json::from_str(value).map_err(|e| {
            JuheError::Decode(format!(
                "push field is not JSON ({e}): {}",
                snippet(body, QUOTED_CHARS)
            ))
        });
    }
    if pairs.is_empty() {
        return Err(JuheError::Decode("empty push body".into()));
    }
    let mut map = Map::new();
    for (k, v) in pairs {
        let value = if v.trim_start().starts_with('[') {
            serde_json::from_str(&v).unwrap_or(Value::String(v))
        } else {
            Value::String(v)
        };
        map.insert(k, value);
    }
    Ok(Value::Object(map))
}
