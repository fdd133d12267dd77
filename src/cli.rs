//! The command line: parse arguments, load settings and the watch list, dispatch to a command.
//!
//! Exit codes are part of the interface (scripts and systemd read them): 0 ok, 1 runtime failure
//! (12306 unreachable, a query failed), 2 usage or validation error (bad flag, bad watch list,
//! bad settings).

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::filter::{TrainMatch, price_yuan};
use crate::poll::{self, Skip};
use crate::rail::client::RailClient;
use crate::stations::StationTable;
use crate::watchlist::{self, Diagnostic, Severity, Watch, WatchList};

/// yupiao (余票): watches 12306 for sold-out train tickets and tells you when seats appear.
#[derive(Debug, Parser)]
#[command(name = "yupiao", version, about, long_about = None)]
pub struct Cli {
    /// Settings file [default: $YUPIAO_CONFIG, else ./yupiao.toml, else /etc/yupiao/yupiao.toml,
    /// else built-in defaults]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Watch list [default: [daemon] watchlist in the settings, else ./watchlist.toml]
    #[arg(long, global = true, value_name = "PATH")]
    pub watchlist: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the settings and the watch list; print every problem as file:line:col
    Check,
    /// Look up stations by Chinese name, pinyin, short pinyin, telecode or city
    Stations {
        /// e.g. 北京南, beijingnan, bjn, VNP, 北京
        query: String,
    },
    /// Check every watch once, now, and print what is on sale
    Once {
        /// One JSON object per line (watch, date, train, seat) instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Run the daemon: poll on schedule, store changes, email alerts (systemd: Type=notify)
    Run,
    /// Show every watch's state, read from the database (works while the daemon runs)
    Status {
        /// The report as one JSON object
        #[arg(long)]
        json: bool,
    },
    /// Send a test email through the configured transport and print the server's answer
    TestEmail {
        /// Recipient [default: [email] to, else [email] from]
        #[arg(long, value_name = "ADDR")]
        to: Option<String>,
    },
    /// Run the daemon for about a minute against the built-in simulator, in a scratch directory
    Demo {
        /// Scratch directory for the database, the watch list and the emails
        #[arg(long, default_value = "demo")]
        dir: PathBuf,
    },
    /// 抢票 orders placed through Juhe: list them, or show / cancel / refund one
    Orders {
        /// One JSON object per order
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<OrdersAction>,
    },
    /// Run the built-in simulated 12306 (for dry runs and tests)
    Sim {
        /// Address to listen on (port 0 picks a free port)
        #[arg(long, default_value = "127.0.0.1:8306")]
        listen: SocketAddr,
        /// Scenario file (TOML or JSON); default: the built-in Shanghai→Changzhou scenario
        #[arg(long, value_name = "FILE")]
        scenario: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrdersAction {
    /// Everything about one order, with its history
    Show { out_order_no: String },
    /// Cancel an order that is still grabbing (N, B, D)
    Cancel { out_order_no: String },
    /// Refund one passenger's ticket of an issued order (passengerId from `orders show`)
    Refund {
        out_order_no: String,
        passenger_id: String,
    },
}

/// What every command starts from: the settings, where they came from, and the watch list's path.
struct Context {
    settings: Settings,
    found: crate::config::discover::Found,
    watchlist: PathBuf,
    /// Settings warnings (a fast `min_interval`): `check` prints them, `run` logs them.
    warnings: Vec<Diagnostic>,
}

/// Finds and loads the settings; on any problem prints every one and returns exit code 2.
fn load_context(cli: &Cli) -> Result<Context, ExitCode> {
    let found = crate::config::discover::settings_file(cli.config.as_deref());
    match Settings::load_checked(found.path.as_deref(), std::env::vars()) {
        Ok((settings, warnings)) => {
            let watchlist = crate::config::discover::watchlist_file(cli.watchlist.as_deref(), &settings);
            Ok(Context {
                settings,
                found,
                watchlist,
                warnings,
            })
        }
        Err(e) => {
            print_diagnostics(&e.0);
            let errors = e.0.iter().filter(|d| d.severity == Severity::Error).count();
            eprintln!("{}: {}", found.describe(), count(errors, "error", "errors"));
            Err(ExitCode::from(2))
        }
    }
}

fn print_diagnostics(diags: &[Diagnostic]) {
    for d in diags {
        eprintln!("{d}");
    }
}

/// Loads the watch list or prints every problem and returns exit code 2.
fn load_watchlist(path: &Path) -> Result<WatchList, ExitCode> {
    match watchlist::load(path, crate::clock::today()) {
        Ok((list, warnings)) => {
            print_diagnostics(&warnings);
            Ok(list)
        }
        Err(diags) => {
            print_diagnostics(&diags);
            let errors = diags.iter().filter(|d| d.severity == Severity::Error).count();
            eprintln!("{}: {}", path.display(), count(errors, "error", "errors"));
            Err(ExitCode::from(2))
        }
    }
}

/// `1 watch`, `2 watches`, `0 watches`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Initializes logging on stderr: level from `RUST_LOG`, else the settings; colours only on a
/// terminal (under systemd, stderr is the journal).
pub fn init_tracing(default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{default_level},tokio_cron_scheduler=warn"))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Entry point used by `main`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let cx = match load_context(&cli) {
        Ok(cx) => cx,
        Err(code) => return code,
    };
    init_tracing(&cx.settings.log.level);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(dispatch(cli, cx))
}

async fn dispatch(cli: Cli, cx: Context) -> ExitCode {
    let settings = &cx.settings;
    match &cli.command {
        Command::Check => check(&cx),
        Command::Stations { query } => stations(query),
        Command::Once { json } => once(&cx, *json).await,
        Command::Sim { listen, scenario } => sim(*listen, scenario.as_deref()).await,
        Command::Run => run(cx).await,
        Command::Orders { json, action } => {
            let db = settings.store.path.clone();
            let result = match action {
                None => crate::orders::list(&db, *json),
                Some(OrdersAction::Show { out_order_no }) => crate::orders::show(&db, out_order_no),
                Some(OrdersAction::Cancel { out_order_no }) => {
                    crate::orders::cancel(settings, out_order_no).await
                }
                Some(OrdersAction::Refund {
                    out_order_no,
                    passenger_id,
                }) => crate::orders::refund(settings, out_order_no, passenger_id).await,
            };
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("{e:#}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Status { json } => status(&cx, *json),
        Command::TestEmail { to } => test_email(settings, to.as_deref()).await,
        Command::Demo { dir } => match crate::demo::run(dir.clone()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("demo failed: {e:#}");
                ExitCode::from(1)
            }
        },
    }
}

fn check(cx: &Context) -> ExitCode {
    let settings = &cx.settings;
    print_diagnostics(&cx.warnings);
    let list = match load_watchlist(&cx.watchlist) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let mut problems = 0;
    if !list.waitlists.is_empty() {
        match crate::rail::after_nate::load_cookie(&settings.rail) {
            Ok(Some(_)) => {}
            Ok(None) => eprintln!(
                "warning: {} but no [rail] cookie or cookie_file: {} report \"no 12306 session\"",
                count(list.waitlists.len(), "[[waitlist]] entry", "[[waitlist]] entries"),
                if list.waitlists.len() == 1 {
                    "it will"
                } else {
                    "they will"
                }
            ),
            Err(e) => {
                eprintln!("settings: {e:#}");
                problems += 1;
            }
        }
    }
    let grabs = list.watches.iter().filter(|w| w.grab.is_some()).count();
    if grabs > 0 {
        if !settings.juhe.enabled {
            eprintln!(
                "note: {}, but [juhe] enabled = false: {} only alert, no order is placed",
                count(grabs, "grab watch", "grab watches"),
                if grabs == 1 { "it will" } else { "they" }
            );
        } else {
            for (missing, key) in [
                (settings.juhe.key.is_none(), "key"),
                (settings.juhe.person.trim().is_empty(), "person"),
                (settings.juhe.cellphone.is_none(), "cellphone"),
            ] {
                if missing {
                    eprintln!("settings: [juhe] {key} is required to place orders (enabled = true)");
                    problems += 1;
                }
            }
        }
    }
    if problems > 0 {
        return ExitCode::from(2);
    }
    let today = crate::clock::today();
    let plan = poll::plan(&list.watches, today, settings.upstream.presale_days);
    print_skipped(&list.watches, &plan, settings.upstream.presale_days, today);
    let dates: usize = list.watches.iter().map(|w| w.dates.len()).sum();
    println!(
        "{}: OK — {}, {}, {}, {} on sale now; settings: {}",
        cx.watchlist.display(),
        count(list.watches.len(), "watch", "watches"),
        count(list.waitlists.len(), "候补 waitlist", "候补 waitlists"),
        count(dates, "date", "dates"),
        count(plan.queries.len(), "distinct query", "distinct queries"),
        cx.found.describe()
    );
    ExitCode::SUCCESS
}

fn stations(query: &str) -> ExitCode {
    let table = StationTable::embedded();
    let found = table.search(query);
    if found.is_empty() {
        let near = table.nearest(query, 5);
        let names: Vec<String> = near
            .iter()
            .map(|s| format!("{} ({})", s.name, s.telecode))
            .collect();
        if names.is_empty() {
            eprintln!("no station matches {query:?}");
        } else {
            eprintln!("no station matches {query:?}; did you mean {}?", names.join(", "));
        }
        return ExitCode::from(1);
    }
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(stations_table(&found).as_bytes());
    ExitCode::SUCCESS
}

/// `text` padded with spaces to `cols` terminal columns (CJK characters take two).
fn pad(text: &str, cols: usize) -> String {
    let width = unicode_width::UnicodeWidthStr::width(text);
    format!("{text}{}", " ".repeat(cols.saturating_sub(width)))
}

/// The `stations` table (pure): columns aligned by display width, not by character count.
fn stations_table(found: &[&crate::stations::Station]) -> String {
    let header = ["名称", "电报码", "pinyin", "简拼", "城市"];
    let rows: Vec<[String; 5]> = found
        .iter()
        .map(|s| {
            let city = if s.country.is_empty() {
                s.city.clone()
            } else {
                format!("{} ({})", s.city, s.country)
            };
            [
                s.name.clone(),
                s.telecode.clone(),
                s.pinyin.clone(),
                s.short.clone(),
                city,
            ]
        })
        .collect();
    let mut widths = header.map(unicode_width::UnicodeWidthStr::width);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(unicode_width::UnicodeWidthStr::width(cell.as_str()));
        }
    }
    let line = |cells: [&str; 5]| {
        let mut l = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(cell);
            } else {
                l.push_str(&pad(cell, widths[i] + 2));
            }
        }
        l.trim_end().to_string() + "\n"
    };
    let mut out = line(header);
    for row in &rows {
        out.push_str(&line([&row[0], &row[1], &row[2], &row[3], &row[4]]));
    }
    out
}

