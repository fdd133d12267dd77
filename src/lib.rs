//! yupiao (余票): watches 12306 for train tickets that are sold out today and tells the user the
//! moment seats appear.
//!
//! Module map (pure core in the middle, I/O at the edges):
//! - [`seat`]: seat classes and their wire codes.
//! - [`stations`]: the embedded station table, lookup and same-city groups.
//! - [`diagnostic`]: `file:line:col` problems of the hand-edited files (shared wording).
//! - [`watchlist`]: `watchlist.toml` → validated watches, with `file:line:col` diagnostics.
//! - [`config`]: `yupiao.toml` + environment → typed settings, secrets wrapped.
//! - [`rail`]: 12306: the pure leftTicket decoder and the HTTP client.
//! - [`waitlist`]: 候补 orders: what changed, which email it deserves, and the email (pure).
//! - [`juhe`]: the Juhe grabTicket client (抢票 orders) and its pure decoders.
//! - [`filter`]: which trains/seats of a page a watch cares about (pure).
//! - [`poll`]: one check of many watches, with coalesced queries (used by `once`, the daemon, tests).
//! - [`sim`]: the built-in simulated 12306 used by `demo`, `sim` and the tests.
//! - [`cli`]: the command line.

pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod decide;
pub mod demo;
pub mod diagnostic;
pub mod filter;
pub mod identity;
pub mod juhe;
pub mod notify;
pub mod order;
pub mod orders;
pub mod poll;
pub mod rail;
pub mod seat;
pub mod sim;
pub mod stations;
pub mod status;
pub mod store;
pub mod waitlist;
pub mod watchlist;
