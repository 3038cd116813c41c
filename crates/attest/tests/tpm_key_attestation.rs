//! Hello key attestation (TPM2_Certify by an AIK) against real swtpm vectors
//! (fixtures/tpm/make-fixtures.sh), plus software-signed variants for the fields a TPM
//! never gets wrong (magic) and for attribute combinations.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use latchkey_attest::tpm::key_attestation::{check_aik_public, verify_key_attestation};
use latchkey_attest::tpm::public::{tpm2b_contents, TpmKey, TpmtPublic};
use latchkey_attest::tpm::{object_name, ALG_SHA256};
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tpm/");

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIX}{name}")).expect(name)
}

fn public(name: &str) -> Vec<u8> {
    tpm2b_contents(&fixture(name))
        .expect("TPM2B_PUBLIC")
        .to_vec()
}

fn modulus_of(area: &[u8]) -> Vec<u8> {
    match TpmtPublic::parse(area).expect("public").key {
        TpmKey::Rsa { modulus, .. } => modulus,
        TpmKey::Ecc { .. } => panic!("RSA expected"),
    }
}

const E: &[u8] = &[1, 0, 1];

/// Verify `certify-<name>.{attest,sig}` by `ak` for key `key`, registering `key`'s own
/// modulus.
fn check(ak: &str, certify: &str, key: &str, nonce: &[u8]) -> Result<(), String> {
    let aik = check_aik_public(&public(ak)).map_err(|e| e.code().to_owned())?;
    let key = public(key);
    verify_key_attestation(
        &aik,
        &fixture(&format!("{certify}.attest")),
        &fixture(&format!("{certify}.sig")),
        &key,
        nonce,
        &modulus_of(&key),
        E,
    )
    .map(|_| ())
    .map_err(|e| e.code().to_owned())
}

fn nonce() -> Vec<u8> {
    fixture("qualifying.bin")
}

#[test]
fn real_certify_verifies_with_each_aik_scheme() {
    let hello = public("key-hello.tpm2b_public");
    // The registered key as openssl read it from the TPM, not from our parser.
    let hex = String::from_utf8(fixture("key-hello.modulus.hex")).expect("hex");
    let hex = hex.trim();
    let modulus: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect();
    for (ak, certify) in [
        ("ak-rsassa", "certify-hello-rsassa"),
        ("ak-rsapss", "certify-hello-rsapss"),
        ("ak-ecdsa", "certify-hello-ecdsa"),
    ] {
        let aik = check_aik_public(&public(&format!("{ak}.tpm2b_public"))).expect(ak);
        let ok = verify_key_attestation(
            &aik,
            &fixture(&format!("{certify}.attest")),
            &fixture(&format!("{certify}.sig")),
            &hello,
            &nonce(),
            &modulus,
            E,
        )
        .unwrap_or_else(|e| panic!("{certify}: {e}"));
        assert_eq!(ok.name, object_name(ALG_SHA256, &hello).expect("name"));
        // Leading zeros in the registered exponent do not matter.
        assert!(verify_key_attestation(
            &aik,
            &fixture(&format!("{certify}.attest")),
            &fixture(&format!("{certify}.sig")),
            &hello,
            &nonce(),
            &modulus,
            &[0, 1, 0, 1],
        )
        .is_ok());
    }
}

#[test]
fn certify_of_another_key_is_refused() {
    // The movable key's certify presented with the Hello key's public area, and back.
    assert_eq!(
        check(
            "ak-rsassa.tpm2b_public",
            "certify-movable",
            "key-hello.tpm2b_public",
            &nonce()
        ),
        Err("LK-ATT-061".into())
    );
    assert_eq!(
        check(
            "ak-rsassa.tpm2b_public",
            "certify-hello-rsassa",
            "key-movable.tpm2b_public",
            &nonce()
        ),
        Err("LK-ATT-061".into())
    );
}

#[test]
fn other_extra_data_is_refused() {
    let mut other = nonce();
    other[0] ^= 1;
    for n in [&other[..], &nonce()[..31], &[][..]] {
        assert_eq!(
            check(
                "ak-rsassa.tpm2b_public",
                "certify-hello-rsassa",
                "key-hello.tpm2b_public",
                n
            ),
            Err("LK-ATT-060".into())
        );
    }
}

#[test]
fn unrestricted_signer_is_not_an_aik() {
    assert_eq!(
        check(
            "key-plain.tpm2b_public",
            "certify-hello-by-plain",
            "key-hello.tpm2b_public",
            &nonce()
        ),
        Err("LK-ATT-049".into())
    );
}

