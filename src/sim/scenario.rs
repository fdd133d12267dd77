//! What the simulator serves: the scenario file format and its validated, ready-to-serve form.
//!
//! A scenario is written by people (`yupiao sim --scenario my.toml`, test harnesses), so it takes
//! the same loose input the watch list does (station names or telecodes, seat names, counts as
//! numbers or strings) and is checked in one pass that reports every problem at once. The
//! simulator itself only ever sees the validated [`World`]. The documented example and built-in
//! default is `default_scenario.toml`, next to this file.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use chrono::{NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};

use crate::seat::SeatClass;
use crate::stations::{Lookup, StationTable};

const BUILTIN: &str = include_str!("default_scenario.toml");

/// A scenario as written: trains, their seats, and a timeline of seat changes. Deserializes from
/// TOML (`[[train]]`, `[[step]]`) or JSON (`"train": [...]`, `"step": [...]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The query endpoint name the simulator starts with (`CLeftTicketUrl`).
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
    /// Presale window in days (`login/conf` `other_control`); later dates get the error redirect.
    #[serde(default = "default_presale_days")]
    pub presale_days: u32,
    /// Boarding station (name or telecode) → its daily sale time `HH:MM`, over the built-in
    /// table (`sim::sale::STATION_SALE_TIMES`).
    #[serde(default)]
    pub sale_times: BTreeMap<String, String>,
    /// Every train the simulator knows; each runs on every date of the presale window.
    #[serde(default, rename = "train")]
    pub trains: Vec<TrainSpec>,
    /// Seat changes applied when the simulator's clock passes their `at`.
    #[serde(default, rename = "step")]
    pub steps: Vec<StepSpec>,
}

/// One `[[train]]`: a train as seen from one boarding/alighting pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSpec {
    /// Station train code, `G8294`.
    pub code: String,
    /// Boarding / alighting station: telecode or anything `StationTable::lookup` accepts.
    pub from: String,
    pub to: String,
    /// Origin / terminus of the whole train; default to `from` / `to`.
    #[serde(default)]
    pub origin: Option<String>,
    #[serde(default)]
    pub terminus: Option<String>,
    /// `HH:MM` at the boarding / alighting station; an arrival before the departure is next day.
    pub depart: String,
    pub arrive: String,
    /// Row field 1; default `预订`.
    #[serde(default)]
    pub button_text: Option<String>,
    /// Row field 11; default `Y` when any seat is left, else `N`.
    #[serde(default)]
    pub can_web_buy: Option<String>,
    /// Row field 2; default synthesized from the code (`55000G829420` style).
    #[serde(default)]
    pub train_no: Option<String>,
    /// Row field 37 (候补 allowed); default true.
    #[serde(default)]
    pub houbu: Option<bool>,
    /// Row fields 16/17: stop numbers of the boarding and alighting stations.
    #[serde(default)]
    pub stops: Option<[u32; 2]>,
    /// `HH:MM` this train goes on sale (row field 55), instead of its boarding station's daily
    /// time (the scenario's `[sale_times]`, else the built-in table).
    #[serde(default)]
    pub sale_time: Option<String>,
    /// Seat name → cell: `无`, `有`, a count, `*` (not on sale yet). Absent classes are not on
    /// the train.
    #[serde(default)]
    pub seats: BTreeMap<String, CellInput>,
    /// Seat name → price in yuan; missing classes get a plausible price from the duration.
    #[serde(default)]
    pub prices: BTreeMap<String, f64>,
}

/// One `[[step]]` of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// Offset from the simulator's start, humantime (`15s`, `2m`).
    pub at: String,
    pub train: String,
    pub seat: String,
    pub left: CellInput,
    /// Only this date; default every date.
    #[serde(default)]
    pub date: Option<NaiveDate>,
}

/// A seat value as written: `"无"`, `"有"`, `"*"`, `""`, `"3"` or just `3`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CellInput {
    Count(u32),
    Text(String),
}

impl CellInput {
    /// The validated cell, or why not.
    pub fn to_cell(&self) -> Result<Cell, String> {
        match self {
            CellInput::Count(n) => Ok(Cell::from_count(*n)),
            CellInput::Text(t) => Cell::parse(t),
        }
    }
}

