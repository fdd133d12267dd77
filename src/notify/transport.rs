//! Delivering a rendered email: to a Maildir on disk, or to an SMTP server.
//!
//! The caller (the outbox) needs one decision from a failed send: retry later, or give up and
//! tell the user. [`SendError`] carries exactly that.
//!
//! SMTP is driven step by step (lettre's connection API, not its transport) so that *every* round
//! trip — connect, greeting, EHLO, STARTTLS, AUTH, MAIL, each RCPT, DATA and the end of the data —
//! is bounded by `email.timeout`: lettre's async transport bounds only the TCP connect, and a
//! server that accepted the connection and never greeted held the outbox for minutes. A timeout is
//! a transient failure, like a refused connection. The SMTP password is read through
//! `expose_secret()` only while building the transport, and every error text is scrubbed of it
//! before it leaves this module, since error texts end up in logs and the database.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::Error as SmtpError;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;
use secrecy::{ExposeSecret, SecretString};

use super::render::EmailContent;
use crate::config::{self, Security};

/// Why a send failed, sorted by what the caller should do next. The text says what happened
/// and, when a setting can fix it, which one (see [`smtp_hint`]); whether anyone retries is the
/// caller's business, so it is not in the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth retrying later: server down or unreachable, timeout, 4xx, TLS trouble, disk I/O.
    #[error("{0}")]
    Transient(String),
    /// Retrying the same message will not help: 5xx (rejected recipient, failed login), no or
    /// invalid recipients.
    #[error("{0}")]
    Permanent(String),
}

/// Sends [`EmailContent`] the way `[email]` says. Cheap to share: it holds settings, not
/// connections.
pub struct Mailer {
    from: Mailbox,
    via: Via,
}

enum Via {
    Maildir(PathBuf),
    Smtp(Box<Smtp>),
}

/// Everything one SMTP delivery needs; a connection is opened per send.
struct Smtp {
    /// Where to connect, the bound on every round trip (`timeout`), and what failures are
    /// explained against.
    setup: SmtpSetup,
    tls: TlsMode,
    credentials: Option<Credentials>,
    desc: String,
    /// Only for scrubbing error texts.
    password: Option<SecretString>,
}

/// How the connection is secured.
enum TlsMode {
    None,
    /// STARTTLS after the greeting, required.
    Starttls(TlsParameters),
    /// TLS from the first byte (port 465).
    Wrapper(TlsParameters),
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .field("via", &self.describe())
            .finish()
    }
}

impl Mailer {
    /// Checks the settings (addresses, TLS, CA file) so mistakes show at startup, not at the
    /// first alert.
    pub fn new(settings: &config::Email) -> anyhow::Result<Mailer> {
        let from: Mailbox = settings
            .from
            .parse()
            .with_context(|| format!("email.from = {:?} is not an email address", settings.from))?;
        let via = match settings.transport {
            config::Transport::Maildir => {
                if settings.maildir.as_os_str().is_empty() {
                    bail!("email.maildir is empty: set it to a directory, e.g. \"mail\"");
                }
                Via::Maildir(settings.maildir.clone())
            }
            config::Transport::Smtp => smtp_via(settings)?,
        };
        Ok(Mailer { from, via })
    }

    /// For logs and `test-email`: where mail goes, never any credential.
    pub fn describe(&self) -> String {
        match &self.via {
            Via::Maildir(dir) => format!("maildir {}", dir.display()),
            Via::Smtp(smtp) => smtp.desc.clone(),
        }
    }

    /// Sends one message to `to`. The answer is the SMTP server's reply (`250 OK`) or the path
    /// of the Maildir file.
    ///
    /// SMTP opens a connection per send: alerts are minutes apart, so a pool would only hold
    /// sockets that the server has long closed.
    pub async fn send(&self, to: &[String], content: &EmailContent) -> Result<String, SendError> {
        self.send_as(to, content, None).await
    }

