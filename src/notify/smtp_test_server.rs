//! A real SMTP server (Python's `aiosmtpd`) on a loopback port, for tests.
//!
//! Email code is only trustworthy once a real server has accepted (and rejected) what it sends,
//! so tests talk SMTP to aiosmtpd instead of a mock. This lives outside `cfg(test)` so that the
//! integration tests in `tests/` can start one too; it is `#[doc(hidden)]` because production
//! code has no use for it.
//!
//! aiosmtpd is provisioned on first use, so that `cargo test` is the whole set-up on a machine
//! with only a Rust toolchain and `python3` (see [`python`]): the system interpreter when it
//! already has aiosmtpd, else a virtualenv created once under `<target>/test-tools/aiosmtpd`
//! (pinned release from PyPI), shared by every test binary and guarded by a file lock because
//! test binaries run in parallel. When that is impossible the test fails with one line saying
//! what was tried and how to fix it: a test that silently skips would hide a broken mailer.

use std::io::Read as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// The aiosmtpd release the harness installs when the system `python3` lacks it.
pub const AIOSMTPD_REQUIREMENT: &str = "aiosmtpd==1.4.6";

/// How long the server gets to start listening.
const STARTUP_LIMIT: Duration = Duration::from_secs(10);

/// Written last into the tools directory: its presence means "provisioned completely".
const COMPLETE_MARKER: &str = "yupiao-provisioned";

/// How to run aiosmtpd: an interpreter and, for a `pip install --target` tree, where it is.
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Python {
    /// `python3`, or the virtualenv's interpreter.
    pub exe: PathBuf,
    /// Extra `PYTHONPATH` entry (the `--target` directory), when not a virtualenv.
    pub site: Option<PathBuf>,
}

impl Python {
    fn system() -> Python {
        Python::plain("python3")
    }

    fn plain(exe: impl Into<PathBuf>) -> Python {
        Python {
            exe: exe.into(),
            site: None,
        }
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.exe);
        cmd.env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PIP_NO_INPUT", "1")
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .stdin(Stdio::null());
        if let Some(site) = &self.site {
            cmd.env("PYTHONPATH", prepend_path(site, std::env::var_os("PYTHONPATH")));
        }
        cmd
    }

    /// `python -c "import aiosmtpd"` succeeds; otherwise what it said.
    fn has_aiosmtpd(&self) -> Result<(), String> {
        run_quiet(self.command().args(["-c", "import aiosmtpd"]))
    }
}

/// The interpreter that runs aiosmtpd, provisioning it on first use (once per process; across
/// processes the file lock makes one of them build and the others wait and reuse it).
#[doc(hidden)]
pub fn python() -> anyhow::Result<Python> {
    static PYTHON: OnceLock<Result<Python, String>> = OnceLock::new();
    PYTHON
        .get_or_init(provision)
        .clone()
        .map_err(|e| anyhow::anyhow!(e))
}

fn provision() -> Result<Python, String> {
    provision_with(
        &Python::system(),
        &target_dir().join("test-tools").join("aiosmtpd"),
    )
}

/// `system` when it has aiosmtpd, else the tools directory `dir` (built if needed); the error is
/// one line: what was tried and how to fix it.
fn provision_with(system: &Python, dir: &Path) -> Result<Python, String> {
    let system_says = match system.has_aiosmtpd() {
        Ok(()) => return Ok(system.clone()),
        Err(e) => e,
    };
    provision_in(system, dir).map_err(|tried| {
        format!(
            "cannot provision aiosmtpd for the SMTP tests: `python3 -c 'import aiosmtpd'` failed \
             ({system_says}), then {tried}; fix: give this machine python3 with the venv or pip \
             module and access to PyPI (the harness installs {AIOSMTPD_REQUIREMENT} into {} by \
             itself), or install aiosmtpd for python3 (`apt-get install python3-aiosmtpd`)",
            dir.display()
        )
    })
}

