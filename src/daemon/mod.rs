//! `yupiao run`: the long-running daemon — the imperative shell around the pure core.
//!
//! [`run`] builds the shared context ([`context`]) and spawns every task into one task tracker,
//! then waits for shutdown and drains them. The tasks, one module each:
//! - [`jobs`]: the scheduler marks watches and `[[waitlist]]` entries *due* ([`JobKey`]);
//! - [`left_ticket`]: the poller takes everything due and runs one cycle — plan coalesced
//!   queries, send them ([`crate::poll::execute`], shared with `once`), decide, group and render
//!   the emails, write it all in one transaction — then each due 候补 entry ([`waitlist`]);
//! - [`outbox`]: delivers queued emails, retrying transient failures with backoff;
//! - [`grab`]: places 抢票 orders (spawned per poll) and follows them ([`callback`] receives
//!   Juhe's pushes);
//! - [`reload`]: the watch-list watcher (the file itself, polled twice a second, and SIGHUP);
//! - [`chores`]: 12306's endpoint and clock, pruning, the systemd watchdog;
//! - [`web`]: the status page (`[web] listen`), refreshed after every write.
//!
//! Refusals back off the refused query alone, and the whole client only when refusals are
//! client-wide ([`backoff`], [`gate`]). Nothing here ever disables a watch because of errors.
//! Every task, including grab placements, timers and the SIGHUP forwarder, runs in one
//! `TaskTracker`: SIGTERM stops scheduling, gives in-flight work `shutdown_grace`, and exits.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

mod backoff;
mod callback;
mod chores;
mod context;
mod gate;
mod grab;
mod guarded;
pub mod jobs;
mod left_ticket;
mod outbox;
mod parked;
mod push_sender;
mod reload;
mod sale;
mod waitlist;
mod web;

pub use callback::push_path;
pub use jobs::JobKey;

use crate::clock;
use crate::config::Settings;
use crate::juhe::JuheClient;
use crate::notify::Mailer;
use crate::rail::client::RailClient;
use crate::store::health::{self, DbFault, HealthFile};
use crate::store::{Db, Store, StoreError};
use context::{Ctx, Parts};

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
    let db = Db::open(&db_path)?;
    let health = health_file(&db_path)?;
    let (list, warnings, list_text) =
        reload::load_list(&watchlist_path, &settings.channel_names()).map_err(|d| {
            anyhow::anyhow!(
                "{}\nthe watch list has errors; fix them and start again",
                reload::diagnostics_text(&d)
            )
        })?;
    for w in &warnings {
        tracing::warn!("{w}");
    }
    let client = RailClient::new(&settings.upstream)?;
    let mailer = Mailer::new(&settings.email).context("email settings")?;
    warn_without_recipients(&settings, &list);
    let juhe = juhe_client(&settings, &list)?;
    let web_listener = web::bind(&settings).await?;
    if let Some(h) = health {
        db.attach_health_file(h);
    }
    let ctx = Arc::new(Ctx::new(Parts {
        list,
        shutdown: shutdown.clone(),
        settings,
        watchlist_path,
        clients: (client, juhe, mailer),
        db,
    }));
    let now = clock::now();
    ctx.db.record_start(std::process::id(), now).await?;
    reload::record_running_list(&ctx, &list_text, &ctx.list(), now).await;
    sale::load(&ctx).await;
    schedule_all(&ctx, now)?;
    tracing::info!(
        watches = ctx.list().watches.len(),
        db = %db_path.display(),
        rail = %ctx.client.base_url(),
        email = %ctx.mailer.describe(),
        "yupiao running"
    );
    let hup = reload::hangup_stream();
    ready();
    spawn_tasks(&ctx, hup);
    if let Some(listener) = web_listener {
        ctx.spawn(web::serve(ctx.clone(), listener));
    }

    shutdown.cancelled().await;
    tracing::info!("stopping: no new polls; waiting for in-flight work");
    let grace = ctx.settings.daemon.shutdown_grace;
    if !ctx.drain(grace).await {
        tracing::warn!(
            grace = %humantime::format_duration(grace),
            "in-flight work did not finish in time; abandoning it"
        );
    }
    let _ = ctx.db.record_stop(clock::now()).await;
    ctx.db.close().await;
    drop(lock);
    tracing::info!("stopped");
    Ok(())
}

