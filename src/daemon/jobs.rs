//! When each watch and `[[waitlist]]` runs: the schedule of every [`JobKey`], the set of keys due
//! now, and the ticker that moves keys from one to the other.
//!
//! The scheduler only marks keys *due*; the poller takes the whole due set at once, so a key never
//! runs twice at the same time and a slow cycle never piles up queued runs. `every` schedules
//! tick every period from when the key was added; cron schedules (6 fields, seconds first) tick
//! at their times in Beijing time. Ticks are computed, not queued: a thousand watches cost a map
//! entry each and one timer, and no tick is ever dropped. A key may also have an opening burst
//! ([`Burst`], issue 12): extra ticks from just after a date's 起售 moment, at the budget's pace,
//! for a while.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::clock;
pub use crate::store::JobKey;
use crate::watchlist::Schedule;

/// The longest the ticker sleeps before it looks at the clock again (so a clock that jumps, or
/// a suspended machine, never delays a tick by more than this).
const LONGEST_SLEEP: Duration = Duration::from_secs(30);

/// A schedule that cannot be run.
#[derive(Debug, thiserror::Error)]
#[error("cannot schedule {key}: {detail}")]
pub struct ScheduleError {
    key: JobKey,
    detail: String,
}

/// How a key's next tick is found.
#[derive(Debug, Clone)]
enum Rule {
    Every(chrono::TimeDelta),
    Cron(Box<Cron>),
}

impl Rule {
    fn of(key: &JobKey, schedule: &Schedule) -> Result<Rule, ScheduleError> {
        let error = |detail: String| ScheduleError {
            key: key.clone(),
            detail,
        };
        match schedule {
            Schedule::Every(d) => match chrono::TimeDelta::from_std(*d) {
                Ok(d) if d > chrono::TimeDelta::zero() => Ok(Rule::Every(d)),
                _ => Err(error(format!("every {d:?} is not a period"))),
            },
            Schedule::Cron(expr) => CronParser::builder()
                .seconds(Seconds::Required)
                .dom_and_dow(true)
                .build()
                .parse(expr)
                .map(|c| Rule::Cron(Box::new(c)))
                .map_err(|e| error(format!("cron {expr:?}: {e}"))),
        }
    }

    /// The first tick strictly after `after`, given the previous tick `last` (Beijing time).
    fn next(
        &self,
        last: DateTime<FixedOffset>,
        after: DateTime<FixedOffset>,
    ) -> Option<DateTime<FixedOffset>> {
        match self {
            Rule::Every(d) => {
                let mut t = last + *d;
                if t <= after {
                    // Behind (a long cycle, a suspended machine): skip the missed ticks.
                    let missed = (after - t).num_milliseconds() / d.num_milliseconds().max(1) + 1;
                    t += *d * i32::try_from(missed).unwrap_or(i32::MAX);
                }
                Some(t)
            }
            Rule::Cron(c) => {
                let local = after.with_timezone(&chrono_tz::Asia::Shanghai);
                let next = c.find_next_occurrence(&local, false).ok()?;
                Some(next.with_timezone(&clock::beijing()))
            }
        }
    }
}

#[derive(Debug)]
struct Entry {
    rule: Rule,
    next: Option<DateTime<FixedOffset>>,
}

/// Extra ticks around a 起售 opening: the first at `next` (just after the opening by 12306's
/// clock, converted to ours), then every `pace` until `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Burst {
    pub next: DateTime<FixedOffset>,
    pub pace: chrono::TimeDelta,
    pub until: DateTime<FixedOffset>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<JobKey, Entry>,
    /// At most one opening burst per key, on top of its schedule.
    bursts: HashMap<JobKey, Burst>,
    due: BTreeSet<JobKey>,
}

/// The schedules and the due set.
#[derive(Debug, Default)]
pub struct Jobs {
    inner: Mutex<Inner>,
    /// Something became due.
    due_now: Notify,
    /// The schedules changed: the ticker recomputes its sleep.
    changed: Notify,
}

