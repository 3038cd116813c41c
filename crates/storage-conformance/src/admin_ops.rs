//! The administration commands' storage ([`latchkey_storage::AdminStorage`]): renaming the
//! tenant, resetting a password, deleting users, devices and applications, rotating a
//! client secret and searching the audit trail. Each change is checked with its audit line,
//! its refusal (nothing written, no line) and, for the device delete, against sign-ins in
//! flight.

use std::collections::BTreeSet;

use latchkey_storage::admin::{AuditFilter, Removed, SecretRotation, UserDeletion};
use latchkey_storage::audit::{self, event};
use latchkey_storage::cert::{
    CertAuthorityRecord, CertificateRecord, CASCADE_REASONS, ROLE_ISSUING, ROLE_RA, STATE_REVOKED,
};
use latchkey_storage::web::{AuthCode, Challenge, CodeRedemption, OidcClient, RegisterOutcome};
use latchkey_storage::{AuditRecord, KeyCredential, StorageError};

use crate::certs::certificate;
use crate::fixtures::*;
use crate::web::{client_and_grant, redeemed_code};
use crate::{ensure, ensure_eq, Backend, OrFail, Outcome, Violation};

mod race;
pub use race::race_no_signin_commits_after_the_device_delete;

/// Creates the tenant's authorities and records certificate `serial` of `k`.
async fn certified(
    b: &Backend,
    property: &'static str,
    serial: &str,
    k: &KeyCredential,
) -> Result<(), Violation> {
    let s = &b.main.storage;
    if s.cert_authorities(TENANT)
        .await
        .or_fail(property)?
        .is_empty()
    {
        let auth = |role: &str| CertAuthorityRecord {
            role: role.to_owned(),
            algorithm: "p256".to_owned(),
            cert_pem: format!("{role}-cert"),
            key_pem: "sealed:v1:placeholder".to_owned(),
            created_at: 1,
        };
        s.create_cert_authorities(
            TENANT,
            &[auth(ROLE_ISSUING), auth(ROLE_RA)],
            &[],
            &line(event::CERT_AUTHORITY_CREATE, "ca"),
        )
        .await
        .or_fail(property)?;
    }
    s.record_certificate(
        TENANT,
        &nonce(&format!("cert-{serial}")),
        &certificate(serial, k, None),
        &[line(event::CERT_ISSUE, "issue")],
    )
    .await
    .or_fail(property)?;
    Ok(())
}

/// A certificate's (state, reason, user id, device id).
async fn cert_state(
    b: &Backend,
    property: &'static str,
    serial: &str,
) -> Result<Option<(String, Option<String>, Option<String>, Option<String>)>, Violation> {
    let c: Option<CertificateRecord> = b
        .main
        .storage
        .certificate(TENANT, serial)
        .await
        .or_fail(property)?;
    Ok(c.map(|c| (c.state, c.reason, c.user_id, c.device_id)))
}

