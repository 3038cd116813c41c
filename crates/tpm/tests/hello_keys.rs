//! Hello keys and device keys on a real swtpm.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use common::{ring_verify, swtpm};
use latchkey_tpm::{KeyBlob, SrkSource, TpmError};

const PIN: &[u8] = b"123456";

#[test]
fn info_reports_the_simulator() {
    let fx = swtpm();
    let mut tpm = fx.open();
    let info = tpm.info().unwrap();
    assert_eq!(info.manufacturer, "IBM");
    assert_eq!(info.family, "2.0");
    assert!(info.revision >= 116, "{info:?}");
    assert_ne!(info.firmware_version_1, 0);
    drop(tpm);
    let probe = latchkey_tpm::probe(Some(&fx.swtpm.tcti().unwrap()));
    assert!(probe.usable(), "{}", probe.reason());
    assert!(probe.reason().contains("IBM"), "{}", probe.reason());
}

#[test]
fn probe_of_a_closed_port_says_unavailable() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let tcti = latchkey_tpm::Tcti::parse(&format!("swtpm:host=127.0.0.1,port={port}")).unwrap();
    let probe = latchkey_tpm::probe(Some(&tcti));
    assert!(!probe.usable());
    assert_eq!(probe.unusable.as_ref().unwrap().code(), "LK-TPM-001");
    assert!(probe.reason().contains("LK-TPM-001"), "{}", probe.reason());
}

#[test]
fn a_tpm_12_is_reported_as_one_and_a_tpm_20_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let old = latchkey_tpm::swtpm::SwTpm::start_tpm12(dir.path()).unwrap();
    let tcti = old.tcti().unwrap();
    assert_eq!(
        latchkey_tpm::family::raw_family(&tcti),
        Some(latchkey_tpm::family::Family::Tpm12)
    );
    let probe = latchkey_tpm::probe(Some(&tcti));
    assert!(!probe.usable());
    assert!(probe.is_tpm12(), "{}", probe.reason());
    assert_eq!(probe.unusable.as_ref().unwrap().code(), "LK-TPM-010");
    assert!(probe.reason().contains("1.2"), "{}", probe.reason());

    let fx = swtpm();
    let tcti = fx.swtpm.tcti().unwrap();
    assert_eq!(
        latchkey_tpm::family::raw_family(&tcti),
        Some(latchkey_tpm::family::Family::Tpm20)
    );
    assert!(!latchkey_tpm::probe(Some(&tcti)).is_tpm12());
}

#[test]
fn hello_key_signs_inside_the_tpm_and_ring_verifies() {
    let fx = swtpm();
    let mut tpm = fx.open();
    let key = tpm.create_hello_key(PIN).unwrap();
    assert_eq!(tpm.srk_source().unwrap(), SrkSource::Transient);
    let public = key.rsa_public().unwrap();
    assert_eq!(public.modulus.len(), 256);
    assert_eq!(public.exponent, [1, 0, 1]);

    // The stored form round-trips and is what signs.
    let stored = KeyBlob::from_bytes(&key.private_bytes(), &key.public_area().unwrap()).unwrap();
    assert_eq!(stored, key);
    let message = b"latchkey proof message";
    let sig = tpm.sign_message(&stored, PIN, message).unwrap();
    assert_eq!(sig.len(), 256);
    assert!(ring_verify(&public, message, &sig));
    assert!(!ring_verify(&public, b"another message", &sig));

    // The attributes the issue requires, read back from the public area.
    let area =
        latchkey_attest::tpm::public::TpmtPublic::parse(&key.public_area().unwrap()).unwrap();
    let a = area.attributes;
    assert!(a.fixed_tpm() && a.fixed_parent() && a.sensitive_data_origin());
    assert!(a.user_with_auth() && a.sign());
    assert!(
        !a.no_da(),
        "a Hello key must be dictionary-attack protected"
    );
    assert!(!a.restricted());
}

#[test]
fn device_key_signs_with_empty_auth_and_is_no_da() {
    let fx = swtpm();
    let mut tpm = fx.open();
    let key = tpm.create_device_key().unwrap();
    let sig = tpm.sign_message(&key, &[], b"device proof").unwrap();
    assert!(ring_verify(
        &key.rsa_public().unwrap(),
        b"device proof",
        &sig
    ));
    let area =
        latchkey_attest::tpm::public::TpmtPublic::parse(&key.public_area().unwrap()).unwrap();
    assert!(area.attributes.no_da());
    assert!(area.attributes.fixed_tpm());
}

#[test]
fn change_auth_keeps_the_key_and_the_old_blob_still_works_with_the_old_pin() {
    let fx = swtpm();
    let mut tpm = fx.open();
    let old = tpm.create_hello_key(b"").unwrap();
    let new = tpm.change_auth(&old, b"", PIN).unwrap();
    assert_eq!(new.public_area().unwrap(), old.public_area().unwrap());
    assert_ne!(new.private_bytes(), old.private_bytes());
    let public = new.rsa_public().unwrap();

    let sig = tpm.sign_message(&new, PIN, b"m").unwrap();
    assert!(ring_verify(&public, b"m", &sig));
    assert_eq!(
        tpm.sign_message(&new, b"", b"m").unwrap_err(),
        TpmError::WrongAuth
    );

    // ObjectChangeAuth does not revoke anything: the old blob still loads and still signs
    // with the old authorisation value. This is why the agent must delete it.
    let sig = tpm.sign_message(&old, b"", b"m").unwrap();
    assert!(ring_verify(&public, b"m", &sig));
}

