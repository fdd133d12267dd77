//! One `|`-separated leftTicket row → [`TrainRow`] (protocol doc §3), and what its seat cells
//! say (§3.1–§3.2).
//!
//! A row is sliced once into the fields yupiao reads; nothing is copied ([`Field`]). The seat
//! cells (fields 20–33) and `yp_info_new` (field 39) are kept as they stand and read when a
//! caller asks for a class ([`SeatCells`]): a watch asks for two or three classes of a few
//! trains, never for every class of every train of the page.

use std::fmt;

use super::field::Field;
use crate::seat::SeatClass;

/// Rows shorter than this are not leftTicket rows (2018 rows have 37 fields, §3).
pub const MIN_ROW_FIELDS: usize = 36;

/// The first and last seat cell fields (§3.1).
const SEAT_FIELDS: (usize, usize) = (20, 33);

/// Fields past 55 are not read; the start of field 56 says where field 55 ends.
const KEPT_STARTS: usize = 57;

/// One train row (protocol doc §3). Fields past the end of a short row are empty/None.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainRow<'a> {
    /// Field 0; empty when the train cannot be booked.
    pub secret_str: Field<'a>,
    /// Field 1: `预订`, or why not (`停运`, `xx月xx日xx点起售`…).
    pub button_text: Field<'a>,
    /// Field 2, e.g. `55000G829420`.
    pub train_no: Field<'a>,
    /// Field 3, e.g. `G8294`.
    pub station_train_code: Field<'a>,
    /// Fields 4/5: origin / terminus telecodes of the whole train.
    pub start_station: Field<'a>,
    pub end_station: Field<'a>,
    /// Fields 6/7: the **actual** boarding / alighting telecodes.
    pub from_station: Field<'a>,
    pub to_station: Field<'a>,
    /// Fields 8/9/10: `14:44` / `15:53` / `01:09`.
    pub start_time: Field<'a>,
    pub arrive_time: Field<'a>,
    pub lishi: Field<'a>,
    /// Field 11: `Y`, `N`, `IS_TIME_NOT_BUY`.
    pub can_web_buy: Field<'a>,
    /// Field 13: `20240422`.
    pub start_train_date: Field<'a>,
    /// Seat cells present on this train (non-empty, not `--`), read on demand.
    pub seats: SeatCells<'a>,
    /// Field 37 == "1": 候补 allowed on this train.
    pub houbu_train_flag: bool,
    /// Field 38: seat codes whose 候补 list is full (`"null"` read as empty).
    pub houbu_seat_limit: Field<'a>,
    /// Field 55: sale opening `202404081430`, when present.
    pub sale_time: Option<Field<'a>>,
}

/// What a seat cell (fields 20–33) says. `""` and `--` mean the class is not on the train and
/// produce no [`SeatCell`] at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum SeatLeft {
    /// `无`: none left.
    None,
    /// `有`: plenty, read as at least 20.
    Plenty,
    /// `1`…: exactly this many.
    Count(u32),
    /// `*`: not on sale yet (never availability).
    NotOnSale,
}

/// One seat class on one train.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeatCell<'s> {
    /// The raw cell text (`有`, `无`, `13`, `*`).
    pub raw: &'s str,
    pub left: SeatLeft,
    /// Price in tenths of a yuan (jiao) from `yp_info_new`, when present.
    pub price_jiao: Option<u32>,
    /// Exact count from `yp_info_new`, when present (exact even where the cell says `有`).
    pub exact_count: Option<u32>,
}

/// The seat cells of one row (fields 20–33) with its `yp_info_new` (field 39), read per class
/// when asked. Reads like the map it replaces: [`SeatCells::get`], [`SeatCells::iter`] in
/// display order.
///
/// `yp_info_new` only enriches cells that exist; when two of its groups map to one class (`M`
/// and 优选 `D`), the first one wins.
#[derive(Clone, Default)]
pub struct SeatCells<'a> {
    /// Fields 20–33 as they stand in the row, `|` included.
    cells: Field<'a>,
    yp_info_new: Field<'a>,
}

