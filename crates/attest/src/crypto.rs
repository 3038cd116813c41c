//! Public keys, COSE algorithms and signature verification (with `ring`).
//!
//! Keys come from three places (COSE_Key, X.509 SubjectPublicKeyInfo, TPMT_PUBLIC) and
//! are brought to one form, [`PublicKey`], so they can be compared and used alike.

use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey, VerificationAlgorithm};
use x509_parser::public_key::PublicKey as X509Key;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::error::AttestError;

/// OID of id-ecPublicKey's named curve P-256 (secp256r1).
const OID_P256: &str = "1.2.840.10045.3.1.7";
/// OID of the named curve P-384 (secp384r1).
const OID_P384: &str = "1.3.132.0.34";
/// OID of Ed25519 keys.
const OID_ED25519: &str = "1.3.101.112";

/// A COSE algorithm this crate can verify (IANA "COSE Algorithms" registry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoseAlg {
    /// -7: ECDSA with SHA-256 (P-256).
    Es256,
    /// -35: ECDSA with SHA-384 (P-384).
    Es384,
    /// -8: EdDSA (Ed25519).
    EdDsa,
    /// -257: RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// -258: RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// -259: RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// -37: RSASSA-PSS with SHA-256.
    Ps256,
    /// -65535: RSASSA-PKCS1-v1_5 with SHA-1 (legacy; Windows Hello TPM attestation).
    Rs1,
}

impl CoseAlg {
    /// Map a COSE algorithm number.
    pub fn from_i64(alg: i64) -> Result<Self, AttestError> {
        Ok(match alg {
            -7 => Self::Es256,
            -35 => Self::Es384,
            -8 => Self::EdDsa,
            -257 => Self::Rs256,
            -258 => Self::Rs384,
            -259 => Self::Rs512,
            -37 => Self::Ps256,
            -65535 => Self::Rs1,
            other => return Err(AttestError::UnsupportedAlgorithm { alg: other }),
        })
    }

    /// The COSE algorithm number.
    pub fn to_i64(self) -> i64 {
        match self {
            Self::Es256 => -7,
            Self::Es384 => -35,
            Self::EdDsa => -8,
            Self::Rs256 => -257,
            Self::Rs384 => -258,
            Self::Rs512 => -259,
            Self::Ps256 => -37,
            Self::Rs1 => -65535,
        }
    }

    /// The registry name (`ES256`, `RS1` ..).
    pub fn name(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::EdDsa => "EdDSA",
            Self::Rs256 => "RS256",
            Self::Rs384 => "RS384",
            Self::Rs512 => "RS512",
            Self::Ps256 => "PS256",
            Self::Rs1 => "RS1",
        }
    }

    /// Hash `data` with the digest this algorithm signs with (TPM `extraData` uses it).
    /// EdDSA has no separate digest; SHA-512 is returned for it.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        use sha2::Digest;
        match self {
            Self::Rs1 => sha1::Sha1::digest(data).to_vec(),
            Self::Es256 | Self::Rs256 | Self::Ps256 => sha2::Sha256::digest(data).to_vec(),
            Self::Es384 | Self::Rs384 => sha2::Sha384::digest(data).to_vec(),
            Self::Rs512 | Self::EdDsa => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

/// An elliptic curve this crate supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// NIST P-256.
    P256,
    /// NIST P-384.
    P384,
}

/// A public key in a normalised form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// An EC key: the curve and the uncompressed point `04 || x || y`.
    Ec {
        /// The curve.
        curve: Curve,
        /// Uncompressed SEC1 point.
        point: Vec<u8>,
    },
    /// An Ed25519 key (32 bytes).
    Ed25519(Vec<u8>),
    /// An RSA key: modulus and exponent, big-endian, without leading zeros.
    Rsa {
        /// Modulus.
        n: Vec<u8>,
        /// Public exponent.
        e: Vec<u8>,
    },
}

/// Strip leading zero bytes of a big-endian unsigned integer.
pub(crate) fn strip_zeros(b: &[u8]) -> Vec<u8> {
    let mut rest = b;
    while let Some((0, tail)) = rest.split_first() {
        rest = tail;
    }
    rest.to_vec()
}

impl PublicKey {
    /// An RSA key from big-endian modulus and exponent.
    pub fn rsa(n: &[u8], e: &[u8]) -> Self {
        Self::Rsa {
            n: strip_zeros(n),
            e: strip_zeros(e),
        }
    }

