//! Object identifiers and small DER helpers shared by the PKI modules.

use der::asn1::ObjectIdentifier as Oid;

/// rsaEncryption.
pub(crate) const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
/// sha256WithRSAEncryption.
pub(crate) const SHA256_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
/// sha384WithRSAEncryption.
pub(crate) const SHA384_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.12");
/// sha512WithRSAEncryption.
pub(crate) const SHA512_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.13");
/// id-ecPublicKey.
pub(crate) const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
/// prime256v1 (P-256).
pub(crate) const PRIME256V1: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
/// ecdsa-with-SHA256.
pub(crate) const ECDSA_WITH_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
/// id-sha1.
pub(crate) const SHA1: Oid = Oid::new_unwrap("1.3.14.3.2.26");
/// id-sha256.
pub(crate) const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
/// PKCS#9 extensionRequest.
pub(crate) const EXTENSION_REQUEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.14");
/// commonName.
pub(crate) const COMMON_NAME: Oid = Oid::new_unwrap("2.5.4.3");
/// subjectAltName.
pub(crate) const SUBJECT_ALT_NAME: Oid = Oid::new_unwrap("2.5.29.17");
/// basicConstraints.
pub(crate) const BASIC_CONSTRAINTS: Oid = Oid::new_unwrap("2.5.29.19");
/// extKeyUsage.
pub(crate) const EXT_KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.37");
/// Microsoft UPN otherName (szOID_NT_PRINCIPAL_NAME).
pub(crate) const MS_UPN: Oid = Oid::new_unwrap("1.3.6.1.4.1.311.20.2.3");
/// id-pkinit-san (KRB5PrincipalName otherName).
pub(crate) const PKINIT_SAN: Oid = Oid::new_unwrap("1.3.6.1.5.2.2");
/// Certificate Request Agent EKU (szOID_ENROLLMENT_AGENT).
pub(crate) const CERT_REQUEST_AGENT: Oid = Oid::new_unwrap("1.3.6.1.4.1.311.20.2.1");
/// id-pkix-ocsp-nonce.
pub(crate) const OCSP_NONCE: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.48.1.2");
/// id-pkix-ocsp-basic.
pub(crate) const OCSP_BASIC: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.48.1.1");
/// id-signedData.
pub(crate) const SIGNED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.2");
/// id-data.
pub(crate) const DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.1");

/// rcgen's OID form of the Certificate Request Agent EKU.
pub(crate) const CERT_REQUEST_AGENT_ARCS: &[u64] = &[1, 3, 6, 1, 4, 1, 311, 20, 2, 1];
/// Smart Card Logon EKU.
pub(crate) const SMART_CARD_LOGON_ARCS: &[u64] = &[1, 3, 6, 1, 4, 1, 311, 20, 2, 2];
/// id-pkinit-KPKdc EKU.
pub(crate) const PKINIT_KPKDC_ARCS: &[u64] = &[1, 3, 6, 1, 5, 2, 3, 5];
/// subjectAltName.
pub(crate) const SUBJECT_ALT_NAME_ARCS: &[u64] = &[2, 5, 29, 17];
/// authorityInfoAccess.
pub(crate) const AUTHORITY_INFO_ACCESS_ARCS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 1];

/// One DER TLV with a single-byte tag: `tag`, the definite length, `content`.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = Vec::with_capacity(len + 6);
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let significant = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlv_uses_the_shortest_length() {
        assert_eq!(tlv(0x04, &[1, 2]), [0x04, 2, 1, 2]);
        let long = tlv(0x04, &[0; 300]);
        assert_eq!(long.get(..4), Some(&[0x04, 0x82, 0x01, 0x2c][..]));
        assert_eq!(long.len(), 304);
    }
}
