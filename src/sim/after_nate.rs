//! The simulator's 候补 surface: `POST /otn/afterNateOrder/queryQueue` with a logged-in cookie,
//! and the controls that move the simulated order through its life.
//!
//! It exists so that `demo` can show a waitlist order being paid for and fulfilled, and tests can
//! run the real client against every state: no order, each status, queue changes, a session that
//! expires (302 to the login page) and comes back with a new cookie. Answers copy seed 000 field
//! for field, in its order, numbers as strings where 12306 sends strings.
//!
//! Sessions: a request needs a `tk` cookie, any non-empty value, or exactly the one set by
//! [`Sim::set_session_cookie`]; after [`Sim::expire_session`] every request is sent to the login
//! page until a cookie is set again.
//!
//! Control API (`POST /sim/waitlist`, JSON, every key optional, applied in this order):
//! `{"clear":true}` (no order), `{"order":{…WaitlistSpec…}}` (`{}` = the seed's order),
//! `{"status":"04"}`, `{"queue":{"train":"G105","level":"1","info":"候补人数较少"}}`,
//! `{"session":"expired"}` or `{"session":"valid"}`, `{"cookie":"tk-value"}`. 404 when there is
//! no order (or no such train) to change, 400 for anything else it cannot do.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::rail::{Envelope, cookies};
use super::{Sim, lock, ok, refuse};

/// Where 12306 sends a logged-out visitor.
pub(crate) const LOGIN_PAGE: &str = "https://kyfw.12306.cn/otn/resources/login.html";
/// How long a 待支付 order may wait for its deposit when no window is given (seed 000: ≈ 30 min).
const PAYMENT_WINDOW_MS: i64 = 30 * 60 * 1000;

/// The simulated order, in the caller's terms. `Default` is seed 000's order with the payment
/// window left open (filled in from the simulator's clock when the order is set);
/// [`WaitlistSpec::seed`] is seed 000 exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WaitlistSpec {
    pub reserve_no: String,
    /// `00`, `01`, `04`, `05`, `06`, `07` (or anything else, served as 未知状态).
    pub status: String,
    pub prepay_amount: String,
    pub reserve_time: String,
    /// `YYYY-MM-DD HH:MM:SS`.
    pub realize_limit_time: String,
    /// `data.beginTime` / `data.loseTime`, epoch ms; `None` while 待支付 = a 30-minute window
    /// from the moment the order is set or turns 待支付.
    pub begin_time_ms: Option<i64>,
    pub lose_time_ms: Option<i64>,
    pub needs: Vec<NeedSpec>,
    pub passengers: Vec<PassengerSpec>,
}

/// One train + seat of a [`WaitlistSpec`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NeedSpec {
    pub train: String,
    pub date: NaiveDate,
    pub from: String,
    pub from_code: String,
    pub to: String,
    pub to_code: String,
    pub start_time: String,
    pub arrive_time: String,
    pub seat: String,
    pub queue_level: String,
    pub queue_info: String,
}

/// A traveller of a [`WaitlistSpec`]; `id_no` is served as given (mask it, or not, to test).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PassengerSpec {
    pub name: String,
    pub id_type: String,
    pub id_type_name: String,
    pub id_no: String,
    pub ticket_type: String,
}

impl Default for WaitlistSpec {
    fn default() -> Self {
        WaitlistSpec {
            reserve_no: "E87000007466000022".into(),
            status: "01".into(),
            prepay_amount: "1748.0".into(),
            reserve_time: "2020-03-23".into(),
            realize_limit_time: "2020-03-24 23:30:00".into(),
            begin_time_ms: None,
            lose_time_ms: None,
            needs: vec![NeedSpec::default()],
            passengers: vec![PassengerSpec::default()],
        }
    }
}

