#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::*;
use crate::testutil::{other_rsa2048, rsa2048, P256Key, RsaKey};

fn rsa_request(cn: &str) -> Vec<u8> {
    let key = rsa2048();
    build_request(&key.spki, cn, &mut |m| key.sign(m)).unwrap()
}

#[test]
fn rsa_request_round_trips() {
    let der = rsa_request("alice@contoso.test");
    let verified = verify_request(&der).unwrap();
    assert_eq!(verified.spki_der, rsa2048().spki);
    assert_eq!(verified.subject, "alice@contoso.test");
    assert_eq!(verified.requested, RequestedExtras::default());
}

#[test]
fn p256_request_round_trips_from_fixed_signatures() {
    // Many keys/signatures so that r or s with a high bit or a leading zero byte occur.
    for _ in 0..20 {
        let key = P256Key::generate();
        let der = build_request(&key.spki, "bob@contoso.test", &mut |m| key.sign(m)).unwrap();
        let verified = verify_request(&der).unwrap();
        assert_eq!(verified.spki_der, key.spki);
        assert_eq!(verified.subject, "bob@contoso.test");
    }
}

#[test]
fn a_request_signed_by_another_key_is_refused() {
    let key = rsa2048();
    let other = other_rsa2048();
    let err = build_request(&key.spki, "alice", &mut |m| other.sign(m)).unwrap_err();
    assert!(matches!(err, PkiError::RequestSignature), "{err}");
    assert_eq!(err.code(), "LK-PKI-011");

    // The same forged request put together by hand is refused by verify_request too.
    let info = CertReqInfo {
        version: Version::V1,
        subject: common_name("alice").unwrap(),
        public_key: SubjectPublicKeyInfoOwned::from_der(&key.spki).unwrap(),
        attributes: SetOfVec::new(),
    };
    let sig = other.sign(&info.to_der().unwrap()).unwrap();
    let forged = CertReq {
        info,
        algorithm: AlgorithmIdentifierOwned {
            oid: asn1::SHA256_WITH_RSA,
            parameters: Some(der::asn1::Null.into()),
        },
        signature: BitString::from_bytes(&sig).unwrap(),
    }
    .to_der()
    .unwrap();
    assert!(matches!(
        verify_request(&forged),
        Err(PkiError::RequestSignature)
    ));
}

#[test]
fn a_p256_request_signed_by_another_key_is_refused() {
    let key = P256Key::generate();
    let other = P256Key::generate();
    let err = build_request(&key.spki, "alice", &mut |m| other.sign(m)).unwrap_err();
    assert!(matches!(err, PkiError::RequestSignature), "{err}");
}

#[test]
fn garbage_truncated_and_trailing_bytes_are_refused() {
    let der = rsa_request("alice");
    for bad in [
        b"".to_vec(),
        b"garbage".to_vec(),
        der[..der.len() - 1].to_vec(),
        der[..10].to_vec(),
        [der.clone(), vec![0]].concat(),
        [der.clone(), der.clone()].concat(),
    ] {
        let err = verify_request(&bad).unwrap_err();
        assert!(matches!(err, PkiError::RequestMalformed(_)), "{err}");
        assert_eq!(err.code(), "LK-PKI-007");
    }
    let big = vec![0x30; MAX_REQUEST_LEN + 1];
    assert!(matches!(
        verify_request(&big),
        Err(PkiError::RequestTooLarge(_))
    ));
}

#[test]
fn a_flipped_byte_in_the_signed_part_fails_the_signature() {
    let der = rsa_request("alice");
    // The subject CN's last letter sits inside the signed info.
    let pos = der.windows(5).position(|w| w == b"alice").unwrap() + 4;
    let mut bad = der.clone();
    bad[pos] ^= 0x01;
    assert!(matches!(
        verify_request(&bad),
        Err(PkiError::RequestSignature)
    ));
}

