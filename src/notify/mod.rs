//! Telling the user: every email, rendered and sent.
//!
//! An alert is only useful if it arrives within seconds and says, in one glance, which train has
//! which seats and where to book them. The module is split along the pure/I/O line, renderers side
//! by side:
//! - [`grouping`] turns the 余票 alerts of one poll cycle into emails: one per person per event
//!   (pure);
//! - [`seats`] (余票 alerts), [`waitlist`] (候补 changes) and [`order`] (抢票 orders) turn what was
//!   decided into subject, text and HTML (pure: no clock, no I/O, so every wording is testable);
//!   [`render`] holds what they share (escaping, dates, the booking link) and the test email;
//! - [`transport`] builds the RFC 5322 message and delivers it to a Maildir or an SMTP server,
//!   sorting failures into "try again later" and "will never work" for the caller's retry logic;
//! - [`smtp_test_server`] runs a real SMTP server (aiosmtpd) on loopback for unit and
//!   integration tests.

pub mod grouping;
pub mod order;
pub mod render;
pub mod seats;
#[doc(hidden)]
pub mod smtp_test_server;
pub mod transport;
pub mod waitlist;

pub use render::{EmailContent, booking_url, render_test_email};
pub use seats::{render_grouped_alert, render_seat_alert};
pub use transport::{Mailer, SendError};
