//! A throwaway PostgreSQL server for tests: a fresh cluster in a temporary directory, on a free
//! loopback port, stopped and deleted when the tests are done.
//!
//! The PostgreSQL backend is only trustworthy once a real server has run its SQL (locks, `SKIP
//! LOCKED`, advisory locks, TLS), so tests start Debian's own binaries with `initdb`/`pg_ctl`
//! instead of faking a database. One cluster per test process ([`shared`]) serves every test of
//! that process, each in its own database ([`TestPg::database`]); test binaries that run in
//! parallel each start their own cluster on their own port. A test that needs a differently
//! configured server (TLS, a strict `pg_hba.conf`) starts its own [`TestPgCluster`].
//!
//! Cleanup cannot rely on `Drop`: the shared cluster lives in a static, and statics are never
//! dropped. Every cluster therefore gets a watchdog process (`sh`) whose standard input is a pipe
//! from the test process; when the test process ends, however it ends (normal exit, panic,
//! `kill -9`), the kernel closes the pipe and the watchdog stops the server the way `pg_ctl -m
//! immediate stop` does (`SIGQUIT` to the postmaster) and deletes the directory. No postgres
//! process outlives `cargo test`.
//!
//! `initdb` refuses to run as root: as root the binaries run as the `postgres` user (created by
//! Debian's package) through `runuser`, `setpriv` or `su`, whichever exists. Setting
//! `YUPIAO_TEST_PG_URL` to a `postgres://` URL uses that server instead (each test still gets its
//! own database, dropped afterwards). Without server binaries the tests print one line saying
//! they did not run ([`test_database`]) — except under `CI=true`, where that is a failure.
//!
//! It lives outside `cfg(test)` (and is `#[doc(hidden)]`) so that `tests/` and benches can use it.

use std::io::Write as _;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once, OnceLock};

use crate::pg::PgTarget;

/// What a test prints (once per test process) when no server binaries exist.
pub const NOT_RUN_LINE: &str = "PostgreSQL tests did not run: no PostgreSQL server binaries found \
     (apt-get install postgresql, or set YUPIAO_PG_BINDIR)";

/// The user every throwaway cluster is created for (`initdb -U`), with trust authentication.
pub const SUPERUSER: &str = "yupiao";

/// Why no test server could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TestPgError {
    /// No `initdb`/`pg_ctl` on this machine: the only case in which PostgreSQL tests may skip.
    #[error("no PostgreSQL server binaries found (apt-get install postgresql, or set YUPIAO_PG_BINDIR)")]
    Unavailable,
    /// The binaries exist but the server could not be started or used: a test failure.
    #[error("{0}")]
    Failed(String),
}

fn failed(message: impl Into<String>) -> TestPgError {
    TestPgError::Failed(message.into())
}

/// How a [`TestPgCluster`] is set up beyond the defaults (trust authentication, no TLS).
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// Serve TLS with this certificate chain and key (PEM): `ssl=on`.
    pub tls: Option<TlsFiles>,
    /// Replaces `pg_hba.conf` (e.g. `hostssl` lines only, to prove a client really used TLS).
    pub hba: Option<String>,
}

/// A server certificate (chain) and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert_pem: String,
    pub key_pem: String,
}

/// A running throwaway cluster. Dropping it stops the server and removes its directory.
#[derive(Debug)]
pub struct TestPgCluster {
    port: u16,
    dir: PathBuf,
    /// Closing its stdin tells the watchdog to stop the server and delete `dir`.
    watchdog: Mutex<Option<(Child, ChildStdin)>>,
}

impl TestPgCluster {
    /// `initdb` + `pg_ctl start` in a new temporary directory.
    pub fn start(options: &ClusterOptions) -> Result<TestPgCluster, TestPgError> {
        let bin = find_bindir()?;
        let runner = Runner::detect()?;
        let dir = scratch_dir(&runner)?;
        let watchdog = spawn_watchdog(&dir)?;
        let mut cluster = TestPgCluster {
            port: 0,
            dir,
            watchdog: Mutex::new(Some(watchdog)),
        };
        cluster.init(&bin, &runner, options)?;
        cluster.port = cluster.launch(&bin, &runner, options)?;
        Ok(cluster)
    }

