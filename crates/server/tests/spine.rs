//! The whole happy path over real HTTPS, the seed's MFA rules, and a restart.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use common::*;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, DecodingKey, Validation};
use latchkey_proto::claims::TokenClaims;
use latchkey_proto::proof::{proof_message, Purpose};
use serde_json::json;

async fn verify_with_jwks(h: &Harness, token: &str, audience: &str) -> TokenClaims {
    // The OpenID discovery document that points here is the web crate's (its tests check
    // it); the issuer and the key set are the API's own.
    let (_, tenant) = h.get("/v1/tenant").await;
    let tenant: serde_json::Value = serde_json::from_str(&tenant).unwrap();
    assert_eq!(tenant["issuer"], h.url);
    let (_, jwks) = h.get("/v1/jwks").await;
    let jwks: JwkSet = serde_json::from_str(&jwks).unwrap();
    let kid = decode_header(token).unwrap().kid.unwrap();
    let jwk = jwks.find(&kid).unwrap();
    let mut validation = Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[&h.url]);
    decode::<TokenClaims>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .unwrap()
        .claims
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_register_signin_token_renew_leave() {
    let h = Harness::start().await;
    let (status, info) = h.get("/v1/tenant").await;
    assert_eq!(status, 200);
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["tenant_id"], h.tenant_id);
    let (status, pem) = h.get("/v1/ca.pem").await;
    assert_eq!(status, 200);
    assert!(pem.contains("BEGIN CERTIFICATE"));

    let secret = h.add_user("alice@example.com").await;
    // Password alone: a single-factor token.
    let (status, body) = h.password("alice@example.com", PASSWORD, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["amr"], json!(["pwd"]));
    let token = h.mfa_token("alice@example.com", &secret).await;

    let device = h.join(&token, "cloud").await;
    let devices = h.admin.devices().await.unwrap();
    assert_eq!(devices.len(), 1);
    assert!(devices[0].joined_with_mfa);
    assert_eq!(devices[0].owner, "alice@example.com");

    // The registered owner who joined with MFA registers with a password-only token.
    let key = rsa_key(0);
    let pwd = h.pwd_token("alice@example.com").await;
    let (status, body) = h
        .register(&device, "alice@example.com", &key, Some(&pwd))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["key_id"], key.key_id());
    assert_eq!(body["attestation"], "software");
    assert!(body["replaced_key_id"].is_null());

    let (status, session) = h.signin(&device, "alice@example.com", &key).await;
    assert_eq!(status, 200, "{session}");
    let claims = verify_with_jwks(
        &h,
        session["access_token"].as_str().unwrap(),
        "urn:latchkey:api",
    )
    .await;
    assert_eq!(claims.upn, "alice@example.com");
    assert_eq!(claims.sub, claims.oid);
    assert_eq!(claims.tid, h.tenant_id);
    assert_eq!(claims.deviceid.as_deref(), Some(device.id.as_str()));
    assert_eq!(claims.amr, ["swk", "pin", "mfa", "ngcmfa"]);
    let prt = session["prt"].as_str().unwrap().to_owned();

    h.add_resource("api://payroll").await;
    let (status, body) = h.token(&device, &prt, "api://payroll").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let claims =
        verify_with_jwks(&h, body["access_token"].as_str().unwrap(), "api://payroll").await;
    assert_eq!(claims.typ, "access");

    // Renewal: a new token, the old one revoked.
    let (status, renewed) = h.renew(&device, &prt).await;
    assert_eq!(status, 200, "{renewed}");
    let new_prt = renewed["prt"].as_str().unwrap().to_owned();
    assert_error(&h.token(&device, &prt, "api://payroll").await, "LK-PRT-001");
    assert_eq!(h.token(&device, &new_prt, "api://payroll").await.0, 200);
    // The raw token is never stored (read in the database file; on PostgreSQL the
    // token table holds its hash only, checked by the conformance suite).
    if !common::on_postgres() {
        let db = std::fs::read(h.data_dir().join("latchkey.db")).unwrap();
        assert!(!db.windows(new_prt.len()).any(|w| w == new_prt.as_bytes()));
    }

    // Expiry of the primary refresh token, by the clock.
    h.clock.advance(time::Duration::days(15));
    assert_error(
        &h.token(&device, &new_prt, "api://payroll").await,
        "LK-PRT-002",
    );
    h.clock.advance(time::Duration::days(-15));

    // Registering again, with a fresh MFA, replaces the key in one go.
    let key2 = p256_key();
    let mfa = h.mfa_token("alice@example.com", &secret).await;
    let (status, body) = h
        .register(&device, "alice@example.com", &key2, Some(&mfa))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["replaced_key_id"], key.key_id());
    assert_eq!(h.admin.keys(None).await.unwrap().len(), 1);
    assert_error(
        &h.signin(&device, "alice@example.com", &key).await,
        "LK-KEY-001",
    );
    assert_eq!(h.signin(&device, "alice@example.com", &key2).await.0, 200);
    assert!(h.audit().await.iter().any(|a| a.event == "key_replace"));

    // Leave: the device disables itself.
    let nonce = h.nonce(Purpose::Leave).await;
    let msg = proof_message(Purpose::Leave, &nonce, &[&h.tenant_id, &device.id]);
    let (status, body) = h
        .post(
            "/v1/devices/leave",
            &json!({"device_id": device.id, "nonce": nonce, "signature": device.sign(&msg)}),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(h.admin.devices().await.unwrap()[0].disabled);
    assert_error(
        &h.signin(&device, "alice@example.com", &key2).await,
        "LK-DEV-002",
    );
    assert_error(
        &h.token(&device, &new_prt, "api://payroll").await,
        "LK-DEV-002",
    );

    let events: Vec<String> = h.audit().await.into_iter().map(|a| a.event).collect();
    for e in [
        "user_create",
        "password_signin",
        "device_join",
        "key_register",
        "signin",
        "prt_renew",
        "device_leave",
    ] {
        assert!(events.iter().any(|x| x == e), "{e} audited: {events:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_mfa_rules_for_registration() {
    let h = Harness::start().await;
    let owner = enrolled(&h, "ivan@example.com", rsa_key(0)).await;
    let judy_secret = h.add_user("judy@example.com").await;
    let judy_key = rsa_key(1);

    // Another user on the owner's cloud device: no token -> MFA required.
    let before = h.counts().await;
    assert_error(
        &h.register(&owner.device, "judy@example.com", &judy_key, None)
            .await,
        "LK-AUTH-005",
    );
    // A password-only token is not enough either.
    let (_, pwd_only) = h.password("judy@example.com", PASSWORD, None).await;
    let pwd_only = pwd_only["token"].as_str().unwrap().to_owned();
    assert_error(
        &h.register(
            &owner.device,
            "judy@example.com",
            &judy_key,
            Some(&pwd_only),
        )
        .await,
        "LK-AUTH-005",
    );
    // An MFA token naming someone else.
    let ivan_token = h.mfa_token("ivan@example.com", &owner.secret).await;
    assert_error(
        &h.register(
            &owner.device,
            "judy@example.com",
            &judy_key,
            Some(&ivan_token),
        )
        .await,
        "LK-AUTH-006",
    );
    let after = h.counts().await;
    assert_eq!(after.keys, before.keys);
    assert_eq!(after.used_nonces, before.used_nonces);
    // With her own MFA token, she registers.
    let judy_token = h.mfa_token("judy@example.com", &judy_secret).await;
    let (status, body) = h
        .register(
            &owner.device,
            "judy@example.com",
            &judy_key,
            Some(&judy_token),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // The owner of a hybrid device still needs a fresh MFA.
    let hank_secret = h.add_user("hank@example.com").await;
    let token = h.mfa_token("hank@example.com", &hank_secret).await;
    let hybrid = h.join(&token, "hybrid").await;
    let hank_key = rsa_key(2);
    assert_error(
        &h.register(&hybrid, "hank@example.com", &hank_key, None)
            .await,
        "LK-AUTH-005",
    );
    let token = h.mfa_token("hank@example.com", &hank_secret).await;
    assert_eq!(
        h.register(&hybrid, "hank@example.com", &hank_key, Some(&token))
            .await
            .0,
        200
    );

    // A cloud device joined without MFA gives its owner no exemption.
    let (_, pwd_only) = h.password("hank@example.com", PASSWORD, None).await;
    let weak = h.join(pwd_only["token"].as_str().unwrap(), "cloud").await;
    assert_error(
        &h.register(&weak, "hank@example.com", &p256_key(), None)
            .await,
        "LK-AUTH-005",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_survives_a_restart() {
    let mut h = Harness::start().await;
    let user = enrolled(&h, "alice@example.com", rsa_key(0)).await;
    let (status, session) = h.signin(&user.device, &user.upn, &user.key).await;
    assert_eq!(status, 200);
    h.add_resource("api://x").await;
    let fingerprint = h.server.as_ref().unwrap().ca_fingerprint.clone();
    let ca = std::fs::read(h.data_dir().join("ca.pem")).unwrap();

    h.restart().await;
    let server = h.server.as_ref().unwrap();
    assert_eq!(server.tenant_id, h.tenant_id);
    assert_eq!(server.ca_fingerprint, fingerprint);
    assert!(!server.created_tenant);
    assert_eq!(std::fs::read(h.data_dir().join("ca.pem")).unwrap(), ca);
    // Keys, users, devices, resources and tokens survive; the signing key too (same kid).
    assert_eq!(
        h.token(&user.device, session["prt"].as_str().unwrap(), "api://x")
            .await
            .0,
        200
    );
    assert_eq!(h.signin(&user.device, &user.upn, &user.key).await.0, 200);
    assert_eq!(h.password(&user.upn, PASSWORD, None).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_http_is_refused_off_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = latchkey_server::ServerConfig::new(dir.path(), "0.0.0.0:0".parse().unwrap());
    config.insecure_http = true;
    let clock = latchkey_server::clock::ManualClock::new(time::OffsetDateTime::now_utc());
    let err = latchkey_server::start(config, env(&clock))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        latchkey_server::StartError::InsecureNotLoopback(_)
    ));
}
