//! What one seat class of a train offers a party right now: seats, a 候补 (waitlist) queue, or
//! nothing (pure).
//!
//! A sold-out class is not always a dead end: when 12306 still takes 候补 orders for it, the
//! user can queue and is likely served before strangers who wait for seats to reappear. That is
//! worth telling apart from a class that is closed (`alert_houbu`, the `once` table), so this
//! module classifies each class of a row. It sits beside [`crate::filter`], which decides which
//! rows and classes a watch cares about, and uses the same notion of "enough seats".
//!
//! Rules (protocol doc §3.4): bookable = the row is bookable (`预订`, canWebBuy `Y`, a
//! secretStr) and the cell has room for the party; 候补 open = field 1 `预订`, the cell says `无`,
//! field 37 is `1`, the class's code is not in field 38, and it is not 无座/其他. 12306's page also
//! refuses 候补 for trains leaving within 3 h, today's trains and tomorrow's early ones: that
//! needs a clock and a departure, and is left to the caller.

use crate::filter::enough_seats;
use crate::rail::left_ticket::{SeatLeft, TrainRow};
use crate::seat::SeatClass;

/// What a class offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum SeatState {
    /// Enough seats for the party can be booked now.
    Bookable,
    /// Sold out, and 12306 takes 候补 orders for it.
    HoubuOpen,
    /// Neither; why.
    Closed(Closed),
}

/// Why a class offers nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Closed {
    /// `*`, or the train is not on sale yet (起售 notice, canWebBuy `IS_TIME_NOT_BUY`).
    NotOnSale,
    /// Field 1 is not `预订` (停运, 暂停发售, maintenance hours) or the row has no secretStr.
    NotSelling,
    /// Seats are left, but fewer than the party.
    TooFew,
    /// Sold out and the train takes no 候补 (field 37 is not `1`).
    NoHoubu,
    /// Sold out and this class's 候补 list is full (its code is in field 38).
    HoubuFull,
    /// Sold out, and 12306 never takes 候补 for 无座 or 其他.
    HoubuNotOffered,
}

/// The state of `seat` on `row` for a party of `passengers`; `None` when the train has no such
/// class.
pub fn seat_state(row: &TrainRow<'_>, seat: SeatClass, passengers: u32) -> Option<SeatState> {
    let cell = row.seats.get(&seat)?;
    if cell.left == SeatLeft::NotOnSale || row.can_web_buy == "IS_TIME_NOT_BUY" {
        return Some(SeatState::Closed(Closed::NotOnSale));
    }
    if row.button_text != "预订" {
        return Some(SeatState::Closed(Closed::NotSelling));
    }
    if cell.left != SeatLeft::None {
        return Some(if enough_seats(cell.left, passengers) && row.bookable() {
            SeatState::Bookable
        } else if row.bookable() || row.can_web_buy == "N" {
            // `N` next to a count happens when the count is stale; either way not for this party.
            SeatState::Closed(Closed::TooFew)
        } else {
            SeatState::Closed(Closed::NotSelling)
        });
    }
    if row.houbu_possible(seat) {
        return Some(SeatState::HoubuOpen);
    }
    let why = if matches!(seat, SeatClass::NoSeat | SeatClass::Other) {
        Closed::HoubuNotOffered
    } else if !row.houbu_train_flag {
        Closed::NoHoubu
    } else {
        Closed::HoubuFull
    };
    Some(SeatState::Closed(why))
}

/// Every class of `row`, in display order, with its state.
pub fn seat_states(row: &TrainRow<'_>, passengers: u32) -> Vec<(SeatClass, SeatState)> {
    row.seats
        .keys()
        .filter_map(|s| seat_state(row, s, passengers).map(|st| (s, st)))
        .collect()
}

impl SeatState {
    /// How `once` shows it: `可预订`, `可候补`, `—`.
    pub fn label(self) -> &'static str {
        match self {
            SeatState::Bookable => "可预订",
            SeatState::HoubuOpen => "可候补",
            SeatState::Closed(_) => "—",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rail::left_ticket::{decode_left_ticket, decode_row, decode_row_owned, test_rows};

    const QUERY_G: &str = include_str!("../tests/fixtures/leftTicket/queryG.SHH-CZH.2024-04-22.json");
    /// Real rows of 2025-01-03 (see `sale::opening`'s tests for their source).
    const G7316_ROWS: &str = include_str!("../tests/fixtures/leftTicket/rows.G7316.IMH-AOH.2025-01-03.txt");

    /// A bookable 57-field row whose train takes 候补, with the fields of `set` set.
    fn row_with(set: &[(usize, &str)]) -> TrainRow<'static> {
        decode_row_owned(0, &test_rows::row_with(57, &[&[(37, "1")], set].concat())).unwrap()
    }

