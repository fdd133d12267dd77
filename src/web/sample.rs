//! A realistic view model made up from scratch, for the benchmark, the browser test and the
//! screenshots: real routes and train codes, seat counts that change like 12306's do (mostly 无,
//! returns in the morning and evening and at 起售, 有 now and then, `*` before sale), built
//! through the same builders the daemon uses ([`super::history::timelines_from_changes`]).
//!
//! Deterministic (a seeded generator), so screenshots and figures are comparable between runs.

use chrono::{Duration as TimeDelta, NaiveDate, Timelike};

use super::history::{AlertMoment, timelines_from_changes};
use super::view::{
    AlertCounts, Backoff, ChannelView, DaemonView, GrabPhase, GrabView, NodeView, Outcome, RailView,
    RejectedEdit, SeatNow, Time, Timeline, ViewModel, WaitlistView, Wants, WatchState, WatchView,
};
use crate::decide::SeatKey;
use crate::seat::SeatClass;
use crate::store::Change;

/// How big a sample.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub watches: usize,
    /// Dates per watch.
    pub dates: usize,
    /// Days of history before `now`.
    pub days: i64,
    /// Seat changes per (watch, date) per day, over all its trains and classes.
    pub changes_per_day: u32,
}

/// A small linear congruential generator: deterministic and dependency-free.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const ROUTES: &[(&str, &str, &[&str])] = &[
    ("上海虹桥", "常州", &["G8294", "G7001", "D3125", "G7223"]),
    ("北京南", "上海虹桥", &["G1", "G3", "G101", "G105"]),
    ("广州南", "深圳北", &["G6001", "G6105", "D7503", "G6211"]),
    ("杭州东", "南京南", &["G7376", "G7602", "D5606", "G7504"]),
    ("成都东", "重庆北", &["G8501", "G8503", "D6161", "G8607"]),
    ("武汉", "长沙南", &["G1101", "G1107", "G531", "G79"]),
    ("西安北", "郑州东", &["G2004", "G2208", "D2502", "G658"]),
    ("南京南", "合肥南", &["G7071", "G3081", "D3029", "G7187"]),
];

const NAMES: &[&str] = &["回家", "早班", "周末", "出差", "春运", "晚班", "看爸妈", "返程"];

/// One day of a seat: mostly 无, with returns clustered at 07–09, 12–13, 20–22 and at 起售.
fn level_raw(r: &mut Lcg) -> (&'static str, Option<u32>) {
    match r.below(10) {
        0..=4 => ("无", Some(0)),
        5..=7 => {
            const N: [&str; 9] = ["1", "2", "3", "4", "5", "7", "9", "12", "16"];
            let s = N[r.below(9) as usize];
            (s, s.parse().ok())
        }
        8 => ("有", None),
        _ => ("无", Some(0)),
    }
}

fn hour_weight(h: u32) -> u64 {
    match h {
        7..=9 => 6,
        12..=13 => 4,
        20..=22 => 5,
        1..=5 => 0,
        _ => 2,
    }
}

/// A time of day weighted toward the hours seats come back.
fn change_time(r: &mut Lcg, day_start: Time) -> Time {
    let total: u64 = (0..24).map(hour_weight).sum();
    let mut pick = r.below(total);
    let mut hour = 0;
    for h in 0..24 {
        let w = hour_weight(h);
        if pick < w {
            hour = h;
            break;
        }
        pick -= w;
    }
    day_start + TimeDelta::hours(hour as i64) + TimeDelta::seconds(r.below(3600) as i64)
}

/// One watch with `size.dates` dates and their history.
fn watch(i: usize, size: Size, now: Time, r: &mut Lcg) -> WatchView {
    let (from, to, all_trains) = ROUTES[i % ROUTES.len()];
    // Watches differ: one to four trains, one or two classes.
    let trains = &all_trains[..[3, 2, 4, 1, 2, 3][i % 6]];
    let first_date = now.date_naive() + TimeDelta::days(1 + (i % 5) as i64);
    let dates: Vec<NaiveDate> = (0..size.dates)
        .map(|d| first_date + TimeDelta::days(d as i64))
        .collect();
    let seats: &[SeatClass] = if i % 3 == 1 {
        &[SeatClass::Second]
    } else {
        &[SeatClass::Second, SeatClass::First]
    };
    let mut changes = Vec::new();
    let mut alerts = Vec::new();
    for date in &dates {
        let (date_changes, date_alerts) = history(*date, trains, seats, size, now, r);
        changes.extend(date_changes);
        alerts.extend(date_alerts);
    }
    let (timelines, came_back) = timelines_from_changes(&changes, &alerts, now);
    let outcome = match i % 17 {
        5 => Some(Outcome::Throttled(
            "HTTP 302 to https://www.12306.cn/mormhweb/logFiles/error.html".into(),
        )),
        11 => Some(Outcome::Error("12306 did not answer within 10s".into())),
        _ => Some(Outcome::Ok),
    };
    let backoff = matches!(outcome, Some(Outcome::Throttled(_))).then(|| Backoff {
        level: 2,
        until: now + TimeDelta::seconds(95),
        failures: 3,
    });
    WatchView {
        name: format!("{from}→{to} {}", NAMES[(i / ROUTES.len()) % NAMES.len()])
            + &if i >= ROUTES.len() * NAMES.len() {
                format!(" #{i}")
            } else {
                String::new()
            },
        from: from.into(),
        to: to.into(),
        same_city: i % 4 == 3,
        dates,
        wants: wants(i, trains, seats),
        schedule: ["every 30s", "every 1m", "cron 0 */2 7-22 * * *"][i % 3].into(),
        state: WatchState::Active,
        next_poll: Some(now + TimeDelta::seconds(5 + (i % 50) as i64)),
        last_poll: Some(now - TimeDelta::seconds(3 + (i % 40) as i64)),
        last_error: match &outcome {
            Some(Outcome::Throttled(m)) | Some(Outcome::Error(m)) => Some(m.clone()),
            _ => None,
        },
        outcome,
        backoff,
        last_change: changes.iter().map(|c| c.at).max(),
        seats_now: seats_now(&timelines),
        alerts: AlertCounts {
            sent: alerts.len() as u64,
            pending: (i % 13 == 4) as u64,
            failed: 0,
        },
        timelines,
        came_back,
    }
}

