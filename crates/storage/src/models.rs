//! Records of the directory, as stored. Times are Unix seconds.

use serde::Serialize;

/// A tenant with its secrets (CA key, token-signing key, nonce secret).
#[derive(Clone, sqlx::FromRow)]
pub struct TenantRecord {
    /// Tenant id (GUID).
    pub id: String,
    /// Display name.
    pub name: String,
    /// CA certificate, PEM.
    pub ca_cert_pem: String,
    /// CA private key, PKCS#8 PEM.
    pub ca_key_pem: String,
    /// Token-signing key (P-256), PKCS#8 DER.
    pub signing_key_pkcs8: Vec<u8>,
    /// Key id of the token-signing key (the JWT `kid`).
    pub signing_kid: String,
    /// HMAC secret authenticating nonces.
    pub nonce_secret: Vec<u8>,
    /// Creation time.
    pub created_at: i64,
    /// The id of the key-encryption key the secrets above (and every user's TOTP secret)
    /// are sealed under; `None` for a data directory from before sealing (plaintext).
    pub secrets_sealed_by: Option<String>,
}

/// The sealed forms of a tenant's secrets, written by [`crate::Storage::seal_secrets`].
pub struct SealedTenantSecrets {
    /// The id of the key-encryption key.
    pub kek_id: String,
    /// The sealed CA key (text form).
    pub ca_key_pem: String,
    /// The sealed token-signing key.
    pub signing_key_pkcs8: Vec<u8>,
    /// The sealed nonce secret.
    pub nonce_secret: Vec<u8>,
}

impl std::fmt::Debug for SealedTenantSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedTenantSecrets")
            .field("kek_id", &self.kek_id)
            .finish_non_exhaustive()
    }
}

/// Seals one user's TOTP secret: `(user id, plaintext) -> stored form`.
pub type SealTotp<'a> =
    dyn Fn(&str, &[u8]) -> Result<Vec<u8>, crate::SecretsError> + Send + Sync + 'a;

impl std::fmt::Debug for TenantRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A user.
#[derive(Clone, sqlx::FromRow)]
pub struct User {
    /// Object id (GUID).
    pub id: String,
    /// User principal name (lowercase), unique in the tenant.
    pub upn: String,
    /// Display name.
    pub display_name: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// TOTP secret (raw bytes).
    pub totp_secret: Vec<u8>,
    /// The last TOTP time step accepted (codes of this step or earlier are refused).
    pub last_totp_step: Option<i64>,
    /// Whether the user is disabled.
    pub disabled: bool,
    /// Creation time.
    pub created_at: i64,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("upn", &self.upn)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// A joined device.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Device {
    /// Device id (GUID).
    pub id: String,
    /// Display name (host name).
    pub display_name: String,
    /// Operating system.
    pub os: String,
    /// `cloud`, `hybrid` or `registered`.
    pub join_type: String,
    /// The registered owner: the user who joined the device.
    pub owner_user_id: String,
    /// Whether the join was done with MFA.
    pub joined_with_mfa: bool,
    /// The device public key, SubjectPublicKeyInfo DER (P-256).
    pub public_key_spki: Vec<u8>,
    /// The device certificate, PEM.
    pub cert_pem: String,
    /// SHA-256 fingerprint of the device certificate.
    pub cert_thumbprint: String,
    /// Whether the device is disabled.
    pub disabled: bool,
    /// Creation time.
    pub created_at: i64,
}

/// A registered Hello key.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyCredential {
    /// Key id: lowercase hex SHA-256 of the key material.
    pub key_id: String,
    /// The user it belongs to.
    pub user_id: String,
    /// The device it is bound to.
    pub device_id: String,
    /// `RSA` or `P-256`.
    pub alg: String,
    /// BCRYPT_RSAPUBLIC_BLOB (RSA) or uncompressed SEC1 point (P-256).
    pub public_key: Vec<u8>,
    /// Key usage (`NGC`).
    pub usage: String,
    /// `software` or `tpm`.
    pub attestation: String,
    /// Creation time.
    pub created_at: i64,
    /// The TPM manufacturer (from the EK certificate) when `attestation` is `tpm`. Not read
    /// on the sign-in path (`None` there), which needs only `attestation`.
    pub tpm_manufacturer: Option<String>,
}

/// A primary refresh token, by hash.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Prt {
    /// SHA-256 (hex) of the token; the token itself is never stored.
    pub token_hash: String,
    /// The user.
    pub user_id: String,
    /// The device it is bound to.
    pub device_id: String,
    /// The key the sign-in used.
    pub key_id: String,
    /// Issue time.
    pub issued_at: i64,
    /// Expiry.
    pub expires_at: i64,
    /// Whether it was revoked (replaced by a renewal).
    pub revoked: bool,
}

