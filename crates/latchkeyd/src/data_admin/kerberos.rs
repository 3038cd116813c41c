//! `latchkeyd kerberos ...`: the tenant's Kerberos realm and the files an MIT KDC needs for
//! PKINIT with Hello certificates (docs/pkinit.md).
//!
//! `kdc-setup` issues a KDC certificate (the same issuance as `cert issue-kdc`), and writes
//! it with its key, the anchors (issuing CA and root), the current CRL and two
//! configuration fragments into one directory. Every file is first written whole to a
//! temporary file in that directory and renamed into place only after the certificate and
//! the realm are recorded, so a failure leaves neither a half-written file nor a record of
//! files that do not exist.

use std::io::Write;
use std::path::{Path, PathBuf};

use latchkey_proto::ErrorCode;
use serde::Serialize;

use super::cert::pem;
use super::{Admin, AdminError};
use latchkey_server::audit::event;

/// The KDC certificate file.
pub const KDC_CERT_FILE: &str = "kdc.pem";
/// The KDC's private key file (mode 0600).
pub const KDC_KEY_FILE: &str = "kdc-key.pem";
/// The anchors a KDC trusts for client certificates: the issuing CA, then the root.
pub const ANCHORS_FILE: &str = "anchors.pem";
/// The current CRL of the issuing CA, PEM.
pub const CRL_FILE: &str = "crl.pem";
/// The kdc.conf fragment.
pub const KDC_CONF_FILE: &str = "kdc.conf";
/// The krb5.conf fragment (for clients).
pub const KRB5_CONF_FILE: &str = "krb5.conf";

/// What `kerberos kdc-setup` is asked to do.
#[derive(Debug, Clone)]
pub struct KdcSetup {
    /// The Kerberos realm (recorded as the tenant's).
    pub realm: String,
    /// The KDC's host name (the certificate's dNSName); default `kdc.` + the realm in
    /// lower case.
    pub hostname: Option<String>,
    /// The directory to write into (created if missing).
    pub out: PathBuf,
    /// Replace files that exist.
    pub force: bool,
    /// The KDC certificate's validity in days.
    pub validity_days: u32,
    /// The public base URL for the CRL URL (default: the service's last start).
    pub base_url: Option<String>,
}

/// What `kerberos kdc-setup` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct KdcSetupFiles {
    /// The realm recorded.
    pub realm: String,
    /// The KDC host name in the certificate.
    pub hostname: String,
    /// The KDC certificate's serial.
    pub serial: String,
    /// The directory (absolute).
    pub dir: PathBuf,
    /// The files written, absolute, in the order above (kdc.pem, kdc-key.pem,
    /// anchors.pem, crl.pem, kdc.conf, krb5.conf).
    pub files: Vec<PathBuf>,
}

/// The tenant's Kerberos settings (`kerberos show`).
#[derive(Debug, Clone, Serialize)]
pub struct KerberosSummary {
    /// The realm, once `kdc-setup` recorded one.
    pub realm: Option<String>,
}

fn coded(code: ErrorCode, message: String) -> AdminError {
    AdminError::Cert { code, message }
}

fn write_failed(path: &Path, err: &std::io::Error) -> AdminError {
    coded(
        ErrorCode::KrbOutputFailed,
        format!(
            "{}: {err} (nothing was written or recorded)",
            path.display()
        ),
    )
}

/// The kdc.conf fragment: the realm's PKINIT settings naming the files in `dir`.
pub fn kdc_conf(realm: &str, dir: &Path) -> String {
    let f = |name: &str| dir.join(name).display().to_string();
    format!(
        "# Written by `latchkeyd kerberos kdc-setup` for the realm {realm}.\n\
         # Merge into the KDC's kdc.conf (or `include` this file from it). The KDC reads the\n\
         # CRL only when it starts: after `latchkeyd cert crl` refreshed {crl}, restart krb5kdc.\n\
         [realms]\n    {realm} = {{\n\
         \x20       pkinit_identity = FILE:{cert},{key}\n\
         \x20       pkinit_anchors = FILE:{anchors}\n\
         \x20       pkinit_eku_checking = scLogin\n\
         \x20       pkinit_allow_upn = true\n\
         \x20       pkinit_revoke = FILE:{crl}\n\
         \x20       pkinit_require_crl_checking = true\n\
         \x20       pkinit_dh_min_bits = 2048\n\
         \x20   }}\n",
        cert = f(KDC_CERT_FILE),
        key = f(KDC_KEY_FILE),
        anchors = f(ANCHORS_FILE),
        crl = f(CRL_FILE),
    )
}

