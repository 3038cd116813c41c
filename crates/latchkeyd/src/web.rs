//! `latchkeyd client ...` (OpenID Connect applications) and `latchkeyd security-key ...`
//! (FIDO2 security keys and the tenant's settings for them).

use std::path::PathBuf;

use clap::Subcommand;
use latchkey_server::storage::web::SecurityKeySettings;
use latchkeyd::data_admin::Admin;

use crate::admin::{admin_error, done};
use crate::confirm::{confirm, ConfirmArgs};
use crate::output::{self, table, time, yes_no};

/// `client ...`.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register an application; prints its client id (and secret, once, unless --public).
    Add {
        /// A name for people.
        name: String,
        /// A redirect URI (exact match; https, or http on loopback); repeat for several.
        #[arg(long = "redirect-uri", value_name = "URI", required = true)]
        redirect_uris: Vec<String>,
        /// A public client (no secret; PKCE S256 required), e.g. a browser or native app.
        #[arg(long)]
        public: bool,
    },
    /// List applications.
    List,
    /// Delete an application with its authorization codes and refresh tokens.
    Delete {
        /// Client id.
        client_id: String,
        /// Confirmation.
        #[command(flatten)]
        confirm: ConfirmArgs,
    },
    /// Give a confidential application a new secret, printed once; the old secret is
    /// refused from now on.
    RotateSecret {
        /// Client id.
        client_id: String,
        /// Confirmation.
        #[command(flatten)]
        confirm: ConfirmArgs,
    },
}

/// `security-key ...`.
#[derive(Debug, Subcommand)]
pub enum SecurityKeyCommand {
    /// List security keys.
    List {
        /// Only this user's keys.
        #[arg(long, value_name = "UPN")]
        user: Option<String>,
    },
    /// Remove a security key (takes effect at once).
    Delete {
        /// Credential id (base64url), as listed.
        credential_id: String,
        /// Confirmation.
        #[command(flatten)]
        confirm: ConfirmArgs,
    },
    /// Show the tenant's security-key settings.
    Settings,
    /// Change the tenant's security-key settings (unnamed settings keep their value).
    Set {
        /// Allow sign-in with security keys (policy node SecurityKey/UseSecurityKeyForSignin).
        #[arg(long, value_name = "BOOL")]
        allow_signin: Option<bool>,
        /// Refuse keys whose attestation does not chain to one of the configured roots.
        #[arg(long, value_name = "BOOL")]
        require_trusted_root: Option<bool>,
        /// PEM file of trusted attestation roots (replaces the configured ones).
        #[arg(long, value_name = "FILE")]
        roots: Option<PathBuf>,
        /// any, allow (only --aaguids) or block (all but --aaguids).
        #[arg(long, value_name = "MODE")]
        aaguid_mode: Option<String>,
        /// Comma-separated AAGUIDs of the allow or block list.
        #[arg(long, value_name = "LIST")]
        aaguids: Option<String>,
    },
}

/// Runs `client ...`.
pub async fn client(admin: &Admin, json: bool, command: ClientCommand) -> anyhow::Result<()> {
    match command {
        ClientCommand::Add {
            name,
            redirect_uris,
            public,
        } => {
            let created = admin
                .client_add(&name, &redirect_uris, public)
                .await
                .map_err(admin_error)?;
            if json {
                return output::json(&created);
            }
            println!("client id:      {}", created.client_id);
            match &created.client_secret {
                Some(secret) => println!("client secret:  {secret}   (shown once; stored hashed)"),
                None => println!("public client:  no secret; PKCE (S256) required"),
            }
            Ok(())
        }
        ClientCommand::List => {
            let clients = admin.clients().await.map_err(admin_error)?;
            if json {
                return output::json(&clients);
            }
            let rows: Vec<Vec<String>> = clients
                .iter()
                .map(|c| {
                    vec![
                        c.client_id.clone(),
                        c.name.clone(),
                        c.kind.to_owned(),
                        c.redirect_uris.join(" "),
                        time(c.created_at),
                    ]
                })
                .collect();
            table(
                &["CLIENT ID", "NAME", "KIND", "REDIRECT URIS", "CREATED"],
                &rows,
            );
            Ok(())
        }
        ClientCommand::Delete {
            client_id,
            confirm: yes,
        } => {
            let name = client_name(admin, &client_id).await?;
            confirm(
                yes,
                &format!(
                    "Delete application {name} ({client_id}) with its codes and refresh tokens"
                ),
            )?;
            admin.client_delete(&client_id).await.map_err(admin_error)?;
            done(json, "application deleted", &client_id)
        }
        ClientCommand::RotateSecret {
            client_id,
            confirm: yes,
        } => {
            let name = client_name(admin, &client_id).await?;
            confirm(
                yes,
                &format!(
                    "Give application {name} ({client_id}) a new secret; the current one stops \
                     working at once"
                ),
            )?;
            let new = admin
                .client_rotate_secret(&client_id)
                .await
                .map_err(admin_error)?;
            if json {
                return output::json(&new);
            }
            println!("client id:      {}", new.client_id);
            println!(
                "client secret:  {}   (shown once; stored hashed; the old one is refused)",
                new.client_secret
            );
            Ok(())
        }
    }
}

