//! The device side of a policy session, kept small: the device opens the session with its
//! device information (OMA-DM Alert 1201 plus `./DevInfo` values), the service answers with
//! the policy as Replace commands, the device applies them with the same engine and returns
//! the statuses.

use crate::document::PolicyDocument;
use crate::error::{PolicyError, Position};
use crate::locuri::LocUri;
use crate::node::Scope;
use crate::syncml::{
    parse_message, Alert, Command, Item, ItemCommand, ItemCommandKind, Limits, Meta, SyncHdr,
    SyncMl,
};

/// The OMA-DM DevInfo values the device reports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceInfo {
    /// `./DevInfo/DevId`: the device id.
    pub dev_id: String,
    /// `./DevInfo/Man`: manufacturer.
    pub manufacturer: String,
    /// `./DevInfo/Mod`: model.
    pub model: String,
    /// `./DevInfo/Lang`: language, e.g. `en-US`.
    pub language: String,
    /// `./DevInfo/DmV`: the DM client version.
    pub dm_version: String,
}

const DEVINFO: [&str; 5] = ["DevId", "Man", "Mod", "Lang", "DmV"];

fn chr_item(uri: String, data: &str) -> Item {
    Item {
        source: Some(uri),
        meta: Meta {
            format: Some("chr".into()),
            mime: Some("text/plain".into()),
        },
        data: Some(data.to_owned()),
        ..Item::default()
    }
}

/// The device's first message: SyncHdr (MsgID 1, Source = DevId), Alert 1201 (client-
/// initiated management session), Replace of `./DevInfo/{DevId,Man,Mod,Lang,DmV}`, Final.
pub fn open_session(info: &DeviceInfo, session_id: &str, server_uri: &str) -> SyncMl {
    let values = [
        &info.dev_id,
        &info.manufacturer,
        &info.model,
        &info.language,
        &info.dm_version,
    ];
    SyncMl {
        header: Some(SyncHdr {
            ver_dtd: "1.2".into(),
            ver_proto: "DM/1.2".into(),
            session_id: session_id.to_owned(),
            msg_id: "1".into(),
            target: Some(server_uri.to_owned()),
            source: Some(info.dev_id.clone()),
            has_cred: false,
        }),
        commands: vec![
            Command::Alert(Alert {
                cmd_id: Some("1".into()),
                data: Some("1201".into()),
                items: Vec::new(),
            }),
            Command::Item(ItemCommand {
                kind: ItemCommandKind::Replace,
                cmd_id: Some("2".into()),
                meta: Meta::default(),
                items: DEVINFO
                    .iter()
                    .zip(values)
                    .map(|(n, v)| chr_item(format!("./DevInfo/{n}"), v))
                    .collect(),
                problem: None,
            }),
        ],
        final_flag: true,
    }
}

/// The service side: read the DevInfo a device sent in its opening message.
pub fn read_device_info(msg: &SyncMl) -> Option<DeviceInfo> {
    let mut info = DeviceInfo::default();
    let mut found = false;
    for c in &msg.commands {
        let Command::Item(ic) = c else { continue };
        for it in &ic.items {
            let uri = it.source.as_deref().or(it.target.as_deref()).unwrap_or("");
            let Some(name) = uri.trim().strip_prefix("./DevInfo/") else {
                continue;
            };
            let v = it.data.clone().unwrap_or_default();
            found = true;
            match name {
                "DevId" => info.dev_id = v,
                "Man" => info.manufacturer = v,
                "Mod" => info.model = v,
                "Lang" => info.language = v,
                "DmV" => info.dm_version = v,
                _ => {}
            }
        }
    }
    (found && !info.dev_id.is_empty()).then_some(info)
}

/// The service side: the commands that bring a device's copy of the policy to `doc`: one
/// `Replace` per set leaf, in both scopes, numbered from `first_cmd_id`.
pub fn policy_commands(doc: &PolicyDocument, first_cmd_id: u32) -> Vec<Command> {
    let mut out = Vec::new();
    let mut id = first_cmd_id;
    for scope in [Scope::Device, Scope::User] {
        for (node, value) in &doc.store(scope).values {
            let loc = LocUri {
                scope,
                tenant: node.under_tenant().then_some(doc.tenant()),
                node: *node,
            };
            out.push(Command::Item(ItemCommand {
                kind: ItemCommandKind::Replace,
                cmd_id: Some(id.to_string()),
                meta: Meta::default(),
                items: vec![Item {
                    target: Some(loc.to_uri()),
                    meta: Meta {
                        format: Some(value.format().as_str().into()),
                        mime: Some("text/plain".into()),
                    },
                    data: Some(value.to_data()),
                    ..Item::default()
                }],
                problem: None,
            }));
            id = id.saturating_add(1);
        }
    }
    out
}

/// The device side: parse the service's reply. Unlike an administrator's command file, a
/// session message must carry its SyncHdr.
pub fn parse_server_message(xml: &str, limits: &Limits) -> Result<SyncMl, PolicyError> {
    let msg = parse_message(xml, limits)?;
    if msg.header.is_none() {
        return Err(PolicyError::SyncMlStructure {
            pos: Position::locate(xml, 0),
            reason: "a session message must have a SyncHdr".into(),
        });
    }
    Ok(msg)
}
