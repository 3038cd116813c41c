//! KEYCREDENTIALLINK_BLOB (MS-ADTS 2.2.20), the value of `msDS-KeyCredentialLink`: how a
//! directory records a user's Hello key, exported so AD-integrated tools can consume it.
//!
//! ```text
//! KEYCREDENTIALLINK_BLOB = Version (u32 LE, 0x00000200) || KEYCREDENTIALLINK_ENTRY*
//! KEYCREDENTIALLINK_ENTRY = Length (u16 LE, of Value) || Identifier (u8) || Value
//! ```
//! Entries are sorted by identifier. KeyID (0x01) is SHA-256 of the KeyMaterial value;
//! KeyHash (0x02) is SHA-256 of every entry after it, headers included.

use sha2::{Digest, Sha256};

use crate::FormatError;

/// The only version defined: 0x00000200.
pub const VERSION: u32 = 0x0000_0200;
const WHAT: &str = "KEYCREDENTIALLINK_BLOB";

/// `KeyUsage` values (entry 0x04).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum KeyUsage {
    /// Admin key (PIN-reset key).
    AdminKey = 0x00,
    /// Next Generation Credential: a Windows Hello user key.
    Ngc = 0x01,
    /// A FIDO security key.
    Fido = 0x07,
    /// File encryption key.
    Fek = 0x08,
}

/// `KeySource` values (entry 0x05).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum KeySource {
    /// On-premises Active Directory.
    Ad = 0x00,
    /// Azure Active Directory (the cloud directory).
    AzureAd = 0x01,
}

/// The fields of one key credential, from which the blob is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCredential {
    /// KeyMaterial (0x03): for NGC keys, a `BCRYPT_RSAPUBLIC_BLOB`.
    pub key_material: Vec<u8>,
    /// KeyUsage (0x04).
    pub usage: KeyUsage,
    /// KeySource (0x05).
    pub source: KeySource,
    /// DeviceId (0x06): the device GUID in its 16-byte binary form.
    pub device_id: [u8; 16],
    /// CustomKeyInformation flags (0x07): 0x01 attestation, 0x02 MFA not used.
    pub custom_flags: u8,
    /// KeyCreationTime (0x09) as a Windows FILETIME (100 ns since 1601-01-01).
    pub creation_time_filetime: i64,
}

impl KeyCredential {
    /// Encodes the blob: version, then KeyID, KeyHash and the remaining entries in id order.
    pub fn to_blob(&self) -> Vec<u8> {
        let mut tail = Vec::new();
        push_entry(&mut tail, 0x03, &self.key_material);
        push_entry(&mut tail, 0x04, &[self.usage as u8]);
        push_entry(&mut tail, 0x05, &[self.source as u8]);
        push_entry(&mut tail, 0x06, &self.device_id);
        push_entry(&mut tail, 0x07, &[0x01, self.custom_flags]);
        push_entry(&mut tail, 0x09, &self.creation_time_filetime.to_le_bytes());
        let key_id: [u8; 32] = Sha256::digest(&self.key_material).into();
        let mut blob = VERSION.to_le_bytes().to_vec();
        push_entry(&mut blob, 0x01, &key_id);
        let mut after_hash = Vec::new();
        after_hash.extend_from_slice(&tail);
        let key_hash: [u8; 32] = Sha256::digest(&after_hash).into();
        push_entry(&mut blob, 0x02, &key_hash);
        blob.extend_from_slice(&tail);
        blob
    }

    /// The directory string form (DN-Binary): `B:<hex length>:<HEX>:<owner DN>`.
    pub fn to_dn_binary(&self, owner_dn: &str) -> String {
        let hex: String = self.to_blob().iter().map(|b| format!("{b:02X}")).collect();
        format!("B:{}:{}:{}", hex.len(), hex, owner_dn)
    }
}

