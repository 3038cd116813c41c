//! The device key in the TPM and the TPM key pool, against a real swtpm and the real service
//! on loopback.
//!
//! - Join with the TPM provider: the device key is made in the TPM; `device.json` holds
//!   only its TPM-wrapped blob; the service accepts the TPM's device proofs (join, key
//!   registration, sign-in, renewal, policy sync, leave); the state copied next to another
//!   TPM fails with LK-AGENT-027, and without a TPM with LK-AGENT-028, writing nothing.
//! - The pool: filled at join; `hello setup` takes its key (the registered key is the pool
//!   key), deletes the entry, and the key answers to the PIN only (counted by the TPM);
//!   refill; setup with an empty pool; damaged entries removed (LK-STATE-012), entries of
//!   an unknown version left and skipped (LK-STATE-006), setup working all the same; a join
//!   the service refuses writes no pool entry.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::tpm::{files, files_but_the_log, swtpm, tpm_agent, Tpm2};
use common::{base32, password_only, world, World, PASSWORD, PIN};
use latchkey_agent::device_seal::{self, MachineBinding};
use latchkey_agent::records::DeviceRecord;
use latchkey_agent::store::StateDir;
use latchkey_agent::tpm::{KeyBlob, Tcti, TpmError};
use latchkey_agent::tpm_pool::{seal_context, PoolEntry, TPM_POOL_DIR, TPM_POOL_SIZE};
use latchkey_agent::{Agent, JoinOptions};
use latchkey_proto::api::device::JoinType;
use latchkey_proto::b64;

/// A user added to the tenant who joins a cloud device with MFA through `agent`.
fn join(w: &World, upn: &str, agent: &Agent) {
    let created = w
        .runtime
        .block_on(w.admin.add_user(upn, PASSWORD, None))
        .unwrap();
    let secret = created.otpauth_uri.split("secret=").nth(1).unwrap();
    let secret = base32(secret.split('&').next().unwrap());
    agent
        .join(&JoinOptions {
            server: w.url.clone(),
            ca_pem: w.ca_pem.clone(),
            upn: upn.to_owned(),
            password: PASSWORD.to_owned().into(),
            otp: Some(w.otp(&secret)),
            join_type: JoinType::Cloud,
            display_name: "tpm-pc".to_owned(),
            os: "test".to_owned(),
        })
        .unwrap();
}

fn joined_with_tpm(w: &World, upn: &str, tpm: &Tpm2) -> Agent {
    let agent = tpm_agent(w, w.state.clone(), &tpm.tcti());
    join(w, upn, &agent);
    agent
}

fn copy_state(from: &StateDir, to: &StateDir) {
    for (name, bytes) in files(from.root()) {
        let rel = Path::new(&name).strip_prefix(from.root()).unwrap();
        to.write_bytes(rel.to_str().unwrap(), &bytes).unwrap();
    }
}

/// The start of an RSA PKCS#8 PrivateKeyInfo (version 0, rsaEncryption, NULL, OCTET STRING).
const PKCS8_RSA: &[u8] = &[
    0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
    0x05, 0x00, 0x04,
];

fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

fn holds_pkcs8(bytes: &[u8]) -> bool {
    let has = |b: &[u8]| b.windows(PKCS8_RSA.len()).any(|w| w == PKCS8_RSA);
    if has(bytes) || bytes.windows(11).any(|w| w == b"PRIVATE KEY") {
        return true;
    }
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return false;
    };
    let mut all = Vec::new();
    strings(&json, &mut all);
    all.iter()
        .filter_map(|s| b64::decode("s", s).ok())
        .any(|d| has(&d))
}

fn pool_entries(agent: &Agent) -> Vec<(String, PoolEntry)> {
    agent
        .state()
        .list(TPM_POOL_DIR)
        .unwrap()
        .into_iter()
        .map(|f| {
            let name = format!("{TPM_POOL_DIR}/{f}");
            let entry = agent.state().read_json(&name).unwrap().unwrap();
            (name, entry)
        })
        .collect()
}

fn entry_blob(e: &PoolEntry) -> KeyBlob {
    KeyBlob::from_bytes(
        &b64::decode("p", &e.private).unwrap(),
        &b64::decode("p", &e.public).unwrap(),
    )
    .unwrap()
}

