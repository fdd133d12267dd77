//! 抢票 grab orders (`grab_order`), their event history (`grab_event`), the cancel and refund
//! requests the user made (`grab_request`) and the Juhe pushes received (`juhe_push`).
//!
//! The order row is written BEFORE `createOrder` is sent (the `outOrderNo` is the idempotency
//! key). Every change is guarded by the state its caller read ([`GrabUpdate::expect_state`]):
//! a slower path never overwrites a newer outcome, and never queues the same email twice. ID
//! numbers are never stored, only masked summaries.

use chrono::{DateTime, FixedOffset, NaiveDate};
use rusqlite::{Connection, OptionalExtension, Row};

use super::error::StoreError;
use super::outbox::NewEmail;
use super::outbox::insert_email;
use super::sql::{date_at, date_text, decode, json, ms, opt_time_at, time_at};
use super::sqlite::Store;
use super::status::JobKey;
use crate::juhe::OrderDetail;
use crate::order::{GrabState, OrderSummary};

/// One grab order as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct GrabOrder {
    pub out_order_no: String,
    pub watch: String,
    pub date: NaiveDate,
    pub state: GrabState,
    /// Juhe's orderNo once known.
    pub order_no: Option<String>,
    /// What was ordered, without secrets.
    pub summary: OrderSummary,
    /// The last `orderDetail` (masked).
    pub detail: Option<OrderDetail>,
    pub last_error: Option<String>,
    /// Juhe refused a resubmission of this intent: one more "not found" closes it.
    pub resubmit_refused: bool,
    pub created_at: DateTime<FixedOffset>,
    pub updated_at: DateTime<FixedOffset>,
    pub next_check_at: DateTime<FixedOffset>,
}

/// A grab order as plain stored text, for the status page's view model (which keeps no domain
/// types); made from a [`GrabOrder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrabOrderRow {
    pub out_order_no: String,
    pub watch: String,
    pub date: NaiveDate,
    /// `intent`, a Juhe status letter, or `abandoned` ([`GrabState::code`]).
    pub state: String,
    pub order_no: Option<String>,
    /// JSON of the [`OrderSummary`].
    pub summary: String,
    /// JSON of the last [`OrderDetail`].
    pub detail: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTime<FixedOffset>,
    pub updated_at: DateTime<FixedOffset>,
    pub next_check_at: DateTime<FixedOffset>,
}

impl From<&GrabOrder> for GrabOrderRow {
    fn from(o: &GrabOrder) -> GrabOrderRow {
        GrabOrderRow {
            out_order_no: o.out_order_no.clone(),
            watch: o.watch.clone(),
            date: o.date,
            state: o.state.code().to_string(),
            order_no: o.order_no.clone(),
            summary: json(&o.summary),
            detail: o.detail.as_ref().map(json),
            last_error: o.last_error.clone(),
            created_at: o.created_at,
            updated_at: o.updated_at,
            next_check_at: o.next_check_at,
        }
    }
}

/// A grab intent to store before `createOrder` is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct GrabIntent {
    pub out_order_no: String,
    pub watch: String,
    pub date: NaiveDate,
    pub summary: OrderSummary,
    pub at: DateTime<FixedOffset>,
}

/// A change to a grab order, written with its event row and emails in one transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GrabUpdate {
    pub state: Option<GrabState>,
    pub order_no: Option<String>,
    pub detail: Option<OrderDetail>,
    /// `Some(None)` clears it.
    pub last_error: Option<Option<String>>,
    pub next_check_at: Option<DateTime<FixedOffset>>,
    /// A history line (`created`, `D 抢票中`, …); none = no event row.
    pub event: Option<String>,
    /// Apply only if the order is still in this state (what the caller read): a slower task
    /// never overwrites a newer outcome, and never sends its email twice.
    pub expect_state: Option<GrabState>,
    pub resubmit_refused: Option<bool>,
    /// This change carries Juhe's answer to the user's refund requests (refunded, or refused):
    /// they are marked answered.
    pub answers_refunds: bool,
}

/// What the user asked of an order from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestKind {
    /// `yupiao orders cancel`.
    Cancel,
    /// `yupiao orders refund`: one passenger's ticket.
    Refund { passenger_id: String },
}

/// A cancel or refund the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrabRequest {
    pub kind: RequestKind,
    pub at: DateTime<FixedOffset>,
    /// When Juhe's answer to a refund was recorded.
    pub answered_at: Option<DateTime<FixedOffset>>,
}

