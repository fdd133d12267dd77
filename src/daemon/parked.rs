//! Watches (and `[[waitlist]]` entries) that left the watch list, remembered for a while.
//!
//! An editor that truncates the file and writes it a second later, or a save caught half
//! written, makes watches vanish from one reload and come back with the next. Forgetting their
//! state at once made them start afresh: a second alert email for seats already alerted, a "new
//! order" email for a 候补 order already known. So a removed entry's state stays in the database
//! for [`grace`]; one that comes back with the same search within it carries on where it was, and
//! after it the state is dropped as before. (Only the removal is remembered in memory: a restart
//! keeps the stored state of every name, as it always did.) The reload does the I/O; this is the
//! bookkeeping.

use std::collections::HashMap;
use std::time::Duration;

use crate::store::JobKey;
use crate::watchlist::Watch;

/// Floor of the grace period, whatever `alert_min_gap` says.
const MIN_GRACE: Duration = Duration::from_secs(3600);

/// What left the list: enough to tell whether what comes back looks for the same thing.
#[derive(Debug, Clone)]
pub(super) enum Left {
    Watch(Box<Watch>),
    /// A `[[waitlist]]`: the order it followed (`None` = any).
    Waitlist {
        reserve_no: Option<String>,
    },
}

/// Removed entries by key, with a generation so a late timer never drops a newer one.
#[derive(Debug, Default)]
pub(super) struct Parked {
    entries: HashMap<JobKey, (Left, u64)>,
    next: u64,
}

/// How long a removed entry's state is kept: `alert_min_gap`, and at least an hour.
pub(super) fn grace(alert_min_gap: Duration) -> Duration {
    alert_min_gap.max(MIN_GRACE)
}

impl Parked {
    /// Remembers that `key` left the list; returns the generation to expire it with.
    pub fn park(&mut self, key: &JobKey, left: Left) -> u64 {
        self.next += 1;
        self.entries.insert(key.clone(), (left, self.next));
        self.next
    }

    /// The grace of `key`'s removal `generation` is over: what left, if it has not come back
    /// (or left again) since.
    pub fn expire(&mut self, key: &JobKey, generation: u64) -> Option<Left> {
        match self.entries.get(key) {
            Some((_, g)) if *g == generation => self.entries.remove(key).map(|(l, _)| l),
            _ => None,
        }
    }

    /// `key` is in the list again: what left under that key, if it is still remembered.
    pub fn unpark(&mut self, key: &JobKey) -> Option<Left> {
        self.entries.remove(key).map(|(l, _)| l)
    }
}
