//! `policy ...`, `group ...` and `admin-token ...`: policy administration on the data
//! directory directly, like the other admin commands (works while the service runs).

use latchkey_policy::effective::PolicyNote;
use latchkey_proto::ErrorCode;
use latchkey_server::policy::effective::setting_rows;
use latchkey_server::policy::gpo::parse_scope;
use latchkeyd::data_admin::{Admin, TargetChange};

use crate::admin::admin_error;
use crate::cli::{
    AdminTokenCommand, GpoCommand, GpoTargetArgs, GroupCommand, MemberCommand, PolicyCommand,
};
use crate::coded;
use crate::confirm::confirm_if_exists;
use crate::output::{self, table, time, yes_no};

/// Largest SyncML or .reg file read.
const MAX_FILE: u64 = 1 << 20;

fn read_file(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let len = std::fs::metadata(path)
        .map_err(|e| coded(ErrorCode::InvalidField, format!("{}: {e}", path.display())))?
        .len();
    if len > MAX_FILE {
        return Err(coded(
            ErrorCode::BodyTooLarge,
            format!("{}: larger than {MAX_FILE} bytes", path.display()),
        ));
    }
    std::fs::read(path)
        .map_err(|e| coded(ErrorCode::InvalidField, format!("{}: {e}", path.display())))
}

fn scope(s: &str) -> anyhow::Result<latchkey_policy::gpo::GpoScope> {
    parse_scope(s).map_err(|e| coded(ErrorCode::PolicyInvalid, e.to_string()))
}

fn target(t: &GpoTargetArgs) -> TargetChange {
    match (&t.group, t.all) {
        (Some(g), _) => Some(Some(g.clone())),
        (None, true) => Some(None),
        (None, false) => None,
    }
}

fn version(json: bool, what: &str, v: i64) -> anyhow::Result<()> {
    if json {
        return output::json(&serde_json::json!({ "ok": true, "version": v }));
    }
    println!("{what}; policy version {v}");
    Ok(())
}

fn note_text(n: &PolicyNote) -> String {
    match n {
        PolicyNote::Overridden {
            setting,
            winner,
            ignored,
        } => format!(
            "{setting}: the {} value is not applied ({} wins)",
            ignored.label(),
            winner.label()
        ),
        PolicyNote::CspPinIgnored => {
            "Group Policy sets PIN complexity, so the CSP PIN rules are not applied".into()
        }
        PolicyNote::LengthFallback { source } => format!(
            "PIN length pair of {} is out of bounds: defaults 4 and 127 used",
            source.label()
        ),
        PolicyNote::DefaultComplexityApplied => {
            "every character set allowed or forbidden: default complexity applies".into()
        }
    }
}

/// What `policy show` prints, on standard output above the table and on standard error,
/// for stored PIN lengths it had to ignore.
fn ignored_warning(source: &str) -> String {
    format!(
        "WARNING: the PIN lengths set by {source} are IGNORED: MinimumPINLength and \
         MaximumPINLength must be between 4 and 127 and the maximum not below the minimum; \
         the defaults 4 and 127 apply instead. Set them again within the bounds."
    )
}

