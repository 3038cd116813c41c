//! RSA keys of the agent (Hello keys and device keys), signing through `ring`.
//!
//! Every RSA signature the agent makes goes through `ring`'s constant-time RSASSA-PKCS1-v1_5
//! with SHA-256 (`RsaKeyPair::sign`, `RSA_PKCS1_SHA256`). The `rsa` crate carries
//! RUSTSEC-2023-0071 (Marvin: a timing side channel in its private-key operation), so it is
//! used here ONLY to generate keys (`ring` cannot) and to encode public keys (the BCRYPT
//! blob's modulus and exponent, SubjectPublicKeyInfo DER): neither touches the private
//! exponent in a way an observer can time against chosen inputs.
//!
//! The one exception to `ring` is a signature over a digest the caller computed (the
//! smart-card module's `CKM_RSA_PKCS` and `CKM_RSA_PKCS_PSS`), which `ring` cannot make:
//! those go through the system OpenSSL 3 ([`RsaSigner::sign_prehashed`]), whose RSA
//! private-key operation is constant time with blinding.

use std::sync::Arc;

use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use zeroize::Zeroizing;

use crate::error::AgentError;

/// An RSA private key: `ring`'s key pair for signing, the public half for encoding, and the
/// PKCS#8 DER for storage (zeroized on drop).
#[derive(Clone)]
pub(crate) struct RsaSigner {
    pair: Arc<RsaKeyPair>,
    public: RsaPublicKey,
    pkcs8: Arc<Zeroizing<Vec<u8>>>,
    /// OpenSSL's parse of the key, made at the first prehashed signature and kept (OpenSSL
    /// 3's PKCS#8 decoder costs more than the signature itself).
    openssl: Arc<std::sync::OnceLock<openssl::pkey::PKey<openssl::pkey::Private>>>,
}

fn crypto(what: &str, e: impl std::fmt::Display) -> AgentError {
    AgentError::Crypto(format!("{what}: {e}"))
}

impl RsaSigner {
    /// Generates a key of `bits` bits (with the `rsa` crate: generation only).
    pub(crate) fn generate(bits: usize, what: &str) -> Result<Self, AgentError> {
        let key = RsaPrivateKey::new(&mut rand::rngs::OsRng, bits)
            .map_err(|e| crypto(&format!("{what} generation"), e))?;
        let der = key.to_pkcs8_der().map_err(|e| crypto(what, e))?;
        Self::from_pkcs8(der.as_bytes(), what)
    }

    /// Loads a PKCS#8 RSA private key.
    pub(crate) fn from_pkcs8(der: &[u8], what: &str) -> Result<Self, AgentError> {
        let pair = RsaKeyPair::from_pkcs8(der).map_err(|e| crypto(what, e))?;
        // Only the public half is kept from the `rsa` crate's parse.
        let public = RsaPrivateKey::from_pkcs8_der(der)
            .map_err(|e| crypto(what, e))?
            .to_public_key();
        Ok(RsaSigner {
            pair: Arc::new(pair),
            public,
            pkcs8: Arc::new(Zeroizing::new(der.to_vec())),
            openssl: Arc::new(std::sync::OnceLock::new()),
        })
    }

