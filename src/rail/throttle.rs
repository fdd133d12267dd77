//! How 12306 says "slow down", in one place: its risk-control phrases, the operator's extra
//! phrases (`upstream.risk_phrases`), and HTTP statuses that are not data.
//!
//! The leftTicket client, its decoder and the 候补 query must all tell throttling (back off,
//! never read as "no seats") from an answer, and must agree on it: a phrase added here counts
//! everywhere.

use reqwest::StatusCode;

use super::error::RailError;

/// Phrases 12306 uses when risk control refuses a query (protocol doc §2.2, community list 2026).
pub const RISK_PHRASES: &[&str] = &[
    "您的访问过于频繁",
    "访问过于频繁",
    "请求过于频繁",
    "操作过于频繁",
    "请使用本人账号登录",
    "抱歉，当前排队人数超过",
    "网络可能存在问题，请您重试一下",
    "验证码校验失败次数过多",
    "非法请求",
    "系统繁忙，请稍后重试",
];

/// The first risk phrase found in `text`, if any. Full-width and ASCII commas are treated alike,
/// since 12306's messages use both.
pub fn find_risk_phrase(text: &str) -> Option<&'static str> {
    let normalized;
    let text = if text.contains(',') {
        normalized = text.replace(',', "，");
        normalized.as_str()
    } else {
        text
    };
    RISK_PHRASES.iter().copied().find(|p| text.contains(p))
}

/// Throttling that shows before the body is read as data: one of the operator's extra phrases
/// anywhere in the body, or an HTTP status that is not success (named with the risk phrase the
/// body carries, if any). Redirects are the caller's: they mean different things per endpoint.
pub fn refusal(status: StatusCode, body: &str, extra_risk: &[String]) -> Option<RailError> {
    if let Some(p) = extra_risk
        .iter()
        .find(|p| !p.is_empty() && body.contains(p.as_str()))
    {
        return Some(RailError::Throttled {
            reason: format!("12306 says {p}"),
        });
    }
    if status.is_success() {
        return None;
    }
    let reason = match find_risk_phrase(body) {
        Some(p) => format!("HTTP {status}: {p}"),
        None => format!("HTTP {status}"),
    };
    Some(RailError::Throttled { reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_phrases_are_found_whatever_the_comma() {
        assert_eq!(
            find_risk_phrase("系统繁忙,请稍后重试"),
            Some("系统繁忙，请稍后重试")
        );
        assert_eq!(
            find_risk_phrase("<p>您的访问过于频繁</p>"),
            Some("您的访问过于频繁")
        );
        assert_eq!(find_risk_phrase("查询成功"), None);
    }

    #[test]
    fn extra_phrases_and_failed_statuses_are_refusals_and_a_plain_success_is_not() {
        let extra = vec![String::new(), "系统升级".to_string()];
        let throttled = |s: StatusCode, body: &str| match refusal(s, body, &extra) {
            Some(RailError::Throttled { reason }) => Some(reason),
            other => other.map(|e| format!("not throttling: {e:?}")),
        };
        assert_eq!(
            throttled(StatusCode::OK, "系统升级中").as_deref(),
            Some("12306 says 系统升级")
        );
        assert_eq!(throttled(StatusCode::OK, r#"{"status":true}"#), None);
        assert_eq!(
            throttled(StatusCode::BAD_GATEWAY, "网络可能存在问题，请您重试一下").as_deref(),
            Some("HTTP 502 Bad Gateway: 网络可能存在问题，请您重试一下")
        );
        assert_eq!(
            throttled(StatusCode::SERVICE_UNAVAILABLE, "").as_deref(),
            Some("HTTP 503 Service Unavailable")
        );
    }
}
