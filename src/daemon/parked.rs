//! Watches (and `[[waitlist]]` entries) that left the watch list, remembered for a while.
//!
//! An editor that truncates the file and writes it a second later, or a save caught half
//! written, makes watches vanish from one reload and come back with the next. Forgetting their
//! state at once made them start afresh: a second alert email for seats already alerted, a "new
//! order" email for a 候补 order already known. So a removed entry's state stays in the database
//! for [`grace`]; one that comes back with the same search within it carries on where it was, and
//! after it the state is dropped as before. (Only the removal is remembered in memory: a restart
//! keeps the stored state of every name, as it always did.)

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::Shared;
use crate::watchlist::Watch;

/// Floor of the grace period, whatever `alert_min_gap` says.
const MIN_GRACE: Duration = Duration::from_secs(3600);

/// What left the list: enough to tell whether what comes back looks for the same thing.
#[derive(Debug, Clone)]
pub(super) enum Left {
    Watch(Box<Watch>),
    /// A `[[waitlist]]`: its name and the order it followed (`None` = any).
    Waitlist {
        name: String,
        reserve_no: Option<String>,
    },
}

/// Removed entries by scheduler key, with a generation so a late timer never drops a newer one.
#[derive(Debug, Default)]
pub(super) struct Parked {
    entries: HashMap<String, (Left, u64)>,
    next: u64,
}

/// How long a removed entry's state is kept: `alert_min_gap`, and at least an hour.
pub(super) fn grace(shared: &Shared) -> Duration {
    shared.settings.daemon.alert_min_gap.max(MIN_GRACE)
}

fn parked(shared: &Shared) -> std::sync::MutexGuard<'_, Parked> {
    shared.parked.lock().unwrap_or_else(|p| p.into_inner())
}

/// Remembers that `key` left the list; its stored state is dropped after [`grace`] unless it
/// comes back first.
pub(super) fn park(shared: &Arc<Shared>, key: &str, left: Left) {
    let generation = {
        let mut p = parked(shared);
        p.next += 1;
        let g = p.next;
        p.entries.insert(key.to_string(), (left, g));
        g
    };
    let (weak, key, wait) = (Arc::downgrade(shared), key.to_string(), grace(shared));
    tokio::spawn(async move {
        tokio::time::sleep(wait).await;
        let Some(shared) = weak.upgrade() else {
            return;
        };
        let left = {
            let mut p = parked(&shared);
            match p.entries.get(&key) {
                Some((_, g)) if *g == generation => p.entries.remove(&key).map(|(l, _)| l),
                _ => None,
            }
        };
        match left {
            Some(Left::Watch(w)) => {
                let name = w.name.clone();
                let _ = shared.db.write(move |s| s.forget_watch(&name)).await;
                tracing::debug!(watch = %w.name, "a removed watch's state is dropped");
            }
            Some(Left::Waitlist { name, .. }) => {
                let _ = shared.db.write(move |s| s.forget_waitlist(&name)).await;
            }
            None => {}
        }
    });
}

/// `key` is in the list again: what left under that key, if it is still remembered.
pub(super) fn unpark(shared: &Shared, key: &str) -> Option<Left> {
    parked(shared).entries.remove(key).map(|(l, _)| l)
}
