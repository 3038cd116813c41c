//! Changing and removing directory objects: `tenant rename`, `user enable|delete|
//! reset-password|reset-mfa`, `device delete`, `client delete|rotate-secret`, and the key id
//! prefixes `key delete` accepts. Every change is one transaction with its audit line
//! (see `storage::admin`).

use serde::Serialize;

use super::{Admin, AdminError, NewUser};
use latchkey_server::audit::event;
use latchkey_server::routes::web::hash_hex;
use latchkey_server::storage::admin::{
    AuditEntry, AuditFilter, Removed, SecretRotation, UserDeletion,
};
use latchkey_server::storage::{KeyListing, UserListing};
use latchkey_server::{password, totp};

/// The fewest hexadecimal digits `key delete` accepts as a key id prefix.
pub const KEY_PREFIX_MIN: usize = 4;

/// The longest tenant name.
const MAX_TENANT_NAME: usize = 100;

/// A client's new secret, shown once.
#[derive(Debug, Clone, Serialize)]
pub struct NewSecret {
    /// Client id.
    pub client_id: String,
    /// The new secret.
    pub client_secret: String,
}

fn rng_error<E>(_: E) -> AdminError {
    AdminError::Invalid("the random number generator failed".into())
}

/// The index of the one id that is `prefix` or starts with it (`prefix` trimmed and
/// lowercased: at least [`KEY_PREFIX_MIN`] hexadecimal digits).
fn unique_prefix<'a>(
    prefix: &str,
    ids: impl Iterator<Item = &'a str>,
) -> Result<usize, AdminError> {
    let prefix = prefix.trim().to_lowercase();
    if prefix.len() < KEY_PREFIX_MIN || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AdminError::PrefixTooShort(prefix));
    }
    let mut found = None;
    let mut count = 0;
    for (i, id) in ids.enumerate() {
        if id == prefix {
            return Ok(i);
        }
        if id.starts_with(&prefix) {
            found = Some(i);
            count += 1;
        }
    }
    match (found, count) {
        (Some(i), 1) => Ok(i),
        (None, _) => Err(AdminError::NoSuchKey(prefix)),
        (_, count) => Err(AdminError::AmbiguousPrefix { prefix, count }),
    }
}

fn normal_upn(upn: &str) -> String {
    upn.trim().to_lowercase()
}

impl Admin {
    /// Renames the tenant (the TOTP issuer of users added or reset from now on, the name
    /// the service shows from its next start). The CA certificate keeps its subject.
    pub async fn rename_tenant(&mut self, name: &str) -> Result<(), AdminError> {
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > MAX_TENANT_NAME
            || name.chars().any(char::is_control)
        {
            return Err(AdminError::Invalid(format!(
                "the tenant name must have 1 to {MAX_TENANT_NAME} characters and no control \
                 characters"
            )));
        }
        let line = self
            .line(event::TENANT_RENAME)
            .note(format!("{} -> {name}", self.tenant.name));
        if !self
            .admin
            .rename_tenant(&self.tenant.id, name, &line)
            .await?
        {
            return Err(AdminError::Invalid("the tenant disappeared".into()));
        }
        name.clone_into(&mut self.tenant.name);
        Ok(())
    }

    /// Enables a disabled user.
    pub async fn enable_user(&self, upn: &str) -> Result<(), AdminError> {
        let upn = normal_upn(upn);
        let line = self.line(event::USER_ENABLE).note(upn.clone());
        if !self.admin.enable_user(&self.tenant.id, &upn, &line).await? {
            return Err(AdminError::NoSuchUser(upn));
        }
        Ok(())
    }

    /// The user with this UPN.
    pub async fn user(&self, upn: &str) -> Result<UserListing, AdminError> {
        let upn = normal_upn(upn);
        let user = self
            .storage
            .user_by_upn(&self.tenant.id, &upn)
            .await?
            .ok_or(AdminError::NoSuchUser(upn))?;
        Ok(UserListing {
            id: user.id,
            upn: user.upn,
            display_name: user.display_name,
            disabled: user.disabled,
            created_at: user.created_at,
        })
    }

    /// Deletes a user and what is theirs (see `AdminStorage::delete_user`).
    pub async fn delete_user(&self, upn: &str) -> Result<Removed, AdminError> {
        let upn = normal_upn(upn);
        let line = self.line(event::USER_DELETE).note(upn.clone());
        match self.admin.delete_user(&self.tenant.id, &upn, &line).await? {
            UserDeletion::NoSuchUser => Err(AdminError::NoSuchUser(upn)),
            UserDeletion::OwnsDevices(count) => Err(AdminError::UserOwnsDevices { upn, count }),
            UserDeletion::Deleted(removed) => Ok(removed),
        }
    }

    /// Sets a new password (same rules as `add_user`) and ends the user's browser sessions.
    pub async fn reset_password(&self, upn: &str, new_password: &str) -> Result<(), AdminError> {
        let upn = normal_upn(upn);
        super::check_password(new_password)?;
        let salt = self.env.random::<16>().map_err(rng_error)?;
        let owned = zeroize::Zeroizing::new(new_password.to_owned());
        let hash = tokio::task::spawn_blocking(move || password::hash(&owned, &salt))
            .await
            .map_err(|e| AdminError::Invalid(e.to_string()))?
            .map_err(AdminError::Invalid)?;
        let line = self.line(event::USER_RESET_PASSWORD).note(upn.clone());
        if !self
            .admin
            .reset_password(&self.tenant.id, &upn, &hash, &line)
            .await?
        {
            return Err(AdminError::NoSuchUser(upn));
        }
        Ok(())
    }

