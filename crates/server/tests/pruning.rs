//! Housekeeping: expired primary refresh tokens, web sessions, application refresh tokens
//! and WebAuthn challenges are deleted once they have
//! been expired for longer than the grace period; live and recently expired ones stay.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::*;
use latchkey_server::clock::Clock;
use latchkey_server::storage::web::{
    AuthCode, Challenge, CodeRedemption, Grant, RefreshGrant, WebSession,
};
use latchkey_server::storage::{ConsumedNonce, Prt};

const DAY: i64 = 24 * 3600;

#[tokio::test]
async fn only_tokens_and_sessions_expired_before_the_cutoff_are_deleted() {
    let h = Harness::start().await;
    let user = enrolled(&h, "pia@example.com", p256_key()).await;
    let opened = h.open_storage().await;
    let (storage, web) = (opened.storage(), opened.web());
    let tid = h.tenant_id.clone();
    let now = h.clock.now().unix_timestamp();
    let user_id = storage
        .user_by_upn(&tid, &user.upn)
        .await
        .unwrap()
        .unwrap()
        .id;

    let app = h
        .admin
        .client_add("App", &["https://app.example/cb".to_owned()], true)
        .await
        .unwrap();
    // The refresh tokens below descend from one redeemed (live) code: a refresh token is
    // stored only for a code recorded as redeemed.
    let grant = Grant {
        client_id: app.client_id.clone(),
        user_id: user_id.clone(),
        scope: "openid".into(),
        amr: "pwd otp mfa".into(),
        auth_time: now,
    };
    let code = AuthCode {
        code_hash: "code-0".into(),
        redirect_uri: "https://app.example/cb".into(),
        nonce: None,
        code_challenge: None,
        expires_at: now + 60,
        grant: grant.clone(),
    };
    web.store_code(&tid, &code).await.unwrap();
    let reuse = latchkey_server::audit::line("oidc_grant_reuse", now);
    assert!(matches!(
        web.take_code(&tid, "code-0", &reuse).await.unwrap(),
        CodeRedemption::Redeemed(_)
    ));
    // (Each session needs a TOTP step later than the enrolment's.)
    // Tokens and sessions that expired 8 days ago, 1 day ago, and will expire tomorrow.
    let expiries = [now - 8 * DAY, now - DAY, now + DAY];
    for (i, expires_at) in expiries.into_iter().enumerate() {
        let prt = Prt {
            token_hash: format!("prune-{i}"),
            user_id: user_id.clone(),
            device_id: user.device.id.clone(),
            key_id: user.key.key_id(),
            issued_at: expires_at - 14 * DAY,
            expires_at,
            revoked: false,
        };
        let nonce = ConsumedNonce {
            id: format!("prune-nonce-{i}"),
            expires_at: now + 300,
        };
        let line = latchkey_server::audit::line("signin", now);
        assert!(storage
            .complete_signin(&tid, &nonce, &prt, &line)
            .await
            .unwrap());
        let session = WebSession {
            id_hash: format!("session-{i}"),
            user_id: user_id.clone(),
            amr: "pwd otp mfa".into(),
            csrf: "csrf".into(),
            created_at: expires_at - DAY,
            expires_at,
        };
        let line = latchkey_server::audit::line("web_signin", now);
        assert!(web
            .password_session(
                &tid,
                now / 30 + 10 + i64::try_from(i).unwrap(),
                &session,
                &line
            )
            .await
            .unwrap());
        let refresh = RefreshGrant {
            token_hash: format!("refresh-{i}"),
            expires_at,
            revoked: false,
            family_id: "code-0".into(),
            grant: Grant {
                auth_time: expires_at - DAY,
                ..grant.clone()
            },
        };
        let line = latchkey_server::audit::line("oidc_token", now);
        assert!(web.store_refresh(&tid, &refresh, &line).await.unwrap());
        let challenge = Challenge {
            id: format!("challenge-{i}"),
            purpose: "signin".into(),
            user_id: None,
            challenge: vec![7; 32],
            expires_at,
        };
        web.store_challenge(&tid, &challenge, now - 30 * DAY)
            .await
            .unwrap();
    }
    let before = h.counts().await.prts;

    let cutoff = now - 7 * DAY;
    assert_eq!(storage.prune_prts(&tid, cutoff).await.unwrap(), 1);
    // The old session, refresh token and challenge.
    assert_eq!(web.prune_expired(&tid, cutoff).await.unwrap(), 3);
    assert_eq!(h.counts().await.prts, before - 1);
    assert!(web
        .challenge(&tid, "challenge-0", now - 9 * DAY)
        .await
        .unwrap()
        .is_none());
    assert!(web
        .challenge(&tid, "challenge-1", now - 2 * DAY)
        .await
        .unwrap()
        .is_some());
    // The recently expired session is kept (and refused as expired); the live one works.
    assert!(web.session(&tid, "session-1", now).await.unwrap().is_none());
    assert!(web.session(&tid, "session-2", now).await.unwrap().is_some());
    assert!(web
        .session(&tid, "session-1", now - 2 * DAY)
        .await
        .unwrap()
        .is_some());
    assert!(web
        .session(&tid, "session-0", now - 9 * DAY)
        .await
        .unwrap()
        .is_none());
    // Nothing else expired: a second round deletes nothing.
    assert_eq!(storage.prune_prts(&tid, cutoff).await.unwrap(), 0);
    assert_eq!(web.prune_expired(&tid, cutoff).await.unwrap(), 0);
    // Another tenant's cutoff touches nothing of this one.
    assert_eq!(
        storage
            .prune_prts("other-tenant", now + 9 * DAY)
            .await
            .unwrap(),
        0
    );
    assert_eq!(h.counts().await.prts, before - 1);
}
