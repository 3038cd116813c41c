//! The web pages' defences, against the real service over loopback HTTPS (and plain HTTP
//! where that is the point): cookie attributes, the anti-forgery token on every
//! state-changing form, session expiry on the service clock, the password rate limit, and
//! the tenant's required trusted root refusing a `none`-attested security key.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use common::web::{cbor, p256_cose, Browser, Session};
use common::{enrolled, p256_key, Harness, WebHarness, PASSWORD};
use latchkey_server::storage::web::SecurityKeySettings;
use latchkey_web::SESSION_LIFETIME_SECS;
use serde_json::{json, Value};

const REDIRECT: &str = "http://localhost:9/cb";
/// RFC 7636 appendix B's challenge.
const PKCE: &str =
    "code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";

/// A client that does not follow redirects and trusts the tenant CA.
fn browser(h: &Harness) -> reqwest::Client {
    let ca = std::fs::read(h.data_dir().join("ca.pem")).unwrap();
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The whole `Set-Cookie` header for cookie `name`, if sent.
fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

fn attributes(set_cookie: &str) -> Vec<String> {
    set_cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect()
}

/// The `lk_csrf` cookie pair and the `Set-Cookie` of a fresh sign-in page.
async fn signin_page(url: &str, b: &reqwest::Client) -> (String, String) {
    let page = b.get(format!("{url}/signin")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let header = set_cookie(&page, "lk_csrf").expect("an anti-forgery cookie");
    (pair(&header), header)
}

/// Posts the password form; the raw response.
async fn post_password(
    url: &str,
    b: &reqwest::Client,
    csrf_cookie: &str,
    upn: &str,
    password: &str,
    otp: &str,
) -> reqwest::Response {
    let csrf = csrf_cookie.split_once('=').unwrap().1;
    b.post(format!("{url}/signin/password"))
        .header("cookie", csrf_cookie)
        .form(&[
            ("csrf", csrf),
            ("upn", upn),
            ("password", password),
            ("otp", otp),
        ])
        .send()
        .await
        .unwrap()
}

/// Password + TOTP sign-in on the web page through `b`.
async fn web_signin(h: &Harness, b: &reqwest::Client, upn: &str, secret: &[u8]) -> Session {
    Browser::with_client(h, b.clone())
        .await
        .sign_in(h, upn, secret)
        .await
}

async fn get(h: &Harness, b: &reqwest::Client, cookie: &str, path: &str) -> (u16, String) {
    let r = b
        .get(format!("{}{path}", h.url))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Posts a form as the signed-in browser; status and body.
async fn form(
    h: &Harness,
    b: &reqwest::Client,
    s: &Session,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let r = b
        .post(format!("{}{path}", h.url))
        .header("cookie", &s.cookie)
        .form(fields)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Posts JSON to a script endpoint as the signed-in browser, with `csrf` in the header.
async fn script(
    h: &Harness,
    b: &reqwest::Client,
    s: &Session,
    csrf: Option<&str>,
    path: &str,
    body: &Value,
) -> (u16, Value) {
    let mut req = b
        .post(format!("{}{path}", h.url))
        .header("cookie", &s.cookie)
        .json(body);
    if let Some(token) = csrf {
        req = req.header("x-csrf-token", token);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Registers a security key with `none` attestation (a P-256 credential, UP and UV set),
/// as an authenticator would answer the service's creation options.
async fn register_none_key(
    h: &Harness,
    b: &reqwest::Client,
    s: &Session,
    name: &str,
) -> (u16, Value) {
    let key = p256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
    register_none_cose(h, b, s, name, &p256_cose(&key)).await
}

/// Registers a credential whose public key is the COSE_Key `cose`, with `none` attestation.
async fn register_none_cose(
    h: &Harness,
    b: &reqwest::Client,
    s: &Session,
    name: &str,
    cose: &[u8],
) -> (u16, Value) {
    let id = rand_core::RngCore::next_u64(&mut rand_core::OsRng)
        .to_be_bytes()
        .repeat(2);
    let browser = Browser {
        client: b.clone(),
        csrf_cookie: String::new(),
    };
    browser.register_cose(h, s, name, cose, &id).await
}

/// Everything the forms below could change: security keys, devices, Hello keys.
async fn snapshot(h: &Harness) -> Value {
    json!({
        "security_keys": h.admin.security_keys(None).await.unwrap(),
        "devices": h.admin.devices().await.unwrap(),
        "keys": h.admin.keys(None).await.unwrap(),
    })
}

fn assert_page_error(response: &(u16, String), code: &str) {
    let expected = latchkey_proto::ErrorCode::from_code(code).unwrap();
    assert_eq!(response.0, expected.http_status(), "{}", response.1);
    assert!(response.1.contains(code), "{}", response.1);
}

#[tokio::test]
async fn session_cookies_are_http_only_same_site_and_secure_under_https() {
    let h = Harness::web().await;
    let secret = h.add_user("erin@example.com").await;
    let b = browser(&h);
    let (csrf_cookie, csrf_header) = signin_page(&h.url, &b).await;
    let resp = post_password(
        &h.url,
        &b,
        &csrf_cookie,
        "erin@example.com",
        PASSWORD,
        &h.otp(&secret, 0),
    )
    .await;
    assert_eq!(resp.status(), 303);
    let session = set_cookie(&resp, "lk_session").expect("a session cookie");
    for header in [&session, &csrf_header] {
        let attrs = attributes(header);
        for wanted in ["httponly", "samesite=lax", "secure", "path=/"] {
            assert!(attrs.iter().any(|a| a == wanted), "{wanted} in {header}");
        }
    }
    assert!(attributes(&session).contains(&format!("max-age={SESSION_LIFETIME_SECS}")));

    // Plain HTTP on loopback (--insecure-http): the same cookies without Secure, which a
    // browser would refuse to send back over http.
    let dir = tempfile::tempdir().unwrap();
    let mut config =
        latchkey_server::ServerConfig::new(dir.path().join("data"), "127.0.0.1:0".parse().unwrap());
    config.insecure_http = true;
    let plain = latchkey_server::start_with(config, common::env(&h.clock), latchkey_web::router())
        .await
        .unwrap();
    assert!(plain.base_url.starts_with("http://"), "{}", plain.base_url);
    let b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (_, csrf_header) = signin_page(&plain.base_url, &b).await;
    let attrs = attributes(&csrf_header);
    assert!(attrs.contains(&"httponly".to_owned()), "{csrf_header}");
    assert!(attrs.contains(&"samesite=lax".to_owned()), "{csrf_header}");
    assert!(!attrs.contains(&"secure".to_owned()), "{csrf_header}");
    plain.shutdown().await;
}

#[tokio::test]
async fn state_changing_forms_refuse_a_missing_or_wrong_csrf_token_and_change_nothing() {
    let h = Harness::web().await;
    let upn = "frank@example.com";
    let user = enrolled(&h, upn, p256_key()).await;
    h.admin.group_add("latchkey-admins").await.unwrap();
    h.admin
        .group_member("latchkey-admins", Some(upn), None, true)
        .await
        .unwrap();
    let b = browser(&h);
    // Before signing in: the password form without the token, or with one that is not the
    // cookie's, starts no session.
    let (csrf_cookie, _) = signin_page(&h.url, &b).await;
    let otp = h.otp(&user.secret, 1);
    for token in [None, Some("not-the-cookie-value")] {
        let mut fields = vec![("upn", upn), ("password", PASSWORD), ("otp", &otp)];
        if let Some(t) = token {
            fields.push(("csrf", t));
        }
        let r = b
            .post(format!("{}/signin/password", h.url))
            .header("cookie", &csrf_cookie)
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert!(set_cookie(&r, "lk_session").is_none());
        let response = (r.status().as_u16(), r.text().await.unwrap());
        assert_page_error(&response, "LK-WEB-001");
    }
    let s = web_signin(&h, &b, upn, &user.secret).await;

    // The script endpoint refuses a missing or wrong X-CSRF-Token before any ceremony.
    for token in [None, Some("wrong-token-wrong-token")] {
        let (status, body) = script(
            &h,
            &b,
            &s,
            token,
            "/web/security-keys/register/begin",
            &json!({"name": "Forged"}),
        )
        .await;
        common::assert_error(&(status, body), "LK-WEB-001");
    }
    let (status, body) = register_none_key(&h, &b, &s, "Green key").await;
    assert_eq!(status, 200, "{body}");
    let listed = h.admin.security_keys(Some(upn)).await.unwrap();
    assert_eq!(listed.len(), 1);
    let credential_id = listed[0].key.credential_id.clone();
    let device_id = user.device.id.clone();
    let key_id = user.key.key_id();
    let before = snapshot(&h).await;
    assert_eq!(before["devices"][0]["disabled"], false, "{before}");
    assert_eq!(before["keys"].as_array().unwrap().len(), 1, "{before}");

    let forms: [(&str, Vec<(&str, &str)>); 6] = [
        (
            "/security-info/keys/rename",
            vec![("credential_id", &credential_id), ("name", "Stolen")],
        ),
        (
            "/security-info/keys/remove",
            vec![("credential_id", &credential_id)],
        ),
        ("/signout", vec![]),
        ("/admin/devices/disable", vec![("device_id", &device_id)]),
        ("/admin/keys/delete", vec![("key_id", &key_id)]),
        (
            "/admin/security-keys/delete",
            vec![("credential_id", &credential_id)],
        ),
    ];
    // One character changed (to one it is not already: a token ending in `x` once made
    // this "wrong" token the right one).
    let last = if s.csrf.ends_with('x') { "y" } else { "x" };
    let wrong = format!("{}{last}", &s.csrf[..s.csrf.len() - 1]);
    for (path, fields) in &forms {
        for token in [None, Some(""), Some(wrong.as_str())] {
            let mut fields = fields.clone();
            if let Some(t) = token {
                fields.push(("csrf", t));
            }
            let response = form(&h, &b, &s, path, &fields).await;
            assert_page_error(&response, "LK-WEB-001");
            assert_eq!(snapshot(&h).await, before, "{path} with {token:?}");
            assert_eq!(get(&h, &b, &s.cookie, "/security-info").await.0, 200);
        }
    }

    // The same forms with the session's token do what they say (so the refusals above are
    // the token's doing).
    let mut fields = forms[0].1.clone();
    fields.push(("csrf", &s.csrf));
    assert_eq!(form(&h, &b, &s, forms[0].0, &fields).await.0, 303);
    assert_eq!(
        h.admin.security_keys(Some(upn)).await.unwrap()[0].key.name,
        "Stolen"
    );
    for (path, fields) in &forms[3..] {
        let mut fields = fields.clone();
        fields.push(("csrf", &s.csrf));
        fields.push(("confirm", "yes"));
        let (status, body) = form(&h, &b, &s, path, &fields).await;
        assert_eq!(status, 303, "{path}: {body}");
    }
    let after = snapshot(&h).await;
    assert_eq!(after["devices"][0]["disabled"], true, "{after}");
    assert_eq!(after["keys"], json!([]));
    assert_eq!(after["security_keys"], json!([]));
    let (status, _) = form(&h, &b, &s, "/signout", &[("csrf", &s.csrf)]).await;
    assert_eq!(status, 303);
    assert_page_error(
        &get(&h, &b, &s.cookie, "/security-info").await,
        "LK-WEB-002",
    );
}

#[tokio::test]
async fn web_sessions_expire_on_the_service_clock() {
    let h = Harness::web().await;
    let upn = "grace@example.com";
    let secret = h.add_user(upn).await;
    let b = browser(&h);
    let s = web_signin(&h, &b, upn, &secret).await;
    // A user with no device yet is told so rather than shown an empty table.
    let (_, html) = get(&h, &b, &s.cookie, "/security-info").await;
    assert!(device_rows(&html).is_empty());
    assert!(html.contains("id=\"no-devices\""), "{html}");
    assert!(html.contains("id=\"no-keys\""), "{html}");
    let app = h
        .admin
        .client_add("App", &[REDIRECT.to_owned()], true)
        .await
        .unwrap();

    h.clock
        .advance(time::Duration::seconds(SESSION_LIFETIME_SECS - 60));
    assert_eq!(get(&h, &b, &s.cookie, "/security-info").await.0, 200);

    h.clock.advance(time::Duration::seconds(61));
    let expired = get(&h, &b, &s.cookie, "/security-info").await;
    assert_page_error(&expired, "LK-WEB-002");
    assert!(expired.1.contains("href=\"/signin\""), "{}", expired.1);
    let home = b
        .get(format!("{}/", h.url))
        .header("cookie", &s.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), 303);
    assert_eq!(home.headers()["location"], "/signin");
    let (status, body) = script(
        &h,
        &b,
        &s,
        Some(&s.csrf),
        "/web/security-keys/register/begin",
        &json!({"name": "Late"}),
    )
    .await;
    common::assert_error(&(status, body), "LK-WEB-002");
    // An application's authorization request goes to the sign-in page, not back to it.
    let authorize = b
        .get(format!(
            "{}/oauth2/authorize?response_type=code&client_id={}&scope=openid&redirect_uri={REDIRECT}&{PKCE}",
            h.url, app.client_id
        ))
        .header("cookie", &s.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(authorize.status(), 303);
    let location = authorize.headers()["location"].to_str().unwrap();
    assert!(location.starts_with("/signin?next="), "{location}");
}

#[tokio::test]
async fn web_password_attempts_are_rate_limited_with_the_api() {
    let h = Harness::web().await;
    let upn = "heidi@example.com";
    let secret = h.add_user(upn).await;
    let b = browser(&h);
    let (csrf_cookie, _) = signin_page(&h.url, &b).await;
    // Five wrong passwords, on the page and on /v1/auth/password (one limit).
    for i in 0..5 {
        if i % 2 == 0 {
            let resp = post_password(&h.url, &b, &csrf_cookie, upn, "wrong", "000000").await;
            assert!(set_cookie(&resp, "lk_session").is_none());
            assert_eq!(resp.status(), 401);
            let html = resp.text().await.unwrap();
            assert!(html.contains("LK-AUTH-001"), "attempt {i}: {html}");
        } else {
            common::assert_error(&h.password(upn, "wrong", None).await, "LK-AUTH-001");
        }
    }
    // The sixth, with the right password and code, is refused by the limit.
    let resp = post_password(&h.url, &b, &csrf_cookie, upn, PASSWORD, &h.otp(&secret, 0)).await;
    assert!(set_cookie(&resp, "lk_session").is_none());
    // The same status as the API sends for LK-AUTH-003.
    assert_eq!(resp.status(), 429);
    let html = resp.text().await.unwrap();
    assert!(html.contains("LK-AUTH-003"), "{html}");
    let audit = h.audit().await;
    let last = audit.last().unwrap();
    assert_eq!(
        (last.event.as_str(), last.outcome.as_str()),
        ("web_signin", "failure")
    );
    assert_eq!(last.reason.as_deref(), Some("LK-AUTH-003"));
    common::assert_error(&h.password(upn, PASSWORD, None).await, "LK-AUTH-003");

    // Once the window has passed, the same attempt signs in.
    h.clock.advance(time::Duration::seconds(
        latchkey_server::ratelimit::WINDOW_SECS + 1,
    ));
    let resp = post_password(&h.url, &b, &csrf_cookie, upn, PASSWORD, &h.otp(&secret, 0)).await;
    assert_eq!(resp.status(), 303);
    assert!(set_cookie(&resp, "lk_session").is_some());
}

#[tokio::test]
async fn a_required_trusted_root_refuses_a_none_attested_key() {
    let h = Harness::web().await;
    let upn = "ivan@example.com";
    let secret = h.add_user(upn).await;
    let b = browser(&h);
    let s = web_signin(&h, &b, upn, &secret).await;
    // Any root will do: a `none` statement chains to nothing.
    let roots_pem = std::fs::read_to_string(h.data_dir().join("ca.pem")).unwrap();
    h.admin
        .set_security_key_settings(
            &SecurityKeySettings {
                require_trusted_root: true,
                aaguid_mode: "any".into(),
                aaguids: String::new(),
                roots_pem: roots_pem.clone(),
            },
            None,
        )
        .await
        .unwrap();
    let (status, body) = register_none_key(&h, &b, &s, "Anonymous").await;
    common::assert_error(&(status, body.clone()), "LK-SK-004");
    assert!(body["message"].as_str().unwrap().contains("none"), "{body}");
    assert!(h.admin.security_keys(None).await.unwrap().is_empty());

    // Not required: accepted, and recorded as not chaining to a root.
    h.admin
        .set_security_key_settings(
            &SecurityKeySettings {
                require_trusted_root: false,
                aaguid_mode: "any".into(),
                aaguids: String::new(),
                roots_pem,
            },
            None,
        )
        .await
        .unwrap();
    let (status, body) = register_none_key(&h, &b, &s, "Anonymous").await;
    assert_eq!(status, 200, "{body}");
    let keys = h.admin.security_keys(None).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(
        (keys[0].key.format.as_str(), keys[0].key.trusted_root),
        ("none", false)
    );
}

#[tokio::test]
async fn a_none_registration_with_an_unacceptable_public_key_is_refused() {
    let h = Harness::web().await;
    let upn = "judy@example.com";
    let secret = h.add_user(upn).await;
    let b = browser(&h);
    let s = web_signin(&h, &b, upn, &secret).await;
    let rsa = |n: Vec<u8>, e: Vec<u8>| {
        cbor(&ciborium::Value::Map(vec![
            (1.into(), 3.into()),
            (3.into(), (-257).into()),
            ((-1).into(), ciborium::Value::Bytes(n)),
            ((-2).into(), ciborium::Value::Bytes(e)),
        ]))
    };
    let modulus = |bytes: usize| {
        let mut n = vec![0xc5; bytes];
        *n.last_mut().unwrap() = 0x01;
        n
    };
    let key = p256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
    let point = key.verifying_key().to_encoded_point(false);
    let mut y = point.y().unwrap().to_vec();
    y[31] ^= 1;
    let ec = |x: Vec<u8>, y: Vec<u8>, extra: Option<(i64, Vec<u8>)>| {
        let mut map = vec![
            (1.into(), 2.into()),
            (3.into(), (-7).into()),
            ((-1).into(), 1.into()),
            ((-2).into(), ciborium::Value::Bytes(x)),
            ((-3).into(), ciborium::Value::Bytes(y)),
        ];
        if let Some((label, value)) = extra {
            map.push((label.into(), ciborium::Value::Bytes(value)));
        }
        cbor(&ciborium::Value::Map(map))
    };
    let x = point.x().unwrap().to_vec();
    let cases = [
        ("a 16 KB modulus", rsa(modulus(16 * 1024), vec![1, 0, 1])),
        ("e = 1", rsa(modulus(256), vec![1])),
        ("a point off the curve", ec(x.clone(), y, None)),
        ("the zero point", ec(vec![0; 32], vec![0; 32], None)),
        (
            "a duplicate label",
            ec(
                x.clone(),
                point.y().unwrap().to_vec(),
                Some((-2, vec![7; 32])),
            ),
        ),
    ];
    for (what, cose) in cases {
        let before = h.audit().await.len();
        let (status, body) = register_none_cose(&h, &b, &s, "Bad", &cose).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("LK-SK-010")),
            "{what}: {body}"
        );
        assert!(
            h.admin.security_keys(None).await.unwrap().is_empty(),
            "{what}"
        );
        let audit = h.audit().await;
        assert_eq!(audit.len(), before + 1, "{what}: one failure line");
        assert_eq!(audit.last().unwrap().reason.as_deref(), Some("LK-SK-010"));
    }
    // The same shape with a good key registers.
    let (status, body) = register_none_key(&h, &b, &s, "Good").await;
    assert_eq!(status, 200, "{body}");
}

/// The rows of the Security info page's devices table, as (join type, Hello keys) pairs.
fn device_rows(html: &str) -> Vec<(String, String)> {
    let table = html
        .split("<table id=\"devices\">")
        .nth(1)
        .unwrap()
        .split("</table>")
        .next()
        .unwrap();
    table
        .split("<tr><td>")
        .skip(1)
        .map(|row| {
            let cells: Vec<&str> = row.split("</td><td>").collect();
            (cells[1].to_owned(), cells[3].to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hybrid_device_appears_under_the_users_devices_once_it_holds_a_hello_key() {
    let h = Harness::web().await;
    let alice = enrolled(&h, "alice@example.com", p256_key()).await;
    let token = h.mfa_token(&alice.upn, &alice.secret).await;
    let hybrid = h.join(&token, "hybrid").await;
    let b = browser(&h);
    let s = web_signin(&h, &b, &alice.upn, &alice.secret).await;

    let (_, html) = get(&h, &b, &s.cookie, "/security-info").await;
    let rows = device_rows(&html);
    assert_eq!(rows.len(), 1, "only the cloud device: {rows:?}");
    assert_eq!(rows[0].0, "Joined (cloud)");
    assert_ne!(rows[0].1, "none", "the cloud device lists its Hello key");

    let key = p256_key();
    let token = h.mfa_token(&alice.upn, &alice.secret).await;
    let (status, body) = h.register(&hybrid, &alice.upn, &key, Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    let (_, html) = get(&h, &b, &s.cookie, "/security-info").await;
    let rows = device_rows(&html);
    assert_eq!(rows.len(), 2, "the hybrid device now holds a key: {rows:?}");
    assert!(rows
        .iter()
        .any(|(t, k)| t == "Joined (hybrid)" && k != "none"));
}
