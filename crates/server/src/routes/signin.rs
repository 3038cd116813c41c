//! `POST /v1/signin` (Hello sign-in) and `POST /v1/prt/renew`, and the token issuance they
//! share with `POST /v1/token`.
//!
//! The hot path: a stateless nonce check, one read of user + device + key, two signature
//! verifications on the stored key bytes, two ES256 signatures with the in-memory tenant key,
//! and one write transaction (nonce, token, audit).

use axum::extract::State;
use latchkey_proto::api::signin::{RenewRequest, SignInRequest, SignInResponse};
use latchkey_proto::claims::{amr, TokenClaims};
use latchkey_proto::proof::{proof_message, prt_binding, Purpose};
use sha2::{Digest, Sha256};

use super::audited;
use super::extract::{b64, ClientAddr, Json};
use crate::audit::{self, event};
use crate::crypto;
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::{AuditRecord, Device, KeyCredential, Prt, SignInContext, User};
use crate::tokens::{typ, ACCESS_LIFETIME_SECS, DEFAULT_AUDIENCE, ID_TOKEN_AUDIENCE};

/// Lifetime of a primary refresh token (14 days).
pub const PRT_LIFETIME_SECS: i64 = 14 * 24 * 3600;

/// Hello sign-in.
pub async fn signin(
    State(state): State<AppState>,
    addr: ClientAddr,
    Json(req): Json<SignInRequest>,
) -> Result<axum::Json<SignInResponse>, ApiError> {
    let line = audit::line(event::SIGNIN, state.now())
        .source(addr.ip())
        .actor(req.upn.trim().to_lowercase())
        .device(&req.device_id)
        .key(&req.key_id);
    match signin_checked(&state, &req, line.clone()).await {
        Ok(response) => Ok(axum::Json(response)),
        Err(err) => Err(audited(&state, line, err).await),
    }
}

/// The device, user and key of a key-based request, each present and enabled, the key
/// this user's on this device: `LK-DEV-001/002`, `LK-AUTH-001/007`, `LK-KEY-001/002/005`.
pub(crate) fn enabled_subject(
    ctx: SignInContext,
) -> Result<(Device, User, KeyCredential), ApiError> {
    let device = ctx.device.ok_or(ApiError::DeviceNotFound)?;
    if device.disabled {
        return Err(ApiError::DeviceDisabled);
    }
    let user = ctx.user.ok_or(ApiError::InvalidCredentials)?;
    if user.disabled {
        return Err(ApiError::UserDisabled);
    }
    let key = ctx.key.ok_or(ApiError::KeyNotFound)?;
    if key.user_id != user.id {
        return Err(ApiError::KeyWrongUser);
    }
    if key.device_id != device.id {
        return Err(ApiError::KeyWrongDevice);
    }
    Ok((device, user, key))
}

async fn signin_checked(
    state: &AppState,
    req: &SignInRequest,
    line: AuditRecord,
) -> Result<SignInResponse, ApiError> {
    let tenant = &state.tenant;
    let now = state.now();
    let nonce = tenant.nonces.check(&req.nonce, Purpose::SignIn, now)?;
    let assertion = b64("assertion", &req.assertion)?;
    let device_signature = b64("device_signature", &req.device_signature)?;
    let upn = req.upn.trim().to_lowercase();
    let ctx = state
        .storage
        .signin_context(&tenant.id, &upn, &req.device_id, &req.key_id)
        .await?;
    let (device, user, key) = enabled_subject(ctx)?;
    let message = proof_message(
        Purpose::SignIn,
        &req.nonce,
        &[&tenant.id, &req.device_id, &req.upn, &req.key_id],
    );
    if !crypto::verify_device(&device.public_key_spki, &message, &device_signature) {
        return Err(ApiError::DeviceProofInvalid);
    }
    if !crypto::verify_hello(&key.alg, &key.public_key, &message, &assertion) {
        return Err(ApiError::AssertionInvalid);
    }
    let (prt_text, prt) = new_prt(state, &user, &device, &key, now)?;
    let response = session(state, &user, &device, &key, prt_text, prt.expires_at, now)?;
    if !state
        .storage
        .complete_signin(&tenant.id, &nonce, &prt, &line)
        .await?
    {
        // The key was deleted or the device/user disabled between the read and the write.
        return Err(ApiError::KeyNotFound);
    }
    Ok(response)
}