impl Jobs {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Schedules `key` from `now` on (replacing any schedule it had).
    pub fn add(
        &self,
        key: &JobKey,
        schedule: &Schedule,
        now: DateTime<FixedOffset>,
    ) -> Result<(), ScheduleError> {
        let rule = Rule::of(key, schedule)?;
        let next = rule.next(now, now);
        self.inner().entries.insert(key.clone(), Entry { rule, next });
        self.changed.notify_one();
        Ok(())
    }

    /// Stops scheduling `key` (a due tick already taken still runs).
    pub fn remove(&self, key: &JobKey) {
        let mut inner = self.inner();
        inner.entries.remove(key);
        inner.bursts.remove(key);
        inner.due.remove(key);
    }

    /// Gives `key` an opening burst (replacing one it had, unless it is the same burst already
    /// under way: its progress is kept).
    pub fn burst(&self, key: &JobKey, burst: Burst) {
        let mut inner = self.inner();
        let same = inner
            .bursts
            .get(key)
            .is_some_and(|b| b.until == burst.until && b.pace == burst.pace);
        if !same && inner.entries.contains_key(key) {
            inner.bursts.insert(key.clone(), burst);
            drop(inner);
            self.changed.notify_one();
        }
    }

    /// The burst `key` has (to come or under way).
    pub fn burst_of(&self, key: &JobKey) -> Option<Burst> {
        self.inner().bursts.get(key).copied()
    }

    /// When `key` runs next.
    pub fn next_run(&self, key: &JobKey) -> Option<DateTime<FixedOffset>> {
        self.inner().entries.get(key).and_then(|e| e.next)
    }

    /// Marks `keys` due now.
    pub fn mark_due<I: IntoIterator<Item = JobKey>>(&self, keys: I) {
        self.inner().due.extend(keys);
        self.due_now.notify_one();
    }

    pub fn has_due(&self) -> bool {
        !self.inner().due.is_empty()
    }

    /// Takes every due key.
    pub fn take_due(&self) -> Vec<JobKey> {
        std::mem::take(&mut self.inner().due).into_iter().collect()
    }

    /// Waits until something is marked due (or was, since the last wait).
    pub async fn due(&self) {
        self.due_now.notified().await;
    }

    /// Marks due every key whose tick has come and moves its tick on; returns the earliest
    /// tick left.
    fn tick(&self, now: DateTime<FixedOffset>) -> Option<DateTime<FixedOffset>> {
        let mut guard = self.inner();
        let inner = &mut *guard;
        let mut fired = false;
        for (key, e) in inner.entries.iter_mut() {
            if let Some(t) = e.next.filter(|t| *t <= now) {
                inner.due.insert(key.clone());
                e.next = e.rule.next(t, now);
                fired = true;
            }
        }
        inner.bursts.retain(|key, b| {
            if b.next <= now {
                inner.due.insert(key.clone());
                fired = true;
                let missed = (now - b.next).num_milliseconds() / b.pace.num_milliseconds().max(1) + 1;
                b.next += b.pace * i32::try_from(missed).unwrap_or(i32::MAX);
            }
            b.next < b.until
        });
        if fired {
            self.due_now.notify_one();
        }
        let bursts = inner.bursts.values().map(|b| b.next);
        inner.entries.values().filter_map(|e| e.next).chain(bursts).min()
    }

