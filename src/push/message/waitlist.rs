//! The 候补 pushes: an order's changes (a due payment leads with its deadline and is urgent), and
//! the 12306 session behind them expiring or coming back.

use std::fmt::Write as _;

use chrono::{DateTime, FixedOffset};

use super::draft::{Draft, MAX_TRAINS, deadline_short, short_date};
use super::{Link, PushDetails, PushEvent, PushMessage, SeatDetail, TrainDetail};
use crate::rail::after_nate::{ORDER_PAGE_PATH, WaitlistNeed, WaitlistOrder};
use crate::waitlist::{WaitlistDecision, WaitlistReason, WaitlistSnapshot};

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
    let status = status_wording(order);
    let paying = is_paying(order, reasons);
    let headline = waitlist_headline(order, reasons, paying, &status, now);
    let mut lines: Vec<String> = headline.line.into_iter().collect();
    lines.extend(reason_lines(order, reasons, &status));
    lines.extend(order_lines(order, paying));

    let details = PushDetails {
        watches: Vec::new(),
        date: order.needs.first().and_then(|n| n.train_date),
        trains: order.needs.iter().map(need_detail).collect(),
        status: Some(status),
        deadline: order.lose_time,
        order: Some(order.reserve_no.clone()),
    };
    Draft {
        link: Some(order_page_link(base_url)),
        urgent: headline.urgent,
        details,
        ..Draft::plain(PushEvent::Waitlist, headline.title, lines)
    }
    .finish(now)
}

/// A deposit is to be paid: the order waits for payment and this poll says so.
fn is_paying(order: &WaitlistOrder, reasons: &[WaitlistReason]) -> bool {
    order.status_code == "01"
        && reasons.iter().any(|r| {
            matches!(
                r,
                WaitlistReason::PaymentDue
                    | WaitlistReason::PaymentReminder
                    | WaitlistReason::NewOrder
                    | WaitlistReason::StatusChanged { .. }
            )
        })
}

/// What a 候补 push leads with: its title, the line explaining it, and whether it is urgent.
struct Headline {
    title: String,
    line: Option<String>,
    urgent: bool,
}

impl Headline {
    fn title(title: String) -> Headline {
        Headline {
            title,
            line: None,
            urgent: false,
        }
    }

    fn explained(title: String, line: String) -> Headline {
        Headline {
            title,
            line: Some(line),
            urgent: false,
        }
    }
}

/// The most important of `reasons` makes the headline: the order ended, was fulfilled, must be
/// paid, then changes of status or queue.
fn waitlist_headline(
    order: &WaitlistOrder,
    reasons: &[WaitlistReason],
    paying: bool,
    status: &str,
    now: DateTime<FixedOffset>,
) -> Headline {
    use WaitlistReason as R;
    let has = |f: fn(&R) -> bool| reasons.iter().any(f);
    let trip = trip_short(order);
    if has(|r| matches!(r, R::OrderGone)) {
        Headline::explained(
            format!("候补 订单已结束 {trip}"),
            format!(
                "候补订单 {} 已不在待处理列表：可能已兑现，也可能已退单或失效，请到 12306 查看。",
                order.reserve_no
            ),
        )
    } else if order.status_code == "07" && has(|r| matches!(r, R::NewOrder | R::StatusChanged { .. })) {
        Headline::explained(
            format!("候补 兑现成功 {trip}"),
            "兑现成功：已买到票，请在 12306 查看车票。".to_string(),
        )
    } else if paying {
        payment_headline(order, &trip, now)
    } else if let Some(R::StatusChanged { to, .. }) =
        reasons.iter().find(|r| matches!(r, R::StatusChanged { .. }))
    {
        Headline::title(format!("候补 {} {trip}", to.name))
    } else if has(|r| matches!(r, R::NewOrder)) {
        Headline::title(format!("候补 新订单（{status}） {trip}"))
    } else if let Some(R::QueueChanged { from, to, .. }) =
        reasons.iter().find(|r| matches!(r, R::QueueChanged { .. }))
    {
        Headline::title(format!("候补 排队 {from}→{to} {trip}"))
    } else if has(|r| matches!(r, R::SessionRestored)) {
        Headline::title(format!("候补 12306 登录已恢复 {trip}"))
    } else {
        Headline::title(format!("候补 {status} {trip}"))
    }
}

/// The deposit is due: by its deadline (urgent while it has not passed), or as soon as possible
/// when 12306 gave none.
fn payment_headline(order: &WaitlistOrder, trip: &str, now: DateTime<FixedOffset>) -> Headline {
    let deposit = deposit(order);
    match order.lose_time {
        Some(t) if t > now => Headline {
            urgent: true,
            ..Headline::explained(
                format!("候补 {}前支付订金 {trip}", deadline_short(t, now)),
                format!(
                    "请在 {} 前支付订金{deposit}，否则候补订单失效。",
                    t.format("%m-%d %H:%M")
                ),
            )
        },
        Some(t) => Headline::explained(
            format!("候补 支付期限已过 {trip}"),
            format!("支付期限（{}）已过。", t.format("%m-%d %H:%M")),
        ),
        None => Headline {
            urgent: true,
            ..Headline::explained(
                format!("候补 请尽快支付订金 {trip}"),
                format!("请尽快在 12306 支付订金{deposit}，否则候补订单失效。"),
            )
        },
    }
}

/// One line for each reason that has more to say than the headline.
fn reason_lines(order: &WaitlistOrder, reasons: &[WaitlistReason], status: &str) -> Vec<String> {
    use WaitlistReason as R;
    reasons
        .iter()
        .filter_map(|r| match r {
            R::StatusChanged { from, to } => Some(format!("状态：{} → {}", from.name, to.name)),
            R::QueueChanged {
                train,
                seat,
                from,
                to,
                ..
            } => Some(format!("排队：{train} {seat} {from} → {to}")),
            R::NewOrder => Some(format!("新候补订单 {}：{status}", order.reserve_no)),
            R::SessionRestored => Some("12306 登录已恢复，继续监控。".to_string()),
            R::PaymentDue | R::PaymentReminder | R::OrderGone | R::SessionExpired { .. } => None,
        })
        .collect()
}

/// The order's trains and seats (the first few), and its fulfilment deadline unless a payment
/// is what matters now.
fn order_lines(order: &WaitlistOrder, paying: bool) -> Vec<String> {
    let mut lines: Vec<String> = order.needs.iter().take(MAX_TRAINS).map(need_line).collect();
    if order.needs.len() > MAX_TRAINS {
        lines.push(format!("另有{}项", order.needs.len() - MAX_TRAINS));
    }
    if !paying && let Some(limit) = order.realize_limit_time {
        lines.push(format!("兑现截止：{}", limit.format("%m-%d %H:%M")));
    }
    lines
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
    Draft {
        link: Some(order_page_link(base_url)),
        details,
        ..Draft::plain(
            PushEvent::Waitlist,
            "候补 12306 登录已失效，请更新 cookie".to_string(),
            lines,
        )
    }
    .finish(now)
}

/// Sent when a fresh cookie works again and no order is pending.
pub fn session_restored_message(now: DateTime<FixedOffset>, base_url: &str) -> PushMessage {
    let lines = vec!["12306 登录已恢复，继续监控候补订单。目前没有待处理的候补订单。".to_string()];
    Draft {
        link: Some(order_page_link(base_url)),
        ..Draft::plain(PushEvent::Waitlist, "候补 12306 登录已恢复".to_string(), lines)
    }
    .finish(now)
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
