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
    let end = pos
        .checked_add(n)
        .filter(|&e| e <= data.len())
        .ok_or(malformed(*pos, "truncated"))?;
    let out = &data[*pos..end];
    *pos = end;
    Ok(out)
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
        let mut rp_id_hash = [0u8; 32];
        rp_id_hash.copy_from_slice(take(data, &mut pos, 32)?);
        let flags = Flags(take(data, &mut pos, 1)?[0]);
        let mut count = [0u8; 4];
        count.copy_from_slice(take(data, &mut pos, 4)?);
        let sign_count = u32::from_be_bytes(count);
        if flags.backed_up() && !flags.backup_eligible() {
            return Err(malformed(32, "flag BS set without BE"));
        }
        let attested = if flags.attested_data() {
            let mut aaguid = [0u8; 16];
            aaguid.copy_from_slice(take(data, &mut pos, 16)?);
            let len_bytes = take(data, &mut pos, 2)?;
            let id_len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
            if id_len > MAX_CREDENTIAL_ID_LEN {
                return Err(malformed(pos - 2, "credential ID longer than 1023 bytes"));
            }
            let credential_id = take(data, &mut pos, id_len)?.to_vec();
            let key_start = pos;
            let mut rest = &data[pos..];
            let value = read_cbor_item(&mut rest)
                .map_err(|_| malformed(key_start, "credential public key is not CBOR"))?;
            pos = data.len() - rest.len();
            let public_key = CoseKey::from_value(&value)?;
            Some(AttestedCredential {
                aaguid,
                credential_id,
                public_key,
                public_key_cose: data[key_start..pos].to_vec(),
            })
        } else {
            None
        };
        let extensions = if flags.extension_data() {
            let start = pos;
            let mut rest = &data[pos..];
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
}
