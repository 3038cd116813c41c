//! TPM2_MakeCredential computed by the service (TPM 2.0 Library Part 1, "Credential
//! Protection", which uses the outer integrity and encryption wrapper of "Protected
//! Storage"; Part 3, TPM2_MakeCredential). Checked byte for byte against
//! `tpm2_makecredential` and by activation in swtpm (see the tests).
//!
//! ```text
//! RSA EK:  seed   random, nameAlg digest size
//!          secret TPM2B_ENCRYPTED_SECRET = RSA-OAEP(EK, hash nameAlg, label "IDENTITY\0", seed)
//! ECC EK:  (d, Q) ephemeral key on the EK's curve; Z = x of d * Q_EK
//!          seed   KDFe(nameAlg, Z, "IDENTITY", Q.x, Q_EK.x, nameAlg digest bits)
//!          secret TPM2B_ENCRYPTED_SECRET = TPMS_ECC_POINT Q
//! symKey        KDFa(nameAlg, seed, "STORAGE", name, empty, EK symmetric keyBits)
//! encIdentity   AES-CFB(symKey, IV = 0, TPM2B_DIGEST(credential))
//! HMACkey       KDFa(nameAlg, seed, "INTEGRITY", empty, empty, nameAlg digest bits)
//! outerHMAC     HMAC_nameAlg(HMACkey, encIdentity || name)
//! credentialBlob TPM2B_ID_OBJECT = size || TPM2B_DIGEST(outerHMAC) || encIdentity
//! ```
//!
//! `name` is the name of the object the credential is for (the AIK): only a TPM that holds
//! the EK's private key and has that very object loaded returns the credential from
//! TPM2_ActivateCredential. Supported EKs: RSA-2048 and ECC NIST P-256, each with nameAlg
//! SHA-256 and symmetric AES-128-CFB (the TCG default, low-range, EK templates).

use aes::cipher::{AsyncStreamCipher, KeyIvInit};
use rand_core::CryptoRngCore;
use rsa::{BigUint, Oaep, RsaPublicKey};
use zeroize::Zeroizing;

use p256::elliptic_curve::sec1::ToEncodedPoint;

use super::kdfa::{hmac, kdfa, kdfe};
use super::public::{TpmKey, TpmtPublic};
use super::{hash_len, ALG_NULL, ALG_SHA256};
use crate::error::AttestError;

/// TPM_ALG_AES.
const ALG_AES: u16 = 0x0006;
/// TPM_ALG_CFB.
const ALG_CFB: u16 = 0x0043;
/// The OAEP label, with its terminating zero octet (the TPM includes the zero).
const IDENTITY_LABEL: &str = "IDENTITY\0";

/// What TPM2_MakeCredential returns, marshalled as TPM2_ActivateCredential takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MadeCredential {
    /// TPM2B_ID_OBJECT (credentialBlob), size prefix included.
    pub id_object: Vec<u8>,
    /// TPM2B_ENCRYPTED_SECRET (secret), size prefix included.
    pub encrypted_secret: Vec<u8>,
}

impl MadeCredential {
    /// The file `tpm2_makecredential` writes and `tpm2_activatecredential -i` reads:
    /// magic 0xBADCC0DE, version 1 (both UINT32), then the two structures.
    pub fn to_tpm2_tools_file(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.id_object.len() + self.encrypted_secret.len());
        out.extend_from_slice(&0xBADC_C0DEu32.to_be_bytes());
        out.extend_from_slice(&1u32.to_be_bytes());
        out.extend_from_slice(&self.id_object);
        out.extend_from_slice(&self.encrypted_secret);
        out
    }
}

/// The EK's key, once the public area is known to be usable.
enum Ek {
    /// RSA-2048.
    Rsa(RsaPublicKey),
    /// P-256, with unique.x as the public area carries it (partyVInfo of KDFe).
    P256 { key: p256::PublicKey, x: Vec<u8> },
}

/// TPM_ECC_NIST_P256.
const ECC_NIST_P256: u16 = 0x0003;

/// A P-256 coordinate left-padded to 32 octets.
fn coordinate(c: &[u8]) -> Result<[u8; 32], AttestError> {
    let c = crate::crypto::strip_zeros(c);
    let mut out = [0u8; 32];
    let start = 32usize
        .checked_sub(c.len())
        .ok_or(unsupported("ECC coordinate longer than 32 bytes"))?;
    out.get_mut(start..)
        .ok_or(unsupported("ECC coordinate"))?
        .copy_from_slice(&c);
    Ok(out)
}

