//! 抢票: the decisions between Juhe's answers and what the daemon stores, sends and does next.
//! Pure (the caller passes the stored state, the answer and `now`), because money and real
//! tickets are at stake and every branch deserves a test.
//!
//! - [`placing`]: whether a poll of a grab watch places an order for a date.
//! - [`after_create`]: what a `createOrder` answer means: created, refused for good, or unknown
//!   (then the order is *asked about*, never blindly sent again).
//! - [`after_detail`]: what an `orderDetail` answer means for the stored order: record what
//!   changed, look again later, give an intent up, or submit it again under the same number.
//! - [`assess`]: the events (emails, history lines) a fresh `orderDetail` means.

use chrono::{DateTime, FixedOffset, NaiveDateTime};

use crate::juhe::{Created, JuheError, OrderDetail, OrderStatus, TicketState};
use crate::order::{GrabState, OrderEvent, failure_reason};

/// Whether to place an order for one (watch, date), and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placing {
    /// Neither did seats just appear nor does the watch grab from the start.
    NotAsked,
    /// An order of this date ended grabbing (issued, refunded, cancelled): never again by itself.
    Settled {
        out_order_no: String,
        state: GrabState,
    },
    /// `orders_per_date` orders are live already.
    EnoughLive {
        live: usize,
    },
    /// `grab_on = "start"` orders once per date; a settled one is not replaced by itself.
    StartedBefore,
    Place,
}

/// One stored order of the date, as [`placing`] needs it.
#[derive(Debug, Clone, Copy)]
pub struct Existing<'a> {
    pub out_order_no: &'a str,
    pub state: &'a GrabState,
}

/// Whether a poll of a grab watch places an order for a date (`orders`: that date's stored
/// orders; `grab_from_start`: the watch's `grab_on = "start"`).
pub fn placing(
    orders: &[Existing<'_>],
    allowed: usize,
    seats_appeared: bool,
    grab_from_start: bool,
) -> Placing {
    if !(seats_appeared || grab_from_start) {
        return Placing::NotAsked;
    }
    if let Some(done) = orders.iter().find(|o| o.state.ends_grabbing()) {
        return Placing::Settled {
            out_order_no: done.out_order_no.to_string(),
            state: done.state.clone(),
        };
    }
    let live = orders.iter().filter(|o| !o.state.is_settled()).count();
    if live >= allowed {
        return Placing::EnoughLive { live };
    }
    if !seats_appeared && !orders.is_empty() {
        return Placing::StartedBefore;
    }
    Placing::Place
}

/// What a `createOrder` answer means.
#[derive(Debug, Clone, PartialEq)]
pub enum CreateOutcome {
    /// Juhe took the order: state N, an email.
    Created { event: OrderEvent, order_no: String },
    /// The order may exist (no answer, an unreadable one, "already exists", an expired
    /// queryKey): ask `orderDetail` — at once for "already exists" — and never mint a new number.
    Unknown {
        why: String,
        ask_now: bool,
        /// A resubmission Juhe refused: one more "not found" gives the intent up.
        resubmit_refused: bool,
    },
    /// Juhe refused it for good: abandoned, with an email saying why.
    Refused { event: OrderEvent, reason: String },
}

/// What the answer to `createOrder` means; `resubmission` = the intent was sent before and Juhe
/// said it does not know it.
pub fn after_create(result: &Result<Created, JuheError>, resubmission: bool) -> CreateOutcome {
    match result {
        Ok(created) => CreateOutcome::Created {
            event: OrderEvent::Created {
                order_no: created.order_no.clone(),
            },
            order_no: created.order_no.clone(),
        },
        Err(e)
            if e.is_duplicate_order()
                || e.is_transient()
                || matches!(e, JuheError::Decode(_))
                || e.msg_code() == Some("215") =>
        {
            CreateOutcome::Unknown {
                why: format!("createOrder outcome unknown: {e}"),
                ask_now: e.is_duplicate_order(),
                resubmit_refused: false,
            }
        }
        // The first create may have landed after all (a stale "not found"): check again before
        // believing the refusal.
        Err(e) if resubmission => CreateOutcome::Unknown {
            why: format!("resubmit refused: {e}"),
            ask_now: false,
            resubmit_refused: true,
        },
        Err(e) => CreateOutcome::Refused {
            event: OrderEvent::CreateRefused {
                reason: e.to_string(),
            },
            reason: e.to_string(),
        },
    }
}

/// The stored order, as [`after_detail`] needs it.
#[derive(Debug, Clone)]
pub struct Stored<'a> {
    pub state: &'a GrabState,
    pub order_no: Option<&'a str>,
    pub detail: Option<&'a OrderDetail>,
    pub resubmit_refused: bool,
    /// The grab deadline (from the order's summary).
    pub close_time: NaiveDateTime,
    /// The user asked to cancel it.
    pub cancel_requested: bool,
    /// The user asked for a refund that Juhe has not answered yet.
    pub refund_requested: bool,
}

