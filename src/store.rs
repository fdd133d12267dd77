//! The SQLite database: seat state and its history of changes, alert bookkeeping, the email outbox,
//! per-watch poll status and a few daemon-wide facts.
//!
//! Why it looks like this:
//! - One file, WAL, 5 s busy timeout: the daemon is the one writer, `yupiao status` reads beside it.
//!   [`Store::lock_for_daemon`] keeps a second daemon off the same file, by inode, not by path.
//! - Schema changes are an append-only list of SQL steps counted by `PRAGMA user_version`; a file
//!   from a newer yupiao is refused rather than misread. Only SQLite 3.40 features are used
//!   (STRICT tables, UPSERT, JSON text), so Debian's `sqlite3` can open the file.
//! - History is written on *change* only: an unchanged poll costs one small UPDATE of
//!   `watch_status`, so the file grows with what happened, not with how often we looked.
//! - [`Store::record_poll`] writes a poll's state changes, history, alert times and outbox row in
//!   one transaction: after a crash an alert is either fully recorded and queued, or not at all
//!   (and the next poll decides it again).
//! - Times are unix milliseconds (compact, ordered); they read back in Beijing time (+08:00). The
//!   `*_readable` views show them as text for people using `sqlite3`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta};
use rusqlite::types::Type;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, Row, TransactionBehavior};

use crate::decide::{Decision, Previous, SeatKey, SeatState};
use crate::seat::SeatClass;

/// How long a statement waits for another connection's write lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// `PRAGMA application_id` of a yupiao database ("YUPI"), so we never migrate someone else's file.
const APPLICATION_ID: i32 = 0x5955_5049;

/// Append-only: step `i` takes the schema from version `i` to `i + 1`. Never edit a shipped step.
const MIGRATIONS: &[&str] = &[
    // 1: initial schema.
    r#"
CREATE TABLE seat_state (
    watch       TEXT    NOT NULL,
    date        TEXT    NOT NULL,          -- YYYY-MM-DD
    train       TEXT    NOT NULL,          -- G8294
    seat        TEXT    NOT NULL,          -- 二等座
    raw         TEXT    NOT NULL,          -- 有 / 无 / 3 / * ; '' = gone
    count       INTEGER,
    price_jiao  INTEGER,
    available   INTEGER NOT NULL CHECK (available IN (0, 1)),
    alerted     INTEGER NOT NULL CHECK (alerted IN (0, 1)),
    since       INTEGER NOT NULL,          -- unix ms of the last change
    PRIMARY KEY (watch, date, train, seat)
) STRICT, WITHOUT ROWID;

CREATE TABLE seat_history (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,          -- unix ms
    watch       TEXT    NOT NULL,
    date        TEXT    NOT NULL,
    train       TEXT    NOT NULL,
    seat        TEXT    NOT NULL,
    raw         TEXT    NOT NULL,
    count       INTEGER,
    price_jiao  INTEGER,
    available   INTEGER NOT NULL CHECK (available IN (0, 1))
) STRICT;

CREATE TABLE train_alert (
    watch       TEXT    NOT NULL,
    date        TEXT    NOT NULL,
    train       TEXT    NOT NULL,
    last_alert_at INTEGER NOT NULL,
    PRIMARY KEY (watch, date, train)
) STRICT, WITHOUT ROWID;

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    created_at      INTEGER NOT NULL,
    watch           TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    recipients      TEXT    NOT NULL CHECK (json_valid(recipients)
                                            AND json_type(recipients) = 'array'
                                            AND json_array_length(recipients) > 0),
    subject         TEXT    NOT NULL,
    body_text       TEXT    NOT NULL,
    body_html       TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending'
                            CHECK (state IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    sent_at         INTEGER,
    server_answer   TEXT
) STRICT;
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_watch ON outbox (watch, state);

CREATE TABLE watch_status (
    watch                TEXT    NOT NULL PRIMARY KEY,
    last_poll_at         INTEGER,
    outcome              TEXT,     -- ok | throttled: … | error: … | night
    last_error           TEXT,
    next_run_at          INTEGER,
    backoff_level        INTEGER NOT NULL DEFAULT 0,
    backoff_until        INTEGER,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    finished             INTEGER NOT NULL DEFAULT 0 CHECK (finished IN (0, 1))
) STRICT, WITHOUT ROWID;

CREATE TABLE fact (
    key         TEXT    NOT NULL PRIMARY KEY,
    value       TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE VIEW seat_history_readable AS
    SELECT id, datetime(at / 1000, 'unixepoch', '+8 hours') AS at_beijing, watch, date, train,
           seat, raw, count, price_jiao, available
    FROM seat_history;

CREATE VIEW outbox_readable AS
    SELECT id, datetime(created_at / 1000, 'unixepoch', '+8 hours') AS created_beijing, watch,
           kind, recipients, subject, state, attempts,
           datetime(next_attempt_at / 1000, 'unixepoch', '+8 hours') AS next_attempt_beijing,
           last_error, datetime(sent_at / 1000, 'unixepoch', '+8 hours') AS sent_beijing,
           server_answer
    FROM outbox;
"#,
    // 2: 候补 (waitlist) following: the decision state per [[waitlist]] and its change history.
    r#"
CREATE TABLE waitlist_state (
    name        TEXT    NOT NULL PRIMARY KEY,   -- the [[waitlist]] name
    state       TEXT    NOT NULL,               -- JSON of crate::waitlist's state
    updated_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE waitlist_history (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    snapshot    TEXT    NOT NULL                -- JSON: what the order looked like from `at` on
) STRICT;
"#,
    // 3: 抢票 grab orders through Juhe. The row is written BEFORE createOrder is sent (the
    // outOrderNo is the idempotency key); ID numbers are never stored, only masked summaries.
    r#"
CREATE TABLE grab_order (
    out_order_no   TEXT    NOT NULL PRIMARY KEY,
    watch          TEXT    NOT NULL,
    date           TEXT    NOT NULL,               -- YYYY-MM-DD travel date
    state          TEXT    NOT NULL,               -- intent | N B D F U O C T E | abandoned
    order_no       TEXT,                           -- Juhe's orderNo once known
    summary        TEXT    NOT NULL,               -- JSON, no secrets: trains, seats, stations, passengers (masked)
    detail         TEXT,                           -- JSON of the last orderDetail (masked)
    last_error     TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    next_check_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX grab_order_by_watch ON grab_order (watch, date);

CREATE TABLE grab_event (
    id            INTEGER PRIMARY KEY,
    at            INTEGER NOT NULL,
    out_order_no  TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    note          TEXT    NOT NULL
) STRICT;

CREATE TABLE juhe_push (
    dedupe_key    TEXT    NOT NULL PRIMARY KEY,     -- outOrderNo:type:msgCode
    received_at   INTEGER NOT NULL,
    out_order_no  TEXT    NOT NULL,
    kind          INTEGER NOT NULL,
    msg_code      TEXT    NOT NULL
) STRICT, WITHOUT ROWID;
"#,
    // 4: why nothing matched a (watch, date) at its last poll (for `status`), and every watch an
    // email serves: one alert per recipient names all the watches a train and date satisfy.
    r#"
CREATE TABLE match_note (
    watch       TEXT    NOT NULL,
    date        TEXT    NOT NULL,
    at          INTEGER NOT NULL,          -- unix ms of the poll that saw it
    note        TEXT    NOT NULL,          -- JSON of crate::filter::NoMatch
    PRIMARY KEY (watch, date)
) STRICT, WITHOUT ROWID;

CREATE TABLE outbox_serves (
    outbox_id   INTEGER NOT NULL,
    watch       TEXT    NOT NULL,
    PRIMARY KEY (outbox_id, watch)
) STRICT, WITHOUT ROWID;
CREATE INDEX outbox_serves_by_watch ON outbox_serves (watch, outbox_id);
"#,
];

/// Grab-order states after which nothing more happens by itself (F can still be refunded, but
/// only when the user asks).
pub const GRAB_SETTLED: &[&str] = &["F", "U", "O", "C", "T", "E", "abandoned"];

/// One grab order as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrabOrderRow {
    pub out_order_no: String,
    pub watch: String,
    pub date: NaiveDate,
    /// `intent` (stored, createOrder not confirmed), a Juhe status letter, or `abandoned`.
    pub state: String,
    pub order_no: Option<String>,
    /// JSON without secrets (see `crate::order`).
    pub summary: String,
    pub detail: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTime<FixedOffset>,
    pub updated_at: DateTime<FixedOffset>,
    pub next_check_at: DateTime<FixedOffset>,
}

/// A change to a grab order, written with its event row and email in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrabUpdate {
    pub state: Option<String>,
    pub order_no: Option<String>,
    pub detail: Option<String>,
    /// `Some(None)` clears it.
    pub last_error: Option<Option<String>>,
    pub next_check_at: Option<DateTime<FixedOffset>>,
    /// A history line (`created`, `D 抢票中`, `cancel requested`…); none = no event row.
    pub event: Option<String>,
    /// Apply only if the order is still in this state (what the caller read): a slower task
    /// never overwrites a newer outcome, and never sends its email twice.
    pub expect_state: Option<String>,
}

/// Schema version this binary writes.
const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

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
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    #[error("no pending email with id {0} (already sent or failed?)")]
    NoPendingEmail(i64),
    #[error("a decision with an alert needs its email in the same record_poll call")]
    AlertWithoutEmail,
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
}

/// [`StoreError::NoSpace`] when `e` could come from a full disk and the database's filesystem
/// indeed has no room. SQLite says "disk I/O error", not "disk full", when it cannot grow its
/// shared-memory file, so the filesystem itself is asked.
fn no_space(path: &Path, e: &rusqlite::Error) -> Option<StoreError> {
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

/// The open database. One writer (the daemon) at a time; see [`Store::lock_for_daemon`].
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// Held by the running daemon; dropping it (or the process dying) releases the lock.
pub type DaemonLock = crate::db_lock::FileLock;

/// One (watch, date) of a poll cycle, for [`Store::record_cycle`].
#[derive(Debug, Clone)]
pub struct CyclePoll<'a> {
    pub watch: &'a str,
    pub date: NaiveDate,
    /// When its answer arrived.
    pub at: DateTime<FixedOffset>,
    pub decision: &'a Decision,
    /// Why nothing matched (JSON of [`crate::filter::NoMatch`]); `None` when something did.
    pub no_match: Option<String>,
}

