//! Telling the user: alert emails, rendered and sent.
//!
//! An alert is only useful if it arrives within seconds and says, in one glance, which train has
//! which seats and where to book them. The module is split along the pure/I/O line:
//! - [`grouping`] turns the alerts of one poll cycle into emails: one per person per event
//!   (pure);
//! - [`render`] turns a watch and the trains that just got seats into subject, text and HTML
//!   (pure: no clock, no I/O, so every wording is testable);
//! - [`transport`] builds the RFC 5322 message and delivers it to a Maildir or an SMTP server,
//!   sorting failures into "try again later" and "will never work" for the caller's retry logic;
//! - [`smtp_test_server`] runs a real SMTP server (aiosmtpd) on loopback for unit and
//!   integration tests.

pub mod grouping;
pub mod render;
#[doc(hidden)]
pub mod smtp_test_server;
pub mod transport;

pub use render::{EmailContent, booking_url, render_grouped_alert, render_seat_alert, render_test_email};
pub use transport::{Mailer, SendError};
