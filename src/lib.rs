//! yupiao (余票): watches 12306 for train tickets that are sold out today and tells the user the
//! moment seats appear.
//!
//! Module map (pure core in the middle, I/O at the edges):
//!
//! The settings and the watch list
//! - [`config`]: `yupiao.toml` + environment → typed settings, secrets wrapped.
//! - [`watchlist`]: `watchlist.toml` → validated watches, with `file:line:col` diagnostics.
//! - [`diagnostic`]: `file:line:col` problems of the hand-edited files (shared wording).
//! - [`stations`]: the embedded station table, lookup and same-city groups.
//! - [`seat`]: seat classes and their wire codes.
//! - [`identity`]: ID numbers: checks, masking, scrubbing them out of service texts.
//! - [`clock`]: Beijing time, the one zone yupiao speaks.
//!
//! The upstream services
//! - [`rail`]: 12306: the pure leftTicket and 候补 decoders and the paced HTTP client.
//! - [`body`]: reading upstream answers with a size cap (compressed and decompressed).
//! - [`juhe`]: the Juhe grabTicket client (抢票 orders) and its pure decoders.
//! - [`sale`]: 起售 openings, 12306's clock, `qss.js` and the request-budget scheduler (pure).
//!
//! The pure core
//! - [`poll`]: one check of many watches, with coalesced queries (used by `once` and the daemon).
//! - [`filter`]: which trains/seats of a page a watch cares about (pure).
//! - [`seat_state`]: what a seat class offers a party: seats, a 候补 queue, or nothing (pure).
//! - [`decide`]: (stored state, what was seen, now) → what to store and whom to tell, for 余票,
//!   候补 and 抢票 (pure).
//! - [`order`]: 抢票 orders: where one stands ([`order::GrabState`]) and what to order (pure).
//! - [`notify`]: every email, rendered (pure) and delivered (Maildir or SMTP).
//! - [`push`]: instant push to Bark, Server酱, PushPlus, WeCom/DingTalk/Feishu robots, Telegram, ntfy
//!   and webhooks (requests, answers, quiet hours; pure core plus one HTTP edge).
//!
//! The shell
//! - [`store`]: SQLite split by table, behind named operations on domain types; the daemon's
//!   handle; the single-instance lock and the health file.
//! - [`daemon`]: `yupiao run`: the scheduler, the poll cycle, 候补, 抢票, the outbox, reloads.
//! - [`status`]: `yupiao status`: the report read from the database, and its text.
//! - [`cli`]: the command line (`once`, `orders`, `check`, …).
//! - [`demo`]: the quick-start demo against the simulator.
//! - [`web`]: the read-only status page (view model, SVG charts, HTML, the server).
//! - [`pg`]: PostgreSQL for several nodes: URL and TLS, pool, migrations, node registry, leases.
//! - [`sim`]: the built-in simulated 12306 (and Juhe) used by `demo`, `sim` and the tests.

pub mod body;
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
pub mod pg;
#[doc(hidden)]
pub mod pg_test_server;
pub mod poll;
pub mod push;
pub mod rail;
pub mod sale;
pub mod seat;
pub mod seat_state;
pub mod sim;
pub mod stations;
pub mod status;
pub mod store;
pub mod text;
pub mod watchlist;
pub mod web;

/// 候补 orders, by their old path: what changed ([`decide::waitlist`]) and the emails
/// ([`notify::waitlist`]).
pub mod waitlist {
    pub use crate::decide::waitlist::*;
    pub use crate::notify::waitlist::*;
}
