//! The device's attestation client against a real swtpm and the real service on loopback.
//!
//! - A join with the TPM provider activates the device's AIK (the service records it),
//!   `hello setup` sends a TPM2_Certify of the Hello key, the key is registered as `tpm`
//!   and its tokens carry `hwk`; `tpm attest` is idempotent, `--renew` makes a new AIK.
//! - A tenant without the manufacturer root: the join stands, the failure is recorded
//!   with the service's code, setup registers a `software` key, RequireSecurityDevice
//!   refuses with LK-HWK-013; after `tpm-roots add` + `tpm attest`, setup gives `tpm`.
//! - An older service (404 on the activation route): the device stays joined,
//!   LK-AGENT-021 is recorded.
//! - An identity file of another version, damaged, or of another device: a clear code,
//!   nothing registered, sign-in unaffected, `tpm attest --renew` replaces it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::tpm::{swtpm, Tpm2};
use common::{base32, password_only, world, World, PASSWORD, PIN};
use latchkey_agent::store::StateDir;
use latchkey_agent::tpm_identity::{TpmIdentity, TPM_IDENTITY_FILE};
use latchkey_agent::{Agent, AttestOutcome, Credentials, JoinOptions};
use latchkey_proto::api::device::JoinType;
use latchkey_proto::b64;
use serde_json::Value;

fn tpm_agent(w: &World, t: &Tpm2) -> Agent {
    common::tpm::tpm_agent(w, w.state.clone(), &t.tcti())
}

/// Creates `upn` and joins `agent` (cloud, with MFA) through `server`; the TOTP secret.
fn join(w: &World, agent: &Agent, upn: &str, server: &str) -> Vec<u8> {
    let created = w
        .runtime
        .block_on(w.admin.add_user(upn, PASSWORD, None))
        .unwrap();
    let secret = base32(
        created
            .otpauth_uri
            .split("secret=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap(),
    );
    agent
        .join(&JoinOptions {
            server: server.to_owned(),
            ca_pem: w.ca_pem.clone(),
            upn: upn.to_owned(),
            password: PASSWORD.to_owned().into(),
            otp: Some(w.otp(&secret)),
            join_type: JoinType::Cloud,
            display_name: "tpm-pc".to_owned(),
            os: "test".to_owned(),
        })
        .unwrap();
    secret
}

/// The password and a fresh one-time code (the service refuses a code used before).
fn full_mfa(w: &World, secret: &[u8]) -> Credentials {
    w.server_clock.advance(time::Duration::seconds(31));
    Credentials {
        password: PASSWORD.to_owned().into(),
        otp: Some(w.otp(secret)),
    }
}

fn identity(agent: &Agent) -> TpmIdentity {
    let device = agent.device().unwrap().unwrap();
    TpmIdentity::load(agent.state(), &device.device_id)
        .unwrap()
        .unwrap()
}

fn tpm_devices(w: &World) -> i64 {
    w.runtime.block_on(w.admin.counts()).unwrap().tpm_devices
}

fn key_attestation(w: &World, key_id: &str) -> (String, Option<String>) {
    let reports = w.runtime.block_on(w.admin.key_reports(None)).unwrap();
    let row = reports.iter().find(|r| r.key.key_id == key_id).unwrap();
    (
        row.key.attestation.clone(),
        row.key.tpm_manufacturer.clone(),
    )
}

fn resource(w: &World) {
    w.runtime
        .block_on(w.admin.resource_add("api://payroll", None))
        .unwrap();
}

fn amr(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&b64::decode("jwt", payload).unwrap()).unwrap();
    claims["amr"].clone()
}

fn attestation_line(agent: &Agent) -> String {
    agent
        .status(None)
        .unwrap()
        .device_state
        .device_tpm_attestation
}

/// Every file of the state directory with its bytes.
fn files(state: &StateDir) -> Vec<(String, Vec<u8>)> {
    common::tpm::files(state.root())
}

/// [`files`] without the event log, which records a refused operation too.
fn files_but_the_log(state: &StateDir) -> Vec<(String, Vec<u8>)> {
    files(state)
        .into_iter()
        .filter(|(name, _)| !name.ends_with(latchkey_agent::events::EVENTS_FILE))
        .collect()
}

