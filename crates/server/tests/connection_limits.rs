//! The service keeps answering sign-ins while idle connections, a slowloris client,
//! stalled bodies and a handshake flood run against a low connection cap, and it closes
//! every one of them (real TLS over loopback, short timeouts from `ServerConfig`).
//!
//! Scale: the scenario is 2,000 idle connections against the default cap. Here the
//! cap is 64 and the test opens `IDLE` = 2,000 idle connections (31 times the cap) when the
//! process's descriptor limit allows, else as many as the limit minus 600 allows (at
//! least 8 times the cap), keeping the ratio to the cap the point of the test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::raw::{connector, parse_response, read_until_closed, tls};
use common::Harness;
use latchkey_server::config::ConnectionLimits;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

const CAP: usize = 64;
/// Each probe must be answered within this.
const PROBE_BOUND: Duration = Duration::from_secs(2);

fn short_limits() -> ConnectionLimits {
    ConnectionLimits {
        max_connections: CAP,
        reject_slots: 8,
        tls_handshake_timeout: Duration::from_millis(800),
        header_read_timeout: Duration::from_millis(800),
        body_timeout: Duration::from_millis(800),
        idle_timeout: Duration::from_millis(800),
        ..ConnectionLimits::default()
    }
}

/// Raises this process's soft descriptor limit to the hard one; returns it.
fn raise_fd_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let l = getrlimit(Resource::Nofile);
    let _ = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: l.maximum,
            maximum: l.maximum,
        },
    );
    getrlimit(Resource::Nofile).current.unwrap_or(1 << 20)
}

