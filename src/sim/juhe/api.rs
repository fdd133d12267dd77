//! The envelope every Juhe endpoint answers in: parameters from the query string or the form,
//! the key check, success and the error codes (module doc of `sim::juhe`).

use axum::Json;
use axum::response::{IntoResponse, Response};
use rand::Rng;
use serde_json::{Value, json};

use crate::juhe::msg_code_text;
use crate::sim::Sim;

pub(super) const ERR_KEY: i64 = 10_001;
pub(super) const ERR_CANCEL: i64 = 223_801;
pub(super) const ERR_PARAM: i64 = 223_802;
pub(super) const ERR_REFUND: i64 = 223_803;
pub(super) const ERR_NOT_FOUND: i64 = 223_804;
pub(super) const ERR_DUPLICATE: i64 = 223_805;

/// Query-string and form parameters together (Juhe takes either).
pub(super) struct Params(pub(super) Vec<(String, String)>);

impl Params {
    pub(super) fn new(query: Option<String>, body: &str) -> Params {
        let mut all: Vec<(String, String)> = Vec::new();
        for text in [query.as_deref().unwrap_or(""), body] {
            all.extend(
                url::form_urlencoded::parse(text.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())),
            );
        }
        Params(all)
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }
}

/// A Juhe error answer; `msg_code` goes next to `error_code` (see the module doc).
pub(super) fn juhe_error(code: i64, reason: &str, msg_code: Option<&str>) -> Response {
    let mut v = json!({"reason": reason, "result": null, "error_code": code});
    if let (Some(m), Some(obj)) = (msg_code, v.as_object_mut()) {
        obj.insert("msgCode".into(), json!(m));
    }
    Json(v).into_response()
}

/// An error whose reason is the msgCode's own text, optionally with a detail.
pub(super) fn coded(code: i64, msg_code: &str, detail: &str) -> Response {
    let text = msg_code_text(msg_code).unwrap_or("参数无效");
    let reason = if detail.is_empty() {
        text.to_string()
    } else {
        format!("{text}:{detail}")
    };
    juhe_error(code, &reason, Some(msg_code))
}

pub(super) fn success(result: Value) -> Response {
    Json(json!({"reason": "success", "result": result, "error_code": 0})).into_response()
}

/// Juhe's wrong-key answer, unless `key` is the configured one.
pub(super) fn key_refusal(sim: &Sim, p: &Params) -> Option<Response> {
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

pub(super) fn token(len: usize, alphabet: &[u8]) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}
