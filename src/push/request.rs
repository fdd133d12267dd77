//! One HTTP request per (channel, message), in the shape each service documents.
//!
//! [`prepare`] is pure: the caller passes `now`, which the signed kinds put in the request, so a
//! request must be prepared right before it is sent (DingTalk and Feishu refuse timestamps more
//! than an hour away from their clock) and prepared afresh on every retry. The result,
//! [`PreparedRequest`], keeps its URL wrapped as a secret: `Debug` shows the redacted form only.
//!
//! The request shape of each service, and the documentation it follows:
//!
//! - **Bark** — `POST {server}/push` with JSON `device_key`, `title`, `body`, `url`, `group`,
//!   `level` (<https://github.com/Finb/bark-server/blob/master/docs/API_V2.md>). The user's
//!   device URL `https://api.day.app/KEY` (or a self-hosted `https://host/prefix/KEY`) is split
//!   into server and key. `POST /push` is the V2 endpoint every bark-server since 2.0 has;
//!   posting JSON to the device URL itself only works on servers new enough to route JSON there
//!   (older ones ignore the JSON body, answer 200 and push "NoContent": see `route_push.go`).
//!   `level` is `timeSensitive` (breaks through Focus) for every push and `critical` (sounds
//!   even when muted) for urgent ones, the 候补 payment deadlines.
//! - **Server酱** (Turbo and ³) — `POST` the SendKey URL as given, JSON `title` (≤ 32
//!   characters), `desp` (Markdown), `short` (the card text), `noip: 1`
//!   (<https://sct.ftqq.com/sendkey>; the official SDK `easychen/serverchan-sdk` posts JSON with
//!   `Content-Type: application/json;charset=utf-8`).
//! - **PushPlus** — `POST https://www.pushplus.plus/send`, JSON `token`, `title`, `content`,
//!   `template: "txt"` (plain text, newlines kept) (<https://www.pushplus.plus/doc/guide/api.html>).
//! - **WeCom group robot** — `POST` the webhook (`…/cgi-bin/webhook/send?key=…`), JSON
//!   `{"msgtype":"markdown","markdown":{"content":…}}`, content ≤ 4096 bytes
//!   (<https://developer.work.weixin.qq.com/document/path/91770>).
//! - **DingTalk group robot** — `POST` the webhook (`…/robot/send?access_token=…`), JSON
//!   `{"msgtype":"markdown","markdown":{"title":…,"text":…}}`. With a signing secret the URL
//!   gets `&timestamp={ms}&sign={urlencode(base64(HMAC-SHA256(key = secret,
//!   msg = "{timestamp}\n{secret}")))}`
//!   (<https://open.dingtalk.com/document/group/custom-robot-access>, section 加签).
//! - **Feishu group robot** — `POST` the webhook (`…/open-apis/bot/v2/hook/…`), JSON
//!   `msg_type: "post"` (rich text: a title, text lines and an `a` link tag). With a signing
//!   secret the body gets `timestamp` (seconds, as a string) and `sign` = base64(HMAC-SHA256(key
//!   = "{timestamp}\n{secret}", msg = empty))
//!   (<https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot>).
//! - **Telegram** — `POST {url}/sendMessage`, JSON `chat_id`, `text`, `parse_mode: "HTML"`,
//!   `disable_web_page_preview: true` and its replacement `link_preview_options.is_disabled`
//!   (<https://core.telegram.org/bots/api#sendmessage>). HTML rather than MarkdownV2: HTML needs
//!   only `<`, `>`, `&` (and `"` in the link) escaped (<https://core.telegram.org/bots/api#html-style>),
//!   while MarkdownV2 refuses the whole message over any of 18 unescaped characters, and station
//!   and watch names are data. The title is bold, the body plain, the link an `<a>`.
//! - **ntfy** — `POST` the topic URL, the body is the plain text, headers `Title`, `Priority`
//!   (5 urgent, 4 seat alerts, 3 the rest), `Click` (the link), `Tags` (emoji shortcodes), and
//!   `Authorization: Bearer` when `token` is set (<https://docs.ntfy.sh/publish/>). A non-ASCII
//!   title is sent RFC 2047-encoded (`=?UTF-8?B?…?=`), which ntfy decodes (documented under
//!   "Message title"); raw UTF-8 in a header is outside HTTP's rules and proxies mangle it, and
//!   the JSON publish form would post to the server root, breaking ntfy servers that live under
//!   a path prefix.
//! - **webhook** — ours: `POST` JSON ([`WebhookPayload`]) with `Idempotency-Key` and, with a
//!   `secret`, `X-Yupiao-Signature`.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, FixedOffset, NaiveDate};
use hmac::{Hmac, Mac};
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Sha256;

use super::channel::{ChannelKind, ChannelSpec, SpecError, redact_url};
use super::message::{MD_BREAK, PushEvent, PushMessage, SeatDetail, TrainDetail, md_escape};

/// Header carrying the webhook body's HMAC.
pub const SIGNATURE_HEADER: &str = "x-yupiao-signature";
/// Header carrying [`PushMessage::idempotency_key`] to the webhook.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
/// Header naming the event (`seats`, …) on webhook requests, for routing without parsing.
pub const EVENT_HEADER: &str = "x-yupiao-event";

/// WeCom's documented limit for `markdown.content`, in bytes.
pub const WECOM_MARKDOWN_MAX: usize = 4096;
/// Server酱's documented limit for `title`, in characters.
pub const SERVERCHAN_TITLE_MAX: usize = 32;
/// Telegram's limit for a message text, in characters (after entity parsing).
pub const TELEGRAM_TEXT_MAX: usize = 4096;
/// Bark bodies travel inside a 4 KiB APNs payload: keep them well below.
pub const BARK_BODY_MAX: usize = 1000;

