//! The request budget: which leftTicket query to send next, and when.
//!
//! 12306 tolerates about 80 requests per 5 minutes from one address ("原则为5分钟不大于80次",
//! protocol doc §1.3). A watch list can ask for far more, and the requests that matter most are
//! the first ones after a date goes on sale (起售). This scheduler spends the budget by urgency
//! and never over it. It is pure: the caller owns the clock (12306's, see [`super::clock`]),
//! asks [`Scheduler::next`] what to send and when, sends it, and reports every request it made
//! through the same address with [`Scheduler::record_send`].
//!
//! # Rules
//!
//! - **Hard limits.** Sends are spaced by the [pace](BudgetConfig::pace),
//!   `max(min_interval, window / requests)`, and the rolling window is checked as well, so no
//!   window ever holds more than the budget; requests recorded from elsewhere (候补,
//!   `login/conf`) count too.
//! - **Openings.** No request for a query before its opening. Its first request goes at
//!   `opening + open_lag`, ahead of everything; the link is kept free for it (nothing is sent in
//!   the pace before), so it leaves within `open_lag` unless several queries open within a pace
//!   of each other (then one pace apart). First requests already past [`ON_TIME`] (openings
//!   that passed before the query joined) go latest opening first, after any opening about to
//!   come. For `burst` after its opening the query asks for every slot it can get.
//! - **Shares.** The queries share the budget (minus `reserve`) by weighted max-min fairness: a
//!   query never gets more than it asks for (`1/every`), the rest is shared by weight. Weights:
//!   the queries in their opening burst share `burst_weight` (16); the others weigh 4 when their
//!   date is today or tomorrow, 2 within 3 days, else 1; `priority` p multiplies by 2^p (p in
//!   −4..=4). A query's [effective interval](Scheduler::effective_interval) is `1 / share`: its
//!   `every` when the budget suffices, else what its share allows. `check` and `status` show it.
//! - **Guarantee.** Each query's [guaranteed interval](Scheduler::guaranteed_interval) is its
//!   share computed as if an opening burst were under way (so it does not jump when bursts start
//!   and end), stretched by `headroom`. Nothing starves: every share is positive.
//! - **Order.** A query is due one effective interval after its last request and must go by one
//!   guaranteed interval after it (never earlier than its last request promised). Of the due
//!   queries, the earliest deadline goes (EDF); a slot nobody is due for goes to an opening burst
//!   (the one served longest ago) when every query's next requests stay on time.
//!
//! # What is guaranteed (tested on seeded random lists over a simulated hour)
//!
//! The budget and `min_interval` hold in every window; no request for a query before its opening;
//! the first request after a lone opening leaves within `open_lag`; each query's gap between
//! requests stays within its guaranteed interval plus [`Scheduler::grace`].

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta};

/// A moment on 12306's clock.
pub type At = DateTime<FixedOffset>;

/// The budget and the opening behaviour (`upstream.budget`, `min_interval`, `burst`).
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetConfig {
    /// At most this many requests in any `window`.
    pub requests: u32,
    pub window: Duration,
    /// Never two requests closer than this.
    pub min_interval: Duration,
    /// After an opening, the query runs as fast as the budget allows for this long.
    pub burst: Duration,
    /// The first request after an opening goes this long after it, by 12306's clock: enough for
    /// the clock's uncertainty ([`super::clock::ServerClock::uncertainty`]) so it is not early.
    pub open_lag: Duration,
    /// Requests per window kept out of the queries' shares, for other calls through the same
    /// address (候补 polling, `login/conf`).
    pub reserve: u32,
    /// Weight of a query during its opening burst (ordinary queries weigh 1 to 4).
    pub burst_weight: f64,
    /// Slack in each guaranteed interval (0.1: the share's interval ÷ 0.9): it absorbs the slot
    /// kept free before an opening and queries falling due together. Sends still use the whole
    /// budget.
    pub headroom: f64,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        BudgetConfig {
            requests: 80,
            window: Duration::from_secs(300),
            min_interval: Duration::from_secs(3),
            burst: Duration::from_secs(600),
            open_lag: Duration::from_millis(500),
            reserve: 0,
            burst_weight: 16.0,
            headroom: 0.1,
        }
    }
}

