//! Security-key sign-in against the real service over loopback HTTPS: the begin step
//! writes nothing and tells nothing about the user name it is given, and a ceremony
//! finishes once, for a key of the user it was started for.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use common::{assert_error, Harness, PASSWORD};
use latchkey_proto::b64;
use p256::ecdsa::signature::Signer;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn cbor(value: &ciborium::Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(value, &mut out).unwrap();
    out
}

fn cookie_pair(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_owned())
}

/// A browser before sign-in: the client and its `lk_csrf` cookie pair.
struct Browser {
    client: reqwest::Client,
    csrf_cookie: String,
}

impl Browser {
    /// Also turns security-key sign-in on for the tenant.
    async fn new(h: &Harness) -> Browser {
        h.admin
            .set_security_key_settings(
                &latchkey_server::storage::web::SecurityKeySettings {
                    require_trusted_root: false,
                    aaguid_mode: "any".into(),
                    aaguids: String::new(),
                    roots_pem: String::new(),
                },
                Some(true),
            )
            .await
            .unwrap();
        let client = h.client_from("127.0.0.1");
        let page = client
            .get(format!("{}/signin", h.url))
            .send()
            .await
            .unwrap();
        let csrf_cookie = cookie_pair(&page, "lk_csrf").unwrap();
        Browser {
            client,
            csrf_cookie,
        }
    }

    fn csrf(&self) -> &str {
        self.csrf_cookie.split_once('=').unwrap().1
    }

    /// Posts JSON with `cookies` and the anti-forgery header `csrf`.
    async fn script(
        &self,
        h: &Harness,
        path: &str,
        cookies: &str,
        csrf: &str,
        body: &Value,
    ) -> (u16, Value, Option<String>) {
        let r = self
            .client
            .post(format!("{}{path}", h.url))
            .header("cookie", cookies)
            .header("x-csrf-token", csrf)
            .json(body)
            .send()
            .await
            .unwrap();
        let session = cookie_pair(&r, "lk_session");
        (
            r.status().as_u16(),
            r.json().await.unwrap_or(Value::Null),
            session,
        )
    }

    async fn begin(&self, h: &Harness, upn: Option<&str>) -> (u16, Value) {
        let (status, body, _) = self
            .script(
                h,
                "/web/signin/key/begin",
                &self.csrf_cookie,
                self.csrf(),
                &json!({ "upn": upn }),
            )
            .await;
        (status, body)
    }
}

/// A registered security key: its P-256 key and credential id.
struct Key {
    signing: p256::ecdsa::SigningKey,
    id: Vec<u8>,
    counter: u32,
}

