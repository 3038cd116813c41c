//! The certificate profile: exactly what the registration authority approves and the CA
//! issues, computed by the server from the template and the directory, never from the
//! request.

use der::asn1::Any;
use der::{Decode, Encode, Sequence};
use spki::SubjectPublicKeyInfoOwned;
use time::{Duration, OffsetDateTime};

use crate::template::{Template, TemplateKind};
use crate::PkiError;

/// Back-dating of `notBefore` (as for the tenant CA's certificates).
pub(crate) const BACKDATE: Duration = Duration::minutes(5);
/// The longest UPN accepted.
const MAX_UPN_LEN: usize = 256;
/// The longest URL accepted.
const MAX_URL_LEN: usize = 1024;

/// What the RA approves for one user certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateProfile {
    /// The template the certificate is issued under.
    pub template: Template,
    /// The user's principal name (subject CN, UPN otherName, rfc822Name).
    pub upn: String,
    /// The key to certify (the registered Hello key), SubjectPublicKeyInfo DER.
    pub spki_der: Vec<u8>,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// CRL distribution point URL.
    pub crl_url: Option<String>,
    /// Authority information access: the issuing CA certificate's URL.
    pub ca_issuers_url: Option<String>,
    /// Authority information access: the OCSP responder's URL.
    pub ocsp_url: Option<String>,
    /// The Kerberos principal's name (one component, without the realm) for the
    /// id-pkinit-san when the template has a realm; `None`: the UPN's local part.
    pub kerberos_principal: Option<String>,
}

impl CertificateProfile {
    /// The profile for `upn`'s key `spki_der` under `template`, valid from `now` (back-dated
    /// five minutes) for the template's validity, with the given CDP/AIA URLs.
    pub fn for_user(
        template: &Template,
        upn: &str,
        spki_der: &[u8],
        now: OffsetDateTime,
        crl_url: Option<&str>,
        ca_issuers_url: Option<&str>,
        ocsp_url: Option<&str>,
    ) -> Result<CertificateProfile, PkiError> {
        let profile = CertificateProfile {
            template: template.clone(),
            upn: upn.to_owned(),
            spki_der: spki_der.to_vec(),
            not_before: now - BACKDATE,
            not_after: now
                .checked_add(template.validity())
                .ok_or(PkiError::Validity)?,
            crl_url: crl_url.map(str::to_owned),
            ca_issuers_url: ca_issuers_url.map(str::to_owned),
            ocsp_url: ocsp_url.map(str::to_owned),
            kerberos_principal: None,
        };
        profile.validate()?;
        Ok(profile)
    }

    /// The same profile with the id-pkinit-san naming `name` instead of the UPN's local
    /// part (`None`: the local part); LK-PKI-036 for a name that is not one component.
    pub fn with_kerberos_principal(
        mut self,
        name: Option<&str>,
    ) -> Result<CertificateProfile, PkiError> {
        self.kerberos_principal = name.map(str::to_owned);
        self.validate()?;
        Ok(self)
    }

    /// The name of the principal the id-pkinit-san carries (in the template's realm).
    pub fn kerberos_principal_name(&self) -> &str {
        self.kerberos_principal
            .as_deref()
            .unwrap_or_else(|| self.upn_local_part())
    }

    /// Checks the profile: a valid Hello template, a UPN `local@domain` (ASCII when it is
    /// also the rfc822Name), a parseable key,
    /// `not_before < not_after`, ASCII URLs.
    pub fn validate(&self) -> Result<(), PkiError> {
        self.template.validate()?;
        if self.template.kind != TemplateKind::HelloAuthentication {
            return Err(PkiError::Profile(
                "a user certificate needs a Hello authentication template".into(),
            ));
        }
        validate_upn(&self.upn)?;
        if self.template.include_email && !self.upn.is_ascii() {
            // rfc822Name is an IA5String.
            return Err(PkiError::Upn(format!(
                "{} (not ASCII, cannot be an rfc822Name)",
                self.upn
            )));
        }
        SubjectPublicKeyInfoOwned::from_der(&self.spki_der)
            .map_err(|e| PkiError::PublicKey(e.to_string()))?;
        if self.not_before >= self.not_after {
            return Err(PkiError::Profile("notBefore is not before notAfter".into()));
        }
        for url in [&self.crl_url, &self.ca_issuers_url, &self.ocsp_url]
            .into_iter()
            .flatten()
        {
            validate_url(url)?;
        }
        if let Some(name) = &self.kerberos_principal {
            validate_principal_name(name)?;
        }
        Ok(())
    }

