//! `createOrder.php`: every check Juhe makes on a grab order, the faults tests switch on, and
//! the record of each call (secrets left out, phone and ID numbers masked).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, NaiveDateTime};
use serde_json::{Value, json};

use super::api::{ERR_DUPLICATE, ERR_PARAM, Params, coded, juhe_error, key_refusal, success, token};
use super::order::{Order, Passenger};
use super::state::{KeyTrain, QueryKey};
use super::{CreateFault, JuheCreateCall};
use crate::juhe::{OrderStatus, TicketState, mask_id, mask_phone};
use crate::sim::Sim;

/// How long a hanging create waits (clients time out long before).
const HANG: Duration = Duration::from_secs(30);
/// A queryKey stays valid this long on the simulator's clock.
const QUERY_KEY_TTL: Duration = Duration::from_secs(30 * 60);

/// Parameters as recorded: no key, no password, phone and ID numbers masked.
fn recorded_params(p: &Params) -> BTreeMap<String, String> {
    p.0.iter()
        .filter(|(k, _)| k != "key" && k != "accountPwd")
        .map(|(k, v)| {
            let v = match k.as_str() {
                "cellphone" => mask_phone(v),
                "passengers" => mask_passenger_ids(v),
                _ => v.clone(),
            };
            (k.clone(), v)
        })
        .collect()
}

fn mask_passenger_ids(json_text: &str) -> String {
    let Ok(mut v) = serde_json::from_str::<Value>(json_text) else {
        return "<not JSON>".into();
    };
    if let Some(list) = v.as_array_mut() {
        for p in list {
            if let Some(id) = p.get("idCardNo").and_then(Value::as_str).map(mask_id) {
                p["idCardNo"] = json!(id);
            }
        }
    }
    v.to_string()
}

/// A createOrder refusal: the answer and how it is recorded.
struct Refusal(Box<Response>, String);

fn refusal(code: i64, msg_code: &str, detail: &str) -> Refusal {
    Refusal(
        Box::new(coded(code, msg_code, detail)),
        format!("error {code} ({msg_code}) {detail}"),
    )
}

pub(super) async fn create(
    State(sim): State<Sim>,
    method: Method,
    RawQuery(q): RawQuery,
    body: String,
) -> Response {
    let p = Params::new(q, &body);
    let mut call = JuheCreateCall {
        method: method.to_string(),
        params: recorded_params(&p),
        answer: String::new(),
        created: false,
    };
    let result = if method != Method::POST {
        Err(refusal(ERR_PARAM, "101", "createOrder只支持POST请求"))
    } else if let Some(r) = key_refusal(&sim, &p) {
        Err(Refusal(Box::new(r), "error 10001 wrong key".into()))
    } else {
        validate_and_create(&sim, &p)
    };
    let (order_no, fault) = match result {
        Err(Refusal(response, answer)) => {
            call.answer = answer;
            sim.juhe().creates.push(call);
            return *response;
        }
        Ok(v) => v,
    };
    call.created = order_no.is_some();
    let out_order_no = p.get("outOrderNo").unwrap_or_default().to_string();
    match fault {
        Some(CreateFault::Timeout) => {
            call.answer = "timeout".into();
            sim.juhe().creates.push(call);
            tokio::select! {
                _ = tokio::time::sleep(HANG) => {}
                _ = sim.inner.cancel.cancelled() => {}
            }
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Some(CreateFault::Error) => {
            call.answer = "502".into();
            sim.juhe().creates.push(call);
            (
                StatusCode::BAD_GATEWAY,
                [(header::CONTENT_TYPE, "text/html")],
                "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>",
            )
                .into_response()
        }
        None => {
            let order_no = order_no.unwrap_or_default();
            call.answer = format!("created {order_no}");
            sim.juhe().creates.push(call);
            success(json!({"orderNo": order_no, "outOrderNo": out_order_no}))
        }
    }
}

/// Checks a create like Juhe would and creates the order unless a pending fault says not to.
/// Returns the new order number (if created) and the fault to act out.
fn validate_and_create(sim: &Sim, p: &Params) -> Result<(Option<String>, Option<CreateFault>), Refusal> {
    let checked = validate(sim, p)?;
    Ok(place(sim, checked))
}

/// A create that passed every check, ready to become an order.
struct Checked {
    out_order_no: String,
    /// On the simulator's clock, when the create arrived.
    elapsed: Duration,
    choice: Choice,
    depart: NaiveDateTime,
    close_time: NaiveDateTime,
    phone_masked: String,
    passengers: Vec<Passenger>,
}

/// The trains and seats a create asks for, checked against what its queryKey promised.
struct Choice {
    /// The main train, as the search described it.
    train: KeyTrain,
    /// Every train asked for, `|`-separated as sent.
    all_trains: String,
    main_train: String,
    main_seat: String,
    /// More than one train or seat class: `mainTrainNo` and `mainSeatClass` were required.
    several: bool,
}

/// Every check, in the order Juhe makes them (the first failing one is answered).
fn validate(sim: &Sim, p: &Params) -> Result<Checked, Refusal> {
    let out_order_no = new_out_order_no(sim, p)?;
    let elapsed = sim.elapsed();
    let now = sim.now().naive_local();
    let key = live_query_key(sim, p, elapsed)?;
    let choice = choose(p, &key)?;
    let (depart, close_time) = timing(p, &key, &choice.train, now)?;
    check_terms(p)?;
    let passengers = parse_passengers(p.get("passengers").unwrap_or_default())?;
    Ok(Checked {
        out_order_no,
        elapsed,
        choice,
        depart,
        close_time,
        phone_masked: mask_phone(p.get("cellphone").unwrap_or_default()),
        passengers,
    })
}

/// `outOrderNo`: well formed and never seen before (see the module doc on duplicates).
fn new_out_order_no(sim: &Sim, p: &Params) -> Result<String, Refusal> {
    let out_order_no = p.get("outOrderNo").unwrap_or_default();
    if !(6..=32).contains(&out_order_no.len()) || !out_order_no.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(refusal(ERR_PARAM, "101", "outOrderNo须为6-32位数字英文字母组合"));
    }
    if sim.juhe().orders.iter().any(|o| o.out_order_no == out_order_no) {
        return Err(Refusal(
            Box::new(juhe_error(ERR_DUPLICATE, "外部订单号重复:outOrderNo已存在", None)),
            "duplicate".into(),
        ));
    }
    Ok(out_order_no.to_string())
}