/// A seat cell value the simulator can serve (protocol doc §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// `""`: the class is not on this train.
    Absent,
    /// `无`
    None,
    /// `有`
    Plenty,
    /// `1`…
    Count(u32),
    /// `*`: not on sale yet.
    NotOnSale,
}

impl Cell {
    /// Count `0` is what the real service writes as `无`.
    pub fn from_count(n: u32) -> Cell {
        if n == 0 { Cell::None } else { Cell::Count(n) }
    }

    pub fn parse(text: &str) -> Result<Cell, String> {
        match text.trim() {
            "" | "--" => Ok(Cell::Absent),
            "无" => Ok(Cell::None),
            "有" => Ok(Cell::Plenty),
            "*" => Ok(Cell::NotOnSale),
            t => t
                .parse::<u32>()
                .map(Cell::from_count)
                .map_err(|_| format!("seat value {t:?} is not 无, 有, *, \"\" or a count")),
        }
    }

    /// Someone could buy this seat now.
    pub fn available(self) -> bool {
        matches!(self, Cell::Plenty | Cell::Count(_))
    }

    /// The count `yp_info_new` carries: exact, with `有` as 21 (the count observed behind 有).
    pub fn exact_count(self) -> u32 {
        match self {
            Cell::Plenty => 21,
            Cell::Count(n) => n,
            _ => 0,
        }
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Absent => Ok(()),
            Cell::None => f.write_str("无"),
            Cell::Plenty => f.write_str("有"),
            Cell::Count(n) => write!(f, "{n}"),
            Cell::NotOnSale => f.write_str("*"),
        }
    }
}

/// A validated scenario: what the simulator serves.
#[derive(Debug, Clone)]
pub(crate) struct World {
    pub endpoint: String,
    pub presale_days: u32,
    /// Telecode → daily sale time, from the scenario's `[sale_times]`.
    pub sale_times: BTreeMap<String, NaiveTime>,
    pub trains: Vec<Train>,
    /// Sorted by `at`.
    pub steps: Vec<Step>,
}

/// A validated `[[train]]`; stations are telecodes.
#[derive(Debug, Clone)]
pub(crate) struct Train {
    pub code: String,
    pub train_no: String,
    pub from: String,
    pub to: String,
    pub origin: String,
    pub terminus: String,
    pub depart: NaiveTime,
    pub arrive: NaiveTime,
    pub button_text: String,
    pub can_web_buy: Option<String>,
    pub houbu: bool,
    pub stops: [u32; 2],
    /// This train's own sale time; `None` = its boarding station's.
    pub sale_time: Option<NaiveTime>,
    /// The starting seat cells (Absent classes left out).
    pub seats: BTreeMap<SeatClass, Cell>,
    /// Price in jiao (yuan × 10) for every class that is or may become present.
    pub prices: BTreeMap<SeatClass, u32>,
}

/// A validated `[[step]]`.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    pub at: Duration,
    pub train: String,
    pub seat: SeatClass,
    pub left: Cell,
    pub date: Option<NaiveDate>,
}

fn default_endpoint() -> String {
    "leftTicket/queryG".to_string()
}

fn default_presale_days() -> u32 {
    15
}

impl Scenario {
    /// The built-in scenario (`default_scenario.toml`): Shanghai → Changzhou and Beijing →
    /// Shanghai, with G8294 二等座 coming and going on a timeline that `yupiao demo` shows.
    pub fn builtin() -> Scenario {
        Scenario::from_toml(BUILTIN).expect("the embedded default_scenario.toml is valid")
    }

    /// Parses and validates a TOML scenario, reporting every problem at once.
    pub fn from_toml(text: &str) -> anyhow::Result<Scenario> {
        let scenario: Scenario = toml::from_str(text)?;
        scenario.compile()?;
        Ok(scenario)
    }

