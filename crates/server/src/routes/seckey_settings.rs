//! Validation of the tenant's security-key settings, shared by `latchkeyd security-key
//! settings` and the web crate's `PUT /v1/security-keys/settings`.

use crate::storage::web::SecurityKeySettings;

/// Checks settings before they are stored: the mode, each AAGUID, each root certificate.
pub fn validate(s: &SecurityKeySettings) -> Result<SecurityKeySettings, String> {
    if !["any", "allow", "block"].contains(&s.aaguid_mode.as_str()) {
        return Err("aaguid_mode must be any, allow or block".into());
    }
    let mut aaguids = Vec::new();
    for line in s
        .aaguids
        .split([',', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        let id: uuid::Uuid = line
            .parse()
            .map_err(|_| format!("{line} is not an AAGUID"))?;
        aaguids.push(id.hyphenated().to_string());
    }
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    for block in s.roots_pem.split(BEGIN).skip(1) {
        latchkey_attest::TrustAnchor::from_pem(format!("{BEGIN}{block}").as_bytes())
            .map_err(|e| format!("a root certificate is unusable: {e}"))?;
    }
    if s.require_trusted_root && !s.roots_pem.contains(BEGIN) {
        return Err("require_trusted_root needs at least one root certificate".into());
    }
    Ok(SecurityKeySettings {
        aaguids: aaguids.join("\n"),
        ..s.clone()
    })
}
