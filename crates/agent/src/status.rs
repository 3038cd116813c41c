//! `latchkey status`: the device's state in the manner of `dsregcmd /status`; the text
//! form is [`crate::status_text`].

use latchkey_policy::provision::ProvisioningDecision;
use serde::Serialize;

use crate::device_key::DeviceKey;
use crate::error::AgentError;
use crate::policy_store::PolicyInForce;
use crate::prereq;
use crate::provider::{StoredKey, TpmReport};
use crate::records::{DeviceRecord, SsoRecord};
use crate::tpm_provider::lockout_wait;

pub use crate::status_text::render;

/// The name of the software key provider, as `status` shows it.
pub const SOFTWARE_PROVIDER: &str = "Latchkey Software Key Storage Provider";

/// What `status` says about software keys, plainly.
pub const SOFTWARE_KEY_WARNING: &str = "the Hello key is protected by software only: anyone who copies the container file can try PINs offline without a lockout; a TPM resists this";

/// Device State.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeviceState {
    /// Whether the device is joined.
    pub joined: bool,
    /// `cloud`, `hybrid` or `registered`.
    pub join_type: Option<String>,
    /// Device id.
    pub device_id: Option<String>,
    /// Tenant id.
    pub tenant_id: Option<String>,
    /// Tenant name.
    pub tenant_name: Option<String>,
    /// The service.
    pub server_url: Option<String>,
    /// SHA-1 thumbprint of the device certificate (uppercase hex, as dsregcmd shows it).
    pub device_certificate_thumbprint: Option<String>,
    /// SHA-256 fingerprint of the device certificate, as the service shows it
    /// (`latchkeyd device list --json`, `cert_thumbprint`: uppercase, colon-separated).
    pub device_certificate_sha256: Option<String>,
    /// The device certificate's validity: `NOT_BEFORE -- NOT_AFTER` (RFC 3339).
    pub device_certificate_validity: Option<String>,
    /// Whether the service accepted the device's proof the last time it was asked:
    /// `SUCCESS (time)`, `FAILED. ... (code, time)`, or `NOT TESTED` (from the event log).
    pub device_auth_status: String,
    /// The device key's algorithm (`RSA-2048`; `P-256` on devices joined before).
    pub device_key_algorithm: Option<String>,
    /// What protects the device key at rest, in words.
    pub device_key_protection: Option<String>,
    /// The key provider.
    pub key_provider: String,
    /// Why that provider is in use.
    pub key_provider_reason: String,
    /// The limit of the software provider.
    pub key_provider_warning: Option<String>,
    /// Whether Hello keys are bound to a TPM.
    pub tpm_protected: bool,
    /// The TPM's manufacturer (vendor ID and vendor string).
    pub tpm_manufacturer: Option<String>,
    /// The TPM's firmware version.
    pub tpm_firmware: Option<String>,
    /// The TPM specification version ("2.0, level 0, revision 1.64").
    pub tpm_spec_version: Option<String>,
    /// The TPM's dictionary-attack state.
    pub tpm_lockout: Option<TpmLockout>,
    /// The device's TPM attestation: `ATTESTED (...)`, `NOT ATTESTED: reason` or
    /// `SOFTWARE (...)`; `-` when not joined.
    pub device_tpm_attestation: String,
}

/// The TPM's dictionary-attack (lockout) state as `status` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TpmLockout {
    /// Failures counted by the TPM now.
    pub counter: u32,
    /// Failures at which the TPM locks out.
    pub max_tries: u32,
    /// Whether it is in lockout.
    pub in_lockout: bool,
    /// The wait, in words, or why the state could not be read.
    pub wait: String,
}

