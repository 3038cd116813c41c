#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use der::asn1::{Null, OctetString};
use der::{Decode, Encode};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::Extension;
use x509_cert::serial_number::SerialNumber;
use x509_cert::Certificate;
use x509_ocsp::{
    BasicOcspResponse, CertId, OcspRequest, OcspResponse, OcspResponseStatus, Request, TbsRequest,
};

use super::*;
use crate::issue::tests::{pki, NOW};
use crate::{CaAlgorithm, IssuingCa, RevocationReason, RevokedEntry};
use time::Duration;

fn cert_id<D: Digest>(ca: &IssuingCa, oid: &str, serial: &[u8]) -> CertId {
    let cert = Certificate::from_der(ca.cert_der()).unwrap();
    let tbs = cert.tbs_certificate;
    CertId {
        hash_algorithm: AlgorithmIdentifierOwned {
            oid: der::asn1::ObjectIdentifier::new_unwrap(oid),
            parameters: Some(Null.into()),
        },
        issuer_name_hash: OctetString::new(D::digest(tbs.subject.to_der().unwrap()).to_vec())
            .unwrap(),
        issuer_key_hash: OctetString::new(
            D::digest(tbs.subject_public_key_info.subject_public_key.raw_bytes()).to_vec(),
        )
        .unwrap(),
        serial_number: SerialNumber::new(serial).unwrap(),
    }
}

fn request(ids: Vec<CertId>, nonce: Option<&[u8]>) -> Vec<u8> {
    OcspRequest {
        tbs_request: TbsRequest {
            version: Default::default(),
            requestor_name: None,
            request_list: ids
                .into_iter()
                .map(|req_cert| Request {
                    req_cert,
                    single_request_extensions: None,
                })
                .collect(),
            request_extensions: nonce.map(|n| {
                vec![Extension {
                    extn_id: asn1::OCSP_NONCE,
                    critical: false,
                    extn_value: OctetString::new(OctetString::new(n).unwrap().to_der().unwrap())
                        .unwrap(),
                }]
            }),
        },
        optional_signature: None,
    }
    .to_der()
    .unwrap()
}

fn status(der: &[u8]) -> OcspResponseStatus {
    OcspResponse::from_der(der).unwrap().response_status
}

fn basic(ca: &IssuingCa, der: &[u8]) -> BasicOcspResponse {
    let response = OcspResponse::from_der(der).unwrap();
    assert_eq!(response.response_status, OcspResponseStatus::Successful);
    let bytes = response.response_bytes.unwrap();
    assert_eq!(bytes.response_type, asn1::OCSP_BASIC);
    let basic = BasicOcspResponse::from_der(bytes.response.as_bytes()).unwrap();
    let cert = Certificate::from_der(ca.cert_der()).unwrap();
    crate::sigverify::verify(
        &cert.tbs_certificate.subject_public_key_info,
        &basic.signature_algorithm,
        &basic.tbs_response_data.to_der().unwrap(),
        basic.signature.as_bytes().unwrap(),
    )
    .expect("signed by the issuing CA key");
    basic
}

const SERIAL: [u8; 3] = [0x41, 0x02, 0x03];
const REVOKED: [u8; 3] = [0x41, 0x02, 0x04];

fn store(serial: &[u8]) -> CertStatus {
    if serial == SERIAL {
        CertStatus::Good
    } else if serial == REVOKED {
        CertStatus::Revoked {
            at: NOW - Duration::hours(1),
            reason: RevocationReason::KeyCompromise,
        }
    } else {
        CertStatus::Unknown
    }
}

