//! The simulator's Juhe grabTicket surface: `/grabTicket/action/*.php` on the same port as the
//! 12306 paths, so that the order flow can be tested end to end without spending real money.
//!
//! Searches are built from the same scenario trains (and the same current seat cells) that the
//! 12306 side serves, so a watch that sees seats can order them. Orders follow a script on the
//! simulator's clock: N (created) → D (grabbing) after `grab_after` → the configured outcome
//! after `finish_after` (F issued with seat numbers, U failed with a msgCode, or O expired);
//! an order still grabbing at its `closeTime` expires. Every state change produces the push of
//! seed 001 (JSON, POSTed to the URL registered for its type) and every push is recorded.
//!
//! # Choices where Juhe's documentation is silent
//!
//! - **Error envelopes**: `{"reason", "result": null, "error_code"}` as in seed 001, plus a
//!   top-level `msgCode` naming the table entry (a simulator extension the client reads when
//!   present). Codes: 10001 wrong key; 223801 cancel refused (msgCode 202, or 206 once already
//!   cancelled); 223802 invalid request (101, 204, 205, 208, 215, 216, 220); 223803 refund
//!   refused (202, 303); 223804 unknown order (201) or passenger (301); 223805 duplicate
//!   outOrderNo.
//! - **Duplicate outOrderNo**: refused with 223805 and never a second order, checked right after
//!   the outOrderNo's format, before the queryKey: a client retrying an intent with a stale
//!   queryKey learns "it exists" rather than "search again". It does not answer with the existing
//!   order (which would also be idempotent) so that tests can tell a re-submission happened.
//! - **Passenger IDs** are masked in everything the simulator records or sends back.
//!
//! # Control API (`/sim/juhe/…`, JSON bodies, `{"ok":true}` or 400 `{"error":…}`)
//!
//! | request | body | effect |
//! | --- | --- | --- |
//! | `GET /sim/juhe/orders` | | [`JuheOrderView`]s |
//! | `GET /sim/juhe/creates` | | every createOrder call ([`JuheCreateCall`]) |
//! | `GET /sim/juhe/pushes` | | every push sent ([`JuhePushRecord`]) |
//! | `POST /sim/juhe/key` | `{"key":"k"}` | the key the simulator accepts |
//! | `POST /sim/juhe/outcome` | `{"train":"G1","outcome":"fail","msg_code":"308"}` | outcome of new orders for that train (`train` absent = all): `issue`, `fail`, `expire` |
//! | `POST /sim/juhe/delays` | `{"grab_after":"1s","finish_after":"2s","refund_after":"1s"}` | the script's timing (any subset) |
//! | `POST /sim/juhe/fail-next-create` | `{"fault":"timeout","create":true}` | the next valid create hangs (`timeout`) or answers 502 (`error`), creating the order or not |
//! | `POST /sim/juhe/advance` | `{"by":"5s"}` | moves the clock and applies due transitions, pushes delivered before answering |
//! | `POST /sim/juhe/resend-last-push` | | sends the last push again (a duplicate) |
//! | `POST /sim/juhe/push` | `{"type":1,"body":{…}}` | sends a forged push to the URL of that type |
//! | `POST /sim/juhe/expire-query-keys` | | every queryKey issued so far becomes stale (msgCode 215) |

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::scenario::Train;
use super::{Sim, lock, ok, refuse};
use crate::juhe::{MSG_CODES, OrderStatus, TicketState, mask_id, mask_phone, msg_code_text};
use crate::seat::SeatClass;
use crate::stations::{Lookup, StationTable};

/// The key the simulator accepts until told otherwise.
pub const DEFAULT_KEY: &str = "sim-juhe-key";

const ERR_KEY: i64 = 10_001;
const ERR_CANCEL: i64 = 223_801;
const ERR_PARAM: i64 = 223_802;
const ERR_REFUND: i64 = 223_803;
const ERR_NOT_FOUND: i64 = 223_804;
const ERR_DUPLICATE: i64 = 223_805;
/// How long a hanging create waits (clients time out long before).
const HANG: Duration = Duration::from_secs(30);
/// A queryKey stays valid this long on the simulator's clock.
const QUERY_KEY_TTL: Duration = Duration::from_secs(30 * 60);
/// How often the background ticker applies due transitions.
const TICK: Duration = Duration::from_millis(100);

/// How a grab ends once `finish_after` has passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum JuheOutcome {
    /// F: tickets issued, seats `07车厢,009号`…, type-1 push msgCode 100.
    Issue,
    /// U: failed with this msgCode (type-1 push; `101` reads 出票失败).
    Fail(String),
    /// O: expired without a ticket (type-3 push).
    Expire,
}

/// How the next createOrder misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CreateFault {
    /// No answer for 30 s: the client times out.
    Timeout,
    /// 502 with an HTML page.
    Error,
}

/// The script's timing, on the simulator's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JuheDelays {
    /// N → D.
    pub grab_after: Duration,
    /// D → the outcome.
    pub finish_after: Duration,
    /// Refund requested → ticket T and the type-2 push.
    pub refund_after: Duration,
}

impl Default for JuheDelays {
    fn default() -> Self {
        JuheDelays {
            grab_after: Duration::from_secs(2),
            finish_after: Duration::from_secs(5),
            refund_after: Duration::from_secs(2),
        }
    }
}

/// An order as the simulator holds it, for assertions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JuheOrderView {
    pub order_no: String,
    pub out_order_no: String,
    /// Status code, `N`…`T`.
    pub status: String,
    pub train_no: String,
    pub seat_class_code: String,
    pub ticket_no: Option<String>,
    pub passengers: Vec<JuhePassengerView>,
    /// cancelOrder calls received for it.
    pub cancel_calls: u32,
}

