//! Storage for the browser and application side of the service: OpenID Connect clients,
//! codes and refresh tokens, web sessions, WebAuthn challenges, FIDO2 security keys and the
//! tenant's security-key settings. Same rules as [`super::Storage`]: one method, one
//! transaction; the tenant id in every query.

use async_trait::async_trait;
use serde::Serialize;

use super::{AuditRecord, StorageResult, User};

/// An application registered for OpenID Connect.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OidcClient {
    /// Client id.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// SHA-256 (hex) of the secret; `None` for a public client (PKCE required).
    pub secret_hash: Option<String>,
    /// Registered redirect URIs, one per line (compared exactly).
    pub redirect_uris: String,
    /// Creation time.
    pub created_at: i64,
}

impl OidcClient {
    /// Whether `uri` is one of the registered redirect URIs (exact match).
    pub fn allows_redirect(&self, uri: &str) -> bool {
        self.redirect_uris.lines().any(|r| r == uri)
    }

    /// Whether this is a public client.
    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }
}

/// What a signed-in session (and the tokens made from it) says about the sign-in.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Grant {
    /// Client id.
    pub client_id: String,
    /// User object id.
    pub user_id: String,
    /// Space-separated scopes.
    pub scope: String,
    /// Space-separated `amr` values of the sign-in.
    pub amr: String,
    /// When the user signed in.
    pub auth_time: i64,
}

/// An authorization code (stored by hash).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuthCode {
    /// SHA-256 (hex) of the code.
    pub code_hash: String,
    /// The redirect URI it was issued for.
    pub redirect_uri: String,
    /// The OpenID `nonce` of the request.
    pub nonce: Option<String>,
    /// The PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// Expiry.
    pub expires_at: i64,
    /// The grant.
    #[sqlx(flatten)]
    pub grant: Grant,
}

/// A refresh token (stored by hash).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefreshGrant {
    /// SHA-256 (hex) of the token.
    pub token_hash: String,
    /// Expiry.
    pub expires_at: i64,
    /// Whether revoked (rotated, or its family revoked).
    pub revoked: bool,
    /// The family: the `code_hash` of the authorization code the chain of rotations started
    /// from (every token of a family is revoked when one of them, or the code, is reused).
    pub family_id: String,
    /// The grant.
    #[sqlx(flatten)]
    pub grant: Grant,
}

/// What redeeming an authorization code found.
#[derive(Debug, Clone)]
pub enum CodeRedemption {
    /// The code, now marked used.
    Redeemed(AuthCode),
    /// The code had been redeemed before: its family was revoked.
    Reused {
        /// How many refresh tokens were revoked.
        revoked: u64,
    },
    /// No such code (never issued, or pruned).
    Unknown,
}

/// What presenting a refresh token found.
#[derive(Debug, Clone)]
pub enum Rotation {
    /// The token was live: it is revoked and the new one stored; its grant.
    Rotated(Grant),
    /// The token had been revoked before (a reuse): its family was revoked.
    Reused {
        /// How many refresh tokens were revoked.
        revoked: u64,
    },
    /// Unknown, another client's, expired, or its user is disabled: nothing written.
    Invalid,
}

/// A browser session.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WebSession {
    /// SHA-256 (hex) of the session cookie value.
    pub id_hash: String,
    /// User object id.
    pub user_id: String,
    /// Space-separated `amr` of the sign-in.
    pub amr: String,
    /// The anti-forgery token of this session.
    pub csrf: String,
    /// Sign-in time.
    pub created_at: i64,
    /// Expiry.
    pub expires_at: i64,
}

/// A pending WebAuthn ceremony.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Challenge {
    /// Ceremony id.
    pub id: String,
    /// `register` or `signin`.
    pub purpose: String,
    /// The user it is for, when known.
    pub user_id: Option<String>,
    /// The challenge bytes.
    pub challenge: Vec<u8>,
    /// Expiry.
    pub expires_at: i64,
}

