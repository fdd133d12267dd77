//! Alert latency on loopback: from the upstream first serving a seat to the notification being
//! accepted by its receiver, for email (SMTP to aiosmtpd) and every push kind
//! (`push::test_receivers`), with the real `yupiao run` binary in between.
//!
//! One watch (G8294 上海→常州, polled every second) notifies an address and one channel of each
//! kind. Each round sets the seat to 无, waits for the daemon to poll that, sets it to 3 and waits
//! until every receiver has accepted the alert. For each receiver:
//! `latency = accepted − served`, where `served` is the arrival time of the first leftTicket query
//! that got the seat (the simulator's clock, whole milliseconds: up to 1 ms is added) and
//! `accepted` is when the receiver decided to take it (the push receivers' clock; for email, the
//! modification time of the message file aiosmtpd writes before it answers 250).
//!
//! Run: `cargo bench --bench push` (`PUSH_BENCH_FLIPS`, default 20). Prints a Markdown table.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use secrecy::ExposeSecret as _;
use yupiao::notify::smtp_test_server::TestSmtpServer;
use yupiao::push::ChannelKind;
use yupiao::push::test_receivers::TestReceivers;
use yupiao::seat::SeatClass;
use yupiao::sim::{Scenario, Sim};

const WAIT: Duration = Duration::from_secs(30);

fn main() -> anyhow::Result<()> {
    let flips: usize = std::env::var("PUSH_BENCH_FLIPS")
        .ok()
        .map(|v| v.parse())
        .transpose()
        .context("PUSH_BENCH_FLIPS")?
        .unwrap_or(20);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(flips))
}

/// Kills the daemon when the benchmark ends, however it ends.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn toml_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

fn channel_toml(r: &TestReceivers, kind: ChannelKind) -> String {
    let spec = r.spec(kind, kind.as_str());
    let mut t = format!(
        "[[channel]]\nname = \"{kind}\"\nkind = \"{kind}\"\nurl = {}\n",
        toml_str(&r.url(kind))
    );
    for (key, value) in [("secret", &spec.secret), ("token", &spec.token)] {
        if let Some(v) = value {
            t.push_str(&format!("{key} = {}\n", toml_str(v.expose_secret())));
        }
    }
    if let Some(c) = &spec.chat_id {
        t.push_str(&format!("chat_id = {}\n", toml_str(c)));
    }
    t
}

fn epoch_ms(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64() * 1000.0
}

/// The modification times of the messages in `maildir/new`, in ms since the epoch, sorted.
fn mail_times(maildir: &Path) -> Vec<f64> {
    let mut times: Vec<f64> = std::fs::read_dir(maildir.join("new"))
        .map(|d| {
            d.filter_map(|e| e.ok()?.metadata().ok()?.modified().ok())
                .map(epoch_ms)
                .collect()
        })
        .unwrap_or_default();
    times.sort_by(f64::total_cmp);
    times
}

