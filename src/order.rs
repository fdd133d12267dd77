//! 抢票 grab orders, the pure part: what to order from Juhe, and what each state change means.
//!
//! Money and real tickets are at stake, so everything that can be decided without I/O is decided
//! here and tested: the `outOrderNo` (the idempotency key, stored before `createOrder` is sent),
//! the `createOrder` parameters built from the watch and the Juhe search that found the train
//! (queryKey, station names and date must come from that one search), the rules Juhe enforces
//! (≥ 3 h before departure, ≤ 5 passengers, no student tickets), and the wording of every email.
//! The daemon (`daemon::grab`) does the calls and the storage.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::config;
use crate::juhe::{
    CreateOrder, JuhePassenger, OrderDetail, OrderStatus, SearchResult, TicketState, msg_code_text,
};
use crate::notify::EmailContent;
use crate::watchlist::{CloseTime, IdType, Watch};

/// Juhe refuses to grab for trains leaving sooner than this (msgCode 216).
pub const MIN_LEAD: TimeDelta = TimeDelta::hours(3);

/// A new idempotency key: `YP` + Beijing time to the second + 8 base-36 characters of `entropy`
/// (24 letters/digits, inside Juhe's 6–32). Pure: the caller passes the randomness.
pub fn new_out_order_no(now: DateTime<FixedOffset>, entropy: u64) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut tail = String::new();
    let mut e = entropy;
    for _ in 0..8 {
        tail.push(DIGITS[(e % 36) as usize] as char);
        e /= 36;
    }
    format!("YP{}{}", now.format("%y%m%d%H%M%S"), tail)
}

/// What an order is, without secrets: stored as the order's summary and shown by `orders`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderSummary {
    pub watch: String,
    pub date: NaiveDate,
    /// Main train first.
    pub trains: Vec<String>,
    /// Juhe seat codes, main class first.
    pub seats: Vec<String>,
    /// Chinese seat names, same order.
    pub seat_names: Vec<String>,
    pub from_station: String,
    pub to_station: String,
    /// Main train's departure, Beijing time.
    pub departs_at: NaiveDateTime,
    pub close_time: NaiveDateTime,
    pub accept_no_seat: bool,
    /// `张三 (成人, 身份证 1101***********514)`.
    pub passengers: Vec<String>,
    pub ticket_model: u8,
}

/// Why no order is placed (said in the log, `status` and an email).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrabRefusal {
    #[error("Juhe's search does not list {0} on this date; no order placed")]
    TrainNotOffered(String),
    #[error(
        "{train} leaves at {departs}, less than 3 hours from now: Juhe refuses such orders (msgCode 216)"
    )]
    TooLate { train: String, departs: NaiveDateTime },
    #[error("the grab deadline {0} is already past or leaves no time to grab")]
    DeadlinePassed(NaiveDateTime),
    #[error("[juhe] {0} is not set; Juhe needs it for every order")]
    MissingContact(&'static str),
    #[error("[juhe] ticket_model = 1 needs account_no and account_password (your 12306 account)")]
    MissingAccount,
    #[error("this watch is not a grab watch")]
    NotGrab,
}

/// `createOrder` parameters plus the summary to store.
#[derive(Debug, Clone)]
pub struct GrabPlan {
    pub create: CreateOrder,
    pub summary: OrderSummary,
}

/// Juhe's `idCardType` for a document type. The create page numbers from 0 (身份证 0, 护照 1,
/// 台胞证 2, 港澳通行证 3), the data dictionary from 1; `[juhe] id_card_type_for_resident_id`
/// says which numbering this account's Juhe uses, and the others follow it.
pub fn id_card_type(id: IdType, resident_code: &str) -> String {
    let base: u32 = resident_code.trim().parse().unwrap_or(1);
    let offset = match id {
        IdType::ResidentId => 0,
        IdType::Passport => 1,
        IdType::TaiwanPermit => 2,
        IdType::HkMacauPermit => 3,
    };
    (base + offset).to_string()
}

fn parse_hhmm(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()
}

