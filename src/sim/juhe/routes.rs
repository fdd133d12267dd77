//! The Juhe endpoints under `/grabTicket/action/`, and the ones about an existing order:
//! `orderDetail`, `cancelOrder`, `applyRefundOrder`, plus `addCallbackUrl` and `dataDictionary`.

use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::api::{
    ERR_CANCEL, ERR_NOT_FOUND, ERR_PARAM, ERR_REFUND, Params, coded, juhe_error, key_refusal, success,
};
use super::bodies::seat_name;
use super::order::Order;
use super::{control, create, search};
use crate::juhe::{MSG_CODES, OrderStatus, TicketState};
use crate::sim::Sim;

pub(in crate::sim) fn routes() -> Router<Sim> {
    const BASE: &str = "/grabTicket/action";
    Router::new()
        .route(
            &format!("{BASE}/search.php"),
            get(search::search).post(search::search),
        )
        .route(
            &format!("{BASE}/createOrder.php"),
            get(create::create).post(create::create),
        )
        .route(&format!("{BASE}/orderDetail.php"), get(detail).post(detail))
        .route(&format!("{BASE}/cancelOrder.php"), get(cancel).post(cancel))
        .route(&format!("{BASE}/applyRefundOrder.php"), get(refund).post(refund))
        .route(
            &format!("{BASE}/addCallbackUrl.php"),
            get(add_callback).post(add_callback),
        )
        .route(
            &format!("{BASE}/dataDictionary.php"),
            get(dictionary).post(dictionary),
        )
        .merge(control::routes())
}

/// Runs `f` on the order `outOrderNo` names (after applying due transitions), or answers
/// "not found".
fn with_order(sim: &Sim, p: &Params, f: impl FnOnce(&mut Order, Duration) -> Response) -> Response {
    sim.juhe_settle_in_background();
    let Some(out) = p.get("outOrderNo") else {
        return coded(ERR_PARAM, "101", "outOrderNo必填");
    };
    let elapsed = sim.elapsed();
    let mut st = sim.juhe();
    let delays = st.delays;
    match st.orders.iter_mut().find(|o| o.out_order_no == out) {
        Some(order) => f(order, elapsed + delays.refund_after),
        None => juhe_error(ERR_NOT_FOUND, "参数错误:订单号或passengerId不存在", Some("201")),
    }
}

async fn detail(State(sim): State<Sim>, RawQuery(q): RawQuery, body: String) -> Response {
    let p = Params::new(q, &body);
    if let Some(r) = key_refusal(&sim, &p) {
        return r;
    }
    let issue = p.get("issue") == Some("1");
    with_order(&sim, &p, |o, _| {
        success(if issue {
            o.issued_detail()
        } else {
            o.plain_detail()
        })
    })
}

async fn cancel(State(sim): State<Sim>, RawQuery(q): RawQuery, body: String) -> Response {
    let p = Params::new(q, &body);
    if let Some(r) = key_refusal(&sim, &p) {
        return r;
    }
    with_order(&sim, &p, |o, _| {
        o.cancel_calls += 1;
        if o.status == OrderStatus::Cancelled {
            coded(ERR_CANCEL, "206", "")
        } else if !o.status.is_cancellable() {
            coded(ERR_CANCEL, "202", o.status.label_zh())
        } else {
            o.status = OrderStatus::Cancelled;
            success(json!({"orderNo": o.order_no}))
        }
    })
}

