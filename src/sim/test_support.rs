//! What tests running a real client against the simulator share.

use std::time::Duration;

use super::{Scenario, Sim};
use crate::config::Upstream;
use crate::rail::client::RailClient;

/// The built-in scenario on a free loopback port, and a 12306 client pointed at it that does
/// not pace its requests.
pub(crate) async fn sim_and_rail_client() -> (Sim, RailClient) {
    let sim = Sim::start("127.0.0.1:0".parse().unwrap(), Scenario::builtin())
        .await
        .unwrap();
    let client = RailClient::new(&Upstream {
        rail_url: sim.base_url(),
        min_interval: Duration::ZERO,
        jitter: Duration::ZERO,
        ..Upstream::default()
    })
    .unwrap();
    (sim, client)
}
