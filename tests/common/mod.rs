//! Shared harness for the end-to-end tests: run the real `yupiao` binary against the in-process
//! simulator, with a clean environment, a private working directory and a deadline.
//!
//! Every test target compiles its own copy of this module and uses a different part of it, hence
//! the `dead_code` allowance.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
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
/// environment, and runs in `cwd` (a temp dir), so no stray `./yupiao.toml` is picked up.
#[derive(Debug, Clone)]
pub struct Yupiao {
    cwd: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    timeout: Duration,
}

impl Yupiao {
    pub fn new(cwd: &Path) -> Yupiao {
        Yupiao {
            cwd: cwd.to_path_buf(),
            args: Vec::new(),
            env: Vec::new(),
            timeout: RUN_TIMEOUT,
        }
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
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_yupiao"));
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
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
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
    lines.iter().filter(|l| l.get("error").is_none()).collect()
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