/// A probe client with no connection reuse: every probe is a new connection, like a new
/// device signing in.
fn probe_client(h: &Harness) -> reqwest::Client {
    let ca = std::fs::read(h.data_dir().join("ca.pem")).unwrap();
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// One probe: GET /v1/tenant or POST /v1/nonce; its latency.
async fn probe(h: &Harness, i: usize) -> Duration {
    let client = probe_client(h);
    let started = Instant::now();
    let (status, body) = if i.is_multiple_of(2) {
        let r = client
            .get(format!("{}/v1/tenant", h.url))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    } else {
        let r = client
            .post(format!("{}/v1/nonce", h.url))
            .json(&json!({"purpose": "sign_in"}))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    };
    let took = started.elapsed();
    assert_eq!(status, 200, "probe {i}: {body}");
    took
}

/// A stalled request: headers declaring `length` bytes, one byte of body, then nothing.
/// Returns the server's answer and whether it closed the connection.
async fn stalled_body(
    c: &tokio_rustls::TlsConnector,
    addr: SocketAddr,
    length: u64,
    deadline: Instant,
) -> ((u16, String, String), bool) {
    let mut s = tls(c, addr).await;
    let head = format!(
        "POST /v1/nonce HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\r\n{{"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.flush().await.unwrap();
    let (raw, closed) = read_until_closed(&mut s, deadline).await;
    (parse_response(&raw), closed)
}

/// A slowloris: a request head one byte at a time, 50 ms apart. Returns after how long the
/// server cut it (write failure or EOF), or `None` if it never did.
async fn slowloris(c: &tokio_rustls::TlsConnector, addr: SocketAddr) -> Option<Duration> {
    let started = Instant::now();
    let mut s = tls(c, addr).await;
    let head = format!("GET /v1/tenant HTTP/1.1\r\nhost: {addr}\r\nx-slow: ");
    let bytes = head.bytes().chain(std::iter::repeat(b'a'));
    for b in bytes.take(200) {
        if s.write_all(&[b]).await.is_err() || s.flush().await.is_err() {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, closed) = read_until_closed(&mut s, Instant::now() + Duration::from_secs(1)).await;
    closed.then(|| started.elapsed())
}

/// Connects that never finish the TLS handshake (a record header and part of a
/// ClientHello), one every 2 ms until `stop`, at most `max`; at most 300 held at once.
async fn handshake_flood(addr: SocketAddr, stop: Arc<AtomicBool>, max: usize) -> usize {
    let mut held = VecDeque::new();
    let mut opened = 0;
    while !stop.load(Ordering::SeqCst) && opened < max {
        if let Ok(Ok(mut s)) =
            tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(addr)).await
        {
            let _ = s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).await;
            held.push_back(s);
            opened += 1;
            if held.len() > 300 {
                held.pop_front();
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    opened
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ins_are_answered_under_idle_slowloris_stalled_and_handshake_floods() {
    let fds = raise_fd_limit();
    let idle_count = 2000usize.min(fds.saturating_sub(600) as usize);
    assert!(
        idle_count >= 8 * CAP,
        "descriptor limit {fds} too low for the test"
    );
    let h = Harness::start_with(|c| c.connections = short_limits()).await;
    let addr: SocketAddr = h.addr();
    let c = connector(&h.data_dir().join("ca.pem"));

    // Baseline: one probe before any abuse.
    let baseline = probe(&h, 0).await;

    // 2,000 (or scaled) idle TCP connections that send nothing.
    let mut idle = Vec::with_capacity(idle_count);
    for _ in 0..idle_count {
        match tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr)).await {
            Ok(Ok(s)) => idle.push(s),
            other => panic!("connect failed: {other:?}"),
        }
    }

    let stop = Arc::new(AtomicBool::new(false));
    let flood = tokio::spawn(handshake_flood(addr, stop.clone(), 3000));
    let lorises: Vec<_> = (0..4)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { slowloris(&c, addr).await })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(15);
    let huge: Vec<_> = (0..6)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { stalled_body(&c, addr, 100 * 1024 * 1024, deadline).await })
        })
        .collect();
    let slow: Vec<_> = (0..6)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { stalled_body(&c, addr, 1000, deadline).await })
        })
        .collect();

    // Probes while all of that runs.
    let mut latencies = Vec::new();
    for i in 0..20 {
        let took = probe(&h, i).await;
        assert!(took < PROBE_BOUND, "probe {i} took {took:?}");
        latencies.push(took);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let flooded = flood.await.unwrap();
    latencies.sort();
    eprintln!(
        "probe latency under abuse: baseline {baseline:?}; min {:?}, median {:?}, max {:?} over {} probes; \
         {idle_count} idle, {flooded} handshake-flood connects, cap {CAP}",
        latencies[0],
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1],
        latencies.len()
    );

    // Every abusive connection was closed by the server.
    for l in lorises {
        let cut = l.await.unwrap();
        assert!(cut.is_some(), "a slowloris was never cut");
    }
    for t in huge {
        let ((status, head, body), closed) = t.await.unwrap();
        assert_eq!(status, 413, "{head}{body}");
        assert!(head.contains("content-type: application/json"), "{head}");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["code"],
            "LK-REQ-002"
        );
        assert!(closed, "a 100 MB declared body left the connection open");
    }
    for t in slow {
        let ((status, head, body), closed) = t.await.unwrap();
        assert_eq!(status, 408, "{head}{body}");
        assert!(head.contains("content-type: application/json"), "{head}");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["code"],
            "LK-HTTP-003"
        );
        assert!(closed, "a stalled body left the connection open");
    }
    let idle_deadline = Instant::now() + Duration::from_secs(10);
    let mut closed = 0;
    for s in &mut idle {
        if read_until_closed(s, idle_deadline).await.1 {
            closed += 1;
        }
    }
    assert_eq!(closed, idle.len(), "idle connections the server left open");
    // And it still answers.
    probe(&h, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_connection_is_busy_new_ones_get_503_and_the_service_recovers() {
    let h = Harness::start_with(|c| {
        c.connections = ConnectionLimits {
            max_connections: 4,
            reject_slots: 2,
            body_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            ..ConnectionLimits::default()
        }
    })
    .await;
    let addr: SocketAddr = h.addr();
    let c = connector(&h.data_dir().join("ca.pem"));
    // Requests whose bodies never come, until every served connection is busy.
    let stalled = |c: tokio_rustls::TlsConnector| async move {
        let mut s = tls(&c, addr).await;
        let head = format!(
            "POST /v1/nonce HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        s.flush().await.unwrap();
        s
    };
    let mut busy = Vec::new();
    for _ in 0..4 {
        busy.push(stalled(c.clone()).await);
    }
    // The server counts a request as busy once it has read its head; a probe that comes
    // before that makes room by closing a stalled one. Poll (bounded): after each probe
    // that was served, add one more stalled request, until a new connection gets 503.
    let client = probe_client(&h);
    let mut answer = None;
    for _ in 0..50 {
        let r = client
            .get(format!("{}/v1/tenant", h.url))
            .send()
            .await
            .unwrap();
        if r.status() == 503 {
            let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
            answer = Some((ct, r.json::<Value>().await.unwrap()));
            break;
        }
        assert_eq!(r.status(), 200);
        busy.push(stalled(c.clone()).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (ct, body) = answer.expect("a 503 once every connection is busy");
    assert_eq!(ct, "application/json");
    assert_eq!(body["code"], "LK-HTTP-004");
    let page = client
        .get(format!("{}/signin", h.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 503);
    let ct = page.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/html"), "{ct}");
    assert!(page.text().await.unwrap().contains("LK-HTTP-004"));
    // Freeing the busy connections lets requests through again.
    drop(busy);
    let mut ok = false;
    for _ in 0..50 {
        let r = client
            .get(format!("{}/v1/tenant", h.url))
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        ok,
        "the service did not recover after the busy connections closed"
    );
}
