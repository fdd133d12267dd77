//! What can only be judged once every value is read: secrets read from their `<key>_file`
//! (both set is an error), and the checks across keys (backoff bounds, a fast `min_interval`, an
//! SMTP transport without a host).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value as Json;

use super::loader::{Entry, Loader, Origin};
use super::schema::{Kind, SCHEMA};
use super::value::parse_duration;

/// Below this, 12306 treats a client as a scraper.
pub const SAFE_MIN_INTERVAL: Duration = Duration::from_secs(3);

/// Replaces each `<secret>_file` by the file's trimmed content (except the live cookie file).
pub(super) fn secret_files(loader: &mut Loader) {
    for sec in SCHEMA {
        for spec in sec.keys.iter().filter(|k| k.kind.is_secret()) {
            let file_key = format!("{}_file", spec.name);
            let Some(file_entry) = loader.entry(sec.name, &file_key).cloned() else {
                continue;
            };
            if let Some(direct) = loader.entry(sec.name, spec.name).cloned() {
                let other = loader.place(&direct.origin);
                loader.error(
                    &file_entry.origin,
                    format!(
                        "{}.{file_key} and {}.{} are both set (the other at {other}): keep one",
                        sec.name, sec.name, spec.name
                    ),
                );
                continue;
            }
            let path = PathBuf::from(file_entry.value.as_str().unwrap_or_default());
            if spec.kind == Kind::LiveSecret {
                // Read at every use; `check` and the poller say when it cannot be read.
                continue;
            }
            loader.values.remove(&(sec.name, file_key.clone()));
            match std::fs::read_to_string(&path) {
                Ok(content) if content.trim().is_empty() => loader.error(
                    &file_entry.origin,
                    format!(
                        "{file_key}: {} is empty; put the {} in it, or remove {file_key}",
                        path.display(),
                        spec.name
                    ),
                ),
                Ok(content) => {
                    loader.values.insert(
                        (sec.name, spec.name.to_string()),
                        Entry {
                            value: Json::String(content.trim().to_string()),
                            origin: file_entry.origin.clone(),
                        },
                    );
                }
                Err(e) => loader.error(
                    &file_entry.origin,
                    format!(
                        "{file_key}: {}",
                        crate::diagnostic::unreadable(&path, "the file", &e)
                    ),
                ),
            }
        }
    }
}

/// Checks that involve more than one key (or a value and a limit), in a fixed order: problems
/// from the environment are listed in the order found.
pub(super) fn cross_checks(loader: &mut Loader) {
    backoff_bounds(loader);
    fast_min_interval(loader);
    zero_idle_timeout(loader);
    smtp_needs_a_host(loader);
    web_token_rule(loader);
}

/// A duration as read (seconds or text) and where it was written.
fn duration_of(loader: &Loader, sec: &str, key: &str) -> Option<(Duration, Origin)> {
    let e = loader.entry(sec, key)?;
    let d = match &e.value {
        Json::Number(n) => Duration::from_secs(n.as_u64()?),
        Json::String(s) => parse_duration(s).ok()?,
        _ => return None,
    };
    Some((d, e.origin.clone()))
}

fn backoff_bounds(loader: &mut Loader) {
    let defaults = super::Daemon::default();
    let start = duration_of(loader, "daemon", "backoff_start");
    let max = duration_of(loader, "daemon", "backoff_max");
    let (start_d, max_d) = (
        start.as_ref().map_or(defaults.backoff_start, |s| s.0),
        max.as_ref().map_or(defaults.backoff_max, |m| m.0),
    );
    if start_d > max_d {
        let origin = start.or(max).map(|(_, o)| o);
        if let Some(o) = origin {
            loader.error(
                &o,
                format!(
                    "backoff_start ({}) must not exceed backoff_max ({})",
                    humantime::format_duration(start_d),
                    humantime::format_duration(max_d)
                ),
            );
        }
    }
}

fn fast_min_interval(loader: &mut Loader) {
    if let Some((d, origin)) = duration_of(loader, "upstream", "min_interval")
        && d < SAFE_MIN_INTERVAL
    {
        loader.warning(
            &origin,
            format!(
                "min_interval = {} is below {}: 12306 throttles fast clients (302 redirects to its \
                 error page, then a ban of the whole address for minutes to hours); keep it at 3s \
                 or more outside tests",
                humantime::format_duration(d),
                humantime::format_duration(SAFE_MIN_INTERVAL)
            ),
        );
    }
}

fn zero_idle_timeout(loader: &mut Loader) {
    if let Some((d, origin)) = duration_of(loader, "callback", "idle_timeout")
        && d.is_zero()
    {
        loader.error(
            &origin,
            "idle_timeout must be more than 0s: the push receiver would close every connection \
             before reading it (the default is \"10s\")"
                .into(),
        );
    }
}

fn smtp_needs_a_host(loader: &mut Loader) {
    let smtp = loader
        .entry("email", "transport")
        .filter(|e| e.value == "smtp")
        .map(|e| e.origin.clone());
    if let Some(origin) = smtp {
        let host = loader.entry("email", "host").cloned();
        if host
            .as_ref()
            .is_some_and(|h| h.value.as_str().is_some_and(|s| s.trim().is_empty()))
        {
            let at = host.map_or(origin, |h| h.origin);
            loader.error(&at, "host is required when email.transport = \"smtp\"".into());
        }
    }
}

/// The status page beyond loopback needs `[web] token`, and any token set must be long
/// ([`crate::web::listen::check_listen`] is the rule; the daemon applies it again at bind).
fn web_token_rule(loader: &mut Loader) {
    let Some(listen) = loader.entry("web", "listen").cloned() else {
        return;
    };
    let Some(addr) = listen
        .value
        .as_str()
        .and_then(|s| s.parse::<std::net::SocketAddr>().ok())
    else {
        return;
    };
    let token = loader.entry("web", "token").cloned();
    let secret = token
        .as_ref()
        .and_then(|t| t.value.as_str())
        .map(|t| secrecy::SecretString::from(t.to_string()));
    if let Err(e) = crate::web::listen::check_listen(&addr, secret.as_ref()) {
        // A short token is blamed where it was written (never showing it); a missing one on
        // the address that needs it.
        let at = match (&e, token) {
            (crate::web::listen::WebError::TokenTooShort, Some(t)) => t.origin,
            _ => listen.origin,
        };
        loader.error(&at, e.to_string());
    }
}
