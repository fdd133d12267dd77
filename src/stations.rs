//! The station table: every 12306 station, embedded at build time from the real `station_name.js`.
//!
//! Users name stations however they know them (上海虹桥, `shanghaihongqiao`, `shhq`, `AOH`); 12306
//! only speaks telecodes. This module turns one into the other, groups stations by city for
//! `same_city` watches, and suggests the nearest names when a lookup fails.
//!
//! The loader accepts both formats 12306 has shipped (protocol doc §4): the old 6-field records
//! `abbr|name|telecode|pinyin|short|index` and the current 11-field ones that append
//! `citycode|cityname|countrycode|countryname|english`, with or without the
//! `var station_names ='…';` wrapper. The telecode is the key: duplicated records are dropped,
//! space-padded pseudo-stations (`济  南` EEI) are kept but never shadow a real name.

use std::collections::HashMap;
use std::sync::OnceLock;

/// One station record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Station {
    /// Chinese name as 12306 shows it (trimmed; inner padding of pseudo-stations kept).
    pub name: String,
    /// Three-letter code used in every query (`AOH`).
    pub telecode: String,
    /// Full pinyin (`shanghaihongqiao`).
    pub pinyin: String,
    /// Short pinyin (`shhq`).
    pub short: String,
    /// Prefecture-level city code (`0357` for 北京); empty in the old format.
    pub city_code: String,
    /// City name (`北京`); empty in the old format.
    pub city: String,
    /// Country name for cross-border stations (老挝), empty for China.
    pub country: String,
}

