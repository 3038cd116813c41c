//! Errors from decoding the byte formats of this crate.

/// A byte- or text-level format could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// Input is not valid unpadded base64url.
    #[error("LK-FMT-001: field `{field}` is not valid base64url")]
    Base64 {
        /// The field being decoded.
        field: &'static str,
    },
    /// A blob ended before a declared length was read.
    #[error("LK-FMT-002: {what} truncated at byte {offset}: need {needed} more bytes")]
    Truncated {
        /// The structure being decoded.
        what: &'static str,
        /// Byte offset where more data was needed.
        offset: usize,
        /// How many more bytes were needed.
        needed: usize,
    },
    /// A blob has bytes after its end.
    #[error("LK-FMT-003: {what} has {extra} trailing bytes at offset {offset}")]
    TrailingBytes {
        /// The structure being decoded.
        what: &'static str,
        /// Offset of the first extra byte.
        offset: usize,
        /// Number of extra bytes.
        extra: usize,
    },
    /// A magic number or version field has the wrong value.
    #[error("LK-FMT-004: {what} has magic/version {found:#010x}, expected {expected:#010x}")]
    BadMagic {
        /// The structure being decoded.
        what: &'static str,
        /// The value found.
        found: u32,
        /// The value required.
        expected: u32,
    },
    /// A field holds a value this implementation does not accept.
    #[error("LK-FMT-005: {what}: {detail}")]
    BadValue {
        /// The structure or field being decoded.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
}
