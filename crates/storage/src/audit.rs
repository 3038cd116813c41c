//! Building audit lines: what happened, to whom, from where, and how it ended.
//!
//! Every field that can come from a request is capped ([`MAX_FIELD`] bytes, [`MAX_REASON`]
//! for the reason or note): a longer value is cut at a character boundary and ends with
//! [`TRUNCATED`], so no request can make one line large.

use std::borrow::Cow;

use crate::AuditRecord;

/// The actor recorded for administrative changes made on the data directory (the
/// `latchkeyd` commands name the administrator: `admin:<user>`).
pub const ADMIN_ACTOR: &str = "admin";

/// The longest actor, device, key or source field of an audit line, in bytes.
pub const MAX_FIELD: usize = 256;
/// The longest reason or note of an audit line, in bytes.
pub const MAX_REASON: usize = 1024;
/// What ends a value that was cut.
pub const TRUNCATED: &str = "…[truncated]";

/// `value` cut to at most `max` bytes (marker included) at a character boundary.
pub fn cap(value: &str, max: usize) -> Cow<'_, str> {
    if value.len() <= max {
        return Cow::Borrowed(value);
    }
    let mut end = max.saturating_sub(TRUNCATED.len());
    while end > 0 && !value.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}{TRUNCATED}", value.get(..end).unwrap_or("")))
}

fn cap_owned(value: String, max: usize) -> String {
    match cap(&value, max) {
        Cow::Borrowed(_) => value,
        Cow::Owned(cut) => cut,
    }
}

/// A field of `line` as it is stored: capped (for the storage layer, which caps again
/// whatever built the line).
pub fn stored(value: &Option<String>, max: usize) -> Option<Cow<'_, str>> {
    value.as_deref().map(|v| cap(v, max))
}

/// Audit event names.
pub mod event {
    /// A user was created.
    pub const USER_CREATE: &str = "user_create";
    /// Users were created in bulk by `latchkeyd user import` (one line per import).
    pub const USER_IMPORT: &str = "user_import";
    /// A user was disabled.
    pub const USER_DISABLE: &str = "user_disable";
    /// A user was enabled again (admin).
    pub const USER_ENABLE: &str = "user_enable";
    /// A user was deleted with its keys and sessions (admin).
    pub const USER_DELETE: &str = "user_delete";
    /// A user's password was reset (admin).
    pub const USER_RESET_PASSWORD: &str = "user_reset_password";
    /// A user was given a new TOTP secret (admin).
    pub const USER_RESET_MFA: &str = "user_reset_mfa";
    /// The tenant was renamed (admin).
    pub const TENANT_RENAME: &str = "tenant_rename";
    /// A device was deleted with its keys (admin).
    pub const DEVICE_DELETE: &str = "device_delete";
    /// An OpenID Connect application was deleted (admin).
    pub const CLIENT_DELETE: &str = "oidc_client_delete";
    /// An OpenID Connect application was given a new secret (admin).
    pub const CLIENT_ROTATE_SECRET: &str = "oidc_client_rotate_secret";
    /// Password (+ TOTP) sign-in.
    pub const PASSWORD_SIGNIN: &str = "password_signin";
    /// Device join.
    pub const JOIN: &str = "device_join";
    /// Device leave (by the device).
    pub const LEAVE: &str = "device_leave";
    /// Device disabled by an administrator.
    pub const DEVICE_DISABLE: &str = "device_disable";
    /// A disabled device enabled again (web administration).
    pub const DEVICE_ENABLE: &str = "device_enable";
    /// Hello key registration.
    pub const KEY_REGISTER: &str = "key_register";
    /// Hello key registration that replaced an earlier key.
    pub const KEY_REPLACE: &str = "key_replace";
    /// Key deleted by an administrator.
    pub const KEY_DELETE: &str = "key_delete";
    /// Hello sign-in.
    pub const SIGNIN: &str = "signin";
    /// Primary refresh token renewal.
    pub const PRT_RENEW: &str = "prt_renew";
    /// Access token for an audience.
    pub const TOKEN: &str = "token";
    /// A SyncML message changed the CSP policy layer.
    pub const POLICY_CHANGE: &str = "policy_change";
    /// A SyncML message to the admin endpoint was refused (authentication, format).
    pub const POLICY_SYNCML: &str = "policy_syncml";
    /// A Group Policy object was set, imported or deleted.
    pub const GPO_CHANGE: &str = "gpo_change";
    /// A group was created or deleted, or its members changed.
    pub const GROUP_CHANGE: &str = "group_change";
    /// An administrator's API token was created.
    pub const ADMIN_TOKEN_CREATE: &str = "admin_token_create";
    /// An administrator's API token was revoked.
    pub const ADMIN_TOKEN_REVOKE: &str = "admin_token_revoke";
    /// A device opened a policy session (policy sent).
    pub const POLICY_SESSION_OPEN: &str = "policy_session_open";
    /// A device reported the statuses of a policy session.
    pub const POLICY_SESSION_CLOSE: &str = "policy_session_close";
    /// An OpenID Connect application was registered.
    pub const CLIENT_CREATE: &str = "oidc_client_create";
    /// A resource (an audience of access tokens) was registered.
    pub const RESOURCE_ADD: &str = "resource_add";
    /// A resource was removed.
    pub const RESOURCE_REMOVE: &str = "resource_remove";
    /// An authorization code or a rotated refresh token was presented again: what was
    /// issued from it (the refresh-token family) was revoked.
    pub const OIDC_GRANT_REUSE: &str = "oidc_grant_reuse";
    /// An application received tokens for a user (authorization code redeemed).
    pub const OIDC_TOKEN: &str = "oidc_token";
    /// Password + TOTP sign-in on the web pages.
    pub const WEB_SIGNIN: &str = "web_signin";
    /// Sign-in on the web pages with a security key.
    pub const SECURITY_KEY_SIGNIN: &str = "security_key_signin";
    /// Sign-out from the web pages.
    pub const WEB_SIGNOUT: &str = "web_signout";
    /// A security key was registered.
    pub const SECURITY_KEY_REGISTER: &str = "security_key_register";
    /// A security key was renamed.
    pub const SECURITY_KEY_RENAME: &str = "security_key_rename";
    /// A security key was removed (by its user or an administrator).
    pub const SECURITY_KEY_DELETE: &str = "security_key_delete";
    /// A security key's counter went backwards: a possible cloned key (sign-in refused).
    pub const SECURITY_KEY_CLONE: &str = "security_key_clone_suspected";
    /// The tenant's security-key settings changed.
    pub const SECURITY_KEY_SETTINGS: &str = "security_key_settings";
    /// A device fetched its effective policy as JSON.
    pub const POLICY_FETCH: &str = "policy_fetch";
    /// A TPM credential activation was begun (EK certificate and AIK accepted).
    pub const TPM_ACTIVATE_BEGIN: &str = "tpm_activate_begin";
    /// A TPM credential activation finished: the device's AIK is recorded.
    pub const TPM_ACTIVATE: &str = "tpm_activate";
    /// A TPM manufacturer root or intermediate was added (admin).
    pub const TPM_ROOT_ADD: &str = "tpm_root_add";
    /// A TPM manufacturer root or intermediate was removed (admin).
    pub const TPM_ROOT_REMOVE: &str = "tpm_root_remove";
    /// A certificate request was accepted by the registration authority (with the
    /// template and key).
    pub const CERT_REQUEST: &str = "cert_request";
    /// The issuing CA issued a certificate (serial, template).
    pub const CERT_ISSUE: &str = "cert_issue";
    /// A certificate was renewed (new and old serial).
    pub const CERT_RENEW: &str = "cert_renew";
    /// A certificate request or renewal was refused (the reason is the error code).
    pub const CERT_REFUSE: &str = "cert_refuse";
    /// A certificate was revoked (serial and reason).
    pub const CERT_REVOKE: &str = "cert_revoke";
    /// The issuing CA and the registration authority were created.
    pub const CERT_AUTHORITY_CREATE: &str = "cert_authority_create";
    /// A certificate template was created or changed (admin).
    pub const CERT_TEMPLATE_SET: &str = "cert_template_set";
    /// A non-destructive PIN reset was asked for and passed every check (written with
    /// [`PIN_RESET`], in its transaction).
    pub const PIN_RESET_REQUEST: &str = "pin_reset_request";
    /// A non-destructive PIN reset was answered (the recovery key, never the secret).
    pub const PIN_RESET: &str = "pin_reset";
    /// A PIN reset was refused (the reason is the error code).
    pub const PIN_RESET_REFUSE: &str = "pin_reset_refuse";
    /// The tenant's first PIN-recovery key was made.
    pub const PIN_RECOVERY_KEY_CREATE: &str = "pin_recovery_key_create";
    /// The PIN-recovery key was rotated (admin).
    pub const PIN_RECOVERY_KEY_ROTATE: &str = "pin_recovery_key_rotate";
    /// `latchkeyd kerberos kdc-setup` recorded the tenant's Kerberos realm (admin).
    pub const KERBEROS_REALM_SET: &str = "kerberos_realm_set";
    /// A user's Kerberos principal name override was set or removed (admin).
    pub const KERBEROS_PRINCIPAL_SET: &str = "kerberos_principal_set";
}

