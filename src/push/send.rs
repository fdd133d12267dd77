//! The only I/O of push: one HTTP exchange, bounded in time and in what it reads.
//!
//! [`send`] performs a [`PreparedRequest`] and returns the service's [`Answer`] (status, body,
//! `Retry-After`), or a [`PushError`] when no answer came. Neither ever shows the request URL:
//! for every push service the URL carries the key, so errors are stripped of it
//! (`reqwest::Error::without_url`) and only say what went wrong. Bodies are read up to
//! [`BODY_CAP`]: a service's verdict is a few hundred bytes, and a misconfigured URL may point at
//! something that streams forever.
//!
//! Latency matters (a push should reach the phone within seconds of the seats appearing), so
//! [`client`] sets `TCP_NODELAY`: a request written in two segments (headers, then body) must
//! not wait for the server's delayed ACK (Nagle's algorithm), which costs ~40 ms per request
//! on loopback.

use std::error::Error as _;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use secrecy::ExposeSecret;

use super::answer::{FailureClass, Hint, Outcome, Refusal, classify};
use super::channel::{ChannelKind, ChannelSpec};
use super::message::PushMessage;
use super::request::{PrepareError, PreparedRequest, prepare};

/// Most bytes of an answer that are read.
pub const BODY_CAP: usize = 64 * 1024;

/// How long one push may take, connection included, unless the caller says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// What the service answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// The body as text (lossy UTF-8), at most [`BODY_CAP`] bytes of it.
    pub body: String,
    /// The body was longer than [`BODY_CAP`] and was cut.
    pub truncated: bool,
    /// `Retry-After` in seconds, when the service sent one.
    pub retry_after: Option<Duration>,
}

impl Answer {
    /// What this answer means for a push of `kind`.
    pub fn outcome(&self, kind: ChannelKind) -> Outcome {
        classify(kind, self.status, &self.body, self.retry_after)
    }
}

/// No answer came. The messages never contain the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    #[error("no answer within {}s", .0.as_secs_f64())]
    Timeout(Duration),
    #[error("cannot connect to {host}: {detail}")]
    Connect { host: String, detail: String },
    #[error("the request to {host} failed: {detail}")]
    Request { host: String, detail: String },
    #[error("the answer from {host} could not be read: {detail}")]
    Body { host: String, detail: String },
}

impl PushError {
    /// Every transport failure may heal (the service comes back, the network returns).
    pub fn outcome(&self) -> Outcome {
        Outcome::Refused(Refusal {
            class: FailureClass::Transient,
            reason: self.to_string(),
            retry_after: None,
            hint: Hint::Unreachable,
        })
    }
}

/// The HTTP client for pushes: `TCP_NODELAY`, no redirects (a push service that redirects has
/// moved, and following a redirect would turn the POST into a GET), a connect timeout, and
/// yupiao's `User-Agent`.
pub fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("yupiao/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Performs `req` within `timeout` (connecting, sending and reading the answer).
pub async fn send(
    http: &reqwest::Client,
    req: &PreparedRequest,
    timeout: Duration,
) -> Result<Answer, PushError> {
    let host = req.redacted_url().trim_end_matches("/***").to_string();
    let mut builder = http
        .request(req.method.clone(), req.url().expose_secret())
        .timeout(timeout)
        .body(req.body.clone());
    for (name, value) in &req.headers {
        builder = builder.header(name, value);
    }
    let mut response = builder
        .send()
        .await
        .map_err(|e| transport_error(e, &host, timeout))?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let mut body = Vec::new();
    let mut truncated = false;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = BODY_CAP - body.len();
                if chunk.len() > room {
                    body.extend_from_slice(&chunk[..room]);
                    truncated = true;
                    break;
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) if e.is_timeout() => return Err(PushError::Timeout(timeout)),
            Err(e) => {
                return Err(PushError::Body {
                    host,
                    detail: causes(&e.without_url()),
                });
            }
        }
    }
    Ok(Answer {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
        truncated,
        retry_after,
    })
}

/// Prepares, sends and classifies one push: what the outbox sender and `test-notify` call.
/// `Err` only when the channel itself is misconfigured.
pub async fn push(
    http: &reqwest::Client,
    spec: &ChannelSpec,
    msg: &PushMessage,
    now: DateTime<FixedOffset>,
    timeout: Duration,
) -> Result<Outcome, PrepareError> {
    let req = prepare(spec, msg, now)?;
    let outcome = match send(http, &req, timeout).await {
        Ok(answer) => answer.outcome(spec.kind),
        Err(e) => e.outcome(),
    };
    Ok(outcome.scrubbed(&spec.credentials()))
}

fn transport_error(e: reqwest::Error, host: &str, timeout: Duration) -> PushError {
    if e.is_timeout() {
        return PushError::Timeout(timeout);
    }
    let connect = e.is_connect();
    let detail = causes(&e.without_url());
    if connect {
        PushError::Connect {
            host: host.to_string(),
            detail,
        }
    } else {
        PushError::Request {
            host: host.to_string(),
            detail,
        }
    }
}

/// The error and its causes, `: `-joined (`error sending request: tcp connect error: Connection
/// refused`). reqwest puts the URL only in its own `Display`, which `without_url` removes.
fn causes(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