/// `rename_tenant` and `reset_password` change what they name with one audit line; the
/// reset ends the user's browser sessions and keeps Hello keys and their tokens; unknown
/// names (and another tenant's id) are refused with nothing written.
pub async fn admin_renames_and_resets_are_audited(b: &Backend) -> Outcome {
    const P: &str = "admin_renames_and_resets_are_audited";
    let (alice, _, k) = enrolled(b, P).await?;
    let (s, w, a) = (&b.main.storage, &b.main.web, &b.main.admin);
    ensure!(
        P,
        a.rename_tenant(TENANT, "Renamed", &line(event::TENANT_RENAME, "rename"))
            .await
            .or_fail(P)?,
        "rename_tenant found no tenant"
    );
    let name = s.load_tenant().await.or_fail(P)?.map(|t| t.name);
    ensure_eq!(P, name, Some("Renamed".to_owned()), "the tenant's name");
    ensure!(
        P,
        !a.rename_tenant(OTHER_TENANT, "X", &line(event::TENANT_RENAME, "rename-x"))
            .await
            .or_fail(P)?,
        "rename_tenant of an unknown tenant succeeded"
    );
    s.complete_signin(
        TENANT,
        &nonce("s1"),
        &prt("h1", &k, FAR),
        &line(event::SIGNIN, "s1"),
    )
    .await
    .or_fail(P)?;
    ensure!(
        P,
        w.password_session(TENANT, 5, &session("web1", &alice.id), &line("x", "web"))
            .await
            .or_fail(P)?,
        "the web session was refused"
    );
    let reset = |upn: &'static str, tenant: &'static str, tag: &'static str| async move {
        a.reset_password(
            tenant,
            upn,
            "argon2id$new",
            &line(event::USER_RESET_PASSWORD, tag),
        )
        .await
    };
    ensure!(
        P,
        reset("alice@example.com", TENANT, "reset")
            .await
            .or_fail(P)?,
        "reset_password found no user"
    );
    let hash = s
        .user_by_upn(TENANT, "alice@example.com")
        .await
        .or_fail(P)?
        .map(|u| u.password_hash);
    ensure_eq!(P, hash, Some("argon2id$new".to_owned()), "the new hash");
    let web = w.session(TENANT, "web1", 10).await.or_fail(P)?;
    ensure!(P, web.is_none(), "a browser session outlived the reset");
    let kept = s.prt_context(TENANT, "h1").await.or_fail(P)?;
    ensure!(P, kept.is_some(), "the reset ended a Hello token");
    for (upn, tenant, tag) in [
        ("nobody@example.com", TENANT, "reset-nobody"),
        ("alice@example.com", OTHER_TENANT, "reset-other"),
    ] {
        ensure!(
            P,
            !reset(upn, tenant, tag).await.or_fail(P)?,
            "reset_password of {upn} in {tenant} succeeded"
        );
    }
    let lines = audit_lines(&**s, P).await?;
    for (tag, want) in [
        ("rename", 1),
        ("rename-x", 0),
        ("reset", 1),
        ("reset-nobody", 0),
        ("reset-other", 0),
    ] {
        let n = lines
            .iter()
            .filter(|l| l.reason.as_deref() == Some(tag))
            .count();
        ensure_eq!(P, n, want, "audit lines tagged {tag}");
    }
    Ok(())
}

