//! The TPM's dictionary-attack protection counts wrong PINs and locks out, on a real
//! swtpm, read through this crate and through tpm2-tools.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use common::{swtpm, DA};
use latchkey_tpm::TpmError;

const PIN: &[u8] = b"246810";

#[test]
fn dictionary_attack_parameters_are_set() {
    let fx = swtpm();
    let state = fx.open().dictionary_attack_state().unwrap();
    assert_eq!(state.max_tries, DA.max_tries);
    assert_eq!(state.interval_seconds, DA.recovery_time);
    assert_eq!(state.lockout_recovery_seconds, DA.lockout_recovery);
    assert_eq!(state.counter, 0);
    assert!(!state.in_lockout);
    assert_eq!(fx.getcap_variable("TPM2_PT_MAX_AUTH_FAIL"), DA.max_tries);
    assert_eq!(
        fx.getcap_variable("TPM2_PT_LOCKOUT_INTERVAL"),
        DA.recovery_time
    );
}

#[test]
fn a_wrong_pin_is_refused_and_counted_by_the_tpm() {
    let fx = swtpm();
    let mut tpm = fx.open();
    let key = tpm.create_hello_key(PIN).unwrap();
    assert_eq!(tpm.dictionary_attack_state().unwrap().counter, 0);
    let err = tpm.sign_message(&key, b"000000", b"m").unwrap_err();
    assert_eq!(err, TpmError::WrongAuth);
    assert_eq!(err.code(), "LK-TPM-003");
    let state = tpm.dictionary_attack_state().unwrap();
    assert_eq!(state.counter, 1);
    assert_eq!(state.tries_left(), DA.max_tries - 1);
    drop(tpm);
    // The same count, read by an independent client.
    assert_eq!(fx.getcap_variable("TPM2_PT_LOCKOUT_COUNTER"), 1);
    // A right PIN signs and does not reset the count (only time or the lockout
    // authorisation does).
    let mut tpm = fx.open();
    tpm.sign_message(&key, PIN, b"m").unwrap();
    assert_eq!(tpm.dictionary_attack_state().unwrap().counter, 1);
    // A wrong PIN at change_auth counts too.
    assert_eq!(
        tpm.change_auth(&key, b"999999", b"1").unwrap_err(),
        TpmError::WrongAuth
    );
    assert_eq!(tpm.dictionary_attack_state().unwrap().counter, 2);
}

#[test]
fn after_max_tries_the_tpm_locks_out_and_refuses_the_right_pin_too() {
    let fx = swtpm();
    let mut tpm = fx.open();
    let key = tpm.create_hello_key(PIN).unwrap();
    for i in 0..DA.max_tries {
        let err = tpm.sign_message(&key, b"wrong", b"m").unwrap_err();
        assert_eq!(err, TpmError::WrongAuth, "try {i}");
    }
    let state = tpm.dictionary_attack_state().unwrap();
    assert!(state.in_lockout, "{state:?}");
    assert_eq!(state.tries_left(), 0);

    let err = tpm.sign_message(&key, PIN, b"m").unwrap_err();
    assert_eq!(err.code(), "LK-TPM-004", "{err}");
    let TpmError::LockedOut { recovery_seconds } = err else {
        panic!("{err}");
    };
    // Counter 3, max 3: one interval until the counter drops below the maximum.
    assert_eq!(recovery_seconds, Some(u64::from(DA.recovery_time)));
    assert!(err_text(recovery_seconds).contains("1000 s"));
    // A wrong PIN during lockout is refused the same way and is not counted further.
    let err = tpm.sign_message(&key, b"wrong", b"m").unwrap_err();
    assert_eq!(err.code(), "LK-TPM-004");
    assert_eq!(tpm.dictionary_attack_state().unwrap().counter, DA.max_tries);
    // A device key (noDA) still signs: lockout concerns DA-protected keys only.
    let device = tpm.create_device_key().unwrap();
    tpm.sign_message(&device, &[], b"m").unwrap();
    drop(tpm);
    assert!(fx.getcap_in_lockout());
    assert_eq!(fx.getcap_variable("TPM2_PT_LOCKOUT_COUNTER"), DA.max_tries);
}

fn err_text(recovery_seconds: Option<u64>) -> String {
    TpmError::LockedOut { recovery_seconds }.to_string()
}

#[test]
fn a_wrong_lockout_authorisation_is_refused_and_changes_nothing() {
    let fx = swtpm();
    let tcti = fx.swtpm.tcti().unwrap();
    let other = latchkey_tpm::DaParameters {
        max_tries: 10,
        recovery_time: 5,
        lockout_recovery: 5,
    };
    let err = latchkey_tpm::set_dictionary_attack_parameters(&tcti, other, b"not the lockout auth")
        .unwrap_err();
    assert_eq!(err.code(), "LK-TPM-014", "{err}");
    let state = fx.open().dictionary_attack_state().unwrap();
    assert_eq!(state.max_tries, DA.max_tries);
    assert_eq!(state.interval_seconds, DA.recovery_time);
}
