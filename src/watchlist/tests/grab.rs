//! Grab watches (`action = "grab"`): the grab spec, its defaults, the `[[watch.passenger]]`
//! tables, and that an ID number never appears whole.

use std::time::Duration;

use super::support::*;
use crate::watchlist::*;

/// A made-up 身份证号 (region 110101) with a correct check character.
fn resident(birth: &str, seq: &str) -> String {
    let first17 = format!("110101{birth}{seq}");
    format!("{first17}{}", crate::identity::check_char(&first17))
}

/// A grab watch: trains on line 6, seats on line 7, `action = "grab"` on line 8, then `extra`
/// and the `people` tables.
fn grab_custom(trains: &str, seats: &str, extra: &str, people: &str) -> String {
    format!(
        "[[watch]]\nname = \"回家\"\nfrom = \"上海虹桥\"\nto = \"常州\"\ndates = [\"2026-12-01\"]\ntrains = {trains}\nseats = {seats}\naction = \"grab\"\n{extra}{people}"
    )
}

fn grab_with(extra: &str, people: &str) -> String {
    grab_custom(
        "[\"G8294\", \"G7001\"]",
        "[\"二等座\", \"一等座\"]",
        extra,
        people,
    )
}

/// Three lines: header, name, id_no.
fn person(name: &str, id_no: &str) -> String {
    format!("[[watch.passenger]]\nname = \"{name}\"\nid_no = \"{id_no}\"\n")
}

#[track_caller]
fn assert_no_number(diags: &[Diagnostic], numbers: &[&str]) {
    for d in diags {
        for n in numbers {
            assert!(!d.message.contains(n), "a full ID number leaked: {d}");
        }
    }
}

#[test]
fn a_grab_watch_parses_into_the_exact_grab_spec_with_defaults_and_derived_birthdays() {
    let adult = resident("19900307", "451");
    let child = resident("20160501", "123");
    let people = format!(
        "{}[[watch.passenger]]\nname = \"李小四\"\ntype = \"儿童\"\nid_no = \"{}\"\nbirthday = \"2016-05-01\"\n",
        person("张三", &adult),
        child.to_lowercase()
    );
    let (list, warns) = warnings(&grab_with("", &people));
    assert!(warns.is_empty(), "{warns:#?}");
    let w = &list.watches[0];
    assert_eq!(w.action, WatchAction::Grab);
    assert_eq!(w.passengers, 2, "the seat count follows the passenger list");
    assert_eq!(w.seats, vec![SeatClass::Second, SeatClass::First]);
    let grab = GrabSpec {
        grab_on: GrabOn::Seats,
        accept_no_seat: false,
        close: CloseTime::BeforeDeparture(MIN_CLOSE_BEFORE),
        orders_per_date: 1,
        passengers: vec![
            Passenger {
                name: "张三".into(),
                kind: PassengerKind::Adult,
                id_type: IdType::ResidentId,
                id_no: IdNumber::new(&adult),
                birthday: date("1990-03-07"),
            },
            Passenger {
                name: "李小四".into(),
                kind: PassengerKind::Child,
                id_type: IdType::ResidentId,
                id_no: IdNumber::new(&child),
                birthday: date("2016-05-01"),
            },
        ],
    };
    assert_eq!(w.grab, Some(grab));
    assert_eq!(
        w.juhe_choice(&["G1", "G7001", "g8294"]),
        Some(JuheChoice {
            train_no: "G8294|G7001".into(),
            main_train_no: "G8294".into(),
            seat_class_code: "secondseat|firstseat".into(),
            main_seat_class: "secondseat",
        })
    );
    let only_alternative = w.juhe_choice(&["G7001"]).expect("G7001 runs");
    assert_eq!(
        (
            only_alternative.train_no.as_str(),
            only_alternative.main_train_no.as_str()
        ),
        ("G7001", "G7001")
    );
    assert_eq!(w.juhe_choice(&["G1"]), None);
    let (alert, _) = warnings(&watch_with("trains = [\"G8294\"]\n"));
    assert_eq!(alert.watches[0].grab, None);
    assert_eq!(alert.watches[0].juhe_choice(&["G8294"]), None);
}

