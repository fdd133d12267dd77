//! 抢票 inside the daemon: place grab orders through Juhe and follow them to an end state. The
//! decisions are [`crate::decide::grab`]'s; this module makes the calls and the writes.
//!
//! Correctness over speed, because money and real tickets are at stake:
//! - the `outOrderNo` is minted and stored (state `intent`) **before** `createOrder` is sent;
//! - a create whose outcome is unknown (timeout, network error, crash) stays `intent` and is
//!   *asked about* with `orderDetail`: an existing order is adopted, and only an order Juhe says
//!   does not exist is submitted again — under the same outOrderNo, never a new one;
//! - one live order per (watch, date) unless the watch asks for more (`orders_per_date`);
//! - every order is followed by polling `orderDetail` (SQL says which are due) until it
//!   settles; pushes to the callback receiver only make the next check happen at once (they are
//!   unsigned hints).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta};

use super::context::{Ctx, lock};
use crate::clock;
use crate::decide::grab::{
    CreateOutcome, DetailAnswer, Existing, Next, Placing, Recorded, Stored, after_create, after_detail,
    placing,
};
use crate::juhe::{CreateOrder, JuheClient, JuheError, OrderDetail, OrderStatus};
use crate::notify::EmailContent;
use crate::notify::order::{render_order_email, render_refusal};
use crate::order::{self, GrabRefusal, GrabState, OrderEvent, OrderSummary};
use crate::push::{self, PushMessage};
use crate::store::{EmailKind, GrabIntent, GrabOrder, GrabUpdate, JobKey, NewEmail, RequestKind};
use crate::watchlist::{GrabOn, Watch};

/// How soon an `intent` whose create outcome is unknown is asked about.
const UNKNOWN_OUTCOME_RETRY: Duration = Duration::from_secs(10);
/// A settled order is looked at again only this rarely (a refund the user asks for brings it
/// back sooner).
const SETTLED_RECHECK: TimeDelta = TimeDelta::days(3650);
/// How often the follower looks for due orders without being woken.
const FOLLOW_EVERY: Duration = Duration::from_secs(2);

fn later(now: DateTime<FixedOffset>, d: Duration) -> DateTime<FixedOffset> {
    now + TimeDelta::from_std(d).unwrap_or_default()
}

/// The email of a 抢票 event and its push (for the `notify` entries that are channels).
fn email(ctx: &Ctx, notify: &[String], c: EmailContent, push: PushMessage) -> NewEmail {
    NewEmail {
        kind: EmailKind::Order,
        recipients: ctx.recipients_for(notify),
        subject: c.subject,
        text: c.text,
        html: c.html,
        push: Some(push),
    }
}

/// Places a grab order in the background (Juhe calls must not hold up polling); the grab lock
/// keeps two of them from racing for the same (watch, date).
pub(super) fn spawn(ctx: &Arc<Ctx>, w: &Watch, date: NaiveDate, seats_appeared: bool) {
    let (task_ctx, w) = (ctx.clone(), w.clone());
    ctx.spawn(async move {
        let _one_at_a_time = task_ctx.grab_lock.lock().await;
        maybe_grab(&task_ctx, &w, date, seats_appeared).await;
        task_ctx.wake_grab.notify_one();
    });
}

