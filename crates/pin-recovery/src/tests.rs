//! Round trips and every way a blob, an answer or a wrap must refuse to open.

use latchkey_proto::api::pin_reset::{blob_aad, HPKE_SUITE};
use rand::rngs::OsRng;

use crate::*;

fn aad() -> Vec<u8> {
    blob_aad("tenant", "device-1", "kim@contoso.test", "ab12")
}

#[test]
fn a_blob_opens_with_the_tenant_key_for_its_own_aad_only() {
    let pair = RecoveryKeyPair::generate(&mut OsRng);
    let secret = RecoverySecret::generate(&mut OsRng);
    let blob = seal_secret(&pair.public_key(), &aad(), &secret, &mut OsRng).unwrap();
    assert_eq!(blob.recovery_key_id, pair.key_id());
    let opened = open_blob(&pair, &blob, &aad()).unwrap();
    assert_eq!(opened.as_bytes(), secret.as_bytes());

    // Another device, user or key: the additional data differs.
    for other in [
        blob_aad("tenant", "device-2", "kim@contoso.test", "ab12"),
        blob_aad("tenant", "device-1", "bob@contoso.test", "ab12"),
        blob_aad("tenant", "device-1", "kim@contoso.test", "cd34"),
        blob_aad("other", "device-1", "kim@contoso.test", "ab12"),
    ] {
        let err = open_blob(&pair, &blob, &other).unwrap_err();
        assert_eq!(err.code(), "LK-REC-002", "{err}");
    }
    // Another tenant key (same id claimed, or its own).
    let other = RecoveryKeyPair::generate(&mut OsRng);
    assert_eq!(
        open_blob(&other, &blob, &aad()).unwrap_err().code(),
        "LK-REC-002"
    );
    let mut relabelled = blob.clone();
    relabelled.recovery_key_id = other.key_id();
    assert_eq!(
        open_blob(&other, &relabelled, &aad()).unwrap_err().code(),
        "LK-REC-002"
    );
}

#[test]
fn altered_or_malformed_blobs_are_refused_with_their_codes() {
    let pair = RecoveryKeyPair::generate(&mut OsRng);
    let secret = RecoverySecret::generate(&mut OsRng);
    let blob = seal_secret(&pair.public_key(), &aad(), &secret, &mut OsRng).unwrap();
    let mut bytes = latchkey_proto::b64::decode("c", &blob.ciphertext).unwrap();
    bytes[3] ^= 1;
    let mut flipped = blob.clone();
    flipped.ciphertext = latchkey_proto::b64::encode(&bytes);
    assert_eq!(
        open_blob(&pair, &flipped, &aad()).unwrap_err().code(),
        "LK-REC-002"
    );

    for (enc, ct) in [
        ("!!", blob.ciphertext.as_str()),
        ("AAAA", blob.ciphertext.as_str()),
        (blob.enc.as_str(), "AAAA"),
        (blob.enc.as_str(), &*"A".repeat(100_000)),
    ] {
        let bad = latchkey_proto::api::pin_reset::RecoveryBlob {
            recovery_key_id: blob.recovery_key_id.clone(),
            enc: enc.to_owned(),
            ciphertext: ct.to_owned(),
        };
        assert_eq!(
            open_blob(&pair, &bad, &aad()).unwrap_err().code(),
            "LK-REC-001"
        );
    }
}

#[test]
fn the_answer_opens_only_with_the_ephemeral_key_for_its_nonce() {
    let pair = RecoveryKeyPair::generate(&mut OsRng);
    let secret = RecoverySecret::generate(&mut OsRng);
    let device = EphemeralKey::generate(&mut OsRng);
    let answer = seal_answer(
        &secret,
        &device.public_b64(),
        "nonce-1",
        pair.public_key(),
        &mut OsRng,
    )
    .unwrap();
    assert_eq!(
        device.open_answer(&answer, "nonce-1").unwrap().as_bytes(),
        secret.as_bytes()
    );
    assert_eq!(
        device.open_answer(&answer, "nonce-2").unwrap_err().code(),
        "LK-REC-002"
    );
    let eavesdropper = EphemeralKey::generate(&mut OsRng);
    assert_eq!(
        eavesdropper
            .open_answer(&answer, "nonce-1")
            .unwrap_err()
            .code(),
        "LK-REC-002"
    );
    assert_eq!(
        check_response_key("short").unwrap_err().code(),
        "LK-REC-001"
    );
}

