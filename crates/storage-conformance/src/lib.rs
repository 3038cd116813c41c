//! The storage conformance suite: one set of checks every backend of `latchkey-storage`
//! runs. Each check is an async function named after the property it proves; it takes a
//! fresh, empty [`Backend`] (made by the backend's own test file) and returns
//! `Err(`[`Violation`]`)` naming the broken property and what was seen.
//!
//! The checks cover every trait method, its negative paths (unknown ids, conflicts, another
//! tenant's id, the audit line written with each change and not without it, nothing written
//! on failure) and the concurrent invariants of the isolation contract
//! (`latchkey_storage`, section "Isolation contract"), run from many tasks at once on a
//! multi-thread runtime and split over two handles on the same database (a second process,
//! or a second replica).
//!
//! A backend's test file runs the whole suite with [`suite!`], one `#[test]` per property.
#![forbid(unsafe_code)]

use std::sync::Arc;

use latchkey_storage::directory::DirectoryAdmin;
use latchkey_storage::{AdminStorage, Storage, StorageError, WebStorage};

pub mod admin_lists;
pub mod admin_ops;
pub mod certs;
pub mod concurrent;
pub mod directory;
pub mod extra;
pub mod fixtures;
pub mod import;
pub mod keys;
pub mod policy;
pub mod resources;
pub mod trail;
pub mod web;

/// One handle on a backend: the directory storage and the web storage it gives.
#[derive(Clone)]
pub struct Handle {
    /// The directory, policy, TPM, certificate and PIN-recovery storage.
    pub storage: Arc<dyn Storage>,
    /// The web side's storage on the same database.
    pub web: Arc<dyn WebStorage>,
    /// The web administration's paged lists and directory changes on the same database.
    pub directory: Arc<dyn DirectoryAdmin>,
    /// The administration commands' changes and audit search on the same database.
    pub admin: Arc<dyn AdminStorage>,
}

/// A fresh, empty backend under test.
pub struct Backend {
    /// The handle the checks use.
    pub main: Handle,
    /// A second, independent handle on the same database (its own connections and its own
    /// in-process locks: what another process or replica has). Concurrent checks split
    /// their tasks between the two.
    pub peer: Handle,
    /// Whatever must live as long as the backend (a temporary directory, a cluster).
    pub keep: Box<dyn std::any::Any + Send + Sync>,
}

/// A property the backend broke. `Debug` shows the message, so a failing `#[test]` that
/// returns it prints the property and what was seen.
#[derive(thiserror::Error)]
pub enum Violation {
    /// What was stored or answered contradicts the property.
    #[error("LK-CONF-001: {property}: {detail}")]
    Broken {
        /// The property (the check's name).
        property: &'static str,
        /// What was seen.
        detail: String,
    },
    /// The backend failed where the property expects an answer.
    #[error("LK-CONF-002: {property}: storage failed: {source}")]
    Storage {
        /// The property (the check's name).
        property: &'static str,
        /// The failure.
        #[source]
        source: StorageError,
    },
    /// A task of a concurrent check did not finish (it panicked or was cancelled).
    #[error("LK-CONF-003: {property}: a task did not finish: {detail}")]
    Task {
        /// The property (the check's name).
        property: &'static str,
        /// The join error.
        detail: String,
    },
}

impl std::fmt::Debug for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// The result of one check.
pub type Outcome = Result<(), Violation>;

/// Attaches the property's name to storage failures (`.or_fail(P)?`).
pub trait OrFail<T> {
    /// `Err(Violation::Storage)` naming `property`.
    fn or_fail(self, property: &'static str) -> Result<T, Violation>;
}

impl<T> OrFail<T> for Result<T, StorageError> {
    fn or_fail(self, property: &'static str) -> Result<T, Violation> {
        self.map_err(|source| Violation::Storage { property, source })
    }
}

/// Fails the check with `Violation::Broken` unless the condition holds.
#[macro_export]
macro_rules! ensure {
    ($property:expr, $cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err($crate::Violation::Broken {
                property: $property,
                detail: format!($($fmt)+),
            });
        }
    };
}