/// A request ready for [`super::send()`]. The URL is a secret (it carries the key, and for
/// DingTalk the signature).
pub struct PreparedRequest {
    pub kind: ChannelKind,
    pub method: Method,
    url: SecretString,
    redacted: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Vec<u8>,
}

impl PreparedRequest {
    /// The full URL, secrets included: for the HTTP client only.
    pub fn url(&self) -> &SecretString {
        &self.url
    }

    /// What may be shown of the URL (`https://api.day.app/***`).
    pub fn redacted_url(&self) -> &str {
        &self.redacted
    }

    /// The value of a header, if set and ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.to_str().ok())
    }

    /// The body parsed as JSON (every kind but ntfy sends JSON).
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

impl fmt::Debug for PreparedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str(),
                    if v.is_sensitive() {
                        "***"
                    } else {
                        v.to_str().unwrap_or("?")
                    },
                )
            })
            .collect();
        f.debug_struct("PreparedRequest")
            .field("kind", &self.kind)
            .field("method", &self.method)
            .field("url", &self.redacted)
            .field("headers", &headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// The channel cannot be used: its spec is invalid (the config check should have caught it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrepareError {
    #[error("channel {name:?} is misconfigured: {}", list(.errors))]
    Invalid { name: String, errors: Vec<SpecError> },
}

