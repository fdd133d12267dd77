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
//! the service's own success or error body (sources in `answer.rs`; an answer marked
//! `test receiver:` is a check of yupiao's contract that the real service would not make, e.g.
//! Bark accepts a push without a body and shows "NoContent"). Every request is recorded, with
//! whether it was accepted and the title and text it carried.
//!
//! Failures are switched per kind with [`TestReceivers::fail`]: a bad key, a bad signature, a
//! rate limit, a server error (each answered with that service's real error body) or a hang
//! (no answer until the client gives up). [`TestReceivers::stop`] closes the port (connection
//! refused) and [`TestReceivers::restart`] opens the same port again.

use std::collections::{HashMap, HashSet};
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
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use secrecy::SecretString;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::channel::{ChannelKind, ChannelSpec};

/// The credentials the receivers accept. The defaults are distinctive strings, so a test can
/// grep logs for them and prove they never leak.
#[derive(Debug, Clone)]
pub struct ReceiverConfig {
    pub bark_key: String,
    pub serverchan_key: String,
    pub pushplus_token: String,
    pub wecom_key: String,
    pub dingtalk_token: String,
    /// `None`: the robot has no 加签 (unsigned requests are accepted).
    pub dingtalk_secret: Option<String>,
    pub feishu_hook: String,
    pub feishu_secret: Option<String>,
    pub telegram_token: String,
    pub telegram_chat: String,
    pub ntfy_topic: String,
    /// `Some`: the topic is protected and needs `Authorization: Bearer <token>`.
    pub ntfy_token: Option<String>,
    pub webhook_secret: Option<String>,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        ReceiverConfig {
            bark_key: "barkKeyQ7w3e9LeakCanary".into(),
            serverchan_key: "SCT271828TsckeyLeakCanary".into(),
            pushplus_token: "ppTokenLeakCanary0c9d8e7f".into(),
            wecom_key: "wecom-key-leak-canary-5f4e3d".into(),
            dingtalk_token: "dtTokenLeakCanary6a5b4c".into(),
            dingtalk_secret: Some("SECdtSecretLeakCanary0123456789abcdef".into()),
            feishu_hook: "fs-hook-leak-canary-9a8b7c".into(),
            feishu_secret: Some("fsSecretLeakCanary42".into()),
            telegram_token: "123456:tgTokenLeakCanary-Zz".into(),
            telegram_chat: "-1001234567890".into(),
            ntfy_topic: "yupiao_ntfy_LeakCanary".into(),
            ntfy_token: Some("tk_ntfyLeakCanary777".into()),
            webhook_secret: Some("webhookSecretLeakCanary".into()),
        }
    }
}

impl ReceiverConfig {
    /// Every secret value, for leak checks.
    pub fn secrets(&self) -> Vec<String> {
        let mut all = vec![
            self.bark_key.clone(),
            self.serverchan_key.clone(),
            self.pushplus_token.clone(),
            self.wecom_key.clone(),
            self.dingtalk_token.clone(),
            self.feishu_hook.clone(),
            self.telegram_token.clone(),
            self.ntfy_topic.clone(),
        ];
        all.extend(
            [
                &self.dingtalk_secret,
                &self.feishu_secret,
                &self.ntfy_token,
                &self.webhook_secret,
            ]
            .into_iter()
            .flatten()
            .cloned(),
        );
        all
    }
}

/// How a receiver misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The key / token / webhook URL is unknown (revoked, mistyped).
    BadKey,
    /// The signature is refused (only for kinds that sign: dingtalk, feishu, webhook).
    BadSignature,
    /// The service is rate limiting.
    RateLimit,
    /// The service fails on its side.
    ServerError,
    /// No answer at all until the client gives up (or the server stops).
    Hang,
}

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub kind: ChannelKind,
    pub path: String,
    pub query: Option<String>,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Taken (a success answer was sent).
    pub accepted: bool,
    /// The HTTP status answered.
    pub status: u16,
    /// The title and text the push carried, as the phone would show them (HTML and RFC 2047
    /// decoded); empty when the request was refused before they were read.
    pub title: String,
    pub text: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

