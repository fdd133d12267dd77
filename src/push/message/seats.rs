//! The 余票 push: the best hit in the title, then the route, times and seats of the first few
//! trains, and the booking link.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate};

use super::draft::{Draft, MAX_TRAINS, booking_link, md_escape, short_date};
use super::{PushDetails, PushEvent, PushMessage, SeatDetail, TrainDetail};
use crate::filter::{SeatMatch, TrainMatch, price_yuan};
use crate::notify::render::weekday_zh;
use crate::watchlist::Watch;

/// The seat alert for one travel date, speaking for every watch in `watches` (they saw the same
/// seats). `trains` carries only the alerted seats, best first, as `decide` returns them; the
/// first watch gives the route and the booking link.
pub fn seats_message(
    watches: &[&Watch],
    date: NaiveDate,
    trains: &[TrainMatch],
    rail_url: &str,
    now: DateTime<FixedOffset>,
) -> PushMessage {
    let names: Vec<String> = watches.iter().map(|w| w.name.clone()).collect();
    let link = watches
        .first()
        .map(|w| booking_link("去 12306 预订", rail_url, w, date));
    let day = short_date(date);
    let title = seats_title(watches, trains, &day);

    let mut text = Vec::new();
    let mut md = Vec::new();
    for (i, t) in trains.iter().take(MAX_TRAINS).enumerate() {
        let head = if i == 0 {
            format!(
                "{} {day} {} {}→{} {}开 {}到",
                t.station_train_code,
                weekday_zh(date.weekday()),
                t.from_name,
                t.to_name,
                t.start_time,
                t.arrive_time
            )
        } else {
            format!(
                "{} {}→{} {}开 {}到",
                t.station_train_code, t.from_name, t.to_name, t.start_time, t.arrive_time
            )
        };
        let seats = t.seats.iter().map(seat_short).collect::<Vec<_>>().join(" · ");
        md.push(md_escape(&head));
        md.push(format!("**{}**", md_escape(&seats)));
        text.push(head);
        text.push(seats);
    }
    if trains.len() > MAX_TRAINS {
        let more = format!("另有{}趟有票", trains.len() - MAX_TRAINS);
        md.push(md_escape(&more));
        text.push(more);
    }
    if !names.is_empty() {
        let line = format!("监控：{}", names.join("、"));
        md.push(md_escape(&line));
        text.push(line);
    }

    let details = PushDetails {
        watches: names,
        date: Some(date),
        trains: trains.iter().map(train_detail).collect(),
        ..PushDetails::default()
    };
    Draft {
        event: PushEvent::Seats,
        title,
        text,
        md,
        link,
        urgent: false,
        details,
    }
    .finish(now)
}

/// A seat push's title: the best hit and how many trains have seats, or the route when none.
fn seats_title(watches: &[&Watch], trains: &[TrainMatch], day: &str) -> String {
    let Some(first) = trains.first() else {
        return match watches.first() {
            Some(w) => format!("余票 {}→{} {day}", w.from.name, w.to.name),
            None => format!("余票 {day}"),
        };
    };
    let mut t = format!("余票 {} {day}", first.station_train_code);
    if let Some(seat) = first.seats.first() {
        let _ = write!(t, " {} {}", seat.seat.name(), count_short(seat));
    }
    if trains.len() > 1 {
        let _ = write!(t, " 等{}趟", trains.len());
    }
    t
}

/// `3张`; `有票` for 12306's `有` (at least 20) and anything else that is not a number.
fn count_short(seat: &SeatMatch) -> String {
    match seat.count {
        Some(n) => format!("{n}张"),
        None => "有票".to_string(),
    }
}

/// `二等座 3张 ¥91`.
fn seat_short(seat: &SeatMatch) -> String {
    match seat.price_jiao {
        Some(p) => format!("{} {} ¥{}", seat.seat.name(), count_short(seat), price_yuan(p)),
        None => format!("{} {}", seat.seat.name(), count_short(seat)),
    }
}

fn train_detail(t: &TrainMatch) -> TrainDetail {
    TrainDetail {
        train: t.station_train_code.clone(),
        date: Some(t.date),
        from: t.from_name.clone(),
        to: t.to_name.clone(),
        depart: Some(t.start_time.clone()),
        arrive: Some(t.arrive_time.clone()),
        seats: t
            .seats
            .iter()
            .map(|s| SeatDetail {
                seat: s.seat.name().to_string(),
                left: Some(s.raw.clone()),
                count: s.count,
                price: s.price_jiao.map(price_yuan),
            })
            .collect(),
    }
}

/// The seat push for one grouped alert of a poll cycle (`notify::grouping`: one per recipient
/// per event, naming every watch that saw the seats). The first date leads (title, trains);
/// further dates of the same group are named in a last line and listed in the details, so a
/// new watch whose dates all have seats still gets one push.
pub fn grouped_seats_message(
    g: &crate::notify::grouping::GroupedAlert<'_>,
    rail_url: &str,
    now: DateTime<FixedOffset>,
) -> PushMessage {
    let dates = g.dates();
    let first = dates.first().copied().unwrap_or_else(|| now.date_naive());
    let trains_on = |d: NaiveDate| -> Vec<TrainMatch> {
        g.sections
            .iter()
            .filter(|s| s.date == d)
            .map(|s| s.train.clone())
            .collect()
    };
    let mut msg = seats_message(&g.watches, first, &trains_on(first), rail_url, now);
    if dates.len() > 1 {
        let rest: Vec<String> = dates[1..].iter().map(|d| short_date(*d)).collect();
        msg.push_note(&format!("其他日期也有票：{}", rest.join("、")));
        for d in &dates[1..] {
            msg.details.trains.extend(trains_on(*d).iter().map(train_detail));
        }
    }
    msg
}
