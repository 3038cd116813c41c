//! Authenticator data (WebAuthn Level 2, 6.1), parsed in full; trailing bytes refused.
//!
//! ```text
//! rpIdHash (32) | flags (1) | signCount (4, big-endian)
//! [ attestedCredentialData: aaguid (16) | credentialIdLength (2, BE) | credentialId
//!                           | credentialPublicKey (COSE_Key, CBOR) ]   -- if flag AT
//! [ extensions (CBOR map) ]                                            -- if flag ED
//! ```

use ciborium::value::Value;

use crate::cose::{read_cbor_item, CoseKey};
use crate::error::AttestError;
use crate::options::MAX_INPUT_LEN;

/// Longest credential ID WebAuthn allows.
const MAX_CREDENTIAL_ID_LEN: usize = 1023;

/// The flags byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flags(pub u8);

impl Flags {
    /// UP: user present.
    pub fn user_present(self) -> bool {
        self.0 & 0x01 != 0
    }
    /// UV: user verified.
    pub fn user_verified(self) -> bool {
        self.0 & 0x04 != 0
    }
    /// BE: backup eligible.
    pub fn backup_eligible(self) -> bool {
        self.0 & 0x08 != 0
    }
    /// BS: backed up.
    pub fn backed_up(self) -> bool {
        self.0 & 0x10 != 0
    }
    /// AT: attested credential data included.
    pub fn attested_data(self) -> bool {
        self.0 & 0x40 != 0
    }
    /// ED: extension data included.
    pub fn extension_data(self) -> bool {
        self.0 & 0x80 != 0
    }
}

/// Attested credential data.
#[derive(Debug, Clone)]
pub struct AttestedCredential {
    /// The authenticator's AAGUID.
    pub aaguid: [u8; 16],
    /// The credential ID.
    pub credential_id: Vec<u8>,
    /// The credential public key, decoded.
    pub public_key: CoseKey,
    /// The credential public key exactly as encoded (to store and to hand back later).
    pub public_key_cose: Vec<u8>,
}

/// Parsed authenticator data.
#[derive(Debug, Clone)]
pub struct AuthenticatorData {
    /// SHA-256 of the RP ID.
    pub rp_id_hash: [u8; 32],
    /// The flags.
    pub flags: Flags,
    /// The signature counter.
    pub sign_count: u32,
    /// Present when flag AT is set.
    pub attested: Option<AttestedCredential>,
    /// Present when flag ED is set.
    pub extensions: Option<Value>,
}

fn malformed(offset: usize, detail: &'static str) -> AttestError {
    AttestError::AuthenticatorDataMalformed { offset, detail }
}

fn take<'a>(data: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8], AttestError> {
    let end = pos.checked_add(n).ok_or(malformed(*pos, "truncated"))?;
    let out = data.get(*pos..end).ok_or(malformed(*pos, "truncated"))?;
    *pos = end;
    Ok(out)
}

/// [`take`] for a fixed number of bytes.
fn take_array<const N: usize>(data: &[u8], pos: &mut usize) -> Result<[u8; N], AttestError> {
    let start = *pos;
    take(data, pos, N)?
        .try_into()
        .map_err(|_| malformed(start, "truncated"))
}

/// The bytes from `pos` to the end.
fn rest_from(data: &[u8], pos: usize) -> Result<&[u8], AttestError> {
    data.get(pos..).ok_or(malformed(pos, "truncated"))
}

