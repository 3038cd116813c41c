//! The decoded fields of a certificate, for `latchkeyd cert show` and the admin page.

use serde::Serialize;
use x509_parser::der_parser::asn1_rs::{Any, FromDer};
use x509_parser::extensions::GeneralName;

/// The Microsoft UPN otherName (szOID_NT_PRINCIPAL_NAME).
pub const OID_UPN: &str = "1.3.6.1.4.1.311.20.2.3";
/// id-pkinit-san (KRB5PrincipalName).
pub const OID_PKINIT_SAN: &str = "1.3.6.1.5.2.2";
/// Smart Card Logon.
pub const OID_SMARTCARD_LOGON: &str = "1.3.6.1.4.1.311.20.2.2";
/// id-pkinit-KPKdc.
pub const OID_PKINIT_KDC: &str = "1.3.6.1.5.2.3.5";

/// A certificate's fields as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateFields {
    /// Subject.
    pub subject: String,
    /// Issuer.
    pub issuer: String,
    /// Serial (hex).
    pub serial: String,
    /// Start of validity (RFC 3339 or as printed by the parser).
    pub not_before: String,
    /// End of validity.
    pub not_after: String,
    /// Subject alternative names (`upn:`, `email:`, `dns:`, `krb5:`, `other:`).
    pub subject_alt_names: Vec<String>,
    /// Extended key usages (names where known, else OIDs).
    pub extended_key_usages: Vec<String>,
    /// Key usage bits set.
    pub key_usage: Vec<String>,
    /// basicConstraints cA.
    pub is_ca: bool,
}

/// Every primitive string value inside `data` (DER), depth first.
fn strings(data: &[u8], depth: usize, out: &mut Vec<String>) {
    let mut rest = data;
    while !rest.is_empty() && depth < 8 && out.len() < 16 {
        let Ok((next, any)) = Any::from_der(rest) else {
            return;
        };
        if any.header.is_constructed() {
            strings(any.data, depth + 1, out);
        } else if let Ok(text) = std::str::from_utf8(any.data) {
            // INTEGERs (name-type) are binary; strings are text.
            if any.tag().0 != 2 {
                out.push(text.to_owned());
            }
        }
        rest = next;
    }
}

fn other_name(oid: &str, value: &[u8]) -> String {
    let mut found = Vec::new();
    strings(value, 0, &mut found);
    match oid {
        OID_UPN => format!("upn:{}", found.join("")),
        OID_PKINIT_SAN => match found.split_first() {
            Some((realm, names)) => format!("krb5:{}@{realm}", names.join("/")),
            None => "krb5:?".to_owned(),
        },
        other => format!("other:{other}"),
    }
}

fn eku_names(eku: &x509_parser::extensions::ExtendedKeyUsage<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for (set, name) in [
        (eku.any, "anyExtendedKeyUsage"),
        (eku.server_auth, "serverAuth"),
        (eku.client_auth, "clientAuth"),
        (eku.code_signing, "codeSigning"),
        (eku.email_protection, "emailProtection"),
        (eku.time_stamping, "timeStamping"),
        (eku.ocsp_signing, "OCSPSigning"),
    ] {
        if set {
            out.push(name.to_owned());
        }
    }
    for oid in &eku.other {
        let text = oid.to_id_string();
        out.push(match text.as_str() {
            OID_SMARTCARD_LOGON => "smartcardLogon".to_owned(),
            OID_PKINIT_KDC => "pkinitKDC".to_owned(),
            _ => text,
        });
    }
    out
}

/// Decodes a DER certificate; `None` if it does not parse.
pub fn describe(der: &[u8]) -> Option<CertificateFields> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let time = |t: &x509_parser::time::ASN1Time| {
        t.to_datetime()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| t.to_string())
    };
    let mut sans = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            sans.push(match name {
                GeneralName::OtherName(oid, value) => other_name(&oid.to_id_string(), value),
                GeneralName::RFC822Name(s) => format!("email:{s}"),
                GeneralName::DNSName(s) => format!("dns:{s}"),
                other => format!("{other}"),
            });
        }
    }
    let ekus = match cert.extended_key_usage() {
        Ok(Some(eku)) => eku_names(eku.value),
        _ => Vec::new(),
    };
    let mut key_usage = Vec::new();
    if let Ok(Some(ku)) = cert.key_usage() {
        let ku = ku.value;
        for (set, name) in [
            (ku.digital_signature(), "digitalSignature"),
            (ku.non_repudiation(), "nonRepudiation"),
            (ku.key_encipherment(), "keyEncipherment"),
            (ku.data_encipherment(), "dataEncipherment"),
            (ku.key_agreement(), "keyAgreement"),
            (ku.key_cert_sign(), "keyCertSign"),
            (ku.crl_sign(), "cRLSign"),
        ] {
            if set {
                key_usage.push(name.to_owned());
            }
        }
    }
    let is_ca = matches!(cert.basic_constraints(), Ok(Some(bc)) if bc.value.ca);
    Some(CertificateFields {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        serial: super::serial::of_bytes(cert.raw_serial()),
        not_before: time(&cert.validity().not_before),
        not_after: time(&cert.validity().not_after),
        subject_alt_names: sans,
        extended_key_usages: ekus,
        key_usage,
        is_ca,
    })
}