impl Default for NeedSpec {
    fn default() -> Self {
        NeedSpec {
            train: "G105".into(),
            date: NaiveDate::from_ymd_opt(2020, 3, 25).expect("valid date"),
            from: "北京南".into(),
            from_code: "VNP".into(),
            to: "上海虹桥".into(),
            to_code: "AOH".into(),
            start_time: "07:20".into(),
            arrive_time: "13:08".into(),
            seat: "商务座".into(),
            queue_level: "2".into(),
            queue_info: "候补人数中等".into(),
        }
    }
}

impl Default for PassengerSpec {
    fn default() -> Self {
        PassengerSpec {
            name: "杨赟".into(),
            id_type: "1".into(),
            id_type_name: "中国居民身份证".into(),
            id_no: "3623***********030".into(),
            ticket_type: "成人票".into(),
        }
    }
}

impl WaitlistSpec {
    /// Seed 000's order, payment window included.
    pub fn seed() -> WaitlistSpec {
        WaitlistSpec {
            begin_time_ms: Some(1584945059103),
            lose_time_ms: Some(1584946837476),
            ..WaitlistSpec::default()
        }
    }
}

/// The simulator's 候补 state (held in `Inner`).
#[derive(Debug, Default)]
pub(super) struct WaitlistBoard {
    order: Option<WaitlistSpec>,
    /// The only `tk` accepted; `None` = any non-empty one.
    cookie: Option<String>,
    expired: bool,
}

/// Why a waitlist change was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WaitlistSimError {
    #[error("the simulator holds no 候补 order")]
    NoOrder,
    #[error("the 候补 order has no train {0:?}")]
    UnknownTrain(String),
}

impl Sim {
    /// Sets (or, with `None`, removes) the simulated 候补 order.
    pub fn set_waitlist(&self, order: Option<WaitlistSpec>) {
        let now = self.now().timestamp_millis();
        let mut board = lock(&self.inner.waitlist);
        board.order = order.map(|mut o| {
            open_payment_window(&mut o, now, false);
            o
        });
    }

    /// The simulated order as it is now.
    pub fn waitlist(&self) -> Option<WaitlistSpec> {
        lock(&self.inner.waitlist).order.clone()
    }

    /// Moves the order to another status; turning 待支付 opens a fresh 30-minute payment window.
    pub fn set_waitlist_status(&self, code: &str) -> Result<(), WaitlistSimError> {
        let now = self.now().timestamp_millis();
        let mut board = lock(&self.inner.waitlist);
        let order = board.order.as_mut().ok_or(WaitlistSimError::NoOrder)?;
        let was = std::mem::replace(&mut order.status, code.trim().to_string());
        open_payment_window(order, now, was != order.status);
        Ok(())
    }

    /// Changes the queue of one train of the order (every seat of it).
    pub fn set_queue(&self, train: &str, level: &str, info: &str) -> Result<(), WaitlistSimError> {
        let mut board = lock(&self.inner.waitlist);
        let order = board.order.as_mut().ok_or(WaitlistSimError::NoOrder)?;
        let mut found = false;
        for n in order
            .needs
            .iter_mut()
            .filter(|n| n.train.eq_ignore_ascii_case(train.trim()))
        {
            n.queue_level = level.to_string();
            n.queue_info = info.to_string();
            found = true;
        }
        if found {
            Ok(())
        } else {
            Err(WaitlistSimError::UnknownTrain(train.to_string()))
        }
    }

    /// Logs the user out: every request goes to the login page until a cookie is set again.
    pub fn expire_session(&self) {
        lock(&self.inner.waitlist).expired = true;
    }

    /// Logs the user in with this `tk` (the only one accepted from now on).
    pub fn set_session_cookie(&self, tk: &str) {
        let mut board = lock(&self.inner.waitlist);
        board.cookie = Some(tk.trim().to_string());
        board.expired = false;
    }

    /// Back to the start: any non-empty `tk` is accepted.
    pub fn restore_session(&self) {
        let mut board = lock(&self.inner.waitlist);
        board.cookie = None;
        board.expired = false;
    }
}

