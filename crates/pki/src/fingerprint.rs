//! Certificate fingerprints and PEM decoding.

use sha2::{Digest, Sha256};

use crate::PkiError;

/// SHA-256 fingerprint of DER bytes in the colon-separated uppercase hex form that
/// `openssl x509 -fingerprint -sha256` prints (`AB:CD:...`).
pub fn fingerprint_sha256(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    let mut out = String::with_capacity(digest.len() * 3);
    for (i, byte) in digest.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push_str(&format!("{byte:02X}"));
    }
    out
}

/// Decodes the first PEM block labelled `label` (e.g. `CERTIFICATE`) to DER.
pub fn pem_to_der(pem: &str, label: &str) -> Result<Vec<u8>, PkiError> {
    for item in x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes()) {
        let item = item.map_err(|e| PkiError::Pem(e.to_string()))?;
        if item.label == label {
            return Ok(item.contents);
        }
    }
    Err(PkiError::Pem(format!("no {label} block")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_has_openssl_form() {
        let fp = fingerprint_sha256(b"abc");
        assert_eq!(fp.len(), 32 * 3 - 1);
        assert!(fp.starts_with("BA:78:16:BF"));
    }

    #[test]
    fn pem_without_block_is_refused() {
        assert!(pem_to_der("nothing here", "CERTIFICATE").is_err());
    }
}
