//! Quiet hours: when a channel keeps still, and what happens to a push that falls inside them.
//!
//! `quiet = "23:00-07:00"` on a channel is a Beijing-time window (it may wrap midnight; the start
//! is inside it, the end is not). The rules, decided here once and purely ([`decide`]):
//! - outside quiet hours everything is delivered at once;
//! - an **urgent** push (a 候补 payment deadline) ignores quiet hours: missing it loses the order;
//! - a test push (`yupiao test-notify`) is asked for by a person who is awake: delivered;
//! - anything else inside quiet hours is **held until the window ends**;
//! - when a held **seat alert** comes due it is **dropped if the seats are gone** by then (an
//!   alert that is no longer true would send the user to a sold-out train); held 候补 and 抢票
//!   state changes are always delivered, because they stay true (the order did change state).
//!
//! The sender asks again when the hold ends, passing whether the alert is still true then; the
//! decision only needs the time the push was queued to know that it was held.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, FixedOffset, NaiveTime, TimeZone};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::message::PushEvent;
use crate::clock::beijing;

/// A daily Beijing-time window, `start` inclusive, `end` exclusive; wraps midnight when
/// `end < start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    start: NaiveTime,
    end: NaiveTime,
}

/// Why a `quiet` value cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuietParseError {
    #[error("quiet hours {0:?} are not of the form \"HH:MM-HH:MM\" (Beijing time, e.g. \"23:00-07:00\")")]
    Format(String),
    #[error("quiet hours {0:?} start and end at the same time: leave `quiet` out for no quiet hours")]
    Empty(String),
}

impl QuietHours {
    /// `start` inclusive, `end` exclusive, both Beijing time; `None` when they are equal.
    pub fn new(start: NaiveTime, end: NaiveTime) -> Option<QuietHours> {
        (start != end).then_some(QuietHours { start, end })
    }

    /// `now` (any offset) falls inside the window, judged in Beijing time.
    pub fn contains(&self, now: DateTime<FixedOffset>) -> bool {
        let t = now.with_timezone(&beijing()).time();
        if self.start < self.end {
            self.start <= t && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }

    /// The first end of the window at or after `now` (Beijing time): when a push held at `now`
    /// may go out.
    pub fn next_end(&self, now: DateTime<FixedOffset>) -> DateTime<FixedOffset> {
        let local = now.with_timezone(&beijing());
        let today_end = local.date_naive().and_time(self.end);
        let end = if local.naive_local() < today_end {
            today_end
        } else {
            today_end + Duration::days(1)
        };
        beijing()
            .from_local_datetime(&end)
            .single()
            .expect("+08:00 has no gaps or folds")
    }
}

impl FromStr for QuietHours {
    type Err = QuietParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || QuietParseError::Format(s.to_string());
        let (a, b) = s.trim().split_once('-').ok_or_else(bad)?;
        let time = |x: &str| {
            let x = x.trim();
            // `%H:%M` alone also takes `7:5`; insist on the documented two-digit form.
            if x.len() != 5 {
                return None;
            }
            NaiveTime::parse_from_str(x, "%H:%M").ok()
        };
        let (start, end) = (time(a).ok_or_else(bad)?, time(b).ok_or_else(bad)?);
        QuietHours::new(start, end).ok_or_else(|| QuietParseError::Empty(s.to_string()))
    }
}

impl fmt::Display for QuietHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start.format("%H:%M"), self.end.format("%H:%M"))
    }
}

