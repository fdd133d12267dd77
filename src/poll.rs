//! One check of many watches: plan coalesced queries, run them, select what each watch wants.
//!
//! Watches that share a route, date and ticket type are served by **one** request: 12306
//! tolerates roughly 80 requests per 5 minutes per address, so a hundred watches must not mean a
//! hundred requests. [`plan`] is pure (which queries, which dates skipped and why); [`execute`]
//! sends the planned queries through the paced client and selects each watch's trains. `once`
//! and the daemon's poll cycle both go through these two functions: the daemon's [`Gate`] holds
//! back queries that back off, and its `answered` hook records refusals, where `once` sends
//! everything and only logs.

use std::borrow::Borrow;
use std::collections::BTreeMap;

use chrono::{DateTime, Days, FixedOffset, NaiveDate};

use crate::clock;
use crate::filter::{self, NoMatch, TrainMatch};
use crate::rail::client::{LeftTicketQuery, RailClient, RailError};
use crate::rail::left_ticket::LeftTicketPage;
use crate::sale::view::SaleView;
use crate::stations::StationTable;
use crate::watchlist::Watch;

/// Why a (watch, date) is not queried: before 12306's today, or not on sale yet (with its
/// opening and where that was learnt).
pub use crate::sale::view::Hold as Skip;

/// One request and every (watch index, date) it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedQuery {
    pub query: LeftTicketQuery,
    pub users: Vec<(usize, NaiveDate)>,
}

/// What one check will do.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    pub queries: Vec<PlannedQuery>,
    /// (watch index, date, why) for dates not queried.
    pub skipped: Vec<(usize, NaiveDate, Skip)>,
}

/// The last date 12306 sells today: the presale window counts today as day 1.
pub fn last_on_sale(today: NaiveDate, presale_days: u32) -> NaiveDate {
    today + Days::new(u64::from(presale_days.max(1) - 1))
}

/// Plans one check of `watches` (pure): a date is queried when `sale` says it may be (on sale
/// by 12306's clock, see [`SaleView::hold`]). Queries come out sorted by (date, from, to) so runs
/// are reproducible.
pub fn plan<W: Borrow<Watch>>(watches: &[W], sale: &SaleView<'_>) -> Plan {
    let mut by_query: BTreeMap<LeftTicketQuery, Vec<(usize, NaiveDate)>> = BTreeMap::new();
    let mut skipped = Vec::new();
    for (i, w) in watches.iter().enumerate() {
        let w = w.borrow();
        for &date in &w.dates {
            if let Some(hold) = sale.hold(&w.from, date) {
                skipped.push((i, date, hold));
            } else {
                let q = LeftTicketQuery {
                    from: w.from.telecode.clone(),
                    to: w.to.telecode.clone(),
                    date,
                    student: w.student,
                };
                by_query.entry(q).or_default().push((i, date));
            }
        }
    }
    let mut queries: Vec<PlannedQuery> = by_query
        .into_iter()
        .map(|(query, users)| PlannedQuery { query, users })
        .collect();
    queries.sort_by(|a, b| {
        (a.query.date, &a.query.from, &a.query.to).cmp(&(b.query.date, &b.query.from, &b.query.to))
    });
    Plan { queries, skipped }
}

/// Whether a planned query is sent now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Send,
    /// Not now: the whole client backs off; its watches stay due.
    Defer,
    /// This query backs off alone until then.
    Wait(DateTime<FixedOffset>),
}

/// The outcome of one (watch, date) of a sent query.
#[derive(Debug, Clone)]
pub struct WatchResult {
    pub watch: usize,
    pub date: NaiveDate,
    /// Index of its query in the plan.
    pub query: usize,
    /// When the answer arrived.
    pub at: DateTime<FixedOffset>,
    pub outcome: Result<Vec<TrainMatch>, RailError>,
    /// When the answer held no matching train: what it held and what removed each.
    pub no_match: Option<NoMatch>,
    /// The answer held no train at all (12306 busy, or every train of the route gone).
    pub empty_page: bool,
}

/// A planned query that was not sent, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    pub query: usize,
    pub gate: Gate,
}

/// What [`execute`] did.
#[derive(Debug, Clone, Default)]
pub struct Executed {
    /// In plan order.
    pub results: Vec<WatchResult>,
    pub held: Vec<Held>,
}

/// Sends the planned queries, in `order` (indexes into `plan.queries`; all of them in plan order
/// when `None`), one request each, paced by the client, and selects each watch's trains.
/// `gate` decides before each query whether to send it; `answered` sees each answer as it
/// arrives, with its query's index (backoff bookkeeping, logs).
pub async fn execute<W: Borrow<Watch>>(
    client: &RailClient,
    watches: &[W],
    plan: &Plan,
    order: Option<&[usize]>,
    stations: &StationTable,
    mut gate: impl FnMut(&PlannedQuery) -> Gate,
    mut answered: impl FnMut(usize, &PlannedQuery, &Result<LeftTicketPage, RailError>, DateTime<FixedOffset>),
) -> Executed {
    let all: Vec<usize> = (0..plan.queries.len()).collect();
    let mut out = Executed::default();
    for &qi in order.unwrap_or(&all) {
        let pq = &plan.queries[qi];
        match gate(pq) {
            Gate::Send => {}
            held => {
                out.held.push(Held {
                    query: qi,
                    gate: held,
                });
                continue;
            }
        }
        let answer = client.query_left_ticket(&pq.query).await;
        let at = clock::now();
        answered(qi, pq, &answer, at);
        for &(i, date) in &pq.users {
            let (outcome, no_match, empty_page) = match &answer {
                Ok(page) => {
                    let w = watches[i].borrow();
                    let trains = filter::select(page, w, date, stations);
                    let why = trains.is_empty().then(|| filter::explain(page, w, stations));
                    (Ok(trains), why, page.trains.is_empty())
                }
                Err(e) => (Err(e.clone()), None, false),
            };
            out.results.push(WatchResult {
                watch: i,
                date,
                query: qi,
                at,
                outcome,
                no_match,
                empty_page,
            });
        }
    }
    out
}
