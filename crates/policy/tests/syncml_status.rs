//! Every SyncML status code, each reached by a real message.
#![allow(clippy::indexing_slicing)]

mod common;

use common::*;
use latchkey_policy::engine::{apply, Access, Session};
use latchkey_policy::node::{Node, Scope};
use latchkey_policy::syncml::{parse_message, Command, Limits};
use latchkey_policy::{PolicyDocument, Value};

fn one(body: &str) -> (u16, Option<&'static str>) {
    let a = run(&PolicyDocument::new(tenant()), body);
    assert_eq!(a.outcomes.len(), 1, "{:?}", a.outcomes);
    let o = &a.outcomes[0];
    (o.status.0, o.error.as_ref().map(|e| e.code()))
}

#[test]
fn ok_200_and_get_results() {
    let doc = PolicyDocument::new(tenant());
    let a = run(
        &doc,
        &(cmd(
            "Add",
            1,
            &dev("PINComplexity/Digits"),
            Some("int"),
            Some("0"),
        ) + &cmd("Get", 2, &dev("PINComplexity/Digits"), None, None)
            + &cmd(
                "Get",
                3,
                &format!("./Device/Vendor/MSFT/PassportForWork/{TENANT}/Policies/PINComplexity"),
                None,
                None,
            )),
    );
    assert_eq!(codes(&a), vec![200, 200, 200]);
    let results: Vec<_> = a
        .reply
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::Results(r) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].cmd_ref, "2");
    assert_eq!(results[0].items[0].data.as_deref(), Some("0"));
    assert_eq!(results[0].items[0].meta.format.as_deref(), Some("int"));
    assert_eq!(results[1].items[0].data.as_deref(), Some("Digits"));
    assert_eq!(results[1].items[0].meta.format.as_deref(), Some("node"));
    // Status then Results, in command order, CmdIDs sequential from 1.
    let names: Vec<&str> = a.reply.commands.iter().map(|c| c.name()).collect();
    assert_eq!(
        names,
        ["Status", "Status", "Status", "Results", "Status", "Results"]
    );
    let ids: Vec<&str> = a.reply.commands.iter().filter_map(|c| c.cmd_id()).collect();
    assert_eq!(ids, ["1", "2", "3", "4", "5", "6"]);
}

#[test]
fn bad_request_400() {
    assert_eq!(
        one(&cmd(
            "Replace",
            1,
            &dev("PINComplexity/History"),
            Some("int"),
            Some("51")
        )),
        (400, Some("LK-POL-009"))
    );
    assert_eq!(
        one(&cmd(
            "Replace",
            1,
            &dev("PINComplexity/MinimumPINLength"),
            Some("int"),
            Some("3")
        )),
        (400, Some("LK-POL-009"))
    );
    assert_eq!(
        one(&cmd(
            "Replace",
            1,
            &dev("UsePassportForWork"),
            Some("bool"),
            None
        )),
        (400, Some("LK-POL-010"))
    );
    assert_eq!(one("<Add><Item><Target><LocURI>./Device/Vendor/MSFT/PassportForWork</LocURI></Target></Item></Add>"), (400, Some("LK-POL-016")));
    assert_eq!(
        one("<Frobnicate><CmdID>4</CmdID></Frobnicate>"),
        (400, Some("LK-POL-017"))
    );
    assert_eq!(
        one("<Get><CmdID>4</CmdID><Item><Data>x</Data></Item></Get>"),
        (400, Some("LK-POL-018"))
    );
    assert_eq!(
        one(&cmd(
            "Get",
            1,
            "/Device/Vendor/MSFT/PassportForWork",
            None,
            None
        )),
        (400, Some("LK-POL-002"))
    );
    assert_eq!(one("<Add><CmdID>4</CmdID><Item><Target><LocURI>./Device/Vendor/MSFT/PassportForWork</LocURI></Target><Bogus/></Item></Add>"), (400, Some("LK-POL-028")));
}