async fn until<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> anyhow::Result<T> {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = probe() {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn run(flips: usize) -> anyhow::Result<()> {
    let mut scenario = Scenario::builtin();
    scenario.steps.clear();
    let sim = Sim::start("127.0.0.1:0".parse()?, scenario).await?;
    let receivers = TestReceivers::start().await?;
    let smtp = TestSmtpServer::start()?;
    let dir = tempfile::tempdir()?;
    let date = yupiao::clock::today() + chrono::TimeDelta::days(3);
    let ymd = date.format("%Y-%m-%d").to_string();
    sim.set_seat("G8294", Some(date), SeatClass::Second, "无");

    let kinds = ChannelKind::ALL;
    let mut notify: Vec<String> = kinds.iter().map(|k| toml_str(k.as_str())).collect();
    notify.push(toml_str("bench@example.com"));
    std::fs::write(
        dir.path().join("watchlist.toml"),
        format!(
            "[[watch]]\nname = \"bench\"\nfrom = \"上海\"\nto = \"常州\"\ndates = [\"{ymd}\"]\n\
             trains = [\"G8294\"]\nseats = [\"二等座\"]\ncron = \"* * * * * *\"\nnotify = [{}]\n",
            notify.join(", ")
        ),
    )?;
    let channels: Vec<String> = kinds.iter().map(|k| channel_toml(&receivers, *k)).collect();
    std::fs::write(dir.path().join("yupiao.toml"), channels.join("\n"))?;
    let hour = (chrono::Timelike::hour(&yupiao::clock::now()) + 12) % 24;
    let log = std::fs::File::create(dir.path().join("daemon.log"))?;
    let child = Command::new(env!("CARGO_BIN_EXE_yupiao"))
        .arg("run")
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .env("YUPIAO_ETC_DIR", "/nonexistent/yupiao-bench-etc")
        .env("YUPIAO__UPSTREAM__RAIL_URL", sim.base_url())
        .env("YUPIAO__UPSTREAM__MIN_INTERVAL", "20ms")
        .env("YUPIAO__UPSTREAM__JITTER", "0s")
        .env("YUPIAO__STORE__PATH", dir.path().join("yupiao.db"))
        .env(
            "YUPIAO__DAEMON__NIGHT_WINDOW",
            format!("{hour:02}:00-{hour:02}:01"),
        )
        .env("YUPIAO__DAEMON__ALERT_MIN_GAP", "1s")
        .env("YUPIAO__EMAIL__TRANSPORT", "smtp")
        .env("YUPIAO__EMAIL__HOST", "127.0.0.1")
        .env("YUPIAO__EMAIL__PORT", smtp.port.to_string())
        .env("YUPIAO__EMAIL__SECURITY", "none")
        .env("YUPIAO__EMAIL__FROM", "yupiao <yupiao@example.com>")
        .env("YUPIAO__LOG__LEVEL", "warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("spawn yupiao run")?;
    let _daemon = Daemon(child);

    let queries = |sim: &Sim| -> Vec<i64> {
        sim.stats()
            .queries
            .iter()
            .filter(|q| q.date == ymd)
            .map(|q| q.at_ms)
            .collect()
    };
    // receiver name → latencies (ms)
    let mut names: Vec<String> = vec!["email (SMTP)".to_string()];
    names.extend(kinds.iter().map(|k| format!("push: {k}")));
    let mut latencies: Vec<Vec<f64>> = vec![Vec::new(); names.len()];

    for round in 0..flips {
        sim.set_seat("G8294", Some(date), SeatClass::Second, "无");
        let seen = queries(&sim).len();
        until("two polls of the sold-out seat", || {
            (queries(&sim).len() >= seen + 2).then_some(())
        })
        .await?;
        let before_push: Vec<usize> = kinds.iter().map(|k| receivers.accepted(*k).len()).collect();
        let before_mail = mail_times(&smtp.maildir).len();
        let flipped_at = epoch_ms(SystemTime::now());
        sim.set_seat("G8294", Some(date), SeatClass::Second, "3");
        until(&format!("round {round}: every receiver"), || {
            let pushed = kinds
                .iter()
                .zip(&before_push)
                .all(|(k, n)| receivers.accepted(*k).len() > *n);
            (pushed && mail_times(&smtp.maildir).len() > before_mail).then_some(())
        })
        .await?;
        // The first query that arrived after the flip served the seat.
        let served = queries(&sim)
            .into_iter()
            .map(|ms| ms as f64)
            .filter(|ms| *ms + 1.0 >= flipped_at)
            .fold(f64::INFINITY, f64::min);
        let mail = mail_times(&smtp.maildir)[before_mail];
        latencies[0].push(mail - served);
        for (i, (k, n)) in kinds.iter().zip(&before_push).enumerate() {
            let got = epoch_ms(receivers.accepted(*k)[*n].at);
            latencies[i + 1].push(got - served);
        }
    }

    println!("alert latency on loopback, {flips} flips: upstream serves the seat → receiver accepts\n");
    println!("| receiver | median ms | max ms |");
    println!("| --- | --- | --- |");
    for (name, mut l) in names.into_iter().zip(latencies) {
        l.sort_by(f64::total_cmp);
        let median = if l.is_empty() { f64::NAN } else { l[l.len() / 2] };
        let max = l.last().copied().unwrap_or(f64::NAN);
        println!("| {name} | {median:.1} | {max:.1} |");
    }
    Ok(())
}
