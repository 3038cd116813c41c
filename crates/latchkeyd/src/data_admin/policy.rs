//! Policy administration (`latchkeyd policy ...`, `group ...`, `admin-token ...`): the same
//! operations as the HTTP routes, on the data directory directly.

use latchkey_policy::gpo::{GpoScope, GpoSettings};
use serde::Serialize;

use super::{Admin, AdminError};
use latchkey_server::audit::event;
use latchkey_server::policy::effective::{effective, EffectiveReport};
use latchkey_server::policy::gpo::{
    self, check_name, describe, overlay, parse_assignments, without,
};
use latchkey_server::policy::syncml::{apply_message_checked, Sender, SyncMlReport};
use latchkey_server::policy::PolicyServiceError;
use latchkey_server::routes::policy::sha256_hex;
use latchkey_server::storage::policy::{AdminTokenRow, GpoRow, PolicySessionRow, Versioned};
use latchkey_server::storage::StorageError;

/// Prefix of administrator tokens (so a leaked one is recognisable in logs and scanners).
pub const ADMIN_TOKEN_PREFIX: &str = "lkadm_";

/// A GPO half as `policy gpo list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct GpoListing {
    /// Name.
    pub name: String,
    /// `computer` or `user`.
    pub scope: String,
    /// Security filtering group, `None` for everyone.
    pub group: Option<String>,
    /// Link order (lower wins).
    pub order: i64,
    /// Configured settings, `Name=value`.
    pub settings: Vec<String>,
}

/// A group as `group list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct GroupListing {
    /// Name (lower case).
    pub name: String,
    /// Member UPNs.
    pub users: Vec<String>,
    /// Member device ids.
    pub devices: Vec<String>,
}

/// An admin token without its secret.
#[derive(Debug, Clone, Serialize)]
pub struct AdminTokenListing {
    /// Id.
    pub id: String,
    /// Label.
    pub label: String,
    /// Creation time.
    pub created_at: i64,
    /// Revoked?
    pub revoked: bool,
}

/// Where a GPO half applies: `None` keeps what it has (everyone for a new one),
/// `Some(None)` everyone, `Some(Some(group))` one group.
pub type TargetChange = Option<Option<String>>;

fn versioned<T>(v: Versioned<T>, missing: impl FnOnce() -> AdminError) -> Result<i64, AdminError> {
    match v {
        Versioned::Changed { version, .. } => Ok(version),
        Versioned::Unchanged => Err(missing()),
    }
}

impl Admin {
    fn sender(&self) -> Sender {
        Sender {
            actor: self.actor().to_owned(),
            source: None,
        }
    }

    /// Applies an administrator's SyncML message (as `POST /v1/policy/syncml` does).
    pub async fn apply_syncml(
        &self,
        xml: &str,
        upn: Option<&str>,
    ) -> Result<SyncMlReport, AdminError> {
        Ok(apply_message_checked(
            &*self.storage,
            &self.tenant.id,
            xml,
            upn,
            &self.sender(),
            self.now(),
            true,
        )
        .await?)
    }

    /// The effective policy of a device and user.
    pub async fn effective_policy(
        &self,
        device_id: Option<&str>,
        upn: Option<&str>,
    ) -> Result<EffectiveReport, AdminError> {
        Ok(effective(&*self.storage, &self.tenant.id, device_id, upn).await?)
    }

    /// The tenant's policy version.
    pub async fn policy_version(&self) -> Result<i64, AdminError> {
        Ok(self.storage.policy_version(&self.tenant.id).await?)
    }

    /// A device's policy sessions, newest first.
    pub async fn policy_sessions(
        &self,
        device_id: &str,
    ) -> Result<Vec<PolicySessionRow>, AdminError> {
        Ok(self
            .storage
            .policy_sessions(&self.tenant.id, device_id)
            .await?)
    }

    async fn gpo_row(&self, name: &str, scope: GpoScope) -> Result<Option<GpoRow>, AdminError> {
        Ok(self
            .storage
            .list_gpos(&self.tenant.id)
            .await?
            .into_iter()
            .find(|g| g.name == name && g.scope == gpo::scope_name(scope)))
    }

