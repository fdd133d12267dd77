//! What a push says, independent of the service that carries it.
//!
//! A [`PushMessage`] is rendered once per event from the domain types yupiao already has (the
//! trains an alert carries, a 候补 order and its reasons, a 抢票 order event) and then shaped per
//! service by `request.rs`. It is made for a lock screen: the title alone says what and when
//! (`余票 G8294 12-04 二等座 3张`), the body gives the route, times and counts in a few short
//! lines, and the booking link travels separately in [`PushMessage::link`] so each service can
//! attach it its own way (Bark's `url`, ntfy's `Click`, a Markdown link, a Feishu `a` tag…).
//! 候补 pushes lead with the payment deadline, 抢票 pushes with the order's state.
//!
//! Rendering is pure (the caller passes `now`), and the message is `serde` so the outbox can
//! store it as JSON and prepare the request at send time (DingTalk and Feishu signatures expire
//! after an hour, so a request must never be prepared ahead).

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::filter::{SeatMatch, TrainMatch, price_yuan};
use crate::juhe::OrderStatus;
use crate::notify::booking_url;
use crate::notify::render::weekday_zh;
use crate::order::{GrabRefusal, OrderEvent, OrderSummary};
use crate::rail::after_nate::{ORDER_PAGE_PATH, WaitlistNeed, WaitlistOrder};
use crate::waitlist::{WaitlistDecision, WaitlistReason, WaitlistSnapshot};
use crate::watchlist::Watch;

/// What happened, as the webhook's `event` field says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PushEvent {
    /// Seats appeared (余票).
    Seats,
    /// A 候补 order changed (or the 12306 session behind it did).
    Waitlist,
    /// A 抢票 (Juhe grab) order changed, or could not be placed.
    Order,
    /// `yupiao test-notify`.
    Test,
}

impl PushEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            PushEvent::Seats => "seats",
            PushEvent::Waitlist => "waitlist",
            PushEvent::Order => "order",
            PushEvent::Test => "test",
        }
    }

    /// The word every title starts with.
    pub fn label_zh(self) -> &'static str {
        match self {
            PushEvent::Seats => "余票",
            PushEvent::Waitlist => "候补",
            PushEvent::Order => "抢票",
            PushEvent::Test => "测试",
        }
    }
}

/// A link the push offers (booking page, 候补 order page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// What a button or Markdown link says (`去 12306 预订`).
    pub label: String,
    pub href: String,
}

/// One push, before it is shaped for a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushMessage {
    pub event: PushEvent,
    /// One line for the lock screen; never empty.
    pub title: String,
    /// Plain-text body, lines separated by `\n`, without the title or the link.
    pub text: String,
    /// The same body as Markdown (CommonMark subset that WeCom, DingTalk and Server酱 render;
    /// hard line breaks as two spaces + `\n`), without the title or the link.
    pub markdown: String,
    pub link: Option<Link>,
    /// A 候补 payment deadline: ignores quiet hours, highest priority where the service has one.
    pub urgent: bool,
    /// Stable for this event across retries and restarts (it is stored with the message): sent
    /// as the webhook's `Idempotency-Key`.
    pub idempotency_key: String,
    /// When the event was seen (Beijing time).
    pub created_at: DateTime<FixedOffset>,
    /// Structured facts for the webhook JSON.
    pub details: PushDetails,
}

/// The facts behind a push, for receivers that want data rather than text (the webhook).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PushDetails {
    /// Every watch this push speaks for (several watches seeing the same seats get one push).
    pub watches: Vec<String>,
    /// Travel date.
    pub date: Option<NaiveDate>,
    /// Trains in priority order; the first is the one the title names.
    pub trains: Vec<TrainDetail>,
    /// 候补 or 抢票 state, in 12306's or Juhe's wording (`待支付`, `出票成功`).
    pub status: Option<String>,
    /// The 候补 deposit deadline (`loseTime`).
    pub deadline: Option<DateTime<FixedOffset>>,
    /// `reserve_no` of a 候补 order, `outOrderNo` of a 抢票 order.
    pub order: Option<String>,
}

/// One train of a push.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainDetail {
    /// `station_train_code` (`G8294`).
    pub train: String,
    pub date: Option<NaiveDate>,
    pub from: String,
    pub to: String,
    /// `HH:MM`, Beijing time, when known.
    pub depart: Option<String>,
    pub arrive: Option<String>,
    pub seats: Vec<SeatDetail>,
}

/// One seat class of a train.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SeatDetail {
    /// Chinese name (`二等座`).
    pub seat: String,
    /// 12306's cell text (`有`, `3`), or the 候补 queue wording; `None` when not known.
    pub left: Option<String>,
    /// Seats left as a number, when 12306 gave one.
    pub count: Option<u32>,
    /// Yuan.
    pub price: Option<f64>,
}

