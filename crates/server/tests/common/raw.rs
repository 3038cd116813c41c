//! Raw clients for the HTTP-layer tests: TLS streams that send exactly the bytes a test
//! wants (stalled bodies, byte-at-a-time headers) and wait for the server to close.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// A TLS connector trusting the tenant CA of `ca_file`.
pub fn connector(ca_file: &Path) -> TlsConnector {
    let pem = std::fs::read_to_string(ca_file).unwrap();
    let der = latchkey_pki::pem_to_der(&pem, "CERTIFICATE").unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(der)).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// A TLS connection to `addr` (HTTP/1.1, the certificate checked for its IP).
pub async fn tls(connector: &TlsConnector, addr: SocketAddr) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::IpAddress(addr.ip().into());
    tokio::time::timeout(Duration::from_secs(10), connector.connect(name, tcp))
        .await
        .expect("TLS handshake in time")
        .unwrap()
}

/// Reads until the peer closes (EOF or reset) or `deadline`; returns what was read and
/// whether the peer closed.
pub async fn read_until_closed<S: AsyncRead + Unpin>(
    stream: &mut S,
    deadline: Instant,
) -> (Vec<u8>, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return (got, false),
            Ok(Ok(0)) | Ok(Err(_)) => return (got, true),
            Ok(Ok(n)) => {
                got.extend_from_slice(buf.get(..n).unwrap());
                if got.len() > 1 << 20 {
                    return (got, false);
                }
            }
        }
    }
}

/// The status code and body of a raw HTTP/1.1 response.
pub fn parse_response(raw: &[u8]) -> (u16, String, String) {
    let text = String::from_utf8_lossy(raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_owned())
}