impl SeatCells<'_> {
    /// The cell of `seat`, when the class is on this train.
    pub fn get(&self, seat: &SeatClass) -> Option<SeatCell<'_>> {
        let raw = self.cells.split('|').nth(seat.column() - SEAT_FIELDS.0)?.trim();
        let left = parse_seat_cell(raw)?;
        let priced = yp_entries(&self.yp_info_new).find(|e| e.seat == *seat);
        Some(SeatCell {
            raw,
            left,
            price_jiao: priced.map(|e| e.price_jiao),
            exact_count: priced.map(|e| e.count),
        })
    }

    /// The classes on this train with their cells, in display order ([`SeatClass::ALL`]).
    pub fn iter(&self) -> impl Iterator<Item = (SeatClass, SeatCell<'_>)> + '_ {
        SeatClass::ALL
            .into_iter()
            .filter_map(|seat| self.get(&seat).map(|cell| (seat, cell)))
    }

    /// The classes on this train, in display order.
    pub fn keys(&self) -> impl Iterator<Item = SeatClass> + '_ {
        self.iter().map(|(seat, _)| seat)
    }

    pub fn contains_key(&self, seat: &SeatClass) -> bool {
        self.get(seat).is_some()
    }

    /// How many classes are on this train.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

/// Equal when every class reads the same (however the cells were spaced).
impl PartialEq for SeatCells<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl fmt::Debug for SeatCells<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Where each field of a row starts (up to [`KEPT_STARTS`]) and how many fields it has.
struct Split<'r> {
    row: &'r str,
    starts: [usize; KEPT_STARTS],
    count: usize,
}

impl<'r> Split<'r> {
    fn new(row: &'r str) -> Split<'r> {
        let mut split = Split {
            row,
            starts: [0; KEPT_STARTS],
            count: 1,
        };
        let mut separator = |at: usize| {
            if split.count < KEPT_STARTS {
                split.starts[split.count] = at + 1;
            }
            split.count += 1;
        };
        // Eight bytes at a time ("SWAR"): a row is ~700 bytes with 56 separators, and looking
        // for them one byte at a time (`split('|')`) was the largest single cost of decoding a
        // page; this is about three times faster.
        const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
        const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
        const PIPES: u64 = u64::from_ne_bytes([b'|'; 8]);
        let bytes = row.as_bytes();
        let mut words = bytes.chunks_exact(8);
        for (w, word) in words.by_ref().enumerate() {
            let x = u64::from_le_bytes(word.try_into().expect("chunks of 8")) ^ PIPES;
            // A high bit for every byte of `x` that is zero (a `|`); bits above the first zero
            // byte may be false positives, so every hit is checked against the byte itself.
            let mut zeros = x.wrapping_sub(ONES) & !x & HIGHS;
            while zeros != 0 {
                let i = w * 8 + zeros.trailing_zeros() as usize / 8;
                if bytes[i] == b'|' {
                    separator(i);
                }
                zeros &= zeros - 1;
            }
        }
        let tail = bytes.len() - words.remainder().len();
        for (i, b) in words.remainder().iter().enumerate() {
            if *b == b'|' {
                separator(tail + i);
            }
        }
        split
    }

    /// Fields `first..=last` as they stand, separators included; what lies past the row's end
    /// reads as empty. `last` is below [`KEPT_STARTS`] - 1.
    fn span(&self, first: usize, last: usize) -> &'r str {
        if first >= self.count {
            return "";
        }
        let end = if last + 1 < self.count {
            self.starts[last + 1] - 1
        } else {
            self.row.len()
        };
        &self.row[self.starts[first]..end]
    }

    /// Field `i`, trimmed.
    fn field(&self, i: usize) -> &'r str {
        trim(self.span(i, i))
    }
}

/// `str::trim`, without its Unicode work for the fields that need none (nearly all).
fn trim(field: &str) -> &str {
    match (field.as_bytes().first(), field.as_bytes().last()) {
        (Some(a), Some(z)) if a.is_ascii_graphic() && z.is_ascii_graphic() => field,
        _ => field.trim(),
    }
}

/// A row of fewer than [`MIN_ROW_FIELDS`] fields: how many it has.
#[derive(Debug)]
pub(super) struct TooFewFields(pub usize);