#[test]
fn the_device_key_is_made_and_used_in_the_tpm_and_is_useless_elsewhere() {
    let w = world();
    let tpm = swtpm();
    let upn = "dev@example.com";
    let agent = joined_with_tpm(&w, upn, &tpm);

    // device.json: the TPM blob only: no plaintext key, no software-sealed key.
    let record = DeviceRecord::require(agent.state()).unwrap();
    assert!(record.device_key.is_empty());
    assert!(record.device_key_sealed.is_none());
    let stored = record.device_key_tpm.clone().expect("a TPM device key");
    let blob = stored.blob().unwrap();
    assert_eq!(blob.rsa_public().unwrap().modulus.len(), 256);
    let raw = agent.state().read_bytes("device.json").unwrap().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert!(json.get("device_key").is_none() && json.get("device_key_sealed").is_none());
    for (name, bytes) in files(agent.state().root()) {
        assert!(!holds_pkcs8(&bytes), "{name} holds a PKCS#8 private key");
    }
    // The checker finds a software device key (a device joined with the software provider).
    let soft = tempfile::tempdir().unwrap();
    let soft_state = StateDir::new(soft.path().join("device"));
    join(&w, "soft@example.com", &w.agent_in(soft_state.clone()));
    let soft_record = DeviceRecord::require(&soft_state).unwrap();
    assert!(soft_record.device_key_tpm.is_none() && soft_record.device_key_sealed.is_some());
    let soft_key = soft_record
        .key(&MachineBinding::file(&w.machine_id))
        .unwrap();
    assert!(holds_pkcs8(soft_key.to_pkcs8().unwrap().as_slice()));

    // Every device proof is the TPM's, and the service accepts them: key registration,
    // sign-in, renewal, policy sync.
    let status = agent.status(None).unwrap().device_state;
    assert_eq!(status.device_key_algorithm.as_deref(), Some("RSA-2048"));
    let protection = status.device_key_protection.unwrap();
    assert!(protection.starts_with("TPM"), "{protection}");
    let text = latchkey_agent::status::render(&agent.status(None).unwrap());
    assert!(text.contains("DeviceKeyProtection : TPM"), "{text}");
    agent
        .provision(upn, PIN, &password_only(), &mut |_| {})
        .unwrap();
    agent.signin(upn, PIN).unwrap();
    agent.renew(upn).unwrap();
    agent.sync_policy(upn).unwrap();
    // Nothing rewrote the record into a software key on the way.
    assert_eq!(
        DeviceRecord::require(agent.state()).unwrap().device_key_tpm,
        Some(stored)
    );

    // The state directory copied next to another TPM: a device operation fails with the
    // device-key code, and nothing is written.
    let other = swtpm();
    let copy_dir = tempfile::tempdir().unwrap();
    let copy = StateDir::new(copy_dir.path().join("device"));
    copy_state(agent.state(), &copy);
    let elsewhere = tpm_agent(&w, copy.clone(), &other.tcti());
    let before = files_but_the_log(copy.root());
    let err = elsewhere.sync_policy(upn).unwrap_err();
    assert_eq!(err.code(), "LK-AGENT-027", "{err}");
    assert!(err.to_string().contains("another TPM"), "{err}");
    let err = elsewhere.leave(false).unwrap_err();
    assert_eq!(err.code(), "LK-AGENT-027", "{err}");
    assert_eq!(
        files_but_the_log(copy.root()),
        before,
        "nothing written but the log"
    );
    let ids: Vec<u32> = elsewhere.events().unwrap().iter().map(|e| e.id).collect();
    assert_eq!(ids[ids.len() - 2..], [341, 203], "both failures logged");
    // On a machine without a TPM (the software provider): LK-AGENT-028.
    let no_tpm = w.agent_in(copy.clone());
    let err = no_tpm.leave(false).unwrap_err();
    assert_eq!(err.code(), "LK-AGENT-028", "{err}");
    let shown = no_tpm.status(None).unwrap().device_state;
    assert!(
        shown
            .device_key_algorithm
            .as_deref()
            .unwrap()
            .contains("LK-AGENT-028"),
        "{shown:?}"
    );
    // A TPM that does not answer: LK-AGENT-028 too.
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = Tcti::parse(&format!("swtpm:host=127.0.0.1,port={dead_port}")).unwrap();
    let key = DeviceRecord::require(&copy)
        .unwrap()
        .key_with(&MachineBinding::none(), Some(&dead))
        .unwrap();
    let err = key
        .prove(latchkey_proto::proof::Purpose::Leave, "n", &["t"])
        .unwrap_err();
    assert_eq!(err.code(), "LK-AGENT-028", "{err}");
    assert_eq!(
        files_but_the_log(copy.root()),
        before,
        "nothing written but the log"
    );

    // Home again, the device proof works: leaving tells the service.
    agent.leave(false).unwrap();
}

