//! Administration on the data directory directly (what `latchkeyd user|device|key|audit`
//! use). Works while the service runs: SQLite in WAL mode, every change one transaction,
//! and the service reads devices, keys and users per request, so a change applies at once.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use latchkey_proto::ErrorCode;
use serde::Serialize;

use latchkey_server::audit::{self, event};
use latchkey_server::clock::Env;
use latchkey_server::storage::{
    AdminStorage, AuditRecord, Counts, Database, DeviceListing, KeyListing, OpenStorage, Storage,
    StorageError, User, UserListing,
};
use latchkey_server::tenant::{self, SetupError, Tenant, CA_FILE, DEFAULT_TENANT_NAME};
use latchkey_server::{password, totp};

pub mod cert;
mod directory;
mod import;
pub mod import_file;
pub mod kerberos;
mod pin_recovery;
mod policy;
mod resources;
mod tpm;
pub use pin_recovery::RecoveryKeyListing;
mod web;

pub use cert::{pem, AuthoritySummary, CertificateDetails, KdcFiles, TemplateChange};
pub use directory::{NewSecret, KEY_PREFIX_MIN};
pub use import::ImportSummary;
pub use import_file::ImportFormat;
pub use latchkey_server::storage::admin::{AuditEntry, AuditFilter, Removed};
pub use policy::{AdminTokenListing, GpoListing, GroupListing, TargetChange, ADMIN_TOKEN_PREFIX};
pub use resources::check_resource_uri;
pub use tpm::MAX_ROOT_FILE as MAX_TPM_ROOT_FILE;
pub use web::{ClientListing, NewClient, SecurityKeyReport};

pub use latchkey_server::audit::ADMIN_ACTOR;
pub use latchkey_server::key_report::{key_reports, KeyReport};

/// An administrative operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No such user.
    #[error("no user {0}")]
    NoSuchUser(String),
    /// No such device.
    #[error("no device {0}")]
    NoSuchDevice(String),
    /// No such key.
    #[error("no key {0}")]
    NoSuchKey(String),
    /// No such resource.
    #[error("no resource {0}")]
    NoSuchResource(String),
    /// No TPM root with this fingerprint.
    #[error("no TPM root with fingerprint {0} (see `latchkeyd tpm-roots list`)")]
    NoSuchTpmRoot(String),
    /// No application with this client id.
    #[error("no application with client id {0} (see `latchkeyd client list`)")]
    NoSuchClient(String),
    /// A public client has no secret to rotate.
    #[error("application {0} is a public client: it has no secret to rotate")]
    ClientPublic(String),
    /// The data directory does not exist, or holds no database or no tenant (nothing was
    /// created).
    #[error(
        "{path}: {what}; nothing was created. Check --data-dir, or create a data directory \
         with `latchkeyd init --data-dir {path}`",
        path = path.display()
    )]
    NoDataDir {
        /// The path given.
        path: PathBuf,
        /// What is missing.
        what: &'static str,
    },
    /// A key id prefix matches several keys.
    #[error("the key id prefix {prefix} matches {count} keys; give more of the id")]
    AmbiguousPrefix {
        /// The prefix.
        prefix: String,
        /// How many keys it matches.
        count: usize,
    },
    /// A key id prefix is too short or not hexadecimal.
    #[error(
        "`{0}` is not a key id or a prefix of one: give at least {KEY_PREFIX_MIN} hexadecimal \
         digits"
    )]
    PrefixTooShort(String),
    /// `user delete` of the registered owner of devices.
    #[error(
        "{upn} is the registered owner of {count} device(s); delete them first (`latchkeyd \
         device list`, `latchkeyd device delete ID`); nothing was deleted"
    )]
    UserOwnsDevices {
        /// The user.
        upn: String,
        /// How many devices.
        count: u64,
    },
    /// A value given is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// The database (PostgreSQL) could not be reached or opened; nothing was changed.
    #[error("cannot open the {kind} database: {detail}; nothing was changed")]
    DatabaseUnreachable {
        /// Which backend (never the URL: it may hold a password).
        kind: &'static str,
        /// What failed.
        detail: String,
    },
    /// The database URL is not usable (a parameter PostgreSQL's client refuses).
    #[error("the database URL is not usable: {0}")]
    DatabaseUrl(String),
    /// A policy operation failed.
    #[error(transparent)]
    Policy(latchkey_server::policy::PolicyServiceError),
    /// Storage or setup failed.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// A certificate operation failed with this code.
    #[error("{message}")]
    Cert {
        /// The code.
        code: ErrorCode,
        /// The message.
        message: String,
    },
    /// `user import`: a line of the file is not acceptable (LK-IMP-001).
    #[error("{0}; nothing was imported")]
    ImportLine(String),
    /// `user import`: a UPN exists already or is listed twice (LK-IMP-002).
    #[error("{0}; nothing was imported")]
    ImportExists(String),
    /// `user import`: the file cannot be read or its format is not known (LK-IMP-003).
    #[error("{0}; nothing was imported")]
    ImportFile(String),
    /// `user import --enrolment-out`: the file exists or cannot be written (LK-IMP-004).
    #[error("the enrolment file {0}; nothing was imported")]
    ImportEnrolment(String),
    /// The audit export file could not be created or written (LK-AUDIT-001).
    #[error("cannot write the audit export {path}: {source} (nothing was pruned)")]
    Export {
        /// The file.
        path: String,
        /// The failure.
        source: std::io::Error,
    },
}

