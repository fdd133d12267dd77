//! Step two: raw values → the validated [`WatchList`], with `[defaults]` applied.
//!
//! Every watch and waitlist is judged whole: each of its values is checked (by
//! [`super::values`], and [`super::grab`] for what a 抢票 watch adds), every problem is
//! reported, and the watch is kept only when nothing about it is wrong. Names must be unique
//! within watches and within waitlists, because they key everything stored about them.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::grab::{self, Choices};
use super::read::{RawDocument, RawWaitlist, RawWatch};
use super::section::{RawList, Spanned};
use super::values::{
    action, dates, notify, optional, passengers, patterns, reserve_no, schedule, seats, station, watch_name,
    window,
};
use super::{
    DEFAULT_BURST, DEFAULT_EVERY, DEFAULT_WAITLIST_EVERY, Schedule, WaitlistWatch, Watch, WatchAction,
    WatchList,
};
use crate::diagnostic::Report;
use crate::stations::{Station, StationTable};

/// What `[defaults]` gives the watches that do not say.
struct Defaults {
    schedule: Option<Schedule>,
    notify: Vec<String>,
}

/// What every watch is judged against.
struct Context<'a> {
    today: NaiveDate,
    stations: &'a StationTable,
    defaults: Defaults,
    /// The `[[channel]]` names of the settings (`notify` may name them).
    channels: &'a [String],
}

/// Validates the whole document; every problem goes to `r`, only flawless entries are kept.
pub(super) fn list(
    raw: RawDocument,
    today: NaiveDate,
    stations: &StationTable,
    channels: &[String],
    r: &mut Report,
) -> WatchList {
    let defaults = Defaults {
        schedule: schedule(&raw.defaults.schedule, r).written(),
        notify: raw
            .defaults
            .notify
            .as_ref()
            .and_then(|n| notify(n, channels, r))
            .unwrap_or_default(),
    };
    let cx = Context {
        today,
        stations,
        defaults,
        channels,
    };
    if raw.watches.is_empty() && raw.waitlists.is_empty() && !raw.watch_malformed {
        r.warning(0, "no [[watch]] tables: nothing will be watched");
    }
    check_unique_names("watch", raw.watches.iter().filter_map(|w| w.name.as_ref()), r);
    let watches = raw
        .watches
        .iter()
        .filter_map(|w| validate_watch(w, &cx, r))
        .collect();
    check_unique_names(
        "waitlist",
        raw.waitlists.iter().filter_map(|w| w.name.as_ref()),
        r,
    );
    let waitlists = raw
        .waitlists
        .iter()
        .filter_map(|w| validate_waitlist(w, &cx, r))
        .collect();
    WatchList { watches, waitlists }
}

/// A second use of a name (`what`: "watch", "waitlist") is an error pointing at the first.
/// Names are compared trimmed; an empty one is reported by [`watch_name`].
fn check_unique_names<'a>(what: &str, names: impl Iterator<Item = &'a Spanned<String>>, r: &mut Report) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for name in names {
        let key = name.value.trim();
        if key.is_empty() {
            continue;
        }
        match seen.get(key) {
            Some(&first) => {
                let (line, _) = r.position(first);
                r.error(
                    name.at,
                    format!("duplicate {what} name \"{key}\" (first used on line {line})"),
                );
            }
            None => {
                seen.insert(key, name.at);
            }
        }
    }
}

fn validate_waitlist(w: &RawWaitlist, cx: &Context<'_>, r: &mut Report) -> Option<WaitlistWatch> {
    let name = w.name.as_ref().and_then(|n| watch_name(n, r));
    let reserve_no = optional(w.reserve_no.as_ref(), |s| reserve_no(s, r));
    // Not [defaults]: logged-in calls are the ones 12306 watches most closely.
    let schedule = schedule(&w.schedule, r).or(Schedule::Every(DEFAULT_WAITLIST_EVERY));
    let notify = recipients(w.notify.as_ref(), cx, r);
    let (line, _) = r.position(w.at);
    Some(WaitlistWatch {
        name: name?,
        reserve_no: reserve_no?,
        schedule: schedule?,
        notify: notify?,
        line,
    })
}

fn validate_watch(w: &RawWatch, cx: &Context<'_>, r: &mut Report) -> Option<Watch> {
    let name = w.name.as_ref().and_then(|n| watch_name(n, r));
    let (from, to) = route(w, cx.stations, r);
    let dates = w.dates.as_ref().and_then(|d| dates(d, cx.today, w, r));
    let trains = patterns(w.trains.as_ref(), r);
    let exclude_trains = patterns(w.exclude_trains.as_ref(), r);
    let depart = optional(w.depart.as_ref(), |s| window("depart", s, r));
    let arrive = optional(w.arrive.as_ref(), |s| window("arrive", s, r));
    let seats = w.seats.as_ref().map_or(Some(Vec::new()), |s| seats(s, r));
    let passengers = w.passengers.as_ref().map_or(Some(1), |p| passengers(p, r));
    let own_schedule = schedule(&w.schedule, r);
    let burst = w
        .burst
        .as_ref()
        .map_or(Some(DEFAULT_BURST), |b| super::values::burst(b, r));
    let notify = recipients(w.notify.as_ref(), cx, r);
    let action = w
        .action
        .as_ref()
        .map_or(Some(WatchAction::Alert), |a| action(a, r));
    let choices = Choices {
        trains: trains.as_deref(),
        seats: seats.as_deref(),
        passengers,
    };
    let grab = grab::for_watch(w, action, &choices, cx.today, r);
    // A grab watch needs a seat for each person in it.
    let passengers = match &grab {
        Some(Some(g)) => u32::try_from(g.passengers.len()).ok(),
        _ => passengers,
    };
    let schedule = own_schedule.or_else(|| {
        cx.defaults
            .schedule
            .clone()
            .unwrap_or(Schedule::Every(DEFAULT_EVERY))
    });
    let (line, _) = r.position(w.at);
    Some(Watch {
        name: name?,
        from: from?,
        to: to?,
        same_city: w.same_city.unwrap_or(false),
        dates: dates?,
        trains: trains?,
        exclude_trains: exclude_trains?,
        depart: depart?,
        arrive: arrive?,
        seats: seats?,
        passengers: passengers?,
        student: w.student.as_ref().is_some_and(|s| s.value),
        schedule: schedule?,
        burst: burst?,
        notify: notify?,
        action: action?,
        grab: grab?,
        line,
    })
}

/// `from` and `to`, resolved; the same station twice is an error at `to`.
fn route(w: &RawWatch, stations: &StationTable, r: &mut Report) -> (Option<Station>, Option<Station>) {
    let from = w.from.as_ref().and_then(|s| station(s, stations, r));
    let to = w.to.as_ref().and_then(|s| station(s, stations, r));
    if let (Some(f), Some(t), Some(to_raw)) = (&from, &to, &w.to)
        && f.telecode == t.telecode
    {
        r.error(
            to_raw.at,
            format!("from and to are the same station ({} {})", f.name, f.telecode),
        );
    }
    (from, to)
}

/// The entry's own `notify`, or `[defaults] notify` when it has none.
fn recipients(own: Option<&RawList>, cx: &Context<'_>, r: &mut Report) -> Option<Vec<String>> {
    match own {
        Some(n) => notify(n, cx.channels, r),
        None => Some(cx.defaults.notify.clone()),
    }
}
