//! The Group Policy layer: the settings of the seeds' GPO tables, at computer or user scope,
//! assigned to every device/user or to one security group.
//!
//! From seed 003: "Use Windows Hello for Business" and "Use certificate for on-premises
//! authentication" exist under Computer Configuration *or* User Configuration; "Use a
//! hardware security device" only under Computer Configuration. Seed 000: the registry form
//! of "Enable Passport for Work" is `HKLM\Software\Policies\Microsoft\PassportForWork\Enabled`
//! (DWORD 1). PIN Complexity is offered at both scopes. "The best way to deploy the Windows
//! Hello for Business GPO is to use security group filtering. Only members of the targeted
//! security group will provision Windows Hello for Business, enabling a phased rollout."

use serde::{Deserialize, Serialize};

use crate::error::PolicyError;
use crate::settings::{PinSettings, PolicySettings};

/// Computer Configuration (HKLM) or User Configuration (HKCU).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GpoScope {
    /// Computer Configuration.
    Computer,
    /// User Configuration.
    User,
}

impl GpoScope {
    fn name(self) -> &'static str {
        match self {
            Self::Computer => "computer",
            Self::User => "user",
        }
    }
}

/// Who a GPO applies to (security filtering).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "group", rename_all = "snake_case")]
pub enum GpoTarget {
    /// Every device (computer scope) or every user (user scope).
    All,
    /// Members of this group only: the device's groups for a computer-scope GPO, the
    /// user's groups for a user-scope one. Names compare case-insensitively, as in AD.
    Group(String),
}

/// The Windows Hello for Business settings a GPO can carry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpoSettings {
    /// "Use Windows Hello for Business" (registry `PassportForWork\Enabled`).
    pub use_windows_hello_for_business: Option<bool>,
    /// "Use certificate for on-premises authentication" (`UseCertificateForOnPremAuth`).
    pub use_certificate_for_on_prem_auth: Option<bool>,
    /// "Use a hardware security device" (`RequireSecurityDevice`); computer scope only.
    pub use_hardware_security_device: Option<bool>,
    /// Its option to exclude TPM 1.2 (`ExcludeSecurityDevices\TPM12`); computer scope only.
    pub exclude_tpm12: Option<bool>,
    /// "PIN Complexity" (`PassportForWork\PINComplexity\*`).
    pub pin: PinSettings,
}

impl GpoSettings {
    /// Check that every configured setting exists at `scope`.
    pub fn check_scope(&self, scope: GpoScope) -> Result<(), PolicyError> {
        if scope == GpoScope::User {
            if self.use_hardware_security_device.is_some() {
                return Err(PolicyError::GpoScope {
                    setting: "Use a hardware security device",
                    scope: scope.name(),
                });
            }
            if self.exclude_tpm12.is_some() {
                return Err(PolicyError::GpoScope {
                    setting: "Exclude TPM 1.2 (Use a hardware security device)",
                    scope: scope.name(),
                });
            }
        }
        Ok(())
    }

    /// The settings in CSP terms.
    pub fn to_settings(&self) -> PolicySettings {
        PolicySettings {
            use_passport_for_work: self.use_windows_hello_for_business,
            require_security_device: self.use_hardware_security_device,
            exclude_tpm12: self.exclude_tpm12,
            use_certificate_for_on_prem_auth: self.use_certificate_for_on_prem_auth,
            pin: self.pin.clone(),
            ..PolicySettings::default()
        }
    }

    /// Fill every setting this one leaves unset from `lower` (a lower-precedence GPO).
    fn or(mut self, lower: &Self) -> Self {
        self.use_windows_hello_for_business = self
            .use_windows_hello_for_business
            .or(lower.use_windows_hello_for_business);
        self.use_certificate_for_on_prem_auth = self
            .use_certificate_for_on_prem_auth
            .or(lower.use_certificate_for_on_prem_auth);
        self.use_hardware_security_device = self
            .use_hardware_security_device
            .or(lower.use_hardware_security_device);
        self.exclude_tpm12 = self.exclude_tpm12.or(lower.exclude_tpm12);
        let (p, l) = (&mut self.pin, &lower.pin);
        p.min_length = p.min_length.or(l.min_length);
        p.max_length = p.max_length.or(l.max_length);
        p.uppercase = p.uppercase.or(l.uppercase);
        p.lowercase = p.lowercase.or(l.lowercase);
        p.special = p.special.or(l.special);
        p.digits = p.digits.or(l.digits);
        p.history = p.history.or(l.history);
        p.expiration_days = p.expiration_days.or(l.expiration_days);
        self
    }
}

