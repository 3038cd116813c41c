//! `latchkey policy show`: every setting in force, its value, where it came from, and
//! whether this device enforces it. Settings the device does not act on yet are shown as
//! "not enforced", never left out.

use latchkey_policy::effective::{Effective, PolicyNote};
use latchkey_policy::settings::CharClassRule;
use latchkey_policy::EffectivePolicy;
use serde::Serialize;

use crate::policy_store::PolicyInForce;

/// Whether the device acts on a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Enforcement {
    /// The device acts on it.
    Enforced,
    /// The device reports it but has nothing to apply it to (no TPM provider yet).
    Reported,
    /// Stored and shown; the feature does not exist on the device yet.
    NotEnforced,
}

impl Enforcement {
    /// The words `policy show` prints.
    pub fn label(self) -> &'static str {
        match self {
            Enforcement::Enforced => "enforced",
            Enforcement::Reported => "reported (no TPM provider on this device)",
            Enforcement::NotEnforced => "not enforced",
        }
    }
}

/// One setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettingRow {
    /// The node path under `{TenantId}/Policies` (or the CSP's own path).
    pub setting: String,
    /// The value in force, in words.
    pub value: String,
    /// `default`, `device CSP`, `user CSP`, `computer Group Policy`, `user Group Policy`.
    pub source: String,
    /// Whether the device acts on it.
    pub enforcement: Enforcement,
}

/// The whole view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyView {
    /// The user the policy applies to.
    pub user: Option<String>,
    /// The policy version, `None` when only the defaults apply.
    pub version: Option<u64>,
    /// `service` or `defaults`.
    pub origin: String,
    /// The user the stored policy was received for (may be the owner's, as a fallback).
    pub received_for: Option<String>,
    /// When it was received (seconds since the epoch).
    pub synced_at: Option<i64>,
    /// Policy commands of the last session the device could not apply.
    pub failed_commands: usize,
    /// Every setting.
    pub settings: Vec<SettingRow>,
    /// How the result was reached (overrides, fallbacks), in words.
    pub notes: Vec<String>,
}

fn class(rule: CharClassRule) -> &'static str {
    match rule {
        CharClassRule::Allowed => "allowed",
        CharClassRule::Required => "required",
        CharClassRule::Disallowed => "not allowed",
    }
}

/// The PIN rules in force, in one line (for error messages).
pub fn pin_rules_summary(policy: &EffectivePolicy) -> String {
    let p = &policy.pin;
    let mut parts = vec![
        format!(
            "{} to {} characters",
            p.min_length.value, p.max_length.value
        ),
        format!("digits {}", class(p.digits.value)),
        format!("uppercase letters {}", class(p.uppercase.value)),
        format!("lowercase letters {}", class(p.lowercase.value)),
        format!("special characters {}", class(p.special.value)),
    ];
    if p.history.value > 0 {
        parts.push(format!("not one of the last {} PINs", p.history.value));
    }
    if p.expiration_days.value > 0 {
        parts.push(format!("expires after {} days", p.expiration_days.value));
    }
    parts.join(", ")
}

fn row<T>(setting: &str, e: &Effective<T>, value: String, enforcement: Enforcement) -> SettingRow {
    SettingRow {
        setting: setting.to_owned(),
        value,
        source: e.source.label().to_owned(),
        enforcement,
    }
}

fn b(setting: &str, e: &Effective<bool>, enforcement: Enforcement) -> SettingRow {
    row(setting, e, e.value.to_string(), enforcement)
}

fn s(setting: &str, e: &Effective<Option<String>>) -> SettingRow {
    let value = e.value.clone().unwrap_or_else(|| "(not set)".to_owned());
    row(setting, e, value, Enforcement::NotEnforced)
}

/// Every setting of `p` with its enforcement on this device.
pub fn rows(p: &EffectivePolicy) -> Vec<SettingRow> {
    use Enforcement::{Enforced, NotEnforced, Reported};
    let pin = &p.pin;
    let n = |setting: &str, e: &Effective<u32>, unit: &str| {
        row(setting, e, format!("{}{unit}", e.value), Enforced)
    };
    let c = |setting: &str, e: &Effective<CharClassRule>| {
        row(setting, e, class(e.value).to_owned(), Enforced)
    };
    vec![
        b("UsePassportForWork", &p.use_passport_for_work, Enforced),
        b(
            "RequireSecurityDevice",
            &p.require_security_device,
            Enforced,
        ),
        b("ExcludeSecurityDevices/TPM12", &p.exclude_tpm12, Reported),
        b(
            "UseCertificateForOnPremAuth",
            &p.use_certificate_for_on_prem_auth,
            Enforced,
        ),
        n("PINComplexity/MinimumPINLength", &pin.min_length, ""),
        n("PINComplexity/MaximumPINLength", &pin.max_length, ""),
        c("PINComplexity/UppercaseLetters", &pin.uppercase),
        c("PINComplexity/LowercaseLetters", &pin.lowercase),
        c("PINComplexity/SpecialCharacters", &pin.special),
        c("PINComplexity/Digits", &pin.digits),
        n("PINComplexity/History", &pin.history, ""),
        row(
            "PINComplexity/Expiration",
            &pin.expiration_days,
            match pin.expiration_days.value {
                0 => "never".to_owned(),
                d => format!("{d} days"),
            },
            Enforced,
        ),
        b("EnablePinRecovery", &p.enable_pin_recovery, NotEnforced),
        b(
            "Remote/UseRemotePassport",
            &p.use_remote_passport,
            NotEnforced,
        ),
        b(
            "UseHelloCertificatesAsSmartCardCertificates",
            &p.use_hello_certificates_as_smart_card_certificates,
            Enforced,
        ),
        b("Biometrics/UseBiometrics", &p.use_biometrics, NotEnforced),
        b(
            "Biometrics/FacialFeaturesUseEnhancedAntiSpoofing",
            &p.facial_features_use_enhanced_anti_spoofing,
            NotEnforced,
        ),
        s("DeviceUnlock/GroupA", &p.device_unlock_group_a),
        s("DeviceUnlock/GroupB", &p.device_unlock_group_b),
        s("DeviceUnlock/Plugins", &p.device_unlock_plugins),
        b("DynamicLock/DynamicLock", &p.dynamic_lock, NotEnforced),
        s("DynamicLock/Plugins", &p.dynamic_lock_plugins),
        b(
            "SecurityKey/UseSecurityKeyForSignin",
            &p.use_security_key_for_signin,
            NotEnforced,
        ),
    ]
}

