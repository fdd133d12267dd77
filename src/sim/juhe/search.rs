//! `search.php`: the scenario's trains between two cities, with the seat cells the 12306 side
//! serves right now, and a queryKey remembering what was promised.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{RawQuery, State};
use axum::response::Response;
use chrono::{NaiveDate, NaiveDateTime};
use serde_json::{Value, json};

use super::api::{ERR_PARAM, Params, coded, key_refusal, success, token};
use super::state::{KeyTrain, QueryKey};
use crate::seat::SeatClass;
use crate::sim::Sim;
use crate::sim::rail::minutes_between;
use crate::sim::scenario::{Cell, Train};
use crate::stations::{Lookup, StationTable};

/// Resolves a place as Juhe takes it (Chinese name or pinyin) to its city's stations.
fn city_codes(text: &str) -> BTreeSet<String> {
    let table = StationTable::embedded();
    let station = match table.lookup(text) {
        Lookup::Found(s) => Some(s),
        _ => table.by_name(text),
    };
    station
        .map(|s| table.same_city(s).iter().map(|c| c.telecode.clone()).collect())
        .unwrap_or_default()
}

fn station_name(telecode: &str) -> (String, String) {
    StationTable::embedded().by_telecode(telecode).map_or_else(
        || (telecode.to_string(), String::new()),
        |s| (s.name.clone(), s.pinyin.clone()),
    )
}

/// Price in yuan of `seat` on `train`; 无座 costs what its base class costs.
fn price_yuan(train: &Train, seat: SeatClass) -> f64 {
    let base = match seat {
        SeatClass::NoSeat if train.code.starts_with(['G', 'D', 'C']) => SeatClass::Second,
        SeatClass::NoSeat => SeatClass::HardSeat,
        other => other,
    };
    f64::from(train.prices.get(&base).copied().unwrap_or(0)) / 10.0
}

fn train_class(code: &str) -> &'static str {
    match code.chars().next() {
        Some('G') => "GD",
        Some('D') => "D",
        Some('C') => "C",
        Some('Z') => "Z",
        Some('T') => "KT",
        Some('K') => "KS",
        _ => "PK",
    }
}

pub(super) async fn search(State(sim): State<Sim>, RawQuery(q): RawQuery, body: String) -> Response {
    let p = Params::new(q, &body);
    if let Some(r) = key_refusal(&sim, &p) {
        return r;
    }
    let (Some(from), Some(to), Some(date)) = (p.get("from"), p.get("to"), p.get("date")) else {
        return coded(ERR_PARAM, "101", "from, to and date are required");
    };
    let Some(date) = NaiveDate::parse_from_str(date, "%Y%m%d")
        .ok()
        .filter(|d| d.format("%Y%m%d").to_string() == date)
    else {
        return coded(ERR_PARAM, "205", "date must be YYYYMMDD");
    };
    let now = sim.now().naive_local();
    if date < now.date() {
        return coded(ERR_PARAM, "205", "");
    }
    sim.catch_up();
    let (from_city, to_city) = (city_codes(from), city_codes(to));
    let mut trains: Vec<&Train> = sim
        .inner
        .world
        .trains
        .iter()
        .filter(|t| from_city.contains(&t.from) && to_city.contains(&t.to))
        .collect();
    trains.sort_by_key(|t| (t.depart, t.code.clone()));
    let cells: Vec<_> = sim.with_state(|s| trains.iter().map(|t| s.seats.cells(t, date)).collect());

    let (json_trains, key_trains): (Vec<Value>, Vec<KeyTrain>) = trains
        .iter()
        .zip(cells)
        .enumerate()
        .map(|(i, (train, cells))| offer(i + 1, train, &cells, date, now))
        .unzip();
    let query_key = token(32, b"0123456789abcdef");
    let elapsed = sim.elapsed();
    sim.juhe().query_keys.insert(
        query_key.clone(),
        QueryKey {
            issued_at: elapsed,
            date,
            trains: key_trains,
        },
    );
    let (from_name, to_name) = (from.to_string(), to.to_string());
    success(json!({
        "queryKey": query_key,
        "fromStation": from_name,
        "toStation": to_name,
        "trainDate": date.format("%Y%m%d").to_string(),
        "pageIndex": 0,
        "pageSize": 0,
        "totalCount": json_trains.len(),
        "totalSize": 0,
        "trains": json_trains,
        "froms": [{"station": from_name, "location": ""}],
        "tos": [{"station": to_name, "location": ""}],
    }))
}

/// One train of a search answer (`serialNumber` `serial`), and what it promised for create.
fn offer(
    serial: usize,
    train: &Train,
    cells: &BTreeMap<SeatClass, Cell>,
    date: NaiveDate,
    now: NaiveDateTime,
) -> (Value, KeyTrain) {
    let (from_name, from_pinyin) = station_name(&train.from);
    let (to_name, to_pinyin) = station_name(&train.to);
    let mut tickets = serde_json::Map::new();
    let mut prices = BTreeMap::new();
    for (seat, cell) in cells {
        let Some(code) = seat.juhe_code() else {
            continue;
        };
        let price = price_yuan(train, *seat);
        prices.insert(code.to_string(), price);
        tickets.insert(
            code.to_string(),
            json!({
                "seatName": seat.name(),
                "price": price,
                "seatState": u8::from(cell.available()),
                "seats": cell.exact_count().to_string(),
                "upPrice": 0,
                "midPrice": 0,
                "downPrice": 0,
            }),
        );
    }
    let depart = date.and_time(train.depart);
    let book_state = if train.button_text != "预订" {
        2
    } else if depart - now < chrono::Duration::minutes(30) {
        3
    } else {
        1
    };
    let shown = json!({
        "serialNumber": serial,
        "trainNo": train.code,
        "fromTime": train.depart.format("%H:%M").to_string(),
        "toTime": train.arrive.format("%H:%M").to_string(),
        "fromStation": from_name,
        "fromStationCode": from_pinyin,
        "toStation": to_name,
        "toStationCode": to_pinyin,
        "runTimeSpan": minutes_between(train.depart, train.arrive).to_string(),
        "fromPassType": u8::from(train.from != train.origin),
        "toPassType": if train.to == train.terminus { 2 } else { 1 },
        "bookState": book_state,
        "trainClass": train_class(&train.code),
        "tickets": tickets,
        "miles": 0,
        "pullInByIdCard": 1,
        "note": "",
    });
    let promised = KeyTrain {
        code: train.code.clone(),
        from_name,
        to_name,
        from_code: train.from.clone(),
        to_code: train.to.clone(),
        depart: train.depart,
        arrive: train.arrive,
        prices,
    };
    (shown, promised)
}
