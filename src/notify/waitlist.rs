//! The 候补 emails: the order with both deadlines, what changed, and what to do (pure: the caller
//! passes `now`, so every word is covered by tests). What deserves an email is decided in
//! [`crate::decide::waitlist`].
//!
//! Two deadlines matter and are never confused (protocol doc §5.1): `loseTime` ends the window to
//! pay the deposit (支付截止), `realize_limit_time` is when the waitlist gives up (兑现截止).

use std::fmt::Write as _;

use chrono::{DateTime, FixedOffset, NaiveDateTime};

use super::render::{EmailContent, escape, html_open, long_date, month_day};
use crate::decide::waitlist::{
    WaitlistDecision, WaitlistReason, WaitlistSnapshot, WaitlistStatus, queue_label, status_name,
};
use crate::rail::after_nate::{ORDER_PAGE_PATH, WaitlistOrder};

/// The one email of a decision, if it has reasons. `prev` is the snapshot passed to [`decide`]:
/// an [`WaitlistReason::OrderGone`] email describes the order as it was last seen.
pub fn render_decision(
    prev: Option<&WaitlistSnapshot>,
    decision: &WaitlistDecision,
    now: DateTime<FixedOffset>,
    base_url: &str,
) -> Option<EmailContent> {
    let first = decision.reasons.first()?;
    let last_seen = prev.and_then(|p| p.order.as_ref());
    if let WaitlistReason::SessionExpired { why } = first {
        return Some(render_session_expired(why, last_seen, now, base_url));
    }
    match decision.snapshot.order.as_ref().or(last_seen) {
        Some(order) => Some(render(order, &decision.reasons, now, base_url)),
        None => Some(render_session_restored(now, base_url)),
    }
}

/// The email about one order: a subject that says what to do, then the order in full.
pub fn render(
    order: &WaitlistOrder,
    reasons: &[WaitlistReason],
    now: DateTime<FixedOffset>,
    base_url: &str,
) -> EmailContent {
    let url = order_page(base_url);
    let lines = reason_lines(order, reasons, now);
    let facts = facts(order, now);

    let mut text = String::new();
    for l in &lines {
        let _ = writeln!(text, "{l}");
    }
    let _ = writeln!(text);
    for (k, v) in &facts.head {
        let _ = writeln!(text, "{k}：{v}");
    }
    let _ = writeln!(text, "\n候补车次：");
    for n in &facts.needs {
        let _ = writeln!(text, "  {n}");
    }
    if !facts.passengers.is_empty() {
        let _ = writeln!(text, "\n乘车人：");
        for p in &facts.passengers {
            let _ = writeln!(text, "  {p}");
        }
    }
    let _ = writeln!(text, "\n期限：");
    for (k, v) in &facts.deadlines {
        let _ = writeln!(text, "  {k}：{v}");
    }
    let _ = writeln!(text, "\n在 12306 查看候补订单（支付订金也在这里）：\n  {url}");
    let _ = writeln!(text, "\n{FOOTER}");

    let mut h = html_open();
    h.push_str("<ul style=\"padding-left:18px;\">\n");
    for l in &lines {
        let _ = writeln!(h, "<li><b>{}</b></li>", escape(l));
    }
    h.push_str("</ul>\n<table style=\"border-collapse:collapse;margin:4px 0 12px;\">\n");
    for (k, v) in &facts.head {
        row(&mut h, k, v);
    }
    row(&mut h, "候补车次", &facts.needs.join("\n"));
    if !facts.passengers.is_empty() {
        row(&mut h, "乘车人", &facts.passengers.join("\n"));
    }
    for (k, v) in &facts.deadlines {
        row(&mut h, k, v);
    }
    h.push_str("</table>\n");
    let _ = writeln!(
        h,
        "<p><a href=\"{u}\" style=\"display:inline-block;padding:8px 16px;background:#1677ff;\
         color:#fff;text-decoration:none;border-radius:4px;\">在 12306 查看候补订单</a></p>\n\
         <p style=\"font-size:12px;color:#666;\">链接：{u}<br>\n{FOOTER}</p>",
        u = escape(&url)
    );
    h.push_str("</body></html>\n");

    EmailContent {
        subject: subject(order, reasons, now),
        text,
        html: h,
    }
}

