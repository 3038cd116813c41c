//! Certificate templates: what a certificate issued under a name contains.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::PkiError;

/// The longest template name.
const MAX_NAME_LEN: usize = 64;
/// The longest Kerberos realm.
const MAX_REALM_LEN: usize = 255;

/// What a template issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TemplateKind {
    /// A user's Windows Hello for Business authentication certificate (Smart Card Logon +
    /// Client Authentication, the UPN in the SAN).
    HelloAuthentication,
    /// A KDC certificate (id-pkinit-KPKdc + Server Authentication, `krbtgt/REALM@REALM`).
    Kdc,
}

/// A certificate template, stored as JSON by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// The template's name (printable, 1..=64 characters).
    pub name: String,
    /// What the template issues.
    pub kind: TemplateKind,
    /// Validity of an issued certificate, days (1..=3650).
    #[serde(default = "default_validity_days")]
    pub validity_days: u32,
    /// Renewal window: renew in the last `renewal_percent` % of the validity (1..=90).
    #[serde(default = "default_renewal_percent")]
    pub renewal_percent: u8,
    /// Whether to add an rfc822Name SAN equal to the UPN.
    #[serde(default = "default_true")]
    pub include_email: bool,
    /// When set, add the id-pkinit-san KRB5PrincipalName SAN (NT-PRINCIPAL, the UPN's
    /// local part) in this realm.
    #[serde(default)]
    pub kerberos_realm: Option<String>,
    /// The group whose members may enrol; `None` = every user.
    #[serde(default)]
    pub enroll_group: Option<String>,
    /// Whether devices enrol automatically right after `hello setup`.
    #[serde(default)]
    pub auto_enroll: bool,
}

fn default_validity_days() -> u32 {
    365
}
fn default_renewal_percent() -> u8 {
    20
}
fn default_true() -> bool {
    true
}

impl Template {
    /// The name of the default Hello template.
    pub const HELLO_DEFAULT_NAME: &'static str = "Hello authentication";

    /// The default "Hello authentication" template: one year, renew in the last 20 %, the
    /// UPN as rfc822Name too, no Kerberos SAN, everyone may enrol, no auto-enrolment.
    pub fn hello_default() -> Template {
        Template {
            name: Self::HELLO_DEFAULT_NAME.into(),
            kind: TemplateKind::HelloAuthentication,
            validity_days: default_validity_days(),
            renewal_percent: default_renewal_percent(),
            include_email: true,
            kerberos_realm: None,
            enroll_group: None,
            auto_enroll: false,
        }
    }

    /// Checks the template's limits: name printable and 1..=64 characters, validity
    /// 1..=3650 days, renewal 1..=90 %, realm syntax.
    pub fn validate(&self) -> Result<(), PkiError> {
        let name_ok = !self.name.trim().is_empty()
            && self.name.chars().count() <= MAX_NAME_LEN
            && self.name.chars().all(|c| !c.is_control());
        if !name_ok {
            return Err(PkiError::TemplateName(self.name.clone()));
        }
        if !(1..=3650).contains(&self.validity_days) {
            return Err(PkiError::TemplateValidity(self.validity_days));
        }
        if !(1..=90).contains(&self.renewal_percent) {
            return Err(PkiError::TemplateRenewal(self.renewal_percent));
        }
        if let Some(realm) = &self.kerberos_realm {
            validate_realm(realm)?;
        }
        if let Some(group) = &self.enroll_group {
            if group.trim().is_empty() || group.chars().any(char::is_control) {
                return Err(PkiError::TemplateName(format!("enroll group {group:?}")));
            }
        }
        Ok(())
    }

    /// The validity of a certificate issued under this template.
    pub fn validity(&self) -> Duration {
        Duration::days(i64::from(self.validity_days))
    }

