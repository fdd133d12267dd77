//! What a grab watch (`action = "grab"`) adds to a watch: the checks Juhe's grabTicket API needs.
//!
//! Juhe orders name their trains (1 to 5 exact codes, the first the main one) and seat classes
//! (each with a Juhe `seatClassCode`), and carry the people on the ticket, so a grab watch must
//! spell out what an alert watch may leave open. The people are checked as their documents
//! would be (a 身份证号's checksum and birth date, a child's age), and an ID number only ever
//! appears masked in a diagnostic. The grab-only keys on any other watch are errors.

use chrono::{NaiveDate, NaiveDateTime};

use super::read::{RawPassenger, RawWatch};
use super::section::{RawList, Spanned};
use super::values::day;
use super::{
    CHILD_AGE_LIMIT, CloseTime, GrabOn, GrabSpec, IdNumber, IdType, MAX_GRAB_PASSENGERS, MAX_GRAB_TRAINS,
    MAX_ORDERS_PER_DATE, MIN_CLOSE_BEFORE, Passenger, PassengerKind, TrainPattern, WatchAction,
};
use crate::diagnostic::Report;
use crate::identity::{mask_id, resident_id_ok};
use crate::seat::SeatClass;

/// What the rest of the watch resolved to, for the checks Juhe adds; `None` where it is invalid
/// (already reported).
pub(super) struct Choices<'a> {
    pub(super) trains: Option<&'a [TrainPattern]>,
    pub(super) seats: Option<&'a [SeatClass]>,
    pub(super) passengers: Option<u32>,
}

/// The grab part of a watch: `Some(Some(spec))` for a valid grab watch, `Some(None)` for any
/// other watch (whose grab-only keys are errors), `None` when invalid (reported).
pub(super) fn for_watch(
    w: &RawWatch,
    action: Option<WatchAction>,
    c: &Choices<'_>,
    today: NaiveDate,
    r: &mut Report,
) -> Option<Option<GrabSpec>> {
    match (action, &w.action) {
        (Some(WatchAction::Grab), Some(action_raw)) => spec(w, action_raw.at, c, today, r).map(Some),
        (Some(WatchAction::Alert), _) => {
            refuse_grab_keys(w, r);
            Some(None)
        }
        // An unknown action is reported already; its grab keys are not judged.
        _ => Some(None),
    }
}

/// Each grab-only key of an alert watch is an error at the key.
fn refuse_grab_keys(w: &RawWatch, r: &mut Report) {
    for (key, at) in &w.grab.keys {
        let shown = if *key == "passenger" {
            "[[watch.passenger]]".to_string()
        } else {
            (*key).to_string()
        };
        r.error(
            *at,
            format!(
                "{shown} is only for action = \"grab\" (this watch only alerts); add action = \"grab\" or remove it"
            ),
        );
    }
}

/// Validates what a grab watch adds (every problem reported); `None` if anything is wrong.
/// `action_at` is where `action = "grab"` is written: where missing requirements are reported.
fn spec(
    w: &RawWatch,
    action_at: usize,
    c: &Choices<'_>,
    today: NaiveDate,
    r: &mut Report,
) -> Option<GrabSpec> {
    let g = &w.grab;
    let mut ok = no_student_tickets(w, r);
    ok &= grab_trains(w.trains.as_ref(), action_at, c, r);
    ok &= grab_seats(
        w.seats.as_ref(),
        action_at,
        c,
        g.accept_no_seat.unwrap_or(false),
        r,
    );
    let passengers = people(w, action_at, c, today, r);
    let grab_on = grab_on(g.grab_on.as_ref(), r);
    let close = g
        .close_time
        .as_ref()
        .map_or(Some(CloseTime::BeforeDeparture(MIN_CLOSE_BEFORE)), |s| {
            close_time(s, today, r)
        });
    let orders_per_date = orders_per_date(g.orders_per_date.as_ref(), r);
    if !ok {
        return None;
    }
    Some(GrabSpec {
        grab_on: grab_on?,
        accept_no_seat: g.accept_no_seat.unwrap_or(false),
        close: close?,
        orders_per_date: orders_per_date?,
        passengers: passengers?,
    })
}

/// `student = true` is refused: Juhe sells no student tickets.
fn no_student_tickets(w: &RawWatch, r: &mut Report) -> bool {
    let Some(student) = w.student.as_ref().filter(|s| s.value) else {
        return true;
    };
    r.error(
        student.at,
        "Juhe sells no student tickets, so a grab watch cannot set student = true (remove it, or use action = \"alert\" and buy on 12306)",
    );
    false
}

