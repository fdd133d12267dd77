//! Leases: each distinct query is polled by one live node at a time, and every node polls its
//! fair share.
//!
//! Every poll round a node calls [`claim`] with every query the watch list needs. In one
//! transaction it heartbeats, counts the live nodes, works out its share ([`fair_share`]: the
//! queries divided by the live nodes, the remainder going to the first nodes by name), renews
//! the leases it holds up to that share, releases the surplus (a node joined) and the queries
//! nobody wants any more, and takes free leases until it has its share. A lease is free when it
//! has no holder or has expired: a node that stops renewing — because it died, hung or lost the
//! database — loses its queries to the others within one lease time, and not before.
//!
//! Why row locks with `FOR UPDATE SKIP LOCKED` rather than advisory locks: a lease must outlive
//! the connection that took it (pooled connections come and go, and a node keeps polling while
//! its database connection is re-established), it must expire by itself when the holder
//! vanishes, and `status` must be able to show who holds what. A row with a holder and an expiry
//! gives all three; an advisory lock lives and dies with one session and is invisible to
//! ordinary queries. `SKIP LOCKED` lets nodes that claim at the same moment pass each other
//! instead of queueing, and the primary key on `query_key` makes two holders impossible.
//!
//! A node may poll a query from the moment [`claim`] returns it until [`Claim::valid_until`],
//! which is measured from before the transaction began, so it ends before the lease in the
//! database does: by the time another node may take the lease over, its old holder has stopped.
//! Statements lock in one order (new lease rows in key order, then the node's own rows, then free
//! rows that are skipped rather than waited for), so concurrent claims cannot deadlock.

use std::collections::BTreeSet;
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::error::PgError;
use super::node::{Node, seconds};
use super::pool::PgPool;
use crate::rail::client::LeftTicketQuery;

/// What a lease is on: one distinct query (route, date, purpose), as text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueryKey(String);

impl QueryKey {
    /// Any work that must be done by one node at a time (a 候补 waitlist, say), named by the caller.
    pub fn new(text: impl Into<String>) -> QueryKey {
        QueryKey(text.into())
    }

    /// `leftTicket/AOH/CZH/2026-12-05/ADULT`: one leftTicket query, however many watches share it.
    pub fn left_ticket(q: &LeftTicketQuery) -> QueryKey {
        QueryKey(format!(
            "leftTicket/{}/{}/{}/{}",
            q.from,
            q.to,
            q.date.format("%Y-%m-%d"),
            if q.student { "0X00" } else { "ADULT" }
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for QueryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How many of `queries` the node at `rank` (0-based, among live nodes ordered by name) takes:
/// an equal part, and one more for the first `queries % live_nodes` nodes. The shares add up to
/// `queries`. No live node (cannot happen to a node that just heartbeat) means all of them.
pub fn fair_share(queries: usize, live_nodes: usize, rank: usize) -> usize {
    if live_nodes == 0 {
        return queries;
    }
    queries / live_nodes + usize::from(rank < queries % live_nodes)
}

/// What a node does with the leases it holds, given its share (pure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holdings {
    /// Held and wanted, up to the share: renewed.
    pub keep: Vec<QueryKey>,
    /// Held but unwanted, or beyond the share: given up.
    pub release: Vec<QueryKey>,
    /// How many free leases to take.
    pub take: usize,
}

/// Keeps the first `share` wanted leases it holds (in key order, so the choice is stable from
/// round to round), releases the rest, and asks for the difference.
pub fn plan(held: &BTreeSet<QueryKey>, wanted: &BTreeSet<QueryKey>, share: usize) -> Holdings {
    let (kept, unwanted): (Vec<QueryKey>, Vec<QueryKey>) =
        held.iter().cloned().partition(|k| wanted.contains(k));
    let surplus = kept.len().saturating_sub(share);
    let mut keep = kept;
    let mut release: Vec<QueryKey> = keep.split_off(keep.len() - surplus);
    release.extend(unwanted);
    release.sort();
    Holdings {
        take: share - keep.len(),
        keep,
        release,
    }
}

/// The outcome of one [`claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// Every query this node holds now: poll these, and only these, until `valid_until`.
    pub held: BTreeSet<QueryKey>,
    /// Newly taken this round.
    pub acquired: Vec<QueryKey>,
    /// Of `acquired`, those taken over from another node whose lease had expired, with that node.
    pub taken_over: Vec<(QueryKey, String)>,
    /// Given up this round (surplus, or no longer wanted).
    pub released: Vec<QueryKey>,
    /// Live nodes counted, this one included.
    pub live_nodes: usize,
    /// This node's fair share.
    pub share: usize,
    /// When the leases end unless renewed by the next claim (measured on this machine, from
    /// before the transaction: earlier than the database's expiry).
    pub valid_until: Instant,
}

/// One round of lease bookkeeping for `node` over the queries in `wanted` (see the module doc).
pub async fn claim(pool: &PgPool, node: &Node, wanted: &[QueryKey]) -> Result<Claim, PgError> {
    let wanted: BTreeSet<QueryKey> = wanted.iter().cloned().collect();
    let keys: Vec<&str> = wanted.iter().map(QueryKey::as_str).collect();
    let mut client = pool.get().await?;
    let started = Instant::now();
    let tx = client.transaction().await.map_err(|e| pool.error(&e))?;
    let round = Round {
        tx,
        pool,
        node,
        lease: seconds(node.lease()),
    };
    round.add_rows(&keys).await?;
    round.heartbeat().await?;
    let live = round.live_nodes().await?;
    let rank = live.iter().position(|n| n == node.name()).unwrap_or(0);
    let share = fair_share(wanted.len(), live.len(), rank);
    let plan = plan(&round.held().await?, &wanted, share);
    let mut now_held = round.renew(&plan.keep).await?;
    round.release(&plan.release).await?;
    let (acquired, taken_over) = round
        .take_free(&keys, share.saturating_sub(now_held.len()))
        .await?;
    now_held.extend(acquired.iter().cloned());
    round.tx.commit().await.map_err(|e| pool.error(&e))?;
    Ok(Claim {
        held: now_held,
        acquired,
        taken_over,
        released: plan.release,
        live_nodes: live.len(),
        share,
        valid_until: started + node.lease(),
    })
}

/// One [`claim`]'s transaction, its statements in the order that keeps concurrent claims from
/// deadlocking (module doc).
struct Round<'a> {
    tx: deadpool_postgres::Transaction<'a>,
    pool: &'a PgPool,
    node: &'a Node,
    /// The lease time in seconds.
    lease: f64,
}

impl Round<'_> {
    fn err(&self, e: tokio_postgres::Error) -> PgError {
        self.pool.error(&e)
    }