/// The krb5.conf fragment for clients: how to check the KDC's certificate.
pub fn krb5_conf(realm: &str, hostname: &str, dir: &Path) -> String {
    format!(
        "# Written by `latchkeyd kerberos kdc-setup` for the realm {realm}.\n\
         # Merge into the clients' krb5.conf (or `include` this file from it), copying\n\
         # anchors.pem to each client. Name the KDC with `kdc = {hostname}` in the realm (or\n\
         # publish DNS SRV records); this fragment does not, so that it never points a client\n\
         # at a host that is not there.\n\
         [realms]\n    {realm} = {{\n\
         \x20       pkinit_anchors = FILE:{anchors}\n\
         \x20       pkinit_kdc_hostname = {hostname}\n\
         \x20       pkinit_eku_checking = kpKDC\n\
         \x20   }}\n",
        anchors = dir.join(ANCHORS_FILE).display(),
    )
}

/// A file written whole under a temporary name in the output directory.
struct Staged {
    file: tempfile::NamedTempFile,
    target: PathBuf,
}

fn stage(dir: &Path, name: &str, bytes: &[u8], private: bool) -> Result<Staged, AdminError> {
    let target = dir.join(name);
    let mut file = tempfile::Builder::new()
        .prefix(".kdc-setup-")
        .tempfile_in(dir)
        .map_err(|e| write_failed(dir, &e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = if private { 0o600 } else { 0o644 };
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| write_failed(&target, &e))?;
    }
    file.write_all(bytes)
        .and_then(|()| file.as_file().sync_all())
        .map_err(|e| write_failed(&target, &e))?;
    Ok(Staged { file, target })
}

impl Admin {
    /// What a KDC's `pkinit_revoke` file holds (PEM): the issuing CA's current CRL (signed
    /// again first when due), then a root CRL signed now, valid as long, without entries
    /// (the root's certificates, the issuing CA and the RA, are never revoked); a KDC that
    /// requires CRL checking wants a CRL for every CA of the chain.
    pub async fn kdc_crl_pem(&self) -> Result<String, AdminError> {
        let issuing = self.crl().await?;
        let now = self.env.clock.now();
        let next = now + time::Duration::seconds(latchkey_server::certs::crl::CRL_VALIDITY_SECS);
        let number = u64::try_from(now.unix_timestamp()).unwrap_or_default();
        let root = self
            .tenant
            .ca
            .crl(number, now, next)
            .map_err(|e| AdminError::Cert {
                code: ErrorCode::CertIssuanceFailed,
                message: format!("the root CRL: {e}"),
            })?;
        Ok(format!(
            "{}{}",
            pem("X509 CRL", &issuing),
            pem("X509 CRL", &root)
        ))
    }

    /// Writes [`Admin::kdc_crl_pem`] to `out`, replacing it atomically (a temporary file
    /// in the same directory, renamed): what a KDC's `pkinit_revoke` names. LK-KRB-004
    /// when it cannot be written (the old file is then untouched).
    pub async fn write_kdc_crl(&self, out: &Path) -> Result<PathBuf, AdminError> {
        let text = self.kdc_crl_pem().await?;
        let name = out
            .file_name()
            .ok_or_else(|| write_failed(out, &std::io::Error::other("not a file name")))?
            .to_string_lossy()
            .into_owned();
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let staged = stage(&parent, &name, text.as_bytes(), false)?;
        let target = staged.target.clone();
        staged
            .file
            .persist(&target)
            .map_err(|e| write_failed(&target, &e.error))?;
        Ok(target)
    }

    /// Sets (`Some`) or removes (`None`) `upn`'s principal name override: Hello
    /// certificates of the user issued or renewed from then on carry `name@REALM` in the
    /// id-pkinit-san instead of the UPN's local part. LK-PKI-036 (as LK-KRB-005) for a name
    /// that is not one component, an unknown user as `user disable` reports it; nothing
    /// written then. Audited (`kerberos_principal_set`).
    pub async fn set_kerberos_principal(
        &self,
        upn: &str,
        name: Option<&str>,
    ) -> Result<(), AdminError> {
        let upn = upn.trim().to_lowercase();
        let name = name.map(str::trim);
        if let Some(n) = name {
            latchkey_pki::validate_principal_name(n).map_err(|e| {
                coded(
                    ErrorCode::KrbPrincipalInvalid,
                    format!("principal name `{n}`: {e}"),
                )
            })?;
        }
        let user = self
            .storage
            .user_by_upn(&self.tenant.id, &upn)
            .await?
            .ok_or_else(|| AdminError::NoSuchUser(upn.clone()))?;
        let line = self.line(event::KERBEROS_PRINCIPAL_SET).note(format!(
            "user={upn} principal={}",
            name.unwrap_or("(the UPN's local part)")
        ));
        self.storage
            .set_kerberos_principal(&self.tenant.id, &user.id, name, self.now(), &line)
            .await?;
        Ok(())
    }

