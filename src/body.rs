//! Reading an upstream answer (12306, 候补, Juhe) with a ceiling on its size.
//!
//! A client that reads whatever arrives can be made to allocate without bound: a 50 MB answer
//! cost 120 MB of memory, and a 1 MB gzip that expands to 1 GB took `once` to 2.1 GB. So answers
//! are read here, chunk by chunk, and abandoned as soon as either count passes its cap:
//! - **on the wire** ([`MAX_WIRE_BYTES`]): bytes received, compressed or not, so a stream that
//!   compresses to nothing (empty deflate blocks) cannot keep us reading either;
//! - **decoded** ([`MAX_DECODED_BYTES`]): what gzip expands to, so a gzip bomb is stopped after
//!   2 MiB of output instead of after 1 GB.
//!
//! Why 2 MiB: the biggest real answers are tens of KB (a leftTicket page of a busy route, ~120
//! rows of ~650 bytes plus the station map, is under 100 KB; the leftTicket init page and Juhe's
//! search answer are of that order too), so 2 MiB is a margin of more than 20× over anything
//! 12306 or Juhe has been seen sending, and small enough that a hostile answer costs a few MB.
//!
//! reqwest's own gzip decoding is switched off in the clients (it would hide the wire size);
//! they ask for `Accept-Encoding: gzip` themselves and this module decodes it.

use std::io::Write as _;

use reqwest::header::{self, HeaderMap, HeaderValue};

/// Most bytes read from the network for one answer.
pub const MAX_WIRE_BYTES: usize = 2 * 1024 * 1024;
/// Most bytes one answer may decode to.
pub const MAX_DECODED_BYTES: usize = 2 * 1024 * 1024;

/// Why an answer was not read to its end.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// More than [`MAX_WIRE_BYTES`] arrived (or were announced by `Content-Length`).
    #[error(
        "the answer is larger than {} MiB on the wire (a real one is tens of KB); not read further",
        MAX_WIRE_BYTES >> 20
    )]
    WireTooLarge,
    /// The gzip stream expanded past [`MAX_DECODED_BYTES`] (a gzip bomb).
    #[error(
        "the answer expands to more than {} MiB when decompressed (a real one is tens of KB); not read further",
        MAX_DECODED_BYTES >> 20
    )]
    DecodedTooLarge,
    /// `Content-Encoding` we did not ask for.
    #[error("the answer uses Content-Encoding {0:?}, which yupiao did not ask for")]
    Encoding(String),
    /// A broken gzip stream.
    #[error("the answer's gzip stream is broken: {0}")]
    Gzip(String),
    /// The transfer itself failed (timeout, reset).
    #[error(transparent)]
    Http(#[from] reqwest::Error),
}

/// The header the clients send instead of reqwest's automatic one.
pub fn accept_gzip(headers: &mut HeaderMap) {
    headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
}