    /// A lease row for every wanted query that has none yet, inserted in key order.
    async fn add_rows(&self, keys: &[&str]) -> Result<(), PgError> {
        let insert = self
            .tx
            .prepare_cached(
                "INSERT INTO lease (query_key)
                 SELECT k FROM unnest($1::text[]) AS k ORDER BY k
                 ON CONFLICT (query_key) DO NOTHING",
            )
            .await
            .map_err(|e| self.err(e))?;
        self.tx
            .execute(&insert, &[&keys])
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Says this node is alive; fails if another instance took its name over.
    async fn heartbeat(&self) -> Result<(), PgError> {
        let heartbeat = self
            .tx
            .prepare_cached("UPDATE node SET heartbeat_at = now() WHERE name = $1 AND instance = $2")
            .await
            .map_err(|e| self.err(e))?;
        let rows = self
            .tx
            .execute(&heartbeat, &[&self.node.name(), &self.node.instance()])
            .await
            .map_err(|e| self.err(e))?;
        self.node.still_registered(rows)
    }

    /// The names of the nodes that heartbeat within one lease time, sorted.
    async fn live_nodes(&self) -> Result<Vec<String>, PgError> {
        let live = self
            .tx
            .prepare_cached(
                "SELECT name FROM node WHERE heartbeat_at > now() - $1::float8 * interval '1 second'",
            )
            .await
            .map_err(|e| self.err(e))?;
        let mut live: Vec<String> = self
            .tx
            .query(&live, &[&self.lease])
            .await
            .map_err(|e| self.err(e))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        live.sort();
        Ok(live)
    }

    /// The leases this node holds, locked.
    async fn held(&self) -> Result<BTreeSet<QueryKey>, PgError> {
        let mine = self
            .tx
            .prepare_cached("SELECT query_key FROM lease WHERE holder = $1 FOR UPDATE")
            .await
            .map_err(|e| self.err(e))?;
        Ok(self
            .tx
            .query(&mine, &[&self.node.name()])
            .await
            .map_err(|e| self.err(e))?
            .iter()
            .map(|r| QueryKey(r.get(0)))
            .collect())
    }

    /// Extends the leases in `keep` by one lease time; returns those renewed.
    async fn renew(&self, keep: &[QueryKey]) -> Result<BTreeSet<QueryKey>, PgError> {
        let renew = self
            .tx
            .prepare_cached(
                "UPDATE lease SET expires_at = now() + $3::float8 * interval '1 second', renewed_at = now()
                 WHERE holder = $1 AND query_key = ANY($2) RETURNING query_key",
            )
            .await
            .map_err(|e| self.err(e))?;
        let keep: Vec<&str> = keep.iter().map(QueryKey::as_str).collect();
        Ok(self
            .tx
            .query(&renew, &[&self.node.name(), &keep, &self.lease])
            .await
            .map_err(|e| self.err(e))?
            .iter()
            .map(|r| QueryKey(r.get(0)))
            .collect())
    }

    /// Gives the leases in `release` up at once (free, not waiting to expire).
    async fn release(&self, release: &[QueryKey]) -> Result<(), PgError> {
        if release.is_empty() {
            return Ok(());
        }
        let statement = self
            .tx
            .prepare_cached(
                "UPDATE lease SET holder = NULL, expires_at = now(), renewed_at = NULL
                 WHERE holder = $1 AND query_key = ANY($2)",
            )
            .await
            .map_err(|e| self.err(e))?;
        let keys: Vec<&str> = release.iter().map(QueryKey::as_str).collect();
        self.tx
            .execute(&statement, &[&self.node.name(), &keys])
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Takes up to `take` free leases among `keys`, skipping the rows other claims hold locked.
    /// Returns those acquired and, of them, the ones taken over from an expired holder (with
    /// it), both sorted.
    async fn take_free(
        &self,
        keys: &[&str],
        take: usize,
    ) -> Result<(Vec<QueryKey>, Vec<(QueryKey, String)>), PgError> {
        let mut acquired = Vec::new();
        let mut taken_over = Vec::new();
        if take == 0 {
            return Ok((acquired, taken_over));
        }
        let free = self
            .tx
            .prepare_cached(
                "WITH picked AS (
                     SELECT query_key, holder FROM lease
                     WHERE query_key = ANY($2)
                       AND (holder IS NULL OR expires_at <= now())
                       AND holder IS DISTINCT FROM $1
                     ORDER BY query_key
                     LIMIT $3
                     FOR UPDATE SKIP LOCKED
                 )
                 UPDATE lease l
                 SET holder = $1, expires_at = now() + $4::float8 * interval '1 second',
                     renewed_at = now(), acquired_at = now()
                 FROM picked p WHERE l.query_key = p.query_key
                 RETURNING l.query_key, p.holder",
            )
            .await
            .map_err(|e| self.err(e))?;
        let limit = i64::try_from(take).unwrap_or(i64::MAX);
        for row in self
            .tx
            .query(&free, &[&self.node.name(), &keys, &limit, &self.lease])
            .await
            .map_err(|e| self.err(e))?
        {
            let key = QueryKey(row.get(0));
            if let Some(previous) = row.get::<_, Option<String>>(1) {
                taken_over.push((key.clone(), previous));
            }
            acquired.push(key);
        }
        acquired.sort();
        taken_over.sort();
        Ok((acquired, taken_over))
    }
}

/// One row of the `lease` table, for `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    pub key: QueryKey,
    /// The node holding it while unexpired; `None` when free.
    pub holder: Option<String>,
    pub expires_at: DateTime<Utc>,
}

