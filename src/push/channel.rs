//! A push channel as the user configures it: which service, which URL, which secrets.
//!
//! A `[[channel]]` in `yupiao.toml` becomes a [`ChannelSpec`]. [`ChannelSpec::validate`] is pure
//! and returns *every* problem at once, each naming the field it is about ([`SpecField`]), so
//! the config loader can point at `yupiao.toml:LINE:COL` for each. Nothing here ever prints a
//! URL, key, token or secret: URLs are shown through [`redact_url`] (`https://api.day.app/***`),
//! because for every one of these services the URL *is* the credential (Bark's device key and
//! ntfy's topic are path segments, WeCom's `key` and DingTalk's `access_token` sit in the query).

use std::fmt;
use std::str::FromStr;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::quiet::QuietHours;

/// The services yupiao can push to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChannelKind {
    /// Bark (iOS), official server or self-hosted `bark-server`.
    Bark,
    /// Server酱 Turbo (`sctapi.ftqq.com`) and Server酱³ (`*.push.ft07.com`), to WeChat.
    ServerChan,
    /// PushPlus (`www.pushplus.plus`), to WeChat.
    PushPlus,
    /// WeCom (企业微信) group robot.
    WeCom,
    /// DingTalk (钉钉) group robot, optionally signed.
    DingTalk,
    /// Feishu / Lark (飞书) group robot, optionally signed.
    Feishu,
    /// A Telegram bot writing to one chat.
    Telegram,
    /// An ntfy topic (ntfy.sh or self-hosted).
    Ntfy,
    /// yupiao's own JSON webhook, for anything else.
    Webhook,
}

impl ChannelKind {
    /// Every kind, in the order the documentation lists them.
    pub const ALL: [ChannelKind; 9] = [
        ChannelKind::Bark,
        ChannelKind::ServerChan,
        ChannelKind::PushPlus,
        ChannelKind::WeCom,
        ChannelKind::DingTalk,
        ChannelKind::Feishu,
        ChannelKind::Telegram,
        ChannelKind::Ntfy,
        ChannelKind::Webhook,
    ];

    /// The value written in `kind = "…"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Bark => "bark",
            ChannelKind::ServerChan => "serverchan",
            ChannelKind::PushPlus => "pushplus",
            ChannelKind::WeCom => "wecom",
            ChannelKind::DingTalk => "dingtalk",
            ChannelKind::Feishu => "feishu",
            ChannelKind::Telegram => "telegram",
            ChannelKind::Ntfy => "ntfy",
            ChannelKind::Webhook => "webhook",
        }
    }

    /// `bark | serverchan | … | webhook`, for error messages.
    pub fn allowed() -> String {
        ChannelKind::ALL.map(ChannelKind::as_str).join(" | ")
    }

    /// The URL used when the channel sets none: only PushPlus has a fixed endpoint (its
    /// credential is `token`).
    pub fn default_url(self) -> Option<&'static str> {
        match self {
            ChannelKind::PushPlus => Some("https://www.pushplus.plus/send"),
            _ => None,
        }
    }

    /// The service renders Markdown in the pushed message (WeCom, DingTalk, Server酱), so
    /// [`super::PushMessage::markdown`] is sent; Telegram gets HTML (see `request.rs`), the rest
    /// plain text.
    pub fn renders_markdown(self) -> bool {
        matches!(
            self,
            ChannelKind::WeCom | ChannelKind::DingTalk | ChannelKind::ServerChan
        )
    }

    /// What this kind does with `secret`, or `None` when it has no use for one.
    fn secret_use(self) -> Option<&'static str> {
        match self {
            ChannelKind::DingTalk | ChannelKind::Feishu => Some("signing secret"),
            ChannelKind::Webhook => Some("HMAC key for X-Yupiao-Signature"),
            _ => None,
        }
    }

    /// What this kind does with `token`, or `None` when it has no use for one.
    fn token_use(self) -> Option<&'static str> {
        match self {
            ChannelKind::PushPlus => Some("PushPlus user token"),
            ChannelKind::Ntfy | ChannelKind::Webhook => Some("sent as `Authorization: Bearer …`"),
            _ => None,
        }
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `kind = "…"` names no service yupiao knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown channel kind {given:?}: use one of {}", ChannelKind::allowed())]
pub struct UnknownKind {
    pub given: String,
}

