//! The built-in simulated 12306: a real HTTP server on loopback that answers like 12306 does.
//!
//! It exists so that users can dry-run their watch list (`yupiao sim`), `yupiao demo` can show
//! the daemon catching seats without touching 12306, and the end-to-end tests can run the real
//! binary against every answer 12306 gives (protocol doc §1–§4): endpoint rotation, cookie
//! checks, error redirects, throttling in its several disguises, same-city widening and 57-field
//! rows. What it serves comes from a [`Scenario`] (see `default_scenario.toml`); tests drive it
//! in-process through [`Sim`] or out-of-process through the control API below.
//!
//! Modules: `scenario` (file format, validation, built-in default), `rail` (the 12306 handlers
//! and the row builder), `juhe` (the Juhe grabTicket side and its `/sim/juhe/…` control API).
//! This file holds the public handle, the shared state and the control API.
//!
//! # Control API
//!
//! Served on the same port as the 12306 paths. Bodies are JSON; errors answer 400/404 with
//! `{"error": "…"}`, success `{"ok": true}`. Requests under `/sim/` are not counted in the stats.
//!
//! | request | body | effect |
//! | --- | --- | --- |
//! | `GET /sim/stats` | | [`SimStats`]: requests by path, every leftTicket query with its outcome |
//! | `POST /sim/reset-stats` | | clears the stats |
//! | `POST /sim/seats` | `{"train":"G8294","date":"2026-12-01","seat":"二等座","left":"3"}` | sets a seat cell; `date` optional (default every date, replacing dated values); `left` is `无`, `有`, `*`, `""` or a count (string or number); 404 for an unknown train |
//! | `POST /sim/mode` | `{"mode":"throttle302","count":2}` | failure mode: `normal`, `throttle302`, `html`, `forbidden` (403 body `3`), `risk` (您的访问过于频繁), `slow` (with `delay_ms`, default 2000), `empty` (`result: []`) and `null` (`data: null`), 12306's answers when busy; `count` = only the next n well-formed queries, absent = until changed |
//! | `POST /sim/rotate` | `{"endpoint":"leftTicket/queryZ","advertise":"leftTicket/queryG"}` | renames the query endpoint; the old name now answers `c_url`; `advertise` (optional) keeps the init page and `login/conf` naming a stale endpoint |
//! | `POST /sim/advance` | `{"by":"20s"}` | moves the simulator's clock forward (timeline steps, `nowStr`, the presale window, openings) |
//! | `GET /sim/clock` | | `{"now":"2026-12-04T13:29:50.120+08:00","now_ms":…,"offset_ms":…}`: the simulator's clock and how far it is from the machine's |
//! | `POST /sim/clock` | `{"offset":"-5m"}`, `{"offset_ms":300000}` or `{"at":"2026-12-04T13:29:50+08:00"}` | sets the simulator's clock ahead of (or behind) the machine's, or to a moment (`YYYY-MM-DD HH:MM:SS` is Beijing time) |
//! | `POST /sim/sale-time` | `{"station":"上海","time":"14:30"}` | a boarding station's daily sale time (name or telecode) |
//! | `POST /sim/presale` | `{"days":15}` | the presale window (`login/conf` `other_control`, the dates served) |
//! | `POST /sim/waitlist` | `{"status":"04"}` … | the 候补 order and login session (see `after_nate`) |
//! | `POST /sim/address-limit` | `{"requests":80,"window":"5m"}` | at most `requests` 12306 requests per `window` from each client address, then 302 to the error page (see `address_limit`); `{"requests":0}` lifts it |
//!
//! # Order of checks on a query
//!
//! Over the client address's limit (when one is set) → 302 to the error page; no `JSESSIONID` cookie → 302 to the error page; stale endpoint name → `c_url`; malformed date,
//! past date or beyond the presale window → 302; active failure mode → its answer; otherwise the
//! rows (an empty `result` for unknown stations).
//!
//! # 起售
//!
//! A date opens on the first day of its presale window at its boarding station's daily sale time,
//! by the simulator's clock (module `sale`). Before that its rows carry `*` in every seat cell,
//! canWebBuy `IS_TIME_NOT_BUY`, a `12月01日13点30分起售` notice in field 1 and no secretStr;
//! every row carries its opening in field 55. `qss.js` is served where 12306 serves it
//! (`/index/script/core/common/qss*.js`, linked from `/index/index.html`, and the older
//! `/otn/resources/js/query/qss.js`), with its BOM.

