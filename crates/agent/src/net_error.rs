//! What went wrong on the way to the service, in words a person reads: a certificate the
//! pinned tenant CA does not vouch for is "not trusted" ([`AgentError::NotTrusted`]); a
//! refused connection, an unknown host name or a timeout is "cannot reach"
//! ([`AgentError::Unreachable`]). Neither message carries the HTTP or TLS libraries' own
//! types or debug chains.

use std::error::Error as StdError;

use rustls::CertificateError;

use crate::error::AgentError;

/// The error for a request to `url` that failed before any HTTP answer.
/// The message names the server (`https://host:port`), not the route.
pub fn classify(url: &str, err: &reqwest::Error) -> AgentError {
    let parsed = reqwest::Url::parse(url).ok();
    let host = parsed
        .as_ref()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| url.to_owned());
    let origin = parsed.map(|u| u.origin().ascii_serialization());
    let url = origin.as_deref().unwrap_or(url);
    if let Some(tls) = find_rustls(err) {
        return match tls {
            rustls::Error::InvalidCertificate(cert) => AgentError::NotTrusted {
                url: url.to_owned(),
                reason: certificate_words(cert, &host),
            },
            rustls::Error::InvalidMessage(_) => AgentError::Unreachable {
                url: url.to_owned(),
                reason: "the server does not answer in TLS (is it serving plain HTTP?)".to_owned(),
            },
            _ => AgentError::NotTrusted {
                url: url.to_owned(),
                reason: "the TLS handshake failed".to_owned(),
            },
        };
    }
    AgentError::Unreachable {
        url: url.to_owned(),
        reason: connection_words(err, &host),
    }
}

/// The certificate check that failed, in words.
fn certificate_words(err: &CertificateError, host: &str) -> String {
    match err {
        CertificateError::UnknownIssuer
        | CertificateError::BadSignature
        | CertificateError::UnhandledCriticalExtension => {
            "its certificate is not signed by the tenant CA this device trusts".to_owned()
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            format!("its certificate does not name {host}")
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "its certificate has expired".to_owned()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "its certificate is not valid yet (check this device's clock)".to_owned()
        }
        CertificateError::Revoked => "its certificate is revoked".to_owned(),
        _ => "its certificate was refused by the TLS check".to_owned(),
    }
}

/// A failure to connect (or a timeout), in words.
fn connection_words(err: &reqwest::Error, host: &str) -> String {
    if err.is_timeout() {
        return "no answer (timed out)".to_owned();
    }
    let all = chain(err);
    let dns = all.iter().any(|e| e.to_string() == "dns error");
    // The innermost kind that says something (outer wrappers say `Other`).
    let io_kind = all
        .iter()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind)
        .rfind(|k| *k != std::io::ErrorKind::Other);
    if dns {
        return format!("the host name {host} is not known (DNS lookup failed)");
    }
    match io_kind {
        Some(std::io::ErrorKind::ConnectionRefused) => "connection refused".to_owned(),
        Some(std::io::ErrorKind::ConnectionReset) => "connection reset".to_owned(),
        Some(std::io::ErrorKind::ConnectionAborted) => "connection aborted".to_owned(),
        Some(std::io::ErrorKind::TimedOut) => "no answer (timed out)".to_owned(),
        Some(std::io::ErrorKind::HostUnreachable) => "no route to the host".to_owned(),
        Some(std::io::ErrorKind::NetworkUnreachable) => "the network is unreachable".to_owned(),
        Some(std::io::ErrorKind::UnexpectedEof) => {
            "the connection closed before an answer".to_owned()
        }
        _ if err.is_connect() => "the connection failed".to_owned(),
        _ => "the request failed before an answer".to_owned(),
    }
}

/// Every error in `err`'s chain: its sources, and the errors `io::Error`s wrap (their own
/// `source` skips the error they wrap, and a connector may wrap an `io::Error` in another).
fn chain(err: &reqwest::Error) -> Vec<&(dyn StdError + 'static)> {
    /// More than any real chain holds: a bound, not a limit anyone meets.
    const MAX_DEPTH: usize = 32;
    let mut all: Vec<&(dyn StdError + 'static)> = Vec::new();
    let mut next: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = next {
        if all.len() >= MAX_DEPTH {
            break;
        }
        all.push(e);
        next = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    all
}

/// The rustls error in `err`'s chain, if any.
fn find_rustls(err: &reqwest::Error) -> Option<&rustls::Error> {
    chain(err)
        .into_iter()
        .find_map(|e| e.downcast_ref::<rustls::Error>())
}
