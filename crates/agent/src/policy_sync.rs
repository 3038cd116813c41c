//! Receiving policy: the device's side of the SyncML policy session, then the effective
//! policy as JSON for the source of each setting.
//!
//! 1. Message 1 (`latchkey_policy::device::open_session`): Alert 1201 and `./DevInfo`.
//! 2. Reply 1: the complete effective configuration as `Replace` commands. The device
//!    applies them with the policy crate's engine to an empty document, computes the
//!    effective policy from it, and returns in message 2 a Status for the reply's SyncHdr
//!    (CmdRef 0) and one per command.
//! 3. `POST /v1/policy/effective`: the same policy with the source of every setting (the
//!    session only says device or user scope). When both name the same version their values
//!    must agree; the JSON one (values and sources) is stored.
//!
//! Nothing is stored unless every step succeeded: a failed sync leaves the last policy.

use latchkey_policy::device::{open_session, parse_server_message, DeviceInfo};
use latchkey_policy::engine::{apply, Access, Session};
use latchkey_policy::syncml::{to_xml, Command, Limits, StatusCode, SyncHdr, SyncMl};
use latchkey_policy::{EffectivePolicy, PolicyDocument, PolicySources, TenantId};
use latchkey_proto::api::policy::EffectivePolicyRequest;
use latchkey_proto::proof::Purpose;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::agent::Agent;
use crate::client::{PolicyProof, ServiceClient};
use crate::error::AgentError;
use crate::policy_store::StoredPolicy;
use crate::records::DeviceRecord;

const SESSION: &str = "/v1/policy/session";

/// The outcome of a best-effort policy refresh (at join and at sign-in).
#[derive(Debug)]
pub enum PolicyRefresh {
    /// The policy was received and stored.
    Received {
        /// The version now in force.
        version: u64,
        /// The version in force before, if any.
        previous: Option<u64>,
    },
    /// The service could not be asked or answered badly: the last policy stays in force.
    Kept {
        /// The version still in force (`None`: defaults).
        version: Option<u64>,
        /// Why the refresh failed.
        error: AgentError,
    },
}

impl PolicyRefresh {
    /// One line for the user.
    pub fn describe(&self) -> String {
        match self {
            PolicyRefresh::Received { version, previous } if previous == &Some(*version) => {
                format!("Policy version {version} (unchanged).")
            }
            PolicyRefresh::Received { version, .. } => {
                format!("Policy version {version} received.")
            }
            PolicyRefresh::Kept { version, error } => format!(
                "warning: the policy could not be refreshed ({error}); keeping {}",
                match version {
                    Some(v) => format!("policy version {v}"),
                    None => "the default policy".to_owned(),
                }
            ),
        }
    }
}

/// What the device made of reply 1.
#[derive(Debug, Clone)]
pub struct AppliedReply {
    /// The effective policy computed from the commands.
    pub computed: EffectivePolicy,
    /// Message 2: the Status for the reply's SyncHdr, then one per command.
    pub statuses: SyncMl,
    /// How many commands there were.
    pub commands: usize,
    /// How many failed.
    pub failed: usize,
}

/// Applies reply 1 (`xml`) of session `session_id` for `tenant`, and builds message 2.
pub fn apply_reply(
    xml: &str,
    tenant: TenantId,
    session_id: &str,
    device_id: &str,
    server_uri: &str,
) -> Result<AppliedReply, AgentError> {
    let bad = |reason: String| AgentError::BadResponse {
        context: SESSION,
        reason,
    };
    let reply = parse_server_message(xml, &Limits::default()).map_err(|e| bad(e.to_string()))?;
    let header = reply.header.clone().unwrap_or_default();
    if header.session_id != session_id {
        return Err(bad(format!(
            "the reply is for session {:?}, not {session_id:?}",
            header.session_id
        )));
    }
    let commands: Vec<Command> = reply
        .commands
        .into_iter()
        .filter(|c| matches!(c, Command::Item(_)))
        .collect();
    let count = commands.len();
    let only_commands = SyncMl {
        header: Some(header),
        commands,
        final_flag: true,
    };
    let session = Session {
        tenant,
        authenticated: true,
        access: Access::ReadWrite,
    };
    let applied = apply(&PolicyDocument::new(tenant), &only_commands, &session);
    let computed = EffectivePolicy::compute(&PolicySources::new(
        &applied.document,
        Default::default(),
        Default::default(),
    ));
    let mut statuses = Vec::new();
    let mut failed = 0;
    for c in applied.reply.commands {
        let Command::Status(mut s) = c else { continue };
        // The Status for the service's SyncHdr (CmdRef 0) comes first, as OMA-DM has it; it
        // also keeps message 2 a status message when the reply carried no command.
        if s.cmd_ref != "0"
            && !s
                .data
                .trim()
                .parse()
                .is_ok_and(|c| StatusCode(c).is_success())
        {
            failed += 1;
        }
        s.cmd_id = (statuses.len() + 1).to_string();
        statuses.push(Command::Status(s));
    }
    Ok(AppliedReply {
        computed,
        statuses: SyncMl {
            header: Some(SyncHdr {
                ver_dtd: "1.2".into(),
                ver_proto: "DM/1.2".into(),
                session_id: session_id.to_owned(),
                msg_id: "2".into(),
                target: Some(server_uri.to_owned()),
                source: Some(device_id.to_owned()),
                has_cred: false,
            }),
            commands: statuses,
            final_flag: true,
        },
        commands: count,
        failed,
    })
}

