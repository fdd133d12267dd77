//! The push receiver's connections: capped in number, closed when idle or too old.
//!
//! The receiver listens on the network for Juhe's pushes, which are a few small requests a day.
//! Served without limits, 1,100 idle connections used up the process's file descriptors
//! (`accept error: Too many open files` every second). So the listener here:
//! - accepts at most `max_connections` at once and closes any connection beyond that at once
//!   (a push is a hint; polling follows the order anyway, and Juhe tries again);
//! - closes a connection on which nothing has been read or written for `idle_timeout` — that
//!   bounds the wait for a request's headers, for its body, and between keep-alive requests;
//! - closes any connection after [`MAX_AGE`], however busy, so a client trickling one byte at a
//!   time cannot hold a slot for ever.

use std::future::Future as _;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// The longest any one connection is kept.
pub const MAX_AGE: Duration = Duration::from_secs(60);

/// A listener for `axum::serve` that enforces the limits above.
pub struct GuardedListener {
    inner: TcpListener,
    slots: Arc<Semaphore>,
    idle: Duration,
    /// When the last "refused a connection" line was logged (one a minute at most).
    last_refusal_log: Option<Instant>,
}

impl GuardedListener {
    pub fn new(inner: TcpListener, max_connections: usize, idle: Duration) -> GuardedListener {
        GuardedListener {
            inner,
            slots: Arc::new(Semaphore::new(max_connections.max(1))),
            idle,
            last_refusal_log: None,
        }
    }
}

impl axum::serve::Listener for GuardedListener {
    type Io = Guarded;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Guarded, SocketAddr) {
        loop {
            let (stream, addr) = match self.inner.accept().await {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "push receiver: accept failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            match self.slots.clone().try_acquire_owned() {
                Ok(slot) => return (Guarded::new(stream, slot, self.idle), addr),
                Err(_) => {
                    drop(stream);
                    let quiet = self
                        .last_refusal_log
                        .is_some_and(|t| t.elapsed() < Duration::from_secs(60));
                    if !quiet {
                        self.last_refusal_log = Some(Instant::now());
                        tracing::warn!(%addr, "push receiver: every connection slot is taken; closing new connections until one frees");
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// One accepted connection: holds its slot, and fails its I/O once idle or too old (hyper then
/// closes it).
pub struct Guarded {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
    idle: Duration,
    idle_timer: Pin<Box<Sleep>>,
    age_limit: Pin<Box<Sleep>>,
}

impl Guarded {
    fn new(stream: TcpStream, slot: OwnedSemaphorePermit, idle: Duration) -> Guarded {
        let now = Instant::now();
        Guarded {
            stream,
            _slot: slot,
            idle,
            idle_timer: Box::pin(tokio::time::sleep_until(now + idle)),
            age_limit: Box::pin(tokio::time::sleep_until(now + MAX_AGE)),
        }
    }

    fn progressed(&mut self) {
        self.idle_timer.as_mut().reset(Instant::now() + self.idle);
    }

    /// Called when the I/O would wait: an error once a limit has passed (registers the timers).
    fn expired(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        if self.idle_timer.as_mut().poll(cx).is_ready() {
            return Some(io::Error::new(io::ErrorKind::TimedOut, "idle connection closed"));
        }
        if self.age_limit.as_mut().poll(cx).is_ready() {
            return Some(io::Error::new(io::ErrorKind::TimedOut, "connection too old"));
        }
        None
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    self.progressed();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match self.expired(cx) {
                Some(e) => Poll::Ready(Err(e)),
                None => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.stream).poll_write(cx, data) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.progressed();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match self.expired(cx) {
                Some(e) => Poll::Ready(Err(e)),
                None => Poll::Pending,
            },
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    async fn serve(max: usize, idle: Duration) -> SocketAddr {
        let inner = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let listener = GuardedListener::new(inner, max, idle);
        let addr = axum::serve::Listener::local_addr(&listener).unwrap();
        let app = axum::Router::new().route("/", axum::routing::post(|| async { "ok" }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    /// Reads until the server closes (EOF or reset).
    async fn closed(s: &mut TcpStream) -> bool {
        let mut buf = [0u8; 1024];
        loop {
            match tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => {}
                Err(_) => return false,
            }
        }
    }

    #[tokio::test]
    async fn idle_connections_are_closed_and_extra_ones_refused_at_once() {
        let addr = serve(2, Duration::from_millis(300)).await;
        let mut a = TcpStream::connect(addr).await.unwrap();
        let mut b = TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut extra = TcpStream::connect(addr).await.unwrap();
        assert!(closed(&mut extra).await, "the third connection is closed");
        assert!(
            closed(&mut a).await && closed(&mut b).await,
            "idle ones are closed"
        );

        // A slot is free again, and a request on it is served.
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            .await
            .unwrap();
        let mut buf = vec![0u8; 1024];
        let n = c.read(&mut buf).await.unwrap();
        let head = String::from_utf8_lossy(&buf[..n]);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(closed(&mut c).await, "and closed once idle after it");
    }
}
