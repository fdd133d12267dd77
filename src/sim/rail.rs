//! The simulator's 12306 surface: `leftTicket/init`, `login/conf`, the rotating leftTicket query
//! endpoint, the index page and `qss.js`, and the builder of 57-field result rows.
//!
//! Every answer copies the shape of a real body (`tests/fixtures/leftTicket/queryG…json`,
//! `tests/fixtures/login/login_conf…json`): the same keys in the same order, numbers as strings
//! where 12306 sends strings, and the same status codes and redirects for bad input, because a
//! client that works against the simulator has to work against the real thing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde::Serialize;

use super::scenario::{Cell, Train};

use super::{FailureMode, Peer, QueryRecord, Sim, sale};
use crate::seat::SeatClass;
use crate::stations::StationTable;

/// Where 12306 sends everything it refuses to answer.
pub(crate) const ERROR_PAGE: &str = "https://www.12306.cn/mormhweb/logFiles/error.html";
/// Fields in a 2024 row.
pub(crate) const ROW_FIELDS: usize = 57;
const RISK_MESSAGE: &str = "您的访问过于频繁";

pub(super) fn routes() -> Router<Sim> {
    Router::new()
        .route("/otn/leftTicket/init", get(init))
        .route("/otn/login/conf", post(login_conf))
        .route("/otn/resources/js/query/qss.js", get(qss))
        .route("/index/index.html", get(index))
        .route("/index/script/core/common/{file}", get(common_script))
        .route("/otn/{*rest}", get(query))
}

// ---- index page and qss.js ------------------------------------------------------------------

async fn index() -> Response {
    Html(sale::index_page()).into_response()
}

/// `qss.js`, with its BOM, as `application/javascript` (what 12306's static server says).
async fn qss(State(sim): State<Sim>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/javascript")],
        sale::qss_body(&sim.sale_calendar()),
    )
        .into_response()
}

/// `qss.js` under any of its versioned names (`qss_v10099.js`); other scripts are not served.
async fn common_script(State(sim): State<Sim>, Path(file): Path<String>) -> Response {
    if file.starts_with("qss") && file.ends_with(".js") {
        qss(State(sim)).await
    } else {
        StatusCode::NOT_FOUND.into_response()
    }
}

// ---- init and login/conf --------------------------------------------------------------------

