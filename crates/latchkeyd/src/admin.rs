//! The administration subcommands, over the data directory's database directly.

use std::io::BufRead;
use std::path::Path;

use anyhow::Context;
use latchkey_proto::ErrorCode;
use latchkey_server::admin::{Admin, AdminError};
use latchkey_server::clock::Env;
use zeroize::Zeroizing;

use crate::cli::{
    AuditArgs, AuditCommand, Command, DeviceCommand, KeyCommand, TenantCommand, UserCommand,
};
use crate::output::{self, table, time, yes_no};
use crate::{coded, since};

pub(crate) fn admin_error(err: AdminError) -> anyhow::Error {
    coded(err.code(), err.to_string())
}

/// Runs an admin command.
pub async fn run(
    data_dir: &Path,
    key_file: Option<&Path>,
    json: bool,
    command: Command,
) -> anyhow::Result<()> {
    let admin = Admin::open_with_key_file(data_dir, key_file, Env::system())
        .await
        .map_err(admin_error)?;
    let result = dispatch(&admin, json, command).await;
    admin.close().await;
    result
}

async fn dispatch(admin: &Admin, json: bool, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(_) | Command::Config(_) => Ok(()),
        Command::Tenant(TenantCommand::Show) => {
            let t = admin.tenant();
            if json {
                return output::json(&t);
            }
            println!("tenant id:      {}", t.tenant_id);
            println!("name:           {}", t.name);
            println!("CA file:        {}", t.ca_file.display());
            println!("CA SHA-256:     {}", t.ca_fingerprint_sha256);
            println!("signing kid:    {}", t.signing_kid);
            Ok(())
        }
        Command::User(UserCommand::Add {
            upn,
            password_stdin,
            display_name,
        }) => {
            let password = read_password(password_stdin)?;
            let created = admin
                .add_user(&upn, &password, display_name.as_deref())
                .await
                .map_err(admin_error)?;
            if json {
                return output::json(&created);
            }
            println!("created user {} ({})", created.user.upn, created.user.id);
            println!("add this TOTP secret to an authenticator app:");
            println!("{}", created.otpauth_uri);
            Ok(())
        }
        Command::User(UserCommand::List) => {
            let users = admin.users().await.map_err(admin_error)?;
            if json {
                return output::json(&users);
            }
            let rows = users
                .iter()
                .map(|u| {
                    vec![
                        u.upn.clone(),
                        u.display_name.clone(),
                        u.id.clone(),
                        yes_no(u.disabled),
                        time(u.created_at),
                    ]
                })
                .collect::<Vec<_>>();
            table(&["UPN", "NAME", "OBJECT ID", "DISABLED", "CREATED"], &rows);
            Ok(())
        }
        Command::User(UserCommand::Disable { upn }) => {
            admin.disable_user(&upn).await.map_err(admin_error)?;
            done(json, "user disabled", &upn)
        }
        Command::Device(DeviceCommand::List) => {
            let devices = admin.devices().await.map_err(admin_error)?;
            if json {
                return output::json(&devices);
            }
            let rows = devices
                .iter()
                .map(|d| {
                    vec![
                        d.id.clone(),
                        d.display_name.clone(),
                        d.join_type.clone(),
                        d.owner.clone(),
                        yes_no(d.joined_with_mfa),
                        yes_no(d.disabled),
                        time(d.created_at),
                    ]
                })
                .collect::<Vec<_>>();
            table(
                &[
                    "DEVICE ID",
                    "NAME",
                    "JOIN",
                    "OWNER",
                    "MFA",
                    "DISABLED",
                    "CREATED",
                ],
                &rows,
            );
            Ok(())
        }
        Command::Device(DeviceCommand::Disable { id }) => {
            admin.disable_device(&id).await.map_err(admin_error)?;
            done(json, "device disabled", &id)
        }
        Command::Key(KeyCommand::List { user }) => {
            let keys = admin
                .key_reports(user.as_deref())
                .await
                .map_err(admin_error)?;
            if json {
                return output::json(&keys);
            }
            let rows = keys
                .iter()
                .map(|r| {
                    let k = &r.key;
                    let attestation = match &k.tpm_manufacturer {
                        Some(m) => format!("{} ({m})", k.attestation),
                        None => k.attestation.clone(),
                    };
                    let flag = if r.flagged_software {
                        "SOFTWARE KEY, policy requires a security device"
                    } else {
                        ""
                    };
                    vec![
                        k.key_id.clone(),
                        k.upn.clone(),
                        k.device_id.clone(),
                        k.alg.clone(),
                        attestation,
                        time(k.created_at),
                        flag.to_owned(),
                    ]
                })
                .collect::<Vec<_>>();
            table(
                &[
                    "KEY ID",
                    "USER",
                    "DEVICE",
                    "ALG",
                    "ATTESTATION",
                    "CREATED",
                    "POLICY",
                ],
                &rows,
            );
            Ok(())
        }
        Command::Key(KeyCommand::Delete { key_id }) => {
            admin.delete_key(&key_id).await.map_err(admin_error)?;
            done(json, "key deleted", &key_id)
        }
        Command::Policy(c) => crate::policy::policy(admin, json, c).await,
        Command::Group(c) => crate::policy::group(admin, json, c).await,
        Command::AdminToken(c) => crate::policy::admin_token(admin, json, c).await,
        Command::Client(c) => crate::web::client(admin, json, c).await,
        Command::Resource(c) => crate::resource::resource(admin, json, c).await,
        Command::SecurityKey(c) => crate::web::security_key(admin, json, c).await,
        Command::TpmRoots(c) => crate::tpm_roots::tpm_roots(admin, json, c).await,
        Command::PinRecovery(c) => crate::pin_recovery::pin_recovery(admin, json, c).await,
        Command::Cert(c) => crate::cert::cert(admin, json, c).await,
        Command::Kerberos(c) => crate::kerberos::kerberos(admin, json, c).await,
        Command::Audit(AuditArgs {
            action: Some(AuditCommand::Export { before, out, prune }),
            ..
        }) => {
            let cutoff = since::parse(&before, admin.now()).ok_or_else(|| {
                coded(
                    ErrorCode::InvalidField,
                    format!("--before `{before}`: expected RFC 3339 or a duration like 90d"),
                )
            })?;
            let (written, pruned) = admin
                .export_audit(cutoff, &out, prune)
                .await
                .map_err(admin_error)?;
            if json {
                return output::json(&serde_json::json!({
                    "exported": written,
                    "pruned": pruned,
                    "file": out,
                }));
            }
            println!(
                "exported {written} audit lines to {}; pruned {pruned}",
                out.display()
            );
            Ok(())
        }
        Command::Audit(args) => {
            let from = match &args.since {
                None => 0,
                Some(text) => since::parse(text, admin.now()).ok_or_else(|| {
                    coded(
                        ErrorCode::InvalidField,
                        format!("--since `{text}`: expected RFC 3339 or a duration like 1h"),
                    )
                })?,
            };
            let lines = admin.audit(from).await.map_err(admin_error)?;
            if json {
                return output::json(&lines);
            }
            let rows = lines
                .iter()
                .map(|a| {
                    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                    vec![
                        time(a.at),
                        a.event.clone(),
                        a.outcome.clone(),
                        opt(&a.reason),
                        opt(&a.actor),
                        opt(&a.device_id),
                        opt(&a.key_id),
                        opt(&a.source),
                    ]
                })
                .collect::<Vec<_>>();
            table(
                &[
                    "TIME", "EVENT", "OUTCOME", "REASON", "USER", "DEVICE", "KEY", "SOURCE",
                ],
                &rows,
            );
            Ok(())
        }
    }
}

fn done(json: bool, what: &str, id: &str) -> anyhow::Result<()> {
    if json {
        output::json(&serde_json::json!({ "ok": true, "id": id }))
    } else {
        println!("{what}: {id}");
        Ok(())
    }
}

fn read_password(from_stdin: bool) -> anyhow::Result<Zeroizing<String>> {
    if from_stdin {
        let mut line = Zeroizing::new(String::new());
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        let len = line.trim_end_matches(['\r', '\n']).len();
        line.truncate(len);
        return Ok(line);
    }
    let first =
        Zeroizing::new(rpassword::prompt_password("Password: ").context("reading the password")?);
    let second =
        Zeroizing::new(rpassword::prompt_password("Again: ").context("reading the password")?);
    if first != second {
        return Err(coded(ErrorCode::InvalidField, "the passwords do not match"));
    }
    Ok(first)
}
