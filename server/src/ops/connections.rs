//! Client connections: a limit on how many are open (beyond it a new one is closed at once) and a
//! minimum sending rate, so a thousand clients sending a byte a second cannot hold the server's
//! connections and memory while everyone else waits. Like Apache's `mod_reqtimeout` MinRate: in
//! each window (10 s by default) a connection that sent something, but less than `min_bytes`, gets
//! a strike; two windows in a row and it is closed. A connection that sends nothing is idle, not
//! slow: it is closed after `idle_secs` (longer than the phone client's 30 s pool timeout, so the
//! server never closes a connection the client is about to reuse).
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

use super::metrics::Metrics;

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct ConnectionSettings {
    /// Open connections at most; more are closed as they arrive. Capped by the process's file
    /// limit (raised to its hard limit at start).
    pub max_connections: usize,
    /// The rate window, and the bytes a sending connection must deliver in it.
    pub window_ms: u64,
    pub min_bytes: u64,
    /// A connection that sends nothing for this long is closed.
    pub idle_secs: u64,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        ConnectionSettings {
            max_connections: 10_000,
            window_ms: 10_000,
            min_bytes: 1024,
            idle_secs: 75,
        }
    }
}

/// Wraps the listener's acceptor with the limit and the rate check.
pub struct GuardedAcceptor<A> {
    inner: A,
    slots: Arc<Semaphore>,
    settings: ConnectionSettings,
    metrics: Arc<Metrics>,
}

impl<A: Acceptor> GuardedAcceptor<A> {
    pub fn new(inner: A, settings: ConnectionSettings, metrics: Arc<Metrics>) -> Self {
        let limit = settings
            .max_connections
            .min(file_limit().saturating_sub(256))
            .max(1);
        GuardedAcceptor {
            inner,
            slots: Arc::new(Semaphore::new(limit)),
            settings,
            metrics,
        }
    }
}

impl<A: Acceptor> Acceptor for GuardedAcceptor<A> {
    type Io = Guarded<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        loop {
            let (io, local, remote, scheme) = self.inner.accept().await?;
            match self.slots.clone().try_acquire_owned() {
                Ok(slot) => {
                    let io = Guarded::new(io, slot, &self.settings, self.metrics.clone());
                    return Ok((io, local, remote, scheme));
                }
                Err(_) => {
                    drop(io);
                    self.metrics.connection_dropped("over_limit");
                }
            }
        }
    }
}

/// Raise the open-files limit to its hard limit (the default soft limit is often 1024) and say
/// what it is.
pub fn file_limit() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain libc calls with a valid pointer to a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit.rlim_cur = limit.rlim_max;
            }
        }
    }
    usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
}

/// A connection with its slot and its rate check.
pub struct Guarded<Io> {
    inner: Io,
    _slot: OwnedSemaphorePermit,
    metrics: Arc<Metrics>,
    window: Duration,
    min_bytes: u64,
    idle: Duration,
    /// When the current window ends (the timer wakes a pending read then).
    timer: Pin<Box<Sleep>>,
    bytes_in_window: u64,
    strikes: u8,
    last_byte: Instant,
}

impl<Io> Guarded<Io> {
    fn new(
        inner: Io,
        slot: OwnedSemaphorePermit,
        settings: &ConnectionSettings,
        metrics: Arc<Metrics>,
    ) -> Self {
        metrics.connections.inc();
        let window = Duration::from_millis(settings.window_ms.max(1));
        Guarded {
            inner,
            _slot: slot,
            metrics,
            window,
            min_bytes: settings.min_bytes,
            idle: Duration::from_secs(settings.idle_secs),
            timer: Box::pin(tokio::time::sleep(window)),
            bytes_in_window: 0,
            strikes: 0,
            last_byte: Instant::now(),
        }
    }

    /// At the end of a window: strike a trickling connection, close one that trickled twice or
    /// was idle too long; otherwise start the next window.
    fn end_window(&mut self, now: Instant) -> io::Result<()> {
        if self.bytes_in_window > 0 && self.bytes_in_window < self.min_bytes {
            self.strikes += 1;
        } else if self.bytes_in_window >= self.min_bytes {
            self.strikes = 0;
        }
        if self.strikes >= 2 {
            return Err(self.close("too_slow"));
        }
        if now.duration_since(self.last_byte) >= self.idle {
            return Err(self.close("idle"));
        }
        self.bytes_in_window = 0;
        self.timer.as_mut().reset(now + self.window);
        Ok(())
    }

    fn close(&self, reason: &str) -> io::Error {
        self.metrics.connection_dropped(reason);
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("connection closed: {reason}"),
        )
    }
}

impl<Io> Drop for Guarded<Io> {
    fn drop(&mut self) {
        self.metrics.connections.dec();
    }
}

impl<Io: AsyncRead + Unpin> AsyncRead for Guarded<Io> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let n = (buf.filled().len() - before) as u64;
                if n > 0 {
                    this.bytes_in_window += n;
                    this.last_byte = Instant::now();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                // Waiting for the client: check each window's end while it lasts.
                while this.timer.as_mut().poll(cx).is_ready() {
                    if let Err(e) = this.end_window(Instant::now()) {
                        return Poll::Ready(Err(e));
                    }
                }
                Poll::Pending
            }
        }
    }
}

impl<Io: AsyncWrite + Unpin> AsyncWrite for Guarded<Io> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
