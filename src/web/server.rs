//! Serving the status page: the axum router, the token rule, and the accept loop.
//!
//! Shape, and why:
//! - The daemon publishes snapshots through a [`Publisher`] (a `tokio::sync::watch` channel of
//!   [`Snapshot`]s). Requests read the latest one without touching the database; `/events`
//!   waits on the same channel, so a browser learns of a change the moment the daemon records
//!   one, and nothing polls in a loop.
//! - `/healthz` answers from a [`Heartbeat`] the poller beats: 200 while fresh, 503 otherwise,
//!   for a reverse proxy or an uptime monitor. It says nothing else, so it needs no token.
//! - A page bound beyond loopback is reachable by others: [`requires_token`] is the rule and
//!   [`check_listen`] refuses to start without a token there. A configured token is always
//!   required (`?token=` or `Authorization: Bearer`), compared in constant time.
//! - Read-only: any method but GET and HEAD is refused (405) before routing.
//! - [`serve`] is a hand-written hyper loop rather than `axum::serve`, which has no header
//!   timeout or connection limit: a header read timeout (which in hyper 1.x also closes
//!   keep-alive connections idle for that long), a cap on open connections (over it, a new
//!   connection is closed at once), and a bounded graceful shutdown (open event streams end).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt as _;
use futures_util::stream::{self, Stream};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use super::listen::{MIN_TOKEN_CHARS, WebError, check_listen, requires_token};
use super::page;
use super::view::ViewModel;
use crate::clock;

/// One published view model and its number (increasing by one per publication).
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub revision: u64,
    pub view: Arc<ViewModel>,
}

/// The daemon's end of the snapshot channel.
#[derive(Debug)]
pub struct Publisher {
    tx: watch::Sender<Snapshot>,
}

/// A channel whose first snapshot (revision 1) is `initial`.
pub fn snapshots(initial: ViewModel) -> (Publisher, watch::Receiver<Snapshot>) {
    let (tx, rx) = watch::channel(Snapshot {
        revision: 1,
        view: Arc::new(initial),
    });
    (Publisher { tx }, rx)
}

impl Publisher {
    /// Replaces the snapshot and wakes every open event stream; returns the new revision.
    pub fn publish(&self, view: ViewModel) -> u64 {
        let mut revision = 0;
        self.tx.send_modify(|s| {
            s.revision += 1;
            s.view = Arc::new(view);
            revision = s.revision;
        });
        revision
    }

    /// Another receiver (for a second server, or tests).
    pub fn subscribe(&self) -> watch::Receiver<Snapshot> {
        self.tx.subscribe()
    }
}

/// "The poller is alive": beaten by the daemon's loop, read by `/healthz`.
#[derive(Debug, Clone)]
pub struct Heartbeat {
    start: Instant,
    /// Milliseconds after `start` of the last beat, plus one (0 = never beaten).
    last: Arc<AtomicU64>,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Heartbeat::new()
    }
}

impl Heartbeat {
    pub fn new() -> Heartbeat {
        Heartbeat {
            start: Instant::now(),
            last: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The poller made progress.
    pub fn beat(&self) {
        let ms = self.start.elapsed().as_millis() as u64 + 1;
        self.last.store(ms, Ordering::Relaxed);
    }

    /// How long since the last beat; `None` before the first.
    pub fn age(&self) -> Option<Duration> {
        match self.last.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(self.start.elapsed().saturating_sub(Duration::from_millis(ms - 1))),
        }
    }
}

/// Checks the rule and binds.
pub async fn bind(addr: SocketAddr, token: Option<&SecretString>) -> Result<TcpListener, WebError> {
    check_listen(&addr, token)?;
    TcpListener::bind(addr)
        .await
        .map_err(|source| WebError::Bind { addr, source })
}

/// How the page is served.
#[derive(Debug, Clone)]
pub struct WebOptions {
    /// Required on every page request when set (`[web] token`).
    pub token: Option<SecretString>,
    /// `/healthz` answers 503 once the last heartbeat is older than this.
    pub health_max_age: Duration,
    /// A comment line on open event streams this often (proxies close silent connections).
    pub keep_alive: Duration,
}

impl Default for WebOptions {
    fn default() -> Self {
        WebOptions {
            token: None,
            health_max_age: Duration::from_secs(120),
            keep_alive: Duration::from_secs(15),
        }
    }
}

/// The charts of the latest snapshot, drawn once for all the requests that show it.
type ChartCache = Arc<std::sync::Mutex<Option<(u64, Arc<page::Prepared>)>>>;

#[derive(Clone)]
struct AppState {
    snapshots: watch::Receiver<Snapshot>,
    charts: ChartCache,
    heartbeat: Heartbeat,
    options: Arc<WebOptions>,
    shutdown: CancellationToken,
}

/// The status page's routes, ready for [`serve`] (or for merging into another router).
pub struct Web {
    state: AppState,
    protected: Router,
}

impl Web {
    /// `shutdown` ends open event streams (they would otherwise hold a graceful shutdown).
    pub fn new(
        snapshots: watch::Receiver<Snapshot>,
        heartbeat: Heartbeat,
        options: WebOptions,
        shutdown: CancellationToken,
    ) -> Web {
        Web {
            state: AppState {
                snapshots,
                charts: ChartCache::default(),
                heartbeat,
                options: Arc::new(options),
                shutdown,
            },
            protected: Router::new(),
        }
    }

