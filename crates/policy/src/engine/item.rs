//! One item of one command against the policy document.

use crate::document::PolicyDocument;
use crate::error::{clip, PolicyError};
use crate::locuri::{parse_loc_uri, LocUri};
use crate::node::{Node, Op, ValueType};
use crate::syncml::{Item, Meta};
use crate::tenant::TenantId;
use crate::value::{parse_data, Format, Value};

use super::{Access, Change};

/// What a successful item produced.
pub(super) enum ItemOk {
    /// A write (or a no-op write) was done.
    Written(Change),
    /// A Get's answer.
    Value(Item),
}

pub(super) fn exec_item(
    doc: &mut PolicyDocument,
    op: Op,
    item: &Item,
    cmd_meta: &Meta,
    tenant: TenantId,
    access: Access,
) -> Result<ItemOk, PolicyError> {
    let target = item.target.as_deref().ok_or(PolicyError::MissingTarget {
        cmd: op.as_str(),
        reason: "Item has no Target/LocURI",
    })?;
    let loc = resolve(target, tenant)?;
    let spec = loc.node.spec();
    if !spec.ops.allows(op) {
        return Err(PolicyError::OperationNotAllowed {
            node: loc.node.to_string(),
            op: op.as_str(),
            supported: spec.ops.to_string(),
        });
    }
    if op.writes() {
        if access == Access::ReadOnly {
            return Err(PolicyError::ReadOnlySession { op: op.as_str() });
        }
        doc.next_version()?;
    }
    let uri = loc.to_uri();
    let store = doc.store_mut(loc.scope);
    let change = |before: Option<String>, after: Option<String>| Change {
        scope: loc.scope,
        uri: uri.clone(),
        before,
        after,
    };
    match op {
        Op::Get => {
            let (format, data) = if loc.node.is_leaf() {
                let v = store
                    .get(loc.node)
                    .ok_or_else(|| PolicyError::NotSet { uri: clip(&uri) })?;
                (v.format(), v.to_data())
            } else {
                if loc.node.under_tenant() && !store.tenant_node {
                    return Err(PolicyError::NotSet { uri: clip(&uri) });
                }
                (Format::Node, child_list(doc, &loc))
            };
            Ok(ItemOk::Value(Item {
                source: Some(target.trim().to_owned()),
                meta: Meta {
                    format: Some(format.as_str().to_owned()),
                    mime: Some("text/plain".to_owned()),
                },
                data: Some(data),
                ..Item::default()
            }))
        }
        Op::Add if loc.node == Node::Tenant => {
            let meta = item.meta.or(cmd_meta);
            match meta.format.as_deref() {
                None | Some("node") => {}
                Some(other) => {
                    return Err(PolicyError::FormatMismatch {
                        node: loc.node.to_string(),
                        expected: "node",
                        got: clip(other),
                    })
                }
            }
            if store.tenant_node {
                return Err(PolicyError::AlreadyExists { uri: clip(&uri) });
            }
            store.tenant_node = true;
            Ok(ItemOk::Written(change(None, Some("(node)".into()))))
        }
        Op::Add | Op::Replace => {
            let value = read_value(loc.node, item, cmd_meta)?;
            let before = store.get(loc.node).map(Value::to_data);
            if op == Op::Add && before.is_some() {
                return Err(PolicyError::AlreadyExists { uri: clip(&uri) });
            }
            if loc.node.under_tenant() {
                store.tenant_node = true;
            }
            let after = Some(value.to_data());
            store.values.insert(loc.node, value);
            Ok(ItemOk::Written(change(before, after)))
        }
        Op::Delete if loc.node == Node::Tenant => {
            if !store.tenant_node {
                return Err(PolicyError::NotSet { uri: clip(&uri) });
            }
            store.tenant_node = false;
            store.values.retain(|n, _| !n.under_tenant());
            Ok(ItemOk::Written(change(Some("(node)".into()), None)))
        }
        Op::Delete => {
            let before = store
                .values
                .remove(&loc.node)
                .ok_or_else(|| PolicyError::NotSet { uri: clip(&uri) })?;
            Ok(ItemOk::Written(change(Some(before.to_data()), None)))
        }
    }
}

/// Resolve a LocURI and refuse another tenant's.
pub(super) fn resolve(target: &str, tenant: TenantId) -> Result<LocUri, PolicyError> {
    let loc = parse_loc_uri(target)?;
    if let Some(named) = loc.tenant {
        if named != tenant {
            return Err(PolicyError::ForeignTenant {
                uri: clip(target.trim()),
                managed: tenant.to_string(),
                named: named.to_string(),
            });
        }
    }
    Ok(loc)
}

/// Read an Add/Replace item's value for `node`, checked against the node reference.
///
/// The format is the item's `Meta/Format`, else the command's, else `chr` (OMA-DM's
/// default); `Meta/Type`, when given, must be `text/plain`.
fn read_value(node: Node, item: &Item, cmd_meta: &Meta) -> Result<Value, PolicyError> {
    let spec = node.spec();
    let meta = item.meta.or(cmd_meta);
    if let Some(mime) = &meta.mime {
        if mime != "text/plain" {
            return Err(PolicyError::UnsupportedMetaType { mime: clip(mime) });
        }
    }
    let expected = spec.ty.format();
    let declared = meta.format.as_deref().unwrap_or("chr");
    let format = Format::parse(declared)
        .filter(|f| *f == expected)
        .ok_or_else(|| PolicyError::FormatMismatch {
            node: node.to_string(),
            expected: expected.as_str(),
            got: clip(declared),
        })?;
    let data = item
        .data
        .as_deref()
        .ok_or_else(|| PolicyError::MissingData {
            node: node.to_string(),
        })?;
    let value = parse_data(format, data).ok_or_else(|| PolicyError::UnparsableValue {
        node: node.to_string(),
        format: format.as_str(),
        data: clip(data),
    })?;
    spec.check(&value)?;
    Ok(value)
}

/// MS-MDM Get on an interior node: "for interior nodes, the child node names in the Data
/// element are returned in URI-encoded format" — names separated by `/`. Interior children
/// that exist in the scope are always listed; leaves only when set; the tenant node when
/// it exists.
fn child_list(doc: &PolicyDocument, loc: &LocUri) -> String {
    let store = doc.store(loc.scope);
    let mut names = Vec::new();
    if loc.node == Node::Root && store.tenant_node {
        names.push(doc.tenant().to_string());
    }
    for c in loc.node.children() {
        if c.node == Node::Tenant || !c.scopes.contains(loc.scope) {
            continue;
        }
        if c.ty != ValueType::Node && store.get(c.node).is_none() {
            continue;
        }
        names.push(c.name.to_owned());
    }
    names.join("/")
}
