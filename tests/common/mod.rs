//! Shared harness for the end-to-end tests: run the real `yupiao` binary against the in-process
//! simulator, with a clean environment, a private working directory and a deadline.
//!
//! Every test target compiles its own copy of this module and uses a different part of it, hence
//! the `dead_code` allowance.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate};
use serde_json::Value;
use yupiao::sim::{QueryRecord, Scenario, Sim, SimStats};

/// How long one run of the binary may take before the test fails: a hang must fail, not block CI.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// Pacing for tests: fast, but still non-zero so that the pacing gate is exercised.
pub const MIN_INTERVAL: &str = "20ms";

/// What one run of the binary produced.
#[derive(Debug, Clone)]
pub struct Output {
    /// Exit code; `None` when the process was killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Fails with both streams shown unless the exit code is `code`.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "unexpected exit code\n{self}");
        self
    }

    /// Every stdout line as a JSON object (see [`json_lines`]).
    #[track_caller]
    pub fn json(&self) -> Vec<Value> {
        json_lines(&self.stdout)
    }

    /// Everything the run printed, for "this must never appear anywhere" checks.
    pub fn all_text(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit code: {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// One invocation of the `yupiao` binary, built up and then run.
///
/// The child never inherits `YUPIAO_CONFIG`, any `YUPIAO__…` override or `RUST_LOG` from the test
/// environment, runs in `cwd` (a temp dir), so no stray `./yupiao.toml` is picked up, and looks
/// for the system settings in a directory that does not exist (unless a test names one).
#[derive(Debug, Clone)]
pub struct Yupiao {
    cwd: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    timeout: Duration,
    /// Run through this command first (`setpriv …` to drop root).
    wrapper: Vec<String>,
}

impl Yupiao {
    pub fn new(cwd: &Path) -> Yupiao {
        Yupiao {
            cwd: cwd.to_path_buf(),
            args: Vec::new(),
            env: Vec::new(),
            timeout: RUN_TIMEOUT,
            wrapper: Vec::new(),
        }
    }

    /// Runs as a user without special rights: as root (where file modes do not apply) through
    /// `setpriv` as nobody; otherwise as the test's own user. The files the run needs must be
    /// readable by others.
    pub fn unprivileged(mut self) -> Yupiao {
        if running_as_root() {
            self.wrapper = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
                .map(String::from)
                .to_vec();
        }
        self
    }

    /// Points the binary at `sim`, with test pacing (20 ms, no jitter).
    pub fn against(self, sim: &Sim) -> Yupiao {
        self.env("YUPIAO__UPSTREAM__RAIL_URL", &sim.base_url())
            .env("YUPIAO__UPSTREAM__MIN_INTERVAL", MIN_INTERVAL)
            .env("YUPIAO__UPSTREAM__JITTER", "0s")
    }

    pub fn arg(mut self, arg: impl AsRef<str>) -> Yupiao {
        self.args.push(arg.as_ref().to_string());
        self
    }

    pub fn args<S: AsRef<str>>(mut self, args: impl IntoIterator<Item = S>) -> Yupiao {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_string()));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Yupiao {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Yupiao {
        self.timeout = timeout;
        self
    }

    fn command(&self) -> Command {
        let bin = env!("CARGO_BIN_EXE_yupiao");
        let mut cmd = match self.wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        cmd.args(&self.args)
            .current_dir(&self.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, _) in std::env::vars_os() {
            let inherited = key.to_string_lossy();
            if inherited.starts_with("YUPIAO") || inherited == "RUST_LOG" {
                cmd.env_remove(&key);
            }
        }
        // A machine with yupiao installed has /etc/yupiao/yupiao.toml: tests never read it.
        cmd.env("YUPIAO_ETC_DIR", "/nonexistent/yupiao-tests-etc");
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Spawns the command (a daemon) with stdout and stderr going to `log_path`.
    pub fn spawn_logged(&self, log_path: &Path) -> Daemon {
        let log = std::fs::File::create(log_path).expect("create the daemon log");
        let mut cmd = self.command();
        cmd.stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log);
        let child = cmd.spawn().expect("spawn yupiao");
        Daemon {
            child,
            log_path: log_path.to_path_buf(),
        }
    }

    /// Runs to completion from async code (the simulator keeps serving meanwhile); panics when the
    /// run takes longer than the timeout, after killing the child.
    pub async fn run(&self) -> Output {
        let mut cmd = tokio::process::Command::from(self.command());
        cmd.kill_on_drop(true);
        let child = cmd.spawn().expect("spawn the yupiao binary");
        match tokio::time::timeout(self.timeout, child.wait_with_output()).await {
            Ok(out) => {
                let out = out.expect("wait for the yupiao binary");
                Output {
                    code: out.status.code(),
                    stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                    stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                }
            }
            Err(_) => panic!(
                "yupiao {:?} did not finish within {:?} (killed)",
                self.args, self.timeout
            ),
        }
    }

    /// Runs to completion from synchronous code; panics (after killing the child) on timeout.
    pub fn run_blocking(&self) -> Output {
        let mut child = self.command().spawn().expect("spawn the yupiao binary");
        let drain = |pipe: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                if let Some(mut p) = pipe {
                    let _ = p.read_to_end(&mut buf);
                }
                String::from_utf8_lossy(&buf).into_owned()
            })
        };
        let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
        let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            if let Some(status) = child.try_wait().expect("poll the yupiao binary") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "yupiao {:?} did not finish within {:?} (killed)",
                    self.args, self.timeout
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Output {
            code: status.code(),
            stdout: stdout.join().expect("stdout reader"),
            stderr: stderr.join().expect("stderr reader"),
        }
    }
}