    /// [`Mailer::send`] with a stable `Message-ID` built from `id_key` (the outbox row): if the
    /// same row is ever delivered twice — a crash between the server's acceptance and our record
    /// of it — both copies carry the same Message-ID, so mail clients thread or drop the repeat.
    pub async fn send_as(
        &self,
        to: &[String],
        content: &EmailContent,
        id_key: Option<&str>,
    ) -> Result<String, SendError> {
        let message = self.message(to, content, id_key)?;
        match &self.via {
            Via::Maildir(dir) => {
                let dir = dir.clone();
                let bytes = message.formatted();
                tokio::task::spawn_blocking(move || write_maildir(&dir, &bytes))
                    .await
                    .map_err(|e| SendError::Transient(format!("maildir writer failed: {e}")))?
                    .map(|p| p.display().to_string())
                    .map_err(|e| SendError::Transient(format!("{e:#}")))
            }
            Via::Smtp(smtp) => smtp.send(message).await,
        }
    }

    /// `<row-key.yupiao@domain-of-from>`: unique per outbox row, the same on every attempt.
    pub fn message_id(&self, id_key: &str) -> String {
        let domain = self.from.email.domain();
        format!("<{id_key}.yupiao@{domain}>")
    }

    fn message(
        &self,
        to: &[String],
        content: &EmailContent,
        id_key: Option<&str>,
    ) -> Result<Message, SendError> {
        if to.is_empty() {
            return Err(SendError::Permanent(
                "no recipients: set [email] to or the watch's notify".into(),
            ));
        }
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(content.subject.clone())
            .date_now()
            .message_id(id_key.map(|k| self.message_id(k)));
        for addr in to {
            let mailbox: Mailbox = addr.parse().map_err(|e| {
                SendError::Permanent(format!("recipient {addr:?} is not an email address: {e}"))
            })?;
            builder = builder.to(mailbox);
        }
        builder
            .multipart(MultiPart::alternative_plain_html(
                content.text.clone(),
                content.html.clone(),
            ))
            .map_err(|e| SendError::Permanent(format!("cannot build the message: {e}")))
    }
}

fn smtp_via(settings: &config::Email) -> anyhow::Result<Via> {
    let host = settings.host.trim();
    if host.is_empty() {
        bail!("email.host is required when email.transport = \"smtp\"");
    }
    let (security, tls) = match settings.security {
        Security::None => {
            if settings.ca_file.is_some() {
                tracing::warn!("email.ca_file is ignored with email.security = \"none\"");
            }
            ("none", TlsMode::None)
        }
        Security::Starttls => ("starttls", TlsMode::Starttls(tls_parameters(host, settings)?)),
        Security::Tls => ("tls", TlsMode::Wrapper(tls_parameters(host, settings)?)),
    };
    let credentials = match (&settings.username, &settings.password) {
        (Some(user), Some(password)) => {
            if settings.security == Security::None && !is_loopback(host) {
                bail!(
                    "email.security = \"none\" would send the password for {host} unencrypted: \
                     use \"starttls\" or \"tls\""
                );
            }
            Some(Credentials::new(
                user.clone(),
                password.expose_secret().to_string(),
            ))
        }
        (Some(_), None) => bail!("email.username is set but email.password is not"),
        (None, Some(_)) => bail!("email.password is set but email.username is not"),
        (None, None) => None,
    };
    if settings.timeout.is_zero() {
        bail!("email.timeout must be more than 0s (every SMTP round trip waits at most this long)");
    }
    Ok(Via::Smtp(Box::new(Smtp {
        setup: SmtpSetup {
            host: host.to_string(),
            port: settings.port,
            security: settings.security,
            timeout: settings.timeout,
        },
        tls,
        credentials,
        desc: format!("smtp://{host}:{} ({security})", settings.port),
        password: settings.password.clone(),
    })))
}

/// Why a step of the SMTP conversation failed: the server's error, or silence.
enum StepError {
    Smtp(SmtpError),
    Io(std::io::Error),
    /// No answer within the timeout; the text names the step.
    Silent(&'static str),
}

impl Smtp {
    /// One delivery on a fresh connection, every round trip bounded by `timeout`.
    async fn send(&self, message: Message) -> Result<String, SendError> {
        let hello = ClientId::default();
        let mut conn = self.connect(&hello).await.map_err(|e| self.error(e))?;
        let result = self.transaction(&mut conn, &hello, &message).await;
        match &result {
            Ok(_) => {
                let _ = tokio::time::timeout(self.setup.timeout, conn.quit()).await;
            }
            Err(_) => {
                let _ = tokio::time::timeout(self.setup.timeout, conn.abort()).await;
            }
        }
        result.map(|r| response_text(&r)).map_err(|e| self.error(e))
    }

