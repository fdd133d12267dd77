//! The pure decisions: (stored state, what was just seen, what the watch asks, now) → what to
//! store, whom to tell, what to do next. No I/O, no clock reads, so every rule is tested here.
//!
//! - [`seats`]: 余票 — which seat states changed (history), which seats to alert about, and which
//!   per-train alert times to move.
//! - [`waitlist`]: 候补 — what changed in the user's waitlist order since the last poll, and
//!   which email that deserves.
//! - [`grab`]: 抢票 — whether to place an order, and what each Juhe answer about an order means.
//!
//! The emails themselves are written in [`crate::notify`]; the daemon does the I/O.

pub mod grab;
pub mod seats;
pub mod waitlist;

pub use seats::{Decision, Previous, SeatKey, SeatState, decide};