/// An email of a poll cycle and every watch it serves (the first is the one it is filed under).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CycleEmail {
    pub email: NewEmail,
    pub serves: Vec<String>,
}

/// An alert email to queue with the poll that caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEmail {
    /// What the email is about (`alert`, `test`, …), for status and later policies.
    pub kind: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Where an outbox row is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxState {
    Pending,
    Sent,
    /// Given up (permanent refusal or too many attempts); kept for `status` until retention.
    Failed,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Sent => "sent",
            OutboxState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<OutboxState> {
        Some(match s {
            "pending" => OutboxState::Pending,
            "sent" => OutboxState::Sent,
            "failed" => OutboxState::Failed,
            _ => return None,
        })
    }
}

/// One email in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    pub created_at: DateTime<FixedOffset>,
    pub watch: String,
    pub kind: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub state: OutboxState,
    /// Delivery attempts so far (each mark_* counts one).
    pub attempts: u32,
    pub next_attempt_at: DateTime<FixedOffset>,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<FixedOffset>>,
    /// What the mail server said when it accepted the message (queue id), for tracing.
    pub server_answer: Option<String>,
}

/// Outbox totals for one watch, for `status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub sent: u64,
    pub pending: u64,
    pub failed: u64,
}

/// How the last poll of a watch ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollOutcome {
    Ok,
    /// 12306 refused or rate-limited us; the text says how.
    Throttled(String),
    Error(String),
    /// Skipped or slowed for 12306's nightly maintenance window.
    Night,
}

impl PollOutcome {
    /// Stored text: `ok`, `throttled: …`, `error: …`, `night`.
    pub fn to_text(&self) -> String {
        match self {
            PollOutcome::Ok => "ok".into(),
            PollOutcome::Throttled(m) => format!("throttled: {m}"),
            PollOutcome::Error(m) => format!("error: {m}"),
            PollOutcome::Night => "night".into(),
        }
    }

    /// Inverse of [`PollOutcome::to_text`]; unknown text reads as an error outcome.
    pub fn from_text(s: &str) -> PollOutcome {
        match s {
            "ok" => PollOutcome::Ok,
            "night" => PollOutcome::Night,
            _ => {
                if let Some(m) = s.strip_prefix("throttled: ") {
                    PollOutcome::Throttled(m.into())
                } else {
                    PollOutcome::Error(s.strip_prefix("error: ").unwrap_or(s).into())
                }
            }
        }
    }
}

/// What `yupiao status` shows per watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchStatus {
    pub watch: String,
    pub last_poll_at: Option<DateTime<FixedOffset>>,
    pub outcome: Option<PollOutcome>,
    /// The last error text, kept after later successes so the user can see what happened.
    pub last_error: Option<String>,
    pub next_run_at: Option<DateTime<FixedOffset>>,
    /// 0 = not backing off.
    pub backoff_level: u32,
    pub backoff_until: Option<DateTime<FixedOffset>>,
    pub consecutive_failures: u32,
    /// All the watch's dates are past (or it was satisfied): no more polls.
    pub finished: bool,
}

impl WatchStatus {
    /// A watch that has not been polled yet.
    pub fn new(watch: &str) -> WatchStatus {
        WatchStatus {
            watch: watch.into(),
            last_poll_at: None,
            outcome: None,
            last_error: None,
            next_run_at: None,
            backoff_level: 0,
            backoff_until: None,
            consecutive_failures: 0,
            finished: false,
        }
    }
}

/// Daemon-wide facts that `status` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact {
    /// Why the last edit of the watch list was rejected (cleared when an edit is accepted).
    WatchlistError,
    /// The leftTicket endpoint 12306 currently redirects queries to.
    QueryEndpoint,
    DaemonPid,
    /// RFC 3339.
    DaemonStartedAt,
    /// The secret path component of the Juhe push URLs (stable across restarts).
    CallbackToken,
    /// The watch list the daemon runs (JSON of `crate::status::RunningList`): written at start
    /// and after every applied reload, so `status` shows what runs, not what the file says.
    RunningList,
    /// RFC 3339: when the daemon last stopped cleanly.
    DaemonStoppedAt,
}

impl Fact {
    pub fn key(self) -> &'static str {
        match self {
            Fact::WatchlistError => "watchlist_error",
            Fact::QueryEndpoint => "query_endpoint",
            Fact::DaemonPid => "daemon_pid",
            Fact::DaemonStartedAt => "daemon_started_at",
            Fact::CallbackToken => "callback_token",
            Fact::RunningList => "running_list",
            Fact::DaemonStoppedAt => "daemon_stopped_at",
        }
    }
}

/// One row of history: a seat's observed values from `at` on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub at: DateTime<FixedOffset>,
    pub key: SeatKey,
    pub raw: String,
    pub count: Option<u32>,
    pub price_jiao: Option<u32>,
    pub available: bool,
}

/// Rows removed by [`Store::prune`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub history: u64,
    pub outbox: u64,
    /// State and alert times of dates older than the retention.
    pub state: u64,
}

impl Pruned {
    pub fn total(&self) -> u64 {
        self.history + self.outbox + self.state
    }
}

pub use crate::clock::beijing;

fn ms(t: DateTime<FixedOffset>) -> i64 {
    t.timestamp_millis()
}

fn conversion(idx: usize, ty: Type, msg: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, ty, msg.into())
}

fn time_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<DateTime<FixedOffset>> {
    let v: i64 = row.get(idx)?;
    DateTime::from_timestamp_millis(v)
        .map(|t| t.with_timezone(&beijing()))
        .ok_or_else(|| conversion(idx, Type::Integer, format!("time {v} out of range")))
}

fn opt_time_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<DateTime<FixedOffset>>> {
    match row.get_ref(idx)? {
        rusqlite::types::ValueRef::Null => Ok(None),
        _ => time_at(row, idx).map(Some),
    }
}

fn date_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn date_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<NaiveDate> {
    let s: String = row.get(idx)?;
    NaiveDate::parse_from_str(&s, "%Y-%m-%d")
        .map_err(|e| conversion(idx, Type::Text, format!("date {s:?}: {e}")))
}

fn seat_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<SeatClass> {
    let s: String = row.get(idx)?;
    SeatClass::parse(&s).ok_or_else(|| conversion(idx, Type::Text, format!("seat class {s:?}")))
}

/// `date, train, seat, raw, count, price_jiao, available, alerted, since` from column 0.
fn seat_row(row: &Row<'_>) -> rusqlite::Result<(SeatKey, SeatState)> {
    Ok((
        SeatKey {
            date: date_at(row, 0)?,
            train: row.get(1)?,
            seat: seat_at(row, 2)?,
        },
        SeatState {
            raw: row.get(3)?,
            count: row.get(4)?,
            price_jiao: row.get(5)?,
            available: row.get(6)?,
            alerted: row.get(7)?,
            since: time_at(row, 8)?,
        },
    ))
}

fn outbox_row(row: &Row<'_>) -> rusqlite::Result<OutboxRow> {
    let recipients: String = row.get(4)?;
    let state: String = row.get(8)?;
    Ok(OutboxRow {
        id: row.get(0)?,
        created_at: time_at(row, 1)?,
        watch: row.get(2)?,
        kind: row.get(3)?,
        recipients: serde_json::from_str(&recipients)
            .map_err(|e| conversion(4, Type::Text, format!("recipients: {e}")))?,
        subject: row.get(5)?,
        text: row.get(6)?,
        html: row.get(7)?,
        state: OutboxState::parse(&state)
            .ok_or_else(|| conversion(8, Type::Text, format!("outbox state {state:?}")))?,
        attempts: row.get(9)?,
        next_attempt_at: time_at(row, 10)?,
        last_error: row.get(11)?,
        sent_at: opt_time_at(row, 12)?,
        server_answer: row.get(13)?,
    })
}

const OUTBOX_COLUMNS: &str = "id, created_at, watch, kind, recipients, subject, body_text, \
     body_html, state, attempts, next_attempt_at, last_error, sent_at, server_answer";

/// `file:/var/lib/yupiao/yupiao.db?mode=ro`: SQLite's URI form of `path` (`%`, `?` and `#`
/// escaped, the rest as is).
fn sqlite_uri(path: &Path, query: &str) -> String {
    let mut uri = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    format!("{uri}?{query}")
}

/// Refuses files that are not ours, or are from a newer yupiao.
fn check_identity(path: &Path, app_id: i32, version: i64, objects: i64) -> Result<(), StoreError> {
    let path = path.display().to_string();
    let empty = app_id == 0 && version == 0 && objects == 0;
    if app_id != APPLICATION_ID && !empty {
        return Err(StoreError::NotADatabase {
            path,
            detail: format!("application_id {app_id:#x} is not yupiao's"),
        });
    }
    if version > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            path,
            found: version,
            known: SCHEMA_VERSION,
        });
    }
    Ok(())
}

