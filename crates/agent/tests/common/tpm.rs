//! A private swtpm for the agent's tests, and the helpers the TPM tests share.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::path::Path;
use std::process::Command;

use latchkey_agent::provider_choice::{choose, ProviderMode};
use latchkey_agent::store::StateDir;
use latchkey_agent::tpm::swtpm::SwTpm;
use latchkey_agent::tpm::{DaParameters, Tcti, Tpm};
use latchkey_agent::tpm_provider::TPM_PROVIDER;
use latchkey_agent::Agent;

use super::{World, CHEAP};

/// 3 tries; a failure is forgotten only after 1000 s, so nothing decays during a test.
pub const DA: DaParameters = DaParameters {
    max_tries: 3,
    recovery_time: 1000,
    lockout_recovery: 1000,
};

/// A running swtpm and its directory.
pub struct Tpm2 {
    pub swtpm: SwTpm,
    _dir: tempfile::TempDir,
}

/// A fresh swtpm with the test dictionary-attack parameters.
pub fn swtpm() -> Tpm2 {
    let dir = tempfile::tempdir().unwrap();
    let swtpm = SwTpm::start_with_da(dir.path(), DA).unwrap();
    Tpm2 { swtpm, _dir: dir }
}

impl Tpm2 {
    pub fn tcti(&self) -> Tcti {
        self.swtpm.tcti().unwrap()
    }

    /// A connection of the test's own (no other connection may be open).
    pub fn open(&self) -> Tpm {
        Tpm::open(&self.tcti()).unwrap()
    }

    /// The lockout counter through the TSS.
    pub fn counter(&self) -> u32 {
        self.open().dictionary_attack_state().unwrap().counter
    }

    /// A property from `tpm2_getcap properties-variable`.
    pub fn getcap(&self, name: &str) -> u32 {
        let out = Command::new("tpm2_getcap")
            .arg("--tcti")
            .arg(self.tcti().as_str())
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
        let value = text
            .lines()
            .find_map(|l| l.trim().strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("{name} not in {text}"));
        u32::from_str_radix(value.trim(), 16).unwrap()
    }

    /// Makes the tenant of `w` trust this TPM's manufacturer (the swtpm local CA).
    pub fn trust_in(&self, w: &World) {
        let root = std::fs::read(self.swtpm.manufacturer_root()).unwrap();
        let inter = std::fs::read(self.swtpm.manufacturer_intermediate()).unwrap();
        w.runtime
            .block_on(w.admin.tpm_root_add(&root, false))
            .unwrap();
        w.runtime
            .block_on(w.admin.tpm_root_add(&inter, true))
            .unwrap();
    }
}

/// An agent on `state` with the TPM provider on `tcti`.
pub fn tpm_agent(w: &World, state: StateDir, tcti: &Tcti) -> Agent {
    let choice = choose(ProviderMode::Tpm, Some(tcti), CHEAP).unwrap();
    assert_eq!(choice.provider.name(), TPM_PROVIDER);
    w.agent_in(state).with_choice(choice)
}

/// Every regular file below `dir` with its bytes, sorted: to assert what was written.
/// [`files`] without the event log, which records refused operations too.
pub fn files_but_the_log(dir: &Path) -> Vec<(String, Vec<u8>)> {
    files(dir)
        .into_iter()
        .filter(|(name, _)| !name.ends_with(latchkey_agent::events::EVENTS_FILE))
        .collect()
}

pub fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                stack.push(path);
            } else {
                out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}