/// User State.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserState {
    /// The user.
    pub user: Option<String>,
    /// Whether the user has a Hello key on this device.
    pub ngc_set: bool,
    /// Its key id.
    pub ngc_key_id: Option<String>,
    /// What `latchkey pin reset` can do, as dsregcmd shows it: `DestructiveOnly`, or
    /// `DestructiveAndNonDestructive` when `EnablePinRecovery` is in force and the key has a
    /// recovery part (docs/pin-reset.md).
    pub can_reset: String,
    /// Wrong PINs since the last right one (software keys; for a TPM key the TPM's
    /// counter, `TpmLockout`, is the authority).
    pub pin_failures: u32,
    /// The provider that made the user's key.
    pub ngc_key_provider: Option<String>,
    /// The key's attestation as the service recorded it at registration.
    pub ngc_key_attestation: Option<String>,
    /// When tries are accepted again, if locked.
    pub pin_locked_until: Option<i64>,
    /// The PIN lockout, in words: `NOT LOCKED (...)` or `LOCKED OUT (...)`, the TPM's
    /// counter for a TPM key; `-` without a key.
    pub pin_lockout: String,
    /// When the PIN expires under the policy in force (RFC 3339), `None`: never.
    pub pin_expiry: Option<String>,
    /// The user's Hello certificate (certificate trust): thumbprint, phase, template,
    /// validity, renewal time and serial; `None`: none installed.
    pub hello_certificate: Option<String>,
    /// UseHelloCertificatesAsSmartCardCertificates in force: the Hello key and certificate
    /// are offered to every p11-kit program as a smart card (docs/smart-card.md).
    pub smart_card_certificates: bool,
}

/// SSO State.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SsoState {
    /// Whether a primary refresh token is held.
    pub prt_present: bool,
    /// When it expires (RFC 3339).
    pub prt_expiry: Option<String>,
}

/// One line of the prerequisite check.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CheckLine {
    /// YES, NO, PENDING or NOT REQUIRED.
    pub state: String,
    /// Why.
    pub detail: String,
}

/// Ngc Prerequisite Check.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PrerequisiteState {
    /// Every check by its `dsregcmd` name.
    pub checks: std::collections::BTreeMap<String, CheckLine>,
    /// `WillProvision` or `WillNotProvision`.
    pub pre_req_result: String,
}

/// Policy: what is in force and where it came from (`latchkey policy show` has the detail).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyState {
    /// The tenant's policy version in force, `None` when only the defaults apply.
    pub version: Option<u64>,
    /// `service` (received) or `defaults` (nothing received yet).
    pub origin: String,
    /// The user the policy in force was computed for.
    pub received_for: Option<String>,
    /// When it was received (RFC 3339).
    pub synced_at: Option<String>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StatusReport {
    /// Device State.
    pub device_state: DeviceState,
    /// User State.
    pub user_state: UserState,
    /// SSO State.
    pub sso_state: SsoState,
    /// Ngc Prerequisite Check.
    pub ngc_prerequisite_check: PrerequisiteState,
    /// Policy.
    pub policy: PolicyState,
}

/// What the key provider says about itself.
#[derive(Debug, Clone, Copy)]
pub struct ProviderFacts<'a> {
    /// Whether its keys are bound to a TPM.
    pub tpm_protected: bool,
    /// Why it was chosen.
    pub reason: &'a str,
    /// The TPM, when there is one.
    pub tpm: &'a TpmReport,
    /// The device's TPM attestation, in words ([`crate::TpmAttestationState::describe`]).
    pub attestation: &'a str,
}

/// What the device holds that the report is built from.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    /// The key provider.
    pub provider: ProviderFacts<'a>,
    /// The join, if any.
    pub device: Option<&'a DeviceRecord>,
    /// The device key as it could (or could not) be loaded.
    pub device_key: Option<&'a Result<DeviceKey, AgentError>>,
    /// The user shown.
    pub upn: Option<&'a str>,
    /// Their Hello key.
    pub stored: Option<&'a StoredKey>,
    /// Their primary refresh token.
    pub sso: Option<&'a SsoRecord>,
    /// Their Hello certificate, or why its record could not be read.
    pub certificate: Option<&'a Result<crate::cert_record::CertRecord, AgentError>>,
    /// The newest event that says whether the service accepted the device's proof.
    pub device_auth: Option<&'a crate::events::Event>,
    /// The prerequisite check.
    pub decision: &'a ProvisioningDecision,
    /// The policy in force.
    pub policy: &'a PolicyInForce,
}

