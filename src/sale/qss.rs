//! `qss.js`: 12306's table of each station's daily sale-opening time, and where to find it.
//!
//! 12306's index page (`https://www.12306.cn/index/index.html`) links
//! `./script/core/common/qss_vNNNNN.js` (versions 10026 to 10082 appear in public clients; the
//! unversioned `qss.js` at the same place is fetched daily by others, and older clients used
//! `https://kyfw.12306.cn/otn/resources/js/query/qss.js`, `tzwsoho/gogo12306:ticket/train_info.go`).
//! The body is a UTF-8 BOM and `var citys = {"站名":"HH:MM",…}` (protocol doc §4). It names
//! stations by **name**, some space-padded like the pseudo-stations of `station_name.js`
//! (`"厦 门"`, `"包头 东"` in a 2026 copy, `SilenceWanna/auto-grab:src/data/station_release_time.json`).
//!
//! This module is pure: [`decode_qss`] turns a body into a [`QssTable`], [`parse_qss_link`]
//! finds the script in a page. The client fetches it ([`crate::rail::client::RailClient::fetch_qss`]);
//! the daemon caches the body and refetches at most daily.

use std::collections::BTreeMap;

use chrono::NaiveTime;
use serde_json::Value;

use crate::text::snippet;

/// Where `qss.js` is when no page was read: the index page's directory, unversioned.
pub const DEFAULT_QSS_URL: &str = "https://www.12306.cn/index/script/core/common/qss.js";
/// The page that links the current (versioned) `qss.js`.
pub const INDEX_URL: &str = "https://www.12306.cn/index/index.html";

/// Each station's daily sale time, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QssTable {
    /// Name exactly as `qss.js` writes it → time.
    exact: BTreeMap<String, NaiveTime>,
    /// Name without whitespace → time (`"厦 门"` is found as `厦门`); exact names win.
    squeezed: BTreeMap<String, NaiveTime>,
    /// Entries whose value is not a time, as `name: value` (reported, not guessed at).
    pub skipped: Vec<String>,
}

/// Why a body is not a `qss.js`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QssError {
    /// No `citys` object: an error page, a login page, a renamed variable.
    #[error("not a qss.js (no `var citys = {{…}}`): {0}")]
    NotQss(String),
    /// The object is there but is not JSON.
    #[error("qss.js `citys` is not readable: {0}")]
    Malformed(String),
    /// Readable, but no station has a time.
    #[error("qss.js names no station with a sale time")]
    Empty,
}

impl QssTable {
    /// The daily sale time of the station named `name` (exact name first, then ignoring spaces).
    pub fn time_of(&self, name: &str) -> Option<NaiveTime> {
        self.exact
            .get(name)
            .or_else(|| self.squeezed.get(&squeeze(name)))
            .copied()
    }

    /// Stations with a time.
    pub fn len(&self) -> usize {
        self.exact.len()
    }

    pub fn is_empty(&self) -> bool {
        self.exact.is_empty()
    }

    /// (name as written, time), by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, NaiveTime)> {
        self.exact.iter().map(|(n, t)| (n.as_str(), *t))
    }
}