/// `delete_user` refuses the owner of devices and an unknown user (nothing written); it
/// deletes a user with its Hello keys (on another's device), security keys, tokens and
/// sessions, revokes its certificates (which stay, without the user) and writes its line.
pub async fn delete_user_takes_what_is_theirs(b: &Backend) -> Outcome {
    const P: &str = "delete_user_takes_what_is_theirs";
    let (alice, d, _) = enrolled(b, P).await?;
    let (s, w, a) = (&b.main.storage, &b.main.web, &b.main.admin);
    let bob = add_user(b, P, "bob").await?;
    let kb = add_key(b, P, "key-b", &bob, &d).await?;
    certified(b, P, "0b", &kb).await?;
    s.complete_signin(
        TENANT,
        &nonce("sb"),
        &prt("hb", &kb, FAR),
        &line(event::SIGNIN, "sb"),
    )
    .await
    .or_fail(P)?;
    w.store_challenge(
        TENANT,
        &Challenge {
            id: "ch".to_owned(),
            purpose: "register".to_owned(),
            user_id: Some(bob.id.clone()),
            challenge: vec![2; 32],
            expires_at: FAR,
        },
        10,
    )
    .await
    .or_fail(P)?;
    let sk = w
        .register_security_key(
            TENANT,
            "ch",
            &security_key("cred-b", &bob.id),
            10,
            10,
            &line(event::SECURITY_KEY_REGISTER, "sk"),
        )
        .await
        .or_fail(P)?;
    ensure_eq!(P, sk, RegisterOutcome::Registered, "bob's security key");
    ensure!(
        P,
        w.password_session(TENANT, 5, &session("web-b", &bob.id), &line("x", "web"))
            .await
            .or_fail(P)?,
        "bob's web session was refused"
    );
    let del = |upn: &'static str, tag: &'static str| async move {
        a.delete_user(TENANT, upn, &line(event::USER_DELETE, tag))
            .await
    };
    ensure_eq!(
        P,
        del("alice@example.com", "del-alice").await.or_fail(P)?,
        UserDeletion::OwnsDevices(1),
        "deleting the owner of a device"
    );
    ensure!(
        P,
        s.user_by_upn(TENANT, &alice.upn)
            .await
            .or_fail(P)?
            .is_some(),
        "a refused delete removed the user"
    );
    ensure_eq!(
        P,
        del("nobody@example.com", "del-nobody").await.or_fail(P)?,
        UserDeletion::NoSuchUser,
        "deleting an unknown user"
    );
    let other = a
        .delete_user(
            OTHER_TENANT,
            &bob.upn,
            &line(event::USER_DELETE, "del-other"),
        )
        .await
        .or_fail(P)?;
    ensure_eq!(
        P,
        other,
        UserDeletion::NoSuchUser,
        "another tenant's delete"
    );
    let removed = del("bob@example.com", "del-bob").await.or_fail(P)?;
    let UserDeletion::Deleted(removed) = removed else {
        return Err(Violation::Broken {
            property: P,
            detail: format!("bob was not deleted: {removed:?}"),
        });
    };
    ensure_eq!(P, removed.hello_keys, 1, "Hello keys deleted");
    ensure_eq!(P, removed.security_keys, 1, "security keys deleted");
    ensure_eq!(P, removed.certificates_revoked, 1, "certificates revoked");
    // The token and the browser session (the challenge was consumed by the registration).
    ensure_eq!(P, removed.sessions, 2, "sessions deleted");
    ensure!(
        P,
        s.user_by_upn(TENANT, &bob.upn).await.or_fail(P)?.is_none(),
        "the user is still there"
    );
    ensure!(
        P,
        s.prt_context(TENANT, "hb").await.or_fail(P)?.is_none(),
        "the user's token is still there"
    );
    ensure!(
        P,
        w.security_key(TENANT, "cred-b").await.or_fail(P)?.is_none(),
        "the user's security key is still there"
    );
    let left: Vec<String> = s
        .list_keys(TENANT, None)
        .await
        .or_fail(P)?
        .into_iter()
        .map(|k| k.key_id)
        .collect();
    ensure_eq!(P, left, vec!["key-a".to_owned()], "Hello keys left");
    ensure_eq!(
        P,
        cert_state(b, P, "0b").await?,
        Some((
            STATE_REVOKED.to_owned(),
            Some(CASCADE_REASONS.user_deleted.to_owned()),
            None,
            Some(d.id.clone())
        )),
        "the deleted user's certificate"
    );
    let lines = audit_lines(&**s, P).await?;
    for (tag, want) in [
        ("del-alice", 0),
        ("del-nobody", 0),
        ("del-other", 0),
        ("del-bob", 2),
    ] {
        let n = lines
            .iter()
            .filter(|l| {
                l.reason.as_deref() == Some(tag)
                    || (tag == "del-bob" && l.event == event::CERT_REVOKE)
            })
            .count();
        ensure_eq!(P, n, want, "audit lines of {tag} (with the revocation's)");
    }
    Ok(())
}

