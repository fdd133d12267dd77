//! 起售: knowing when each date goes on sale, on 12306's clock, and spending the request budget
//! where tickets appear.
//!
//! Most tickets of a rush sell in the first minutes after a date goes on sale, and 12306 allows
//! one address roughly 80 requests per 5 minutes. Being there at the opening, and not wasting
//! requests elsewhere, needs four separate pieces of knowledge, each a pure module here so the
//! daemon, `check`, `once` and `status` can share them:
//!
//! - [`opening`]: the opening moment of a (boarding station, travel date), from row field 55
//!   (`sale_time`), field 1 (`xx月xx日xx点起售`), `qss.js` and the presale window; and whether a
//!   date is on sale at a given moment.
//! - [`qss`]: the decoder of `qss.js` (each station's daily sale time) and how to find it.
//! - [`clock`]: 12306's clock, measured from `login/conf` (`now`, `nowStr`) allowing for the
//!   round trip.
//! - [`known`]: all of it owned, as the daemon keeps it and stores it for `check` and `status`.
//! - [`view`]: whether a date may be queried now, from all of the above at one moment.
//! - [`budget`]: the request-budget scheduler: which query to send next and when, opening bursts
//!   first, no query starving, never over the budget.

pub mod budget;
pub mod clock;
pub mod known;
pub mod opening;
pub mod qss;
pub mod view;