#[test]
fn movable_and_imported_keys_are_refused() {
    assert_eq!(
        check(
            "ak-rsassa.tpm2b_public",
            "certify-movable",
            "key-movable.tpm2b_public",
            &nonce()
        ),
        Err("LK-ATT-062".into())
    );
    assert_eq!(
        check(
            "ak-rsassa.tpm2b_public",
            "certify-imported",
            "key-imported.tpm2b_public",
            &nonce()
        ),
        Err("LK-ATT-064".into())
    );
}

#[test]
fn another_registered_key_is_refused() {
    let aik = check_aik_public(&public("ak-rsassa.tpm2b_public")).expect("aik");
    let hello = public("key-hello.tpm2b_public");
    let mut other = modulus_of(&hello);
    other[255] ^= 2;
    for (m, e) in [(&other[..], E), (&modulus_of(&hello)[..], &[3][..])] {
        let err = verify_key_attestation(
            &aik,
            &fixture("certify-hello-rsassa.attest"),
            &fixture("certify-hello-rsassa.sig"),
            &hello,
            &nonce(),
            m,
            e,
        )
        .unwrap_err();
        assert_eq!(err.code(), "LK-ATT-067");
    }
}

#[test]
fn tampered_signature_or_attest_is_refused() {
    let aik = check_aik_public(&public("ak-rsassa.tpm2b_public")).expect("aik");
    let hello = public("key-hello.tpm2b_public");
    let attest = fixture("certify-hello-rsassa.attest");
    let sig = fixture("certify-hello-rsassa.sig");
    let run = |attest: &[u8], sig: &[u8]| {
        verify_key_attestation(&aik, attest, sig, &hello, &nonce(), &modulus_of(&hello), E)
            .unwrap_err()
            .code()
    };
    let mut bad_sig = sig.clone();
    bad_sig[100] ^= 1;
    assert_eq!(run(&attest, &bad_sig), "LK-ATT-057");
    for i in [0, 6, attest.len() - 1] {
        let mut bad = attest.clone();
        bad[i] ^= 1;
        assert_eq!(run(&bad, &sig), "LK-ATT-057", "byte {i}");
    }
    assert_eq!(run(&attest, &sig[..sig.len() - 1]), "LK-ATT-028");
    // An RSAPSS signature for an RSASSA AIK: the scheme is the AIK's.
    assert_eq!(
        run(&attest, &fixture("certify-hello-rsapss.sig")),
        "LK-ATT-056"
    );
    // An ECDSA signature for an RSA AIK.
    assert_eq!(
        run(
            &fixture("certify-hello-ecdsa.attest"),
            &fixture("certify-hello-ecdsa.sig")
        ),
        "LK-ATT-056"
    );
}

#[test]
fn signed_quote_is_the_wrong_type() {
    assert_eq!(
        check(
            "ak-rsassa.tpm2b_public",
            "quote",
            "key-hello.tpm2b_public",
            &nonce()
        ),
        Err("LK-ATT-059".into())
    );
}

/// Set and clear attribute bits of a marshalled TPMT_PUBLIC (bytes 4..8).
fn with_attributes(area: &[u8], set: u32, clear: u32) -> Vec<u8> {
    let mut out = area.to_vec();
    let a = u32::from_be_bytes(out[4..8].try_into().expect("4 bytes"));
    out[4..8].copy_from_slice(&((a | set) & !clear).to_be_bytes());
    out
}

const FIXED_TPM: u32 = 1 << 1;
const FIXED_PARENT: u32 = 1 << 4;
const SDO: u32 = 1 << 5;
const RESTRICTED: u32 = 1 << 16;
const DECRYPT: u32 = 1 << 17;
const SIGN: u32 = 1 << 18;

