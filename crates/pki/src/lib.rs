//! The tenant certificate authority of Latchkey.
//!
//! A tenant has one root CA (ECDSA P-256, self-signed, ten years). It issues the service's
//! TLS server certificate and one certificate per joined device (CN = device id,
//! clientAuth), and signs the two certificates of the Hello certificate hierarchy: the
//! issuing CA ([`IssuingCa`], P-256 or RSA 3072) and the registration authority
//! ([`RegistrationAuthority`], the enrolment agent). A device's PKCS#10 request
//! ([`build_request`], [`verify_request`]) is countersigned by the RA with the profile it
//! approved ([`CertificateProfile`], from a [`Template`]); the issuing CA checks that
//! countersignature and issues exactly the profile ([`IssuingCa::issue`]). The issuing CA
//! also makes KDC certificates, CRLs and OCSP responses.
//!
//! Everything here is pure: no file or network I/O, and every time is a parameter, so the
//! caller's clock decides validity.
#![forbid(unsafe_code)]

mod asn1;
mod ca;
mod countersign;
mod error;
mod fingerprint;
#[cfg(test)]
mod fuzz_tests;
mod hierarchy;
mod inspect;
mod issue;
mod names;
mod ocsp;
mod profile;
mod request;
mod revocation;
mod root_crl;
mod service_certs;
mod sigverify;
mod template;
#[cfg(test)]
mod testutil;

pub use ca::{IssuedCertificate, ServerCertificate, TenantCa};
pub use countersign::MAX_COUNTERSIGNED_LEN;
pub use error::PkiError;
pub use fingerprint::{fingerprint_sha256, pem_to_der};
pub use hierarchy::{CaAlgorithm, IssuingCa, RegistrationAuthority};
pub use inspect::{inspect_certificate, CertificateSummary};
pub use issue::{validate_hostname, UserCertificate};
pub use ocsp::{CertStatus, MAX_OCSP_CERTS, MAX_OCSP_REQUEST_LEN};
pub use profile::{validate_principal_name, validate_upn, CertificateProfile};
pub use request::{
    build_request, verify_request, RequestedExtras, VerifiedRequest, MAX_REQUEST_LEN,
};
pub use revocation::{RevocationReason, RevokedEntry};
pub use template::{validate_realm, Template, TemplateKind};
