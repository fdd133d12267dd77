//! `yupiao check`, `stations` and the argument parser end to end: the real binary, its exit codes
//! (0 ok, 1 runtime failure, 2 usage or validation error) and what it prints where.

mod common;

use std::path::Path;

use common::*;

fn yupiao(dir: &Path) -> Yupiao {
    Yupiao::new(dir)
}

#[test]
fn the_shipped_watch_list_passes_check() {
    let dir = tempfile::tempdir().expect("temp dir");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("watchlist.toml");
    let out = yupiao(dir.path())
        .args(["--watchlist", shipped.to_str().expect("utf-8 path"), "check"])
        .run_blocking();
    out.assert_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one summary line\n{out}");
    assert!(lines[0].contains("OK"), "{out}");
    assert!(lines[0].contains("2 watches"), "{out}");
    assert!(lines[0].contains("settings: built-in defaults"), "{out}");
}

#[test]
fn a_bad_watch_list_reports_every_problem_with_its_line_and_column() {
    let dir = tempfile::tempdir().expect("temp dir");
    let reversed = format!("{}..{}", ymd(day(5)), ymd(day(3)));
    let text = format!(
        r#"[[watch]]
name = "坏的"
from = "北京难"
to = "上海"
dates = ["2026-12-1", "{reversed}"]
seats = ["二等座", "三等座"]
cron = "0 */5 * * *"
colour = "red"
"#
    );
    write_watchlist(dir.path(), &text);
    let out = yupiao(dir.path()).arg("check").run_blocking();
    out.assert_code(2);
    assert!(out.stdout.trim().is_empty(), "nothing on stdout\n{out}");
    // (line, col, part of the message); columns count characters, not bytes.
    let expected: [(usize, usize, &str); 6] = [
        (3, 8, "unknown station \"北京难\""),
        (5, 10, "invalid date \"2026-12-1\""),
        (5, 23, "is reversed"),
        (6, 17, "unknown seat class \"三等座\""),
        (7, 8, "cron"),
        (8, 1, "unknown key \"colour\""),
    ];
    for (line, col, what) in expected {
        let prefix = format!("watchlist.toml:{line}:{col}: ");
        assert!(
            out.stderr
                .lines()
                .any(|l| l.starts_with(&prefix) && l.contains(what)),
            "expected `{prefix}…{what}…`\n{out}"
        );
    }
    let station = out
        .stderr
        .lines()
        .find(|l| l.contains("北京难"))
        .expect("a station line");
    assert!(station.contains("北京南"), "suggests 北京南: {station}");
    assert!(
        out.stderr.contains("did you mean \"2026-12-01\""),
        "suggests the padded date\n{out}"
    );
    assert!(out.stderr.contains("watchlist.toml: 6 errors"), "{out}");
    assert!(
        !out.stderr.contains("nothing was changed"),
        "check changes nothing anyway\n{out}"
    );
}

#[test]
fn a_bad_settings_file_names_the_key_and_secrets_never_show() {
    const SECRET: &str = "hunter2-Zq8vX";
    let dir = tempfile::tempdir().expect("temp dir");
    write_watchlist(
        dir.path(),
        &watchlist(&[WatchSpec::new("w", "上海", "常州", &[day(1)])]),
    );
    let bad = write_file(dir.path(), "bad.toml", "[email]\npasword = \"x\"\n");
    let out = yupiao(dir.path())
        .args(["--config", bad.to_str().expect("utf-8 path"), "check"])
        .env("YUPIAO__EMAIL__PASSWORD", SECRET)
        .run_blocking();
    out.assert_code(2);
    assert!(out.stderr.contains("pasword"), "{out}");
    assert!(!out.all_text().contains(SECRET), "{out}");

    // A good file, loudest logging: still no secret.
    let good = write_file(dir.path(), "yupiao.toml", "[email]\nusername = \"me\"\n");
    let out = yupiao(dir.path())
        .args(["--config", good.to_str().expect("utf-8 path"), "check"])
        .env("YUPIAO__EMAIL__PASSWORD", SECRET)
        .env("RUST_LOG", "trace")
        .run_blocking();
    out.assert_code(0);
    assert!(
        out.stdout.contains("yupiao.toml"),
        "names the settings used\n{out}"
    );
    assert!(!out.all_text().contains(SECRET), "{out}");
}