    /// The loopback port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://yupiao@127.0.0.1:PORT/DATABASE` (trust authentication: no password).
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{database}", self.port)
    }

    /// A fresh, empty database on this cluster.
    pub async fn database(&self) -> Result<TestDb, TestPgError> {
        create_database(&self.url("postgres"), false).await
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn init(&self, bin: &Path, runner: &Runner, options: &ClusterOptions) -> Result<(), TestPgError> {
        let data = self.data();
        let log = self.dir.join("initdb.log");
        let status = runner
            .command(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", SUPERUSER, "-E", "UTF8", "--locale=C"])
            .args(["--no-sync", "--no-instructions"])
            .stdin(Stdio::null())
            .stdout(log_file(&log)?)
            .stderr(log_file(&log)?)
            .status()
            .map_err(|e| failed(format!("cannot run initdb: {e}")))?;
        if !status.success() {
            return Err(failed(format!("initdb failed ({status}):\n{}", read(&log))));
        }
        if let Some(tls) = &options.tls {
            write_owned(runner, &data.join("server.crt"), &tls.cert_pem, 0o644)?;
            write_owned(runner, &data.join("server.key"), &tls.key_pem, 0o600)?;
        }
        if let Some(hba) = &options.hba {
            write_owned(runner, &data.join("pg_hba.conf"), hba, 0o600)?;
        }
        Ok(())
    }

    /// Starts the server on a free port; another process may take the port between the probe and
    /// the server's bind, so a failed start is retried on a new port.
    fn launch(&self, bin: &Path, runner: &Runner, options: &ClusterOptions) -> Result<u16, TestPgError> {
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port()?;
            let log = self.dir.join("server.log");
            let mut server_options = format!(
                "-p {port} -k '{}' -c listen_addresses=127.0.0.1 -c fsync=off \
                 -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
                self.dir.display()
            );
            if options.tls.is_some() {
                server_options.push_str(" -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key");
            }
            let pg_ctl_log = self.dir.join("pg_ctl.log");
            let status = runner
                .command(&bin.join("pg_ctl"))
                .arg("-D")
                .arg(self.data())
                .args(["-w", "-t", "60", "-l"])
                .arg(&log)
                .args(["-o", &server_options, "start"])
                .stdin(Stdio::null())
                // A file, not a pipe: the postmaster inherits these and would hold a pipe open.
                .stdout(log_file(&pg_ctl_log)?)
                .stderr(log_file(&pg_ctl_log)?)
                .status()
                .map_err(|e| failed(format!("cannot run pg_ctl: {e}")))?;
            if status.success() {
                return Ok(port);
            }
            last = format!(
                "pg_ctl start failed ({status}):\n{}\n{}",
                read(&pg_ctl_log),
                read(&log)
            );
        }
        Err(failed(last))
    }

    /// Stops the server at once and removes its directory (what the watchdog does at exit).
    fn stop(&self) {
        let taken = self.watchdog.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some((mut child, stdin)) = taken {
            drop(stdin);
            let _ = child.wait();
        }
    }
}

impl Drop for TestPgCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The server tests share: a throwaway cluster, or the one `YUPIAO_TEST_PG_URL` names.
pub enum TestPg {
    Cluster(TestPgCluster),
    /// An existing server (its URL is a secret: never printed).
    External(String),
}

impl std::fmt::Debug for TestPg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TestPg::Cluster(c) => f.debug_tuple("Cluster").field(c).finish(),
            TestPg::External(_) => f.write_str("External(YUPIAO_TEST_PG_URL)"),
        }
    }
}