/// `remove_device` deletes a device with every user's Hello keys on it and its tokens,
/// revokes its keys' certificates (which stay, without the device), writes its line and
/// reports what went; an unknown device is `None` with nothing written.
pub async fn remove_device_takes_what_is_on_it(b: &Backend) -> Outcome {
    const P: &str = "remove_device_takes_what_is_on_it";
    let (alice, d, k) = enrolled(b, P).await?;
    let (s, a) = (&b.main.storage, &b.main.admin);
    let bob = add_user(b, P, "bob").await?;
    add_key(b, P, "key-b", &bob, &d).await?;
    let other = add_device(b, P, "dev-o", &alice).await?;
    add_key(b, P, "key-o", &alice, &other).await?;
    certified(b, P, "0a", &k).await?;
    s.complete_signin(
        TENANT,
        &nonce("s1"),
        &prt("h1", &k, FAR),
        &line(event::SIGNIN, "s1"),
    )
    .await
    .or_fail(P)?;
    let none = a
        .remove_device(TENANT, "dev-none", &line(event::DEVICE_DELETE, "del-none"))
        .await
        .or_fail(P)?;
    ensure!(P, none.is_none(), "an unknown device was deleted: {none:?}");
    let elsewhere = a
        .remove_device(
            OTHER_TENANT,
            &d.id,
            &line(event::DEVICE_DELETE, "del-other"),
        )
        .await
        .or_fail(P)?;
    ensure!(
        P,
        elsewhere.is_none(),
        "another tenant's delete: {elsewhere:?}"
    );
    let removed = a
        .remove_device(TENANT, &d.id, &line(event::DEVICE_DELETE, "del"))
        .await
        .or_fail(P)?;
    ensure_eq!(
        P,
        removed,
        Some(Removed {
            hello_keys: 2,
            security_keys: 0,
            certificates_revoked: 1,
            sessions: 1,
        }),
        "what the delete reports"
    );
    ensure!(
        P,
        s.device(TENANT, &d.id).await.or_fail(P)?.is_none(),
        "the device is still there"
    );
    ensure!(
        P,
        s.prt_context(TENANT, "h1").await.or_fail(P)?.is_none(),
        "the device's token is still there"
    );
    let left: Vec<String> = s
        .list_keys(TENANT, None)
        .await
        .or_fail(P)?
        .into_iter()
        .map(|k| k.key_id)
        .collect();
    ensure_eq!(P, left, vec!["key-o".to_owned()], "Hello keys left");
    ensure!(
        P,
        s.user_by_upn(TENANT, &bob.upn).await.or_fail(P)?.is_some(),
        "deleting a device deleted a user"
    );
    ensure_eq!(
        P,
        cert_state(b, P, "0a").await?,
        Some((
            STATE_REVOKED.to_owned(),
            Some(CASCADE_REASONS.device_deleted.to_owned()),
            Some(alice.id.clone()),
            None
        )),
        "the deleted device's certificate"
    );
    ensure_eq!(P, audited(&**s, P, "del").await?, 1, "the delete's line");
    ensure_eq!(
        P,
        audited(&**s, P, "del-none").await?,
        0,
        "a refused delete"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "del-other").await?,
        0,
        "a refused delete"
    );
    Ok(())
}

