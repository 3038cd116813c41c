//! The pure SyncML command engine: apply a parsed message to a tenant's policy document.
//!
//! What each case returns (MS-MDM / OMA-DM 1.2 status codes):
//!
//! | case | status |
//! |---|---|
//! | done | 200 |
//! | no CmdID; an element that is no OMA-DM command; an item without Target; a malformed LocURI; a `{TenantId}` that is not a GUID; Add/Replace of a leaf without Data; a value of the right type outside the node's range | 400 |
//! | unauthenticated session (SyncHdr status; commands get 215) | 401 |
//! | a LocURI naming another tenant; a write in a read-only session | 403 |
//! | unknown node; a device-only node under `./User`; Get/Delete of a node that is not set | 404 |
//! | a command the node does not support (Add/Replace/Delete on a permanent interior node, Replace on the tenant node, any Exec) | 405 |
//! | Copy; a LocURI query (`?list=`, `?prop=`); MoreData; an Alert other than 1200/1201 | 406 |
//! | `Meta/Format` other than the node's (absent = `chr`); data unreadable as that format; `Meta/Type` other than `text/plain` | 415 |
//! | Add of a node already present | 418 |
//! | Get or Atomic inside Atomic ("Nested Atomic and Get commands aren't allowed and generate error code 500"); version counter exhausted | 500 |
//! | Atomic with any failed command: the Atomic gets 507, the failed commands their own code, the others 216 (rolled back), and nothing inside is applied | 507 |
//!
//! Decision on out-of-range values: 400, not 500. The command is well-formed but its data is
//! invalid for the node; MS-MDM reports bad data with 4xx codes, and 500 stays what MS-MDM
//! makes it, the generic "could not complete" (used here for Get/Atomic inside Atomic).
//! The precise reason is in each [`CommandOutcome::error`] with its LK-POL code.
//!
//! Replace of an unset leaf creates it, and Add/Replace below a missing `{TenantId}` node
//! creates that node (MS-MDM: "Add (Implicit Add supported)").

mod item;

use serde::{Deserialize, Serialize};

use crate::document::PolicyDocument;
use crate::error::PolicyError;
use crate::node::{Op, Scope};
use crate::syncml::{
    Command, CommandProblem, ItemCommand, ItemCommandKind, Results, StatusCode, StatusElement,
    SyncHdr, SyncMl,
};
use crate::tenant::TenantId;
use item::{exec_item, resolve, ItemOk};

/// What the session may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Add, Replace, Delete and Get.
    ReadWrite,
    /// Get only; writes get 403.
    ReadOnly,
}

/// Who is asking, and for which tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// The tenant whose policy this session manages.
    pub tenant: TenantId,
    /// Whether the transport authenticated the sender. If not, nothing is executed.
    pub authenticated: bool,
    /// What the sender may do.
    pub access: Access,
}

/// The result of one command (or one item of a command).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutcome {
    /// The command's CmdID (`None` when it had none).
    pub cmd_id: Option<String>,
    /// The command's element name.
    pub cmd: String,
    /// The item's LocURI, for item commands.
    pub target: Option<String>,
    /// The status sent back.
    pub status: StatusCode,
    /// Why, when it is not 200.
    pub error: Option<PolicyError>,
}

/// One change made to the document, for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The scope changed.
    pub scope: Scope,
    /// The canonical LocURI.
    pub uri: String,
    /// The previous value (`None`: not set; `(node)` for the tenant node).
    pub before: Option<String>,
    /// The new value (`None`: deleted).
    pub after: Option<String>,
}

/// The result of applying a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The document after the message (the input unchanged, version included, when nothing
    /// changed; otherwise version + 1).
    pub document: PolicyDocument,
    /// The reply to send: SyncHdr status, one Status per command (per item), Results per Get.
    pub reply: SyncMl,
    /// Every Status, in reply order, with its reason.
    pub outcomes: Vec<CommandOutcome>,
    /// The changes applied, in order.
    pub changes: Vec<Change>,
}

