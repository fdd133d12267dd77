//! `yupiao run`: the long-running daemon — the imperative shell around the pure core.
//!
//! Shape (fetch → select → decide → store → notify, as in miniflux):
//! - the **scheduler** (tokio-cron-scheduler, Beijing time) only marks watches *due*;
//! - one **poller** task takes everything due, plans coalesced queries ([`crate::poll::plan`]),
//!   sends them through the paced client, runs the pure [`crate::decide::decide`] for each
//!   answered (watch, date) against its own state, groups the cycle's alerts into one email per
//!   person ([`crate::notify::grouping`]) and writes state, history, no-match notes and emails
//!   in one transaction (`record_cycle`). Because there is one poller and "due" is a set, a
//!   watch never runs twice at once and a slow poll never piles up queued runs;
//! - one **outbox sender** ([`outbox`]) delivers queued emails, retrying transient failures with
//!   backoff;
//! - the **watch-list watcher** (the file itself, polled twice a second, and SIGHUP) reloads the list:
//!   a valid edit applies at once and is recorded as the running list (for `status`), an invalid
//!   one is logged and shown in `status` while the last good list keeps running.
//!
//! Refusals (302, HTML, risk phrases, timeouts) back off the refused query alone, and the whole
//! client only when refusals are client-wide — 12306 limits per address, but it also refuses a
//! single query for a date its clock calls past ([`throttle`]). Dates before 12306's today (its
//! clock from `login/conf`) are finished, not retried. Nothing here ever disables a watch because
//! of errors.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, FixedOffset, NaiveDate};
use tokio::sync::Notify;
use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::clock;
use crate::config::Settings;
use crate::decide;
use crate::filter::{self, TrainMatch};
use crate::notify::{self, Mailer};
use crate::poll::{self, Skip};
use crate::rail::client::RailClient;
use crate::stations::StationTable;
use crate::store::{CycleEmail, CyclePoll, Fact, NewEmail, PollOutcome, Store, WatchStatus};
use crate::watchlist::{self, Diagnostic, Schedule, Watch, WatchList};

mod callback;
mod db;
mod grab;
mod guarded;
mod outbox;
mod parked;
mod throttle;
mod waitlist;

pub use callback::push_path;
pub use db::Db;

/// How long the poller waits after the first watch becomes due, to serve every watch due in the
/// same tick with one request per query.
const GATHER_DUE: Duration = Duration::from_millis(600);
/// How often the leftTicket endpoint, presale window and 12306's clock are re-read.
const DISCOVERY_EVERY: Duration = Duration::from_secs(2 * 3600);
/// A refused query asks for an early re-read (12306's clock may have passed midnight before
/// ours), at most this often.
const DISCOVERY_MIN_GAP: Duration = Duration::from_secs(20);
/// `rail_clock_offset_ms` before `login/conf` has told us 12306's clock.
const OFFSET_UNKNOWN: i64 = i64::MIN;

/// Client-wide throttling state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backoff {
    /// 0 = healthy; n = the n-th consecutive throttled answer.
    pub level: u32,
    pub until: Option<DateTime<FixedOffset>>,
}

impl Backoff {
    /// The wait after the `level`-th consecutive throttle: `start · 2^(level-1)`, capped, with up
    /// to 25 % jitter below the cap (pure; `jitter01` in 0..1).
    pub fn delay(level: u32, start: Duration, max: Duration, jitter01: f64) -> Duration {
        let exp = start.saturating_mul(1u32 << level.saturating_sub(1).min(20));
        let base = exp.min(max);
        let jittered = base.mul_f64(0.75 + 0.25 * jitter01.clamp(0.0, 1.0));
        jittered.min(max)
    }
}

/// Everything the daemon's tasks share.
struct Shared {
    settings: Settings,
    watchlist_path: PathBuf,
    client: RailClient,
    db: Db,
    mailer: Mailer,
    list: Mutex<Arc<WatchList>>,
    due: Mutex<BTreeSet<String>>,
    wake_poller: Notify,
    wake_outbox: Notify,
    /// Who 12306 is refusing: single queries, or the whole client.
    throttle: Mutex<throttle::Throttle>,
    /// Queries (by query string) whose watches are already due again when their backoff ends.
    retry_planned: Mutex<std::collections::HashSet<String>>,
    /// 12306's clock minus ours, from `login/conf` (`OFFSET_UNKNOWN` until then).
    rail_clock_offset_ms: AtomicI64,
    /// Asks the discovery task for an early `login/conf`.
    wake_discovery: Notify,
    /// Watches and 候补 entries removed from the list lately, whose state is kept a while.
    parked: Mutex<parked::Parked>,
    /// Queries answered with no trains, since when (see [`empty_is_busy`]).
    empty_since: Mutex<HashMap<String, DateTime<FixedOffset>>>,
    last_polled: Mutex<HashMap<String, DateTime<FixedOffset>>>,
    /// Unix seconds of the poller's last loop turn: the watchdog pings only while it moves.
    heartbeat: AtomicI64,
    presale_days: AtomicU32,
    jobs: tokio::sync::Mutex<HashMap<String, Uuid>>,
    /// The Juhe client when `[juhe] enabled`; grab watches only alert without it.
    juhe: Option<Arc<crate::juhe::JuheClient>>,
    /// Wakes the grab-order follower (a push arrived, an order was placed).
    wake_grab: Notify,
    /// outOrderNos whose createOrder call is in flight: the follower leaves them alone.
    creating: Mutex<std::collections::HashSet<String>>,
    /// Serializes "count live orders, store the intent": two polls never place two orders.
    grab_lock: tokio::sync::Mutex<()>,
    /// Planned 候补 payment-reminder wake-ups, by key, so each is planned once.
    reminders: Mutex<HashMap<String, DateTime<FixedOffset>>>,
}

