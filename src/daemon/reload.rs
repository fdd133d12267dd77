//! Reloading the watch list while running: the file itself is polled twice a second (and SIGHUP
//! asks too); a valid edit applies at once and is recorded as the running list (for `status`), an
//! invalid one is logged and shown in `status` while the last good list keeps running.
//!
//! What an edit keeps: a watch whose search is unchanged keeps its stored state (a new `every` or
//! new recipients re-alert nothing); a watch now looking for something else starts afresh; a
//! removed one is parked ([`super::parked`]) in case it comes back.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};

use super::context::{Ctx, lock};
use super::parked::{self, Left};
use crate::clock;
use crate::stations::StationTable;
use crate::store::JobKey;
use crate::watchlist::{self, Diagnostic, Schedule, WaitlistWatch, Watch, WatchList};

/// How often the watch-list file is looked at. It is *polled* (a stat and a hash of the small
/// file), not watched with inotify: a watch on its directory delivers every event of every file
/// there, and a log file written into that directory at trace level fed itself through the
/// watcher's own per-event trace lines (700 MB in 30 s).
const WATCHLIST_POLL: Duration = Duration::from_millis(500);
/// Editors write in several steps: a change is read once the burst settles.
const SETTLE: Duration = Duration::from_millis(300);

/// Loads the watch list, printing nothing: the caller decides how to report diagnostics. Also
/// returns the text it was read from, for the record of what runs.
/// `notify` lists may name `channels` (the settings' `[[channel]]`s).
pub(super) fn load_list(
    path: &Path,
    channels: &[String],
) -> Result<(WatchList, Vec<Diagnostic>, String), Vec<Diagnostic>> {
    let text = watchlist::read(path).map_err(|d| vec![d])?;
    let (list, warnings) = watchlist::parse_with_channels(
        &text,
        &path.display().to_string(),
        clock::today(),
        StationTable::embedded(),
        channels,
    )?;
    Ok((list, warnings, text))
}