/// A registered FIDO2 security key.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct SecurityKey {
    /// Credential id, base64url.
    pub credential_id: String,
    /// Owner's object id.
    pub user_id: String,
    /// Name the user gave.
    pub name: String,
    /// AAGUID (hyphenated lowercase).
    pub aaguid: String,
    /// Attestation format (`packed`, `fido-u2f`, `none`, ...).
    pub format: String,
    /// Whether the attestation chained to a configured root.
    pub trusted_root: bool,
    /// COSE public key.
    #[serde(skip)]
    pub public_key_cose: Vec<u8>,
    /// Last signature counter seen.
    pub sign_count: i64,
    /// Registration time.
    pub created_at: i64,
    /// Last sign-in with it.
    pub last_used_at: Option<i64>,
}

/// A security key with its owner's UPN, for listings.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct SecurityKeyListing {
    /// Owner UPN.
    pub upn: String,
    /// The key.
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub key: SecurityKey,
}

/// The tenant's security-key settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct SecurityKeySettings {
    /// Refuse keys whose attestation does not chain to one of `roots_pem`.
    pub require_trusted_root: bool,
    /// `any`, `allow` or `block`.
    pub aaguid_mode: String,
    /// AAGUIDs of the list, one per line.
    pub aaguids: String,
    /// Trusted attestation roots, PEM.
    pub roots_pem: String,
}

/// Why a security key was not registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterOutcome {
    /// Stored.
    Registered,
    /// The user already has the maximum number of keys.
    LimitReached,
    /// The ceremony was already used or expired.
    CeremonyGone,
    /// The credential id is already registered.
    Duplicate,
}

