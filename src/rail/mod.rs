//! Everything that talks to (or decodes) 12306: the pure leftTicket decoder, the HTTP client, and
//! the 候补 (waitlist) order query.

pub mod after_nate;
pub mod client;
pub mod left_ticket;

#[cfg(test)]
mod sale_sim_tests;
