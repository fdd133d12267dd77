//! Scale benchmark: the real `yupiao run` daemon against the in-process simulated 12306.
//!
//! What it measures: 1,000 watches (`SCALE_WATCHES`) over 100 distinct leftTicket queries
//! (`SCALE_QUERIES`: 10 city pairs × up to 14 travel dates) polled for 10 minutes
//! (`SCALE_MINUTES`, fractions allowed) with `every` = 30s/45s/60s, while the simulator flips
//! seats every 20 s so that there are changes, history rows and alert emails. Reported:
//! - requests the simulator received, by path; leftTicket queries in total, per minute and per
//!   poll cycle, next to what one-request-per-watch and perfect coalescing would have sent;
//! - peak RSS (`VmHWM`) and RSS over time, CPU time (user + sys) of the daemon process only
//!   (it runs as a child process, so the simulator's memory and CPU are not counted);
//! - database bytes (file + `-wal`), history rows, bytes per history row, emails written.
//!
//! - bytes the daemon wrote (its `write`/`pwrite` calls, from `/proc/<pid>/io`, minus the email
//!   files it wrote), per watch poll; with `SCALE_STRACE=1` also what went to the WAL and the
//!   database file and how many times the WAL was synced (one per commit), from `strace`.
//!
//! The daemon runs with `min_interval = "50ms"`, `jitter = "20ms"` (the real 12306 needs
//! seconds), log level warn, maildir email, everything in a temporary directory, and a
//! `night_window` of one minute twelve hours away: 12306's nightly window (01:00–05:00 Beijing)
//! slows polling to once in 10 minutes, which would make a run at that hour measure nothing.
//!
//! Run it (it builds the `yupiao` binary with the same profile; the default takes ~10 minutes):
//!
//! ```sh
//! cargo bench --bench scale                      # 1000 watches, 100 queries, 10 minutes
//! SCALE_MINUTES=0.5 cargo bench --bench scale    # quick check
//! SCALE_WATCHES=2000 SCALE_QUERIES=140 SCALE_MINUTES=3 cargo bench --bench scale
//! SCALE_KEEP=1 cargo bench --bench scale         # keep the scratch directory (db, mail, log)
//! SCALE_BIN=/path/to/yupiao cargo bench --bench scale   # measure another build (side by side)
//! SCALE_FLIPS=0 cargo bench --bench scale         # no seat changes: every poll after the first is unchanged
//! SCALE_STRACE=1 cargo bench --bench scale        # WAL bytes and syncs (strace attached: CPU is not comparable)
//! ```
//!
//! The database figures are read with plain SQL, so a build with an older schema can be measured
//! by the same bench.
//!
//! The figures end with a Markdown table ready to paste into the README.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use chrono::{Days, NaiveDate};
use yupiao::seat::SeatClass;
use yupiao::sim::{CellInput, QueryRecord, Scenario, Sim, TrainSpec};
use yupiao::stations::StationTable;

/// The city pairs: (from, to, minutes on the way).
const ROUTES: [(&str, &str, u32); 10] = [
    ("VNP", "AOH", 270), // 北京南 → 上海虹桥
    ("SHH", "CZH", 69),  // 上海 → 常州
    ("IZQ", "IOQ", 30),  // 广州南 → 深圳北
    ("HGH", "NKH", 80),  // 杭州东 → 南京南
    ("ICW", "CUW", 70),  // 成都东 → 重庆北
    ("WHN", "CWQ", 90),  // 武汉 → 长沙南
    ("EAY", "ZAF", 120), // 西安北 → 郑州东
    ("TJP", "VNP", 35),  // 天津 → 北京南
    ("JGK", "QDK", 160), // 济南西 → 青岛
    ("SBT", "DFT", 120), // 沈阳北 → 大连北
];
/// The simulator's (and the daemon's default) presale window: today + 14 is the last date.
const PRESALE_DAYS: u32 = 15;
/// How often the simulator's seats are flipped, and how many cells each time.
const FLIP_EVERY_S: u64 = 20;
const FLIPS_PER_ROUND: usize = 20;
/// Values a flipped cell takes (sold out more often than not, as in real life).
const FLIP_VALUES: [&str; 7] = ["无", "无", "无", "1", "2", "5", "有"];
const EVERY: [u64; 3] = [30, 45, 60];
const MB: f64 = 1024.0 * 1024.0;

struct Config {
    minutes: f64,
    watches: usize,
    queries: usize,
    keep: bool,
    /// The daemon binary (`SCALE_BIN`), default the one Cargo built for this bench.
    bin: Option<PathBuf>,
    /// Seat cells flipped every [`FLIP_EVERY_S`] (`SCALE_FLIPS`).
    flips: usize,
    /// Attach `strace` to count WAL bytes and syncs (`SCALE_STRACE`).
    strace: bool,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .map_err(|e| anyhow::anyhow!("{name}={v:?} is not valid: {e}")),
        Err(_) => Ok(default),
    }
}

fn flag(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0")
}