/// Starts an audit line for `event` at `at`.
pub fn line(event: &str, at: i64) -> AuditRecord {
    AuditRecord {
        at,
        event: event.to_owned(),
        actor: None,
        device_id: None,
        key_id: None,
        source: None,
        outcome: "success".to_owned(),
        reason: None,
    }
}

impl AuditRecord {
    /// Sets the actor (a UPN, or `admin`).
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(cap_owned(actor.into(), MAX_FIELD));
        self
    }

    /// Sets the device.
    pub fn device(mut self, device_id: impl Into<String>) -> Self {
        self.device_id = Some(cap_owned(device_id.into(), MAX_FIELD));
        self
    }

    /// Sets the key.
    pub fn key(mut self, key_id: impl Into<String>) -> Self {
        self.key_id = Some(cap_owned(key_id.into(), MAX_FIELD));
        self
    }

    /// Sets the source address.
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(cap_owned(source.into(), MAX_FIELD));
        self
    }

    /// Marks a failure with its reason (an error code).
    pub fn failure(mut self, reason: impl Into<String>) -> Self {
        self.outcome = "failure".to_owned();
        self.reason = Some(cap_owned(reason.into(), MAX_REASON));
        self
    }

    /// Adds a note on a success.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.reason = Some(cap_owned(note.into(), MAX_REASON));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_fields_are_cut_with_a_marker_at_a_character_boundary() {
        let long = "é".repeat(40_000);
        let line = line(event::SIGNIN, 1)
            .actor(long.clone())
            .key(long.clone())
            .source(long.clone())
            .device(long.clone())
            .failure(long.clone());
        for field in [&line.actor, &line.key_id, &line.source, &line.device_id] {
            let f = field.as_deref().unwrap_or_default();
            assert!(f.len() <= MAX_FIELD && f.ends_with(TRUNCATED), "{f}");
        }
        let reason = line.reason.unwrap_or_default();
        assert!(reason.len() <= MAX_REASON && reason.ends_with(TRUNCATED));
        assert_eq!(cap("short", MAX_FIELD), "short");
        assert_eq!(cap(&"a".repeat(MAX_FIELD), MAX_FIELD).len(), MAX_FIELD);
    }
}
