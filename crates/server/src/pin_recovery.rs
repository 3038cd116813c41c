//! The tenant's PIN-recovery key pairs (`docs/pin-reset.md`): made at start when missing,
//! rotated by `latchkeyd pin-recovery rotate`, and opened per reset (a reset is rare, so the
//! key is read from storage each time and a rotation by the administration command is seen
//! at once by a running service).

use latchkey_pin_recovery::RecoveryKeyPair;
use latchkey_proto::api::pin_reset::{recovery_key_id, PinRecoveryKey, HPKE_SUITE};
use latchkey_proto::b64;

use crate::audit::{self, event};
use crate::clock::Env;
use crate::error::ApiError;
use crate::secrets::SecretSlot;
use crate::storage::pin_recovery::PinRecoveryKeyRecord;
use crate::storage::Storage;
use crate::tenant::Tenant;

/// The default grace period of a superseded key, days.
pub const DEFAULT_GRACE_DAYS: u32 = 30;
/// The longest grace period, days.
pub const MAX_GRACE_DAYS: u32 = 365;

fn new_record(
    tenant: &Tenant,
    env: &Env,
    now: i64,
) -> Result<(PinRecoveryKeyRecord, String), ApiError> {
    let mut rng = crate::tpm::seeded_rng(env)?;
    let pair = RecoveryKeyPair::generate(&mut rng);
    let key_id = pair.key_id();
    let sealed = tenant
        .kek
        .seal_text(
            &tenant.id,
            &SecretSlot::PinRecoveryKey {
                key_id: key_id.clone(),
            },
            &b64::encode(pair.private_bytes().as_slice()),
            env.random::<12>()?,
        )
        .map_err(ApiError::internal)?;
    Ok((
        PinRecoveryKeyRecord {
            key_id: key_id.clone(),
            public_key: pair.public_bytes(),
            private_sealed: Some(sealed),
            created_at: now,
            superseded_at: None,
            usable_until: None,
        },
        key_id,
    ))
}

/// Makes the tenant's first PIN-recovery key unless one exists; true when made now.
pub async fn ensure(
    storage: &dyn Storage,
    tenant: &Tenant,
    env: &Env,
) -> Result<bool, crate::tenant::SetupError> {
    let keys = storage.pin_recovery_keys(&tenant.id).await?;
    if keys.iter().any(|k| k.superseded_at.is_none()) {
        return Ok(false);
    }
    let now = env.clock.now().unix_timestamp();
    let (record, key_id) = new_record(tenant, env, now)?;
    let line = audit::line(event::PIN_RECOVERY_KEY_CREATE, now)
        .actor(crate::audit::ADMIN_ACTOR)
        .note(format!("key={key_id}"));
    Ok(storage
        .create_first_pin_recovery_key(&tenant.id, &record, &line)
        .await
        .map_err(ApiError::from)?)
}

/// The public half of a stored key, as devices receive it.
pub fn public_of(record: &PinRecoveryKeyRecord) -> PinRecoveryKey {
    PinRecoveryKey {
        key_id: recovery_key_id(&record.public_key),
        suite: HPKE_SUITE.to_owned(),
        public_key: b64::encode(&record.public_key),
    }
}

/// The current key's public half.
pub async fn current(storage: &dyn Storage, tenant: &Tenant) -> Result<PinRecoveryKey, ApiError> {
    storage
        .pin_recovery_keys(&tenant.id)
        .await?
        .iter()
        .find(|k| k.superseded_at.is_none())
        .map(public_of)
        .ok_or(ApiError::PinRecoveryKeyRetired)
}

/// The key pair `key_id` names, if the service still holds it at `now` (current, or
/// superseded within its grace period); LK-PINR-004 otherwise.
pub async fn opener(
    storage: &dyn Storage,
    tenant: &Tenant,
    key_id: &str,
    now: i64,
) -> Result<RecoveryKeyPair, ApiError> {
    let keys = storage.pin_recovery_keys(&tenant.id).await?;
    let record = keys
        .iter()
        .find(|k| k.key_id == key_id)
        .filter(|k| k.usable_until.is_none_or(|until| now < until))
        .ok_or(ApiError::PinRecoveryKeyRetired)?;
    let sealed = record
        .private_sealed
        .as_deref()
        .ok_or(ApiError::PinRecoveryKeyRetired)?;
    let private = tenant
        .kek
        .open_text(
            &tenant.id,
            &SecretSlot::PinRecoveryKey {
                key_id: record.key_id.clone(),
            },
            sealed,
        )
        .map_err(ApiError::internal)?;
    let bytes = zeroize::Zeroizing::new(
        b64::decode("PIN-recovery private key", &private).map_err(ApiError::internal)?,
    );
    RecoveryKeyPair::from_private(&bytes).map_err(ApiError::internal)
}

/// Makes a new current key; the previous one stays usable for `grace_days` (1 to
/// [`MAX_GRACE_DAYS`]). Returns the new key's id. `actor` is who rotates (audit).
pub async fn rotate(
    storage: &dyn Storage,
    tenant: &Tenant,
    env: &Env,
    grace_days: u32,
    actor: &str,
) -> Result<String, ApiError> {
    if !(1..=MAX_GRACE_DAYS).contains(&grace_days) {
        return Err(ApiError::PinRecoveryGraceInvalid);
    }
    let now = env.clock.now().unix_timestamp();
    let (record, key_id) = new_record(tenant, env, now)?;
    let until = now.saturating_add(i64::from(grace_days) * 86_400);
    let line = audit::line(event::PIN_RECOVERY_KEY_ROTATE, now)
        .actor(actor)
        .note(format!("key={key_id} grace_days={grace_days}"));
    storage
        .rotate_pin_recovery_key(&tenant.id, &record, now, until, &line)
        .await?;
    Ok(key_id)
}
