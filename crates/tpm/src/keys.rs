//! Hello keys and device keys: made, used and re-authorised inside the TPM.

use sha2::{Digest as _, Sha256};
use tss_esapi::constants::tss::TPM2_RH_NULL;
use tss_esapi::constants::StructureTag;
use tss_esapi::handles::KeyHandle;
use tss_esapi::interface_types::algorithm::HashingAlgorithm;
use tss_esapi::structures::{Digest, HashScheme, HashcheckTicket, Signature, SignatureScheme};
use tss_esapi::tss2_esys::TPMT_TK_HASHCHECK;

use crate::blob::KeyBlob;
use crate::device::{to_auth, Tpm};
use crate::error::{classify, from_tss, raw_rc, RcClass, TpmError};
use crate::templates;

impl Tpm {
    /// Make a Hello key: RSA-2048, RSASSA-PKCS1-v1_5 with SHA-256, under the storage
    /// primary key, `fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | sign`,
    /// dictionary-attack protected, with `auth` (the PIN or a value derived from it, at
    /// most 32 bytes) as its authorisation value.
    pub fn create_hello_key(&mut self, auth: &[u8]) -> Result<KeyBlob, TpmError> {
        self.create_signing_key(auth, false)
    }

    /// Make a device key: like a Hello key, with an empty authorisation value and `noDA`
    /// (nothing to guess, so nothing to count).
    pub fn create_device_key(&mut self) -> Result<KeyBlob, TpmError> {
        self.create_signing_key(&[], true)
    }

    fn create_signing_key(&mut self, auth: &[u8], no_da: bool) -> Result<KeyBlob, TpmError> {
        let auth = to_auth(auth)?;
        let template = templates::signing_key(no_da)?;
        let srk = self.srk()?;
        // The new key's authorisation value travels in inSensitive, encrypted by the
        // salted session.
        let created = self.with_salted_session("TPM2_Create", |ctx| {
            ctx.create(srk, template, Some(auth), None, None, None)
        })?;
        Ok(KeyBlob {
            private: created.out_private,
            public: created.out_public,
        })
    }

    /// Load `blob` under the storage primary key. A blob this TPM did not make fails with
    /// [`TpmError::NotThisTpm`]. The caller flushes the handle.
    pub(crate) fn load(&mut self, blob: &KeyBlob) -> Result<KeyHandle, TpmError> {
        let srk = self.srk()?;
        self.with_password(|ctx| ctx.load(srk, blob.private.clone(), blob.public.clone()))
            .map_err(load_error)
    }

    /// Sign a SHA-256 digest with RSASSA-PKCS1-v1_5 inside the TPM, presenting `auth`.
    /// Returns the 256-byte signature.
    ///
    /// A wrong `auth` is [`TpmError::WrongAuth`] and counts against the TPM's
    /// dictionary-attack protection; in lockout every attempt is
    /// [`TpmError::LockedOut`], with the right `auth` too.
    pub fn sign_digest(
        &mut self,
        blob: &KeyBlob,
        auth: &[u8],
        digest: &[u8; 32],
    ) -> Result<Vec<u8>, TpmError> {
        let key = self.load(blob)?;
        let result = self.sign_loaded(key, auth, digest);
        self.flush(key);
        result.map_err(|e| self.with_lockout_wait(e))
    }

    /// Hash `message` with SHA-256 on the host and sign the digest in the TPM
    /// ([`Tpm::sign_digest`]): the RSASSA-PKCS1-v1_5 SHA-256 signature over `message`.
    pub fn sign_message(
        &mut self,
        blob: &KeyBlob,
        auth: &[u8],
        message: &[u8],
    ) -> Result<Vec<u8>, TpmError> {
        let digest: [u8; 32] = Sha256::digest(message).into();
        self.sign_digest(blob, auth, &digest)
    }

    fn sign_loaded(
        &mut self,
        key: KeyHandle,
        auth: &[u8],
        digest: &[u8; 32],
    ) -> Result<Vec<u8>, TpmError> {
        self.set_auth(key.into(), auth)?;
        let digest = Digest::try_from(digest.to_vec()).map_err(|e| from_tss("TPM2_Sign", e))?;
        let scheme = SignatureScheme::RsaSsa {
            hash_scheme: HashScheme::new(HashingAlgorithm::Sha256),
        };
        // A null ticket: the key is not restricted, so the TPM need not have hashed the
        // message itself.
        let validation = HashcheckTicket::try_from(TPMT_TK_HASHCHECK {
            tag: StructureTag::Hashcheck.into(),
            hierarchy: TPM2_RH_NULL,
            digest: Default::default(),
        })
        .map_err(|e| from_tss("TPM2_Sign", e))?;
        let signature =
            self.with_salted_session("TPM2_Sign", |ctx| ctx.sign(key, digest, scheme, validation))?;
        match signature {
            Signature::RsaSsa(s) => Ok(s.signature().value().to_vec()),
            _ => Err(TpmError::UnexpectedObject {
                detail: "TPM2_Sign returned a signature that is not RSASSA",
            }),
        }
    }

    /// Change the key's authorisation value inside the TPM (TPM2_ObjectChangeAuth),
    /// presenting `old_auth`. Returns the key with its new wrapped private part; the public
    /// area, and so the key, stay the same.
    ///
    /// The old blob is NOT revoked: it still loads and still signs with `old_auth`. The
    /// caller must replace the stored blob and destroy every copy of the old one.
    pub fn change_auth(
        &mut self,
        blob: &KeyBlob,
        old_auth: &[u8],
        new_auth: &[u8],
    ) -> Result<KeyBlob, TpmError> {
        let new_auth = to_auth(new_auth)?;
        let key = self.load(blob)?;
        let srk = self.srk()?;
        let result = self.set_auth(key.into(), old_auth).and_then(|()| {
            self.with_salted_session("TPM2_ObjectChangeAuth", |ctx| {
                ctx.object_change_auth(key.into(), srk.into(), new_auth)
            })
        });
        self.flush(key);
        let private = result.map_err(|e| self.with_lockout_wait(e))?;
        Ok(KeyBlob {
            private,
            public: blob.public.clone(),
        })
    }
}

/// A failed TPM2_Load: an integrity failure means the blob was wrapped by another TPM (or
/// under another parent).
pub(crate) fn load_error(e: tss_esapi::Error) -> TpmError {
    if let tss_esapi::Error::Tss2Error(rc) = e {
        let raw = raw_rc(rc);
        if classify(raw) == RcClass::Integrity {
            return TpmError::NotThisTpm {
                detail: format!("TPM2_Load: {raw:#x} ({rc})"),
            };
        }
    }
    from_tss("TPM2_Load", e)
}
