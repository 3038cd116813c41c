//! The tenant: created on first start (CA, token-signing key, nonce secret), reloaded after,
//! and held in memory with its keys parsed once.

use std::path::Path;

use latchkey_pki::TenantCa;

use crate::clock::Env;
use crate::error::ApiError;
use crate::nonce::NonceKey;
use crate::storage::{Storage, TenantRecord};
use crate::tokens::TokenKeys;

/// The file in the data directory holding the CA certificate (PEM).
pub const CA_FILE: &str = "ca.pem";

/// The default tenant display name.
pub const DEFAULT_TENANT_NAME: &str = "Latchkey";

/// A failure while starting up or administering.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Storage failed.
    #[error("storage: {0}")]
    Storage(#[from] crate::storage::StorageError),
    /// The CA could not be created or loaded.
    #[error("certificate authority: {0}")]
    Pki(#[from] latchkey_pki::PkiError),
    /// A key or secret could not be created or loaded.
    #[error("{0}")]
    Keys(String),
    /// A file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The failure.
        source: std::io::Error,
    },
}

impl From<ApiError> for SetupError {
    fn from(err: ApiError) -> SetupError {
        SetupError::Keys(err.to_string())
    }
}

/// The tenant in memory, with its keys ready to use.
#[derive(Debug)]
pub struct Tenant {
    /// Tenant id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The CA.
    pub ca: TenantCa,
    /// CA certificate fingerprint.
    pub ca_fingerprint: String,
    /// Token-signing keys.
    pub tokens: TokenKeys,
    /// Nonce authenticator.
    pub nonces: NonceKey,
}

impl Tenant {
    /// Parses the stored record's keys.
    pub fn from_record(record: &TenantRecord) -> Result<Tenant, SetupError> {
        let ca = TenantCa::from_pem(&record.ca_cert_pem, &record.ca_key_pem)?;
        Ok(Tenant {
            id: record.id.clone(),
            name: record.name.clone(),
            ca_fingerprint: ca.fingerprint_sha256(),
            ca,
            tokens: TokenKeys::from_pkcs8(&record.signing_key_pkcs8, &record.signing_kid)?,
            nonces: NonceKey::new(&record.nonce_secret),
        })
    }
}

/// Loads the data directory's tenant, creating it (and writing `DATA_DIR/ca.pem`) on first
/// use. Returns the tenant and whether it was created now.
pub async fn open_or_create(
    storage: &dyn Storage,
    data_dir: &Path,
    tenant_name: &str,
    env: &Env,
) -> Result<(Tenant, bool), SetupError> {
    let (record, created) = match storage.load_tenant().await? {
        Some(record) => (record, false),
        None => {
            let now = env.clock.now();
            let ca = TenantCa::create(tenant_name, now)?;
            let signing_key_pkcs8 = TokenKeys::generate_pkcs8()?;
            let record = TenantRecord {
                id: env.guid().map_err(ApiError::from)?.to_string(),
                name: tenant_name.to_owned(),
                ca_cert_pem: ca.cert_pem().to_owned(),
                ca_key_pem: ca.key_pkcs8_pem().to_owned(),
                signing_kid: TokenKeys::kid_for(&signing_key_pkcs8)?,
                signing_key_pkcs8,
                nonce_secret: env.random::<32>().map_err(ApiError::from)?.to_vec(),
                created_at: now.unix_timestamp(),
            };
            let stored = storage.create_tenant(&record).await?;
            let created = stored.id == record.id;
            (stored, created)
        }
    };
    let tenant = Tenant::from_record(&record)?;
    let ca_path = data_dir.join(CA_FILE);
    let current = std::fs::read_to_string(&ca_path).ok();
    if current.as_deref() != Some(tenant.ca.cert_pem()) {
        std::fs::write(&ca_path, tenant.ca.cert_pem()).map_err(|source| SetupError::Io {
            path: ca_path.display().to_string(),
            source,
        })?;
    }
    Ok((tenant, created))
}
