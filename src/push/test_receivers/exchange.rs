//! One request and its answer as every impersonation sees them: the request's parts, the
//! verdict (answer plus what the phone would show), and the checks several services share.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// A verdict: the answer, and for accepted pushes the title and text shown.
pub(super) struct Verdict {
    pub(super) status: StatusCode,
    pub(super) body: String,
    pub(super) content_type: &'static str,
    pub(super) extra_headers: Vec<(&'static str, String)>,
    pub(super) shown: Option<(String, String)>,
}

impl Verdict {
    pub(super) fn json(status: StatusCode, body: Value) -> Verdict {
        Verdict {
            status,
            body: body.to_string(),
            content_type: "application/json; charset=utf-8",
            extra_headers: Vec::new(),
            shown: None,
        }
    }

    pub(super) fn ok(body: Value, title: String, text: String) -> Verdict {
        Verdict {
            shown: Some((title, text)),
            ..Verdict::json(StatusCode::OK, body)
        }
    }

    pub(super) fn html(status: StatusCode, body: &str) -> Verdict {
        Verdict {
            status,
            body: body.to_string(),
            content_type: "text/html",
            extra_headers: Vec::new(),
            shown: None,
        }
    }
}

pub(super) const GATEWAY_502: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n";

pub(super) struct Req<'a> {
    pub(super) uri: &'a Uri,
    pub(super) headers: &'a HeaderMap,
    pub(super) body: &'a Bytes,
}

impl Req<'_> {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub(super) fn is_json(&self) -> bool {
        self.header("content-type")
            .is_some_and(|c| c.to_ascii_lowercase().starts_with("application/json"))
    }

    /// Query parameters decoded the way web servers do (`+` is a space).
    pub(super) fn query(&self) -> HashMap<String, String> {
        url::form_urlencoded::parse(self.uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect()
    }

    pub(super) fn json(&self) -> Option<Value> {
        serde_json::from_slice(self.body).ok()
    }

    /// The path segment after `prefix` (`/bark/` → key).
    pub(super) fn segment_after(&self, prefix: &str) -> &str {
        self.uri.path().strip_prefix(prefix).unwrap_or("")
    }
}

pub(super) fn str_field<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

pub(super) fn hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

/// Within an hour of the receiver's clock.
pub(super) fn fresh(ts_seconds: i64) -> bool {
    (chrono::Utc::now().timestamp() - ts_seconds).abs() <= 3600
}