impl FromStr for ChannelKind {
    type Err = UnknownKind;

    /// Exact, lower-case names; `ServerChan`, `WeCom`… are accepted in any case because people
    /// type them as the services spell themselves.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        ChannelKind::ALL
            .into_iter()
            .find(|k| k.as_str() == wanted)
            .ok_or_else(|| UnknownKind { given: s.to_string() })
    }
}

impl Serialize for ChannelKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ChannelKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One configured channel. `url`, `secret` and `token` are secrets and stay wrapped: only
/// `request.rs` exposes them, to build the request.
#[derive(Debug, Clone)]
pub struct ChannelSpec {
    /// What `notify` lists and `yupiao test-notify NAME` call it.
    pub name: String,
    pub kind: ChannelKind,
    /// Exactly what the app or robot settings show (key included). `None` only where the kind
    /// has a [`ChannelKind::default_url`].
    pub url: Option<SecretString>,
    /// DingTalk `SEC…` / Feishu signing secret, or the webhook HMAC key.
    pub secret: Option<SecretString>,
    /// PushPlus token, or a bearer token for ntfy and the webhook.
    pub token: Option<SecretString>,
    /// Telegram chat: a numeric id (`-100…` for groups) or `@channelname`.
    pub chat_id: Option<String>,
    /// Beijing-time window in which non-urgent pushes wait (see `quiet.rs`).
    pub quiet: Option<QuietHours>,
}

/// The field a [`SpecError`] is about: the key in the `[[channel]]` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpecField {
    Name,
    Kind,
    Url,
    Secret,
    Token,
    ChatId,
    Quiet,
}

impl SpecField {
    /// The TOML key.
    pub fn key(self) -> &'static str {
        match self {
            SpecField::Name => "name",
            SpecField::Kind => "kind",
            SpecField::Url => "url",
            SpecField::Secret => "secret",
            SpecField::Token => "token",
            SpecField::ChatId => "chat_id",
            SpecField::Quiet => "quiet",
        }
    }
}

impl fmt::Display for SpecField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// One problem with a [`ChannelSpec`]. The messages never contain the value of `url`,
/// `secret` or `token`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("`name` is empty: give the channel a name to use in `notify` lists")]
    EmptyName,
    #[error(
        "`name` {name:?} contains {ch:?}: channel names cannot contain '@' or spaces (a `notify` \
         entry with '@' is an email address)"
    )]
    BadName { name: String, ch: char },
    #[error("`url` is missing: a {kind} channel needs {}", url_example(*.kind))]
    MissingUrl { kind: ChannelKind },
    #[error("`{field}` is empty")]
    Empty { field: SpecField },
    #[error("`url` is not a valid URL ({reason}); expected {}", url_example(*.kind))]
    UrlNotParsable { kind: ChannelKind, reason: String },
    #[error("`url` must start with http:// or https:// (it starts with {scheme:?})")]
    UrlScheme { scheme: String },
    #[error("`url` has no host: expected {}", url_example(*.kind))]
    UrlNoHost { kind: ChannelKind },
    #[error("`url` ({shown}) is not a {kind} URL: expected {}", url_example(*.kind))]
    UrlShape { kind: ChannelKind, shown: String },
    #[error("`token` is missing: a {kind} channel needs its {}", kind.token_use().unwrap_or("token"))]
    MissingToken { kind: ChannelKind },
    #[error(
        "`chat_id` is missing: a telegram channel needs the chat to write to (a number, or @channelname)"
    )]
    MissingChatId,
    #[error("`chat_id` {0:?} is neither a number nor an @channelname")]
    BadChatId(String),
    #[error(
        "`secret` does not start with \"SEC\": use the signing secret shown under 加签 in the \
         DingTalk robot's security settings"
    )]
    SecretPrefix,
    #[error("`{field}` has no use on a {kind} channel: remove it")]
    NotUsed { field: SpecField, kind: ChannelKind },
}

