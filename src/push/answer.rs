//! What a service's answer means: delivered, refused for good, or refused for now.
//!
//! Several services answer HTTP 200 to a refusal and put the verdict in the body (DingTalk and
//! WeCom `errcode`, Server酱 `code`, PushPlus `code`, Feishu `code`, Telegram `ok`), so the status
//! alone proves nothing. [`classify`] reads each service's success field, and sorts refusals into
//! [`FailureClass::Permanent`] (the outbox marks the push failed and shows it in `status`) and
//! [`FailureClass::Transient`] (retried with backoff, honouring a `retry-after` when the service
//! gives one). Each refusal also carries a [`Hint`] for `yupiao test-notify`.
//!
//! Error codes, and where they are documented:
//! - Bark: `code` 200 = ok; 400 "failed to get device token" (unknown key), 500 "push failed"
//!   (APNs) — `Finb/bark-server:route_push.go`.
//! - Server酱: `code` 0 = ok; 40001 "\[AUTH\]用户不存在或者权限不足" (bad SendKey) and, with the same
//!   code, "\[AUTH\]超过当天的发送次数限制\[5\]" (daily quota: transient, it resets at midnight);
//!   20001 input errors — the SDK's answer format in `easychen/serverchan-sdk`, bodies as
//!   reported by users.
//! - PushPlus: `code` 200 = ok; 903 bad token; 900 account restricted for sending too much
//!   (PushPlus asks clients to stop calling: permanent, not retried); 500 system error
//!   (transient); 302/401/403/600/805/888/905/999 other refusals
//!   (<http://api.pushplus.plus/doc-3034446>).
//! - WeCom: `errcode` 0 = ok; 93000 invalid webhook URL (bad key); 45009 over the 20 messages a
//!   minute; -1 system busy (<https://developer.work.weixin.qq.com/document/path/90313>).
//! - DingTalk: `errcode` 0 = ok; 300001/300005 bad token; 310000 security check failed ("sign not
//!   match", "invalid timestamp", "keywords not in content", IP whitelist); 130101 over 20 a
//!   minute (the robot is then throttled for 10 minutes); -1 system busy
//!   (<https://open.dingtalk.com/document/group/custom-robot-access>).
//! - Feishu: `code` (or the legacy `StatusCode`) 0 = ok; 19001 bad webhook token; 19021 bad
//!   signature or timestamp more than an hour off; 19022 IP not allowed; 19024 keyword missing;
//!   9499 bad request; 11232 rate limited
//!   (<https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot>).
//! - Telegram: `ok` true = ok; `error_code` 401 (bad token), 400 "chat not found", 403 (bot
//!   blocked or not in the chat), 429 with `parameters.retry_after`
//!   (<https://core.telegram.org/bots/api#making-requests>).
//! - ntfy: HTTP status; 401/403 auth, 429 limits, 5xx server (`binwiederhier/ntfy:server/errors.go`).
//! - webhook: 2xx = ok; 408, 429 and 5xx transient; anything else permanent.
//!
//! Codes not listed are permanent unless the HTTP status says otherwise (5xx, 429): an unknown
//! refusal is more likely a configuration problem than a passing one, and a permanent failure is
//! shown to the user at once instead of being retried quietly for two days.

use std::time::Duration;

use serde_json::Value;

use super::channel::ChannelKind;

/// A delivered push or a refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The service took the push; `detail` is its id for it or its word of success.
    Accepted {
        detail: String,
    },
    Refused(Refusal),
}

/// Why a push was not taken, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub class: FailureClass,
    /// The service's own words (code and message), safe to show: no URL, no key.
    pub reason: String,
    /// Wait at least this long before the next try, when the service said so.
    pub retry_after: Option<Duration>,
    pub hint: Hint,
}

/// Whether a refusal can heal by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// Will never work as configured: mark failed, do not retry.
    Permanent,
    /// May work later: retry with backoff.
    Transient,
}