struct Inner {
    config: ReceiverConfig,
    failures: Mutex<HashMap<ChannelKind, Failure>>,
    log: Mutex<Vec<Received>>,
    webhook_keys: Mutex<HashSet<String>>,
    next_id: Mutex<u64>,
    /// Cancelled when the server stops: hanging handlers give up then.
    shutdown: Mutex<CancellationToken>,
}

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
        let inner = Arc::new(Inner {
            config,
            failures: Mutex::new(HashMap::new()),
            log: Mutex::new(Vec::new()),
            webhook_keys: Mutex::new(HashSet::new()),
            next_id: Mutex::new(1),
            shutdown: Mutex::new(CancellationToken::new()),
        });
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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

/// A verdict: the answer, and for accepted pushes the title and text shown.
struct Verdict {
    status: StatusCode,
    body: String,
    content_type: &'static str,
    extra_headers: Vec<(&'static str, String)>,
    shown: Option<(String, String)>,
}

impl Verdict {
    fn json(status: StatusCode, body: Value) -> Verdict {
        Verdict {
            status,
            body: body.to_string(),
            content_type: "application/json; charset=utf-8",
            extra_headers: Vec::new(),
            shown: None,
        }
    }

    fn ok(body: Value, title: String, text: String) -> Verdict {
        Verdict {
            shown: Some((title, text)),
            ..Verdict::json(StatusCode::OK, body)
        }
    }