#[test]
fn grab_settings_are_read_as_written() {
    let a = resident("19900307", "451");
    let extra = "grab_on = \"start\"\naccept_no_seat = true\nclose_time = \"2026-11-30 18:00\"\norders_per_date = 3\npassengers = 1\n";
    let (list, _) = warnings(&grab_custom(
        "[\"G8294\"]",
        "[\"二等座\", \"无座\"]",
        extra,
        &person("张三", &a),
    ));
    let w = &list.watches[0];
    let g = w.grab.as_ref().expect("grab watch");
    assert_eq!(g.grab_on, GrabOn::Start);
    assert!(g.accept_no_seat);
    let at = NaiveDateTime::parse_from_str("2026-11-30 18:00", "%Y-%m-%d %H:%M").expect("time");
    assert_eq!(g.close, CloseTime::At(at));
    assert_eq!(g.orders_per_date, 3);
    assert_eq!(w.seats, vec![SeatClass::Second, SeatClass::NoSeat]);
    let choice = w.juhe_choice(&["G8294"]).expect("runs");
    assert_eq!(choice.seat_class_code, "secondseat|noseat");

    let (list, _) = warnings(&grab_with("close_time = \"6h 30m\"\n", &person("张三", &a)));
    let g = list.watches[0].grab.as_ref().expect("grab watch");
    assert_eq!(
        g.close,
        CloseTime::BeforeDeparture(Duration::from_secs(6 * 3600 + 1800))
    );
    let (list, _) = warnings(&grab_with(
        "close_time = 2026-11-30T18:00:00\n",
        &person("张三", &a),
    ));
    let g = list.watches[0].grab.as_ref().expect("grab watch");
    assert_eq!(g.close, CloseTime::At(at));
}

#[test]
fn passengers_may_also_be_an_array_of_inline_tables() {
    let a = resident("19900307", "451");
    let people = format!("passenger = [{{ name = \"张三\", id_no = \"{a}\" }}]\n");
    let (list, _) = warnings(&grab_with(&people, ""));
    let g = list.watches[0].grab.as_ref().expect("grab watch");
    assert_eq!(g.passengers[0].birthday, date("1990-03-07"));
}

#[test]
fn the_deadline_is_before_departure_and_never_later_than_three_hours_before() {
    let t = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time");
    let departure = t("2026-12-01 10:00");
    let before = |h: u64| CloseTime::BeforeDeparture(Duration::from_secs(h * 3600));
    assert_eq!(before(3).deadline(departure), t("2026-12-01 07:00"));
    assert_eq!(before(30).deadline(departure), t("2026-11-30 04:00"));
    assert_eq!(
        CloseTime::At(t("2026-12-01 09:00")).deadline(departure),
        t("2026-12-01 07:00")
    );
    assert_eq!(
        CloseTime::At(t("2026-11-30 18:00")).deadline(departure),
        t("2026-11-30 18:00")
    );
}

#[test]
fn grab_keys_on_an_alert_watch_are_rejected_at_each_key() {
    let a = resident("19900307", "451");
    let extra = format!(
        "grab_on = \"start\"\naccept_no_seat = true\nclose_time = \"3h\"\norders_per_date = 2\n{}",
        person("张三", &a)
    );
    let diags = errors(&watch_with(&extra));
    let got: Vec<(usize, usize)> = diags.iter().map(|d| (d.line, d.col)).collect();
    assert_eq!(got, [(6, 1), (7, 1), (8, 1), (9, 1), (10, 1)], "{diags:#?}");
    assert_at(&diags[0], 6, 1, "grab_on is only for action = \"grab\"");
    assert_at(
        &diags[4],
        10,
        1,
        "[[watch.passenger]] is only for action = \"grab\"",
    );
    assert_no_number(&diags, &[&a]);
    let d = one_error(&watch_with("action = \"alert\"\naccept_no_seat = false\n"));
    assert_at(&d, 7, 1, "accept_no_seat is only for action = \"grab\"");
}

#[test]
fn six_passengers_are_one_too_many_for_juhe() {
    let people: String = (1..=6)
        .map(|i| person(&format!("乘客{i}"), &resident("19900307", &format!("45{i}"))))
        .collect();
    let d = one_error(&grab_with("", &people));
    assert_at(&d, 24, 1, "at most 5 passengers (Juhe's limit)");
    let five: String = (1..=5)
        .map(|i| person(&format!("乘客{i}"), &resident("19900307", &format!("45{i}"))))
        .collect();
    let (list, _) = warnings(&grab_with("", &five));
    assert_eq!(list.watches[0].passengers, 5);
}

#[test]
fn a_grab_watch_for_students_is_refused() {
    let a = resident("19900307", "451");
    let d = one_error(&grab_with("student = true\n", &person("张三", &a)));
    assert_at(&d, 9, 11, "Juhe sells no student tickets");
    let people = format!("[[watch.passenger]]\nname = \"张三\"\ntype = \"学生\"\nid_no = \"{a}\"\n");
    let d = one_error(&grab_with("", &people));
    assert_at(&d, 11, 8, "Juhe sells no student tickets (学生票)");
}