impl Shared {
    fn list(&self) -> Arc<WatchList> {
        self.list.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn mark_due<I: IntoIterator<Item = String>>(&self, names: I) {
        self.due.lock().unwrap_or_else(|p| p.into_inner()).extend(names);
        self.wake_poller.notify_one();
    }

    fn beat(&self) {
        self.heartbeat.store(clock::now().timestamp(), Ordering::Relaxed);
    }

    fn throttle(&self) -> std::sync::MutexGuard<'_, throttle::Throttle> {
        self.throttle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Today as 12306 sees it: ours, or 12306's when its clock is already on the next day.
    /// A date before this is refused by 12306 (a 302), so it is past, not worth a query.
    fn rail_today(&self, now: DateTime<FixedOffset>) -> NaiveDate {
        let ours = now.date_naive();
        match self.rail_clock_offset_ms.load(Ordering::Relaxed) {
            OFFSET_UNKNOWN => ours,
            ms => ours.max((now + chrono::TimeDelta::milliseconds(ms)).date_naive()),
        }
    }

    /// A watch's recipients: its own `notify`, else `[email] to`, else the sender itself.
    fn recipients_for(&self, notify: &[String]) -> Vec<String> {
        if !notify.is_empty() {
            notify.to_vec()
        } else if !self.settings.email.to.is_empty() {
            self.settings.email.to.clone()
        } else {
            vec![self.settings.email.from.clone()]
        }
    }
}

/// Loads the watch list, printing nothing: the caller decides how to report diagnostics. Also
/// returns the text it was read from, for the record of what runs.
fn load_list(path: &Path) -> Result<(WatchList, Vec<Diagnostic>, String), Vec<Diagnostic>> {
    let text = watchlist::read(path).map_err(|d| vec![d])?;
    let (list, warnings) = watchlist::parse(
        &text,
        &path.display().to_string(),
        clock::today(),
        StationTable::embedded(),
    )?;
    Ok((list, warnings, text))
}

/// Records in the database which list runs from now on (for `status`).
async fn record_running_list(shared: &Arc<Shared>, text: &str, list: &WatchList, now: DateTime<FixedOffset>) {
    let path = std::path::absolute(&shared.watchlist_path).unwrap_or_else(|_| shared.watchlist_path.clone());
    let record = crate::status::RunningList::of(&path, text, now, list);
    let json = serde_json::to_string(&record).expect("the running list serializes");
    let res = shared
        .db
        .write(move |s| s.set_fact(Fact::RunningList, &json, now))
        .await;
    match res {
        // Logged once by the store handle, and shown in `status`.
        Err(e) if e.is_storage_fault() => {
            tracing::debug!(error = %e, "cannot record the running watch list")
        }
        Err(e) => tracing::error!(error = %e, "cannot record the running watch list"),
        Ok(()) => {}
    }
}

fn diagnostics_text(diags: &[Diagnostic]) -> String {
    diags
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs the daemon until `shutdown` is cancelled. `ready` is called once the database and the
/// watch list are loaded (systemd `READY=1`).
pub async fn run(
    settings: Settings,
    watchlist_path: PathBuf,
    shutdown: CancellationToken,
    ready: impl FnOnce(),
) -> anyhow::Result<()> {
    let db_path = settings.store.path.clone();
    if let Some(dir) = db_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let lock = Store::lock_for_daemon(&db_path)?;
    let store = Store::open(&db_path)?;
    store.check_integrity()?;
    let health = crate::health::HealthFile::create(
        &db_path,
        &crate::health::DbFault {
            pid: std::process::id(),
            ..Default::default()
        },
    );
    let health = match health {
        Ok(h) => Some(h),
        Err(e) if e.kind() == std::io::ErrorKind::StorageFull => {
            return Err(crate::store::StoreError::NoSpace {
                path: crate::health::path_for(&db_path).display().to_string(),
                detail: e.to_string(),
            }
            .into());
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot create the health file beside the database; `status` will not see write failures");
            None
        }
    };
    let (list, warnings, list_text) = load_list(&watchlist_path).map_err(|d| {
        anyhow::anyhow!(
            "{}\nthe watch list has errors; fix them and start again",
            diagnostics_text(&d)
        )
    })?;
    for w in &warnings {
        tracing::warn!("{w}");
    }
    let client = RailClient::new(&settings.upstream)?;
    let mailer = Mailer::new(&settings.email).context("email settings")?;
    let silent = list.watches.iter().any(|w| w.notify.is_empty())
        || list.waitlists.iter().any(|w| w.notify.is_empty());
    if settings.email.to.is_empty() && silent {
        tracing::warn!(
            "no recipients configured ([email] to or a watch's notify): alerts go to {}",
            settings.email.from
        );
    }
    let presale = settings.upstream.presale_days;
    let grab_watches = list.watches.iter().filter(|w| w.grab.is_some()).count();
    let juhe = if settings.juhe.enabled {
        let client = crate::juhe::JuheClient::new(&settings.upstream, &settings.juhe)
            .context("[juhe] enabled = true needs a working Juhe setup")?;
        Some(Arc::new(client))
    } else {
        if grab_watches > 0 {
            tracing::warn!(
                grab_watches,
                "[juhe] enabled = false: grab watches only alert, no order is placed"
            );
        }
        None
    };
    let shared = Arc::new(Shared {
        watchlist_path,
        client,
        db: Db::new(store),
        mailer,
        list: Mutex::new(Arc::new(list)),
        due: Mutex::new(BTreeSet::new()),
        wake_poller: Notify::new(),
        wake_outbox: Notify::new(),
        throttle: Mutex::new(throttle::Throttle::default()),
        retry_planned: Mutex::new(std::collections::HashSet::new()),
        rail_clock_offset_ms: AtomicI64::new(OFFSET_UNKNOWN),
        wake_discovery: Notify::new(),
        parked: Mutex::new(parked::Parked::default()),
        empty_since: Mutex::new(HashMap::new()),
        last_polled: Mutex::new(HashMap::new()),
        heartbeat: AtomicI64::new(clock::now().timestamp()),
        presale_days: AtomicU32::new(presale),
        jobs: tokio::sync::Mutex::new(HashMap::new()),
        reminders: Mutex::new(HashMap::new()),
        juhe,
        wake_grab: Notify::new(),
        grab_lock: tokio::sync::Mutex::new(()),
        creating: Mutex::new(std::collections::HashSet::new()),
        settings,
    });
    if let Some(h) = health {
        shared.db.attach_health_file(h);
    }
    let now = clock::now();
    let pid = std::process::id().to_string();
    shared
        .db
        .call(move |s| {
            s.set_fact(Fact::DaemonPid, &pid, now)?;
            s.set_fact(Fact::DaemonStartedAt, &now.to_rfc3339(), now)?;
            s.clear_fact(Fact::WatchlistError)
        })
        .await?;
    record_running_list(&shared, &list_text, &shared.list(), now).await;

    let initial = shared.list();
    // tokio-cron-scheduler passes every tick through bounded broadcast channels (200 by
    // default); when more jobs fire in one second than fit, ticks are silently dropped. Size
    // them for this list with room for reloads (measured: 1000 watches lost ticks at 200).
    let jobs = initial.watches.len() + initial.waitlists.len();
    let channel = (jobs * 4).clamp(1024, 65_536);
    let mut sched = JobScheduler::new_with_channel_size(channel)
        .await
        .context("cannot create the scheduler")?;
    for w in &initial.watches {
        add_job(&shared, &sched, &w.name, &w.schedule).await?;
    }
    for w in &initial.waitlists {
        add_job(&shared, &sched, &waitlist::key(&w.name), &w.schedule).await?;
    }
    shared.mark_due(initial.watches.iter().map(|w| w.name.clone()));
    shared.mark_due(initial.waitlists.iter().map(|w| waitlist::key(&w.name)));
    sched.start().await.context("cannot start the scheduler")?;
    tracing::info!(
        watches = initial.watches.len(),
        db = %db_path.display(),
        rail = %shared.client.base_url(),
        email = %shared.mailer.describe(),
        "yupiao running"
    );
    let hup = hangup_stream();
    ready();

    let tasks = tokio_util::task::TaskTracker::new();
    tasks.spawn(poller(shared.clone(), sched.clone(), shutdown.clone()));
    tasks.spawn(outbox::sender(shared.clone(), shutdown.clone()));
    tasks.spawn(watch_file(shared.clone(), sched.clone(), shutdown.clone(), hup));
    tasks.spawn(discovery(shared.clone(), shutdown.clone()));
    tasks.spawn(maintenance(shared.clone(), shutdown.clone()));
    tasks.spawn(watchdog(shared.clone(), shutdown.clone()));
    tasks.spawn(grab::follower(shared.clone(), shutdown.clone()));
    tasks.spawn(callback::serve(shared.clone(), shutdown.clone()));
    tasks.close();

    shutdown.cancelled().await;
    tracing::info!("stopping: no new polls; waiting for in-flight work");
    let _ = sched.shutdown().await;
    let grace = shared.settings.daemon.shutdown_grace;
    if tokio::time::timeout(grace, tasks.wait()).await.is_err() {
        tracing::warn!(
            grace = %humantime::format_duration(grace),
            "in-flight work did not finish in time; abandoning it"
        );
    }
    let stopped = clock::now();
    let _ = shared
        .db
        .call(move |s| {
            s.clear_fact(Fact::DaemonPid)?;
            s.set_fact(Fact::DaemonStoppedAt, &stopped.to_rfc3339(), stopped)
        })
        .await;
    drop(lock);
    tracing::info!("stopped");
    Ok(())
}

/// Adds the scheduler job that marks `key` due on `schedule` (`key` is a watch name, or a
/// [`waitlist::key`] for a `[[waitlist]]`).
async fn add_job(
    shared: &Arc<Shared>,
    sched: &JobScheduler,
    key: &str,
    schedule: &Schedule,
) -> anyhow::Result<()> {
    let name = key.to_string();
    let weak = Arc::downgrade(shared);
    let tick = move |_id: Uuid, _s: JobScheduler| {
        let name = name.clone();
        let weak = weak.clone();
        Box::pin(async move {
            if let Some(shared) = weak.upgrade() {
                shared.mark_due([name]);
            }
        }) as std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
    };
    let job = match schedule {
        Schedule::Every(d) => Job::new_repeated_async(*d, tick),
        Schedule::Cron(expr) => Job::new_async_tz(expr.as_str(), chrono_tz::Asia::Shanghai, tick),
    }
    .with_context(|| format!("cannot schedule {key:?}"))?;
    let id = sched
        .add(job)
        .await
        .with_context(|| format!("cannot schedule {key:?}"))?;
    shared.jobs.lock().await.insert(key.to_string(), id);
    Ok(())
}

async fn remove_job(shared: &Arc<Shared>, sched: &JobScheduler, name: &str) {
    if let Some(id) = shared.jobs.lock().await.remove(name) {
        let _ = sched.remove(&id).await;
    }
}

/// When the next scheduled run of `key` is (for `status`).
async fn next_run(
    shared: &Arc<Shared>,
    sched: &JobScheduler,
    key: &str,
    schedule: &Schedule,
    now: DateTime<FixedOffset>,
) -> Option<DateTime<FixedOffset>> {
    if let Schedule::Every(d) = schedule {
        return Some(now + chrono::TimeDelta::from_std(*d).ok()?);
    }
    let id = *shared.jobs.lock().await.get(key)?;
    let mut sched = sched.clone();
    let next = sched.next_tick_for_job(id).await.ok()??;
    Some(next.with_timezone(&clock::beijing()))
}

/// Is `now` inside 12306's nightly maintenance window?
fn in_night(shared: &Shared, now: DateTime<FixedOffset>) -> bool {
    shared
        .settings
        .daemon
        .night_window()
        .is_some_and(|w| w.contains(now.time()))
}

/// The poller: waits for due watches, polls them together, repeats.
async fn poller(shared: Arc<Shared>, sched: JobScheduler, shutdown: CancellationToken) {
    loop {
        shared.beat();
        let backoff_wait = {
            let now = clock::now();
            let until = shared.throttle().client_blocked(now);
            until.and_then(|u| (u - now).to_std().ok())
        };
        if let Some(wait) = backoff_wait {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait.min(Duration::from_secs(5))) => continue,
            }
        }
        if shared.due.lock().unwrap_or_else(|p| p.into_inner()).is_empty() {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = shared.wake_poller.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
            continue;
        }
        // Watches due "at the same time" are ticked by separate scheduler jobs a few ms (up to
        // ~0.5 s) apart: gather them for a moment so that one request serves them all.
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(GATHER_DUE) => {}
        }
        let due: Vec<String> = std::mem::take(&mut *shared.due.lock().unwrap_or_else(|p| p.into_inner()))
            .into_iter()
            .collect();
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = poll_cycle(&shared, &sched, due) => {}
        }
    }
}

