//! A cluster that takes TCP connections over TLS only, for the tests of `sslmode` and
//! `sslrootcert`: a CA made here signs the server's certificate (for `localhost` and
//! `127.0.0.1`), and `pg_hba.conf` has only `hostssl` lines, so a client that does not
//! use TLS is refused.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType};

use crate::{HarnessError, PgCluster};

/// The CA file a TLS cluster writes into its directory (for `sslrootcert`).
pub const CA_FILE: &str = "ca.pem";

fn cert_error(e: rcgen::Error) -> HarnessError {
    HarnessError::Command {
        command: "making the test certificates".to_owned(),
        detail: e.to_string(),
    }
}

/// A self-signed CA named `name`: its PEM and its issuer.
fn new_ca(name: &str) -> Result<(String, Issuer<'static, KeyPair>), HarnessError> {
    let key = KeyPair::generate().map_err(cert_error)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(cert_error)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).map_err(cert_error)?;
    Ok((cert.pem(), Issuer::new(params, key)))
}

/// Writes a CA that signed nothing of any cluster into `dir` and returns its file: a root a
/// client must not accept the server with.
pub fn foreign_ca(dir: &Path) -> Result<PathBuf, HarnessError> {
    let (pem, _) = new_ca("Latchkey test: an unrelated CA")?;
    let path = dir.join("foreign-ca.pem");
    std::fs::write(&path, pem)?;
    Ok(path)
}

impl PgCluster {
    /// Like [`PgCluster::start`], but TCP connections must use TLS; the server's
    /// certificate chains to the CA in [`PgCluster::tls_ca_file`].
    pub async fn start_tls() -> Result<PgCluster, HarnessError> {
        Self::start_prepared(false, prepare_tls).await
    }

    /// The CA file of a cluster made by [`PgCluster::start_tls`] (`None` otherwise).
    pub fn tls_ca_file(&self) -> Option<PathBuf> {
        let path = self.dir().join(CA_FILE);
        path.is_file().then_some(path)
    }
}

/// Writes the CA, the server's certificate and key, the TLS settings and a `hostssl`-only
/// `pg_hba.conf` into a new cluster.
fn prepare_tls(cluster: &PgCluster) -> Result<(), HarnessError> {
    let (ca_pem, issuer) = new_ca("Latchkey test: PostgreSQL CA")?;
    let key = KeyPair::generate().map_err(cert_error)?;
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).map_err(cert_error)?;
    params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &issuer).map_err(cert_error)?;
    std::fs::write(cluster.dir().join(CA_FILE), ca_pem)?;
    let data = cluster.data();
    let files = [
        ("server.crt", cert.pem()),
        ("server.key", key.serialize_pem()),
    ];
    for (name, pem) in files {
        let path = data.join(name);
        std::fs::write(&path, pem)?;
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        cluster.give(&path)?;
    }
    let conf = data.join("postgresql.conf");
    let mut settings = std::fs::read_to_string(&conf)?;
    settings.push_str("\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
    std::fs::write(&conf, settings)?;
    let hba = data.join("pg_hba.conf");
    let rules: String = std::fs::read_to_string(&hba)?
        .lines()
        .map(|line| match line.strip_prefix("host ") {
            Some(rest) => format!("hostssl {rest}\n"),
            None => format!("{line}\n"),
        })
        .collect();
    std::fs::write(&hba, rules)?;
    Ok(())
}
