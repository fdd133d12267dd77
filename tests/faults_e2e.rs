//! Faults a server meets (issue 9), end to end: the real `yupiao` binary against hostile or
//! broken servers on loopback — upstream answers too big to be real, SMTP servers that hang, a
//! 12306 that refuses one query, a full disk, a corrupt database, a half-written watch list.
//!
//! Every test here failed before its fix. Waits are "until something happened" with generous
//! timeouts; no assertion depends on how fast the machine is.

mod common;

use std::io::Write as _;
use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Upper bound for anything that should take a few polls.
const WAIT: Duration = Duration::from_secs(20);

// ---- a raw HTTP server for hostile answers ------------------------------------------------------

/// What the hostile 12306 answers to a leftTicket query.
#[derive(Clone, Copy)]
enum Hostile {
    /// 50 MB of spaces, announced by `Content-Length`.
    Huge,
    /// A valid gzip stream of 1 MB that expands to 1 GiB of zeros.
    GzipBomb,
}

/// A 1 MB gzip member that expands to 1 GiB of zeros. Built from one compressed MiB repeated:
/// after a full flush a deflate block depends on nothing before it, so the copies concatenate
/// into a valid stream; `0x03 0x00` is an empty final block.
fn gzip_bomb() -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};
    let mut c = Compress::new(Compression::best(), false);
    let mut block = Vec::with_capacity(4096);
    c.compress_vec(&vec![0u8; 1 << 20], &mut block, FlushCompress::Full)
        .expect("deflate a MiB of zeros");
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    for _ in 0..1024 {
        out.extend_from_slice(&block);
    }
    out.extend_from_slice(&[0x03, 0x00]);
    // CRC-32 of 1 GiB of zeros (python3 -c "import zlib; print(hex(zlib.crc32(bytes(1<<30))))")
    // and the length mod 2^32.
    out.extend_from_slice(&0x5b64_c2b0u32.to_le_bytes());
    out.extend_from_slice(&(1u32 << 30).to_le_bytes());
    out
}

/// A loopback server that looks like 12306 up to the query (init page with cookies and the
/// endpoint name) and then answers the query with `answer`. Returns its base URL.
async fn hostile_12306(answer: Hostile) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let bomb = std::sync::Arc::new(match answer {
        Hostile::GzipBomb => gzip_bomb(),
        Hostile::Huge => Vec::new(),
    });
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let bomb = bomb.clone();
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&req)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string();
                if line.contains("/otn/leftTicket/init") {
                    let page = "<html><script>var CLeftTicketUrl = 'leftTicket/queryG';</script></html>";
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nSet-Cookie: JSESSIONID=A1; Path=/\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        page.len()
                    );
                    let _ = s.write_all(head.as_bytes()).await;
                    let _ = s.write_all(page.as_bytes()).await;
                } else if line.contains("/otn/leftTicket/queryG") {
                    match answer {
                        Hostile::Huge => {
                            let n = 50usize << 20;
                            let head = format!(
                                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {n}\r\nConnection: close\r\n\r\n"
                            );
                            let _ = s.write_all(head.as_bytes()).await;
                            let block = vec![b' '; 1 << 20];
                            for _ in 0..50 {
                                if s.write_all(&block).await.is_err() {
                                    return;
                                }
                            }
                        }
                        Hostile::GzipBomb => {
                            let head = format!(
                                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                bomb.len()
                            );
                            let _ = s.write_all(head.as_bytes()).await;
                            let _ = s.write_all(&bomb).await;
                        }
                    }
                } else {
                    let _ = s
                        .write_all(
                            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        )
                        .await;
                }
            });
        }
    });
    format!("http://{addr}")
}

#[test]
fn the_test_gzip_bomb_is_a_valid_gzip_of_one_gib() {
    let bomb = gzip_bomb();
    assert!(bomb.len() < 1_200_000, "{} bytes on the wire", bomb.len());
    let mut d = flate2::write::GzDecoder::new(CountingSink(0));
    d.write_all(&bomb).expect("the bomb decodes");
    let sink = d.finish().expect("and its trailer (CRC, length) checks out");
    assert_eq!(sink.0, 1 << 30);
}

/// Counts bytes written, keeps none.
struct CountingSink(u64);

impl std::io::Write for CountingSink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0 += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fifty_megabyte_answer_and_a_gzip_bomb_fail_that_query_with_the_cap_error() {
    for (hostile, said) in [
        (Hostile::Huge, "larger than 2 MiB"),
        (Hostile::GzipBomb, "expands to more than 2 MiB when decompressed"),
    ] {
        let url = hostile_12306(hostile).await;
        let d = day(2);
        let dir = dir_with(&[WatchSpec::new("大", "上海", "常州", &[d])]);
        let out = Yupiao::new(dir.path())
            .env("YUPIAO__UPSTREAM__RAIL_URL", &url)
            .env("YUPIAO__UPSTREAM__MIN_INTERVAL", MIN_INTERVAL)
            .env("YUPIAO__UPSTREAM__JITTER", "0s")
            .env("YUPIAO__UPSTREAM__TIMEOUT", "60s")
            .args(["once", "--json"])
            .run()
            .await;
        out.assert_code(1);
        let lines = out.json();
        let errors = error_lines(&lines);
        assert_eq!(errors.len(), 1, "{out}");
        let error = str_of(errors[0], "error");
        assert!(error.contains(said), "{said:?} not in {error:?}\n{out}");
        assert!(error.contains("refused 12306's answer"), "{out}");
    }
}