#[test]
fn aik_public_requirements_each_have_a_code() {
    let ak = public("ak-rsassa.tpm2b_public");
    assert!(check_aik_public(&ak).is_ok());
    let cases = [
        (0, RESTRICTED, "LK-ATT-049"),
        (0, SIGN, "LK-ATT-050"),
        (DECRYPT, 0, "LK-ATT-051"),
        (0, FIXED_TPM, "LK-ATT-052"),
        (0, FIXED_PARENT, "LK-ATT-053"),
        (0, SDO, "LK-ATT-054"),
    ];
    for reserved in [1 << 0, 1 << 3, 1 << 8, 1 << 15, 1 << 20, 1 << 31] {
        let err = check_aik_public(&with_attributes(&ak, reserved, 0)).unwrap_err();
        assert_eq!(err.code(), "LK-ATT-055", "{err}");
    }
    for (set, clear, code) in cases {
        let err = check_aik_public(&with_attributes(&ak, set, clear)).unwrap_err();
        assert_eq!(err.code(), code, "{err}");
    }
    // RSASSA with SHA-1: the scheme's hash follows type, nameAlg, attributes, authPolicy,
    // the (NULL) symmetric algorithm and the scheme algorithm.
    let parsed = TpmtPublic::parse(&ak).expect("parse");
    let policy = parsed.auth_policy.len();
    let hash_at = 10 + policy + 2 + 2;
    assert_eq!(ak[hash_at..hash_at + 2], [0, 0x0b]);
    let mut sha1 = ak.clone();
    sha1[hash_at + 1] = 0x04;
    assert_eq!(check_aik_public(&sha1).unwrap_err().code(), "LK-ATT-055");
    // nameAlg SHA-1 (bytes 2..4): the credential would be made for a collision-weak name.
    assert_eq!(ak[2..4], [0, 0x0b]);
    let mut weak_name = ak.clone();
    weak_name[3] = 0x04;
    let err = check_aik_public(&weak_name).unwrap_err();
    assert_eq!(err.code(), "LK-ATT-055");
    assert!(err.to_string().contains("SHA-1"), "{err}");
    // P-384 instead of P-256 for the ECC AIK (curveID after symmetric and scheme).
    let ecc = public("ak-ecdsa.tpm2b_public");
    let policy = TpmtPublic::parse(&ecc).expect("parse").auth_policy.len();
    let curve_at = 10 + policy + 2 + 4;
    assert_eq!(ecc[curve_at..curve_at + 2], [0, 3]);
    let mut p384 = ecc.clone();
    p384[curve_at + 1] = 4;
    assert_eq!(check_aik_public(&p384).unwrap_err().code(), "LK-ATT-055");
    assert_eq!(
        check_aik_public(&ak[..20]).unwrap_err().code(),
        "LK-ATT-028"
    );
}

/// A software "AIK" (the known-answer RSA key, in an AIK public area) to sign TPMS_ATTEST
/// structures a TPM would not produce.
struct SoftAik {
    signer: rsa::pkcs1v15::SigningKey<sha2::Sha256>,
    public: Vec<u8>,
}

impl SoftAik {
    fn new() -> Self {
        let pem = String::from_utf8(fixture("kat-ek-private.pem")).expect("pem");
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(&pem).expect("key");
        let n = key.n().to_bytes_be();
        let mut p = Vec::new();
        p.extend_from_slice(&[0, 1, 0, 0x0b]); // RSA, SHA-256
        p.extend_from_slice(&0x0005_0072u32.to_be_bytes()); // restricted|sign|fixed*|SDO|userWithAuth
        p.extend_from_slice(&[0, 0]); // authPolicy
        p.extend_from_slice(&[0, 0x10]); // symmetric NULL
        p.extend_from_slice(&[0, 0x14, 0, 0x0b]); // RSASSA SHA-256
        p.extend_from_slice(&[0x08, 0, 0, 0, 0, 0]); // 2048 bits, exponent default
        p.extend_from_slice(&u16::try_from(n.len()).expect("len").to_be_bytes());
        p.extend_from_slice(&n);
        Self {
            signer: rsa::pkcs1v15::SigningKey::new(key),
            public: p,
        }
    }

    fn sign(&self, attest: &[u8]) -> Vec<u8> {
        let sig = self.signer.sign(attest).to_vec();
        let mut out = vec![0, 0x14, 0, 0x0b];
        out.extend_from_slice(&u16::try_from(sig.len()).expect("len").to_be_bytes());
        out.extend_from_slice(&sig);
        out
    }
}

fn certify_info(magic: u32, kind: u16, extra: &[u8], name: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&magic.to_be_bytes());
    b.extend_from_slice(&kind.to_be_bytes());
    for part in [&[][..], extra] {
        b.extend_from_slice(&u16::try_from(part.len()).expect("len").to_be_bytes());
        b.extend_from_slice(part);
    }
    b.extend_from_slice(&[0; 17]); // clockInfo
    b.extend_from_slice(&[0; 8]); // firmwareVersion
    for part in [name, &[][..]] {
        b.extend_from_slice(&u16::try_from(part.len()).expect("len").to_be_bytes());
        b.extend_from_slice(part);
    }
    b
}