/// One cycle over the due watches: plan, query (coalesced), decide, record.
async fn poll_cycle(shared: &Arc<Shared>, sched: &JobScheduler, due: Vec<String>) {
    let list = shared.list();
    let now = clock::now();
    let today = shared.rail_today(now);
    let night = in_night(shared, now);
    let night_every = chrono::TimeDelta::from_std(shared.settings.daemon.night_every).unwrap_or_default();
    let mut selected: Vec<Watch> = Vec::new();
    let mut waitlists = Vec::new();
    for name in &due {
        if let Some(w) = waitlist::find(&list, name) {
            waitlists.push(w.clone());
            continue;
        }
        let Some(w) = list.watches.iter().find(|w| &w.name == name) else {
            continue;
        };
        if w.dates.iter().all(|d| *d < today) {
            mark_finished(shared, w, now).await;
            continue;
        }
        if night {
            let last = shared
                .last_polled
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(name)
                .copied();
            if last.is_some_and(|l| now - l < night_every) {
                continue;
            }
        }
        selected.push(w.clone());
    }
    if !selected.is_empty() {
        poll_watches(shared, sched, selected, now).await;
    }
    for w in waitlists {
        let key = waitlist::key(&w.name);
        if in_backoff(shared) {
            shared.mark_due([key]);
            continue;
        }
        if let Some(until) = shared.throttle().query_blocked(&key, clock::now()) {
            plan_retry(shared, &key, until, vec![key.clone()]);
            continue;
        }
        shared.beat();
        waitlist::poll(shared, sched, &w).await;
    }
}

