//! The tenant certificate authority of Latchkey.
//!
//! A tenant has one CA (ECDSA P-256, self-signed, ten years). It issues the service's TLS
//! server certificate and one certificate per joined device (CN = device id, clientAuth).
//! Everything here is pure: no file or network I/O, and every time is a parameter, so the
//! caller's clock decides validity.
#![forbid(unsafe_code)]

mod ca;
mod error;
mod fingerprint;
mod inspect;

pub use ca::{IssuedCertificate, ServerCertificate, TenantCa};
pub use error::PkiError;
pub use fingerprint::{fingerprint_sha256, pem_to_der};
pub use inspect::{inspect_certificate, CertificateSummary};
