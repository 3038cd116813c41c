//! The seed's example message (PassportForWork CSP, "Examples"), fed verbatim.
//!
//! Where it disagrees with the node reference, the reference wins:
//! - its tenant id `5NEMDU42-45CC-8CBL-8BPF-D7092646325F` is not a GUID (N, M, U, L and P are
//!   not hexadecimal digits), while the reference says TenantId is "A globally unique
//!   identifier (GUID)": every command under it gets 400 (LK-POL-001);
//! - CmdID 15 names `Biometrics/FacialFeatureUseEnhancedAntiSpoofing`; the node is
//!   `FacialFeaturesUseEnhancedAntiSpoofing`: 404 (LK-POL-003).
//!
//! The message has no SyncHdr, as in Microsoft's examples; it is answered as MsgID 1.

mod common;

use common::*;
use latchkey_policy::engine::apply;
use latchkey_policy::node::{Node, Scope};
use latchkey_policy::syncml::{parse_message, to_xml, Command, Limits};
use latchkey_policy::{PolicyDocument, Value};

const SEED: &str = include_str!("fixtures/seed_passportforwork_example.xml");

#[test]
fn seed_example_verbatim_statuses() {
    let msg = parse_message(SEED, &Limits::default()).expect("the seed example parses");
    assert!(msg.header.is_none());
    assert!(msg.final_flag);
    assert_eq!(msg.commands.len(), 14);
    let doc = PolicyDocument::new(tenant());
    let a = apply(&doc, &msg, &session());
    let got: Vec<(String, u16, Option<&str>)> = a
        .outcomes
        .iter()
        .map(|o| {
            (
                o.cmd_id.clone().unwrap_or_default(),
                o.status.0,
                o.error.as_ref().map(|e| e.code()),
            )
        })
        .collect();
    let mut want: Vec<(String, u16, Option<&str>)> = (2..=13)
        .map(|i| (i.to_string(), 400, Some("LK-POL-001")))
        .collect();
    want.push(("14".into(), 200, None));
    want.push(("15".into(), 404, Some("LK-POL-003")));
    assert_eq!(got, want);
    // Only Biometrics/UseBiometrics (outside {TenantId}) was applied.
    assert_eq!(
        a.document.get(Scope::Device, Node::BiometricsUseBiometrics),
        Some(&Value::Bool(true))
    );
    assert_eq!(a.document.store(Scope::Device).values.len(), 1);
    assert_eq!(a.document.version(), 1);
    assert_eq!(a.changes.len(), 1);
    // The reply: header status first (CmdRef 0, Cmd SyncHdr, MsgRef 1), then one per command.
    let Command::Status(h) = &a.reply.commands[0] else {
        panic!("header status first")
    };
    assert_eq!(
        (
            h.cmd_ref.as_str(),
            h.cmd.as_str(),
            h.msg_ref.as_str(),
            h.data.as_str()
        ),
        ("0", "SyncHdr", "1", "200")
    );
    assert_eq!(a.reply.commands.len(), 15);
    let xml = to_xml(&a.reply);
    let back = parse_message(&xml, &Limits::default()).expect("reply parses");
    assert_eq!(back, a.reply);
}

#[test]
fn seed_example_with_a_real_tenant_id() {
    let fixed = SEED.replace("5NEMDU42-45CC-8CBL-8BPF-D7092646325F", TENANT);
    let msg = parse_message(&fixed, &Limits::default()).expect("parses");
    let a = apply(&PolicyDocument::new(tenant()), &msg, &session());
    let mut want = vec![200; 13];
    want.push(404);
    assert_eq!(codes(&a), want);
    let s = a.document.settings(Scope::Device);
    assert_eq!(s.use_passport_for_work, Some(true));
    assert_eq!(s.require_security_device, Some(true));
    assert_eq!((s.pin.min_length, s.pin.max_length), (Some(8), Some(16)));
    assert_eq!(s.pin.history, Some(20));
    assert_eq!(s.pin.expiration_days, Some(70));
    assert_eq!(s.use_remote_passport, Some(true));
    assert!(a.document.store(Scope::Device).tenant_node);
    assert_eq!(a.document.version(), 1);
    // Sending it again: every Add now meets an existing node.
    let again = apply(&a.document, &msg, &session());
    let mut want = vec![418; 13];
    want.push(404);
    assert_eq!(codes(&again), want);
    assert_eq!(again.document, a.document);
}
