//! 候补 (waitlist) following end to end: the real binary against the simulator's
//! `afterNateOrder/queryQueue`, a real SMTP server (aiosmtpd) and the SQLite file; checked through
//! the emails that arrive, the outbox and history tables, `yupiao status` and what the simulator
//! saw on the wire. `once` is also run against a bare server that answers with the seed's real
//! body and the logged-out shapes the simulator does not produce.
//!
//! Waitlists poll every second (cron), so every wait is "until something happened", with a
//! generous timeout; quiet periods are measured in polls the simulator received, never in time.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Datelike as _, FixedOffset, NaiveDate, Weekday};
use common::*;
use serde_json::Value;
use yupiao::notify::smtp_test_server::TestSmtpServer;
use yupiao::seat::SeatClass;
use yupiao::sim::{NeedSpec, Sim, WaitlistSpec};
use yupiao::store::OutboxRow;

/// Upper bound for anything that should take a few polls.
const WAIT: Duration = Duration::from_secs(20);

/// The simulator path of the 候补 query.
const QUEUE: &str = "/otn/afterNateOrder/queryQueue";

/// The order number the simulator serves by default (seed 000's).
const RESERVE_NO: &str = "E87000007466000022";

/// A working session cookie for tests that do not look at sessions.
const COOKIE: &str = "JSESSIONID=e2eJSESSION7f3a; tk=e2eTK7f3a";

// ---- the order --------------------------------------------------------------------------------

/// The day the order's train runs: in the future, so that no deadline in the email is stale.
fn train_day() -> NaiveDate {
    day(5)
}

/// The simulated order (seed 000's trip) in `status`, for a train in the future, with a
/// 兑现截止 the evening before it.
fn order(status: &str) -> WaitlistSpec {
    WaitlistSpec {
        status: status.into(),
        reserve_time: ymd(day(0)),
        realize_limit_time: format!("{} 23:30:00", ymd(day(4))),
        needs: vec![NeedSpec {
            date: train_day(),
            ..NeedSpec::default()
        }],
        ..WaitlistSpec::default()
    }
}

/// `03月25日`: zero-padded, as every subject writes a day.
fn month_day(d: NaiveDate) -> String {
    format!("{:02}月{:02}日", d.month(), d.day())
}

/// `03月25日（周三）`.
fn long_date(d: NaiveDate) -> String {
    let w = match d.weekday() {
        Weekday::Mon => "周一",
        Weekday::Tue => "周二",
        Weekday::Wed => "周三",
        Weekday::Thu => "周四",
        Weekday::Fri => "周五",
        Weekday::Sat => "周六",
        Weekday::Sun => "周日",
    };
    format!("{}（{w}）", month_day(d))
}

/// What every subject about the order names: `G105 北京南→上海虹桥 03月25日`.
fn trip() -> String {
    format!("G105 北京南→上海虹桥 {}", month_day(train_day()))
}

/// The order's train line in every body: train, date, stations, times, seat.
fn need_line() -> String {
    format!(
        "G105  {}  北京南 07:20 → 上海虹桥 13:08  商务座",
        long_date(train_day())
    )
}

/// The payment deadline the simulator serves now (`loseTime`), in Beijing time.
fn lose_time(sim: &Sim) -> DateTime<FixedOffset> {
    let ms = sim
        .waitlist()
        .and_then(|o| o.lose_time_ms)
        .expect("the simulated order has a payment deadline");
    at_ms(ms)
}

fn at_ms(ms: i64) -> DateTime<FixedOffset> {
    DateTime::from_timestamp_millis(ms)
        .expect("a valid epoch ms")
        .with_timezone(&yupiao::clock::beijing())
}

/// `15:00` on the day of `now`, `03月24日15:00` another day, as subjects write a deadline.
fn short_time(t: DateTime<FixedOffset>, now: DateTime<FixedOffset>) -> String {
    let t = t.with_timezone(now.offset());
    if t.date_naive() == now.date_naive() {
        t.format("%H:%M").to_string()
    } else {
        format!("{}{}", month_day(t.date_naive()), t.format("%H:%M"))
    }
}

