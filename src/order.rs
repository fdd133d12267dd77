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
use crate::notify::render::escape;
use crate::watchlist::{IdType, Watch};

/// Event notes the daemon reads back from an order's history (written by `yupiao orders`).
pub const CANCEL_REQUESTED: &str = "cancel requested";
pub const REFUND_REQUESTED: &str = "refund requested";

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
    let close_time = grab.close.deadline(departs_at);
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

/// Text and HTML parts from the same lines (an empty line is a paragraph break).
fn email_from_lines(subject: String, lines: &[String]) -> EmailContent {
    let text = lines.join("\n") + "\n";
    let html = format!(
        "<html><body style=\"font-family:sans-serif\">{}</body></html>",
        lines
            .iter()
            .map(|l| if l.is_empty() {
                "<br>".to_string()
            } else {
                format!("<p style=\"margin:2px 0\">{}</p>", escape(l))
            })
            .collect::<String>()
    );
    EmailContent { subject, text, html }
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
        crate::notify::render::month_day(s.date)
    )
}

/// The email saying that seats appeared but no order could be placed, and why (pure). There is
/// no order yet, so it names what the watch asked for.
pub fn render_refusal(
    watch: &Watch,
    date: NaiveDate,
    refusal: &GrabRefusal,
    now: DateTime<FixedOffset>,
) -> EmailContent {
    let trains: Vec<&str> = watch.trains.iter().map(|t| t.text.as_str()).collect();
    let subject = format!(
        "【抢票】未能下单 {} {}→{} {}",
        trains.first().copied().unwrap_or(""),
        watch.from.name,
        watch.to.name,
        crate::notify::render::month_day(date)
    );
    let passengers: Vec<String> = watch
        .grab
        .as_ref()
        .map(|g| {
            g.passengers
                .iter()
                .map(|p| format!("{} ({})", p.name, p.id_no.masked()))
                .collect()
        })
        .unwrap_or_default();
    let lines = [
        format!("有余票，但没有下抢票单：{refusal}。"),
        String::new(),
        format!("监视：{}", watch.name),
        format!("日期：{}", date.format("%Y-%m-%d")),
        format!("车次：{}", trains.join(" / ")),
        format!("席别：{}", watch.seats.iter().map(|s| s.name()).collect::<Vec<_>>().join(" / ")),
        format!("乘客：{}", passengers.join("；")),
        String::new(),
        "下一步：可以到 12306 自己购票；修改 yupiao.toml 的 [juhe] 设置或 watchlist.toml 后，下次有票时会再试。".to_string(),
        format!("（{} 由 yupiao 发送）", now.format("%Y-%m-%d %H:%M:%S")),
    ];
    email_from_lines(subject, &lines)
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
    let refund_ids: Vec<String> = detail
        .map(|d| {
            d.passengers
                .iter()
                .filter_map(|p| p.passenger_id.clone())
                .collect()
        })
        .unwrap_or_default();
    let next = match event {
        OrderEvent::Issued => format!(
            "下一步：在 12306 App 的“本人车票”里核对；需要退票时运行 `yupiao orders refund {out_order_no} {}`（每位乘客一次）。",
            refund_ids.first().map(String::as_str).unwrap_or("乘客编号")
        ),
        OrderEvent::Created { .. }
        | OrderEvent::Status {
            status: OrderStatus::Grabbing | OrderStatus::NotStarted,
        } => {
            format!(
                "下一步：等待即可；要放弃时运行 `yupiao orders cancel {out_order_no}`（抢票中才能取消）。"
            )
        }
        _ => format!("详情：运行 `yupiao orders show {out_order_no}`。"),
    };
    lines.push(next);
    lines.push(format!("（{} 由 yupiao 发送）", now.format("%Y-%m-%d %H:%M:%S")));
    email_from_lines(subject, &lines)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::TimeZone as _;
    use secrecy::SecretString;
    use serde_json::json;

    use super::*;
    use crate::juhe::decode::decode_order_detail;
    use crate::juhe::{JuheTicket, JuheTrain, mask_id};
    use crate::stations::StationTable;
    use crate::watchlist::{self, Watch};

    /// Checksum-valid (GB 11643), synthetic.
    const ID: &str = "110101199003074514";
    const ID_MASKED: &str = "1101***********514";

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).expect("date")
    }

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 1).expect("date")
    }

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time")
    }

    /// Beijing time.
    fn bj(s: &str) -> DateTime<FixedOffset> {
        FixedOffset::east_opt(8 * 3600)
            .expect("offset")
            .from_local_datetime(&at(s))
            .single()
            .expect("unambiguous")
    }

    fn now() -> DateTime<FixedOffset> {
        bj("2026-11-22 08:00")
    }

    /// One grab watch, 上海 → 常州 on [`date`], with `trains`, `seats` and `extra` keys verbatim.
    fn watch(trains: &str, seats: &str, extra: &str, passengers: &str) -> Watch {
        let text = format!(
            "[[watch]]\nname = \"回家\"\nfrom = \"上海\"\nto = \"常州\"\ndates = [\"2026-12-01\"]\ntrains = {trains}\nseats = {seats}\naction = \"grab\"\n{extra}\n{passengers}"
        );
        let (list, _) = watchlist::parse(&text, "watchlist.toml", today(), StationTable::embedded())
            .unwrap_or_else(|e| panic!("the test watch list is invalid: {e:#?}\n{text}"));
        list.watches.into_iter().next().expect("one watch")
    }

    fn zhang_san() -> String {
        format!("[[watch.passenger]]\nname = \"张三\"\nid_no = \"{ID}\"\n")
    }

    fn g8294() -> Watch {
        watch("[\"G8294\"]", "[\"二等座\"]", "", &zhang_san())
    }

    fn train(code: &str, from: &str, to: &str, from_time: &str) -> JuheTrain {
        let mut tickets = BTreeMap::new();
        for (code, name, price) in [("secondseat", "二等座", 91.0), ("firstseat", "一等座", 146.0)] {
            tickets.insert(
                code.to_string(),
                JuheTicket {
                    seat_name: Some(name.into()),
                    price: Some(price),
                    seat_state: 1,
                    seats: Some(3),
                },
            );
        }
        JuheTrain {
            train_no: code.into(),
            from_station: from.into(),
            to_station: to.into(),
            from_time: from_time.into(),
            to_time: None,
            run_minutes: None,
            book_state: 1,
            train_class: Some("GD".into()),
            tickets,
        }
    }

    fn search() -> SearchResult {
        SearchResult {
            query_key: "qk-0123456789abcdef".into(),
            trains: vec![
                train("G7001", "上海", "常州", "07:10"),
                train("G8294", "上海虹桥", "常州", "14:44"),
                train("G1", "上海虹桥", "北京南", "09:00"),
            ],
        }
    }

    fn juhe() -> config::Juhe {
        config::Juhe {
            person: "张三".into(),
            cellphone: Some(SecretString::from("13812345678")),
            ..config::Juhe::default()
        }
    }

    const OUT: &str = "YP261122080000ABCDEFGH";

    #[test]
    fn the_plan_carries_the_search_and_the_watch_exactly() {
        let plan = plan_order(&g8294(), date(), &search(), &juhe(), OUT, now()).expect("a plan");
        let c = &plan.create;
        assert_eq!(c.query_key, "qk-0123456789abcdef", "the queryKey of this search");
        assert_eq!(c.out_order_no, OUT);
        assert_eq!(c.ticket_model, 0);
        assert_eq!(c.train_no, vec!["G8294".to_string()]);
        assert_eq!(c.seat_class_code, vec!["secondseat".to_string()]);
        assert_eq!(c.main_train_no, "G8294");
        assert_eq!(c.main_seat_class, "secondseat");
        assert_eq!(
            (c.from_station.as_str(), c.to_station.as_str()),
            ("上海虹桥", "常州"),
            "station names as the search gave them, not as the watch wrote them"
        );
        assert_eq!(c.depart_date, "2026-12-01", "no alternatives: the date alone");
        assert_eq!(
            c.close_time,
            at("2026-12-01 11:44"),
            "default deadline: 3 h before departure"
        );
        assert!(!c.accept_no_seat);
        assert_eq!(c.person, "张三");
        assert_eq!(c.cellphone.expose_secret(), "13812345678");
        assert_eq!(c.email, None);
        assert_eq!(c.passengers.len(), 1);
        let p = &c.passengers[0];
        assert_eq!(p.name, "张三");
        assert_eq!(p.passenger_type, 1);
        assert_eq!(
            p.id_card_type, "1",
            "身份证 in the dictionary's numbering (default)"
        );
        assert_eq!(p.id_card_no.expose_secret(), ID, "Juhe needs the whole number");
        assert_eq!(p.birthday, "1990-03-07");

        let s = &plan.summary;
        assert_eq!(s.watch, "回家");
        assert_eq!(s.date, date());
        assert_eq!(s.trains, vec!["G8294".to_string()]);
        assert_eq!(s.seats, vec!["secondseat".to_string()]);
        assert_eq!(s.seat_names, vec!["二等座".to_string()]);
        assert_eq!(s.departs_at, at("2026-12-01 14:44"));
        assert_eq!(s.close_time, at("2026-12-01 11:44"));
        assert_eq!(s.passengers, vec![format!("张三 (成人, 身份证 {ID_MASKED})")]);
        let stored = serde_json::to_string(s).expect("serializes");
        assert!(
            !stored.contains(ID),
            "the stored summary holds no whole ID: {stored}"
        );
        assert!(!stored.contains("13812345678"), "nor the phone: {stored}");
    }

    #[test]
    fn alternatives_put_the_main_train_first_and_send_its_departure_time() {
        let w = watch(
            "[\"G8294\", \"G7001\"]",
            "[\"二等座\", \"一等座\"]",
            "accept_no_seat = false\nclose_time = \"6h\"\n",
            &zhang_san(),
        );
        let plan = plan_order(&w, date(), &search(), &juhe(), OUT, now()).expect("a plan");
        let c = &plan.create;
        assert_eq!(c.train_no, vec!["G8294".to_string(), "G7001".to_string()]);
        assert_eq!(
            create_param(c, "trainNo"),
            "G8294|G7001",
            "joined by | with the main train first"
        );
        assert_eq!(create_param(c, "seatClassCode"), "secondseat|firstseat");
        assert_eq!(c.main_train_no, "G8294");
        assert_eq!(c.main_seat_class, "secondseat");
        assert_eq!(
            c.depart_date, "2026-12-01 14:44",
            "with alternatives: the main train's departure"
        );
        assert_eq!(c.close_time, at("2026-12-01 08:44"), "close_time = \"6h\"");
        assert_eq!(
            plan.summary.seat_names,
            vec!["二等座".to_string(), "一等座".to_string()]
        );

        // The main train does not run: the first listed one that does becomes main.
        let mut only_g7001 = search();
        only_g7001.trains.retain(|t| t.train_no != "G8294");
        let plan = plan_order(&w, date(), &only_g7001, &juhe(), OUT, now()).expect("a plan");
        assert_eq!(plan.create.train_no, vec!["G7001".to_string()]);
        assert_eq!(plan.create.main_train_no, "G7001");
        assert_eq!(plan.create.depart_date, "2026-12-01", "a single train again");
        assert_eq!(plan.create.from_station, "上海");
        assert_eq!(plan.summary.departs_at, at("2026-12-01 07:10"));
    }

    fn create_param(c: &CreateOrder, name: &str) -> String {
        crate::juhe::create_params(c)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no {name} parameter"))
    }

    #[test]
    fn id_card_types_follow_the_configured_numbering() {
        let dictionary = [
            (IdType::ResidentId, "1"),
            (IdType::Passport, "2"),
            (IdType::TaiwanPermit, "3"),
            (IdType::HkMacauPermit, "4"),
        ];
        for (t, code) in dictionary {
            assert_eq!(id_card_type(t, "1"), code, "{t} from 1");
        }
        let create_page = [
            (IdType::ResidentId, "0"),
            (IdType::Passport, "1"),
            (IdType::TaiwanPermit, "2"),
            (IdType::HkMacauPermit, "3"),
        ];
        for (t, code) in create_page {
            assert_eq!(id_card_type(t, "0"), code, "{t} from 0");
            assert_eq!(id_card_type(t, " 0 "), code, "{t} from 0, spaces trimmed");
        }
        assert_eq!(
            id_card_type(IdType::Passport, "junk"),
            "2",
            "unreadable: the dictionary's 1"
        );
    }

    #[test]
    fn passengers_are_mapped_in_order_with_either_numbering() {
        let people = format!(
            "{}[[watch.passenger]]\nname = \"JOHN SMITH\"\nid_type = \"护照\"\nid_no = \"E12345678\"\nbirthday = \"1985-06-15\"\n",
            zhang_san()
        );
        let w = watch("[\"G8294\"]", "[\"二等座\"]", "", &people);
        for (base, resident, passport) in [("1", "1", "2"), ("0", "0", "1")] {
            let j = config::Juhe {
                id_card_type_for_resident_id: base.into(),
                ..juhe()
            };
            let plan = plan_order(&w, date(), &search(), &j, OUT, now()).expect("a plan");
            let got: Vec<(String, u8, String, String, String)> = plan
                .create
                .passengers
                .iter()
                .map(|p| {
                    (
                        p.name.clone(),
                        p.passenger_type,
                        p.id_card_type.clone(),
                        p.id_card_no.expose_secret().to_string(),
                        p.birthday.clone(),
                    )
                })
                .collect();
            assert_eq!(
                got,
                vec![
                    ("张三".into(), 1, resident.into(), ID.into(), "1990-03-07".into()),
                    (
                        "JOHN SMITH".into(),
                        1,
                        passport.into(),
                        "E12345678".into(),
                        "1985-06-15".into()
                    ),
                ],
                "base {base}"
            );
        }
        let json = create_param(
            &plan_order(&w, date(), &search(), &juhe(), OUT, now())
                .expect("a plan")
                .create,
            "passengers",
        );
        let v: serde_json::Value = serde_json::from_str(&json).expect("passengers is JSON");
        assert_eq!(v[0]["passengerName"], "张三");
        assert_eq!(v[0]["passengerType"], "1");
        assert_eq!(v[0]["idCardType"], "1");
        assert_eq!(v[0]["idCardNo"], ID);
        assert_eq!(v[1]["idCardType"], "2");
    }

    #[test]
    fn an_absolute_deadline_later_than_three_hours_before_departure_is_brought_forward() {
        // watchlist::CloseTime::deadline: "an absolute time later than MIN_CLOSE_BEFORE before
        // departure is brought forward to it: Juhe stops grabbing then anyway". A deadline
        // after departure would even make Juhe refuse the order (closeTime must be before it).
        for written in ["2026-12-01 14:00", "2026-12-01 20:00"] {
            let w = watch(
                "[\"G8294\"]",
                "[\"二等座\"]",
                &format!("close_time = \"{written}\"\n"),
                &zhang_san(),
            );
            let plan = plan_order(&w, date(), &search(), &juhe(), OUT, now()).expect("a plan");
            assert_eq!(
                plan.create.close_time,
                at("2026-12-01 11:44"),
                "close_time = {written:?} for a train leaving at 14:44"
            );
        }
        let early = watch(
            "[\"G8294\"]",
            "[\"二等座\"]",
            "close_time = \"2026-11-30 18:00\"\n",
            &zhang_san(),
        );
        let plan = plan_order(&early, date(), &search(), &juhe(), OUT, now()).expect("a plan");
        assert_eq!(
            plan.create.close_time,
            at("2026-11-30 18:00"),
            "earlier ones stay"
        );
    }

    #[test]
    fn orders_juhe_would_refuse_are_not_planned() {
        let w = g8294();
        // 14:44 departure: 11:45 is 2 h 59 min before it.
        let refusal =
            plan_order(&w, date(), &search(), &juhe(), OUT, bj("2026-12-01 11:45")).expect_err("too late");
        assert_eq!(
            refusal,
            GrabRefusal::TooLate {
                train: "G8294".into(),
                departs: at("2026-12-01 14:44")
            }
        );
        assert!(refusal.to_string().contains("216"), "{refusal}");
        assert!(
            plan_order(&w, date(), &search(), &juhe(), OUT, bj("2026-12-01 11:43")).is_ok(),
            "3 h 1 min before departure is fine"
        );

        let early = watch(
            "[\"G8294\"]",
            "[\"二等座\"]",
            "close_time = \"2026-11-30 18:00\"\n",
            &zhang_san(),
        );
        assert_eq!(
            plan_order(&early, date(), &search(), &juhe(), OUT, bj("2026-11-30 18:30"))
                .expect_err("deadline passed"),
            GrabRefusal::DeadlinePassed(at("2026-11-30 18:00"))
        );

        let no_person = config::Juhe {
            person: "  ".into(),
            ..juhe()
        };
        assert_eq!(
            plan_order(&w, date(), &search(), &no_person, OUT, now()).expect_err("no person"),
            GrabRefusal::MissingContact("person")
        );
        for cellphone in [None, Some(SecretString::from(" "))] {
            let no_phone = config::Juhe { cellphone, ..juhe() };
            assert_eq!(
                plan_order(&w, date(), &search(), &no_phone, OUT, now()).expect_err("no phone"),
                GrabRefusal::MissingContact("cellphone")
            );
        }
        let own_account = config::Juhe {
            ticket_model: 1,
            ..juhe()
        };
        assert_eq!(
            plan_order(&w, date(), &search(), &own_account, OUT, now()).expect_err("no account"),
            GrabRefusal::MissingAccount
        );

        let mut elsewhere = search();
        elsewhere.trains.retain(|t| t.train_no != "G8294");
        assert_eq!(
            plan_order(&w, date(), &elsewhere, &juhe(), OUT, now()).expect_err("not offered"),
            GrabRefusal::TrainNotOffered("G8294".into())
        );

        let alert = {
            let text =
                "[[watch]]\nname = \"看看\"\nfrom = \"上海\"\nto = \"常州\"\ndates = [\"2026-12-01\"]\n";
            let (list, _) =
                watchlist::parse(text, "w.toml", today(), StationTable::embedded()).expect("valid");
            list.watches.into_iter().next().expect("one watch")
        };
        assert_eq!(
            plan_order(&alert, date(), &search(), &juhe(), OUT, now()).expect_err("alert watch"),
            GrabRefusal::NotGrab
        );
    }

    #[test]
    fn out_order_numbers_are_short_alphanumerics_that_differ_with_entropy() {
        let a = new_out_order_no(now(), 0);
        let b = new_out_order_no(now(), 1);
        let c = new_out_order_no(now(), u64::MAX);
        for no in [&a, &b, &c] {
            assert!((6..=32).contains(&no.len()), "{no}");
            assert!(no.chars().all(|ch| ch.is_ascii_alphanumeric()), "{no}");
            assert!(no.starts_with("YP261122080000"), "{no}");
        }
        assert_ne!(a, b);
        assert_ne!(b, c);
        assert_eq!(a, new_out_order_no(now(), 0), "pure: same inputs, same number");
        let many: std::collections::BTreeSet<String> = (0..1000u64)
            .map(|i| new_out_order_no(now(), i.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
            .collect();
        assert_eq!(many.len(), 1000, "no collisions within one second");
    }

    /// A plain-view `orderDetail` (no tickets).
    fn plain(status: &str, fail_msg: &str) -> OrderDetail {
        decode_order_detail(
            &json!({
                "reason": "success",
                "error_code": 0,
                "result": {
                    "status": status,
                    "orderNo": "TFT0001",
                    "outOrderNo": OUT,
                    "trainNo": "G8294",
                    "fromStation": "上海虹桥",
                    "toStation": "常州",
                    "failMsg": fail_msg,
                    "passengers": [{"passengerName": "张三", "passengerType": 1, "certificateNo": ID_MASKED}],
                }
            })
            .to_string(),
        )
        .expect("decodes")
    }

    /// An issued-view `orderDetail` with one ticket in `ticket_state`.
    fn issued(order_state: &str, ticket_state: &str) -> OrderDetail {
        decode_order_detail(
            &json!({
                "reason": "success",
                "error_code": 0,
                "result": {
                    "orderNo": "TFT0001",
                    "outOrderNo": OUT,
                    "trainNo": "G8294",
                    "orderStateCode": order_state,
                    "orderPrice": "91.00",
                    "ticketNo": "E123456789",
                    "juheServiceFee": "8",
                    "passengers": [{
                        "passengerId": "623838773",
                        "passengerName": "张三",
                        "passengerType": "1",
                        "idType": "1",
                        "idCard": ID,
                        "seatClass": "secondseat",
                        "seatClassName": "二等座",
                        "seatNo": "07车厢,009号",
                        "pTicketNo": "E1234567891070009",
                        "ticketStateCode": ticket_state,
                        "ticketPrice": "91.00",
                    }],
                }
            })
            .to_string(),
        )
        .expect("decodes")
    }

    #[test]
    fn assess_names_each_state_change_once() {
        let grabbing = plain("D", "");
        assert_eq!(
            assess("N", None, &grabbing),
            vec![OrderEvent::Status {
                status: OrderStatus::Grabbing
            }]
        );
        assert_eq!(
            assess("D", Some(&grabbing), &grabbing),
            vec![],
            "no change, no event"
        );

        let f = issued("F", "F");
        assert_eq!(assess("D", Some(&grabbing), &f), vec![OrderEvent::Issued]);
        assert_eq!(assess("F", Some(&f), &f), vec![], "issued twice is one event");

        let failed = plain("U", "该坐席已售完");
        assert_eq!(
            assess("D", Some(&grabbing), &failed),
            vec![OrderEvent::Failed {
                reason: "该坐席已售完".into()
            }]
        );
        let failed_code = plain("U", "209");
        assert_eq!(
            assess("D", Some(&grabbing), &failed_code),
            vec![OrderEvent::Failed {
                reason: "该坐席已售完（209）".into()
            }],
            "a bare msgCode is spelled out from the table"
        );

        assert_eq!(
            assess("D", Some(&grabbing), &plain("O", "抢票单过期")),
            vec![OrderEvent::Status {
                status: OrderStatus::Expired
            }]
        );
        assert_eq!(
            assess("D", Some(&grabbing), &plain("C", "")),
            vec![OrderEvent::Status {
                status: OrderStatus::Cancelled
            }]
        );

        let refunding = issued("F", "C");
        assert_eq!(
            assess("F", Some(&f), &refunding),
            vec![OrderEvent::Ticket {
                passenger: "张三".into(),
                state: TicketState::Refunding
            }]
        );
        let refunded = issued("T", "T");
        assert_eq!(
            assess("F", Some(&refunding), &refunded),
            vec![
                OrderEvent::Status {
                    status: OrderStatus::Refunded
                },
                OrderEvent::Ticket {
                    passenger: "张三".into(),
                    state: TicketState::Refunded
                },
            ]
        );
        assert_eq!(assess("T", Some(&refunded), &refunded), vec![]);

        let mut blank = plain("D", "");
        blank.status = OrderStatus::Unknown(String::new());
        assert_eq!(
            assess("D", Some(&grabbing), &blank),
            vec![],
            "no status: nothing known"
        );
    }

    #[test]
    fn failure_reasons_come_from_fail_msg_or_the_msg_code_table() {
        assert_eq!(failure_reason(&plain("U", "209")), "该坐席已售完（209）");
        assert_eq!(
            failure_reason(&plain("U", " 308 ")),
            "乘客身份信息未通过验证（308）"
        );
        assert_eq!(failure_reason(&plain("U", "乘客信息有误")), "乘客信息有误");
        assert_eq!(failure_reason(&plain("U", "")), "聚合未说明原因");
    }

    fn summary() -> OrderSummary {
        plan_order(&g8294(), date(), &search(), &juhe(), OUT, now())
            .expect("a plan")
            .summary
    }

    #[test]
    fn the_issued_email_has_the_seats_ticket_and_price_and_only_masked_ids() {
        let d = issued("F", "F");
        let mail = render_order_email(OUT, &summary(), &OrderEvent::Issued, Some(&d), now());
        assert_eq!(mail.subject, "【抢票】出票成功 G8294 上海虹桥→常州 12月01日");
        for needle in [
            "出票成功",
            OUT,
            "出票车次：G8294",
            "取票号（12306 订单号）：E123456789",
            "票款：¥91.0",
            "聚合服务费：¥8.0",
            "张三 二等座 07车厢,009号 已出票，乘客编号 623838773",
            ID_MASKED,
            "yupiao orders refund",
        ] {
            assert!(
                mail.text.contains(needle),
                "{needle:?} missing from:\n{}",
                mail.text
            );
        }
        assert!(mail.html.contains("07车厢,009号"), "{}", mail.html);
        for part in [&mail.subject, &mail.text, &mail.html] {
            assert!(!part.contains(ID), "a whole ID number in the email:\n{part}");
            assert!(!part.contains("13812345678"), "a whole phone number:\n{part}");
        }
        assert_eq!(mask_id(ID), ID_MASKED);
    }

    #[test]
    fn every_other_event_has_its_own_subject_and_words() {
        let s = summary();
        let cases = [
            (
                OrderEvent::Created {
                    order_no: "TFT0001".into(),
                },
                "【抢票】抢票单已创建",
                "订单号 TFT0001",
            ),
            (
                OrderEvent::Status {
                    status: OrderStatus::Grabbing,
                },
                "【抢票】抢票中",
                "抢票中",
            ),
            (
                OrderEvent::Failed {
                    reason: "该坐席已售完".into(),
                },
                "【抢票】出票失败",
                "出票失败：该坐席已售完。",
            ),
            (
                OrderEvent::Status {
                    status: OrderStatus::Expired,
                },
                "【抢票】已过期",
                "抢票单已过期",
            ),
            (
                OrderEvent::Status {
                    status: OrderStatus::Cancelled,
                },
                "【抢票】已取消",
                "抢票单已取消。",
            ),
            (
                OrderEvent::Ticket {
                    passenger: "张三".into(),
                    state: TicketState::Refunded,
                },
                "【抢票】已退票",
                "张三 的车票：已退票。",
            ),
            (
                OrderEvent::CreateRefused {
                    reason: "坐席无效".into(),
                },
                "【抢票】未能下单",
                "聚合拒绝了抢票单：坐席无效",
            ),
        ];
        for (event, subject, words) in cases {
            let mail = render_order_email(OUT, &s, &event, Some(&plain("D", "")), now());
            assert!(mail.subject.starts_with(subject), "{event:?}: {}", mail.subject);
            assert!(mail.text.contains(words), "{event:?}:\n{}", mail.text);
            assert!(mail.text.contains(ID_MASKED), "{event:?}:\n{}", mail.text);
            assert!(!mail.text.contains(ID) && !mail.html.contains(ID));
            assert!(
                !mail.text.contains("取票号"),
                "no ticket block without tickets ({event:?})"
            );
        }
    }

    #[test]
    fn a_refusal_email_says_why_and_names_no_time_it_does_not_know() {
        let refusal = GrabRefusal::MissingContact("cellphone");
        let mail = render_refusal(&g8294(), date(), &refusal, now());
        assert_eq!(mail.subject, "【抢票】未能下单 G8294 上海→常州 12月01日");
        assert!(mail.text.contains("[juhe] cellphone is not set"), "{}", mail.text);
        assert!(mail.text.contains("1101***********514"), "{}", mail.text);
        assert!(
            !mail.text.contains(ID) && !mail.html.contains(ID),
            "the ID number only masked"
        );
        assert!(
            !mail.text.contains("出发"),
            "no departure time is invented: {}",
            mail.text
        );
    }
}
