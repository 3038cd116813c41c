//! Where a sign-in's CPU time goes: the service's own signature checks and token signing,
//! timed one at a time on one core (the functions `latchkey-server` runs per request).

use std::time::Instant;

use anyhow::{anyhow, Result};
use latchkey_proto::claims::TokenClaims;
use latchkey_proto::proof::{proof_message, Purpose};
use latchkey_server::crypto;
use latchkey_server::tokens::TokenKeys;

use crate::sim::{DeviceKeyKind, SimDevice};

/// Times `n` runs of `f`, returning microseconds per run.
fn per_run(n: u32, mut f: impl FnMut() -> bool) -> Result<f64> {
    let start = Instant::now();
    for _ in 0..n {
        if !f() {
            return Err(anyhow!("a timed operation failed"));
        }
    }
    Ok(start.elapsed().as_secs_f64() * 1e6 / f64::from(n))
}

/// The table rows: operation | µs each | per second on one core; and the cost line for
/// `kind`, "one sign-in" with that device key, µs. Generates its own device of each kind.
pub fn measure(n: u32, kind: DeviceKeyKind) -> Result<(Vec<String>, f64)> {
    let rsa_device = SimDevice::generate("user@example.com", DeviceKeyKind::Rsa)?;
    let p256_device = SimDevice::generate("user@example.com", DeviceKeyKind::P256)?;
    let fields = [
        "tenant",
        "device",
        "user@example.com",
        rsa_device.key_id.as_str(),
    ];
    let message = proof_message(Purpose::SignIn, "nonce", &fields);
    let signature = |text: String| latchkey_proto::b64::decode("signature", &text);
    let assertion = signature(rsa_device.hello_sign(Purpose::SignIn, "nonce", &fields)?)?;
    let proof = |device: &SimDevice| -> Result<Vec<u8>> {
        Ok(signature(device.device_sign(
            Purpose::SignIn,
            "nonce",
            &fields,
        )?)?)
    };
    let (rsa_proof, p256_proof) = (proof(&rsa_device)?, proof(&p256_device)?);
    let keys = TokenKeys::from_pkcs8(
        &TokenKeys::generate_pkcs8().map_err(|e| anyhow!("{e}"))?,
        "bench",
    )
    .map_err(|e| anyhow!("{e}"))?;
    let claims = TokenClaims {
        iss: "https://127.0.0.1:8443".into(),
        sub: "00000000-0000-0000-0000-000000000001".into(),
        aud: "urn:latchkey:api".into(),
        iat: 0,
        nbf: 0,
        exp: 3600,
        jti: "jti".into(),
        tid: "00000000-0000-0000-0000-000000000002".into(),
        oid: "00000000-0000-0000-0000-000000000001".into(),
        upn: "user@example.com".into(),
        deviceid: Some("00000000-0000-0000-0000-000000000003".into()),
        amr: vec!["swk".into(), "pin".into(), "mfa".into(), "ngcmfa".into()],
        typ: "access".into(),
    };
    let hello = per_run(n, || {
        crypto::verify_hello("RSA", &rsa_device.hello_blob, &message, &assertion)
    })?;
    let rsa_device_proof = per_run(n, || {
        crypto::verify_device(&rsa_device.device_spki, &message, &rsa_proof)
    })?;
    let p256_device_proof = per_run(n, || {
        crypto::verify_device(&p256_device.device_spki, &message, &p256_proof)
    })?;
    let es256 = per_run(n, || keys.sign(&claims).is_ok())?;
    let row = |name: &str, us: f64| format!("| {name} | {us:.1} | {:.0} |", 1e6 / us);
    let rsa_signin = hello + rsa_device_proof + 2.0 * es256;
    let p256_signin = hello + p256_device_proof + 2.0 * es256;
    let cost_line = match kind {
        DeviceKeyKind::Rsa => rsa_signin,
        DeviceKeyKind::P256 => p256_signin,
    };
    let rows = vec![
        "| operation (service code, one core) | µs each | per second |".to_owned(),
        "|---|---|---|".to_owned(),
        row("RSA-2048 PKCS#1 v1.5 verify (Hello assertion)", hello),
        row(
            "RSA-2048 device proof verify (from its SubjectPublicKeyInfo)",
            rsa_device_proof,
        ),
        row("ECDSA P-256 device proof verify", p256_device_proof),
        row("ES256 JWT signing (one token)", es256),
        row(
            "one sign-in, RSA device key: 2 RSA verifies + 2 ES256 tokens",
            rsa_signin,
        ),
        row(
            "one sign-in, P-256 device key: RSA + P-256 verify + 2 ES256 tokens",
            p256_signin,
        ),
    ];
    Ok((rows, cost_line))
}
