//! PostgreSQL, for several yupiao nodes sharing one watch list and the work (issue 13).
//!
//! One machine gets roughly 80 requests per 5 minutes from 12306, so a watch list that outgrows
//! one address needs several machines, each polling from its own address, without two of them
//! polling (or alerting, or ordering) the same thing. PostgreSQL already gives what that rests on
//! — transactions, unique keys, row locks, advisory locks — so the nodes coordinate through it
//! instead of through a protocol of our own. The embedded default stays SQLite.
//!
//! This module is the groundwork that does not depend on the store's interface:
//! - [`target`]: the `postgres://` URL (a secret) → connection settings, its redacted form for
//!   logs, and TLS as the URL asks (`sslmode`, `sslrootcert`).
//! - [`tls`]: the rustls client configuration for each `sslmode`.
//! - [`error`]: [`PgError`], typed so callers can tell an unreachable server from a refused login,
//!   a TLS failure or a failed migration.
//! - [`pool`]: the connection pool (deadpool-postgres).
//! - [`migrate`](mod@migrate): versioned migrations in `schema_migrations`, applied once however many nodes
//!   start at the same moment (advisory lock).
//! - [`node`]: the node registry (`node` table) and heartbeats.
//! - [`lease`]: leases on queries (`lease` table): each distinct query is polled by one live node
//!   at a time, every node takes its fair share, dead nodes' leases are taken over.
//!
//! Every time that decides anything (heartbeat age, lease expiry) is the database's `now()`, so
//! the nodes' clocks never have to agree.

pub mod error;
pub mod lease;
pub mod migrate;
pub mod node;
pub mod pool;
pub mod target;
pub mod tls;

pub use error::PgError;
pub use lease::{Claim, QueryKey, claim, fair_share};
pub use migrate::{MIGRATIONS, Migration, migrate};
pub use node::{Node, NodeInfo, NodeRow, NodeStats};
pub use pool::{PgPool, PoolOptions};
pub use target::{PgTarget, TlsMode};

#[cfg(test)]
mod tests;
