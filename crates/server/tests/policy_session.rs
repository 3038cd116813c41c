//! The device side of policy delivery over real HTTPS: the two-message SyncML session, the
//! JSON effective policy, Group Policy with group filtering, and bad device proofs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::{assert_error, Device, Harness};
use latchkey_policy::device::{open_session, DeviceInfo};
use latchkey_policy::gpo::GpoScope;
use latchkey_policy::syncml::{
    parse_message, to_xml, Command, Limits, StatusElement, SyncHdr, SyncMl,
};
use latchkey_policy::Source;
use latchkey_proto::proof::{proof_message, Purpose};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const UPN: &str = "alice@example.com";

async fn joined(h: &Harness) -> Device {
    let secret = h.add_user(UPN).await;
    let token = h.mfa_token(UPN, &secret).await;
    h.join(&token, "cloud").await
}

struct Resp {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

async fn post_session(
    h: &Harness,
    d: &Device,
    upn: &str,
    nonce: &str,
    body: &str,
    sign: bool,
) -> Resp {
    let hash = hex::encode(Sha256::digest(body.as_bytes()));
    let msg = proof_message(
        Purpose::PolicySync,
        nonce,
        &[&h.tenant_id, &d.id, upn, &hash],
    );
    let sig = if sign {
        d.sign(&msg)
    } else {
        Device::new().sign(&msg)
    };
    let resp = h
        .client
        .post(format!("{}/v1/policy/session", h.url))
        .header("content-type", "application/vnd.syncml.dm+xml")
        .header("x-latchkey-device-id", &d.id)
        .header("x-latchkey-upn", upn)
        .header("x-latchkey-nonce", nonce)
        .header("x-latchkey-device-signature", sig)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    Resp {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.text().await.unwrap(),
    }
}

fn opening(d: &Device, session: &str) -> String {
    let info = DeviceInfo {
        dev_id: d.id.clone(),
        manufacturer: "Latchkey".into(),
        model: "test".into(),
        language: "en-US".into(),
        dm_version: "1.2".into(),
    };
    to_xml(&open_session(
        &info,
        session,
        "https://latchkey.test/v1/policy/session",
    ))
}

#[tokio::test]
async fn session_delivers_effective_policy_and_records_statuses() {
    let h = Harness::start().await;
    let d = joined(&h).await;
    let t = h.tenant_id.clone();
    // Device CSP: MinimumPINLength 8; computer GPO for the pilot group (alice's device via its
    // owner): Enabled, MinimumPINLength 10 (GP wins the PIN group).
    let xml = format!(
        "<SyncML xmlns=\"SYNCML:SYNCML1.2\"><SyncBody><Replace><CmdID>1</CmdID><Item><Target><LocURI>./Device/Vendor/MSFT/PassportForWork/{t}/Policies/PINComplexity/MinimumPINLength</LocURI></Target><Meta><Format xmlns=\"syncml:metinf\">int</Format></Meta><Data>8</Data></Item></Replace><Replace><CmdID>2</CmdID><Item><Target><LocURI>./Device/Vendor/MSFT/PassportForWork/{t}/Policies/RequireSecurityDevice</LocURI></Target><Meta><Format xmlns=\"syncml:metinf\">bool</Format></Meta><Data>true</Data></Item></Replace></SyncBody></SyncML>"
    );
    h.admin.apply_syncml(&xml, None).await.unwrap();
    h.admin.group_add("Pilot").await.unwrap();
    h.admin
        .group_member("pilot", Some(UPN), None, true)
        .await
        .unwrap();
    let v = h
        .admin
        .gpo_set(
            "WHfB",
            GpoScope::Computer,
            Some(Some("pilot".into())),
            None,
            &["Enabled=1".into(), "MinimumPINLength=10".into()],
        )
        .await
        .unwrap();

    let nonce = h.nonce(Purpose::PolicySync).await;
    let r = post_session(&h, &d, UPN, &nonce, &opening(&d, "s1"), true).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.headers["x-latchkey-policy-version"],
        v.to_string().as_str()
    );
    let next = r.headers["x-latchkey-next-nonce"]
        .to_str()
        .unwrap()
        .to_owned();
    let reply = parse_message(&r.body, &Limits::default()).unwrap();
    let replaces: Vec<(String, String, String)> = reply
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::Item(ic) => Some((
                ic.cmd_id.clone().unwrap(),
                ic.items[0].target.clone().unwrap(),
                ic.items[0].data.clone().unwrap(),
            )),
            _ => None,
        })
        .collect();
    let find = |suffix: &str| {
        replaces
            .iter()
            .find(|(_, t, _)| t.ends_with(suffix))
            .unwrap_or_else(|| panic!("{suffix} not sent: {replaces:?}"))
            .2
            .clone()
    };
    assert_eq!(find("/PINComplexity/MinimumPINLength"), "10");
    assert_eq!(find("/UsePassportForWork"), "true");
    assert_eq!(find("/RequireSecurityDevice"), "true");

    // Message 2: the device's statuses (one failed).
    let statuses: Vec<Command> = replaces
        .iter()
        .enumerate()
        .map(|(i, (id, target, _))| {
            Command::Status(StatusElement {
                cmd_id: (i + 1).to_string(),
                msg_ref: "1".into(),
                cmd_ref: id.clone(),
                cmd: "Replace".into(),
                target_ref: Some(target.clone()),
                data: if i == 0 { "500".into() } else { "200".into() },
            })
        })
        .collect();
    let msg2 = to_xml(&SyncMl {
        header: Some(SyncHdr {
            ver_dtd: "1.2".into(),
            ver_proto: "DM/1.2".into(),
            session_id: "s1".into(),
            msg_id: "2".into(),
            target: Some("https://latchkey.test/v1/policy/session".into()),
            source: Some(d.id.clone()),
            has_cred: false,
        }),
        commands: statuses,
        final_flag: true,
    });
    let r2 = post_session(&h, &d, UPN, &next, &msg2, true).await;
    assert_eq!(r2.status, 200, "{}", r2.body);
    let sessions = h.admin.policy_sessions(&d.id).await.unwrap();
    assert_eq!(sessions[0].failed, Some(1));
    assert_eq!(sessions[0].commands, replaces.len() as i64);
    // The same nonce again: replay. The closed session again: unknown.
    let r3 = post_session(&h, &d, UPN, &next, &msg2, true).await;
    assert_error(
        &(r3.status, serde_json::from_str(&r3.body).unwrap()),
        "LK-NONCE-003",
    );
    let n = h.nonce(Purpose::PolicySync).await;
    let r4 = post_session(&h, &d, UPN, &n, &msg2, true).await;
    assert_error(
        &(r4.status, serde_json::from_str(&r4.body).unwrap()),
        "LK-SYNCML-003",
    );
    let events: Vec<String> = h.audit().await.into_iter().map(|a| a.event).collect();
    assert!(events.contains(&"policy_session_open".to_owned()));
    assert!(events.contains(&"policy_session_close".to_owned()));
}

