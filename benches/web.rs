//! Status page benchmark: how long the server takes to render the page (issue 14: ≤ 50 ms with
//! 1,000 watches and 90 days of history).
//!
//! The view model is [`yupiao::web::sample`]: `WEB_WATCHES` watches (1000) × `WEB_DATES` dates
//! (3), `WEB_DAYS` days of history (90) at `WEB_CHANGES` seat changes per (watch, date) per day
//! (20) — 5.4 million history rows by default — built through the daemon's builder
//! ([`yupiao::web::history::timelines_from_changes`]: merge, 15-day window, per-column bound).
//! Reported:
//! - building the view model (once per change, in the daemon; not per request), total and per
//!   watch;
//! - drawing every chart (`page::prepare`: once per snapshot; the server caches it, and draws
//!   it before telling open pages that the snapshot changed);
//! - rendering the page around the drawn charts (`page::render_prepared`: what `GET /` runs
//!   for every request), `WEB_RUNS` (30) times: median and max, and the page size; and the
//!   uncached first render (`page::render`);
//! - the page fetched over HTTP from the real router on loopback, for the end-to-end figure.
//!
//! ```sh
//! cargo bench --bench web
//! WEB_WATCHES=100 cargo bench --bench web    # quick check
//! ```

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use yupiao::web::page;
use yupiao::web::sample::{self, Size};
use yupiao::web::server::{self, Heartbeat, Limits, Web, WebOptions};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn stats(mut runs: Vec<Duration>) -> (Duration, Duration) {
    runs.sort();
    (runs[runs.len() / 2], *runs.last().unwrap())
}

fn main() {
    let size = Size {
        watches: env("WEB_WATCHES", 1000) as usize,
        dates: env("WEB_DATES", 3) as usize,
        days: env("WEB_DAYS", 90) as i64,
        changes_per_day: env("WEB_CHANGES", 20) as u32,
    };
    let runs = env("WEB_RUNS", 30) as usize;
    let now = yupiao::clock::now();
    let rows = size.watches as u64 * size.dates as u64 * size.days as u64 * size.changes_per_day as u64;
    println!(
        "status page benchmark: {} watches × {} dates, {} days of history at {} changes per (watch, date) per day = {} history rows",
        size.watches, size.dates, size.days, size.changes_per_day, rows
    );

    let t = Instant::now();
    let view = sample::view(size, now);
    let build = t.elapsed();
    let points: usize = view
        .watches
        .iter()
        .flat_map(|w| &w.timelines)
        .flat_map(|t| &t.series)
        .map(|s| s.points.len())
        .sum();
    let charts: usize = view.watches.iter().map(|w| w.timelines.len()).sum();
    println!(
        "build view model (generate + merge + window + bound): {} total, {} per watch; {} charts, {} points drawn",
        ms(build),
        ms(build / size.watches.max(1) as u32),
        charts,
        points
    );

    // Per snapshot: every chart drawn once (the server caches it until the next snapshot).
    let mut prep_times = Vec::new();
    let mut prepared = page::prepare(&view);
    for _ in 0..runs.min(10) {
        let t = Instant::now();
        prepared = page::prepare(&view);
        prep_times.push(t.elapsed());
    }
    let (prep_median, prep_max) = stats(prep_times);
    println!(
        "draw charts (once per snapshot): median {}, max {} over {} runs",
        ms(prep_median),
        ms(prep_max),
        runs.min(10)
    );
    // Per request: the page around the cached charts (what `GET /` runs for a known snapshot).
    let mut times = Vec::with_capacity(runs);
    let mut bytes = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let html = page::render_prepared(&view, &prepared, now, 1);
        times.push(t.elapsed());
        bytes = html.len();
        std::hint::black_box(html);
    }
    let (median, max) = stats(times);
    println!(
        "render page (per request, charts cached): median {}, max {} over {runs} renders; {:.1} MB of HTML ({:.1} KB per watch)",
        ms(median),
        ms(max),
        bytes as f64 / 1e6,
        bytes as f64 / 1e3 / size.watches.max(1) as f64
    );
    let mut cold = Vec::new();
    for _ in 0..runs.min(10) {
        let t = Instant::now();
        std::hint::black_box(page::render(&view, now, 1));
        cold.push(t.elapsed());
    }
    let (cold_median, cold_max) = stats(cold);
    println!(
        "render page (first request of a snapshot: charts + page): median {}, max {}",
        ms(cold_median),
        ms(cold_max)
    );

    // The same page over HTTP from the real router (render + copy to the socket + client read).
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (_publisher, rx) = server::snapshots(view);
        let stop = CancellationToken::new();
        let app = Web::new(rx, Heartbeat::new(), WebOptions::default(), stop.clone()).router();
        let listener = server::bind("127.0.0.1:0".parse().unwrap(), None).await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(server::serve(listener, app, Limits::default(), stop.clone()));
        let http = reqwest::Client::new();
        let mut times = Vec::new();
        for _ in 0..runs.min(10) {
            let t = Instant::now();
            let body = http.get(&url).send().await.unwrap().bytes().await.unwrap();
            times.push(t.elapsed());
            assert!(body.len() > 1000);
        }
        let (median, max) = stats(times);
        println!(
            "GET / over loopback (render + transfer): median {}, max {}",
            ms(median),
            ms(max)
        );
        stop.cancel();
    });
    let verdict = if median <= Duration::from_millis(50) {
        "within"
    } else {
        "OVER"
    };
    println!("target: render ≤ 50 ms server time: {verdict} ({})", ms(median));
}
