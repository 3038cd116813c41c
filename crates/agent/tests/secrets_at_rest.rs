//! Issue 10: the device's secrets at rest and the owner's fresh password, with the real
//! service in-process.
//!
//! - A copy of the state directory taken before `hello setup` holds neither the future
//!   Hello private key nor the device key in plaintext, and without this machine's identity
//!   the device key does not unseal.
//! - Plaintext pool files of earlier versions are removed; a device joined before sealing
//!   keeps working and is sealed on first use; `status` says what protects the key.
//! - Unknown record versions are refused.
//! - The owner sets up with the password alone; replacing the key needs the one-time code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::path::Path;

use common::{password_only, world, PASSWORD, PIN};
use latchkey_agent::container::Container;
use latchkey_agent::device_seal::MachineBinding;
use latchkey_agent::records::{DeviceRecord, DEVICE_FILE};
use latchkey_agent::Credentials;
use latchkey_proto::api::device::JoinType;
use latchkey_proto::b64;

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                stack.push(path);
            } else {
                out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
            }
        }
    }
    out
}

fn contains(files: &[(String, Vec<u8>)], needle: &[u8]) -> Option<String> {
    files
        .iter()
        .find(|(_, bytes)| bytes.windows(needle.len()).any(|w| w == needle))
        .map(|(name, _)| name.clone())
}

#[test]
fn a_copy_of_the_state_before_setup_holds_no_hello_key_and_no_plain_device_key() {
    let w = world();
    let upn = "sam@example.com";
    let agent = w.joined(upn, JoinType::Cloud);
    // A plaintext pool key left by an earlier version.
    let legacy = latchkey_agent::hello_key::HelloKey::generate().unwrap();
    agent
        .state()
        .write_bytes(
            &format!("pool/{}.key", legacy.key_id()),
            legacy.to_pkcs8().unwrap().as_slice(),
        )
        .unwrap();
    latchkey_agent::pool::remove_legacy(agent.state()).unwrap();
    assert!(!agent.state().path("pool").exists());

    let copy = snapshot(agent.state().root());
    agent.check_prerequisites(upn).unwrap();
    agent
        .provision(upn, PIN, &password_only(), &mut |_| {})
        .unwrap();
    let mut container = agent.container(upn).unwrap().unwrap();
    let hello = container.unlock(PIN, agent.now()).unwrap();
    let der = hello.to_pkcs8().unwrap();
    for needle in [der.to_vec(), b64::encode(der.as_slice()).into_bytes()] {
        assert_eq!(
            contains(&copy, &needle),
            None,
            "the Hello key was in the copy"
        );
    }
    // After setup, the key is only there wrapped.
    let after = snapshot(agent.state().root());
    assert_eq!(
        contains(&after, &b64::encode(der.as_slice()).into_bytes()),
        None
    );

    let record = DeviceRecord::require(agent.state()).unwrap();
    let device_der = agent.device_key(&record).unwrap().to_pkcs8().unwrap();
    for needle in [
        device_der.to_vec(),
        b64::encode(device_der.as_slice()).into_bytes(),
    ] {
        assert_eq!(
            contains(&copy, &needle),
            None,
            "the device key was in plaintext"
        );
    }
    assert!(record.device_key.is_empty());
    // The copy without this machine's identity: the device key does not unseal.
    let copied: DeviceRecord = serde_json::from_slice(
        &copy
            .iter()
            .find(|(n, _)| n.ends_with(DEVICE_FILE))
            .unwrap()
            .1,
    )
    .unwrap();
    let other = w.machine_id.with_file_name("other-machine-id");
    std::fs::write(&other, "0123456789abcdef0123456789abcdef").unwrap();
    let err = copied.key(&MachineBinding::file(&other)).unwrap_err();
    assert_eq!(err.code(), "LK-STATE-008");
    assert_eq!(
        copied.key(&MachineBinding::none()).unwrap_err().code(),
        "LK-STATE-008"
    );
    let status = latchkey_agent::status::render(&agent.status(None).unwrap());
    assert!(
        status.contains("DeviceKeyProtection : software, encrypted under a key derived from"),
        "{status}"
    );
}