    #[test]
    fn the_real_2025_rows_are_sold_out_with_houbu_open_and_no_seat_bookable() {
        for raw in G7316_ROWS.lines() {
            let row = decode_row(0, raw).unwrap();
            assert_eq!(
                seat_states(&row, 2),
                [
                    (SeatClass::Business, SeatState::HoubuOpen),
                    (SeatClass::First, SeatState::HoubuOpen),
                    (SeatClass::Second, SeatState::HoubuOpen),
                    (SeatClass::NoSeat, SeatState::Bookable),
                ],
                "{}",
                row.from_station
            );
            assert_eq!(
                seat_state(&row, SeatClass::NoSeat, 15),
                Some(SeatState::Closed(Closed::TooFew)),
                "14 无座 left"
            );
        }
    }

    #[test]
    fn the_real_2024_rows_are_bookable_and_their_trains_take_no_houbu() {
        let page = decode_left_ticket(QUERY_G).unwrap();
        let d3010 = &page.trains[0];
        assert_eq!(seat_state(d3010, SeatClass::Second, 3), Some(SeatState::Bookable));
        assert_eq!(
            seat_state(d3010, SeatClass::Second, 4),
            Some(SeatState::Closed(Closed::TooFew))
        );
        assert_eq!(
            seat_state(d3010, SeatClass::Business, 1),
            None,
            "no 商务座 on D3010"
        );
        // Sold out on a train whose field 37 is 0 (both 2024 rows): closed, not 候补.
        let g8294: serde_json::Value = serde_json::from_str(QUERY_G).unwrap();
        let mut fields: Vec<&str> = g8294["data"]["result"][1].as_str().unwrap().split('|').collect();
        assert_eq!(fields[30], "有");
        fields[30] = "无";
        let g = decode_row_owned(1, &fields.join("|")).unwrap();
        assert_eq!(g.seats.get(&SeatClass::Second).unwrap().left, SeatLeft::None);
        assert_eq!(
            seat_state(&g, SeatClass::Second, 1),
            Some(SeatState::Closed(Closed::NoHoubu))
        );
    }

    #[test]
    fn a_full_houbu_list_and_the_classes_without_houbu_are_closed() {
        let row = row_with(&[(38, "O"), (30, "无"), (31, "无"), (26, "无"), (22, "无")]);
        assert_eq!(
            seat_state(&row, SeatClass::Second, 1),
            Some(SeatState::Closed(Closed::HoubuFull))
        );
        assert_eq!(seat_state(&row, SeatClass::First, 1), Some(SeatState::HoubuOpen));
        assert_eq!(
            seat_state(&row, SeatClass::NoSeat, 1),
            Some(SeatState::Closed(Closed::HoubuNotOffered))
        );
        assert_eq!(
            seat_state(&row, SeatClass::Other, 1),
            Some(SeatState::Closed(Closed::HoubuNotOffered))
        );
    }

    #[test]
    fn rows_not_on_sale_or_not_selling_offer_nothing_whatever_their_cells() {
        let not_yet = row_with(&[
            (0, ""),
            (1, "12月06日13点30分起售"),
            (11, "IS_TIME_NOT_BUY"),
            (30, "*"),
        ]);
        assert_eq!(
            seat_state(&not_yet, SeatClass::Second, 1),
            Some(SeatState::Closed(Closed::NotOnSale))
        );
        // Seed 002: 有 next to IS_TIME_NOT_BUY during maintenance hours.
        let maintenance = row_with(&[
            (0, ""),
            (1, "23:00-06:00系统维护时间"),
            (11, "IS_TIME_NOT_BUY"),
            (30, "有"),
        ]);
        assert_eq!(
            seat_state(&maintenance, SeatClass::Second, 1),
            Some(SeatState::Closed(Closed::NotOnSale))
        );
        let stopped = row_with(&[(0, ""), (1, "停运"), (11, "N"), (30, "无")]);
        assert_eq!(
            seat_state(&stopped, SeatClass::Second, 1),
            Some(SeatState::Closed(Closed::NotSelling))
        );
        let no_secret = row_with(&[(0, ""), (30, "5")]);
        assert_eq!(
            seat_state(&no_secret, SeatClass::Second, 1),
            Some(SeatState::Closed(Closed::NotSelling))
        );
        assert_eq!(SeatState::HoubuOpen.label(), "可候补");
    }
}