    /// Reads a scenario file: JSON when it ends in `.json`, TOML otherwise.
    pub fn load(path: &Path) -> anyhow::Result<Scenario> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading scenario {}", path.display()))?;
        let is_json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let scenario: Scenario = if is_json {
            serde_json::from_str(&text).with_context(|| format!("{}", path.display()))?
        } else {
            toml::from_str(&text).with_context(|| format!("{}", path.display()))?
        };
        scenario
            .compile()
            .with_context(|| format!("{}", path.display()))?;
        Ok(scenario)
    }

    /// Validates everything and resolves names; the error lists every problem found.
    pub(crate) fn compile(&self) -> anyhow::Result<World> {
        let mut errors = Vec::new();
        if self.endpoint.trim().is_empty() {
            errors.push("endpoint: must not be empty".to_string());
        }
        if self.presale_days == 0 {
            errors.push("presale_days: must be at least 1".to_string());
        }
        let trains: Vec<Train> = self
            .trains
            .iter()
            .enumerate()
            .filter_map(|(i, t)| collect(&mut errors, t.compile(), &format!("train[{i}]")))
            .collect();
        let mut sale_times = BTreeMap::new();
        for (station, hhmm) in &self.sale_times {
            let code = check(
                &mut errors,
                resolve_station(station).map_err(|e| format!("sale_times: {e}")),
            );
            let time = check(&mut errors, parse_hhmm(&format!("sale_times.{station}"), hhmm));
            if let (Some(code), Some(time)) = (code, time) {
                sale_times.insert(code, time);
            }
        }
        let mut steps: Vec<Step> = self
            .steps
            .iter()
            .enumerate()
            .filter_map(|(i, s)| collect(&mut errors, s.compile(&trains), &format!("step[{i}]")))
            .collect();
        if !errors.is_empty() {
            anyhow::bail!(
                "scenario has {}:\n  {}",
                crate::text::count(errors.len(), "problem", "problems"),
                errors.join("\n  ")
            );
        }
        steps.sort_by_key(|s| s.at);
        Ok(World {
            endpoint: self.endpoint.trim().trim_start_matches('/').to_string(),
            presale_days: self.presale_days,
            sale_times,
            trains,
            steps,
        })
    }
}

fn collect<T>(errors: &mut Vec<String>, r: Result<T, Vec<String>>, at: &str) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(problems) => {
            errors.extend(problems.into_iter().map(|p| format!("{at}: {p}")));
            None
        }
    }
}

/// Resolves a station as a user may write it to its telecode.
pub(crate) fn resolve_station(text: &str) -> Result<String, String> {
    match StationTable::embedded().lookup(text) {
        Lookup::Found(s) => Ok(s.telecode.clone()),
        Lookup::Ambiguous(v) => Err(format!(
            "station {text:?} is ambiguous: {}",
            names(v.iter().map(|s| (s.name.as_str(), s.telecode.as_str())))
        )),
        Lookup::NotFound(v) if v.is_empty() => Err(format!("unknown station {text:?}")),
        Lookup::NotFound(v) => Err(format!(
            "unknown station {text:?} (did you mean {}?)",
            names(v.iter().map(|s| (s.name.as_str(), s.telecode.as_str())))
        )),
    }
}

fn names<'a>(it: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    it.map(|(n, c)| format!("{n} {c}")).collect::<Vec<_>>().join(", ")
}

pub(crate) fn parse_seat(text: &str) -> Result<SeatClass, String> {
    SeatClass::parse(text).ok_or_else(|| format!("unknown seat class {text:?}"))
}

fn parse_hhmm(what: &str, text: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(text.trim(), "%H:%M").map_err(|_| format!("{what}: {text:?} is not HH:MM"))
}

/// Pushes the error of `r` (if any) and returns its value.
fn check<T>(errors: &mut Vec<String>, r: Result<T, String>) -> Option<T> {
    r.map_err(|e| errors.push(e)).ok()
}