/// The search the create's `queryKey` names, unless it is unknown or older than its TTL.
fn live_query_key(sim: &Sim, p: &Params, elapsed: Duration) -> Result<QueryKey, Refusal> {
    let st = sim.juhe();
    p.get("queryKey")
        .and_then(|k| st.query_keys.get(k))
        .filter(|k| elapsed.saturating_sub(k.issued_at) <= QUERY_KEY_TTL)
        .cloned()
        .ok_or_else(|| refusal(ERR_PARAM, "215", ""))
}

/// `trainNo`, `seatClassCode` and their main ones, and the stations, against the search.
fn choose(p: &Params, key: &QueryKey) -> Result<Choice, Refusal> {
    let list = |name: &str| -> Vec<String> {
        p.get(name)
            .map(|v| {
                v.split('|')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    let trains = list("trainNo");
    let seats = list("seatClassCode");
    if trains.is_empty() || seats.is_empty() {
        return Err(refusal(ERR_PARAM, "101", "trainNo和seatClassCode必填"));
    }
    if let Some(bad) = trains.iter().find(|t| !key.trains.iter().any(|k| &k.code == *t)) {
        return Err(refusal(ERR_PARAM, "208", bad));
    }
    let several = trains.len() > 1 || seats.len() > 1;
    let main_train = main_of(p, "mainTrainNo", &trains, several, "208", "trainNo")?;
    let main_seat = main_of(p, "mainSeatClass", &seats, several, "204", "seatClassCode")?;
    let Some(train) = key.trains.iter().find(|k| k.code == main_train).cloned() else {
        return Err(refusal(ERR_PARAM, "208", &main_train));
    };
    if !train.prices.contains_key(&main_seat) {
        return Err(refusal(ERR_PARAM, "204", &main_seat));
    }
    if p.get("fromStation") != Some(train.from_name.as_str())
        || p.get("toStation") != Some(train.to_name.as_str())
    {
        return Err(refusal(
            ERR_PARAM,
            "101",
            "fromStation/toStation与站站查询结果不符",
        ));
    }
    Ok(Choice {
        train,
        all_trains: trains.join("|"),
        main_train,
        main_seat,
        several,
    })
}

/// The main train or seat class (`name`): one of `listed` (the `list_name` parameter), required
/// when the create asks for `several`, the only one otherwise.
fn main_of(
    p: &Params,
    name: &str,
    listed: &[String],
    several: bool,
    msg_code: &str,
    list_name: &str,
) -> Result<String, Refusal> {
    match p.get(name) {
        Some(m) if listed.iter().any(|x| x == m) => Ok(m.to_string()),
        Some(m) => Err(refusal(
            ERR_PARAM,
            msg_code,
            &format!("{name} {m}不在{list_name}中"),
        )),
        None if several => Err(refusal(
            ERR_PARAM,
            "101",
            &format!("多车次或多坐席时须指定{name}"),
        )),
        None => Ok(listed[0].clone()),
    }
}

/// `departDate` (the searched date, at least three hours ahead) and `closeTime` (between now and
/// the departure).
fn timing(
    p: &Params,
    key: &QueryKey,
    train: &KeyTrain,
    now: NaiveDateTime,
) -> Result<(NaiveDateTime, NaiveDateTime), Refusal> {
    let depart_text = p.get("departDate").unwrap_or_default();
    let depart_date = depart_text
        .get(..10)
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    if depart_date != Some(key.date) {
        return Err(refusal(ERR_PARAM, "205", depart_text));
    }
    let depart = key.date.and_time(train.depart);
    if depart - now < chrono::Duration::hours(3) {
        return Err(refusal(ERR_PARAM, "216", ""));
    }
    let Some(close_time) = p
        .get("closeTime")
        .and_then(|t| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S").ok())
    else {
        return Err(refusal(ERR_PARAM, "101", "closeTime格式应为yyyy-MM-dd HH:mm:ss"));
    };
    if close_time <= now || close_time > depart {
        return Err(refusal(ERR_PARAM, "101", "closeTime须在现在与发车时间之间"));
    }
    Ok((depart, close_time))
}

/// `acceptNoSeat`, the contact and the ticket model (and its 12306 account when it needs one).
fn check_terms(p: &Params) -> Result<(), Refusal> {
    if !matches!(p.get("acceptNoSeat"), Some("0" | "1")) {
        return Err(refusal(ERR_PARAM, "101", "acceptNoSeat须为0或1"));
    }
    if p.get("person").is_none() || p.get("cellphone").is_none() {
        return Err(refusal(ERR_PARAM, "101", "person和cellphone必填"));
    }
    match p.get("ticketModel").unwrap_or("0") {
        "0" => Ok(()),
        "1" if p.get("accountNo").is_some() && p.get("accountPwd").is_some() => Ok(()),
        "1" => Err(refusal(ERR_PARAM, "101", "自购模式须提供accountNo和accountPwd")),
        _ => Err(refusal(ERR_PARAM, "101", "ticketModel须为0或1")),
    }
}

/// Creates the order (passenger ids, outcome, order number) unless the pending fault says the
/// create never went through; returns its number and the fault to act out.
fn place(sim: &Sim, c: Checked) -> (Option<String>, Option<CreateFault>) {
    let mut st = sim.juhe();
    let fault = st.fault.take();
    if matches!(fault, Some((_, false))) {
        return (None, fault.map(|f| f.0));
    }
    let outcome = st
        .outcomes
        .get(&c.choice.main_train)
        .cloned()
        .unwrap_or_else(|| st.default_outcome.clone());
    let passengers = c
        .passengers
        .into_iter()
        .map(|mut passenger| {
            passenger.id = st.next_passenger_id.to_string();
            st.next_passenger_id += 1;
            passenger
        })
        .collect();
    let order_no = format!("TFT{}", token(24, b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"));
    let Choice {
        train,
        all_trains,
        main_train,
        main_seat,
        several,
    } = c.choice;
    st.orders.push(Order {
        order_no: order_no.clone(),
        out_order_no: c.out_order_no,
        status: OrderStatus::Created,
        created_at: c.elapsed,
        outcome,
        train,
        all_trains,
        seat_code: main_seat.clone(),
        main_seat_class: if several { main_seat } else { String::new() },
        main_train_no: if several { main_train } else { String::new() },
        depart: c.depart,
        close_time: c.close_time,
        phone_masked: c.phone_masked,
        passengers,
        ticket_no: None,
        fail_msg: None,
        issue_time: None,
        cancel_calls: 0,
    });
    drop(st);
    sim.juhe_start_ticker();
    (Some(order_no), fault.map(|f| f.0))
}

fn parse_passengers(text: &str) -> Result<Vec<Passenger>, Refusal> {
    let bad = |detail: &str| refusal(ERR_PARAM, "101", detail);
    let list: Vec<Value> = serde_json::from_str(text).map_err(|_| bad("passengers须为JSON数组"))?;
    if list.is_empty() {
        return Err(bad("passengers不能为空"));
    }
    if list.len() > 5 {
        return Err(refusal(ERR_PARAM, "220", "每个订单最多五位乘客"));
    }
    let field = |v: &Value, k: &str| -> String {
        match v.get(k) {
            Some(Value::String(s)) => s.trim().to_string(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        }
    };
    list.iter()
        .map(|v| {
            let name = field(v, "passengerName");
            let id = field(v, "idCardNo");
            let kind = field(v, "passengerType");
            let id_type = field(v, "idCardType");
            if name.is_empty() || id.is_empty() || id_type.is_empty() {
                return Err(bad("乘客须有passengerName、idCardType和idCardNo"));
            }
            if !matches!(kind.as_str(), "1" | "2") {
                return Err(bad("暂不支持学生票和残军票"));
            }
            Ok(Passenger {
                id: String::new(),
                name,
                kind,
                id_type,
                id_masked: mask_id(&id),
                birthday: field(v, "birthday"),
                seat_no: None,
                ticket_no: None,
                state: TicketState::NotIssued,
                refund_at: None,
            })
        })
        .collect()
}
