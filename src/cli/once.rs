//! `yupiao once`: one live check of every watch, now, as a table or JSON lines — through the same
//! poll step as the daemon ([`crate::poll::execute`]), without recording anything. Also the
//! skipped-date notices `check` prints.

use std::io::Write;
use std::process::ExitCode;

use chrono::Utc;

use super::{Context, load_watchlist};
use crate::config::Settings;
use crate::filter::{NoMatch, TrainMatch, price_yuan};
use crate::notify::seats::{arrival_day, on_sale_text};
use crate::poll::{self, Gate, Skip};
use crate::rail::after_nate::{QueueAnswer, WaitlistOrder, load_cookie};
use crate::rail::client::{RailClient, RailError};
use crate::sale::known::Known;
use crate::stations::StationTable;
use crate::watchlist::{WaitlistWatch, Watch};

pub(super) async fn once(cx: &Context, json: bool) -> ExitCode {
    let settings = &cx.settings;
    let list = match load_watchlist(&cx.watchlist, &cx.settings) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let client = match RailClient::new(&settings.upstream) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot build the HTTP client: {e}");
            return ExitCode::from(1);
        }
    };
    let ours = crate::clock::today();
    // What the daemon stored (station times, qss.js), and 12306's clock measured now.
    let mut known = Known::read(&settings.store.path);
    let presale_days = ask_login_conf(&client, settings, &mut known).await;
    let plan = poll::plan(&list.watches, &known.view(Utc::now(), presale_days));
    let executed = poll::execute(
        &client,
        &list.watches,
        &plan,
        None,
        StationTable::embedded(),
        |_| Gate::Send,
        |_, pq, answer, at| match answer {
            Ok(page) => known.calendar.learn_page(page, pq.query.date, at.date_naive()),
            Err(e) => {
                tracing::warn!(query = %pq.query.query_string(), error = %e, "leftTicket query failed")
            }
        },
    )
    .await;
    // The answers taught openings (field 55, field 1): say them for every date not on sale.
    let learnt = poll::plan(&list.watches, &known.view(Utc::now(), presale_days));
    print_skipped(&list.watches, &learnt, ours);
    let results = executed.results;
    let failed = results.iter().filter(|r| r.outcome.is_err()).count();
    let mut out = std::io::stdout().lock();
    if json {
        for r in &results {
            let w = &list.watches[r.watch];
            for line in json_lines(w, r.date, &r.outcome, r.no_match.as_ref()) {
                let _ = writeln!(out, "{line}");
            }
        }
    } else {
        print_table(&mut out, &list.watches, &results);
    }
    let mut waitlists_failed = 0;
    for w in &list.waitlists {
        let answer = query_waitlist(&client, settings, w).await;
        if answer.is_err() {
            waitlists_failed += 1;
        }
        let _ = writeln!(out, "{}", waitlist_line(w, &answer, json));
    }
    let _ = out.flush();
    if failed > 0 {
        eprintln!("{failed} of {} (watch, date) checks failed", results.len());
    }
    if waitlists_failed > 0 {
        eprintln!(
            "{waitlists_failed} of {} 候补 checks failed",
            list.waitlists.len()
        );
    }
    if failed + waitlists_failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// One `[[waitlist]]` check for `once`: the order it follows, or why there is none.
async fn query_waitlist(
    client: &RailClient,
    settings: &Settings,
    w: &WaitlistWatch,
) -> Result<Option<WaitlistOrder>, String> {
    let (cookie, _) = load_cookie(&settings.rail).map_err(|e| format!("{e:#}"))?.ok_or(
        "no 12306 session: set [rail] cookie (or cookie_file) to the Cookie header of a logged-in 12306 page",
    )?;
    match client.query_waitlist(&cookie).await.map_err(|e| e.to_string())? {
        QueueAnswer::Order(o) if w.reserve_no.as_ref().is_none_or(|r| *r == o.reserve_no) => Ok(Some(o)),
        QueueAnswer::Order(_) | QueueAnswer::NoOrder => Ok(None),
        QueueAnswer::SessionExpired(why) => Err(format!(
            "12306 session expired ({why}): copy a fresh Cookie into [rail] cookie"
        )),
    }
}

