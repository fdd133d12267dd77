//! `yupiao.toml` + `YUPIAO__SECTION__KEY` environment variables → [`Settings`], with every
//! problem reported at once, as the watch list does.
//!
//! The file is read with `toml_edit` (which keeps byte spans) against [`SCHEMA`], the one list
//! of every section, key and the kind of value it takes; the environment is read against the same
//! list. So a misspelt key gets a did-you-mean wherever it was written, an enum its allowed
//! values, a duration an example, and an environment variable is blamed by its own name
//! (`$YUPIAO__EMAIL__PASWORD: unknown key …`), never on the file. Only when nothing is wrong are
//! the values handed to serde to fill the typed [`Settings`].
//!
//! Secrets (`email.password`, `rail.cookie`, `juhe.key`, …) are never echoed: not in a type
//! error, not in a syntax error's excerpt, not from the environment. Each can also come from a
//! file, `<key>_file`, whose trimmed content is the value (so the service group can read it and
//! `sudo -u yupiao yupiao test-email` uses exactly what the daemon uses); setting both is an
//! error. `rail.cookie_file` stays a path: the 候补 poller re-reads it, so a refreshed cookie is
//! picked up without a restart.
//!
//! Paths written in the file (`store.path`, `daemon.watchlist`, `email.maildir`,
//! `email.ca_file`, every `<key>_file`) are relative to the file's directory; paths from the
//! environment are relative to the working directory, as paths typed in a shell are.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value as Json, json};
use toml_edit::{Item, TableLike, Value};

use super::Settings;
use crate::diagnostic::{
    Diagnostic, Report, Severity, nearest_key, span_start, syntax_message, with_article,
};

/// What a key holds; decides how it is checked, read from the environment and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    /// Never shown; may come from `<key>_file` (read once).
    Secret,
    /// Never shown; `<key>_file` stays a path that its user re-reads (the 12306 cookie).
    LiveSecret,
    /// A path; relative ones in the file are relative to the file's directory.
    Path,
    Bool,
    Int {
        min: i64,
        max: i64,
    },
    /// `"3s"`, `"10m"`, or a whole number of seconds.
    Duration,
    /// An `http://` or `https://` URL.
    Url,
    /// One of these words.
    Choice(&'static [&'static str]),
    /// An email address (`me@example.com` or `name <me@example.com>`).
    Mailbox,
    /// A list of email addresses (comma-separated in the environment).
    Mailboxes,
    /// A list of strings (comma-separated in the environment).
    Texts,
    /// A socket address, `127.0.0.1:8787`.
    Listen,
    /// A daily window, `01:00-05:00`.
    Window,
}

impl Kind {
    fn is_secret(self) -> bool {
        matches!(self, Kind::Secret | Kind::LiveSecret)
    }
}

struct KeySpec {
    name: &'static str,
    kind: Kind,
}

struct SectionSpec {
    name: &'static str,
    keys: &'static [KeySpec],
}

const fn k(name: &'static str, kind: Kind) -> KeySpec {
    KeySpec { name, kind }
}

const SECURITY: &[&str] = &["starttls", "tls", "none"];
const TRANSPORT: &[&str] = &["maildir", "smtp"];

/// Every section and key of `yupiao.toml` (the README's configuration table, as data).
const SCHEMA: &[SectionSpec] = &[
    SectionSpec {
        name: "upstream",
        keys: &[
            k("rail_url", Kind::Url),
            k("juhe_url", Kind::Url),
            k("min_interval", Kind::Duration),
            k("jitter", Kind::Duration),
            k("timeout", Kind::Duration),
            k("connect_timeout", Kind::Duration),
            k("presale_days", Kind::Int { min: 1, max: 60 }),
            k("user_agent", Kind::Text),
            k("risk_phrases", Kind::Texts),
        ],
    },
    SectionSpec {
        name: "store",
        keys: &[k("path", Kind::Path), k("retention", Kind::Duration)],
    },
    SectionSpec {
        name: "log",
        keys: &[k("level", Kind::Text)],
    },
    SectionSpec {
        name: "daemon",
        keys: &[
            k("watchlist", Kind::Path),
            k("alert_min_gap", Kind::Duration),
            k("backoff_start", Kind::Duration),
            k("backoff_max", Kind::Duration),
            k("night_window", Kind::Window),
            k("night_every", Kind::Duration),
            k("shutdown_grace", Kind::Duration),
            k("payment_reminder", Kind::Duration),
            k("expired_session_every", Kind::Duration),
        ],
    },
    SectionSpec {
        name: "email",
        keys: &[
            k("transport", Kind::Choice(TRANSPORT)),
            k("maildir", Kind::Path),
            k("host", Kind::Text),
            k("port", Kind::Int { min: 1, max: 65535 }),
            k("security", Kind::Choice(SECURITY)),
            k("username", Kind::Text),
            k("password", Kind::Secret),
            k("ca_file", Kind::Path),
            k("from", Kind::Mailbox),
            k("to", Kind::Mailboxes),
            k("timeout", Kind::Duration),
        ],
    },
    SectionSpec {
        name: "rail",
        keys: &[k("cookie", Kind::LiveSecret)],
    },
    SectionSpec {
        name: "juhe",
        keys: &[
            k("enabled", Kind::Bool),
            k("dry_run", Kind::Bool),
            k("key", Kind::Secret),
            k("search_path", Kind::Text),
            k("create_path", Kind::Text),
            k("detail_path", Kind::Text),
            k("cancel_path", Kind::Text),
            k("refund_path", Kind::Text),
            k("callback_path", Kind::Text),
            k("dictionary_path", Kind::Text),
            k("person", Kind::Text),
            k("cellphone", Kind::Secret),
            k("email", Kind::Text),
            k("ticket_model", Kind::Int { min: 0, max: 1 }),
            k("account_no", Kind::Text),
            k("account_password", Kind::Secret),
            k("id_card_type_for_resident_id", Kind::Text),
            k("poll_every", Kind::Duration),
        ],
    },
    SectionSpec {
        name: "callback",
        keys: &[
            k("listen", Kind::Listen),
            k("public_url", Kind::Url),
            k("token", Kind::Secret),
            k("max_connections", Kind::Int { min: 1, max: 4096 }),
            k("idle_timeout", Kind::Duration),
        ],
    },
];

