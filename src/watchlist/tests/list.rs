//! The watch list as a whole: every key of an alert watch, `[defaults]`, `[[waitlist]]`, and how
//! each mistake is reported (position, wording, suggestion).

use std::time::Duration;

use chrono::NaiveTime;

use super::support::*;
use crate::watchlist::*;

const RICH: &str = r#"# Everything a watch list can say.
[defaults]
every = "2m"
notify = ["me@example.com"]

[[watch]]
name = "上海→常州 周末"
from = "上海虹桥"
to = "常州"
same_city = true
dates = ["2026-12-03..2026-12-05", "2026-12-01", "2026-12-04"]
trains = ["g*", "D3010"]
exclude_trains = ["G7*"]
depart = "7:00-12:00"
arrive = "22:00-01:30"
seats = ["一等座", "二等座", "wz"]
passengers = 2
student = true
cron = "0 */2 7-22 * * *"
notify = ["a@b.cn", "c.d@e.com.cn"]
action = "alert"

[[watch]]
name = "回北京"
from = "shhq"
to = "beijingnan"
dates = [2026-12-10]
"#;

#[test]
fn a_rich_valid_list_parses_into_exactly_the_expected_watches() {
    let (list, warns) = warnings(RICH);
    assert!(warns.is_empty(), "{warns:#?}");
    let hm = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("valid time");
    let first = Watch {
        name: "上海→常州 周末".into(),
        from: station("AOH"),
        to: station("CZH"),
        same_city: true,
        dates: ["2026-12-01", "2026-12-03", "2026-12-04", "2026-12-05"]
            .map(date)
            .to_vec(),
        trains: vec![
            TrainPattern {
                text: "G".into(),
                prefix: true,
            },
            TrainPattern {
                text: "D3010".into(),
                prefix: false,
            },
        ],
        exclude_trains: vec![TrainPattern {
            text: "G7".into(),
            prefix: true,
        }],
        depart: Some(TimeWindow {
            start: hm(7, 0),
            end: hm(12, 0),
        }),
        arrive: Some(TimeWindow {
            start: hm(22, 0),
            end: hm(1, 30),
        }),
        seats: vec![SeatClass::First, SeatClass::Second, SeatClass::NoSeat],
        passengers: 2,
        student: true,
        schedule: Schedule::Cron("0 */2 7-22 * * *".into()),
        burst: crate::watchlist::DEFAULT_BURST,
        notify: vec!["a@b.cn".into(), "c.d@e.com.cn".into()],
        action: WatchAction::Alert,
        grab: None,
        line: 6,
    };
    let second = Watch {
        name: "回北京".into(),
        from: station("AOH"),
        to: station("VNP"),
        same_city: false,
        dates: vec![date("2026-12-10")],
        trains: vec![],
        exclude_trains: vec![],
        depart: None,
        arrive: None,
        seats: vec![],
        passengers: 1,
        student: false,
        schedule: Schedule::Every(Duration::from_secs(120)),
        burst: crate::watchlist::DEFAULT_BURST,
        notify: vec!["me@example.com".into()],
        action: WatchAction::Alert,
        grab: None,
        line: 23,
    };
    assert_eq!(list.watches, vec![first, second]);
}

#[test]
fn without_defaults_a_watch_polls_every_minute_and_notifies_nobody_in_particular() {
    let (list, _) = warnings(&watch_with(""));
    let w = &list.watches[0];
    assert_eq!(w.schedule, Schedule::Every(DEFAULT_EVERY));
    assert!(w.notify.is_empty());
    assert_eq!(w.action, WatchAction::Alert);
    assert_eq!(w.passengers, 1);
}

#[test]
fn a_watch_schedule_overrides_the_default_of_the_other_kind() {
    let text = format!(
        "[defaults]\ncron = \"0 0 * * * *\"\n{}",
        watch_with("every = \"45s\"\n")
    );
    let (list, _) = warnings(&text);
    assert_eq!(list.watches[0].schedule, Schedule::Every(Duration::from_secs(45)));
    let (list, _) = warnings(&format!("[defaults]\ncron = \"0 0 * * * *\"\n{}", watch_with("")));
    assert_eq!(list.watches[0].schedule, Schedule::Cron("0 0 * * * *".into()));
}

