//! The HPKE suite of recovery blobs and answers: single-shot base-mode seal and open.

use hpke::aead::AesGcm256;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};
use latchkey_proto::api::pin_reset::{
    PinRecoveryKey, PinResetResponse, RecoveryBlob, ANSWER_INFO, BLOB_INFO, SECRET_LEN, X25519_LEN,
};
use latchkey_proto::b64;
use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use crate::error::RecoveryError;
use crate::keys::{check_public, RecoveryKeyPair};
use crate::wrap::RecoverySecret;

type Kem = X25519HkdfSha256;
/// AES-256-GCM's tag.
const TAG_LEN: usize = 16;

fn malformed(field: &'static str, detail: impl std::fmt::Display) -> RecoveryError {
    RecoveryError::Malformed {
        field,
        detail: detail.to_string(),
    }
}

fn fixed(field: &'static str, text: &str, len: usize) -> Result<Vec<u8>, RecoveryError> {
    let bytes = b64::decode(field, text).map_err(|e| malformed(field, e))?;
    if bytes.len() != len {
        return Err(malformed(
            field,
            format!("{} bytes, expected {len}", bytes.len()),
        ));
    }
    Ok(bytes)
}

/// An X25519 public key from base64url.
pub(crate) fn public_from(
    field: &'static str,
    text: &str,
) -> Result<<Kem as hpke::Kem>::PublicKey, RecoveryError> {
    let bytes = fixed(field, text, X25519_LEN)?;
    <Kem as hpke::Kem>::PublicKey::from_bytes(&bytes).map_err(|e| malformed(field, e))
}

fn seal(
    public: &<Kem as hpke::Kem>::PublicKey,
    info: &[u8],
    plaintext: &[u8],
    aad: &[u8],
    rng: &mut (impl RngCore + CryptoRng),
    what: &'static str,
) -> Result<(String, String), RecoveryError> {
    let (enc, ciphertext) = hpke::single_shot_seal::<AesGcm256, HkdfSha256, Kem, _>(
        &OpModeS::Base,
        public,
        info,
        plaintext,
        aad,
        rng,
    )
    .map_err(|_| RecoveryError::Seal { what })?;
    Ok((b64::encode(enc.to_bytes()), b64::encode(ciphertext)))
}

/// Opens an HPKE ciphertext of a recovery secret (`enc`, `ciphertext` base64url).
pub(crate) fn open(
    private: &<Kem as hpke::Kem>::PrivateKey,
    enc: &str,
    ciphertext: &str,
    info: &[u8],
    aad: &[u8],
    what: &'static str,
) -> Result<Zeroizing<Vec<u8>>, RecoveryError> {
    let enc = fixed("encapsulated key", enc, X25519_LEN)?;
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&enc)
        .map_err(|e| malformed("encapsulated key", e))?;
    let ciphertext = fixed("ciphertext", ciphertext, SECRET_LEN + TAG_LEN)?;
    hpke::single_shot_open::<AesGcm256, HkdfSha256, Kem>(
        &OpModeR::Base,
        private,
        &enc,
        info,
        &ciphertext,
        aad,
    )
    .map(Zeroizing::new)
    .map_err(|_| RecoveryError::DoesNotOpen { what })
}

/// Seals `secret` to the tenant's PIN-recovery key `key`, bound to `aad`
/// ([`latchkey_proto::api::pin_reset::blob_aad`]).
pub fn seal_secret(
    key: &PinRecoveryKey,
    aad: &[u8],
    secret: &RecoverySecret,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<RecoveryBlob, RecoveryError> {
    check_public(key)?;
    let public = public_from("PIN-recovery public key", &key.public_key)?;
    let (enc, ciphertext) = seal(
        &public,
        BLOB_INFO,
        secret.as_bytes(),
        aad,
        rng,
        "recovery blob",
    )?;
    Ok(RecoveryBlob {
        recovery_key_id: key.key_id.clone(),
        enc,
        ciphertext,
    })
}

/// Opens `blob` with the tenant's key `pair` (the one its key id names), for `aad`.
pub fn open_blob(
    pair: &RecoveryKeyPair,
    blob: &RecoveryBlob,
    aad: &[u8],
) -> Result<RecoverySecret, RecoveryError> {
    if blob.recovery_key_id != pair.key_id() {
        return Err(RecoveryError::DoesNotOpen {
            what: "recovery blob",
        });
    }
    let secret = open(
        pair.private(),
        &blob.enc,
        &blob.ciphertext,
        BLOB_INFO,
        aad,
        "recovery blob",
    )?;
    RecoverySecret::from_bytes(&secret)
}

/// Seals `secret` to the device's ephemeral `response_key` (base64url) for the request whose
/// nonce is `nonce`; `current` is the tenant's current recovery key, for the device's new blob.
pub fn seal_answer(
    secret: &RecoverySecret,
    response_key: &str,
    nonce: &str,
    current: PinRecoveryKey,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<PinResetResponse, RecoveryError> {
    let public = public_from("response key", response_key)?;
    let (enc, ciphertext) = seal(
        &public,
        ANSWER_INFO,
        secret.as_bytes(),
        nonce.as_bytes(),
        rng,
        "PIN-reset answer",
    )?;
    Ok(PinResetResponse {
        enc,
        ciphertext,
        recovery_key: current,
    })
}

/// Checks that `text` is a usable response key (base64url X25519 public key).
pub fn check_response_key(text: &str) -> Result<(), RecoveryError> {
    public_from("response key", text).map(|_| ())
}
