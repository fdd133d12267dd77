//! What Juhe says about an order, as JSON: the three pushes (result, refund, expiry) and the two
//! shapes of `orderDetail` (seed 001), plus the data dictionary's seat tables they use.

use chrono::NaiveDateTime;
use serde_json::{Value, json};

use super::order::Order;
use crate::juhe::TicketState;

impl Order {
    /// The type-1 push of an issued order: seats, ticket numbers and the trip.
    pub(super) fn issue_push(&self) -> Value {
        let trip = json!({
            "fromStationCode": self.train.from_code,
            "toStationCode": self.train.to_code,
            "departureTime": seconds(self.depart),
            "arrivalTime": seconds(self.arrival()),
            "trainNo": self.train.code,
            "ticketNo": self.ticket_no,
            "orderAmount": money(self.price() * self.passengers.len() as f64),
            "fromStation": self.train.from_name,
            "toStation": self.train.to_name,
            "issueTime": self.issue_time.map(seconds).unwrap_or_default(),
            "mailCharge": "0.00",
            "msgDetail": null,
            "juheServiceFee": "8",
        });
        self.result_push("100", "出票成功", trip, true)
    }

    /// The type-1 push of a failed grab: no trip; for passenger errors (msgCode 3xx) the
    /// passengers named in `msgDetail`.
    pub(super) fn fail_push(&self, code: &str, info: &str) -> Value {
        let detail = code.starts_with('3').then(|| {
            self.passengers
                .iter()
                .map(|p| format!("{}|{}", p.name, p.id_masked))
                .collect::<Vec<_>>()
                .join(",")
        });
        let trip = json!({
            "fromStationCode": null,
            "toStationCode": null,
            "departureTime": null,
            "arrivalTime": null,
            "trainNo": null,
            "ticketNo": null,
            "orderAmount": null,
            "fromStation": null,
            "toStation": null,
            "issueTime": "",
            "mailCharge": null,
            "msgDetail": detail,
            "juheServiceFee": "0",
        });
        self.result_push(code, info, trip, false)
    }

    /// A type-1 push: what every result carries, plus `trip` (the fields that differ between
    /// an issued order and a failed one). Seat and ticket numbers only once `issued`.
    fn result_push(&self, code: &str, info: &str, trip: Value, issued: bool) -> Value {
        let price = money(self.price());
        let passengers: Vec<Value> = self
            .passengers
            .iter()
            .map(|p| {
                let (seat_no, ticket_no) = if issued {
                    (p.seat_no.clone(), p.ticket_no.clone())
                } else {
                    (None, None)
                };
                json!({
                    "passengerName": p.name,
                    "passengerType": p.kind,
                    "cardType": p.id_type,
                    "cardNo": p.id_masked,
                    "passengerId": p.id,
                    "seatClass": push_seat_class(&self.seat_code),
                    "seatNo": seat_no.unwrap_or_default(),
                    "price": price,
                    "pTicketNo": ticket_no.unwrap_or_default(),
                    "serviceCharge": "0",
                    "insuranceCharge": "0.00",
                })
            })
            .collect();
        let mut body = json!({
            "orderNo": self.order_no,
            "outOrderNo": self.out_order_no,
            "msgCode": code,
            "msgInfo": info,
            "passengers": passengers,
            "isChangedOrder": "0",
            "originalOrderNo": "",
            "changedType": "",
            "serviceCharge": "",
            "changePriceDiff": "",
        });
        if let (Some(all), Value::Object(trip)) = (body.as_object_mut(), trip) {
            all.extend(trip);
        }
        body
    }

    pub(super) fn refund_push(&self, i: usize, now: NaiveDateTime) -> Value {
        let p = &self.passengers[i];
        let price = money(self.price());
        json!({
            "orderNo": self.order_no,
            "outOrderNo": self.out_order_no,
            "refundTime": seconds(now),
            "refundPrice": price,
            "refundType": "online",
            "passengers": [{
                "passengerId": p.id,
                "pTicketNo": p.ticket_no.clone().unwrap_or_default(),
                "passengerName": p.name,
                "passengerType": p.kind,
                "cardType": p.id_type,
                "cardNo": "",
                "refundPrice": price,
            }],
            "msgCode": "100",
            "msgInfo": "线上退票成功",
        })
    }