impl AuthenticatorData {
    /// Parse authenticator data; every byte must be accounted for.
    pub fn parse(data: &[u8]) -> Result<Self, AttestError> {
        if data.len() > MAX_INPUT_LEN {
            return Err(AttestError::LimitExceeded {
                what: "authenticator data",
                limit: MAX_INPUT_LEN,
            });
        }
        let mut pos = 0;
        let rp_id_hash: [u8; 32] = take_array(data, &mut pos)?;
        let [flags] = take_array(data, &mut pos)?;
        let flags = Flags(flags);
        let sign_count = u32::from_be_bytes(take_array(data, &mut pos)?);
        if flags.backed_up() && !flags.backup_eligible() {
            return Err(malformed(32, "flag BS set without BE"));
        }
        let attested = if flags.attested_data() {
            let aaguid: [u8; 16] = take_array(data, &mut pos)?;
            let id_len = usize::from(u16::from_be_bytes(take_array(data, &mut pos)?));
            if id_len > MAX_CREDENTIAL_ID_LEN {
                return Err(malformed(pos - 2, "credential ID longer than 1023 bytes"));
            }
            let credential_id = take(data, &mut pos, id_len)?.to_vec();
            let key_start = pos;
            let mut rest = rest_from(data, pos)?;
            let value = read_cbor_item(&mut rest)
                .map_err(|_| malformed(key_start, "credential public key is not CBOR"))?;
            pos = data.len() - rest.len();
            let public_key = CoseKey::from_value(&value)?;
            Some(AttestedCredential {
                aaguid,
                credential_id,
                public_key,
                public_key_cose: data
                    .get(key_start..pos)
                    .ok_or(malformed(key_start, "truncated"))?
                    .to_vec(),
            })
        } else {
            None
        };
        let extensions = if flags.extension_data() {
            let start = pos;
            let mut rest = rest_from(data, pos)?;
            let value = read_cbor_item(&mut rest)
                .map_err(|_| malformed(start, "extensions are not CBOR"))?;
            if !matches!(value, Value::Map(_)) {
                return Err(malformed(start, "extensions are not a CBOR map"));
            }
            pos = data.len() - rest.len();
            Some(value)
        } else {
            None
        };
        if pos != data.len() {
            return Err(malformed(pos, "trailing bytes"));
        }
        Ok(Self {
            rp_id_hash,
            flags,
            sign_count,
            attested,
            extensions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_assertion_data() {
        let mut d = vec![7u8; 32];
        d.push(0x05);
        d.extend_from_slice(&9u32.to_be_bytes());
        let a = AuthenticatorData::parse(&d).unwrap();
        assert!(a.flags.user_present() && a.flags.user_verified());
        assert_eq!(a.sign_count, 9);
        d.push(0);
        assert_eq!(
            AuthenticatorData::parse(&d).unwrap_err(),
            malformed(37, "trailing bytes")
        );
        assert_eq!(
            AuthenticatorData::parse(&d[..20]).unwrap_err().code(),
            "LK-ATT-008"
        );
    }

    #[test]
    fn at_flag_without_data_is_truncated() {
        let mut d = vec![0u8; 32];
        d.push(0x41);
        d.extend_from_slice(&[0, 0, 0, 0]);
        assert!(AuthenticatorData::parse(&d).is_err());
    }

    #[test]
    fn every_cut_is_truncated_at_the_field_it_cuts() {
        // rpIdHash, flags (AT), signCount, aaguid, a credential id length of 4, the id.
        let mut d = vec![7u8; 32];
        d.push(0x41);
        d.extend_from_slice(&1u32.to_be_bytes());
        d.extend_from_slice(&[9u8; 16]);
        d.extend_from_slice(&4u16.to_be_bytes());
        d.extend_from_slice(&[1, 2, 3, 4]);
        // (length of the cut data, offset of the field that no longer fits)
        for (len, offset) in [
            (0, 0),
            (31, 0),
            (32, 32),
            (33, 33),
            (36, 33),
            (37, 37),
            (52, 37),
            (53, 53),
            (54, 53),
            (55, 55),
            (58, 55),
        ] {
            assert_eq!(
                AuthenticatorData::parse(&d[..len]).unwrap_err(),
                malformed(offset, "truncated"),
                "cut at {len}"
            );
        }
        // Everything up to the public key is there, but the key is missing.
        assert_eq!(
            AuthenticatorData::parse(&d).unwrap_err(),
            malformed(59, "credential public key is not CBOR")
        );
    }
}
