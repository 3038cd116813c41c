//! Shared test helpers: a private swtpm per test, tpm2-tools readings.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::process::Command;

use latchkey_tpm::swtpm::SwTpm;
use latchkey_tpm::{DaParameters, Tpm};

/// Dictionary-attack parameters for tests: 3 tries, a failure forgotten only after
/// 1000 s (so nothing decays while a test runs), lockout hierarchy recovery 1000 s.
pub const DA: DaParameters = DaParameters {
    max_tries: 3,
    recovery_time: 1000,
    lockout_recovery: 1000,
};

/// A fresh swtpm in its own temporary directory, dictionary-attack parameters set.
pub struct Fixture {
    pub swtpm: SwTpm,
    pub dir: tempfile::TempDir,
}

pub fn swtpm() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let swtpm = SwTpm::start_with_da(dir.path(), DA).unwrap();
    Fixture { swtpm, dir }
}

impl Fixture {
    pub fn open(&self) -> Tpm {
        Tpm::open(&self.swtpm.tcti().unwrap()).unwrap()
    }

    /// A property from `tpm2_getcap properties-variable` (no `Tpm` may be open: swtpm
    /// serves one connection at a time).
    pub fn getcap_variable(&self, name: &str) -> u32 {
        let out = Command::new("tpm2_getcap")
            .arg("--tcti")
            .arg(self.swtpm.tcti().unwrap().as_str())
            .arg("properties-variable")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let prefix = format!("{name}: 0x");
        let line = text
            .lines()
            .find_map(|l| l.trim().strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("{name} not in {text}"));
        u32::from_str_radix(line.trim(), 16).unwrap()
    }

    /// The inLockout bit as tpm2_getcap shows it.
    pub fn getcap_in_lockout(&self) -> bool {
        let out = Command::new("tpm2_getcap")
            .arg("--tcti")
            .arg(self.swtpm.tcti().unwrap().as_str())
            .arg("properties-variable")
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let line = text
            .lines()
            .find(|l| l.trim().starts_with("inLockout:"))
            .unwrap();
        line.trim().ends_with('1')
    }
}

/// Verify an RSASSA-PKCS1-v1_5 SHA-256 signature with ring.
pub fn ring_verify(key: &latchkey_tpm::RsaPublicKey, message: &[u8], signature: &[u8]) -> bool {
    ring::signature::RsaPublicKeyComponents {
        n: &key.modulus,
        e: &key.exponent,
    }
    .verify(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        message,
        signature,
    )
    .is_ok()
}