/// Primary refresh token renewal: the old token plus a fresh device-key proof over a nonce
/// of purpose `renew_prt`, the tenant, the device and the old token's [`prt_binding`]. The
/// nonce is consumed in the renewal's transaction (a replayed proof: LK-NONCE-003); a refused
/// request writes nothing but its audit line.
pub async fn renew(
    State(state): State<AppState>,
    addr: ClientAddr,
    Json(req): Json<RenewRequest>,
) -> Result<axum::Json<SignInResponse>, ApiError> {
    let line = audit::line(event::PRT_RENEW, state.now())
        .source(addr.ip())
        .device(&req.device_id);
    match renew_checked(&state, &req, line.clone()).await {
        Ok(response) => Ok(axum::Json(response)),
        Err(err) => Err(audited(&state, line, err).await),
    }
}

async fn renew_checked(
    state: &AppState,
    req: &RenewRequest,
    line: AuditRecord,
) -> Result<SignInResponse, ApiError> {
    let tenant = &state.tenant;
    let now = state.now();
    let nonce = tenant.nonces.check(&req.nonce, Purpose::RenewPrt, now)?;
    let device_signature = b64("device_signature", &req.device_signature)?;
    let live = live_prt(state, &req.prt, now).await?;
    if live.device.id != req.device_id {
        // The token is bound to its device.
        return Err(ApiError::PrtWrongDevice);
    }
    let message = proof_message(
        Purpose::RenewPrt,
        &req.nonce,
        &[&tenant.id, &req.device_id, &prt_binding(&req.prt)],
    );
    if !crypto::verify_device(&live.device.public_key_spki, &message, &device_signature) {
        return Err(ApiError::DeviceProofInvalid);
    }
    let (prt_text, prt) = new_prt(state, &live.user, &live.device, &live.key, now)?;
    let response = session(
        state,
        &live.user,
        &live.device,
        &live.key,
        prt_text,
        prt.expires_at,
        now,
    )?;
    let line = line.actor(&live.user.upn).key(&live.key.key_id);
    if !state
        .storage
        .renew_prt(&tenant.id, &nonce, &live.hash, &prt, &line)
        .await?
    {
        return Err(ApiError::PrtInvalid);
    }
    Ok(response)
}

/// A primary refresh token that is usable now, with the records it depends on.
pub(super) struct LivePrt {
    pub(super) hash: String,
    pub(super) user: User,
    pub(super) device: Device,
    pub(super) key: KeyCredential,
}

/// The stored form of a primary refresh token, the only form stored: SHA-256 (hex) of the
/// token, after the hex of the token's 8-byte time prefix (see [`new_prt`]) so that new
/// tokens are appended to the index in time order. A token without that shape (one issued
/// before the prefix existed, or garbage) hashes without a prefix, so it still finds its row
/// or none.
pub fn prt_hash(prt: &str) -> String {
    let digest = hex::encode(Sha256::digest(prt.as_bytes()));
    match latchkey_proto::b64::decode("prt", prt) {
        Ok(bytes) if bytes.len() == PRT_LEN => match bytes.first_chunk::<8>() {
            Some(prefix) => format!("{}{digest}", hex::encode(prefix)),
            None => digest,
        },
        _ => digest,
    }
}

/// Length of a primary refresh token's bytes: an 8-byte time prefix and 32 random bytes.
const PRT_LEN: usize = 40;

