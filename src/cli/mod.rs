//! The command line: parse arguments, load settings and the watch list, dispatch to a command.
//! `once` lives in [`once`], `orders` in [`orders`]; the rest are short enough to stay here.
//!
//! Exit codes are part of the interface (scripts and systemd read them): 0 ok, 1 runtime failure
//! (12306 unreachable, a query failed), 2 usage or validation error (bad flag, bad watch list,
//! bad settings).

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod once;
pub mod orders;
mod test_notify;

pub use crate::status::count;

use crate::config::Settings;
use crate::poll;
use crate::stations::StationTable;
use crate::watchlist::{self, Diagnostic, Severity, WatchList};
use once::print_skipped;

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
    /// Send a test push through one [[channel]] and print the service's answer
    TestNotify {
        /// The channel's name
        name: String,
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
pub(crate) struct Context {
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
/// `notify` lists may name the settings' `[[channel]]`s.
pub(crate) fn load_watchlist(path: &Path, settings: &Settings) -> Result<WatchList, ExitCode> {
    match watchlist::load_with_channels(path, crate::clock::today(), &settings.channel_names()) {
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
    // One thread runs every task: the work is waiting on 12306, SMTP and the database thread,
    // never computing, and each thread that allocates grows a malloc arena of its own (two
    // workers cost ~8 MB of RSS at 1,000 watches for no gain).
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
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
        Command::Once { json } => once::once(&cx, *json).await,
        Command::Sim { listen, scenario } => sim(*listen, scenario.as_deref()).await,
        Command::Run => run(cx).await,
        Command::Orders { json, action } => {
            let db = settings.store.path.clone();
            let result = match action {
                None => orders::list(&db, *json),
                Some(OrdersAction::Show { out_order_no }) => orders::show(&db, out_order_no),
                Some(OrdersAction::Cancel { out_order_no }) => orders::cancel(settings, out_order_no).await,
                Some(OrdersAction::Refund {
                    out_order_no,
                    passenger_id,
                }) => orders::refund(settings, out_order_no, passenger_id).await,
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
        Command::TestNotify { name } => test_notify::test_notify(settings, name).await,
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
    let list = match load_watchlist(&cx.watchlist, &cx.settings) {
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
    // Openings as the daemon last knew them (station times, qss.js, 12306's clock), else the
    // presale window.
    let mut known = crate::sale::known::Known::read(&settings.store.path);
    known.settled = true;
    let sale = known.view(chrono::Utc::now(), settings.upstream.presale_days);
    let plan = poll::plan(&list.watches, &sale);
    print_skipped(&list.watches, &plan, today);
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
    if let Err(code) = load_watchlist(&cx.watchlist, &cx.settings) {
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
            let report = report.with_channels(&cx.settings.channels);
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
