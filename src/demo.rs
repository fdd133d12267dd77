//! `yupiao demo`: the real daemon against the built-in simulator, in a scratch directory.
//!
//! It is the README's first command, so it must work on a fresh machine with no configuration
//! and no network: the simulator listens on loopback, email goes to a local maildir, and the
//! database is a real SQLite file the user can open afterwards. The scenario is short and
//! scripted so that every behaviour worth seeing happens within a minute: polling, seats
//! appearing (one alert email), a count change (history, no email), seats going, and seats
//! coming back inside the alert gap (no repeat); a 候补 (waitlist) order going 排队中 →
//! 待支付 → 待兑现 → 兑现成功, one email per step; and a 抢票 watch placing one grab order with the
//! simulated Juhe when the seats appear, followed to 出票成功. Every one of these events also
//! goes to a push channel: a webhook receiver the demo runs on loopback, whose requests (one per
//! event, signed) are listed at the end.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use chrono::Days;
use tokio_util::sync::CancellationToken;

use crate::config::{Settings, Transport};
use crate::push::ChannelKind;
use crate::push::test_receivers::TestReceivers;
use crate::sim::{Scenario, Sim};
use crate::store::Store;

/// The scripted timeline on G8294 二等座 (seconds after start, seats left).
const TIMELINE: [(u64, &str); 4] = [(7, "3"), (17, "5"), (27, "无"), (35, "2")];
/// The scripted 候补 order: (seconds after start, status code).
const WAITLIST_TIMELINE: [(u64, &str); 3] = [(12, "01"), (24, "04"), (34, "07")];
/// The demo's 12306 session cookie (the simulator accepts any `tk`).
const DEMO_COOKIE: &str = "JSESSIONID=demo; tk=demo-session";
/// How long the daemon runs.
const RUN_FOR: Duration = Duration::from_secs(42);

/// A one-minute `night_window` twelve hours from now (Beijing time).
fn night_window_away() -> crate::clock::TimeWindow {
    let start = (crate::clock::now() + chrono::TimeDelta::hours(12)).time();
    crate::clock::TimeWindow {
        start,
        end: start + chrono::TimeDelta::minutes(1),
    }
}

fn demo_scenario() -> Scenario {
    let mut s = Scenario::builtin();
    let template = s.steps.first().cloned();
    s.steps.clear();
    if let Some(t) = template {
        for (at, left) in TIMELINE {
            let mut step = t.clone();
            step.at = format!("{at}s");
            step.train = "G8294".into();
            step.seat = "二等座".into();
            step.left = crate::sim::CellInput::Text(left.into());
            step.date = None;
            s.steps.push(step);
        }
    }
    s
}

/// One `[[watch]]` of the demo list: 上海 → 常州 on `date`, every 5 s, to you@example.com.
fn demo_watch(
    comment: &str,
    name: &str,
    date: chrono::NaiveDate,
    trains: &str,
    seats: &str,
    extra: &str,
) -> String {
    format!(
        "{comment}[[watch]]\nname = \"{name}\"\nfrom = \"上海\"\nto = \"常州\"\ndates = [\"{date}\"]\n\
         trains = [\"{trains}\"]\nseats = [\"{seats}\"]\n{extra}every = \"5s\"\nnotify = [\"you@example.com\", \"{DEMO_CHANNEL}\"]\n"
    )
}

fn demo_watchlist(date: chrono::NaiveDate) -> String {
    let grab = "action = \"grab\"\n";
    let passenger = "[[watch.passenger]]\nname = \"张三\"\n\
                     id_no = \"110101199003074514\"   # a made-up, checksum-valid number: shown masked everywhere\n";
    [
        "# The demo's watch list (written by `yupiao demo`).\n".to_string(),
        demo_watch("", WATCHES[0], date, "G8294", "二等座", ""),
        demo_watch(
            "\n# Same route and date: shares the one request per cycle with the watch above.\n",
            WATCHES[1],
            date,
            "K*",
            "硬卧",
            "",
        ),
        demo_watch(
            "\n# 抢票: when seats appear, place a grab order through (the simulated) Juhe and follow it.\n",
            WATCHES[2],
            date,
            "G8294",
            "二等座",
            grab,
        ) + passenger,
        "\n# Your 候补 (waitlist) order on 12306, followed with the session cookie in [rail] cookie.\n\
         [[waitlist]]\nname = \"演示 候补订单\"\nevery = \"5s\"\nnotify = [\"you@example.com\", \"{DEMO_CHANNEL}\"]\n"
            .replace("{DEMO_CHANNEL}", DEMO_CHANNEL),
    ]
    .concat()
}

