//! The device side of TPM attestation: the endorsement key and its certificate, an
//! attestation key (AIK) under it, TPM2_Certify of a key by the AIK, and
//! TPM2_ActivateCredential of a credential the service made for the AIK.

use tss_esapi::abstraction::{ak, ek, AsymmetricAlgorithmSelection};
use tss_esapi::constants::SessionType;
use tss_esapi::handles::{AuthHandle, KeyHandle, SessionHandle};
use tss_esapi::interface_types::algorithm::{HashingAlgorithm, SignatureSchemeAlgorithm};
use tss_esapi::interface_types::key_bits::RsaKeyBits;
use tss_esapi::interface_types::session_handles::{AuthSession, PolicySession};
use tss_esapi::structures::{
    Data, EncryptedSecret, IdObject, SignatureScheme, SymmetricDefinition,
};
use tss_esapi::traits::Marshall;

use crate::blob::{tpm2b_contents, KeyBlob, RsaPublicKey};
use crate::device::Tpm;
use crate::error::{from_tss, TpmError};

/// The NV index of the RSA-2048 EK certificate (TCG EK Credential Profile 2.0, "Low Range":
/// 0x01c00002).
pub const EK_CERT_NV_INDEX_RSA: u32 = 0x01c0_0002;

/// The largest qualifying data TPM2_Certify takes (TPM2B_DATA: sizeof(TPMT_HA) = 66 bytes
/// in the reference implementation; 64 is safe everywhere).
pub const MAX_QUALIFYING_DATA: usize = 64;

/// The endorsement key's public side and certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endorsement {
    /// The EK's public area (TPMT_PUBLIC), made from the TCG default RSA-2048 EK template.
    pub public_area: Vec<u8>,
    /// The same as TPM2B_PUBLIC (tpm2-tools' file form).
    pub public_tpm2b: Vec<u8>,
    /// The EK's RSA public key (the same key the certificate must certify).
    pub rsa: RsaPublicKey,
    /// The EK certificate (DER) from NV index 0x01c00002.
    pub certificate: Vec<u8>,
}

/// The output of TPM2_Certify, marshalled exactly as the TPM returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certification {
    /// TPMS_ATTEST (the bytes the signature covers).
    pub attest: Vec<u8>,
    /// TPMT_SIGNATURE by the AIK.
    pub signature: Vec<u8>,
}

impl Tpm {
    /// Make the EK from the TCG default RSA-2048 template (low range, policy A) and read its
    /// certificate from NV.
    pub fn endorsement(&mut self) -> Result<Endorsement, TpmError> {
        let certificate = self.ek_certificate()?;
        let ek = self.create_ek()?;
        let public = self.ctx.read_public(ek);
        self.flush(ek);
        let (public, _, _) = public.map_err(|e| from_tss("TPM2_ReadPublic(EK)", e))?;
        let blob = KeyBlob {
            private: Default::default(),
            public,
        };
        Ok(Endorsement {
            public_area: blob.public_area()?,
            public_tpm2b: blob.public_tpm2b()?,
            rsa: blob.rsa_public()?,
            certificate,
        })
    }

    /// The EK certificate (DER) from NV index 0x01c00002.
    pub fn ek_certificate(&mut self) -> Result<Vec<u8>, TpmError> {
        ek::retrieve_ek_pubcert(
            &mut self.ctx,
            AsymmetricAlgorithmSelection::Rsa(RsaKeyBits::Rsa2048),
        )
        .map_err(|e| TpmError::NoEkCertificate {
            index: EK_CERT_NV_INDEX_RSA,
            detail: e.to_string(),
        })
    }

    fn create_ek(&mut self) -> Result<KeyHandle, TpmError> {
        ek::create_ek_object_2(
            &mut self.ctx,
            AsymmetricAlgorithmSelection::Rsa(RsaKeyBits::Rsa2048),
            None,
        )
        .map_err(|e| from_tss("TPM2_CreatePrimary(EK)", e))
    }

    /// Make an attestation key under the EK: a restricted RSA-2048 signing key, RSASSA
    /// SHA-256, `fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth`, empty
    /// authorisation. The returned blob is its stored form (reload with the EK,
    /// which the TPM recreates from the template each time).
    pub fn create_aik(&mut self) -> Result<KeyBlob, TpmError> {
        let ek = self.create_ek()?;
        let created = ak::create_ak_2(
            &mut self.ctx,
            ek,
            HashingAlgorithm::Sha256,
            AsymmetricAlgorithmSelection::Rsa(RsaKeyBits::Rsa2048),
            SignatureSchemeAlgorithm::RsaSsa,
            None,
            None,
        );
        self.flush(ek);
        let created = created.map_err(|e| from_tss("TPM2_Create(AIK)", e))?;
        Ok(KeyBlob {
            private: created.out_private,
            public: created.out_public,
        })
    }

    /// Load the AIK under a fresh EK, then flush the EK. The caller flushes the AIK.
    fn load_aik(&mut self, aik: &KeyBlob) -> Result<KeyHandle, TpmError> {
        let ek = self.create_ek()?;
        let loaded = ak::load_ak(
            &mut self.ctx,
            ek,
            None,
            aik.private.clone(),
            aik.public.clone(),
        );
        self.flush(ek);
        loaded.map_err(crate::keys::load_error)
    }

