//! The services that relay a push to a phone app: Bark (iOS), ServerChan (Server酱) and
//! PushPlus (WeChat), with their own success and error bodies.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::exchange::{GATEWAY_502, Req, Verdict, str_field};
use super::state::{Failure, Inner, ReceiverConfig, next_id};
use crate::push::channel::ChannelKind;

pub(super) fn bark(st: &Inner, req: &Req) -> Verdict {
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

pub(super) fn serverchan(st: &Inner, req: &Req) -> Verdict {
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
        return failure(ChannelKind::ServerChan, Failure::BadKey, &st.config);
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

pub(super) fn pushplus(st: &Inner, req: &Req) -> Verdict {
    let ok = StatusCode::OK;
    let Some(j) = req.json().filter(|_| req.is_json()) else {
        return Verdict::json(
            ok,
            json!({"code": 999, "msg": "test receiver: 请求体不是 JSON", "data": null}),
        );
    };
    if str_field(&j, "/token") != Some(st.config.pushplus_token.as_str()) {
        return failure(ChannelKind::PushPlus, Failure::BadKey, &st.config);
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

/// Each relay's answer in each failure (sources: `push::answer`).
pub(super) fn failure(kind: ChannelKind, failure: Failure, c: &ReceiverConfig) -> Verdict {
    use ChannelKind as K;
    use Failure as F;
    let ts = chrono::Utc::now().timestamp();
    let ok = StatusCode::OK;
    match (kind, failure) {
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
        (K::ServerChan, F::ServerError) => Verdict::html(StatusCode::BAD_GATEWAY, GATEWAY_502),
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
        (k, F::Hang | F::BadSignature) => unreachable!("{k}: hangs are handled before, relays do not sign"),
        (k, _) => unreachable!("{k} is not a relay"),
    }
}
