//! Administration of TPM attestation (what `latchkeyd tpm-roots ...` and `latchkeyd key
//! list` use): the tenant's TPM manufacturer roots, and the keys' attestation against the
//! policy.

use super::{Admin, AdminError};
use latchkey_server::audit::event;
use latchkey_server::key_report::{key_reports, KeyReport};
use latchkey_server::storage::tpm::TpmRoot;
use latchkey_server::tpm::{certificate_der, describe_certificate, sha256_hex};

/// The largest certificate file `tpm-roots add` reads.
pub const MAX_ROOT_FILE: usize = 64 * 1024;

impl Admin {
    /// Adds a TPM manufacturer root (or, with `intermediate`, an issuing CA used to build
    /// chains) from a PEM or DER certificate file's bytes. Audited (`tpm_root_add`).
    pub async fn tpm_root_add(
        &self,
        file: &[u8],
        intermediate: bool,
    ) -> Result<TpmRoot, AdminError> {
        if file.len() > MAX_ROOT_FILE {
            return Err(AdminError::Invalid(format!(
                "the certificate file is larger than {MAX_ROOT_FILE} bytes"
            )));
        }
        let der = certificate_der(file).map_err(AdminError::Invalid)?;
        let (subject, not_after, is_ca) =
            describe_certificate(&der).map_err(AdminError::Invalid)?;
        if !is_ca {
            return Err(AdminError::Invalid(format!(
                "{subject} is not a CA certificate (basicConstraints cA); add the manufacturer's root or issuing CA, not an EK certificate"
            )));
        }
        latchkey_attest::TrustAnchor::from_der(der.clone())
            .map_err(|e| AdminError::Invalid(e.to_string()))?;
        let root = TpmRoot {
            fingerprint: sha256_hex(&der),
            der,
            subject,
            intermediate,
            not_after,
            added_at: self.now(),
        };
        let kind = if intermediate { "intermediate" } else { "root" };
        let line = self
            .line(event::TPM_ROOT_ADD)
            .note(format!("{kind} {} {}", root.fingerprint, root.subject));
        self.storage
            .add_tpm_root(&self.tenant.id, &root, &line)
            .await?;
        Ok(root)
    }

    /// The tenant's TPM roots and intermediates.
    pub async fn tpm_roots(&self) -> Result<Vec<TpmRoot>, AdminError> {
        Ok(self.storage.list_tpm_roots(&self.tenant.id).await?)
    }

    /// Removes a root or intermediate by its SHA-256 fingerprint: activations that chain to
    /// it are refused from now on (AIKs activated earlier stay trusted). Audited
    /// (`tpm_root_remove`).
    pub async fn tpm_root_remove(&self, fingerprint: &str) -> Result<(), AdminError> {
        let fingerprint = fingerprint.trim().to_lowercase().replace(':', "");
        let line = self.line(event::TPM_ROOT_REMOVE).note(&fingerprint);
        if !self
            .storage
            .remove_tpm_root(&self.tenant.id, &fingerprint, &line)
            .await?
        {
            return Err(AdminError::NoSuchTpmRoot(fingerprint));
        }
        Ok(())
    }

    /// All keys (or one user's), each software key flagged when the effective policy of
    /// its device and user requires a security device.
    pub async fn key_reports(&self, upn: Option<&str>) -> Result<Vec<KeyReport>, AdminError> {
        let upn = upn.map(|u| u.trim().to_lowercase());
        key_reports(&*self.storage, &self.tenant.id, upn.as_deref())
            .await
            .map_err(AdminError::Policy)
    }
}