/// One line of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AuditRecord {
    /// Time.
    pub at: i64,
    /// What happened (`join`, `key_register`, `signin`, ...).
    pub event: String,
    /// The user concerned (UPN), or `admin`.
    pub actor: Option<String>,
    /// The device concerned.
    pub device_id: Option<String>,
    /// The key concerned.
    pub key_id: Option<String>,
    /// The source address of the request.
    pub source: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
    /// The error code of a failure, or a note.
    pub reason: Option<String>,
}

/// A nonce being consumed: its id and when it expires (for pruning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumedNonce {
    /// Unique id carried in the nonce.
    pub id: String,
    /// Expiry.
    pub expires_at: i64,
}

/// Everything a sign-in needs to decide, read in one go.
#[derive(Debug, Clone, Default)]
pub struct SignInContext {
    /// The user named by the request.
    pub user: Option<User>,
    /// The device named by the request.
    pub device: Option<Device>,
    /// The key named by the request.
    pub key: Option<KeyCredential>,
}

/// A primary refresh token with the records it depends on.
#[derive(Debug, Clone)]
pub struct PrtContext {
    /// The token record.
    pub prt: Prt,
    /// Its user, if still present.
    pub user: Option<User>,
    /// Its device, if still present.
    pub device: Option<Device>,
    /// Its key, if still registered.
    pub key: Option<KeyCredential>,
}

/// A device with its owner's UPN, for listings.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct DeviceListing {
    /// Device id.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Operating system.
    pub os: String,
    /// Join type.
    pub join_type: String,
    /// Owner UPN.
    pub owner: String,
    /// Whether the join was done with MFA.
    pub joined_with_mfa: bool,
    /// Device certificate fingerprint.
    pub cert_thumbprint: String,
    /// Whether the device is disabled.
    pub disabled: bool,
    /// Creation time.
    pub created_at: i64,
    /// The last sign-in or token renewal with the device: the issue time of its newest
    /// primary refresh token (none once they are pruned, 7 days after they expired).
    pub last_activity: Option<i64>,
}

/// A key with its user's UPN, for listings.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct KeyListing {
    /// Key id.
    pub key_id: String,
    /// User UPN.
    pub upn: String,
    /// Device id.
    pub device_id: String,
    /// Algorithm.
    pub alg: String,
    /// Usage.
    pub usage: String,
    /// Attestation level: `tpm` or `software`.
    pub attestation: String,
    /// The TPM manufacturer when `attestation` is `tpm`.
    pub tpm_manufacturer: Option<String>,
    /// Creation time.
    pub created_at: i64,
}

/// A user, for listings (no secrets).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct UserListing {
    /// Object id.
    pub id: String,
    /// UPN.
    pub upn: String,
    /// Display name.
    pub display_name: String,
    /// Whether disabled.
    pub disabled: bool,
    /// Creation time.
    pub created_at: i64,
}

/// Row counts per table of one tenant (for tests and diagnostics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Counts {
    /// Users.
    pub users: i64,
    /// Devices.
    pub devices: i64,
    /// Key credentials.
    pub keys: i64,
    /// Primary refresh tokens.
    pub prts: i64,
    /// Consumed nonces.
    pub used_nonces: i64,
    /// Audit lines.
    pub audit: i64,
    /// Registered resources.
    pub resources: i64,
    /// Application refresh tokens, live or revoked.
    pub refresh_tokens: i64,
    /// Live (not revoked) application refresh tokens.
    pub live_refresh_tokens: i64,
    /// Trusted TPM manufacturer roots and intermediates.
    pub tpm_roots: i64,
    /// Pending TPM credential activations.
    pub tpm_activations: i64,
    /// Devices with an activated TPM.
    pub tpm_devices: i64,
    /// Certificates issued (any state).
    pub certificates: i64,
    /// Recovery blobs answered by the PIN-recovery service.
    pub pin_recovery_answers: i64,
    /// PIN-recovery key pairs (current and superseded).
    pub pin_recovery_keys: i64,
}

impl Counts {
    /// Each table counted whole, with the field its row count goes in (the backends run
    /// `SELECT COUNT(*) FROM table WHERE tenant_id = $1` for each; `live_refresh_tokens`
    /// is counted apart, with its condition).
    pub fn tables(&mut self) -> [(&'static str, &mut i64); 14] {
        [
            ("users", &mut self.users),
            ("devices", &mut self.devices),
            ("key_credentials", &mut self.keys),
            ("prts", &mut self.prts),
            ("used_nonces", &mut self.used_nonces),
            ("audit", &mut self.audit),
            ("resources", &mut self.resources),
            ("oidc_refresh_tokens", &mut self.refresh_tokens),
            ("tpm_roots", &mut self.tpm_roots),
            ("tpm_activations", &mut self.tpm_activations),
            ("tpm_devices", &mut self.tpm_devices),
            ("certificates", &mut self.certificates),
            ("pin_recovery_answers", &mut self.pin_recovery_answers),
            ("pin_recovery_keys", &mut self.pin_recovery_keys),
        ]
    }
}
