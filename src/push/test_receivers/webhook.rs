//! yupiao's own webhook contract: a JSON payload signed with `X-Yupiao-Signature` and made
//! idempotent by `Idempotency-Key` (duplicates are accepted and said to be duplicates).

use axum::http::StatusCode;
use serde_json::json;

use super::exchange::{Req, Verdict, hmac};
use super::state::{Failure, Inner, lock};
use crate::push::request::WebhookPayload;

pub(super) fn webhook(st: &Inner, req: &Req) -> Verdict {
    let bad = |msg: &str| Verdict::json(StatusCode::BAD_REQUEST, json!({"error": msg}));
    if !req.is_json() {
        return bad("expected application/json");
    }
    let Some(key) = req.header("idempotency-key").filter(|k| !k.trim().is_empty()) else {
        return bad("missing Idempotency-Key");
    };
    if let Some(secret) = &st.config.webhook_secret {
        let expected: String = hmac(secret.as_bytes(), req.body)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let given = req
            .header("x-yupiao-signature")
            .and_then(|s| s.strip_prefix("sha256="));
        if !given.is_some_and(|g| constant_time_eq(g.as_bytes(), expected.as_bytes())) {
            return failure(Failure::BadSignature);
        }
    }
    let Ok(payload) = serde_json::from_slice::<WebhookPayload>(req.body) else {
        return bad("body is not a yupiao webhook payload");
    };
    if payload.id != key {
        return bad("Idempotency-Key differs from the body's id");
    }
    let duplicate = !lock(&st.webhook_keys).insert(key.to_string());
    Verdict::ok(
        json!({"ok": true, "duplicate": duplicate}),
        payload.title,
        payload.text,
    )
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The answer in each failure of a typical receiver behind a reverse proxy.
pub(super) fn failure(failure: Failure) -> Verdict {
    match failure {
        Failure::BadKey => Verdict::json(StatusCode::UNAUTHORIZED, json!({"error": "unauthorized"})),
        Failure::BadSignature => Verdict::json(StatusCode::UNAUTHORIZED, json!({"error": "bad signature"})),
        Failure::RateLimit => Verdict {
            extra_headers: vec![("retry-after", "1".to_string())],
            ..Verdict::json(StatusCode::TOO_MANY_REQUESTS, json!({"error": "slow down"}))
        },
        Failure::ServerError => Verdict::html(
            StatusCode::SERVICE_UNAVAILABLE,
            "<h1>503 Service Unavailable</h1>",
        ),
        Failure::Hang => unreachable!("handled before"),
    }
}