mod address_limit; // throttling per client address
mod after_nate; // 候补 (waitlist): routes, state and controls live there.
// juhe: Juhe grabTicket side (begin)
mod juhe;
pub use juhe::{
    CreateFault, DEFAULT_KEY as JUHE_DEFAULT_KEY, JuheCreateCall, JuheDelays, JuheOrderView, JuheOutcome,
    JuhePassengerView, JuhePushRecord,
};
// juhe (end)
mod rail;
mod sale;
mod scenario;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::seat::SeatClass;
pub use address_limit::{AddressLimit, PeerStats};
pub use after_nate::{NeedSpec, PassengerSpec, WaitlistSimError, WaitlistSpec};
pub use sale::{FALLBACK_SALE_TIME, STATION_SALE_TIMES};
pub use scenario::{Cell, CellInput, Scenario, StepSpec, TrainSpec};
use scenario::{Train, World};

/// How long [`Sim::shutdown`] waits for in-flight requests before cutting them off.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// `slow` mode delay when the control API names none.
const DEFAULT_SLOW_MS: u64 = 2000;

/// How the simulator misbehaves on leftTicket queries (protocol doc §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureMode {
    Normal,
    /// 302 to the error page, as 12306 does to throttled IPs.
    Throttle302,
    /// 200 with an HTML page instead of JSON.
    Html,
    /// 403 with body `3`.
    Forbidden,
    /// 200 JSON `status:false`, `messages:["您的访问过于频繁"]`.
    Risk,
    /// The normal answer, after this delay.
    Slow(Duration),
    /// 200 JSON `status:true` with `result: []`: 12306's answer when it is too busy to look.
    Empty,
    /// 200 JSON `status:true`, `data: null`: the other shape of the busy answer.
    NullData,
}

impl FailureMode {
    /// The name used by the control API and in [`QueryRecord::outcome`].
    pub fn name(&self) -> &'static str {
        match self {
            FailureMode::Normal => "normal",
            FailureMode::Throttle302 => "throttle302",
            FailureMode::Html => "html",
            FailureMode::Forbidden => "forbidden",
            FailureMode::Risk => "risk",
            FailureMode::Slow(_) => "slow",
            FailureMode::Empty => "empty",
            FailureMode::NullData => "null",
        }
    }

    /// Parses a control-API mode name; `delay` is only used by `slow`.
    pub fn parse(name: &str, delay: Duration) -> Option<FailureMode> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "normal" => FailureMode::Normal,
            "throttle302" | "302" => FailureMode::Throttle302,
            "html" => FailureMode::Html,
            "forbidden" | "403" => FailureMode::Forbidden,
            "risk" => FailureMode::Risk,
            "slow" => FailureMode::Slow(delay),
            "empty" => FailureMode::Empty,
            "null" => FailureMode::NullData,
            _ => return None,
        })
    }
}

/// What the simulator has seen, for assertions (`GET /sim/stats`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SimStats {
    /// Requests by path (`/otn/leftTicket/init`, `/otn/leftTicket/queryG`…), control API excluded.
    pub requests: BTreeMap<String, u64>,
    /// Every leftTicket query received, in arrival order.
    pub queries: Vec<QueryRecord>,
    /// By client address (`127.0.0.3`): requests served and refused by the address limit.
    #[serde(default)]
    pub peers: BTreeMap<String, PeerStats>,
}