    /// More routes behind the same token (e.g. `/status.json`); they are read-only too.
    pub fn with_protected(mut self, routes: Router) -> Web {
        self.protected = self.protected.merge(routes);
        self
    }

    /// `/` (the page), `/events` (server-sent events), `/healthz`, `/app.js`.
    pub fn router(self) -> Router {
        let state = self.state;
        let protected = Router::new()
            .route("/", get(page_handler))
            .route("/events", get(events_handler))
            .with_state(state.clone())
            .merge(self.protected)
            .layer(middleware::from_fn_with_state(
                state.options.clone(),
                require_token,
            ));
        Router::new()
            .route("/healthz", get(healthz_handler))
            .route("/app.js", get(script_handler))
            .with_state(state)
            .merge(protected)
            .layer(middleware::from_fn(read_only_and_headers))
    }
}

/// The token a request presents: `Authorization: Bearer …`, else `?token=…`.
fn presented_token(req: &Request) -> Option<String> {
    if let Some(v) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some(t) = v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer "))
    {
        return Some(t.trim().to_string());
    }
    let query = req.uri().query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

/// Equal tokens, compared in time that does not depend on where they differ.
pub fn token_matches(expected: &SecretString, presented: &str) -> bool {
    let a = expected.expose_secret().trim().as_bytes();
    let b = presented.as_bytes();
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

async fn require_token(State(options): State<Arc<WebOptions>>, req: Request, next: Next) -> Response {
    let Some(expected) = options
        .token
        .as_ref()
        .filter(|t| !t.expose_secret().trim().is_empty())
    else {
        return next.run(req).await;
    };
    match presented_token(&req) {
        Some(t) if token_matches(expected, &t) => next.run(req).await,
        _ => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"yupiao\"")],
            "a token is required: open the page as /?token=… ([web] token)\n",
        )
            .into_response(),
    }
}

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; connect-src 'self'; \
                   img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

async fn read_only_and_headers(req: Request, next: Next) -> Response {
    let mut res = if req.method() == Method::GET || req.method() == Method::HEAD {
        next.run(req).await
    } else {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
            "the status page is read-only\n",
        )
            .into_response()
    };
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The token may be in the URL: never send it on as a referrer.
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    res
}

/// The charts of `snap`, drawn now unless the cache has them. The lock is held while drawing,
/// so concurrent first requests for a new snapshot draw it once.
fn prepared_for(cache: &ChartCache, snap: &Snapshot) -> Arc<page::Prepared> {
    let mut slot = cache.lock().unwrap_or_else(|e| e.into_inner());
    match slot.as_ref() {
        Some((rev, p)) if *rev == snap.revision => p.clone(),
        _ => {
            let p = Arc::new(page::prepare(&snap.view));
            *slot = Some((snap.revision, p.clone()));
            p
        }
    }
}

async fn page_handler(State(s): State<AppState>) -> Response {
    let snap = s.snapshots.borrow().clone();
    let now = clock::now();
    // A page of a thousand watches takes milliseconds: keep it off the async workers.
    let cache = s.charts.clone();
    let render = move || {
        let prepared = prepared_for(&cache, &snap);
        page::render_prepared(&snap.view, &prepared, now, snap.revision)
    };
    match tokio::task::spawn_blocking(render).await {
        Ok(html) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering the status page failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered\n",
            )
                .into_response()
        }
    }
}

async fn script_handler() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        page::SCRIPT,
    )
        .into_response()
}

async fn healthz_handler(State(s): State<AppState>) -> (StatusCode, String) {
    match s.heartbeat.age() {
        Some(age) if age <= s.options.health_max_age => (StatusCode::OK, "ok\n".into()),
        Some(age) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("stale: the poller last reported {} s ago\n", age.as_secs()),
        ),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "starting: the poller has not reported yet\n".into(),
        ),
    }
}

