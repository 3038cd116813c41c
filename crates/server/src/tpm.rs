//! Service-side TPM attestation support: the tenant's manufacturer roots as trust
//! anchors, ordering an EK certificate's chain, the random generator the MakeCredential
//! construction draws from, and the mapping of the verifier's errors to HTTP codes.

use latchkey_attest::tpm::ek::{verify_ek_certificate, VerifiedEk};
use latchkey_attest::{AttestError, TrustAnchor};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::clock::Env;
use crate::error::ApiError;
use crate::storage::tpm::TpmRoot;

/// How long a credential activation stays valid, in seconds.
pub const ACTIVATION_LIFETIME_SECS: i64 = 300;
/// The most certificates between an EK certificate and a root the service looks at.
pub const MAX_EK_CHAIN: usize = 6;
/// The most intermediates a device may send.
pub const MAX_DEVICE_INTERMEDIATES: usize = 4;

/// The attestation of a key made in a TPM the service verified.
pub const ATTESTATION_TPM: &str = "tpm";
/// The attestation of every other key.
pub const ATTESTATION_SOFTWARE: &str = "software";

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A certificate file's DER: PEM (`-----BEGIN CERTIFICATE-----`) or DER as is. Exactly one
/// certificate, with nothing after it.
pub fn certificate_der(file: &[u8]) -> Result<Vec<u8>, String> {
    let der = if file.starts_with(b"-----BEGIN") {
        let (rest, pem) = x509_parser::pem::parse_x509_pem(file)
            .map_err(|e| format!("not a PEM certificate: {e}"))?;
        if !rest.iter().all(u8::is_ascii_whitespace) {
            return Err("more than one PEM block; add one certificate per file".into());
        }
        if pem.label != "CERTIFICATE" {
            return Err(format!("a PEM {} block, not a CERTIFICATE", pem.label));
        }
        pem.contents
    } else {
        file.to_vec()
    };
    let (rest, _) =
        X509Certificate::from_der(&der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
    if !rest.is_empty() {
        return Err("trailing bytes after the certificate".into());
    }
    Ok(der)
}

/// What `tpm-roots add` records of a certificate: subject, end of validity, and whether it
/// is a CA (a root or intermediate must be).
pub fn describe_certificate(der: &[u8]) -> Result<(String, i64, bool), String> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let is_ca = cert
        .basic_constraints()
        .ok()
        .flatten()
        .is_some_and(|bc| bc.value.ca);
    Ok((
        cert.subject().to_string(),
        cert.validity().not_after.timestamp(),
        is_ca,
    ))
}

/// Orders `pool` into the chain above `leaf` (issuer first), following issuer names, at
/// most [`MAX_EK_CHAIN`] long; certificates that do not fit are left out.
fn order_chain(leaf: &[u8], pool: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let parsed: Vec<(Vec<u8>, Vec<u8>, &Vec<u8>)> = pool
        .iter()
        .filter_map(|der| {
            let (_, c) = X509Certificate::from_der(der).ok()?;
            Some((
                c.subject().as_raw().to_vec(),
                c.issuer().as_raw().to_vec(),
                der,
            ))
        })
        .collect();
    let Ok((_, leaf)) = X509Certificate::from_der(leaf) else {
        return Vec::new();
    };
    let mut issuer = leaf.issuer().as_raw().to_vec();
    let mut subject = leaf.subject().as_raw().to_vec();
    let mut chain: Vec<Vec<u8>> = Vec::new();
    while chain.len() < MAX_EK_CHAIN && issuer != subject {
        let Some((s, i, der)) = parsed
            .iter()
            .find(|(s, _, der)| *s == issuer && !chain.contains(der))
        else {
            break;
        };
        chain.push((*der).clone());
        subject = s.clone();
        issuer = i.clone();
    }
    chain
}

/// Verifies an EK certificate against the tenant's roots at `at`: the device's
/// intermediates and the tenant's are both used to build the chain.
pub fn verify_ek(
    ek_cert: &[u8],
    device_chain: &[Vec<u8>],
    ek_public: &[u8],
    roots: &[TpmRoot],
    at: OffsetDateTime,
) -> Result<VerifiedEk, ApiError> {
    let anchors: Vec<TrustAnchor> = roots
        .iter()
        .filter(|r| !r.intermediate)
        .filter_map(|r| TrustAnchor::from_der(r.der.clone()).ok())
        .collect();
    if anchors.is_empty() {
        return Err(ApiError::TpmEkUntrusted(
            "the tenant has no TPM manufacturer roots".into(),
        ));
    }
    let pool: Vec<Vec<u8>> = device_chain
        .iter()
        .cloned()
        .chain(
            roots
                .iter()
                .filter(|r| r.intermediate)
                .map(|r| r.der.clone()),
        )
        .collect();
    let chain = order_chain(ek_cert, &pool);
    let refs: Vec<&TrustAnchor> = anchors.iter().collect();
    verify_ek_certificate(ek_cert, &chain, ek_public, &refs, at).map_err(ek_error)
}

/// The HTTP error of an EK certificate refusal.
pub fn ek_error(err: AttestError) -> ApiError {
    match err.code() {
        "LK-ATT-023" | "LK-ATT-024" | "LK-ATT-025" => ApiError::TpmEkUntrusted(err.to_string()),
        "LK-ATT-022" => ApiError::TpmEkNotValidNow(err.to_string()),
        _ => ApiError::TpmEkInvalid(err.to_string()),
    }
}

/// The random generator handed to MakeCredential (which takes the `rand_core`
/// interface): ChaCha20 (`rand_chacha`) seeded with 32 bytes drawn from the service's RNG
/// handle [`Env`], so drawing from it cannot fail and tests that control the handle control
/// it.
pub type SeededRng = rand_chacha::ChaCha20Rng;

/// A generator for one MakeCredential, seeded from `env`.
pub fn seeded_rng(env: &Env) -> Result<SeededRng, ApiError> {
    use rand_core::SeedableRng;
    let seed = zeroize::Zeroizing::new(env.random::<32>()?);
    Ok(SeededRng::from_seed(*seed))
}