impl PushMessage {
    /// Adds a line at the end of the body (e.g. the daemon's "this is a grab watch" note).
    pub fn push_note(&mut self, note: &str) {
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        self.text.push_str(note);
        if !self.markdown.is_empty() {
            self.markdown.push_str(MD_BREAK);
        }
        self.markdown.push_str(&md_escape(note));
    }
}

/// Most trains a seat push lists one by one; the rest are counted.
pub const MAX_TRAINS: usize = 4;

/// A Markdown hard line break (CommonMark: two trailing spaces).
pub const MD_BREAK: &str = "  \n";

/// The seat alert for one travel date, speaking for every watch in `watches` (they saw the same
/// seats). `trains` carries only the alerted seats, best first, as `decide` returns them; the
/// first watch gives the route and the booking link.
pub fn seats_message(
    watches: &[&Watch],
    date: NaiveDate,
    trains: &[TrainMatch],
    rail_url: &str,
    now: DateTime<FixedOffset>,
) -> PushMessage {
    let names: Vec<String> = watches.iter().map(|w| w.name.clone()).collect();
    let link = watches.first().map(|w| Link {
        label: "去 12306 预订".to_string(),
        href: booking_url(
            rail_url,
            &w.from.name,
            &w.from.telecode,
            &w.to.name,
            &w.to.telecode,
            date,
            w.student,
        ),
    });

    let day = short_date(date);
    let title = match trains.first() {
        Some(first) => {
            let mut t = format!("余票 {} {day}", first.station_train_code);
            if let Some(seat) = first.seats.first() {
                let _ = write!(t, " {} {}", seat.seat.name(), count_short(seat));
            }
            if trains.len() > 1 {
                let _ = write!(t, " 等{}趟", trains.len());
            }
            t
        }
        None => match watches.first() {
            Some(w) => format!("余票 {}→{} {day}", w.from.name, w.to.name),
            None => format!("余票 {day}"),
        },
    };

    let mut text = Vec::new();
    let mut md = Vec::new();
    for (i, t) in trains.iter().take(MAX_TRAINS).enumerate() {
        let head = if i == 0 {
            format!(
                "{} {day} {} {}→{} {}开 {}到",
                t.station_train_code,
                weekday_zh(date.weekday()),
                t.from_name,
                t.to_name,
                t.start_time,
                t.arrive_time
            )
        } else {
            format!(
                "{} {}→{} {}开 {}到",
                t.station_train_code, t.from_name, t.to_name, t.start_time, t.arrive_time
            )
        };
        let seats = t.seats.iter().map(seat_short).collect::<Vec<_>>().join(" · ");
        md.push(md_escape(&head));
        md.push(format!("**{}**", md_escape(&seats)));
        text.push(head);
        text.push(seats);
    }
    if trains.len() > MAX_TRAINS {
        let more = format!("另有{}趟有票", trains.len() - MAX_TRAINS);
        md.push(md_escape(&more));
        text.push(more);
    }
    if !names.is_empty() {
        let line = format!("监控：{}", names.join("、"));
        md.push(md_escape(&line));
        text.push(line);
    }

    let details = PushDetails {
        watches: names,
        date: Some(date),
        trains: trains.iter().map(train_detail).collect(),
        ..PushDetails::default()
    };
    finish(PushEvent::Seats, title, text, md, link, false, now, details)
}

/// The push for one 候补 decision, or `None` when it has no reasons (no push), mirroring
/// `waitlist::render_decision`: `prev` is the snapshot passed to `waitlist::decide` (an order
/// that disappeared is described as last seen).
pub fn waitlist_decision_message(
    prev: Option<&WaitlistSnapshot>,
    decision: &WaitlistDecision,
    now: DateTime<FixedOffset>,
    base_url: &str,
) -> Option<PushMessage> {
    let first = decision.reasons.first()?;
    let last_seen = prev.and_then(|p| p.order.as_ref());
    if let WaitlistReason::SessionExpired { why } = first {
        return Some(session_expired_message(why, last_seen, now, base_url));
    }
    match decision.snapshot.order.as_ref().or(last_seen) {
        Some(order) => Some(waitlist_message(order, &decision.reasons, now, base_url)),
        None => Some(session_restored_message(now, base_url)),
    }
}

