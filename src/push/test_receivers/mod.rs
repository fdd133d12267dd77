//! One loopback HTTP server that impersonates every push service, for tests.
//!
//! Push code is only trustworthy once something that behaves like the real service has taken
//! (and refused) what it sends, so the tests run the real client against this server instead of
//! a mock. It lives outside `cfg(test)` (like `notify::smtp_test_server`) so the end-to-end tests
//! in `tests/` can start one next to the `yupiao` binary; production code has no use for it.
//!
//! Each service lives at its real path (the host is the only difference from production):
//!
//! | kind | path | credential checked |
//! | --- | --- | --- |
//! | bark | `POST /bark/push` (and `/bark/{key}`) | `device_key` |
//! | serverchan | `POST /{SendKey}.send` | SendKey |
//! | pushplus | `POST /send` | `token` |
//! | wecom | `POST /cgi-bin/webhook/send?key=…` | `key` |
//! | dingtalk | `POST /robot/send?access_token=…&timestamp=…&sign=…` | token, signature, freshness |
//! | feishu | `POST /open-apis/bot/v2/hook/{id}` | id, body `timestamp` + `sign`, freshness |
//! | telegram | `POST /bot{TOKEN}/sendMessage` | token, `chat_id`, HTML entities |
//! | ntfy | `POST /ntfy/{topic}` | `Authorization: Bearer` when a token is set |
//! | webhook | `POST /hook` | `X-Yupiao-Signature`, `Idempotency-Key` |
//!
//! Like the real services it **verifies** what it gets — credentials, signatures computed here
//! independently from the configured secret (DingTalk and Feishu also refuse timestamps more
//! than an hour from now), content types, required fields and size limits — and answers with
//! the service's own success or error body (sources in `push::answer`; an answer marked
//! `test receiver:` is a check of yupiao's contract that the real service would not make, e.g.
//! Bark accepts a push without a body and shows "NoContent"). Every request is recorded, with
//! whether it was accepted and the title and text it carried.
//!
//! Failures are switched per kind with [`TestReceivers::fail`]: a bad key, a bad signature, a
//! rate limit, a server error (each answered with that service's real error body) or a hang
//! (no answer until the client gives up). [`TestReceivers::stop`] closes the port (connection
//! refused) and [`TestReceivers::restart`] opens the same port again.
//!
//! Here: the server (start, stop, the log, the failure switches) and the dispatch to the
//! impersonations: `relays` (Bark, ServerChan, PushPlus), `robots` (WeCom, DingTalk and Feishu
//! group robots), `telegram`, `ntfy` and `webhook`. `state` holds what the receivers know,
//! `exchange` what every impersonation reads a request with and answers in.

mod exchange;
mod ntfy;
mod relays;
mod robots;
mod state;
mod telegram;
mod webhook;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use secrecy::SecretString;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::channel::{ChannelKind, ChannelSpec};
use exchange::{Req, Verdict};
pub use ntfy::decode_rfc2047;
pub use state::{Failure, Received, ReceiverConfig};
use state::{Inner, lock};
pub use telegram::telegram_html;

struct Running {
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

/// The running receivers; stopped on drop.
pub struct TestReceivers {
    addr: SocketAddr,
    inner: Arc<Inner>,
    running: Mutex<Option<Running>>,
}

impl TestReceivers {
    /// Starts on a free loopback port with [`ReceiverConfig::default`].
    pub async fn start() -> anyhow::Result<TestReceivers> {
        TestReceivers::start_with(ReceiverConfig::default()).await
    }