/// A passenger of a simulated order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JuhePassengerView {
    pub passenger_id: String,
    pub name: String,
    pub seat_no: Option<String>,
    /// Ticket state code, `N`, `F`, `C`, `T`.
    pub ticket_state: String,
}

/// One createOrder call as received: parameters without the key and the 12306 password, phone
/// and ID numbers masked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JuheCreateCall {
    pub method: String,
    pub params: BTreeMap<String, String>,
    /// `created TFT…`, `error 223802 (215)`, `duplicate`, `timeout`, `502`…
    pub answer: String,
    /// An order was created by this call.
    pub created: bool,
}

/// One push the simulator sent (or would have sent: `url` is `None` when no callback URL of its
/// type is registered).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JuhePushRecord {
    /// 1 result, 2 refund, 3 expiry.
    pub kind: u8,
    pub url: Option<String>,
    pub body: Value,
    /// The receiver's HTTP status.
    pub status: Option<u16>,
    pub error: Option<String>,
    /// Sent through [`Sim::juhe_send_push`].
    pub forged: bool,
    /// Sent through [`Sim::juhe_resend_last_push`].
    pub resent: bool,
}

/// The Juhe half of the simulator's state (held by `sim::Inner`).
pub(super) struct JuheSim {
    state: Mutex<JuheState>,
    http: reqwest::Client,
    ticker: AtomicBool,
    /// Held while draining `JuheState::pending`: whoever flushes returns only after every push
    /// queued before it was delivered, so tests never race the background ticker.
    flush: tokio::sync::Mutex<()>,
}

struct JuheState {
    key: String,
    delays: JuheDelays,
    default_outcome: JuheOutcome,
    outcomes: HashMap<String, JuheOutcome>,
    query_keys: HashMap<String, QueryKey>,
    orders: Vec<Order>,
    creates: Vec<JuheCreateCall>,
    callbacks: BTreeMap<u8, String>,
    pushes: Vec<JuhePushRecord>,
    fault: Option<(CreateFault, bool)>,
    next_passenger_id: u64,
    /// Pushes produced by state changes, not yet delivered.
    pending: Vec<Outgoing>,
}

/// What a search promised, so that create can check the order against it.
#[derive(Clone)]
struct QueryKey {
    issued_at: Duration,
    date: NaiveDate,
    trains: Vec<KeyTrain>,
}

#[derive(Clone)]
struct KeyTrain {
    code: String,
    from_name: String,
    to_name: String,
    from_code: String,
    to_code: String,
    depart: NaiveTime,
    arrive: NaiveTime,
    /// seatClassCode → price in yuan.
    prices: BTreeMap<String, f64>,
}

struct Order {
    order_no: String,
    out_order_no: String,
    status: OrderStatus,
    created_at: Duration,
    outcome: JuheOutcome,
    train: KeyTrain,
    all_trains: String,
    seat_code: String,
    main_seat_class: String,
    main_train_no: String,
    depart: NaiveDateTime,
    close_time: NaiveDateTime,
    phone_masked: String,
    passengers: Vec<Passenger>,
    ticket_no: Option<String>,
    fail_msg: Option<String>,
    issue_time: Option<NaiveDateTime>,
    cancel_calls: u32,
}

struct Passenger {
    id: String,
    name: String,
    kind: String,
    id_type: String,
    id_masked: String,
    birthday: String,
    seat_no: Option<String>,
    ticket_no: Option<String>,
    state: TicketState,
    refund_at: Option<Duration>,
}

/// A push waiting to be delivered.
struct Outgoing {
    kind: u8,
    body: Value,
    forged: bool,
    resent: bool,
}

impl Outgoing {
    fn new(kind: u8, body: Value) -> Outgoing {
        Outgoing {
            kind,
            body,
            forged: false,
            resent: false,
        }
    }
}

impl JuheSim {
    pub(super) fn new() -> JuheSim {
        JuheSim {
            state: Mutex::new(JuheState {
                key: DEFAULT_KEY.to_string(),
                delays: JuheDelays::default(),
                default_outcome: JuheOutcome::Issue,
                outcomes: HashMap::new(),
                query_keys: HashMap::new(),
                orders: Vec::new(),
                creates: Vec::new(),
                callbacks: BTreeMap::new(),
                pushes: Vec::new(),
                fault: None,
                next_passenger_id: 623_838_773,
                pending: Vec::new(),
            }),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            ticker: AtomicBool::new(false),
            flush: tokio::sync::Mutex::new(()),
        }
    }
}

// ---- programmatic API -----------------------------------------------------------------------