    /// `orderDetail` without `issue`: the grab view (seed 001's first example).
    pub(super) fn plain_detail(&self) -> Value {
        let passengers: Vec<Value> = self
            .passengers
            .iter()
            .map(|p| {
                json!({
                    "passengerName": p.name,
                    "passengerType": p.kind.parse::<u8>().unwrap_or(1),
                    "certificateNo": p.id_masked,
                    "ticketPrice": if p.state == TicketState::NotIssued { 0.0 } else { self.price() },
                })
            })
            .collect();
        json!({
            "status": self.status.code(),
            "fromStation": self.train.from_name,
            "toStation": self.train.to_name,
            "departDate": self.depart.format("%Y-%m-%dT%H:%M:%S").to_string(),
            "orderNo": self.order_no,
            "outOrderNo": self.out_order_no,
            "trainNo": self.all_trains,
            "seatClass": seat_name(&self.seat_code),
            "passengers": passengers,
            "phone": self.phone_masked,
            "mainTrainNo": self.main_train_no,
            "failMsg": self.fail_msg.clone().unwrap_or_default(),
            "mainSeatClass": self.main_seat_class,
            "grabEndTime": self.close_time.format("%Y-%m-%dT%H:%M:%S").to_string(),
        })
    }

    /// `orderDetail` with `issue=1` (seed 001's second example): no grab status, tickets.
    pub(super) fn issued_detail(&self) -> Value {
        let price = money(self.price());
        let issued = self.status.has_tickets();
        let passengers: Vec<Value> = self
            .passengers
            .iter()
            .map(|p| {
                json!({
                    "passengerId": if issued { p.id.clone() } else { String::new() },
                    "passengerName": p.name,
                    "passengerType": p.kind,
                    "idType": p.id_type,
                    "idCard": p.id_masked,
                    "birthday": p.birthday,
                    "seatClass": self.seat_code,
                    "seatClassName": seat_name(&self.seat_code),
                    "seatNo": p.seat_no.clone().unwrap_or_default(),
                    "pTicketNo": p.ticket_no.clone().unwrap_or_default(),
                    "ticketStateCode": p.state.code(),
                    "ticketState": p.state.label_zh(),
                    "ticketPrice": price,
                    "insureUnitPrice": "0.00",
                    "insureState": null,
                    "insureBillNo": null,
                })
            })
            .collect();
        let train_code = &self.train.code;
        json!({
            "orderNo": self.order_no,
            "outOrderNo": self.out_order_no,
            "trainNo": train_code,
            "trainDate": self.depart.format("%Y-%m-%d").to_string(),
            "fromStation": self.train.from_name,
            "toStation": self.train.to_name,
            "departureTime": seconds(self.depart),
            "arrivalTime": seconds(self.arrival()),
            "orderState": self.status.label_zh(),
            "orderStateCode": self.status.code(),
            "failureReason": self.fail_msg.clone().unwrap_or_default(),
            "issueTime": self.issue_time.map(seconds).unwrap_or_default(),
            "orderPrice": if issued { money(self.price() * self.passengers.len() as f64) } else { "0.00".into() },
            "ticketNo": self.ticket_no.clone().unwrap_or_default(),
            "passengers": passengers,
            "contactInfo": {"person": self.phone_masked, "cellphone": self.phone_masked, "email": ""},
            "juheServiceFee": if issued { "8" } else { "0" },
        })
    }
}

fn money(yuan: f64) -> String {
    format!("{yuan:.2}")
}

fn seconds(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The data dictionary's `seatClass` number used in pushes.
fn push_seat_class(code: &str) -> &'static str {
    match code {
        "hardseat" => "1",
        "softseat" => "2",
        "firstseat" => "3",
        "secondseat" => "4",
        "hardsleeperup" => "5",
        "hardsleepermid" => "6",
        "hardsleeperdown" => "7",
        "softsleeperup" => "8",
        "softsleeperdown" => "9",
        "noseat" => "10",
        "businessseat" => "11",
        "specialseat" => "12",
        "advancedsoftsleeper" => "14",
        _ => "13",
    }
}

/// The data dictionary's `seatClassCode` text.
pub(super) fn seat_name(code: &str) -> &'static str {
    match code {
        "hardseat" => "硬座",
        "softseat" => "软座",
        "firstseat" => "一等座",
        "secondseat" => "二等座",
        "hardsleeperup" => "硬卧上铺",
        "hardsleepermid" => "硬卧中铺",
        "hardsleeperdown" => "硬卧下铺",
        "softsleeperup" => "软卧上铺",
        "softsleeperdown" => "软卧下铺",
        "noseat" => "无座",
        "businessseat" => "商务座",
        "specialseat" => "特等座",
        "advancedsoftsleeper" => "高级软卧",
        _ => "其他",
    }
}