/// The push about one 候补 order and the reasons one poll found. A payment that is due leads
/// with its deadline and is urgent.
pub fn waitlist_message(
    order: &WaitlistOrder,
    reasons: &[WaitlistReason],
    now: DateTime<FixedOffset>,
    base_url: &str,
) -> PushMessage {
    use WaitlistReason as R;
    let has = |f: fn(&R) -> bool| reasons.iter().any(f);
    let status = status_wording(order);
    let trip = trip_short(order);
    let paying = order.status_code == "01"
        && has(|r| {
            matches!(
                r,
                R::PaymentDue | R::PaymentReminder | R::NewOrder | R::StatusChanged { .. }
            )
        });
    let deposit = deposit(order);

    let mut lines: Vec<String> = Vec::new();
    let mut urgent = false;
    let title = if has(|r| matches!(r, R::OrderGone)) {
        lines.push(format!(
            "候补订单 {} 已不在待处理列表：可能已兑现，也可能已退单或失效，请到 12306 查看。",
            order.reserve_no
        ));
        format!("候补 订单已结束 {trip}")
    } else if order.status_code == "07" && has(|r| matches!(r, R::NewOrder | R::StatusChanged { .. })) {
        lines.push("兑现成功：已买到票，请在 12306 查看车票。".to_string());
        format!("候补 兑现成功 {trip}")
    } else if paying {
        match order.lose_time {
            Some(t) if t > now => {
                urgent = true;
                lines.push(format!(
                    "请在 {} 前支付订金{deposit}，否则候补订单失效。",
                    t.format("%m-%d %H:%M")
                ));
                format!("候补 {}前支付订金 {trip}", deadline_short(t, now))
            }
            Some(t) => {
                lines.push(format!("支付期限（{}）已过。", t.format("%m-%d %H:%M")));
                format!("候补 支付期限已过 {trip}")
            }
            None => {
                urgent = true;
                lines.push(format!("请尽快在 12306 支付订金{deposit}，否则候补订单失效。"));
                format!("候补 请尽快支付订金 {trip}")
            }
        }
    } else if let Some(R::StatusChanged { to, .. }) =
        reasons.iter().find(|r| matches!(r, R::StatusChanged { .. }))
    {
        format!("候补 {} {trip}", to.name)
    } else if has(|r| matches!(r, R::NewOrder)) {
        format!("候补 新订单（{status}） {trip}")
    } else if let Some(R::QueueChanged { from, to, .. }) =
        reasons.iter().find(|r| matches!(r, R::QueueChanged { .. }))
    {
        format!("候补 排队 {from}→{to} {trip}")
    } else if has(|r| matches!(r, R::SessionRestored)) {
        format!("候补 12306 登录已恢复 {trip}")
    } else {
        format!("候补 {status} {trip}")
    };

    for r in reasons {
        match r {
            R::StatusChanged { from, to } => lines.push(format!("状态：{} → {}", from.name, to.name)),
            R::QueueChanged {
                train,
                seat,
                from,
                to,
                ..
            } => lines.push(format!("排队：{train} {seat} {from} → {to}")),
            R::NewOrder => lines.push(format!("新候补订单 {}：{status}", order.reserve_no)),
            R::SessionRestored => lines.push("12306 登录已恢复，继续监控。".to_string()),
            R::PaymentDue | R::PaymentReminder | R::OrderGone | R::SessionExpired { .. } => {}
        }
    }
    for n in order.needs.iter().take(MAX_TRAINS) {
        lines.push(need_line(n));
    }
    if order.needs.len() > MAX_TRAINS {
        lines.push(format!("另有{}项", order.needs.len() - MAX_TRAINS));
    }
    if !paying && let Some(limit) = order.realize_limit_time {
        lines.push(format!("兑现截止：{}", limit.format("%m-%d %H:%M")));
    }

    let details = PushDetails {
        watches: Vec::new(),
        date: order.needs.first().and_then(|n| n.train_date),
        trains: order.needs.iter().map(need_detail).collect(),
        status: Some(status),
        deadline: order.lose_time,
        order: Some(order.reserve_no.clone()),
    };
    let md = lines.iter().map(|l| md_escape(l)).collect();
    finish(
        PushEvent::Waitlist,
        title,
        lines,
        md,
        Some(order_page_link(base_url)),
        urgent,
        now,
        details,
    )
}

/// The one push sent when the 12306 cookie stops working; recalls the last order's deadline
/// because the user may have to pay without yupiao watching.
pub fn session_expired_message(
    why: &str,
    last_seen: Option<&WaitlistOrder>,
    now: DateTime<FixedOffset>,
    base_url: &str,
) -> PushMessage {
    let mut lines = vec![
        format!("yupiao 查看候补订单用的 12306 登录已失效（{why}）。"),
        "请在浏览器登录 12306，复制 queryQueue 请求的 Cookie，写入 [rail] cookie_file。".to_string(),
    ];
    let mut details = PushDetails::default();
    if let Some(o) = last_seen {
        if o.status_code == "01"
            && let Some(t) = o.lose_time
            && t > now
        {
            lines.push(format!(
                "上次看到的订单 {} 待支付，截止 {}。",
                o.reserve_no,
                t.format("%m-%d %H:%M")
            ));
        }
        details.order = Some(o.reserve_no.clone());
        details.deadline = o.lose_time;
        details.status = Some(status_wording(o));
    }
    let md = lines.iter().map(|l| md_escape(l)).collect();
    finish(
        PushEvent::Waitlist,
        "候补 12306 登录已失效，请更新 cookie".to_string(),
        lines,
        md,
        Some(order_page_link(base_url)),
        false,
        now,
        details,
    )
}