    /// When a certificate valid `not_before..not_after` enters its renewal window: after
    /// `(100 - renewal_percent) %` of its lifetime.
    pub fn renew_after(
        &self,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> OffsetDateTime {
        let lifetime = not_after - not_before;
        let percent = i64::from(100u8.saturating_sub(self.renewal_percent.min(100)));
        let seconds = lifetime.whole_seconds().saturating_mul(percent) / 100;
        not_before.saturating_add(Duration::seconds(seconds))
    }
}

/// Checks a Kerberos realm: 1..=255 characters of `A-Z a-z 0-9 . - _`, not starting or
/// ending with a dot (the usual DNS-like realm; no `/`, `@` or `\` that would break a
/// principal name).
pub fn validate_realm(realm: &str) -> Result<(), PkiError> {
    let ok = !realm.is_empty()
        && realm.len() <= MAX_REALM_LEN
        && !realm.starts_with('.')
        && !realm.ends_with('.')
        && realm
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if ok {
        Ok(())
    } else {
        Err(PkiError::Realm(realm.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_default_template_has_the_issue_defaults() {
        let t = Template::hello_default();
        t.validate().unwrap();
        assert_eq!(t.validity_days, 365);
        assert_eq!(t.renewal_percent, 20);
        assert!(t.include_email);
        assert_eq!(t.enroll_group, None);
        assert!(!t.auto_enroll);
    }

    #[test]
    fn json_round_trips_and_fills_defaults() {
        let t = Template::hello_default();
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<Template>(&json).unwrap(), t);
        let minimal: Template = serde_json::from_str(
            r#"{"name":"Hello authentication","kind":"hello-authentication"}"#,
        )
        .unwrap();
        assert_eq!(minimal, t);
        assert!(serde_json::from_str::<Template>(r#"{"name":"x","kind":"kdc","evil":1}"#).is_err());
    }

    #[test]
    fn limits_are_enforced_with_their_codes() {
        let base = Template::hello_default();
        let cases: Vec<(Template, &str)> = vec![
            (
                Template {
                    name: "".into(),
                    ..base.clone()
                },
                "LK-PKI-013",
            ),
            (
                Template {
                    name: "x".repeat(65),
                    ..base.clone()
                },
                "LK-PKI-013",
            ),
            (
                Template {
                    name: "a\nb".into(),
                    ..base.clone()
                },
                "LK-PKI-013",
            ),
            (
                Template {
                    validity_days: 0,
                    ..base.clone()
                },
                "LK-PKI-014",
            ),
            (
                Template {
                    validity_days: 3651,
                    ..base.clone()
                },
                "LK-PKI-014",
            ),
            (
                Template {
                    renewal_percent: 0,
                    ..base.clone()
                },
                "LK-PKI-015",
            ),
            (
                Template {
                    renewal_percent: 91,
                    ..base.clone()
                },
                "LK-PKI-015",
            ),
            (
                Template {
                    kerberos_realm: Some("".into()),
                    ..base.clone()
                },
                "LK-PKI-016",
            ),
            (
                Template {
                    kerberos_realm: Some("A/B".into()),
                    ..base.clone()
                },
                "LK-PKI-016",
            ),
            (
                Template {
                    kerberos_realm: Some("A@B".into()),
                    ..base.clone()
                },
                "LK-PKI-016",
            ),
        ];
        for (t, code) in cases {
            assert_eq!(t.validate().unwrap_err().code(), code, "{t:?}");
        }
        let ok = Template {
            validity_days: 3650,
            renewal_percent: 90,
            kerberos_realm: Some("CONTOSO.TEST".into()),
            ..base
        };
        ok.validate().unwrap();
    }

    #[test]
    fn renewal_starts_in_the_last_part_of_the_validity() {
        let t = Template::hello_default();
        let nb = datetime!(2025-01-01 00:00 UTC);
        let na = nb + Duration::days(100);
        assert_eq!(t.renew_after(nb, na), nb + Duration::days(80));
        let half = Template {
            renewal_percent: 50,
            ..t
        };
        assert_eq!(half.renew_after(nb, na), nb + Duration::days(50));
    }
}
