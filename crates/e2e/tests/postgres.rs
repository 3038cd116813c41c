//! The real binaries on PostgreSQL: a tenant moved from its SQLite data directory with
//! `latchkeyd storage copy`, whose devices then sign in with no re-join; three `latchkeyd`
//! replicas behind a balancer serving the real `latchkey` CLI; and one of three replicas
//! killed with SIGKILL in the middle of a concurrent load of sign-ins and key
//! registrations, losing none that was acknowledged (each checked by its id afterwards).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use latchkey_e2e::signin_load::{
    self, Acked, Api, Failure, HelloDevice, LoadOutcome, Op, Purpose, Registration,
};
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

/// `latchkey signin` on `device` with [`PIN`].
/// Alice, her device `laptop` joined at `server` with Hello set up, and the resource
/// `api://payroll`; returns her TOTP generator.
fn alice_on_her_laptop(world: &World, server: &str) -> latchkey_e2e::Totp {
    let alice = world.add_user("alice@example.com", PASSWORD);
    world
        .admin(&["resource", "add", "api://payroll"], "")
        .assert_ok();
    enrol(world, server, "laptop", "alice@example.com", &alice.fresh());
    alice
}

fn signin(world: &World, device: &str) -> latchkey_e2e::Output {
    world.device(device, &["signin", "--pin-stdin"], &format!("{PIN}\n"))
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
    alice_on_her_laptop(&world, &server);
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

/// Three replicas behind the TCP balancer serve the real CLI (join, setup, sign-in and
/// token land on different replicas), and a key deleted through the administration is
/// refused at each.
#[test]
fn three_replicas_behind_a_balancer_serve_the_cli() {
    let url = fresh_database("replicas_e2e");
    let world = World::on_database(&url);
    assert!(
        !world.data_dir().join("latchkey.db").exists(),
        "no SQLite database on PostgreSQL"
    );
    let replicas: Vec<Service> = (0..3).map(|_| world.start_service()).collect();
    let balancer = Balancer::start(replicas.iter().map(Service::addr).collect());
    let server = balancer.url();

    // Each command is its own process and connection: join, setup, sign-in and token
    // land on different replicas.
    alice_on_her_laptop(&world, &server);
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
}

/// Devices that sign in during the load of
/// [`a_replica_killed_mid_load_loses_no_acknowledged_signin_or_registration`].
const LOAD_DEVICES: usize = 3;
/// Threads that make the load's operations.
const LOAD_THREADS: usize = 6;
/// Operations of the load: every sixth a key registration, the others sign-ins of the
/// devices in turn.
const LOAD_OPERATIONS: usize = 72;
/// Registrations among them, each by a user of its own.
const LOAD_REGISTRATIONS: usize = LOAD_OPERATIONS / 6;
/// The audience the load's tokens are checked with.
const AUDIENCE: &str = "api://payroll";

/// Three replicas on one database behind the TCP balancer, each request on a new
/// connection (so on the next replica); six threads make 72 operations over HTTPS: 60 Hello
/// sign-ins of three devices joined and set up with the real CLI, and 12 registrations of
/// other users' keys on those devices. Replica 1 is killed with SIGKILL when half of them
/// are acknowledged. Then every acknowledged sign-in's primary refresh token is in `prts`
/// with its audit line and still gets a token, every acknowledged key is registered,
/// audited and signs in, whatever failed failed for want of an answer (never a 200), and
/// the real CLI still signs in on the two replicas left.
#[test]
fn a_replica_killed_mid_load_loses_no_acknowledged_signin_or_registration() {
    let url = fresh_database("replica_kill");
    let world = World::on_database(&url);
    // The replicas' ports first: the balancer's URL is their public URL (the issuer of the
    // enrolment tokens that one replica signs and the next verifies). Each port is held
    // until just before its replica binds it.
    let listeners: Vec<std::net::TcpListener> = (0..3)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let addrs: Vec<String> = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().to_string())
        .collect();
    let balancer = Balancer::start(addrs.clone());
    let server = balancer.url();
    let mut args = world.database_args();
    args.extend(["--public-url", server.as_str()]);
    let mut replicas: Vec<Option<Service>> = listeners
        .into_iter()
        .zip(&addrs)
        .map(|(listener, addr)| {
            drop(listener);
            Some(Service::start_on_with(&world.data_dir(), addr, &args))
        })
        .collect();
    world.admin(&["resource", "add", AUDIENCE], "").assert_ok();

    // Each device joined by its owner and set up with the real CLI; then read back from
    // its state directory.
    let devices: Vec<HelloDevice> = std::thread::scope(|scope| {
        let enrolled: Vec<_> = (0..LOAD_DEVICES)
            .map(|i| {
                let world = &world;
                let server = server.as_str();
                scope.spawn(move || {
                    let upn = format!("owner{i}@example.com");
                    let totp = world.add_user(&upn, PASSWORD);
                    let device = format!("device{i}");
                    enrol(world, server, &device, &upn, &totp.fresh());
                    HelloDevice::open(&world.device_dir(&device), &upn, PIN)
                })
            })
            .collect();
        enrolled.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let api = Api::new(&server, &world.ca_file());
    // One user per registration, each with an enrolment token carrying `mfa` (its first
    // one-time code: no waiting for a time step) and a new key for a device; prepared on
    // four threads, so that password sign-ins in flight stay well under the per-source
    // budget (20).
    let mut registrations: Vec<(usize, Registration)> = std::thread::scope(|scope| {
        let prepared: Vec<_> = (0..4)
            .map(|t| {
                let (world, api, devices) = (&world, &api, &devices);
                scope.spawn(move || {
                    (t..LOAD_REGISTRATIONS)
                        .step_by(4)
                        .map(|r| {
                            let upn = format!("user{r}@example.com");
                            let totp = world.add_user(&upn, PASSWORD);
                            let token = api.enrolment_token(&upn, PASSWORD, &totp.fresh());
                            (
                                r,
                                Registration::new(&devices[r % LOAD_DEVICES], &upn, &token),
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        prepared
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    registrations.sort_by_key(|(r, _)| *r);
    let registrations: Vec<Registration> = registrations.into_iter().map(|(_, r)| r).collect();
    let plan: Vec<Op> = (0..LOAD_OPERATIONS)
        .map(|i| {
            if i % 6 == 5 {
                Op::Register(i / 6)
            } else {
                Op::SignIn(i % LOAD_DEVICES)
            }
        })
        .collect();

    // The load; the thread that gets the half-way acknowledgement kills replica 1.
    let victim = std::sync::Mutex::new(replicas[1].take());
    let hits_at_kill = std::sync::Mutex::new(Vec::new());
    let hits_before = balancer.hits();
    let started = std::time::Instant::now();
    let LoadOutcome {
        acknowledged,
        failed,
    } = signin_load::run(
        &api,
        &devices,
        &registrations,
        &plan,
        LOAD_THREADS,
        &|count| {
            if count == LOAD_OPERATIONS / 2 {
                victim.lock().unwrap().take().expect("one kill").kill();
                *hits_at_kill.lock().unwrap() = balancer.hits();
            }
        },
    );
    let hits_at_kill = hits_at_kill.into_inner().unwrap();
    eprintln!(
        "load: {} acknowledged, {} failed in {:?}; connections per replica at the kill {hits_at_kill:?}, at the end {:?}",
        acknowledged.len(),
        failed.len(),
        started.elapsed(),
        balancer.hits()
    );
    for (index, op, failure) in &failed {
        eprintln!("operation {index} ({op:?}) failed: {failure:?}");
    }
    assert!(
        victim.into_inner().unwrap().is_none(),
        "replica 1 was killed"
    );
    assert!(
        hits_at_kill[1] > hits_before[1],
        "replica 1 served the load until it was killed"
    );
    assert_eq!(acknowledged.len() + failed.len(), LOAD_OPERATIONS);
    // Only operations in flight at the killed replica fail, and they fail without an
    // answer: at most one per thread other than the one that killed it.
    for (index, op, failure) in &failed {
        assert!(
            matches!(failure, Failure::Dropped(_)),
            "operation {index} ({op:?}) got an answer other than an acknowledgement: {failure:?}"
        );
    }
    assert!(
        failed.len() < LOAD_THREADS,
        "{} operations failed: {failed:?}",
        failed.len()
    );

    // Every acknowledged sign-in's token is stored as the service stores it, for its
    // device and key, and not revoked.
    let stored: std::collections::HashMap<String, (String, String, String)> = psql(
        &url,
        "SELECT token_hash, device_id, key_id, revoked FROM prts",
    )
    .into_iter()
    .map(|row| {
        (
            row[0].clone(),
            (row[1].clone(), row[2].clone(), row[3].clone()),
        )
    })
    .collect();
    let mut signins = vec![Vec::new(); LOAD_DEVICES];
    let mut registered = vec![None; LOAD_REGISTRATIONS];
    for (index, acked) in &acknowledged {
        match acked {
            Acked::SignIn { device, prt } => {
                let d = &devices[*device];
                let row = stored.get(&prt_hash(prt)).unwrap_or_else(|| {
                    panic!(
                        "the PRT of acknowledged sign-in {index} ({}) is lost",
                        d.upn
                    )
                });
                assert_eq!(
                    row,
                    &(d.device_id.clone(), d.key_id.clone(), "f".to_owned()),
                    "the PRT of sign-in {index}"
                );
                signins[*device].push(prt.clone());
            }
            Acked::Registered {
                registration,
                key_id,
            } => registered[*registration] = Some(key_id.clone()),
        }
    }
    let prts: std::collections::HashSet<&String> = signins.iter().flatten().collect();
    assert_eq!(
        prts.len(),
        signins.iter().map(Vec::len).sum::<usize>(),
        "every PRT is new"
    );
    // Per device: the audit trail has exactly one success line per stored token (one
    // statement writes both), and at most the failed sign-ins were stored unacknowledged.
    let signin_lines = audit_successes(&world, "signin");
    for (i, device) in devices.iter().enumerate() {
        let rows = stored.values().filter(|r| r.1 == device.key_id).count();
        let lines = signin_lines
            .iter()
            .filter(|l| l["key_id"] == device.key_id.as_str())
            .count();
        let failed_here = failed
            .iter()
            .filter(|(_, op, _)| *op == Op::SignIn(i))
            .count();
        if rows > signins[i].len() {
            eprintln!(
                "device {i}: {} sign-ins stored that were never acknowledged",
                rows - signins[i].len()
            );
        }
        assert_eq!(lines, rows, "device {i}: audit lines and stored tokens");
        assert!(
            (signins[i].len()..=signins[i].len() + failed_here).contains(&rows),
            "device {i}: {} acknowledged, {failed_here} failed, {rows} stored",
            signins[i].len()
        );
    }

    // Every acknowledged registration is stored for its user and device, with its audit
    // line; one that failed is either wholly there or not at all.
    let keys: std::collections::HashSet<(String, String, String)> = psql(
        &url,
        "SELECT k.key_id, u.upn, k.device_id FROM key_credentials k \
         JOIN users u ON u.tenant_id = k.tenant_id AND u.id = k.user_id",
    )
    .into_iter()
    .map(|row| (row[0].clone(), row[1].clone(), row[2].clone()))
    .collect();
    let register_lines = audit_successes(&world, "key_register");
    for (r, registration) in registrations.iter().enumerate() {
        let k = &registration.key;
        let stored = keys.contains(&(k.key_id.clone(), k.upn.clone(), k.device_id.clone()));
        let lines = register_lines
            .iter()
            .filter(|l| l["actor"] == k.upn.as_str() && l["key_id"] == k.key_id.as_str())
            .count();
        assert_eq!(lines, usize::from(stored), "registration {r}: audit lines");
        if registered[r].is_some() {
            assert!(stored, "the acknowledged key of registration {r} is lost");
        }
    }

    // What was acknowledged still works: each token gets an access token, each new key
    // signs in (on the replicas left).
    for (i, prts) in signins.iter().enumerate() {
        for prt in prts {
            let answer = access_token(&api, &devices[i], prt)
                .unwrap_or_else(|e| panic!("a token from an acknowledged PRT: {e:?}"));
            assert!(answer["access_token"].is_string());
        }
    }
    for (r, key_id) in registered.iter().enumerate() {
        if key_id.is_some() {
            api.signin(&registrations[r].key)
                .unwrap_or_else(|e| panic!("a sign-in with registered key {r}: {e:?}"));
        }
    }
    // And the real CLI signs in on each device.
    for i in 0..LOAD_DEVICES {
        signin(&world, &format!("device{i}")).assert_ok();
    }
    drop(replicas);
}

/// The rows `query` selects from the database `url`, by `psql` (tab-separated, unaligned).
fn psql(url: &str, query: &str) -> Vec<Vec<String>> {
    let psql = latchkey_pg_harness::BIN_DIRS
        .iter()
        .map(|dir| std::path::Path::new(dir).join("psql"))
        .find(|path| path.is_file())
        .expect("psql next to the PostgreSQL server");
    let out = std::process::Command::new(psql)
        .args([
            "-X",
            "-A",
            "-t",
            "-F",
            "\t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
        ])
        .arg(query)
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| line.split('\t').map(str::to_owned).collect())
        .collect()
}

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A primary refresh token as the service stores it (crates/server/src/routes/signin.rs,
/// `prt_hash`): the hex of the token's 8-byte time prefix, then the hex SHA-256 of its text.
fn prt_hash(prt: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(prt)
        .expect("a PRT is base64url");
    assert_eq!(
        bytes.len(),
        40,
        "a PRT is a time prefix and 32 random bytes"
    );
    format!(
        "{}{}",
        hex(&bytes[..8]),
        hex(&sha2::Sha256::digest(prt.as_bytes()))
    )
}

/// `POST /v1/token` for [`AUDIENCE`] with `prt` and `device`'s device-key proof over a
/// `token` nonce, the token's binding (hex SHA-256 of its text) and the audience.
fn access_token(api: &Api, device: &HelloDevice, prt: &str) -> Result<serde_json::Value, Failure> {
    use sha2::Digest as _;
    let nonce = api.nonce(Purpose::Token)?;
    let binding = hex(&sha2::Sha256::digest(prt.as_bytes()));
    let fields = [
        device.tenant_id.as_str(),
        &device.device_id,
        &binding,
        AUDIENCE,
    ];
    let body = serde_json::json!({
        "prt": prt,
        "audience": AUDIENCE,
        "device_id": device.device_id,
        "nonce": nonce,
        "device_signature": device.device_proof(Purpose::Token, &nonce, &fields),
    });
    api.post("/v1/token", &body, None)
}

/// The audit trail's success lines of `event`, as `latchkeyd audit --format jsonl` prints them.
fn audit_successes(world: &World, event: &str) -> Vec<serde_json::Value> {
    world
        .admin(
            &[
                "audit",
                "--format",
                "jsonl",
                "--event",
                event,
                "--outcome",
                "success",
            ],
            "",
        )
        .assert_ok()
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}
