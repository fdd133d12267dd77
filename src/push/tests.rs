//! The real client against the loopback receivers: every kind delivered, every failure kind
//! refused and classified the way the real service's answer means, signatures checked by the
//! receiver, and no key in anything a caller can print.

use std::time::Duration;

use chrono::{DateTime, FixedOffset, TimeDelta};
use secrecy::SecretString;

use super::answer::{FailureClass, Hint, Outcome, Refusal};
use super::channel::{ChannelKind, ChannelSpec};
use super::message::{PushMessage, test_message};
use super::request::{dingtalk_sign, prepare};
use super::send::{BODY_CAP, PushError, client, push, send};
use super::test_receivers::{Failure, TestReceivers};

const TIMEOUT: Duration = Duration::from_secs(10);

fn now() -> DateTime<FixedOffset> {
    crate::clock::now()
}

fn alert() -> PushMessage {
    super::fixtures::seat_alert("回家 <&> *x*", now())
}

/// The receivers on a free port, and the client that pushes to them.
async fn started() -> (TestReceivers, reqwest::Client) {
    (TestReceivers::start().await.unwrap(), client().unwrap())
}

/// Pushes `msg` through `spec` now, with the tests' timeout.
async fn deliver(http: &reqwest::Client, spec: &ChannelSpec, msg: &PushMessage) -> Outcome {
    push(http, spec, msg, now(), TIMEOUT).await.unwrap()
}

/// Pushes `msg` through `spec`, which must accept it.
async fn deliver_accepted(http: &reqwest::Client, spec: &ChannelSpec, msg: &PushMessage) {
    let outcome = deliver(http, spec, msg).await;
    assert!(outcome.is_accepted(), "{}: {outcome:?}", spec.kind);
}

fn refusal(o: Outcome) -> Refusal {
    match o {
        Outcome::Refused(r) => r,
        Outcome::Accepted { detail } => panic!("expected a refusal, got Accepted({detail})"),
    }
}

#[tokio::test]
async fn every_kind_is_delivered_to_its_receiver_with_title_and_text() {
    let (r, http) = started().await;
    let msg = alert();
    for kind in ChannelKind::ALL {
        let spec = r.spec(kind, "phone");
        let outcome = deliver(&http, &spec, &msg).await;
        assert!(outcome.is_accepted(), "{kind}: {outcome:?}");
        let got = r.accepted(kind);
        assert_eq!(got.len(), 1, "{kind}: exactly one delivery");
        assert_eq!(got[0].title, msg.title, "{kind}");
        assert!(got[0].text.contains("G8294 12-01"), "{kind}: {}", got[0].text);
        assert!(got[0].text.contains("回家"), "{kind}: {}", got[0].text);
    }
    assert_eq!(
        r.all().len(),
        ChannelKind::ALL.len(),
        "nothing was refused or sent twice"
    );
}

#[tokio::test]
async fn the_services_own_success_answer_is_kept_as_the_detail() {
    let (r, http) = started().await;
    let msg = test_message("phone", now());
    let detail = |o: Outcome| match o {
        Outcome::Accepted { detail } => detail,
        other => panic!("{other:?}"),
    };
    let sc = deliver(&http, &r.spec(ChannelKind::ServerChan, "x"), &msg).await;
    assert_eq!(detail(sc), "pushid 1663686");
    let tg = deliver(&http, &r.spec(ChannelKind::Telegram, "x"), &msg).await;
    assert!(detail(tg).starts_with("message_id "));
    let pp = deliver(&http, &r.spec(ChannelKind::PushPlus, "x"), &msg).await;
    assert!(detail(pp).starts_with("流水号 "));
}

#[tokio::test]
async fn each_failure_kind_is_classified_as_its_real_answer_means() {
    use ChannelKind::*;
    use FailureClass::*;
    let (r, http) = started().await;
    let msg = alert();
    let mut cases: Vec<(ChannelKind, Failure, FailureClass, Hint)> = Vec::new();
    for kind in ChannelKind::ALL {
        let key_hint = if kind == Webhook {
            Hint::Unauthorized
        } else {
            Hint::BadKey
        };
        cases.push((kind, Failure::BadKey, Permanent, key_hint));
        // PushPlus's 900 asks clients to stop: not retried (see answer.rs).
        let limit_class = if kind == PushPlus { Permanent } else { Transient };
        cases.push((kind, Failure::RateLimit, limit_class, Hint::RateLimited));
        cases.push((kind, Failure::ServerError, Transient, Hint::ServerError));
    }
    cases.push((DingTalk, Failure::BadSignature, Permanent, Hint::BadSignature));
    cases.push((Feishu, Failure::BadSignature, Permanent, Hint::BadSignature));
    cases.push((Webhook, Failure::BadSignature, Permanent, Hint::Unauthorized));

    for (kind, failure, class, hint) in cases {
        r.fail(kind, failure);
        let outcome = deliver(&http, &r.spec(kind, "phone"), &msg).await;
        let refused = refusal(outcome);
        assert_eq!(
            (refused.class, refused.hint),
            (class, hint),
            "{kind} {failure:?}: {}",
            refused.reason
        );
        assert!(!refused.reason.is_empty());
        r.heal(kind);
    }
    for kind in ChannelKind::ALL {
        assert!(
            r.accepted(kind).is_empty(),
            "{kind}: a failing receiver accepted something"
        );
    }
}

