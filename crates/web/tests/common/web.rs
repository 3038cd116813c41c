//! Browser-side helpers for the web pages: the anti-forgery cookie, sign-in on the password
//! page, the pages' script endpoints, and a software security key (P-256, `none`
//! attestation) that registers and signs assertions as an authenticator would.

use latchkey_proto::b64;
use p256::ecdsa::signature::Signer;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{Harness, PASSWORD};

/// CBOR encoding of `value`.
pub fn cbor(value: &ciborium::Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(value, &mut out).unwrap();
    out
}

/// The `name=value` pair of cookie `name` set by `resp`, if any.
pub fn cookie_pair(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_owned())
}

/// The first error code (`LK-AREA-NNN`) an HTML page or JSON body shows.
pub fn shown_code(body: &str) -> Option<String> {
    body.match_indices("LK-").find_map(|(at, _)| {
        let code: String = body[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        let mut parts = code.split('-');
        let well_formed = parts.next() == Some("LK")
            && parts.next().is_some_and(|area| {
                !area.is_empty() && area.chars().all(|c| c.is_ascii_uppercase())
            })
            && parts
                .next()
                .is_some_and(|n| n.len() == 3 && n.chars().all(|c| c.is_ascii_digit()))
            && parts.next().is_none();
        well_formed.then_some(code)
    })
}

/// Turns security-key sign-in on for the tenant, any authenticator model accepted.
pub async fn enable_security_keys(h: &Harness) {
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
}

/// A signed-in browser session: the `lk_session` cookie pair and the page's anti-forgery
/// token.
#[derive(Debug, Clone)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

/// A browser before sign-in: its client and the `lk_csrf` cookie pair of the sign-in page.
pub struct Browser {
    pub client: reqwest::Client,
    pub csrf_cookie: String,
}

impl Browser {
    /// A browser whose connections come from `source`, with a fresh sign-in page.
    pub async fn new(h: &Harness, source: &str) -> Browser {
        Browser::with_client(h, h.client_from(source)).await
    }

    /// A browser using `client`, with a fresh sign-in page.
    pub async fn with_client(h: &Harness, client: reqwest::Client) -> Browser {
        let page = client
            .get(format!("{}/signin", h.url))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let csrf_cookie = cookie_pair(&page, "lk_csrf").unwrap();
        Browser {
            client,
            csrf_cookie,
        }
    }

    /// The anti-forgery token of the sign-in page.
    pub fn csrf(&self) -> &str {
        self.csrf_cookie.split_once('=').unwrap().1
    }

    /// Password + one-time code on the sign-in page (the clock moves one step first so
    /// the code is fresh); the session, with the token read from `/security-info`.
    pub async fn sign_in(&self, h: &Harness, upn: &str, secret: &[u8]) -> Session {
        h.clock.advance(time::Duration::seconds(30));
        let resp = self
            .client
            .post(format!("{}/signin/password", h.url))
            .header("cookie", &self.csrf_cookie)
            .form(&[
                ("csrf", self.csrf()),
                ("upn", upn),
                ("password", PASSWORD),
                ("otp", &h.otp(secret, 0)),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303);
        let cookie = cookie_pair(&resp, "lk_session").expect("a session cookie");
        let (status, html) = self.get(h, &cookie, "/security-info").await;
        assert_eq!(status, 200, "{html}");
        let csrf = html
            .split("<meta name=\"csrf-token\" content=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        assert!(csrf.len() >= 16);
        Session { cookie, csrf }
    }

    /// GETs `path` with `cookies`; status and body.
    pub async fn get(&self, h: &Harness, cookies: &str, path: &str) -> (u16, String) {
        let r = self
            .client
            .get(format!("{}{path}", h.url))
            .header("cookie", cookies)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Posts a form as session `s`; status and body.
    pub async fn form(
        &self,
        h: &Harness,
        s: &Session,
        path: &str,
        fields: &[(&str, &str)],
    ) -> (u16, String) {
        let r = self
            .client
            .post(format!("{}{path}", h.url))
            .header("cookie", &s.cookie)
            .form(fields)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Posts JSON to a script endpoint with `cookies` and the anti-forgery header `csrf`;
    /// status, body and the session cookie pair it set, if any.
    pub async fn script(
        &self,
        h: &Harness,
        path: &str,
        cookies: &str,
        csrf: Option<&str>,
        body: &Value,
    ) -> (u16, Value, Option<String>) {
        let mut req = self
            .client
            .post(format!("{}{path}", h.url))
            .header("cookie", cookies)
            .json(body);
        if let Some(token) = csrf {
            req = req.header("x-csrf-token", token);
        }
        let r = req.send().await.unwrap();
        let session = cookie_pair(&r, "lk_session");
        (
            r.status().as_u16(),
            r.json().await.unwrap_or(Value::Null),
            session,
        )
    }

    /// Starts a security-key sign-in, username-first when `upn` is given.
    pub async fn begin(&self, h: &Harness, upn: Option<&str>) -> (u16, Value) {
        let (status, body, _) = self
            .script(
                h,
                "/web/signin/key/begin",
                &self.csrf_cookie,
                Some(self.csrf()),
                &json!({ "upn": upn }),
            )
            .await;
        (status, body)
    }

    /// Finishes a security-key sign-in with `body` (see [`assertion`]).
    pub async fn finish(&self, h: &Harness, body: &Value) -> (u16, Value, Option<String>) {
        self.script(
            h,
            "/web/signin/key/finish",
            &self.csrf_cookie,
            Some(self.csrf()),
            body,
        )
        .await
    }

    /// Registers a credential with public key `cose` (a COSE_Key) and id `id` for session
    /// `s`, with `none` attestation, as an authenticator would answer the creation
    /// options; the finish step's status and body.
    pub async fn register_cose(
        &self,
        h: &Harness,
        s: &Session,
        name: &str,
        cose: &[u8],
        id: &[u8],
    ) -> (u16, Value) {
        let (status, start, _) = self
            .script(
                h,
                "/web/security-keys/register/begin",
                &s.cookie,
                Some(&s.csrf),
                &json!({ "name": name }),
            )
            .await;
        assert_eq!(status, 200, "{start}");
        assert_eq!(
            start["public_key"]["authenticatorSelection"]["residentKey"],
            "required"
        );
        let rp_id = start["public_key"]["rp"]["id"].as_str().unwrap();
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(0x01 | 0x04 | 0x40); // UP, UV, attested credential data
        auth_data.extend_from_slice(&0u32.to_be_bytes());
        auth_data.extend_from_slice(&[0x11; 16]); // AAGUID
        auth_data.extend_from_slice(&u16::try_from(id.len()).unwrap().to_be_bytes());
        auth_data.extend_from_slice(id);
        auth_data.extend_from_slice(cose);
        let attestation = cbor(&ciborium::Value::Map(vec![
            ("fmt".into(), "none".into()),
            ("attStmt".into(), ciborium::Value::Map(vec![])),
            ("authData".into(), ciborium::Value::Bytes(auth_data)),
        ]));
        let client_data = json!({
            "type": "webauthn.create",
            "challenge": start["public_key"]["challenge"],
            "origin": h.url.trim_end_matches('/'),
            "crossOrigin": false,
        })
        .to_string();
        let body = json!({
            "ceremony": start["ceremony"],
            "name": name,
            "credential": {
                "id": b64::encode(id),
                "response": {
                    "clientDataJSON": b64::encode(client_data.as_bytes()),
                    "attestationObject": b64::encode(&attestation),
                },
            },
        });
        let (status, body, _) = self
            .script(
                h,
                "/web/security-keys/register/finish",
                &s.cookie,
                Some(&s.csrf),
                &body,
            )
            .await;
        (status, body)
    }

    /// Registers a new software security key for session `s`; it must be accepted.
    pub async fn register_security_key(
        &self,
        h: &Harness,
        s: &Session,
        name: &str,
        id: &[u8],
    ) -> SecurityKey {
        let signing = p256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
        let (status, body) = self
            .register_cose(h, s, name, &p256_cose(&signing), id)
            .await;
        assert_eq!(status, 200, "{body}");
        SecurityKey {
            signing,
            id: id.to_vec(),
            counter: 0,
        }
    }
}

/// The COSE_Key (EC2, P-256, ES256) of `key`.
pub fn p256_cose(key: &p256::ecdsa::SigningKey) -> Vec<u8> {
    let point = key.verifying_key().to_encoded_point(false);
    cbor(&ciborium::Value::Map(vec![
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
    ]))
}

/// A registered software security key: its P-256 key, credential id and signature counter.
pub struct SecurityKey {
    pub signing: p256::ecdsa::SigningKey,
    pub id: Vec<u8>,
    pub counter: u32,
}

/// The assertion `key` makes for the sign-in options `start`, naming credential `id` (the
/// key's own, or another to try a substitution).
pub fn assertion_as(h: &Harness, key: &mut SecurityKey, id: &[u8], start: &Value) -> Value {
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
            "id": b64::encode(id),
            "response": {
                "clientDataJSON": b64::encode(client_data.as_bytes()),
                "authenticatorData": b64::encode(&auth_data),
                "signature": b64::encode(signature.to_der().as_bytes()),
            },
        },
    })
}

/// The assertion `key` makes for `start` with its own credential id.
pub fn assertion(h: &Harness, key: &mut SecurityKey, start: &Value) -> Value {
    let id = key.id.clone();
    assertion_as(h, key, &id, start)
}