/// One line of an order's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrabEvent {
    pub at: DateTime<FixedOffset>,
    /// The order's state after the event.
    pub state: GrabState,
    pub note: String,
}

/// A Juhe push, identified by its dedupe key (`outOrderNo:type:msgCode`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    pub dedupe_key: String,
    pub out_order_no: String,
    /// 1 出票, 2 退票, 3 过期.
    pub kind: u8,
    pub msg_code: String,
}

const GRAB_COLUMNS: &str = "out_order_no, watch, date, state, order_no, summary, detail, last_error,
     resubmit_refused, created_at, updated_at, next_check_at";

/// The stored values of one order; [`RawOrder::decode`] turns them into a [`GrabOrder`].
struct RawOrder {
    out_order_no: String,
    watch: String,
    date: NaiveDate,
    state: String,
    order_no: Option<String>,
    summary: String,
    detail: Option<String>,
    last_error: Option<String>,
    resubmit_refused: bool,
    created_at: DateTime<FixedOffset>,
    updated_at: DateTime<FixedOffset>,
    next_check_at: DateTime<FixedOffset>,
}

fn raw_order(r: &Row<'_>) -> rusqlite::Result<RawOrder> {
    Ok(RawOrder {
        out_order_no: r.get(0)?,
        watch: r.get(1)?,
        date: date_at(r, 2)?,
        state: r.get(3)?,
        order_no: r.get(4)?,
        summary: r.get(5)?,
        detail: r.get(6)?,
        last_error: r.get(7)?,
        resubmit_refused: r.get(8)?,
        created_at: time_at(r, 9)?,
        updated_at: time_at(r, 10)?,
        next_check_at: time_at(r, 11)?,
    })
}

impl RawOrder {
    fn decode(self) -> Result<GrabOrder, StoreError> {
        let key = self.out_order_no.as_str();
        let summary = decode("grab_order", key, "summary", &self.summary)?;
        let detail = match &self.detail {
            Some(d) => Some(decode("grab_order", key, "detail", d)?),
            None => None,
        };
        Ok(GrabOrder {
            state: GrabState::parse(&self.state),
            summary,
            detail,
            out_order_no: self.out_order_no,
            watch: self.watch,
            date: self.date,
            order_no: self.order_no,
            last_error: self.last_error,
            resubmit_refused: self.resubmit_refused,
            created_at: self.created_at,
            updated_at: self.updated_at,
            next_check_at: self.next_check_at,
        })
    }
}

fn orders(
    conn: &Connection,
    filter: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<GrabOrder>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {GRAB_COLUMNS} FROM grab_order {filter} ORDER BY created_at DESC, out_order_no"
    ))?;
    let raw = stmt
        .query_map(params, raw_order)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    raw.into_iter().map(RawOrder::decode).collect()
}

impl Store {
    /// Stores a grab intent BEFORE createOrder is sent. Fails if the outOrderNo exists.
    pub fn insert_grab_intent(&mut self, i: &GrabIntent) -> Result<(), StoreError> {
        let summary = json(&i.summary);
        self.write_tx(|tx| {
            tx.execute(
                "INSERT INTO grab_order (out_order_no, watch, date, state, summary, created_at, updated_at, next_check_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?6)",
                (
                    &i.out_order_no,
                    &i.watch,
                    date_text(i.date),
                    GrabState::Intent.code(),
                    &summary,
                    ms(i.at),
                ),
            )?;
            insert_event(
                tx,
                &i.out_order_no,
                i.at,
                &GrabState::Intent,
                "outOrderNo stored before createOrder",
            )
        })
    }

    /// Every grab order, newest first.
    pub fn grab_orders(&self) -> Result<Vec<GrabOrder>, StoreError> {
        orders(&self.conn, "", [])
    }

    /// The orders of one (watch, date), newest first.
    pub fn grab_orders_for(&self, watch: &str, date: NaiveDate) -> Result<Vec<GrabOrder>, StoreError> {
        orders(
            &self.conn,
            "WHERE watch = ?1 AND date = ?2",
            (watch, date_text(date)),
        )
    }

    /// Orders of (watch, date) that are not settled (they count against `orders_per_date`).
    pub fn live_grab_orders(&self, watch: &str, date: NaiveDate) -> Result<Vec<GrabOrder>, StoreError> {
        let mut all = self.grab_orders_for(watch, date)?;
        all.retain(|o| !o.state.is_settled());
        Ok(all)
    }

