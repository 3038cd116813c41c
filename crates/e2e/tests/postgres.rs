//! The real binaries on PostgreSQL: a tenant moved from its SQLite data directory with
//! `latchkeyd storage copy`, whose devices then sign in with no re-join; and three
//! `latchkeyd` replicas behind a round-robin balancer serving the real `latchkey` CLI,
//! one killed with SIGKILL in the middle of a run of sign-ins, losing none that was
//! acknowledged.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use latchkey_e2e::{Balancer, RequestBalancer, Service, World};

const PIN: &str = "482916";
const PASSWORD: &str = "correct horse battery";

/// A fresh database on the test process's throwaway PostgreSQL cluster.
fn fresh_database(prefix: &str) -> String {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(latchkey_pg_harness::PgCluster::fresh_database(prefix))
        .expect("a fresh database on the shared PostgreSQL cluster")
}

/// Joins `device` at `server` as `upn` and sets Hello up with [`PIN`].
fn enrol(world: &World, server: &str, device: &str, upn: &str, otp: &str) {
    let ca = world.ca_file().display().to_string();
    world
        .device(
            device,
            &[
                "join",
                "--server",
                server,
                "--user",
                upn,
                "--password-stdin",
                "--otp",
                otp,
                "--ca",
                &ca,
                "--join-type",
                "cloud",
            ],
            &format!("{PASSWORD}\n"),
        )
        .assert_ok();
    world
        .device(
            device,
            &["hello", "setup", "--password-stdin", "--pin-stdin"],
            &format!("{PASSWORD}\n{PIN}\n"),
        )
        .assert_ok();
}

fn signin(world: &World, device: &str) -> latchkey_e2e::Output {
    world.device(device, &["signin", "--pin-stdin"], &format!("{PIN}\n"))
}

/// The sign-ins recorded as successful in the audit trail.
fn signins_in_audit(world: &World) -> usize {
    let out = world
        .admin(&["audit", "--format", "jsonl", "--event", "signin"], "")
        .assert_ok()
        .stdout
        .clone();
    out.lines()
        .filter(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["outcome"] == "success"
        })
        .count()
}

#[test]
fn storage_copy_moves_the_tenant_and_its_devices_sign_in_without_rejoining() {
    let world = World::new();
    let svc = world.start_service();
    let alice = world.add_user("alice@example.com", PASSWORD);
    enrol(
        &world,
        &svc.url,
        "laptop",
        "alice@example.com",
        &alice.fresh(),
    );
    signin(&world, "laptop").assert_ok();
    world
        .admin(&["resource", "add", "api://payroll"], "")
        .assert_ok();
    world
        .device("laptop", &["token", "--audience", "api://payroll"], "")
        .assert_ok();
    let keys_before = world
        .admin(&["key", "list", "--json"], "")
        .assert_ok()
        .json();
    let port = svc.addr().rsplit(':').next().unwrap().to_owned();
    assert!(svc.terminate().success());

    let url = fresh_database("copy_e2e");
    let from = format!("sqlite:{}", world.data_dir().display());
    world
        .admin(&["storage", "copy", "--from", &from, "--to", &url], "")
        .assert_ok();

    // The same data directory (ca.pem, the key file) and port, now on PostgreSQL.
    let admin_pg = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--database", url.as_str()]);
        world.admin(&all, "")
    };
    let svc = Service::start_on_with(
        &world.data_dir(),
        &format!("127.0.0.1:{port}"),
        &["--database", &url],
    );
    assert_eq!(
        admin_pg(&["key", "list", "--json"]).assert_ok().json(),
        keys_before,
        "the Hello keys moved as they were"
    );
    // The device signs in and gets tokens as before: no re-join, no new setup.
    signin(&world, "laptop").assert_ok();
    world
        .device("laptop", &["token", "--audience", "api://payroll"], "")
        .assert_ok();
    drop(svc);
}

