//! Administration of certificate trust (what `latchkeyd cert ...` uses): the issuing CA,
//! templates, certificates, revocation, the CRL and KDC certificates.

use std::path::{Path, PathBuf};

use latchkey_pki::{CaAlgorithm, Template};
use serde::Serialize;

use super::{Admin, AdminError};
use latchkey_server::audit::event;
use latchkey_server::certs::describe::{describe, CertificateFields};
use latchkey_server::certs::{self, crl, serial, template, PkiUrls};
use latchkey_server::error::ApiError;
use latchkey_server::storage::cert::{
    CertTemplateRecord, CertificateRecord, RevokeOutcome, KIND_KDC, STATE_VALID,
};

/// The issuing CA and the RA, for `cert authority show`.
#[derive(Debug, Clone, Serialize)]
pub struct AuthoritySummary {
    /// The issuing CA's algorithm.
    pub algorithm: String,
    /// The issuing CA's certificate, decoded.
    pub issuing_ca: Option<CertificateFields>,
    /// The RA's certificate, decoded.
    pub registration_authority: Option<CertificateFields>,
    /// The public base URL the CRL, CA and OCSP URLs are under (from the service's last
    /// start).
    pub base_url: Option<String>,
}

/// Changes `cert template set` makes; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default)]
pub struct TemplateChange {
    /// Validity in days.
    pub validity_days: Option<u32>,
    /// The renewal window: the last this many percent of the validity.
    pub renewal_percent: Option<u8>,
    /// `Some(Some(g))`: only members of `g`; `Some(None)`: everyone.
    pub group: Option<Option<String>>,
    /// `Some(Some(r))`: add the id-pkinit-san for realm `r`; `Some(None)`: none.
    pub kerberos_realm: Option<Option<String>>,
    /// Whether to add the rfc822Name.
    pub email: Option<bool>,
    /// Whether devices enrol automatically after `hello setup`.
    pub auto_enroll: Option<bool>,
}

/// A certificate with its decoded fields (`cert show`).
#[derive(Debug, Clone, Serialize)]
pub struct CertificateDetails {
    /// The stored record.
    #[serde(flatten)]
    pub record: CertificateRecord,
    /// The decoded certificate.
    pub fields: Option<CertificateFields>,
    /// The certificate, PEM.
    pub pem: String,
    /// Its chain, PEM: the issuing CA, the root.
    pub chain: Vec<String>,
}

/// A KDC certificate issued but not yet recorded: what `cert issue-kdc` and `kerberos
/// kdc-setup` write and store.
pub(crate) struct IssuedKdc {
    /// The certificate, PEM.
    pub(crate) certificate_pem: String,
    /// Its private key, PKCS#8 PEM.
    pub(crate) key_pem: zeroize::Zeroizing<String>,
    /// The chain, PEM: issuing CA then root.
    pub(crate) chain_pem: String,
    /// The record to store.
    pub(crate) record: CertificateRecord,
    /// The `cert_issue` line to store with it.
    pub(crate) audit: latchkey_server::storage::AuditRecord,
}

/// Files `cert issue-kdc` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct KdcFiles {
    /// The KDC certificate, PEM.
    pub certificate: PathBuf,
    /// Its private key, PKCS#8 PEM (mode 0600).
    pub key: PathBuf,
    /// The chain, PEM: issuing CA then root.
    pub chain: PathBuf,
    /// The certificate's serial.
    pub serial: String,
}

fn cert_error(err: ApiError) -> AdminError {
    AdminError::Cert {
        code: err.code(),
        message: err.to_string(),
    }
}