impl TrainSpec {
    fn compile(&self) -> Result<Train, Vec<String>> {
        let mut e = Vec::new();
        let code = self.code.trim().to_ascii_uppercase();
        if code.is_empty() {
            e.push("code: must not be empty".to_string());
        }
        let from = check(&mut e, resolve_station(&self.from));
        let to = check(&mut e, resolve_station(&self.to));
        let origin = match &self.origin {
            Some(o) => check(&mut e, resolve_station(o)),
            None => from.clone(),
        };
        let terminus = match &self.terminus {
            Some(t) => check(&mut e, resolve_station(t)),
            None => to.clone(),
        };
        let depart = check(&mut e, parse_hhmm("depart", &self.depart));
        let arrive = check(&mut e, parse_hhmm("arrive", &self.arrive));
        let sale_time = match self.sale_time.as_deref() {
            Some(t) => check(&mut e, parse_hhmm("sale_time", t)).map(Some),
            None => Some(None),
        };
        let seats = self.compile_seats(&mut e);
        let explicit = self.compile_prices(&mut e);
        let (Some(from), Some(to), Some(origin), Some(terminus), Some(depart), Some(arrive), Some(sale_time)) =
            (from, to, origin, terminus, depart, arrive, sale_time)
        else {
            return Err(prefix(&code, e));
        };
        if !e.is_empty() {
            return Err(prefix(&code, e));
        }
        let minutes = super::rail::minutes_between(depart, arrive);
        let prices = SeatClass::ALL
            .iter()
            .map(|&c| {
                let jiao = explicit
                    .get(&c)
                    .copied()
                    .unwrap_or_else(|| default_price_jiao(c, &code, minutes));
                (c, jiao)
            })
            .collect();
        let stops = self.stops.unwrap_or_else(|| default_stops(&from, &origin));
        Ok(Train {
            train_no: self
                .train_no
                .clone()
                .unwrap_or_else(|| synth_train_no(&code, &origin)),
            code,
            from,
            to,
            origin,
            terminus,
            depart,
            arrive,
            button_text: self.button_text.clone().unwrap_or_else(|| "预订".into()),
            can_web_buy: self.can_web_buy.clone(),
            houbu: self.houbu.unwrap_or(true),
            stops,
            sale_time,
            seats,
            prices,
        })
    }

    fn compile_seats(&self, e: &mut Vec<String>) -> BTreeMap<SeatClass, Cell> {
        let mut seats = BTreeMap::new();
        for (name, value) in &self.seats {
            let seat = check(e, parse_seat(name));
            let cell = check(e, value.to_cell().map_err(|m| format!("seats.{name}: {m}")));
            if let (Some(seat), Some(cell)) = (seat, cell)
                && cell != Cell::Absent
            {
                seats.insert(seat, cell);
            }
        }
        seats
    }

    fn compile_prices(&self, e: &mut Vec<String>) -> BTreeMap<SeatClass, u32> {
        let mut prices = BTreeMap::new();
        for (name, &yuan) in &self.prices {
            let Some(seat) = check(e, parse_seat(name)) else {
                continue;
            };
            if !(0.0..=9999.9).contains(&yuan) {
                e.push(format!("prices.{name}: {yuan} is outside 0–9999.9"));
                continue;
            }
            prices.insert(seat, (yuan * 10.0).round() as u32);
        }
        prices
    }
}

fn prefix(code: &str, problems: Vec<String>) -> Vec<String> {
    problems.into_iter().map(|p| format!("({code}) {p}")).collect()
}

fn default_stops(from: &str, origin: &str) -> [u32; 2] {
    let board = if from == origin { 1 } else { 3 };
    [board, board + 4]
}

/// `55000G829420` style: 2-character bureau prefix, the code zero-padded to 8, a 2-digit suffix.
fn synth_train_no(code: &str, origin: &str) -> String {
    let bureau = origin.chars().last().map_or('0', |c| c.to_ascii_lowercase());
    format!("5{bureau}{code:0>8}20")
}

/// A plausible fare (in jiao) from the duration: rates per minute loosely follow 2024 fares.
fn default_price_jiao(seat: SeatClass, code: &str, minutes: u32) -> u32 {
    let high_speed = code.starts_with(['G', 'D', 'C']);
    let per_minute = match seat {
        SeatClass::Business => 4.2,
        SeatClass::Special => 2.5,
        SeatClass::First => 2.1,
        SeatClass::Second => 1.3,
        SeatClass::AdvancedSoftSleeper => 1.6,
        SeatClass::SoftSleeper => 0.9,
        SeatClass::EmuSleeper => 1.2,
        SeatClass::HardSleeper => 0.6,
        SeatClass::SoftSeat => 0.5,
        SeatClass::HardSeat | SeatClass::Other => 0.3,
        SeatClass::NoSeat if high_speed => 1.3,
        SeatClass::NoSeat => 0.3,
    };
    let yuan = (per_minute * f64::from(minutes.max(10)) * 2.0).round() / 2.0;
    (yuan * 10.0) as u32
}