/// One leftTicket query as received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryRecord {
    /// Endpoint name the client used (`leftTicket/queryG`).
    pub endpoint: String,
    /// The raw parameters (empty when absent).
    pub date: String,
    pub from: String,
    pub to: String,
    pub purpose_codes: String,
    /// `ok`, `c_url`, `302-no-cookie`, `302-bad-date`, or the failure mode's name.
    pub outcome: String,
    /// Simulator clock at arrival, ms since start: lets tests check pacing.
    pub elapsed_ms: u64,
    /// The client's address (`127.0.0.3`): which node asked.
    #[serde(default)]
    pub peer: String,
    /// Simulator clock at arrival, epoch ms (compare with [`Sim::opening`]).
    #[serde(default)]
    pub at_ms: i64,
    /// Rows served before their opening (起售 notice, `*` cells).
    #[serde(default)]
    pub not_on_sale: u32,
}

/// The client address of a request, put there by the request counter for the handlers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub IpAddr);

/// A handle to a running simulator. Cheap to clone; every clone drives the same server.
#[derive(Clone)]
pub struct Sim {
    inner: Arc<Inner>,
}

struct Inner {
    world: World,
    addr: SocketAddr,
    started: Instant,
    /// How far the simulator's clock is from the machine's, in ms (ahead when positive):
    /// [`Sim::advance`], [`Sim::set_clock_offset`], [`Sim::set_clock`].
    offset_ms: AtomicI64,
    state: Mutex<SimState>,
    cancel: CancellationToken,
    server: Mutex<Option<JoinHandle<()>>>,
    /// The 候补 order and login session (`after_nate`).
    waitlist: Mutex<after_nate::WaitlistBoard>,
    /// juhe: the Juhe grabTicket side's own state.
    juhe: juhe::JuheSim,
}

/// Everything that changes while the simulator runs.
struct SimState {
    endpoint: String,
    /// What the init page and `login/conf` name when it differs from `endpoint` (a stale name,
    /// as when 12306 renames the endpoint before its pages catch up).
    advertised: Option<String>,
    mode: FailureMode,
    /// Queries left before `mode` reverts to normal; `None` = until changed.
    mode_left: Option<u32>,
    seats: SeatBoard,
    /// Index of the first timeline step not yet applied.
    next_step: usize,
    stats: SimStats,
    /// The per-address limit and what each address sent within its window.
    addresses: address_limit::AddressBook,
    /// Boarding telecode → daily sale time set at run time (over the scenario's and the table's).
    sale_times: BTreeMap<String, NaiveTime>,
    /// The presale window now (starts as the scenario's).
    presale_days: u32,
}

/// Seat cells changed since start, over the scenario's starting cells. A dated value wins over an
/// all-dates one; setting all dates forgets the dated values of that train and class.
#[derive(Debug, Default)]
struct SeatBoard {
    all_dates: HashMap<(String, SeatClass), Cell>,
    dated: HashMap<(String, NaiveDate, SeatClass), Cell>,
}

impl SeatBoard {
    fn set(&mut self, train: &str, date: Option<NaiveDate>, seat: SeatClass, cell: Cell) {
        match date {
            Some(d) => {
                self.dated.insert((train.to_string(), d, seat), cell);
            }
            None => {
                self.dated.retain(|(t, _, s), _| !(t == train && *s == seat));
                self.all_dates.insert((train.to_string(), seat), cell);
            }
        }
    }

    /// The cells of `train` on `date`, classes not on the train left out.
    fn cells(&self, train: &Train, date: NaiveDate) -> BTreeMap<SeatClass, Cell> {
        let mut cells = train.seats.clone();
        for seat in SeatClass::ALL {
            let key = (train.code.clone(), seat);
            let dated = self.dated.get(&(train.code.clone(), date, seat));
            if let Some(&cell) = dated.or_else(|| self.all_dates.get(&key)) {
                cells.insert(seat, cell);
            }
        }
        cells.retain(|_, c| *c != Cell::Absent);
        cells
    }
}

/// Why a seat change was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SeatError {
    #[error("no train {0:?} in the scenario")]
    UnknownTrain(String),
    #[error("{0}")]
    Invalid(String),
}