    /// TCP, the greeting and EHLO (and TLS first, for `security = "tls"`).
    async fn connect(&self, hello: &ClientId) -> Result<AsyncSmtpConnection, StepError> {
        let t = self.setup.timeout;
        match &self.tls {
            TlsMode::Wrapper(params) => {
                step(
                    t * 3,
                    "to connect, negotiate TLS and greet",
                    AsyncSmtpConnection::connect_tokio1(
                        (self.setup.host.as_str(), self.setup.port),
                        Some(t),
                        hello,
                        Some(params.clone()),
                        None,
                    ),
                )
                .await
            }
            TlsMode::None | TlsMode::Starttls(_) => {
                let tcp = tokio::time::timeout(
                    t,
                    tokio::net::TcpStream::connect((self.setup.host.as_str(), self.setup.port)),
                )
                .await
                .map_err(|_| StepError::Silent("to accept the connection"))?
                .map_err(StepError::Io)?;
                // lettre writes the message body and the closing "." in separate writes: with
                // Nagle's algorithm the second waits for the server's delayed ACK (~40 ms per
                // email on loopback). lettre exposes no option for it on the sockets it opens
                // itself (`security = "tls"` above), so this only covers plain and STARTTLS.
                tcp.set_nodelay(true).map_err(StepError::Io)?;
                step(
                    t * 2,
                    "to greet and answer EHLO",
                    AsyncSmtpConnection::connect_with_transport(Box::new(tcp), hello),
                )
                .await
            }
        }
    }