impl StepSpec {
    fn compile(&self, trains: &[Train]) -> Result<Step, Vec<String>> {
        let mut e = Vec::new();
        let at = check(
            &mut e,
            humantime::parse_duration(self.at.trim())
                .map_err(|err| format!("at: {:?} is not a duration like 15s: {err}", self.at)),
        );
        let train = self.train.trim().to_ascii_uppercase();
        if !trains.iter().any(|t| t.code == train) {
            e.push(format!(
                "train {:?} is not a [[train]] of this scenario",
                self.train
            ));
        }
        let seat = check(&mut e, parse_seat(&self.seat));
        let left = check(&mut e, self.left.to_cell().map_err(|m| format!("left: {m}")));
        match (at, seat, left) {
            (Some(at), Some(seat), Some(left)) if e.is_empty() => Ok(Step {
                at,
                train,
                seat,
                left,
                date: self.date,
            }),
            _ => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_scenario_is_valid_and_has_the_demo_timeline() {
        let world = Scenario::builtin().compile().unwrap();
        assert_eq!(world.endpoint, "leftTicket/queryG");
        assert_eq!(world.presale_days, 15);
        let g8294 = world.trains.iter().find(|t| t.code == "G8294").unwrap();
        assert_eq!((g8294.from.as_str(), g8294.to.as_str()), ("SHH", "CZH"));
        assert_eq!(g8294.seats[&SeatClass::Second], Cell::None);
        let timeline: Vec<(u64, String)> = world
            .steps
            .iter()
            .filter(|s| s.train == "G8294" && s.seat == SeatClass::Second)
            .map(|s| (s.at.as_secs(), s.left.to_string()))
            .collect();
        assert_eq!(timeline, [(20, "3".into()), (35, "5".into()), (50, "无".into())]);
    }

    #[test]
    fn every_problem_of_a_scenario_is_reported_at_once() {
        let text = r#"
            [[train]]
            code = "G1"
            from = "北京难"
            to = "AOH"
            depart = "7:00am"
            arrive = "11:29"
            seats = { "三等座" = "有", "二等座" = "lots" }
            [[step]]
            at = "soon"
            train = "G2"
            seat = "二等座"
            left = 3
        "#;
        let err = format!("{:#}", Scenario::from_toml(text).unwrap_err());
        for needle in ["北京难", "depart", "三等座", "lots", "soon", "\"G2\""] {
            assert!(err.contains(needle), "{needle} missing from: {err}");
        }
    }

    #[test]
    fn seat_values_may_be_numbers_or_strings_and_zero_means_none() {
        let text = r#"
            [[train]]
            code = "g7158"
            from = "上海虹桥"
            to = "changzhoubei"
            depart = "15:10"
            arrive = "15:58"
            seats = { "二等座" = 0, "一等座" = "4", "商务座" = "*", "硬座" = "" }
        "#;
        let world = Scenario::from_toml(text).unwrap().compile().unwrap();
        let t = &world.trains[0];
        assert_eq!(
            (t.code.as_str(), t.from.as_str(), t.to.as_str()),
            ("G7158", "AOH", "ESH")
        );
        assert_eq!(t.seats[&SeatClass::Second], Cell::None);
        assert_eq!(t.seats[&SeatClass::First], Cell::Count(4));
        assert_eq!(t.seats[&SeatClass::Business], Cell::NotOnSale);
        assert!(!t.seats.contains_key(&SeatClass::HardSeat));
        assert_eq!(t.train_no, "5h000G715820");
    }

    #[test]
    fn json_scenarios_load_like_toml_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let json = r#"{"presale_days": 30, "train": [{"code": "G1", "from": "VNP", "to": "AOH",
            "depart": "07:00", "arrive": "11:29", "seats": {"二等座": "有"}}],
            "step": [{"at": "1s", "train": "G1", "seat": "二等座", "left": "无"}]}"#;
        std::fs::write(&path, json).unwrap();
        let s = Scenario::load(&path).unwrap();
        assert_eq!(s.presale_days, 30);
        assert_eq!(s.endpoint, "leftTicket/queryG");
        assert_eq!(s.steps.len(), 1);
    }

    #[test]
    fn default_prices_are_plausible() {
        let second = default_price_jiao(SeatClass::Second, "G8294", 69);
        assert!((600..=1500).contains(&second), "{second}");
        assert!(default_price_jiao(SeatClass::Business, "G8294", 69) > second);
    }
}