impl TestPg {
    /// A fresh, empty database for one test.
    pub async fn database(&self) -> Result<TestDb, TestPgError> {
        match self {
            TestPg::Cluster(c) => c.database().await,
            TestPg::External(url) => create_database(url, true).await,
        }
    }
}

/// The process-wide test server, started on first use.
pub fn shared() -> Result<&'static TestPg, TestPgError> {
    static SHARED: OnceLock<Result<TestPg, TestPgError>> = OnceLock::new();
    SHARED
        .get_or_init(|| match std::env::var("YUPIAO_TEST_PG_URL") {
            Ok(url) if !url.trim().is_empty() => Ok(TestPg::External(url.trim().to_string())),
            _ => TestPgCluster::start(&ClusterOptions::default()).map(TestPg::Cluster),
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// A fresh database on the shared server, for a test. `None` (after printing [`NOT_RUN_LINE`]
/// once per process, straight to stderr so that the test harness does not swallow it) when this
/// machine has no server binaries; panics under `CI=true` then, and whenever the server fails.
pub async fn test_database() -> Option<TestDb> {
    match shared() {
        Ok(server) => match server.database().await {
            Ok(db) => Some(db),
            Err(e) => panic!("cannot create a test database: {e}"),
        },
        Err(e) => skip_or_fail(e),
    }
}

/// What a test does when it cannot have a server: skip on a machine without PostgreSQL, fail
/// on CI or when the server is broken.
pub fn skip_or_fail<T>(error: TestPgError) -> Option<T> {
    match error {
        TestPgError::Unavailable if std::env::var("CI").as_deref() != Ok("true") => {
            static SAID: Once = Once::new();
            SAID.call_once(|| {
                let _ = writeln!(std::io::stderr(), "{NOT_RUN_LINE}");
            });
            None
        }
        TestPgError::Unavailable => panic!("CI=true and {NOT_RUN_LINE}"),
        TestPgError::Failed(e) => panic!("the PostgreSQL test server failed: {e}"),
    }
}

/// One test's database. On an external server it is dropped when this is dropped; a throwaway
/// cluster is deleted whole at exit.
pub struct TestDb {
    /// `postgres://…/t_PID_N`: a secret when the server is external (never print it).
    pub url: String,
    pub name: String,
    /// The URL of the maintenance database to drop it from, for external servers.
    drop_from: Option<String>,
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDb")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(admin) = self.drop_from.take() else {
            return;
        };
        let name = self.name.clone();
        // Drop runs inside the test's runtime: a thread of its own can block on a runtime of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
            if let Ok(rt) = rt {
                rt.block_on(async {
                    if let Ok(client) = admin_client(&admin).await {
                        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        let _ = client.batch_execute(&sql).await;
                    }
                });
            }
        })
        .join();
    }
}

async fn admin_client(url: &str) -> Result<tokio_postgres::Client, TestPgError> {
    let target = PgTarget::parse(url).map_err(|e| failed(e.to_string()))?;
    target.connect_once().await.map_err(|e| failed(e.to_string()))
}

async fn create_database(admin_url: &str, drop_afterwards: bool) -> Result<TestDb, TestPgError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "t_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let client = admin_client(admin_url).await?;
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .map_err(|e| failed(format!("CREATE DATABASE {name}: {e}")))?;
    let url = with_database(admin_url, &name)?;
    Ok(TestDb {
        url,
        name,
        drop_from: drop_afterwards.then(|| admin_url.to_string()),
    })
}

/// `admin_url` with its database replaced by `database`, every other part kept.
fn with_database(admin_url: &str, database: &str) -> Result<String, TestPgError> {
    let mut url =
        url::Url::parse(admin_url).map_err(|e| failed(format!("YUPIAO_TEST_PG_URL is not a URL: {e}")))?;
    url.set_path(&format!("/{database}"));
    Ok(url.to_string())
}

// ---- binaries, users, files -------------------------------------------------------------------