impl From<StorageError> for AdminError {
    fn from(err: StorageError) -> AdminError {
        match err {
            StorageError::Conflict(what) => AdminError::Invalid(format!("{what} already exists")),
            other => AdminError::Setup(SetupError::Storage(other)),
        }
    }
}

impl AdminError {
    /// The stable code to print with the message.
    pub fn code(&self) -> ErrorCode {
        match self {
            AdminError::NoSuchUser(_) => ErrorCode::InvalidCredentials,
            AdminError::NoSuchDevice(_) => ErrorCode::DeviceNotFound,
            AdminError::NoSuchKey(_) => ErrorCode::KeyNotFound,
            AdminError::NoSuchResource(_) => ErrorCode::ResourceNotFound,
            AdminError::NoSuchTpmRoot(_) => ErrorCode::TpmRootNotFound,
            AdminError::NoSuchClient(_) => ErrorCode::ClientNotFound,
            AdminError::ClientPublic(_) => ErrorCode::ClientPublic,
            AdminError::NoDataDir { .. } => ErrorCode::DataDirMissing,
            AdminError::AmbiguousPrefix { .. } => ErrorCode::AmbiguousPrefix,
            AdminError::PrefixTooShort(_) => ErrorCode::PrefixTooShort,
            AdminError::UserOwnsDevices { .. } => ErrorCode::UserOwnsDevices,
            AdminError::Invalid(_) => ErrorCode::InvalidField,
            AdminError::DatabaseUnreachable { .. } => ErrorCode::DatabaseUnavailable,
            AdminError::DatabaseUrl(_) => ErrorCode::ConfigValueInvalid,
            AdminError::Policy(p) => match p {
                latchkey_server::policy::PolicyServiceError::Malformed(_) => {
                    ErrorCode::SyncMlMalformed
                }
                latchkey_server::policy::PolicyServiceError::Invalid(_) => ErrorCode::PolicyInvalid,
                latchkey_server::policy::PolicyServiceError::OutOfBounds(_) => {
                    ErrorCode::PolicyOutOfBounds
                }
                _ => ErrorCode::Internal,
            },
            AdminError::Setup(setup) => setup.code(),
            AdminError::Export { .. } => ErrorCode::AuditExportFailed,
            AdminError::ImportLine(_) => ErrorCode::ImportLineInvalid,
            AdminError::ImportExists(_) => ErrorCode::ImportUserExists,
            AdminError::ImportFile(_) => ErrorCode::ImportFileUnreadable,
            AdminError::ImportEnrolment(_) => ErrorCode::ImportEnrolmentFailed,
            AdminError::Cert { code, .. } => *code,
        }
    }
}

