//! Interop: a credential made by `make_credential` activates with
//! `tpm2_activatecredential` in a real swtpm, for the AIK it names and no other.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod swtpm;

use latchkey_attest::tpm::make_credential::make_credential;
use latchkey_attest::tpm::object_name;
use latchkey_attest::tpm::public::{tpm2b_contents, TpmtPublic};
use swtpm::Swtpm;

/// Run TPM2_ActivateCredential on `cred_file` for AIK context `ak` under the EK, with the
/// endorsement authorisation by a PolicySecret session; returns the credential or the
/// tool's error.
fn activate(tpm: &Swtpm, ek: &str, ak: &str, cred_file: &str) -> Result<Vec<u8>, String> {
    // Not `tool`: that flushes sessions, and this one must live until activation.
    let (ok, err) = tpm.try_tool(
        "tpm2_startauthsession",
        &["--policy-session", "-S", "session.ctx"],
    );
    assert!(ok, "tpm2_startauthsession: {err}");
    let (ok, err) = tpm.try_tool("tpm2_policysecret", &["-S", "session.ctx", "-c", "e"]);
    assert!(ok, "tpm2_policysecret: {err}");
    let (ok, err) = tpm.try_tool(
        "tpm2_activatecredential",
        &[
            "-c",
            ak,
            "-C",
            ek,
            "-i",
            cred_file,
            "-o",
            "activated.bin",
            "-P",
            "session:session.ctx",
        ],
    );
    let _ = tpm.try_tool("tpm2_flushcontext", &["session.ctx"]);
    tpm.flush();
    if ok {
        let out = tpm.read("activated.bin");
        std::fs::remove_file(tpm.path("activated.bin")).expect("remove output");
        Ok(out)
    } else {
        Err(err)
    }
}

fn public(tpm: &Swtpm, file: &str) -> Vec<u8> {
    tpm2b_contents(&tpm.read(file))
        .expect("TPM2B_PUBLIC")
        .to_vec()
}

#[test]
fn service_credential_activates_in_swtpm_for_its_aik_only() {
    let tpm = Swtpm::start();
    tpm.tool(
        "tpm2_createek",
        &["-c", "ek.ctx", "-G", "rsa", "-u", "ek.pub"],
    );
    for ak in ["ak", "ak2"] {
        tpm.tool(
            "tpm2_createak",
            &[
                "-C",
                "ek.ctx",
                "-c",
                &format!("{ak}.ctx"),
                "-G",
                "rsa",
                "-g",
                "sha256",
                "-s",
                "rsassa",
                "-u",
                &format!("{ak}.pub"),
                "-n",
                &format!("{ak}.name"),
            ],
        );
    }
    let ek = public(&tpm, "ek.pub");
    let ak = public(&tpm, "ak.pub");
    let ak_area = TpmtPublic::parse(&ak).expect("AIK public area");
    let name = object_name(ak_area.name_alg, &ak).expect("name");
    // Our name of the AIK is the TPM's.
    assert_eq!(name, tpm.read("ak.name"));

    let secret = *b"a 32-byte credential secret 0042";
    let made = make_credential(&ek, &name, &secret, &mut rand::rngs::OsRng).expect("made");
    std::fs::write(tpm.path("cred.out"), made.to_tpm2_tools_file()).expect("write");
    assert_eq!(
        activate(&tpm, "ek.ctx", "ak.ctx", "cred.out").expect("activates"),
        secret
    );

    // The same credential does not activate for another AIK of the same TPM.
    let err = activate(&tpm, "ek.ctx", "ak2.ctx", "cred.out").expect_err("other AIK refused");
    assert!(err.contains("Esys_ActivateCredential"), "{err}");

    // A flipped byte of the encrypted credential fails the integrity check.
    let mut file = made.to_tpm2_tools_file();
    let last_of_id = 8 + made.id_object.len() - 1;
    file[last_of_id] ^= 1;
    std::fs::write(tpm.path("bad.out"), &file).expect("write");
    let err = activate(&tpm, "ek.ctx", "ak.ctx", "bad.out").expect_err("tampered blob refused");
    assert!(err.contains("Esys_ActivateCredential"), "{err}");

    // A short secret (16 bytes) comes back as it was.
    let made =
        make_credential(&ek, &name, b"sixteen byte sec", &mut rand::rngs::OsRng).expect("made");
    std::fs::write(tpm.path("cred16.out"), made.to_tpm2_tools_file()).expect("write");
    assert_eq!(
        activate(&tpm, "ek.ctx", "ak.ctx", "cred16.out").expect("activates"),
        b"sixteen byte sec"
    );
}

#[test]
fn service_credential_activates_for_an_ecc_p256_ek() {
    let tpm = Swtpm::start();
    tpm.tool(
        "tpm2_createek",
        &["-c", "ek.ctx", "-G", "ecc", "-u", "ek.pub"],
    );
    tpm.tool(
        "tpm2_createak",
        &[
            "-C", "ek.ctx", "-c", "ak.ctx", "-G", "ecc", "-g", "sha256", "-s", "ecdsa", "-u",
            "ak.pub", "-n", "ak.name",
        ],
    );
    let ek = public(&tpm, "ek.pub");
    let ak = public(&tpm, "ak.pub");
    let name = object_name(TpmtPublic::parse(&ak).expect("AIK").name_alg, &ak).expect("name");
    assert_eq!(name, tpm.read("ak.name"));
    let secret = *b"an ECC EK credential, 31 bytes.";
    let made = make_credential(&ek, &name, &secret, &mut rand::rngs::OsRng).expect("made");
    std::fs::write(tpm.path("cred.out"), made.to_tpm2_tools_file()).expect("write");
    assert_eq!(
        activate(&tpm, "ek.ctx", "ak.ctx", "cred.out").expect("activates"),
        secret
    );
    // A changed ephemeral point: another seed, the integrity check fails.
    let mut file = made.to_tpm2_tools_file();
    let last = file.len() - 1;
    file[last] ^= 1;
    std::fs::write(tpm.path("bad.out"), &file).expect("write");
    let err = activate(&tpm, "ek.ctx", "ak.ctx", "bad.out").expect_err("tampered point refused");
    assert!(err.contains("Esys_ActivateCredential"), "{err}");
}

/// Every truncation of an EK public area is refused without a panic.
#[test]
fn truncated_ek_public_is_refused() {
    let fix = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tpm/");
    let name = [&[0u8, 0x0b][..], &[7u8; 32][..]].concat();
    for file in ["ek.tpm2b_public", "ek-ecc.tpm2b_public"] {
        let raw = std::fs::read(format!("{fix}{file}")).expect(file);
        let ek = tpm2b_contents(&raw).expect("TPM2B");
        assert!(make_credential(ek, &name, b"s", &mut rand::rngs::OsRng).is_ok());
        for cut in 0..ek.len() {
            assert!(make_credential(&ek[..cut], &name, b"s", &mut rand::rngs::OsRng).is_err());
        }
    }
}