fn clean(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for name in [
        "yupiao.db",
        "yupiao.db-wal",
        "yupiao.db-shm",
        "yupiao.db.lock",
        "watchlist.toml",
        "yupiao.toml",
    ] {
        let p = dir.join(name);
        if p.exists() {
            std::fs::remove_file(&p).with_context(|| format!("cannot remove {}", p.display()))?;
        }
    }
    let mail = dir.join("mail");
    if mail.exists() {
        std::fs::remove_dir_all(&mail).with_context(|| format!("cannot remove {}", mail.display()))?;
    }
    Ok(())
}

/// The push channel of the demo: a webhook to a receiver the demo runs on loopback.
const DEMO_CHANNEL: &str = "demo-webhook";

/// The `[[channel]]` table of the demo's webhook (its URL is a loopback port; its HMAC key is
/// the receiver's test key, nothing anyone relies on).
fn demo_channel_toml(spec: &crate::push::ChannelSpec) -> String {
    use secrecy::ExposeSecret as _;
    let quoted = |s: &str| serde_json::to_string(s).expect("a string serializes");
    let mut t = format!(
        "\n# The demo's push channel: a webhook receiver `yupiao demo` runs on loopback.\n\
         [[channel]]\nname = {}\nkind = \"webhook\"\nurl = {}\n",
        quoted(&spec.name),
        quoted(spec.url.as_ref().map(|u| u.expose_secret()).unwrap_or_default())
    );
    if let Some(s) = &spec.secret {
        t.push_str(&format!("secret = {}\n", quoted(s.expose_secret())));
    }
    t
}

/// Runs the demo in `dir`; prints what happened. Returns when done (about 45 s).
pub async fn run(dir: PathBuf) -> anyhow::Result<()> {
    clean(&dir)?;
    let dir = dir.canonicalize().unwrap_or(dir);
    let sim = Sim::start("127.0.0.1:0".parse()?, demo_scenario()).await?;
    let date = crate::clock::today() + Days::new(3);
    sim.set_waitlist(Some(demo_waitlist_order(date)));
    let driver = sim.clone();
    tokio::spawn(async move {
        let start = tokio::time::Instant::now();
        for (at, code) in WAITLIST_TIMELINE {
            tokio::time::sleep_until(start + Duration::from_secs(at)).await;
            let _ = driver.set_waitlist_status(code);
        }
    });
    let receiver = TestReceivers::start().await?;
    let channel = receiver.spec(ChannelKind::Webhook, DEMO_CHANNEL);
    let watchlist = dir.join("watchlist.toml");
    std::fs::write(&watchlist, demo_watchlist(date))?;
    // So that `yupiao --config demo/yupiao.toml status` (or `orders`) finds the demo's files.
    std::fs::write(
        dir.join("yupiao.toml"),
        "# Written by `yupiao demo`: its database, maildir and watch list (paths relative to here).\n\
         [store]\npath = \"yupiao.db\"\n\n[email]\nmaildir = \"mail\"\n\n[daemon]\nwatchlist = \"watchlist.toml\"\n"
            .to_string()
            + &demo_channel_toml(&channel),
    )?;

    let mut settings = Settings::default();
    settings.upstream.rail_url = sim.base_url();
    settings.upstream.min_interval = Duration::from_millis(300);
    settings.upstream.jitter = Duration::from_millis(200);
    settings.store.path = dir.join("yupiao.db");
    settings.email.transport = Transport::Maildir;
    settings.email.maildir = dir.join("mail");
    settings.daemon.shutdown_grace = Duration::from_secs(3);
    // The simulator has no nightly maintenance: a demo run at 01:00–05:00 must not poll at the
    // night pace, so the window is one minute, twelve hours away.
    settings.daemon.night_window = night_window_away();
    settings.rail.cookie = Some(DEMO_COOKIE.into());
    settings.upstream.juhe_url = sim.base_url();
    settings.juhe.enabled = true;
    settings.juhe.key = Some(crate::sim::JUHE_DEFAULT_KEY.into());
    settings.juhe.person = "张三".into();
    settings.juhe.cellphone = Some("13800138000".into());
    settings.juhe.poll_every = Duration::from_secs(2);
    settings.channels = vec![channel];

    println!(
        "yupiao demo: the daemon against the built-in simulated 12306 at {}",
        sim.base_url()
    );
    println!("  watch list  {}", watchlist.display());
    println!("  scenario    G8294 二等座 on {date}: 无 → 3 (at 7s) → 5 (17s) → 无 (27s) → 2 (35s)");
    println!(
        "  running for {} s; log lines below show polls, changes and alerts\n",
        RUN_FOR.as_secs()
    );

    let token = CancellationToken::new();
    let stop = token.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::time::sleep(RUN_FOR) => {}
            _ = crate::daemon::shutdown_signal() => {}
        }
        stop.cancel();
    });
    crate::daemon::run(settings.clone(), watchlist.clone(), token, || {}).await?;
    let stats = sim.stats();
    sim.shutdown().await;

    report(&settings, &dir, &stats)?;
    report_pushes(&receiver);
    Ok(())
}