#[tokio::test]
async fn rate_limits_carry_the_wait_the_service_asked_for() {
    let (r, http) = started().await;
    let msg = alert();
    r.fail(ChannelKind::Telegram, Failure::RateLimit);
    let tg = refusal(deliver(&http, &r.spec(ChannelKind::Telegram, "t"), &msg).await);
    assert_eq!(tg.retry_after, Some(Duration::from_secs(1)));
    r.fail(ChannelKind::Webhook, Failure::RateLimit);
    let hook = refusal(deliver(&http, &r.spec(ChannelKind::Webhook, "w"), &msg).await);
    assert_eq!(
        hook.retry_after,
        Some(Duration::from_secs(1)),
        "from the Retry-After header"
    );
}

#[tokio::test]
async fn a_wrong_signing_secret_is_refused_by_the_receiver() {
    let (r, http) = started().await;
    let msg = alert();
    for (kind, hint) in [
        (ChannelKind::DingTalk, Hint::BadSignature),
        (ChannelKind::Feishu, Hint::BadSignature),
        (ChannelKind::Webhook, Hint::Unauthorized),
    ] {
        let mut spec = r.spec(kind, "phone");
        spec.secret = Some(SecretString::from("SECwrongwrongwrong".to_string()));
        let refused = refusal(deliver(&http, &spec, &msg).await);
        assert_eq!(
            (refused.class, refused.hint),
            (FailureClass::Permanent, hint),
            "{kind}"
        );
        let seen = r.requests(kind);
        assert_eq!(seen.len(), 1, "{kind}");
        assert!(!seen[0].accepted, "{kind}");
    }
    // A missing signature is refused just the same.
    let mut unsigned = r.spec(ChannelKind::DingTalk, "phone");
    unsigned.secret = None;
    let refused = refusal(deliver(&http, &unsigned, &msg).await);
    assert_eq!(refused.hint, Hint::BadSignature);
}

#[tokio::test]
async fn signatures_older_than_an_hour_are_refused_and_fresh_ones_taken() {
    let (r, http) = started().await;
    let msg = alert();
    let stale = now() - TimeDelta::minutes(61);
    let almost = now() - TimeDelta::minutes(55);
    for kind in [ChannelKind::DingTalk, ChannelKind::Feishu] {
        let spec = r.spec(kind, "phone");
        let refused = refusal(push(&http, &spec, &msg, stale, TIMEOUT).await.unwrap());
        assert_eq!(refused.hint, Hint::BadSignature, "{kind}: {}", refused.reason);
        let ok = push(&http, &spec, &msg, almost, TIMEOUT).await.unwrap();
        assert!(ok.is_accepted(), "{kind}: {ok:?}");
    }
}

/// A base64 signature with `+` or `/` must travel percent-encoded: a raw `+` in a query string
/// reads as a space on the server.
#[tokio::test]
async fn dingtalk_signatures_with_plus_and_slash_survive_the_query_string() {
    let (r, http) = started().await;
    let secret = r.config().dingtalk_secret.clone().unwrap();
    let base = now();
    let mut tried = 0;
    for offset_ms in 0..5000 {
        let at = base - TimeDelta::milliseconds(offset_ms);
        let sign = dingtalk_sign(&secret, at.timestamp_millis());
        if !(sign.contains('+') && sign.contains('/')) {
            continue;
        }
        let outcome = push(&http, &r.spec(ChannelKind::DingTalk, "d"), &alert(), at, TIMEOUT)
            .await
            .unwrap();
        assert!(outcome.is_accepted(), "sign {sign}: {outcome:?}");
        tried += 1;
        if tried == 3 {
            break;
        }
    }
    assert_eq!(tried, 3, "no timestamp gave a signature with both + and /");
}

#[tokio::test]
async fn a_hanging_service_times_out_as_a_transient_failure() {
    let (r, http) = started().await;
    r.fail(ChannelKind::Bark, Failure::Hang);
    let req = prepare(&r.spec(ChannelKind::Bark, "b"), &alert(), now()).unwrap();
    let err = send(&http, &req, Duration::from_millis(300)).await.unwrap_err();
    assert!(matches!(err, PushError::Timeout(_)), "{err}");
    let refused = refusal(err.outcome());
    assert_eq!(
        (refused.class, refused.hint),
        (FailureClass::Transient, Hint::Unreachable)
    );
    r.stop().await;
}

