//! 起售 end to end: the real `yupiao` binary against the simulator whose clock is minutes away
//! from the machine's. The daemon measures 12306's clock from `login/conf`, learns 上海's daily
//! sale time from `qss.js`, sends no query for a date before it opens, sends the first one just
//! after the opening by 12306's clock, bursts for a while despite `every = "10m"`, alerts on the
//! seats it finds, and keeps polling the other watches meanwhile.

mod common;

use std::time::Duration;

use chrono::{DateTime, Days, FixedOffset, NaiveTime, TimeDelta, Timelike as _};
use common::*;
use yupiao::notify::smtp_test_server::{Mail, maildir_messages};

/// The opening promise: the first query within this long after the opening, by 12306's clock.
const ON_TIME_MS: i64 = 2_000;

fn at_ms(t: DateTime<FixedOffset>) -> i64 {
    t.timestamp_millis()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_date_is_first_queried_just_after_its_opening_by_12306s_clock_then_bursts_and_alerts() {
    opening_burst_with_12306_off_by(TimeDelta::minutes(7)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_machine_clock_minutes_ahead_of_12306_still_waits_for_the_opening() {
    opening_burst_with_12306_off_by(TimeDelta::minutes(-5)).await;
}

/// The whole story with 12306's clock `ahead` of the machine's (behind when negative).
async fn opening_burst_with_12306_off_by(ahead: TimeDelta) {
    let sim = start_static_sim().await;
    // 12306's clock: `ahead`, and then to the next half minute, so that a whole minute (sale
    // times are HH:MM) is about 30 s away.
    sim.set_clock_offset(ahead);
    let sim_now = sim.clock_now();
    let to_half = TimeDelta::seconds(i64::from((90 - sim_now.second()) % 60));
    sim.set_clock_offset(ahead + to_half);
    let sim_now = sim.clock_now();
    let next_minute = sim_now.with_second(0).unwrap().with_nanosecond(0).unwrap() + TimeDelta::minutes(1);
    let sale = NaiveTime::from_hms_opt(next_minute.hour(), next_minute.minute(), 0).unwrap();
    sim.set_sale_time("上海", sale).unwrap();
    // The last day of the window: it opens today (12306's today) at 上海's time.
    let rush = next_minute.date_naive() + Days::new(14);
    let opening = sim.opening("上海", rush).unwrap();
    assert_eq!(opening, next_minute);
    let other = next_minute.date_naive() + Days::new(1);

    let dir = dir_with(&[
        WatchSpec::new("春运", "上海", "常州", &[rush])
            .trains(&["G8294"])
            .seats(&["一等座"])
            .set("every", r#""10m""#),
        WatchSpec::new("明天", "上海", "常州", &[other])
            .trains(&["G8294"])
            .seats(&["二等座"])
            .set("every", r#""5s""#),
    ]);
    let setup = DaemonSetup::new(dir.path(), &sim);
    let mut daemon = setup.start();

    // Before the opening: 12306's clock measured, the opening known from qss.js and shown.
    daemon
        .wait_for_log("qss.js fetched", Duration::from_secs(20))
        .await;
    let s = daemon
        .wait_until("12306's clock in status", Duration::from_secs(20), async || {
            let s = setup.status_json().await;
            s["rail_clock"].is_object().then_some(s)
        })
        .await;
    let offset = s["rail_clock"]["offset_ms"].as_i64().unwrap();
    let set = (ahead + to_half).num_milliseconds();
    assert!(
        (offset - set).abs() < 1_000,
        "offset {offset} ms, set {set} ms: {s:#}"
    );
    if sim.clock_now() < opening - TimeDelta::seconds(3) {
        let text = setup.status_text().await;
        // From qss.js, or from field 55 of the other watch's answers when they came first.
        let line = format!(
            "{} 未开售 · {} 起售 (from ",
            rush.format("%m-%d"),
            opening.format("%m-%d %H:%M")
        );
        assert!(text.contains(&line), "{line}\n{text}");
        let side = if offset > 0 { "ahead of" } else { "behind" };
        let shown = format!("12306's clock is {}.", offset.abs() / 1000);
        assert!(text.contains(&shown), "{shown}\n{text}");
        assert!(text.contains(&format!(" s {side} this machine (±")), "{text}");
    }

    // The seats found at the opening are alerted.
    let mail = daemon
        .wait_until(
            "the alert for the opened date",
            Duration::from_secs(120),
            async || {
                maildir_messages(&dir.path().join("mail"))
                    .iter()
                    .map(|m| Mail::parse(m))
                    .find(|m| m.text.contains("春运"))
            },
        )
        .await;
    assert!(mail.text.contains("一等座"), "{}", mail.text);

    // Watch a minute of the burst.
    let minute_later = opening + TimeDelta::seconds(60);
    daemon
        .wait_until(
            "a minute after the opening",
            Duration::from_secs(120),
            async || (sim.clock_now() > minute_later + TimeDelta::seconds(1)).then_some(()),
        )
        .await;
    let stats = sim.stats();
    let rush_q: Vec<i64> = queries_on(&stats, rush).iter().map(|q| q.at_ms).collect();
    assert!(!rush_q.is_empty(), "{stats:#?}");
    assert!(
        rush_q.iter().all(|&t| t >= at_ms(opening)),
        "no query before the opening at {opening}: {rush_q:?}"
    );
    let first = rush_q.iter().min().unwrap() - at_ms(opening);
    assert!(first <= ON_TIME_MS, "first query {first} ms after the opening");
    let in_first_minute = rush_q.iter().filter(|&&t| t < at_ms(minute_later)).count();
    assert!(
        in_first_minute >= 5,
        "{in_first_minute} queries in the first minute despite every = 10m: {rush_q:?}"
    );
    eprintln!("first query {first} ms after the opening; {in_first_minute} in the first minute");
    let other_during = queries_on(&stats, other)
        .iter()
        .filter(|q| q.at_ms >= at_ms(opening) && q.at_ms < at_ms(minute_later))
        .count();
    assert!(
        other_during >= 5,
        "the other watch (every 5s) kept running during the burst: {other_during}"
    );
    assert!(
        daemon
            .log()
            .contains("learnt a station's daily 起售 time from sale_time"),
        "field 55 of the answers taught 上海's time"
    );
}