/// How a user's station text resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<'a> {
    Found(&'a Station),
    /// Several stations share this short pinyin or name; the user must be more specific.
    Ambiguous(Vec<&'a Station>),
    /// Nothing matched; the nearest names, best first.
    NotFound(Vec<&'a Station>),
}

/// A loaded station list with its indexes.
#[derive(Debug, Default)]
pub struct StationTable {
    stations: Vec<Station>,
    by_telecode: HashMap<String, usize>,
    by_name: HashMap<String, usize>,
    by_pinyin: HashMap<String, Vec<usize>>,
    by_short: HashMap<String, Vec<usize>>,
    by_city: HashMap<String, Vec<usize>>,
}

/// Problems a station list can have that make it unusable.
#[derive(Debug, thiserror::Error)]
pub enum StationListError {
    #[error("station list has no records (expected `@abbr|name|telecode|pinyin|short|index…`)")]
    Empty,
}

static EMBEDDED: OnceLock<StationTable> = OnceLock::new();

fn name_key(name: &str) -> String {
    name.chars().filter(|c| !c.is_whitespace()).collect()
}

impl StationTable {
    /// The table built into the binary (3364 stations, 2026-04).
    pub fn embedded() -> &'static StationTable {
        EMBEDDED.get_or_init(|| {
            StationTable::parse(include_str!("../data/station_name.js"))
                .expect("embedded station_name.js is valid")
        })
    }

    /// Parses a station list in either format, with or without its JavaScript wrapper.
    pub fn parse(text: &str) -> Result<StationTable, StationListError> {
        let body = match text.find('\'') {
            Some(start) => {
                let rest = &text[start + 1..];
                rest.rfind('\'').map_or(rest, |end| &rest[..end])
            }
            None => text,
        };
        let mut table = StationTable::default();
        for record in body.split('@') {
            let f: Vec<&str> = record.trim().split('|').collect();
            if f.len() < 5 || f[2].trim().is_empty() {
                continue;
            }
            let get = |i: usize| f.get(i).map(|s| s.trim().to_string()).unwrap_or_default();
            let station = Station {
                name: get(1),
                telecode: get(2).to_ascii_uppercase(),
                pinyin: get(3).to_ascii_lowercase(),
                short: get(4).to_ascii_lowercase(),
                city_code: get(6),
                city: get(7),
                country: get(9),
            };
            table.insert(station);
        }
        if table.stations.is_empty() {
            return Err(StationListError::Empty);
        }
        Ok(table)
    }

    fn insert(&mut self, s: Station) {
        if self.by_telecode.contains_key(&s.telecode) {
            return;
        }
        let i = self.stations.len();
        self.by_telecode.insert(s.telecode.clone(), i);
        let key = name_key(&s.name);
        let padded = key != s.name;
        match self.by_name.get(&key) {
            Some(_) if padded => {}
            _ => {
                self.by_name.insert(key, i);
            }
        }
        self.by_pinyin.entry(s.pinyin.clone()).or_default().push(i);
        self.by_short.entry(s.short.clone()).or_default().push(i);
        if !s.city_code.is_empty() {
            self.by_city.entry(s.city_code.clone()).or_default().push(i);
        }
        self.stations.push(s);
    }

    /// Number of distinct stations.
    pub fn len(&self) -> usize {
        self.stations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.stations.is_empty()
    }

    /// All stations in file order.
    pub fn iter(&self) -> impl Iterator<Item = &Station> {
        self.stations.iter()
    }

    /// The station with this telecode.
    pub fn by_telecode(&self, code: &str) -> Option<&Station> {
        self.by_telecode
            .get(&code.trim().to_ascii_uppercase())
            .map(|&i| &self.stations[i])
    }

    /// The station with this Chinese name (whitespace ignored).
    pub fn by_name(&self, name: &str) -> Option<&Station> {
        self.by_name.get(&name_key(name)).map(|&i| &self.stations[i])
    }

    /// Resolves what a user wrote: Chinese name, full pinyin, short pinyin or telecode, in that
    /// order of preference. A 3-letter upper-case text is read as a telecode first.
    ///
    /// ```
    /// use yupiao::stations::{Lookup, StationTable};
    /// let table = StationTable::embedded();
    /// for text in ["上海虹桥", "shanghaihongqiao", "shhq", "AOH"] {
    ///     assert!(matches!(table.lookup(text), Lookup::Found(s) if s.telecode == "AOH"));
    /// }
    /// assert!(matches!(table.lookup("北京难"), Lookup::NotFound(near) if near.iter().any(|s| s.name == "北京南")));
    /// ```
    pub fn lookup(&self, text: &str) -> Lookup<'_> {
        let t = text.trim();
        if t.is_empty() {
            return Lookup::NotFound(Vec::new());
        }
        let is_code = t.len() == 3 && t.chars().all(|c| c.is_ascii_uppercase());
        if is_code && let Some(s) = self.by_telecode(t) {
            return Lookup::Found(s);
        }
        if let Some(s) = self.by_name(t) {
            return Lookup::Found(s);
        }
        let lower = t.to_ascii_lowercase();
        // "bjp" is the telecode of 北京 and the short pinyin of 白鸡坡: never pick one silently.
        let as_code = (t.len() == 3 && t.chars().all(|c| c.is_ascii_alphabetic()))
            .then(|| self.by_telecode(t))
            .flatten();
        for index in [&self.by_pinyin, &self.by_short] {
            if let Some(ids) = index.get(&lower) {
                let mut found: Vec<&Station> = ids.iter().map(|&i| &self.stations[i]).collect();
                if let Some(code) = as_code
                    && !found.iter().any(|s| s.telecode == code.telecode)
                {
                    found.insert(0, code);
                }
                return match found.as_slice() {
                    [one] => Lookup::Found(one),
                    _ => Lookup::Ambiguous(found),
                };
            }
        }
        if let Some(s) = as_code {
            return Lookup::Found(s);
        }
        Lookup::NotFound(self.nearest(t, 5))
    }

    /// Every station of the same prefecture-level city (including `s`); just `s` when the list
    /// carries no city codes.
    pub fn same_city(&self, s: &Station) -> Vec<&Station> {
        match self.by_city.get(&s.city_code) {
            Some(ids) if !s.city_code.is_empty() => ids.iter().map(|&i| &self.stations[i]).collect(),
            _ => self.by_telecode(&s.telecode).into_iter().collect(),
        }
    }

    /// Stations for `yupiao stations QUERY`: exact matches first, then every station of a city
    /// with that name, then stations whose name or pinyin starts with or contains the query.
    pub fn search(&self, query: &str) -> Vec<&Station> {
        let q = query.trim();
        let key = name_key(q);
        let lower = key.to_ascii_lowercase();
        let mut ids: Vec<usize> = Vec::new();
        let mut add = |s: &Station| {
            let i = self.by_telecode[&s.telecode];
            if !ids.contains(&i) {
                ids.push(i);
            }
        };
        match self.lookup(q) {
            Lookup::Found(s) => add(s),
            Lookup::Ambiguous(v) => v.into_iter().for_each(&mut add),
            Lookup::NotFound(_) => {}
        }
        if key.is_empty() {
            return ids.into_iter().map(|i| &self.stations[i]).collect();
        }
        let tiers: [&dyn Fn(&Station) -> bool; 3] = [
            &|s| !s.city.is_empty() && s.city == key,
            &|s| name_key(&s.name).starts_with(&key) || s.pinyin.starts_with(&lower),
            &|s| name_key(&s.name).contains(&key),
        ];
        for tier in tiers {
            self.stations.iter().filter(|s| tier(s)).for_each(&mut add);
        }
        ids.into_iter().map(|i| &self.stations[i]).collect()
    }

    /// The `n` stations whose name, pinyin or short pinyin is closest to `text` (edit distance).
    pub fn nearest(&self, text: &str, n: usize) -> Vec<&Station> {
        let key = name_key(text);
        let lower = key.to_ascii_lowercase();
        let ascii = lower.is_ascii();
        let mut scored: Vec<(usize, usize, &Station)> = self
            .stations
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let d = if ascii {
                    levenshtein(&lower, &s.pinyin).min(levenshtein(&lower, &s.short))
                } else {
                    levenshtein(&key, &name_key(&s.name))
                };
                (d, i, s)
            })
            .collect();
        scored.sort_by_key(|(d, i, _)| (*d, *i));
        let limit = (key.chars().count() / 2).max(1) + 1;
        scored
            .into_iter()
            .filter(|(d, _, _)| *d <= limit)
            .take(n)
            .map(|(_, _, s)| s)
            .collect()
    }
}

