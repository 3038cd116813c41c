//! Test-only access to a software Hello key: the PKINIT tests with a FILE identity need the
//! private key as PEM, which no Latchkey command ever writes. The container is opened
//! through the `latchkey-agent` library with the PIN, exactly as a sign-in opens it.

use std::path::Path;

use base64::Engine as _;
use latchkey_agent::clock::SystemClock;
use latchkey_agent::store::StateDir;
use latchkey_agent::Agent;

/// PEM of `der` with `label`.
pub fn pem(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The PKCS#8 PEM of `upn`'s software Hello key in the state directory `state_dir`,
/// unlocked with `pin` (the container's wrong-PIN counter is not written back).
pub fn software_hello_key_pem(state_dir: &Path, upn: &str, pin: &str) -> String {
    let agent = Agent::new(StateDir::new(state_dir), Box::new(SystemClock), false);
    let mut container = agent
        .container(upn)
        .expect("read the container")
        .expect("a software Hello container");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let key = container
        .unlock(pin, now)
        .expect("the PIN opens the container");
    pem("PRIVATE KEY", &key.to_pkcs8().unwrap())
}

/// The wrong-PIN counter in `upn`'s software Hello container.
pub fn pin_failures(state_dir: &Path, upn: &str) -> u32 {
    let agent = Agent::new(StateDir::new(state_dir), Box::new(SystemClock), false);
    agent
        .container(upn)
        .expect("read the container")
        .expect("a software Hello container")
        .lockout
        .failures
}

/// The PKCS#8 DER of the device key in the state directory `state_dir` (unsealed as the
/// agent unseals it on this machine; nothing is rewritten when it is already sealed).
pub fn device_key_pkcs8(state_dir: &Path) -> Vec<u8> {
    let agent = Agent::new(StateDir::new(state_dir), Box::new(SystemClock), false);
    let record: latchkey_agent::records::DeviceRecord = StateDir::new(state_dir)
        .read_json(latchkey_agent::records::DEVICE_FILE)
        .expect("read device.json")
        .expect("a joined device");
    agent
        .device_key(&record)
        .expect("the device key opens")
        .to_pkcs8()
        .expect("a software device key")
        .to_vec()
}