fn waitlist_line(w: &WaitlistWatch, answer: &Result<Option<WaitlistOrder>, String>, json: bool) -> String {
    match (answer, json) {
        (Err(e), true) => serde_json::json!({"waitlist": w.name, "error": e}).to_string(),
        (Err(e), false) => format!("候补 {}: 查询失败: {e}", w.name),
        (Ok(None), true) => serde_json::json!({"waitlist": w.name, "order": null}).to_string(),
        (Ok(None), false) => format!("候补 {}: 没有候补订单", w.name),
        (Ok(Some(o)), true) => serde_json::json!({
            "waitlist": w.name,
            "reserve_no": o.reserve_no,
            "status_code": o.status_code,
            "status_name": o.status_name,
            "prepay_amount": o.prepay_amount,
            "pay_before": o.lose_time.filter(|_| paying(o)).map(|t| t.to_rfc3339()),
            "realize_limit": o.realize_limit_time.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()),
            "needs": o.needs.iter().map(|n| serde_json::json!({
                "train": n.board_train_code,
                "date": n.train_date.map(|d| d.to_string()),
                "seat": n.seat_name,
                "queue_level": n.queue_level,
                "queue_info": n.queue_info,
            })).collect::<Vec<_>>(),
        })
        .to_string(),
        (Ok(Some(o)), false) => {
            let needs: Vec<String> = o
                .needs
                .iter()
                .map(|n| {
                    format!(
                        "{} {} {} {}",
                        n.board_train_code,
                        n.train_date.map(|d| d.to_string()).unwrap_or_default(),
                        n.seat_name,
                        n.queue_info
                    )
                })
                .collect();
            let pay = o
                .lose_time
                .filter(|_| paying(o))
                .map(|t| {
                    format!(
                        "  请在 {} 前支付订金 ¥{}",
                        t.format("%m-%d %H:%M"),
                        o.prepay_amount
                    )
                })
                .unwrap_or_default();
            format!(
                "候补 {}: {} {}{}  [{}]",
                w.name,
                o.reserve_no,
                o.status_name,
                pay,
                needs.join("; ")
            )
        }
    }
}

/// Asks `login/conf` for the presale window (and the endpoint) and samples 12306's clock into
/// `known`; falls back to the settings and our own clock (then dates whose opening may be near
/// are not queried, see [`crate::sale::view::SaleView::hold`]).
async fn ask_login_conf(client: &RailClient, settings: &Settings, known: &mut Known) -> u32 {
    match client.login_conf_timed().await {
        Ok(timed) => {
            if let Ok(sample) = timed.clock_sample() {
                known.clock.add(sample);
                known.settled = true;
            }
            timed
                .value
                .presale_days
                .or(known.presale_days)
                .unwrap_or(settings.upstream.presale_days)
        }
        Err(e) => {
            tracing::warn!(error = %e, "login/conf failed; assuming {} presale days", settings.upstream.presale_days);
            known.presale_days.unwrap_or(settings.upstream.presale_days)
        }
    }
}

/// The notices for dates a check does not query (past, or not on sale yet: `12-06 未开售 ·
/// 12-01 13:30 起售 (from sale_time)`), on stderr: `once` and `check` print the same ones. `ours`
/// is our own today; a date past only by 12306's clock says so.
pub(super) fn print_skipped(watches: &[Watch], plan: &poll::Plan, ours: chrono::NaiveDate) {
    for &(i, date, skip) in &plan.skipped {
        let w = &watches[i].name;
        match skip {
            Skip::Past if date >= ours => {
                eprintln!("{w}: {date} is in the past by 12306's clock (already the next day there), skipped")
            }
            Skip::Past => eprintln!("{w}: {date} is in the past, skipped"),
            Skip::NotOnSale(state) => eprintln!("{w}: {}", state.describe_with_source(date)),
        }
    }
}