    /// Writes a GPO half: `change` maps its current settings to the new ones.
    async fn put_gpo(
        &self,
        name: &str,
        scope: GpoScope,
        target: TargetChange,
        order: Option<i64>,
        change: impl FnOnce(&GpoSettings) -> Result<GpoSettings, PolicyServiceError>,
        what: &str,
    ) -> Result<i64, AdminError> {
        let name = check_name("Group Policy object", name)?;
        let existing = self.gpo_row(&name, scope).await?;
        let (old, old_target, old_order) = match &existing {
            Some(r) => (
                gpo::object(r)?.settings,
                r.target_group.clone(),
                r.link_order,
            ),
            None => (GpoSettings::default(), None, -1),
        };
        let settings = change(&old)?;
        if let Some(why) = latchkey_policy::pin::length_bounds_error(
            settings.pin.min_length,
            settings.pin.max_length,
        ) {
            return Err(AdminError::Policy(PolicyServiceError::OutOfBounds(
                format!("{why}; nothing was stored"),
            )));
        }
        settings
            .check_scope(scope)
            .map_err(|e| AdminError::Invalid(e.to_string()))?;
        let target = match target {
            None => old_target,
            Some(None) => None,
            Some(Some(g)) => Some(check_name("group", &g)?.to_lowercase()),
        };
        let row = GpoRow {
            name: name.clone(),
            scope: gpo::scope_name(scope).to_owned(),
            target_group: target.clone(),
            link_order: order.unwrap_or(old_order),
            settings_json: serde_json::to_string(&settings)
                .map_err(|e| AdminError::Invalid(e.to_string()))?,
            updated_at: self.now(),
        };
        let note = format!(
            "{what} {name} ({}) for {}: {}",
            row.scope,
            target.as_deref().unwrap_or("everyone"),
            describe(&settings).join(" ")
        );
        let line = self.line(event::GPO_CHANGE).note(note);
        let v = self.storage.put_gpo(&self.tenant.id, &row, &line).await?;
        versioned(v, || {
            AdminError::Invalid(format!(
                "no group {} (create it with `latchkeyd group add`)",
                target.unwrap_or_default()
            ))
        })
    }

    /// Sets `NAME=VALUE` settings on a GPO half (creating it).
    pub async fn gpo_set(
        &self,
        name: &str,
        scope: GpoScope,
        target: TargetChange,
        order: Option<i64>,
        assignments: &[String],
    ) -> Result<i64, AdminError> {
        let new = parse_assignments(scope, assignments)?;
        self.put_gpo(
            name,
            scope,
            target,
            order,
            |old| Ok(overlay(&new, old)),
            "set",
        )
        .await
    }

    /// Makes settings of a GPO half "not configured".
    pub async fn gpo_unset(
        &self,
        name: &str,
        scope: GpoScope,
        names: &[String],
    ) -> Result<i64, AdminError> {
        if self.gpo_row(name.trim(), scope).await?.is_none() {
            return Err(AdminError::Invalid(format!(
                "no Group Policy object {name} ({})",
                gpo::scope_name(scope)
            )));
        }
        self.put_gpo(name, scope, None, None, |old| without(old, names), "unset")
            .await
    }

    /// Imports a `.reg` file into a GPO: its HKLM part into the computer half and its HKCU
    /// part into the user half (only `scope`'s when given). Returns the version after.
    pub async fn gpo_import(
        &self,
        name: &str,
        reg: &[u8],
        scope: Option<GpoScope>,
        target: TargetChange,
        order: Option<i64>,
    ) -> Result<i64, AdminError> {
        let import = gpo::read_reg(reg)?;
        let mut version = None;
        for s in [GpoScope::Computer, GpoScope::User] {
            let settings = import.scope(s).clone();
            let wanted = scope.map_or(settings != GpoSettings::default(), |x| x == s);
            if wanted {
                let v = self
                    .put_gpo(
                        name,
                        s,
                        target.clone(),
                        order,
                        |old| Ok(overlay(&settings, old)),
                        "import",
                    )
                    .await?;
                version = Some(v);
            }
        }
        version.ok_or_else(|| AdminError::Invalid("the file configures no setting".into()))
    }

    /// Deletes a GPO (one half, or both).
    pub async fn gpo_delete(&self, name: &str, scope: Option<GpoScope>) -> Result<i64, AdminError> {
        let name = name.trim();
        let s = scope.map(gpo::scope_name);
        let line = self
            .line(event::GPO_CHANGE)
            .note(format!("delete {name} ({})", s.unwrap_or("both")));
        let v = self
            .storage
            .delete_gpo(&self.tenant.id, name, s, &line, self.now())
            .await?;
        versioned(v, || {
            AdminError::Invalid(format!("no Group Policy object {name}"))
        })
    }

    /// Every GPO half, in link order.
    pub async fn gpos(&self) -> Result<Vec<GpoListing>, AdminError> {
        let rows = self.storage.list_gpos(&self.tenant.id).await?;
        rows.iter()
            .map(|r| {
                Ok(GpoListing {
                    name: r.name.clone(),
                    scope: r.scope.clone(),
                    group: r.target_group.clone(),
                    order: r.link_order,
                    settings: describe(&gpo::object(r)?.settings),
                })
            })
            .collect()
    }

    /// Creates a group.
    pub async fn group_add(&self, name: &str) -> Result<i64, AdminError> {
        let name = check_name("group", name)?.to_lowercase();
        let line = self
            .line(event::GROUP_CHANGE)
            .note(format!("create {name}"));
        let v = self
            .storage
            .create_group(&self.tenant.id, &name, &line, self.now())
            .await?;
        versioned(v, || AdminError::Invalid(format!("group {name}")))
    }