/// Below this, 12306 treats a client as a scraper.
pub const SAFE_MIN_INTERVAL: Duration = Duration::from_secs(3);

/// Where a value was written: the place every diagnostic about it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    /// Byte offset of the value in the settings file.
    File(usize),
    /// The environment variable that set it.
    Env(String),
}

/// A key as looked up: its section, its own spec, and whether it is the `<key>_file` variant.
#[derive(Clone, Copy)]
struct Found {
    section: &'static str,
    spec: &'static KeySpec,
    file_variant: bool,
}

impl Found {
    fn name(&self) -> String {
        if self.file_variant {
            format!("{}_file", self.spec.name)
        } else {
            self.spec.name.to_string()
        }
    }

    /// The kind of the value written: a `<key>_file` holds a path.
    fn kind(&self) -> Kind {
        if self.file_variant {
            Kind::Path
        } else {
            self.spec.kind
        }
    }
}

fn section(name: &str) -> Option<&'static SectionSpec> {
    SCHEMA.iter().find(|s| s.name == name)
}

fn lookup(section: &'static SectionSpec, key: &str) -> Option<Found> {
    section.keys.iter().find_map(|spec| {
        if spec.name == key {
            Some(Found {
                section: section.name,
                spec,
                file_variant: false,
            })
        } else if spec.kind.is_secret() && key.strip_suffix("_file") == Some(spec.name) {
            Some(Found {
                section: section.name,
                spec,
                file_variant: true,
            })
        } else {
            None
        }
    })
}

/// Every key a section accepts, `<secret>_file` variants included (for suggestions).
fn known_keys(section: &SectionSpec) -> Vec<String> {
    let mut keys = Vec::new();
    for spec in section.keys {
        keys.push(spec.name.to_string());
        if spec.kind.is_secret() {
            keys.push(format!("{}_file", spec.name));
        }
    }
    keys
}

fn suggestion(key: &str, known: &[String]) -> Option<String> {
    let refs: Vec<&str> = known.iter().map(String::as_str).collect();
    nearest_key(key, &refs).map(str::to_string)
}

/// One key's value, checked, in the form serde reads, with where it came from.
#[derive(Debug, Clone)]
struct Entry {
    value: Json,
    origin: Origin,
}

/// Collects values (file first, then the environment on top) and every problem.
struct Loader {
    /// `file:line:col` problems of the settings file.
    report: Option<Report>,
    /// Problems of environment variables and of the whole result.
    unplaced: Vec<Diagnostic>,
    /// (section, key as written: `password` or `password_file`) → value.
    values: BTreeMap<(&'static str, String), Entry>,
    /// The settings file's directory, for relative paths written in it.
    base: Option<PathBuf>,
    /// How the file is named in diagnostics.
    file: String,
}

impl Loader {
    fn error(&mut self, origin: &Origin, message: String) {
        self.push(origin, Severity::Error, message);
    }

    fn warning(&mut self, origin: &Origin, message: String) {
        self.push(origin, Severity::Warning, message);
    }

    fn push(&mut self, origin: &Origin, severity: Severity, message: String) {
        match (origin, self.report.as_mut()) {
            (Origin::File(at), Some(r)) => match severity {
                Severity::Error => r.error(*at, message),
                Severity::Warning => r.warning(*at, message),
            },
            (Origin::Env(var), _) => {
                self.unplaced
                    .push(Diagnostic::unplaced(&format!("${var}"), severity, message))
            }
            (Origin::File(_), None) => self
                .unplaced
                .push(Diagnostic::unplaced(&self.file, severity, message)),
        }
    }