/// Sent when a fresh cookie works again and no order is pending.
pub fn session_restored_message(now: DateTime<FixedOffset>, base_url: &str) -> PushMessage {
    let lines = vec!["12306 登录已恢复，继续监控候补订单。目前没有待处理的候补订单。".to_string()];
    let md = lines.iter().map(|l| md_escape(l)).collect();
    finish(
        PushEvent::Waitlist,
        "候补 12306 登录已恢复".to_string(),
        lines,
        md,
        Some(order_page_link(base_url)),
        false,
        now,
        PushDetails::default(),
    )
}

/// The push for one 抢票 order event: the title leads with the order's state.
pub fn order_message(
    out_order_no: &str,
    summary: &OrderSummary,
    event: &OrderEvent,
    now: DateTime<FixedOffset>,
) -> PushMessage {
    let state = order_state(event);
    let train = summary.trains.first().map(String::as_str).unwrap_or("");
    let title = format!(
        "抢票 {state} {train} {} {}→{}",
        short_date(summary.date),
        summary.from_station,
        summary.to_station
    );
    let headline = match event {
        OrderEvent::Created { order_no } => format!("聚合已接受抢票单（订单号 {order_no}），正在抢票。"),
        OrderEvent::CreateRefused { reason } => format!("聚合拒绝了抢票单：{reason}。没有下单，不会扣款。"),
        OrderEvent::Status { status } => format!("抢票单状态：{}。", status.label_zh()),
        OrderEvent::Issued => "出票成功！请在 12306 App 核对车票。".to_string(),
        OrderEvent::Failed { reason } => format!("出票失败：{reason}。"),
        OrderEvent::Ticket { passenger, state } => format!("{passenger} 的车票：{}。", state.label_zh()),
    };
    let lines = vec![
        headline,
        format!(
            "{} {}→{} {} 开",
            summary.trains.join("/"),
            summary.from_station,
            summary.to_station,
            summary.departs_at.format("%m-%d %H:%M")
        ),
        format!("席别：{}", summary.seat_names.join("/")),
        format!("抢票截止：{}", summary.close_time.format("%m-%d %H:%M")),
        format!("抢票单号：{out_order_no}"),
    ];
    let depart = summary.departs_at.format("%H:%M").to_string();
    let details = PushDetails {
        watches: vec![summary.watch.clone()],
        date: Some(summary.date),
        trains: summary
            .trains
            .iter()
            .enumerate()
            .map(|(i, t)| TrainDetail {
                train: t.clone(),
                date: Some(summary.date),
                from: summary.from_station.clone(),
                to: summary.to_station.clone(),
                depart: (i == 0).then(|| depart.clone()),
                arrive: None,
                seats: summary
                    .seat_names
                    .iter()
                    .map(|s| SeatDetail {
                        seat: s.clone(),
                        ..SeatDetail::default()
                    })
                    .collect(),
            })
            .collect(),
        status: Some(state),
        deadline: None,
        order: Some(out_order_no.to_string()),
    };
    let md = lines.iter().map(|l| md_escape(l)).collect();
    finish(PushEvent::Order, title, lines, md, None, false, now, details)
}

/// Seats appeared for a grab watch but no order was placed: why, and the booking link so the
/// user can buy by hand.
pub fn grab_refusal_message(
    watch: &Watch,
    date: NaiveDate,
    refusal: &GrabRefusal,
    rail_url: &str,
    now: DateTime<FixedOffset>,
) -> PushMessage {
    let train = watch.trains.first().map(|t| t.text.as_str()).unwrap_or("");
    let title = format!(
        "抢票 未能下单 {train} {} {}→{}",
        short_date(date),
        watch.from.name,
        watch.to.name
    );
    let lines = vec![
        format!("有余票，但没有下抢票单：{refusal}。"),
        "可以到 12306 自己购票。".to_string(),
        format!("监控：{}", watch.name),
    ];
    let link = Link {
        label: "去 12306 购票".to_string(),
        href: booking_url(
            rail_url,
            &watch.from.name,
            &watch.from.telecode,
            &watch.to.name,
            &watch.to.telecode,
            date,
            watch.student,
        ),
    };
    let details = PushDetails {
        watches: vec![watch.name.clone()],
        date: Some(date),
        status: Some("未能下单".to_string()),
        ..PushDetails::default()
    };
    let md = lines.iter().map(|l| md_escape(l)).collect();
    finish(
        PushEvent::Order,
        title,
        lines,
        md,
        Some(link),
        false,
        now,
        details,
    )
}

/// What `yupiao test-notify NAME` sends.
pub fn test_message(channel_name: &str, now: DateTime<FixedOffset>) -> PushMessage {
    let lines = vec![
        format!("这是 yupiao（余票）的测试推送：收到它，说明通道「{channel_name}」可用。"),
        format!("发送时间：{}", now.format("%Y-%m-%d %H:%M:%S")),
    ];
    let md = lines.iter().map(|l| md_escape(l)).collect();
    let details = PushDetails::default();
    finish(
        PushEvent::Test,
        "测试 yupiao 推送".to_string(),
        lines,
        md,
        None,
        false,
        now,
        details,
    )
}

