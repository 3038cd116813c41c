//! Every rejection of the HTTP layer is the code's JSON `{code, message}` on the API and
//! an HTML page carrying the code on the web pages, with the code's one status: headers
//! too large (431), URI too long (414), bodies over the limit (413, also on
//! `/oauth2/token` and chunked), bodies that do not arrive (408), unknown routes and
//! methods.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::raw::{connector, parse_response, read_until_closed, tls};
use common::{Harness, WebHarness};
use latchkey_proto::ErrorCode;
use latchkey_server::config::ConnectionLimits;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

/// Checks a JSON error: the code's status, `application/json`, `{code, message}`.
fn assert_json(status: u16, content_type: &str, body: &str, code: &str) {
    let want = ErrorCode::from_code(code).unwrap().http_status();
    assert_eq!(status, want, "{code}: {body}");
    assert!(
        content_type.starts_with("application/json"),
        "{code}: {content_type}"
    );
    let v: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("{code}: {body}"));
    assert_eq!(v["code"], code, "{body}");
    assert!(
        v["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

/// Checks an HTML error page: the code's status, `text/html`, the code in the page.
fn assert_page(status: u16, content_type: &str, body: &str, code: &str) {
    let want = ErrorCode::from_code(code).unwrap().http_status();
    assert_eq!(status, want, "{code}: {body}");
    assert!(
        content_type.starts_with("text/html"),
        "{code}: {content_type}"
    );
    assert!(body.contains("<!DOCTYPE html>"), "{body}");
    assert!(body.contains(code), "{code} missing in {body}");
}

async fn send(req: reqwest::RequestBuilder) -> (u16, String, String) {
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, r.text().await.unwrap())
}

fn addr(h: &Harness) -> SocketAddr {
    h.addr()
}

/// Sends `head` and `body` raw over TLS; the parsed answer and whether the server closed.
async fn raw(h: &Harness, head: &str, body: &[u8]) -> ((u16, String, String), bool) {
    let c = connector(&h.data_dir().join("ca.pem"));
    let mut s = tls(&c, addr(h)).await;
    // The server may answer and close before the whole request is written.
    let _ = s.write_all(head.as_bytes()).await;
    let _ = s.write_all(body).await;
    let _ = s.flush().await;
    let (got, closed) = read_until_closed(&mut s, Instant::now() + Duration::from_secs(10)).await;
    (parse_response(&got), closed)
}

fn content_type(head: &str) -> String {
    head.lines()
        .find_map(|l| l.strip_prefix("content-type: "))
        .unwrap_or("")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_headers_and_uris_get_typed_answers() {
    let h = Harness::web().await;
    let big = "a".repeat(20 * 1024);
    let (s, ct, b) = send(
        h.client
            .get(format!("{}/v1/tenant", h.url))
            .header("x-big", &big),
    )
    .await;
    assert_json(s, &ct, &b, "LK-HTTP-001");
    let (s, ct, b) = send(
        h.client
            .get(format!("{}/signin", h.url))
            .header("x-big", &big),
    )
    .await;
    assert_page(s, &ct, &b, "LK-HTTP-001");

    let mut many = h.client.get(format!("{}/v1/tenant", h.url));
    for i in 0..80 {
        many = many.header(format!("x-h{i}"), "1");
    }
    let (s, ct, b) = send(many).await;
    assert_json(s, &ct, &b, "LK-HTTP-001");

    let long = "a".repeat(9 * 1024);
    let (s, ct, b) = send(h.client.get(format!("{}/v1/tenant?q={long}", h.url))).await;
    assert_json(s, &ct, &b, "LK-HTTP-002");
    let (s, ct, b) = send(h.client.get(format!("{}/signin?next=/{long}", h.url))).await;
    assert_page(s, &ct, &b, "LK-HTTP-002");

    // Just under the limits is served.
    let (s, _, b) = send(
        h.client
            .get(format!("{}/v1/tenant?q={}", h.url, "a".repeat(7 * 1024)))
            .header("x-big", "a".repeat(12 * 1024)),
    )
    .await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_limit_are_413_everywhere_declared_or_chunked() {
    let h = Harness::web().await;
    let form = format!(
        "grant_type=authorization_code&code={}",
        "a".repeat(100 * 1024)
    );
    let (s, ct, b) = send(
        h.client
            .post(format!("{}/oauth2/token", h.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.clone()),
    )
    .await;
    assert_json(s, &ct, &b, "LK-REQ-002");
    let (s, ct, b) = send(
        h.client
            .post(format!("{}/signin/password", h.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.clone()),
    )
    .await;
    assert_page(s, &ct, &b, "LK-REQ-002");

    // Chunked: no length to refuse early, the handlers' own bounded reads answer.
    let chunk = "a".repeat(70 * 1024);
    let body = format!("{:x}\r\n{chunk}\r\n0\r\n\r\n", chunk.len());
    for (path, ctype, page) in [
        ("/oauth2/token", "application/x-www-form-urlencoded", false),
        ("/v1/nonce", "application/json", false),
        (
            "/signin/password",
            "application/x-www-form-urlencoded",
            true,
        ),
    ] {
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: {ctype}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
        );
        let ((s, head, b), _) = raw(&h, &head, body.as_bytes()).await;
        let ct = content_type(&head);
        if page {
            assert_page(s, &ct, &b, "LK-REQ-002");
        } else {
            let want = ErrorCode::BodyTooLarge.http_status();
            assert_eq!(s, want, "{path}: {head}{b}");
            assert!(ct.starts_with("application/json"), "{path}: {head}");
            assert_eq!(
                serde_json::from_str::<Value>(&b).unwrap()["code"],
                "LK-REQ-002"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_does_not_arrive_is_408_and_the_connection_closed() {
    let h = Harness::web_with(|c| {
        c.connections = ConnectionLimits {
            body_timeout: Duration::from_millis(300),
            ..ConnectionLimits::default()
        }
    })
    .await;
    for (path, ctype, page) in [
        ("/v1/nonce", "application/json", false),
        ("/oauth2/token", "application/x-www-form-urlencoded", false),
        (
            "/signin/password",
            "application/x-www-form-urlencoded",
            true,
        ),
    ] {
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: {ctype}\r\ncontent-length: 500\r\n\r\n"
        );
        let ((s, head, b), closed) = raw(&h, &head, b"a").await;
        let ct = content_type(&head);
        if page {
            assert_page(s, &ct, &b, "LK-HTTP-003");
        } else {
            assert_json(s, &ct, &b, "LK-HTTP-003");
        }
        assert!(closed, "{path}: the connection stayed open");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_methods_answer_by_kind_of_path() {
    let h = Harness::web().await;
    let (s, ct, b) = send(h.client.get(format!("{}/v1/nope", h.url))).await;
    assert_json(s, &ct, &b, "LK-REQ-004");
    let (s, ct, b) = send(h.client.get(format!("{}/admin/nope", h.url))).await;
    assert_page(s, &ct, &b, "LK-REQ-004");
    let (s, ct, b) = send(h.client.get(format!("{}/v1/nonce", h.url))).await;
    assert_json(s, &ct, &b, "LK-REQ-006");
    let (s, ct, b) = send(h.client.get(format!("{}/signout", h.url))).await;
    assert_page(s, &ct, &b, "LK-REQ-006");
}

/// What hyper answers alone (a head beyond its own buffer, a request line or header it
/// cannot parse) is replaced by the service's own answer: the same status, a JSON body on
/// the API and a page on the web, and the connection closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_hypers_buffer_and_unparseable_heads_get_typed_answers() {
    let h = Harness::web().await;
    let huge = "a".repeat(200 * 1024);
    let head = format!("GET /v1/tenant HTTP/1.1\r\nhost: x\r\nx-huge: {huge}\r\n\r\n");
    let ((s, hd, b), closed) = raw(&h, &head, b"").await;
    assert_json(s, &content_type(&hd), &b, "LK-HTTP-001");
    assert_eq!(s, 431);
    assert!(closed);
    let head = format!("GET /signin HTTP/1.1\r\nhost: x\r\nx-huge: {huge}\r\n\r\n");
    let ((s, hd, b), closed) = raw(&h, &head, b"").await;
    assert_page(s, &content_type(&hd), &b, "LK-HTTP-001");
    assert!(closed);
    // A target longer than hyper's buffer: hyper counts it against the head (431).
    let head = format!("GET /v1/tenant?q={huge} HTTP/1.1\r\nhost: x\r\n\r\n");
    let ((s, hd, b), closed) = raw(&h, &head, b"").await;
    assert_json(s, &content_type(&hd), &b, "LK-HTTP-001");
    assert!(closed);
    // A request line hyper cannot parse, a header without a colon, a bad version.
    for head in [
        "GARBAGE\r\n\r\n",
        "GET /v1/tenant HTTP/1.1\r\nno colon here\r\n\r\n",
        "GET /v1/tenant HTTP/9.9\r\nhost: x\r\n\r\n",
        "GET /v1/te\x01nant HTTP/1.1\r\nhost: x\r\n\r\n",
    ] {
        let ((s, hd, b), closed) = raw(&h, head, b"").await;
        assert_json(s, &content_type(&hd), &b, "LK-HTTP-005");
        assert_eq!(s, 400, "{head:?}");
        assert!(closed, "{head:?}");
    }
    let ((s, hd, b), _) = raw(&h, "GET /signin HTTP/1.1\r\nno colon\r\n\r\n", b"").await;
    assert_page(s, &content_type(&hd), &b, "LK-HTTP-005");
    // After a good request on the same connection, a bad second one is answered too,
    // and the first answer is untouched.
    let two = "GET /.well-known/openid-configuration HTTP/1.1\r\nhost: x\r\n\r\nGARBAGE\r\n\r\n";
    let c = connector(&h.data_dir().join("ca.pem"));
    let mut st = tls(&c, addr(&h)).await;
    st.write_all(two.as_bytes()).await.unwrap();
    let (got, closed) = read_until_closed(&mut st, Instant::now() + Duration::from_secs(10)).await;
    let text = String::from_utf8_lossy(&got).into_owned();
    assert!(text.starts_with("HTTP/1.1 200 "), "{text}");
    let second = text.find("HTTP/1.1 400 ").expect("a second answer");
    assert!(text[second..].contains("LK-HTTP-005"), "{text}");
    assert!(closed);
}