impl Serialize for QuietHours {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for QuietHours {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What to do with a push now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuietDecision {
    Deliver,
    /// Ask again at this time (the end of the quiet window).
    HoldUntil(DateTime<FixedOffset>),
    /// A held seat alert whose seats are gone: never send it.
    Drop,
}

/// The quiet-hours rule (module docs) for one push on one channel.
///
/// `queued_at` is when the push was queued (the outbox row's creation), `now` the time of this
/// attempt; `still_true` whether the alert still holds now (for seat alerts: the seats are still
/// available; callers may pass `true` for other events, it is only read for held seat alerts).
pub fn decide(
    quiet: Option<&QuietHours>,
    event: PushEvent,
    urgent: bool,
    queued_at: DateTime<FixedOffset>,
    now: DateTime<FixedOffset>,
    still_true: bool,
) -> QuietDecision {
    let Some(q) = quiet else {
        return QuietDecision::Deliver;
    };
    if urgent || event == PushEvent::Test {
        return QuietDecision::Deliver;
    }
    if q.contains(now) {
        return QuietDecision::HoldUntil(q.next_end(now));
    }
    // Queued inside a window that is over now: it was held.
    let was_held = q.contains(queued_at) && now >= q.next_end(queued_at);
    if was_held && event == PushEvent::Seats && !still_true {
        return QuietDecision::Drop;
    }
    QuietDecision::Deliver
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> QuietHours {
        s.parse().unwrap()
    }

    /// 2026-12-04 (Beijing) at `hh:mm`, plus `days`.
    fn bj(days: i64, hh: u32, mm: u32) -> DateTime<FixedOffset> {
        beijing().with_ymd_and_hms(2026, 12, 4, hh, mm, 0).unwrap() + Duration::days(days)
    }

    /// A seat alert under quiet hours 23:00–07:00, queued at `queued` and looked at `now`, the
    /// seats still there or gone.
    fn seat_alert(
        queued: DateTime<FixedOffset>,
        now: DateTime<FixedOffset>,
        seats_left: bool,
    ) -> QuietDecision {
        decide(
            Some(&q("23:00-07:00")),
            PushEvent::Seats,
            false,
            queued,
            now,
            seats_left,
        )
    }

    #[test]
    fn quiet_hours_parse_print_and_reject_bad_forms() {
        assert_eq!(q("23:00-07:00").to_string(), "23:00-07:00");
        assert_eq!(q(" 12:30 - 13:45 ").to_string(), "12:30-13:45");
        for bad in [
            "",
            "23:00",
            "23-07",
            "23:00-7:00",
            "24:00-07:00",
            "23:00-07:60",
            "a-b",
        ] {
            assert!(
                matches!(bad.parse::<QuietHours>(), Err(QuietParseError::Format(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            "07:00-07:00".parse::<QuietHours>(),
            Err(QuietParseError::Empty(_))
        ));
        let json = serde_json::to_string(&q("23:00-07:00")).unwrap();
        assert_eq!(json, "\"23:00-07:00\"");
        assert_eq!(
            serde_json::from_str::<QuietHours>(&json).unwrap(),
            q("23:00-07:00")
        );
    }

    #[test]
    fn a_window_across_midnight_contains_both_sides_and_excludes_its_end() {
        let w = q("23:00-07:00");
        assert!(!w.contains(bj(0, 22, 59)));
        assert!(w.contains(bj(0, 23, 0)));
        assert!(w.contains(bj(0, 23, 59)));
        assert!(w.contains(bj(1, 0, 0)));
        assert!(w.contains(bj(1, 6, 59)));
        assert!(!w.contains(bj(1, 7, 0)));
        assert!(!w.contains(bj(1, 12, 0)));
    }

    #[test]
    fn a_daytime_window_does_not_wrap() {
        let w = q("12:00-14:00");
        assert!(!w.contains(bj(0, 11, 59)));
        assert!(w.contains(bj(0, 12, 0)));
        assert!(!w.contains(bj(0, 14, 0)));
        assert!(!w.contains(bj(0, 23, 0)));
    }

    #[test]
    fn windows_are_judged_in_beijing_time_whatever_the_offset_of_now() {
        let w = q("23:00-07:00");
        // 15:30 UTC = 23:30 Beijing.
        let utc = FixedOffset::east_opt(0)
            .unwrap()
            .with_ymd_and_hms(2026, 12, 4, 15, 30, 0)
            .unwrap();
        assert!(w.contains(utc));
        assert_eq!(w.next_end(utc), bj(1, 7, 0));
    }

    #[test]
    fn the_hold_ends_at_the_next_end_of_the_window() {
        let w = q("23:00-07:00");
        assert_eq!(w.next_end(bj(0, 23, 30)), bj(1, 7, 0));
        assert_eq!(w.next_end(bj(1, 2, 0)), bj(1, 7, 0));
        assert_eq!(w.next_end(bj(1, 7, 0)), bj(2, 7, 0));
    }

    #[test]
    fn without_quiet_hours_everything_is_delivered() {
        for event in [PushEvent::Seats, PushEvent::Waitlist, PushEvent::Order] {
            assert_eq!(
                decide(None, event, false, bj(0, 23, 30), bj(0, 23, 30), false),
                QuietDecision::Deliver
            );
        }
    }

    #[test]
    fn a_seat_alert_at_night_is_held_until_the_morning() {
        let night = bj(0, 23, 30);
        assert_eq!(
            seat_alert(night, night, true),
            QuietDecision::HoldUntil(bj(1, 7, 0))
        );
        // Retried at 03:00 (e.g. after a transient failure): still held, same end.
        assert_eq!(
            seat_alert(night, bj(1, 3, 0), true),
            QuietDecision::HoldUntil(bj(1, 7, 0))
        );
    }

    #[test]
    fn a_held_seat_alert_goes_out_at_the_end_if_the_seats_are_still_there() {
        assert_eq!(
            seat_alert(bj(0, 23, 30), bj(1, 7, 0), true),
            QuietDecision::Deliver
        );
    }

    #[test]
    fn a_held_seat_alert_is_dropped_if_the_seats_are_gone_by_the_end() {
        assert_eq!(seat_alert(bj(0, 23, 30), bj(1, 7, 0), false), QuietDecision::Drop);
        assert_eq!(seat_alert(bj(1, 6, 59), bj(1, 7, 5), false), QuietDecision::Drop);
    }

    #[test]
    fn a_seat_alert_queued_in_the_day_is_never_dropped() {
        assert_eq!(
            seat_alert(bj(0, 12, 0), bj(0, 12, 5), false),
            QuietDecision::Deliver
        );
    }

    #[test]
    fn waitlist_and_order_changes_are_held_and_then_always_delivered() {
        let w = q("23:00-07:00");
        for event in [PushEvent::Waitlist, PushEvent::Order] {
            assert_eq!(
                decide(Some(&w), event, false, bj(0, 23, 30), bj(0, 23, 30), false),
                QuietDecision::HoldUntil(bj(1, 7, 0))
            );
            assert_eq!(
                decide(Some(&w), event, false, bj(0, 23, 30), bj(1, 7, 0), false),
                QuietDecision::Deliver
            );
        }
    }

    #[test]
    fn urgent_pushes_and_tests_ignore_quiet_hours() {
        let w = q("23:00-07:00");
        let night = bj(1, 2, 0);
        assert_eq!(
            decide(Some(&w), PushEvent::Waitlist, true, night, night, true),
            QuietDecision::Deliver
        );
        assert_eq!(
            decide(Some(&w), PushEvent::Test, false, night, night, true),
            QuietDecision::Deliver
        );
    }
}
