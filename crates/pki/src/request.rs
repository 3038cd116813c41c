//! PKCS#10 certification requests: built on the device (signed through a callback by the
//! Hello key), verified on the server.

use der::asn1::{AnyRef, BitString, BitStringRef, SetOfVec, UintRef};
use der::{Decode, Encode, Sequence, Tagged};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, SubjectAltName};
use x509_cert::ext::Extension;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::request::{CertReq, CertReqInfo, Version};

use crate::asn1;
use crate::sigverify::{self, KeyKind, SigFailure};
use crate::PkiError;

/// The largest request accepted (DER bytes).
pub const MAX_REQUEST_LEN: usize = 16 * 1024;
/// At most this many extensions are read from an extensionRequest attribute.
const MAX_REQUESTED_EXTENSIONS: usize = 32;

/// What a request asked for in its extensionRequest attribute. Recorded for the audit
/// log only: the CA issues what the profile says, never what the request asks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestedExtras {
    /// Extended key usages asked for, dotted OIDs.
    pub extended_key_usages: Vec<String>,
    /// Whether basicConstraints with cA TRUE was asked for.
    pub ca: bool,
    /// Subject alternative names asked for, as `upn:...`, `email:...`, `dns:...`, `uri:...`,
    /// `ip:...` or `other:OID`/`dir`/`rid:OID` for the rest.
    pub subject_alt_names: Vec<String>,
}

/// A request whose self-signature verified with its own key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRequest {
    /// The request's SubjectPublicKeyInfo, DER (as in the request).
    pub spki_der: Vec<u8>,
    /// The subject's common name (empty when the subject has none).
    pub subject: String,
    /// What the request asked for beyond its key and subject.
    pub requested: RequestedExtras,
}

/// The outer CertificationRequest, keeping the exact bytes of the signed part.
#[derive(Sequence)]
struct RawCertReq<'a> {
    info: AnyRef<'a>,
    algorithm: AlgorithmIdentifierOwned,
    signature: BitStringRef<'a>,
}

/// ECDSA-Sig-Value.
#[derive(Sequence)]
struct EcdsaSig<'a> {
    r: UintRef<'a>,
    s: UintRef<'a>,
}

/// Builds a PKCS#10 request for the key `spki_der` with subject CN=`subject_cn`, signed by
/// `sign` over the CertificationRequestInfo DER.
///
/// For an RSA key `sign` returns an RSASSA-PKCS1-v1_5 SHA-256 signature (the request says
/// sha256WithRSAEncryption); for a P-256 key it returns the fixed 64-byte `r || s` ECDSA
/// SHA-256 signature, converted here to DER (ecdsa-with-SHA256). The finished request is
/// verified before it is returned, so a callback signing with another key is caught here.
#[allow(clippy::type_complexity)] // the callback shape is the documented API
pub fn build_request(
    spki_der: &[u8],
    subject_cn: &str,
    sign: &mut dyn FnMut(&[u8]) -> Result<Vec<u8>, String>,
) -> Result<Vec<u8>, PkiError> {
    let public_key = SubjectPublicKeyInfoOwned::from_der(spki_der)
        .map_err(|e| PkiError::PublicKey(e.to_string()))?;
    let kind = sigverify::key_kind(&public_key).map_err(map_failure)?;
    let info = CertReqInfo {
        version: Version::V1,
        subject: common_name(subject_cn)?,
        public_key,
        attributes: SetOfVec::new(),
    };
    let info_der = info.to_der()?;
    let raw = sign(&info_der).map_err(PkiError::Signer)?;
    let (algorithm, signature) = match kind {
        KeyKind::Rsa(_) => (
            AlgorithmIdentifierOwned {
                oid: asn1::SHA256_WITH_RSA,
                parameters: Some(der::asn1::Null.into()),
            },
            raw,
        ),
        KeyKind::P256 => {
            if raw.len() != 64 {
                return Err(PkiError::Signer(format!(
                    "a P-256 signature is 64 bytes r||s, got {}",
                    raw.len()
                )));
            }
            let (r, s) = raw.split_at(32);
            let sig = EcdsaSig {
                r: UintRef::new(r)?,
                s: UintRef::new(s)?,
            };
            (
                AlgorithmIdentifierOwned {
                    oid: asn1::ECDSA_WITH_SHA256,
                    parameters: None,
                },
                sig.to_der()?,
            )
        }
    };
    let request = CertReq {
        info,
        algorithm,
        signature: BitString::from_bytes(&signature)?,
    };
    let der = request.to_der()?;
    verify_request(&der)?;
    Ok(der)
}