#[test]
fn a_grab_watch_needs_trains_seats_and_passengers() {
    let text = "[[watch]]\nname = \"w\"\nfrom = \"上海虹桥\"\nto = \"常州\"\ndates = [\"2026-12-01\"]\naction = \"grab\"\n";
    let diags = errors(text);
    assert_eq!(diags.len(), 3, "{diags:#?}");
    assert_at(&diags[0], 6, 10, "action = \"grab\" needs trains");
    assert_at(&diags[1], 6, 10, "action = \"grab\" needs seats");
    assert_at(&diags[2], 6, 10, "add 1 to 5 [[watch.passenger]] tables");
    let a = resident("19900307", "451");
    let d = one_error(&grab_custom("[]", "[\"二等座\"]", "", &person("张三", &a)));
    assert_at(&d, 6, 10, "trains is empty");
    let d = one_error(&grab_with("passenger = []\n", ""));
    assert_at(&d, 9, 13, "needs 1 to 5 passengers; this list is empty");
}

#[test]
fn grab_trains_are_at_most_five_exact_codes() {
    let a = resident("19900307", "451");
    let d = one_error(&grab_custom(
        "[\"G8294\", \"G7*\"]",
        "[\"二等座\"]",
        "",
        &person("张三", &a),
    ));
    assert_at(
        &d,
        6,
        20,
        "\"G7*\" is a prefix, but Juhe orders name their trains",
    );
    let six = "[\"G1\", \"G2\", \"G3\", \"G4\", \"G5\", \"G6\"]";
    let d = one_error(&grab_custom(six, "[\"二等座\"]", "", &person("张三", &a)));
    assert_at(&d, 6, 41, "at most 5 trains");
}

#[test]
fn a_seat_class_without_a_juhe_code_cannot_be_grabbed() {
    let a = resident("19900307", "451");
    let d = one_error(&grab_custom(
        "[\"D1\"]",
        "[\"二等座\", \"动卧\"]",
        "",
        &person("张三", &a),
    ));
    assert_at(&d, 7, 17, "动卧 cannot be grabbed: Juhe has no seat code for it");
    let d = one_error(&grab_custom("[\"D1\"]", "[\"无座\"]", "", &person("张三", &a)));
    assert_at(&d, 7, 10, "seats lists 无座 but accept_no_seat is false");
    let d = one_error(&grab_custom("[\"D1\"]", "[]", "", &person("张三", &a)));
    assert_at(&d, 7, 9, "seats is empty");
}

#[test]
fn the_seat_count_must_match_the_passenger_list() {
    let a = resident("19900307", "451");
    let d = one_error(&grab_with("passengers = 3\n", &person("张三", &a)));
    assert_at(
        &d,
        9,
        14,
        "passengers = 3 but this watch lists 1 [[watch.passenger]]",
    );
    let d = one_error(&watch_with("passengers = [{ name = \"张三\" }]\n"));
    assert_at(&d, 6, 14, "passengers is the number of seats");
    assert!(d.message.contains("[[watch.passenger]]"), "{d}");
}

#[test]
fn a_wrong_check_digit_is_reported_with_the_number_masked() {
    let good = resident("19900307", "451");
    let last = good.chars().last().expect("18 chars");
    let bad = format!("{}{}", &good[..17], if last == '0' { '1' } else { '0' });
    let d = one_error(&grab_with("", &person("张三", &bad)));
    assert_at(&d, 11, 9, "身份证号 1101***********");
    assert!(d.message.contains(&crate::identity::mask_id(&bad)), "{d}");
    assert!(d.message.contains("check character"), "{d}");
    assert_no_number(&[d], &[&bad]);
    let d = one_error(&grab_with("", &person("张三", "11010119900307")));
    assert_at(&d, 11, 9, "has 18 characters");
}

#[test]
fn passenger_mistakes_are_each_reported_where_they_are() {
    let a = resident("19900307", "451");
    let b = resident("19850101", "222");
    let c = resident("20100101", "333");
    let people = format!(
        "[[watch.passenger]]\nname = \"张\"\ntype = \"老人\"\nid_no = \"{a}\"\n\
         [[watch.passenger]]\nname = \"李四\"\nid_type = \"驾照\"\nid_no = \"E12345678\"\n\
         [[watch.passenger]]\nname = \"王五\"\nid_no = \"{b}\"\nbirthday = \"1985-01-02\"\n\
         [[watch.passenger]]\nname = \"Anna Smith\"\nid_type = \"护照\"\nid_no = \"X1234567\"\n\
         [[watch.passenger]]\nname = \"赵小六\"\ntype = \"儿童\"\nid_no = \"{c}\"\n"
    );
    let diags = errors(&grab_with("", &people));
    assert_eq!(diags.len(), 6, "{diags:#?}");
    assert_at(&diags[0], 10, 8, "passenger name \"张\" is too short");
    assert_at(
        &diags[1],
        11,
        8,
        "unknown passenger type \"老人\" (allowed: \"成人\", \"儿童\")",
    );
    assert_at(
        &diags[2],
        15,
        11,
        "unknown id_type \"驾照\" (known: 身份证, 护照, 港澳通行证, 台湾通行证)",
    );
    assert_at(
        &diags[3],
        20,
        12,
        "birthday 1985-01-02 does not match the birth date inside the 身份证号 1101",
    );
    assert_at(&diags[4], 21, 1, "with id_type = \"护照\" needs birthday");
    assert_at(
        &diags[5],
        27,
        8,
        "儿童 tickets are for children under 14, and this passenger is 16",
    );
    assert_no_number(&diags, &[&a, &b, &c]);
}

