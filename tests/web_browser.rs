//! The status page in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`) driven over WebDriver loads the page from the real router on loopback at
//! 390 px (a phone) and 1280 px, and the test checks the rendered DOM: no horizontal overflow
//! on the phone, the charts drawn with a size, every watch name there, the live refresh
//! replacing the content after the daemon publishes a new snapshot, light and dark. With
//! `YUPIAO_UPDATE_SCREENSHOTS=1` it rewrites the screenshots shown in the README
//! (`docs/screenshots/`); otherwise they go under the target directory.
//!
//! Without Chromium it says so in one line and passes, except under `CI=true`, where it fails:
//! CI installs the packages (`.ci/run`).

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use yupiao::web::sample::{self, Size};
use yupiao::web::server::{self, Heartbeat, Limits, Web, WebOptions};

const CHROMIUM: &[&str] = &[
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
];
const DRIVER: &[&str] = &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"];

fn find(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

/// chromedriver, killed when dropped.
struct Driver {
    child: Child,
    base: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_driver(driver: &Path) -> Driver {
    let port = free_port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let d = Driver {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = reqwest::get(format!("{}/status", d.base)).await
            && let Ok(v) = r.json::<Value>().await
            && v["value"]["ready"] == true
        {
            return d;
        }
        assert!(Instant::now() < deadline, "chromedriver did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One WebDriver session.
struct Session {
    http: reqwest::Client,
    url: String,
}

impl Session {
    async fn new(driver: &Driver, chromium: &Path, profile: &Path) -> Session {
        let http = reqwest::Client::new();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.to_string_lossy(),
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--hide-scrollbars", "--force-device-scale-factor=1",
                    format!("--user-data-dir={}", profile.display()),
                    "--window-size=390,844",
                ]
            }
        }}});
        let res: Value = http
            .post(format!("{}/session", driver.base))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {res}"))
            .to_string();
        Session {
            http,
            url: format!("{}/session/{id}", driver.base),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let req = self.http.request(method, format!("{}{path}", self.url));
        let req = if body.is_null() { req } else { req.json(&body) };
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        if v["value"].get("error").is_some() {
            panic!("WebDriver {path}: {v}");
        }
        v["value"].clone()
    }

    async fn script(&self, js: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": js, "args": []}),
        )
        .await
    }

    async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", json!({ "url": url }))
            .await;
    }

    /// Sizes the window so that the page's viewport is `width` × `height` CSS pixels.
    async fn viewport(&self, width: i64, height: i64) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            json!({"width": width, "height": height}),
        )
        .await;
        let inner = self
            .script("return [window.innerWidth, window.innerHeight]")
            .await;
        let (iw, ih) = (inner[0].as_i64().unwrap(), inner[1].as_i64().unwrap());
        if iw != width || ih != height {
            self.call(
                reqwest::Method::POST,
                "/window/rect",
                json!({"width": width + (width - iw), "height": height + (height - ih)}),
            )
            .await;
        }
        let inner = self.script("return window.innerWidth").await;
        assert_eq!(inner.as_i64(), Some(width), "the viewport is {width} px wide");
    }

    async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.call(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            json!({"cmd": cmd, "params": params}),
        )
        .await
    }

    async fn screenshot(&self, path: &Path) {
        let b64 = self.call(reqwest::Method::GET, "/screenshot", Value::Null).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap();
        assert_eq!(&png[1..4], b"PNG");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }

    /// Polls `js` until it returns true (the browser works asynchronously).
    async fn wait_for(&self, js: &str, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.script(js).await != Value::Bool(true) {
            assert!(Instant::now() < deadline, "waited in vain for: {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn quit(&self) {
        let _ = self.http.delete(&self.url).send().await;
    }
}

const LAYOUT: &str = r#"
const de = document.documentElement;
const charts = [...document.querySelectorAll('svg.chart')];
const firstChart = charts[0].getBoundingClientRect();
const names = [...document.querySelectorAll('article.watch h3')].map(h => h.textContent);
const overflowing = [...document.querySelectorAll('body *')]
  .filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.right > de.clientWidth + 0.5; })
  .slice(0, 5).map(e => e.tagName + '.' + e.className.baseVal + e.className);