#[test]
fn unauthenticated_401_executes_nothing() {
    let msg = parse_message(
        &message(&cmd(
            "Replace",
            1,
            &dev("UsePassportForWork"),
            Some("bool"),
            Some("false"),
        )),
        &Limits::default(),
    )
    .expect("parses");
    let doc = PolicyDocument::new(tenant());
    let a = apply(
        &doc,
        &msg,
        &Session {
            authenticated: false,
            ..session()
        },
    );
    let Command::Status(h) = &a.reply.commands[0] else {
        panic!()
    };
    assert_eq!(h.data, "401");
    assert_eq!(codes(&a), vec![215]);
    assert_eq!(a.document, doc);
}

#[test]
fn forbidden_403_foreign_tenant_and_read_only() {
    let other = format!("./Device/Vendor/MSFT/PassportForWork/{OTHER}/Policies/UsePassportForWork");
    let a = run(
        &PolicyDocument::new(tenant()),
        &cmd("Replace", 1, &other, Some("bool"), Some("false")),
    );
    assert_eq!(codes(&a), vec![403]);
    assert_eq!(a.foreign_tenant_commands().count(), 1);
    assert_eq!(a.document.version(), 0);
    assert!(!a.document.store(Scope::Device).tenant_node);

    let msg = parse_message(
        &message(
            &(cmd(
                "Replace",
                1,
                &dev("UsePassportForWork"),
                Some("bool"),
                Some("false"),
            ) + &cmd("Get", 2, "./Device/Vendor/MSFT/PassportForWork", None, None)),
        ),
        &Limits::default(),
    )
    .expect("parses");
    let ro = Session {
        access: Access::ReadOnly,
        ..session()
    };
    let a = apply(&PolicyDocument::new(tenant()), &msg, &ro);
    assert_eq!(codes(&a), vec![403, 200]);
    assert_eq!(
        a.outcomes[0].error.as_ref().map(|e| e.code()),
        Some("LK-POL-013")
    );
}

#[test]
fn not_found_404() {
    assert_eq!(
        one(&cmd("Get", 1, &dev("UseBiometrics"), None, None)),
        (404, Some("LK-POL-003"))
    );
    assert_eq!(
        one(&cmd("Get", 1, &dev("UsePassportForWork"), None, None)),
        (404, Some("LK-POL-012"))
    );
    assert_eq!(
        one(&cmd("Delete", 1, &dev("UsePassportForWork"), None, None)),
        (404, Some("LK-POL-012"))
    );
    let user = format!(
        "./User/Vendor/MSFT/PassportForWork/{TENANT}/Policies/ExcludeSecurityDevices/TPM12"
    );
    assert_eq!(
        one(&cmd("Replace", 1, &user, Some("bool"), Some("true"))),
        (404, Some("LK-POL-005"))
    );
    assert_eq!(
        one(&cmd(
            "Get",
            1,
            "./Device/Vendor/MSFT/Policy/Config/Foo",
            None,
            None
        )),
        (404, Some("LK-POL-003"))
    );
}

#[test]
fn command_not_allowed_405() {
    assert_eq!(
        one(&cmd(
            "Add",
            1,
            "./Device/Vendor/MSFT/PassportForWork/SecurityKey",
            Some("node"),
            None
        )),
        (405, Some("LK-POL-006"))
    );
    assert_eq!(
        one(&cmd(
            "Delete",
            1,
            &format!("./Device/Vendor/MSFT/PassportForWork/{TENANT}/Policies"),
            None,
            None
        )),
        (405, Some("LK-POL-006"))
    );
    assert_eq!(
        one(&cmd(
            "Replace",
            1,
            &format!("./Device/Vendor/MSFT/PassportForWork/{TENANT}"),
            Some("node"),
            None
        )),
        (405, Some("LK-POL-006"))
    );
    assert_eq!(
        one(&cmd("Exec", 1, &dev("UsePassportForWork"), None, None)),
        (405, Some("LK-POL-006"))
    );
}