#[tokio::test]
async fn a_closed_port_is_transient_and_delivery_resumes_when_the_receiver_is_back() {
    let (r, http) = started().await;
    let msg = alert();
    // A first delivery leaves a pooled connection behind: stopping must close it too.
    deliver_accepted(&http, &r.spec(ChannelKind::Ntfy, "n"), &msg).await;
    r.stop().await;
    for kind in ChannelKind::ALL {
        let refused = refusal(deliver(&http, &r.spec(kind, "phone"), &msg).await);
        assert_eq!(
            (refused.class, refused.hint),
            (FailureClass::Transient, Hint::Unreachable),
            "{kind}"
        );
        for secret in r.config().secrets() {
            assert!(!refused.reason.contains(&secret), "{kind}: {}", refused.reason);
        }
    }
    r.restart().await.unwrap();
    for kind in ChannelKind::ALL {
        let outcome = deliver(&http, &r.spec(kind, "phone"), &msg).await;
        assert!(outcome.is_accepted(), "{kind} after restart: {outcome:?}");
    }
    assert_eq!(r.accepted(ChannelKind::Ntfy).len(), 2);
}

#[tokio::test]
async fn no_outcome_ever_repeats_a_key_the_service_echoed() {
    let (r, http) = started().await;
    let msg = alert();
    for kind in ChannelKind::ALL {
        for failure in [Failure::BadKey, Failure::RateLimit, Failure::ServerError] {
            r.fail(kind, failure);
            let refused = refusal(deliver(&http, &r.spec(kind, "phone"), &msg).await);
            for secret in r.config().secrets() {
                assert!(
                    !refused.reason.contains(&secret),
                    "{kind} {failure:?}: {}",
                    refused.reason
                );
            }
        }
        r.heal(kind);
    }
    // Bark does echo the key in its answer: the scrubbing above was needed, not idle.
    r.fail(ChannelKind::Bark, Failure::BadKey);
    let req = prepare(&r.spec(ChannelKind::Bark, "b"), &msg, now()).unwrap();
    let raw = send(&http, &req, TIMEOUT).await.unwrap();
    assert!(raw.body.contains(&r.config().bark_key), "{}", raw.body);
}

#[tokio::test]
async fn ntfy_gets_the_chinese_title_intact_through_rfc_2047() {
    let (r, http) = started().await;
    let msg = alert();
    deliver_accepted(&http, &r.spec(ChannelKind::Ntfy, "n"), &msg).await;
    let got = &r.accepted(ChannelKind::Ntfy)[0];
    assert!(got.header("title").unwrap().starts_with("=?UTF-8?B?"));
    assert_eq!(got.title, "余票 G8294 12-01 二等座 3张");
    assert_eq!(got.header("priority"), Some("4"));
    assert_eq!(got.header("click"), Some(msg.link.unwrap().href.as_str()));
    assert_eq!(got.path, format!("/ntfy/{}", r.config().ntfy_topic));
}

#[tokio::test]
async fn the_webhook_receiver_sees_the_same_idempotency_key_on_a_retry() {
    let (r, http) = started().await;
    let msg = alert();
    let spec = r.spec(ChannelKind::Webhook, "w");
    r.fail(ChannelKind::Webhook, Failure::ServerError);
    assert!(!deliver(&http, &spec, &msg).await.is_accepted());
    r.heal(ChannelKind::Webhook);
    deliver_accepted(&http, &spec, &msg).await;
    deliver_accepted(&http, &spec, &msg).await;
    let all = r.requests(ChannelKind::Webhook);
    assert_eq!(all.len(), 3);
    for q in &all {
        assert_eq!(q.header("idempotency-key"), Some(msg.idempotency_key.as_str()));
    }
    let second = r.accepted(ChannelKind::Webhook)[1].clone();
    assert_eq!(second.status, 200);
    let payload = second.json().unwrap();
    assert_eq!(payload["id"], msg.idempotency_key.as_str());
}

#[tokio::test]
async fn a_telegram_chat_the_bot_cannot_reach_is_refused_with_the_chat_hint() {
    let (r, http) = started().await;
    let mut spec = r.spec(ChannelKind::Telegram, "t");
    spec.chat_id = Some("-1009999999999".into());
    let refused = refusal(push(&http, &spec, &alert(), now(), TIMEOUT).await.unwrap());
    assert_eq!(
        (refused.class, refused.hint),
        (FailureClass::Permanent, Hint::ChatNotFound)
    );
    assert!(refused.reason.contains("chat not found"), "{}", refused.reason);
}

/// A URL that streams without end is read up to the cap, not to the end.
#[tokio::test]
async fn answers_are_read_up_to_the_cap_only() {
    use axum::Router;
    use axum::routing::post;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/big", post(|| async { "x".repeat(BODY_CAP * 3) }));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let spec = super::channel::ChannelSpec::new(
        "w",
        ChannelKind::Webhook,
        Some(SecretString::from(format!("http://{addr}/big"))),
    );
    let req = prepare(&spec, &alert(), now()).unwrap();
    let answer = send(&client().unwrap(), &req, TIMEOUT).await.unwrap();
    assert_eq!(answer.status, 200);
    assert!(answer.truncated);
    assert_eq!(answer.body.len(), BODY_CAP);
    server.abort();
}
