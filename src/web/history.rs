//! The page's history and its whole snapshot: timelines and "seats came back" histograms from
//! `seat_history`, alert moments, and [`assemble`], which puts the view model together from
//! `status`, those timelines and what the daemon knows live.
//!
//! Apart from `view.rs` because it draws on the chart's rules (the 15-day window, the point
//! bound of [`chart::reduce`]) while the chart draws the view's types: the plain model sits
//! below both, and this layer above them.

use chrono::{Duration as TimeDelta, NaiveDate, NaiveTime, TimeZone};

use super::chart;
use super::view::{
    Backoff, HourHistogram, Level, Point, SeatNow, Series, Time, Timeline, ViewModel, channel_from_counts,
    channel_from_report, from_status, grab_from_row,
};
use crate::clock::beijing;
use crate::config::Settings;
use crate::seat::SeatClass;
use crate::status::StatusReport;
use crate::store::{Change, GrabOrderRow};
use crate::watchlist::WatchList;

/// An alert moment of a watch: when the alert for `date` was queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertMoment {
    pub at: Time,
    pub date: NaiveDate,
}

/// The timelines (one per date) and the "seats came back" histogram of one watch, from its
/// history rows (`seat_history`, in any order) and its alert moments.
///
/// The histogram counts, per (date, train, seat class), every change from not available to
/// available, over the whole history given; the first row of a series is not a return (we do
/// not know what came before it). Timelines end at `until` (the snapshot time, or the end of
/// the travel date if that is earlier: nothing changes after departure) and start at the first
/// change, or [`chart::WINDOW_DAYS`] before the end, whichever is later. Points are merged and
/// bounded per series by [`chart::reduce`].
pub fn timelines_from_changes(
    changes: &[Change],
    alerts: &[AlertMoment],
    until: Time,
) -> (Vec<Timeline>, HourHistogram) {
    use std::collections::BTreeMap;
    let mut by_series: BTreeMap<(NaiveDate, String, SeatClass), Vec<Point>> = BTreeMap::new();
    for c in changes {
        by_series
            .entry((c.key.date, c.key.train.clone(), c.key.seat))
            .or_default()
            .push(Point {
                at: c.at,
                level: Level::from_raw(&c.raw, c.count),
                available: c.available,
            });
    }
    let mut hist = HourHistogram::default();
    let mut dates: BTreeMap<NaiveDate, Vec<Series>> = BTreeMap::new();
    for ((date, train, seat), mut points) in by_series {
        points.sort_by_key(|p| p.at);
        for w in points.windows(2) {
            if !w[0].available && w[1].available {
                hist.add(w[1].at);
            }
        }
        dates.entry(date).or_default().push(Series {
            train,
            seat,
            changes: points.len() as u32,
            points,
        });
    }
    let mut out = Vec::new();
    for (date, series) in dates {
        let end_of_date = beijing()
            .from_local_datetime(&date.and_time(NaiveTime::MIN))
            .single()
            .map(|t| t + TimeDelta::days(1))
            .unwrap_or(until);
        let to = until.min(end_of_date);
        let first = series
            .iter()
            .filter_map(|s| s.points.first())
            .map(|p| p.at)
            .min()
            .unwrap_or(to);
        let from = first
            .max(to - TimeDelta::days(chart::WINDOW_DAYS))
            .min(to - TimeDelta::hours(1));
        let series = series
            .into_iter()
            .map(|s| Series {
                points: chart::reduce(&s.points, from, to),
                ..s
            })
            .collect();
        let mut moments: Vec<Time> = alerts
            .iter()
            .filter(|a| a.date == date && a.at >= from && a.at <= to)
            .map(|a| a.at)
            .collect();
        moments.sort();
        moments.dedup();
        out.push(Timeline {
            date,
            from,
            to,
            series,
            alerts: moments,
        });
    }
    (out, hist)
}

/// How far before an alert email a seat must have come back for the email to be about that
/// date: a poll cycle's emails are queued when its last answer arrives, after its changes.
pub const ALERT_CYCLE_WINDOW: TimeDelta = TimeDelta::minutes(10);

