//! 抢票 end to end: `yupiao run` with a grab watch against the simulator's 12306 *and* Juhe
//! (same port), a real SMTP server and a SQLite file. Checked through what Juhe saw (create
//! calls, orders, pushes), the emails that arrive, `yupiao orders` and the database.
//!
//! The simulated Juhe runs each order through N → D → outcome on short delays; every wait below
//! is "until something happened", with a generous timeout.

mod common;

use std::time::Duration;

use chrono::{Datelike as _, NaiveDate};
use common::*;
use serde_json::{Value, json};
use yupiao::notify::smtp_test_server::TestSmtpServer;
use yupiao::seat::SeatClass;
use yupiao::sim::{CreateFault, JUHE_DEFAULT_KEY, JuheCreateCall, JuheDelays, JuheOutcome, Sim};
use yupiao::store::GrabOrder;

/// Upper bound for anything that should take a few polls or a few order steps.
const WAIT: Duration = Duration::from_secs(40);

/// Synthetic, GB 11643 checksum-valid.
const ID: &str = "110101199003074514";
const ID_MASKED: &str = "1101***********514";
const PHONE: &str = "13812345678";
const PHONE_MASKED: &str = "138****5678";
const TRAIN: &str = "G8294";

/// Subjects of order emails start with this.
const ORDER: &str = "【抢票】";

fn fast() -> JuheDelays {
    JuheDelays {
        grab_after: Duration::from_secs(1),
        finish_after: Duration::from_secs(2),
        refund_after: Duration::from_secs(1),
    }
}

/// A grab watch for G8294 上海→常州 二等座 on `dates`, polled every second, for 张三.
fn grab_watch(name: &str, dates: &[NaiveDate]) -> String {
    let spec = WatchSpec::new(name, "上海", "常州", dates)
        .trains(&[TRAIN])
        .seats(&["二等座"])
        .set("cron", EVERY_SECOND)
        .set("action", "\"grab\"");
    format!(
        "{}\n[[watch.passenger]]\nname = \"张三\"\nid_no = \"{ID}\"\n",
        spec.to_toml()
    )
}

fn sold_out(sim: &Sim, dates: &[NaiveDate]) {
    for d in dates {
        sim.set_seat(TRAIN, Some(*d), SeatClass::Second, "无");
    }
}

fn seats(sim: &Sim, d: NaiveDate) {
    sim.set_seat(TRAIN, Some(d), SeatClass::Second, "3");
}

/// One test's world: the simulator, a mail server, a directory with the watch list and the
/// daemon's settings (Juhe on, the simulator's key, polling `orderDetail` every second).
struct World {
    sim: Sim,
    smtp: TestSmtpServer,
    _dir: tempfile::TempDir,
    setup: DaemonSetup,
}

impl World {
    async fn new(watchlist: &str) -> World {
        let sim = start_static_sim().await;
        sim.juhe_set_delays(fast());
        let smtp = TestSmtpServer::start().expect("start aiosmtpd");
        let dir = tempfile::tempdir().expect("temp dir");
        write_watchlist(dir.path(), watchlist);
        let setup = DaemonSetup::new(dir.path(), &sim)
            .smtp(smtp.port)
            .env("YUPIAO__DAEMON__ALERT_MIN_GAP", "1s")
            .env("YUPIAO__UPSTREAM__JUHE_URL", &sim.base_url())
            .env("YUPIAO__JUHE__ENABLED", "true")
            .env("YUPIAO__JUHE__KEY", JUHE_DEFAULT_KEY)
            .env("YUPIAO__JUHE__PERSON", "张三")
            .env("YUPIAO__JUHE__CELLPHONE", PHONE)
            .env("YUPIAO__JUHE__POLL_EVERY", "1s");
        World {
            sim,
            smtp,
            _dir: dir,
            setup,
        }
    }

    fn env(mut self, key: &str, value: &str) -> World {
        self.setup = self.setup.env(key, value);
        self
    }

    /// The receiver on a free port, registered with Juhe at that address.
    fn with_callback(self, token: Option<&str>) -> (World, u16) {
        let port = free_port();
        let w = self
            .env("YUPIAO__CALLBACK__LISTEN", &format!("127.0.0.1:{port}"))
            .env(
                "YUPIAO__CALLBACK__PUBLIC_URL",
                &format!("http://127.0.0.1:{port}"),
            );
        let w = match token {
            Some(t) => w.env("YUPIAO__CALLBACK__TOKEN", t),
            None => w,
        };
        (w, port)
    }

