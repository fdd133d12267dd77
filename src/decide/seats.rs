//! 余票: when to tell the user — the pure core between "what this poll saw" and "what to store and
//! send".
//!
//! Alerts fire on *transitions*, never on every poll, and this module is where that rule lives so it
//! can be tested without a database, a clock or a network. [`decide`] compares one poll of one
//! (watch, date) with the stored [`Previous`] state and returns a [`Decision`]: which seat states
//! changed (history rows), which seats to put in one alert email, and which per-train alert times to
//! move. The store writes the whole decision in one transaction, so an alert is sent exactly when
//! its state says it was.
//!
//! The rules, per (watch, date, train, seat class):
//! - a seat that becomes available (enough seats for the watch's passengers on a bookable train)
//!   starts an *availability episode*; the first poll of a new watch counts too;
//! - each episode is alerted once (the `alerted` flag), however its count moves afterwards;
//! - two alerts for the same (watch, date, train) are at least `min_gap` apart; an episode that
//!   starts inside the gap is deferred, and fires on the first poll after the gap if it is still
//!   available;
//! - a seat known before but missing from a successful poll (train gone, class no longer sold)
//!   becomes *gone* (raw `""`);
//! - everything one poll makes alertable goes into one alert (one email).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta};

use crate::filter::{SeatMatch, TrainMatch};
use crate::seat::SeatClass;

/// Identifies one seat class of one train on one date, within a watch.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeatKey {
    pub date: NaiveDate,
    /// Train code as 12306 prints it (`G8294`).
    pub train: String,
    pub seat: SeatClass,
}

/// What is known about one seat after the last poll that saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatState {
    /// Raw cell text (`有`, `无`, `3`, `*`); `""` once the seat is gone from the page.
    pub raw: String,
    /// Integer seats left, as in [`SeatMatch::count`].
    pub count: Option<u32>,
    pub price_jiao: Option<u32>,
    /// Enough seats for the watch's passengers on a bookable train.
    pub available: bool,
    /// This availability episode has been alerted (false whenever `available` is false).
    pub alerted: bool,
    /// When the observed values last changed.
    pub since: DateTime<FixedOffset>,
}

impl SeatState {
    /// The state of a seat that a successful poll no longer shows.
    pub fn gone(since: DateTime<FixedOffset>) -> SeatState {
        SeatState {
            raw: String::new(),
            count: None,
            price_jiao: None,
            available: false,
            alerted: false,
            since,
        }
    }

    /// The train or the class is no longer on the page.
    pub fn is_gone(&self) -> bool {
        self.raw.is_empty()
    }

    /// Same observed values (the `alerted` flag and `since` are ours, not observed).
    fn observes_same(&self, seat: &SeatMatch) -> bool {
        self.raw == seat.raw
            && self.count == seat.count
            && self.price_jiao == seat.price_jiao
            && self.available == seat.available
    }
}

/// The stored state of one (watch, date) before a poll.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Previous {
    pub seats: HashMap<SeatKey, SeatState>,
    /// When the last alert for each (date, train) was queued.
    pub last_alert: HashMap<(NaiveDate, String), DateTime<FixedOffset>>,
}

impl Previous {
    /// Folds a decision in, exactly as the store does; for callers that keep state in memory
    /// (and for tests).
    pub fn apply(&mut self, decision: &Decision, now: DateTime<FixedOffset>) {
        for (key, state) in decision.changes.iter().chain(&decision.touched) {
            self.seats.insert(key.clone(), state.clone());
        }
        for train in &decision.alerted_trains {
            self.last_alert.insert(train.clone(), now);
        }
    }
}

/// What one poll of one (watch, date) means.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    /// New states whose observed values differ from before: each is a history row.
    pub changes: Vec<(SeatKey, SeatState)>,
    /// Trains carrying only the seats to alert about, in page order, seats in the watch's
    /// priority order. Empty = no email.
    pub alert: Vec<TrainMatch>,
    /// (date, train) whose last alert time becomes `now`.
    pub alerted_trains: Vec<(NaiveDate, String)>,
    /// State updates without a history row (a deferred alert firing sets `alerted`).
    pub touched: Vec<(SeatKey, SeatState)>,
}

