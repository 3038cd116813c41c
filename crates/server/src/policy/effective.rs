//! The effective policy of a device and user: Group Policy (filtered by groups) and the CSP
//! layer, through the policy crate's precedence.

use latchkey_policy::gpo::applicable_settings;
use latchkey_policy::{EffectivePolicy, PolicySources, Scope};
use serde::Serialize;

use super::{csp, gpo, PolicyServiceError};
use crate::storage::policy::ALL_PRINCIPALS;
use crate::storage::Storage;

/// The effective policy with what it was computed from.
#[derive(Debug, Clone, Serialize)]
pub struct EffectiveReport {
    /// The tenant's policy version.
    pub version: i64,
    /// The device it was computed for.
    pub device_id: Option<String>,
    /// The user it was computed for.
    pub upn: Option<String>,
    /// The device's groups (computer-scope filtering).
    pub device_groups: Vec<String>,
    /// The user's groups (user-scope filtering).
    pub user_groups: Vec<String>,
    /// Names of the GPO halves that applied, `name (scope)`, in link order.
    pub gpos_applied: Vec<String>,
    /// The result, each setting with its source.
    pub policy: EffectivePolicy,
}

/// Computes the effective policy of `device_id` (which must exist when given) and `upn`.
/// Without a device, computer Group Policy filtered on a group does not apply; without a
/// user, only the user-scope policy for every user does.
pub async fn effective(
    storage: &dyn Storage,
    tenant: &str,
    device_id: Option<&str>,
    upn: Option<&str>,
) -> Result<EffectiveReport, PolicyServiceError> {
    let upn = upn.map(super::normalise_upn).filter(|u| !u.is_empty());
    let owner = match device_id {
        Some(id) => Some(
            storage
                .device_owner(tenant, id)
                .await?
                .ok_or_else(|| PolicyServiceError::Invalid(format!("no device {id}")))?,
        ),
        None => None,
    };
    if let Some(u) = &upn {
        if storage.user_by_upn(tenant, u).await?.is_none() {
            return Err(PolicyServiceError::Invalid(format!("no user {u}")));
        }
    }
    let snap = storage.load_csp(tenant, upn.as_deref()).await?;
    let rows = storage.list_gpos(tenant).await?;
    let members = storage.list_group_members(tenant).await?;
    let (device_groups, user_groups) =
        gpo::memberships(&members, device_id, owner.as_deref(), upn.as_deref());
    let gpos = rows
        .iter()
        .map(gpo::object)
        .collect::<Result<Vec<_>, _>>()?;
    let (computer, user) = applicable_settings(&gpos, &device_groups, &user_groups);
    let gpos_applied = gpos
        .iter()
        .filter(|g| match &g.target {
            latchkey_policy::gpo::GpoTarget::All => true,
            latchkey_policy::gpo::GpoTarget::Group(name) => {
                let groups = match g.scope {
                    latchkey_policy::gpo::GpoScope::Computer => &device_groups,
                    latchkey_policy::gpo::GpoScope::User => &user_groups,
                };
                groups.iter().any(|m| m.eq_ignore_ascii_case(name))
            }
        })
        .map(|g| format!("{} ({})", g.name, gpo::scope_name(g.scope)))
        .collect();
    let sources = PolicySources {
        user_gpo: user,
        computer_gpo: computer,
        user_csp: csp::user_overlay(&snap, upn.as_deref())?.settings(),
        device_csp: csp::store(&snap, Scope::Device, ALL_PRINCIPALS)?.settings(),
    };
    Ok(EffectiveReport {
        version: snap.version,
        device_id: device_id.map(str::to_owned),
        upn,
        device_groups,
        user_groups,
        gpos_applied,
        policy: EffectivePolicy::compute(&sources),
    })
}

/// One line of `policy show`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettingRow {
    /// The node's path below `{TenantId}/Policies/` (or `PassportForWork/`).
    pub setting: String,
    /// The value in force.
    pub value: String,
    /// Who set it.
    pub source: latchkey_policy::Source,
}

/// Every setting of an effective policy with its value and source, in node-table order.
pub fn setting_rows(p: &EffectivePolicy) -> Vec<SettingRow> {
    use latchkey_policy::effective::Effective;
    fn row<T: ToString>(name: &str, e: &Effective<T>) -> SettingRow {
        SettingRow {
            setting: name.to_owned(),
            value: e.value.to_string(),
            source: e.source,
        }
    }
    fn opt(name: &str, e: &Effective<Option<String>>) -> SettingRow {
        SettingRow {
            setting: name.to_owned(),
            value: e.value.clone().unwrap_or_else(|| "(none)".into()),
            source: e.source,
        }
    }
    fn class(name: &str, e: &Effective<latchkey_policy::settings::CharClassRule>) -> SettingRow {
        use latchkey_policy::settings::CharClassRule::*;
        let v = match e.value {
            Allowed => "0 (allowed)",
            Required => "1 (required)",
            Disallowed => "2 (not allowed)",
        };
        SettingRow {
            setting: name.to_owned(),
            value: v.to_owned(),
            source: e.source,
        }
    }
    let pin = &p.pin;
    vec![
        row("UsePassportForWork", &p.use_passport_for_work),
        row("RequireSecurityDevice", &p.require_security_device),
        row("ExcludeSecurityDevices/TPM12", &p.exclude_tpm12),
        row("EnablePinRecovery", &p.enable_pin_recovery),
        row(
            "UseCertificateForOnPremAuth",
            &p.use_certificate_for_on_prem_auth,
        ),
        row("PINComplexity/MinimumPINLength", &pin.min_length),
        row("PINComplexity/MaximumPINLength", &pin.max_length),
        class("PINComplexity/UppercaseLetters", &pin.uppercase),
        class("PINComplexity/LowercaseLetters", &pin.lowercase),
        class("PINComplexity/SpecialCharacters", &pin.special),
        class("PINComplexity/Digits", &pin.digits),
        row("PINComplexity/History", &pin.history),
        row("PINComplexity/Expiration", &pin.expiration_days),
        row("Remote/UseRemotePassport", &p.use_remote_passport),
        row(
            "UseHelloCertificatesAsSmartCardCertificates",
            &p.use_hello_certificates_as_smart_card_certificates,
        ),
        row("Biometrics/UseBiometrics", &p.use_biometrics),
        row(
            "Biometrics/FacialFeaturesUseEnhancedAntiSpoofing",
            &p.facial_features_use_enhanced_anti_spoofing,
        ),
        opt("DeviceUnlock/GroupA", &p.device_unlock_group_a),
        opt("DeviceUnlock/GroupB", &p.device_unlock_group_b),
        opt("DeviceUnlock/Plugins", &p.device_unlock_plugins),
        row("DynamicLock/DynamicLock", &p.dynamic_lock),
        opt("DynamicLock/Plugins", &p.dynamic_lock_plugins),
        row(
            "SecurityKey/UseSecurityKeyForSignin",
            &p.use_security_key_for_signin,
        ),
    ]
}