#[test]
fn stations_finds_names_cities_and_suggests_near_misses() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = yupiao(dir.path()).args(["stations", "北京南"]).run_blocking();
    out.assert_code(0);
    assert!(out.stdout.contains("VNP"), "{out}");

    let out = yupiao(dir.path()).args(["stations", "北京"]).run_blocking();
    out.assert_code(0);
    for code in ["BJP", "VNP", "BXP"] {
        assert!(out.stdout.contains(code), "missing {code}\n{out}");
    }

    let out = yupiao(dir.path()).args(["stations", "北京难"]).run_blocking();
    out.assert_code(1);
    assert!(out.stderr.contains("did you mean"), "{out}");
    assert!(out.stderr.contains("北京南"), "{out}");
}

/// The subcommands listed under `Commands:` in the top-level help.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn help_works_for_every_subcommand_and_unknown_flags_are_usage_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = yupiao(dir.path()).arg("--help").run_blocking();
    out.assert_code(0);
    let commands = subcommands(&out.stdout);
    for known in ["check", "stations", "once", "sim"] {
        assert!(commands.iter().any(|c| c == known), "{known} in {commands:?}");
    }
    for c in &commands {
        let out = yupiao(dir.path()).args([c.as_str(), "--help"]).run_blocking();
        out.assert_code(0);
        assert!(out.stdout.contains("Usage:"), "{c} --help\n{out}");
    }

    let out = yupiao(dir.path()).args(["once", "--frobnicate"]).run_blocking();
    out.assert_code(2);
    assert!(out.stderr.contains("--frobnicate"), "{out}");
    let out = yupiao(dir.path()).arg("--frobnicate").run_blocking();
    out.assert_code(2);
}

/// Terminal columns of `s`: CJK characters take two (an independent count, not the binary's).
fn columns(s: &str) -> usize {
    s.chars().map(|c| if (c as u32) >= 0x2E80 { 2 } else { 1 }).sum()
}

#[test]
fn stations_columns_line_up_on_screen_with_chinese_names_of_any_length() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = yupiao(dir.path()).args(["stations", "上海"]).run_blocking();
    out.assert_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines.len() > 3, "{out}");
    assert!(lines.iter().any(|l| l.starts_with("上海虹桥")), "{out}");
    // Where each column starts, on screen: the same on every line, the header included.
    let starts = |line: &str| -> Vec<usize> {
        let mut starts = Vec::new();
        let mut col = 0;
        let mut in_gap = false;
        for c in line.chars() {
            if c == ' ' {
                in_gap = true;
            } else if in_gap || col == 0 {
                starts.push(col);
                in_gap = false;
            }
            col += columns(&c.to_string());
        }
        starts
    };
    let header = starts(lines[0]);
    assert_eq!(header.len(), 5, "{out}");
    for l in &lines[1..] {
        assert_eq!(starts(l)[..4], header[..4], "misaligned: {l:?}\n{out}");
    }
}

#[test]
fn check_counts_in_words_one_entry_and_two_entries() {
    let dir = tempfile::tempdir().expect("temp dir");
    let one = format!(
        "{}\n[[waitlist]]\nname = \"a\"\n",
        watchlist(&[WatchSpec::new("w", "上海", "常州", &[day(1)])])
    );
    write_watchlist(dir.path(), &one);
    let out = yupiao(dir.path()).arg("check").run_blocking();
    out.assert_code(0);
    assert!(
        out.stderr
            .contains("warning: 1 [[waitlist]] entry but no [rail] cookie or cookie_file: it will report"),
        "{out}"
    );
    assert!(
        out.stdout
            .contains("OK — 1 watch, 1 候补 waitlist, 1 date, 1 distinct query on sale now"),
        "{out}"
    );
    assert!(
        !out.all_text().contains("(s)") && !out.all_text().contains("(y/ies)"),
        "{out}"
    );

    let two = format!("{one}\n[[waitlist]]\nname = \"b\"\n");
    write_watchlist(dir.path(), &two);
    let out = yupiao(dir.path()).arg("check").run_blocking();
    out.assert_code(0);
    assert!(
        out.stderr.contains("warning: 2 [[waitlist]] entries but"),
        "{out}"
    );
    assert!(out.stdout.contains("2 候补 waitlists"), "{out}");
}

