//! What can go wrong with PostgreSQL, as variants a caller branches on.
//!
//! A node reacts differently to "the database is away" (keep going, retry), "the login was
//! refused" or "TLS failed" (an operator must fix the configuration: say so and stop), and "a
//! migration failed" (which one). tokio-postgres reports these through one opaque error type, so
//! [`classify`] sorts them: the server's SQLSTATE first, then the error's sources (a rustls error
//! is TLS, an I/O error is the network), and for the rest tokio-postgres's own kind. Messages
//! name the server by its redacted URL only.

use std::error::Error as _;

/// A PostgreSQL failure, by what the caller should do about it.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// `store.url` is not a usable `postgres://` URL.
    #[error("store.url: {reason}")]
    Url { reason: String },
    /// No connection: refused, timed out, reset, the server shutting down or full.
    #[error("cannot reach PostgreSQL at {target}: {detail}")]
    Unreachable { target: String, detail: String },
    /// The server refused the login (SQLSTATE class 28, or it wants a password the URL lacks).
    #[error("PostgreSQL at {target} refused the login: {detail}")]
    Auth { target: String, detail: String },
    /// The database named in the URL does not exist (SQLSTATE 3D000).
    #[error("PostgreSQL at {target} has no database {database:?}")]
    NoDatabase { target: String, database: String },
    /// TLS was asked for and could not be had: no TLS on the server, a bad certificate, an
    /// unreadable `sslrootcert`.
    #[error("TLS to PostgreSQL at {target} failed: {detail}")]
    Tls { target: String, detail: String },
    /// Migration `version` failed; it and everything after it are not applied.
    #[error("database migration {version} ({name}) failed: {detail}")]
    Migration {
        version: i32,
        name: &'static str,
        detail: String,
    },
    /// The database was migrated by a newer yupiao than this one.
    #[error(
        "the database schema is at version {found}, newer than this yupiao knows ({known}): \
         upgrade yupiao on this node"
    )]
    SchemaTooNew { found: i32, known: i32 },
    /// A node name must be 1–100 printable characters.
    #[error("node name {name:?} must be 1–100 printable characters")]
    InvalidNodeName { name: String },
    /// Another live process runs as this node name.
    #[error("node name {name:?} is in use by another live yupiao (last heartbeat {age_s:.0} s ago)")]
    NameTaken { name: String, age_s: f64 },
    /// This process's node row was taken over (it was silent longer than the lease time and
    /// another process registered the same name): it must stop polling.
    #[error("node {name:?} was taken over by another process after missing its heartbeats")]
    Superseded { name: String },
    /// A statement failed for another reason (`code` is the SQLSTATE when the server sent one).
    #[error("PostgreSQL at {target}: {detail}")]
    Query {
        target: String,
        code: Option<String>,
        detail: String,
    },
}

impl PgError {
    /// Failures that may go away by themselves (retry later) rather than needing an operator.
    pub fn is_transient(&self) -> bool {
        matches!(self, PgError::Unreachable { .. })
    }
}

/// Which server an error names: the redacted URL (never its password) and the database.
#[derive(Debug, Clone, Copy)]
pub struct Server<'a> {
    pub redacted: &'a str,
    pub database: &'a str,
}

/// Sorts a tokio-postgres error into a [`PgError`] variant.
pub fn classify(e: &tokio_postgres::Error, target: Server<'_>) -> PgError {
    let class = if let Some(db) = e.as_db_error() {
        Class::of_sqlstate(db.code().code())
    } else if has_source::<rustls::Error>(e) {
        Class::Tls
    } else if has_source::<std::io::Error>(e) || e.is_closed() {
        Class::Unreachable
    } else {
        Class::of_kind(e)
    };
    class.error(e, target)
}

/// Which [`PgError`] an error becomes, before the target and the detail are attached.
#[derive(Debug, PartialEq, Eq)]
enum Class {
    NoDatabase,
    Auth,
    Unreachable,
    Tls,
    /// With the SQLSTATE when the server sent one.
    Query(Option<String>),
}

impl Class {
    /// By the server's SQLSTATE.
    fn of_sqlstate(code: &str) -> Class {
        match code {
            "3D000" => Class::NoDatabase,
            c if c.starts_with("28") => Class::Auth,
            // admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections.
            "57P01" | "57P02" | "57P03" | "53300" => Class::Unreachable,
            _ => Class::Query(Some(code.to_string())),
        }
    }

    /// By tokio-postgres's own kind, for errors with no SQLSTATE and no typed source.
    fn of_kind(e: &tokio_postgres::Error) -> Class {
        // tokio-postgres's `Kind` is private and only shows in its `Debug`
        // (`Error { kind: Tls, … }`), which is the one place it can be read.
        let debug = format!("{e:?}");
        let kind = debug
            .strip_prefix("Error { kind: ")
            .and_then(|rest| rest.split([',', ' ', '(']).next())
            .unwrap_or("");
        match kind {
            "Tls" => Class::Tls,
            "Authentication" | "Config" => Class::Auth,
            "Timeout" | "Connect" | "Io" | "Closed" => Class::Unreachable,
            _ => Class::Query(None),
        }
    }

    fn error(self, e: &tokio_postgres::Error, target: Server<'_>) -> PgError {
        let target_name = target.redacted.to_string();
        let detail = chain(e);
        match self {
            Class::NoDatabase => PgError::NoDatabase {
                target: target_name,
                database: target.database.to_string(),
            },
            Class::Auth => PgError::Auth {
                target: target_name,
                detail,
            },
            Class::Unreachable => PgError::Unreachable {
                target: target_name,
                detail,
            },
            Class::Tls => PgError::Tls {
                target: target_name,
                detail,
            },
            Class::Query(code) => PgError::Query {
                target: target_name,
                code,
                detail,
            },
        }
    }
}

/// The pool's errors: a timeout waiting for a connection is the server being unreachable.
pub fn classify_pool(e: &deadpool_postgres::PoolError, target: Server<'_>) -> PgError {
    use deadpool_postgres::PoolError;
    match e {
        PoolError::Backend(e) => classify(e, target),
        PoolError::Timeout(kind) => PgError::Unreachable {
            target: target.redacted.to_string(),
            detail: format!("no connection within the pool's timeout ({kind:?})"),
        },
        other => PgError::Unreachable {
            target: target.redacted.to_string(),
            detail: other.to_string(),
        },
    }
}

/// The error and its sources, `": "`-joined (tokio-postgres's own text is only the outer layer).
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

fn has_source<T: std::error::Error + 'static>(e: &tokio_postgres::Error) -> bool {
    let mut source = e.source();
    while let Some(s) = source {
        if s.is::<T>() {
            return true;
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && io.get_ref().is_some_and(|inner| inner.is::<T>())
        {
            return true;
        }
        source = s.source();
    }
    false
}
