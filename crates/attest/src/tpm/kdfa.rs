//! KDFa (TPM 2.0 Library Part 1, 11.4.10.2): SP 800-108 counter-mode KDF with HMAC;
//! and KDFe (11.4.10.3), the SP 800-56A concatenation KDF for ECDH.
//!
//! ```text
//! KDFa(hashAlg, key, label, contextU, contextV, bits) :=
//!     HMAC_hashAlg(key, [i]_32 || label || 0x00 || contextU || contextV || [bits]_32)
//!     for i = 1, 2, ..., concatenated and truncated to bits
//! ```
//!
//! ```text
//! KDFe(hashAlg, Z, label, partyUInfo, partyVInfo, bits) :=
//!     H_hashAlg([i]_32 || Z || label || 0x00 || partyUInfo || partyVInfo)
//!     for i = 1, 2, ..., concatenated and truncated to bits
//! ```
//!
//! `label` is given without its terminating zero octet, which this function appends.
//! Only whole octets are produced (`bits` a multiple of 8), which is all credential
//! protection needs.

use hmac::{Mac, SimpleHmac};

use super::{ALG_SHA1, ALG_SHA256, ALG_SHA384, ALG_SHA512};

/// The largest output this crate asks for (a SHA-512 HMAC key).
const MAX_BYTES: usize = 64;

fn prf<D>(key: &[u8], parts: &[&[u8]]) -> Vec<u8>
where
    D: sha2::Digest + sha2::digest::core_api::BlockSizeUser,
{
    // SimpleHmac accepts keys of any length, so new_from_slice cannot fail.
    let Ok(mut mac) = SimpleHmac::<D>::new_from_slice(key) else {
        return Vec::new();
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

/// HMAC with TPM hash `alg` over the concatenation of `parts`; `None` for an
/// unsupported hash.
pub(crate) fn hmac(alg: u16, key: &[u8], parts: &[&[u8]]) -> Option<Vec<u8>> {
    Some(match alg {
        ALG_SHA1 => prf::<sha1::Sha1>(key, parts),
        ALG_SHA256 => prf::<sha2::Sha256>(key, parts),
        ALG_SHA384 => prf::<sha2::Sha384>(key, parts),
        ALG_SHA512 => prf::<sha2::Sha512>(key, parts),
        _ => return None,
    })
}

/// KDFa with TPM hash `alg`, producing `bits / 8` octets; `None` for an unsupported hash
/// or for `bits` that is not a multiple of 8 or above 512.
pub(crate) fn kdfa(
    alg: u16,
    key: &[u8],
    label: &[u8],
    context_u: &[u8],
    context_v: &[u8],
    bits: u32,
) -> Option<Vec<u8>> {
    let bytes = usize::try_from(bits / 8).ok()?;
    if !bits.is_multiple_of(8) || bytes > MAX_BYTES {
        return None;
    }
    let mut out = Vec::with_capacity(bytes + MAX_BYTES);
    let mut counter: u32 = 1;
    while out.len() < bytes {
        let block = hmac(
            alg,
            key,
            &[
                &counter.to_be_bytes(),
                label,
                &[0],
                context_u,
                context_v,
                &bits.to_be_bytes(),
            ],
        )?;
        out.extend_from_slice(&block);
        counter = counter.checked_add(1)?;
    }
    out.truncate(bytes);
    Some(out)
}

/// KDFe with TPM hash `alg`, producing `bits / 8` octets; `None` as for [`kdfa`].
pub(crate) fn kdfe(
    alg: u16,
    z: &[u8],
    label: &[u8],
    party_u: &[u8],
    party_v: &[u8],
    bits: u32,
) -> Option<Vec<u8>> {
    let bytes = usize::try_from(bits / 8).ok()?;
    if !bits.is_multiple_of(8) || bytes > MAX_BYTES {
        return None;
    }
    let mut out = Vec::with_capacity(bytes + MAX_BYTES);
    let mut counter: u32 = 1;
    while out.len() < bytes {
        let mut input = Vec::new();
        for part in [&counter.to_be_bytes()[..], z, label, &[0], party_u, party_v] {
            input.extend_from_slice(part);
        }
        out.extend(super::hash(alg, &input)?);
        counter = counter.checked_add(1)?;
    }
    out.truncate(bytes);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An independent computation: one HMAC-SHA-256 block written out by hand.
    #[test]
    fn one_block_is_the_hmac_of_the_spec_layout() {
        let key = b"seed";
        let mut msg = vec![0, 0, 0, 1];
        msg.extend_from_slice(b"STORAGE\0");
        msg.extend_from_slice(b"name");
        msg.extend_from_slice(&128u32.to_be_bytes());
        let expected = prf::<sha2::Sha256>(key, &[&msg]);
        let got = kdfa(ALG_SHA256, key, b"STORAGE", b"name", b"", 128).unwrap();
        assert_eq!(got, expected[..16]);
    }

    #[test]
    fn kdfe_is_the_hash_of_the_spec_layout() {
        let mut msg = vec![0, 0, 0, 1];
        msg.extend_from_slice(b"ZZIDENTITY\0UV");
        let expected = super::super::hash(ALG_SHA256, &msg).unwrap();
        assert_eq!(
            kdfe(ALG_SHA256, b"ZZ", b"IDENTITY", b"U", b"V", 256).unwrap(),
            expected
        );
        assert!(kdfe(ALG_SHA256, b"Z", b"L", b"", b"", 7).is_none());
    }

    #[test]
    fn two_blocks_use_counter_two_and_refuse_odd_sizes() {
        let got = kdfa(ALG_SHA1, b"k", b"L", b"", b"", 256).unwrap();
        assert_eq!(got.len(), 32);
        let second = prf::<sha1::Sha1>(b"k", &[&2u32.to_be_bytes(), b"L\0", &256u32.to_be_bytes()]);
        assert_eq!(got[20..], second[..12]);
        assert!(kdfa(ALG_SHA256, b"k", b"L", b"", b"", 12).is_none());
        assert!(kdfa(ALG_SHA256, b"k", b"L", b"", b"", 1024).is_none());
        assert!(kdfa(0x0099, b"k", b"L", b"", b"", 128).is_none());
    }
}
