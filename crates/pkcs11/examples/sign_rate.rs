//! Signatures per second through the PKCS#11 module (docs/PERFORMANCE.md).
//!
//! ```sh
//! cargo build --release --bins -p latchkey -p latchkey-pkcs11
//! cargo run --release -p latchkey-pkcs11 --example sign_rate -- software 2000
//! cargo run --release -p latchkey-pkcs11 --example sign_rate -- tpm 200
//! ```
//!
//! It makes a Hello key (software, or in a private swtpm) in a temporary state directory,
//! then measures (1) `C_Sign` in a loop through the module after one `C_Login` (the
//! module's safe API, the path every entry point takes: the request to the signer child,
//! its signature, the reply) and (2) `pkcs11-tool --login --sign` run in a loop, each run
//! a whole consumer: load, initialise, log in (one Argon2id for a software key), sign.
//! `latchkey` is taken from `LATCHKEY_BIN_DIR`, else from this example's target directory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::Instant;

use cryptoki_sys::*;
use latchkey_agent::container::KdfParams;
use latchkey_agent::provider::{KeyProvider, SoftwareProvider};
use latchkey_agent::records::user_file;
use latchkey_agent::store::StateDir;
use latchkey_pkcs11::module::{self, Signed};
use latchkey_pkcs11::objects::{handle, Kind};

const UPN: &str = "bench@example.com";
const PIN: &str = "135790";

fn target_dir() -> PathBuf {
    match std::env::var_os("LATCHKEY_BIN_DIR") {
        Some(d) => PathBuf::from(d),
        None => std::env::current_exe()
            .unwrap()
            .parent()
            .and_then(|p| p.parent())
            .unwrap()
            .to_path_buf(),
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let kind = args.next().unwrap_or_else(|| "software".to_owned());
    let n: u32 = args.next().map_or(500, |a| a.parse().unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let state = StateDir::new(&dir);
    let tpm_dir = tempfile::tempdir().unwrap();
    let _swtpm;
    let stored = if kind == "tpm" {
        let swtpm = latchkey_tpm::swtpm::SwTpm::start(tpm_dir.path()).unwrap();
        let tcti = swtpm.tcti().unwrap();
        std::env::set_var("LATCHKEY_TPM", tcti.as_str());
        let info = latchkey_tpm::probe(Some(&tcti)).info.unwrap();
        let provider =
            latchkey_agent::tpm_provider::TpmProvider::new(tcti, info, KdfParams::default());
        _swtpm = swtpm;
        provider
            .create(UPN, PIN, 1_700_000_000, &mut |_| {})
            .unwrap()
            .0
    } else {
        SoftwareProvider::default()
            .create(UPN, PIN, 1_700_000_000, &mut |_| {})
            .unwrap()
            .0
    };
    match &stored {
        latchkey_agent::provider::StoredKey::Software(c) => {
            state.write_json(&user_file("hello", UPN), c).unwrap()
        }
        latchkey_agent::provider::StoredKey::Tpm(c) => state
            .write_json(
                &user_file(latchkey_agent::tpm_container::TPM_HELLO_DIR, UPN),
                c,
            )
            .unwrap(),
    }
    let bin = target_dir().join("latchkey");
    assert!(
        bin.is_file(),
        "{} not found: cargo build --bins -p latchkey",
        bin.display()
    );
    std::env::set_var("LATCHKEY_STATE_DIR", &dir);
    std::env::set_var("LATCHKEY_AGENT_BIN", &bin);

    // (1) C_Sign in a loop after one login.
    module::initialize(None).unwrap();
    let h = module::open_session(1, CKF_SERIAL_SESSION).unwrap();
    module::login(h, CKU_USER, Some(PIN.as_bytes())).unwrap();
    let key = handle(1, Kind::PrivateKey);
    let start = Instant::now();
    for i in 0..n {
        module::sign_init(h, CKM_SHA256_RSA_PKCS, None, key).unwrap();
        match module::sign(h, &i.to_be_bytes(), Some(256)).unwrap() {
            Signed::Signature(s) => assert_eq!(s.len(), 256),
            other => panic!("{other:?}"),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{kind}: C_Sign (SHA256-RSA-PKCS) x {n}: {secs:.2} s, {:.0} signatures/s, {:.2} ms each",
        f64::from(n) / secs,
        secs * 1000.0 / f64::from(n)
    );
    module::finalize().unwrap();

    // (2) pkcs11-tool --login --sign, a whole consumer per signature.
    let module_so = target_dir().join("liblatchkey_pkcs11.so");
    let data = tmp.path().join("data");
    std::fs::write(&data, b"benchmark").unwrap();
    let runs = (n / 10).clamp(5, 100);
    let start = Instant::now();
    for _ in 0..runs {
        let out = std::process::Command::new("pkcs11-tool")
            .arg("--module")
            .arg(&module_so)
            .args([
                "--login",
                "--pin",
                PIN,
                "--sign",
                "--mechanism",
                "SHA256-RSA-PKCS",
            ])
            .arg("--input-file")
            .arg(&data)
            .arg("--output-file")
            .arg(tmp.path().join("sig"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{kind}: pkcs11-tool --login --sign x {runs}: {secs:.2} s, {:.1} runs/s, {:.0} ms each (load, login, sign)",
        f64::from(runs) / secs,
        secs * 1000.0 / f64::from(runs)
    );
}