fn squeeze(name: &str) -> String {
    name.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Decodes a `qss.js` body: an optional BOM, `var citys =` (spacing varies), a JSON object of
/// `"站名":"HH:MM"`, an optional `;`. Values that are not `H:MM`/`HH:MM` are listed in
/// [`QssTable::skipped`]; a body that names no time at all is [`QssError::Empty`].
///
/// ```
/// use yupiao::sale::qss::decode_qss;
/// let t = decode_qss("\u{feff}var citys = {\"上海虹桥\":\"13:30\",\"厦 门\":\"15:00\"};").unwrap();
/// assert_eq!(t.time_of("上海虹桥").unwrap().to_string(), "13:30:00");
/// assert_eq!(t.time_of("厦门").unwrap().to_string(), "15:00:00");
/// ```
pub fn decode_qss(body: &str) -> Result<QssTable, QssError> {
    let text = body.trim_start_matches('\u{feff}').trim();
    let Some(at) = text.find("citys") else {
        return Err(QssError::NotQss(snippet(text, 80)));
    };
    let rest = text[at + "citys".len()..].trim_start();
    let Some(rest) = rest.strip_prefix('=') else {
        return Err(QssError::NotQss(snippet(text, 80)));
    };
    let rest = rest.trim_start();
    let (Some(0), Some(end)) = (rest.find('{'), rest.rfind('}')) else {
        return Err(QssError::NotQss(snippet(text, 80)));
    };
    let object: serde_json::Map<String, Value> =
        serde_json::from_str(&rest[..=end]).map_err(|e| QssError::Malformed(e.to_string()))?;
    let mut table = QssTable::default();
    for (name, value) in object {
        match value.as_str().and_then(parse_time) {
            Some(t) => {
                table.exact.insert(name, t);
            }
            None => table.skipped.push(format!("{name}: {value}")),
        }
    }
    for (name, t) in &table.exact {
        let key = squeeze(name);
        if key == *name || !table.exact.contains_key(&key) {
            table.squeezed.insert(key, *t);
        }
    }
    if table.exact.is_empty() {
        return Err(QssError::Empty);
    }
    Ok(table)
}

/// `9:00`, `09:00`, `18:30`.
fn parse_time(s: &str) -> Option<NaiveTime> {
    let (h, m) = s.trim().split_once(':')?;
    let ok = |x: &str, n: usize| (1..=n).contains(&x.len()) && x.bytes().all(|b| b.is_ascii_digit());
    if !ok(h, 2) || m.len() != 2 || !ok(m, 2) {
        return None;
    }
    NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, 0)
}

/// The `src` of the first `qss*.js` script a page links (`./script/core/common/qss_v10082.js`),
/// as written; resolve it with [`resolve_link`].
pub fn parse_qss_link(html: &str) -> Option<String> {
    let mut rest = html;
    while let Some(at) = rest.find("src") {
        let after = rest[at + 3..].trim_start();
        rest = &rest[at + 3..];
        let Some(after) = after.strip_prefix('=') else {
            continue;
        };
        let after = after.trim_start();
        let Some(quote) = after.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            continue;
        };
        let inner = &after[1..];
        let Some(end) = inner.find(quote) else {
            continue;
        };
        let link = inner[..end].trim();
        let file = link.split(['?', '#']).next().unwrap_or("");
        let file = file.rsplit('/').next().unwrap_or("");
        if file.starts_with("qss") && file.ends_with(".js") {
            return Some(link.to_string());
        }
    }
    None
}