    /// One grab order.
    pub fn grab_order(&self, out_order_no: &str) -> Result<Option<GrabOrder>, StoreError> {
        Ok(orders(&self.conn, "WHERE out_order_no = ?1", [out_order_no])?
            .into_iter()
            .next())
    }

    /// Orders whose next check is due (SQL decides, on the `next_check_at` index): unsettled
    /// ones, and settled ones brought back by a refund or a push. Abandoned intents never are.
    pub fn due_grab_orders(&self, now: DateTime<FixedOffset>) -> Result<Vec<GrabOrder>, StoreError> {
        orders(
            &self.conn,
            "WHERE next_check_at <= ?1 AND state != ?2",
            (ms(now), GrabState::Abandoned.code()),
        )
    }

    /// Applies `update` to an order, with its event row and emails, in ONE transaction. False
    /// (and nothing written) when `expect_state` no longer holds.
    pub fn update_grab_order(
        &mut self,
        out_order_no: &str,
        now: DateTime<FixedOffset>,
        update: &GrabUpdate,
        emails: &[NewEmail],
    ) -> Result<bool, StoreError> {
        self.write_tx(|tx| write_update(tx, out_order_no, now, update, emails))
    }

    /// The event history of one order, oldest first.
    pub fn grab_events(&self, out_order_no: &str) -> Result<Vec<GrabEvent>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT at, state, note FROM grab_event WHERE out_order_no = ?1 ORDER BY id")?;
        let rows = stmt
            .query_map([out_order_no], |r| {
                Ok(GrabEvent {
                    at: time_at(r, 0)?,
                    state: GrabState::parse(&r.get::<_, String>(1)?),
                    note: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The cancel and refund requests made for one order, oldest first.
    pub fn grab_requests(&self, out_order_no: &str) -> Result<Vec<GrabRequest>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, kind, passenger_id, at, answered_at FROM grab_request
             WHERE out_order_no = ?1 ORDER BY id",
        )?;
        let raw = stmt
            .query_map([out_order_no], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    time_at(r, 3)?,
                    opt_time_at(r, 4)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raw.into_iter()
            .map(|(id, kind, passenger, at, answered_at)| {
                let kind = match (kind.as_str(), passenger) {
                    ("cancel", _) => RequestKind::Cancel,
                    ("refund", Some(passenger_id)) => RequestKind::Refund { passenger_id },
                    (other, p) => {
                        let detail = format!("kind {other:?} with passenger {p:?}");
                        return Err(StoreError::bad_row("grab_request", format!("id {id}"), detail));
                    }
                };
                Ok(GrabRequest {
                    kind,
                    at,
                    answered_at,
                })
            })
            .collect()
    }

    /// Records what the user asked of an order (`orders cancel`, `orders refund`) with its
    /// history line, and has the daemon look at the order at once: one transaction.
    pub fn request_grab_change(
        &mut self,
        out_order_no: &str,
        kind: &RequestKind,
        note: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<(), StoreError> {
        self.write_tx(|tx| {
            let passenger = match kind {
                RequestKind::Cancel => None,
                RequestKind::Refund { passenger_id } => Some(passenger_id.as_str()),
            };
            let kind_text = if passenger.is_some() { "refund" } else { "cancel" };
            tx.prepare_cached(
                "INSERT INTO grab_request (out_order_no, kind, passenger_id, at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute((out_order_no, kind_text, passenger, ms(now)))?;
            let update = GrabUpdate {
                next_check_at: Some(now),
                event: Some(note.to_string()),
                ..GrabUpdate::default()
            };
            write_update(tx, out_order_no, now, &update, &[]).map(|_| ())
        })
    }

    /// Records a Juhe push by its dedupe key and, the first time, has the daemon look at the
    /// order at once (with a history line): one transaction. False when the same push was
    /// already recorded.
    pub fn record_push(&mut self, push: &Push, now: DateTime<FixedOffset>) -> Result<bool, StoreError> {
        self.write_tx(|tx| {
            let n = tx.execute(
                "INSERT OR IGNORE INTO juhe_push (dedupe_key, received_at, out_order_no, kind, msg_code)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                (
                    &push.dedupe_key,
                    ms(now),
                    &push.out_order_no,
                    push.kind,
                    &push.msg_code,
                ),
            )?;
            if n == 0 {
                return Ok(false);
            }
            let update = GrabUpdate {
                next_check_at: Some(now),
                event: Some(format!(
                    "push type {} msgCode {} received; confirming with orderDetail",
                    push.kind, push.msg_code
                )),
                ..GrabUpdate::default()
            };
            write_update(tx, &push.out_order_no, now, &update, &[])?;
            Ok(true)
        })
    }
}

fn insert_event(
    conn: &Connection,
    out_order_no: &str,
    at: DateTime<FixedOffset>,
    state: &GrabState,
    note: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT INTO grab_event (at, out_order_no, state, note) VALUES (?1, ?2, ?3, ?4)")?
        .execute((ms(at), out_order_no, state.code(), note))?;
    Ok(())
}

/// [`Store::update_grab_order`] inside the caller's transaction.
fn write_update(
    tx: &Connection,
    out_order_no: &str,
    now: DateTime<FixedOffset>,
    update: &GrabUpdate,
    emails: &[NewEmail],
) -> Result<bool, StoreError> {
    let (watch, state): (String, String) = tx
        .prepare_cached("SELECT watch, state FROM grab_order WHERE out_order_no = ?1")?
        .query_row([out_order_no], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or_else(|| StoreError::NoGrabOrder(out_order_no.to_string()))?;
    let state = GrabState::parse(&state);
    if update
        .expect_state
        .as_ref()
        .is_some_and(|expected| *expected != state)
    {
        return Ok(false);
    }
    let new_state = update.state.clone().unwrap_or(state);
    tx.prepare_cached(
        "UPDATE grab_order SET state = ?2, order_no = coalesce(?3, order_no), detail = coalesce(?4, detail),
             last_error = CASE WHEN ?5 THEN ?6 ELSE last_error END,
             next_check_at = coalesce(?7, next_check_at), updated_at = ?8,
             resubmit_refused = coalesce(?9, resubmit_refused)
         WHERE out_order_no = ?1",
    )?
    .execute(rusqlite::params![
        out_order_no,
        new_state.code(),
        update.order_no,
        update.detail.as_ref().map(json),
        update.last_error.is_some(),
        update.last_error.clone().flatten(),
        update.next_check_at.map(ms),
        ms(now),
        update.resubmit_refused,
    ])?;
    if let Some(note) = &update.event {
        insert_event(tx, out_order_no, now, &new_state, note)?;
    }
    if update.answers_refunds {
        tx.prepare_cached(
            "UPDATE grab_request SET answered_at = ?2
             WHERE out_order_no = ?1 AND kind = 'refund' AND answered_at IS NULL",
        )?
        .execute((out_order_no, ms(now)))?;
    }
    let filed = JobKey::watch(watch).to_string();
    for email in emails {
        insert_email(tx, &filed, now, email)?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::juhe::OrderStatus;
    use crate::order::tests::summary;
    use crate::store::fixtures::{at, date, open};
    use crate::store::outbox::EmailKind;

    fn intent(out: &str, min: i64) -> GrabIntent {
        GrabIntent {
            out_order_no: out.into(),
            watch: "回家".into(),
            date: date(),
            summary: summary(),
            at: at(min),
        }
    }

    fn issued() -> GrabState {
        GrabState::Juhe(OrderStatus::Issued)
    }

    #[test]
    fn a_grab_intent_is_stored_once_and_followed_with_its_events() {
        let (_dir, mut store) = open();
        store.insert_grab_intent(&intent("YP20261122A", 0)).unwrap();
        assert!(
            store.insert_grab_intent(&intent("YP20261122A", 1)).is_err(),
            "an outOrderNo names one intent, never two"
        );
        assert_eq!(store.live_grab_orders("回家", date()).unwrap().len(), 1);
        assert_eq!(
            store.due_grab_orders(at(0)).unwrap().len(),
            1,
            "an intent is checked at once"
        );
        let email = NewEmail {
            kind: EmailKind::Order,
            recipients: vec!["me@example.com".into()],
            subject: "【抢票】出票成功".into(),
            text: "t".into(),
            html: "h".into(),
            push: None,
        };
        let update = GrabUpdate {
            state: Some(issued()),
            order_no: Some("J1".into()),
            detail: None,
            last_error: Some(None),
            next_check_at: Some(at(600)),
            event: Some("F 出票成功".into()),
            expect_state: Some(GrabState::Intent),
            ..GrabUpdate::default()
        };
        store
            .update_grab_order("YP20261122A", at(5), &update, std::slice::from_ref(&email))
            .unwrap();
        let row = store.grab_order("YP20261122A").unwrap().unwrap();
        assert_eq!(
            (row.state.clone(), row.order_no.as_deref()),
            (issued(), Some("J1"))
        );
        assert_eq!(row.summary, summary(), "the summary reads back as stored");
        assert!(
            store.live_grab_orders("回家", date()).unwrap().is_empty(),
            "F is settled"
        );
        assert_eq!(store.grab_events("YP20261122A").unwrap().len(), 2);
        assert_eq!(store.outbox_counts(&JobKey::watch("回家")).unwrap().pending, 1);
        let push = Push {
            dedupe_key: "YP20261122A:1:100".into(),
            out_order_no: "YP20261122A".into(),
            kind: 1,
            msg_code: "100".into(),
        };
        assert!(store.record_push(&push, at(6)).unwrap());
        assert!(
            !store.record_push(&push, at(7)).unwrap(),
            "a duplicate push is recognised"
        );
        assert_eq!(
            store.grab_order("YP20261122A").unwrap().unwrap().next_check_at,
            at(6),
            "a fresh push asks for a look now"
        );
    }

    #[test]
    fn sql_decides_which_orders_are_due_and_a_stale_look_changes_nothing() {
        let (_dir, mut store) = open();
        for (out, min) in [("YP1", 0), ("YP2", 10), ("YP3", 0)] {
            store.insert_grab_intent(&intent(out, min)).unwrap();
        }
        let abandon = GrabUpdate {
            state: Some(GrabState::Abandoned),
            ..GrabUpdate::default()
        };
        store.update_grab_order("YP3", at(1), &abandon, &[]).unwrap();
        let due: Vec<String> = store
            .due_grab_orders(at(5))
            .unwrap()
            .into_iter()
            .map(|o| o.out_order_no)
            .collect();
        assert_eq!(due, ["YP1"], "YP2 is not due yet, an abandoned intent never is");
        let stale = GrabUpdate {
            state: Some(issued()),
            expect_state: Some(GrabState::Juhe(OrderStatus::Grabbing)),
            ..GrabUpdate::default()
        };
        assert!(!store.update_grab_order("YP1", at(6), &stale, &[]).unwrap());
        assert_eq!(store.grab_order("YP1").unwrap().unwrap().state, GrabState::Intent);
        assert!(matches!(
            store.update_grab_order("YP9", at(6), &stale, &[]),
            Err(StoreError::NoGrabOrder(_))
        ));
    }

    #[test]
    fn requests_are_kept_with_their_answers_and_bring_the_order_back_at_once() {
        let (_dir, mut store) = open();
        store.insert_grab_intent(&intent("YP1", 0)).unwrap();
        let settle = GrabUpdate {
            state: Some(issued()),
            next_check_at: Some(at(100_000)),
            ..GrabUpdate::default()
        };
        store.update_grab_order("YP1", at(1), &settle, &[]).unwrap();
        let refund = RequestKind::Refund {
            passenger_id: "623838773".into(),
        };
        store
            .request_grab_change("YP1", &refund, "refund requested for passenger 623838773", at(2))
            .unwrap();
        assert_eq!(store.due_grab_orders(at(2)).unwrap().len(), 1);
        let requests = store.grab_requests("YP1").unwrap();
        assert_eq!(requests.len(), 1);
        assert_eq!(
            (requests[0].kind.clone(), requests[0].answered_at),
            (refund.clone(), None)
        );
        let answered = GrabUpdate {
            event: Some("张三: 已退票".into()),
            answers_refunds: true,
            ..GrabUpdate::default()
        };
        store.update_grab_order("YP1", at(3), &answered, &[]).unwrap();
        assert_eq!(store.grab_requests("YP1").unwrap()[0].answered_at, Some(at(3)));
        let notes: Vec<String> = store
            .grab_events("YP1")
            .unwrap()
            .into_iter()
            .map(|e| e.note)
            .collect();
        assert!(notes.contains(&"refund requested for passenger 623838773".to_string()));
    }

    #[test]
    fn an_order_whose_summary_does_not_decode_is_an_error_naming_it() {
        let (_dir, mut store) = open();
        store.insert_grab_intent(&intent("YP1", 0)).unwrap();
        store
            .conn
            .execute(
                "UPDATE grab_order SET summary = '{}' WHERE out_order_no = 'YP1'",
                [],
            )
            .unwrap();
        let e = store.grab_order("YP1").unwrap_err();
        assert!(
            matches!(&e, StoreError::BadRow { table: "grab_order", key, .. } if key == "YP1"),
            "{e:?}"
        );
    }
}
