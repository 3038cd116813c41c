//! Arbitrary bytes into every parser that takes network input: no panic, a refusal.
#![allow(clippy::unwrap_used)]

use std::sync::OnceLock;

use der::Decode;
use proptest::prelude::*;

use crate::issue::tests::{pki, Pki, NOW};
use crate::{verify_request, CaAlgorithm, CertStatus};

fn shared() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| pki(CaAlgorithm::EcdsaP256))
}

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn the_roles_can_be_shared_between_threads() {
    assert_send_sync::<crate::IssuingCa>();
    assert_send_sync::<crate::RegistrationAuthority>();
    assert_send_sync::<crate::TenantCa>();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let p = shared();
        prop_assert!(verify_request(&bytes).is_err());
        prop_assert!(p.ca.issue(&bytes, p.root.cert_der(), NOW).is_err());
        let der = p.ca.ocsp_response(&bytes, &mut |_| CertStatus::Good, NOW, NOW + time::Duration::hours(1));
        prop_assert!(x509_ocsp::OcspResponse::from_der(&der).is_ok());
    }

    #[test]
    fn der_shaped_prefixes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..512)) {
        // A SEQUENCE header in front, so the parsers get past the first byte.
        let p = shared();
        let mut bytes = vec![0x30, 0x82, 0x01, 0x00];
        bytes.extend_from_slice(&tail);
        prop_assert!(verify_request(&bytes).is_err());
        prop_assert!(p.ca.issue(&bytes, p.root.cert_der(), NOW).is_err());
        let _ = p.ca.ocsp_response(&bytes, &mut |_| CertStatus::Good, NOW, NOW + time::Duration::hours(1));
    }
}
