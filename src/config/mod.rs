//! `yupiao.toml` + `YUPIAO__SECTION__KEY` environment variables → typed [`Settings`].
//!
//! Every key has a default, so yupiao runs with no file at all (pointed at the real 12306 and
//! Juhe). Unknown keys are an error, because a misspelt `[email] pasword` silently ignored is
//! an alert that never arrives. Secrets are [`SecretString`]s: `Debug` and logs show
//! `[REDACTED]`, and only the code that sends them calls `expose_secret()`.
//!
//! [`discover`] finds the settings file the same way for every command and the unit;
//! [`load`] reads it (and the environment) with every problem at its `file:line:col`.

mod channels;
pub mod discover;
mod env;
mod file;
pub mod load;
mod loader;
mod resolve;
mod schema;
mod value;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveTime;
use secrecy::SecretString;
use serde::{Deserialize, Deserializer};

use crate::clock::TimeWindow;

/// All settings, one struct per `[section]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub upstream: Upstream,
    pub store: Store,
    pub log: Log,
    pub daemon: Daemon,
    pub email: Email,
    pub rail: Rail,
    pub juhe: Juhe,
    pub callback: Callback,
    pub web: Web,
    /// `[[channel]]` push channels, validated (read beside the sections, not by serde).
    #[serde(skip)]
    pub channels: Vec<crate::push::ChannelSpec>,
}

impl Settings {
    /// The channel `notify` lists call `name`.
    pub fn channel(&self, name: &str) -> Option<&crate::push::ChannelSpec> {
        self.channels.iter().find(|c| c.name == name)
    }

    /// Every channel name, for checking `notify` lists.
    pub fn channel_names(&self) -> Vec<String> {
        self.channels.iter().map(|c| c.name.clone()).collect()
    }
}

/// `[rail]`: the user's logged-in 12306 session, for reading 候补 (waitlist) orders.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rail {
    /// The `Cookie:` header value copied from a logged-in browser (`JSESSIONID=…; tk=…; …`).
    pub cookie: Option<SecretString>,
    /// Or a file holding it (re-read when it changes, so the user can refresh it in place).
    pub cookie_file: Option<PathBuf>,
}

/// `[juhe]`: the Juhe grabTicket API that places 抢票 orders.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Juhe {
    /// Off by default: a grab watch then only alerts, and says so.
    pub enabled: bool,
    /// Log the orders that would be placed, place none.
    pub dry_run: bool,
    /// The Juhe API key.
    pub key: Option<SecretString>,
    /// Endpoint paths under `upstream.juhe_url`.
    pub search_path: String,
    pub create_path: String,
    pub detail_path: String,
    pub cancel_path: String,
    pub refund_path: String,
    pub callback_path: String,
    pub dictionary_path: String,
    /// Contact person, cellphone and email sent with each order.
    pub person: String,
    pub cellphone: Option<SecretString>,
    pub email: String,
    /// 0 代购 (Juhe's account) or 1 自购 (your 12306 account below).
    pub ticket_model: u8,
    pub account_no: Option<String>,
    pub account_password: Option<SecretString>,
    /// The `idCardType` Juhe expects for a 身份证 (the documents disagree: 0 or 1).
    pub id_card_type_for_resident_id: String,
    /// How often to poll `orderDetail` for a live order.
    #[serde(deserialize_with = "duration")]
    pub poll_every: Duration,
}

impl Default for Juhe {
    fn default() -> Self {
        Juhe {
            enabled: false,
            dry_run: false,
            key: None,
            search_path: "grabTicket/action/search.php".into(),
            create_path: "grabTicket/action/createOrder.php".into(),
            detail_path: "grabTicket/action/orderDetail.php".into(),
            cancel_path: "grabTicket/action/cancelOrder.php".into(),
            refund_path: "grabTicket/action/applyRefundOrder.php".into(),
            callback_path: "grabTicket/action/addCallbackUrl.php".into(),
            dictionary_path: "grabTicket/action/dataDictionary.php".into(),
            person: String::new(),
            cellphone: None,
            email: String::new(),
            ticket_model: 0,
            account_no: None,
            account_password: None,
            id_card_type_for_resident_id: "1".into(),
            poll_every: Duration::from_secs(60),
        }
    }
}

