//! The connection pool every PostgreSQL user of a node shares.
//!
//! deadpool-postgres keeps a few connections open and checks a returned one cheaply before
//! reuse; [`PgPool::connect`] opens the first connection at once so that a wrong URL, a refused
//! login or a TLS failure is reported at startup, typed, rather than at the first poll.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};

use super::error::{self, PgError};
use super::target::PgTarget;

/// Pool sizing and patience.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolOptions {
    /// Connections kept at most (each node needs few: its work is paced by 12306, not the DB).
    pub max_size: usize,
    /// How long [`PgPool::get`] waits for a free connection (and for a new one to open).
    pub wait: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_size: 4,
            wait: Duration::from_secs(10),
        }
    }
}

/// A pool of connections to one database. Cheap to clone; clones share the connections.
#[derive(Clone)]
pub struct PgPool {
    pool: Pool,
    target: PgTarget,
}

impl std::fmt::Debug for PgPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgPool")
            .field("target", &self.target.server())
            .finish_non_exhaustive()
    }
}

impl PgPool {
    /// Builds the pool and opens its first connection.
    pub async fn connect(target: &PgTarget, options: PoolOptions) -> Result<PgPool, PgError> {
        let mut target = target.clone();
        if target
            .config()
            .get_connect_timeout()
            .is_none_or(|t| *t > options.wait)
        {
            target.set_connect_timeout(options.wait);
        }
        let manager = Manager::from_config(
            target.config().clone(),
            target.connector()?,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.max_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.wait))
            .create_timeout(Some(options.wait))
            .recycle_timeout(Some(options.wait))
            .build()
            .map_err(|e| PgError::Url {
                reason: format!("cannot build the connection pool: {e}"),
            })?;
        let pool = PgPool { pool, target };
        let client = pool.get().await?;
        client
            .simple_query("SELECT 1")
            .await
            .map_err(|e| error::classify(&e, pool.target.server()))?;
        Ok(pool)
    }

    /// A connection from the pool (returned to it on drop).
    pub async fn get(&self) -> Result<deadpool_postgres::Object, PgError> {
        self.pool
            .get()
            .await
            .map_err(|e| error::classify_pool(&e, self.target.server()))
    }

    /// What logs may say about the server (`postgres://user@host:port/db`).
    pub fn redacted(&self) -> &str {
        self.target.redacted()
    }

    /// Turns a statement's error into a [`PgError`] naming this pool's server.
    pub fn error(&self, e: &tokio_postgres::Error) -> PgError {
        error::classify(e, self.target.server())
    }

    /// Closes every connection; later [`PgPool::get`] calls fail.
    pub fn close(&self) {
        self.pool.close();
    }
}
