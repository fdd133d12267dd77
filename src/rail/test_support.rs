//! What the tests of the 12306 client share: a client that does not pace itself, and the
//! built-in simulator with one.

use std::time::Duration;

use super::client::RailClient;
use crate::config::Upstream;
use crate::sim::{Scenario, Sim};

/// A client for `base_url` that sends its requests without waiting between them.
pub(crate) fn unpaced_client(base_url: String) -> RailClient {
    RailClient::new(&Upstream {
        rail_url: base_url,
        min_interval: Duration::ZERO,
        jitter: Duration::ZERO,
        ..Upstream::default()
    })
    .expect("a client for a loopback URL")
}

/// The built-in simulator on a free loopback port, and an unpaced client for it.
pub(crate) async fn sim_and_client() -> (Sim, RailClient) {
    let sim = Sim::start("127.0.0.1:0".parse().unwrap(), Scenario::builtin())
        .await
        .unwrap();
    let client = unpaced_client(sim.base_url());
    (sim, client)
}
