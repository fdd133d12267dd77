//! The status page as server-rendered HTML (pure: a view model and a `now` in, a string out).
//!
//! The template is askama (`templates/web/status.html`): compiled into the binary and checked
//! by the compiler (a misspelt field is a build error, not a blank on the page), escaping every
//! interpolated value by default. The only unescaped insertions are the charts, which
//! [`super::chart`] writes with its own escaper, and the fixed stylesheet.
//!
//! Everything relative ("in 20 s", "2 h 5 min left") is computed from the `now` passed in, so
//! the page is complete without JavaScript; `app.js` (served beside it) only keeps those texts
//! current and reloads the page's content when the server says the snapshot changed.

use std::fmt::Write as _;

use askama::Template;
use chrono::Datelike;

use super::chart;
use super::view::{
    ChannelView, GrabPhase, GrabView, Outcome, REQUESTS_PER_5MIN, Time, ViewModel, WaitlistView, WatchState,
    WatchView,
};
use crate::clock::beijing;

/// The stylesheet, inlined into the page (one request; CSP allows inline styles only).
pub const STYLE: &str = include_str!("../../templates/web/style.css");
/// The page's script: countdowns and the live refresh. Served as `/app.js` (CSP `script-src 'self'`).
pub const SCRIPT: &str = include_str!("../../templates/web/app.js");

/// A time as the page shows it: machine-readable, on the clock, and relative to now.
pub struct Stamp {
    pub iso: String,
    pub clock: String,
    pub rel: String,
}

impl Stamp {
    fn new(t: Time, now: Time) -> Stamp {
        Stamp {
            iso: t.to_rfc3339(),
            clock: clock(t, now),
            rel: relative(t, now),
        }
    }
}

/// `14:03:22` today, `12-03 14:03` on another day (Beijing time).
pub fn clock(t: Time, now: Time) -> String {
    let t = t.with_timezone(&beijing());
    if t.date_naive() == now.with_timezone(&beijing()).date_naive() {
        t.format("%H:%M:%S").to_string()
    } else if t.year() == now.year() {
        t.format("%m-%d %H:%M").to_string()
    } else {
        t.format("%Y-%m-%d %H:%M").to_string()
    }
}

/// `3 h 5 min`, `45 s`, `2 d 4 h`: the two largest units.
pub fn span(secs: i64) -> String {
    let s = secs.abs();
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    if d > 0 {
        if h > 0 {
            format!("{d} d {h} h")
        } else {
            format!("{d} d")
        }
    } else if h > 0 {
        if m > 0 {
            format!("{h} h {m} min")
        } else {
            format!("{h} h")
        }
    } else if m > 0 {
        format!("{m} min")
    } else {
        format!("{s} s")
    }
}

/// `in 20 s` / `3 min ago` / `now`.
pub fn relative(t: Time, now: Time) -> String {
    let secs = (t - now).num_seconds();
    if secs.abs() < 1 {
        "now".into()
    } else if secs > 0 {
        format!("in {}", span(secs))
    } else {
        format!("{} ago", span(secs))
    }
}

/// A deadline: `2 h 5 min left` / `passed 3 min ago`.
pub fn countdown(t: Time, now: Time) -> String {
    let secs = (t - now).num_seconds();
    if secs > 0 {
        format!("{} left", span(secs))
    } else {
        format!("passed {} ago", span(secs))
    }
}

/// A coloured label.
pub struct Badge {
    /// `ok`, `warn`, `err`, `mut`.
    pub class: &'static str,
    pub text: String,
}

fn outcome_badge(state: WatchState, outcome: Option<&Outcome>) -> Badge {
    let (class, text) = match (state, outcome) {
        (WatchState::Finished, _) => ("mut", "finished".to_string()),
        (WatchState::Removed, _) => ("mut", "removed from the list".to_string()),
        (_, None) => ("mut", "not polled yet".to_string()),
        (_, Some(Outcome::Ok)) => ("ok", "ok".to_string()),
        (_, Some(Outcome::Night)) => ("mut", "night (12306 maintenance)".to_string()),
        (_, Some(Outcome::Throttled(_))) => ("warn", "throttled".to_string()),
        (_, Some(Outcome::Error(_))) => ("err", "error".to_string()),
    };
    Badge { class, text }
}