#[test]
fn an_unknown_key_in_a_watch_suggests_the_nearest_known_key() {
    let d = one_error(&watch_with("pasengers = 2\n"));
    assert_at(
        &d,
        6,
        1,
        "unknown key \"pasengers\" in [[watch]] (did you mean \"passengers\"?)",
    );
}

#[test]
fn a_misspelt_required_key_is_unknown_and_missing() {
    let text = "[[watch]]\nname = \"w\"\nfrom = \"上海虹桥\"\nto = \"常州\"\ndats = [\"2026-12-01\"]\n";
    let diags = errors(text);
    assert_eq!(diags.len(), 2, "{diags:#?}");
    assert_at(&diags[0], 1, 1, "missing the required key \"dates\"");
    assert_at(
        &diags[1],
        5,
        1,
        "unknown key \"dats\" in [[watch]] (did you mean \"dates\"?)",
    );
}

#[test]
fn an_unknown_top_level_table_suggests_the_known_one() {
    let d = one_error(&format!("{}[[watchs]]\nname = \"x\"\n", watch_with("")));
    assert_at(&d, 6, 3, "unknown table [[watchs]] (did you mean [[watch]]?)");
    let d = one_error(&format!("[defualts]\nevery = \"1m\"\n{}", watch_with("")));
    assert_at(&d, 1, 2, "unknown table [defualts] (did you mean [defaults]?)");
}

#[test]
fn an_unknown_key_in_defaults_is_reported() {
    let d = one_error(&format!("[defaults]\nevry = \"1m\"\n{}", watch_with("")));
    assert_at(
        &d,
        2,
        1,
        "unknown key \"evry\" in [defaults] (did you mean \"every\"?)",
    );
}

#[test]
fn waitlist_entries_are_read_with_their_defaults() {
    let text = format!(
        "[defaults]\nnotify = [\"me@example.com\"]\n{}[[waitlist]]\nname = \"候补\"\n\n[[waitlist]]\nname = \"only one\"\nreserve_no = \"e87000007466000022\"\nevery = \"5m\"\nnotify = [\"a@b.cn\"]\n",
        watch_with("")
    );
    let (list, warns) = warnings(&text);
    assert!(warns.is_empty(), "{warns:#?}");
    assert_eq!(list.watches.len(), 1);
    assert_eq!(
        list.waitlists,
        vec![
            WaitlistWatch {
                name: "候补".into(),
                reserve_no: None,
                schedule: Schedule::Every(DEFAULT_WAITLIST_EVERY),
                notify: vec!["me@example.com".into()],
                line: 8,
            },
            WaitlistWatch {
                name: "only one".into(),
                reserve_no: Some("E87000007466000022".into()),
                schedule: Schedule::Every(Duration::from_secs(300)),
                notify: vec!["a@b.cn".into()],
                line: 11,
            },
        ]
    );
}

#[test]
fn a_waitlist_alone_is_a_valid_list() {
    let (list, warns) = warnings("[[waitlist]]\nname = \"w\"\n");
    assert!(warns.is_empty(), "{warns:#?}");
    assert!(list.watches.is_empty());
    assert_eq!(list.waitlists.len(), 1);
}

#[test]
fn waitlist_mistakes_are_reported_where_they_are() {
    let text = "[[waitlist]]\nname = \"w\"\nreserve_no = \"E87-0\"\nevry = \"2m\"\n\n[[waitlist]]\nname = \"w\"\ncron = \"* *\"\n";
    let d = errors(text);
    assert_eq!(d.len(), 4, "{d:#?}");
    assert_at(&d[0], 3, 14, "is not a 候补 order number");
    assert_at(
        &d[1],
        4,
        1,
        "unknown key \"evry\" in [[waitlist]] (did you mean \"every\"?)",
    );
    assert_at(
        &d[2],
        7,
        8,
        "duplicate waitlist name \"w\" (first used on line 2)",
    );
    assert_at(&d[3], 8, 8, "cron needs 6 fields");
    let d = errors("[[waitlist]]\nreserve_no = \"E1\"\n");
    assert_at(&d[0], 1, 1, "[[waitlist]] is missing the required key \"name\"");
}