    /// Read the key of a DER SubjectPublicKeyInfo, which must be the whole of `der`.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, String> {
        use x509_parser::prelude::FromDer;
        match SubjectPublicKeyInfo::from_der(der) {
            Ok(([], spki)) => Self::from_spki(&spki),
            Ok(_) => Err("bytes after the SubjectPublicKeyInfo".into()),
            Err(e) => Err(format!("SubjectPublicKeyInfo: {e}")),
        }
    }

    /// Read the key of an X.509 SubjectPublicKeyInfo.
    pub fn from_spki(spki: &SubjectPublicKeyInfo<'_>) -> Result<Self, String> {
        let parsed = spki.parsed().map_err(|e| format!("public key: {e}"))?;
        match parsed {
            X509Key::RSA(k) => Ok(Self::rsa(k.modulus, k.exponent)),
            X509Key::EC(point) => {
                let curve_oid = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|o| o.to_id_string())
                    .ok_or("EC key without named curve")?;
                let curve = match curve_oid.as_str() {
                    OID_P256 => Curve::P256,
                    OID_P384 => Curve::P384,
                    other => return Err(format!("unsupported curve {other}")),
                };
                Ok(Self::Ec {
                    curve,
                    point: point.data().to_vec(),
                })
            }
            _ if spki.algorithm.algorithm.to_id_string() == OID_ED25519 => {
                Ok(Self::Ed25519(spki.subject_public_key.data.to_vec()))
            }
            _ => Err(format!(
                "unsupported key algorithm {}",
                spki.algorithm.algorithm.to_id_string()
            )),
        }
    }

    /// Verify `sig` over `msg` with COSE algorithm `alg`; `Ok(false)` when the signature
    /// is wrong, `Err` when `alg` does not fit this key.
    pub fn verify(&self, alg: CoseAlg, msg: &[u8], sig: &[u8]) -> Result<bool, AttestError> {
        let mismatch = || AttestError::AlgorithmMismatch {
            detail: format!("{} cannot be used with a {} key", alg.name(), self.kind()),
        };
        let ok = match (self, alg) {
            (Self::Ec { curve, point }, CoseAlg::Es256 | CoseAlg::Es384) => {
                let a: &dyn VerificationAlgorithm = match (curve, alg) {
                    (Curve::P256, CoseAlg::Es256) => &signature::ECDSA_P256_SHA256_ASN1,
                    (Curve::P384, CoseAlg::Es384) => &signature::ECDSA_P384_SHA384_ASN1,
                    // WebAuthn ties the curve to the algorithm (ES256 = P-256 ..).
                    _ => return Err(mismatch()),
                };
                UnparsedPublicKey::new(a, point).verify(msg, sig).is_ok()
            }
            (Self::Ed25519(k), CoseAlg::EdDsa) => UnparsedPublicKey::new(&signature::ED25519, k)
                .verify(msg, sig)
                .is_ok(),
            (Self::Rsa { n, e }, _) => {
                let params: &signature::RsaParameters = match alg {
                    CoseAlg::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    CoseAlg::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    CoseAlg::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                    CoseAlg::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
                    CoseAlg::Rs1 => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
                    _ => return Err(mismatch()),
                };
                RsaPublicKeyComponents { n, e }
                    .verify(params, msg, sig)
                    .is_ok()
            }
            _ => return Err(mismatch()),
        };
        Ok(ok)
    }

    /// A short name of the key type, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Ec {
                curve: Curve::P256, ..
            } => "EC P-256",
            Self::Ec {
                curve: Curve::P384, ..
            } => "EC P-384",
            Self::Ed25519(_) => "Ed25519",
            Self::Rsa { .. } => "RSA",
        }
    }
}

/// Verify an X.509 signature (`sig_alg_oid`, for example sha256WithRSAEncryption) made
/// by `issuer` over `tbs`. `Ok(false)` when the signature is wrong; `Err(detail)` when the
/// combination is not supported. SHA-1 based certificate signatures are not supported.
pub fn verify_x509_signature(
    issuer: &PublicKey,
    sig_alg_oid: &str,
    tbs: &[u8],
    sig: &[u8],
) -> Result<bool, String> {
    let ok = match (issuer, sig_alg_oid) {
        (PublicKey::Rsa { n, e }, oid) => {
            let params: &signature::RsaParameters = match oid {
                "1.2.840.113549.1.1.11" => &signature::RSA_PKCS1_2048_8192_SHA256,
                "1.2.840.113549.1.1.12" => &signature::RSA_PKCS1_2048_8192_SHA384,
                "1.2.840.113549.1.1.13" => &signature::RSA_PKCS1_2048_8192_SHA512,
                other => return Err(format!("unsupported RSA signature algorithm {other}")),
            };
            RsaPublicKeyComponents { n, e }
                .verify(params, tbs, sig)
                .is_ok()
        }
        (PublicKey::Ec { curve, point }, oid) => {
            // Issuers may pair a curve with another hash (a P-384 key signing with
            // SHA-256 in Android chains).
            let a: &dyn VerificationAlgorithm = match (curve, oid) {
                (Curve::P256, "1.2.840.10045.4.3.2") => &signature::ECDSA_P256_SHA256_ASN1,
                (Curve::P256, "1.2.840.10045.4.3.3") => &signature::ECDSA_P256_SHA384_ASN1,
                (Curve::P384, "1.2.840.10045.4.3.2") => &signature::ECDSA_P384_SHA256_ASN1,
                (Curve::P384, "1.2.840.10045.4.3.3") => &signature::ECDSA_P384_SHA384_ASN1,
                (_, other) => return Err(format!("unsupported ECDSA signature algorithm {other}")),
            };
            UnparsedPublicKey::new(a, point).verify(tbs, sig).is_ok()
        }
        (PublicKey::Ed25519(k), "1.3.101.112") => UnparsedPublicKey::new(&signature::ED25519, k)
            .verify(tbs, sig)
            .is_ok(),
        (k, other) => {
            return Err(format!(
                "signature algorithm {other} unsupported for a {} issuer key",
                k.kind()
            ))
        }
    };
    Ok(ok)
}