/// Verifies a PKCS#10 request: at most [`MAX_REQUEST_LEN`] bytes, strict DER with nothing
/// after it, an RSA (2048..=8192 bits, PKCS#1 v1.5 with SHA-256/384/512) or P-256
/// (ECDSA with SHA-256) key, and a self-signature that verifies with that key.
pub fn verify_request(der: &[u8]) -> Result<VerifiedRequest, PkiError> {
    if der.len() > MAX_REQUEST_LEN {
        return Err(PkiError::RequestTooLarge(der.len()));
    }
    let raw = RawCertReq::from_der(der).map_err(|e| PkiError::RequestMalformed(e.to_string()))?;
    let info_der = raw.info.to_der()?;
    let info = CertReqInfo::from_der(&info_der)
        .map_err(|e| PkiError::RequestMalformed(format!("request info: {e}")))?;
    let signature = raw
        .signature
        .as_bytes()
        .ok_or_else(|| PkiError::RequestMalformed("signature has unused bits".into()))?;
    sigverify::verify(&info.public_key, &raw.algorithm, &info_der, signature)
        .map_err(map_failure)?;
    let spki_der = info.public_key.to_der()?;
    Ok(VerifiedRequest {
        spki_der,
        subject: subject_common_name(&info.subject),
        requested: requested_extras(&info)?,
    })
}

fn map_failure(failure: SigFailure) -> PkiError {
    match failure {
        SigFailure::UnsupportedKey(what) => PkiError::RequestKeyUnsupported(what),
        SigFailure::KeySize(bits) => PkiError::RequestKeySize(bits),
        SigFailure::Algorithm(what) => PkiError::RequestSignatureAlgorithm(what),
        SigFailure::Invalid => PkiError::RequestSignature,
    }
}

/// The name `CN=cn` (UTF8String).
pub(crate) fn common_name(cn: &str) -> Result<Name, PkiError> {
    let value = der::asn1::Any::new(der::Tag::Utf8String, cn.as_bytes())?;
    let atv = AttributeTypeAndValue {
        oid: asn1::COMMON_NAME,
        value,
    };
    let rdn = RelativeDistinguishedName(SetOfVec::try_from(vec![atv])?);
    Ok(RdnSequence(vec![rdn]))
}

fn subject_common_name(name: &Name) -> String {
    for rdn in &name.0 {
        for atv in rdn.0.iter() {
            if atv.oid == asn1::COMMON_NAME {
                if let Some(text) = any_text(&atv.value) {
                    return text;
                }
            }
        }
    }
    String::new()
}

fn any_text(value: &der::asn1::Any) -> Option<String> {
    match value.tag() {
        der::Tag::Utf8String | der::Tag::PrintableString | der::Tag::Ia5String => {
            std::str::from_utf8(value.value()).ok().map(str::to_owned)
        }
        _ => None,
    }
}

fn requested_extras(info: &CertReqInfo) -> Result<RequestedExtras, PkiError> {
    let mut extras = RequestedExtras::default();
    let malformed = |what: &str, e: der::Error| PkiError::RequestMalformed(format!("{what}: {e}"));
    for attribute in info.attributes.iter() {
        if attribute.oid != asn1::EXTENSION_REQUEST {
            continue;
        }
        for value in attribute.values.iter() {
            let extensions: Vec<Extension> = value
                .decode_as()
                .map_err(|e| malformed("extension request", e))?;
            if extensions.len() > MAX_REQUESTED_EXTENSIONS {
                return Err(PkiError::RequestMalformed(
                    "too many requested extensions".into(),
                ));
            }
            for ext in &extensions {
                let bytes = ext.extn_value.as_bytes();
                if ext.extn_id == asn1::EXT_KEY_USAGE {
                    let eku = ExtendedKeyUsage::from_der(bytes)
                        .map_err(|e| malformed("requested EKU", e))?;
                    extras
                        .extended_key_usages
                        .extend(eku.0.iter().map(|o| o.to_string()));
                } else if ext.extn_id == asn1::BASIC_CONSTRAINTS {
                    let bc = BasicConstraints::from_der(bytes)
                        .map_err(|e| malformed("requested basicConstraints", e))?;
                    extras.ca |= bc.ca;
                } else if ext.extn_id == asn1::SUBJECT_ALT_NAME {
                    let san = SubjectAltName::from_der(bytes)
                        .map_err(|e| malformed("requested subjectAltName", e))?;
                    extras
                        .subject_alt_names
                        .extend(san.0.iter().map(describe_name));
                }
            }
        }
    }
    Ok(extras)
}

/// A general name as text, for the audit record.
pub(crate) fn describe_name(name: &GeneralName) -> String {
    match name {
        GeneralName::OtherName(other) => {
            if other.type_id == asn1::MS_UPN {
                match any_text(&other.value) {
                    Some(upn) => format!("upn:{upn}"),
                    None => "upn:?".into(),
                }
            } else {
                format!("other:{}", other.type_id)
            }
        }
        GeneralName::Rfc822Name(s) => format!("email:{}", s.as_str()),
        GeneralName::DnsName(s) => format!("dns:{}", s.as_str()),
        GeneralName::UniformResourceIdentifier(s) => format!("uri:{}", s.as_str()),
        GeneralName::IpAddress(bytes) => format!("ip:{}", hex(bytes.as_bytes())),
        GeneralName::DirectoryName(n) => format!("dir:{n}"),
        GeneralName::RegisteredId(oid) => format!("rid:{oid}"),
        GeneralName::EdiPartyName(_) => "edi".into(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
