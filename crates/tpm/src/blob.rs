//! A TPM key as stored on disk: the TPM-wrapped private part (TPM2B_PRIVATE) and the
//! public area (TPMT_PUBLIC), with strict parsing.

use sha2::{Digest as _, Sha256};
use tss_esapi::interface_types::algorithm::HashingAlgorithm;
use tss_esapi::structures::{Private, Public, PublicBuffer};
use tss_esapi::traits::{Marshall, UnMarshall};

use crate::error::{from_tss, TpmError};

/// The largest marshalled TPM2B_PRIVATE or TPMT_PUBLIC accepted (an RSA-2048 key's are
/// about 900 and 280 bytes; the TPM's own limits are below 1.5 KiB).
pub const MAX_BLOB_LEN: usize = 4096;

/// TPM_ALG_SHA256, the name algorithm of every key this crate makes.
const ALG_SHA256: u16 = 0x000b;

/// A key made by a TPM under a parent: useless without that TPM (the private part is
/// encrypted and integrity-protected with a key derived from the parent, which never
/// leaves the TPM).
#[derive(Clone, PartialEq, Eq)]
pub struct KeyBlob {
    pub(crate) private: Private,
    pub(crate) public: Public,
}

impl std::fmt::Debug for KeyBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyBlob")
            .field("private_len", &self.private.value().len())
            .field("name", &hex(&self.name().unwrap_or_default()))
            .finish()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The public half of an RSA key as big-endian integers (for a BCRYPT_RSAPUBLIC_BLOB).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaPublicKey {
    /// The modulus, big-endian, 256 bytes for RSA-2048.
    pub modulus: Vec<u8>,
    /// The public exponent, big-endian, without leading zero bytes (65537 = 01 00 01).
    pub exponent: Vec<u8>,
}

impl KeyBlob {
    /// Parse the stored form: `private` is a marshalled TPM2B_PRIVATE (2-byte big-endian
    /// size, then that many bytes), `public` a marshalled TPMT_PUBLIC. Both must be exactly
    /// one structure, with nothing after it. Checks the form only: whether this TPM can
    /// load the key is known when it is used ([`TpmError::NotThisTpm`]).
    pub fn from_bytes(private: &[u8], public: &[u8]) -> Result<Self, TpmError> {
        let private = Private::try_from(tpm2b_contents(private, "TPM2B_PRIVATE")?.to_vec())
            .map_err(|e| invalid("TPM2B_PRIVATE", e.to_string()))?;
        if public.len() > MAX_BLOB_LEN {
            return Err(invalid("TPMT_PUBLIC", format!("{} bytes", public.len())));
        }
        let parsed =
            Public::unmarshall(public).map_err(|e| invalid("TPMT_PUBLIC", e.to_string()))?;
        // Unmarshalling stops at the end of the structure: marshalling again must give
        // the input back, or it had trailing or non-canonical bytes.
        let again = parsed
            .marshall()
            .map_err(|e| invalid("TPMT_PUBLIC", e.to_string()))?;
        if again != public {
            return Err(invalid(
                "TPMT_PUBLIC",
                "trailing or non-canonical bytes".to_string(),
            ));
        }
        Ok(KeyBlob {
            private,
            public: parsed,
        })
    }

    /// The wrapped private part as a marshalled TPM2B_PRIVATE.
    pub fn private_bytes(&self) -> Vec<u8> {
        tpm2b(self.private.value())
    }

    /// The public area as a marshalled TPMT_PUBLIC (what a name is computed over, and what
    /// the service's verifier parses).
    pub fn public_area(&self) -> Result<Vec<u8>, TpmError> {
        self.public
            .marshall()
            .map_err(|e| from_tss("marshal TPMT_PUBLIC", e))
    }

    /// The public area as a marshalled TPM2B_PUBLIC (the form tpm2-tools files use).
    pub fn public_tpm2b(&self) -> Result<Vec<u8>, TpmError> {
        PublicBuffer::try_from(self.public.clone())
            .and_then(|b| b.marshall())
            .map_err(|e| from_tss("marshal TPM2B_PUBLIC", e))
    }