#[test]
fn a_key_from_another_tpm_is_refused_with_a_clear_error() {
    let a = swtpm();
    let b = swtpm();
    let key = a.open().create_hello_key(PIN).unwrap();
    let mut tpm_b = b.open();
    let err = tpm_b.sign_message(&key, PIN, b"m").unwrap_err();
    assert_eq!(err.code(), "LK-TPM-005", "{err}");
    assert!(matches!(err, TpmError::NotThisTpm { .. }), "{err}");
    // Not counted as a wrong PIN: the key never loaded.
    assert_eq!(tpm_b.dictionary_attack_state().unwrap().counter, 0);
    // Nor can the other TPM change its PIN.
    assert_eq!(
        tpm_b.change_auth(&key, PIN, b"x").unwrap_err().code(),
        "LK-TPM-005"
    );
}

#[test]
fn auth_longer_than_the_name_digest_is_refused_before_the_tpm() {
    let fx = swtpm();
    let mut tpm = fx.open();
    let err = tpm.create_hello_key(&[7; 33]).unwrap_err();
    assert_eq!(err, TpmError::AuthTooLong { len: 33, max: 32 });
    assert_eq!(err.code(), "LK-TPM-007");
}

/// A persistent SRK at 0x81000001 made by tpm2-tools from the standard template is found
/// and used, and it is the same key as the recreated one: a blob made under the transient
/// SRK loads under the persistent one.
#[test]
fn a_persistent_standard_srk_is_used_and_is_the_same_key() {
    let fx = swtpm();
    let mut tpm = fx.open();
    let key = tpm.create_hello_key(PIN).unwrap();
    assert_eq!(tpm.srk_source().unwrap(), SrkSource::Transient);
    drop(tpm);

    let tcti = fx.swtpm.tcti().unwrap();
    let ctx = fx.dir.path().join("srk.ctx");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(args[0])
            .args(&args[1..])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "tpm2_createprimary",
        "--tcti",
        tcti.as_str(),
        "-C",
        "o",
        "-g",
        "sha256",
        "-G",
        "rsa2048:null:aes128cfb",
        "-a",
        "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt",
        "-c",
        ctx.to_str().unwrap(),
    ]);
    run(&[
        "tpm2_evictcontrol",
        "--tcti",
        tcti.as_str(),
        "-C",
        "o",
        "-c",
        ctx.to_str().unwrap(),
        "0x81000001",
    ]);
    run(&["tpm2_flushcontext", "--tcti", tcti.as_str(), "-t"]);

    let mut tpm = fx.open();
    assert_eq!(tpm.srk_source().unwrap(), SrkSource::Persistent);
    let sig = tpm.sign_message(&key, PIN, b"m").unwrap();
    assert!(ring_verify(&key.rsa_public().unwrap(), b"m", &sig));
}

/// A persistent object at 0x81000001 that is not the standard SRK (here: without noDA) is
/// not used; the SRK is recreated from the template instead.
#[test]
fn a_nonstandard_persistent_key_is_not_taken_for_the_srk() {
    let fx = swtpm();
    let tcti = fx.swtpm.tcti().unwrap();
    let ctx = fx.dir.path().join("other.ctx");
    for args in [
        vec![
            "tpm2_createprimary",
            "--tcti",
            tcti.as_str(),
            "-C",
            "o",
            "-g",
            "sha256",
            "-G",
            "rsa2048:null:aes128cfb",
            "-a",
            "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|decrypt",
            "-c",
            ctx.to_str().unwrap(),
        ],
        vec![
            "tpm2_evictcontrol",
            "--tcti",
            tcti.as_str(),
            "-C",
            "o",
            "-c",
            ctx.to_str().unwrap(),
            "0x81000001",
        ],
        vec!["tpm2_flushcontext", "--tcti", tcti.as_str(), "-t"],
    ] {
        let out = std::process::Command::new(args[0])
            .args(&args[1..])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut tpm = fx.open();
    assert_eq!(tpm.srk_source().unwrap(), SrkSource::Transient);
    let key = tpm.create_hello_key(PIN).unwrap();
    tpm.sign_message(&key, PIN, b"m").unwrap();
}

/// With an owner authorisation set and no persistent SRK, the SRK cannot be recreated: the
/// error says so, and is not reported as a wrong PIN.
#[test]
fn an_owner_password_without_persistent_srk_is_reported_as_such() {
    let fx = swtpm();
    let tcti = fx.swtpm.tcti().unwrap();
    let out = std::process::Command::new("tpm2_changeauth")
        .args(["--tcti", tcti.as_str(), "-c", "owner", "ownerpass"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = fx.open().create_hello_key(PIN).unwrap_err();
    assert_eq!(err.code(), "LK-TPM-008", "{err}");
    assert!(err.to_string().contains("owner hierarchy"), "{err}");
}
