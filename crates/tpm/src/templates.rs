//! Public-area templates: the standard storage root key, Hello keys and device keys.

use tss_esapi::attributes::ObjectAttributesBuilder;
use tss_esapi::interface_types::algorithm::{
    HashingAlgorithm, PublicAlgorithm, RsaSchemeAlgorithm,
};
use tss_esapi::interface_types::key_bits::RsaKeyBits;
use tss_esapi::structures::{
    Public, PublicBuilder, PublicKeyRsa, PublicRsaParametersBuilder, RsaExponent, RsaScheme,
    SymmetricDefinitionObject,
};

use crate::error::{from_tss, TpmError};

/// The persistent handle the TCG reserves for the storage root key (TCG TPM v2.0
/// Provisioning Guidance, "Storage Primary Key": 0x81000001).
pub const SRK_PERSISTENT_HANDLE: u32 = 0x8100_0001;

/// The standard RSA storage root key template (TCG TPM v2.0 Provisioning Guidance and TCG
/// EK Credential Profile, "SRK template"): RSA-2048, exponent 0 (65537), nameAlg SHA-256,
/// `fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | noDA | restricted |
/// decrypt`, empty authPolicy, symmetric AES-128-CFB, scheme TPM_ALG_NULL, empty unique.
///
/// `unique` is given to compare a persistent key's public area with the template (the
/// TPM fills `unique` with the modulus).
pub(crate) fn srk(unique: PublicKeyRsa) -> Result<Public, TpmError> {
    let attrs = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_sensitive_data_origin(true)
        .with_user_with_auth(true)
        .with_no_da(true)
        .with_restricted(true)
        .with_decrypt(true)
        .build()
        .map_err(|e| from_tss("SRK template", e))?;
    PublicBuilder::new()
        .with_public_algorithm(PublicAlgorithm::Rsa)
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(attrs)
        .with_rsa_parameters(
            PublicRsaParametersBuilder::new_restricted_decryption_key(
                SymmetricDefinitionObject::AES_128_CFB,
                RsaKeyBits::Rsa2048,
                RsaExponent::default(),
            )
            .build()
            .map_err(|e| from_tss("SRK template", e))?,
        )
        .with_rsa_unique_identifier(unique)
        .build()
        .map_err(|e| from_tss("SRK template", e))
}

/// An RSA-2048 RSASSA-SHA-256 signing key: `fixedTPM | fixedParent | sensitiveDataOrigin
/// | userWithAuth | sign`, not restricted, not decrypt; `noDA` as given.
///
/// Hello keys are made with `no_da = false` (every wrong PIN counts against the TPM's
/// dictionary-attack protection); device keys, which have an empty authorisation value,
/// with `no_da = true` (a request without the right empty value then cannot count
/// against the user's PIN tries).
pub(crate) fn signing_key(no_da: bool) -> Result<Public, TpmError> {
    let attrs = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_sensitive_data_origin(true)
        .with_user_with_auth(true)
        .with_sign_encrypt(true)
        .with_no_da(no_da)
        .build()
        .map_err(|e| from_tss("signing key template", e))?;
    let scheme = RsaScheme::create(RsaSchemeAlgorithm::RsaSsa, Some(HashingAlgorithm::Sha256))
        .map_err(|e| from_tss("signing key template", e))?;
    PublicBuilder::new()
        .with_public_algorithm(PublicAlgorithm::Rsa)
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(attrs)
        .with_rsa_parameters(
            PublicRsaParametersBuilder::new()
                .with_scheme(scheme)
                .with_key_bits(RsaKeyBits::Rsa2048)
                .with_exponent(RsaExponent::default())
                .with_is_signing_key(true)
                .with_is_decryption_key(false)
                .with_restricted(false)
                .build()
                .map_err(|e| from_tss("signing key template", e))?,
        )
        .with_rsa_unique_identifier(PublicKeyRsa::default())
        .build()
        .map_err(|e| from_tss("signing key template", e))
}
