//! The 12306 HTTP client: session cookies, endpoint discovery, pacing and error classes.
//!
//! 12306 punishes clients that look like scripts (protocol doc §1–§2), so this client behaves like
//! the booking page: it opens a session at `/otn/leftTicket/init` (cookies, and the current name of
//! the query endpoint), sends the page's headers, never follows redirects (a 302 is an error page,
//! not data), follows a `c_url` answer once, and spaces *all* its requests by `min_interval` plus
//! jitter, however many watches share it. Everything it cannot use becomes a [`RailError`] the
//! caller can branch on: throttling is never mistaken for "no seats".

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{StatusCode, redirect};
use tokio::time::Instant;

pub use super::error::RailError;
use super::left_ticket::{self, LeftTicketError, LeftTicketPage};
use super::throttle;
use crate::config::Upstream;
use crate::sale::clock::{ClockError, ClockSample};
use crate::sale::qss::{self, QssTable};
use crate::text::snippet;

/// One leftTicket request: the unit that watches share (coalescing key).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LeftTicketQuery {
    /// Telecodes as the watch names them (12306 widens to the same cities itself).
    pub from: String,
    pub to: String,
    pub date: NaiveDate,
    /// `purpose_codes=0X00` instead of `ADULT`.
    pub student: bool,
}

impl LeftTicketQuery {
    /// Query string in the order the booking page uses (protocol doc §1.1).
    pub fn query_string(&self) -> String {
        format!(
            "leftTicketDTO.train_date={}&leftTicketDTO.from_station={}&leftTicketDTO.to_station={}&purpose_codes={}",
            self.date.format("%Y-%m-%d"),
            self.from,
            self.to,
            if self.student { "0X00" } else { "ADULT" }
        )
    }
}

/// What `POST /otn/login/conf` tells an anonymous visitor.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoginConf {
    /// `data.queryUrl`, e.g. `leftTicket/queryG`.
    pub query_url: Option<String>,
    /// `data.other_control`: presale days.
    pub presale_days: Option<u32>,
    /// `data.nowStr`, the server clock `YYYYMMDDHHMMSS`.
    pub now_str: Option<String>,
    /// 12306's clock when it answered: `data.now` (unix ms), else `nowStr` read as Beijing time.
    /// 12306 refuses queries for dates *its* clock calls past, whatever ours says.
    pub now: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// `data.now`, the server clock in epoch milliseconds.
    pub now_ms: Option<i64>,
}

/// An answer with this machine's clock read around its request: when it was handed to the
/// connection and when the answer's headers arrived (what 12306's clock offset is measured from).
#[derive(Debug, Clone, PartialEq)]
pub struct Timed<T> {
    pub value: T,
    pub sent: DateTime<Utc>,
    pub received: DateTime<Utc>,
}

impl Timed<LoginConf> {
    /// A clock sample for [`crate::sale::clock::ServerClock`].
    pub fn clock_sample(&self) -> Result<ClockSample, ClockError> {
        ClockSample::from_login_conf(
            self.value.now_ms,
            self.value.now_str.as_deref(),
            self.sent,
            self.received,
        )
    }
}

/// A fetched `qss.js`: the body (to cache), what it says, and when it was fetched.
#[derive(Debug, Clone, PartialEq)]
pub struct QssFetch {
    /// The URL it came from.
    pub url: String,
    /// The body as text (the BOM dropped by decoding), for the cache.
    pub body: String,
    pub table: QssTable,
    /// This machine's clock when the answer arrived.
    pub fetched_at: DateTime<Utc>,
    /// The `Last-Modified` header, when sent (12306's static files carry one).
    pub last_modified: Option<String>,
}

/// One HTTP exchange through the pacing gate.
pub(crate) struct Exchange {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
    sent: DateTime<Utc>,
    received: DateTime<Utc>,
}

#[derive(Debug, Default)]
struct Session {
    /// Cookies were set by `/otn/leftTicket/init` (reset when 12306 throws us out).
    initialized: bool,
    /// Current name of the query endpoint (`leftTicket/queryG`).
    endpoint: Option<String>,
    /// Presale days learnt from `login/conf`.
    presale_days: Option<u32>,
}