#[test]
fn duplicate_missing_and_impossible_identities_are_errors() {
    let a = resident("19900307", "451");
    let people = format!("{}{}", person("张三", &a), person("张三三", &a.to_lowercase()));
    let d = one_error(&grab_with("", &people));
    assert_at(&d, 14, 9, "is listed twice in this watch (first on line 11)");
    assert_no_number(&[d], &[&a]);

    let d = one_error(&grab_with("", "[[watch.passenger]]\nname = \"张三\"\n"));
    assert_at(
        &d,
        9,
        1,
        "[[watch.passenger]] is missing the required key \"id_no\"",
    );

    let unborn = resident("20270101", "123");
    let d = one_error(&grab_with("", &person("张三", &unborn)));
    assert_at(&d, 11, 9, "the birth date inside it is in the future");
    assert_no_number(&[d], &[&unborn]);

    let passport = "[[watch.passenger]]\nname = \"Anna Smith\"\nid_type = \"passport\"\nid_no = \"AB-1234567890\"\nbirthday = \"2030-01-01\"\n";
    let diags = errors(&grab_with("", passport));
    assert_eq!(diags.len(), 2, "{diags:#?}");
    assert_at(&diags[0], 12, 9, "护照 number A**********90 is not valid");
    assert_at(&diags[1], 13, 12, "birthday 2030-01-01 is in the future");
    assert_no_number(&diags, &["AB-1234567890"]);

    let d = one_error(&grab_with(
        "",
        &format!("{}birthday = \"1990-3-7\"\n", person("张三", &a)),
    ));
    assert_at(&d, 12, 12, "birthday: invalid date \"1990-3-7\"");
}

#[test]
fn grab_deadlines_orders_and_triggers_are_checked() {
    let a = resident("19900307", "451");
    let p = person("张三", &a);
    let d = one_error(&grab_with("close_time = \"1h\"\n", &p));
    assert_at(
        &d,
        9,
        14,
        "too close to departure: Juhe does not grab within 3 hours of departure",
    );
    let d = one_error(&grab_with("close_time = \"2026-11-01 10:00\"\n", &p));
    assert_at(&d, 9, 14, "close_time \"2026-11-01 10:00\" has passed");
    let d = one_error(&grab_with("close_time = \"soon\"\n", &p));
    assert_at(&d, 9, 14, "invalid close_time \"soon\"");
    let d = one_error(&grab_with("orders_per_date = 4\n", &p));
    assert_at(&d, 9, 19, "orders_per_date must be between 1 and 3, found 4");
    let d = one_error(&grab_with("grab_on = \"now\"\n", &p));
    assert_at(&d, 9, 11, "unknown grab_on \"now\"");
    let d = one_error(&grab_with("accept_no_seat = \"yes\"\n", &p));
    assert_at(&d, 9, 18, "accept_no_seat must be a boolean");
}

#[test]
fn id_numbers_never_appear_whole_in_debug_output_or_diagnostics() {
    let a = resident("19900307", "451");
    let (list, _) = warnings(&grab_with("", &person("张三", &a)));
    let dump = format!("{list:?}");
    assert!(!dump.contains(&a), "{dump}");
    assert!(dump.contains(&crate::identity::mask_id(&a)), "{dump}");
    assert_eq!(
        list.watches[0].grab.as_ref().expect("grab").passengers[0]
            .id_no
            .expose(),
        a
    );

    // An ID number written without quotes is a TOML error: its text is not echoed.
    let unquoted = format!("[[watch.passenger]]\nname = \"张三\"\nid_no = {}X\n", &a[..17]);
    let diags = errors(&grab_with("", &unquoted));
    assert_no_number(&diags, &[&a[..17]]);
    let diags = errors(&grab_with(
        "",
        &format!("[[watch.passenger]]\nname = \"张三\"\nid_no = {}\n", &a[..17]),
    ));
    assert_no_number(&diags, &[&a[..17]]);
}