async fn init(State(sim): State<Sim>) -> Response {
    let endpoint = sim.advertised_endpoint();
    let page = format!(
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>车票预订 | 客运服务 | 铁路客户服务中心</title>\n\
         <script type=\"text/javascript\">\n var ctx='/otn/';\n var CLeftTicketUrl = '{endpoint}';\n \
         var isSaleTime = true;\n var leftTicketQueryUrl = '{endpoint}';\n</script>\n</head>\n\
         <body><div id=\"queryLeftTable\"></div></body>\n</html>\n"
    );
    let cookies = [
        format!("JSESSIONID={}; Path=/", token(32).to_ascii_uppercase()),
        format!("route={}; Path=/", hex_token(32)),
        format!(
            "BIGipServerotn={}.{}.0000; Path=/",
            rand::rng().random_range(1_000_000_000u64..4_000_000_000),
            rand::rng().random_range(10_000u32..60_000)
        ),
    ];
    let mut response = Html(page).into_response();
    for c in cookies {
        if let Ok(v) = header::HeaderValue::from_str(&c) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

/// 12306's JSON envelope around a successful answer (`login/conf`, `queryQueue`), field for
/// field like the captures.
#[derive(Serialize)]
#[allow(non_snake_case)]
pub(super) struct Envelope<T> {
    validateMessagesShowId: &'static str,
    status: bool,
    httpstatus: u16,
    data: T,
    messages: [(); 0],
    validateMessages: BTreeMap<String, String>,
}

impl<T> Envelope<T> {
    /// `status: true`, HTTP 200, no messages.
    pub(super) fn ok(data: T) -> Envelope<T> {
        Envelope {
            validateMessagesShowId: "_validatorMessage",
            status: true,
            httpstatus: 200,
            data,
            messages: [],
            validateMessages: BTreeMap::new(),
        }
    }
}

/// `login/conf`'s `data` as an anonymous visitor sees it, field for field like the 2024 capture.
#[derive(Serialize)]
#[allow(non_snake_case)]
struct LoginConfData {
    is_open_updateHBTime: &'static str,
    isstudentDate: bool,
    is_message_passCode: &'static str,
    is_phone_check: &'static str,
    studentDate: [&'static str; 6],
    is_uam_login: &'static str,
    is_login_passCode: &'static str,
    is_sweep_login: &'static str,
    nowStr: String,
    queryUrl: String,
    psr_qr_code_result: &'static str,
    now: i64,
    login_url: &'static str,
    stu_control: u32,
    is_login: &'static str,
    is_olympicLogin: &'static str,
    other_control: u32,
}

async fn login_conf(State(sim): State<Sim>) -> Response {
    let now = sim.now();
    let query_url = sim.advertised_endpoint();
    let days = sim.presale_days();
    axum::Json(Envelope::ok(LoginConfData {
        is_open_updateHBTime: "Y",
        isstudentDate: false,
        is_message_passCode: "N",
        is_phone_check: "N",
        studentDate: [
            "2020-04-01",
            "2020-11-30",
            "2020-12-01",
            "2020-12-31",
            "2021-01-01",
            "2025-09-30",
        ],
        is_uam_login: "Y",
        is_login_passCode: "Y",
        is_sweep_login: "Y",
        nowStr: now.format("%Y%m%d%H%M%S").to_string(),
        queryUrl: query_url,
        psr_qr_code_result: "N",
        now: now.timestamp_millis(),
        login_url: "resources/login.html",
        stu_control: days,
        is_login: "N",
        is_olympicLogin: "N",
        other_control: days,
    }))
    .into_response()
}

// ---- the query endpoint ---------------------------------------------------------------------

#[derive(Serialize)]
struct QueryAnswer {
    httpstatus: u16,
    data: QueryData,
    messages: &'static str,
    status: bool,
}

#[derive(Serialize)]
struct QueryData {
    result: Vec<String>,
    flag: &'static str,
    level: &'static str,
    map: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Moved {
    status: bool,
    c_url: String,
    c_name: &'static str,
}

#[derive(Serialize)]
#[allow(non_snake_case)]
struct Refusal {
    validateMessagesShowId: &'static str,
    status: bool,
    httpstatus: u16,
    messages: [&'static str; 1],
    validateMessages: BTreeMap<String, String>,
}

/// What the handler decided to answer, before it is turned into HTTP.
enum Outcome {
    NoCookie,
    Moved(String),
    BadDate,
    Failure(FailureMode),
    Rows(NaiveDate),
}

impl Outcome {
    fn name(&self) -> &'static str {
        match self {
            Outcome::NoCookie => "302-no-cookie",
            Outcome::Moved(_) => "c_url",
            Outcome::BadDate => "302-bad-date",
            Outcome::Failure(m) => m.name(),
            Outcome::Rows(_) => "ok",
        }
    }
}

async fn query(
    State(sim): State<Sim>,
    Path(rest): Path<String>,
    Extension(Peer(peer)): Extension<Peer>,
    headers: HeaderMap,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    sim.catch_up();
    let current = sim.with_state(|s| s.endpoint.clone());
    if rest != current && !rest.starts_with("leftTicket/query") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let params = params.map(|Query(p)| p).unwrap_or_default();
    let param = |k: &str| params.get(k).cloned().unwrap_or_default();
    let mut record = QueryRecord {
        endpoint: rest.clone(),
        date: param("leftTicketDTO.train_date"),
        from: param("leftTicketDTO.from_station"),
        to: param("leftTicketDTO.to_station"),
        purpose_codes: param("purpose_codes"),
        outcome: String::new(),
        elapsed_ms: u64::try_from(sim.elapsed().as_millis()).unwrap_or(u64::MAX),
        peer: peer.to_string(),
        at_ms: sim.now().timestamp_millis(),
        not_on_sale: 0,
    };
    let outcome = decide(&sim, &headers, &rest, &current, &record.date);
    record.outcome = outcome.name().to_string();
    if matches!(outcome, Outcome::Rows(_) | Outcome::Failure(FailureMode::Slow(_)))
        && let Some(date) = parse_date(&record.date)
        && let Some(trains) = matching_trains(&sim, &record.from, &record.to)
    {
        let now = sim.now().naive_local();
        let waiting = trains.iter().filter(|t| sim.train_opening(t, date) > now).count();
        record.not_on_sale = u32::try_from(waiting).unwrap_or(u32::MAX);
    }
    sim.with_state(|s| s.stats.queries.push(record.clone()));
    match outcome {
        Outcome::NoCookie | Outcome::BadDate => error_redirect(),
        Outcome::Moved(c_url) => moved(c_url),
        Outcome::Failure(FailureMode::Slow(delay)) => {
            pause(&sim, delay).await;
            match parse_date(&record.date) {
                Some(date) => rows(&sim, date, &record.from, &record.to),
                None => error_redirect(),
            }
        }
        Outcome::Failure(mode) => failure(mode),
        Outcome::Rows(date) => rows(&sim, date, &record.from, &record.to),
    }
}

/// The checks of the real service, in its order (see the module doc of `sim`).
fn decide(sim: &Sim, headers: &HeaderMap, rest: &str, current: &str, date: &str) -> Outcome {
    if !has_session(headers) {
        return Outcome::NoCookie;
    }
    if rest != current {
        return Outcome::Moved(current.to_string());
    }
    let today = sim.now().date_naive();
    let Some(date) = parse_date(date).filter(|d| in_window(*d, today, sim)) else {
        return Outcome::BadDate;
    };
    match sim.take_mode() {
        FailureMode::Normal => Outcome::Rows(date),
        mode => Outcome::Failure(mode),
    }
}

/// The presale window counts today as day 1 (15 days = today + 14), as [`crate::poll::last_on_sale`].
fn in_window(date: NaiveDate, today: NaiveDate, sim: &Sim) -> bool {
    let last = crate::poll::last_on_sale(today, sim.presale_days());
    (today..=last).contains(&date)
}

/// Only the zero-padded `YYYY-MM-DD` 12306 accepts (`2019-10-1` is refused).
pub(crate) fn parse_date(text: &str) -> Option<NaiveDate> {
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    (date.format("%Y-%m-%d").to_string() == text).then_some(date)
}

fn has_session(headers: &HeaderMap) -> bool {
    cookies(headers).any(|(name, value)| name == "JSESSIONID" && !value.is_empty())
}

/// Every `name=value` pair of the request's `Cookie` headers, in order.
pub(super) fn cookies(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
}

async fn pause(sim: &Sim, delay: Duration) {
    tokio::select! {
        _ = tokio::time::sleep(delay) => {}
        _ = sim.inner.cancel.cancelled() => {}
    }
}

pub(super) fn error_redirect() -> Response {
    (StatusCode::FOUND, [(header::LOCATION, ERROR_PAGE)]).into_response()
}

fn moved(c_url: String) -> Response {
    axum::Json(Moved {
        status: false,
        c_url,
        c_name: "CLeftTicketUrl",
    })
    .into_response()
}

fn failure(mode: FailureMode) -> Response {
    match mode {
        FailureMode::Html => Html(
            "<html>\n<head><title>网络可能存在问题</title></head>\n\
             <body><div class=\"err_text\">网络可能存在问题，请您重试一下！</div></body>\n</html>\n",
        )
        .into_response(),
        FailureMode::Forbidden => (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "text/html;charset=utf-8")],
            "3",
        )
            .into_response(),
        FailureMode::Risk => axum::Json(Refusal {
            validateMessagesShowId: "_validatorMessage",
            status: false,
            httpstatus: 200,
            messages: [RISK_MESSAGE],
            validateMessages: BTreeMap::new(),
        })
        .into_response(),
        FailureMode::Empty => answer(Vec::new(), BTreeMap::new()),
        FailureMode::NullData => axum::Json(serde_json::json!({
            "httpstatus": 200,
            "data": null,
            "messages": "",
            "status": true,
        }))
        .into_response(),
        FailureMode::Throttle302 | FailureMode::Normal | FailureMode::Slow(_) => error_redirect(),
    }
}

/// The scenario's trains between the cities of `from` and `to` (widened like 12306), by
/// departure; `None` for unknown stations.
fn matching_trains<'a>(sim: &'a Sim, from: &str, to: &str) -> Option<Vec<&'a Train>> {
    let table = StationTable::embedded();
    let (f, t) = (table.by_telecode(from)?, table.by_telecode(to)?);
    let from_city: BTreeSet<&str> = table.same_city(f).iter().map(|s| s.telecode.as_str()).collect();
    let to_city: BTreeSet<&str> = table.same_city(t).iter().map(|s| s.telecode.as_str()).collect();
    let mut trains: Vec<&Train> = sim
        .inner
        .world
        .trains
        .iter()
        .filter(|tr| from_city.contains(tr.from.as_str()) && to_city.contains(tr.to.as_str()))
        .collect();
    trains.sort_by_key(|tr| (tr.depart, tr.code.clone()));
    Some(trains)
}