#[test]
fn a_tpm_join_attests_and_setup_registers_a_tpm_key_whose_tokens_say_hwk() {
    // The TPM first: its EK certificate must be valid at the service's (manual) clock.
    let t = swtpm();
    let w = world();
    t.trust_in(&w);
    let upn = "tara@example.com";
    resource(&w);
    let agent = tpm_agent(&w, &t);
    assert_eq!(tpm_devices(&w), 0);
    join(&w, &agent, upn, &w.url);

    let id = identity(&agent);
    let aik = id
        .attested
        .clone()
        .unwrap_or_else(|| panic!("not attested at join: {:?}", id.last_failure));
    assert!(id.last_failure.is_none());
    assert!(aik.manufacturer.starts_with("id:"), "{aik:?}");
    assert_eq!(aik.aik_name.len(), 68, "SHA-256 nameAlg || digest");
    let mode = std::fs::metadata(w.state.path(TPM_IDENTITY_FILE))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(tpm_devices(&w), 1, "the service recorded the device's AIK");
    let events = agent.events().unwrap();
    let attested = events.iter().find(|e| e.id == 371).unwrap();
    assert!(attested
        .data
        .contains(&("AikName".to_owned(), aik.aik_name.clone())));
    let line = attestation_line(&agent);
    assert!(line.starts_with("ATTESTED (id:"), "{line}");
    assert!(line.contains(&aik.aik_name[..20]), "{line}");

    let done = agent
        .provision(upn, PIN, &password_only(), &mut |_| {})
        .unwrap();
    let (att, manufacturer) = key_attestation(&w, &done.key_id);
    assert_eq!(att, "tpm");
    assert_eq!(manufacturer.as_deref(), Some(aik.manufacturer.as_str()));
    assert_eq!(
        agent
            .tpm_container(upn)
            .unwrap()
            .unwrap()
            .attestation
            .as_deref(),
        Some("tpm")
    );
    assert_eq!(
        agent
            .status(None)
            .unwrap()
            .user_state
            .ngc_key_attestation
            .as_deref(),
        Some("tpm")
    );
    agent.signin(upn, PIN).unwrap();
    let token = agent.token(upn, "api://payroll").unwrap();
    assert_eq!(amr(&token)[0], "hwk", "{}", amr(&token));

    // Attested already: nothing is done, nothing changes.
    let before = files(&w.state);
    match agent.attest_tpm(false).unwrap() {
        AttestOutcome::AlreadyAttested(a) => assert_eq!(a, aik),
        other => panic!("{other:?}"),
    }
    assert_eq!(files(&w.state), before);
    // --renew: a new AIK, activated and stored; the device keeps one TPM record.
    let renewed = match agent.attest_tpm(true).unwrap() {
        AttestOutcome::Attested(a) => a,
        other => panic!("{other:?}"),
    };
    assert_ne!(renewed.aik_name, aik.aik_name);
    assert_eq!(identity(&agent).attested.unwrap(), renewed);
    assert_eq!(tpm_devices(&w), 1);
}

fn require_security_device(w: &World) {
    let t = w.admin.tenant().tenant_id;
    let xml = format!(
        "<SyncML xmlns=\"SYNCML:SYNCML1.2\"><SyncBody><Replace><CmdID>1</CmdID><Item><Target>\
         <LocURI>./Device/Vendor/MSFT/PassportForWork/{t}/Policies/RequireSecurityDevice</LocURI>\
         </Target><Meta><Format xmlns=\"syncml:metinf\">bool</Format></Meta><Data>true</Data>\
         </Item></Replace><Final/></SyncBody></SyncML>"
    );
    w.runtime
        .block_on(w.admin.apply_syncml(&xml, None))
        .unwrap();
}

