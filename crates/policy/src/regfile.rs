//! Import of a `.reg` file (Windows Registry Editor Version 5.00) holding the registry form of
//! the Windows Hello for Business Group Policy settings.
//!
//! Accepted keys (any letter case; `HKLM`/`HKCU` abbreviations allowed):
//!
//! ```text
//! [HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\PassportForWork]            -> computer
//! [HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\PassportForWork\PINComplexity]
//! [HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\PassportForWork\ExcludeSecurityDevices]
//! [HKEY_CURRENT_USER\SOFTWARE\Policies\Microsoft\PassportForWork]             -> user
//! [HKEY_CURRENT_USER\SOFTWARE\Policies\Microsoft\PassportForWork\PINComplexity]
//! ```
//!
//! Values are `"Name"=dword:XXXXXXXX` (or `"Name"=-` for "not configured"): `Enabled`,
//! `UseCertificateForOnPremAuth`, `RequireSecurityDevice` (computer only), `TPM12`, and under
//! `PINComplexity` `MinimumPINLength`, `MaximumPINLength`, `UppercaseLetters`,
//! `LowercaseLetters`, `SpecialCharacters`, `Digits`, `History`, `Expiration`.
//! Anything else is refused with its line number: an import that half-understands a file
//! would silently leave policy different from what the administrator wrote.
//!
//! Lengths are taken as written (any DWORD): the seed's fallback rule decides what an
//! out-of-bounds pair means. Every other value is checked against the node reference.

use crate::error::PolicyError;
use crate::gpo::{GpoScope, GpoSettings};
use crate::settings::CharClassRule;

/// The settings found in a `.reg` file, per scope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegImport {
    /// From `HKEY_LOCAL_MACHINE`.
    pub computer: GpoSettings,
    /// From `HKEY_CURRENT_USER`.
    pub user: GpoSettings,
}

impl RegImport {
    /// The settings of one scope.
    pub fn scope(&self, scope: GpoScope) -> &GpoSettings {
        match scope {
            GpoScope::Computer => &self.computer,
            GpoScope::User => &self.user,
        }
    }
}

/// Maximum accepted file size (bytes).
pub const MAX_REG_FILE_BYTES: usize = 1 << 20;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Root,
    Pin,
    Exclude,
}

/// Import a `.reg` file from its bytes: UTF-16LE with BOM (what regedit writes) or UTF-8
/// (BOM optional).
pub fn import_reg_bytes(bytes: &[u8]) -> Result<RegImport, PolicyError> {
    let err = |reason: &str| PolicyError::RegFile {
        line: 1,
        reason: reason.to_owned(),
    };
    if bytes.len() > MAX_REG_FILE_BYTES {
        return Err(err("file larger than 1 MiB"));
    }
    let text = if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        if rest.len() % 2 != 0 {
            return Err(err("odd number of bytes in a UTF-16LE file"));
        }
        let units = rest
            .chunks_exact(2)
            // Every chunk is exactly two bytes, so the conversion always succeeds.
            .flat_map(|c| <[u8; 2]>::try_from(c).map(u16::from_le_bytes));
        char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .map_err(|_| err("invalid UTF-16LE"))?
    } else {
        let rest = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
        String::from_utf8(rest.to_vec()).map_err(|_| err("not UTF-8 or UTF-16LE with BOM"))?
    };
    import_reg(&text)
}

/// Import a `.reg` file from text.
pub fn import_reg(text: &str) -> Result<RegImport, PolicyError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = RegImport::default();
    let mut header_seen = false;
    let mut key: Option<(GpoScope, Key)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let err = |reason: String| PolicyError::RegFile { line, reason };
        let l = raw.trim();
        if l.is_empty() || l.starts_with(';') {
            continue;
        }
        if !header_seen {
            if l != "Windows Registry Editor Version 5.00" {
                return Err(err(format!(
                    "expected the header \"Windows Registry Editor Version 5.00\", found {:?}",
                    crate::error::clip(l)
                )));
            }
            header_seen = true;
            continue;
        }
        if let Some(inner) = l.strip_prefix('[') {
            let inner = inner
                .strip_suffix(']')
                .ok_or_else(|| err("key line without closing ']'".into()))?;
            if inner.starts_with('-') {
                return Err(err("deleting a key ([-...]) is not supported".into()));
            }
            key = Some(parse_key(inner).ok_or_else(|| {
                err(format!(
                    "key {:?} is not a PassportForWork policy key",
                    crate::error::clip(inner)
                ))
            })?);
            continue;
        }
        let Some((scope, k)) = key else {
            return Err(err("value outside any key".into()));
        };
        let (name, value) = parse_value_line(l).map_err(|r| err(r.into()))?;
        let settings = match scope {
            GpoScope::Computer => &mut out.computer,
            GpoScope::User => &mut out.user,
        };
        assign(settings, scope, k, &name, value).map_err(err)?;
    }
    if !header_seen {
        return Err(PolicyError::RegFile {
            line: 1,
            reason: "empty file: no \"Windows Registry Editor Version 5.00\" header".into(),
        });
    }
    Ok(out)
}

