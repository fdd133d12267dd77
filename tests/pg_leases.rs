//! Several nodes sharing queries through a real PostgreSQL server: fair shares, takeover of a
//! silent node's leases after (and only after) they expire, and never two holders at once.
//!
//! Each simulated node has its own pool, as separate machines would. Lease times are short so
//! that expiry happens within the test; nothing here asserts how long anything took.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use yupiao::pg::lease::{self, Claim, QueryKey};
use yupiao::pg::node::{self, Node, NodeInfo, NodeStats};
use yupiao::pg::{PgError, PgPool, PgTarget, PoolOptions, migrate};
use yupiao::pg_test_server::{TestDb, test_database};

/// A database on the shared test server, or `None` (one line printed) without PostgreSQL.
macro_rules! database_or_skip {
    () => {
        match test_database().await {
            Some(db) => db,
            None => return,
        }
    };
}

async fn pool(db: &TestDb) -> PgPool {
    let target = PgTarget::parse(&db.url).expect("test URL");
    PgPool::connect(&target, PoolOptions::default())
        .await
        .expect("pool")
}

/// A node on its own pool, the schema migrated.
async fn start_node(db: &TestDb, name: &str, lease: Duration) -> (PgPool, Node) {
    let pool = pool(db).await;
    migrate(&pool, name).await.expect("migrations");
    let node = Node::register(&pool, &NodeInfo::new(name, None), lease)
        .await
        .expect("register");
    (pool, node)
}

fn queries(n: usize) -> Vec<QueryKey> {
    (0..n)
        .map(|i| QueryKey::new(format!("leftTicket/AOH/CZH/2026-12-{:02}/ADULT", i + 1)))
        .collect()
}

fn all_disjoint(claims: &[&Claim]) -> bool {
    let total: usize = claims.iter().map(|c| c.held.len()).sum();
    let union: BTreeSet<&QueryKey> = claims.iter().flat_map(|c| &c.held).collect();
    union.len() == total
}

#[tokio::test]
async fn two_nodes_share_ten_queries_five_each_and_three_nodes_four_three_three() {
    let db = database_or_skip!();
    let lease = Duration::from_secs(30);
    let wanted = queries(10);
    let (pa, a) = start_node(&db, "a", lease).await;
    let (pb, b) = start_node(&db, "b", lease).await;

    let ca = lease::claim(&pa, &a, &wanted).await.unwrap();
    let cb = lease::claim(&pb, &b, &wanted).await.unwrap();
    assert_eq!((ca.live_nodes, ca.share, ca.held.len()), (2, 5, 5));
    assert_eq!((cb.live_nodes, cb.share, cb.held.len()), (2, 5, 5));
    assert!(all_disjoint(&[&ca, &cb]));

    // A third node joins: it finds nothing free until the others give up their surplus.
    let (pc, c) = start_node(&db, "c", lease).await;
    let cc = lease::claim(&pc, &c, &wanted).await.unwrap();
    assert_eq!((cc.live_nodes, cc.share), (3, 3));
    assert!(cc.held.is_empty(), "every lease is held and unexpired");
    let ca = lease::claim(&pa, &a, &wanted).await.unwrap();
    let cb = lease::claim(&pb, &b, &wanted).await.unwrap();
    assert_eq!((ca.share, ca.held.len(), ca.released.len()), (4, 4, 1));
    assert_eq!((cb.share, cb.held.len(), cb.released.len()), (3, 3, 2));
    let cc = lease::claim(&pc, &c, &wanted).await.unwrap();
    assert_eq!(cc.held.len(), 3);
    assert_eq!(cc.acquired.len(), 3);
    assert!(
        cc.taken_over.is_empty(),
        "released leases are free, not taken over"
    );
    assert!(all_disjoint(&[&ca, &cb, &cc]));
    let union: BTreeSet<QueryKey> = [&ca, &cb, &cc].iter().flat_map(|c| c.held.clone()).collect();
    assert_eq!(union, wanted.iter().cloned().collect());

    // A steady round changes nothing.
    let again = lease::claim(&pa, &a, &wanted).await.unwrap();
    assert_eq!(again.held, ca.held);
    assert!(again.acquired.is_empty() && again.released.is_empty());
}