/// What the user can do about a refusal (printed by `yupiao test-notify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    /// The key, token or webhook URL is unknown to the service.
    BadKey,
    /// The signature (or its timestamp) was refused.
    BadSignature,
    /// The receiver refused yupiao's credentials (webhook 401/403).
    Unauthorized,
    /// Telegram: the bot cannot write to this chat.
    ChatNotFound,
    /// The robot's keyword or IP-whitelist security setting refused the push.
    SecuritySetting,
    /// Too many pushes: the service asked to slow down.
    RateLimited,
    /// The service failed on its side.
    ServerError,
    /// No answer: DNS, connection, TLS or timeout.
    Unreachable,
    /// The service refused the request itself (shape, size, content).
    Rejected,
}

impl Hint {
    /// One sentence saying what to check or do.
    pub fn advice(self) -> &'static str {
        match self {
            Hint::BadKey => {
                "the service does not know this key: copy the URL (and token) again from the app or robot \
                 settings; a deleted robot or a reset key gives this too"
            }
            Hint::BadSignature => {
                "the signature was refused: check `secret` (DingTalk: the SEC… string under 加签; Feishu: the \
                 签名校验 secret) and that this machine's clock is right (the services allow one hour)"
            }
            Hint::Unauthorized => {
                "the receiver refused yupiao's credentials: check `secret` (the HMAC key for \
                 X-Yupiao-Signature) and `token` against the receiver's settings"
            }
            Hint::ChatNotFound => {
                "the bot cannot write to this chat: check `chat_id`, send /start to the bot (private chats) \
                 or add it to the group or channel (as an admin for channels)"
            }
            Hint::SecuritySetting => {
                "the robot's security settings refused the push: remove the keyword rule (or add the word \
                 余票) or add this machine's public IP to the whitelist, or use 加签 instead"
            }
            Hint::RateLimited => {
                "the service is limiting how often this key may push: yupiao retries later (Server酱's \
                 free plan allows 5 pushes a day; robots allow about 20 a minute)"
            }
            Hint::ServerError => "the service failed on its side: yupiao retries with backoff",
            Hint::Unreachable => {
                "the service did not answer: check the URL's host name, DNS, any proxy and the firewall; \
                 yupiao retries with backoff"
            }
            Hint::Rejected => "the service refused the request: see its reason above",
        }
    }
}

impl Outcome {
    pub fn is_accepted(&self) -> bool {
        matches!(self, Outcome::Accepted { .. })
    }

    /// The same outcome with every occurrence of `secrets` in its words replaced by `***`:
    /// services echo keys back (Bark: "failed to get \[KEY\] device token"), and a reason ends up
    /// in logs and `status`.
    pub fn scrubbed(self, secrets: &[String]) -> Outcome {
        let scrub = |mut s: String| {
            for secret in secrets.iter().filter(|x| !x.is_empty()) {
                if s.contains(secret.as_str()) {
                    s = s.replace(secret.as_str(), "***");
                }
            }
            s
        };
        match self {
            Outcome::Accepted { detail } => Outcome::Accepted {
                detail: scrub(detail),
            },
            Outcome::Refused(r) => Outcome::Refused(Refusal {
                reason: scrub(r.reason),
                ..r
            }),
        }
    }
}

fn refused(
    class: FailureClass,
    hint: Hint,
    reason: impl Into<String>,
    retry_after: Option<Duration>,
) -> Outcome {
    Outcome::Refused(Refusal {
        class,
        reason: reason.into(),
        retry_after,
        hint,
    })
}

fn permanent(hint: Hint, reason: impl Into<String>) -> Outcome {
    refused(FailureClass::Permanent, hint, reason, None)
}

fn transient(hint: Hint, reason: impl Into<String>, retry_after: Option<Duration>) -> Outcome {
    refused(FailureClass::Transient, hint, reason, retry_after)
}