    fn entry(&self, section: &str, key: &str) -> Option<&Entry> {
        self.values
            .iter()
            .find(|((s, k), _)| *s == section && k == key)
            .map(|(_, e)| e)
    }

    /// `yupiao.toml:12:9` or `$YUPIAO__EMAIL__PASSWORD`, for messages that name a second place.
    fn place(&self, origin: &Origin) -> String {
        match (origin, &self.report) {
            (Origin::File(at), Some(r)) => {
                let (line, col) = r.position(*at);
                format!("{}:{line}:{col}", self.file)
            }
            (Origin::File(_), None) => self.file.clone(),
            (Origin::Env(var), _) => format!("${var}"),
        }
    }
}

/// Reads the settings file at `path` (if any) and the `YUPIAO__…` variables of `env`. `Ok`
/// carries the settings and their warnings; `Err` every diagnostic, at least one an error.
pub fn load(
    path: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(Settings, Vec<Diagnostic>), Vec<Diagnostic>> {
    let file = path.map_or_else(|| "settings".to_string(), |p| p.display().to_string());
    let mut loader = Loader {
        report: None,
        unplaced: Vec::new(),
        values: BTreeMap::new(),
        base: path.map(|p| p.parent().map(Path::to_path_buf).unwrap_or_default()),
        file: file.clone(),
    };
    if let Some(p) = path {
        let text = match std::fs::read_to_string(p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(vec![Diagnostic::unplaced(
                    &file,
                    Severity::Error,
                    "settings file not found (pass --config PATH, or remove it to use the built-in defaults)",
                )]);
            }
            Err(e) => {
                return Err(vec![Diagnostic::unplaced(
                    &file,
                    Severity::Error,
                    crate::diagnostic::unreadable(p, "the settings file", &e),
                )]);
            }
        };
        read_file(&mut loader, &text);
    }
    let mut env: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with("YUPIAO__"))
        .collect();
    env.sort();
    for (var, value) in env {
        read_env(&mut loader, &var, &value);
    }
    resolve_secret_files(&mut loader);
    cross_checks(&mut loader);
    let mut diags = loader.report.take().map(Report::finish).unwrap_or_default();
    diags.append(&mut loader.unplaced);
    if diags.iter().any(|d| d.severity == Severity::Error) {
        return Err(diags);
    }
    let mut tree = serde_json::Map::new();
    for ((section, key), entry) in &loader.values {
        let sec = tree.entry(section.to_string()).or_insert_with(|| json!({}));
        sec[key.as_str()] = entry.value.clone();
    }
    match serde_json::from_value::<Settings>(Json::Object(tree)) {
        Ok(settings) => Ok((settings, diags)),
        // Every value was checked above; this only guards a schema that drifted from the types.
        Err(e) => Err(vec![Diagnostic::unplaced(
            &file,
            Severity::Error,
            format!("settings do not fit: {e}"),
        )]),
    }
}

// ---------------------------------------------------------------------------------------------
// The file

fn read_file(loader: &mut Loader, text: &str) {
    let mut report = Report::new(&loader.file, text);
    let doc = match toml_edit::Document::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let at = e.span().map_or(0, |s| s.start);
            let excerpt = !line_may_hold_a_secret(report.line_text(at));
            report.error(at, syntax_message(&e, text, excerpt));
            loader.report = Some(report);
            return;
        }
    };
    loader.report = Some(report);
    let root = doc.as_table();
    for (name, item) in root.iter() {
        let key_at = span_start(root.key(name).and_then(|k| k.span()));
        let Some(spec) = section(name) else {
            let sections: Vec<&str> = SCHEMA.iter().map(|s| s.name).collect();
            let hint = nearest_key(name, &sections)
                .map(|s| format!(" (did you mean [{s}]?)"))
                .unwrap_or_else(|| format!(" (known: [{}])", sections.join("], [")));
            let what = if item.is_table_like() {
                format!("unknown section [{name}]")
            } else {
                format!("unknown top-level key \"{name}\"; keys belong in a section")
            };
            loader.error(&Origin::File(key_at), format!("{what}{hint}"));
            continue;
        };
        let Some(table) = item.as_table_like() else {
            loader.error(
                &Origin::File(span_start(item.span()).max(key_at)),
                format!(
                    "{name} must be a table ([{name}]), found {}",
                    with_article(item.type_name())
                ),
            );
            continue;
        };
        read_section(loader, spec, table);
    }
}

/// Whether a syntax error on this line could quote a secret: its key is a secret, or it is not
/// plainly `known_key = …` (a continuation of a multi-line string, say).
fn line_may_hold_a_secret(line: &str) -> bool {
    let Some((key, _)) = line.split_once('=') else {
        return !line.trim_start().starts_with('[');
    };
    let key = key.trim().trim_matches(['"', '\'']);
    let known = SCHEMA.iter().find_map(|s| lookup(s, key));
    known.is_none_or(|f| f.spec.kind.is_secret())
}

