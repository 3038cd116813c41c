//! The Ngc prerequisite check: will this device provision a Hello key, and why (not)?
//!
//! Defaults by join type (seeds): a `cloud` (Azure AD joined) device provisions unless
//! UsePassportForWork is false ("Default value is true"); a `hybrid` (domain joined) device
//! only when Use Windows Hello for Business is enabled ("Not configured: Device doesn't
//! provision Windows Hello for Business for any user"); a `registered` device ("Add work or
//! school account") does not provision.

use serde::{Deserialize, Serialize};

use crate::effective::EffectivePolicy;

/// How the device is joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JoinType {
    /// Joined to the cloud directory (Azure AD joined).
    Cloud,
    /// Domain joined and registered (hybrid).
    Hybrid,
    /// Registered only (workplace join).
    Registered,
}

/// The TPM as the device sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TpmState {
    /// No TPM, or no TPM provider yet.
    Absent,
    /// Present but not usable (locked out, not owned, failing).
    NotUsable,
    /// A usable TPM 1.2.
    UsableTpm12,
    /// A usable TPM 2.0.
    UsableTpm20,
}

/// Facts about the device and session the decision depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceFacts {
    /// The TPM.
    pub tpm: TpmState,
    /// Whether the user's session is remote (RDP-like): Hello is not provisioned remotely.
    pub remote_session: bool,
    /// Whether the certificate step (UseCertificateForOnPremAuth) has completed.
    pub certificate_received: bool,
}

/// The result of one prerequisite check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckState {
    /// Satisfied.
    Yes,
    /// Not satisfied: provisioning will not happen.
    No,
    /// Satisfied later: provisioning waits for it.
    Pending,
    /// Does not apply under the policy in force.
    NotRequired,
}

/// Which prerequisite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckName {
    /// The device is joined (cloud or hybrid).
    IsDeviceJoined,
    /// Policy enables Windows Hello for Business for this join type.
    PolicyEnabled,
    /// The session is local.
    SessionIsNotRemote,
    /// The device can hold a Hello key under the policy (a usable, not excluded, TPM when
    /// one is required).
    DeviceEligible,
    /// RequireSecurityDevice / Use a hardware security device.
    RequireSecurityDevice,
    /// UseCertificateForOnPremAuth: provisioning waits for the certificate payload.
    CertEnrollment,
}

/// One line of the Ngc prerequisite check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrerequisiteCheck {
    /// Which check.
    pub name: CheckName,
    /// Its state.
    pub state: CheckState,
    /// Why, in words.
    pub detail: String,
}

/// Where the key will live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyProtection {
    /// In the TPM.
    Tpm,
    /// Encrypted at rest by software (weaker: a stolen container can be attacked offline).
    Software,
}

/// `PreReqResult`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProvisioningOutcome {
    /// Every check passed (some may be pending: provisioning waits for them).
    WillProvision {
        /// Where the key will be kept.
        protection: KeyProtection,
        /// Whether provisioning first waits for the certificate step.
        waits_for_certificate: bool,
    },
    /// At least one check failed.
    WillNotProvision,
}

/// The Ngc prerequisite check and its result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisioningDecision {
    /// Every check, in `dsregcmd /status` order.
    pub checks: Vec<PrerequisiteCheck>,
    /// The result.
    pub outcome: ProvisioningOutcome,
}

fn check(name: CheckName, state: CheckState, detail: impl Into<String>) -> PrerequisiteCheck {
    PrerequisiteCheck {
        name,
        state,
        detail: detail.into(),
    }
}

/// Decide whether Hello will be provisioned.
pub fn decide(
    join: JoinType,
    policy: &EffectivePolicy,
    facts: &DeviceFacts,
) -> ProvisioningDecision {
    use CheckState::{No, NotRequired, Pending, Yes};
    let mut checks = Vec::new();
    let joined = join != JoinType::Registered;
    checks.push(check(
        CheckName::IsDeviceJoined,
        if joined { Yes } else { No },
        match join {
            JoinType::Cloud => "cloud joined",
            JoinType::Hybrid => "hybrid (domain) joined",
            JoinType::Registered => "only registered: Windows Hello for Business is not provisioned on registered devices",
        },
    ));
    let upfw = policy.use_passport_for_work;
    let (enabled, why) = match join {
        JoinType::Cloud if !upfw.is_configured() => (true, "cloud joined devices provision by default".to_owned()),
        JoinType::Hybrid if !upfw.is_configured() => {
            (false, "hybrid devices provision only when Use Windows Hello for Business is enabled; it is not configured".to_owned())
        }
        _ => (
            upfw.value,
            format!(
                "UsePassportForWork is {} ({})",
                upfw.value,
                upfw.source.label()
            ),
        ),
    };
    checks.push(check(
        CheckName::PolicyEnabled,
        if enabled { Yes } else { No },
        why,
    ));
    checks.push(check(
        CheckName::SessionIsNotRemote,
        if facts.remote_session { No } else { Yes },
        if facts.remote_session {
            "remote session"
        } else {
            "local session"
        },
    ));

    let tpm12_excluded = policy.exclude_tpm12.value;
    let usable_tpm = match facts.tpm {
        TpmState::UsableTpm20 => true,
        TpmState::UsableTpm12 => !tpm12_excluded,
        TpmState::Absent | TpmState::NotUsable => false,
    };
    let tpm_words = match facts.tpm {
        TpmState::Absent => "no TPM present",
        TpmState::NotUsable => "the TPM is not usable",
        TpmState::UsableTpm12 if tpm12_excluded => {
            "the TPM is revision 1.2, which ExcludeSecurityDevices/TPM12 disallows"
        }
        TpmState::UsableTpm12 => "usable TPM 1.2",
        TpmState::UsableTpm20 => "usable TPM 2.0",
    };
    let required = policy.require_security_device.value;
    let (sd_state, eligible) = match (required, usable_tpm) {
        (true, true) => (Yes, true),
        (true, false) => (No, false),
        (false, _) => (NotRequired, true),
    };
    checks.push(check(
        CheckName::DeviceEligible,
        if eligible { Yes } else { No },
        if eligible {
            if usable_tpm {
                "the key will be kept in the TPM".to_owned()
            } else {
                format!("{tpm_words}: the key will be protected by software")
            }
        } else {
            format!("{tpm_words}, and policy requires a hardware security device")
        },
    ));
    checks.push(check(
        CheckName::RequireSecurityDevice,
        sd_state,
        if required {
            format!(
                "required ({}): {tpm_words}",
                policy.require_security_device.source.label()
            )
        } else {
            "not required".to_owned()
        },
    ));
    let cert = policy.use_certificate_for_on_prem_auth.value;
    let cert_state = match (cert, facts.certificate_received) {
        (false, _) => NotRequired,
        (true, true) => Yes,
        (true, false) => Pending,
    };
    checks.push(check(
        CheckName::CertEnrollment,
        cert_state,
        match cert_state {
            NotRequired => "UseCertificateForOnPremAuth is off: no certificate step",
            Yes => "certificate received",
            _ => "UseCertificateForOnPremAuth: waiting for the certificate payload before provisioning",
        },
    ));
    let outcome = if checks.iter().any(|c| c.state == No) {
        ProvisioningOutcome::WillNotProvision
    } else {
        ProvisioningOutcome::WillProvision {
            protection: if usable_tpm {
                KeyProtection::Tpm
            } else {
                KeyProtection::Software
            },
            waits_for_certificate: cert_state == Pending,
        }
    };
    ProvisioningDecision { checks, outcome }
}
