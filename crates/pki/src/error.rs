//! Errors of the certificate authority.

/// A certificate operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// Key generation, parsing or signing failed inside rcgen.
    #[error("certificate operation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// A PEM document could not be decoded or is of the wrong kind.
    #[error("bad PEM: {0}")]
    Pem(String),
    /// A certificate could not be parsed.
    #[error("bad certificate: {0}")]
    Certificate(String),
    /// The SubjectPublicKeyInfo given for a device is malformed or of an unsupported type.
    #[error("unsupported or malformed public key: {0}")]
    PublicKey(String),
    /// A validity period does not fit in the certificate time range.
    #[error("validity out of range")]
    Validity,
}