/// The meaning of one answer: `status` and (capped) `body` as received, `retry_after` from the
/// `Retry-After` header when there was one. Pure.
pub fn classify(kind: ChannelKind, status: u16, body: &str, retry_after: Option<Duration>) -> Outcome {
    let json: Option<Value> = serde_json::from_str(body.trim()).ok();
    let said = short(body);
    // Status-level verdicts that hold for every service.
    if status == 429 {
        let after = retry_after.or_else(|| telegram_retry_after(json.as_ref()));
        return transient(Hint::RateLimited, format!("HTTP 429: {said}"), after);
    }
    if status >= 500 || status == 408 {
        // A JSON refusal inside a 5xx is still read for its rate-limit codes below (DingTalk has
        // been seen answering 130101 with HTTP 500), but is transient whatever it says.
        if let Some(Outcome::Refused(r)) = json.as_ref().and_then(|j| by_body(kind, status, j))
            && r.hint == Hint::RateLimited
        {
            return transient(Hint::RateLimited, r.reason, r.retry_after.or(retry_after));
        }
        return transient(Hint::ServerError, format!("HTTP {status}: {said}"), retry_after);
    }
    if (300..400).contains(&status) {
        return permanent(
            Hint::BadKey,
            format!("HTTP {status}: redirected; the URL has moved (copy it again from the service)"),
        );
    }
    if let Some(j) = &json
        && let Some(outcome) = by_body(kind, status, j)
    {
        return outcome;
    }
    // No recognisable body.
    match (kind, status) {
        (ChannelKind::Ntfy | ChannelKind::Webhook, 200..=299) => Outcome::Accepted {
            detail: format!("HTTP {status}"),
        },
        (_, 200..=299) => transient(
            Hint::ServerError,
            format!("HTTP {status} without the service's answer (a proxy page?): {said}"),
            retry_after,
        ),
        (ChannelKind::Webhook, 401 | 403) => permanent(Hint::Unauthorized, format!("HTTP {status}: {said}")),
        (_, 401 | 403) => permanent(Hint::BadKey, format!("HTTP {status}: {said}")),
        (_, 404) => permanent(Hint::BadKey, format!("HTTP 404: nothing at this URL ({said})")),
        _ => permanent(Hint::Rejected, format!("HTTP {status}: {said}")),
    }
}

/// The verdict of a JSON body, per service; `None` when the body is not the service's answer.
fn by_body(kind: ChannelKind, status: u16, j: &Value) -> Option<Outcome> {
    match kind {
        ChannelKind::Bark => bark(j),
        ChannelKind::ServerChan => serverchan(j),
        ChannelKind::PushPlus => pushplus(j),
        ChannelKind::WeCom => wecom(j),
        ChannelKind::DingTalk => dingtalk(j),
        ChannelKind::Feishu => feishu(j),
        ChannelKind::Telegram => telegram(j),
        ChannelKind::Ntfy => ntfy(status, j),
        ChannelKind::Webhook => webhook(status, j),
    }
}

fn int(j: &Value, key: &str) -> Option<i64> {
    match j.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn text<'a>(j: &'a Value, key: &str) -> &'a str {
    j.get(key).and_then(Value::as_str).unwrap_or("")
}

fn bark(j: &Value) -> Option<Outcome> {
    let code = int(j, "code")?;
    let msg = text(j, "message");
    let reason = format!("code {code}: {}", short(msg));
    Some(match code {
        200 => Outcome::Accepted {
            detail: short(msg).to_string(),
        },
        400 if msg.contains("device token") || msg.contains("device key") => permanent(Hint::BadKey, reason),
        500..=599 => transient(Hint::ServerError, reason, None),
        _ => permanent(Hint::Rejected, reason),
    })
}

