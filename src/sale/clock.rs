//! 12306's clock: the offset between this machine and 12306, measured from `login/conf`.
//!
//! Sale openings are moments of 12306's clock. A machine whose clock is minutes off must still
//! send its first query within seconds after an opening, so yupiao schedules by 12306's clock:
//! `server_now = local_now + offset`.
//!
//! `POST /otn/login/conf` answers (anonymously) with `now`, epoch **milliseconds**, and `nowStr`,
//! `YYYYMMDDHHMMSS` Beijing (the 2024 capture: `now` 1713766098347 = 14:08:18.347, `nowStr`
//! `20240422140818`, so `nowStr` is `now` cut to the second). The server read its clock at some
//! moment between our send and our receive, so the offset is taken at the midpoint and is off by
//! at most half the round trip; with only `nowStr` (1 s resolution, truncated) the moment is
//! taken as `nowStr + 0.5 s` and the bound grows by 0.5 s. Of the last few samples the one with
//! the smallest bound wins (a sample that paid for a TLS handshake has a long, lopsided round
//! trip), so a noisy network costs accuracy only until one quick answer arrives.

use std::collections::VecDeque;
use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeDelta, TimeZone, Utc};

/// How finely the server's answer gives its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Resolution {
    /// `now`: epoch milliseconds.
    Millis,
    /// Only `nowStr`: whole seconds, truncated.
    Seconds,
}

impl Resolution {
    fn step(self) -> TimeDelta {
        match self {
            Resolution::Millis => TimeDelta::milliseconds(1),
            Resolution::Seconds => TimeDelta::seconds(1),
        }
    }
}

/// Why an answer gave no usable clock sample.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    #[error("login/conf carried neither `now` nor `nowStr`")]
    NoServerTime,
    #[error("login/conf `nowStr` {0:?} is not YYYYMMDDHHMMSS")]
    BadNowStr(String),
    /// This machine's clock went backwards during the request (stepped by NTP).
    #[error("the answer was received before it was sent (the local clock was stepped)")]
    ReceivedBeforeSent,
}

/// One measurement: our send and receive instants (this machine's clock) around the server's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockSample {
    pub sent: DateTime<Utc>,
    pub received: DateTime<Utc>,
    /// Best estimate of the server's clock when it answered.
    pub server: DateTime<Utc>,
    pub resolution: Resolution,
}

impl ClockSample {
    /// A sample from `login/conf`'s `now` (preferred) or `nowStr`, sent and received at the given
    /// instants of this machine's clock.
    pub fn from_login_conf(
        now_ms: Option<i64>,
        now_str: Option<&str>,
        sent: DateTime<Utc>,
        received: DateTime<Utc>,
    ) -> Result<ClockSample, ClockError> {
        if received < sent {
            return Err(ClockError::ReceivedBeforeSent);
        }
        let (server, resolution) = match (now_ms.and_then(DateTime::from_timestamp_millis), now_str) {
            (Some(at), _) => (at, Resolution::Millis),
            (None, Some(s)) => (
                parse_now_str(s)? + TimeDelta::milliseconds(500),
                Resolution::Seconds,
            ),
            (None, None) => return Err(ClockError::NoServerTime),
        };
        Ok(ClockSample {
            sent,
            received,
            server,
            resolution,
        })
    }

    pub fn round_trip(&self) -> TimeDelta {
        self.received - self.sent
    }

    /// Server clock minus this machine's clock (positive: 12306 is ahead).
    pub fn offset(&self) -> TimeDelta {
        let midpoint = self.sent + self.round_trip() / 2;
        self.server - midpoint
    }

    /// The offset is right within this: half the round trip plus half the resolution.
    pub fn uncertainty(&self) -> TimeDelta {
        self.round_trip() / 2 + self.resolution.step() / 2
    }
}

/// `20240422140818` (Beijing) → that instant.
pub fn parse_now_str(s: &str) -> Result<DateTime<Utc>, ClockError> {
    let bad = || ClockError::BadNowStr(s.to_string());
    let t = s.trim();
    if t.len() != 14 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let naive = NaiveDateTime::parse_from_str(t, "%Y%m%d%H%M%S").map_err(|_| bad())?;
    let local = crate::clock::beijing()
        .from_local_datetime(&naive)
        .single()
        .ok_or_else(bad)?;
    Ok(local.with_timezone(&Utc))
}