    fn html(status: StatusCode, body: &str) -> Verdict {
        Verdict {
            status,
            body: body.to_string(),
            content_type: "text/html",
            extra_headers: Vec::new(),
            shown: None,
        }
    }
}

const GATEWAY_502: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n";

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
            ChannelKind::Bark => bark(&st, &req),
            ChannelKind::ServerChan => serverchan(&st, &req),
            ChannelKind::PushPlus => pushplus(&st, &req),
            ChannelKind::WeCom => wecom(&st, &req),
            ChannelKind::DingTalk => dingtalk(&st, &req),
            ChannelKind::Feishu => feishu(&st, &req),
            ChannelKind::Telegram => telegram(&st, &req),
            ChannelKind::Ntfy => ntfy(&st, &req),
            ChannelKind::Webhook => webhook(&st, &req),
        }
    };
    let (title, text) = verdict.shown.clone().unwrap_or_default();
    lock(&st.log).push(Received {
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

/// The answer each service gives in each failure (sources: `answer.rs`).
fn failure_answer(kind: ChannelKind, failure: Failure, c: &ReceiverConfig) -> Verdict {
    use ChannelKind as K;
    use Failure as F;
    let ts = chrono::Utc::now().timestamp();
    let ok = StatusCode::OK;
    match (kind, failure) {
        (_, F::Hang) => unreachable!("handled before"),
        (K::Bark, F::BadKey) => Verdict::json(
            StatusCode::BAD_REQUEST,
            json!({"code": 400, "message": format!("failed to get device token: failed to get [{}] device token from database", c.bark_key), "timestamp": ts}),
        ),
        // Bark documents no rate limit; a plain 429 is what a proxy in front of it answers.
        (K::Bark, F::RateLimit) => Verdict::json(
            StatusCode::TOO_MANY_REQUESTS,
            json!({"code": 429, "message": "too many requests", "timestamp": ts}),
        ),
        (K::Bark, F::ServerError) => Verdict::json(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"code": 500, "message": "push failed: Post \"https://api.push.apple.com/3/device/\": EOF", "timestamp": ts}),
        ),
        (K::ServerChan, F::BadKey) => Verdict::json(
            StatusCode::BAD_REQUEST,
            json!({"message": "[AUTH]用户不存在或者权限不足", "code": 40001, "info": "用户不存在或者权限不足", "args": [null]}),
        ),
        (K::ServerChan, F::RateLimit) => Verdict::json(
            StatusCode::BAD_REQUEST,
            json!({"message": "[AUTH]超过当天的发送次数限制[5]，请稍后再试", "code": 40001, "info": "超过当天的发送次数限制[5]，请稍后再试", "args": [null]}),
        ),
        (K::ServerChan | K::Feishu, F::ServerError) => Verdict::html(StatusCode::BAD_GATEWAY, GATEWAY_502),
        (K::PushPlus, F::BadKey) => {
            Verdict::json(ok, json!({"code": 903, "msg": "无效的用户令牌", "data": null}))
        }
        (K::PushPlus, F::RateLimit) => {
            Verdict::json(ok, json!({"code": 900, "msg": "用户账号使用受限", "data": null}))
        }
        (K::PushPlus, F::ServerError) => Verdict::json(
            ok,
            json!({"code": 500, "msg": "系统异常,请稍后再试", "data": null}),
        ),
        (K::WeCom, F::BadKey) => Verdict::json(
            ok,
            json!({"errcode": 93000, "errmsg": "invalid webhook url, hint: [1764811805016271532898421], from ip: 127.0.0.1, more info at https://open.work.weixin.qq.com/devtool/query?e=93000"}),
        ),
        (K::WeCom, F::RateLimit) => Verdict::json(
            ok,
            json!({"errcode": 45009, "errmsg": "api freq out of limit, hint: [1764811805016271532898422], from ip: 127.0.0.1, more info at https://open.work.weixin.qq.com/devtool/query?e=45009"}),
        ),
        (K::WeCom, F::ServerError) => Verdict::json(ok, json!({"errcode": -1, "errmsg": "system busy"})),
        (K::DingTalk, F::BadKey) => {
            Verdict::json(ok, json!({"errcode": 300005, "errmsg": "token is not exist"}))
        }
        (K::DingTalk, F::BadSignature) => {
            Verdict::json(ok, json!({"errcode": 310000, "errmsg": "sign not match"}))
        }
        (K::DingTalk, F::RateLimit) => Verdict::json(
            ok,
            json!({"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}),
        ),
        (K::DingTalk, F::ServerError) => Verdict::json(ok, json!({"errcode": -1, "errmsg": "系统繁忙"})),
        (K::Feishu, F::BadKey) => Verdict::json(
            ok,
            json!({"code": 19001, "data": {}, "msg": "param invalid: incoming webhook access token invalid"}),
        ),
        (K::Feishu, F::BadSignature) => Verdict::json(
            ok,
            json!({"code": 19021, "data": {}, "msg": "sign match fail or timestamp is not within one hour from current time"}),
        ),
        (K::Feishu, F::RateLimit) => Verdict::json(
            ok,
            json!({"code": 11232, "data": {}, "msg": "frequency limited psm[lark.oapi.app_platform_runtime]appID[1]"}),
        ),
        (K::Telegram, F::BadKey) => Verdict::json(
            StatusCode::UNAUTHORIZED,
            json!({"ok": false, "error_code": 401, "description": "Unauthorized"}),
        ),
        (K::Telegram, F::RateLimit) => Verdict::json(
            StatusCode::TOO_MANY_REQUESTS,
            json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 1", "parameters": {"retry_after": 1}}),
        ),
        (K::Telegram, F::ServerError) => Verdict::json(
            StatusCode::BAD_GATEWAY,
            json!({"ok": false, "error_code": 502, "description": "Bad Gateway"}),
        ),
        (K::Ntfy, F::BadKey) => Verdict::json(
            StatusCode::FORBIDDEN,
            json!({"code": 40301, "http": 403, "error": "forbidden", "link": "https://ntfy.sh/docs/publish/#authentication"}),
        ),
        (K::Ntfy, F::RateLimit) => Verdict::json(
            StatusCode::TOO_MANY_REQUESTS,
            json!({"code": 42901, "http": 429, "error": "limit reached: too many requests, please be nice", "link": "https://ntfy.sh/docs/publish/#limitations"}),
        ),
        (K::Ntfy, F::ServerError) => Verdict::json(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"code": 50001, "http": 500, "error": "internal server error"}),
        ),
        (K::Webhook, F::BadKey) => Verdict::json(StatusCode::UNAUTHORIZED, json!({"error": "unauthorized"})),
        (K::Webhook, F::BadSignature) => {
            Verdict::json(StatusCode::UNAUTHORIZED, json!({"error": "bad signature"}))
        }
        (K::Webhook, F::RateLimit) => Verdict {
            extra_headers: vec![("retry-after", "1".to_string())],
            ..Verdict::json(StatusCode::TOO_MANY_REQUESTS, json!({"error": "slow down"}))
        },
        (K::Webhook, F::ServerError) => Verdict::html(
            StatusCode::SERVICE_UNAVAILABLE,
            "<h1>503 Service Unavailable</h1>",
        ),
        (k, F::BadSignature) => unreachable!("{k} does not sign (refused by fail())"),
    }
}

