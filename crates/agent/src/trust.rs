//! Deciding to trust the service's CA at join: a file given by the administrator, a
//! fingerprint given on the command line, or the user's confirmation of the fingerprint
//! shown on first contact (the service prints it at start and in `latchkeyd tenant show`).

use std::path::Path;

use latchkey_proto::api::tenant::TenantInfo;

use crate::client::ServiceClient;
use crate::error::AgentError;

/// The SHA-256 fingerprint of the first certificate in `pem`, colon-separated uppercase hex.
pub fn ca_fingerprint(pem: &str) -> Result<String, AgentError> {
    let der = latchkey_pki::pem_to_der(pem, "CERTIFICATE")
        .map_err(|e| AgentError::BadCa(format!("not a PEM certificate: {e}")))?;
    Ok(latchkey_pki::fingerprint_sha256(&der))
}

/// Normalises a fingerprint for comparison: hex digits only, uppercase.
fn normalise(fp: &str) -> String {
    fp.chars()
        .filter(char::is_ascii_hexdigit)
        .collect::<String>()
        .to_ascii_uppercase()
}

/// Reads and checks a CA file given with `--ca`.
pub fn ca_from_file(path: &Path) -> Result<String, AgentError> {
    let pem = std::fs::read_to_string(path)
        .map_err(|e| AgentError::BadCa(format!("cannot read {}: {e}", path.display())))?;
    ca_fingerprint(&pem)?;
    Ok(pem)
}

/// Fetches the service's CA on first contact and accepts it when its fingerprint equals
/// `expected` or, without one, when `confirm(fingerprint)` says yes.
pub fn ca_on_first_contact(
    server: &str,
    expected: Option<&str>,
    confirm: &mut dyn FnMut(&str) -> Result<bool, AgentError>,
) -> Result<String, AgentError> {
    let pem = ServiceClient::fetch_ca_unverified(server)?;
    let fingerprint = ca_fingerprint(&pem)?;
    match expected {
        Some(want) if normalise(want) == normalise(&fingerprint) => Ok(pem),
        Some(want) => Err(AgentError::BadCa(format!(
            "the server at {server} is not trusted: its CA has fingerprint {fingerprint}, \
             not the expected {want}"
        ))),
        None if confirm(&fingerprint)? => Ok(pem),
        None => Err(AgentError::UntrustedCa(format!(
            "fingerprint {fingerprint} was not confirmed"
        ))),
    }
}

/// Checks, before any secret is asked for, that the service at `server` answers over TLS
/// pinned to `ca_pem` (the certificate signed by that CA and naming the host): its
/// tenant, or [`AgentError::NotTrusted`] / [`AgentError::Unreachable`].
pub fn check_service(server: &str, ca_pem: &str) -> Result<TenantInfo, AgentError> {
    ServiceClient::new(server, ca_pem)?.tenant()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_compare_whatever_their_punctuation() {
        assert_eq!(normalise("ab:CD:01"), "ABCD01");
        assert_eq!(normalise("abcd01"), normalise("AB:CD:01"));
        assert_eq!(
            ca_fingerprint("not pem").unwrap_err().code(),
            "LK-AGENT-008"
        );
    }
}
