//! Administration of OpenID Connect applications and security keys (what `latchkeyd
//! client ...` and `latchkeyd security-key ...` use).

use serde::Serialize;

use super::{Admin, AdminError};
use latchkey_server::audit::event;
use latchkey_server::routes::web::hash_hex;
use latchkey_server::storage::web::{OidcClient, SecurityKeyListing, SecurityKeySettings};
use latchkey_server::storage::WebStorage;

/// A newly registered application. The secret is shown once and stored hashed.
#[derive(Debug, Clone, Serialize)]
pub struct NewClient {
    /// Client id.
    pub client_id: String,
    /// Name.
    pub name: String,
    /// The secret (confidential clients only).
    pub client_secret: Option<String>,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
}

/// An application, for listings.
#[derive(Debug, Clone, Serialize)]
pub struct ClientListing {
    /// Client id.
    pub client_id: String,
    /// Name.
    pub name: String,
    /// `public` or `confidential`.
    pub kind: &'static str,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Creation time.
    pub created_at: i64,
}

/// The security-key settings with the policy node that switches sign-in on.
#[derive(Debug, Clone, Serialize)]
pub struct SecurityKeyReport {
    /// `SecurityKey/UseSecurityKeyForSignin` of the tenant (device scope, every user).
    pub use_security_key_for_signin: bool,
    /// The settings.
    #[serde(flatten)]
    pub settings: SecurityKeySettings,
}

fn check_redirect_uri(uri: &str) -> Result<(), AdminError> {
    let ok_scheme = uri.starts_with("https://")
        || uri.starts_with("http://localhost")
        || uri.starts_with("http://127.0.0.1")
        || uri.starts_with("http://[::1]");
    if !ok_scheme || uri.contains('#') || uri.len() > 2000 || uri.chars().any(char::is_whitespace) {
        return Err(AdminError::Invalid(format!(
            "`{uri}` is not an acceptable redirect URI (https, or http on loopback; no fragment)"
        )));
    }
    Ok(())
}

impl Admin {
    async fn web(&self) -> Result<std::sync::Arc<dyn WebStorage>, AdminError> {
        Ok(self.open.web())
    }