#[test]
fn optional_feature_406() {
    assert_eq!(
        one(&cmd("Copy", 1, &dev("UsePassportForWork"), None, None)),
        (406, Some("LK-POL-014"))
    );
    assert_eq!(
        one(&cmd(
            "Get",
            1,
            "./Device/Vendor/MSFT/PassportForWork?list=Struct",
            None,
            None
        )),
        (406, Some("LK-POL-014"))
    );
    assert_eq!(one(&format!("<Replace><CmdID>1</CmdID><Item><Target><LocURI>{}</LocURI></Target><Data>x</Data><MoreData/></Item></Replace>", dev("UsePassportForWork"))), (406, Some("LK-POL-014")));
    assert_eq!(
        one("<Alert><CmdID>1</CmdID><Data>1226</Data></Alert>"),
        (406, Some("LK-POL-014"))
    );
    assert_eq!(
        one("<Alert><CmdID>1</CmdID><Data>1201</Data></Alert>"),
        (200, None)
    );
}

#[test]
fn unsupported_type_or_format_415() {
    assert_eq!(
        one(&cmd(
            "Replace",
            1,
            &dev("UsePassportForWork"),
            Some("int"),
            Some("1")
        )),
        (415, Some("LK-POL-007"))
    );
    assert_eq!(
        one(&cmd(
            "Replace",
            1,
            &dev("UsePassportForWork"),
            None,
            Some("true")
        )),
        (415, Some("LK-POL-007"))
    );
    assert_eq!(
        one(&cmd(
            "Replace",
            1,
            &dev("UsePassportForWork"),
            Some("bool"),
            Some("yes")
        )),
        (415, Some("LK-POL-008"))
    );
    assert_eq!(
        one(&cmd(
            "Replace",
            1,
            &dev("PINComplexity/History"),
            Some("int"),
            Some("twenty")
        )),
        (415, Some("LK-POL-008"))
    );
    assert_eq!(one(&format!("<Replace><CmdID>1</CmdID><Item><Target><LocURI>{}</LocURI></Target><Meta><Format>bool</Format><Type>application/json</Type></Meta><Data>true</Data></Item></Replace>", dev("UsePassportForWork"))), (415, Some("LK-POL-027")));
}

#[test]
fn already_exists_418() {
    let body = cmd(
        "Add",
        1,
        &dev("EnablePinRecovery"),
        Some("bool"),
        Some("true"),
    ) + &cmd(
        "Add",
        2,
        &dev("EnablePinRecovery"),
        Some("bool"),
        Some("false"),
    ) + &cmd(
        "Replace",
        3,
        &dev("EnablePinRecovery"),
        Some("bool"),
        Some("false"),
    );
    let a = run(&PolicyDocument::new(tenant()), &body);
    assert_eq!(codes(&a), vec![200, 418, 200]);
    assert_eq!(
        a.document.get(Scope::Device, Node::EnablePinRecovery),
        Some(&Value::Bool(false))
    );
    assert_eq!(a.document.version(), 1, "one message, one version");
    assert_eq!(a.changes.len(), 2);
}

