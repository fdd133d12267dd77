//! `yupiao run` end to end: the real binary as a child process against the in-process simulator,
//! a real SMTP server (aiosmtpd) and a SQLite file, checked through the emails that arrive, what
//! `yupiao status` reports, the database and what the simulator saw on the wire.
//!
//! Watches poll every second (cron), so every wait below is "until something happened", with a
//! generous timeout; no assertion depends on how fast the machine is.

mod common;

use std::time::Duration;

use chrono::{Datelike as _, NaiveDate, TimeDelta};
use common::*;
use serde_json::Value;
use yupiao::notify::smtp_test_server::TestSmtpServer;
use yupiao::seat::SeatClass;
use yupiao::sim::{FailureMode, Sim};

/// Upper bound for anything that should take a few polls.
const WAIT: Duration = Duration::from_secs(20);

/// `alert_min_gap` for most tests: short enough to wait out.
const GAP: &str = "3s";

/// The watch of most tests: G8294 上海→常州, second class only, polled every second.
fn g8294(name: &str, date: NaiveDate) -> WatchSpec {
    WatchSpec::new(name, "上海", "常州", &[date])
        .trains(&["G8294"])
        .seats(&["二等座"])
        .set("cron", EVERY_SECOND)
}

/// leftTicket queries the simulator received for `date`, whatever it answered.
fn queries(sim: &Sim, date: NaiveDate) -> usize {
    queries_on(&sim.stats(), date).len()
}

/// Waits until the simulator has received `n` queries for `date`. Since one poller runs cycles
/// one after another, query `k + 1` arriving means poll `k` has been fully recorded.
async fn wait_queries(daemon: &mut Daemon, sim: &Sim, date: NaiveDate, n: usize) {
    let what = format!("{n} queries for {date}");
    daemon
        .wait_until(&what, WAIT, async || (queries(sim, date) >= n).then_some(()))
        .await
}

/// Waits until `more` further polls of `date` have been fully recorded.
async fn wait_more_polls(daemon: &mut Daemon, sim: &Sim, date: NaiveDate, more: usize) {
    let now = queries(sim, date);
    wait_queries(daemon, sim, date, now + more + 1).await
}

fn mm_dd(d: NaiveDate) -> String {
    format!("{:02}月{:02}日", d.month(), d.day())
}

fn subject_for(d: NaiveDate) -> String {
    format!("【余票】G8294 上海→常州 {} 二等座 有票", mm_dd(d))
}

/// The raw values G8294 二等座 went through, oldest first, from the history table.
fn second_class_history(setup: &DaemonSetup, watch: &str) -> Vec<(String, bool)> {
    let mut changes = setup
        .store()
        .recent_changes(watch, 100)
        .expect("read the history");
    changes.reverse();
    changes
        .into_iter()
        .filter(|c| c.key.train == "G8294" && c.key.seat == SeatClass::Second)
        .map(|c| (c.raw, c.available))
        .collect()
}