/// `policy ...`.
pub async fn policy(admin: &Admin, json: bool, command: PolicyCommand) -> anyhow::Result<()> {
    match command {
        PolicyCommand::Apply { file, user } => {
            let bytes = read_file(&file)?;
            let xml = String::from_utf8(bytes).map_err(|_| {
                coded(
                    ErrorCode::SyncMlMalformed,
                    format!("{}: not UTF-8", file.display()),
                )
            })?;
            let report = admin
                .apply_syncml(&xml, user.as_deref())
                .await
                .map_err(admin_error)?;
            if json {
                let outcomes: Vec<_> = report
                    .outcomes
                    .iter()
                    .map(|o| {
                        serde_json::json!({
                            "cmd_id": o.cmd_id, "cmd": o.cmd, "target": o.target,
                            "status": o.status.0,
                            "reason": o.error.as_ref().map(|e| e.to_string()),
                        })
                    })
                    .collect();
                return output::json(&serde_json::json!({
                    "version": report.version, "changes": report.changes.len(),
                    "outcomes": outcomes, "reply": report.reply,
                }));
            }
            for o in &report.outcomes {
                let reason = o
                    .error
                    .as_ref()
                    .map(|e| format!("  {e}"))
                    .unwrap_or_default();
                println!(
                    "{}\t{}\t{}\t{}{reason}",
                    o.cmd_id.as_deref().unwrap_or("-"),
                    o.cmd,
                    o.target.as_deref().unwrap_or("-"),
                    o.status
                );
            }
            println!(
                "{} change(s); policy version {}",
                report.changes.len(),
                report.version
            );
            Ok(())
        }
        PolicyCommand::Show { device, user } => {
            let report = admin
                .effective_policy(device.as_deref(), user.as_deref())
                .await
                .map_err(admin_error)?;
            if json {
                return output::json(&serde_json::json!({
                    "report": report, "settings": setting_rows(&report.policy),
                }));
            }
            println!("policy version: {}", report.version);
            println!(
                "device:         {}",
                report.device_id.as_deref().unwrap_or("(any)")
            );
            println!(
                "user:           {}",
                report.upn.as_deref().unwrap_or("(any)")
            );
            println!("device groups:  {}", report.device_groups.join(", "));
            println!("user groups:    {}", report.user_groups.join(", "));
            println!("GPOs applied:   {}", report.gpos_applied.join(", "));
            for n in &report.policy.notes {
                if let PolicyNote::LengthFallback { source } = n {
                    let warning = ignored_warning(match source {
                        latchkey_policy::Source::Default => "the policy sources together",
                        other => other.label(),
                    });
                    println!("{warning}");
                    eprintln!("{warning}");
                }
            }
            let rows: Vec<Vec<String>> = setting_rows(&report.policy)
                .into_iter()
                .map(|r| vec![r.setting, r.value, r.source.label().to_owned()])
                .collect();
            table(&["SETTING", "VALUE", "SOURCE"], &rows);
            for n in &report.policy.notes {
                println!("note: {}", note_text(n));
            }
            Ok(())
        }
        PolicyCommand::Gpo(c) => gpo(admin, json, c).await,
        PolicyCommand::Sessions { device } => {
            let rows = admin.policy_sessions(&device).await.map_err(admin_error)?;
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|s| {
                    vec![
                        s.session_id.clone(),
                        s.upn.clone().unwrap_or_else(|| "-".into()),
                        s.version.to_string(),
                        s.commands.to_string(),
                        time(s.opened_at),
                        s.closed_at.map_or_else(|| "-".into(), time),
                        s.failed.map_or_else(|| "-".into(), |f| f.to_string()),
                    ]
                })
                .collect();
            if json {
                return output::json(&cells);
            }
            table(
                &[
                    "SESSION", "USER", "VERSION", "SENT", "OPENED", "CLOSED", "FAILED",
                ],
                &cells,
            );
            Ok(())
        }
    }
}

async fn gpo(admin: &Admin, json: bool, command: GpoCommand) -> anyhow::Result<()> {
    let v = match command {
        GpoCommand::Set {
            name,
            scope: s,
            target: t,
            settings,
        } => {
            admin
                .gpo_set(&name, scope(&s)?, target(&t), t.order, &settings)
                .await
        }
        GpoCommand::Unset {
            name,
            scope: s,
            settings,
        } => admin.gpo_unset(&name, scope(&s)?, &settings).await,
        GpoCommand::Import {
            file,
            name,
            scope: s,
            target: t,
        } => {
            let bytes = read_file(&file)?;
            let s = s.as_deref().map(scope).transpose()?;
            admin
                .gpo_import(&name, &bytes, s, target(&t), t.order)
                .await
        }
        GpoCommand::Delete {
            name,
            scope: s,
            confirm: c,
        } => {
            let s = s.as_deref().map(scope).transpose()?;
            let half = s.map(|x| format!(" ({x:?} half)")).unwrap_or_default();
            let exists = admin
                .gpos()
                .await
                .map_err(admin_error)?
                .iter()
                .any(|g| g.name.eq_ignore_ascii_case(name.trim()));
            confirm_if_exists(c, exists, &format!("Delete the GPO {name}{half}"))?;
            admin.gpo_delete(&name, s).await
        }
        GpoCommand::List => {
            let gpos = admin.gpos().await.map_err(admin_error)?;
            if json {
                return output::json(&gpos);
            }
            let rows: Vec<Vec<String>> = gpos
                .iter()
                .map(|g| {
                    vec![
                        g.order.to_string(),
                        g.name.clone(),
                        g.scope.clone(),
                        g.group.clone().unwrap_or_else(|| "(everyone)".into()),
                        g.settings.join(" "),
                    ]
                })
                .collect();
            table(&["ORDER", "NAME", "SCOPE", "APPLIES TO", "SETTINGS"], &rows);
            return Ok(());
        }
    };
    version(json, "Group Policy updated", v.map_err(admin_error)?)
}