/// A 待支付 order without a window (or just turned 待支付) gets one starting `now`.
fn open_payment_window(o: &mut WaitlistSpec, now_ms: i64, status_changed: bool) {
    if o.status == "01" && (status_changed || o.lose_time_ms.is_none()) {
        o.begin_time_ms = Some(now_ms);
        o.lose_time_ms = Some(now_ms + PAYMENT_WINDOW_MS);
    }
}

pub(super) fn routes() -> Router<Sim> {
    Router::new()
        .route("/otn/afterNateOrder/queryQueue", post(query_queue))
        .route("/sim/waitlist", post(control))
}

// ---- the 12306 endpoint ---------------------------------------------------------------------

async fn query_queue(State(sim): State<Sim>, headers: HeaderMap) -> Response {
    let board = lock(&sim.inner.waitlist);
    let tk = cookie(&headers, "tk").filter(|v| !v.is_empty());
    let logged_in = match (&tk, &board.cookie) {
        _ if board.expired => false,
        (None, _) => false,
        (Some(tk), Some(want)) => tk == want,
        (Some(_), None) => true,
    };
    if !logged_in {
        return (StatusCode::FOUND, [(header::LOCATION, LOGIN_PAGE)]).into_response();
    }
    let data = match &board.order {
        Some(o) => Data {
            flag: true,
            order: Some(order_json(o)),
            status: 1,
            isAsync: true,
            beginTime: o.begin_time_ms,
            loseTime: o.lose_time_ms,
        },
        None => Data {
            flag: true,
            order: None,
            status: 2,
            isAsync: false,
            beginTime: None,
            loseTime: None,
        },
    };
    Json(Envelope::ok(data)).into_response()
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    cookies(headers)
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim().to_string())
}

/// 12306's dictionary, written out again on purpose: the simulator is the decoder's independent
/// witness, so it shares no table with `decide::waitlist::WaitlistStatus`.
fn status_name(code: &str) -> &'static str {
    match code {
        "00" => "排队中",
        "01" => "待支付",
        "04" => "待兑现",
        "05" => "已退单",
        "06" => "已退单(自动退单)",
        "07" => "兑现成功",
        _ => "未知状态",
    }
}

#[derive(Serialize)]
#[allow(non_snake_case)]
struct Data {
    flag: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    order: Option<OrderJson>,
    status: u8,
    isAsync: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    beginTime: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    loseTime: Option<i64>,
}

/// `data.order`, keys in seed 000's order.
#[derive(Serialize)]
struct OrderJson {
    status_code: String,
    realize_alltype_num: &'static str,
    total_page: &'static str,
    sequence_no: &'static str,
    reserve_no: String,
    ticket_num: &'static str,
    prepay_amount: String,
    needs: Vec<NeedJson>,
    relation_no: &'static str,
    trace_id: &'static str,
    num_in_page: &'static str,
    reserve_time: String,
    realize_limit_time: String,
    refund_trade_no: &'static str,
    current_page: &'static str,
    realize_tmp_train: &'static str,
    passengers: Vec<PassengerJson>,
    accept_tmp_train: &'static str,
    status_name: &'static str,
    ticket_price: &'static str,
    tmp_train_flag: &'static str,
    refund_diff_flag: &'static str,
    batch_no: &'static str,
}

#[derive(Serialize)]
struct NeedJson {
    board_train_code: String,
    queue_num: &'static str,
    to_station_name: String,
    queue_level: String,
    queue_info: String,
    realize_tmp_train: &'static str,
    status_name: &'static str,
    batch_ticket_price: String,
    status_code: String,
    to_tele_code: String,
    from_station_name: String,
    train_date_str: String,
    queue_realize_num: &'static str,
    queue_all_num: &'static str,
    show_fail_info: &'static str,
    arrive_time: String,
    from_tele_code: String,
    batch_status: &'static str,
    train_date: String,
    arrive_date: String,
    start_tele_code: String,
    tmp_train_flag: &'static str,
    start_time: String,
    end_tele_code: String,
    seat_name: String,
}

#[derive(Serialize)]
struct PassengerJson {
    ticket_type: String,
    passenger_id_type: String,
    bed_type_selected: &'static str,
    passenger_name: String,
    passenger_id_no: String,
    passenger_id_name: String,
}

