//! The real client against the simulator for what 起售 needs: 12306's clock through
//! `login/conf`, and `qss.js` found from the index page.

use chrono::TimeDelta;

use super::client::RailError;
use super::test_support::sim_and_client;
use crate::sale::clock::{Resolution, ServerClock};

#[tokio::test]
async fn the_offset_of_a_clock_minutes_away_is_measured_within_the_round_trip() {
    let (sim, client) = sim_and_client().await;
    for offset in [TimeDelta::minutes(-7), TimeDelta::seconds(95)] {
        sim.set_clock_offset(offset);
        let mut clock = ServerClock::default();
        for _ in 0..3 {
            let timed = client.login_conf_timed().await.unwrap();
            assert!(timed.received >= timed.sent);
            let sample = timed.clock_sample().unwrap();
            assert_eq!(sample.resolution, Resolution::Millis);
            clock.add(sample);
        }
        let measured = clock.offset().unwrap();
        let bound = clock.uncertainty().unwrap();
        // The simulator stamps `now` from the machine's clock plus its offset, between our send
        // and our receive: the measurement is within its own stated bound.
        assert!(
            (measured - offset).abs() <= bound + TimeDelta::milliseconds(1),
            "measured {measured}, set {offset}, ±{bound}"
        );
        let server_now = clock.server_now(chrono::Utc::now());
        assert!((server_now - sim.clock_now()).abs() < TimeDelta::seconds(2));
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn qss_is_found_from_the_index_page_and_fetched_with_its_date() {
    let (sim, client) = sim_and_client().await;
    let url = client
        .discover_qss_url("/index/index.html")
        .await
        .unwrap()
        .expect("the index page links qss.js");
    assert_eq!(
        url,
        format!("{}/index/script/core/common/qss_v10099.js", sim.base_url())
    );
    let before = chrono::Utc::now();
    let fetched = client.fetch_qss(&url).await.unwrap();
    assert!(fetched.fetched_at >= before);
    // reqwest's text decoding drops the BOM the simulator (like 12306) sends; the body kept for
    // the cache decodes the same with or without it.
    assert!(
        fetched.body.starts_with("var citys = {"),
        "{}",
        &fetched.body[..20]
    );
    assert_eq!(
        crate::sale::qss::decode_qss(&fetched.body).unwrap(),
        fetched.table
    );
    assert_eq!(
        fetched.table.time_of("上海"),
        chrono::NaiveTime::from_hms_opt(14, 30, 0)
    );
    // The older path, given as a path under the base URL.
    let old = client.fetch_qss("/otn/resources/js/query/qss.js").await.unwrap();
    assert_eq!(old.table, fetched.table);
    // A moved script is an endpoint problem, a page that is not qss.js a decode error.
    assert!(matches!(
        client.fetch_qss("/index/script/core/common/gone.js").await,
        Err(RailError::Endpoint(_))
    ));
    assert!(matches!(
        client.fetch_qss("/index/index.html").await,
        Err(RailError::Decode(_))
    ));
    assert_eq!(
        client.requests_sent(),
        5,
        "every fetch went through the pacing gate"
    );
    sim.shutdown().await;
}