pub(super) fn diagnostics_text(diags: &[Diagnostic]) -> String {
    diags
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Records in the database which list runs from now on (for `status`); an applied edit also
/// clears the record of a rejected one.
pub(super) async fn record_running_list(ctx: &Ctx, text: &str, list: &WatchList, now: DateTime<FixedOffset>) {
    let path = std::path::absolute(&ctx.watchlist_path).unwrap_or_else(|_| ctx.watchlist_path.clone());
    let record = crate::status::RunningList::of(&path, text, now, list);
    let json = serde_json::to_string(&record).expect("the running list serializes");
    match ctx.db.record_running_list(json, now).await {
        // Logged once by the store handle, and shown in `status`.
        Err(e) if e.is_storage_fault() => {
            tracing::debug!(error = %e, "cannot record the running watch list")
        }
        Err(e) => tracing::error!(error = %e, "cannot record the running watch list"),
        Ok(()) => {}
    }
}

/// SIGHUP as a stream, installed before READY so that an early `systemctl reload` cannot end
/// the process (SIGHUP's default action).
#[cfg(unix)]
pub(super) type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
pub(super) type Hangup = Option<()>;

pub(super) fn hangup_stream() -> Hangup {
    #[cfg(unix)]
    {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Forwards SIGHUP to the reloader (one of the daemon's tasks).
fn forward_hangups(ctx: &Ctx, hup: Hangup, tx: tokio::sync::mpsc::UnboundedSender<()>) {
    #[cfg(unix)]
    if let Some(mut hup) = hup {
        let stop = ctx.shutdown.clone();
        ctx.spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    r = hup.recv() => {
                        if r.is_none() { return; }
                        tracing::info!("SIGHUP: reloading the watch list");
                        let _ = tx.send(());
                    }
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = (ctx, hup, tx);
}

/// Watches the watch-list file (only that file); `None` when file watching is unavailable.
fn watch_the_file(path: &Path, tx: tokio::sync::mpsc::UnboundedSender<()>) -> Option<notify_fs::PollWatcher> {
    use notify_fs::Watcher as _;
    let config = notify_fs::Config::default()
        .with_poll_interval(WATCHLIST_POLL)
        .with_compare_contents(true);
    let watcher = notify_fs::PollWatcher::new(
        move |ev: notify_fs::Result<notify_fs::Event>| {
            if ev.is_ok_and(|ev| !matches!(ev.kind, notify_fs::EventKind::Access(_))) {
                let _ = tx.send(());
            }
        },
        config,
    );
    match watcher {
        Ok(mut w) => match w.watch(path, notify_fs::RecursiveMode::NonRecursive) {
            Ok(()) => Some(w),
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "cannot watch the watch list; reload with SIGHUP");
                None
            }
        },
        Err(e) => {
            tracing::warn!(error = %e, "file watching unavailable; reload with SIGHUP");
            None
        }
    }
}

/// Reloads the watch list when the file changes (only that file) and on SIGHUP.
pub(super) async fn watch_file(ctx: Arc<Ctx>, hup: Hangup) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let _watcher = watch_the_file(&ctx.watchlist_path, tx.clone());
    forward_hangups(&ctx, hup, tx);
    loop {
        tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            got = rx.recv() => if got.is_none() { return },
        }
        tokio::time::sleep(SETTLE).await;
        while rx.try_recv().is_ok() {}
        reload(&ctx).await;
    }
}

/// Watches compare equal for reload purposes when everything but their position matches.
pub(super) fn same_watch(a: &Watch, b: &Watch) -> bool {
    Watch { line: 0, ..a.clone() } == Watch { line: 0, ..b.clone() }
}

/// Two versions of a watch look for the same seats: everything but the schedule (and burst), the
/// recipients and the position. Only then does an edit keep the stored state (so changing `every` or
/// `notify` does not re-alert seats that are already known).
pub(super) fn same_search(a: &Watch, b: &Watch) -> bool {
    let neutral = |w: &Watch| Watch {
        line: 0,
        schedule: Schedule::Every(Duration::ZERO),
        burst: Duration::ZERO,
        notify: Vec::new(),
        ..w.clone()
    };
    neutral(a) == neutral(b)
}

/// Records why an edit was refused (the running list stays).
async fn reject(ctx: &Ctx, text: String, now: DateTime<FixedOffset>) {
    tracing::error!("watch list edit rejected; the previous list keeps running");
    let _ = ctx.db.record_rejected_edit(text, now).await;
}

/// Applies an edited watch list, or keeps the running one and records why the edit was refused.
async fn reload(ctx: &Arc<Ctx>) {
    let now = clock::now();
    let old = ctx.list();
    let (new, text) = match load_list(&ctx.watchlist_path, &ctx.settings.channel_names()) {
        Ok((list, _, _)) if emptied(&old, &list) => {
            // Truncated by an editor that has not written the new text yet, or saved half way:
            // taking it would stop every watch and start them afresh a moment later.
            let text = format!(
                "{}: no [[watch]] or [[waitlist]] left (the file is empty or half written?); to stop watching everything, stop yupiao instead (systemctl stop yupiao)",
                ctx.watchlist_path.display()
            );
            tracing::error!("{text}");
            return reject(ctx, text, now).await;
        }
        Ok((list, warnings, text)) => {
            for w in &warnings {
                tracing::warn!("{w}");
            }
            (list, text)
        }
        Err(diags) => {
            for d in &diags {
                tracing::error!("{d}");
            }
            return reject(ctx, diagnostics_text(&diags), now).await;
        }
    };
    let _not_during_a_cycle_write = ctx.cycle_lock.lock().await;
    let (mut started, mut stopped) = reload_entries(ctx, &old.watches, &new.watches, now).await;
    let (w_started, w_stopped) = reload_entries(ctx, &old.waitlists, &new.waitlists, now).await;
    started.extend(w_started);
    stopped.extend(w_stopped);
    ctx.set_list(new);
    record_running_list(ctx, &text, &ctx.list(), now).await;
    tracing::info!(
        started = %names_text(&started),
        stopped = %names_text(&stopped),
        "watch list reloaded"
    );
    ctx.jobs.mark_due(started);
}

/// Drops what a watch knew (it now looks for something else).
async fn forget(ctx: &Ctx, key: &JobKey) {
    let _ = match key {
        JobKey::Watch(name) => ctx.db.forget_watch(name.clone()).await,
        JobKey::Waitlist(name) => ctx.db.forget_waitlist(name.clone()).await,
    };
}

/// `key` left the list: its stored state is dropped after the grace period unless it comes back
/// first.
fn park(ctx: &Arc<Ctx>, key: &JobKey, left: Left) {
    let generation = lock(&ctx.parked).park(key, left);
    let key = key.clone();
    ctx.after(parked::grace(ctx.settings.daemon.alert_min_gap), move |ctx| {
        let Some(left) = lock(&ctx.parked).expire(&key, generation) else {
            return;
        };
        let task_ctx = ctx.clone();
        ctx.spawn(async move {
            forget(&task_ctx, &key).await;
            if let Left::Watch(w) = left {
                tracing::debug!(watch = %w.name, "a removed watch's state is dropped");
            }
        });
    });
}

/// A `[[watch]]` or `[[waitlist]]` as a reload compares them.
trait Entry {
    fn key(&self) -> JobKey;
    fn schedule(&self) -> &Schedule;
    /// Unchanged but for its position in the file: nothing to do.
    fn same(&self, other: &Self) -> bool;
    /// Looks for the same thing: its stored state carries on (a new schedule or new recipients
    /// repeat nothing already said).
    fn same_search(&self, other: &Self) -> bool;
    /// What is remembered of it when it leaves the list.
    fn left(&self) -> Left;
    /// Whether what left under its key looked for the same thing.
    fn same_as_left(&self, left: &Left) -> bool;
}

impl Entry for Watch {
    fn key(&self) -> JobKey {
        JobKey::watch(&self.name)
    }
    fn schedule(&self) -> &Schedule {
        &self.schedule
    }
    fn same(&self, other: &Self) -> bool {
        same_watch(self, other)
    }
    fn same_search(&self, other: &Self) -> bool {
        same_search(self, other)
    }
    fn left(&self) -> Left {
        Left::Watch(Box::new(self.clone()))
    }
    fn same_as_left(&self, left: &Left) -> bool {
        matches!(left, Left::Watch(before) if same_search(before, self))
    }
}

impl Entry for WaitlistWatch {
    fn key(&self) -> JobKey {
        JobKey::waitlist(&self.name)
    }
    fn schedule(&self) -> &Schedule {
        &self.schedule
    }
    fn same(&self, other: &Self) -> bool {
        WaitlistWatch {
            line: 0,
            ..self.clone()
        } == WaitlistWatch {
            line: 0,
            ..other.clone()
        }
    }
    /// One now following another order starts afresh.
    fn same_search(&self, other: &Self) -> bool {
        self.reserve_no == other.reserve_no
    }
    fn left(&self) -> Left {
        Left::Waitlist {
            reserve_no: self.reserve_no.clone(),
        }
    }
    fn same_as_left(&self, left: &Left) -> bool {
        matches!(left, Left::Waitlist { reserve_no } if *reserve_no == self.reserve_no)
    }
}

/// Applies the changes of one kind of entry; returns (started, stopped) keys. A removed entry is
/// parked; one now looking for something else starts afresh, and so does one that comes back
/// looking for something else.
async fn reload_entries<E: Entry>(
    ctx: &Arc<Ctx>,
    old: &[E],
    new: &[E],
    now: DateTime<FixedOffset>,
) -> (Vec<JobKey>, Vec<JobKey>) {
    let (mut started, mut stopped) = (Vec::new(), Vec::new());
    for o in old {
        let key = o.key();
        let kept = new.iter().find(|n| n.key() == key);
        if kept.is_some_and(|n| n.same(o)) {
            continue;
        }
        ctx.jobs.remove(&key);
        match kept {
            None => park(ctx, &key, o.left()),
            Some(n) if !n.same_search(o) => forget(ctx, &key).await,
            Some(_) => {}
        }
        lock(&ctx.last_polled).remove(&key);
        stopped.push(key);
    }
    for n in new {
        let key = n.key();
        if old.iter().any(|o| o.key() == key && o.same(n)) {
            continue;
        }
        let back = lock(&ctx.parked).unpark(&key);
        if back.is_some_and(|left| !n.same_as_left(&left)) {
            forget(ctx, &key).await;
        }
        if let Err(e) = ctx.jobs.add(&key, n.schedule(), now) {
            tracing::error!(key = %key, error = %e, "cannot schedule it");
            continue;
        }
        started.push(key);
    }
    (started, stopped)
}

/// An edit that leaves nothing to watch where something was watched: never taken as meant.
fn emptied(old: &WatchList, new: &WatchList) -> bool {
    let none = |l: &WatchList| l.watches.is_empty() && l.waitlists.is_empty();
    none(new) && !none(old)
}

/// `a, 候补:b` for logs (`—` when empty), instead of a Rust `Debug` list.
fn names_text(keys: &[JobKey]) -> String {
    if keys.is_empty() {
        "—".to_string()
    } else {
        keys.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn moving_a_watch_in_the_file_is_not_a_change() {
        let table = StationTable::embedded();
        let text = "[[watch]]\nname = \"a\"\nfrom = \"SHH\"\nto = \"CZH\"\ndates = [\"2026-12-01\"]\n";
        let (a, _) = watchlist::parse(
            text,
            "w.toml",
            NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
            table,
        )
        .unwrap();
        let moved = format!("\n\n{text}");
        let (b, _) = watchlist::parse(
            &moved,
            "w.toml",
            NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
            table,
        )
        .unwrap();
        assert_ne!(a.watches[0].line, b.watches[0].line);
        assert!(same_watch(&a.watches[0], &b.watches[0]));
        let rescheduled = text.replace("dates", "every = \"5m\"\ndates");
        let (r, _) = watchlist::parse(
            &rescheduled,
            "w.toml",
            NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
            table,
        )
        .unwrap();
        assert!(
            !same_watch(&a.watches[0], &r.watches[0]),
            "a new schedule restarts the job"
        );
        assert!(
            same_search(&a.watches[0], &r.watches[0]),
            "but keeps what is known about the seats"
        );
        let changed = text.replace("CZH", "AOH");
        let (c, _) = watchlist::parse(
            &changed,
            "w.toml",
            NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
            table,
        )
        .unwrap();
        assert!(!same_watch(&a.watches[0], &c.watches[0]));
        assert!(
            !same_search(&a.watches[0], &c.watches[0]),
            "another route starts afresh"
        );
    }
}