/// Builds (or reuses) the tools directory `dir`; the error says what was tried.
fn provision_in(system: &Python, dir: &Path) -> Result<Python, String> {
    let parent = dir.parent().unwrap_or(dir);
    std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {} ({e})", parent.display()))?;
    let lock_path = parent.join("aiosmtpd.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("cannot open the lock {} ({e})", lock_path.display()))?;
    // Blocks while another test binary is building it; it is complete when we get the lock.
    lock.lock()
        .map_err(|e| format!("cannot lock {} ({e})", lock_path.display()))?;
    if let Some(python) = provisioned(system, dir) {
        return Ok(python);
    }
    // Half-made (interrupted) or broken: start again.
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .map_err(|e| format!("cannot remove the half-made {} ({e})", dir.display()))?;
    }
    let venv = build_venv(system, dir);
    let python = match venv {
        Ok(p) => p,
        Err(venv_error) => {
            let _ = std::fs::remove_dir_all(dir);
            build_target(system, dir).map_err(|target_error| format!("{venv_error}, then {target_error}"))?
        }
    };
    python
        .has_aiosmtpd()
        .map_err(|e| format!("the installed aiosmtpd does not import ({e})"))?;
    let mode = if python.site.is_some() { "target" } else { "venv" };
    std::fs::write(
        dir.join(COMPLETE_MARKER),
        format!("{mode}\n{AIOSMTPD_REQUIREMENT}\n"),
    )
    .map_err(|e| format!("cannot write the marker in {} ({e})", dir.display()))?;
    Ok(python)
}

/// The interpreter of a completely provisioned `dir` (marker present, same pin, imports).
fn provisioned(system: &Python, dir: &Path) -> Option<Python> {
    let marker = std::fs::read_to_string(dir.join(COMPLETE_MARKER)).ok()?;
    let mut lines = marker.lines();
    let python = match lines.next()? {
        "venv" => Python {
            exe: venv_python(dir),
            site: None,
        },
        "target" => Python {
            exe: system.exe.clone(),
            site: Some(dir.join("site")),
        },
        _ => return None,
    };
    (lines.next()? == AIOSMTPD_REQUIREMENT && python.has_aiosmtpd().is_ok()).then_some(python)
}

fn venv_python(dir: &Path) -> PathBuf {
    if cfg!(windows) {
        dir.join("Scripts").join("python.exe")
    } else {
        dir.join("bin").join("python")
    }
}

fn build_venv(system: &Python, dir: &Path) -> Result<Python, String> {
    run_quiet(system.command().args(["-m", "venv"]).arg(dir))
        .map_err(|e| format!("`python3 -m venv {}` failed ({e})", dir.display()))?;
    let python = Python {
        exe: venv_python(dir),
        site: None,
    };
    run_quiet(
        python
            .command()
            .args(["-m", "pip", "install", "--quiet", AIOSMTPD_REQUIREMENT]),
    )
    .map_err(|e| format!("`pip install {AIOSMTPD_REQUIREMENT}` in that venv failed ({e})"))?;
    Ok(python)
}

/// No venv module (Debian's python3 without python3-venv): install into a plain directory.
fn build_target(system: &Python, dir: &Path) -> Result<Python, String> {
    let site = dir.join("site");
    run_quiet(
        system
            .command()
            .args(["-m", "pip", "install", "--quiet", "--target"])
            .arg(&site)
            .arg(AIOSMTPD_REQUIREMENT),
    )
    .map_err(|e| {
        format!(
            "`python3 -m pip install --target {}` failed ({e})",
            site.display()
        )
    })?;
    Ok(Python {
        exe: system.exe.clone(),
        site: Some(site),
    })
}

/// Runs `cmd` to completion; on failure, its last line of output (or why it could not start).
fn run_quiet(cmd: &mut Command) -> Result<(), String> {
    match cmd.output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            let out = String::from_utf8_lossy(&o.stdout);
            let last_line = |t: &str| t.lines().rfind(|l| !l.trim().is_empty()).map(str::to_string);
            let last = last_line(&err)
                .or_else(|| last_line(&out))
                .unwrap_or_else(|| "no output".to_string());
            let last = last.trim();
            Err(format!("{}: {last}", o.status))
        }
        Err(e) => Err(format!("cannot run it: {e}")),
    }
}

