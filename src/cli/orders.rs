//! `yupiao orders`: list, show, cancel and refund grab orders from the command line.
//!
//! Reads the same database as the daemon (WAL makes that safe while it runs) and talks to Juhe
//! directly for cancel and refund. Juhe's refusals are explained in words (cancel works only
//! while grabbing; refunds are per passenger and not within 5 minutes of issue). Everything shown
//! is masked: the store never holds whole ID or phone numbers.

use std::path::Path;

use anyhow::Context as _;
use serde_json::json;

use crate::clock;
use crate::config::Settings;
use crate::juhe::{JuheClient, JuheError, OrderStatus};
use crate::order::GrabState;
use crate::store::{GrabOrder, RequestKind, Store};

/// The history line of a cancel the user asked for.
const CANCEL_REQUESTED: &str = "cancel requested";
/// The history line of a refund the user asked for.
const REFUND_REQUESTED: &str = "refund requested";

fn row_json(o: &GrabOrder) -> serde_json::Value {
    let s = &o.summary;
    let d = o.detail.as_ref();
    json!({
        "out_order_no": o.out_order_no,
        "order_no": o.order_no,
        "watch": o.watch,
        "date": o.date.to_string(),
        "state": o.state.code(),
        "state_name": o.state.label(),
        "trains": s.trains,
        "seats": s.seat_names,
        "from": s.from_station,
        "to": s.to_station,
        "passengers": s.passengers,
        "ticket_no": d.and_then(|d| d.ticket_no.clone()),
        "seat_numbers": d.map(|d| d.passengers.iter().filter_map(|p| p.seat_no.clone()).collect::<Vec<_>>()),
        "last_error": o.last_error,
        "created_at": o.created_at.to_rfc3339(),
        "updated_at": o.updated_at.to_rfc3339(),
    })
}

/// `yupiao orders [--json]`.
pub fn list(db: &Path, json: bool) -> anyhow::Result<()> {
    let store = Store::open_read_only(db)?;
    let orders = store.grab_orders()?;
    if json {
        for o in &orders {
            println!("{}", row_json(o));
        }
        return Ok(());
    }
    if orders.is_empty() {
        println!("no grab orders yet");
        return Ok(());
    }
    for o in &orders {
        let s = &o.summary;
        println!(
            "{}  {}  {} {}→{}  {}  {}",
            o.out_order_no,
            o.date,
            s.trains.join("/"),
            s.from_station,
            s.to_station,
            o.state.label(),
            o.watch
        );
    }
    Ok(())
}

fn find(store: &Store, out: &str) -> anyhow::Result<GrabOrder> {
    store
        .grab_order(out)?
        .with_context(|| format!("no grab order {out} in this database (see `yupiao orders`)"))
}

/// `yupiao orders show OUT_ORDER_NO`.
pub fn show(db: &Path, out: &str) -> anyhow::Result<()> {
    let store = Store::open_read_only(db)?;
    let o = find(&store, out)?;
    println!(
        "抢票单 {}  (Juhe orderNo {})",
        o.out_order_no,
        o.order_no.as_deref().unwrap_or("—")
    );
    println!("  state     {}", o.state.label());
    println!("  watch     {}  date {}", o.watch, o.date);
    show_summary(&o);
    show_tickets(&o);
    if let Some(e) = &o.last_error {
        println!("  last error {e}");
    }
    println!("  history:");
    for e in store.grab_events(&o.out_order_no)? {
        println!(
            "    {}  {:<9} {}",
            e.at.format("%m-%d %H:%M:%S"),
            e.state.code(),
            e.note
        );
    }
    Ok(())
}

/// What was ordered.
fn show_summary(o: &GrabOrder) {
    let s = &o.summary;
    println!(
        "  trains    {}  seats {}",
        s.trains.join(" / "),
        s.seat_names.join(" / ")
    );
    println!(
        "  route     {} → {}  departs {}",
        s.from_station,
        s.to_station,
        s.departs_at.format("%Y-%m-%d %H:%M")
    );
    println!(
        "  deadline  {}  accept 无座: {}",
        s.close_time.format("%Y-%m-%d %H:%M"),
        s.accept_no_seat
    );
    for p in &s.passengers {
        println!("  passenger {p}");
    }
}