/// Reads `resp`'s body within the caps and returns it as text (lossy UTF-8: 12306 and Juhe send
/// UTF-8, and a decoder downstream reports anything unreadable).
pub async fn read_text(resp: reqwest::Response) -> Result<String, BodyError> {
    let mut bytes = read_bytes(resp, MAX_WIRE_BYTES, MAX_DECODED_BYTES).await?;
    // As reqwest's own `text()` does: a UTF-8 byte-order mark (12306's static `.js` files start
    // with one) is not part of the text.
    const BOM: &[u8] = "\u{feff}".as_bytes();
    if bytes.starts_with(BOM) {
        bytes.drain(..BOM.len());
    }
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// [`read_text`] with explicit caps (tests use small ones).
pub async fn read_bytes(
    mut resp: reqwest::Response,
    max_wire: usize,
    max_decoded: usize,
) -> Result<Vec<u8>, BodyError> {
    if resp.content_length().is_some_and(|n| n > max_wire as u64) {
        return Err(BodyError::WireTooLarge);
    }
    let encoding = resp
        .headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let mut sink = match encoding.as_str() {
        "" | "identity" => Sink::Plain(Capped::new(max_decoded)),
        "gzip" | "x-gzip" => Sink::Gzip(Box::new(flate2::write::MultiGzDecoder::new(Capped::new(
            max_decoded,
        )))),
        other => return Err(BodyError::Encoding(other.to_string())),
    };
    let mut wire = 0usize;
    while let Some(chunk) = resp.chunk().await? {
        wire += chunk.len();
        if wire > max_wire {
            return Err(BodyError::WireTooLarge);
        }
        sink.write(&chunk)?;
    }
    sink.finish()
}

/// Where received bytes go: straight into the buffer, or through the gzip decoder first.
enum Sink {
    Plain(Capped),
    Gzip(Box<flate2::write::MultiGzDecoder<Capped>>),
}

impl Sink {
    fn write(&mut self, chunk: &[u8]) -> Result<(), BodyError> {
        match self {
            Sink::Plain(c) => c.write_all(chunk).map_err(|_| BodyError::DecodedTooLarge),
            Sink::Gzip(d) => d.write_all(chunk).map_err(gzip_error),
        }
    }

    fn finish(self) -> Result<Vec<u8>, BodyError> {
        match self {
            Sink::Plain(c) => Ok(c.buf),
            Sink::Gzip(d) => d.finish().map(|c| c.buf).map_err(gzip_error),
        }
    }
}

/// The decoder reports our cap as an I/O error of kind `FileTooLarge`.
fn gzip_error(e: std::io::Error) -> BodyError {
    if e.kind() == std::io::ErrorKind::FileTooLarge {
        BodyError::DecodedTooLarge
    } else {
        BodyError::Gzip(e.to_string())
    }
}

/// A buffer that refuses to grow past its cap.
struct Capped {
    buf: Vec<u8>,
    cap: usize,
}

impl Capped {
    fn new(cap: usize) -> Capped {
        Capped { buf: Vec::new(), cap }
    }
}

impl std::io::Write for Capped {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + data.len() > self.cap {
            return Err(std::io::Error::new(
                std::io::ErrorKind::FileTooLarge,
                "decoded size cap reached",
            ));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// Serves `body` with `encoding` on a loopback port, as a raw HTTP/1.1 server: with a
    /// `Content-Length`, or chunked (64 KiB chunks) when `length` is false.
    async fn serve(body: Vec<u8>, encoding: Option<&'static str>, length: bool) -> String {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let body = body.clone();
                tokio::spawn(async move {
                    let mut req = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => req.extend_from_slice(&buf[..n]),
                        }
                    }
                    let mut head = String::from("HTTP/1.1 200 OK\r\nConnection: close\r\n");
                    if let Some(e) = encoding {
                        head.push_str(&format!("Content-Encoding: {e}\r\n"));
                    }
                    if length {
                        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
                        let _ = s.write_all(head.as_bytes()).await;
                        let _ = s.write_all(&body).await;
                    } else {
                        head.push_str("Transfer-Encoding: chunked\r\n\r\n");
                        let _ = s.write_all(head.as_bytes()).await;
                        for chunk in body.chunks(65_536) {
                            let framed =
                                [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
                            if s.write_all(&framed).await.is_err() {
                                return;
                            }
                        }
                        let _ = s.write_all(b"0\r\n\r\n").await;
                    }
                });
            }
        });
        format!("http://{addr}/")
    }

    async fn get(url: &str) -> reqwest::Response {
        reqwest::Client::builder()
            .gzip(false)
            .build()
            .unwrap()
            .get(url)
            .send()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_normal_and_a_gzipped_answer_read_back_exactly() {
        let text = "{\"status\":true}".repeat(1000).into_bytes();
        let url = serve(text.clone(), None, true).await;
        assert_eq!(read_bytes(get(&url).await, 1 << 20, 1 << 20).await.unwrap(), text);
        let url = serve(gzip(&text), Some("gzip"), false).await;
        assert_eq!(read_bytes(get(&url).await, 1 << 20, 1 << 20).await.unwrap(), text);
    }

    #[tokio::test]
    async fn an_answer_over_the_wire_cap_fails_whether_announced_or_streamed() {
        let big = vec![b' '; 300_000];
        let url = serve(big.clone(), None, true).await;
        let e = read_bytes(get(&url).await, 100_000, 1 << 20).await.unwrap_err();
        assert!(matches!(e, BodyError::WireTooLarge), "{e}");
        let url = serve(big, None, false).await;
        let e = read_bytes(get(&url).await, 100_000, 1 << 20).await.unwrap_err();
        assert!(matches!(e, BodyError::WireTooLarge), "{e}");
        assert!(e.to_string().contains("larger than"), "{e}");
    }

    #[tokio::test]
    async fn a_gzip_bomb_stops_at_the_decoded_cap() {
        let bomb = gzip(&vec![0u8; 8 << 20]);
        assert!(
            bomb.len() < 100_000,
            "the bomb is small on the wire: {}",
            bomb.len()
        );
        let url = serve(bomb, Some("gzip"), false).await;
        let e = read_bytes(get(&url).await, 1 << 20, 1 << 20).await.unwrap_err();
        assert!(matches!(e, BodyError::DecodedTooLarge), "{e}");
        assert!(e.to_string().contains("decompressed"), "{e}");
    }

    #[tokio::test]
    async fn an_encoding_nobody_asked_for_is_refused() {
        let url = serve(b"xx".to_vec(), Some("br"), true).await;
        let e = read_bytes(get(&url).await, 1 << 20, 1 << 20).await.unwrap_err();
        assert!(matches!(&e, BodyError::Encoding(x) if x == "br"), "{e}");
    }
}