/// The values of a policy without their sources and notes, to compare two policies.
pub fn values_only(policy: &EffectivePolicy) -> serde_json::Value {
    fn strip(v: serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(mut m)
                if m.len() == 2 && m.contains_key("value") && m.contains_key("source") =>
            {
                m.remove("value").unwrap_or_default()
            }
            serde_json::Value::Object(m) => serde_json::Value::Object(
                m.into_iter()
                    .filter(|(k, _)| k != "notes")
                    .map(|(k, v)| (k, strip(v)))
                    .collect(),
            ),
            other => other,
        }
    }
    strip(serde_json::to_value(policy).unwrap_or_default())
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn new_session_id() -> String {
    let mut id = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut id);
    hex::encode(id)
}

impl Agent {
    fn proof(
        &self,
        device: &DeviceRecord,
        upn: &str,
        nonce: &str,
        body: &[u8],
    ) -> Result<PolicyProof, AgentError> {
        let hash = sha256_hex(body);
        let signature = self.device_key(device)?.prove(
            Purpose::PolicySync,
            nonce,
            &[&device.tenant_id, &device.device_id, upn, &hash],
        )?;
        Ok(PolicyProof {
            device_id: device.device_id.clone(),
            upn: upn.to_owned(),
            nonce: nonce.to_owned(),
            signature,
        })
    }

    /// Receives the effective policy of this device and `upn` from the service and stores
    /// it (`latchkey policy sync`). Fails, storing nothing, when any step fails. Recorded:
    /// event 340, or 341 when it failed.
    pub fn sync_policy(&self, upn: &str) -> Result<StoredPolicy, AgentError> {
        let done = self.sync_policy_unrecorded(upn);
        let mut data = vec![("UPN".to_owned(), upn.to_owned())];
        match &done {
            Ok(stored) => {
                data.push(("PolicyVersion".to_owned(), stored.version.to_string()));
                data.push((crate::events::DEVICE_AUTH.to_owned(), "SUCCESS".to_owned()));
                self.note(
                    crate::events::id::POLICY_RECEIVED,
                    "Information",
                    "Policy received from the service",
                    data,
                );
            }
            Err(AgentError::NotJoined) => {}
            Err(e) => {
                data.extend(crate::events::failure_data(e));
                self.note(
                    crate::events::id::POLICY_REFRESH_FAILED,
                    "Warning",
                    "The policy could not be received; the last one stays in force",
                    data,
                );
            }
        }
        done
    }

    fn sync_policy_unrecorded(&self, upn: &str) -> Result<StoredPolicy, AgentError> {
        let device = DeviceRecord::require(&self.state)?;
        let tenant: TenantId = device
            .tenant_id
            .parse()
            .map_err(|e| AgentError::CorruptState {
                path: crate::records::DEVICE_FILE.to_owned(),
                reason: format!("tenant id: {e}"),
            })?;
        let client = ServiceClient::new(&device.server_url, &device.ca_pem)?;
        let server_uri = format!("{}{SESSION}", client.base());
        let session_id = new_session_id();
        let info = DeviceInfo {
            dev_id: device.device_id.clone(),
            manufacturer: "Latchkey".to_owned(),
            model: self.provider.name().to_owned(),
            language: "en-US".to_owned(),
            dm_version: "1.2".to_owned(),
        };
        let open = to_xml(&open_session(&info, &session_id, &server_uri));
        let nonce = client.nonce(Purpose::PolicySync)?;
        let proof = self.proof(&device, upn, &nonce, open.as_bytes())?;
        let reply = client.policy_session(&proof, open)?;
        let applied = apply_reply(
            &reply.body,
            tenant,
            &session_id,
            &device.device_id,
            &server_uri,
        )?;
        let next = reply.next_nonce.ok_or(AgentError::BadResponse {
            context: SESSION,
            reason: "reply 1 carries no X-Latchkey-Next-Nonce".to_owned(),
        })?;
        let statuses = to_xml(&applied.statuses);
        let proof = self.proof(&device, upn, &next, statuses.as_bytes())?;
        client.policy_session(&proof, statuses)?;

        let nonce = client.nonce(Purpose::PolicySync)?;
        let proof = self.proof(&device, upn, &nonce, b"")?;
        let effective = client.policy_effective(&EffectivePolicyRequest {
            device_id: device.device_id.clone(),
            upn: upn.to_owned(),
            nonce,
            device_signature: proof.signature,
        })?;
        let bad = |reason: String| AgentError::BadResponse {
            context: "/v1/policy/effective",
            reason,
        };
        if effective.tenant_id != device.tenant_id {
            return Err(bad("the policy names another tenant".to_owned()));
        }
        let policy: EffectivePolicy =
            serde_json::from_value(effective.policy).map_err(|e| bad(e.to_string()))?;
        if reply.version == Some(effective.version)
            && values_only(&policy) != values_only(&applied.computed)
        {
            return Err(bad(format!(
                "policy version {} differs between the SyncML session and the effective policy",
                effective.version
            )));
        }
        let stored = StoredPolicy {
            version: effective.version,
            tenant_id: device.tenant_id.clone(),
            upn: upn.to_owned(),
            synced_at: self.now(),
            session_id,
            commands: applied.commands,
            failed: applied.failed,
            policy,
        };
        stored.save(&self.state)?;
        Ok(stored)
    }