/// The longest user principal name `user add` and `user import` accept, in bytes.
pub const MAX_UPN: usize = 256;

/// The user principal name rule of `user add` and `user import`: `raw` trimmed and
/// lowercased, at most [`MAX_UPN`] bytes, no whitespace, an `@`; the message says why not.
pub(crate) fn principal_name(raw: &str) -> Result<String, String> {
    let upn = raw.trim().to_lowercase();
    if upn.len() > MAX_UPN || upn.chars().any(char::is_whitespace) || !upn.contains('@') {
        return Err(format!(
            "`{upn}` is not a user principal name (user@domain, at most {MAX_UPN} bytes)"
        ));
    }
    Ok(upn)
}

/// The password rule of `user add` and `user reset-password`.
pub(crate) fn check_password(password: &str) -> Result<(), AdminError> {
    if password.chars().count() < 8 {
        return Err(AdminError::Invalid(
            "the password must have at least 8 characters".into(),
        ));
    }
    Ok(())
}

/// What `tenant show` prints.
#[derive(Debug, Clone, Serialize)]
pub struct TenantSummary {
    /// Tenant id.
    pub tenant_id: String,
    /// Name.
    pub name: String,
    /// CA certificate file.
    pub ca_file: PathBuf,
    /// CA fingerprint.
    pub ca_fingerprint_sha256: String,
    /// Token-signing key id.
    pub signing_kid: String,
}

/// A newly created user and its TOTP enrolment URI.
#[derive(Debug, Clone, Serialize)]
pub struct NewUser {
    /// The user.
    pub user: UserListing,
    /// `otpauth://` URI for an authenticator app (a secret: shown once).
    pub otpauth_uri: String,
}

/// The administrative interface over one data directory.
pub struct Admin {
    /// The opened backend (SQLite in the data directory, or PostgreSQL).
    open: OpenStorage,
    storage: Arc<dyn Storage>,
    admin: Arc<dyn AdminStorage>,
    tenant: Tenant,
    env: Env,
    data_dir: PathBuf,
    /// Who acts: the `actor` of the audit lines this administrator writes.
    actor: String,
    /// The issuing CA and RA, once created (by the service's start or `cert authority
    /// init`).
    pki: Option<latchkey_server::certs::Pki>,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field("data_dir", &self.data_dir)
            .field("database", &self.kind())
            .field("tenant", &self.tenant.id)
            .finish()
    }
}

impl Admin {
    /// Opens the data directory (creating it and the tenant if this is the first use), with
    /// the key file at its default place.
    pub async fn open(data_dir: &Path, env: Env) -> Result<Admin, AdminError> {
        Admin::open_with_key_file(data_dir, None, env).await
    }

    /// [`Admin::open`] with the key file at `key_file` (`None`: `DATA_DIR/secrets.key`).
    pub async fn open_with_key_file(
        data_dir: &Path,
        key_file: Option<&Path>,
        env: Env,
    ) -> Result<Admin, AdminError> {
        Ok(Admin::create(data_dir, key_file, DEFAULT_TENANT_NAME, env)
            .await?
            .0)
    }

    /// Opens the data directory, creating it and the tenant (named `tenant_name`) if this
    /// is the first use (`latchkeyd init`); also returns whether the tenant was created.
    pub async fn create(
        data_dir: &Path,
        key_file: Option<&Path>,
        tenant_name: &str,
        env: Env,
    ) -> Result<(Admin, bool), AdminError> {
        Admin::create_on(&Database::Sqlite, data_dir, key_file, tenant_name, env).await
    }