/// Looks a primary refresh token up and checks that it, its device, its key and its user
/// are all still good, reporting the most specific reason when not.
pub(super) async fn live_prt(state: &AppState, prt: &str, now: i64) -> Result<LivePrt, ApiError> {
    let hash = prt_hash(prt);
    let ctx = state
        .storage
        .prt_context(&state.tenant.id, &hash)
        .await?
        .ok_or(ApiError::PrtInvalid)?;
    let device = ctx.device.ok_or(ApiError::DeviceNotFound)?;
    if device.disabled {
        return Err(ApiError::DeviceDisabled);
    }
    let user = ctx.user.ok_or(ApiError::PrtInvalid)?;
    if user.disabled {
        return Err(ApiError::UserDisabled);
    }
    let key = ctx.key.ok_or(ApiError::KeyNotFound)?;
    if ctx.prt.revoked {
        return Err(ApiError::PrtInvalid);
    }
    if now >= ctx.prt.expires_at {
        return Err(ApiError::PrtExpired);
    }
    Ok(LivePrt {
        hash,
        user,
        device,
        key,
    })
}

fn new_prt(
    state: &AppState,
    user: &User,
    device: &Device,
    key: &KeyCredential,
    now: i64,
) -> Result<(String, Prt), ApiError> {
    let text = latchkey_proto::b64::encode(state.env.time_ordered::<PRT_LEN>()?);
    let prt = Prt {
        token_hash: prt_hash(&text),
        user_id: user.id.clone(),
        device_id: device.id.clone(),
        key_id: key.key_id.clone(),
        issued_at: now,
        expires_at: now + PRT_LIFETIME_SECS,
        revoked: false,
    };
    Ok((text, prt))
}

/// The `amr` of a Hello sign-in with `key`: `hwk` or `swk` by attestation, `pin`, `mfa`,
/// `ngcmfa`.
pub fn hello_amr(key: &KeyCredential) -> Vec<String> {
    let possession = if key.attestation == crate::tpm::ATTESTATION_TPM {
        amr::HWK
    } else {
        amr::SWK
    };
    [possession, amr::PIN, amr::MFA, amr::NGCMFA]
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// Signs a token of type `kind` for `audience` for a Hello session.
pub(super) fn hello_token(
    state: &AppState,
    user: &User,
    device: &Device,
    key: &KeyCredential,
    audience: &str,
    kind: &str,
    now: i64,
) -> Result<String, ApiError> {
    let claims = TokenClaims {
        iss: state.issuer.to_string(),
        sub: user.id.clone(),
        aud: audience.to_owned(),
        iat: now,
        nbf: now,
        exp: now + ACCESS_LIFETIME_SECS,
        jti: state.env.guid()?.to_string(),
        tid: state.tenant.id.clone(),
        oid: user.id.clone(),
        upn: user.upn.clone(),
        deviceid: Some(device.id.clone()),
        amr: hello_amr(key),
        typ: kind.to_owned(),
    };
    state.tenant.tokens.sign(&claims)
}

fn session(
    state: &AppState,
    user: &User,
    device: &Device,
    key: &KeyCredential,
    prt: String,
    prt_expires_at: i64,
    now: i64,
) -> Result<SignInResponse, ApiError> {
    Ok(SignInResponse {
        prt,
        prt_expires_at,
        id_token: hello_token(state, user, device, key, ID_TOKEN_AUDIENCE, typ::ID, now)?,
        access_token: hello_token(state, user, device, key, DEFAULT_AUDIENCE, typ::ACCESS, now)?,
        expires_in: ACCESS_LIFETIME_SECS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_hashes_to_its_time_prefix_then_its_digest() {
        let bytes: Vec<u8> = (0u8..40).collect();
        let token = latchkey_proto::b64::encode(&bytes);
        let digest = hex::encode(Sha256::digest(token.as_bytes()));
        assert_eq!(prt_hash(&token), format!("0001020304050607{digest}"));
        // A token of the earlier shape (32 random bytes) and garbage hash to the digest alone,
        // so tokens issued before the prefix still find their rows.
        let old = latchkey_proto::b64::encode([7u8; 32]);
        assert_eq!(prt_hash(&old), hex::encode(Sha256::digest(old.as_bytes())));
        assert_eq!(
            prt_hash("not base64 at all!"),
            hex::encode(Sha256::digest(b"not base64 at all!"))
        );
    }
}