    /// Deletes a group (refused while a GPO is filtered on it).
    pub async fn group_delete(&self, name: &str) -> Result<i64, AdminError> {
        let name = name.trim().to_lowercase();
        let line = self
            .line(event::GROUP_CHANGE)
            .note(format!("delete {name}"));
        let v = self
            .storage
            .delete_group(&self.tenant.id, &name, &line, self.now())
            .await?;
        versioned(v, || AdminError::Invalid(format!("no group {name}")))
    }

    /// Adds or removes a user (by UPN, which must exist) or a device (by id, which must
    /// exist).
    pub async fn group_member(
        &self,
        name: &str,
        user: Option<&str>,
        device: Option<&str>,
        add: bool,
    ) -> Result<i64, AdminError> {
        let name = name.trim().to_lowercase();
        let tenant = &self.tenant.id;
        let (kind, member) = match (user, device) {
            (Some(u), None) => {
                let u = u.trim().to_lowercase();
                if add && self.storage.user_by_upn(tenant, &u).await?.is_none() {
                    return Err(AdminError::NoSuchUser(u));
                }
                ("user", u)
            }
            (None, Some(d)) => {
                let d = d.trim().to_owned();
                if add && self.storage.device(tenant, &d).await?.is_none() {
                    return Err(AdminError::NoSuchDevice(d));
                }
                ("device", d)
            }
            _ => {
                return Err(AdminError::Invalid(
                    "name exactly one of --user UPN or --device ID".into(),
                ))
            }
        };
        let verb = if add { "add" } else { "remove" };
        let line = self
            .line(event::GROUP_CHANGE)
            .note(format!("{verb} {kind} {member} in {name}"));
        let v = self
            .storage
            .set_group_member(tenant, &name, (kind, &member), add, &line, self.now())
            .await?;
        versioned(v, || {
            AdminError::Invalid(format!(
                "no group {name}, or {kind} {member} is already {}",
                if add { "a member" } else { "not a member" }
            ))
        })
    }

    /// Every group with its members.
    pub async fn groups(&self) -> Result<Vec<GroupListing>, AdminError> {
        let rows = self.storage.list_group_members(&self.tenant.id).await?;
        let mut out: Vec<GroupListing> = Vec::new();
        for r in rows {
            if out.last().is_none_or(|g| g.name != r.name) {
                out.push(GroupListing {
                    name: r.name.clone(),
                    users: Vec::new(),
                    devices: Vec::new(),
                });
            }
            if let (Some(g), Some(kind), Some(m)) = (out.last_mut(), r.kind, r.member) {
                if kind == "user" {
                    g.users.push(m);
                } else {
                    g.devices.push(m);
                }
            }
        }
        Ok(out)
    }

    /// Creates an administrator token for `POST /v1/policy/syncml`; returns its id and the
    /// token (shown once; only its SHA-256 is stored).
    pub async fn admin_token_create(&self, label: &str) -> Result<(String, String), AdminError> {
        let rng = |_| AdminError::Invalid("the random number generator failed".into());
        let secret = self.env.random::<32>().map_err(rng)?;
        let token = format!(
            "{ADMIN_TOKEN_PREFIX}{}",
            latchkey_proto::b64::encode(secret)
        );
        let id = self.env.guid().map_err(rng)?.to_string();
        let row = AdminTokenRow {
            id: id.clone(),
            token_hash: sha256_hex(token.as_bytes()),
            label: label.trim().chars().take(128).collect(),
            created_at: self.now(),
            revoked: false,
        };
        let line = self
            .line(event::ADMIN_TOKEN_CREATE)
            .note(format!("{id} {}", row.label));
        self.storage
            .create_admin_token(&self.tenant.id, &row, &line)
            .await?;
        Ok((id, token))
    }

    /// Every admin token (without secrets).
    pub async fn admin_tokens(&self) -> Result<Vec<AdminTokenListing>, AdminError> {
        Ok(self
            .storage
            .list_admin_tokens(&self.tenant.id)
            .await?
            .into_iter()
            .map(|t| AdminTokenListing {
                id: t.id,
                label: t.label,
                created_at: t.created_at,
                revoked: t.revoked,
            })
            .collect())
    }

    /// Revokes an admin token (takes effect at once).
    pub async fn admin_token_revoke(&self, id: &str) -> Result<(), AdminError> {
        let id = id.trim();
        let line = self.line(event::ADMIN_TOKEN_REVOKE).note(id.to_owned());
        if !self
            .storage
            .revoke_admin_token(&self.tenant.id, id, &line)
            .await?
        {
            return Err(AdminError::Invalid(format!("no admin token {id}")));
        }
        Ok(())
    }
}

impl From<PolicyServiceError> for AdminError {
    fn from(err: PolicyServiceError) -> AdminError {
        match err {
            PolicyServiceError::Storage(StorageError::Conflict(what)) => {
                AdminError::Invalid(format!("{what} already exists"))
            }
            other => AdminError::Policy(other),
        }
    }
}