/// The name of the application `client_id` (`LK-ADM-006` if there is none).
async fn client_name(admin: &Admin, client_id: &str) -> anyhow::Result<String> {
    admin
        .clients()
        .await
        .map_err(admin_error)?
        .into_iter()
        .find(|c| c.client_id == client_id.trim())
        .map(|c| c.name)
        .ok_or_else(|| {
            admin_error(latchkeyd::data_admin::AdminError::NoSuchClient(
                client_id.trim().to_owned(),
            ))
        })
}

/// Runs `security-key ...`.
pub async fn security_key(
    admin: &Admin,
    json: bool,
    command: SecurityKeyCommand,
) -> anyhow::Result<()> {
    match command {
        SecurityKeyCommand::List { user } => {
            let keys = admin
                .security_keys(user.as_deref())
                .await
                .map_err(admin_error)?;
            if json {
                return output::json(&keys);
            }
            let rows: Vec<Vec<String>> = keys
                .iter()
                .map(|l| {
                    vec![
                        l.upn.clone(),
                        l.key.name.clone(),
                        l.key.aaguid.clone(),
                        l.key.format.clone(),
                        yes_no(l.key.trusted_root),
                        l.key.credential_id.clone(),
                    ]
                })
                .collect();
            table(
                &[
                    "USER",
                    "NAME",
                    "AAGUID",
                    "FORMAT",
                    "TRUSTED ROOT",
                    "CREDENTIAL ID",
                ],
                &rows,
            );
            Ok(())
        }
        SecurityKeyCommand::Delete {
            credential_id,
            confirm: yes,
        } => {
            let key = admin
                .security_keys(None)
                .await
                .map_err(admin_error)?
                .into_iter()
                .find(|l| l.key.credential_id == credential_id)
                .ok_or_else(|| {
                    admin_error(latchkeyd::data_admin::AdminError::NoSuchKey(
                        credential_id.clone(),
                    ))
                })?;
            confirm(
                yes,
                &format!(
                    "Remove security key {} ({}) of {}",
                    key.key.name, credential_id, key.upn
                ),
            )?;
            admin
                .security_key_delete(&credential_id)
                .await
                .map_err(admin_error)?;
            println!("removed security key {credential_id}");
            Ok(())
        }
        SecurityKeyCommand::Settings => {
            let report = admin.security_key_settings().await.map_err(admin_error)?;
            print_settings(json, &report)
        }
        SecurityKeyCommand::Set {
            allow_signin,
            require_trusted_root,
            roots,
            aaguid_mode,
            aaguids,
        } => {
            let current = admin
                .security_key_settings()
                .await
                .map_err(admin_error)?
                .settings;
            let roots_pem = match roots {
                Some(path) => std::fs::read_to_string(&path)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
                None => current.roots_pem.clone(),
            };
            let settings = SecurityKeySettings {
                require_trusted_root: require_trusted_root.unwrap_or(current.require_trusted_root),
                aaguid_mode: aaguid_mode.unwrap_or(current.aaguid_mode),
                aaguids: aaguids.unwrap_or(current.aaguids),
                roots_pem,
            };
            let report = admin
                .set_security_key_settings(&settings, allow_signin)
                .await
                .map_err(admin_error)?;
            print_settings(json, &report)
        }
    }
}

fn print_settings(
    json: bool,
    report: &latchkeyd::data_admin::SecurityKeyReport,
) -> anyhow::Result<()> {
    if json {
        return output::json(report);
    }
    let s = &report.settings;
    println!(
        "security-key sign-in:   {}",
        yes_no(report.use_security_key_for_signin)
    );
    println!("require trusted root:   {}", yes_no(s.require_trusted_root));
    println!("AAGUID list mode:       {}", s.aaguid_mode);
    println!(
        "AAGUIDs:                {}",
        if s.aaguids.is_empty() {
            "(none)".to_owned()
        } else {
            s.aaguids.replace('\n', ", ")
        }
    );
    println!(
        "trusted roots:          {}",
        s.roots_pem.matches("-----BEGIN CERTIFICATE-----").count()
    );
    Ok(())
}
