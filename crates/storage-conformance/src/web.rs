//! [`latchkey_storage::WebStorage`]: OpenID Connect clients, codes and refresh tokens, web
//! sessions and their TOTP step, WebAuthn challenges, security keys and their settings.

use latchkey_storage::audit::event;
use latchkey_storage::web::{
    AuthCode, Challenge, CodeRedemption, Grant, OidcClient, RefreshGrant, RegisterOutcome,
    Rotation, SecurityKeySettings,
};

use crate::fixtures::*;
use crate::{ensure, ensure_eq, Backend, OrFail, Outcome};

/// The client `app` and the grant of `user_id` to it.
pub fn client_and_grant(user_id: &str) -> (OidcClient, Grant) {
    let client = OidcClient {
        client_id: "app".to_owned(),
        name: "App".to_owned(),
        secret_hash: None,
        redirect_uris: "https://app.example/cb".to_owned(),
        created_at: 1,
    };
    let grant = Grant {
        client_id: "app".to_owned(),
        user_id: user_id.to_owned(),
        scope: "openid".to_owned(),
        amr: "pwd".to_owned(),
        auth_time: 1,
    };
    (client, grant)
}

/// A refresh token `hash` of the family `family`.
pub fn refresh(hash: &str, family: &str, grant: &Grant) -> RefreshGrant {
    RefreshGrant {
        token_hash: hash.to_owned(),
        expires_at: FAR,
        revoked: false,
        family_id: family.to_owned(),
        grant: grant.clone(),
    }
}

/// Stores the client, a code `code` and redeems it; returns the grant.
pub async fn redeemed_code(
    b: &Backend,
    property: &'static str,
    user_id: &str,
) -> Result<Grant, crate::Violation> {
    let w = &b.main.web;
    let (client, grant) = client_and_grant(user_id);
    w.create_client(TENANT, &client, &line(event::CLIENT_CREATE, "client"))
        .await
        .or_fail(property)?;
    let code = AuthCode {
        code_hash: "code".to_owned(),
        redirect_uri: "https://app.example/cb".to_owned(),
        nonce: None,
        code_challenge: Some("challenge".to_owned()),
        expires_at: FAR,
        grant: grant.clone(),
    };
    w.store_code(TENANT, &code).await.or_fail(property)?;
    let taken = w
        .take_code(TENANT, "code", &line(event::OIDC_GRANT_REUSE, "reuse"))
        .await
        .or_fail(property)?;
    ensure!(
        property,
        matches!(taken, CodeRedemption::Redeemed(_)),
        "the first redemption: {taken:?}"
    );
    Ok(grant)
}