impl SpecError {
    /// The field to point at in `yupiao.toml`.
    pub fn field(&self) -> SpecField {
        match self {
            SpecError::EmptyName | SpecError::BadName { .. } => SpecField::Name,
            SpecError::MissingUrl { .. }
            | SpecError::UrlNotParsable { .. }
            | SpecError::UrlScheme { .. }
            | SpecError::UrlNoHost { .. }
            | SpecError::UrlShape { .. } => SpecField::Url,
            SpecError::Empty { field } | SpecError::NotUsed { field, .. } => *field,
            SpecError::MissingToken { .. } => SpecField::Token,
            SpecError::MissingChatId | SpecError::BadChatId(_) => SpecField::ChatId,
            SpecError::SecretPrefix => SpecField::Secret,
        }
    }
}

/// What the URL of each kind looks like, for error messages (placeholders, no real keys).
pub fn url_example(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Bark => "the device URL from the Bark app, like https://api.day.app/<key>",
        ChannelKind::ServerChan => "the SendKey URL, like https://sctapi.ftqq.com/<SendKey>.send",
        ChannelKind::PushPlus => "https://www.pushplus.plus/send (the default; put the token in `token`)",
        ChannelKind::WeCom => {
            "the robot's webhook, like https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=<key>"
        }
        ChannelKind::DingTalk => {
            "the robot's webhook, like https://oapi.dingtalk.com/robot/send?access_token=<token>"
        }
        ChannelKind::Feishu => "the robot's webhook, like https://open.feishu.cn/open-apis/bot/v2/hook/<id>",
        ChannelKind::Telegram => "https://api.telegram.org/bot<TOKEN> (without /sendMessage)",
        ChannelKind::Ntfy => "the topic URL, like https://ntfy.sh/<topic>",
        ChannelKind::Webhook => "any http:// or https:// URL",
    }
}

impl ChannelSpec {
    /// A spec with only the required parts; the optional ones start empty.
    pub fn new(name: impl Into<String>, kind: ChannelKind, url: Option<SecretString>) -> ChannelSpec {
        ChannelSpec {
            name: name.into(),
            kind,
            url,
            secret: None,
            token: None,
            chat_id: None,
            quiet: None,
        }
    }

    /// The URL requests go to (before any per-kind path or signature is added): the configured
    /// one, else the kind's default. Exposes the secret: callers must not log it.
    pub(crate) fn effective_url(&self) -> Option<String> {
        match &self.url {
            Some(u) => Some(u.expose_secret().trim().to_string()),
            None => self.kind.default_url().map(str::to_string),
        }
    }

    /// Every credential this channel holds, as text to scrub from anything a service echoes
    /// back (Bark repeats the device key in its error message): the key part of the URL, the
    /// secret and the token. Fragments shorter than 6 characters are left out (they would
    /// garble ordinary words and cannot be keys).
    pub(crate) fn credentials(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if let Some(raw) = self.effective_url()
            && let Ok(url) = url::Url::parse(&raw)
        {
            let (segments, last) = path_segments(&url);
            match self.kind {
                ChannelKind::Bark | ChannelKind::Feishu | ChannelKind::Ntfy => out.push(last.to_string()),
                ChannelKind::ServerChan => out.push(last.trim_end_matches(".send").to_string()),
                ChannelKind::Telegram => {
                    out.push(last.to_string());
                    out.push(last.trim_start_matches("bot").to_string());
                }
                ChannelKind::WeCom | ChannelKind::DingTalk | ChannelKind::PushPlus | ChannelKind::Webhook => {
                    out.extend(segments.iter().map(|s| s.to_string()));
                }
            }
            out.extend(url.query_pairs().map(|(_, v)| v.into_owned()));
            out.push(url.username().to_string());
            out.extend(url.password().map(str::to_string));
        }
        for s in [&self.secret, &self.token].into_iter().flatten() {
            out.push(s.expose_secret().trim().to_string());
        }
        out.retain(|c| c.chars().count() >= 6);
        // Longest first, so a key that contains another is scrubbed whole.
        out.sort_by_key(|c| std::cmp::Reverse(c.len()));
        out.dedup();
        out
    }

    /// The URL as it may be shown anywhere: scheme and host only (`https://api.day.app/***`).
    pub fn redacted_url(&self) -> String {
        match self.effective_url() {
            Some(u) => redact_url(&u),
            None => "(no url)".to_string(),
        }
    }

