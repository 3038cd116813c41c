//! The web administration over real HTTP: the users list (search, keyset pages answered
//! from the index), every action behind a confirmation that works without script, the
//! refusals (not an administrator, missing or wrong anti-forgery token, unknown ids) with
//! nothing written, the audit lines naming the administrator, and the HTML error pages.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use common::web::{shown_code, Browser, Session};
use common::{enrolled, rsa_key, Enrolled, Harness, WebHarness};
use latchkey_server::storage::sqlite::directory::{prefix_end, range_start, SEARCH_USERS_SQL};

const ADMIN: &str = "root@example.com";

/// A service with an administrator signed in, and a second user with a device and a key.
async fn world() -> (Harness, Browser, Session, Enrolled) {
    let h = Harness::web().await;
    let admin_secret = h.add_user(ADMIN).await;
    h.admin.group_add("latchkey-admins").await.unwrap();
    h.admin
        .group_member("latchkey-admins", Some(ADMIN), None, true)
        .await
        .unwrap();
    let kim = enrolled(&h, "kim@example.com", rsa_key(0)).await;
    let b = Browser::new(&h, "127.0.0.1").await;
    let s = b.sign_in(&h, ADMIN, &admin_secret).await;
    (h, b, s, kim)
}

fn assert_error_page(status: u16, body: &str, want_status: u16, code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(shown_code(body).as_deref(), Some(code), "{body}");
    assert!(body.contains("<header>"), "the site's header: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_page_answers_an_administrator_and_refuses_others() {
    let (h, b, s, kim) = world().await;
    for path in [
        "/admin",
        "/admin/users",
        "/admin/devices",
        "/admin/keys",
        "/admin/security-keys",
        "/admin/certificates",
        "/admin/policy",
        "/admin/audit",
    ] {
        let (status, page) = b.get(&h, &s.cookie, path).await;
        assert_eq!(status, 200, "{path}: {page}");
        assert!(page.contains("name=\"viewport\""), "{path}");
        assert!(page.contains("aria-current=\"page\""), "{path}");
    }
    let (_, devices) = b.get(&h, &s.cookie, "/admin/devices").await;
    assert!(devices.contains(&kim.device.id));
    assert!(devices.contains("Joined (cloud)"), "{devices}");
    let (_, policy) = b.get(&h, &s.cookie, "/admin/policy").await;
    assert!(policy.contains("id=\"policy\""), "{policy}");
    // Not an administrator: 403; not signed in: 401; both HTML with the code.
    let kb = Browser::new(&h, "127.0.0.2").await;
    let ks = kb.sign_in(&h, &kim.upn, &kim.secret).await;
    let (status, body) = kb.get(&h, &ks.cookie, "/admin/users").await;
    assert_error_page(status, &body, 403, "LK-WEB-003");
    let (status, body) = kb.get(&h, "", "/admin/devices").await;
    assert_error_page(status, &body, 401, "LK-WEB-002");
    // Unknown pages under the pages' paths: the HTML 404 with the header.
    let (status, body) = b.get(&h, &s.cookie, "/admin/nope").await;
    assert_error_page(status, &body, 404, "LK-REQ-004");
    assert!(body.contains("Page not found"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_searched_by_prefix_and_paged_by_keyset() {
    let (h, b, s, _) = world().await;
    for i in 0..55 {
        h.admin
            .add_user(&format!("p{i:03}@example.com"), "long enough pw", None)
            .await
            .unwrap();
    }
    let (status, first) = b.get(&h, &s.cookie, "/admin/users?q=p").await;
    assert_eq!(status, 200, "{first}");
    assert!(first.contains("p000@example.com") && first.contains("p049@example.com"));
    assert!(!first.contains("p050@example.com"));
    let table = first.split("id=\"users\"").nth(1).unwrap();
    assert!(!table.contains(ADMIN), "only the prefix's users");
    let next = first
        .split("id=\"next-page\" href=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .replace("&amp;", "&");
    let (_, second) = b.get(&h, &s.cookie, &next).await;
    assert!(second.contains("p050@example.com") && second.contains("p054@example.com"));
    assert!(!second.contains("p049@example.com"));
    assert!(!second.contains("id=\"next-page\""), "the last page");
    let (_, none) = b.get(&h, &s.cookie, "/admin/users?q=zzz").await;
    assert!(none.contains("No users match."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_users_page_query_walks_the_upn_index() {
    let h = Harness::web().await;
    h.add_user("a@example.com").await;
    let path = h.data_dir().join("latchkey.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=ro", path.display()))
        .await
        .unwrap();
    let plan: Vec<(i64, i64, i64, String)> =
        sqlx::query_as(&format!("EXPLAIN QUERY PLAN {SEARCH_USERS_SQL}"))
            .bind(&h.tenant_id)
            .bind(range_start("a", Some("a1@example.com")))
            .bind(prefix_end("a"))
            .bind("a1@example.com")
            .bind(50_i64)
            .fetch_all(&pool)
            .await
            .unwrap();
    let details: Vec<&str> = plan.iter().map(|r| r.3.as_str()).collect();
    assert_eq!(details.len(), 1, "{details:?}");
    assert!(
        details[0].starts_with("SEARCH users USING INDEX sqlite_autoindex_users_")
            && details[0].contains("tenant_id=? AND upn>? AND upn<?"),
        "{details:?}"
    );
    assert!(
        !details.iter().any(|d| d.contains("TEMP B-TREE")),
        "{details:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destructive_actions_ask_first_and_cancel_changes_nothing() {
    let (h, b, s, kim) = world().await;
    let before = h.counts().await;
    let id = kim.device.id.as_str();
    let key = kim.key.key_id();
    for (path, field, value, title) in [
        (
            "/admin/devices/disable",
            "device_id",
            id,
            "Disable this device?",
        ),
        (
            "/admin/devices/delete",
            "device_id",
            id,
            "Delete this device?",
        ),
        (
            "/admin/keys/delete",
            "key_id",
            key.as_str(),
            "Delete this Windows Hello key?",
        ),
        (
            "/admin/users/disable",
            "upn",
            kim.upn.as_str(),
            "Disable this user?",
        ),
        (
            "/admin/users/reset-mfa",
            "upn",
            kim.upn.as_str(),
            "Reset this user",
        ),
    ] {
        let (status, page) = b
            .form(&h, &s, path, &[("csrf", &s.csrf), (field, value)])
            .await;
        assert_eq!(status, 200, "{path}: {page}");
        assert!(page.contains(title), "{path}: {page}");
        // The confirmation form posts the same fields again with confirm=yes, no script.
        assert!(page.contains(&format!("action=\"{path}\"")), "{page}");
        assert!(page.contains("name=\"confirm\" value=\"yes\""), "{page}");
        assert!(page.contains("id=\"cancel\""), "{page}");
        assert!(page.contains(&format!("value=\"{}\"", s.csrf)), "{page}");
        assert_eq!(h.counts().await, before, "{path} asked only");
    }
    let acted: Vec<_> = h
        .audit()
        .await
        .into_iter()
        .filter(|a| a.actor.as_deref() == Some(ADMIN) && a.event != "web_signin")
        .collect();
    assert!(acted.is_empty(), "{acted:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmed_actions_happen_and_are_audited_with_the_administrator() {
    let (h, b, s, kim) = world().await;
    let yes = |field: &'static str, value: String| {
        vec![
            ("csrf".to_owned(), s.csrf.clone()),
            (field.to_owned(), value),
            ("confirm".to_owned(), "yes".to_owned()),
        ]
    };
    let post = |path: &'static str, fields: Vec<(String, String)>| {
        let b = &b;
        let h = &h;
        let s = &s;
        async move {
            let f: Vec<(&str, &str)> = fields
                .iter()
                .map(|(a, c)| (a.as_str(), c.as_str()))
                .collect();
            b.form(h, s, path, &f).await
        }
    };
    let (status, body) = post("/admin/users/reset-mfa", yes("upn", kim.upn.clone())).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("otpauth://totp/"), "{body}");
    assert!(body.contains("<svg class=\"qr\""), "{body}");
    // The old secret's codes no longer work.
    let old = h.otp(&kim.secret, 0);
    let (status, _) = h.password(&kim.upn, common::PASSWORD, Some(&old)).await;
    assert_ne!(status, 200);

    assert_eq!(
        post("/admin/users/disable", yes("upn", kim.upn.clone()))
            .await
            .0,
        303
    );
    assert!(h.admin.user(&kim.upn).await.unwrap().disabled);
    assert_eq!(
        post("/admin/users/enable", yes("upn", kim.upn.clone()))
            .await
            .0,
        303
    );
    assert!(!h.admin.user(&kim.upn).await.unwrap().disabled);

    assert_eq!(
        post(
            "/admin/devices/disable",
            yes("device_id", kim.device.id.clone())
        )
        .await
        .0,
        303
    );
    assert!(h.admin.device(&kim.device.id).await.unwrap().disabled);
    assert_eq!(
        post(
            "/admin/devices/enable",
            yes("device_id", kim.device.id.clone())
        )
        .await
        .0,
        303
    );
    assert!(!h.admin.device(&kim.device.id).await.unwrap().disabled);
    assert_eq!(
        post("/admin/keys/delete", yes("key_id", kim.key.key_id()))
            .await
            .0,
        303
    );
    assert_eq!(h.counts().await.keys, 0);
    assert_eq!(
        post(
            "/admin/devices/delete",
            yes("device_id", kim.device.id.clone())
        )
        .await
        .0,
        303
    );
    assert_eq!(h.counts().await.devices, 0);

    let audit = h.audit().await;
    for event in [
        "user_reset_mfa",
        "user_disable",
        "user_enable",
        "device_disable",
        "device_enable",
        "key_delete",
        "device_delete",
    ] {
        let line = audit
            .iter()
            .find(|a| a.event == event)
            .unwrap_or_else(|| panic!("no {event} line"));
        assert_eq!(line.actor.as_deref(), Some(ADMIN), "{event}");
        assert_eq!(line.outcome, "success", "{event}");
        assert_eq!(line.source.as_deref(), Some("127.0.0.1"), "{event}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_actions_write_nothing() {
    let (h, b, s, kim) = world().await;
    let actions = [
        ("/admin/users/disable", "upn", kim.upn.clone()),
        ("/admin/users/enable", "upn", kim.upn.clone()),
        ("/admin/users/reset-mfa", "upn", kim.upn.clone()),
        ("/admin/devices/disable", "device_id", kim.device.id.clone()),
        ("/admin/devices/enable", "device_id", kim.device.id.clone()),
        ("/admin/devices/delete", "device_id", kim.device.id.clone()),
        ("/admin/keys/delete", "key_id", kim.key.key_id()),
        (
            "/admin/security-keys/delete",
            "credential_id",
            "AAAA".to_owned(),
        ),
        ("/admin/certificates/revoke", "serial", "01".to_owned()),
    ];
    let last = if s.csrf.ends_with('x') { "y" } else { "x" };
    let wrong = format!("{}{last}", &s.csrf[..s.csrf.len() - 1]);
    let kb = Browser::new(&h, "127.0.0.2").await;
    let ks = kb.sign_in(&h, &kim.upn, &kim.secret).await;
    let before = h.counts().await;
    let audit_before = h.audit().await.len();
    for (path, field, value) in &actions {
        // Missing and wrong anti-forgery tokens.
        for token in [None, Some(wrong.as_str())] {
            let mut fields = vec![(*field, value.as_str()), ("confirm", "yes")];
            if let Some(t) = token {
                fields.push(("csrf", t));
            }
            let (status, body) = b.form(&h, &s, path, &fields).await;
            assert_error_page(status, &body, 403, "LK-WEB-001");
        }
        // Not an administrator, with its own valid token.
        let (status, body) = kb
            .form(
                &h,
                &ks,
                path,
                &[("csrf", &ks.csrf), (field, value), ("confirm", "yes")],
            )
            .await;
        assert_error_page(status, &body, 403, "LK-WEB-003");
        // Unknown ids: 404, confirmed or not.
        for confirm in ["", "yes"] {
            let (status, body) = b
                .form(
                    &h,
                    &s,
                    path,
                    &[
                        ("csrf", &s.csrf),
                        (field, "no-such-id"),
                        ("confirm", confirm),
                    ],
                )
                .await;
            assert_error_page(status, &body, 404, "LK-WEB-004");
        }
    }
    assert_eq!(h.counts().await, before);
    assert_eq!(
        h.audit().await.len(),
        audit_before,
        "no line for refused web actions"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_added_with_their_secret_shown_once() {
    let (h, b, s, _) = world().await;
    let (status, body) = b
        .form(
            &h,
            &s,
            "/admin/users/add",
            &[
                ("csrf", &s.csrf),
                ("upn", "New@Example.com"),
                ("display_name", "New Person"),
                ("password", "long enough pw"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("otpauth://totp/"), "{body}");
    let user = h.admin.user("new@example.com").await.unwrap();
    assert_eq!(user.display_name, "New Person");
    let line = h
        .audit()
        .await
        .into_iter()
        .find(|a| a.event == "user_create" && a.actor.as_deref() == Some(ADMIN));
    assert!(line.is_some());
    // Twice: refused with a message a person reads, nothing written.
    let count = h.counts().await;
    let (status, body) = b
        .form(
            &h,
            &s,
            "/admin/users/add",
            &[
                ("csrf", &s.csrf),
                ("upn", "new@example.com"),
                ("password", "long enough pw"),
            ],
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body.contains("A user with this name exists already."),
        "{body}"
    );
    let (status, body) = b
        .form(
            &h,
            &s,
            "/admin/users/add",
            &[
                ("csrf", &s.csrf),
                ("upn", "x@example.com"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("at least 8 characters"), "{body}");
    assert!(!body.contains("password`"), "no field names from the code");
    assert_eq!(h.counts().await, count);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_errors_speak_to_people_not_in_field_names() {
    let (h, b, s, _) = world().await;
    // Not a form: 400 with the code, no parser or field name.
    let r = b
        .client
        .post(format!("{}/admin/users/disable", h.url))
        .header("cookie", &s.cookie)
        .header("content-type", "text/plain")
        .body("upn=x")
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body = r.text().await.unwrap();
    assert_error_page(status, &body, 400, "LK-REQ-001");
    assert!(body.contains("The form could not be read"), "{body}");
    assert!(
        !body.contains("urlencoded") && !body.contains("JSON"),
        "{body}"
    );
    // A user name the sign-in refuses (control characters): no `upn` in the message.
    let r = b
        .client
        .post(format!("{}/signin/password", h.url))
        .header("cookie", &b.csrf_cookie)
        .form(&[
            ("csrf", b.csrf()),
            ("upn", "a\u{7}b@example.com"),
            ("password", "x"),
            ("otp", "123456"),
        ])
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body = r.text().await.unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(!body.contains("`upn`"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_and_keys_pages_narrow_to_an_owner_and_page_by_id() {
    let (h, b, s, kim) = world().await;
    let key_id = kim.key.key_id();
    for (path, id) in [("/admin/devices", &kim.device.id), ("/admin/keys", &key_id)] {
        let (_, all) = b.get(&h, &s.cookie, path).await;
        assert!(all.contains(id.as_str()), "{path}: {all}");
        assert!(all.contains("id=\"owner\""), "the owner search: {all}");
        // Upper case and spaces in the owner are forgiven, as for the users search.
        let (status, mine) = b
            .get(&h, &s.cookie, &format!("{path}?owner=+KIM%40example.com+"))
            .await;
        assert_eq!(status, 200, "{mine}");
        assert!(mine.contains(id.as_str()), "{path} of kim: {mine}");
        let (_, nobody) = b
            .get(&h, &s.cookie, &format!("{path}?owner=nobody%40example.com"))
            .await;
        assert!(!nobody.contains(id.as_str()), "{path} of nobody: {nobody}");
        assert!(
            nobody.contains(" here."),
            "the empty list says so: {nobody}"
        );
        // The page after the last id is empty and links back to the first.
        let (_, after) = b.get(&h, &s.cookie, &format!("{path}?after={id}")).await;
        assert!(
            !after.contains(&format!("<code>{id}</code>")),
            "{path} after: {after}"
        );
        assert!(after.contains("First page"), "{after}");
    }
}