fn outcome_detail(outcome: Option<&Outcome>) -> Option<String> {
    match outcome {
        Some(Outcome::Throttled(m)) | Some(Outcome::Error(m)) => Some(m.clone()),
        _ => None,
    }
}

/// A seat seen now.
pub struct SeatChip {
    pub label: String,
    pub count: String,
    pub ok: bool,
}

pub struct WatchCard<'a> {
    pub w: &'a WatchView,
    pub badge: Badge,
    pub detail: Option<String>,
    pub route: String,
    pub dates: Vec<String>,
    pub wants: Vec<String>,
    pub last_poll: Option<Stamp>,
    pub next_poll: Option<Stamp>,
    pub last_change: Option<Stamp>,
    pub backoff: Option<(String, Stamp)>,
    pub seats: Vec<SeatChip>,
    pub unavailable: usize,
    /// The watch's timelines and histogram, from [`Prepared`].
    pub pictures: &'a str,
}

fn wants_words(w: &WatchView) -> Vec<String> {
    let a = &w.wants;
    let mut out = Vec::new();
    out.push(if a.trains.is_empty() {
        "any train".to_string()
    } else {
        a.trains.join(" ")
    });
    if !a.exclude_trains.is_empty() {
        out.push(format!("not {}", a.exclude_trains.join(" ")));
    }
    out.push(if a.seats.is_empty() {
        "any class".to_string()
    } else {
        a.seats.join(" › ")
    });
    if a.passengers > 0 {
        out.push(format!(
            "{} passenger{}",
            a.passengers,
            if a.passengers == 1 { "" } else { "s" }
        ));
    }
    if let Some(d) = &a.depart {
        out.push(format!("departs {d}"));
    }
    if let Some(d) = &a.arrive {
        out.push(format!("arrives {d}"));
    }
    if a.student {
        out.push("student".into());
    }
    out
}

/// The pictures of a snapshot, drawn once: they depend on the view model only (not on `now`),
/// so a server renders them once per snapshot and every request reuses them.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// Per watch, in order: its timelines and its "seats came back" histogram, as HTML.
    pictures: Vec<String>,
}

/// Draws every chart of `v`.
pub fn prepare(v: &ViewModel) -> Prepared {
    Prepared {
        pictures: v
            .watches
            .iter()
            .map(|w| {
                let mut html = String::new();
                if !w.timelines.is_empty() {
                    html.push_str("<div class=\"charts\">");
                    for t in &w.timelines {
                        chart::timeline_html(t, &mut html);
                    }
                    html.push_str("</div>");
                }
                chart::came_back_html(&w.came_back, &mut html);
                html
            })
            .collect(),
    }
}

fn watch_card<'a>(w: &'a WatchView, pictures: &'a str, now: Time) -> WatchCard<'a> {
    let mut seats: Vec<SeatChip> = w
        .seats_now
        .iter()
        .filter(|s| s.available)
        .map(|s| SeatChip {
            label: format!("{} {} {}", s.date.format("%m-%d"), s.train, s.seat.name()),
            count: s.level.label(),
            ok: true,
        })
        .collect();
    seats.truncate(24);
    WatchCard {
        badge: outcome_badge(w.state, w.outcome.as_ref()),
        detail: outcome_detail(w.outcome.as_ref()),
        route: match (w.from.is_empty(), w.to.is_empty()) {
            (false, false) => format!("{} → {}", w.from, w.to),
            _ => String::new(),
        },
        dates: w.dates.iter().map(|d| chart::date_label(*d)).collect(),
        wants: if w.from.is_empty() {
            Vec::new()
        } else {
            wants_words(w)
        },
        last_poll: w.last_poll.map(|t| Stamp::new(t, now)),
        next_poll: w
            .next_poll
            .filter(|_| w.state == WatchState::Active)
            .map(|t| Stamp::new(t, now)),
        last_change: w.last_change.map(|t| Stamp::new(t, now)),
        backoff: w.backoff.as_ref().filter(|b| b.until > now).map(|b| {
            (
                format!("level {} after {} failed poll(s)", b.level, b.failures),
                Stamp::new(b.until, now),
            )
        }),
        unavailable: w.seats_now.iter().filter(|s| !s.available).count(),
        seats,
        pictures,
        w,
    }
}