struct Req<'a> {
    uri: &'a Uri,
    headers: &'a HeaderMap,
    body: &'a Bytes,
}

impl Req<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn is_json(&self) -> bool {
        self.header("content-type")
            .is_some_and(|c| c.to_ascii_lowercase().starts_with("application/json"))
    }

    /// Query parameters decoded the way web servers do (`+` is a space).
    fn query(&self) -> HashMap<String, String> {
        url::form_urlencoded::parse(self.uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect()
    }

    fn json(&self) -> Option<Value> {
        serde_json::from_slice(self.body).ok()
    }

    /// The path segment after `prefix` (`/bark/` → key).
    fn segment_after(&self, prefix: &str) -> &str {
        self.uri.path().strip_prefix(prefix).unwrap_or("")
    }
}

fn str_field<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

fn hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

/// Within an hour of the receiver's clock.
fn fresh(ts_seconds: i64) -> bool {
    (chrono::Utc::now().timestamp() - ts_seconds).abs() <= 3600
}

fn bark(st: &Inner, req: &Req) -> Verdict {
    let ts = chrono::Utc::now().timestamp();
    let bad = |msg: String| {
        Verdict::json(
            StatusCode::BAD_REQUEST,
            json!({"code": 400, "message": msg, "timestamp": ts}),
        )
    };
    if !req.is_json() {
        return bad("device key is empty".into());
    }
    let Some(j) = req.json() else {
        return bad("request bind failed: invalid character in JSON".into());
    };
    let key = match req.segment_after("/bark/") {
        "push" => str_field(&j, "/device_key").unwrap_or(""),
        path_key => path_key,
    };
    if key.is_empty() {
        return bad("device key is empty".into());
    }
    if key != st.config.bark_key {
        return bad(format!(
            "failed to get device token: failed to get [{key}] device token from database"
        ));
    }
    let (Some(title), Some(body)) = (str_field(&j, "/title"), str_field(&j, "/body")) else {
        return bad("test receiver: yupiao must send a title and a body".into());
    };
    if let Some(level) = j.get("level")
        && !matches!(
            level.as_str(),
            Some("active" | "timeSensitive" | "passive" | "critical")
        )
    {
        return bad(format!("test receiver: unknown level {level}"));
    }
    Verdict::ok(
        json!({"code": 200, "message": "success", "timestamp": ts}),
        title.into(),
        body.into(),
    )
}