impl Config {
    fn from_env() -> anyhow::Result<Config> {
        let c = Config {
            minutes: env_or("SCALE_MINUTES", 10.0)?,
            watches: env_or("SCALE_WATCHES", 1000)?,
            queries: env_or("SCALE_QUERIES", 100)?,
            keep: flag("SCALE_KEEP"),
            bin: std::env::var_os("SCALE_BIN").map(PathBuf::from),
            flips: env_or("SCALE_FLIPS", FLIPS_PER_ROUND)?,
            strace: flag("SCALE_STRACE"),
        };
        ensure!(
            c.minutes.is_finite() && c.minutes > 0.0,
            "SCALE_MINUTES must be > 0"
        );
        let max_queries = ROUTES.len() * (PRESALE_DAYS as usize - 1);
        ensure!(
            (1..=max_queries).contains(&c.queries),
            "SCALE_QUERIES must be 1..={max_queries} ({} routes × {} dates on sale)",
            ROUTES.len(),
            PRESALE_DAYS - 1
        );
        ensure!(
            c.watches >= c.queries,
            "SCALE_WATCHES ({}) must be at least SCALE_QUERIES ({})",
            c.watches,
            c.queries
        );
        Ok(c)
    }
}

/// A small deterministic generator (xorshift64*): the same seat flips on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A train of the scenario: code, departure (minute of day), seats with their starting values.
type TrainDef = (String, u32, Vec<(&'static str, &'static str)>);

/// The three trains of route `r`.
fn route_trains(r: usize) -> [TrainDef; 3] {
    let r32 = r as u32;
    [
        (
            format!("G{}", 1001 + r * 10),
            7 * 60 + 5 + r32,
            vec![
                ("商务座", "无"),
                ("一等座", "无"),
                ("二等座", "无"),
                ("无座", "无"),
            ],
        ),
        (
            format!("D{}", 2002 + r * 10),
            12 * 60 + 20 + r32,
            vec![("一等座", "3"), ("二等座", "无"), ("无座", "无")],
        ),
        (
            format!("K{}", 3003 + r * 10),
            18 * 60 + 40 + r32,
            vec![("软卧", "无"), ("硬卧", "无"), ("硬座", "有"), ("无座", "有")],
        ),
    ]
}

fn hhmm(minute_of_day: u32) -> String {
    let m = minute_of_day % (24 * 60);
    format!("{:02}:{:02}", m / 60, m % 60)
}

fn scenario() -> Scenario {
    let mut s = Scenario {
        endpoint: "leftTicket/queryG".into(),
        presale_days: PRESALE_DAYS,
        sale_times: BTreeMap::new(),
        trains: Vec::new(),
        steps: Vec::new(),
    };
    for (r, &(from, to, minutes)) in ROUTES.iter().enumerate() {
        for (code, depart, seats) in route_trains(r) {
            s.trains.push(TrainSpec {
                code,
                from: from.into(),
                to: to.into(),
                origin: None,
                terminus: None,
                depart: hhmm(depart),
                arrive: hhmm(depart + minutes),
                button_text: None,
                can_web_buy: None,
                train_no: None,
                houbu: None,
                stops: None,
                sale_time: None,
                seats: seats
                    .iter()
                    .map(|&(seat, left)| (seat.to_string(), CellInput::Text(left.into())))
                    .collect(),
                prices: BTreeMap::new(),
            });
        }
    }
    s
}

/// A TOML basic string.
fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| q(s)).collect();
    format!("[{}]", quoted.join(", "))
}

/// One generated watch: what the report needs to know about it.
struct GenWatch {
    query: usize,
    every_s: u64,
}

/// Query `qi` → (route, travel date): dates first, so 100 queries = 10 routes × 10 dates.
fn query_of(qi: usize, today: NaiveDate) -> (usize, NaiveDate) {
    let route = qi % ROUTES.len();
    let date = today + Days::new(1 + (qi / ROUTES.len()) as u64);
    (route, date)
}

