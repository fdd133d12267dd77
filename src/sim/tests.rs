//! The simulator as a client sees it: a real server on a free loopback port, driven with reqwest.

use std::time::{Duration, Instant};

use chrono::{DateTime, Days, FixedOffset, NaiveDate, NaiveTime};
use reqwest::redirect::Policy;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use super::rail::ERROR_PAGE;
use super::*;

const LOGIN_CONF_FIXTURE: &str =
    include_str!("../../tests/fixtures/login/login_conf.not_logged_in.2024-04-22.json");
const QUERY_FIXTURE: &str = include_str!("../../tests/fixtures/leftTicket/queryG.SHH-CZH.2024-04-22.json");

async fn start(scenario: Scenario) -> Sim {
    Sim::start("127.0.0.1:0".parse().unwrap(), scenario)
        .await
        .unwrap()
}

fn client() -> Client {
    Client::builder()
        .redirect(Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

/// The built-in scenario, and a client holding its session.
async fn builtin_with_session() -> (Sim, Client) {
    let sim = start(Scenario::builtin()).await;
    let c = session(&sim).await;
    (sim, c)
}

/// A client holding the session cookies of `init`, as every real client does before querying.
async fn session(sim: &Sim) -> Client {
    with_session(sim, client()).await
}

/// `c` once it holds the session cookies of `init`.
async fn with_session(sim: &Sim, c: Client) -> Client {
    let r = c
        .get(format!("{}/otn/leftTicket/init", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    c
}

fn today() -> NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
}

fn in_days(n: u64) -> String {
    (today() + Days::new(n)).format("%Y-%m-%d").to_string()
}

fn query_url(sim: &Sim, endpoint: &str, date: &str, from: &str, to: &str) -> String {
    format!(
        "{}/otn/{endpoint}?leftTicketDTO.train_date={date}&leftTicketDTO.from_station={from}\
         &leftTicketDTO.to_station={to}&purpose_codes=ADULT",
        sim.base_url()
    )
}

async fn get(c: &Client, url: &str) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let r = c.get(url).send().await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    (status, headers, r.text().await.unwrap())
}

/// A SHH→CZH query URL of `leftTicket/queryG` for `date`.
fn shh_czh_url(sim: &Sim, date: &str) -> String {
    query_url(sim, "leftTicket/queryG", date, "SHH", "CZH")
}

/// A SHH→CZH query of `endpoint` for `date`, as sent: status, headers and body.
async fn ask(
    sim: &Sim,
    c: &Client,
    endpoint: &str,
    date: &str,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    get(c, &query_url(sim, endpoint, date, "SHH", "CZH")).await
}

/// GET `url`, the JSON answer.
async fn get_json<T: serde::de::DeserializeOwned>(c: &Client, url: String) -> T {
    c.get(url).send().await.unwrap().json().await.unwrap()
}

/// POST `url` without a body, the JSON answer (`login/conf`).
async fn post_for_json(c: &Client, url: String) -> Value {
    c.post(url).send().await.unwrap().json().await.unwrap()
}

/// POST `body` as JSON to `url` (the control API).
async fn post_json(c: &Client, url: String, body: Value) -> reqwest::Response {
    c.post(url).json(&body).send().await.unwrap()
}

/// A normal SHH→CZH query for the date `days` from today; the JSON answer.
async fn shh_czh(sim: &Sim, c: &Client, days: u64) -> Value {
    let (status, _, body) = ask(sim, c, "leftTicket/queryG", &in_days(days)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn rows(answer: &Value) -> Vec<Vec<String>> {
    answer["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().split('|').map(str::to_string).collect())
        .collect()
}

fn cell(answer: &Value, train: &str, seat: SeatClass) -> String {
    rows(answer)
        .into_iter()
        .find(|r| r[3] == train)
        .map(|r| r[seat.column()].clone())
        .unwrap()
}

fn assert_error_redirect(status: StatusCode, headers: &reqwest::header::HeaderMap, body: &str) {
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(headers[reqwest::header::LOCATION], ERROR_PAGE);
    assert!(body.is_empty());
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

fn outcomes(sim: &Sim) -> Vec<String> {
    sim.stats().queries.into_iter().map(|q| q.outcome).collect()
}

#[tokio::test]
async fn init_sets_the_session_cookies_and_names_the_endpoint() {
    let sim = start(Scenario::builtin()).await;
    let (status, headers, body) = get(&client(), &format!("{}/otn/leftTicket/init", sim.base_url())).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("var CLeftTicketUrl = 'leftTicket/queryG';"),
        "{body}"
    );
    let names: Vec<String> = headers
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split('=').next().unwrap().to_string())
        .collect();
    assert_eq!(names, ["JSESSIONID", "route", "BIGipServerotn"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn login_conf_has_the_shape_of_the_real_one() {
    let sim = start(Scenario::builtin()).await;
    let r = client()
        .post(format!("{}/otn/login/conf", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let ours: Value = r.json().await.unwrap();
    let real: Value = serde_json::from_str(LOGIN_CONF_FIXTURE).unwrap();
    assert_eq!(keys(&ours), keys(&real));
    assert_eq!(keys(&ours["data"]), keys(&real["data"]));
    let data = &ours["data"];
    assert_eq!(data["queryUrl"], "leftTicket/queryG");
    assert_eq!(data["other_control"], 15);
    assert_eq!(data["is_login"], "N");
    assert_eq!(ours["messages"], json!([]));
    let now_str = data["nowStr"].as_str().unwrap();
    assert_eq!(now_str.len(), 14);
    assert!(now_str.starts_with(&today().format("%Y%m%d").to_string()));
    assert!(data["now"].as_i64().unwrap() > 1_700_000_000_000);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_query_without_cookies_is_sent_to_the_error_page() {
    let sim = start(Scenario::builtin()).await;
    let (status, headers, body) = ask(&sim, &client(), "leftTicket/queryG", &in_days(1)).await;
    assert_error_redirect(status, &headers, &body);
    assert_eq!(outcomes(&sim), ["302-no-cookie"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_stale_endpoint_answers_c_url_and_rotation_moves_the_endpoint() {
    let (sim, c) = builtin_with_session().await;
    let (_, _, body) = ask(&sim, &c, "leftTicket/queryZ", &in_days(1)).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v,
        json!({"status": false, "c_url": "leftTicket/queryG", "c_name": "CLeftTicketUrl"})
    );

    sim.rotate_endpoint("leftTicket/queryZ");
    let (_, _, page) = get(&c, &format!("{}/otn/leftTicket/init", sim.base_url())).await;
    assert!(page.contains("'leftTicket/queryZ'"));
    let (_, _, body) = ask(&sim, &c, "leftTicket/queryG", &in_days(1)).await;
    assert!(body.contains(r#""c_url":"leftTicket/queryZ""#), "{body}");
    let (status, _, body) = ask(&sim, &c, "leftTicket/queryZ", &in_days(1)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(r#""status":true"#));
    assert_eq!(outcomes(&sim), ["c_url", "c_url", "ok"]);
    let endpoints: Vec<String> = sim.stats().queries.into_iter().map(|q| q.endpoint).collect();
    assert_eq!(
        endpoints,
        ["leftTicket/queryZ", "leftTicket/queryG", "leftTicket/queryZ"]
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn past_unpadded_and_out_of_presale_dates_are_sent_to_the_error_page() {
    let (sim, c) = builtin_with_session().await;
    let yesterday = (today() - Days::new(1)).format("%Y-%m-%d").to_string();
    let unpadded = (today() + Days::new(1)).format("%Y-%-m-%-d").to_string();
    let unpadded = if unpadded.len() == 10 {
        "2030-1-1".to_string()
    } else {
        unpadded
    };
    for date in [
        yesterday,
        unpadded,
        in_days(15),
        "garbage".to_string(),
        String::new(),
    ] {
        let (status, headers, body) = ask(&sim, &c, "leftTicket/queryG", &date).await;
        assert_error_redirect(status, &headers, &body);
    }
    for days in [0, 14] {
        assert!(!rows(&shh_czh(&sim, &c, days).await).is_empty());
    }
    let o = outcomes(&sim);
    assert_eq!(
        o,
        [
            "302-bad-date",
            "302-bad-date",
            "302-bad-date",
            "302-bad-date",
            "302-bad-date",
            "ok",
            "ok"
        ]
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn shanghai_to_changzhou_is_widened_to_both_cities() {
    let (sim, c) = builtin_with_session().await;
    let (_, _, text) = ask(&sim, &c, "leftTicket/queryG", &in_days(2)).await;
    assert!(
        text.starts_with(r#"{"httpstatus":200,"data":{"result":["#),
        "{text}"
    );
    let ours: Value = serde_json::from_str(&text).unwrap();
    let real: Value = serde_json::from_str(QUERY_FIXTURE).unwrap();
    assert_eq!(keys(&ours), keys(&real));
    assert_eq!(keys(&ours["data"]), keys(&real["data"]));
    let rows = rows(&ours);
    assert!(rows.iter().all(|r| r.len() == 57));
    let codes: Vec<&str> = rows.iter().map(|r| r[3].as_str()).collect();
    assert_eq!(codes, ["D3010", "G8294", "G7158", "K1805"]);
    let d3010 = &rows[0];
    assert_eq!((d3010[6].as_str(), d3010[7].as_str()), ("AOH", "CZH"));
    let date = (today() + Days::new(2)).format("%Y%m%d").to_string();
    assert!(rows.iter().all(|r| r[13] == date));
    let map = &ours["data"]["map"];
    assert_eq!(map["AOH"], "上海虹桥");
    assert_eq!(map["ESH"], "常州北");
    assert_eq!(map["SHH"], "上海");
    assert_eq!(map["CZH"], "常州");
    assert!(map.get("VNP").is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_stations_get_an_empty_result() {
    let (sim, c) = builtin_with_session().await;
    let (status, _, body) = get(
        &c,
        &query_url(&sim, "leftTicket/queryG", &in_days(1), "XXQ", "CZH"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], true);
    assert_eq!(v["data"]["result"], json!([]));
    sim.shutdown().await;
}

#[tokio::test]
async fn each_failure_mode_answers_like_12306_and_expires_after_its_count() {
    let (sim, c) = builtin_with_session().await;
    let url = shh_czh_url(&sim, &in_days(1));

    sim.set_mode(FailureMode::Throttle302, Some(2));
    for _ in 0..2 {
        let (status, headers, body) = get(&c, &url).await;
        assert_error_redirect(status, &headers, &body);
    }
    assert_eq!(get(&c, &url).await.0, StatusCode::OK);

    sim.set_mode(FailureMode::Html, Some(1));
    let (status, _, body) = get(&c, &url).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.starts_with("<html"), "{body}");

    sim.set_mode(FailureMode::Forbidden, Some(1));
    let (status, _, body) = get(&c, &url).await;
    assert_eq!((status, body.as_str()), (StatusCode::FORBIDDEN, "3"));

    sim.set_mode(FailureMode::Risk, Some(1));
    let (status, _, body) = get(&c, &url).await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (&v["status"], &v["messages"]),
        (&json!(false), &json!(["您的访问过于频繁"]))
    );

    sim.set_mode(FailureMode::Empty, Some(1));
    let (status, _, body) = get(&c, &url).await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((&v["status"], &v["data"]["result"]), (&json!(true), &json!([])));
    sim.set_mode(FailureMode::NullData, Some(1));
    let (status, _, body) = get(&c, &url).await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((&v["status"], &v["data"]), (&json!(true), &json!(null)));
    let (_, _, body) = get(&c, &url).await;
    assert!(body.contains("G8294"), "back to normal: {body}");

    sim.set_mode(FailureMode::Slow(Duration::from_millis(300)), Some(1));
    let t = Instant::now();
    let (status, _, body) = get(&c, &url).await;
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("G8294"));

    let t = Instant::now();
    assert_eq!(get(&c, &url).await.0, StatusCode::OK);
    assert!(t.elapsed() < Duration::from_millis(300));
    assert_eq!(
        outcomes(&sim),
        [
            "throttle302",
            "throttle302",
            "ok",
            "html",
            "forbidden",
            "risk",
            "empty",
            "null",
            "ok",
            "slow",
            "ok"
        ]
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_mode_without_count_lasts_until_changed() {
    let (sim, c) = builtin_with_session().await;
    let url = shh_czh_url(&sim, &in_days(1));
    sim.set_mode(FailureMode::Forbidden, None);
    for _ in 0..3 {
        assert_eq!(get(&c, &url).await.0, StatusCode::FORBIDDEN);
    }
    sim.set_mode(FailureMode::Normal, None);
    assert_eq!(get(&c, &url).await.0, StatusCode::OK);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_builtin_timeline_makes_g8294_second_class_come_and_go() {
    let (sim, c) = builtin_with_session().await;
    let mut seen = Vec::new();
    for advance in [0, 20, 15, 15] {
        sim.advance(Duration::from_secs(advance));
        let answer = shh_czh(&sim, &c, 3).await;
        seen.push(cell(&answer, "G8294", SeatClass::Second));
    }
    assert_eq!(seen, ["无", "3", "5", "无"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_dated_step_changes_only_its_date() {
    let date = today() + Days::new(4);
    let text = format!(
        r#"
        [[train]]
        code = "G8294"
        from = "SHH"
        to = "CZH"
        depart = "14:44"
        arrive = "15:53"
        seats = {{ "二等座" = "无" }}
        [[step]]
        at = "0s"
        train = "G8294"
        seat = "二等座"
        left = 7
        date = "{date}"
        "#
    );
    let sim = start(Scenario::from_toml(&text).unwrap()).await;
    let c = session(&sim).await;
    assert_eq!(cell(&shh_czh(&sim, &c, 4).await, "G8294", SeatClass::Second), "7");
    assert_eq!(
        cell(&shh_czh(&sim, &c, 5).await, "G8294", SeatClass::Second),
        "无"
    );
    let row = &rows(&shh_czh(&sim, &c, 4).await)[0];
    assert_eq!(row[11], "Y");
    assert!(!row[0].is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn set_seat_applies_to_one_date_or_to_all() {
    let (sim, c) = builtin_with_session().await;
    let day3 = today() + Days::new(3);
    sim.set_seat("G8294", Some(day3), SeatClass::Second, "9");
    assert_eq!(cell(&shh_czh(&sim, &c, 3).await, "G8294", SeatClass::Second), "9");
    assert_eq!(
        cell(&shh_czh(&sim, &c, 4).await, "G8294", SeatClass::Second),
        "无"
    );
    sim.set_seat("G8294", None, SeatClass::Second, "有");
    assert_eq!(
        cell(&shh_czh(&sim, &c, 3).await, "G8294", SeatClass::Second),
        "有"
    );
    assert_eq!(
        cell(&shh_czh(&sim, &c, 4).await, "G8294", SeatClass::Second),
        "有"
    );
    sim.set_seat("G8294", None, SeatClass::First, "");
    assert_eq!(cell(&shh_czh(&sim, &c, 4).await, "G8294", SeatClass::First), "");
    assert_eq!(
        sim.try_set_seat("G9999", None, SeatClass::First, "1"),
        Err(SeatError::UnknownTrain("G9999".into()))
    );
    assert!(sim.try_set_seat("G8294", None, SeatClass::First, "lots").is_err());
    sim.shutdown().await;
}

#[tokio::test]
async fn the_control_api_drives_the_simulator_over_http() {
    let (sim, c) = builtin_with_session().await;
    let base = sim.base_url();
    let post = |path: &str, body: Value| c.post(format!("{base}{path}")).json(&body).send();

    let day = in_days(2);
    let r = post(
        "/sim/seats",
        json!({"train": "G8294", "date": day, "seat": "二等座", "left": "3"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(cell(&shh_czh(&sim, &c, 2).await, "G8294", SeatClass::Second), "3");
    let r = post("/sim/seats", json!({"train": "G8294", "seat": "ze", "left": 4}))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(cell(&shh_czh(&sim, &c, 2).await, "G8294", SeatClass::Second), "4");
    let r = post(
        "/sim/seats",
        json!({"train": "Z1", "seat": "二等座", "left": "3"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = post(
        "/sim/seats",
        json!({"train": "G8294", "seat": "三等座", "left": "3"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    let r = post("/sim/mode", json!({"mode": "forbidden", "count": 1}))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let url = shh_czh_url(&sim, &day);
    assert_eq!(get(&c, &url).await.0, StatusCode::FORBIDDEN);
    assert_eq!(get(&c, &url).await.0, StatusCode::OK);
    let r = post("/sim/mode", json!({"mode": "slow", "count": 1, "delay_ms": 50}))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(get(&c, &url).await.0, StatusCode::OK);
    let r = post("/sim/mode", json!({"mode": "teapot"})).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    let r = post("/sim/rotate", json!({"endpoint": "leftTicket/queryO"}))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(get(&c, &url).await.2.contains("leftTicket/queryO"));

    let r = post("/sim/advance", json!({"by": "1h"})).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(sim.elapsed() >= Duration::from_secs(3600));

    let stats: SimStats = get_json(&c, format!("{base}/sim/stats")).await;
    assert_eq!(stats, sim.stats());
    let o: Vec<&str> = stats.queries.iter().map(|q| q.outcome.as_str()).collect();
    assert_eq!(o, ["ok", "ok", "forbidden", "ok", "slow", "c_url"]);
    assert_eq!(stats.queries[0].purpose_codes, "ADULT");
    assert_eq!(stats.queries[0].date, day);

    let r = post("/sim/reset-stats", json!({})).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(sim.stats(), SimStats::default());
    sim.shutdown().await;
}

#[tokio::test]
async fn stats_count_requests_by_path() {
    let (sim, c) = builtin_with_session().await;
    shh_czh(&sim, &c, 1).await;
    shh_czh(&sim, &c, 2).await;
    c.post(format!("{}/otn/login/conf", sim.base_url()))
        .send()
        .await
        .unwrap();
    get(&c, &format!("{}/sim/stats", sim.base_url())).await;
    get(&c, &format!("{}/otn/nothing/here", sim.base_url())).await;
    let requests = sim.stats().requests;
    let expected: BTreeMap<String, u64> = [
        ("/otn/leftTicket/init", 1),
        ("/otn/leftTicket/queryG", 2),
        ("/otn/login/conf", 1),
        ("/otn/nothing/here", 1),
    ]
    .into_iter()
    .map(|(p, n)| (p.to_string(), n))
    .collect();
    assert_eq!(requests, expected);
    sim.shutdown().await;
}

#[tokio::test]
async fn shutdown_stops_the_server_promptly_even_mid_delay() {
    let (sim, c) = builtin_with_session().await;
    sim.set_mode(FailureMode::Slow(Duration::from_secs(30)), None);
    let url = shh_czh_url(&sim, &in_days(1));
    let pending = tokio::spawn(async move { c.get(url).send().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let base = sim.base_url();
    let t = Instant::now();
    sim.shutdown().await;
    assert!(t.elapsed() < Duration::from_secs(4));
    let _ = pending.await;
    assert!(client().get(format!("{base}/sim/stats")).send().await.is_err());
}

/// A client whose connections leave from `ip` (any of 127/8 on Linux), holding an init session.
async fn session_from(sim: &Sim, ip: &str) -> Client {
    let c = Client::builder()
        .redirect(Policy::none())
        .cookie_store(true)
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap();
    with_session(sim, c).await
}

#[tokio::test]
async fn clients_on_other_loopback_addresses_are_told_apart_in_the_stats() {
    let sim = start(Scenario::builtin()).await;
    let two = session_from(&sim, "127.0.0.2").await;
    let three = session_from(&sim, "127.0.0.3").await;
    let url = shh_czh_url(&sim, &in_days(1));
    for _ in 0..2 {
        assert_eq!(get(&three, &url).await.0, StatusCode::OK);
    }
    assert_eq!(get(&two, &url).await.0, StatusCode::OK);

    let stats = sim.stats();
    let peers: Vec<(&str, u64, u64)> = stats
        .peers
        .iter()
        .map(|(ip, p)| (ip.as_str(), p.requests, p.throttled))
        .collect();
    assert_eq!(
        peers,
        vec![("127.0.0.2", 2, 0), ("127.0.0.3", 3, 0)],
        "init + queries"
    );
    let askers: Vec<&str> = stats.queries.iter().map(|q| q.peer.as_str()).collect();
    assert_eq!(askers, vec!["127.0.0.3", "127.0.0.3", "127.0.0.2"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn an_address_over_its_limit_gets_the_error_page_while_the_others_are_served() {
    let sim = start(Scenario::builtin()).await;
    sim.set_address_limit(Some(AddressLimit {
        requests: 3,
        window: Duration::from_secs(300),
    }));
    let two = session_from(&sim, "127.0.0.2").await;
    let three = session_from(&sim, "127.0.0.3").await;
    let url = shh_czh_url(&sim, &in_days(1));
    // init counted: two more queries fit in 127.0.0.2's budget of three.
    for _ in 0..2 {
        assert_eq!(get(&two, &url).await.0, StatusCode::OK);
    }
    let (status, headers, body) = get(&two, &url).await;
    assert_error_redirect(status, &headers, &body);
    let (status, headers, body) = get(&two, &format!("{}/otn/leftTicket/init", sim.base_url())).await;
    assert_error_redirect(status, &headers, &body);
    assert_eq!(
        get(&three, &url).await.0,
        StatusCode::OK,
        "127.0.0.3 has its own budget"
    );
    // The control API is never limited.
    let r = two
        .get(format!("{}/sim/stats", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let stats = sim.stats();
    assert_eq!(
        stats.peers["127.0.0.2"],
        PeerStats {
            requests: 3,
            throttled: 2
        }
    );
    assert_eq!(
        stats.peers["127.0.0.3"],
        PeerStats {
            requests: 2,
            throttled: 0
        }
    );
    assert_eq!(
        stats.queries.len(),
        3,
        "refused queries never reach the query handler"
    );

    // The window slides on the simulator's clock.
    sim.advance(Duration::from_secs(300));
    assert_eq!(get(&two, &url).await.0, StatusCode::OK);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_address_limit_is_set_and_lifted_over_http() {
    let sim = start(Scenario::builtin()).await;
    let c = client();
    let post = |body: Value| {
        c.post(format!("{}/sim/address-limit", sim.base_url()))
            .json(&body)
            .send()
    };
    let r = post(json!({"requests": 80, "window": "5m"})).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        sim.address_limit(),
        Some(AddressLimit {
            requests: 80,
            window: Duration::from_secs(300)
        })
    );
    for bad in [json!({"requests": 80}), json!({"requests": 80, "window": "soon"})] {
        let r = post(bad.clone()).await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        let body: Value = r.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().starts_with("window"), "{body}");
    }
    let r = post(json!({"requests": 0})).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(sim.address_limit(), None);
    sim.shutdown().await;
}

// ---- 起售: the simulator's clock, openings and qss.js -----------------------------------------

/// Beijing `day` at `h:m:s`.
fn bj(day: NaiveDate, h: u32, m: u32, s: u32) -> DateTime<FixedOffset> {
    crate::sale::opening::at_beijing(day, NaiveTime::from_hms_opt(h, m, s).unwrap())
}

/// A SHH→CZH query for `date` (simulator's calendar), the rows by train code.
async fn shh_czh_on(sim: &Sim, c: &Client, date: NaiveDate) -> BTreeMap<String, Vec<String>> {
    let url = query_url(
        sim,
        "leftTicket/queryG",
        &date.format("%Y-%m-%d").to_string(),
        "SHH",
        "CZH",
    );
    let (status, _, body) = get(c, &url).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    rows(&answer).into_iter().map(|r| (r[3].clone(), r)).collect()
}

#[tokio::test]
async fn a_date_opens_at_its_boarding_stations_time_by_the_simulators_clock() {
    let (sim, c) = builtin_with_session().await;
    // The simulator's today is some day; its last window day opens today, per boarding station:
    // 上海虹桥 (D3010, G7158) at 13:30, 上海 (G8294, K1805) at 14:30.
    let today = NaiveDate::from_ymd_opt(2026, 12, 20).unwrap();
    let last = today + Days::new(14);
    sim.set_clock(bj(today, 14, 29, 58));
    let before = shh_czh_on(&sim, &c, last).await;
    let g = &before["G8294"];
    assert_eq!(
        (g[0].as_str(), g[1].as_str(), g[11].as_str()),
        ("", "12月20日14点30分起售", "IS_TIME_NOT_BUY")
    );
    assert_eq!((g[32].as_str(), g[30].as_str(), g[26].as_str()), ("*", "*", "*"));
    assert_eq!(g[55], "202612201430");
    let d = &before["D3010"];
    assert_eq!(
        (d[1].as_str(), d[11].as_str()),
        ("预订", "Y"),
        "上海虹桥 opened at 13:30"
    );
    assert_eq!(d[55], "202612201330");
    assert!(!d[0].is_empty());
    let record = sim.stats().queries.last().unwrap().clone();
    assert_eq!(record.not_on_sale, 2, "G8294 and K1805 board at 上海");
    assert!((record.at_ms - bj(today, 14, 29, 58).timestamp_millis()).abs() < 2_000);
    assert_eq!(sim.opening("上海", last), Some(bj(today, 14, 30, 0)));
    assert_eq!(sim.opening("AOH", last), Some(bj(today, 13, 30, 0)));

    sim.advance(Duration::from_secs(3));
    let after = shh_czh_on(&sim, &c, last).await;
    let g = &after["G8294"];
    assert_eq!((g[1].as_str(), g[11].as_str()), ("预订", "Y"));
    assert_eq!(g[31], "有", "the scenario's cells once open");
    assert!(!g[0].is_empty());
    assert_eq!(sim.stats().queries.last().unwrap().not_on_sale, 0);
    // The dates before the last one opened on earlier days.
    let earlier = shh_czh_on(&sim, &c, today + Days::new(3)).await;
    assert_eq!(earlier["G8294"][55], "202612091430");
    assert_eq!(earlier["G8294"][1], "预订");
    sim.shutdown().await;
}

#[tokio::test]
async fn the_clock_can_be_set_behind_or_ahead_and_login_conf_tells_it() {
    let sim = start(Scenario::builtin()).await;
    let base = sim.base_url();
    let c = client();
    let r = post_json(&c, format!("{base}/sim/clock"), json!({"offset": "-5m"})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let view: Value = r.json().await.unwrap();
    assert_eq!(view["offset_ms"], -300_000);
    let conf: Value = post_for_json(&c, format!("{base}/otn/login/conf")).await;
    let now_ms = conf["data"]["now"].as_i64().unwrap();
    let machine = chrono::Utc::now().timestamp_millis();
    assert!(
        (machine - 300_000 - now_ms).abs() < 5_000,
        "{now_ms} vs {machine}"
    );
    let now_str = conf["data"]["nowStr"].as_str().unwrap();
    let parsed = crate::sale::clock::parse_now_str(now_str).unwrap();
    assert_eq!(
        parsed.timestamp(),
        now_ms / 1000,
        "nowStr is now cut to the second"
    );

    let r = post_json(
        &c,
        format!("{base}/sim/clock"),
        json!({"at": "2026-12-20 13:29:50"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let view: Value = get_json(&c, format!("{base}/sim/clock")).await;
    let at = DateTime::parse_from_rfc3339(view["now"].as_str().unwrap()).unwrap();
    let want = bj(NaiveDate::from_ymd_opt(2026, 12, 20).unwrap(), 13, 29, 50);
    assert!((at - want).num_milliseconds().abs() < 5_000, "{at}");
    assert_eq!(at.offset().local_minus_utc(), 8 * 3600);

    for bad in [
        json!({"offset": "soon"}),
        json!({"at": "tomorrow"}),
        json!({}),
        json!({"offset": "1m", "at": "2026-12-20 13:00"}),
    ] {
        let r = post_json(&c, format!("{base}/sim/clock"), bad.clone()).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn qss_js_is_served_with_its_bom_where_12306_serves_it_and_follows_the_sale_times() {
    let sim = start(Scenario::builtin()).await;
    let base = sim.base_url();
    let c = client();
    let (status, _, index) = get(&c, &format!("{base}/index/index.html")).await;
    assert_eq!(status, StatusCode::OK);
    let link = crate::sale::qss::parse_qss_link(&index).unwrap();
    let url = crate::sale::qss::resolve_link(&format!("{base}/index/index.html"), &link).unwrap();
    assert!(url.ends_with("/index/script/core/common/qss_v10099.js"), "{url}");
    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let bytes = r.bytes().await.unwrap();
    assert_eq!(
        &bytes[..3],
        b"\xEF\xBB\xBF",
        "a UTF-8 BOM first, as 12306 sends it"
    );
    let table = crate::sale::qss::decode_qss(std::str::from_utf8(&bytes).unwrap()).unwrap();
    assert_eq!(table.time_of("上海虹桥"), NaiveTime::from_hms_opt(13, 30, 0));
    assert_eq!(table.time_of("常州北"), NaiveTime::from_hms_opt(17, 0, 0));
    for path in [
        "/otn/resources/js/query/qss.js",
        "/index/script/core/common/qss.js",
    ] {
        let (status, _, body) = get(&c, &format!("{base}{path}")).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(crate::sale::qss::decode_qss(&body).is_ok(), "{path}");
    }
    let (status, _, _) = get(&c, &format!("{base}/index/script/core/common/other.js")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let r = post_json(
        &c,
        format!("{base}/sim/sale-time"),
        json!({"station": "上海", "time": "09:15"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let (_, _, body) = get(&c, &format!("{base}/otn/resources/js/query/qss.js")).await;
    let table = crate::sale::qss::decode_qss(&body).unwrap();
    assert_eq!(table.time_of("上海"), NaiveTime::from_hms_opt(9, 15, 0));
    let day = NaiveDate::from_ymd_opt(2026, 12, 20).unwrap();
    sim.set_clock(bj(day, 12, 0, 0));
    let session = session(&sim).await;
    let rows = shh_czh_on(&sim, &session, day + Days::new(14)).await;
    assert_eq!(rows["G8294"][55], "202612200915");
    assert_eq!(rows["G8294"][1], "预订", "open since 09:15");
    let r = post_json(
        &c,
        format!("{base}/sim/sale-time"),
        json!({"station": "北京难", "time": "09:15"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = post_json(
        &c,
        format!("{base}/sim/sale-time"),
        json!({"station": "上海", "time": "9h"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_presale_window_can_be_changed_and_login_conf_follows() {
    let sim = start(Scenario::builtin()).await;
    let base = sim.base_url();
    let c = session(&sim).await;
    let day20 = in_days(20);
    let (status, headers, body) = ask(&sim, &c, "leftTicket/queryG", &day20).await;
    assert_error_redirect(status, &headers, &body);
    let r = post_json(&c, format!("{base}/sim/presale"), json!({"days": 30})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let conf: Value = post_for_json(&c, format!("{base}/otn/login/conf")).await;
    assert_eq!(conf["data"]["other_control"], 30);
    let (status, _, _) = ask(&sim, &c, "leftTicket/queryG", &day20).await;
    assert_eq!(status, StatusCode::OK);
    let r = post_json(&c, format!("{base}/sim/presale"), json!({"days": 0})).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    sim.shutdown().await;
}

#[test]
fn a_scenario_names_station_sale_times_and_reports_bad_ones() {
    let ok = Scenario::from_toml(
        "[sale_times]\n\"上海\" = \"08:00\"\nAOH = \"09:30\"\n[[train]]\ncode = \"G1\"\nfrom = \"SHH\"\nto = \"CZH\"\ndepart = \"08:00\"\narrive = \"09:00\"\n",
    )
    .unwrap();
    let world = ok.compile().unwrap();
    assert_eq!(world.sale_times["SHH"], NaiveTime::from_hms_opt(8, 0, 0).unwrap());
    assert_eq!(
        world.sale_times["AOH"],
        NaiveTime::from_hms_opt(9, 30, 0).unwrap()
    );
    let err = format!(
        "{:#}",
        Scenario::from_toml("[sale_times]\n\"北京难\" = \"08:00\"\n\"上海\" = \"8am\"\n").unwrap_err()
    );
    assert!(err.contains("北京难") && err.contains("8am"), "{err}");
}