fn parse_key(inner: &str) -> Option<(GpoScope, Key)> {
    let lower = inner.to_ascii_lowercase();
    let (scope, rest) = [
        ("hkey_local_machine\\", GpoScope::Computer),
        ("hklm\\", GpoScope::Computer),
        ("hkey_current_user\\", GpoScope::User),
        ("hkcu\\", GpoScope::User),
    ]
    .iter()
    .find_map(|(p, s)| lower.strip_prefix(p).map(|r| (*s, r)))?;
    let k = match rest.strip_prefix("software\\policies\\microsoft\\passportforwork")? {
        "" => Key::Root,
        "\\pincomplexity" => Key::Pin,
        "\\excludesecuritydevices" => Key::Exclude,
        _ => return None,
    };
    Some((scope, k))
}

/// `"Name"=dword:0000000a` -> (Name, Some(10)); `"Name"=-` -> (Name, None).
fn parse_value_line(l: &str) -> Result<(String, Option<u32>), &'static str> {
    let rest = l
        .strip_prefix('"')
        .ok_or("expected a value line \"Name\"=dword:XXXXXXXX")?;
    let end = rest.find('"').ok_or("value name without closing quote")?;
    let (name, rest) = (&rest[..end], &rest[end + 1..]);
    let data = rest
        .trim_start()
        .strip_prefix('=')
        .ok_or("expected '=' after the value name")?
        .trim();
    if data == "-" {
        return Ok((name.to_owned(), None));
    }
    let hex = data
        .strip_prefix("dword:")
        .ok_or("only dword values are used by these policies")?;
    if hex.is_empty() || hex.len() > 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("dword value must be 1 to 8 hexadecimal digits");
    }
    let v = u32::from_str_radix(hex, 16).map_err(|_| "bad dword")?;
    Ok((name.to_owned(), Some(v)))
}

fn assign(
    s: &mut GpoSettings,
    scope: GpoScope,
    key: Key,
    name: &str,
    v: Option<u32>,
) -> Result<(), String> {
    let flag = |v: Option<u32>| -> Result<Option<bool>, String> {
        match v {
            None => Ok(None),
            Some(0) => Ok(Some(false)),
            Some(1) => Ok(Some(true)),
            Some(x) => Err(format!("{name} must be 0 or 1, found {x}")),
        }
    };
    let ranged = |v: Option<u32>, max: u32| -> Result<Option<u32>, String> {
        match v {
            Some(x) if x > max => Err(format!("{name} must be 0..={max}, found {x}")),
            _ => Ok(v),
        }
    };
    let class = |v: Option<u32>| -> Result<Option<CharClassRule>, String> {
        v.map(|x| {
            CharClassRule::from_int(i64::from(x)).ok_or_else(|| {
                format!("{name} must be 0 (allowed), 1 (required) or 2 (not allowed), found {x}")
            })
        })
        .transpose()
    };
    let computer_only = |setting: &str| -> Result<(), String> {
        if scope == GpoScope::User {
            Err(format!(
                "{setting} is a computer setting (HKEY_LOCAL_MACHINE) only"
            ))
        } else {
            Ok(())
        }
    };
    let lname = name.to_ascii_lowercase();
    match (key, lname.as_str()) {
        (Key::Root, "enabled") => s.use_windows_hello_for_business = flag(v)?,
        (Key::Root, "usecertificateforonpremauth") => s.use_certificate_for_on_prem_auth = flag(v)?,
        (Key::Root, "requiresecuritydevice") => {
            computer_only("RequireSecurityDevice (Use a hardware security device)")?;
            s.use_hardware_security_device = flag(v)?;
        }
        (Key::Exclude, "tpm12") => {
            computer_only("ExcludeSecurityDevices\\TPM12")?;
            s.exclude_tpm12 = flag(v)?;
        }
        (Key::Pin, "minimumpinlength") => s.pin.min_length = v.map(i64::from),
        (Key::Pin, "maximumpinlength") => s.pin.max_length = v.map(i64::from),
        (Key::Pin, "uppercaseletters") => s.pin.uppercase = class(v)?,
        (Key::Pin, "lowercaseletters") => s.pin.lowercase = class(v)?,
        (Key::Pin, "specialcharacters") => s.pin.special = class(v)?,
        (Key::Pin, "digits") => s.pin.digits = class(v)?,
        (Key::Pin, "history") => s.pin.history = ranged(v, 50)?,
        (Key::Pin, "expiration") => s.pin.expiration_days = ranged(v, 730)?,
        _ => {
            return Err(format!(
                "{name:?} is not a Windows Hello for Business policy value under this key"
            ))
        }
    }
    Ok(())
}
