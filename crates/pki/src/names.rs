//! The extensions rcgen cannot write: subjectAltName with the UPN and KRB5PrincipalName
//! otherNames, and authorityInfoAccess. Built with the `der`/`x509-cert` types.

use der::asn1::{Any, Ia5String, ObjectIdentifier};
use der::{Decode, Encode};
use rcgen::CustomExtension;
use x509_cert::ext::pkix::name::{GeneralName, OtherName};
use x509_cert::ext::pkix::{AccessDescription, AuthorityInfoAccessSyntax, SubjectAltName};

use crate::asn1::{self, tlv};
use crate::PkiError;

/// KRB5 NT-PRINCIPAL.
pub(crate) const NT_PRINCIPAL: u8 = 1;
/// KRB5 NT-SRV-INST.
pub(crate) const NT_SRV_INST: u8 = 2;
/// id-ad-ocsp.
const AD_OCSP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");
/// id-ad-caIssuers.
const AD_CA_ISSUERS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.2");

/// The Microsoft UPN otherName (UTF8String).
pub(crate) fn upn_name(upn: &str) -> Result<GeneralName, PkiError> {
    Ok(GeneralName::OtherName(OtherName {
        type_id: asn1::MS_UPN,
        value: Any::new(der::Tag::Utf8String, upn.as_bytes())?,
    }))
}

/// An rfc822Name.
pub(crate) fn email_name(address: &str) -> Result<GeneralName, PkiError> {
    Ok(GeneralName::Rfc822Name(Ia5String::new(address)?))
}

/// A dNSName.
pub(crate) fn dns_name(host: &str) -> Result<GeneralName, PkiError> {
    Ok(GeneralName::DnsName(Ia5String::new(host)?))
}

/// The id-pkinit-san otherName: KRB5PrincipalName (RFC 4556 §3.2.2) with `name_type` and
/// the components `names` in `realm`. Kerberos strings are GeneralString, which the `der`
/// crate has no type for, so the value is assembled TLV by TLV.
pub(crate) fn krb5_principal_name(
    realm: &str,
    name_type: u8,
    names: &[&str],
) -> Result<GeneralName, PkiError> {
    const GENERAL_STRING: u8 = 0x1b;
    let strings: Vec<u8> = names
        .iter()
        .flat_map(|n| tlv(GENERAL_STRING, n.as_bytes()))
        .collect();
    let principal = tlv(
        0x30,
        &[
            tlv(0xa0, &tlv(0x02, &[name_type])),
            tlv(0xa1, &tlv(0x30, &strings)),
        ]
        .concat(),
    );
    let value = tlv(
        0x30,
        &[
            tlv(0xa0, &tlv(GENERAL_STRING, realm.as_bytes())),
            tlv(0xa1, &principal),
        ]
        .concat(),
    );
    Ok(GeneralName::OtherName(OtherName {
        type_id: asn1::PKINIT_SAN,
        value: Any::from_der(&value)?,
    }))
}

/// The subjectAltName extension (not critical: the subject is not empty).
pub(crate) fn san_extension(names: Vec<GeneralName>) -> Result<CustomExtension, PkiError> {
    let der = SubjectAltName(names).to_der()?;
    Ok(CustomExtension::from_oid_content(
        asn1::SUBJECT_ALT_NAME_ARCS,
        der,
    ))
}

/// The authorityInfoAccess extension, or `None` when neither URL is set.
pub(crate) fn aia_extension(
    ca_issuers_url: Option<&str>,
    ocsp_url: Option<&str>,
) -> Result<Option<CustomExtension>, PkiError> {
    let mut access = Vec::new();
    for (method, url) in [(AD_CA_ISSUERS, ca_issuers_url), (AD_OCSP, ocsp_url)] {
        if let Some(url) = url {
            access.push(AccessDescription {
                access_method: method,
                access_location: GeneralName::UniformResourceIdentifier(Ia5String::new(url)?),
            });
        }
    }
    if access.is_empty() {
        return Ok(None);
    }
    let der = AuthorityInfoAccessSyntax(access).to_der()?;
    Ok(Some(CustomExtension::from_oid_content(
        asn1::AUTHORITY_INFO_ACCESS_ARCS,
        der,
    )))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn krbtgt_principal_has_the_rfc4556_encoding() {
        let GeneralName::OtherName(other) =
            krb5_principal_name("R.TEST", NT_SRV_INST, &["krbtgt", "R.TEST"]).unwrap()
        else {
            unreachable!()
        };
        assert_eq!(other.type_id, asn1::PKINIT_SAN);
        let expected: Vec<u8> = [
            &[0x30, 0x27, 0xa0, 0x08, 0x1b, 0x06][..],
            b"R.TEST",
            &[
                0xa1, 0x1b, 0x30, 0x19, 0xa0, 0x03, 0x02, 0x01, 0x02, 0xa1, 0x12, 0x30, 0x10,
            ],
            &[0x1b, 0x06],
            b"krbtgt",
            &[0x1b, 0x06],
            b"R.TEST",
        ]
        .concat();
        assert_eq!(other.value.to_der().unwrap(), expected);
    }
}
