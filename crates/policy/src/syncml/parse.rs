//! From the element tree to the SyncML model.
//!
//! Message-level problems (not SyncML, no SyncBody, bad header) fail the whole parse with a
//! position. Command-level problems (an unknown element, a missing CmdID, MoreData) are kept
//! in the model so the engine can answer that one command with its status, as MS-MDM does.

use super::limits::Limits;
use super::model::{
    Alert, Command, CommandProblem, Container, Item, ItemCommand, ItemCommandKind, Meta, Results,
    StatusElement, SyncHdr, SyncMl, UnknownCommand, SYNCML_NAMESPACE,
};
use super::xml::{parse_tree, Element};
use crate::error::{PolicyError, Position};

/// Parse a SyncML message, enforcing `limits`.
pub fn parse_message(input: &str, limits: &Limits) -> Result<SyncMl, PolicyError> {
    let root = parse_tree(input, limits)?;
    let structure = |pos: usize, reason: String| PolicyError::SyncMlStructure {
        pos: Position::locate(input, pos),
        reason,
    };
    if root.name != "SyncML" {
        return Err(structure(
            root.pos,
            format!("root element is <{}>, not <SyncML>", root.name),
        ));
    }
    match &root.xmlns {
        Some(ns) if ns.eq_ignore_ascii_case(SYNCML_NAMESPACE) => {}
        other => {
            return Err(structure(
                root.pos,
                format!("<SyncML> namespace is {other:?}, expected {SYNCML_NAMESPACE:?}"),
            ))
        }
    }
    no_text(&root, input)?;
    let mut msg = SyncMl::default();
    let mut body_seen = false;
    for (i, child) in root.children.iter().enumerate() {
        match child.name.as_str() {
            "SyncHdr" if i == 0 => msg.header = Some(header(child, input)?),
            "SyncBody" if !body_seen => {
                body_seen = true;
                no_text(child, input)?;
                let mut counter = Counter {
                    n: 0,
                    limits,
                    input,
                };
                for c in &child.children {
                    if c.name == "Final" {
                        msg.final_flag = true;
                    } else {
                        msg.commands.push(command(c, &mut counter)?);
                    }
                }
            }
            other => {
                return Err(structure(
                    child.pos,
                    format!("unexpected <{other}> in <SyncML> (expected SyncHdr then SyncBody)"),
                ))
            }
        }
    }
    if !body_seen {
        return Err(structure(root.pos, "<SyncML> has no <SyncBody>".into()));
    }
    Ok(msg)
}

struct Counter<'a> {
    n: usize,
    limits: &'a Limits,
    input: &'a str,
}

impl Counter<'_> {
    fn bump(&mut self, at: usize) -> Result<(), PolicyError> {
        self.n += 1;
        if self.n > self.limits.max_commands {
            return Err(PolicyError::SyncMlLimit {
                pos: Position::locate(self.input, at),
                what: "number of commands",
                limit: self.limits.max_commands,
            });
        }
        Ok(())
    }
}

fn no_text(el: &Element, input: &str) -> Result<(), PolicyError> {
    if !el.children.is_empty() && !el.text.trim().is_empty() {
        return Err(PolicyError::SyncMlStructure {
            pos: Position::locate(input, el.pos),
            reason: format!("<{}> mixes text with elements", el.name),
        });
    }
    Ok(())
}

fn leaf_text(el: &Element, input: &str) -> Result<String, PolicyError> {
    if !el.children.is_empty() {
        return Err(PolicyError::SyncMlStructure {
            pos: Position::locate(input, el.pos),
            reason: format!("<{}> must contain text only", el.name),
        });
    }
    Ok(el.text.clone())
}

fn header(el: &Element, input: &str) -> Result<SyncHdr, PolicyError> {
    no_text(el, input)?;
    let structure = |reason: String| PolicyError::SyncMlStructure {
        pos: Position::locate(input, el.pos),
        reason,
    };
    let req = |name: &str| -> Result<String, PolicyError> {
        let c = el
            .child(name)
            .ok_or_else(|| structure(format!("<SyncHdr> has no <{name}>")))?;
        Ok(leaf_text(c, input)?.trim().to_owned())
    };
    let hdr = SyncHdr {
        ver_dtd: req("VerDTD")?,
        ver_proto: req("VerProto")?,
        session_id: req("SessionID")?,
        msg_id: req("MsgID")?,
        target: loc_uri(el.child("Target"), input)?,
        source: loc_uri(el.child("Source"), input)?,
        has_cred: el.child("Cred").is_some(),
    };
    if hdr.ver_dtd != "1.2" {
        return Err(structure(format!(
            "VerDTD {:?} is not supported (1.2)",
            hdr.ver_dtd
        )));
    }
    if hdr.ver_proto != "DM/1.2" {
        return Err(structure(format!(
            "VerProto {:?} is not supported (DM/1.2)",
            hdr.ver_proto
        )));
    }
    Ok(hdr)
}

fn loc_uri(el: Option<&Element>, input: &str) -> Result<Option<String>, PolicyError> {
    let Some(el) = el else { return Ok(None) };
    no_text(el, input)?;
    match el.child("LocURI") {
        Some(l) => Ok(Some(leaf_text(l, input)?.trim().to_owned())),
        None => Ok(None),
    }
}

fn cmd_id(el: &Element, input: &str) -> Result<Option<String>, PolicyError> {
    el.child("CmdID")
        .map(|c| leaf_text(c, input).map(|t| t.trim().to_owned()))
        .transpose()
}