/// `[callback]`: where Juhe pushes order results.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Callback {
    /// Address the receiver listens on, e.g. `127.0.0.1:8787`; none = no receiver (polling only).
    pub listen: Option<std::net::SocketAddr>,
    /// The URL Juhe can reach (a reverse proxy in front of `listen`); none = do not register.
    pub public_url: Option<String>,
    /// Secret path component that makes push URLs unguessable.
    pub token: Option<SecretString>,
    /// Connections served at once; more are closed at once (pushes are a few a day).
    pub max_connections: usize,
    /// A connection with nothing read or written for this long is closed (headers, body and
    /// keep-alive alike).
    #[serde(deserialize_with = "duration")]
    pub idle_timeout: Duration,
}

impl Default for Callback {
    fn default() -> Self {
        Callback {
            listen: None,
            public_url: None,
            token: None,
            max_connections: 64,
            idle_timeout: Duration::from_secs(10),
        }
    }
}

/// `[web]`: the read-only status page the daemon serves (off unless `listen` is set).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Web {
    /// Address of the page, e.g. `127.0.0.1:8307`; none = no page. Beyond loopback a `token`
    /// is required (the settings are refused without one).
    pub listen: Option<std::net::SocketAddr>,
    /// Required on every route but `/healthz` when set (`?token=` or `Authorization: Bearer`).
    pub token: Option<SecretString>,
}

/// `[upstream]`: where 12306 and Juhe are, and how politely to talk to them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Upstream {
    /// Base URL of 12306; tests and `demo` point it at the simulator.
    pub rail_url: String,
    /// Base URL of Juhe (grab orders, a later feature).
    pub juhe_url: String,
    /// At least this long between two requests to 12306 (all watches together).
    #[serde(deserialize_with = "duration")]
    pub min_interval: Duration,
    /// Up to this much random extra wait on top of `min_interval`.
    #[serde(deserialize_with = "duration")]
    pub jitter: Duration,
    /// Whole-request timeout (12306's own page gives up after 10 s).
    #[serde(deserialize_with = "duration")]
    pub timeout: Duration,
    #[serde(deserialize_with = "duration")]
    pub connect_timeout: Duration,
    /// Presale window assumed until `login/conf` says otherwise.
    pub presale_days: u32,
    /// Browser User-Agent sent to 12306 (bare clients are refused).
    pub user_agent: String,
    /// Extra phrases that mark a 12306 answer as a refusal, on top of the built-in list.
    pub risk_phrases: Vec<String>,
}

impl Default for Upstream {
    fn default() -> Self {
        Upstream {
            rail_url: "https://kyfw.12306.cn".into(),
            juhe_url: "http://v.juhe.cn".into(),
            min_interval: Duration::from_secs(3),
            jitter: Duration::from_millis(1500),
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            presale_days: 15,
            user_agent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36".into(),
            risk_phrases: Vec::new(),
        }
    }
}

/// `[store]`: the SQLite database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Store {
    pub path: PathBuf,
    /// History rows older than this are pruned.
    #[serde(deserialize_with = "duration")]
    pub retention: Duration,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            path: "yupiao.db".into(),
            retention: Duration::from_secs(90 * 86_400),
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    /// Used when `RUST_LOG` is unset, e.g. `info` or `yupiao=debug`.
    pub level: String,
}

impl Default for Log {
    fn default() -> Self {
        Log { level: "info".into() }
    }
}

/// `[daemon]`: how `yupiao run` paces itself, and what it watches.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Daemon {
    /// The watch list, so that the unit and every command agree without flags (`--watchlist`
    /// still wins); none = `./watchlist.toml`.
    pub watchlist: Option<PathBuf>,
    /// A new alert for a (watch, date, train) is held back until this long after the previous
    /// one, to absorb seats that flap.
    #[serde(deserialize_with = "duration")]
    pub alert_min_gap: Duration,
    /// Throttling backoff starts here and doubles (with jitter) up to `backoff_max`.
    #[serde(deserialize_with = "duration")]
    pub backoff_start: Duration,
    #[serde(deserialize_with = "duration")]
    pub backoff_max: Duration,
    /// 12306's nightly service window (Beijing time), written `HH:MM-HH:MM`; parsed once, at load.
    #[serde(deserialize_with = "window")]
    pub night_window: TimeWindow,
    /// Polls in the night window happen at most this often per watch.
    #[serde(deserialize_with = "duration")]
    pub night_every: Duration,
    /// How long shutdown waits for in-flight requests.
    #[serde(deserialize_with = "duration")]
    pub shutdown_grace: Duration,
    /// A 候补 order awaiting its deposit gets a reminder this long before the payment deadline.
    #[serde(deserialize_with = "duration")]
    pub payment_reminder: Duration,
    /// While the 12306 session cookie is known to be expired (and unchanged), check it this often.
    #[serde(deserialize_with = "duration")]
    pub expired_session_every: Duration,
}