    /// TPM2_Certify: the AIK signs that `key` (presenting `key_auth`) is loaded in this
    /// TPM, with `qualifying_data` (the service's nonce, at most 64 bytes) as extraData.
    pub fn certify(
        &mut self,
        key: &KeyBlob,
        key_auth: &[u8],
        aik: &KeyBlob,
        qualifying_data: &[u8],
    ) -> Result<Certification, TpmError> {
        if qualifying_data.len() > MAX_QUALIFYING_DATA {
            return Err(TpmError::InvalidBlob {
                what: "qualifying data",
                detail: format!(
                    "{} bytes, at most {MAX_QUALIFYING_DATA}",
                    qualifying_data.len()
                ),
            });
        }
        let data =
            Data::try_from(qualifying_data.to_vec()).map_err(|e| from_tss("TPM2_Certify", e))?;
        // The AIK first: loading it needs the EK for a moment, and a TPM without a
        // resource manager may hold only three objects (SRK, AIK, key).
        let signer = self.load_aik(aik)?;
        let object = match self.load(key) {
            Ok(h) => h,
            Err(e) => {
                self.flush(signer);
                return Err(e);
            }
        };
        let result = self.set_auth(object.into(), key_auth).and_then(|()| {
            self.set_auth(signer.into(), &[])?;
            // The key's authorisation in a salted HMAC session, the AIK's (empty) in a
            // password session.
            self.with_salted_sessions("TPM2_Certify", Some(AuthSession::Password), |ctx| {
                ctx.certify(object.into(), signer, data, SignatureScheme::Null)
            })
        });
        self.flush(object);
        self.flush(signer);
        let (attest, signature) = result.map_err(|e| self.with_lockout_wait(e))?;
        Ok(Certification {
            attest: attest
                .marshall()
                .map_err(|e| from_tss("marshal TPMS_ATTEST", e))?,
            signature: signature
                .marshall()
                .map_err(|e| from_tss("marshal TPMT_SIGNATURE", e))?,
        })
    }

    /// TPM2_ActivateCredential: recover the secret the service sealed to this TPM's EK for
    /// the AIK's name. `credential_blob` is a marshalled TPM2B_ID_OBJECT, `encrypted_secret`
    /// a marshalled TPM2B_ENCRYPTED_SECRET. Only the TPM that holds the EK, with this AIK
    /// loaded, gets the secret; anything else is a TPM error (TPM_RC_INTEGRITY or
    /// TPM_RC_VALUE for a credential made for another key or EK).
    pub fn activate_credential(
        &mut self,
        aik: &KeyBlob,
        credential_blob: &[u8],
        encrypted_secret: &[u8],
    ) -> Result<Vec<u8>, TpmError> {
        let id_object =
            IdObject::try_from(tpm2b_contents(credential_blob, "TPM2B_ID_OBJECT")?.to_vec())
                .map_err(|e| TpmError::InvalidBlob {
                    what: "TPM2B_ID_OBJECT",
                    detail: e.to_string(),
                })?;
        let secret = EncryptedSecret::try_from(
            tpm2b_contents(encrypted_secret, "TPM2B_ENCRYPTED_SECRET")?.to_vec(),
        )
        .map_err(|e| TpmError::InvalidBlob {
            what: "TPM2B_ENCRYPTED_SECRET",
            detail: e.to_string(),
        })?;
        let aik_handle = self.load_aik(aik)?;
        let ek = match self.create_ek() {
            Ok(h) => h,
            Err(e) => {
                self.flush(aik_handle);
                return Err(e);
            }
        };
        let result = self.activate_loaded(aik_handle, ek, id_object, secret);
        self.flush(aik_handle);
        self.flush(ek);
        result
    }

    fn activate_loaded(
        &mut self,
        aik: KeyHandle,
        ek: KeyHandle,
        id_object: IdObject,
        secret: EncryptedSecret,
    ) -> Result<Vec<u8>, TpmError> {
        self.set_auth(aik.into(), &[])?;
        // The EK's policy (TCG policy A) is PolicySecret(TPM_RH_ENDORSEMENT).
        let session = self
            .ctx
            .start_auth_session(
                None,
                None,
                None,
                SessionType::Policy,
                SymmetricDefinition::AES_128_CFB,
                HashingAlgorithm::Sha256,
            )
            .map_err(|e| from_tss("TPM2_StartAuthSession", e))?
            .ok_or(TpmError::UnexpectedObject {
                detail: "TPM2_StartAuthSession returned no session",
            })?;
        let result = PolicySession::try_from(session)
            .and_then(|policy| {
                self.ctx.execute_with_nullauth_session(|ctx| {
                    ctx.policy_secret(
                        policy,
                        AuthHandle::Endorsement,
                        Default::default(),
                        Default::default(),
                        Default::default(),
                        None,
                    )
                })?;
                self.ctx.execute_with_sessions(
                    (Some(AuthSession::Password), Some(session), None),
                    |ctx| ctx.activate_credential(aik, ek, id_object, secret),
                )
            })
            .map_err(|e| from_tss("TPM2_ActivateCredential", e));
        self.flush(SessionHandle::from(session));
        Ok(result?.value().to_vec())
    }
}