    /// STARTTLS, AUTH, MAIL, RCPT…, DATA and the message, each step under the timeout.
    async fn transaction(
        &self,
        conn: &mut AsyncSmtpConnection,
        hello: &ClientId,
        message: &Message,
    ) -> Result<Response, StepError> {
        let t = self.setup.timeout;
        if let TlsMode::Starttls(params) = &self.tls {
            step(
                t * 3,
                "to complete STARTTLS",
                conn.starttls(params.clone(), hello),
            )
            .await?;
        }
        if let Some(creds) = &self.credentials {
            step(t * 3, "to accept AUTH", conn.auth(DEFAULT_MECHANISMS, creds)).await?;
        }
        let envelope = message.envelope();
        let bytes = message.formatted();
        let mut options = Vec::new();
        let non_ascii_address = envelope
            .to()
            .iter()
            .chain(envelope.from())
            .any(|a| !AsRef::<str>::as_ref(a).is_ascii());
        if non_ascii_address && conn.server_info().supports_feature(Extension::SmtpUtfEight) {
            options.push(MailParameter::SmtpUtfEight);
        }
        if !bytes.is_ascii() && conn.server_info().supports_feature(Extension::EightBitMime) {
            options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        step(
            t,
            "to answer MAIL FROM",
            conn.command(Mail::new(envelope.from().cloned(), options)),
        )
        .await?;
        for rcpt in envelope.to() {
            step(
                t,
                "to answer RCPT TO",
                conn.command(Rcpt::new(rcpt.clone(), vec![])),
            )
            .await?;
        }
        step(t, "to answer DATA", conn.command(Data)).await?;
        step(t, "to accept the message after its end", conn.message(&bytes)).await
    }

    fn error(&self, e: StepError) -> SendError {
        let scrub = |mut text: String| {
            if let Some(p) = self
                .password
                .as_ref()
                .map(|p| p.expose_secret())
                .filter(|p| !p.is_empty())
            {
                text = text.replace(p, "[REDACTED]");
            }
            text
        };
        match e {
            StepError::Smtp(e) => classify(&e, &self.desc, self.password.as_ref(), &self.setup),
            StepError::Io(e) => {
                let text = format!("{}: {e}", self.desc);
                SendError::Transient(scrub(with_hint(text, None, false, &self.setup)))
            }
            StepError::Silent(what) => {
                let text = format!(
                    "{}: the server took longer than {} {what} (email.timeout)",
                    self.desc,
                    humantime::format_duration(self.setup.timeout)
                );
                SendError::Transient(with_hint(text, None, true, &self.setup))
            }
        }
    }
}

/// Runs one SMTP step under `limit`.
async fn step<T>(
    limit: Duration,
    what: &'static str,
    fut: impl std::future::Future<Output = Result<T, SmtpError>>,
) -> Result<T, StepError> {
    match tokio::time::timeout(limit, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(StepError::Smtp(e)),
        Err(_) => Err(StepError::Silent(what)),
    }
}

fn tls_parameters(host: &str, settings: &config::Email) -> anyhow::Result<TlsParameters> {
    let mut tls = TlsParameters::builder(host.to_string());
    if let Some(path) = &settings.ca_file {
        let pem =
            std::fs::read(path).with_context(|| format!("email.ca_file: cannot read {}", path.display()))?;
        let cert = Certificate::from_pem(&pem)
            .with_context(|| format!("email.ca_file: {} is not a PEM certificate", path.display()))?;
        tls = tls.add_root_certificate(cert);
    }
    tls.build()
        .with_context(|| format!("email: cannot set up TLS for {host}"))
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `250 OK`, or `250 2.0.0 Ok: queued as 1234` — what the server said, on one line.
fn response_text(response: &Response) -> String {
    let lines: Vec<&str> = response.message().collect();
    format!("{} {}", response.code(), lines.join(" "))
        .trim_end()
        .to_string()
}

/// 5xx replies are final; everything else (refused connection, timeout, 4xx, TLS, a dropped
/// connection) may work on the next try. The text ends with what to change, when a setting can
/// fix it.
fn classify(error: &SmtpError, desc: &str, password: Option<&SecretString>, setup: &SmtpSetup) -> SendError {
    let mut text = format!("{desc}: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        let s = e.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        source = e.source();
    }
    text = with_hint(
        text,
        error.status().map(|c| c.to_string()).as_deref(),
        error.is_timeout(),
        setup,
    );
    if let Some(p) = password.map(|p| p.expose_secret()).filter(|p| !p.is_empty()) {
        text = text.replace(p, "[REDACTED]");
    }
    if error.is_permanent() {
        SendError::Permanent(text)
    } else {
        SendError::Transient(text)
    }
}

/// `text` followed by the setting to change, when one can fix the failure it describes.
fn with_hint(mut text: String, code: Option<&str>, timed_out: bool, setup: &SmtpSetup) -> String {
    if let Some(hint) = smtp_hint(SmtpFailure::of(&text, code, timed_out), setup) {
        text.push_str(" — ");
        text.push_str(&hint);
    }
    text
}

/// The `[email]` settings an SMTP delivery uses and its failures are explained against.
#[derive(Debug, Clone)]
struct SmtpSetup {
    host: String,
    port: u16,
    security: Security,
    timeout: Duration,
}

/// What kind of SMTP failure it was, by the setting that fixes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpFailure {
    /// `security = "starttls"` against a server that offers no STARTTLS.
    StarttlsUnsupported,
    /// TLS spoken to a plain port (or the other way round): `InvalidContentType`, corrupt
    /// message, wrong version number.
    TlsMismatch,
    /// The server's certificate is not trusted (private CA, wrong name).
    Certificate,
    /// The server refused the login (535, 534, 538, "authentication").
    Login,
    /// Nothing listens there.
    ConnectionRefused,
    /// The host name does not resolve.
    UnknownHost,
    /// No answer within `timeout`.
    Timeout,
    /// A recipient address was refused (550, 551, 553).
    RecipientRefused,
    /// Anything else: the server's own words are all we have.
    Other,
}

impl SmtpFailure {
    /// Sorts a failure by its text (the whole error chain), SMTP reply code and timeout flag.
    pub fn of(text: &str, code: Option<&str>, timed_out: bool) -> SmtpFailure {
        let t = text.to_ascii_lowercase();
        let has = |needles: &[&str]| needles.iter().any(|n| t.contains(n));
        if has(&["starttls is not supported", "starttls not supported"]) {
            SmtpFailure::StarttlsUnsupported
        } else if has(&[
            "invalidcontenttype",
            "corrupt message",
            "wrong version number",
            "record overflow",
            "invalidmessage",
        ]) {
            SmtpFailure::TlsMismatch
        } else if has(&["certificate", "unknownissuer", "badsignature", "notvalidforname"]) {
            SmtpFailure::Certificate
        } else if matches!(code, Some("535" | "534" | "538" | "530"))
            || has(&["authentication", "auth failed", "credentials"])
        {
            SmtpFailure::Login
        } else if has(&["connection refused"]) {
            SmtpFailure::ConnectionRefused
        } else if has(&[
            "failed to lookup address",
            "name or service not known",
            "no address associated",
            "nodename nor servname",
            "temporary failure in name resolution",
        ]) {
            SmtpFailure::UnknownHost
        } else if timed_out || has(&["timed out", "timeout"]) {
            SmtpFailure::Timeout
        } else if matches!(code, Some("550" | "551" | "553")) {
            SmtpFailure::RecipientRefused
        } else {
            SmtpFailure::Other
        }
    }
}

/// One sentence naming the `[email]` setting to change for `failure` (pure), or `None` when no
/// setting can fix it.
fn smtp_hint(failure: SmtpFailure, s: &SmtpSetup) -> Option<String> {
    let (host, port) = (&s.host, s.port);
    Some(match failure {
        SmtpFailure::StarttlsUnsupported => format!(
            "{host}:{port} offers no STARTTLS: set email.security = \"none\" for a loopback or plain \
             server, or email.security = \"tls\" with email.port = 465 for implicit TLS"
        ),
        SmtpFailure::TlsMismatch => format!(
            "TLS and plain SMTP are mixed up on {host}:{port} (TLS spoken to a plain port, or plain \
             to a TLS port): check email.port and email.security (465 = \"tls\", 587 = \"starttls\", \
             a plain local server = \"none\")"
        ),
        SmtpFailure::Certificate => format!(
            "the certificate of {host} is not trusted: set email.ca_file to the PEM file of its CA, \
             or email.host to the name on the certificate"
        ),
        SmtpFailure::Login => "the server refused the login: check email.username and \
             email.password (or email.password_file)"
            .to_string(),
        SmtpFailure::ConnectionRefused => {
            format!("nothing accepts connections on {host}:{port}: check email.host and email.port")
        }
        SmtpFailure::UnknownHost => format!("{host} does not resolve: check email.host"),
        SmtpFailure::Timeout => {
            let tls_port = if port == 465 && s.security != Security::Tls {
                "; port 465 expects email.security = \"tls\""
            } else {
                ""
            };
            format!(
                "{host}:{port} did not answer within {}: check email.host and email.port{tls_port}",
                humantime::format_duration(s.timeout)
            )
        }
        SmtpFailure::RecipientRefused => {
            "the server refused a recipient: check the addresses in email.to or the watch's notify"
                .to_string()
        }
        SmtpFailure::Other => return None,
    })
}

/// Delivers `bytes` the Maildir way: write to `tmp/`, flush to disk, rename into `new/`, so a
/// reader never sees half a message.
fn write_maildir(dir: &Path, bytes: &[u8]) -> anyhow::Result<PathBuf> {
    use std::io::Write as _;
    for sub in ["tmp", "new", "cur"] {
        let p = dir.join(sub);
        std::fs::create_dir_all(&p).with_context(|| format!("cannot create {}", p.display()))?;
    }
    let name = unique_name();
    let tmp = dir.join("tmp").join(&name);
    let new = dir.join("new").join(&name);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()));
    drop(file);
    let delivered = written.and_then(|()| {
        std::fs::rename(&tmp, &new)
            .with_context(|| format!("cannot move {} to {}", tmp.display(), new.display()))
    });
    if delivered.is_err() {
        // A failed write (a full disk) must not leave an empty or partial file behind in tmp/
        // for every retry.
        let _ = std::fs::remove_file(&tmp);
    }
    delivered.map(|()| new)
}

