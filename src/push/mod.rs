//! Instant push: alerts, 候补 changes and 抢票 states on the user's phone within seconds.
//!
//! Email reaches a phone late (mail apps fetch on their own schedule), and returned tickets are
//! gone within minutes. This module speaks to the push services people in China and elsewhere
//! already use — Bark, Server酱, PushPlus, WeCom / DingTalk / Feishu group robots, Telegram,
//! ntfy — and to a generic JSON webhook. It is the self-contained core; the outbox rows per
//! channel, the `[[channel]]` config and the daemon's sender are a thin layer on top.
//!
//! Pure core in the middle, one I/O edge:
//! - [`channel`]: [`ChannelKind`], [`ChannelSpec`] and its validation (every problem, with the
//!   field it is about); [`redact_url`], the only way a channel URL is ever shown.
//! - [`message`]: [`PushMessage`], rendered once per event from the domain types (seat alerts,
//!   候补 decisions, 抢票 events) for a lock screen.
//! - [`request`]: [`prepare`] shapes a message into each service's documented request, signed
//!   for `now` (DingTalk, Feishu, the webhook's HMAC).
//! - [`answer`]: [`classify`] reads each service's verdict: accepted, or refused permanently or
//!   transiently, with a hint for `yupiao test-notify`.
//! - [`quiet`]: quiet hours and the hold / drop decision.
//! - [`send`](mod@send): the HTTP exchange itself (`TCP_NODELAY`, timeout, capped body, no URL in
//!   any error).
//! - [`test_receivers`]: one loopback server impersonating every service, for the tests.

pub mod answer;
pub mod channel;
pub mod message;
pub mod quiet;
pub mod request;
pub mod send;
#[doc(hidden)]
pub mod test_receivers;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;

pub use answer::{FailureClass, Hint, Outcome, Refusal, classify};
pub use channel::{ChannelKind, ChannelSpec, SpecError, SpecField, UnknownKind, redact_url};
pub use message::{Link, PushDetails, PushEvent, PushMessage, SeatDetail, TrainDetail};
pub use quiet::{QuietDecision, QuietHours, QuietParseError};
pub use request::{PrepareError, PreparedRequest, WebhookPayload, prepare};
pub use send::{Answer, PushError, client, push, send};