fn in_backoff(shared: &Shared) -> bool {
    shared.throttle().client_blocked(clock::now()).is_some()
}

/// Marks `watches` due again when the own backoff of `query` ends (once per query).
fn plan_retry(shared: &Arc<Shared>, query: &str, until: DateTime<FixedOffset>, watches: Vec<String>) {
    if !shared
        .retry_planned
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(query.to_string())
    {
        return;
    }
    let wait = (until - clock::now()).to_std().unwrap_or_default();
    let (weak, query) = (Arc::downgrade(shared), query.to_string());
    tokio::spawn(async move {
        tokio::time::sleep(wait).await;
        if let Some(shared) = weak.upgrade() {
            shared
                .retry_planned
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&query);
            shared.mark_due(watches);
        }
    });
}

/// A refusal of `query` (a query string or a 候补 key): backs off that query, or the client
/// when refusals are client-wide, and logs which.
fn refused(
    shared: &Arc<Shared>,
    query: &str,
    error: &crate::rail::client::RailError,
    at: DateTime<FixedOffset>,
    quiet: bool,
) -> throttle::Verdict {
    let d = &shared.settings.daemon;
    let verdict = shared
        .throttle()
        .refused(query, at, d.backoff_start, d.backoff_max, rand::random::<f64>());
    match verdict {
        throttle::Verdict::Client(b) if !quiet => {
            tracing::warn!(%query, %error, level = b.level, until = %clock_text(b.until), "12306 refuses every query; the whole client backs off")
        }
        throttle::Verdict::Query(b) if !quiet => {
            tracing::warn!(%query, %error, level = b.level, until = %clock_text(b.until), "12306 refused this query; backing it off alone, other queries go on")
        }
        _ => {}
    }
    // 12306's clock may be on the next day already: learn it before this query's retry.
    shared.wake_discovery.notify_one();
    verdict
}

/// A clean answer to `query`: clears its backoff and the client's.
fn answered(shared: &Shared, query: &str) {
    match shared.throttle().answered(query) {
        (0, 0) => {}
        (0, own) => tracing::info!(%query, after = own, "12306 answers this query again; its backoff reset"),
        (client, _) => tracing::info!(after = client, "12306 answers again; backoff reset"),
    }
}

