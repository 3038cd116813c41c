//! `POST /v1/keys`: Hello key registration under the seed's MFA rules.
//!
//! The rule (seed: for the user who joined a cloud device with MFA, "Azure AD will treat the
//! device as a second factor"; the user still signs in with their password):
//!
//! - Every registration presents an enrolment token from `/v1/auth/password` naming this
//!   user (LK-AUTH-005 without one, LK-AUTH-006 when it names someone else). A device-key
//!   proof alone never registers a key: whoever copied the device's state would otherwise
//!   install a key with a PIN of their own.
//! - On a `cloud` device joined with MFA, its registered owner's token needs only the first
//!   factor (`pwd`): the device-key proof over a fresh nonce, with the owner match recorded
//!   at join, stands in for the second factor. Audited as `mfa=owner-device+pwd`.
//! - Everyone else (another user on a cloud device; every user on `hybrid` and
//!   `registered` devices; the owner of a device joined without MFA) presents a token
//!   carrying `mfa`: LK-AUTH-005 otherwise. Audited as `mfa=token`.
//! - Replacing the user's existing key on this device always needs a token carrying `mfa`,
//!   owner or not. The storage layer enforces it inside the registration's transaction
//!   ([`crate::storage::Storage::register_key`]'s `allow_replace`), so a key registered
//!   concurrently cannot be replaced under the owner rule either.
//!
//! With `tpm_attestation`, the key's TPM2_Certify by the device's activated AIK must
//! verify ([`super::key_attestation`]); the key is then recorded as `tpm` with the TPM's
//! manufacturer, else as `software`. Under `RequireSecurityDevice` a key without valid TPM
//! attestation is refused (LK-HWK-013), nothing written.

use axum::extract::State;
use axum::http::HeaderMap;
use latchkey_proto::api::cert::csr_binding;
use latchkey_proto::api::device::JoinType;
use latchkey_proto::api::key::{register_fields, RegisterKeyRequest, RegisterKeyResponse};
use latchkey_proto::claims::amr;
use latchkey_proto::proof::{proof_message, Purpose};

use super::audited;
use super::extract::{b64, bearer, ClientAddr, Json};
use crate::audit::{self, event};
use crate::crypto::{self, KeyRejection};
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::{AuditRecord, Device, KeyCredential, StorageError, User};
use crate::tpm::{ATTESTATION_SOFTWARE, ATTESTATION_TPM};

/// Key usage of Hello keys.
pub const USAGE_NGC: &str = "NGC";

/// Registers a Hello key.
pub async fn register(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    Json(req): Json<RegisterKeyRequest>,
) -> Result<axum::Json<RegisterKeyResponse>, ApiError> {
    let mut line = audit::line(event::KEY_REGISTER, state.now())
        .source(addr.ip())
        .actor(req.upn.trim().to_lowercase())
        .device(&req.device_id);
    match register_checked(&state, &headers, &req, &mut line).await {
        Ok(response) => Ok(axum::Json(response)),
        Err(err) => Err(audited(&state, line, err).await),
    }
}

/// How a registration satisfied the rule; the audit note says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaRule {
    /// A token carrying `mfa` for this user: may register and replace.
    Token,
    /// The registered owner's device as the second factor, with a fresh password (`pwd`)
    /// token: may register a first key only.
    OwnerDevicePassword,
}

impl MfaRule {
    /// The audit note.
    pub fn note(self) -> &'static str {
        match self {
            MfaRule::Token => "mfa=token",
            MfaRule::OwnerDevicePassword => "mfa=owner-device+pwd",
        }
    }

    /// Whether the rule allows replacing an existing key.
    pub fn may_replace(self) -> bool {
        self == MfaRule::Token
    }
}

/// Decides the rule from the device, the user and the verified token's `amr`; the error
/// says what is missing.
pub fn mfa_rule(device: &Device, user: &User, amr: &[String]) -> Result<MfaRule, ApiError> {
    if amr.iter().any(|m| m == amr::MFA) {
        return Ok(MfaRule::Token);
    }
    if !owner_exempt(device, user) {
        return Err(ApiError::MfaRequired(
            "the token lacks a second factor: only the registered owner of a cloud device joined with MFA may use a password-only token",
        ));
    }
    if amr.iter().any(|m| m == amr::PWD) {
        Ok(MfaRule::OwnerDevicePassword)
    } else {
        Err(ApiError::MfaRequired(
            "the registered owner's token must carry a fresh password sign-in (pwd)",
        ))
    }
}

/// Whether the seed's registered-owner rule lets the device stand in for the second factor.
pub fn owner_exempt(device: &Device, user: &User) -> bool {
    JoinType::parse(&device.join_type) == Some(JoinType::Cloud)
        && device.joined_with_mfa
        && device.owner_user_id == user.id
}