fn read_section(loader: &mut Loader, spec: &'static SectionSpec, table: &dyn TableLike) {
    for (key, item) in table.iter() {
        let key_at = span_start(table.key(key).and_then(|k| k.span()));
        let Some(found) = lookup(spec, key) else {
            let hint = suggestion(key, &known_keys(spec))
                .map(|k| format!(" (did you mean \"{k}\"?)"))
                .unwrap_or_default();
            loader.error(
                &Origin::File(key_at),
                format!("unknown key \"{key}\" in [{}]{hint}", spec.name),
            );
            continue;
        };
        let at = item.span().map_or(key_at, |s| s.start);
        if let Some(value) = file_value(loader, found, item, at) {
            let value = match (found.kind(), loader.base.as_ref(), value) {
                (Kind::Path, Some(base), Json::String(p)) => {
                    Json::String(base.join(&p).display().to_string())
                }
                (_, _, v) => v,
            };
            loader.values.insert(
                (found.section, found.name()),
                Entry {
                    value,
                    origin: Origin::File(at),
                },
            );
        }
    }
}

/// The value of one key in the file, checked; `None` (and a diagnostic) when it is wrong.
fn file_value(loader: &mut Loader, found: Found, item: &Item, at: usize) -> Option<Json> {
    let key = found.name();
    let kind = found.kind();
    let origin = Origin::File(at);
    let wrong_type = |loader: &mut Loader, expected: &str, hint: String| {
        loader.error(
            &origin,
            format!(
                "{key} must be {expected}, found {}{hint}",
                with_article(item.type_name())
            ),
        );
        None
    };
    match kind {
        Kind::Bool => match (item.as_bool(), item.as_str()) {
            (Some(b), _) => Some(Json::Bool(b)),
            (None, Some(s @ ("true" | "false"))) => wrong_type(
                loader,
                "a boolean",
                format!(" (write {key} = {s}, without quotes)"),
            ),
            _ => wrong_type(loader, "a boolean", " (true or false)".into()),
        },
        Kind::Int { min, max } => match (item.as_integer(), item.as_str()) {
            (Some(n), _) => in_range(&key, n, min, max)
                .map_err(|m| loader.error(&origin, m))
                .ok(),
            (None, Some(s)) if s.trim().parse::<i64>().is_ok() => wrong_type(
                loader,
                "an integer",
                format!(" (write {key} = {}, without quotes)", s.trim()),
            ),
            _ => wrong_type(loader, "an integer", String::new()),
        },
        Kind::Duration => match (item.as_integer(), item.as_str()) {
            (Some(n), _) if n >= 0 => Some(Json::from(n)),
            (_, Some(s)) => check_text(&key, kind, s)
                .map_err(|m| loader.error(&origin, m))
                .ok(),
            _ => wrong_type(
                loader,
                "a duration",
                format!(" (write it with a unit: {key} = \"30s\")"),
            ),
        },
        Kind::Texts | Kind::Mailboxes => {
            let Some(array) = item.as_array() else {
                let hint = item
                    .as_str()
                    .filter(|_| !kind.is_secret())
                    .map(|s| format!(" (write {key} = [\"{s}\"])"))
                    .unwrap_or_default();
                return wrong_type(loader, "an array of strings", hint);
            };
            let mut out = Vec::new();
            let mut ok = true;
            for v in array.iter() {
                let v_at = span_start(v.span());
                match v.as_str() {
                    Some(s) => match check_list_item(&key, kind, s) {
                        Ok(s) => out.push(Json::String(s)),
                        Err(m) => {
                            ok = false;
                            loader.error(&Origin::File(v_at), m);
                        }
                    },
                    None => {
                        ok = false;
                        loader.error(
                            &Origin::File(v_at),
                            format!(
                                "{key} must hold only strings, found {}",
                                with_article(v.type_name())
                            ),
                        );
                    }
                }
            }
            ok.then_some(Json::Array(out))
        }
        _ => match item.as_str() {
            Some(s) => check_text(&key, kind, s)
                .map_err(|m| loader.error(&origin, m))
                .ok(),
            None => {
                let hint = match item.as_value() {
                    _ if kind.is_secret() => format!(" (quote it: {key} = \"…\")"),
                    Some(Value::Integer(_) | Value::Float(_) | Value::Boolean(_)) => {
                        format!(" (quote it: {key} = \"{}\")", item.to_string().trim())
                    }
                    _ => String::new(),
                };
                wrong_type(loader, "a string", hint)
            }
        },
    }
}

