//! The pages and OAuth over real HTTP where they meet the rest of the service: the PIN
//! recovery advice on Security info, certificates on the Administration page, a rotated
//! application secret at the token endpoint, the OpenID discovery document, and an
//! administrator deleting a security key and revoking a certificate on the pages.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use common::cert::enrolled_with_cert;
use common::{Harness, WebHarness};
use latchkeyd::data_admin::AdminError;
use serde_json::{json, Value};

fn policy(tenant: &str, value: bool) -> String {
    format!(
        "<SyncML xmlns=\"SYNCML:SYNCML1.2\"><SyncBody><Replace><CmdID>1</CmdID><Item><Target>\
         <LocURI>./Device/Vendor/MSFT/PassportForWork/{tenant}/Policies/EnablePinRecovery</LocURI></Target>\
         <Meta><Format xmlns=\"syncml:metinf\">bool</Format></Meta><Data>{value}</Data></Item>\
         </Replace></SyncBody></SyncML>"
    )
}

async fn set_recovery(h: &Harness, on: bool) {
    h.admin
        .apply_syncml(&policy(&h.tenant_id, on), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_discovery_document_points_at_this_service() {
    let h = Harness::web().await;
    let (status, discovery) = h.get("/.well-known/openid-configuration").await;
    assert_eq!(status, 200, "{discovery}");
    let discovery: Value = serde_json::from_str(&discovery).unwrap();
    assert_eq!(discovery["issuer"], h.url);
    assert_eq!(discovery["jwks_uri"], format!("{}/v1/jwks", h.url));
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        json!(["ES256"])
    );
    let (status, _) = h.get("/v1/jwks").await;
    assert_eq!(status, 200);
    // Without the web crate's routes the API alone has no discovery document.
    let api_only = Harness::start().await;
    let (status, _) = api_only.get("/.well-known/openid-configuration").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_security_info_page_tells_a_user_who_forgot_the_pin_what_to_run() {
    let h = Harness::web().await;
    let secret = h.add_user("kim@example.com").await;
    let browser = common::web::Browser::new(&h, "127.0.0.1").await;
    let session = browser.sign_in(&h, "kim@example.com", &secret).await;
    let section = |html: &str| {
        html.split("id=\"forgot-pin\"")
            .nth(1)
            .and_then(|rest| rest.split("</section>").next())
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no PIN section in {html}"))
    };
    let (_, html) = browser.get(&h, &session.cookie, "/security-info").await;
    let off = section(&html);
    assert!(off.contains("latchkey pin reset"), "{off}");
    assert!(off.contains("A new Hello key will be made"), "{off}");
    set_recovery(&h, true).await;
    let (_, html) = browser.get(&h, &session.cookie, "/security-info").await;
    let on = section(&html);
    assert!(on.contains("latchkey pin reset"), "{on}");
    assert!(on.contains("your Hello key stays the same"), "{on}");
}

#[tokio::test]
async fn the_admin_page_lists_certificates_and_security_info_shows_the_users_own() {
    let h = Harness::web().await;
    let (e, answer, _) = enrolled_with_cert(&h, "alice@example.com", 0).await;
    let serial = answer["serial"].as_str().unwrap().to_owned();
    h.admin
        .revoke_certificate(&serial, "superseded")
        .await
        .unwrap();
    h.admin.group_add("latchkey-admins").await.unwrap();
    h.admin
        .group_member("latchkey-admins", Some(&e.upn), None, true)
        .await
        .unwrap();
    let b = common::web::Browser::new(&h, "127.0.0.1").await;
    let session = b.sign_in(&h, &e.upn, &e.secret).await;
    let (status, page) = b.get(&h, &session.cookie, "/admin/certificates").await;
    assert_eq!(status, 200, "{page}");
    let section = page.split("id=\"certificates\"").nth(1).unwrap();
    assert!(section.contains(&serial), "{section}");
    assert!(section.contains("Revoked (superseded)"), "{section}");
    assert!(section.contains(&e.device.id));
    assert!(section.contains("Hello authentication"));
    let (status, page) = b.get(&h, &session.cookie, "/security-info").await;
    assert_eq!(status, 200);
    let mine = page.split("id=\"certificates\"").nth(1).unwrap();
    assert!(mine.contains(&serial), "{mine}");
}

#[tokio::test]
async fn a_rotated_client_secret_replaces_the_old_one_at_once() {
    let h = Harness::web().await;
    let redirect = "https://app.example.com/cb".to_owned();
    let client = h
        .admin
        .client_add("App", std::slice::from_ref(&redirect), false)
        .await
        .unwrap();
    let old = client.client_secret.clone().unwrap();
    let token = |secret: String| {
        let body = format!(
            "grant_type=authorization_code&code=nope&redirect_uri={}&client_id={}&client_secret={}",
            "https%3A%2F%2Fapp.example.com%2Fcb", client.client_id, secret
        );
        let request = h
            .client
            .post(format!("{}/oauth2/token", h.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    // The old secret authenticates (the bogus code is then the only problem).
    assert_eq!(token(old.clone()).await, 400);
    let new = h
        .admin
        .client_rotate_secret(&client.client_id)
        .await
        .unwrap();
    assert_ne!(new.client_secret, old);
    assert_eq!(token(old).await, 401);
    assert_eq!(token(new.client_secret).await, 400);

    h.admin.client_delete(&client.client_id).await.unwrap();
    assert!(matches!(
        h.admin.client_rotate_secret(&client.client_id).await,
        Err(AdminError::NoSuchClient(_))
    ));
    assert!(h.admin.clients().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_deletes_a_security_key_and_revokes_a_certificate_after_confirming() {
    let h = Harness::web().await;
    let (e, answer, _) = enrolled_with_cert(&h, "alice@example.com", 0).await;
    let serial = answer["serial"].as_str().unwrap().to_owned();
    h.admin.group_add("latchkey-admins").await.unwrap();
    h.admin
        .group_member("latchkey-admins", Some(&e.upn), None, true)
        .await
        .unwrap();
    common::web::enable_security_keys(&h).await;
    let b = common::web::Browser::new(&h, "127.0.0.1").await;
    let s = b.sign_in(&h, &e.upn, &e.secret).await;
    b.register_security_key(&h, &s, "YubiKey", b"admin-deletes-me")
        .await;
    let keys = h.admin.security_keys(Some(&e.upn)).await.unwrap();
    assert_eq!(keys.len(), 1);
    let credential_id = keys[0].key.credential_id.clone();

    let form = |field: &'static str, value: &str, confirm: bool| {
        let mut f = vec![
            ("csrf".to_owned(), s.csrf.clone()),
            (field.to_owned(), value.to_owned()),
        ];
        if confirm {
            f.push(("confirm".to_owned(), "yes".to_owned()));
        }
        f
    };
    let post = |path: &'static str, fields: Vec<(String, String)>| {
        let (b, h, s) = (&b, &h, &s);
        async move {
            let f: Vec<(&str, &str)> = fields
                .iter()
                .map(|(a, c)| (a.as_str(), c.as_str()))
                .collect();
            b.form(h, s, path, &f).await
        }
    };

    // Asked first: the confirmation page, and nothing changes.
    let (status, page) = post(
        "/admin/security-keys/delete",
        form("credential_id", &credential_id, false),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("YubiKey"),
        "the confirmation names the key: {page}"
    );
    assert_eq!(h.admin.security_keys(Some(&e.upn)).await.unwrap().len(), 1);
    let (status, page) = post("/admin/certificates/revoke", form("serial", &serial, false)).await;
    assert_eq!(status, 200, "{page}");
    let before = h.admin.certificate(&serial).await.unwrap();
    assert_eq!(before.record.state, "valid", "asking revoked nothing");

    // Confirmed: done, and audited with the administrator.
    let (status, _) = post(
        "/admin/security-keys/delete",
        form("credential_id", &credential_id, true),
    )
    .await;
    assert_eq!(status, 303);
    assert!(h
        .admin
        .security_keys(Some(&e.upn))
        .await
        .unwrap()
        .is_empty());
    let (status, _) = post("/admin/certificates/revoke", form("serial", &serial, true)).await;
    assert_eq!(status, 303);
    let after = h.admin.certificate(&serial).await.unwrap();
    assert_eq!(after.record.state, "revoked");
    assert!(after.record.revoked_at.is_some());
    let audit = h.audit().await;
    for event in ["security_key_delete", "cert_revoke"] {
        let line = audit
            .iter()
            .find(|a| a.event == event && a.actor.as_deref() == Some(e.upn.as_str()))
            .unwrap_or_else(|| panic!("no {event} line by the administrator: {audit:?}"));
        assert_eq!(line.outcome, "success", "{event}");
    }
    // Again: the key is gone (the 404 page); revoking again changes nothing (a double
    // submit is answered like the first one, the revocation time and audit stay).
    let (status, _) = post(
        "/admin/security-keys/delete",
        form("credential_id", &credential_id, true),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = post("/admin/certificates/revoke", form("serial", &serial, true)).await;
    assert_eq!(status, 303);
    let again = h.admin.certificate(&serial).await.unwrap();
    assert_eq!(again.record.state, "revoked");
    assert_eq!(again.record.revoked_at, after.record.revoked_at);
    let revocations = h
        .audit()
        .await
        .into_iter()
        .filter(|a| a.event == "cert_revoke" && a.outcome == "success")
        .count();
    assert_eq!(revocations, 1, "one revocation on record");
}
