//! Pure decoder for 12306 leftTicket answers: `&str` → [`LeftTicketPage`] or a typed error.
//!
//! 12306 answers the same query in many shapes (protocol doc §2–§3): data, a renamed endpoint, an
//! HTML error page, a bare digit, a risk-control sentence, rows of 37 to 57 `|`-separated fields.
//! The HTTP client must branch on which one it got (follow `c_url`, back off, alert), so this
//! module turns a body into either a page of typed rows or an error naming the case, without
//! touching the network or the clock. It never panics, whatever the body.
//!
//! It runs for every query of every watch, so it builds only what a watch reads: the JSON is
//! read in one pass into the members used (`wire.rs`), rows are sliced, not copied ([`Field`]:
//! borrowed from the body; inline when short for pages that outlive it), and seat cells are
//! read when a class is asked for ([`SeatCells`]). `cargo bench --bench decoder` measures it
//! against `serde_json` parsing the same body.
//!
//! Decisions beyond the protocol doc:
//! - A seat cell that is none of `""`, `--`, `无`, `有`, digits or `*` is left out of
//!   [`TrainRow::seats`] (read as "class not on this train") rather than guessed at.
//! - A non-JSON body containing a [`RISK_PHRASES`] entry is [`LeftTicketError::Refused`], not
//!   `Malformed`: 12306 sometimes answers risk control as plain text.
//! - `yp_info_new` only enriches cells that exist; when two groups map to one class (`M` and
//!   优选 `D`), the first one wins.

mod field;
mod row;
mod wire;

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::Value;

pub use self::field::Field;
use self::row::TooFewFields;
pub use self::row::{
    MIN_ROW_FIELDS, SeatCell, SeatCells, SeatLeft, TrainRow, YpEntry, parse_seat_cell, parse_yp_info_new,
};
use self::wire::{Data, Envelope, Row, Rows, Top};
pub use super::throttle::{RISK_PHRASES, find_risk_phrase};
use crate::text::snippet;

/// How much of a body an error message quotes.
const QUOTED_CHARS: usize = 60;

/// One decoded leftTicket answer. `'a` is the body it borrows from; pages that outlive their
/// body ([`decode_left_ticket_owned`]) are `LeftTicketPage<'static>`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeftTicketPage<'a> {
    /// One entry per row of `data.result`, in 12306's order.
    pub trains: Vec<TrainRow<'a>>,
    /// `data.map`: telecode → station name, for every station appearing in the rows.
    pub names: BTreeMap<Field<'a>, Field<'a>>,
}

/// Why a body is not a page of trains. The client maps these to its own error classes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeftTicketError {
    /// `{"status":false,"c_url":"leftTicket/queryX"}`: the endpoint was renamed.
    #[error("12306 moved the query endpoint to {c_url}")]
    EndpointMoved { c_url: String },
    /// An HTML page instead of JSON (error page, login page): 12306 is refusing us.
    #[error("12306 answered with an HTML page instead of data (throttled)")]
    Html,
    /// `status:false` or a risk phrase (访问过于频繁, 网络可能存在问题…); `message` is 12306's text.
    #[error("12306 refused the query: {message}")]
    Refused { message: String },
    /// JSON we cannot understand.
    #[error("unreadable leftTicket answer: {0}")]
    Malformed(String),
}

/// Decodes one leftTicket body (protocol doc §2–§3) into a page borrowing from it.
///
/// Empty results (`data` null, `result` empty) are an empty page, not an error: "no trains" is a
/// normal answer. Everything that is not data comes back as the [`LeftTicketError`] case the
/// client branches on.
///
/// ```
/// use yupiao::rail::left_ticket::{decode_left_ticket, LeftTicketError};
/// let moved = r#"{"status":false,"c_url":"leftTicket/queryX","c_name":"CLeftTicketUrl"}"#;
/// assert_eq!(
///     decode_left_ticket(moved),
///     Err(LeftTicketError::EndpointMoved { c_url: "leftTicket/queryX".into() })
/// );
/// assert_eq!(decode_left_ticket("<html>error</html>"), Err(LeftTicketError::Html));
/// ```
pub fn decode_left_ticket(body: &str) -> Result<LeftTicketPage<'_>, LeftTicketError> {
    decode(body, &Field::borrowed)
}