/// `size.days` days of changes of every seat of `trains` on `date`, each series starting as `*`
/// (not on sale), and an alert at some of the moments seats came back.
fn history(
    date: NaiveDate,
    trains: &[&str],
    seats: &[SeatClass],
    size: Size,
    now: Time,
    r: &mut Lcg,
) -> (Vec<Change>, Vec<AlertMoment>) {
    let mut changes = Vec::new();
    let mut alerts = Vec::new();
    let start_day = (now - TimeDelta::days(size.days))
        .with_hour(0)
        .and_then(|t| t.with_minute(0))
        .and_then(|t| t.with_second(0))
        .unwrap_or(now);
    let mut last_avail: std::collections::HashMap<(usize, usize), bool> = Default::default();
    let mut day_changes: Vec<(Time, usize, usize)> = Vec::new();
    for day in 0..size.days {
        let day_start = start_day + TimeDelta::days(day);
        for _ in 0..size.changes_per_day {
            let t = change_time(r, day_start);
            if t < now {
                day_changes.push((
                    t,
                    r.below(trains.len() as u64) as usize,
                    r.below(seats.len() as u64) as usize,
                ));
            }
        }
    }
    day_changes.sort();
    let change = |at: Time, train: &str, seat: SeatClass, raw: &str, count, available| Change {
        at,
        key: SeatKey {
            date,
            train: train.to_string(),
            seat,
        },
        raw: raw.into(),
        count,
        price_jiao: Some(1390),
        available,
    };
    // 起售: every seat starts as `*` (not on sale) at the start of the history.
    for (ti, train) in trains.iter().enumerate() {
        for (si, seat) in seats.iter().enumerate() {
            changes.push(change(start_day, train, *seat, "*", None, false));
            last_avail.insert((ti, si), false);
        }
    }
    for (t, ti, si) in day_changes {
        let (raw, count) = level_raw(r);
        let available = raw == "有" || count.is_some_and(|c| c >= 1);
        if available && !last_avail[&(ti, si)] && r.below(3) == 0 {
            alerts.push(AlertMoment { at: t, date });
        }
        last_avail.insert((ti, si), available);
        changes.push(change(t, trains[ti], seats[si], raw, count, available));
    }
    (changes, alerts)
}

/// What the watch asks for, varied by its number.
fn wants(i: usize, trains: &[&str], seats: &[SeatClass]) -> Wants {
    Wants {
        trains: if i.is_multiple_of(3) {
            vec!["G*".into(), "D*".into()]
        } else {
            trains.iter().map(|t| t.to_string()).collect()
        },
        exclude_trains: if i.is_multiple_of(3) {
            vec!["G7*".into()]
        } else {
            vec![]
        },
        seats: seats.iter().map(|s| s.name().to_string()).collect(),
        passengers: 1 + (i % 3) as u32,
        depart: i.is_multiple_of(2).then(|| "07:00-12:00".to_string()),
        arrive: None,
        student: false,
        grab: i % 7 == 2,
    }
}

/// The last point of every series: the seats as they are now.
fn seats_now(timelines: &[Timeline]) -> Vec<SeatNow> {
    timelines
        .iter()
        .flat_map(|t| {
            t.series.iter().filter_map(move |s| {
                s.points.last().map(|p| SeatNow {
                    date: t.date,
                    train: s.train.clone(),
                    seat: s.seat,
                    level: p.level,
                    available: p.available,
                })
            })
        })
        .collect()
}

