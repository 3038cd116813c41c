//! The Group Policy layer and its security groups.
//!
//! A GPO half is stored per `(name, scope)`: the computer and the user configuration of one
//! GPO share its name and link order. Settings are named as in the registry (`Enabled`,
//! `UseCertificateForOnPremAuth`, `RequireSecurityDevice`, `TPM12`, and the PINComplexity
//! values); `set` goes through the policy crate's `.reg` reader, so a setting typed on the
//! command line is checked exactly like one imported from a file.

use latchkey_policy::gpo::{GpoObject, GpoScope, GpoSettings, GpoTarget};
use latchkey_policy::regfile::{import_reg, import_reg_bytes, RegImport};

use super::PolicyServiceError;
use crate::storage::policy::{GpoRow, GroupMemberRow};

/// Longest GPO or group name.
pub const MAX_NAME: usize = 128;

/// The registry value names a GPO can carry, with the key below `PassportForWork` they live
/// in.
pub const SETTINGS: [(&str, &str); 12] = [
    ("Enabled", ""),
    ("UseCertificateForOnPremAuth", ""),
    ("RequireSecurityDevice", ""),
    ("TPM12", "\\ExcludeSecurityDevices"),
    ("MinimumPINLength", "\\PINComplexity"),
    ("MaximumPINLength", "\\PINComplexity"),
    ("UppercaseLetters", "\\PINComplexity"),
    ("LowercaseLetters", "\\PINComplexity"),
    ("SpecialCharacters", "\\PINComplexity"),
    ("Digits", "\\PINComplexity"),
    ("History", "\\PINComplexity"),
    ("Expiration", "\\PINComplexity"),
];

/// The stored name of a GPO scope.
pub fn scope_name(scope: GpoScope) -> &'static str {
    match scope {
        GpoScope::Computer => "computer",
        GpoScope::User => "user",
    }
}

/// Parses `computer` / `user`.
pub fn parse_scope(s: &str) -> Result<GpoScope, PolicyServiceError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "computer" | "machine" | "device" => Ok(GpoScope::Computer),
        "user" => Ok(GpoScope::User),
        other => Err(PolicyServiceError::Invalid(format!(
            "scope `{other}` is neither computer nor user"
        ))),
    }
}

/// Checks and normalises a GPO or group name (groups compare case-insensitively).
pub fn check_name(what: &str, name: &str) -> Result<String, PolicyServiceError> {
    let n = name.trim();
    if n.is_empty() || n.len() > MAX_NAME || n.chars().any(char::is_control) {
        return Err(PolicyServiceError::Invalid(format!(
            "`{n}` is not a valid {what} name (1 to {MAX_NAME} printable characters)"
        )));
    }
    Ok(n.to_owned())
}

/// A stored row as the policy crate's GPO (a row that no longer reads is an error).
pub fn object(row: &GpoRow) -> Result<GpoObject, PolicyServiceError> {
    let scope = parse_scope(&row.scope)
        .map_err(|_| PolicyServiceError::Corrupt(format!("GPO {} scope", row.name)))?;
    let settings: GpoSettings = serde_json::from_str(&row.settings_json)
        .map_err(|e| PolicyServiceError::Corrupt(format!("GPO {}: {e}", row.name)))?;
    let target = row
        .target_group
        .clone()
        .map_or(GpoTarget::All, GpoTarget::Group);
    GpoObject::new(row.name.clone(), scope, target, settings)
        .map_err(|e| PolicyServiceError::Corrupt(format!("GPO {}: {e}", row.name)))
}

fn hive(scope: GpoScope) -> &'static str {
    match scope {
        GpoScope::Computer => "HKEY_LOCAL_MACHINE",
        GpoScope::User => "HKEY_CURRENT_USER",
    }
}

/// Parses `NAME=VALUE` assignments (`true`/`false`/`on`/`off` for flags, decimal numbers)
/// through the `.reg` reader; returns the settings they configure at `scope`.
pub fn parse_assignments(
    scope: GpoScope,
    assignments: &[String],
) -> Result<GpoSettings, PolicyServiceError> {
    let mut text = String::from("Windows Registry Editor Version 5.00\n");
    for a in assignments {
        let (name, value) = a
            .split_once('=')
            .ok_or_else(|| PolicyServiceError::Invalid(format!("`{a}` is not NAME=VALUE")))?;
        let (canonical, key) = setting_key(name.trim())?;
        let v = value.trim();
        let n: u32 = match v.to_ascii_lowercase().as_str() {
            "true" | "on" | "yes" | "enabled" => 1,
            "false" | "off" | "no" | "disabled" => 0,
            other => other.parse().map_err(|_| {
                PolicyServiceError::Invalid(format!("{canonical}: `{v}` is not a number or a flag"))
            })?,
        };
        text.push_str(&format!(
            "[{}\\SOFTWARE\\Policies\\Microsoft\\PassportForWork{key}]\n\"{canonical}\"=dword:{n:08x}\n",
            hive(scope)
        ));
    }
    let import = import_reg(&text).map_err(|e| PolicyServiceError::Invalid(e.to_string()))?;
    Ok(import.scope(scope).clone())
}

