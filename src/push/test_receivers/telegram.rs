//! Telegram's Bot API `sendMessage`: the token, the chat, and the HTML parse mode parsed as
//! strictly as Telegram does.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::exchange::{Req, Verdict, str_field};
use super::state::{Failure, Inner, next_id};

pub(super) fn telegram(st: &Inner, req: &Req) -> Verdict {
    let bad = |desc: &str| {
        Verdict::json(
            StatusCode::BAD_REQUEST,
            json!({"ok": false, "error_code": 400, "description": format!("Bad Request: {desc}")}),
        )
    };
    let first = req
        .uri
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("");
    if first.strip_prefix("bot") != Some(st.config.telegram_token.as_str()) {
        return failure(Failure::BadKey);
    }
    let Some(j) = req.json().filter(|_| req.is_json()) else {
        return bad("message text is empty");
    };
    let chat = match j.get("chat_id") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return bad("chat_id is empty"),
    };
    if chat != st.config.telegram_chat {
        return bad("chat not found");
    }
    let Some(raw) = str_field(&j, "/text") else {
        return bad("message text is empty");
    };
    let shown = match j.get("parse_mode").and_then(Value::as_str) {
        None => raw.to_string(),
        Some("HTML") => match telegram_html(raw) {
            Ok(t) => t,
            Err(e) => return bad(&format!("can't parse entities: {e}")),
        },
        Some(other) => return bad(&format!("test receiver: yupiao sends HTML, not {other}")),
    };
    if shown.chars().count() > 4096 {
        return bad("message is too long");
    }
    let (title, text) = shown.split_once('\n').unwrap_or((&shown, ""));
    let id = next_id(st);
    let chat_id: Value = chat
        .parse::<i64>()
        .map(Value::from)
        .unwrap_or(Value::from(chat.clone()));
    Verdict::ok(
        json!({"ok": true, "result": {
            "message_id": id,
            "from": {"id": 123456, "is_bot": true, "first_name": "yupiao test", "username": "yupiao_test_bot"},
            "chat": {"id": chat_id, "type": "supergroup", "title": "yupiao"},
            "date": chrono::Utc::now().timestamp(),
            "text": shown,
        }}),
        title.into(),
        text.into(),
    )
}

/// The tags Telegram's HTML parse mode knows.
const TAGS: &[&str] = &[
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "tg-spoiler",
    "blockquote",
    "span",
];

/// Parses Telegram's HTML subset the way the Bot API does: only its tags, `<a href="…">`,
/// balanced, and only the four named entities (or numeric ones). Returns the text shown.
pub fn telegram_html(s: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut open: Vec<String> = Vec::new();
    let mut i = 0;
    let bytes = s.as_bytes();
    while i < s.len() {
        match bytes[i] {
            b'<' => i += tag(s, i, &mut open)?,
            b'&' => {
                let (c, len) = entity(s, i)?;
                out.push(c);
                i += len;
            }
            _ => {
                let c = s[i..].chars().next().expect("in bounds");
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    match open.pop() {
        Some(o) => Err(format!("Can't find end tag corresponding to start tag \"{o}\"")),
        None => Ok(out),
    }
}

/// The tag at byte `i` of `s`: a start tag is pushed on `open`, an end tag must close the last
/// one. Returns its length in bytes.
fn tag(s: &str, i: usize, open: &mut Vec<String>) -> Result<usize, String> {
    let end = s[i..]
        .find('>')
        .ok_or_else(|| format!("Unclosed start tag at byte offset {i}"))?;
    let tag = &s[i + 1..i + end];
    if let Some(name) = tag.strip_prefix('/') {
        match open.pop() {
            Some(o) if o == name.trim() => {}
            _ => return Err(format!("Unexpected end tag at byte offset {i}")),
        }
    } else {
        let name = tag.split_whitespace().next().unwrap_or("");
        if !TAGS.contains(&name) {
            return Err(format!("Unsupported start tag \"{name}\" at byte offset {i}"));
        }
        if name == "a" {
            let attrs = tag[1..].trim();
            let href = attrs
                .strip_prefix("href=\"")
                .and_then(|r| r.strip_suffix('"'))
                .ok_or_else(|| format!("Bad href at byte offset {i}"))?;
            if href.contains('"') || href.contains('<') {
                return Err(format!("Bad href at byte offset {i}"));
            }
        }
        open.push(name.to_string());
    }
    Ok(end + 1)
}

/// The entity at byte `i` of `s`: the character it stands for and its length in bytes.
fn entity(s: &str, i: usize) -> Result<(char, usize), String> {
    let end = s[i..]
        .find(';')
        .filter(|e| *e <= 10)
        .ok_or_else(|| format!("Can't find end of the entity starting at byte offset {i}"))?;
    let entity = &s[i + 1..i + end];
    let c = match entity {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        e if e.starts_with('#') => e[1..]
            .parse::<u32>()
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| format!("Unsupported entity at byte offset {i}"))?,
        _ => return Err(format!("Unsupported HTML entity at byte offset {i}")),
    };
    Ok((c, end + 1))
}

/// Telegram's answer in each failure (sources: `push::answer`).
pub(super) fn failure(failure: Failure) -> Verdict {
    match failure {
        Failure::BadKey => Verdict::json(
            StatusCode::UNAUTHORIZED,
            json!({"ok": false, "error_code": 401, "description": "Unauthorized"}),
        ),
        Failure::RateLimit => Verdict::json(
            StatusCode::TOO_MANY_REQUESTS,
            json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 1", "parameters": {"retry_after": 1}}),
        ),
        Failure::ServerError => Verdict::json(
            StatusCode::BAD_GATEWAY,
            json!({"ok": false, "error_code": 502, "description": "Bad Gateway"}),
        ),
        Failure::Hang => unreachable!("handled before"),
        Failure::BadSignature => unreachable!("telegram does not sign (refused by fail())"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telegram_html_accepts_its_subset_and_refuses_the_rest() {
        assert_eq!(
            telegram_html("<b>a &lt;b&gt; &amp; &quot;</b>\n<a href=\"https://x/?a=1&amp;b=2\">go</a>")
                .unwrap(),
            "a <b> & \"\ngo"
        );
        for bad in [
            "<b>x",
            "x</b>",
            "<script>x</script>",
            "a & b",
            "&nbsp;",
            "<a>x</a>",
            "<b><i>x</b></i>",
        ] {
            assert!(telegram_html(bad).is_err(), "{bad}");
        }
    }
}
