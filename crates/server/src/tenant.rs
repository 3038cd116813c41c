//! The tenant: created on first start (CA, token-signing key, nonce secret), reloaded after,
//! and held in memory with its keys parsed once.

use std::path::Path;

use latchkey_pki::TenantCa;
use latchkey_proto::ErrorCode;
use zeroize::Zeroizing;

use crate::clock::Env;
use crate::data_dir::{self, DataDirError};
use crate::error::ApiError;
use crate::nonce::NonceKey;
use crate::secrets::key_file::{self, KeyFileError, KEY_FILE};
use crate::secrets::{KeyEncryptionKey, SecretSlot, SecretsError};
use crate::storage::{SealedTenantSecrets, Storage, TenantRecord, User};
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
    /// The data directory is not private.
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// The key file is missing, unusable, or not the database's.
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    /// A sealed secret in the database does not open.
    #[error(transparent)]
    Secrets(#[from] SecretsError),
}

impl SetupError {
    /// The stable code printed with the message.
    pub fn code(&self) -> ErrorCode {
        match self {
            SetupError::DataDir(
                DataDirError::NotPrivate { .. } | DataDirError::NotRegular { .. },
            ) => ErrorCode::DataDirNotPrivate,
            SetupError::KeyFile(KeyFileError::WrongKey { .. })
            | SetupError::Secrets(SecretsError::WrongKey { .. }) => ErrorCode::KeyFileWrongKey,
            SetupError::KeyFile(KeyFileError::Io { .. } | KeyFileError::Missing { .. })
            | SetupError::KeyFile(KeyFileError::Malformed { .. })
            | SetupError::KeyFile(KeyFileError::NotPrivate { .. }) => ErrorCode::KeyFileUnusable,
            SetupError::Secrets(_) => ErrorCode::SealedSecretInvalid,
            // The database did not answer, or its TLS certificate was not trusted: what
            // the administration commands report for the same failure.
            SetupError::Storage(e) if e.is_unavailable() => ErrorCode::DatabaseUnavailable,
            _ => ErrorCode::Internal,
        }
    }
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
    /// The key-encryption key the database's secrets are sealed under.
    pub kek: KeyEncryptionKey,
}

impl Tenant {
    /// Opens the stored record's sealed secrets with `kek` and parses its keys.
    pub fn from_record(record: &TenantRecord, kek: KeyEncryptionKey) -> Result<Tenant, SetupError> {
        let id = &record.id;
        let ca_key = kek.open_text(id, &SecretSlot::CaKey, &record.ca_key_pem)?;
        let signing_key = kek.open(id, &SecretSlot::SigningKey, &record.signing_key_pkcs8)?;
        let nonce_secret = kek.open(id, &SecretSlot::NonceSecret, &record.nonce_secret)?;
        let ca = TenantCa::from_pem(&record.ca_cert_pem, &ca_key)?;
        Ok(Tenant {
            id: record.id.clone(),
            name: record.name.clone(),
            ca_fingerprint: ca.fingerprint_sha256(),
            ca,
            tokens: TokenKeys::from_pkcs8(&signing_key, &record.signing_kid)?,
            nonces: NonceKey::new(&nonce_secret),
            kek,
        })
    }

    /// Opens `user`'s sealed TOTP secret.
    pub fn totp_secret(&self, user: &User) -> Result<Zeroizing<Vec<u8>>, ApiError> {
        self.kek
            .open(
                &self.id,
                &SecretSlot::Totp {
                    user_id: user.id.clone(),
                },
                &user.totp_secret,
            )
            .map_err(ApiError::internal)
    }

    /// Seals a new TOTP secret for the user `user_id` (with a random nonce from `env`).
    pub fn seal_totp(&self, env: &Env, user_id: &str, secret: &[u8]) -> Result<Vec<u8>, ApiError> {
        let nonce = env.random::<12>()?;
        self.kek
            .seal(
                &self.id,
                &SecretSlot::Totp {
                    user_id: user_id.to_owned(),
                },
                secret,
                nonce,
            )
            .map_err(ApiError::internal)
    }
}

/// A tenant's secrets in plaintext, on their way to being sealed.
struct PlainSecrets<'a> {
    ca_key_pem: &'a str,
    signing_key_pkcs8: &'a [u8],
    nonce_secret: &'a [u8],
}

/// Seals the tenant `id`'s secrets under `kek` (nonces from `env`).
fn seal_tenant(
    id: &str,
    plain: &PlainSecrets<'_>,
    kek: &KeyEncryptionKey,
    env: &Env,
) -> Result<SealedTenantSecrets, SetupError> {
    let nonce = || env.random::<12>().map_err(ApiError::from);
    Ok(SealedTenantSecrets {
        kek_id: kek.id(),
        ca_key_pem: kek.seal_text(id, &SecretSlot::CaKey, plain.ca_key_pem, nonce()?)?,
        signing_key_pkcs8: kek.seal(
            id,
            &SecretSlot::SigningKey,
            plain.signing_key_pkcs8,
            nonce()?,
        )?,
        nonce_secret: kek.seal(id, &SecretSlot::NonceSecret, plain.nonce_secret, nonce()?)?,
    })
}

