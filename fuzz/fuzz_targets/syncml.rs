//! The SyncML message parser, its serializer and the (pure) policy engine.
//!
//! Properties: no panic; a parsed message whose commands are all well-formed serialises to
//! XML that parses back to the same message (a command the parser marked malformed or
//! unsupported keeps only its problem, not the offending markup, so it cannot round-trip;
//! the engine answers it 400/406); the engine's reply to any parsed message serialises to XML that parses back to
//! the same reply.
#![no_main]

use latchkey_policy::syncml::{parse_message, to_xml, Command, Limits};
use latchkey_policy::{apply, Access, PolicyDocument, Session, TenantId};
use libfuzzer_sys::fuzz_target;

/// Whether any command (nested ones included) carries a parse problem.
fn has_problem(commands: &[Command]) -> bool {
    commands.iter().any(|c| match c {
        Command::Item(i) => i.problem.is_some(),
        Command::Atomic(c) | Command::Sequence(c) => has_problem(&c.commands),
        _ => false,
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits::default();
    let Ok(msg) = parse_message(text, &limits) else {
        return;
    };
    let xml = to_xml(&msg);
    // The serializer's output is a message the parser accepts, and the same message. Its
    // size may exceed the input's (escaping), so the round trip uses roomier limits.
    let roomy = Limits {
        max_message_bytes: usize::MAX,
        ..limits
    };
    let again = parse_message(&xml, &roomy).expect("to_xml output parses");
    if !has_problem(&msg.commands) {
        assert_eq!(again, msg, "parse(to_xml(m)) != m for {xml}");
    }

    let tenant: TenantId = "72F988BF-86F1-41AF-91AB-2D7CD011DB47"
        .parse()
        .expect("fixed tenant id");
    let doc = PolicyDocument::new(tenant);
    for access in [Access::ReadWrite, Access::ReadOnly] {
        let session = Session {
            tenant,
            authenticated: true,
            access,
        };
        let applied = apply(&doc, &msg, &session);
        let reply = to_xml(&applied.reply);
        let reparsed = parse_message(
            &reply,
            &Limits {
                max_message_bytes: usize::MAX,
                max_elements: usize::MAX,
                max_commands: usize::MAX,
                max_items: usize::MAX,
                max_value_bytes: usize::MAX,
                ..limits
            },
        )
        .expect("the engine's reply parses");
        assert_eq!(reparsed, applied.reply);
        if access == Access::ReadOnly {
            assert_eq!(
                applied.document, doc,
                "a read-only session changed the policy"
            );
        }
    }
});