#[tokio::test]
async fn effective_json_and_bad_proofs() {
    let h = Harness::start().await;
    let d = joined(&h).await;
    h.admin
        .gpo_set(
            "u",
            GpoScope::User,
            None,
            None,
            &["Digits=2".into(), "UppercaseLetters=1".into()],
        )
        .await
        .unwrap();
    let empty = hex::encode(Sha256::digest(b""));
    let body = |nonce: &str, signer: &Device| {
        let msg = proof_message(
            Purpose::PolicySync,
            nonce,
            &[&h.tenant_id, &d.id, UPN, &empty],
        );
        json!({"device_id": d.id, "upn": UPN, "nonce": nonce, "device_signature": signer.sign(&msg)})
    };
    let nonce = h.nonce(Purpose::PolicySync).await;
    let (status, v) = h
        .post("/v1/policy/effective", &body(&nonce, &d), None)
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["version"], 1);
    assert_eq!(v["policy"]["pin"]["uppercase"]["value"], "required");
    assert_eq!(v["policy"]["pin"]["uppercase"]["source"], "user_gpo");
    let p: latchkey_policy::EffectivePolicy = serde_json::from_value(v["policy"].clone()).unwrap();
    assert_eq!(p.pin.uppercase.source, Source::UserGpo);

    // Bad proofs: another key, a nonce for another purpose, a replayed nonce.
    let n = h.nonce(Purpose::PolicySync).await;
    assert_error(
        &h.post("/v1/policy/effective", &body(&n, &Device::new()), None)
            .await,
        "LK-DEV-003",
    );
    let n = h.nonce(Purpose::SignIn).await;
    assert_error(
        &h.post("/v1/policy/effective", &body(&n, &d), None).await,
        "LK-NONCE-004",
    );
    assert_error(
        &h.post("/v1/policy/effective", &body(&nonce, &d), None)
            .await,
        "LK-NONCE-003",
    );

    // Session: bad signature, wrong media type, malformed SyncML (all JSON errors).
    let n = h.nonce(Purpose::PolicySync).await;
    let r = post_session(&h, &d, UPN, &n, &opening(&d, "x"), false).await;
    assert_error(
        &(r.status, serde_json::from_str::<Value>(&r.body).unwrap()),
        "LK-DEV-003",
    );
    let n = h.nonce(Purpose::PolicySync).await;
    let r = post_session(&h, &d, UPN, &n, "<SyncML", true).await;
    assert_error(
        &(r.status, serde_json::from_str::<Value>(&r.body).unwrap()),
        "LK-SYNCML-001",
    );
    let resp = h
        .client
        .post(format!("{}/v1/policy/session", h.url))
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 415);
    // A user with no relation to the device.
    h.add_user("bob@example.com").await;
    let n = h.nonce(Purpose::PolicySync).await;
    let r = post_session(&h, &d, "bob@example.com", &n, &opening(&d, "y"), true).await;
    assert_error(
        &(r.status, serde_json::from_str::<Value>(&r.body).unwrap()),
        "LK-AUTH-006",
    );
}
