//! The node registry: which yupiao processes share this database, and which of them are alive.
//!
//! Each node registers under its name (one per machine, from the configuration) and refreshes
//! its heartbeat with its figures (requests in the last 5 minutes, backoff) for `status`. A node
//! is live while its heartbeat is younger than the lease time: the fair share of the work is
//! counted over live nodes, and a node that stops heartbeating is treated as dead by everyone
//! at the same moment, because "now" is always the database's clock. Each registration carries a
//! random instance id, so a second process started under a live node's name is refused
//! ([`PgError::NameTaken`]) and a process whose name was taken over after it fell silent learns
//! it at its next heartbeat ([`PgError::Superseded`]) instead of polling beside its successor.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::error::PgError;
use super::pool::PgPool;

/// Who a node is, as recorded in the `node` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// Unique among the nodes sharing the database (the machine's name, typically).
    pub name: String,
    /// The local address its 12306 requests leave from (`upstream.local_address`), if bound.
    pub address: Option<String>,
    /// yupiao's version, so a mixed cluster shows in `status`.
    pub version: String,
}

impl NodeInfo {
    /// This build's version.
    pub fn new(name: impl Into<String>, address: Option<std::net::IpAddr>) -> NodeInfo {
        NodeInfo {
            name: name.into(),
            address: address.map(|a| a.to_string()),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// What a heartbeat reports besides "alive".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// 12306 requests this node sent in the last 5 minutes.
    pub requests_5m: u32,
    /// Until when this node holds back after 12306 pushed back.
    pub backoff_until: Option<DateTime<Utc>>,
}

/// One row of the registry, for `status` and `yupiao nodes`.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRow {
    pub name: String,
    pub address: Option<String>,
    pub version: String,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    pub requests_5m: u32,
    pub backoff_until: Option<DateTime<Utc>>,
    /// Heartbeat younger than the lease time.
    pub live: bool,
    /// Unexpired leases it holds.
    pub leases: u32,
}

/// This process's membership: obtained by [`Node::register`], used for heartbeats and claims.
#[derive(Debug, Clone)]
pub struct Node {
    name: String,
    instance: String,
    lease: Duration,
}

/// `$n::float8 * interval '1 second'`: durations travel as seconds.
pub(crate) fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl Node {
    /// Registers (or re-registers after a restart) under `info.name`. `lease` is both how long a
    /// lease lasts and how long a silent node counts as live. Fails with
    /// [`PgError::NameTaken`] while another process with that name is live.
    pub async fn register(pool: &PgPool, info: &NodeInfo, lease: Duration) -> Result<Node, PgError> {
        let name = info.name.trim();
        if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
            return Err(PgError::InvalidNodeName {
                name: info.name.clone(),
            });
        }
        let instance = format!("{:016x}", rand::random::<u64>());
        let client = pool.get().await?;
        let row = client
            .query_opt(
                "INSERT INTO node AS n (name, instance, address, version)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (name) DO UPDATE SET
                     instance = EXCLUDED.instance, address = EXCLUDED.address,
                     version = EXCLUDED.version, started_at = now(), heartbeat_at = now(),
                     requests_5m = 0, backoff_until = NULL
                 WHERE n.heartbeat_at <= now() - $5::float8 * interval '1 second'
                 RETURNING n.instance",
                &[&name, &instance, &info.address, &info.version, &seconds(lease)],
            )
            .await
            .map_err(|e| pool.error(&e))?;
        if row.is_none() {
            let age_s: f64 = client
                .query_one(
                    "SELECT extract(epoch FROM now() - heartbeat_at)::float8 FROM node WHERE name = $1",
                    &[&name],
                )
                .await
                .map_err(|e| pool.error(&e))?
                .get(0);
            return Err(PgError::NameTaken {
                name: name.to_string(),
                age_s,
            });
        }
        Ok(Node {
            name: name.to_string(),
            instance,
            lease,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// How long a lease lasts, and how long a silent node still counts as live.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    pub(crate) fn instance(&self) -> &str {
        &self.instance
    }

    /// Refreshes the heartbeat and the figures `status` shows.
    pub async fn heartbeat(&self, pool: &PgPool, stats: &NodeStats) -> Result<(), PgError> {
        let client = pool.get().await?;
        let requests = i32::try_from(stats.requests_5m).unwrap_or(i32::MAX);
        let n = client
            .execute(
                "UPDATE node SET heartbeat_at = now(), requests_5m = $3, backoff_until = $4
                 WHERE name = $1 AND instance = $2",
                &[&self.name, &self.instance, &requests, &stats.backoff_until],
            )
            .await
            .map_err(|e| pool.error(&e))?;
        self.still_registered(n)
    }

    /// Leaves the cluster at a clean shutdown: the node's leases are free for the others at
    /// once instead of after one lease time.
    pub async fn deregister(&self, pool: &PgPool) -> Result<(), PgError> {
        let client = pool.get().await?;
        client
            .execute(
                "DELETE FROM node WHERE name = $1 AND instance = $2",
                &[&self.name, &self.instance],
            )
            .await
            .map_err(|e| pool.error(&e))?;
        Ok(())
    }

    pub(crate) fn still_registered(&self, rows: u64) -> Result<(), PgError> {
        if rows == 0 {
            Err(PgError::Superseded {
                name: self.name.clone(),
            })
        } else {
            Ok(())
        }
    }
}

/// Every registered node, live or not, by name; `lease` decides who counts as live.
pub async fn nodes(pool: &PgPool, lease: Duration) -> Result<Vec<NodeRow>, PgError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT n.name, n.address, n.version, n.started_at, n.heartbeat_at, n.requests_5m,
                    n.backoff_until,
                    n.heartbeat_at > now() - $1::float8 * interval '1 second' AS live,
                    (SELECT count(*) FROM lease l
                      WHERE l.holder = n.name AND l.expires_at > now())::integer AS leases
             FROM node n ORDER BY n.name",
            &[&seconds(lease)],
        )
        .await
        .map_err(|e| pool.error(&e))?;
    Ok(rows
        .iter()
        .map(|r| NodeRow {
            name: r.get(0),
            address: r.get(1),
            version: r.get(2),
            started_at: r.get(3),
            heartbeat_at: r.get(4),
            requests_5m: u32::try_from(r.get::<_, i32>(5)).unwrap_or(0),
            backoff_until: r.get(6),
            live: r.get(7),
            leases: u32::try_from(r.get::<_, i32>(8)).unwrap_or(0),
        })
        .collect())
}

/// Deletes nodes silent for longer than `older_than` (their leases become free).
pub async fn forget_dead(pool: &PgPool, older_than: Duration) -> Result<u64, PgError> {
    let client = pool.get().await?;
    client
        .execute(
            "DELETE FROM node WHERE heartbeat_at < now() - $1::float8 * interval '1 second'",
            &[&seconds(older_than)],
        )
        .await
        .map_err(|e| pool.error(&e))
}
