//! The read-only status web page (issue 14): what yupiao watches, and when seats come back.
//!
//! Layers, pure to I/O:
//! - [`view`]: the plain view model (a snapshot of everything the page shows) and the builders
//!   that make it from `status`, the store's rows and the settings. No secret has a field in it.
//! - [`chart`]: inline SVG timelines per (watch, date) and the "seats came back at" histogram.
//! - [`page`]: the HTML page (askama template), rendered from a view model and a `now`.
//! - [`server`]: the axum router (`/`, `/events`, `/healthz`), the token rule, and an accept
//!   loop with header/idle timeouts and a connection limit.
//!
//! The daemon owns a [`server::Publisher`] and publishes a new view model whenever something it
//! records changes; browsers learn of it through server-sent events and fetch the page again.

pub mod chart;
mod html;
pub mod page;
#[doc(hidden)]
pub mod sample;
pub mod server;
pub mod view;

pub use html::escape_into;