    /// The private key as PKCS#8 DER.
    pub(crate) fn pkcs8(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.pkcs8.as_slice().to_vec())
    }

    /// The modulus, big-endian.
    pub(crate) fn modulus(&self) -> Vec<u8> {
        self.public.n().to_bytes_be()
    }

    /// The public exponent, big-endian.
    pub(crate) fn exponent(&self) -> Vec<u8> {
        self.public.e().to_bytes_be()
    }

    /// The modulus size in bits, rounded to whole bytes.
    pub(crate) fn bits(&self) -> usize {
        self.public.size() * 8
    }

    /// The public key as SubjectPublicKeyInfo DER.
    pub(crate) fn spki_der(&self) -> Result<Vec<u8>, AgentError> {
        self.public
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .map_err(|e| crypto("public key", e))
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message`, by `ring` (constant time).
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, AgentError> {
        let mut signature = vec![0u8; self.pair.public().modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|e| crypto("RSA signature", e))?;
        Ok(signature)
    }
}

impl RsaSigner {
    /// The signature over `prehashed` (its padding and hash), by OpenSSL 3.
    pub(crate) fn sign_prehashed(
        &self,
        prehashed: &crate::prehashed::Prehashed,
    ) -> Result<Vec<u8>, AgentError> {
        use crate::prehashed::{HashAlg, Padding};
        use openssl::md::Md;
        use openssl::pkey::PKey;
        use openssl::pkey_ctx::PkeyCtx;
        use openssl::rsa::Padding as OsslPadding;
        use openssl::sign::RsaPssSaltlen;
        let e = |x: openssl::error::ErrorStack| crypto("RSA signature (OpenSSL)", x);
        let pkey = match self.openssl.get() {
            Some(k) => k,
            None => {
                let parsed = PKey::private_key_from_pkcs8(&self.pkcs8).map_err(e)?;
                self.openssl.get_or_init(|| parsed)
            }
        };
        let md = match prehashed.hash() {
            HashAlg::Sha1 => Md::sha1(),
            HashAlg::Sha256 => Md::sha256(),
            HashAlg::Sha384 => Md::sha384(),
            HashAlg::Sha512 => Md::sha512(),
        };
        let mut ctx = PkeyCtx::new(pkey).map_err(e)?;
        ctx.sign_init().map_err(e)?;
        match prehashed.padding() {
            Padding::Pkcs1 => ctx.set_rsa_padding(OsslPadding::PKCS1).map_err(e)?,
            Padding::Pss => {
                ctx.set_rsa_padding(OsslPadding::PKCS1_PSS).map_err(e)?;
                ctx.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)
                    .map_err(e)?;
                ctx.set_rsa_mgf1_md(md).map_err(e)?;
            }
        }
        // With the digest named, OpenSSL itself writes the DigestInfo (PKCS#1 v1.5) or
        // the PSS encoding for that hash.
        ctx.set_signature_md(md).map_err(e)?;
        let mut signature = Vec::new();
        ctx.sign_to_vec(prehashed.digest(), &mut signature)
            .map_err(e)?;
        Ok(signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};

    #[test]
    fn a_ring_signature_verifies_under_the_published_key() {
        let key = RsaSigner::generate(2048, "test key").unwrap();
        let sig = key.sign(b"message").unwrap();
        assert_eq!(sig.len(), 256);
        // Verified under the published SubjectPublicKeyInfo by an independent verifier
        // (the `rsa` crate's), and under the PKCS#1 public key by ring's.
        let spki = key.spki_der().unwrap();
        use rsa::pkcs8::DecodePublicKey;
        use rsa::signature::Verifier;
        let published = RsaPublicKey::from_public_key_der(&spki).unwrap();
        let verifier = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(published);
        let parsed = rsa::pkcs1v15::Signature::try_from(sig.as_slice()).unwrap();
        assert!(verifier.verify(b"message", &parsed).is_ok());
        assert!(verifier.verify(b"other", &parsed).is_err());
        let ring_public =
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.pair.public().as_ref());
        assert!(ring_public.verify(b"message", &sig).is_ok());
        // A reload signs alike (PKCS#1 v1.5 is deterministic).
        let again = RsaSigner::from_pkcs8(&key.pkcs8(), "test key").unwrap();
        assert_eq!(again.sign(b"message").unwrap(), sig);
    }

    #[test]
    fn prehashed_signatures_verify_independently() {
        use crate::prehashed::{HashAlg, Padding, Prehashed};
        let key = RsaSigner::generate(2048, "test key").unwrap();
        let ring_key = key.pair.public().as_ref().to_vec();
        // PKCS#1 v1.5 over a SHA-256 DigestInfo equals ring's signature of the message.
        let info = Prehashed::new(
            Padding::Pkcs1,
            HashAlg::Sha256,
            &HashAlg::Sha256.digest(b"m"),
        )
        .unwrap()
        .digest_info();
        let p = Prehashed::from_digest_info(&info).unwrap();
        assert_eq!(key.sign_prehashed(&p).unwrap(), key.sign(b"m").unwrap());
        for (hash, alg) in [
            (HashAlg::Sha256, &ring::signature::RSA_PSS_2048_8192_SHA256),
            (HashAlg::Sha384, &ring::signature::RSA_PSS_2048_8192_SHA384),
            (HashAlg::Sha512, &ring::signature::RSA_PSS_2048_8192_SHA512),
        ] {
            let p = Prehashed::new(Padding::Pss, hash, &hash.digest(b"m")).unwrap();
            let sig = key.sign_prehashed(&p).unwrap();
            let public = UnparsedPublicKey::new(alg, &ring_key);
            assert!(public.verify(b"m", &sig).is_ok(), "{hash:?}");
            assert!(public.verify(b"n", &sig).is_err());
        }
        for (hash, alg) in [
            (
                HashAlg::Sha384,
                &ring::signature::RSA_PKCS1_2048_8192_SHA384,
            ),
            (
                HashAlg::Sha512,
                &ring::signature::RSA_PKCS1_2048_8192_SHA512,
            ),
        ] {
            let p = Prehashed::new(Padding::Pkcs1, hash, &hash.digest(b"m")).unwrap();
            let sig = key.sign_prehashed(&p).unwrap();
            assert!(UnparsedPublicKey::new(alg, &ring_key)
                .verify(b"m", &sig)
                .is_ok());
        }
    }
}
