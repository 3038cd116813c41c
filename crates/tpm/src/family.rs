//! Telling a TPM 1.2 from a TPM 2.0 when the TSS cannot talk to it.
//!
//! libtss2 speaks TPM 2.0 only: against a TPM 1.2 every command fails inside the TSS with
//! a generic error, which says nothing about why. To report "this is a TPM 1.2" (which
//! policy's `ExcludeSecurityDevices/TPM12` refers to) the probe sends one TPM 2.0 command
//! itself, TPM2_GetCapability, and reads only the tag of the answer: a TPM 2.0 answers
//! with `TPM_ST_NO_SESSIONS` (0x8001) or `TPM_ST_SESSIONS` (0x8002), a TPM 1.2 with
//! `TPM_TAG_RSP_COMMAND` (0x00C4, the TPM 1.2 Main Specification, Part 2), whatever the
//! error code that follows. Only the 10-byte response header is read.
//!
//! This works for the TCTIs that carry raw TPM commands: `device:` (a character device)
//! and `swtpm:` (swtpm's TCP data channel). For the others the family stays unknown.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::tcti::Tcti;

/// How long the raw probe waits to connect, and for each read and write.
const RAW_TIMEOUT: Duration = Duration::from_secs(2);

/// TPM2_GetCapability(TPM_CAP_TPM_PROPERTIES, TPM_PT_FAMILY_INDICATOR, 1), without sessions
/// (TPM 2.0 Library Part 3, 30.2).
const GET_FAMILY: [u8; 22] = [
    0x80, 0x01, // TPM_ST_NO_SESSIONS
    0x00, 0x00, 0x00, 0x16, // commandSize: 22
    0x00, 0x00, 0x01, 0x7a, // TPM_CC_GetCapability
    0x00, 0x00, 0x00, 0x06, // TPM_CAP_TPM_PROPERTIES
    0x00, 0x00, 0x01, 0x00, // TPM_PT_FAMILY_INDICATOR
    0x00, 0x00, 0x00, 0x01, // propertyCount
];

/// The TPM family a raw answer shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// A TPM 1.2.
    Tpm12,
    /// A TPM 2.0.
    Tpm20,
}

/// The family a response header's tag names, if it is one of the known tags.
pub fn family_of_response(header: &[u8]) -> Option<Family> {
    match header.get(..2)? {
        [0x80, 0x01] | [0x80, 0x02] => Some(Family::Tpm20),
        [0x00, 0xc4] => Some(Family::Tpm12),
        _ => None,
    }
}

/// Sends TPM2_GetCapability to the TPM behind `tcti` without the TSS and reads the answer's
/// family; `None` when the TCTI does not carry raw commands, the TPM cannot be reached, or
/// the answer is not one a TPM gives.
pub fn raw_family(tcti: &Tcti) -> Option<Family> {
    let text = tcti.as_str();
    let header = if let Some(path) = text.strip_prefix("device:") {
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .ok()?;
        exchange(&mut file)?
    } else if let Some(conf) = text.strip_prefix("swtpm:") {
        let (host, port) = host_port(conf)?;
        let addr = (host.as_str(), port).to_socket_addrs().ok()?.next()?;
        let mut stream = TcpStream::connect_timeout(&addr, RAW_TIMEOUT).ok()?;
        stream.set_read_timeout(Some(RAW_TIMEOUT)).ok()?;
        stream.set_write_timeout(Some(RAW_TIMEOUT)).ok()?;
        exchange(&mut stream)?
    } else {
        return None;
    };
    family_of_response(&header)
}

fn exchange(io: &mut (impl Read + Write)) -> Option<[u8; 10]> {
    io.write_all(&GET_FAMILY).ok()?;
    let mut header = [0u8; 10];
    io.read_exact(&mut header).ok()?;
    Some(header)
}

/// `host=H,port=P` as the swtpm TCTI takes it (defaults: localhost, 2321).
fn host_port(conf: &str) -> Option<(String, u16)> {
    let mut host = "localhost".to_owned();
    let mut port = 2321u16;
    for part in conf.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            Some(("host", h)) => h.clone_into(&mut host),
            Some(("port", p)) => port = p.parse().ok()?,
            _ => return None,
        }
    }
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_tags_name_the_family() {
        assert_eq!(
            family_of_response(&[0x80, 0x01, 0, 0, 0, 10, 0, 0, 1, 0x01]),
            Some(Family::Tpm20)
        );
        assert_eq!(family_of_response(&[0x80, 0x02]), Some(Family::Tpm20));
        // TPM 1.2: TPM_TAG_RSP_COMMAND, TPM_BADTAG.
        assert_eq!(
            family_of_response(&[0x00, 0xc4, 0, 0, 0, 10, 0, 0, 0, 0x1e]),
            Some(Family::Tpm12)
        );
        assert_eq!(family_of_response(&[0x00, 0xc1]), None);
        assert_eq!(family_of_response(&[0x80]), None);
        assert_eq!(family_of_response(&[]), None);
    }

    #[test]
    fn swtpm_configuration_strings() {
        assert_eq!(
            host_port("host=127.0.0.1,port=2400"),
            Some(("127.0.0.1".to_owned(), 2400))
        );
        assert_eq!(host_port(""), Some(("localhost".to_owned(), 2321)));
        assert_eq!(host_port("port=x"), None);
        assert_eq!(host_port("path=/x"), None);
    }
}