/// The single email sent when the cookie stops working: how to give yupiao a fresh one. The last
/// order seen is recalled, with its deadline, because the user may have to pay without us.
pub fn render_session_expired(
    why: &str,
    last_seen: Option<&WaitlistOrder>,
    now: DateTime<FixedOffset>,
    base_url: &str,
) -> EmailContent {
    let url = order_page(base_url);
    let intro = format!(
        "yupiao 用来查看候补订单的 12306 登录已失效（{why}）。在你更换 cookie 之前，\
         yupiao 只会偶尔重试，不会再发这类邮件。"
    );
    let steps = [
        format!("在浏览器中登录 12306，打开候补订单页面：{url}"),
        "按 F12 打开开发者工具，切到“网络（Network）”，刷新页面，点选 queryQueue 请求，复制请求头中 Cookie 的完整值。".to_string(),
        "写入 [rail] cookie_file 指向的文件（推荐：保存后下一次检查就会用上，无需重启）；如果用的是 yupiao.toml 里的 [rail] cookie = \"…\"，改完后需要重启 yupiao（systemctl restart yupiao）。两者只能设置一个。".to_string(),
    ];
    let caution = "Cookie 等同于你的 12306 登录凭据：只放在这台机器上，不要发给任何人。";
    let last = last_seen.map(|o| last_seen_line(o, now));

    let mut text = format!("{intro}\n\n如何更新 cookie：\n");
    for (i, s) in steps.iter().enumerate() {
        let _ = writeln!(text, "  {}. {s}", i + 1);
    }
    if let Some(l) = &last {
        let _ = writeln!(text, "\n{l}");
    }
    let _ = writeln!(text, "\n{caution}");

    let mut h = html_open();
    let _ = writeln!(h, "<p>{}</p>\n<p>如何更新 cookie：</p>\n<ol>", escape(&intro));
    for s in &steps {
        let _ = writeln!(h, "<li>{}</li>", escape(s));
    }
    h.push_str("</ol>\n");
    if let Some(l) = &last {
        let _ = writeln!(h, "<p><b>{}</b></p>", escape(l));
    }
    let _ = writeln!(
        h,
        "<p style=\"font-size:12px;color:#666;\">{}</p>\n</body></html>",
        escape(caution)
    );
    EmailContent {
        subject: "【候补】12306 登录已失效，请更新 cookie".to_string(),
        text,
        html: h,
    }
}

/// Sent when a fresh cookie works again and there is no order to report.
pub fn render_session_restored(now: DateTime<FixedOffset>, base_url: &str) -> EmailContent {
    let url = order_page(base_url);
    let msg = format!(
        "12306 登录已恢复（{}），yupiao 继续监控候补订单。目前没有待处理的候补订单。",
        now.format("%Y-%m-%d %H:%M")
    );
    EmailContent {
        subject: "【候补】12306 登录已恢复".to_string(),
        text: format!("{msg}\n\n候补订单页面：{url}\n"),
        html: format!(
            "{}<p>{}</p>\n<p>候补订单页面：<a href=\"{u}\">{u}</a></p>\n</body></html>\n",
            html_open(),
            escape(&msg),
            u = escape(&url)
        ),
    }
}

const FOOTER: &str = "此邮件由 yupiao 根据 12306 候补订单页面的信息自动发送；以 12306 显示为准。";
const TD: &str = "padding:3px 8px;vertical-align:top;";

fn order_page(base_url: &str) -> String {
    format!("{}{ORDER_PAGE_PATH}", base_url.trim_end_matches('/'))
}

