//! The CSP layer between its stored rows and the policy crate's [`PolicyDocument`].

use latchkey_policy::document::ScopeStore;
use latchkey_policy::value::{parse_data, Format};
use latchkey_policy::{Node, PolicyDocument, Scope, TenantId};

use super::PolicyServiceError;
use crate::storage::policy::{CspRow, CspSnapshot, CspStoreWrite, ALL_PRINCIPALS};

/// The stored name of a scope.
pub fn scope_name(scope: Scope) -> &'static str {
    match scope {
        Scope::Device => "device",
        Scope::User => "user",
    }
}

fn node_of(path: &str) -> Option<Node> {
    Node::leaves().find(|n| n.path() == path)
}

/// The scope store of `(scope, principal)` in a snapshot.
pub fn store(
    snap: &CspSnapshot,
    scope: Scope,
    principal: &str,
) -> Result<ScopeStore, PolicyServiceError> {
    let name = scope_name(scope);
    let mut out = ScopeStore {
        tenant_node: snap
            .tenant_nodes
            .iter()
            .any(|(s, p)| s == name && p == principal),
        ..ScopeStore::default()
    };
    for row in snap
        .rows
        .iter()
        .filter(|r| r.scope == name && r.principal == principal)
    {
        let (node, value) = decode(row)?;
        out.values.insert(node, value);
    }
    Ok(out)
}

fn decode(row: &CspRow) -> Result<(Node, latchkey_policy::Value), PolicyServiceError> {
    let corrupt = || PolicyServiceError::Corrupt(format!("stored CSP value {}", row.node));
    let node = node_of(&row.node).ok_or_else(corrupt)?;
    let format = Format::parse(&row.format).ok_or_else(corrupt)?;
    let value = parse_data(format, &row.data).ok_or_else(corrupt)?;
    Ok((node, value))
}

/// The document an administrator's message works on: the device scope and the user scope of
/// `upn` (the all-users user scope when `None`).
pub fn document(
    tenant: TenantId,
    snap: &CspSnapshot,
    upn: Option<&str>,
) -> Result<PolicyDocument, PolicyServiceError> {
    let version = u64::try_from(snap.version).unwrap_or(0);
    let device = store(snap, Scope::Device, ALL_PRINCIPALS)?;
    let user = store(snap, Scope::User, upn.unwrap_or(ALL_PRINCIPALS))?;
    PolicyDocument::from_stores(tenant, version, device, user)
        .map_err(|e| PolicyServiceError::Corrupt(e.to_string()))
}

/// The user-scope CSP that reaches `upn`: the all-users values, overlaid node by node with
/// the user's own.
pub fn user_overlay(
    snap: &CspSnapshot,
    upn: Option<&str>,
) -> Result<ScopeStore, PolicyServiceError> {
    let mut all = store(snap, Scope::User, ALL_PRINCIPALS)?;
    if let Some(upn) = upn.filter(|u| !u.is_empty()) {
        let own = store(snap, Scope::User, upn)?;
        all.tenant_node |= own.tenant_node;
        all.values.extend(own.values);
    }
    Ok(all)
}

/// The rows to write back for a document worked on for `upn`.
pub fn writes(doc: &PolicyDocument, upn: Option<&str>) -> Vec<CspStoreWrite> {
    [
        (Scope::Device, ALL_PRINCIPALS),
        (Scope::User, upn.unwrap_or(ALL_PRINCIPALS)),
    ]
    .into_iter()
    .map(|(scope, principal)| {
        let s = doc.store(scope);
        CspStoreWrite {
            scope: scope_name(scope).to_owned(),
            principal: principal.to_owned(),
            tenant_node: s.tenant_node,
            values: s
                .values
                .iter()
                .map(|(n, v)| (n.path(), v.format().as_str().to_owned(), v.to_data()))
                .collect(),
        }
    })
    .collect()
}