/// The alert moments of one watch from what the store keeps: the time each seat-alert email
/// serving it was queued, placed on every date that came back within [`ALERT_CYCLE_WINDOW`]
/// before it; and the last alert per (date, train) (`train_alert`, exact), unless an email
/// already marks it. `changes` are the watch's history rows.
pub fn alert_moments(
    last_alerts: &[(NaiveDate, Time)],
    emails: &[Time],
    changes: &[Change],
) -> Vec<AlertMoment> {
    let mut out: Vec<AlertMoment> = Vec::new();
    for &at in emails {
        let mut dates: Vec<NaiveDate> = changes
            .iter()
            .filter(|c| c.available && c.at <= at && c.at > at - ALERT_CYCLE_WINDOW)
            .map(|c| c.key.date)
            .collect();
        dates.sort();
        dates.dedup();
        out.extend(dates.into_iter().map(|date| AlertMoment { at, date }));
    }
    for &(date, at) in last_alerts {
        let marked = out
            .iter()
            .any(|m| m.date == date && m.at >= at && m.at - at <= ALERT_CYCLE_WINDOW);
        if !marked {
            out.push(AlertMoment { at, date });
        }
    }
    out.sort_by_key(|m| (m.date, m.at));
    out.dedup();
    out
}

/// What the daemon knows about 12306 only in memory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RailLive {
    /// The endpoint the client uses now (else the one recorded in the database).
    pub endpoint: Option<String>,
    pub requests_5min: Option<u32>,
    /// The whole client's backoff, when it is backing off.
    pub backoff: Option<Backoff>,
    pub clock_offset_ms: Option<i64>,
}

/// What the page shows beyond `status`' report, as read from the store.
#[derive(Debug, Clone, Default)]
pub struct Extras<'a> {
    /// `store::PageHistory`: history, alerts and outbox totals.
    pub history: Option<&'a crate::store::PageHistory>,
    /// Every seat of each watch now (available or not), from `Store::current_seats`.
    pub seats: Vec<(String, Vec<SeatNow>)>,
    pub grabs: Vec<GrabOrderRow>,
    /// The newest undelivered email with an error: (error, when it is retried or failed).
    pub email_problem: Option<(String, Time)>,
    pub rail: RailLive,
}

/// The whole page as the daemon shows it: [`from_status`] plus the timelines, every seat now,
/// 抢票 orders, the outbox and what the daemon knows of 12306 (pure).
pub fn assemble(
    report: &StatusReport,
    list: Option<&WatchList>,
    settings: &Settings,
    extras: &Extras<'_>,
    now: Time,
) -> ViewModel {
    let mut v = from_status(report, list, settings, now);
    for w in &mut v.watches {
        if let Some((_, seats)) = extras.seats.iter().find(|(name, _)| *name == w.name)
            && !seats.is_empty()
        {
            w.seats_now = seats.clone();
        }
        let Some(h) = extras.history else { continue };
        let changes = h.changes.get(&w.name).map_or(&[][..], Vec::as_slice);
        let moments = alert_moments(
            h.last_alerts.get(&w.name).map_or(&[][..], Vec::as_slice),
            h.alert_emails.get(&w.name).map_or(&[][..], Vec::as_slice),
            changes,
        );
        let (timelines, came_back) = timelines_from_changes(changes, &moments, now);
        w.timelines = timelines;
        w.came_back = came_back;
    }
    v.grabs = extras.grabs.iter().map(|g| grab_from_row(g, now)).collect();
    let counts = extras.history.map(|h| h.email).unwrap_or_default();
    v.outbox = vec![channel_from_counts(
        "email",
        counts,
        extras.email_problem.as_ref().map(|(e, at)| (e.as_str(), *at)),
    )];
    v.outbox.extend(report.channels.iter().map(channel_from_report));
    let live = &extras.rail;
    if live.endpoint.is_some() {
        v.rail.endpoint = live.endpoint.clone();
    }
    v.rail.requests_5min = live.requests_5min;
    v.rail.backoff = live.backoff.clone();
    v.rail.clock_offset_ms = live.clock_offset_ms;
    v
}