/// What the demo's webhook receiver got: one request per event, signed, with its key.
fn report_pushes(receiver: &TestReceivers) {
    let got = receiver.requests(ChannelKind::Webhook);
    println!(
        "\npushes: the webhook receiver on {} got {} request(s) (one per event; X-Yupiao-Signature checked):",
        receiver.base_url(),
        got.len()
    );
    for r in &got {
        let event = r
            .json()
            .and_then(|j| j["event"].as_str().map(str::to_string))
            .unwrap_or_default();
        println!(
            "    [{}] {event:<8} {}  (Idempotency-Key {})",
            if r.accepted { "accepted" } else { "refused" },
            r.title,
            r.header("idempotency-key").unwrap_or("—")
        );
    }
}

fn demo_waitlist_order(date: chrono::NaiveDate) -> crate::sim::WaitlistSpec {
    let today = crate::clock::today();
    crate::sim::WaitlistSpec {
        status: "00".into(),
        prepay_amount: "182.0".into(),
        reserve_time: today.to_string(),
        realize_limit_time: format!("{date} 11:44:00"),
        needs: vec![crate::sim::NeedSpec {
            train: "G8294".into(),
            date,
            from: "上海".into(),
            from_code: "SHH".into(),
            to: "常州".into(),
            to_code: "CZH".into(),
            start_time: "14:44".into(),
            arrive_time: "15:53".into(),
            seat: "二等座".into(),
            queue_level: "1".into(),
            queue_info: "候补人数较少".into(),
        }],
        ..crate::sim::WaitlistSpec::default()
    }
}

/// The demo's watches, in the order of its watch list.
const WATCHES: [&str; 3] = [
    "演示 上海→常州 G8294 二等座",
    "演示 上海→常州 K1805 硬卧",
    "演示 抢票 G8294",
];

fn report(settings: &Settings, dir: &Path, stats: &crate::sim::SimStats) -> anyhow::Result<()> {
    let store = Store::open_read_only(&settings.store.path)?;
    let queries = stats.queries.len();
    println!("\nwhat happened:");
    println!(
        "  12306 requests: {queries} leftTicket queries for 3 watches (one per cycle: they share the route and date)"
    );
    // Every history row is counted under its watch; the first watch's rows are listed.
    println!(
        "  history rows: {} in total, only changes (never one row per poll):",
        store.history_rows()?
    );
    for (i, watch) in WATCHES.iter().enumerate() {
        let changes = store.recent_changes(watch, 1000)?;
        println!("    {watch}: {}", changes.len());
        if i > 0 {
            continue;
        }
        for c in changes.iter().rev() {
            println!(
                "      {}  {} {} {}  left {:<2} {}",
                c.at.format("%H:%M:%S"),
                c.key.date,
                c.key.train,
                c.key.seat.name(),
                if c.raw.is_empty() { "—" } else { &c.raw },
                if c.available { "available" } else { "" }
            );
        }
    }
    let mut sent = Vec::new();
    for id in 1.. {
        match store.email(id)? {
            Some(row) => sent.push(row),
            None => break,
        }
    }
    println!(
        "  候补 history rows: {} (one per change of the order)",
        store.waitlist_history_rows()?
    );
    for o in store.grab_orders()? {
        println!(
            "  抢票 order {} for {}: state {} (yupiao orders show {})",
            o.out_order_no,
            o.date,
            o.state.code(),
            o.out_order_no
        );
    }
    let seat_alerts = sent
        .iter()
        .filter(|e| e.kind == crate::store::EmailKind::Alert)
        .count();
    println!(
        "  emails: {} ({seat_alerts} 余票: one per person when seats appeared, naming both G8294 watches; none for 3 → 5, none for the return inside the 10-minute gap; 候补: one per order change; 抢票: one per order state)",
        sent.len()
    );
    for e in &sent {
        println!("    [{}] {}", e.state.as_str(), e.subject);
    }
    let config = dir.join("yupiao.toml");
    println!("\nwhere to look:");
    println!(
        "  database  {}   (sqlite3 {} 'select * from seat_history_readable')",
        settings.store.path.display(),
        settings.store.path.display()
    );
    println!("  emails    {}/new/", settings.email.maildir.display());
    println!("  status    yupiao --config {} status", config.display());
    println!("  orders    yupiao --config {} orders", config.display());
    Ok(())
}
