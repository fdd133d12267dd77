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
//! - [`body`]: reading upstream answers with a size cap (compressed and decompressed).
//! - [`waitlist`]: 候补 orders: what changed, which email it deserves, and the email (pure).
//! - [`juhe`]: the Juhe grabTicket client (抢票 orders) and its pure decoders.
//! - [`filter`]: which trains/seats of a page a watch cares about (pure).
//! - [`push`]: instant push to Bark, Server酱, PushPlus, WeCom/DingTalk/Feishu robots, Telegram, ntfy
//!   and webhooks (requests, answers, quiet hours; pure core plus one HTTP edge).
//! - [`seat_state`]: what a seat class offers a party: seats, a 候补 queue, or nothing (pure).
//! - [`sale`]: 起售 openings, 12306's clock, `qss.js` and the request-budget scheduler (pure).
//! - [`poll`]: one check of many watches, with coalesced queries (used by `once`, the daemon, tests).
//! - [`sim`]: the built-in simulated 12306 used by `demo`, `sim` and the tests.
//! - [`pg`]: PostgreSQL for several nodes: URL and TLS, pool, migrations, node registry, leases.
//! - [`web`]: the read-only status page (view model, SVG charts, HTML, the server).
//! - [`cli`]: the command line.

pub mod body;
pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod db_lock;
pub mod decide;
pub mod demo;
pub mod diagnostic;
pub mod filter;
pub mod health;
pub mod identity;
pub mod juhe;
pub mod notify;
pub mod order;
pub mod orders;
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
pub mod waitlist;
pub mod watchlist;
pub mod web;