fn row(h: &mut String, k: &str, v: &str) {
    let v = escape(v).replace('\n', "<br>");
    let _ = writeln!(
        h,
        "<tr><td style=\"{TD}color:#555;white-space:nowrap;\">{}</td><td style=\"{TD}\">{v}</td></tr>",
        escape(k)
    );
}

/// Where the payment deadline stands, as the subject and the reasons say it.
enum Payment {
    Due(DateTime<FixedOffset>),
    Past(DateTime<FixedOffset>),
    UnknownDeadline,
}

fn payment(order: &WaitlistOrder, now: DateTime<FixedOffset>) -> Payment {
    match order.lose_time {
        Some(t) if t > now => Payment::Due(t),
        Some(t) => Payment::Past(t),
        None => Payment::UnknownDeadline,
    }
}

fn subject(order: &WaitlistOrder, reasons: &[WaitlistReason], now: DateTime<FixedOffset>) -> String {
    use WaitlistReason as R;
    let trip = trip(order);
    let has = |f: fn(&R) -> bool| reasons.iter().any(f);
    let amount = money(&order.prepay_amount);
    let status = WaitlistStatus::of(order);
    let paying = status == WaitlistStatus::AwaitingPayment
        && has(|r| {
            matches!(
                r,
                R::PaymentDue | R::PaymentReminder | R::NewOrder | R::StatusChanged { .. }
            )
        });
    if has(|r| matches!(r, R::OrderGone)) {
        return format!("【候补】候补订单已结束 {trip}（请到 12306 查看结果）");
    }
    if status == WaitlistStatus::Fulfilled && has(|r| matches!(r, R::NewOrder | R::StatusChanged { .. })) {
        return format!("【候补】兑现成功 {trip}");
    }
    if paying {
        return match payment(order, now) {
            Payment::Due(t) if has(|r| matches!(r, R::PaymentReminder)) => format!(
                "【候补】支付提醒 {trip} 还剩{}，请在{}前支付订金{amount}",
                remaining(t - now),
                short_time(t, now)
            ),
            Payment::Due(t) => format!(
                "【候补】待支付 {trip} 请在{}前支付订金{amount}",
                short_time(t, now)
            ),
            Payment::Past(_) => format!("【候补】待支付 {trip} 支付期限已过"),
            Payment::UnknownDeadline => format!("【候补】待支付 {trip} 请尽快支付订金{amount}"),
        };
    }
    if let Some(R::StatusChanged { to, .. }) = reasons.iter().find(|r| matches!(r, R::StatusChanged { .. })) {
        return format!("【候补】{} {trip}", to.name);
    }
    if has(|r| matches!(r, R::NewOrder)) {
        return format!("【候补】新候补订单（{}） {trip}", status_name(order));
    }
    if let Some(R::QueueChanged { from, to, .. }) =
        reasons.iter().find(|r| matches!(r, R::QueueChanged { .. }))
    {
        return format!("【候补】排队人数变化 {trip} {from}→{to}");
    }
    if has(|r| matches!(r, R::SessionRestored)) {
        return format!("【候补】12306 登录已恢复 {trip}");
    }
    format!("【候补】{} {trip}", status_name(order))
}

/// `G105 北京南→上海虹桥 03月25日`, `G105 等2项 …` when the order waits for several trains.
fn trip(order: &WaitlistOrder) -> String {
    let Some(n) = order.needs.first() else {
        return order.reserve_no.clone();
    };
    let more = if order.needs.len() > 1 {
        format!(" 等{}项", order.needs.len())
    } else {
        String::new()
    };
    let day = n
        .train_date
        .map(|d| format!(" {}", month_day(d)))
        .unwrap_or_default();
    format!(
        "{}{more} {}→{}{day}",
        n.board_train_code, n.from_station_name, n.to_station_name
    )
}

