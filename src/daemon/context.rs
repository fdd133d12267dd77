//! What the daemon's tasks share: the settings, the clients, the store handle, the running watch
//! list, the scheduler, and the little state that lives between polls (backoffs, 12306's clock,
//! which orders are being created…). Every task gets an `Arc<Ctx>`; the task modules are
//! siblings that read it, none of them owns it.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDate};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::backoff::Throttle;
use super::jobs::Jobs;
use super::parked::Parked;
use crate::clock;
use crate::config::Settings;
use crate::juhe::JuheClient;
use crate::notify::Mailer;
use crate::rail::client::RailClient;
use crate::store::{Db, JobKey};
use crate::watchlist::{TimeWindow, WatchList};

/// `Ctx::rail_clock_offset_ms` before `login/conf` has told us 12306's clock.
const OFFSET_UNKNOWN: i64 = i64::MIN;

/// Everything the daemon's tasks share.
pub(super) struct Ctx {
    pub settings: Settings,
    pub watchlist_path: PathBuf,
    pub client: RailClient,
    pub db: Db,
    pub mailer: Mailer,
    /// The Juhe client when `[juhe] enabled`; grab watches only alert without it.
    pub juhe: Option<Arc<JuheClient>>,
    /// 12306's nightly maintenance window (Beijing time), parsed once.
    pub night: Option<TimeWindow>,
    list: Mutex<Arc<WatchList>>,
    /// When each watch and waitlist is due, and which are due now.
    pub jobs: Jobs,
    /// Who 12306 is refusing: single queries, or the whole client.
    throttle: Mutex<Throttle>,
    /// Queries (by query string) whose watches are already due again when their backoff ends.
    pub retry_planned: Mutex<HashSet<String>>,
    /// 12306's clock minus ours, from `login/conf` (`OFFSET_UNKNOWN` until then).
    rail_clock_offset_ms: AtomicI64,
    pub presale_days: AtomicU32,
    /// What is known about 起售 openings and 12306's clock (see `super::sale`).
    pub sale: Mutex<crate::sale::known::Known>,
    pub wake_outbox: Notify,
    /// Wakes the push sender (the email sender passes its wake-up on).
    pub wake_push: Notify,
    /// Asks the discovery task for an early `login/conf`.
    pub wake_discovery: Notify,
    /// Wakes the grab-order follower (a push arrived, an order was placed).
    pub wake_grab: Notify,
    /// Watches and 候补 entries removed from the list lately, whose state is kept a while.
    pub parked: Mutex<Parked>,
    /// Queries answered with no trains, since when (see `left_ticket::empty_is_busy`).
    pub empty_since: Mutex<HashMap<String, DateTime<FixedOffset>>>,
    pub last_polled: Mutex<HashMap<JobKey, DateTime<FixedOffset>>>,
    /// Unix seconds of the poller's last loop turn: the watchdog pings only while it moves.
    heartbeat: AtomicI64,
    /// outOrderNos whose createOrder call is in flight: the follower leaves them alone.
    pub creating: Mutex<HashSet<String>>,
    /// Serializes "count live orders, store the intent": two polls never place two orders.
    pub grab_lock: tokio::sync::Mutex<()>,
    /// Planned 候补 payment-reminder wake-ups, by key, so each is planned once.
    pub reminders: Mutex<HashMap<JobKey, DateTime<FixedOffset>>>,
    /// The leftTicket endpoint last written to the database.
    pub recorded_endpoint: Mutex<Option<String>>,
    /// Held while a poll cycle decides and records, and while a reload forgets state: a reload
    /// never drops a watch's state between a cycle's read of it and its write.
    pub cycle_lock: tokio::sync::Mutex<()>,
    /// The status page's view of the heartbeat (`/healthz`), beaten with it.
    pub web_heartbeat: crate::web::server::Heartbeat,
    /// Every task of the daemon, so that shutdown can wait for them.
    tasks: TaskTracker,
    pub shutdown: CancellationToken,
}

/// The parts a [`Ctx`] is built from; the rest starts empty.
pub(super) struct Parts {
    pub list: WatchList,
    pub shutdown: CancellationToken,
    pub settings: Settings,
    pub watchlist_path: PathBuf,
    /// 12306, Juhe (when enabled), the mail transport.
    pub clients: (RailClient, Option<Arc<JuheClient>>, Mailer),
    pub db: Db,
}