/// [`decode_left_ticket`] into a page that does not borrow `body` (what the client returns):
/// short fields are kept inline, long ones (secretStr) in one allocation each.
pub fn decode_left_ticket_owned(body: &str) -> Result<LeftTicketPage<'static>, LeftTicketError> {
    decode(body, &Field::owned)
}

/// Decodes one `|`-separated row, borrowing from it; `index` only names the row in the error.
///
/// Any row of at least [`MIN_ROW_FIELDS`] fields is accepted; fields past its end read as empty.
pub fn decode_row(index: usize, row: &str) -> Result<TrainRow<'_>, LeftTicketError> {
    row::decode_row_with(row, Field::borrowed).map_err(|e| too_few_fields(index, e))
}

/// [`decode_row`] into a row that does not borrow `row` (see [`decode_left_ticket_owned`]).
pub fn decode_row_owned(index: usize, row: &str) -> Result<TrainRow<'static>, LeftTicketError> {
    row::decode_row_with(row, Field::owned).map_err(|e| too_few_fields(index, e))
}

fn too_few_fields(index: usize, TooFewFields(n): TooFewFields) -> LeftTicketError {
    LeftTicketError::Malformed(format!(
        "row {index} has {n} fields, expected at least {MIN_ROW_FIELDS}"
    ))
}

/// The decoder, with the fields' text kept where `keep` says.
fn decode<'b, 'a>(
    body: &'b str,
    keep: &impl Fn(&'b str) -> Field<'a>,
) -> Result<LeftTicketPage<'a>, LeftTicketError> {
    let text = body.trim_start_matches('\u{feff}').trim();
    refuse_what_is_not_json(text)?;
    let envelope = match wire::parse(text) {
        Ok(Top::Object(envelope)) => envelope,
        Ok(Top::NotObject) => {
            return Err(LeftTicketError::Malformed(format!(
                "not a JSON object: {}",
                snippet(text, QUOTED_CHARS)
            )));
        }
        Err(_) => {
            return Err(match find_risk_phrase(text) {
                Some(_) => LeftTicketError::Refused {
                    message: snippet(text, QUOTED_CHARS),
                },
                None => LeftTicketError::Malformed(format!("not JSON: {}", snippet(text, QUOTED_CHARS))),
            });
        }
    };
    match data_of(envelope, text)? {
        Data::Object { names, result } => page(names, result, keep),
        Data::Empty => Ok(LeftTicketPage::default()),
        Data::Other(other) => Err(LeftTicketError::Malformed(format!(
            "data is not an object: {}",
            snippet(&other.to_string(), QUOTED_CHARS)
        ))),
    }
}

/// The answers 12306 gives without JSON: nothing, a bare digit, an HTML page.
fn refuse_what_is_not_json(text: &str) -> Result<(), LeftTicketError> {
    if text.is_empty() {
        return Err(LeftTicketError::Refused {
            message: "查询失败，请稍后再试！".to_string(),
        });
    }
    if let [d @ b'0'..=b'4'] = text.as_bytes() {
        return Err(LeftTicketError::Refused {
            message: format!("查询失败！（{}）", *d as char),
        });
    }
    if text.starts_with('<') {
        return Err(LeftTicketError::Html);
    }
    Ok(())
}

/// The `data` member of an answer that is data: a renamed endpoint, a risk phrase in `messages`
/// or `status:false` are errors first. `text` is the body, for the error message.
fn data_of<'b>(envelope: Envelope<'b>, text: &str) -> Result<Data<'b>, LeftTicketError> {
    let status = envelope.status.as_ref().and_then(truthy);
    if status != Some(true)
        && let Some(c_url) = envelope.c_url.as_ref().and_then(Value::as_str)
        && !c_url.trim().is_empty()
    {
        return Err(LeftTicketError::EndpointMoved {
            c_url: c_url.trim().to_string(),
        });
    }
    let messages = envelope.messages.as_ref().map(messages_text).unwrap_or_default();
    if find_risk_phrase(&messages).is_some() {
        return Err(LeftTicketError::Refused { message: messages });
    }
    match (status, envelope.data) {
        (Some(false), _) => Err(LeftTicketError::Refused {
            message: if messages.is_empty() {
                "status:false".to_string()
            } else {
                messages
            },
        }),
        (None, None) => Err(LeftTicketError::Malformed(format!(
            "neither status nor data: {}",
            snippet(text, QUOTED_CHARS)
        ))),
        (_, data) => Ok(data.unwrap_or(Data::Empty)),
    }
}

