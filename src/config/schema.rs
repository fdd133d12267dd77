//! Every section and key of `yupiao.toml`, and the kind of value each takes: the one list both
//! the file reader and the environment reader check against (the README's configuration table,
//! as data). A misspelt key is looked up here for its did-you-mean.

use crate::diagnostic::nearest_key;

/// What a key holds; decides how it is checked, read from the environment and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
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
    pub(super) fn is_secret(self) -> bool {
        matches!(self, Kind::Secret | Kind::LiveSecret)
    }
}

pub(super) struct KeySpec {
    pub(super) name: &'static str,
    pub(super) kind: Kind,
}

pub(super) struct SectionSpec {
    pub(super) name: &'static str,
    pub(super) keys: &'static [KeySpec],
}

pub(super) const fn k(name: &'static str, kind: Kind) -> KeySpec {
    KeySpec { name, kind }
}

pub(super) const SECURITY: &[&str] = &["starttls", "tls", "none"];
pub(super) const TRANSPORT: &[&str] = &["maildir", "smtp"];

/// Every section and key of `yupiao.toml` (the README's configuration table, as data).
pub(super) const SCHEMA: &[SectionSpec] = &[
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
    SectionSpec {
        name: "web",
        keys: &[k("listen", Kind::Listen), k("token", Kind::Secret)],
    },
];

/// A key as looked up: its section, its own spec, and whether it is the `<key>_file` variant.
#[derive(Clone, Copy)]
pub(super) struct Found {
    pub(super) section: &'static str,
    pub(super) spec: &'static KeySpec,
    pub(super) file_variant: bool,
}

impl Found {
    pub(super) fn name(&self) -> String {
        if self.file_variant {
            format!("{}_file", self.spec.name)
        } else {
            self.spec.name.to_string()
        }
    }

    /// The kind of the value written: a `<key>_file` holds a path.
    pub(super) fn kind(&self) -> Kind {
        if self.file_variant {
            Kind::Path
        } else {
            self.spec.kind
        }
    }
}

pub(super) fn section(name: &str) -> Option<&'static SectionSpec> {
    SCHEMA.iter().find(|s| s.name == name)
}

pub(super) fn lookup(section: &'static SectionSpec, key: &str) -> Option<Found> {
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
pub(super) fn known_keys(section: &SectionSpec) -> Vec<String> {
    let mut keys = Vec::new();
    for spec in section.keys {
        keys.push(spec.name.to_string());
        if spec.kind.is_secret() {
            keys.push(format!("{}_file", spec.name));
        }
    }
    keys
}

pub(super) fn suggestion(key: &str, known: &[String]) -> Option<String> {
    let refs: Vec<&str> = known.iter().map(String::as_str).collect();
    nearest_key(key, &refs).map(str::to_string)
}