/// The last few samples and what they say about 12306's clock.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerClock {
    samples: VecDeque<ClockSample>,
    keep: usize,
}

/// What `status` shows about 12306's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ClockStatus {
    /// Server minus local, ms.
    pub offset_ms: i64,
    /// The offset is right within this many ms.
    pub uncertainty_ms: i64,
    /// Round trip of the sample used, ms.
    pub round_trip_ms: i64,
    /// When that sample was taken (this machine's clock).
    pub measured_at: DateTime<Utc>,
}

impl Default for ServerClock {
    fn default() -> Self {
        ServerClock::new(ServerClock::DEFAULT_KEEP)
    }
}

impl ServerClock {
    /// How many recent samples are compared.
    pub const DEFAULT_KEEP: usize = 8;

    pub fn new(keep: usize) -> ServerClock {
        ServerClock {
            samples: VecDeque::new(),
            keep: keep.max(1),
        }
    }

    /// Adds a sample, forgetting the oldest beyond `keep` (clocks drift: old samples go stale).
    pub fn add(&mut self, sample: ClockSample) {
        self.samples.push_back(sample);
        while self.samples.len() > self.keep {
            self.samples.pop_front();
        }
    }

    /// The sample with the smallest uncertainty (the newest among equals).
    pub fn best(&self) -> Option<&ClockSample> {
        self.samples.iter().rev().min_by_key(|s| s.uncertainty())
    }

    /// Server minus local; `None` before the first sample.
    pub fn offset(&self) -> Option<TimeDelta> {
        self.best().map(ClockSample::offset)
    }

    pub fn uncertainty(&self) -> Option<TimeDelta> {
        self.best().map(ClockSample::uncertainty)
    }

    /// 12306's clock at local instant `local` (Beijing time); this machine's clock until the
    /// first sample.
    pub fn server_now(&self, local: DateTime<Utc>) -> DateTime<FixedOffset> {
        (local + self.offset().unwrap_or_default()).with_timezone(&crate::clock::beijing())
    }

    /// The local instant at which 12306's clock reads `server` (to sleep until an opening).
    pub fn to_local(&self, server: DateTime<FixedOffset>) -> DateTime<Utc> {
        server.with_timezone(&Utc) - self.offset().unwrap_or_default()
    }

    pub fn status(&self) -> Option<ClockStatus> {
        self.best().map(|s| ClockStatus {
            offset_ms: s.offset().num_milliseconds(),
            uncertainty_ms: s.uncertainty().num_milliseconds(),
            round_trip_ms: s.round_trip().num_milliseconds(),
            measured_at: s.received,
        })
    }
}

impl fmt::Display for ClockStatus {
    /// `12306's clock is 2.350 s ahead of this machine (±0.021 s)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = |ms: i64| format!("{}.{:03} s", ms.abs() / 1000, ms.abs() % 1000);
        let side = match self.offset_ms {
            0 => {
                return write!(
                    f,
                    "12306's clock agrees with this machine (±{})",
                    secs(self.uncertainty_ms)
                );
            }
            o if o > 0 => "ahead of",
            _ => "behind",
        };
        write!(
            f,
            "12306's clock is {} {side} this machine (±{})",
            secs(self.offset_ms),
            secs(self.uncertainty_ms)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOGIN_CONF: &str =
        include_str!("../../tests/fixtures/login/login_conf.not_logged_in.2024-04-22.json");

    fn utc(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).unwrap()
    }

    #[test]
    fn the_real_now_is_epoch_milliseconds_and_now_str_is_it_cut_to_the_second() {
        let v: serde_json::Value = serde_json::from_str(LOGIN_CONF).unwrap();
        let now = v["data"]["now"].as_i64().unwrap();
        let now_str = v["data"]["nowStr"].as_str().unwrap();
        let from_ms = utc(now);
        let from_str = parse_now_str(now_str).unwrap();
        assert_eq!(now % 1000, 347, "the field really has millisecond resolution");
        assert_eq!(from_ms - from_str, TimeDelta::milliseconds(347));
        assert_eq!(
            from_ms.with_timezone(&crate::clock::beijing()).to_rfc3339(),
            "2024-04-22T14:08:18.347+08:00"
        );
    }

