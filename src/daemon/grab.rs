//! 抢票 inside the daemon: place grab orders through Juhe and follow them to an end state.
//!
//! Correctness over speed, because money and real tickets are at stake:
//! - the `outOrderNo` is minted and stored (state `intent`) **before** `createOrder` is sent;
//! - a create whose outcome is unknown (timeout, network error, crash) stays `intent` and is
//!   *asked about* with `orderDetail`: an existing order is adopted, and only an order Juhe says
//!   does not exist is submitted again — under the same outOrderNo, never a new one;
//! - one live order per (watch, date) unless the watch asks for more (`orders_per_date`);
//! - every order is followed by polling `orderDetail` until it settles; pushes to the callback
//!   receiver only make the next check happen at once (they are unsigned hints).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta};
use tokio_util::sync::CancellationToken;

use super::Shared;
use crate::clock;
use crate::juhe::{JuheClient, JuheError, OrderDetail, OrderStatus};
use crate::order::{self, GrabRefusal, OrderEvent, OrderSummary};
use crate::store::{GRAB_SETTLED, GrabOrderRow, GrabUpdate, NewEmail};
use crate::watchlist::{GrabOn, Watch};

/// How soon an `intent` whose create outcome is unknown is asked about.
const UNKNOWN_OUTCOME_RETRY: Duration = Duration::from_secs(10);
/// A settled order is looked at again only this rarely (a refund the user asks for brings it
/// back sooner).
const SETTLED_RECHECK: TimeDelta = TimeDelta::days(3650);

fn later(now: DateTime<FixedOffset>, d: Duration) -> DateTime<FixedOffset> {
    now + TimeDelta::from_std(d).unwrap_or_default()
}

fn email(shared: &Shared, w_notify: &[String], c: crate::notify::EmailContent) -> NewEmail {
    NewEmail {
        kind: "order".into(),
        recipients: shared.recipients_for(w_notify),
        subject: c.subject,
        text: c.text,
        html: c.html,
    }
}

/// After a poll of a grab watch: place an order for `date` when the watch says so (seats just
/// appeared, or `grab_on = "start"`), unless enough orders are already live.
pub(super) async fn maybe_grab(shared: &Arc<Shared>, w: &Watch, date: NaiveDate, seats_appeared: bool) {
    let Some(grab) = &w.grab else { return };
    if !(seats_appeared || grab.grab_on == GrabOn::Start) {
        return;
    }
    let Some(juhe) = shared.juhe.as_ref() else {
        if seats_appeared {
            tracing::info!(watch = %w.name, %date, "grab watch: [juhe] enabled = false, so it only alerts");
        }
        return;
    };
    let (name, allowed) = (w.name.clone(), grab.orders_per_date as usize);
    let orders = match shared.db.call(move |s| s.grab_orders()).await {
        Ok(all) => all
            .into_iter()
            .filter(|o| o.watch == name && o.date == date)
            .collect::<Vec<_>>(),
        Err(e) => {
            tracing::error!(watch = %w.name, error = %e, "cannot read grab orders");
            return;
        }
    };
    let live = orders
        .iter()
        .filter(|o| !GRAB_SETTLED.contains(&o.state.as_str()))
        .count();
    if live >= allowed {
        tracing::debug!(watch = %w.name, %date, live, "enough orders are already live for this date");
        return;
    }
    if !seats_appeared && !orders.is_empty() {
        // grab_on = "start" places its order once per date; a settled one is not replaced by
        // itself (seats appearing again will place a new one).
        return;
    }
    if let Err(e) = place(shared, juhe, w, date, seats_appeared).await {
        tracing::warn!(watch = %w.name, %date, error = %e, "no grab order placed");
    }
}