/// The `[[watch.passenger]]` list, which a written `passengers` (the seat count) must agree with.
fn people(
    w: &RawWatch,
    action_at: usize,
    c: &Choices<'_>,
    today: NaiveDate,
    r: &mut Report,
) -> Option<Vec<Passenger>> {
    let Some(list) = &w.grab.passengers else {
        r.error(
            action_at,
            format!(
                "action = \"grab\" needs the people to buy for: add 1 to {MAX_GRAB_PASSENGERS} [[watch.passenger]] tables (name, id_no, ...)"
            ),
        );
        return None;
    };
    let people = grab_passengers(list, today, r)?;
    if let (Some(written), Some(count)) = (&w.passengers, c.passengers)
        && usize::try_from(count).ok() != Some(people.len())
    {
        r.error(
            written.at,
            format!(
                "passengers = {count} but this watch lists {} [[watch.passenger]]: a grab order buys one seat per person listed (remove passengers, it follows the list)",
                people.len()
            ),
        );
        return None;
    }
    Some(people)
}

fn grab_on(raw: Option<&Spanned<String>>, r: &mut Report) -> Option<GrabOn> {
    let Some(s) = raw else {
        return Some(GrabOn::Seats);
    };
    match s.value.trim() {
        "seats" => Some(GrabOn::Seats),
        "start" => Some(GrabOn::Start),
        other => {
            r.error(
                s.at,
                format!(
                    "unknown grab_on \"{other}\" (allowed: \"seats\": order when seats appear, \"start\": order at once and let Juhe grab)"
                ),
            );
            None
        }
    }
}

fn orders_per_date(raw: Option<&Spanned<i64>>, r: &mut Report) -> Option<u32> {
    let Some(n) = raw else {
        return Some(1);
    };
    match u32::try_from(n.value) {
        Ok(v) if (1..=MAX_ORDERS_PER_DATE).contains(&v) => Some(v),
        _ => {
            r.error(
                n.at,
                format!(
                    "orders_per_date must be between 1 and {MAX_ORDERS_PER_DATE}, found {}",
                    n.value
                ),
            );
            None
        }
    }
}

/// Juhe orders name their trains: 1 to [`MAX_GRAB_TRAINS`] exact codes, the first the main one.
fn grab_trains(raw: Option<&RawList>, action_at: usize, c: &Choices<'_>, r: &mut Report) -> bool {
    let Some(raw) = raw else {
        r.error(
            action_at,
            "action = \"grab\" needs trains: Juhe orders name their trains; list 1 to 5 exact codes, the main train first (e.g. trains = [\"G8294\", \"G7001\"])",
        );
        return false;
    };
    let Some(trains) = c.trains else {
        return false;
    };
    if trains.is_empty() {
        r.error(
            raw.at,
            "trains is empty; a grab watch needs 1 to 5 exact train codes, the main train first",
        );
        return false;
    }
    let mut ok = true;
    for (pattern, entry) in trains.iter().zip(&raw.value) {
        if pattern.prefix {
            ok = false;
            r.error(
                entry.at,
                format!(
                    "\"{}\" is a prefix, but Juhe orders name their trains: for action = \"grab\" list exact codes (e.g. \"{}01\")",
                    entry.value.trim(),
                    pattern.text
                ),
            );
        }
    }
    if let Some(extra) = raw.value.get(MAX_GRAB_TRAINS) {
        ok = false;
        r.error(
            extra.at,
            format!(
                "a grab watch takes at most {MAX_GRAB_TRAINS} trains (the main one and {} alternatives); make another watch for the rest",
                MAX_GRAB_TRAINS - 1
            ),
        );
    }
    ok
}

/// Every seat class of a grab watch needs a Juhe `seatClassCode`; the first is the main one.
fn grab_seats(
    raw: Option<&RawList>,
    action_at: usize,
    c: &Choices<'_>,
    accept_no_seat: bool,
    r: &mut Report,
) -> bool {
    let Some(raw) = raw else {
        r.error(
            action_at,
            "action = \"grab\" needs seats: Juhe orders name their seat classes; list them, the main one first (e.g. seats = [\"二等座\"])",
        );
        return false;
    };
    if c.seats.is_none() {
        return false;
    }
    if raw.value.is_empty() {
        r.error(
            raw.at,
            "seats is empty; a grab watch needs at least one seat class, the main one first",
        );
        return false;
    }
    let mut ok = true;
    for entry in &raw.value {
        match SeatClass::parse(&entry.value) {
            Some(seat) if seat.juhe_code().is_none() => {
                ok = false;
                r.error(
                    entry.at,
                    format!(
                        "{seat} cannot be grabbed: Juhe has no seat code for it (choose 软卧 or 硬卧, or make an alert watch for {seat})"
                    ),
                );
            }
            Some(SeatClass::NoSeat) if !accept_no_seat => {
                ok = false;
                r.error(
                    entry.at,
                    "seats lists 无座 but accept_no_seat is false; set accept_no_seat = true or remove 无座",
                );
            }
            _ => {}
        }
    }
    ok
}