/// The real CLI behind a balancer of requests: its sign-in's nonce comes from replica 0,
/// the sign-in itself is made at replica 1, and the token for an audience comes from
/// replica 2; after a key delete through the administration, the sign-in is refused at
/// each replica in turn.
#[test]
fn the_cli_signs_in_across_three_replicas_one_step_at_each() {
    let url = fresh_database("replica_steps");
    let world = World::on_database(&url);
    world.admin(&["cert", "authority", "init"], "").assert_ok();
    let balancer = RequestBalancer::start_routed(
        &world,
        3,
        &[("/v1/nonce", 0), ("/v1/signin", 1), ("/v1/token", 2)],
    );
    let server = balancer.url();
    // Replicas share one public URL: the issuer of every token, whichever replica signs.
    let mut args = world.database_args();
    args.extend(["--public-url", server.as_str()]);
    // Each replica on a port of its own (its URL, as it prints it, is the public one).
    let _replicas: Vec<Service> = (0..3)
        .map(|i| {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap()
                .port();
            let replica =
                Service::start_on_with(&world.data_dir(), &format!("127.0.0.1:{port}"), &args);
            balancer.upstream(i, &format!("https://localhost:{port}"));
            replica
        })
        .collect();
    let alice = world.add_user("alice@example.com", PASSWORD);
    world
        .admin(&["resource", "add", "api://payroll"], "")
        .assert_ok();
    enrol(
        &world,
        &server,
        "laptop",
        "alice@example.com",
        &alice.fresh(),
    );
    let before = balancer.hits();
    signin(&world, "laptop").assert_ok();
    let after = balancer.hits();
    assert!(
        after[0] > before[0] && after[1] > before[1],
        "the nonce at 0, the sign-in at 1: {before:?} -> {after:?}"
    );
    let token = world
        .device("laptop", &["token", "--audience", "api://payroll"], "")
        .assert_ok()
        .stdout
        .clone();
    assert!(!token.trim().is_empty(), "a token was printed");
    let last = balancer.hits();
    assert!(last[2] > after[2], "the token at 2: {after:?} -> {last:?}");

    let keys = world
        .admin(&["key", "list", "--json"], "")
        .assert_ok()
        .json();
    let key_id = keys[0]["key_id"].as_str().unwrap().to_owned();
    world
        .admin(&["key", "delete", &key_id, "--yes"], "")
        .assert_ok();
    for replica in 0..3 {
        balancer.route("/v1/signin", replica);
        let seen = balancer.hits();
        signin(&world, "laptop").assert_error("LK-KEY-001");
        assert!(
            balancer.hits()[replica] > seen[replica],
            "the refused sign-in went to replica {replica}"
        );
    }
}

#[test]
fn three_replicas_behind_a_balancer_serve_the_cli_and_survive_a_kill() {
    let url = fresh_database("replicas_e2e");
    let world = World::on_database(&url);
    assert!(
        !world.data_dir().join("latchkey.db").exists(),
        "no SQLite database on PostgreSQL"
    );
    let replicas: Vec<Service> = (0..3).map(|_| world.start_service()).collect();
    let balancer = Balancer::start(replicas.iter().map(Service::addr).collect());
    let server = balancer.url();

    let alice = world.add_user("alice@example.com", PASSWORD);
    world
        .admin(&["resource", "add", "api://payroll"], "")
        .assert_ok();
    // Each command is its own process and connection: join, setup, sign-in and token
    // land on different replicas.
    enrol(
        &world,
        &server,
        "laptop",
        "alice@example.com",
        &alice.fresh(),
    );
    signin(&world, "laptop").assert_ok();
    world
        .device("laptop", &["token", "--audience", "api://payroll"], "")
        .assert_ok();
    let hits = balancer.hits();
    assert!(
        hits.iter().all(|h| *h > 0),
        "every replica served: {hits:?}"
    );

    // A key deleted through the administration is refused at whichever replica.
    let keys = world
        .admin(&["key", "list", "--json"], "")
        .assert_ok()
        .json();
    let key_id = keys[0]["key_id"].as_str().unwrap().to_owned();
    world
        .admin(&["key", "delete", &key_id, "--yes"], "")
        .assert_ok();
    for _ in 0..3 {
        signin(&world, "laptop").assert_error("LK-KEY-001");
    }

    // A new key, then sign-ins while one replica is killed with SIGKILL half-way.
    world
        .device(
            "laptop",
            &[
                "hello",
                "setup",
                "--password-stdin",
                "--pin-stdin",
                "--otp",
                &alice.fresh(),
            ],
            &format!("{PASSWORD}\n{PIN}\n"),
        )
        .assert_ok();
    let before = signins_in_audit(&world);
    let mut replicas = replicas.into_iter();
    let (first, second, third) = (
        replicas.next().unwrap(),
        replicas.next().unwrap(),
        replicas.next().unwrap(),
    );
    let mut acknowledged = 0;
    let mut attempts = 0;
    let mut killed = Some(second);
    for i in 0..12 {
        if i == 6 {
            killed.take().unwrap().kill();
        }
        attempts += 1;
        if signin(&world, "laptop").code == 0 {
            acknowledged += 1;
        }
    }
    assert!(
        acknowledged >= 10,
        "{acknowledged} of {attempts} sign-ins answered"
    );
    let recorded = signins_in_audit(&world) - before;
    assert!(
        (acknowledged..=attempts).contains(&recorded),
        "every acknowledged sign-in is stored: {acknowledged} acknowledged, {recorded} recorded"
    );
    drop((first, third));
}
