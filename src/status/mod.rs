//! `yupiao status`: what the daemon is doing, read from the database (works while it runs).
//!
//! It shows the watch list the daemon **runs**, not the file on disk: the daemon records that
//! list ([`RunningList`]: path, content hash, when it was applied, and per watch what status
//! shows) at start and after every applied reload, and the last rejected edit beside it. So a
//! bad edit never makes the running watches look removed. Times that would be stale (a next run
//! in the past, a daemon that stopped) are replaced by why ([`NextRun`]).
//!
//! [`gather`] reads the store read-only into a [`StatusReport`] ([`report`]); [`render_text`] is
//! pure, so the wording is testable, and `--json` is the same struct serialized. A row that
//! cannot be read back is named in the report, not skipped.

mod gather;
mod render;
pub mod report;
pub mod running;

pub use gather::gather;
pub use render::{count, render_text};
pub use report::{
    ChannelReport, DateNote, EmailProblem, NextRun, RunningListSummary, StatusReport, WaitlistReport,
    WatchReport,
};
pub use running::{RunningList, RunningWaitlist, RunningWatch, content_hash};
