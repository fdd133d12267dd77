//! The daemon's side of 起售: it keeps what is known about openings ([`Known`]) up to date —
//! 12306's clock sampled from `login/conf`, `qss.js` fetched at most daily, field 55 and field 1
//! of every answer — stores it for `check` and `status`, and plans each watch's opening burst
//! on the job scheduler.
//!
//! The poll cycle asks [`view`] which dates may be queried now; a date not yet on sale is never
//! queried (see [`crate::sale::view::SaleView::hold`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta, Utc};

use super::context::{Ctx, lock};
use super::jobs::Burst;
use crate::clock;
use crate::rail::left_ticket::LeftTicketPage;
use crate::sale::budget::BudgetConfig;
use crate::sale::qss;
use crate::sale::view::SaleView;
use crate::store::JobKey;
use crate::store::sale::{QssCache, RailClockRecord, StationSaleTime};

/// Clock samples taken at start (the quickest wins; one may pay for a TLS handshake).
const FIRST_SAMPLES: usize = 3;
/// 12306's clock is sampled again this often (clocks drift; a stepped clock must be noticed
/// before the next opening).
const CLOCK_EVERY: Duration = Duration::from_secs(600);
/// `qss.js` is fetched at most this often.
const QSS_EVERY: TimeDelta = TimeDelta::hours(24);
/// The first query goes this long after the opening at least, more when the clock is less sure.
const MIN_LAG: TimeDelta = TimeDelta::milliseconds(150);
/// …and at most this long (the promise is 2 s, the poller gathers due watches for 0.6 s).
const MAX_LAG: TimeDelta = TimeDelta::milliseconds(1000);