/// A 12306 client. Cheap to share behind an `Arc`; requests through one client are serialized.
pub struct RailClient {
    pub(crate) http: reqwest::Client,
    /// For calls made with the user's own session cookie (候补): no cookie jar, so nothing a
    /// logged-in answer sets can leak into the anonymous left-ticket session (or back).
    pub(crate) logged_in: reqwest::Client,
    pub(crate) base: String,
    min_interval: Duration,
    jitter: Duration,
    pub(crate) timeout: Duration,
    pub(crate) extra_risk: Vec<String>,
    /// The local address every request leaves from, when bound (each node of a cluster polls
    /// from its own address: 12306 throttles per address).
    local_address: Option<IpAddr>,
    session: Mutex<Session>,
    /// Held for the whole of each request: the pacing gate. The instant is when the last
    /// request finished.
    gate: tokio::sync::Mutex<Option<Instant>>,
    /// Requests through the gate (tests check that nothing bypasses it).
    requests: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for RailClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RailClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

fn browser_headers(base: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    let mut put = |k: header::HeaderName, v: &str| {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(k, v);
        }
    };
    put(header::ACCEPT, "*/*");
    put(header::ACCEPT_LANGUAGE, "zh-CN,zh;q=0.9");
    put(header::CACHE_CONTROL, "no-cache");
    put(header::IF_MODIFIED_SINCE, "0");
    put(
        header::REFERER,
        &format!("{base}/otn/leftTicket/init?linktypeid=dc"),
    );
    put(
        header::HeaderName::from_static("x-requested-with"),
        "XMLHttpRequest",
    );
    crate::body::accept_gzip(&mut h);
    h
}

impl RailClient {
    /// A client for `settings.rail_url` (the real 12306 by default, the simulator in tests).
    pub fn new(settings: &Upstream) -> anyhow::Result<RailClient> {
        Self::with_local_address(settings, None)
    }

    /// [`RailClient::new`] whose requests — the anonymous ones and the logged-in 候补 calls —
    /// leave from `local_address` (one address of this machine; `upstream.local_address`).
    /// `None` lets the operating system choose, as [`RailClient::new`] does.
    pub fn with_local_address(
        settings: &Upstream,
        local_address: Option<IpAddr>,
    ) -> anyhow::Result<RailClient> {
        let base = settings.rail_url.trim_end_matches('/').to_string();
        let builder = || {
            reqwest::Client::builder()
                .local_address(local_address)
                .redirect(redirect::Policy::none())
                // Decompressed by crate::body under a cap, not by reqwest without one.
                .gzip(false)
                .user_agent(settings.user_agent.clone())
                .default_headers(browser_headers(&base))
                .connect_timeout(settings.connect_timeout)
                .timeout(settings.timeout)
        };
        let http = builder().cookie_store(true).build()?;
        let logged_in = builder().build()?;
        Ok(RailClient {
            http,
            logged_in,
            base,
            min_interval: settings.min_interval,
            jitter: settings.jitter,
            timeout: settings.timeout,
            extra_risk: settings.risk_phrases.clone(),
            local_address,
            session: Mutex::new(Session::default()),
            gate: tokio::sync::Mutex::new(None),
            requests: Default::default(),
        })
    }

    /// Base URL, for links in emails.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The local address requests leave from, when bound.
    pub fn local_address(&self) -> Option<IpAddr> {
        self.local_address
    }

    /// Requests sent so far (all kinds), all through the pacing gate.
    pub fn requests_sent(&self) -> u64 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The endpoint name in use, once known.
    pub fn endpoint(&self) -> Option<String> {
        self.lock_session().endpoint.clone()
    }

    /// Presale days learnt from `login/conf`, if it was asked.
    pub fn presale_days(&self) -> Option<u32> {
        self.lock_session().presale_days
    }

