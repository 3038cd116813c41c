//! `BCRYPT_RSAKEY_BLOB` with magic `BCRYPT_RSAPUBLIC_MAGIC`: the public-key format of Windows
//! Hello (`kngc`) keys and the KeyMaterial of a KEYCREDENTIALLINK_BLOB.
//!
//! ```text
//! typedef struct _BCRYPT_RSAKEY_BLOB {
//!   ULONG Magic;        // 0x31415352 "RSA1" (little-endian)
//!   ULONG BitLength;
//!   ULONG cbPublicExp;
//!   ULONG cbModulus;
//!   ULONG cbPrime1;     // 0 for a public blob
//!   ULONG cbPrime2;     // 0 for a public blob
//! } BCRYPT_RSAKEY_BLOB;
//! // followed by PublicExponent[cbPublicExp] || Modulus[cbModulus], both big-endian
//! ```

use sha2::{Digest, Sha256};

use crate::FormatError;

/// `BCRYPT_RSAPUBLIC_MAGIC`, "RSA1" read as a little-endian u32.
pub const RSAPUBLIC_MAGIC: u32 = 0x3141_5352;
const HEADER_LEN: usize = 24;
const WHAT: &str = "BCRYPT_RSAPUBLIC_BLOB";

/// An RSA public key as carried in a `BCRYPT_RSAPUBLIC_BLOB`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaPublicBlob {
    /// Public exponent, big-endian, without leading zero bytes.
    pub exponent: Vec<u8>,
    /// Modulus, big-endian, without leading zero bytes.
    pub modulus: Vec<u8>,
}

impl RsaPublicBlob {
    /// Builds a blob from big-endian exponent and modulus (leading zero bytes are dropped).
    pub fn new(exponent: &[u8], modulus: &[u8]) -> Self {
        RsaPublicBlob {
            exponent: strip_leading_zeros(exponent).to_vec(),
            modulus: strip_leading_zeros(modulus).to_vec(),
        }
    }

    /// The key size in bits (bit length of the modulus).
    pub fn bit_length(&self) -> u32 {
        match self.modulus.first() {
            None => 0,
            Some(first) => {
                let len = u32::try_from(self.modulus.len()).unwrap_or(u32::MAX / 8);
                len * 8 - first.leading_zeros()
            }
        }
    }

    /// Encodes the blob.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.exponent.len() + self.modulus.len());
        // Lengths are bounded by `decode` and by the key sizes we generate; saturate rather
        // than wrap if a caller builds an absurd blob.
        let len32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        for field in [
            RSAPUBLIC_MAGIC,
            self.bit_length(),
            len32(self.exponent.len()),
            len32(self.modulus.len()),
            0,
            0,
        ] {
            out.extend_from_slice(&field.to_le_bytes());
        }
        out.extend_from_slice(&self.exponent);
        out.extend_from_slice(&self.modulus);
        out
    }

    /// Decodes a public blob, refusing private blobs, inconsistent lengths and trailing bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        let Some((header, body)) = bytes.split_first_chunk::<HEADER_LEN>() else {
            return Err(FormatError::Truncated {
                what: WHAT,
                offset: bytes.len(),
                needed: HEADER_LEN - bytes.len(),
            });
        };
        let [magic, bit_length, exp_len, mod_len, prime1, prime2] = header_words(header);
        if magic != RSAPUBLIC_MAGIC {
            return Err(FormatError::BadMagic {
                what: WHAT,
                found: magic,
                expected: RSAPUBLIC_MAGIC,
            });
        }
        if prime1 != 0 || prime2 != 0 {
            return Err(FormatError::BadValue {
                what: WHAT,
                detail: "cbPrime1/cbPrime2 must be 0 in a public blob".into(),
            });
        }
        let exp_len = exp_len as usize;
        let mod_len = mod_len as usize;
        let needed = exp_len.saturating_add(mod_len);
        if body.len() < needed {
            return Err(FormatError::Truncated {
                what: WHAT,
                offset: bytes.len(),
                needed: needed - body.len(),
            });
        }
        if body.len() > needed {
            return Err(FormatError::TrailingBytes {
                what: WHAT,
                offset: HEADER_LEN + needed,
                extra: body.len() - needed,
            });
        }
        // `body.len() == exp_len + mod_len` here, so the split always succeeds.
        let Some((exponent, modulus)) = body.split_at_checked(exp_len) else {
            return Err(FormatError::Truncated {
                what: WHAT,
                offset: bytes.len(),
                needed: exp_len - body.len(),
            });
        };
        let blob = RsaPublicBlob {
            exponent: exponent.to_vec(),
            modulus: modulus.to_vec(),
        };
        if blob.exponent.is_empty() || blob.modulus.is_empty() {
            return Err(FormatError::BadValue {
                what: WHAT,
                detail: "empty exponent or modulus".into(),
            });
        }
        if blob.bit_length() != bit_length {
            return Err(FormatError::BadValue {
                what: WHAT,
                detail: format!(
                    "BitLength {} does not match the modulus ({} bits)",
                    bit_length,
                    blob.bit_length()
                ),
            });
        }
        Ok(blob)
    }

    /// The key id of this key: SHA-256 of the encoded blob (the KeyCredentialLink KeyID rule).
    pub fn key_id(&self) -> [u8; 32] {
        Sha256::digest(self.to_bytes()).into()
    }
}