/// Assembles the message; the idempotency key hashes everything that identifies the event.
#[allow(clippy::too_many_arguments)]
fn finish(
    event: PushEvent,
    title: String,
    text: Vec<String>,
    md: Vec<String>,
    link: Option<Link>,
    urgent: bool,
    now: DateTime<FixedOffset>,
    details: PushDetails,
) -> PushMessage {
    let text = text.join("\n");
    let mut hash = Sha256::new();
    for part in [event.as_str(), &title, &text, &now.to_rfc3339()] {
        hash.update(part.as_bytes());
        hash.update([0u8]);
    }
    let digest = hash.finalize();
    let mut key = format!("yp-{}-", event.as_str());
    for b in &digest[..12] {
        let _ = write!(key, "{b:02x}");
    }
    PushMessage {
        event,
        title,
        text,
        markdown: md.join(MD_BREAK),
        link,
        urgent,
        idempotency_key: key,
        created_at: now,
        details,
    }
}

/// Backslash-escapes what CommonMark (and the robots' Markdown) would read as markup, so text
/// taken from data (watch names, reasons) shows as typed.
pub fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '>' | '<' | '~' | '|' | '!'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `12-04`.
fn short_date(date: NaiveDate) -> String {
    date.format("%m-%d").to_string()
}

/// `14:30` on the same day as `now`, else `12-05 14:30`.
fn deadline_short(t: DateTime<FixedOffset>, now: DateTime<FixedOffset>) -> String {
    let t = t.with_timezone(&crate::clock::beijing());
    if t.date_naive() == now.with_timezone(&crate::clock::beijing()).date_naive() {
        t.format("%H:%M").to_string()
    } else {
        t.format("%m-%d %H:%M").to_string()
    }
}

/// `3张`; `有票` for 12306's `有` (at least 20) and anything else that is not a number.
fn count_short(seat: &SeatMatch) -> String {
    match seat.count {
        Some(n) => format!("{n}张"),
        None => "有票".to_string(),
    }
}

/// `二等座 3张 ¥91`.
fn seat_short(seat: &SeatMatch) -> String {
    match seat.price_jiao {
        Some(p) => format!("{} {} ¥{}", seat.seat.name(), count_short(seat), price_yuan(p)),
        None => format!("{} {}", seat.seat.name(), count_short(seat)),
    }
}

fn train_detail(t: &TrainMatch) -> TrainDetail {
    TrainDetail {
        train: t.station_train_code.clone(),
        date: Some(t.date),
        from: t.from_name.clone(),
        to: t.to_name.clone(),
        depart: Some(t.start_time.clone()),
        arrive: Some(t.arrive_time.clone()),
        seats: t
            .seats
            .iter()
            .map(|s| SeatDetail {
                seat: s.seat.name().to_string(),
                left: Some(s.raw.clone()),
                count: s.count,
                price: s.price_jiao.map(price_yuan),
            })
            .collect(),
    }
}

/// 12306's own wording of the status. (`waitlist::status_name` has the fallback table for an
/// empty name; it is private, so an empty name shows the code here.)
fn status_wording(order: &WaitlistOrder) -> String {
    match order.status_name.trim() {
        "" => format!("状态{}", order.status_code),
        name => name.to_string(),
    }
}

/// ` ¥1748.0`, or nothing when 12306 sent no amount.
fn deposit(order: &WaitlistOrder) -> String {
    match order.prepay_amount.trim() {
        "" => String::new(),
        a => format!(" ¥{a}"),
    }
}

/// `G105 03-25`, `G105等2项 03-25`.
fn trip_short(order: &WaitlistOrder) -> String {
    let Some(n) = order.needs.first() else {
        return order.reserve_no.clone();
    };
    let more = if order.needs.len() > 1 {
        format!("等{}项", order.needs.len())
    } else {
        String::new()
    };
    match n.train_date {
        Some(d) => format!("{}{more} {}", n.board_train_code, short_date(d)),
        None => format!("{}{more}", n.board_train_code),
    }
}

/// `G105 03-25 北京南→上海虹桥 09:00开 二等座 候补人数较少`.
fn need_line(n: &WaitlistNeed) -> String {
    let mut s = n.board_train_code.clone();
    if let Some(d) = n.train_date {
        let _ = write!(s, " {}", short_date(d));
    }
    let _ = write!(s, " {}→{}", n.from_station_name, n.to_station_name);
    if !n.start_time.trim().is_empty() {
        let _ = write!(s, " {}开", n.start_time.trim());
    }
    let _ = write!(s, " {}", n.seat_name);
    if !n.queue_info.trim().is_empty() {
        let _ = write!(s, " {}", n.queue_info.trim());
    }
    s
}

fn need_detail(n: &WaitlistNeed) -> TrainDetail {
    let nonempty = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
    TrainDetail {
        train: n.board_train_code.clone(),
        date: n.train_date,
        from: n.from_station_name.clone(),
        to: n.to_station_name.clone(),
        depart: nonempty(&n.start_time),
        arrive: nonempty(&n.arrive_time),
        seats: vec![SeatDetail {
            seat: n.seat_name.clone(),
            left: nonempty(&n.queue_info),
            count: None,
            price: None,
        }],
    }
}