async fn refund(State(sim): State<Sim>, RawQuery(q): RawQuery, body: String) -> Response {
    let p = Params::new(q, &body);
    if let Some(r) = key_refusal(&sim, &p) {
        return r;
    }
    let Some(passenger_id) = p.get("passengerId").map(str::to_string) else {
        return coded(ERR_PARAM, "101", "passengerId必填");
    };
    with_order(&sim, &p, |o, refund_at| {
        if o.status != OrderStatus::Issued {
            return coded(ERR_REFUND, "202", o.status.label_zh());
        }
        let Some(passenger) = o.passengers.iter_mut().find(|x| x.id == passenger_id) else {
            return juhe_error(ERR_NOT_FOUND, "参数错误:订单号或passengerId不存在", Some("301"));
        };
        if passenger.state != TicketState::Issued {
            return coded(ERR_REFUND, "303", passenger.state.label_zh());
        }
        passenger.state = TicketState::Refunding;
        passenger.refund_at = Some(refund_at);
        success(json!({"orderNo": o.order_no, "passengerId": passenger_id}))
    })
}

async fn add_callback(State(sim): State<Sim>, RawQuery(q): RawQuery, body: String) -> Response {
    let p = Params::new(q, &body);
    if let Some(r) = key_refusal(&sim, &p) {
        return r;
    }
    let Some(url) = p
        .get("url")
        .filter(|u| url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https")))
    else {
        return coded(ERR_PARAM, "101", "url须为http(s)地址");
    };
    let kind = match p.get("type") {
        Some("1") => 1,
        Some("2") => 2,
        Some("3") => 3,
        _ => return coded(ERR_PARAM, "101", "type须为1、2或3"),
    };
    sim.juhe().callbacks.insert(kind, url.to_string());
    Json(json!({"error_code": 0, "reason": "success", "data": null})).into_response()
}

async fn dictionary(State(sim): State<Sim>, RawQuery(q): RawQuery, body: String) -> Response {
    let p = Params::new(q, &body);
    if let Some(r) = key_refusal(&sim, &p) {
        return r;
    }
    let table = |pairs: &[(&str, &str)]| -> Value {
        Value::Object(pairs.iter().map(|(k, v)| (k.to_string(), json!(v))).collect())
    };
    let seat_codes: Vec<(&str, &str)> = [
        "hardseat",
        "softseat",
        "firstseat",
        "secondseat",
        "hardsleeperup",
        "hardsleepermid",
        "hardsleeperdown",
        "softsleeperup",
        "softsleeperdown",
        "noseat",
        "businessseat",
        "specialseat",
        "advancedsoftsleeper",
        "otherseat",
    ]
    .iter()
    .map(|c| (*c, seat_name(c)))
    .collect();
    let statuses = ["N", "B", "D", "F", "U", "O", "C", "T", "E"];
    let status_names: Vec<(&str, &str)> = statuses
        .iter()
        .map(|c| (*c, OrderStatus::parse(c).label_zh()))
        .collect();
    let tickets: Vec<(&str, &str)> = ["N", "F", "C", "T", "O", "Y", "G"]
        .iter()
        .map(|c| (*c, TicketState::parse(c).label_zh()))
        .collect();
    success(json!({
        "tips": ["抢票单目前最多支持五名乘客", "抢票单目前暂不支持学生票和残军票"],
        "idType": {"msg": "证件类型,一般用在创建订单的idType字段",
            "data": table(&[("1", "身份证"), ("2", "护照"), ("3", "台胞证"), ("4", "港澳通行证")])},
        "passengerType": {"msg": "乘客类型,一般用在创建订单的passengerType字段",
            "data": table(&[("1", "成人"), ("2", "儿童"), ("3", "学生票"), ("4", "残军票")])},
        "seatClassCode": {"msg": "一般用在站站查询返回的json数据及创建订单时候的seatClassCode和mainSeatClass字段",
            "data": table(&seat_codes)},
        "ticketStateCode": {"msg": "一般用在订单详情接口返回json数据中的passengers数组中的ticketStateCode字段(如无,请忽略)",
            "data": table(&tickets)},
        "orderStatus": {"msg": "一般用在订单详情接口返回的json数据中的grabOrderDetailInfo中的status字段",
            "data": table(&status_names)},
        "msgCode": {"msg": "一般用在回调接口中(所有的回调的接口),所有的状态都是有可能返回的",
            "data": table(MSG_CODES)},
    }))
}