impl Sim {
    fn juhe(&self) -> MutexGuard<'_, JuheState> {
        lock(&self.inner.juhe.state)
    }

    /// The key the Juhe side accepts (default [`DEFAULT_KEY`]).
    pub fn juhe_set_key(&self, key: &str) {
        self.juhe().key = key.to_string();
    }

    /// How orders for `train` (`None` = every train without its own outcome) created from now on
    /// end.
    pub fn juhe_set_outcome(&self, train: Option<&str>, outcome: JuheOutcome) {
        let mut st = self.juhe();
        match train {
            Some(t) => {
                st.outcomes.insert(t.trim().to_ascii_uppercase(), outcome);
            }
            None => st.default_outcome = outcome,
        }
    }

    /// The script's timing (applies to existing orders too).
    pub fn juhe_set_delays(&self, delays: JuheDelays) {
        self.juhe().delays = delays;
    }

    /// The next valid createOrder hangs or fails; `create` says whether it still creates the
    /// order (the "did my order go through?" case).
    pub fn juhe_fail_next_create(&self, fault: CreateFault, create: bool) {
        self.juhe().fault = Some((fault, create));
    }

    /// Every queryKey issued so far becomes stale.
    pub fn juhe_expire_query_keys(&self) {
        self.juhe().query_keys.clear();
    }

    /// Orders, in creation order, with due transitions applied (their pushes are sent in the
    /// background).
    pub fn juhe_orders(&self) -> Vec<JuheOrderView> {
        self.juhe_settle_in_background();
        self.juhe().orders.iter().map(Order::view).collect()
    }

    /// Every createOrder call received.
    pub fn juhe_create_calls(&self) -> Vec<JuheCreateCall> {
        self.juhe().creates.clone()
    }

    /// Every push sent.
    pub fn juhe_pushes(&self) -> Vec<JuhePushRecord> {
        self.juhe().pushes.clone()
    }

    /// Moves the clock (see [`Sim::advance`]) and applies due transitions; returns once their
    /// pushes have been delivered.
    pub async fn juhe_advance(&self, by: Duration) {
        self.advance(by);
        self.juhe_tick();
        self.juhe_flush().await;
    }

    /// Sends the last push again, as Juhe does when it thinks a delivery failed.
    pub async fn juhe_resend_last_push(&self) -> Option<JuhePushRecord> {
        self.juhe_flush().await;
        {
            let mut st = self.juhe();
            let last = st.pushes.iter().rev().find(|p| !p.forged)?;
            let mut again = Outgoing::new(last.kind, last.body.clone());
            again.resent = true;
            st.pending.push(again);
        }
        self.juhe_flush().await;
        self.juhe().pushes.last().cloned()
    }

    /// Sends `body` to the callback URL of `kind` as if Juhe had: pushes are unsigned, so
    /// anyone can.
    pub async fn juhe_send_push(&self, kind: u8, body: Value) -> Option<JuhePushRecord> {
        let mut forged = Outgoing::new(kind, body);
        forged.forged = true;
        self.juhe().pending.push(forged);
        self.juhe_flush().await;
        self.juhe().pushes.last().cloned()
    }

    /// Applies due transitions; their pushes join the queue.
    fn juhe_tick(&self) {
        let elapsed = self.elapsed();
        let now = self.now().naive_local();
        let mut st = self.juhe();
        let delays = st.delays;
        let mut out = Vec::new();
        for order in &mut st.orders {
            order.step(elapsed, now, delays, &mut out);
        }
        st.pending.extend(out);
    }

    /// Applies due transitions now (handlers answer from the new state) and delivers their
    /// pushes in the background.
    fn juhe_settle_in_background(&self) {
        self.juhe_tick();
        if !self.juhe().pending.is_empty() {
            let sim = self.clone();
            tokio::spawn(async move { sim.juhe_flush().await });
        }
    }

    /// Delivers every queued push, in order, and records each.
    async fn juhe_flush(&self) {
        let _one_at_a_time = self.inner.juhe.flush.lock().await;
        loop {
            let batch = std::mem::take(&mut self.juhe().pending);
            if batch.is_empty() {
                return;
            }
            for push in batch {
                let url = self.juhe().callbacks.get(&push.kind).cloned();
                let mut record = JuhePushRecord {
                    kind: push.kind,
                    url: url.clone(),
                    body: push.body,
                    status: None,
                    error: None,
                    forged: push.forged,
                    resent: push.resent,
                };
                if let Some(url) = url {
                    match self.inner.juhe.http.post(&url).json(&record.body).send().await {
                        Ok(r) => record.status = Some(r.status().as_u16()),
                        Err(e) => record.error = Some(e.without_url().to_string()),
                    }
                }
                self.juhe().pushes.push(record);
            }
        }
    }

    /// Starts the background ticker once: pushes go out on time even when nobody polls.
    fn juhe_start_ticker(&self) {
        if self.inner.juhe.ticker.swap(true, Ordering::SeqCst) {
            return;
        }
        let sim = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(TICK) => {}
                    _ = sim.inner.cancel.cancelled() => return,
                }
                sim.juhe_tick();
                sim.juhe_flush().await;
            }
        });
    }
}

// ---- the order script -----------------------------------------------------------------------

impl Order {
    fn step(&mut self, elapsed: Duration, now: NaiveDateTime, d: JuheDelays, out: &mut Vec<Outgoing>) {
        if self.status.is_cancellable() {
            if now >= self.close_time {
                self.expire(out);
            } else {
                if self.status == OrderStatus::Created && elapsed >= self.created_at + d.grab_after {
                    self.status = OrderStatus::Grabbing;
                }
                if self.status == OrderStatus::Grabbing
                    && elapsed >= self.created_at + d.grab_after + d.finish_after
                {
                    self.finish(now, out);
                }
            }
        }
        for i in 0..self.passengers.len() {
            let due = self.passengers[i].refund_at.is_some_and(|at| elapsed >= at);
            if self.passengers[i].state == TicketState::Refunding && due {
                self.passengers[i].state = TicketState::Refunded;
                self.passengers[i].refund_at = None;
                out.push(Outgoing::new(2, self.refund_push(i, now)));
            }
        }
        if self.status == OrderStatus::Issued
            && self.passengers.iter().all(|p| p.state == TicketState::Refunded)
        {
            self.status = OrderStatus::Refunded;
        }
    }

