//! A real SMTP server (Python's `aiosmtpd`) on a loopback port, for tests.
//!
//! Email code is only trustworthy once a real server has accepted (and rejected) what it sends,
//! so tests talk SMTP to aiosmtpd instead of a mock. This lives outside `cfg(test)` so that the
//! integration tests in `tests/` can start one too; it is `#[doc(hidden)]` because production
//! code has no use for it. A missing aiosmtpd is an error that says how to install it: a test
//! that silently skips would hide a broken mailer.

use std::io::Read as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

const INSTALL_HINT: &str = "the SMTP tests need a real SMTP server: install aiosmtpd with \
     `python3 -m pip install aiosmtpd` (or `apt-get install -y python3-aiosmtpd`)";

/// How long the server gets to start listening.
const STARTUP_LIMIT: Duration = Duration::from_secs(10);

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
        check_aiosmtpd()?;
        let dir = scratch_dir()?;
        let maildir = dir.join("maildir");
        let maildir_arg = maildir.to_string_lossy().into_owned();
        Self::spawn(dir, maildir, "aiosmtpd.handlers.Mailbox", &[&maildir_arg])
    }

    /// Starts aiosmtpd with a handler written in Python: `py_module_src` becomes a module on
    /// `PYTHONPATH` and `class` (a class in it, constructed without arguments) handles the
    /// session. Returning `"550 …"` from `handle_RCPT` is how a test gets a permanent rejection.
    pub fn start_with_handler(py_module_src: &str, class: &str) -> anyhow::Result<Self> {
        check_aiosmtpd()?;
        let dir = scratch_dir()?;
        std::fs::write(dir.join("yupiao_test_handler.py"), py_module_src)
            .context("cannot write the handler module")?;
        let maildir = dir.join("maildir");
        Self::spawn(dir, maildir, &format!("yupiao_test_handler.{class}"), &[])
    }

    /// The raw RFC 5322 text of every message in `maildir/new/`, oldest first.
    pub fn messages(&self) -> Vec<String> {
        maildir_messages(&self.maildir)
    }

    fn spawn(dir: PathBuf, maildir: PathBuf, class: &str, args: &[&str]) -> anyhow::Result<Self> {
        for sub in ["tmp", "new", "cur"] {
            let p = maildir.join(sub);
            std::fs::create_dir_all(&p).with_context(|| format!("cannot create {}", p.display()))?;
        }
        // Another process may grab the free port between our probe and aiosmtpd's bind: retry.
        let mut last_error = None;
        for _ in 0..3 {
            let port = free_port()?;
            let log_path = dir.join(format!("aiosmtpd-{port}.log"));
            let log = std::fs::File::create(&log_path).context("cannot create the server log")?;
            let child = Command::new("python3")
                .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
                .args(["-c", class])
                .args(args)
                .env("PYTHONPATH", python_path(&dir))
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()
                .context("cannot run python3")?;
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

fn check_aiosmtpd() -> anyhow::Result<()> {
    let out = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => bail!(
            "{INSTALL_HINT}\n(python3 -c 'import aiosmtpd' said: {})",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => bail!("{INSTALL_HINT}\n(cannot run python3: {e})"),
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

/// The scratch dir first, then whatever `PYTHONPATH` the caller had (a venv with aiosmtpd).
fn python_path(dir: &Path) -> std::ffi::OsString {
    let mut paths = vec![dir.to_path_buf()];
    if let Some(existing) = std::env::var_os("PYTHONPATH") {
        paths.extend(std::env::split_paths(&existing));
    }
    std::env::join_paths(paths).unwrap_or_else(|_| dir.as_os_str().to_owned())
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