/// Seconds since the epoch as RFC 3339 (the number itself if out of range).
pub fn rfc3339(ts: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ts.to_string())
}

/// Builds the report from what is on the device.
pub fn report(provider: &str, o: &Observed<'_>, now: i64) -> StatusReport {
    let Observed {
        provider: facts,
        device,
        device_key,
        upn,
        stored,
        sso,
        certificate,
        device_auth,
        decision,
        policy,
    } = *o;
    let cert_der = device
        .and_then(|d| latchkey_pki::pem_to_der(&d.device_certificate_pem, "CERTIFICATE").ok());
    let cert_summary = cert_der
        .as_deref()
        .and_then(|der| latchkey_pki::inspect_certificate(der).ok());
    let smart_card = policy
        .policy()
        .use_hello_certificates_as_smart_card_certificates
        .value;
    let pin_rules = policy.policy().pin;
    let container = match stored {
        Some(StoredKey::Software(c)) => Some(c),
        _ => None,
    };
    let info = facts.tpm.info.as_ref();
    let thumbprint = device.and_then(|d| d.certificate_thumbprint().ok());
    StatusReport {
        device_state: DeviceState {
            joined: device.is_some(),
            join_type: device.map(|d| d.join_type.as_str().to_owned()),
            device_id: device.map(|d| d.device_id.clone()),
            tenant_id: device.map(|d| d.tenant_id.clone()),
            tenant_name: device.map(|d| d.tenant_name.clone()),
            server_url: device.map(|d| d.server_url.clone()),
            device_certificate_thumbprint: thumbprint,
            device_certificate_sha256: cert_der.as_deref().map(latchkey_pki::fingerprint_sha256),
            device_certificate_validity: cert_summary.map(|c| {
                format!(
                    "{} -- {}",
                    rfc3339(c.not_before.unix_timestamp()),
                    rfc3339(c.not_after.unix_timestamp())
                )
            }),
            device_auth_status: match device {
                None => "-".to_owned(),
                Some(_) => device_auth_words(device_auth),
            },
            device_key_algorithm: device_key.map(|k| match k {
                Ok(k) => k.algorithm(),
                Err(e) => format!("unusable: {e}"),
            }),
            device_key_protection: device.map(|d| d.key_protection().describe()),
            key_provider: provider.to_owned(),
            key_provider_reason: facts.reason.to_owned(),
            key_provider_warning: (provider == SOFTWARE_PROVIDER)
                .then(|| SOFTWARE_KEY_WARNING.to_owned()),
            tpm_protected: facts.tpm_protected,
            tpm_manufacturer: info.map(|i| format!("{} ({})", i.manufacturer, i.vendor)),
            tpm_firmware: info.map(|i| i.firmware()),
            tpm_spec_version: info.map(|i| i.spec_version()).or_else(|| {
                facts
                    .tpm
                    .unused_family
                    .as_ref()
                    .map(|f| format!("{f} (not used: Latchkey makes keys in TPM 2.0 only)"))
            }),
            tpm_lockout: facts.tpm.lockout.as_ref().map(|l| match l {
                Ok(s) => TpmLockout {
                    counter: s.counter,
                    max_tries: s.max_tries,
                    in_lockout: s.in_lockout,
                    wait: lockout_wait(s),
                },
                Err(e) => TpmLockout {
                    counter: 0,
                    max_tries: 0,
                    in_lockout: false,
                    wait: format!("unreadable: {e}"),
                },
            }),
            device_tpm_attestation: facts.attestation.to_owned(),
        },
        user_state: UserState {
            user: upn.map(str::to_owned),
            ngc_set: stored.is_some(),
            ngc_key_id: stored.map(|c| c.key_id().to_owned()),
            ngc_key_provider: stored.map(|c| c.provider().to_owned()),
            ngc_key_attestation: stored.map(|c| match c {
                StoredKey::Tpm(t) => t
                    .attestation
                    .clone()
                    .unwrap_or_else(|| "not recorded".to_owned()),
                StoredKey::Software(_) => "software".to_owned(),
            }),
            can_reset: crate::ops_reset::can_reset(
                stored,
                policy.policy().enable_pin_recovery.value,
            )
            .to_owned(),
            pin_failures: container.map_or(0, |c| c.lockout.failures),
            pin_locked_until: container
                .and_then(|c| c.locked_for(now).map(|_| c.lockout.locked_until)),
            pin_lockout: pin_lockout_words(stored, facts.tpm, now),
            pin_expiry: stored.and_then(|c| {
                pin_rules
                    .max_age_seconds()
                    .map(|age| rfc3339(c.pin_set_at().saturating_add(age)))
            }),
            hello_certificate: certificate.map(|c| match c {
                Ok(record) => record.describe(now),
                Err(e) => format!("UNREADABLE: {e}"),
            }),
            smart_card_certificates: smart_card,
        },
        sso_state: SsoState {
            prt_present: sso.is_some_and(|s| s.prt_expires_at > now),
            prt_expiry: sso.map(|s| rfc3339(s.prt_expires_at)),
        },
        ngc_prerequisite_check: PrerequisiteState {
            checks: decision
                .checks
                .iter()
                .map(|c| {
                    (
                        prereq::check_label(c.name).to_owned(),
                        CheckLine {
                            state: prereq::state_word(c.state).to_owned(),
                            detail: c.detail.clone(),
                        },
                    )
                })
                .collect(),
            pre_req_result: if prereq::will_provision(decision) {
                "WillProvision".to_owned()
            } else {
                "WillNotProvision".to_owned()
            },
        },
        policy: PolicyState {
            version: policy.version(),
            origin: if policy.stored.is_some() {
                "service".to_owned()
            } else {
                "defaults".to_owned()
            },
            received_for: policy.stored.as_ref().map(|s| s.upn.clone()),
            synced_at: policy.stored.as_ref().map(|s| rfc3339(s.synced_at)),
        },
    }
}

