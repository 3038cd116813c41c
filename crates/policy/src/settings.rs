//! The typed view of one policy source: what it configures, `None` where it is silent.
//!
//! Every source (device CSP, user CSP, computer Group Policy, user Group Policy) is reduced
//! to a [`PolicySettings`] before precedence is applied.

use serde::{Deserialize, Serialize};

/// PINComplexity/UppercaseLetters, LowercaseLetters, SpecialCharacters, Digits.
///
/// The seed: "0 - Allows the use of ... in PIN. 1 - Requires the use of at least one ... in
/// PIN. 2 - Does not allow the use of ... in PIN."
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CharClassRule {
    /// 0: allowed.
    Allowed,
    /// 1: at least one required.
    Required,
    /// 2: not allowed.
    Disallowed,
}

impl CharClassRule {
    /// From the node's integer value.
    pub fn from_int(v: i64) -> Option<Self> {
        match v {
            0 => Some(Self::Allowed),
            1 => Some(Self::Required),
            2 => Some(Self::Disallowed),
            _ => None,
        }
    }

    /// The node's integer value.
    pub fn to_int(self) -> i64 {
        match self {
            Self::Allowed => 0,
            Self::Required => 1,
            Self::Disallowed => 2,
        }
    }

    /// Strictness rank for "the strictest PIN rule wins": allowed < disallowed < required.
    pub(crate) fn strictness(self) -> u8 {
        match self {
            Self::Allowed => 0,
            Self::Disallowed => 1,
            Self::Required => 2,
        }
    }
}

/// What one source says about PINComplexity.
///
/// Lengths are kept as configured (any integer), so that the seed's fallback rule can be
/// applied to them; see [`crate::pin::resolve_lengths`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinSettings {
    /// MinimumPINLength.
    pub min_length: Option<i64>,
    /// MaximumPINLength.
    pub max_length: Option<i64>,
    /// UppercaseLetters.
    pub uppercase: Option<CharClassRule>,
    /// LowercaseLetters.
    pub lowercase: Option<CharClassRule>,
    /// SpecialCharacters.
    pub special: Option<CharClassRule>,
    /// Digits.
    pub digits: Option<CharClassRule>,
    /// History (0..=50).
    pub history: Option<u32>,
    /// Expiration in days (0..=730, 0 = never).
    pub expiration_days: Option<u32>,
}

impl PinSettings {
    /// Whether this source configures any PIN complexity rule.
    pub fn is_configured(&self) -> bool {
        *self != Self::default()
    }
}

/// What one source configures, `None` for "not configured".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySettings {
    /// `{TenantId}/Policies/UsePassportForWork` (Group Policy: Use Windows Hello for Business).
    pub use_passport_for_work: Option<bool>,
    /// `{TenantId}/Policies/RequireSecurityDevice` (Group Policy: Use a hardware security device).
    pub require_security_device: Option<bool>,
    /// `{TenantId}/Policies/ExcludeSecurityDevices/TPM12`.
    pub exclude_tpm12: Option<bool>,
    /// `{TenantId}/Policies/EnablePinRecovery`.
    pub enable_pin_recovery: Option<bool>,
    /// `{TenantId}/Policies/UseCertificateForOnPremAuth`.
    pub use_certificate_for_on_prem_auth: Option<bool>,
    /// `{TenantId}/Policies/PINComplexity/*`.
    pub pin: PinSettings,
    /// `{TenantId}/Policies/Remote/UseRemotePassport`.
    pub use_remote_passport: Option<bool>,
    /// `{TenantId}/Policies/UseHelloCertificatesAsSmartCardCertificates`.
    pub use_hello_certificates_as_smart_card_certificates: Option<bool>,
    /// `Biometrics/UseBiometrics`, or else the deprecated top-level `UseBiometrics`.
    pub use_biometrics: Option<bool>,
    /// `Biometrics/FacialFeaturesUseEnhancedAntiSpoofing`.
    pub facial_features_use_enhanced_anti_spoofing: Option<bool>,
    /// `DeviceUnlock/GroupA`.
    pub device_unlock_group_a: Option<String>,
    /// `DeviceUnlock/GroupB`.
    pub device_unlock_group_b: Option<String>,
    /// `DeviceUnlock/Plugins`.
    pub device_unlock_plugins: Option<String>,
    /// `DynamicLock/DynamicLock`.
    pub dynamic_lock: Option<bool>,
    /// `DynamicLock/Plugins`.
    pub dynamic_lock_plugins: Option<String>,
    /// `SecurityKey/UseSecurityKeyForSignin` (0 disabled, 1 enabled).
    pub use_security_key_for_signin: Option<bool>,
}