    /// The UPN's local part (before the last `@`).
    pub fn upn_local_part(&self) -> &str {
        self.upn
            .rsplit_once('@')
            .map(|(l, _)| l)
            .unwrap_or(&self.upn)
    }

    pub(crate) fn to_der(&self) -> Result<Vec<u8>, PkiError> {
        let t = &self.template;
        ProfileDer {
            template_name: t.name.clone(),
            kind: match t.kind {
                TemplateKind::HelloAuthentication => 0,
                TemplateKind::Kdc => 1,
            },
            validity_days: t.validity_days,
            renewal_percent: t.renewal_percent,
            include_email: t.include_email,
            auto_enroll: t.auto_enroll,
            kerberos_realm: t.kerberos_realm.clone(),
            enroll_group: t.enroll_group.clone(),
            upn: self.upn.clone(),
            spki: Any::from_der(&self.spki_der)?,
            not_before: self.not_before.unix_timestamp(),
            not_after: self.not_after.unix_timestamp(),
            crl_url: self.crl_url.clone(),
            ca_issuers_url: self.ca_issuers_url.clone(),
            ocsp_url: self.ocsp_url.clone(),
            kerberos_principal: self.kerberos_principal.clone(),
        }
        .to_der()
        .map_err(PkiError::from)
    }

    pub(crate) fn from_der_value(value: &ProfileDer) -> Result<CertificateProfile, PkiError> {
        let time = |t: i64| {
            OffsetDateTime::from_unix_timestamp(t).map_err(|_| PkiError::Profile("time".into()))
        };
        let profile = CertificateProfile {
            template: Template {
                name: value.template_name.clone(),
                kind: match value.kind {
                    0 => TemplateKind::HelloAuthentication,
                    1 => TemplateKind::Kdc,
                    other => return Err(PkiError::Profile(format!("template kind {other}"))),
                },
                validity_days: value.validity_days,
                renewal_percent: value.renewal_percent,
                include_email: value.include_email,
                kerberos_realm: value.kerberos_realm.clone(),
                enroll_group: value.enroll_group.clone(),
                auto_enroll: value.auto_enroll,
            },
            upn: value.upn.clone(),
            spki_der: value.spki.to_der()?,
            not_before: time(value.not_before)?,
            not_after: time(value.not_after)?,
            crl_url: value.crl_url.clone(),
            ca_issuers_url: value.ca_issuers_url.clone(),
            ocsp_url: value.ocsp_url.clone(),
            kerberos_principal: value.kerberos_principal.clone(),
        };
        profile.validate()?;
        Ok(profile)
    }
}

/// The profile as signed by the RA (inside the countersigned content).
#[derive(Debug, Clone, PartialEq, Eq, Sequence)]
pub(crate) struct ProfileDer {
    pub(crate) template_name: String,
    pub(crate) kind: u8,
    pub(crate) validity_days: u32,
    pub(crate) renewal_percent: u8,
    pub(crate) include_email: bool,
    pub(crate) auto_enroll: bool,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub(crate) kerberos_realm: Option<String>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub(crate) enroll_group: Option<String>,
    pub(crate) upn: String,
    pub(crate) spki: Any,
    pub(crate) not_before: i64,
    pub(crate) not_after: i64,
    #[asn1(context_specific = "2", tag_mode = "IMPLICIT", optional = "true")]
    pub(crate) crl_url: Option<String>,
    #[asn1(context_specific = "3", tag_mode = "IMPLICIT", optional = "true")]
    pub(crate) ca_issuers_url: Option<String>,
    #[asn1(context_specific = "4", tag_mode = "IMPLICIT", optional = "true")]
    pub(crate) ocsp_url: Option<String>,
    #[asn1(context_specific = "5", tag_mode = "IMPLICIT", optional = "true")]
    pub(crate) kerberos_principal: Option<String>,
}

/// Checks a UPN: `local@domain`, at most 256 characters, no spaces or control characters.
pub fn validate_upn(upn: &str) -> Result<(), PkiError> {
    let ok = upn.len() <= MAX_UPN_LEN
        && upn
            .rsplit_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        && upn.chars().all(|c| !c.is_control() && !c.is_whitespace());
    if ok {
        Ok(())
    } else {
        Err(PkiError::Upn(upn.to_owned()))
    }
}