fn order_json(o: &WaitlistSpec) -> OrderJson {
    let status_name = status_name(&o.status);
    OrderJson {
        status_code: o.status.clone(),
        realize_alltype_num: "",
        total_page: "1000",
        sequence_no: "",
        reserve_no: o.reserve_no.clone(),
        ticket_num: "",
        prepay_amount: o.prepay_amount.clone(),
        needs: o
            .needs
            .iter()
            .map(|n| {
                // Arrival before departure on the clock = the next day.
                let arrive = if n.arrive_time < n.start_time {
                    n.date.succ_opt().unwrap_or(n.date)
                } else {
                    n.date
                };
                NeedJson {
                    board_train_code: n.train.clone(),
                    queue_num: "",
                    to_station_name: n.to.clone(),
                    queue_level: n.queue_level.clone(),
                    queue_info: n.queue_info.clone(),
                    realize_tmp_train: "N",
                    status_name,
                    batch_ticket_price: o.prepay_amount.clone(),
                    status_code: o.status.clone(),
                    to_tele_code: n.to_code.clone(),
                    from_station_name: n.from.clone(),
                    train_date_str: format!("{}年{}月{}日", n.date.year(), n.date.month(), n.date.day()),
                    queue_realize_num: "",
                    queue_all_num: "",
                    show_fail_info: "N",
                    arrive_time: n.arrive_time.clone(),
                    from_tele_code: n.from_code.clone(),
                    batch_status: "0",
                    train_date: n.date.format("%Y-%m-%d").to_string(),
                    arrive_date: arrive.format("%Y-%m-%d").to_string(),
                    start_tele_code: n.from_code.clone(),
                    tmp_train_flag: "",
                    start_time: n.start_time.clone(),
                    end_tele_code: n.to_code.clone(),
                    seat_name: n.seat.clone(),
                }
            })
            .collect(),
        relation_no: "",
        trace_id: "C1_Y_6647741311607697275",
        num_in_page: "10",
        reserve_time: o.reserve_time.clone(),
        realize_limit_time: o.realize_limit_time.clone(),
        refund_trade_no: "",
        current_page: "0",
        realize_tmp_train: "N",
        passengers: o
            .passengers
            .iter()
            .map(|p| PassengerJson {
                ticket_type: p.ticket_type.clone(),
                passenger_id_type: p.id_type.clone(),
                bed_type_selected: "\u{0}",
                passenger_name: p.name.clone(),
                passenger_id_no: p.id_no.clone(),
                passenger_id_name: p.id_type_name.clone(),
            })
            .collect(),
        accept_tmp_train: "N",
        status_name,
        ticket_price: "0.0",
        tmp_train_flag: "",
        refund_diff_flag: "N",
        batch_no: "1",
    }
}

// ---- control API ----------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ControlBody {
    #[serde(default)]
    clear: bool,
    #[serde(default)]
    order: Option<WaitlistSpec>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    queue: Option<QueueBody>,
    #[serde(default)]
    session: Option<String>,
    #[serde(default)]
    cookie: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueBody {
    train: String,
    level: String,
    #[serde(default)]
    info: String,
}

async fn control(State(sim): State<Sim>, Json(body): Json<ControlBody>) -> Response {
    if body.clear {
        sim.set_waitlist(None);
    }
    if let Some(order) = body.order {
        sim.set_waitlist(Some(order));
    }
    let changes = [
        body.status.map(|s| sim.set_waitlist_status(&s)),
        body.queue.map(|q| sim.set_queue(&q.train, &q.level, &q.info)),
    ];
    for change in changes.into_iter().flatten() {
        if let Err(e) = change {
            return refuse(StatusCode::NOT_FOUND, e);
        }
    }
    match body.session.as_deref().map(str::trim) {
        None => {}
        Some("expired") => sim.expire_session(),
        Some("valid") => sim.restore_session(),
        Some(other) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("session {other:?}: expected \"expired\" or \"valid\""),
            );
        }
    }
    if let Some(tk) = body.cookie {
        if tk.trim().is_empty() {
            return refuse(StatusCode::BAD_REQUEST, "cookie must not be empty");
        }
        sim.set_session_cookie(&tk);
    }
    ok()
}