/// The health file beside the database; starting on a full disk is refused.
fn health_file(db_path: &std::path::Path) -> anyhow::Result<Option<HealthFile>> {
    let fault = DbFault {
        pid: std::process::id(),
        ..Default::default()
    };
    match HealthFile::create(db_path, &fault) {
        Ok(h) => Ok(Some(h)),
        Err(e) if e.kind() == std::io::ErrorKind::StorageFull => Err(StoreError::NoSpace {
            path: health::path_for(db_path).display().to_string(),
            detail: e.to_string(),
        }
        .into()),
        Err(e) => {
            tracing::warn!(error = %e, "cannot create the health file beside the database; `status` will not see write failures");
            Ok(None)
        }
    }
}

fn warn_without_recipients(settings: &Settings, list: &crate::watchlist::WatchList) {
    let silent = list.watches.iter().any(|w| w.notify.is_empty())
        || list.waitlists.iter().any(|w| w.notify.is_empty());
    if settings.email.to.is_empty() && silent {
        tracing::warn!(
            "no recipients configured ([email] to or a watch's notify): alerts go to {}",
            settings.email.from
        );
    }
}

/// The Juhe client when `[juhe] enabled`; grab watches only alert without it.
fn juhe_client(
    settings: &Settings,
    list: &crate::watchlist::WatchList,
) -> anyhow::Result<Option<Arc<JuheClient>>> {
    if settings.juhe.enabled {
        let client = JuheClient::new(&settings.upstream, &settings.juhe)
            .context("[juhe] enabled = true needs a working Juhe setup")?;
        return Ok(Some(Arc::new(client)));
    }
    let grab_watches = list.watches.iter().filter(|w| w.grab.is_some()).count();
    if grab_watches > 0 {
        tracing::warn!(
            grab_watches,
            "[juhe] enabled = false: grab watches only alert, no order is placed"
        );
    }
    Ok(None)
}

/// Schedules every watch and waitlist of the running list, and marks them all due at once.
fn schedule_all(ctx: &Ctx, now: chrono::DateTime<chrono::FixedOffset>) -> anyhow::Result<()> {
    let list = ctx.list();
    let keys = list
        .watches
        .iter()
        .map(|w| (JobKey::watch(&w.name), &w.schedule))
        .chain(
            list.waitlists
                .iter()
                .map(|w| (JobKey::waitlist(&w.name), &w.schedule)),
        );
    for (key, schedule) in keys {
        ctx.jobs.add(&key, schedule, now)?;
        ctx.jobs.mark_due([key]);
    }
    Ok(())
}

/// Every long-running task, in the context's task tracker.
fn spawn_tasks(ctx: &Arc<Ctx>, hup: reload::Hangup) {
    let ticker = ctx.clone();
    ctx.spawn(async move { ticker.jobs.run(ticker.shutdown.clone()).await });
    ctx.spawn(left_ticket::poller(ctx.clone()));
    ctx.spawn(outbox::sender(ctx.clone()));
    ctx.spawn(push_sender::sender(ctx.clone()));
    ctx.spawn(reload::watch_file(ctx.clone(), hup));
    ctx.spawn(chores::discovery(ctx.clone()));
    ctx.spawn(sale::chore(ctx.clone()));
    ctx.spawn(chores::maintenance(ctx.clone()));
    ctx.spawn(chores::watchdog(ctx.clone()));
    ctx.spawn(grab::follower(ctx.clone()));
    ctx.spawn(callback::serve(ctx.clone()));
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
