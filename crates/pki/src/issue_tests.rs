#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use der::asn1::ObjectIdentifier as Oid;
use der::{Decode, Encode};
use time::macros::datetime;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAltName};
use x509_cert::Certificate;

use crate::countersign::{sign_content, CountersignedContent};
use crate::profile::ProfileDer;
use crate::testutil::{other_rsa2048, rsa2048};
use crate::{
    asn1, build_request, CaAlgorithm, CertificateProfile, IssuingCa, PkiError,
    RegistrationAuthority, Template, TenantCa,
};
use time::{Duration, OffsetDateTime};

pub(crate) const NOW: OffsetDateTime = datetime!(2026-12-01 12:00 UTC);
pub(crate) const UPN: &str = "alice@contoso.test";

pub(crate) struct Pki {
    pub(crate) root: TenantCa,
    pub(crate) ca: IssuingCa,
    pub(crate) ra: RegistrationAuthority,
}

pub(crate) fn pki(alg: CaAlgorithm) -> Pki {
    let root = TenantCa::create("Contoso", NOW).unwrap();
    let ca = IssuingCa::create(&root, "Contoso", alg, NOW).unwrap();
    let ra = RegistrationAuthority::create(&root, "Contoso", NOW).unwrap();
    Pki { root, ca, ra }
}

fn template() -> Template {
    Template {
        kerberos_realm: Some("CONTOSO.TEST".into()),
        ..Template::hello_default()
    }
}

fn profile_for(spki: &[u8]) -> CertificateProfile {
    CertificateProfile::for_user(
        &template(),
        UPN,
        spki,
        NOW,
        Some("http://pki.contoso.test/crl"),
        Some("http://pki.contoso.test/ca.crt"),
        Some("http://pki.contoso.test/ocsp"),
    )
    .unwrap()
}

pub(crate) fn rsa_request() -> Vec<u8> {
    let key = rsa2048();
    build_request(&key.spki, UPN, &mut |m| key.sign(m)).unwrap()
}

fn ext<'a>(cert: &'a Certificate, oid: &str) -> Option<&'a x509_cert::ext::Extension> {
    let oid = Oid::new_unwrap(oid);
    cert.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == oid)
}

fn ekus(cert: &Certificate) -> Vec<String> {
    let e = ext(cert, "2.5.29.37").unwrap();
    ExtendedKeyUsage::from_der(e.extn_value.as_bytes())
        .unwrap()
        .0
        .iter()
        .map(|o| o.to_string())
        .collect()
}

fn sans(cert: &Certificate) -> Vec<String> {
    let e = ext(cert, "2.5.29.17").unwrap();
    SubjectAltName::from_der(e.extn_value.as_bytes())
        .unwrap()
        .0
        .iter()
        .map(crate::request::describe_name)
        .collect()
}

fn is_ca(cert: &Certificate) -> bool {
    let e = ext(cert, "2.5.29.19").unwrap();
    BasicConstraints::from_der(e.extn_value.as_bytes())
        .unwrap()
        .ca
}

fn signed_by(cert_der: &[u8], issuer_der: &[u8]) -> bool {
    let cert = Certificate::from_der(cert_der).unwrap();
    let issuer = Certificate::from_der(issuer_der).unwrap();
    crate::sigverify::verify(
        &issuer.tbs_certificate.subject_public_key_info,
        &cert.signature_algorithm,
        &cert.tbs_certificate.to_der().unwrap(),
        cert.signature.as_bytes().unwrap(),
    )
    .is_ok()
}

