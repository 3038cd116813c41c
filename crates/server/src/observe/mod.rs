//! Observability: one log line per answered request (target [`REQUEST_TARGET`]), the
//! request id, and the metrics ([`metrics::Metrics`], served by [`listener`]).
//!
//! The connection layer (`conn::respond`) times each request, gives it an id, runs the
//! router inside a span carrying the id, and then calls [`Seen::finish`] with the response.
//! What the line needs from inside the router travels on the response's extensions: the
//! matched route template ([`tag_route`], a layer of the router) and the LK code of an
//! error answer ([`tag_code`], called where error answers are built). Nothing from the
//! request's headers, query or body is logged except a sanitised `X-Request-Id`.

pub mod listener;
pub mod metrics;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use latchkey_proto::ErrorCode;

use crate::clock::Env;
use metrics::Metrics;

/// The `tracing` target of the request lines.
pub const REQUEST_TARGET: &str = "latchkey::request";
/// The route of a request the router matched to no route (or answered before routing).
pub const UNMATCHED: &str = "unmatched";
/// The route of a request whose head could not be parsed (answered by the connection
/// layer in hyper's place).
pub const UNPARSED: &str = "unparsed";
/// The request id header, read (when well-formed) and always answered.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The longest incoming `X-Request-Id` taken as the request's id.
pub const MAX_REQUEST_ID: usize = 64;

/// The matched route, carried from the router to the connection layer.
#[derive(Debug, Clone)]
struct RouteTag(MatchedPath);

/// The LK code of an error answer, carried to the connection layer.
#[derive(Debug, Clone, Copy)]
pub struct CodeTag(pub ErrorCode);

/// Marks `response` as the error answer with `code` (for the request line and metrics).
pub fn tag_code(response: &mut Response, code: ErrorCode) {
    response.extensions_mut().insert(CodeTag(code));
}

/// The router layer that puts the matched route template on the response.
pub async fn tag_route(req: Request, next: Next) -> Response {
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(req).await;
    if let Some(m) = matched {
        response.extensions_mut().insert(RouteTag(m));
    }
    response
}

/// Carries the route of `from` (an answer replaced by a later one) over to `to`.
pub fn keep_route(from: &Response, to: &mut Response) {
    if let Some(tag) = from.extensions().get::<RouteTag>().cloned() {
        to.extensions_mut().insert(tag);
    }
}

/// `method` as a bounded label value: the standard methods, else `OTHER`.
pub fn bounded_method(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

/// The incoming request id, if it is short and made only of letters, digits, `-`, `_`,
/// `.` and `:` (anything else is replaced by a fresh id).
pub fn incoming_request_id(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(&REQUEST_ID)?.to_str().ok()?;
    let ok = !value.is_empty()
        && value.len() <= MAX_REQUEST_ID
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    ok.then(|| value.to_owned())
}

/// What the request lines and metrics of one service need.
#[derive(Debug)]
pub struct Observer {
    tenant: Arc<str>,
    env: Env,
    metrics: Arc<Metrics>,
    unmatched: Arc<str>,
    unparsed: Arc<str>,
}

impl Observer {
    /// The observer of the service of `tenant`, counting into `metrics`.
    pub fn new(tenant: &str, env: Env, metrics: Arc<Metrics>) -> Observer {
        Observer {
            tenant: Arc::from(tenant),
            env,
            metrics,
            unmatched: Arc::from(UNMATCHED),
            unparsed: Arc::from(UNPARSED),
        }
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// A fresh request id: 16 hex digits from the service's RNG.
    pub fn fresh_id(&self) -> String {
        match self.env.random::<8>() {
            Ok(bytes) => hex::encode(bytes),
            Err(_) => "0000000000000000".to_owned(),
        }
    }

    /// Starts observing a request with this head.
    pub fn begin(&self, method: &Method, headers: &HeaderMap) -> Seen {
        Seen {
            started: Instant::now(),
            id: incoming_request_id(headers).unwrap_or_else(|| self.fresh_id()),
            method: bounded_method(method),
        }
    }

    /// Logs and counts a request whose head hyper could not parse or hold, answered with
    /// `status` by the connection layer (`method` from its first line, if readable).
    pub fn unparsed(&self, method: &[u8], status: u16, code: ErrorCode) {
        let method = Method::from_bytes(method)
            .map(|m| bounded_method(&m))
            .unwrap_or("OTHER");
        let id = self.fresh_id();
        tracing::info!(
            target: REQUEST_TARGET,
            request_id = %id,
            method = %method,
            route = %UNPARSED,
            status,
            latency_ms = 0.0,
            code = %code.as_str(),
            tenant = %self.tenant,
            "request"
        );
        self.metrics
            .request(&self.unparsed, method, status, Some(code.as_str()), 0.0);
    }
}

/// One request being answered.
#[derive(Debug)]
pub struct Seen {
    started: Instant,
    id: String,
    method: &'static str,
}

impl Seen {
    /// The request id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Logs the request line, counts the request, and adds `X-Request-Id` to `response`.
    pub fn finish(self, observer: &Observer, response: &mut Response) {
        let elapsed = self.started.elapsed();
        let status = response.status().as_u16();
        let code = response.extensions().get::<CodeTag>().map(|c| c.0.as_str());
        let route = match response.extensions().get::<RouteTag>() {
            Some(RouteTag(m)) => Arc::from(m.as_str()),
            None => observer.unmatched.clone(),
        };
        let latency_ms = elapsed.as_secs_f64() * 1000.0;
        tracing::info!(
            target: REQUEST_TARGET,
            request_id = %self.id,
            method = %self.method,
            route = %route,
            status,
            latency_ms = (latency_ms * 1000.0).round() / 1000.0,
            code = code.map(tracing::field::display),
            tenant = %observer.tenant,
            "request"
        );
        observer
            .metrics
            .request(&route, self.method, status, code, elapsed.as_secs_f64());
        if let Ok(value) = HeaderValue::from_str(&self.id) {
            response.headers_mut().insert(REQUEST_ID.clone(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_request_ids_are_taken() {
        let mut h = HeaderMap::new();
        assert_eq!(incoming_request_id(&h), None);
        h.insert(&REQUEST_ID, HeaderValue::from_static("abc-123_x.y:z"));
        assert_eq!(incoming_request_id(&h).as_deref(), Some("abc-123_x.y:z"));
        for bad in ["", "a b", "a\"b", "é", "a/b", "a=b"] {
            match HeaderValue::from_str(bad) {
                Ok(v) => {
                    h.insert(&REQUEST_ID, v);
                    assert_eq!(incoming_request_id(&h), None, "{bad}");
                }
                Err(_) => continue,
            }
        }
        let long = "a".repeat(MAX_REQUEST_ID + 1);
        h.insert(
            &REQUEST_ID,
            HeaderValue::from_str(&long).unwrap_or_else(|_| unreachable!()),
        );
        assert_eq!(incoming_request_id(&h), None);
    }

    #[test]
    fn methods_are_bounded() {
        assert_eq!(bounded_method(&Method::POST), "POST");
        let odd = Method::from_bytes(b"BREW").unwrap_or(Method::GET);
        assert_eq!(bounded_method(&odd), "OTHER");
    }
}