impl Default for Daemon {
    fn default() -> Self {
        Daemon {
            watchlist: None,
            alert_min_gap: Duration::from_secs(600),
            backoff_start: Duration::from_secs(30),
            backoff_max: Duration::from_secs(600),
            night_window: TimeWindow {
                start: NaiveTime::from_hms_opt(1, 0, 0).expect("01:00 is a time"),
                end: NaiveTime::from_hms_opt(5, 0, 0).expect("05:00 is a time"),
            },
            night_every: Duration::from_secs(600),
            shutdown_grace: Duration::from_secs(5),
            payment_reminder: Duration::from_secs(600),
            expired_session_every: Duration::from_secs(1800),
        }
    }
}

impl Daemon {
    /// The `night_window` field, as the method that re-parsed the text at every use returned it;
    /// kept so callers compile until they read the field (it is always `Some`).
    pub fn night_window(&self) -> Option<TimeWindow> {
        Some(self.night_window)
    }
}

/// How email leaves the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Each message becomes a file in `maildir` (works offline; the default).
    Maildir,
    Smtp,
}

/// SMTP connection security.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    Starttls,
    Tls,
    None,
}

/// `[email]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Email {
    pub transport: Transport,
    /// Where the maildir transport writes (`new/`, `cur/`, `tmp/` are created).
    pub maildir: PathBuf,
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    /// PEM file with an extra root certificate (a private CA for the SMTP server).
    pub ca_file: Option<PathBuf>,
    pub from: String,
    /// Recipients for watches without `notify`.
    pub to: Vec<String>,
    #[serde(deserialize_with = "duration")]
    pub timeout: Duration,
}

impl Default for Email {
    fn default() -> Self {
        Email {
            transport: Transport::Maildir,
            maildir: "mail".into(),
            host: "localhost".into(),
            port: 587,
            security: Security::Starttls,
            username: None,
            password: None,
            ca_file: None,
            from: "yupiao <yupiao@localhost>".into(),
            to: Vec::new(),
            timeout: Duration::from_secs(20),
        }
    }
}

/// Settings could not be loaded: every problem, each naming where it was written (the file's
/// `line:col`, or the environment variable) and what to do.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct SettingsError(pub Vec<crate::diagnostic::Diagnostic>);

impl Settings {
    /// Loads `path` (if given) and then the `YUPIAO__…` environment on top.
    pub fn load(path: Option<&Path>) -> Result<Settings, SettingsError> {
        Self::load_with_env(path, std::env::vars())
    }

