//! ntfy: a topic, an optional access token, the message as the body and the title, priority and
//! tags as headers (RFC 2047 encoded when not ASCII).

use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::json;

use super::exchange::{Req, Verdict};
use super::state::{Failure, Inner, next_id};

pub(super) fn ntfy(st: &Inner, req: &Req) -> Verdict {
    match accept(st, req) {
        Ok(verdict) | Err(verdict) => verdict,
    }
}

/// ntfy's error body.
fn error(status: StatusCode, code: u32, error: &str, link: &str) -> Verdict {
    Verdict::json(
        status,
        json!({"code": code, "http": status.as_u16(), "error": error, "link": link}),
    )
}

/// The checks in ntfy's order, then the message as ntfy echoes it.
fn accept(st: &Inner, req: &Req) -> Result<Verdict, Verdict> {
    let topic = topic(req)?;
    authorize(st, req)?;
    let priority = priority(req)?;
    let Ok(message) = std::str::from_utf8(req.body) else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            40011,
            "invalid message: message must be UTF-8 encoded",
            "",
        ));
    };
    let title = req
        .headers
        .get("title")
        .or_else(|| req.headers.get("x-title"))
        .map(|v| decode_rfc2047(&String::from_utf8_lossy(v.as_bytes())))
        .unwrap_or_default();
    let tags: Vec<&str> = req
        .header("tags")
        .map(|t| t.split(',').map(str::trim).filter(|t| !t.is_empty()).collect())
        .unwrap_or_default();
    let now = chrono::Utc::now().timestamp();
    let mut answer = json!({
        "id": format!("yp{:010}", next_id(st)),
        "time": now,
        "expires": now + 43_200,
        "event": "message",
        "topic": topic,
        "message": message,
        "priority": priority,
    });
    if !title.is_empty() {
        answer["title"] = json!(title);
    }
    if !tags.is_empty() {
        answer["tags"] = json!(tags);
    }
    if let Some(click) = req.header("click") {
        answer["click"] = json!(click);
    }
    Ok(Verdict::ok(answer, title, message.to_string()))
}

/// The topic from the path: 1 to 64 letters, digits, `-` or `_`.
fn topic<'a>(req: &'a Req) -> Result<&'a str, Verdict> {
    let topic = req.segment_after("/ntfy/");
    if topic.is_empty()
        || topic.len() > 64
        || !topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(error(
            StatusCode::BAD_REQUEST,
            40009,
            "invalid request: topic invalid",
            "",
        ));
    }
    Ok(topic)
}

/// A protected topic wants `Authorization: Bearer <token>`: none is a 403, a wrong one a 401.
fn authorize(st: &Inner, req: &Req) -> Result<(), Verdict> {
    let Some(token) = &st.config.ntfy_token else {
        return Ok(());
    };
    match req.header("authorization") {
        None => Err(failure(Failure::BadKey)),
        Some(a) if a != format!("Bearer {token}") => Err(error(
            StatusCode::UNAUTHORIZED,
            40101,
            "unauthorized",
            "https://ntfy.sh/docs/publish/#authentication",
        )),
        Some(_) => Ok(()),
    }
}

/// `Priority` (or `X-Priority`), by number or name; 3 when absent.
fn priority(req: &Req) -> Result<u8, Verdict> {
    let Some(p) = req.header("priority").or_else(|| req.header("x-priority")) else {
        return Ok(3);
    };
    match p.trim() {
        "1" | "min" => Ok(1),
        "2" | "low" => Ok(2),
        "3" | "default" => Ok(3),
        "4" | "high" => Ok(4),
        "5" | "max" | "urgent" => Ok(5),
        _ => Err(error(
            StatusCode::BAD_REQUEST,
            40007,
            "invalid priority parameter",
            "https://ntfy.sh/docs/publish/#message-priority",
        )),
    }
}

/// RFC 2047 decoding as ntfy does it (Go's `mime.WordDecoder.DecodeHeader`): encoded words are
/// decoded, whitespace between two of them dropped; anything else is kept as is.
pub fn decode_rfc2047(value: &str) -> String {
    let mut out = String::new();
    let mut last_was_word = false;
    let mut pending_space = String::new();
    for (i, part) in value.split(' ').enumerate() {
        let decoded = part
            .strip_prefix("=?")
            .and_then(|p| p.strip_suffix("?="))
            .and_then(|p| {
                let mut it = p.splitn(3, '?');
                let (charset, enc, text) = (it.next()?, it.next()?, it.next()?);
                if !charset.eq_ignore_ascii_case("utf-8") || !enc.eq_ignore_ascii_case("b") {
                    return None;
                }
                String::from_utf8(BASE64.decode(text).ok()?).ok()
            });
        match decoded {
            Some(d) => {
                if !last_was_word {
                    out.push_str(&pending_space);
                }
                out.push_str(&d);
                last_was_word = true;
            }
            None => {
                out.push_str(&pending_space);
                out.push_str(part);
                last_was_word = false;
            }
        }
        pending_space = if i == 0 || !part.is_empty() {
            " ".into()
        } else {
            String::new()
        };
    }
    out
}

/// ntfy's answer in each failure (sources: `push::answer`).
pub(super) fn failure(failure: Failure) -> Verdict {
    match failure {
        Failure::BadKey => Verdict::json(
            StatusCode::FORBIDDEN,
            json!({"code": 40301, "http": 403, "error": "forbidden", "link": "https://ntfy.sh/docs/publish/#authentication"}),
        ),
        Failure::RateLimit => Verdict::json(
            StatusCode::TOO_MANY_REQUESTS,
            json!({"code": 42901, "http": 429, "error": "limit reached: too many requests, please be nice", "link": "https://ntfy.sh/docs/publish/#limitations"}),
        ),
        Failure::ServerError => Verdict::json(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"code": 50001, "http": 500, "error": "internal server error"}),
        ),
        Failure::Hang => unreachable!("handled before"),
        Failure::BadSignature => unreachable!("ntfy does not sign (refused by fail())"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2047_words_are_decoded_and_joined_and_plain_text_is_kept() {
        let enc = format!(
            "=?UTF-8?B?{}?= =?UTF-8?B?{}?=",
            BASE64.encode("余票 G82"),
            BASE64.encode("94 二等座")
        );
        assert_eq!(decode_rfc2047(&enc), "余票 G8294 二等座");
        assert_eq!(decode_rfc2047("plain title here"), "plain title here");
        assert_eq!(
            decode_rfc2047(&format!("a =?utf-8?b?{}?= b", BASE64.encode("é"))),
            "a é b"
        );
    }
}
