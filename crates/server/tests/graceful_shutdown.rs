//! Graceful shutdown: the listener closes first, a request in flight is answered and its
//! sign-in stored, every sign-in acknowledged under load is in the database afterwards, and
//! a request that never completes holds the shutdown no longer than `shutdown_timeout`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::raw::{connector, parse_response, read_until_closed, tls};
use common::{enrolled, rsa_key, Harness};
use latchkey_server::config::ConnectionLimits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Waits until `addr` refuses connections: the listener is closed. Polls, since nothing
/// announces it; bounded.
async fn until_refused(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).await.is_ok() {
        assert!(Instant::now() < deadline, "the listener is still open");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The head of a sign-in POST whose body is `len` bytes.
fn head(addr: SocketAddr, len: usize) -> String {
    format!(
        "POST /v1/signin HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {len}\r\n\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_at_shutdown_is_answered_and_its_sign_in_stored() {
    let mut h = Harness::start().await;
    let alice = enrolled(&h, "alice@example.com", rsa_key(0)).await;
    let body = h
        .signin_body(&alice.device, &alice.upn, &alice.key.key_id(), &alice.key)
        .await
        .to_string();
    let before = h.counts().await;
    let server = h.server.take().unwrap();
    let addr = server.local_addr;
    let connector = connector(&server.ca_file);
    // An idle keep-alive connection, and one in the middle of sending its request.
    let mut idle = tls(&connector, addr).await;
    let mut busy = tls(&connector, addr).await;
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);
    // `Expect: 100-continue`: the server's "100 Continue" shows it has read the head and
    // the handler is reading the body, so the request is in flight when shutdown begins
    // (a head not yet read would make the connection idle).
    let head = head(addr, body.len()).replace("\r\n\r\n", "\r\nExpect: 100-continue\r\n\r\n");
    busy.write_all(head.as_bytes()).await.unwrap();
    busy.flush().await.unwrap();
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("100 Continue\r\n\r\n") {
        let mut buf = [0u8; 256];
        let n = tokio::time::timeout(Duration::from_secs(10), busy.read(&mut buf))
            .await
            .expect("100 Continue in time")
            .unwrap();
        assert!(n > 0, "closed before 100 Continue: {seen:?}");
        seen.extend_from_slice(&buf[..n]);
    }
    busy.write_all(first).await.unwrap();
    busy.flush().await.unwrap();

    let stopping = tokio::spawn(server.shutdown());
    until_refused(addr).await;
    // The idle connection is closed at once; the shutdown waits for the busy one.
    let (_, closed) = read_until_closed(&mut idle, Instant::now() + Duration::from_secs(10)).await;
    assert!(closed, "the idle connection was not closed");
    assert!(
        !stopping.is_finished(),
        "shutdown did not wait for the request in flight"
    );

    busy.write_all(rest).await.unwrap();
    busy.flush().await.unwrap();
    let (raw, closed) =
        read_until_closed(&mut busy, Instant::now() + Duration::from_secs(10)).await;
    let (status, _, answer) = parse_response(&raw);
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("\"prt\""), "{answer}");
    assert!(closed, "the connection stayed open after its answer");
    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .expect("shutdown finished")
        .unwrap();

    let after = h.counts().await;
    assert_eq!(
        after.prts,
        before.prts + 1,
        "the answered sign-in is not stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sign_in_acknowledged_under_load_is_stored() {
    let mut h = Harness::start().await;
    let mut users = Vec::new();
    for i in 0..4 {
        users.push(enrolled(&h, &format!("user{i}@example.com"), rsa_key(i)).await);
    }
    let before = h.counts().await;
    let server = h.server.take().unwrap();
    let harness = Arc::new(h);
    let users = Arc::new(users);
    let acked = Arc::new(AtomicUsize::new(0));
    let mut loops = Vec::new();
    for worker in 0..16 {
        let (h, users, acked) = (harness.clone(), users.clone(), acked.clone());
        loops.push(tokio::spawn(async move {
            let u = &users[worker % users.len()];
            loop {
                let nonce = h
                    .client
                    .post(format!("{}/v1/nonce", h.url))
                    .json(&serde_json::json!({"purpose": "signin"}))
                    .send()
                    .await;
                // Once the service has stopped, the loop ends at its first refusal.
                let Ok(nonce) = nonce else { return };
                let Ok(nonce) = nonce.json::<serde_json::Value>().await else {
                    return;
                };
                let Some(nonce) = nonce["nonce"].as_str() else {
                    return;
                };
                let body = h.signin_body_with(&u.device, &u.upn, &u.key.key_id(), &u.key, nonce);
                match h
                    .client
                    .post(format!("{}/v1/signin", h.url))
                    .json(&body)
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 200 => {
                        // Acknowledged only once the whole answer has arrived.
                        if r.bytes().await.is_ok() {
                            acked.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    Ok(r) => panic!("a sign-in was refused: {}", r.status()),
                    Err(_) => return,
                }
            }
        }));
    }
    // Shut down in the middle of the load.
    while acked.load(Ordering::SeqCst) < 100 {
        tokio::task::yield_now().await;
    }
    tokio::time::timeout(Duration::from_secs(30), server.shutdown())
        .await
        .expect("shutdown finished");
    for l in loops {
        l.await.unwrap();
    }
    let acked = acked.load(Ordering::SeqCst);
    let after = harness.counts().await;
    assert!(acked >= 100);
    assert!(
        after.prts - before.prts >= acked as i64,
        "{acked} sign-ins acknowledged, {} stored",
        after.prts - before.prts
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_never_completes_holds_the_shutdown_only_for_its_timeout() {
    let mut h = Harness::start_with(|c| {
        c.connections = ConnectionLimits {
            shutdown_timeout: Duration::from_millis(300),
            body_timeout: Duration::from_secs(120),
            ..ConnectionLimits::default()
        }
    })
    .await;
    let server = h.server.take().unwrap();
    let addr = server.local_addr;
    let mut stuck = tls(&connector(&server.ca_file), addr).await;
    stuck.write_all(head(addr, 1000).as_bytes()).await.unwrap();
    stuck.write_all(b"{\"upn\":").await.unwrap();
    stuck.flush().await.unwrap();
    // The body timeout (two minutes) would hold it far longer than the shutdown timeout.
    tokio::time::timeout(Duration::from_secs(20), server.shutdown())
        .await
        .expect("the shutdown timeout did not bound the wait");
}