/// Clients are stored and listed; a code is redeemed once, its reuse revokes the refresh
/// tokens of its family (audited) and stops `store_refresh`; a refresh token rotates once,
/// and presenting the rotated one again revokes the family.
pub async fn oidc_clients_codes_and_refresh_tokens(b: &Backend) -> Outcome {
    const P: &str = "oidc_clients_codes_and_refresh_tokens";
    with_tenant(b, P).await?;
    let alice = add_user(b, P, "alice").await?;
    let w = &b.main.web;
    let s = &b.main.storage;
    let grant = redeemed_code(b, P, &alice.id).await?;
    let dup = w
        .create_client(
            TENANT,
            &client_and_grant(&alice.id).0,
            &line(event::CLIENT_CREATE, "dup"),
        )
        .await;
    ensure!(
        P,
        dup.is_err(),
        "a second client with the same id was stored"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "dup").await?,
        0,
        "the refused client was audited"
    );
    ensure_eq!(
        P,
        w.list_clients(TENANT).await.or_fail(P)?.len(),
        1,
        "list_clients"
    );
    ensure!(
        P,
        w.client(TENANT, "app").await.or_fail(P)?.is_some(),
        "client"
    );
    ensure!(
        P,
        w.client(OTHER_TENANT, "app").await.or_fail(P)?.is_none(),
        "another tenant's client"
    );
    ensure!(
        P,
        w.store_refresh(
            TENANT,
            &refresh("rt1", "code", &grant),
            &line(event::OIDC_TOKEN, "rt1")
        )
        .await
        .or_fail(P)?,
        "store_refresh"
    );
    let unknown = w
        .take_code(TENANT, "nocode", &line(event::OIDC_GRANT_REUSE, "x"))
        .await
        .or_fail(P)?;
    ensure!(
        P,
        matches!(unknown, CodeRedemption::Unknown),
        "an unknown code: {unknown:?}"
    );
    // Rotation once; the rotated token presented again revokes the family.
    let rotated = w
        .rotate_refresh(
            TENANT,
            "rt1",
            "app",
            &refresh("rt2", "code", &grant),
            10,
            &line(event::OIDC_GRANT_REUSE, "ru"),
        )
        .await
        .or_fail(P)?;
    ensure!(
        P,
        matches!(rotated, Rotation::Rotated(_)),
        "rotation: {rotated:?}"
    );
    let other_client = w
        .rotate_refresh(
            TENANT,
            "rt2",
            "other",
            &refresh("rt3", "code", &grant),
            10,
            &line(event::OIDC_GRANT_REUSE, "oc"),
        )
        .await
        .or_fail(P)?;
    ensure!(
        P,
        matches!(other_client, Rotation::Invalid),
        "another client's rotation: {other_client:?}"
    );
    let reused = w
        .rotate_refresh(
            TENANT,
            "rt1",
            "app",
            &refresh("rt4", "code", &grant),
            10,
            &line(event::OIDC_GRANT_REUSE, "ru"),
        )
        .await
        .or_fail(P)?;
    ensure!(
        P,
        matches!(reused, Rotation::Reused { revoked: 1 }),
        "reuse of a rotated token: {reused:?}"
    );
    let reuse_lines = audit_lines(&**s, P)
        .await?
        .into_iter()
        .filter(|a| {
            a.event == event::OIDC_GRANT_REUSE
                && a.reason.as_deref().is_some_and(|r| r.starts_with("ru;"))
        })
        .count();
    ensure_eq!(
        P,
        reuse_lines,
        1,
        "the reuse line (its note with the count)"
    );
    ensure_eq!(
        P,
        s.counts(TENANT).await.or_fail(P)?.live_refresh_tokens,
        0,
        "live tokens after the reuse"
    );
    // The code reused: deleted, and no refresh token can be stored from it any more.
    let again = w
        .take_code(TENANT, "code", &line(event::OIDC_GRANT_REUSE, "cr"))
        .await
        .or_fail(P)?;
    ensure!(
        P,
        matches!(again, CodeRedemption::Reused { .. }),
        "a code redeemed twice: {again:?}"
    );
    let late = w
        .store_refresh(
            TENANT,
            &refresh("rt5", "code", &grant),
            &line(event::OIDC_TOKEN, "late"),
        )
        .await
        .or_fail(P)?;
    ensure!(P, !late, "a refresh token was stored from a reused code");
    ensure_eq!(
        P,
        audited(&**s, P, "late").await?,
        0,
        "the refused store was audited"
    );
    Ok(())
}

/// `password_session` uses a TOTP step once (shared with `password_signin`) and refuses a
/// disabled user; sessions are found while live, deleted with their line; challenges are
/// read while live; `prune_expired` removes only expired rows.
pub async fn web_sessions_and_totp(b: &Backend) -> Outcome {
    const P: &str = "web_sessions_and_totp";
    with_tenant(b, P).await?;
    let alice = add_user(b, P, "alice").await?;
    let w = &b.main.web;
    let s = &b.main.storage;
    ensure!(
        P,
        w.password_session(
            TENANT,
            7,
            &session("s1", &alice.id),
            &line(event::WEB_SIGNIN, "w1")
        )
        .await
        .or_fail(P)?,
        "first use of a step"
    );
    ensure!(
        P,
        !w.password_session(
            TENANT,
            7,
            &session("s2", &alice.id),
            &line(event::WEB_SIGNIN, "w2")
        )
        .await
        .or_fail(P)?,
        "a step used twice"
    );
    ensure!(
        P,
        !s.password_signin(
            TENANT,
            &alice.id,
            Some(7),
            &line(event::PASSWORD_SIGNIN, "w3")
        )
        .await
        .or_fail(P)?,
        "a web step reused by the API"
    );
    ensure!(
        P,
        w.session(TENANT, "s2", 10).await.or_fail(P)?.is_none(),
        "a refused session was stored"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "w2").await? + audited(&**s, P, "w3").await?,
        0,
        "refusals audited"
    );
    let live = w.session(TENANT, "s1", 10).await.or_fail(P)?;
    ensure_eq!(
        P,
        live.map(|(sess, u)| (sess.user_id, u.upn)),
        Some((alice.id.clone(), alice.upn.clone())),
        "session"
    );
    ensure!(
        P,
        w.session(TENANT, "s1", FAR + 1).await.or_fail(P)?.is_none(),
        "an expired session is live"
    );
    ensure!(
        P,
        w.session(OTHER_TENANT, "s1", 10)
            .await
            .or_fail(P)?
            .is_none(),
        "another tenant's session"
    );
    w.delete_session(TENANT, "s1", &line(event::WEB_SIGNOUT, "out"))
        .await
        .or_fail(P)?;
    ensure!(
        P,
        w.session(TENANT, "s1", 10).await.or_fail(P)?.is_none(),
        "a deleted session is live"
    );
    ensure_eq!(P, audited(&**s, P, "out").await?, 1, "the sign-out line");
    s.disable_user(TENANT, &alice.upn, &line(event::USER_DISABLE, "off"))
        .await
        .or_fail(P)?;
    ensure!(
        P,
        !w.password_session(
            TENANT,
            8,
            &session("s3", &alice.id),
            &line(event::WEB_SIGNIN, "w4")
        )
        .await
        .or_fail(P)?,
        "a disabled user's session"
    );
    let c = Challenge {
        id: "c1".to_owned(),
        purpose: "signin".to_owned(),
        user_id: None,
        challenge: vec![1; 32],
        expires_at: 100,
    };
    w.store_challenge(TENANT, &c, 10).await.or_fail(P)?;
    ensure!(
        P,
        w.challenge(TENANT, "c1", 99).await.or_fail(P)?.is_some(),
        "a live challenge"
    );
    ensure!(
        P,
        w.challenge(TENANT, "c1", 100).await.or_fail(P)?.is_none(),
        "an expired challenge"
    );
    ensure_eq!(
        P,
        w.prune_expired(TENANT, 50).await.or_fail(P)?,
        0,
        "nothing expired by 50"
    );
    ensure_eq!(
        P,
        w.prune_expired(TENANT, 101).await.or_fail(P)?,
        1,
        "the challenge pruned"
    );
    Ok(())
}

