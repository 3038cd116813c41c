//! OpenID Connect for applications, accepted by Authlib (tests/oidc/rp_code_flow.py): the
//! real service over loopback HTTPS, a password + TOTP web sign-in, the code flow with PKCE
//! and a confidential client, UserInfo and refresh; plus the endpoint's refusals and the
//! revocation of a grant family when a code or refresh token is used twice.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use common::{Harness, WebHarness, PASSWORD};
use latchkey_server::storage::Counts;

fn python() -> String {
    std::env::var("LATCHKEY_PYTHON").unwrap_or_else(|_| {
        let venv = format!(
            "{}/.cache/latchkey-venv/bin/python",
            std::env::var("HOME").unwrap_or_default()
        );
        if std::path::Path::new(&venv).exists() {
            venv
        } else {
            "python3".into()
        }
    })
}

fn browser(h: &Harness) -> reqwest::Client {
    let ca = std::fs::read(h.dir.path().join("data/ca.pem")).unwrap();
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_owned())
}

/// Signs in on the web page with password + TOTP; returns the session cookie pair.
async fn web_signin(h: &Harness, b: &reqwest::Client, upn: &str, secret: &[u8]) -> String {
    let page = b.get(format!("{}/signin", h.url)).send().await.unwrap();
    let csrf_cookie = set_cookie(&page, "lk_csrf").unwrap();
    let headers = page.headers().clone();
    let html = page.text().await.unwrap();
    assert!(headers.get_all("set-cookie").iter().any(|v| {
        let v = v.to_str().unwrap();
        v.contains("HttpOnly") && v.contains("SameSite=Lax") && v.contains("Secure")
    }));
    let csrf = csrf_cookie.split_once('=').unwrap().1.to_owned();
    assert!(html.contains(&csrf));
    // A form without the anti-forgery token is refused.
    let forged = b
        .post(format!("{}/signin/password", h.url))
        .form(&[
            ("csrf", "nope"),
            ("upn", upn),
            ("password", PASSWORD),
            ("otp", "000000"),
        ])
        .header("cookie", &csrf_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let otp = h.otp(secret, 0);
    let resp = b
        .post(format!("{}/signin/password", h.url))
        .form(&[
            ("csrf", csrf.as_str()),
            ("upn", upn),
            ("password", PASSWORD),
            ("otp", &otp),
        ])
        .header("cookie", &csrf_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    set_cookie(&resp, "lk_session").expect("a session cookie")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authlib_accepts_the_code_flow_and_refresh() {
    let h = Harness::web().await;
    let upn = "carol@example.com";
    let secret = h.add_user(upn).await;
    let redirect = "https://127.0.0.1:1/callback";
    let app = h
        .admin
        .client_add("Authlib app", &[redirect.to_owned()], false)
        .await
        .unwrap();
    let b = browser(&h);
    let session = web_signin(&h, &b, upn, &secret).await;

    let mut rp = Command::new(python())
        // Cargo's run-time variable, not `env!`: a test binary built in another checkout
        // that shares the target directory must still find this checkout's script.
        .arg(format!(
            "{}/../../tests/oidc/rp_code_flow.py",
            std::env::var("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into())
        ))
        .args([
            &h.url,
            &app.client_id,
            app.client_secret.as_deref().unwrap(),
            redirect,
        ])
        .arg(h.dir.path().join("data/ca.pem"))
        .env("REQUESTS_CA_BUNDLE", h.dir.path().join("data/ca.pem"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python with Authlib (scripts/test.sh installs it)");
    let mut out = BufReader::new(rp.stdout.take().unwrap());
    let mut auth_url = String::new();
    tokio::task::block_in_place(|| out.read_line(&mut auth_url)).unwrap();
    let resp = b
        .get(auth_url.trim())
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "{:?}", resp.text().await);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(redirect), "{location}");
    let mut stdin = rp.stdin.take().unwrap();
    writeln!(stdin, "{location}").unwrap();
    let mut result = String::new();
    tokio::task::block_in_place(|| out.read_line(&mut result)).unwrap();
    let status = tokio::task::block_in_place(|| rp.wait()).unwrap();
    assert!(status.success(), "the Authlib relying party failed");
    let v: serde_json::Value = serde_json::from_str(&result).unwrap();
    assert_eq!(v["upn"], upn);
    assert_eq!(v["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    assert_eq!(v["userinfo"]["preferred_username"], upn);
    assert_eq!(v["refreshed_sub"], v["sub"]);
    assert_eq!(v["refresh_rotated"], true);
}

#[tokio::test]
async fn authorize_and_token_refusals() {
    let h = Harness::web().await;
    let secret = h.add_user("dave@example.com").await;
    let redirect = "http://localhost:9/cb";
    let app = h
        .admin
        .client_add("Public app", &[redirect.to_owned()], true)
        .await
        .unwrap();
    assert!(app.client_secret.is_none());
    let b = browser(&h);
    let authorize = |query: String| {
        let b = b.clone();
        let url = format!("{}/oauth2/authorize?{query}", h.url);
        async move { b.get(url).send().await.unwrap() }
    };
    let cid = &app.client_id;
    // A redirect URI that is not registered exactly is shown, never redirected to.
    let r = authorize(format!(
        "response_type=code&client_id={cid}&scope=openid&redirect_uri=http://localhost:9/cb/"
    ))
    .await;
    assert_eq!(r.status(), 400);
    // A public client without PKCE goes back with an error.
    let r = authorize(format!(
        "response_type=code&client_id={cid}&scope=openid&redirect_uri={redirect}&state=s"
    ))
    .await;
    assert_eq!(r.status(), 303);
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .contains("error=invalid_request"));
    // Not signed in: to the sign-in page, coming back afterwards.
    let pkce =
        "code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";
    let r = authorize(format!(
        "response_type=code&client_id={cid}&scope=openid&redirect_uri={redirect}&{pkce}"
    ))
    .await;
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/signin?next="));
    let session = web_signin(&h, &b, "dave@example.com", &secret).await;
    let r = b
        .get(format!("{}/oauth2/authorize?response_type=code&client_id={cid}&scope=openid&redirect_uri={redirect}&{pkce}", h.url))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let code = location
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let token = |verifier: &'static str, code: String| {
        let b = b.clone();
        let url = format!("{}/oauth2/token", h.url);
        let cid = cid.clone();
        async move {
            let r = b
                .post(url)
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", redirect),
                    ("client_id", &cid),
                    ("code_verifier", verifier),
                ])
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    // RFC 7636 appendix B's verifier matches the challenge above; a wrong one is refused
    // and the code is spent.
    let (status, body) = token(
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk_wrong",
        code.clone(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(body["code"], "LK-OIDC-003");
    let (status, _) = token("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", code).await;
    assert_eq!(
        status, 400,
        "a code is single-use even after a failed attempt"
    );
    let r = b
        .post(format!("{}/oauth2/token", h.url))
        .form(&[("grant_type", "password"), ("client_id", cid.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );
}

/// Token endpoint and UserInfo refusals (docs/oidc.md): a redirect URI one character off, a
/// code used twice or redeemed after its 60 seconds (service clock), a refresh token used
/// again after rotation, and UserInfo without a valid access token.
#[tokio::test]
async fn code_refresh_and_userinfo_refusals() {
    let h = Harness::web().await;
    let upn = "erin@example.com";
    let secret = h.add_user(upn).await;
    let redirect = "https://127.0.0.1:1/callback";
    let app = h
        .admin
        .client_add("Confidential app", &[redirect.to_owned()], false)
        .await
        .unwrap();
    let client_secret = app.client_secret.clone().unwrap();
    let b = browser(&h);
    let session = web_signin(&h, &b, upn, &secret).await;
    let code = || async {
        let r = b
            .get(format!(
                "{}/oauth2/authorize?response_type=code&client_id={}&scope=openid%20profile&redirect_uri={redirect}&state=st&nonce=n",
                h.url, app.client_id
            ))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with(redirect), "{location}");
        location
            .split("code=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap()
            .to_owned()
    };
    let token = |fields: Vec<(&'static str, String)>| async {
        let mut fields = fields;
        fields.push(("client_id", app.client_id.clone()));
        fields.push(("client_secret", client_secret.clone()));
        let r = b
            .post(format!("{}/oauth2/token", h.url))
            .form(&fields)
            .send()
            .await
            .unwrap();
        (
            r.status().as_u16(),
            r.json::<serde_json::Value>().await.unwrap(),
        )
    };
    let redeem = |code: String, redirect_uri: &str| {
        token(vec![
            ("grant_type", "authorization_code".into()),
            ("code", code),
            ("redirect_uri", redirect_uri.to_owned()),
        ])
    };
    let refresh = |refresh_token: String| {
        token(vec![
            ("grant_type", "refresh_token".into()),
            ("refresh_token", refresh_token),
        ])
    };
    let invalid_grant = |(status, body): (u16, serde_json::Value), what: &str| {
        assert_eq!(status, 400, "{what}: {body}");
        assert_eq!(body["error"], "invalid_grant", "{what}: {body}");
        assert_eq!(body["code"], "LK-OIDC-003", "{what}: {body}");
    };

    // A redirect URI one character off is refused, and spends the code.
    let c = code().await;
    invalid_grant(
        redeem(c.clone(), "https://127.0.0.1:1/callbacK").await,
        "redirect_uri one character off",
    );
    invalid_grant(
        redeem(c, redirect).await,
        "the right redirect_uri after a failed redemption",
    );

    // A code is single-use (and its second use revokes what the first one issued: see
    // reuse_of_a_code_or_a_refresh_token_revokes_its_family).
    let c = code().await;
    let (status, tokens) = redeem(c.clone(), redirect).await;
    assert_eq!(status, 200, "{tokens}");
    invalid_grant(redeem(c, redirect).await, "a code used twice");
    let c = code().await;
    let (status, tokens) = redeem(c, redirect).await;
    assert_eq!(status, 200, "{tokens}");

    // A code lives 60 seconds on the service clock.
    let c = code().await;
    h.clock.advance(time::Duration::seconds(59));
    assert_eq!(redeem(c, redirect).await.0, 200, "a code at 59 seconds");
    let c = code().await;
    h.clock.advance(time::Duration::seconds(61));
    invalid_grant(redeem(c, redirect).await, "a code after 61 seconds");

    // A refresh token is rotated: the old one is refused afterwards.
    let first = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (status, rotated) = refresh(first.clone()).await;
    assert_eq!(status, 200, "{rotated}");
    let second = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    invalid_grant(refresh(first).await, "a refresh token used after rotation");

    // UserInfo: the access token works; nothing else does.
    let access = rotated["access_token"].as_str().unwrap().to_owned();
    let userinfo = |bearer: Option<String>| async {
        let mut req = b.get(format!("{}/oauth2/userinfo", h.url));
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        (
            r.status().as_u16(),
            r.json::<serde_json::Value>()
                .await
                .unwrap_or(serde_json::Value::Null),
        )
    };
    let (status, info) = userinfo(Some(access.clone())).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["upn"], upn);
    // A different first character of the signature (not the last one, whose low bits are
    // padding).
    let (signed, signature) = access.rsplit_once('.').unwrap();
    let first_char = if signature.starts_with('A') { 'B' } else { 'A' };
    let tampered = format!("{signed}.{first_char}{}", &signature[1..]);
    let id_token = rotated["id_token"].as_str().unwrap().to_owned();
    for (what, bearer) in [
        ("no token", None),
        ("not a token", Some("garbage".to_owned())),
        ("a tampered signature", Some(tampered)),
        ("an ID token", Some(id_token)),
    ] {
        let response = userinfo(bearer).await;
        assert_eq!(response.0, 401, "{what}: {}", response.1);
        common::assert_error(&response, "LK-AUTH-004");
    }
    h.clock.advance(time::Duration::seconds(3601));
    common::assert_error(&userinfo(Some(access)).await, "LK-AUTH-004");
}

/// RFC 6749 §10.5 and the OAuth 2.0 Security BCP: an authorization code used twice revokes
/// the refresh tokens issued from it, and a rotated refresh token used again revokes every
/// refresh token of its family, in one transaction, audited as `oidc_grant_reuse`. Other
/// families (another authorization of the same user and client) are untouched.
#[tokio::test]
async fn reuse_of_a_code_or_a_refresh_token_revokes_its_family() {
    let h = Harness::web().await;
    let upn = "frank@example.com";
    let secret = h.add_user(upn).await;
    let redirect = "https://127.0.0.1:1/callback";
    let app = h
        .admin
        .client_add("Confidential app", &[redirect.to_owned()], false)
        .await
        .unwrap();
    let other = h
        .admin
        .client_add("Other app", &[redirect.to_owned()], false)
        .await
        .unwrap();
    let b = browser(&h);
    let session = web_signin(&h, &b, upn, &secret).await;
    let code = |client_id: String| {
        let (b, session, url) = (&b, &session, &h.url);
        async move {
            let r = b
                .get(format!(
                    "{url}/oauth2/authorize?response_type=code&client_id={client_id}&scope=openid&redirect_uri={redirect}&state=st"
                ))
                .header("cookie", session)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 303);
            let location = r.headers()["location"].to_str().unwrap().to_owned();
            location
                .split("code=")
                .nth(1)
                .unwrap()
                .split('&')
                .next()
                .unwrap()
                .to_owned()
        }
    };
    let token = |client: &common_client::Creds, fields: Vec<(&'static str, String)>| {
        let mut fields = fields;
        fields.push(("client_id", client.id.clone()));
        fields.push(("client_secret", client.secret.clone()));
        let (b, url) = (&b, &h.url);
        async move {
            let r = b
                .post(format!("{url}/oauth2/token"))
                .form(&fields)
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    let app = common_client::Creds {
        id: app.client_id.clone(),
        secret: app.client_secret.clone().unwrap(),
    };
    let other = common_client::Creds {
        id: other.client_id.clone(),
        secret: other.client_secret.clone().unwrap(),
    };
    let redeem = |client: &common_client::Creds, code: String| {
        token(
            client,
            vec![
                ("grant_type", "authorization_code".into()),
                ("code", code),
                ("redirect_uri", redirect.to_owned()),
            ],
        )
    };
    let refresh = |client: &common_client::Creds, refresh_token: &str| {
        token(
            client,
            vec![
                ("grant_type", "refresh_token".into()),
                ("refresh_token", refresh_token.to_owned()),
            ],
        )
    };
    let invalid_grant = |(status, body): (u16, serde_json::Value), what: &str| {
        assert_eq!(status, 400, "{what}: {body}");
        assert_eq!(body["error"], "invalid_grant", "{what}: {body}");
        assert_eq!(body["code"], "LK-OIDC-003", "{what}: {body}");
    };
    let ok = |(status, body): (u16, serde_json::Value), what: &str| {
        assert_eq!(status, 200, "{what}: {body}");
        body["refresh_token"].as_str().unwrap().to_owned()
    };
    let reuse_lines = || async {
        h.audit()
            .await
            .into_iter()
            .filter(|a| a.event == "oidc_grant_reuse")
            .count()
    };

    // An untouched family of the same user and client, to check it survives.
    let bystander = ok(redeem(&app, code(app.id.clone()).await).await, "bystander");

    // Refresh reuse: the rotated (newer) token also stops working.
    let first = ok(redeem(&app, code(app.id.clone()).await).await, "redeem");
    let second = ok(refresh(&app, &first).await, "rotate once");
    let third = ok(refresh(&app, &second).await, "rotate twice");
    let before = h.counts().await;
    invalid_grant(refresh(&app, &first).await, "the first token again");
    assert_eq!(reuse_lines().await, 1);
    // No token issued; the family's one live token revoked; one audit line.
    assert_eq!(
        h.counts().await,
        Counts {
            audit: before.audit + 1,
            live_refresh_tokens: before.live_refresh_tokens - 1,
            ..before
        }
    );
    invalid_grant(
        refresh(&app, &third).await,
        "the newest token of the family",
    );
    invalid_grant(refresh(&app, &second).await, "a middle token of the family");
    // Presenting dead tokens again revokes nothing more and adds no audit lines.
    assert_eq!(reuse_lines().await, 1);
    let line = h
        .audit()
        .await
        .into_iter()
        .rfind(|a| a.event == "oidc_grant_reuse")
        .unwrap();
    assert_eq!(line.outcome, "failure");
    assert!(
        line.reason
            .as_deref()
            .unwrap()
            .contains("1 refresh token(s) of the family revoked"),
        "{line:?}"
    );
    // The bystander family still rotates.
    let bystander = ok(refresh(&app, &bystander).await, "another family");

    // Code reuse: the refresh token issued from the first redemption stops working, and
    // so does its rotation.
    let c = code(app.id.clone()).await;
    let from_code = ok(redeem(&app, c.clone()).await, "redeem");
    let rotated = ok(refresh(&app, &from_code).await, "rotate");
    let before = h.counts().await;
    invalid_grant(redeem(&app, c.clone()).await, "the code again");
    assert_eq!(reuse_lines().await, 2);
    assert_eq!(
        h.counts().await,
        Counts {
            audit: before.audit + 1,
            live_refresh_tokens: before.live_refresh_tokens - 1,
            ..before
        }
    );
    invalid_grant(
        refresh(&app, &rotated).await,
        "the rotation of the reused code's token",
    );
    // A third use of the code is just an unknown code: nothing is issued or written.
    let before = h.counts().await;
    invalid_grant(redeem(&app, c).await, "the code a third time");
    invalid_grant(refresh(&app, &from_code).await, "a dead token again");
    assert_eq!(h.counts().await, before);
    let bystander = ok(refresh(&app, &bystander).await, "another family");

    // A code of one client presented by another client is spent and revokes nothing else;
    // a refresh token presented by another client is refused without rotating it.
    let c = code(app.id.clone()).await;
    let (status, body) = redeem(&other, c).await;
    assert_eq!(status, 400, "{body}");
    invalid_grant(
        refresh(&other, &bystander).await,
        "another client's refresh token",
    );
    let bystander = ok(refresh(&app, &bystander).await, "the owner's rotation");
    // A reused token presented by another client revokes nothing.
    let lines = reuse_lines().await;
    let old = bystander.clone();
    let _newer = ok(refresh(&app, &old).await, "rotate");
    invalid_grant(
        refresh(&other, &old).await,
        "a rotated token by another client",
    );
    assert_eq!(reuse_lines().await, lines);
    assert_eq!(reuse_lines().await, 2);
}

mod common_client {
    /// A confidential client's credentials.
    pub struct Creds {
        pub id: String,
        pub secret: String,
    }
}