/// Whether the tests run as root (file permissions do not stop root).
pub fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// Sets the mode bits of `path` (`0o755`).
pub fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

// ---- JSON -------------------------------------------------------------------------------------

/// Parses every non-empty line of `stdout` as a JSON object; fails naming the bad line.
#[track_caller]
pub fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"));
            assert!(v.is_object(), "not a JSON object: {l}");
            v
        })
        .collect()
}

/// The keys of a JSON object, sorted.
pub fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

/// A string field, or `""` when absent or not a string.
pub fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

/// `once --json` lines that report a failed query.
pub fn error_lines(lines: &[Value]) -> Vec<&Value> {
    lines.iter().filter(|l| l.get("error").is_some()).collect()
}

/// `once --json` lines that describe a (train, seat).
pub fn seat_lines(lines: &[Value]) -> Vec<&Value> {
    lines
        .iter()
        .filter(|l| l.get("error").is_none() && l.get("matched").is_none())
        .collect()
}

/// `once --json` lines that say why nothing matched a (watch, date).
pub fn no_match_lines(lines: &[Value]) -> Vec<&Value> {
    lines.iter().filter(|l| l.get("matched").is_some()).collect()
}

// ---- dates ------------------------------------------------------------------------------------

/// Today in Beijing (12306's calendar) plus `n` days; negative `n` goes back.
pub fn day(n: i64) -> NaiveDate {
    let today = yupiao::clock::today();
    let by = Days::new(n.unsigned_abs());
    if n >= 0 { today + by } else { today - by }
}

/// `YYYY-MM-DD`, as the watch list and the JSON output write dates.
pub fn ymd(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

// ---- watch lists ------------------------------------------------------------------------------

/// A `[[watch]]` table under construction; [`WatchSpec::set`] adds any other key verbatim.
#[derive(Debug, Clone)]
pub struct WatchSpec {
    lines: Vec<String>,
}

/// A TOML basic string: a JSON string literal is one, for the text these tests use.
pub fn toml_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// A TOML array of strings.
pub fn toml_strs<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let items: Vec<String> = items.into_iter().map(|s| toml_str(s.as_ref())).collect();
    format!("[{}]", items.join(", "))
}

