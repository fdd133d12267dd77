//! The status page task (`[web] listen`): serves [`crate::web`]'s router from the daemon and
//! keeps its snapshot current.
//!
//! Live without polling: the store's handle wakes this task after every committed write
//! ([`crate::store::Db::subscribe_changes`]); the task then reads the database read-only (the
//! same `status::gather` as `yupiao status`, plus [`crate::store::Store::page_history`]) on a
//! blocking thread, adds what only the daemon knows in memory (12306's backoff, clock offset,
//! requests of the last five minutes), and publishes the new view; open pages hear of it through
//! server-sent events. Writes that come in a burst (a cycle, then its deliveries) are read once.
//!
//! The listener is bound in [`bind`] before the daemon says it is ready, so a port in use fails
//! the start (exit 1) rather than leaving the page silently missing.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

use super::context::Ctx;
use crate::clock;
use crate::config::Settings;
use crate::store::Store;
use crate::watchlist::WatchList;
use crate::web::history::{self, Extras, RailLive};
use crate::web::server::{self, Limits, Publisher, Web, WebOptions};
use crate::web::view::{self, Backoff, ViewModel};

/// Writes closer together than this are read once.
const REBUILD_GAP: Duration = Duration::from_secs(1);
/// A rebuild reads the whole retained history; after one that took `t`, the next waits at least
/// `t` times this, so that on a large database the page costs at most a fifth of a core.
const REBUILD_COST_FACTOR: u32 = 4;
/// How often the request counter is sampled (memory only) for "requests in the last 5 minutes".
const SAMPLE_EVERY: Duration = Duration::from_secs(10);
const FIVE_MINUTES: Duration = Duration::from_secs(300);

/// Binds `[web] listen` when set (the token rule was checked when the settings were loaded and
/// is checked again here).
pub(super) async fn bind(settings: &Settings) -> anyhow::Result<Option<TcpListener>> {
    let Some(addr) = settings.web.listen else {
        return Ok(None);
    };
    let listener = server::bind(addr, settings.web.token.as_ref()).await?;
    Ok(Some(listener))
}

/// Serves the page on `listener` until shutdown, publishing a new snapshot after writes.
pub(super) async fn serve(ctx: Arc<Ctx>, listener: TcpListener) {
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let mut requests = RequestWindow::new(Instant::now());
    let first = match snapshot(&ctx, &mut requests).await {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "the status page cannot read the database; it is off");
            return;
        }
    };
    let (publisher, rx) = server::snapshots(first);
    let options = WebOptions {
        token: ctx.settings.web.token.clone(),
        ..WebOptions::default()
    };
    let db_path = ctx.settings.store.path.clone();
    let app = Web::new(rx, ctx.web_heartbeat.clone(), options, ctx.shutdown.clone())
        .with_protected(status_json(db_path))
        .router();
    tracing::info!(%addr, token = ctx.settings.web.token.is_some(), "status page listening");
    ctx.spawn(server::serve(
        listener,
        app,
        Limits::default(),
        ctx.shutdown.clone(),
    ));
    follow(ctx, publisher, requests).await;
}

/// Publishes a new snapshot after each burst of writes, until shutdown.
async fn follow(ctx: Arc<Ctx>, publisher: Publisher, mut requests: RequestWindow) {
    let mut changes = ctx.db.subscribe_changes();
    changes.borrow_and_update();
    let mut sample = tokio::time::interval(SAMPLE_EVERY);
    let mut last_cost = Duration::ZERO;
    loop {
        tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            _ = sample.tick() => {
                requests.sample(Instant::now(), ctx.client.requests_sent());
                continue;
            }
            changed = changes.changed() => if changed.is_err() { return },
        }
        // Let the rest of a burst land, then read once.
        tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            _ = tokio::time::sleep(REBUILD_GAP.max(last_cost * REBUILD_COST_FACTOR)) => {}
        }
        changes.borrow_and_update();
        let started = Instant::now();
        let built = snapshot(&ctx, &mut requests).await;
        last_cost = started.elapsed();
        match built {
            Ok(v) => {
                publisher.publish(v);
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "the status page could not read the database; it shows the previous snapshot")
            }
        }
    }
}

/// The page's view now: the database read on a blocking thread, plus the daemon's memory.
async fn snapshot(ctx: &Arc<Ctx>, requests: &mut RequestWindow) -> anyhow::Result<ViewModel> {
    let now = clock::now();
    requests.sample(Instant::now(), ctx.client.requests_sent());
    let rail = RailLive {
        endpoint: ctx.client.endpoint(),
        requests_5min: Some(requests.last_five_minutes(ctx.client.requests_sent())),
        backoff: client_backoff(ctx, now),
        clock_offset_ms: ctx.rail_clock_offset_ms(),
    };
    let list = ctx.list();
    let settings = ctx.settings.clone();
    let db = ctx.settings.store.path.clone();
    tokio::task::spawn_blocking(move || read_view(&db, &list, &settings, rail, now)).await?
}