impl Sim {
    /// Binds `listen` (port 0 picks a free port), starts serving in the background and returns.
    pub async fn start(listen: SocketAddr, scenario: Scenario) -> anyhow::Result<Sim> {
        let world = scenario.compile()?;
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let state = SimState {
            endpoint: world.endpoint.clone(),
            advertised: None,
            mode: FailureMode::Normal,
            mode_left: None,
            seats: SeatBoard::default(),
            next_step: 0,
            stats: SimStats::default(),
            addresses: address_limit::AddressBook::default(),
            sale_times: BTreeMap::new(),
            presale_days: world.presale_days,
        };
        let sim = Sim {
            inner: Arc::new(Inner {
                world,
                addr,
                started: Instant::now(),
                offset_ms: AtomicI64::new(0),
                state: Mutex::new(state),
                cancel: CancellationToken::new(),
                server: Mutex::new(None),
                waitlist: Mutex::default(),
                juhe: juhe::JuheSim::new(), // juhe
            }),
        };
        let cancel = sim.inner.cancel.clone();
        let app = sim.router().into_make_service_with_connect_info::<SocketAddr>();
        let serve =
            axum::serve(listener, app).with_graceful_shutdown(async move { cancel.cancelled().await });
        let handle = tokio::spawn(async move {
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "simulator server stopped");
            }
        });
        *lock(&sim.inner.server) = Some(handle);
        tracing::info!(addr = %addr, "simulated 12306 listening");
        Ok(sim)
    }

    fn router(&self) -> Router {
        rail::routes()
            .merge(after_nate::routes())
            .merge(juhe::routes()) // juhe
            .merge(control_routes())
            .layer(axum::middleware::from_fn_with_state(self.clone(), count_request))
            .with_state(self.clone())
    }

    /// The bound address (the real port when started on port 0).
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// `http://127.0.0.1:PORT`: what to give yupiao as its 12306 base URL. A wildcard bind
    /// (`0.0.0.0`) is reached through loopback.
    pub fn base_url(&self) -> String {
        let mut addr = self.inner.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            });
        }
        format!("http://{addr}")
    }

    /// A snapshot of what the simulator has seen.
    pub fn stats(&self) -> SimStats {
        self.with_state(|s| s.stats.clone())
    }

    /// Forgets the stats gathered so far.
    pub fn reset_stats(&self) {
        self.with_state(|s| s.stats = SimStats::default());
    }

    /// Sets a seat cell of every segment of `train`; `date: None` = every date. Invalid input is
    /// logged and ignored: use [`Sim::try_set_seat`] to see the error.
    pub fn set_seat(&self, train: &str, date: Option<NaiveDate>, seat: SeatClass, left: &str) {
        if let Err(e) = self.try_set_seat(train, date, seat, left) {
            tracing::warn!(train, seat = %seat, left, error = %e, "simulator seat change ignored");
        }
    }

    /// [`Sim::set_seat`], reporting an unknown train or an invalid value.
    pub fn try_set_seat(
        &self,
        train: &str,
        date: Option<NaiveDate>,
        seat: SeatClass,
        left: &str,
    ) -> Result<(), SeatError> {
        let code = train.trim().to_ascii_uppercase();
        if !self.inner.world.trains.iter().any(|t| t.code == code) {
            return Err(SeatError::UnknownTrain(train.to_string()));
        }
        let cell = Cell::parse(left).map_err(SeatError::Invalid)?;
        // Due timeline steps go first so that they cannot overwrite this later change.
        self.catch_up();
        self.with_state(|s| s.seats.set(&code, date, seat, cell));
        Ok(())
    }

    /// Switches the failure mode: `None` = until changed, `Some(n)` = for the next `n`
    /// well-formed queries, then back to [`FailureMode::Normal`].
    pub fn set_mode(&self, mode: FailureMode, count: Option<u32>) {
        let (mode, left) = match count {
            Some(0) => (FailureMode::Normal, None),
            _ if mode == FailureMode::Normal => (FailureMode::Normal, None),
            n => (mode, n),
        };
        self.with_state(|s| {
            s.mode = mode;
            s.mode_left = left;
        });
    }

    /// Limits every client address to `limit.requests` 12306 requests per `limit.window` (on
    /// the simulator's clock); beyond that they get the 302 to the error page. `None` (or 0
    /// requests) lifts the limit. Either way every address starts with a full budget.
    pub fn set_address_limit(&self, limit: Option<AddressLimit>) {
        self.with_state(|s| s.addresses.set_limit(limit));
    }

    /// The per-address limit in force.
    pub fn address_limit(&self) -> Option<AddressLimit> {
        self.with_state(|s| s.addresses.limit())
    }

    /// Renames the query endpoint (`leftTicket/queryZ`); the old name answers `c_url` from now on.
    pub fn rotate_endpoint(&self, new_name: &str) {
        let name = new_name.trim().trim_start_matches('/').to_string();
        self.with_state(|s| s.endpoint = name);
    }

    /// Makes the init page and `login/conf` name `stale` instead of the current endpoint, so a
    /// fresh client must learn the real one from a `c_url` answer. `None` = tell the truth.
    pub fn advertise_endpoint(&self, stale: Option<&str>) {
        let stale = stale.map(|n| n.trim().trim_start_matches('/').to_string());
        self.with_state(|s| s.advertised = stale);
    }

    /// The endpoint name pages advertise.
    fn advertised_endpoint(&self) -> String {
        self.with_state(|s| s.advertised.clone().unwrap_or_else(|| s.endpoint.clone()))
    }

    /// Moves the simulator's clock forward: timeline steps, `nowStr`, the presale window and the
    /// openings follow.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        let _ = self
            .inner
            .offset_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |o| Some(o.saturating_add(ms)));
    }

    /// Sets the simulator's clock `offset` ahead of the machine's (behind when negative), as a
    /// 12306 whose clock differs from the user's.
    pub fn set_clock_offset(&self, offset: TimeDelta) {
        self.inner
            .offset_ms
            .store(offset.num_milliseconds(), Ordering::SeqCst);
    }

    /// Sets the simulator's clock to read `at` now.
    pub fn set_clock(&self, at: DateTime<FixedOffset>) {
        self.set_clock_offset(at.with_timezone(&Utc) - Utc::now());
    }

    /// How far the simulator's clock is ahead of the machine's.
    pub fn clock_offset(&self) -> TimeDelta {
        TimeDelta::milliseconds(self.inner.offset_ms.load(Ordering::SeqCst))
    }

    /// The simulator's clock, Beijing time (what `login/conf` says).
    pub fn clock_now(&self) -> DateTime<FixedOffset> {
        (Utc::now() + self.clock_offset()).with_timezone(&crate::clock::beijing())
    }

    /// Sets the daily sale time of a boarding station (name, pinyin or telecode).
    pub fn set_sale_time(&self, station: &str, time: NaiveTime) -> anyhow::Result<()> {
        let code = scenario::resolve_station(station).map_err(anyhow::Error::msg)?;
        self.with_state(|s| s.sale_times.insert(code, time));
        Ok(())
    }

    /// Sets the presale window (days, counting today).
    pub fn set_presale_days(&self, days: u32) {
        self.with_state(|s| s.presale_days = days.max(1));
    }

    /// The presale window now.
    pub fn presale_days(&self) -> u32 {
        self.with_state(|s| s.presale_days)
    }

    /// The daily sale time of a boarding station (telecode): set at run time, else the
    /// scenario's, else the built-in table's, else [`FALLBACK_SALE_TIME`].
    pub fn station_sale_time(&self, telecode: &str) -> NaiveTime {
        let set = self.with_state(|s| s.sale_times.get(telecode).copied());
        set.or_else(|| self.inner.world.sale_times.get(telecode).copied())
            .or_else(|| sale::builtin_times().get(telecode).copied())
            .unwrap_or_else(sale::fallback_time)
    }

    /// When trains boarding at `station` (name or telecode) on `date` go on sale, by the
    /// simulator's clock; `None` for an unknown station.
    pub fn opening(&self, station: &str, date: NaiveDate) -> Option<DateTime<FixedOffset>> {
        let code = scenario::resolve_station(station).ok()?;
        let at = self.opening_at(self.station_sale_time(&code), date);
        Some(crate::sale::opening::at_beijing(at.date(), at.time()))
    }

    /// The opening of `train` on `date` (Beijing, naive).
    fn train_opening(&self, train: &Train, date: NaiveDate) -> NaiveDateTime {
        let time = train
            .sale_time
            .unwrap_or_else(|| self.station_sale_time(&train.from));
        self.opening_at(time, date)
    }

    fn opening_at(&self, time: NaiveTime, date: NaiveDate) -> NaiveDateTime {
        crate::sale::opening::opening_day(date, self.presale_days()).and_time(time)
    }

    /// Every station's sale time the simulator knows (for `qss.js`): the table, the scenario's,
    /// the run-time ones, and every boarding station of the scenario.
    fn sale_calendar(&self) -> BTreeMap<String, NaiveTime> {
        let mut times = sale::builtin_times();
        times.extend(self.inner.world.sale_times.clone());
        for t in &self.inner.world.trains {
            times.insert(t.from.clone(), self.station_sale_time(&t.from));
        }
        times.extend(self.with_state(|s| s.sale_times.clone()));
        times
    }

    /// Stops accepting connections, lets in-flight requests finish for a few seconds, then stops.
    pub async fn shutdown(self) {
        self.inner.cancel.cancel();
        let handle = lock(&self.inner.server).take();
        if let Some(mut handle) = handle
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut handle).await.is_err()
        {
            tracing::warn!("simulator did not stop in time; aborting its connections");
            handle.abort();
        }
    }

    /// Time on the simulator's clock since start (zero while it is set behind its start).
    fn elapsed(&self) -> Duration {
        let real = i64::try_from(self.inner.started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let ms = real.saturating_add(self.inner.offset_ms.load(Ordering::SeqCst));
        Duration::from_millis(u64::try_from(ms).unwrap_or(0))
    }

    /// The simulator's "now" in Beijing time.
    fn now(&self) -> DateTime<Tz> {
        (Utc::now() + self.clock_offset()).with_timezone(&chrono_tz::Asia::Shanghai)
    }

    /// Applies the timeline steps whose time has come. Steps are applied lazily, on the next
    /// request or seat change, which nobody outside can tell from a timer.
    fn catch_up(&self) {
        let elapsed = self.elapsed();
        let steps = &self.inner.world.steps;
        self.with_state(|s| {
            while let Some(step) = steps.get(s.next_step).filter(|st| st.at <= elapsed) {
                s.seats.set(&step.train, step.date, step.seat, step.left);
                s.next_step += 1;
            }
        });
    }

    /// The failure mode for one query, counting it against a limited mode.
    fn take_mode(&self) -> FailureMode {
        self.with_state(|s| {
            let mode = s.mode;
            if let Some(left) = s.mode_left.as_mut() {
                *left = left.saturating_sub(1);
                if *left == 0 {
                    s.mode = FailureMode::Normal;
                    s.mode_left = None;
                }
            }
            mode
        })
    }

    fn with_state<R>(&self, f: impl FnOnce(&mut SimState) -> R) -> R {
        f(&mut lock(&self.inner.state))
    }
}

