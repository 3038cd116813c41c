//! The independent peers that check what the binaries produce: PyJWT for tokens, and a
//! reader of `latchkey status --json`.

use std::process::Command;

use crate::{Service, World};

/// Verifies `token` with PyJWT through the service's discovery document and JWKS, returning
/// the claims; `Err` carries PyJWT's reason.
pub fn verify_with_pyjwt(
    world: &World,
    svc: &Service,
    audience: &str,
    token: &str,
) -> Result<serde_json::Value, String> {
    let python = std::env::var("LATCHKEY_PYTHON").unwrap_or_else(|_| "python3".into());
    // Cargo's run-time variable, not `env!`: a test binary built in another checkout that
    // shares the target directory must still find this checkout's script.
    let script = format!(
        "{}/../../tests/oidc/verify_token.py",
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into())
    );
    let mut child = Command::new(python)
        .arg(script)
        .arg(&svc.url)
        .arg(audience)
        .env("SSL_CERT_FILE", world.ca_file())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run python (scripts/test.sh installs PyJWT into a virtualenv)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(token.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "PyJWT is not installed: {stderr}"
    );
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    } else {
        Err(stderr)
    }
}

/// Finds a string field (case-insensitive, `_` ignored, any section) in a `status --json`
/// document.
pub fn json_field(v: &serde_json::Value, name: &str) -> Option<String> {
    match v {
        serde_json::Value::Object(map) => map.iter().find_map(|(k, val)| {
            let key = k.replace('_', "").to_ascii_lowercase();
            match val.as_str() {
                Some(s) if key == name.to_ascii_lowercase() => Some(s.to_string()),
                _ => json_field(val, name),
            }
        }),
        _ => None,
    }
}

/// Finds a field (case-insensitive, any section) in `status --json`.
pub fn status_field(world: &World, device: &str, name: &str) -> String {
    let status = world
        .device(device, &["status", "--json"], "")
        .assert_ok()
        .json();
    json_field(&status, name).unwrap_or_else(|| panic!("no {name} in status: {status}"))
}
