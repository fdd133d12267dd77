//! Tests of the watch list reader, through [`crate::watchlist::parse`] and
//! [`crate::watchlist::load`] as the daemon and `check` call them.

mod grab;
mod list;
mod support;