// ---- the single-instance lock follows the file --------------------------------------------------

/// G8294 上海→常州 二等座, polled every second.
fn g8294(name: &str, date: chrono::NaiveDate) -> WatchSpec {
    WatchSpec::new(name, "上海", "常州", &[date])
        .trains(&["G8294"])
        .seats(&["二等座"])
        .set("cron", EVERY_SECOND)
}

/// Waits until the simulator has received `n` queries for `date`.
async fn wait_queries(daemon: &mut Daemon, sim: &yupiao::sim::Sim, date: chrono::NaiveDate, n: usize) {
    let what = format!("{n} queries for {date}");
    daemon
        .wait_until(&what, WAIT, async || {
            (queries_on(&sim.stats(), date).len() >= n).then_some(())
        })
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_daemon_on_a_symlink_or_a_hard_link_of_the_database_refuses_to_start() {
    let sim = start_static_sim().await;
    let d = day(2);
    let dir = dir_with(&[g8294("独占", d)]);
    let setup = DaemonSetup::new(dir.path(), &sim);
    let mut first = setup.start();
    wait_queries(&mut first, &sim, d, 1).await;

    let links = tempfile::tempdir().expect("another directory");
    let sym = links.path().join("symlinked.db");
    std::os::unix::fs::symlink(setup.db_path(), &sym).expect("symlink");
    let hard = dir.path().join("hardlinked.db");
    std::fs::hard_link(setup.db_path(), &hard).expect("hard link");
    for other in [&sym, &hard] {
        let second_setup = setup
            .clone()
            .env("YUPIAO__STORE__PATH", &other.display().to_string());
        let mut second = second_setup.start();
        assert_eq!(second.wait_exit(WAIT).await, Some(1), "{}", second.log());
        let said = format!(
            "another yupiao run (pid {}) is using {}",
            first.pid(),
            other.display()
        );
        assert!(second.log().contains(&said), "{said:?} not in:\n{}", second.log());
        let mut wal = other.as_os_str().to_owned();
        wal.push("-wal");
        assert!(
            !std::path::Path::new(&wal).exists(),
            "the refused daemon opened the database through {}",
            other.display()
        );
    }
    // The first one never noticed.
    let n = queries_on(&sim.stats(), d).len();
    wait_queries(&mut first, &sim, d, n + 2).await;
    assert_eq!(first.sigterm().await, Some(0));
}

// ---- a full disk ----------------------------------------------------------------------------------

/// A small tmpfs mounted on a temp dir for the test (needs root: `mount`); unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`"2m"`), or prints one line saying why the test cannot run.
    fn mount(size: &str, test: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs { dir }),
            Ok(o) => {
                println!(
                    "{test}: not run: cannot mount a small tmpfs (needs root): {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                println!("{test}: not run: cannot run mount: {e}");
                None
            }
        }
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Fills the filesystem until the kernel says ENOSPC.
    fn fill(&self) {
        let mut f = std::fs::File::create(self.path().join("filler")).expect("create the filler");
        let block = vec![0u8; 16 * 1024];
        loop {
            match f.write_all(&block) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
                Err(e) => panic!("filling the tmpfs: {e}"),
            }
        }
        // A last small write to use the space a 16 KiB block did not fit into.
        while f.write_all(&[0u8; 512]).is_ok() {}
        assert!(yupiao::store::out_of_space(self.path()), "the tmpfs is full");
    }

    /// Gives the space back.
    fn free(&self) {
        std::fs::remove_file(self.path().join("filler")).expect("remove the filler");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Waits until the daemon's log contains `needle` at least `n` times.
async fn wait_log_count(daemon: &mut Daemon, needle: &str, n: usize) {
    let path = daemon.log_path();
    let what = format!("{n} × {needle:?} in the log");
    daemon
        .wait_until(&what, WAIT, async || {
            let log = std::fs::read_to_string(&path).ok()?;
            (log.matches(needle).count() >= n).then_some(())
        })
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn starting_on_a_full_disk_says_no_space_left_on_device() {
    let Some(fs) = Tmpfs::mount("1m", "starting_on_a_full_disk_says_no_space_left_on_device") else {
        return;
    };
    let sim = start_static_sim().await;
    let d = day(2);
    let dir = dir_with(&[g8294("满", d)]);
    let db = fs.path().join("yupiao.db").display().to_string();
    let setup = DaemonSetup::new(dir.path(), &sim).env("YUPIAO__STORE__PATH", &db);

    // A new database on a full disk, and an existing one.
    fs.fill();
    let mut daemon = setup.start();
    assert_eq!(daemon.wait_exit(WAIT).await, Some(1), "{}", daemon.log());
    let log = daemon.log();
    assert!(log.contains("no space left on device"), "{log}");
    assert!(!log.contains("permission"), "{log}");

    fs.free();
    std::fs::remove_file(&db).ok();
    let mut daemon = setup.start();
    wait_queries(&mut daemon, &sim, d, 1).await;
    assert_eq!(daemon.sigterm().await, Some(0));
    fs.fill();
    let mut daemon = setup.start();
    assert_eq!(daemon.wait_exit(WAIT).await, Some(1), "{}", daemon.log());
    let log = daemon.log();
    assert!(log.contains("no space left on device"), "{log}");
    assert!(!log.contains("permission"), "{log}");
}

/// The daemon set up with its database on `fs`, mail to SMTP on `port`, and G8294 二等座 sold out.
async fn full_disk_setup(
    fs: &Tmpfs,
    port: u16,
) -> (
    yupiao::sim::Sim,
    tempfile::TempDir,
    DaemonSetup,
    chrono::NaiveDate,
) {
    let sim = start_static_sim().await;
    let d = day(3);
    sim.set_seat("G8294", Some(d), yupiao::seat::SeatClass::Second, "无");
    let dir = dir_with(&[g8294("满盘", d)]);
    let db = fs.path().join("yupiao.db").display().to_string();
    let setup = DaemonSetup::new(dir.path(), &sim)
        .env("YUPIAO__STORE__PATH", &db)
        .env("YUPIAO__DAEMON__ALERT_MIN_GAP", "3s")
        .smtp(port);
    (sim, dir, setup, d)
}

/// Seats appear while SMTP is down; the alert is queued and has failed once.
async fn alert_queued_while_smtp_is_down(
    daemon: &mut Daemon,
    setup: &DaemonSetup,
    sim: &yupiao::sim::Sim,
    d: chrono::NaiveDate,
) {
    wait_queries(daemon, sim, d, 2).await;
    sim.set_seat("G8294", Some(d), yupiao::seat::SeatClass::Second, "3");
    daemon.wait_for_log("email not delivered; will retry", WAIT).await;
    let s = setup.status_json().await;
    assert_eq!(watch_of(&s, "满盘")["alerts_pending"], 1, "{s:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_email_whose_delivery_cannot_be_recorded_is_sent_once_and_recorded_when_space_returns() {
    const TEST: &str =
        "an_email_whose_delivery_cannot_be_recorded_is_sent_once_and_recorded_when_space_returns";
    let Some(fs) = Tmpfs::mount("4m", TEST) else {
        return;
    };
    let port = free_port();
    let (sim, _dir, setup, d) = full_disk_setup(&fs, port).await;
    let mut daemon = setup.start();
    alert_queued_while_smtp_is_down(&mut daemon, &setup, &sim, d).await;

    // The disk fills, then the mail server comes back: the email goes out, and its `sent` mark
    // cannot be written.
    fs.fill();
    let smtp = MailServer::start_on(port);
    daemon
        .wait_for_log(
            "cannot record this email's delivery; holding it in memory",
            Duration::from_secs(40),
        )
        .await;
    assert_eq!(smtp.messages().len(), 1);

    // Held: the write is tried again and again, and no second copy goes out meanwhile.
    let held = daemon.log().matches("email delivery stays held").count();
    wait_log_count(&mut daemon, "email delivery stays held", held + 4).await;
    assert_eq!(smtp.messages().len(), 1, "one email, not a flood");

    // `status` says so, from the health file (the database itself cannot say it).
    let s = setup.status_json().await;
    let error = s["database_write_error"].as_str().unwrap_or_default();
    assert!(error.contains("no space left on device"), "{s:#}");
    assert_eq!(s["emails_held"], 1, "{s:#}");
    let text = setup.status_text().await;
    assert!(text.contains("DATABASE NOT WRITABLE since"), "{text}");
    assert!(
        text.contains("1 email delivery outcome(s) held in memory"),
        "{text}"
    );

    // Space comes back: the held outcome is written, nothing is sent again.
    fs.free();
    daemon
        .wait_until(
            "status to show the email sent and the fault gone",
            WAIT,
            async || {
                let s = setup.status_json().await;
                let w = watch_of(&s, "满盘");
                (s["database_write_error"].is_null()
                    && s["emails_held"] == 0
                    && w["alerts_sent"] == 1
                    && w["alerts_pending"] == 0)
                    .then_some(())
            },
        )
        .await;
    daemon.wait_for_log("email delivery resumes", WAIT).await;
    let n = queries_on(&sim.stats(), d).len();
    wait_queries(&mut daemon, &sim, d, n + 3).await;
    assert_eq!(smtp.messages().len(), 1);
    assert!(!setup.status_text().await.contains("NOT WRITABLE"));
    assert_eq!(daemon.sigterm().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_while_a_sent_email_is_unrecorded_sends_it_again_under_the_same_message_id() {
    const TEST: &str = "a_crash_while_a_sent_email_is_unrecorded_sends_it_again_under_the_same_message_id";
    let Some(fs) = Tmpfs::mount("4m", TEST) else {
        return;
    };
    let port = free_port();
    let (sim, _dir, setup, d) = full_disk_setup(&fs, port).await;
    let mut daemon = setup.start();
    alert_queued_while_smtp_is_down(&mut daemon, &setup, &sim, d).await;
    fs.fill();
    let smtp = MailServer::start_on(port);
    daemon
        .wait_for_log(
            "cannot record this email's delivery; holding it in memory",
            Duration::from_secs(40),
        )
        .await;
    // The process dies with the outcome only in memory: SMTP's at-least-once window.
    daemon.kill9();
    fs.free();
    let mut daemon = setup.start();
    daemon
        .wait_until("the email sent again after the restart", WAIT, async || {
            (smtp.messages().len() >= 2).then_some(())
        })
        .await;
    let n = queries_on(&sim.stats(), d).len();
    wait_queries(&mut daemon, &sim, d, n + 3).await;
    let messages: Vec<Mail> = smtp.messages().iter().map(|m| Mail::parse(m)).collect();
    assert_eq!(messages.len(), 2, "once before the crash, once after; never more");
    let ids: Vec<String> = messages
        .iter()
        .map(|m| m.header("Message-ID").expect("a Message-ID"))
        .collect();
    assert_eq!(
        ids[0], ids[1],
        "the same Message-ID, so mail clients thread or drop the copy"
    );
    assert!(ids[0].ends_with(".yupiao@example.com>"), "{}", ids[0]);
    let s = setup.status_json().await;
    assert_eq!(watch_of(&s, "满盘")["alerts_sent"], 1, "{s:#}");
    assert_eq!(daemon.sigterm().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_maildir_on_a_full_disk_leaves_no_empty_files_in_tmp() {
    const TEST: &str = "a_maildir_on_a_full_disk_leaves_no_empty_files_in_tmp";
    let Some(fs) = Tmpfs::mount("1m", TEST) else {
        return;
    };
    let sim = start_static_sim().await;
    let d = day(3);
    sim.set_seat("G8294", Some(d), yupiao::seat::SeatClass::Second, "无");
    let dir = dir_with(&[g8294("信箱", d)]);
    let maildir = fs.path().join("mail");
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(maildir.join(sub)).expect("create the maildir");
    }
    let setup =
        DaemonSetup::new(dir.path(), &sim).env("YUPIAO__EMAIL__MAILDIR", &maildir.display().to_string());
    let mut daemon = setup.start();
    wait_queries(&mut daemon, &sim, d, 2).await;
    fs.fill();
    sim.set_seat("G8294", Some(d), yupiao::seat::SeatClass::Second, "3");
    wait_log_count(&mut daemon, "email not delivered; will retry", 2).await;
    assert!(
        daemon.log().contains("No space left on device"),
        "the error says why: {}",
        daemon.log()
    );
    let leftovers: Vec<_> = std::fs::read_dir(maildir.join("tmp"))
        .expect("read tmp/")
        .map(|e| e.expect("entry").path())
        .collect();
    assert!(leftovers.is_empty(), "left in tmp/: {leftovers:?}");

    fs.free();
    daemon
        .wait_until("the email in new/", Duration::from_secs(40), async || {
            (std::fs::read_dir(maildir.join("new")).ok()?.count() == 1).then_some(())
        })
        .await;
    assert_eq!(
        std::fs::read_dir(maildir.join("tmp")).expect("read tmp/").count(),
        0
    );
    assert_eq!(daemon.sigterm().await, Some(0));
}

// ---- SMTP servers that hang -----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn an_smtp_server_that_never_greets_is_a_timeout_and_the_email_is_retried() {
    // Accepts connections and never says a word.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let mute = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            open.push(s);
        }
    });
    let sim = start_static_sim().await;
    let d = day(3);
    sim.set_seat("G8294", Some(d), yupiao::seat::SeatClass::Second, "无");
    let dir = dir_with(&[g8294("哑", d)]);
    let setup = DaemonSetup::new(dir.path(), &sim)
        .smtp(port)
        .env("YUPIAO__EMAIL__TIMEOUT", "1s");
    let mut daemon = setup.start();
    wait_queries(&mut daemon, &sim, d, 2).await;
    sim.set_seat("G8294", Some(d), yupiao::seat::SeatClass::Second, "3");

    // Every attempt ends at the timeout as a transient failure, and is tried again.
    wait_log_count(&mut daemon, "email not delivered; will retry", 2).await;
    let log = daemon.log();
    assert!(
        log.contains("took longer than 1s to greet and answer EHLO (email.timeout)"),
        "{log}"
    );
    let s = setup.status_json().await;
    let w = watch_of(&s, "哑");
    assert_eq!(w["alerts_pending"], 1, "{s:#}");
    assert_eq!(w["alerts_failed"], 0, "{s:#}");
    let row = setup
        .store()
        .email(1)
        .expect("read the outbox")
        .expect("the alert");
    assert!(row.attempts >= 2, "{row:?}");
    assert!(row.last_error.unwrap_or_default().contains("took longer than 1s"));
    // `status` says why the alert is still pending.
    let error = w["email_error"].as_str().unwrap_or_default();
    assert!(error.contains("took longer than 1s"), "{s:#}");
    let text = setup.status_text().await;
    assert!(text.contains("email not delivered yet: "), "{text}");
    assert_eq!(daemon.sigterm().await, Some(0));
    mute.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn one_stalled_delivery_does_not_hold_back_another_recipients_email() {
    // Messages to slow@ stall after DATA (the server takes them and never answers); others are
    // stored as usual.
    let smtp = yupiao::notify::smtp_test_server::TestSmtpServer::start_with_handler(
        r#"
import asyncio, os
from aiosmtpd.handlers import Mailbox

HERE = os.path.dirname(os.path.abspath(__file__))

class SlowForOne(Mailbox):
    def __init__(self):
        super().__init__(os.path.join(HERE, "maildir"))

    @classmethod
    def from_cli(cls, parser, *args):
        return cls()

    async def handle_DATA(self, server, session, envelope):
        if any(r.startswith("slow@") for r in envelope.rcpt_tos):
            open(os.path.join(HERE, "slow-data-received"), "w").close()
            await asyncio.sleep(600)
        return await super().handle_DATA(server, session, envelope)
"#,
        "SlowForOne",
    )
    .expect("start aiosmtpd");
    let stalled = smtp
        .maildir
        .parent()
        .expect("server dir")
        .join("slow-data-received");
    let sim = start_static_sim().await;
    let (d_slow, d_fast) = (day(3), day(4));
    for d in [d_slow, d_fast] {
        sim.set_seat("G8294", Some(d), yupiao::seat::SeatClass::Second, "无");
    }
    let dir = dir_with(&[
        g8294("慢", d_slow).set("notify", r#"["slow@example.com"]"#),
        g8294("快", d_fast).set("notify", r#"["fast@example.com"]"#),
    ]);
    let setup = DaemonSetup::new(dir.path(), &sim)
        .smtp(smtp.port)
        .env("YUPIAO__EMAIL__TIMEOUT", "120s");
    let mut daemon = setup.start();
    wait_queries(&mut daemon, &sim, d_fast, 2).await;

    // slow@'s alert first: its delivery hangs after DATA...
    sim.set_seat("G8294", Some(d_slow), yupiao::seat::SeatClass::Second, "3");
    daemon
        .wait_until("the slow delivery to stall at the server", WAIT, async || {
            stalled.exists().then_some(())
        })
        .await;
    // ...and fast@'s alert, queued after it, arrives all the same.
    sim.set_seat("G8294", Some(d_fast), yupiao::seat::SeatClass::Second, "3");
    let raw = daemon
        .wait_until("fast@'s email", WAIT, async || smtp.messages().into_iter().next())
        .await;
    let mail = Mail::parse(&raw);
    assert!(
        mail.header("X-RcptTo")
            .unwrap_or_default()
            .contains("fast@example.com"),
        "{raw}"
    );
    assert_eq!(smtp.messages().len(), 1, "slow@'s is still stalled");
    let s = setup.status_json().await;
    assert_eq!(watch_of(&s, "快")["alerts_sent"], 1, "{s:#}");
    assert_eq!(watch_of(&s, "慢")["alerts_pending"], 1, "{s:#}");
    assert_eq!(daemon.sigterm().await, Some(0));
}

// ---- a damaged database ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_database_with_a_damaged_page_is_refused_at_start_with_a_recovery_hint() {
    let sim = start_static_sim().await;
    let d = day(2);
    let dir = dir_with(&[g8294("坏页", d)]);
    let setup = DaemonSetup::new(dir.path(), &sim);
    let mut daemon = setup.start();
    wait_queries(&mut daemon, &sim, d, 3).await;
    assert_eq!(daemon.sigterm().await, Some(0));

    // Overwrite the page holding seat_history with garbage; the schema (page 1) stays intact,
    // so the file still opens.
    let db = setup.db_path();
    let (root, page_size): (i64, i64) = {
        let conn = rusqlite::Connection::open(&db).expect("open");
        (
            conn.query_row(
                "SELECT rootpage FROM sqlite_schema WHERE name = 'seat_history'",
                [],
                |r| r.get(0),
            )
            .expect("rootpage"),
            conn.query_row("PRAGMA page_size", [], |r| r.get(0))
                .expect("page size"),
        )
    };
    assert!(root > 1);
    {
        use std::io::{Seek as _, SeekFrom};
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&db)
            .expect("open the file");
        f.seek(SeekFrom::Start(((root - 1) * page_size) as u64))
            .expect("seek");
        f.write_all(&vec![0xA5u8; page_size as usize])
            .expect("damage the page");
    }

    let mut daemon = setup.start();
    assert_eq!(daemon.wait_exit(WAIT).await, Some(1), "{}", daemon.log());
    let log = daemon.log();
    assert!(log.contains("is damaged (quick_check:"), "{log}");
    assert!(log.contains("VACUUM INTO 'recovered.db'"), "{log}");
    assert!(log.contains("move the file aside to start afresh"), "{log}");
    assert!(
        log.contains("A damaged database"),
        "the README section is named: {log}"
    );
    assert_eq!(
        queries_on(&sim.stats(), d).len(),
        3,
        "no poll on a damaged database"
    );

    // `status` says so too instead of a stale "ok".
    let out = setup.yupiao().arg("status").run().await;
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.contains("is damaged"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn check_and_once_print_the_same_skipped_dates_and_once_adds_the_time_it_learnt() {
    let sim = start_static_sim().await;
    let dir = dir_with(&[WatchSpec::new(
        "区间",
        "上海",
        "常州",
        &[day(-2), day(-1), day(0), day(1), day(20)],
    )
    .set("every", r#""1m""#)]);
    // A range that is partly past: the watch list has no warning for it, only the plan does.
    let text = std::fs::read_to_string(dir.path().join("watchlist.toml")).expect("read");
    let ranged = text.replace(
        &format!(
            "dates = [\"{}\", \"{}\", \"{}\", \"{}\", \"{}\"]",
            ymd(day(-2)),
            ymd(day(-1)),
            ymd(day(0)),
            ymd(day(1)),
            ymd(day(20))
        ),
        &format!(
            "dates = [\"{}..{}\", \"{}\"]",
            ymd(day(-2)),
            ymd(day(1)),
            ymd(day(20))
        ),
    );
    assert_ne!(ranged, text);
    write_watchlist(dir.path(), &ranged);
    let notices = |stderr: &str| -> Vec<String> {
        stderr
            .lines()
            .filter(|l| l.starts_with("区间: "))
            .map(str::to_string)
            .collect()
    };
    let once = Yupiao::new(dir.path()).against(&sim).arg("once").run().await;
    once.assert_code(0);
    let check = Yupiao::new(dir.path()).arg("check").run().await;
    check.assert_code(0);
    let past = [
        format!("区间: {} is in the past, skipped", day(-2)),
        format!("区间: {} is in the past, skipped", day(-1)),
    ];
    // `check` sends nothing: the window gives the day. `once` read field 55 of the dates it
    // queried: the same day, with 上海's 起售 time.
    let in_window = format!(
        "区间: {} 未开售 · {} 起售 (from the presale window)",
        day(20).format("%m-%d"),
        day(20 - 14).format("%m-%d")
    );
    let learnt = format!(
        "区间: {} 未开售 · {} 起售 (from sale_time)",
        day(20).format("%m-%d"),
        sim.opening("上海", day(20)).unwrap().format("%m-%d %H:%M")
    );
    assert_eq!(notices(&once.stderr), [&past[..], &[learnt]].concat(), "{once}");
    assert_eq!(
        notices(&check.stderr),
        [&past[..], &[in_window]].concat(),
        "{check}"
    );
}

// ---- one refused query ----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_query_12306_refuses_backs_off_alone_and_a_date_past_by_its_clock_is_finished() {
    let sim = start_static_sim().await;
    let (d_today, d_next) = (day(0), day(1));
    let dir = dir_with(&[g8294("今天", d_today), g8294("明天", d_next)]);
    let setup = DaemonSetup::new(dir.path(), &sim);
    let mut daemon = setup.start();
    wait_queries(&mut daemon, &sim, d_today, 2).await;
    wait_queries(&mut daemon, &sim, d_next, 2).await;

    // 12306's clock moves to tomorrow (ours stays): today's date is now past there, and its
    // query gets the error redirect, while tomorrow's is answered.
    sim.advance(Duration::from_secs(24 * 3600));
    let refused_before = queries_on(&sim.stats(), d_today).len();
    daemon
        .wait_until("a refusal of today's query", WAIT, async || {
            queries_on(&sim.stats(), d_today)
                .iter()
                .any(|q| q.outcome == "302-bad-date")
                .then_some(())
        })
        .await;

    // The other watch is not starved: it keeps being polled every second.
    let n = queries_on(&sim.stats(), d_next).len();
    wait_queries(&mut daemon, &sim, d_next, n + 5).await;
    assert!(
        queries_on(&sim.stats(), d_next)[n..]
            .iter()
            .all(|q| q.outcome == "ok"),
        "{:#?}",
        sim.stats().queries
    );

    // 12306's clock is learnt: today's watch is finished, and its date is not asked again.
    daemon
        .wait_until("today's watch finished", WAIT, async || {
            let s = setup.status_json().await;
            (watch_of(&s, "今天")["finished"] == true).then_some(())
        })
        .await;
    let asked = queries_on(&sim.stats(), d_today).len();
    assert!(
        asked <= refused_before + 2,
        "refused {} times",
        asked - refused_before
    );
    let n = queries_on(&sim.stats(), d_next).len();
    wait_queries(&mut daemon, &sim, d_next, n + 3).await;
    assert_eq!(
        queries_on(&sim.stats(), d_today).len(),
        asked,
        "a finished date is not retried"
    );

    let s = setup.status_json().await;
    let next = watch_of(&s, "明天");
    assert_eq!(next["outcome"], "ok", "{s:#}");
    assert_eq!(next["backoff_level"], 0, "the client never backed off: {s:#}");
    let log = daemon.log();
    assert!(log.contains("backing it off alone"), "{log}");
    assert!(!log.contains("the whole client backs off"), "{log}");
    assert!(log.contains("12306's clock differs from ours"), "{log}");
    assert_eq!(daemon.sigterm().await, Some(0));
}

// ---- half-written watch lists -----------------------------------------------------------------------

/// Waits until `smtp` (or the maildir) holds `n` messages, then polls a few more times and
/// returns how many there are.
async fn emails_after_more_polls(
    daemon: &mut Daemon,
    sim: &yupiao::sim::Sim,
    d: chrono::NaiveDate,
    maildir: &std::path::Path,
    polls: usize,
) -> usize {
    let n = queries_on(&sim.stats(), d).len();
    wait_queries(daemon, sim, d, n + polls).await;
    maildir_messages(maildir).len()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_emptied_watch_list_is_a_rejected_edit_and_restoring_it_sends_no_second_alert() {
    let sim = start_static_sim().await;
    let d = day(3);
    sim.set_seat("G8294", Some(d), yupiao::seat::SeatClass::Second, "3");
    let text = watchlist(&[g8294("编辑", d)]);
    let dir = dir_with(&[g8294("编辑", d)]);
    let setup = DaemonSetup::new(dir.path(), &sim).env("YUPIAO__DAEMON__ALERT_MIN_GAP", "2s");
    let maildir = dir.path().join("mail");
    let mut daemon = setup.start();
    daemon
        .wait_until("the first alert", WAIT, async || {
            (maildir_messages(&maildir).len() == 1).then_some(())
        })
        .await;

    // An editor truncates the file and writes the new text a moment later.
    let path = dir.path().join("watchlist.toml");
    std::fs::File::create(&path).expect("truncate the watch list");
    let error = daemon
        .wait_until("the empty file rejected in status", WAIT, async || {
            let s = setup.status_json().await;
            s["watchlist_error"].as_str().map(str::to_string)
        })
        .await;
    assert!(error.contains("no [[watch]] or [[waitlist]] left"), "{error}");
    let n = queries_on(&sim.stats(), d).len();
    wait_queries(&mut daemon, &sim, d, n + 2).await;
    std::fs::write(&path, &text).expect("write the watch list back");
    daemon
        .wait_until("the error cleared", WAIT, async || {
            setup.status_json().await["watchlist_error"]
                .is_null()
                .then_some(())
        })
        .await;

    // Well past the gap: still the one alert.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        emails_after_more_polls(&mut daemon, &sim, d, &maildir, 3).await,
        1
    );
    let s = setup.status_json().await;
    assert_eq!(watch_of(&s, "编辑")["alerts_sent"], 1, "{s:#}");
    assert_eq!(daemon.sigterm().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_watch_that_leaves_and_comes_back_with_the_same_search_keeps_what_it_knew() {
    let sim = start_static_sim().await;
    let (d, other) = (day(3), day(5));
    sim.set_seat("G8294", Some(d), yupiao::seat::SeatClass::Second, "3");
    let a = g8294("来回", d);
    let b = g8294("留下", other);
    let dir = dir_with(&[a.clone(), b.clone()]);
    let setup = DaemonSetup::new(dir.path(), &sim).env("YUPIAO__DAEMON__ALERT_MIN_GAP", "2s");
    let maildir = dir.path().join("mail");
    let mut daemon = setup.start();
    daemon
        .wait_until("the first alert", WAIT, async || {
            (maildir_messages(&maildir).len() == 1).then_some(())
        })
        .await;

    // Saved half way: only B is left for a while.
    replace_watchlist(dir.path(), &watchlist(std::slice::from_ref(&b)));
    daemon.wait_for_log("watch list reloaded", WAIT).await;
    let n = queries_on(&sim.stats(), other).len();
    wait_queries(&mut daemon, &sim, other, n + 2).await;
    let stopped_at = queries_on(&sim.stats(), d).len();
    let n = queries_on(&sim.stats(), other).len();
    wait_queries(&mut daemon, &sim, other, n + 2).await;
    assert_eq!(queries_on(&sim.stats(), d).len(), stopped_at, "A stopped");

    // A comes back unchanged: it carries on, it does not start afresh.
    replace_watchlist(dir.path(), &watchlist(&[a, b]));
    wait_queries(&mut daemon, &sim, d, stopped_at + 2).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        emails_after_more_polls(&mut daemon, &sim, d, &maildir, 3).await,
        1
    );
    let history: Vec<_> = setup
        .store()
        .recent_changes("来回", 100)
        .expect("history")
        .into_iter()
        .filter(|c| c.key.train == "G8294" && c.key.seat == yupiao::seat::SeatClass::Second)
        .collect();
    assert_eq!(history.len(), 1, "seen once, never re-seen as new: {history:#?}");
    assert_eq!(daemon.sigterm().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trace_log_in_the_watch_lists_directory_does_not_feed_the_file_watcher() {
    let sim = start_static_sim().await;
    let d = day(2);
    let dir = dir_with(&[g8294("日志", d)]);
    // The daemon's log file is written into the watch list's directory, at trace level.
    let setup = DaemonSetup::new(dir.path(), &sim).env("RUST_LOG", "trace");
    let mut daemon = setup.start();
    assert_eq!(daemon.log_path().parent(), Some(dir.path()));
    wait_queries(&mut daemon, &sim, d, 6).await;
    let size = std::fs::metadata(daemon.log_path()).expect("the log").len();
    let log = daemon.log();
    assert!(!log.contains("watch list reloaded"), "nothing was edited");
    // Six polls at trace level are a few hundred KB; a watcher fed by its own log lines wrote
    // tens of MB per second.
    assert!(size < 5 << 20, "the log grew to {size} bytes in six polls");
    let events = log.lines().filter(|l| l.contains("notify::")).count();
    let polls = log.matches(" polled ").count();
    assert!(
        events <= 4 * polls + 20,
        "{events} watcher lines for {polls} polls"
    );
    assert_eq!(daemon.sigterm().await, Some(0));
}

// ---- 12306's busy answer ----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn one_empty_page_between_normal_ones_is_no_answer_not_sold_out() {
    let sim = start_static_sim().await;
    let d = day(3);
    sim.set_seat("G8294", Some(d), yupiao::seat::SeatClass::Second, "3");
    let dir = dir_with(&[g8294("忙", d)]);
    let setup = DaemonSetup::new(dir.path(), &sim).env("YUPIAO__DAEMON__ALERT_MIN_GAP", "2s");
    let maildir = dir.path().join("mail");
    let mut daemon = setup.start();
    daemon
        .wait_until("the first alert", WAIT, async || {
            (maildir_messages(&maildir).len() == 1).then_some(())
        })
        .await;

    for mode in [
        yupiao::sim::FailureMode::Empty,
        yupiao::sim::FailureMode::NullData,
    ] {
        sim.set_mode(mode, Some(1));
        daemon
            .wait_until("the busy answer served", WAIT, async || {
                queries_on(&sim.stats(), d)
                    .iter()
                    .any(|q| q.outcome == mode.name())
                    .then_some(())
            })
            .await;
        // Normal pages again, well past the gap: nothing to tell anyone.
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(
            emails_after_more_polls(&mut daemon, &sim, d, &maildir, 3).await,
            1,
            "after {mode:?}"
        );
    }
    let history: Vec<(String, bool)> = setup
        .store()
        .recent_changes("忙", 100)
        .expect("history")
        .into_iter()
        .filter(|c| c.key.train == "G8294" && c.key.seat == yupiao::seat::SeatClass::Second)
        .map(|c| (c.raw, c.available))
        .collect();
    assert_eq!(history, vec![("3".to_string(), true)], "no 'gone' recorded");
    assert!(daemon.log().contains("taken as no answer"), "{}", daemon.log());
    let s = setup.status_json().await;
    assert_eq!(watch_of(&s, "忙")["alerts_sent"], 1, "{s:#}");
    assert_eq!(daemon.sigterm().await, Some(0));
}

// ---- the push receiver faces the network -----------------------------------------------------------

/// Open file descriptors of a process (Linux).
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_connections_to_the_push_receiver_are_capped_and_closed_and_a_push_still_works() {
    let sim = start_static_sim().await;
    let d = day(2);
    let dir = dir_with(&[g8294("推送口", d)]);
    let port = free_port();
    let token = "push-token-0123456789abcdef";
    let setup = DaemonSetup::new(dir.path(), &sim)
        .env("YUPIAO__CALLBACK__LISTEN", &format!("127.0.0.1:{port}"))
        .env("YUPIAO__CALLBACK__TOKEN", token);
    let mut daemon = setup.start();
    daemon.wait_for_log("Juhe push receiver listening", WAIT).await;
    wait_queries(&mut daemon, &sim, d, 1).await;
    let baseline = open_fds(daemon.pid());

    // 300 connections that never send a byte (the defaults: 64 at once, closed after 10 s idle).
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .expect("connect"),
        );
    }
    let closed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let readers: Vec<_> = idle
        .into_iter()
        .map(|mut s| {
            let closed = closed.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                // EOF or reset: the receiver closed it.
                if let Ok(Ok(0) | Err(_)) =
                    tokio::time::timeout(Duration::from_secs(60), s.read(&mut buf)).await
                {
                    closed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            })
        })
        .collect();
    let count = || closed.load(std::sync::atomic::Ordering::SeqCst);
    daemon
        .wait_until("the connections over the cap closed", WAIT, async || {
            (count() >= 300 - 64).then_some(())
        })
        .await;
    let during = open_fds(daemon.pid());
    assert!(
        during <= baseline + 64 + 8,
        "{during} descriptors open with 300 idle connections (baseline {baseline})"
    );
    daemon
        .wait_until("every idle connection closed", WAIT, async || {
            (count() == 300).then_some(())
        })
        .await;
    for r in readers {
        r.await.expect("reader");
    }

    // A push is served as ever.
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/juhe/{token}/1");
    let resp = http
        .post(&url)
        .header("Content-Type", "application/json")
        .body(r#"{"orderNo":"T1","outOrderNo":"YPNOSUCHORDER0000001","msgCode":"100","msgInfo":"出票成功"}"#)
        .send()
        .await
        .expect("push");
    assert_eq!(resp.status(), 200);
    daemon
        .wait_for_log("push for an order yupiao never placed; ignored", WAIT)
        .await;
    assert!(open_fds(daemon.pid()) <= baseline + 8);
    assert_eq!(daemon.sigterm().await, Some(0));
}
