//! What every watch list test needs: a fixed "today", parsing with the embedded station table,
//! and assertions on where a diagnostic points.

use chrono::NaiveDate;

use crate::stations::{Station, StationTable};
use crate::watchlist::{Diagnostic, Severity, WatchList, parse};

pub(super) fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).expect("valid date")
}

pub(super) fn date(s: &str) -> NaiveDate {
    s.parse().expect("valid test date")
}

pub(super) fn run(text: &str) -> Result<(WatchList, Vec<Diagnostic>), Vec<Diagnostic>> {
    parse(text, "watchlist.toml", today(), StationTable::embedded())
}

pub(super) fn errors(text: &str) -> Vec<Diagnostic> {
    match run(text) {
        Ok(ok) => panic!("expected errors, got {ok:?}"),
        Err(diags) => diags,
    }
}

pub(super) fn one_error(text: &str) -> Diagnostic {
    let diags = errors(text);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0].severity, Severity::Error);
    diags.into_iter().next().expect("one")
}

pub(super) fn warnings(text: &str) -> (WatchList, Vec<Diagnostic>) {
    match run(text) {
        Ok(ok) => ok,
        Err(diags) => panic!("unexpected errors: {diags:#?}"),
    }
}

#[track_caller]
pub(super) fn assert_at(d: &Diagnostic, line: usize, col: usize, text: &str) {
    assert_eq!((d.line, d.col), (line, col), "{d}");
    assert!(d.message.contains(text), "{d}\n  should contain: {text}");
}

pub(super) fn station(code: &str) -> Station {
    StationTable::embedded()
        .by_telecode(code)
        .cloned()
        .expect("known telecode")
}

/// A valid watch (lines 1-5) followed by `extra` from line 6 on.
pub(super) fn watch_with(extra: &str) -> String {
    format!("[[watch]]\nname = \"w\"\nfrom = \"上海虹桥\"\nto = \"常州\"\ndates = [\"2026-12-01\"]\n{extra}")
}