/// The page of a `data` object: its station names and its rows, each row decoded in order (the
/// first unreadable row is the error).
fn page<'b, 'a>(
    names: Vec<(Cow<'b, str>, Option<Cow<'b, str>>)>,
    result: Option<Rows<'b>>,
    keep: &impl Fn(&'b str) -> Field<'a>,
) -> Result<LeftTicketPage<'a>, LeftTicketError> {
    let text = |t: Cow<'b, str>| match t {
        Cow::Borrowed(t) => keep(t),
        Cow::Owned(t) => Field::owned(&t),
    };
    let mut station_names = BTreeMap::new();
    for (code, name) in names {
        // As in a JSON object, a repeated code means its last value.
        match name {
            Some(name) => station_names.insert(text(code), text(name)),
            None => station_names.remove(code.as_ref()),
        };
    }
    let rows = match result {
        None | Some(Rows::Null) => Vec::new(),
        Some(Rows::List(rows)) => rows,
        Some(Rows::Other(other)) => {
            return Err(LeftTicketError::Malformed(format!(
                "data.result is not a list: {}",
                snippet(&other.to_string(), QUOTED_CHARS)
            )));
        }
    };
    let mut trains = Vec::with_capacity(rows.len());
    for (i, row) in rows.into_iter().enumerate() {
        trains.push(match row {
            Row::Text(Cow::Borrowed(row)) => {
                row::decode_row_with(row, keep).map_err(|e| too_few_fields(i, e))?
            }
            // Escapes in the row: its unescaped text does not outlive this loop.
            Row::Text(Cow::Owned(row)) => decode_row_owned(i, &row)?,
            Row::Other(other) => {
                return Err(LeftTicketError::Malformed(format!(
                    "row {i} is not a string: {}",
                    snippet(&other.to_string(), QUOTED_CHARS)
                )));
            }
        });
    }
    Ok(LeftTicketPage {
        trains,
        names: station_names,
    })
}

/// `true`/`false`, also when 12306 sends them as strings.
fn truthy(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// `messages` is a string in leftTicket answers and an array elsewhere; both become one string.
fn messages_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.trim().to_string(),
        Value::Array(items) => items
            .iter()
            .map(messages_text)
            .filter(|m| !m.is_empty())
            .collect::<Vec<_>>()
            .join("；"),
        other => other.to_string(),
    }
}

/// Rows for the tests of the decoder and of the modules that read its rows.
#[cfg(test)]
pub(crate) mod test_rows {
    /// A bookable row of `n` fields (G1, SHH → CZH) with the fields of `set` set, in order.
    pub(crate) fn row_with(n: usize, set: &[(usize, &str)]) -> String {
        let mut f = vec![""; n];
        for (i, v) in [
            (0, "secret"),
            (1, "预订"),
            (3, "G1"),
            (6, "SHH"),
            (7, "CZH"),
            (11, "Y"),
        ] {
            if i < n {
                f[i] = v;
            }
        }
        for &(i, v) in set {
            f[i] = v;
        }
        f.join("|")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seat::SeatClass;
    use test_rows::row_with;

    const QUERY_G: &str = include_str!("../../../tests/fixtures/leftTicket/queryG.SHH-CZH.2024-04-22.json");
    const SEED_002: &str = include_str!("../../../tests/fixtures/seed_002_leftTicket.txt");

    /// The 2018 answer is the JSON block between the ``` fences of seed 002.
    fn seed_002_json() -> &'static str {
        let start = SEED_002.find("```\n{").expect("fenced JSON in seed 002") + 4;
        let len = SEED_002[start..].find("\n```").expect("closing fence");
        &SEED_002[start..start + len]
    }