    fn expire(&mut self, out: &mut Vec<Outgoing>) {
        self.status = OrderStatus::Expired;
        self.fail_msg = Some("抢票单过期".into());
        out.push(Outgoing::new(
            3,
            json!({
                "msgCode": "101",
                "msgInfo": "抢票单过期",
                "orderNo": self.order_no,
                "outOrderNo": self.out_order_no,
            }),
        ));
    }

    fn finish(&mut self, now: NaiveDateTime, out: &mut Vec<Outgoing>) {
        match self.outcome.clone() {
            JuheOutcome::Expire => self.expire(out),
            JuheOutcome::Fail(code) => {
                self.status = OrderStatus::Failed;
                let info = if code == "101" {
                    "出票失败".to_string()
                } else {
                    msg_code_text(&code).unwrap_or("出票失败").to_string()
                };
                self.fail_msg = Some(info.clone());
                out.push(Outgoing::new(1, self.fail_push(&code, &info)));
            }
            JuheOutcome::Issue => {
                let mut rng = rand::rng();
                let ticket = format!("E{:09}", rng.random_range(0..1_000_000_000u32));
                for (i, p) in self.passengers.iter_mut().enumerate() {
                    let seat = 9 + i;
                    p.seat_no = Some(format!("07车厢,{seat:03}号"));
                    p.ticket_no = Some(format!("{ticket}107{seat:04}"));
                    p.state = TicketState::Issued;
                }
                self.ticket_no = Some(ticket);
                self.issue_time = Some(now);
                self.status = OrderStatus::Issued;
                out.push(Outgoing::new(1, self.issue_push()));
            }
        }
    }

    fn price(&self) -> f64 {
        self.train.prices.get(&self.seat_code).copied().unwrap_or(0.0)
    }

    fn arrival(&self) -> NaiveDateTime {
        let minutes = super::rail::minutes_between(self.train.depart, self.train.arrive);
        self.depart + chrono::Duration::minutes(i64::from(minutes))
    }

    fn issue_push(&self) -> Value {
        let price = self.price();
        let passengers: Vec<Value> = self
            .passengers
            .iter()
            .map(|p| {
                json!({
                    "passengerName": p.name,
                    "passengerType": p.kind,
                    "cardType": p.id_type,
                    "cardNo": p.id_masked,
                    "passengerId": p.id,
                    "seatClass": push_seat_class(&self.seat_code),
                    "seatNo": p.seat_no.clone().unwrap_or_default(),
                    "price": money(price),
                    "pTicketNo": p.ticket_no.clone().unwrap_or_default(),
                    "serviceCharge": "0",
                    "insuranceCharge": "0.00",
                })
            })
            .collect();
        json!({
            "orderNo": self.order_no,
            "outOrderNo": self.out_order_no,
            "msgCode": "100",
            "msgInfo": "出票成功",
            "fromStationCode": self.train.from_code,
            "toStationCode": self.train.to_code,
            "departureTime": seconds(self.depart),
            "arrivalTime": seconds(self.arrival()),
            "trainNo": self.train.code,
            "ticketNo": self.ticket_no,
            "orderAmount": money(price * self.passengers.len() as f64),
            "fromStation": self.train.from_name,
            "toStation": self.train.to_name,
            "issueTime": self.issue_time.map(seconds).unwrap_or_default(),
            "mailCharge": "0.00",
            "msgDetail": null,
            "passengers": passengers,
            "isChangedOrder": "0",
            "originalOrderNo": "",
            "changedType": "",
            "serviceCharge": "",
            "changePriceDiff": "",
            "juheServiceFee": "8",
        })
    }

    fn fail_push(&self, code: &str, info: &str) -> Value {
        let passengers: Vec<Value> = self
            .passengers
            .iter()
            .map(|p| {
                json!({
                    "passengerName": p.name,
                    "passengerType": p.kind,
                    "cardType": p.id_type,
                    "cardNo": p.id_masked,
                    "passengerId": p.id,
                    "seatClass": push_seat_class(&self.seat_code),
                    "seatNo": "",
                    "price": money(self.price()),
                    "pTicketNo": "",
                    "serviceCharge": "0",
                    "insuranceCharge": "0.00",
                })
            })
            .collect();
        let detail = code.starts_with('3').then(|| {
            self.passengers
                .iter()
                .map(|p| format!("{}|{}", p.name, p.id_masked))
                .collect::<Vec<_>>()
                .join(",")
        });
        json!({
            "orderNo": self.order_no,
            "outOrderNo": self.out_order_no,
            "msgCode": code,
            "msgInfo": info,
            "fromStationCode": null,
            "toStationCode": null,
            "departureTime": null,
            "arrivalTime": null,
            "trainNo": null,
            "ticketNo": null,
            "orderAmount": null,
            "fromStation": null,
            "toStation": null,
            "issueTime": "",
            "mailCharge": null,
            "msgDetail": detail,
            "passengers": passengers,
            "isChangedOrder": "0",
            "originalOrderNo": "",
            "changedType": "",
            "serviceCharge": "",
            "changePriceDiff": "",
            "juheServiceFee": "0",
        })
    }

    fn refund_push(&self, i: usize, now: NaiveDateTime) -> Value {
        let p = &self.passengers[i];
        let price = money(self.price());
        json!({
            "orderNo": self.order_no,
            "outOrderNo": self.out_order_no,
            "refundTime": seconds(now),
            "refundPrice": price,
            "refundType": "online",
            "passengers": [{
                "passengerId": p.id,
                "pTicketNo": p.ticket_no.clone().unwrap_or_default(),
                "passengerName": p.name,
                "passengerType": p.kind,
                "cardType": p.id_type,
                "cardNo": "",
                "refundPrice": price,
            }],
            "msgCode": "100",
            "msgInfo": "线上退票成功",
        })
    }