const label = [...document.querySelectorAll('.xl span')][0].getBoundingClientRect();
return {
  scrollWidth: de.scrollWidth, clientWidth: de.clientWidth,
  charts: charts.length, histograms: document.querySelectorAll('svg.bars').length,
  chartWidth: firstChart.width, chartHeight: firstChart.height,
  chartRight: firstChart.right, names: names,
  overflowing: overflowing,
  labelHeight: label.height,
  fontSize: parseFloat(getComputedStyle(document.querySelector('.xl span')).fontSize),
  bg: getComputedStyle(document.body).backgroundColor,
  title: document.title,
};
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_reads_well_in_chromium_at_390_and_1280_px() {
    let (Some(chromium), Some(driver)) = (find(CHROMIUM), find(DRIVER)) else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("Chromium is required under CI=true: apt-get install chromium chromium-driver");
        }
        println!(
            "web_browser: did not run (no Chromium here); to run it: apt-get install chromium chromium-driver"
        );
        return;
    };
    // The page's script keeps relative times current against the browser's clock.
    let now = yupiao::clock::now();
    // 90 days of history at a change rate that reads like a real route (the benchmark uses
    // 20 a day); each chart shows the last 15 days of it.
    let size = Size {
        watches: 24,
        dates: 3,
        days: 90,
        changes_per_day: 6,
    };
    let view = sample::view(size, now);
    let names: Vec<String> = view.watches.iter().map(|w| w.name.clone()).collect();
    let (publisher, rx) = server::snapshots(view);
    let stop = CancellationToken::new();
    let heartbeat = Heartbeat::new();
    heartbeat.beat();
    let app = Web::new(rx, heartbeat, WebOptions::default(), stop.clone()).router();
    let listener = server::bind("127.0.0.1:0".parse().unwrap(), None).await.unwrap();
    let page_url = format!("http://{}/", listener.local_addr().unwrap());
    let srv = tokio::spawn(server::serve(listener, app, Limits::default(), stop.clone()));

    let driver = start_driver(&driver).await;
    let profile = tempfile::tempdir().unwrap();
    let s = Session::new(&driver, &chromium, profile.path()).await;
    // The README's screenshots are rewritten only on request (YUPIAO_UPDATE_SCREENSHOTS=1), so a
    // plain `cargo test` never dirties the checkout; otherwise they go to the target directory.
    let shots = if std::env::var_os("YUPIAO_UPDATE_SCREENSHOTS").is_some() {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots")
    } else {
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots")
    };
    std::fs::create_dir_all(&shots).expect("screenshot directory");

    // A phone: 390 px.
    s.viewport(390, 844).await;
    s.goto(&page_url).await;
    let m = s.script(LAYOUT).await;
    assert_eq!(m["clientWidth"], 390, "{m}");
    assert!(
        m["scrollWidth"].as_i64().unwrap() <= 390,
        "no horizontal overflow at 390 px: {m}"
    );
    assert_eq!(m["overflowing"], json!([]), "no element sticks out at 390 px");
    assert_eq!(
        m["charts"].as_u64(),
        Some((size.watches * size.dates) as u64),
        "one chart per (watch, date)"
    );
    assert_eq!(m["histograms"].as_u64(), Some(size.watches as u64));
    let w = m["chartWidth"].as_f64().unwrap();
    assert!(
        w > 250.0 && m["chartRight"].as_f64().unwrap() <= 390.0,
        "the chart fills the card: {m}"
    );
    assert!(m["chartHeight"].as_f64().unwrap() >= 80.0, "{m}");
    assert!(
        m["fontSize"].as_f64().unwrap() >= 10.0,
        "axis labels stay readable: {m}"
    );
    let shown: Vec<String> = serde_json::from_value(m["names"].clone()).unwrap();
    assert_eq!(shown, names, "every watch, in order");
    // The script connects to the event stream (the "live" pill shows).
    s.wait_for("return !document.getElementById('live').hidden", "the live pill")
        .await;
    // Tall enough to show a whole watch with its charts.
    s.viewport(390, 1800).await;
    s.screenshot(&shots.join("status-390.png")).await;

    // The daemon publishes a change: the open page replaces its content by itself.
    let mut next = sample::view(size, now);
    next.watches[0].name = "上海虹桥→常州 改签后".into();
    publisher.publish(next);
    s.wait_for(
        "return document.querySelector('article.watch h3').textContent === '上海虹桥→常州 改签后' \
         && document.getElementById('main').dataset.revision === '2'",
        "the live refresh",
    )
    .await;

    // Dark mode at 390 px.
    s.cdp(
        "Emulation.setEmulatedMedia",
        json!({"features": [{"name": "prefers-color-scheme", "value": "dark"}]}),
    )
    .await;
    s.goto(&page_url).await;
    s.script("document.getElementById('w1').scrollIntoView()").await;
    let dark = s.script(LAYOUT).await;
    assert_ne!(dark["bg"], m["bg"], "dark mode has its own colours");
    assert!(dark["scrollWidth"].as_i64().unwrap() <= 390, "{dark}");
    s.screenshot(&shots.join("status-390-dark.png")).await;
    s.cdp(
        "Emulation.setEmulatedMedia",
        json!({"features": [{"name": "prefers-color-scheme", "value": "light"}]}),
    )
    .await;

    // A desktop: 1280 px.
    s.viewport(1280, 1500).await;
    s.goto(&page_url).await;
    let m = s.script(LAYOUT).await;
    assert!(m["scrollWidth"].as_i64().unwrap() <= 1280, "{m}");
    assert_eq!(m["charts"].as_u64(), Some((size.watches * size.dates) as u64));
    let cols = s
        .script("const xs = new Set([...document.querySelectorAll('article.watch')].slice(0, 4).map(a => Math.round(a.getBoundingClientRect().left))); return xs.size")
        .await;
    assert_eq!(cols, 2, "two columns of watches at 1280 px");
    s.screenshot(&shots.join("status-1280.png")).await;

    s.quit().await;
    drop(driver);
    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(10), srv).await;
}
