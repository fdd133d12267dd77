//! A newcomer's set-up, end to end: the README's systemd steps run in order against a temporary
//! root (everything but systemd itself), the CLI finding the daemon's files without flags,
//! commands that read the database working without write access and never creating one, files
//! the user may not read said to be unreadable (not missing), and `test-email` failures that name
//! the setting to change.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use yupiao::notify::smtp_test_server::TestSmtpServer;

const WAIT: Duration = Duration::from_secs(20);

/// The unit's `ExecStart=` arguments (after the binary), with `/etc/yupiao` moved to `etc`.
fn exec_start_args(etc: &Path) -> Vec<String> {
    let unit = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/yupiao.service"))
        .expect("read the unit");
    let line = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("an ExecStart line");
    let mut words = line.split_whitespace();
    assert_eq!(words.next(), Some("/usr/local/bin/yupiao"), "{line}");
    words
        .map(|w| w.replace("/etc/yupiao", &etc.display().to_string()))
        .collect()
}

/// A `yupiao` run that finds its settings the way an installed one does: the system directory
/// is `etc`, the working directory is somewhere unrelated, and nothing else is set.
fn installed(cwd: &Path, etc: &Path) -> Yupiao {
    Yupiao::new(cwd).env("YUPIAO_ETC_DIR", &etc.display().to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_systemd_steps_work_in_order_against_a_temporary_root() {
    let sim = start_static_sim().await;
    let root = tempfile::tempdir().expect("temp dir");
    let etc = root.path().join("etc/yupiao");
    let state = root.path().join("var/lib/yupiao");
    let home = root.path().join("home/me");
    for d in [&etc, &state, &home] {
        std::fs::create_dir_all(d).expect("create the root's directories");
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));

    // Install the shipped settings and watch list (the state directory moved under the root),
    // the SMTP password file, the (empty) cookie file, and the Juhe key and cellphone files with
    // their two lines uncommented, as the README says.
    let shipped =
        std::fs::read_to_string(repo.join("systemd/yupiao.toml")).expect("read the shipped settings");
    let settings = shipped
        .replace("/var/lib/yupiao", &state.display().to_string())
        .replace("# key_file = ", "key_file = ")
        .replace("# cellphone_file = ", "cellphone_file = ");
    assert_ne!(settings, shipped);
    std::fs::write(etc.join("yupiao.toml"), settings).expect("install yupiao.toml");
    std::fs::copy(repo.join("watchlist.toml"), etc.join("watchlist.toml")).expect("install watchlist.toml");
    write_file(&etc, "smtp-password", "s3cret-Smtp-pass\n");
    write_file(&etc, "12306-cookie", "");
    write_file(&etc, "juhe-key", "juhe-k3y-0123\n");
    write_file(&etc, "juhe-cellphone", "13800138000\n");

    // `yupiao check` against the installed files, before `systemctl enable --now`.
    let out = installed(&home, &etc).arg("check").run().await;
    out.assert_code(0);
    let settings_path = etc.join("yupiao.toml").display().to_string();
    let watchlist_path = etc.join("watchlist.toml").display().to_string();
    assert!(
        out.stdout.starts_with(&format!("{watchlist_path}: OK")),
        "the watch list named in the settings, found without flags\n{out}"
    );
    assert!(
        out.stdout.contains(&format!("settings: {settings_path}")),
        "{out}"
    );
    for secret in ["s3cret-Smtp-pass", "juhe-k3y-0123", "13800138000"] {
        assert!(!out.all_text().contains(secret), "{out}");
    }

    // `sudo -u yupiao yupiao test-email`: the same files as the daemon (to a maildir here).
    let out = installed(&home, &etc)
        .env("YUPIAO__EMAIL__TRANSPORT", "maildir")
        .args(["test-email", "--to", "me@example.com"])
        .run()
        .await;
    out.assert_code(0);
    assert_eq!(maildir_messages(&state.join("mail")).len(), 1, "{out}");

    // Before the daemon ever ran: no database, and none is created by asking.
    let db = state.join("yupiao.db");
    for args in [
        vec!["status"],
        vec!["orders"],
        vec!["orders", "cancel", "YP0000000000000000"],
    ] {
        let out = installed(&home, &etc).args(&args).run().await;
        out.assert_code(1);
        assert!(
            out.stderr
                .contains(&format!("no yupiao database at {}", db.display())),
            "{args:?}\n{out}"
        );
        assert!(out.stderr.contains("--config"), "{args:?}\n{out}");
        assert!(!out.stderr.contains("once"), "`once` creates no database\n{out}");
        assert!(!db.exists(), "{args:?} created {}", db.display());
    }
    assert!(!home.join("yupiao.db").exists());

    // The daemon as the unit starts it (its ExecStart, its WorkingDirectory), with a watch added
    // to the installed list the way the user edits it.
    let edited = format!(
        "{}\n{}",
        std::fs::read_to_string(etc.join("watchlist.toml")).expect("read the watch list"),
        WatchSpec::new("回家", "上海", "常州", &[day(2)])
            .set("cron", EVERY_SECOND)
            .to_toml()
    );
    std::fs::write(etc.join("watchlist.toml"), edited).expect("edit the watch list");
    let mut daemon = installed(&state, &etc)
        .against(&sim)
        .env("YUPIAO__EMAIL__TRANSPORT", "maildir")
        .env("YUPIAO__DAEMON__NIGHT_WINDOW", &night_window_away_from_now())
        .args(exec_start_args(&etc))
        .spawn_logged(&root.path().join("daemon.log"));
    daemon
        .wait_until("the first poll recorded", WAIT, async || {
            let out = installed(&home, &etc).args(["status", "--json"]).run().await;
            let s: serde_json::Value = serde_json::from_str(&out.stdout).ok()?;
            watch_of(&s, "回家")["last_poll"].is_string().then_some(())
        })
        .await;

    // `yupiao status` and `yupiao orders` from anywhere, on the installed database.
    let out = installed(&home, &etc).arg("status").run().await;
    out.assert_code(0);
    assert!(out.stdout.contains(&db.display().to_string()), "{out}");
    assert!(out.stdout.contains("回家"), "{out}");
    let out = installed(&home, &etc).arg("orders").run().await;
    out.assert_code(0);
    assert!(out.stdout.contains("no grab orders yet"), "{out}");
    assert!(!home.join("yupiao.db").exists());

    assert_eq!(daemon.sigterm().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn status_and_orders_read_a_database_in_a_directory_they_may_not_write() {
    let sim = start_static_sim().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let d = day(2);
    write_watchlist(
        dir.path(),
        &watchlist(&[WatchSpec::new("只读", "上海", "常州", &[d]).set("cron", EVERY_SECOND)]),
    );
    let setup = DaemonSetup::new(dir.path(), &sim);
    let mut daemon = setup.start();
    daemon
        .wait_until("a recorded poll", WAIT, async || {
            let out = setup.yupiao().args(["status", "--json"]).run().await;
            let s: serde_json::Value = serde_json::from_str(&out.stdout).ok()?;
            watch_of(&s, "只读")["last_poll"].is_string().then_some(())
        })
        .await;

    // Readable by everyone, writable by nobody but the owner.
    chmod(dir.path(), 0o755);
    for entry in std::fs::read_dir(dir.path()).expect("list the directory") {
        let p = entry.expect("an entry").path();
        if p.is_file() {
            chmod(&p, 0o644);
        }
    }
    let reader = || setup.yupiao().unprivileged();
    // While the daemon runs (its -wal and -shm exist) …
    let out = reader().arg("status").run().await;
    out.assert_code(0);
    assert!(out.stdout.contains("只读"), "{out}");
    let out = reader().arg("orders").run().await;
    out.assert_code(0);

    // … and after it stopped (they are gone, and cannot be created here).
    assert_eq!(daemon.sigterm().await, Some(0));
    let wal = dir.path().join("yupiao.db-wal");
    assert!(!wal.exists(), "a clean stop removes the WAL");
    chmod(&dir.path().join("yupiao.db"), 0o644);
    let out = reader().arg("status").run().await;
    out.assert_code(0);
    assert!(out.stdout.contains("只读"), "{out}");
    assert!(out.stdout.contains("last poll"), "{out}");
    let out = reader().args(["orders", "--json"]).run().await;
    out.assert_code(0);
    assert!(!wal.exists() && !dir.path().join("yupiao.db-shm").exists());
}

#[test]
fn a_settings_file_that_exists_but_is_unreadable_says_permission_denied() {
    let root = tempfile::tempdir().expect("temp dir");
    chmod(root.path(), 0o755);
    let etc = root.path().join("etc");
    std::fs::create_dir_all(&etc).expect("create etc");
    write_file(&etc, "yupiao.toml", "[email]\nusername = \"me\"\n");
    let home = root.path().join("home");
    std::fs::create_dir_all(&home).expect("create home");
    chmod(&home, 0o777);
    // Installed root:yupiao 0640; here simply unreadable for the (unprivileged) reader.
    chmod(&etc.join("yupiao.toml"), 0o000);
    chmod(&etc, 0o755);
    let explicit = etc.join("yupiao.toml").display().to_string();
    for run in [
        installed(&home, &etc).arg("check"),
        installed(&home, &etc).args(["--config", &explicit, "check"]),
        installed(&home, &etc).args(["status"]),
    ] {
        let out = run.unprivileged().run_blocking();
        out.assert_code(2);
        assert!(
            out.stderr.contains(&format!(
                "cannot read the settings file {explicit} (permission denied)"
            )),
            "{out}"
        );
        assert!(out.stderr.contains("sudo"), "{out}");
        assert!(!out.stderr.contains("not found"), "{out}");
    }
    // A directory the user may not even look into (root:yupiao 0750): the same.
    chmod(&etc.join("yupiao.toml"), 0o644);
    chmod(&etc, 0o000);
    let out = installed(&home, &etc).arg("check").unprivileged().run_blocking();
    out.assert_code(2);
    assert!(out.stderr.contains("(permission denied)"), "{out}");
    chmod(&etc, 0o755);
}

#[test]
fn test_email_names_the_setting_to_change_and_never_promises_a_retry() {
    let server = TestSmtpServer::start().expect("start aiosmtpd");
    let dir = tempfile::tempdir().expect("temp dir");
    let smtp = |y: Yupiao| {
        y.env("YUPIAO__EMAIL__TRANSPORT", "smtp")
            .env("YUPIAO__EMAIL__HOST", "127.0.0.1")
            .env("YUPIAO__EMAIL__PORT", &server.port.to_string())
            .env("YUPIAO__EMAIL__TIMEOUT", "5s")
            .args(["test-email", "--to", "me@example.com"])
    };
    // A plain local server with the default security (starttls).
    let out = smtp(Yupiao::new(dir.path())).run_blocking();
    out.assert_code(1);
    assert!(out.stderr.contains("not sent:"), "{out}");
    assert!(out.stderr.contains("email.security = \"none\""), "{out}");
    assert!(!out.all_text().contains("will retry"), "{out}");
    // Implicit TLS spoken to it.
    let out = smtp(Yupiao::new(dir.path()))
        .env("YUPIAO__EMAIL__SECURITY", "tls")
        .run_blocking();
    out.assert_code(1);
    assert!(
        out.stderr.contains("check email.port and email.security"),
        "{out}"
    );
    // The advice taken: delivered.
    let out = smtp(Yupiao::new(dir.path()))
        .env("YUPIAO__EMAIL__SECURITY", "none")
        .run_blocking();
    out.assert_code(0);
    assert_eq!(server.messages().len(), 1, "{out}");
}

#[test]
fn the_unit_and_the_cli_read_the_same_settings_file_and_nothing_only_the_unit_knows() {
    let unit = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/yupiao.service"))
        .expect("read the unit");
    let args = exec_start_args(Path::new("/etc/yupiao"));
    assert_eq!(args, ["--config", "/etc/yupiao/yupiao.toml", "run"]);
    // The database, the maildir and the watch list are in the settings, not in the unit: a
    // `yupiao status` that finds /etc/yupiao/yupiao.toml sees the daemon's database.
    assert!(
        !unit.lines().any(|l| l.starts_with("Environment=YUPIAO__")),
        "settings only the unit knows:\n{unit}"
    );
    let settings = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("systemd/yupiao.toml");
    let text = std::fs::read_to_string(&settings).expect("read the shipped settings");
    for key in [
        "path = \"/var/lib/yupiao/yupiao.db\"",
        "watchlist = \"watchlist.toml\"",
        "password_file = ",
    ] {
        assert!(text.contains(key), "{key} missing from {}", settings.display());
    }
}