/// The normal answer: every train of the scenario between the two cities, widened like 12306,
/// each on sale or not by the simulator's clock.
fn rows(sim: &Sim, date: NaiveDate, from: &str, to: &str) -> Response {
    let table = StationTable::embedded();
    let Some(trains) = matching_trains(sim, from, to) else {
        return answer(Vec::new(), BTreeMap::new());
    };
    let now = sim.now().naive_local();
    let openings: Vec<NaiveDateTime> = trains.iter().map(|tr| sim.train_opening(tr, date)).collect();
    let result = sim.with_state(|s| {
        trains
            .iter()
            .zip(&openings)
            .map(|(tr, &opening)| {
                let cells = s.seats.cells(tr, date);
                let sale = Sale {
                    opening,
                    open: now >= opening,
                };
                build_row(tr, date, &cells, sale, &secret_str(), &token(64))
            })
            .collect()
    });
    let mut codes: Vec<&str> = vec![from, to];
    codes.extend(trains.iter().flat_map(|tr| [tr.from.as_str(), tr.to.as_str()]));
    let map = codes
        .into_iter()
        .filter_map(|c| table.by_telecode(c))
        .map(|s| (s.telecode.clone(), s.name.clone()))
        .collect();
    answer(result, map)
}

fn answer(result: Vec<String>, map: BTreeMap<String, String>) -> Response {
    axum::Json(QueryAnswer {
        httpstatus: 200,
        data: QueryData {
            result,
            flag: "1",
            level: "0",
            map,
        },
        messages: "",
        status: true,
    })
    .into_response()
}

