//! [`WebStorage`] on PostgreSQL, on the directory's pool: OpenID Connect ([`oidc`]),
//! browser sessions and the audit views ([`sessions`]), WebAuthn challenges and FIDO2
//! security keys ([`security_keys`]).
//!
//! Every operation is one `READ COMMITTED` transaction (or one statement, for the reads).
//! What keeps each write correct against concurrent writers, in any replica:
//!
//! | operation | means |
//! |---|---|
//! | `create_client`, `store_code` | primary key (a duplicate fails the transaction) |
//! | `take_code` | conditional update (`AND used = FALSE`); a reuse takes the family lock |
//! | `store_refresh` | family lock, then the code re-read (a reuse deletes it) |
//! | `rotate_refresh` | family lock, conditional update (`AND revoked = FALSE`), user `FOR SHARE` |
//! | `password_session` | conditional update of the TOTP step (`AND NOT disabled AND step < $step`) |
//! | `security_key_session` | nonce primary key, conditional update of the counter, user `FOR SHARE` |
//! | `register_security_key` | challenge taken by a conditional delete, user row locked before counting |
//! | `rename_security_key`, `delete_security_key`, `delete_session` | one conditional statement |
//! | `set_security_key_settings` | `INSERT ... ON CONFLICT DO UPDATE` (atomic upsert) |
//! | `store_challenge`, `prune_expired` | deletes of expired rows only, then an insert |
//!
//! The *family lock* is a transaction-scoped advisory lock on (tenant, refresh-token family)
//! ([`oidc`]): a family revocation and a rotation or first store in that family never
//! overlap, so a revocation sees every token of the family that exists when it runs.
//! Transactions that take locks on more than one row (or row and advisory lock) run in
//! [`retrying!`](crate::retrying), which repeats them whole after a deadlock.

mod oidc;
mod security_keys;
mod sessions;

use crate::PgStorage;
use async_trait::async_trait;
use latchkey_storage::web::*;
use latchkey_storage::*;

#[async_trait]
impl WebStorage for PgStorage {
    async fn user_by_id(&self, tenant: &str, user_id: &str) -> StorageResult<Option<User>> {
        sessions::user_by_id(self, tenant, user_id).await
    }
    async fn create_client(
        &self,
        tenant: &str,
        client: &OidcClient,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        oidc::create_client(self, tenant, client, audit).await
    }
    async fn client(&self, tenant: &str, client_id: &str) -> StorageResult<Option<OidcClient>> {
        oidc::client(self, tenant, client_id).await
    }
    async fn list_clients(&self, tenant: &str) -> StorageResult<Vec<OidcClient>> {
        oidc::list_clients(self, tenant).await
    }
    async fn store_code(&self, tenant: &str, code: &AuthCode) -> StorageResult<()> {
        oidc::store_code(self, tenant, code).await
    }
    async fn take_code(
        &self,
        tenant: &str,
        code_hash: &str,
        reuse_audit: &AuditRecord,
    ) -> StorageResult<CodeRedemption> {
        oidc::take_code(self, tenant, code_hash, reuse_audit).await
    }
    async fn store_refresh(
        &self,
        tenant: &str,
        token: &RefreshGrant,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        oidc::store_refresh(self, tenant, token, audit).await
    }
    async fn rotate_refresh(
        &self,
        tenant: &str,
        old_hash: &str,
        client_id: &str,
        new: &RefreshGrant,
        now: i64,
        reuse_audit: &AuditRecord,
    ) -> StorageResult<Rotation> {
        oidc::rotate_refresh(self, tenant, old_hash, client_id, new, now, reuse_audit).await
    }
    async fn password_session(
        &self,
        tenant: &str,
        totp_step: i64,
        session: &WebSession,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        sessions::password_session(self, tenant, totp_step, session, audit).await
    }
    async fn session(
        &self,
        tenant: &str,
        id_hash: &str,
        now: i64,
    ) -> StorageResult<Option<(WebSession, User)>> {
        sessions::session(self, tenant, id_hash, now).await
    }
    async fn delete_session(
        &self,
        tenant: &str,
        id_hash: &str,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        sessions::delete_session(self, tenant, id_hash, audit).await
    }
    async fn prune_expired(&self, tenant: &str, before: i64) -> StorageResult<u64> {
        sessions::prune_expired(self, tenant, before).await
    }
    async fn store_challenge(&self, tenant: &str, c: &Challenge, now: i64) -> StorageResult<()> {
        security_keys::store_challenge(self, tenant, c, now).await
    }
    async fn challenge(
        &self,
        tenant: &str,
        id: &str,
        now: i64,
    ) -> StorageResult<Option<Challenge>> {
        security_keys::challenge(self, tenant, id, now).await
    }
    async fn list_security_keys(
        &self,
        tenant: &str,
        user_id: Option<&str>,
    ) -> StorageResult<Vec<SecurityKeyListing>> {
        security_keys::list(self, tenant, user_id).await
    }
    async fn security_key(
        &self,
        tenant: &str,
        credential_id: &str,
    ) -> StorageResult<Option<SecurityKey>> {
        security_keys::by_credential_id(self, tenant, credential_id).await
    }
    async fn register_security_key(
        &self,
        tenant: &str,
        challenge_id: &str,
        key: &SecurityKey,
        max: i64,
        now: i64,
        audit: &AuditRecord,
    ) -> StorageResult<RegisterOutcome> {
        security_keys::register(self, tenant, challenge_id, key, max, now, audit).await
    }
    #[allow(clippy::too_many_arguments)]
    async fn security_key_session(
        &self,
        tenant: &str,
        ceremony: &latchkey_storage::ConsumedNonce,
        credential_id: &str,
        old_count: i64,
        new_count: i64,
        session: &WebSession,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        let counter = security_keys::CounterMove {
            credential_id,
            old_count,
            new_count,
        };
        security_keys::signin(self, tenant, ceremony, &counter, session, audit).await
    }
    async fn ceremony_used(&self, tenant: &str, id: &str) -> StorageResult<bool> {
        security_keys::ceremony_used(self, tenant, id).await
    }
    async fn rename_security_key(
        &self,
        tenant: &str,
        user_id: Option<&str>,
        credential_id: &str,
        name: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        security_keys::rename(self, tenant, user_id, credential_id, name, audit).await
    }
    async fn delete_security_key(
        &self,
        tenant: &str,
        user_id: Option<&str>,
        credential_id: &str,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        security_keys::delete(self, tenant, user_id, credential_id, audit).await
    }
    async fn security_key_settings(&self, tenant: &str) -> StorageResult<SecurityKeySettings> {
        security_keys::settings(self, tenant).await
    }
    async fn set_security_key_settings(
        &self,
        tenant: &str,
        settings: &SecurityKeySettings,
        audit: &AuditRecord,
    ) -> StorageResult<()> {
        security_keys::set_settings(self, tenant, settings, audit).await
    }
    async fn audit_of(
        &self,
        tenant: &str,
        actor: &str,
        limit: i64,
    ) -> StorageResult<Vec<AuditRecord>> {
        sessions::audit_of(self, tenant, actor, limit).await
    }
    async fn audit_latest(&self, tenant: &str, limit: i64) -> StorageResult<Vec<AuditRecord>> {
        sessions::audit_latest(self, tenant, limit).await
    }
}