/// One Group Policy Object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpoObject {
    /// Display name, e.g. "Enable Windows Hello for Business".
    pub name: String,
    /// Computer or User Configuration.
    pub scope: GpoScope,
    /// Security filtering.
    pub target: GpoTarget,
    /// What it configures.
    pub settings: GpoSettings,
}

impl GpoObject {
    /// A GPO, checked: settings must exist at the GPO's scope.
    pub fn new(
        name: impl Into<String>,
        scope: GpoScope,
        target: GpoTarget,
        settings: GpoSettings,
    ) -> Result<Self, PolicyError> {
        settings.check_scope(scope)?;
        Ok(Self {
            name: name.into(),
            scope,
            target,
            settings,
        })
    }

    fn applies(&self, groups: &[String]) -> bool {
        match &self.target {
            GpoTarget::All => true,
            GpoTarget::Group(g) => groups.iter().any(|m| m.eq_ignore_ascii_case(g)),
        }
    }
}

/// The Group Policy settings that reach one device and user: `(computer, user)`.
///
/// `gpos` is in precedence order, highest first (AD link order 1 first): for each setting
/// the first applicable GPO of the scope that configures it wins. A computer-scope GPO
/// applies when its group is among `device_groups`; a user-scope one when among
/// `user_groups`. A user-scope GPO carrying a computer-only setting is skipped entirely
/// (it cannot be built with [`GpoObject::new`], but may arrive deserialized).
pub fn applicable_settings(
    gpos: &[GpoObject],
    device_groups: &[String],
    user_groups: &[String],
) -> (PolicySettings, PolicySettings) {
    let merge = |scope: GpoScope, groups: &[String]| {
        gpos.iter()
            .filter(|g| g.scope == scope && g.settings.check_scope(scope).is_ok())
            .filter(|g| g.applies(groups))
            .fold(GpoSettings::default(), |acc, g| acc.or(&g.settings))
            .to_settings()
    };
    (
        merge(GpoScope::Computer, device_groups),
        merge(GpoScope::User, user_groups),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enable(scope: GpoScope, target: GpoTarget, on: bool) -> GpoObject {
        GpoObject::new(
            "Enable WHfB",
            scope,
            target,
            GpoSettings {
                use_windows_hello_for_business: Some(on),
                ..GpoSettings::default()
            },
        )
        .expect("valid")
    }

    #[test]
    fn group_filtering_and_order() {
        let gpos = vec![
            enable(
                GpoScope::Computer,
                GpoTarget::Group("WHfB Pilot".into()),
                true,
            ),
            enable(GpoScope::Computer, GpoTarget::All, false),
            enable(GpoScope::User, GpoTarget::Group("Hello Users".into()), true),
        ];
        let (c, u) = applicable_settings(&gpos, &["whfb pilot".into()], &[]);
        assert_eq!(c.use_passport_for_work, Some(true));
        assert_eq!(u.use_passport_for_work, None);
        let (c, u) = applicable_settings(&gpos, &[], &["Hello Users".into()]);
        assert_eq!(c.use_passport_for_work, Some(false));
        assert_eq!(u.use_passport_for_work, Some(true));
    }

    #[test]
    fn hardware_device_is_computer_only() {
        let s = GpoSettings {
            use_hardware_security_device: Some(true),
            ..GpoSettings::default()
        };
        let e = GpoObject::new("x", GpoScope::User, GpoTarget::All, s.clone()).expect_err("user");
        assert_eq!(e.code(), "LK-POL-023");
        assert!(GpoObject::new("x", GpoScope::Computer, GpoTarget::All, s).is_ok());
    }
}
