//! The Juhe push receiver: `POST {listen}/juhe/{token}/{type}` (type 1 出票, 2 退票, 3 过期).
//!
//! Pushes are unsigned and `msgCode` "101" means two things (protocol doc §6.4), so a push is a
//! *hint*: it is recorded (the same push twice changes nothing), answered 200 at once, and makes
//! the follower ask `orderDetail` now; only `orderDetail` changes an order. The secret `token` in
//! the path keeps strangers out (wrong token → 404, as if nothing were there); pushes for orders
//! we never placed are logged and ignored. Connections are capped in number and closed when idle
//! ([`super::guarded`]): the receiver faces the network.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use secrecy::ExposeSecret;

use super::context::Ctx;
use super::guarded::GuardedListener;
use crate::clock;
use crate::juhe::decode_push;
use crate::store::Push;

/// The token in push URLs: `[callback] token`, else one generated once and kept in the database
/// (registered URLs must survive restarts).
async fn token(ctx: &Ctx) -> anyhow::Result<String> {
    if let Some(t) = &ctx.settings.callback.token {
        return Ok(t.expose_secret().to_string());
    }
    let fresh = format!("{:016x}{:016x}", rand::random::<u64>(), rand::random::<u64>());
    Ok(ctx.db.callback_token(fresh, clock::now()).await?)
}

/// The path a push of `kind` arrives on.
pub fn push_path(token: &str, kind: u8) -> String {
    format!("/juhe/{token}/{kind}")
}

#[derive(Clone)]
struct Receiver {
    ctx: Arc<Ctx>,
    token: String,
}

/// Serves the receiver on `[callback] listen` until shutdown; registers the three push URLs with
/// Juhe when `public_url` is set.
pub(super) async fn serve(ctx: Arc<Ctx>) {
    let Some(listen) = ctx.settings.callback.listen else {
        return;
    };
    let token = match token(&ctx).await {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "cannot set up the callback token; pushes are off (polling still works)");
            return;
        }
    };
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(%listen, error = %e, "cannot listen for Juhe pushes; polling alone will follow orders");
            return;
        }
    };
    tracing::info!(addr = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), "Juhe push receiver listening");
    if let (Some(public), Some(juhe)) = (&ctx.settings.callback.public_url, ctx.juhe.as_ref()) {
        for kind in [1u8, 2, 3] {
            let url = format!("{}{}", public.trim_end_matches('/'), push_path(&token, kind));
            match juhe.add_callback_url(&url, kind).await {
                Ok(()) => tracing::info!(kind, "registered the Juhe push URL"),
                Err(e) => {
                    tracing::warn!(kind, error = %e, "cannot register the Juhe push URL; polling still follows orders")
                }
            }
        }
    }
    let listener = GuardedListener::new(
        listener,
        ctx.settings.callback.max_connections,
        ctx.settings.callback.idle_timeout,
    );
    let app = Router::new().route("/juhe/{token}/{kind}", post(receive));
    let stop = ctx.shutdown.clone();
    let app = app.with_state(Receiver { ctx, token });
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
    {
        tracing::error!(error = %e, "the Juhe push receiver stopped");
    }
}

async fn receive(
    State(r): State<Receiver>,
    Path((token, kind)): Path<(String, String)>,
    body: String,
) -> (StatusCode, &'static str) {
    if token != r.token {
        return (StatusCode::NOT_FOUND, "not found");
    }
    let Ok(kind) = kind.parse::<u8>() else {
        return (StatusCode::NOT_FOUND, "not found");
    };
    if !(1..=3).contains(&kind) {
        return (StatusCode::NOT_FOUND, "not found");
    }
    let push = match decode_push(kind, &body) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(kind, error = %e, "unreadable Juhe push ignored");
            return (StatusCode::BAD_REQUEST, "unreadable push");
        }
    };
    let now = clock::now();
    match r.ctx.db.grab_order(push.out_order_no.clone()).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            tracing::warn!(out_order_no = %push.out_order_no, kind, "push for an order yupiao never placed; ignored");
            return (StatusCode::OK, "success");
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot look the pushed order up");
            return (StatusCode::INTERNAL_SERVER_ERROR, "try again");
        }
    }
    let record = Push {
        dedupe_key: push.dedupe_key(),
        out_order_no: push.out_order_no.clone(),
        kind,
        msg_code: push.msg_code.clone(),
    };
    match r.ctx.db.record_push(record, now).await {
        Ok(true) => {
            tracing::info!(out_order_no = %push.out_order_no, kind, msg_code = %push.msg_code, "Juhe push received");
            r.ctx.wake_grab.notify_one();
        }
        Ok(false) => tracing::debug!(out_order_no = %push.out_order_no, kind, "duplicate Juhe push ignored"),
        Err(e) => {
            tracing::error!(error = %e, "cannot record the push");
            return (StatusCode::INTERNAL_SERVER_ERROR, "try again");
        }
    }
    (StatusCode::OK, "success")
}
