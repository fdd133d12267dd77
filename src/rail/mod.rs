//! Everything that talks to (or decodes) 12306: the pure leftTicket decoder, the HTTP client, and
//! the 候补 (waitlist) order query.
//!
//! - [`left_ticket`]: leftTicket body → page of trains, or the refusal it is (pure).
//! - [`client`]: the HTTP client: session, endpoint discovery, pacing, `login/conf`, `qss.js`.
//! - [`after_nate`]: 候补 orders: the `afterNateOrder/queryQueue` decoder, its request, the cookie.
//! - [`throttle`]: how 12306 says "slow down" (risk phrases, statuses), shared by all of them.
//! - [`error`]: [`RailError`](error::RailError), the error classes callers branch on.

pub mod after_nate;
pub mod client;
pub mod error;
pub mod left_ticket;
pub mod throttle;

#[cfg(test)]
mod sale_sim_tests;
#[cfg(test)]
pub(crate) mod test_support;
