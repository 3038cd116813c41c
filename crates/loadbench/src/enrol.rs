//! What a simulated device sends: its join, and the bodies of its Hello key registration,
//! sign-in and token request, as `latchkey join`, `hello setup`, `signin` and `token` do.

use anyhow::Result;
use latchkey_proto::api::{device, key, signin};
use latchkey_proto::b64;
use latchkey_proto::proof::{self, Purpose};

use crate::client::Api;
use crate::sim::SimDevice;
use crate::BENCH_AUDIENCE;

/// Joins `dev` live (a `join` nonce, the device-key proof, `POST /v1/devices/join` with the
/// user's enrolment token) and records its device id.
pub async fn join(api: &Api, tid: &str, dev: &SimDevice, token: &str) -> Result<()> {
    let nonce = api.nonce(Purpose::Join).await?;
    let spki = dev.device_spki_b64();
    let sig = dev.device_sign(Purpose::Join, &nonce, &[tid, &spki])?;
    let req = device::JoinRequest {
        nonce,
        display_name: "bench".into(),
        os: "bench".into(),
        join_type: device::JoinType::Cloud,
        device_public_key: spki,
        signature: sig,
    };
    let r: device::JoinResponse = api.post("/v1/devices/join", &req, Some(token)).await?;
    dev.device_id
        .set(r.device_id)
        .map_err(|_| anyhow::anyhow!("device joined twice"))
}

/// The registration of `dev`'s software Hello key over `nonce`, with both proofs.
pub fn register_request(
    dev: &SimDevice,
    nonce: &str,
    tid: &str,
) -> Result<key::RegisterKeyRequest> {
    let fields = [tid, dev.id(), dev.upn.as_str(), dev.key_id.as_str()];
    Ok(key::RegisterKeyRequest {
        device_id: dev.id().to_string(),
        upn: dev.upn.clone(),
        nonce: nonce.to_string(),
        public_key: key::PublicKey {
            alg: key::KeyAlgorithm::Rsa,
            data: b64::encode(&dev.hello_blob),
        },
        device_signature: dev.device_sign(Purpose::RegisterKey, nonce, &fields)?,
        key_signature: dev.hello_sign(Purpose::RegisterKey, nonce, &fields)?,
        tpm_attestation: None,
        certificate_request: None,
        pin_reset: false,
    })
}

/// The sign-in of `dev` over `nonce`, both proofs signed (its Hello key in software).
pub fn signin_request(dev: &SimDevice, nonce: &str, tid: &str) -> Result<signin::SignInRequest> {
    let fields = [tid, dev.id(), dev.upn.as_str(), dev.key_id.as_str()];
    Ok(signin::SignInRequest {
        upn: dev.upn.clone(),
        device_id: dev.id().to_string(),
        key_id: dev.key_id.clone(),
        nonce: nonce.to_string(),
        assertion: dev.hello_sign(Purpose::SignIn, nonce, &fields)?,
        device_signature: dev.device_sign(Purpose::SignIn, nonce, &fields)?,
    })
}

/// The request of a token for [`BENCH_AUDIENCE`] from `prt`, with `dev`'s device-key
/// proof over `nonce`.
pub fn token_request(
    dev: &SimDevice,
    prt: String,
    nonce: &str,
    tid: &str,
) -> Result<signin::TokenRequest> {
    let binding = proof::prt_binding(&prt);
    let fields = [tid, dev.id(), binding.as_str(), BENCH_AUDIENCE];
    Ok(signin::TokenRequest {
        device_signature: Some(dev.device_sign(Purpose::Token, nonce, &fields)?),
        prt,
        audience: BENCH_AUDIENCE.into(),
        device_id: Some(dev.id().to_string()),
        nonce: Some(nonce.to_string()),
    })
}