/// What Juhe said about the order.
#[derive(Debug, Clone, Copy)]
pub enum DetailAnswer<'a> {
    Detail(&'a OrderDetail),
    Failed(&'a JuheError),
}

/// What to do after asking `orderDetail`.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Record the failed look; look again soon (transient trouble) or at the normal pace.
    RetryLater { why: String, transient: bool },
    /// Give the intent up for good and tell the user why.
    Close { why: String },
    /// Juhe never got the intent: submit it again under the same outOrderNo.
    Resubmit,
    /// Record what Juhe says.
    Record(Recorded),
}

/// What a readable `orderDetail` changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// Each is an email and a history line.
    pub events: Vec<OrderEvent>,
    pub state: GrabState,
    /// Nothing more will happen by itself: look again only when asked.
    pub settled: bool,
    /// Juhe answered the user's refund requests (refunded, or refused).
    pub answers_refunds: bool,
}

/// What an `orderDetail` answer means for the stored order (see the module docs).
pub fn after_detail(o: &Stored<'_>, answer: DetailAnswer<'_>, now: DateTime<FixedOffset>) -> Next {
    let intent = *o.state == GrabState::Intent;
    let d = match answer {
        DetailAnswer::Detail(d) if matches!(&d.status, OrderStatus::Unknown(code) if code.is_empty()) => {
            return Next::RetryLater {
                why: "orderDetail gave no status".into(),
                transient: true,
            };
        }
        DetailAnswer::Detail(d) => d,
        DetailAnswer::Failed(JuheError::NotFound { .. }) if intent => {
            return if o.cancel_requested {
                Next::Close {
                    why: "cancelled by the user before Juhe knew the order: not submitted again".into(),
                }
            } else if o.resubmit_refused {
                Next::Close {
                    why: "Juhe refused to take it again and does not know it: no order".into(),
                }
            } else {
                Next::Resubmit
            };
        }
        DetailAnswer::Failed(_) if intent && o.close_time < now.naive_local() => {
            return Next::Close {
                why: "the grab deadline passed and Juhe never confirmed this order: check it with Juhe"
                    .into(),
            };
        }
        DetailAnswer::Failed(e) => {
            return Next::RetryLater {
                why: e.to_string(),
                transient: e.is_transient(),
            };
        }
    };
    let mut events = Vec::new();
    let prev = match o.state {
        GrabState::Juhe(s) => s.clone(),
        GrabState::Intent | GrabState::Abandoned => OrderStatus::Created,
    };
    if intent {
        let order_no = d.order_no.as_deref().or(o.order_no).unwrap_or_default();
        events.push(OrderEvent::Created {
            order_no: order_no.to_string(),
        });
    }
    events.extend(assess(&prev, o.detail, d));
    let state = GrabState::Juhe(d.status.clone());
    let refund_open = refund_pending(d) || (o.refund_requested && d.status != OrderStatus::Refunded);
    let answers_refunds = events.iter().any(|e| {
        matches!(
            e,
            OrderEvent::Ticket {
                state: TicketState::Refunded | TicketState::RefundFailed,
                ..
            } | OrderEvent::Status {
                status: OrderStatus::Refunded
            }
        )
    });
    Next::Record(Recorded {
        settled: state.is_settled() && !refund_open,
        state,
        events,
        answers_refunds,
    })
}

/// A refund is under way at Juhe (some ticket 退票中).
fn refund_pending(d: &OrderDetail) -> bool {
    d.passengers
        .iter()
        .any(|p| p.ticket_state == Some(TicketState::Refunding))
}