/// `rotate_client_secret` tells an unknown client and a public one from a rotation, which
/// stores the new hash with its line; `delete_client` deletes a client with its codes and
/// refresh tokens, and refuses an unknown one with nothing written.
pub async fn clients_are_rotated_and_deleted(b: &Backend) -> Outcome {
    const P: &str = "clients_are_rotated_and_deleted";
    with_tenant(b, P).await?;
    let alice = add_user(b, P, "alice").await?;
    let (s, w, a) = (&b.main.storage, &b.main.web, &b.main.admin);
    let grant = redeemed_code(b, P, &alice.id).await?;
    let (public, _) = client_and_grant(&alice.id);
    let confidential = OidcClient {
        client_id: "conf".to_owned(),
        secret_hash: Some("old-hash".to_owned()),
        ..public.clone()
    };
    w.create_client(TENANT, &confidential, &line(event::CLIENT_CREATE, "c2"))
        .await
        .or_fail(P)?;
    let rotate = |id: &'static str, tag: &'static str| async move {
        a.rotate_client_secret(
            TENANT,
            id,
            "new-hash",
            &line(event::CLIENT_ROTATE_SECRET, tag),
        )
        .await
    };
    ensure_eq!(
        P,
        rotate("none", "rot-none").await.or_fail(P)?,
        SecretRotation::NoSuchClient,
        "an unknown client"
    );
    ensure_eq!(
        P,
        rotate("app", "rot-public").await.or_fail(P)?,
        SecretRotation::Public,
        "a public client"
    );
    ensure_eq!(
        P,
        rotate("conf", "rot").await.or_fail(P)?,
        SecretRotation::Rotated,
        "a confidential client"
    );
    let stored = w.client(TENANT, "conf").await.or_fail(P)?;
    ensure_eq!(
        P,
        stored.and_then(|c| c.secret_hash),
        Some("new-hash".to_owned()),
        "the stored secret hash"
    );
    let public_now = w.client(TENANT, "app").await.or_fail(P)?;
    ensure_eq!(
        P,
        public_now.map(|c| c.secret_hash),
        Some(None),
        "a public client gained a secret"
    );
    w.store_code(
        TENANT,
        &AuthCode {
            code_hash: "code2".to_owned(),
            redirect_uri: "https://app.example/cb".to_owned(),
            nonce: None,
            code_challenge: Some("challenge".to_owned()),
            expires_at: FAR,
            grant: grant.clone(),
        },
    )
    .await
    .or_fail(P)?;
    let stored = w
        .store_refresh(
            TENANT,
            &crate::web::refresh("r1", "code", &grant),
            &line("x", "refresh"),
        )
        .await
        .or_fail(P)?;
    ensure!(P, stored, "the refresh token was not stored");
    ensure!(
        P,
        !a.delete_client(TENANT, "none", &line(event::CLIENT_DELETE, "del-none"))
            .await
            .or_fail(P)?,
        "an unknown client was deleted"
    );
    ensure!(
        P,
        a.delete_client(TENANT, "app", &line(event::CLIENT_DELETE, "del"))
            .await
            .or_fail(P)?,
        "the client was not deleted"
    );
    ensure!(
        P,
        w.client(TENANT, "app").await.or_fail(P)?.is_none(),
        "the deleted client is still there"
    );
    let clients: Vec<String> = w
        .list_clients(TENANT)
        .await
        .or_fail(P)?
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    ensure_eq!(P, clients, vec!["conf".to_owned()], "clients left");
    // The code's and refresh token's rows went with the client: a new client of the same id
    // starts with neither.
    w.create_client(TENANT, &public, &line(event::CLIENT_CREATE, "c3"))
        .await
        .or_fail(P)?;
    let taken = w
        .take_code(TENANT, "code2", &line("x", "take"))
        .await
        .or_fail(P)?;
    ensure!(
        P,
        matches!(taken, CodeRedemption::Unknown),
        "a deleted client's code is still there: {taken:?}"
    );
    for (tag, want) in [
        ("rot-none", 0),
        ("rot-public", 0),
        ("rot", 1),
        ("del-none", 0),
        ("del", 1),
    ] {
        ensure_eq!(
            P,
            audited(&**s, P, tag).await?,
            want,
            "audit lines of {tag}"
        );
    }
    Ok(())
}

