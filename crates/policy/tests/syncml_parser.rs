//! Parser strictness, limits with positions, garbage never panics, and the device session.
#![allow(clippy::expect_used)]

mod common;

use common::*;
use latchkey_policy::device::{
    open_session, parse_server_message, policy_commands, read_device_info, DeviceInfo,
};
use latchkey_policy::engine::apply;
use latchkey_policy::node::{Node, Scope};
use latchkey_policy::syncml::{parse_message, to_xml, Limits, SyncHdr, SyncMl};
use latchkey_policy::{PolicyDocument, Value};
use proptest::prelude::*;

fn err_code(input: &str, limits: &Limits) -> (String, String) {
    let e = parse_message(input, limits).expect_err(input);
    (e.code().to_owned(), e.to_string())
}

#[test]
fn rejects_trailing_junk_dtd_and_wrong_roots() {
    let ok = message("");
    assert!(parse_message(&ok, &Limits::default()).is_ok());
    let (code, msg) = err_code(&format!("{ok}<x/>"), &Limits::default());
    assert_eq!(code, "LK-POL-019");
    assert!(msg.contains("trailing data"), "{msg}");
    assert_eq!(
        err_code(&format!("{ok}junk"), &Limits::default()).0,
        "LK-POL-019"
    );
    assert!(parse_message(&format!("{ok}\n  <!-- c -->\n"), &Limits::default()).is_ok());
    assert_eq!(
        err_code(
            &format!("<!DOCTYPE x [<!ENTITY a \"b\">]>{ok}"),
            &Limits::default()
        )
        .0,
        "LK-POL-019"
    );
    assert_eq!(
        err_code(
            "<SyncML xmlns=\"SYNCML:SYNCML1.1\"><SyncBody/></SyncML>",
            &Limits::default()
        )
        .0,
        "LK-POL-021"
    );
    assert_eq!(err_code("<Foo/>", &Limits::default()).0, "LK-POL-021");
    assert_eq!(
        err_code(
            "<SyncML xmlns=\"SYNCML:SYNCML1.2\"></SyncML>",
            &Limits::default()
        )
        .0,
        "LK-POL-021"
    );
    assert_eq!(
        err_code(
            "<SyncML xmlns=\"SYNCML:SYNCML1.2\"><SyncBody>",
            &Limits::default()
        )
        .0,
        "LK-POL-019"
    );
    let bad_ver = ok.replace("<VerDTD>1.2</VerDTD>", "<VerDTD>1.1</VerDTD>");
    assert_eq!(err_code(&bad_ver, &Limits::default()).0, "LK-POL-021");
    let (code, msg) = err_code(
        "<SyncML xmlns=\"SYNCML:SYNCML1.2\">\n<SyncBody>\n<Add></Get>",
        &Limits::default(),
    );
    assert_eq!(code, "LK-POL-019");
    assert!(msg.contains("line 3"), "{msg}");
}

#[test]
fn limits_are_enforced_with_positions() {
    let body: String = (1..=5)
        .map(|i| cmd("Get", i, &dev("UsePassportForWork"), None, None))
        .collect();
    let l = Limits {
        max_commands: 4,
        ..Limits::default()
    };
    let (code, msg) = err_code(&message(&body), &l);
    assert_eq!(code, "LK-POL-020");
    assert!(
        msg.contains("number of commands") && msg.contains("byte"),
        "{msg}"
    );
    let l = Limits {
        max_message_bytes: 100,
        ..Limits::default()
    };
    assert!(err_code(&message(""), &l).1.contains("message size"));
    let deep = format!(
        "<Sequence><CmdID>1</CmdID>{}</Sequence>",
        "<Atomic><CmdID>2</CmdID>".repeat(20) + &"</Atomic>".repeat(20)
    );
    assert!(err_code(&message(&deep), &Limits::default())
        .1
        .contains("nesting depth"));
    let big = cmd(
        "Replace",
        1,
        "./Device/Vendor/MSFT/PassportForWork/DeviceUnlock/Plugins",
        Some("chr"),
        Some(&"a".repeat(20_000)),
    );
    assert!(err_code(&message(&big), &Limits::default())
        .1
        .contains("text value length"));
    let many_items = format!(
        "<Get><CmdID>1</CmdID>{}</Get>",
        "<Item><Target><LocURI>./x</LocURI></Target></Item>".repeat(3)
    );
    let l = Limits {
        max_items: 2,
        ..Limits::default()
    };
    assert!(err_code(&message(&many_items), &l)
        .1
        .contains("number of items"));
}

