//! The administrators' SyncML endpoint over real HTTPS and real SQLite: the seed's example,
//! every status code, Atomic rollback, another tenant's LocURI, version and audit, and the
//! negative paths (authentication, media type, malformed, oversize).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::{assert_error, Harness};
use latchkey_policy::syncml::{parse_message, Command, Limits};
use serde_json::Value;

const SEED: &str = include_str!("../../policy/tests/fixtures/seed_passportforwork_example.xml");
const SEED_TENANT: &str = "5NEMDU42-45CC-8CBL-8BPF-D7092646325F";
const SYNCML: &str = "application/vnd.syncml.dm+xml";

struct Reply {
    status: u16,
    version: Option<String>,
    body: String,
}

async fn send(h: &Harness, token: Option<&str>, ctype: &str, body: &str, query: &str) -> Reply {
    let mut req = h
        .client
        .post(format!("{}/v1/policy/syncml{query}", h.url))
        .header("content-type", ctype)
        .body(body.to_owned());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    Reply {
        status: resp.status().as_u16(),
        version: resp
            .headers()
            .get("x-latchkey-policy-version")
            .map(|v| v.to_str().unwrap().to_owned()),
        body: resp.text().await.unwrap(),
    }
}

/// `(CmdRef, Cmd, code)` of a Status.
type StatusLine = (String, String, u16);
/// `(CmdRef, values)` of a Results.
type ResultsLine = (String, Vec<String>);

/// Every Status but the SyncHdr's, and every Results.
fn statuses(xml: &str) -> (Vec<StatusLine>, Vec<ResultsLine>) {
    let msg = parse_message(xml, &Limits::default()).unwrap();
    let mut out = Vec::new();
    let mut results = Vec::new();
    for c in msg.commands {
        match c {
            Command::Status(s) if s.cmd_ref != "0" => {
                out.push((s.cmd_ref, s.cmd, s.data.parse().unwrap()))
            }
            Command::Status(s) => assert_eq!(s.data, "200", "SyncHdr status"),
            Command::Results(r) => results.push((
                r.cmd_ref,
                r.items.into_iter().filter_map(|i| i.data).collect(),
            )),
            _ => {}
        }
    }
    (out, results)
}

fn code_of(st: &[(String, String, u16)], cmd_ref: &str) -> u16 {
    st.iter()
        .find(|(r, _, _)| r == cmd_ref)
        .unwrap_or_else(|| panic!("no status for {cmd_ref}: {st:?}"))
        .2
}

fn wrap(body: &str) -> String {
    format!(
        "<SyncML xmlns=\"SYNCML:SYNCML1.2\"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto>\
         <SessionID>1</SessionID><MsgID>1</MsgID><Target><LocURI>latchkey</LocURI></Target>\
         <Source><LocURI>admin</LocURI></Source></SyncHdr><SyncBody>{body}<Final/></SyncBody></SyncML>"
    )
}

fn item(cmd: &str, id: u32, uri: &str, format: Option<&str>, data: Option<&str>) -> String {
    let meta = format
        .map(|f| format!("<Meta><Format xmlns=\"syncml:metinf\">{f}</Format></Meta>"))
        .unwrap_or_default();
    let data = data
        .map(|d| format!("<Data>{d}</Data>"))
        .unwrap_or_default();
    format!("<{cmd}><CmdID>{id}</CmdID><Item><Target><LocURI>{uri}</LocURI></Target>{meta}{data}</Item></{cmd}>")
}

fn pol(tid: &str, rest: &str) -> String {
    format!("./Device/Vendor/MSFT/PassportForWork/{tid}/Policies/{rest}")
}

async fn setup() -> (Harness, String) {
    let h = Harness::start().await;
    let (_, token) = h.admin.admin_token_create("tests").await.unwrap();
    (h, token)
}