fn serverchan(st: &Inner, req: &Req) -> Verdict {
    let path = req.uri.path().trim_start_matches('/');
    let Some(key) = path.strip_suffix(".send") else {
        return Verdict::html(StatusCode::NOT_FOUND, "<h1>404 Not Found</h1>");
    };
    let input = |info: &str| {
        Verdict::json(
            StatusCode::BAD_REQUEST,
            json!({"message": format!("[INPUT]{info}"), "code": 20001, "info": info, "args": [null]}),
        )
    };
    if key != st.config.serverchan_key {
        return failure_answer(ChannelKind::ServerChan, Failure::BadKey, &st.config);
    }
    let Some(j) = req.json().filter(|_| req.is_json()) else {
        return input("title 不能为空");
    };
    let Some(title) = str_field(&j, "/title") else {
        return input("title 不能为空");
    };
    if title.chars().count() > 32 {
        return input("test receiver: title 最长 32 个字符");
    }
    let desp = j.get("desp").and_then(Value::as_str).unwrap_or("");
    Verdict::ok(
        json!({"code": 0, "message": "", "data": {"pushid": "1663686", "readkey": "SCTPmUPAz9ljk3Q", "error": "SUCCESS", "errno": 0}}),
        title.into(),
        desp.into(),
    )
}

fn pushplus(st: &Inner, req: &Req) -> Verdict {
    let ok = StatusCode::OK;
    let Some(j) = req.json().filter(|_| req.is_json()) else {
        return Verdict::json(
            ok,
            json!({"code": 999, "msg": "test receiver: 请求体不是 JSON", "data": null}),
        );
    };
    if str_field(&j, "/token") != Some(st.config.pushplus_token.as_str()) {
        return failure_answer(ChannelKind::PushPlus, Failure::BadKey, &st.config);
    }
    let Some(content) = str_field(&j, "/content") else {
        return Verdict::json(ok, json!({"code": 999, "msg": "内容不能为空", "data": null}));
    };
    let template = j.get("template").and_then(Value::as_str).unwrap_or("html");
    if !matches!(
        template,
        "html" | "txt" | "json" | "markdown" | "cloudMonitor" | "jenkins" | "route" | "pay"
    ) {
        return Verdict::json(ok, json!({"code": 999, "msg": "模板类型错误", "data": null}));
    }
    let title = str_field(&j, "/title").unwrap_or("");
    let id = next_id(st);
    Verdict::ok(
        json!({"code": 200, "msg": "请求成功", "data": format!("{id:032x}"), "count": null}),
        title.into(),
        content.into(),
    )
}

fn wecom(st: &Inner, req: &Req) -> Verdict {
    let ok = StatusCode::OK;
    if req.query().get("key") != Some(&st.config.wecom_key) {
        return failure_answer(ChannelKind::WeCom, Failure::BadKey, &st.config);
    }
    let Some(j) = req.json() else {
        return Verdict::json(
            ok,
            json!({"errcode": 40035, "errmsg": "invalid parameter, hint: [0], from ip: 127.0.0.1"}),
        );
    };
    let content = match j.get("msgtype").and_then(Value::as_str) {
        Some("markdown") => str_field(&j, "/markdown/content"),
        Some("text") => str_field(&j, "/text/content"),
        _ => {
            return Verdict::json(
                ok,
                json!({"errcode": 40008, "errmsg": "invalid message type, hint: [0], from ip: 127.0.0.1"}),
            );
        }
    };
    let Some(content) = content else {
        return Verdict::json(
            ok,
            json!({"errcode": 44004, "errmsg": "empty content, hint: [0], from ip: 127.0.0.1"}),
        );
    };
    if content.len() > 4096 {
        return Verdict::json(
            ok,
            json!({"errcode": 40058, "errmsg": "markdown.content exceed max length 4096. invalid Request Parameter, hint: [0], from ip: 127.0.0.1"}),
        );
    }
    let (title, text) = content.split_once("  \n").unwrap_or((content, ""));
    Verdict::ok(
        json!({"errcode": 0, "errmsg": "ok"}),
        title.trim_matches('*').into(),
        text.into(),
    )
}