// ---- rows -----------------------------------------------------------------------------------

/// Minutes from departure to arrival; an arrival at or before the departure is the next day.
pub(crate) fn minutes_between(depart: NaiveTime, arrive: NaiveTime) -> u32 {
    let d = depart.num_seconds_from_midnight() / 60;
    let a = arrive.num_seconds_from_midnight() / 60;
    if a > d { a - d } else { a + 24 * 60 - d }
}

/// Code under which a class is sold: 无座 is sold as the base class (§3.3).
fn order_code(seat: SeatClass, train_code: &str) -> Option<char> {
    match seat {
        SeatClass::NoSeat if train_code.starts_with(['G', 'D', 'C']) => Some('O'),
        SeatClass::NoSeat => Some('1'),
        other => other.code(),
    }
}

/// Price of a class in jiao; 无座 costs what its base class costs.
fn price(train: &Train, seat: SeatClass) -> u32 {
    let base = match (seat, order_code(seat, &train.code)) {
        (SeatClass::NoSeat, Some(code)) => SeatClass::from_code(code).unwrap_or(seat),
        _ => seat,
    };
    train.prices.get(&base).copied().unwrap_or(0)
}

/// Field 39: `code + price×10 (5 digits) + count (4 digits)` per class; 无座 counts from 3000.
fn yp_info_new(train: &Train, cells: &BTreeMap<SeatClass, Cell>) -> String {
    cells
        .iter()
        .filter_map(|(&seat, cell)| {
            let code = order_code(seat, &train.code)?;
            let count = if seat == SeatClass::NoSeat {
                3000 + cell.exact_count().min(6999)
            } else {
                cell.exact_count().min(2999)
            };
            Some(format!("{code}{:05}{count:04}", price(train, seat).min(99_999)))
        })
        .collect()
}