#[test]
fn unsupported_key_types_are_refused() {
    // An Ed25519 key: algorithm 1.3.101.112.
    let mut ed = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    ed.extend_from_slice(&[7; 32]);
    let err = build_request(&ed, "x", &mut |_| Ok(vec![0; 64])).unwrap_err();
    assert!(matches!(err, PkiError::RequestKeyUnsupported(_)), "{err}");
    let info = CertReqInfo {
        version: Version::V1,
        subject: common_name("x").unwrap(),
        public_key: SubjectPublicKeyInfoOwned::from_der(&ed).unwrap(),
        attributes: SetOfVec::new(),
    };
    let req = CertReq {
        info,
        algorithm: AlgorithmIdentifierOwned {
            oid: der::asn1::ObjectIdentifier::new_unwrap("1.3.101.112"),
            parameters: None,
        },
        signature: BitString::from_bytes(&[0; 64]).unwrap(),
    }
    .to_der()
    .unwrap();
    let err = verify_request(&req).unwrap_err();
    assert!(matches!(err, PkiError::RequestKeyUnsupported(_)), "{err}");
    assert_eq!(err.code(), "LK-PKI-008");
}

#[test]
fn short_rsa_keys_are_refused() {
    let small = RsaKey::generate(1024);
    let err = build_request(&small.spki, "x", &mut |_| Ok(vec![1; 128])).unwrap_err();
    assert!(matches!(err, PkiError::RequestKeySize(1024)), "{err}");
}

#[test]
fn a_mismatched_signature_algorithm_is_refused() {
    let der = rsa_request("alice");
    let mut req = CertReq::from_der(&der).unwrap();
    req.algorithm = AlgorithmIdentifierOwned {
        oid: asn1::ECDSA_WITH_SHA256,
        parameters: None,
    };
    let err = verify_request(&req.to_der().unwrap()).unwrap_err();
    assert!(
        matches!(err, PkiError::RequestSignatureAlgorithm(_)),
        "{err}"
    );
    // SHA-1 with RSA is not accepted.
    req.algorithm = AlgorithmIdentifierOwned {
        oid: der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.5"),
        parameters: Some(der::asn1::Null.into()),
    };
    let err = verify_request(&req.to_der().unwrap()).unwrap_err();
    assert!(
        matches!(err, PkiError::RequestSignatureAlgorithm(_)),
        "{err}"
    );
}

#[test]
fn a_callback_error_or_bad_length_is_reported() {
    let key = P256Key::generate();
    let err = build_request(&key.spki, "x", &mut |_| Err("PIN locked".into())).unwrap_err();
    assert!(
        matches!(err, PkiError::Signer(ref m) if m == "PIN locked"),
        "{err}"
    );
    let err = build_request(&key.spki, "x", &mut |_| Ok(vec![1; 63])).unwrap_err();
    assert!(matches!(err, PkiError::Signer(_)), "{err}");
}

#[test]
fn requested_extensions_are_reported() {
    use rcgen::{
        BasicConstraints as RcBc, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
        KeyPair, SanType, PKCS_ECDSA_P256_SHA256,
    };
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "mallory@contoso.test");
    params.is_ca = IsCa::Ca(RcBc::Unconstrained);
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::CodeSigning,
    ];
    params.subject_alt_names = vec![
        SanType::Rfc822Name("admin@contoso.test".try_into().unwrap()),
        SanType::DnsName("dc.contoso.test".try_into().unwrap()),
        SanType::OtherName((
            vec![1, 3, 6, 1, 4, 1, 311, 20, 2, 3],
            rcgen::OtherNameValue::Utf8String("admin@contoso.test".into()),
        )),
    ];
    let der = params.serialize_request(&key).unwrap().der().to_vec();
    let verified = verify_request(&der).unwrap();
    assert_eq!(verified.subject, "mallory@contoso.test");
    assert!(verified.requested.ca);
    assert_eq!(
        verified.requested.extended_key_usages,
        ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.3"]
    );
    assert_eq!(
        verified.requested.subject_alt_names,
        [
            "email:admin@contoso.test",
            "dns:dc.contoso.test",
            "upn:admin@contoso.test"
        ]
    );
}

#[test]
fn bit_flips_and_truncations_never_panic() {
    let der = rsa_request("alice");
    for cut in 0..der.len() {
        let _ = verify_request(&der[..cut]);
    }
    for i in 0..der.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = der.clone();
            bad[i] ^= bit;
            assert!(verify_request(&bad).is_err(), "flip at {i} accepted");
        }
    }
}