/// Compares a fresh `orderDetail` with the last status known (`Created` for an intent Juhe has
/// just confirmed); the events it means.
pub fn assess(
    prev: &OrderStatus,
    prev_detail: Option<&OrderDetail>,
    detail: &OrderDetail,
) -> Vec<OrderEvent> {
    let mut events = Vec::new();
    let new = &detail.status;
    if matches!(new, OrderStatus::Unknown(s) if s.is_empty()) {
        return events;
    }
    if new != prev {
        events.push(match new {
            OrderStatus::Issued => OrderEvent::Issued,
            OrderStatus::Failed => OrderEvent::Failed {
                reason: failure_reason(detail),
            },
            other => OrderEvent::Status {
                status: other.clone(),
            },
        });
    }
    for p in &detail.passengers {
        let Some(state) = &p.ticket_state else { continue };
        let before = prev_detail.and_then(|d| {
            d.passengers
                .iter()
                .find(|q| q.passenger_id == p.passenger_id && q.passenger_id.is_some())
                .and_then(|q| q.ticket_state.clone())
        });
        let interesting = matches!(
            state,
            TicketState::Refunding | TicketState::Refunded | TicketState::RefundFailed
        );
        if interesting && before.as_ref() != Some(state) {
            let who = p
                .name
                .clone()
                .unwrap_or_else(|| p.passenger_id.clone().unwrap_or_default());
            events.push(OrderEvent::Ticket {
                passenger: who,
                state: state.clone(),
            });
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::tests::{issued, plain};

    #[test]
    fn assess_names_each_state_change_once() {
        let grabbing = plain("D", "");
        assert_eq!(
            assess(&OrderStatus::parse("N"), None, &grabbing),
            vec![OrderEvent::Status {
                status: OrderStatus::Grabbing
            }]
        );
        assert_eq!(
            assess(&OrderStatus::parse("D"), Some(&grabbing), &grabbing),
            vec![],
            "no change, no event"
        );

        let f = issued("F", "F");
        assert_eq!(
            assess(&OrderStatus::parse("D"), Some(&grabbing), &f),
            vec![OrderEvent::Issued]
        );
        assert_eq!(
            assess(&OrderStatus::parse("F"), Some(&f), &f),
            vec![],
            "issued twice is one event"
        );

        let failed = plain("U", "该坐席已售完");
        assert_eq!(
            assess(&OrderStatus::parse("D"), Some(&grabbing), &failed),
            vec![OrderEvent::Failed {
                reason: "该坐席已售完".into()
            }]
        );
        let failed_code = plain("U", "209");
        assert_eq!(
            assess(&OrderStatus::parse("D"), Some(&grabbing), &failed_code),
            vec![OrderEvent::Failed {
                reason: "该坐席已售完（209）".into()
            }],
            "a bare msgCode is spelled out from the table"
        );

        assert_eq!(
            assess(
                &OrderStatus::parse("D"),
                Some(&grabbing),
                &plain("O", "抢票单过期")
            ),
            vec![OrderEvent::Status {
                status: OrderStatus::Expired
            }]
        );
        assert_eq!(
            assess(&OrderStatus::parse("D"), Some(&grabbing), &plain("C", "")),
            vec![OrderEvent::Status {
                status: OrderStatus::Cancelled
            }]
        );

        let refunding = issued("F", "C");
        assert_eq!(
            assess(&OrderStatus::parse("F"), Some(&f), &refunding),
            vec![OrderEvent::Ticket {
                passenger: "张三".into(),
                state: TicketState::Refunding
            }]
        );
        let refunded = issued("T", "T");
        assert_eq!(
            assess(&OrderStatus::parse("F"), Some(&refunding), &refunded),
            vec![
                OrderEvent::Status {
                    status: OrderStatus::Refunded
                },
                OrderEvent::Ticket {
                    passenger: "张三".into(),
                    state: TicketState::Refunded
                },
            ]
        );
        assert_eq!(
            assess(&OrderStatus::parse("T"), Some(&refunded), &refunded),
            vec![]
        );

        let mut blank = plain("D", "");
        blank.status = OrderStatus::Unknown(String::new());
        assert_eq!(
            assess(&OrderStatus::parse("D"), Some(&grabbing), &blank),
            vec![],
            "no status: nothing known"
        );
    }
}
