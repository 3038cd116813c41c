//! `latchkeyd tenant|user|device|key ...`: the directory's objects.

use latchkeyd::data_admin::{Admin, NewUser, Removed};

use crate::admin::{admin_error, done, read_password};
use crate::cli::{DeviceCommand, KeyCommand, TenantCommand, UserCommand};
use crate::confirm::confirm;
use crate::output::{self, table, time, yes_no};

/// Runs `tenant ...`.
pub async fn tenant(admin: &mut Admin, json: bool, command: TenantCommand) -> anyhow::Result<()> {
    match command {
        TenantCommand::Show => {
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
        TenantCommand::Rename { name } => {
            let old = admin.tenant().name;
            admin.rename_tenant(&name).await.map_err(admin_error)?;
            let t = admin.tenant();
            if json {
                return output::json(&t);
            }
            println!("renamed tenant {} ({}) to {}", old, t.tenant_id, t.name);
            println!("a running service shows the new name from its next start");
            Ok(())
        }
    }
}

/// Prints the TOTP enrolment: the URI on a line of its own, and its QR code when wanted.
fn print_enrolment(created: &NewUser, qr: bool) {
    println!("add this TOTP secret to an authenticator app:");
    println!("{}", created.otpauth_uri);
    if crate::qr::wanted(qr, false) {
        match crate::qr::render(&created.otpauth_uri) {
            Some(code) => {
                println!("or scan this QR code:");
                println!("{code}");
            }
            None => println!("(the URI is too long for a QR code)"),
        }
    }
}

fn print_removed(what: &str, id: &str, r: &Removed) {
    println!(
        "{what}: {id} ({} Hello key(s), {} security key(s), {} session(s) deleted; {} \
         certificate(s) revoked)",
        r.hello_keys, r.security_keys, r.sessions, r.certificates_revoked
    );
}

/// Runs `user ...`.
pub async fn user(admin: &Admin, json: bool, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            upn,
            password_stdin,
            display_name,
            qr,
        } => {
            let password = read_password(password_stdin)?;
            let created = admin
                .add_user(&upn, &password, display_name.as_deref())
                .await
                .map_err(admin_error)?;
            if json {
                return output::json(&created);
            }
            println!("created user {} ({})", created.user.upn, created.user.id);
            print_enrolment(&created, qr);
            Ok(())
        }
        UserCommand::Import {
            file,
            format,
            enrolment_out,
        } => {
            let summary = admin
                .import_users(&file, format, enrolment_out.as_deref())
                .await
                .map_err(admin_error)?;
            if json {
                return output::json(&summary);
            }
            println!(
                "imported {} users ({} with a password hash, {} passwordless)",
                summary.imported, summary.with_password, summary.passwordless
            );
            match &summary.enrolment_file {
                Some(path) => println!("TOTP enrolment URIs: {}", path.display()),
                None => println!(
                    "no enrolment file was asked for: give users a TOTP secret with \
                     `latchkeyd user reset-mfa UPN`"
                ),
            }
            Ok(())
        }
        UserCommand::List => {
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
        UserCommand::Disable { upn } => {
            admin.disable_user(&upn).await.map_err(admin_error)?;
            done(json, "user disabled", &upn)
        }
        UserCommand::Enable { upn } => {
            admin.enable_user(&upn).await.map_err(admin_error)?;
            done(json, "user enabled", &upn)
        }
        UserCommand::Delete { upn, confirm: yes } => {
            let user = admin.user(&upn).await.map_err(admin_error)?;
            confirm(
                yes,
                &format!(
                    "Delete user {} ({}) with its Hello keys, security keys and sessions, and \
                     revoke its certificates",
                    user.upn, user.id
                ),
            )?;
            let removed = admin.delete_user(&user.upn).await.map_err(admin_error)?;
            if json {
                return output::json(
                    &serde_json::json!({ "ok": true, "id": user.upn, "removed": removed }),
                );
            }
            print_removed("user deleted", &user.upn, &removed);
            Ok(())
        }
        UserCommand::ResetPassword {
            upn,
            password_stdin,
        } => {
            let user = admin.user(&upn).await.map_err(admin_error)?;
            let password = read_password(password_stdin)?;
            admin
                .reset_password(&user.upn, &password)
                .await
                .map_err(admin_error)?;
            done(json, "password reset (browser sessions ended)", &user.upn)
        }
        UserCommand::ResetMfa {
            upn,
            qr,
            confirm: yes,
        } => {
            let user = admin.user(&upn).await.map_err(admin_error)?;
            confirm(
                yes,
                &format!(
                    "Give {} a new TOTP secret (the authenticator app's current entry stops \
                     working)",
                    user.upn
                ),
            )?;
            let reset = admin.reset_mfa(&user.upn).await.map_err(admin_error)?;
            if json {
                return output::json(&reset);
            }
            println!("new TOTP secret for {} ({})", reset.user.upn, reset.user.id);
            print_enrolment(&reset, qr);
            Ok(())
        }
    }
}

/// Runs `device ...`.
pub async fn device(admin: &Admin, json: bool, command: DeviceCommand) -> anyhow::Result<()> {
    match command {
        DeviceCommand::List => {
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
                        d.os.clone(),
                        d.join_type.clone(),
                        d.owner.clone(),
                        yes_no(d.joined_with_mfa),
                        yes_no(d.disabled),
                        d.last_activity.map_or_else(|| "-".to_owned(), time),
                        time(d.created_at),
                    ]
                })
                .collect::<Vec<_>>();
            table(
                &[
                    "DEVICE ID",
                    "NAME",
                    "OS",
                    "JOIN",
                    "OWNER",
                    "MFA",
                    "DISABLED",
                    "LAST ACTIVITY",
                    "CREATED",
                ],
                &rows,
            );
            Ok(())
        }
        DeviceCommand::Disable { id, confirm: yes } => {
            let d = admin.device(&id).await.map_err(admin_error)?;
            confirm(
                yes,
                &format!(
                    "Disable device {} ({}, owner {}): its tokens end and it can never be \
                     enabled again",
                    d.id, d.display_name, d.owner
                ),
            )?;
            admin.disable_device(&d.id).await.map_err(admin_error)?;
            done(json, "device disabled", &d.id)
        }
        DeviceCommand::Delete { id, confirm: yes } => {
            let d = admin.device(&id).await.map_err(admin_error)?;
            confirm(
                yes,
                &format!(
                    "Delete device {} ({}, owner {}) with the Hello keys on it, and revoke its \
                     certificates",
                    d.id, d.display_name, d.owner
                ),
            )?;
            let removed = admin.delete_device(&d.id).await.map_err(admin_error)?;
            if json {
                return output::json(
                    &serde_json::json!({ "ok": true, "id": d.id, "removed": removed }),
                );
            }
            print_removed("device deleted", &d.id, &removed);
            Ok(())
        }
    }
}

/// Runs `key ...`.
pub async fn key(admin: &Admin, json: bool, command: KeyCommand) -> anyhow::Result<()> {
    match command {
        KeyCommand::List { user } => {
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
        KeyCommand::Delete {
            key_id,
            confirm: yes,
        } => {
            let key = admin.key_by_prefix(&key_id).await.map_err(admin_error)?;
            confirm(
                yes,
                &format!(
                    "Delete Hello key {} of {} on device {}, and revoke its certificates",
                    key.key_id, key.upn, key.device_id
                ),
            )?;
            admin.delete_key(&key.key_id).await.map_err(admin_error)?;
            done(json, "key deleted", &key.key_id)
        }
    }
}