/// Decodes one row, its fields' text kept where `keep` says (borrowed, or copied). Any row of
/// at least [`MIN_ROW_FIELDS`] fields is accepted.
pub(super) fn decode_row_with<'r, 'a>(
    row: &'r str,
    keep: impl Fn(&'r str) -> Field<'a>,
) -> Result<TrainRow<'a>, TooFewFields> {
    let fields = Split::new(row);
    if fields.count < MIN_ROW_FIELDS {
        return Err(TooFewFields(fields.count));
    }
    let f = |i: usize| keep(fields.field(i));
    let houbu_seat_limit = match fields.field(38) {
        "null" => Field::default(),
        other => keep(other),
    };
    let sale_time = Some(fields.field(55)).filter(|t| !t.is_empty()).map(&keep);
    Ok(TrainRow {
        secret_str: f(0),
        button_text: f(1),
        train_no: f(2),
        station_train_code: f(3),
        start_station: f(4),
        end_station: f(5),
        from_station: f(6),
        to_station: f(7),
        start_time: f(8),
        arrive_time: f(9),
        lishi: f(10),
        can_web_buy: f(11),
        start_train_date: f(13),
        seats: SeatCells {
            cells: keep(fields.span(SEAT_FIELDS.0, SEAT_FIELDS.1)),
            yp_info_new: f(39),
        },
        houbu_train_flag: fields.field(37) == "1",
        houbu_seat_limit,
        sale_time,
    })
}

/// Reads one seat cell (§3.1). `None` means "no such class on this train": `""`, `--`, and any
/// text 12306 is not known to send.
pub fn parse_seat_cell(raw: &str) -> Option<SeatLeft> {
    match raw.trim() {
        "" | "--" => None,
        "无" => Some(SeatLeft::None),
        "有" => Some(SeatLeft::Plenty),
        "*" => Some(SeatLeft::NotOnSale),
        digits if digits.bytes().all(|b| b.is_ascii_digit()) => {
            // More digits than a u32 holds is still "very many", never a panic.
            Some(SeatLeft::Count(digits.parse().unwrap_or(u32::MAX)))
        }
        _ => None,
    }
}

/// One group of `yp_info_new` (field 39), already resolved to its seat class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YpEntry {
    /// The class the group prices; a count ≥ 3000 turns the group into [`SeatClass::NoSeat`].
    pub seat: SeatClass,
    /// Price in jiao (tenths of a yuan).
    pub price_jiao: u32,
    /// Seats left, exact.
    pub count: u32,
}

/// Splits `yp_info_new` into 10-character groups (§3.2): seat code, price × 10 (5 digits),
/// count (4 digits, ≥ 3000 = the 无座 entry, real count − 3000). Groups that are short, not
/// digits or carry an unknown code are skipped.
pub fn parse_yp_info_new(text: &str) -> Vec<YpEntry> {
    yp_entries(text).collect()
}

/// [`parse_yp_info_new`], group by group as they are read.
fn yp_entries(text: &str) -> impl Iterator<Item = YpEntry> + '_ {
    text.trim().as_bytes().chunks(10).filter_map(|g| {
        if g.len() != 10 || !g[1..].iter().all(u8::is_ascii_digit) {
            return None;
        }
        let digits = |r: &[u8]| r.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
        let mut seat = SeatClass::from_code(char::from(g[0]))?;
        let price_jiao = digits(&g[1..6]);
        let mut count = digits(&g[6..10]);
        if count >= 3000 {
            seat = SeatClass::NoSeat;
            count -= 3000;
        }
        Some(YpEntry {
            seat,
            price_jiao,
            count,
        })
    })
}

impl TrainRow<'_> {
    /// 12306 would let a user order this train now: `预订`, canWebBuy `Y` and a secretStr (§3.4).
    /// Seed 002 shows `有` next to `IS_TIME_NOT_BUY`, so seat cells alone never decide this.
    pub fn bookable(&self) -> bool {
        self.button_text == "预订" && self.can_web_buy == "Y" && !self.secret_str.is_empty()
    }

    /// A 候补 (waitlist) order is possible for `seat` (§3.4): `预订`, the cell says `无`, the
    /// train allows 候补, the class's waitlist is not full, and it is not 无座/其他. 12306's page
    /// also refuses trains leaving within 3 h; that needs a clock and is left to the caller.
    pub fn houbu_possible(&self, seat: SeatClass) -> bool {
        let Some(code) = seat.code() else {
            return false;
        };
        self.button_text == "预订"
            && self.houbu_train_flag
            && !matches!(seat, SeatClass::NoSeat | SeatClass::Other)
            && self.seats.get(&seat).is_some_and(|c| c.left == SeatLeft::None)
            && !self.houbu_seat_limit.contains(code)
    }
}