/// DeviceAuthStatus from the newest event that says.
fn device_auth_words(event: Option<&crate::events::Event>) -> String {
    let Some(e) = event else {
        return "NOT TESTED (no operation with the service recorded yet)".to_owned();
    };
    let value = |key: &str| {
        e.data
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    match value(crate::events::DEVICE_AUTH) {
        Some("SUCCESS") => format!("SUCCESS ({})", rfc3339(e.time)),
        _ => format!(
            "FAILED. Device is disabled or deleted ({}, {})",
            value("Code").unwrap_or("-"),
            rfc3339(e.time)
        ),
    }
}

/// The PIN lockout in words: the container's counter for a software key, the TPM's for a
/// TPM key.
fn pin_lockout_words(stored: Option<&StoredKey>, tpm: &TpmReport, now: i64) -> String {
    match stored {
        None => "-".to_owned(),
        Some(StoredKey::Software(c)) => match c.locked_for(now) {
            Some(wait) => format!(
                "LOCKED OUT for {wait} s ({} incorrect PINs)",
                c.lockout.failures
            ),
            None => format!(
                "NOT LOCKED ({} of {} incorrect PINs)",
                c.lockout.failures,
                crate::container::MAX_TRIES
            ),
        },
        Some(StoredKey::Tpm(_)) => match &tpm.lockout {
            Some(Ok(s)) if s.in_lockout => format!(
                "LOCKED OUT (TPM: {} of {} failures; {})",
                s.counter,
                s.max_tries,
                lockout_wait(s)
            ),
            Some(Ok(s)) => format!(
                "NOT LOCKED (TPM: {} of {} failures)",
                s.counter, s.max_tries
            ),
            Some(Err(e)) => format!("UNKNOWN (the TPM's counter is unreadable: {e})"),
            None => "UNKNOWN (no TPM in use)".to_owned(),
        },
    }
}