    fn view(&self) -> JuheOrderView {
        JuheOrderView {
            order_no: self.order_no.clone(),
            out_order_no: self.out_order_no.clone(),
            status: self.status.code().to_string(),
            train_no: self.train.code.clone(),
            seat_class_code: self.seat_code.clone(),
            ticket_no: self.ticket_no.clone(),
            passengers: self
                .passengers
                .iter()
                .map(|p| JuhePassengerView {
                    passenger_id: p.id.clone(),
                    name: p.name.clone(),
                    seat_no: p.seat_no.clone(),
                    ticket_state: p.state.code().to_string(),
                })
                .collect(),
            cancel_calls: self.cancel_calls,
        }
    }

    /// `orderDetail` without `issue`: the grab view (seed 001's first example).
    fn plain_detail(&self) -> Value {
        let passengers: Vec<Value> = self
            .passengers
            .iter()
            .map(|p| {
                json!({
                    "passengerName": p.name,
                    "passengerType": p.kind.parse::<u8>().unwrap_or(1),
                    "certificateNo": p.id_masked,
                    "ticketPrice": if p.state == TicketState::NotIssued { 0.0 } else { self.price() },
                })
            })
            .collect();
        json!({
            "status": self.status.code(),
            "fromStation": self.train.from_name,
            "toStation": self.train.to_name,
            "departDate": self.depart.format("%Y-%m-%dT%H:%M:%S").to_string(),
            "orderNo": self.order_no,
            "outOrderNo": self.out_order_no,
            "trainNo": self.all_trains,
            "seatClass": seat_name(&self.seat_code),
            "passengers": passengers,
            "phone": self.phone_masked,
            "mainTrainNo": self.main_train_no,
            "failMsg": self.fail_msg.clone().unwrap_or_default(),
            "mainSeatClass": self.main_seat_class,
            "grabEndTime": self.close_time.format("%Y-%m-%dT%H:%M:%S").to_string(),
        })
    }

    /// `orderDetail` with `issue=1` (seed 001's second example): no grab status, tickets.
    fn issued_detail(&self) -> Value {
        let price = money(self.price());
        let issued = self.status.has_tickets();
        let passengers: Vec<Value> = self
            .passengers
            .iter()
            .map(|p| {
                json!({
                    "passengerId": if issued { p.id.clone() } else { String::new() },
                    "passengerName": p.name,
                    "passengerType": p.kind,
                    "idType": p.id_type,
                    "idCard": p.id_masked,
                    "birthday": p.birthday,
                    "seatClass": self.seat_code,
                    "seatClassName": seat_name(&self.seat_code),
                    "seatNo": p.seat_no.clone().unwrap_or_default(),
                    "pTicketNo": p.ticket_no.clone().unwrap_or_default(),
                    "ticketStateCode": p.state.code(),
                    "ticketState": p.state.label_zh(),
                    "ticketPrice": price,
                    "insureUnitPrice": "0.00",
                    "insureState": null,
                    "insureBillNo": null,
                })
            })
            .collect();
        let train_code = &self.train.code;
        json!({
            "orderNo": self.order_no,
            "outOrderNo": self.out_order_no,
            "trainNo": train_code,
            "trainDate": self.depart.format("%Y-%m-%d").to_string(),
            "fromStation": self.train.from_name,
            "toStation": self.train.to_name,
            "departureTime": seconds(self.depart),
            "arrivalTime": seconds(self.arrival()),
            "orderState": self.status.label_zh(),
            "orderStateCode": self.status.code(),
            "failureReason": self.fail_msg.clone().unwrap_or_default(),
            "issueTime": self.issue_time.map(seconds).unwrap_or_default(),
            "orderPrice": if issued { money(self.price() * self.passengers.len() as f64) } else { "0.00".into() },
            "ticketNo": self.ticket_no.clone().unwrap_or_default(),
            "passengers": passengers,
            "contactInfo": {"person": self.phone_masked, "cellphone": self.phone_masked, "email": ""},
            "juheServiceFee": if issued { "8" } else { "0" },
        })
    }
}

fn money(yuan: f64) -> String {
    format!("{yuan:.2}")
}

fn seconds(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The data dictionary's `seatClass` number used in pushes.
fn push_seat_class(code: &str) -> &'static str {
    match code {
        "hardseat" => "1",
        "softseat" => "2",
        "firstseat" => "3",
        "secondseat" => "4",
        "hardsleeperup" => "5",
        "hardsleepermid" => "6",
        "hardsleeperdown" => "7",
        "softsleeperup" => "8",
        "softsleeperdown" => "9",
        "noseat" => "10",
        "businessseat" => "11",
        "specialseat" => "12",
        "advancedsoftsleeper" => "14",
        _ => "13",
    }
}

/// The data dictionary's `seatClassCode` text.
fn seat_name(code: &str) -> &'static str {
    match code {
        "hardseat" => "硬座",
        "softseat" => "软座",
        "firstseat" => "一等座",
        "secondseat" => "二等座",
        "hardsleeperup" => "硬卧上铺",
        "hardsleepermid" => "硬卧中铺",
        "hardsleeperdown" => "硬卧下铺",
        "softsleeperup" => "软卧上铺",
        "softsleeperdown" => "软卧下铺",
        "noseat" => "无座",
        "businessseat" => "商务座",
        "specialseat" => "特等座",
        "advancedsoftsleeper" => "高级软卧",
        _ => "其他",
    }
}

