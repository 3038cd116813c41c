//! Serialization of a SyncML message (replies, and the device's session opening).

use std::fmt::Write as _;

use quick_xml::escape::escape;

use super::model::{Command, Item, Meta, SyncMl, SYNCML_NAMESPACE};

/// Write `msg` as XML. Text is escaped; the output parses back to an equal message.
pub fn to_xml(msg: &SyncMl) -> String {
    let mut out = String::new();
    out.push_str(&format!("<SyncML xmlns=\"{SYNCML_NAMESPACE}\">"));
    if let Some(h) = &msg.header {
        out.push_str("<SyncHdr>");
        leaf(&mut out, "VerDTD", &h.ver_dtd);
        leaf(&mut out, "VerProto", &h.ver_proto);
        leaf(&mut out, "SessionID", &h.session_id);
        leaf(&mut out, "MsgID", &h.msg_id);
        loc(&mut out, "Target", h.target.as_deref());
        loc(&mut out, "Source", h.source.as_deref());
        out.push_str("</SyncHdr>");
    }
    out.push_str("<SyncBody>");
    for c in &msg.commands {
        command(&mut out, c);
    }
    if msg.final_flag {
        out.push_str("<Final/>");
    }
    out.push_str("</SyncBody></SyncML>");
    out
}

fn leaf(out: &mut String, name: &str, text: &str) {
    let _ = write!(out, "<{name}>{}</{name}>", escape(text));
}

fn loc(out: &mut String, name: &str, uri: Option<&str>) {
    if let Some(u) = uri {
        let _ = write!(out, "<{name}><LocURI>{}</LocURI></{name}>", escape(u));
    }
}

fn meta(out: &mut String, m: &Meta) {
    if m.format.is_none() && m.mime.is_none() {
        return;
    }
    out.push_str("<Meta>");
    if let Some(f) = &m.format {
        let _ = write!(
            out,
            "<Format xmlns=\"syncml:metinf\">{}</Format>",
            escape(f)
        );
    }
    if let Some(t) = &m.mime {
        let _ = write!(out, "<Type xmlns=\"syncml:metinf\">{}</Type>", escape(t));
    }
    out.push_str("</Meta>");
}

fn item(out: &mut String, it: &Item) {
    out.push_str("<Item>");
    loc(out, "Target", it.target.as_deref());
    loc(out, "Source", it.source.as_deref());
    meta(out, &it.meta);
    if let Some(d) = &it.data {
        leaf(out, "Data", d);
    }
    out.push_str("</Item>");
}

fn opt_id(out: &mut String, id: Option<&str>) {
    if let Some(id) = id {
        leaf(out, "CmdID", id);
    }
}

fn command(out: &mut String, c: &Command) {
    let name = c.name().to_owned();
    match c {
        Command::Item(ic) => {
            let _ = write!(out, "<{name}>");
            opt_id(out, ic.cmd_id.as_deref());
            meta(out, &ic.meta);
            for it in &ic.items {
                item(out, it);
            }
        }
        Command::Atomic(k) | Command::Sequence(k) => {
            let _ = write!(out, "<{name}>");
            opt_id(out, k.cmd_id.as_deref());
            for inner in &k.commands {
                command(out, inner);
            }
        }
        Command::Alert(a) => {
            out.push_str("<Alert>");
            opt_id(out, a.cmd_id.as_deref());
            if let Some(d) = &a.data {
                leaf(out, "Data", d);
            }
            for it in &a.items {
                item(out, it);
            }
        }
        Command::Status(s) => {
            out.push_str("<Status>");
            leaf(out, "CmdID", &s.cmd_id);
            leaf(out, "MsgRef", &s.msg_ref);
            leaf(out, "CmdRef", &s.cmd_ref);
            leaf(out, "Cmd", &s.cmd);
            if let Some(t) = &s.target_ref {
                leaf(out, "TargetRef", t);
            }
            leaf(out, "Data", &s.data);
        }
        Command::Results(r) => {
            out.push_str("<Results>");
            leaf(out, "CmdID", &r.cmd_id);
            leaf(out, "MsgRef", &r.msg_ref);
            leaf(out, "CmdRef", &r.cmd_ref);
            for it in &r.items {
                item(out, it);
            }
        }
        Command::Unknown(u) => {
            let _ = write!(out, "<{}>", escape(&u.name));
            opt_id(out, u.cmd_id.as_deref());
            let _ = write!(out, "</{}>", escape(&u.name));
            return;
        }
    }
    let _ = write!(out, "</{name}>");
}