/// `2020-03-23 15:00:37`, as the bodies write a payment deadline.
fn full_time(t: DateTime<FixedOffset>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

// ---- watch lists and the daemon ---------------------------------------------------------------

/// A `[[waitlist]]` polled every second.
fn waitlist_entry(name: &str) -> String {
    format!("[[waitlist]]\nname = {}\ncron = {EVERY_SECOND}\n", toml_str(name))
}

/// A `[[waitlist]]` that only follows `reserve_no`.
fn waitlist_for(name: &str, reserve_no: &str) -> String {
    format!("{}reserve_no = {}\n", waitlist_entry(name), toml_str(reserve_no))
}

/// A left-ticket watch polled every second whose seats stay sold out (so it never emails): its
/// queries show the daemon's poll cycles going on.
fn ticker(sim: &Sim, d: NaiveDate) -> String {
    sim.set_seat("G8294", Some(d), SeatClass::Second, "无");
    WatchSpec::new("节拍", "上海", "常州", &[d])
        .trains(&["G8294"])
        .seats(&["二等座"])
        .set("cron", EVERY_SECOND)
        .to_toml()
}

/// A temp dir with `list` as its watch list.
fn dir_with_list(list: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    write_watchlist(dir.path(), list);
    dir
}

/// 候补 queries the simulator received.
fn queue_requests(sim: &Sim) -> u64 {
    requests_to(&sim.stats(), QUEUE)
}

/// Waits until `more` further 候补 polls have been fully recorded: the daemon polls one cycle
/// after another, so query `k + 1` arriving means poll `k` is in the database.
async fn wait_more_polls(daemon: &mut Daemon, sim: &Sim, more: u64) {
    let want = queue_requests(sim) + more + 1;
    let what = format!("{want} 候补 queries");
    daemon
        .wait_until(&what, WAIT, async || (queue_requests(sim) >= want).then_some(()))
        .await
}

/// Every email in the outbox, oldest first (ids are 1, 2, …).
fn outbox(setup: &DaemonSetup) -> Vec<OutboxRow> {
    let store = setup.store();
    (1..)
        .map_while(|id| store.email(id).expect("read the outbox"))
        .collect()
}

/// Waits until `n` emails have arrived, fails if more did; returns them decoded, oldest first.
async fn wait_mails(daemon: &mut Daemon, smtp: &TestSmtpServer, n: usize, what: &str) -> Vec<Mail> {
    let raw = daemon
        .wait_until(what, WAIT, async || {
            let m = smtp.messages();
            (m.len() >= n).then_some(m)
        })
        .await;
    let mails: Vec<Mail> = raw.iter().map(|r| parse_mail(r)).collect();
    assert_eq!(mails.len(), n, "{what}: {:#?}", subjects(&mails));
    mails
}

fn parse_mail(raw: &str) -> Mail {
    Mail::parse(raw)
}

fn subjects(mails: &[Mail]) -> Vec<&str> {
    mails.iter().map(|m| m.subject.as_str()).collect()
}

/// `more` polls without any change queue no email and deliver none.
async fn assert_quiet(
    daemon: &mut Daemon,
    sim: &Sim,
    smtp: &TestSmtpServer,
    setup: &DaemonSetup,
    mails: usize,
    more: u64,
) {
    wait_more_polls(daemon, sim, more).await;
    let queued = outbox(setup);
    assert_eq!(
        queued.len(),
        mails,
        "unchanged polls queued an email: {:#?}",
        queued.iter().map(|e| &e.subject).collect::<Vec<_>>()
    );
    let got = smtp.messages();
    assert_eq!(got.len(), mails, "{:#?}", got);
}

/// The `waitlists[]` entry named `name` of a `status --json` report (`Null` when absent).
fn waitlist_of<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["waitlists"]
        .as_array()
        .and_then(|ws| ws.iter().find(|w| w["name"] == name))
        .unwrap_or(&Value::Null)
}

/// `yupiao status --json`, or `None` while it cannot answer yet (no database before the first
/// poll is recorded).
async fn try_status_json(setup: &DaemonSetup) -> Option<Value> {
    let out = setup.yupiao().args(["status", "--json"]).run().await;
    if out.code != Some(0) {
        return None;
    }
    Some(
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("status --json is not JSON ({e}): {out}")),
    )
}

/// Waits until `status --json` reports `want` sent emails for the waitlist `name`.
async fn wait_sent(daemon: &mut Daemon, setup: &DaemonSetup, name: &str, want: u64) -> Value {
    let what = format!("{want} emails marked sent for {name}");
    daemon
        .wait_until(&what, WAIT, async || {
            let s = try_status_json(setup).await?;
            (waitlist_of(&s, name)["emails_sent"].as_u64() == Some(want)).then_some(s)
        })
        .await
}

fn history_rows(setup: &DaemonSetup) -> u64 {
    setup
        .store()
        .waitlist_history_rows()
        .expect("read the 候补 history")
}

