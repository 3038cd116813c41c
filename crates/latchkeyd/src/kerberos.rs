//! `latchkeyd kerberos ...`: the tenant's Kerberos realm and the files an MIT KDC needs
//! for PKINIT with Hello certificates (docs/pkinit.md).

use std::path::PathBuf;

use clap::Subcommand;
use latchkeyd::data_admin::kerberos::KdcSetup;
use latchkeyd::data_admin::Admin;

use crate::admin::admin_error;
use crate::output;

/// `kerberos ...`.
#[derive(Debug, Subcommand)]
pub enum KerberosCommand {
    /// Issue a KDC certificate for REALM and write what an MIT KDC needs into DIR:
    /// kdc.pem, kdc-key.pem (0600), anchors.pem (issuing CA and root), crl.pem and the
    /// kdc.conf and krb5.conf fragments naming them; record REALM as the tenant's realm,
    /// so Hello certificates issued or renewed from now on carry the principal
    /// localpart@REALM (id-pkinit-san).
    KdcSetup {
        /// Kerberos realm, e.g. CONTOSO.TEST.
        #[arg(long, value_name = "REALM")]
        realm: String,
        /// Directory to write to (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// The KDC's host name (dNSName in its certificate; default kdc.<realm>).
        #[arg(long, value_name = "HOST")]
        hostname: Option<String>,
        /// Replace the files if they exist.
        #[arg(long)]
        force: bool,
        /// The KDC certificate's validity in days.
        #[arg(long, value_name = "DAYS", default_value_t = 365)]
        validity_days: u32,
        /// The service's public base URL for the CRL URL (default: the one it last
        /// started with).
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
    },
    /// Write the KDC's CRL file (pkinit_revoke): the issuing CA's current CRL and the
    /// root's, PEM, replacing FILE atomically. The KDC reads it only when it starts:
    /// restart krb5kdc afterwards.
    Crl {
        /// The file, e.g. the crl.pem kdc-setup wrote.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Set the principal name of a user's Hello certificates (NAME@REALM in the
    /// id-pkinit-san instead of the UPN's local part), from their next issuance or renewal.
    SetPrincipal {
        /// The user.
        upn: String,
        /// The principal name, one component without the realm.
        #[arg(required_unless_present = "clear", conflicts_with = "clear")]
        name: Option<String>,
        /// Go back to the UPN's local part.
        #[arg(long)]
        clear: bool,
    },
    /// Show the tenant's Kerberos realm.
    Show,
}

/// Runs `kerberos ...`.
pub async fn kerberos(admin: &Admin, json: bool, command: KerberosCommand) -> anyhow::Result<()> {
    match command {
        KerberosCommand::KdcSetup {
            realm,
            out,
            hostname,
            force,
            validity_days,
            base_url,
        } => {
            let files = admin
                .kdc_setup(&KdcSetup {
                    realm,
                    hostname,
                    out,
                    force,
                    validity_days,
                    base_url,
                })
                .await
                .map_err(admin_error)?;
            if json {
                return output::json(&files);
            }
            println!(
                "issued KDC certificate {} for {} (krbtgt/{}@{})",
                files.serial, files.hostname, files.realm, files.realm
            );
            println!("realm {} recorded for Hello certificates", files.realm);
            for f in &files.files {
                println!("wrote {}", f.display());
            }
            Ok(())
        }
        KerberosCommand::Crl { out } => {
            let written = admin.write_kdc_crl(&out).await.map_err(admin_error)?;
            if json {
                return output::json(&serde_json::json!({ "written": written }));
            }
            println!(
                "wrote {} (restart krb5kdc so that it reads it)",
                written.display()
            );
            Ok(())
        }
        KerberosCommand::SetPrincipal { upn, name, clear } => {
            let name = if clear { None } else { name };
            admin
                .set_kerberos_principal(&upn, name.as_deref())
                .await
                .map_err(admin_error)?;
            if json {
                return output::json(&serde_json::json!({ "user": upn, "principal": name }));
            }
            match name {
                Some(n) => println!("{upn}: principal name {n}"),
                None => println!("{upn}: principal name from the UPN"),
            }
            Ok(())
        }
        KerberosCommand::Show => {
            let k = admin.kerberos().await.map_err(admin_error)?;
            if json {
                return output::json(&k);
            }
            println!(
                "realm:          {}",
                k.realm
                    .as_deref()
                    .unwrap_or("(none; see `latchkeyd kerberos kdc-setup`)")
            );
            Ok(())
        }
    }
}