    /// [`Admin::create`] on `database`: SQLite in the data directory, or a PostgreSQL
    /// database (the data directory then holds `ca.pem` and the default key file, which
    /// every replica of the tenant must share).
    pub async fn create_on(
        database: &Database,
        data_dir: &Path,
        key_file: Option<&Path>,
        tenant_name: &str,
        env: Env,
    ) -> Result<(Admin, bool), AdminError> {
        latchkey_server::data_dir::prepare_for(data_dir, database).map_err(SetupError::from)?;
        let open = open_storage(database, data_dir).await?;
        let (tenant, created) =
            tenant::open_or_create(&*open.storage(), data_dir, key_file, tenant_name, &env).await?;
        Admin::finish(open, tenant, data_dir, env)
            .await
            .map(|admin| (admin, created))
    }

    /// Opens an existing data directory (what every administration command but `init`
    /// does): a directory that does not exist, holds no database or no tenant is refused
    /// ([`AdminError::NoDataDir`]) and nothing is created.
    pub async fn open_existing(
        data_dir: &Path,
        key_file: Option<&Path>,
        env: Env,
    ) -> Result<Admin, AdminError> {
        Admin::open_existing_on(&Database::Sqlite, data_dir, key_file, env).await
    }

    /// [`Admin::open_existing`] on `database`. The data directory must exist either way
    /// (it holds `ca.pem` and the default key file); "no database in this directory" is
    /// SQLite's refusal, and "the database holds no tenant" that of both backends.
    pub async fn open_existing_on(
        database: &Database,
        data_dir: &Path,
        key_file: Option<&Path>,
        env: Env,
    ) -> Result<Admin, AdminError> {
        let missing = |what| AdminError::NoDataDir {
            path: data_dir.to_path_buf(),
            what,
        };
        if !data_dir.is_dir() {
            return Err(missing("no such directory"));
        }
        latchkey_server::data_dir::check(data_dir).map_err(SetupError::from)?;
        if *database == Database::Sqlite {
            let db = data_dir.join(latchkey_server::storage::sqlite::DB_FILE);
            // An empty file is what a first start that failed before the schema leaves.
            if std::fs::metadata(&db).map_or(true, |m| !m.is_file() || m.len() == 0) {
                return Err(missing("no Latchkey database in this directory"));
            }
        }
        let open = open_storage(database, data_dir).await?;
        let storage = open.storage();
        let loaded = match storage.load_tenant().await {
            Ok(loaded) => loaded,
            Err(e) => {
                open.close().await;
                return Err(e.into());
            }
        };
        if loaded.is_none() {
            open.close().await;
            return Err(missing("the database holds no tenant"));
        }
        let (tenant, _) =
            tenant::open_or_create(&*storage, data_dir, key_file, DEFAULT_TENANT_NAME, &env)
                .await?;
        Admin::finish(open, tenant, data_dir, env).await
    }

    async fn finish(
        open: OpenStorage,
        tenant: Tenant,
        data_dir: &Path,
        env: Env,
    ) -> Result<Admin, AdminError> {
        let storage = open.storage();
        let pki = latchkey_server::certs::load(&*storage, &tenant).await?;
        Ok(Admin {
            admin: open.admin(),
            storage,
            open,
            tenant,
            env,
            data_dir: data_dir.to_path_buf(),
            actor: ADMIN_ACTOR.to_owned(),
            pki,
        })
    }

