//! TLS to PostgreSQL with the real binaries: a cluster that takes TCP connections over TLS
//! only (latchkey-pg-harness `start_tls`). `sslmode=verify-full` with the cluster's CA as
//! `sslrootcert` serves the administration commands and the service; an unrelated CA, or
//! no TLS at all, is refused with the database's code and nothing is created.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use latchkey_e2e::{bin, Output, World};
use latchkey_pg_harness::{foreign_ca, PgCluster};

/// `latchkeyd ARGS --data-dir DIR --database URL`.
fn admin_on(dir: &std::path::Path, url: &str, args: &[&str]) -> Output {
    let mut all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    all.extend(["--data-dir".to_owned(), dir.display().to_string()]);
    all.extend(["--database".to_owned(), url.to_owned()]);
    latchkey_e2e::run(&bin("latchkeyd"), &all, "", &[])
}

#[test]
fn tls_to_postgres_is_verified_and_required() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cluster = runtime.block_on(PgCluster::start_tls()).unwrap();
    let ca = cluster.tls_ca_file().expect("the cluster's CA file");
    let scratch = tempfile::tempdir().unwrap();
    let foreign = foreign_ca(scratch.path()).unwrap();
    let port = cluster.port();
    let url = |params: &str| format!("postgres://postgres@localhost:{port}/latchkey?{params}");
    let verified = url(&format!("sslmode=verify-full&sslrootcert={}", ca.display()));

    // Refused before anything is created: an unrelated CA, and no TLS.
    let refused_dir = scratch.path().join("refused");
    let wrong_root = url(&format!(
        "sslmode=verify-full&sslrootcert={}",
        foreign.display()
    ));
    for (bad, says) in [
        (wrong_root.as_str(), "certificate"),
        (&url("sslmode=disable"), "pg_hba"),
    ] {
        let out = admin_on(&refused_dir, bad, &["init"]);
        out.assert_error("LK-SRV-006");
        assert!(out.stderr.contains(says), "{bad}: {}", out.stderr);
    }

    // Verified TLS: the administration commands and the service.
    let world = World::on_database(&verified);
    world.add_user("alice@example.com", "correct horse battery");
    let users = world
        .admin(&["--json", "user", "list"], "")
        .assert_ok()
        .json();
    assert_eq!(users[0]["upn"], "alice@example.com");
    let svc = world.start_service();
    let ca_pem = std::fs::read(world.ca_file()).unwrap();
    let client = reqwest::blocking::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca_pem).unwrap())
        .build()
        .unwrap();
    let ready = client.get(format!("{}/readyz", svc.url)).send().unwrap();
    assert_eq!(
        ready.status(),
        200,
        "the service reaches its database over TLS"
    );
    // The service on the unrelated CA does not start.
    let out = latchkey_e2e::run(
        &bin("latchkeyd"),
        &[
            "serve".to_owned(),
            "--data-dir".to_owned(),
            world.data_dir().display().to_string(),
            "--listen".to_owned(),
            "127.0.0.1:0".to_owned(),
            "--database".to_owned(),
            wrong_root.clone(),
        ],
        "",
        &[],
    );
    out.assert_error("LK-SRV-006");
    drop(svc);
}
