//! The error of sealing or opening a secret at rest. The sealing itself is the service's
//! (`latchkey_server::secrets`); the error lives here because storage reports it when it
//! seals a data directory's existing secrets in one transaction.

/// A secret could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretsError {
    /// The stored value is not a sealed value of a known format.
    #[error("the stored {slot} is not a sealed secret of a known format")]
    UnknownFormat {
        /// Which secret.
        slot: String,
    },
    /// The value was sealed under another key-encryption key than the one loaded.
    #[error(
        "the stored {slot} was sealed under key-encryption key {sealed_by}, but the key file \
         holds key {loaded}: give the service the key file this database was sealed with"
    )]
    WrongKey {
        /// Which secret.
        slot: String,
        /// The KEK id in the sealed value.
        sealed_by: String,
        /// The id of the KEK loaded.
        loaded: String,
    },
    /// The value does not authenticate under the right key: it was altered or moved.
    #[error("the stored {slot} does not authenticate: it was altered or copied from elsewhere")]
    Tampered {
        /// Which secret.
        slot: String,
    },
    /// Sealing failed (AES-GCM refused the input; not expected for any input).
    #[error("sealing the {slot} failed")]
    Seal {
        /// Which secret.
        slot: String,
    },
}