/// Loads the data directory's tenant, creating it (and writing `DATA_DIR/ca.pem`) on first
/// use. The data directory must be private ([`data_dir::prepare`] is the caller's first
/// step). The key-encryption key comes from `key_file` (default `DATA_DIR/secrets.key`,
/// created when the database has nothing sealed yet); a data directory from before sealing
/// has its secrets sealed now, in one transaction. Returns the tenant and whether it was
/// created now.
pub async fn open_or_create(
    storage: &dyn Storage,
    data_dir: &Path,
    key_file: Option<&Path>,
    tenant_name: &str,
    env: &Env,
) -> Result<(Tenant, bool), SetupError> {
    let existing = storage.load_tenant().await?;
    let sealed_by = existing.as_ref().and_then(|r| r.secrets_sealed_by.clone());
    let key_path = key_file.map_or_else(|| data_dir.join(KEY_FILE), Path::to_path_buf);
    let new_key = Zeroizing::new(env.random::<32>().map_err(ApiError::from)?);
    let (kek, _) = key_file::load_or_create(&key_path, sealed_by.as_deref(), *new_key)?;
    let (record, created) = match existing {
        Some(record) if record.secrets_sealed_by.is_some() => (record, false),
        Some(record) => {
            let plain = PlainSecrets {
                ca_key_pem: &record.ca_key_pem,
                signing_key_pkcs8: &record.signing_key_pkcs8,
                nonce_secret: &record.nonce_secret,
            };
            let sealed = seal_tenant(&record.id, &plain, &kek, env)?;
            let tenant_id = record.id.clone();
            let seal_totp = |user_id: &str, secret: &[u8]| {
                let nonce = env.random::<12>().map_err(|_| SecretsError::Seal {
                    slot: format!("TOTP secret of user {user_id}"),
                })?;
                kek.seal(
                    &tenant_id,
                    &SecretSlot::Totp {
                        user_id: user_id.to_owned(),
                    },
                    secret,
                    nonce,
                )
            };
            if storage
                .seal_secrets(&record.id, &sealed, &seal_totp)
                .await?
            {
                tracing::info!(kek = %kek.id(), "sealed the data directory's secrets");
            }
            let reloaded = storage.load_tenant().await?.ok_or_else(|| {
                SetupError::Keys("the tenant disappeared while its secrets were sealed".into())
            })?;
            (reloaded, false)
        }
        None => {
            let now = env.clock.now();
            let ca = TenantCa::create(tenant_name, now)?;
            let signing_key_pkcs8 = Zeroizing::new(TokenKeys::generate_pkcs8()?);
            let nonce_secret = Zeroizing::new(env.random::<32>().map_err(ApiError::from)?);
            let id = env.guid().map_err(ApiError::from)?.to_string();
            let plain = PlainSecrets {
                ca_key_pem: ca.key_pkcs8_pem(),
                signing_key_pkcs8: &signing_key_pkcs8,
                nonce_secret: &nonce_secret[..],
            };
            let sealed = seal_tenant(&id, &plain, &kek, env)?;
            let record = TenantRecord {
                id,
                name: tenant_name.to_owned(),
                ca_cert_pem: ca.cert_pem().to_owned(),
                ca_key_pem: sealed.ca_key_pem,
                signing_kid: TokenKeys::kid_for(&signing_key_pkcs8)?,
                signing_key_pkcs8: sealed.signing_key_pkcs8,
                nonce_secret: sealed.nonce_secret,
                created_at: now.unix_timestamp(),
                secrets_sealed_by: Some(sealed.kek_id),
            };
            let stored = storage.create_tenant(&record).await?;
            let created = stored.id == record.id;
            (stored, created)
        }
    };
    if record.secrets_sealed_by.as_deref() != Some(kek.id().as_str()) {
        return Err(KeyFileError::WrongKey {
            path: key_path,
            found: kek.id(),
            sealed_by: record.secrets_sealed_by.unwrap_or_default(),
        }
        .into());
    }
    let tenant = Tenant::from_record(&record, kek)?;
    let ca_path = data_dir.join(CA_FILE);
    let current = std::fs::read_to_string(&ca_path).ok();
    if current.as_deref() != Some(tenant.ca.cert_pem()) {
        data_dir::write_private(&ca_path, tenant.ca.cert_pem().as_bytes())?;
    }
    Ok((tenant, created))
}