#[test]
fn the_whole_path_issues_exactly_the_profile() {
    for alg in [CaAlgorithm::EcdsaP256, CaAlgorithm::Rsa3072] {
        let p = pki(alg);
        let request = rsa_request();
        let profile = profile_for(&rsa2048().spki);
        let cs = p.ra.countersign(&request, &profile, NOW).unwrap();
        let issued = p.ca.issue(&cs, p.root.cert_der(), NOW).unwrap();
        let der = &issued.certificate.der;
        assert!(signed_by(der, p.ca.cert_der()), "{alg}");
        assert!(signed_by(p.ca.cert_der(), p.root.cert_der()));
        assert!(signed_by(p.ra.cert_der(), p.root.cert_der()));

        let cert = Certificate::from_der(der).unwrap();
        let summary = crate::inspect_certificate(der).unwrap();
        assert_eq!(summary.subject_cn, UPN);
        assert_eq!(summary.spki_der, rsa2048().spki, "the Hello key as it is");
        assert_eq!(summary.serial_hex, issued.serial_hex);
        assert_eq!(issued.serial_hex.len(), 32, "128-bit serial");
        assert_eq!(summary.not_before, NOW - Duration::minutes(5));
        assert_eq!(summary.not_after, NOW + Duration::days(365));
        assert_eq!(ekus(&cert), ["1.3.6.1.4.1.311.20.2.2", "1.3.6.1.5.5.7.3.2"]);
        assert_eq!(
            sans(&cert),
            [
                "upn:alice@contoso.test",
                "email:alice@contoso.test",
                "other:1.3.6.1.5.2.2"
            ]
        );
        assert!(!is_ca(&cert));
        let ku = ext(&cert, "2.5.29.15").unwrap();
        assert!(ku.critical);
        let ku = KeyUsage::from_der(ku.extn_value.as_bytes()).unwrap();
        assert!(ku.digital_signature() && !ku.key_cert_sign() && !ku.key_encipherment());
        for oid in ["2.5.29.14", "2.5.29.35", "2.5.29.31", "1.3.6.1.5.5.7.1.1"] {
            assert!(ext(&cert, oid).is_some(), "{oid}");
        }
        let aia = String::from_utf8_lossy(
            ext(&cert, "1.3.6.1.5.5.7.1.1")
                .unwrap()
                .extn_value
                .as_bytes(),
        )
        .into_owned();
        assert!(aia.contains("http://pki.contoso.test/ocsp") && aia.contains("ca.crt"));

        // The issuing CA and the RA have their profiles.
        let ca_cert = Certificate::from_der(p.ca.cert_der()).unwrap();
        assert!(is_ca(&ca_cert));
        let bc =
            BasicConstraints::from_der(ext(&ca_cert, "2.5.29.19").unwrap().extn_value.as_bytes())
                .unwrap();
        assert_eq!(bc.path_len_constraint, Some(0));
        let ra_cert = Certificate::from_der(p.ra.cert_der()).unwrap();
        assert!(!is_ca(&ra_cert));
        assert_eq!(ekus(&ra_cert), ["1.3.6.1.4.1.311.20.2.1"]);
    }
}

#[test]
fn without_email_or_realm_the_san_is_the_upn_only() {
    let p = pki(CaAlgorithm::EcdsaP256);
    let t = Template {
        include_email: false,
        ..Template::hello_default()
    };
    let profile =
        CertificateProfile::for_user(&t, UPN, &rsa2048().spki, NOW, None, None, None).unwrap();
    let cs = p.ra.countersign(&rsa_request(), &profile, NOW).unwrap();
    let issued = p.ca.issue(&cs, p.root.cert_der(), NOW).unwrap();
    let cert = Certificate::from_der(&issued.certificate.der).unwrap();
    assert_eq!(sans(&cert), ["upn:alice@contoso.test"]);
    assert!(ext(&cert, "2.5.29.31").is_none());
    assert!(ext(&cert, "1.3.6.1.5.5.7.1.1").is_none());
}

