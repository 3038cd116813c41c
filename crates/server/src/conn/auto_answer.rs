//! The service's own answer where hyper would answer alone.
//!
//! A request head that hyper cannot parse (a broken request line or header) or cannot hold
//! (longer than its read buffer) never reaches the router: hyper writes an automatic
//! `400`, `414` or `431` with an empty body and closes the connection. [`Answering`] sits
//! under hyper, recognises that automatic answer as it is written, and sends the service's
//! own answer in its place: the same status with a JSON `{code, message}` body (an HTML
//! page for the web pages' paths), the security headers, and `Connection: close`.
//!
//! hyper writes an automatic answer only before any response on the connection has started,
//! as one buffer holding just a status line and its headers with `content-length: 0`. No
//! route answers 400, 414 or 431 without a body, so the two cannot be confused.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::Version;
use axum::response::Response;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::config::ConnectionLimits;
use crate::error::ApiError;
use crate::observe::Observer;
use crate::routes::web::is_page_path;

/// The longest automatic answer hyper writes (a status line, `content-length` and `date`).
const MAX_AUTO_ANSWER: usize = 512;
/// How much of a request's first line is kept to choose between JSON and HTML.
const MAX_CAPTURE: usize = 1024;
/// The largest rendered answer body read back from the error renderers.
const MAX_RENDERED_BODY: usize = 64 * 1024;

/// One answer, as JSON (API paths) and as an HTML page (the web pages' paths).
#[derive(Debug, Clone)]
struct Rendered {
    json: Vec<u8>,
    page: Vec<u8>,
}

/// The service's answers in place of hyper's automatic 400, 414 and 431, rendered once.
#[derive(Debug, Clone)]
pub(crate) struct AutoAnswers {
    bad_request: Rendered,
    uri_too_long: Rendered,
    headers_too_large: Rendered,
}

impl AutoAnswers {
    /// Renders the three answers with the service's error renderers, under `limits`.
    pub(crate) async fn render(limits: &ConnectionLimits, https: bool) -> Self {
        AutoAnswers {
            bad_request: render_both(|| ApiError::MalformedHttp, https).await,
            uri_too_long: render_both(|| ApiError::UriTooLong(limits.max_uri_bytes), https).await,
            headers_too_large: render_both(
                || ApiError::HeaderTooLarge(limits.max_header_bytes),
                https,
            )
            .await,
        }
    }

    /// The status and LK code of the answer replacing hyper's automatic `status`.
    fn code_of(status: &[u8]) -> Option<(u16, latchkey_proto::ErrorCode)> {
        use latchkey_proto::ErrorCode;
        match status {
            b"400" => Some((400, ErrorCode::MalformedHttp)),
            b"414" => Some((414, ErrorCode::UriTooLong)),
            b"431" => Some((431, ErrorCode::HeaderTooLarge)),
            _ => None,
        }
    }

    /// The answer replacing hyper's automatic answer with `status`, for a request whose
    /// first line was `request_line` (perhaps incomplete or empty).
    fn for_status(&self, status: &[u8], request_line: &[u8]) -> Option<&[u8]> {
        let rendered = match status {
            b"400" => &self.bad_request,
            b"414" => &self.uri_too_long,
            b"431" => &self.headers_too_large,
            _ => return None,
        };
        Some(if request_is_for_page(request_line) {
            &rendered.page
        } else {
            &rendered.json
        })
    }
}

async fn render_both(err: impl Fn() -> ApiError, https: bool) -> Rendered {
    Rendered {
        json: serialize(super::finish("/v1", Version::HTTP_11, err(), https)).await,
        page: serialize(super::finish("/signin", Version::HTTP_11, err(), https)).await,
    }
}

/// A response as HTTP/1.1 bytes: status line, headers, `content-length`, body.
async fn serialize(response: Response) -> Vec<u8> {
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, MAX_RENDERED_BODY)
        .await
        .unwrap_or_default();
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        parts.status.as_str(),
        parts.status.canonical_reason().unwrap_or("")
    )
    .into_bytes();
    for (name, value) in &parts.headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(&body);
    out
}

/// Whether the request line names one of the web pages' paths.
fn request_is_for_page(request_line: &[u8]) -> bool {
    let Ok(line) = std::str::from_utf8(request_line) else {
        return false;
    };
    let Some(target) = line.split(' ').nth(1) else {
        return false;
    };
    let path = target.split(['?', '#']).next().unwrap_or("");
    is_page_path(path)
}

/// The status of hyper's automatic answer if `buf` is one: `HTTP/1.x NNN ...`, nothing
/// after the head, and `content-length: 0`.
fn automatic_status(buf: &[u8]) -> Option<&[u8]> {
    if buf.len() > MAX_AUTO_ANSWER || !buf.ends_with(b"\r\n\r\n") {
        return None;
    }
    let rest = buf
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| buf.strip_prefix(b"HTTP/1.0 "))?;
    let status = rest.get(..3)?;
    let head = String::from_utf8_lossy(buf).to_ascii_lowercase();
    let empty = head.contains("\r\ncontent-length: 0\r\n");
    let one_head = head.find("\r\n\r\n").map(|at| at + 4) == Some(head.len());
    (empty && one_head).then_some(status)
}