#[test]
fn good_revoked_unknown_and_nonce() {
    for alg in [CaAlgorithm::EcdsaP256, CaAlgorithm::Rsa3072] {
        let p = pki(alg);
        let ca = &p.ca;
        let other =
            crate::IssuingCa::create(&p.root, "Other", CaAlgorithm::EcdsaP256, NOW).unwrap();
        let ids = vec![
            cert_id::<Sha1>(ca, "1.3.14.3.2.26", &SERIAL),
            cert_id::<Sha256>(ca, "2.16.840.1.101.3.4.2.1", &REVOKED),
            cert_id::<Sha1>(ca, "1.3.14.3.2.26", &[0x41, 9]),
            cert_id::<Sha1>(&other, "1.3.14.3.2.26", &SERIAL),
        ];
        let mut asked = Vec::new();
        let der = ca.ocsp_response(
            &request(ids, Some(b"0123456789abcdef")),
            &mut |s| {
                asked.push(s.to_vec());
                store(s)
            },
            NOW,
            NOW + Duration::hours(4),
        );
        assert_eq!(asked, [SERIAL.to_vec(), REVOKED.to_vec(), vec![0x41, 9]]);
        let b = basic(ca, &der);
        let statuses: Vec<_> = b
            .tbs_response_data
            .responses
            .iter()
            .map(|r| r.cert_status)
            .collect();
        assert!(matches!(statuses[0], x509_ocsp::CertStatus::Good(_)));
        match statuses[1] {
            x509_ocsp::CertStatus::Revoked(info) => assert_eq!(
                info.revocation_reason,
                Some(x509_cert::ext::pkix::CrlReason::KeyCompromise)
            ),
            other => panic!("{other:?}"),
        }
        assert!(matches!(statuses[2], x509_ocsp::CertStatus::Unknown(_)));
        assert!(
            matches!(statuses[3], x509_ocsp::CertStatus::Unknown(_)),
            "other issuer"
        );
        let nonce = b.nonce().unwrap();
        assert_eq!(nonce.0.as_bytes(), b"0123456789abcdef");
        assert!(matches!(
            b.tbs_response_data.responder_id,
            x509_ocsp::ResponderId::ByKey(_)
        ));
    }
}

#[test]
fn refusals_are_ocsp_responses() {
    let p = pki(CaAlgorithm::EcdsaP256);
    let ca = &p.ca;
    let other = crate::IssuingCa::create(&p.root, "Other", CaAlgorithm::EcdsaP256, NOW).unwrap();
    let next = NOW + Duration::hours(4);
    let mut called = false;
    let mut never = |_: &[u8]| {
        called = true;
        CertStatus::Good
    };
    for bad in [
        b"".to_vec(),
        b"junk".to_vec(),
        request(vec![], None),
        request(
            vec![cert_id::<Sha1>(ca, "1.3.14.3.2.26", &SERIAL); 17],
            None,
        ),
        vec![0x30; MAX_OCSP_REQUEST_LEN + 1],
    ] {
        let der = ca.ocsp_response(&bad, &mut never, NOW, next);
        assert_eq!(status(&der), OcspResponseStatus::MalformedRequest);
    }
    let valid = request(vec![cert_id::<Sha1>(ca, "1.3.14.3.2.26", &SERIAL)], None);
    let der = ca.ocsp_response(&[valid.clone(), vec![0]].concat(), &mut never, NOW, next);
    assert_eq!(
        status(&der),
        OcspResponseStatus::MalformedRequest,
        "trailing bytes"
    );
    // Only other issuers, or a hash we do not take: unauthorized.
    let der = ca.ocsp_response(
        &request(
            vec![cert_id::<Sha1>(&other, "1.3.14.3.2.26", &SERIAL)],
            None,
        ),
        &mut never,
        NOW,
        next,
    );
    assert_eq!(status(&der), OcspResponseStatus::Unauthorized);
    let der = ca.ocsp_response(
        &request(
            vec![cert_id::<Sha256>(ca, "2.16.840.1.101.3.4.2.3", &SERIAL)],
            None,
        ),
        &mut never,
        NOW,
        next,
    );
    assert_eq!(status(&der), OcspResponseStatus::Unauthorized);
    assert!(!called, "the store is not asked about anything refused");
    // Exactly 16 is fine.
    let der = ca.ocsp_response(
        &request(
            vec![cert_id::<Sha1>(ca, "1.3.14.3.2.26", &SERIAL); 16],
            None,
        ),
        &mut store,
        NOW,
        next,
    );
    assert_eq!(basic(ca, &der).tbs_response_data.responses.len(), 16);
}

