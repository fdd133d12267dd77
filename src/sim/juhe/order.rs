//! The order script: an order's life on the simulator's clock (N → D → F, U or O; refunds to T)
//! and the pushes each change queues.

use std::time::Duration;

use chrono::NaiveDateTime;
use rand::Rng;
use serde_json::json;

use super::push::Outgoing;
use super::state::KeyTrain;
use super::{JuheDelays, JuheOrderView, JuheOutcome, JuhePassengerView};
use crate::juhe::{OrderStatus, TicketState, msg_code_text};

pub(super) struct Order {
    pub(super) order_no: String,
    pub(super) out_order_no: String,
    pub(super) status: OrderStatus,
    pub(super) created_at: Duration,
    pub(super) outcome: JuheOutcome,
    pub(super) train: KeyTrain,
    pub(super) all_trains: String,
    pub(super) seat_code: String,
    pub(super) main_seat_class: String,
    pub(super) main_train_no: String,
    pub(super) depart: NaiveDateTime,
    pub(super) close_time: NaiveDateTime,
    pub(super) phone_masked: String,
    pub(super) passengers: Vec<Passenger>,
    pub(super) ticket_no: Option<String>,
    pub(super) fail_msg: Option<String>,
    pub(super) issue_time: Option<NaiveDateTime>,
    pub(super) cancel_calls: u32,
}

pub(super) struct Passenger {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) kind: String,
    pub(super) id_type: String,
    pub(super) id_masked: String,
    pub(super) birthday: String,
    pub(super) seat_no: Option<String>,
    pub(super) ticket_no: Option<String>,
    pub(super) state: TicketState,
    pub(super) refund_at: Option<Duration>,
}

impl Order {
    pub(super) fn step(
        &mut self,
        elapsed: Duration,
        now: NaiveDateTime,
        d: JuheDelays,
        out: &mut Vec<Outgoing>,
    ) {
        if self.status.is_cancellable() {
            if now >= self.close_time {
                self.expire(out);
            } else {
                if self.status == OrderStatus::Created && elapsed >= self.created_at + d.grab_after {
                    self.status = OrderStatus::Grabbing;
                }
                if self.status == OrderStatus::Grabbing
                    && elapsed >= self.created_at + d.grab_after + d.finish_after
                {
                    self.finish(now, out);
                }
            }
        }
        for i in 0..self.passengers.len() {
            let due = self.passengers[i].refund_at.is_some_and(|at| elapsed >= at);
            if self.passengers[i].state == TicketState::Refunding && due {
                self.passengers[i].state = TicketState::Refunded;
                self.passengers[i].refund_at = None;
                out.push(Outgoing::new(2, self.refund_push(i, now)));
            }
        }
        if self.status == OrderStatus::Issued
            && self.passengers.iter().all(|p| p.state == TicketState::Refunded)
        {
            self.status = OrderStatus::Refunded;
        }
    }

    fn expire(&mut self, out: &mut Vec<Outgoing>) {
        self.status = OrderStatus::Expired;
        self.fail_msg = Some("抢票单过期".into());
        out.push(Outgoing::new(
            3,
            json!({
                "msgCode": "101",
                "msgInfo": "抢票单过期",
                "orderNo": self.order_no,
                "outOrderNo": self.out_order_no,
            }),
        ));
    }

    fn finish(&mut self, now: NaiveDateTime, out: &mut Vec<Outgoing>) {
        match self.outcome.clone() {
            JuheOutcome::Expire => self.expire(out),
            JuheOutcome::Fail(code) => {
                self.status = OrderStatus::Failed;
                let info = if code == "101" {
                    "出票失败".to_string()
                } else {
                    msg_code_text(&code).unwrap_or("出票失败").to_string()
                };
                self.fail_msg = Some(info.clone());
                out.push(Outgoing::new(1, self.fail_push(&code, &info)));
            }
            JuheOutcome::Issue => {
                let mut rng = rand::rng();
                let ticket = format!("E{:09}", rng.random_range(0..1_000_000_000u32));
                for (i, p) in self.passengers.iter_mut().enumerate() {
                    let seat = 9 + i;
                    p.seat_no = Some(format!("07车厢,{seat:03}号"));
                    p.ticket_no = Some(format!("{ticket}107{seat:04}"));
                    p.state = TicketState::Issued;
                }
                self.ticket_no = Some(ticket);
                self.issue_time = Some(now);
                self.status = OrderStatus::Issued;
                out.push(Outgoing::new(1, self.issue_push()));
            }
        }
    }

    pub(super) fn price(&self) -> f64 {
        self.train.prices.get(&self.seat_code).copied().unwrap_or(0.0)
    }

    pub(super) fn arrival(&self) -> NaiveDateTime {
        let minutes = crate::sim::rail::minutes_between(self.train.depart, self.train.arrive);
        self.depart + chrono::Duration::minutes(i64::from(minutes))
    }

    pub(super) fn view(&self) -> JuheOrderView {
        JuheOrderView {
            order_no: self.order_no.clone(),
            out_order_no: self.out_order_no.clone(),
            status: self.status.code().to_string(),
            train_no: self.train.code.clone(),
            seat_class_code: self.seat_code.clone(),
            ticket_no: self.ticket_no.clone(),
            passengers: self
                .passengers
                .iter()
                .map(|p| JuhePassengerView {
                    passenger_id: p.id.clone(),
                    name: p.name.clone(),
                    seat_no: p.seat_no.clone(),
                    ticket_state: p.state.code().to_string(),
                })
                .collect(),
            cancel_calls: self.cancel_calls,
        }
    }
}