// ---- tests --------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn each_waitlist_transition_sends_exactly_one_email() {
    let sim = start_static_sim().await;
    sim.set_waitlist(Some(order("00")));
    let smtp = TestSmtpServer::start().expect("start aiosmtpd");
    let dir = dir_with_list(&waitlist_entry("我的候补"));
    let setup = DaemonSetup::new(dir.path(), &sim)
        .smtp(smtp.port)
        .env("YUPIAO__RAIL__COOKIE", COOKIE);
    let mut daemon = setup.start();

    // 00 排队中, first seen: a new order.
    let mails = wait_mails(&mut daemon, &smtp, 1, "the new-order email").await;
    let m = &mails[0];
    assert_eq!(
        m.subject,
        format!("【候补】新候补订单（排队中） {}", trip()),
        "{}",
        m.raw
    );
    for want in [
        format!("发现候补订单 {RESERVE_NO}，当前状态：排队中。"),
        "状态：排队中（00）".into(),
        need_line(),
        "订金：¥1748.0".into(),
    ] {
        assert!(m.text.contains(&want), "missing {want:?} in\n{}", m.text);
    }
    assert!(m.html.contains("G105"), "{}", m.html);
    assert_quiet(&mut daemon, &sim, &smtp, &setup, 1, 3).await;

    // 00 → 01 待支付: one email saying when to pay and how much, both deadlines explained.
    sim.set_waitlist_status("01").unwrap();
    let lose = lose_time(&sim);
    let mails = wait_mails(&mut daemon, &smtp, 2, "the 待支付 email").await;
    let m = &mails[1];
    assert!(
        m.subject.starts_with(&format!("【候补】待支付 {} 请在", trip()))
            && m.subject
                .ends_with(&format!("{}前支付订金¥1748.0", lose.format("%H:%M"))),
        "{}",
        m.subject
    );
    assert!(!m.subject.contains("提醒"), "{}", m.subject);
    for want in [
        "状态变化：排队中 → 待支付。".to_string(),
        format!("请在 {} 前支付订金 ¥1748.0（还剩", full_time(lose)),
        format!(
            "支付截止（订金）：{}。待支付的订单须在此之前支付订金，否则候补订单失效。还剩",
            full_time(lose)
        ),
        format!(
            "兑现截止（候补）：{} 23:30。到此时仍未买到票，候补自动结束，订金退回。还剩",
            ymd(day(4))
        ),
        need_line(),
    ] {
        assert!(m.text.contains(&want), "missing {want:?} in\n{}", m.text);
    }
    assert!(
        m.html.contains("支付截止（订金）") && m.html.contains("兑现截止（候补）"),
        "{}",
        m.html
    );
    assert_quiet(&mut daemon, &sim, &smtp, &setup, 2, 3).await;

    // 01 → 04 待兑现: the deposit is paid; the payment deadline no longer applies.
    sim.set_waitlist_status("04").unwrap();
    let mails = wait_mails(&mut daemon, &smtp, 3, "the 待兑现 email").await;
    let m = &mails[2];
    assert_eq!(m.subject, format!("【候补】待兑现 {}", trip()));
    for want in [
        "状态变化：待支付 → 待兑现，正在等待兑现。",
        "订金已支付，此期限不再适用。",
        &need_line(),
    ] {
        assert!(m.text.contains(want), "missing {want:?} in\n{}", m.text);
    }
    assert_quiet(&mut daemon, &sim, &smtp, &setup, 3, 3).await;

    // 04 → 07 兑现成功.
    sim.set_waitlist_status("07").unwrap();
    let mails = wait_mails(&mut daemon, &smtp, 4, "the 兑现成功 email").await;
    let m = &mails[3];
    assert_eq!(m.subject, format!("【候补】兑现成功 {}", trip()));
    for want in [
        "状态变化：待兑现 → 兑现成功，已买到票，请在 12306 查看车票。",
        "已兑现。",
        &need_line(),
    ] {
        assert!(m.text.contains(want), "missing {want:?} in\n{}", m.text);
    }
    assert_quiet(&mut daemon, &sim, &smtp, &setup, 4, 3).await;

    // One history row per change, four emails in the outbox, all to the default recipient.
    assert_eq!(history_rows(&setup), 4);
    let queued = outbox(&setup);
    assert_eq!(
        queued.iter().map(|e| e.subject.as_str()).collect::<Vec<_>>(),
        subjects(&mails)
    );
    for e in &queued {
        // 候补 emails are filed under the daemon's 候补 key, apart from a [[watch]] of the same name.
        assert_eq!((e.watch.as_str(), e.kind.as_str()), ("候补:我的候补", "waitlist"));
        assert_eq!(e.recipients, vec!["traveller@example.com".to_string()]);
    }
    let status = wait_sent(&mut daemon, &setup, "我的候补", 4).await;
    let w = waitlist_of(&status, "我的候补");
    assert_eq!(w["status_code"], "07", "{status:#}");
    assert_eq!(w["pay_before"], Value::Null, "{status:#}");

    // The log says what changed in words, never as Rust structures.
    let log = daemon.log();
    for want in [
        "reasons=status 00 排队中 → 01 待支付",
        "reasons=status 01 待支付 → 04 待兑现",
    ] {
        assert!(log.contains(want), "missing {want:?} in\n{log}");
    }
    for debug in ["StatusChanged {", "StatusLabel {", "Some(", "[\""] {
        assert!(
            !log.lines().any(|l| l.contains(" INFO ") && l.contains(debug)),
            "an INFO line prints a Rust structure ({debug}):\n{log}"
        );
    }

    assert_eq!(daemon.sigterm().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queue_change_is_one_email() {
    let sim = start_static_sim().await;
    let mut o = order("04");
    o.needs[0].queue_level = "1".into();
    o.needs[0].queue_info = "候补人数较少".into();
    sim.set_waitlist(Some(o));
    let smtp = TestSmtpServer::start().expect("start aiosmtpd");
    let dir = dir_with_list(&waitlist_entry("排队"));
    let setup = DaemonSetup::new(dir.path(), &sim)
        .smtp(smtp.port)
        .env("YUPIAO__RAIL__COOKIE", COOKIE);
    let mut daemon = setup.start();

    let mails = wait_mails(&mut daemon, &smtp, 1, "the new-order email").await;
    assert_eq!(
        mails[0].subject,
        format!("【候补】新候补订单（待兑现） {}", trip())
    );
    assert_quiet(&mut daemon, &sim, &smtp, &setup, 1, 2).await;

    sim.set_queue("G105", "2", "候补人数中等").unwrap();
    let mails = wait_mails(&mut daemon, &smtp, 2, "the queue email").await;
    let m = &mails[1];
    assert_eq!(
        m.subject,
        format!("【候补】排队人数变化 {} 候补人数较少→候补人数中等", trip())
    );
    let line = format!(
        "排队情况变化：G105 {} 商务座：候补人数较少 → 候补人数中等。",
        month_day(train_day())
    );
    assert!(m.text.contains(&line), "missing {line:?} in\n{}", m.text);
    assert!(
        m.text.contains(&format!("{}  候补人数中等", need_line())),
        "{}",
        m.text
    );
    assert_quiet(&mut daemon, &sim, &smtp, &setup, 2, 3).await;
    assert_eq!(history_rows(&setup), 2);

    assert_eq!(daemon.sigterm().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_payment_reminder_fires_once_per_deadline() {
    let remind = chrono::TimeDelta::seconds(20);
    let sim = start_static_sim().await;
    sim.set_waitlist(Some(order("00")));
    let smtp = TestSmtpServer::start().expect("start aiosmtpd");
    let dir = dir_with_list(&waitlist_entry("付款"));
    let setup = DaemonSetup::new(dir.path(), &sim)
        .smtp(smtp.port)
        .env("YUPIAO__RAIL__COOKIE", COOKIE)
        .env("YUPIAO__DAEMON__PAYMENT_REMINDER", "20s");
    let mut daemon = setup.start();
    wait_mails(&mut daemon, &smtp, 1, "the new-order email").await;

    // 待支付 with a deadline 35 s away: the reminder window opens 15 s from now.
    let lose_ms = yupiao::clock::now().timestamp_millis() + 35_000;
    sim.set_waitlist(Some(WaitlistSpec {
        lose_time_ms: Some(lose_ms),
        ..order("01")
    }));
    let lose = at_ms(lose_ms);
    let mails = wait_mails(&mut daemon, &smtp, 2, "the 待支付 email").await;
    let due = &mails[1];
    assert!(
        due.subject
            .starts_with(&format!("【候补】待支付 {} 请在", trip())),
        "{}",
        due.subject
    );
    let queued = outbox(&setup);
    assert!(
        queued[1].created_at < lose - remind,
        "the test needs the 待支付 email before the reminder window (machine too slow?): {} vs {}",
        queued[1].created_at,
        lose - remind
    );

    // Exactly one reminder, once the window is open.
    let mails = wait_mails(&mut daemon, &smtp, 3, "the payment reminder").await;
    let r = &mails[2];
    let reminder = &outbox(&setup)[2];
    assert_eq!(
        r.subject,
        format!(
            "【候补】支付提醒 {} 还剩1分钟，请在{}前支付订金¥1748.0",
            trip(),
            short_time(lose, reminder.created_at)
        ),
        "{}",
        r.raw
    );
    let want = format!("请在 {} 前支付订金 ¥1748.0（还剩1分钟）", full_time(lose));
    assert!(r.text.contains(&want), "missing {want:?} in\n{}", r.text);
    assert!(
        reminder.created_at >= lose - remind && reminder.created_at < lose,
        "reminder queued at {}, window {} .. {}",
        reminder.created_at,
        lose - remind,
        lose
    );
    assert_quiet(&mut daemon, &sim, &smtp, &setup, 3, 3).await;

    // The deadline passes while the order still says 待支付: no late reminder.
    daemon
        .wait_until(
            "the payment deadline to pass",
            Duration::from_secs(60),
            async || (yupiao::clock::now() > lose + chrono::TimeDelta::seconds(1)).then_some(()),
        )
        .await;
    assert_quiet(&mut daemon, &sim, &smtp, &setup, 3, 3).await;

    // Any later email about it says plainly that the deadline has passed.
    sim.set_queue("G105", "1", "候补人数较少").unwrap();
    let mails = wait_mails(&mut daemon, &smtp, 4, "the queue email after the deadline").await;
    let q = &mails[3];
    assert!(q.subject.starts_with("【候补】排队人数变化"), "{}", q.subject);
    let plain = format!(
        "支付截止（订金）：{}。待支付的订单须在此之前支付订金，否则候补订单失效。支付期限已过。",
        full_time(lose)
    );
    assert!(q.text.contains(&plain), "missing {plain:?} in\n{}", q.text);
    assert!(
        !q.text.contains("请在 ") && !q.subject.contains("提醒"),
        "{}",
        q.text
    );

    // A status change back to 待支付 with the same, past deadline: said plainly, not a reminder.
    sim.set_waitlist_status("00").unwrap();
    wait_mails(&mut daemon, &smtp, 5, "the 排队中 email").await;
    let mut again = sim.waitlist().expect("the simulated order");
    again.status = "01".into();
    again.lose_time_ms = Some(lose_ms);
    sim.set_waitlist(Some(again));
    let mails = wait_mails(&mut daemon, &smtp, 6, "the 待支付 email after the deadline").await;
    let late = &mails[5];
    assert_eq!(late.subject, format!("【候补】待支付 {} 支付期限已过", trip()));
    let said = format!(
        "支付期限已过（{}）：订金未在期限内支付时，候补订单失效。",
        full_time(lose)
    );
    assert!(late.text.contains(&said), "missing {said:?} in\n{}", late.text);
    for never in ["提醒", "请在", "还剩"] {
        assert!(!late.subject.contains(never), "{never:?} in {}", late.subject);
    }
    for never in ["提醒", "请在 "] {
        assert!(!late.text.contains(never), "{never:?} in\n{}", late.text);
    }
    assert_quiet(&mut daemon, &sim, &smtp, &setup, 6, 3).await;

    assert_eq!(daemon.sigterm().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_payment_reminder_wakes_a_rarely_polled_waitlist_at_its_time() {
    let remind = chrono::TimeDelta::seconds(20);
    let sim = start_static_sim().await;
    let lose_ms = yupiao::clock::now().timestamp_millis() + 32_000;
    let lose = at_ms(lose_ms);
    sim.set_waitlist(Some(WaitlistSpec {
        lose_time_ms: Some(lose_ms),
        ..order("01")
    }));
    let smtp = TestSmtpServer::start().expect("start aiosmtpd");
    // Polled once an hour: only the reminder's own wake-up can send the reminder in time.
    let list = format!("[[waitlist]]\nname = {}\nevery = \"1h\"\n", toml_str("少查"));
    let dir = dir_with_list(&list);
    let setup = DaemonSetup::new(dir.path(), &sim)
        .smtp(smtp.port)
        .env("YUPIAO__RAIL__COOKIE", COOKIE)
        .env("YUPIAO__DAEMON__PAYMENT_REMINDER", "20s");
    let mut daemon = setup.start();

    let mails = wait_mails(&mut daemon, &smtp, 1, "the 待支付 email").await;
    assert!(
        mails[0]
            .subject
            .starts_with(&format!("【候补】待支付 {} 请在", trip())),
        "{}",
        mails[0].subject
    );
    assert!(
        outbox(&setup)[0].created_at < lose - remind,
        "the test needs the first poll before the reminder window (machine too slow?)"
    );
    assert_eq!(queue_requests(&sim), 1);

    let mails = daemon
        .wait_until("the payment reminder", Duration::from_secs(45), async || {
            let m = smtp.messages();
            (m.len() >= 2).then(|| m.iter().map(|r| parse_mail(r)).collect::<Vec<_>>())
        })
        .await;
    assert_eq!(mails.len(), 2, "{:#?}", subjects(&mails));
    assert!(
        mails[1]
            .subject
            .starts_with(&format!("【候补】支付提醒 {} 还剩1分钟", trip())),
        "{}",
        mails[1].subject
    );
    let reminder = &outbox(&setup)[1];
    assert!(
        reminder.created_at >= lose - remind
            && reminder.created_at < lose - remind + chrono::TimeDelta::seconds(5),
        "reminder queued at {}, due at {}",
        reminder.created_at,
        lose - remind
    );
    assert_eq!(queue_requests(&sim), 2, "one poll at start, one wake-up");

    assert_eq!(daemon.sigterm().await, Some(0));
}

/// Replaces the cookie file the way editors do (write, then rename), so that no poll reads half
/// a cookie.
fn write_cookie(path: &Path, cookie: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format!("{cookie}\n")).expect("write the cookie");
    std::fs::rename(&tmp, path).expect("rename it over the old one");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_session_sends_one_email_then_recovers_when_the_cookie_changes() {
    const OLD_TK: &str = "oldTKsecret5b2e91";
    const NEW_TK: &str = "newTKsecret0c77d4";
    const OLD_JS: &str = "oldJSESSIONsecret41a";
    const NEW_JS: &str = "newJSESSIONsecret93f";
    let sim = start_static_sim().await;
    sim.set_waitlist(Some(order("04")));
    sim.set_session_cookie(OLD_TK);
    let smtp = TestSmtpServer::start().expect("start aiosmtpd");
    let d = day(3);
    let dir = dir_with_list(&format!("{}\n{}", waitlist_entry("会话"), ticker(&sim, d)));
    let cookie_file: PathBuf = dir.path().join("12306.cookie");
    write_cookie(&cookie_file, &format!("Cookie: JSESSIONID={OLD_JS}; tk={OLD_TK}"));
    let setup = DaemonSetup::new(dir.path(), &sim)
        .smtp(smtp.port)
        .env("YUPIAO__RAIL__COOKIE_FILE", &cookie_file.display().to_string())
        .env("YUPIAO__DAEMON__EXPIRED_SESSION_EVERY", "1h");
    let mut daemon = setup.start();
    let ticks = |sim: &Sim| queries_on(&sim.stats(), d).len();

    let mails = wait_mails(&mut daemon, &smtp, 1, "the new-order email").await;
    assert!(mails[0].subject.starts_with("【候补】新候补订单（待兑现）"));

    // Logged out: one email saying how to refresh the cookie.
    sim.expire_session();
    let mails = wait_mails(&mut daemon, &smtp, 2, "the session-expired email").await;
    let m = &mails[1];
    assert_eq!(m.subject, "【候补】12306 登录已失效，请更新 cookie");
    for want in [
        "yupiao 用来查看候补订单的 12306 登录已失效（",
        "[rail] cookie",
        "cookie_file",
        RESERVE_NO,
    ] {
        assert!(m.text.contains(want), "missing {want:?} in\n{}", m.text);
    }

    // Then quiet: the daemon goes on ticking, but neither asks 12306 nor emails again.
    let asked = queue_requests(&sim);
    let now = ticks(&sim);
    daemon
        .wait_until("five more poll cycles", WAIT, async || {
            (ticks(&sim) >= now + 6).then_some(())
        })
        .await;
    assert_eq!(
        queue_requests(&sim),
        asked,
        "polled 12306 with a known-expired cookie"
    );
    assert_eq!(outbox(&setup).len(), 2);
    assert_eq!(smtp.messages().len(), 2);
    let status = setup.status_json().await;
    let w = waitlist_of(&status, "会话");
    assert_eq!(w["session_expired"], true, "{status:#}");
    assert!(
        w["last_error"].as_str().unwrap_or("").contains("session expired"),
        "{status:#}"
    );
    assert_eq!(w["status_code"], "04", "the last order seen is kept: {status:#}");
    let text = setup.status_text().await;
    assert!(text.contains("12306 session EXPIRED"), "{text}");
    // No stale next-run time while quiet: why, and when it really looks again (within the hour).
    assert_eq!(w["next"]["state"], "quiet_session", "{status:#}");
    let next_check = w["next"]["next_check"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .unwrap_or_else(|| panic!("no next check: {status:#}"));
    let now = yupiao::clock::now();
    assert!(
        next_check > now && next_check <= now + chrono::TimeDelta::hours(1),
        "{next_check} {status:#}"
    );
    assert!(
        text.contains("next run  quiet: 12306 session expired, next check "),
        "{text}"
    );

    // The user logs in again and pastes the new cookie: the daemon notices within a few polls.
    sim.set_session_cookie(NEW_TK);
    write_cookie(&cookie_file, &format!("JSESSIONID={NEW_JS}; tk={NEW_TK}"));
    let mails = wait_mails(&mut daemon, &smtp, 3, "the session-restored email").await;
    assert!(queue_requests(&sim) > asked);
    let m = &mails[2];
    assert_eq!(m.subject, format!("【候补】12306 登录已恢复 {}", trip()));
    assert!(m.text.contains("12306 登录已恢复，继续监控。"), "{}", m.text);
    let status = setup.status_json().await;
    let w = waitlist_of(&status, "会话");
    assert_eq!(w["session_expired"], false, "{status:#}");
    assert_eq!(w["status_code"], "04", "{status:#}");
    assert_eq!(w["reserve_no"], RESERVE_NO, "{status:#}");
    assert_quiet(&mut daemon, &sim, &smtp, &setup, 3, 3).await;
    assert_eq!(history_rows(&setup), 3, "new order, expired, restored");

    // The cookie is a credential: nowhere in the log, the emails or status.
    let text = setup.status_text().await;
    let status = setup.status_json().await.to_string();
    let log = daemon.log();
    let emails: Vec<String> = outbox(&setup)
        .into_iter()
        .map(|e| format!("{}\n{}\n{}", e.subject, e.text, e.html))
        .chain(smtp.messages())
        .collect();
    for secret in [OLD_TK, NEW_TK, OLD_JS, NEW_JS] {
        assert!(!log.contains(secret), "{secret} in the daemon log:\n{log}");
        assert!(
            !text.contains(secret) && !status.contains(secret),
            "{secret} in status"
        );
        for e in &emails {
            assert!(!e.contains(secret), "{secret} in an email:\n{e}");
        }
    }

    assert_eq!(daemon.sigterm().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn no_cookie_is_a_clear_status_not_a_crash() {
    let sim = start_static_sim().await;
    sim.set_waitlist(Some(order("01")));
    let d = day(3);
    let dir = dir_with_list(&format!("{}\n{}", waitlist_entry("无cookie"), ticker(&sim, d)));
    let setup = DaemonSetup::new(dir.path(), &sim);
    let mut daemon = setup.start();

    let status = daemon
        .wait_until("the waitlist's error in status", WAIT, async || {
            let s = try_status_json(&setup).await?;
            waitlist_of(&s, "无cookie")["last_error"].is_string().then_some(s)
        })
        .await;
    let w = waitlist_of(&status, "无cookie");
    let error = w["last_error"].as_str().unwrap();
    assert!(error.contains("[rail] cookie"), "{status:#}");
    assert_eq!(w["in_watchlist"], true, "{status:#}");
    assert_eq!(w["reserve_no"], Value::Null, "{status:#}");

    // The left-ticket watch in the same list goes on polling; 12306's 候补 is never asked.
    let now = queries_on(&sim.stats(), d).len();
    daemon
        .wait_until("more left-ticket polls", WAIT, async || {
            (queries_on(&sim.stats(), d).len() >= now + 3).then_some(())
        })
        .await;
    assert_eq!(queue_requests(&sim), 0);
    let text = setup.status_text().await;
    assert!(text.contains("候补 无cookie"), "{text}");
    assert!(text.contains("[rail] cookie"), "{text}");
    assert!(maildir_messages(&dir.path().join("mail")).is_empty());

    assert_eq!(daemon.sigterm().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn status_shows_the_waitlist_order() {
    let sim = start_static_sim().await;
    sim.set_waitlist(Some(order("01")));
    let smtp = TestSmtpServer::start().expect("start aiosmtpd");
    let dir = dir_with_list(&format!(
        "{}\n{}",
        waitlist_entry("状态"),
        waitlist_for("别的订单", "E00000000000000001")
    ));
    let setup = DaemonSetup::new(dir.path(), &sim)
        .smtp(smtp.port)
        .env("YUPIAO__RAIL__COOKIE", COOKIE);
    let mut daemon = setup.start();
    let lose = lose_time(&sim);

    let mails = wait_mails(&mut daemon, &smtp, 1, "the 待支付 email").await;
    assert!(
        mails[0]
            .subject
            .starts_with(&format!("【候补】待支付 {}", trip())),
        "{}",
        mails[0].subject
    );
    let status = wait_sent(&mut daemon, &setup, "状态", 1).await;
    let w = waitlist_of(&status, "状态");
    assert_eq!(w["reserve_no"], RESERVE_NO, "{status:#}");
    assert_eq!(w["status_code"], "01", "{status:#}");
    assert_eq!(w["status_name"], "待支付", "{status:#}");
    assert_eq!(w["session_expired"], false, "{status:#}");
    let pay_before = w["pay_before"].as_str().unwrap_or_default();
    assert_eq!(
        DateTime::parse_from_rfc3339(pay_before).ok(),
        Some(lose),
        "{status:#}"
    );
    assert_eq!(w["realize_limit"], format!("{} 23:30", ymd(day(4))), "{status:#}");
    assert_eq!(
        w["needs"],
        serde_json::json!([format!("G105 {} 商务座 候补人数中等", ymd(train_day()))]),
        "{status:#}"
    );

    // A waitlist for another order number sees none, and sends nothing.
    let other = waitlist_of(&status, "别的订单");
    assert_eq!(other["in_watchlist"], true, "{status:#}");
    assert_eq!(other["reserve_no"], Value::Null, "{status:#}");
    assert_eq!(other["emails_sent"], 0, "{status:#}");
    assert_eq!(other["emails_pending"], 0, "{status:#}");

    let text = setup.status_text().await;
    for want in [
        "候补 状态".to_string(),
        format!("order {RESERVE_NO}: 待支付 (01)"),
        format!("pay the deposit before {}", lose.format("%m-%d %H:%M:%S")),
        format!("兑现截止 {} 23:30", ymd(day(4))),
        "候补 别的订单".to_string(),
        "no 候补 order seen".to_string(),
    ] {
        assert!(text.contains(&want), "missing {want:?} in\n{text}");
    }

    assert_eq!(daemon.sigterm().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn once_includes_waitlist_orders() {
    let sim = start_static_sim().await;
    sim.set_waitlist(Some(WaitlistSpec::seed()));
    let dir = dir_with_list(&waitlist_entry("一次"));
    let once = |json: bool| {
        let y = Yupiao::new(dir.path()).against(&sim).arg("once");
        if json { y.arg("--json") } else { y }
    };

    let out = once(true).env("YUPIAO__RAIL__COOKIE", COOKIE).run().await;
    out.assert_code(0);
    let lines = out.json();
    assert_eq!(lines.len(), 1, "{out}");
    assert_eq!(lines[0], seed_line("一次"), "{out}");
    assert_eq!(queue_requests(&sim), 1);

    let out = once(false).env("YUPIAO__RAIL__COOKIE", COOKIE).run().await;
    out.assert_code(0);
    assert!(
        out.stdout.contains(&format!(
            "候补 一次: {RESERVE_NO} 待支付  请在 03-23 15:00 前支付订金 ¥1748.0  [G105 2020-03-25 商务座 候补人数中等]"
        )),
        "{out}"
    );

    // The same through cookie_file.
    let file = write_file(dir.path(), "cookie.txt", COOKIE);
    let out = once(true)
        .env("YUPIAO__RAIL__COOKIE_FILE", &file.display().to_string())
        .run()
        .await;
    out.assert_code(0);
    assert_eq!(out.json(), vec![seed_line("一次")], "{out}");

    // No cookie: an error line that says what to set, and exit 1.
    let out = once(true).run().await;
    out.assert_code(1);
    let lines = out.json();
    assert_eq!(lines.len(), 1, "{out}");
    assert_eq!(lines[0]["waitlist"], "一次", "{out}");
    assert!(str_of(&lines[0], "error").contains("[rail] cookie"), "{out}");
    assert!(out.stderr.contains("1 of 1 候补 checks failed"), "{out}");

    // Logged out: an error line that says so, and exit 1; the cookie is not printed.
    sim.expire_session();
    let out = once(true).env("YUPIAO__RAIL__COOKIE", COOKIE).run().await;
    out.assert_code(1);
    let lines = out.json();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(str_of(&lines[0], "error").contains("session expired"), "{out}");
    assert!(!out.all_text().contains("e2eTK7f3a"), "{out}");
}

/// The `once --json` line of seed 000's order, exactly.
fn seed_line(name: &str) -> Value {
    serde_json::json!({
        "waitlist": name,
        "reserve_no": RESERVE_NO,
        "status_code": "01",
        "status_name": "待支付",
        "prepay_amount": "1748.0",
        "pay_before": "2020-03-23T15:00:37.476+08:00",
        "realize_limit": "2020-03-24 23:30:00",
        "needs": [{
            "train": "G105",
            "date": "2020-03-25",
            "seat": "商务座",
            "queue_level": "2",
            "queue_info": "候补人数中等",
        }],
    })
}

// ---- a bare 12306 that answers with given bodies ------------------------------------------------

/// The seed's real body: the JSON between the ```js fences of seed 000.
fn seed_body() -> String {
    let seed = include_str!("fixtures/seed_000_afterNateOrder_queryQueue.txt");
    let start = seed.find("``` js").expect("seed has a js fence") + "``` js".len();
    let end = start + seed[start..].find("```").expect("seed fence is closed");
    seed[start..end].trim().to_string()
}

/// What the bare server answers to `queryQueue`: content type and body (status 200).
type Answer = Arc<Mutex<(&'static str, String)>>;

/// Serves `answer` at `queryQueue` (everything else is 404); returns its base URL.
async fn bare_rail(answer: Answer) -> String {
    use axum::routing::post;
    let app = axum::Router::new().route(
        QUEUE,
        post(move || {
            let answer = answer.clone();
            async move {
                let (ct, body) = answer.lock().unwrap().clone();
                ([(axum::http::header::CONTENT_TYPE, ct)], body)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_real_client_decodes_the_seeds_real_body_and_every_logged_out_shape() {
    let answer: Answer = Arc::new(Mutex::new(("application/json;charset=UTF-8", seed_body())));
    let url = bare_rail(answer.clone()).await;
    let dir = dir_with_list(&waitlist_entry("种子"));
    let once = || {
        Yupiao::new(dir.path())
            .env("YUPIAO__UPSTREAM__RAIL_URL", &url)
            .env("YUPIAO__UPSTREAM__MIN_INTERVAL", MIN_INTERVAL)
            .env("YUPIAO__UPSTREAM__JITTER", "0s")
            .env("YUPIAO__RAIL__COOKIE", COOKIE)
            .args(["once", "--json"])
    };

    // The seed's own bytes decode to the same line as the simulator's seed-shaped answer.
    let out = once().run().await;
    out.assert_code(0);
    assert_eq!(out.json(), vec![seed_line("种子")], "{out}");

    // The HTML login page and login_flag:false are an expired session, not a crash or a parse
    // error.
    let login_flag = r#"{"validateMessagesShowId":"_validatorMessage","status":true,"httpstatus":200,"data":{"login_flag":false},"messages":[],"validateMessages":{}}"#;
    for (ct, body, why) in [
        (
            "text/html;charset=utf-8",
            "<!DOCTYPE html><html><head><title>登录 | 客运服务 | 铁路12306</title></head><body>请登录</body></html>",
            "HTML page",
        ),
        ("application/json;charset=UTF-8", login_flag, "login_flag:false"),
    ] {
        *answer.lock().unwrap() = (ct, body.to_string());
        let out = once().run().await;
        out.assert_code(1);
        let lines = out.json();
        assert_eq!(lines.len(), 1, "{out}");
        let error = str_of(&lines[0], "error");
        assert!(
            error.contains("session expired") && error.contains(why),
            "{why}: {out}"
        );
    }
}