impl WatchSpec {
    pub fn new(name: &str, from: &str, to: &str, dates: &[NaiveDate]) -> WatchSpec {
        WatchSpec {
            lines: vec![
                format!("name = {}", toml_str(name)),
                format!("from = {}", toml_str(from)),
                format!("to = {}", toml_str(to)),
                format!("dates = {}", toml_strs(dates.iter().map(|d| ymd(*d)))),
            ],
        }
    }

    /// `key = value`, the value as TOML text (`"true"`, `"2"`, `r#"["G*"]"#`).
    pub fn set(mut self, key: &str, toml_value: &str) -> WatchSpec {
        self.lines.push(format!("{key} = {toml_value}"));
        self
    }

    pub fn seats(self, seats: &[&str]) -> WatchSpec {
        self.set("seats", &toml_strs(seats))
    }

    pub fn trains(self, trains: &[&str]) -> WatchSpec {
        self.set("trains", &toml_strs(trains))
    }

    pub fn same_city(self, yes: bool) -> WatchSpec {
        self.set("same_city", &yes.to_string())
    }

    pub fn to_toml(&self) -> String {
        format!("[[watch]]\n{}\n", self.lines.join("\n"))
    }
}

/// A whole watch list made of `watches`.
pub fn watchlist(watches: &[WatchSpec]) -> String {
    watches
        .iter()
        .map(WatchSpec::to_toml)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Writes `text` as `dir/watchlist.toml` and returns its path.
pub fn write_watchlist(dir: &Path, text: &str) -> PathBuf {
    write_file(dir, "watchlist.toml", text)
}

/// Writes `dir/name` and returns its path.
pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

/// A fresh temp dir holding `watches` as `watchlist.toml`.
pub fn dir_with(watches: &[WatchSpec]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    write_watchlist(dir.path(), &watchlist(watches));
    dir
}

// ---- the simulator ----------------------------------------------------------------------------

/// The built-in scenario without its timeline, so seats stay put however long a test runs.
pub fn static_scenario() -> Scenario {
    let mut s = Scenario::builtin();
    s.steps.clear();
    s
}

/// Starts the simulator on a free loopback port.
pub async fn start_sim(scenario: Scenario) -> Sim {
    Sim::start("127.0.0.1:0".parse().expect("socket address"), scenario)
        .await
        .expect("start the simulator")
}

/// The built-in trains, frozen, on a free port.
pub async fn start_static_sim() -> Sim {
    start_sim(static_scenario()).await
}

/// leftTicket queries the simulator received for `date`.
pub fn queries_on(stats: &SimStats, date: NaiveDate) -> Vec<&QueryRecord> {
    let d = ymd(date);
    stats.queries.iter().filter(|q| q.date == d).collect()
}

/// Requests the simulator received on `path` (`/otn/leftTicket/init`).
pub fn requests_to(stats: &SimStats, path: &str) -> u64 {
    stats.requests.get(path).copied().unwrap_or(0)
}

// ---- the daemon -------------------------------------------------------------------------------

/// How long a daemon gets to stop after SIGTERM (its own grace is 5 s).
pub const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// A schedule of one poll per second: `every` cannot go below 5 s, cron can.
pub const EVERY_SECOND: &str = r#""* * * * * *""#;

/// A one-minute night window twelve hours away from now (Beijing time), so that no test runs
/// inside 12306's maintenance window whenever it is started.
pub fn night_window_away_from_now() -> String {
    use chrono::Timelike as _;
    let hour = (yupiao::clock::now().hour() + 12) % 24;
    format!("{hour:02}:00-{hour:02}:01")
}

/// How to start `yupiao run` in one directory, as often as a test needs (restarts reuse it):
/// the environment points at the simulator, a database in the directory, fast pacing, a night
/// window away from now and debug logs. `yupiao status` runs with the same settings.
#[derive(Debug, Clone)]
pub struct DaemonSetup {
    cwd: PathBuf,
    env: Vec<(String, String)>,
}

impl DaemonSetup {
    pub fn new(cwd: &Path, sim: &Sim) -> DaemonSetup {
        let db = cwd.join("yupiao.db").display().to_string();
        let maildir = cwd.join("mail").display().to_string();
        let setup = DaemonSetup {
            cwd: cwd.to_path_buf(),
            env: Vec::new(),
        };
        setup
            .env("YUPIAO__UPSTREAM__RAIL_URL", &sim.base_url())
            .env("YUPIAO__UPSTREAM__MIN_INTERVAL", MIN_INTERVAL)
            .env("YUPIAO__UPSTREAM__JITTER", "0s")
            .env("YUPIAO__STORE__PATH", &db)
            .env("YUPIAO__DAEMON__NIGHT_WINDOW", &night_window_away_from_now())
            .env("YUPIAO__EMAIL__TRANSPORT", "maildir")
            .env("YUPIAO__EMAIL__MAILDIR", &maildir)
            .env("YUPIAO__EMAIL__FROM", "yupiao <yupiao@example.com>")
            .env("YUPIAO__EMAIL__TO", "traveller@example.com")
            .env("RUST_LOG", "yupiao=debug")
    }

    /// Adds (or, being later, overrides) one environment variable.
    pub fn env(mut self, key: &str, value: &str) -> DaemonSetup {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Mail goes to plain SMTP on `127.0.0.1:port`.
    pub fn smtp(self, port: u16) -> DaemonSetup {
        self.env("YUPIAO__EMAIL__TRANSPORT", "smtp")
            .env("YUPIAO__EMAIL__HOST", "127.0.0.1")
            .env("YUPIAO__EMAIL__PORT", &port.to_string())
            .env("YUPIAO__EMAIL__SECURITY", "none")
            .env("YUPIAO__EMAIL__TIMEOUT", "5s")
    }

    pub fn cwd(&self) -> &Path {
        &self.cwd
    }

    pub fn db_path(&self) -> PathBuf {
        self.cwd.join("yupiao.db")
    }

    /// The database, read-only, as `status` opens it (the daemon may be running).
    #[track_caller]
    pub fn store(&self) -> yupiao::store::Store {
        yupiao::store::Store::open_read_only(&self.db_path())
            .unwrap_or_else(|e| panic!("open the database read-only: {e}"))
    }

    /// A one-shot command (`status`, …) with this setup's settings.
    pub fn yupiao(&self) -> Yupiao {
        self.env
            .iter()
            .fold(Yupiao::new(&self.cwd), |y, (k, v)| y.env(k, v))
            .timeout(Duration::from_secs(30))
    }

    /// `yupiao status --json`, parsed; fails unless it exits with 0.
    pub async fn status_json(&self) -> Value {
        let out = self.yupiao().args(["status", "--json"]).run().await;
        out.assert_code(0);
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("status --json is not JSON ({e}): {out}"))
    }

    /// `yupiao status` (text); fails unless it exits with 0.
    pub async fn status_text(&self) -> String {
        let out = self.yupiao().arg("status").run().await;
        out.assert_code(0);
        out.stdout
    }

    /// Spawns `yupiao run`; its stdout and stderr go to a fresh log file in the directory.
    pub fn start(&self) -> Daemon {
        static STARTS: AtomicUsize = AtomicUsize::new(0);
        let n = STARTS.fetch_add(1, Ordering::Relaxed);
        self.yupiao()
            .arg("run")
            .spawn_logged(&self.cwd.join(format!("daemon-{n}.log")))
    }
}

/// A running `yupiao run`; killed (SIGKILL) on drop so that a failing test leaves nothing behind.
#[derive(Debug)]
pub struct Daemon {
    child: std::process::Child,
    log_path: PathBuf,
}

impl Daemon {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The file the daemon logs to; readable after it exited.
    pub fn log_path(&self) -> PathBuf {
        self.log_path.clone()
    }

    /// Everything the daemon logged so far (stderr and stdout).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} {} failed", self.pid());
    }

    pub fn sighup(&self) {
        self.signal("HUP");
    }

    /// Whether the process has exited (reaping it if so).
    pub fn has_exited(&mut self) -> bool {
        self.child.try_wait().expect("poll the daemon").is_some()
    }

    /// Waits for the process to exit on its own; `None` as the code means killed by a signal.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the daemon") {
                return status.code();
            }
            if Instant::now() >= deadline {
                panic!(
                    "the daemon did not exit within {timeout:?}\n--- daemon log ---\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM, then waits for the exit and returns its code.
    pub async fn sigterm(mut self) -> Option<i32> {
        self.signal("TERM");
        self.wait_exit(STOP_TIMEOUT).await
    }

    /// SIGKILL: a crash or power cut, no chance to clean up.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Polls `probe` every 100 ms until it returns `Some`, and returns that; after `timeout`
    /// fails naming `what` and showing the daemon's log. Fails early if the daemon exits.
    pub async fn wait_until<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut probe: impl AsyncFnMut() -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = probe().await {
                return v;
            }
            if self.has_exited() {
                panic!(
                    "the daemon exited while waiting for {what}\n--- daemon log ---\n{}",
                    self.log()
                );
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what}\n--- daemon log ---\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the log contains `needle`.
    pub async fn wait_for_log(&mut self, needle: &str, timeout: Duration) {
        let what = format!("{needle:?} in the log");
        let path = self.log_path.clone();
        self.wait_until(&what, timeout, async || {
            std::fs::read_to_string(&path)
                .ok()?
                .contains(needle)
                .then_some(())
        })
        .await
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Replaces `dir/watchlist.toml` the way editors do: write a temp file, then rename over it.
pub fn replace_watchlist(dir: &Path, text: &str) {
    let tmp = dir.join(".watchlist.toml.tmp");
    std::fs::write(&tmp, text).expect("write the new watch list");
    std::fs::rename(&tmp, dir.join("watchlist.toml")).expect("rename it over the old one");
}

// ---- status --json ----------------------------------------------------------------------------

/// The `watches[]` entry named `name` of a `status --json` report (`Null` when absent).
pub fn watch_of<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["watches"]
        .as_array()
        .and_then(|ws| ws.iter().find(|w| w["name"] == name))
        .unwrap_or(&Value::Null)
}

// ---- SMTP ---------------------------------------------------------------------------------------

/// A loopback port nobody listens on (free when probed).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    l.local_addr().expect("local address").port()
}

/// aiosmtpd on a port chosen by the test (to bring a "down" server up where the daemon already
/// points), storing every message in a Maildir; killed on drop.
pub struct MailServer {
    pub port: u16,
    pub maildir: PathBuf,
    server: yupiao::notify::smtp_test_server::TestSmtpServer,
}

impl MailServer {
    pub fn start_on(port: u16) -> MailServer {
        let server = yupiao::notify::smtp_test_server::TestSmtpServer::start_on(port)
            .unwrap_or_else(|e| panic!("start aiosmtpd on {port}: {e:#}"));
        MailServer {
            port: server.port,
            maildir: server.maildir.clone(),
            server,
        }
    }

    /// The raw text of every message received, oldest first.
    pub fn messages(&self) -> Vec<String> {
        self.server.messages()
    }
}

// ---- reading a received email -------------------------------------------------------------------

// Not every test binary uses every helper.
#[allow(unused_imports)]
pub use yupiao::notify::smtp_test_server::{
    Mail, base64_decode, decode_words, header, maildir_messages, mime_parts, quoted_printable_decode,
};