/// The `--json` lines for one (watch, date): one per (train, seat), one error line, or one line
/// saying why nothing matched.
pub fn json_lines(
    w: &Watch,
    date: chrono::NaiveDate,
    outcome: &Result<Vec<TrainMatch>, RailError>,
    no_match: Option<&NoMatch>,
) -> Vec<String> {
    let date_s = date.format("%Y-%m-%d").to_string();
    match outcome {
        Err(e) => {
            vec![serde_json::json!({"watch": w.name, "date": date_s, "error": e.to_string()}).to_string()]
        }
        Ok(trains) if trains.is_empty() => {
            let Some(why) = no_match else {
                return Vec::new();
            };
            vec![no_match_json(&w.name, &date_s, why).to_string()]
        }
        Ok(trains) => trains
            .iter()
            .flat_map(|t| {
                t.seats.iter().map(|s| {
                    serde_json::json!({
                        "watch": w.name,
                        "date": date_s,
                        "train": t.station_train_code,
                        "from": t.from_name,
                        "to": t.to_name,
                        "depart": t.start_time,
                        "arrive": t.arrive_time,
                        "seat": s.seat.name(),
                        "left": s.raw,
                        "count": s.count,
                        "price": s.price_jiao.map(price_yuan),
                        "available": s.available,
                    })
                    .to_string()
                })
            })
            .collect(),
    }
}

/// `{"watch","date","matched":0,"returned":12,"dropped":[{"reason":…,"count":9,"text":…}],"summary":…}`.
pub fn no_match_json(watch: &str, date: &str, why: &NoMatch) -> serde_json::Value {
    let dropped: Vec<serde_json::Value> = why
        .dropped
        .iter()
        .map(|(d, n)| {
            let mut v = serde_json::to_value(d).unwrap_or_default();
            v["count"] = (*n).into();
            v["text"] = d.describe(*n).into();
            v
        })
        .collect();
    serde_json::json!({
        "watch": watch,
        "date": date,
        "matched": 0,
        "returned": why.returned,
        "dropped": dropped,
        "summary": why.to_string(),
    })
}

fn print_table(out: &mut impl Write, watches: &[Watch], results: &[poll::WatchResult]) {
    let mut by_watch: Vec<Vec<&poll::WatchResult>> = vec![Vec::new(); watches.len()];
    for r in results {
        by_watch[r.watch].push(r);
    }
    for (w, rs) in watches.iter().zip(by_watch) {
        if rs.is_empty() {
            continue;
        }
        let seats = if w.seats.is_empty() {
            "任意席别".to_string()
        } else {
            w.seats.iter().map(|s| s.name()).collect::<Vec<_>>().join("/")
        };
        let _ = writeln!(
            out,
            "{} ({}→{}, {}, {}人)",
            w.name, w.from.name, w.to.name, seats, w.passengers
        );
        for r in rs {
            match &r.outcome {
                Err(e) => {
                    let _ = writeln!(out, "  {}  查询失败: {e}", r.date);
                }
                Ok(trains) if trains.is_empty() => {
                    let why = r.no_match.as_ref().map(|w| format!("：{w}")).unwrap_or_default();
                    let _ = writeln!(out, "  {}  没有符合条件的车次{why}", r.date);
                }
                Ok(trains) => {
                    for t in trains {
                        let cells: Vec<String> = t
                            .seats
                            .iter()
                            .map(|s| {
                                let price = s
                                    .price_jiao
                                    .map(|p| format!(" ¥{:.1}", price_yuan(p)))
                                    .unwrap_or_default();
                                let mark = if s.available { " ✓" } else { "" };
                                let on_sale = t
                                    .sale_time
                                    .as_deref()
                                    .filter(|_| s.raw.trim() == "*")
                                    .and_then(on_sale_text)
                                    .map(|t| format!(" ({t})"))
                                    .unwrap_or_default();
                                format!("{} {}{on_sale}{}{}", s.seat.name(), s.raw, price, mark)
                            })
                            .collect();
                        let _ = writeln!(
                            out,
                            "  {}  {:<6} {} {} → {} {}{}  历时{}  {}{}",
                            r.date,
                            t.station_train_code,
                            t.from_name,
                            t.start_time,
                            t.to_name,
                            t.arrive_time,
                            arrival_day(t),
                            t.lishi,
                            cells.join("  "),
                            if t.bookable { "" } else { "  (不可预订)" }
                        );
                    }
                }
            }
        }
    }
}

/// The order asks for its deposit (待支付).
fn paying(o: &WaitlistOrder) -> bool {
    crate::decide::waitlist::WaitlistStatus::of(o) == crate::decide::waitlist::WaitlistStatus::AwaitingPayment
}
