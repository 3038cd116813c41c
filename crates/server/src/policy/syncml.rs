//! Applying an administrator's SyncML message to the tenant's CSP layer.
//!
//! The message is parsed with the policy crate's limits, executed by its engine against the
//! stored document, and the result saved in one transaction that also bumps the policy
//! version and writes the audit line. A concurrent change makes the save fail; the message
//! is then executed again on the new document (optimistic concurrency), so the statuses
//! always describe what was stored.

use latchkey_policy::engine::{Change, CommandOutcome};
use latchkey_policy::syncml::{parse_message, to_xml, Limits};
use latchkey_policy::{apply, Access, Session};

use super::{csp, tenant_id, PolicyServiceError};
use crate::audit::{self, event};
use crate::storage::policy::Versioned;
use crate::storage::Storage;

/// Longest audit note (characters); the list of changes is cut there.
const MAX_NOTE: usize = 4000;
/// How often a message is re-executed after a concurrent change.
const ATTEMPTS: usize = 5;

/// Who sent a message, for the audit trail.
#[derive(Debug, Clone, Default)]
pub struct Sender {
    /// `admin` or `admin-token:<id>`.
    pub actor: String,
    /// The source address, when it came over HTTP.
    pub source: Option<String>,
}

/// The result of one administrator's message.
#[derive(Debug, Clone)]
pub struct SyncMlReport {
    /// The reply (SyncML XML).
    pub reply: String,
    /// Every Status, in reply order, with its reason.
    pub outcomes: Vec<CommandOutcome>,
    /// The changes made.
    pub changes: Vec<Change>,
    /// The policy version after the message.
    pub version: i64,
}

/// Parses and applies `xml` for the tenant; `upn` selects whose `./User` scope the message
/// addresses (`None`: the all-users user scope).
pub async fn apply_message(
    storage: &dyn Storage,
    tenant: &str,
    xml: &str,
    upn: Option<&str>,
    sender: &Sender,
    now: i64,
) -> Result<SyncMlReport, PolicyServiceError> {
    apply_message_checked(storage, tenant, xml, upn, sender, now, false).await
}

/// Why a message is refused as a whole under `latchkeyd policy apply`: a command's value is
/// outside its node's range, or the PIN length pair of a scope would be broken afterwards.
fn out_of_bounds(applied: &latchkey_policy::engine::Applied) -> Option<String> {
    for o in &applied.outcomes {
        if let Some(latchkey_policy::PolicyError::ValueOutOfRange {
            node,
            value,
            allowed,
        }) = &o.error
        {
            let name = node.rsplit('/').next().unwrap_or(node);
            let bound = match allowed.split_once("..=") {
                Some((lo, hi)) => format!("between {lo} and {hi}"),
                None => format!("one of {allowed}"),
            };
            return Some(format!(
                "{name} must be {bound} (not {value}; CmdID {})",
                o.cmd_id.as_deref().unwrap_or("-")
            ));
        }
    }
    [latchkey_policy::Scope::Device, latchkey_policy::Scope::User]
        .into_iter()
        .find_map(|scope| {
            let pin = applied.document.settings(scope).pin;
            latchkey_policy::pin::length_bounds_error(pin.min_length, pin.max_length)
        })
}

/// [`apply_message`]; with `refuse_out_of_bounds` (the command line), a message with a
/// value outside its CSP's bounds, or leaving a maximum PIN length below the minimum, is
/// refused whole ([`PolicyServiceError::OutOfBounds`]) and nothing is stored.
pub async fn apply_message_checked(
    storage: &dyn Storage,
    tenant: &str,
    xml: &str,
    upn: Option<&str>,
    sender: &Sender,
    now: i64,
    refuse_out_of_bounds: bool,
) -> Result<SyncMlReport, PolicyServiceError> {
    let tid = tenant_id(tenant)?;
    let msg = parse_message(xml, &Limits::default()).map_err(PolicyServiceError::Malformed)?;
    let upn = upn.map(super::normalise_upn).filter(|u| !u.is_empty());
    if let Some(u) = &upn {
        if storage.user_by_upn(tenant, u).await?.is_none() {
            return Err(PolicyServiceError::Invalid(format!("no user {u}")));
        }
    }
    let session = Session {
        tenant: tid,
        authenticated: true,
        access: Access::ReadWrite,
    };
    for _ in 0..ATTEMPTS {
        let snap = storage.load_csp(tenant, upn.as_deref()).await?;
        let doc = csp::document(tid, &snap, upn.as_deref())?;
        let applied = apply(&doc, &msg, &session);
        if refuse_out_of_bounds {
            if let Some(why) = out_of_bounds(&applied) {
                return Err(PolicyServiceError::OutOfBounds(format!(
                    "{why}; nothing was stored"
                )));
            }
        }
        let report = |version| SyncMlReport {
            reply: to_xml(&applied.reply),
            outcomes: applied.outcomes.clone(),
            changes: applied.changes.clone(),
            version,
        };
        if applied.changes.is_empty() {
            return Ok(report(snap.version));
        }
        let writes = csp::writes(&applied.document, upn.as_deref());
        let mut line = audit::line(event::POLICY_CHANGE, now)
            .actor(&sender.actor)
            .note(note(snap.version + 1, upn.as_deref(), &applied.changes));
        line.source = sender.source.clone();
        match storage
            .save_csp(tenant, snap.version, &writes, &line, now)
            .await?
        {
            Versioned::Changed { version, .. } => return Ok(report(version)),
            Versioned::Unchanged => continue,
        }
    }
    Err(PolicyServiceError::Invalid(
        "the policy kept changing while this message was applied; send it again".into(),
    ))
}

fn note(version: i64, upn: Option<&str>, changes: &[Change]) -> String {
    let mut out = format!("v{version}");
    if let Some(u) = upn {
        out.push_str(&format!(" user scope of {u}"));
    }
    for c in changes {
        let piece = format!(
            "; {} {} -> {}",
            c.uri,
            c.before.as_deref().unwrap_or("(unset)"),
            c.after.as_deref().unwrap_or("(deleted)")
        );
        if out.len() + piece.len() > MAX_NOTE {
            out.push_str("; ...");
            break;
        }
        out.push_str(&piece);
    }
    out
}