fn note(n: &PolicyNote) -> String {
    match n {
        PolicyNote::Overridden {
            setting,
            winner,
            ignored,
        } => format!(
            "{setting}: the {} value was not applied; {} wins",
            ignored.label(),
            winner.label()
        ),
        PolicyNote::CspPinIgnored => {
            "Group Policy sets PIN complexity, so the CSP PIN rules are not applied".to_owned()
        }
        PolicyNote::LengthFallback { source } => format!(
            "the PIN length pair from {} was out of bounds: 4 and 127 apply",
            source.label()
        ),
        PolicyNote::DefaultComplexityApplied => {
            "every character set was allowed (or none): digits required, others not allowed"
                .to_owned()
        }
    }
}

/// The view of what is in force.
pub fn view(in_force: &PolicyInForce) -> PolicyView {
    let policy = in_force.policy();
    let stored = in_force.stored.as_ref();
    PolicyView {
        user: in_force.upn.clone(),
        version: in_force.version(),
        origin: if stored.is_some() {
            "service"
        } else {
            "defaults"
        }
        .to_owned(),
        received_for: stored.map(|s| s.upn.clone()),
        synced_at: stored.map(|s| s.synced_at),
        failed_commands: stored.map_or(0, |s| s.failed),
        settings: rows(&policy),
        notes: policy.notes.iter().map(note).collect(),
    }
}

/// Renders the view for people: a header, then one line per setting.
pub fn render(v: &PolicyView, synced_at: Option<String>) -> String {
    let mut out = String::new();
    match v.version {
        Some(version) => out.push_str(&format!(
            "Policy version {version}, received from the service for {} at {}.\n",
            v.received_for.as_deref().unwrap_or("-"),
            synced_at.unwrap_or_else(|| "-".to_owned())
        )),
        None => out.push_str(
            "No policy received from the service yet: the defaults apply (run `latchkey policy sync`).\n",
        ),
    }
    if v.failed_commands > 0 {
        out.push_str(&format!(
            "warning: {} policy command(s) of the last session could not be applied on this device.\n",
            v.failed_commands
        ));
    }
    out.push('\n');
    let width = v
        .settings
        .iter()
        .map(|r| r.setting.len())
        .max()
        .unwrap_or(0);
    out.push_str(&format!(
        "{:<width$}  {:<12}  {:<22}  {}\n",
        "SETTING", "VALUE", "SOURCE", "ON THIS DEVICE"
    ));
    for r in &v.settings {
        out.push_str(&format!(
            "{:<width$}  {:<12}  {:<22}  {}\n",
            r.setting,
            r.value,
            r.source,
            r.enforcement.label()
        ));
    }
    if !v.notes.is_empty() {
        out.push_str("\nNotes:\n");
        for n in &v.notes {
            out.push_str(&format!("  - {n}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_is_listed_and_unimplemented_ones_say_so() {
        let mut p = EffectivePolicy::default();
        p.use_biometrics.value = false;
        p.use_biometrics.source = latchkey_policy::Source::DeviceCsp;
        p.pin.min_length.value = 8;
        p.pin.min_length.source = latchkey_policy::Source::ComputerGpo;
        let rows = rows(&p);
        assert_eq!(rows.len(), 23);
        let find = |name: &str| rows.iter().find(|r| r.setting == name).unwrap().clone();
        let bio = find("Biometrics/UseBiometrics");
        assert_eq!(
            (bio.value.as_str(), bio.source.as_str(), bio.enforcement),
            ("false", "device CSP", Enforcement::NotEnforced)
        );
        let min = find("PINComplexity/MinimumPINLength");
        assert_eq!(min.source, "computer Group Policy");
        assert_eq!(min.enforcement, Enforcement::Enforced);
        assert_eq!(
            find("ExcludeSecurityDevices/TPM12").enforcement,
            Enforcement::Reported
        );
        assert_eq!(
            find("UseHelloCertificatesAsSmartCardCertificates").enforcement,
            Enforcement::Enforced,
            "the p11-kit module file (smart_card.rs)"
        );
        for name in [
            "EnablePinRecovery",
            "Remote/UseRemotePassport",
            "DeviceUnlock/GroupA",
            "DynamicLock/DynamicLock",
            "SecurityKey/UseSecurityKeyForSignin",
        ] {
            assert_eq!(find(name).enforcement, Enforcement::NotEnforced, "{name}");
        }
        let text = render(
            &view(&PolicyInForce {
                upn: Some("a@x".into()),
                stored: None,
            }),
            None,
        );
        assert!(text.contains("the defaults apply"));
        assert!(text.contains("not enforced"));
        assert!(pin_rules_summary(&p).starts_with("8 to 127 characters, digits required"));
    }
}