/// A poisoned lock only means a handler panicked mid-update; the state is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Counts every request but the control API's, by path and by client address, and turns away
/// 12306 requests from an address over its limit.
async fn count_request(State(sim): State<Sim>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    req.extensions_mut().insert(Peer(peer));
    if path.starts_with("/sim/") {
        return next.run(req).await;
    }
    let now = sim.elapsed();
    let admitted = sim.with_state(|s| {
        let admitted = !path.starts_with("/otn/") || s.addresses.admit(peer, now);
        address_limit::count(&mut s.stats.peers, peer, admitted);
        if admitted {
            *s.stats.requests.entry(path).or_default() += 1;
        }
        admitted
    });
    if !admitted {
        return rail::error_redirect();
    }
    next.run(req).await
}

// ---- control API ----------------------------------------------------------------------------

fn control_routes() -> Router<Sim> {
    Router::new()
        .route("/sim/stats", get(stats))
        .route("/sim/reset-stats", post(reset_stats))
        .route("/sim/seats", post(seats))
        .route("/sim/mode", post(mode))
        .route("/sim/rotate", post(rotate))
        .route("/sim/advance", post(advance))
        .route("/sim/address-limit", post(set_address_limit))
        .route("/sim/clock", get(clock).post(set_clock))
        .route("/sim/sale-time", post(sale_time))
        .route("/sim/presale", post(presale))
}

