//! The status page served by `yupiao run`, end to end: the real binary with `[web] listen` on,
//! the in-process simulator flipping seats, the SQLite file read independently with rusqlite,
//! and the page, `/status.json`, `/healthz` and `/events` fetched over HTTP.
//!
//! Every wait is "until something happened", with a generous timeout; nothing asserts speed.

mod common;

use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta};
use common::*;
use serde_json::Value;
use yupiao::seat::SeatClass;
use yupiao::sim::Sim;

const WAIT: Duration = Duration::from_secs(30);

/// Long enough for `[web] token` beyond loopback.
const TOKEN: &str = "CANARY-web-token-0123456789";
/// A whole, valid 身份证 number in the watch list: only its masked form may ever be shown.
const ID_NO: &str = "110101199003074514";
/// Secrets given to the daemon; none may reach any page, JSON or event.
const SECRETS: &[(&str, &str)] = &[
    ("YUPIAO__EMAIL__PASSWORD", "CANARY-smtp-password"),
    (
        "YUPIAO__RAIL__COOKIE",
        "JSESSIONID=CANARY-cookie-value; tk=CANARY-tk",
    ),
    ("YUPIAO__JUHE__KEY", "CANARY-juhe-key"),
    ("YUPIAO__JUHE__CELLPHONE", "13812345678"),
];

fn watch_list(d: NaiveDate) -> String {
    let alert = WatchSpec::new("沪常 早班", "上海", "常州", &[d])
        .trains(&["G8294"])
        .seats(&["二等座"])
        .set("cron", EVERY_SECOND);
    let grab = WatchSpec::new("回家 抢票", "上海", "常州", &[d])
        .trains(&["G8294"])
        .seats(&["二等座"])
        .set("cron", EVERY_SECOND)
        .set("action", "\"grab\"");
    format!(
        "{}{}[[watch.passenger]]\nname = \"张三\"\ntype = \"成人\"\nid_type = \"身份证\"\nid_no = \"{ID_NO}\"\n",
        alert.to_toml(),
        grab.to_toml()
    )
}

/// The daemon with the page on `port` and the secrets above.
fn setup(dir: &std::path::Path, sim: &Sim, port: u16) -> DaemonSetup {
    SECRETS.iter().fold(
        DaemonSetup::new(dir, sim)
            .env("YUPIAO__WEB__LISTEN", &format!("127.0.0.1:{port}"))
            .env("YUPIAO__WEB__TOKEN", TOKEN),
        |s, (k, v)| s.env(k, v),
    )
}

/// A seat_history row as the test reads it, independently of yupiao's store code.
#[derive(Debug, Clone)]
struct Row {
    at_ms: i64,
    raw: String,
    count: Option<i64>,
}

fn history(db: &std::path::Path, watch: &str, d: NaiveDate) -> Vec<Row> {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open the database read-only");
    let mut stmt = conn
        .prepare(
            "SELECT at, raw, count FROM seat_history
             WHERE watch = ?1 AND date = ?2 AND train = 'G8294' AND seat = '二等座' ORDER BY at, id",
        )
        .unwrap();
    stmt.query_map((watch, ymd(d)), |r| {
        Ok(Row {
            at_ms: r.get(0)?,
            raw: r.get(1)?,
            count: r.get(2)?,
        })
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// The chart's documented scale (`web::chart`): a 600-column axis from `from` to `to`, values
/// from 0 (y 94) to the top (y 6), the top being 20 (有) or the largest count.
fn expected_vertices(rows: &[Row], from_ms: i64, to_ms: i64) -> Vec<(i32, i32)> {
    let value = |r: &Row| -> u32 {
        match r.raw.as_str() {
            "有" => 20,
            "无" => 0,
            _ => r.count.expect("a count") as u32,
        }
    };
    let ymax = rows.iter().map(value).max().unwrap_or(0).max(20);
    let span = (to_ms - from_ms).max(1);
    rows.iter()
        .map(|r| {
            let f = (r.at_ms - from_ms) as f64 / span as f64;
            let x = ((f * 600.0).round() as i64).clamp(0, 600) as i32;
            let y = (94.0 - (value(r).min(ymax) as f64 / ymax as f64) * 88.0).round() as i32;
            (x, y)
        })
        .collect()
}

/// The vertices an SVG step path visits: `M x y` starts, `H x` moves right, `V y` changes the
/// value at the current x; the final `H 600` holds the last value to the end.
fn path_vertices(d: &str) -> Vec<(i32, i32)> {
    let mut out = Vec::new();
    let (mut x, mut y) = (0, 0);
    let mut i = 0;
    let b = d.as_bytes();
    while i < b.len() {
        let c = b[i] as char;
        i += 1;
        let start = i;
        while i < b.len() && !(b[i] as char).is_ascii_alphabetic() {
            i += 1;
        }
        let nums: Vec<i32> = d[start..i]
            .split_whitespace()
            .map(|n| n.parse().expect("a number"))
            .collect();
        match c {
            'M' => {
                (x, y) = (nums[0], nums[1]);
                out.push((x, y));
            }
            'H' => x = nums[0],
            'V' => {
                y = nums[0];
                out.push((x, y));
            }
            other => panic!("unexpected path command {other} in {d}"),
        }
    }
    assert_eq!(x, 600, "the last value is held to the end of the axis: {d}");
    let _ = y;
    out
}

/// The text between `start` (exclusive) and the next `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = text.find(start)? + start.len();
    let j = text[i..].find(end)? + i;
    Some(&text[i..j])
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}

async fn get(url: &str) -> (u16, String) {
    match client().get(url).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.text().await.unwrap_or_default())
        }
        Err(_) => (0, String::new()),
    }
}