/// Polls due left-ticket watches: one request per distinct query.
async fn poll_watches(
    shared: &Arc<Shared>,
    sched: &JobScheduler,
    selected: Vec<Watch>,
    now: DateTime<FixedOffset>,
) {
    let today = shared.rail_today(now);
    let plan = poll::plan(&selected, today, shared.presale_days.load(Ordering::Relaxed));
    // Per watch: the worst outcome of its queries this cycle (an error wins over ok); `None` =
    // not queried (deferred by backoff, or nothing on sale).
    let mut outcomes: Vec<Option<PollOutcome>> = vec![None; selected.len()];
    for (i, _, skip) in &plan.skipped {
        if let Skip::NotOnSaleYet { opens } = skip {
            tracing::debug!(watch = %selected[*i].name, %opens, "date not on sale yet");
        }
    }
    // A query that was refused lately goes last: it never holds up the others.
    let mut queries: Vec<&poll::PlannedQuery> = plan.queries.iter().collect();
    {
        let t = shared.throttle();
        queries.sort_by_key(|pq| t.for_queries([pq.query.query_string().as_str()]).level);
    }
    let mut deferred: BTreeSet<String> = BTreeSet::new();
    // What each answered (watch, date) saw; decided and recorded together after the loop, so
    // that one cycle sends each person one email per train and date (see `record_cycle`).
    let mut seen: Vec<Seen> = Vec::new();
    for pq in queries {
        shared.beat();
        let key = pq.query.query_string();
        let names = || -> Vec<String> { pq.users.iter().map(|(i, _)| selected[*i].name.clone()).collect() };
        if in_backoff(shared) {
            // Refused client-wide mid-cycle: the rest waits for the backoff to end, still due.
            deferred.extend(names());
            continue;
        }
        if let Some(until) = shared.throttle().query_blocked(&key, clock::now()) {
            // This query backs off alone; due already, its watches are tried when that ends.
            plan_retry(shared, &key, until, names());
            continue;
        }
        let answer = shared.client.query_left_ticket(&pq.query).await;
        let at = clock::now();
        match answer {
            Ok(page) => {
                answered(shared, &key);
                let busy = empty_is_busy(shared, &key, page.trains.is_empty(), at);
                for &(i, date) in &pq.users {
                    let w = &selected[i];
                    if busy && had_trains(shared, &w.name, date).await {
                        tracing::info!(watch = %w.name, %date, "12306 answered with no trains for a route that had trains (busy); taken as no answer, the last known seats stand");
                        outcomes[i] = Some(PollOutcome::Error(NO_ANSWER.into()));
                        continue;
                    }
                    let matches = filter::select(&page, w, date, StationTable::embedded());
                    let no_match = matches
                        .is_empty()
                        .then(|| filter::explain(&page, w, StationTable::embedded()));
                    seen.push(Seen {
                        watch: i,
                        date,
                        at,
                        matches,
                        no_match,
                    });
                }
            }
            Err(e) => {
                let night_now = in_night(shared, at);
                let outcome = if night_now {
                    tracing::debug!(error = %e, "query failed during 12306's night window");
                    PollOutcome::Night
                } else if e.is_throttling() {
                    PollOutcome::Throttled(e.to_string())
                } else {
                    PollOutcome::Error(e.to_string())
                };
                if e.is_throttling() {
                    // Its watches are tried again at their next tick after the backoff: never
                    // sooner than their schedule, and not a whole period later either.
                    refused(shared, &key, &e, at, night_now);
                } else if !night_now {
                    tracing::warn!(query = %key, error = %e, "query failed");
                }
                for &(i, _) in &pq.users {
                    outcomes[i] = Some(outcome.clone());
                }
            }
        }
    }
    let recorded: Vec<(usize, NaiveDate)> = seen.iter().map(|s| (s.watch, s.date)).collect();
    match record_cycle(shared, &selected, seen).await {
        Err(e) => {
            if e.is_storage_fault() {
                // Logged once by the store handle, and shown in `status`.
                tracing::debug!(error = %e, "cannot record the poll cycle");
            } else {
                tracing::error!(error = %e, "cannot record the poll cycle");
            }
            for (i, _) in &recorded {
                outcomes[*i] = Some(PollOutcome::Error(format!("database: {e}")));
            }
        }
        Ok(alerted) => {
            for ((i, date), alerted) in recorded.iter().zip(alerted) {
                if outcomes[*i].is_none() {
                    outcomes[*i] = Some(PollOutcome::Ok);
                }
                let w = &selected[*i];
                if w.grab.is_some() {
                    spawn_grab(shared, w, *date, alerted);
                }
            }
        }
    }
    if !deferred.is_empty() {
        shared.mark_due(deferred);
    }
    for (i, w) in selected.iter().enumerate() {
        let mine: Vec<String> = plan
            .queries
            .iter()
            .filter(|q| q.users.iter().any(|(j, _)| *j == i))
            .map(|q| q.query.query_string())
            .collect();
        let outcome = match &outcomes[i] {
            Some(o) => o.clone(),
            // Nothing on sale yet (or every date skipped): a successful, empty poll.
            None if mine.is_empty() => PollOutcome::Ok,
            // Deferred by backoff: still due, nothing to record yet.
            None => continue,
        };
        shared
            .last_polled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(w.name.clone(), now);
        let backoff = shared.throttle().for_queries(mine.iter().map(String::as_str));
        let next = next_run(shared, sched, &w.name, &w.schedule, clock::now()).await;
        record_status(shared, &w.name, outcome, next, backoff, clock::now()).await;
    }
    let endpoint = shared.client.endpoint();
    if let Some(ep) = endpoint {
        let _ = shared
            .db
            .call(move |s| match s.get_fact(Fact::QueryEndpoint) {
                Ok(Some((old, _))) if old == ep => Ok(()),
                _ => s.set_fact(Fact::QueryEndpoint, &ep, clock::now()),
            })
            .await;
    }
}

/// How a busy "empty" answer shows in `status`.
const NO_ANSWER: &str = "no answer: 12306 sent an empty train list for a route that had trains (busy?); the last known seats stand";

/// How long a route must answer "no trains" before that is believed (it happens when every train
/// of a route is cancelled; far more often 12306 is busy, and one empty page between two full ones
/// must not read as "sold out" and re-arm every alert).
const EMPTY_BELIEVED_AFTER: chrono::TimeDelta = chrono::TimeDelta::minutes(15);