/// A stream that replaces hyper's automatic answers with the service's ([`AutoAnswers`]).
#[derive(Debug)]
pub(crate) struct Answering<S> {
    inner: S,
    answers: Arc<AutoAnswers>,
    /// The start of the current request's first line, while it is being read.
    request_line: Vec<u8>,
    /// Whether the next bytes read start a request (nothing written since the last head).
    capturing: bool,
    /// The replacement still to be written, and how much of it has been.
    pending: Vec<u8>,
    written: usize,
    /// Where a replaced answer is logged and counted.
    observer: Option<Arc<Observer>>,
}

impl<S> Answering<S> {
    /// Wraps `inner`.
    pub(crate) fn new(inner: S, answers: Arc<AutoAnswers>) -> Self {
        Answering {
            inner,
            answers,
            request_line: Vec::new(),
            capturing: true,
            pending: Vec::new(),
            written: 0,
            observer: None,
        }
    }

    /// Logs and counts each replaced answer with `observer`.
    pub(crate) fn observed(mut self, observer: Arc<Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    fn capture(&mut self, read: &[u8]) {
        if !self.capturing {
            return;
        }
        let room = MAX_CAPTURE.saturating_sub(self.request_line.len());
        let end = read
            .iter()
            .position(|&b| b == b'\r' || b == b'\n')
            .map_or(read.len(), |at| {
                self.capturing = false;
                at
            });
        let take = read.get(..end.min(room)).unwrap_or_default();
        self.request_line.extend_from_slice(take);
        if self.request_line.len() >= MAX_CAPTURE {
            self.capturing = false;
        }
    }
}

impl<S: AsyncWrite + Unpin> Answering<S> {
    /// Writes what is left of a replacement; ready when nothing is.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(rest) = self.pending.get(self.written..).filter(|r| !r.is_empty()) {
            let n = std::task::ready!(Pin::new(&mut self.inner).poll_write(cx, rest))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written = self.written.saturating_add(n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Answering<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let (Poll::Ready(Ok(())), true) = (&polled, this.capturing) {
            this.capture(buf.filled().get(before..).unwrap_or_default());
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Answering<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_pending(cx))?;
        let status = automatic_status(buf);
        let replacement =
            status.and_then(|status| this.answers.for_status(status, &this.request_line));
        if let (Some(status), Some(_), Some(observer)) = (status, replacement, &this.observer) {
            let method = this
                .request_line
                .split(|&b| b == b' ')
                .next()
                .unwrap_or_default();
            if let Some((status, code)) = AutoAnswers::code_of(status) {
                observer.unparsed(method, status, code);
            }
        }
        this.request_line.clear();
        this.capturing = true;
        match replacement {
            Some(answer) => {
                tracing::debug!("replacing hyper's automatic answer");
                this.pending = answer.to_vec();
                this.written = 0;
                // The replacement goes out on the next write, flush or shutdown; hyper
                // always flushes after its automatic answer.
                Poll::Ready(Ok(buf.len()))
            }
            None => Pin::new(&mut this.inner).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_only_hypers_empty_automatic_answers() {
        let auto = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Tue, 01 Dec 2026 12:00:00 GMT\r\n\r\n";
        assert_eq!(automatic_status(auto), Some(&b"431"[..]));
        let old = b"HTTP/1.0 400 Bad Request\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(automatic_status(old), Some(&b"400"[..]));
        // A head with a body, a head with a non-zero length, or only part of a head: not.
        let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(automatic_status(with_body), None);
        let sized = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 20\r\n\r\n";
        assert_eq!(automatic_status(sized), None);
        assert_eq!(automatic_status(b"HTTP/1.1 400 Bad Request\r\n"), None);
        assert_eq!(automatic_status(b"{\"code\":\"x\"}\r\n\r\n"), None);
    }

    #[test]
    fn the_request_line_chooses_page_or_json() {
        assert!(request_is_for_page(b"GET /signin HTTP/1.1"));
        assert!(request_is_for_page(b"GET /signin?next=/x HTTP/1.1"));
        assert!(!request_is_for_page(b"GET /v1/nonce HTTP/1.1"));
        assert!(!request_is_for_page(b"GARBAGE"));
        assert!(!request_is_for_page(b"\xff\xfe /signin"));
    }

    #[test]
    fn capture_keeps_the_first_line_only_and_is_bounded() {
        let answers = Arc::new(AutoAnswers {
            bad_request: Rendered {
                json: vec![],
                page: vec![],
            },
            uri_too_long: Rendered {
                json: vec![],
                page: vec![],
            },
            headers_too_large: Rendered {
                json: vec![],
                page: vec![],
            },
        });
        let mut a = Answering::new((), answers.clone());
        a.capture(b"GET /sig");
        a.capture(b"nin HTTP/1.1\r\nhost: x\r\n");
        a.capture(b"more");
        assert_eq!(a.request_line, b"GET /signin HTTP/1.1");
        let mut b = Answering::new((), answers);
        b.capture(&vec![b'a'; 10 * MAX_CAPTURE]);
        assert_eq!(b.request_line.len(), MAX_CAPTURE);
    }
}