/// Fields 34 and 35: `90M0O0W0` and `9MOO`.
fn yp_ex_and_seat_types(train: &Train, cells: &BTreeMap<SeatClass, Cell>) -> (String, String) {
    let mut yp_ex = String::new();
    let mut seat_types = String::new();
    for &seat in cells.keys() {
        let (Some(ex), Some(order)) = (seat.code(), order_code(seat, &train.code)) else {
            continue;
        };
        yp_ex.push(ex);
        yp_ex.push('0');
        seat_types.push(order);
    }
    (yp_ex, seat_types)
}

/// A row's sale state: its opening (field 55) and whether it has come.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sale {
    pub opening: NaiveDateTime,
    pub open: bool,
}

/// One `data.result` row in the 2024 57-field layout (protocol doc §3). `secret` goes in field 0
/// when the train is bookable, `yp_info` in field 12; both are opaque to clients. Before its
/// opening a train offers nothing: `*` cells, `IS_TIME_NOT_BUY`, a 起售 notice in field 1 (unless
/// the scenario gives it another text, like 停运).
pub(crate) fn build_row(
    train: &Train,
    date: NaiveDate,
    cells: &BTreeMap<SeatClass, Cell>,
    sale: Sale,
    secret: &str,
    yp_info: &str,
) -> String {
    let waiting: BTreeMap<SeatClass, Cell>;
    let cells = if sale.open {
        cells
    } else {
        waiting = cells.keys().map(|&s| (s, Cell::NotOnSale)).collect();
        &waiting
    };
    let any_left = cells.values().any(|c| c.available());
    let can_web_buy = match &train.can_web_buy {
        _ if !sale.open => "IS_TIME_NOT_BUY".to_string(),
        Some(c) => c.clone(),
        None => if any_left { "Y" } else { "N" }.to_string(),
    };
    let button_text = if sale.open || train.button_text != "预订" {
        train.button_text.clone()
    } else {
        sale::button_text(sale.opening)
    };
    let bookable = button_text == "预订" && can_web_buy == "Y";
    let minutes = minutes_between(train.depart, train.arrive);
    let (yp_ex, seat_types) = yp_ex_and_seat_types(train, cells);

    let mut f: Vec<String> = vec![String::new(); ROW_FIELDS];
    f[0] = if bookable {
        secret.to_string()
    } else {
        String::new()
    };
    f[1] = button_text;
    f[2] = train.train_no.clone();
    f[3] = train.code.clone();
    f[4] = train.origin.clone();
    f[5] = train.terminus.clone();
    f[6] = train.from.clone();
    f[7] = train.to.clone();
    f[8] = train.depart.format("%H:%M").to_string();
    f[9] = train.arrive.format("%H:%M").to_string();
    f[10] = format!("{:02}:{:02}", minutes / 60, minutes % 60);
    f[11] = can_web_buy;
    f[12] = yp_info.to_string();
    f[13] = format!("{:04}{:02}{:02}", date.year(), date.month(), date.day());
    f[14] = "3".into();
    f[15] = "H7".into();
    f[16] = format!("{:02}", train.stops[0]);
    f[17] = format!("{:02}", train.stops[1]);
    f[18] = "1".into();
    f[19] = "0".into();
    for (seat, cell) in cells {
        f[seat.column()] = cell.to_string();
    }
    f[34] = yp_ex;
    f[35] = seat_types;
    f[36] = "1".into();
    f[37] = if train.houbu { "1" } else { "0" }.into();
    f[39] = yp_info_new(train, cells);
    f[40] = "0".into();
    f[45] = "1".into();
    f[46] = "0#0#0#0#z#0#z".into();
    f[48] = "7".into();
    f[49] = "CHN,CHN".into();
    f[52] = "N#N#".into();
    f[55] = sale.opening.format("%Y%m%d%H%M").to_string();
    f.join("|")
}

