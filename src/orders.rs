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
use crate::juhe::{JuheClient, JuheError, OrderDetail, OrderStatus};
use crate::order::{CANCEL_REQUESTED, OrderSummary, REFUND_REQUESTED};
use crate::store::{GrabOrderRow, GrabUpdate, Store};

fn state_label(state: &str) -> String {
    match state {
        "intent" => "intent（已记录，等待聚合确认）".into(),
        "abandoned" => "abandoned（未下单）".into(),
        code => format!("{code} {}", OrderStatus::parse(code).label_zh()),
    }
}

fn summary_of(o: &GrabOrderRow) -> Option<OrderSummary> {
    serde_json::from_str(&o.summary).ok()
}

fn detail_of(o: &GrabOrderRow) -> Option<OrderDetail> {
    o.detail.as_deref().and_then(|d| serde_json::from_str(d).ok())
}

fn row_json(o: &GrabOrderRow) -> serde_json::Value {
    let s = summary_of(o);
    let d = detail_of(o);
    json!({
        "out_order_no": o.out_order_no,
        "order_no": o.order_no,
        "watch": o.watch,
        "date": o.date.to_string(),
        "state": o.state,
        "state_name": state_label(&o.state),
        "trains": s.as_ref().map(|s| s.trains.clone()),
        "seats": s.as_ref().map(|s| s.seat_names.clone()),
        "from": s.as_ref().map(|s| s.from_station.clone()),
        "to": s.as_ref().map(|s| s.to_station.clone()),
        "passengers": s.as_ref().map(|s| s.passengers.clone()),
        "ticket_no": d.as_ref().and_then(|d| d.ticket_no.clone()),
        "seat_numbers": d.as_ref().map(|d| d.passengers.iter().filter_map(|p| p.seat_no.clone()).collect::<Vec<_>>()),
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
        let s = summary_of(o);
        println!(
            "{}  {}  {} {}  {}  {}",
            o.out_order_no,
            o.date,
            s.as_ref().map(|s| s.trains.join("/")).unwrap_or_default(),
            s.as_ref()
                .map(|s| format!("{}→{}", s.from_station, s.to_station))
                .unwrap_or_default(),
            state_label(&o.state),
            o.watch
        );
    }
    Ok(())
}

fn find(store: &Store, out: &str) -> anyhow::Result<GrabOrderRow> {
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
    println!("  state     {}", state_label(&o.state));
    println!("  watch     {}  date {}", o.watch, o.date);
    if let Some(s) = summary_of(&o) {
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
    if let Some(d) = detail_of(&o) {
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
            println!("  failure   {}", crate::order::failure_reason(&d));
        }
    }
    if let Some(e) = &o.last_error {
        println!("  last error {e}");
    }
    println!("  history:");
    for (at, state, note) in store.grab_events(&o.out_order_no)? {
        println!("    {}  {:<9} {}", at.format("%m-%d %H:%M:%S"), state, note);
    }
    Ok(())
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
    let status = OrderStatus::parse(&o.state);
    if o.state != "intent" && !status.is_cancellable() {
        anyhow::bail!(
            "{out} is {}: Juhe cancels only while grabbing (N 已创建, B 未到开抢时间, D 抢票中){}",
            state_label(&o.state),
            if status == OrderStatus::Issued {
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
        Err(JuheError::NotFound { .. }) if o.state == "intent" => {
            format!(
                "{CANCEL_REQUESTED} by the user before Juhe knew the order; it will not be submitted again"
            )
        }
        Err(e) => anyhow::bail!(explain(e, "cancel")),
    };
    store.update_grab_order(
        out,
        now,
        &GrabUpdate {
            next_check_at: Some(now),
            event: Some(note),
            ..GrabUpdate::default()
        },
        &[],
    )?;
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
    if o.state != "F" {
        anyhow::bail!(
            "{out} is {}: only issued orders (F 出票成功) can be refunded",
            state_label(&o.state)
        );
    }
    if let Some(d) = detail_of(&o) {
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
    store.update_grab_order(
        out,
        now,
        &GrabUpdate {
            next_check_at: Some(now),
            event: Some(format!("{REFUND_REQUESTED} for passenger {passenger_id}")),
            ..GrabUpdate::default()
        },
        &[],
    )?;
    println!(
        "refund requested for passenger {} of order {}: Juhe answers by push and orderDetail; the daemon emails the result",
        r.passenger_id, r.order_no
    );
    Ok(())
}