/// The `[[watch.passenger]]` tables: 1 to 5, each valid, no ID number twice.
fn grab_passengers(
    list: &Spanned<Vec<RawPassenger>>,
    today: NaiveDate,
    r: &mut Report,
) -> Option<Vec<Passenger>> {
    let mut ok = true;
    if list.value.is_empty() {
        ok = false;
        r.error(
            list.at,
            format!("a grab watch needs 1 to {MAX_GRAB_PASSENGERS} passengers; this list is empty"),
        );
    }
    if let Some(extra) = list.value.get(MAX_GRAB_PASSENGERS) {
        ok = false;
        r.error(
            extra.at,
            format!(
                "a grab order takes at most {MAX_GRAB_PASSENGERS} passengers (Juhe's limit); split them over two watches"
            ),
        );
    }
    let mut seen: Vec<(&IdNumber, usize)> = Vec::new();
    for id in list.value.iter().filter_map(|p| p.id_no.as_ref()) {
        match seen.iter().find(|(other, _)| *other == &id.value) {
            Some((_, first)) => {
                ok = false;
                let (line, _) = r.position(*first);
                r.error(
                    id.at,
                    format!(
                        "ID number {} is listed twice in this watch (first on line {line}); each person once",
                        id.value
                    ),
                );
            }
            None => seen.push((&id.value, id.at)),
        }
    }
    let people: Vec<Option<Passenger>> = list.value.iter().map(|p| passenger(p, today, r)).collect();
    if !ok {
        return None;
    }
    people.into_iter().collect()
}

fn passenger(p: &RawPassenger, today: NaiveDate, r: &mut Report) -> Option<Passenger> {
    let name = p.name.as_ref().and_then(|n| passenger_name(n, r));
    let kind = p
        .kind
        .as_ref()
        .map_or(Some(PassengerKind::Adult), |k| passenger_kind(k, r));
    let id_type = p
        .id_type
        .as_ref()
        .map_or(Some(IdType::ResidentId), |t| id_type(t, r));
    // The number can only be judged once its document type is known.
    let from_number = match (id_type, &p.id_no) {
        (Some(t), Some(id)) => id_number(t, id, today, r),
        _ => None,
    };
    let written = p.birthday.as_ref().map(|b| birthday(b, today, r));
    let birthday = birth_date(p, id_type, from_number, written, r);
    if let (Some(PassengerKind::Child), Some(born), Some(k)) = (kind, birthday, &p.kind)
        && !child_by_age(k, born, today, r)
    {
        return None;
    }
    let id_no = from_number.and(p.id_no.as_ref()).map(|i| i.value.clone());
    Some(Passenger {
        name: name?,
        kind: kind?,
        id_type: id_type?,
        id_no: id_no?,
        birthday: birthday?,
    })
}

/// As on the ID document: 2 to 30 characters.
fn passenger_name(n: &Spanned<String>, r: &mut Report) -> Option<String> {
    let t = n.value.trim();
    let len = t.chars().count();
    if (2..=30).contains(&len) {
        return Some(t.to_string());
    }
    r.error(
        n.at,
        format!(
            "passenger name \"{t}\" is too {}; write the name as on the ID document (2 to 30 characters)",
            if len < 2 { "short" } else { "long" }
        ),
    );
    None
}

fn id_type(t: &Spanned<String>, r: &mut Report) -> Option<IdType> {
    if let Some(it) = IdType::parse(&t.value) {
        return Some(it);
    }
    let known: Vec<&str> = IdType::ALL.iter().map(|t| t.name()).collect();
    r.error(
        t.at,
        format!(
            "unknown id_type \"{}\" (known: {})",
            t.value.trim(),
            known.join(", ")
        ),
    );
    None
}

/// The birth date: read from a 身份证号 (a written one must match it), written for the other
/// documents. `from_number` and `written` are what [`id_number`] and [`birthday`] made of them
/// (`None` = invalid, reported); `None` when the date is unknown or wrong (reported).
fn birth_date(
    p: &RawPassenger,
    id_type: Option<IdType>,
    from_number: Option<Option<NaiveDate>>,
    written: Option<Option<NaiveDate>>,
    r: &mut Report,
) -> Option<NaiveDate> {
    match (id_type, from_number, written, &p.birthday) {
        (_, _, Some(None), _) | (None, ..) => None,
        (Some(IdType::ResidentId), Some(Some(derived)), Some(Some(given)), Some(raw)) => {
            if derived == given {
                Some(derived)
            } else {
                r.error(
                    raw.at,
                    format!(
                        "birthday {given} does not match the birth date inside the 身份证号 {}; fix one of them (or leave birthday out)",
                        p.id_no.as_ref().map(|i| i.value.masked()).unwrap_or_default()
                    ),
                );
                None
            }
        }
        (Some(IdType::ResidentId), Some(Some(derived)), None, _) => Some(derived),
        (Some(IdType::ResidentId), _, _, _) => None,
        (Some(_), _, Some(Some(given)), _) => Some(given),
        (Some(t), _, None, _) => {
            r.error(
                p.at,
                format!(
                    "[[watch.passenger]] with id_type = \"{t}\" needs birthday = \"YYYY-MM-DD\" (only a 身份证号 contains it)"
                ),
            );
            None
        }
    }
}