/// Whether an answer to `query` with `empty` rows is to be taken as "12306 is busy": an empty
/// page not yet repeated for [`EMPTY_BELIEVED_AFTER`]. A page with rows ends the streak.
fn empty_is_busy(shared: &Shared, query: &str, empty: bool, at: DateTime<FixedOffset>) -> bool {
    let mut since = shared.empty_since.lock().unwrap_or_else(|p| p.into_inner());
    if !empty {
        since.remove(query);
        return false;
    }
    let first = *since.entry(query.to_string()).or_insert(at);
    at - first < EMPTY_BELIEVED_AFTER
}

/// Whether the stored state of (watch, date) has trains on the page.
async fn had_trains(shared: &Shared, watch: &str, date: NaiveDate) -> bool {
    let name = watch.to_string();
    shared
        .db
        .call(move |s| s.previous(&name, date))
        .await
        .is_ok_and(|prev| prev.seats.iter().any(|(k, st)| k.date == date && !st.is_gone()))
}

/// Records how the last poll of `key` (a watch, or a 候补 key) went, with the backoff it is
/// under (its own queries' or the client's, whichever ends later).
async fn record_status(
    shared: &Arc<Shared>,
    key: &str,
    outcome: PollOutcome,
    next: Option<DateTime<FixedOffset>>,
    backoff: Backoff,
    at: DateTime<FixedOffset>,
) {
    let name = key.to_string();
    let res = shared
        .db
        .write(move |s| {
            let mut st = s.watch_status(&name)?.unwrap_or_else(|| WatchStatus::new(&name));
            st.last_poll_at = Some(at);
            st.next_run_at = next;
            st.backoff_level = backoff.level;
            st.backoff_until = backoff.until;
            st.finished = false;
            match &outcome {
                PollOutcome::Ok => st.consecutive_failures = 0,
                PollOutcome::Night => {}
                PollOutcome::Throttled(m) | PollOutcome::Error(m) => {
                    st.consecutive_failures += 1;
                    st.last_error = Some(m.clone());
                }
            }
            st.outcome = Some(outcome);
            s.set_watch_status(&st)
        })
        .await;
    match res {
        Err(e) if e.is_storage_fault() => {
            tracing::debug!(watch = %key, error = %e, "cannot record poll status")
        }
        Err(e) => tracing::error!(watch = %key, error = %e, "cannot record poll status"),
        Ok(()) => {}
    }
}

async fn mark_finished(shared: &Arc<Shared>, w: &Watch, now: DateTime<FixedOffset>) {
    let name = w.name.clone();
    let newly = shared
        .db
        .write(move |s| {
            let mut st = s.watch_status(&name)?.unwrap_or_else(|| WatchStatus::new(&name));
            if st.finished {
                return Ok(false);
            }
            st.finished = true;
            st.next_run_at = None;
            st.last_poll_at.get_or_insert(now);
            s.set_watch_status(&st).map(|_| true)
        })
        .await;
    if matches!(newly, Ok(true)) {
        tracing::info!(watch = %w.name, "every date of this watch has passed; it is finished");
    }
}

/// Places a grab order in the background (Juhe calls must not hold up polling); the grab lock
/// keeps two of them from racing for the same (watch, date).
fn spawn_grab(shared: &Arc<Shared>, w: &Watch, date: NaiveDate, seats_appeared: bool) {
    let (shared, w) = (shared.clone(), w.clone());
    tokio::spawn(async move {
        let _one_at_a_time = shared.grab_lock.lock().await;
        grab::maybe_grab(&shared, &w, date, seats_appeared).await;
        shared.wake_grab.notify_one();
    });
}

/// One answered (watch, date) of a cycle.
#[derive(Debug, Clone)]
struct Seen {
    /// Index into the cycle's selected watches.
    watch: usize,
    date: NaiveDate,
    /// When the answer arrived.
    at: DateTime<FixedOffset>,
    matches: Vec<TrainMatch>,
    no_match: Option<filter::NoMatch>,
}

/// Decides every answered (watch, date) of a cycle against its own stored state, groups the
/// alerts into one email per person per train and date ([`notify::grouping`]), and writes the
/// state, history, notes and emails in one transaction. Per `seen`: whether seats appeared (an
/// alert was queued for it).
async fn record_cycle(
    shared: &Arc<Shared>,
    selected: &[Watch],
    seen: Vec<Seen>,
) -> Result<Vec<bool>, crate::store::StoreError> {
    if seen.is_empty() {
        return Ok(Vec::new());
    }
    let gap = shared.settings.daemon.alert_min_gap;
    let rail_url = shared.client.base_url().to_string();
    let grab_enabled = shared.juhe.is_some() && !shared.settings.juhe.dry_run;
    let watches: Vec<Watch> = selected.to_vec();
    let recipients: Vec<Vec<String>> = watches.iter().map(|w| shared.recipients_for(&w.notify)).collect();
    let (alerted, subjects) = shared
        .db
        .write(move |s| {
            let mut decisions = Vec::with_capacity(seen.len());
            for p in &seen {
                let (w, date) = (&watches[p.watch], p.date);
                let prev = s.previous(&w.name, date)?;
                let decision = decide::decide(&prev, date, &p.matches, p.at, gap);
                for (key, st) in &decision.changes {
                    tracing::info!(watch = %w.name, %date, train = %key.train, seat = %key.seat, left = %st.raw, available = st.available, "seat changed");
                }
                tracing::debug!(watch = %w.name, %date, trains = p.matches.len(), "polled");
                decisions.push(decision);
            }
            let appeared: Vec<notify::grouping::Appeared<'_>> = seen
                .iter()
                .zip(&decisions)
                .filter(|(_, d)| !d.alert.is_empty())
                .map(|(p, d)| notify::grouping::Appeared {
                    watch: &watches[p.watch],
                    date: p.date,
                    trains: &d.alert,
                    recipients: &recipients[p.watch],
                })
                .collect();
            let emails: Vec<CycleEmail> = notify::grouping::group(&appeared)
                .iter()
                .map(|g| {
                    let c = notify::render_grouped_alert(g, &rail_url, grab_enabled);
                    CycleEmail {
                        email: NewEmail {
                            kind: "alert".into(),
                            recipients: g.recipients.clone(),
                            subject: c.subject,
                            text: c.text,
                            html: c.html,
                        },
                        serves: g.watch_names(),
                    }
                })
                .collect();
            let polls: Vec<CyclePoll<'_>> = seen
                .iter()
                .zip(&decisions)
                .map(|(p, decision)| CyclePoll {
                    watch: &watches[p.watch].name,
                    date: p.date,
                    at: p.at,
                    decision,
                    no_match: p.no_match.as_ref().and_then(|n| serde_json::to_string(n).ok()),
                })
                .collect();
            s.record_cycle(&polls, &emails)?;
            let alerted: Vec<bool> = decisions.iter().map(|d| !d.alert.is_empty()).collect();
            let subjects: Vec<(String, String)> = emails
                .iter()
                .map(|e| (e.serves.join(", "), e.email.subject.clone()))
                .collect();
            Ok::<_, crate::store::StoreError>((alerted, subjects))
        })
        .await?;
    for (watches, subject) in &subjects {
        tracing::info!(watch = %watches, %subject, "alert queued");
    }
    if !subjects.is_empty() {
        shared.wake_outbox.notify_one();
    }
    Ok(alerted)
}