#[test]
fn setup_takes_the_pool_key_and_sets_its_authorisation_to_the_pin() {
    let w = world();
    let tpm = swtpm();
    let upn = "poo@example.com";
    let agent = joined_with_tpm(&w, upn, &tpm);

    // Filled at join: TPM_POOL_SIZE keys, 0600, no private key in the clear.
    let report = agent.pool_status().unwrap();
    assert_eq!(report.keys.len(), TPM_POOL_SIZE);
    assert_eq!(TPM_POOL_SIZE, 1);
    assert!(report.skipped.is_empty() && report.no_pool.is_none());
    let entries = pool_entries(&agent);
    assert_eq!(entries.len(), 1);
    let (name, entry) = entries[0].clone();
    assert_eq!(entry.version, 1);
    assert_eq!(report.keys[0].0, entry.key_id);
    let path = agent.state().path(&name);
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(!holds_pkcs8(&std::fs::read(&path).unwrap()));
    // The random authorisation value, as only this machine can open it.
    let record = DeviceRecord::require(agent.state()).unwrap();
    let pool_auth = device_seal::open(
        &MachineBinding::file(&w.machine_id),
        &entry.auth_sealed,
        &record.tenant_id,
        &seal_context(&record.device_id, &entry.key_id),
    )
    .unwrap();
    assert_eq!(pool_auth.len(), 32);
    let old_blob = entry_blob(&entry);

    // Setup takes it: the registered key is the pool key; the entry is gone.
    let mut lines = Vec::new();
    let done = agent
        .provision(upn, PIN, &password_only(), &mut |l| {
            lines.push(l.to_owned())
        })
        .unwrap();
    assert_eq!(done.key_id, entry.key_id, "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("key pool")), "{lines:?}");
    assert!(
        !lines.iter().any(|l| l.contains("Creating")),
        "no key was made while the user waited: {lines:?}"
    );
    assert!(!path.exists(), "the pool entry is deleted");
    assert!(agent.state().list(TPM_POOL_DIR).unwrap().is_empty());
    let container = agent.tpm_container(upn).unwrap().unwrap();
    assert_eq!(container.public, entry.public, "the same public area");
    assert_ne!(container.private, entry.private, "a new wrapped blob");
    let keys = w.runtime.block_on(w.admin.keys(Some(upn))).unwrap();
    assert!(keys.iter().any(|k| k.key_id == entry.key_id), "{keys:?}");

    // The PIN opens it; a wrong PIN is refused and counted by the TPM.
    agent.signin(upn, PIN).unwrap();
    assert_eq!(tpm.counter(), 0);
    let err = agent.signin(upn, "000000").unwrap_err();
    assert_eq!(err.code(), "LK-AGENT-016", "{err}");
    assert_eq!(tpm.counter(), 1);
    // The random value no longer opens the new blob (and that try is counted too) ...
    let new_blob = container.blob("c").unwrap();
    let refused = tpm.open().sign_message(&new_blob, &pool_auth, b"m");
    assert!(matches!(refused, Err(TpmError::WrongAuth)), "{refused:?}");
    assert_eq!(tpm.counter(), 2);
    // ... but the OLD blob with the old value still signs on this TPM: the residual risk
    // docs/tpm.md describes, and why the entry is deleted.
    tpm.open()
        .sign_message(&old_blob, &pool_auth, b"m")
        .unwrap();

    // Refill: back to TPM_POOL_SIZE, a new key.
    let refilled = agent.fill_pool().unwrap();
    assert_eq!(refilled.keys.len(), TPM_POOL_SIZE);
    assert_ne!(refilled.keys[0].0, entry.key_id);
    assert_eq!(pool_entries(&agent).len(), TPM_POOL_SIZE);
    let again = agent.fill_pool().unwrap();
    assert_eq!(again.keys, refilled.keys, "a full pool is left as it is");
}

#[test]
fn setup_without_a_pool_key_makes_one_in_the_tpm() {
    let w = world();
    let tpm = swtpm();
    let upn = "emp@example.com";
    let agent = joined_with_tpm(&w, upn, &tpm);
    let entries = pool_entries(&agent);
    assert_eq!(entries.len(), 1);
    agent.state().remove(&entries[0].0).unwrap();
    assert!(agent.pool_status().unwrap().keys.is_empty());
    let mut lines = Vec::new();
    let done = agent
        .provision(upn, PIN, &password_only(), &mut |l| {
            lines.push(l.to_owned())
        })
        .unwrap();
    assert_ne!(done.key_id, entries[0].1.key_id);
    assert!(lines.iter().any(|l| l.contains("Creating")), "{lines:?}");
    agent.signin(upn, PIN).unwrap();

    // The software provider keeps no pool and says so.
    let soft = w.agent();
    let report = soft.pool_status().unwrap();
    assert!(report.no_pool.unwrap().contains("keeps no pool"));
    assert!(soft.fill_pool().unwrap().keys.is_empty());
}

#[test]
fn damaged_or_foreign_pool_entries_are_removed_unknown_versions_skipped_and_setup_works() {
    let w = world();
    let tpm = swtpm();
    let upn = "dam@example.com";
    let agent = joined_with_tpm(&w, upn, &tpm);
    let (name, entry) = pool_entries(&agent).remove(0);

    // Damaged: a public area that is not the key id's.
    let mut bad = entry.clone();
    let mut public = b64::decode("p", &bad.public).unwrap();
    let last = public.len() - 1;
    public[last] ^= 1;
    bad.public = b64::encode(public);
    agent.state().write_json(&name, &bad).unwrap();
    // Not JSON at all.
    let garbage = format!("{TPM_POOL_DIR}/{}.json", "ab".repeat(32));
    agent.state().write_bytes(&garbage, b"{not json").unwrap();
    // A future format version: left alone, not used.
    let mut future = serde_json::to_value(&entry).unwrap();
    future["version"] = 2.into();
    let future_name = format!("{TPM_POOL_DIR}/{}.json", "cd".repeat(32));
    agent.state().write_json(&future_name, &future).unwrap();

    let report = agent.pool_status().unwrap();
    assert!(report.keys.is_empty(), "{report:?}");
    let codes: Vec<&str> = report.skipped.iter().map(|s| &s[..12]).collect();
    assert_eq!(
        codes.iter().filter(|c| **c == "LK-STATE-012").count(),
        1,
        "{report:?}"
    );
    assert!(codes.contains(&"LK-AGENT-003"), "{report:?}");
    assert!(codes.contains(&"LK-STATE-006"), "{report:?}");
    assert!(!agent.state().path(&name).exists(), "damaged: removed");
    assert!(!agent.state().path(&garbage).exists(), "garbage: removed");
    assert!(agent.state().path(&future_name).exists(), "future: kept");

    // Setup still works: it makes its key (and the kept entry is not used).
    let mut lines = Vec::new();
    let done = agent
        .provision(upn, PIN, &password_only(), &mut |l| {
            lines.push(l.to_owned())
        })
        .unwrap();
    assert_ne!(done.key_id, entry.key_id);
    assert!(lines.iter().any(|l| l.contains("Creating")), "{lines:?}");
    agent.signin(upn, PIN).unwrap();
    assert_eq!(tpm.counter(), 0, "no pool value was tried");

    // An entry sealed to another machine identity: removed (LK-STATE-012), not tried.
    agent.state().remove(&future_name).unwrap();
    agent.fill_pool().unwrap();
    assert_eq!(pool_entries(&agent).len(), 1);
    std::fs::write(&w.machine_id, "0123456789abcdef0123456789abcdef\n").unwrap();
    let report = agent.pool_status().unwrap();
    assert!(report.keys.is_empty());
    assert_eq!(report.skipped.len(), 1);
    assert!(report.skipped[0].starts_with("LK-STATE-012"), "{report:?}");
    assert!(
        report.skipped[0].contains("authorisation value"),
        "{report:?}"
    );
    assert!(pool_entries(&agent).is_empty());
    // The device key is in the TPM: a changed machine identity does not touch it.
    agent.sync_policy(upn).unwrap();
}

#[test]
fn a_refused_join_writes_neither_the_join_nor_the_pool() {
    let w = world();
    let tpm = swtpm();
    let upn = "ref@example.com";
    let created = w
        .runtime
        .block_on(w.admin.add_user(upn, PASSWORD, None))
        .unwrap();
    let secret = created.otpauth_uri.split("secret=").nth(1).unwrap();
    let secret = base32(secret.split('&').next().unwrap());
    let agent = tpm_agent(&w, w.state.clone(), &tpm.tcti());
    // The service refuses the join request itself (a blank display name), after the pool's
    // keys were being made alongside it.
    let err = agent
        .join(&JoinOptions {
            server: w.url.clone(),
            ca_pem: w.ca_pem.clone(),
            upn: upn.to_owned(),
            password: PASSWORD.to_owned().into(),
            otp: Some(w.otp(&secret)),
            join_type: JoinType::Cloud,
            display_name: "   ".to_owned(),
            os: "test".to_owned(),
        })
        .unwrap_err();
    assert!(
        matches!(err, latchkey_agent::AgentError::Service { .. }),
        "{err}"
    );
    let written = if agent.state().root().exists() {
        files(agent.state().root())
    } else {
        Vec::new()
    };
    assert!(written.is_empty(), "{written:?}");
    assert!(agent.device().unwrap().is_none());
    assert!(agent.state().list(TPM_POOL_DIR).unwrap().is_empty());
}