impl Decision {
    /// Nothing to write but the poll time.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
            && self.alert.is_empty()
            && self.alerted_trains.is_empty()
            && self.touched.is_empty()
    }
}

/// Compares one successful poll of (watch, `date`) with `prev`; see the module docs for the rules.
///
/// `observed` is what the filter kept for this date; trains listed twice count once (first wins).
pub fn decide(
    prev: &Previous,
    date: NaiveDate,
    observed: &[TrainMatch],
    now: DateTime<FixedOffset>,
    min_gap: Duration,
) -> Decision {
    let gap = TimeDelta::from_std(min_gap).unwrap_or(TimeDelta::MAX);
    let mut decision = Decision::default();
    let mut seen: HashSet<SeatKey> = HashSet::new();

    for train in observed {
        // (key, new state, observed values changed, the seat as seen)
        let mut seats: Vec<(SeatKey, SeatState, bool, &SeatMatch)> = Vec::new();
        for seat in &train.seats {
            let key = SeatKey {
                date,
                train: train.station_train_code.clone(),
                seat: seat.seat,
            };
            if !seen.insert(key.clone()) {
                continue;
            }
            let before = prev.seats.get(&key);
            let changed = before.is_none_or(|b| !b.observes_same(seat));
            let state = SeatState {
                raw: seat.raw.clone(),
                count: seat.count,
                price_jiao: seat.price_jiao,
                available: seat.available,
                alerted: seat.available && before.is_some_and(|b| b.available && b.alerted),
                since: match before {
                    Some(b) if !changed => b.since,
                    _ => now,
                },
            };
            seats.push((key, state, changed, seat));
        }

        let wants_alert = seats.iter().any(|(_, s, _, _)| s.available && !s.alerted);
        let train_key = (date, train.station_train_code.clone());
        let gap_over = prev
            .last_alert
            .get(&train_key)
            .is_none_or(|&last| now - last >= gap);
        let fire = wants_alert && gap_over;

        let mut alert_seats = Vec::new();
        for (key, mut state, changed, seat) in seats {
            let mut flagged = false;
            if fire && state.available && !state.alerted {
                state.alerted = true;
                flagged = true;
                alert_seats.push(seat.clone());
            }
            if changed {
                decision.changes.push((key, state));
            } else if flagged {
                decision.touched.push((key, state));
            }
        }
        if fire {
            decision.alert.push(TrainMatch {
                seats: alert_seats,
                ..train.clone()
            });
            decision.alerted_trains.push(train_key);
        }
    }

    let mut gone: Vec<&SeatKey> = prev
        .seats
        .iter()
        .filter(|(k, s)| k.date == date && !s.is_gone() && !seen.contains(*k))
        .map(|(k, _)| k)
        .collect();
    gone.sort();
    for key in gone {
        decision.changes.push((key.clone(), SeatState::gone(now)));
    }
    decision
}

#[cfg(test)]
pub(crate) mod tests {
    //! Also the trains the store's tests record.

    use super::*;
    use chrono::TimeZone;

    const GAP: Duration = Duration::from_secs(600);

