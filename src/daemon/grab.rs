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

/// Order states after which a watch never orders again for that date by itself: a ticket was
/// issued (F, or 改签 E), or the user gave it back (T) or cancelled (C). Failed (U), expired (O)
/// and abandoned orders do not end grabbing: seats appearing again place a new one.
const ENDS_GRABBING: &[&str] = &["F", "E", "T", "C"];
/// Marks in `last_error` / events that the daemon reads back.
const RESUBMIT_REFUSED: &str = "resubmit refused";
use crate::order::{CANCEL_REQUESTED, REFUND_REQUESTED};
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
    if let Some(done) = orders.iter().find(|o| ENDS_GRABBING.contains(&o.state.as_str())) {
        // A ticket was issued (or the user cancelled or refunded): never buy again by itself.
        tracing::debug!(watch = %w.name, %date, out_order_no = %done.out_order_no, state = %done.state, "this date is settled; no new order");
        return;
    }
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
            shared.db.write(move |s| s.enqueue_email(&name, now, &e)).await?;
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
        .write(move |s| s.insert_grab_intent(&o, &name, date, &summary_json, now))
        .await?;
    tracing::info!(watch = %w.name, %date, out_order_no = %out, "grab intent stored; sending createOrder");
    submit(shared, juhe, &out, &plan.create, &plan.summary, &w.notify, false).await;
    Ok(())
}

