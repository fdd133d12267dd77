//! The database: seat state and its history of changes, alert bookkeeping, the email outbox,
//! poll status, 候补 state, 抢票 orders and a few daemon-wide facts.
//!
//! The shape, and why:
//! - **Named operations on domain types.** Callers (the daemon, `status`, `orders`) never see a
//!   SQL type or hold a closure over the connection: every method takes and returns domain types
//!   (`Previous`, `GrabOrder`, `WaitlistSnapshot`, `NewEmail`, …) and is one transaction (or one
//!   statement). A stored value that does not decode is [`StoreError::BadRow`], never a silent
//!   `None`.
//! - **[`Store`], split by table.** One SQLite connection; its `impl` blocks live beside the
//!   tables they touch, each file with its own tests: [`seats`] (state, history, alert times,
//!   no-match notes), [`outbox`] (emails and whom they serve), [`push_outbox`] (one push per event and channel), [`status`] (poll status and
//!   facts), [`waitlist`] (候补 state and history), [`grab`] (抢票 orders, events, requests,
//!   pushes); [`cycle`] writes a whole poll cycle across them in one transaction, [`prune`]
//!   keeps them small.
//! - **[`Db`], the daemon's handle.** One thread owns the writer connection (the one writer);
//!   async code sends it named operations ([`handle`]) and awaits the answer. It also notices when
//!   writes fail for good (a full disk) and says so in [`health`]'s file beside the database.
//!   For several nodes on PostgreSQL (issue 13) the handle becomes an enum over backends — this
//!   thread, or a pool ([`crate::pg`]) — with the same methods, so the daemon does not change.
//! - **Read-only opens** for `status` and `orders` ([`Store::open_read_only`]) work beside the
//!   running daemon and for users who may read but not write its directory.
//! - One file, WAL, 5 s busy timeout; [`lock`] keeps a second daemon off the same file, by inode,
//!   not by path. Schema changes are an append-only list ([`schema`]); a file from a newer yupiao
//!   is refused rather than misread.
//! - History is written on *change* only, and an unchanged poll cycle is one commit for all its
//!   watches: the file grows with what happened, not with how often we looked. A cycle's state
//!   changes, alert times and emails are written together: after a crash an alert is either fully
//!   recorded and queued, or not at all (and the next poll decides it again).
//! - The `*_readable` views show times as text for people using `sqlite3`.

pub mod cycle;
mod delivery;
mod error;
pub mod grab;
pub mod handle;
pub mod health;
pub mod lock;
pub mod outbox;
pub mod page;
pub mod prune;
pub mod push_outbox;
pub mod sale;
mod schema;
pub mod seats;
mod sql;
mod sqlite;
pub mod status;
pub mod waitlist;

pub use cycle::{CycleEmail, CyclePoll, CycleRecord, CycleWritten};
pub use error::BUSY_TIMEOUT;
pub use error::{StoreError, out_of_space};
pub use grab::{GrabEvent, GrabIntent, GrabOrder, GrabOrderRow, GrabRequest, GrabUpdate, Push, RequestKind};
pub use handle::Db;
pub use outbox::{Delivery, EmailKind, NewEmail, OutboxCounts, OutboxRow, OutboxState};
pub use page::PageHistory;
pub use prune::Pruned;
pub use push_outbox::{ChannelCounts, PushRow, PushState};
pub use seats::{Change, MatchNote};
pub use sqlite::{DaemonLock, Store};
pub use status::{Fact, JobKey, PollOutcome, PollStatus, WatchStatus};
pub use waitlist::WaitlistRecord;

#[cfg(test)]
mod fixtures;