#[test]
fn device_session_round_trip() {
    let info = DeviceInfo {
        dev_id: "dev-42".into(),
        manufacturer: "Acme".into(),
        model: "X1".into(),
        language: "en-US".into(),
        dm_version: "1.2".into(),
    };
    let open = open_session(&info, "9", "https://latchkey.example/policy");
    let xml = to_xml(&open);
    let parsed = parse_message(&xml, &Limits::default()).expect("parses");
    assert_eq!(parsed, open);
    assert_eq!(read_device_info(&parsed), Some(info));

    // Service: the policy as Replace commands; device: applies them with the engine.
    let mut server_doc = PolicyDocument::new(tenant());
    server_doc
        .set(Scope::Device, Node::MinimumPinLength, Value::Int(6))
        .expect("ok");
    server_doc
        .set(Scope::User, Node::Digits, Value::Int(0))
        .expect("ok");
    server_doc
        .set(Scope::Device, Node::DynamicLockEnabled, Value::Bool(true))
        .expect("ok");
    let reply = SyncMl {
        header: Some(SyncHdr {
            ver_dtd: "1.2".into(),
            ver_proto: "DM/1.2".into(),
            session_id: "9".into(),
            msg_id: "1".into(),
            target: Some("dev-42".into()),
            source: Some("https://latchkey.example/policy".into()),
            has_cred: false,
        }),
        commands: policy_commands(&server_doc, 1),
        final_flag: true,
    };
    let on_wire = to_xml(&reply);
    let received = parse_server_message(&on_wire, &Limits::default()).expect("parses");
    let applied = apply(&PolicyDocument::new(tenant()), &received, &session());
    assert_eq!(codes(&applied), vec![200, 200, 200]);
    assert_eq!(
        applied.document.store(Scope::Device),
        server_doc.store(Scope::Device)
    );
    assert_eq!(
        applied.document.store(Scope::User),
        server_doc.store(Scope::User)
    );
    assert!(parse_server_message(&message(""), &Limits::default()).is_ok());
    assert_eq!(
        parse_server_message(
            include_str!("fixtures/seed_passportforwork_example.xml"),
            &Limits::default()
        )
        .expect_err("no header")
        .code(),
        "LK-POL-021"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn garbage_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(m) = parse_message(&text, &Limits::default()) {
            let _ = apply(&PolicyDocument::new(tenant()), &m, &session());
        }
        let _ = latchkey_policy::regfile::import_reg_bytes(&bytes);
        let _ = latchkey_policy::locuri::parse_loc_uri(&text);
    }

    #[test]
    fn mutated_messages_never_panic(cut in 0usize..600, insert in "[<>/a-zA-Z0-9&;\"= ]{0,12}") {
        let base = message(&(cmd("Add", 1, &dev("PINComplexity/History"), Some("int"), Some("5"))
            + "<Atomic><CmdID>2</CmdID>" + &cmd("Replace", 3, &dev("UsePassportForWork"), Some("bool"), Some("true")) + "</Atomic>"));
        let mut cut = cut.min(base.len());
        while !base.is_char_boundary(cut) { cut -= 1; }
        let mutated = format!("{}{}{}", &base[..cut], insert, &base[cut..]);
        if let Ok(m) = parse_message(&mutated, &Limits::default()) {
            let a = apply(&PolicyDocument::new(tenant()), &m, &session());
            let back = parse_message(&to_xml(&a.reply), &Limits::default());
            prop_assert!(back.is_ok());
        }
    }
}

/// Found by the `syncml` fuzz target: quick-xml accepts `<&inal/>`, which parsed as an
/// unknown command named `&inal` that `to_xml` wrote back as `<&amp;inal>` (another name).
/// Invalid element names are now a syntax error, and valid ones still round-trip.
#[test]
fn invalid_element_names_are_syntax_errors() {
    for bad in [
        "<&inal/>",
        "<&inal></&inal>",
        "<a&b/>",
        "<1x/>",
        "<-x/>",
        "<p:/>",
    ] {
        let input =
            format!("<SyncML xmlns=\"SYNCML:SYNCML1.2\"><SyncBody>{bad}</SyncBody></SyncML>");
        let (code, msg) = err_code(&input, &Limits::default());
        assert_eq!(code, "LK-POL-019", "{bad}: {msg}");
    }
    let ok = "<SyncML xmlns=\"SYNCML:SYNCML1.2\"><SyncBody><Vendor_x-1.é/></SyncBody></SyncML>";
    let msg = parse_message(ok, &Limits::default()).expect("valid unknown element parses");
    assert_eq!(
        parse_message(&to_xml(&msg), &Limits::default()).expect("round trip"),
        msg
    );
}