/// Sends `createOrder` for a stored intent and records what is known afterwards. Every write is
/// guarded by the intent still being an intent: a slower path never overwrites a newer outcome.
/// `resubmission` = the intent was sent before and Juhe said it does not know it.
async fn submit(
    shared: &Arc<Shared>,
    juhe: &JuheClient,
    out: &str,
    create: &crate::juhe::CreateOrder,
    summary: &OrderSummary,
    notify: &[String],
    resubmission: bool,
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
    let unknown = |e: &JuheError, why: String| GrabUpdate {
        last_error: Some(Some(why.clone())),
        next_check_at: Some(if e.is_duplicate_order() {
            now
        } else {
            later(now, UNKNOWN_OUTCOME_RETRY)
        }),
        event: Some(why),
        expect_state: Some("intent".into()),
        ..GrabUpdate::default()
    };
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
                    expect_state: Some("intent".into()),
                    ..GrabUpdate::default()
                },
                Some(order::render_order_email(out, summary, &event, None, now)),
            )
        }
        // The order may exist (no answer, an answer we could not read, "already exists"), or the
        // queryKey expired (215: search again): ask orderDetail; never mint a new number.
        Err(e)
            if e.is_duplicate_order()
                || e.is_transient()
                || matches!(e, JuheError::Decode(_))
                || e.msg_code() == Some("215") =>
        {
            tracing::warn!(out_order_no = %out, error = %e, "createOrder outcome unknown; will ask orderDetail");
            (unknown(&e, format!("createOrder outcome unknown: {e}")), None)
        }
        // A resubmission refused: the first create may have landed after all (a stale "not
        // found"); check again before believing it. `check` gives up on a second "not found".
        Err(e) if resubmission => {
            tracing::warn!(out_order_no = %out, error = %e, "resubmitted createOrder refused; checking orderDetail again");
            (unknown(&e, format!("{RESUBMIT_REFUSED}: {e}")), None)
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
                    expect_state: Some("intent".into()),
                    ..GrabUpdate::default()
                },
                Some(order::render_order_email(out, summary, &event, None, now)),
            )
        }
    };
    let mail = mail.map(|c| email(shared, notify, c));
    let o = out.to_string();
    match shared
        .db
        .write(move |s| s.update_grab_order(&o, now, &update, mail.as_slice()))
        .await
    {
        Ok(true) => shared.wake_outbox.notify_one(),
        Ok(false) => {
            tracing::debug!(out_order_no = %out, "createOrder outcome already recorded by another path")
        }
        Err(e) => tracing::error!(out_order_no = %out, error = %e, "cannot record the createOrder outcome"),
    }
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
    let history = {
        let out = o.out_order_no.clone();
        shared
            .db
            .call(move |s| s.grab_events(&out))
            .await
            .unwrap_or_default()
    };
    let asked = |mark: &str| history.iter().any(|(_, _, note)| note.starts_with(mark));
    let plain = juhe.order_detail(&o.out_order_no, false).await;
    let detail = match plain {
        Ok(d) if d.status == OrderStatus::Issued || d.status.has_tickets() => {
            // The issued view carries seats, ticket numbers and passengerIds: without it the
            // order is not recorded as issued (its email would lack exactly that).
            match juhe.order_detail(&o.out_order_no, true).await {
                Ok(issued) => issued,
                Err(e) => {
                    return retry_later(shared, &o, &format!("issued view: {e}"), e.is_transient()).await;
                }
            }
        }
        Ok(d) if matches!(&d.status, OrderStatus::Unknown(code) if code.is_empty()) => {
            return retry_later(shared, &o, "orderDetail gave no status", true).await;
        }
        Ok(d) => d,
        Err(JuheError::NotFound { .. }) if o.state == "intent" => {
            if asked(CANCEL_REQUESTED) {
                let why = "cancelled by the user before Juhe knew the order: not submitted again";
                return close_intent(shared, &o, summary.as_ref(), &notify, why).await;
            }
            if o.last_error
                .as_deref()
                .is_some_and(|e| e.starts_with(RESUBMIT_REFUSED))
            {
                let why = "Juhe refused to take it again and does not know it: no order";
                return close_intent(shared, &o, summary.as_ref(), &notify, why).await;
            }
            return resubmit(shared, juhe, o, summary).await;
        }
        Err(e) => {
            let past_deadline = summary.as_ref().is_some_and(|s| s.close_time < now.naive_local());
            if o.state == "intent" && past_deadline {
                let why = "the grab deadline passed and Juhe never confirmed this order: check it with Juhe";
                return close_intent(shared, &o, summary.as_ref(), &notify, why).await;
            }
            return retry_later(shared, &o, &e.to_string(), e.is_transient()).await;
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
    let refund_open =
        refund_pending(&detail) || (asked(REFUND_REQUESTED) && !refund_answered(&detail, &history));
    let settled = GRAB_SETTLED.contains(&new_state.as_str()) && !refund_open;
    let next = if settled {
        now + SETTLED_RECHECK
    } else {
        later(now, shared.settings.juhe.poll_every)
    };
    let detail_json = serde_json::to_string(&detail).ok();
    // The events of one look are written together (one transaction), guarded by the state this
    // look started from: a concurrent look (a push) never sends the same email twice.
    let mails: Vec<NewEmail> = events
        .iter()
        .filter_map(|event| {
            tracing::info!(out_order_no = %o.out_order_no, event = %event.note(), "grab order changed");
            summary.as_ref().map(|s| {
                email(
                    shared,
                    &notify,
                    order::render_order_email(&o.out_order_no, s, event, Some(&detail), now),
                )
            })
        })
        .collect();
    let notes: Vec<String> = events.iter().map(OrderEvent::note).collect();
    let update = GrabUpdate {
        state: Some(new_state),
        order_no: detail.order_no.clone(),
        detail: detail_json,
        last_error: Some(None),
        next_check_at: Some(next),
        event: (!notes.is_empty()).then(|| notes.join("; ")),
        expect_state: Some(o.state.clone()),
    };
    let out = o.out_order_no.clone();
    let written = shared
        .db
        .write(move |s| s.update_grab_order(&out, now, &update, &mails))
        .await;
    match written {
        Ok(true) => shared.wake_outbox.notify_one(),
        Ok(false) => {
            tracing::debug!(out_order_no = %o.out_order_no, "order changed meanwhile; this look is dropped")
        }
        Err(e) => {
            tracing::error!(out_order_no = %o.out_order_no, error = %e, "cannot record the order change")
        }
    }
}

/// Records a failed look and when to look again (sooner for transient trouble).
async fn retry_later(shared: &Arc<Shared>, o: &GrabOrderRow, why: &str, transient: bool) {
    let now = clock::now();
    let retry = if transient {
        UNKNOWN_OUTCOME_RETRY
    } else {
        shared.settings.juhe.poll_every
    };
    tracing::warn!(out_order_no = %o.out_order_no, error = %why, "orderDetail failed; will look again");
    let update = GrabUpdate {
        last_error: Some(Some(why.to_string())),
        next_check_at: Some(later(now, retry)),
        expect_state: Some(o.state.clone()),
        ..GrabUpdate::default()
    };
    let out = o.out_order_no.clone();
    let _ = shared
        .db
        .write(move |s| s.update_grab_order(&out, now, &update, &[]))
        .await;
}

/// Gives up an intent for good, and tells the user why.
async fn close_intent(
    shared: &Arc<Shared>,
    o: &GrabOrderRow,
    summary: Option<&OrderSummary>,
    notify: &[String],
    why: &str,
) {
    let now = clock::now();
    tracing::warn!(out_order_no = %o.out_order_no, reason = %why, "grab intent closed");
    let mail = summary.map(|s| {
        let event = OrderEvent::CreateRefused {
            reason: why.to_string(),
        };
        email(
            shared,
            notify,
            order::render_order_email(&o.out_order_no, s, &event, None, now),
        )
    });
    let update = GrabUpdate {
        state: Some("abandoned".into()),
        last_error: Some(Some(why.to_string())),
        event: Some(why.to_string()),
        next_check_at: Some(now + SETTLED_RECHECK),
        expect_state: Some("intent".into()),
        ..GrabUpdate::default()
    };
    let out = o.out_order_no.clone();
    if let Ok(true) = shared
        .db
        .write(move |s| s.update_grab_order(&out, now, &update, mail.as_slice()))
        .await
    {
        shared.wake_outbox.notify_one();
    }
}

/// A refund is under way at Juhe (some ticket 退票中).
fn refund_pending(d: &OrderDetail) -> bool {
    d.passengers
        .iter()
        .any(|p| p.ticket_state == Some(crate::juhe::TicketState::Refunding))
}

/// Every refund the user asked for has an answer (refunded, or refused) after it was asked.
fn refund_answered(d: &OrderDetail, history: &[(DateTime<FixedOffset>, String, String)]) -> bool {
    let asked_at = history
        .iter()
        .rev()
        .find(|(_, _, n)| n.starts_with(REFUND_REQUESTED))
        .map(|(at, _, _)| *at);
    let answered_at = history
        .iter()
        .rev()
        .find(|(_, _, n)| n.contains("已退票") || n.contains("退票失败"))
        .map(|(at, _, _)| *at);
    let states_final = d.passengers.iter().any(|p| {
        matches!(
            p.ticket_state,
            Some(crate::juhe::TicketState::Refunded | crate::juhe::TicketState::RefundFailed)
        )
    });
    states_final && answered_at >= asked_at || d.status == OrderStatus::Refunded
}

/// Juhe says an `intent` does not exist: send it again under the SAME outOrderNo, with a fresh
/// search (queryKeys expire) — but only while the watch still asks for exactly this order.
async fn resubmit(shared: &Arc<Shared>, juhe: &JuheClient, o: GrabOrderRow, summary: Option<OrderSummary>) {
    let now = clock::now();
    let notify = notify_of(shared, &o.watch);
    let watch = shared.list().watches.iter().find(|w| w.name == o.watch).cloned();
    let Some(w) = watch.filter(|w| w.grab.is_some() && w.dates.contains(&o.date)) else {
        let why = "never created, and its watch (or this date) is gone: not submitted again";
        return close_intent(shared, &o, summary.as_ref(), &notify, why).await;
    };
    let search = match juhe.search(&w.from.name, &w.to.name, o.date, w.student).await {
        Ok(s) => s,
        Err(e) => return retry_later(shared, &o, &format!("search before resubmitting: {e}"), true).await,
    };
    let plan = match order::plan_order(&w, o.date, &search, &shared.settings.juhe, &o.out_order_no, now) {
        Ok(plan) => plan,
        Err(refusal) => {
            let why = format!("never created, and cannot be now: {refusal}");
            return close_intent(shared, &o, summary.as_ref(), &notify, &why).await;
        }
    };
    let same = summary.as_ref().is_some_and(|s| {
        s.trains == plan.summary.trains
            && s.seats == plan.summary.seats
            && s.passengers == plan.summary.passengers
    });
    if !same {
        let why = "never created, and the watch now asks for other trains, seats or passengers: not submitted again";
        return close_intent(shared, &o, summary.as_ref(), &notify, why).await;
    }
    tracing::info!(out_order_no = %o.out_order_no, "Juhe has no such order: submitting the same outOrderNo again");
    let out = o.out_order_no.clone();
    let note = GrabUpdate {
        event: Some("not found at Juhe: resubmitted with the same outOrderNo".into()),
        expect_state: Some("intent".into()),
        ..GrabUpdate::default()
    };
    if !matches!(
        shared
            .db
            .write(move |s| s.update_grab_order(&out, now, &note, &[]))
            .await,
        Ok(true)
    ) {
        return;
    }
    let stored = summary.unwrap_or(plan.summary);
    submit(
        shared,
        juhe,
        &o.out_order_no,
        &plan.create,
        &stored,
        &w.notify,
        true,
    )
    .await;
}