fn serverchan(j: &Value) -> Option<Outcome> {
    let code = int(j, "code")?;
    let msg = match text(j, "message") {
        "" => text(j, "info"),
        m => m,
    };
    let reason = format!("code {code}: {}", short(msg));
    Some(match code {
        0 => {
            let id = j
                .pointer("/data/pushid")
                .map(|v| v.to_string().trim_matches('"').to_string());
            Outcome::Accepted {
                detail: id
                    .map(|i| format!("pushid {i}"))
                    .unwrap_or_else(|| "ok".to_string()),
            }
        }
        // The daily quota shares 40001 with a bad key; only the message tells them apart.
        40001 if msg.contains("发送次数") || msg.contains("次数限制") => {
            transient(Hint::RateLimited, reason, None)
        }
        40001 => permanent(Hint::BadKey, reason),
        500..=599 => transient(Hint::ServerError, reason, None),
        _ => permanent(Hint::Rejected, reason),
    })
}

fn pushplus(j: &Value) -> Option<Outcome> {
    let code = int(j, "code")?;
    let reason = format!("code {code}: {}", short(text(j, "msg")));
    Some(match code {
        200 => Outcome::Accepted {
            detail: match j.get("data") {
                Some(Value::String(id)) if !id.is_empty() => format!("流水号 {id}"),
                _ => "ok".to_string(),
            },
        },
        903 | 401 | 302 => permanent(Hint::BadKey, reason),
        900 => permanent(Hint::RateLimited, reason),
        500 => transient(Hint::ServerError, reason, None),
        _ => permanent(Hint::Rejected, reason),
    })
}

fn wecom(j: &Value) -> Option<Outcome> {
    let code = int(j, "errcode")?;
    let reason = format!("errcode {code}: {}", short(first_clause(text(j, "errmsg"))));
    Some(match code {
        0 => Outcome::Accepted {
            detail: "ok".to_string(),
        },
        93000 | 40001 | 40014 => permanent(Hint::BadKey, reason),
        45009 => transient(Hint::RateLimited, reason, Some(Duration::from_secs(60))),
        -1 => transient(Hint::ServerError, reason, None),
        _ => permanent(Hint::Rejected, reason),
    })
}

fn dingtalk(j: &Value) -> Option<Outcome> {
    let code = int(j, "errcode")?;
    let msg = text(j, "errmsg");
    let reason = format!("errcode {code}: {}", short(msg));
    Some(match code {
        0 => Outcome::Accepted {
            detail: "ok".to_string(),
        },
        300001 | 300005 => permanent(Hint::BadKey, reason),
        40035 | 400013 if msg.contains("token") => permanent(Hint::BadKey, reason),
        310000 if msg.contains("sign") || msg.contains("timestamp") => permanent(Hint::BadSignature, reason),
        310000 => permanent(Hint::SecuritySetting, reason),
        // "send too fast, exceed 20 times per minute": DingTalk then throttles for 10 minutes.
        130101 => transient(Hint::RateLimited, reason, Some(Duration::from_secs(600))),
        -1 => transient(Hint::ServerError, reason, None),
        _ => permanent(Hint::Rejected, reason),
    })
}

fn feishu(j: &Value) -> Option<Outcome> {
    let code = int(j, "code").or_else(|| int(j, "StatusCode"))?;
    let msg = match text(j, "msg") {
        "" => text(j, "StatusMessage"),
        m => m,
    };
    let reason = format!("code {code}: {}", short(msg));
    Some(match code {
        0 => Outcome::Accepted {
            detail: short(msg).to_string(),
        },
        19001 => permanent(Hint::BadKey, reason),
        19021 => permanent(Hint::BadSignature, reason),
        19022 | 19024 => permanent(Hint::SecuritySetting, reason),
        11232 => transient(Hint::RateLimited, reason, Some(Duration::from_secs(60))),
        _ => permanent(Hint::Rejected, reason),
    })
}

fn telegram_retry_after(j: Option<&Value>) -> Option<Duration> {
    let secs = j?.pointer("/parameters/retry_after")?.as_u64()?;
    Some(Duration::from_secs(secs))
}

