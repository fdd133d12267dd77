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
//!
//! # Where things are
//!
//! `state` holds the Juhe side's state; `api` the envelope every endpoint answers in; `search`,
//! `create` and `routes` the endpoints; `order` the order script, `bodies` the JSON it shows
//! (pushes and order details), `push` the sender delivering the pushes, and `control` the
//! programmatic and HTTP controls tests steer it with.

mod api;
mod bodies;
mod control;
mod create;
mod order;
mod push;
mod routes;
mod search;
mod state;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub(super) use routes::routes;
pub(super) use state::JuheSim;

/// The key the simulator accepts until told otherwise.
pub const DEFAULT_KEY: &str = "sim-juhe-key";

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
    /// Sent through [`Sim::juhe_send_push`](crate::sim::Sim::juhe_send_push).
    pub forged: bool,
    /// Sent through [`Sim::juhe_resend_last_push`](crate::sim::Sim::juhe_resend_last_push).
    pub resent: bool,
}