    /// Gives a user a new TOTP secret (the old authenticator entry stops working at once)
    /// and returns its `otpauth://` URI.
    pub async fn reset_mfa(&self, upn: &str) -> Result<NewUser, AdminError> {
        let user = self.user(upn).await?;
        let secret = self
            .env
            .random::<{ totp::SECRET_LEN }>()
            .map_err(rng_error)?;
        let sealed = self
            .tenant
            .seal_totp(&self.env, &user.id, &secret)
            .map_err(|e| AdminError::Invalid(e.to_string()))?;
        let line = self.line(event::USER_RESET_MFA).note(user.upn.clone());
        if !self
            .admin
            .reset_mfa(&self.tenant.id, &user.id, &sealed, &line)
            .await?
        {
            return Err(AdminError::NoSuchUser(user.upn));
        }
        Ok(NewUser {
            otpauth_uri: totp::otpauth_uri(&self.tenant.name, &user.upn, &secret),
            user,
        })
    }

    /// Deletes a device and what is on it (see `AdminStorage::remove_device`).
    pub async fn delete_device(&self, device_id: &str) -> Result<Removed, AdminError> {
        let device_id = device_id.trim();
        let line = self.line(event::DEVICE_DELETE).device(device_id);
        self.admin
            .remove_device(&self.tenant.id, device_id, &line)
            .await?
            .ok_or_else(|| AdminError::NoSuchDevice(device_id.to_owned()))
    }

    /// The device with this id, as listed.
    pub async fn device(
        &self,
        device_id: &str,
    ) -> Result<latchkey_server::storage::DeviceListing, AdminError> {
        let device_id = device_id.trim();
        self.devices()
            .await?
            .into_iter()
            .find(|d| d.id == device_id)
            .ok_or_else(|| AdminError::NoSuchDevice(device_id.to_owned()))
    }

    /// The one key whose id is `prefix` or starts with it (at least [`KEY_PREFIX_MIN`]
    /// hexadecimal digits; case does not matter).
    pub async fn key_by_prefix(&self, prefix: &str) -> Result<KeyListing, AdminError> {
        let mut keys = self.keys(None).await?;
        let index = unique_prefix(prefix, keys.iter().map(|k| k.key_id.as_str()))?;
        Ok(keys.swap_remove(index))
    }

    /// Deletes an application with its codes and refresh tokens.
    pub async fn client_delete(&self, client_id: &str) -> Result<(), AdminError> {
        let client_id = client_id.trim();
        let line = self.line(event::CLIENT_DELETE).note(client_id.to_owned());
        if !self
            .admin
            .delete_client(&self.tenant.id, client_id, &line)
            .await?
        {
            return Err(AdminError::NoSuchClient(client_id.to_owned()));
        }
        Ok(())
    }

    /// Gives a confidential application a new secret; the old one is refused at once.
    pub async fn client_rotate_secret(&self, client_id: &str) -> Result<NewSecret, AdminError> {
        let client_id = client_id.trim();
        let secret = latchkey_proto::b64::encode(self.env.random::<32>().map_err(rng_error)?);
        let line = self
            .line(event::CLIENT_ROTATE_SECRET)
            .note(client_id.to_owned());
        match self
            .admin
            .rotate_client_secret(&self.tenant.id, client_id, &hash_hex(&secret), &line)
            .await?
        {
            SecretRotation::NoSuchClient => Err(AdminError::NoSuchClient(client_id.to_owned())),
            SecretRotation::Public => Err(AdminError::ClientPublic(client_id.to_owned())),
            SecretRotation::Rotated => Ok(NewSecret {
                client_id: client_id.to_owned(),
                client_secret: secret,
            }),
        }
    }
}

impl Admin {
    /// The audit entries `filter` selects, oldest first (`latchkeyd audit`).
    pub async fn audit_search(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, AdminError> {
        Ok(self.admin.audit_search(&self.tenant.id, filter).await?)
    }

    /// One audit entry by its id (`latchkeyd audit show`).
    pub async fn audit_entry(&self, seq: i64) -> Result<AuditEntry, AdminError> {
        self.admin
            .audit_entry(&self.tenant.id, seq)
            .await?
            .ok_or_else(|| AdminError::Invalid(format!("no audit entry {seq}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_prefix_must_be_unique_long_enough_and_hexadecimal() {
        let ids = ["abcd01", "abcd02", "ef0123", "ef01"];
        let find = |p: &str| unique_prefix(p, ids.iter().copied());
        assert_eq!(find("ABCD01").unwrap(), 0);
        assert_eq!(find(" ef012 ").unwrap(), 2);
        // An exact id wins over the longer ids it is a prefix of.
        assert_eq!(find("ef01").unwrap(), 3);
        let err = find("abcd").unwrap_err();
        assert!(matches!(err, AdminError::AmbiguousPrefix { count: 2, .. }));
        assert_eq!(err.code().as_str(), "LK-ADM-003");
        assert_eq!(
            err.to_string(),
            "the key id prefix abcd matches 2 keys; give more of the id"
        );
        for bad in ["abc", "", "abcg", "ab cd"] {
            let err = find(bad).unwrap_err();
            assert_eq!(err.code().as_str(), "LK-ADM-004", "{bad}");
        }
        assert_eq!(find("0000").unwrap_err().code().as_str(), "LK-KEY-001");
    }
}