#[test]
fn a_device_joined_before_sealing_keeps_working_and_is_sealed_on_first_use() {
    let w = world();
    let upn = "tia@example.com";
    let agent = w.joined(upn, JoinType::Cloud);
    // Rewrite device.json as earlier versions wrote it: no version, the key in plaintext.
    let record = DeviceRecord::require(agent.state()).unwrap();
    let der = agent.device_key(&record).unwrap().to_pkcs8().unwrap();
    let mut old = serde_json::to_value(&record).unwrap();
    let map = old.as_object_mut().unwrap();
    map.remove("version");
    map.remove("device_key_sealed");
    map.insert("device_key".into(), b64::encode(der.as_slice()).into());
    agent.state().write_json(DEVICE_FILE, &old).unwrap();

    let status = latchkey_agent::status::render(&agent.status(None).unwrap());
    assert!(
        status.contains("DeviceKeyProtection : software, file permissions only"),
        "{status}"
    );
    agent
        .provision(upn, PIN, &password_only(), &mut |_| {})
        .unwrap();
    let sealed = DeviceRecord::require(agent.state()).unwrap();
    assert!(sealed.device_key.is_empty(), "re-protected on first use");
    assert!(sealed.device_key_sealed.is_some());
    let text = String::from_utf8(agent.state().read_bytes(DEVICE_FILE).unwrap().unwrap()).unwrap();
    assert!(!text.contains(&b64::encode(der.as_slice())));
    agent.signin(upn, PIN).unwrap();
    // The same key, sealed.
    assert_eq!(
        agent
            .device_key(&sealed)
            .unwrap()
            .to_pkcs8()
            .unwrap()
            .as_slice(),
        der.as_slice()
    );

    // Without a machine identity the key stays in plaintext and status says so.
    let mut record = sealed.clone();
    record
        .set_key(&agent.device_key(&sealed).unwrap(), &MachineBinding::none())
        .unwrap();
    assert!(!record.device_key.is_empty());
    assert!(record
        .key_protection()
        .describe()
        .starts_with("software, file permissions only"));
}

#[test]
fn unknown_record_versions_are_refused() {
    let w = world();
    let upn = "uma@example.com";
    let agent = w.enrolled(upn);
    let mut sso = serde_json::to_value(agent.sso(upn).unwrap().unwrap()).unwrap();
    sso["version"] = 9.into();
    agent
        .state()
        .write_json("sso/uma@example.com.json", &sso)
        .unwrap();
    assert_eq!(agent.sso(upn).unwrap_err().code(), "LK-STATE-006");

    let mut device = serde_json::to_value(DeviceRecord::require(agent.state()).unwrap()).unwrap();
    device["version"] = 2.into();
    agent.state().write_json(DEVICE_FILE, &device).unwrap();
    let err = agent.status(None).unwrap_err();
    assert_eq!(err.code(), "LK-STATE-006");
    assert!(err.to_string().contains("version 2"), "{err}");
}

#[test]
fn the_owner_sets_up_with_a_password_and_replacing_needs_the_one_time_code() {
    let w = world();
    let upn = "vic@example.com";
    let (agent, secret) = w.joined_with_secret(upn, JoinType::Cloud);
    assert!(!agent.mfa_needed(upn).unwrap());
    // A wrong password: the service refuses, nothing is stored.
    let wrong = Credentials {
        password: "not it".to_owned().into(),
        otp: None,
    };
    assert!(agent.provision(upn, PIN, &wrong, &mut |_| {}).is_err());
    assert!(agent.container(upn).unwrap().is_none());
    let first = agent
        .provision(upn, PIN, &password_only(), &mut |_| {})
        .unwrap();

    // Replacing: the agent asks for the code; without it the service refuses and the old
    // container stays.
    assert!(agent.mfa_needed(upn).unwrap());
    let before: Container = agent.container(upn).unwrap().unwrap();
    let err = agent
        .provision(upn, "975310", &password_only(), &mut |_| {})
        .unwrap_err();
    assert_eq!(err.code(), "LK-AUTH-005");
    assert_eq!(agent.container(upn).unwrap().unwrap(), before);
    agent.signin(upn, PIN).unwrap();

    w.server_clock.advance(latchkey_server::clock::secs(30));
    let full = Credentials {
        password: PASSWORD.to_owned().into(),
        otp: Some(w.otp(&secret)),
    };
    let second = agent.provision(upn, "975310", &full, &mut |_| {}).unwrap();
    assert_eq!(
        second.replaced_key_id.as_deref(),
        Some(first.key_id.as_str())
    );
    agent.signin(upn, "975310").unwrap();
}