#[test]
fn a_wrong_type_names_the_expected_type() {
    let d = one_error(&watch_with("passengers = \"2\"\n"));
    assert_at(&d, 6, 14, "passengers must be an integer, found a string");
    assert!(d.message.contains("write passengers = 2"), "{d}");
    let d = one_error(&watch_with("student = 1\n"));
    assert_at(&d, 6, 11, "student must be a boolean, found an integer");
    let text = "[[watch]]\nname = \"w\"\nfrom = \"上海虹桥\"\nto = \"常州\"\ndates = \"2026-12-01\"\n";
    let d = one_error(text);
    assert_at(&d, 5, 9, "dates must be an array of dates, found a string");
    assert!(d.message.contains("dates = [\"2026-12-01\"]"), "{d}");
}

#[test]
fn a_wrong_element_type_is_reported_at_the_element() {
    let d = one_error(&watch_with("seats = [\"二等座\", 2]\n"));
    assert_at(&d, 6, 17, "seats must hold only strings, found an integer");
}

#[test]
fn a_missing_required_key_is_reported_at_the_watch_header() {
    let text = "[[watch]]\nname = \"w\"\nfrom = \"上海虹桥\"\ndates = [\"2026-12-01\"]\n";
    let d = one_error(text);
    assert_at(&d, 1, 1, "[[watch]] is missing the required key \"to\"");
}

#[test]
fn an_unknown_station_suggests_the_nearest_names() {
    let text = "[[watch]]\nname = \"w\"\nfrom = \"北京难\"\nto = \"常州\"\ndates = [\"2026-12-01\"]\n";
    let d = one_error(text);
    assert_at(&d, 3, 8, "unknown station \"北京难\" (did you mean ");
    assert!(d.message.contains("北京南"), "{d}");
    let text =
        "[[watch]]\nname = \"w\"\nfrom = \"shanghaihongqia\"\nto = \"常州\"\ndates = [\"2026-12-01\"]\n";
    let d = one_error(text);
    assert_at(&d, 3, 8, "did you mean 上海虹桥 (shanghaihongqiao)");
}

#[test]
fn an_ambiguous_short_pinyin_lists_the_candidates_with_telecodes() {
    let text = "[[watch]]\nname = \"w\"\nfrom = \"上海虹桥\"\nto = \"bjn\"\ndates = [\"2026-12-01\"]\n";
    let d = one_error(text);
    assert_at(&d, 4, 6, "station \"bjn\" is ambiguous: 北京南 VNP, 宝鸡南 BBY");
}

#[test]
fn the_same_station_as_from_and_to_is_an_error() {
    let text = "[[watch]]\nname = \"w\"\nfrom = \"上海虹桥\"\nto = \"AOH\"\ndates = [\"2026-12-01\"]\n";
    let d = one_error(text);
    assert_at(&d, 4, 6, "from and to are the same station (上海虹桥 AOH)");
}

fn with_dates(dates: &str) -> String {
    format!("[[watch]]\nname = \"w\"\nfrom = \"上海虹桥\"\nto = \"常州\"\ndates = [{dates}]\n")
}

#[test]
fn malformed_dates_say_the_expected_form() {
    let d = one_error(&with_dates("\"2026-12-1\""));
    assert_at(
        &d,
        5,
        10,
        "invalid date \"2026-12-1\": expected YYYY-MM-DD, zero-padded",
    );
    assert!(d.message.contains("did you mean \"2026-12-01\"?"), "{d}");
    let d = one_error(&with_dates("\"2026-13-01\""));
    assert_at(
        &d,
        5,
        10,
        "invalid date \"2026-13-01\": there is no month 13 (expected YYYY-MM-DD",
    );
    let d = one_error(&with_dates("\"2026-12-02\", \"tomorrow\""));
    assert_at(&d, 5, 24, "invalid date \"tomorrow\": expected YYYY-MM-DD");
    let d = one_error(&with_dates("\"2026-02-30\""));
    assert_at(&d, 5, 10, "invalid date \"2026-02-30\": no such day");
}

