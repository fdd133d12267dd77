//! Who may reach the status page: the start-up rule (beyond loopback a token is required, and
//! any token must be long), kept apart from the server so that `check` can apply it to the
//! settings without the settings depending on the page.

use std::net::SocketAddr;

use secrecy::{ExposeSecret, SecretString};

/// Why the page does not start.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error(
        "[web] listen = \"{addr}\" is reachable from other machines: set [web] token (a secret of at least {MIN_TOKEN_CHARS} characters), or listen on 127.0.0.1"
    )]
    TokenRequired { addr: SocketAddr },
    #[error("[web] token is too short: use at least {MIN_TOKEN_CHARS} random characters")]
    TokenTooShort,
    #[error("cannot listen on {addr} for the status page: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A token shorter than this is refused: the page is guarded by nothing else.
pub const MIN_TOKEN_CHARS: usize = 16;

/// Does a page listening on `addr` need a token? Every address but loopback can be reached
/// from elsewhere (`0.0.0.0` and `::` included).
pub fn requires_token(addr: &SocketAddr) -> bool {
    !addr.ip().to_canonical().is_loopback()
}

/// The start-up rule: beyond loopback a token is required, and any token set must be long.
pub fn check_listen(addr: &SocketAddr, token: Option<&SecretString>) -> Result<(), WebError> {
    let token = token.map(|t| t.expose_secret().trim()).filter(|t| !t.is_empty());
    match token {
        None if requires_token(addr) => Err(WebError::TokenRequired { addr: *addr }),
        Some(t) if t.chars().count() < MIN_TOKEN_CHARS => Err(WebError::TokenTooShort),
        _ => Ok(()),
    }
}