fn unsupported(detail: &'static str) -> AttestError {
    AttestError::TpmEkUnsupported { detail }
}

/// Check the EK public area: a restricted decryption RSA-2048 or P-256 key, nameAlg
/// SHA-256, AES-128-CFB (what TPM2_ActivateCredential with this construction needs).
fn check_ek(ek: &TpmtPublic) -> Result<Ek, AttestError> {
    if ek.name_alg != ALG_SHA256 {
        return Err(unsupported("nameAlg is not SHA-256"));
    }
    if !ek.attributes.restricted() || !ek.attributes.decrypt() || ek.attributes.sign() {
        return Err(unsupported(
            "not a restricted decryption key (restricted, decrypt, not sign)",
        ));
    }
    if ek.symmetric.algorithm != ALG_AES
        || ek.symmetric.key_bits != 128
        || ek.symmetric.mode != ALG_CFB
    {
        return Err(unsupported("symmetric is not AES-128-CFB"));
    }
    if ek.scheme.scheme != ALG_NULL {
        return Err(unsupported("scheme is not TPM_ALG_NULL"));
    }
    match &ek.key {
        TpmKey::Rsa {
            key_bits,
            exponent,
            modulus,
        } => {
            if *key_bits != 2048 || modulus.len() != 256 {
                return Err(unsupported("RSA key is not 2048 bits"));
            }
            let e = if *exponent == 0 { 65537 } else { *exponent };
            let key = RsaPublicKey::new(BigUint::from_bytes_be(modulus), BigUint::from(e))
                .map_err(|_| unsupported("RSA key invalid"))?;
            Ok(Ek::Rsa(key))
        }
        TpmKey::Ecc { curve_id, x, y } => {
            if *curve_id != ECC_NIST_P256 {
                return Err(unsupported("ECC curve is not P-256"));
            }
            let mut point = vec![0x04];
            point.extend_from_slice(&coordinate(x)?);
            point.extend_from_slice(&coordinate(y)?);
            let key = p256::PublicKey::from_sec1_bytes(&point)
                .map_err(|_| unsupported("ECC point is not on P-256"))?;
            Ok(Ek::P256 { key, x: x.clone() })
        }
    }
}

/// Check that `name` is nameAlg || digest of that algorithm's size.
fn check_name(name: &[u8]) -> Result<(), AttestError> {
    let [a, b, digest @ ..] = name else {
        return Err(AttestError::TpmNameMalformed {
            detail: "shorter than a nameAlg",
        });
    };
    let len = hash_len(u16::from_be_bytes([*a, *b])).ok_or(AttestError::TpmNameMalformed {
        detail: "nameAlg is not a supported hash",
    })?;
    if digest.len() != len {
        return Err(AttestError::TpmNameMalformed {
            detail: "digest length does not fit nameAlg",
        });
    }
    Ok(())
}