/// The watch list: watch `i` uses query `i % queries` and variant `i / queries` (seats, trains,
/// windows and passengers differ per variant; `every` is 30s, 45s or 60s).
fn watchlist(cfg: &Config, today: NaiveDate) -> (String, Vec<GenWatch>) {
    let mut text = String::from("# Generated by benches/scale.rs\n");
    let mut gen_watches = Vec::with_capacity(cfg.watches);
    for i in 0..cfg.watches {
        let qi = i % cfg.queries;
        let j = i / cfg.queries;
        let (r, date) = query_of(qi, today);
        let (from, to, _) = ROUTES[r];
        let [(g, ..), (d, ..), (k, ..)] = route_trains(r);
        let every_s = EVERY[(qi + j) % EVERY.len()];
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let mut extra: Vec<(&str, String)> = Vec::new();
        let (seats, passengers) = match j % 10 {
            0 => {
                extra.push(("trains", list(&s(&["G*"]))));
                (s(&["二等座"]), 1)
            }
            1 => {
                extra.push(("depart", q("06:00-13:00")));
                (s(&["一等座", "二等座"]), 2)
            }
            2 => {
                extra.push(("trains", list(std::slice::from_ref(&k))));
                (s(&["硬卧"]), 1)
            }
            3 => {
                extra.push(("exclude_trains", list(&s(&["K*"]))));
                (Vec::new(), 1)
            }
            4 => {
                extra.push(("trains", list(std::slice::from_ref(&g))));
                (s(&["商务座"]), 1)
            }
            5 => {
                extra.push(("trains", list(&s(&["D*"]))));
                extra.push(("depart", q("10:00-14:00")));
                (s(&["二等座", "无座"]), 1)
            }
            6 => (s(&["软卧", "硬卧"]), 2),
            7 => {
                extra.push(("depart", q("12:00-23:00")));
                (s(&["一等座"]), 3)
            }
            8 => {
                extra.push(("trains", list(&[g.clone(), d.clone()])));
                (Vec::new(), 1)
            }
            _ => {
                extra.push(("depart", q("18:00-22:00")));
                (s(&["硬座"]), 4)
            }
        };
        let _ = write!(
            text,
            "\n[[watch]]\nname = {}\nfrom = {}\nto = {}\ndates = [{}]\nevery = {}\npassengers = {}\nnotify = [\"bench@example.com\"]\n",
            q(&format!("bench {i:04} {from}→{to} {date} v{j}")),
            q(from),
            q(to),
            q(&date.to_string()),
            q(&format!("{every_s}s")),
            passengers,
        );
        if !seats.is_empty() {
            let _ = writeln!(text, "seats = {}", list(&seats));
        }
        for (key, value) in extra {
            let _ = writeln!(text, "{key} = {value}");
        }
        gen_watches.push(GenWatch { query: qi, every_s });
    }
    (text, gen_watches)
}

/// The daemon to measure: `SCALE_BIN`, else the `yupiao` binary built by Cargo for this bench
/// (same profile).
fn daemon_binary(cfg: &Config) -> anyhow::Result<PathBuf> {
    let bin = cfg
        .bin
        .clone()
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_yupiao")));
    ensure!(
        bin.is_file(),
        "{} is missing: run `cargo build --release` (or `cargo bench --bench scale`, which builds it)",
        bin.display()
    );
    Ok(bin)
}

/// A one-minute `night_window` twelve hours from now (Beijing time), so that the run never falls
/// into 12306's nightly window, whatever the hour.
fn night_window_away() -> String {
    let t = yupiao::clock::now() + chrono::TimeDelta::hours(12);
    let end = t + chrono::TimeDelta::minutes(1);
    format!("{}-{}", t.format("%H:%M"), end.format("%H:%M"))
}

/// `wchar` of `/proc/<pid>/io`: bytes passed to `write`-family calls so far.
fn written_bytes(pid: u32) -> anyhow::Result<u64> {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io"))
        .with_context(|| format!("reading /proc/{pid}/io"))?;
    io.lines()
        .find_map(|l| l.strip_prefix("wchar:"))
        .and_then(|v| v.trim().parse().ok())
        .context("no wchar in /proc/<pid>/io")
}

/// Bytes of every file under `dir` (the maildir: the emails the daemon wrote).
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}

/// History rows and outbox rows by state, read with plain SQL (any schema version).
fn db_counts(db: &Path) -> anyhow::Result<(u64, BTreeMap<String, u64>)> {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let history: i64 = conn.query_row("SELECT count(*) FROM seat_history", [], |r| r.get(0))?;
    let mut stmt = conn.prepare("SELECT state, count(*) FROM outbox GROUP BY state")?;
    let outbox = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?
        .collect::<rusqlite::Result<BTreeMap<_, _>>>()?;
    Ok((history as u64, outbox))
}

/// What `strace` saw the daemon write.
#[derive(Debug, Default)]
struct Traced {
    wal_bytes: u64,
    wal_writes: u64,
    wal_syncs: u64,
    db_bytes: u64,
    db_syncs: u64,
}

/// Attaches `strace` to the daemon: every write-family call and sync, with the file it names.
fn attach_strace(pid: u32, out: &Path) -> anyhow::Result<Child> {
    let child = Command::new("strace")
        .args([
            "-f",
            "-y",
            "-qq",
            "-s",
            "0",
            "-e",
            "trace=write,pwrite64,pwritev,fsync,fdatasync",
            "-o",
        ])
        .arg(out)
        .arg("-p")
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start strace (SCALE_STRACE=1 needs it installed)")?;
    // strace needs a moment to attach to every thread.
    std::thread::sleep(Duration::from_millis(500));
    Ok(child)
}

/// Sums a strace log (`PID SECONDS.MICROS pwrite64(7</tmp/x/yupiao.db-wal>, ""..., 4120, 32) = 4120`):
/// everything, and what was written from `split` (unix seconds) on.
fn parse_strace(log: &str, split: f64) -> (Traced, Traced) {
    let (mut all, mut later) = (Traced::default(), Traced::default());
    for line in log.lines() {
        let Some(open) = line.find('(') else { continue };
        let mut head = line[..open].split_whitespace().rev();
        let call = head.next().unwrap_or("");
        let at: f64 = head.next().and_then(|t| t.parse().ok()).unwrap_or(0.0);
        let path = line[open..]
            .split_once('<')
            .and_then(|(_, rest)| rest.split_once('>'))
            .map_or("", |(p, _)| p);
        let result: u64 = line
            .rsplit_once(" = ")
            .and_then(|(_, r)| r.split_whitespace().next())
            .and_then(|r| r.parse().ok())
            .unwrap_or(0);
        for t in [Some(&mut all), (at >= split).then_some(&mut later)]
            .into_iter()
            .flatten()
        {
            t.add(call, path, result);
        }
    }
    (all, later)
}