#[test]
fn without_the_root_the_join_stands_and_attesting_later_gives_tpm_keys() {
    // The TPM first: its EK certificate must be valid at the service's (manual) clock.
    let t = swtpm();
    let w = world();
    let upn = "ugo@example.com";
    resource(&w);
    let agent = tpm_agent(&w, &t);
    let secret = join(&w, &agent, upn, &w.url);
    assert!(agent.device().unwrap().is_some(), "the join stands");

    let id = identity(&agent);
    assert!(id.attested.is_none());
    let failure = id.last_failure.unwrap();
    assert_eq!(failure.code, "LK-HWK-001", "{failure:?}");
    assert_eq!(tpm_devices(&w), 0);
    let event = agent
        .events()
        .unwrap()
        .into_iter()
        .find(|e| e.id == 372)
        .unwrap();
    assert_eq!(event.level, "Warning");
    assert!(event
        .data
        .contains(&("Code".to_owned(), "LK-HWK-001".to_owned())));
    let line = attestation_line(&agent);
    assert!(line.starts_with("NOT ATTESTED: LK-HWK-001"), "{line}");

    // Not attested: the key registers without attestation, a software key to the service.
    let first = agent
        .provision(upn, PIN, &password_only(), &mut |_| {})
        .unwrap();
    assert_eq!(key_attestation(&w, &first.key_id).0, "software");
    assert_eq!(
        agent
            .tpm_container(upn)
            .unwrap()
            .unwrap()
            .attestation
            .as_deref(),
        Some("software")
    );

    // RequireSecurityDevice: the service refuses the unattested key; nothing changes here.
    require_security_device(&w);
    let before = files(&w.state);
    let keys_before = w.runtime.block_on(w.admin.key_reports(None)).unwrap().len();
    let err = agent
        .provision(upn, PIN, &full_mfa(&w, &secret), &mut |_| {})
        .unwrap_err();
    assert_eq!(err.code(), "LK-HWK-013", "{err}");
    let after: Vec<_> = files(&w.state)
        .into_iter()
        .filter(|(p, _)| !p.ends_with("events.json"))
        .collect();
    let before: Vec<_> = before
        .into_iter()
        .filter(|(p, _)| !p.ends_with("events.json"))
        .collect();
    assert_eq!(after, before, "a refused setup changes no state file");
    assert_eq!(
        w.runtime.block_on(w.admin.key_reports(None)).unwrap().len(),
        keys_before
    );

    // The administrator adds the root; `tpm attest`; the next setup gives `tpm`.
    t.trust_in(&w);
    let aik = match agent.attest_tpm(false).unwrap() {
        AttestOutcome::Attested(a) => a,
        other => panic!("{other:?}"),
    };
    let id = identity(&agent);
    assert_eq!(id.attested.as_ref(), Some(&aik));
    assert!(id.last_failure.is_none(), "a success clears the failure");
    assert_eq!(tpm_devices(&w), 1);
    assert!(attestation_line(&agent).starts_with("ATTESTED"));
    let second = agent
        .provision(upn, PIN, &full_mfa(&w, &secret), &mut |_| {})
        .unwrap();
    assert_eq!(
        second.replaced_key_id.as_deref(),
        Some(first.key_id.as_str())
    );
    assert_eq!(key_attestation(&w, &second.key_id).0, "tpm");
    agent.signin(upn, PIN).unwrap();
    assert_eq!(amr(&agent.token(upn, "api://payroll").unwrap())[0], "hwk");
}

/// An HTTP stub in front of a plain-HTTP service: forwards every request, except the TPM
/// activation routes, which it sends to a path the service does not have, so the device
/// gets the service's own 404 (as from a version without those routes). Counts them.
fn old_service_stub(upstream: String) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let upstream = upstream.clone();
            let counter = counter.clone();
            std::thread::spawn(move || forward(conn, &upstream, &counter));
        }
    });
    (url, hits)
}

fn forward(mut conn: TcpStream, upstream: &str, hits: &AtomicUsize) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte).unwrap_or(0) == 0 {
            return;
        }
        head.push(byte[0]);
        assert!(head.len() < 64 * 1024);
    }
    let head = String::from_utf8(head).unwrap();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap();
    let mut parts = request_line.splitn(3, ' ');
    let (method, path, version) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let path = if path.starts_with("/v1/devices/tpm/activate/") {
        hits.fetch_add(1, Ordering::SeqCst);
        "/v1/devices/tpm/not-in-this-version"
    } else {
        path
    };
    let mut length = 0usize;
    let mut out = format!("{method} {path} {version}\r\n");
    for line in lines.filter(|l| !l.is_empty()) {
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
        if !lower.starts_with("connection:") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("connection: close\r\n\r\n");
    let mut body = vec![0u8; length];
    conn.read_exact(&mut body).unwrap();
    let mut up = TcpStream::connect(upstream).unwrap();
    up.write_all(out.as_bytes()).unwrap();
    up.write_all(&body).unwrap();
    let mut response = Vec::new();
    up.read_to_end(&mut response).unwrap();
    let split = response.windows(2).position(|w| w == b"\r\n").unwrap();
    conn.write_all(&response[..split + 2]).unwrap();
    conn.write_all(b"connection: close\r\n").unwrap();
    conn.write_all(&response[split + 2..]).unwrap();
}

/// [`world`] with the service on plain HTTP (loopback), so the stub can see the paths.
fn plain_http_world() -> World {
    use latchkey_server::clock::{Env, ManualClock, SystemRandom};
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let start = time::OffsetDateTime::now_utc();
    let server_clock = ManualClock::new(start);
    let env = || Env {
        clock: Arc::new(server_clock.clone()),
        rng: Arc::new(SystemRandom::new()),
    };
    let data = dir.path().join("data");
    let mut config =
        latchkey_server::ServerConfig::new(data.clone(), "127.0.0.1:0".parse().unwrap());
    config.insecure_http = true;
    let server = runtime
        .block_on(latchkey_server::start(config, env()))
        .unwrap();
    let admin = runtime
        .block_on(latchkeyd::data_admin::Admin::open(&data, env()))
        .unwrap();
    let url = server.base_url.clone();
    let ca_pem = std::fs::read_to_string(&server.ca_file).unwrap();
    std::mem::forget(server);
    let machine_id = dir.path().join("machine-id");
    std::fs::write(&machine_id, "5c4b0e2f9d8a4c17a3e6b1d0f2c9e874\n").unwrap();
    World {
        state: StateDir::new(dir.path().join("device")),
        machine_id,
        _dir: dir,
        runtime,
        server_clock,
        device_clock: Arc::new(latchkey_agent::clock::FixedClock::at(
            start.unix_timestamp(),
        )),
        admin,
        url,
        ca_pem,
    }
}

