//! TLS (rustls with the ring provider): a server certificate from the issuing CA, served with
//! the issuing CA and the tenant root as its chain so clients pinning the root (the CA file)
//! can verify. The root key signs only CA and RA certificates.

use std::sync::Arc;

use latchkey_pki::{IssuingCa, TenantCa};
use rustls::ServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;
use tokio_rustls::TlsAcceptor;

/// Issues a server certificate for `host` from `issuing` and builds the acceptor.
pub fn acceptor(
    root: &TenantCa,
    issuing: &IssuingCa,
    host: &str,
    now: OffsetDateTime,
) -> Result<TlsAcceptor, String> {
    let server = issuing
        .issue_server_certificate(host, now)
        .map_err(|e| e.to_string())?;
    let chain = vec![
        CertificateDer::from(server.certificate.der.clone()),
        CertificateDer::from(issuing.cert_der().to_vec()),
        CertificateDer::from(root.cert_der().to_vec()),
    ];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server.key_pkcs8_der.to_vec()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| e.to_string())?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
