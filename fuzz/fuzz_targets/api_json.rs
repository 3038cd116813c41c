//! Every JSON request body of the HTTP API, deserialized with serde_json from arbitrary
//! bytes. The first byte picks the request type; the rest is the body.
//!
//! Property (round trip): a body that deserializes serializes to JSON that deserializes to
//! an equal value (compared as values for the types without `PartialEq`).
#![no_main]

use latchkey_proto::api::auth::PasswordSignIn;
use latchkey_proto::api::cert::{CertEnrollRequest, CertRenewRequest};
use latchkey_proto::api::device::{JoinRequest, LeaveRequest};
use latchkey_proto::api::key::RegisterKeyRequest;
use latchkey_proto::api::nonce::NonceRequest;
use latchkey_proto::api::pin_reset::PinResetRequest;
use latchkey_proto::api::policy::EffectivePolicyRequest;
use latchkey_proto::api::signin::{RenewRequest, SignInRequest, TokenRequest};
use latchkey_proto::api::tpm::{TpmActivateBegin, TpmActivateFinish};
use latchkey_proto::api::webauthn::{RegisterBegin, RegisterFinish, SigninBegin, SigninFinish};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;

fn eq_round_trip<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(body: &[u8]) {
    if let Ok(v) = serde_json::from_slice::<T>(body) {
        let json = serde_json::to_vec(&v).expect("serializes");
        let again: T = serde_json::from_slice(&json).expect("own output deserializes");
        assert_eq!(again, v);
    }
}

fn value_round_trip<T: DeserializeOwned + Serialize>(body: &[u8]) {
    if let Ok(v) = serde_json::from_slice::<T>(body) {
        let first = serde_json::to_value(&v).expect("serializes");
        let again: T = serde_json::from_value(first.clone()).expect("own output deserializes");
        assert_eq!(serde_json::to_value(&again).expect("serializes"), first);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((which, body)) = data.split_first() else {
        return;
    };
    match which % 18 {
        0 => eq_round_trip::<PasswordSignIn>(body),
        1 => eq_round_trip::<JoinRequest>(body),
        2 => eq_round_trip::<LeaveRequest>(body),
        3 => eq_round_trip::<RegisterKeyRequest>(body),
        4 => eq_round_trip::<NonceRequest>(body),
        5 => eq_round_trip::<EffectivePolicyRequest>(body),
        6 => eq_round_trip::<SignInRequest>(body),
        7 => eq_round_trip::<RenewRequest>(body),
        8 => eq_round_trip::<TokenRequest>(body),
        9 => value_round_trip::<RegisterBegin>(body),
        10 => value_round_trip::<SigninBegin>(body),
        11 => value_round_trip::<RegisterFinish>(body),
        12 => value_round_trip::<SigninFinish>(body),
        13 => eq_round_trip::<TpmActivateBegin>(body),
        14 => eq_round_trip::<TpmActivateFinish>(body),
        15 => eq_round_trip::<CertEnrollRequest>(body),
        16 => eq_round_trip::<CertRenewRequest>(body),
        _ => eq_round_trip::<PinResetRequest>(body),
    }
});