fn text_of(el: &Element, name: &str, input: &str) -> Result<String, PolicyError> {
    Ok(el
        .child(name)
        .map(|c| leaf_text(c, input))
        .transpose()?
        .unwrap_or_default()
        .trim()
        .to_owned())
}

fn command(el: &Element, counter: &mut Counter<'_>) -> Result<Command, PolicyError> {
    let input = counter.input;
    counter.bump(el.pos)?;
    no_text(el, input)?;
    let kind = match el.name.as_str() {
        "Add" => Some(ItemCommandKind::Add),
        "Replace" => Some(ItemCommandKind::Replace),
        "Delete" => Some(ItemCommandKind::Delete),
        "Get" => Some(ItemCommandKind::Get),
        "Exec" => Some(ItemCommandKind::Exec),
        "Copy" => Some(ItemCommandKind::Copy),
        _ => None,
    };
    if let Some(kind) = kind {
        let mut cmd = ItemCommand {
            kind,
            cmd_id: cmd_id(el, input)?,
            meta: Meta::default(),
            items: Vec::new(),
            problem: None,
        };
        for c in &el.children {
            match c.name.as_str() {
                "CmdID" | "NoResp" | "Cred" => {}
                "Meta" => cmd.meta = meta(c, input)?,
                "Item" => {
                    if cmd.items.len() == counter.limits.max_items {
                        return Err(PolicyError::SyncMlLimit {
                            pos: Position::locate(input, c.pos),
                            what: "number of items in one command",
                            limit: counter.limits.max_items,
                        });
                    }
                    let (it, problem) = item(c, input)?;
                    if cmd.problem.is_none() {
                        cmd.problem = problem;
                    }
                    cmd.items.push(it);
                }
                other => {
                    if cmd.problem.is_none() {
                        cmd.problem = Some(CommandProblem::Malformed(format!(
                            "unexpected <{other}> in <{}>",
                            el.name
                        )));
                    }
                }
            }
        }
        return Ok(Command::Item(cmd));
    }
    Ok(match el.name.as_str() {
        "Atomic" | "Sequence" => {
            let mut commands = Vec::new();
            for c in &el.children {
                if !matches!(c.name.as_str(), "CmdID" | "Meta" | "NoResp") {
                    commands.push(command(c, counter)?);
                }
            }
            let container = Container {
                cmd_id: cmd_id(el, input)?,
                commands,
            };
            if el.name == "Atomic" {
                Command::Atomic(container)
            } else {
                Command::Sequence(container)
            }
        }
        "Alert" => {
            let mut items = Vec::new();
            for c in el.children.iter().filter(|c| c.name == "Item") {
                items.push(item(c, input)?.0);
            }
            Command::Alert(Alert {
                cmd_id: cmd_id(el, input)?,
                data: el
                    .child("Data")
                    .map(|d| leaf_text(d, input))
                    .transpose()?
                    .map(|d| d.trim().to_owned()),
                items,
            })
        }
        "Status" => Command::Status(StatusElement {
            cmd_id: text_of(el, "CmdID", input)?,
            msg_ref: text_of(el, "MsgRef", input)?,
            cmd_ref: text_of(el, "CmdRef", input)?,
            cmd: text_of(el, "Cmd", input)?,
            target_ref: el
                .child("TargetRef")
                .map(|t| leaf_text(t, input))
                .transpose()?
                .map(|t| t.trim().to_owned()),
            data: text_of(el, "Data", input)?,
        }),
        "Results" => {
            let mut items = Vec::new();
            for c in el.children.iter().filter(|c| c.name == "Item") {
                items.push(item(c, input)?.0);
            }
            Command::Results(Results {
                cmd_id: text_of(el, "CmdID", input)?,
                msg_ref: text_of(el, "MsgRef", input)?,
                cmd_ref: text_of(el, "CmdRef", input)?,
                items,
            })
        }
        other => Command::Unknown(UnknownCommand {
            name: other.to_owned(),
            cmd_id: cmd_id(el, input).ok().flatten(),
        }),
    })
}

fn meta(el: &Element, input: &str) -> Result<Meta, PolicyError> {
    no_text(el, input)?;
    Ok(Meta {
        format: el
            .child("Format")
            .map(|f| leaf_text(f, input))
            .transpose()?
            .map(|f| f.trim().to_owned()),
        mime: el
            .child("Type")
            .map(|t| leaf_text(t, input))
            .transpose()?
            .map(|t| t.trim().to_owned()),
    })
}

/// An item and, if it has one, the problem that makes its command unexecutable.
fn item(el: &Element, input: &str) -> Result<(Item, Option<CommandProblem>), PolicyError> {
    no_text(el, input)?;
    let mut it = Item::default();
    let mut problem = None;
    for c in &el.children {
        match c.name.as_str() {
            "Target" => it.target = loc_uri(Some(c), input)?,
            "Source" => it.source = loc_uri(Some(c), input)?,
            "Meta" => it.meta = meta(c, input)?,
            "Data" => {
                if !c.children.is_empty() {
                    problem.get_or_insert_with(|| {
                        CommandProblem::Unsupported(
                            "<Data> with element content (format xml)".into(),
                        )
                    });
                } else {
                    it.data = Some(c.text.clone());
                }
            }
            "MoreData" => {
                problem.get_or_insert_with(|| {
                    CommandProblem::Unsupported("MoreData (large object delivery)".into())
                });
            }
            other => {
                problem.get_or_insert_with(|| {
                    CommandProblem::Malformed(format!("unexpected <{other}> in <Item>"))
                });
            }
        }
    }
    Ok((it, problem))
}