    fn rows_of(body: &str) -> Vec<String> {
        let v: Value = serde_json::from_str(body).unwrap();
        v["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_string())
            .collect()
    }

    fn refused(body: &str) -> String {
        match decode_left_ticket(body) {
            Err(LeftTicketError::Refused { message }) => message,
            other => panic!("expected Refused for {body:?}, got {other:?}"),
        }
    }

    fn cell(raw: &str, left: SeatLeft, price: Option<u32>, count: Option<u32>) -> SeatCell<'_> {
        SeatCell {
            raw,
            left,
            price_jiao: price,
            exact_count: count,
        }
    }

    #[test]
    fn the_2024_query_g_answer_decodes_both_rows_completely() {
        let page = decode_left_ticket(QUERY_G).unwrap();
        assert_eq!(page.names.len(), 12);
        assert_eq!(page.names["AOH"], "上海虹桥");
        assert_eq!(page.trains.len(), 2);

        let d = &page.trains[0];
        assert!(d.secret_str.starts_with("Oy1n3fY3wHl5K7F3"));
        assert_eq!(d.button_text, "预订");
        assert_eq!(d.train_no, "5l000D301002");
        assert_eq!(d.station_train_code, "D3010");
        assert_eq!((d.start_station.as_str(), d.end_station.as_str()), ("AOH", "HKN"));
        assert_eq!((d.from_station.as_str(), d.to_station.as_str()), ("AOH", "CZH"));
        assert_eq!(
            (d.start_time.as_str(), d.arrive_time.as_str()),
            ("14:42", "15:44")
        );
        assert_eq!(d.lishi, "01:02");
        assert_eq!(d.can_web_buy, "Y");
        assert_eq!(d.start_train_date, "20240422");
        assert!(!d.houbu_train_flag);
        assert_eq!(d.houbu_seat_limit, "");
        assert_eq!(d.sale_time.as_deref(), Some("202404081330"));
        assert!(d.bookable());
        let want: BTreeMap<_, _> = [
            (
                SeatClass::First,
                cell("14", SeatLeft::Count(14), Some(980), Some(14)),
            ),
            (
                SeatClass::Second,
                cell("3", SeatLeft::Count(3), Some(610), Some(3)),
            ),
            (
                SeatClass::NoSeat,
                cell("有", SeatLeft::Plenty, Some(610), Some(76)),
            ),
        ]
        .into_iter()
        .collect();
        assert_eq!(d.seats.iter().collect::<BTreeMap<_, _>>(), want);

        let g = &page.trains[1];
        assert_eq!(g.train_no, "55000G829420");
        assert_eq!(g.station_train_code, "G8294");
        assert_eq!((g.start_station.as_str(), g.end_station.as_str()), ("SHH", "AFH"));
        assert_eq!((g.from_station.as_str(), g.to_station.as_str()), ("SHH", "CZH"));
        assert_eq!(
            (g.start_time.as_str(), g.arrive_time.as_str()),
            ("14:44", "15:53")
        );
        assert_eq!(g.lishi, "01:09");
        assert_eq!(g.sale_time.as_deref(), Some("202404081430"));
        assert!(g.bookable());
        let want: BTreeMap<_, _> = [
            (
                SeatClass::Business,
                cell("13", SeatLeft::Count(13), Some(2890), Some(13)),
            ),
            (
                SeatClass::First,
                cell("有", SeatLeft::Plenty, Some(1450), Some(21)),
            ),
            (
                SeatClass::Second,
                cell("有", SeatLeft::Plenty, Some(910), Some(21)),
            ),
            (
                SeatClass::NoSeat,
                cell("有", SeatLeft::Plenty, Some(910), Some(110)),
            ),
        ]
        .into_iter()
        .collect();
        assert_eq!(g.seats.iter().collect::<BTreeMap<_, _>>(), want);
    }