    fn mails(&self) -> Vec<Mail> {
        self.smtp
            .messages()
            .iter()
            .map(|raw| {
                let mut m = Mail::parse(raw);
                m.subject = subject_of(raw);
                m
            })
            .collect()
    }

    fn order_mails(&self) -> Vec<Mail> {
        self.mails()
            .into_iter()
            .filter(|m| m.subject.starts_with(ORDER))
            .collect()
    }

    fn creates(&self) -> Vec<JuheCreateCall> {
        self.sim.juhe_create_calls()
    }

    /// Every grab order in the database, newest first (none while the daemon is still creating
    /// the file: it exists a moment before its schema does).
    fn orders(&self) -> Vec<GrabOrder> {
        if !self.setup.db_path().exists() {
            return Vec::new();
        }
        match yupiao::store::Store::open_read_only(&self.setup.db_path()) {
            Err(yupiao::store::StoreError::Missing { .. }) => Vec::new(),
            _ => self.setup.store().grab_orders().unwrap_or_default(),
        }
    }

    fn order_on(&self, d: NaiveDate) -> Option<GrabOrder> {
        self.orders().into_iter().find(|o| o.date == d)
    }

    async fn cli(&self, args: &[&str]) -> Output {
        self.setup.yupiao().args(args).run().await
    }
}

/// Waits for an order email whose subject starts with `【抢票】{head}` and mentions `date`.
async fn wait_mail(daemon: &mut Daemon, w: &World, head: &str, d: NaiveDate) -> Mail {
    let prefix = format!("{ORDER}{head}");
    let day = mm_dd(d);
    daemon
        .wait_until(&format!("a {prefix} email for {day}"), WAIT, async || {
            w.order_mails()
                .into_iter()
                .find(|m| m.subject.starts_with(&prefix) && m.subject.ends_with(&day))
        })
        .await
}

/// Waits until the daemon's order for `d` is in `state`.
async fn wait_state(daemon: &mut Daemon, w: &World, d: NaiveDate, state: &str) -> GrabOrder {
    daemon
        .wait_until(&format!("the order for {d} in state {state}"), WAIT, async || {
            w.order_on(d).filter(|o| o.state.code() == state)
        })
        .await
}

/// Waits until the simulator has received `n` createOrder calls.
async fn wait_creates(daemon: &mut Daemon, w: &World, n: usize) -> Vec<JuheCreateCall> {
    daemon
        .wait_until(&format!("{n} createOrder call(s)"), WAIT, async || {
            let calls = w.creates();
            (calls.len() >= n).then_some(calls)
        })
        .await
}

fn subject_of(raw: &str) -> String {
    Mail::parse(raw).subject
}

