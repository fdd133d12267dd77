//! The 抢票 emails: one per order event (抢票单已创建, 抢票中, 出票成功 with coach and seat,
//! 出票失败 with Juhe's reason, 已过期, 已取消, refunds), and the one saying that seats appeared
//! but no order could be placed. Pure: the caller passes `now`; ID numbers appear masked only
//! (the stored summary never holds them whole).

use chrono::{DateTime, FixedOffset, NaiveDate};

use super::render::{EmailContent, escape, month_day};
use crate::juhe::{OrderDetail, OrderStatus};
use crate::order::{GrabRefusal, OrderEvent, OrderSummary};
use crate::watchlist::Watch;

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
        month_day(s.date)
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
        month_day(date)
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
    let mut lines = vec![headline(event), String::new()];
    lines.extend(summary_lines(out_order_no, summary));
    if let Some(d) = detail
        && (matches!(event, OrderEvent::Issued) || d.ticket_no.is_some())
    {
        lines.extend(ticket_lines(d));
    }
    lines.push(String::new());
    lines.push(next_step(out_order_no, event, detail));
    lines.push(format!("（{} 由 yupiao 发送）", now.format("%Y-%m-%d %H:%M:%S")));
    email_from_lines(subject_for(event, summary), &lines)
}

/// What happened, in one sentence.
fn headline(event: &OrderEvent) -> String {
    match event {
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
    }
}

/// What was ordered.
fn summary_lines(out_order_no: &str, summary: &OrderSummary) -> Vec<String> {
    vec![
        format!("抢票单号：{out_order_no}"),
        format!("监视：{}", summary.watch),
        format!(
            "车次：{}（主选 {}）",
            summary.trains.join(" / "),
            summary.trains.first().map(String::as_str).unwrap_or("")
        ),
        format!("席别：{}", summary.seat_names.join(" / ")),
        format!(
            "行程：{} → {}，{} 出发",
            summary.from_station,
            summary.to_station,
            summary.departs_at.format("%Y-%m-%d %H:%M")
        ),
        format!("抢票截止：{}", summary.close_time.format("%Y-%m-%d %H:%M")),
        format!("接受无座：{}", if summary.accept_no_seat { "是" } else { "否" }),
        format!("乘客：{}", summary.passengers.join("；")),
    ]
}

/// The tickets of an issued order: train, ticket number, price, and each passenger's seat.
fn ticket_lines(d: &OrderDetail) -> Vec<String> {
    let mut lines = Vec::new();
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
    lines
}

/// What the user can do now.
fn next_step(out_order_no: &str, event: &OrderEvent, detail: Option<&OrderDetail>) -> String {
    let refund_ids: Vec<String> = detail
        .map(|d| {
            d.passengers
                .iter()
                .filter_map(|p| p.passenger_id.clone())
                .collect()
        })
        .unwrap_or_default();
    match event {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::juhe::{TicketState, mask_id};
    use crate::order::tests::{ID, ID_MASKED, OUT, date, g8294, issued, now, plain, summary};

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
