//! The `{TenantId}` node name.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::PolicyError;

/// A tenant id as the PassportForWork CSP names it.
///
/// The seed: "***TenantId*** — A globally unique identifier (GUID), without curly braces
/// ( { , } ), that is used as part of Windows Hello for Business provisioning and
/// management."
///
/// Parsing accepts exactly the 36-character `8-4-4-4-12` hexadecimal form, in either case;
/// two ids that differ only in case are equal. The canonical text form is lower case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId([u8; 16]);

impl TenantId {
    /// Build a tenant id from its 16 bytes (in the order they are written).
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The 16 bytes, in the order they are written.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Whether `s` has the shape of a GUID (36 characters, hyphens at 8, 13, 18, 23), whether
    /// or not its digits are hexadecimal. Used to tell a (bad) tenant id from an unknown node.
    pub(crate) fn looks_like_guid(s: &str) -> bool {
        let b = s.trim_start_matches('{').trim_end_matches('}').as_bytes();
        b.len() == 36 && [8, 13, 18, 23].iter().all(|&i| b.get(i) == Some(&b'-'))
    }
}

impl FromStr for TenantId {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || PolicyError::InvalidTenantId {
            value: crate::error::clip(s),
        };
        let b = s.as_bytes();
        if b.len() != 36 {
            return Err(bad());
        }
        let mut out = [0u8; 16];
        let mut nibbles = 0usize;
        for (i, &c) in b.iter().enumerate() {
            if [8, 13, 18, 23].contains(&i) {
                if c != b'-' {
                    return Err(bad());
                }
                continue;
            }
            let v = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => return Err(bad()),
            };
            // 32 hex digits fill the 16 bytes exactly; more cannot fit in 36 characters.
            let byte = out.get_mut(nibbles / 2).ok_or_else(bad)?;
            *byte = (*byte << 4) | v;
            nibbles += 1;
        }
        Ok(Self(out))
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, byte) in self.0.iter().enumerate() {
            if [4, 6, 8, 10].contains(&i) {
                f.write_str("-")?;
            }
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl Serialize for TenantId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TenantId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_lower_case() {
        let t: TenantId = "72F988BF-86F1-41AF-91AB-2D7CD011DB47"
            .parse()
            .expect("valid");
        assert_eq!(t.to_string(), "72f988bf-86f1-41af-91ab-2d7cd011db47");
        let u: TenantId = "72f988bf-86f1-41af-91ab-2d7cd011db47"
            .parse()
            .expect("valid");
        assert_eq!(t, u);
    }

    #[test]
    fn rejects_braces_bad_digits_and_shapes() {
        for bad in [
            "{72f988bf-86f1-41af-91ab-2d7cd011db47}",
            "5NEMDU42-45CC-8CBL-8BPF-D7092646325F",
            "72f988bf86f141af91ab2d7cd011db47",
            "72f988bf-86f1-41af-91ab-2d7cd011db4",
            "72f988bf-86f1-41af-91ab+2d7cd011db47",
            "",
        ] {
            let err = bad.parse::<TenantId>().expect_err(bad);
            assert_eq!(err.code(), "LK-POL-001");
        }
        assert!(TenantId::looks_like_guid(
            "5NEMDU42-45CC-8CBL-8BPF-D7092646325F"
        ));
        assert!(!TenantId::looks_like_guid("Biometrics"));
    }
}