// ---- the Juhe endpoints ---------------------------------------------------------------------

pub(super) fn routes() -> Router<Sim> {
    const BASE: &str = "/grabTicket/action";
    Router::new()
        .route(&format!("{BASE}/search.php"), get(search).post(search))
        .route(&format!("{BASE}/createOrder.php"), get(create).post(create))
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
        .route("/sim/juhe/orders", get(ctl_orders))
        .route("/sim/juhe/creates", get(ctl_creates))
        .route("/sim/juhe/pushes", get(ctl_pushes))
        .route("/sim/juhe/key", post(ctl_key))
        .route("/sim/juhe/outcome", post(ctl_outcome))
        .route("/sim/juhe/delays", post(ctl_delays))
        .route("/sim/juhe/fail-next-create", post(ctl_fault))
        .route("/sim/juhe/advance", post(ctl_advance))
        .route("/sim/juhe/resend-last-push", post(ctl_resend))
        .route("/sim/juhe/push", post(ctl_push))
        .route("/sim/juhe/expire-query-keys", post(ctl_expire_keys))
}

/// Query-string and form parameters together (Juhe takes either).
struct Params(Vec<(String, String)>);

impl Params {
    fn new(query: Option<String>, body: &str) -> Params {
        let mut all: Vec<(String, String)> = Vec::new();
        for text in [query.as_deref().unwrap_or(""), body] {
            all.extend(
                url::form_urlencoded::parse(text.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())),
            );
        }
        Params(all)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }
}

/// A Juhe error answer; `msg_code` goes next to `error_code` (see the module doc).
fn juhe_error(code: i64, reason: &str, msg_code: Option<&str>) -> Response {
    let mut v = json!({"reason": reason, "result": null, "error_code": code});
    if let (Some(m), Some(obj)) = (msg_code, v.as_object_mut()) {
        obj.insert("msgCode".into(), json!(m));
    }
    Json(v).into_response()
}

/// An error whose reason is the msgCode's own text, optionally with a detail.
fn coded(code: i64, msg_code: &str, detail: &str) -> Response {
    let text = msg_code_text(msg_code).unwrap_or("参数无效");
    let reason = if detail.is_empty() {
        text.to_string()
    } else {
        format!("{text}:{detail}")
    };
    juhe_error(code, &reason, Some(msg_code))
}

fn success(result: Value) -> Response {
    Json(json!({"reason": "success", "result": result, "error_code": 0})).into_response()
}

/// Juhe's wrong-key answer, unless `key` is the configured one.
fn key_refusal(sim: &Sim, p: &Params) -> Option<Response> {
    let key = sim.juhe().key.clone();
    if p.get("key") == Some(key.as_str()) {
        None
    } else {
        Some(
            Json(json!({
                "resultcode": "101",
                "reason": "错误的请求KEY",
                "result": null,
                "error_code": ERR_KEY,
            }))
            .into_response(),
        )
    }
}

fn token(len: usize, alphabet: &[u8]) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

/// Resolves a place as Juhe takes it (Chinese name or pinyin) to its city's stations.
fn city_codes(text: &str) -> BTreeSet<String> {
    let table = StationTable::embedded();
    let station = match table.lookup(text) {
        Lookup::Found(s) => Some(s),
        _ => table.by_name(text),
    };
    station
        .map(|s| table.same_city(s).iter().map(|c| c.telecode.clone()).collect())
        .unwrap_or_default()
}

fn station_name(telecode: &str) -> (String, String) {
    StationTable::embedded().by_telecode(telecode).map_or_else(
        || (telecode.to_string(), String::new()),
        |s| (s.name.clone(), s.pinyin.clone()),
    )
}

/// Price in yuan of `seat` on `train`; 无座 costs what its base class costs.
fn price_yuan(train: &Train, seat: SeatClass) -> f64 {
    let base = match seat {
        SeatClass::NoSeat if train.code.starts_with(['G', 'D', 'C']) => SeatClass::Second,
        SeatClass::NoSeat => SeatClass::HardSeat,
        other => other,
    };
    f64::from(train.prices.get(&base).copied().unwrap_or(0)) / 10.0
}

fn train_class(code: &str) -> &'static str {
    match code.chars().next() {
        Some('G') => "GD",
        Some('D') => "D",
        Some('C') => "C",
        Some('Z') => "Z",
        Some('T') => "KT",
        Some('K') => "KS",
        _ => "PK",
    }
}