/// Security keys: registered once per challenge and credential id, counted against the
/// limit, renamed and deleted (of their user only when a user is given), signed in with a
/// counter that moves once.
pub async fn security_keys_register_rename_delete(b: &Backend) -> Outcome {
    const P: &str = "security_keys_register_rename_delete";
    with_tenant(b, P).await?;
    let alice = add_user(b, P, "alice").await?;
    let bob = add_user(b, P, "bob").await?;
    let w = &b.main.web;
    let s = &b.main.storage;
    let challenge = |id: &str| Challenge {
        id: id.to_owned(),
        purpose: "register".to_owned(),
        user_id: Some(alice.id.clone()),
        challenge: vec![2; 32],
        expires_at: FAR,
    };
    for id in ["c1", "c2", "c3", "c4"] {
        w.store_challenge(TENANT, &challenge(id), 10)
            .await
            .or_fail(P)?;
    }
    let reg = |c: &'static str, cred: &'static str, max: i64| {
        let k = security_key(cred, &alice.id);
        let a = line(event::SECURITY_KEY_REGISTER, cred);
        async move { w.register_security_key(TENANT, c, &k, max, 10, &a).await }
    };
    ensure_eq!(
        P,
        reg("c1", "cred1", 2).await.or_fail(P)?,
        RegisterOutcome::Registered,
        "first"
    );
    ensure_eq!(
        P,
        reg("c1", "cred2", 2).await.or_fail(P)?,
        RegisterOutcome::CeremonyGone,
        "challenge reused"
    );
    ensure_eq!(
        P,
        reg("c2", "cred1", 2).await.or_fail(P)?,
        RegisterOutcome::Duplicate,
        "credential id reused"
    );
    ensure_eq!(
        P,
        reg("c3", "cred3", 2).await.or_fail(P)?,
        RegisterOutcome::Registered,
        "second"
    );
    ensure_eq!(
        P,
        reg("c4", "cred4", 2).await.or_fail(P)?,
        RegisterOutcome::LimitReached,
        "over the limit"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "cred2").await? + audited(&**s, P, "cred4").await?,
        0,
        "refusals audited"
    );
    ensure_eq!(
        P,
        w.list_security_keys(TENANT, Some(&alice.id))
            .await
            .or_fail(P)?
            .len(),
        2,
        "alice's keys"
    );
    ensure!(
        P,
        w.list_security_keys(TENANT, Some(&bob.id))
            .await
            .or_fail(P)?
            .is_empty(),
        "bob's keys"
    );
    ensure!(
        P,
        !w.rename_security_key(
            TENANT,
            Some(&bob.id),
            "cred1",
            "mine",
            &line(event::SECURITY_KEY_RENAME, "bob")
        )
        .await
        .or_fail(P)?,
        "bob renamed alice's key"
    );
    ensure!(
        P,
        w.rename_security_key(
            TENANT,
            Some(&alice.id),
            "cred1",
            "mine",
            &line(event::SECURITY_KEY_RENAME, "alice")
        )
        .await
        .or_fail(P)?,
        "rename"
    );
    ensure_eq!(
        P,
        w.security_key(TENANT, "cred1")
            .await
            .or_fail(P)?
            .map(|k| k.name),
        Some("mine".to_owned()),
        "renamed"
    );
    // Sign-in: the counter moves from 0 to 5 once; a stale counter or a reused ceremony is refused.
    let signin = |cer: &str, old: i64, new: i64, sid: &str| {
        let (n, sess, a) = (
            nonce(cer),
            session(sid, &alice.id),
            line(event::SECURITY_KEY_SIGNIN, sid),
        );
        async move {
            w.security_key_session(TENANT, &n, "cred1", old, new, &sess, &a)
                .await
        }
    };
    ensure!(
        P,
        signin("cer1", 0, 5, "k1").await.or_fail(P)?,
        "security-key sign-in"
    );
    ensure!(
        P,
        w.ceremony_used(TENANT, "cer1").await.or_fail(P)?,
        "the ceremony is not recorded"
    );
    ensure!(
        P,
        !signin("cer2", 0, 6, "k2").await.or_fail(P)?,
        "a stale counter was accepted"
    );
    ensure!(
        P,
        !signin("cer1", 5, 6, "k3").await.or_fail(P)?,
        "a reused ceremony was accepted"
    );
    ensure!(
        P,
        w.session(TENANT, "k2", 10).await.or_fail(P)?.is_none()
            && w.session(TENANT, "k3", 10).await.or_fail(P)?.is_none(),
        "refused sessions stored"
    );
    ensure!(
        P,
        !w.delete_security_key(
            TENANT,
            Some(&bob.id),
            "cred1",
            &line(event::SECURITY_KEY_DELETE, "bd")
        )
        .await
        .or_fail(P)?,
        "bob deleted alice's key"
    );
    ensure!(
        P,
        w.delete_security_key(
            TENANT,
            None,
            "cred1",
            &line(event::SECURITY_KEY_DELETE, "ad")
        )
        .await
        .or_fail(P)?,
        "admin delete"
    );
    ensure!(
        P,
        !w.delete_security_key(
            TENANT,
            None,
            "cred1",
            &line(event::SECURITY_KEY_DELETE, "ad2")
        )
        .await
        .or_fail(P)?,
        "delete twice"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "bd").await?
            + audited(&**s, P, "ad2").await?
            + audited(&**s, P, "bob").await?,
        0,
        "refusals audited"
    );
    Ok(())
}