#[test]
fn mangled_ocsp_requests_never_panic() {
    let p = pki(CaAlgorithm::EcdsaP256);
    let valid = request(
        vec![cert_id::<Sha1>(&p.ca, "1.3.14.3.2.26", &SERIAL)],
        Some(b"nonce"),
    );
    let next = NOW + Duration::hours(4);
    for cut in 0..valid.len() {
        let der = p.ca.ocsp_response(&valid[..cut], &mut store, NOW, next);
        assert!(OcspResponse::from_der(&der).is_ok());
    }
    for i in 0..valid.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = valid.clone();
            bad[i] ^= bit;
            let der = p.ca.ocsp_response(&bad, &mut store, NOW, next);
            assert!(OcspResponse::from_der(&der).is_ok());
        }
    }
}

#[test]
fn the_crl_lists_the_revoked_serials_with_reasons() {
    use x509_cert::crl::CertificateList;
    for alg in [CaAlgorithm::EcdsaP256, CaAlgorithm::Rsa3072] {
        let p = pki(alg);
        let entries = vec![
            RevokedEntry {
                serial: REVOKED.to_vec(),
                revoked_at: NOW - Duration::hours(1),
                reason: RevocationReason::KeyCompromise,
            },
            RevokedEntry {
                serial: vec![0x7f; 16],
                revoked_at: NOW - Duration::hours(2),
                reason: RevocationReason::Unspecified,
            },
        ];
        let der = p.ca.crl(&entries, 7, NOW, NOW + Duration::days(1)).unwrap();
        let crl = CertificateList::from_der(&der).unwrap();
        let ca_cert = Certificate::from_der(p.ca.cert_der()).unwrap();
        crate::sigverify::verify(
            &ca_cert.tbs_certificate.subject_public_key_info,
            &crl.signature_algorithm,
            &crl.tbs_cert_list.to_der().unwrap(),
            crl.signature.as_bytes().unwrap(),
        )
        .unwrap();
        let tbs = &crl.tbs_cert_list;
        assert_eq!(tbs.issuer, ca_cert.tbs_certificate.subject);
        let revoked = tbs.revoked_certificates.as_ref().unwrap();
        assert_eq!(revoked.len(), 2);
        assert_eq!(revoked[0].serial_number.as_bytes(), REVOKED);
        let reason_oid = der::asn1::ObjectIdentifier::new_unwrap("2.5.29.21");
        let reasons = |i: usize| {
            revoked[i]
                .crl_entry_extensions
                .iter()
                .flatten()
                .filter(|e| e.extn_id == reason_oid)
                .count()
        };
        assert_eq!(
            (reasons(0), reasons(1)),
            (1, 0),
            "no reason code for unspecified"
        );
        let ext_ids: Vec<String> = tbs
            .crl_extensions
            .iter()
            .flatten()
            .map(|e| e.extn_id.to_string())
            .collect();
        assert!(ext_ids.contains(&"2.5.29.20".to_string()), "CRL number");
        assert!(ext_ids.contains(&"2.5.29.35".to_string()), "AKI");
    }
}

#[test]
fn crl_inputs_are_checked() {
    let p = pki(CaAlgorithm::EcdsaP256);
    let entry = |serial: Vec<u8>, reason| RevokedEntry {
        serial,
        revoked_at: NOW,
        reason,
    };
    let next = NOW + Duration::days(1);
    let err =
        p.ca.crl(&[entry(vec![], RevocationReason::Superseded)], 1, NOW, next)
            .unwrap_err();
    assert_eq!(err.code(), "LK-PKI-032");
    let err =
        p.ca.crl(
            &[entry(vec![1; 21], RevocationReason::Superseded)],
            1,
            NOW,
            next,
        )
        .unwrap_err();
    assert_eq!(err.code(), "LK-PKI-032");
    let err =
        p.ca.crl(
            &[entry(vec![1], RevocationReason::RemoveFromCrl)],
            1,
            NOW,
            next,
        )
        .unwrap_err();
    assert_eq!(err.code(), "LK-PKI-031");
    assert_eq!(p.ca.crl(&[], 1, NOW, NOW).unwrap_err().code(), "LK-PKI-005");
    p.ca.crl(&[], 1, NOW, next).unwrap();
}
