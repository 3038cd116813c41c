//! Administration of the PIN-recovery service (`latchkeyd pin-recovery show|rotate`).

use serde::Serialize;

use super::{Admin, AdminError};
use latchkey_server::error::ApiError;

/// A PIN-recovery key as `pin-recovery show` lists it (no private material).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecoveryKeyListing {
    /// The key id.
    pub key_id: String,
    /// `current`, `grace` (superseded, still opens blobs) or `retired` (private key erased or
    /// grace period over).
    pub state: &'static str,
    /// When it was made (Unix seconds).
    pub created_at: i64,
    /// The end of its grace period, for a superseded key.
    pub usable_until: Option<i64>,
}

fn coded(err: ApiError) -> AdminError {
    AdminError::Cert {
        code: err.code(),
        message: err.to_string(),
    }
}

impl Admin {
    /// The tenant's PIN-recovery keys, newest first.
    pub async fn pin_recovery_keys(&self) -> Result<Vec<RecoveryKeyListing>, AdminError> {
        let now = self.env.clock.now().unix_timestamp();
        Ok(self
            .storage
            .pin_recovery_keys(&self.tenant.id)
            .await?
            .into_iter()
            .map(|k| RecoveryKeyListing {
                state: match (k.superseded_at, k.usable_until, &k.private_sealed) {
                    (None, _, Some(_)) => "current",
                    (Some(_), Some(until), Some(_)) if now < until => "grace",
                    _ => "retired",
                },
                key_id: k.key_id,
                created_at: k.created_at,
                usable_until: k.usable_until,
            })
            .collect())
    }

    /// Makes a new current PIN-recovery key (the tenant's first if it has none); the previous
    /// key keeps opening blobs for `grace_days`. Audited (`pin_recovery_key_rotate`). Returns
    /// the new key's id.
    pub async fn pin_recovery_rotate(&self, grace_days: u32) -> Result<String, AdminError> {
        latchkey_server::pin_recovery::rotate(
            &*self.storage,
            &self.tenant,
            &self.env,
            grace_days,
            self.actor(),
        )
        .await
        .map_err(coded)
    }
}