    /// The ticker: marks keys due at their times until `shutdown`.
    pub async fn run(&self, shutdown: CancellationToken) {
        loop {
            let now = clock::now();
            let wait = self
                .tick(now)
                .and_then(|t| (t - now).to_std().ok())
                .unwrap_or(LONGEST_SLEEP)
                .min(LONGEST_SLEEP);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.changed.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn at(h: u32, m: u32, s: u32) -> DateTime<FixedOffset> {
        clock::beijing().with_ymd_and_hms(2026, 12, 4, h, m, s).unwrap()
    }

    #[test]
    fn an_every_schedule_ticks_each_period_and_skips_missed_ticks() {
        let jobs = Jobs::default();
        let w = JobKey::watch("w");
        jobs.add(&w, &Schedule::Every(Duration::from_secs(30)), at(8, 0, 0))
            .unwrap();
        assert_eq!(jobs.next_run(&w), Some(at(8, 0, 30)));
        assert_eq!(jobs.tick(at(8, 0, 29)), Some(at(8, 0, 30)));
        assert!(!jobs.has_due());
        assert_eq!(jobs.tick(at(8, 0, 30)), Some(at(8, 1, 0)));
        assert_eq!(jobs.take_due(), std::slice::from_ref(&w));
        // Two minutes late: one tick, and the next one in step with the period.
        assert_eq!(jobs.tick(at(8, 3, 10)), Some(at(8, 3, 30)));
        assert_eq!(jobs.take_due(), [w]);
    }

    #[test]
    fn a_cron_schedule_ticks_at_its_times_in_beijing_time() {
        let jobs = Jobs::default();
        let k = JobKey::waitlist("候补");
        jobs.add(&k, &Schedule::Cron("0 0 8,20 * * *".into()), at(7, 0, 0))
            .unwrap();
        assert_eq!(jobs.next_run(&k), Some(at(8, 0, 0)));
        assert_eq!(jobs.tick(at(8, 0, 0)), Some(at(20, 0, 0)));
        assert_eq!(jobs.take_due(), [k]);
    }

    #[test]
    fn an_opening_burst_ticks_at_its_pace_on_top_of_the_schedule_and_ends() {
        let jobs = Jobs::default();
        let w = JobKey::watch("w");
        jobs.add(&w, &Schedule::Every(Duration::from_secs(600)), at(13, 25, 0))
            .unwrap();
        let pace = chrono::TimeDelta::seconds(4);
        let burst = Burst {
            next: at(13, 30, 1),
            pace,
            until: at(13, 30, 13),
        };
        jobs.burst(&w, burst);
        assert_eq!(jobs.tick(at(13, 30, 0)), Some(at(13, 30, 1)));
        assert!(!jobs.has_due(), "nothing before the opening");
        assert_eq!(jobs.tick(at(13, 30, 1)), Some(at(13, 30, 5)));
        assert_eq!(jobs.take_due(), std::slice::from_ref(&w));
        // The same burst planned again keeps its progress.
        jobs.burst(&w, burst);
        assert_eq!(jobs.burst_of(&w).unwrap().next, at(13, 30, 5));
        assert_eq!(jobs.tick(at(13, 30, 5)), Some(at(13, 30, 9)));
        assert_eq!(jobs.take_due(), std::slice::from_ref(&w));
        // The last tick before `until`, then back to `every`.
        assert_eq!(jobs.tick(at(13, 30, 9)), Some(at(13, 35, 0)));
        assert_eq!(jobs.take_due(), std::slice::from_ref(&w));
        assert_eq!(jobs.burst_of(&w), None);
        // A key that is not scheduled gets no burst.
        jobs.burst(&JobKey::watch("gone"), burst);
        assert_eq!(jobs.burst_of(&JobKey::watch("gone")), None);
    }

    #[test]
    fn removed_and_unparseable_schedules_never_tick() {
        let jobs = Jobs::default();
        let w = JobKey::watch("w");
        jobs.add(&w, &Schedule::Every(Duration::from_secs(5)), at(8, 0, 0))
            .unwrap();
        jobs.mark_due([w.clone()]);
        jobs.remove(&w);
        assert_eq!(jobs.tick(at(9, 0, 0)), None);
        assert!(jobs.take_due().is_empty());
        assert!(
            jobs.add(&w, &Schedule::Cron("not a cron".into()), at(8, 0, 0))
                .is_err()
        );
    }
}
