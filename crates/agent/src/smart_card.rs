//! UseHelloCertificatesAsSmartCardCertificates: with the policy on, the agent registers the
//! Latchkey PKCS#11 module with p11-kit by writing a module file, so every p11-kit-aware
//! program (GnuTLS's p11tool without `--provider`, Firefox and Chromium through
//! p11-kit-proxy, ...) sees the Hello token; with it off the file is removed. The module
//! itself works either way for consumers configured with its path.
//!
//! The file is `$XDG_CONFIG_HOME/pkcs11/modules/latchkey.module` (default
//! `~/.config/pkcs11/modules/`), one line `module: <path>`; the path is
//! `$LATCHKEY_PKCS11_MODULE`, else `liblatchkey_pkcs11.so` next to the running `latchkey`.
//! Only a file that starts with [`MARKER`] is ever replaced or removed: one an
//! administrator wrote is left alone.

use std::path::PathBuf;

use crate::agent::Agent;
use crate::error::AgentError;

/// The first line of the module file the agent writes.
pub const MARKER: &str = "# Written by latchkey (UseHelloCertificatesAsSmartCardCertificates)";
/// The module file's name.
pub const MODULE_FILE: &str = "latchkey.module";

/// The p11-kit module file for the current user.
pub fn module_file() -> PathBuf {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("HOME")
                .map_or_else(|| PathBuf::from("."), PathBuf::from)
                .join(".config")
        });
    config.join("pkcs11").join("modules").join(MODULE_FILE)
}

/// The module the file names.
pub fn module_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LATCHKEY_PKCS11_MODULE") {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.join("liblatchkey_pkcs11.so"))
}

/// What [`Agent::apply_smart_card_policy`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmartCardFile {
    /// The file names the module (written now or already so).
    Registered(PathBuf),
    /// No file of ours (removed now or absent).
    Unregistered,
    /// A file not written by latchkey is there: left alone.
    Foreign(PathBuf),
}

fn file_error(path: &std::path::Path, e: impl std::fmt::Display) -> AgentError {
    AgentError::SmartCardModuleFile {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

impl Agent {
    /// Writes or removes the p11-kit module file as `upn`'s policy in force says
    /// (UseHelloCertificatesAsSmartCardCertificates). Called at `hello setup`, policy
    /// sync and sign-in.
    pub fn apply_smart_card_policy(&self, upn: &str) -> Result<SmartCardFile, AgentError> {
        let on = self
            .policy_for(Some(upn))?
            .use_hello_certificates_as_smart_card_certificates
            .value;
        let file = module_file();
        let existing = match std::fs::read_to_string(&file) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(file_error(&file, e)),
        };
        if existing.as_ref().is_some_and(|t| !t.starts_with(MARKER)) {
            return Ok(SmartCardFile::Foreign(file));
        }
        if !on {
            if existing.is_some() {
                std::fs::remove_file(&file).map_err(|e| file_error(&file, e))?;
            }
            return Ok(SmartCardFile::Unregistered);
        }
        let module =
            module_path().ok_or_else(|| file_error(&file, "the module's path is unknown"))?;
        let text = format!("{MARKER}\nmodule: {}\n", module.display());
        if existing.as_deref() != Some(text.as_str()) {
            let dir = file
                .parent()
                .ok_or_else(|| file_error(&file, "no parent directory"))?;
            std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
            let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| file_error(&file, e))?;
            std::io::Write::write_all(&mut tmp, text.as_bytes())
                .map_err(|e| file_error(&file, e))?;
            tmp.persist(&file).map_err(|e| file_error(&file, e.error))?;
        }
        Ok(SmartCardFile::Registered(file))
    }
}
