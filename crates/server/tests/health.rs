//! `GET /healthz` and `GET /readyz` over real HTTP: liveness always, readiness only while
//! the database answers (503 `LK-SRV-006` with Retry-After otherwise, then ready again by
//! itself), neither naming anything of the tenant.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_database_and_liveness_does_not() {
    let h = Harness::start().await;
    let (status, body) = h.get("/healthz").await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    let (status, body) = h.get("/readyz").await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ready"}"#));
    assert!(!body.contains(&h.tenant_id));

    // The database stops answering the readiness query: a table it reads is gone.
    h.sql("ALTER TABLE tenants RENAME TO tenants_away").await;
    let response = h
        .client
        .get(format!("{}/readyz", h.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap()),
        Some("5")
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "LK-SRV-006");
    assert!(
        !body["message"].as_str().unwrap().contains("tenants"),
        "no database detail is sent: {body}"
    );
    assert_eq!(h.get("/healthz").await.0, 200, "still alive");

    // Back: ready again, with nothing restarted.
    h.sql("ALTER TABLE tenants_away RENAME TO tenants").await;
    assert_eq!(h.get("/readyz").await.0, 200);
}