async fn register_checked(
    state: &AppState,
    headers: &HeaderMap,
    req: &RegisterKeyRequest,
    line: &mut AuditRecord,
) -> Result<RegisterKeyResponse, ApiError> {
    let tenant = &state.tenant;
    let now = state.now();
    let token = bearer(headers)?;
    let nonce = tenant.nonces.check(&req.nonce, Purpose::RegisterKey, now)?;
    let key_bytes = b64("public_key.data", &req.public_key.data)?;
    let device_signature = b64("device_signature", &req.device_signature)?;
    let key_signature = b64("key_signature", &req.key_signature)?;
    let accepted =
        crypto::accept_hello_key(req.public_key.alg, &key_bytes).map_err(|e| match e {
            KeyRejection::Malformed(detail) => ApiError::KeyInvalid(detail),
            other => ApiError::KeyInvalid(other.to_string()),
        })?;
    line.key_id = Some(accepted.key_id.clone());

    let device = state
        .storage
        .device(&tenant.id, &req.device_id)
        .await?
        .ok_or(ApiError::DeviceNotFound)?;
    if device.disabled {
        return Err(ApiError::DeviceDisabled);
    }
    let upn = req.upn.trim().to_lowercase();
    let user = state
        .storage
        .user_by_upn(&tenant.id, &upn)
        .await?
        .ok_or(ApiError::InvalidCredentials)?;
    if user.disabled {
        return Err(ApiError::UserDisabled);
    }
    let Some(token) = token else {
        return Err(ApiError::MfaRequired(
            "an enrolment token from /v1/auth/password is required: a fresh password (and a one-time code unless you are the registered owner of this cloud device registering a first key)",
        ));
    };
    let claims = tenant
        .tokens
        .verify_enrollment(token, &state.issuer, &tenant.id, now)?;
    if claims.oid != user.id {
        return Err(ApiError::SubjectMismatch);
    }
    let rule = mfa_rule(&device, &user, &claims.amr)?;

    // A certificate request is bound into both proofs by its SHA-256.
    let binding = match &req.certificate_request {
        Some(part) => Some(csr_binding(&b64("certificate_request.csr", &part.csr)?)),
        None => None,
    };
    let message = proof_message(
        Purpose::RegisterKey,
        &req.nonce,
        &register_fields(
            &tenant.id,
            &req.device_id,
            &req.upn,
            &accepted.key_id,
            binding.as_deref(),
        ),
    );
    if !crypto::verify_device(&device.public_key_spki, &message, &device_signature) {
        return Err(ApiError::DeviceProofInvalid);
    }
    if !crypto::verify_hello(
        accepted.alg.as_str(),
        &accepted.public_key,
        &message,
        &key_signature,
    ) {
        return Err(ApiError::AssertionInvalid);
    }
    let tpm_manufacturer = match &req.tpm_attestation {
        Some(att) => {
            Some(super::key_attestation::verify(state, &device, &accepted, att, &req.nonce).await?)
        }
        None => {
            super::key_attestation::require_security_device(state, &device, &user).await?;
            None
        }
    };
    let attestation = if tpm_manufacturer.is_some() {
        ATTESTATION_TPM
    } else {
        ATTESTATION_SOFTWARE
    };

    let key = KeyCredential {
        key_id: accepted.key_id.clone(),
        user_id: user.id.clone(),
        device_id: device.id.clone(),
        alg: accepted.alg.as_str().to_owned(),
        public_key: accepted.public_key,
        usage: USAGE_NGC.to_owned(),
        attestation: attestation.to_owned(),
        created_at: now,
        tpm_manufacturer: tpm_manufacturer.clone(),
    };
    let note = match &tpm_manufacturer {
        Some(m) => format!("{} attestation=tpm manufacturer={m}", rule.note()),
        None => format!("{} attestation=software", rule.note()),
    };
    let note = if req.pin_reset {
        format!("{note} pin_reset=destructive")
    } else {
        note
    };
    let success = line.clone().note(note);
    // The certificate, when asked for, is issued before anything is written and recorded
    // in the registration's transaction: refused, neither is stored.
    let certificate = match &req.certificate_request {
        Some(part) => Some(super::cert::for_registration(state, &user, &key, part, line).await?),
        None => None,
    };
    let replaced = match state
        .storage
        .register_key(
            &tenant.id,
            &nonce,
            &key,
            rule.may_replace(),
            &success,
            certificate.as_ref().map(|(c, _, lines)| (c, lines.as_slice())),
        )
        .await
    {
        Ok(replaced) => replaced,
        Err(StorageError::WouldReplace(_)) => {
            return Err(ApiError::MfaRequired(
                "this user already has a Hello key on this device: replacing it needs a fresh MFA (password and one-time code)",
            ))
        }
        Err(StorageError::Conflict(_)) => {
            return Err(ApiError::KeyInvalid(
                "this key is already registered for another user or device".into(),
            ))
        }
        Err(other) => return Err(other.into()),
    };
    Ok(RegisterKeyResponse {
        key_id: key.key_id,
        replaced_key_id: replaced,
        attestation: attestation.to_owned(),
        certificate_template: super::cert::assigned_template(state, &user).await,
        certificate: certificate.map(|(_, answer, _)| answer),
    })
}