#[cfg(test)]
mod tests {

    use reqwest::redirect::Policy;
    use secrecy::SecretString;
    use serde_json::Value;

    use super::*;
    use crate::rail::after_nate::{QueueAnswer, decode_queue, tests::seed_body};
    use crate::rail::test_support::sim_and_client;
    use crate::waitlist::{self, WaitlistReason};

    fn cookie(v: &str) -> SecretString {
        SecretString::from(v.to_string())
    }

    fn order(a: QueueAnswer) -> crate::rail::after_nate::WaitlistOrder {
        match a {
            QueueAnswer::Order(o) => o,
            other => panic!("expected an order, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn without_a_tk_cookie_the_query_is_sent_to_the_login_page() {
        let (sim, client) = sim_and_client().await;
        sim.set_waitlist(Some(WaitlistSpec::seed()));
        let raw = reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .unwrap();
        let r = raw
            .post(format!("{}/otn/afterNateOrder/queryQueue", sim.base_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::FOUND);
        assert_eq!(r.headers()[header::LOCATION], LOGIN_PAGE);
        let a = client.query_waitlist(&cookie("JSESSIONID=abc")).await.unwrap();
        assert!(matches!(a, QueueAnswer::SessionExpired(w) if w.contains("login.html")));
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn seed_order_is_served_and_decodes_exactly_like_the_real_seed() {
        let (sim, client) = sim_and_client().await;
        sim.set_waitlist(Some(WaitlistSpec::seed()));
        let got = order(
            client
                .query_waitlist(&cookie("JSESSIONID=abc; tk=t1"))
                .await
                .unwrap(),
        );
        assert_eq!(got, order(decode_queue(&seed_body()).unwrap()));
        assert_eq!(sim.stats().requests["/otn/afterNateOrder/queryQueue"], 1);
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn served_json_has_the_keys_of_the_seed() {
        fn keys(v: &Value, path: &str, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    for (k, v) in m {
                        let p = format!("{path}.{k}");
                        out.push(p.clone());
                        keys(v, &p, out);
                    }
                }
                Value::Array(a) => a.iter().for_each(|v| keys(v, &format!("{path}[]"), out)),
                _ => {}
            }
        }
        let (sim, _) = sim_and_client().await;
        sim.set_waitlist(Some(WaitlistSpec::seed()));
        let body = reqwest::Client::new()
            .post(format!("{}/otn/afterNateOrder/queryQueue", sim.base_url()))
            .header(header::COOKIE, "tk=x")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let (mut served, mut seed) = (Vec::new(), Vec::new());
        keys(&serde_json::from_str(&body).unwrap(), "", &mut served);
        keys(&serde_json::from_str(&seed_body()).unwrap(), "", &mut seed);
        served.sort();
        seed.sort();
        assert_eq!(served, seed);
        let served: Value = serde_json::from_str(&body).unwrap();
        let seed: Value = serde_json::from_str(&seed_body()).unwrap();
        assert_eq!(served, seed, "the seed order is served value for value");
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn status_and_queue_changes_are_observed_and_decided() {
        let (sim, client) = sim_and_client().await;
        let c = cookie("tk=t1");
        sim.set_waitlist(Some(WaitlistSpec {
            status: "00".into(),
            ..WaitlistSpec::default()
        }));
        let first = order(client.query_waitlist(&c).await.unwrap());
        assert_eq!(
            (first.status_code.as_str(), first.status_name.as_str()),
            ("00", "排队中")
        );
        let now = sim.now().fixed_offset();
        let d0 = waitlist::decide(
            None,
            &QueueAnswer::Order(first),
            "fp",
            now,
            waitlist::DEFAULT_REMIND_BEFORE,
        );

        sim.set_waitlist_status("01").unwrap();
        let paying = order(client.query_waitlist(&c).await.unwrap());
        assert_eq!(paying.status_name, "待支付");
        let lose = paying.lose_time.expect("a payment window opens");
        assert!(
            lose > now && lose <= now + chrono::Duration::minutes(31),
            "{lose}"
        );
        let d1 = waitlist::decide(
            Some(&d0.snapshot),
            &QueueAnswer::Order(paying),
            "fp",
            now,
            waitlist::DEFAULT_REMIND_BEFORE,
        );
        assert!(
            d1.reasons.contains(&WaitlistReason::PaymentDue),
            "{:?}",
            d1.reasons
        );

        sim.set_waitlist_status("04").unwrap();
        sim.set_queue("G105", "1", "候补人数较少").unwrap();
        let waiting = order(client.query_waitlist(&c).await.unwrap());
        assert_eq!(waiting.status_code, "04");
        assert_eq!(waiting.needs[0].queue_info, "候补人数较少");
        assert_eq!(
            sim.set_queue("Z1", "1", ""),
            Err(WaitlistSimError::UnknownTrain("Z1".into()))
        );
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn no_order_is_status_two_not_async() {
        let (sim, client) = sim_and_client().await;
        let a = client.query_waitlist(&cookie("tk=t1")).await.unwrap();
        assert_eq!(a, QueueAnswer::NoOrder);
        assert_eq!(sim.set_waitlist_status("01"), Err(WaitlistSimError::NoOrder));
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn an_expired_session_needs_the_new_cookie() {
        let (sim, client) = sim_and_client().await;
        sim.set_waitlist(Some(WaitlistSpec::seed()));
        sim.expire_session();
        let old = cookie("tk=old");
        assert!(matches!(
            client.query_waitlist(&old).await.unwrap(),
            QueueAnswer::SessionExpired(_)
        ));
        sim.set_session_cookie("new");
        assert!(matches!(
            client.query_waitlist(&old).await.unwrap(),
            QueueAnswer::SessionExpired(_)
        ));
        let new = cookie("JSESSIONID=j; tk=new");
        assert!(matches!(
            client.query_waitlist(&new).await.unwrap(),
            QueueAnswer::Order(_)
        ));
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn control_api_drives_the_order_and_the_session() {
        let (sim, client) = sim_and_client().await;
        let http = reqwest::Client::new();
        let url = format!("{}/sim/waitlist", sim.base_url());
        let post = |body: Value| http.post(&url).json(&body).send();
        assert_eq!(
            post(serde_json::json!({"order": {}})).await.unwrap().status(),
            200
        );
        let c = cookie("tk=t1");
        let o = order(client.query_waitlist(&c).await.unwrap());
        assert_eq!(o.reserve_no, "E87000007466000022");
        assert!(o.lose_time.is_some());

        let r = post(serde_json::json!({"status": "07", "queue": {"train": "G105", "level": "1"}}))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            order(client.query_waitlist(&c).await.unwrap()).status_name,
            "兑现成功"
        );

        assert_eq!(
            post(serde_json::json!({"session": "expired"}))
                .await
                .unwrap()
                .status(),
            200
        );
        assert!(matches!(
            client.query_waitlist(&c).await.unwrap(),
            QueueAnswer::SessionExpired(_)
        ));
        assert_eq!(
            post(serde_json::json!({"cookie": "t1"})).await.unwrap().status(),
            200
        );
        assert!(matches!(
            client.query_waitlist(&c).await.unwrap(),
            QueueAnswer::Order(_)
        ));

        assert_eq!(
            post(serde_json::json!({"clear": true})).await.unwrap().status(),
            200
        );
        assert_eq!(client.query_waitlist(&c).await.unwrap(), QueueAnswer::NoOrder);
        assert_eq!(
            post(serde_json::json!({"status": "01"})).await.unwrap().status(),
            404
        );
        assert_eq!(
            post(serde_json::json!({"session": "maybe"}))
                .await
                .unwrap()
                .status(),
            400
        );
        sim.shutdown().await;
    }
}
