//! The 抢票 pushes: a Juhe grab order's events, led by the order's state, and the refusal to
//! place one (with the booking link, to buy by hand).

use chrono::{DateTime, FixedOffset, NaiveDate};

use super::draft::{Draft, booking_link, short_date};
use super::{PushDetails, PushEvent, PushMessage, SeatDetail, TrainDetail};
use crate::juhe::OrderStatus;
use crate::order::{GrabRefusal, OrderEvent, OrderSummary};
use crate::watchlist::Watch;

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
    Draft {
        details,
        ..Draft::plain(PushEvent::Order, title, lines)
    }
    .finish(now)
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
    let link = booking_link("去 12306 购票", rail_url, watch, date);
    let details = PushDetails {
        watches: vec![watch.name.clone()],
        date: Some(date),
        status: Some("未能下单".to_string()),
        ..PushDetails::default()
    };
    Draft {
        link: Some(link),
        details,
        ..Draft::plain(PushEvent::Order, title, lines)
    }
    .finish(now)
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