fn setting_key(name: &str) -> Result<(&'static str, &'static str), PolicyServiceError> {
    SETTINGS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .copied()
        .ok_or_else(|| {
            let known: Vec<&str> = SETTINGS.iter().map(|(n, _)| *n).collect();
            PolicyServiceError::Invalid(format!(
                "unknown Group Policy setting `{name}` (known: {})",
                known.join(", ")
            ))
        })
}

/// Reads a `.reg` file.
pub fn read_reg(bytes: &[u8]) -> Result<RegImport, PolicyServiceError> {
    import_reg_bytes(bytes).map_err(|e| PolicyServiceError::Invalid(e.to_string()))
}

/// `new` over `old`: every setting `new` configures replaces the old one.
pub fn overlay(new: &GpoSettings, old: &GpoSettings) -> GpoSettings {
    let (n, o) = (&new.pin, &old.pin);
    let mut out = GpoSettings {
        use_windows_hello_for_business: new
            .use_windows_hello_for_business
            .or(old.use_windows_hello_for_business),
        use_certificate_for_on_prem_auth: new
            .use_certificate_for_on_prem_auth
            .or(old.use_certificate_for_on_prem_auth),
        use_hardware_security_device: new
            .use_hardware_security_device
            .or(old.use_hardware_security_device),
        exclude_tpm12: new.exclude_tpm12.or(old.exclude_tpm12),
        pin: old.pin.clone(),
    };
    let p = &mut out.pin;
    p.min_length = n.min_length.or(o.min_length);
    p.max_length = n.max_length.or(o.max_length);
    p.uppercase = n.uppercase.or(o.uppercase);
    p.lowercase = n.lowercase.or(o.lowercase);
    p.special = n.special.or(o.special);
    p.digits = n.digits.or(o.digits);
    p.history = n.history.or(o.history);
    p.expiration_days = n.expiration_days.or(o.expiration_days);
    out
}

/// `settings` without the named ones ("not configured").
pub fn without(
    settings: &GpoSettings,
    names: &[String],
) -> Result<GpoSettings, PolicyServiceError> {
    let mut s = settings.clone();
    for name in names {
        let (canonical, _) = setting_key(name.trim())?;
        match canonical {
            "Enabled" => s.use_windows_hello_for_business = None,
            "UseCertificateForOnPremAuth" => s.use_certificate_for_on_prem_auth = None,
            "RequireSecurityDevice" => s.use_hardware_security_device = None,
            "TPM12" => s.exclude_tpm12 = None,
            "MinimumPINLength" => s.pin.min_length = None,
            "MaximumPINLength" => s.pin.max_length = None,
            "UppercaseLetters" => s.pin.uppercase = None,
            "LowercaseLetters" => s.pin.lowercase = None,
            "SpecialCharacters" => s.pin.special = None,
            "Digits" => s.pin.digits = None,
            "History" => s.pin.history = None,
            _ => s.pin.expiration_days = None,
        }
    }
    Ok(s)
}

/// The configured settings of a GPO as `NAME=VALUE` text, in [`SETTINGS`] order.
pub fn describe(s: &GpoSettings) -> Vec<String> {
    let flag = |b: Option<bool>| b.map(|b| if b { "1".to_owned() } else { "0".to_owned() });
    let values = [
        flag(s.use_windows_hello_for_business),
        flag(s.use_certificate_for_on_prem_auth),
        flag(s.use_hardware_security_device),
        flag(s.exclude_tpm12),
        s.pin.min_length.map(|v| v.to_string()),
        s.pin.max_length.map(|v| v.to_string()),
        s.pin.uppercase.map(|v| v.to_int().to_string()),
        s.pin.lowercase.map(|v| v.to_int().to_string()),
        s.pin.special.map(|v| v.to_int().to_string()),
        s.pin.digits.map(|v| v.to_int().to_string()),
        s.pin.history.map(|v| v.to_string()),
        s.pin.expiration_days.map(|v| v.to_string()),
    ];
    SETTINGS
        .iter()
        .zip(values)
        .filter_map(|((n, _), v)| v.map(|v| format!("{n}={v}")))
        .collect()
}

/// The groups a device and a user are in. A device is in a group that lists it, or that
/// lists its registered owner (so one group of users phases both configurations).
pub fn memberships(
    members: &[GroupMemberRow],
    device_id: Option<&str>,
    owner_upn: Option<&str>,
    upn: Option<&str>,
) -> (Vec<String>, Vec<String>) {
    let is = |m: &GroupMemberRow, kind: &str, who: Option<&str>| {
        m.kind.as_deref() == Some(kind)
            && who.is_some_and(|w| {
                m.member
                    .as_deref()
                    .is_some_and(|x| x.eq_ignore_ascii_case(w))
            })
    };
    let mut device_groups: Vec<String> = members
        .iter()
        .filter(|m| is(m, "device", device_id) || is(m, "user", owner_upn))
        .map(|m| m.name.clone())
        .collect();
    let mut user_groups: Vec<String> = members
        .iter()
        .filter(|m| is(m, "user", upn))
        .map(|m| m.name.clone())
        .collect();
    device_groups.dedup();
    user_groups.dedup();
    (device_groups, user_groups)
}
