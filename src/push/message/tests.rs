//! Each push as a phone shows it: titles, bodies, links, details and the idempotency key.

use chrono::{NaiveDateTime, TimeZone};

use super::*;
use crate::filter::{SeatMatch, TrainMatch};
use crate::juhe::OrderStatus;
use crate::notify::render::tests::{day, train, watch};
use crate::order::{GrabRefusal, OrderEvent, OrderSummary};
use crate::rail::after_nate::WaitlistOrder;
use crate::rail::after_nate::{QueueAnswer, decode_queue, tests::seed_body};
use crate::seat::SeatClass;
use crate::waitlist::{DEFAULT_REMIND_BEFORE, StatusLabel, WaitlistReason, decide};

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