/// PEM of DER with `label`.
pub fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn write_new(path: &Path, bytes: &[u8], private: bool) -> Result<(), AdminError> {
    use std::io::Write;
    let fail = |e: std::io::Error| AdminError::Invalid(format!("{}: {e}", path.display()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, if private { 0o600 } else { 0o644 });
    let mut file = options.open(path).map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.sync_all().map_err(fail)
}

impl Admin {
    fn pki(&self) -> Result<&certs::Pki, AdminError> {
        self.pki.as_ref().ok_or_else(|| {
            AdminError::Invalid(
                "the issuing CA does not exist yet: start the service once, or run `latchkeyd cert authority init`"
                    .into(),
            )
        })
    }

    /// Creates the issuing CA (with `algorithm`), the RA and the default template, unless
    /// they exist (then refused, nothing changed). Audited (`cert_authority_create`).
    pub async fn cert_authority_init(
        &self,
        algorithm: CaAlgorithm,
    ) -> Result<AuthoritySummary, AdminError> {
        if !certs::create(&*self.storage, &self.tenant, &self.env, algorithm).await? {
            return Err(AdminError::Invalid(
                "the issuing CA exists already; its algorithm cannot be changed".into(),
            ));
        }
        let pki = certs::load(&*self.storage, &self.tenant)
            .await?
            .ok_or_else(|| AdminError::Invalid("the issuing CA was not stored".into()))?;
        self.summarize(&pki).await
    }

    /// The issuing CA and the RA.
    pub async fn cert_authority(&self) -> Result<AuthoritySummary, AdminError> {
        self.summarize(self.pki()?).await
    }

    async fn summarize(&self, pki: &certs::Pki) -> Result<AuthoritySummary, AdminError> {
        let state = self.storage.pki_state(&self.tenant.id).await?;
        Ok(AuthoritySummary {
            algorithm: pki.algorithm.clone(),
            issuing_ca: describe(pki.issuing.cert_der()),
            registration_authority: describe(pki.ra.cert_der()),
            base_url: state.and_then(|s| s.base_url),
        })
    }

    /// All templates.
    pub async fn cert_templates(&self) -> Result<Vec<Template>, AdminError> {
        template::all(&*self.storage, &self.tenant.id)
            .await
            .map_err(cert_error)
    }

    /// One template (LK-CERT-004).
    pub async fn cert_template(&self, name: &str) -> Result<Template, AdminError> {
        self.cert_templates()
            .await?
            .into_iter()
            .find(|t| t.name == name)
            .ok_or_else(|| cert_error(ApiError::CertTemplateNotFound(name.to_owned())))
    }

    /// Changes a template, or creates it (from the "Hello authentication" defaults) when
    /// none has this name. The result is validated (LK-CERT-012, nothing written). Audited
    /// (`cert_template_set`).
    pub async fn set_cert_template(
        &self,
        name: &str,
        change: &TemplateChange,
    ) -> Result<Template, AdminError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
            return Err(cert_error(ApiError::CertTemplateInvalid(
                "a template name has 1 to 64 characters, no control characters".into(),
            )));
        }
        let mut t = match self.cert_template(name).await {
            Ok(t) => t,
            Err(AdminError::Cert { .. }) => {
                let mut t = Template::hello_default();
                t.name = name.to_owned();
                t
            }
            Err(other) => return Err(other),
        };
        if let Some(days) = change.validity_days {
            t.validity_days = days;
        }
        if let Some(percent) = change.renewal_percent {
            t.renewal_percent = percent;
        }
        if let Some(group) = &change.group {
            t.enroll_group = group.as_ref().map(|g| g.trim().to_lowercase());
        }
        if let Some(realm) = &change.kerberos_realm {
            t.kerberos_realm = realm.clone();
        }
        if let Some(email) = change.email {
            t.include_email = email;
        }
        if let Some(auto) = change.auto_enroll {
            t.auto_enroll = auto;
        }
        t.validate()
            .map_err(|e| cert_error(ApiError::CertTemplateInvalid(e.to_string())))?;
        let body = serde_json::to_string(&t).map_err(|e| AdminError::Invalid(e.to_string()))?;
        let record = CertTemplateRecord {
            name: t.name.clone(),
            body,
            updated_at: self.now(),
        };
        let line = self.line(event::CERT_TEMPLATE_SET).note(format!(
            "template={} validity_days={} renewal_percent={} group={} auto_enroll={}",
            t.name,
            t.validity_days,
            t.renewal_percent,
            t.enroll_group.as_deref().unwrap_or("(everyone)"),
            t.auto_enroll
        ));
        self.storage
            .put_cert_template(&self.tenant.id, &record, &line)
            .await?;
        Ok(t)
    }

    /// All certificates, or one user's, newest first.
    pub async fn certificates(
        &self,
        upn: Option<&str>,
    ) -> Result<Vec<CertificateRecord>, AdminError> {
        let upn = upn.map(|u| u.trim().to_lowercase());
        Ok(self
            .storage
            .list_certificates(&self.tenant.id, upn.as_deref(), None)
            .await?)
    }

    /// One certificate with its decoded fields and chain (LK-CERT-006).
    pub async fn certificate(&self, serial_text: &str) -> Result<CertificateDetails, AdminError> {
        let serial =
            serial::normalize(serial_text).ok_or_else(|| cert_error(ApiError::CertNotFound))?;
        let record = self
            .storage
            .certificate(&self.tenant.id, &serial)
            .await?
            .ok_or_else(|| cert_error(ApiError::CertNotFound))?;
        let chain = self.pki().map(certs::Pki::chain_pem).unwrap_or_default();
        Ok(CertificateDetails {
            fields: describe(&record.der),
            pem: pem("CERTIFICATE", &record.der),
            chain,
            record,
        })
    }

    /// Revokes a certificate for `reason` (an RFC 5280 reason name) and signs the CRL
    /// again. LK-CERT-006 if there is none, LK-CERT-015 if revoked already, LK-REQ-003 for
    /// an unknown reason; nothing written then. Audited (`cert_revoke`).
    pub async fn revoke_certificate(
        &self,
        serial_text: &str,
        reason: &str,
    ) -> Result<CertificateRecord, AdminError> {
        let (reason, _) = crl::parse_reason(reason).ok_or_else(|| {
            AdminError::Invalid(format!(
                "unknown revocation reason `{reason}`; one of: {}",
                crl::REASONS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        let serial =
            serial::normalize(serial_text).ok_or_else(|| cert_error(ApiError::CertNotFound))?;
        let now = self.now();
        let line = self
            .line(event::CERT_REVOKE)
            .note(format!("serial={serial} reason={reason}"));
        match self
            .storage
            .revoke_certificate(&self.tenant.id, &serial, reason, now, &line)
            .await?
        {
            RevokeOutcome::Revoked => {}
            RevokeOutcome::NotFound => return Err(cert_error(ApiError::CertNotFound)),
            RevokeOutcome::AlreadyRevoked => return Err(cert_error(ApiError::CertAlreadyRevoked)),
        }
        if let Ok(pki) = self.pki() {
            crl::current(&*self.storage, &self.tenant.id, pki, now)
                .await
                .map_err(cert_error)?;
        }
        Ok(self.certificate(&serial).await?.record)
    }

    /// The current CRL, DER (signed again first when due).
    pub async fn crl(&self) -> Result<Vec<u8>, AdminError> {
        crl::current(&*self.storage, &self.tenant.id, self.pki()?, self.now())
            .await
            .map_err(cert_error)
    }

    /// Issues a KDC certificate for `realm` and `hostname` and writes `kdc.pem`,
    /// `kdc-key.pem` (0600) and `ca-chain.pem` into `out` (refusing to overwrite any).
    /// The CRL URL comes from `base_url`, else the service's last start. Audited
    /// (`cert_issue`).
    pub async fn issue_kdc(
        &self,
        realm: &str,
        hostname: &str,
        out: &Path,
        validity_days: u32,
        base_url: Option<&str>,
    ) -> Result<KdcFiles, AdminError> {
        let files = KdcFiles {
            certificate: out.join("kdc.pem"),
            key: out.join("kdc-key.pem"),
            chain: out.join("ca-chain.pem"),
            serial: String::new(),
        };
        for path in [&files.certificate, &files.key, &files.chain] {
            if path.exists() {
                return Err(AdminError::Invalid(format!(
                    "{} exists; not overwritten",
                    path.display()
                )));
            }
        }
        let issued = self
            .kdc_certificate(realm, hostname, validity_days, base_url)
            .await?;
        std::fs::create_dir_all(out)
            .map_err(|e| AdminError::Invalid(format!("{}: {e}", out.display())))?;
        self.storage
            .record_kdc_certificate(&self.tenant.id, &issued.record, &issued.audit)
            .await?;
        write_new(&files.key, issued.key_pem.as_bytes(), true)?;
        write_new(&files.certificate, issued.certificate_pem.as_bytes(), false)?;
        write_new(&files.chain, issued.chain_pem.as_bytes(), false)?;
        Ok(KdcFiles {
            serial: issued.record.serial,
            ..files
        })
    }

    /// Issues (but does not record) a KDC certificate for `realm` on `hostname` with a new
    /// RSA-2048 key: the certificate, its key and chain as PEM, the record and the
    /// `cert_issue` audit line to store with it. The CRL URL comes from `base_url`, else
    /// the service's last start.
    pub(crate) async fn kdc_certificate(
        &self,
        realm: &str,
        hostname: &str,
        validity_days: u32,
        base_url: Option<&str>,
    ) -> Result<IssuedKdc, AdminError> {
        let pki = self.pki()?;
        let base = match base_url {
            Some(url) => url.to_owned(),
            None => self
                .storage
                .pki_state(&self.tenant.id)
                .await?
                .and_then(|s| s.base_url)
                .ok_or_else(|| {
                    AdminError::Invalid(
                        "no public base URL known: start the service once, or pass --base-url"
                            .into(),
                    )
                })?,
        };
        let urls = PkiUrls::new(&base);
        let issued = pki
            .issuing
            .issue_kdc_certificate(
                realm,
                hostname,
                self.env.clock.now(),
                validity_days,
                Some(&urls.crl),
            )
            .map_err(|e| cert_error(ApiError::CertIssuanceFailed(e.to_string())))?;
        let der = issued.certificate.der.clone();
        let fields = describe(&der);
        let serial = fields
            .as_ref()
            .map(|f| f.serial.clone())
            .unwrap_or_default();
        let now = self.now();
        let record = CertificateRecord {
            serial: serial.clone(),
            kind: KIND_KDC.to_owned(),
            user_id: None,
            upn: None,
            device_id: None,
            key_id: None,
            template: "KDC".to_owned(),
            subject: fields
                .as_ref()
                .map(|f| f.subject.clone())
                .unwrap_or_default(),
            not_before: now,
            not_after: now + i64::from(validity_days) * 86400,
            fingerprint: issued.certificate.fingerprint_sha256.clone(),
            der,
            state: STATE_VALID.to_owned(),
            revoked_at: None,
            reason: None,
            renewed_from: None,
            issued_at: now,
        };
        let audit = self.line(event::CERT_ISSUE).note(format!(
            "serial={serial} template=KDC realm={realm} host={hostname}"
        ));
        Ok(IssuedKdc {
            certificate_pem: issued.certificate.pem.clone(),
            key_pem: zeroize::Zeroizing::new(pem("PRIVATE KEY", &issued.key_pkcs8_der)),
            chain_pem: pki.chain_pem().concat(),
            record,
            audit,
        })
    }
}