    /// [`Agent::sync_policy`], but a failure keeps the last policy and is reported in the
    /// result instead (join and sign-in do not fail because of policy).
    pub fn refresh_policy(&self, upn: &str) -> PolicyRefresh {
        let previous = StoredPolicy::load(&self.state, upn)
            .ok()
            .flatten()
            .map(|p| p.version);
        match self.sync_policy(upn) {
            Ok(stored) => PolicyRefresh::Received {
                version: stored.version,
                previous,
            },
            Err(error) => PolicyRefresh::Kept {
                version: self
                    .policy_in_force(Some(upn))
                    .ok()
                    .and_then(|p| p.version()),
                error,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_policy::syncml::{Item, ItemCommand, ItemCommandKind, Meta};

    const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    fn replace(id: u32, uri: &str, format: &str, data: &str) -> Command {
        Command::Item(ItemCommand {
            kind: ItemCommandKind::Replace,
            cmd_id: Some(id.to_string()),
            meta: Meta::default(),
            items: vec![Item {
                target: Some(uri.to_owned()),
                meta: Meta {
                    format: Some(format.into()),
                    mime: Some("text/plain".into()),
                },
                data: Some(data.to_owned()),
                ..Item::default()
            }],
            problem: None,
        })
    }

    fn reply(session: &str, commands: Vec<Command>) -> String {
        to_xml(&SyncMl {
            header: Some(SyncHdr {
                ver_dtd: "1.2".into(),
                ver_proto: "DM/1.2".into(),
                session_id: session.into(),
                msg_id: "1".into(),
                target: Some("dev".into()),
                source: Some(SESSION.into()),
                has_cred: false,
            }),
            commands,
            final_flag: true,
        })
    }

    #[test]
    fn reply_commands_are_applied_and_answered_one_status_each() {
        let base = format!("./Device/Vendor/MSFT/PassportForWork/{TENANT}/Policies");
        let user = format!("./User/Vendor/MSFT/PassportForWork/{TENANT}/Policies");
        let xml = reply(
            "s1",
            vec![
                replace(
                    3,
                    &format!("{base}/PINComplexity/MinimumPINLength"),
                    "int",
                    "8",
                ),
                replace(4, &format!("{user}/UsePassportForWork"), "bool", "false"),
                replace(5, &format!("{base}/NoSuchNode"), "bool", "true"),
            ],
        );
        let tenant: TenantId = TENANT.parse().unwrap();
        let a = apply_reply(&xml, tenant, "s1", "dev", "https://x/v1/policy/session").unwrap();
        assert_eq!(a.computed.pin.min_length.value, 8);
        assert!(!a.computed.use_passport_for_work.value);
        assert_eq!((a.commands, a.failed), (3, 1));
        let codes: Vec<(String, String)> = a
            .statuses
            .commands
            .iter()
            .map(|c| match c {
                Command::Status(s) => (s.cmd_ref.clone(), s.data.clone()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            codes,
            vec![
                ("0".into(), "200".into()),
                ("3".into(), "200".into()),
                ("4".into(), "200".into()),
                ("5".into(), "404".into())
            ]
        );
        let hdr = a.statuses.header.unwrap();
        assert_eq!(
            (hdr.msg_id.as_str(), hdr.source.as_deref()),
            ("2", Some("dev"))
        );

        let wrong = apply_reply(&xml, tenant, "other", "dev", "u").unwrap_err();
        assert_eq!(wrong.code(), "LK-AGENT-006");
        let garbage = apply_reply("<nope/>", tenant, "s1", "dev", "u").unwrap_err();
        assert_eq!(garbage.code(), "LK-AGENT-006");
    }

    #[test]
    fn values_only_ignores_sources_and_notes() {
        let a = EffectivePolicy::default();
        let mut b = a.clone();
        b.pin.history.source = latchkey_policy::Source::UserGpo;
        b.notes
            .push(latchkey_policy::effective::PolicyNote::CspPinIgnored);
        assert_eq!(values_only(&a), values_only(&b));
        b.pin.history.value = 3;
        assert_ne!(values_only(&a), values_only(&b));
        assert_eq!(values_only(&b)["pin"]["history"], 3);
    }
}