fn u64_of(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is not a number in {v}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn seats_appearing_send_exactly_one_email_with_the_right_content() {
    let sim = start_static_sim().await;
    let d = day(3);
    sim.set_seat("G8294", Some(d), SeatClass::Second, "无");
    let smtp = TestSmtpServer::start().expect("start aiosmtpd");
    let dir =
        dir_with(&[g8294("沪常", d).set("notify", &toml_strs(["alice@example.com", "bob@example.com"]))]);
    let setup = DaemonSetup::new(dir.path(), &sim)
        .smtp(smtp.port)
        .env("YUPIAO__DAEMON__ALERT_MIN_GAP", GAP);
    let mut daemon = setup.start();

    // Sold out is the first thing the daemon sees: nothing to tell anyone.
    wait_queries(&mut daemon, &sim, d, 2).await;
    assert!(smtp.messages().is_empty(), "{:?}", smtp.messages());

    sim.set_seat("G8294", Some(d), SeatClass::Second, "3");
    let raw = daemon
        .wait_until("the alert email", WAIT, async || {
            smtp.messages().into_iter().next()
        })
        .await;
    let mail = Mail::parse(&raw);
    assert_eq!(mail.subject, subject_for(d), "{raw}");
    let to = mail.header("To").unwrap_or_default();
    assert!(
        to.contains("alice@example.com") && to.contains("bob@example.com"),
        "the watch's notify list, not [email] to: {to}"
    );
    assert!(!to.contains("traveller@example.com"), "{to}");
    let rcpt = mail.header("X-RcptTo").unwrap_or_default();
    assert!(
        rcpt.contains("alice@example.com") && rcpt.contains("bob@example.com"),
        "both were SMTP recipients: {rcpt}"
    );
    let text = &mail.text;
    assert!(text.contains("监控「沪常」发现余票"), "{text}");
    assert!(text.contains("G8294"), "{text}");
    assert!(text.contains("14:44 开 → 15:53 到"), "{text}");
    assert!(text.contains("二等座  3张  ¥91.0"), "{text}");
    let link = format!(
        "{}/otn/leftTicket/init?linktypeid=dc&fs=%E4%B8%8A%E6%B5%B7,SHH&ts=%E5%B8%B8%E5%B7%9E,CZH&date={}&flag=N,N,Y",
        sim.base_url(),
        ymd(d)
    );
    assert!(text.contains(&link), "booking link {link} missing from:\n{text}");
    assert!(mail.html.contains("G8294"), "{}", mail.html);
    assert!(mail.html.contains(&sim.base_url()), "{}", mail.html);

    // The seats stay: more polls, visible as `last_poll` moving, and no second email.
    let before = setup.status_json().await;
    let last_poll = watch_of(&before, "沪常")["last_poll"].clone();
    assert!(last_poll.is_string(), "{before:#}");
    wait_more_polls(&mut daemon, &sim, d, 4).await;
    let after = setup.status_json().await;
    let w = watch_of(&after, "沪常");
    assert_ne!(w["last_poll"], last_poll, "polling went on: {after:#}");
    assert_eq!(smtp.messages().len(), 1, "{:#?}", smtp.messages());
    assert_eq!(u64_of(w, "alerts_sent"), 1, "{after:#}");
    assert_eq!(u64_of(w, "alerts_pending"), 0, "{after:#}");
    assert_eq!(
        w["available"],
        serde_json::json!([format!("{} G8294 二等座 3", ymd(d))])
    );

    assert_eq!(daemon.sigterm().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn seats_going_and_coming_back_alert_again_after_the_gap() {
    // A longer gap than elsewhere so that the return surely falls inside it (polls are a second
    // apart): the second alert must then wait for the gap to end.
    let gap = TimeDelta::seconds(5);
    let sim = start_static_sim().await;
    let d = day(2);
    sim.set_seat("G8294", Some(d), SeatClass::Second, "无");
    let smtp = TestSmtpServer::start().expect("start aiosmtpd");
    let dir = dir_with(&[g8294("回家", d)]);
    let setup = DaemonSetup::new(dir.path(), &sim)
        .smtp(smtp.port)
        .env("YUPIAO__DAEMON__ALERT_MIN_GAP", "5s");
    let mut daemon = setup.start();
    wait_queries(&mut daemon, &sim, d, 2).await;

    sim.set_seat("G8294", Some(d), SeatClass::Second, "3");
    daemon
        .wait_until("the first alert", WAIT, async || {
            (smtp.messages().len() == 1).then_some(())
        })
        .await;

    sim.set_seat("G8294", Some(d), SeatClass::Second, "无");
    daemon
        .wait_until("the daemon to see the seats gone", WAIT, async || {
            let h = second_class_history(&setup, "回家");
            (h.last().map(|(raw, _)| raw.as_str()) == Some("无")).then_some(())
        })
        .await;
    sim.set_seat("G8294", Some(d), SeatClass::Second, "3");
    daemon
        .wait_until("the second alert", WAIT, async || {
            (smtp.messages().len() == 2).then_some(())
        })
        .await;

    let store = setup.store();
    let first = store.email(1).expect("read the outbox").expect("email 1");
    let second = store.email(2).expect("read the outbox").expect("email 2");
    assert_eq!(first.subject, subject_for(d));
    assert_eq!(second.subject, subject_for(d));
    assert!(
        second.created_at - first.created_at >= gap,
        "alerts {} and {} are closer than the gap",
        first.created_at,
        second.created_at
    );
    let history = second_class_history(&setup, "回家");
    let expected: Vec<(String, bool)> = [("无", false), ("3", true), ("无", false), ("3", true)]
        .iter()
        .map(|(r, a)| (r.to_string(), *a))
        .collect();
    assert_eq!(history, expected, "first seen, appeared, gone, back");
    let back_at = store
        .recent_changes("回家", 1)
        .expect("read the history")
        .first()
        .expect("the return is recorded")
        .at;
    assert!(
        back_at - first.created_at < gap,
        "precondition: the return ({back_at}) was seen inside the gap after {}",
        first.created_at
    );
    assert!(
        second.created_at > back_at,
        "the alert for the return was deferred to the end of the gap, not sent when seen"
    );
    let messages: Vec<Mail> = smtp.messages().iter().map(|m| Mail::parse(m)).collect();
    assert!(messages.iter().all(|m| m.subject == subject_for(d)));

    assert_eq!(daemon.sigterm().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_email_that_fails_while_smtp_is_down_arrives_when_it_is_back() {
    let sim = start_static_sim().await;
    let d = day(4);
    sim.set_seat("G8294", Some(d), SeatClass::Second, "无");
    let port = free_port();
    let dir = dir_with(&[g8294("出差", d)]);
    let setup = DaemonSetup::new(dir.path(), &sim)
        .smtp(port)
        .env("YUPIAO__DAEMON__ALERT_MIN_GAP", GAP);
    let mut daemon = setup.start();
    wait_queries(&mut daemon, &sim, d, 2).await;

    sim.set_seat("G8294", Some(d), SeatClass::Second, "3");
    daemon
        .wait_until("the alert pending in status", WAIT, async || {
            let s = setup.status_json().await;
            (u64_of(watch_of(&s, "出差"), "alerts_pending") >= 1).then_some(())
        })
        .await;
    daemon.wait_for_log("email not delivered; will retry", WAIT).await;
    let s = setup.status_json().await;
    assert_eq!(u64_of(watch_of(&s, "出差"), "alerts_sent"), 0, "{s:#}");

    let smtp = MailServer::start_on(port);
    let raw = daemon
        .wait_until("the retried email", Duration::from_secs(40), async || {
            smtp.messages().into_iter().next()
        })
        .await;
    assert_eq!(Mail::parse(&raw).subject, subject_for(d));
    daemon
        .wait_until("status to show it sent", WAIT, async || {
            let s = setup.status_json().await;
            let w = watch_of(&s, "出差");
            (u64_of(w, "alerts_sent") == 1 && u64_of(w, "alerts_pending") == 0).then_some(())
        })
        .await;
    assert_eq!(smtp.messages().len(), 1);

    assert_eq!(daemon.sigterm().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_daemon_never_repeats_an_alert() {
    let sim = start_static_sim().await;
    let d = day(5);
    sim.set_seat("G8294", Some(d), SeatClass::Second, "无");
    // SMTP is down at first, so the alert is queued but cannot be sent before the crash.
    let port = free_port();
    let dir = dir_with(&[g8294("探亲", d)]);
    let setup = DaemonSetup::new(dir.path(), &sim)
        .smtp(port)
        .env("YUPIAO__DAEMON__ALERT_MIN_GAP", GAP);
    let mut daemon = setup.start();
    wait_queries(&mut daemon, &sim, d, 2).await;
    sim.set_seat("G8294", Some(d), SeatClass::Second, "3");
    daemon
        .wait_until("the alert queued", WAIT, async || {
            let s = setup.status_json().await;
            (u64_of(watch_of(&s, "探亲"), "alerts_pending") >= 1).then_some(())
        })
        .await;
    daemon.kill9();

    // Crashed between "seen" and "sent": the restarted daemon sends it, once.
    let smtp = MailServer::start_on(port);
    let mut daemon = setup.start();
    daemon
        .wait_until("the queued alert after the restart", WAIT, async || {
            (!smtp.messages().is_empty()).then_some(())
        })
        .await;
    wait_more_polls(&mut daemon, &sim, d, 3).await;
    assert_eq!(smtp.messages().len(), 1, "{:#?}", smtp.messages());

    // Crashed after sending: the seats are still there, and still nobody is told twice.
    daemon.kill9();
    let mut daemon = setup.start();
    wait_more_polls(&mut daemon, &sim, d, 4).await;
    assert_eq!(smtp.messages().len(), 1, "{:#?}", smtp.messages());
    let s = setup.status_json().await;
    let w = watch_of(&s, "探亲");
    assert_eq!(u64_of(w, "alerts_sent"), 1, "{s:#}");
    assert_eq!(u64_of(w, "alerts_pending"), 0, "{s:#}");
    assert_eq!(Mail::parse(&smtp.messages()[0]).subject, subject_for(d));

    assert_eq!(daemon.sigterm().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_valid_watch_list_edit_applies_without_restart_and_an_invalid_one_is_rejected() {
    let sim = start_static_sim().await;
    let (da, db) = (day(2), day(6));
    let a = g8294("A", da);
    let b = g8294("B", db);
    let dir = dir_with(std::slice::from_ref(&a));
    let setup = DaemonSetup::new(dir.path(), &sim).env("YUPIAO__DAEMON__ALERT_MIN_GAP", GAP);
    let mut daemon = setup.start();
    wait_queries(&mut daemon, &sim, da, 1).await;
    assert_eq!(queries(&sim, db), 0);

    // A valid edit, written the way editors write: B starts being polled, no restart.
    replace_watchlist(dir.path(), &watchlist(&[a.clone(), b.clone()]));
    wait_queries(&mut daemon, &sim, db, 1).await;
    daemon.wait_for_log("watch list reloaded", WAIT).await;

    // An invalid edit: rejected with file:line:col, the running list keeps going.
    let bad = WatchSpec::new("C", "北京难", "常州", &[db]).set("cron", EVERY_SECOND);
    let bad_text = watchlist(&[a.clone(), b.clone(), bad]);
    let line = bad_text
        .lines()
        .position(|l| l.contains("北京难"))
        .expect("the bad line")
        + 1;
    let diagnostic = format!("watchlist.toml:{line}:8: unknown station \"北京难\"");
    replace_watchlist(dir.path(), &bad_text);
    let error = daemon
        .wait_until("the rejected edit in status", WAIT, async || {
            let s = setup.status_json().await;
            s["watchlist_error"].as_str().map(str::to_string)
        })
        .await;
    assert!(error.contains(&diagnostic), "{error:?} lacks {diagnostic:?}");
    let text = setup.status_text().await;
    assert!(text.contains("watch list edit REJECTED"), "{text}");
    assert!(text.contains(&diagnostic), "{text}");
    daemon.wait_for_log(&diagnostic, WAIT).await;
    daemon.wait_for_log("watch list edit rejected", WAIT).await;
    let (qa, qb) = (queries(&sim, da), queries(&sim, db));
    daemon
        .wait_until("A and B polled on after the rejected edit", WAIT, async || {
            (queries(&sim, da) >= qa + 2 && queries(&sim, db) >= qb + 2).then_some(())
        })
        .await;
    assert!(
        !sim.stats().queries.iter().any(|q| q.from != "SHH"),
        "the rejected watch C never ran: {:#?}",
        sim.stats().queries
    );

    // Fixing it clears the error.
    replace_watchlist(dir.path(), &watchlist(&[b.clone(), a.clone()]));
    daemon
        .wait_until("the error cleared", WAIT, async || {
            let s = setup.status_json().await;
            s["watchlist_error"].is_null().then_some(())
        })
        .await;
    assert!(!setup.status_text().await.contains("REJECTED"));

    // SIGHUP reloads too, and the daemon carries on.
    let reloads = daemon.log().matches("watch list reloaded").count();
    let log_path = daemon.log_path();
    daemon.sighup();
    daemon
        .wait_until("a reload after SIGHUP", WAIT, async || {
            let log = std::fs::read_to_string(&log_path).ok()?;
            (log.contains("SIGHUP: reloading the watch list")
                && log.matches("watch list reloaded").count() > reloads)
                .then_some(())
        })
        .await;
    wait_more_polls(&mut daemon, &sim, da, 2).await;
    wait_more_polls(&mut daemon, &sim, db, 2).await;

    assert_eq!(daemon.sigterm().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn unchanged_polls_add_no_history_rows() {
    let sim = start_static_sim().await;
    let d = day(3);
    let dir = dir_with(&[WatchSpec::new("静", "上海", "常州", &[d])
        .trains(&["G8294"])
        .seats(&["二等座", "一等座"])
        .set("cron", EVERY_SECOND)]);
    let setup = DaemonSetup::new(dir.path(), &sim).env("YUPIAO__DAEMON__ALERT_MIN_GAP", GAP);
    let mut daemon = setup.start();
    wait_queries(&mut daemon, &sim, d, 6).await;

    // Two seats first seen (二等座 无, 一等座 有) are two rows; five unchanged polls add none.
    let store = setup.store();
    let seats = store.current_seats("静").expect("read the seats");
    assert_eq!(seats.len(), 2, "{seats:?}");
    assert_eq!(store.history_rows().expect("count history"), 2);
    wait_more_polls(&mut daemon, &sim, d, 3).await;
    assert_eq!(store.history_rows().expect("count history"), 2);
    let s = setup.status_json().await;
    assert_eq!(u64_of(&s, "history_rows"), 2, "{s:#}");

    assert_eq!(daemon.sigterm().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn three_watches_on_one_route_and_date_cost_one_request_per_cycle() {
    // Each watch has its own scheduler job; jobs that fire in the same second must still end up
    // in one cycle and share one query. Twelve cycles are watched because a split is intermittent.
    let sim = start_static_sim().await;
    let d = day(4);
    let dir = dir_with(&[
        g8294("一", d),
        WatchSpec::new("二", "SHH", "CZH", &[d])
            .seats(&["一等座"])
            .set("cron", EVERY_SECOND),
        WatchSpec::new("三", "shanghai", "changzhou", &[d]).set("cron", EVERY_SECOND),
    ]);
    let setup = DaemonSetup::new(dir.path(), &sim).env("YUPIAO__DAEMON__ALERT_MIN_GAP", GAP);
    let mut daemon = setup.start();
    // Start-up marks every watch due at once and the first tick may follow right after: skip it.
    wait_queries(&mut daemon, &sim, d, 3).await;
    let skip = queries(&sim, d);
    wait_queries(&mut daemon, &sim, d, skip + 12).await;

    let stats = sim.stats();
    let times: Vec<u64> = queries_on(&stats, d)[skip - 1..]
        .iter()
        .map(|q| q.elapsed_ms)
        .collect();
    let span_ms = times.last().unwrap() - times.first().unwrap();
    let cycles = span_ms / 1000 + 1;
    let requests = times.len() as u64 - 1;
    assert!(
        requests <= cycles + 1,
        "{requests} queries in {span_ms} ms of 1 s cycles (three watches, one route and date): {times:?}"
    );
    let closest = times.windows(2).map(|w| w[1] - w[0]).min().unwrap();
    assert!(
        closest >= 300,
        "two queries for the same route and date {closest} ms apart in one cycle: {times:?}\n{}",
        polled_lines(&daemon.log())
    );
    let s = setup.status_json().await;
    for name in ["一", "二", "三"] {
        let w = watch_of(&s, name);
        assert!(w["last_poll"].is_string(), "{name} polled: {s:#}");
        assert_eq!(w["outcome"], "ok", "{s:#}");
    }

    assert_eq!(daemon.sigterm().await, Some(0));
}

/// The log lines that say which watch was polled when: which watches shared a cycle.
fn polled_lines(log: &str) -> String {
    log.lines()
        .filter(|l| l.contains(" polled "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_backs_off_then_recovers() {
    let sim = start_static_sim().await;
    let d = day(3);
    sim.set_seat("G8294", Some(d), SeatClass::Second, "无");
    let smtp = TestSmtpServer::start().expect("start aiosmtpd");
    let dir = dir_with(&[g8294("限流", d)]);
    let setup = DaemonSetup::new(dir.path(), &sim)
        .smtp(smtp.port)
        .env("YUPIAO__DAEMON__ALERT_MIN_GAP", GAP)
        .env("YUPIAO__DAEMON__BACKOFF_START", "1s")
        .env("YUPIAO__DAEMON__BACKOFF_MAX", "4s");
    let mut daemon = setup.start();
    wait_queries(&mut daemon, &sim, d, 2).await;

    sim.set_mode(FailureMode::Throttle302, None);
    let s = daemon
        .wait_until("status to show the backoff", WAIT, async || {
            let s = setup.status_json().await;
            let w = watch_of(&s, "限流").clone();
            // While backing off, status says so instead of a next-run time.
            (w["outcome"]
                .as_str()
                .is_some_and(|o| o.starts_with("throttled: "))
                && u64_of(&w, "backoff_level") >= 1
                && w["next"]["state"] == "backoff")
                .then_some(w)
        })
        .await;
    assert!(s["backoff_until"].is_string(), "{s:#}");
    assert!(s["next"]["until"].is_string(), "{s:#}");
    // Seats appear while 12306 refuses us: the alert is due but cannot be seen yet.
    sim.set_seat("G8294", Some(d), SeatClass::Second, "3");

    let throttled = async || -> Vec<u64> {
        queries_on(&sim.stats(), d)
            .into_iter()
            .filter(|q| q.outcome == "throttle302")
            .map(|q| q.elapsed_ms)
            .collect()
    };
    let times = daemon
        .wait_until("five throttled queries", Duration::from_secs(40), async || {
            let t = throttled().await;
            (t.len() >= 5).then_some(t)
        })
        .await;
    let gaps: Vec<u64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    // start 1 s, doubling, capped at 4 s, jitter takes at most a quarter off.
    assert!(gaps.iter().all(|&g| g >= 700), "every retry waits: {gaps:?}");
    assert!(gaps[2] > gaps[0] + 1000, "the wait grows: {gaps:?}");
    assert!(gaps[3] >= 2900, "and reaches the cap: {gaps:?}");
    assert!(smtp.messages().is_empty());
    let s = setup.status_json().await;
    assert!(u64_of(watch_of(&s, "限流"), "backoff_level") >= 3, "{s:#}");

    sim.set_mode(FailureMode::Normal, None);
    daemon
        .wait_until("the backoff reset in status", WAIT, async || {
            let s = setup.status_json().await;
            let w = watch_of(&s, "限流");
            (w["outcome"] == "ok" && u64_of(w, "backoff_level") == 0).then_some(())
        })
        .await;
    let raw = daemon
        .wait_until("the alert held up by the throttling", WAIT, async || {
            smtp.messages().into_iter().next()
        })
        .await;
    assert_eq!(Mail::parse(&raw).subject, subject_for(d));
    daemon.wait_for_log("backoff reset", WAIT).await;

    assert_eq!(daemon.sigterm().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_daemon_on_the_same_database_refuses_to_start() {
    let sim = start_static_sim().await;
    let d = day(2);
    let dir = dir_with(&[g8294("独占", d)]);
    let setup = DaemonSetup::new(dir.path(), &sim).env("YUPIAO__DAEMON__ALERT_MIN_GAP", GAP);
    let mut first = setup.start();
    wait_queries(&mut first, &sim, d, 1).await;

    let mut second = setup.start();
    assert_eq!(second.wait_exit(WAIT).await, Some(1), "{}", second.log());
    let said = format!("another yupiao run (pid {}) is using", first.pid());
    assert!(second.log().contains(&said), "{said:?} not in:\n{}", second.log());

    // `status` reads alongside the running daemon.
    let s = setup.status_json().await;
    assert_eq!(s["daemon_running"], true, "{s:#}");
    assert_eq!(s["daemon_pid"], first.pid().to_string(), "{s:#}");
    let text = setup.status_text().await;
    assert!(text.contains(&format!("running (pid {})", first.pid())), "{text}");
    wait_more_polls(&mut first, &sim, d, 2).await;

    assert_eq!(first.sigterm().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_cleanly_with_exit_code_zero() {
    let sim = start_static_sim().await;
    let d = day(2);
    let dir = dir_with(&[g8294("停", d)]);
    let setup = DaemonSetup::new(dir.path(), &sim);
    let mut daemon = setup.start();
    wait_queries(&mut daemon, &sim, d, 2).await;
    let s = setup.status_json().await;
    assert_eq!(s["daemon_running"], true, "{s:#}");

    assert!(daemon.log().contains("yupiao running"), "{}", daemon.log());
    let (pid, log_path) = (daemon.pid(), daemon.log_path());
    let code = daemon.sigterm().await;
    let log = std::fs::read_to_string(log_path).expect("read the log");
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("SIGTERM received"), "{log}");
    assert!(log.contains("stopped"), "{log}");
    let s = setup.status_json().await;
    assert_eq!(s["daemon_running"], false, "pid {pid} is gone: {s:#}");
    assert!(s["daemon_pid"].is_null(), "{s:#}");
}

/// Every email in the daemon's maildir, decoded, oldest first.
fn maildir_mails(setup: &DaemonSetup) -> Vec<Mail> {
    maildir_messages(&setup.cwd().join("mail"))
        .iter()
        .map(|raw| Mail::parse(raw))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn status_shows_the_running_list_beside_a_rejected_edit_and_says_when_the_daemon_stopped() {
    let sim = start_static_sim().await;
    let (da, db) = (day(2), day(5));
    let a = g8294("早", da);
    let b = g8294("晚", db);
    let dir = dir_with(&[a.clone(), b.clone()]);
    let setup = DaemonSetup::new(dir.path(), &sim);
    let mut daemon = setup.start();
    wait_queries(&mut daemon, &sim, da, 2).await;

    // A bad edit of the running watch: 北京南站 is no station.
    let bad = WatchSpec::new("早", "北京南站", "常州", &[da]).set("cron", EVERY_SECOND);
    replace_watchlist(dir.path(), &watchlist(&[bad, b.clone()]));
    let s = daemon
        .wait_until("the rejected edit in status", WAIT, async || {
            let s = setup.status_json().await;
            s["watchlist_error"].is_string().then_some(s)
        })
        .await;
    for name in ["早", "晚"] {
        let w = watch_of(&s, name);
        assert_eq!(w["in_watchlist"], true, "{name} still runs: {s:#}");
        assert_eq!(
            w["route"], "上海→常州",
            "the running route, not the edit's: {s:#}"
        );
        assert_eq!(w["next"]["state"], "at", "{s:#}");
    }
    assert_eq!(
        s["running_list"]["path"],
        dir.path().join("watchlist.toml").display().to_string(),
        "{s:#}"
    );
    let text = setup.status_text().await;
    assert!(!text.contains("removed from the watch list"), "{text}");
    assert!(text.contains("watch list edit REJECTED at "), "{text}");
    assert!(text.contains("the list above keeps running"), "{text}");
    assert!(text.contains("unknown station \"北京南站\""), "{text}");
    assert!(text.contains("  next run  "), "{text}");
    assert!(text.contains("上海→常州"), "{text}");
    // And it keeps polling the running one.
    wait_more_polls(&mut daemon, &sim, da, 2).await;

    // Stopped: no stale next-run time, but why there is none.
    assert_eq!(daemon.sigterm().await, Some(0));
    let s = setup.status_json().await;
    assert_eq!(s["daemon_running"], false, "{s:#}");
    assert!(s["daemon_last_seen"].is_string(), "{s:#}");
    assert_eq!(watch_of(&s, "早")["next"]["state"], "daemon_stopped", "{s:#}");
    let text = setup.status_text().await;
    assert!(text.contains("yupiao daemon: not running (last seen "), "{text}");
    assert!(
        text.contains("next run  — daemon not running (last seen "),
        "{text}"
    );
    let next_lines: Vec<&str> = text.lines().filter(|l| l.contains("next run")).collect();
    assert_eq!(next_lines.len(), 2, "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn status_says_why_nothing_matched_each_date() {
    let sim = start_static_sim().await;
    let d = day(3);
    let dir = dir_with(&[WatchSpec::new("早班", "上海虹桥", "常州", &[d])
        .set("depart", r#""07:00-12:00""#)
        .set("cron", EVERY_SECOND)]);
    let setup = DaemonSetup::new(dir.path(), &sim);
    let mut daemon = setup.start();
    wait_queries(&mut daemon, &sim, d, 2).await;
    let s = setup.status_json().await;
    let notes = &watch_of(&s, "早班")["no_match"];
    assert_eq!(notes[0]["date"], ymd(d), "{s:#}");
    let why = "4 trains returned; 2 board at 上海 not 上海虹桥 (same_city = false); \
               1 alights at 常州北 not 常州 (same_city = false); 1 departs outside 07:00–12:00";
    assert_eq!(notes[0]["summary"], why, "{s:#}");
    let text = setup.status_text().await;
    assert!(
        text.contains(&format!("  {}  no matching train: {why}", ymd(d))),
        "{text}"
    );
    // A note is written when it changes, not at every poll.
    let store = setup.store();
    let first = store.match_notes("早班").expect("read the notes");
    wait_more_polls(&mut daemon, &sim, d, 2).await;
    assert_eq!(store.match_notes("早班").expect("read the notes"), first);
    assert_eq!(daemon.sigterm().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alert_watch_and_a_grab_watch_on_one_train_send_one_email_naming_both() {
    let sim = start_static_sim().await;
    let d = day(3);
    // Seats are there when the daemon starts: both watches' first poll (one cycle, one query)
    // sees them appear.
    sim.set_seat("G8294", Some(d), SeatClass::Second, "3");
    let grab = g8294("抢票", d).set("action", r#""grab""#).to_toml()
        + "[[watch.passenger]]\nname = \"张三\"\nid_no = \"110101199003074514\"\n";
    let dir = tempfile::tempdir().expect("temp dir");
    write_watchlist(dir.path(), &format!("{}\n{grab}", g8294("提醒", d).to_toml()));
    let setup = DaemonSetup::new(dir.path(), &sim).env("YUPIAO__DAEMON__ALERT_MIN_GAP", GAP);
    let mut daemon = setup.start();
    daemon
        .wait_until("the alert", WAIT, async || {
            (!maildir_mails(&setup).is_empty()).then_some(())
        })
        .await;
    wait_more_polls(&mut daemon, &sim, d, 3).await;
    let mails: Vec<Mail> = maildir_mails(&setup);
    assert_eq!(
        mails.len(),
        1,
        "one person, one train, one date: one email\n{mails:#?}"
    );
    let m = &mails[0];
    assert_eq!(m.subject, subject_for(d));
    assert!(
        m.text.contains("「提醒」") && m.text.contains("「抢票」"),
        "{}",
        m.text
    );
    assert!(m.text.contains("符合监控：「提醒」、「抢票」"), "{}", m.text);
    assert!(
        m.text.contains("「抢票」是抢票监视，但 [juhe] enabled = false"),
        "the grab note, for the grab watch\n{}",
        m.text
    );
    assert!(m.html.contains("「抢票」"), "{}", m.html);
    // Alert state stays per watch: both recorded the alert, both count the one email.
    let s = setup.status_json().await;
    for name in ["提醒", "抢票"] {
        assert_eq!(u64_of(watch_of(&s, name), "alerts_sent"), 1, "{name}: {s:#}");
    }
    assert_eq!(daemon.sigterm().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_start_groups_each_watchs_dates_and_shared_trains_into_one_email_per_person() {
    let sim = start_static_sim().await;
    let (d1, d2, d3) = (day(2), day(3), day(4));
    for d in [d1, d2] {
        sim.set_seat("G8294", Some(d), SeatClass::Second, "3");
    }
    let dir = dir_with(&[
        // Two dates with seats: one email for both.
        WatchSpec::new("甲", "上海", "常州", &[d1, d2])
            .trains(&["G8294"])
            .seats(&["二等座"])
            .set("cron", EVERY_SECOND),
        // The same train and day as 甲's first: joins that email.
        g8294("乙", d1),
        // Another train, route and day: its own email.
        WatchSpec::new("丙", "上海虹桥", "常州", &[d3])
            .trains(&["D3010"])
            .seats(&["一等座"])
            .set("cron", EVERY_SECOND),
    ]);
    let setup = DaemonSetup::new(dir.path(), &sim);
    let mut daemon = setup.start();
    for d in [d1, d2, d3] {
        wait_queries(&mut daemon, &sim, d, 3).await;
    }
    let mut mails = maildir_mails(&setup);
    mails.sort_by(|a, b| a.subject.cmp(&b.subject));
    let subjects: Vec<&str> = mails.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            format!("【余票】D3010 上海虹桥→常州 {} 一等座 有票", mm_dd(d3)),
            format!("【余票】G8294 上海→常州 {} 等2天 二等座 有票", mm_dd(d1)),
        ],
        "three watches, four (watch, date) alerts, two emails"
    );
    let g = &mails[1];
    for want in [
        "监控「甲」（乘车人数 1人）、「乙」（乘车人数 1人）发现余票：".to_string(),
        format!("G8294  {}", mm_dd(d1)),
        format!("G8294  {}", mm_dd(d2)),
        "符合监控：「甲」、「乙」".to_string(),
        format!("date={}", ymd(d1)),
        format!("date={}", ymd(d2)),
    ] {
        assert!(g.text.contains(&want), "missing {want:?}\n{}", g.text);
    }
    assert_eq!(daemon.sigterm().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_misconfigured_mail_server_is_explained_in_the_log_and_in_status() {
    let sim = start_static_sim().await;
    let d = day(3);
    sim.set_seat("G8294", Some(d), SeatClass::Second, "3");
    // A plain server, but the default security (starttls).
    let smtp = TestSmtpServer::start().expect("start aiosmtpd");
    let dir = dir_with(&[g8294("邮件", d)]);
    let setup = DaemonSetup::new(dir.path(), &sim)
        .smtp(smtp.port)
        .env("YUPIAO__EMAIL__SECURITY", "starttls");
    let mut daemon = setup.start();
    daemon.wait_for_log("email not delivered; will retry", WAIT).await;
    let hint = "email.security = \"none\" for a loopback or plain server";
    let log = daemon.log();
    let line = log
        .lines()
        .find(|l| l.contains("email not delivered; will retry"))
        .expect("the retry line");
    assert!(line.contains(hint), "{line}");
    let s = setup.status_json().await;
    assert_eq!(s["email_problem"]["state"], "pending", "{s:#}");
    assert!(
        s["email_problem"]["error"].as_str().unwrap_or("").contains(hint),
        "{s:#}"
    );
    let text = setup.status_text().await;
    assert!(text.contains("email problem: \"【余票】G8294"), "{text}");
    assert!(text.contains(hint), "{text}");
    assert!(smtp.messages().is_empty());
    assert_eq!(daemon.sigterm().await, Some(0));
}
