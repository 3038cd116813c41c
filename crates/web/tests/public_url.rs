//! The default public URL of a service on a loopback address names `localhost` (an IP
//! address is not a valid WebAuthn RP ID), and the TLS certificate it serves names
//! `localhost` too: a client that trusts only the tenant CA connects by that name.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use common::*;
use latchkey_web::seckey::RelyingParty;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loopback_service_is_at_localhost_and_its_certificate_says_so() {
    let h = Harness::web().await;
    let port = h.server.as_ref().unwrap().local_addr.port();
    assert_eq!(h.url, format!("https://localhost:{port}"));
    // The harness client trusts only the tenant CA and checks the name: the request only
    // succeeds when the certificate names `localhost`.
    let (status, body) = h.get("/.well-known/openid-configuration").await;
    assert_eq!(status, 200, "{body}");
    let discovery: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(discovery["issuer"], h.url.as_str());
    let rp = RelyingParty::from_issuer(&h.url);
    assert_eq!(rp.rp_id, "localhost");
    assert_eq!(rp.origin, h.url);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ipv6_loopback_is_localhost_too_and_a_public_url_wins() {
    assert_eq!(
        latchkey_server::default_host("::1".parse().unwrap()),
        "localhost"
    );
    assert_eq!(
        latchkey_server::default_host("127.0.0.2".parse().unwrap()),
        "localhost"
    );
    assert_eq!(
        latchkey_server::default_host("192.0.2.7".parse().unwrap()),
        "192.0.2.7"
    );
    assert_eq!(
        latchkey_server::default_host("2001:db8::1".parse().unwrap()),
        "[2001:db8::1]"
    );
    let h = Harness::start_with(|c| c.public_url = Some("https://id.example.test/".into())).await;
    assert_eq!(
        h.server.as_ref().unwrap().base_url,
        "https://id.example.test"
    );
}