/// The whole client's backoff, when 12306 is being waited out.
fn client_backoff(ctx: &Ctx, now: view::Time) -> Option<Backoff> {
    let b = ctx.throttle().for_queries(std::iter::empty());
    let until = b.until.filter(|u| *u > now)?;
    Some(Backoff {
        level: b.level,
        until,
        failures: b.level,
    })
}

/// Reads everything the page shows from the database at `db` (read-only).
fn read_view(
    db: &Path,
    list: &WatchList,
    settings: &Settings,
    rail: RailLive,
    now: view::Time,
) -> anyhow::Result<ViewModel> {
    let report = crate::status::gather(db, now)?;
    let store = Store::open_read_only(db)?;
    let history = store.page_history()?;
    let mut seats = Vec::with_capacity(report.watches.len());
    for w in &report.watches {
        seats.push((
            w.name.clone(),
            view::seats_now_from_state(&store.current_seats(&w.name)?),
        ));
    }
    let grabs = store.grab_orders()?.iter().map(Into::into).collect();
    let email_problem = store
        .last_email_problem()?
        .and_then(|row| row.last_error.map(|e| (e, row.next_attempt_at)));
    let extras = Extras {
        history: Some(&history),
        seats,
        grabs,
        email_problem,
        rail,
    };
    Ok(history::assemble(&report, Some(list), settings, &extras, now))
}

/// `/status.json`: exactly what `yupiao status --json` prints (the same gather, the same
/// serialization), read when asked.
fn status_json(db: PathBuf) -> Router {
    Router::new().route(
        "/status.json",
        get(move || {
            let db = db.clone();
            async move {
                let read = tokio::task::spawn_blocking(move || {
                    crate::status::gather(&db, clock::now())
                        .map(|r| serde_json::to_string_pretty(&r).unwrap_or_default())
                })
                .await;
                match read {
                    Ok(Ok(json)) => {
                        ([(header::CONTENT_TYPE, "application/json")], format!("{json}\n")).into_response()
                    }
                    Ok(Err(e)) => unavailable(&e.to_string()),
                    Err(e) => unavailable(&e.to_string()),
                }
            }
        }),
    )
}

fn unavailable(why: &str) -> Response {
    tracing::warn!(error = %why, "/status.json: cannot read the database");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the database cannot be read now; see the daemon's log\n",
    )
        .into_response()
}

/// Samples of the client's request counter, enough to say how many requests went out in the
/// last five minutes (12306's own pacing rule is per five minutes).
#[derive(Debug)]
struct RequestWindow {
    /// (when, requests sent so far), oldest first; the first is at or before five minutes ago
    /// once the daemon has run that long.
    samples: VecDeque<(Instant, u64)>,
}

impl RequestWindow {
    /// Counting from `start`, when no request had been sent.
    fn new(start: Instant) -> RequestWindow {
        RequestWindow {
            samples: VecDeque::from([(start, 0)]),
        }
    }

    fn sample(&mut self, at: Instant, total: u64) {
        self.samples.push_back((at, total));
        // Keep one sample at or before the window's start as its baseline.
        while self.samples.len() > 1 && self.samples[1].0 + FIVE_MINUTES <= at {
            self.samples.pop_front();
        }
    }

    /// Requests since the baseline (five minutes ago, give or take [`SAMPLE_EVERY`]).
    fn last_five_minutes(&self, total: u64) -> u32 {
        let base = self.samples.front().map_or(0, |s| s.1);
        u32::try_from(total.saturating_sub(base)).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_over_the_last_five_minutes() {
        let t0 = Instant::now();
        let mut w = RequestWindow::new(t0);
        let at = |s: u64| t0 + Duration::from_secs(s);
        w.sample(at(10), 4);
        w.sample(at(200), 30);
        assert_eq!(
            w.last_five_minutes(30),
            30,
            "younger than five minutes: since the start"
        );
        w.sample(at(310), 40);
        assert_eq!(w.last_five_minutes(40), 36, "the sample of 10 s is the baseline");
        w.sample(at(510), 41);
        assert_eq!(w.last_five_minutes(41), 11, "the sample of 200 s is the baseline");
        w.sample(at(2000), 41);
        assert_eq!(w.last_five_minutes(41), 0, "quiet for long: nothing");
    }
}
