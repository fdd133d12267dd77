//! [`RailError`]: why a request to 12306 did not produce data, in the classes callers branch on.
//!
//! Its own module because the client, the 候补 query and the throttling rules all produce it;
//! re-exported as `rail::client::RailError`, where callers import it from.

use std::time::Duration;

/// Why a request did not produce data. The daemon backs off on [`RailError::Throttled`] and
/// [`RailError::Timeout`], and reports the rest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RailError {
    /// 302 to the error page, an HTML body, 403, or a risk phrase: 12306 is refusing us.
    #[error("throttled by 12306: {reason}")]
    Throttled { reason: String },
    /// Nothing within the timeout.
    #[error("12306 did not answer within {0:?}")]
    Timeout(Duration),
    /// Connection-level failure (DNS, refused, reset).
    #[error("cannot reach 12306: {0}")]
    Network(String),
    /// The endpoint moved twice in one request, or the init page names no endpoint.
    #[error("12306 query endpoint unknown: {0}")]
    Endpoint(String),
    /// An answer we could not read.
    #[error("{0}")]
    Decode(String),
    /// An answer too big (or expanding too far) to be a real one; abandoned unread.
    #[error("refused 12306's answer: {0}")]
    Oversized(String),
}

impl RailError {
    /// Errors that mean "slow down" rather than "something is broken".
    pub fn is_throttling(&self) -> bool {
        matches!(self, RailError::Throttled { .. } | RailError::Timeout(_))
    }
}