/// Whether a passenger written as 儿童 (`k`) born on `born` is young enough; an error at `k`
/// if not.
fn child_by_age(k: &Spanned<String>, born: NaiveDate, today: NaiveDate, r: &mut Report) -> bool {
    let age = today.years_since(born).unwrap_or(0);
    if age < CHILD_AGE_LIMIT {
        return true;
    }
    r.error(
        k.at,
        format!(
            "儿童 tickets are for children under {CHILD_AGE_LIMIT}, and this passenger is {age}; write type = \"成人\""
        ),
    );
    false
}

fn passenger_kind(k: &Spanned<String>, r: &mut Report) -> Option<PassengerKind> {
    let t = k.value.trim();
    match t.to_ascii_lowercase().as_str() {
        "成人" | "adult" => Some(PassengerKind::Adult),
        "儿童" | "child" => Some(PassengerKind::Child),
        "学生" | "student" => {
            r.error(
                k.at,
                "Juhe sells no student tickets (学生票); write type = \"成人\" or buy this one on 12306",
            );
            None
        }
        "残军" | "残疾军人" => {
            r.error(
                k.at,
                "Juhe sells no disabled-military tickets (残军票); write type = \"成人\" or buy this one on 12306",
            );
            None
        }
        _ => {
            r.error(
                k.at,
                format!("unknown passenger type \"{t}\" (allowed: \"成人\", \"儿童\")"),
            );
            None
        }
    }
}

/// Checks an ID number for its document type. `Some(Some(birth))` for a valid 身份证号,
/// `Some(None)` for another valid document, `None` when invalid (reported, masked).
fn id_number(
    t: IdType,
    id: &Spanned<IdNumber>,
    today: NaiveDate,
    r: &mut Report,
) -> Option<Option<NaiveDate>> {
    let raw = id.value.expose();
    if t == IdType::ResidentId {
        return match resident_id_ok(raw) {
            Ok(born) if born > today => {
                r.error(
                    id.at,
                    format!("身份证号 {}: the birth date inside it is in the future", id.value),
                );
                None
            }
            Ok(born) => Some(Some(born)),
            Err(why) => {
                r.error(id.at, format!("身份证号 {} is not valid: {why}", mask_id(raw)));
                None
            }
        };
    }
    let len = raw.chars().count();
    if (5..=20).contains(&len) && raw.chars().all(|c| c.is_ascii_alphanumeric()) {
        Some(None)
    } else {
        r.error(
            id.at,
            format!(
                "{t} number {} is not valid: expected 5 to 20 letters and digits, as printed on the document",
                id.value
            ),
        );
        None
    }
}

fn birthday(b: &Spanned<String>, today: NaiveDate, r: &mut Report) -> Option<NaiveDate> {
    match day(b.value.trim()) {
        Ok(d) if d > today => {
            r.error(b.at, format!("birthday {d} is in the future"));
            None
        }
        Ok(d) => Some(d),
        Err(why) => {
            r.error(b.at, format!("birthday: {why}"));
            None
        }
    }
}

/// A duration before departure (at least [`MIN_CLOSE_BEFORE`]) or `YYYY-MM-DD HH:MM[:SS]`.
fn close_time(s: &Spanned<String>, today: NaiveDate, r: &mut Report) -> Option<CloseTime> {
    let t = s.value.trim();
    let absolute = [
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok());
    if let Some(at) = absolute {
        if at.date() < today {
            r.error(
                s.at,
                format!("close_time \"{t}\" has passed; give a later time or a duration like \"3h\""),
            );
            return None;
        }
        return Some(CloseTime::At(at));
    }
    match humantime::parse_duration(t) {
        Ok(d) if d < MIN_CLOSE_BEFORE => {
            r.error(
                s.at,
                format!(
                    "close_time = \"{t}\" is too close to departure: Juhe does not grab within 3 hours of departure, so the deadline must be at least \"3h\" before it"
                ),
            );
            None
        }
        Ok(d) => Some(CloseTime::BeforeDeparture(d)),
        Err(_) => {
            r.error(
                s.at,
                format!(
                    "invalid close_time \"{t}\": write a duration before departure like \"3h\" or \"6h\", or a date and time like \"2026-11-30 18:00\""
                ),
            );
            None
        }
    }
}