#[test]
fn what_the_request_asks_for_is_not_granted() {
    use rcgen::{
        BasicConstraints as RcBc, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
        KeyPair, PublicKeyData, SanType, PKCS_ECDSA_P256_SHA256,
    };
    let p = pki(CaAlgorithm::EcdsaP256);
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "administrator@contoso.test");
    params.is_ca = IsCa::Ca(RcBc::Unconstrained);
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::CodeSigning,
        ExtendedKeyUsagePurpose::Any,
    ];
    params.subject_alt_names = vec![
        SanType::OtherName((
            vec![1, 3, 6, 1, 4, 1, 311, 20, 2, 3],
            rcgen::OtherNameValue::Utf8String("administrator@contoso.test".into()),
        )),
        SanType::DnsName("dc.contoso.test".try_into().unwrap()),
    ];
    let request = params.serialize_request(&key).unwrap().der().to_vec();
    let verified = crate::verify_request(&request).unwrap();
    assert!(verified.requested.ca);
    let profile = profile_for(&key.subject_public_key_info());
    let cs = p.ra.countersign(&request, &profile, NOW).unwrap();
    let issued = p.ca.issue(&cs, p.root.cert_der(), NOW).unwrap();
    let cert = Certificate::from_der(&issued.certificate.der).unwrap();
    assert_eq!(
        crate::inspect_certificate(&issued.certificate.der)
            .unwrap()
            .subject_cn,
        UPN
    );
    assert_eq!(ekus(&cert), ["1.3.6.1.4.1.311.20.2.2", "1.3.6.1.5.5.7.3.2"]);
    assert!(!is_ca(&cert));
    let names = sans(&cert);
    assert_eq!(names[0], "upn:alice@contoso.test");
    assert!(!names
        .iter()
        .any(|n| n.contains("administrator") || n.contains("dc.")));
}

fn content(request: &[u8], profile: &CertificateProfile) -> Vec<u8> {
    CountersignedContent {
        request: der::asn1::Any::from_der(request).unwrap(),
        profile: ProfileDer::from_der(&profile.to_der().unwrap()).unwrap(),
    }
    .to_der()
    .unwrap()
}

fn assert_refused(result: Result<crate::UserCertificate, PkiError>, code: &str) {
    let err = result.expect_err("must be refused");
    assert_eq!(err.code(), code, "{err}");
}

#[test]
fn a_plain_request_is_not_countersigned() {
    let p = pki(CaAlgorithm::EcdsaP256);
    let request = rsa_request();
    let err = p.ca.issue(&request, p.root.cert_der(), NOW).unwrap_err();
    assert!(matches!(err, PkiError::NotCountersigned(_)), "{err}");
    assert_refused(p.ca.issue(b"", p.root.cert_der(), NOW), "LK-PKI-023");
    let big = vec![0x30; crate::MAX_COUNTERSIGNED_LEN + 1];
    assert_refused(p.ca.issue(&big, p.root.cert_der(), NOW), "LK-PKI-022");
}

#[test]
fn a_countersignature_by_another_key_is_refused() {
    let p = pki(CaAlgorithm::EcdsaP256);
    let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let body = content(&rsa_request(), &profile_for(&rsa2048().spki));
    let forged = sign_content(&p.ra.loaded.cert, &other, &body).unwrap();
    let err = p.ca.issue(&forged, p.root.cert_der(), NOW).unwrap_err();
    assert!(matches!(err, PkiError::RaSignature), "{err}");
    // The root's own key is no RA either: a countersignature carrying the root
    // certificate is refused (it is not issued by... itself as an agent).
    let genuine = sign_content(&p.ra.loaded.cert, &p.ra.key, &body).unwrap();
    p.ca.issue(&genuine, p.root.cert_der(), NOW).unwrap();
}

#[test]
fn an_ra_from_another_root_is_not_trusted() {
    let p = pki(CaAlgorithm::EcdsaP256);
    // Same tenant name, so the same issuer DN: only the signature tells them apart.
    let other_root = TenantCa::create("Contoso", NOW).unwrap();
    let other_ra = RegistrationAuthority::create(&other_root, "Contoso", NOW).unwrap();
    let cs = other_ra
        .countersign(&rsa_request(), &profile_for(&rsa2048().spki), NOW)
        .unwrap();
    let err = p.ca.issue(&cs, p.root.cert_der(), NOW).unwrap_err();
    assert!(matches!(err, PkiError::RaNotTrusted(_)), "{err}");
    let named_otherwise = TenantCa::create("Fabrikam", NOW).unwrap();
    let ra3 = RegistrationAuthority::create(&named_otherwise, "Fabrikam", NOW).unwrap();
    let cs = ra3
        .countersign(&rsa_request(), &profile_for(&rsa2048().spki), NOW)
        .unwrap();
    assert_refused(p.ca.issue(&cs, p.root.cert_der(), NOW), "LK-PKI-024");
}