/// SIGHUP as a stream, installed before READY so that an early `systemctl reload` cannot end
/// the process (SIGHUP's default action).
#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = Option<()>;

fn hangup_stream() -> Hangup {
    #[cfg(unix)]
    {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// How often the watch-list file is looked at. It is *polled* (a stat and a hash of the small
/// file), not watched with inotify: a watch on its directory delivers every event of every file
/// there, and a log file written into that directory at trace level fed itself through the
/// watcher's own per-event trace lines (700 MB in 30 s).
const WATCHLIST_POLL: Duration = Duration::from_millis(500);

/// Reloads the watch list when the file changes (only that file) and on SIGHUP.
async fn watch_file(shared: Arc<Shared>, sched: JobScheduler, shutdown: CancellationToken, hup: Hangup) {
    use notify_fs::Watcher as _;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let path = shared.watchlist_path.clone();
    let tx_fs = tx.clone();
    let config = notify_fs::Config::default()
        .with_poll_interval(WATCHLIST_POLL)
        .with_compare_contents(true);
    let watcher = notify_fs::PollWatcher::new(
        move |ev: notify_fs::Result<notify_fs::Event>| {
            if ev.is_ok_and(|ev| !matches!(ev.kind, notify_fs::EventKind::Access(_))) {
                let _ = tx_fs.send(());
            }
        },
        config,
    );
    let _watcher = match watcher {
        Ok(mut w) => match w.watch(&path, notify_fs::RecursiveMode::NonRecursive) {
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
    };
    #[cfg(unix)]
    if let Some(mut hup) = hup {
        let tx_hup = tx.clone();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    r = hup.recv() => {
                        if r.is_none() { return; }
                        tracing::info!("SIGHUP: reloading the watch list");
                        let _ = tx_hup.send(());
                    }
                }
            }
        });
    }
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            got = rx.recv() => if got.is_none() { return },
        }
        // Editors write in several steps: let the burst settle, then read once.
        tokio::time::sleep(Duration::from_millis(300)).await;
        while rx.try_recv().is_ok() {}
        reload(&shared, &sched).await;
    }
}

/// Watches compare equal for reload purposes when everything but their position matches.
fn same_watch(a: &Watch, b: &Watch) -> bool {
    Watch { line: 0, ..a.clone() } == Watch { line: 0, ..b.clone() }
}

/// Two versions of a watch look for the same seats: everything but the schedule, the recipients
/// and the position. Only then does an edit keep the stored state (so changing `every` or
/// `notify` does not re-alert seats that are already known).
fn same_search(a: &Watch, b: &Watch) -> bool {
    let neutral = |w: &Watch| Watch {
        line: 0,
        schedule: Schedule::Every(Duration::ZERO),
        notify: Vec::new(),
        ..w.clone()
    };
    neutral(a) == neutral(b)
}