fn in_range(key: &str, n: i64, min: i64, max: i64) -> Result<Json, String> {
    if (min..=max).contains(&n) {
        return Ok(Json::from(n));
    }
    let why = match key {
        "presale_days" => " (12306 sells 15 days ahead)",
        "ticket_model" => " (0 代购 with Juhe's account, 1 自购 with your 12306 account)",
        "max_connections" => " (each is a file descriptor; pushes come a few a day)",
        _ => "",
    };
    Err(format!("{key} = {n} must be between {min} and {max}{why}"))
}

/// Checks a string value of `kind` (from the file or the environment) and returns it as serde
/// will read it. Messages never contain a secret's value.
fn check_text(key: &str, kind: Kind, s: &str) -> Result<Json, String> {
    let text = Json::String(s.to_string());
    match kind {
        Kind::Text | Kind::Secret | Kind::LiveSecret | Kind::Path => Ok(text),
        Kind::Duration => parse_duration(s).map(|_| text).map_err(|e| {
            format!("{key} = {s:?} is not a duration ({e}); write e.g. \"3s\", \"10m\", \"1h\"")
        }),
        Kind::Url => match url::Url::parse(s.trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(text),
            Ok(_) => Err(format!("{key} = {s:?} must be an http:// or https:// URL")),
            Err(e) => Err(format!(
                "{key} = {s:?} is not a URL ({e}); write it with its scheme, e.g. \"https://kyfw.12306.cn\""
            )),
        },
        Kind::Choice(allowed) => {
            if allowed.contains(&s) {
                Ok(text)
            } else {
                let lower = s.trim().to_ascii_lowercase();
                let near = allowed
                    .iter()
                    .find(|a| **a == lower)
                    .copied()
                    .or_else(|| nearest_key(&lower, allowed))
                    .map(|a| format!("; did you mean \"{a}\"?"))
                    .unwrap_or_default();
                Err(format!(
                    "{key} = {s:?} is not allowed (allowed: {}){near}",
                    allowed.join(", ")
                ))
            }
        }
        Kind::Mailbox => check_list_item(key, kind, s).map(Json::String),
        Kind::Listen => s
            .trim()
            .parse::<std::net::SocketAddr>()
            .map(|a| Json::String(a.to_string()))
            .map_err(|_| {
                format!("{key} = {s:?} is not an address to listen on; write e.g. \"127.0.0.1:8787\"")
            }),
        Kind::Window => {
            if parse_window(s) {
                Ok(text)
            } else {
                Err(format!(
                    "{key} = {s:?} must look like \"01:00-05:00\" (Beijing time)"
                ))
            }
        }
        Kind::Bool | Kind::Int { .. } | Kind::Texts | Kind::Mailboxes => Ok(text),
    }
}

/// One element of a list value (an address of `email.to`, a phrase).
fn check_list_item(key: &str, kind: Kind, s: &str) -> Result<String, String> {
    match kind {
        Kind::Mailbox | Kind::Mailboxes => match s.parse::<lettre::message::Mailbox>() {
            Ok(_) => Ok(s.to_string()),
            Err(_) => Err(format!(
                "{key}: {s:?} is not an email address; write e.g. \"me@example.com\" or \"Me <me@example.com>\""
            )),
        },
        _ => Ok(s.to_string()),
    }
}

/// `"3s"`, `"10m"`, `"1h 30m"` (humantime) or a bare number of seconds.
pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse().map(Duration::from_secs).map_err(|e| e.to_string());
    }
    humantime::parse_duration(t).map_err(|e| e.to_string())
}

fn parse_window(s: &str) -> bool {
    let t = |s: &str| chrono::NaiveTime::parse_from_str(s.trim(), "%H:%M").is_ok();
    s.split_once('-').is_some_and(|(a, b)| t(a) && t(b))
}

// ---------------------------------------------------------------------------------------------
// The environment

fn read_env(loader: &mut Loader, var: &str, value: &str) {
    let origin = Origin::Env(var.to_string());
    let rest = &var["YUPIAO__".len()..];
    let parts: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
    let [sec, key] = parts.as_slice() else {
        loader.error(
            &origin,
            "not a setting: write YUPIAO__SECTION__KEY, e.g. YUPIAO__EMAIL__PASSWORD".into(),
        );
        return;
    };
    let Some(spec) = section(sec) else {
        let sections: Vec<&str> = SCHEMA.iter().map(|s| s.name).collect();
        let hint = nearest_key(sec, &sections)
            .map(|s| {
                format!(
                    " (did you mean YUPIAO__{}__{}?)",
                    s.to_uppercase(),
                    key.to_uppercase()
                )
            })
            .unwrap_or_else(|| format!(" (known: {})", sections.join(", ")));
        loader.error(&origin, format!("unknown section [{sec}]{hint}"));
        return;
    };
    let Some(found) = lookup(spec, key) else {
        let hint = suggestion(key, &known_keys(spec))
            .map(|k| {
                format!(
                    " (did you mean YUPIAO__{}__{}?)",
                    spec.name.to_uppercase(),
                    k.to_uppercase()
                )
            })
            .unwrap_or_default();
        loader.error(&origin, format!("unknown key \"{key}\" in [{}]{hint}", spec.name));
        return;
    };
    let name = found.name();
    let kind = found.kind();
    let checked = match kind {
        Kind::Bool => match value.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Json::Bool(true)),
            "false" | "0" | "no" | "off" => Ok(Json::Bool(false)),
            _ => Err(format!("{name} = {value:?} is not true or false")),
        },
        Kind::Int { min, max } => match value.trim().parse::<i64>() {
            Ok(n) => in_range(&name, n, min, max),
            Err(_) => Err(format!("{name} = {value:?} is not a whole number")),
        },
        Kind::Texts | Kind::Mailboxes => value
            .split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(|x| check_list_item(&name, kind, x).map(Json::String))
            .collect::<Result<Vec<_>, _>>()
            .map(Json::Array),
        _ => check_text(&name, kind, value),
    };
    match checked {
        Ok(v) => {
            loader
                .values
                .insert((found.section, name), Entry { value: v, origin });
        }
        Err(m) => loader.error(&origin, m),
    }
}