#[test]
fn an_expired_or_future_ra_certificate_is_refused() {
    let p = pki(CaAlgorithm::EcdsaP256);
    let then = NOW - Duration::days(3 * 365);
    let old_ra = RegistrationAuthority::create(&p.root, "Contoso", then).unwrap();
    let cs = old_ra
        .countersign(
            &rsa_request(),
            &profile_for(&rsa2048().spki),
            then + Duration::days(1),
        )
        .unwrap();
    let err = p.ca.issue(&cs, p.root.cert_der(), NOW).unwrap_err();
    assert!(matches!(err, PkiError::RaExpired), "{err}");
    // The RA itself refuses to countersign outside its validity.
    let err = old_ra
        .countersign(&rsa_request(), &profile_for(&rsa2048().spki), NOW)
        .unwrap_err();
    assert!(matches!(err, PkiError::RaExpired), "{err}");
    // Not yet valid.
    let cs =
        p.ra.countersign(&rsa_request(), &profile_for(&rsa2048().spki), NOW)
            .unwrap();
    assert_refused(
        p.ca.issue(&cs, p.root.cert_der(), NOW - Duration::days(1)),
        "LK-PKI-025",
    );
}

#[test]
fn an_ra_certificate_without_the_agent_eku_is_refused() {
    let p = pki(CaAlgorithm::EcdsaP256);
    for ekus in [vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth], vec![]] {
        let not_agent =
            RegistrationAuthority::create_with_ekus(&p.root, "Contoso", NOW, ekus).unwrap();
        let cs = not_agent
            .countersign(&rsa_request(), &profile_for(&rsa2048().spki), NOW)
            .unwrap();
        let err = p.ca.issue(&cs, p.root.cert_der(), NOW).unwrap_err();
        assert!(matches!(err, PkiError::RaNotAgent), "{err}");
    }
}

#[test]
fn a_tampered_profile_fails_the_ra_signature() {
    let p = pki(CaAlgorithm::EcdsaP256);
    let cs =
        p.ra.countersign(&rsa_request(), &profile_for(&rsa2048().spki), NOW)
            .unwrap();
    // The UPN appears in the request's subject and, last, in the profile.
    let pos = cs
        .windows(UPN.len())
        .rposition(|w| w == UPN.as_bytes())
        .unwrap();
    for offset in [0, 3] {
        let mut bad = cs.clone();
        bad[pos + offset] ^= 0x20;
        let err = p.ca.issue(&bad, p.root.cert_der(), NOW).unwrap_err();
        assert!(matches!(err, PkiError::RaSignature), "{err}");
    }
    // The validity days (3650 instead of 365) — the byte right after the template name.
    let name = Template::HELLO_DEFAULT_NAME.as_bytes();
    let pos = cs.windows(name.len()).position(|w| w == name).unwrap() + name.len();
    let mut bad = cs.clone();
    bad[pos + 4] ^= 0x01;
    assert_refused(p.ca.issue(&bad, p.root.cert_der(), NOW), "LK-PKI-027");
}

#[test]
fn an_old_countersignature_is_not_replayable() {
    let p = pki(CaAlgorithm::EcdsaP256);
    // An RA valid since yesterday, so that only the profile's time decides.
    let ra = RegistrationAuthority::create(&p.root, "Contoso", NOW - Duration::days(1)).unwrap();
    let cs = ra
        .countersign(&rsa_request(), &profile_for(&rsa2048().spki), NOW)
        .unwrap();
    p.ca.issue(&cs, p.root.cert_der(), NOW + Duration::minutes(50))
        .unwrap();
    assert_refused(
        p.ca.issue(&cs, p.root.cert_der(), NOW + Duration::minutes(56)),
        "LK-PKI-035",
    );
    assert_refused(
        p.ca.issue(&cs, p.root.cert_der(), NOW - Duration::minutes(6)),
        "LK-PKI-035",
    );
}