/// Applies an edited watch list, or keeps the running one and records why the edit was refused.
async fn reload(shared: &Arc<Shared>, sched: &JobScheduler) {
    let now = clock::now();
    let old = shared.list();
    let (new, text) = match load_list(&shared.watchlist_path) {
        Ok((list, _, _)) if emptied(&old, &list) => {
            // Truncated by an editor that has not written the new text yet, or saved half way:
            // taking it would stop every watch and start them afresh a moment later.
            let text = format!(
                "{}: no [[watch]] or [[waitlist]] left (the file is empty or half written?); to stop watching everything, stop yupiao instead (systemctl stop yupiao)",
                shared.watchlist_path.display()
            );
            tracing::error!("{text}");
            tracing::error!("watch list edit rejected; the previous list keeps running");
            let _ = shared
                .db
                .write(move |s| s.set_fact(Fact::WatchlistError, &text, now))
                .await;
            return;
        }
        Ok((list, warnings, text)) => {
            for w in &warnings {
                tracing::warn!("{w}");
            }
            (list, text)
        }
        Err(diags) => {
            let text = diagnostics_text(&diags);
            for d in &diags {
                tracing::error!("{d}");
            }
            tracing::error!("watch list edit rejected; the previous list keeps running");
            let _ = shared
                .db
                .write(move |s| s.set_fact(Fact::WatchlistError, &text, now))
                .await;
            return;
        }
    };
    let mut started = Vec::new();
    let mut stopped = Vec::new();
    for w in &old.watches {
        let kept = new.watches.iter().find(|n| n.name == w.name);
        if !kept.is_some_and(|n| same_watch(n, w)) {
            remove_job(shared, sched, &w.name).await;
            match kept {
                // Removed: what it knew is kept a while, in case it comes back (parked).
                None => parked::park(shared, &w.name, parked::Left::Watch(Box::new(w.clone()))),
                // Now looking for something else: start afresh.
                Some(n) if !same_search(n, w) => {
                    let name = w.name.clone();
                    let _ = shared.db.write(move |s| s.forget_watch(&name)).await;
                }
                Some(_) => {}
            }
            shared
                .last_polled
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&w.name);
            stopped.push(w.name.clone());
        }
    }
    for w in &new.watches {
        let unchanged = old.watches.iter().any(|o| o.name == w.name && same_watch(o, w));
        if !unchanged {
            // Back after leaving: the same search carries on, another one starts afresh.
            if let Some(parked::Left::Watch(before)) = parked::unpark(shared, &w.name)
                && !same_search(&before, w)
            {
                let name = w.name.clone();
                let _ = shared.db.write(move |s| s.forget_watch(&name)).await;
            }
            if let Err(e) = add_job(shared, sched, &w.name, &w.schedule).await {
                tracing::error!(watch = %w.name, error = %e, "cannot schedule watch");
                continue;
            }
            started.push(w.name.clone());
        }
    }
    let (w_started, w_stopped) = waitlist::reload(shared, sched, &old, &new).await;
    started.extend(w_started);
    stopped.extend(w_stopped);
    *shared.list.lock().unwrap_or_else(|p| p.into_inner()) = Arc::new(new);
    let _ = shared.db.write(|s| s.clear_fact(Fact::WatchlistError)).await;
    record_running_list(shared, &text, &shared.list(), now).await;
    tracing::info!(
        started = %names_text(&started),
        stopped = %names_text(&stopped),
        "watch list reloaded"
    );
    shared.mark_due(started);
}

/// An edit that leaves nothing to watch where something was watched: never taken as meant.
fn emptied(old: &WatchList, new: &WatchList) -> bool {
    let none = |l: &WatchList| l.watches.is_empty() && l.waitlists.is_empty();
    none(new) && !none(old)
}

/// `a, b` for logs (`—` when empty), instead of a Rust `Debug` list.
fn names_text(names: &[String]) -> String {
    if names.is_empty() {
        "—".to_string()
    } else {
        names.join(", ")
    }
}

/// `14:05:09` for logs, or `—`.
fn clock_text(t: Option<DateTime<FixedOffset>>) -> String {
    t.map_or_else(|| "—".to_string(), |t| t.format("%H:%M:%S").to_string())
}

/// Re-reads the endpoint name, the presale window and 12306's clock now, every few hours, and
/// early when a refused query asks for it (at most every [`DISCOVERY_MIN_GAP`]).
async fn discovery(shared: Arc<Shared>, shutdown: CancellationToken) {
    let mut last_early: Option<tokio::time::Instant> = None;
    loop {
        match shared.client.login_conf().await {
            Ok(conf) => {
                if let Some(days) = conf.presale_days {
                    shared.presale_days.store(days, Ordering::Relaxed);
                }
                if let Some(rail_now) = conf.now {
                    let offset = (rail_now - clock::now()).num_milliseconds();
                    let before = shared.rail_clock_offset_ms.swap(offset, Ordering::Relaxed);
                    let off_by = std::time::Duration::from_millis(offset.unsigned_abs());
                    let moved = before == OFFSET_UNKNOWN || (before - offset).abs() >= 5_000;
                    if off_by >= Duration::from_secs(5) && moved {
                        tracing::info!(
                            offset_s = offset / 1000,
                            "12306's clock differs from ours; a date is past when 12306's clock says so"
                        );
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "login/conf failed; keeping the current presale window"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(DISCOVERY_EVERY) => {}
            _ = shared.wake_discovery.notified() => {
                if let Some(wait) = last_early.map(|t| DISCOVERY_MIN_GAP.saturating_sub(t.elapsed())) {
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
                last_early = Some(tokio::time::Instant::now());
            }
        }
    }
}

/// Prunes history past the retention, at start and every six hours.
async fn maintenance(shared: Arc<Shared>, shutdown: CancellationToken) {
    loop {
        let retention = shared.settings.store.retention;
        match shared.db.call(move |s| s.prune(clock::now(), retention)).await {
            Ok(p) if p.total() > 0 => {
                tracing::info!(history = p.history, outbox = p.outbox, "pruned old rows")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(6 * 3600)) => {}
        }
    }
}

/// Pings systemd's watchdog while the poller keeps turning (no-op outside systemd).
async fn watchdog(shared: Arc<Shared>, shutdown: CancellationToken) {
    let Some(timeout) = sd_notify::watchdog_enabled().filter(|t| !t.is_zero()) else {
        return;
    };
    let every = timeout / 2;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let age = clock::now().timestamp() - shared.heartbeat.load(Ordering::Relaxed);
        if age < 120 {
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
        } else {
            tracing::error!(
                stalled_for_s = age,
                "the poller is stuck; withholding the watchdog ping"
            );
        }
    }
}

/// SIGTERM or SIGINT, as a future.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_start_and_stops_at_the_cap() {
        let s = Duration::from_secs(30);
        let m = Duration::from_secs(600);
        assert_eq!(Backoff::delay(1, s, m, 1.0), s);
        assert_eq!(Backoff::delay(2, s, m, 1.0), Duration::from_secs(60));
        assert_eq!(Backoff::delay(3, s, m, 1.0), Duration::from_secs(120));
        assert_eq!(Backoff::delay(10, s, m, 1.0), m);
        assert_eq!(Backoff::delay(40, s, m, 1.0), m);
        let low = Backoff::delay(2, s, m, 0.0);
        assert_eq!(low, Duration::from_secs(45), "jitter takes at most a quarter off");
    }

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