/// `1764549600.M123456P4242Q7.myhost`: seconds, microseconds, pid, a per-process counter and the
/// host name, as the Maildir convention asks, so two writers never pick the same name.
fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static HOST: OnceLock<String> = OnceLock::new();
    let host = HOST.get_or_init(|| {
        ClientId::default()
            .to_string()
            .chars()
            .map(|c| match c {
                '/' => "\\057".to_string(),
                ':' => "\\072".to_string(),
                c if c.is_ascii_graphic() => c.to_string(),
                _ => "_".to_string(),
            })
            .collect()
    });
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    format!(
        "{}.M{}P{}Q{}.{host}",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::render::tests::{day, one_train, watch};
    use crate::notify::render_seat_alert;
    use crate::notify::smtp_test_server::TestSmtpServer;

    fn maildir_settings(dir: &Path) -> config::Email {
        config::Email {
            maildir: dir.to_path_buf(),
            from: "yupiao <yupiao@example.com>".into(),
            ..config::Email::default()
        }
    }

    fn smtp_settings(port: u16) -> config::Email {
        config::Email {
            transport: config::Transport::Smtp,
            host: "127.0.0.1".into(),
            port,
            security: Security::None,
            from: "yupiao <yupiao@example.com>".into(),
            timeout: Duration::from_secs(5),
            ..config::Email::default()
        }
    }

    fn alert() -> EmailContent {
        render_seat_alert(&watch("回家"), day(), &one_train(), "https://kyfw.12306.cn")
    }

    fn files(dir: &Path) -> Vec<PathBuf> {
        match std::fs::read_dir(dir) {
            Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Both parts present, each decodable back to the rendered UTF-8 text.
    fn assert_is_the_alert(raw: &str) {
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(raw.contains("text/plain; charset=utf-8"), "{raw}");
        assert!(raw.contains("text/html; charset=utf-8"), "{raw}");
        assert!(raw.contains("Message-ID: <"), "{raw}");
        assert!(raw.contains("\r\nDate: ") || raw.contains("\nDate: "), "{raw}");
        let mail = alert();
        let parsed = crate::notify::smtp_test_server::Mail::parse(raw);
        let bodies = [parsed.text.clone(), parsed.html.clone()];
        assert!(
            bodies.iter().any(|b| b.contains("二等座  3张  ¥91.0")),
            "text part not found in {bodies:?}"
        );
        assert!(
            bodies.iter().any(|b| b.contains("<table")),
            "html part not found in {bodies:?}"
        );
        assert!(
            parsed.subject.contains(&mail.subject),
            "subject {:?} not in {raw}",
            mail.subject
        );
    }

    #[tokio::test]
    async fn maildir_send_writes_exactly_one_message_into_new() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::new(&maildir_settings(dir.path())).unwrap();
        assert_eq!(mailer.describe(), format!("maildir {}", dir.path().display()));
        let to = vec!["me@example.com".to_string()];
        let path = mailer.send(&to, &alert()).await.unwrap();
        let new = files(&dir.path().join("new"));
        assert_eq!(new, vec![PathBuf::from(&path)]);
        assert!(files(&dir.path().join("tmp")).is_empty());
        assert!(dir.path().join("cur").is_dir());
        let raw = std::fs::read_to_string(&path).unwrap();
        assert!(raw.contains("From: yupiao <yupiao@example.com>"), "{raw}");
        assert!(raw.contains("To: me@example.com"), "{raw}");
        assert!(raw.contains("Subject: =?utf-8?"), "{raw}");
        assert_is_the_alert(&raw);

        mailer.send(&to, &alert()).await.unwrap();
        assert_eq!(files(&dir.path().join("new")).len(), 2);
    }

    #[tokio::test]
    async fn no_recipients_is_a_permanent_error_that_says_what_to_set() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::new(&maildir_settings(dir.path())).unwrap();
        let err = mailer.send(&[], &alert()).await.unwrap_err();
        assert_eq!(
            err,
            SendError::Permanent("no recipients: set [email] to or the watch's notify".into())
        );
        let err = mailer
            .send(&["not an address".into()], &alert())
            .await
            .unwrap_err();
        assert!(matches!(err, SendError::Permanent(_)), "{err}");
    }

    #[tokio::test]
    async fn unwritable_maildir_is_transient() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"").unwrap();
        let mailer = Mailer::new(&maildir_settings(&blocker)).unwrap();
        let err = mailer
            .send(&["me@example.com".into()], &alert())
            .await
            .unwrap_err();
        assert!(matches!(err, SendError::Transient(_)), "{err}");
    }

    #[test]
    fn settings_mistakes_are_caught_at_startup() {
        let mut s = smtp_settings(25);
        s.host = "mail.example.com".into();
        s.username = Some("me".into());
        s.password = Some(SecretString::from("hunter2"));
        let e = Mailer::new(&s).unwrap_err().to_string();
        assert!(e.contains("unencrypted"), "{e}");
        assert!(!e.contains("hunter2"));

        let mut s = smtp_settings(587);
        s.security = Security::Starttls;
        s.ca_file = Some("/nonexistent/ca.pem".into());
        let e = format!("{:#}", Mailer::new(&s).unwrap_err());
        assert!(e.contains("ca_file"), "{e}");

        let mut s = smtp_settings(587);
        s.from = "nobody".into();
        assert!(Mailer::new(&s).is_err());
    }

    #[test]
    fn describe_never_shows_the_password() {
        let mut s = smtp_settings(587);
        s.host = "mail.example.com".into();
        s.security = Security::Starttls;
        s.username = Some("me".into());
        s.password = Some(SecretString::from("hunter2"));
        let mailer = Mailer::new(&s).unwrap();
        assert_eq!(mailer.describe(), "smtp://mail.example.com:587 (starttls)");
        assert!(!format!("{mailer:?}").contains("hunter2"));
    }

    #[tokio::test]
    async fn smtp_delivers_to_a_real_server_and_a_dead_one_is_transient() {
        let server = TestSmtpServer::start().unwrap();
        let mailer = Mailer::new(&smtp_settings(server.port)).unwrap();
        let answer = mailer
            .send(&["me@example.com".into(), "you@example.com".into()], &alert())
            .await
            .unwrap();
        assert!(answer.starts_with("250"), "{answer}");
        let messages = server.messages();
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert_is_the_alert(&messages[0]);

        let port = server.port;
        drop(server);
        let err = mailer
            .send(&["me@example.com".into()], &alert())
            .await
            .unwrap_err();
        assert!(matches!(err, SendError::Transient(_)), "{err}");
        assert!(err.to_string().contains(&format!("127.0.0.1:{port}")), "{err}");
    }

    #[tokio::test]
    async fn a_server_that_never_greets_is_a_transient_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // Accepts, holds the connection open, says nothing.
        let held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                open.push(s);
            }
        });
        let mut settings = smtp_settings(port);
        settings.timeout = Duration::from_millis(300);
        let err = failure(&settings).await;
        match &err {
            SendError::Transient(m) => assert!(
                m.contains("took longer than 300ms to greet and answer EHLO"),
                "{m}"
            ),
            other => panic!("expected Transient, got {other:?}"),
        }
        held.abort();
    }

    #[tokio::test]
    async fn a_server_that_stalls_after_the_data_is_a_transient_timeout() {
        let server = TestSmtpServer::start_with_handler(
            r#"
import asyncio
class Stall:
    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(30)
        return "250 OK"
"#,
            "Stall",
        )
        .unwrap();
        let mut settings = smtp_settings(server.port);
        settings.timeout = Duration::from_millis(500);
        let err = failure(&settings).await;
        match &err {
            SendError::Transient(m) => {
                assert!(m.contains("to accept the message after its end"), "{m}")
            }
            other => panic!("expected Transient, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn the_message_id_of_a_row_is_the_same_on_every_attempt() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::new(&maildir_settings(dir.path())).unwrap();
        let to = vec!["me@example.com".to_string()];
        let a = mailer
            .send_as(&to, &alert(), Some("outbox.7.1764549600000"))
            .await
            .unwrap();
        let b = mailer
            .send_as(&to, &alert(), Some("outbox.7.1764549600000"))
            .await
            .unwrap();
        let c = mailer.send(&to, &alert()).await.unwrap();
        let id = |p: &str| {
            let raw = std::fs::read_to_string(p).unwrap();
            crate::notify::smtp_test_server::Mail::parse(&raw)
                .header("Message-ID")
                .unwrap_or_default()
        };
        assert_eq!(id(&a), "<outbox.7.1764549600000.yupiao@example.com>");
        assert_eq!(id(&a), id(&b));
        assert_ne!(id(&c), id(&a), "other emails keep random ids");
    }

    #[tokio::test]
    async fn smtp_rejected_recipient_is_permanent_and_a_4xx_is_transient() {
        let server = TestSmtpServer::start_with_handler(
            r#"
class Picky:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("bad@"):
            return "550 5.1.1 no such user"
        if address.startswith("later@"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        return "250 OK"
"#,
            "Picky",
        )
        .unwrap();
        let mailer = Mailer::new(&smtp_settings(server.port)).unwrap();
        let err = mailer
            .send(&["bad@example.com".into()], &alert())
            .await
            .unwrap_err();
        match &err {
            SendError::Permanent(m) => assert!(m.contains("no such user"), "{m}"),
            other => panic!("expected Permanent, got {other:?}"),
        }
        let err = mailer
            .send(&["later@example.com".into()], &alert())
            .await
            .unwrap_err();
        assert!(matches!(err, SendError::Transient(_)), "{err}");
        let ok = mailer.send(&["good@example.com".into()], &alert()).await;
        assert!(ok.is_ok(), "{ok:?}");
    }

    /// Sends one message with `settings` and returns the error text (it must fail).
    async fn failure(settings: &config::Email) -> SendError {
        let mailer = Mailer::new(settings).unwrap();
        mailer
            .send(&["me@example.com".into()], &alert())
            .await
            .unwrap_err()
    }

    #[tokio::test]
    async fn starttls_against_a_plain_server_names_the_security_setting() {
        let server = TestSmtpServer::start().unwrap();
        let mut s = smtp_settings(server.port);
        s.security = Security::Starttls;
        let e = failure(&s).await.to_string();
        assert!(e.contains("STARTTLS"), "{e}");
        assert!(e.contains("email.security = \"none\""), "{e}");
        assert!(
            e.contains("email.security = \"tls\" with email.port = 465"),
            "{e}"
        );
        assert!(!e.contains("will retry"), "{e}");
    }

    #[tokio::test]
    async fn implicit_tls_against_a_plain_port_says_tls_and_plain_are_mixed_up() {
        let server = TestSmtpServer::start().unwrap();
        let mut s = smtp_settings(server.port);
        s.security = Security::Tls;
        let e = failure(&s).await.to_string();
        assert!(e.contains("check email.port and email.security"), "{e}");
    }

    #[tokio::test]
    async fn nothing_listening_names_host_and_port() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let e = failure(&smtp_settings(port)).await;
        assert!(matches!(e, SendError::Transient(_)), "{e}");
        assert!(
            e.to_string().contains(&format!(
                "nothing accepts connections on 127.0.0.1:{port}: check email.host and email.port"
            )),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_refused_login_names_the_credential_settings_and_never_the_password() {
        // A server that advertises AUTH but (without TLS) refuses every login, as aiosmtpd does.
        let server = TestSmtpServer::start_with_handler(
            r#"
class AuthAdvertised:
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return responses[:-1] + ["250-AUTH PLAIN LOGIN", responses[-1]]
"#,
            "AuthAdvertised",
        )
        .unwrap();
        let mut s = smtp_settings(server.port);
        s.username = Some("me".into());
        s.password = Some(SecretString::from("hunter2-secret"));
        let e = failure(&s).await;
        let text = e.to_string();
        assert!(matches!(e, SendError::Permanent(_)), "{text}");
        assert!(
            text.contains("check email.username and email.password (or email.password_file)"),
            "{text}"
        );
        assert!(!text.contains("hunter2-secret"), "{text}");
    }

    #[test]
    fn each_failure_class_is_recognised_from_what_lettre_and_rustls_say() {
        for (text, code, timeout, want) in [
            (
                "STARTTLS is not supported by this server",
                None,
                false,
                SmtpFailure::StarttlsUnsupported,
            ),
            (
                "received corrupt message of type InvalidContentType",
                None,
                false,
                SmtpFailure::TlsMismatch,
            ),
            (
                "invalid peer certificate: UnknownIssuer",
                None,
                false,
                SmtpFailure::Certificate,
            ),
            (
                "permanent error (535): 5.7.8 Authentication credentials invalid",
                Some("535"),
                false,
                SmtpFailure::Login,
            ),
            (
                "Connection refused (os error 111)",
                None,
                false,
                SmtpFailure::ConnectionRefused,
            ),
            (
                "failed to lookup address information: Name or service not known",
                None,
                false,
                SmtpFailure::UnknownHost,
            ),
            ("network error: timed out", None, true, SmtpFailure::Timeout),
            (
                "permanent error (550): 5.1.1 no such user",
                Some("550"),
                false,
                SmtpFailure::RecipientRefused,
            ),
            (
                "permanent error (554): no",
                Some("554"),
                false,
                SmtpFailure::Other,
            ),
        ] {
            assert_eq!(SmtpFailure::of(text, code, timeout), want, "{text}");
        }
    }

    #[test]
    fn a_silent_tls_port_spoken_to_in_plain_says_465_wants_tls() {
        let setup = SmtpSetup {
            host: "mail.example.com".into(),
            port: 465,
            security: Security::Starttls,
            timeout: Duration::from_secs(20),
        };
        let hint = smtp_hint(SmtpFailure::Timeout, &setup).unwrap();
        assert_eq!(
            hint,
            "mail.example.com:465 did not answer within 20s: check email.host and email.port; port 465 expects email.security = \"tls\""
        );
        assert_eq!(smtp_hint(SmtpFailure::Other, &setup), None);
    }
}
