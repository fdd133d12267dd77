//! The daemon's background chores: re-reading 12306's endpoint, presale window and clock
//! (discovery), pruning old rows, and the systemd watchdog.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::context::Ctx;

/// How often the leftTicket endpoint, presale window and 12306's clock are re-read.
const DISCOVERY_EVERY: Duration = Duration::from_secs(2 * 3600);
/// A refused query asks for an early re-read (12306's clock may have passed midnight before
/// ours), at most this often.
const DISCOVERY_MIN_GAP: Duration = Duration::from_secs(20);
/// How often old rows are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(6 * 3600);
/// The poller must have moved within this long for the watchdog ping.
const STALLED_AFTER_S: i64 = 120;

/// Re-reads the endpoint name, the presale window and 12306's clock now, every few hours, and
/// early when a refused query asks for it (at most every [`DISCOVERY_MIN_GAP`]).
pub(super) async fn discovery(ctx: Arc<Ctx>) {
    let shutdown = ctx.shutdown.clone();
    let mut last_early: Option<tokio::time::Instant> = None;
    loop {
        match ctx.client.login_conf().await {
            Ok(conf) => {
                if let Some(days) = conf.presale_days {
                    ctx.presale_days.store(days, Ordering::Relaxed);
                }
                if let Some(rail_now) = conf.now {
                    let (offset, before) = ctx.set_rail_clock(rail_now);
                    let off_by = Duration::from_millis(offset.unsigned_abs());
                    let moved = before.is_none_or(|b| (b - offset).abs() >= 5_000);
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
            _ = ctx.wake_discovery.notified() => {
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
pub(super) async fn maintenance(ctx: Arc<Ctx>) {
    loop {
        let retention = ctx.settings.store.retention;
        match ctx.db.prune(crate::clock::now(), retention).await {
            Ok(p) if p.total() > 0 => {
                tracing::info!(history = p.history, outbox = p.outbox, "pruned old rows")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning failed"),
        }
        tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            _ = tokio::time::sleep(PRUNE_EVERY) => {}
        }
    }
}

/// Pings systemd's watchdog while the poller keeps turning (no-op outside systemd).
pub(super) async fn watchdog(ctx: Arc<Ctx>) {
    let Some(timeout) = sd_notify::watchdog_enabled().filter(|t| !t.is_zero()) else {
        return;
    };
    let every = timeout / 2;
    loop {
        tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let age = ctx.heartbeat_age();
        if age < STALLED_AFTER_S {
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
        } else {
            tracing::error!(
                stalled_for_s = age,
                "the poller is stuck; withholding the watchdog ping"
            );
        }
    }
}