#[derive(Debug, thiserror::Error)]
enum PlaceError {
    #[error("Juhe search failed: {0}")]
    Search(JuheError),
    #[error("{0}")]
    Refused(GrabRefusal),
    #[error("database: {0}")]
    Store(#[from] crate::store::StoreError),
}

async fn place(
    shared: &Arc<Shared>,
    juhe: &JuheClient,
    w: &Watch,
    date: NaiveDate,
    tell_refusal: bool,
) -> Result<(), PlaceError> {
    let search = juhe
        .search(&w.from.name, &w.to.name, date, w.student)
        .await
        .map_err(PlaceError::Search)?;
    let now = clock::now();
    let out = order::new_out_order_no(now, rand::random());
    let plan = match order::plan_order(w, date, &search, &shared.settings.juhe, &out, now) {
        Ok(p) => p,
        Err(refusal) if !tell_refusal => return Err(PlaceError::Refused(refusal)),
        Err(refusal) => {
            // Said once per appearance of seats (alerts are rate-limited), in the log and by email.
            let e = email(shared, &w.notify, order::render_refusal(w, date, &refusal, now));
            let name = w.name.clone();
            shared.db.call(move |s| s.enqueue_email(&name, now, &e)).await?;
            shared.wake_outbox.notify_one();
            return Err(PlaceError::Refused(refusal));
        }
    };
    let summary_json = serde_json::to_string(&plan.summary).expect("the summary serializes");
    if shared.settings.juhe.dry_run {
        tracing::info!(watch = %w.name, %date, out_order_no = %out, summary = %summary_json, "dry run: would place this grab order");
        return Ok(());
    }
    let (name, o) = (w.name.clone(), out.clone());
    shared
        .db
        .call(move |s| s.insert_grab_intent(&o, &name, date, &summary_json, now))
        .await?;
    tracing::info!(watch = %w.name, %date, out_order_no = %out, "grab intent stored; sending createOrder");
    submit(shared, juhe, &out, &plan.create, &plan.summary, &w.notify).await;
    Ok(())
}

/// Sends `createOrder` for a stored intent and records what is known afterwards.
async fn submit(
    shared: &Arc<Shared>,
    juhe: &JuheClient,
    out: &str,
    create: &crate::juhe::CreateOrder,
    summary: &OrderSummary,
    notify: &[String],
) {
    shared
        .creating
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(out.to_string());
    let result = juhe.create_order(create).await;
    shared
        .creating
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(out);
    let now = clock::now();
    let (update, mail) = match result {
        Ok(created) => {
            let event = OrderEvent::Created {
                order_no: created.order_no.clone(),
            };
            tracing::info!(out_order_no = %out, order_no = %created.order_no, "grab order created");
            (
                GrabUpdate {
                    state: Some("N".into()),
                    order_no: Some(created.order_no),
                    last_error: Some(None),
                    next_check_at: Some(later(now, shared.settings.juhe.poll_every)),
                    event: Some(event.note()),
                    ..GrabUpdate::default()
                },
                Some(order::render_order_email(out, summary, &event, None, now)),
            )
        }
        Err(e) if e.is_duplicate_order() || e.is_transient() => {
            // The order may exist: ask orderDetail soon; never mint a new number.
            tracing::warn!(out_order_no = %out, error = %e, "createOrder outcome unknown; will ask orderDetail");
            (
                GrabUpdate {
                    last_error: Some(Some(e.to_string())),
                    next_check_at: Some(if e.is_duplicate_order() {
                        now
                    } else {
                        later(now, UNKNOWN_OUTCOME_RETRY)
                    }),
                    event: Some(format!("createOrder outcome unknown: {e}")),
                    ..GrabUpdate::default()
                },
                None,
            )
        }
        Err(e) => {
            let event = OrderEvent::CreateRefused {
                reason: e.to_string(),
            };
            tracing::error!(out_order_no = %out, error = %e, "Juhe refused the grab order");
            (
                GrabUpdate {
                    state: Some("abandoned".into()),
                    last_error: Some(Some(e.to_string())),
                    event: Some(event.note()),
                    next_check_at: Some(now + SETTLED_RECHECK),
                    ..GrabUpdate::default()
                },
                Some(order::render_order_email(out, summary, &event, None, now)),
            )
        }
    };
    let mail = mail.map(|c| email(shared, notify, c));
    let o = out.to_string();
    if let Err(e) = shared
        .db
        .call(move |s| s.update_grab_order(&o, now, &update, mail.as_ref()))
        .await
    {
        tracing::error!(out_order_no = %out, error = %e, "cannot record the createOrder outcome");
    }
    shared.wake_outbox.notify_one();
}

/// Follows every unsettled order until it settles.
pub(super) async fn follower(shared: Arc<Shared>, shutdown: CancellationToken) {
    let Some(juhe) = shared.juhe.clone() else { return };
    loop {
        let now = clock::now();
        match shared.db.call(move |s| s.due_grab_orders(now)).await {
            Ok(due) => {
                for o in due {
                    if shutdown.is_cancelled() {
                        return;
                    }
                    if shared
                        .creating
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .contains(&o.out_order_no)
                    {
                        // Its createOrder is still in flight: asking now would find nothing and
                        // resubmit it.
                        continue;
                    }
                    check(&shared, &juhe, o).await;
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot read grab orders"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = shared.wake_grab.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}

fn notify_of(shared: &Shared, watch: &str) -> Vec<String> {
    shared
        .list()
        .watches
        .iter()
        .find(|w| w.name == watch)
        .map(|w| w.notify.clone())
        .unwrap_or_default()
}

/// One look at one order: adopt or resubmit an `intent`, or compare a fresh `orderDetail`.
async fn check(shared: &Arc<Shared>, juhe: &JuheClient, o: GrabOrderRow) {
    let summary: Option<OrderSummary> = serde_json::from_str(&o.summary).ok();
    let notify = notify_of(shared, &o.watch);
    let now = clock::now();
    let plain = juhe.order_detail(&o.out_order_no, false).await;
    let detail = match plain {
        Ok(d) if d.status == OrderStatus::Issued || d.status.has_tickets() => {
            juhe.order_detail(&o.out_order_no, true).await.unwrap_or(d)
        }
        Ok(d) => d,
        Err(JuheError::NotFound { .. }) if o.state == "intent" => {
            resubmit(shared, juhe, o, summary).await;
            return;
        }
        Err(e) => {
            let retry = if e.is_transient() {
                UNKNOWN_OUTCOME_RETRY
            } else {
                shared.settings.juhe.poll_every
            };
            tracing::warn!(out_order_no = %o.out_order_no, error = %e, "orderDetail failed");
            let update = GrabUpdate {
                last_error: Some(Some(e.to_string())),
                next_check_at: Some(later(now, retry)),
                ..GrabUpdate::default()
            };
            let out = o.out_order_no.clone();
            let _ = shared
                .db
                .call(move |s| s.update_grab_order(&out, now, &update, None))
                .await;
            return;
        }
    };
    let prev_detail: Option<OrderDetail> = o.detail.as_deref().and_then(|d| serde_json::from_str(d).ok());
    let mut events = Vec::new();
    if o.state == "intent" {
        let order_no = detail.order_no.clone().or(o.order_no.clone()).unwrap_or_default();
        tracing::info!(out_order_no = %o.out_order_no, "adopted an order whose createOrder outcome was unknown");
        events.push(OrderEvent::Created { order_no });
    }
    let prev_state = if o.state == "intent" {
        "N"
    } else {
        o.state.as_str()
    };
    events.extend(order::assess(prev_state, prev_detail.as_ref(), &detail));
    let new_state = detail.status.code().to_string();
    let settled = GRAB_SETTLED.contains(&new_state.as_str()) && !refund_pending(&detail);
    let next = if settled {
        now + SETTLED_RECHECK
    } else {
        later(now, shared.settings.juhe.poll_every)
    };
    let detail_json = serde_json::to_string(&detail).ok();
    let out = o.out_order_no.clone();
    if events.is_empty() {
        let update = GrabUpdate {
            detail: detail_json,
            last_error: Some(None),
            next_check_at: Some(next),
            ..GrabUpdate::default()
        };
        let _ = shared
            .db
            .call(move |s| s.update_grab_order(&out, now, &update, None))
            .await;
        return;
    }
    for (i, event) in events.iter().enumerate() {
        tracing::info!(out_order_no = %o.out_order_no, event = %event.note(), "grab order changed");
        let mail = summary.as_ref().map(|s| {
            email(
                shared,
                &notify,
                order::render_order_email(&o.out_order_no, s, event, Some(&detail), now),
            )
        });
        let last = i + 1 == events.len();
        let update = GrabUpdate {
            state: last.then(|| new_state.clone()),
            order_no: detail.order_no.clone(),
            detail: if last { detail_json.clone() } else { None },
            last_error: Some(None),
            next_check_at: last.then_some(next),
            event: Some(event.note()),
        };
        let out = out.clone();
        if let Err(e) = shared
            .db
            .call(move |s| s.update_grab_order(&out, now, &update, mail.as_ref()))
            .await
        {
            tracing::error!(out_order_no = %o.out_order_no, error = %e, "cannot record the order change");
        }
    }
    shared.wake_outbox.notify_one();
}

/// A refund the user asked for is still under way (some ticket 退票中).
fn refund_pending(d: &OrderDetail) -> bool {
    d.passengers
        .iter()
        .any(|p| p.ticket_state == Some(crate::juhe::TicketState::Refunding))
}

/// Juhe says an `intent` does not exist: send it again under the SAME outOrderNo, with a fresh
/// search (queryKeys expire), or give it up when the watch or the deadline is gone.
async fn resubmit(shared: &Arc<Shared>, juhe: &JuheClient, o: GrabOrderRow, summary: Option<OrderSummary>) {
    let now = clock::now();
    let watch = shared.list().watches.iter().find(|w| w.name == o.watch).cloned();
    let give_up = |why: String| GrabUpdate {
        state: Some("abandoned".into()),
        last_error: Some(Some(why.clone())),
        event: Some(why),
        next_check_at: Some(now + SETTLED_RECHECK),
        ..GrabUpdate::default()
    };
    let Some(w) = watch.filter(|w| w.grab.is_some()) else {
        let update = give_up("never created, and its watch is gone: not submitted again".into());
        let out = o.out_order_no.clone();
        let _ = shared
            .db
            .call(move |s| s.update_grab_order(&out, now, &update, None))
            .await;
        return;
    };
    let search = match juhe.search(&w.from.name, &w.to.name, o.date, w.student).await {
        Ok(s) => s,
        Err(e) => {
            let update = GrabUpdate {
                last_error: Some(Some(format!("search before resubmitting: {e}"))),
                next_check_at: Some(later(now, UNKNOWN_OUTCOME_RETRY)),
                ..GrabUpdate::default()
            };
            let out = o.out_order_no.clone();
            let _ = shared
                .db
                .call(move |s| s.update_grab_order(&out, now, &update, None))
                .await;
            return;
        }
    };
    match order::plan_order(&w, o.date, &search, &shared.settings.juhe, &o.out_order_no, now) {
        Ok(plan) => {
            tracing::info!(out_order_no = %o.out_order_no, "Juhe has no such order: submitting the same outOrderNo again");
            let out = o.out_order_no.clone();
            let note = GrabUpdate {
                event: Some("not found at Juhe: resubmitted with the same outOrderNo".into()),
                ..GrabUpdate::default()
            };
            let _ = shared
                .db
                .call(move |s| s.update_grab_order(&out, now, &note, None))
                .await;
            submit(
                shared,
                juhe,
                &o.out_order_no,
                &plan.create,
                summary.as_ref().unwrap_or(&plan.summary),
                &w.notify,
            )
            .await;
        }
        Err(refusal) => {
            let update = give_up(format!("never created, and cannot be now: {refusal}"));
            let out = o.out_order_no.clone();
            let _ = shared
                .db
                .call(move |s| s.update_grab_order(&out, now, &update, None))
                .await;
        }
    }
}
