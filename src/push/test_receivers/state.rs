//! What the receivers know and keep: the credentials they accept, the failures switched on, and
//! every request they were sent.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::push::channel::ChannelKind;

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
    /// When the answer was decided (for the latency benchmark).
    pub at: std::time::SystemTime,
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

/// The receivers' state, shared by the server's handlers.
pub(super) struct Inner {
    pub(super) config: ReceiverConfig,
    pub(super) failures: Mutex<HashMap<ChannelKind, Failure>>,
    pub(super) log: Mutex<Vec<Received>>,
    pub(super) webhook_keys: Mutex<HashSet<String>>,
    pub(super) next_id: Mutex<u64>,
    /// Cancelled when the server stops: hanging handlers give up then.
    pub(super) shutdown: Mutex<CancellationToken>,
}

impl Inner {
    pub(super) fn new(config: ReceiverConfig) -> Inner {
        Inner {
            config,
            failures: Mutex::new(HashMap::new()),
            log: Mutex::new(Vec::new()),
            webhook_keys: Mutex::new(HashSet::new()),
            next_id: Mutex::new(1),
            shutdown: Mutex::new(CancellationToken::new()),
        }
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(super) fn next_id(st: &Inner) -> u64 {
    let mut n = lock(&st.next_id);
    *n += 1;
    *n
}