#[test]
fn an_empty_date_list_is_an_error() {
    let d = one_error(&with_dates(""));
    assert_at(&d, 5, 9, "dates is empty");
}

#[test]
fn a_reversed_date_range_suggests_the_swapped_range() {
    let d = one_error(&with_dates("\"2026-12-05..2026-12-01\""));
    assert_at(
        &d,
        5,
        10,
        "date range \"2026-12-05..2026-12-01\" is reversed (did you mean \"2026-12-01..2026-12-05\"?)",
    );
}

#[test]
fn a_date_range_longer_than_sixty_days_is_an_error() {
    let (list, _) = warnings(&with_dates("\"2026-12-01..2027-01-29\""));
    assert_eq!(list.watches[0].dates.len(), 60);
    let d = one_error(&with_dates("\"2026-12-01..2027-01-30\""));
    assert_at(&d, 5, 10, "covers 61 days; a range may cover at most 60");
}

#[test]
fn past_dates_are_warnings_not_errors() {
    let (list, warns) = warnings(&with_dates(
        "\"2026-11-01\", \"2026-11-10..2026-11-21\", \"2026-11-21..2026-11-23\", \"2026-12-01\"",
    ));
    assert_eq!(warns.len(), 2, "{warns:#?}");
    assert_eq!(warns[0].severity, Severity::Warning);
    assert_at(
        &warns[0],
        5,
        10,
        "date \"2026-11-01\" is in the past and will be skipped",
    );
    assert_at(
        &warns[1],
        5,
        24,
        "date range \"2026-11-10..2026-11-21\" is in the past and will be skipped",
    );
    let w = &list.watches[0];
    assert_eq!(w.dates.len(), 1 + 12 + 2 + 1, "past dates stay in the list");
    let upcoming: Vec<NaiveDate> = w.query_dates(today()).collect();
    assert_eq!(upcoming, ["2026-11-22", "2026-11-23", "2026-12-01"].map(date));
}

#[test]
fn a_watch_whose_dates_have_all_passed_is_finished_with_a_warning() {
    let (list, warns) = warnings(&with_dates("\"2026-11-01\", \"2026-11-20..2026-11-21\""));
    assert_eq!(list.watches.len(), 1);
    assert_eq!(warns.len(), 1, "{warns:#?}");
    assert_eq!(warns[0].severity, Severity::Warning);
    assert_at(
        &warns[0],
        1,
        1,
        "watch \"w\": every date has passed; this watch is finished",
    );
    assert_eq!(list.watches[0].query_dates(today()).count(), 0);
}

#[test]
fn malformed_time_windows_are_errors() {
    let d = one_error(&watch_with("depart = \"25:00-26:00\"\n"));
    assert_at(
        &d,
        6,
        10,
        "invalid depart window \"25:00-26:00\": hour 25 is out of range 0-23",
    );
    let d = one_error(&watch_with("depart = \"07:00\"\n"));
    assert_at(
        &d,
        6,
        10,
        "invalid depart window \"07:00\": expected HH:MM-HH:MM, e.g. \"07:00-12:00\"",
    );
    let d = one_error(&watch_with("arrive = \"07:00-\"\n"));
    assert_at(
        &d,
        6,
        10,
        "invalid arrive window \"07:00-\": expected HH:MM-HH:MM",
    );
    let d = one_error(&watch_with("arrive = \"07:00-24:00\"\n"));
    assert_at(&d, 6, 10, "use 23:59 for the end of the day");
    let d = one_error(&watch_with("arrive = \"07:60-08:00\"\n"));
    assert_at(&d, 6, 10, "minute 60 is out of range");
}

