//! The group-chat robots: WeCom (企业微信), DingTalk (钉钉) and Feishu (飞书) webhooks, with
//! DingTalk's and Feishu's 加签 signatures checked independently from the configured secret.

use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use super::exchange::{GATEWAY_502, Req, Verdict, fresh, hmac, str_field};
use super::state::{Failure, Inner};
use crate::push::channel::ChannelKind;

pub(super) fn wecom(st: &Inner, req: &Req) -> Verdict {
    let ok = StatusCode::OK;
    if req.query().get("key") != Some(&st.config.wecom_key) {
        return failure(ChannelKind::WeCom, Failure::BadKey);
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

pub(super) fn dingtalk(st: &Inner, req: &Req) -> Verdict {
    let ok = StatusCode::OK;
    let q = req.query();
    match q.get("access_token") {
        None => return Verdict::json(ok, json!({"errcode": 40035, "errmsg": "缺少参数 access_token"})),
        Some(t) if *t != st.config.dingtalk_token => {
            return failure(ChannelKind::DingTalk, Failure::BadKey);
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

pub(super) fn feishu(st: &Inner, req: &Req) -> Verdict {
    let ok = StatusCode::OK;
    let bad_request = || Verdict::json(ok, json!({"code": 9499, "msg": "Bad Request", "data": {}}));
    if req.segment_after("/open-apis/bot/v2/hook/") != st.config.feishu_hook {
        return failure(ChannelKind::Feishu, Failure::BadKey);
    }
    if req.body.len() > 20 * 1024 {
        return bad_request();
    }
    let Some(j) = req.json() else {
        return bad_request();
    };
    if let Some(secret) = &st.config.feishu_secret {
        let refused = || failure(ChannelKind::Feishu, Failure::BadSignature);
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
        Some("post") => match post_shown(&j) {
            Some(shown) => shown,
            None => return bad_request(),
        },
        _ => return bad_request(),
    };
    Verdict::ok(
        json!({"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"}),
        title,
        text,
    )
}

/// A Feishu rich-text (`post`) message as shown: its first language's title, and its lines of
/// `text` and `a` elements; `None` for anything Feishu would refuse.
fn post_shown(j: &Value) -> Option<(String, String)> {
    let post = j.pointer("/content/post").and_then(Value::as_object)?;
    let lang = post.values().next()?;
    let lines = lang.get("content").and_then(Value::as_array)?;
    let mut text = Vec::new();
    for line in lines {
        let mut shown = String::new();
        for e in line.as_array()? {
            match (e.get("tag").and_then(Value::as_str), str_field(e, "/text")) {
                (Some("text"), Some(t)) => shown.push_str(t),
                (Some("a"), Some(t)) if str_field(e, "/href").is_some() => shown.push_str(t),
                _ => return None,
            }
        }
        text.push(shown);
    }
    Some((
        str_field(lang, "/title").unwrap_or("").to_string(),
        text.join("\n"),
    ))
}

/// Each robot's answer in each failure (sources: `push::answer`).
pub(super) fn failure(kind: ChannelKind, failure: Failure) -> Verdict {
    use ChannelKind as K;
    use Failure as F;
    let ok = StatusCode::OK;
    match (kind, failure) {
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
        (K::Feishu, F::ServerError) => Verdict::html(StatusCode::BAD_GATEWAY, GATEWAY_502),
        (k, F::Hang) => unreachable!("{k}: hangs are handled before"),
        (k, F::BadSignature) => unreachable!("{k} does not sign (refused by fail())"),
        (k, _) => unreachable!("{k} is not a robot"),
    }
}
