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