/// The six little-endian `ULONG`s of the header, in order.
fn header_words(header: &[u8; HEADER_LEN]) -> [u32; 6] {
    let mut words = [0u32; 6];
    for (word, chunk) in words.iter_mut().zip(header.chunks_exact(4)) {
        let mut le = [0u8; 4];
        le.copy_from_slice(chunk);
        *word = u32::from_le_bytes(le);
    }
    words
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let mut rest = bytes;
    while let Some((0, tail)) = rest.split_first() {
        rest = tail;
    }
    rest
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> RsaPublicBlob {
        let mut modulus = vec![0xc5u8; 256];
        modulus[255] = 0x01;
        RsaPublicBlob::new(&[0x01, 0x00, 0x01], &modulus)
    }

    #[test]
    fn encodes_the_documented_layout() {
        let bytes = sample().to_bytes();
        assert_eq!(&bytes[0..4], b"RSA1");
        assert_eq!(&bytes[4..8], &2048u32.to_le_bytes());
        assert_eq!(&bytes[8..12], &3u32.to_le_bytes());
        assert_eq!(&bytes[12..16], &256u32.to_le_bytes());
        assert_eq!(&bytes[16..24], &[0u8; 8]);
        assert_eq!(&bytes[24..27], &[1, 0, 1]);
        assert_eq!(bytes.len(), 24 + 3 + 256);
        assert_eq!(RsaPublicBlob::from_bytes(&bytes).unwrap(), sample());
    }

    #[test]
    fn leading_zeros_are_dropped() {
        let blob = RsaPublicBlob::new(&[0, 0, 1, 0, 1], &[0, 0x80, 0]);
        assert_eq!(blob.exponent, vec![1, 0, 1]);
        assert_eq!(blob.bit_length(), 16);
    }

    #[test]
    fn rejects_bad_blobs() {
        let good = sample().to_bytes();
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(matches!(
            RsaPublicBlob::from_bytes(&trailing),
            Err(FormatError::TrailingBytes { extra: 1, .. })
        ));
        assert!(matches!(
            RsaPublicBlob::from_bytes(&good[..good.len() - 1]),
            Err(FormatError::Truncated { needed: 1, .. })
        ));
        let mut magic = good.clone();
        magic[0] = b'X';
        assert!(matches!(
            RsaPublicBlob::from_bytes(&magic),
            Err(FormatError::BadMagic { .. })
        ));
        let mut private = good.clone();
        private[16] = 1;
        assert!(matches!(
            RsaPublicBlob::from_bytes(&private),
            Err(FormatError::BadValue { .. })
        ));
        let mut bits = good;
        bits[5] = 0x09;
        assert!(matches!(
            RsaPublicBlob::from_bytes(&bits),
            Err(FormatError::BadValue { .. })
        ));
        assert!(RsaPublicBlob::from_bytes(&[]).is_err());
    }

    #[test]
    fn short_headers_and_bodies_are_truncated() {
        let good = sample().to_bytes();
        for len in [0, 1, 4, HEADER_LEN - 1] {
            assert!(
                matches!(
                    RsaPublicBlob::from_bytes(&good[..len]),
                    Err(FormatError::Truncated { needed, .. }) if needed == HEADER_LEN - len
                ),
                "header of {len} bytes"
            );
        }
        // A header that declares more exponent bytes than the blob carries.
        let mut long_exp = good[..HEADER_LEN].to_vec();
        long_exp[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            RsaPublicBlob::from_bytes(&long_exp),
            Err(FormatError::Truncated { .. })
        ));
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = RsaPublicBlob::from_bytes(&bytes);
        }
    }
}