/// Fails the check unless `left == right`.
#[macro_export]
macro_rules! ensure_eq {
    ($property:expr, $left:expr, $right:expr, $($fmt:tt)+) => {
        match (&$left, &$right) {
            (l, r) => {
                if l != r {
                    return Err($crate::Violation::Broken {
                        property: $property,
                        detail: format!("{}: {:?} != {:?}", format!($($fmt)+), l, r),
                    });
                }
            }
        }
    };
}

/// Every property of the suite, by name, in the order [`suite!`] runs them. A backend's
/// test file uses [`suite!`]; this list is for documentation and for backends that drive the
/// suite themselves.
pub const PROPERTIES: &[&str] = &[
    "tenant_is_created_once",
    "users_are_unique_and_audited",
    "disable_user_is_audited_and_unknown_is_refused",
    "password_signin_uses_each_totp_step_once",
    "join_device_consumes_its_nonce_whole_or_not_at_all",
    "disable_device_is_audited_and_unknown_is_refused",
    "leave_device_consumes_the_nonce_and_disables",
    "register_key_replaces_only_when_allowed",
    "register_key_conflict_writes_nothing",
    "delete_key_is_audited_and_unknown_is_refused",
    "signin_stores_the_token_only_for_a_live_key",
    "renew_prt_revokes_the_old_token_once",
    "prune_removes_only_expired_rows",
    "audit_pages_and_prune_follow_the_sequence",
    "audit_fields_are_capped_on_every_write_path",
    "another_tenant_sees_and_changes_nothing",
    "csp_saves_apply_to_the_version_read",
    "groups_and_members_bump_the_version",
    "gpos_are_put_listed_and_deleted",
    "admin_tokens_are_stored_by_hash_and_revoked",
    "policy_sessions_open_once_and_close_once",
    "resources_and_token_issue",
    "tpm_roots_are_unique",
    "pin_recovery_first_key_is_created_once",
    "cert_authorities_are_created_once",
    "certificates_follow_their_key",
    "race_certificate_renewal_happens_once",
    "tpm_activation_finishes_once",
    "revocations_cascade_to_certificates",
    "secrets_are_sealed_once",
    "pin_reset_is_answered_once",
    "kerberos_settings_round_trip",
    "oidc_clients_codes_and_refresh_tokens",
    "web_sessions_and_totp",
    "security_keys_register_rename_delete",
    "security_key_settings_round_trip",
    "race_nonce_is_consumed_once",
    "race_one_hello_key_per_user_and_device",
    "race_replacing_registrations_keep_one_key",
    "race_security_keys_stay_within_the_limit",
    "race_csp_updates_are_never_lost",
    "race_group_member_adds_are_never_lost",
    "race_no_signin_commits_after_the_key_delete",
    "race_no_signin_commits_after_the_device_disable",
    "race_totp_step_is_used_once",
    "race_prt_renewal_happens_once",
    "race_refresh_token_rotates_once",
    "admin_renames_and_resets_are_audited",
    "delete_user_takes_what_is_theirs",
    "remove_device_takes_what_is_on_it",
    "clients_are_rotated_and_deleted",
    "audit_search_filters_and_keeps_the_newest",
    "race_no_signin_commits_after_the_device_delete",
    "user_import_commits_every_batch_at_once",
    "user_import_conflict_keeps_nothing",
    "user_import_dropped_keeps_nothing",
];

/// Runs one check with a fresh backend from `$make` (an `async fn() -> Backend`) on a
/// multi-thread runtime; used by [`suite!`].
#[macro_export]
macro_rules! check {
    ($make:path, $module:ident :: $name:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() -> ::std::result::Result<(), $crate::Violation> {
            let backend = $make().await;
            $crate::$module::$name(&backend).await
        }
    };
}