    fn lock_session(&self) -> std::sync::MutexGuard<'_, Session> {
        self.session.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends one request through the pacing gate: waits until `min_interval` (+ jitter) after the
    /// previous request finished, then sends.
    pub(crate) async fn paced(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<(StatusCode, HeaderMap, String), RailError> {
        self.paced_timed(req).await.map(|x| (x.status, x.headers, x.body))
    }

    /// [`RailClient::paced`], with this machine's clock read just before the request goes and
    /// when the answer's headers arrive.
    pub(crate) async fn paced_timed(&self, req: reqwest::RequestBuilder) -> Result<Exchange, RailError> {
        let mut last = self.gate.lock().await;
        if let Some(prev) = *last {
            let jitter = if self.jitter.is_zero() {
                Duration::ZERO
            } else {
                self.jitter.mul_f64(rand::random::<f64>())
            };
            tokio::time::sleep_until(prev + self.min_interval + jitter).await;
        }
        self.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let result = self.send(req).await;
        *last = Some(Instant::now());
        result
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Exchange, RailError> {
        let sent = Utc::now();
        let resp = req.send().await.map_err(|e| self.transport_error(e))?;
        // The server read its clock before its headers left: the body's transfer is not part of
        // the round trip that bounds the clock offset.
        let received = Utc::now();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = crate::body::read_text(resp).await.map_err(|e| match e {
            crate::body::BodyError::Http(e) => self.transport_error(e),
            other => RailError::Oversized(other.to_string()),
        })?;
        Ok(Exchange {
            status,
            headers,
            body,
            sent,
            received,
        })
    }

    pub(crate) fn transport_error(&self, e: reqwest::Error) -> RailError {
        if e.is_timeout() {
            RailError::Timeout(self.timeout)
        } else {
            // reqwest errors carry the URL, never cookies; keep the chain short.
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg = format!("{msg}: {s}");
                src = s.source();
            }
            RailError::Network(msg)
        }
    }

    /// Opens a session: `GET /otn/leftTicket/init` sets the anonymous cookies and names the
    /// current query endpoint (`var CLeftTicketUrl = 'leftTicket/queryG';`).
    pub async fn init(&self) -> Result<(), RailError> {
        let url = format!("{}/otn/leftTicket/init?linktypeid=dc", self.base);
        let req = self.http.get(url).header(
            header::ACCEPT,
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        );
        let (status, headers, body) = self.paced(req).await?;
        if status.is_redirection() {
            return Err(throttled_redirect(&headers));
        }
        if !status.is_success() {
            return Err(RailError::Throttled {
                reason: format!("init page answered HTTP {status}"),
            });
        }
        let endpoint = parse_cleft_ticket_url(&body);
        let mut s = self.lock_session();
        s.initialized = true;
        if let Some(e) = endpoint {
            s.endpoint = Some(e);
        }
        Ok(())
    }

    /// `POST /otn/login/conf`: the endpoint name and presale days, without logging in.
    pub async fn login_conf(&self) -> Result<LoginConf, RailError> {
        self.login_conf_timed().await.map(|t| t.value)
    }

    /// [`RailClient::login_conf`] with the instants around it, for 12306's clock offset
    /// ([`Timed::clock_sample`]).
    pub async fn login_conf_timed(&self) -> Result<Timed<LoginConf>, RailError> {
        let url = format!("{}/otn/login/conf", self.base);
        let req = self
            .http
            .post(url)
            .header(
                header::CONTENT_TYPE,
                "application/x-www-form-urlencoded; charset=UTF-8",
            )
            .header(header::ORIGIN, self.base.clone())
            .body("");
        let x = self.paced_timed(req).await?;
        if x.status.is_redirection() {
            return Err(throttled_redirect(&x.headers));
        }
        if !x.status.is_success() {
            return Err(RailError::Throttled {
                reason: format!("login/conf answered HTTP {}", x.status),
            });
        }
        let conf = parse_login_conf(&x.body)?;
        let mut s = self.lock_session();
        if let Some(q) = &conf.query_url {
            s.endpoint = Some(q.clone());
        }
        if conf.presale_days.is_some() {
            s.presale_days = conf.presale_days;
        }
        Ok(Timed {
            value: conf,
            sent: x.sent,
            received: x.received,
        })
    }

    /// `url` as given when absolute (`https://www.12306.cn/index/script/core/common/qss.js`),
    /// else a path under this client's base URL (the simulator serves the real paths).
    fn absolute(&self, url: &str) -> String {
        if url.starts_with("http://") || url.starts_with("https://") {
            url.to_string()
        } else {
            format!("{}/{}", self.base, url.trim_start_matches('/'))
        }
    }

    /// A static file (page or script) through the pacing gate; redirects and errors are
    /// [`RailError`]s (a 404 means it moved).
    async fn fetch_static(&self, url: &str) -> Result<Exchange, RailError> {
        let req = self.http.get(url).header(header::ACCEPT, "*/*");
        let x = self.paced_timed(req).await?;
        if x.status.is_redirection() {
            return Err(throttled_redirect(&x.headers));
        }
        if x.status == StatusCode::NOT_FOUND {
            return Err(RailError::Endpoint(format!("{url} answered HTTP 404")));
        }
        if !x.status.is_success() {
            return Err(RailError::Throttled {
                reason: format!("{url} answered HTTP {}", x.status),
            });
        }
        Ok(x)
    }

    /// Reads the page at `page_url` (12306's index page, [`qss::INDEX_URL`]) and returns the
    /// absolute URL of the `qss.js` it links, if it links one.
    pub async fn discover_qss_url(&self, page_url: &str) -> Result<Option<String>, RailError> {
        let page_url = self.absolute(page_url);
        let x = self.fetch_static(&page_url).await?;
        Ok(qss::parse_qss_link(&x.body).and_then(|link| qss::resolve_link(&page_url, &link)))
    }

    /// Fetches and decodes `qss.js` at `url` (absolute, or a path under the base URL). How often
    /// is the caller's business (at most daily); a body that is not a `qss.js` is
    /// [`RailError::Decode`].
    pub async fn fetch_qss(&self, url: &str) -> Result<QssFetch, RailError> {
        let url = self.absolute(url);
        let x = self.fetch_static(&url).await?;
        let table = qss::decode_qss(&x.body).map_err(|e| RailError::Decode(format!("{url}: {e}")))?;
        let last_modified = x
            .headers
            .get(header::LAST_MODIFIED)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok(QssFetch {
            url,
            body: x.body,
            table,
            fetched_at: x.received,
            last_modified,
        })
    }

    /// One leftTicket query. Opens a session first if needed; follows one `c_url` move.
    pub async fn query_left_ticket(&self, q: &LeftTicketQuery) -> Result<LeftTicketPage<'static>, RailError> {
        let (initialized, endpoint) = {
            let s = self.lock_session();
            (s.initialized, s.endpoint.clone())
        };
        if !initialized || endpoint.is_none() {
            self.init().await?;
        }
        let mut endpoint = self
            .endpoint()
            // An error or login page instead of the booking page: 12306 is pushing back.
            .ok_or_else(|| RailError::Throttled {
                reason: "the init page names no CLeftTicketUrl (an error page?)".into(),
            })?;
        let mut moved = false;
        loop {
            match self.query_at(&endpoint, q).await {
                Ok(Answer::Page(page)) => return Ok(page),
                Ok(Answer::Moved(c_url)) if moved => {
                    return Err(RailError::Endpoint(format!(
                        "12306 moved the endpoint twice in one request ({endpoint} → {c_url})"
                    )));
                }
                Ok(Answer::Moved(c_url)) => {
                    moved = true;
                    tracing::info!(from = %endpoint, to = %c_url, "12306 moved the query endpoint");
                    self.lock_session().endpoint = Some(c_url.clone());
                    endpoint = c_url;
                }
                Err(e @ RailError::Throttled { .. }) => {
                    // 12306 may have dropped our session; open a fresh one next time.
                    self.lock_session().initialized = false;
                    return Err(e);
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn query_at(&self, endpoint: &str, q: &LeftTicketQuery) -> Result<Answer, RailError> {
        let endpoint = endpoint.trim_start_matches('/');
        let url = format!("{}/otn/{}?{}", self.base, endpoint, q.query_string());
        let (status, headers, body) = self.paced(self.http.get(url)).await?;
        classify(status, &headers, &body, &self.extra_risk)
    }
}

/// A usable answer to one query request: data, or "ask over there" (`c_url`).
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Page(LeftTicketPage<'static>),
    Moved(String),
}

fn throttled_redirect(headers: &HeaderMap) -> RailError {
    let to = headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("(no location)");
    RailError::Throttled {
        reason: format!("HTTP 302 to {to}"),
    }
}

/// Turns an HTTP answer into a page or a typed error (pure; the HTTP status matters as much as
/// the body).
pub fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
    extra_risk: &[String],
) -> Result<Answer, RailError> {
    if status.is_redirection() {
        return Err(throttled_redirect(headers));
    }
    if status == StatusCode::FORBIDDEN {
        let b = body.trim();
        let reason = if b.len() == 1 && b.chars().all(|c| c.is_ascii_digit()) {
            format!("HTTP 403 查询失败！（{b}）")
        } else {
            "HTTP 403 查询失败，请稍后再试！".to_string()
        };
        return Err(RailError::Throttled { reason });
    }
    if let Some(refused) = throttle::refusal(status, body, extra_risk) {
        return Err(refused);
    }
    match left_ticket::decode_left_ticket_owned(body) {
        Ok(page) => Ok(Answer::Page(page)),
        Err(LeftTicketError::EndpointMoved { c_url }) => Ok(Answer::Moved(c_url)),
        Err(LeftTicketError::Html) => Err(RailError::Throttled {
            reason: "HTML page instead of data".into(),
        }),
        Err(LeftTicketError::Refused { message }) => Err(RailError::Throttled { reason: message }),
        Err(e @ LeftTicketError::Malformed(_)) => Err(RailError::Decode(e.to_string())),
    }
}

/// `var CLeftTicketUrl = 'leftTicket/queryG';` → `leftTicket/queryG` (spacing and quotes vary).
pub fn parse_cleft_ticket_url(html: &str) -> Option<String> {
    let at = html.find("CLeftTicketUrl")?;
    let rest = &html[at + "CLeftTicketUrl".len()..];
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let inner = &rest[1..];
    let end = inner.find(quote)?;
    let value = inner[..end].trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// Reads the fields yupiao uses from a `login/conf` answer (numbers may be strings).
pub fn parse_login_conf(body: &str) -> Result<LoginConf, RailError> {
    let v: serde_json::Value = serde_json::from_str(body.trim_start_matches('\u{feff}')).map_err(|_| {
        if body.trim_start().starts_with('<') {
            RailError::Throttled {
                reason: "login/conf answered with an HTML page".into(),
            }
        } else {
            RailError::Decode(format!("login/conf is not JSON: {}", snippet(body, 80)))
        }
    })?;
    let data = &v["data"];
    let num = |x: &serde_json::Value| match x {
        serde_json::Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    let text = |x: &serde_json::Value| x.as_str().map(str::to_string).filter(|s| !s.is_empty());
    let now_str = text(&data["nowStr"]);
    let millis = match &data["now"] {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    let now = millis
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.with_timezone(&crate::clock::beijing()))
        .or_else(|| {
            let s = now_str.as_deref()?;
            let t = chrono::NaiveDateTime::parse_from_str(s, "%Y%m%d%H%M%S").ok()?;
            t.and_local_timezone(crate::clock::beijing()).single()
        });
    Ok(LoginConf {
        query_url: text(&data["queryUrl"]),
        presale_days: num(&data["other_control"]).filter(|d| *d > 0),
        now_str,
        now,
        now_ms: millis.filter(|ms| *ms > 0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike as _;

    const LOGIN_CONF: &str =
        include_str!("../../tests/fixtures/login/login_conf.not_logged_in.2024-04-22.json");

    #[test]
    fn query_string_keeps_the_booking_page_parameter_order() {
        let q = LeftTicketQuery {
            from: "SHH".into(),
            to: "CZH".into(),
            date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            student: true,
        };
        assert_eq!(
            q.query_string(),
            "leftTicketDTO.train_date=2026-12-01&leftTicketDTO.from_station=SHH&leftTicketDTO.to_station=CZH&purpose_codes=0X00"
        );
    }

    #[test]
    fn endpoint_name_is_read_from_the_init_page_whatever_the_spacing() {
        assert_eq!(
            parse_cleft_ticket_url("<script>var CLeftTicketUrl = 'leftTicket/queryG';</script>").as_deref(),
            Some("leftTicket/queryG")
        );
        assert_eq!(
            parse_cleft_ticket_url("var CLeftTicketUrl=\"leftTicket/queryZ\";").as_deref(),
            Some("leftTicket/queryZ")
        );
        assert_eq!(parse_cleft_ticket_url("<html>nothing here</html>"), None);
        assert_eq!(parse_cleft_ticket_url("var CLeftTicketUrl = '';"), None);
    }

    #[test]
    fn real_login_conf_gives_endpoint_and_presale_days() {
        let c = parse_login_conf(LOGIN_CONF).unwrap();
        assert_eq!(c.query_url.as_deref(), Some("leftTicket/queryG"));
        assert_eq!(c.presale_days, Some(15));
        assert_eq!(c.now_str.as_deref(), Some("20240422140818"));
        assert_eq!(c.now_ms, Some(1_713_766_098_347));
        let now = c.now.expect("login/conf carries 12306's clock");
        assert_eq!(
            now.format("%Y-%m-%d %H:%M:%S %:z").to_string(),
            "2024-04-22 14:08:18 +08:00"
        );
        let only_str = LOGIN_CONF.replace("\"now\":1713766098347,", "");
        let c = parse_login_conf(&only_str).unwrap();
        assert_eq!(
            c.now,
            Some(now.with_nanosecond(0).unwrap()),
            "nowStr when `now` is absent"
        );
        assert_eq!(c.now_ms, None, "only nowStr");
    }

    #[test]
    fn a_timed_login_conf_gives_a_clock_sample_in_milliseconds() {
        let sent = DateTime::from_timestamp_millis(1_713_766_098_300).unwrap();
        let timed = Timed {
            value: parse_login_conf(LOGIN_CONF).unwrap(),
            sent,
            received: sent + chrono::TimeDelta::milliseconds(60),
        };
        let sample = timed.clock_sample().unwrap();
        assert_eq!(sample.resolution, crate::sale::clock::Resolution::Millis);
        assert_eq!(sample.offset(), chrono::TimeDelta::milliseconds(17));
    }

    #[test]
    fn redirects_html_403_and_risk_phrases_are_throttling_not_empty_pages() {
        let mut loc = HeaderMap::new();
        loc.insert(
            header::LOCATION,
            HeaderValue::from_static("https://www.12306.cn/mormhweb/logFiles/error.html"),
        );
        let e = classify(StatusCode::FOUND, &loc, "", &[]).unwrap_err();
        assert!(
            matches!(&e, RailError::Throttled { reason } if reason.contains("error.html")),
            "{e:?}"
        );
        let none = HeaderMap::new();
        let e = classify(StatusCode::FORBIDDEN, &none, "3", &[]).unwrap_err();
        assert!(
            matches!(&e, RailError::Throttled { reason } if reason.contains("（3）")),
            "{e:?}"
        );
        let e = classify(StatusCode::OK, &none, "<html><body>error</body></html>", &[]).unwrap_err();
        assert!(e.is_throttling(), "{e:?}");
        let risk = r#"{"status":false,"messages":["您的访问过于频繁，请稍后重试"]}"#;
        assert!(
            classify(StatusCode::OK, &none, risk, &[])
                .unwrap_err()
                .is_throttling()
        );
        let custom = vec!["系统升级".to_string()];
        let e = classify(
            StatusCode::OK,
            &none,
            r#"{"status":true,"messages":"系统升级中","data":null}"#,
            &custom,
        )
        .unwrap_err();
        assert!(e.is_throttling());
        assert!(
            classify(
                StatusCode::OK,
                &none,
                r#"{"status":true,"messages":"","data":null}"#,
                &custom
            )
            .is_ok()
        );
    }

    #[test]
    fn c_url_answer_is_handed_to_the_retry_loop() {
        let body = r#"{"c_name":"CLeftTicketUrl","status":false,"c_url":"leftTicket/queryX"}"#;
        let a = classify(StatusCode::OK, &HeaderMap::new(), body, &[]).unwrap();
        assert_eq!(a, Answer::Moved("leftTicket/queryX".into()));
    }
}