    pub(crate) fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 2, 1).unwrap()
    }

    /// Minutes after 2026-01-20 08:00 Beijing time.
    fn at(min: i64) -> DateTime<FixedOffset> {
        FixedOffset::east_opt(8 * 3600)
            .unwrap()
            .with_ymd_and_hms(2026, 1, 20, 8, 0, 0)
            .unwrap()
            + TimeDelta::minutes(min)
    }

    /// A cell as the filter reports it for a watch of `passengers` people.
    fn seat(class: SeatClass, raw: &str, passengers: u32) -> SeatMatch {
        let count = match raw {
            "有" | "*" => None,
            "无" => Some(0),
            n => n.parse().ok(),
        };
        let available = match raw {
            "有" => true,
            "无" | "*" => false,
            _ => count.unwrap_or(0) >= passengers,
        };
        SeatMatch {
            seat: class,
            raw: raw.into(),
            count,
            price_jiao: Some(5530),
            available,
        }
    }

    pub(crate) fn train(code: &str, seats: Vec<SeatMatch>) -> TrainMatch {
        TrainMatch {
            date: date(),
            station_train_code: code.into(),
            from_station: "VNP".into(),
            to_station: "AOH".into(),
            from_name: "北京南".into(),
            to_name: "上海虹桥".into(),
            start_time: "14:44".into(),
            arrive_time: "19:53".into(),
            lishi: "05:09".into(),
            bookable: true,
            seats,
            sale_time: None,
        }
    }

    /// Runs a sequence of polls, returning each decision (state carried over like the store does).
    fn polls(steps: &[(i64, Vec<TrainMatch>)]) -> Vec<Decision> {
        let mut prev = Previous::default();
        steps
            .iter()
            .map(|(min, obs)| {
                let d = decide(&prev, date(), obs, at(*min), GAP);
                prev.apply(&d, at(*min));
                d
            })
            .collect()
    }

    fn second(raw: &str) -> Vec<TrainMatch> {
        vec![train("G1", vec![seat(SeatClass::Second, raw, 1)])]
    }

    #[test]
    fn first_poll_with_seats_available_alerts() {
        let d = &polls(&[(0, second("3"))])[0];
        assert_eq!(d.alert.len(), 1);
        assert_eq!(d.alert[0].seats[0].raw, "3");
        assert_eq!(d.alerted_trains, vec![(date(), "G1".to_string())]);
        assert_eq!(d.changes.len(), 1);
        assert!(d.changes[0].1.alerted);
    }

    #[test]
    fn first_poll_with_nothing_available_records_state_without_alert() {
        let d = &polls(&[(0, second("无"))])[0];
        assert!(d.alert.is_empty());
        assert_eq!(d.changes.len(), 1);
        assert!(!d.changes[0].1.alerted);
    }

    #[test]
    fn staying_available_gives_no_alert_and_no_changes() {
        let ds = polls(&[(0, second("有")), (1, second("有")), (60, second("有"))]);
        assert!(ds[1].is_empty(), "{:?}", ds[1]);
        assert!(ds[2].is_empty(), "{:?}", ds[2]);
    }

    #[test]
    fn count_three_to_five_is_a_change_but_not_a_new_alert() {
        let ds = polls(&[(0, second("3")), (1, second("5"))]);
        assert!(ds[1].alert.is_empty());
        assert_eq!(ds[1].changes.len(), 1);
        let (_, s) = &ds[1].changes[0];
        assert_eq!((s.count, s.alerted, s.since), (Some(5), true, at(1)));
    }

    #[test]
    fn unchanged_state_keeps_its_since_time() {
        let mut prev = Previous::default();
        let d = decide(&prev, date(), &second("无"), at(0), GAP);
        prev.apply(&d, at(0));
        let d = decide(&prev, date(), &second("无"), at(5), GAP);
        assert!(d.is_empty());
        assert_eq!(prev.seats.values().next().unwrap().since, at(0));
    }

    #[test]
    fn back_within_the_gap_is_deferred_then_fires_after_the_gap() {
        let ds = polls(&[
            (0, second("有")),
            (2, second("无")),
            (4, second("有")),  // inside the 10-minute gap: deferred
            (8, second("有")),  // still inside
            (11, second("有")), // gap over, still available: fires
            (12, second("有")),
        ]);
        assert_eq!(ds[0].alert.len(), 1);
        assert!(ds[1].alert.is_empty());
        assert!(ds[2].alert.is_empty());
        assert_eq!(ds[2].changes.len(), 1, "the return is still history");
        assert!(!ds[2].changes[0].1.alerted);
        assert!(ds[3].is_empty(), "{:?}", ds[3]);
        assert_eq!(ds[4].alert.len(), 1);
        assert!(ds[4].changes.is_empty(), "no observed change at 11");
        assert_eq!(ds[4].touched.len(), 1);
        assert!(ds[4].touched[0].1.alerted);
        assert_eq!(ds[4].touched[0].1.since, at(4));
        assert!(ds[5].is_empty());
    }

    #[test]
    fn deferred_alert_is_dropped_if_seats_go_before_the_gap_ends() {
        let ds = polls(&[
            (0, second("有")),
            (2, second("无")),
            (4, second("有")),
            (6, second("无")),
            (11, second("无")),
        ]);
        assert!(ds.iter().skip(1).all(|d| d.alert.is_empty()));
    }

    #[test]
    fn back_after_the_gap_alerts_again() {
        let ds = polls(&[(0, second("2")), (5, second("无")), (20, second("1"))]);
        assert_eq!(ds[2].alert.len(), 1);
        assert_eq!(ds[2].alert[0].seats[0].raw, "1");
    }

    #[test]
    fn several_seats_and_trains_in_one_poll_make_one_alert() {
        let obs = vec![
            train(
                "G1",
                vec![
                    seat(SeatClass::Second, "有", 1),
                    seat(SeatClass::First, "无", 1),
                    seat(SeatClass::Business, "2", 1),
                ],
            ),
            train("G3", vec![seat(SeatClass::Second, "无", 1)]),
            train("G5", vec![seat(SeatClass::Second, "7", 1)]),
        ];
        let d = &polls(&[(0, obs)])[0];
        let codes: Vec<_> = d.alert.iter().map(|t| t.station_train_code.as_str()).collect();
        assert_eq!(codes, ["G1", "G5"]);
        let g1: Vec<_> = d.alert[0].seats.iter().map(|s| s.seat).collect();
        assert_eq!(
            g1,
            [SeatClass::Second, SeatClass::Business],
            "priority order kept"
        );
        assert_eq!(d.alerted_trains.len(), 2);
        assert_eq!(d.changes.len(), 5);
    }

    #[test]
    fn unavailable_seats_never_alert() {
        let obs = vec![train(
            "G1",
            vec![
                seat(SeatClass::Second, "无", 2),
                seat(SeatClass::First, "*", 2),
                seat(SeatClass::Business, "1", 2), // fewer than the 2 passengers
            ],
        )];
        let ds = polls(&[(0, obs.clone()), (30, obs)]);
        assert!(ds[0].alert.is_empty());
        assert!(ds[0].changes.iter().all(|(_, s)| !s.alerted));
        assert!(ds[1].is_empty());
    }

    #[test]
    fn a_seat_that_disappears_changes_to_gone_once() {
        let both = vec![
            train("G1", vec![seat(SeatClass::Second, "无", 1)]),
            train("G3", vec![seat(SeatClass::Second, "有", 1)]),
        ];
        let only_g1 = vec![train("G1", vec![seat(SeatClass::Second, "无", 1)])];
        let ds = polls(&[(0, both), (1, only_g1.clone()), (2, only_g1)]);
        assert_eq!(ds[1].changes.len(), 1);
        let (k, s) = &ds[1].changes[0];
        assert_eq!(k.train, "G3");
        assert!(s.is_gone() && !s.available && !s.alerted);
        assert!(ds[2].is_empty(), "already gone: no second history row");
    }

    #[test]
    fn a_gone_seat_that_returns_available_alerts_subject_to_the_gap() {
        let ds = polls(&[(0, second("有")), (1, vec![]), (30, second("有"))]);
        assert!(ds[1].changes[0].1.is_gone());
        assert_eq!(ds[2].alert.len(), 1);
    }

    #[test]
    fn other_dates_in_previous_are_not_marked_gone() {
        let mut prev = Previous::default();
        let other = NaiveDate::from_ymd_opt(2026, 2, 2).unwrap();
        let key = SeatKey {
            date: other,
            train: "G1".into(),
            seat: SeatClass::Second,
        };
        let state = SeatState {
            raw: "无".into(),
            count: Some(0),
            ..SeatState::gone(at(0))
        };
        prev.seats.insert(key, state);
        assert!(decide(&prev, date(), &[], at(1), GAP).is_empty());
    }

    #[test]
    fn the_gap_is_per_train() {
        let g1 = train("G1", vec![seat(SeatClass::Second, "有", 1)]);
        let g3 = train("G3", vec![seat(SeatClass::Second, "有", 1)]);
        let ds = polls(&[(0, vec![g1.clone()]), (1, vec![g1, g3])]);
        assert_eq!(ds[1].alert.len(), 1);
        assert_eq!(ds[1].alert[0].station_train_code, "G3");
    }
}