#[test]
fn the_wrap_returns_the_key_only_under_its_secret_user_and_key_id() {
    let secret = RecoverySecret::generate(&mut OsRng);
    let pkcs8 = b"not really a key, but bytes".to_vec();
    let wrapped = wrap_key(&secret, "kim@contoso.test", "ab12", &pkcs8, &mut OsRng).unwrap();
    let back = unwrap_key(&secret, "kim@contoso.test", "ab12", &wrapped).unwrap();
    assert_eq!(back.as_slice(), pkcs8.as_slice());
    let other = RecoverySecret::generate(&mut OsRng);
    assert_eq!(
        unwrap_key(&other, "kim@contoso.test", "ab12", &wrapped)
            .unwrap_err()
            .code(),
        "LK-REC-002"
    );
    assert_eq!(
        unwrap_key(&secret, "bob@contoso.test", "ab12", &wrapped)
            .unwrap_err()
            .code(),
        "LK-REC-002"
    );
    assert_eq!(
        unwrap_key(&secret, "kim@contoso.test", "cd34", &wrapped)
            .unwrap_err()
            .code(),
        "LK-REC-002"
    );
}

#[test]
fn key_pairs_round_trip_and_public_keys_are_checked() {
    let pair = RecoveryKeyPair::generate(&mut OsRng);
    let again = RecoveryKeyPair::from_private(&pair.private_bytes()).unwrap();
    assert_eq!(again.public_key(), pair.public_key());
    assert_eq!(pair.public_key().suite, HPKE_SUITE);
    let secret = RecoverySecret::generate(&mut OsRng);

    let mut wrong_id = pair.public_key();
    wrong_id.key_id = "00".repeat(16);
    assert_eq!(
        seal_secret(&wrong_id, &aad(), &secret, &mut OsRng)
            .unwrap_err()
            .code(),
        "LK-REC-001"
    );
    let mut wrong_suite = pair.public_key();
    wrong_suite.suite = "RSA-OAEP".into();
    assert_eq!(
        seal_secret(&wrong_suite, &aad(), &secret, &mut OsRng)
            .unwrap_err()
            .code(),
        "LK-REC-003"
    );
    assert_eq!(
        RecoveryKeyPair::from_private(&[1, 2]).unwrap_err().code(),
        "LK-REC-001"
    );
    assert!(!format!("{:?} {:?}", pair, secret).contains(&format!("{:?}", secret.as_bytes())));
}

proptest::proptest! {
    /// Whatever a client sends as a blob or a response key is refused with a code, never a
    /// panic, and only a well-formed blob reaches the HPKE open.
    #[test]
    fn arbitrary_blobs_and_response_keys_are_refused_without_panic(
        id in ".{0,40}",
        enc in "[A-Za-z0-9_-]{0,80}",
        ct in "[A-Za-z0-9_-]{0,120}",
        response in ".{0,60}",
    ) {
        let pair = RecoveryKeyPair::from_private(&[7; 32]).unwrap();
        let blob = latchkey_proto::api::pin_reset::RecoveryBlob {
            recovery_key_id: id,
            enc,
            ciphertext: ct,
        };
        let err = open_blob(&pair, &blob, &aad()).unwrap_err();
        proptest::prop_assert!(["LK-REC-001", "LK-REC-002"].contains(&err.code()));
        let _ = check_response_key(&response);
        let answer = latchkey_proto::api::pin_reset::PinResetResponse {
            enc: blob.enc.clone(),
            ciphertext: blob.ciphertext.clone(),
            recovery_key: pair.public_key(),
        };
        proptest::prop_assert!(EphemeralKey::generate(&mut OsRng).open_answer(&answer, "n").is_err());
    }
}