// ---------------------------------------------------------------------------------------------
// Secrets from files, and checks across keys

fn resolve_secret_files(loader: &mut Loader) {
    for sec in SCHEMA {
        for spec in sec.keys.iter().filter(|k| k.kind.is_secret()) {
            let file_key = format!("{}_file", spec.name);
            let Some(file_entry) = loader.entry(sec.name, &file_key).cloned() else {
                continue;
            };
            if let Some(direct) = loader.entry(sec.name, spec.name).cloned() {
                let other = loader.place(&direct.origin);
                loader.error(
                    &file_entry.origin,
                    format!(
                        "{}.{file_key} and {}.{} are both set (the other at {other}): keep one",
                        sec.name, sec.name, spec.name
                    ),
                );
                continue;
            }
            let path = PathBuf::from(file_entry.value.as_str().unwrap_or_default());
            if spec.kind == Kind::LiveSecret {
                // Read at every use; `check` and the poller say when it cannot be read.
                continue;
            }
            loader.values.remove(&(sec.name, file_key.clone()));
            match std::fs::read_to_string(&path) {
                Ok(content) if content.trim().is_empty() => loader.error(
                    &file_entry.origin,
                    format!(
                        "{file_key}: {} is empty; put the {} in it, or remove {file_key}",
                        path.display(),
                        spec.name
                    ),
                ),
                Ok(content) => {
                    loader.values.insert(
                        (sec.name, spec.name.to_string()),
                        Entry {
                            value: Json::String(content.trim().to_string()),
                            origin: file_entry.origin.clone(),
                        },
                    );
                }
                Err(e) => loader.error(
                    &file_entry.origin,
                    format!(
                        "{file_key}: {}",
                        crate::diagnostic::unreadable(&path, "the file", &e)
                    ),
                ),
            }
        }
    }
}

