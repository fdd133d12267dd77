//! Push channels end to end: the real `yupiao` binary against the simulator, with `[[channel]]`s
//! pointing at `push::test_receivers` (one loopback server that checks each service's request
//! shape and signature and answers like the real one), a real SQLite file, and `status`.
//!
//! Every wait is "until something happened" with a generous timeout; "nothing more happened" is
//! checked after further polls have been fully recorded, never after a fixed sleep alone.

mod common;

use std::path::Path;
use std::time::Duration;

use chrono::NaiveDate;
use common::*;
use serde_json::Value;
use yupiao::push::ChannelKind;
use yupiao::push::request::webhook_signature;
use yupiao::push::test_receivers::{Failure, TestReceivers};
use yupiao::seat::SeatClass;
use yupiao::sim::Sim;

/// Upper bound for anything that should take a few polls.
const WAIT: Duration = Duration::from_secs(30);
/// A delivery retried after a failure: the first retry comes 5 s later, the next about 10 s
/// after that.
const RETRY_WAIT: Duration = Duration::from_secs(60);

/// The watch of these tests: G8294 上海→常州, second class, polled every second.
fn g8294(name: &str, date: NaiveDate, notify: &[&str]) -> WatchSpec {
    WatchSpec::new(name, "上海", "常州", &[date])
        .trains(&["G8294"])
        .seats(&["二等座"])
        .set("cron", EVERY_SECOND)
        .set("notify", &toml_strs(notify))
}

/// The `[[channel]]` table a user would write for `kind`, pointing at `r`.
fn channel_toml(r: &TestReceivers, kind: ChannelKind, name: &str) -> String {
    let spec = r.spec(kind, name);
    let mut t = format!(
        "[[channel]]\nname = {}\nkind = \"{kind}\"\nurl = {}\n",
        toml_str(name),
        toml_str(&r.url(kind))
    );
    use secrecy::ExposeSecret as _;
    if let Some(s) = &spec.secret {
        t.push_str(&format!("secret = {}\n", toml_str(s.expose_secret())));
    }
    if let Some(s) = &spec.token {
        t.push_str(&format!("token = {}\n", toml_str(s.expose_secret())));
    }
    if let Some(c) = &spec.chat_id {
        t.push_str(&format!("chat_id = {}\n", toml_str(c)));
    }
    t
}

/// Writes `yupiao.toml` (found in the working directory) with these channels.
fn write_settings(dir: &Path, channels: &[String]) {
    write_file(dir, "yupiao.toml", &channels.join("\n"));
}

/// Waits until `n` polls of `date` after now have been fully recorded.
async fn more_polls(daemon: &mut Daemon, sim: &Sim, date: NaiveDate, more: usize) {
    let target = queries_on(&sim.stats(), date).len() + more + 1;
    daemon
        .wait_until("further polls", WAIT, async || {
            (queries_on(&sim.stats(), date).len() >= target).then_some(())
        })
        .await
}

async fn wait_requests(daemon: &mut Daemon, r: &TestReceivers, kind: ChannelKind, n: usize, wait: Duration) {
    daemon
        .wait_until(&format!("{n} {kind} request(s)"), wait, async || {
            (r.requests(kind).len() >= n).then_some(())
        })
        .await
}