impl Applied {
    /// Outcomes of commands that named another tenant: the caller decides what to do with
    /// them; this tenant's policy was not touched by them.
    pub fn foreign_tenant_commands(&self) -> impl Iterator<Item = &CommandOutcome> {
        self.outcomes
            .iter()
            .filter(|o| matches!(o.error, Some(PolicyError::ForeignTenant { .. })))
    }
}

enum Entry {
    Status(Box<(StatusElement, CommandOutcome)>),
    Results(Results),
}

struct Run<'a> {
    session: &'a Session,
    msg_ref: String,
    entries: Vec<Entry>,
    changes: Vec<Change>,
}

/// Apply `msg` to `doc` for `session`. Pure: the input document is not modified.
///
/// A message without SyncHdr (as in Microsoft's examples, the seed's included) is answered
/// as MsgID 1 of session 0; its header status is 200.
pub fn apply(doc: &PolicyDocument, msg: &SyncMl, session: &Session) -> Applied {
    let msg_ref = msg
        .header
        .as_ref()
        .map_or_else(|| "1".to_owned(), |h| h.msg_id.clone());
    let mut run = Run {
        session,
        msg_ref,
        entries: Vec::new(),
        changes: Vec::new(),
    };
    let mut work = doc.clone();
    let header_code = if session.authenticated {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    };
    if session.authenticated {
        run.commands(&mut work, &msg.commands, false);
    } else {
        for c in &msg.commands {
            run.not_executed(c, "the session is not authenticated");
        }
    }
    let document = if run.changes.is_empty() {
        doc.clone()
    } else {
        // exec_item refused every write when the version could not be bumped.
        let v = doc.next_version().unwrap_or(u64::MAX);
        work.set_version(v);
        work
    };
    let (reply, outcomes) = run.finish(msg.header.as_ref(), header_code);
    Applied {
        document,
        reply,
        outcomes,
        changes: run.changes,
    }
}

