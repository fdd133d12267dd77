//! `yupiao once` end to end: the real binary against the in-process simulator, checked through
//! what it prints, its exit code and what the simulator saw on the wire.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use serde_json::Value;
use yupiao::config::Upstream;
use yupiao::rail::client::{LeftTicketQuery, RailClient};
use yupiao::seat::SeatClass;
use yupiao::sim::FailureMode;

const SEAT_KEYS: [&str; 12] = [
    "watch",
    "date",
    "train",
    "from",
    "to",
    "depart",
    "arrive",
    "seat",
    "left",
    "count",
    "price",
    "available",
];

/// `once --json` with the watch list of `dir`, against `sim`.
async fn once_json(dir: &tempfile::TempDir, sim: &yupiao::sim::Sim) -> Output {
    Yupiao::new(dir.path())
        .against(sim)
        .args(["--watchlist", "watchlist.toml", "once", "--json"])
        .run()
        .await
}

/// The train codes of the seat lines of watch `name`.
fn trains_of(lines: &[Value], name: &str) -> BTreeSet<String> {
    seat_lines(lines)
        .into_iter()
        .filter(|l| str_of(l, "watch") == name)
        .map(|l| str_of(l, "train").to_string())
        .collect()
}

fn set(codes: &[&str]) -> BTreeSet<String> {
    codes.iter().map(|c| c.to_string()).collect()
}