fn telegram(j: &Value) -> Option<Outcome> {
    let ok = j.get("ok")?.as_bool()?;
    if ok {
        let id = j.pointer("/result/message_id").and_then(Value::as_i64);
        return Some(Outcome::Accepted {
            detail: id
                .map(|i| format!("message_id {i}"))
                .unwrap_or_else(|| "ok".to_string()),
        });
    }
    let code = int(j, "error_code").unwrap_or(0);
    let desc = text(j, "description");
    let reason = format!("error_code {code}: {}", short(desc));
    let lower = desc.to_lowercase();
    Some(match code {
        401 | 404 => permanent(Hint::BadKey, reason),
        429 => transient(Hint::RateLimited, reason, telegram_retry_after(Some(j))),
        400 if lower.contains("chat not found") => permanent(Hint::ChatNotFound, reason),
        403 => permanent(Hint::ChatNotFound, reason),
        500..=599 => transient(Hint::ServerError, reason, None),
        _ => permanent(Hint::Rejected, reason),
    })
}

fn ntfy(status: u16, j: &Value) -> Option<Outcome> {
    if (200..300).contains(&status) {
        let id = text(j, "id");
        return Some(Outcome::Accepted {
            detail: if id.is_empty() {
                "ok".to_string()
            } else {
                format!("id {id}")
            },
        });
    }
    let code = int(j, "code").unwrap_or(0);
    let reason = format!("HTTP {status}, code {code}: {}", short(text(j, "error")));
    Some(match status {
        401 | 403 => permanent(Hint::BadKey, reason),
        _ => permanent(Hint::Rejected, reason),
    })
}

fn webhook(status: u16, j: &Value) -> Option<Outcome> {
    let said = short(&j.to_string()).to_string();
    Some(match status {
        200..=299 => Outcome::Accepted {
            detail: format!("HTTP {status}"),
        },
        401 | 403 => permanent(Hint::Unauthorized, format!("HTTP {status}: {said}")),
        _ => permanent(Hint::Rejected, format!("HTTP {status}: {said}")),
    })
}

/// WeCom appends `, hint: [...], from ip: ..., more info at ...` (the caller's IP): keep the
/// part before it.
fn first_clause(msg: &str) -> &str {
    msg.split(", hint:").next().unwrap_or(msg)
}