#[tokio::test]
async fn a_silent_node_keeps_its_leases_until_they_expire_then_the_others_take_them_over() {
    let db = database_or_skip!();
    let lease = Duration::from_millis(1500);
    let wanted = queries(10);
    let (pa, a) = start_node(&db, "a", lease).await;
    let (pb, b) = start_node(&db, "b", lease).await;
    let (pc, c) = start_node(&db, "c", lease).await;
    // Two rounds: the first round's early claimers took more than the share before all three
    // were counted; the second settles.
    for _ in 0..2 {
        for (p, n) in [(&pa, &a), (&pb, &b), (&pc, &c)] {
            lease::claim(p, n, &wanted).await.unwrap();
        }
    }
    let c_held = lease::claim(&pc, &c, &wanted).await.unwrap().held;
    assert_eq!(c_held.len(), 3);
    // From here on "c" is silent (as after kill -9): no claim, no heartbeat.

    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(rounds < 200, "c's leases were never taken over");
        let ca = lease::claim(&pa, &a, &wanted).await.unwrap();
        let cb = lease::claim(&pb, &b, &wanted).await.unwrap();
        for claim in [&ca, &cb] {
            if claim.live_nodes == 3 {
                // c still counts as live, so its leases have not expired: untouchable.
                assert!(claim.held.is_disjoint(&c_held), "took a live node's lease");
                assert!(claim.taken_over.is_empty());
            }
        }
        if ca.live_nodes == 2 && cb.live_nodes == 2 {
            // The first round in which both see c as dead: everything is covered at once.
            assert!(all_disjoint(&[&ca, &cb]));
            assert_eq!((ca.held.len(), cb.held.len()), (5, 5));
            let taken: BTreeSet<QueryKey> = ca
                .taken_over
                .iter()
                .chain(&cb.taken_over)
                .map(|(k, from)| {
                    assert_eq!(from, "c");
                    k.clone()
                })
                .collect();
            assert_eq!(taken, c_held, "exactly c's leases were taken over");
            break;
        }
        tokio::time::sleep(lease / 5).await;
    }
    let rows = node::nodes(&pa, lease).await.unwrap();
    let live: Vec<(&str, bool)> = rows.iter().map(|r| (r.name.as_str(), r.live)).collect();
    assert_eq!(live, vec![("a", true), ("b", true), ("c", false)]);
}

#[tokio::test]
async fn a_node_that_leaves_frees_its_leases_at_once() {
    let db = database_or_skip!();
    let lease = Duration::from_secs(60);
    let wanted = queries(4);
    let (pa, a) = start_node(&db, "a", lease).await;
    let (pb, b) = start_node(&db, "b", lease).await;
    lease::claim(&pa, &a, &wanted).await.unwrap();
    let cb = lease::claim(&pb, &b, &wanted).await.unwrap();
    assert_eq!(cb.held.len(), 2);
    b.deregister(&pb).await.unwrap();
    let ca = lease::claim(&pa, &a, &wanted).await.unwrap();
    assert_eq!(ca.held.len(), 4, "no need to wait {lease:?} for b's leases");
    assert!(ca.taken_over.is_empty(), "they were freed, not expired");
    let e = lease::claim(&pb, &b, &wanted).await.unwrap_err();
    assert!(matches!(e, PgError::Superseded { .. }), "{e:?}");
}

#[tokio::test]
async fn queries_nobody_wants_any_more_are_released() {
    let db = database_or_skip!();
    let (p, a) = start_node(&db, "a", Duration::from_secs(60)).await;
    let all = queries(5);
    assert_eq!(lease::claim(&p, &a, &all).await.unwrap().held.len(), 5);
    let c = lease::claim(&p, &a, &all[..2]).await.unwrap();
    assert_eq!(c.held, all[..2].iter().cloned().collect());
    assert_eq!(c.released, all[2..].to_vec());
    let rows = lease::leases(&p).await.unwrap();
    let free: Vec<&QueryKey> = rows
        .iter()
        .filter(|r| r.holder.is_none())
        .map(|r| &r.key)
        .collect();
    assert_eq!(free, all[2..].iter().collect::<Vec<_>>());
}

#[tokio::test]
async fn a_live_nodes_name_is_refused_and_a_silent_ones_successor_supersedes_it() {
    let db = database_or_skip!();
    let lease = Duration::from_millis(800);
    let (p, first) = start_node(&db, "same", lease).await;
    let e = Node::register(&p, &NodeInfo::new("same", None), lease)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, PgError::NameTaken { name, .. } if name == "same"),
        "{e:?}"
    );

    // Once the first falls silent for a lease time, a restart under the name succeeds …
    let second = loop {
        match Node::register(&p, &NodeInfo::new("same", None), lease).await {
            Ok(n) => break n,
            Err(PgError::NameTaken { .. }) => tokio::time::sleep(lease / 4).await,
            Err(e) => panic!("{e:?}"),
        }
    };
    second.heartbeat(&p, &NodeStats::default()).await.unwrap();
    // … and the first, should it wake up, is told to stop rather than poll beside it.
    let e = first.heartbeat(&p, &NodeStats::default()).await.unwrap_err();
    assert!(matches!(e, PgError::Superseded { .. }), "{e:?}");
    let e = lease::claim(&p, &first, &queries(2)).await.unwrap_err();
    assert!(matches!(e, PgError::Superseded { .. }), "{e:?}");
}

