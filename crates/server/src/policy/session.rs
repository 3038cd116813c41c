//! The service's side of a device policy session (OMA-DM 1.2, MS-MDM's client-initiated
//! management session), in two messages:
//!
//! 1. device → service: SyncHdr (SessionID chosen by the device, MsgID 1, Source = device
//!    id), `Alert` 1201, `Replace` of `./DevInfo/*` (DevId must be the device id);
//!    service → device: SyncHdr (MsgID 1), Status for the SyncHdr and for each command,
//!    then one `Replace` per configured effective setting (the complete effective
//!    configuration: a node not named is at its default), `Final`.
//! 2. device → service: SyncHdr (same SessionID, MsgID 2), one Status per `Replace`;
//!    service → device: SyncHdr (MsgID 2), Status for the SyncHdr, `Final`: the end.
//!
//! A setting whose source is user Group Policy or user CSP is sent under `./User/...` when
//! the node exists there, everything else under `./Device/...`; the device's engine then
//! computes the same effective policy from them.

use latchkey_policy::device::read_device_info;
use latchkey_policy::effective::Effective;
use latchkey_policy::locuri::LocUri;
use latchkey_policy::syncml::{
    Command, Item, ItemCommand, ItemCommandKind, Meta, StatusCode, StatusElement, SyncHdr, SyncMl,
};
use latchkey_policy::{EffectivePolicy, Node, Scope, Source, TenantId, Value};

/// The service's LocURI in replies (`SyncHdr/Source`).
pub const SERVER_URI: &str = "/v1/policy/session";

fn scope_for(source: Source, node: Node) -> Scope {
    let user_source = matches!(source, Source::UserGpo | Source::UserCsp);
    if user_source && node.spec().scopes.contains(Scope::User) {
        Scope::User
    } else {
        Scope::Device
    }
}

/// `(node, value, source)` of every configured effective setting.
pub fn configured(p: &EffectivePolicy) -> Vec<(Node, Value, Source)> {
    let mut out = Vec::new();
    let mut b = |node, e: &Effective<bool>| {
        if e.is_configured() {
            out.push((node, Value::Bool(e.value), e.source));
        }
    };
    b(Node::UsePassportForWork, &p.use_passport_for_work);
    b(Node::RequireSecurityDevice, &p.require_security_device);
    b(Node::Tpm12, &p.exclude_tpm12);
    b(Node::EnablePinRecovery, &p.enable_pin_recovery);
    b(
        Node::UseCertificateForOnPremAuth,
        &p.use_certificate_for_on_prem_auth,
    );
    b(Node::UseRemotePassport, &p.use_remote_passport);
    b(
        Node::UseHelloCertificatesAsSmartCardCertificates,
        &p.use_hello_certificates_as_smart_card_certificates,
    );
    b(Node::BiometricsUseBiometrics, &p.use_biometrics);
    b(
        Node::FacialFeaturesUseEnhancedAntiSpoofing,
        &p.facial_features_use_enhanced_anti_spoofing,
    );
    b(Node::DynamicLockEnabled, &p.dynamic_lock);
    let pin = &p.pin;
    let ints = [
        (Node::MinimumPinLength, pin.min_length.map_value(i64::from)),
        (Node::MaximumPinLength, pin.max_length.map_value(i64::from)),
        (
            Node::UppercaseLetters,
            pin.uppercase.map_value(|c| c.to_int()),
        ),
        (
            Node::LowercaseLetters,
            pin.lowercase.map_value(|c| c.to_int()),
        ),
        (
            Node::SpecialCharacters,
            pin.special.map_value(|c| c.to_int()),
        ),
        (Node::Digits, pin.digits.map_value(|c| c.to_int())),
        (Node::History, pin.history.map_value(i64::from)),
        (Node::Expiration, pin.expiration_days.map_value(i64::from)),
        (
            Node::UseSecurityKeyForSignin,
            p.use_security_key_for_signin.map_value(i64::from),
        ),
    ];
    for (node, e) in ints {
        if e.is_configured() {
            out.push((node, Value::Int(e.value), e.source));
        }
    }
    for (node, e) in [
        (Node::DeviceUnlockGroupA, &p.device_unlock_group_a),
        (Node::DeviceUnlockGroupB, &p.device_unlock_group_b),
        (Node::DeviceUnlockPlugins, &p.device_unlock_plugins),
        (Node::DynamicLockPlugins, &p.dynamic_lock_plugins),
    ] {
        if let (true, Some(v)) = (e.is_configured(), &e.value) {
            out.push((node, Value::Chr(v.clone()), e.source));
        }
    }
    out
}

trait MapValue<T> {
    fn map_value<U>(&self, f: impl Fn(T) -> U) -> Effective<U>;
}

impl<T: Copy> MapValue<T> for Effective<T> {
    fn map_value<U>(&self, f: impl Fn(T) -> U) -> Effective<U> {
        Effective {
            value: f(self.value),
            source: self.source,
        }
    }
}

/// One `Replace` per configured effective setting, CmdIDs from `first`.
pub fn policy_commands(tenant: TenantId, p: &EffectivePolicy, first: u32) -> Vec<Command> {
    configured(p)
        .into_iter()
        .zip(first..)
        .map(|((node, value, source), id)| {
            let loc = LocUri {
                scope: scope_for(source, node),
                tenant: node.under_tenant().then_some(tenant),
                node,
            };
            Command::Item(ItemCommand {
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
            })
        })
        .collect()
}