fn ok() -> Response {
    Json(serde_json::json!({"ok": true})).into_response()
}

fn refuse(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, Json(serde_json::json!({"error": message.to_string()}))).into_response()
}

async fn stats(State(sim): State<Sim>) -> Json<SimStats> {
    Json(sim.stats())
}

async fn reset_stats(State(sim): State<Sim>) -> Response {
    sim.reset_stats();
    ok()
}

#[derive(Deserialize)]
struct SeatsBody {
    train: String,
    #[serde(default)]
    date: Option<NaiveDate>,
    seat: String,
    left: CellInput,
}

async fn seats(State(sim): State<Sim>, Json(body): Json<SeatsBody>) -> Response {
    let Some(seat) = SeatClass::parse(&body.seat) else {
        return refuse(StatusCode::BAD_REQUEST, format!("unknown seat {:?}", body.seat));
    };
    let left = match &body.left {
        CellInput::Count(n) => n.to_string(),
        CellInput::Text(t) => t.clone(),
    };
    match sim.try_set_seat(&body.train, body.date, seat, &left) {
        Ok(()) => ok(),
        Err(e @ SeatError::UnknownTrain(_)) => refuse(StatusCode::NOT_FOUND, e),
        Err(e) => refuse(StatusCode::BAD_REQUEST, e),
    }
}