impl Traced {
    fn add(&mut self, call: &str, path: &str, result: u64) {
        let wal = path.ends_with("-wal");
        let db = path.ends_with(".db");
        match call {
            "write" | "pwrite64" | "pwritev" if wal => {
                self.wal_bytes += result;
                self.wal_writes += 1;
            }
            "write" | "pwrite64" | "pwritev" if db => self.db_bytes += result,
            "fsync" | "fdatasync" if wal => self.wal_syncs += 1,
            "fsync" | "fdatasync" if db => self.db_syncs += 1,
            _ => {}
        }
    }
}

/// One `/proc` sample of the daemon.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    at_s: f64,
    rss_kb: u64,
    hwm_kb: u64,
    cpu_ticks: u64,
}

fn status_kb(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

fn sample(pid: u32, at_s: f64) -> anyhow::Result<Sample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status (did the daemon exit?)"))?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // Fields after "(comm)": state is field 3, utime 14, stime 15 (1-based).
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("malformed /proc/<pid>/stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |n: usize| -> anyhow::Result<u64> {
        fields
            .get(n - 3)
            .and_then(|f| f.parse().ok())
            .with_context(|| format!("/proc/{pid}/stat field {n} missing"))
    };
    Ok(Sample {
        at_s,
        rss_kb: status_kb(&status, "VmRSS:").context("no VmRSS in /proc/<pid>/status")?,
        hwm_kb: status_kb(&status, "VmHWM:").context("no VmHWM in /proc/<pid>/status")?,
        cpu_ticks: field(14)? + field(15)?,
    })
}

/// user and system seconds of `pid`.
fn cpu_split(pid: u32, ticks_per_s: f64) -> anyhow::Result<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat.rsplit_once(')').map(|(_, r)| r).context("malformed stat")?;
    let f: Vec<u64> = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    ensure!(f.len() == 2, "malformed /proc/{pid}/stat");
    Ok((f[0] as f64 / ticks_per_s, f[1] as f64 / ticks_per_s))
}

/// CPU use per wall minute, from the 1 s samples.
fn cpu_by_minute(samples: &[Sample], ticks_per_s: f64) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = samples.first().copied().unwrap_or_default();
    for s in samples {
        if s.at_s - start.at_s >= 60.0 || std::ptr::eq(s, samples.last().unwrap_or(s)) {
            let span = s.at_s - start.at_s;
            if span >= 1.0 {
                let cpu = (s.cpu_ticks - start.cpu_ticks) as f64 / ticks_per_s;
                out.push(format!("{:.1}", 100.0 * cpu / span));
            }
            start = *s;
        }
    }
    out
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// (db, wal) bytes.
fn db_bytes(db: &Path) -> (u64, u64) {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    (file_len(db), file_len(Path::new(&wal)))
}

/// Poll cycles seen by the simulator: the daemon sends a cycle's queries sorted by
/// (date, from, to), so a new cycle starts when that key does not increase, or after a pause.
fn cycles(queries: &[QueryRecord]) -> Vec<Vec<&QueryRecord>> {
    let mut out: Vec<Vec<&QueryRecord>> = Vec::new();
    let mut prev: Option<(&str, &str, &str, u64)> = None;
    for rec in queries.iter().filter(|r| r.outcome == "ok") {
        let key = (
            rec.date.as_str(),
            rec.from.as_str(),
            rec.to.as_str(),
            rec.elapsed_ms,
        );
        let new = match prev {
            None => true,
            Some((d, f, t, at)) => (key.0, key.1, key.2) <= (d, f, t) || key.3 > at + 2000,
        };
        if new {
            out.push(Vec::new());
        }
        if let Some(c) = out.last_mut() {
            c.push(rec);
        }
        prev = Some(key);
    }
    out
}

/// Requests if every watch were polled on its own, and with perfect coalescing (one request per
/// query per distinct tick time of its watches), over `secs` seconds.
/// Job activations tokio-cron-scheduler dropped: its activation channel holds 200, and when more
/// jobs fire at once its runner logs `Error receiving Lagged(n)` and skips `n` of them — `n`
/// watches that are not marked due for that tick.
fn dropped_ticks(log: &str) -> (u64, usize) {
    let lines: Vec<u64> = log
        .lines()
        .filter(|l| l.contains("tokio_cron_scheduler::job::runner"))
        .filter_map(|l| {
            let rest = &l[l.find("Lagged(")? + "Lagged(".len()..];
            rest[..rest.find(')')?].parse().ok()
        })
        .collect();
    (lines.iter().sum(), lines.len())
}

/// Per distinct query, from the simulator's side: gaps longer than the query's fastest watch
/// allows (+ `slack_ms`), and the longest gap with that watch's period.
struct Cadence {
    late: usize,
    longest_ms: u64,
    longest_every_s: u64,
}