/// Runs `f` on the view of now.
pub(super) fn view<R>(ctx: &Ctx, f: impl FnOnce(&SaleView<'_>) -> R) -> R {
    let known = lock(&ctx.sale);
    let days = ctx.presale_days.load(Ordering::Relaxed);
    f(&known.view(Utc::now(), days))
}

/// Takes what the last run stored (station times, `qss.js`).
pub(super) async fn load(ctx: &Ctx) {
    match ctx.db.sale_knowledge().await {
        Ok((times, qss)) => {
            let mut k = lock(&ctx.sale);
            k.take_station_times(&times);
            if let Some(q) = &qss {
                k.take_qss(q);
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot read the stored 起售 knowledge"),
    }
}

/// Learns from one answer: each boarding station's daily time (field 55) and this date's opening
/// (field 55, else field 1). New station times are stored.
pub(super) fn learn(ctx: &Arc<Ctx>, page: &LeftTicketPage<'_>, date: NaiveDate) {
    let fresh: Vec<StationSaleTime> = {
        let mut k = lock(&ctx.sale);
        let received_on = k.server_now(Utc::now()).date_naive();
        let before: Vec<(String, chrono::NaiveTime)> = k
            .calendar
            .station_times()
            .map(|(c, t, _)| (c.to_string(), t))
            .collect();
        k.calendar.learn_page(page, date, received_on);
        k.calendar
            .station_times()
            .filter(|(c, t, _)| !before.iter().any(|(bc, bt)| bc == c && bt == t))
            .map(|(c, t, seen_on)| StationSaleTime {
                telecode: c.to_string(),
                time: t,
                seen_on,
            })
            .collect()
    };
    if fresh.is_empty() {
        return;
    }
    for t in &fresh {
        tracing::info!(station = %t.telecode, time = %t.time.format("%H:%M"), "learnt a station's daily 起售 time from sale_time");
    }
    let c = ctx.clone();
    ctx.spawn(async move {
        if let Err(e) = c.db.save_station_times(fresh).await {
            tracing::warn!(error = %e, "cannot store the station's 起售 time");
        }
    });
}

/// Samples 12306's clock (at start several times, then every [`CLOCK_EVERY`]), fetches `qss.js`
/// when the cached one is a day old, and plans the opening bursts.
pub(super) async fn chore(ctx: Arc<Ctx>) {
    let shutdown = ctx.shutdown.clone();
    let mut samples = FIRST_SAMPLES;
    loop {
        for _ in 0..samples {
            sample_clock(&ctx).await;
        }
        samples = 1;
        refresh_qss(&ctx).await;
        let newly_settled = {
            let mut k = lock(&ctx.sale);
            !std::mem::replace(&mut k.settled, true)
        };
        if newly_settled {
            // Dates held until the clock and qss.js were known may be on sale: look now.
            let keys: Vec<JobKey> = ctx
                .list()
                .watches
                .iter()
                .map(|w| JobKey::watch(&w.name))
                .collect();
            ctx.jobs.mark_due(keys);
        }
        plan_bursts(&ctx);
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(CLOCK_EVERY) => {}
        }
    }
}

/// One `login/conf`: a clock sample, the presale window; stored for `status`.
async fn sample_clock(ctx: &Ctx) {
    let timed = match ctx.client.login_conf_timed().await {
        Ok(t) => t,
        Err(e) => {
            tracing::debug!(error = %e, "login/conf failed; 12306's clock not sampled");
            return;
        }
    };
    if let Some(days) = timed.value.presale_days {
        ctx.presale_days.store(days, Ordering::Relaxed);
    }
    if let Some(rail_now) = timed.value.now {
        ctx.set_rail_clock(rail_now);
    }
    let sample = match timed.clock_sample() {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(error = %e, "login/conf gave no clock sample");
            return;
        }
    };
    let status = {
        let mut k = lock(&ctx.sale);
        k.clock.add(sample);
        k.presale_days = timed.value.presale_days.or(k.presale_days);
        k.clock.status()
    };
    if let Some(clock) = status {
        tracing::debug!(
            offset_ms = clock.offset_ms,
            uncertainty_ms = clock.uncertainty_ms,
            "12306's clock sampled"
        );
        let rec = RailClockRecord {
            clock,
            presale_days: timed.value.presale_days,
        };
        if let Err(e) = ctx.db.save_rail_clock(rec).await {
            tracing::debug!(error = %e, "cannot store 12306's clock");
        }
    }
}

/// Where to look for the page that links `qss.js`: 12306's index page, or the same path under a
/// configured base (the simulator, a proxy).
fn index_url(ctx: &Ctx) -> String {
    if ctx.client.base_url().ends_with(".12306.cn") {
        qss::INDEX_URL.to_string()
    } else {
        "/index/index.html".to_string()
    }
}

/// Fetches `qss.js` when the one in use is older than [`QSS_EVERY`] (or there is none).
async fn refresh_qss(ctx: &Ctx) {
    let age_ok = lock(&ctx.sale)
        .qss_fetched_at
        .is_some_and(|t| clock::now() - t < QSS_EVERY);
    if age_ok {
        return;
    }
    let url = match ctx.client.discover_qss_url(&index_url(ctx)).await {
        Ok(Some(url)) => url,
        Ok(None) => qss::DEFAULT_QSS_URL.to_string(),
        Err(e) => {
            tracing::debug!(error = %e, "cannot read the page that links qss.js; trying its usual place");
            qss::DEFAULT_QSS_URL.to_string()
        }
    };
    match ctx.client.fetch_qss(&url).await {
        Ok(f) => {
            let fetched_at = f.fetched_at.with_timezone(&clock::beijing());
            tracing::info!(url = %f.url, stations = f.table.len(), "qss.js fetched");
            let cache = QssCache {
                url: f.url,
                body: f.body,
                fetched_at,
            };
            {
                let mut k = lock(&ctx.sale);
                k.qss = Some(f.table);
                k.qss_fetched_at = Some(fetched_at);
            }
            if let Err(e) = ctx.db.save_qss(cache).await {
                tracing::warn!(error = %e, "cannot cache qss.js");
            }
        }
        Err(e) => {
            tracing::info!(error = %e, %url, "qss.js not fetched; openings come from sale_time and the presale window")
        }
    }
}

/// The pace of an opening burst: the fastest the budget allows.
fn burst_pace(ctx: &Ctx) -> TimeDelta {
    let budget = BudgetConfig {
        min_interval: ctx.settings.upstream.min_interval,
        ..BudgetConfig::default()
    };
    TimeDelta::from_std(budget.pace()).unwrap_or(TimeDelta::seconds(4))
}

/// Gives every watch with a date opening soon (or opened less than its `burst` ago) its burst:
/// the first tick just after the opening by 12306's clock, then [`burst_pace`], for `burst`.
pub(super) fn plan_bursts(ctx: &Ctx) {
    let list = ctx.list();
    let pace = burst_pace(ctx);
    let k = lock(&ctx.sale);
    if !k.settled {
        return;
    }
    let lag = k
        .clock
        .uncertainty()
        .map_or(MAX_LAG, |u| (u + MIN_LAG).min(MAX_LAG));
    let local_now = Utc::now();
    let view = k.view(local_now, ctx.presale_days.load(Ordering::Relaxed));
    let offset = k.offset();
    let to_local = |server: DateTime<FixedOffset>| {
        (server.with_timezone(&Utc) - offset).with_timezone(&clock::beijing())
    };
    for w in &list.watches {
        let Some(length) = TimeDelta::from_std(w.burst)
            .ok()
            .filter(|l| *l > TimeDelta::zero())
        else {
            continue;
        };
        let burst = w
            .dates
            .iter()
            .filter(|d| **d >= view.today)
            .map(|d| view.opening(&w.from, *d))
            .filter(|o| o.time_known() && view.now < o.at + length)
            .map(|o| o.at)
            .min();
        if let Some(opening) = burst {
            let first = to_local(opening.max(view.now - lag) + lag);
            ctx.jobs.burst(
                &JobKey::watch(&w.name),
                Burst {
                    next: first,
                    pace,
                    until: to_local(opening + length),
                },
            );
        }
    }
}