pub struct WaitCard<'a> {
    pub o: &'a WaitlistView,
    pub badge: Badge,
    pub detail: Option<String>,
    pub status: String,
    pub pay_before: Option<(Stamp, String)>,
    pub realize_limit: Option<(Stamp, String)>,
    pub last_poll: Option<Stamp>,
}

fn wait_card(o: &WaitlistView, now: Time) -> WaitCard<'_> {
    WaitCard {
        badge: if o.session_expired {
            Badge {
                class: "err",
                text: "session expired".into(),
            }
        } else {
            outcome_badge(o.state, o.outcome.as_ref())
        },
        detail: outcome_detail(o.outcome.as_ref()),
        status: match (&o.status_code, &o.status_name) {
            (Some(c), Some(n)) => format!("{n} ({c})"),
            _ => "no 候补 order seen".into(),
        },
        pay_before: o.pay_before.map(|t| (Stamp::new(t, now), countdown(t, now))),
        realize_limit: o.realize_limit.map(|t| (Stamp::new(t, now), countdown(t, now))),
        last_poll: o.last_poll.map(|t| Stamp::new(t, now)),
        o,
    }
}

pub struct GrabCard<'a> {
    pub g: &'a GrabView,
    pub class: &'static str,
    pub next_check: Option<Stamp>,
    pub updated: Stamp,
}

fn grab_card(g: &GrabView, now: Time) -> GrabCard<'_> {
    GrabCard {
        class: match g.phase {
            GrabPhase::Issued => "ok",
            GrabPhase::Grabbing | GrabPhase::Intent => "warn",
            GrabPhase::Ended | GrabPhase::Abandoned => "mut",
        },
        next_check: g.next_check.map(|t| Stamp::new(t, now)),
        updated: Stamp::new(g.updated_at, now),
        g,
    }
}

/// A number in the summary strip.
pub struct Tile {
    pub label: &'static str,
    pub value: String,
    pub note: String,
    pub class: &'static str,
    pub href: &'static str,
}

