//! `latchkey status` as text, in `dsregcmd /status`'s order of sections (Device State,
//! Device Details, Tenant Details, User State, SSO State, Ngc Prerequisite Check, then
//! Latchkey's Policy), no line wider than [`WIDTH`] columns: long values wrap under
//! their column, at spaces first, then after a `:`, `/`, `,` or `-`, and a word with none
//! of those is cut.

use crate::status::StatusReport;

/// The widest line `render` prints.
pub const WIDTH: usize = 80;
/// The column of names, right-aligned (the longest is `DeviceCertificateThumbprint`).
const NAME_WIDTH: usize = 27;
/// `NAME : ` before each value.
const INDENT: usize = NAME_WIDTH + 3;

fn yes_no(b: bool) -> &'static str {
    if b {
        "YES"
    } else {
        "NO"
    }
}

/// Splits `text` into lines of at most `width` characters.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word = word;
        loop {
            let used = line.chars().count();
            let len = word.chars().count();
            let room = if used == 0 {
                width
            } else {
                width.saturating_sub(used + 1)
            };
            if len <= room || (used == 0 && len <= width) {
                if used > 0 {
                    line.push(' ');
                }
                line.push_str(word);
                break;
            }
            if used > 0 && len <= width {
                lines.push(std::mem::take(&mut line));
                continue;
            }
            // Longer than a line: cut after the last separator that fits, else at the room.
            let room = if room == 0 {
                lines.push(std::mem::take(&mut line));
                width
            } else {
                room
            };
            let head: String = word.chars().take(room).collect();
            let cut = head
                .char_indices()
                .filter(|(_, c)| matches!(c, ':' | '/' | ',' | '-'))
                .map(|(i, c)| i + c.len_utf8())
                .next_back()
                .filter(|&i| i > 0)
                .unwrap_or(head.len());
            let (first, rest) = word.split_at(cut);
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(first);
            lines.push(std::mem::take(&mut line));
            word = rest;
            if word.is_empty() {
                break;
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

fn section(out: &mut String, title: &str, rows: &[(&str, String)]) {
    let rule = format!("+{}+\n", "-".repeat(WIDTH - 10));
    out.push_str(&rule);
    out.push_str(&format!("| {title:<width$} |\n", width = WIDTH - 12));
    out.push_str(&rule);
    out.push('\n');
    for (k, v) in rows {
        for (i, part) in wrap(v, WIDTH - INDENT).iter().enumerate() {
            if i == 0 {
                out.push_str(&format!("{k:>NAME_WIDTH$} : {part}\n"));
            } else {
                out.push_str(&format!("{:INDENT$}{part}\n", ""));
            }
        }
    }
    out.push('\n');
}

/// Renders the report as text for people.
pub fn render(r: &StatusReport) -> String {
    let none = || "-".to_owned();
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(none);
    let d = &r.device_state;
    let mut out = String::new();
    section(
        &mut out,
        "Device State",
        &[
            ("Joined", yes_no(d.joined).to_owned()),
            ("JoinType", opt(&d.join_type)),
        ],
    );
    section(
        &mut out,
        "Device Details",
        &[
            ("DeviceId", opt(&d.device_id)),
            (
                "DeviceCertificateThumbprint",
                opt(&d.device_certificate_thumbprint),
            ),
            ("DeviceCertificateSha256", opt(&d.device_certificate_sha256)),
            (
                "DeviceCertificateValidity",
                opt(&d.device_certificate_validity),
            ),
            ("DeviceKeyAlgorithm", opt(&d.device_key_algorithm)),
            ("DeviceKeyProtection", opt(&d.device_key_protection)),
            ("KeyProvider", d.key_provider.clone()),
            ("KeyProviderReason", d.key_provider_reason.clone()),
            ("TpmProtected", yes_no(d.tpm_protected).to_owned()),
            ("TpmManufacturer", opt(&d.tpm_manufacturer)),
            ("TpmFirmware", opt(&d.tpm_firmware)),
            ("TpmSpecVersion", opt(&d.tpm_spec_version)),
            (
                "TpmLockout",
                d.tpm_lockout.as_ref().map_or_else(none, |l| {
                    format!(
                        "{} ({} of {} failures; {})",
                        if l.in_lockout {
                            "LOCKED OUT"
                        } else {
                            "not locked"
                        },
                        l.counter,
                        l.max_tries,
                        l.wait
                    )
                }),
            ),
            ("DeviceTpmAttestation", d.device_tpm_attestation.clone()),
            ("DeviceAuthStatus", d.device_auth_status.clone()),
        ],
    );
    if let Some(w) = &d.key_provider_warning {
        for (i, part) in wrap(&format!("{w}."), WIDTH - 11).iter().enumerate() {
            let lead = if i == 0 { "  Warning: " } else { "           " };
            out.push_str(&format!("{lead}{part}\n"));
        }
        out.push('\n');
    }
    section(
        &mut out,
        "Tenant Details",
        &[
            ("TenantName", opt(&d.tenant_name)),
            ("TenantId", opt(&d.tenant_id)),
            ("ServerUrl", opt(&d.server_url)),
        ],
    );
    let u = &r.user_state;
    section(
        &mut out,
        "User State",
        &[
            ("User", opt(&u.user)),
            ("NgcSet", yes_no(u.ngc_set).to_owned()),
            ("NgcKeyId", opt(&u.ngc_key_id)),
            ("NgcKeyProvider", opt(&u.ngc_key_provider)),
            ("NgcKeyAttestation", opt(&u.ngc_key_attestation)),
            ("CanReset", u.can_reset.clone()),
            ("PinFailures", u.pin_failures.to_string()),
            ("PinLockout", u.pin_lockout.clone()),
            (
                "PinExpiry",
                u.pin_expiry.clone().unwrap_or_else(|| "never".to_owned()),
            ),
            ("HelloCertificate", opt(&u.hello_certificate)),
            (
                "SmartCardCertificates",
                yes_no(u.smart_card_certificates).to_owned(),
            ),
        ],
    );
    let s = &r.sso_state;
    section(
        &mut out,
        "SSO State",
        &[
            ("PrtPresent", yes_no(s.prt_present).to_owned()),
            ("PrtExpiry", opt(&s.prt_expiry)),
        ],
    );
    let p = &r.ngc_prerequisite_check;
    let mut rows: Vec<(&str, String)> = p
        .checks
        .iter()
        .map(|(k, v)| (k.as_str(), format!("{} ({})", v.state, v.detail)))
        .collect();
    rows.push(("PreReqResult", p.pre_req_result.clone()));
    section(&mut out, "Ngc Prerequisite Check", &rows);
    let pol = &r.policy;
    section(
        &mut out,
        "Policy",
        &[
            (
                "PolicyVersion",
                pol.version
                    .map_or_else(|| "- (defaults)".to_owned(), |v| v.to_string()),
            ),
            ("Origin", pol.origin.clone()),
            ("ReceivedFor", opt(&pol.received_for)),
            ("SyncedAt", opt(&pol.synced_at)),
        ],
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_wrap_at_spaces_and_long_words_after_a_separator() {
        assert_eq!(wrap("a bb ccc", 4), ["a bb", "ccc"]);
        assert_eq!(wrap("", 10), [""]);
        let sha = "AB:".repeat(31) + "AB";
        let lines = wrap(&sha, 50);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].ends_with(':') && lines[0].len() <= 50, "{lines:?}");
        assert_eq!(lines.concat(), sha);
        let key = "0123456789abcdef".repeat(4);
        let lines = wrap(&key, 50);
        assert_eq!(lines, [&key[..50], &key[50..]]);
        let path = "/home/someone/.local/state/latchkey/hello/a-very-long-user@example.com.json";
        for line in wrap(&format!("kept in {path} now"), 30) {
            assert!(line.chars().count() <= 30, "{line}");
        }
        let text = format!("kept in {path} now");
        assert_eq!(
            wrap(&text, 30).concat().replace(' ', ""),
            text.replace(' ', ""),
            "nothing is lost"
        );
    }
}