#[test]
fn settings_problems_are_all_reported_like_watch_list_problems() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_watchlist(
        dir.path(),
        &watchlist(&[WatchSpec::new("w", "上海", "常州", &[day(1)])]),
    );
    write_file(
        dir.path(),
        "yupiao.toml",
        "[upstream]\nmin_interval = \"1s\"\n\n[email]\nhots = \"mail.example.com\"\nsecurity = \"ssl\"\ntimeout = \"soon\"\n",
    );
    let out = yupiao(dir.path())
        .arg("check")
        .env("YUPIAO__EMAIL__PASWORD", "hunter2-Zq8vX")
        .run_blocking();
    out.assert_code(2);
    for want in [
        "yupiao.toml:2:16: warning: min_interval = 1s is below 3s: 12306 throttles fast clients",
        "yupiao.toml:5:1: unknown key \"hots\" in [email] (did you mean \"host\"?)",
        "yupiao.toml:6:12: security = \"ssl\" is not allowed (allowed: starttls, tls, none)",
        "yupiao.toml:7:11: timeout = \"soon\" is not a duration",
        "$YUPIAO__EMAIL__PASWORD: unknown key \"pasword\" in [email] (did you mean YUPIAO__EMAIL__PASSWORD?)",
        "yupiao.toml: 4 errors",
    ] {
        assert!(out.stderr.contains(want), "missing {want:?}\n{out}");
    }
    assert!(
        !out.stderr
            .lines()
            .any(|l| l.starts_with("yupiao.toml") && l.contains("PASWORD")),
        "the variable is not blamed on the file\n{out}"
    );
    assert!(!out.all_text().contains("hunter2-Zq8vX"), "{out}");
    assert!(!out.stderr.contains("enum Security"), "no serde wording\n{out}");
}

#[test]
fn a_settings_syntax_error_on_a_secret_shows_where_never_the_secret() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_watchlist(
        dir.path(),
        &watchlist(&[WatchSpec::new("w", "上海", "常州", &[day(1)])]),
    );
    for (text, secret) in [
        (
            "[email]\nusername = \"me\"\npassword = SMTPPASS-9f8e7d\n",
            "SMTPPASS-9f8e7d",
        ),
        (
            "[rail]\ncookie = \"JSESSIONID=abc123\" tk=Tk-5e4d3c\n",
            "Tk-5e4d3c",
        ),
    ] {
        write_file(dir.path(), "yupiao.toml", text);
        for command in ["check", "run"] {
            let out = yupiao(dir.path()).arg(command).run_blocking();
            out.assert_code(2);
            assert!(out.stderr.contains("yupiao.toml:"), "{out}");
            assert!(out.stderr.contains("TOML syntax error"), "{out}");
            assert!(
                !out.all_text().contains(secret),
                "{command} printed the secret\n{out}"
            );
            assert!(!out.all_text().contains("JSESSIONID"), "{command}\n{out}");
        }
    }
}

#[test]
fn a_night_window_that_is_not_hh_mm_hh_mm_is_refused_where_it_is_written() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_watchlist(
        dir.path(),
        &watchlist(&[WatchSpec::new("w", "上海", "常州", &[day(1)])]),
    );
    write_file(
        dir.path(),
        "yupiao.toml",
        "[daemon]\nnight_window = \"01:00 to 05:00\"\n",
    );
    let out = yupiao(dir.path()).arg("check").run_blocking();
    out.assert_code(2);
    let want =
        "yupiao.toml:2:16: night_window = \"01:00 to 05:00\" must look like \"01:00-05:00\" (Beijing time)";
    assert!(out.stderr.contains(want), "missing {want:?}\n{out}");

    write_file(
        dir.path(),
        "yupiao.toml",
        "[daemon]\nnight_window = \"23:30-02:00\"\n",
    );
    let out = yupiao(dir.path()).arg("check").run_blocking();
    out.assert_code(0);
}