#[derive(Debug, Deserialize)]
struct EventsQuery {
    /// The revision the page was rendered from.
    since: Option<u64>,
}

fn changed(revision: u64) -> Event {
    Event::default()
        .event("changed")
        .id(revision.to_string())
        .data(revision.to_string())
}

async fn events_handler(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<EventsQuery>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // A reconnecting EventSource sends the last id it saw; a fresh one has the page's revision.
    let since = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .or(q.since);
    let mut rx = s.snapshots.clone();
    let current = rx.borrow_and_update().revision;
    // The snapshot may have changed between rendering the page and opening this stream.
    let missed = since.filter(|r| *r != current).map(|_| Ok(changed(current)));
    // Someone is looking: draw the new snapshot's charts before saying it changed, so the
    // page fetch that the event causes finds them ready.
    let cache = s.charts.clone();
    let updates = stream::unfold(rx, move |mut rx| {
        let cache = cache.clone();
        async move {
            rx.changed().await.ok()?;
            let snap = rx.borrow_and_update().clone();
            let revision = snap.revision;
            let _ = tokio::task::spawn_blocking(move || prepared_for(&cache, &snap)).await;
            Some((Ok(changed(revision)), rx))
        }
    });
    let stream = stream::iter(missed)
        .chain(updates)
        .take_until(s.shutdown.clone().cancelled_owned());
    Sse::new(stream).keep_alive(KeepAlive::new().interval(s.options.keep_alive).text(""))
}

/// Connection limits of [`serve`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A request's headers must arrive within this; a keep-alive connection idle this long is
    /// closed too (hyper starts the same timer while waiting for the next request).
    pub header_timeout: Duration,
    /// Open connections at most (an open page holds about two: its event stream and a fetch).
    pub max_connections: usize,
    /// How long shutdown waits for responses in flight.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            max_connections: 64,
            shutdown_grace: Duration::from_secs(2),
        }
    }
}