impl Run<'_> {
    fn status(
        &mut self,
        cmd_id: Option<&str>,
        cmd: &str,
        target: Option<&str>,
        r: Result<(), PolicyError>,
    ) {
        let (status, error) = match r {
            Ok(()) => (StatusCode::OK, None),
            Err(e) => (
                e.syncml_status().unwrap_or(StatusCode::COMMAND_FAILED),
                Some(e),
            ),
        };
        let target = target.map(|t| t.trim().to_owned());
        self.entries.push(Entry::Status(Box::new((
            StatusElement {
                cmd_id: String::new(),
                msg_ref: self.msg_ref.clone(),
                cmd_ref: cmd_id.unwrap_or_default().to_owned(),
                cmd: cmd.to_owned(),
                target_ref: target.clone(),
                data: status.0.to_string(),
            },
            CommandOutcome {
                cmd_id: cmd_id.map(str::to_owned),
                cmd: cmd.to_owned(),
                target,
                status,
                error,
            },
        ))));
    }

    fn not_executed(&mut self, c: &Command, reason: &'static str) {
        if matches!(c, Command::Status(_) | Command::Results(_)) {
            return;
        }
        self.status(
            c.cmd_id(),
            c.name(),
            None,
            Err(PolicyError::NotExecuted { reason }),
        );
        if let Command::Atomic(k) | Command::Sequence(k) = c {
            for inner in &k.commands {
                self.not_executed(inner, reason);
            }
        }
    }

    fn commands(&mut self, doc: &mut PolicyDocument, cmds: &[Command], in_atomic: bool) {
        for c in cmds {
            self.command(doc, c, in_atomic);
        }
    }

    fn command(&mut self, doc: &mut PolicyDocument, c: &Command, in_atomic: bool) {
        // Status and Results answer our earlier messages: they get no Status of their own.
        if matches!(c, Command::Status(_) | Command::Results(_)) {
            return;
        }
        let name = c.name().to_owned();
        let Some(id) = c.cmd_id().filter(|id| !id.is_empty()).map(str::to_owned) else {
            self.status(
                None,
                &name,
                None,
                Err(PolicyError::MissingCmdId { cmd: name.clone() }),
            );
            if let Command::Atomic(k) | Command::Sequence(k) = c {
                for inner in &k.commands {
                    self.not_executed(inner, "the enclosing command has no CmdID");
                }
            }
            return;
        };
        let id = Some(id.as_str());
        match c {
            Command::Unknown(u) => self.status(
                id,
                &name,
                None,
                Err(PolicyError::UnknownCommand {
                    name: u.name.clone(),
                }),
            ),
            Command::Alert(a) => {
                let r = match (in_atomic, a.data.as_deref()) {
                    (true, _) => Err(PolicyError::NotAllowedInAtomic { cmd: "Alert" }),
                    (false, Some("1200" | "1201")) => Ok(()),
                    (false, other) => Err(PolicyError::OptionalFeatureNotSupported {
                        feature: format!("Alert {}", other.unwrap_or("without Data")),
                    }),
                };
                self.status(id, &name, None, r);
            }
            Command::Sequence(k) => {
                self.status(id, &name, None, Ok(()));
                self.commands(doc, &k.commands, in_atomic);
            }
            Command::Atomic(k) if in_atomic => {
                self.status(
                    id,
                    &name,
                    None,
                    Err(PolicyError::NotAllowedInAtomic { cmd: "Atomic" }),
                );
                for inner in &k.commands {
                    self.not_executed(inner, "inside a nested Atomic");
                }
            }
            Command::Atomic(k) => self.atomic(doc, id, &k.commands),
            Command::Item(ic) => self.item_command(doc, id, ic, in_atomic),
            Command::Status(_) | Command::Results(_) => {}
        }
    }

    fn atomic(&mut self, doc: &mut PolicyDocument, id: Option<&str>, cmds: &[Command]) {
        let start = self.entries.len();
        let changes_before = self.changes.len();
        let mut scratch = doc.clone();
        self.commands(&mut scratch, cmds, true);
        let failed = self.entries.iter().skip(start).any(|e| match e {
            Entry::Status(b) => b.0.data != "200",
            Entry::Results(_) => false,
        });
        if failed {
            for e in self.entries.iter_mut().skip(start) {
                if let Entry::Status(b) = e {
                    let (s, o) = &mut **b;
                    if o.status == StatusCode::OK {
                        o.status = StatusCode::ATOMIC_ROLLBACK_OK;
                        s.data = o.status.0.to_string();
                    }
                }
            }
            self.changes.truncate(changes_before);
        } else {
            *doc = scratch;
        }
        let inner: Vec<Entry> = self.entries.drain(start..).collect();
        let r = if failed {
            Err(StatusCode::ATOMIC_FAILED)
        } else {
            Ok(())
        };
        self.status(id, "Atomic", None, Ok(()));
        if let (Err(code), Some(Entry::Status(b))) = (r, self.entries.last_mut()) {
            let (s, o) = &mut **b;
            s.data = code.0.to_string();
            o.status = code;
            o.error = Some(PolicyError::NotExecuted {
                reason: "a command inside the Atomic failed; everything in it was rolled back",
            });
        }
        self.entries.extend(inner);
    }

    fn item_command(
        &mut self,
        doc: &mut PolicyDocument,
        id: Option<&str>,
        ic: &ItemCommand,
        in_atomic: bool,
    ) {
        let name = ic.kind.as_str();
        let first_target = ic.items.first().and_then(|i| i.target.as_deref());
        let early = match (&ic.problem, ic.kind) {
            (Some(CommandProblem::Malformed(why)), _) => Some(PolicyError::MalformedCommand {
                reason: why.clone(),
            }),
            (Some(CommandProblem::Unsupported(why)), _) => {
                Some(PolicyError::OptionalFeatureNotSupported {
                    feature: why.clone(),
                })
            }
            (None, _) if ic.items.is_empty() => Some(PolicyError::MissingTarget {
                cmd: name,
                reason: "command has no Item",
            }),
            (None, ItemCommandKind::Get) if in_atomic => {
                Some(PolicyError::NotAllowedInAtomic { cmd: "Get" })
            }
            (None, ItemCommandKind::Copy) => Some(PolicyError::OptionalFeatureNotSupported {
                feature: "Copy".into(),
            }),
            _ => None,
        };
        if let Some(e) = early {
            self.status(id, name, first_target, Err(e));
            return;
        }
        let op = match ic.kind {
            ItemCommandKind::Add => Op::Add,
            ItemCommandKind::Replace => Op::Replace,
            ItemCommandKind::Delete => Op::Delete,
            ItemCommandKind::Get => Op::Get,
            ItemCommandKind::Exec | ItemCommandKind::Copy => {
                for it in &ic.items {
                    let r = it
                        .target
                        .as_deref()
                        .ok_or(PolicyError::MissingTarget {
                            cmd: "Exec",
                            reason: "Item has no Target/LocURI",
                        })
                        .and_then(|t| resolve(t, self.session.tenant))
                        .and_then(|loc| {
                            Err(PolicyError::OperationNotAllowed {
                                node: loc.node.to_string(),
                                op: "Exec",
                                supported: loc.node.spec().ops.to_string(),
                            })
                        });
                    self.status(id, name, it.target.as_deref(), r);
                }
                return;
            }
        };
        let mut results = Vec::new();
        for it in &ic.items {
            let r = exec_item(
                doc,
                op,
                it,
                &ic.meta,
                self.session.tenant,
                self.session.access,
            );
            let r = r.map(|ok| match ok {
                ItemOk::Written(change) => self.changes.push(change),
                ItemOk::Value(v) => results.push(v),
            });
            self.status(id, name, it.target.as_deref(), r);
        }
        if !results.is_empty() {
            self.entries.push(Entry::Results(Results {
                cmd_id: String::new(),
                msg_ref: self.msg_ref.clone(),
                cmd_ref: id.unwrap_or_default().to_owned(),
                items: results,
            }));
        }
    }

    fn finish(
        &mut self,
        hdr: Option<&SyncHdr>,
        header_code: StatusCode,
    ) -> (SyncMl, Vec<CommandOutcome>) {
        let mut commands = Vec::new();
        let mut outcomes = Vec::new();
        let mut next = 1u64;
        let mut id = || {
            let s = next.to_string();
            next += 1;
            s
        };
        commands.push(Command::Status(StatusElement {
            cmd_id: id(),
            msg_ref: self.msg_ref.clone(),
            cmd_ref: "0".into(),
            cmd: "SyncHdr".into(),
            target_ref: None,
            data: header_code.0.to_string(),
        }));
        for e in self.entries.drain(..) {
            match e {
                Entry::Status(b) => {
                    let (mut s, o) = *b;
                    s.cmd_id = id();
                    commands.push(Command::Status(s));
                    outcomes.push(o);
                }
                Entry::Results(mut r) => {
                    r.cmd_id = id();
                    commands.push(Command::Results(r));
                }
            }
        }
        let header = SyncHdr {
            ver_dtd: "1.2".into(),
            ver_proto: "DM/1.2".into(),
            session_id: hdr.map_or_else(|| "0".into(), |h| h.session_id.clone()),
            msg_id: self.msg_ref.clone(),
            target: hdr.and_then(|h| h.source.clone()),
            source: hdr.and_then(|h| h.target.clone()),
            has_cred: false,
        };
        (
            SyncMl {
                header: Some(header),
                commands,
                final_flag: true,
            },
            outcomes,
        )
    }
}