/// The settings default to `any` and round-trip, audited; the latest audit lines and an
/// actor's lines come newest first.
pub async fn security_key_settings_round_trip(b: &Backend) -> Outcome {
    const P: &str = "security_key_settings_round_trip";
    with_tenant(b, P).await?;
    let w = &b.main.web;
    let default = w.security_key_settings(TENANT).await.or_fail(P)?;
    ensure_eq!(P, default.aaguid_mode, "any", "the default mode");
    let set = SecurityKeySettings {
        require_trusted_root: true,
        aaguid_mode: "allow".to_owned(),
        aaguids: "a\nb".to_owned(),
        roots_pem: String::new(),
    };
    w.set_security_key_settings(TENANT, &set, &line(event::SECURITY_KEY_SETTINGS, "set"))
        .await
        .or_fail(P)?;
    ensure_eq!(
        P,
        w.security_key_settings(TENANT).await.or_fail(P)?,
        set,
        "stored settings"
    );
    ensure_eq!(
        P,
        w.security_key_settings(OTHER_TENANT)
            .await
            .or_fail(P)?
            .aaguid_mode,
        "any",
        "another tenant's settings"
    );
    let s = &b.main.storage;
    s.append_audit(
        TENANT,
        &latchkey_storage::audit::line(event::SIGNIN, 2_000).actor("bob@example.com"),
    )
    .await
    .or_fail(P)?;
    let latest = w.audit_latest(TENANT, 1).await.or_fail(P)?;
    ensure_eq!(
        P,
        latest.first().map(|a| a.at),
        Some(2_000),
        "audit_latest newest first"
    );
    let of_bob = w.audit_of(TENANT, "bob@example.com", 10).await.or_fail(P)?;
    ensure_eq!(P, of_bob.len(), 1, "audit_of");
    Ok(())
}
