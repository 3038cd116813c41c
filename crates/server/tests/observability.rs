//! The request log lines and the metrics, over real HTTPS (the service) and plain HTTP
//! (the metrics listener).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use common::log::captured_log;
use common::*;
use latchkey_proto::proof::Purpose;
use serde_json::json;
use tokio::io::AsyncWriteExt;

/// The request lines (target `latchkey::request`) logged so far.
fn request_lines() -> Vec<String> {
    let log = captured_log();
    let text = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
    text.lines()
        .filter(|l| l.contains("latchkey::request:"))
        .map(str::to_owned)
        .collect()
}

/// The one request line of `id`.
fn line_of(id: &str) -> String {
    let needle = format!("request_id={id} ");
    let lines: Vec<String> = request_lines()
        .into_iter()
        .filter(|l| l.contains(&needle))
        .collect();
    assert_eq!(lines.len(), 1, "one line for {id}: {lines:#?}");
    lines.into_iter().next().unwrap()
}

/// GET `path` with `X-Request-Id: id`; the status and the answered request id.
async fn get_with_id(h: &Harness, path: &str, id: &str) -> (u16, String) {
    let r = h
        .client
        .get(format!("{}{path}", h.url))
        .header("x-request-id", id)
        .send()
        .await
        .unwrap();
    let answered = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    (r.status().as_u16(), answered)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_gets_one_line_with_its_fields_and_never_the_raw_path() {
    captured_log();
    let h = Harness::start().await;

    // A success: every field, the incoming id kept and answered.
    let (status, answered) = get_with_id(&h, "/v1/tenant?secret=hunter2", "obs-ok-1").await;
    assert_eq!((status, answered.as_str()), (200, "obs-ok-1"));
    let line = line_of("obs-ok-1");
    assert!(line.contains(" INFO "), "{line}");
    for field in [
        "method=GET",
        "route=/v1/tenant",
        "status=200",
        &format!("tenant={}", h.tenant_id),
    ] {
        assert!(line.contains(field), "{field} in {line}");
    }
    assert!(line.contains("latency_ms="), "{line}");
    assert!(!line.contains("code="), "no code on a success: {line}");
    assert!(!line.contains("hunter2"), "no query string: {line}");

    // A path parameter: the template, not the value.
    let (status, _) = get_with_id(&h, "/pki/ocsp/MEMzQTBAMD4wPDA6BgkrDgMCGgUA", "obs-ocsp-1").await;
    let line = line_of("obs-ocsp-1");
    assert!(line.contains(&format!("status={status}")), "{line}");
    assert!(line.contains("route=/pki/ocsp/{*request}"), "{line}");
    assert!(!line.contains("MEMzQTBA"), "{line}");

    // An unknown path: a fixed word and the error's code.
    let (status, _) = get_with_id(&h, "/no/such/thing-4242", "obs-404-1").await;
    assert_eq!(status, 404);
    let line = line_of("obs-404-1");
    assert!(line.contains("route=unmatched"), "{line}");
    assert!(line.contains("code=LK-REQ-004"), "{line}");
    assert!(line.contains("status=404"), "{line}");
    assert!(!line.contains("4242"), "{line}");

    // An error answer from a handler carries its LK code: a sign-in with an unknown key.
    let e = enrolled(&h, "obs@example.com", rsa_key(0)).await;
    let mut body = h
        .signin_body(&e.device, &e.upn, &"ab".repeat(32), &e.key)
        .await;
    body["key_id"] = json!("ab".repeat(32));
    let r = h
        .client
        .post(format!("{}/v1/signin", h.url))
        .header("x-request-id", "obs-signin-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let answer: serde_json::Value = r.json().await.unwrap();
    assert!(status >= 400, "{answer}");
    let code = answer["code"].as_str().unwrap();
    let line = line_of("obs-signin-1");
    assert!(line.contains(&format!("code={code}")), "{line}");
    assert!(line.contains("route=/v1/signin"), "{line}");
    assert!(line.contains("method=POST"), "{line}");
    assert!(line.contains(&format!("status={status}")), "{line}");

    // A fresh id when none (or a malformed one) is sent; it is in the header and the line.
    for sent in [None, Some("has space"), Some(&*"x".repeat(65))] {
        let mut req = h.client.get(format!("{}/healthz", h.url));
        if let Some(v) = sent {
            req = req.header("x-request-id", v);
        }
        let r = req.send().await.unwrap();
        let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_eq!(id.len(), 16, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        let line = line_of(&id);
        assert!(line.contains("route=/healthz"), "{line}");
    }

    // A head hyper cannot parse is answered by the connection layer, and logged too.
    let before = request_lines()
        .iter()
        .filter(|l| l.contains("route=unparsed"))
        .count();
    let server = h.server.as_ref().unwrap();
    let connector = common::raw::connector(&server.ca_file);
    let mut stream = common::raw::tls(&connector, server.local_addr).await;
    stream
        .write_all(b"GET /v1/tenant HTTP/1.1\r\nbad header line\r\n\r\n")
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let (raw, _) = common::raw::read_until_closed(&mut stream, deadline).await;
    let (status, _, _) = common::raw::parse_response(&raw);
    assert_eq!(status, 400);
    let unparsed: Vec<String> = request_lines()
        .into_iter()
        .filter(|l| l.contains("route=unparsed"))
        .collect();
    assert_eq!(unparsed.len(), before + 1, "{unparsed:#?}");
    let line = unparsed.last().unwrap();
    assert!(line.contains("code=LK-HTTP-005"), "{line}");
    assert!(line.contains("method=GET"), "{line}");
    assert!(line.contains("status=400"), "{line}");

    // The start-up line.
    let log = captured_log();
    let text = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
    let started = text
        .lines()
        .find(|l| l.contains("service started") && l.contains(&h.tenant_id))
        .unwrap_or_else(|| panic!("no start-up line"))
        .to_owned();
    assert!(started.contains(&format!("url={}", h.url)), "{started}");
    assert!(started.contains("version="), "{started}");
    drop(text);
    let mut h = h;
    h.server.take().unwrap().shutdown().await;
    let text = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
    assert!(text.contains("service stopped"), "no shutdown line");
}

/// The metrics as `name{labels}` → value.
async fn scrape(addr: SocketAddr) -> BTreeMap<String, f64> {
    let r = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    let text = r.text().await.unwrap();
    assert!(text.trim_end().ends_with("# EOF"), "{text}");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            (series.to_owned(), value.parse::<f64>().unwrap())
        })
        .collect()
}

fn get(m: &BTreeMap<String, f64>, series: &str) -> f64 {
    m.get(series).copied().unwrap_or(0.0)
}

/// How much each of `series` moved from `before` to `after`.
fn moved(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>, series: &str) -> f64 {
    get(after, series) - get(before, series)
}

/// Every series that changed, with its change.
fn changes(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> Vec<(String, f64)> {
    after
        .iter()
        .filter(|(k, v)| get(before, k) != **v)
        .map(|(k, v)| (k.clone(), v - get(before, k)))
        .collect()
}

const OUTCOME_COUNTERS: [&str; 5] = [
    "latchkey_signins_total",
    "latchkey_key_registrations_total",
    "latchkey_device_joins_total",
    "latchkey_token_issues_total",
    "latchkey_nonce_refusals_total",
];

/// The outcome counters that moved (not the HTTP, pool and writer series).
fn outcome_changes(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
) -> Vec<(String, f64)> {
    changes(before, after)
        .into_iter()
        .filter(|(k, _)| {
            OUTCOME_COUNTERS
                .iter()
                .any(|c| k.starts_with(&format!("{c}{{")))
        })
        .collect()
}

fn one(series: &str) -> Vec<(String, f64)> {
    vec![(series.to_owned(), 1.0)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_move_by_exactly_the_right_amounts_and_labels_stay_bounded() {
    let h = Harness::start_with(|c| c.metrics_listen = Some("127.0.0.1:0".parse().unwrap())).await;
    let addr = h.server.as_ref().unwrap().metrics_addr.unwrap();
    assert!(addr.ip().is_loopback() && addr.port() != 0);
    let m0 = scrape(addr).await;
    assert_eq!(
        get(
            &m0,
            &format!(
                "latchkey_build_info{{version=\"{}\"}}",
                env!("CARGO_PKG_VERSION")
            )
        ),
        1.0
    );
    assert!(
        get(&m0, "latchkey_db_pool_max_connections") >= 1.0,
        "{m0:#?}"
    );
    assert!(m0.contains_key("latchkey_db_pool_connections"));
    assert!(m0.contains_key("latchkey_db_pool_idle_connections"));
    assert_eq!(get(&m0, "latchkey_signin_writer_queue_depth"), 0.0);

    // A join: success, then a refusal without a token.
    let secret = h.add_user("m@example.com").await;
    let token = h.mfa_token("m@example.com", &secret).await;
    let a = scrape(addr).await;
    let mut device = Device::new();
    let (status, body) = device.join(&h, &token, "cloud").await;
    assert_eq!(status, 200, "{body}");
    device.id = body["device_id"].as_str().unwrap().to_owned();
    let b = scrape(addr).await;
    assert_eq!(
        outcome_changes(&a, &b),
        one("latchkey_device_joins_total{outcome=\"success\",code=\"\"}")
    );
    let (status, body) = Device::new().join(&h, "not-a-token", "cloud").await;
    assert!(status >= 400);
    let code = body["code"].as_str().unwrap().to_owned();
    let c = scrape(addr).await;
    assert_eq!(
        outcome_changes(&b, &c),
        one(&format!(
            "latchkey_device_joins_total{{outcome=\"failure\",code=\"{code}\"}}"
        ))
    );
    assert_eq!(
        moved(&b, &c, "latchkey_http_requests_total{route=\"/v1/devices/join\",method=\"POST\",status=\"200\"}"),
        0.0
    );
    assert_eq!(
        moved(
            &b,
            &c,
            &format!(
                "latchkey_http_requests_total{{route=\"/v1/devices/join\",method=\"POST\",status=\"{status}\"}}"
            )
        ),
        1.0
    );

    // A registration: a refusal (the key's signature over another message), then success.
    let key = rsa_key(1);
    let pwd = h.pwd_token("m@example.com").await;
    let nonce = h.nonce(Purpose::RegisterKey).await;
    let body = json!({
        "device_id": device.id,
        "upn": "m@example.com",
        "nonce": nonce,
        "public_key": key.wire(),
        "device_signature": device.sign(b"something else"),
        "key_signature": key.sign(b"something else"),
    });
    let before = scrape(addr).await;
    let refused = h.post("/v1/keys", &body, Some(&pwd)).await;
    assert!(refused.0 >= 400, "{refused:?}");
    let code = refused.1["code"].as_str().unwrap().to_owned();
    let after = scrape(addr).await;
    assert_eq!(
        outcome_changes(&before, &after),
        one(&format!(
            "latchkey_key_registrations_total{{outcome=\"failure\",code=\"{code}\"}}"
        ))
    );
    let (status, body) = h.register(&device, "m@example.com", &key, Some(&pwd)).await;
    assert_eq!(status, 200, "{body}");
    let after2 = scrape(addr).await;
    assert_eq!(
        outcome_changes(&after, &after2),
        one("latchkey_key_registrations_total{outcome=\"success\",code=\"\"}")
    );

    // A sign-in, then its replay: a failure with the nonce's code, also a nonce refusal.
    let body = h
        .signin_body(&device, "m@example.com", &key.key_id(), &key)
        .await;
    let before = scrape(addr).await;
    let (status, signed) = h.post("/v1/signin", &body, None).await;
    assert_eq!(status, 200, "{signed}");
    let after = scrape(addr).await;
    assert_eq!(
        outcome_changes(&before, &after),
        one("latchkey_signins_total{outcome=\"success\",code=\"\"}")
    );
    // SQLite's sign-in writer takes the write; PostgreSQL has none (its figures stay 0).
    let writer_writes = if common::on_postgres() { 0.0 } else { 1.0 };
    assert_eq!(
        moved(&before, &after, "latchkey_signin_writer_writes_total"),
        writer_writes,
        "{:#?}",
        changes(&before, &after)
    );
    assert_eq!(
        moved(&before, &after, "latchkey_signin_writer_batches_total"),
        writer_writes
    );
    assert_eq!(
        moved(
            &before,
            &after,
            "latchkey_http_request_duration_seconds_count{route=\"/v1/signin\"}"
        ),
        1.0
    );
    let replay = h.post("/v1/signin", &body, None).await;
    assert_error(&replay, "LK-NONCE-003");
    let after2 = scrape(addr).await;
    let want = vec![
        (
            "latchkey_nonce_refusals_total{code=\"LK-NONCE-003\"}".to_owned(),
            1.0,
        ),
        (
            "latchkey_signins_total{outcome=\"failure\",code=\"LK-NONCE-003\"}".to_owned(),
            1.0,
        ),
    ];

    assert_eq!(outcome_changes(&after, &after2), want);

    // A PRT renewal counts as a sign-in.
    let prt = signed["prt"].as_str().unwrap().to_owned();
    let (status, renewed) = h.renew(&device, &prt).await;
    assert_eq!(status, 200, "{renewed}");
    let after3 = scrape(addr).await;
    assert_eq!(
        outcome_changes(&after2, &after3),
        one("latchkey_signins_total{outcome=\"success\",code=\"\"}")
    );
    let prt = renewed["prt"].as_str().unwrap_or(&prt).to_owned();

    // A token: success, then a refusal for an unknown audience.
    h.add_resource("api://metrics").await;
    let (status, body) = h.token(&device, &prt, "api://metrics").await;
    assert_eq!(status, 200, "{body}");
    let after4 = scrape(addr).await;
    assert_eq!(
        outcome_changes(&after3, &after4),
        one("latchkey_token_issues_total{outcome=\"success\",code=\"\"}")
    );
    let refused = h.token(&device, &prt, "api://nobody").await;
    assert_error(&refused, "LK-TOKEN-001");
    let after5 = scrape(addr).await;
    assert_eq!(
        outcome_changes(&after4, &after5),
        one("latchkey_token_issues_total{outcome=\"failure\",code=\"LK-TOKEN-001\"}")
    );

    // Unknown paths and odd methods add no new label values.
    let routes = |m: &BTreeMap<String, f64>| {
        m.keys()
            .filter(|k| k.starts_with("latchkey_http_requests_total{"))
            .cloned()
            .collect::<Vec<_>>()
    };
    for path in ["/nope-1/abc", "/nope-2/def?x=1"] {
        let (status, _) = h.get(path).await;
        assert_eq!(status, 404);
    }
    let first = scrape(addr).await;
    for path in ["/nope-3/ghi", "/v1/keys/../../etc", "/metrics"] {
        let (status, _) = h.get(path).await;
        assert_eq!(status, 404, "{path}");
    }
    let brew = reqwest::Method::from_bytes(b"BREW").unwrap();
    let r = h
        .client
        .request(brew, format!("{}/v1/tenant", h.url))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    let second = scrape(addr).await;
    let new: Vec<String> = routes(&second)
        .into_iter()
        .filter(|k| !routes(&first).contains(k))
        .collect();
    assert!(
        new.iter().all(|k| k.contains("method=\"OTHER\"")),
        "only the bounded OTHER method may be new: {new:#?}"
    );
    assert_eq!(
        moved(
            &first,
            &second,
            "latchkey_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"}"
        ),
        3.0
    );
    for k in second.keys() {
        for raw in ["nope", "abc", "ghi", "etc", "BREW", "x=1"] {
            assert!(!k.contains(raw), "{raw} in {k}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_only_up_when_configured_and_never_on_the_public_listener() {
    let h = Harness::start().await;
    assert!(h.server.as_ref().unwrap().metrics_addr.is_none());
    let (status, body) = h.get("/metrics").await;
    assert_eq!(status, 404);
    assert!(body.contains("LK-REQ-004"), "{body}");
    assert!(!body.contains("latchkey_"), "{body}");

    let h = Harness::start_with(|c| c.metrics_listen = Some("127.0.0.1:0".parse().unwrap())).await;
    let addr = h.server.as_ref().unwrap().metrics_addr.unwrap();
    let (status, _) = h.get("/metrics").await;
    assert_eq!(
        status, 404,
        "the public listener answers 404 even with metrics on"
    );
    // The metrics listener answers only GET /metrics.
    let r = reqwest::get(format!("http://{addr}/v1/tenant"))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let m = scrape(addr).await;
    assert!(m.contains_key("latchkey_db_pool_connections"));
    // After shutdown the metrics listener is closed as well.
    let mut h = h;
    h.server.take().unwrap().shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
