//! Records the checks store: a tenant, users, devices, Hello keys, nonces and audit lines,
//! each distinct by a name or number so that checks can tell them apart afterwards.

use latchkey_storage::audit::{self, event};
use latchkey_storage::web::{SecurityKey, WebSession};
use latchkey_storage::{
    AuditRecord, ConsumedNonce, Device, KeyCredential, Prt, Storage, TenantRecord, User,
};

use crate::{Backend, OrFail, Violation};

/// The tenant every check works in.
pub const TENANT: &str = "00000000-0000-4000-8000-00000000000a";
/// A tenant id that is never created: everything asked under it must come back empty.
pub const OTHER_TENANT: &str = "00000000-0000-4000-8000-00000000000b";
/// A nonce expiry far in the future.
pub const FAR: i64 = 4_000_000_000;

/// The tenant record.
pub fn tenant() -> TenantRecord {
    TenantRecord {
        id: TENANT.to_owned(),
        name: "Conformance".to_owned(),
        ca_cert_pem: "ca-cert".to_owned(),
        ca_key_pem: "ca-key".to_owned(),
        signing_key_pkcs8: vec![1, 2, 3],
        signing_kid: "kid".to_owned(),
        nonce_secret: vec![4, 5, 6],
        created_at: 1_000,
        secrets_sealed_by: None,
    }
}

/// A user named `name` (UPN `name@example.com`, id `u-name`).
pub fn user(name: &str) -> User {
    User {
        id: format!("u-{name}"),
        upn: format!("{name}@example.com"),
        display_name: name.to_owned(),
        password_hash: "$argon2id$placeholder".to_owned(),
        totp_secret: vec![7; 20],
        last_totp_step: None,
        disabled: false,
        created_at: 1_000,
    }
}

/// A device `id` owned by `owner` (a user id).
pub fn device(id: &str, owner: &str) -> Device {
    Device {
        id: id.to_owned(),
        display_name: format!("host-{id}"),
        os: "Windows".to_owned(),
        join_type: "cloud".to_owned(),
        owner_user_id: owner.to_owned(),
        joined_with_mfa: true,
        public_key_spki: vec![9; 8],
        cert_pem: "device-cert".to_owned(),
        cert_thumbprint: format!("thumb-{id}"),
        disabled: false,
        created_at: 1_000,
    }
}

/// A Hello key `key_id` of `user_id` on `device_id`.
pub fn key(key_id: &str, user_id: &str, device_id: &str) -> KeyCredential {
    KeyCredential {
        key_id: key_id.to_owned(),
        user_id: user_id.to_owned(),
        device_id: device_id.to_owned(),
        alg: "P-256".to_owned(),
        public_key: vec![4; 65],
        usage: "NGC".to_owned(),
        attestation: "software".to_owned(),
        created_at: 1_000,
        tpm_manufacturer: None,
    }
}

/// A primary refresh token `hash` of a key.
pub fn prt(hash: &str, k: &KeyCredential, expires_at: i64) -> Prt {
    Prt {
        token_hash: hash.to_owned(),
        user_id: k.user_id.clone(),
        device_id: k.device_id.clone(),
        key_id: k.key_id.clone(),
        issued_at: 1_000,
        expires_at,
        revoked: false,
    }
}

/// A security key `credential_id` of `user_id`.
pub fn security_key(credential_id: &str, user_id: &str) -> SecurityKey {
    SecurityKey {
        credential_id: credential_id.to_owned(),
        user_id: user_id.to_owned(),
        name: format!("key {credential_id}"),
        aaguid: "00000000-0000-0000-0000-000000000000".to_owned(),
        format: "none".to_owned(),
        trusted_root: false,
        public_key_cose: vec![1; 77],
        sign_count: 0,
        created_at: 1_000,
        last_used_at: None,
    }
}

/// A web session `id_hash` of `user_id`.
pub fn session(id_hash: &str, user_id: &str) -> WebSession {
    WebSession {
        id_hash: id_hash.to_owned(),
        user_id: user_id.to_owned(),
        amr: "pwd otp".to_owned(),
        csrf: format!("csrf-{id_hash}"),
        created_at: 1_000,
        expires_at: FAR,
    }
}

/// A nonce that expires far in the future.
pub fn nonce(id: &str) -> ConsumedNonce {
    ConsumedNonce {
        id: id.to_owned(),
        expires_at: FAR,
    }
}

/// An audit line `event` whose note (`reason`) is `tag`, to find it again.
pub fn line(ev: &str, tag: &str) -> AuditRecord {
    audit::line(ev, 1_000).actor("conformance").note(tag)
}

/// The tenant's audit lines (all of them, oldest first).
pub async fn audit_lines(
    s: &dyn Storage,
    property: &'static str,
) -> Result<Vec<AuditRecord>, Violation> {
    s.audit_since(TENANT, i64::MIN).await.or_fail(property)
}

/// How many audit lines carry the note `tag`.
pub async fn audited(
    s: &dyn Storage,
    property: &'static str,
    tag: &str,
) -> Result<usize, Violation> {
    Ok(audit_lines(s, property)
        .await?
        .iter()
        .filter(|a| a.reason.as_deref() == Some(tag))
        .count())
}

/// Creates the tenant.
pub async fn with_tenant(b: &Backend, property: &'static str) -> Result<(), Violation> {
    b.main
        .storage
        .create_tenant(&tenant())
        .await
        .or_fail(property)?;
    Ok(())
}

/// A user created (audited) in the tenant.
pub async fn add_user(b: &Backend, property: &'static str, name: &str) -> Result<User, Violation> {
    let u = user(name);
    b.main
        .storage
        .create_user(
            TENANT,
            &u,
            &line(event::USER_CREATE, &format!("create {name}")),
        )
        .await
        .or_fail(property)?;
    Ok(u)
}

/// A device joined (audited) by `owner`.
pub async fn add_device(
    b: &Backend,
    property: &'static str,
    id: &str,
    owner: &User,
) -> Result<Device, Violation> {
    let d = device(id, &owner.id);
    b.main
        .storage
        .join_device(
            TENANT,
            &nonce(&format!("join-{id}")),
            &d,
            &line(event::JOIN, &format!("join {id}")),
        )
        .await
        .or_fail(property)?;
    Ok(d)
}

/// A Hello key registered (audited) for `owner` on `d`.
pub async fn add_key(
    b: &Backend,
    property: &'static str,
    key_id: &str,
    owner: &User,
    d: &Device,
) -> Result<KeyCredential, Violation> {
    let k = key(key_id, &owner.id, &d.id);
    b.main
        .storage
        .register_key(
            TENANT,
            &nonce(&format!("reg-{key_id}")),
            &k,
            false,
            &line(event::KEY_REGISTER, &format!("register {key_id}")),
            None,
        )
        .await
        .or_fail(property)?;
    Ok(k)
}

/// The tenant, one user (`alice`), her device `dev-a` and her key `key-a`.
pub async fn enrolled(
    b: &Backend,
    property: &'static str,
) -> Result<(User, Device, KeyCredential), Violation> {
    with_tenant(b, property).await?;
    let u = add_user(b, property, "alice").await?;
    let d = add_device(b, property, "dev-a", &u).await?;
    let k = add_key(b, property, "key-a", &u, &d).await?;
    Ok((u, d, k))
}