fn push_entry(out: &mut Vec<u8>, id: u8, value: &[u8]) {
    // Every value we write is far below 64 KiB (the largest is an RSA-4096 blob).
    let len = u16::try_from(value.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.push(id);
    out.extend_from_slice(value);
}

/// Splits a blob into its `(identifier, value)` entries, checking the version, the entry
/// order, that KeyID and KeyHash are right, and that no byte is left over.
pub fn parse_entries(blob: &[u8]) -> Result<Vec<(u8, Vec<u8>)>, FormatError> {
    let Some((version, mut rest)) = blob.split_first_chunk::<4>() else {
        return Err(FormatError::Truncated {
            what: WHAT,
            offset: blob.len(),
            needed: 4 - blob.len(),
        });
    };
    let version = u32::from_le_bytes(*version);
    if version != VERSION {
        return Err(FormatError::BadMagic {
            what: WHAT,
            found: version,
            expected: VERSION,
        });
    }
    let mut entries: Vec<(u8, Vec<u8>)> = Vec::new();
    // The bytes after the KeyHash entry, which that hash covers.
    let mut hash_tail = None;
    while !rest.is_empty() {
        let offset = blob.len() - rest.len();
        let Some((&[len_lo, len_hi, id], after_header)) = rest.split_first_chunk::<3>() else {
            return Err(FormatError::Truncated {
                what: WHAT,
                offset,
                needed: 3 - rest.len(),
            });
        };
        let len = usize::from(u16::from_le_bytes([len_lo, len_hi]));
        let Some((value, after_value)) = after_header.split_at_checked(len) else {
            return Err(FormatError::Truncated {
                what: WHAT,
                offset: blob.len(),
                needed: len - after_header.len(),
            });
        };
        if entries.last().is_some_and(|(prev, _)| *prev >= id) {
            return Err(FormatError::BadValue {
                what: WHAT,
                detail: format!("entry 0x{id:02x} at offset {offset} is out of order"),
            });
        }
        entries.push((id, value.to_vec()));
        rest = after_value;
        if id == 0x02 {
            hash_tail = Some(rest);
        }
    }
    let find = |id: u8| {
        entries
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, v)| v.as_slice())
    };
    if let (Some(key_id), Some(material)) = (find(0x01), find(0x03)) {
        if key_id != Sha256::digest(material).as_slice() {
            return Err(FormatError::BadValue {
                what: WHAT,
                detail: "KeyID is not SHA-256 of KeyMaterial".into(),
            });
        }
    }
    if let (Some(hash), Some(tail)) = (find(0x02), hash_tail) {
        if hash != Sha256::digest(tail).as_slice() {
            return Err(FormatError::BadValue {
                what: WHAT,
                detail: "KeyHash does not match the entries after it".into(),
            });
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> KeyCredential {
        KeyCredential {
            key_material: crate::bcrypt::RsaPublicBlob::new(&[1, 0, 1], &[0xab; 256]).to_bytes(),
            usage: KeyUsage::Ngc,
            source: KeySource::AzureAd,
            device_id: [7; 16],
            custom_flags: 0,
            creation_time_filetime: 133_000_000_000_000_000,
        }
    }

    #[test]
    fn blob_round_trips_with_valid_hashes() {
        let blob = sample().to_blob();
        assert_eq!(&blob[..4], &[0x00, 0x02, 0x00, 0x00]);
        let entries = parse_entries(&blob).unwrap();
        let ids: Vec<u8> = entries.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, vec![1, 2, 3, 4, 5, 6, 7, 9]);
        assert_eq!(entries[3].1, vec![0x01]);
    }

    #[test]
    fn tampering_is_detected() {
        let mut blob = sample().to_blob();
        let last = blob.len() - 1;
        blob[last] ^= 1;
        assert!(matches!(
            parse_entries(&blob),
            Err(FormatError::BadValue { .. })
        ));
        let mut short = sample().to_blob();
        short.pop();
        assert!(matches!(
            parse_entries(&short),
            Err(FormatError::Truncated { .. })
        ));
    }

    #[test]
    fn short_version_and_entry_headers_are_truncated() {
        let blob = sample().to_blob();
        for len in 0..4 {
            assert!(matches!(
                parse_entries(&blob[..len]),
                Err(FormatError::Truncated { offset, needed, .. }) if offset == len && needed == 4 - len
            ));
        }
        // The version and two bytes of the first entry's three-byte header.
        assert!(matches!(
            parse_entries(&blob[..6]),
            Err(FormatError::Truncated {
                offset: 4,
                needed: 1,
                ..
            })
        ));
        // A whole header whose value is cut: KeyID declares 32 bytes, 5 are present.
        assert!(matches!(
            parse_entries(&blob[..12]),
            Err(FormatError::Truncated {
                offset: 12,
                needed: 27,
                ..
            })
        ));
        // Just the version: no entries, nothing to check.
        assert_eq!(parse_entries(&blob[..4]).unwrap(), Vec::new());
    }

    #[test]
    fn dn_binary_form() {
        let s = sample().to_dn_binary("CN=alice,DC=example");
        let parts: Vec<&str> = s.splitn(4, ':').collect();
        assert_eq!(parts[0], "B");
        assert_eq!(parts[1].parse::<usize>().unwrap(), parts[2].len());
        assert_eq!(parts[3], "CN=alice,DC=example");
    }
}
