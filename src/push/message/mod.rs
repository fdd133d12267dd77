//! What a push says, independent of the service that carries it.
//!
//! A [`PushMessage`] is rendered once per event from the domain types yupiao already has (the
//! trains an alert carries, a 候补 order and its reasons, a 抢票 order event) and then shaped per
//! service by `push::request`. It is made for a lock screen: the title alone says what and when
//! (`余票 G8294 12-04 二等座 3张`), the body gives the route, times and counts in a few short
//! lines, and the booking link travels separately in [`PushMessage::link`] so each service can
//! attach it its own way (Bark's `url`, ntfy's `Click`, a Markdown link, a Feishu `a` tag…).
//! 候补 pushes lead with the payment deadline, 抢票 pushes with the order's state.
//!
//! Rendering is pure (the caller passes `now`), and the message is `serde` so the outbox can
//! store it as JSON and prepare the request at send time (DingTalk and Feishu signatures expire
//! after an hour, so a request must never be prepared ahead).
//!
//! Here the message types; `seats`, `waitlist` and `order` write the pushes of each event, side
//! by side, with `draft` assembling them (idempotency key, Markdown) the same way for all.

mod draft;
mod order;
mod seats;
mod waitlist;

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};

use draft::Draft;
pub use draft::{MAX_TRAINS, MD_BREAK, md_escape};
pub use order::{grab_refusal_message, order_message};
pub use seats::{grouped_seats_message, seats_message};
pub use waitlist::{
    session_expired_message, session_restored_message, waitlist_decision_message, waitlist_message,
};

/// What happened, as the webhook's `event` field says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PushEvent {
    /// Seats appeared (余票).
    Seats,
    /// A 候补 order changed (or the 12306 session behind it did).
    Waitlist,
    /// A 抢票 (Juhe grab) order changed, or could not be placed.
    Order,
    /// `yupiao test-notify`.
    Test,
}

impl PushEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            PushEvent::Seats => "seats",
            PushEvent::Waitlist => "waitlist",
            PushEvent::Order => "order",
            PushEvent::Test => "test",
        }
    }

    /// The word every title starts with.
    pub fn label_zh(self) -> &'static str {
        match self {
            PushEvent::Seats => "余票",
            PushEvent::Waitlist => "候补",
            PushEvent::Order => "抢票",
            PushEvent::Test => "测试",
        }
    }
}

/// A link the push offers (booking page, 候补 order page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// What a button or Markdown link says (`去 12306 预订`).
    pub label: String,
    pub href: String,
}

/// One push, before it is shaped for a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushMessage {
    pub event: PushEvent,
    /// One line for the lock screen; never empty.
    pub title: String,
    /// Plain-text body, lines separated by `\n`, without the title or the link.
    pub text: String,
    /// The same body as Markdown (CommonMark subset that WeCom, DingTalk and Server酱 render;
    /// hard line breaks as two spaces + `\n`), without the title or the link.
    pub markdown: String,
    pub link: Option<Link>,
    /// A 候补 payment deadline: ignores quiet hours, highest priority where the service has one.
    pub urgent: bool,
    /// Stable for this event across retries and restarts (it is stored with the message): sent
    /// as the webhook's `Idempotency-Key`.
    pub idempotency_key: String,
    /// When the event was seen (Beijing time).
    pub created_at: DateTime<FixedOffset>,
    /// Structured facts for the webhook JSON.
    pub details: PushDetails,
}

/// The facts behind a push, for receivers that want data rather than text (the webhook).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PushDetails {
    /// Every watch this push speaks for (several watches seeing the same seats get one push).
    pub watches: Vec<String>,
    /// Travel date.
    pub date: Option<NaiveDate>,
    /// Trains in priority order; the first is the one the title names.
    pub trains: Vec<TrainDetail>,
    /// 候补 or 抢票 state, in 12306's or Juhe's wording (`待支付`, `出票成功`).
    pub status: Option<String>,
    /// The 候补 deposit deadline (`loseTime`).
    pub deadline: Option<DateTime<FixedOffset>>,
    /// `reserve_no` of a 候补 order, `outOrderNo` of a 抢票 order.
    pub order: Option<String>,
}

/// One train of a push.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainDetail {
    /// `station_train_code` (`G8294`).
    pub train: String,
    pub date: Option<NaiveDate>,
    pub from: String,
    pub to: String,
    /// `HH:MM`, Beijing time, when known.
    pub depart: Option<String>,
    pub arrive: Option<String>,
    pub seats: Vec<SeatDetail>,
}

/// One seat class of a train.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SeatDetail {
    /// Chinese name (`二等座`).
    pub seat: String,
    /// 12306's cell text (`有`, `3`), or the 候补 queue wording; `None` when not known.
    pub left: Option<String>,
    /// Seats left as a number, when 12306 gave one.
    pub count: Option<u32>,
    /// Yuan.
    pub price: Option<f64>,
}

impl PushMessage {
    /// Adds a line at the end of the body (e.g. the daemon's "this is a grab watch" note).
    pub fn push_note(&mut self, note: &str) {
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        self.text.push_str(note);
        if !self.markdown.is_empty() {
            self.markdown.push_str(MD_BREAK);
        }
        self.markdown.push_str(&md_escape(note));
    }
}

/// What `yupiao test-notify NAME` sends.
pub fn test_message(channel_name: &str, now: DateTime<FixedOffset>) -> PushMessage {
    let lines = vec![
        format!("这是 yupiao（余票）的测试推送：收到它，说明通道「{channel_name}」可用。"),
        format!("发送时间：{}", now.format("%Y-%m-%d %H:%M:%S")),
    ];
    Draft::plain(PushEvent::Test, "测试 yupiao 推送".to_string(), lines).finish(now)
}

#[cfg(test)]
mod tests;