    #[test]
    fn yp_info_new_counts_from_3000_are_the_no_seat_entry() {
        let e = parse_yp_info_new("9028900013M014500021O009100021O009103110");
        let got: Vec<_> = e.iter().map(|e| (e.seat, e.price_jiao, e.count)).collect();
        assert_eq!(
            got,
            vec![
                (SeatClass::Business, 2890, 13),
                (SeatClass::First, 1450, 21),
                (SeatClass::Second, 910, 21),
                (SeatClass::NoSeat, 910, 110),
            ]
        );
    }

    #[test]
    fn truncated_or_garbage_yp_info_new_is_ignored_group_by_group() {
        assert_eq!(parse_yp_info_new(""), vec![]);
        assert_eq!(parse_yp_info_new("90289"), vec![]);
        assert_eq!(parse_yp_info_new("X028900013Oabcdefghi座位信息"), vec![]);
        let kept = parse_yp_info_new("O009100021O0091031");
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].count, 21);

        let row = row_with(40, &[(30, "有"), (39, "O00910002₩₩garbage")]);
        let row = decode_row(0, &row).unwrap();
        assert_eq!(row.seats.get(&SeatClass::Second).unwrap().price_jiao, None);
    }

    #[test]
    fn the_2018_seed_rows_of_37_fields_decode_but_are_not_bookable() {
        let page = decode_left_ticket(seed_002_json()).unwrap();
        assert_eq!(page.names["VNP"], "北京南");
        assert_eq!(page.trains.len(), 2);
        let g = &page.trains[0];
        assert_eq!(g.station_train_code, "G101");
        assert_eq!(g.secret_str, "");
        assert_eq!(g.button_text, "23:00-06:00系统维护时间");
        assert_eq!(g.can_web_buy, "IS_TIME_NOT_BUY");
        assert_eq!((g.from_station.as_str(), g.to_station.as_str()), ("VNP", "AOH"));
        assert_eq!(g.seats.get(&SeatClass::Second).unwrap().left, SeatLeft::Plenty);
        assert_eq!(
            g.seats.get(&SeatClass::Business).unwrap().left,
            SeatLeft::Count(7)
        );
        assert_eq!(g.seats.get(&SeatClass::Business).unwrap().price_jiao, None);
        assert!(!g.bookable());
        assert!(!g.houbu_train_flag);
        assert_eq!(g.sale_time, None);
        assert_eq!(
            page.trains[1].seats.get(&SeatClass::Business).unwrap().left,
            SeatLeft::Count(17)
        );
    }

    #[test]
    fn messages_may_be_an_array_and_level_and_extra_fields_may_be_absent_or_present() {
        let body = r#"{"status":true,"extra":{"a":1},"messages":[],"httpstatus":"200",
            "data":{"result":[],"map":{"SHH":"上海"},"flag":"1"}}"#;
        let page = decode_left_ticket(body).unwrap();
        assert!(page.trains.is_empty());
        assert_eq!(page.names["SHH"], "上海");
    }

    #[test]
    fn null_data_and_empty_result_are_an_empty_page() {
        for body in [
            r#"{"httpstatus":200,"data":null,"messages":"","status":true}"#,
            r#"{"status":true,"messages":"","data":{"flag":"1","map":{},"result":[]}}"#,
            r#"{"status":true,"data":{"flag":"1"}}"#,
            r#"{"status":true}"#,
        ] {
            assert_eq!(decode_left_ticket(body), Ok(LeftTicketPage::default()), "{body}");
        }
    }

    #[test]
    fn c_url_means_the_endpoint_moved_whatever_the_key_order() {
        let moved = Err(LeftTicketError::EndpointMoved {
            c_url: "leftTicket/queryX".into(),
        });
        for body in [
            r#"{"status":false,"c_url":"leftTicket/queryX","c_name":"CLeftTicketUrl"}"#,
            r#"{"c_name":"CLeftTicketUrl","c_url":"leftTicket/queryX","status":false}"#,
        ] {
            assert_eq!(decode_left_ticket(body), moved, "{body}");
        }
    }

    #[test]
    fn an_html_page_is_html_even_after_a_bom_and_blank_lines() {
        for body in [
            "<!DOCTYPE html><html><body>error</body></html>",
            "\u{feff}\r\n  <html>",
        ] {
            assert_eq!(decode_left_ticket(body), Err(LeftTicketError::Html));
        }
    }

    #[test]
    fn a_bare_digit_or_empty_body_is_refused_with_the_page_wording() {
        assert_eq!(refused("3"), "查询失败！（3）");
        assert_eq!(refused(" 0\n"), "查询失败！（0）");
        assert_eq!(refused(""), "查询失败，请稍后再试！");
        assert_eq!(refused("\u{feff}  "), "查询失败，请稍后再试！");
    }

    #[test]
    fn every_risk_phrase_in_messages_is_a_refusal_carrying_12306s_text() {
        for phrase in RISK_PHRASES {
            let text = format!("{phrase}！");
            let as_string = format!(
                r#"{{"status":true,"messages":{},"data":null}}"#,
                Value::from(text.as_str())
            );
            assert_eq!(refused(&as_string), text);
            let as_array = format!(
                r#"{{"status":false,"messages":[{}],"httpstatus":200}}"#,
                Value::from(text.as_str())
            );
            assert_eq!(refused(&as_array), text);
            assert_eq!(find_risk_phrase(&format!("<p>{text}</p>")), Some(*phrase));
        }
        assert_eq!(
            find_risk_phrase("系统繁忙,请稍后重试"),
            Some("系统繁忙，请稍后重试")
        );
        assert_eq!(find_risk_phrase("查询成功"), None);
    }

    #[test]
    fn a_plain_text_risk_sentence_is_a_refusal_and_other_text_is_malformed() {
        assert_eq!(
            refused("网络可能存在问题，请您重试一下！"),
            "网络可能存在问题，请您重试一下！"
        );
        match decode_left_ticket(&"garbage ".repeat(50)) {
            Err(LeftTicketError::Malformed(m)) => {
                assert!(m.starts_with("not JSON: garbage"), "{m}");
                assert!(m.chars().count() <= 80, "{m}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn status_false_without_c_url_is_a_refusal() {
        assert_eq!(
            refused(r#"{"status":false,"messages":"","data":null}"#),
            "status:false"
        );
        assert_eq!(
            refused(r#"{"status":"false","messages":["查询异常"]}"#),
            "查询异常"
        );
    }

    #[test]
    fn json_that_is_not_a_left_ticket_answer_is_malformed() {
        for body in [
            "[1,2]",
            "7",
            r#"{"foo":1}"#,
            r#"{"status":true,"data":"x"}"#,
            r#"{"status":true,"data":{"result":"x"}}"#,
            r#"{"status":true,"data":{"result":[1]}}"#,
        ] {
            assert!(
                matches!(decode_left_ticket(body), Err(LeftTicketError::Malformed(_))),
                "{body}"
            );
        }
    }

    #[test]
    fn a_row_of_35_fields_is_malformed_naming_the_row_and_its_length() {
        let body = serde_json::json!({
            "status": true,
            "data": {"result": [row_with(36, &[]), row_with(35, &[])], "map": {}},
        })
        .to_string();
        match decode_left_ticket(&body) {
            Err(LeftTicketError::Malformed(m)) => {
                assert!(m.contains("row 1") && m.contains("35 fields"), "{m}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_row_of_exactly_36_fields_decodes_with_the_missing_fields_empty() {
        let row =
            decode_row_owned(0, &row_with(36, &[(30, "5"), (32, "*"), (29, "--"), (31, "无")])).unwrap();
        assert_eq!(row.station_train_code, "G1");
        assert!(row.bookable());
        assert!(!row.houbu_train_flag);
        assert_eq!(row.houbu_seat_limit, "");
        assert_eq!(row.sale_time, None);
        assert_eq!(row.seats.len(), 3);
        assert_eq!(
            row.seats.get(&SeatClass::Second).unwrap().left,
            SeatLeft::Count(5)
        );
        assert_eq!(
            row.seats.get(&SeatClass::Business).unwrap().left,
            SeatLeft::NotOnSale
        );
        assert_eq!(row.seats.get(&SeatClass::First).unwrap().left, SeatLeft::None);
    }

    #[test]
    fn seat_cells_read_as_the_protocol_says_and_unknown_text_is_no_class() {
        assert_eq!(parse_seat_cell(""), None);
        assert_eq!(parse_seat_cell("--"), None);
        assert_eq!(parse_seat_cell("无"), Some(SeatLeft::None));
        assert_eq!(parse_seat_cell("有"), Some(SeatLeft::Plenty));
        assert_eq!(parse_seat_cell("13"), Some(SeatLeft::Count(13)));
        assert_eq!(parse_seat_cell("*"), Some(SeatLeft::NotOnSale));
        assert_eq!(parse_seat_cell("候补"), None);
        assert_eq!(parse_seat_cell("-3"), None);
        assert_eq!(
            parse_seat_cell("99999999999999999999"),
            Some(SeatLeft::Count(u32::MAX))
        );
    }

    #[test]
    fn bookable_needs_the_button_can_web_buy_and_a_secret() {
        let ok = decode_row_owned(0, &row_with(57, &[])).unwrap();
        assert!(ok.bookable());
        for set in [(0, ""), (1, "停运"), (11, "N"), (11, "IS_TIME_NOT_BUY")] {
            assert!(
                !decode_row_owned(0, &row_with(57, &[set])).unwrap().bookable(),
                "{set:?}"
            );
        }
    }

    #[test]
    fn houbu_is_possible_only_for_sold_out_classes_of_houbu_trains_with_room_in_the_list() {
        let row = decode_row_owned(
            0,
            &row_with(
                57,
                &[
                    (37, "1"),
                    (38, "M"),
                    (30, "无"),
                    (31, "无"),
                    (32, "3"),
                    (26, "无"),
                ],
            ),
        )
        .unwrap();
        assert!(row.houbu_possible(SeatClass::Second));
        assert!(!row.houbu_possible(SeatClass::First), "M's list is full");
        assert!(!row.houbu_possible(SeatClass::Business), "seats are left");
        assert!(!row.houbu_possible(SeatClass::NoSeat));
        assert!(!row.houbu_possible(SeatClass::HardSeat), "not on this train");

        let no_flag = decode_row_owned(0, &row_with(57, &[(37, "0"), (30, "无")])).unwrap();
        assert!(!no_flag.houbu_possible(SeatClass::Second));
        let null_limit = decode_row_owned(0, &row_with(39, &[(37, "1"), (38, "null"), (30, "无")])).unwrap();
        assert_eq!(null_limit.houbu_seat_limit, "");
        assert!(null_limit.houbu_possible(SeatClass::Second));
        let stopped = decode_row_owned(0, &row_with(57, &[(1, "停运"), (37, "1"), (30, "无")])).unwrap();
        assert!(!stopped.houbu_possible(SeatClass::Second));
    }

    #[test]
    fn no_truncation_of_a_real_body_or_row_panics() {
        for body in [QUERY_G, seed_002_json()] {
            for (i, _) in body.char_indices() {
                let _ = decode_left_ticket(&body[..i]);
            }
            for row in rows_of(body) {
                for (i, _) in row.char_indices() {
                    let _ = decode_row(0, &row[..i]);
                    let _ = decode_row(0, &row[i..]);
                    let _ = parse_yp_info_new(&row[i..]);
                }
            }
        }
    }

    /// `body` with every row rewritten by `f`.
    fn with_rows(body: &str, f: impl Fn(&str) -> String) -> String {
        let mut v: Value = serde_json::from_str(body).unwrap();
        let rows: Vec<Value> = rows_of(body).iter().map(|r| Value::from(f(r))).collect();
        v["data"]["result"] = Value::from(rows);
        v.to_string()
    }

    #[test]
    fn the_owned_page_the_client_keeps_reads_exactly_as_the_borrowed_one() {
        for body in [QUERY_G, seed_002_json()] {
            let borrowed = decode_left_ticket(body).unwrap();
            let owned = decode_left_ticket_owned(body).unwrap();
            assert_eq!(owned, borrowed);
            assert_eq!(format!("{owned:?}"), format!("{borrowed:?}"));
        }
        for body in [
            "",
            "<html>",
            r#"{"status":false,"c_url":"leftTicket/queryX"}"#,
            "[1]",
        ] {
            assert_eq!(decode_left_ticket_owned(body), decode_left_ticket(body), "{body}");
        }
    }

    #[test]
    fn escapes_in_rows_names_and_keys_read_as_the_text_they_stand_for() {
        let plain = decode_left_ticket(QUERY_G).unwrap();
        // `\/` for `/`, `\uXXXX` for 预订, for a station name and for a key.
        let escaped = with_rows(QUERY_G, |r| r.replacen("%2F", "%2F/", 1))
            .replace('/', r"\/")
            .replace("预订", r"\u9884\u8ba2")
            .replace("上海虹桥", r"\u4e0a\u6d77\u8679\u6865")
            .replace(r#""result""#, r#""r\u0065sult""#);
        assert!(
            escaped.contains(r"\u9884") && escaped.contains(r"\/"),
            "{escaped}"
        );
        for page in [
            decode_left_ticket(&escaped).unwrap(),
            decode_left_ticket_owned(&escaped).unwrap(),
        ] {
            assert_eq!(page.names["AOH"], "上海虹桥");
            assert_eq!(page.trains.len(), 2);
            for (got, want) in page.trains.iter().zip(&plain.trains) {
                assert_eq!(got.button_text, "预订");
                assert_eq!(
                    got.secret_str.replacen("%2F/", "%2F", 1),
                    want.secret_str.as_str()
                );
                let same_secret = TrainRow {
                    secret_str: want.secret_str.clone(),
                    ..got.clone()
                };
                assert_eq!(same_secret, *want);
            }
        }
    }

    #[test]
    fn a_repeated_member_means_its_last_value_as_in_any_json_object() {
        let body = r#"{"status":false,"data":{"map":{"SHH":"x"},"result":"x"},"status":true,
            "data":{"map":{"SHH":"上海","CZH":"常州","SHH":"上海站","CZH":7},"result":7,"result":[]}}"#;
        let page = decode_left_ticket(body).unwrap();
        assert_eq!(page.names.len(), 1, "{page:?}");
        assert_eq!(page.names["SHH"], "上海站");
        assert!(page.trains.is_empty());
    }

    #[test]
    fn members_the_decoder_skips_must_still_be_json_a_value_would_accept() {
        for body in [
            r#"{"status":true,"httpstatus":1e400,"data":null}"#,
            r#"{"status":true,"extra":"\ud800","data":null}"#,
            r#"{"status":true,"extra":"\x","data":null}"#,
            r#"{"status":true,"data":{"flag":[1,],"result":[]}}"#,
        ] {
            assert!(serde_json::from_str::<Value>(body).is_err(), "{body}");
            match decode_left_ticket(body) {
                Err(LeftTicketError::Malformed(m)) => assert!(m.starts_with("not JSON"), "{m}"),
                other => panic!("{body}: {other:?}"),
            }
        }
        let deep = format!(
            r#"{{"status":true,"extra":{}{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert!(serde_json::from_str::<Value>(&deep).is_err());
        assert!(matches!(
            decode_left_ticket(&deep),
            Err(LeftTicketError::Malformed(_))
        ));
    }

    #[test]
    fn odd_values_are_quoted_as_json_in_the_error() {
        let err = |body: &str| match decode_left_ticket(body) {
            Err(LeftTicketError::Malformed(m)) => m,
            other => panic!("{body}: {other:?}"),
        };
        assert_eq!(
            err(r#"{"status":true,"data":{"result":[{"b":[1, 2.5],"a":null}]}}"#),
            r#"row 0 is not a string: {"a":null,"b":[1,2.5]}"#
        );
        assert_eq!(
            err(r#"{"status":true,"data":{"result":{"x" : true}}}"#),
            r#"data.result is not a list: {"x":true}"#
        );
        assert_eq!(
            err(r#"{"status":true,"data":" x "}"#),
            r#"data is not an object: " x ""#
        );
        assert_eq!(err(r#"{"status":true,"data":[0]}"#), "data is not an object: [0]");
        assert_eq!(err("[1, 2]"), "not a JSON object: [1, 2]");
    }
}
