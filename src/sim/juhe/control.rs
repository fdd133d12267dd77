//! How tests steer the Juhe side: the programmatic API on [`Sim`] and the same controls over
//! HTTP under `/sim/juhe/…` (table in the module doc of `sim::juhe`).

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use super::order::Order;
use super::{CreateFault, JuheCreateCall, JuheDelays, JuheOrderView, JuheOutcome, JuhePushRecord};
use crate::sim::{Sim, ok, refuse};

impl Sim {
    /// The key the Juhe side accepts (default [`DEFAULT_KEY`](super::DEFAULT_KEY)).
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
}

/// The `/sim/juhe/…` control routes.
pub(super) fn routes() -> Router<Sim> {
    Router::new()
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