    /// The TPM name: nameAlg (TPM_ALG_SHA256) || SHA-256(TPMT_PUBLIC).
    pub fn name(&self) -> Result<Vec<u8>, TpmError> {
        if self.public.name_hashing_algorithm() != HashingAlgorithm::Sha256 {
            return Err(TpmError::UnexpectedObject {
                detail: "name algorithm is not SHA-256",
            });
        }
        let mut name = ALG_SHA256.to_be_bytes().to_vec();
        name.extend(Sha256::digest(self.public_area()?));
        Ok(name)
    }

    /// The RSA public key.
    pub fn rsa_public(&self) -> Result<RsaPublicKey, TpmError> {
        rsa_public(&self.public)
    }
}

/// The RSA public key in a public area.
pub(crate) fn rsa_public(public: &Public) -> Result<RsaPublicKey, TpmError> {
    let Public::Rsa {
        parameters, unique, ..
    } = public
    else {
        return Err(TpmError::UnexpectedObject {
            detail: "not an RSA key",
        });
    };
    // An exponent of 0 in a TPM public area means the default, 65537.
    let e = match parameters.exponent().value() {
        0 => 65537,
        e => e,
    };
    let exponent: Vec<u8> = e
        .to_be_bytes()
        .into_iter()
        .skip_while(|b| *b == 0)
        .collect();
    Ok(RsaPublicKey {
        modulus: unique.value().to_vec(),
        exponent,
    })
}

fn invalid(what: &'static str, detail: String) -> TpmError {
    TpmError::InvalidBlob { what, detail }
}

/// A TPM2B: 2-byte big-endian size, then the bytes.
pub(crate) fn tpm2b(contents: &[u8]) -> Vec<u8> {
    let len = u16::try_from(contents.len()).unwrap_or(u16::MAX);
    let mut out = len.to_be_bytes().to_vec();
    out.extend(contents.iter().take(usize::from(len)));
    out
}

/// The contents of a marshalled TPM2B whose size field covers exactly the rest.
pub(crate) fn tpm2b_contents<'a>(
    bytes: &'a [u8],
    what: &'static str,
) -> Result<&'a [u8], TpmError> {
    if bytes.len() > MAX_BLOB_LEN {
        return Err(invalid(what, format!("{} bytes", bytes.len())));
    }
    let Some((size, rest)) = bytes.split_first_chunk::<2>() else {
        return Err(invalid(what, "shorter than its size field".to_string()));
    };
    let size = usize::from(u16::from_be_bytes(*size));
    if size != rest.len() {
        return Err(invalid(
            what,
            format!("size field {size}, {} bytes follow", rest.len()),
        ));
    }
    Ok(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tpm2b_round_trip_and_strict_sizes() {
        let b = tpm2b(b"abc");
        assert_eq!(b, [0, 3, b'a', b'b', b'c']);
        assert_eq!(tpm2b_contents(&b, "x").unwrap(), b"abc");
        for bad in [&[0u8][..], &[0, 4, 1, 2, 3], &[0, 2, 1, 2, 3]] {
            assert_eq!(tpm2b_contents(bad, "x").unwrap_err().code(), "LK-TPM-006");
        }
        assert_eq!(
            tpm2b_contents(&vec![0; MAX_BLOB_LEN + 1], "x")
                .unwrap_err()
                .code(),
            "LK-TPM-006"
        );
    }

    #[test]
    fn public_area_must_be_canonical() {
        let public = crate::templates::signing_key(false).unwrap();
        let bytes = public.marshall().unwrap();
        let blob = KeyBlob::from_bytes(&tpm2b(b"wrapped"), &bytes).unwrap();
        assert_eq!(blob.public_area().unwrap(), bytes);
        assert_eq!(blob.private_bytes(), tpm2b(b"wrapped"));
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(
            KeyBlob::from_bytes(&tpm2b(b"wrapped"), &trailing)
                .unwrap_err()
                .code(),
            "LK-TPM-006"
        );
        assert_eq!(
            KeyBlob::from_bytes(&tpm2b(b"wrapped"), &bytes[..bytes.len() - 1])
                .unwrap_err()
                .code(),
            "LK-TPM-006"
        );
    }
}