async fn once(cx: &Context, json: bool) -> ExitCode {
    let settings = &cx.settings;
    let list = match load_watchlist(&cx.watchlist) {
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
    let (presale_days, rail_today) = ask_login_conf(&client, settings).await;
    // A date 12306's clock already calls past is refused by 12306 (a 302): skip it.
    let today = rail_today.map_or(ours, |t| t.max(ours));
    let plan = poll::plan(&list.watches, today, presale_days);
    print_skipped(&list.watches, &plan, presale_days, ours);
    let results = poll::execute(&client, &list.watches, &plan, StationTable::embedded()).await;
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
    w: &watchlist::WaitlistWatch,
) -> Result<Option<crate::rail::after_nate::WaitlistOrder>, String> {
    use crate::rail::after_nate::{QueueAnswer, load_cookie};
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

fn waitlist_line(
    w: &watchlist::WaitlistWatch,
    answer: &Result<Option<crate::rail::after_nate::WaitlistOrder>, String>,
    json: bool,
) -> String {
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
            "pay_before": o.lose_time.filter(|_| o.status_code == "01").map(|t| t.to_rfc3339()),
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
                .filter(|_| o.status_code == "01")
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

/// Asks `login/conf` for the presale window (and the endpoint) and 12306's today; falls back to
/// the settings and our own clock.
async fn ask_login_conf(client: &RailClient, settings: &Settings) -> (u32, Option<chrono::NaiveDate>) {
    match client.login_conf().await {
        Ok(conf) => (
            conf.presale_days.unwrap_or(settings.upstream.presale_days),
            conf.now.map(|t| t.date_naive()),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "login/conf failed; assuming {} presale days", settings.upstream.presale_days);
            (settings.upstream.presale_days, None)
        }
    }
}

/// The notices for dates a check does not query (past, or not on sale yet), on stderr: `once`
/// and `check` print the same ones. `ours` is our own today; a date past only by 12306's clock
/// says so.
fn print_skipped(watches: &[Watch], plan: &poll::Plan, presale_days: u32, ours: chrono::NaiveDate) {
    for &(i, date, skip) in &plan.skipped {
        let w = &watches[i].name;
        match skip {
            Skip::Past if date >= ours => {
                eprintln!("{w}: {date} is in the past by 12306's clock (already the next day there), skipped")
            }
            Skip::Past => eprintln!("{w}: {date} is in the past, skipped"),
            Skip::NotOnSaleYet { opens } => {
                eprintln!(
                    "{w}: {date} is not on sale yet (12306 sells {presale_days} days ahead; opens {opens})"
                )
            }
        }
    }
}

/// The `--json` lines for one (watch, date): one per (train, seat), one error line, or one line
/// saying why nothing matched.
pub fn json_lines(
    w: &Watch,
    date: chrono::NaiveDate,
    outcome: &Result<Vec<TrainMatch>, crate::rail::client::RailError>,
    no_match: Option<&crate::filter::NoMatch>,
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
pub fn no_match_json(watch: &str, date: &str, why: &crate::filter::NoMatch) -> serde_json::Value {
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
                                    .and_then(crate::notify::render::on_sale_text)
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
                            crate::notify::render::arrival_day(t),
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

async fn sim(listen: SocketAddr, scenario: Option<&Path>) -> ExitCode {
    let scenario = match scenario {
        Some(p) => match crate::sim::Scenario::load(p) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{}: {e:#}", p.display());
                return ExitCode::from(2);
            }
        },
        None => crate::sim::Scenario::builtin(),
    };
    let sim = match crate::sim::Sim::start(listen, scenario).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot start the simulator on {listen}: {e:#}");
            return ExitCode::from(1);
        }
    };
    println!("simulated 12306 listening on {}", sim.base_url());
    println!(
        "point yupiao at it with: YUPIAO__UPSTREAM__RAIL_URL={} yupiao once",
        sim.base_url()
    );
    println!(
        "control API: {}/sim/stats (GET), /sim/seats, /sim/mode, /sim/rotate (POST); Ctrl-C stops",
        sim.base_url()
    );
    let _ = std::io::stdout().flush();
    let _ = tokio::signal::ctrl_c().await;
    sim.shutdown().await;
    ExitCode::SUCCESS
}

async fn run(cx: Context) -> ExitCode {
    for w in &cx.warnings {
        tracing::warn!("{w}");
    }
    if let Err(code) = load_watchlist(&cx.watchlist) {
        return code;
    }
    let token = tokio_util::sync::CancellationToken::new();
    let stop = token.clone();
    tokio::spawn(async move {
        crate::daemon::shutdown_signal().await;
        stop.cancel();
    });
    let ready = || {
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    };
    match crate::daemon::run(cx.settings, cx.watchlist, token, ready).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("yupiao run: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// `status` shows the list the daemon runs, as recorded in the database, never the file.
fn status(cx: &Context, json: bool) -> ExitCode {
    let now = crate::clock::now();
    match crate::status::gather(&cx.settings.store.path, now) {
        Ok(report) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
            } else {
                print!("{}", crate::status::render_text(&report, now));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}

async fn test_email(settings: &Settings, to: Option<&str>) -> ExitCode {
    let mailer = match crate::notify::Mailer::new(&settings.email) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("email settings: {e:#}");
            return ExitCode::from(2);
        }
    };
    let recipients: Vec<String> = match to {
        Some(t) => vec![t.to_string()],
        None if !settings.email.to.is_empty() => settings.email.to.clone(),
        None => vec![settings.email.from.clone()],
    };
    let content = crate::notify::render_test_email(crate::clock::now(), &mailer.describe());
    println!(
        "sending a test email to {} via {}",
        recipients.join(", "),
        mailer.describe()
    );
    match mailer.send(&recipients, &content).await {
        Ok(answer) => {
            println!("accepted: {answer}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("not sent: {e}");
            ExitCode::from(1)
        }
    }
}