#[tokio::test]
async fn seed_example_is_answered_command_by_command() {
    let (h, token) = setup().await;
    // As published: its tenant id is not a GUID (2-13: 400), 14 is fine, 15 misspells a node.
    let r = send(&h, Some(&token), SYNCML, SEED, "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (st, _) = statuses(&r.body);
    assert_eq!(st.len(), 14, "{st:?}");
    for id in 2..=13 {
        assert_eq!(code_of(&st, &id.to_string()), 400, "command {id}");
    }
    assert_eq!(code_of(&st, "14"), 200);
    assert_eq!(code_of(&st, "15"), 404);
    assert_eq!(r.version.as_deref(), Some("1"));

    // With this tenant's id: 2-13 succeed, 14 now already exists (418), 15 still 404.
    let fixed = SEED.replace(SEED_TENANT, &h.tenant_id);
    let r = send(&h, Some(&token), "application/xml", &fixed, "").await;
    let (st, _) = statuses(&r.body);
    for id in 2..=13 {
        assert_eq!(code_of(&st, &id.to_string()), 200, "command {id}");
    }
    assert_eq!(code_of(&st, "14"), 418);
    assert_eq!(code_of(&st, "15"), 404);
    assert_eq!(r.version.as_deref(), Some("2"));
    let report = h.admin.effective_policy(None, None).await.unwrap();
    assert_eq!(report.policy.pin.min_length.value, 8);
    assert_eq!(report.version, 2);
}

#[tokio::test]
async fn every_status_code_from_a_real_message() {
    let (h, token) = setup().await;
    let t = h.tenant_id.clone();
    let other = "0f0f0f0f-1111-2222-3333-444444444444";
    let body = [
        item(
            "Add",
            1,
            &pol(&t, "PINComplexity/MinimumPINLength"),
            Some("int"),
            Some("6"),
        ),
        item(
            "Add",
            2,
            &pol(&t, "PINComplexity/MinimumPINLength"),
            Some("int"),
            Some("7"),
        ),
        item(
            "Replace",
            3,
            &pol(&t, "PINComplexity/MinimumPINLength"),
            Some("int"),
            Some("200"),
        ),
        item(
            "Replace",
            4,
            &pol(&t, "NoSuchNode"),
            Some("bool"),
            Some("true"),
        ),
        item(
            "Add",
            5,
            "./Device/Vendor/MSFT/PassportForWork/SecurityKey",
            Some("node"),
            None,
        ),
        item("Copy", 6, &pol(&t, "PINComplexity/History"), None, None),
        item(
            "Replace",
            7,
            &pol(&t, "PINComplexity/History"),
            Some("chr"),
            Some("5"),
        ),
        item(
            "Replace",
            8,
            &pol(other, "RequireSecurityDevice"),
            Some("bool"),
            Some("true"),
        ),
        format!(
            "<Atomic><CmdID>9</CmdID>{}{}</Atomic>",
            item(
                "Replace",
                10,
                &pol(&t, "PINComplexity/History"),
                Some("int"),
                Some("5")
            ),
            item("Get", 11, &pol(&t, "PINComplexity/History"), None, None)
        ),
        item(
            "Get",
            12,
            &pol(&t, "PINComplexity/MinimumPINLength"),
            None,
            None,
        ),
    ]
    .concat();
    let r = send(&h, Some(&token), SYNCML, &wrap(&body), "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (st, results) = statuses(&r.body);
    let expect = [
        ("1", 200),
        ("2", 418),
        ("3", 400),
        ("4", 404),
        ("5", 405),
        ("6", 406),
        ("7", 415),
        ("8", 403),
        ("9", 507),
        ("10", 216),
        ("11", 500),
        ("12", 200),
    ];
    for (id, code) in expect {
        assert_eq!(code_of(&st, id), code, "command {id}: {st:?}");
    }
    assert_eq!(results, vec![("12".to_owned(), vec!["6".to_owned()])]);
    // Only command 1 changed anything; the Atomic's History was rolled back.
    let report = h.admin.effective_policy(None, None).await.unwrap();
    assert_eq!(report.policy.pin.min_length.value, 6);
    assert!(!report.policy.pin.history.is_configured());
    assert_eq!(report.version, 1);
}

#[tokio::test]
async fn atomic_rollback_leaves_nothing_changed() {
    let (h, token) = setup().await;
    let t = h.tenant_id.clone();
    let before = h.counts().await;
    let body = format!(
        "<Atomic><CmdID>1</CmdID>{}{}{}</Atomic>",
        item(
            "Add",
            2,
            &pol(&t, "RequireSecurityDevice"),
            Some("bool"),
            Some("true")
        ),
        item(
            "Add",
            3,
            &pol(&t, "PINComplexity/History"),
            Some("int"),
            Some("10")
        ),
        item(
            "Add",
            4,
            &pol(&t, "PINComplexity/Expiration"),
            Some("int"),
            Some("731")
        ),
    );
    let r = send(&h, Some(&token), SYNCML, &wrap(&body), "").await;
    let (st, _) = statuses(&r.body);
    assert_eq!(code_of(&st, "1"), 507);
    assert_eq!(code_of(&st, "2"), 216);
    assert_eq!(code_of(&st, "3"), 216);
    assert_eq!(code_of(&st, "4"), 400);
    assert_eq!(r.version.as_deref(), Some("0"));
    assert_eq!(h.admin.policy_version().await.unwrap(), 0);
    let report = h.admin.effective_policy(None, None).await.unwrap();
    assert!(!report.policy.require_security_device.is_configured());
    assert!(!report.policy.pin.history.is_configured());
    // No policy_change audit line.
    assert_eq!(h.counts().await.audit, before.audit);
}

#[tokio::test]
async fn another_tenants_locuri_never_touches_this_tenant() {
    let (h, token) = setup().await;
    let other = "0f0f0f0f-1111-2222-3333-444444444444";
    let body = [
        item(
            "Add",
            1,
            &format!("./Device/Vendor/MSFT/PassportForWork/{other}"),
            None,
            None,
        ),
        item(
            "Replace",
            2,
            &pol(other, "UsePassportForWork"),
            Some("bool"),
            Some("false"),
        ),
        item("Delete", 3, &pol(other, "UsePassportForWork"), None, None),
        item("Get", 4, &pol(other, "UsePassportForWork"), None, None),
    ]
    .concat();
    let r = send(&h, Some(&token), SYNCML, &wrap(&body), "").await;
    let (st, results) = statuses(&r.body);
    assert!(st.iter().all(|(_, _, c)| *c == 403), "{st:?}");
    assert!(results.is_empty());
    assert_eq!(h.admin.policy_version().await.unwrap(), 0);
    let report = h.admin.effective_policy(None, None).await.unwrap();
    assert!(!report.policy.use_passport_for_work.is_configured());
}

#[tokio::test]
async fn version_bumps_and_audit_per_change_and_user_scope() {
    let (h, token) = setup().await;
    h.add_user("alice@example.com").await;
    let t = h.tenant_id.clone();
    let user_uri = format!("./User/Vendor/MSFT/PassportForWork/{t}/Policies/PINComplexity/Digits");
    for (i, v) in ["0", "1"].iter().enumerate() {
        let body = item(
            "Replace",
            1,
            &pol(&t, "PINComplexity/Digits"),
            Some("int"),
            Some(v),
        );
        let r = send(&h, Some(&token), SYNCML, &wrap(&body), "").await;
        assert_eq!(r.version, Some((i + 1).to_string()));
    }
    // alice's own user scope.
    let body = item("Replace", 1, &user_uri, Some("int"), Some("2"));
    let r = send(
        &h,
        Some(&token),
        SYNCML,
        &wrap(&body),
        "?user=alice%40example.com",
    )
    .await;
    assert_eq!(r.version.as_deref(), Some("3"), "{}", r.body);
    let alice = h
        .admin
        .effective_policy(None, Some("alice@example.com"))
        .await
        .unwrap();
    assert_eq!(
        alice.policy.pin.digits.source,
        latchkey_policy::Source::DeviceCsp,
        "device CSP requires digits: the strictest rule wins over the user's 'not allowed'"
    );
    let everyone = h.admin.effective_policy(None, None).await.unwrap();
    assert_eq!(everyone.version, 3);
    let lines: Vec<_> = h
        .audit()
        .await
        .into_iter()
        .filter(|a| a.event == "policy_change")
        .collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[2]
        .reason
        .as_deref()
        .unwrap()
        .contains("alice@example.com"));
    assert!(lines[0]
        .actor
        .as_deref()
        .unwrap()
        .starts_with("admin-token:"));
    // No such user.
    let r = send(
        &h,
        Some(&token),
        SYNCML,
        &wrap(&body),
        "?user=nobody%40example.com",
    )
    .await;
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_error(&(r.status, v), "LK-POLICY-001");
}

#[tokio::test]
async fn negative_paths() {
    let (h, token) = setup().await;
    let ok = wrap(&item(
        "Get",
        1,
        "./Device/Vendor/MSFT/PassportForWork",
        None,
        None,
    ));
    let json = |r: Reply| (r.status, serde_json::from_str::<Value>(&r.body).unwrap());
    assert_error(&json(send(&h, None, SYNCML, &ok, "").await), "LK-AUTH-004");
    assert_error(
        &json(send(&h, Some("lkadm_nope"), SYNCML, &ok, "").await),
        "LK-AUTH-004",
    );
    assert_error(
        &json(send(&h, Some(&token), "application/json", &ok, "").await),
        "LK-SYNCML-002",
    );
    for bad in [
        "<SyncML xmlns=\"SYNCML:SYNCML1.2\"><SyncBody>",
        "not xml at all",
        "<!DOCTYPE x [<!ENTITY a \"b\">]><SyncML xmlns=\"SYNCML:SYNCML1.2\"><SyncBody/></SyncML>",
        "<Other/>",
    ] {
        assert_error(
            &json(send(&h, Some(&token), SYNCML, bad, "").await),
            "LK-SYNCML-001",
        );
    }
    let huge = format!("{ok}{}", " ".repeat(600 * 1024));
    assert_error(
        &json(send(&h, Some(&token), SYNCML, &huge, "").await),
        "LK-REQ-002",
    );
    // A revoked token stops at once.
    let list = h.admin.admin_tokens().await.unwrap();
    h.admin.admin_token_revoke(&list[0].id).await.unwrap();
    assert_error(
        &json(send(&h, Some(&token), SYNCML, &ok, "").await),
        "LK-AUTH-004",
    );
    // Every refusal was audited, nothing changed.
    let refused = h
        .audit()
        .await
        .into_iter()
        .filter(|a| a.event == "policy_syncml" && a.outcome == "failure")
        .count();
    assert_eq!(refused, 9);
    assert_eq!(h.admin.policy_version().await.unwrap(), 0);
}
