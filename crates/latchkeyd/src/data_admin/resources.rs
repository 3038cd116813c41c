//! Administration of resources, the audiences access tokens may be issued for besides the
//! registered applications (what `latchkeyd resource ...` uses).

use super::{Admin, AdminError};
use latchkey_server::audit::event;
use latchkey_server::storage::Resource;
use latchkey_server::tokens::{
    DEFAULT_AUDIENCE, ENROLLMENT_AUDIENCE, ID_TOKEN_AUDIENCE, MAX_AUDIENCE,
};

/// Checks that `uri` can be an audience: 1 to [`MAX_AUDIENCE`] bytes, an absolute URI
/// (`scheme:rest`, RFC 3986 §3.1 scheme characters), no whitespace or control characters,
/// not one of the service's own audiences.
pub fn check_resource_uri(uri: &str) -> Result<(), AdminError> {
    let bad = |why: &str| {
        AdminError::Invalid(format!(
            "`{uri}` is not an acceptable resource URI: {why} (e.g. api://payroll or https://api.example.com)"
        ))
    };
    if uri.is_empty() || uri.len() > MAX_AUDIENCE {
        return Err(bad(&format!("it must have 1 to {MAX_AUDIENCE} bytes")));
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("it contains whitespace or a control character"));
    }
    let Some((scheme, rest)) = uri.split_once(':') else {
        return Err(bad("it has no scheme"));
    };
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok || rest.is_empty() {
        return Err(bad("it has no valid scheme and rest"));
    }
    if [DEFAULT_AUDIENCE, ID_TOKEN_AUDIENCE, ENROLLMENT_AUDIENCE].contains(&uri) {
        return Err(bad("it is one of the service's own audiences"));
    }
    Ok(())
}

impl Admin {
    /// Registers a resource; its name defaults to the URI. Audited (`resource_add`).
    pub async fn resource_add(
        &self,
        uri: &str,
        name: Option<&str>,
    ) -> Result<Resource, AdminError> {
        check_resource_uri(uri)?;
        let name = name.map(str::trim).unwrap_or(uri);
        if name.is_empty() || name.len() > 100 {
            return Err(AdminError::Invalid(
                "the name must have 1 to 100 characters".into(),
            ));
        }
        let resource = Resource {
            uri: uri.to_owned(),
            name: name.to_owned(),
            created_at: self.now(),
        };
        let line = self.line(event::RESOURCE_ADD).note(uri);
        self.storage
            .add_resource(&self.tenant.id, &resource, &line)
            .await?;
        Ok(resource)
    }

    /// All resources.
    pub async fn resources(&self) -> Result<Vec<Resource>, AdminError> {
        Ok(self.storage.list_resources(&self.tenant.id).await?)
    }

    /// Removes a resource: no new token is issued for it (tokens issued before stay valid
    /// until they expire). Audited (`resource_remove`).
    pub async fn resource_remove(&self, uri: &str) -> Result<(), AdminError> {
        let line = self.line(event::RESOURCE_REMOVE).note(uri);
        if !self
            .storage
            .remove_resource(&self.tenant.id, uri, &line)
            .await?
        {
            return Err(AdminError::NoSuchResource(uri.to_owned()));
        }
        Ok(())
    }
}