    /// Which backend this administrator works on (`sqlite` or `postgres`).
    pub fn kind(&self) -> &'static str {
        match self.open {
            OpenStorage::Sqlite { .. } => "sqlite",
            OpenStorage::Postgres(_) => "postgres",
        }
    }

    /// Names who acts in the audit lines written from now on (`admin:alice` for the
    /// command line run by the Unix user alice); the default is [`ADMIN_ACTOR`].
    pub fn set_actor(&mut self, actor: &str) {
        self.actor =
            latchkey_server::audit::cap(actor, latchkey_server::audit::MAX_FIELD).into_owned();
    }

    /// Who acts (see [`Admin::set_actor`]).
    pub fn actor(&self) -> &str {
        &self.actor
    }

    fn line(&self, event: &str) -> AuditRecord {
        audit::line(event, self.env.clock.unix()).actor(self.actor.clone())
    }

    /// The tenant.
    pub fn tenant(&self) -> TenantSummary {
        TenantSummary {
            tenant_id: self.tenant.id.clone(),
            name: self.tenant.name.clone(),
            ca_file: self.data_dir.join(CA_FILE),
            ca_fingerprint_sha256: self.tenant.ca_fingerprint.clone(),
            signing_kid: self.tenant.tokens.kid().to_owned(),
        }
    }

    /// Creates a user with a password (Argon2id) and a fresh TOTP secret.
    pub async fn add_user(
        &self,
        upn: &str,
        password: &str,
        display_name: Option<&str>,
    ) -> Result<NewUser, AdminError> {
        let upn = principal_name(upn).map_err(AdminError::Invalid)?;
        check_password(password)?;
        let rng_error = |_| AdminError::Invalid("the random number generator failed".into());
        let salt = self.env.random::<16>().map_err(rng_error)?;
        let secret = self
            .env
            .random::<{ totp::SECRET_LEN }>()
            .map_err(rng_error)?;
        let owned = password.to_owned();
        let hash = tokio::task::spawn_blocking(move || password::hash(&owned, &salt))
            .await
            .map_err(|e| AdminError::Invalid(e.to_string()))?
            .map_err(AdminError::Invalid)?;
        let now = self.env.clock.unix();
        let id = self.env.guid().map_err(rng_error)?.to_string();
        let sealed_secret = self
            .tenant
            .seal_totp(&self.env, &id, &secret)
            .map_err(|e| AdminError::Invalid(e.to_string()))?;
        let user = User {
            id,
            upn: upn.clone(),
            display_name: display_name.unwrap_or(&upn).to_owned(),
            password_hash: hash,
            totp_secret: sealed_secret,
            last_totp_step: None,
            disabled: false,
            created_at: now,
        };
        let line = self.line(event::USER_CREATE).note(upn.clone());
        self.storage
            .create_user(&self.tenant.id, &user, &line)
            .await?;
        Ok(NewUser {
            otpauth_uri: totp::otpauth_uri(&self.tenant.name, &upn, &secret),
            user: UserListing {
                id: user.id,
                upn: user.upn,
                display_name: user.display_name,
                disabled: false,
                created_at: now,
            },
        })
    }

    /// All users.
    pub async fn users(&self) -> Result<Vec<UserListing>, AdminError> {
        Ok(self.storage.list_users(&self.tenant.id).await?)
    }

    /// Disables a user: sign-in, renewal and tokens are refused at once.
    pub async fn disable_user(&self, upn: &str) -> Result<(), AdminError> {
        let upn = upn.trim().to_lowercase();
        let line = self.line(event::USER_DISABLE).note(upn.clone());
        if !self
            .storage
            .disable_user(&self.tenant.id, &upn, &line)
            .await?
        {
            return Err(AdminError::NoSuchUser(upn));
        }
        Ok(())
    }

    /// All devices.
    pub async fn devices(&self) -> Result<Vec<DeviceListing>, AdminError> {
        Ok(self.storage.list_devices(&self.tenant.id).await?)
    }

    /// Disables a device and revokes its tokens.
    pub async fn disable_device(&self, device_id: &str) -> Result<(), AdminError> {
        let line = self.line(event::DEVICE_DISABLE).device(device_id);
        if !self
            .storage
            .disable_device(&self.tenant.id, device_id, &line)
            .await?
        {
            return Err(AdminError::NoSuchDevice(device_id.to_owned()));
        }
        Ok(())
    }

    /// All keys, or one user's.
    pub async fn keys(&self, upn: Option<&str>) -> Result<Vec<KeyListing>, AdminError> {
        let upn = upn.map(|u| u.trim().to_lowercase());
        Ok(self
            .storage
            .list_keys(&self.tenant.id, upn.as_deref())
            .await?)
    }

    /// Deletes a key: sign-in and tokens with it are refused at once.
    pub async fn delete_key(&self, key_id: &str) -> Result<(), AdminError> {
        let key_id = key_id.trim().to_lowercase();
        let line = self.line(event::KEY_DELETE).key(&key_id);
        if !self
            .storage
            .delete_key(&self.tenant.id, &key_id, &line)
            .await?
        {
            return Err(AdminError::NoSuchKey(key_id));
        }
        Ok(())
    }

    /// The audit trail from `since` (Unix seconds) on.
    pub async fn audit(&self, since: i64) -> Result<Vec<AuditRecord>, AdminError> {
        Ok(self.storage.audit_since(&self.tenant.id, since).await?)
    }

    /// Writes every audit line older than `before` to a new file `out` (JSON lines, one
    /// [`AuditRecord`] each, oldest first; created exclusively, mode 0600, synced) and,
    /// with `prune`, then deletes exactly the lines written. Returns (written, pruned).
    pub async fn export_audit(
        &self,
        before: i64,
        out: &Path,
        prune: bool,
    ) -> Result<(u64, u64), AdminError> {
        use std::io::Write;
        let fail = |source: std::io::Error| AdminError::Export {
            path: out.display().to_string(),
            source,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(out).map_err(fail)?;
        let mut writer = std::io::BufWriter::new(file);
        let (mut last, mut written) = (0i64, 0u64);
        loop {
            let page = self
                .storage
                .audit_page(&self.tenant.id, before, last, 1000)
                .await?;
            let Some((seq, _)) = page.last() else {
                break;
            };
            last = *seq;
            for (_, line) in &page {
                serde_json::to_writer(&mut writer, line).map_err(|e| fail(e.into()))?;
                writer.write_all(b"\n").map_err(fail)?;
                written += 1;
            }
        }
        let file = writer.into_inner().map_err(|e| fail(e.into_error()))?;
        file.sync_all().map_err(fail)?;
        let pruned = if prune && written > 0 {
            self.storage
                .prune_audit(&self.tenant.id, before, Some(last))
                .await?
        } else {
            0
        };
        Ok((written, pruned))
    }

    /// Row counts.
    pub async fn counts(&self) -> Result<Counts, AdminError> {
        Ok(self.storage.counts(&self.tenant.id).await?)
    }

    /// The current time of the admin's clock (Unix seconds).
    pub fn now(&self) -> i64 {
        self.env.clock.unix()
    }

    /// Closes the database.
    pub async fn close(self) {
        self.open.close().await;
    }
}

/// Opens `database` (SQLite: in `data_dir`). A PostgreSQL server that does not answer
/// (refused, unresolvable, TLS failure, no connection within the pool's wait) is
/// [`AdminError::DatabaseUnreachable`]; a URL its client refuses is
/// [`AdminError::DatabaseUrl`].
async fn open_storage(database: &Database, data_dir: &Path) -> Result<OpenStorage, AdminError> {
    match OpenStorage::open(database, data_dir).await {
        Ok(open) => Ok(open),
        Err(e) if *database == Database::Sqlite => Err(SetupError::from(e).into()),
        Err(StorageError::Database(sqlx::Error::Configuration(e))) => {
            Err(AdminError::DatabaseUrl(e.to_string()))
        }
        Err(e) => Err(AdminError::DatabaseUnreachable {
            kind: database.kind(),
            detail: e.to_string(),
        }),
    }
}