fn cadence(queries: &[QueryRecord], watches: &[GenWatch], today: NaiveDate, slack_ms: u64) -> Cadence {
    let mut fastest: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    for w in watches {
        let (r, date) = query_of(w.query, today);
        let key = (date.to_string(), ROUTES[r].0.to_string(), ROUTES[r].1.to_string());
        let e = fastest.entry(key).or_insert(w.every_s);
        *e = (*e).min(w.every_s);
    }
    let mut times: BTreeMap<(String, String, String), Vec<u64>> = BTreeMap::new();
    for r in queries.iter().filter(|r| r.outcome == "ok") {
        let key = (r.date.clone(), r.from.clone(), r.to.clone());
        times.entry(key).or_default().push(r.elapsed_ms);
    }
    let mut c = Cadence {
        late: 0,
        longest_ms: 0,
        longest_every_s: 0,
    };
    for (key, ts) in &times {
        let every_s = fastest.get(key).copied().unwrap_or(0);
        for pair in ts.windows(2) {
            let gap = pair[1] - pair[0];
            if gap > every_s * 1000 + slack_ms {
                c.late += 1;
            }
            if gap > c.longest_ms {
                c.longest_ms = gap;
                c.longest_every_s = every_s;
            }
        }
    }
    c
}

/// Schedules here are multiples of 15 s, so every tick falls in a 15 s slot counted from the
/// first cycle. Several cycles in one slot = one tick's due watches polled in pieces (the poller
/// takes the due set as soon as the first watch is marked). Returns (slots with more than one
/// cycle, requests beyond one per distinct query per slot).
fn split_ticks(cycles: &[Vec<&QueryRecord>]) -> (usize, usize) {
    let Some(origin) = cycles.first().and_then(|c| c.first()).map(|r| r.elapsed_ms) else {
        return (0, 0);
    };
    /// Cycles started in the slot, distinct queries sent, requests sent.
    #[derive(Default)]
    struct Slot<'a> {
        cycles: usize,
        distinct: BTreeSet<(&'a str, &'a str, &'a str)>,
        sent: usize,
    }
    let mut slots: BTreeMap<u64, Slot> = BTreeMap::new();
    for c in cycles {
        let Some(first) = c.first() else { continue };
        let slot = slots
            .entry((first.elapsed_ms - origin + 2000) / 15_000)
            .or_default();
        slot.cycles += 1;
        slot.sent += c.len();
        slot.distinct.extend(
            c.iter()
                .map(|r| (r.date.as_str(), r.from.as_str(), r.to.as_str())),
        );
    }
    let split = slots.values().filter(|s| s.cycles > 1).count();
    let extra = slots.values().map(|s| s.sent - s.distinct.len()).sum();
    (split, extra)
}

fn reference_counts(watches: &[GenWatch], queries: usize, secs: u64) -> (u64, u64) {
    let naive = watches.iter().map(|w| secs / w.every_s + 1).sum();
    let mut ticks: Vec<BTreeSet<u64>> = vec![BTreeSet::new(); queries];
    for w in watches {
        ticks[w.query].extend((0..=secs / w.every_s).map(|k| k * w.every_s));
    }
    (naive, ticks.iter().map(|t| t.len() as u64).sum())
}

/// Bytes per table and index (SQLite's `dbstat`), largest first; empty if `dbstat` is missing.
fn table_bytes(db: &Path) -> Vec<(String, u64)> {
    let read = || -> rusqlite::Result<Vec<(String, u64)>> {
        let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let mut stmt = conn.prepare("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC")?;
        stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?
            .collect()
    };
    read().unwrap_or_else(|e| {
        eprintln!("(no per-table sizes: {e})");
        Vec::new()
    })
}