/// The web side's persistent state.
#[async_trait]
pub trait WebStorage: Send + Sync + 'static {
    /// A user by object id.
    async fn user_by_id(&self, tenant: &str, user_id: &str) -> StorageResult<Option<User>>;

    /// Registers an application, audited.
    async fn create_client(
        &self,
        tenant: &str,
        client: &OidcClient,
        audit: &AuditRecord,
    ) -> StorageResult<()>;
    /// An application by client id.
    async fn client(&self, tenant: &str, client_id: &str) -> StorageResult<Option<OidcClient>>;
    /// All applications.
    async fn list_clients(&self, tenant: &str) -> StorageResult<Vec<OidcClient>>;
    /// Stores an authorization code.
    async fn store_code(&self, tenant: &str, code: &AuthCode) -> StorageResult<()>;
    /// Redeems an authorization code (single use), expired or not: marks it used and returns
    /// it. A code that was already used is a reuse: every refresh token of its family (all
    /// issued from it, rotated or not) is revoked, the code is deleted (so a redemption still
    /// in flight cannot store its refresh token) and `reuse_audit` is written when anything
    /// was revoked, all in one transaction.
    async fn take_code(
        &self,
        tenant: &str,
        code_hash: &str,
        reuse_audit: &AuditRecord,
    ) -> StorageResult<CodeRedemption>;
    /// Stores the first refresh token of the family of the code `token.family_id` with an
    /// audit line, provided that code is still recorded as redeemed; false (and nothing
    /// written) when its reuse was detected meanwhile.
    async fn store_refresh(
        &self,
        tenant: &str,
        token: &RefreshGrant,
        audit: &AuditRecord,
    ) -> StorageResult<bool>;
    /// Revokes `old_hash` (which must be `client_id`'s, live at `now`, and whose user is not
    /// disabled) and stores `new` in the same family. A token of `client_id` that was
    /// already revoked is a reuse: its whole family is revoked and, when that revoked
    /// anything, `reuse_audit` written, in one transaction. Otherwise nothing is written.
    async fn rotate_refresh(
        &self,
        tenant: &str,
        old_hash: &str,
        client_id: &str,
        new: &RefreshGrant,
        now: i64,
        reuse_audit: &AuditRecord,
    ) -> StorageResult<Rotation>;

    /// Records a password + TOTP web sign-in: the TOTP step (refused, returning false, when
    /// it or a later one was already used), the session and the audit line.
    async fn password_session(
        &self,
        tenant: &str,
        totp_step: i64,
        session: &WebSession,
        audit: &AuditRecord,
    ) -> StorageResult<bool>;
    /// A live session by hash, with its user.
    async fn session(
        &self,
        tenant: &str,
        id_hash: &str,
        now: i64,
    ) -> StorageResult<Option<(WebSession, User)>>;
    /// Ends a session, audited.
    async fn delete_session(
        &self,
        tenant: &str,
        id_hash: &str,
        audit: &AuditRecord,
    ) -> StorageResult<()>;

    /// Deletes browser sessions, authorization codes, refresh tokens and WebAuthn challenges
    /// that expired before `before`; returns how many rows went.
    async fn prune_expired(&self, tenant: &str, before: i64) -> StorageResult<u64>;

    /// Stores a WebAuthn challenge (and deletes expired ones).
    async fn store_challenge(&self, tenant: &str, c: &Challenge, now: i64) -> StorageResult<()>;
    /// Reads a live challenge (it stays until the ceremony completes).
    async fn challenge(&self, tenant: &str, id: &str, now: i64)
        -> StorageResult<Option<Challenge>>;

    /// Security keys, all or one user's.
    async fn list_security_keys(
        &self,
        tenant: &str,
        user_id: Option<&str>,
    ) -> StorageResult<Vec<SecurityKeyListing>>;
    /// A security key by credential id.
    async fn security_key(
        &self,
        tenant: &str,
        credential_id: &str,
    ) -> StorageResult<Option<SecurityKey>>;
    /// Consumes the challenge and stores the key unless its user already has `max` keys.
    async fn register_security_key(
        &self,
        tenant: &str,
        challenge_id: &str,
        key: &SecurityKey,
        max: i64,
        now: i64,
        audit: &AuditRecord,
    ) -> StorageResult<RegisterOutcome>;
    /// Consumes the challenge, moves the key's counter from `old_count` to `new_count`
    /// (refused, returning false, if it changed meanwhile or the key or user is gone or
    /// disabled) and creates the session, audited.
    #[allow(clippy::too_many_arguments)]
    async fn security_key_session(
        &self,
        tenant: &str,
        ceremony: &crate::ConsumedNonce,
        credential_id: &str,
        old_count: i64,
        new_count: i64,
        session: &WebSession,
        audit: &AuditRecord,
    ) -> StorageResult<bool>;
    /// Whether a stateless ceremony (or nonce) id was already used (a read; the consuming
    /// transaction is what enforces single use).
    async fn ceremony_used(&self, tenant: &str, id: &str) -> StorageResult<bool>;
    /// Renames a key (of `user_id` when given); false if there is no such key.
    async fn rename_security_key(
        &self,
        tenant: &str,
        user_id: Option<&str>,
        credential_id: &str,
        name: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool>;
    /// Removes a key (of `user_id` when given); false if there is no such key.
    async fn delete_security_key(
        &self,
        tenant: &str,
        user_id: Option<&str>,
        credential_id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool>;
    /// The tenant's security-key settings (defaults when never set).
    async fn security_key_settings(&self, tenant: &str) -> StorageResult<SecurityKeySettings>;
    /// Replaces the tenant's security-key settings, audited.
    async fn set_security_key_settings(
        &self,
        tenant: &str,
        settings: &SecurityKeySettings,
        audit: &AuditRecord,
    ) -> StorageResult<()>;

    /// The latest audit lines about `actor` (newest first).
    async fn audit_of(
        &self,
        tenant: &str,
        actor: &str,
        limit: i64,
    ) -> StorageResult<Vec<AuditRecord>>;
    /// The latest audit lines (newest first).
    async fn audit_latest(&self, tenant: &str, limit: i64) -> StorageResult<Vec<AuditRecord>>;
}