/// Expands to one `#[tokio::test]` per property, each with a fresh backend from `$make`
/// (an `async fn() -> Backend` in the calling test file).
#[macro_export]
macro_rules! suite {
    ($make:path) => {
        $crate::check!($make, directory::tenant_is_created_once);
        $crate::check!(
            $make,
            admin_lists::devices_and_keys_page_in_id_order_all_or_by_owner
        );
        $crate::check!($make, admin_lists::users_page_by_upn_prefix);
        $crate::check!($make, admin_lists::device_owner_names_the_owner);
        $crate::check!($make, directory::users_are_unique_and_audited);
        $crate::check!(
            $make,
            directory::disable_user_is_audited_and_unknown_is_refused
        );
        $crate::check!($make, directory::password_signin_uses_each_totp_step_once);
        $crate::check!(
            $make,
            directory::join_device_consumes_its_nonce_whole_or_not_at_all
        );
        $crate::check!(
            $make,
            directory::disable_device_is_audited_and_unknown_is_refused
        );
        $crate::check!(
            $make,
            directory::leave_device_consumes_the_nonce_and_disables
        );
        $crate::check!($make, keys::register_key_replaces_only_when_allowed);
        $crate::check!($make, keys::register_key_conflict_writes_nothing);
        $crate::check!($make, keys::delete_key_is_audited_and_unknown_is_refused);
        $crate::check!($make, keys::signin_stores_the_token_only_for_a_live_key);
        $crate::check!($make, keys::renew_prt_revokes_the_old_token_once);
        $crate::check!($make, trail::prune_removes_only_expired_rows);
        $crate::check!($make, trail::audit_pages_and_prune_follow_the_sequence);
        $crate::check!($make, trail::audit_fields_are_capped_on_every_write_path);
        $crate::check!($make, trail::another_tenant_sees_and_changes_nothing);
        $crate::check!($make, policy::csp_saves_apply_to_the_version_read);
        $crate::check!($make, policy::groups_and_members_bump_the_version);
        $crate::check!($make, policy::gpos_are_put_listed_and_deleted);
        $crate::check!($make, policy::admin_tokens_are_stored_by_hash_and_revoked);
        $crate::check!($make, policy::policy_sessions_open_once_and_close_once);
        $crate::check!($make, resources::resources_and_token_issue);
        $crate::check!($make, resources::tpm_roots_are_unique);
        $crate::check!($make, resources::pin_recovery_first_key_is_created_once);
        $crate::check!($make, certs::cert_authorities_are_created_once);
        $crate::check!($make, certs::certificates_follow_their_key);
        $crate::check!($make, certs::race_certificate_renewal_happens_once);
        $crate::check!($make, certs::tpm_activation_finishes_once);
        $crate::check!($make, certs::revocations_cascade_to_certificates);
        $crate::check!($make, extra::secrets_are_sealed_once);
        $crate::check!($make, extra::pin_reset_is_answered_once);
        $crate::check!($make, extra::kerberos_settings_round_trip);
        $crate::check!($make, web::oidc_clients_codes_and_refresh_tokens);
        $crate::check!($make, web::web_sessions_and_totp);
        $crate::check!($make, web::security_keys_register_rename_delete);
        $crate::check!($make, web::security_key_settings_round_trip);
        $crate::check!($make, concurrent::race_nonce_is_consumed_once);
        $crate::check!($make, concurrent::race_one_hello_key_per_user_and_device);
        $crate::check!($make, concurrent::race_replacing_registrations_keep_one_key);
        $crate::check!($make, concurrent::race_security_keys_stay_within_the_limit);
        $crate::check!($make, concurrent::race_csp_updates_are_never_lost);
        $crate::check!($make, concurrent::race_group_member_adds_are_never_lost);
        $crate::check!(
            $make,
            concurrent::race_no_signin_commits_after_the_key_delete
        );
        $crate::check!(
            $make,
            concurrent::race_no_signin_commits_after_the_device_disable
        );
        $crate::check!($make, concurrent::race_totp_step_is_used_once);
        $crate::check!($make, concurrent::race_prt_renewal_happens_once);
        $crate::check!($make, concurrent::race_refresh_token_rotates_once);
        $crate::check!($make, admin_ops::admin_renames_and_resets_are_audited);
        $crate::check!($make, admin_ops::delete_user_takes_what_is_theirs);
        $crate::check!($make, admin_ops::remove_device_takes_what_is_on_it);
        $crate::check!($make, admin_ops::clients_are_rotated_and_deleted);
        $crate::check!($make, admin_ops::audit_search_filters_and_keeps_the_newest);
        $crate::check!(
            $make,
            admin_ops::race_no_signin_commits_after_the_device_delete
        );
        $crate::check!($make, import::user_import_commits_every_batch_at_once);
        $crate::check!($make, import::user_import_conflict_keeps_nothing);
        $crate::check!($make, import::user_import_dropped_keeps_nothing);
    };
}
