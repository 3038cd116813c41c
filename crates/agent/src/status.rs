//! `latchkey status`: the device's state in the manner of `dsregcmd /status`.

use latchkey_policy::provision::ProvisioningDecision;
use serde::Serialize;

use crate::device_key::DeviceKey;
use crate::error::AgentError;
use crate::policy_store::PolicyInForce;
use crate::prereq;
use crate::provider::{StoredKey, TpmReport};
use crate::records::{DeviceRecord, SsoRecord};
use crate::tpm_provider::lockout_wait;

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
    /// SHA-1 thumbprint of the device certificate.
    pub device_certificate_thumbprint: Option<String>,
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
    /// Whether the PIN can be reset (PIN recovery is not offered yet).
    pub can_reset: bool,
    /// Wrong PINs since the last right one (software keys; for a TPM key the TPM's
    /// counter, `TpmLockout`, is the authority).
    pub pin_failures: u32,
    /// The provider that made the user's key.
    pub ngc_key_provider: Option<String>,
    /// The key's attestation as the service recorded it at registration.
    pub ngc_key_attestation: Option<String>,
    /// When tries are accepted again, if locked.
    pub pin_locked_until: Option<i64>,
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
        decision,
        policy,
    } = *o;
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
            can_reset: false,
            pin_failures: container.map_or(0, |c| c.lockout.failures),
            pin_locked_until: container
                .and_then(|c| c.locked_for(now).map(|_| c.lockout.locked_until)),
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

fn yes_no(b: bool) -> &'static str {
    if b {
        "YES"
    } else {
        "NO"
    }
}

fn section(out: &mut String, title: &str, rows: &[(&str, String)]) {
    let rule = format!("+{}+\n", "-".repeat(70));
    out.push_str(&rule);
    out.push_str(&format!("| {title:<68} |\n"));
    out.push_str(&rule);
    out.push('\n');
    for (k, v) in rows {
        out.push_str(&format!("{k:>30} : {v}\n"));
    }
    out.push('\n');
}

/// Renders the report as text for people.
pub fn render(r: &StatusReport) -> String {
    let none = || "-".to_owned();
    let d = &r.device_state;
    let mut out = String::new();
    section(
        &mut out,
        "Device State",
        &[
            ("Joined", yes_no(d.joined).to_owned()),
            ("JoinType", d.join_type.clone().unwrap_or_else(none)),
            ("DeviceId", d.device_id.clone().unwrap_or_else(none)),
            ("TenantId", d.tenant_id.clone().unwrap_or_else(none)),
            ("TenantName", d.tenant_name.clone().unwrap_or_else(none)),
            ("ServerUrl", d.server_url.clone().unwrap_or_else(none)),
            (
                "DeviceCertificateThumbprint",
                d.device_certificate_thumbprint.clone().unwrap_or_else(none),
            ),
            (
                "DeviceKeyAlgorithm",
                d.device_key_algorithm.clone().unwrap_or_else(none),
            ),
            (
                "DeviceKeyProtection",
                d.device_key_protection.clone().unwrap_or_else(none),
            ),
            ("KeyProvider", d.key_provider.clone()),
            ("KeyProviderReason", d.key_provider_reason.clone()),
            ("TpmProtected", yes_no(d.tpm_protected).to_owned()),
            (
                "TpmManufacturer",
                d.tpm_manufacturer.clone().unwrap_or_else(none),
            ),
            ("TpmFirmware", d.tpm_firmware.clone().unwrap_or_else(none)),
            (
                "TpmSpecVersion",
                d.tpm_spec_version.clone().unwrap_or_else(none),
            ),
            (
                "TpmLockout",
                d.tpm_lockout.as_ref().map_or_else(none, |l| {
                    format!(
                        "{} ({} of {} failures; {})",
                        if l.in_lockout {
                            "LOCKED OUT"
                        } else {
                            "not locked"
                        },
                        l.counter,
                        l.max_tries,
                        l.wait
                    )
                }),
            ),
            ("DeviceTpmAttestation", d.device_tpm_attestation.clone()),
        ],
    );
    if let Some(w) = &d.key_provider_warning {
        out.push_str(&format!("  Warning: {w}.\n\n"));
    }
    let u = &r.user_state;
    section(
        &mut out,
        "User State",
        &[
            ("User", u.user.clone().unwrap_or_else(none)),
            ("NgcSet", yes_no(u.ngc_set).to_owned()),
            ("NgcKeyId", u.ngc_key_id.clone().unwrap_or_else(none)),
            (
                "NgcKeyProvider",
                u.ngc_key_provider.clone().unwrap_or_else(none),
            ),
            (
                "NgcKeyAttestation",
                u.ngc_key_attestation.clone().unwrap_or_else(none),
            ),
            ("CanReset", yes_no(u.can_reset).to_owned()),
            ("PinFailures", u.pin_failures.to_string()),
            (
                "PinExpiry",
                u.pin_expiry.clone().unwrap_or_else(|| "never".to_owned()),
            ),
            (
                "HelloCertificate",
                u.hello_certificate.clone().unwrap_or_else(none),
            ),
            (
                "SmartCardCertificates",
                yes_no(u.smart_card_certificates).to_owned(),
            ),
        ],
    );
    let s = &r.sso_state;
    section(
        &mut out,
        "SSO State",
        &[
            ("PrtPresent", yes_no(s.prt_present).to_owned()),
            ("PrtExpiry", s.prt_expiry.clone().unwrap_or_else(none)),
        ],
    );
    let p = &r.ngc_prerequisite_check;
    let mut rows: Vec<(&str, String)> = p
        .checks
        .iter()
        .map(|(k, v)| (k.as_str(), format!("{} ({})", v.state, v.detail)))
        .collect();
    rows.push(("PreReqResult", p.pre_req_result.clone()));
    section(&mut out, "Ngc Prerequisite Check", &rows);
    let pol = &r.policy;
    section(
        &mut out,
        "Policy",
        &[
            (
                "PolicyVersion",
                pol.version
                    .map_or_else(|| "- (defaults)".to_owned(), |v| v.to_string()),
            ),
            ("Origin", pol.origin.clone()),
            ("ReceivedFor", pol.received_for.clone().unwrap_or_else(none)),
            ("SyncedAt", pol.synced_at.clone().unwrap_or_else(none)),
        ],
    );
    out
}