fn percentile(sorted: &[usize], p: f64) -> usize {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn stop(child: &mut Child) -> anyhow::Result<std::process::ExitStatus> {
    let pid = child.id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .context("running kill -TERM")?;
    ensure!(status.success(), "kill -TERM {pid} failed: {status}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(st) = child.try_wait()? {
            return Ok(st);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the daemon did not exit within 30 s of SIGTERM; killed it");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; any other argument is a filter we do not support.
    let cfg = Config::from_env()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(run(cfg))
}

async fn run(cfg: Config) -> anyhow::Result<()> {
    let table = StationTable::embedded();
    for (from, to, _) in ROUTES {
        for code in [from, to] {
            ensure!(
                table.by_telecode(code).is_some(),
                "telecode {code} is not in the embedded station table"
            );
        }
    }
    let bin = daemon_binary(&cfg)?;
    let dir = tempfile::Builder::new()
        .prefix("yupiao-scale-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let root = dir.path().to_path_buf();
    let today = yupiao::clock::today();

    let (wl_text, gen_watches) = watchlist(&cfg, today);
    let wl_path = root.join("watchlist.toml");
    std::fs::write(&wl_path, &wl_text)?;
    let (list, _warnings) = yupiao::watchlist::load(&wl_path, today).map_err(|diags| {
        let text: Vec<String> = diags.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("the generated watch list is invalid:\n{}", text.join("\n"))
    })?;
    let known = yupiao::sale::known::Known {
        settled: true,
        presale_days: Some(PRESALE_DAYS),
        ..Default::default()
    };
    let planned = yupiao::poll::plan(&list.watches, &known.view(chrono::Utc::now(), PRESALE_DAYS))
        .queries
        .len();
    ensure!(
        list.watches.len() == cfg.watches && planned == cfg.queries,
        "generated {} watches / {planned} distinct queries, wanted {} / {}",
        list.watches.len(),
        cfg.watches,
        cfg.queries
    );

    let sim = Sim::start("127.0.0.1:0".parse()?, scenario())
        .await
        .context("cannot start the simulator")?;
    let db_path = root.join("yupiao.db");
    let maildir = root.join("mail");
    let cfg_path = root.join("yupiao.toml");
    std::fs::write(
        &cfg_path,
        format!(
            "[upstream]\nrail_url = {}\nmin_interval = \"50ms\"\njitter = \"20ms\"\n\n[store]\npath = {}\n\n\
             [log]\nlevel = \"warn\"\n\n[email]\ntransport = \"maildir\"\nmaildir = {}\n\n\
             [daemon]\nnight_window = {}\n",
            q(&sim.base_url()),
            q(&db_path.to_string_lossy()),
            q(&maildir.to_string_lossy()),
            q(&night_window_away()),
        ),
    )?;
    let log_path = root.join("daemon.log");
    let log = std::fs::File::create(&log_path)?;

    let duration = Duration::from_secs_f64(cfg.minutes * 60.0);
    eprintln!(
        "scale: {} watches, {} distinct queries, {:.1} min; daemon {}; scratch {}",
        cfg.watches,
        cfg.queries,
        cfg.minutes,
        bin.display(),
        root.display()
    );
    let started = Instant::now();
    let started_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let mut child = Command::new(&bin)
        .arg("--config")
        .arg(&cfg_path)
        .arg("--watchlist")
        .arg(&wl_path)
        .arg("run")
        .current_dir(&root)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let pid = child.id();
    let strace_log = root.join("strace.txt");
    let mut strace = if cfg.strace {
        Some(attach_strace(pid, &strace_log)?)
    } else {
        None
    };

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let all_trains: Vec<(String, Vec<&str>)> = (0..ROUTES.len())
        .flat_map(route_trains)
        .map(|(code, _, seats)| (code, seats.iter().map(|(s, _)| *s).collect()))
        .collect();
    let dates = cfg.queries.div_ceil(ROUTES.len());
    let mut flips = 0u64;
    // Bytes written (and of them, emails) once the first minute is over: the first cycle writes
    // every watch's state, later ones only what changed.
    let mut after_first_minute: Option<(u64, u64)> = None;
    let mut samples: Vec<Sample> = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut second = 0u64;
    loop {
        tick.tick().await;
        let at = started.elapsed();
        if let Some(st) = child.try_wait()? {
            bail!(
                "the daemon exited early with {st}; its log ({}):\n{}",
                log_path.display(),
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        samples.push(sample(pid, at.as_secs_f64())?);
        if at >= duration {
            break;
        }
        if second > 0 && second.is_multiple_of(FLIP_EVERY_S) {
            for _ in 0..cfg.flips {
                let (code, seats) = &all_trains[rng.below(all_trains.len())];
                let seat_name = seats[rng.below(seats.len())];
                let seat = SeatClass::parse(seat_name).context("seat class")?;
                let date = today + Days::new(1 + rng.below(dates) as u64);
                let left = FLIP_VALUES[rng.below(FLIP_VALUES.len())];
                sim.try_set_seat(code, Some(date), seat, left)
                    .with_context(|| format!("flipping {code} {seat_name} on {date}"))?;
                flips += 1;
            }
        }
        if second == 60 {
            after_first_minute = Some((written_bytes(pid)?, dir_bytes(&maildir)));
        }
        if second > 0 && second.is_multiple_of(60) {
            let s = samples.last().copied().unwrap_or_default();
            eprintln!(
                "  {:>3} min: {} leftTicket queries so far, RSS {:.1} MB",
                second / 60,
                sim.stats().queries.len(),
                s.rss_kb as f64 / 1024.0
            );
        }
        second += 1;
    }
    let last = samples.last().copied().unwrap_or_default();
    let ticks_per_s = clock_ticks();
    let (user_s, sys_s) = cpu_split(pid, ticks_per_s)?;
    let (db_live, wal_live) = db_bytes(&db_path);
    let wrote = written_bytes(pid)?;
    let stats = sim.stats();
    let wall = started.elapsed();
    let traced = match strace.as_mut() {
        Some(s) => {
            let _ = Command::new("kill").args(["-INT", &s.id().to_string()]).status();
            let _ = s.wait();
            let log = std::fs::read_to_string(&strace_log).unwrap_or_default();
            Some(parse_strace(&log, started_unix + 60.0))
        }
        None => None,
    };

    let exit = stop(&mut child)?;
    let stopped_in = started.elapsed() - wall;
    sim.shutdown().await;
    let log_text = std::fs::read_to_string(&log_path).unwrap_or_default();
    ensure!(
        exit.success(),
        "the daemon exited with {exit} after SIGTERM; its log:\n{log_text}"
    );
    let (db_after, wal_after) = db_bytes(&db_path);
    let (history, outbox) = db_counts(&db_path).context("reading the database")?;
    let email_bytes = dir_bytes(&maildir);
    let tables = table_bytes(&db_path);
    let emails = std::fs::read_dir(maildir.join("new"))
        .map(|d| d.count())
        .unwrap_or(0);

    // ---- figures ----
    let wall_s = wall.as_secs_f64();
    let minutes = wall_s / 60.0;
    let lt_total = stats.queries.len();
    let lt_ok = stats.queries.iter().filter(|r| r.outcome == "ok").count();
    let mut per_minute = vec![0u64; (wall_s / 60.0).round().max(1.0) as usize];
    for r in &stats.queries {
        let m = ((r.elapsed_ms / 60_000) as usize).min(per_minute.len() - 1);
        per_minute[m] += 1;
    }
    let cyc = cycles(&stats.queries);
    let mut sizes: Vec<usize> = cyc.iter().map(Vec::len).collect();
    sizes.sort_unstable();
    let mut durations: Vec<usize> = cyc
        .iter()
        .map(|c| match (c.first(), c.last()) {
            (Some(a), Some(b)) => (b.elapsed_ms - a.elapsed_ms) as usize,
            _ => 0,
        })
        .collect();
    durations.sort_unstable();
    let full = sizes.iter().filter(|&&n| n == cfg.queries).count();
    let (naive, ideal) = reference_counts(&gen_watches, cfg.queries, wall_s as u64);
    let cpu_s = user_s + sys_s;
    let first_min_rss = samples
        .iter()
        .filter(|s| s.at_s <= 60.0)
        .map(|s| s.rss_kb)
        .max()
        .unwrap_or(0);
    let rss_by_minute: Vec<String> = samples
        .iter()
        .filter(|s| s.at_s >= 1.0)
        .fold(BTreeMap::new(), |mut m, s| {
            m.insert((s.at_s / 60.0) as u64, s.rss_kb);
            m
        })
        .values()
        .map(|kb| format!("{:.1}", *kb as f64 / 1024.0))
        .collect();
    let other: Vec<String> = stats.requests.iter().map(|(p, n)| format!("`{p}` {n}")).collect();
    let (dropped, lag_lines) = dropped_ticks(&log_text);
    let (split_slots, split_extra) = split_ticks(&cyc);
    let tick_slots = {
        let secs = wall_s as u64;
        (0..=secs / 15)
            .filter(|k| EVERY.iter().any(|e| (k * 15) % e == 0))
            .count()
    };
    let cad = cadence(&stats.queries, &gen_watches, today, 15_000);
    let warn_lines = log_text.lines().filter(|l| l.contains("WARN")).count();
    let error_lines = log_text.lines().filter(|l| l.contains("ERROR")).count();
    let db_live_total = db_live + wal_live;
    let per_row = |bytes: u64| {
        if history == 0 {
            "—".to_string()
        } else {
            format!("{:.0}", bytes as f64 / history as f64)
        }
    };

    println!(
        "\nyupiao scale benchmark — {}",
        yupiao::clock::now().format("%Y-%m-%d %H:%M %:z")
    );
    println!("requests by path: {}", other.join(", "));
    println!(
        "leftTicket queries per minute: {}",
        per_minute
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "poll cycles: {} (queries per cycle: min {} / median {} / max {}; {} cycles with all {} queries; \
         cycle length median {} ms, max {} ms)",
        cyc.len(),
        sizes.first().copied().unwrap_or(0),
        percentile(&sizes, 0.5),
        sizes.last().copied().unwrap_or(0),
        full,
        cfg.queries,
        percentile(&durations, 0.5),
        durations.last().copied().unwrap_or(0),
    );
    println!(
        "database by table/index (KB): {}",
        tables
            .iter()
            .map(|(n, b)| format!("{n} {}", b / 1024))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("RSS by minute (MB): {}", rss_by_minute.join(" "));
    println!(
        "CPU by minute (% of one core): {}",
        cpu_by_minute(&samples, ticks_per_s).join(" ")
    );
    println!(
        "outbox: {}",
        outbox
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "daemon log: {warn_lines} WARN, {error_lines} ERROR line(s); stopped {:.1} s after SIGTERM, exit {exit}",
        stopped_in.as_secs_f64()
    );
    for line in log_text
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .take(5)
    {
        println!("  {line}");
    }
    if cfg.keep {
        let kept = dir.keep();
        println!("scratch directory kept: {}", kept.display());
    }

    println!();
    println!("| yupiao run at scale (`cargo bench --bench scale`) | |");
    println!("| --- | --- |");
    println!(
        "| load | {} watches over {} distinct queries, `every` 30s/45s/60s, {:.1} min wall, 50 ms pacing |",
        cfg.watches, cfg.queries, minutes
    );
    println!(
        "| leftTicket queries sent | {lt_total} ({:.0}/min; {} answered ok) |",
        lt_total as f64 / minutes,
        lt_ok
    );
    println!(
        "| … one request per watch would be | {naive} ({:.1}× more) |",
        naive as f64 / lt_total.max(1) as f64
    );
    println!(
        "| … perfect coalescing would be | {ideal} (sent {:.2}× that) |",
        lt_total as f64 / ideal.max(1) as f64
    );
    println!(
        "| … sent twice for one tick | {split_extra} (the tick's due watches split over 2+ cycles in {split_slots} of {} ticks) |",
        tick_slots
    );
    println!(
        "| scheduler ticks dropped | {dropped} watch ticks in {lag_lines} `Lagged` errors of tokio-cron-scheduler |"
    );
    println!(
        "| query gaps > fastest watch's `every` + 15 s | {} (longest {:.1} s, fastest watch every {} s) |",
        cad.late,
        cad.longest_ms as f64 / 1000.0,
        cad.longest_every_s
    );
    println!(
        "| poll cycles | {} cycles, median {} queries per cycle (max {}) for {} due-able queries |",
        cyc.len(),
        percentile(&sizes, 0.5),
        sizes.last().copied().unwrap_or(0),
        cfg.queries
    );
    println!(
        "| other requests | {} |",
        stats
            .requests
            .iter()
            .filter(|(p, _)| !p.contains("leftTicket/query"))
            .map(|(p, n)| format!("`{p}` {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "| peak RSS (VmHWM) | {:.1} MB (RSS first minute {:.1} MB, at the end {:.1} MB) |",
        last.hwm_kb as f64 / 1024.0,
        first_min_rss as f64 / 1024.0,
        last.rss_kb as f64 / 1024.0
    );
    println!(
        "| CPU time | {cpu_s:.1} s ({user_s:.1} user + {sys_s:.1} sys) = {:.1} % of one core |",
        100.0 * cpu_s / wall_s
    );
    println!(
        "| database while running | {:.2} MB ({:.2} MB file + {:.2} MB WAL) |",
        db_live_total as f64 / MB,
        db_live as f64 / MB,
        wal_live as f64 / MB
    );
    println!(
        "| database after stop | {:.2} MB ({:.2} MB file + {:.2} MB WAL) |",
        (db_after + wal_after) as f64 / MB,
        db_after as f64 / MB,
        wal_after as f64 / MB
    );
    let history_table = tables.iter().find(|(n, _)| n == "seat_history").map(|(_, b)| *b);
    println!(
        "| history rows | {history} ({} bytes/row in `seat_history`; {} bytes/row counting the whole file) |",
        history_table.map_or_else(|| "?".to_string(), per_row),
        per_row(db_after)
    );
    println!(
        "| seat cells flipped in the simulator | {flips} ({} every {FLIP_EVERY_S} s) |",
        cfg.flips
    );
    println!(
        "| alert emails written (maildir/new) | {emails} (outbox rows {}) |",
        outbox.values().sum::<u64>()
    );
    // Every watch polled at each of its ticks (nothing backs off here): the polls made.
    let polls = naive.max(1);
    let db_written = wrote.saturating_sub(email_bytes);
    println!(
        "| bytes written by the daemon | {:.2} MB ({:.2} MB without the {:.2} MB of emails) = {:.0} bytes per watch poll ({polls} polls), {:.0} per query |",
        wrote as f64 / MB,
        db_written as f64 / MB,
        email_bytes as f64 / MB,
        db_written as f64 / polls as f64,
        db_written as f64 / lt_total.max(1) as f64
    );
    if let Some((wrote_60, emails_60)) = after_first_minute {
        let later_polls = naive
            .saturating_sub(reference_counts(&gen_watches, cfg.queries, 60).0)
            .max(1);
        let later = wrote
            .saturating_sub(wrote_60)
            .saturating_sub(email_bytes.saturating_sub(emails_60));
        println!(
            "| … after the first minute | {:.2} MB = {:.0} bytes per watch poll ({later_polls} polls) |",
            later as f64 / MB,
            later as f64 / later_polls as f64
        );
    }
    if let Some((t, later)) = &traced {
        println!(
            "| WAL (strace) | {:.2} MB in {} writes = {:.0} bytes per watch poll; {} WAL syncs (commits) for {} poll cycles; database file {:.2} MB in {} syncs (checkpoints) |",
            t.wal_bytes as f64 / MB,
            t.wal_writes,
            t.wal_bytes as f64 / polls as f64,
            t.wal_syncs,
            cyc.len(),
            t.db_bytes as f64 / MB,
            t.db_syncs
        );
        let later_polls = naive
            .saturating_sub(reference_counts(&gen_watches, cfg.queries, 60).0)
            .max(1);
        let later_cycles = cyc
            .iter()
            .filter(|c| c.first().is_some_and(|r| r.elapsed_ms >= 60_000))
            .count();
        println!(
            "| … WAL after the first minute | {:.2} MB = {:.0} bytes per watch poll ({later_polls} polls); {} WAL syncs for {later_cycles} poll cycles |",
            later.wal_bytes as f64 / MB,
            later.wal_bytes as f64 / later_polls as f64,
            later.wal_syncs
        );
    }
    Ok(())
}