    #[test]
    fn the_offset_is_taken_at_the_midpoint_of_the_round_trip() {
        // Sent at local 1000.000, received at 1000.100; the server said 1300.050: 5 min ahead.
        let base = 1_713_766_000_000;
        let s = ClockSample::from_login_conf(Some(base + 300_050), None, utc(base), utc(base + 100)).unwrap();
        assert_eq!(s.round_trip(), TimeDelta::milliseconds(100));
        assert_eq!(s.offset(), TimeDelta::milliseconds(300_000));
        assert_eq!(s.uncertainty().num_microseconds(), Some(50_500));
    }

    #[test]
    fn with_only_now_str_the_moment_is_the_middle_of_its_second_and_the_bound_grows() {
        let sent = parse_now_str("20240422140818").unwrap();
        let s = ClockSample::from_login_conf(
            None,
            Some("20240422140818"),
            sent,
            sent + TimeDelta::milliseconds(40),
        )
        .unwrap();
        assert_eq!(s.resolution, Resolution::Seconds);
        assert_eq!(s.offset(), TimeDelta::milliseconds(480));
        assert_eq!(s.uncertainty(), TimeDelta::milliseconds(520));
        assert_eq!(
            ClockSample::from_login_conf(None, Some("2024-04-22 14:08"), sent, sent),
            Err(ClockError::BadNowStr("2024-04-22 14:08".into()))
        );
        assert_eq!(
            ClockSample::from_login_conf(None, None, sent, sent),
            Err(ClockError::NoServerTime)
        );
        assert_eq!(
            ClockSample::from_login_conf(Some(0), None, sent, sent - TimeDelta::milliseconds(1)),
            Err(ClockError::ReceivedBeforeSent)
        );
    }

    #[test]
    fn the_quickest_recent_sample_wins_and_old_ones_are_forgotten() {
        let base = 1_800_000_000_000;
        let sample = |at: i64, rtt: i64, offset: i64| {
            ClockSample::from_login_conf(Some(at + rtt / 2 + offset), None, utc(at), utc(at + rtt)).unwrap()
        };
        let mut clock = ServerClock::new(3);
        assert_eq!(clock.offset(), None);
        assert_eq!(
            clock.server_now(utc(base)),
            utc(base).with_timezone(&crate::clock::beijing())
        );
        clock.add(sample(base, 10, -120_000));
        clock.add(sample(base + 60_000, 400, -119_000));
        clock.add(sample(base + 120_000, 80, -119_500));
        assert_eq!(
            clock.offset(),
            Some(TimeDelta::milliseconds(-120_000)),
            "10 ms round trip"
        );
        clock.add(sample(base + 180_000, 60, -119_400));
        assert_eq!(
            clock.offset(),
            Some(TimeDelta::milliseconds(-119_400)),
            "the 10 ms sample fell out of the last 3"
        );
        let local = utc(base + 200_000);
        let server = clock.server_now(local);
        assert_eq!(server.offset().local_minus_utc(), 8 * 3600);
        assert_eq!(
            server.with_timezone(&Utc),
            local - TimeDelta::milliseconds(119_400)
        );
        assert_eq!(clock.to_local(server), local);
    }

    #[test]
    fn status_says_how_far_off_and_how_sure() {
        let base = 1_800_000_000_000;
        let mut clock = ServerClock::default();
        clock.add(
            ClockSample::from_login_conf(Some(base + 2_350 + 21), None, utc(base), utc(base + 42)).unwrap(),
        );
        let st = clock.status().unwrap();
        assert_eq!(
            (st.offset_ms, st.uncertainty_ms, st.round_trip_ms),
            (2_350, 21, 42)
        );
        assert_eq!(
            st.to_string(),
            "12306's clock is 2.350 s ahead of this machine (±0.021 s)"
        );
        let behind = ClockStatus {
            offset_ms: -301_250,
            ..st
        };
        assert_eq!(
            behind.to_string(),
            "12306's clock is 301.250 s behind this machine (±0.021 s)"
        );
    }
}