/// Edit distance over characters (Chinese names are compared character by character).
pub fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD_2021: &str = include_str!("../tests/fixtures/stations/station_name.2021-01.testerSunshine.txt");
    const OLD_2024: &str = include_str!("../tests/fixtures/stations/stations.2024-04.py12306.txt");

    #[test]
    fn embedded_table_has_every_current_station() {
        let t = StationTable::embedded();
        assert_eq!(t.len(), 3364);
        assert_eq!(t.by_name("北京南").unwrap().telecode, "VNP");
        assert_eq!(t.by_telecode("aoh").unwrap().name, "上海虹桥");
    }

    #[test]
    fn lookup_accepts_name_pinyin_short_pinyin_and_telecode() {
        let t = StationTable::embedded();
        for text in ["上海虹桥", "shanghaihongqiao", "shhq", "AOH", " 上海虹桥 "] {
            match t.lookup(text) {
                Lookup::Found(s) => assert_eq!(s.telecode, "AOH", "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_lowercase_telecode_that_is_also_a_short_pinyin_is_ambiguous() {
        let t = StationTable::embedded();
        match t.lookup("bjp") {
            Lookup::Ambiguous(v) => {
                let codes: Vec<&str> = v.iter().map(|s| s.telecode.as_str()).collect();
                assert!(codes.contains(&"BJP"), "{codes:?}");
                assert!(codes.len() >= 2, "{codes:?}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(t.lookup("BJP"), Lookup::Found(s) if s.name == "北京"));
        assert!(matches!(t.lookup("czh"), Lookup::Found(s) if s.telecode == "CZH"));
    }

    #[test]
    fn unknown_station_suggests_the_nearest_names() {
        let t = StationTable::embedded();
        match t.lookup("北京难") {
            Lookup::NotFound(near) => {
                assert!(near.iter().any(|s| s.name == "北京南"), "{near:?}")
            }
            other => panic!("{other:?}"),
        }
        match t.lookup("shanghaihongqia") {
            Lookup::NotFound(near) => assert_eq!(near[0].telecode, "AOH"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn same_city_groups_by_prefecture_code() {
        let t = StationTable::embedded();
        let sh = t.by_telecode("SHH").unwrap();
        let codes: Vec<&str> = t.same_city(sh).iter().map(|s| s.telecode.as_str()).collect();
        for c in ["SHH", "AOH", "SNH", "SXH"] {
            assert!(codes.contains(&c), "{c} missing from {codes:?}");
        }
        assert!(!codes.contains(&"CZH"));
        let bj: Vec<&str> = t.search("北京").iter().map(|s| s.telecode.as_str()).collect();
        assert_eq!(bj[0], "BJP");
        assert!(bj.contains(&"VNP") && bj.contains(&"BXP"));
    }

    #[test]
    fn old_six_field_list_with_duplicates_and_padding_loads() {
        let t = StationTable::parse(OLD_2021).unwrap();
        assert!(t.len() >= 3100, "{}", t.len());
        assert_eq!(t.by_telecode("FNU").unwrap().name, "阜宁南");
        assert_eq!(t.by_telecode("EEI").unwrap().name, "济  南");
        assert_eq!(
            t.by_name("济南").unwrap().telecode,
            "JNK",
            "padded pseudo-station shadowed 济南"
        );
        assert_eq!(t.same_city(t.by_telecode("VNP").unwrap()).len(), 1);
    }

    #[test]
    fn list_without_the_javascript_wrapper_loads() {
        let t = StationTable::parse(OLD_2024).unwrap();
        assert_eq!(t.len(), 3319);
        assert_eq!(t.by_name("北京大兴").unwrap().telecode, "IPP");
    }

    #[test]
    fn an_empty_list_is_an_error() {
        assert!(StationTable::parse("var station_names ='';").is_err());
    }
}
