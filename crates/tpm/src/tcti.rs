//! Which TPM to talk to: TCTI strings as tpm2-tools spells them.

use std::path::Path;
use std::str::FromStr;

use tss_esapi::tcti_ldr::TctiNameConf;

use crate::error::TpmError;

/// The kernel's TPM resource manager, the default TPM of a Linux device.
pub const DEFAULT_DEVICE: &str = "/dev/tpmrm0";

/// The longest TCTI string accepted (a path or host and port; well below any real need).
const MAX_TCTI_LEN: usize = 512;

/// A validated TCTI configuration string: `device:PATH`, `swtpm:host=H,port=P`,
/// `mssim:host=H,port=P` or `tabrmd:...`, exactly as tpm2-tools (`--tcti`, `TPM2TOOLS_TCTI`)
/// accept them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tcti {
    text: String,
}

impl Tcti {
    /// Parse and check a TCTI string.
    pub fn parse(text: &str) -> Result<Self, TpmError> {
        let invalid = |reason| TpmError::InvalidTcti {
            tcti: text.chars().take(MAX_TCTI_LEN).collect(),
            reason,
        };
        if text.len() > MAX_TCTI_LEN {
            return Err(invalid("longer than 512 bytes"));
        }
        if text.chars().any(|c| c.is_control()) {
            return Err(invalid("contains control characters"));
        }
        let kind = text.split(':').next().unwrap_or_default();
        if !matches!(kind, "device" | "swtpm" | "mssim" | "tabrmd") {
            return Err(invalid(
                "unknown TCTI (expected device:, swtpm:, mssim: or tabrmd:)",
            ));
        }
        TctiNameConf::from_str(text).map_err(|_| invalid("not accepted by the TSS"))?;
        Ok(Tcti {
            text: text.to_string(),
        })
    }

    /// The TCTI string, as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub(crate) fn name_conf(&self) -> Result<TctiNameConf, TpmError> {
        TctiNameConf::from_str(&self.text).map_err(|_| TpmError::InvalidTcti {
            tcti: self.text.clone(),
            reason: "not accepted by the TSS",
        })
    }
}

impl std::fmt::Display for Tcti {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// The default TPM: `device:/dev/tpmrm0` when that path exists, else `None` (the agent
/// then uses its software provider).
pub fn default_tcti() -> Option<Tcti> {
    default_tcti_at(Path::new(DEFAULT_DEVICE))
}

fn default_tcti_at(path: &Path) -> Option<Tcti> {
    if path.exists() {
        Tcti::parse(&format!("device:{}", path.display())).ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_tpm2_tools_spellings() {
        for t in [
            "device:/dev/tpmrm0",
            "swtpm:host=127.0.0.1,port=2321",
            "mssim:host=localhost,port=2321",
        ] {
            assert_eq!(Tcti::parse(t).unwrap().as_str(), t);
        }
    }

    #[test]
    fn refuses_unknown_and_oversized() {
        for t in ["", "libtpms", "foo:bar", "device\n:/dev/x"] {
            let e = Tcti::parse(t).unwrap_err();
            assert_eq!(e.code(), "LK-TPM-002", "{t}");
        }
        let long = format!("device:/{}", "a".repeat(600));
        assert_eq!(Tcti::parse(&long).unwrap_err().code(), "LK-TPM-002");
    }

    #[test]
    fn default_tcti_only_when_the_device_exists() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("tpmrm0");
        assert_eq!(default_tcti_at(&missing), None);
        std::fs::write(&missing, b"").unwrap();
        assert_eq!(
            default_tcti_at(&missing).unwrap().as_str(),
            format!("device:{}", missing.display())
        );
    }
}