/// Every lease, by key; an expired lease shows as free.
pub async fn leases(pool: &PgPool) -> Result<Vec<LeaseRow>, PgError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT query_key, CASE WHEN expires_at > now() THEN holder END, expires_at
             FROM lease ORDER BY query_key",
            &[],
        )
        .await
        .map_err(|e| pool.error(&e))?;
    Ok(rows
        .iter()
        .map(|r| LeaseRow {
            key: QueryKey(r.get(0)),
            holder: r.get(1),
            expires_at: r.get(2),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(names: &[&str]) -> BTreeSet<QueryKey> {
        names.iter().map(|n| QueryKey::new(*n)).collect()
    }

    #[test]
    fn shares_add_up_to_the_queries_and_differ_by_at_most_one() {
        for queries in 0..40 {
            for live in 1..7 {
                let shares: Vec<usize> = (0..live).map(|r| fair_share(queries, live, r)).collect();
                assert_eq!(shares.iter().sum::<usize>(), queries, "{queries} over {live}");
                let (min, max) = (shares.iter().min().unwrap(), shares.iter().max().unwrap());
                assert!(max - min <= 1, "{queries} over {live}: {shares:?}");
            }
        }
        assert_eq!([0, 1, 2].map(|r| fair_share(10, 3, r)), [4, 3, 3]);
        assert_eq!(
            fair_share(7, 0, 0),
            7,
            "a node alone in the world takes everything"
        );
    }

    #[test]
    fn a_node_over_its_share_releases_the_last_keys_and_keeps_the_first() {
        let p = plan(
            &keys(&["a", "b", "c", "d", "e"]),
            &keys(&["a", "b", "c", "d", "e"]),
            3,
        );
        assert_eq!(
            p.keep,
            vec![QueryKey::new("a"), QueryKey::new("b"), QueryKey::new("c")]
        );
        assert_eq!(p.release, vec![QueryKey::new("d"), QueryKey::new("e")]);
        assert_eq!(p.take, 0);
    }

    #[test]
    fn unwanted_leases_are_released_and_the_share_refilled() {
        let p = plan(&keys(&["a", "gone"]), &keys(&["a", "b", "c"]), 2);
        assert_eq!(p.keep, vec![QueryKey::new("a")]);
        assert_eq!(p.release, vec![QueryKey::new("gone")]);
        assert_eq!(p.take, 1);
    }

    #[test]
    fn a_left_ticket_key_names_route_date_and_purpose() {
        let q = LeftTicketQuery {
            from: "AOH".into(),
            to: "CZH".into(),
            date: chrono::NaiveDate::from_ymd_opt(2026, 12, 5).unwrap(),
            student: true,
        };
        assert_eq!(
            QueryKey::left_ticket(&q).as_str(),
            "leftTicket/AOH/CZH/2026-12-05/0X00"
        );
    }
}
