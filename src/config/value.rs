//! One settings value checked by its [`Kind`], as text from the file or the environment, and
//! turned into what serde reads. Messages name the key and say what to write; they never
//! contain a secret's value.

use std::time::Duration;

use serde_json::Value as Json;

use super::schema::Kind;
use crate::clock::TimeWindow;
use crate::diagnostic::nearest_key;

pub(super) fn in_range(key: &str, n: i64, min: i64, max: i64) -> Result<Json, String> {
    if (min..=max).contains(&n) {
        return Ok(Json::from(n));
    }
    let why = match key {
        "presale_days" => " (12306 sells 15 days ahead)",
        "ticket_model" => " (0 代购 with Juhe's account, 1 自购 with your 12306 account)",
        "max_connections" => " (each is a file descriptor; pushes come a few a day)",
        _ => "",
    };
    Err(format!("{key} = {n} must be between {min} and {max}{why}"))
}

/// Checks a string value of `kind` (from the file or the environment) and returns it as serde
/// will read it. Messages never contain a secret's value.
pub(super) fn check_text(key: &str, kind: Kind, s: &str) -> Result<Json, String> {
    let text = Json::String(s.to_string());
    match kind {
        Kind::Text | Kind::Secret | Kind::LiveSecret | Kind::Path => Ok(text),
        Kind::Duration => parse_duration(s).map(|_| text).map_err(|e| {
            format!("{key} = {s:?} is not a duration ({e}); write e.g. \"3s\", \"10m\", \"1h\"")
        }),
        Kind::Url => match url::Url::parse(s.trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(text),
            Ok(_) => Err(format!("{key} = {s:?} must be an http:// or https:// URL")),
            Err(e) => Err(format!(
                "{key} = {s:?} is not a URL ({e}); write it with its scheme, e.g. \"https://kyfw.12306.cn\""
            )),
        },
        Kind::Choice(allowed) => {
            if allowed.contains(&s) {
                Ok(text)
            } else {
                let lower = s.trim().to_ascii_lowercase();
                let near = allowed
                    .iter()
                    .find(|a| **a == lower)
                    .copied()
                    .or_else(|| nearest_key(&lower, allowed))
                    .map(|a| format!("; did you mean \"{a}\"?"))
                    .unwrap_or_default();
                Err(format!(
                    "{key} = {s:?} is not allowed (allowed: {}){near}",
                    allowed.join(", ")
                ))
            }
        }
        Kind::Mailbox => check_list_item(key, kind, s).map(Json::String),
        Kind::Listen => s
            .trim()
            .parse::<std::net::SocketAddr>()
            .map(|a| Json::String(a.to_string()))
            .map_err(|_| {
                format!("{key} = {s:?} is not an address to listen on; write e.g. \"127.0.0.1:8787\"")
            }),
        Kind::Window => {
            if parse_window(s).is_some() {
                Ok(text)
            } else {
                Err(format!(
                    "{key} = {s:?} must look like \"01:00-05:00\" (Beijing time)"
                ))
            }
        }
        Kind::Bool | Kind::Int { .. } | Kind::Texts | Kind::Mailboxes => Ok(text),
    }
}

/// One element of a list value (an address of `email.to`, a phrase).
pub(super) fn check_list_item(key: &str, kind: Kind, s: &str) -> Result<String, String> {
    match kind {
        Kind::Mailbox | Kind::Mailboxes => match s.parse::<lettre::message::Mailbox>() {
            Ok(_) => Ok(s.to_string()),
            Err(_) => Err(format!(
                "{key}: {s:?} is not an email address; write e.g. \"me@example.com\" or \"Me <me@example.com>\""
            )),
        },
        _ => Ok(s.to_string()),
    }
}

/// `"3s"`, `"10m"`, `"1h 30m"` (humantime) or a bare number of seconds.
pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse().map(Duration::from_secs).map_err(|e| e.to_string());
    }
    humantime::parse_duration(t).map_err(|e| e.to_string())
}

/// `HH:MM-HH:MM` (Beijing time), as `[daemon] night_window` is written: the one parser behind both
/// the check and the typed field.
pub(super) fn parse_window(s: &str) -> Option<TimeWindow> {
    let t = |s: &str| chrono::NaiveTime::parse_from_str(s.trim(), "%H:%M").ok();
    let (a, b) = s.split_once('-')?;
    Some(TimeWindow {
        start: t(a)?,
        end: t(b)?,
    })
}
