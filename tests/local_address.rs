//! The 12306 client bound to one local address (`upstream.local_address`), against the simulator
//! that throttles per client address: what each node of a cluster relies on to have a budget of
//! its own. Linux routes all of 127.0.0.0/8 to loopback, so 127.0.0.2–4 stand for three machines.

use std::net::IpAddr;
use std::time::Duration;

use chrono::Days;
use secrecy::SecretString;
use yupiao::config::Upstream;
use yupiao::rail::client::{LeftTicketQuery, RailClient, RailError};
use yupiao::sim::{AddressLimit, Scenario, Sim, WaitlistSpec};

async fn start_sim() -> Sim {
    Sim::start("127.0.0.1:0".parse().unwrap(), Scenario::builtin())
        .await
        .expect("simulator")
}

fn client(sim: &Sim, local: &str) -> RailClient {
    let upstream = Upstream {
        rail_url: sim.base_url(),
        min_interval: Duration::ZERO,
        jitter: Duration::ZERO,
        ..Upstream::default()
    };
    RailClient::with_local_address(&upstream, Some(local.parse::<IpAddr>().unwrap())).expect("client")
}

fn tomorrow_shh_czh() -> LeftTicketQuery {
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    LeftTicketQuery {
        from: "SHH".into(),
        to: "CZH".into(),
        date: today + Days::new(1),
        student: false,
    }
}

#[tokio::test]
async fn a_client_bound_to_127_0_0_3_is_seen_by_the_simulator_as_127_0_0_3() {
    let sim = start_sim().await;
    let c = client(&sim, "127.0.0.3");
    assert_eq!(c.local_address(), Some("127.0.0.3".parse().unwrap()));
    c.init().await.expect("init");
    let page = c.query_left_ticket(&tomorrow_shh_czh()).await.expect("query");
    assert!(!page.trains.is_empty());

    let stats = sim.stats();
    assert_eq!(stats.peers.keys().collect::<Vec<_>>(), vec!["127.0.0.3"]);
    assert_eq!(stats.peers["127.0.0.3"].requests, 2, "init and the query");
    assert!(stats.queries.iter().all(|q| q.peer == "127.0.0.3"));
    sim.shutdown().await;
}

#[tokio::test]
async fn the_logged_in_waitlist_calls_leave_from_the_bound_address_too() {
    let sim = start_sim().await;
    sim.set_waitlist(Some(WaitlistSpec::seed()));
    let c = client(&sim, "127.0.0.4");
    let cookie = SecretString::from("JSESSIONID=abc; tk=session".to_string());
    c.query_waitlist(&cookie).await.expect("候补 query");
    let stats = sim.stats();
    assert_eq!(stats.peers.keys().collect::<Vec<_>>(), vec!["127.0.0.4"]);
    assert_eq!(stats.requests["/otn/afterNateOrder/queryQueue"], 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn three_bound_clients_each_have_their_own_budget_under_a_per_address_limit() {
    let sim = start_sim().await;
    sim.set_address_limit(Some(AddressLimit {
        requests: 4,
        window: Duration::from_secs(300),
    }));
    let q = tomorrow_shh_czh();
    let clients: Vec<RailClient> = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
        .iter()
        .map(|ip| client(&sim, ip))
        .collect();
    for c in &clients {
        c.init().await.expect("init");
        for _ in 0..3 {
            c.query_left_ticket(&q)
                .await
                .expect("within this address's budget");
        }
    }
    // 12 queries served in all: three times what one address may send. The fifth request from
    // one address is refused as 12306 refuses it, and only that address is refused.
    let e = clients[1].query_left_ticket(&q).await.unwrap_err();
    assert!(matches!(e, RailError::Throttled { .. }), "{e:?}");
    let stats = sim.stats();
    for ip in ["127.0.0.2", "127.0.0.3", "127.0.0.4"] {
        assert_eq!(stats.peers[ip].requests, 4, "{ip}");
    }
    assert_eq!(stats.peers["127.0.0.3"].throttled, 1);
    assert_eq!(stats.peers["127.0.0.2"].throttled, 0);
    sim.shutdown().await;
}