/// Builds the order for (`watch`, `date`) from the Juhe `search` that lists its trains (pure).
pub fn plan_order(
    watch: &Watch,
    date: NaiveDate,
    search: &SearchResult,
    juhe: &config::Juhe,
    out_order_no: &str,
    now: DateTime<FixedOffset>,
) -> Result<GrabPlan, GrabRefusal> {
    let grab = watch.grab.as_ref().ok_or(GrabRefusal::NotGrab)?;
    let offered: Vec<&str> = search.trains.iter().map(|t| t.train_no.as_str()).collect();
    let wanted = watch
        .trains
        .iter()
        .find(|p| !p.prefix)
        .map(|p| p.text.clone())
        .unwrap_or_default();
    let choice = watch
        .juhe_choice(&offered)
        .ok_or_else(|| GrabRefusal::TrainNotOffered(wanted.clone()))?;
    let main = search
        .trains
        .iter()
        .find(|t| t.train_no.eq_ignore_ascii_case(&choice.main_train_no))
        .ok_or_else(|| GrabRefusal::TrainNotOffered(choice.main_train_no.clone()))?;
    let depart_time = parse_hhmm(&main.from_time).unwrap_or(NaiveTime::MIN);
    let departs_at = date.and_time(depart_time);
    let now_local = now.naive_local();
    if departs_at - now_local < MIN_LEAD {
        return Err(GrabRefusal::TooLate {
            train: main.train_no.clone(),
            departs: departs_at,
        });
    }
    let close_time = match grab.close {
        CloseTime::BeforeDeparture(d) => departs_at - TimeDelta::from_std(d).unwrap_or(MIN_LEAD),
        CloseTime::At(t) => t,
    };
    if close_time <= now_local {
        return Err(GrabRefusal::DeadlinePassed(close_time));
    }
    if juhe.person.trim().is_empty() {
        return Err(GrabRefusal::MissingContact("person"));
    }
    let cellphone = juhe
        .cellphone
        .clone()
        .ok_or(GrabRefusal::MissingContact("cellphone"))?;
    if cellphone.expose_secret().trim().is_empty() {
        return Err(GrabRefusal::MissingContact("cellphone"));
    }
    if juhe.ticket_model == 1 && (juhe.account_no.is_none() || juhe.account_password.is_none()) {
        return Err(GrabRefusal::MissingAccount);
    }
    let trains: Vec<String> = choice.train_no.split('|').map(str::to_string).collect();
    let seats: Vec<String> = choice.seat_class_code.split('|').map(str::to_string).collect();
    let alternatives = trains.len() > 1;
    let depart_date = if alternatives {
        departs_at.format("%Y-%m-%d %H:%M").to_string()
    } else {
        date.format("%Y-%m-%d").to_string()
    };
    let passengers: Vec<JuhePassenger> = grab
        .passengers
        .iter()
        .map(|p| JuhePassenger {
            name: p.name.clone(),
            passenger_type: p.kind.juhe_code(),
            id_card_type: id_card_type(p.id_type, &juhe.id_card_type_for_resident_id),
            id_card_no: SecretString::from(p.id_no.expose().to_string()),
            birthday: p.birthday.format("%Y-%m-%d").to_string(),
        })
        .collect();
    let summary = OrderSummary {
        watch: watch.name.clone(),
        date,
        trains: trains.clone(),
        seats: seats.clone(),
        seat_names: watch
            .seats
            .iter()
            .filter(|s| s.juhe_code().is_some())
            .map(|s| s.name().to_string())
            .collect(),
        from_station: main.from_station.clone(),
        to_station: main.to_station.clone(),
        departs_at,
        close_time,
        accept_no_seat: grab.accept_no_seat,
        passengers: grab
            .passengers
            .iter()
            .map(|p| {
                format!(
                    "{} ({}, {} {})",
                    p.name,
                    p.kind.name(),
                    p.id_type.name(),
                    p.id_no.masked()
                )
            })
            .collect(),
        ticket_model: juhe.ticket_model,
    };
    let create = CreateOrder {
        query_key: search.query_key.clone(),
        out_order_no: out_order_no.to_string(),
        ticket_model: juhe.ticket_model,
        account_no: juhe.account_no.clone(),
        account_pwd: juhe.account_password.clone(),
        train_no: trains,
        seat_class_code: seats,
        main_train_no: choice.main_train_no.clone(),
        main_seat_class: choice.main_seat_class.to_string(),
        from_station: main.from_station.clone(),
        to_station: main.to_station.clone(),
        depart_date,
        close_time,
        accept_no_seat: grab.accept_no_seat,
        person: juhe.person.clone(),
        cellphone,
        email: (!juhe.email.trim().is_empty()).then(|| juhe.email.clone()),
        passengers,
    };
    Ok(GrabPlan { create, summary })
}