/// After a poll of a grab watch: place an order for `date` when the watch says so (seats just
/// appeared, or `grab_on = "start"`), unless enough orders are already live.
async fn maybe_grab(ctx: &Arc<Ctx>, w: &Watch, date: NaiveDate, seats_appeared: bool) {
    let Some(grab) = &w.grab else { return };
    let from_start = grab.grab_on == GrabOn::Start;
    if !(seats_appeared || from_start) {
        return;
    }
    let Some(juhe) = ctx.juhe.as_ref() else {
        if seats_appeared {
            tracing::info!(watch = %w.name, %date, "grab watch: [juhe] enabled = false, so it only alerts");
        }
        return;
    };
    let orders = match ctx.db.grab_orders_for(w.name.clone(), date).await {
        Ok(orders) => orders,
        Err(e) => {
            tracing::error!(watch = %w.name, error = %e, "cannot read grab orders");
            return;
        }
    };
    let existing: Vec<Existing<'_>> = orders
        .iter()
        .map(|o| Existing {
            out_order_no: &o.out_order_no,
            state: &o.state,
        })
        .collect();
    match placing(
        &existing,
        grab.orders_per_date as usize,
        seats_appeared,
        from_start,
    ) {
        Placing::NotAsked | Placing::StartedBefore => {}
        Placing::Settled { out_order_no, state } => {
            // A ticket was issued (or the user cancelled or refunded): never buy again by itself.
            tracing::debug!(watch = %w.name, %date, %out_order_no, state = %state.code(), "this date is settled; no new order");
        }
        Placing::EnoughLive { live } => {
            tracing::debug!(watch = %w.name, %date, live, "enough orders are already live for this date");
        }
        Placing::Place => {
            if let Err(e) = place(ctx, juhe, w, date, seats_appeared).await {
                tracing::warn!(watch = %w.name, %date, error = %e, "no grab order placed");
            }
        }
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
    ctx: &Arc<Ctx>,
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
    let plan = match order::plan_order(w, date, &search, &ctx.settings.juhe, &out, now) {
        Ok(p) => p,
        Err(refusal) if !tell_refusal => return Err(PlaceError::Refused(refusal)),
        Err(refusal) => {
            // Said once per appearance of seats (alerts are rate-limited), in the log and by email.
            let push = push::message::grab_refusal_message(w, date, &refusal, ctx.client.base_url(), now);
            let e = email(ctx, &w.notify, render_refusal(w, date, &refusal, now), push);
            ctx.db.enqueue_email(JobKey::watch(&w.name), now, e).await?;
            ctx.wake_outbox.notify_one();
            return Err(PlaceError::Refused(refusal));
        }
    };
    if ctx.settings.juhe.dry_run {
        let summary = serde_json::to_string(&plan.summary).expect("the summary serializes");
        tracing::info!(watch = %w.name, %date, out_order_no = %out, %summary, "dry run: would place this grab order");
        return Ok(());
    }
    let intent = GrabIntent {
        out_order_no: out.clone(),
        watch: w.name.clone(),
        date,
        summary: plan.summary.clone(),
        at: now,
    };
    ctx.db.insert_grab_intent(intent).await?;
    tracing::info!(watch = %w.name, %date, out_order_no = %out, "grab intent stored; sending createOrder");
    submit(ctx, juhe, &out, &plan.create, &plan.summary, &w.notify, false).await;
    Ok(())
}

/// Sends `createOrder` for a stored intent and records what is known afterwards. Every write is
/// guarded by the intent still being an intent: a slower path never overwrites a newer outcome.
/// `resubmission` = the intent was sent before and Juhe said it does not know it.
async fn submit(
    ctx: &Arc<Ctx>,
    juhe: &JuheClient,
    out: &str,
    create: &CreateOrder,
    summary: &OrderSummary,
    notify: &[String],
    resubmission: bool,
) {
    lock(&ctx.creating).insert(out.to_string());
    let result = juhe.create_order(create).await;
    lock(&ctx.creating).remove(out);
    let now = clock::now();
    let guarded = GrabUpdate {
        expect_state: Some(GrabState::Intent),
        ..GrabUpdate::default()
    };
    let (update, event) = match after_create(&result, resubmission) {
        CreateOutcome::Created { event, order_no } => {
            tracing::info!(out_order_no = %out, %order_no, "grab order created");
            let update = GrabUpdate {
                state: Some(GrabState::Juhe(OrderStatus::Created)),
                order_no: Some(order_no),
                last_error: Some(None),
                next_check_at: Some(later(now, ctx.settings.juhe.poll_every)),
                event: Some(event.note()),
                ..guarded
            };
            (update, Some(event))
        }
        CreateOutcome::Unknown {
            why,
            ask_now,
            resubmit_refused,
        } => {
            if resubmit_refused {
                tracing::warn!(out_order_no = %out, error = %why, "resubmitted createOrder refused; checking orderDetail again");
            } else {
                tracing::warn!(out_order_no = %out, error = %why, "createOrder outcome unknown; will ask orderDetail");
            }
            let update = GrabUpdate {
                last_error: Some(Some(why.clone())),
                next_check_at: Some(if ask_now {
                    now
                } else {
                    later(now, UNKNOWN_OUTCOME_RETRY)
                }),
                event: Some(why),
                resubmit_refused: resubmit_refused.then_some(true),
                ..guarded
            };
            (update, None)
        }
        CreateOutcome::Refused { event, reason } => {
            tracing::error!(out_order_no = %out, error = %reason, "Juhe refused the grab order");
            let update = GrabUpdate {
                state: Some(GrabState::Abandoned),
                last_error: Some(Some(reason)),
                event: Some(event.note()),
                next_check_at: Some(now + SETTLED_RECHECK),
                ..guarded
            };
            (update, Some(event))
        }
    };
    let mail = event.map(|e| {
        let push = push::message::order_message(out, summary, &e, now);
        email(ctx, notify, render_order_email(out, summary, &e, None, now), push)
    });
    let written = ctx
        .db
        .update_grab_order(out.to_string(), now, update, mail.into_iter().collect())
        .await;
    match written {
        Ok(true) => ctx.wake_outbox.notify_one(),
        Ok(false) => {
            tracing::debug!(out_order_no = %out, "createOrder outcome already recorded by another path")
        }
        Err(e) => tracing::error!(out_order_no = %out, error = %e, "cannot record the createOrder outcome"),
    }
}

/// Follows every unsettled order until it settles.
pub(super) async fn follower(ctx: Arc<Ctx>) {
    let Some(juhe) = ctx.juhe.clone() else { return };
    let shutdown = ctx.shutdown.clone();
    loop {
        match ctx.db.due_grab_orders(clock::now()).await {
            Ok(due) => {
                for o in due {
                    if shutdown.is_cancelled() {
                        return;
                    }
                    if lock(&ctx.creating).contains(&o.out_order_no) {
                        // Its createOrder is still in flight: asking now would find nothing and
                        // resubmit it.
                        continue;
                    }
                    check(&ctx, &juhe, o).await;
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot read grab orders"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ctx.wake_grab.notified() => {}
            _ = tokio::time::sleep(FOLLOW_EVERY) => {}
        }
    }
}

fn notify_of(ctx: &Ctx, watch: &str) -> Vec<String> {
    ctx.list()
        .watches
        .iter()
        .find(|w| w.name == watch)
        .map(|w| w.notify.clone())
        .unwrap_or_default()
}

/// `orderDetail` of an order: the issued view when the order has tickets (it carries seats,
/// ticket numbers and passengerIds: without it the order is not recorded as issued, its email
/// would lack exactly that). `Err`: the look failed (why, transient).
async fn order_detail(
    juhe: &JuheClient,
    out: &str,
) -> Result<Result<OrderDetail, JuheError>, (String, bool)> {
    match juhe.order_detail(out, false).await {
        Ok(d) if d.status == OrderStatus::Issued || d.status.has_tickets() => {
            match juhe.order_detail(out, true).await {
                Ok(issued) => Ok(Ok(issued)),
                Err(e) => Err((format!("issued view: {e}"), e.is_transient())),
            }
        }
        other => Ok(other),
    }
}

/// One look at one order: adopt or resubmit an `intent`, or record a fresh `orderDetail`.
async fn check(ctx: &Arc<Ctx>, juhe: &JuheClient, o: GrabOrder) {
    let requests = match ctx.db.grab_requests(o.out_order_no.clone()).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(out_order_no = %o.out_order_no, error = %e, "cannot read the order's requests");
            return;
        }
    };
    let answer = match order_detail(juhe, &o.out_order_no).await {
        Ok(answer) => answer,
        Err((why, transient)) => return retry_later(ctx, &o, &why, transient).await,
    };
    let stored = Stored {
        state: &o.state,
        order_no: o.order_no.as_deref(),
        detail: o.detail.as_ref(),
        resubmit_refused: o.resubmit_refused,
        close_time: o.summary.close_time,
        cancel_requested: requests.iter().any(|r| r.kind == RequestKind::Cancel),
        refund_requested: requests
            .iter()
            .any(|r| matches!(r.kind, RequestKind::Refund { .. }) && r.answered_at.is_none()),
    };
    let detail_answer = match &answer {
        Ok(d) => DetailAnswer::Detail(d),
        Err(e) => DetailAnswer::Failed(e),
    };
    match after_detail(&stored, detail_answer, clock::now()) {
        Next::RetryLater { why, transient } => retry_later(ctx, &o, &why, transient).await,
        Next::Close { why } => close_intent(ctx, &o, &why).await,
        Next::Resubmit => resubmit(ctx, juhe, o).await,
        Next::Record(r) => {
            let detail = answer.expect("a recorded answer is a detail");
            record(ctx, &o, r, detail).await;
        }
    }
}

/// Writes what a readable `orderDetail` changed, with one email per event; guarded by the state
/// this look started from, so a concurrent look (a push) never sends the same email twice.
async fn record(ctx: &Arc<Ctx>, o: &GrabOrder, r: Recorded, detail: OrderDetail) {
    let now = clock::now();
    if o.state == GrabState::Intent {
        tracing::info!(out_order_no = %o.out_order_no, "adopted an order whose createOrder outcome was unknown");
    }
    let notify = notify_of(ctx, &o.watch);
    let mails: Vec<NewEmail> = r
        .events
        .iter()
        .map(|event| {
            tracing::info!(out_order_no = %o.out_order_no, event = %event.note(), "grab order changed");
            email(
                ctx,
                &notify,
                render_order_email(&o.out_order_no, &o.summary, event, Some(&detail), now),
                push::message::order_message(&o.out_order_no, &o.summary, event, now),
            )
        })
        .collect();
    let notes: Vec<String> = r.events.iter().map(OrderEvent::note).collect();
    let update = GrabUpdate {
        state: Some(r.state),
        order_no: detail.order_no.clone(),
        detail: Some(detail),
        last_error: Some(None),
        next_check_at: Some(if r.settled {
            now + SETTLED_RECHECK
        } else {
            later(now, ctx.settings.juhe.poll_every)
        }),
        event: (!notes.is_empty()).then(|| notes.join("; ")),
        expect_state: Some(o.state.clone()),
        resubmit_refused: None,
        answers_refunds: r.answers_refunds,
    };
    match ctx
        .db
        .update_grab_order(o.out_order_no.clone(), now, update, mails)
        .await
    {
        Ok(true) => ctx.wake_outbox.notify_one(),
        Ok(false) => {
            tracing::debug!(out_order_no = %o.out_order_no, "order changed meanwhile; this look is dropped")
        }
        Err(e) => {
            tracing::error!(out_order_no = %o.out_order_no, error = %e, "cannot record the order change")
        }
    }
}

/// Records a failed look and when to look again (sooner for transient trouble).
async fn retry_later(ctx: &Arc<Ctx>, o: &GrabOrder, why: &str, transient: bool) {
    let now = clock::now();
    let retry = if transient {
        UNKNOWN_OUTCOME_RETRY
    } else {
        ctx.settings.juhe.poll_every
    };
    tracing::warn!(out_order_no = %o.out_order_no, error = %why, "orderDetail failed; will look again");
    let update = GrabUpdate {
        last_error: Some(Some(why.to_string())),
        next_check_at: Some(later(now, retry)),
        expect_state: Some(o.state.clone()),
        ..GrabUpdate::default()
    };
    let _ = ctx
        .db
        .update_grab_order(o.out_order_no.clone(), now, update, Vec::new())
        .await;
}

/// Gives up an intent for good, and tells the user why.
async fn close_intent(ctx: &Arc<Ctx>, o: &GrabOrder, why: &str) {
    let now = clock::now();
    tracing::warn!(out_order_no = %o.out_order_no, reason = %why, "grab intent closed");
    let event = OrderEvent::CreateRefused {
        reason: why.to_string(),
    };
    let mail = email(
        ctx,
        &notify_of(ctx, &o.watch),
        render_order_email(&o.out_order_no, &o.summary, &event, None, now),
        push::message::order_message(&o.out_order_no, &o.summary, &event, now),
    );
    let update = GrabUpdate {
        state: Some(GrabState::Abandoned),
        last_error: Some(Some(why.to_string())),
        event: Some(why.to_string()),
        next_check_at: Some(now + SETTLED_RECHECK),
        expect_state: Some(GrabState::Intent),
        ..GrabUpdate::default()
    };
    if let Ok(true) = ctx
        .db
        .update_grab_order(o.out_order_no.clone(), now, update, vec![mail])
        .await
    {
        ctx.wake_outbox.notify_one();
    }
}

/// Juhe says an `intent` does not exist: send it again under the SAME outOrderNo, with a fresh
/// search (queryKeys expire) — but only while the watch still asks for exactly this order.
async fn resubmit(ctx: &Arc<Ctx>, juhe: &JuheClient, o: GrabOrder) {
    let now = clock::now();
    let watch = ctx.list().watches.iter().find(|w| w.name == o.watch).cloned();
    let Some(w) = watch.filter(|w| w.grab.is_some() && w.dates.contains(&o.date)) else {
        let why = "never created, and its watch (or this date) is gone: not submitted again";
        return close_intent(ctx, &o, why).await;
    };
    let search = match juhe.search(&w.from.name, &w.to.name, o.date, w.student).await {
        Ok(s) => s,
        Err(e) => return retry_later(ctx, &o, &format!("search before resubmitting: {e}"), true).await,
    };
    let plan = match order::plan_order(&w, o.date, &search, &ctx.settings.juhe, &o.out_order_no, now) {
        Ok(plan) => plan,
        Err(refusal) => {
            let why = format!("never created, and cannot be now: {refusal}");
            return close_intent(ctx, &o, &why).await;
        }
    };
    let s = &o.summary;
    if s.trains != plan.summary.trains
        || s.seats != plan.summary.seats
        || s.passengers != plan.summary.passengers
    {
        let why = "never created, and the watch now asks for other trains, seats or passengers: not submitted again";
        return close_intent(ctx, &o, why).await;
    }
    tracing::info!(out_order_no = %o.out_order_no, "Juhe has no such order: submitting the same outOrderNo again");
    let note = GrabUpdate {
        event: Some("not found at Juhe: resubmitted with the same outOrderNo".into()),
        expect_state: Some(GrabState::Intent),
        ..GrabUpdate::default()
    };
    if !matches!(
        ctx.db
            .update_grab_order(o.out_order_no.clone(), now, note, Vec::new())
            .await,
        Ok(true)
    ) {
        return;
    }
    submit(
        ctx,
        juhe,
        &o.out_order_no,
        &plan.create,
        &o.summary,
        &w.notify,
        true,
    )
    .await;
}