/// Removes the fields of a `status --json` report that move with time (poll times, next runs,
/// "last seen now"), everywhere in it.
fn stable(v: &Value) -> Value {
    const MOVING: &[&str] = &["daemon_last_seen", "next_run", "next", "last_poll"];
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !MOVING.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), stable(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(stable).collect()),
        other => other.clone(),
    }
}

fn assert_no_secret(what: &str, text: &str) {
    for (_, secret) in SECRETS {
        for part in secret.split(['=', ';', ' ']).filter(|p| p.len() >= 8) {
            assert!(!text.contains(part), "{what} shows a secret ({part})");
        }
    }
    assert!(!text.contains(TOKEN), "{what} shows the page's token");
    assert!(!text.contains(ID_NO), "{what} shows a whole ID number");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_serves_its_watches_and_a_chart_drawn_from_seat_history() {
    let sim = start_static_sim().await;
    let d = day(3);
    sim.set_seat("G8294", Some(d), SeatClass::Second, "无");
    let dir = tempfile::tempdir().unwrap();
    write_watchlist(dir.path(), &watch_list(d));
    let port = free_port();
    let setup = setup(dir.path(), &sim, port);
    let base = format!("http://127.0.0.1:{port}");
    let mut daemon = setup.start();

    // Up: /healthz answers 200 (no token needed) once the poller has reported.
    let health = format!("{base}/healthz");
    daemon
        .wait_until("/healthz 200", WAIT, async || {
            (get(&health).await.0 == 200).then_some(())
        })
        .await;

    // The simulator flips G8294 二等座: 无 → 3 → 无 → 有, each recorded before the next.
    let db = setup.db_path();
    let watch = "沪常 早班";
    for (i, left) in ["无", "3", "无", "有"].into_iter().enumerate() {
        sim.set_seat("G8294", Some(d), SeatClass::Second, left);
        let want = i + 1;
        daemon
            .wait_until(&format!("history row {want} ({left})"), WAIT, async || {
                (history(&db, watch, d).len() >= want).then_some(())
            })
            .await;
    }
    let rows = history(&db, watch, d);
    let raws: Vec<&str> = rows.iter().map(|r| r.raw.as_str()).collect();
    assert_eq!(raws, ["无", "3", "无", "有"]);

    // A live event arrives on the open event stream after a further write (every poll writes).
    let mut events = client()
        .get(format!("{base}/events?since=0"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    let mut stream_text = String::new();
    while !stream_text.contains("event: changed") {
        let chunk = tokio::time::timeout(WAIT, events.chunk())
            .await
            .expect("an event arrives")
            .unwrap()
            .expect("the stream stays open");
        stream_text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert_no_secret("an event", &stream_text);
    drop(events);

    // The page, once its snapshot holds the four changes (and the alert email is delivered).
    let page_url = format!("{base}/?token={TOKEN}");
    let html = daemon
        .wait_until("the page with 4 changes and the alert", WAIT, async || {
            let (status, html) = get(&page_url).await;
            (status == 200 && html.contains("· 4 changes") && html.contains("1 alert")).then_some(html)
        })
        .await;
    assert!(html.contains("沪常 早班"), "the alert watch is listed");
    assert!(html.contains("回家 抢票"), "the grab watch is listed");
    assert!(html.contains("上海 → 常州"), "routes are shown");
    assert!(html.contains("二等座"));
    assert_no_secret("the page", &html);

    // The first chart is the alert watch's; its G8294 二等座 line visits one vertex per row.
    let card = between(&html, "<h3>沪常 早班</h3>", "</article>").expect("the watch's card");
    let generated = between(&html, "updated <time datetime=\"", "\"").expect("the snapshot time");
    let to: DateTime<FixedOffset> = DateTime::parse_from_rfc3339(generated).unwrap();
    let first = DateTime::from_timestamp_millis(rows[0].at_ms).unwrap();
    let from_ms = first
        .timestamp_millis()
        .min((to - TimeDelta::hours(1)).timestamp_millis());
    let d_path = between(card, "<path class=\"ln s0\" d=\"", "\"").expect("a series line");
    assert_eq!(
        path_vertices(d_path),
        expected_vertices(&rows, from_ms, to.timestamp_millis()),
        "the drawn line is seat_history: path {d_path}, rows {rows:?}"
    );
    assert!(card.contains("<g class=\"al\">"), "the alert moment is marked");
    // The hour-of-day summary counts the two returns (无 → 3, 无 → 有) at their Beijing hours.
    assert!(card.contains("Seats came back <b>2</b> times"), "{card}");
    let mut hours = std::collections::BTreeMap::new();
    for r in [&rows[1], &rows[3]] {
        let at = DateTime::from_timestamp_millis(r.at_ms)
            .unwrap()
            .with_timezone(&yupiao::clock::beijing());
        *hours.entry(at.format("%H").to_string()).or_insert(0) += 1;
    }
    let words: Vec<String> = hours.iter().map(|(h, c)| format!("{h}时 {c}")).collect();
    assert_eq!(
        between(card, "<p class=\"nums\">", "</p>"),
        Some(words.join(" · ").as_str())
    );

    // /status.json is `yupiao status --json`, but for what moves with time.
    let (status, json) = get(&format!("{base}/status.json?token={TOKEN}")).await;
    assert_eq!(status, 200, "{json}");
    assert_no_secret("/status.json", &json);
    let served: Value = serde_json::from_str(&json).expect("JSON");
    let printed = setup.status_json().await;
    assert_eq!(stable(&served), stable(&printed));
    assert_eq!(served["history_rows"], printed["history_rows"]);
    assert_eq!(
        watch_of(&served, watch)["available"],
        watch_of(&printed, watch)["available"]
    );

    // With a token set, every route but /healthz wants it.
    for path in ["/", "/status.json", "/events", "/?token=wrong-token-wrong-token"] {
        let (status, body) = get(&format!("{base}{path}")).await;
        assert_eq!(status, 401, "{path} without the token");
        assert!(!body.contains(TOKEN));
    }
    let res = client()
        .get(format!("{base}/"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "a bearer token works too");
    assert_eq!(get(&health).await.0, 200);

    // Read-only: nothing can be posted.
    let res = client()
        .post(format!("{base}/?token={TOKEN}"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);

    assert_no_secret("the daemon's log", &daemon.log());
    assert_eq!(daemon.sigterm().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_beyond_loopback_without_a_token_refuses_to_start() {
    let sim = start_static_sim().await;
    let d = day(3);
    let dir = tempfile::tempdir().unwrap();
    write_watchlist(dir.path(), &watch_list(d));
    let port = free_port();
    let plain = DaemonSetup::new(dir.path(), &sim);
    let setup = plain
        .clone()
        .env("YUPIAO__WEB__LISTEN", &format!("0.0.0.0:{port}"));

    let out = setup.yupiao().arg("run").run().await;
    out.assert_code(2);
    let text = out.all_text();
    assert!(
        text.contains(&format!(
            "$YUPIAO__WEB__LISTEN: [web] listen = \"0.0.0.0:{port}\" is reachable from other machines: set [web] token"
        )),
        "{out}"
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens"
    );

    // `check` says the same, at the line and column of the settings file.
    let settings = write_file(dir.path(), "yupiao.toml", "[web]\nlisten = \"0.0.0.0:8307\"\n");
    let out = plain
        .yupiao()
        .args(["--config", &settings.display().to_string(), "check"])
        .run()
        .await;
    let text = out.all_text();
    assert!(
        text.contains("yupiao.toml:2:10: [web] listen = \"0.0.0.0:8307\" is reachable from other machines"),
        "{out}"
    );
    out.assert_code(2);
}