/// What happened to an order, as the emails and the event history say it.
#[derive(Debug, Clone, PartialEq)]
pub enum OrderEvent {
    /// Juhe accepted `createOrder`.
    Created { order_no: String },
    /// Juhe refused `createOrder` for good.
    CreateRefused { reason: String },
    /// The order moved to a new Juhe status (D 抢票中, O 已过期, C 已取消…).
    Status { status: OrderStatus },
    /// 出票成功, with the issued view.
    Issued,
    /// 出票失败.
    Failed { reason: String },
    /// A passenger's ticket changed state (refund under way, refunded, refund refused).
    Ticket { passenger: String, state: TicketState },
}

impl OrderEvent {
    /// A short line for the event history.
    pub fn note(&self) -> String {
        match self {
            OrderEvent::Created { order_no } => format!("created (orderNo {order_no})"),
            OrderEvent::CreateRefused { reason } => format!("createOrder refused: {reason}"),
            OrderEvent::Status { status } => format!("{} {}", status.code(), status.label_zh()),
            OrderEvent::Issued => "F 出票成功".into(),
            OrderEvent::Failed { reason } => format!("U 出票失败: {reason}"),
            OrderEvent::Ticket { passenger, state } => format!("{passenger}: {}", state.label_zh()),
        }
    }
}

/// Juhe's reason for a failure, in words: its `failMsg`, or the msgCode table's text.
pub fn failure_reason(detail: &OrderDetail) -> String {
    let raw = detail.fail_msg.clone().unwrap_or_default();
    let trimmed = raw.trim();
    if let Some(text) = msg_code_text(trimmed) {
        return format!("{text}（{trimmed}）");
    }
    if trimmed.is_empty() {
        "聚合未说明原因".to_string()
    } else {
        trimmed.to_string()
    }
}