/// The summary strip: watches, 余票 now, 候补 and 抢票 when there are any, the outbox and 12306.
fn tiles(v: &ViewModel) -> Vec<Tile> {
    [
        Some(watches_tile(v)),
        Some(seats_tile(v)),
        waitlist_tile(v),
        grab_tile(v),
        Some(outbox_tile(v)),
        Some(rail_tile(v)),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn watches_tile(v: &ViewModel) -> Tile {
    let active = v.watches.iter().filter(|w| w.state == WatchState::Active).count();
    let failing = v
        .watches
        .iter()
        .filter(|w| matches!(w.outcome, Some(Outcome::Error(_)) | Some(Outcome::Throttled(_))))
        .count();
    Tile {
        label: "Watches",
        value: active.to_string(),
        note: if failing > 0 {
            format!("{failing} failing")
        } else {
            format!("{} in all", v.watches.len())
        },
        class: if failing > 0 { "warn" } else { "" },
        href: "#watches",
    }
}

fn seats_tile(v: &ViewModel) -> Tile {
    let seats: usize = v
        .watches
        .iter()
        .map(|w| w.seats_now.iter().filter(|s| s.available).count())
        .sum();
    let with_seats = v
        .watches
        .iter()
        .filter(|w| w.seats_now.iter().any(|s| s.available))
        .count();
    Tile {
        label: "余票 now",
        value: seats.to_string(),
        note: format!("on {with_seats} watch{}", if with_seats == 1 { "" } else { "es" }),
        class: if seats > 0 { "ok" } else { "" },
        href: "#watches",
    }
}

fn waitlist_tile(v: &ViewModel) -> Option<Tile> {
    if v.waitlists.is_empty() {
        return None;
    }
    let to_pay = v.waitlists.iter().filter(|o| o.pay_before.is_some()).count();
    Some(Tile {
        label: "候补",
        value: v.waitlists.len().to_string(),
        note: if to_pay > 0 {
            format!("{to_pay} to pay")
        } else {
            "orders followed".into()
        },
        class: if to_pay > 0 { "warn" } else { "" },
        href: "#waitlist",
    })
}

fn grab_tile(v: &ViewModel) -> Option<Tile> {
    if v.grabs.is_empty() {
        return None;
    }
    let grabbing = v
        .grabs
        .iter()
        .filter(|g| matches!(g.phase, GrabPhase::Grabbing | GrabPhase::Intent))
        .count();
    let issued = v.grabs.iter().filter(|g| g.phase == GrabPhase::Issued).count();
    Some(Tile {
        label: "抢票",
        value: grabbing.to_string(),
        note: format!("grabbing · {issued} issued"),
        class: if issued > 0 { "ok" } else { "" },
        href: "#grab",
    })
}

fn outbox_tile(v: &ViewModel) -> Tile {
    let pending: u64 = v.outbox.iter().map(|c| c.pending).sum();
    let failed: u64 = v.outbox.iter().map(|c| c.failed).sum();
    Tile {
        label: "Outbox",
        value: pending.to_string(),
        note: format!("pending · {failed} failed"),
        class: if failed > 0 { "err" } else { "" },
        href: "#outbox",
    }
}

fn rail_tile(v: &ViewModel) -> Tile {
    Tile {
        label: "12306",
        value: v
            .rail
            .requests_5min
            .map_or_else(|| "—".to_string(), |n| n.to_string()),
        note: format!("requests / 5 min (≤ {REQUESTS_PER_5MIN})"),
        class: match v.rail.requests_5min {
            Some(n) if n > REQUESTS_PER_5MIN => "err",
            _ if v.rail.backoff.is_some() => "warn",
            _ => "",
        },
        href: "#rail",
    }
}

#[derive(Template)]
#[template(path = "web/status.html")]
struct StatusPage<'a> {
    v: &'a ViewModel,
    revision: u64,
    style: &'static str,
    generated: Stamp,
    daemon: Badge,
    tiles: Vec<Tile>,
    watches: Vec<WatchCard<'a>>,
    waitlists: Vec<WaitCard<'a>>,
    grabs: Vec<GrabCard<'a>>,
    outbox: &'a [ChannelView],
    rail_backoff: Option<Stamp>,
    clock_offset: Option<String>,
}

fn daemon_badge(v: &ViewModel, now: Time) -> Badge {
    if v.daemon.running {
        let mut text = "running".to_string();
        if let Some(pid) = v.daemon.pid {
            let _ = write!(text, " · pid {pid}");
        }
        if let Some(t) = v.daemon.started_at {
            let _ = write!(text, " · up {}", span((now - t).num_seconds()));
        }
        Badge { class: "ok", text }
    } else {
        Badge {
            class: "err",
            text: "not running".into(),
        }
    }
}

/// The whole page. `revision` identifies the snapshot (the live refresh asks for changes
/// after it).
pub fn render(v: &ViewModel, now: Time, revision: u64) -> String {
    render_prepared(v, &prepare(v), now, revision)
}

/// The whole page, with the charts already drawn by [`prepare`] for this same `v`.
pub fn render_prepared(v: &ViewModel, prepared: &Prepared, now: Time, revision: u64) -> String {
    let pictures = |i: usize| prepared.pictures.get(i).map_or("", String::as_str);
    let picture_bytes: usize = prepared.pictures.iter().map(String::len).sum();
    let page = StatusPage {
        v,
        revision,
        style: STYLE,
        generated: Stamp::new(v.generated_at, now),
        daemon: daemon_badge(v, now),
        tiles: tiles(v),
        watches: v
            .watches
            .iter()
            .enumerate()
            .map(|(i, w)| watch_card(w, pictures(i), now))
            .collect(),
        waitlists: v.waitlists.iter().map(|o| wait_card(o, now)).collect(),
        grabs: v.grabs.iter().map(|g| grab_card(g, now)).collect(),
        outbox: &v.outbox,
        rail_backoff: v
            .rail
            .backoff
            .as_ref()
            .filter(|b| b.until > now)
            .map(|b| Stamp::new(b.until, now)),
        clock_offset: v.rail.clock_offset_ms.map(|ms| {
            if ms.abs() < 1000 {
                format!("{ms} ms")
            } else {
                format!("{:+.1} s", ms as f64 / 1000.0)
            }
        }),
    };
    let mut out = String::with_capacity(64 * 1024 + picture_bytes + v.watches.len() * 3 * 1024);
    // Rendering into a String cannot fail: the template calls no fallible filter.
    page.render_into(&mut out)
        .expect("rendering into a String cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, NaiveDate, TimeDelta};
    use secrecy::SecretString;

    use super::*;
    use crate::config::Settings;
    use crate::stations::StationTable;
    use crate::status::{StatusReport, WaitlistReport, WatchReport};
    use crate::store::GrabOrderRow;
    use crate::web::view;

    fn now() -> Time {
        DateTime::parse_from_rfc3339("2026-12-04T14:00:00+08:00").unwrap()
    }

    fn report(name: &str) -> WatchReport {
        WatchReport {
            name: name.into(),
            schedule: "every 30s".into(),
            in_watchlist: true,
            route: "上海虹桥→常州".into(),
            dates: vec![NaiveDate::from_ymd_opt(2026, 12, 5).unwrap()],
            action: "grab".into(),
            next_run: Some(now() + TimeDelta::seconds(20)),
            next: crate::status::NextRun::At {
                at: now() + TimeDelta::seconds(20),
            },
            no_match: Vec::new(),
            sale: Vec::new(),
            last_poll: Some(now() - TimeDelta::seconds(10)),
            outcome: Some("ok".into()),
            last_error: None,
            consecutive_failures: 0,
            backoff_level: 0,
            backoff_until: None,
            finished: false,
            last_change: None,
            available: vec!["2026-12-05 G8294 二等座 3".into()],
            alerts_sent: 1,
            alerts_pending: 0,
            email_error: None,
            alerts_failed: 0,
        }
    }

    #[test]
    fn a_watch_name_with_markup_is_shown_as_text() {
        let mut v = crate::web::sample::view(
            crate::web::sample::Size {
                watches: 1,
                dates: 1,
                days: 2,
                changes_per_day: 5,
            },
            now(),
        );
        v.watches[0].name = "<script>alert('x')</script> & \"co\"".into();
        v.watches[0].timelines[0].series[0].train = "<img src=x onerror=alert(1)>".into();
        v.rejected_edit = Some(view::rejected_edit("watchlist.toml:3:1: bad <b>value</b>"));
        v.outbox[0].last_error = Some("<iframe>".into());
        let html = render(&v, now(), 7);
        assert!(!html.contains("<script>alert"), "no live script from data");
        assert!(!html.contains("<img src=x"));
        assert!(!html.contains("<iframe>"));
        assert!(!html.contains("<b>value</b>"));
        assert!(
            html.contains("<h3>&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62; &#38; &#34;co&#34;</h3>")
        );
        assert!(html.contains("&#60;img src=x onerror=alert(1)&#62;"));
        assert!(html.contains("bad &#60;b&#62;value&#60;/b&#62;"));
        // The only script is the page's own file.
        assert_eq!(html.matches("<script").count(), 1);
        assert!(html.contains("<script src=\"app.js\" defer></script>"));
        assert!(html.contains("data-revision=\"7\""));
    }

    /// A secret that must never be rendered, and where it was put.
    const CANARIES: &[&str] = &[
        "CANARY-smtp-password",
        "CANARY-cookie-JSESSIONID",
        "CANARY-juhe-key",
        "CANARY-account-password",
        "13812345678",
        "CANARY-callback-token",
        "CANARY-url-password",
        "CANARY-url-query-key",
        "110101199003074514",
        "362321199001011030",
    ];

    #[test]
    fn no_secret_from_settings_watch_list_or_status_reaches_the_page() {
        let mut s = Settings::default();
        s.email.password = Some(SecretString::from("CANARY-smtp-password"));
        s.rail.cookie = Some(SecretString::from("JSESSIONID=CANARY-cookie-JSESSIONID; tk=abc"));
        s.juhe.key = Some(SecretString::from("CANARY-juhe-key"));
        s.juhe.account_password = Some(SecretString::from("CANARY-account-password"));
        s.juhe.cellphone = Some(SecretString::from("13812345678"));
        s.callback.token = Some(SecretString::from("CANARY-callback-token"));
        s.upstream.rail_url =
            "https://yupiao:CANARY-url-password@kyfw.12306.cn/?key=CANARY-url-query-key".into();
        let list_text = r#"
[[watch]]
name = "回家 抢票"
from = "上海虹桥"
to = "常州"
dates = ["2026-12-05"]
trains = ["G8294"]
seats = ["二等座"]
action = "grab"
[[watch.passenger]]
name = "张三"
type = "成人"
id_type = "身份证"
id_no = "110101199003074514"
"#;
        let (list, _) = crate::watchlist::parse(
            list_text,
            "watchlist.toml",
            NaiveDate::from_ymd_opt(2026, 12, 4).unwrap(),
            StationTable::embedded(),
        )
        .expect("valid watch list");
        let mut watch = report("回家 抢票");
        // Service texts that quote a whole ID number (Juhe's failMsg does).
        watch.last_error = Some("未通过身份效验 张三 110101199003074514".into());
        watch.outcome = Some("error: 未通过身份效验 362321199001011030".into());
        let status = StatusReport {
            database: "/var/lib/yupiao/yupiao.db".into(),
            daemon_pid: Some("99".into()),
            daemon_running: true,
            daemon_started_at: Some("2026-12-04T08:00:00+08:00".into()),
            daemon_last_seen: None,
            running_list: None,
            watchlist_error_at: Some(now()),
            email_problem: None,
            channels: Vec::new(),
            watchlist_error: Some("watchlist.toml:14:9: id_no 362321199001011030 fails its checksum".into()),
            query_endpoint: Some("leftTicket/queryG".into()),
            rail_clock: None,
            history_rows: 10,
            database_write_error: None,
            database_write_error_since: None,
            emails_held: 0,
            problems: Vec::new(),
            watches: vec![watch],
            waitlists: vec![WaitlistReport {
                name: "我的候补".into(),
                in_watchlist: true,
                schedule: "every 2m".into(),
                last_poll: None,
                next_run: None,
                next: crate::status::NextRun::DaemonStopped,
                outcome: None,
                last_error: Some("passenger 110101199003074514 refused".into()),
                session_expired: false,
                reserve_no: Some("E87000007466000022".into()),
                status_code: Some("01".into()),
                status_name: Some("待支付".into()),
                pay_before: Some(now() + TimeDelta::minutes(20)),
                realize_limit: Some("2026-12-06 10:00".into()),
                needs: vec!["G105 2026-12-05 二等座 候补人数较少".into()],
                emails_sent: 0,
                email_error: None,
                emails_pending: 0,
                emails_failed: 0,
            }],
        };
        let mut v = view::from_status(&status, Some(&list), &s, now());
        v.grabs.push(view::grab_from_row(
            &GrabOrderRow {
                out_order_no: "YP261204093012K7Q2M9XA".into(),
                watch: "回家 抢票".into(),
                date: NaiveDate::from_ymd_opt(2026, 12, 5).unwrap(),
                state: "U".into(),
                order_no: None,
                summary: serde_json::json!({
                    "watch": "回家 抢票", "date": "2026-12-05", "trains": ["G8294"], "seats": ["O"],
                    "seat_names": ["二等座"], "from_station": "上海虹桥", "to_station": "常州",
                    "departs_at": "2026-12-05T08:00:00", "close_time": "2026-12-05T05:00:00",
                    "accept_no_seat": false, "passengers": ["张三 (成人, 身份证 110101199003074514)"],
                    "ticket_model": 0
                })
                .to_string(),
                detail: None,
                last_error: Some("出票失败：未通过身份效验 张三 110101199003074514".into()),
                created_at: now(),
                updated_at: now(),
                next_check_at: now(),
            },
            now(),
        ));
        let html = render(&v, now(), 1);
        let json = serde_json::to_string(&v).unwrap();
        for canary in CANARIES {
            assert!(!html.contains(canary), "{canary} is on the page");
            assert!(!json.contains(canary), "{canary} is in the view model");
        }
        // What the page does show, masked.
        assert!(html.contains("1101***********514"), "the ID appears masked");
        assert!(html.contains("https://kyfw.12306.cn"));
        assert!(html.contains("回家 抢票"));
        assert!(html.contains("上海虹桥 → 常州"));
        assert!(html.contains("支付截止"));
        assert!(
            html.contains("20 min left"),
            "countdown relative to the given now"
        );
    }

    #[test]
    fn relative_times_and_countdowns_read_naturally() {
        let n = now();
        assert_eq!(relative(n + TimeDelta::seconds(20), n), "in 20 s");
        assert_eq!(relative(n - TimeDelta::seconds(3 * 60 + 5), n), "3 min ago");
        assert_eq!(countdown(n + TimeDelta::minutes(125), n), "2 h 5 min left");
        assert_eq!(countdown(n - TimeDelta::days(2), n), "passed 2 d ago");
        assert_eq!(clock(n - TimeDelta::hours(1), n), "13:00:00");
        assert_eq!(clock(n - TimeDelta::days(1), n), "12-03 14:00");
    }
}