#[test]
fn an_unknown_seat_class_lists_the_known_ones() {
    let d = one_error(&watch_with("seats = [\"二等座\", \"三等座\"]\n"));
    assert_at(
        &d,
        6,
        17,
        "unknown seat class \"三等座\" (known: 商务座, 特等座, 一等座, 二等座,",
    );
    assert!(d.message.ends_with("无座, 其他)"), "{d}");
}

#[test]
fn a_repeated_seat_class_is_a_warning_and_dropped() {
    let (list, warns) = warnings(&watch_with("seats = [\"二等座\", \"一等座\", \"ze\"]\n"));
    assert_eq!(list.watches[0].seats, vec![SeatClass::Second, SeatClass::First]);
    assert_eq!(warns.len(), 1, "{warns:#?}");
    assert_eq!(warns[0].severity, Severity::Warning);
    assert_at(&warns[0], 6, 24, "seat class \"ze\" (二等座) is listed twice");
}

#[test]
fn passengers_must_be_between_one_and_nine() {
    let d = one_error(&watch_with("passengers = 0\n"));
    assert_at(
        &d,
        6,
        14,
        "passengers must be between 1 and 9 (12306's limit per order), found 0",
    );
    let d = one_error(&watch_with("passengers = 10\n"));
    assert_at(&d, 6, 14, "found 10");
    let (list, _) = warnings(&watch_with("passengers = 9\n"));
    assert_eq!(list.watches[0].passengers, 9);
}

#[test]
fn polling_faster_than_every_five_seconds_is_refused() {
    let d = one_error(&watch_with("every = \"2s\"\n"));
    assert_at(
        &d,
        6,
        9,
        "every = \"2s\" is too short: at least 5s (12306 throttles",
    );
    let d = one_error(&watch_with("every = \"soon\"\n"));
    assert_at(&d, 6, 9, "invalid duration \"soon\"");
    assert!(d.message.contains("e.g. \"30s\""), "{d}");
    let (list, _) = warnings(&watch_with("every = \"5s\"\n"));
    assert_eq!(list.watches[0].schedule, Schedule::Every(MIN_EVERY));
}

#[test]
fn the_opening_burst_is_ten_minutes_unless_set_and_at_most_an_hour() {
    let (list, _) = warnings(&watch_with(""));
    assert_eq!(list.watches[0].burst, crate::watchlist::DEFAULT_BURST);
    assert_eq!(list.watches[0].burst, std::time::Duration::from_secs(600));
    let (list, _) = warnings(&watch_with("burst = \"0s\"\n"));
    assert_eq!(list.watches[0].burst, std::time::Duration::ZERO);
    let (list, _) = warnings(&watch_with("burst = \"3m\"\n"));
    assert_eq!(list.watches[0].burst, std::time::Duration::from_secs(180));
    let d = one_error(&watch_with("burst = \"2h\"\n"));
    assert_at(&d, 6, 9, "burst = \"2h\" is too long: at most 1h");
    let d = one_error(&watch_with("burst = \"a while\"\n"));
    assert_at(&d, 6, 9, "invalid duration \"a while\"");
}

#[test]
fn cron_needs_six_fields_seconds_first() {
    let d = one_error(&watch_with("cron = \"*/5 * * * *\"\n"));
    assert_at(
        &d,
        6,
        8,
        "cron needs 6 fields, seconds first, e.g. \"0 */5 * * * *\"",
    );
    let d = one_error(&watch_with("cron = \"0 0 25 * * *\"\n"));
    assert_at(
        &d,
        6,
        8,
        "invalid cron expression \"0 0 25 * * *\": the hours field \"25\" is not valid",
    );
}

#[test]
fn every_and_cron_together_are_an_error_at_the_second() {
    let d = one_error(&watch_with("cron = \"0 * * * * *\"\nevery = \"1m\"\n"));
    assert_at(&d, 7, 9, "every and cron are mutually exclusive");
    let d = one_error(&format!(
        "[defaults]\nevery = \"1m\"\ncron = \"0 * * * * *\"\n{}",
        watch_with("")
    ));
    assert_at(&d, 3, 8, "every and cron are mutually exclusive");
}