#[test]
fn a_profile_for_another_key_is_refused() {
    let p = pki(CaAlgorithm::EcdsaP256);
    let request = rsa_request();
    let profile = profile_for(&other_rsa2048().spki);
    let err = p.ra.countersign(&request, &profile, NOW).unwrap_err();
    assert!(matches!(err, PkiError::KeyMismatch), "{err}");
    // A countersignature the RA key made over mismatched content anyway is refused by the CA.
    let cs = sign_content(&p.ra.loaded.cert, &p.ra.key, &content(&request, &profile)).unwrap();
    let err = p.ca.issue(&cs, p.root.cert_der(), NOW).unwrap_err();
    assert!(matches!(err, PkiError::KeyMismatch), "{err}");
}

#[test]
fn an_embedded_request_with_a_bad_signature_is_refused() {
    let p = pki(CaAlgorithm::EcdsaP256);
    let mut request = rsa_request();
    let last = request.len() - 1;
    request[last] ^= 1;
    let cs = sign_content(
        &p.ra.loaded.cert,
        &p.ra.key,
        &content(&request, &profile_for(&rsa2048().spki)),
    )
    .unwrap();
    assert_refused(p.ca.issue(&cs, p.root.cert_der(), NOW), "LK-PKI-011");
    let err =
        p.ra.countersign(&request, &profile_for(&rsa2048().spki), NOW)
            .unwrap_err();
    assert!(matches!(err, PkiError::RequestSignature));
}

#[test]
fn mangled_countersignatures_never_panic() {
    let p = pki(CaAlgorithm::EcdsaP256);
    let cs =
        p.ra.countersign(&rsa_request(), &profile_for(&rsa2048().spki), NOW)
            .unwrap();
    for cut in 0..cs.len() {
        assert!(p.ca.issue(&cs[..cut], p.root.cert_der(), NOW).is_err());
    }
    let mut accepted = Vec::new();
    for i in 0..cs.len() {
        for bit in [0x01u8, 0x04, 0x80] {
            let mut bad = cs.clone();
            bad[i] ^= bit;
            if p.ca.issue(&bad, p.root.cert_der(), NOW).is_ok() {
                accepted.push((i, bit));
            }
        }
    }
    // Every byte is covered by a signature or checked against what the RA writes.
    assert!(accepted.is_empty(), "flips accepted: {accepted:?}");
    // Garbage root certificates are an error, not a panic.
    assert!(p.ca.issue(&cs, b"junk", NOW).is_err());
}

#[test]
fn kdc_certificate_has_the_pkinit_profile() {
    let p = pki(CaAlgorithm::EcdsaP256);
    let kdc =
        p.ca.issue_kdc_certificate(
            "CONTOSO.TEST",
            "kdc.contoso.test",
            NOW,
            365,
            Some("http://x.test/crl"),
        )
        .unwrap();
    assert!(signed_by(&kdc.certificate.der, p.ca.cert_der()));
    let cert = Certificate::from_der(&kdc.certificate.der).unwrap();
    assert_eq!(ekus(&cert), ["1.3.6.1.5.2.3.5", "1.3.6.1.5.5.7.3.1"]);
    assert_eq!(sans(&cert), ["other:1.3.6.1.5.2.2", "dns:kdc.contoso.test"]);
    let ku = KeyUsage::from_der(ext(&cert, "2.5.29.15").unwrap().extn_value.as_bytes()).unwrap();
    assert!(ku.digital_signature() && ku.key_encipherment());
    let spki = &cert.tbs_certificate.subject_public_key_info;
    assert_eq!(
        crate::sigverify::key_kind(spki).unwrap(),
        crate::sigverify::KeyKind::Rsa(2048)
    );
    // The private key matches the certificate.
    let key = ring::signature::RsaKeyPair::from_pkcs8(&kdc.key_pkcs8_der).unwrap();
    assert_eq!(
        ring::signature::KeyPair::public_key(&key).as_ref(),
        spki.subject_public_key.raw_bytes()
    );
    for (realm, host, days, code) in [
        ("BAD/REALM", "kdc.test", 365, "LK-PKI-016"),
        ("R.TEST", "bad host", 365, "LK-PKI-018"),
        ("R.TEST", "-kdc.test", 365, "LK-PKI-018"),
        ("R.TEST", "kdc.test", 0, "LK-PKI-014"),
    ] {
        let err =
            p.ca.issue_kdc_certificate(realm, host, NOW, days, None)
                .unwrap_err();
        assert_eq!(err.code(), code);
    }
}

