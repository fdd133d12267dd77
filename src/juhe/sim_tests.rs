//! The real client against the simulator's Juhe side on a loopback port: the order script, the
//! rules Juhe enforces, pushes to a real callback receiver, and the key staying secret.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Path;
use chrono::{Days, NaiveDate};
use secrecy::SecretString;

use super::*;
use crate::config;
use crate::sim::{CreateFault, JUHE_DEFAULT_KEY, JuheOutcome, Scenario, Sim};

async fn start() -> Sim {
    Sim::start("127.0.0.1:0".parse().unwrap(), Scenario::builtin())
        .await
        .unwrap()
}

fn client_with(url: &str, key: &str, timeout: Duration) -> JuheClient {
    let upstream = config::Upstream {
        juhe_url: url.to_string(),
        timeout,
        ..Default::default()
    };
    let juhe = config::Juhe {
        key: Some(SecretString::from(key.to_string())),
        ..Default::default()
    };
    JuheClient::new(&upstream, &juhe).unwrap()
}

fn client(sim: &Sim) -> JuheClient {
    client_with(&sim.base_url(), JUHE_DEFAULT_KEY, Duration::from_secs(5))
}

fn travel_date() -> NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
        + Days::new(5)
}

/// Searches 北京 → 上海 and builds a create for G1 二等座 from the result, as the order flow will.
async fn g1_order(c: &JuheClient, out_order_no: &str) -> CreateOrder {
    let date = travel_date();
    let found = c.search("北京", "上海", date, false).await.unwrap();
    let g1 = found.trains.iter().find(|t| t.train_no == "G1").unwrap();
    assert!(g1.tickets.contains_key("secondseat"), "{g1:?}");
    CreateOrder {
        query_key: found.query_key.clone(),
        out_order_no: out_order_no.into(),
        ticket_model: 0,
        account_no: None,
        account_pwd: None,
        train_no: vec!["G1".into()],
        seat_class_code: vec!["secondseat".into()],
        main_train_no: "G1".into(),
        main_seat_class: "secondseat".into(),
        from_station: g1.from_station.clone(),
        to_station: g1.to_station.clone(),
        depart_date: date.format("%Y-%m-%d").to_string(),
        close_time: date.and_hms_opt(5, 0, 0).unwrap(),
        accept_no_seat: false,
        person: "张三".into(),
        cellphone: SecretString::from("13812345678"),
        email: None,
        passengers: vec![super::tests::zhang_san()],
    }
}