#[tokio::test]
async fn the_registry_shows_each_nodes_address_figures_and_lease_count() {
    let db = database_or_skip!();
    let lease = Duration::from_secs(60);
    let p = pool(&db).await;
    migrate(&p, "x").await.unwrap();
    let info = NodeInfo::new("edge-3", Some("127.0.0.3".parse().unwrap()));
    let n = Node::register(&p, &info, lease).await.unwrap();
    let backoff = chrono::Utc::now() + chrono::Duration::minutes(2);
    n.heartbeat(
        &p,
        &NodeStats {
            requests_5m: 77,
            backoff_until: Some(backoff),
        },
    )
    .await
    .unwrap();
    lease::claim(&p, &n, &queries(3)).await.unwrap();
    let rows = node::nodes(&p, lease).await.unwrap();
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r.name, "edge-3");
    assert_eq!(r.address.as_deref(), Some("127.0.0.3"));
    assert_eq!(r.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(r.requests_5m, 77);
    assert_eq!(
        r.backoff_until.map(|t| t.timestamp_micros()),
        Some(backoff.timestamp_micros())
    );
    assert!(r.live);
    assert_eq!(r.leases, 3);
    assert!(r.heartbeat_at >= r.started_at);
}

/// One claim as its node lived it: it may poll `held` from `from` until `until` (the earlier of
/// its lease's end and the start of its next claim, when it stops to ask again).
struct Belief {
    node: usize,
    held: BTreeSet<QueryKey>,
    from: Instant,
    until: Instant,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn no_query_is_ever_held_by_two_nodes_while_nodes_claim_concurrently_stall_and_recover() {
    let db = database_or_skip!();
    let lease = Duration::from_millis(400);
    let wanted = queries(12);
    let mut nodes = Vec::new();
    for name in ["a", "b", "c"] {
        nodes.push(start_node(&db, name, lease).await);
    }
    let tasks: Vec<_> = nodes
        .into_iter()
        .enumerate()
        .map(|(i, (pool, node))| {
            let wanted = wanted.clone();
            tokio::spawn(async move {
                let mut lived = Vec::new();
                let mut taken_over = 0;
                for round in 0..40u64 {
                    let asked = Instant::now();
                    if let Some(last) = lived.last_mut() {
                        let last: &mut Belief = last;
                        last.until = last.until.min(asked);
                    }
                    let claim = lease::claim(&pool, &node, &wanted).await.expect("claim");
                    taken_over += claim.taken_over.len();
                    lived.push(Belief {
                        node: i,
                        held: claim.held.clone(),
                        from: Instant::now(),
                        until: claim.valid_until,
                    });
                    // Mostly well inside the lease; each node stalls past it twice (a long GC,
                    // a hung disk), at different rounds, so that its leases expire under load.
                    let pause = if round % 20 == 5 + 4 * i as u64 {
                        lease * 2
                    } else {
                        Duration::from_millis((round * 37 + i as u64 * 53) % 150)
                    };
                    tokio::time::sleep(pause).await;
                }
                (lived, taken_over)
            })
        })
        .collect();
    let mut beliefs = Vec::new();
    let mut taken_over = 0;
    for t in tasks {
        let (lived, n) = t.await.unwrap();
        beliefs.extend(lived);
        taken_over += n;
    }
    assert!(taken_over > 0, "the stalls made leases expire and change hands");
    let mut checked = 0;
    for (i, x) in beliefs.iter().enumerate() {
        for y in &beliefs[i + 1..] {
            if x.node == y.node || x.from >= y.until || y.from >= x.until {
                continue;
            }
            checked += 1;
            let both: Vec<_> = x.held.intersection(&y.held).collect();
            assert!(
                both.is_empty(),
                "nodes {} and {} both held {both:?} at the same time",
                x.node,
                y.node
            );
        }
    }
    assert!(checked > 100, "the claims overlapped in time ({checked} pairs)");
}