fn order_page_link(base_url: &str) -> Link {
    Link {
        label: "打开候补订单".to_string(),
        href: format!("{}{ORDER_PAGE_PATH}", base_url.trim_end_matches('/')),
    }
}

/// The state a 抢票 push leads with. (`order::subject_for` words the email subjects the same
/// way but is private.)
fn order_state(event: &OrderEvent) -> String {
    match event {
        OrderEvent::Created { .. } => OrderStatus::Created.label_zh().to_string(),
        OrderEvent::CreateRefused { .. } => "未能下单".to_string(),
        OrderEvent::Status { status } => status.label_zh().to_string(),
        OrderEvent::Issued => "出票成功".to_string(),
        OrderEvent::Failed { .. } => "出票失败".to_string(),
        OrderEvent::Ticket { state, .. } => state.label_zh().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::SeatMatch;
    use crate::notify::render::tests::{day, train, watch};
    use crate::rail::after_nate::{QueueAnswer, decode_queue, tests::seed_body};
    use crate::seat::SeatClass;
    use crate::waitlist::{DEFAULT_REMIND_BEFORE, StatusLabel, decide};
    use chrono::{NaiveDateTime, TimeZone};

    const RAIL: &str = "https://kyfw.12306.cn";

    fn bj(s: &str) -> DateTime<FixedOffset> {
        crate::clock::beijing()
            .from_local_datetime(&NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap())
            .unwrap()
    }

    fn seat(class: SeatClass, raw: &str, jiao: u32) -> SeatMatch {
        SeatMatch {
            seat: class,
            raw: raw.to_string(),
            count: raw.parse().ok(),
            price_jiao: Some(jiao),
            available: true,
        }
    }

    fn seed_order() -> WaitlistOrder {
        match decode_queue(&seed_body()).unwrap() {
            QueueAnswer::Order(o) => o,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_seat_alert_title_says_train_day_seat_and_count() {
        let w = watch("回家");
        let trains = vec![train("G8294", vec![seat(SeatClass::Second, "3", 910)])];
        let m = seats_message(&[&w], day(), &trains, RAIL, bj("2025-11-30 09:00"));
        assert_eq!(m.title, "余票 G8294 12-01 二等座 3张");
        assert_eq!(m.event, PushEvent::Seats);
        assert!(!m.urgent);
        assert_eq!(
            m.text,
            "G8294 12-01 周一 上海→常州 14:44开 15:53到\n二等座 3张 ¥91\n监控：回家"
        );
        let link = m.link.unwrap();
        assert_eq!(link.label, "去 12306 预订");
        assert!(
            link.href
                .starts_with("https://kyfw.12306.cn/otn/leftTicket/init?"),
            "{}",
            link.href
        );
        assert!(link.href.contains("date=2025-12-01"));
    }

    #[test]
    fn plenty_is_said_as_有票_and_more_trains_are_counted() {
        let w = watch("回家");
        let trains = vec![
            train(
                "G8294",
                vec![
                    seat(SeatClass::Second, "有", 910),
                    seat(SeatClass::First, "2", 1455),
                ],
            ),
            train("G7002", vec![seat(SeatClass::Second, "5", 910)]),
        ];
        let m = seats_message(&[&w], day(), &trains, RAIL, bj("2025-11-30 09:00"));
        assert_eq!(m.title, "余票 G8294 12-01 二等座 有票 等2趟");
        assert!(
            m.text.contains("二等座 有票 ¥91 · 一等座 2张 ¥145.5"),
            "{}",
            m.text
        );
        assert!(
            m.text.contains("G7002 上海→常州 14:44开 15:53到\n二等座 5张 ¥91"),
            "{}",
            m.text
        );
    }

    #[test]
    fn one_push_names_every_watch_that_saw_the_seats() {
        let (a, b) = (watch("回家"), watch("周末"));
        let trains = vec![train("G8294", vec![seat(SeatClass::Second, "3", 910)])];
        let m = seats_message(&[&a, &b], day(), &trains, RAIL, bj("2025-11-30 09:00"));
        assert!(m.text.ends_with("监控：回家、周末"), "{}", m.text);
        assert_eq!(m.details.watches, vec!["回家", "周末"]);
    }

    #[test]
    fn a_long_alert_lists_a_few_trains_and_counts_the_rest() {
        let w = watch("回家");
        let trains: Vec<TrainMatch> = (0..7)
            .map(|i| train(&format!("G{}", 100 + i), vec![seat(SeatClass::Second, "1", 910)]))
            .collect();
        let m = seats_message(&[&w], day(), &trains, RAIL, bj("2025-11-30 09:00"));
        assert!(m.text.contains("G103"));
        assert!(!m.text.contains("G104"), "{}", m.text);
        assert!(m.text.contains("另有3趟有票"));
        assert_eq!(m.details.trains.len(), 7, "the webhook gets every train");
    }

    #[test]
    fn seat_details_carry_raw_count_and_price_for_the_webhook() {
        let w = watch("回家");
        let trains = vec![train("G8294", vec![seat(SeatClass::Second, "有", 910)])];
        let m = seats_message(&[&w], day(), &trains, RAIL, bj("2025-11-30 09:00"));
        let t = &m.details.trains[0];
        assert_eq!(t.train, "G8294");
        assert_eq!(
            (t.depart.as_deref(), t.arrive.as_deref()),
            (Some("14:44"), Some("15:53"))
        );
        assert_eq!(
            t.seats[0],
            SeatDetail {
                seat: "二等座".into(),
                left: Some("有".into()),
                count: None,
                price: Some(91.0)
            }
        );
    }

    #[test]
    fn markdown_escapes_what_the_user_typed_and_bolds_the_seats() {
        let w = watch("*回家*_[x](y)");
        let trains = vec![train("G8294", vec![seat(SeatClass::Second, "3", 910)])];
        let m = seats_message(&[&w], day(), &trains, RAIL, bj("2025-11-30 09:00"));
        assert!(
            m.markdown.contains("监控：\\*回家\\*\\_\\[x\\]\\(y\\)"),
            "{}",
            m.markdown
        );
        assert!(m.markdown.contains("**二等座 3张 ¥91**"), "{}", m.markdown);
        assert!(m.markdown.contains(MD_BREAK));
        assert!(!m.markdown.contains("http"), "the link is attached per service");
    }

    #[test]
    fn the_idempotency_key_is_stable_for_the_same_event_and_differs_for_another() {
        let w = watch("回家");
        let trains = vec![train("G8294", vec![seat(SeatClass::Second, "3", 910)])];
        let now = bj("2025-11-30 09:00");
        let a = seats_message(&[&w], day(), &trains, RAIL, now);
        let b = seats_message(&[&w], day(), &trains, RAIL, now);
        let later = seats_message(&[&w], day(), &trains, RAIL, bj("2025-11-30 09:05"));
        assert_eq!(a.idempotency_key, b.idempotency_key);
        assert_ne!(a.idempotency_key, later.idempotency_key);
        assert!(a.idempotency_key.starts_with("yp-seats-") && a.idempotency_key.len() == 9 + 24);
    }

    #[test]
    fn a_message_survives_the_outbox_as_json() {
        let w = watch("回家");
        let trains = vec![train("G8294", vec![seat(SeatClass::Second, "3", 910)])];
        let m = seats_message(&[&w], day(), &trains, RAIL, bj("2025-11-30 09:00"));
        let back: PushMessage = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn a_due_payment_leads_with_the_deadline_and_is_urgent() {
        // The seed order is 待支付 with loseTime 2020-03-23 15:00:37.
        let now = bj("2020-03-23 14:31");
        let d = decide(
            None,
            &QueueAnswer::Order(seed_order()),
            "fp",
            now,
            DEFAULT_REMIND_BEFORE,
        );
        let m = waitlist_decision_message(None, &d, now, RAIL).unwrap();
        assert!(m.title.starts_with("候补 15:00前支付订金 "), "{}", m.title);
        assert!(m.urgent);
        assert!(m.text.starts_with("请在 03-23 15:00 前支付订金"), "{}", m.text);
        assert_eq!(m.details.status.as_deref(), Some("待支付"));
        assert_eq!(m.details.order.as_deref(), Some("E87000007466000022"));
        assert!(m.details.deadline.is_some());
        assert_eq!(
            m.link.unwrap().href,
            "https://kyfw.12306.cn/otn/view/lineUp_order.html"
        );
    }

    #[test]
    fn a_deadline_on_another_day_shows_the_date_too() {
        let order = seed_order();
        let now = bj("2020-03-22 20:00");
        let m = waitlist_message(&order, &[WaitlistReason::PaymentDue], now, RAIL);
        assert!(m.title.starts_with("候补 03-23 15:00前支付订金"), "{}", m.title);
    }

    #[test]
    fn a_past_deadline_is_not_urgent() {
        let order = seed_order();
        let m = waitlist_message(
            &order,
            &[WaitlistReason::PaymentDue],
            bj("2020-03-23 16:00"),
            RAIL,
        );
        assert!(m.title.starts_with("候补 支付期限已过"), "{}", m.title);
        assert!(!m.urgent);
    }

    #[test]
    fn other_waitlist_changes_lead_with_the_new_state() {
        let mut order = seed_order();
        order.status_code = "07".into();
        order.status_name = "兑现成功".into();
        let changed = WaitlistReason::StatusChanged {
            from: StatusLabel {
                code: "04".into(),
                name: "待兑现".into(),
            },
            to: StatusLabel {
                code: "07".into(),
                name: "兑现成功".into(),
            },
        };
        let m = waitlist_message(&order, &[changed], bj("2020-03-23 16:00"), RAIL);
        assert!(m.title.starts_with("候补 兑现成功 "), "{}", m.title);
        assert!(m.text.contains("状态：待兑现 → 兑现成功"), "{}", m.text);
        assert!(!m.urgent);

        let gone = waitlist_message(&order, &[WaitlistReason::OrderGone], bj("2020-03-23 16:00"), RAIL);
        assert!(gone.title.starts_with("候补 订单已结束"), "{}", gone.title);
    }

    #[test]
    fn a_queue_change_says_from_and_to() {
        let mut order = seed_order();
        order.status_code = "00".into();
        order.status_name = "排队中".into();
        let r = WaitlistReason::QueueChanged {
            train: "G105".into(),
            date: None,
            seat: "二等座".into(),
            from: "候补人数较多".into(),
            to: "候补人数较少".into(),
        };
        let m = waitlist_message(&order, &[r], bj("2020-03-23 12:00"), RAIL);
        assert!(
            m.title.starts_with("候补 排队 候补人数较多→候补人数较少"),
            "{}",
            m.title
        );
        assert!(m.text.contains("排队：G105 二等座 候补人数较多 → 候补人数较少"));
    }

    #[test]
    fn an_expired_session_is_one_push_that_recalls_the_pending_deadline() {
        let order = seed_order();
        let m = session_expired_message("登录页", Some(&order), bj("2020-03-23 14:00"), RAIL);
        assert_eq!(m.title, "候补 12306 登录已失效，请更新 cookie");
        assert!(m.text.contains("截止 03-23 15:00"), "{}", m.text);
        assert!(
            !m.text.to_lowercase().contains("cookie:"),
            "no cookie value, only where to put one"
        );
    }

    fn summary() -> OrderSummary {
        OrderSummary {
            watch: "回家".into(),
            date: NaiveDate::from_ymd_opt(2026, 12, 4).unwrap(),
            trains: vec!["G8294".into(), "G7002".into()],
            seats: vec!["O".into()],
            seat_names: vec!["二等座".into()],
            from_station: "上海".into(),
            to_station: "常州".into(),
            departs_at: NaiveDateTime::parse_from_str("2026-12-04 14:44", "%Y-%m-%d %H:%M").unwrap(),
            close_time: NaiveDateTime::parse_from_str("2026-12-04 11:44", "%Y-%m-%d %H:%M").unwrap(),
            accept_no_seat: false,
            passengers: vec!["张三 (成人, 身份证 1101***********514)".into()],
            ticket_model: 0,
        }
    }

    #[test]
    fn an_order_push_leads_with_the_state() {
        let now = bj("2026-12-01 10:00");
        let issued = order_message("YP261201100000ABCDEFGH", &summary(), &OrderEvent::Issued, now);
        assert_eq!(issued.title, "抢票 出票成功 G8294 12-04 上海→常州");
        assert_eq!(issued.event, PushEvent::Order);
        assert!(
            issued.text.contains("G8294/G7002 上海→常州 12-04 14:44 开"),
            "{}",
            issued.text
        );
        assert_eq!(issued.details.order.as_deref(), Some("YP261201100000ABCDEFGH"));
        assert!(!issued.text.contains("1101"), "passengers are not pushed");

        let failed = order_message(
            "YP1",
            &summary(),
            &OrderEvent::Failed {
                reason: "无票".into(),
            },
            now,
        );
        assert!(failed.title.starts_with("抢票 出票失败 "), "{}", failed.title);
        let grabbing = order_message(
            "YP1",
            &summary(),
            &OrderEvent::Status {
                status: OrderStatus::Grabbing,
            },
            now,
        );
        assert!(
            grabbing
                .title
                .starts_with(&format!("抢票 {} ", OrderStatus::Grabbing.label_zh()))
        );
    }

    #[test]
    fn a_refused_grab_links_to_booking_by_hand() {
        let w = watch("回家");
        let m = grab_refusal_message(
            &w,
            day(),
            &GrabRefusal::MissingAccount,
            RAIL,
            bj("2025-11-30 09:00"),
        );
        assert!(m.title.starts_with("抢票 未能下单"), "{}", m.title);
        assert!(m.text.contains("account_no"), "{}", m.text);
        assert_eq!(m.link.unwrap().label, "去 12306 购票");
    }

    #[test]
    fn a_note_is_appended_to_both_bodies() {
        let mut m = test_message("iphone", bj("2026-12-04 08:00"));
        m.push_note("这是*抢票*监视");
        assert!(m.text.ends_with("\n这是*抢票*监视"));
        assert!(m.markdown.ends_with("  \n这是\\*抢票\\*监视"));
    }

    #[test]
    fn the_test_push_names_the_channel_and_the_time() {
        let m = test_message("iphone", bj("2026-12-04 08:00"));
        assert_eq!(m.event, PushEvent::Test);
        assert!(m.text.contains("「iphone」") && m.text.contains("2026-12-04 08:00:00"));
    }
}