/// Locks a mutex whose holder may have panicked: the data is still what it was.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Ctx {
    pub fn new(p: Parts) -> Ctx {
        let presale = p.settings.upstream.presale_days;
        let (client, juhe, mailer) = p.clients;
        Ctx {
            night: p.settings.daemon.night_window(),
            settings: p.settings,
            watchlist_path: p.watchlist_path,
            client,
            db: p.db,
            mailer,
            juhe,
            list: Mutex::new(Arc::new(p.list)),
            jobs: Jobs::default(),
            throttle: Mutex::new(Throttle::default()),
            retry_planned: Mutex::default(),
            rail_clock_offset_ms: AtomicI64::new(OFFSET_UNKNOWN),
            presale_days: AtomicU32::new(presale),
            sale: Mutex::default(),
            wake_outbox: Notify::new(),
            wake_push: Notify::new(),
            wake_discovery: Notify::new(),
            wake_grab: Notify::new(),
            parked: Mutex::default(),
            empty_since: Mutex::default(),
            last_polled: Mutex::default(),
            heartbeat: AtomicI64::new(clock::now().timestamp()),
            creating: Mutex::default(),
            grab_lock: tokio::sync::Mutex::new(()),
            reminders: Mutex::default(),
            recorded_endpoint: Mutex::default(),
            cycle_lock: tokio::sync::Mutex::new(()),
            web_heartbeat: crate::web::server::Heartbeat::new(),
            tasks: TaskTracker::new(),
            shutdown: p.shutdown,
        }
    }

    /// The watch list that runs now.
    pub fn list(&self) -> Arc<WatchList> {
        lock(&self.list).clone()
    }

    pub fn set_list(&self, list: WatchList) {
        *lock(&self.list) = Arc::new(list);
    }

    pub fn beat(&self) {
        self.heartbeat.store(clock::now().timestamp(), Ordering::Relaxed);
        self.web_heartbeat.beat();
    }

    /// Seconds since the poller last moved.
    pub fn heartbeat_age(&self) -> i64 {
        clock::now().timestamp() - self.heartbeat.load(Ordering::Relaxed)
    }

    pub fn throttle(&self) -> MutexGuard<'_, Throttle> {
        lock(&self.throttle)
    }

    /// Records 12306's clock (from `login/conf`); returns the offset it replaced.
    pub fn set_rail_clock(&self, rail_now: DateTime<FixedOffset>) -> (i64, Option<i64>) {
        let offset = (rail_now - clock::now()).num_milliseconds();
        let before = self.rail_clock_offset_ms.swap(offset, Ordering::Relaxed);
        (offset, (before != OFFSET_UNKNOWN).then_some(before))
    }

    /// 12306's clock minus ours in milliseconds, once `login/conf` has told us.
    pub fn rail_clock_offset_ms(&self) -> Option<i64> {
        match self.rail_clock_offset_ms.load(Ordering::Relaxed) {
            OFFSET_UNKNOWN => None,
            ms => Some(ms),
        }
    }

    /// Today as 12306 sees it: ours, or 12306's when its clock is already on the next day.
    /// A date before this is refused by 12306 (a 302), so it is past, not worth a query.
    pub fn rail_today(&self, now: DateTime<FixedOffset>) -> NaiveDate {
        let ours = now.date_naive();
        match self.rail_clock_offset_ms.load(Ordering::Relaxed) {
            OFFSET_UNKNOWN => ours,
            ms => ours.max((now + chrono::TimeDelta::milliseconds(ms)).date_naive()),
        }
    }

    /// Is `now` inside 12306's nightly maintenance window?
    pub fn in_night(&self, now: DateTime<FixedOffset>) -> bool {
        self.night.is_some_and(|w| w.contains(now.time()))
    }

    /// A watch's recipients: its own `notify`, else `[email] to`, else the sender itself.
    pub fn recipients_for(&self, notify: &[String]) -> Vec<String> {
        if !notify.is_empty() {
            notify.to_vec()
        } else if !self.settings.email.to.is_empty() {
            self.settings.email.to.clone()
        } else {
            vec![self.settings.email.from.clone()]
        }
    }

    /// Runs `task` as one of the daemon's tasks (shutdown waits for it).
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.tasks.spawn(task);
    }

    /// Runs `then` after `wait`, unless the daemon stops first.
    pub fn after(self: &Arc<Self>, wait: Duration, then: impl FnOnce(&Arc<Ctx>) + Send + 'static) {
        let ctx = self.clone();
        self.tasks.spawn(async move {
            tokio::select! {
                _ = ctx.shutdown.cancelled() => {}
                _ = tokio::time::sleep(wait) => then(&ctx),
            }
        });
    }

    /// Closes the task set (no more tasks are expected but the ones spawned while running) and
    /// waits for every task to end, at most `grace`. False when some did not end in time.
    pub async fn drain(&self, grace: Duration) -> bool {
        self.tasks.close();
        tokio::time::timeout(grace, self.tasks.wait()).await.is_ok()
    }
}