/// Where `initdb` and `pg_ctl` are: `YUPIAO_PG_BINDIR`, `pg_config --bindir`, the newest
/// `/usr/lib/postgresql/*/bin`, then `$PATH`.
pub fn find_bindir() -> Result<PathBuf, TestPgError> {
    let has_tools = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("YUPIAO_PG_BINDIR").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return if has_tools(&dir) {
            Ok(dir)
        } else {
            Err(failed(format!(
                "YUPIAO_PG_BINDIR={} has no initdb and pg_ctl",
                dir.display()
            )))
        };
    }
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            Some((version, e.path().join("bin")))
        })
        .collect();
    debian.sort();
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    from_pg_config
        .into_iter()
        .chain(debian.into_iter().rev().map(|(_, d)| d))
        .chain(on_path)
        .find(|d| has_tools(d))
        .ok_or(TestPgError::Unavailable)
}

/// How the server binaries are run: as ourselves, or as `postgres` when we are root.
#[derive(Debug)]
enum Runner {
    CurrentUser,
    AsPostgres { tool: SwitchUser, uid: u32, gid: u32 },
}

#[derive(Debug, Clone, Copy)]
enum SwitchUser {
    Runuser,
    Setpriv,
    Su,
}

impl Runner {
    fn detect() -> Result<Runner, TestPgError> {
        let uid = std::fs::metadata("/proc/self")
            .map(|m| m.uid())
            .unwrap_or(u32::MAX);
        if uid != 0 {
            return Ok(Runner::CurrentUser);
        }
        let id = |flag: &str| -> Option<u32> {
            let out = Command::new("id").args([flag, "postgres"]).output().ok()?;
            String::from_utf8_lossy(&out.stdout).trim().parse().ok()
        };
        let (Some(uid), Some(gid)) = (id("-u"), id("-g")) else {
            return Err(failed(
                "running as root, and PostgreSQL refuses to run as root: there is no `postgres` \
                 user to run it as (apt-get install postgresql creates one; or run the tests as a \
                 normal user)",
            ));
        };
        let tool = [
            ("runuser", SwitchUser::Runuser),
            ("setpriv", SwitchUser::Setpriv),
            ("su", SwitchUser::Su),
        ]
        .into_iter()
        .find(|(name, _)| on_path(name))
        .map(|(_, tool)| tool)
        .ok_or_else(|| {
            failed("running as root: need runuser, setpriv or su to run PostgreSQL as `postgres`")
        })?;
        Ok(Runner::AsPostgres { tool, uid, gid })
    }

    fn command(&self, program: &Path) -> CommandLine {
        CommandLine {
            runner: self.tool(),
            program: program.to_path_buf(),
            args: Vec::new(),
            stdin: None,
            stdout: None,
            stderr: None,
        }
    }

    fn tool(&self) -> Option<SwitchUser> {
        match self {
            Runner::CurrentUser => None,
            Runner::AsPostgres { tool, .. } => Some(*tool),
        }
    }

    /// Gives `path` to the user the server runs as.
    fn own(&self, path: &Path) -> Result<(), TestPgError> {
        if let Runner::AsPostgres { uid, gid, .. } = self {
            std::os::unix::fs::chown(path, Some(*uid), Some(*gid))
                .map_err(|e| failed(format!("cannot chown {}: {e}", path.display())))?;
        }
        Ok(())
    }
}

/// A command, run directly or through `runuser`/`setpriv`/`su` as `postgres`.
struct CommandLine {
    runner: Option<SwitchUser>,
    program: PathBuf,
    args: Vec<std::ffi::OsString>,
    stdin: Option<Stdio>,
    stdout: Option<Stdio>,
    stderr: Option<Stdio>,
}

impl CommandLine {
    fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    fn args<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    fn stdin(mut self, s: Stdio) -> Self {
        self.stdin = Some(s);
        self
    }