    /// Every problem with this channel, or `Ok` (pure: no network, no clock).
    pub fn validate(&self) -> Result<(), Vec<SpecError>> {
        let mut errors = Vec::new();
        let kind = self.kind;

        let name = self.name.trim();
        if name.is_empty() {
            errors.push(SpecError::EmptyName);
        } else if let Some(ch) = name.chars().find(|c| *c == '@' || c.is_whitespace()) {
            errors.push(SpecError::BadName {
                name: self.name.clone(),
                ch,
            });
        }

        match self.effective_url() {
            None => errors.push(SpecError::MissingUrl { kind }),
            Some(u) if u.is_empty() => errors.push(SpecError::Empty {
                field: SpecField::Url,
            }),
            Some(u) => {
                if let Err(e) = check_url(kind, &u) {
                    errors.push(e);
                }
            }
        }

        let secret = self.secret.as_ref().map(|s| s.expose_secret().trim());
        match (secret, kind.secret_use()) {
            (None, _) => {}
            (Some(_), None) => errors.push(SpecError::NotUsed {
                field: SpecField::Secret,
                kind,
            }),
            (Some(""), Some(_)) => errors.push(SpecError::Empty {
                field: SpecField::Secret,
            }),
            (Some(s), Some(_)) => {
                if kind == ChannelKind::DingTalk && !s.starts_with("SEC") {
                    errors.push(SpecError::SecretPrefix);
                }
            }
        }

        let token = self.token.as_ref().map(|t| t.expose_secret().trim());
        match (token, kind.token_use()) {
            (None, _) if kind == ChannelKind::PushPlus => errors.push(SpecError::MissingToken { kind }),
            (None, _) => {}
            (Some(_), None) => errors.push(SpecError::NotUsed {
                field: SpecField::Token,
                kind,
            }),
            (Some(""), Some(_)) => errors.push(SpecError::Empty {
                field: SpecField::Token,
            }),
            (Some(_), Some(_)) => {}
        }

        match (self.chat_id.as_deref().map(str::trim), kind) {
            (None, ChannelKind::Telegram) => errors.push(SpecError::MissingChatId),
            (Some(""), ChannelKind::Telegram) => errors.push(SpecError::Empty {
                field: SpecField::ChatId,
            }),
            (Some(c), ChannelKind::Telegram) => {
                if !is_chat_id(c) {
                    errors.push(SpecError::BadChatId(c.to_string()));
                }
            }
            (Some(_), _) => errors.push(SpecError::NotUsed {
                field: SpecField::ChatId,
                kind,
            }),
            (None, _) => {}
        }

        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

/// `-1001234567890`, `12345`, or `@channel_name` (Telegram's `chat_id`).
fn is_chat_id(c: &str) -> bool {
    let digits = c.strip_prefix('-').unwrap_or(c);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    c.strip_prefix('@')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
}

/// The URL's path segments, and the last non-empty one (where most services put the key).
fn path_segments(url: &url::Url) -> (Vec<&str>, &str) {
    let segments: Vec<&str> = url.path_segments().map(|s| s.collect()).unwrap_or_default();
    let last = segments
        .iter()
        .rev()
        .find(|s| !s.is_empty())
        .copied()
        .unwrap_or("");
    (segments, last)
}

/// Parses and checks the URL's shape for `kind`. Errors show the redacted form only.
fn check_url(kind: ChannelKind, raw: &str) -> Result<url::Url, SpecError> {
    let url = url::Url::parse(raw).map_err(|e| SpecError::UrlNotParsable {
        kind,
        reason: e.to_string(),
    })?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(SpecError::UrlScheme {
            scheme: url.scheme().to_string(),
        });
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(SpecError::UrlNoHost { kind });
    }
    let (segments, last) = path_segments(&url);
    let query = |key: &str| {
        url.query_pairs()
            .find(|(k, _)| k == key)
            .is_some_and(|(_, v)| !v.trim().is_empty())
    };
    let fits = match kind {
        // The device key: the app shows it as the first path segment after the server.
        ChannelKind::Bark => !last.is_empty() && last.bytes().all(|b| b.is_ascii_alphanumeric()),
        ChannelKind::ServerChan => last.len() > ".send".len() && last.ends_with(".send"),
        ChannelKind::PushPlus | ChannelKind::Webhook => true,
        ChannelKind::WeCom => query("key"),
        // A URL that already carries a signature would get a second, stale one appended.
        ChannelKind::DingTalk => query("access_token") && !query("sign") && !query("timestamp"),
        ChannelKind::Feishu => {
            segments.len() >= 2
                && segments[segments.len() - 2] == "hook"
                && !segments[segments.len() - 1].is_empty()
        }
        ChannelKind::Telegram => last.len() > 3 && last.starts_with("bot") && url.query().is_none(),
        ChannelKind::Ntfy => !last.is_empty(),
    };
    if fits {
        Ok(url)
    } else {
        Err(SpecError::UrlShape {
            kind,
            shown: redact_url(raw),
        })
    }
}

/// `scheme://host[:port]/***`: what may be shown of a channel URL. Path, query, fragment and
/// user info are never shown (each of them carries the key for some service). Text that is not
/// a URL at all is shown as `***`.
pub fn redact_url(raw: &str) -> String {
    let raw = raw.trim();
    // `https:/KEY` parses with KEY as the host: only a host written after `://` is shown.
    if !raw.contains("://") {
        return "***".to_string();
    }
    match url::Url::parse(raw) {
        Ok(u) => match u.host_str() {
            Some(host) if !host.is_empty() => match u.port() {
                Some(port) => format!("{}://{host}:{port}/***", u.scheme()),
                None => format!("{}://{host}/***", u.scheme()),
            },
            _ => "***".to_string(),
        },
        Err(_) => "***".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> Option<SecretString> {
        Some(SecretString::from(s.to_string()))
    }

    fn spec(kind: ChannelKind, url: &str) -> ChannelSpec {
        ChannelSpec::new("phone", kind, secret(url))
    }

    fn fields(spec: &ChannelSpec) -> Vec<SpecField> {
        spec.validate()
            .err()
            .unwrap_or_default()
            .iter()
            .map(SpecError::field)
            .collect()
    }

    #[test]
    fn every_kind_parses_from_its_name_and_round_trips_through_serde() {
        for kind in ChannelKind::ALL {
            assert_eq!(kind.as_str().parse::<ChannelKind>(), Ok(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<ChannelKind>(&json).unwrap(), kind);
        }
        assert_eq!("ServerChan".parse::<ChannelKind>(), Ok(ChannelKind::ServerChan));
    }

    #[test]
    fn an_unknown_kind_lists_every_allowed_value() {
        let err = "lark".parse::<ChannelKind>().unwrap_err().to_string();
        assert!(err.contains("\"lark\""), "{err}");
        for kind in ChannelKind::ALL {
            assert!(err.contains(kind.as_str()), "{err}");
        }
        let serde_err = serde_json::from_str::<ChannelKind>("\"lark\"")
            .unwrap_err()
            .to_string();
        assert!(serde_err.contains("bark | serverchan"), "{serde_err}");
    }

    #[test]
    fn typical_urls_of_every_kind_are_valid() {
        let ok = [
            (ChannelKind::Bark, "https://api.day.app/AbCdEf123456"),
            (ChannelKind::Bark, "https://bark.example.com/prefix/AbCdEf123456/"),
            (ChannelKind::ServerChan, "https://sctapi.ftqq.com/SCT123abc.send"),
            (
                ChannelKind::ServerChan,
                "https://123.push.ft07.com/send/sctp123tabc.send",
            ),
            (
                ChannelKind::WeCom,
                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7x",
            ),
            (
                ChannelKind::DingTalk,
                "https://oapi.dingtalk.com/robot/send?access_token=abc",
            ),
            (
                ChannelKind::Feishu,
                "https://open.feishu.cn/open-apis/bot/v2/hook/0f1e2d3c",
            ),
            (ChannelKind::Telegram, "https://api.telegram.org/bot123:ABC-def"),
            (ChannelKind::Ntfy, "https://ntfy.sh/yupiao_secret_topic"),
            (ChannelKind::Webhook, "http://127.0.0.1:9000/anything?x=1"),
        ];
        for (kind, url) in ok {
            let mut s = spec(kind, url);
            if kind == ChannelKind::Telegram {
                s.chat_id = Some("-1001234567890".into());
            }
            assert_eq!(s.validate(), Ok(()), "{kind} {url}");
        }
        let mut pushplus = ChannelSpec::new("wx", ChannelKind::PushPlus, None);
        pushplus.token = secret("0123456789abcdef");
        assert_eq!(pushplus.validate(), Ok(()));
        assert_eq!(pushplus.redacted_url(), "https://www.pushplus.plus/***");
    }

    #[test]
    fn required_parts_missing_are_each_reported_with_their_field() {
        let mut tg = spec(ChannelKind::Telegram, "https://api.telegram.org/bot123:ABC");
        tg.chat_id = None;
        assert_eq!(fields(&tg), vec![SpecField::ChatId]);

        let pushplus = ChannelSpec::new("wx", ChannelKind::PushPlus, None);
        assert_eq!(
            pushplus.validate(),
            Err(vec![SpecError::MissingToken {
                kind: ChannelKind::PushPlus
            }])
        );

        let bark = ChannelSpec::new("", ChannelKind::Bark, None);
        assert_eq!(fields(&bark), vec![SpecField::Name, SpecField::Url]);
    }

    #[test]
    fn all_problems_come_back_at_once() {
        let mut s = spec(
            ChannelKind::DingTalk,
            "ftp://oapi.dingtalk.com/robot/send?access_token=x",
        );
        s.name = "my phone".into();
        s.secret = secret("not-a-dingtalk-secret");
        s.token = secret("t");
        s.chat_id = Some("42".into());
        let errors = s.validate().unwrap_err();
        let got: Vec<SpecField> = errors.iter().map(SpecError::field).collect();
        assert_eq!(
            got,
            vec![
                SpecField::Name,
                SpecField::Url,
                SpecField::Secret,
                SpecField::Token,
                SpecField::ChatId
            ]
        );
        assert!(errors.contains(&SpecError::SecretPrefix));
        assert!(errors.contains(&SpecError::UrlScheme { scheme: "ftp".into() }));
    }

    #[test]
    fn a_url_of_the_wrong_shape_says_what_is_expected_without_the_key() {
        let cases = [
            (
                ChannelKind::WeCom,
                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?kee=SECRETKEY",
            ),
            (
                ChannelKind::DingTalk,
                "https://oapi.dingtalk.com/robot/send?token=SECRETKEY",
            ),
            (
                ChannelKind::DingTalk,
                "https://oapi.dingtalk.com/robot/send?access_token=SECRETKEY&timestamp=1&sign=x",
            ),
            (ChannelKind::ServerChan, "https://sctapi.ftqq.com/SECRETKEY"),
            (
                ChannelKind::Telegram,
                "https://api.telegram.org/botSECRETKEY/sendMessage",
            ),
            (
                ChannelKind::Feishu,
                "https://open.feishu.cn/open-apis/bot/v2/SECRETKEY",
            ),
            (
                ChannelKind::Bark,
                "https://api.day.app/SECRETKEY/这里改成你自己的推送内容",
            ),
            (ChannelKind::Ntfy, "https://ntfy.sh/"),
        ];
        for (kind, url) in cases {
            let mut s = spec(kind, url);
            s.chat_id = (kind == ChannelKind::Telegram).then(|| "1".to_string());
            let errors = s.validate().unwrap_err();
            assert_eq!(errors.len(), 1, "{kind}: {errors:?}");
            let text = errors[0].to_string();
            assert!(matches!(errors[0], SpecError::UrlShape { .. }), "{kind}: {text}");
            assert!(!text.contains("SECRETKEY"), "{text}");
            assert!(text.contains("***") && text.contains("expected"), "{text}");
        }
    }

    #[test]
    fn secrets_tokens_and_chat_ids_are_only_allowed_where_they_are_used() {
        let mut bark = spec(ChannelKind::Bark, "https://api.day.app/KEY");
        bark.secret = secret("x");
        bark.token = secret("y");
        bark.chat_id = Some("1".into());
        assert_eq!(
            fields(&bark),
            vec![SpecField::Secret, SpecField::Token, SpecField::ChatId]
        );

        let mut hook = spec(ChannelKind::Webhook, "https://example.com/h");
        hook.secret = secret("k");
        hook.token = secret("t");
        assert_eq!(hook.validate(), Ok(()));

        let mut feishu = spec(
            ChannelKind::Feishu,
            "https://open.feishu.cn/open-apis/bot/v2/hook/id",
        );
        feishu.secret = secret("anything-goes-for-feishu");
        assert_eq!(feishu.validate(), Ok(()));

        let mut empty = spec(ChannelKind::Webhook, "https://example.com/h");
        empty.secret = secret("  ");
        assert_eq!(
            empty.validate(),
            Err(vec![SpecError::Empty {
                field: SpecField::Secret
            }])
        );
    }

    #[test]
    fn telegram_chat_ids_are_numbers_or_channel_names() {
        for good in ["123", "-1001234567890", "@yupiao_alerts"] {
            assert!(is_chat_id(good), "{good}");
        }
        for bad in ["", "-", "@", "abc", "12 34", "@bad-name"] {
            assert!(!is_chat_id(bad), "{bad}");
        }
    }

    #[test]
    fn redaction_keeps_scheme_host_and_port_only() {
        assert_eq!(
            redact_url("https://api.day.app/KEY123"),
            "https://api.day.app/***"
        );
        assert_eq!(
            redact_url("http://127.0.0.1:8080/bark/KEY"),
            "http://127.0.0.1:8080/***"
        );
        assert_eq!(
            redact_url("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K"),
            "https://qyapi.weixin.qq.com/***"
        );
        assert_eq!(redact_url("not a url KEY"), "***");
        assert_eq!(
            redact_url("https://user:pass@host.example/x"),
            "https://host.example/***"
        );
    }

    /// Property-style: whatever the key looks like and wherever it sits, it never survives
    /// redaction, and neither does anything after the host.
    #[test]
    fn redaction_never_leaks_a_key_from_any_position() {
        let keys = [
            "K3yZ9qTopSecret",
            "SEC0123456789abcdef",
            "693a91f6-7xyz-4d2c-9bbb-topsecret",
            "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11",
            "tk_abcdefghijklmno",
            "%E5%AF%86%E9%92%A5secret",
        ];
        let shapes = [
            "https://api.day.app/{k}",
            "https://api.day.app/{k}/",
            "https://api.day.app/{k}/title/body",
            "https://bark.example.com:8443/prefix/{k}",
            "https://sctapi.ftqq.com/{k}.send",
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={k}",
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?debug=1&key={k}&x=2",
            "https://oapi.dingtalk.com/robot/send?access_token={k}",
            "https://oapi.dingtalk.com/robot/send?access_token={k}#frag",
            "https://open.feishu.cn/open-apis/bot/v2/hook/{k}",
            "https://api.telegram.org/bot{k}",
            "https://ntfy.sh/{k}",
            "http://{k}:{k}@127.0.0.1:9/x",
            "http://user@127.0.0.1:9/x?{k}",
            "https://[::1]:8080/{k}",
            "  https://api.day.app/{k}  ",
            "https://example.com/#{k}",
            "https://example.com/?{k}",
            "https:/{k}",
            "{k}",
            "https://example.com/a;{k}",
        ];
        for key in keys {
            for shape in shapes {
                let url = shape.replace("{k}", key);
                let shown = redact_url(&url);
                assert!(!shown.contains(key), "{url:?} → {shown:?}");
                assert!(shown.ends_with("***"), "{url:?} → {shown:?}");
                let lowered = shown.to_lowercase();
                assert!(!lowered.contains(&key.to_lowercase()), "{url:?} → {shown:?}");
            }
        }
    }

    #[test]
    fn spec_errors_never_contain_the_secret_values() {
        let key = "VerySecretKey0042";
        for kind in ChannelKind::ALL {
            for url in [
                format!("https://host.example/{key}/x/y"),
                format!("gopher://host.example/{key}"),
                format!("https://host.example/path?token={key}&sign={key}&timestamp=1"),
                key.to_string(),
            ] {
                let mut s = spec(kind, &url);
                s.secret = secret(key);
                s.token = secret(key);
                for e in s.validate().err().unwrap_or_default() {
                    assert!(!e.to_string().contains(key), "{kind}: {e}");
                }
                assert!(!format!("{s:?}").contains(key), "Debug leaks for {kind}");
                assert!(!s.redacted_url().contains(key));
            }
        }
    }
}