/// `audit_search` filters by time, user (actor or note), device, exact event, event prefix
/// (taken literally: `_` and `%` are not wildcards) and outcome, returns oldest first and,
/// with a limit, the newest entries; `audit_entry` finds one entry by its id, never another
/// tenant's.
pub async fn audit_search_filters_and_keeps_the_newest(b: &Backend) -> Outcome {
    const P: &str = "audit_search_filters_and_keeps_the_newest";
    with_tenant(b, P).await?;
    let s = &b.main.storage;
    let a = &b.main.admin;
    let entry = |at: i64, ev: &str, actor: &str, device: Option<&str>, outcome: &str| {
        let mut l: AuditRecord = audit::line(ev, at).actor(actor);
        l.device_id = device.map(str::to_owned);
        l.outcome = outcome.to_owned();
        l
    };
    let mut by_admin = entry(150, event::USER_DISABLE, "admin", None, "success");
    by_admin.reason = Some("alice@example.com".to_owned());
    let written = [
        entry(100, "signin", "alice@example.com", Some("dev-a"), "success"),
        entry(110, "signin", "bob@example.com", Some("dev-b"), "failure"),
        entry(
            120,
            "signin_x",
            "alice@example.com",
            Some("dev-a"),
            "success",
        ),
        entry(130, "signinXx", "alice@example.com", None, "success"),
        entry(140, "join", "bob@example.com", Some("dev-b"), "success"),
        by_admin,
    ];
    for l in &written {
        s.append_audit(TENANT, l).await.or_fail(P)?;
    }
    let search = |f: AuditFilter| async move {
        let found = a.audit_search(TENANT, &f).await?;
        Ok::<_, StorageError>(found.into_iter().map(|e| e.record.at).collect::<Vec<_>>())
    };
    let cases: Vec<(&str, AuditFilter, Vec<i64>)> = vec![
        (
            "everything, oldest first",
            AuditFilter::default(),
            vec![100, 110, 120, 130, 140, 150],
        ),
        (
            "since and until",
            AuditFilter {
                since: Some(110),
                until: Some(140),
                ..AuditFilter::default()
            },
            vec![110, 120, 130],
        ),
        (
            "a user, as actor or as the note",
            AuditFilter {
                user: Some("alice@example.com".to_owned()),
                ..AuditFilter::default()
            },
            vec![100, 120, 130, 150],
        ),
        (
            "a device",
            AuditFilter {
                device: Some("dev-b".to_owned()),
                ..AuditFilter::default()
            },
            vec![110, 140],
        ),
        (
            "an exact event",
            AuditFilter {
                event: Some("signin".to_owned()),
                ..AuditFilter::default()
            },
            vec![100, 110],
        ),
        (
            "an event prefix, `_` taken literally",
            AuditFilter {
                event: Some("signin_*".to_owned()),
                ..AuditFilter::default()
            },
            vec![120],
        ),
        (
            "an event prefix",
            AuditFilter {
                event: Some("sign*".to_owned()),
                ..AuditFilter::default()
            },
            vec![100, 110, 120, 130],
        ),
        (
            "an outcome",
            AuditFilter {
                outcome: Some("failure".to_owned()),
                ..AuditFilter::default()
            },
            vec![110],
        ),
        (
            "the newest two of a user",
            AuditFilter {
                user: Some("alice@example.com".to_owned()),
                limit: Some(2),
                ..AuditFilter::default()
            },
            vec![130, 150],
        ),
    ];
    for (what, filter, want) in cases {
        ensure_eq!(P, search(filter).await.or_fail(P)?, want, "{what}");
    }
    let elsewhere = a
        .audit_search(OTHER_TENANT, &AuditFilter::default())
        .await
        .or_fail(P)?;
    ensure!(
        P,
        elsewhere.is_empty(),
        "another tenant's search found lines"
    );
    let all = a
        .audit_search(TENANT, &AuditFilter::default())
        .await
        .or_fail(P)?;
    let Some(third) = all.get(2) else {
        return Err(Violation::Broken {
            property: P,
            detail: format!("{} entries found", all.len()),
        });
    };
    let one = a.audit_entry(TENANT, third.seq).await.or_fail(P)?;
    ensure_eq!(P, one.as_ref(), Some(third), "audit_entry by id");
    let seqs: BTreeSet<i64> = all.iter().map(|e| e.seq).collect();
    ensure_eq!(P, seqs.len(), all.len(), "entries with one id each");
    let other = a.audit_entry(OTHER_TENANT, third.seq).await.or_fail(P)?;
    ensure!(
        P,
        other.is_none(),
        "another tenant's audit_entry found {other:?}"
    );
    let missing = a
        .audit_entry(TENANT, seqs.last().copied().unwrap_or(0) + 1000)
        .await
        .or_fail(P)?;
    ensure!(P, missing.is_none(), "an unknown id found {missing:?}");
    Ok(())
}