/// Why a device's session message is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionProblem {
    /// Message 1 lacks something.
    #[error("{0}")]
    Malformed(&'static str),
}

/// What the device said in its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceMessage {
    /// Message 1: the session opens.
    Open {
        /// The SessionID.
        session_id: String,
    },
    /// Message 2: the device's statuses.
    Statuses {
        /// The SessionID.
        session_id: String,
        /// The device's MsgID.
        msg_id: String,
        /// Statuses for our commands (the SyncHdr status excluded).
        total: usize,
        /// How many of them are not 2xx.
        failed: usize,
    },
}

/// Reads a device's session message, checking that it is about `device_id`.
pub fn classify(msg: &SyncMl, device_id: &str) -> Result<DeviceMessage, SessionProblem> {
    let hdr = msg.header.as_ref().ok_or(SessionProblem::Malformed(
        "a session message must have a SyncHdr",
    ))?;
    if hdr.session_id.trim().is_empty() || hdr.session_id.len() > 64 {
        return Err(SessionProblem::Malformed(
            "SessionID must be 1 to 64 characters",
        ));
    }
    if hdr.source.as_deref().map(str::trim) != Some(device_id) {
        return Err(SessionProblem::Malformed(
            "SyncHdr/Source/LocURI must be the device id",
        ));
    }
    let statuses: Vec<&StatusElement> = msg
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::Status(s) if s.cmd_ref != "0" => Some(s),
            _ => None,
        })
        .collect();
    let opens = msg
        .commands
        .iter()
        .any(|c| matches!(c, Command::Alert(a) if a.data.as_deref() == Some("1201")));
    if opens {
        let info = read_device_info(msg).ok_or(SessionProblem::Malformed(
            "message 1 must report ./DevInfo/DevId",
        ))?;
        if info.dev_id.trim() != device_id {
            return Err(SessionProblem::Malformed(
                "./DevInfo/DevId must be the device id",
            ));
        }
        return Ok(DeviceMessage::Open {
            session_id: hdr.session_id.clone(),
        });
    }
    if statuses.is_empty() && !msg.commands.iter().any(|c| matches!(c, Command::Status(_))) {
        return Err(SessionProblem::Malformed(
            "expected Alert 1201 (message 1) or the Statuses of message 2",
        ));
    }
    let failed = statuses
        .iter()
        .filter(|s| {
            s.data
                .trim()
                .parse::<u16>()
                .map_or(true, |c| !StatusCode(c).is_success())
        })
        .count();
    Ok(DeviceMessage::Statuses {
        session_id: hdr.session_id.clone(),
        msg_id: hdr.msg_id.clone(),
        total: statuses.len(),
        failed,
    })
}

/// A reply header and the SyncHdr status (code 200: the transport authenticated the device).
fn reply_head(req: &SyncMl, device_id: &str) -> (SyncHdr, Vec<Command>) {
    let (session_id, msg_ref) = req
        .header
        .as_ref()
        .map(|h| (h.session_id.clone(), h.msg_id.clone()))
        .unwrap_or_default();
    let header = SyncHdr {
        ver_dtd: "1.2".into(),
        ver_proto: "DM/1.2".into(),
        session_id,
        msg_id: msg_ref.clone(),
        target: Some(device_id.to_owned()),
        source: Some(SERVER_URI.to_owned()),
        has_cred: false,
    };
    let status = Command::Status(StatusElement {
        cmd_id: "1".into(),
        msg_ref,
        cmd_ref: "0".into(),
        cmd: "SyncHdr".into(),
        target_ref: None,
        data: StatusCode::OK.0.to_string(),
    });
    (header, vec![status])
}

/// The reply to message 1: statuses for the device's commands, then the policy.
pub fn open_reply(
    req: &SyncMl,
    device_id: &str,
    tenant: TenantId,
    policy: &EffectivePolicy,
) -> SyncMl {
    let (header, mut commands) = reply_head(req, device_id);
    let msg_ref = header.msg_id.clone();
    let mut next = 2u32;
    for c in &req.commands {
        let targets: Vec<Option<String>> = match c {
            Command::Item(ic) => ic.items.iter().map(|i| i.target.clone()).collect(),
            Command::Status(_) | Command::Results(_) => continue,
            _ => vec![None],
        };
        for target in targets {
            commands.push(Command::Status(StatusElement {
                cmd_id: next.to_string(),
                msg_ref: msg_ref.clone(),
                cmd_ref: c.cmd_id().unwrap_or_default().to_owned(),
                cmd: c.name().to_owned(),
                target_ref: target,
                data: StatusCode::OK.0.to_string(),
            }));
            next = next.saturating_add(1);
        }
    }
    commands.extend(policy_commands(tenant, policy, next));
    SyncMl {
        header: Some(header),
        commands,
        final_flag: true,
    }
}

/// The reply to message 2: the SyncHdr status only; the session ends.
pub fn close_reply(req: &SyncMl, device_id: &str) -> SyncMl {
    let (header, commands) = reply_head(req, device_id);
    SyncMl {
        header: Some(header),
        commands,
        final_flag: true,
    }
}