fn cross_checks(loader: &mut Loader) {
    let duration_of = |loader: &Loader, sec: &str, key: &str| -> Option<(Duration, Origin)> {
        let e = loader.entry(sec, key)?;
        let d = match &e.value {
            Json::Number(n) => Duration::from_secs(n.as_u64()?),
            Json::String(s) => parse_duration(s).ok()?,
            _ => return None,
        };
        Some((d, e.origin.clone()))
    };
    let defaults = super::Daemon::default();
    let start = duration_of(loader, "daemon", "backoff_start");
    let max = duration_of(loader, "daemon", "backoff_max");
    let (start_d, max_d) = (
        start.as_ref().map_or(defaults.backoff_start, |s| s.0),
        max.as_ref().map_or(defaults.backoff_max, |m| m.0),
    );
    if start_d > max_d {
        let origin = start.or(max).map(|(_, o)| o);
        if let Some(o) = origin {
            loader.error(
                &o,
                format!(
                    "backoff_start ({}) must not exceed backoff_max ({})",
                    humantime::format_duration(start_d),
                    humantime::format_duration(max_d)
                ),
            );
        }
    }
    if let Some((d, origin)) = duration_of(loader, "upstream", "min_interval")
        && d < SAFE_MIN_INTERVAL
    {
        loader.warning(
            &origin,
            format!(
                "min_interval = {} is below {}: 12306 throttles fast clients (302 redirects to its \
                 error page, then a ban of the whole address for minutes to hours); keep it at 3s \
                 or more outside tests",
                humantime::format_duration(d),
                humantime::format_duration(SAFE_MIN_INTERVAL)
            ),
        );
    }
    if let Some((d, origin)) = duration_of(loader, "callback", "idle_timeout")
        && d.is_zero()
    {
        loader.error(
            &origin,
            "idle_timeout must be more than 0s: the push receiver would close every connection \
             before reading it (the default is \"10s\")"
                .into(),
        );
    }
    let smtp = loader
        .entry("email", "transport")
        .filter(|e| e.value == "smtp")
        .map(|e| e.origin.clone());
    if let Some(origin) = smtp {
        let host = loader.entry("email", "host").cloned();
        if host
            .as_ref()
            .is_some_and(|h| h.value.as_str().is_some_and(|s| s.trim().is_empty()))
        {
            let at = host.map_or(origin, |h| h.origin);
            loader.error(&at, "host is required when email.transport = \"smtp\"".into());
        }
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

    fn errors(text: &str, env: &[(&str, &str)]) -> Vec<String> {
        let f = file(text);
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        match load(Some(f.path()), env) {
            Ok(_) => Vec::new(),
            Err(d) => d
                .iter()
                .map(|d| {
                    d.to_string()
                        .replace(&f.path().display().to_string(), "yupiao.toml")
                })
                .collect(),
        }
    }

    #[test]
    fn every_problem_is_reported_at_once_with_its_line_and_column() {
        let text =
            "[email]\nhots = \"x\"\nsecurity = \"ssl\"\ntimeout = \"soon\"\nport = \"587\"\n[upstreams]\n";
        let e = errors(text, &[]);
        assert_eq!(
            e,
            [
                "yupiao.toml:2:1: unknown key \"hots\" in [email] (did you mean \"host\"?)",
                "yupiao.toml:3:12: security = \"ssl\" is not allowed (allowed: starttls, tls, none)",
                "yupiao.toml:4:11: timeout = \"soon\" is not a duration (expected number at 0); write e.g. \"3s\", \"10m\", \"1h\"",
                "yupiao.toml:5:8: port must be an integer, found a string (write port = 587, without quotes)",
                "yupiao.toml:6:2: unknown section [upstreams] (did you mean [upstream]?)",
            ],
            "{e:#?}"
        );
    }

    #[test]
    fn an_environment_override_is_blamed_by_its_own_name() {
        let e = errors(
            "[email]\nhost = \"mail.example.com\"\n",
            &[
                ("YUPIAO__EMAIL__PASWORD", "hunter2"),
                ("YUPIAO__EMAIL__PORT", "abc"),
                ("YUPIAO__EMAIL__SECURITY", "TLS"),
            ],
        );
        assert_eq!(
            e,
            [
                "$YUPIAO__EMAIL__PASWORD: unknown key \"pasword\" in [email] (did you mean YUPIAO__EMAIL__PASSWORD?)",
                "$YUPIAO__EMAIL__PORT: port = \"abc\" is not a whole number",
                "$YUPIAO__EMAIL__SECURITY: security = \"TLS\" is not allowed (allowed: starttls, tls, none); did you mean \"tls\"?",
            ],
            "{e:#?}"
        );
        assert!(e.iter().all(|l| !l.contains("hunter2")));
    }

    #[test]
    fn the_push_receivers_limits_are_read_and_checked_like_every_other_key() {
        let f = file("[callback]\nmax_connections = 8\nidle_timeout = \"3s\"\n");
        let (s, _) = load(Some(f.path()), Vec::new()).unwrap();
        assert_eq!(s.callback.max_connections, 8);
        assert_eq!(s.callback.idle_timeout, Duration::from_secs(3));
        let (s, _) = load(None, Vec::new()).unwrap();
        assert_eq!(s.callback.max_connections, 64, "the default");
        assert_eq!(s.callback.idle_timeout, Duration::from_secs(10), "the default");

        let e = errors(
            "[callback]\nmax_conections = 8\nmax_connections = 0\nidle_timeout = \"soon\"\n",
            &[("YUPIAO__CALLBACK__MAX_CONNECTIONS", "many")],
        );
        assert_eq!(
            e,
            [
                "yupiao.toml:2:1: unknown key \"max_conections\" in [callback] (did you mean \"max_connections\"?)",
                "yupiao.toml:3:19: max_connections = 0 must be between 1 and 4096 (each is a file descriptor; pushes come a few a day)",
                "yupiao.toml:4:16: idle_timeout = \"soon\" is not a duration (expected number at 0); write e.g. \"3s\", \"10m\", \"1h\"",
                "$YUPIAO__CALLBACK__MAX_CONNECTIONS: max_connections = \"many\" is not a whole number",
            ],
            "{e:#?}"
        );
        let e = errors("[callback]\nidle_timeout = 0\n", &[]);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("yupiao.toml:2:16: idle_timeout must be more than 0s"),
            "{e:?}"
        );
    }

    #[test]
    fn a_fast_min_interval_is_a_warning_that_says_what_12306_does() {
        let f = file("[upstream]\nmin_interval = \"500ms\"\n");
        let (s, warnings) = load(Some(f.path()), Vec::new()).unwrap();
        assert_eq!(s.upstream.min_interval, Duration::from_millis(500));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let w = warnings[0].to_string();
        assert!(
            w.contains(":2:16: warning: min_interval = 500ms is below 3s"),
            "{w}"
        );
        assert!(w.contains("12306 throttles fast clients"), "{w}");
    }

    #[test]
    fn syntax_errors_on_secret_lines_show_the_position_never_the_value() {
        for (text, secret) in [
            ("[email]\npassword = SMTPPASS4711xyz\n", "SMTPPASS4711xyz"),
            ("[rail]\ncookie = \"JSESSIONID=abc\" tk=zzz9\n", "tk=zzz9"),
            ("[juhe]\nkey = \"k3y-s3cr3t\n", "k3y-s3cr3t"),
        ] {
            let e = errors(text, &[]);
            assert_eq!(e.len(), 1, "{e:?}");
            assert!(e[0].starts_with("yupiao.toml:2:"), "{e:?}");
            assert!(e[0].contains("TOML syntax error"), "{e:?}");
            assert!(!e[0].contains(secret), "{e:?}");
            assert!(!e[0].contains("JSESSIONID"), "{e:?}");
        }
        // A secret of the wrong type: named, not shown.
        let e = errors("[email]\npassword = 12345678\n", &[]);
        assert_eq!(
            e,
            ["yupiao.toml:2:12: password must be a string, found an integer (quote it: password = \"…\")"]
        );
        // Ordinary keys keep their excerpt.
        let e = errors("[email]\nport = 5x87\n", &[]);
        assert!(e[0].contains("(at `5x87`)"), "{e:?}");
    }

    #[test]
    fn every_secret_can_come_from_a_file_and_both_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in [
            ("smtp-password", "hunter2\n"),
            ("juhe-key", "  abc123key \n"),
            ("cellphone", "13800138000"),
            ("token", "t0k"),
            ("account-password", "pw"),
        ] {
            std::fs::write(dir.path().join(name), content).unwrap();
        }
        let settings = dir.path().join("yupiao.toml");
        std::fs::write(
            &settings,
            "[email]\npassword_file = \"smtp-password\"\n[juhe]\nkey_file = \"juhe-key\"\n\
             cellphone_file = \"cellphone\"\naccount_password_file = \"account-password\"\n\
             [callback]\ntoken_file = \"token\"\n[rail]\ncookie_file = \"cookie\"\n",
        )
        .unwrap();
        let (s, _) = load(Some(&settings), Vec::new()).unwrap();
        assert_eq!(s.email.password.unwrap().expose_secret(), "hunter2");
        assert_eq!(s.juhe.key.unwrap().expose_secret(), "abc123key");
        assert_eq!(s.juhe.cellphone.unwrap().expose_secret(), "13800138000");
        assert_eq!(s.juhe.account_password.unwrap().expose_secret(), "pw");
        assert_eq!(s.callback.token.unwrap().expose_secret(), "t0k");
        // The cookie file is re-read at every poll: it stays a path, relative to the file.
        assert_eq!(s.rail.cookie_file, Some(dir.path().join("cookie")));
        assert!(s.rail.cookie.is_none());

        let env = vec![("YUPIAO__EMAIL__PASSWORD".to_string(), "hunter2".to_string())];
        let e = load(Some(&settings), env).unwrap_err();
        let text: Vec<String> = e.iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 1, "{text:?}");
        assert!(
            text[0].contains(":2:17: email.password_file and email.password are both set (the other at $YUPIAO__EMAIL__PASSWORD): keep one"),
            "{text:?}"
        );
        assert!(!text[0].contains("hunter2"));

        std::fs::write(dir.path().join("smtp-password"), "\n").unwrap();
        let e = load(Some(&settings), Vec::new()).unwrap_err();
        assert!(
            e[0].to_string().contains("is empty; put the password in it"),
            "{e:?}"
        );
    }

    #[test]
    fn paths_in_the_file_are_relative_to_it_and_the_watch_list_can_be_named_there() {
        let dir = tempfile::tempdir().unwrap();
        let settings = dir.path().join("yupiao.toml");
        std::fs::write(
            &settings,
            "[daemon]\nwatchlist = \"watches.toml\"\n[store]\npath = \"/var/lib/yupiao/yupiao.db\"\n[email]\nmaildir = \"mail\"\n",
        )
        .unwrap();
        let (s, _) = load(Some(&settings), Vec::new()).unwrap();
        assert_eq!(s.daemon.watchlist, Some(dir.path().join("watches.toml")));
        assert_eq!(s.store.path, PathBuf::from("/var/lib/yupiao/yupiao.db"));
        assert_eq!(s.email.maildir, dir.path().join("mail"));
        let env = vec![("YUPIAO__DAEMON__WATCHLIST".to_string(), "w.toml".to_string())];
        let (s, _) = load(Some(&settings), env).unwrap();
        assert_eq!(
            s.daemon.watchlist,
            Some(PathBuf::from("w.toml")),
            "the shell's directory"
        );
    }
}