impl BudgetConfig {
    /// The spacing of sends: `min_interval`, or the budget's average pace if that is slower.
    pub fn pace(&self) -> Duration {
        let average = self.window / self.requests.max(1);
        self.min_interval.max(average)
    }

    /// Requests per second the queries may share.
    fn capacity(&self) -> f64 {
        let usable = self.requests.saturating_sub(self.reserve).max(1);
        let by_budget = f64::from(usable) / self.window.as_secs_f64().max(1e-3);
        by_budget.min(1.0 / self.pace().as_secs_f64().max(1e-3))
    }
}

/// What the scheduler needs to know about one query (one coalesced leftTicket request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuerySpec {
    /// The watch's pace (the fastest of the watches sharing the query).
    pub every: Duration,
    /// The travel date (urgency grows as it nears).
    pub date: NaiveDate,
    /// Its 起售 moment on 12306's clock, if it is not on sale yet or opened recently; `None` =
    /// on sale, no burst.
    pub opening: Option<At>,
    /// The watch's `priority`, −4..=4 (clamped); 0 by default.
    pub priority: i8,
}

/// Where a query stands at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Phase {
    /// Before its opening (+ `open_lag`): never sent.
    Waiting,
    /// Its first request after the opening is due now.
    Opening,
    /// Within `burst` after its opening: as fast as the budget allows.
    Burst,
    /// Its own `every`, or its share of the budget.
    Steady,
}

/// Why a send was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Reason {
    /// The first request after the query's opening.
    Opening,
    /// A request of an opening burst.
    Burst,
    /// The query's turn (its `every`, or its share).
    Due,
}

/// The scheduler's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next<K> {
    /// Send `key` at `at` (never before the `now` asked about), then [`Scheduler::record_send`].
    Send { key: K, at: At, reason: Reason },
    /// Nothing to send before `until` (later than `now`): ask again then, or when the list
    /// changes.
    Wait { until: At },
    /// No queries.
    Idle,
}

/// One query as `status` shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Planned<K> {
    pub key: K,
    pub phase: Phase,
    /// The interval the query runs at now, about; `None` while [`Phase::Waiting`].
    pub effective_interval: Option<Duration>,
    /// The longest it waits between requests (plus [`Scheduler::grace`]).
    pub guaranteed_interval: Option<Duration>,
    /// Its `every` is more than the budget gives it.
    pub limited_by_budget: bool,
    pub last_sent: Option<At>,
}

#[derive(Debug, Clone)]
struct Entry {
    spec: QuerySpec,
    /// When it joined the list.
    added: At,
    /// Its last request.
    last: Option<At>,
    /// The first request after its opening has been sent.
    opened: bool,
    /// The deadline its last request promised (its guaranteed interval then): a later change
    /// of shares (a burst ending) never pulls a deadline into the past, where it would jump
    /// ahead of queries that are on time.
    promised: Option<At>,
}

/// The scheduler's memory: the queries and the recent sends through this address.
#[derive(Debug, Clone)]
pub struct Scheduler<K> {
    config: BudgetConfig,
    entries: BTreeMap<K, Entry>,
    /// The most recent sends (at most `requests` of them), oldest first.
    sends: VecDeque<At>,
}

/// Weight of a date `days` ahead of 12306's today.
fn departure_weight(days: i64) -> f64 {
    match days {
        ..=1 => 4.0,
        2..=3 => 2.0,
        _ => 1.0,
    }
}

