//! Everything that talks to (or decodes) 12306: the pure leftTicket decoder and the HTTP client.

pub mod client;
pub mod left_ticket;