#[test]
fn an_older_service_without_the_activation_route_leaves_the_device_joined() {
    let t = swtpm();
    let w = plain_http_world();
    t.trust_in(&w);
    let upstream = w.url.trim_start_matches("http://").to_owned();
    let (stub, hits) = old_service_stub(upstream);
    let upn = "vera@example.com";
    let agent = tpm_agent(&w, &t);
    join(&w, &agent, upn, &stub);
    assert_eq!(hits.load(Ordering::SeqCst), 1, "the device asked to begin");
    assert!(agent.device().unwrap().is_some(), "the join stands");
    let failure = identity(&agent).last_failure.unwrap();
    assert_eq!(failure.code, "LK-AGENT-021", "{failure:?}");
    assert!(failure.message.contains("LK-REQ-004"), "{failure:?}");
    assert!(attestation_line(&agent).starts_with("NOT ATTESTED: LK-AGENT-021"));
    assert!(agent.events().unwrap().iter().any(|e| e.id == 372));
    assert_eq!(tpm_devices(&w), 0);

    let err = agent.attest_tpm(false).unwrap_err();
    assert_eq!(err.code(), "LK-AGENT-021", "{err}");
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    // Everything else works through the same service.
    let done = agent
        .provision(upn, PIN, &password_only(), &mut |_| {})
        .unwrap();
    assert_eq!(key_attestation(&w, &done.key_id).0, "software");
    agent.signin(upn, PIN).unwrap();
}

#[test]
fn an_identity_file_of_another_version_damaged_or_foreign_is_refused_clearly() {
    // The TPM first: its EK certificate must be valid at the service's (manual) clock.
    let t = swtpm();
    let w = world();
    t.trust_in(&w);
    let upn = "walt@example.com";
    let agent = tpm_agent(&w, &t);
    let secret = join(&w, &agent, upn, &w.url);
    agent
        .provision(upn, PIN, &password_only(), &mut |_| {})
        .unwrap();
    let good = std::fs::read(w.state.path(TPM_IDENTITY_FILE)).unwrap();
    let json: Value = serde_json::from_slice(&good).unwrap();

    let mut other_version = json.clone();
    other_version["version"] = 2.into();
    let mut damaged = json.clone();
    damaged["attested"]["aik_public"] = "AAAA".into();
    let mut foreign = json.clone();
    foreign["device_id"] = "00000000-0000-0000-0000-000000000000".into();
    for (file, code) in [
        (other_version, "LK-STATE-006"),
        (damaged, "LK-STATE-010"),
        (foreign, "LK-STATE-011"),
    ] {
        w.state.write_json(TPM_IDENTITY_FILE, &file).unwrap();
        let line = attestation_line(&agent);
        assert!(line.starts_with(&format!("NOT ATTESTED: {code}")), "{line}");
        // Sign-in does not need the identity.
        agent.signin(upn, PIN).unwrap();
        // Setup refuses before making or registering anything.
        let before = files_but_the_log(&w.state);
        let keys = w.runtime.block_on(w.admin.key_reports(None)).unwrap().len();
        let err = agent
            .provision(upn, PIN, &full_mfa(&w, &secret), &mut |_| {})
            .unwrap_err();
        assert_eq!(err.code(), code, "{err}");
        assert_eq!(
            files_but_the_log(&w.state),
            before,
            "nothing written ({code})"
        );
        let last = agent.events().unwrap().pop().unwrap();
        assert_eq!(last.id, latchkey_agent::events::id::KEY_REGISTRATION_FAILED);
        assert!(last.data.contains(&("Code".to_owned(), code.to_owned())));
        assert_eq!(
            w.runtime.block_on(w.admin.key_reports(None)).unwrap().len(),
            keys
        );
        // `tpm attest` says so; --renew replaces the file.
        assert_eq!(agent.attest_tpm(false).unwrap_err().code(), code);
    }
    match agent.attest_tpm(true).unwrap() {
        AttestOutcome::Attested(_) => {}
        other => panic!("{other:?}"),
    }
    let done = agent
        .provision(upn, PIN, &full_mfa(&w, &secret), &mut |_| {})
        .unwrap();
    assert_eq!(key_attestation(&w, &done.key_id).0, "tpm");
}