fn channel<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["channels"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no channel {name} in status: {status:#}"))
}

fn assert_no_secret(text: &str, secrets: &[String], what: &str) {
    for s in secrets {
        assert!(
            !text.contains(s.as_str()),
            "{what} contains the secret {s:?}:\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_watches_seeing_the_same_seats_send_one_push_per_channel_of_each_kind_and_log_no_secret() {
    let sim = start_static_sim().await;
    let d = day(3);
    sim.set_seat("G8294", Some(d), SeatClass::Second, "无");
    let r = TestReceivers::start().await.expect("start the receivers");
    let kinds = [
        (ChannelKind::Webhook, "hook"),
        (ChannelKind::Bark, "iphone"),
        (ChannelKind::DingTalk, "team"),
        (ChannelKind::Telegram, "tg"),
    ];
    let names: Vec<&str> = kinds.iter().map(|(_, n)| *n).collect();
    let mut notify = names.clone();
    notify.push("me@example.com");
    let dir = dir_with(&[g8294("沪常", d, &notify), g8294("回家", d, &names)]);
    write_settings(
        dir.path(),
        &kinds
            .iter()
            .map(|(k, n)| channel_toml(&r, *k, n))
            .collect::<Vec<_>>(),
    );
    let setup = DaemonSetup::new(dir.path(), &sim).env("RUST_LOG", "trace");
    let mut daemon = setup.start();
    more_polls(&mut daemon, &sim, d, 1).await;
    assert!(r.all().is_empty(), "sold out: nothing to push");

    sim.set_seat("G8294", Some(d), SeatClass::Second, "3");
    for (kind, _) in kinds {
        wait_requests(&mut daemon, &r, kind, 1, WAIT).await;
    }
    more_polls(&mut daemon, &sim, d, 3).await;
    for (kind, _) in kinds {
        let got = r.requests(kind);
        assert_eq!(got.len(), 1, "{kind}: exactly one push for one event: {got:#?}");
        assert!(got[0].accepted, "{kind} refused: {got:#?}");
        assert!(got[0].title.contains("G8294"), "{kind} title: {}", got[0].title);
        assert!(
            got[0].title.contains("二等座 3张"),
            "{kind} title: {}",
            got[0].title
        );
    }
    // The webhook: our schema, signed with the secret, one idempotency key.
    let hook = &r.accepted(ChannelKind::Webhook)[0];
    let body = hook.json().expect("JSON body");
    assert_eq!(body["event"], "seats");
    assert_eq!(body["train"], "G8294");
    assert_eq!(body["date"], d.format("%Y-%m-%d").to_string());
    let watches: Vec<&str> = body["watches"]
        .as_array()
        .map(|w| w.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(watches, ["沪常", "回家"], "one push names both watches: {body:#}");
    let secret = r.config().webhook_secret.clone().unwrap();
    assert_eq!(
        hook.header("x-yupiao-signature"),
        Some(webhook_signature(secret.as_bytes(), &hook.body).as_str())
    );
    assert!(
        hook.header("idempotency-key")
            .is_some_and(|k| k.starts_with("yp-seats-"))
    );

    // The email went to the address only.
    let mail = std::fs::read_dir(dir.path().join("mail/new"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(mail, 1, "one email for the address");

    let status = setup.status_json().await;
    for name in &names {
        let c = channel(&status, name);
        assert_eq!(
            (c["sent"].as_u64(), c["pending"].as_u64(), c["failed"].as_u64()),
            (Some(1), Some(0), Some(0)),
            "{c:#}"
        );
    }
    let text = setup.status_text().await;
    assert!(
        text.contains(&format!("push iphone (bark, {}/***): 1 sent", r.base_url())),
        "{text}"
    );
    let secrets = r.config().secrets();
    assert_no_secret(&text, &secrets, "status");
    assert_no_secret(&status.to_string(), &secrets, "status --json");
    let log = daemon.log();
    assert!(log.contains("TRACE"), "the daemon logs at trace level");
    assert_no_secret(&log, &secrets, "the daemon log");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_to_a_channel_that_is_down_arrives_when_it_is_back_and_never_again_after_kill_9() {
    let sim = start_static_sim().await;
    let d = day(4);
    sim.set_seat("G8294", Some(d), SeatClass::Second, "无");
    let r = TestReceivers::start().await.expect("start the receivers");
    let dir = dir_with(&[g8294("沪常", d, &["hook", "ntfy"])]);
    write_settings(
        dir.path(),
        &[
            channel_toml(&r, ChannelKind::Webhook, "hook"),
            channel_toml(&r, ChannelKind::Ntfy, "ntfy"),
        ],
    );
    let setup = DaemonSetup::new(dir.path(), &sim);
    let mut daemon = setup.start();
    more_polls(&mut daemon, &sim, d, 1).await;
    // The webhook answers 503 (the ntfy receiver on the same server is fine).
    r.fail(ChannelKind::Webhook, Failure::ServerError);

    sim.set_seat("G8294", Some(d), SeatClass::Second, "3");
    wait_requests(&mut daemon, &r, ChannelKind::Webhook, 1, WAIT).await;
    wait_requests(&mut daemon, &r, ChannelKind::Ntfy, 1, WAIT).await;
    assert!(
        r.accepted(ChannelKind::Ntfy).len() == 1,
        "a failing channel holds back no other"
    );
    let status = daemon
        .wait_until("the failure in status", WAIT, async || {
            let s = setup.status_json().await;
            let c = channel(&s, "hook").clone();
            c["last_error"].is_string().then_some(c)
        })
        .await;
    assert_eq!(
        (status["sent"].as_u64(), status["pending"].as_u64()),
        (Some(0), Some(1)),
        "{status:#}"
    );

    r.heal(ChannelKind::Webhook);
    daemon
        .wait_until("the retried push", RETRY_WAIT, async || {
            (r.accepted(ChannelKind::Webhook).len() == 1).then_some(())
        })
        .await;
    let keys: Vec<Option<String>> = r
        .requests(ChannelKind::Webhook)
        .iter()
        .map(|q| q.header("idempotency-key").map(str::to_string))
        .collect();
    assert!(keys.len() >= 2, "{keys:?}");
    assert!(
        keys.iter().all(|k| k.is_some() && *k == keys[0]),
        "one key across retries: {keys:?}"
    );

    daemon.kill9();
    let mut daemon = setup.start();
    more_polls(&mut daemon, &sim, d, 3).await;
    let status = setup.status_json().await;
    assert_eq!(channel(&status, "hook")["sent"].as_u64(), Some(1));
    assert_eq!(
        r.accepted(ChannelKind::Webhook).len(),
        1,
        "no repeat after kill -9 and restart"
    );
    assert_eq!(
        r.requests(ChannelKind::Ntfy).len(),
        1,
        "no repeat after kill -9 and restart"
    );
    assert_no_secret(&daemon.log(), &r.config().secrets(), "the daemon log");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_to_a_receiver_that_refuses_connections_is_retried_until_it_listens_again() {
    let sim = start_static_sim().await;
    let d = day(5);
    sim.set_seat("G8294", Some(d), SeatClass::Second, "无");
    let r = TestReceivers::start().await.expect("start the receivers");
    let dir = dir_with(&[g8294("沪常", d, &["feishu"])]);
    write_settings(dir.path(), &[channel_toml(&r, ChannelKind::Feishu, "feishu")]);
    let setup = DaemonSetup::new(dir.path(), &sim);
    let mut daemon = setup.start();
    more_polls(&mut daemon, &sim, d, 1).await;
    r.stop().await;

    sim.set_seat("G8294", Some(d), SeatClass::Second, "3");
    let c = daemon
        .wait_until("a refused connection in status", WAIT, async || {
            let s = setup.status_json().await;
            let c = channel(&s, "feishu").clone();
            c["last_error"].is_string().then_some(c)
        })
        .await;
    let error = c["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("cannot connect"), "{error}");
    assert_no_secret(error, &r.config().secrets(), "the error");

    r.restart().await.expect("listen again");
    daemon
        .wait_until("the push once the receiver is back", RETRY_WAIT, async || {
            (r.accepted(ChannelKind::Feishu).len() == 1).then_some(())
        })
        .await;
    more_polls(&mut daemon, &sim, d, 2).await;
    assert_eq!(
        r.requests(ChannelKind::Feishu).len(),
        1,
        "{:#?}",
        r.requests(ChannelKind::Feishu)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_permanent_refusal_is_not_retried_and_shows_in_status_without_the_key() {
    let sim = start_static_sim().await;
    let d = day(6);
    sim.set_seat("G8294", Some(d), SeatClass::Second, "无");
    let r = TestReceivers::start().await.expect("start the receivers");
    r.fail(ChannelKind::Bark, Failure::BadKey);
    let dir = dir_with(&[g8294("沪常", d, &["iphone", "tg"])]);
    write_settings(
        dir.path(),
        &[
            channel_toml(&r, ChannelKind::Bark, "iphone"),
            channel_toml(&r, ChannelKind::Telegram, "tg"),
        ],
    );
    let setup = DaemonSetup::new(dir.path(), &sim);
    let mut daemon = setup.start();
    more_polls(&mut daemon, &sim, d, 1).await;
    sim.set_seat("G8294", Some(d), SeatClass::Second, "3");
    wait_requests(&mut daemon, &r, ChannelKind::Bark, 1, WAIT).await;
    let c = daemon
        .wait_until("the refusal in status", WAIT, async || {
            let s = setup.status_json().await;
            let c = channel(&s, "iphone").clone();
            (c["failed"].as_u64() == Some(1)).then_some(c)
        })
        .await;
    assert_eq!(
        (c["sent"].as_u64(), c["pending"].as_u64()),
        (Some(0), Some(0)),
        "{c:#}"
    );
    let error = c["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("copy the URL"), "the hint for a bad key: {error}");
    // Well past the first retry time (5 s): a permanent refusal is never tried again.
    daemon
        .wait_until("seven seconds of polls", WAIT, async || {
            let polls = queries_on(&sim.stats(), d).len();
            (polls >= 10).then_some(())
        })
        .await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    more_polls(&mut daemon, &sim, d, 1).await;
    assert_eq!(
        r.requests(ChannelKind::Bark).len(),
        1,
        "refused for good: not retried"
    );
    assert_eq!(
        r.accepted(ChannelKind::Telegram).len(),
        1,
        "the other channel got it"
    );
    let text = setup.status_text().await;
    assert!(text.contains("push iphone (bark, "), "{text}");
    assert!(text.contains("0 sent, 0 pending, 1 failed"), "{text}");
    assert_no_secret(&text, &r.config().secrets(), "status");
    assert_no_secret(&daemon.log(), &r.config().secrets(), "the daemon log");
}

#[tokio::test(flavor = "multi_thread")]
async fn test_notify_prints_the_services_answer_and_a_hint_for_each_failure() {
    let r = TestReceivers::start().await.expect("start the receivers");
    let dir = tempfile::tempdir().unwrap();
    write_settings(
        dir.path(),
        &[
            channel_toml(&r, ChannelKind::DingTalk, "team"),
            channel_toml(&r, ChannelKind::WeCom, "wecom"),
        ],
    );
    let run = |name: &str| Yupiao::new(dir.path()).args(["test-notify", name]);

    let out = run("team").run().await;
    out.assert_code(0);
    assert!(
        out.stdout
            .contains("sending a test push through \"team\" (dingtalk, "),
        "{out}"
    );
    assert!(out.stdout.contains("answer: HTTP 200"), "{out}");
    assert!(out.stdout.contains("accepted"), "{out}");
    let got = r.accepted(ChannelKind::DingTalk);
    assert_eq!(got.len(), 1);
    assert!(got[0].title.contains("测试"), "{}", got[0].title);

    r.fail(ChannelKind::DingTalk, Failure::BadSignature);
    let out = run("team").run().await;
    out.assert_code(1);
    assert!(out.stderr.contains("refused (permanent"), "{out}");
    assert!(out.stderr.contains("hint: the signature was refused"), "{out}");

    r.fail(ChannelKind::WeCom, Failure::RateLimit);
    let out = run("wecom").run().await;
    out.assert_code(1);
    assert!(out.stderr.contains("transient"), "{out}");
    assert!(out.stderr.contains("hint: the service is limiting"), "{out}");

    r.stop().await;
    let out = run("wecom").run().await;
    out.assert_code(1);
    assert!(out.stdout.contains("no answer: cannot connect"), "{out}");
    assert!(out.stderr.contains("hint: the service did not answer"), "{out}");

    let out = run("nope").run().await;
    out.assert_code(2);
    assert!(
        out.stderr
            .contains("no channel named \"nope\" (the settings declare: team, wecom)"),
        "{out}"
    );
    assert_no_secret(&out.all_text(), &r.config().secrets(), "test-notify");
}

#[tokio::test(flavor = "multi_thread")]
async fn check_rejects_a_notify_entry_naming_no_channel_at_its_line_and_column() {
    let r = TestReceivers::start().await.expect("start the receivers");
    let d = day(3);
    let dir = dir_with(&[g8294("沪常", d, &["me@example.com", "iphnoe"])]);
    write_settings(dir.path(), &[channel_toml(&r, ChannelKind::Bark, "iphone")]);
    let out = Yupiao::new(dir.path()).arg("check").run().await;
    out.assert_code(2);
    let text = out.all_text();
    let line = text
        .lines()
        .find(|l| l.contains("unknown channel \"iphnoe\""))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("watchlist.toml:"), "{line}");
    assert!(line.contains("(the settings declare: iphone)"), "{line}");
    assert_no_secret(&text, &r.config().secrets(), "check");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_seat_alert_inside_a_channels_quiet_hours_is_held_and_other_channels_get_it_at_once() {
    use chrono::Timelike as _;
    let sim = start_static_sim().await;
    let d = day(7);
    sim.set_seat("G8294", Some(d), SeatClass::Second, "无");
    let r = TestReceivers::start().await.expect("start the receivers");
    let hour = yupiao::clock::now().hour();
    let quiet = format!("{:02}:00-{:02}:00", (hour + 23) % 24, (hour + 2) % 24);
    let dir = dir_with(&[g8294("沪常", d, &["night", "hook"])]);
    write_settings(
        dir.path(),
        &[
            channel_toml(&r, ChannelKind::Ntfy, "night") + &format!("quiet = {}\n", toml_str(&quiet)),
            channel_toml(&r, ChannelKind::Webhook, "hook"),
        ],
    );
    let setup = DaemonSetup::new(dir.path(), &sim);
    let mut daemon = setup.start();
    more_polls(&mut daemon, &sim, d, 1).await;
    sim.set_seat("G8294", Some(d), SeatClass::Second, "3");
    wait_requests(&mut daemon, &r, ChannelKind::Webhook, 1, WAIT).await;
    daemon
        .wait_until("the held push in the log", WAIT, async || {
            daemon_log_has(&setup, "push held for the channel's quiet hours").then_some(())
        })
        .await;
    more_polls(&mut daemon, &sim, d, 2).await;
    assert!(
        r.requests(ChannelKind::Ntfy).is_empty(),
        "nothing pushed during quiet hours"
    );
    let status = setup.status_json().await;
    let c = channel(&status, "night");
    assert_eq!(
        (c["sent"].as_u64(), c["pending"].as_u64()),
        (Some(0), Some(1)),
        "{c:#}"
    );
    assert_eq!(channel(&status, "hook")["sent"].as_u64(), Some(1));
}

/// Whether any daemon log in the setup's directory contains `text`.
fn daemon_log_has(setup: &DaemonSetup, text: &str) -> bool {
    std::fs::read_dir(setup.cwd())
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("daemon-"))
        .any(|e| std::fs::read_to_string(e.path()).is_ok_and(|l| l.contains(text)))
}
