//! `latchkeyd cert ...`: certificate trust (docs/certificates.md): the issuing CA,
//! templates, certificates, revocation, the CRL and KDC certificates.

use std::path::PathBuf;

use clap::{ArgAction, Subcommand};
use latchkey_proto::ErrorCode;
use latchkeyd::data_admin::{Admin, TemplateChange};

use crate::admin::admin_error;
use crate::coded;
use crate::output::{self, table, time, yes_no};

/// `cert ...`.
#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// The issuing CA and the registration authority.
    #[command(subcommand)]
    Authority(AuthorityCommand),
    /// Certificate templates.
    #[command(subcommand)]
    Template(TemplateCommand),
    /// List certificates (newest first).
    List {
        /// Only this user's.
        #[arg(long, value_name = "UPN")]
        user: Option<String>,
    },
    /// Show a certificate's decoded fields.
    Show {
        /// Serial number (hex).
        serial: String,
        /// Print the certificate (PEM).
        #[arg(long)]
        pem: bool,
        /// With --pem, add its chain up to the root (PEM).
        #[arg(long)]
        chain: bool,
    },
    /// Revoke a certificate; the CRL is signed again at once.
    Revoke {
        /// Serial number (hex).
        serial: String,
        /// RFC 5280 reason: unspecified, key-compromise, ca-compromise, affiliation-changed,
        /// superseded, cessation-of-operation, certificate-hold, privilege-withdrawn.
        #[arg(long, value_name = "REASON", default_value = "unspecified")]
        reason: String,
        /// Confirmation.
        #[command(flatten)]
        confirm: crate::confirm::ConfirmArgs,
    },
    /// Issue a KDC certificate (id-pkinit-KPKdc, krbtgt/REALM@REALM) with a new key and
    /// write kdc.pem, kdc-key.pem (0600) and ca-chain.pem into DIR (never overwriting).
    IssueKdc {
        /// Kerberos realm.
        #[arg(long, value_name = "REALM")]
        realm: String,
        /// The KDC's host name (dNSName).
        #[arg(long, value_name = "HOST")]
        hostname: String,
        /// Directory to write to (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Validity in days.
        #[arg(long, value_name = "DAYS", default_value_t = 365)]
        validity_days: u32,
        /// The service's public base URL for the CRL URL (default: the one it last
        /// started with).
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
    },
    /// Write the current CRL (DER) to a new file.
    Crl {
        /// The file to create (refused if it exists).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

/// `cert authority ...`.
#[derive(Debug, Subcommand)]
pub enum AuthorityCommand {
    /// Create the issuing CA and the RA now (before the first start), choosing the
    /// issuing CA's algorithm; refused once they exist.
    Init {
        /// p256 (default) or rsa3072.
        #[arg(long, value_name = "ALG", default_value = "p256")]
        algorithm: String,
    },
    /// Show the issuing CA and the RA.
    Show,
}

/// `cert template ...`.
#[derive(Debug, Subcommand)]
pub enum TemplateCommand {
    /// List templates.
    List,
    /// Show a template.
    Show {
        /// Template name.
        name: String,
    },
    /// Change a template (or create one from the Hello defaults).
    Set {
        /// Template name.
        name: String,
        /// Validity in days (1 to 3650).
        #[arg(long, value_name = "DAYS")]
        validity_days: Option<u32>,
        /// Renewal window: the last N percent of the validity (1 to 90).
        #[arg(long, value_name = "N")]
        renewal_percent: Option<u8>,
        /// Only members of this group may enrol.
        #[arg(long, value_name = "GROUP", conflicts_with = "everyone")]
        group: Option<String>,
        /// Everyone may enrol.
        #[arg(long)]
        everyone: bool,
        /// Add the Kerberos principal name SAN (id-pkinit-san) for this realm.
        #[arg(long, value_name = "REALM", conflicts_with = "no_kerberos")]
        kerberos_realm: Option<String>,
        /// No Kerberos principal name SAN.
        #[arg(long)]
        no_kerberos: bool,
        /// Add the UPN as rfc822Name.
        #[arg(long, conflicts_with = "no_email")]
        email: bool,
        /// No rfc822Name.
        #[arg(long)]
        no_email: bool,
        /// Devices enrol automatically after `hello setup`.
        #[arg(long, value_name = "BOOL", action = ArgAction::Set)]
        auto_enroll: Option<bool>,
    },
}

fn template_rows(templates: &[latchkey_pki::Template]) -> Vec<Vec<String>> {
    templates
        .iter()
        .map(|t| {
            vec![
                t.name.clone(),
                format!("{:?}", t.kind),
                t.validity_days.to_string(),
                format!("{}%", t.renewal_percent),
                t.enroll_group
                    .clone()
                    .unwrap_or_else(|| "(everyone)".into()),
                t.kerberos_realm.clone().unwrap_or_else(|| "-".into()),
                yes_no(t.include_email),
                yes_no(t.auto_enroll),
            ]
        })
        .collect()
}

fn print_templates(templates: &[latchkey_pki::Template]) {
    table(
        &[
            "NAME", "KIND", "DAYS", "RENEW", "GROUP", "REALM", "EMAIL", "AUTO",
        ],
        &template_rows(templates),
    );
}

/// Runs `cert ...`.
pub async fn cert(admin: &Admin, json: bool, command: CertCommand) -> anyhow::Result<()> {
    match command {
        CertCommand::Authority(AuthorityCommand::Init { algorithm }) => {
            let alg: latchkey_pki::CaAlgorithm = algorithm.parse().map_err(|_| {
                coded(
                    ErrorCode::InvalidField,
                    format!("--algorithm `{algorithm}`: p256 or rsa3072"),
                )
            })?;
            let summary = admin.cert_authority_init(alg).await.map_err(admin_error)?;
            if json {
                return output::json(&summary);
            }
            println!("created the issuing CA ({}) and the RA", summary.algorithm);
            Ok(())
        }
        CertCommand::Authority(AuthorityCommand::Show) => {
            let s = admin.cert_authority().await.map_err(admin_error)?;
            if json {
                return output::json(&s);
            }
            println!("algorithm:      {}", s.algorithm);
            if let Some(ca) = &s.issuing_ca {
                println!("issuing CA:     {} (until {})", ca.subject, ca.not_after);
            }
            if let Some(ra) = &s.registration_authority {
                println!("RA:             {} (until {})", ra.subject, ra.not_after);
            }
            println!(
                "base URL:       {}",
                s.base_url.as_deref().unwrap_or("(not started yet)")
            );
            Ok(())
        }
        CertCommand::Template(TemplateCommand::List) => {
            let templates = admin.cert_templates().await.map_err(admin_error)?;
            if json {
                return output::json(&templates);
            }
            print_templates(&templates);
            Ok(())
        }
        CertCommand::Template(TemplateCommand::Show { name }) => {
            let t = admin.cert_template(&name).await.map_err(admin_error)?;
            if json {
                return output::json(&t);
            }
            print_templates(std::slice::from_ref(&t));
            Ok(())
        }
        CertCommand::Template(TemplateCommand::Set {
            name,
            validity_days,
            renewal_percent,
            group,
            everyone,
            kerberos_realm,
            no_kerberos,
            email,
            no_email,
            auto_enroll,
        }) => {
            let change = TemplateChange {
                validity_days,
                renewal_percent,
                group: if everyone {
                    Some(None)
                } else {
                    group.map(Some)
                },
                kerberos_realm: if no_kerberos {
                    Some(None)
                } else {
                    kerberos_realm.map(Some)
                },
                email: match (email, no_email) {
                    (true, _) => Some(true),
                    (_, true) => Some(false),
                    _ => None,
                },
                auto_enroll,
            };
            let t = admin
                .set_cert_template(&name, &change)
                .await
                .map_err(admin_error)?;
            if json {
                return output::json(&t);
            }
            print_templates(std::slice::from_ref(&t));
            Ok(())
        }
        CertCommand::List { user } => {
            let certs = admin
                .certificates(user.as_deref())
                .await
                .map_err(admin_error)?;
            if json {
                return output::json(&certs);
            }
            let rows: Vec<Vec<String>> = certs
                .iter()
                .map(|c| {
                    vec![
                        c.serial.clone(),
                        c.upn.clone().unwrap_or_else(|| c.subject.clone()),
                        c.device_id.clone().unwrap_or_else(|| "-".into()),
                        c.template.clone(),
                        time(c.not_before),
                        time(c.not_after),
                        c.state.clone(),
                    ]
                })
                .collect();
            table(
                &[
                    "SERIAL",
                    "USER",
                    "DEVICE",
                    "TEMPLATE",
                    "NOT BEFORE",
                    "NOT AFTER",
                    "STATE",
                ],
                &rows,
            );
            Ok(())
        }
        CertCommand::Show { serial, pem, chain } => {
            let d = admin.certificate(&serial).await.map_err(admin_error)?;
            if json {
                return output::json(&d);
            }
            if pem {
                print!("{}", d.pem);
                if chain {
                    for c in &d.chain {
                        print!("{c}");
                    }
                }
                return Ok(());
            }
            let r = &d.record;
            println!("serial:         {}", r.serial);
            println!("state:          {}", r.state);
            if let (Some(at), Some(reason)) = (r.revoked_at, &r.reason) {
                println!("revoked:        {} ({reason})", time(at));
            }
            println!("template:       {}", r.template);
            if let Some(upn) = &r.upn {
                println!("user:           {upn}");
            }
            if let Some(device) = &r.device_id {
                println!("device:         {device}");
            }
            if let Some(key) = &r.key_id {
                println!("key:            {key}");
            }
            if let Some(old) = &r.renewed_from {
                println!("renewed from:   {old}");
            }
            println!("SHA-256:        {}", r.fingerprint);
            if let Some(f) = &d.fields {
                println!("subject:        {}", f.subject);
                println!("issuer:         {}", f.issuer);
                println!("not before:     {}", f.not_before);
                println!("not after:      {}", f.not_after);
                println!("SANs:           {}", f.subject_alt_names.join(", "));
                println!("EKUs:           {}", f.extended_key_usages.join(", "));
                println!("key usage:      {}", f.key_usage.join(", "));
                println!("CA:             {}", yes_no(f.is_ca));
            }
            Ok(())
        }
        CertCommand::Revoke {
            serial,
            reason,
            confirm,
        } => {
            crate::confirm::confirm(
                confirm,
                &format!("Revoke certificate {serial} ({reason}); it goes on the CRL at once"),
            )?;
            let r = admin
                .revoke_certificate(&serial, &reason)
                .await
                .map_err(admin_error)?;
            if json {
                return output::json(&r);
            }
            println!(
                "revoked certificate {} ({})",
                r.serial,
                r.reason.unwrap_or_default()
            );
            Ok(())
        }
        CertCommand::IssueKdc {
            realm,
            hostname,
            out,
            validity_days,
            base_url,
        } => {
            let files = admin
                .issue_kdc(&realm, &hostname, &out, validity_days, base_url.as_deref())
                .await
                .map_err(admin_error)?;
            if json {
                return output::json(&files);
            }
            println!("issued KDC certificate {}", files.serial);
            println!("certificate:    {}", files.certificate.display());
            println!("private key:    {}", files.key.display());
            println!("CA chain:       {}", files.chain.display());
            Ok(())
        }
        CertCommand::Crl { out } => {
            let der = admin.crl().await.map_err(admin_error)?;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            let mut file = options
                .open(&out)
                .map_err(|e| coded(ErrorCode::InvalidField, format!("{}: {e}", out.display())))?;
            std::io::Write::write_all(&mut file, &der)
                .map_err(|e| coded(ErrorCode::Internal, format!("{}: {e}", out.display())))?;
            if json {
                return output::json(&serde_json::json!({ "written": out, "bytes": der.len() }));
            }
            println!("wrote the CRL ({} bytes) to {}", der.len(), out.display());
            Ok(())
        }
    }
}