#[test]
fn magic_type_and_key_attributes_with_a_software_aik() {
    let soft = SoftAik::new();
    let aik = check_aik_public(&soft.public).expect("soft AIK acceptable");
    let run = |magic: u32, kind: u16, key: &[u8]| {
        let name = object_name(ALG_SHA256, key).expect("name");
        let attest = certify_info(magic, kind, &nonce(), &name);
        verify_key_attestation(
            &aik,
            &attest,
            &soft.sign(&attest),
            key,
            &nonce(),
            &modulus_of(key),
            E,
        )
        .map(|_| ())
        .map_err(|e| e.code())
    };
    let hello = public("key-hello.tpm2b_public");
    assert_eq!(run(0xff54_4347, 0x8017, &hello), Ok(()));
    assert_eq!(run(0xff54_4346, 0x8017, &hello), Err("LK-ATT-058"));
    assert_eq!(run(0, 0x8017, &hello), Err("LK-ATT-058"));
    // TPM_ST_ATTEST_QUOTE with certify-shaped contents.
    assert_eq!(run(0xff54_4347, 0x8018, &hello), Err("LK-ATT-059"));
    assert_eq!(
        run(0xff54_4347, 0x8017, &with_attributes(&hello, 0, SIGN)),
        Err("LK-ATT-065")
    );
    assert_eq!(
        run(0xff54_4347, 0x8017, &with_attributes(&hello, DECRYPT, 0)),
        Err("LK-ATT-066")
    );
    assert_eq!(
        run(
            0xff54_4347,
            0x8017,
            &with_attributes(&hello, 0, FIXED_PARENT)
        ),
        Err("LK-ATT-063")
    );
    assert_eq!(
        run(0xff54_4347, 0x8017, &with_attributes(&hello, 0, FIXED_TPM)),
        Err("LK-ATT-062")
    );
    assert_eq!(
        run(0xff54_4347, 0x8017, &with_attributes(&hello, 0, SDO)),
        Err("LK-ATT-064")
    );
    // A malformed TPMS_ATTEST that the AIK signed is still refused as malformed.
    let mut attest = certify_info(0xff54_4347, 0x8017, &nonce(), b"xx");
    attest.push(0);
    let err = verify_key_attestation(
        &aik,
        &attest,
        &soft.sign(&attest),
        &hello,
        &nonce(),
        &modulus_of(&hello),
        E,
    )
    .unwrap_err();
    assert_eq!(err.code(), "LK-ATT-028");
}

/// Every truncation and every single-byte change of each real input is refused without a
/// panic (the parsers check every length).
#[test]
fn truncated_or_changed_inputs_are_refused_without_panic() {
    let ak = public("ak-rsassa.tpm2b_public");
    let aik = check_aik_public(&ak).expect("aik");
    let hello = public("key-hello.tpm2b_public");
    let attest = fixture("certify-hello-rsassa.attest");
    let sig = fixture("certify-hello-rsassa.sig");
    let m = modulus_of(&hello);
    let n = nonce();
    for cut in 0..ak.len() {
        assert!(check_aik_public(&ak[..cut]).is_err());
    }
    for cut in 0..attest.len() {
        assert!(verify_key_attestation(&aik, &attest[..cut], &sig, &hello, &n, &m, E).is_err());
    }
    for cut in 0..sig.len() {
        assert!(verify_key_attestation(&aik, &attest, &sig[..cut], &hello, &n, &m, E).is_err());
    }
    for cut in 0..hello.len() {
        assert!(verify_key_attestation(&aik, &attest, &sig, &hello[..cut], &n, &m, E).is_err());
    }
    for i in 0..hello.len() {
        let mut changed = hello.clone();
        changed[i] ^= 0x80;
        assert!(verify_key_attestation(&aik, &attest, &sig, &changed, &n, &m, E).is_err());
    }
    let mut still_verifies = Vec::new();
    for i in 0..ak.len() {
        let mut changed = ak.clone();
        changed[i] ^= 0x80;
        if let Ok(other) = check_aik_public(&changed) {
            if verify_key_attestation(&other, &attest, &sig, &hello, &n, &m, E).is_ok() {
                still_verifies.push(i);
            }
        }
    }
    // Only byte 7 (bit 7, adminWithPolicy): it does not change the key, and the AIK public
    // area is the caller's trusted record (credential activation bound every bit of it
    // through the name). Reserved bits (bytes 4, 5, 6 here) are refused.
    assert_eq!(still_verifies, vec![7]);
}