/// Cargo's target directory: `$CARGO_TARGET_TMPDIR/..` when set, else the ancestor of this
/// test binary that holds cargo's `CACHEDIR.TAG`, else `<manifest dir>/target`.
fn target_dir() -> PathBuf {
    if let Some(tmp) = std::env::var_os("CARGO_TARGET_TMPDIR").map(PathBuf::from)
        && let Some(parent) = tmp.parent()
    {
        return parent.to_path_buf();
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.ancestors().skip(1).find(|d| d.join("CACHEDIR.TAG").is_file())
    {
        return dir.to_path_buf();
    }
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest.join("target")
}

fn prepend_path(first: &Path, rest: Option<std::ffi::OsString>) -> std::ffi::OsString {
    let mut paths = vec![first.to_path_buf()];
    if let Some(existing) = rest {
        paths.extend(std::env::split_paths(&existing));
    }
    std::env::join_paths(paths).unwrap_or_else(|_| first.as_os_str().to_owned())
}

/// A running aiosmtpd, killed (and its files removed) on drop.
#[doc(hidden)]
pub struct TestSmtpServer {
    /// Loopback port it listens on (`127.0.0.1`), plain SMTP, no TLS.
    pub port: u16,
    /// With [`TestSmtpServer::start`], every accepted message becomes a file in `maildir/new/`.
    pub maildir: PathBuf,
    /// Scratch directory holding `maildir`, the handler module and the server's log.
    dir: PathBuf,
    child: Child,
}

impl TestSmtpServer {
    /// Starts aiosmtpd with its `Mailbox` handler: it accepts everything and stores it in
    /// [`TestSmtpServer::maildir`].
    pub fn start() -> anyhow::Result<Self> {
        let dir = scratch_dir()?;
        let maildir = dir.join("maildir");
        let maildir_arg = maildir.to_string_lossy().into_owned();
        Self::spawn(dir, maildir, None, "aiosmtpd.handlers.Mailbox", &[&maildir_arg])
    }

    /// As [`TestSmtpServer::start`], on a port the test chose (to bring a "down" server up
    /// where the daemon already points).
    pub fn start_on(port: u16) -> anyhow::Result<Self> {
        let dir = scratch_dir()?;
        let maildir = dir.join("maildir");
        let maildir_arg = maildir.to_string_lossy().into_owned();
        Self::spawn(
            dir,
            maildir,
            Some(port),
            "aiosmtpd.handlers.Mailbox",
            &[&maildir_arg],
        )
    }

    /// Starts aiosmtpd with a handler written in Python: `py_module_src` becomes a module on
    /// `PYTHONPATH` and `class` (a class in it, constructed without arguments) handles the
    /// session. Returning `"550 …"` from `handle_RCPT` is how a test gets a permanent rejection.
    pub fn start_with_handler(py_module_src: &str, class: &str) -> anyhow::Result<Self> {
        let dir = scratch_dir()?;
        std::fs::write(dir.join("yupiao_test_handler.py"), py_module_src)
            .context("cannot write the handler module")?;
        let maildir = dir.join("maildir");
        Self::spawn(dir, maildir, None, &format!("yupiao_test_handler.{class}"), &[])
    }

    /// The raw RFC 5322 text of every message in `maildir/new/`, oldest first.
    pub fn messages(&self) -> Vec<String> {
        maildir_messages(&self.maildir)
    }

    fn spawn(
        dir: PathBuf,
        maildir: PathBuf,
        port: Option<u16>,
        class: &str,
        args: &[&str],
    ) -> anyhow::Result<Self> {
        let python = python()?;
        for sub in ["tmp", "new", "cur"] {
            let p = maildir.join(sub);
            std::fs::create_dir_all(&p).with_context(|| format!("cannot create {}", p.display()))?;
        }
        // Another process may grab the free port between our probe and aiosmtpd's bind: retry.
        let mut last_error = None;
        for _ in 0..if port.is_some() { 1 } else { 3 } {
            let port = match port {
                Some(p) => p,
                None => free_port()?,
            };
            let log_path = dir.join(format!("aiosmtpd-{port}.log"));
            let log = std::fs::File::create(&log_path).context("cannot create the server log")?;
            let child = python
                .command()
                .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
                .args(["-c", class])
                .args(args)
                .env("PYTHONPATH", python_path(&dir, &python))
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()
                .with_context(|| format!("cannot run {}", python.exe.display()))?;
            let mut server = TestSmtpServer {
                port,
                maildir: maildir.clone(),
                dir: dir.clone(),
                child,
            };
            match server.wait_until_listening(&log_path) {
                Ok(()) => return Ok(server),
                Err(e) => {
                    server.kill();
                    last_error = Some(e);
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("aiosmtpd did not start")))
    }

    fn wait_until_listening(&mut self, log: &Path) -> anyhow::Result<()> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + STARTUP_LIMIT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "aiosmtpd exited ({status}) before listening on port {}:\n{}",
                    self.port,
                    read_log(log)
                );
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "aiosmtpd did not listen on port {} within {STARTUP_LIMIT:?}:\n{}",
                    self.port,
                    read_log(log)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TestSmtpServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("cannot bind a loopback port")?;
    Ok(listener.local_addr()?.port())
}

fn scratch_dir() -> anyhow::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "yupiao-smtp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// The scratch dir (the handler module) first, then the provisioned `--target` tree, then
/// whatever `PYTHONPATH` the caller had.
fn python_path(dir: &Path, python: &Python) -> std::ffi::OsString {
    let rest = match &python.site {
        Some(site) => prepend_path(site, std::env::var_os("PYTHONPATH")),
        None => std::env::var_os("PYTHONPATH").unwrap_or_default(),
    };
    prepend_path(dir, Some(rest).filter(|r| !r.is_empty()))
}

fn read_log(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    text
}

/// The raw messages in `maildir/new/`, oldest first.
pub fn maildir_messages(maildir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(maildir.join("new")) else {
        return Vec::new();
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .map(|e| {
            let t = e
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            (t, e.path())
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|(_, p)| std::fs::read_to_string(p).ok())
        .collect()
}

// ---- reading a received email (tests decode what the transports wrote) ---------------------

/// One received message, decoded: headers unfolded, RFC 2047 subject, MIME parts decoded.
#[derive(Debug, Clone)]
pub struct Mail {
    pub raw: String,
    pub subject: String,
    /// The `text/plain` part.
    pub text: String,
    /// The `text/html` part.
    pub html: String,
}

impl Mail {
    pub fn parse(raw: &str) -> Mail {
        let subject = decode_words(&header(raw, "Subject").unwrap_or_default());
        let mut text = String::new();
        let mut html = String::new();
        for (content_type, body) in mime_parts(raw) {
            if content_type.starts_with("text/plain") {
                text = body;
            } else if content_type.starts_with("text/html") {
                html = body;
            }
        }
        Mail {
            raw: raw.to_string(),
            subject,
            text,
            html,
        }
    }

    /// A top-level header, unfolded (`None` when absent).
    pub fn header(&self, name: &str) -> Option<String> {
        header(&self.raw, name)
    }
}

/// The value of header `name` in the top-level header block, continuation lines joined.
pub fn header(raw: &str, name: &str) -> Option<String> {
    let raw = raw.replace("\r\n", "\n");
    let head = raw.split("\n\n").next().unwrap_or("");
    let prefix = format!("{}:", name.to_ascii_lowercase());
    let mut value: Option<String> = None;
    for line in head.lines() {
        match &mut value {
            Some(v) if line.starts_with([' ', '\t']) => v.push_str(line),
            Some(_) => break,
            None if line.to_ascii_lowercase().starts_with(&prefix) => {
                value = Some(line[prefix.len()..].trim().to_string());
            }
            None => {}
        }
    }
    value
}

/// Decodes RFC 2047 encoded-words (`=?utf-8?b?…?=`, `=?utf-8?q?…?=`); whitespace between two
/// encoded words is dropped, as the RFC says.
pub fn decode_words(header: &str) -> String {
    let mut out: Vec<u8> = Vec::new();
    let mut previous_encoded = false;
    for (i, word) in header.split_whitespace().enumerate() {
        let inner = word.strip_prefix("=?").and_then(|w| w.strip_suffix("?="));
        let decoded = match inner.map(|w| w.splitn(3, '?').collect::<Vec<_>>()) {
            Some(p) if p.len() == 3 && p[1].eq_ignore_ascii_case("b") => Some(base64_decode(p[2])),
            Some(p) if p.len() == 3 && p[1].eq_ignore_ascii_case("q") => {
                Some(quoted_printable_decode(&p[2].replace('_', " ")))
            }
            _ => None,
        };
        // Whitespace between two encoded words is not part of the text (RFC 2047 §6.2); any
        // other whitespace is.
        if i > 0 && !(previous_encoded && decoded.is_some()) {
            out.push(b' ');
        }
        previous_encoded = decoded.is_some();
        out.extend(decoded.unwrap_or_else(|| word.as_bytes().to_vec()));
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The (content type, decoded body) of every MIME part, in order.
pub fn mime_parts(raw: &str) -> Vec<(String, String)> {
    let raw = raw.replace("\r\n", "\n");
    let mut parts = Vec::new();
    for part in raw.split("\n--").skip(1) {
        let Some((headers, body)) = part.split_once("\n\n") else {
            continue;
        };
        let block = format!("{}\n", headers.split_once('\n').map_or("", |(_, h)| h));
        let content_type = header(&block, "Content-Type")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let encoding = header(&block, "Content-Transfer-Encoding")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let bytes = match encoding.as_str() {
            "base64" => base64_decode(&body.replace('\n', "")),
            "quoted-printable" => quoted_printable_decode(body),
            _ => body.as_bytes().to_vec(),
        };
        parts.push((content_type, String::from_utf8_lossy(&bytes).into_owned()));
    }
    parts
}

pub fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for v in s.bytes().take_while(|&b| b != b'=').filter_map(val) {
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

pub fn quoted_printable_decode(s: &str) -> Vec<u8> {
    let s = s.replace("=\n", "");
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' && i + 3 <= b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_any_usable_python_the_error_is_one_line_saying_what_was_tried_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let tools = dir.path().join("test-tools").join("aiosmtpd");
        let nowhere = Python::plain(dir.path().join("no-such-python3"));
        let e = provision_with(&nowhere, &tools).unwrap_err();
        assert_eq!(e.lines().count(), 1, "{e}");
        for tried in [
            "python3 -c 'import aiosmtpd'",
            "python3 -m venv",
            "pip install --target",
            "fix:",
            AIOSMTPD_REQUIREMENT,
        ] {
            assert!(e.contains(tried), "{tried:?} missing from: {e}");
        }
        assert!(!tools.join(COMPLETE_MARKER).exists());
    }

    #[test]
    fn a_half_made_tools_directory_is_rebuilt_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let tools = dir.path().join("aiosmtpd");
        // An interrupted run: files, no marker.
        std::fs::create_dir_all(tools.join("bin")).unwrap();
        std::fs::write(tools.join("bin").join("python"), "not a python").unwrap();
        // Any python3 will do here: the system one may have aiosmtpd, so build the directory
        // directly rather than through `provision_with`.
        let python = provision_in(&Python::system(), &tools).unwrap_or_else(|e| panic!("{e}"));
        assert!(tools.join(COMPLETE_MARKER).is_file());
        assert!(python.has_aiosmtpd().is_ok());
        let again = provisioned(&Python::system(), &tools);
        assert_eq!(again, Some(python), "a complete directory is reused as it is");
    }

    #[test]
    fn the_target_directory_is_found_from_the_test_binary() {
        let target = target_dir();
        assert!(target.join("CACHEDIR.TAG").is_file(), "{}", target.display());
        assert!(std::env::current_exe().unwrap().starts_with(&target));
    }

    #[cfg(unix)]
    #[test]
    fn without_the_venv_module_aiosmtpd_goes_into_a_plain_directory() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        // Debian's python3 without python3-venv: `-m venv` fails, pip works.
        let fake = dir.path().join("python3");
        let real = Command::new("sh")
            .args(["-c", "command -v python3"])
            .output()
            .unwrap();
        let real = String::from_utf8(real.stdout).unwrap().trim().to_string();
        std::fs::write(
            &fake,
            format!(
                "#!/bin/sh\nif [ \"$1\" = -m ] && [ \"$2\" = venv ]; then echo 'No module named venv' >&2; exit 1; fi\nexec {real} \"$@\"\n"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let tools = dir.path().join("aiosmtpd");
        let python = provision_in(&Python::plain(&fake), &tools).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(python.site, Some(tools.join("site")));
        assert_eq!(python.exe, fake);
        assert!(python.has_aiosmtpd().is_ok());
        let marker = std::fs::read_to_string(tools.join(COMPLETE_MARKER)).unwrap();
        assert!(marker.starts_with("target\n"), "{marker}");
    }
}