fn mm_dd(d: NaiveDate) -> String {
    format!("{:02}月{:02}日", d.month(), d.day())
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// Everything a user could read: decoded emails (subject, text, HTML) and the log.
fn assert_masked(what: &str, text: &str) {
    assert!(!text.contains(ID), "a whole ID number in {what}:\n{text}");
    assert!(!text.contains(PHONE), "a whole phone number in {what}:\n{text}");
}

fn assert_all_mail_masked(w: &World) {
    for m in w.mails() {
        assert_masked("an email", &format!("{}\n{}\n{}", m.subject, m.text, m.html));
        assert_masked("a raw email", &m.raw);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn seats_appearing_place_exactly_one_order_and_a_push_confirms_the_ticket() {
    let d = day(2);
    // orderDetail only every hour: only the push can make the daemon look at the order again.
    let (w, port) = World::new(&grab_watch("回家抢票", &[d]))
        .await
        .env("YUPIAO__JUHE__POLL_EVERY", "1h")
        .with_callback(None);
    sold_out(&w.sim, &[d]);
    let mut daemon = w.setup.start();

    // Types 1, 2 and 3 registered, each at a URL with the (generated) token.
    let log_path = daemon.log_path();
    daemon
        .wait_until("three push URL registrations", WAIT, async || {
            let log = std::fs::read_to_string(&log_path).ok()?;
            (count(&log, "registered the Juhe push URL") == 3).then_some(())
        })
        .await;
    for kind in ["kind=1", "kind=2", "kind=3"] {
        assert!(
            daemon
                .log()
                .lines()
                .any(|l| l.contains("registered the Juhe push URL") && l.contains(kind)),
            "{kind} not registered:\n{}",
            daemon.log()
        );
    }
    assert!(w.creates().is_empty(), "no seats, no order");

    seats(&w.sim, d);
    let calls = wait_creates(&mut daemon, &w, 1).await;
    let call = &calls[0];
    assert!(call.answer.starts_with("created TFT"), "{call:?}");
    let p = &call.params;
    let param = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
    let query_key = param("queryKey");
    assert!(
        query_key.len() == 32 && query_key.chars().all(|c| c.is_ascii_hexdigit()),
        "the queryKey of a simulator search (which accepted it): {query_key:?}"
    );
    let out = param("outOrderNo").to_string();
    assert!(
        (6..=32).contains(&out.len()) && out.chars().all(|c| c.is_ascii_alphanumeric()),
        "{out}"
    );
    assert_eq!(call.method, "POST");
    assert_eq!(param("mainTrainNo"), TRAIN);
    assert_eq!(param("mainSeatClass"), "secondseat");
    assert_eq!(param("trainNo"), TRAIN);
    assert_eq!(param("seatClassCode"), "secondseat");
    assert_eq!(param("fromStation"), "上海", "the station name of the search");
    assert_eq!(param("toStation"), "常州");
    assert_eq!(param("departDate"), ymd(d));
    assert_eq!(
        param("closeTime"),
        format!("{} 11:44:00", ymd(d)),
        "3 h before 14:44"
    );
    assert_eq!(param("acceptNoSeat"), "0");
    assert_eq!(param("ticketModel"), "0");
    assert_eq!(param("person"), "张三");
    assert_eq!(param("cellphone"), PHONE_MASKED, "sent whole, recorded masked");
    let passengers: Value = serde_json::from_str(param("passengers")).expect("passengers JSON");
    assert_eq!(
        passengers,
        json!([{
            "passengerName": "张三",
            "passengerType": "1",
            "idCardType": "1",
            "idCardNo": ID_MASKED,
            "birthday": "1990-03-07",
        }]),
        "the simulator masks the ID it received"
    );

    // Juhe issues the ticket and pushes; the daemon confirms with orderDetail.
    let mail = wait_mail(&mut daemon, &w, "出票成功", d).await;
    let orders = w.sim.juhe_orders();
    assert_eq!(orders.len(), 1, "{orders:#?}");
    let sim_order = &orders[0];
    assert_eq!(sim_order.out_order_no, out);
    assert_eq!(sim_order.status, "F");
    let pushes = w.sim.juhe_pushes();
    let issue_push = pushes
        .iter()
        .find(|p| p.kind == 1 && p.body["outOrderNo"] == out.as_str())
        .unwrap_or_else(|| panic!("no type-1 push: {pushes:#?}"));
    assert_eq!(issue_push.status, Some(200), "{issue_push:?}");
    let url = issue_push.url.clone().unwrap_or_default();
    assert!(
        url.starts_with(&format!("http://127.0.0.1:{port}/juhe/")) && url.ends_with("/1"),
        "{url}"
    );
    let row = w.order_on(d).expect("the order");
    let events = w.setup.store().grab_events(&out).expect("events");
    assert!(
        events
            .iter()
            .any(|e| e.note.starts_with("push type 1 msgCode 100 received")),
        "the push made the daemon look: {events:#?}"
    );
    assert_eq!(row.state.code(), "F");

    assert_eq!(
        mail.subject,
        format!("【抢票】出票成功 G8294 上海→常州 {}", mm_dd(d))
    );
    let ticket = sim_order.ticket_no.clone().expect("a ticket number");
    for needle in [
        "出票成功",
        out.as_str(),
        "出票车次：G8294",
        &format!("取票号（12306 订单号）：{ticket}"),
        "票款：¥91.0",
        "07车厢,009号",
        ID_MASKED,
    ] {
        assert!(mail.text.contains(needle), "{needle:?} missing:\n{}", mail.text);
    }
    assert!(mail.html.contains("07车厢,009号"), "{}", mail.html);
    let created = w
        .order_mails()
        .into_iter()
        .filter(|m| m.subject.starts_with("【抢票】抢票单已创建"))
        .count();
    assert_eq!(created, 1, "{:#?}", w.order_mails());

    // `orders --json`, `orders` and `orders show`.
    let listed = w.cli(&["orders", "--json"]).await;
    listed.assert_code(0);
    let lines = listed.json();
    assert_eq!(lines.len(), 1, "{listed}");
    let o = &lines[0];
    assert_eq!(o["out_order_no"], out.as_str());
    assert_eq!(o["state"], "F");
    assert_eq!(o["ticket_no"], ticket.as_str());
    assert_eq!(o["seat_numbers"], json!(["07车厢,009号"]));
    assert_eq!(o["order_no"], sim_order.order_no.as_str());
    let text = w.cli(&["orders"]).await;
    text.assert_code(0);
    assert!(
        text.stdout.contains(&out) && text.stdout.contains("F 抢票成功"),
        "{text}"
    );
    let show = w.cli(&["orders", "show", &out]).await;
    show.assert_code(0);
    assert!(show.stdout.contains(ID_MASKED), "{show}");
    assert!(show.stdout.contains("07车厢,009号"), "{show}");
    for (what, text) in [
        ("orders --json", listed.all_text()),
        ("orders", text.all_text()),
        ("orders show", show.all_text()),
    ] {
        assert_masked(what, &text);
    }

    assert_all_mail_masked(&w);
    assert_masked("the daemon log", &daemon.log());
    let log = daemon.log_path();
    assert_eq!(daemon.sigterm().await, Some(0));
    assert_masked(
        "the daemon log",
        &std::fs::read_to_string(log).unwrap_or_default(),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn polling_alone_reaches_every_end_state() {
    let (d1, d2, d3) = (day(2), day(3), day(4));
    let w = World::new(&grab_watch("轮询", &[d1, d2, d3])).await;
    // Long enough in 抢票中 for a poll (every second) to see it.
    w.sim.juhe_set_delays(JuheDelays {
        finish_after: Duration::from_secs(4),
        ..fast()
    });
    sold_out(&w.sim, &[d1, d2, d3]);
    let mut daemon = w.setup.start();

    // The outcome is fixed when an order is created: one date at a time.
    for (n, (d, outcome)) in [
        (d1, JuheOutcome::Issue),
        (d2, JuheOutcome::Fail("209".into())),
        (d3, JuheOutcome::Expire),
    ]
    .into_iter()
    .enumerate()
    {
        w.sim.juhe_set_outcome(Some(TRAIN), outcome);
        seats(&w.sim, d);
        wait_creates(&mut daemon, &w, n + 1).await;
    }

    let issued = wait_mail(&mut daemon, &w, "出票成功", d1).await;
    assert!(issued.text.contains("07车厢,009号"), "{}", issued.text);
    let failed = wait_mail(&mut daemon, &w, "出票失败", d2).await;
    assert!(
        failed.text.contains("出票失败：该坐席已售完"),
        "Juhe's reason, from the msgCode table:\n{}",
        failed.text
    );
    let expired = wait_mail(&mut daemon, &w, "已过期", d3).await;
    assert!(expired.text.contains("抢票单已过期"), "{}", expired.text);
    for d in [d1, d2, d3] {
        wait_mail(&mut daemon, &w, "抢票单已创建", d).await;
        wait_mail(&mut daemon, &w, "抢票中", d).await;
    }
    for (d, state) in [(d1, "F"), (d2, "U"), (d3, "O")] {
        wait_state(&mut daemon, &w, d, state).await;
    }
    assert_eq!(w.sim.juhe_orders().len(), 3);
    assert_eq!(w.creates().len(), 3, "{:#?}", w.creates());
    let pushes = w.sim.juhe_pushes();
    assert!(
        pushes.iter().all(|p| p.url.is_none()),
        "no receiver, nothing registered: {pushes:#?}"
    );
    assert_all_mail_masked(&w);
    assert_masked("the daemon log", &daemon.log());
    assert_eq!(daemon.sigterm().await, Some(0));
}

/// Waits for the first seat alert, then takes the seats away and brings them back, and waits for
/// the second alert: the moment the daemon considers a second order.
async fn seats_go_and_come_back(daemon: &mut Daemon, w: &World, d: NaiveDate) {
    let alerts = || {
        w.mails()
            .iter()
            .filter(|m| m.subject.starts_with("【余票】"))
            .count()
    };
    daemon
        .wait_until("the first alert", WAIT, async || (alerts() >= 1).then_some(()))
        .await;
    w.sim.set_seat(TRAIN, Some(d), SeatClass::Second, "无");
    daemon.wait_for_log("left=无 available=false", WAIT).await;
    seats(&w.sim, d);
    daemon
        .wait_until("the second alert", WAIT, async || (alerts() >= 2).then_some(()))
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn one_live_order_per_watch_and_date() {
    let d = day(2);
    let w = World::new(&grab_watch("一单", &[d])).await;
    // The order stays 抢票中 for the whole test.
    w.sim.juhe_set_delays(JuheDelays {
        finish_after: Duration::from_secs(600),
        ..fast()
    });
    sold_out(&w.sim, &[d]);
    let mut daemon = w.setup.start();

    seats(&w.sim, d);
    wait_creates(&mut daemon, &w, 1).await;
    wait_state(&mut daemon, &w, d, "D").await;

    // The seats go and come back: a second alert, and the daemon considers a second order.
    seats_go_and_come_back(&mut daemon, &w, d).await;
    daemon
        .wait_for_log("enough orders are already live for this date", WAIT)
        .await;

    assert_eq!(w.creates().len(), 1, "{:#?}", w.creates());
    assert_eq!(w.sim.juhe_orders().len(), 1);
    assert_eq!(w.orders().len(), 1);
    assert_eq!(daemon.sigterm().await, Some(0));
}

/// After 出票成功 the date is done: seats appearing again alert, but never buy a second ticket.
#[tokio::test(flavor = "multi_thread")]
async fn an_issued_ticket_ends_ordering_for_its_date() {
    let d = day(2);
    let w = World::new(&grab_watch("出票后", &[d])).await;
    w.sim.juhe_set_delays(fast());
    sold_out(&w.sim, &[d]);
    let mut daemon = w.setup.start();

    seats(&w.sim, d);
    wait_creates(&mut daemon, &w, 1).await;
    wait_state(&mut daemon, &w, d, "F").await;

    // The seats go and come back: a second alert, and the daemon considers a second order.
    seats_go_and_come_back(&mut daemon, &w, d).await;
    daemon
        .wait_for_log("this date is settled; no new order", WAIT)
        .await;

    assert_eq!(
        w.creates().len(),
        1,
        "no second createOrder after 出票成功: {:#?}",
        w.creates()
    );
    assert_eq!(w.sim.juhe_orders().len(), 1);
    assert_eq!(daemon.sigterm().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_create_that_times_out_is_adopted_not_repeated() {
    let d = day(2);
    let w = World::new(&grab_watch("超时", &[d]))
        .await
        .env("YUPIAO__UPSTREAM__TIMEOUT", "2s");
    // Juhe creates the order but the answer never comes.
    w.sim.juhe_fail_next_create(CreateFault::Timeout, true);
    sold_out(&w.sim, &[d]);
    let mut daemon = w.setup.start();
    seats(&w.sim, d);

    wait_creates(&mut daemon, &w, 1).await;
    daemon.wait_for_log("createOrder outcome unknown", WAIT).await;
    daemon
        .wait_for_log("adopted an order whose createOrder outcome was unknown", WAIT)
        .await;
    let row = wait_state(&mut daemon, &w, d, "F").await;
    wait_mail(&mut daemon, &w, "出票成功", d).await;

    let orders = w.sim.juhe_orders();
    assert_eq!(orders.len(), 1, "{orders:#?}");
    assert_eq!(orders[0].out_order_no, row.out_order_no);
    assert_eq!(row.order_no.as_deref(), Some(orders[0].order_no.as_str()));
    let calls = w.creates();
    assert!(
        calls
            .iter()
            .all(|c| c.params.get("outOrderNo") == Some(&row.out_order_no)),
        "every create under one outOrderNo: {calls:#?}"
    );
    assert_eq!(calls.len(), 1, "adopted, never sent again: {calls:#?}");
    assert_eq!(w.orders().len(), 1);
    let created = w
        .order_mails()
        .into_iter()
        .filter(|m| m.subject.starts_with("【抢票】抢票单已创建"))
        .count();
    assert_eq!(created, 1, "{:#?}", w.order_mails());
    assert_eq!(daemon.sigterm().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_daemon_killed_during_create_is_restarted_without_a_second_order() {
    let d = day(2);
    let w = World::new(&grab_watch("崩溃", &[d])).await;
    // The create hangs (Juhe never got it): the daemon dies while waiting.
    w.sim.juhe_fail_next_create(CreateFault::Timeout, false);
    sold_out(&w.sim, &[d]);
    let mut daemon = w.setup.start();
    seats(&w.sim, d);
    daemon.wait_for_log("grab intent stored", WAIT).await;
    wait_creates(&mut daemon, &w, 1).await;
    let intent = w.order_on(d).expect("the intent is stored before createOrder");
    // Still `intent`, unless the follower already resubmitted it (see
    // a_create_still_in_flight_is_not_sent_again).
    assert!(["intent", "N", "D"].contains(&intent.state.code()), "{intent:?}");
    assert_eq!(
        w.creates()[0].params.get("outOrderNo"),
        Some(&intent.out_order_no)
    );
    let first_log = daemon.log_path();
    daemon.kill9();

    let mut daemon = w.setup.start();
    let row = wait_state(&mut daemon, &w, d, "F").await;
    wait_mail(&mut daemon, &w, "出票成功", d).await;
    assert_eq!(
        row.out_order_no, intent.out_order_no,
        "the same number throughout"
    );
    let orders = w.sim.juhe_orders();
    assert_eq!(orders.len(), 1, "{orders:#?}");
    assert_eq!(orders[0].out_order_no, intent.out_order_no);
    let calls = w.creates();
    assert!(
        calls
            .iter()
            .all(|c| c.params.get("outOrderNo") == Some(&intent.out_order_no)),
        "never a new outOrderNo: {calls:#?}"
    );
    assert_eq!(calls.iter().filter(|c| c.created).count(), 1, "{calls:#?}");
    assert_eq!(w.orders().len(), 1, "one order in the database");
    // Resubmitted after asking orderDetail: by the restarted daemon, or (see
    // a_create_still_in_flight_is_not_sent_again) already by the first one before it died.
    let logs = format!(
        "{}\n{}",
        std::fs::read_to_string(&first_log).unwrap_or_default(),
        daemon.log()
    );
    assert!(
        logs.contains("Juhe has no such order: submitting the same outOrderNo again"),
        "{logs}"
    );
    assert_eq!(daemon.sigterm().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_create_still_in_flight_is_not_sent_again() {
    // createOrder may take a while; until it answers (or times out) its outcome is not
    // "unknown" yet, and a second create, even under the same outOrderNo, must not be sent.
    let d = day(2);
    let w = World::new(&grab_watch("在途", &[d]))
        .await
        .env("YUPIAO__UPSTREAM__TIMEOUT", "6s");
    w.sim.juhe_fail_next_create(CreateFault::Timeout, false);
    sold_out(&w.sim, &[d]);
    let mut daemon = w.setup.start();
    seats(&w.sim, d);
    wait_creates(&mut daemon, &w, 1).await;
    daemon.wait_for_log("createOrder outcome unknown", WAIT).await;
    let calls = w.creates();
    assert_eq!(
        calls.len(),
        1,
        "a second createOrder was sent while the first was still in flight: {calls:#?}\n--- log ---\n{}",
        daemon.log()
    );
    // Afterwards Juhe says it has no such order: the same number is submitted again, once.
    let row = wait_state(&mut daemon, &w, d, "F").await;
    assert_eq!(w.sim.juhe_orders().len(), 1);
    assert!(
        w.creates()
            .iter()
            .all(|c| c.params.get("outOrderNo") == Some(&row.out_order_no))
    );
    assert_eq!(daemon.sigterm().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicate_and_forged_pushes_change_nothing() {
    let d = day(2);
    let token = "s3cret-token-0123456789";
    let (w, port) = World::new(&grab_watch("推送", &[d]))
        .await
        .env("YUPIAO__JUHE__POLL_EVERY", "1h")
        .with_callback(Some(token));
    sold_out(&w.sim, &[d]);
    let mut daemon = w.setup.start();
    let log_path = daemon.log_path();
    daemon
        .wait_until("three push URL registrations", WAIT, async || {
            let log = std::fs::read_to_string(&log_path).ok()?;
            (count(&log, "registered the Juhe push URL") == 3).then_some(())
        })
        .await;
    seats(&w.sim, d);
    wait_mail(&mut daemon, &w, "出票成功", d).await;
    let row = wait_state(&mut daemon, &w, d, "F").await;
    let out = row.out_order_no.clone();
    let push_events = |w: &World| -> Vec<String> {
        w.setup
            .store()
            .grab_events(&out)
            .expect("events")
            .into_iter()
            .map(|e| e.note)
            .filter(|n| n.starts_with("push type"))
            .collect()
    };
    assert_eq!(push_events(&w).len(), 1, "{:?}", push_events(&w));
    let mails_before = w.mails().len();

    // The same push again: answered, recorded nowhere, no second look, no second email.
    let again = w.sim.juhe_resend_last_push().await.expect("a push to resend");
    assert!(again.resent);
    assert_eq!(again.status, Some(200), "{again:?}");
    daemon.wait_for_log("duplicate Juhe push ignored", WAIT).await;
    assert_eq!(push_events(&w).len(), 1, "{:?}", push_events(&w));

    // A push for an order yupiao never placed: 200 (so Juhe stops), logged, ignored.
    let forged = w
        .sim
        .juhe_send_push(
            1,
            json!({"orderNo": "TFTFORGED", "outOrderNo": "YPFORGED000000000001", "msgCode": "100", "msgInfo": "出票成功"}),
        )
        .await
        .expect("sent");
    assert_eq!(forged.status, Some(200), "{forged:?}");
    daemon
        .wait_for_log("push for an order yupiao never placed; ignored", WAIT)
        .await;
    assert!(w.order_on(d).is_some_and(|o| o.out_order_no == out));
    assert_eq!(w.orders().len(), 1);

    // A forged failure for the real order: only a hint; orderDetail still says F.
    let lie = w
        .sim
        .juhe_send_push(
            1,
            json!({"orderNo": row.order_no, "outOrderNo": out, "msgCode": "209", "msgInfo": "该坐席已售完"}),
        )
        .await
        .expect("sent");
    assert_eq!(lie.status, Some(200));
    let out2 = out.clone();
    let setup = w.setup.clone();
    daemon
        .wait_until(
            "the forged push to be checked against orderDetail",
            WAIT,
            async || {
                let o = setup.store().grab_order(&out2).ok()??;
                let checked = o.next_check_at > yupiao::clock::now() + chrono::TimeDelta::days(1)
                    && o.updated_at > row.updated_at;
                let noted = setup
                    .store()
                    .grab_events(&out2)
                    .ok()?
                    .iter()
                    .any(|e| e.note.starts_with("push type 1 msgCode 209"));
                (checked && noted).then_some(o)
            },
        )
        .await;
    assert_eq!(w.order_on(d).expect("order").state.code(), "F");

    // Strangers: wrong token → 404; garbage on the right path → 4xx.
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let body = json!({"outOrderNo": out, "msgCode": "100"}).to_string();
    let wrong = http
        .post(format!("{base}/juhe/not-the-token/1"))
        .body(body.clone())
        .send()
        .await
        .expect("POST");
    assert_eq!(wrong.status().as_u16(), 404);
    let bad_kind = http
        .post(format!("{base}/juhe/{token}/9"))
        .body(body)
        .send()
        .await
        .expect("POST");
    assert_eq!(bad_kind.status().as_u16(), 404);
    let garbage = http
        .post(format!("{base}/juhe/{token}/1"))
        .body("<<not a push>>")
        .send()
        .await
        .expect("POST");
    assert!(garbage.status().is_client_error(), "{}", garbage.status());

    assert_eq!(w.orders().len(), 1);
    assert_eq!(w.order_on(d).expect("order").state.code(), "F");
    assert!(
        w.order_mails()
            .iter()
            .all(|m| !m.subject.starts_with("【抢票】出票失败")),
        "{:#?}",
        w.order_mails()
    );
    let store = w.setup.store();
    assert!(
        store.email(mails_before as i64 + 1).expect("outbox").is_none(),
        "no email queued after the issue: {:?}",
        store.email(mails_before as i64 + 1)
    );
    assert_eq!(daemon.sigterm().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_and_refund_from_the_command_line() {
    let (d1, d2) = (day(2), day(3));
    let w = World::new(&grab_watch("退改", &[d1, d2])).await;
    // First order: it keeps grabbing until cancelled.
    w.sim.juhe_set_delays(JuheDelays {
        finish_after: Duration::from_secs(600),
        ..fast()
    });
    sold_out(&w.sim, &[d1, d2]);
    let mut daemon = w.setup.start();
    seats(&w.sim, d1);
    let grabbing = wait_state(&mut daemon, &w, d1, "D").await;
    let a = grabbing.out_order_no.clone();

    let cancel = w.cli(&["orders", "cancel", &a]).await;
    cancel.assert_code(0);
    assert!(cancel.stdout.contains("cancel requested"), "{cancel}");
    wait_mail(&mut daemon, &w, "已取消", d1).await;
    wait_state(&mut daemon, &w, d1, "C").await;
    assert_eq!(w.sim.juhe_orders()[0].status, "C");
    let again = w.cli(&["orders", "cancel", &a]).await;
    again.assert_code(1);
    assert!(
        again.stderr.contains(&a) && again.stderr.contains("已取消"),
        "says why: {again}"
    );

    // Second order: issued quickly.
    w.sim.juhe_set_delays(fast());
    seats(&w.sim, d2);
    wait_state(&mut daemon, &w, d2, "F").await;
    let b = w.order_on(d2).expect("order B").out_order_no;
    let show = w.cli(&["orders", "show", &b]).await;
    show.assert_code(0);
    let passenger_id = show
        .stdout
        .split("(passengerId ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .unwrap_or_else(|| panic!("no passengerId in: {show}"))
        .to_string();
    let sim_b = w
        .sim
        .juhe_orders()
        .into_iter()
        .find(|o| o.out_order_no == b)
        .expect("B at Juhe");
    assert_eq!(passenger_id, sim_b.passengers[0].passenger_id);

    let cancel_issued = w.cli(&["orders", "cancel", &b]).await;
    cancel_issued.assert_code(1);
    assert!(
        cancel_issued.stderr.contains("yupiao orders refund"),
        "points to refund: {cancel_issued}"
    );
    let wrong = w.cli(&["orders", "refund", &b, "999"]).await;
    wrong.assert_code(1);
    assert!(wrong.stderr.contains(&passenger_id), "{wrong}");

    let refund = w.cli(&["orders", "refund", &b, &passenger_id]).await;
    refund.assert_code(0);
    assert!(refund.stdout.contains("refund requested"), "{refund}");
    let refunded = daemon
        .wait_until("the 已退票 email for the ticket", WAIT, async || {
            w.order_mails()
                .into_iter()
                .find(|m| m.subject.starts_with("【抢票】已退票") && m.text.contains("张三 的车票：已退票"))
        })
        .await;
    assert!(refunded.subject.ends_with(&mm_dd(d2)), "{}", refunded.subject);
    wait_state(&mut daemon, &w, d2, "T").await;
    let again = w.cli(&["orders", "refund", &b, &passenger_id]).await;
    again.assert_code(1);
    assert!(again.stderr.contains("only issued orders"), "{again}");

    assert_eq!(w.sim.juhe_orders().len(), 2);
    assert_eq!(w.creates().len(), 2);
    for out in [&cancel, &again, &cancel_issued, &refund, &show] {
        assert_masked("orders output", &out.all_text());
    }
    assert_all_mail_masked(&w);
    assert_eq!(daemon.sigterm().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_grab_watch_with_orders_disabled_only_alerts_and_says_so() {
    let d = day(2);
    let w = World::new(&grab_watch("只提醒", &[d]))
        .await
        .env("YUPIAO__JUHE__ENABLED", "false");
    sold_out(&w.sim, &[d]);
    let mut daemon = w.setup.start();
    seats(&w.sim, d);
    let alert = daemon
        .wait_until("the alert", WAIT, async || {
            w.mails().into_iter().find(|m| m.subject.starts_with("【余票】"))
        })
        .await;
    assert!(
        alert.text.contains("[juhe] enabled = false") && alert.text.contains("没有下单"),
        "{}",
        alert.text
    );
    daemon
        .wait_for_log("[juhe] enabled = false, so it only alerts", WAIT)
        .await;
    assert!(w.creates().is_empty(), "{:#?}", w.creates());
    assert!(w.orders().is_empty());
    assert!(w.order_mails().is_empty());
    assert_eq!(daemon.sigterm().await, Some(0));
}