    pub async fn start_with(config: ReceiverConfig) -> anyhow::Result<TestReceivers> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("cannot bind the test receivers to a loopback port")?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Inner::new(config));
        let receivers = TestReceivers {
            addr,
            inner,
            running: Mutex::new(None),
        };
        receivers.serve(listener);
        Ok(receivers)
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let cancel = CancellationToken::new();
        *lock(&self.inner.shutdown) = cancel.clone();
        let app = router(self.inner.clone());
        let stop = cancel.clone();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
        });
        *lock(&self.running) = Some(Running { cancel, task });
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn config(&self) -> &ReceiverConfig {
        &self.inner.config
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The URL a user would put in `url = "…"` for this kind (`None` for pushplus: its URL is the
    /// fixed endpoint, given here too so the test can point at the receiver).
    pub fn url(&self, kind: ChannelKind) -> String {
        let c = &self.inner.config;
        let base = self.base_url();
        match kind {
            ChannelKind::Bark => format!("{base}/bark/{}", c.bark_key),
            ChannelKind::ServerChan => format!("{base}/{}.send", c.serverchan_key),
            ChannelKind::PushPlus => format!("{base}/send"),
            ChannelKind::WeCom => format!("{base}/cgi-bin/webhook/send?key={}", c.wecom_key),
            ChannelKind::DingTalk => format!("{base}/robot/send?access_token={}", c.dingtalk_token),
            ChannelKind::Feishu => format!("{base}/open-apis/bot/v2/hook/{}", c.feishu_hook),
            ChannelKind::Telegram => format!("{base}/bot{}", c.telegram_token),
            ChannelKind::Ntfy => format!("{base}/ntfy/{}", c.ntfy_topic),
            ChannelKind::Webhook => format!("{base}/hook"),
        }
    }

    /// A complete, valid channel for this kind, named `name`, pointing at the receiver.
    pub fn spec(&self, kind: ChannelKind, name: &str) -> ChannelSpec {
        let c = &self.inner.config;
        let s = |v: &str| Some(SecretString::from(v.to_string()));
        let mut spec = ChannelSpec::new(name, kind, s(&self.url(kind)));
        match kind {
            ChannelKind::PushPlus => spec.token = s(&c.pushplus_token),
            ChannelKind::DingTalk => spec.secret = c.dingtalk_secret.as_deref().and_then(s),
            ChannelKind::Feishu => spec.secret = c.feishu_secret.as_deref().and_then(s),
            ChannelKind::Telegram => spec.chat_id = Some(c.telegram_chat.clone()),
            ChannelKind::Ntfy => spec.token = c.ntfy_token.as_deref().and_then(s),
            ChannelKind::Webhook => spec.secret = c.webhook_secret.as_deref().and_then(s),
            _ => {}
        }
        spec
    }

    /// From now on, answer every request of `kind` with `failure`.
    ///
    /// # Panics
    /// On [`Failure::BadSignature`] for a kind that does not sign.
    pub fn fail(&self, kind: ChannelKind, failure: Failure) {
        assert!(
            failure != Failure::BadSignature
                || matches!(
                    kind,
                    ChannelKind::DingTalk | ChannelKind::Feishu | ChannelKind::Webhook
                ),
            "{kind} requests are not signed"
        );
        lock(&self.inner.failures).insert(kind, failure);
    }

    /// Back to normal for `kind`.
    pub fn heal(&self, kind: ChannelKind) {
        lock(&self.inner.failures).remove(&kind);
    }

    /// Every request of `kind` so far, refused ones included, oldest first.
    pub fn requests(&self, kind: ChannelKind) -> Vec<Received> {
        lock(&self.inner.log)
            .iter()
            .filter(|r| r.kind == kind)
            .cloned()
            .collect()
    }

    /// The accepted requests of `kind`, oldest first.
    pub fn accepted(&self, kind: ChannelKind) -> Vec<Received> {
        lock(&self.inner.log)
            .iter()
            .filter(|r| r.kind == kind && r.accepted)
            .cloned()
            .collect()
    }

    /// Every request of every kind.
    pub fn all(&self) -> Vec<Received> {
        lock(&self.inner.log).clone()
    }

    /// Closes the port: connections are refused until [`TestReceivers::restart`]. Hanging
    /// requests are answered 503 first.
    pub async fn stop(&self) {
        let running = lock(&self.running).take();
        if let Some(r) = running {
            r.cancel.cancel();
            let _ = r.task.await;
        }
    }

    /// Listens on the same port again, with the same configuration, failures and log.
    pub async fn restart(&self) -> anyhow::Result<()> {
        self.stop().await;
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .with_context(|| format!("cannot listen on {} again", self.addr))?;
        self.serve(listener);
        Ok(())
    }
}

impl Drop for TestReceivers {
    fn drop(&mut self) {
        if let Some(r) = lock(&self.running).take() {
            r.cancel.cancel();
            r.task.abort();
        }
    }
}

fn router(inner: Arc<Inner>) -> Router {
    let route = |kind: ChannelKind| {
        post(
            move |State(st): State<Arc<Inner>>, uri: Uri, headers: HeaderMap, body: Bytes| async move {
                handle(st, kind, uri, headers, body).await
            },
        )
    };
    Router::new()
        .route("/bark/push", route(ChannelKind::Bark))
        .route("/bark/{key}", route(ChannelKind::Bark))
        .route("/send", route(ChannelKind::PushPlus))
        .route("/hook", route(ChannelKind::Webhook))
        .route("/cgi-bin/webhook/send", route(ChannelKind::WeCom))
        .route("/robot/send", route(ChannelKind::DingTalk))
        .route("/open-apis/bot/v2/hook/{id}", route(ChannelKind::Feishu))
        .route("/ntfy/{topic}", route(ChannelKind::Ntfy))
        .route("/{bot}/sendMessage", route(ChannelKind::Telegram))
        .route("/{file}", route(ChannelKind::ServerChan))
        .with_state(inner)
}

async fn handle(st: Arc<Inner>, kind: ChannelKind, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let failure = lock(&st.failures).get(&kind).copied();
    let verdict = if failure == Some(Failure::Hang) {
        let stop = lock(&st.shutdown).clone();
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = tokio::time::sleep(Duration::from_secs(600)) => {}
        }
        Verdict::html(StatusCode::SERVICE_UNAVAILABLE, "stopped")
    } else if let Some(f) = failure {
        failure_answer(kind, f, &st.config)
    } else {
        let req = Req {
            uri: &uri,
            headers: &headers,
            body: &body,
        };
        match kind {
            ChannelKind::Bark => relays::bark(&st, &req),
            ChannelKind::ServerChan => relays::serverchan(&st, &req),
            ChannelKind::PushPlus => relays::pushplus(&st, &req),
            ChannelKind::WeCom => robots::wecom(&st, &req),
            ChannelKind::DingTalk => robots::dingtalk(&st, &req),
            ChannelKind::Feishu => robots::feishu(&st, &req),
            ChannelKind::Telegram => telegram::telegram(&st, &req),
            ChannelKind::Ntfy => ntfy::ntfy(&st, &req),
            ChannelKind::Webhook => webhook::webhook(&st, &req),
        }
    };
    let (title, text) = verdict.shown.clone().unwrap_or_default();
    lock(&st.log).push(Received {
        at: std::time::SystemTime::now(),
        kind,
        path: uri.path().to_string(),
        query: uri.query().map(str::to_string),
        headers: headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
        accepted: verdict.shown.is_some(),
        status: verdict.status.as_u16(),
        title,
        text,
    });
    let mut response = (
        verdict.status,
        [(header::CONTENT_TYPE, verdict.content_type)],
        verdict.body,
    )
        .into_response();
    for (name, value) in verdict.extra_headers {
        if let Ok(v) = value.parse() {
            response.headers_mut().insert(name, v);
        }
    }
    response
}

/// The answer each service gives in each failure (sources: `push::answer`).
fn failure_answer(kind: ChannelKind, failure: Failure, c: &ReceiverConfig) -> Verdict {
    use ChannelKind as K;
    match kind {
        K::Bark | K::ServerChan | K::PushPlus => relays::failure(kind, failure, c),
        K::WeCom | K::DingTalk | K::Feishu => robots::failure(kind, failure),
        K::Telegram => telegram::failure(failure),
        K::Ntfy => ntfy::failure(failure),
        K::Webhook => webhook::failure(failure),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_valid_spec_pointing_at_the_receiver() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let r = TestReceivers::start().await.unwrap();
            for kind in ChannelKind::ALL {
                let spec = r.spec(kind, "t");
                assert_eq!(spec.validate(), Ok(()), "{kind}");
                assert!(spec.redacted_url().starts_with(&r.base_url()), "{kind}");
            }
        });
    }
}
