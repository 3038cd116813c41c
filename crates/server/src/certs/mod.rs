//! Certificate trust on the service side (docs/certificates.md): the issuing CA and the
//! registration authority (both certified by the tenant root, their keys sealed at rest
//! like the root's), the templates, the CRL and the URLs put into certificates.
//!
//! The enrolment and renewal routes are in [`crate::routes`] (`cert`), the public PKI
//! endpoints (CRL, CA certificates, OCSP) in `routes::pki`, the administration in
//! `latchkeyd::data_admin` (the `latchkeyd cert` commands).

pub mod crl;
pub mod describe;
pub mod serial;
pub mod template;

use latchkey_pki::{CaAlgorithm, IssuingCa, RegistrationAuthority};

use crate::audit::{self, event};
use crate::clock::Env;
use crate::error::ApiError;
use crate::secrets::SecretSlot;
use crate::storage::cert::{CertAuthorityRecord, CertTemplateRecord, ROLE_ISSUING, ROLE_RA};
use crate::storage::Storage;
use crate::tenant::{SetupError, Tenant};

/// Path of the CRL (the CRL distribution point), DER.
pub const CRL_PATH: &str = "/pki/issuing-ca.crl";
/// Path of the issuing CA's certificate (authority information access), DER.
pub const ISSUING_CA_PATH: &str = "/pki/issuing-ca.crt";
/// Path of the tenant root's certificate, DER.
pub const ROOT_CA_PATH: &str = "/pki/root-ca.crt";
/// Path of the OCSP responder (POST; GET appends `/{base64 request}`).
pub const OCSP_PATH: &str = "/pki/ocsp";

/// The issuing CA's algorithm when none is configured.
pub const DEFAULT_ALGORITHM: CaAlgorithm = CaAlgorithm::EcdsaP256;

/// The name of an issuing CA algorithm as stored and typed (`p256`, `rsa3072`).
pub fn algorithm_name(alg: CaAlgorithm) -> &'static str {
    match alg {
        CaAlgorithm::EcdsaP256 => "p256",
        CaAlgorithm::Rsa3072 => "rsa3072",
    }
}

/// The URLs put into certificates, from the service's public base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkiUrls {
    /// CRL distribution point.
    pub crl: String,
    /// The issuing CA's certificate (AIA caIssuers).
    pub ca_issuers: String,
    /// The OCSP responder (AIA OCSP).
    pub ocsp: String,
}

impl PkiUrls {
    /// The URLs under `base` (no trailing slash needed).
    pub fn new(base: &str) -> PkiUrls {
        let base = base.trim_end_matches('/');
        PkiUrls {
            crl: format!("{base}{CRL_PATH}"),
            ca_issuers: format!("{base}{ISSUING_CA_PATH}"),
            ocsp: format!("{base}{OCSP_PATH}"),
        }
    }
}

/// The issuing CA and the RA, loaded and ready to sign.
pub struct Pki {
    /// The issuing CA.
    pub issuing: IssuingCa,
    /// The registration authority.
    pub ra: RegistrationAuthority,
    /// The issuing CA's algorithm name.
    pub algorithm: String,
    /// The tenant root's certificate, DER.
    pub root_der: Vec<u8>,
    /// The tenant root's certificate, PEM.
    pub root_pem: String,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pki")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl Pki {
    /// The chain of a certificate it issued, PEM: the issuing CA, then the root.
    pub fn chain_pem(&self) -> Vec<String> {
        vec![self.issuing.cert_pem().to_owned(), self.root_pem.clone()]
    }
}

/// Loads the issuing CA and the RA, `None` when they were not created yet.
pub async fn load(storage: &dyn Storage, tenant: &Tenant) -> Result<Option<Pki>, SetupError> {
    let records = storage.cert_authorities(&tenant.id).await?;
    let issuing = records.iter().find(|r| r.role == ROLE_ISSUING);
    let ra = records.iter().find(|r| r.role == ROLE_RA);
    let (Some(issuing), Some(ra)) = (issuing, ra) else {
        return Ok(None);
    };
    let kek = &tenant.kek;
    let issuing_key = kek.open_text(&tenant.id, &SecretSlot::IssuingCaKey, &issuing.key_pem)?;
    let ra_key = kek.open_text(&tenant.id, &SecretSlot::RaKey, &ra.key_pem)?;
    Ok(Some(Pki {
        issuing: IssuingCa::from_pem(&issuing.cert_pem, &issuing_key)?,
        ra: RegistrationAuthority::from_pem(&ra.cert_pem, &ra_key)?,
        algorithm: issuing.algorithm.clone(),
        root_der: tenant.ca.cert_der().to_vec(),
        root_pem: tenant.ca.cert_pem().to_owned(),
    }))
}

/// Creates the issuing CA (with `algorithm`) and the RA, signed by the tenant root, and
/// the default "Hello authentication" template, unless they exist. Returns whether they
/// were created now (a concurrent creator may win; its authorities are kept).
pub async fn create(
    storage: &dyn Storage,
    tenant: &Tenant,
    env: &Env,
    algorithm: CaAlgorithm,
) -> Result<bool, SetupError> {
    if !storage.cert_authorities(&tenant.id).await?.is_empty() {
        return Ok(false);
    }
    let now = env.clock.now();
    let issuing = IssuingCa::create(&tenant.ca, &tenant.name, algorithm, now)?;
    let ra = RegistrationAuthority::create(&tenant.ca, &tenant.name, now)?;
    let nonce = || env.random::<12>().map_err(ApiError::from);
    let kek = &tenant.kek;
    let records = [
        CertAuthorityRecord {
            role: ROLE_ISSUING.to_owned(),
            algorithm: algorithm_name(algorithm).to_owned(),
            cert_pem: issuing.cert_pem().to_owned(),
            key_pem: kek.seal_text(
                &tenant.id,
                &SecretSlot::IssuingCaKey,
                issuing.key_pkcs8_pem(),
                nonce()?,
            )?,
            created_at: now.unix_timestamp(),
        },
        CertAuthorityRecord {
            role: ROLE_RA.to_owned(),
            algorithm: "p256".to_owned(),
            cert_pem: ra.cert_pem().to_owned(),
            key_pem: kek.seal_text(&tenant.id, &SecretSlot::RaKey, ra.key_pkcs8_pem(), nonce()?)?,
            created_at: now.unix_timestamp(),
        },
    ];
    let default = latchkey_pki::Template::hello_default();
    let templates = [CertTemplateRecord {
        name: default.name.clone(),
        body: serde_json::to_string(&default).map_err(|e| SetupError::Keys(e.to_string()))?,
        updated_at: now.unix_timestamp(),
    }];
    let line = audit::line(event::CERT_AUTHORITY_CREATE, now.unix_timestamp())
        .actor(crate::audit::ADMIN_ACTOR)
        .note(format!("issuing={} ra=p256", algorithm_name(algorithm)));
    Ok(storage
        .create_cert_authorities(&tenant.id, &records, &templates, &line)
        .await?)
}

/// [`create`] if needed, then [`load`].
pub async fn open_or_create(
    storage: &dyn Storage,
    tenant: &Tenant,
    env: &Env,
    algorithm: CaAlgorithm,
) -> Result<Pki, SetupError> {
    if create(storage, tenant, env, algorithm).await? {
        tracing::info!(
            algorithm = algorithm_name(algorithm),
            "created the issuing CA and the registration authority"
        );
    }
    load(storage, tenant).await?.ok_or_else(|| {
        SetupError::Keys("the issuing CA was not stored (concurrent creation?)".into())
    })
}