/// `group ...`.
pub async fn group(admin: &Admin, json: bool, command: GroupCommand) -> anyhow::Result<()> {
    let v = match command {
        GroupCommand::Add { name } => admin.group_add(&name).await,
        GroupCommand::Delete { name, confirm: c } => {
            let wanted = name.trim().to_lowercase();
            let groups = admin.groups().await.map_err(admin_error)?;
            let exists = groups.iter().any(|g| g.name == wanted);
            confirm_if_exists(c, exists, &format!("Delete the group {name}"))?;
            admin.group_delete(&name).await
        }
        GroupCommand::Member(MemberCommand::Add(m)) => {
            admin
                .group_member(&m.group, m.user.as_deref(), m.device.as_deref(), true)
                .await
        }
        GroupCommand::Member(MemberCommand::Remove(m)) => {
            admin
                .group_member(&m.group, m.user.as_deref(), m.device.as_deref(), false)
                .await
        }
        GroupCommand::List => {
            let groups = admin.groups().await.map_err(admin_error)?;
            if json {
                return output::json(&groups);
            }
            let rows: Vec<Vec<String>> = groups
                .iter()
                .map(|g| vec![g.name.clone(), g.users.join(", "), g.devices.join(", ")])
                .collect();
            table(&["GROUP", "USERS", "DEVICES"], &rows);
            return Ok(());
        }
    };
    version(json, "groups updated", v.map_err(admin_error)?)
}

/// `admin-token ...`.
pub async fn admin_token(
    admin: &Admin,
    json: bool,
    command: AdminTokenCommand,
) -> anyhow::Result<()> {
    match command {
        AdminTokenCommand::Create { label } => {
            let (id, token) = admin
                .admin_token_create(&label)
                .await
                .map_err(admin_error)?;
            if json {
                return output::json(&serde_json::json!({ "id": id, "token": token }));
            }
            println!("created admin token {id}");
            println!("send it as `Authorization: Bearer <token>`; it is shown only once:");
            println!("{token}");
            Ok(())
        }
        AdminTokenCommand::List => {
            let tokens = admin.admin_tokens().await.map_err(admin_error)?;
            if json {
                return output::json(&tokens);
            }
            let rows: Vec<Vec<String>> = tokens
                .iter()
                .map(|t| {
                    vec![
                        t.id.clone(),
                        t.label.clone(),
                        time(t.created_at),
                        yes_no(t.revoked),
                    ]
                })
                .collect();
            table(&["ID", "LABEL", "CREATED", "REVOKED"], &rows);
            Ok(())
        }
        AdminTokenCommand::Revoke { id, confirm: c } => {
            let tokens = admin.admin_tokens().await.map_err(admin_error)?;
            let exists = tokens.iter().any(|t| t.id == id.trim() && !t.revoked);
            confirm_if_exists(
                c,
                exists,
                &format!("Revoke the admin token {id} (whatever uses it is refused from now on)"),
            )?;
            admin.admin_token_revoke(&id).await.map_err(admin_error)?;
            if json {
                return output::json(&serde_json::json!({ "ok": true, "id": id }));
            }
            println!("revoked admin token: {id}");
            Ok(())
        }
    }
}