    fn stdout(mut self, s: Stdio) -> Self {
        self.stdout = Some(s);
        self
    }

    fn stderr(mut self, s: Stdio) -> Self {
        self.stderr = Some(s);
        self
    }

    fn status(self) -> std::io::Result<std::process::ExitStatus> {
        let mut command = match self.runner {
            None => {
                let mut c = Command::new(&self.program);
                c.args(&self.args);
                c
            }
            Some(SwitchUser::Runuser) => {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"])
                    .arg(&self.program)
                    .args(&self.args);
                c
            }
            Some(SwitchUser::Setpriv) => {
                let mut c = Command::new("setpriv");
                c.args(["--reuid=postgres", "--regid=postgres", "--init-groups", "--"])
                    .arg(&self.program)
                    .args(&self.args);
                c
            }
            Some(SwitchUser::Su) => {
                let line = std::iter::once(self.program.as_os_str().to_owned())
                    .chain(self.args.iter().cloned())
                    .map(|a| shell_quote(&a.to_string_lossy()))
                    .collect::<Vec<_>>()
                    .join(" ");
                let mut c = Command::new("su");
                c.args(["-s", "/bin/sh", "postgres", "-c"])
                    .arg(format!("exec {line}"));
                c
            }
        };
        if let Some(s) = self.stdin {
            command.stdin(s);
        }
        if let Some(s) = self.stdout {
            command.stdout(s);
        }
        if let Some(s) = self.stderr {
            command.stderr(s);
        }
        command.status()
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false)
}

fn scratch_dir(runner: &Runner) -> Result<PathBuf, TestPgError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "yupiao-pg-{}-{}-{:08x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| failed(format!("cannot create {}: {e}", dir.display())))?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| failed(format!("cannot chmod {}: {e}", dir.display())))?;
    runner.own(&dir)?;
    Ok(dir)
}

/// The process that stops the server and deletes `dir` once its stdin closes: when the cluster
/// is dropped, or when this process exits in any way (the kernel closes the pipe).
fn spawn_watchdog(dir: &Path) -> Result<(Child, ChildStdin), TestPgError> {
    // SIGQUIT to the postmaster is `pg_ctl -m immediate stop`, and root may send it whoever owns
    // the server; the pid file only exists once the server has started. The postmaster removes
    // it when its children are gone; an exited postmaster may linger as a zombie until init
    // reaps it, so the pid file, not `kill -0`, says when it is done.
    const SCRIPT: &str = r#"read -r _ignored
pid=$(head -n 1 "$1/data/postmaster.pid" 2>/dev/null)
if [ -n "$pid" ]; then
  kill -QUIT "$pid" 2>/dev/null
  i=0
  while [ -e "$1/data/postmaster.pid" ] && kill -0 "$pid" 2>/dev/null && [ "$i" -lt 200 ]; do
    sleep 0.05
    i=$((i + 1))
  done
fi
rm -rf "$1"
"#;
    let mut child = Command::new("sh")
        .args(["-c", SCRIPT, "yupiao-pg-watchdog"])
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| failed(format!("cannot start the cleanup watchdog (sh): {e}")))?;
    let stdin = child
        .stdin
        .take()
        .ok_or_else(|| failed("the cleanup watchdog has no stdin"))?;
    Ok((child, stdin))
}

fn write_owned(runner: &Runner, path: &Path, text: &str, mode: u32) -> Result<(), TestPgError> {
    std::fs::write(path, text).map_err(|e| failed(format!("cannot write {}: {e}", path.display())))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| failed(format!("cannot chmod {}: {e}", path.display())))?;
    runner.own(path)
}

fn log_file(path: &Path) -> Result<Stdio, TestPgError> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(Stdio::from)
        .map_err(|e| failed(format!("cannot open {}: {e}", path.display())))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn free_port() -> Result<u16, TestPgError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| failed(format!("cannot bind a loopback port: {e}")))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| failed(format!("cannot read the probed port: {e}")))
}
