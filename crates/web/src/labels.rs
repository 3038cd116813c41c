//! What a person reads instead of the code's names: join types, key protection, audit
//! events and outcomes (the sign-in methods among them: "Web sign-in", "Password and
//! code", "Security key sign-in", "Windows Hello key sign-in").

/// A device's join type.
pub fn join_type(value: &str) -> &str {
    match value {
        "cloud" => "Joined (cloud)",
        "hybrid" => "Joined (hybrid)",
        "registered" => "Registered",
        other => other,
    }
}

/// How a Windows Hello key is protected.
pub fn attestation(value: &str) -> &str {
    match value {
        "tpm" => "TPM",
        "software" => "Software",
        other => other,
    }
}

/// An audit event.
pub fn event(value: &str) -> String {
    let known = match value {
        "web_signin" => "Web sign-in",
        "password_signin" => "Password and code",
        "security_key_signin" => "Security key sign-in",
        "signin" => "Windows Hello key sign-in",
        "web_signout" => "Web sign-out",
        "prt_renew" => "Session renewed",
        "token" => "Access token",
        "oidc_token" => "Application sign-in",
        "device_join" => "Device joined",
        "device_leave" => "Device left",
        "device_disable" => "Device disabled",
        "device_enable" => "Device enabled",
        "device_delete" => "Device deleted",
        "key_register" => "Windows Hello key registered",
        "key_replace" => "Windows Hello key replaced",
        "key_delete" => "Windows Hello key deleted",
        "security_key_register" => "Security key registered",
        "security_key_rename" => "Security key renamed",
        "security_key_delete" => "Security key deleted",
        "user_create" => "User added",
        "user_disable" => "User disabled",
        "user_enable" => "User enabled",
        "user_delete" => "User deleted",
        "user_reset_password" => "Password reset",
        "user_reset_mfa" => "MFA reset",
        "cert_issue" => "Certificate issued",
        "cert_renew" => "Certificate renewed",
        "cert_revoke" => "Certificate revoked",
        "cert_refuse" => "Certificate refused",
        "pin_reset" => "PIN reset",
        "policy_change" | "policy_syncml" => "Policy changed",
        _ => "",
    };
    if known.is_empty() {
        let mut words = value.replace('_', " ");
        if let Some(first) = words.get(..1) {
            let upper = first.to_uppercase();
            words.replace_range(..1, &upper);
        }
        words
    } else {
        known.to_owned()
    }
}

/// An audit outcome.
pub fn outcome(value: &str) -> &str {
    match value {
        "success" => "Succeeded",
        "failure" => "Failed",
        other => other,
    }
}
