//! leftTicket decoder benchmark (issue 10): how fast yupiao turns a real 12306 body into a page,
//! against `serde_json` parsing the same body and building nothing we can use.
//!
//! Two bounds are printed for every body, both from `serde_json` alone:
//! - `Value`: `serde_json::from_str::<serde_json::Value>` — the generic parse every decoder of
//!   this answer starts from (the "JSON-parse-only" figure issue 10 compares against);
//! - `IgnoredAny`: the body scanned and validated, nothing built: no decoder can beat it.
//!
//! Two decoders are timed: `decode_left_ticket` (a page borrowing the body) and
//! `decode_left_ticket_owned` (a page that owns one shared copy of it: what the client returns
//! to the daemon). `ratio` is a decoder's speed as a fraction of each bound (bound time ÷
//! decoder time; 1.0 = as fast as the bound). `allocs` counts heap allocations (and bytes) per
//! decoded page (a counting global allocator), the decoder's share of the daemon's memory
//! churn.
//!
//! The bodies: every real leftTicket answer in `tests/fixtures/leftTicket/` and
//! `/work/shared/fixtures/real/leftTicket/` (`DECODER_FIXTURES=dir` for another directory), the
//! 2018 37-field answer of seed 002, the real G7316 rows of 2025 wrapped in an answer, and a
//! 40-train page made of those real rows (a busy route's answer size).
//!
//! ```sh
//! cargo bench --bench decoder
//! DECODER_MS=200 cargo bench --bench decoder   # longer rounds on a busy machine
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::de::IgnoredAny;
use serde_json::Value;
use yupiao::rail::left_ticket::{decode_left_ticket, decode_left_ticket_owned};

/// The system allocator, counting allocations (and bytes asked for).
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc`/`realloc` above, i.e. from the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        // SAFETY: as for `dealloc`; the system allocator owns `ptr`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const QUERY_G: &str = include_str!("../tests/fixtures/leftTicket/queryG.SHH-CZH.2024-04-22.json");
const SEED_002: &str = include_str!("../tests/fixtures/seed_002_leftTicket.txt");
const G7316_ROWS: &str = include_str!("../tests/fixtures/leftTicket/rows.G7316.IMH-AOH.2025-01-03.txt");

/// The 2018 answer is the JSON block between the ``` fences of seed 002.
fn seed_002_json() -> String {
    let start = SEED_002.find("```\n{").expect("fenced JSON in seed 002") + 4;
    let len = SEED_002[start..].find("\n```").expect("closing fence");
    SEED_002[start..start + len].to_string()
}

/// `rows` inside the envelope and station map of the real queryG answer.
fn answer_with_rows(rows: &[String]) -> String {
    let mut v: Value = serde_json::from_str(QUERY_G).expect("real body is JSON");
    v["data"]["result"] = Value::from(rows.to_vec());
    v.to_string()
}

fn real_rows() -> Vec<String> {
    let v: Value = serde_json::from_str(QUERY_G).expect("real body is JSON");
    let mut rows: Vec<String> = v["data"]["result"]
        .as_array()
        .expect("result")
        .iter()
        .map(|r| r.as_str().expect("row").to_string())
        .collect();
    rows.extend(G7316_ROWS.lines().filter(|l| !l.is_empty()).map(str::to_string));
    rows
}

fn bodies() -> Vec<(String, String)> {
    let mut out = vec![(
        "queryG 2024 (2 trains, 57 fields)".to_string(),
        QUERY_G.to_string(),
    )];
    let dir =
        std::env::var("DECODER_FIXTURES").unwrap_or_else(|_| "/work/shared/fixtures/real/leftTicket".into());
    if let Ok(entries) = std::fs::read_dir(Path::new(&dir)) {
        let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for path in files
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
        {
            if let Ok(body) = std::fs::read_to_string(&path) {
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                out.push((format!("{dir}/{name}"), body));
            }
        }
    }
    out.push(("seed 002, 2018 (2 trains, 37 fields)".into(), seed_002_json()));
    let rows = real_rows();
    out.push((
        "G7316 2025 rows in an answer (2 trains, 57 fields)".into(),
        answer_with_rows(&rows[2..]),
    ));
    let busy: Vec<String> = rows.iter().cycle().take(40).cloned().collect();
    out.push((
        "40 real rows (a busy route's answer)".into(),
        answer_with_rows(&busy),
    ));
    out
}

/// Runs `f` `iters` times and returns the time per call.
fn per_call(iters: u32, mut f: impl FnMut() -> usize) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        black_box(f());
    }
    start.elapsed() / iters
}

/// Allocations (and bytes) one call of `f` makes.
fn allocs_of(f: impl FnOnce() -> usize) -> (u64, u64) {
    let (a, b) = (ALLOCS.load(Ordering::Relaxed), BYTES.load(Ordering::Relaxed));
    black_box(f());
    (
        ALLOCS.load(Ordering::Relaxed) - a,
        BYTES.load(Ordering::Relaxed) - b,
    )
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ns(d: Duration) -> String {
    format!("{:>9.0} ns", d.as_secs_f64() * 1e9)
}

fn main() {
    let round_ms: u64 = std::env::var("DECODER_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let rounds: usize = std::env::var("DECODER_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    println!(
        "leftTicket decoder vs serde_json (median of {rounds} interleaved rounds of ~{round_ms} ms each)"
    );
    for (name, body) in bodies() {
        let body = body.as_str();
        let value =
            || serde_json::from_str::<Value>(body).map_or(0, |v| v.as_object().map_or(0, |o| o.len()));
        let ignored = || serde_json::from_str::<IgnoredAny>(body).map_or(0, |_| 1);
        let decode = || decode_left_ticket(body).map_or(0, |p| p.trains.len());
        let owned = || decode_left_ticket_owned(body).map_or(0, |p| p.trains.len());
        assert!(decode() > 0, "{name}: the decoder read no train");
        // Calibrate one round's iterations on the slowest of the three.
        let probe = per_call(200, value).max(per_call(200, decode));
        let iters = ((round_ms as f64 / 1e3) / probe.as_secs_f64().max(1e-9)).clamp(50.0, 5e6) as u32;
        let (mut tv, mut ti, mut td, mut to) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            tv.push(per_call(iters, value));
            ti.push(per_call(iters, ignored));
            td.push(per_call(iters, decode));
            to.push(per_call(iters, owned));
        }
        let (tv, ti, td, to) = (median(tv), median(ti), median(td), median(to));
        let (av, bv) = allocs_of(value);
        let (ad, bd) = allocs_of(decode);
        let (ao, bo) = allocs_of(owned);
        println!("\n{name}: {} bytes, {} trains", body.len(), decode());
        println!("  serde_json Value       {}   {av:>4} allocs {bv:>6} B", ns(tv));
        println!("  serde_json IgnoredAny  {}", ns(ti));
        println!("  decode_left_ticket     {}   {ad:>4} allocs {bd:>6} B", ns(td));
        println!(
            "  decode_left_ticket_owned {} {ao:>4} allocs {bo:>6} B   (the client's page)",
            ns(to)
        );
        let ratio = |bound: Duration, t: Duration| bound.as_secs_f64() / t.as_secs_f64();
        println!(
            "  ratio: decode {:.2}× the Value parse ({:.2}× the IgnoredAny scan); owned {:.2}× ({:.2}×)",
            ratio(tv, td),
            ratio(ti, td),
            ratio(tv, to),
            ratio(ti, to)
        );
    }
}
