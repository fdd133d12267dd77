//! Juhe grabTicket (聚合数据 抢票): the only way yupiao can *place* an order.
//!
//! 12306 itself is read-only for yupiao; a grab order goes through Juhe, which keeps trying to
//! buy the ticket until a deadline and reports the outcome by push and through `orderDetail`
//! (protocol doc §6). This module is the typed edge of that service and nothing more: the order
//! flow (idempotency table, gating, emails) lives elsewhere and calls in here.
//!
//! - [`client`]: [`JuheClient`], one method per endpoint. Every call is a form `POST` (Juhe
//!   accepts GET or POST everywhere and requires POST for `createOrder`): the API key then
//!   travels in the body, never in a URL, so it cannot leak into errors, proxies or logs.
//! - [`decode`]: pure decoders of Juhe's answers and pushes. Juhe's types drift (`1` vs `"1"`,
//!   `"9.00"` vs `9`, missing fields), so everything is read leniently from JSON values.
//!
//! - [`error`]: what both share: [`JuheError`] and Juhe's codes (the msgCode table).
//!
//! The masks used whenever a phone or ID number has to appear in a log line or an email are
//! re-exported here from [`crate::identity`].

pub mod client;
pub mod decode;
pub mod error;

pub use client::{CreateOrder, JuheClient, JuhePassenger, create_params};
pub use decode::{
    Created, DetailPassenger, JuheTicket, JuheTrain, OrderDetail, OrderStatus, Push, PushPassenger,
    RefundAccepted, SearchResult, TicketState, decode_push,
};
pub(crate) use error::MSG_CODES;
pub use error::{
    CANCEL_FAILED, DUPLICATE_OUT_ORDER_NO, JuheError, ORDER_NOT_FOUND, WRONG_KEY, msg_code_for_text,
    msg_code_text,
};

pub use crate::identity::{mask_id, mask_phone};

#[cfg(test)]
mod sim_tests;
#[cfg(test)]
mod tests;
