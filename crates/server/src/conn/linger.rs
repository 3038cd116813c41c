//! Lingering close: after answering a request early (413 before the body, 408, 503,
//! hyper's own 400/431), the service reads and discards what the client still sends for a
//! short while before closing. Closing a socket with unread input makes the kernel send a
//! reset, which can destroy the answer before the client reads it.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// Most bytes discarded while lingering.
pub const LINGER_BYTES: usize = 1024 * 1024;
/// Longest linger.
pub const LINGER_TIME: Duration = Duration::from_secs(2);

/// A stream that puts itself into `slot` when hyper drops it, so the connection task can
/// linger on it.
#[derive(Debug)]
pub(crate) struct Returning<S> {
    inner: Option<S>,
    slot: Arc<Mutex<Option<S>>>,
}

impl<S> Returning<S> {
    /// Wraps `inner`; on drop it goes to `slot`.
    pub(crate) fn new(inner: S, slot: Arc<Mutex<Option<S>>>) -> Self {
        Returning {
            inner: Some(inner),
            slot,
        }
    }
}

impl<S> Drop for Returning<S> {
    fn drop(&mut self) {
        if let Some(s) = self.inner.take() {
            *self.slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(s);
        }
    }
}

fn gone() -> io::Error {
    io::Error::from(io::ErrorKind::NotConnected)
}

impl<S: AsyncRead + Unpin> AsyncRead for Returning<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut().inner.as_mut() {
            Some(s) => Pin::new(s).poll_read(cx, buf),
            None => Poll::Ready(Err(gone())),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Returning<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().inner.as_mut() {
            Some(s) => Pin::new(s).poll_write(cx, buf),
            None => Poll::Ready(Err(gone())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().inner.as_mut() {
            Some(s) => Pin::new(s).poll_flush(cx),
            None => Poll::Ready(Err(gone())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().inner.as_mut() {
            Some(s) => Pin::new(s).poll_shutdown(cx),
            None => Poll::Ready(Err(gone())),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().inner.as_mut() {
            Some(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            None => Poll::Ready(Err(gone())),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.as_ref().is_some_and(|s| s.is_write_vectored())
    }
}

/// Finishes sending, then discards input until the client closes, [`LINGER_BYTES`] or
/// `time` (at most [`LINGER_TIME`]).
pub(crate) async fn linger<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, time: Duration) {
    let _ = tokio::time::timeout(time.min(LINGER_TIME), async {
        let _ = stream.shutdown().await;
        let mut buf = [0u8; 8192];
        let mut total = 0usize;
        while total < LINGER_BYTES {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    })
    .await;
}