fn dingtalk(st: &Inner, req: &Req) -> Verdict {
    let ok = StatusCode::OK;
    let q = req.query();
    match q.get("access_token") {
        None => return Verdict::json(ok, json!({"errcode": 40035, "errmsg": "缺少参数 access_token"})),
        Some(t) if *t != st.config.dingtalk_token => {
            return failure_answer(ChannelKind::DingTalk, Failure::BadKey, &st.config);
        }
        Some(_) => {}
    }
    if let Some(secret) = &st.config.dingtalk_secret {
        let sign_refused = || Verdict::json(ok, json!({"errcode": 310000, "errmsg": "sign not match"}));
        let (Some(ts), Some(sign)) = (q.get("timestamp"), q.get("sign")) else {
            return sign_refused();
        };
        let Ok(ts_ms) = ts.parse::<i64>() else {
            return Verdict::json(ok, json!({"errcode": 310000, "errmsg": "invalid timestamp"}));
        };
        if !fresh(ts_ms / 1000) {
            return Verdict::json(ok, json!({"errcode": 310000, "errmsg": "invalid timestamp"}));
        }
        // key = secret, message = "{timestamp}\n{secret}" (DingTalk's documented sample).
        let expected = BASE64.encode(hmac(secret.as_bytes(), format!("{ts}\n{secret}").as_bytes()));
        if *sign != expected {
            return sign_refused();
        }
    }
    if !req.is_json() {
        return Verdict::json(
            ok,
            json!({"errcode": 43004, "errmsg": "无效的HTTP HEADER Content-Type"}),
        );
    }
    let Some(j) = req.json() else {
        return Verdict::json(ok, json!({"errcode": 300001, "errmsg": "param error"}));
    };
    let (title, text) = match j.get("msgtype").and_then(Value::as_str) {
        Some("markdown") => (str_field(&j, "/markdown/title"), str_field(&j, "/markdown/text")),
        Some("text") => (Some(""), str_field(&j, "/text/content")),
        _ => return Verdict::json(ok, json!({"errcode": 40035, "errmsg": "缺少参数 msgtype"})),
    };
    let (Some(title), Some(text)) = (title, text) else {
        return Verdict::json(ok, json!({"errcode": 40035, "errmsg": "缺少参数 markdown"}));
    };
    Verdict::ok(json!({"errcode": 0, "errmsg": "ok"}), title.into(), text.into())
}

fn feishu(st: &Inner, req: &Req) -> Verdict {
    let ok = StatusCode::OK;
    let bad_request = || Verdict::json(ok, json!({"code": 9499, "msg": "Bad Request", "data": {}}));
    if req.segment_after("/open-apis/bot/v2/hook/") != st.config.feishu_hook {
        return failure_answer(ChannelKind::Feishu, Failure::BadKey, &st.config);
    }
    if req.body.len() > 20 * 1024 {
        return bad_request();
    }
    let Some(j) = req.json() else {
        return bad_request();
    };
    if let Some(secret) = &st.config.feishu_secret {
        let refused = || failure_answer(ChannelKind::Feishu, Failure::BadSignature, &st.config);
        let ts = match j.get("timestamp") {
            Some(Value::String(s)) => s.parse::<i64>().ok(),
            Some(Value::Number(n)) => n.as_i64(),
            _ => None,
        };
        let (Some(ts), Some(sign)) = (ts, j.get("sign").and_then(Value::as_str)) else {
            return refused();
        };
        // key = "{timestamp}\n{secret}", message empty (Feishu's documented sample).
        let expected = BASE64.encode(hmac(format!("{ts}\n{secret}").as_bytes(), b""));
        if !fresh(ts) || sign != expected {
            return refused();
        }
    }
    let (title, text) = match j.get("msg_type").and_then(Value::as_str) {
        Some("text") => match str_field(&j, "/content/text") {
            Some(t) => (String::new(), t.to_string()),
            None => return bad_request(),
        },
        Some("post") => {
            let Some(post) = j.pointer("/content/post").and_then(Value::as_object) else {
                return bad_request();
            };
            let Some(lang) = post.values().next() else {
                return bad_request();
            };
            let Some(lines) = lang.get("content").and_then(Value::as_array) else {
                return bad_request();
            };
            let mut text = Vec::new();
            for line in lines {
                let Some(elements) = line.as_array() else {
                    return bad_request();
                };
                let mut shown = String::new();
                for e in elements {
                    match (e.get("tag").and_then(Value::as_str), str_field(e, "/text")) {
                        (Some("text"), Some(t)) => shown.push_str(t),
                        (Some("a"), Some(t)) if str_field(e, "/href").is_some() => shown.push_str(t),
                        _ => return bad_request(),
                    }
                }
                text.push(shown);
            }
            (
                str_field(lang, "/title").unwrap_or("").to_string(),
                text.join("\n"),
            )
        }
        _ => return bad_request(),
    };
    Verdict::ok(
        json!({"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"}),
        title,
        text,
    )
}