#[test]
fn the_roles_reload_from_pem() {
    for alg in [CaAlgorithm::EcdsaP256, CaAlgorithm::Rsa3072] {
        let p = pki(alg);
        let ca = IssuingCa::from_pem(p.ca.cert_pem(), p.ca.key_pkcs8_pem()).unwrap();
        assert_eq!(ca.fingerprint_sha256(), p.ca.fingerprint_sha256());
        assert_eq!(ca.algorithm(), alg);
        let ra = RegistrationAuthority::from_pem(p.ra.cert_pem(), p.ra.key_pkcs8_pem()).unwrap();
        assert_eq!(ra.fingerprint_sha256(), p.ra.fingerprint_sha256());
        let cs = ra
            .countersign(&rsa_request(), &profile_for(&rsa2048().spki), NOW)
            .unwrap();
        let issued = ca.issue(&cs, p.root.cert_der(), NOW).unwrap();
        assert!(signed_by(&issued.certificate.der, p.ca.cert_der()));
        // The AKI of the reloaded CA's certificates is the CA's SKI.
        let leaf = Certificate::from_der(&issued.certificate.der).unwrap();
        let ca_cert = Certificate::from_der(p.ca.cert_der()).unwrap();
        let aki = ext(&leaf, "2.5.29.35")
            .unwrap()
            .extn_value
            .as_bytes()
            .to_vec();
        let ski = ext(&ca_cert, "2.5.29.14")
            .unwrap()
            .extn_value
            .as_bytes()
            .to_vec();
        assert!(aki.windows(ski.len() - 2).any(|w| w == &ski[2..]));
        assert!(IssuingCa::from_pem(p.ca.cert_pem(), p.ra.key_pkcs8_pem()).is_err());
        assert!(RegistrationAuthority::from_pem(p.ra.cert_pem(), p.root.key_pkcs8_pem()).is_err());
    }
}

#[test]
fn ca_algorithm_names_and_validity_cap() {
    assert_eq!(
        "p256".parse::<CaAlgorithm>().unwrap(),
        CaAlgorithm::EcdsaP256
    );
    assert_eq!(
        "rsa3072".parse::<CaAlgorithm>().unwrap(),
        CaAlgorithm::Rsa3072
    );
    assert_eq!(CaAlgorithm::Rsa3072.to_string(), "rsa3072");
    assert_eq!(CaAlgorithm::EcdsaP256.to_string(), "p256");
    assert_eq!(
        "rsa".parse::<CaAlgorithm>().unwrap_err().code(),
        "LK-PKI-019"
    );

    let root = TenantCa::create("Contoso", NOW).unwrap();
    let fresh = IssuingCa::create(&root, "Contoso", CaAlgorithm::EcdsaP256, NOW).unwrap();
    let s = crate::inspect_certificate(fresh.cert_der()).unwrap();
    assert_eq!(s.not_after, NOW + Duration::days(5 * 365 + 1));
    let late = NOW + Duration::days(9 * 365);
    let capped = IssuingCa::create(&root, "Contoso", CaAlgorithm::EcdsaP256, late).unwrap();
    let root_end = crate::inspect_certificate(root.cert_der())
        .unwrap()
        .not_after;
    assert_eq!(
        crate::inspect_certificate(capped.cert_der())
            .unwrap()
            .not_after,
        root_end
    );
    let ra = RegistrationAuthority::create(&root, "Contoso", late).unwrap();
    assert_eq!(
        crate::inspect_certificate(ra.cert_der()).unwrap().not_after,
        root_end
    );
    let _ = asn1::DATA;
}