    /// As [`Settings::load`], with the environment passed in (tests use this).
    pub fn load_with_env(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, SettingsError> {
        Self::load_checked(path, env).map(|(s, _)| s)
    }

    /// As [`Settings::load_with_env`], also returning the warnings (a fast `min_interval`).
    pub fn load_checked(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Settings, Vec<crate::diagnostic::Diagnostic>), SettingsError> {
        load::load(path, env).map_err(SettingsError)
    }
}

/// Reads a daily window, `"01:00-05:00"` (checked at load with the same parser).
fn window<'de, D: Deserializer<'de>>(d: D) -> Result<TimeWindow, D::Error> {
    let text = String::deserialize(d)?;
    value::parse_window(&text).ok_or_else(|| {
        serde::de::Error::custom(format!("{text:?} must look like \"01:00-05:00\" (Beijing time)"))
    })
}

/// Reads `"3s"`, `"10m"`, `"1h 30m"` (humantime) or a bare number of seconds.
fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Secs(u64),
    }
    match Raw::deserialize(d)? {
        Raw::Secs(s) => Ok(Duration::from_secs(s)),
        Raw::Text(t) => value::parse_duration(&t).map_err(|e| {
            serde::de::Error::custom(format!(
                "{t:?} is not a duration ({e}); write e.g. \"3s\", \"10m\", \"1h\""
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::io::Write;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    fn no_env() -> Vec<(String, String)> {
        Vec::new()
    }

    #[test]
    fn no_file_gives_defaults_pointing_at_the_real_services() {
        let s = Settings::load_with_env(None, no_env()).unwrap();
        assert_eq!(s.upstream.rail_url, "https://kyfw.12306.cn");
        assert_eq!(s.upstream.juhe_url, "http://v.juhe.cn");
        assert_eq!(s.upstream.min_interval, Duration::from_secs(3));
        assert_eq!(s.store.path, PathBuf::from("yupiao.db"));
        assert_eq!(s.email.transport, Transport::Maildir);
    }

    #[test]
    fn file_values_and_environment_overrides_apply() {
        let f = file(
            "[upstream]\nmin_interval = \"5s\"\ntimeout = 7\n[email]\ntransport = \"smtp\"\nhost = \"mail.example.com\"\n",
        );
        let env = vec![
            ("YUPIAO__EMAIL__PASSWORD".to_string(), "hunter2".to_string()),
            (
                "YUPIAO__UPSTREAM__RAIL_URL".to_string(),
                "http://127.0.0.1:9".to_string(),
            ),
            (
                "YUPIAO__EMAIL__TO".to_string(),
                "a@example.com,b@example.com".to_string(),
            ),
        ];
        let s = Settings::load_with_env(Some(f.path()), env).unwrap();
        assert_eq!(s.upstream.min_interval, Duration::from_secs(5));
        assert_eq!(s.upstream.timeout, Duration::from_secs(7));
        assert_eq!(s.upstream.rail_url, "http://127.0.0.1:9");
        assert_eq!(s.email.transport, Transport::Smtp);
        assert_eq!(s.email.password.as_ref().unwrap().expose_secret(), "hunter2");
        assert_eq!(s.email.to, vec!["a@example.com", "b@example.com"]);
    }

    #[test]
    fn environment_values_arrive_byte_for_byte_and_typed_keys_still_parse() {
        let env = vec![
            ("YUPIAO__EMAIL__PASSWORD".to_string(), "0123456".to_string()),
            ("YUPIAO__EMAIL__USERNAME".to_string(), "007".to_string()),
            (
                "YUPIAO__JUHE__ID_CARD_TYPE_FOR_RESIDENT_ID".to_string(),
                "01".to_string(),
            ),
            ("YUPIAO__JUHE__ENABLED".to_string(), "true".to_string()),
            ("YUPIAO__UPSTREAM__PRESALE_DAYS".to_string(), "10".to_string()),
            ("YUPIAO__UPSTREAM__TIMEOUT".to_string(), "7".to_string()),
            ("YUPIAO__EMAIL__PORT".to_string(), "2525".to_string()),
            (
                "YUPIAO__UPSTREAM__RISK_PHRASES".to_string(),
                "系统升级, 维护中".to_string(),
            ),
        ];
        let s = Settings::load_with_env(None, env).unwrap();
        assert_eq!(s.email.password.as_ref().unwrap().expose_secret(), "0123456");
        assert_eq!(s.email.username.as_deref(), Some("007"));
        assert_eq!(s.juhe.id_card_type_for_resident_id, "01");
        assert!(s.juhe.enabled);
        assert_eq!(s.upstream.presale_days, 10);
        assert_eq!(s.upstream.timeout, Duration::from_secs(7));
        assert_eq!(s.email.port, 2525);
        assert_eq!(s.upstream.risk_phrases, vec!["系统升级", "维护中"]);
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let env = vec![("YUPIAO__EMAIL__PASSWORD".to_string(), "hunter2".to_string())];
        let s = Settings::load_with_env(None, env).unwrap();
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(dbg.contains("REDACTED"));
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_name() {
        let f = file("[email]\npasword = \"x\"\n");
        let e = Settings::load_with_env(Some(f.path()), no_env())
            .unwrap_err()
            .to_string();
        assert!(e.contains("pasword"), "{e}");
        let f = file("[upstreams]\nrail_url = \"http://x\"\n");
        let e = Settings::load_with_env(Some(f.path()), no_env())
            .unwrap_err()
            .to_string();
        assert!(e.contains("upstreams"), "{e}");
    }

    #[test]
    fn bad_values_say_what_to_write_instead() {
        let f = file("[upstream]\nmin_interval = \"soon\"\n");
        let e = Settings::load_with_env(Some(f.path()), no_env())
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a duration"), "{e}");
        let f = file("[upstream]\nrail_url = \"kyfw.12306.cn\"\n");
        let e = Settings::load_with_env(Some(f.path()), no_env())
            .unwrap_err()
            .to_string();
        assert!(e.contains("rail_url"), "{e}");
        let missing = Path::new("/nonexistent/yupiao.toml");
        let e = Settings::load_with_env(Some(missing), no_env())
            .unwrap_err()
            .to_string();
        assert!(e.contains("not found"), "{e}");
    }

    /// The load errors of `text` as `yupiao.toml:LINE:COL: …` lines.
    fn web_errors(text: &str, env: &[(&str, &str)]) -> Vec<String> {
        let f = file(text);
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        match Settings::load_with_env(Some(f.path()), env) {
            Ok(_) => Vec::new(),
            Err(e) => {
                e.0.iter()
                    .map(|d| {
                        d.to_string()
                            .replace(&f.path().display().to_string(), "yupiao.toml")
                    })
                    .collect()
            }
        }
    }

    #[test]
    fn the_status_page_is_off_by_default_and_loopback_needs_no_token() {
        let s = Settings::load_with_env(None, no_env()).unwrap();
        assert!(s.web.listen.is_none());
        assert!(s.web.token.is_none());
        let f = file("[web]\nlisten = \"127.0.0.1:8307\"\n");
        let s = Settings::load_with_env(Some(f.path()), no_env()).unwrap();
        assert_eq!(s.web.listen, Some("127.0.0.1:8307".parse().unwrap()));
    }

    #[test]
    fn a_status_page_beyond_loopback_without_a_token_is_refused_at_its_line() {
        let e = web_errors("[web]\nlisten = \"0.0.0.0:8307\"\n", &[]);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("yupiao.toml:2:10: [web] listen = \"0.0.0.0:8307\" is reachable from other machines: set [web] token"),
            "{e:?}"
        );
        let e = web_errors("", &[("YUPIAO__WEB__LISTEN", "[::]:8307")]);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].starts_with("$YUPIAO__WEB__LISTEN: [web] listen"), "{e:?}");
        let e = web_errors(
            "[web]\nlisten = \"0.0.0.0:8307\"\ntoken = \"short-secret\"\n",
            &[],
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("yupiao.toml:3:9: [web] token is too short"),
            "{e:?}"
        );
        assert!(!e[0].contains("short-secret"), "the token is never shown: {e:?}");
    }

    #[test]
    fn the_status_page_token_comes_from_the_file_the_environment_or_a_token_file() {
        let token = "a-long-random-token-1234";
        let f = file(&format!(
            "[web]\nlisten = \"0.0.0.0:8307\"\ntoken = \"{token}\"\n"
        ));
        let s = Settings::load_with_env(Some(f.path()), no_env()).unwrap();
        assert!(!format!("{:?}", s.web).contains(token));
        assert_eq!(s.web.token.unwrap().expose_secret(), token);

        let f = file("[web]\nlisten = \"0.0.0.0:8307\"\n");
        let env = vec![("YUPIAO__WEB__TOKEN".to_string(), token.to_string())];
        let s = Settings::load_with_env(Some(f.path()), env).unwrap();
        assert_eq!(s.web.token.unwrap().expose_secret(), token);

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("web-token"), format!("{token}\n")).unwrap();
        let settings = dir.path().join("yupiao.toml");
        std::fs::write(
            &settings,
            "[web]\nlisten = \"0.0.0.0:8307\"\ntoken_file = \"web-token\"\n",
        )
        .unwrap();
        let s = Settings::load_with_env(Some(&settings), no_env()).unwrap();
        assert_eq!(s.web.token.unwrap().expose_secret(), token);
    }
}
