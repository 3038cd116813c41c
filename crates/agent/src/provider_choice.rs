//! Choosing the key provider: `--key-provider tpm|software|auto` and `--tpm TCTI`.

use latchkey_policy::provision::TpmState;
use latchkey_tpm::{probe, Tcti};

use crate::container::KdfParams;
use crate::error::AgentError;
use crate::provider::{KeyProvider, SoftwareProvider};
use crate::tpm_provider::TpmProvider;

/// Which provider was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProviderMode {
    /// The TPM, or fail.
    Tpm,
    /// Software keys, whatever the device has.
    Software,
    /// The TPM when one is usable, else software (the default).
    #[default]
    Auto,
}

impl ProviderMode {
    /// Parses `tpm`, `software` or `auto`.
    pub fn parse(text: &str) -> Result<Self, AgentError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "tpm" => Ok(ProviderMode::Tpm),
            "software" => Ok(ProviderMode::Software),
            "auto" => Ok(ProviderMode::Auto),
            other => Err(AgentError::InvalidInput(format!(
                "unknown key provider {other:?} (expected tpm, software or auto)"
            ))),
        }
    }

    /// The flag value.
    pub fn as_str(&self) -> &'static str {
        match self {
            ProviderMode::Tpm => "tpm",
            ProviderMode::Software => "software",
            ProviderMode::Auto => "auto",
        }
    }
}

/// The provider chosen and why.
pub struct ProviderChoice {
    /// The provider.
    pub provider: Box<dyn KeyProvider>,
    /// Why it was chosen, in one line (for `status` and the event log).
    pub reason: String,
}

impl std::fmt::Debug for ProviderChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderChoice")
            .field("provider", &self.provider.name())
            .field("reason", &self.reason)
            .finish()
    }
}

/// Chooses the provider for `mode`, probing `tcti` (or the default TPM, `/dev/tpmrm0`
/// when it exists). `kdf` is the software provider's Argon2id costs.
pub fn choose(
    mode: ProviderMode,
    tcti: Option<&Tcti>,
    kdf: KdfParams,
) -> Result<ProviderChoice, AgentError> {
    let software = |reason: String, found_tpm: TpmState| ProviderChoice {
        provider: Box::new(SoftwareProvider { kdf, found_tpm }),
        reason,
    };
    if mode == ProviderMode::Software {
        return Ok(software(
            "--key-provider software: software keys were asked for".to_owned(),
            TpmState::Absent,
        ));
    }
    let found = probe(tcti);
    let reason = found.reason();
    match (found.tcti.clone(), found.info.clone(), found.usable()) {
        (Some(tcti), Some(info), true) => Ok(ProviderChoice {
            provider: Box::new(TpmProvider::new(tcti, info, kdf)),
            reason: format!("--key-provider {}: {reason}", mode.as_str()),
        }),
        _ => {
            let tpm12 = found.is_tpm12();
            // What the prerequisite check and ExcludeSecurityDevices/TPM12 judge by.
            let found_tpm = match (&found.tcti, tpm12) {
                (_, true) => TpmState::UsableTpm12,
                (None, false) => TpmState::Absent,
                (Some(_), false) => TpmState::NotUsable,
            };
            let why = if tpm12 {
                format!("{reason} (Latchkey uses TPM 2.0 only; a TPM 1.2 is reported, not used)")
            } else {
                reason
            };
            match mode {
                ProviderMode::Tpm => Err(AgentError::TpmUnavailable { reason: why }),
                _ => Ok(software(
                    format!("--key-provider auto: no usable TPM, software keys: {why}"),
                    found_tpm,
                )),
            }
        }
    }
}