/// The tickets and the failure reason, from the last `orderDetail`.
fn show_tickets(o: &GrabOrder) {
    let Some(d) = &o.detail else { return };
    if let Some(t) = &d.ticket_no {
        println!(
            "  ticket    {t}  price {}",
            d.order_price.map(|p| format!("¥{p:.1}")).unwrap_or_default()
        );
    }
    for p in &d.passengers {
        println!(
            "  ticket of {}: {} {} {} (passengerId {})",
            p.name.as_deref().unwrap_or("?"),
            p.seat_class_name.as_deref().unwrap_or(""),
            p.seat_no.as_deref().unwrap_or(""),
            p.ticket_state.as_ref().map(|s| s.label_zh()).unwrap_or(""),
            p.passenger_id.as_deref().unwrap_or("—")
        );
    }
    if d.fail_msg.is_some() {
        println!("  failure   {}", crate::order::failure_reason(d));
    }
}

fn client(settings: &Settings) -> anyhow::Result<JuheClient> {
    JuheClient::new(&settings.upstream, &settings.juhe).context("Juhe is not set up ([juhe] key)")
}

fn explain(e: &JuheError, what: &str) -> String {
    match e.msg_code() {
        Some("202") => format!("Juhe refused to {what}: the order's state does not allow it (202)"),
        Some("206") => {
            format!("Juhe refused to {what}: too many cancel attempts, cancelling is locked (206)")
        }
        Some("309") => {
            format!("Juhe refused to {what}: no refund within 5 minutes of issue (309); try again later")
        }
        Some("310") => format!("Juhe refused to {what}: too close to departure (310); refund at the station"),
        _ => format!("Juhe refused to {what}: {e}"),
    }
}

/// `yupiao orders cancel OUT_ORDER_NO`: only while grabbing (N, B, D).
pub async fn cancel(settings: &Settings, out: &str) -> anyhow::Result<()> {
    let mut store = Store::open_existing(&settings.store.path)?;
    let o = find(&store, out)?;
    let cancellable = match &o.state {
        GrabState::Intent => true,
        GrabState::Juhe(status) => status.is_cancellable(),
        GrabState::Abandoned => false,
    };
    if !cancellable {
        anyhow::bail!(
            "{out} is {}: Juhe cancels only while grabbing (N 已创建, B 未到开抢时间, D 抢票中){}",
            o.state.label(),
            if o.state == GrabState::Juhe(OrderStatus::Issued) {
                "; to give the ticket back, use `yupiao orders refund`"
            } else {
                ""
            }
        );
    }
    let juhe = client(settings)?;
    let now = clock::now();
    let answer = juhe.cancel_order(out).await;
    let note = match &answer {
        Ok(order_no) => format!("{CANCEL_REQUESTED} by the user; Juhe answered orderNo {order_no}"),
        Err(JuheError::NotFound { .. }) if o.state == GrabState::Intent => {
            format!(
                "{CANCEL_REQUESTED} by the user before Juhe knew the order; it will not be submitted again"
            )
        }
        Err(e) => anyhow::bail!(explain(e, "cancel")),
    };
    store.request_grab_change(out, &RequestKind::Cancel, &note, now)?;
    match answer {
        Ok(order_no) => println!(
            "cancel requested: Juhe accepted it for order {order_no}; the daemon confirms with orderDetail and emails you"
        ),
        Err(_) => println!(
            "Juhe does not know {out} yet; your cancel is recorded and yupiao will not submit it again"
        ),
    }
    Ok(())
}

/// `yupiao orders refund OUT_ORDER_NO PASSENGER_ID`: one passenger of an issued order.
pub async fn refund(settings: &Settings, out: &str, passenger_id: &str) -> anyhow::Result<()> {
    let mut store = Store::open_existing(&settings.store.path)?;
    let o = find(&store, out)?;
    if o.state != GrabState::Juhe(OrderStatus::Issued) {
        anyhow::bail!(
            "{out} is {}: only issued orders (F 出票成功) can be refunded",
            o.state.label()
        );
    }
    if let Some(d) = &o.detail {
        let ids: Vec<String> = d
            .passengers
            .iter()
            .filter_map(|p| p.passenger_id.clone())
            .collect();
        if !ids.is_empty() && !ids.iter().any(|i| i == passenger_id) {
            anyhow::bail!(
                "{out} has no passenger {passenger_id}; its passengerIds are {}",
                ids.join(", ")
            );
        }
    }
    let juhe = client(settings)?;
    let r = juhe
        .apply_refund(out, passenger_id)
        .await
        .map_err(|e| anyhow::anyhow!(explain(&e, "refund")))?;
    let now = clock::now();
    let request = RequestKind::Refund {
        passenger_id: passenger_id.to_string(),
    };
    let note = format!("{REFUND_REQUESTED} for passenger {passenger_id}");
    store.request_grab_change(out, &request, &note, now)?;
    println!(
        "refund requested for passenger {} of order {}: Juhe answers by push and orderDetail; the daemon emails the result",
        r.passenger_id, r.order_no
    );
    Ok(())
}
