//! Templates as stored (JSON of [`Template`]) and who may enrol on them.

use latchkey_pki::{Template, TemplateKind};

use crate::error::ApiError;
use crate::storage::cert::CertTemplateRecord;
use crate::storage::Storage;

/// The largest template JSON accepted from storage or the command line.
pub const MAX_TEMPLATE_JSON: usize = 16 * 1024;

/// Parses a stored template, checking it.
pub fn parse(record: &CertTemplateRecord) -> Result<Template, ApiError> {
    if record.body.len() > MAX_TEMPLATE_JSON {
        return Err(ApiError::CertTemplateInvalid(format!(
            "template `{}` is larger than {MAX_TEMPLATE_JSON} bytes",
            record.name
        )));
    }
    let template: Template = serde_json::from_str(&record.body)
        .map_err(|e| ApiError::CertTemplateInvalid(format!("template `{}`: {e}", record.name)))?;
    template
        .validate()
        .map_err(|e| ApiError::CertTemplateInvalid(e.to_string()))?;
    Ok(template)
}

/// Every template, by name.
pub async fn all(storage: &dyn Storage, tenant: &str) -> Result<Vec<Template>, ApiError> {
    storage
        .cert_templates(tenant)
        .await?
        .iter()
        .map(parse)
        .collect()
}

/// The groups (lower case) the user `upn` is a member of.
pub async fn user_groups(
    storage: &dyn Storage,
    tenant: &str,
    upn: &str,
) -> Result<Vec<String>, ApiError> {
    Ok(storage
        .list_group_members(tenant)
        .await?
        .into_iter()
        .filter(|row| {
            row.kind.as_deref() == Some("user")
                && row
                    .member
                    .as_deref()
                    .is_some_and(|m| m.eq_ignore_ascii_case(upn))
        })
        .map(|row| row.name.to_lowercase())
        .collect())
}

/// Whether a member of `groups` may enrol on `template` (everyone when it names no group).
pub fn admits(template: &Template, groups: &[String]) -> bool {
    match template.enroll_group.as_deref() {
        None => true,
        Some(group) => groups.iter().any(|g| g.eq_ignore_ascii_case(group)),
    }
}

/// The template a certificate is issued under: `template` itself, with the tenant's
/// Kerberos realm (`latchkeyd kerberos kdc-setup`) as its realm when it names none of its
/// own. A template's own realm wins; the realm drives the id-pkinit-san principal
/// `localpart@REALM` (docs/pkinit.md).
pub fn with_tenant_realm(template: &Template, tenant_realm: Option<String>) -> Template {
    let mut t = template.clone();
    if t.kerberos_realm.is_none() && is_hello(&t) {
        t.kerberos_realm = tenant_realm;
    }
    t
}

/// Whether `template` is for Hello (user) certificates.
pub fn is_hello(template: &Template) -> bool {
    template.kind == TemplateKind::HelloAuthentication
}

/// The template the service assigns a member of `groups`: the first (by name) Hello
/// template with auto-enrolment on that admits them. `RegisterKeyResponse` names it.
pub fn assigned<'a>(templates: &'a [Template], groups: &[String]) -> Option<&'a Template> {
    templates
        .iter()
        .find(|t| is_hello(t) && t.auto_enroll && admits(t, groups))
}

/// The template an enrolment gets: the one named (LK-CERT-004 if no Hello template has
/// the name, LK-CERT-003 if the user is outside its group); else the assigned one, else
/// the first Hello template (by name) that admits the user; else LK-CERT-003 when Hello
/// templates exist but none admits the user, LK-CERT-005 when there is none.
pub fn choose(
    templates: Vec<Template>,
    named: Option<&str>,
    groups: &[String],
) -> Result<Template, ApiError> {
    match named {
        Some(name) => {
            let template = templates
                .into_iter()
                .find(|t| t.name == name && is_hello(t))
                .ok_or_else(|| ApiError::CertTemplateNotFound(name.to_owned()))?;
            if !admits(&template, groups) {
                return Err(ApiError::CertEnrollmentNotAllowed(template.name));
            }
            Ok(template)
        }
        None => {
            if let Some(t) = assigned(&templates, groups)
                .or_else(|| templates.iter().find(|t| is_hello(t) && admits(t, groups)))
            {
                return Ok(t.clone());
            }
            match templates.into_iter().find(is_hello) {
                Some(first) => Err(ApiError::CertEnrollmentNotAllowed(first.name)),
                None => Err(ApiError::CertNoTemplate),
            }
        }
    }
}

#[cfg(test)]
mod realm_tests {
    use super::*;

    #[test]
    fn the_tenant_realm_fills_in_only_for_hello_templates_without_one() {
        let hello = Template::hello_default();
        assert_eq!(hello.kerberos_realm, None);
        let t = with_tenant_realm(&hello, Some("CONTOSO.TEST".into()));
        assert_eq!(t.kerberos_realm.as_deref(), Some("CONTOSO.TEST"));
        assert_eq!(with_tenant_realm(&hello, None).kerberos_realm, None);

        let mut own = Template::hello_default();
        own.kerberos_realm = Some("OWN.TEST".into());
        let t = with_tenant_realm(&own, Some("CONTOSO.TEST".into()));
        assert_eq!(
            t.kerberos_realm.as_deref(),
            Some("OWN.TEST"),
            "the template's own wins"
        );

        let mut kdc = Template::hello_default();
        kdc.kind = TemplateKind::Kdc;
        let t = with_tenant_realm(&kdc, Some("CONTOSO.TEST".into()));
        assert_eq!(t.kerberos_realm, None, "not a Hello template");
    }
}
