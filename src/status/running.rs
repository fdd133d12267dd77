//! The record of the watch list a daemon runs, as it writes it into the database at start and
//! after every applied reload (`status` shows it, never the file on disk).

use std::path::Path;

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::watchlist::{Schedule, WatchList};

/// The watch list a daemon runs, as it records it in the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningList {
    /// The file it was read from.
    pub path: String,
    /// FNV-1a 64 of the file's content, to tell which version runs.
    pub hash: String,
    pub applied_at: DateTime<FixedOffset>,
    pub watches: Vec<RunningWatch>,
    pub waitlists: Vec<RunningWaitlist>,
}

/// What `status` shows of a running watch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningWatch {
    pub name: String,
    pub from: String,
    pub to: String,
    pub dates: Vec<NaiveDate>,
    /// `alert` or `grab`.
    pub action: String,
    /// `every 30s` / `cron 0 */2 * * * *`.
    pub schedule: String,
}

/// What `status` shows of a running `[[waitlist]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningWaitlist {
    pub name: String,
    pub reserve_no: Option<String>,
    pub schedule: String,
}

fn schedule_text(s: &Schedule) -> String {
    match s {
        Schedule::Every(d) => format!("every {}", humantime::format_duration(*d)),
        Schedule::Cron(c) => format!("cron {c}"),
    }
}

impl RunningList {
    /// The record of `list`, read from `path` whose content was `text`.
    pub fn of(path: &Path, text: &str, applied_at: DateTime<FixedOffset>, list: &WatchList) -> RunningList {
        RunningList {
            path: path.display().to_string(),
            hash: content_hash(text.as_bytes()),
            applied_at,
            watches: list
                .watches
                .iter()
                .map(|w| RunningWatch {
                    name: w.name.clone(),
                    from: w.from.name.clone(),
                    to: w.to.name.clone(),
                    dates: w.dates.clone(),
                    action: if w.grab.is_some() { "grab" } else { "alert" }.to_string(),
                    schedule: schedule_text(&w.schedule),
                })
                .collect(),
            waitlists: list
                .waitlists
                .iter()
                .map(|w| RunningWaitlist {
                    name: w.name.clone(),
                    reserve_no: w.reserve_no.clone(),
                    schedule: schedule_text(&w.schedule),
                })
                .collect(),
        }
    }
}

/// FNV-1a 64 of `bytes`, as 16 hex digits: stable across builds, enough to tell versions apart.
pub fn content_hash(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_content_hash_is_stable_and_tells_versions_apart() {
        assert_eq!(content_hash(b""), "cbf29ce484222325");
        assert_ne!(content_hash(b"a"), content_hash(b"b"));
    }
}