/// A whole page's worth.
pub fn view(size: Size, now: Time) -> ViewModel {
    let mut r = Lcg(0x5955_5049);
    let watches = (0..size.watches).map(|i| watch(i, size, now, &mut r)).collect();
    ViewModel {
        generated_at: now,
        daemon: DaemonView {
            running: true,
            pid: Some(4242),
            started_at: Some(now - TimeDelta::hours(26) - TimeDelta::minutes(13)),
            history_rows: size.watches as u64
                * size.dates as u64
                * size.days as u64
                * size.changes_per_day as u64,
        },
        rejected_edit: Some(RejectedEdit {
            errors: vec![
                "watchlist.toml:14:8: unknown station \"北京难\" (did you mean 北京南?)".into(),
                "watchlist.toml:22:9: passengers must be 1–9, not 12".into(),
            ],
        }),
        watches,
        waitlists: waitlists(now),
        grabs: grabs(now),
        outbox: vec![ChannelView {
            channel: "email".into(),
            pending: 2,
            failed: 1,
            sent: 811,
            last_error: Some("550 5.1.1 <old@example.com>: Recipient address rejected".into()),
            last_error_at: Some(now - TimeDelta::hours(3)),
        }],
        rail: rail(now),
    }
}

/// Two 候补 orders: one to pay within the half hour, one queueing with its session expired.
fn waitlists(now: Time) -> Vec<WaitlistView> {
    vec![
        WaitlistView {
            name: "我的候补".into(),
            state: WatchState::Active,
            last_poll: Some(now - TimeDelta::seconds(40)),
            next_poll: Some(now + TimeDelta::seconds(80)),
            outcome: Some(Outcome::Ok),
            last_error: None,
            session_expired: false,
            reserve_no: Some("E87000007466000022".into()),
            status_code: Some("01".into()),
            status_name: Some("待支付".into()),
            pay_before: Some(now + TimeDelta::minutes(23)),
            realize_limit: Some(now + TimeDelta::days(2) + TimeDelta::hours(5)),
            needs: vec![
                "G105 2026-12-12 二等座 候补人数较少".into(),
                "G3 2026-12-12 一等座 候补人数中等".into(),
            ],
            emails: AlertCounts {
                sent: 3,
                pending: 0,
                failed: 0,
            },
        },
        WaitlistView {
            name: "春运 候补".into(),
            state: WatchState::Active,
            last_poll: Some(now - TimeDelta::minutes(31)),
            next_poll: Some(now + TimeDelta::minutes(1)),
            outcome: Some(Outcome::Ok),
            last_error: None,
            session_expired: true,
            reserve_no: Some("E87000009912000031".into()),
            status_code: Some("00".into()),
            status_name: Some("排队中".into()),
            pay_before: None,
            realize_limit: Some(now + TimeDelta::days(5)),
            needs: vec!["G1 2026-12-15 二等座 候补人数较多".into()],
            emails: AlertCounts {
                sent: 1,
                pending: 0,
                failed: 0,
            },
        },
    ]
}

/// Two 抢票 orders: one grabbing, one issued.
fn grabs(now: Time) -> Vec<GrabView> {
    vec![
        GrabView {
            out_order_no: "YP261204093012K7Q2M9XA".into(),
            watch: "上海虹桥→常州 回家".into(),
            date: now.date_naive() + TimeDelta::days(3),
            phase: GrabPhase::Grabbing,
            state_label: "D 抢票中".into(),
            trains: vec!["G8294".into(), "G7001".into()],
            seats: vec!["二等座".into(), "一等座".into()],
            from: "上海虹桥".into(),
            to: "常州".into(),
            passengers: vec!["张三 (成人, 身份证 1101***********514)".into()],
            next_step: "Juhe is grabbing; next orderDetail check".into(),
            next_check: Some(now + TimeDelta::seconds(42)),
            last_error: None,
            updated_at: now - TimeDelta::minutes(4),
        },
        GrabView {
            out_order_no: "YP261203201544B2C4D6EF".into(),
            watch: "广州南→深圳北 周末".into(),
            date: now.date_naive() + TimeDelta::days(1),
            phase: GrabPhase::Issued,
            state_label: "F 抢票成功(出票成功)".into(),
            trains: vec!["G6001".into()],
            seats: vec!["二等座".into()],
            from: "广州南".into(),
            to: "深圳北".into(),
            passengers: vec![
                "李四 (成人, 身份证 4403***********21X)".into(),
                "李小四 (儿童, 身份证 4403***********046)".into(),
            ],
            next_step: "ticket issued: nothing more to do (refund with `yupiao orders refund`)".into(),
            next_check: None,
            last_error: None,
            updated_at: now - TimeDelta::hours(13),
        },
    ]
}

/// 12306 as two nodes poll it.
fn rail(now: Time) -> RailView {
    RailView {
        base_url: "https://kyfw.12306.cn".into(),
        endpoint: Some("leftTicket/queryG".into()),
        requests_5min: Some(57),
        backoff: None,
        clock_offset_ms: Some(-420),
        nodes: vec![
            NodeView {
                name: "node-a".into(),
                last_seen: Some(now - TimeDelta::seconds(4)),
                requests_5min: Some(31),
            },
            NodeView {
                name: "node-b".into(),
                last_seen: Some(now - TimeDelta::seconds(9)),
                requests_5min: Some(26),
            },
        ],
    }
}