/// At most 200 characters of what a service said, on one line.
fn short(s: &str) -> &str {
    let s = s.trim();
    let s = s.lines().next().unwrap_or("");
    match s.char_indices().nth(200) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ChannelKind::*;
    use FailureClass::*;

    fn refusal(kind: ChannelKind, status: u16, body: &str) -> Refusal {
        match classify(kind, status, body, None) {
            Outcome::Refused(r) => r,
            accepted => panic!("{kind} {status} {body}: expected a refusal, got {accepted:?}"),
        }
    }

    /// DingTalk's rate limit: at most 20 messages a minute, then a ten-minute wait.
    const DINGTALK_TOO_FAST: &str =
        r#"{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}"#;

    fn class_and_hint(kind: ChannelKind, status: u16, body: &str) -> (FailureClass, Hint) {
        let r = refusal(kind, status, body);
        (r.class, r.hint)
    }

    /// Every `(kind, body)` answered with HTTP 200 is classified `want`.
    fn every_200_is(cases: &[(ChannelKind, &str)], want: (FailureClass, Hint)) {
        for (kind, body) in cases {
            assert_eq!(class_and_hint(*kind, 200, body), want, "{kind} {body}");
        }
    }

    #[test]
    fn each_services_success_answer_is_accepted() {
        let ok = [
            (
                Bark,
                200,
                r#"{"code":200,"message":"success","timestamp":1764811805}"#,
            ),
            (
                ServerChan,
                200,
                r#"{"code":0,"message":"","data":{"pushid":"1663686","readkey":"SCTPmUPAz9ljk3Q","error":"SUCCESS","errno":0}}"#,
            ),
            (
                PushPlus,
                200,
                r#"{"code":200,"msg":"请求成功","data":"6f1e2d3c4b5a","count":null}"#,
            ),
            (WeCom, 200, r#"{"errcode":0,"errmsg":"ok"}"#),
            (DingTalk, 200, r#"{"errcode":0,"errmsg":"ok"}"#),
            (
                Feishu,
                200,
                r#"{"StatusCode":0,"StatusMessage":"success","code":0,"data":{},"msg":"success"}"#,
            ),
            (
                Feishu,
                200,
                r#"{"Extra":null,"StatusCode":0,"StatusMessage":"success"}"#,
            ),
            (
                Telegram,
                200,
                r#"{"ok":true,"result":{"message_id":42,"date":1764811805,"chat":{"id":-100,"type":"group"},"text":"x"}}"#,
            ),
            (
                Ntfy,
                200,
                r#"{"id":"sPs71M8A2T","time":1764811805,"expires":1764855005,"event":"message","topic":"t","message":"x"}"#,
            ),
            (Webhook, 200, r#"{"ok":true}"#),
            (Webhook, 204, ""),
        ];
        for (kind, status, body) in ok {
            let o = classify(kind, status, body, None);
            assert!(o.is_accepted(), "{kind}: {o:?}");
        }
        assert_eq!(
            classify(ServerChan, 200, ok[1].2, None),
            Outcome::Accepted {
                detail: "pushid 1663686".into()
            }
        );
        assert_eq!(
            classify(Telegram, 200, ok[7].2, None),
            Outcome::Accepted {
                detail: "message_id 42".into()
            }
        );
    }

    #[test]
    fn http_200_with_an_error_code_is_a_refusal_not_a_success() {
        every_200_is(
            &[
                (DingTalk, r#"{"errcode":300005,"errmsg":"token is not exist"}"#),
                (
                    WeCom,
                    r#"{"errcode":93000,"errmsg":"invalid webhook url, hint: [1708397705432012366598976], from ip: 218.72.126.124, more info at https://open.work.weixin.qq.com/devtool/query?e=93000"}"#,
                ),
                (
                    ServerChan,
                    r#"{"message":"[AUTH]用户不存在或者权限不足","code":40001,"info":"用户不存在或者权限不足","args":[null]}"#,
                ),
                (PushPlus, r#"{"code":903,"msg":"无效的用户令牌","data":null}"#),
                (
                    Feishu,
                    r#"{"code":19001,"data":{},"msg":"param invalid: incoming webhook access token invalid"}"#,
                ),
                (
                    Telegram,
                    r#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#,
                ),
            ],
            (Permanent, Hint::BadKey),
        );
    }

    #[test]
    fn bad_keys_are_permanent_with_the_bad_key_hint() {
        assert_eq!(
            class_and_hint(
                Bark,
                400,
                r#"{"code":400,"message":"failed to get device token: failed to get [KEY] device token from database","timestamp":1764811805}"#
            ),
            (Permanent, Hint::BadKey)
        );
        assert_eq!(
            class_and_hint(
                Ntfy,
                403,
                r#"{"code":40301,"http":403,"error":"forbidden","link":"https://ntfy.sh/docs/publish/#authentication"}"#
            ),
            (Permanent, Hint::BadKey)
        );
        assert_eq!(
            class_and_hint(
                Telegram,
                404,
                r#"{"ok":false,"error_code":404,"description":"Not Found"}"#
            ),
            (Permanent, Hint::BadKey)
        );
    }

    #[test]
    fn wecom_reason_drops_the_hint_and_caller_ip() {
        let r = refusal(
            WeCom,
            200,
            r#"{"errcode":93000,"errmsg":"invalid webhook url, hint: [1708397705432012366598976], from ip: 218.72.126.124, more info at https://open.work.weixin.qq.com/devtool/query?e=93000"}"#,
        );
        assert_eq!(r.reason, "errcode 93000: invalid webhook url");
    }

    #[test]
    fn signature_failures_are_permanent_with_the_signature_hint() {
        every_200_is(
            &[
                (DingTalk, r#"{"errcode":310000,"errmsg":"sign not match"}"#),
                (DingTalk, r#"{"errcode":310000,"errmsg":"invalid timestamp"}"#),
                (
                    Feishu,
                    r#"{"code":19021,"data":{},"msg":"sign match fail or timestamp is not within one hour from current time"}"#,
                ),
            ],
            (Permanent, Hint::BadSignature),
        );
        assert_eq!(
            class_and_hint(Webhook, 401, r#"{"error":"bad signature"}"#),
            (Permanent, Hint::Unauthorized)
        );
    }

    #[test]
    fn robot_security_settings_are_their_own_hint() {
        every_200_is(
            &[
                (
                    DingTalk,
                    r#"{"errcode":310000,"errmsg":"keywords not in content"}"#,
                ),
                (
                    DingTalk,
                    r#"{"errcode":310000,"errmsg":"ip X.X.X.X not in whitelist"}"#,
                ),
                (Feishu, r#"{"code":19024,"msg":"Key Words Not Found"}"#),
                (Feishu, r#"{"code":19022,"msg":"Ip Not Allowed"}"#),
            ],
            (Permanent, Hint::SecuritySetting),
        );
    }

    #[test]
    fn rate_limits_are_transient_and_keep_the_services_wait() {
        let dt = refusal(DingTalk, 200, DINGTALK_TOO_FAST);
        assert_eq!(
            (dt.class, dt.hint, dt.retry_after),
            (Transient, Hint::RateLimited, Some(Duration::from_secs(600)))
        );
        let wc = refusal(
            WeCom,
            200,
            r#"{"errcode":45009,"errmsg":"api freq out of limit"}"#,
        );
        assert_eq!((wc.class, wc.hint), (Transient, Hint::RateLimited));
        let fs = refusal(
            Feishu,
            200,
            r#"{"code":11232,"data":{},"msg":"frequency limited psm[lark.oapi.app_platform_runtime]appID[1]"}"#,
        );
        assert_eq!((fs.class, fs.hint), (Transient, Hint::RateLimited));
        let tg = refusal(
            Telegram,
            429,
            r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 35","parameters":{"retry_after":35}}"#,
        );
        assert_eq!(
            (tg.class, tg.retry_after),
            (Transient, Some(Duration::from_secs(35)))
        );
        let nt = refusal(
            Ntfy,
            429,
            r#"{"code":42901,"http":429,"error":"limit reached: too many requests, please be nice","link":"https://ntfy.sh/docs/publish/#limitations"}"#,
        );
        assert_eq!((nt.class, nt.hint), (Transient, Hint::RateLimited));
        let hook = classify(Webhook, 429, "slow down", Some(Duration::from_secs(7)));
        assert!(
            matches!(hook, Outcome::Refused(Refusal { class: Transient, retry_after: Some(d), .. }) if d == Duration::from_secs(7))
        );
    }

    #[test]
    fn a_dingtalk_rate_limit_inside_a_500_keeps_its_ten_minute_wait() {
        let r = refusal(DingTalk, 500, DINGTALK_TOO_FAST);
        assert_eq!(
            (r.class, r.hint, r.retry_after),
            (Transient, Hint::RateLimited, Some(Duration::from_secs(600)))
        );
    }

    #[test]
    fn serverchans_daily_quota_is_transient_though_it_shares_the_bad_key_code() {
        let r = refusal(
            ServerChan,
            400,
            r#"{"code":40001,"message":"[AUTH]超过当天的发送次数限制[5]，请稍后再试","info":"超过当天的发送次数限制[5]，请稍后再试","args":[null]}"#,
        );
        assert_eq!((r.class, r.hint), (Transient, Hint::RateLimited));
        let bad = refusal(
            ServerChan,
            400,
            r#"{"message":"[AUTH]用户不存在或者权限不足","code":40001,"info":"用户不存在或者权限不足","args":[null]}"#,
        );
        assert_eq!((bad.class, bad.hint), (Permanent, Hint::BadKey));
    }

    #[test]
    fn pushplus_account_restriction_is_not_retried() {
        // PushPlus: "900 用户账号使用受限(请求次数过多,停止继续请求)": calling on makes it worse.
        assert_eq!(
            class_and_hint(
                PushPlus,
                200,
                r#"{"code":900,"msg":"用户账号使用受限","data":null}"#
            ),
            (Permanent, Hint::RateLimited)
        );
        assert_eq!(
            class_and_hint(
                PushPlus,
                200,
                r#"{"code":500,"msg":"系统异常,请稍后再试","data":null}"#
            ),
            (Transient, Hint::ServerError)
        );
    }

    #[test]
    fn server_errors_and_gateways_are_transient() {
        for kind in ChannelKind::ALL {
            for status in [500, 502, 503, 504, 408] {
                let r = refusal(kind, status, "<html><body><h1>502 Bad Gateway</h1></body></html>");
                assert_eq!(r.class, Transient, "{kind} {status}");
            }
        }
        assert_eq!(
            class_and_hint(
                Bark,
                500,
                r#"{"code":500,"message":"push failed: apns down","timestamp":1}"#
            ),
            (Transient, Hint::ServerError)
        );
        assert_eq!(
            class_and_hint(WeCom, 200, r#"{"errcode":-1,"errmsg":"system busy"}"#),
            (Transient, Hint::ServerError)
        );
    }

    #[test]
    fn telegram_chat_problems_get_the_chat_hint() {
        assert_eq!(
            class_and_hint(
                Telegram,
                400,
                r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#
            ),
            (Permanent, Hint::ChatNotFound)
        );
        assert_eq!(
            class_and_hint(
                Telegram,
                403,
                r#"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"#
            ),
            (Permanent, Hint::ChatNotFound)
        );
        assert_eq!(
            class_and_hint(
                Telegram,
                400,
                r#"{"ok":false,"error_code":400,"description":"Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 0"}"#
            ),
            (Permanent, Hint::Rejected)
        );
    }

    #[test]
    fn a_200_without_the_services_answer_is_retried_not_trusted() {
        for kind in [Bark, ServerChan, PushPlus, WeCom, DingTalk, Feishu, Telegram] {
            let r = refusal(kind, 200, "<html>captive portal</html>");
            assert_eq!((r.class, r.hint), (Transient, Hint::ServerError), "{kind}");
        }
    }

    #[test]
    fn redirects_and_other_client_errors_are_permanent() {
        assert_eq!(class_and_hint(Webhook, 301, ""), (Permanent, Hint::BadKey));
        assert_eq!(class_and_hint(Webhook, 400, "bad"), (Permanent, Hint::Rejected));
        assert_eq!(class_and_hint(Webhook, 404, ""), (Permanent, Hint::BadKey));
        assert_eq!(
            class_and_hint(Webhook, 403, "no"),
            (Permanent, Hint::Unauthorized)
        );
        assert_eq!(
            class_and_hint(Feishu, 200, r#"{"code":9499,"msg":"Bad Request","data":{}}"#),
            (Permanent, Hint::Rejected)
        );
    }

    #[test]
    fn reasons_are_one_short_line() {
        let long = format!(
            "{{\"errcode\":12345,\"errmsg\":\"{}\\nsecond line\"}}",
            "x".repeat(500)
        );
        let r = refusal(WeCom, 200, &long);
        assert!(r.reason.chars().count() < 230, "{}", r.reason.len());
        assert!(!r.reason.contains('\n'));
    }

    #[test]
    fn every_hint_has_advice() {
        for hint in [
            Hint::BadKey,
            Hint::BadSignature,
            Hint::Unauthorized,
            Hint::ChatNotFound,
            Hint::SecuritySetting,
            Hint::RateLimited,
            Hint::ServerError,
            Hint::Unreachable,
            Hint::Rejected,
        ] {
            assert!(hint.advice().len() > 20, "{hint:?}");
        }
    }
}