/// Signs `upn` in with password and code on the page, then registers a `none` key.
async fn user_with_key(h: &Harness, b: &Browser, upn: &str) -> Key {
    let secret = h.add_user(upn).await;
    h.clock.advance(time::Duration::seconds(30));
    let resp = b
        .client
        .post(format!("{}/signin/password", h.url))
        .header("cookie", &b.csrf_cookie)
        .form(&[
            ("csrf", b.csrf()),
            ("upn", upn),
            ("password", PASSWORD),
            ("otp", &h.otp(&secret, 0)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let session = cookie_pair(&resp, "lk_session").unwrap();
    let html = b
        .client
        .get(format!("{}/security-info", h.url))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = html
        .split("<meta name=\"csrf-token\" content=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let (status, start, _) = b
        .script(
            h,
            "/web/security-keys/register/begin",
            &session,
            &csrf,
            &json!({"name": "Key"}),
        )
        .await;
    assert_eq!(status, 200, "{start}");
    assert_eq!(
        start["public_key"]["authenticatorSelection"]["residentKey"],
        "required"
    );
    let rp_id = start["public_key"]["rp"]["id"].as_str().unwrap();
    let signing = p256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
    let point = signing.verifying_key().to_encoded_point(false);
    let cose = cbor(&ciborium::Value::Map(vec![
        (1.into(), 2.into()),
        (3.into(), (-7).into()),
        ((-1).into(), 1.into()),
        (
            (-2).into(),
            ciborium::Value::Bytes(point.x().unwrap().to_vec()),
        ),
        (
            (-3).into(),
            ciborium::Value::Bytes(point.y().unwrap().to_vec()),
        ),
    ]));
    let id: Vec<u8> = Sha256::digest(upn.as_bytes()).to_vec();
    let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
    auth_data.push(0x01 | 0x04 | 0x40);
    auth_data.extend_from_slice(&0u32.to_be_bytes());
    auth_data.extend_from_slice(&[0x11; 16]);
    auth_data.extend_from_slice(&(id.len() as u16).to_be_bytes());
    auth_data.extend_from_slice(&id);
    auth_data.extend_from_slice(&cose);
    let attestation = cbor(&ciborium::Value::Map(vec![
        ("fmt".into(), "none".into()),
        ("attStmt".into(), ciborium::Value::Map(vec![])),
        ("authData".into(), ciborium::Value::Bytes(auth_data)),
    ]));
    let client_data = json!({
        "type": "webauthn.create",
        "challenge": start["public_key"]["challenge"],
        "origin": h.url.trim_end_matches('/'),
    })
    .to_string();
    let (status, body, _) = b
        .script(
            h,
            "/web/security-keys/register/finish",
            &session,
            &csrf,
            &json!({
                "ceremony": start["ceremony"],
                "name": "Key",
                "credential": {
                    "id": b64::encode(&id),
                    "response": {
                        "clientDataJSON": b64::encode(client_data.as_bytes()),
                        "attestationObject": b64::encode(&attestation),
                    },
                },
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    Key {
        signing,
        id,
        counter: 0,
    }
}

/// The assertion `key` makes for the options `start`.
fn assertion(h: &Harness, key: &mut Key, start: &Value) -> Value {
    key.counter += 1;
    let rp_id = start["public_key"]["rpId"].as_str().unwrap();
    let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
    auth_data.push(0x01 | 0x04);
    auth_data.extend_from_slice(&key.counter.to_be_bytes());
    let client_data = json!({
        "type": "webauthn.get",
        "challenge": start["public_key"]["challenge"],
        "origin": h.url.trim_end_matches('/'),
    })
    .to_string();
    let mut signed = auth_data.clone();
    signed.extend_from_slice(&Sha256::digest(client_data.as_bytes()));
    let signature: p256::ecdsa::Signature = key.signing.sign(&signed);
    json!({
        "ceremony": start["ceremony"],
        "credential": {
            "id": b64::encode(&key.id),
            "response": {
                "clientDataJSON": b64::encode(client_data.as_bytes()),
                "authenticatorData": b64::encode(&auth_data),
                "signature": b64::encode(signature.to_der().as_bytes()),
            },
        },
    })
}

/// Rows of every table of the database.
async fn rows(h: &Harness) -> Vec<(String, i64)> {
    let path = h.data_dir().join("latchkey.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=ro", path.display()))
        .await
        .unwrap();
    let tables: Vec<(String,)> =
        sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(&pool)
            .await
            .unwrap();
    let mut out = vec![];
    for (table,) in tables {
        let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM \"{table}\""))
            .fetch_one(&pool)
            .await
            .unwrap();
        out.push((table, n));
    }
    pool.close().await;
    out
}

/// The options of a begin answer with the parts that differ on every call blanked.
fn shape(start: &Value) -> Value {
    let mut pk = start["public_key"].clone();
    pk["challenge"] = json!(pk["challenge"].as_str().unwrap().len());
    json!({"ceremony": start["ceremony"].as_str().unwrap().len(), "public_key": pk})
}

#[tokio::test]
async fn sign_in_begin_writes_nothing_and_tells_nothing_about_the_user() {
    let h = Harness::start().await;
    let b = Browser::new(&h).await;
    let key = user_with_key(&h, &b, "alice@example.com").await;
    h.add_user("keyless@example.com").await;
    let before = rows(&h).await;
    let mut shapes = vec![];
    for upn in [
        Some("alice@example.com"),
        Some("keyless@example.com"),
        Some("nobody@example.com"),
        None,
    ] {
        for _ in 0..50 {
            let (status, start) = b.begin(&h, upn).await;
            assert_eq!(status, 200, "{upn:?}: {start}");
            assert!(
                !start.to_string().contains(&b64::encode(&key.id)),
                "a credential id was disclosed: {start}"
            );
            assert_eq!(start["public_key"]["allowCredentials"], json!([]));
            shapes.push(shape(&start));
        }
    }
    assert!(shapes.windows(2).all(|w| w[0] == w[1]), "{shapes:?}");
    assert_eq!(rows(&h).await, before, "begin wrote nothing");
    // A user name that could never be one is refused as invalid, as on the password form.
    let long = "a".repeat(300);
    let (status, body) = b.begin(&h, Some(&long)).await;
    assert_error(&(status, body), "LK-REQ-003");
}

#[tokio::test]
async fn a_stateless_ceremony_finishes_once_and_only_for_its_user() {
    let h = Harness::start().await;
    let b = Browser::new(&h).await;
    let mut alice = user_with_key(&h, &b, "alice@example.com").await;
    let mut bob = user_with_key(&h, &b, "bob@example.com").await;
    let finish = |body: Value| {
        let b = &b;
        let h = &h;
        async move {
            b.script(h, "/web/signin/key/finish", &b.csrf_cookie, b.csrf(), &body)
                .await
        }
    };

    // Username-first for alice: bob's key cannot finish it.
    let (_, start) = b.begin(&h, Some("alice@example.com")).await;
    let (status, body, session) = finish(assertion(&h, &mut bob, &start)).await;
    assert_error(&(status, body), "LK-SK-005");
    assert!(session.is_none());
    // Alice's key can, once.
    let done = assertion(&h, &mut alice, &start);
    let (status, body, session) = finish(done.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert!(session.is_some());
    let before = h.counts().await;
    let (status, body, session) = finish(done).await;
    assert_error(&(status, body), "LK-SK-009");
    assert!(session.is_none());
    // So does a new assertion over the used ceremony.
    let (status, body, session) = finish(assertion(&h, &mut alice, &start)).await;
    assert_error(&(status, body), "LK-SK-009");
    assert!(session.is_none());
    let after = h.counts().await;
    assert_eq!(
        after.used_nonces, before.used_nonces,
        "nothing consumed twice"
    );

    // A discoverable sign-in (no user name) admits any user's key.
    let (_, start) = b.begin(&h, None).await;
    let (status, body, _) = finish(assertion(&h, &mut bob, &start)).await;
    assert_eq!(status, 200, "{body}");

    // A forged or expired ceremony is refused.
    let (_, start) = b.begin(&h, None).await;
    let mut forged = assertion(&h, &mut alice, &start);
    forged["ceremony"] = json!(format!("{}A", &start["ceremony"].as_str().unwrap()[1..]));
    let (status, body, _) = finish(forged).await;
    assert_error(&(status, body), "LK-SK-009");
    h.clock.advance(time::Duration::seconds(
        latchkey_server::seckey::CEREMONY_LIFETIME_SECS,
    ));
    let (status, body, _) = finish(assertion(&h, &mut alice, &start)).await;
    assert_error(&(status, body), "LK-SK-009");
}
