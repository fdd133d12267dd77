//! `yupiao demo`, the README's first command, end to end: it runs on its own (simulator, real
//! daemon, maildir), sends exactly one seat alert for the one appearance it scripts (the alert
//! watch and the grab watch of G8294 share it), and its summary counts what it shows.

mod common;

use std::time::Duration;

use common::*;

#[test]
fn the_demo_sends_one_seat_alert_per_person_and_its_summary_adds_up() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Yupiao::new(dir.path())
        .args(["demo", "--dir", "demo"])
        .timeout(Duration::from_secs(120))
        .run_blocking();
    out.assert_code(0);
    let demo = dir.path().join("demo");

    let mails: Vec<Mail> = maildir_messages(&demo.join("mail"))
        .iter()
        .map(|raw| Mail::parse(raw))
        .collect();
    let alerts: Vec<&Mail> = mails
        .iter()
        .filter(|m| m.subject.starts_with("【余票】"))
        .collect();
    assert_eq!(
        alerts.len(),
        1,
        "one appearance, one person: one 余票 email\n{:#?}\n{out}",
        alerts.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
    let alert = alerts[0];
    assert!(
        alert.subject.starts_with("【余票】G8294 上海→常州 "),
        "{}",
        alert.subject
    );
    for watch in ["「演示 上海→常州 G8294 二等座」", "「演示 抢票 G8294」"] {
        assert!(alert.text.contains(watch), "{watch} not named\n{}", alert.text);
    }
    assert!(
        alert.text.contains("「演示 抢票 G8294」是抢票监视"),
        "{}",
        alert.text
    );

    // The summary: the per-watch history counts add up to the total it prints, and the rows it
    // lists are the count it gives for that watch.
    let lines: Vec<&str> = out.stdout.lines().collect();
    let total_at = lines
        .iter()
        .position(|l| l.trim_start().starts_with("history rows: "))
        .unwrap_or_else(|| panic!("no history line\n{out}"));
    let total: usize = lines[total_at]
        .trim_start()
        .trim_start_matches("history rows: ")
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unreadable: {}", lines[total_at]));
    let mut per_watch = Vec::new();
    let mut listed = 0;
    for l in &lines[total_at + 1..] {
        if l.starts_with("      ") {
            listed += 1;
        } else if let Some((_, n)) = l.strip_prefix("    ").and_then(|l| l.rsplit_once(": ")) {
            per_watch.push(
                n.parse::<usize>()
                    .unwrap_or_else(|_| panic!("bad count in {l:?}")),
            );
        } else {
            break;
        }
    }
    assert_eq!(per_watch.len(), 3, "{out}");
    assert_eq!(per_watch.iter().sum::<usize>(), total, "{out}");
    assert_eq!(
        listed, per_watch[0],
        "the listed rows are the first watch's count\n{out}"
    );
    let emails_line = lines
        .iter()
        .find(|l| l.trim_start().starts_with("emails: "))
        .unwrap_or_else(|| panic!("no emails line\n{out}"));
    assert!(
        emails_line.contains(&format!("emails: {} (1 余票", mails.len())),
        "{emails_line}\n{out}"
    );

    // The files it points at work with the CLI's own discovery.
    let status = Yupiao::new(dir.path())
        .args(["--config", "demo/yupiao.toml", "status"])
        .run_blocking();
    status.assert_code(0);
    assert!(status.stdout.contains("演示 抢票 G8294"), "{status}");

    // The push channel: its receiver got one accepted push per event, as many as emails (every
    // event goes to the address and to the channel), and `status` counts them.
    let pushes_at = lines
        .iter()
        .position(|l| l.starts_with("pushes: the webhook receiver on http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no pushes line\n{out}"));
    let accepted = lines[pushes_at + 1..]
        .iter()
        .take_while(|l| l.starts_with("    ["))
        .filter(|l| l.starts_with("    [accepted] "))
        .count();
    assert_eq!(accepted, mails.len(), "one push per email's event\n{out}");
    assert!(
        lines[pushes_at + 1..]
            .iter()
            .any(|l| l.contains("[accepted] seats") && l.contains("余票 G8294")),
        "{out}"
    );
    assert!(
        status
            .stdout
            .contains("push demo-webhook (webhook, http://127.0.0.1:"),
        "{status}"
    );
    assert!(
        status
            .stdout
            .contains(&format!("): {accepted} sent, 0 pending, 0 failed")),
        "{status}"
    );
}