fn priority_weight(p: i8) -> f64 {
    2f64.powi(i32::from(p.clamp(-4, 4)))
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Weighted max-min fair shares: `demands[i]` requests/s wanted (`f64::INFINITY` = all it can
/// get), `weights[i]` > 0, `capacity` requests/s. Returns each rate.
fn fair_shares(demands: &[f64], weights: &[f64], capacity: f64) -> Vec<f64> {
    let mut order: Vec<usize> = (0..demands.len()).collect();
    order.sort_by(|&a, &b| (demands[a] / weights[a]).total_cmp(&(demands[b] / weights[b])));
    let mut rates = vec![0.0; demands.len()];
    let mut left = capacity;
    let mut weight: f64 = weights.iter().sum();
    for (n, &i) in order.iter().enumerate() {
        let level = left / weight;
        if demands[i] <= level * weights[i] {
            rates[i] = demands[i];
            left -= demands[i];
            weight -= weights[i];
        } else {
            for &j in &order[n..] {
                rates[j] = level * weights[j];
            }
            break;
        }
    }
    rates
}

impl<K: Ord + Clone> Scheduler<K> {
    pub fn new(config: BudgetConfig) -> Scheduler<K> {
        Scheduler {
            config,
            entries: BTreeMap::new(),
            sends: VecDeque::new(),
        }
    }

    pub fn config(&self) -> &BudgetConfig {
        &self.config
    }

    /// How late past its guaranteed interval a query may run: ten paces (37.5 s at 80 per 5
    /// minutes). Sends go one at a time, the slot before each opening is kept free and every
    /// opening's first request jumps the queue. Measured over an hour on 300 seeded random lists
    /// each (`YUPIAO_BUDGET_SEEDS=300 cargo test --release --lib -- random_lists --nocapture`):
    /// up to 45 queries with overlapping bursts, worst 8.2 paces (274 of 300 within 5); lists
    /// within the budget, worst 4 paces (250 of 300 within 2).
    pub fn grace(&self) -> Duration {
        self.config.pace() * 10
    }

    /// Adds a query, or updates it keeping its history. A changed `opening` means the query waits
    /// for (and bursts after) the new one.
    pub fn upsert(&mut self, key: K, spec: QuerySpec, now: At) {
        match self.entries.get_mut(&key) {
            Some(e) => {
                if e.spec.opening != spec.opening {
                    e.opened = false;
                }
                e.spec = spec;
            }
            None => {
                self.entries.insert(
                    key,
                    Entry {
                        spec,
                        added: now,
                        last: None,
                        opened: false,
                        promised: None,
                    },
                );
            }
        }
    }

    /// Drops a query (its date passed, its watches were removed).
    pub fn remove(&mut self, key: &K) {
        self.entries.remove(key);
    }

    /// Keeps only the queries `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&K) -> bool) {
        self.entries.retain(|k, _| keep(k));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A request went out at `at`: the query `key`'s, or (`None`) another call through the same
    /// address, which counts against the budget all the same.
    pub fn record_send(&mut self, key: Option<&K>, at: At) {
        self.sends.push_back(at);
        while self.sends.len() > self.config.requests.max(1) as usize {
            self.sends.pop_front();
        }
        let Some(key) = key else { return };
        let Some(e) = self.entries.get_mut(key) else {
            return;
        };
        e.last = Some(at);
        if e.spec.opening.is_some_and(|o| at >= o) {
            e.opened = true;
        }
        let promised = self.guaranteed_interval(key, at).map(|g| at + delta(g));
        if let Some(e) = self.entries.get_mut(key) {
            e.promised = promised;
        }
    }

    /// The first request after the opening found the date still not on sale (the opening was
    /// estimated, or the clock is off): treat the next request as the opening one again.
    pub fn reopen(&mut self, key: &K) {
        if let Some(e) = self.entries.get_mut(key) {
            e.opened = false;
        }
    }

    /// Moves every remembered instant by `by`: the caller's estimate of 12306's clock changed
    /// (a new `login/conf` sample), and the history must stay on the same clock as `now`.
    pub fn shift(&mut self, by: TimeDelta) {
        for s in &mut self.sends {
            *s += by;
        }
        for e in self.entries.values_mut() {
            e.added += by;
            for t in [e.last.as_mut(), e.promised.as_mut()].into_iter().flatten() {
                *t += by;
            }
        }
    }

    fn lag(&self) -> TimeDelta {
        delta(self.config.open_lag)
    }

    fn burst(&self) -> TimeDelta {
        delta(self.config.burst)
    }

    fn phase(&self, e: &Entry, t: At) -> Phase {
        match e.spec.opening {
            None => Phase::Steady,
            Some(o) if t < o + self.lag() => Phase::Waiting,
            Some(o) if t >= o + self.burst() => Phase::Steady,
            Some(_) if !e.opened => Phase::Opening,
            Some(_) => Phase::Burst,
        }
    }

    /// When the query could first be sent: when it joined, or its opening (+ lag).
    fn eligible_since(&self, e: &Entry) -> At {
        match e.spec.opening {
            Some(o) => e.added.max(o + self.lag()),
            None => e.added,
        }
    }

    /// Each eligible query's rate (requests/s) at `t`. The queries in their opening burst share
    /// one burst weight between them. With `assume_burst`, a burst is counted even when none is
    /// active: the guaranteed intervals then do not jump when bursts start and end (a jump would
    /// pull many deadlines together).
    fn shares(&self, t: At, assume_burst: bool) -> BTreeMap<&K, f64> {
        let today = t.date_naive();
        let bursting = self
            .entries
            .values()
            .filter(|e| matches!(self.phase(e, t), Phase::Opening | Phase::Burst))
            .count();
        let burst_weight = self.config.burst_weight.max(1e-3) / bursting.max(1) as f64;
        let mut keys = Vec::new();
        let mut demands = Vec::new();
        let mut weights = Vec::new();
        for (k, e) in &self.entries {
            let phase = self.phase(e, t);
            let (demand, weight) = match phase {
                Phase::Waiting => continue,
                Phase::Opening | Phase::Burst => (f64::INFINITY, burst_weight),
                Phase::Steady => (
                    1.0 / secs(e.spec.every).max(1e-3),
                    departure_weight((e.spec.date - today).num_days()),
                ),
            };
            keys.push(Some(k));
            demands.push(demand);
            weights.push(weight * priority_weight(e.spec.priority));
        }
        if assume_burst && bursting == 0 {
            keys.push(None);
            demands.push(f64::INFINITY);
            weights.push(burst_weight);
        }
        let rates = fair_shares(&demands, &weights, self.config.capacity());
        keys.into_iter()
            .zip(rates)
            .filter_map(|(k, r)| k.map(|k| (k, r)))
            .collect()
    }

    fn interval_of(&self, rate: f64) -> Duration {
        let pace = self.config.pace();
        if rate <= 0.0 || !rate.is_finite() {
            return pace;
        }
        Duration::try_from_secs_f64(1.0 / rate).map_or(Duration::MAX, |d| d.max(pace))
    }

    /// The interval `key` runs at, about, at `t` (12306's clock): its `every` when the budget
    /// suffices, else its share; during a burst, as fast as the budget allows it. `None` for
    /// unknown keys and queries waiting for their opening.
    pub fn effective_interval(&self, key: &K, t: At) -> Option<Duration> {
        self.shares(t, false).get(key).map(|r| self.interval_of(*r))
    }

    /// The longest `key` waits between requests at `t` (plus [`Scheduler::grace`]): its share
    /// with an opening burst counted (active or not), stretched by the headroom.
    pub fn guaranteed_interval(&self, key: &K, t: At) -> Option<Duration> {
        self.shares(t, true)
            .get(key)
            .map(|r| self.guaranteed(self.interval_of(*r)))
    }

    fn guaranteed(&self, typical: Duration) -> Duration {
        typical.div_f64(1.0 - self.config.headroom.clamp(0.0, 0.5))
    }

    /// Every query with its phase and intervals at `t`, for `status`.
    pub fn plan(&self, t: At) -> Vec<Planned<K>> {
        let typical = self.shares(t, false);
        let guaranteed = self.shares(t, true);
        self.entries
            .iter()
            .map(|(k, e)| {
                let eff = typical.get(k).map(|r| self.interval_of(*r));
                Planned {
                    key: k.clone(),
                    phase: self.phase(e, t),
                    effective_interval: eff,
                    guaranteed_interval: guaranteed.get(k).map(|r| self.guaranteed(self.interval_of(*r))),
                    limited_by_budget: eff.is_some_and(|d| d > e.spec.every.max(self.config.pace())),
                    last_sent: e.last,
                }
            })
            .collect()
    }

    /// The earliest moment from `now` at which a send respects the pace and the budget.
    pub fn earliest_send(&self, now: At) -> At {
        let mut t = now;
        if let Some(last) = self.sends.back() {
            t = t.max(*last + delta(self.config.pace()));
        }
        let budget = self.config.requests.max(1) as usize;
        if self.sends.len() >= budget {
            // The window (t − window, t] may hold budget − 1 earlier sends.
            let oldest = self.sends[self.sends.len() - budget];
            t = t.max(oldest + delta(self.config.window));
        }
        t
    }

    /// What to send next, and when (see the module doc). `now` is 12306's clock.
    pub fn next(&self, now: At) -> Next<K> {
        if self.entries.is_empty() {
            return Next::Idle;
        }
        let t0 = self.earliest_send(now);
        let next_opening = self.next_opening(t0);
        // The link is kept free for the next opening to come.
        let hold = next_opening.filter(|r| t0 + delta(self.config.pace()) > *r || self.would_fill_window(*r));
        if let Some(next) = self.first_after_opening(t0, hold) {
            return next;
        }
        let jobs = self.jobs(t0);
        self.earliest_deadline(&jobs, t0)
            .or_else(|| self.burst_bonus(&jobs, t0))
            .unwrap_or_else(|| self.wake(&jobs, next_opening, t0))
    }

    /// 1. The next opening to come after `t0` (with the lag), among the queries not yet opened.
    fn next_opening(&self, t0: At) -> Option<At> {
        self.entries
            .values()
            .filter(|e| !e.opened)
            .filter_map(|e| e.spec.opening.map(|o| o + self.lag()))
            .filter(|r| *r > t0)
            .min()
    }

    /// 2. First requests after an opening that has come: those still within the promise
    ///    (`ON_TIME` after their opening) earliest opening first; then, unless an opening is
    ///    about to come (`hold`: wait for it), the late ones (openings that passed before the
    ///    query joined), latest opening first: an older one has missed its moment already.
    fn first_after_opening(&self, t0: At, hold: Option<At>) -> Option<Next<K>> {
        let due: Vec<(&K, &Entry)> = self
            .entries
            .iter()
            .filter(|(_, e)| self.phase(e, t0) == Phase::Opening)
            .collect();
        let on_time = due
            .iter()
            .filter(|(_, e)| e.spec.opening.is_some_and(|o| t0 <= o + ON_TIME))
            .min_by_key(|(k, e)| (e.spec.opening, -e.spec.priority, *k));
        let late = due
            .iter()
            .min_by_key(|(k, e)| (std::cmp::Reverse(e.spec.opening), -e.spec.priority, *k));
        let first = match (on_time, hold, late) {
            (Some((k, _)), _, _) => *k,
            (None, Some(r), _) => return Some(Next::Wait { until: r }),
            (None, None, Some((k, _))) => *k,
            (None, None, None) => return None,
        };
        Some(Next::Send {
            key: first.clone(),
            at: t0,
            reason: Reason::Opening,
        })
    }

    /// 3. Earliest deadline among the due queries.
    fn earliest_deadline(&self, jobs: &[Job<'_, K>], t0: At) -> Option<Next<K>> {
        let released = jobs
            .iter()
            .filter(|j| j.release <= t0)
            .min_by(|a, b| a.order(b))?;
        Some(Next::Send {
            key: released.key.clone(),
            at: t0,
            reason: if released.phase == Phase::Burst {
                Reason::Burst
            } else {
                Reason::Due
            },
        })
    }

    /// 4. A free slot goes to an opening burst (the one served longest ago), unless the
    ///    queries' next requests could then no longer all be on time.
    fn burst_bonus(&self, jobs: &[Job<'_, K>], t0: At) -> Option<Next<K>> {
        let bonus = jobs
            .iter()
            .filter(|j| j.phase == Phase::Burst)
            .min_by_key(|j| (self.entries[j.key].last, -j.priority, j.key))?;
        self.all_on_time(jobs, bonus, t0).then(|| Next::Send {
            key: bonus.key.clone(),
            at: t0,
            reason: Reason::Burst,
        })
    }

    /// Nothing to send at `t0`: wait for the next release, opening or end of a wait.
    fn wake(&self, jobs: &[Job<'_, K>], next_opening: Option<At>, t0: At) -> Next<K> {
        let waiting = self
            .entries
            .values()
            .filter(|e| self.phase(e, t0) == Phase::Waiting)
            .filter_map(|e| e.spec.opening.map(|o| o + self.lag()));
        let next = jobs
            .iter()
            .map(|j| j.release)
            .chain(waiting)
            .chain(next_opening)
            .filter(|r| *r > t0)
            .min();
        match next {
            Some(r) => Next::Wait { until: r },
            None => Next::Idle,
        }
    }

    /// The next request of every query that is not waiting for (or at) its opening: due one
    /// effective interval after its last request, at the latest one guaranteed interval after.
    fn jobs(&self, t0: At) -> Vec<Job<'_, K>> {
        let typical = self.shares(t0, false);
        let guaranteed = self.shares(t0, true);
        self.entries
            .iter()
            .filter_map(|(k, e)| {
                let phase = self.phase(e, t0);
                if matches!(phase, Phase::Waiting | Phase::Opening) {
                    return None;
                }
                let since = self.eligible_since(e);
                let base = e.last.filter(|l| *l >= since);
                let interval = |shares: &BTreeMap<&K, f64>| {
                    shares.get(k).map_or(self.config.pace(), |r| self.interval_of(*r))
                };
                let due_gap = delta(interval(&typical));
                let bound = delta(self.guaranteed(interval(&guaranteed)));
                let deadline = base.unwrap_or(since) + bound;
                let promised = e.promised.filter(|_| base.is_some());
                Some(Job {
                    key: k,
                    release: base.map_or(since, |l| l + due_gap),
                    deadline: deadline.max(promised.unwrap_or(deadline)),
                    priority: e.spec.priority,
                    phase,
                    due_gap,
                    bound,
                })
            })
            .collect()
    }

    /// After sending `used` at `t0`, every query would still be on time until `horizon`, the
    /// scheduler following its own rule (earliest deadline among the due ones; each send makes
    /// its query's next job), the free slots left idle.
    fn all_on_time(&self, jobs: &[Job<'_, K>], used: &Job<'_, K>, t0: At) -> bool {
        let pace = delta(self.config.pace());
        let mut pending: Vec<Job<'_, K>> = jobs.iter().filter(|j| j.key != used.key).copied().collect();
        pending.push(used.after(t0));
        let Some(horizon) = pending.iter().map(|j| j.deadline).max() else {
            return true;
        };
        let horizon = horizon.min(t0 + delta(self.config.window) * 2);
        let mut cursor = t0 + pace;
        while cursor <= horizon {
            let ready = (0..pending.len())
                .filter(|&i| pending[i].release <= cursor)
                .min_by(|&a, &b| pending[a].order(&pending[b]));
            let Some(i) = ready else {
                match pending.iter().map(|j| j.release).min() {
                    Some(r) if r > cursor => {
                        cursor = r;
                        continue;
                    }
                    _ => break,
                }
            };
            if cursor > pending[i].deadline {
                return false;
            }
            pending[i] = pending[i].after(cursor);
            cursor += pace;
        }
        pending.iter().all(|j| j.deadline >= horizon.min(cursor))
    }

    /// Sending now would leave no room in the budget at `r`.
    fn would_fill_window(&self, r: At) -> bool {
        let from = r - delta(self.config.window);
        let held = self.sends.iter().filter(|s| **s > from).count() + 1;
        held >= self.config.requests.max(1) as usize
    }
}

/// The promise for an opening's first request: this long after the opening, by 12306's clock.
pub const ON_TIME: TimeDelta = TimeDelta::seconds(2);

/// One query's next request: when it may go, and by when it must.
struct Job<'a, K> {
    key: &'a K,
    release: At,
    deadline: At,
    priority: i8,
    phase: Phase,
    /// After a send at `s` the query's next job is due at `s + due_gap`, by `s + bound`.
    due_gap: TimeDelta,
    bound: TimeDelta,
}

// By hand: a derive would ask `K: Copy`, but a job only borrows its key.
impl<K> Clone for Job<'_, K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for Job<'_, K> {}

impl<K> Job<'_, K> {
    /// The query's following job, had this one been sent at `at`.
    fn after(&self, at: At) -> Self {
        Job {
            release: at + self.due_gap,
            deadline: at + self.bound,
            ..*self
        }
    }
}

impl<K: Ord> Job<'_, K> {
    /// Earliest deadline first; then higher priority; then the key, for reproducible runs.
    fn order(&self, other: &Self) -> std::cmp::Ordering {
        (self.deadline, -self.priority, self.key).cmp(&(other.deadline, -other.priority, other.key))
    }
}

/// What `check` says when a watch list needs more than the budget.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetWarning {
    /// Distinct queries.
    pub queries: usize,
    /// The fastest and slowest `every` among them.
    pub every: (Duration, Duration),
    /// Requests per window they ask for.
    pub need: u64,
    /// Requests per window the budget gives them.
    pub allows: u32,
    pub window: Duration,
    /// The interval a query asking for more than its share runs at (equal shares).
    pub about: Duration,
}

/// `None` when the queries' `every`s fit in the budget, else what to tell the user.
pub fn budget_warning(everies: &[Duration], config: &BudgetConfig) -> Option<BudgetWarning> {
    let (&fastest, &slowest) = (everies.iter().min()?, everies.iter().max()?);
    let window = secs(config.window);
    let need: f64 = everies.iter().map(|e| window / secs(*e).max(1e-3)).sum();
    let allows = config.requests.saturating_sub(config.reserve);
    if need <= f64::from(allows) + 1e-9 {
        return None;
    }
    let demands: Vec<f64> = everies.iter().map(|e| 1.0 / secs(*e).max(1e-3)).collect();
    let rates = fair_shares(&demands, &vec![1.0; everies.len()], config.capacity());
    // The level the limited queries share (they all get the same with equal weights).
    let level = demands
        .iter()
        .zip(&rates)
        .filter(|(d, r)| **r < **d * (1.0 - 1e-9))
        .map(|(_, r)| *r)
        .fold(f64::INFINITY, f64::min);
    let about = Duration::from_secs_f64((1.0 / level).min(1e9)).max(config.pace());
    Some(BudgetWarning {
        queries: everies.len(),
        every: (fastest, slowest),
        need: need.ceil() as u64,
        allows,
        window: config.window,
        about,
    })
}

impl fmt::Display for BudgetWarning {
    /// `36 queries every 30 s need 360 requests per 5 min; the budget allows 80: each query will
    /// run about every 2 min 15 s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (fastest, slowest) = self.every;
        let (noun, verb) = if self.queries == 1 {
            ("query", "needs")
        } else {
            ("queries", "need")
        };
        let every = if fastest == slowest {
            format!("every {}", human(fastest))
        } else {
            format!("(every {} to {})", human(fastest), human(slowest))
        };
        write!(
            f,
            "{} {noun} {every} {verb} {} requests per {}; the budget allows {}: ",
            self.queries,
            self.need,
            human(self.window),
            self.allows
        )?;
        if fastest == slowest || self.about >= slowest {
            write!(f, "each query will run about every {}", human(self.about))
        } else {
            write!(
                f,
                "queries asking for more will run about every {} (the others at their own pace)",
                human(self.about)
            )
        }
    }
}

/// `30 s`, `2 min 15 s`, `1 h 5 min`, `3.8 s`.
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 10_000 && !ms.is_multiple_of(1000) {
        return format!("{:.1} s", d.as_secs_f64());
    }
    let s = (ms + 500) / 1000;
    let (h, m, s) = (s / 3600, s % 3600 / 60, s % 60);
    match (h, m, s) {
        (0, 0, s) => format!("{s} s"),
        (0, m, 0) => format!("{m} min"),
        (0, m, s) => format!("{m} min {s} s"),
        (h, 0, _) => format!("{h} h"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests;
