//! The read-only status web page (issue 14): what yupiao watches, and when seats come back.
//!
//! Layers, pure to I/O:
//! - [`view`]: the plain view model (a snapshot of everything the page shows) and the builders
//!   that make it from `status`, the store's rows and the settings. No secret has a field in it.
//! - [`history`]: timelines and alert moments from the store's history, and [`history::assemble`],
//!   the whole snapshot the daemon publishes.
//! - [`chart`]: inline SVG timelines per (watch, date) and the "seats came back at" histogram.
//! - [`page`]: the HTML page (askama template), rendered from a view model and a `now`.
//! - [`listen`]: the token rule, which `check` applies to the settings too.
//! - [`server`]: the axum router (`/`, `/events`, `/healthz`, `/status.json`) and an accept
//!   loop with header/idle timeouts and a connection limit.
//!
//! The daemon owns a [`server::Publisher`] and publishes a new view model whenever something it
//! records changes; browsers learn of it through server-sent events and fetch the page again.

pub mod chart;
pub mod history;
mod html;
pub mod listen;
pub mod page;
#[doc(hidden)]
pub mod sample;
pub mod server;
pub mod view;

pub use html::escape_into;
