//! Security headers on every HTML page and token response, and sign-in redirects that
//! stay on this origin whatever `next` says.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::{enrolled, p256_key, Harness, WebHarness, PASSWORD};
use reqwest::header::HeaderMap;

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

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Whether `html` has an inline script or an inline event handler (`on...=`).
fn has_inline_code(html: &str) -> bool {
    let lower = html.to_ascii_lowercase();
    let inline_script = lower
        .split("<script")
        .skip(1)
        .any(|rest| !rest.split('>').next().unwrap_or("").contains(" src="));
    let handler = lower.split(" on").skip(1).any(|rest| {
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        !name.is_empty() && rest[name.len()..].starts_with('=')
    });
    inline_script || handler || lower.contains("javascript:")
}

/// The headers every HTML response must carry; `https` adds HSTS.
fn assert_page_headers(what: &str, headers: &HeaderMap, body: &str, https: bool) {
    let ct = header(headers, "content-type");
    assert!(ct.starts_with("text/html"), "{what}: {ct}");
    let csp = header(headers, "content-security-policy");
    for part in [
        "frame-ancestors 'none'",
        "script-src 'self'",
        "default-src 'none'",
        "object-src 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(part), "{what}: CSP {csp:?} lacks {part}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(
        header(headers, "x-content-type-options"),
        "nosniff",
        "{what}"
    );
    assert_eq!(header(headers, "referrer-policy"), "no-referrer", "{what}");
    assert_eq!(header(headers, "cache-control"), "no-store", "{what}");
    assert_eq!(header(headers, "x-frame-options"), "DENY", "{what}");
    let hsts = header(headers, "strict-transport-security");
    if https {
        assert!(hsts.starts_with("max-age="), "{what}: HSTS {hsts:?}");
    } else {
        assert!(hsts.is_empty(), "{what}: HSTS over plain HTTP");
    }
    assert!(!has_inline_code(body), "{what}: inline script or handler");
}

async fn fetch(b: &reqwest::Client, url: &str, cookie: Option<&str>) -> (u16, HeaderMap, String) {
    let mut req = b.get(url);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let r = req.send().await.unwrap();
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    (status, headers, r.text().await.unwrap())
}

/// The `lk_csrf` cookie pair of a fresh sign-in page.
async fn csrf_cookie(h: &Harness, b: &reqwest::Client) -> String {
    let page = b.get(format!("{}/signin", h.url)).send().await.unwrap();
    page.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("lk_csrf="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// Posts the password form with a fresh code and `next`; the response.
async fn post_signin(
    h: &Harness,
    b: &reqwest::Client,
    upn: &str,
    secret: &[u8],
    next: Option<&str>,
) -> reqwest::Response {
    h.clock.advance(time::Duration::seconds(30));
    let cookie = csrf_cookie(h, b).await;
    let csrf = cookie.split_once('=').unwrap().1.to_owned();
    let otp = h.otp(secret, 0);
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("upn", upn),
        ("password", PASSWORD),
        ("otp", otp.as_str()),
    ];
    if let Some(n) = next {
        form.push(("next", n));
    }
    b.post(format!("{}/signin/password", h.url))
        .header("cookie", &cookie)
        .form(&form)
        .send()
        .await
        .unwrap()
}

fn session_cookie(r: &reqwest::Response) -> String {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("lk_session="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_html_page_carries_the_security_headers() {
    let h = Harness::web().await;
    let upn = "hedy@example.com";
    let user = enrolled(&h, upn, p256_key()).await;
    h.admin.group_add("latchkey-admins").await.unwrap();
    h.admin
        .group_member("latchkey-admins", Some(upn), None, true)
        .await
        .unwrap();
    let b = browser(&h);
    // Pages and HTML error pages before signing in.
    for path in [
        "/signin",
        "/signin?next=%2Fadmin",
        "/security-info",
        "/admin",
        "/admin/nope",
        "/oauth2/authorize",
        "/oauth2/authorize?client_id=nope&redirect_uri=https%3A%2F%2Fx%2Fcb",
    ] {
        let (status, headers, body) = fetch(&b, &format!("{}{path}", h.url), None).await;
        assert!(status == 200 || status >= 400, "{path}: {status}");
        assert_page_headers(path, &headers, &body, true);
    }
    // A failed password form answers a page too.
    let cookie = csrf_cookie(&h, &b).await;
    let csrf = cookie.split_once('=').unwrap().1.to_owned();
    let r = b
        .post(format!("{}/signin/password", h.url))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("upn", upn),
            ("password", "wrong"),
            ("otp", "000000"),
        ])
        .send()
        .await
        .unwrap();
    let (headers, body) = (r.headers().clone(), r.text().await.unwrap());
    assert_page_headers("failed sign-in", &headers, &body, true);
    // Signed-in pages (personal and admin).
    let r = post_signin(&h, &b, upn, &user.secret, None).await;
    assert_eq!(r.status(), 303);
    let session = session_cookie(&r);
    for path in ["/security-info", "/admin"] {
        let (status, headers, body) = fetch(&b, &format!("{}{path}", h.url), Some(&session)).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_page_headers(path, &headers, &body, true);
    }
    // The redirect itself and the script asset: nosniff, and the script is served from
    // this origin with a script type (what `script-src 'self'` allows).
    let (_, headers, _) = fetch(&b, &format!("{}/", h.url), Some(&session)).await;
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    let (status, headers, _) = fetch(&b, &format!("{}/assets/webauthn.js", h.url), None).await;
    assert_eq!(status, 200);
    assert!(header(&headers, "content-type").starts_with("text/javascript"));
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_responses_are_no_store_and_every_response_nosniff() {
    let h = Harness::web().await;
    let upn = "ida@example.com";
    let user = enrolled(&h, upn, p256_key()).await;
    let c = &h.client;
    let check = |what: &str, r: &reqwest::Response| {
        let hd = r.headers();
        assert_eq!(header(hd, "cache-control"), "no-store", "{what}");
        assert_eq!(header(hd, "x-content-type-options"), "nosniff", "{what}");
        assert!(
            header(hd, "strict-transport-security").starts_with("max-age="),
            "{what}"
        );
    };
    h.clock.advance(time::Duration::seconds(30));
    let otp = h.otp(&user.secret, 0);
    let r = c
        .post(format!("{}/v1/auth/password", h.url))
        .json(&serde_json::json!({"upn": upn, "password": PASSWORD, "otp": otp}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    check("/v1/auth/password", &r);
    let body = h
        .signin_body(&user.device, upn, &user.key.key_id(), &user.key)
        .await;
    let r = c
        .post(format!("{}/v1/signin", h.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    check("/v1/signin", &r);
    let prt = r.json::<serde_json::Value>().await.unwrap()["prt"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = c
        .post(format!("{}/v1/token", h.url))
        .json(&serde_json::json!({"prt": prt, "audience": "api://x"}))
        .send()
        .await
        .unwrap();
    check("/v1/token", &r);
    let (status, _) = h.renew(&user.device, &prt).await;
    assert_eq!(status, 200);
    let nonce_msg = {
        let nonce = h.nonce(latchkey_proto::proof::Purpose::RenewPrt).await;
        let msg = latchkey_proto::proof::proof_message(
            latchkey_proto::proof::Purpose::RenewPrt,
            &nonce,
            &[&h.tenant_id, &user.device.id],
        );
        serde_json::json!({"prt": prt, "device_id": user.device.id, "nonce": nonce, "device_signature": user.device.sign(&msg)})
    };
    let r = c
        .post(format!("{}/v1/prt/renew", h.url))
        .json(&nonce_msg)
        .send()
        .await
        .unwrap();
    check("/v1/prt/renew", &r);
    let r = c
        .post(format!("{}/oauth2/token", h.url))
        .form(&[("grant_type", "authorization_code"), ("code", "nope")])
        .send()
        .await
        .unwrap();
    check("/oauth2/token", &r);
    let r = c
        .get(format!("{}/oauth2/userinfo", h.url))
        .send()
        .await
        .unwrap();
    check("/oauth2/userinfo", &r);
    // A public document is not no-store but is nosniff.
    let r = c.get(format!("{}/v1/tenant", h.url)).send().await.unwrap();
    assert_eq!(header(r.headers(), "x-content-type-options"), "nosniff");
    assert_ne!(header(r.headers(), "cache-control"), "no-store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_pages_have_the_headers_but_no_hsts() {
    let h = Harness::web_with(|c| c.insecure_http = true).await;
    assert!(h.url.starts_with("http://"));
    let b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (status, headers, body) = fetch(&b, &format!("{}/signin", h.url), None).await;
    assert_eq!(status, 200);
    assert_page_headers("/signin over HTTP", &headers, &body, false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_redirects_only_to_paths_on_this_service() {
    let h = Harness::web().await;
    let upn = "joan@example.com";
    let secret = h.add_user(upn).await;
    let b = browser(&h);
    let refused = [
        "//evil.example/",
        "/\\evil.example",
        "\\/evil.example",
        "/%2F/evil.example",
        "https:evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        " //evil.example",
        "/\t/evil.example",
        "/.//evil.example",
        "/%5Cevil.example",
    ];
    for next in refused {
        let r = post_signin(&h, &b, upn, &secret, Some(next)).await;
        assert_eq!(r.status(), 303, "{next:?}");
        assert_eq!(
            header(r.headers(), "location"),
            "/security-info",
            "{next:?}"
        );
    }
    let r = post_signin(&h, &b, upn, &secret, Some("/admin?tab=1")).await;
    assert_eq!(header(r.headers(), "location"), "/admin?tab=1");
    // The page itself only carries a safe `next` into its form and script.
    let (_, _, body) = fetch(
        &b,
        &format!("{}/signin?next=%2F%5Cevil.example", h.url),
        None,
    )
    .await;
    assert!(
        body.contains("name=\"next\" value=\"/security-info\""),
        "{body}"
    );
    assert!(!body.contains("evil.example"), "{body}");
}