/// A `secretStr`-looking token: URL-encoded base64 as 12306 sends it.
fn secret_str() -> String {
    format!("{}%2F{}%3D%3D", token(120), token(40))
}

fn token(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

fn hex_token(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16)]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Scenario;

    const FIXTURE: &str = include_str!("../../tests/fixtures/leftTicket/queryG.SHH-CZH.2024-04-22.json");

    /// G8294 exactly as the 2024 capture shows it.
    fn fixture_g8294() -> Train {
        let text = r#"
            [[train]]
            code = "G8294"
            from = "SHH"
            to = "CZH"
            terminus = "AFH"
            depart = "14:44"
            arrive = "15:53"
            train_no = "55000G829420"
            stops = [1, 5]
            houbu = false
            seats = { "商务座" = "13", "一等座" = "有", "二等座" = "有", "无座" = "有" }
            prices = { "商务座" = 289.0, "一等座" = 145.0, "二等座" = 91.0 }
        "#;
        let world = Scenario::from_toml(text).unwrap().compile().unwrap();
        world.trains.into_iter().next().unwrap()
    }

    /// On sale, opened on the first day of a 15-day window at the boarding station's time from
    /// the simulator's table.
    fn on_sale(train: &Train, date: NaiveDate) -> Sale {
        let time = train
            .sale_time
            .unwrap_or_else(|| sale::builtin_times()[&train.from]);
        Sale {
            opening: crate::sale::opening::opening_day(date, 15).and_time(time),
            open: true,
        }
    }

    fn real_row(code: &str) -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(FIXTURE).unwrap();
        let rows = v["data"]["result"].as_array().unwrap();
        let row = rows
            .iter()
            .filter_map(|r| r.as_str())
            .find(|r| r.split('|').nth(3) == Some(code))
            .unwrap();
        row.split('|').map(str::to_string).collect()
    }

    #[test]
    fn our_g8294_row_matches_the_real_one_field_by_field() {
        let train = fixture_g8294();
        let date = NaiveDate::from_ymd_opt(2024, 4, 22).unwrap();
        let row = build_row(
            &train,
            date,
            &train.seats,
            on_sale(&train, date),
            "SECRET",
            "YPINFO",
        );
        let ours: Vec<&str> = row.split('|').collect();
        let real = real_row("G8294");
        assert_eq!(ours.len(), ROW_FIELDS);
        assert_eq!(real.len(), ROW_FIELDS);
        assert_eq!(ours[0], "SECRET");
        assert_eq!(ours[12], "YPINFO");
        // 39: the real 无座 count (110) hides behind 有, which we serve as 21; 54: a discount code.
        for i in (1..ROW_FIELDS).filter(|i| ![12, 39, 54].contains(i)) {
            assert_eq!(ours[i], real[i], "field {i}");
        }
        assert_eq!(&ours[39][..30], &real[39][..30]);
        assert_eq!(ours[39].len(), real[39].len());
        assert!(ours[39].ends_with("O009103021"), "{}", ours[39]);
    }

    #[test]
    fn sold_out_trains_have_no_secret_and_cannot_be_bought() {
        let mut train = fixture_g8294();
        train.houbu = true;
        let cells: BTreeMap<SeatClass, Cell> = [
            (SeatClass::Second, Cell::None),
            (SeatClass::Business, Cell::NotOnSale),
        ]
        .into();
        let date = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let row = build_row(&train, date, &cells, on_sale(&train, date), "SECRET", "");
        let f: Vec<&str> = row.split('|').collect();
        assert_eq!((f[0], f[11], f[37]), ("", "N", "1"));
        assert_eq!((f[30], f[32], f[31]), ("无", "*", ""));
        assert_eq!(f[39], "9028900000O009100000");
        assert_eq!(f[55], "202611171430");
    }

    #[test]
    fn no_seat_on_a_slow_train_is_sold_as_hard_seat() {
        let text = r#"
            [[train]]
            code = "K1805"
            from = "SHH"
            to = "CZH"
            depart = "21:05"
            arrive = "00:31"
            seats = { "硬座" = "无", "无座" = "7", "硬卧" = 2 }
            prices = { "硬座" = 30.5, "硬卧" = 80.5 }
        "#;
        let world = Scenario::from_toml(text).unwrap().compile().unwrap();
        let train = &world.trains[0];
        let date = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let row = build_row(train, date, &train.seats, on_sale(train, date), "S", "");
        let f: Vec<&str> = row.split('|').collect();
        assert_eq!(f[10], "03:26");
        assert_eq!((f[29], f[26], f[28]), ("无", "7", "2"));
        assert_eq!(f[34], "3010W0");
        assert_eq!(f[35], "311");
        assert_eq!(f[39], "300805000210030500001003053007");
    }

    #[test]
    fn before_its_opening_a_row_offers_nothing_and_announces_when_it_opens() {
        let train = fixture_g8294();
        let date = NaiveDate::from_ymd_opt(2027, 1, 3).unwrap();
        let opening = NaiveDate::from_ymd_opt(2026, 12, 20)
            .unwrap()
            .and_hms_opt(14, 30, 0)
            .unwrap();
        let waiting = Sale { opening, open: false };
        let row = build_row(&train, date, &train.seats, waiting, "SECRET", "YP");
        let f: Vec<&str> = row.split('|').collect();
        assert_eq!(f.len(), ROW_FIELDS);
        assert_eq!(
            (f[0], f[1], f[11]),
            ("", "12月20日14点30分起售", "IS_TIME_NOT_BUY")
        );
        assert_eq!(
            (f[32], f[31], f[30], f[26]),
            ("*", "*", "*", "*"),
            "every class of the train"
        );
        assert_eq!((f[29], f[28]), ("", ""), "classes not on the train stay empty");
        assert_eq!(f[55], "202612201430");
        // Read back by the real decoder and the 起售 computation.
        let decoded = crate::rail::left_ticket::decode_row(0, &row).unwrap();
        assert!(!decoded.bookable());
        assert_eq!(
            crate::sale::opening::row_sale(&decoded),
            crate::sale::opening::RowSale::NotYet
        );
        let o = crate::sale::opening::row_opening(&decoded, date, opening.date()).unwrap();
        assert_eq!(o.at.naive_local(), opening);
        // A stopped train keeps its own notice.
        let mut stopped = train.clone();
        stopped.button_text = "停运".into();
        let row = build_row(&stopped, date, &stopped.seats, waiting, "S", "");
        assert_eq!(row.split('|').nth(1), Some("停运"));
    }

    #[test]
    fn only_zero_padded_dates_parse() {
        assert!(parse_date("2024-04-22").is_some());
        for bad in ["2024-4-22", "2019-10-1", "20240422", "", "2024-02-30", "x"] {
            assert!(parse_date(bad).is_none(), "{bad}");
        }
    }
}