#[derive(Deserialize)]
struct ModeBody {
    mode: String,
    #[serde(default)]
    count: Option<u32>,
    #[serde(default)]
    delay_ms: Option<u64>,
}

async fn mode(State(sim): State<Sim>, Json(body): Json<ModeBody>) -> Response {
    let delay = Duration::from_millis(body.delay_ms.unwrap_or(DEFAULT_SLOW_MS));
    match FailureMode::parse(&body.mode, delay) {
        Some(mode) => {
            sim.set_mode(mode, body.count);
            ok()
        }
        None => refuse(
            StatusCode::BAD_REQUEST,
            format!(
                "unknown mode {:?} (normal, throttle302, html, forbidden, risk, slow, empty, null)",
                body.mode
            ),
        ),
    }
}

#[derive(Deserialize)]
struct RotateBody {
    endpoint: String,
    /// Keep advertising this (stale) name on the init page and in `login/conf`.
    #[serde(default)]
    advertise: Option<String>,
}

async fn rotate(State(sim): State<Sim>, Json(body): Json<RotateBody>) -> Response {
    if body.endpoint.trim().trim_start_matches('/').is_empty() {
        return refuse(StatusCode::BAD_REQUEST, "endpoint must not be empty");
    }
    sim.rotate_endpoint(&body.endpoint);
    sim.advertise_endpoint(body.advertise.as_deref());
    ok()
}

#[derive(Deserialize)]
struct AddressLimitBody {
    #[serde(default)]
    requests: u32,
    /// humantime (`5m`, `30s`); required with `requests` > 0.
    #[serde(default)]
    window: Option<String>,
}

async fn set_address_limit(State(sim): State<Sim>, Json(body): Json<AddressLimitBody>) -> Response {
    if body.requests == 0 {
        sim.set_address_limit(None);
        return ok();
    }
    let Some(window) = body.window.as_deref() else {
        return refuse(StatusCode::BAD_REQUEST, "window: required (e.g. \"5m\")");
    };
    match humantime::parse_duration(window.trim()) {
        Ok(window) if !window.is_zero() => {
            sim.set_address_limit(Some(AddressLimit {
                requests: body.requests,
                window,
            }));
            ok()
        }
        Ok(_) => refuse(StatusCode::BAD_REQUEST, "window: must be longer than 0"),
        Err(e) => refuse(StatusCode::BAD_REQUEST, format!("window: {e}")),
    }
}

