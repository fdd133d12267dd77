//! What can go wrong with the database, as variants callers branch on, each message saying what
//! to do about it.
//!
//! Two distinctions matter to callers: a *storage fault* (full disk, I/O error, damaged file:
//! nothing can be written until a person acts) is tracked by the daemon's handle and shown by
//! `status`; a *row that cannot be read back* ([`StoreError::BadRow`]) is an error that names the
//! row, never a silent `None`.

use std::path::Path;
use std::time::Duration;

use rusqlite::ErrorCode;

/// How long a writer waits for another connection's lock before SQLite answers `SQLITE_BUSY`,
/// which is then an error naming this wait.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Something went wrong with the database; every message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "no yupiao database at {path}: `yupiao run` creates it; if the daemon uses another one, \
         name its settings with --config FILE (or set [store] path there)"
    )]
    Missing { path: String },
    #[error("{0}")]
    Unreadable(String),
    #[error("{path}: cannot open the database: {source}; check [store] path and its permissions")]
    Open { path: String, source: rusqlite::Error },
    #[error(
        "{path} is not a yupiao database or is corrupt ({detail}); move it aside to start afresh, or set another [store] path"
    )]
    NotADatabase { path: String, detail: String },
    #[error(
        "{path} was written by a newer yupiao (schema {found}, this one knows up to {known}); upgrade yupiao or set another [store] path"
    )]
    NewerSchema { path: String, found: i64, known: i64 },
    #[error(
        "{path} has schema {found}, older than this yupiao's {known}; restart `yupiao run` (or run `yupiao once`) to upgrade it"
    )]
    OlderSchema { path: String, found: i64, known: i64 },
    #[error("another yupiao run ({}) is using {path}; stop it first (systemctl stop yupiao) or use another [store] path", pid.map_or_else(|| "pid unknown".to_string(), |p| format!("pid {p}")))]
    Locked { path: String, pid: Option<u32> },
    #[error("{path}: cannot lock the database file: {source}{}", io_hint(source))]
    LockFile { path: String, source: std::io::Error },
    #[error(
        "the database stayed busy for more than {}s (another process holds a write lock); try again",
        BUSY_TIMEOUT.as_secs()
    )]
    Busy(#[source] rusqlite::Error),
    #[error("{path}: no space left on device ({detail}); free space on that filesystem, then start again")]
    NoSpace { path: String, detail: String },
    #[error("no space left on device for the database ({0}); free space on its filesystem")]
    Full(rusqlite::Error),
    #[error(
        "{path} is damaged ({detail}); yupiao will not use it. Keep a copy of the file, then recover it \
         with sqlite3: VACUUM INTO 'recovered.db' (if that fails: copy it table by table; see the README, \
         \"A damaged database\") and put recovered.db in its place, or move the file aside to start afresh"
    )]
    Corrupt { path: String, detail: String },
    #[error(
        "a {table} row ({key}) cannot be read back: {detail}; it was written by another program or \
         by hand — fix or delete that row with sqlite3"
    )]
    BadRow {
        table: &'static str,
        key: String,
        detail: String,
    },
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    #[error("no pending email with id {0} (already sent or failed?)")]
    NoPendingEmail(i64),
    #[error("no grab order {0} in this database")]
    NoGrabOrder(String),
    #[error("a decision with an alert needs its email in the same record")]
    AlertWithoutEmail,
    #[error("the database operation did not complete (the database thread stopped or failed; see the log)")]
    Lost,
}

impl StoreError {
    /// The database cannot be written at all (full disk, I/O error, damaged file, read-only
    /// file), as opposed to a busy lock or a bug in the caller.
    pub fn is_storage_fault(&self) -> bool {
        match self {
            StoreError::Full(_) | StoreError::NoSpace { .. } | StoreError::Corrupt { .. } => true,
            StoreError::Open { .. } => true,
            StoreError::Sqlite(e) => matches!(
                e.sqlite_error_code(),
                Some(
                    ErrorCode::ReadOnly
                        | ErrorCode::SystemIoFailure
                        | ErrorCode::CannotOpen
                        | ErrorCode::DiskFull
                        | ErrorCode::DatabaseCorrupt
                )
            ),
            _ => false,
        }
    }

    /// A stored value of `table` (the row named by `key`) that does not decode.
    pub(super) fn bad_row(
        table: &'static str,
        key: impl Into<String>,
        detail: impl std::fmt::Display,
    ) -> StoreError {
        StoreError::BadRow {
            table,
            key: key.into(),
            detail: detail.to_string(),
        }
    }
}

/// [`StoreError::NoSpace`] when `e` could come from a full disk and the database's filesystem
/// indeed has no room. SQLite says "disk I/O error", not "disk full", when it cannot grow its
/// shared-memory file, so the filesystem itself is asked.
pub(super) fn no_space(path: &Path, e: &rusqlite::Error) -> Option<StoreError> {
    let maybe = matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DiskFull | ErrorCode::SystemIoFailure | ErrorCode::CannotOpen)
    );
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    (maybe && out_of_space(dir)).then(|| StoreError::NoSpace {
        path: path.display().to_string(),
        detail: e.to_string(),
    })
}

/// Whether the filesystem holding `dir` refuses one more block (a probe file, removed again).
pub fn out_of_space(dir: &Path) -> bool {
    use std::io::Write as _;
    let probe = dir.join(format!(".yupiao-space-probe-{}", std::process::id()));
    let written =
        std::fs::File::create(&probe).and_then(|mut f| f.write_all(&[0u8; 4096]).and_then(|()| f.sync_all()));
    let _ = std::fs::remove_file(&probe);
    matches!(written, Err(e) if e.kind() == std::io::ErrorKind::StorageFull)
}

/// What to do about an I/O error on the database's directory, by its kind.
fn io_hint(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
            "; check the directory's permissions (and that it is writable)"
        }
        std::io::ErrorKind::StorageFull => "; free space on that filesystem, then start again",
        _ => "",
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy(e),
            Some(ErrorCode::DiskFull) => StoreError::Full(e),
            Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
                path: "the database file".into(),
                detail: e.to_string(),
            },
            _ => StoreError::Sqlite(e),
        }
    }
}
