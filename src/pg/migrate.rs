//! Versioned schema migrations, applied once however many nodes start at the same moment.
//!
//! Every node runs [`migrate`] at startup. Each migration is applied in its own transaction that
//! first takes a transaction-scoped advisory lock ([`MIGRATION_LOCK`]), then re-reads the
//! applied version: a node that waited for the lock finds the work done and applies nothing, a
//! failed migration rolls back whole (PostgreSQL's DDL is transactional) and the ones before it
//! stay. `schema_migrations` records which node applied what, and when. A database migrated by a
//! newer yupiao is refused ([`PgError::SchemaTooNew`]) rather than used with a schema this binary
//! does not know.

use super::error::PgError;
use super::pool::PgPool;

/// One schema change. The list is append-only: a released migration is never edited.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// 1, 2, 3…: strictly increasing.
    pub version: i32,
    /// What it does, for `schema_migrations` and error messages.
    pub name: &'static str,
    pub sql: &'static str,
}

/// yupiao's schema, oldest first.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "nodes and leases",
    sql: include_str!("migrations/0001_nodes_and_leases.sql"),
}];

/// The advisory lock key migrations run under: "yupiao" in ASCII, then 1.
pub const MIGRATION_LOCK: i64 = 0x7975_7069_616f_0001;

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    node       text NOT NULL
)";

/// What [`migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    /// Versions this call applied (empty when another node had, or nothing was pending).
    pub applied: Vec<i32>,
    /// The schema version now.
    pub version: i32,
}

/// Brings the database to [`MIGRATIONS`]' last version; `node` is recorded as the applier.
pub async fn migrate(pool: &PgPool, node: &str) -> Result<Migrated, PgError> {
    migrate_with(pool, node, MIGRATIONS).await
}

/// [`migrate`] with another list (tests use lists of their own).
pub async fn migrate_with(pool: &PgPool, node: &str, migrations: &[Migration]) -> Result<Migrated, PgError> {
    if let Some(w) = migrations.windows(2).find(|w| w[0].version >= w[1].version) {
        return Err(PgError::Migration {
            version: w[1].version,
            name: w[1].name,
            detail: format!("listed after version {}: versions must increase", w[0].version),
        });
    }
    let known = migrations.last().map_or(0, |m| m.version);
    let mut client = pool.get().await?;
    let mut applied = Vec::new();
    loop {
        let tx = client.transaction().await.map_err(|e| pool.error(&e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(|e| pool.error(&e))?;
        tx.batch_execute(CREATE_TABLE).await.map_err(|e| pool.error(&e))?;
        let current: i32 = tx
            .query_one("SELECT coalesce(max(version), 0) FROM schema_migrations", &[])
            .await
            .map_err(|e| pool.error(&e))?
            .get(0);
        if current > known {
            return Err(PgError::SchemaTooNew {
                found: current,
                known,
            });
        }
        let Some(next) = migrations.iter().find(|m| m.version > current) else {
            tx.commit().await.map_err(|e| pool.error(&e))?;
            return Ok(Migrated {
                applied,
                version: current,
            });
        };
        let failed = |e: tokio_postgres::Error| match pool.error(&e) {
            unreachable @ PgError::Unreachable { .. } => unreachable,
            other => PgError::Migration {
                version: next.version,
                name: next.name,
                detail: other.to_string(),
            },
        };
        tx.batch_execute(next.sql).await.map_err(failed)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, node) VALUES ($1, $2, $3)",
            &[&next.version, &next.name, &node],
        )
        .await
        .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        tracing::info!(
            version = next.version,
            name = next.name,
            "database migration applied"
        );
        applied.push(next.version);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_migrations_are_numbered_from_one_without_gaps() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i32 + 1, "{}", m.name);
        }
    }
}