fn reason_lines(
    order: &WaitlistOrder,
    reasons: &[WaitlistReason],
    now: DateTime<FixedOffset>,
) -> Vec<String> {
    let amount = money(&order.prepay_amount);
    reasons
        .iter()
        .map(|r| match r {
            WaitlistReason::NewOrder => format!(
                "发现候补订单 {}，当前状态：{}。",
                order.reserve_no,
                status_name(order)
            ),
            WaitlistReason::StatusChanged { from, to } => {
                let extra = match WaitlistStatus::parse(&to.code) {
                    WaitlistStatus::Fulfilled => "，已买到票，请在 12306 查看车票",
                    WaitlistStatus::Withdrawn | WaitlistStatus::WithdrawnAutomatically => "，订金将原路退回",
                    WaitlistStatus::AwaitingFulfilment => "，正在等待兑现",
                    _ => "",
                };
                format!("状态变化：{} → {}{extra}。", from.name, to.name)
            }
            WaitlistReason::QueueChanged {
                train,
                date,
                seat,
                from,
                to,
            } => {
                let day = date.map(|d| format!(" {}", month_day(d))).unwrap_or_default();
                format!("排队情况变化：{train}{day} {seat}：{from} → {to}。")
            }
            WaitlistReason::PaymentDue | WaitlistReason::PaymentReminder => match payment(order, now) {
                Payment::Due(t) => format!(
                    "请在 {} 前支付订金 {amount}（还剩{}），否则候补订单失效。",
                    full_time(t),
                    remaining(t - now)
                ),
                Payment::Past(t) => format!(
                    "支付期限已过（{}）：订金未在期限内支付时，候补订单失效。",
                    full_time(t)
                ),
                Payment::UnknownDeadline => {
                    format!("请尽快在 12306 支付订金 {amount}，否则候补订单失效。")
                }
            },
            WaitlistReason::OrderGone => format!(
                "候补订单 {} 已不在 12306 的待处理列表中：可能已兑现成功，也可能已退单或失效，\
                 yupiao 无法区分，请到 12306 的候补订单页面查看。",
                order.reserve_no
            ),
            WaitlistReason::SessionExpired { why } => format!("12306 登录已失效（{why}）。"),
            WaitlistReason::SessionRestored => "12306 登录已恢复，继续监控。".to_string(),
        })
        .collect()
}

