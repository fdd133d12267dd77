//! The seat alert the push tests send, built the way the daemon builds one.

use chrono::{DateTime, FixedOffset};

use super::message::{PushMessage, seats_message};
use crate::filter::SeatMatch;
use crate::notify::render::tests::{day, train, watch};
use crate::seat::SeatClass;

/// The alert for the watch `name`: G8294 on `day()` with three 二等座 at ¥91, seen at `now`.
pub(crate) fn seat_alert(name: &str, now: DateTime<FixedOffset>) -> PushMessage {
    let trains = vec![train(
        "G8294",
        vec![SeatMatch {
            seat: SeatClass::Second,
            raw: "3".into(),
            count: Some(3),
            price_jiao: Some(910),
            available: true,
        }],
    )];
    seats_message(&[&watch(name)], day(), &trains, "https://kyfw.12306.cn", now)
}