fn tpm2b(body: &[u8]) -> Result<Vec<u8>, AttestError> {
    let len = u16::try_from(body.len()).map_err(|_| AttestError::LimitExceeded {
        what: "TPM2B buffer",
        limit: usize::from(u16::MAX),
    })?;
    let mut out = Vec::with_capacity(2 + body.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(body);
    Ok(out)
}

/// The credentialBlob (TPM2B_ID_OBJECT) for a given seed: the deterministic part of
/// MakeCredential, kept private so no caller can choose the seed.
fn id_object_with_seed(
    name_alg: u16,
    aik_name: &[u8],
    credential: &[u8],
    seed: &[u8],
) -> Result<Vec<u8>, AttestError> {
    let internal = || unsupported("hash not supported");
    let digest_len = hash_len(name_alg).ok_or_else(internal)?;
    let digest_bits = u32::try_from(digest_len * 8).map_err(|_| internal())?;
    let sym_key =
        Zeroizing::new(kdfa(name_alg, seed, b"STORAGE", aik_name, &[], 128).ok_or_else(internal)?);
    let mut enc_identity = tpm2b(credential)?;
    let cfb = cfb_mode::Encryptor::<aes::Aes128>::new_from_slices(&sym_key, &[0u8; 16])
        .map_err(|_| internal())?;
    cfb.encrypt(&mut enc_identity);
    let hmac_key = Zeroizing::new(
        kdfa(name_alg, seed, b"INTEGRITY", &[], &[], digest_bits).ok_or_else(internal)?,
    );
    let outer_hmac = hmac(name_alg, &hmac_key, &[&enc_identity, aik_name]).ok_or_else(internal)?;
    let mut body = tpm2b(&outer_hmac)?;
    body.extend_from_slice(&enc_identity);
    tpm2b(&body)
}

/// Compute TPM2_MakeCredential for the EK whose marshalled TPMT_PUBLIC is `ek_public`,
/// the object (AIK) named `aik_name` (nameAlg || H(TPMT_PUBLIC), as
/// [`super::object_name`] computes it) and the credential `credential` (1 ..= 32 bytes
/// for a SHA-256 EK). The seed is drawn from `rng`.
///
/// The caller keeps `credential` and compares it, in constant time, with what the device
/// returns from TPM2_ActivateCredential.
pub fn make_credential(
    ek_public: &[u8],
    aik_name: &[u8],
    credential: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<MadeCredential, AttestError> {
    let ek_area = TpmtPublic::parse(ek_public)?;
    let ek = check_ek(&ek_area)?;
    check_name(aik_name)?;
    let max = hash_len(ek_area.name_alg).ok_or(unsupported("nameAlg"))?;
    if credential.is_empty() || credential.len() > max {
        return Err(AttestError::CredentialSecretLength {
            len: credential.len(),
            max,
        });
    }
    // The seed decrypts the credential: wiped when dropped.
    let (seed, encrypted) = match &ek {
        Ek::Rsa(key) => {
            let mut seed = Zeroizing::new(vec![0u8; max]);
            rng.fill_bytes(&mut seed);
            let padding = Oaep::new_with_label::<sha2::Sha256, _>(IDENTITY_LABEL);
            let encrypted = key
                .encrypt(rng, padding, &seed)
                .map_err(|_| AttestError::EkSeedEncryption)?;
            (seed, encrypted)
        }
        Ek::P256 { key, x } => {
            let ephemeral = p256::ecdh::EphemeralSecret::random(rng);
            let shared = ephemeral.diffie_hellman(key);
            let q = ephemeral.public_key().to_encoded_point(false);
            let (Some(qx), Some(qy)) = (q.x(), q.y()) else {
                return Err(AttestError::EkSeedEncryption);
            };
            let bits = u32::try_from(max * 8).map_err(|_| AttestError::EkSeedEncryption)?;
            let seed = kdfe(
                ek_area.name_alg,
                shared.raw_secret_bytes(),
                b"IDENTITY",
                qx,
                x,
                bits,
            )
            .ok_or(AttestError::EkSeedEncryption)?;
            // TPMS_ECC_POINT { TPM2B_ECC_PARAMETER x; TPM2B_ECC_PARAMETER y; }
            let mut point = tpm2b(qx)?;
            point.extend(tpm2b(qy)?);
            (Zeroizing::new(seed), point)
        }
    };
    let id_object = id_object_with_seed(ek_area.name_alg, aik_name, credential, &seed)?;
    Ok(MadeCredential {
        id_object,
        encrypted_secret: tpm2b(&encrypted)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tpm::public::tpm2b_contents;
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::RsaPrivateKey;

    const KAT_EK: &[u8] = include_bytes!("../../tests/fixtures/tpm/kat-ek.tpm2b_public");
    const KAT_PRIV: &str = include_str!("../../tests/fixtures/tpm/kat-ek-private.pem");
    const KAT_SECRET: &[u8] = include_bytes!("../../tests/fixtures/tpm/kat-secret.bin");
    const KAT_NAME: &str = include_str!("../../tests/fixtures/tpm/kat-aik-name.hex");
    const KAT_OUT: &[u8] = include_bytes!("../../tests/fixtures/tpm/kat-makecredential.out");
    const SWTPM_EK: &[u8] = include_bytes!("../../tests/fixtures/tpm/ek.tpm2b_public");

    fn unhex(s: &str) -> Vec<u8> {
        let s = s.trim();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Split the tpm2-tools file into (TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET).
    fn split_tools_file(out: &[u8]) -> (&[u8], &[u8]) {
        assert_eq!(&out[..8], &[0xba, 0xdc, 0xc0, 0xde, 0, 0, 0, 1]);
        let rest = &out[8..];
        let n = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let (id, secret) = rest.split_at(2 + n);
        (id, secret)
    }

    fn decrypt_seed(encrypted_secret: &[u8]) -> Vec<u8> {
        let key = RsaPrivateKey::from_pkcs8_pem(KAT_PRIV).unwrap();
        let ct = tpm2b_contents(encrypted_secret).unwrap();
        key.decrypt(Oaep::new_with_label::<sha2::Sha256, _>(IDENTITY_LABEL), ct)
            .unwrap()
    }

    /// Known answer: the seed tpm2_makecredential chose, fed to this construction, gives
    /// its credentialBlob byte for byte.
    #[test]
    fn credential_blob_equals_tpm2_tools_for_its_seed() {
        let (tools_id, tools_secret) = split_tools_file(KAT_OUT);
        let seed = decrypt_seed(tools_secret);
        assert_eq!(seed.len(), 32);
        let ours = id_object_with_seed(ALG_SHA256, &unhex(KAT_NAME), KAT_SECRET, &seed).unwrap();
        assert_eq!(ours, tools_id);
        // And one flipped bit of the seed gives another blob (the test can fail).
        let mut other = seed.clone();
        other[0] ^= 1;
        assert_ne!(
            id_object_with_seed(ALG_SHA256, &unhex(KAT_NAME), KAT_SECRET, &other).unwrap(),
            tools_id
        );
    }

    /// The full construction with a random seed: the seed decrypts with the EK's private
    /// key under the IDENTITY label, and the blob is the one that seed gives.
    #[test]
    fn make_credential_encrypts_its_seed_to_the_ek() {
        let ek = tpm2b_contents(KAT_EK).unwrap();
        let name = unhex(KAT_NAME);
        let made = make_credential(ek, &name, KAT_SECRET, &mut rand::rngs::OsRng).unwrap();
        let seed = decrypt_seed(&made.encrypted_secret);
        assert_eq!(made.encrypted_secret.len(), 2 + 256);
        assert_eq!(
            made.id_object,
            id_object_with_seed(ALG_SHA256, &name, KAT_SECRET, &seed).unwrap()
        );
        let file = made.to_tpm2_tools_file();
        assert_eq!(file.len(), KAT_OUT.len());
        assert_eq!(file[..8], KAT_OUT[..8]);
    }

    const KAT_ECC_EK: &[u8] = include_bytes!("../../tests/fixtures/tpm/kat-ek-ecc.tpm2b_public");
    const KAT_ECC_PRIV: &str = include_str!("../../tests/fixtures/tpm/kat-ek-ecc-private.pem");
    const KAT_ECC_OUT: &[u8] =
        include_bytes!("../../tests/fixtures/tpm/kat-makecredential-ecc.out");

    /// The test-side "activate" for an ECC EK: Z from the EK private key and the
    /// ephemeral point in TPM2B_ENCRYPTED_SECRET, then KDFe.
    fn ecc_seed(encrypted_secret: &[u8]) -> Vec<u8> {
        use p256::pkcs8::DecodePrivateKey;
        let point = tpm2b_contents(encrypted_secret).unwrap();
        let (x, rest) = point.split_at(2 + usize::from(u16::from_be_bytes([point[0], point[1]])));
        let y = tpm2b_contents(rest).unwrap();
        let x = &x[2..];
        let mut sec1 = vec![4];
        sec1.extend_from_slice(x);
        sec1.extend_from_slice(y);
        let q = p256::PublicKey::from_sec1_bytes(&sec1).unwrap();
        let d = p256::SecretKey::from_pkcs8_pem(KAT_ECC_PRIV).unwrap();
        let z = p256::ecdh::diffie_hellman(d.to_nonzero_scalar(), q.as_affine());
        let ek = TpmtPublic::parse(tpm2b_contents(KAT_ECC_EK).unwrap()).unwrap();
        let TpmKey::Ecc { x: ek_x, .. } = ek.key else {
            panic!("ECC EK")
        };
        kdfe(ALG_SHA256, z.raw_secret_bytes(), b"IDENTITY", x, &ek_x, 256).unwrap()
    }

    /// Known answer for an ECC P-256 EK: the seed recovered from tpm2_makecredential's
    /// ephemeral point gives its credentialBlob byte for byte.
    #[test]
    fn ecc_credential_blob_equals_tpm2_tools_for_its_seed() {
        let (tools_id, tools_secret) = split_tools_file(KAT_ECC_OUT);
        let seed = ecc_seed(tools_secret);
        let ours = id_object_with_seed(ALG_SHA256, &unhex(KAT_NAME), KAT_SECRET, &seed).unwrap();
        assert_eq!(ours, tools_id);
        // Our own ECC credential: its ephemeral point gives back the seed of its blob.
        let ek = tpm2b_contents(KAT_ECC_EK).unwrap();
        let made =
            make_credential(ek, &unhex(KAT_NAME), KAT_SECRET, &mut rand::rngs::OsRng).unwrap();
        assert_eq!(made.encrypted_secret.len(), 2 + 68);
        let seed = ecc_seed(&made.encrypted_secret);
        assert_eq!(
            made.id_object,
            id_object_with_seed(ALG_SHA256, &unhex(KAT_NAME), KAT_SECRET, &seed).unwrap()
        );
    }

    #[test]
    fn refuses_ecc_ek_off_curve_or_other_curve() {
        let ek = tpm2b_contents(KAT_ECC_EK).unwrap();
        let name = unhex(KAT_NAME);
        let rng = &mut rand::rngs::OsRng;
        let mut off = ek.to_vec();
        let last = off.len() - 1;
        off[last] ^= 1;
        assert_eq!(
            make_credential(&off, &name, b"s", rng).unwrap_err(),
            AttestError::TpmEkUnsupported {
                detail: "ECC point is not on P-256"
            }
        );
        // curveID follows type, nameAlg, attributes, authPolicy, symmetric and scheme.
        let parsed = TpmtPublic::parse(ek).unwrap();
        let at = 10 + parsed.auth_policy.len() + 6 + 2;
        assert_eq!(ek[at..at + 2], [0, 3]);
        let mut p384 = ek.to_vec();
        p384[at + 1] = 4;
        assert_eq!(
            make_credential(&p384, &name, b"s", rng).unwrap_err().code(),
            "LK-ATT-043"
        );
    }

    #[test]
    fn refuses_bad_secret_name_and_ek() {
        let ek = tpm2b_contents(SWTPM_EK).unwrap();
        let name = unhex(KAT_NAME);
        let rng = &mut rand::rngs::OsRng;
        let code = |r: Result<MadeCredential, AttestError>| r.unwrap_err().code();
        assert_eq!(
            code(make_credential(ek, &name, &[7; 33], rng)),
            "LK-ATT-044"
        );
        assert_eq!(code(make_credential(ek, &name, &[], rng)), "LK-ATT-044");
        assert!(make_credential(ek, &name, &[7; 32], rng).is_ok());
        assert_eq!(
            code(make_credential(ek, &name[..33], b"s", rng)),
            "LK-ATT-045"
        );
        assert_eq!(
            code(make_credential(ek, &[0, 0x0b], b"s", rng)),
            "LK-ATT-045"
        );
        assert_eq!(code(make_credential(ek, &[0x0b], b"s", rng)), "LK-ATT-045");
        // An AIK public area (restricted signing key) is not an EK.
        let ak = include_bytes!("../../tests/fixtures/tpm/ak-rsassa.tpm2b_public");
        let ak = tpm2b_contents(ak).unwrap();
        assert_eq!(code(make_credential(ak, &name, b"s", rng)), "LK-ATT-043");
        // Another symmetric definition (AES-256): bytes 0x2c..0x2e of this TPMT_PUBLIC
        // (after type, nameAlg, attributes, a 32-byte authPolicy and the algorithm) are
        // keyBits.
        let mut aes256 = ek.to_vec();
        assert_eq!(aes256[0x2c..0x2e], [0, 0x80]);
        aes256[0x2c..0x2e].copy_from_slice(&256u16.to_be_bytes());
        assert_eq!(
            code(make_credential(&aes256, &name, b"s", rng)),
            "LK-ATT-043"
        );
        assert_eq!(
            code(make_credential(&ek[1..], &name, b"s", rng)),
            "LK-ATT-028"
        );
    }
}