    /// The tenant's Kerberos settings.
    pub async fn kerberos(&self) -> Result<KerberosSummary, AdminError> {
        Ok(KerberosSummary {
            realm: self.storage.kerberos_realm(&self.tenant.id).await?,
        })
    }

    /// Issues a KDC certificate for the realm, writes the six files of
    /// [`KdcSetupFiles::files`] into `setup.out` and records the realm as the tenant's,
    /// all or nothing: LK-KRB-001 / LK-KRB-002 for a bad realm or host name, LK-KRB-003
    /// when a file exists without `force`, LK-KRB-004 when the directory cannot be
    /// written. Audited (`cert_issue`, `kerberos_realm_set`).
    pub async fn kdc_setup(&self, setup: &KdcSetup) -> Result<KdcSetupFiles, AdminError> {
        let realm = setup.realm.trim();
        latchkey_pki::validate_realm(realm).map_err(|e| {
            coded(
                ErrorCode::KrbRealmInvalid,
                format!("--realm `{realm}`: {e}"),
            )
        })?;
        let hostname = match &setup.hostname {
            Some(h) => h.trim().to_ascii_lowercase(),
            None => format!("kdc.{}", realm.to_ascii_lowercase()),
        };
        latchkey_pki::validate_hostname(&hostname).map_err(|e| {
            coded(
                ErrorCode::KrbHostnameInvalid,
                format!("--hostname `{hostname}`: {e}"),
            )
        })?;
        let names = [
            KDC_CERT_FILE,
            KDC_KEY_FILE,
            ANCHORS_FILE,
            CRL_FILE,
            KDC_CONF_FILE,
            KRB5_CONF_FILE,
        ];
        if !setup.force {
            let existing: Vec<String> = names
                .iter()
                .map(|n| setup.out.join(n))
                .filter(|p| p.symlink_metadata().is_ok())
                .map(|p| p.display().to_string())
                .collect();
            if !existing.is_empty() {
                return Err(coded(
                    ErrorCode::KrbOutputExists,
                    format!(
                        "{} exist(s); nothing was written (--force replaces them)",
                        existing.join(", ")
                    ),
                ));
            }
        }
        std::fs::create_dir_all(&setup.out).map_err(|e| write_failed(&setup.out, &e))?;
        let dir = std::fs::canonicalize(&setup.out).map_err(|e| write_failed(&setup.out, &e))?;

        let issued = self
            .kdc_certificate(
                realm,
                &hostname,
                setup.validity_days,
                setup.base_url.as_deref(),
            )
            .await?;
        let crl_pem = self.kdc_crl_pem().await?;
        let staged = [
            stage(
                &dir,
                KDC_CERT_FILE,
                issued.certificate_pem.as_bytes(),
                false,
            )?,
            stage(&dir, KDC_KEY_FILE, issued.key_pem.as_bytes(), true)?,
            stage(&dir, ANCHORS_FILE, issued.chain_pem.as_bytes(), false)?,
            stage(&dir, CRL_FILE, crl_pem.as_bytes(), false)?,
            stage(&dir, KDC_CONF_FILE, kdc_conf(realm, &dir).as_bytes(), false)?,
            stage(
                &dir,
                KRB5_CONF_FILE,
                krb5_conf(realm, &hostname, &dir).as_bytes(),
                false,
            )?,
        ];

        let realm_line = self.line(event::KERBEROS_REALM_SET).note(format!(
            "realm={realm} kdc={hostname} dir={}",
            dir.display()
        ));
        self.storage
            .record_kdc_setup(
                &self.tenant.id,
                &issued.record,
                realm,
                self.now(),
                &[issued.audit.clone(), realm_line],
            )
            .await?;

        let mut files = Vec::with_capacity(staged.len());
        for s in staged {
            let target = s.target.clone();
            let done = if setup.force {
                s.file.persist(&target).map(|_| ())
            } else {
                s.file.persist_noclobber(&target).map(|_| ())
            };
            done.map_err(|e| {
                coded(
                    ErrorCode::KrbOutputFailed,
                    format!(
                        "{}: {} (the certificate and realm are recorded; run again with --force)",
                        target.display(),
                        e.error
                    ),
                )
            })?;
            files.push(target);
        }
        Ok(KdcSetupFiles {
            realm: realm.to_owned(),
            hostname,
            serial: issued.record.serial,
            dir,
            files,
        })
    }
}