/// Compares a fresh `orderDetail` with the stored state; the events it means (pure).
pub fn assess(prev_state: &str, prev_detail: Option<&OrderDetail>, detail: &OrderDetail) -> Vec<OrderEvent> {
    let mut events = Vec::new();
    let new = &detail.status;
    if matches!(new, OrderStatus::Unknown(s) if s.is_empty()) {
        return events;
    }
    if new.code() != prev_state {
        events.push(match new {
            OrderStatus::Issued => OrderEvent::Issued,
            OrderStatus::Failed => OrderEvent::Failed {
                reason: failure_reason(detail),
            },
            other => OrderEvent::Status {
                status: other.clone(),
            },
        });
    }
    for p in &detail.passengers {
        let Some(state) = &p.ticket_state else { continue };
        let before = prev_detail.and_then(|d| {
            d.passengers
                .iter()
                .find(|q| q.passenger_id == p.passenger_id && q.passenger_id.is_some())
                .and_then(|q| q.ticket_state.clone())
        });
        let interesting = matches!(
            state,
            TicketState::Refunding | TicketState::Refunded | TicketState::RefundFailed
        );
        if interesting && before.as_ref() != Some(state) {
            let who = p
                .name
                .clone()
                .unwrap_or_else(|| p.passenger_id.clone().unwrap_or_default());
            events.push(OrderEvent::Ticket {
                passenger: who,
                state: state.clone(),
            });
        }
    }
    events
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn subject_for(event: &OrderEvent, s: &OrderSummary) -> String {
    let head = match event {
        OrderEvent::Created { .. } => "抢票单已创建".to_string(),
        OrderEvent::CreateRefused { .. } => "未能下单".to_string(),
        OrderEvent::Status { status } => status.label_zh().to_string(),
        OrderEvent::Issued => "出票成功".to_string(),
        OrderEvent::Failed { .. } => "出票失败".to_string(),
        OrderEvent::Ticket { state, .. } => state.label_zh().to_string(),
    };
    format!(
        "【抢票】{head} {} {}→{} {}",
        s.trains.first().map(String::as_str).unwrap_or(""),
        s.from_station,
        s.to_station,
        s.date.format("%m月%d日")
    )
}

/// The email for one order event (pure). ID numbers appear masked only; the summary never holds
/// them whole.
pub fn render_order_email(
    out_order_no: &str,
    summary: &OrderSummary,
    event: &OrderEvent,
    detail: Option<&OrderDetail>,
    now: DateTime<FixedOffset>,
) -> EmailContent {
    let subject = subject_for(event, summary);
    let mut lines: Vec<String> = Vec::new();
    let headline = match event {
        OrderEvent::Created { order_no } => {
            format!("聚合已接受抢票单（订单号 {order_no}），正在为你抢票。抢到或失败都会再通知你。")
        }
        OrderEvent::CreateRefused { reason } => format!("聚合拒绝了抢票单：{reason}。没有下单，也不会扣款。"),
        OrderEvent::Status { status } => match status {
            OrderStatus::Grabbing => "聚合正在抢票（抢票中）。".to_string(),
            OrderStatus::NotStarted => "还没到开抢时间，聚合会在开售后开始抢票。".to_string(),
            OrderStatus::Expired => "抢票单已过期：截止时间前没有抢到票。".to_string(),
            OrderStatus::Cancelled => "抢票单已取消。".to_string(),
            OrderStatus::Refunded => "车票已退。".to_string(),
            OrderStatus::Changed => "车票已改签。".to_string(),
            other => format!("抢票单状态：{}。", other.label_zh()),
        },
        OrderEvent::Issued => "出票成功！请核对下面的车次和座位。".to_string(),
        OrderEvent::Failed { reason } => format!("出票失败：{reason}。"),
        OrderEvent::Ticket { passenger, state } => format!("{passenger} 的车票：{}。", state.label_zh()),
    };
    lines.push(headline);
    lines.push(String::new());
    lines.push(format!("抢票单号：{out_order_no}"));
    lines.push(format!("监视：{}", summary.watch));
    lines.push(format!(
        "车次：{}（主选 {}）",
        summary.trains.join(" / "),
        summary.trains.first().map(String::as_str).unwrap_or("")
    ));
    lines.push(format!("席别：{}", summary.seat_names.join(" / ")));
    lines.push(format!(
        "行程：{} → {}，{} 出发",
        summary.from_station,
        summary.to_station,
        summary.departs_at.format("%Y-%m-%d %H:%M")
    ));
    lines.push(format!(
        "抢票截止：{}",
        summary.close_time.format("%Y-%m-%d %H:%M")
    ));
    lines.push(format!(
        "接受无座：{}",
        if summary.accept_no_seat { "是" } else { "否" }
    ));
    lines.push(format!("乘客：{}", summary.passengers.join("；")));
    if let Some(d) = detail
        && (matches!(event, OrderEvent::Issued) || d.ticket_no.is_some())
    {
        {
            if let Some(t) = &d.train_no {
                lines.push(format!("出票车次：{t}"));
            }
            if let Some(no) = &d.ticket_no {
                lines.push(format!("取票号（12306 订单号）：{no}"));
            }
            if let Some(price) = d.order_price {
                lines.push(format!("票款：¥{price:.1}"));
            }
            if let Some(fee) = d.juhe_service_fee {
                lines.push(format!("聚合服务费：¥{fee:.1}"));
            }
            for p in &d.passengers {
                let name = p.name.clone().unwrap_or_default();
                let seat = p.seat_no.clone().unwrap_or_else(|| "座位号未知".into());
                let class = p.seat_class_name.clone().unwrap_or_default();
                let state = p.ticket_state.as_ref().map(|s| s.label_zh()).unwrap_or("");
                let id = p
                    .passenger_id
                    .clone()
                    .map(|i| format!("，乘客编号 {i}"))
                    .unwrap_or_default();
                lines.push(format!("  {name} {class} {seat} {state}{id}"));
            }
        }
    }
    lines.push(String::new());
    let next = match event {
        OrderEvent::Issued => {
            "下一步：在 12306 App 的“本人车票”里核对；需要退票时运行 `yupiao orders refund 抢票单号 乘客编号`。"
        }
        OrderEvent::Created { .. }
        | OrderEvent::Status {
            status: OrderStatus::Grabbing | OrderStatus::NotStarted,
        } => "下一步：等待即可；要放弃时运行 `yupiao orders cancel 抢票单号`（抢票中才能取消）。",
        _ => "详情：运行 `yupiao orders show 抢票单号`。",
    };
    lines.push(next.to_string());
    lines.push(format!("（{} 由 yupiao 发送）", now.format("%Y-%m-%d %H:%M:%S")));
    let text = lines.join("\n") + "\n";
    let html = format!(
        "<html><body style=\"font-family:sans-serif\">{}</body></html>",
        lines
            .iter()
            .map(|l| if l.is_empty() {
                "<br>".to_string()
            } else {
                format!("<p style=\"margin:2px 0\">{}</p>", esc(l))
            })
            .collect::<String>()
    );
    EmailContent { subject, text, html }
}
