//! Backing off when 12306 refuses: how long to wait ([`Backoff`]), and who is being refused — one
//! query, or the whole client ([`Throttle`]). Pure; the daemon holds one [`Throttle`].
//!
//! 12306 limits per address, so real throttling refuses *every* query and the whole client must
//! back off. But a single query can also be refused while the others are answered — a date that
//! 12306's clock already calls past (ours behind, or minutes around Beijing midnight) gets the same
//! 302 as a throttled client. Treating that as throttling backed the whole client off and, each
//! time the backoff ended, retried that same query first: the other watches were not polled for
//! minutes. So:
//! - every refusal backs off **that query** (its own level, doubling, capped, jittered);
//! - the **client** backs off only when refusals are client-wide: a second *distinct* query
//!   refused with no clean answer in between;
//! - any clean answer resets the client backoff and that query's own; other queries keep
//!   theirs until they are answered.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use chrono::{DateTime, FixedOffset};

/// One backoff: how many refusals in a row, and until when nothing is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backoff {
    /// 0 = healthy; n = the n-th consecutive throttled answer.
    pub level: u32,
    pub until: Option<DateTime<FixedOffset>>,
}

impl Backoff {
    /// The wait after the `level`-th consecutive throttle: `start · 2^(level-1)`, capped, with up
    /// to 25 % jitter below the cap (pure; `jitter01` in 0..1).
    pub fn delay(level: u32, start: Duration, max: Duration, jitter01: f64) -> Duration {
        let exp = start.saturating_mul(1u32 << level.saturating_sub(1).min(20));
        let base = exp.min(max);
        let jittered = base.mul_f64(0.75 + 0.25 * jitter01.clamp(0.0, 1.0));
        jittered.min(max)
    }
}

/// What a refusal means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Only this query is refused; it waits until then, everything else goes on.
    Query(Backoff),
    /// Refusals are client-wide: nothing is sent until then.
    Client(Backoff),
}

/// Refusal bookkeeping for the paced 12306 client.
#[derive(Debug, Clone, Default)]
pub struct Throttle {
    client: Backoff,
    queries: HashMap<String, Backoff>,
    /// Distinct queries refused since the last clean answer.
    refused: BTreeSet<String>,
}

impl Throttle {
    /// Records a refusal of `query` at `now`. `start`/`max` shape the delays, `jitter01` (0..1)
    /// spreads them.
    pub fn refused(
        &mut self,
        query: &str,
        now: DateTime<FixedOffset>,
        start: Duration,
        max: Duration,
        jitter01: f64,
    ) -> Verdict {
        let bump = |b: &mut Backoff| {
            b.level = b.level.saturating_add(1);
            let wait = Backoff::delay(b.level, start, max, jitter01);
            b.until = Some(now + chrono::TimeDelta::from_std(wait).unwrap_or_default());
            *b
        };
        let own = bump(self.queries.entry(query.to_string()).or_default());
        self.refused.insert(query.to_string());
        if self.refused.len() >= 2 {
            Verdict::Client(bump(&mut self.client))
        } else {
            Verdict::Query(own)
        }
    }

    /// Records a clean answer to `query`; returns the levels this ends: (client, the query's own).
    pub fn answered(&mut self, query: &str) -> (u32, u32) {
        let own = self.queries.remove(query).map_or(0, |b| b.level);
        self.refused.clear();
        let client = self.client.level;
        self.client = Backoff::default();
        (client, own)
    }

    /// Until when the client sends nothing, if it is backing off now.
    pub fn client_blocked(&self, now: DateTime<FixedOffset>) -> Option<DateTime<FixedOffset>> {
        self.client.until.filter(|u| *u > now)
    }

    /// Until when `query` waits, if it is backing off alone now.
    pub fn query_blocked(&self, query: &str, now: DateTime<FixedOffset>) -> Option<DateTime<FixedOffset>> {
        self.queries.get(query).and_then(|b| b.until).filter(|u| *u > now)
    }

    /// The backoff a watch of these queries is under: the client's or its worst query's.
    pub fn for_queries<'a>(&self, queries: impl IntoIterator<Item = &'a str>) -> Backoff {
        queries
            .into_iter()
            .filter_map(|q| self.queries.get(q).copied())
            .chain([self.client])
            .max_by_key(|b| (b.until, b.level))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    const S: Duration = Duration::from_secs(30);
    const M: Duration = Duration::from_secs(600);

    #[test]
    fn backoff_doubles_from_the_start_and_stops_at_the_cap() {
        let s = Duration::from_secs(30);
        let m = Duration::from_secs(600);
        assert_eq!(Backoff::delay(1, s, m, 1.0), s);
        assert_eq!(Backoff::delay(2, s, m, 1.0), Duration::from_secs(60));
        assert_eq!(Backoff::delay(3, s, m, 1.0), Duration::from_secs(120));
        assert_eq!(Backoff::delay(10, s, m, 1.0), m);
        assert_eq!(Backoff::delay(40, s, m, 1.0), m);
        let low = Backoff::delay(2, s, m, 0.0);
        assert_eq!(low, Duration::from_secs(45), "jitter takes at most a quarter off");
    }

    fn at(s: i64) -> DateTime<FixedOffset> {
        crate::clock::beijing()
            .with_ymd_and_hms(2026, 12, 4, 8, 0, 0)
            .unwrap()
            + chrono::TimeDelta::seconds(s)
    }

    #[test]
    fn a_query_refused_while_others_are_answered_backs_off_alone() {
        let mut t = Throttle::default();
        for round in 0..5 {
            let v = t.refused("past-date", at(round * 100), S, M, 1.0);
            assert!(
                matches!(v, Verdict::Query(b) if b.level == round as u32 + 1),
                "{v:?}"
            );
            assert_eq!(t.answered("other"), (0, 0), "the client never backed off");
            assert_eq!(t.client_blocked(at(round * 100)), None);
        }
        assert_eq!(t.query_blocked("other", at(500)), None);
        assert!(t.query_blocked("past-date", at(400)).is_some());
        assert_eq!(t.for_queries(["past-date"]).level, 5);
        assert_eq!(t.for_queries(["other"]), Backoff::default());
    }

    #[test]
    fn two_distinct_queries_refused_in_a_row_back_the_client_off() {
        let mut t = Throttle::default();
        assert!(matches!(t.refused("a", at(0), S, M, 1.0), Verdict::Query(_)));
        let v = t.refused("b", at(3), S, M, 1.0);
        assert_eq!(
            v,
            Verdict::Client(Backoff {
                level: 1,
                until: Some(at(33))
            })
        );
        assert!(matches!(t.refused("c", at(40), S, M, 1.0), Verdict::Client(b) if b.level == 2));
        assert!(t.client_blocked(at(41)).is_some());
        assert_eq!(
            t.answered("c"),
            (2, 1),
            "a clean answer ends the client backoff and c's own"
        );
        assert_eq!(t.client_blocked(at(41)), None);
        assert!(t.query_blocked("a", at(41)).is_none(), "a's own 30 s are over");
        assert!(
            t.query_blocked("b", at(20)).is_some(),
            "b keeps its own until answered"
        );
    }

    #[test]
    fn the_same_query_refused_again_is_still_only_that_query() {
        let mut t = Throttle::default();
        t.refused("a", at(0), S, M, 1.0);
        assert!(matches!(t.refused("a", at(40), S, M, 1.0), Verdict::Query(b) if b.level == 2));
        assert_eq!(t.answered("a"), (0, 2));
        assert_eq!(t.for_queries(["a"]), Backoff::default());
    }
}