#[derive(Deserialize)]
struct AdvanceBody {
    by: String,
}

async fn advance(State(sim): State<Sim>, Json(body): Json<AdvanceBody>) -> Response {
    match humantime::parse_duration(body.by.trim()) {
        Ok(by) => {
            sim.advance(by);
            ok()
        }
        Err(e) => refuse(StatusCode::BAD_REQUEST, format!("by: {e}")),
    }
}

#[derive(Serialize)]
struct ClockView {
    now: String,
    now_ms: i64,
    offset_ms: i64,
}

async fn clock(State(sim): State<Sim>) -> Json<ClockView> {
    let now = sim.clock_now();
    Json(ClockView {
        now: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
        now_ms: now.timestamp_millis(),
        offset_ms: sim.clock_offset().num_milliseconds(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockBody {
    /// `-5m`, `+90s`, `1h`: humantime with an optional sign.
    #[serde(default)]
    offset: Option<String>,
    #[serde(default)]
    offset_ms: Option<i64>,
    /// RFC 3339, or `YYYY-MM-DD HH:MM:SS[.fff]` in Beijing time.
    #[serde(default)]
    at: Option<String>,
}

/// `-5m` → −5 minutes; humantime does not take a sign.
fn signed_duration(text: &str) -> Result<TimeDelta, String> {
    let t = text.trim();
    let (sign, rest) = match t.strip_prefix('-') {
        Some(r) => (-1, r),
        None => (1, t.strip_prefix('+').unwrap_or(t)),
    };
    let d = humantime::parse_duration(rest.trim()).map_err(|e| format!("offset {text:?}: {e}"))?;
    let d = TimeDelta::from_std(d).map_err(|e| format!("offset {text:?}: {e}"))?;
    Ok(d * sign)
}

/// RFC 3339, or a Beijing wall-clock time.
fn parse_moment(text: &str) -> Result<DateTime<FixedOffset>, String> {
    let t = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d);
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, f) {
            return Ok(crate::sale::opening::at_beijing(n.date(), n.time()));
        }
    }
    Err(format!(
        "at {text:?} is neither RFC 3339 nor YYYY-MM-DD HH:MM:SS (Beijing)"
    ))
}

async fn set_clock(State(sim): State<Sim>, Json(body): Json<ClockBody>) -> Response {
    let result = match (&body.offset, body.offset_ms, &body.at) {
        (Some(o), None, None) => signed_duration(o).map(|d| sim.set_clock_offset(d)),
        (None, Some(ms), None) => {
            sim.set_clock_offset(TimeDelta::milliseconds(ms));
            Ok(())
        }
        (None, None, Some(at)) => parse_moment(at).map(|at| sim.set_clock(at)),
        _ => Err("give exactly one of offset, offset_ms, at".to_string()),
    };
    match result {
        Ok(()) => clock(State(sim)).await.into_response(),
        Err(e) => refuse(StatusCode::BAD_REQUEST, e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SaleTimeBody {
    station: String,
    time: String,
}

async fn sale_time(State(sim): State<Sim>, Json(body): Json<SaleTimeBody>) -> Response {
    let Ok(time) = NaiveTime::parse_from_str(body.time.trim(), "%H:%M") else {
        return refuse(
            StatusCode::BAD_REQUEST,
            format!("time {:?} is not HH:MM", body.time),
        );
    };
    match sim.set_sale_time(&body.station, time) {
        Ok(()) => ok(),
        Err(e) => refuse(StatusCode::NOT_FOUND, e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PresaleBody {
    days: u32,
}

async fn presale(State(sim): State<Sim>, Json(body): Json<PresaleBody>) -> Response {
    if body.days == 0 {
        return refuse(StatusCode::BAD_REQUEST, "days must be at least 1");
    }
    sim.set_presale_days(body.days);
    ok()
}

#[cfg(test)]
mod tests;