/// Everything about the order, shared by the text and HTML parts.
struct Facts {
    head: Vec<(&'static str, String)>,
    needs: Vec<String>,
    passengers: Vec<String>,
    deadlines: Vec<(&'static str, String)>,
}

fn facts(order: &WaitlistOrder, now: DateTime<FixedOffset>) -> Facts {
    let status = status_name(order);
    let mut head = vec![
        ("订单号", order.reserve_no.clone()),
        ("状态", format!("{status}（{}）", order.status_code)),
        ("订金", money(&order.prepay_amount)),
    ];
    if !order.reserve_time.is_empty() {
        head.push(("下单时间", order.reserve_time.clone()));
    }
    let needs = order
        .needs
        .iter()
        .map(|n| {
            let day = n.train_date.map(long_date).unwrap_or_else(|| "日期未知".into());
            let later = match (n.train_date, n.arrive_date) {
                (Some(a), Some(b)) if b > a => "（次日）",
                _ => "",
            };
            format!(
                "{}  {day}  {} {} → {} {}{later}  {}  {}",
                n.board_train_code,
                n.from_station_name,
                n.start_time,
                n.to_station_name,
                n.arrive_time,
                n.seat_name,
                queue_label(n)
            )
        })
        .collect();
    let passengers = order
        .passengers
        .iter()
        .map(|p| {
            format!(
                "{}  {} {}  {}",
                p.name, p.id_type_name, p.id_no_masked, p.ticket_type
            )
        })
        .collect();

    Facts {
        head,
        needs,
        passengers,
        deadlines: vec![
            ("支付截止（订金）", pay_deadline(order, now)),
            ("兑现截止（候补）", realize_deadline(order, now)),
        ],
    }
}

/// 支付截止: `loseTime`, the rule, and where the order stands against it.
fn pay_deadline(order: &WaitlistOrder, now: DateTime<FixedOffset>) -> String {
    let Some(t) = order.lose_time else {
        return "12306 未给出。".to_string();
    };
    let rule = "待支付的订单须在此之前支付订金，否则候补订单失效";
    let state = match WaitlistStatus::of(order) {
        WaitlistStatus::AwaitingPayment if t > now => format!("还剩{}。", remaining(t - now)),
        WaitlistStatus::AwaitingPayment => "支付期限已过。".to_string(),
        WaitlistStatus::AwaitingFulfilment | WaitlistStatus::Fulfilled => {
            "订金已支付，此期限不再适用。".to_string()
        }
        _ if t <= now => "此期限已过（当前状态无需支付）。".to_string(),
        _ => "当前状态无需支付。".to_string(),
    };
    format!("{}。{rule}。{state}", full_time(t))
}

/// 兑现截止: `realize_limit_time`, the rule, and where the order stands against it.
fn realize_deadline(order: &WaitlistOrder, now: DateTime<FixedOffset>) -> String {
    let Some(t) = order.realize_limit_time else {
        return "12306 未给出。".to_string();
    };
    let rule = "到此时仍未买到票，候补自动结束，订金退回";
    let t_at = t.and_local_timezone(*now.offset()).single();
    let state = match (WaitlistStatus::of(order), t_at) {
        (WaitlistStatus::Fulfilled, _) => "已兑现。".to_string(),
        (WaitlistStatus::Withdrawn | WaitlistStatus::WithdrawnAutomatically, _) => "订单已退。".to_string(),
        (_, Some(at)) if at > now => format!("还剩{}。", remaining(at - now)),
        (_, Some(_)) => "兑现截止时间已过。".to_string(),
        (_, None) => String::new(),
    };
    format!("{}。{rule}。{state}", naive_time(t))
}

fn last_seen_line(o: &WaitlistOrder, now: DateTime<FixedOffset>) -> String {
    let status = status_name(o);
    let mut s = format!("最后一次看到的候补订单：{} {}，{status}。", o.reserve_no, trip(o));
    if WaitlistStatus::of(o) == WaitlistStatus::AwaitingPayment {
        match payment(o, now) {
            Payment::Due(t) => {
                let _ = write!(
                    s,
                    "它可能仍待支付：请直接在 12306 于 {} 前支付订金 {}，不要等待提醒。",
                    full_time(t),
                    money(&o.prepay_amount)
                );
            }
            Payment::Past(t) => {
                let _ = write!(s, "支付期限已过（{}）。", full_time(t));
            }
            Payment::UnknownDeadline => {}
        }
    }
    s
}

fn money(amount: &str) -> String {
    if amount.trim().is_empty() {
        "金额未知".to_string()
    } else {
        format!("¥{}", amount.trim())
    }
}

/// `15:00` today, `03月24日15:00` another day (seconds dropped: the user pays before, not at).
fn short_time(t: DateTime<FixedOffset>, now: DateTime<FixedOffset>) -> String {
    let t = t.with_timezone(now.offset());
    if t.date_naive() == now.date_naive() {
        t.format("%H:%M").to_string()
    } else {
        format!("{}{}", month_day(t.date_naive()), t.format("%H:%M"))
    }
}

fn full_time(t: DateTime<FixedOffset>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

fn naive_time(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// `8分钟`, `2小时5分钟`, `3天4小时`.
fn remaining(d: chrono::Duration) -> String {
    let mins = (d.num_seconds().max(0) + 59) / 60;
    match (mins / 1440, (mins % 1440) / 60, mins % 60) {
        (0, 0, m) => format!("{m}分钟"),
        (0, h, 0) => format!("{h}小时"),
        (0, h, m) => format!("{h}小时{m}分钟"),
        (d, 0, _) => format!("{d}天"),
        (d, h, _) => format!("{d}天{h}小时"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::waitlist::tests::{BASE, FP, at, early, poll, seed, seen, with_status};
    use crate::decide::waitlist::{DEFAULT_REMIND_BEFORE, StatusLabel, WaitlistSnapshot, decide};
    use crate::rail::after_nate::{QueueAnswer, decode_queue, tests::seed_body};
    use chrono::{NaiveDate, TimeZone};

    #[test]
    fn first_poll_without_order_records_but_does_not_email() {
        let d = poll(None, QueueAnswer::NoOrder, early());
        assert!(d.changed);
        assert!(d.reasons.is_empty());
    }

    #[test]
    fn queue_change_of_a_train_is_one_email() {
        let prev = seen(with_status("04", "待兑现"));
        let mut now = with_status("04", "待兑现");
        now.needs[0].queue_level = "1".into();
        now.needs[0].queue_info = "候补人数较少".into();
        let d = poll(Some(&prev), QueueAnswer::Order(now.clone()), early());
        assert!(d.changed);
        assert_eq!(
            d.reasons,
            vec![WaitlistReason::QueueChanged {
                train: "G105".into(),
                date: NaiveDate::from_ymd_opt(2020, 3, 25),
                seat: "商务座".into(),
                from: "候补人数中等".into(),
                to: "候补人数较少".into(),
            }]
        );
        let mail = render(&now, &d.reasons, early(), BASE);
        assert_eq!(
            mail.subject,
            "【候补】排队人数变化 G105 北京南→上海虹桥 03月25日 候补人数中等→候补人数较少"
        );
    }

    #[test]
    fn order_that_disappears_says_it_is_no_longer_pending() {
        let prev = seen(with_status("04", "待兑现"));
        let d = poll(Some(&prev), QueueAnswer::NoOrder, early());
        assert!(d.changed);
        assert_eq!(d.reasons, vec![WaitlistReason::OrderGone]);
        assert_eq!(d.snapshot.order, None);
        let mail = render_decision(Some(&prev), &d, early(), BASE).unwrap();
        assert!(
            mail.subject.starts_with("【候补】候补订单已结束 G105"),
            "{}",
            mail.subject
        );
        assert!(
            mail.text.contains("可能已兑现成功，也可能已退单"),
            "{}",
            mail.text
        );

        // A final status was reported already: its disappearance is recorded, not emailed.
        let done = seen(with_status("07", "兑现成功"));
        let d = poll(Some(&done), QueueAnswer::NoOrder, early());
        assert!(d.changed && d.reasons.is_empty());
    }

    #[test]
    fn payment_due_seen_after_the_deadline_says_so_plainly() {
        let prev = seen(with_status("00", "排队中"));
        let now = at(15, 2, 0);
        let d = poll(Some(&prev), QueueAnswer::Order(seed()), now);
        let mail = render(&seed(), &d.reasons, now, BASE);
        assert_eq!(
            mail.subject,
            "【候补】待支付 G105 北京南→上海虹桥 03月25日 支付期限已过"
        );
        assert!(mail.text.contains("支付期限已过"), "{}", mail.text);
        assert!(!mail.text.contains("请在 "), "{}", mail.text);
        assert!(!mail.subject.contains("提醒"));
    }

    #[test]
    fn session_expired_is_one_email_then_quiet_until_the_cookie_changes() {
        let prev = seen(seed());
        let why = QueueAnswer::SessionExpired("HTTP 302 to login".into());
        let d1 = poll(Some(&prev), why.clone(), early());
        assert!(d1.changed);
        assert_eq!(
            d1.reasons,
            vec![WaitlistReason::SessionExpired {
                why: "HTTP 302 to login".into()
            }]
        );
        assert_eq!(d1.snapshot.order, prev.order, "the last order is kept");
        for _ in 0..3 {
            let d = poll(Some(&d1.snapshot), why.clone(), early());
            assert!(d.reasons.is_empty() && !d.changed);
        }
        // The user pasted a new cookie that is expired too: one new email.
        let d2 = decide(
            Some(&d1.snapshot),
            &why,
            "fedcba9876543210",
            early(),
            DEFAULT_REMIND_BEFORE,
        );
        assert_eq!(d2.reasons.len(), 1);
        assert!(!d2.changed);
        let d3 = decide(
            Some(&d2.snapshot),
            &why,
            "fedcba9876543210",
            early(),
            DEFAULT_REMIND_BEFORE,
        );
        assert!(d3.reasons.is_empty());
    }

    #[test]
    fn recovery_is_reported_with_whatever_changed_meanwhile() {
        let mut expired = seen(with_status("00", "排队中"));
        expired.session_expired_for = Some(FP.into());
        let d = decide(
            Some(&expired),
            &QueueAnswer::Order(seed()),
            "new",
            early(),
            DEFAULT_REMIND_BEFORE,
        );
        assert!(d.changed);
        assert_eq!(d.snapshot.session_expired_for, None);
        assert_eq!(d.reasons[0], WaitlistReason::SessionRestored);
        assert!(d.reasons.contains(&WaitlistReason::PaymentDue));
        let mail = render_decision(Some(&expired), &d, early(), BASE).unwrap();
        assert!(mail.subject.starts_with("【候补】待支付"), "{}", mail.subject);
        assert!(mail.text.contains("12306 登录已恢复"));

        let nothing = WaitlistSnapshot {
            session_expired_for: Some(FP.into()),
            ..Default::default()
        };
        let d = decide(
            Some(&nothing),
            &QueueAnswer::NoOrder,
            FP,
            early(),
            DEFAULT_REMIND_BEFORE,
        );
        assert_eq!(d.reasons, vec![WaitlistReason::SessionRestored]);
        let mail = render_decision(Some(&nothing), &d, early(), BASE).unwrap();
        assert_eq!(mail.subject, "【候补】12306 登录已恢复");
    }

    #[test]
    fn payment_subject_names_train_route_day_deadline_and_amount() {
        let d = poll(None, QueueAnswer::Order(seed()), early());
        let mail = render_decision(None, &d, early(), BASE).unwrap();
        assert_eq!(
            mail.subject,
            "【候补】待支付 G105 北京南→上海虹桥 03月25日 请在15:00前支付订金¥1748.0"
        );
        let reminder = render(&seed(), &[WaitlistReason::PaymentReminder], at(14, 52, 0), BASE);
        assert_eq!(
            reminder.subject,
            "【候补】支付提醒 G105 北京南→上海虹桥 03月25日 还剩9分钟，请在15:00前支付订金¥1748.0"
        );
    }

    #[test]
    fn fulfilled_and_cancelled_subjects_say_the_status() {
        let to = |c: &str, n: &str| WaitlistReason::StatusChanged {
            from: StatusLabel {
                code: "04".into(),
                name: "待兑现".into(),
            },
            to: StatusLabel {
                code: c.into(),
                name: n.into(),
            },
        };
        let ok = render(
            &with_status("07", "兑现成功"),
            &[to("07", "兑现成功")],
            early(),
            BASE,
        );
        assert_eq!(ok.subject, "【候补】兑现成功 G105 北京南→上海虹桥 03月25日");
        let gone = render(&with_status("05", "已退单"), &[to("05", "已退单")], early(), BASE);
        assert_eq!(gone.subject, "【候补】已退单 G105 北京南→上海虹桥 03月25日");
        assert!(gone.text.contains("待兑现 → 已退单"));
    }

    #[test]
    fn body_explains_both_deadlines_and_lists_the_order() {
        let mail = render(
            &seed(),
            &[WaitlistReason::NewOrder, WaitlistReason::PaymentDue],
            early(),
            BASE,
        );
        for want in [
            "E87000007466000022",
            "待支付（01）",
            "¥1748.0",
            "G105  03月25日（周三）  北京南 07:20 → 上海虹桥 13:08  商务座  候补人数中等",
            "杨赟  中国居民身份证 3623***********030  成人票",
            "支付截止（订金）：2020-03-23 15:00:37。待支付的订单须在此之前支付订金，否则候补订单失效。还剩30分钟。",
            "兑现截止（候补）：2020-03-24 23:30。到此时仍未买到票，候补自动结束，订金退回。还剩1天8小时。",
            "https://kyfw.12306.cn/otn/view/lineUp_order.html",
        ] {
            assert!(mail.text.contains(want), "missing {want:?} in\n{}", mail.text);
        }
        assert!(mail.html.contains("支付截止（订金）") && mail.html.contains("兑现截止（候补）"));
        assert!(mail.html.contains("3623***********030"));
    }

    #[test]
    fn past_deadlines_are_said_plainly_in_the_body() {
        let late = FixedOffset::east_opt(8 * 3600)
            .unwrap()
            .with_ymd_and_hms(2020, 3, 25, 0, 0, 0)
            .unwrap();
        let mail = render(&seed(), &[WaitlistReason::PaymentDue], late, BASE);
        assert!(mail.text.contains("支付期限已过"), "{}", mail.text);
        assert!(mail.text.contains("兑现截止时间已过"), "{}", mail.text);
    }

    #[test]
    fn emails_never_contain_an_unmasked_id_number() {
        let raw = "362321199001011030";
        let body = seed_body().replace("3623***********030", raw);
        let QueueAnswer::Order(o) = decode_queue(&body).unwrap() else {
            panic!()
        };
        let d = poll(None, QueueAnswer::Order(o.clone()), early());
        let mail = render_decision(None, &d, early(), BASE).unwrap();
        for part in [&mail.subject, &mail.text, &mail.html] {
            assert!(!part.contains(raw));
        }
        assert!(mail.text.contains("3623***********030"));
        let expired = render_session_expired("x", Some(&o), early(), BASE);
        assert!(!expired.text.contains(raw) && !expired.html.contains(raw));
        assert!(!serde_json::to_string(&d.snapshot).unwrap().contains(raw));
    }

    #[test]
    fn html_escapes_data() {
        let mut o = seed();
        o.needs[0].from_station_name = "<b>&".into();
        let mail = render(&o, &[WaitlistReason::NewOrder], early(), BASE);
        assert!(!mail.html.contains("<b>&"));
        assert!(mail.html.contains("&lt;b&gt;&amp;"));
    }

    #[test]
    fn session_expired_email_explains_how_to_refresh_the_cookie_and_recalls_the_deadline() {
        let d = poll(
            Some(&seen(seed())),
            QueueAnswer::SessionExpired("HTTP 302".into()),
            early(),
        );
        let mail = render_decision(Some(&seen(seed())), &d, early(), BASE).unwrap();
        assert_eq!(mail.subject, "【候补】12306 登录已失效，请更新 cookie");
        for want in [
            "[rail] cookie",
            "cookie_file",
            "HTTP 302",
            "2020-03-23 15:00:37 前支付订金 ¥1748.0",
        ] {
            assert!(mail.text.contains(want), "missing {want:?} in\n{}", mail.text);
        }
    }

    #[test]
    fn remaining_time_reads_naturally() {
        assert_eq!(remaining(chrono::Duration::seconds(30)), "1分钟");
        assert_eq!(remaining(chrono::Duration::minutes(125)), "2小时5分钟");
        assert_eq!(remaining(chrono::Duration::minutes(120)), "2小时");
        assert_eq!(remaining(chrono::Duration::hours(50)), "2天2小时");
    }
}