/// Checks a Kerberos principal name override: one component of 1 to 255 characters, none
/// of them a control character, whitespace, `/` (a component separator), `@` (the realm
/// separator) or a backslash (the escape).
pub fn validate_principal_name(name: &str) -> Result<(), PkiError> {
    let ok = !name.is_empty()
        && name.chars().count() <= 255
        && name
            .chars()
            .all(|c| !c.is_control() && !c.is_whitespace() && !matches!(c, '/' | '@' | '\\'));
    if ok {
        Ok(())
    } else {
        Err(PkiError::PrincipalName(name.to_owned()))
    }
}

/// Checks a URL for CDP/AIA: `http://` or `https://`, printable ASCII, at most 1024 bytes.
pub(crate) fn validate_url(url: &str) -> Result<(), PkiError> {
    let ok = url.len() <= MAX_URL_LEN
        && (url.starts_with("http://") || url.starts_with("https://"))
        && url.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(PkiError::Url(url.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::testutil::rsa2048;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-12-01 12:00 UTC);

    #[test]
    fn for_user_computes_validity_and_round_trips_der() {
        let t = Template {
            kerberos_realm: Some("CONTOSO.TEST".into()),
            ..Template::hello_default()
        };
        let p = CertificateProfile::for_user(
            &t,
            "alice@contoso.test",
            &rsa2048().spki,
            NOW,
            Some("http://pki.test/crl"),
            None,
            Some("http://pki.test/ocsp"),
        )
        .unwrap();
        assert_eq!(p.not_before, NOW - Duration::minutes(5));
        assert_eq!(p.not_after, NOW + Duration::days(365));
        assert_eq!(p.upn_local_part(), "alice");
        let der = p.to_der().unwrap();
        let back =
            CertificateProfile::from_der_value(&ProfileDer::from_der(&der).unwrap()).unwrap();
        assert_eq!(back, p);
        assert_eq!(p.kerberos_principal_name(), "alice");
        let q = p.with_kerberos_principal(Some("alice.smith")).unwrap();
        assert_eq!(q.kerberos_principal_name(), "alice.smith");
        let der = q.to_der().unwrap();
        let back =
            CertificateProfile::from_der_value(&ProfileDer::from_der(&der).unwrap()).unwrap();
        assert_eq!(back, q);
        for bad in ["", "a/b", "a@B", "a b", "a\\b", "a\u{7}"] {
            let err = q.clone().with_kerberos_principal(Some(bad)).unwrap_err();
            assert_eq!(err.code(), "LK-PKI-036", "{bad:?}");
        }
    }

    #[test]
    fn bad_inputs_are_refused_with_their_codes() {
        let t = Template::hello_default();
        let spki = &rsa2048().spki;
        let p = |upn: &str, url: Option<&str>| {
            CertificateProfile::for_user(&t, upn, spki, NOW, url, None, None)
        };
        assert_eq!(p("alice", None).unwrap_err().code(), "LK-PKI-017");
        assert_eq!(p("al ice@x", None).unwrap_err().code(), "LK-PKI-017");
        assert_eq!(p("@x", None).unwrap_err().code(), "LK-PKI-017");
        assert_eq!(p("jörg@x", None).unwrap_err().code(), "LK-PKI-017");
        let no_email = Template {
            include_email: false,
            ..t.clone()
        };
        CertificateProfile::for_user(&no_email, "jörg@x", spki, NOW, None, None, None).unwrap();
        assert_eq!(p("a@x", Some("ldap://x")).unwrap_err().code(), "LK-PKI-033");
        assert_eq!(
            p("a@x", Some("http://a b")).unwrap_err().code(),
            "LK-PKI-033"
        );
        let kdc = Template {
            kind: TemplateKind::Kdc,
            ..t.clone()
        };
        let err = CertificateProfile::for_user(&kdc, "a@x", spki, NOW, None, None, None);
        assert_eq!(err.unwrap_err().code(), "LK-PKI-029");
        let err = CertificateProfile::for_user(&t, "a@x", b"junk", NOW, None, None, None);
        assert_eq!(err.unwrap_err().code(), "LK-PKI-004");
    }
}