/// An agent over `dir` with no service behind it.
fn offline(dir: &Path) -> latchkey_agent::Agent {
    latchkey_agent::Agent::new(
        latchkey_agent::store::StateDir::new(dir),
        Box::new(latchkey_agent::clock::FixedClock::at(0)),
        false,
    )
}

#[test]
fn status_refuses_a_fifo_or_a_link_to_dev_zero_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let agent = offline(&dir);
    agent.state().write_bytes("events.json", b"[]").unwrap();
    let device = dir.join(DEVICE_FILE);
    let made = std::process::Command::new("mkfifo")
        .arg(&device)
        .status()
        .unwrap();
    assert!(made.success());
    // A blocking open would wait for a writer forever; the bound only catches a hang.
    let started = std::time::Instant::now();
    let err = agent.status(None).unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(err.code(), "LK-STATE-001");
    std::fs::remove_file(&device).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &device).unwrap();
    let err = agent.status(None).unwrap_err();
    assert_eq!(err.code(), "LK-STATE-001");
    assert!(err.to_string().contains("symbolic link"), "{err}");
}

#[test]
fn a_sign_in_replaces_a_planted_link_and_leaves_its_target_untouched() {
    let w = world();
    let upn = "wes@example.com";
    let agent = w.enrolled(upn);
    let sso = agent.state().path("sso/wes@example.com.json");
    let target = w.machine_id.with_file_name("victim.txt");
    std::fs::write(&target, b"not yours").unwrap();
    std::fs::remove_file(&sso).unwrap();
    std::os::unix::fs::symlink(&target, &sso).unwrap();
    agent.signin(upn, PIN).unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"not yours");
    assert!(std::fs::symlink_metadata(&sso)
        .unwrap()
        .file_type()
        .is_file());
    assert!(agent.sso(upn).unwrap().is_some());
}

#[test]
fn a_world_writable_state_directory_is_refused_naming_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let w = world();
    let upn = "xia@example.com";
    let agent = w.enrolled(upn);
    let root = agent.state().root().to_path_buf();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o777)).unwrap();
    let before = snapshot(&root);
    let err = agent.signin(upn, PIN).unwrap_err();
    assert_eq!(err.code(), "LK-STATE-003");
    assert!(
        err.to_string()
            .contains(&format!("chmod 700 {}", root.display())),
        "{err}"
    );
    assert_eq!(snapshot(&root), before, "nothing written");
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700)).unwrap();
    agent.signin(upn, PIN).unwrap();
}

#[test]
fn a_damaged_container_does_not_use_up_tries() {
    let w = world();
    let upn = "yan@example.com";
    let agent = w.enrolled(upn);
    let name = "hello/yan@example.com.json";
    let mut c: serde_json::Value =
        serde_json::from_slice(&agent.state().read_bytes(name).unwrap().unwrap()).unwrap();
    c["key_id"] = "00".repeat(32).into();
    agent.state().write_json(name, &c).unwrap();
    for _ in 0..7 {
        let err = agent.signin(upn, PIN).unwrap_err();
        assert_eq!(err.code(), "LK-STATE-007");
    }
    let after: serde_json::Value =
        serde_json::from_slice(&agent.state().read_bytes(name).unwrap().unwrap()).unwrap();
    assert_eq!(after["lockout"]["failures"], 0, "no try counted");
}
