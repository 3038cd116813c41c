//! The CRL: signed by the issuing CA, valid [`CRL_VALIDITY_SECS`], and signed again before
//! it is served when a revocation happened since (every revocation increments the PKI state's revision in its
//! own transaction) or when less than half of its validity remains.

use latchkey_pki::{RevocationReason, RevokedEntry};
use time::OffsetDateTime;

use super::{serial, Pki};
use crate::error::ApiError;
use crate::storage::cert::PkiState;
use crate::storage::Storage;

/// thisUpdate to nextUpdate: seven days.
pub const CRL_VALIDITY_SECS: i64 = 7 * 24 * 3600;

/// The RFC 5280 reason names `cert revoke --reason` takes, with their reason.
pub const REASONS: [(&str, RevocationReason); 8] = [
    ("unspecified", RevocationReason::Unspecified),
    ("keyCompromise", RevocationReason::KeyCompromise),
    ("cACompromise", RevocationReason::CaCompromise),
    ("affiliationChanged", RevocationReason::AffiliationChanged),
    ("superseded", RevocationReason::Superseded),
    (
        "cessationOfOperation",
        RevocationReason::CessationOfOperation,
    ),
    ("certificateHold", RevocationReason::CertificateHold),
    ("privilegeWithdrawn", RevocationReason::PrivilegeWithdrawn),
];

/// The reason named `name` (case and `-`/`_` ignored: `key-compromise` works), with its
/// canonical name.
pub fn parse_reason(name: &str) -> Option<(&'static str, RevocationReason)> {
    let wanted: String = name
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .collect::<String>()
        .to_ascii_lowercase();
    REASONS
        .iter()
        .find(|(n, _)| n.to_ascii_lowercase() == wanted)
        .copied()
}

fn at(unix: i64) -> Result<OffsetDateTime, ApiError> {
    OffsetDateTime::from_unix_timestamp(unix).map_err(ApiError::internal)
}

/// Whether `state`'s CRL must be signed again at `now`.
pub fn needs_refresh(state: &PkiState, now: i64) -> bool {
    let half = state.crl_this_update + (state.crl_next_update - state.crl_this_update) / 2;
    state.crl_der.is_none() || state.signed_revision != state.revision || now >= half
}

/// The current CRL (DER), signed again first if [`needs_refresh`].
pub async fn current(
    storage: &dyn Storage,
    tenant: &str,
    pki: &Pki,
    now: i64,
) -> Result<Vec<u8>, ApiError> {
    // Two attempts: a concurrent writer that stored a CRL first has one we can serve.
    for _ in 0..2 {
        let state = storage
            .pki_state(tenant)
            .await?
            .ok_or_else(|| ApiError::internal("the PKI state row is missing"))?;
        if !needs_refresh(&state, now) {
            if let Some(der) = state.crl_der {
                return Ok(der);
            }
        }
        let (fresh, der) = sign(storage, tenant, pki, &state, now).await?;
        if storage.store_crl(tenant, state.crl_number, &fresh).await? {
            tracing::info!(
                target: "latchkey::housekeeping",
                crl_number = fresh.crl_number,
                next_update = fresh.crl_next_update,
                "signed a new CRL"
            );
            return Ok(der);
        }
    }
    storage
        .pki_state(tenant)
        .await?
        .and_then(|s| s.crl_der)
        .ok_or_else(|| ApiError::internal("no CRL could be stored"))
}

/// Signs the next CRL after `state` with every revoked, unexpired certificate.
async fn sign(
    storage: &dyn Storage,
    tenant: &str,
    pki: &Pki,
    state: &PkiState,
    now: i64,
) -> Result<(PkiState, Vec<u8>), ApiError> {
    let rows = storage.revoked_certificates(tenant, now).await?;
    let mut entries = Vec::with_capacity(rows.len());
    for row in &rows {
        let reason = parse_reason(&row.reason).map_or(RevocationReason::Unspecified, |(_, r)| r);
        entries.push(RevokedEntry {
            serial: serial::to_bytes(&row.serial)
                .ok_or_else(|| ApiError::internal("a stored serial is not hex"))?,
            revoked_at: at(row.revoked_at)?,
            reason,
        });
    }
    let number = state.crl_number + 1;
    let next = now + CRL_VALIDITY_SECS;
    let der = pki
        .issuing
        .crl(
            &entries,
            u64::try_from(number).unwrap_or_default(),
            at(now)?,
            at(next)?,
        )
        .map_err(|e| ApiError::CertIssuanceFailed(e.to_string()))?;
    let fresh = PkiState {
        base_url: state.base_url.clone(),
        crl_number: number,
        crl_der: Some(der.clone()),
        crl_this_update: now,
        crl_next_update: next,
        revision: state.revision,
        signed_revision: state.revision,
    };
    Ok((fresh, der))
}