async fn search(State(sim): State<Sim>, RawQuery(q): RawQuery, body: String) -> Response {
    let p = Params::new(q, &body);
    if let Some(r) = key_refusal(&sim, &p) {
        return r;
    }
    let (Some(from), Some(to), Some(date)) = (p.get("from"), p.get("to"), p.get("date")) else {
        return coded(ERR_PARAM, "101", "from, to and date are required");
    };
    let Some(date) = NaiveDate::parse_from_str(date, "%Y%m%d")
        .ok()
        .filter(|d| d.format("%Y%m%d").to_string() == date)
    else {
        return coded(ERR_PARAM, "205", "date must be YYYYMMDD");
    };
    let now = sim.now().naive_local();
    if date < now.date() {
        return coded(ERR_PARAM, "205", "");
    }
    sim.catch_up();
    let (from_city, to_city) = (city_codes(from), city_codes(to));
    let mut trains: Vec<&Train> = sim
        .inner
        .world
        .trains
        .iter()
        .filter(|t| from_city.contains(&t.from) && to_city.contains(&t.to))
        .collect();
    trains.sort_by_key(|t| (t.depart, t.code.clone()));
    let cells: Vec<_> = sim.with_state(|s| trains.iter().map(|t| s.seats.cells(t, date)).collect());

    let mut key_trains = Vec::new();
    let mut json_trains = Vec::new();
    for (i, (train, cells)) in trains.iter().zip(cells).enumerate() {
        let (from_name, from_pinyin) = station_name(&train.from);
        let (to_name, to_pinyin) = station_name(&train.to);
        let mut tickets = serde_json::Map::new();
        let mut prices = BTreeMap::new();
        for (seat, cell) in &cells {
            let Some(code) = seat.juhe_code() else {
                continue;
            };
            let price = price_yuan(train, *seat);
            prices.insert(code.to_string(), price);
            tickets.insert(
                code.to_string(),
                json!({
                    "seatName": seat.name(),
                    "price": price,
                    "seatState": u8::from(cell.available()),
                    "seats": cell.exact_count().to_string(),
                    "upPrice": 0,
                    "midPrice": 0,
                    "downPrice": 0,
                }),
            );
        }
        let depart = date.and_time(train.depart);
        let book_state = if train.button_text != "预订" {
            2
        } else if depart - now < chrono::Duration::minutes(30) {
            3
        } else {
            1
        };
        json_trains.push(json!({
            "serialNumber": i + 1,
            "trainNo": train.code,
            "fromTime": train.depart.format("%H:%M").to_string(),
            "toTime": train.arrive.format("%H:%M").to_string(),
            "fromStation": from_name,
            "fromStationCode": from_pinyin,
            "toStation": to_name,
            "toStationCode": to_pinyin,
            "runTimeSpan": super::rail::minutes_between(train.depart, train.arrive).to_string(),
            "fromPassType": u8::from(train.from != train.origin),
            "toPassType": if train.to == train.terminus { 2 } else { 1 },
            "bookState": book_state,
            "trainClass": train_class(&train.code),
            "tickets": tickets,
            "miles": 0,
            "pullInByIdCard": 1,
            "note": "",
        }));
        key_trains.push(KeyTrain {
            code: train.code.clone(),
            from_name,
            to_name,
            from_code: train.from.clone(),
            to_code: train.to.clone(),
            depart: train.depart,
            arrive: train.arrive,
            prices,
        });
    }
    let query_key = token(32, b"0123456789abcdef");
    let elapsed = sim.elapsed();
    sim.juhe().query_keys.insert(
        query_key.clone(),
        QueryKey {
            issued_at: elapsed,
            date,
            trains: key_trains,
        },
    );
    let (from_name, to_name) = (from.to_string(), to.to_string());
    success(json!({
        "queryKey": query_key,
        "fromStation": from_name,
        "toStation": to_name,
        "trainDate": date.format("%Y%m%d").to_string(),
        "pageIndex": 0,
        "pageSize": 0,
        "totalCount": json_trains.len(),
        "totalSize": 0,
        "trains": json_trains,
        "froms": [{"station": from_name, "location": ""}],
        "tos": [{"station": to_name, "location": ""}],
    }))
}

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