#[test]
fn an_unknown_action_lists_the_allowed_values() {
    let d = one_error(&watch_with("action = \"buy\"\n"));
    assert_at(&d, 6, 10, "unknown action \"buy\" (allowed: \"alert\", \"grab\")");
}

#[test]
fn each_malformed_email_address_is_its_own_error() {
    let diags = errors(&watch_with(
        "notify = [\"ok@example.com\", \"nobody\", \"@x.cn\", \"a@localhost\", \"a@b@c.cn\"]\n",
    ));
    let bad: Vec<(usize, usize)> = diags.iter().map(|d| (d.line, d.col)).collect();
    assert_eq!(bad, [(6, 29), (6, 39), (6, 48), (6, 63)], "{diags:#?}");
    assert_at(
        &diags[0],
        6,
        29,
        "invalid email address \"nobody\": expected name@example.com",
    );
    let d = one_error(&format!("[defaults]\nnotify = [\"me\"]\n{}", watch_with("")));
    assert_at(&d, 2, 11, "invalid email address \"me\"");
}

#[test]
fn a_duplicate_name_points_to_the_first_one() {
    let text = format!("{}\n{}", watch_with(""), watch_with(""));
    let d = one_error(&text);
    assert_at(&d, 8, 8, "duplicate watch name \"w\" (first used on line 2)");
}

#[test]
fn a_file_without_watches_is_valid_with_a_warning() {
    let (list, warns) = warnings("# nothing yet\n[defaults]\nevery = \"1m\"\n");
    assert!(list.watches.is_empty());
    assert_eq!(warns.len(), 1);
    assert_eq!(warns[0].severity, Severity::Warning);
    assert_at(&warns[0], 1, 1, "no [[watch]] tables");
    let (list, _) = warnings("");
    assert!(list.watches.is_empty());
}

#[test]
fn a_single_watch_table_is_told_to_use_double_brackets() {
    let d = one_error("[watch]\nname = \"w\"\n");
    assert_at(&d, 1, 2, "write [[watch]] (double brackets");
}

#[test]
fn a_toml_syntax_error_is_reported_with_its_position() {
    let d = one_error("[[watch]]\nname = \"上海\nfrom = \"x\"\n");
    assert_eq!((d.line, d.col), (2, 11), "{d}");
    assert!(d.message.starts_with("TOML syntax error: "), "{d}");
    let d = one_error("[[watch]]\nname = \"a\"\nname = \"b\"\n");
    assert_at(&d, 3, 1, "duplicate key (at `name`)");
}

#[test]
fn five_different_problems_are_all_reported_in_file_order() {
    let text = r#"[defaults]
evry = "1m"

[[watch]]
name = "a"
from = "北京难"
to = "常州"
dates = ["2026-12-1"]
passengers = 0
action = "buy"
"#;
    let diags = errors(text);
    let got: Vec<(usize, usize)> = diags.iter().map(|d| (d.line, d.col)).collect();
    assert_eq!(got, [(2, 1), (6, 8), (8, 10), (9, 14), (10, 10)], "{diags:#?}");
    assert!(diags.iter().all(|d| d.severity == Severity::Error));
    assert!(diags[0].message.contains("evry"));
    assert!(diags[1].message.contains("北京难"));
    assert!(diags[2].message.contains("2026-12-1"));
    assert!(diags[3].message.contains("passengers"));
    assert!(diags[4].message.contains("buy"));
}