#[test]
fn atomic_success_and_rollback_507_216_500() {
    let doc = PolicyDocument::new(tenant());
    let ok = format!(
        "<Atomic><CmdID>1</CmdID>{}{}</Atomic>",
        cmd(
            "Add",
            2,
            &dev("PINComplexity/MinimumPINLength"),
            Some("int"),
            Some("6")
        ),
        cmd(
            "Add",
            3,
            &dev("PINComplexity/UppercaseLetters"),
            Some("int"),
            Some("1")
        )
    );
    let a = run(&doc, &ok);
    assert_eq!(codes(&a), vec![200, 200, 200]);
    assert_eq!(a.document.version(), 1);

    let bad = format!(
        "<Atomic><CmdID>1</CmdID>{}{}{}</Atomic>{}",
        cmd(
            "Replace",
            2,
            &dev("PINComplexity/MinimumPINLength"),
            Some("int"),
            Some("10")
        ),
        cmd(
            "Replace",
            3,
            &dev("PINComplexity/History"),
            Some("int"),
            Some("99")
        ),
        cmd(
            "Delete",
            4,
            &dev("PINComplexity/UppercaseLetters"),
            None,
            None
        ),
        cmd(
            "Replace",
            5,
            &dev("UsePassportForWork"),
            Some("bool"),
            Some("true")
        )
    );
    let b = run(&a.document, &bad);
    assert_eq!(codes(&b), vec![507, 216, 400, 216, 200]);
    assert_eq!(
        b.document.get(Scope::Device, Node::MinimumPinLength),
        Some(&Value::Int(6))
    );
    assert_eq!(
        b.document.get(Scope::Device, Node::UppercaseLetters),
        Some(&Value::Int(1))
    );
    assert_eq!(
        b.document.get(Scope::Device, Node::UsePassportForWork),
        Some(&Value::Bool(true))
    );
    assert_eq!(b.changes.len(), 1);

    let get_inside = format!(
        "<Atomic><CmdID>1</CmdID>{}{}</Atomic>",
        cmd(
            "Replace",
            2,
            &dev("PINComplexity/Digits"),
            Some("int"),
            Some("0")
        ),
        cmd("Get", 3, &dev("PINComplexity/Digits"), None, None)
    );
    let c = run(&a.document, &get_inside);
    assert_eq!(codes(&c), vec![507, 216, 500]);
    assert_eq!(c.document, a.document);

    let nested = format!(
        "<Atomic><CmdID>1</CmdID>{}<Atomic><CmdID>3</CmdID>{}</Atomic></Atomic>",
        cmd(
            "Replace",
            2,
            &dev("PINComplexity/Digits"),
            Some("int"),
            Some("0")
        ),
        cmd(
            "Replace",
            4,
            &dev("PINComplexity/History"),
            Some("int"),
            Some("5")
        )
    );
    let d = run(&a.document, &nested);
    assert_eq!(codes(&d), vec![507, 216, 500, 215]);
    assert_eq!(d.document, a.document);
}

#[test]
fn delete_tenant_node_removes_its_subtree_only() {
    let body = cmd(
        "Replace",
        1,
        &dev("UsePassportForWork"),
        Some("bool"),
        Some("true"),
    ) + &cmd(
        "Replace",
        2,
        "./Device/Vendor/MSFT/PassportForWork/SecurityKey/UseSecurityKeyForSignin",
        Some("int"),
        Some("1"),
    ) + &cmd(
        "Delete",
        3,
        &format!("./Device/Vendor/MSFT/PassportForWork/{TENANT}"),
        None,
        None,
    ) + &cmd("Get", 4, &dev("UsePassportForWork"), None, None);
    let a = run(&PolicyDocument::new(tenant()), &body);
    assert_eq!(codes(&a), vec![200, 200, 200, 404]);
    assert_eq!(a.document.store(Scope::Device).values.len(), 1);
}

#[test]
fn version_exhausted_500() {
    let mut doc: serde_json::Value =
        serde_json::to_value(PolicyDocument::new(tenant())).expect("json");
    doc["version"] = serde_json::json!(u64::MAX);
    let doc: PolicyDocument = serde_json::from_value(doc).expect("doc");
    assert_eq!(
        one_on(
            &doc,
            &cmd(
                "Replace",
                1,
                &dev("UsePassportForWork"),
                Some("bool"),
                Some("true")
            )
        ),
        vec![500]
    );
}

fn one_on(doc: &PolicyDocument, body: &str) -> Vec<u16> {
    codes(&run(doc, body))
}