fn list(errors: &[SpecError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The request that pushes `msg` through `spec`, signed for `now` where the service signs.
pub fn prepare(
    spec: &ChannelSpec,
    msg: &PushMessage,
    now: DateTime<FixedOffset>,
) -> Result<PreparedRequest, PrepareError> {
    spec.validate().map_err(|errors| PrepareError::Invalid {
        name: spec.name.clone(),
        errors,
    })?;
    let url = spec.effective_url().unwrap_or_default();
    let secret = spec.secret.as_ref().map(|s| s.expose_secret().trim().to_string());
    let token = spec.token.as_ref().map(|t| t.expose_secret().trim().to_string());
    let mut b = Builder::new(spec.kind, &url);
    match spec.kind {
        ChannelKind::Bark => bark(&mut b, msg),
        ChannelKind::ServerChan => serverchan(&mut b, msg),
        ChannelKind::PushPlus => pushplus(&mut b, msg, token.as_deref().unwrap_or_default()),
        ChannelKind::WeCom => wecom(&mut b, msg),
        ChannelKind::DingTalk => dingtalk(&mut b, msg, secret.as_deref(), now),
        ChannelKind::Feishu => feishu(&mut b, msg, secret.as_deref(), now),
        ChannelKind::Telegram => telegram(&mut b, msg, spec.chat_id.as_deref().unwrap_or_default()),
        ChannelKind::Ntfy => ntfy(&mut b, msg, token.as_deref()),
        ChannelKind::Webhook => webhook(&mut b, msg, secret.as_deref(), token.as_deref()),
    }
    Ok(b.finish())
}

/// Accumulates one request; keeps `url::Url` handling in one place.
struct Builder {
    kind: ChannelKind,
    url: url::Url,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Vec<u8>,
}

impl Builder {
    fn new(kind: ChannelKind, url: &str) -> Builder {
        Builder {
            kind,
            url: url::Url::parse(url).expect("validate() checked the URL"),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn json(&mut self, value: &serde_json::Value) {
        self.header(CONTENT_TYPE, "application/json; charset=utf-8");
        self.body = serde_json::to_vec(value).expect("a JSON value serializes");
    }

    /// Every value set here is ASCII (titles are RFC 2047-encoded first).
    fn header(&mut self, name: HeaderName, value: &str) {
        let v = HeaderValue::from_str(value).expect("header values are ASCII");
        self.headers.push((name, v));
    }

    fn secret_header(&mut self, name: HeaderName, value: &str) {
        if let Ok(mut v) = HeaderValue::from_str(value) {
            v.set_sensitive(true);
            self.headers.push((name, v));
        }
    }

    fn finish(self) -> PreparedRequest {
        let full = self.url.to_string();
        PreparedRequest {
            kind: self.kind,
            method: Method::POST,
            redacted: redact_url(&full),
            url: SecretString::from(full),
            headers: self.headers,
            body: self.body,
        }
    }
}

fn bark(b: &mut Builder, msg: &PushMessage) {
    let mut segments: Vec<String> = b
        .url
        .path_segments()
        .map(|s| s.map(str::to_string).collect())
        .unwrap_or_default();
    while segments.last().is_some_and(|s| s.is_empty()) {
        segments.pop();
    }
    let key = segments.pop().unwrap_or_default();
    segments.push("push".to_string());
    b.url.set_path(&format!("/{}", segments.join("/")));
    let mut body = json!({
        "device_key": key,
        "title": msg.title,
        "body": truncate_chars(&msg.text, BARK_BODY_MAX),
        "group": msg.event.label_zh(),
        "level": if msg.urgent { "critical" } else { "timeSensitive" },
    });
    if let Some(link) = &msg.link {
        body["url"] = json!(link.href);
    }
    b.json(&body);
}

fn serverchan(b: &mut Builder, msg: &PushMessage) {
    let mut desp = msg.markdown.clone();
    if let Some(link) = &msg.link {
        desp.push_str(MD_BREAK);
        desp.push_str(&md_link(&link.label, &link.href));
    }
    let short = msg.text.lines().next().unwrap_or_default();
    b.json(&json!({
        "title": truncate_chars(&msg.title, SERVERCHAN_TITLE_MAX),
        "desp": desp,
        "short": truncate_chars(short, 64),
        "noip": 1,
    }));
}

fn pushplus(b: &mut Builder, msg: &PushMessage, token: &str) {
    let mut content = msg.text.clone();
    if let Some(link) = &msg.link {
        content.push_str(&format!("\n{}：{}", link.label, link.href));
    }
    b.json(&json!({
        "token": token,
        "title": truncate_chars(&msg.title, 100),
        "content": content,
        "template": "txt",
    }));
}

/// `**title**`, the body, then the link, each a Markdown line, within `max` bytes (whole body
/// lines are dropped from the end until it fits, so no escape or link is ever cut in half).
fn robot_markdown(msg: &PushMessage, max: usize) -> String {
    let head = format!("**{}**", md_escape(&msg.title));
    let tail = msg.link.as_ref().map(|l| md_link(&l.label, &l.href));
    let mut lines: Vec<&str> = msg.markdown.split(MD_BREAK).filter(|l| !l.is_empty()).collect();
    loop {
        let mut parts: Vec<&str> = vec![&head];
        parts.extend(lines.iter().copied());
        if let Some(t) = &tail {
            parts.push(t);
        }
        let joined = parts.join(MD_BREAK);
        if joined.len() <= max || lines.is_empty() {
            return truncate_bytes(&joined, max);
        }
        lines.pop();
    }
}

fn wecom(b: &mut Builder, msg: &PushMessage) {
    b.json(&json!({
        "msgtype": "markdown",
        "markdown": { "content": robot_markdown(msg, WECOM_MARKDOWN_MAX) },
    }));
}

fn dingtalk(b: &mut Builder, msg: &PushMessage, secret: Option<&str>, now: DateTime<FixedOffset>) {
    if let Some(secret) = secret {
        let ts = now.timestamp_millis();
        b.url
            .query_pairs_mut()
            .append_pair("timestamp", &ts.to_string())
            .append_pair("sign", &dingtalk_sign(secret, ts));
    }
    b.json(&json!({
        "msgtype": "markdown",
        "markdown": { "title": msg.title, "text": robot_markdown(msg, 20_000) },
    }));
}

fn feishu(b: &mut Builder, msg: &PushMessage, secret: Option<&str>, now: DateTime<FixedOffset>) {
    let mut content: Vec<serde_json::Value> = msg
        .text
        .lines()
        .map(|l| json!([{ "tag": "text", "text": l }]))
        .collect();
    if let Some(link) = &msg.link {
        content.push(json!([{ "tag": "a", "text": link.label, "href": link.href }]));
    }
    let mut body = json!({
        "msg_type": "post",
        "content": { "post": { "zh_cn": { "title": msg.title, "content": content } } },
    });
    if let Some(secret) = secret {
        let ts = now.timestamp();
        body["timestamp"] = json!(ts.to_string());
        body["sign"] = json!(feishu_sign(secret, ts));
    }
    b.json(&body);
}

fn telegram(b: &mut Builder, msg: &PushMessage, chat_id: &str) {
    let path = format!("{}/sendMessage", b.url.path().trim_end_matches('/'));
    b.url.set_path(&path);
    let mut text = format!(
        "<b>{}</b>\n{}",
        html_escape(&msg.title),
        html_escape(&truncate_chars(&msg.text, TELEGRAM_TEXT_MAX - 600))
    );
    if let Some(link) = &msg.link {
        text.push_str(&format!(
            "\n<a href=\"{}\">{}</a>",
            html_escape(&link.href),
            html_escape(&link.label)
        ));
    }
    b.json(&json!({
        "chat_id": chat_id.trim(),
        "text": text,
        "parse_mode": "HTML",
        "disable_web_page_preview": true,
        "link_preview_options": { "is_disabled": true },
    }));
}

fn ntfy(b: &mut Builder, msg: &PushMessage, token: Option<&str>) {
    b.header(CONTENT_TYPE, "text/plain; charset=utf-8");
    b.header(HeaderName::from_static("title"), &rfc2047(&msg.title));
    let priority = match (msg.urgent, msg.event) {
        (true, _) => "5",
        (false, PushEvent::Seats) => "4",
        _ => "3",
    };
    b.header(HeaderName::from_static("priority"), priority);
    let tag = match msg.event {
        PushEvent::Seats => "bullettrain_side",
        PushEvent::Waitlist => "hourglass_flowing_sand",
        PushEvent::Order => "ticket",
        PushEvent::Test => "white_check_mark",
    };
    let tags = if msg.urgent {
        format!("rotating_light,{tag}")
    } else {
        tag.to_string()
    };
    b.header(HeaderName::from_static("tags"), &tags);
    if let Some(link) = &msg.link {
        b.header(HeaderName::from_static("click"), &link.href);
    }
    if let Some(token) = token {
        b.secret_header(AUTHORIZATION, &format!("Bearer {token}"));
    }
    b.body = msg.text.clone().into_bytes();
}

fn webhook(b: &mut Builder, msg: &PushMessage, secret: Option<&str>, token: Option<&str>) {
    let payload = WebhookPayload::from_message(msg);
    b.json(&serde_json::to_value(&payload).expect("the payload serializes"));
    b.header(HeaderName::from_static(IDEMPOTENCY_HEADER), &msg.idempotency_key);
    b.header(HeaderName::from_static(EVENT_HEADER), msg.event.as_str());
    if let Some(secret) = secret {
        let sig = webhook_signature(secret.as_bytes(), &b.body);
        b.header(HeaderName::from_static(SIGNATURE_HEADER), &sig);
    }
    if let Some(token) = token {
        b.secret_header(AUTHORIZATION, &format!("Bearer {token}"));
    }
}

/// The JSON body of a `kind = "webhook"` push. Every key is always present (`null` when not
/// known), so receivers can rely on the shape.
///
/// ```text
/// POST <url>
/// Content-Type: application/json; charset=utf-8
/// Idempotency-Key: yp-seats-3f9a…          the same on every retry of this push
/// X-Yupiao-Event: seats                     seats | waitlist | order | test
/// X-Yupiao-Signature: sha256=<hex>          with `secret`: HMAC-SHA256(key = secret, msg = body)
/// Authorization: Bearer <token>             with `token`
///
/// {
///   "event": "seats",                       seats | waitlist | order | test
///   "id": "yp-seats-3f9a…",                 = Idempotency-Key
///   "time": "2026-12-04T09:30:05+08:00",    when yupiao saw the event (Beijing time)
///   "title": "余票 G8294 12-04 二等座 3张",
///   "text": "G8294 12-04 周五 上海虹桥→常州北 14:44开 15:53到\n…",
///   "url": "https://kyfw.12306.cn/otn/leftTicket/init?…",   booking / order page, or null
///   "urgent": false,                        true for 候补 payment deadlines
///   "watch": "回家",                        first watch, or null
///   "watches": ["回家", "周末"],            every watch this push speaks for
///   "date": "2026-12-04",                   travel date, or null
///   "train": "G8294", "from": "上海虹桥", "to": "常州北", "depart": "14:44", "arrive": "15:53",
///                                           the first train (null when none)
///   "seats": [{"seat": "二等座", "left": "3", "count": 3, "price": 91.0}],
///                                           seats of the first train: left = 12306's text
///                                           ("有", "3") or the 候补 queue, count = a number or
///                                           null, price in yuan or null
///   "trains": [{"train": "G8294", "date": "2026-12-04", "from": "…", "to": "…",
///               "depart": "14:44", "arrive": "15:53", "seats": […]}, …],   every train
///   "status": null,                         候补 / 抢票 state ("待支付", "出票成功")
///   "deadline": null,                       候补 payment deadline (RFC 3339)
///   "order": null                           候补 reserve_no / 抢票 outOrderNo
/// }
/// ```
///
/// Answer 2xx to accept; 429 or 5xx (or no answer) makes yupiao retry with backoff for up to
/// 48 h, with the same `Idempotency-Key`; any other status is a permanent refusal.
/// To check the signature, compute HMAC-SHA256 over the raw body bytes with the secret and
/// compare its lower-case hex with the header value after `sha256=`, in constant time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookPayload {
    pub event: PushEvent,
    pub id: String,
    pub time: DateTime<FixedOffset>,
    pub title: String,
    pub text: String,
    pub url: Option<String>,
    pub urgent: bool,
    pub watch: Option<String>,
    pub watches: Vec<String>,
    pub date: Option<NaiveDate>,
    pub train: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub depart: Option<String>,
    pub arrive: Option<String>,
    pub seats: Vec<SeatDetail>,
    pub trains: Vec<TrainDetail>,
    pub status: Option<String>,
    pub deadline: Option<DateTime<FixedOffset>>,
    pub order: Option<String>,
}

impl WebhookPayload {
    pub fn from_message(msg: &PushMessage) -> WebhookPayload {
        let d = &msg.details;
        let first = d.trains.first();
        WebhookPayload {
            event: msg.event,
            id: msg.idempotency_key.clone(),
            time: msg.created_at,
            title: msg.title.clone(),
            text: msg.text.clone(),
            url: msg.link.as_ref().map(|l| l.href.clone()),
            urgent: msg.urgent,
            watch: d.watches.first().cloned(),
            watches: d.watches.clone(),
            date: d.date,
            train: first.map(|t| t.train.clone()),
            from: first.map(|t| t.from.clone()),
            to: first.map(|t| t.to.clone()),
            depart: first.and_then(|t| t.depart.clone()),
            arrive: first.and_then(|t| t.arrive.clone()),
            seats: first.map(|t| t.seats.clone()).unwrap_or_default(),
            trains: d.trains.clone(),
            status: d.status.clone(),
            deadline: d.deadline,
            order: d.order.clone(),
        }
    }
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

/// DingTalk's `sign` before URL encoding: base64(HMAC-SHA256(key = secret, msg =
/// "{timestamp_ms}\n{secret}")).
pub fn dingtalk_sign(secret: &str, timestamp_ms: i64) -> String {
    BASE64.encode(hmac_sha256(
        secret.as_bytes(),
        format!("{timestamp_ms}\n{secret}").as_bytes(),
    ))
}

/// Feishu's `sign`: base64(HMAC-SHA256(key = "{timestamp_s}\n{secret}", msg = empty)).
pub fn feishu_sign(secret: &str, timestamp_s: i64) -> String {
    BASE64.encode(hmac_sha256(format!("{timestamp_s}\n{secret}").as_bytes(), b""))
}

/// `sha256=<lower-case hex HMAC-SHA256(key = secret, msg = body)>`.
pub fn webhook_signature(secret: &[u8], body: &[u8]) -> String {
    let mut out = String::from("sha256=");
    for byte in hmac_sha256(secret, body) {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// RFC 2047 `B` encoding for a header value; ASCII text without `=?` passes unchanged. Long
/// text becomes several encoded words (each ≤ 75 characters, split between characters), which
/// decoders join without the separating space (RFC 2047 §6.2).
pub fn rfc2047(text: &str) -> String {
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) && !text.contains("=?") {
        return text.to_string();
    }
    // 45 bytes of UTF-8 → 60 base64 characters + 12 of framing = 72 ≤ 75.
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(chunk);
    }
    words
        .iter()
        .map(|w| format!("=?UTF-8?B?{}?=", BASE64.encode(w.as_bytes())))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Escapes text for Telegram's HTML parse mode (element content and quoted attributes).
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// `[label](href)`, with the characters that would end either part escaped.
fn md_link(label: &str, href: &str) -> String {
    let href = href.replace('(', "%28").replace(')', "%29").replace(' ', "%20");
    format!("[{}]({href})", md_escape(label))
}

/// At most `max` characters, `…` marking a cut.
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// At most `max` bytes of UTF-8, cut between characters, `…` marking a cut.
pub fn truncate_bytes(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::message::{test_message, waitlist_message};
    use chrono::TimeZone;

    const KEY: &str = "K3yTopSecret9";
    const SEC: &str = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd";

    fn now() -> DateTime<FixedOffset> {
        crate::clock::beijing()
            .with_ymd_and_hms(2026, 12, 4, 9, 30, 5)
            .unwrap()
    }

    fn secret(s: &str) -> Option<SecretString> {
        Some(SecretString::from(s.to_string()))
    }

    fn spec(kind: ChannelKind, url: &str) -> ChannelSpec {
        ChannelSpec::new("phone", kind, secret(url))
    }

    fn alert() -> PushMessage {
        crate::push::fixtures::seat_alert("回家", now())
    }

    fn url_of(r: &PreparedRequest) -> String {
        r.url().expose_secret().to_string()
    }

    fn body(r: &PreparedRequest) -> serde_json::Value {
        r.json().expect("JSON body")
    }

    /// HMAC-SHA256 written out from its definition (RFC 2104) on top of plain SHA-256, so the
    /// signature tests do not check the `hmac` crate against itself.
    fn hmac_by_definition(key: &[u8], msg: &[u8]) -> Vec<u8> {
        use sha2::Digest;
        let mut k = [0u8; 64];
        if key.len() > 64 {
            k[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            k[..key.len()].copy_from_slice(key);
        }
        let inner: Vec<u8> = k.iter().map(|b| b ^ 0x36).chain(msg.iter().copied()).collect();
        let inner_hash = Sha256::digest(&inner);
        let outer: Vec<u8> = k
            .iter()
            .map(|b| b ^ 0x5c)
            .chain(inner_hash.iter().copied())
            .collect();
        Sha256::digest(&outer).to_vec()
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn hmac_matches_the_published_rfc_4231_test_vector() {
        // RFC 4231 §4.3, test case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(hmac_by_definition(b"Jefe", b"what do ya want for nothing?"), mac);
    }

    #[test]
    fn dingtalk_sign_is_hmac_of_timestamp_and_secret_keyed_by_the_secret() {
        let ts = 1_764_811_805_000_i64;
        let expected = BASE64.encode(hmac_by_definition(
            SEC.as_bytes(),
            format!("{ts}\n{SEC}").as_bytes(),
        ));
        assert_eq!(dingtalk_sign(SEC, ts), expected);
    }

    #[test]
    fn feishu_sign_is_hmac_of_nothing_keyed_by_timestamp_and_secret() {
        let ts = 1_764_811_805_i64;
        let expected = BASE64.encode(hmac_by_definition(format!("{ts}\n{SEC}").as_bytes(), b""));
        assert_eq!(feishu_sign(SEC, ts), expected);
    }

    /// The official samples (DingTalk's and Feishu's Python) computed by Python itself: an
    /// implementation that shares nothing with ours.
    #[test]
    fn signatures_match_the_official_python_samples() {
        let script = r#"
import base64, hashlib, hmac, sys, urllib.parse
secret, ts_ms, ts_s = sys.argv[1], sys.argv[2], sys.argv[3]
d = hmac.new(secret.encode(), f"{ts_ms}\n{secret}".encode(), digestmod=hashlib.sha256).digest()
print(urllib.parse.quote_plus(base64.b64encode(d)))
f = hmac.new(f"{ts_s}\n{secret}".encode(), digestmod=hashlib.sha256).digest()
print(base64.b64encode(f).decode())
"#;
        let out = std::process::Command::new("python3")
            .args(["-c", script, SEC, "1764811805000", "1764811805"])
            .output()
            .expect("python3 runs (it is also needed by the SMTP tests)");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        let mut lines = text.lines();
        let ding_encoded = lines.next().unwrap();
        let feishu = lines.next().unwrap();

        let mut m = alert();
        m.created_at = now();
        let mut s = spec(
            ChannelKind::DingTalk,
            &format!("https://oapi.dingtalk.com/robot/send?access_token={KEY}"),
        );
        s.secret = secret(SEC);
        let at = chrono::DateTime::from_timestamp_millis(1_764_811_805_000)
            .unwrap()
            .fixed_offset();
        let r = prepare(&s, &m, at).unwrap();
        assert!(
            url_of(&r).ends_with(&format!("&timestamp=1764811805000&sign={ding_encoded}")),
            "{}",
            url_of(&r)
        );
        assert_eq!(feishu_sign(SEC, 1_764_811_805), feishu);
    }

    #[test]
    fn webhook_signature_is_hex_hmac_of_the_body() {
        let sig = webhook_signature(b"k", b"{\"a\":1}");
        assert_eq!(
            sig,
            format!("sha256={}", hex(&hmac_by_definition(b"k", b"{\"a\":1}")))
        );
    }

    #[test]
    fn bark_posts_json_to_the_push_endpoint_of_the_device_server() {
        let m = alert();
        let r = prepare(
            &spec(ChannelKind::Bark, &format!("https://api.day.app/{KEY}")),
            &m,
            now(),
        )
        .unwrap();
        assert_eq!(r.method, Method::POST);
        assert_eq!(url_of(&r), "https://api.day.app/push");
        assert_eq!(r.header("content-type"), Some("application/json; charset=utf-8"));
        let b = body(&r);
        assert_eq!(b["device_key"], KEY);
        assert_eq!(b["title"], "余票 G8294 12-01 二等座 3张");
        assert_eq!(b["body"], m.text.as_str());
        assert_eq!(b["level"], "timeSensitive");
        assert_eq!(b["group"], "余票");
        assert_eq!(b["url"], m.link.unwrap().href.as_str());

        let selfhosted = prepare(
            &spec(ChannelKind::Bark, &format!("http://127.0.0.1:9/bark/{KEY}/")),
            &alert(),
            now(),
        )
        .unwrap();
        assert_eq!(url_of(&selfhosted), "http://127.0.0.1:9/bark/push");
        assert_eq!(body(&selfhosted)["device_key"], KEY);
    }

    #[test]
    fn urgent_pushes_are_critical_on_bark_and_max_priority_on_ntfy() {
        let mut m = test_message("x", now());
        m.urgent = true;
        let bark = prepare(&spec(ChannelKind::Bark, "https://api.day.app/KEY"), &m, now()).unwrap();
        assert_eq!(body(&bark)["level"], "critical");
        let ntfy = prepare(&spec(ChannelKind::Ntfy, "https://ntfy.sh/topic"), &m, now()).unwrap();
        assert_eq!(ntfy.header("priority"), Some("5"));
        assert!(ntfy.header("tags").unwrap().starts_with("rotating_light,"));
    }

    #[test]
    fn serverchan_posts_title_markdown_and_card_text_to_the_sendkey_url() {
        let m = alert();
        let url = format!("https://sctapi.ftqq.com/{KEY}.send");
        let r = prepare(&spec(ChannelKind::ServerChan, &url), &m, now()).unwrap();
        assert_eq!(url_of(&r), url);
        let b = body(&r);
        assert_eq!(b["title"], m.title.as_str());
        assert_eq!(b["noip"], 1);
        assert_eq!(b["short"], m.text.lines().next().unwrap());
        let desp = b["desp"].as_str().unwrap();
        assert!(desp.starts_with(&m.markdown), "{desp}");
        assert!(
            desp.ends_with(&format!("[去 12306 预订]({})", m.link.unwrap().href)),
            "{desp}"
        );
    }

    #[test]
    fn serverchan_titles_are_cut_to_its_32_character_limit() {
        let mut m = test_message("x", now());
        m.title = "余".repeat(40);
        let r = prepare(
            &spec(ChannelKind::ServerChan, "https://sctapi.ftqq.com/K.send"),
            &m,
            now(),
        )
        .unwrap();
        let t = body(&r)["title"].as_str().unwrap().to_string();
        assert_eq!(t.chars().count(), 32);
        assert!(t.ends_with('…'));
    }

    #[test]
    fn pushplus_sends_the_token_and_plain_text_with_the_link_spelled_out() {
        let m = alert();
        let mut s = ChannelSpec::new("wx", ChannelKind::PushPlus, None);
        s.token = secret(KEY);
        let r = prepare(&s, &m, now()).unwrap();
        assert_eq!(url_of(&r), "https://www.pushplus.plus/send");
        let b = body(&r);
        assert_eq!(b["token"], KEY);
        assert_eq!(b["template"], "txt");
        assert_eq!(b["title"], m.title.as_str());
        let link = m.link.unwrap();
        assert_eq!(b["content"], format!("{}\n去 12306 预订：{}", m.text, link.href));
    }

    #[test]
    fn wecom_gets_markdown_with_a_bold_title_and_the_link() {
        let m = alert();
        let url = format!("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={KEY}");
        let r = prepare(&spec(ChannelKind::WeCom, &url), &m, now()).unwrap();
        assert_eq!(url_of(&r), url);
        let b = body(&r);
        assert_eq!(b["msgtype"], "markdown");
        let content = b["markdown"]["content"].as_str().unwrap();
        assert!(
            content.starts_with("**余票 G8294 12-01 二等座 3张**  \n"),
            "{content}"
        );
        assert!(content.contains("**二等座 3张 ¥91**"), "{content}");
        assert!(content.ends_with(&format!("[去 12306 预订]({})", m.link.unwrap().href)));
    }

    #[test]
    fn wecom_markdown_stays_within_4096_bytes_and_keeps_the_link() {
        let mut m = alert();
        for i in 0..400 {
            m.push_note(&format!("第{i}行：很长很长的说明文字"));
        }
        let r = prepare(
            &spec(
                ChannelKind::WeCom,
                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K",
            ),
            &m,
            now(),
        )
        .unwrap();
        let content = body(&r)["markdown"]["content"].as_str().unwrap().to_string();
        assert!(content.len() <= WECOM_MARKDOWN_MAX, "{}", content.len());
        assert!(content.ends_with(&format!("[去 12306 预订]({})", m.link.unwrap().href)));
        assert!(content.starts_with("**余票"));
    }

    #[test]
    fn dingtalk_without_a_secret_posts_markdown_to_the_url_as_given() {
        let m = alert();
        let url = format!("https://oapi.dingtalk.com/robot/send?access_token={KEY}");
        let r = prepare(&spec(ChannelKind::DingTalk, &url), &m, now()).unwrap();
        assert_eq!(url_of(&r), url);
        let b = body(&r);
        assert_eq!(b["msgtype"], "markdown");
        assert_eq!(b["markdown"]["title"], m.title.as_str());
        assert!(b["markdown"]["text"].as_str().unwrap().starts_with("**余票"));
    }

    #[test]
    fn dingtalk_with_a_secret_appends_millisecond_timestamp_and_url_encoded_sign() {
        let m = alert();
        let mut s = spec(
            ChannelKind::DingTalk,
            &format!("https://oapi.dingtalk.com/robot/send?access_token={KEY}"),
        );
        s.secret = secret(SEC);
        let r = prepare(&s, &m, now()).unwrap();
        let url = url::Url::parse(&url_of(&r)).unwrap();
        let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["access_token"], KEY);
        assert_eq!(q["timestamp"], now().timestamp_millis().to_string());
        assert_eq!(q["sign"], dingtalk_sign(SEC, now().timestamp_millis()));
        // The raw query must carry the base64 percent-encoded: a bare '+' would read as a space.
        let raw_sign = url.query().unwrap().split("sign=").nth(1).unwrap();
        assert!(
            !raw_sign.contains('+') && !raw_sign.contains('/') && !raw_sign.contains('='),
            "{raw_sign}"
        );
        assert!(!format!("{r:?}").contains(KEY), "Debug must not show the URL");
    }

    #[test]
    fn feishu_posts_rich_text_with_title_lines_and_a_link_tag() {
        let m = alert();
        let url = format!("https://open.feishu.cn/open-apis/bot/v2/hook/{KEY}");
        let r = prepare(&spec(ChannelKind::Feishu, &url), &m, now()).unwrap();
        assert_eq!(url_of(&r), url);
        let b = body(&r);
        assert_eq!(b["msg_type"], "post");
        assert!(b.get("sign").is_none() && b.get("timestamp").is_none());
        let post = &b["content"]["post"]["zh_cn"];
        assert_eq!(post["title"], m.title.as_str());
        let content = post["content"].as_array().unwrap();
        assert_eq!(content[0][0]["tag"], "text");
        assert_eq!(content[0][0]["text"], m.text.lines().next().unwrap());
        let last = &content[content.len() - 1][0];
        assert_eq!(last["tag"], "a");
        assert_eq!(last["href"], m.link.unwrap().href.as_str());
    }

    #[test]
    fn feishu_with_a_secret_signs_in_the_body_with_seconds() {
        let mut s = spec(
            ChannelKind::Feishu,
            "https://open.feishu.cn/open-apis/bot/v2/hook/id",
        );
        s.secret = secret("feishu-secret");
        let r = prepare(&s, &alert(), now()).unwrap();
        let b = body(&r);
        assert_eq!(b["timestamp"], now().timestamp().to_string());
        assert_eq!(b["sign"], feishu_sign("feishu-secret", now().timestamp()));
    }

    #[test]
    fn telegram_sends_html_to_send_message_with_previews_off() {
        let m = alert();
        let mut s = spec(
            ChannelKind::Telegram,
            &format!("https://api.telegram.org/bot{KEY}/"),
        );
        s.chat_id = Some("-1001234567890".into());
        let r = prepare(&s, &m, now()).unwrap();
        assert_eq!(
            url_of(&r),
            format!("https://api.telegram.org/bot{KEY}/sendMessage")
        );
        let b = body(&r);
        assert_eq!(b["chat_id"], "-1001234567890");
        assert_eq!(b["parse_mode"], "HTML");
        assert_eq!(b["disable_web_page_preview"], true);
        assert_eq!(b["link_preview_options"]["is_disabled"], true);
        let text = b["text"].as_str().unwrap();
        assert!(text.starts_with("<b>余票 G8294 12-01 二等座 3张</b>\n"), "{text}");
        let href = html_escape(&m.link.unwrap().href);
        assert!(href.contains("&amp;"), "the booking URL has several parameters");
        assert!(
            text.ends_with(&format!("<a href=\"{href}\">去 12306 预订</a>")),
            "{text}"
        );
    }

    #[test]
    fn telegram_html_escapes_everything_taken_from_data() {
        let mut m = test_message("<b>&", now());
        m.title = "a<b>&\"".into();
        let mut s = spec(ChannelKind::Telegram, "https://api.telegram.org/bot1:A");
        s.chat_id = Some("@chan".into());
        let text = body(&prepare(&s, &m, now()).unwrap())["text"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(text.starts_with("<b>a&lt;b&gt;&amp;&quot;</b>"), "{text}");
        assert!(text.contains("「&lt;b&gt;&amp;」"), "{text}");
    }

    #[test]
    fn ntfy_posts_plain_text_with_title_priority_click_and_tags_headers() {
        let m = alert();
        let url = format!("https://ntfy.sh/{KEY}");
        let r = prepare(&spec(ChannelKind::Ntfy, &url), &m, now()).unwrap();
        assert_eq!(url_of(&r), url);
        assert_eq!(r.body, m.text.as_bytes());
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
        assert_eq!(r.header("priority"), Some("4"));
        assert_eq!(r.header("tags"), Some("bullettrain_side"));
        assert_eq!(r.header("click"), Some(m.link.as_ref().unwrap().href.as_str()));
        let title = r.header("title").unwrap();
        assert!(title.starts_with("=?UTF-8?B?") && title.is_ascii(), "{title}");
        assert_eq!(decode_rfc2047(title), m.title);
        assert!(r.header("authorization").is_none());
    }

    #[test]
    fn ntfy_sends_a_token_as_bearer_and_keeps_it_out_of_debug() {
        let mut s = spec(ChannelKind::Ntfy, "https://ntfy.example.com/alerts");
        s.token = secret("tk_secret123");
        let r = prepare(&s, &test_message("x", now()), now()).unwrap();
        assert_eq!(r.header("authorization"), Some("Bearer tk_secret123"));
        assert!(!format!("{r:?}").contains("tk_secret123"));
    }

    /// Decodes what [`rfc2047`] writes (adjacent encoded words, space between them dropped).
    fn decode_rfc2047(value: &str) -> String {
        let mut bytes = Vec::new();
        for word in value.split(' ') {
            let inner = word
                .strip_prefix("=?UTF-8?B?")
                .and_then(|w| w.strip_suffix("?="))
                .unwrap();
            bytes.extend(BASE64.decode(inner).unwrap());
        }
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn rfc2047_words_are_short_and_decode_to_the_original() {
        let long = "余票 G8294 12-04 二等座 3张 等3趟 上海虹桥→常州北 🚄 很长很长的标题";
        let enc = rfc2047(long);
        for word in enc.split(' ') {
            assert!(word.len() <= 75, "{word}");
        }
        assert_eq!(decode_rfc2047(&enc), long);
        assert_eq!(rfc2047("plain ascii"), "plain ascii");
        assert_eq!(decode_rfc2047(&rfc2047("tricky =?x?=")), "tricky =?x?=");
    }

    #[test]
    fn the_webhook_gets_the_documented_json_idempotency_key_and_signature() {
        let m = alert();
        let mut s = spec(ChannelKind::Webhook, "https://hooks.example.com/yupiao");
        s.secret = secret("hook-key");
        let r = prepare(&s, &m, now()).unwrap();
        assert_eq!(r.header("idempotency-key"), Some(m.idempotency_key.as_str()));
        assert_eq!(r.header("x-yupiao-event"), Some("seats"));
        assert_eq!(
            r.header("x-yupiao-signature").unwrap(),
            format!("sha256={}", hex(&hmac_by_definition(b"hook-key", &r.body)))
        );
        let b = body(&r);
        for key in [
            "event", "id", "time", "title", "text", "url", "urgent", "watch", "watches", "date", "train",
            "from", "to", "depart", "arrive", "seats", "trains", "status", "deadline", "order",
        ] {
            assert!(b.get(key).is_some(), "missing {key} in {b}");
        }
        assert_eq!(b["event"], "seats");
        assert_eq!(b["watch"], "回家");
        assert_eq!(b["date"], "2025-12-01");
        assert_eq!(b["train"], "G8294");
        assert_eq!(b["from"], "上海");
        assert_eq!(
            b["seats"],
            json!([{"seat": "二等座", "left": "3", "count": 3, "price": 91.0}])
        );
        assert_eq!(b["status"], serde_json::Value::Null);
        let back: WebhookPayload = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(back, WebhookPayload::from_message(&m));
    }

    #[test]
    fn a_webhook_without_secret_is_unsigned() {
        let r = prepare(
            &spec(ChannelKind::Webhook, "http://127.0.0.1:1/h"),
            &alert(),
            now(),
        )
        .unwrap();
        assert!(r.header("x-yupiao-signature").is_none());
        assert!(r.header("idempotency-key").is_some());
    }

    #[test]
    fn a_waitlist_push_on_the_webhook_carries_status_deadline_and_order() {
        use crate::rail::after_nate::{QueueAnswer, decode_queue, tests::seed_body};
        let QueueAnswer::Order(order) = decode_queue(&seed_body()).unwrap() else {
            panic!("seed is an order")
        };
        let at = crate::clock::beijing()
            .with_ymd_and_hms(2020, 3, 23, 14, 31, 0)
            .unwrap();
        let m = waitlist_message(
            &order,
            &[crate::waitlist::WaitlistReason::PaymentDue],
            at,
            "https://kyfw.12306.cn",
        );
        let r = prepare(&spec(ChannelKind::Webhook, "http://127.0.0.1:1/h"), &m, at).unwrap();
        let b = body(&r);
        assert_eq!(b["event"], "waitlist");
        assert_eq!(b["urgent"], true);
        assert_eq!(b["status"], "待支付");
        assert_eq!(b["order"], "E87000007466000022");
        assert!(
            b["deadline"].as_str().unwrap().starts_with("2020-03-23T15:00:37"),
            "{b}"
        );
    }

    #[test]
    fn an_invalid_spec_is_refused_with_its_problems_and_no_secret() {
        let s = spec(
            ChannelKind::WeCom,
            &format!("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?k={KEY}"),
        );
        let err = prepare(&s, &alert(), now()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("phone") && text.contains("url"), "{text}");
        assert!(!text.contains(KEY), "{text}");
    }

    #[test]
    fn truncation_cuts_between_characters_and_marks_the_cut() {
        assert_eq!(truncate_chars("abc", 3), "abc");
        assert_eq!(truncate_chars("abcd", 3), "ab…");
        assert_eq!(truncate_bytes("余票余票", 12), "余票余票");
        let cut = truncate_bytes("余票余票", 10);
        assert!(cut.len() <= 10 && cut.ends_with('…'), "{cut}");
    }
}