#[test]
fn diagnostics_print_as_file_line_col() {
    let d = one_error(&watch_with("action = \"buy\"\n"));
    assert_eq!(
        d.to_string(),
        "watchlist.toml:6:10: unknown action \"buy\" (allowed: \"alert\", \"grab\")"
    );
    let (_, warns) = warnings("");
    assert_eq!(
        warns[0].to_string(),
        "watchlist.toml:1:1: warning: no [[watch]] tables: nothing will be watched"
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    let text = "[[watch]]\nname = \"w\"\nfrom = \"上海虹桥\"\nto = \"常州\"\ndates = [\"2026-12-01\"]\nseats = [\"二等座\", \"三等座\"]\n";
    let d = one_error(text);
    assert_eq!((d.line, d.col), (6, 17), "{d}");
}

#[test]
fn a_missing_file_is_one_diagnostic_saying_what_to_do() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("watchlist.toml");
    let diags = load(&path, today()).expect_err("missing file");
    assert_eq!(diags.len(), 1);
    assert_eq!((diags[0].line, diags[0].col), (1, 1));
    assert_eq!(diags[0].file, path.display().to_string());
    assert!(diags[0].message.contains("create it"), "{}", diags[0]);
    std::fs::write(&path, watch_with("")).expect("write");
    let (list, _) = load(&path, today()).expect("valid file");
    assert_eq!(list.watches[0].from.telecode, "AOH");
}

#[test]
fn train_patterns_match_exact_codes_and_prefixes() {
    let exact = TrainPattern {
        text: "D3010".into(),
        prefix: false,
    };
    assert!(exact.matches("D3010"));
    assert!(exact.matches("d3010"));
    assert!(!exact.matches("D30101"));
    assert!(!exact.matches("D301"));
    let prefix = TrainPattern {
        text: "G7".into(),
        prefix: true,
    };
    assert!(prefix.matches("G7"));
    assert!(prefix.matches("G7101"));
    assert!(!prefix.matches("G1701"));
    assert!(!prefix.matches("D7101"));
    assert!(!prefix.matches("G"));
    assert_eq!(prefix.to_string(), "G7*");
}

#[test]
fn train_patterns_are_upper_cased_and_checked() {
    let (list, _) = warnings(&watch_with("trains = [\"g12\", \"k*\"]\n"));
    let shown: Vec<String> = list.watches[0].trains.iter().map(|p| p.to_string()).collect();
    assert_eq!(shown, ["G12", "K*"]);
    let d = one_error(&watch_with("trains = [\"G*1\"]\n"));
    assert_at(&d, 6, 11, "invalid train pattern \"G*1\"");
    let d = one_error(&watch_with("exclude_trains = [\"*\"]\n"));
    assert_at(&d, 6, 19, "train pattern \"*\" matches nothing specific");
}

#[test]
fn notify_lists_mix_addresses_and_declared_channels_and_an_unknown_channel_is_placed() {
    let channels = ["iphone".to_string(), "team".to_string()];
    let parse = |text: &str| {
        parse_with_channels(
            text,
            "watchlist.toml",
            today(),
            crate::stations::StationTable::embedded(),
            &channels,
        )
    };
    let text = format!(
        "[defaults]\nnotify = [\"team\"]\n{}\n[[waitlist]]\nname = \"h\"\nnotify = [\"iphone\", \"me@example.com\"]\n",
        watch_with("notify = [\"me@example.com\", \"iphone\"]\n")
    );
    let (list, _) = parse(&text).expect("known channels are accepted");
    assert_eq!(list.watches[0].notify, ["me@example.com", "iphone"]);
    assert_eq!(list.waitlists[0].notify, ["iphone", "me@example.com"]);

    let text = format!(
        "[defaults]\nnotify = [\"team\"]\n{}",
        watch_with("notify = [\"iphnoe\"]\n")
    );
    let diags = parse(&text).expect_err("an unknown channel is an error");
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_at(
        &diags[0],
        8,
        11,
        "unknown channel \"iphnoe\" (the settings declare: iphone, team)",
    );
    let diags = parse("[defaults]\nnotify = [\"pager\"]\n").expect_err("[defaults] is checked too");
    let error = diags
        .iter()
        .find(|d| d.severity == Severity::Error)
        .expect("an error");
    assert_at(error, 2, 11, "unknown channel \"pager\"");
}