    /// Registers an application; confidential unless `public`.
    pub async fn client_add(
        &self,
        name: &str,
        redirect_uris: &[String],
        public: bool,
    ) -> Result<NewClient, AdminError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(AdminError::Invalid(
                "the name must have 1 to 100 characters".into(),
            ));
        }
        if redirect_uris.is_empty() {
            return Err(AdminError::Invalid(
                "at least one --redirect-uri is needed".into(),
            ));
        }
        for uri in redirect_uris {
            check_redirect_uri(uri)?;
        }
        let rng = |_| AdminError::Invalid("the random number generator failed".into());
        let client_id = self.env.guid().map_err(rng)?.to_string();
        let secret = if public {
            None
        } else {
            Some(latchkey_proto::b64::encode(
                self.env.random::<32>().map_err(rng)?,
            ))
        };
        let client = OidcClient {
            client_id: client_id.clone(),
            name: name.to_owned(),
            secret_hash: secret.as_deref().map(hash_hex),
            redirect_uris: redirect_uris.join("\n"),
            created_at: self.now(),
        };
        let line = self
            .line(event::CLIENT_CREATE)
            .note(format!("{name} ({client_id})"));
        let web = self.web().await?;
        let stored = web.create_client(&self.tenant.id, &client, &line).await;
        stored?;
        Ok(NewClient {
            client_id,
            name: name.to_owned(),
            client_secret: secret,
            redirect_uris: redirect_uris.to_vec(),
        })
    }

    /// All applications.
    pub async fn clients(&self) -> Result<Vec<ClientListing>, AdminError> {
        let web = self.web().await?;
        let list = web.list_clients(&self.tenant.id).await;
        Ok(list?
            .into_iter()
            .map(|c| ClientListing {
                kind: if c.is_public() {
                    "public"
                } else {
                    "confidential"
                },
                redirect_uris: c.redirect_uris.lines().map(str::to_owned).collect(),
                client_id: c.client_id,
                name: c.name,
                created_at: c.created_at,
            })
            .collect())
    }

    /// Security keys, all or one user's.
    pub async fn security_keys(
        &self,
        upn: Option<&str>,
    ) -> Result<Vec<SecurityKeyListing>, AdminError> {
        let user_id = match upn {
            Some(u) => {
                let u = u.trim().to_lowercase();
                let user = latchkey_server::storage::Storage::user_by_upn(
                    &*self.storage,
                    &self.tenant.id,
                    &u,
                )
                .await?
                .ok_or(AdminError::NoSuchUser(u))?;
                Some(user.id)
            }
            None => None,
        };
        let web = self.web().await?;
        let list = web
            .list_security_keys(&self.tenant.id, user_id.as_deref())
            .await;
        Ok(list?)
    }

    /// Removes a security key.
    pub async fn security_key_delete(&self, credential_id: &str) -> Result<(), AdminError> {
        let line = self.line(event::SECURITY_KEY_DELETE).key(credential_id);
        let web = self.web().await?;
        let done = web
            .delete_security_key(&self.tenant.id, None, credential_id, &line)
            .await;
        if !done? {
            return Err(AdminError::NoSuchKey(credential_id.to_owned()));
        }
        Ok(())
    }

    /// The settings and the sign-in policy node.
    pub async fn security_key_settings(&self) -> Result<SecurityKeyReport, AdminError> {
        let web = self.web().await?;
        let settings = web.security_key_settings(&self.tenant.id).await;
        let report = self.effective_policy(None, None).await?;
        Ok(SecurityKeyReport {
            use_security_key_for_signin: report.policy.use_security_key_for_signin.value,
            settings: settings?,
        })
    }

    /// Changes the settings (validated as `PUT /v1/security-keys/settings` does) and, when
    /// `allow_signin` is given, the policy node `SecurityKey/UseSecurityKeyForSignin`
    /// (through a SyncML Replace, so it is versioned and audited like any policy change).
    pub async fn set_security_key_settings(
        &self,
        settings: &SecurityKeySettings,
        allow_signin: Option<bool>,
    ) -> Result<SecurityKeyReport, AdminError> {
        let settings = latchkey_server::routes::seckey_settings_validate(settings)
            .map_err(AdminError::Invalid)?;
        if let Some(allow) = allow_signin {
            let value = u8::from(allow);
            let xml = format!(
                "<SyncML xmlns=\"SYNCML:SYNCML1.2\"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto>\
                 <SessionID>1</SessionID><MsgID>1</MsgID><Target><LocURI>latchkeyd</LocURI></Target>\
                 <Source><LocURI>latchkeyd-cli</LocURI></Source></SyncHdr><SyncBody><Replace><CmdID>1</CmdID><Item>\
                 <Target><LocURI>./Device/Vendor/MSFT/PassportForWork/SecurityKey/UseSecurityKeyForSignin</LocURI></Target>\
                 <Meta><Format xmlns=\"syncml:metinf\">int</Format><Type>text/plain</Type></Meta><Data>{value}</Data>\
                 </Item></Replace><Final/></SyncBody></SyncML>"
            );
            let report = self.apply_syncml(&xml, None).await?;
            if let Some(bad) = report.outcomes.iter().find(|o| o.status.0 >= 300) {
                return Err(AdminError::Invalid(format!(
                    "the policy node could not be set (status {})",
                    bad.status.0
                )));
            }
        }
        let line = self.line(event::SECURITY_KEY_SETTINGS).note(format!(
            "require_trusted_root={} aaguid_mode={}",
            settings.require_trusted_root, settings.aaguid_mode
        ));
        let web = self.web().await?;
        let stored = web
            .set_security_key_settings(&self.tenant.id, &settings, &line)
            .await;
        stored?;
        self.security_key_settings().await
    }
}