/// `link` as found on the page at `page_url`, made absolute (`./script/…` on
/// `https://www.12306.cn/index/index.html` → `https://www.12306.cn/index/script/…`).
pub fn resolve_link(page_url: &str, link: &str) -> Option<String> {
    let base = url::Url::parse(page_url).ok()?;
    base.join(link).ok().map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    /// The first entries of the 2026 copy (`SilenceWanna/auto-grab`), with its spaced names,
    /// wrapped as 12306 serves it: BOM, `var citys =`, no newline.
    const REAL_2026: &str = "\u{feff}var citys = {\"一间堡\": \"16:30\", \"上海\": \"14:30\", \"上海南\": \"14:30\", \"上海虹桥\": \"13:30\", \"上海西\": \"14:30\", \"北京南\": \"12:30\", \"包头 东\": \"15:00\", \"包头东\": \"14:30\", \"厦 门\": \"15:00\", \"松江南\": \"09:30\", \"常州\": \"17:00\"}";

    #[test]
    fn the_real_table_decodes_with_its_bom_and_spaced_names() {
        let table = decode_qss(REAL_2026).unwrap();
        assert_eq!(table.len(), 11);
        assert!(table.skipped.is_empty());
        assert_eq!(table.time_of("上海虹桥"), Some(t(13, 30)));
        assert_eq!(table.time_of("上海"), Some(t(14, 30)));
        assert_eq!(table.time_of("松江南"), Some(t(9, 30)));
        assert_eq!(table.time_of("厦门"), Some(t(15, 0)), "found without its space");
        assert_eq!(table.time_of("厦 门"), Some(t(15, 0)));
        assert_eq!(
            table.time_of("包头东"),
            Some(t(14, 30)),
            "the unspaced entry wins over the spaced one"
        );
        assert_eq!(table.time_of("包头 东"), Some(t(15, 0)));
        assert_eq!(table.time_of("常州北"), None);
    }

    #[test]
    fn spacing_newlines_a_trailing_semicolon_and_short_hours_are_tolerated() {
        for body in [
            "var citys={\"北京南\":\"12:30\"};",
            "\u{feff}\r\n var   citys =\n{ \"北京南\" : \"12:30\" } ;\n",
        ] {
            assert_eq!(
                decode_qss(body).unwrap().time_of("北京南"),
                Some(t(12, 30)),
                "{body:?}"
            );
        }
        let t9 = decode_qss("var citys = {\"乌鲁木齐\":\"9:00\"}").unwrap();
        assert_eq!(t9.time_of("乌鲁木齐"), Some(t(9, 0)));
    }

    #[test]
    fn values_that_are_not_times_are_reported_not_guessed() {
        let table =
            decode_qss(r#"var citys = {"甲":"25:00","乙":"","丙":12,"丁":"8:5","戊":"08:30"}"#).unwrap();
        assert_eq!(table.len(), 1);
        assert_eq!(table.time_of("戊"), Some(t(8, 30)));
        assert_eq!(table.skipped.len(), 4, "{:?}", table.skipped);
        assert!(table.skipped.iter().any(|s| s.starts_with("甲: ")));
    }

    #[test]
    fn pages_that_are_not_qss_are_errors_naming_the_case() {
        assert!(matches!(
            decode_qss("<html>error</html>"),
            Err(QssError::NotQss(_))
        ));
        assert!(matches!(
            decode_qss("var station_names ='@bjb|北京北'"),
            Err(QssError::NotQss(_))
        ));
        assert!(matches!(decode_qss(""), Err(QssError::NotQss(_))));
        assert!(matches!(
            decode_qss("var citys = {\"北京南\" 12:30}"),
            Err(QssError::Malformed(_))
        ));
        assert_eq!(decode_qss("var citys = {}"), Err(QssError::Empty));
        assert_eq!(decode_qss("var citys = {\"甲\":\"x\"}"), Err(QssError::Empty));
    }

    #[test]
    fn the_link_is_found_in_the_index_page_and_made_absolute() {
        let html = r#"<script src="./script/core/common/station_name_v10027.js"></script>
            <script type="text/javascript" src = './script/core/common/qss_v10082.js?v=1'></script>"#;
        let link = parse_qss_link(html).unwrap();
        assert_eq!(link, "./script/core/common/qss_v10082.js?v=1");
        assert_eq!(
            resolve_link(INDEX_URL, &link).as_deref(),
            Some("https://www.12306.cn/index/script/core/common/qss_v10082.js?v=1")
        );
        assert_eq!(
            resolve_link(
                "http://127.0.0.1:8080/index/index.html",
                "/otn/resources/js/query/qss.js"
            )
            .as_deref(),
            Some("http://127.0.0.1:8080/otn/resources/js/query/qss.js")
        );
        assert_eq!(parse_qss_link("<script src=\"/js/qssx.css\"></script>"), None);
        assert_eq!(parse_qss_link("no scripts"), None);
    }

    #[test]
    fn no_truncation_of_a_real_body_panics() {
        for (i, _) in REAL_2026.char_indices() {
            let _ = decode_qss(&REAL_2026[..i]);
            let _ = decode_qss(&REAL_2026[i..]);
        }
    }
}