/// Serves `app` on `listener` until `shutdown`, with [`Limits`].
pub async fn serve(listener: TcpListener, app: Router, limits: Limits, shutdown: CancellationToken) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let tasks = TaskTracker::new();
    loop {
        let stream = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: do not spin.
                    tracing::warn!(error = %e, "status page: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!(
                limit = limits.max_connections,
                "status page: connection limit reached; closing a new connection"
            );
            drop(stream);
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        let stop = shutdown.clone();
        tasks.spawn(async move {
            let _slot = slot;
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(limits.shutdown_grace, conn).await;
                }
            }
        });
    }
    tasks.close();
    let _ = tokio::time::timeout(limits.shutdown_grace, tasks.wait()).await;
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::web::sample;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_loopback_addresses_go_without_a_token() {
        assert!(!requires_token(&addr("127.0.0.1:8307")));
        assert!(!requires_token(&addr("127.0.0.2:8307")));
        assert!(!requires_token(&addr("[::1]:8307")));
        assert!(!requires_token(&addr("[::ffff:127.0.0.1]:8307")));
        assert!(requires_token(&addr("0.0.0.0:8307")));
        assert!(requires_token(&addr("[::]:8307")));
        assert!(requires_token(&addr("192.168.1.20:8307")));
        assert!(requires_token(&addr("[2001:db8::1]:8307")));
    }

    #[test]
    fn a_public_bind_without_a_long_token_is_refused_with_a_clear_error() {
        let public = addr("0.0.0.0:8307");
        let err = check_listen(&public, None).unwrap_err();
        assert!(matches!(err, WebError::TokenRequired { .. }));
        assert!(err.to_string().contains("set [web] token"), "{err}");
        let blank = SecretString::from("   ");
        assert!(matches!(
            check_listen(&public, Some(&blank)),
            Err(WebError::TokenRequired { .. })
        ));
        let short = SecretString::from("abc");
        let err = check_listen(&public, Some(&short)).unwrap_err();
        assert!(matches!(err, WebError::TokenTooShort));
        assert!(
            !err.to_string().contains("abc"),
            "the error never shows the token"
        );
        let good = SecretString::from("a-long-random-token-1234");
        assert!(check_listen(&public, Some(&good)).is_ok());
        assert!(check_listen(&addr("127.0.0.1:8307"), None).is_ok());
        assert!(matches!(
            check_listen(&addr("127.0.0.1:0"), Some(&short)),
            Err(WebError::TokenTooShort)
        ));
    }

    #[test]
    fn tokens_compare_whole() {
        let t = SecretString::from("a-long-random-token-1234");
        assert!(token_matches(&t, "a-long-random-token-1234"));
        assert!(!token_matches(&t, "a-long-random-token-123"));
        assert!(!token_matches(&t, "a-long-random-token-12345"));
        assert!(!token_matches(&t, "b-long-random-token-1234"));
        assert!(!token_matches(&t, ""));
    }

    fn now() -> chrono::DateTime<chrono::FixedOffset> {
        DateTime::parse_from_rfc3339("2026-12-04T14:00:00+08:00").unwrap()
    }

    fn small_view() -> ViewModel {
        sample::view(
            sample::Size {
                watches: 3,
                dates: 2,
                days: 3,
                changes_per_day: 10,
            },
            now(),
        )
    }

    struct Running {
        base: String,
        publisher: Publisher,
        heartbeat: Heartbeat,
        stop: CancellationToken,
        task: tokio::task::JoinHandle<()>,
    }

    async fn start(options: WebOptions, limits: Limits) -> Running {
        let (publisher, rx) = snapshots(small_view());
        let heartbeat = Heartbeat::new();
        let stop = CancellationToken::new();
        let app = Web::new(rx, heartbeat.clone(), options, stop.clone()).router();
        let listener = bind(addr("127.0.0.1:0"), None).await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(serve(listener, app, limits, stop.clone()));
        Running {
            base,
            publisher,
            heartbeat,
            stop,
            task,
        }
    }

    fn client() -> reqwest::Client {
        reqwest::Client::builder().build().unwrap()
    }

    /// Reads an event stream until `needle` has arrived (the test's own timeout guards a hang).
    async fn read_until(resp: &mut reqwest::Response, needle: &str) -> String {
        let mut got = String::new();
        while !got.contains(needle) {
            let chunk = tokio::time::timeout(Duration::from_secs(30), resp.chunk())
                .await
                .expect("the event arrives")
                .unwrap()
                .expect("the stream stays open");
            got.push_str(&String::from_utf8_lossy(&chunk));
        }
        got
    }

    #[tokio::test]
    async fn the_page_events_and_health_are_served_on_loopback() {
        let r = start(WebOptions::default(), Limits::default()).await;
        let http = client();

        let page = http.get(format!("{}/", r.base)).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
        assert!(
            page.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("script-src 'self'")
        );
        assert_eq!(page.headers()["referrer-policy"], "no-referrer");
        let html = page.text().await.unwrap();
        assert!(html.contains("上海虹桥→常州 回家"));
        assert!(html.contains("<svg class=\"chart\""));
        assert!(html.contains("data-revision=\"1\""));

        let js = http.get(format!("{}/app.js", r.base)).send().await.unwrap();
        assert_eq!(js.status(), 200);
        assert!(js.text().await.unwrap().contains("EventSource"));

        // Events: nothing missed since revision 1; a publication arrives as `changed`.
        let mut events = http
            .get(format!("{}/events?since=1", r.base))
            .send()
            .await
            .unwrap();
        assert_eq!(events.status(), 200);
        assert_eq!(events.headers()["content-type"], "text/event-stream");
        let mut next = small_view();
        next.watches[0].name = "改过的名字".into();
        assert_eq!(r.publisher.publish(next), 2);
        let got = read_until(&mut events, "data: 2").await;
        assert!(got.contains("event: changed\n"), "{got}");
        assert!(got.contains("id: 2\n"), "{got}");
        let page = http.get(format!("{}/", r.base)).send().await.unwrap();
        let html = page.text().await.unwrap();
        assert!(html.contains("改过的名字"));
        assert!(html.contains("data-revision=\"2\""));

        // A page rendered from revision 1 that connects after revision 2 hears of it at once.
        let mut late = http
            .get(format!("{}/events?since=1", r.base))
            .send()
            .await
            .unwrap();
        let got = read_until(&mut late, "data: 2").await;
        assert!(got.contains("event: changed"), "{got}");

        // Health follows the heartbeat.
        let h = http.get(format!("{}/healthz", r.base)).send().await.unwrap();
        assert_eq!(h.status(), 503);
        assert!(h.text().await.unwrap().contains("not reported yet"));
        r.heartbeat.beat();
        let h = http.get(format!("{}/healthz", r.base)).send().await.unwrap();
        assert_eq!(h.status(), 200);

        // Read-only.
        let post = http.post(format!("{}/", r.base)).body("x").send().await.unwrap();
        assert_eq!(post.status(), 405);
        assert_eq!(post.headers()["allow"], "GET, HEAD");
        let head = http.head(format!("{}/", r.base)).send().await.unwrap();
        assert_eq!(head.status(), 200);

        // Shutdown ends open event streams and the server.
        r.stop.cancel();
        drop(events);
        drop(late);
        tokio::time::timeout(Duration::from_secs(30), r.task)
            .await
            .expect("the server stops")
            .unwrap();
    }

    #[tokio::test]
    async fn a_quiet_event_stream_gets_keep_alive_comments() {
        let options = WebOptions {
            keep_alive: Duration::from_millis(50),
            ..WebOptions::default()
        };
        let r = start(options, Limits::default()).await;
        let mut events = client()
            .get(format!("{}/events?since=1", r.base))
            .send()
            .await
            .unwrap();
        let got = read_until(&mut events, ":").await;
        assert!(got.starts_with(':'), "a comment line, no event: {got:?}");
        assert!(!got.contains("event:"), "{got:?}");
        r.stop.cancel();
    }

    #[tokio::test]
    async fn health_turns_503_when_the_heartbeat_is_stale() {
        let options = WebOptions {
            health_max_age: Duration::from_millis(1),
            ..WebOptions::default()
        };
        let r = start(options, Limits::default()).await;
        r.heartbeat.beat();
        tokio::time::sleep(Duration::from_millis(20)).await;
        let h = client().get(format!("{}/healthz", r.base)).send().await.unwrap();
        assert_eq!(h.status(), 503);
        assert!(h.text().await.unwrap().starts_with("stale:"));
        r.stop.cancel();
    }

    #[tokio::test]
    async fn a_configured_token_is_required_by_query_or_bearer_but_not_for_health() {
        let token = "a-long-random-token-1234";
        let options = WebOptions {
            token: Some(SecretString::from(token)),
            ..WebOptions::default()
        };
        let r = start(options, Limits::default()).await;
        let http = client();
        for path in [
            "/",
            "/events",
            "/?token=wrong-token-wrong-token",
            "/events?token=x",
        ] {
            let res = http.get(format!("{}{path}", r.base)).send().await.unwrap();
            assert_eq!(res.status(), 401, "{path}");
            assert!(!res.text().await.unwrap().contains(token));
        }
        let res = http
            .get(format!("{}/?token={token}", r.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let html = res.text().await.unwrap();
        assert!(!html.contains(token), "the page never echoes the token");
        let res = http
            .get(format!("{}/", r.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let res = http
            .get(format!("{}/events?since=1&token={token}", r.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        drop(res);
        r.heartbeat.beat();
        assert_eq!(
            http.get(format!("{}/healthz", r.base))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        assert_eq!(
            http.get(format!("{}/app.js", r.base))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        r.stop.cancel();
    }

    #[tokio::test]
    async fn connections_over_the_limit_are_closed_and_silent_ones_time_out() {
        let limits = Limits {
            header_timeout: Duration::from_millis(300),
            max_connections: 1,
            shutdown_grace: Duration::from_secs(1),
        };
        let r = start(WebOptions::default(), limits).await;
        let host = r.base.trim_start_matches("http://").to_string();

        // A connection that never sends its headers is closed by the server.
        let mut silent = tokio::net::TcpStream::connect(&host).await.unwrap();
        let mut buf = [0u8; 256];
        let n = tokio::time::timeout(Duration::from_secs(30), silent.read(&mut buf))
            .await
            .expect("the server closes it")
            .unwrap_or(0);
        let answer = String::from_utf8_lossy(&buf[..n]);
        assert!(n == 0 || answer.starts_with("HTTP/1.1 408"), "{answer}");
        drop(silent);

        // One open event stream holds the only slot: the next connection is closed unanswered.
        let mut held = tokio::net::TcpStream::connect(&host).await.unwrap();
        held.write_all(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let n = tokio::time::timeout(Duration::from_secs(30), held.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        let mut extra = tokio::net::TcpStream::connect(&host).await.unwrap();
        let _ = extra.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
        let n = tokio::time::timeout(Duration::from_secs(30), extra.read(&mut buf))
            .await
            .expect("closed at once")
            .unwrap_or(0);
        assert_eq!(n, 0, "no answer over the limit");

        // Once the stream closes, the slot is free again.
        drop(held);
        let mut ok = false;
        for _ in 0..100 {
            if let Ok(res) = client().get(format!("{}/healthz", r.base)).send().await {
                assert_eq!(res.status(), 503);
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(ok, "a freed slot serves again");
        r.stop.cancel();
    }
}