/// `available` must follow from `left` and the party size: a count covers the party, `有` covers
/// up to 20, `无` and `*` never (every train of these tests is bookable when it has seats).
#[track_caller]
fn assert_available_consistent(line: &Value, passengers: u64) {
    let expected = match (str_of(line, "left"), line["count"].as_u64()) {
        ("有", None) => passengers <= 20,
        (_, Some(n)) => n >= passengers,
        _ => false,
    };
    assert_eq!(line["available"].as_bool(), Some(expected), "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn once_json_prints_exactly_the_requested_trains_and_seats() {
    let sim = start_static_sim().await;
    let d = day(3);
    // One second-class seat left: not enough for two passengers.
    sim.set_seat("G8294", Some(d), SeatClass::Second, "1");
    let dir = dir_with(&[WatchSpec::new("沪常", "上海", "常州", &[d])
        .seats(&["二等座", "一等座"])
        .trains(&["G*"])
        .set("passengers", "2")]);

    let out = once_json(&dir, &sim).await;
    out.assert_code(0);
    let lines = out.json();
    assert_eq!(lines.len(), 2, "{out}");
    let mut want_keys: Vec<String> = SEAT_KEYS.iter().map(|k| k.to_string()).collect();
    want_keys.sort();
    for l in &lines {
        assert_eq!(keys(l), want_keys, "{l}");
        assert_eq!(str_of(l, "watch"), "沪常");
        assert_eq!(str_of(l, "date"), ymd(d));
        assert_eq!(
            str_of(l, "train"),
            "G8294",
            "only G trains boarding at 上海 itself: {l}"
        );
        assert_eq!(str_of(l, "from"), "上海");
        assert_eq!(str_of(l, "to"), "常州");
        assert_eq!(str_of(l, "depart"), "14:44");
        assert_eq!(str_of(l, "arrive"), "15:53");
        assert!(l["price"].is_number(), "price is a number of yuan: {l}");
        match str_of(l, "left") {
            "有" => assert!(l["count"].is_null(), "{l}"),
            _ => assert!(l["count"].is_u64(), "{l}"),
        }
        assert_available_consistent(l, 2);
    }
    // In the watch's priority order.
    let (second, first) = (&lines[0], &lines[1]);
    assert_eq!(str_of(second, "seat"), "二等座");
    assert_eq!(str_of(second, "left"), "1");
    assert_eq!(second["count"], 1);
    assert_eq!(second["price"].as_f64(), Some(91.0));
    assert_eq!(second["available"], false);
    assert_eq!(str_of(first, "seat"), "一等座");
    assert_eq!(str_of(first, "left"), "有");
    assert!(first["count"].is_null());
    assert_eq!(first["price"].as_f64(), Some(145.0));
    assert_eq!(first["available"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn watches_sharing_a_route_and_date_cost_one_request() {
    let sim = start_static_sim().await;
    let (d, other) = (day(2), day(4));
    // The same stations spelt three ways, different filters: still one (from, to, date).
    let shared = vec![
        WatchSpec::new("二等", "上海", "常州", &[d]).seats(&["二等座"]),
        WatchSpec::new("高铁", "SHH", "CZH", &[d]).trains(&["G*"]),
        WatchSpec::new("晚上", "shanghai", "changzhou", &[d]).set("depart", r#""18:00-23:59""#),
    ];
    let dir = dir_with(&shared);
    let out = once_json(&dir, &sim).await;
    out.assert_code(0);
    let lines = out.json();
    assert_eq!(trains_of(&lines, "二等"), set(&["G8294"]), "{out}");
    assert_eq!(trains_of(&lines, "高铁"), set(&["G8294"]), "{out}");
    assert_eq!(trains_of(&lines, "晚上"), set(&["K1805"]), "{out}");
    let stats = sim.stats();
    assert_eq!(stats.queries.len(), 1, "{stats:#?}");
    assert_eq!(stats.queries[0].outcome, "ok", "{stats:#?}");
    assert!(
        requests_to(&stats, "/otn/leftTicket/init") >= 1,
        "the session is opened before querying: {stats:#?}"
    );

    sim.reset_stats();
    let mut four = shared;
    four.push(WatchSpec::new("改天", "上海", "常州", &[other]));
    let dir = dir_with(&four);
    let out = once_json(&dir, &sim).await;
    out.assert_code(0);
    let stats = sim.stats();
    assert_eq!(stats.queries.len(), 2, "{stats:#?}");
    assert_eq!(queries_on(&stats, d).len(), 1, "{stats:#?}");
    assert_eq!(queries_on(&stats, other).len(), 1, "{stats:#?}");
    assert!(requests_to(&stats, "/otn/leftTicket/init") >= 1, "{stats:#?}");
    assert!(
        stats.queries.iter().all(|q| q.outcome == "ok"),
        "no query may be refused (302-no-cookie means init came too late): {stats:#?}"
    );
    let gap = stats.queries[1].elapsed_ms - stats.queries[0].elapsed_ms;
    assert!(
        gap >= 20,
        "requests are paced by min_interval, got {gap} ms apart"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn same_city_widening_is_filtered_unless_asked_for() {
    let sim = start_static_sim().await;
    let d = day(5);
    let dir = dir_with(&[
        WatchSpec::new("上海站", "上海", "常州", &[d]),
        WatchSpec::new("全城", "上海", "常州", &[d]).same_city(true),
        WatchSpec::new("虹桥", "上海虹桥", "常州", &[d]),
    ]);
    let out = once_json(&dir, &sim).await;
    out.assert_code(0);
    let lines = out.json();
    // D3010 boards at 上海虹桥; G7158 boards at 上海虹桥 and alights at 常州北.
    assert_eq!(trains_of(&lines, "上海站"), set(&["G8294", "K1805"]), "{out}");
    assert_eq!(
        trains_of(&lines, "全城"),
        set(&["G8294", "D3010", "G7158", "K1805"]),
        "{out}"
    );
    assert_eq!(trains_of(&lines, "虹桥"), set(&["D3010"]), "{out}");
    for l in seat_lines(&lines) {
        if str_of(l, "watch") != "全城" {
            assert_eq!(str_of(l, "to"), "常州", "{l}");
        }
    }
}

/// The `c_url` dance at the client level: a name learnt and then rotated mid-session.
#[tokio::test(flavor = "multi_thread")]
async fn endpoint_rotation_is_followed_once_and_remembered() {
    let sim = start_static_sim().await;
    let upstream = Upstream {
        rail_url: sim.base_url(),
        min_interval: Duration::from_millis(20),
        jitter: Duration::ZERO,
        ..Upstream::default()
    };
    let client = RailClient::new(&upstream).expect("client");
    let q = LeftTicketQuery {
        from: "SHH".into(),
        to: "CZH".into(),
        date: day(1),
        student: false,
    };

    let page = client.query_left_ticket(&q).await.expect("first query");
    assert!(!page.trains.is_empty());
    assert_eq!(client.endpoint().as_deref(), Some("leftTicket/queryG"));

    sim.rotate_endpoint("leftTicket/queryZ");
    let page = client.query_left_ticket(&q).await.expect("query after rotation");
    assert!(!page.trains.is_empty());
    assert_eq!(client.endpoint().as_deref(), Some("leftTicket/queryZ"));

    client.query_left_ticket(&q).await.expect("third query");
    let stats = sim.stats();
    let seen: Vec<(&str, &str)> = stats
        .queries
        .iter()
        .map(|r| (r.endpoint.as_str(), r.outcome.as_str()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("leftTicket/queryG", "ok"),
            ("leftTicket/queryG", "c_url"),
            ("leftTicket/queryZ", "ok"),
            ("leftTicket/queryZ", "ok"),
        ]
    );
    assert_eq!(
        requests_to(&stats, "/otn/leftTicket/init"),
        1,
        "a move is not a reason to reopen the session: {stats:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn throttled_answers_are_errors_not_empty_results() {
    let sim = start_static_sim().await;
    let d = day(2);
    let dir = dir_with(&[WatchSpec::new("沪常", "上海", "常州", &[d])]);
    let modes = [
        FailureMode::Throttle302,
        FailureMode::Html,
        FailureMode::Forbidden,
        FailureMode::Risk,
    ];
    for mode in modes {
        sim.reset_stats();
        sim.set_mode(mode, None);
        let out = once_json(&dir, &sim).await;
        out.assert_code(1);
        let lines = out.json();
        assert_eq!(lines.len(), 1, "one error line and no seats ({mode:?}):\n{out}");
        let e = &lines[0];
        assert_eq!(keys(e), ["date", "error", "watch"], "{e}");
        assert_eq!(str_of(e, "watch"), "沪常");
        assert_eq!(str_of(e, "date"), ymd(d));
        assert!(str_of(e, "error").contains("throttled"), "{mode:?}: {e}");
        let stats = sim.stats();
        assert!(
            stats.queries.iter().any(|q| q.outcome == mode.name()),
            "{mode:?}: {stats:#?}"
        );

        sim.set_mode(FailureMode::Normal, None);
        let out = once_json(&dir, &sim).await;
        out.assert_code(0);
        let lines = out.json();
        assert!(error_lines(&lines).is_empty(), "{out}");
        assert!(!seat_lines(&lines).is_empty(), "{out}");
    }

    // Only the first of two queries is refused: its watch gets an error line, the other its rows.
    let later = day(3);
    let dir = dir_with(&[
        WatchSpec::new("先", "上海", "常州", &[d]),
        WatchSpec::new("后", "上海", "常州", &[later]),
    ]);
    sim.set_mode(FailureMode::Throttle302, Some(1));
    let out = once_json(&dir, &sim).await;
    out.assert_code(1);
    let lines = out.json();
    let errors = error_lines(&lines);
    assert_eq!(errors.len(), 1, "{out}");
    assert_eq!(str_of(errors[0], "watch"), "先");
    assert_eq!(str_of(errors[0], "date"), ymd(d));
    let rows = seat_lines(&lines);
    assert!(!rows.is_empty(), "{out}");
    assert!(rows.iter().all(|l| str_of(l, "watch") == "后"), "{out}");
    assert!(out.stderr.contains("1 of 2"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn past_and_unsold_dates_are_skipped_with_a_notice() {
    let sim = start_static_sim().await;
    // 15 presale days counting today: today+14 is the last day on sale.
    let (yesterday, tomorrow, last, first_unsold, far) = (day(-1), day(1), day(14), day(15), day(30));
    let dir = dir_with(&[WatchSpec::new(
        "远近",
        "上海",
        "常州",
        &[yesterday, tomorrow, last, first_unsold, far],
    )]);
    let out = once_json(&dir, &sim).await;
    out.assert_code(0);
    let stats = sim.stats();
    let asked: Vec<&str> = stats.queries.iter().map(|q| q.date.as_str()).collect();
    assert_eq!(asked, [ymd(tomorrow), ymd(last)], "{stats:#?}");
    assert!(stats.queries.iter().all(|q| q.outcome == "ok"), "{stats:#?}");
    let lines = out.json();
    let dates: BTreeSet<&str> = lines.iter().map(|l| str_of(l, "date")).collect();
    assert_eq!(
        dates,
        BTreeSet::from([ymd(tomorrow).as_str(), ymd(last).as_str()]),
        "{out}"
    );
    assert!(
        out.stderr.contains(&format!("远近: {yesterday} is in the past")),
        "{out}"
    );
    // The answers' field 55 taught 上海's daily 起售 time: each unsold date says when it opens.
    for date in [first_unsold, far] {
        let opens = sim.opening("上海", date).unwrap();
        assert_eq!(opens.date_naive(), date - chrono::Days::new(14));
        let line = format!(
            "远近: {} 未开售 · {} 起售 (from sale_time)",
            date.format("%m-%d"),
            opens.format("%m-%d %H:%M")
        );
        assert!(out.stderr.lines().any(|l| l == line), "{line}\n{out}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn human_output_is_a_readable_table() {
    let sim = start_static_sim().await;
    let d = day(1);
    let dir = dir_with(&[WatchSpec::new("沪常 下午", "上海", "常州", &[d]).seats(&["二等座", "一等座"])]);
    let out = Yupiao::new(dir.path())
        .against(&sim)
        .args(["--watchlist", "watchlist.toml", "once"])
        .run()
        .await;
    out.assert_code(0);
    for want in [
        "沪常 下午",
        "上海→常州",
        &ymd(d),
        "G8294",
        "14:44",
        "15:53",
        "二等座",
        "一等座",
        "¥145.0",
    ] {
        assert!(out.stdout.contains(want), "missing {want:?}\n{out}");
    }
    assert!(
        !out.stdout.lines().any(|l| l.trim_start().starts_with('{')),
        "no JSON without --json\n{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_upstream_times_out_as_an_error() {
    let sim = start_static_sim().await;
    sim.set_mode(FailureMode::Slow(Duration::from_secs(3)), None);
    let d = day(1);
    let dir = dir_with(&[WatchSpec::new("慢", "上海", "常州", &[d])]);
    let out = Yupiao::new(dir.path())
        .against(&sim)
        .env("YUPIAO__UPSTREAM__TIMEOUT", "1s")
        .args(["--watchlist", "watchlist.toml", "once", "--json"])
        .run()
        .await;
    out.assert_code(1);
    let lines = out.json();
    assert_eq!(lines.len(), 1, "{out}");
    assert_eq!(str_of(&lines[0], "watch"), "慢");
    assert!(
        str_of(&lines[0], "error").contains("did not answer within 1s"),
        "{out}"
    );
}

/// 12306's pages can name a stale endpoint after a rename: the binary then meets `c_url` on its
/// first query, follows it once, and gets the rows.
#[tokio::test(flavor = "multi_thread")]
async fn a_stale_advertised_endpoint_is_followed_by_the_binary() {
    let sim = start_static_sim().await;
    sim.rotate_endpoint("leftTicket/queryZ");
    sim.advertise_endpoint(Some("leftTicket/queryG"));
    let d = day(3);
    let dir = dir_with(&[
        WatchSpec::new("a", "上海", "常州", &[d]),
        WatchSpec::new("b", "上海", "常州", &[day(4)]),
    ]);
    let out = once_json(&dir, &sim).await;
    out.assert_code(0);
    assert!(trains_of(&out.json(), "a").contains("G8294"), "{out}");
    let stats = sim.stats();
    let outcomes: Vec<(&str, &str)> = stats
        .queries
        .iter()
        .map(|q| (q.endpoint.as_str(), q.outcome.as_str()))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("leftTicket/queryG", "c_url"),
            ("leftTicket/queryZ", "ok"),
            ("leftTicket/queryZ", "ok"),
        ],
        "the moved endpoint is followed once and remembered for the next query: {stats:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn when_nothing_matches_once_says_what_was_returned_and_what_removed_it() {
    let sim = start_static_sim().await;
    let d = day(2);
    let dir = dir_with(&[WatchSpec::new("早班", "上海虹桥", "常州", &[d]).set("depart", r#""07:00-12:00""#)]);
    // 上海虹桥→常州 is widened by 12306 to both cities: G8294 and K1805 board at 上海, G7158
    // alights at 常州北, D3010 leaves at 14:42.
    let why = "4 trains returned; 2 board at 上海 not 上海虹桥 (same_city = false); \
               1 alights at 常州北 not 常州 (same_city = false); 1 departs outside 07:00–12:00";

    let out = Yupiao::new(dir.path())
        .against(&sim)
        .args(["--watchlist", "watchlist.toml", "once"])
        .run()
        .await;
    out.assert_code(0);
    assert!(
        out.stdout
            .contains(&format!("  {}  没有符合条件的车次：{why}", ymd(d))),
        "{out}"
    );

    let out = once_json(&dir, &sim).await;
    out.assert_code(0);
    let lines = out.json();
    assert_eq!(lines.len(), 1, "one object for the (watch, date)\n{out}");
    let l = &lines[0];
    assert_eq!(
        keys(l),
        ["date", "dropped", "matched", "returned", "summary", "watch"],
        "{l}"
    );
    assert_eq!((str_of(l, "watch"), str_of(l, "date")), ("早班", ymd(d).as_str()));
    assert_eq!(l["matched"], 0);
    assert_eq!(l["returned"], 4);
    assert_eq!(str_of(l, "summary"), why);
    let counts: Vec<(&str, u64)> = l["dropped"]
        .as_array()
        .expect("dropped is an array")
        .iter()
        .map(|d| (str_of(d, "reason"), d["count"].as_u64().unwrap_or(0)))
        .collect();
    assert_eq!(
        counts,
        [
            ("boards_elsewhere", 2),
            ("alights_elsewhere", 1),
            ("departs_outside", 1)
        ],
        "{l}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_table_marks_next_day_arrivals_and_when_a_star_seat_goes_on_sale() {
    let sim = start_static_sim().await;
    let d = day(2);
    let dir = dir_with(&[WatchSpec::new("夜车", "北京", "上海", &[d])]);
    let out = Yupiao::new(dir.path())
        .against(&sim)
        .args(["--watchlist", "watchlist.toml", "once"])
        .run()
        .await;
    out.assert_code(0);
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("D705"))
        .unwrap_or_else(|| panic!("no D705 line\n{out}"));
    // 19:20 → 07:05 the next morning, as the email says it.
    assert!(line.contains("上海 07:05（次日）"), "{line}");
    // Its 二等座 cell is `*`: not on sale yet, and the line says from when (row field 55).
    let star = line
        .split("  ")
        .find(|cell| cell.starts_with("二等座 *"))
        .unwrap_or_else(|| panic!("no 二等座 * cell in {line}"));
    let sale = star
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(" 起售)"))
        .map(|(when, _)| when)
        .unwrap_or_else(|| panic!("no sale time in {star:?}"));
    assert!(
        chrono::NaiveDateTime::parse_from_str(&format!("2026-{sale}"), "%Y-%m-%d %H:%M").is_ok(),
        "`MM-DD HH:MM 起售`: {star:?}"
    );
}