fn telegram(st: &Inner, req: &Req) -> Verdict {
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
        return failure_answer(ChannelKind::Telegram, Failure::BadKey, &st.config);
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

/// Parses Telegram's HTML subset the way the Bot API does: only its tags, `<a href="…">`,
/// balanced, and only the four named entities (or numeric ones). Returns the text shown.
pub fn telegram_html(s: &str) -> Result<String, String> {
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
    let mut out = String::new();
    let mut open: Vec<String> = Vec::new();
    let mut i = 0;
    let bytes = s.as_bytes();
    while i < s.len() {
        match bytes[i] {
            b'<' => {
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
                i += end + 1;
            }
            b'&' => {
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
                out.push(c);
                i += end + 1;
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

fn ntfy(st: &Inner, req: &Req) -> Verdict {
    let err = |status: StatusCode, code: u32, error: &str, link: &str| {
        Verdict::json(
            status,
            json!({"code": code, "http": status.as_u16(), "error": error, "link": link}),
        )
    };
    let topic = req.segment_after("/ntfy/");
    if topic.is_empty()
        || topic.len() > 64
        || !topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return err(
            StatusCode::BAD_REQUEST,
            40009,
            "invalid request: topic invalid",
            "",
        );
    }
    if let Some(token) = &st.config.ntfy_token {
        match req.header("authorization") {
            None => return failure_answer(ChannelKind::Ntfy, Failure::BadKey, &st.config),
            Some(a) if a != format!("Bearer {token}") => {
                return err(
                    StatusCode::UNAUTHORIZED,
                    40101,
                    "unauthorized",
                    "https://ntfy.sh/docs/publish/#authentication",
                );
            }
            Some(_) => {}
        }
    }
    let priority = match req.header("priority").or_else(|| req.header("x-priority")) {
        None => 3,
        Some(p) => match p.trim() {
            "1" | "min" => 1,
            "2" | "low" => 2,
            "3" | "default" => 3,
            "4" | "high" => 4,
            "5" | "max" | "urgent" => 5,
            _ => {
                return err(
                    StatusCode::BAD_REQUEST,
                    40007,
                    "invalid priority parameter",
                    "https://ntfy.sh/docs/publish/#message-priority",
                );
            }
        },
    };
    let Ok(message) = std::str::from_utf8(req.body) else {
        return err(
            StatusCode::BAD_REQUEST,
            40011,
            "invalid message: message must be UTF-8 encoded",
            "",
        );
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
    Verdict::ok(answer, title, message.to_string())
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

fn webhook(st: &Inner, req: &Req) -> Verdict {
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
            return failure_answer(ChannelKind::Webhook, Failure::BadSignature, &st.config);
        }
    }
    let Ok(payload) = serde_json::from_slice::<super::request::WebhookPayload>(req.body) else {
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

fn next_id(st: &Inner) -> u64 {
    let mut n = lock(&st.next_id);
    *n += 1;
    *n
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