async fn create(State(sim): State<Sim>, method: Method, RawQuery(q): RawQuery, body: String) -> Response {
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
    let elapsed = sim.elapsed();
    let now = sim.now().naive_local();
    let key = {
        let st = sim.juhe();
        p.get("queryKey")
            .and_then(|k| st.query_keys.get(k))
            .filter(|k| elapsed.saturating_sub(k.issued_at) <= QUERY_KEY_TTL)
            .cloned()
    };
    let Some(key) = key else {
        return Err(refusal(ERR_PARAM, "215", ""));
    };
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
    let main_train = match p.get("mainTrainNo") {
        Some(t) if trains.iter().any(|x| x == t) => t.to_string(),
        Some(t) => {
            return Err(refusal(
                ERR_PARAM,
                "208",
                &format!("mainTrainNo {t}不在trainNo中"),
            ));
        }
        None if several => return Err(refusal(ERR_PARAM, "101", "多车次或多坐席时须指定mainTrainNo")),
        None => trains[0].clone(),
    };
    let main_seat = match p.get("mainSeatClass") {
        Some(s) if seats.iter().any(|x| x == s) => s.to_string(),
        Some(s) => {
            return Err(refusal(
                ERR_PARAM,
                "204",
                &format!("mainSeatClass {s}不在seatClassCode中"),
            ));
        }
        None if several => return Err(refusal(ERR_PARAM, "101", "多车次或多坐席时须指定mainSeatClass")),
        None => seats[0].clone(),
    };
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
    if !matches!(p.get("acceptNoSeat"), Some("0" | "1")) {
        return Err(refusal(ERR_PARAM, "101", "acceptNoSeat须为0或1"));
    }
    if p.get("person").is_none() || p.get("cellphone").is_none() {
        return Err(refusal(ERR_PARAM, "101", "person和cellphone必填"));
    }
    match p.get("ticketModel").unwrap_or("0") {
        "0" => {}
        "1" if p.get("accountNo").is_some() && p.get("accountPwd").is_some() => {}
        "1" => return Err(refusal(ERR_PARAM, "101", "自购模式须提供accountNo和accountPwd")),
        _ => return Err(refusal(ERR_PARAM, "101", "ticketModel须为0或1")),
    }
    let passengers = parse_passengers(p.get("passengers").unwrap_or_default())?;

    let mut st = sim.juhe();
    let fault = st.fault.take();
    if matches!(fault, Some((_, false))) {
        return Ok((None, fault.map(|f| f.0)));
    }
    let outcome = st
        .outcomes
        .get(&main_train)
        .cloned()
        .unwrap_or_else(|| st.default_outcome.clone());
    let passengers = passengers
        .into_iter()
        .map(|mut passenger| {
            passenger.id = st.next_passenger_id.to_string();
            st.next_passenger_id += 1;
            passenger
        })
        .collect();
    let order_no = format!("TFT{}", token(24, b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"));
    st.orders.push(Order {
        order_no: order_no.clone(),
        out_order_no: out_order_no.to_string(),
        status: OrderStatus::Created,
        created_at: elapsed,
        outcome,
        train,
        all_trains: trains.join("|"),
        seat_code: main_seat.clone(),
        main_seat_class: if several { main_seat } else { String::new() },
        main_train_no: if several { main_train } else { String::new() },
        depart,
        close_time,
        phone_masked: mask_phone(p.get("cellphone").unwrap_or_default()),
        passengers,
        ticket_no: None,
        fail_msg: None,
        issue_time: None,
        cancel_calls: 0,
    });
    drop(st);
    sim.juhe_start_ticker();
    Ok((Some(order_no), fault.map(|f| f.0)))
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

// ---- control API ----------------------------------------------------------------------------

async fn ctl_orders(State(sim): State<Sim>) -> Json<Vec<JuheOrderView>> {
    Json(sim.juhe_orders())
}

async fn ctl_creates(State(sim): State<Sim>) -> Json<Vec<JuheCreateCall>> {
    Json(sim.juhe_create_calls())
}

async fn ctl_pushes(State(sim): State<Sim>) -> Json<Vec<JuhePushRecord>> {
    Json(sim.juhe_pushes())
}

#[derive(Deserialize)]
struct KeyBody {
    key: String,
}

async fn ctl_key(State(sim): State<Sim>, Json(body): Json<KeyBody>) -> Response {
    sim.juhe_set_key(&body.key);
    ok()
}

#[derive(Deserialize)]
struct OutcomeBody {
    #[serde(default)]
    train: Option<String>,
    outcome: String,
    #[serde(default)]
    msg_code: Option<String>,
}

async fn ctl_outcome(State(sim): State<Sim>, Json(body): Json<OutcomeBody>) -> Response {
    let outcome = match body.outcome.trim().to_ascii_lowercase().as_str() {
        "issue" => JuheOutcome::Issue,
        "expire" => JuheOutcome::Expire,
        "fail" => JuheOutcome::Fail(body.msg_code.unwrap_or_else(|| "101".into())),
        other => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("unknown outcome {other:?} (issue, fail, expire)"),
            );
        }
    };
    sim.juhe_set_outcome(body.train.as_deref(), outcome);
    ok()
}

#[derive(Deserialize)]
struct DelaysBody {
    grab_after: Option<String>,
    finish_after: Option<String>,
    refund_after: Option<String>,
}

async fn ctl_delays(State(sim): State<Sim>, Json(body): Json<DelaysBody>) -> Response {
    let mut delays = sim.juhe().delays;
    for (text, slot) in [
        (&body.grab_after, &mut delays.grab_after),
        (&body.finish_after, &mut delays.finish_after),
        (&body.refund_after, &mut delays.refund_after),
    ] {
        if let Some(t) = text {
            match humantime::parse_duration(t.trim()) {
                Ok(d) => *slot = d,
                Err(e) => return refuse(StatusCode::BAD_REQUEST, format!("{t:?}: {e}")),
            }
        }
    }
    sim.juhe_set_delays(delays);
    ok()
}

#[derive(Deserialize)]
struct FaultBody {
    fault: String,
    #[serde(default)]
    create: bool,
}

async fn ctl_fault(State(sim): State<Sim>, Json(body): Json<FaultBody>) -> Response {
    let fault = match body.fault.trim().to_ascii_lowercase().as_str() {
        "timeout" => CreateFault::Timeout,
        "error" => CreateFault::Error,
        other => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("unknown fault {other:?} (timeout, error)"),
            );
        }
    };
    sim.juhe_fail_next_create(fault, body.create);
    ok()
}

#[derive(Deserialize)]
struct AdvanceBody {
    by: String,
}

async fn ctl_advance(State(sim): State<Sim>, Json(body): Json<AdvanceBody>) -> Response {
    match humantime::parse_duration(body.by.trim()) {
        Ok(by) => {
            sim.juhe_advance(by).await;
            ok()
        }
        Err(e) => refuse(StatusCode::BAD_REQUEST, format!("by: {e}")),
    }
}

async fn ctl_resend(State(sim): State<Sim>) -> Response {
    match sim.juhe_resend_last_push().await {
        Some(record) => Json(record).into_response(),
        None => refuse(StatusCode::NOT_FOUND, "no push sent yet"),
    }
}

#[derive(Deserialize)]
struct PushBody {
    #[serde(rename = "type")]
    kind: u8,
    body: Value,
}

async fn ctl_push(State(sim): State<Sim>, Json(body): Json<PushBody>) -> Response {
    if !(1..=3).contains(&body.kind) {
        return refuse(StatusCode::BAD_REQUEST, "type must be 1, 2 or 3");
    }
    match sim.juhe_send_push(body.kind, body.body).await {
        Some(record) => Json(record).into_response(),
        None => refuse(StatusCode::NOT_FOUND, "nothing sent"),
    }
}

async fn ctl_expire_keys(State(sim): State<Sim>) -> Response {
    sim.juhe_expire_query_keys();
    ok()
}