/// Default script: N, then D after 2 s, then the outcome after 5 more.
async fn run_script(sim: &Sim) {
    sim.juhe_advance(Duration::from_secs(2)).await;
    sim.juhe_advance(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn search_create_and_detail_progress_to_issued_with_seat_numbers() {
    let sim = start().await;
    let c = client(&sim);
    let found = c
        .search("beijing", "shanghai", travel_date(), false)
        .await
        .unwrap();
    let g1 = found.trains.iter().find(|t| t.train_no == "G1").unwrap();
    assert_eq!(
        (g1.from_station.as_str(), g1.to_station.as_str()),
        ("北京南", "上海虹桥")
    );
    assert_eq!(g1.tickets["secondseat"].price, Some(662.0));
    assert_eq!(g1.tickets["secondseat"].seat_state, 1);
    assert_eq!(found.query_key.len(), 32);

    let order = g1_order(&c, "yp0001g1").await;
    let created = c.create_order(&order).await.unwrap();
    assert_eq!(created.out_order_no, "yp0001g1");
    assert!(created.order_no.starts_with("TFT"));
    assert_eq!(
        c.order_detail("yp0001g1", false).await.unwrap().status,
        OrderStatus::Created
    );

    sim.juhe_advance(Duration::from_secs(2)).await;
    assert_eq!(
        c.order_detail("yp0001g1", false).await.unwrap().status,
        OrderStatus::Grabbing
    );
    sim.juhe_advance(Duration::from_secs(5)).await;
    let plain = c.order_detail("yp0001g1", false).await.unwrap();
    assert_eq!(plain.status, OrderStatus::Issued);
    assert_eq!(plain.seat_class.as_deref(), Some("二等座"));

    let d = c.order_detail("yp0001g1", true).await.unwrap();
    assert_eq!(d.status, OrderStatus::Issued);
    assert!(d.ticket_no.as_deref().unwrap().starts_with('E'));
    assert_eq!(d.order_price, Some(662.0));
    let p = &d.passengers[0];
    assert_eq!(p.seat_no.as_deref(), Some("07车厢,009号"));
    assert_eq!(p.ticket_state, Some(TicketState::Issued));
    assert_eq!(p.passenger_id.as_deref(), Some("623838773"));
    assert_eq!(p.id_masked.as_deref(), Some("3623***********030"));

    let calls = sim.juhe_create_calls();
    assert_eq!(calls.len(), 1);
    assert!(!calls[0].params.contains_key("key"));
    assert_eq!(calls[0].params["cellphone"], "138****5678");
    assert!(!calls[0].params["passengers"].contains("362321199001011030"));
}

#[tokio::test]
async fn a_fail_outcome_ends_in_u_with_the_msg_code_text() {
    let sim = start().await;
    sim.juhe_set_outcome(Some("G1"), JuheOutcome::Fail("308".into()));
    let c = client(&sim);
    c.create_order(&g1_order(&c, "yp0002fail").await).await.unwrap();
    run_script(&sim).await;
    let d = c.order_detail("yp0002fail", false).await.unwrap();
    assert_eq!(d.status, OrderStatus::Failed);
    assert_eq!(d.fail_msg.as_deref(), Some("乘客身份信息未通过验证"));
    let push = &sim.juhe_pushes()[0];
    assert_eq!((push.kind, push.body["msgCode"].as_str()), (1, Some("308")));
    assert_eq!(push.url, None);
}

#[tokio::test]
async fn an_expire_outcome_ends_in_o_with_a_type_3_push() {
    let sim = start().await;
    sim.juhe_set_outcome(None, JuheOutcome::Expire);
    let c = client(&sim);
    c.create_order(&g1_order(&c, "yp0003exp").await).await.unwrap();
    run_script(&sim).await;
    let d = c.order_detail("yp0003exp", false).await.unwrap();
    assert_eq!(d.status, OrderStatus::Expired);
    assert!(d.status.is_final());
    let pushes = sim.juhe_pushes();
    assert_eq!(pushes.len(), 1);
    let push = decode_push(pushes[0].kind, &pushes[0].body.to_string()).unwrap();
    assert_eq!(push.dedupe_key(), "yp0003exp:3:101");
    assert_eq!(push.msg_info.as_deref(), Some("抢票单过期"));
}

#[tokio::test]
async fn a_duplicate_out_order_no_is_refused_and_never_creates_a_second_order() {
    let sim = start().await;
    let c = client(&sim);
    let order = g1_order(&c, "yp0004dup").await;
    c.create_order(&order).await.unwrap();
    let e = c.create_order(&order).await.unwrap_err();
    assert!(e.is_duplicate_order(), "{e}");
    // Even with a fresh search the number stays taken.
    let again = g1_order(&c, "yp0004dup").await;
    assert!(c.create_order(&again).await.unwrap_err().is_duplicate_order());
    assert_eq!(sim.juhe_orders().len(), 1);
    let answers: Vec<String> = sim.juhe_create_calls().into_iter().map(|c| c.answer).collect();
    assert_eq!(answers.len(), 3);
    assert_eq!(&answers[1..], ["duplicate", "duplicate"]);
}

#[tokio::test]
async fn a_create_that_times_out_may_still_have_created_the_order() {
    let sim = start().await;
    let c = client_with(&sim.base_url(), JUHE_DEFAULT_KEY, Duration::from_millis(500));
    let order = g1_order(&c, "yp0005slow").await;

    sim.juhe_fail_next_create(CreateFault::Timeout, true);
    let e = c.create_order(&order).await.unwrap_err();
    assert!(matches!(e, JuheError::Timeout { .. }) && e.is_transient(), "{e}");
    assert!(!e.to_string().contains(JUHE_DEFAULT_KEY));
    let found = c.order_detail("yp0005slow", false).await.unwrap();
    assert_eq!(found.status, OrderStatus::Created);

    let lost = g1_order(&c, "yp0005lost").await;
    sim.juhe_fail_next_create(CreateFault::Timeout, false);
    assert!(matches!(
        c.create_order(&lost).await,
        Err(JuheError::Timeout { .. })
    ));
    assert!(matches!(
        c.order_detail("yp0005lost", false).await,
        Err(JuheError::NotFound { .. })
    ));
    c.create_order(&lost).await.unwrap();

    let broken = g1_order(&c, "yp0005err").await;
    sim.juhe_fail_next_create(CreateFault::Error, true);
    let e = c.create_order(&broken).await.unwrap_err();
    assert!(
        matches!(&e, JuheError::Network { message, .. } if message == "HTTP 502"),
        "{e}"
    );
    c.order_detail("yp0005err", false).await.unwrap();
    assert_eq!(sim.juhe_orders().len(), 3);
}

#[tokio::test]
async fn only_grabbing_orders_can_be_cancelled_and_a_second_cancel_is_locked() {
    let sim = start().await;
    let c = client(&sim);
    c.create_order(&g1_order(&c, "yp0006a").await).await.unwrap();
    let order_no = c.cancel_order("yp0006a").await.unwrap();
    assert!(order_no.starts_with("TFT"));
    assert_eq!(
        c.order_detail("yp0006a", false).await.unwrap().status,
        OrderStatus::Cancelled
    );
    let again = c.cancel_order("yp0006a").await.unwrap_err();
    assert_eq!(again.msg_code(), Some("206"), "{again}");

    c.create_order(&g1_order(&c, "yp0006b").await).await.unwrap();
    run_script(&sim).await;
    let issued = c.cancel_order("yp0006b").await.unwrap_err();
    assert!(matches!(
        &issued,
        JuheError::Api {
            code: CANCEL_FAILED,
            ..
        }
    ));
    assert_eq!(issued.msg_code(), Some("202"));
    assert!(matches!(
        c.cancel_order("nosuchorder").await,
        Err(JuheError::NotFound { .. })
    ));
    // The cancelled order never progressed.
    let orders = sim.juhe_orders();
    assert_eq!(orders[0].status, "C");
    assert_eq!(orders[0].cancel_calls, 2);
}

#[tokio::test]
async fn refunds_need_an_issued_ticket_go_one_passenger_at_a_time_and_end_in_a_type_2_push() {
    let sim = start().await;
    let c = client(&sim);
    c.create_order(&g1_order(&c, "yp0007r").await).await.unwrap();
    let early = c.apply_refund("yp0007r", "623838773").await.unwrap_err();
    assert_eq!(early.msg_code(), Some("202"));
    run_script(&sim).await;

    let d = c.order_detail("yp0007r", true).await.unwrap();
    let id = d.passengers[0].passenger_id.clone().unwrap();
    let stranger = c.apply_refund("yp0007r", "1").await.unwrap_err();
    assert_eq!(stranger.msg_code(), Some("301"), "{stranger}");
    let accepted = c.apply_refund("yp0007r", &id).await.unwrap();
    assert_eq!(accepted.passenger_id, id);
    let twice = c.apply_refund("yp0007r", &id).await.unwrap_err();
    assert_eq!(twice.msg_code(), Some("303"));
    let d = c.order_detail("yp0007r", true).await.unwrap();
    assert_eq!(d.passengers[0].ticket_state, Some(TicketState::Refunding));

    sim.juhe_advance(Duration::from_secs(2)).await;
    let d = c.order_detail("yp0007r", true).await.unwrap();
    assert_eq!(d.passengers[0].ticket_state, Some(TicketState::Refunded));
    assert_eq!(d.status, OrderStatus::Refunded);
    let last = sim.juhe_pushes().pop().unwrap();
    let push = decode_push(last.kind, &last.body.to_string()).unwrap();
    assert_eq!(push.kind, 2);
    assert_eq!(push.refund_price, Some(662.0));
    assert_eq!(push.msg_info.as_deref(), Some("线上退票成功"));
}

type Received = Arc<Mutex<Vec<(String, String)>>>;

/// A callback receiver on a free port: `/push/{type}` records what it gets and answers 200.
async fn receiver() -> (String, Received) {
    let got: Received = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/push/{kind}",
        axum::routing::post(move |Path(kind): Path<String>, body: String| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push((kind, body));
                "success"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/push"), got)
}

#[tokio::test]
async fn a_registered_callback_receives_the_type_1_push_and_duplicates_dedupe() {
    let sim = start().await;
    let c = client(&sim);
    let (url, got) = receiver().await;
    for kind in 1..=3 {
        c.add_callback_url(&format!("{url}/{kind}"), kind).await.unwrap();
    }
    c.create_order(&g1_order(&c, "yp0008cb").await).await.unwrap();
    run_script(&sim).await;

    let first = got.lock().unwrap().clone();
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0].0, "1");
    let push = decode_push(1, &first[0].1).unwrap();
    assert!(push.is_success());
    assert_eq!(push.out_order_no, "yp0008cb");
    assert_eq!(push.passengers[0].seat_no.as_deref(), Some("07车厢,009号"));
    assert_eq!(push.passengers[0].seat_class.as_deref(), Some("4"));
    assert_eq!(sim.juhe_pushes()[0].status, Some(200));

    let resent = sim.juhe_resend_last_push().await.unwrap();
    assert!(resent.resent);
    let forged = serde_json::json!({"orderNo": "TFTX", "outOrderNo": "yp0008cb", "msgCode": "101", "msgInfo": "出票失败"});
    assert!(sim.juhe_send_push(1, forged).await.unwrap().forged);
    let all = got.lock().unwrap().clone();
    let keys: Vec<String> = all
        .iter()
        .map(|(k, b)| decode_push(k.parse().unwrap(), b).unwrap().dedupe_key())
        .collect();
    assert_eq!(keys, ["yp0008cb:1:100", "yp0008cb:1:100", "yp0008cb:1:101"]);
}

#[tokio::test]
async fn juhe_refuses_stale_query_keys_bad_parameters_and_get_creates() {
    let sim = start().await;
    let c = client(&sim);
    let order = g1_order(&c, "yp0009").await;
    sim.juhe_expire_query_keys();
    assert_eq!(c.create_order(&order).await.unwrap_err().msg_code(), Some("215"));

    let mut bad = g1_order(&c, "yp9").await;
    assert_eq!(c.create_order(&bad).await.unwrap_err().msg_code(), Some("101"));
    bad.out_order_no = "yp0009six".into();
    bad.passengers = vec![bad.passengers[0].clone(); 6];
    assert_eq!(c.create_order(&bad).await.unwrap_err().msg_code(), Some("220"));
    bad.passengers.truncate(1);
    bad.seat_class_code = vec!["businessseat".into()];
    bad.main_seat_class = "hardseat".into();
    assert_eq!(c.create_order(&bad).await.unwrap_err().msg_code(), Some("204"));
    bad.seat_class_code = vec!["secondseat".into()];
    bad.main_seat_class = "secondseat".into();
    bad.from_station = "北京".into();
    assert_eq!(c.create_order(&bad).await.unwrap_err().msg_code(), Some("101"));
    assert!(sim.juhe_orders().is_empty());

    let get = reqwest::get(format!(
        "{}/grabTicket/action/createOrder.php?key={JUHE_DEFAULT_KEY}&outOrderNo=yp000900",
        sim.base_url()
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert_eq!(decode::envelope(&get).unwrap_err().msg_code(), Some("101"));
    assert_eq!(sim.juhe_create_calls().last().unwrap().method, "GET");
}

#[tokio::test]
async fn a_wrong_key_is_refused_and_the_key_never_appears_in_error_text() {
    let sim = start().await;
    let secret = "top-secret-key-9f8e7d";
    let c = client_with(&sim.base_url(), secret, Duration::from_secs(5));
    let e = c.search("北京", "上海", travel_date(), false).await.unwrap_err();
    assert!(matches!(&e, JuheError::Api { code: WRONG_KEY, reason, .. } if reason == "错误的请求KEY"));
    sim.juhe_set_key(secret);
    c.search("北京", "上海", travel_date(), false).await.unwrap();

    let closed = client_with("http://127.0.0.1:1", secret, Duration::from_secs(5));
    let net = closed.order_detail("yp0010", false).await.unwrap_err();
    assert!(matches!(net, JuheError::Network { .. }), "{net}");
    for text in [
        e.to_string(),
        format!("{e:?}"),
        net.to_string(),
        format!("{net:?}"),
        format!("{c:?}"),
    ] {
        assert!(!text.contains(secret), "{text}");
    }
    assert!(
        net.to_string()
            .contains("127.0.0.1:1/grabTicket/action/orderDetail.php")
    );
}

#[tokio::test]
async fn the_control_api_drives_the_juhe_side_out_of_process() {
    let sim = start().await;
    let http = reqwest::Client::new();
    let ctl = |path: &str| format!("{}/sim/juhe/{path}", sim.base_url());
    let post = |path: &str, body: serde_json::Value| http.post(ctl(path)).json(&body).send();
    assert!(
        post(
            "outcome",
            serde_json::json!({"train": "G1", "outcome": "fail", "msg_code": "209"})
        )
        .await
        .unwrap()
        .status()
        .is_success()
    );
    assert!(
        post(
            "delays",
            serde_json::json!({"grab_after": "1s", "finish_after": "1s"})
        )
        .await
        .unwrap()
        .status()
        .is_success()
    );
    assert_eq!(
        post("outcome", serde_json::json!({"outcome": "maybe"}))
            .await
            .unwrap()
            .status(),
        400
    );

    let c = client(&sim);
    c.create_order(&g1_order(&c, "yp0011ctl").await).await.unwrap();
    post("advance", serde_json::json!({"by": "2s"})).await.unwrap();
    let get = |path: &str| {
        let request = http.get(ctl(path)).send();
        async move { request.await.unwrap().json::<serde_json::Value>().await.unwrap() }
    };
    let orders = get("orders").await;
    assert_eq!(orders[0]["status"], "U");
    let pushes = get("pushes").await;
    assert_eq!(pushes[0]["body"]["msgCode"], "209");
    let creates = get("creates").await;
    assert_eq!(creates.as_array().unwrap().len(), 1);
    let dict = c.data_dictionary().await.unwrap();
    assert_eq!(dict["msgCode"]["data"]["215"], "站站查询结果已过期,请重新查询");
}

#[tokio::test]
async fn orders_for_trains_leaving_within_three_hours_are_refused_with_216() {
    let sim = start().await;
    let c = client(&sim);
    // Put the simulator's clock two hours before G1 (07:00) leaves on the travel date.
    let departure = travel_date().and_hms_opt(7, 0, 0).unwrap();
    let now = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .naive_local();
    let by = (departure - chrono::Duration::hours(2) - now).to_std().unwrap();
    sim.advance(by);
    let mut order = g1_order(&c, "yp0012late").await;
    order.close_time = departure - chrono::Duration::minutes(30);
    let e = c.create_order(&order).await.unwrap_err();
    assert_eq!(e.msg_code(), Some("216"), "{e}");
    assert!(e.to_string().contains("距离发车时间太近"), "{e}");
}