fn is_not_a_database(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
    )
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `path`, for the one writer.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_writable(path, true)
    }

    /// Opens an existing database for writing (`orders cancel`, `orders refund`): a command
    /// that acts on what the daemon stored must never start an empty database of its own.
    pub fn open_existing(path: &Path) -> Result<Store, StoreError> {
        if !path.try_exists().unwrap_or(true) {
            return Err(StoreError::Missing {
                path: path.display().to_string(),
            });
        }
        Store::open_writable(path, false)
    }

    fn open_writable(path: &Path, create: bool) -> Result<Store, StoreError> {
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let mut store = Store::connect(path, flags)?;
        let mode: String = store
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| store.open_error(e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Open {
                path: path.display().to_string(),
                source: rusqlite::Error::InvalidParameterName(format!(
                    "journal_mode stays {mode:?}, WAL needed (is the file on a network share?)"
                )),
            });
        }
        // FULL: a commit survives power loss, so a sent email is never re-sent because its
        // `sent` mark vanished. Polls are seconds apart; the fsync is cheap at that rate.
        store.conn.execute_batch("PRAGMA synchronous = FULL;")?;
        store.migrate()?;
        Ok(store)
    }

    /// Opens an existing database without writing to it (`status`, `orders`), while the daemon
    /// runs or not, by a user who may read the files but not write the directory.
    ///
    /// A WAL database opened read-only needs its `-shm` index: SQLite uses the daemon's when it
    /// runs (it exists while a writer is connected, and reading it is enough), and otherwise
    /// would have to create one, which fails in a directory we may not write. With no `-wal`
    /// file there is no writer and nothing outside the main file, so the file is then opened as
    /// `immutable`, which needs no index at all.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        let display = path.display().to_string();
        match std::fs::File::open(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::Missing { path: display });
            }
            Err(e) => {
                return Err(StoreError::Unreadable(crate::diagnostic::unreadable(
                    path,
                    "the database",
                    &e,
                )));
            }
        }
        let flags =
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let opened = Store::connect_uri(path, &sqlite_uri(path, "mode=ro"), flags)
            .and_then(|s| s.identity().map_err(|e| s.open_error(e)).map(|id| (s, id)));
        let (store, (app_id, version, objects)) = match opened {
            Ok(ok) => ok,
            Err(first) => {
                let mut wal = path.as_os_str().to_owned();
                wal.push("-wal");
                if PathBuf::from(&wal).try_exists().unwrap_or(true) {
                    return Err(first);
                }
                let s = Store::connect_uri(path, &sqlite_uri(path, "mode=ro&immutable=1"), flags)?;
                let id = s.identity().map_err(|e| s.open_error(e))?;
                (s, id)
            }
        };
        check_identity(path, app_id, version, objects)?;
        if version == 0 {
            return Err(StoreError::Missing { path: display });
        }
        if version < SCHEMA_VERSION {
            return Err(StoreError::OlderSchema {
                path: display,
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        Ok(store)
    }

    /// Takes the daemon lock on the database file itself (see [`crate::db_lock`]): a second
    /// daemon on the same file — through this path, a symlink or a hard link — gets
    /// [`StoreError::Locked`] naming the holder; readers are not affected. Creates an empty file
    /// when there is none yet. The lock goes with the returned value or the process.
    pub fn lock_for_daemon(path: &Path) -> Result<DaemonLock, StoreError> {
        crate::db_lock::lock(path).map_err(|e| match e {
            crate::db_lock::LockError::Held { pid } => StoreError::Locked {
                path: path.display().to_string(),
                pid,
            },
            crate::db_lock::LockError::Io(source) => StoreError::LockFile {
                path: path.display().to_string(),
                source,
            },
        })
    }

    /// Whether a `yupiao run` holds the daemon lock of the database at `path` (and its pid).
    /// Takes only a shared lock for an instant and writes nothing.
    pub fn daemon_running(path: &Path) -> (bool, Option<u32>) {
        crate::db_lock::is_held(path)
    }

    fn connect(path: &Path, flags: OpenFlags) -> Result<Store, StoreError> {
        let conn = Connection::open_with_flags(path, flags).map_err(|source| {
            no_space(path, &source).unwrap_or_else(|| StoreError::Open {
                path: path.display().to_string(),
                source,
            })
        })?;
        let store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store
            .conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| store.open_error(e))?;
        Ok(store)
    }

    fn connect_uri(path: &Path, uri: &str, flags: OpenFlags) -> Result<Store, StoreError> {
        let conn = Connection::open_with_flags(uri, flags).map_err(|source| StoreError::Open {
            path: path.display().to_string(),
            source,
        })?;
        let store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store
            .conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| store.open_error(e))?;
        Ok(store)
    }

    fn open_error(&self, e: rusqlite::Error) -> StoreError {
        let path = self.path.display().to_string();
        if is_not_a_database(&e) {
            StoreError::NotADatabase {
                path,
                detail: e.to_string(),
            }
        } else if matches!(e.sqlite_error_code(), Some(ErrorCode::DatabaseBusy)) {
            StoreError::Busy(e)
        } else if let Some(full) = no_space(&self.path, &e) {
            full
        } else {
            StoreError::Open { path, source: e }
        }
    }

    /// (application_id, user_version, number of schema objects).
    fn identity(&self) -> rusqlite::Result<(i32, i64, i64)> {
        let app_id = self.conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
        let version = self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let objects = self
            .conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
        Ok((app_id, version, objects))
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        // IMMEDIATE: two processes opening a fresh file at once must not both run step 1.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| {
                if is_not_a_database(&e) {
                    StoreError::NotADatabase {
                        path: self.path.display().to_string(),
                        detail: e.to_string(),
                    }
                } else {
                    e.into()
                }
            })?;
        let identity = (|| -> rusqlite::Result<(i32, i64, i64)> {
            Ok((
                tx.query_row("PRAGMA application_id", [], |r| r.get(0))?,
                tx.query_row("PRAGMA user_version", [], |r| r.get(0))?,
                tx.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?,
            ))
        })();
        let (app_id, version, objects) = identity.map_err(|e| StoreError::NotADatabase {
            path: self.path.display().to_string(),
            detail: e.to_string(),
        })?;
        check_identity(&self.path, app_id, version, objects)?;
        if version == SCHEMA_VERSION {
            return Ok(());
        }
        for step in &MIGRATIONS[version as usize..] {
            tx.execute_batch(step)?;
        }
        tx.execute_batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION};"
        ))?;
        tx.commit()?;
        Ok(())
    }

    /// `PRAGMA quick_check`: every page readable and well-formed (skips the index-content
    /// comparison of `integrity_check`, so it reads the file once). The daemon runs it at start:
    /// a damaged page would otherwise let it start and then fail every poll that touches it.
    pub fn check_integrity(&self) -> Result<(), StoreError> {
        let corrupt = |detail: String| StoreError::Corrupt {
            path: self.path.display().to_string(),
            detail: format!("quick_check: {detail}"),
        };
        let mut stmt = self
            .conn
            .prepare("PRAGMA quick_check")
            .map_err(|e| corrupt(e.to_string()))?;
        let lines = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
            .map_err(|e| corrupt(e.to_string()))?;
        if lines.len() == 1 && lines[0] == "ok" {
            return Ok(());
        }
        let shown: Vec<&str> = lines.iter().take(3).map(String::as_str).collect();
        let more = lines.len().saturating_sub(3);
        let mut detail = shown.join("; ");
        if more > 0 {
            detail.push_str(&format!(" … and {more} more"));
        }
        Err(corrupt(detail))
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// The stored state of one (watch, date), for [`crate::decide::decide`].
    pub fn previous(&self, watch: &str, date: NaiveDate) -> Result<Previous, StoreError> {
        let d = date_text(date);
        let mut prev = Previous::default();
        let mut stmt = self.conn.prepare_cached(
            "SELECT date, train, seat, raw, count, price_jiao, available, alerted, since
             FROM seat_state WHERE watch = ?1 AND date = ?2",
        )?;
        for r in stmt.query_map((watch, &d), seat_row)? {
            let (k, s) = r?;
            prev.seats.insert(k, s);
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT train, last_alert_at FROM train_alert WHERE watch = ?1 AND date = ?2")?;
        for r in stmt.query_map((watch, &d), |row| {
            Ok((row.get::<_, String>(0)?, time_at(row, 1)?))
        })? {
            let (train, at) = r?;
            prev.last_alert.insert((date, train), at);
        }
        Ok(prev)
    }

    /// Writes one poll of (watch, date): state changes and their history rows, alert flags and
    /// times, the alert email, and the poll time, in ONE transaction. An unchanged poll is a
    /// single small UPDATE of the poll time.
    pub fn record_poll(
        &mut self,
        watch: &str,
        date: NaiveDate,
        now: DateTime<FixedOffset>,
        decision: &Decision,
        email: Option<NewEmail>,
    ) -> Result<(), StoreError> {
        if !decision.alert.is_empty() && email.is_none() {
            return Err(StoreError::AlertWithoutEmail);
        }
        if decision.is_empty() && email.is_none() {
            return write_poll(&self.conn, watch, date, now, decision);
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        write_poll(&tx, watch, date, now, decision)?;
        if let Some(email) = &email {
            insert_email(&tx, watch, now, email)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Writes a whole poll cycle in ONE transaction: every (watch, date)'s state changes, history,
    /// alert times, poll time and no-match note, and the cycle's emails (each linked to every
    /// watch it serves). After a crash the cycle is either fully recorded and its emails queued,
    /// or not at all. Unchanged polls still cost only their poll time (and no note rewrite).
    pub fn record_cycle(&mut self, polls: &[CyclePoll<'_>], emails: &[CycleEmail]) -> Result<(), StoreError> {
        for p in polls {
            let served = emails.iter().any(|e| e.serves.iter().any(|w| w == p.watch));
            if !p.decision.alert.is_empty() && !served {
                return Err(StoreError::AlertWithoutEmail);
            }
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for p in polls {
            write_poll(&tx, p.watch, p.date, p.at, p.decision)?;
            write_note(&tx, p.watch, p.date, p.at, p.no_match.as_deref())?;
        }
        for e in emails {
            let Some(first) = e.serves.first() else {
                continue;
            };
            let at = polls.iter().map(|p| p.at).max().unwrap_or_else(crate::clock::now);
            insert_email(&tx, first, at, &e.email)?;
            let id = tx.last_insert_rowid();
            let mut link =
                tx.prepare_cached("INSERT OR IGNORE INTO outbox_serves (outbox_id, watch) VALUES (?1, ?2)")?;
            for w in &e.serves {
                link.execute((id, w))?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Why nothing matched each date of `watch` at its last poll, by date.
    pub fn match_notes(
        &self,
        watch: &str,
    ) -> Result<Vec<(NaiveDate, DateTime<FixedOffset>, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT date, at, note FROM match_note WHERE watch = ?1 ORDER BY date")?;
        let rows = stmt
            .query_map([watch], |r| Ok((date_at(r, 0)?, time_at(r, 1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The newest email that is not delivered and has an error (pending retry or failed): what
    /// went wrong and when, for `status`.
    pub fn last_email_problem(&self) -> Result<Option<OutboxRow>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!(
                    "SELECT {OUTBOX_COLUMNS} FROM outbox
                     WHERE state IN ('pending', 'failed') AND last_error IS NOT NULL
                     ORDER BY id DESC LIMIT 1"
                ),
                [],
                outbox_row,
            )
            .optional()?)
    }

    /// Queues an email that no poll caused (e.g. `test-email`); returns its outbox id.
    pub fn enqueue_email(
        &mut self,
        watch: &str,
        now: DateTime<FixedOffset>,
        email: &NewEmail,
    ) -> Result<i64, StoreError> {
        insert_email(&self.conn, watch, now, email)?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Pending emails whose next attempt is due, oldest first.
    pub fn due_emails(&self, now: DateTime<FixedOffset>, limit: u32) -> Result<Vec<OutboxRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox
             WHERE state = 'pending' AND next_attempt_at <= ?1
             ORDER BY next_attempt_at, id LIMIT ?2"
        ))?;
        let rows = stmt
            .query_map((ms(now), limit), outbox_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// One outbox row by id.
    pub fn email(&self, id: i64) -> Result<Option<OutboxRow>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id = ?1"),
                [id],
                outbox_row,
            )
            .optional()?)
    }

    /// The server accepted the email.
    pub fn mark_sent(
        &mut self,
        id: i64,
        now: DateTime<FixedOffset>,
        server_answer: &str,
    ) -> Result<(), StoreError> {
        self.update_pending(
            id,
            "UPDATE outbox SET state = 'sent', attempts = attempts + 1, sent_at = ?2,
                 server_answer = ?3 WHERE id = ?1 AND state = 'pending'",
            rusqlite::params![id, ms(now), server_answer],
        )
    }

    /// A temporary failure: try again at `next_attempt_at`.
    pub fn mark_retry(
        &mut self,
        id: i64,
        error: &str,
        next_attempt_at: DateTime<FixedOffset>,
    ) -> Result<(), StoreError> {
        self.update_pending(
            id,
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3
             WHERE id = ?1 AND state = 'pending'",
            rusqlite::params![id, error, ms(next_attempt_at)],
        )
    }

    /// A permanent failure: stop trying, keep the row for `status`.
    pub fn mark_failed(&mut self, id: i64, error: &str) -> Result<(), StoreError> {
        self.update_pending(
            id,
            "UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ?2
             WHERE id = ?1 AND state = 'pending'",
            rusqlite::params![id, error],
        )
    }

    fn update_pending(
        &mut self,
        id: i64,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<(), StoreError> {
        match self.conn.prepare_cached(sql)?.execute(params)? {
            0 => Err(StoreError::NoPendingEmail(id)),
            _ => Ok(()),
        }
    }

    /// Sent / pending / failed emails of one watch.
    pub fn outbox_counts(&self, watch: &str) -> Result<OutboxCounts, StoreError> {
        let mut counts = OutboxCounts::default();
        let mut stmt = self.conn.prepare_cached(
            "SELECT state, count(*) FROM outbox
             WHERE watch = ?1 OR id IN (SELECT outbox_id FROM outbox_serves WHERE watch = ?1)
             GROUP BY state",
        )?;
        for r in stmt.query_map([watch], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (state, n) = r?;
            let n = n as u64;
            match OutboxState::parse(&state) {
                Some(OutboxState::Sent) => counts.sent = n,
                Some(OutboxState::Pending) => counts.pending = n,
                Some(OutboxState::Failed) => counts.failed = n,
                None => {}
            }
        }
        Ok(counts)
    }

    /// Why the oldest still-pending email of a watch has not gone out yet (its last attempt's
    /// error), if it has been tried. An email filed under another watch that also serves this
    /// one counts (as in [`Store::outbox_counts`]).
    pub fn pending_email_error(&self, watch: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT last_error FROM outbox
                 WHERE (watch = ?1 OR id IN (SELECT outbox_id FROM outbox_serves WHERE watch = ?1))
                 AND state = 'pending' AND last_error IS NOT NULL ORDER BY id LIMIT 1",
            )?
            .query_row([watch], |r| r.get(0))
            .optional()?)
    }

    /// Every known seat of a watch, by date, train, then seat class order.
    pub fn current_seats(&self, watch: &str) -> Result<Vec<(SeatKey, SeatState)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT date, train, seat, raw, count, price_jiao, available, alerted, since
             FROM seat_state WHERE watch = ?1",
        )?;
        let mut rows = stmt
            .query_map([watch], seat_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(rows)
    }

    /// When anything about a watch's seats last changed (from the current state, so it is
    /// cheap however long the history; unknown right after [`Store::forget_watch`]).
    pub fn last_change(&self, watch: &str) -> Result<Option<DateTime<FixedOffset>>, StoreError> {
        Ok(self.conn.query_row(
            "SELECT max(since) FROM seat_state WHERE watch = ?1",
            [watch],
            |r| opt_time_at(r, 0),
        )?)
    }

    /// The newest history rows of a watch, newest first.
    pub fn recent_changes(&self, watch: &str, limit: u32) -> Result<Vec<Change>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT date, train, seat, raw, count, price_jiao, available, at
             FROM seat_history WHERE watch = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = stmt
            .query_map((watch, limit), |row| {
                Ok(Change {
                    key: SeatKey {
                        date: date_at(row, 0)?,
                        train: row.get(1)?,
                        seat: seat_at(row, 2)?,
                    },
                    raw: row.get(3)?,
                    count: row.get(4)?,
                    price_jiao: row.get(5)?,
                    available: row.get(6)?,
                    at: time_at(row, 7)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Number of history rows (all watches).
    pub fn history_rows(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM seat_history", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Removes history and finished (sent/failed) emails older than `retention`, and the state
    /// of travel dates that ended more than `retention` ago.
    pub fn prune(&mut self, now: DateTime<FixedOffset>, retention: Duration) -> Result<Pruned, StoreError> {
        let cutoff = now - TimeDelta::from_std(retention).unwrap_or(TimeDelta::MAX / 2);
        let cutoff_ms = ms(cutoff);
        let cutoff_date = date_text(cutoff.date_naive());
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let history = tx.execute("DELETE FROM seat_history WHERE at < ?1", [cutoff_ms])?
            + tx.execute("DELETE FROM waitlist_history WHERE at < ?1", [cutoff_ms])?;
        let outbox = tx.execute(
            "DELETE FROM outbox WHERE state IN ('sent', 'failed') AND created_at < ?1",
            [cutoff_ms],
        )?;
        // A delivered email's bodies are only needed until it is sent; after a week keep just
        // its subject, recipients and outcome for `status` (bodies are most of the file).
        tx.execute(
            "UPDATE outbox SET body_text = '', body_html = '' WHERE state = 'sent' AND sent_at < ?1 AND body_text != ''",
            [ms(now - TimeDelta::days(7))],
        )?;
        tx.execute(
            "DELETE FROM outbox_serves WHERE outbox_id NOT IN (SELECT id FROM outbox)",
            [],
        )?;
        let state = tx.execute("DELETE FROM seat_state WHERE date < ?1", [&cutoff_date])?
            + tx.execute("DELETE FROM train_alert WHERE date < ?1", [&cutoff_date])?
            + tx.execute("DELETE FROM match_note WHERE date < ?1", [&cutoff_date])?;
        tx.commit()?;
        Ok(Pruned {
            history: history as u64,
            outbox: outbox as u64,
            state: state as u64,
        })
    }

    /// A watch was removed or changed: drop its current seat state, alert times and poll status,
    /// so a changed watch starts like a new one (and alerts on what is available now). History
    /// and the outbox stay.
    pub fn forget_watch(&mut self, watch: &str) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM seat_state WHERE watch = ?1", [watch])?;
        tx.execute("DELETE FROM train_alert WHERE watch = ?1", [watch])?;
        tx.execute("DELETE FROM match_note WHERE watch = ?1", [watch])?;
        tx.execute("DELETE FROM watch_status WHERE watch = ?1", [watch])?;
        tx.commit()?;
        Ok(())
    }

    /// The stored decision state (JSON) of a `[[waitlist]]`, if it was ever polled.
    pub fn waitlist_state(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT state FROM waitlist_state WHERE name = ?1")?
            .query_row([name], |r| r.get(0))
            .optional()?)
    }

    /// Every stored waitlist state, for `status`.
    pub fn all_waitlist_states(&self) -> Result<Vec<(String, String, DateTime<FixedOffset>)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name, state, updated_at FROM waitlist_state ORDER BY name")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, time_at(r, 2)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Writes one poll of a `[[waitlist]]` in ONE transaction: the new state, a history row when
    /// the order changed (`snapshot`), and its emails. A restart never repeats or loses them.
    /// `outbox_key` is what the emails are filed under (the daemon's `候补:` key).
    pub fn record_waitlist(
        &mut self,
        name: &str,
        outbox_key: &str,
        now: DateTime<FixedOffset>,
        state: &str,
        snapshot: Option<&str>,
        emails: &[NewEmail],
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.prepare_cached(
            "INSERT INTO waitlist_state (name, state, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
        )?
        .execute((name, state, ms(now)))?;
        if let Some(snap) = snapshot {
            tx.prepare_cached("INSERT INTO waitlist_history (at, name, snapshot) VALUES (?1, ?2, ?3)")?
                .execute((ms(now), name, snap))?;
        }
        for email in emails {
            insert_email(&tx, outbox_key, now, email)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Rows of 候补 history (all waitlists).
    pub fn waitlist_history_rows(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM waitlist_history", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Drops the state of a removed or changed `[[waitlist]]` (history stays).
    pub fn forget_waitlist(&mut self, name: &str) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM waitlist_state WHERE name = ?1", [name])?;
        Ok(())
    }

    /// Stores a grab intent BEFORE createOrder is sent. Fails if the outOrderNo exists.
    pub fn insert_grab_intent(
        &mut self,
        out_order_no: &str,
        watch: &str,
        date: NaiveDate,
        summary: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO grab_order (out_order_no, watch, date, state, summary, created_at, updated_at, next_check_at)
             VALUES (?1, ?2, ?3, 'intent', ?4, ?5, ?5, ?5)",
            (out_order_no, watch, date_text(date), summary, ms(now)),
        )?;
        tx.execute(
            "INSERT INTO grab_event (at, out_order_no, state, note) VALUES (?1, ?2, 'intent', 'outOrderNo stored before createOrder')",
            (ms(now), out_order_no),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Orders of (watch, date) that are not settled (they count against `orders_per_date`).
    pub fn live_grab_orders(&self, watch: &str, date: NaiveDate) -> Result<Vec<GrabOrderRow>, StoreError> {
        Ok(self
            .grab_orders()?
            .into_iter()
            .filter(|o| o.watch == watch && o.date == date && !GRAB_SETTLED.contains(&o.state.as_str()))
            .collect())
    }

    /// Every grab order, newest first.
    pub fn grab_orders(&self) -> Result<Vec<GrabOrderRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT out_order_no, watch, date, state, order_no, summary, detail, last_error,
                    created_at, updated_at, next_check_at
             FROM grab_order ORDER BY created_at DESC, out_order_no",
        )?;
        let rows = stmt
            .query_map([], grab_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// One grab order.
    pub fn grab_order(&self, out_order_no: &str) -> Result<Option<GrabOrderRow>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT out_order_no, watch, date, state, order_no, summary, detail, last_error,
                        created_at, updated_at, next_check_at
                 FROM grab_order WHERE out_order_no = ?1",
            )?
            .query_row([out_order_no], grab_row)
            .optional()?)
    }

    /// Unsettled orders whose next check is due (and F orders with a refund under way, which set
    /// a near `next_check_at`).
    pub fn due_grab_orders(&self, now: DateTime<FixedOffset>) -> Result<Vec<GrabOrderRow>, StoreError> {
        Ok(self
            .grab_orders()?
            .into_iter()
            .filter(|o| o.next_check_at <= now && o.state != "abandoned")
            .collect())
    }

    /// Applies `update` to an order, with its event row and emails, in ONE transaction. False
    /// (and nothing written) when `expect_state` no longer holds.
    pub fn update_grab_order(
        &mut self,
        out_order_no: &str,
        now: DateTime<FixedOffset>,
        update: &GrabUpdate,
        emails: &[NewEmail],
    ) -> Result<bool, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (watch, state): (String, String) = tx
            .prepare_cached("SELECT watch, state FROM grab_order WHERE out_order_no = ?1")?
            .query_row([out_order_no], |r| Ok((r.get(0)?, r.get(1)?)))?;
        if update
            .expect_state
            .as_ref()
            .is_some_and(|expected| *expected != state)
        {
            return Ok(false);
        }
        let new_state = update.state.clone().unwrap_or(state);
        tx.prepare_cached(
            "UPDATE grab_order SET state = ?2, order_no = coalesce(?3, order_no), detail = coalesce(?4, detail),
                 last_error = CASE WHEN ?5 THEN ?6 ELSE last_error END,
                 next_check_at = coalesce(?7, next_check_at), updated_at = ?8
             WHERE out_order_no = ?1",
        )?
        .execute(rusqlite::params![
            out_order_no,
            new_state,
            update.order_no,
            update.detail,
            update.last_error.is_some(),
            update.last_error.clone().flatten(),
            update.next_check_at.map(ms),
            ms(now),
        ])?;
        if let Some(note) = &update.event {
            tx.prepare_cached(
                "INSERT INTO grab_event (at, out_order_no, state, note) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute((ms(now), out_order_no, &new_state, note))?;
        }
        for email in emails {
            insert_email(&tx, &watch, now, email)?;
        }
        tx.commit()?;
        Ok(true)
    }

    /// The event history of one order, oldest first: (at, state, note).
    pub fn grab_events(
        &self,
        out_order_no: &str,
    ) -> Result<Vec<(DateTime<FixedOffset>, String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT at, state, note FROM grab_event WHERE out_order_no = ?1 ORDER BY id")?;
        let rows = stmt
            .query_map([out_order_no], |r| Ok((time_at(r, 0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Records a Juhe push by its dedupe key; false when the same push was already recorded.
    pub fn record_push(
        &mut self,
        dedupe_key: &str,
        out_order_no: &str,
        kind: u8,
        msg_code: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "INSERT OR IGNORE INTO juhe_push (dedupe_key, received_at, out_order_no, kind, msg_code) VALUES (?1, ?2, ?3, ?4, ?5)",
            (dedupe_key, ms(now), out_order_no, kind, msg_code),
        )?;
        Ok(n == 1)
    }

    /// Replaces the poll status of `status.watch`.
    pub fn set_watch_status(&mut self, status: &WatchStatus) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO watch_status (watch, last_poll_at, outcome, last_error, next_run_at,
                     backoff_level, backoff_until, consecutive_failures, finished)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (watch) DO UPDATE SET
                     last_poll_at = excluded.last_poll_at, outcome = excluded.outcome,
                     last_error = excluded.last_error, next_run_at = excluded.next_run_at,
                     backoff_level = excluded.backoff_level,
                     backoff_until = excluded.backoff_until,
                     consecutive_failures = excluded.consecutive_failures,
                     finished = excluded.finished",
            )?
            .execute(rusqlite::params![
                status.watch,
                status.last_poll_at.map(ms),
                status.outcome.as_ref().map(PollOutcome::to_text),
                status.last_error,
                status.next_run_at.map(ms),
                status.backoff_level,
                status.backoff_until.map(ms),
                status.consecutive_failures,
                status.finished,
            ])?;
        Ok(())
    }

    /// Sets only when `key` runs next (a quiet 候补 entry that skips its ticks says when it will
    /// really look again).
    pub fn set_next_run(&mut self, key: &str, next: Option<DateTime<FixedOffset>>) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO watch_status (watch, next_run_at) VALUES (?1, ?2)
                 ON CONFLICT (watch) DO UPDATE SET next_run_at = excluded.next_run_at",
            )?
            .execute((key, next.map(ms)))?;
        Ok(())
    }

    /// The poll status of one watch (None before its first poll).
    pub fn watch_status(&self, watch: &str) -> Result<Option<WatchStatus>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("{WATCH_STATUS_SELECT} WHERE watch = ?1"),
                [watch],
                watch_status_row,
            )
            .optional()?)
    }

    /// Every watch's poll status, by name.
    pub fn all_watch_status(&self) -> Result<Vec<WatchStatus>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("{WATCH_STATUS_SELECT} ORDER BY watch"))?;
        let rows = stmt
            .query_map([], watch_status_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn set_fact(
        &mut self,
        fact: Fact,
        value: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO fact (key, value, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET
                     value = excluded.value, updated_at = excluded.updated_at",
            )?
            .execute((fact.key(), value, ms(now)))?;
        Ok(())
    }

    pub fn clear_fact(&mut self, fact: Fact) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM fact WHERE key = ?1", [fact.key()])?;
        Ok(())
    }

    /// The value and when it was set.
    pub fn get_fact(&self, fact: Fact) -> Result<Option<(String, DateTime<FixedOffset>)>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT value, updated_at FROM fact WHERE key = ?1",
                [fact.key()],
                |r| Ok((r.get(0)?, time_at(r, 1)?)),
            )
            .optional()?)
    }

    /// Copies the whole database (consistently, even while written) to `dest`, e.g. for backups.
    pub fn vacuum_into(&self, dest: &Path) -> Result<(), StoreError> {
        self.conn.execute("VACUUM INTO ?1", [dest.to_string_lossy()])?;
        Ok(())
    }
}

const WATCH_STATUS_SELECT: &str = "SELECT watch, last_poll_at, outcome, last_error, next_run_at,
     backoff_level, backoff_until, consecutive_failures, finished FROM watch_status";

fn watch_status_row(row: &Row<'_>) -> rusqlite::Result<WatchStatus> {
    Ok(WatchStatus {
        watch: row.get(0)?,
        last_poll_at: opt_time_at(row, 1)?,
        outcome: row
            .get::<_, Option<String>>(2)?
            .map(|s| PollOutcome::from_text(&s)),
        last_error: row.get(3)?,
        next_run_at: opt_time_at(row, 4)?,
        backoff_level: row.get(5)?,
        backoff_until: opt_time_at(row, 6)?,
        consecutive_failures: row.get(7)?,
        finished: row.get(8)?,
    })
}

fn grab_row(r: &Row<'_>) -> rusqlite::Result<GrabOrderRow> {
    Ok(GrabOrderRow {
        out_order_no: r.get(0)?,
        watch: r.get(1)?,
        date: date_at(r, 2)?,
        state: r.get(3)?,
        order_no: r.get(4)?,
        summary: r.get(5)?,
        detail: r.get(6)?,
        last_error: r.get(7)?,
        created_at: time_at(r, 8)?,
        updated_at: time_at(r, 9)?,
        next_check_at: time_at(r, 10)?,
    })
}

/// One (watch, date)'s decision: state changes and their history rows, alert flags and times,
/// and the poll time (alone, when nothing changed). The caller holds the transaction.
fn write_poll(
    conn: &Connection,
    watch: &str,
    date: NaiveDate,
    now: DateTime<FixedOffset>,
    decision: &Decision,
) -> Result<(), StoreError> {
    const POLLED: &str = "INSERT INTO watch_status (watch, last_poll_at) VALUES (?1, ?2)
         ON CONFLICT (watch) DO UPDATE SET last_poll_at = excluded.last_poll_at";
    let d = date_text(date);
    if !decision.is_empty() {
        let mut upsert = conn.prepare_cached(
            "INSERT INTO seat_state
                 (watch, date, train, seat, raw, count, price_jiao, available, alerted, since)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (watch, date, train, seat) DO UPDATE SET
                 raw = excluded.raw, count = excluded.count,
                 price_jiao = excluded.price_jiao, available = excluded.available,
                 alerted = excluded.alerted, since = excluded.since",
        )?;
        let mut history = conn.prepare_cached(
            "INSERT INTO seat_history
                 (at, watch, date, train, seat, raw, count, price_jiao, available)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for (changed, (key, st)) in decision
            .changes
            .iter()
            .map(|c| (true, c))
            .chain(decision.touched.iter().map(|t| (false, t)))
        {
            debug_assert_eq!(key.date, date, "a decision covers one date");
            upsert.execute(rusqlite::params![
                watch,
                d,
                key.train,
                key.seat.name(),
                st.raw,
                st.count,
                st.price_jiao,
                st.available,
                st.alerted,
                ms(st.since),
            ])?;
            if changed {
                history.execute(rusqlite::params![
                    ms(now),
                    watch,
                    d,
                    key.train,
                    key.seat.name(),
                    st.raw,
                    st.count,
                    st.price_jiao,
                    st.available,
                ])?;
            }
        }
        let mut alert = conn.prepare_cached(
            "INSERT INTO train_alert (watch, date, train, last_alert_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (watch, date, train) DO UPDATE SET
                 last_alert_at = excluded.last_alert_at",
        )?;
        for (train_date, train) in &decision.alerted_trains {
            alert.execute((watch, date_text(*train_date), train, ms(now)))?;
        }
    }
    conn.prepare_cached(POLLED)?.execute((watch, ms(now)))?;
    Ok(())
}

/// Keeps the no-match note of (watch, date) current, writing only when it changed.
fn write_note(
    conn: &Connection,
    watch: &str,
    date: NaiveDate,
    now: DateTime<FixedOffset>,
    note: Option<&str>,
) -> Result<(), StoreError> {
    let d = date_text(date);
    let old: Option<String> = conn
        .prepare_cached("SELECT note FROM match_note WHERE watch = ?1 AND date = ?2")?
        .query_row((watch, &d), |r| r.get(0))
        .optional()?;
    match (old.as_deref(), note) {
        (None, None) => {}
        (Some(_), None) => {
            conn.prepare_cached("DELETE FROM match_note WHERE watch = ?1 AND date = ?2")?
                .execute((watch, &d))?;
        }
        (Some(o), Some(n)) if o == n => {}
        (_, Some(n)) => {
            conn.prepare_cached(
                "INSERT INTO match_note (watch, date, at, note) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (watch, date) DO UPDATE SET at = excluded.at, note = excluded.note",
            )?
            .execute((watch, &d, ms(now), n))?;
        }
    }
    Ok(())
}

fn insert_email(
    conn: &Connection,
    watch: &str,
    now: DateTime<FixedOffset>,
    email: &NewEmail,
) -> rusqlite::Result<usize> {
    let recipients = serde_json::to_string(&email.recipients).expect("a list of strings serializes");
    conn.prepare_cached(
        "INSERT INTO outbox (created_at, watch, kind, recipients, subject, body_text, body_html,
             state, attempts, next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', 0, ?1)",
    )?
    .execute((
        ms(now),
        watch,
        &email.kind,
        recipients,
        &email.subject,
        &email.text,
        &email.html,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::decide;
    use crate::filter::{SeatMatch, TrainMatch};
    use chrono::TimeZone;

    const GAP: Duration = Duration::from_secs(600);

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 2, 1).unwrap()
    }

    /// Minutes after 2026-01-20 08:00 Beijing time.
    fn at(min: i64) -> DateTime<FixedOffset> {
        beijing().with_ymd_and_hms(2026, 1, 20, 8, 0, 0).unwrap() + TimeDelta::minutes(min)
    }

    fn db() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("yupiao.db");
        (dir, path)
    }

    fn seat(class: SeatClass, raw: &str) -> SeatMatch {
        let count = raw.parse().ok().or((raw == "无").then_some(0));
        SeatMatch {
            seat: class,
            raw: raw.into(),
            count,
            price_jiao: Some(5530),
            available: raw == "有" || count.unwrap_or(0) > 0,
        }
    }

    fn train(code: &str, seats: Vec<SeatMatch>) -> TrainMatch {
        TrainMatch {
            date: date(),
            station_train_code: code.into(),
            from_station: "VNP".into(),
            to_station: "AOH".into(),
            from_name: "北京南".into(),
            to_name: "上海虹桥".into(),
            start_time: "14:44".into(),
            arrive_time: "19:53".into(),
            lishi: "05:09".into(),
            bookable: true,
            seats,
            sale_time: None,
        }
    }

    fn email() -> NewEmail {
        NewEmail {
            kind: "alert".into(),
            recipients: vec!["me@example.com".into()],
            subject: "余票: G1 二等座".into(),
            text: "G1 二等座 有".into(),
            html: "<p>G1 二等座 有</p>".into(),
        }
    }

    /// One poll as the daemon does it: previous → decide → record, with an email when due.
    fn poll(store: &mut Store, min: i64, obs: &[TrainMatch]) -> Decision {
        let prev = store.previous("w", date()).unwrap();
        let d = decide(&prev, date(), obs, at(min), GAP);
        let mail = (!d.alert.is_empty()).then(email);
        store.record_poll("w", date(), at(min), &d, mail).unwrap();
        d
    }

    fn count(store: &Store, table: &str) -> i64 {
        store
            .conn
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn opening_twice_migrates_once_and_sets_user_version() {
        let (_dir, path) = db();
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        let objects = count(&store, "sqlite_schema");
        drop(store);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(count(&store, "sqlite_schema"), objects);
        let mode: String = store
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn a_database_from_a_newer_yupiao_is_refused_with_a_clear_message() {
        let (_dir, path) = db();
        drop(Store::open(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA user_version = 99")
            .unwrap();
        for result in [Store::open(&path), Store::open_read_only(&path)] {
            let e = result.err().unwrap();
            assert!(matches!(e, StoreError::NewerSchema { found: 99, .. }), "{e:?}");
            assert!(e.to_string().contains("newer yupiao"), "{e}");
        }
    }

    #[test]
    fn garbage_and_foreign_databases_are_refused_not_migrated() {
        let (dir, path) = db();
        std::fs::write(&path, "this is not sqlite, it is a shopping list\n".repeat(200)).unwrap();
        let e = Store::open(&path).err().unwrap();
        assert!(matches!(e, StoreError::NotADatabase { .. }), "{e:?}");
        assert!(e.to_string().contains("move it aside"), "{e}");

        let other = dir.path().join("other.db");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        let e = Store::open(&other).err().unwrap();
        assert!(matches!(e, StoreError::NotADatabase { .. }), "{e:?}");
    }

    #[test]
    fn read_only_open_of_a_missing_file_says_what_creates_it() {
        let (_dir, path) = db();
        let e = Store::open_read_only(&path).err().unwrap();
        assert!(matches!(e, StoreError::Missing { .. }), "{e:?}");
        assert!(e.to_string().contains("yupiao run"), "{e}");
        assert!(!path.exists(), "a reader must not create the file");
    }

    #[test]
    fn unchanged_polls_add_no_history_rows() {
        let (_dir, path) = db();
        let mut store = Store::open(&path).unwrap();
        let obs = vec![train(
            "G1",
            vec![seat(SeatClass::Second, "有"), seat(SeatClass::First, "无")],
        )];
        poll(&mut store, 0, &obs);
        assert_eq!(store.history_rows().unwrap(), 2);
        for i in 1..=100 {
            assert!(poll(&mut store, i, &obs).is_empty());
        }
        assert_eq!(store.history_rows().unwrap(), 2);
        assert_eq!(count(&store, "outbox"), 1, "one alert for the first poll only");
        let status = store.watch_status("w").unwrap().unwrap();
        assert_eq!(status.last_poll_at, Some(at(100)));
    }

    #[test]
    fn stored_state_reads_back_as_the_decision_left_it() {
        let (_dir, path) = db();
        let mut store = Store::open(&path).unwrap();
        let mut memory = Previous::default();
        let steps = [
            vec![train("G1", vec![seat(SeatClass::Second, "有")])],
            vec![train("G1", vec![seat(SeatClass::Second, "无")])],
            vec![train("G1", vec![seat(SeatClass::Second, "3")])], // deferred
            vec![],                                                // gone
            vec![train("G1", vec![seat(SeatClass::Second, "5")])],
        ];
        for (i, obs) in steps.iter().enumerate() {
            let now = at(i as i64 * 4);
            let d = poll(&mut store, i as i64 * 4, obs);
            memory.apply(&d, now);
            assert_eq!(store.previous("w", date()).unwrap(), memory, "step {i}");
        }
        assert_eq!(store.history_rows().unwrap(), 5);
        assert_eq!(store.last_change("w").unwrap(), Some(at(16)));
        let changes = store.recent_changes("w", 2).unwrap();
        assert_eq!(changes[0].raw, "5");
        assert_eq!(changes[1].raw, "");
    }

    #[test]
    fn record_poll_is_atomic() {
        let (_dir, path) = db();
        let mut store = Store::open(&path).unwrap();
        let obs = vec![train("G1", vec![seat(SeatClass::Second, "有")])];
        let d = decide(&Previous::default(), date(), &obs, at(0), GAP);
        let bad = NewEmail {
            recipients: vec![], // violates the outbox CHECK, after the state rows were written
            ..email()
        };
        let e = store.record_poll("w", date(), at(0), &d, Some(bad)).unwrap_err();
        assert!(matches!(e, StoreError::Sqlite(_)), "{e:?}");
        for table in [
            "seat_state",
            "seat_history",
            "train_alert",
            "outbox",
            "watch_status",
        ] {
            assert_eq!(count(&store, table), 0, "{table}");
        }
        // The alert is decided again on the next poll, not lost.
        assert_eq!(poll(&mut store, 1, &obs).alert.len(), 1);
        assert_eq!(count(&store, "outbox"), 1);
    }

    #[test]
    fn an_alert_without_its_email_is_refused() {
        let (_dir, path) = db();
        let mut store = Store::open(&path).unwrap();
        let obs = vec![train("G1", vec![seat(SeatClass::Second, "有")])];
        let d = decide(&Previous::default(), date(), &obs, at(0), GAP);
        let e = store.record_poll("w", date(), at(0), &d, None).unwrap_err();
        assert!(matches!(e, StoreError::AlertWithoutEmail));
        assert_eq!(count(&store, "seat_state"), 0);
    }

    #[test]
    fn a_restart_neither_repeats_a_sent_alert_nor_loses_a_deferred_one() {
        let (_dir, path) = db();
        let has = |raw| vec![train("G1", vec![seat(SeatClass::Second, raw)])];
        let mut store = Store::open(&path).unwrap();
        assert_eq!(poll(&mut store, 0, &has("有")).alert.len(), 1);
        drop(store);
        let mut store = Store::open(&path).unwrap();
        assert!(poll(&mut store, 1, &has("有")).alert.is_empty());
        poll(&mut store, 2, &has("无"));
        assert!(poll(&mut store, 3, &has("2")).alert.is_empty(), "inside the gap");
        drop(store);
        let mut store = Store::open(&path).unwrap();
        assert_eq!(
            poll(&mut store, 11, &has("2")).alert.len(),
            1,
            "deferred alert fires"
        );
        assert_eq!(count(&store, "outbox"), 2);
    }

    #[test]
    fn a_second_daemon_is_refused_while_readers_still_work() {
        let (_dir, path) = db();
        let lock = Store::lock_for_daemon(&path).unwrap();
        let mut writer = Store::open(&path).unwrap();
        poll(
            &mut writer,
            0,
            &[train("G1", vec![seat(SeatClass::Second, "有")])],
        );

        let e = Store::lock_for_daemon(&path).unwrap_err();
        match &e {
            StoreError::Locked { pid, .. } => assert_eq!(*pid, Some(std::process::id())),
            other => panic!("{other:?}"),
        }
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!(
                "another yupiao run (pid {}) is using ",
                std::process::id()
            )),
            "{msg}"
        );
        assert!(msg.contains("systemctl stop yupiao"), "{msg}");

        let mut reader = Store::open_read_only(&path).unwrap();
        assert_eq!(reader.current_seats("w").unwrap().len(), 1);
        assert!(reader.set_watch_status(&WatchStatus::new("x")).is_err());
        drop(reader);

        drop(writer); // last connection: WAL checkpointed, -wal/-shm removed
        let reader = Store::open_read_only(&path).unwrap();
        assert_eq!(reader.history_rows().unwrap(), 1);
        drop(lock);
        Store::lock_for_daemon(&path).expect("released on drop");
    }

    #[test]
    fn outbox_rows_go_from_pending_through_retry_to_sent_or_failed() {
        let (_dir, path) = db();
        let mut store = Store::open(&path).unwrap();
        let a = store.enqueue_email("w", at(0), &email()).unwrap();
        let b = store.enqueue_email("w", at(1), &email()).unwrap();
        let due: Vec<i64> = store
            .due_emails(at(1), 10)
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(due, [a, b]);
        assert_eq!(store.due_emails(at(0), 10).unwrap().len(), 1);

        store.mark_retry(a, "421 try later", at(6)).unwrap();
        let due: Vec<i64> = store
            .due_emails(at(2), 10)
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(due, [b]);
        let row = store.email(a).unwrap().unwrap();
        assert_eq!(
            (row.attempts, row.last_error.as_deref(), row.next_attempt_at),
            (1, Some("421 try later"), at(6))
        );
        assert_eq!(row.recipients, ["me@example.com"]);

        store.mark_sent(a, at(6), "250 queued as ABC").unwrap();
        store.mark_failed(b, "550 no such user").unwrap();
        assert!(store.due_emails(at(60), 10).unwrap().is_empty());
        let row = store.email(a).unwrap().unwrap();
        assert_eq!(row.state, OutboxState::Sent);
        assert_eq!((row.attempts, row.sent_at), (2, Some(at(6))));
        assert_eq!(row.server_answer.as_deref(), Some("250 queued as ABC"));
        assert!(matches!(
            store.mark_sent(b, at(7), "x"),
            Err(StoreError::NoPendingEmail(id)) if id == b
        ));
        assert_eq!(
            store.outbox_counts("w").unwrap(),
            OutboxCounts {
                sent: 1,
                pending: 0,
                failed: 1
            }
        );
        assert_eq!(store.outbox_counts("other").unwrap(), OutboxCounts::default());
    }

    #[test]
    fn prune_removes_only_rows_older_than_the_retention() {
        let (_dir, path) = db();
        let mut store = Store::open(&path).unwrap();
        let has = |raw| vec![train("G1", vec![seat(SeatClass::Second, raw)])];
        poll(&mut store, 0, &has("有")); // history + pending email at 0
        poll(&mut store, 60, &has("无")); // history at 60
        let old_sent = store.enqueue_email("w", at(1), &email()).unwrap();
        store.mark_sent(old_sent, at(1), "250").unwrap();
        let new_sent = store.enqueue_email("w", at(61), &email()).unwrap();
        store.mark_sent(new_sent, at(61), "250").unwrap();

        let pruned = store.prune(at(90), Duration::from_secs(45 * 60)).unwrap();
        assert_eq!((pruned.history, pruned.outbox, pruned.state), (1, 1, 0));
        assert_eq!(store.history_rows().unwrap(), 1);
        assert_eq!(store.recent_changes("w", 10).unwrap()[0].raw, "无");
        assert_eq!(count(&store, "outbox"), 2, "pending emails are never pruned");
        assert!(store.email(new_sent).unwrap().is_some());
        assert_eq!(store.current_seats("w").unwrap().len(), 1);

        // Long after the travel date, its state goes too.
        let later = at(0) + TimeDelta::days(30);
        let pruned = store.prune(later, Duration::from_secs(7 * 86_400)).unwrap();
        assert_eq!(pruned.state, 2, "seat state and train alert time");
        assert!(store.current_seats("w").unwrap().is_empty());
    }

    #[test]
    fn forgetting_a_watch_drops_its_state_but_keeps_history() {
        let (_dir, path) = db();
        let mut store = Store::open(&path).unwrap();
        let obs = vec![train("G1", vec![seat(SeatClass::Second, "有")])];
        poll(&mut store, 0, &obs);
        store.forget_watch("w").unwrap();
        assert!(store.current_seats("w").unwrap().is_empty());
        assert!(store.watch_status("w").unwrap().is_none());
        assert_eq!(store.history_rows().unwrap(), 1);
        assert_eq!(
            poll(&mut store, 1, &obs).alert.len(),
            1,
            "starts like a new watch"
        );
    }

    #[test]
    fn watch_status_and_facts_round_trip() {
        let (_dir, path) = db();
        let mut store = Store::open(&path).unwrap();
        let status = WatchStatus {
            outcome: Some(PollOutcome::Throttled("网络繁忙".into())),
            last_poll_at: Some(at(0)),
            last_error: Some("网络繁忙".into()),
            next_run_at: Some(at(2)),
            backoff_level: 2,
            backoff_until: Some(at(2)),
            consecutive_failures: 3,
            ..WatchStatus::new("w")
        };
        store.set_watch_status(&status).unwrap();
        store
            .set_watch_status(&WatchStatus {
                outcome: Some(PollOutcome::Night),
                finished: true,
                ..WatchStatus::new("a")
            })
            .unwrap();
        assert_eq!(store.watch_status("w").unwrap(), Some(status));
        let all: Vec<String> = store
            .all_watch_status()
            .unwrap()
            .into_iter()
            .map(|s| s.watch)
            .collect();
        assert_eq!(all, ["a", "w"]);
        for o in [
            PollOutcome::Ok,
            PollOutcome::Night,
            PollOutcome::Error("timeout".into()),
            PollOutcome::Throttled("302".into()),
        ] {
            assert_eq!(PollOutcome::from_text(&o.to_text()), o);
        }

        assert_eq!(store.get_fact(Fact::WatchlistError).unwrap(), None);
        store
            .set_fact(Fact::WatchlistError, "watchlist.toml:3:7: unknown station", at(0))
            .unwrap();
        store.set_fact(Fact::DaemonPid, "42", at(1)).unwrap();
        assert_eq!(
            store.get_fact(Fact::WatchlistError).unwrap(),
            Some(("watchlist.toml:3:7: unknown station".into(), at(0)))
        );
        store.clear_fact(Fact::WatchlistError).unwrap();
        assert_eq!(store.get_fact(Fact::WatchlistError).unwrap(), None);
        assert_eq!(store.get_fact(Fact::DaemonPid).unwrap().unwrap().0, "42");
    }

    #[test]
    fn bytes_per_history_change() {
        const POLLS: i64 = 1000;
        const TRAINS: usize = 10; // each poll changes one seat of each train
        let (dir, path) = db();
        let mut store = Store::open(&path).unwrap();
        let size = |store: &Store, name: &str| {
            let copy = dir.path().join(name);
            store.vacuum_into(&copy).unwrap();
            std::fs::metadata(&copy).unwrap().len()
        };
        let obs = |i: i64| -> Vec<TrainMatch> {
            (0..TRAINS)
                .map(|t| {
                    let n = ((i + t as i64) % 25).to_string();
                    train(
                        &format!("G{}", 100 + t * 37),
                        vec![seat(SeatClass::Second, &n), seat(SeatClass::First, "无")],
                    )
                })
                .collect()
        };
        let watch = "beijing-shanghai";
        let decide_and_record = |store: &mut Store, i: i64| {
            let prev = store.previous(watch, date()).unwrap();
            let d = decide(&prev, date(), &obs(i), at(i), GAP);
            let mail = (!d.alert.is_empty()).then(email);
            store.record_poll(watch, date(), at(i), &d, mail).unwrap();
        };
        decide_and_record(&mut store, 0);
        let rows_before = store.history_rows().unwrap();
        let outbox_before = count(&store, "outbox");
        store.conn.execute("DELETE FROM outbox", []).unwrap();
        let before = size(&store, "before.db");
        for i in 1..=POLLS {
            decide_and_record(&mut store, i);
        }
        store.conn.execute("DELETE FROM outbox", []).unwrap();
        let changes = store.history_rows().unwrap() - rows_before;
        let after = size(&store, "after.db");
        assert_eq!(changes, POLLS as u64 * TRAINS as u64);
        let per_change = (after - before) as f64 / changes as f64;
        eprintln!(
            "history: {changes} changes grew the vacuumed file {before} -> {after} bytes: \
             {per_change:.1} bytes per change (watch name {} bytes; outbox excluded, \
             {outbox_before} alert rows)",
            watch.len()
        );
        assert!(per_change < 120.0, "{per_change}");
    }

    #[test]
    fn a_waitlist_poll_writes_state_history_and_emails_together() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("w.db")).unwrap();
        assert_eq!(store.waitlist_state("候补").unwrap(), None);
        let email = NewEmail {
            kind: "waitlist".into(),
            recipients: vec!["me@example.com".into()],
            subject: "【候补】待支付".into(),
            text: "t".into(),
            html: "h".into(),
        };
        store
            .record_waitlist(
                "候补",
                "候补:候补",
                at(0),
                r#"{"status":"01"}"#,
                Some(r#"{"status":"01"}"#),
                std::slice::from_ref(&email),
            )
            .unwrap();
        store
            .record_waitlist("候补", "候补:候补", at(1), r#"{"status":"01"}"#, None, &[])
            .unwrap();
        assert_eq!(
            store.waitlist_state("候补").unwrap().as_deref(),
            Some(r#"{"status":"01"}"#)
        );
        assert_eq!(
            store.waitlist_history_rows().unwrap(),
            1,
            "an unchanged poll adds no history"
        );
        assert_eq!(store.outbox_counts("候补:候补").unwrap().pending, 1);

        let bad = NewEmail {
            recipients: vec![],
            ..email
        };
        let err = store.record_waitlist(
            "候补",
            "候补:候补",
            at(2),
            r#"{"status":"07"}"#,
            Some("{}"),
            &[bad],
        );
        assert!(
            err.is_err(),
            "an email without recipients breaks the outbox CHECK"
        );
        assert_eq!(
            store.waitlist_state("候补").unwrap().as_deref(),
            Some(r#"{"status":"01"}"#),
            "nothing of the failed poll was written"
        );
        assert_eq!(store.waitlist_history_rows().unwrap(), 1);
        assert_eq!(
            store
                .prune(at(60 * 24 * 100), Duration::from_secs(86_400))
                .unwrap()
                .history,
            1
        );
    }

    #[test]
    fn a_grab_intent_is_stored_once_and_followed_with_its_events() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("g.db")).unwrap();
        store
            .insert_grab_intent("YP20261122A", "回家", date(), "{}", at(0))
            .unwrap();
        assert!(
            store
                .insert_grab_intent("YP20261122A", "回家", date(), "{}", at(1))
                .is_err(),
            "an outOrderNo names one intent, never two"
        );
        assert_eq!(store.live_grab_orders("回家", date()).unwrap().len(), 1);
        assert_eq!(
            store.due_grab_orders(at(0)).unwrap().len(),
            1,
            "an intent is checked at once"
        );
        let email = NewEmail {
            kind: "order".into(),
            recipients: vec!["me@example.com".into()],
            subject: "【抢票】出票成功".into(),
            text: "t".into(),
            html: "h".into(),
        };
        let update = GrabUpdate {
            state: Some("F".into()),
            order_no: Some("J1".into()),
            detail: Some("{}".into()),
            last_error: Some(None),
            next_check_at: Some(at(600)),
            event: Some("F 出票成功".into()),
            expect_state: Some("intent".into()),
        };
        store
            .update_grab_order("YP20261122A", at(5), &update, std::slice::from_ref(&email))
            .unwrap();
        let row = store.grab_order("YP20261122A").unwrap().unwrap();
        assert_eq!((row.state.as_str(), row.order_no.as_deref()), ("F", Some("J1")));
        assert!(
            store.live_grab_orders("回家", date()).unwrap().is_empty(),
            "F is settled"
        );
        assert_eq!(store.grab_events("YP20261122A").unwrap().len(), 2);
        assert_eq!(store.outbox_counts("回家").unwrap().pending, 1);
        assert!(
            store
                .record_push("YP20261122A:1:100", "YP20261122A", 1, "100", at(6))
                .unwrap()
        );
        assert!(
            !store
                .record_push("YP20261122A:1:100", "YP20261122A", 1, "100", at(7))
                .unwrap(),
            "a duplicate push is recognised"
        );
    }

    #[test]
    fn delivered_email_bodies_are_dropped_after_a_week_but_the_record_stays() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("o.db")).unwrap();
        let email = NewEmail {
            kind: "alert".into(),
            recipients: vec!["me@example.com".into()],
            subject: "【余票】G8294".into(),
            text: "body".into(),
            html: "<p>body</p>".into(),
        };
        let sent = store.enqueue_email("w", at(0), &email).unwrap();
        let pending = store.enqueue_email("w", at(0), &email).unwrap();
        store.mark_sent(sent, at(1), "250 OK").unwrap();
        store
            .prune(at(60 * 24 * 8), Duration::from_secs(90 * 86_400))
            .unwrap();
        let row = store.email(sent).unwrap().unwrap();
        assert_eq!(
            (row.subject.as_str(), row.text.as_str(), row.html.as_str()),
            ("【余票】G8294", "", "")
        );
        let waiting = store.email(pending).unwrap().unwrap();
        assert_eq!(waiting.text, "body", "an email not yet delivered keeps its body");
        assert_eq!(store.outbox_counts("w").unwrap().sent, 1);
    }

    #[test]
    fn a_cycle_records_every_watch_and_files_one_email_under_all_it_serves() {
        let (_dir, path) = db();
        let mut store = Store::open(&path).unwrap();
        let has = vec![train("G1", vec![seat(SeatClass::Second, "有")])];
        let none = Previous::default();
        let (a, b) = (
            decide(&none, date(), &has, at(0), GAP),
            decide(&none, date(), &has, at(0), GAP),
        );
        let polls = [
            CyclePoll {
                watch: "提醒",
                date: date(),
                at: at(0),
                decision: &a,
                no_match: None,
            },
            CyclePoll {
                watch: "抢票",
                date: date(),
                at: at(0),
                decision: &b,
                no_match: None,
            },
        ];
        // An alert no email serves is refused, and nothing is written.
        let only_first = [CycleEmail {
            email: email(),
            serves: vec!["提醒".into()],
        }];
        assert!(matches!(
            store.record_cycle(&polls, &only_first),
            Err(StoreError::AlertWithoutEmail)
        ));
        assert_eq!(count(&store, "seat_history"), 0);
        let both = [CycleEmail {
            email: email(),
            serves: vec!["提醒".into(), "抢票".into()],
        }];
        store.record_cycle(&polls, &both).unwrap();
        assert_eq!(count(&store, "outbox"), 1);
        for w in ["提醒", "抢票"] {
            assert_eq!(store.outbox_counts(w).unwrap().pending, 1, "{w}");
            assert!(
                store
                    .previous(w, date())
                    .unwrap()
                    .last_alert
                    .contains_key(&(date(), "G1".into()))
            );
        }
        assert_eq!(store.email(1).unwrap().unwrap().watch, "提醒");
        // Why it has not gone out yet shows for every watch it serves.
        store.mark_retry(1, "smtp down", at(1)).unwrap();
        for w in ["提醒", "抢票"] {
            assert_eq!(
                store.pending_email_error(w).unwrap().as_deref(),
                Some("smtp down"),
                "{w}"
            );
        }
        assert_eq!(store.pending_email_error("别的").unwrap(), None);
    }

    #[test]
    fn a_no_match_note_is_written_when_it_changes_and_dropped_when_trains_match() {
        let (_dir, path) = db();
        let mut store = Store::open(&path).unwrap();
        let quiet = Decision::default();
        let note = |n: &str, min| {
            [CyclePoll {
                watch: "w",
                date: date(),
                at: at(min),
                decision: &quiet,
                no_match: (!n.is_empty()).then(|| n.to_string()),
            }]
        };
        store.record_cycle(&note("a", 0), &[]).unwrap();
        store.record_cycle(&note("a", 1), &[]).unwrap();
        assert_eq!(
            store.match_notes("w").unwrap(),
            vec![(date(), at(0), "a".to_string())],
            "unchanged: not rewritten"
        );
        store.record_cycle(&note("b", 2), &[]).unwrap();
        assert_eq!(store.match_notes("w").unwrap()[0].1, at(2));
        store.record_cycle(&note("", 3), &[]).unwrap();
        assert!(store.match_notes("w").unwrap().is_empty());
        assert_eq!(
            store.watch_status("w").unwrap().unwrap().last_poll_at,
            Some(at(3))
        );
    }
}
