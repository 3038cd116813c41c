//! The directory part of [`latchkey_storage::Storage`]: the tenant, users and devices.

use latchkey_storage::audit::event;
use latchkey_storage::StorageError;

use crate::fixtures::*;
use crate::{ensure, ensure_eq, Backend, OrFail, Outcome};

/// A fresh backend has no tenant; the first `create_tenant` stores it, a second one (another
/// id) changes nothing and returns the stored tenant.
pub async fn tenant_is_created_once(b: &Backend) -> Outcome {
    const P: &str = "tenant_is_created_once";
    let s = &b.main.storage;
    ensure!(
        P,
        s.load_tenant().await.or_fail(P)?.is_none(),
        "a fresh backend has a tenant"
    );
    let first = s.create_tenant(&tenant()).await.or_fail(P)?;
    ensure_eq!(P, first.id, TENANT, "create_tenant returned another tenant");
    let mut other = tenant();
    other.id = OTHER_TENANT.to_owned();
    let again = b.peer.storage.create_tenant(&other).await.or_fail(P)?;
    ensure_eq!(
        P,
        again.id,
        TENANT,
        "a second create_tenant replaced the tenant"
    );
    let loaded = s.load_tenant().await.or_fail(P)?.map(|t| t.id);
    ensure_eq!(P, loaded, Some(TENANT.to_owned()), "load_tenant");
    s.ping(TENANT).await.or_fail(P)?;
    Ok(())
}

/// `create_user` stores the user and its audit line; a second user with the same UPN is a
/// `Conflict` that writes nothing (no audit line either); lookups and the listing agree.
pub async fn users_are_unique_and_audited(b: &Backend) -> Outcome {
    const P: &str = "users_are_unique_and_audited";
    with_tenant(b, P).await?;
    let s = &b.main.storage;
    let alice = add_user(b, P, "alice").await?;
    ensure_eq!(
        P,
        audited(&**s, P, "create alice").await?,
        1,
        "audit lines of the create"
    );
    let mut twin = user("alice");
    twin.id = "u-twin".to_owned();
    let dup = s
        .create_user(TENANT, &twin, &line(event::USER_CREATE, "create twin"))
        .await;
    ensure!(
        P,
        matches!(dup, Err(StorageError::Conflict(_))),
        "duplicate UPN: {dup:?}"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "create twin").await?,
        0,
        "a refused create was audited"
    );
    let found = s.user_by_upn(TENANT, &alice.upn).await.or_fail(P)?;
    ensure_eq!(
        P,
        found.map(|u| u.id),
        Some(alice.id.clone()),
        "user_by_upn"
    );
    let none = s
        .user_by_upn(TENANT, "nobody@example.com")
        .await
        .or_fail(P)?;
    ensure!(P, none.is_none(), "an unknown UPN was found");
    add_user(b, P, "bob").await?;
    let listed: Vec<String> = s
        .list_users(TENANT)
        .await
        .or_fail(P)?
        .into_iter()
        .map(|u| u.upn)
        .collect();
    ensure_eq!(
        P,
        listed,
        vec!["alice@example.com", "bob@example.com"],
        "list_users"
    );
    let by_id = b.main.web.user_by_id(TENANT, &alice.id).await.or_fail(P)?;
    ensure_eq!(P, by_id.map(|u| u.upn), Some(alice.upn), "user_by_id");
    let counts = s.counts(TENANT).await.or_fail(P)?;
    ensure_eq!(
        P,
        (counts.users, counts.audit),
        (2, 2),
        "counts (users, audit)"
    );
    Ok(())
}

/// `disable_user` marks the user disabled with its audit line; an unknown UPN returns false
/// and writes nothing.
pub async fn disable_user_is_audited_and_unknown_is_refused(b: &Backend) -> Outcome {
    const P: &str = "disable_user_is_audited_and_unknown_is_refused";
    with_tenant(b, P).await?;
    let s = &b.main.storage;
    let alice = add_user(b, P, "alice").await?;
    let done = s
        .disable_user(
            TENANT,
            &alice.upn,
            &line(event::USER_DISABLE, "disable alice"),
        )
        .await
        .or_fail(P)?;
    ensure!(P, done, "disable_user of a user returned false");
    let stored = s.user_by_upn(TENANT, &alice.upn).await.or_fail(P)?;
    ensure!(
        P,
        stored.is_some_and(|u| u.disabled),
        "the user is not disabled"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "disable alice").await?,
        1,
        "audit lines"
    );
    let unknown = s
        .disable_user(
            TENANT,
            "nobody@example.com",
            &line(event::USER_DISABLE, "nobody"),
        )
        .await
        .or_fail(P)?;
    ensure!(P, !unknown, "disable_user of an unknown UPN returned true");
    ensure_eq!(
        P,
        audited(&**s, P, "nobody").await?,
        0,
        "an unknown disable was audited"
    );
    Ok(())
}

/// `password_signin` accepts a TOTP step only above the last one used, and writes its audit
/// line only when it accepts; without a step it records for a live user; an unknown or
/// disabled user (disabled after the caller read it) is refused, unaudited.
pub async fn password_signin_uses_each_totp_step_once(b: &Backend) -> Outcome {
    const P: &str = "password_signin_uses_each_totp_step_once";
    with_tenant(b, P).await?;
    let s = &b.main.storage;
    let alice = add_user(b, P, "alice").await?;
    let mut answers = Vec::new();
    for (n, step) in [Some(50), Some(50), Some(49), Some(51), None]
        .into_iter()
        .enumerate()
    {
        let tag = format!("pw {n}");
        let ok = s
            .password_signin(TENANT, &alice.id, step, &line(event::PASSWORD_SIGNIN, &tag))
            .await
            .or_fail(P)?;
        ensure_eq!(
            P,
            audited(&**s, P, &tag).await?,
            usize::from(ok),
            "audit of sign-in {n}"
        );
        answers.push(ok);
    }
    ensure_eq!(
        P,
        answers,
        vec![true, false, false, true, true],
        "answers per step"
    );
    let last = s.user_by_upn(TENANT, &alice.upn).await.or_fail(P)?;
    ensure_eq!(
        P,
        last.and_then(|u| u.last_totp_step),
        Some(51),
        "last_totp_step"
    );
    let unknown = s
        .password_signin(
            TENANT,
            "u-nobody",
            Some(60),
            &line(event::PASSWORD_SIGNIN, "nobody"),
        )
        .await
        .or_fail(P)?;
    ensure!(P, !unknown, "a TOTP step was recorded for an unknown user");
    let unknown = s
        .password_signin(
            TENANT,
            "u-nobody",
            None,
            &line(event::PASSWORD_SIGNIN, "nobody"),
        )
        .await
        .or_fail(P)?;
    ensure!(
        P,
        !unknown,
        "a password sign-in was recorded for an unknown user"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "nobody").await?,
        0,
        "an unknown user's sign-in was audited"
    );
    // A user disabled after the caller read it (while it checked the password): refused.
    s.disable_user(TENANT, &alice.upn, &line(event::USER_DISABLE, "off"))
        .await
        .or_fail(P)?;
    for (n, step) in [Some(60), None].into_iter().enumerate() {
        let tag = format!("disabled {n}");
        let ok = s
            .password_signin(TENANT, &alice.id, step, &line(event::PASSWORD_SIGNIN, &tag))
            .await
            .or_fail(P)?;
        ensure!(
            P,
            !ok,
            "a disabled user's password sign-in ({step:?}) was recorded"
        );
        ensure_eq!(
            P,
            audited(&**s, P, &tag).await?,
            0,
            "a disabled user's sign-in was audited"
        );
    }
    Ok(())
}

/// `join_device` stores the device, its nonce and audit line together; a replayed nonce is
/// `NonceReplayed` and stores no device; an unknown device id reads as none.
pub async fn join_device_consumes_its_nonce_whole_or_not_at_all(b: &Backend) -> Outcome {
    const P: &str = "join_device_consumes_its_nonce_whole_or_not_at_all";
    with_tenant(b, P).await?;
    let s = &b.main.storage;
    let alice = add_user(b, P, "alice").await?;
    let d = add_device(b, P, "dev-a", &alice).await?;
    ensure!(
        P,
        s.nonce_used(TENANT, "join-dev-a").await.or_fail(P)?,
        "nonce not consumed"
    );
    let stored = s.device(TENANT, &d.id).await.or_fail(P)?;
    ensure_eq!(
        P,
        stored.map(|x| x.owner_user_id),
        Some(alice.id.clone()),
        "device()"
    );
    let replay = s
        .join_device(
            TENANT,
            &nonce("join-dev-a"),
            &device("dev-b", &alice.id),
            &line(event::JOIN, "replay"),
        )
        .await;
    ensure!(
        P,
        matches!(replay, Err(StorageError::NonceReplayed)),
        "replay: {replay:?}"
    );
    ensure!(
        P,
        s.device(TENANT, "dev-b").await.or_fail(P)?.is_none(),
        "replay stored a device"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "replay").await?,
        0,
        "the replay was audited"
    );
    // A device whose owner does not exist fails and leaves its nonce unused.
    let orphan = s
        .join_device(
            TENANT,
            &nonce("join-orphan"),
            &device("dev-o", "u-nobody"),
            &line(event::JOIN, "orphan"),
        )
        .await;
    ensure!(
        P,
        orphan.is_err(),
        "a device of an unknown owner was stored"
    );
    ensure!(
        P,
        !s.nonce_used(TENANT, "join-orphan").await.or_fail(P)?,
        "half-written join"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "orphan").await?,
        0,
        "the failed join was audited"
    );
    let listed = s.list_devices(TENANT).await.or_fail(P)?;
    ensure_eq!(P, listed.len(), 1, "list_devices");
    ensure_eq!(
        P,
        listed.first().map(|l| l.owner.clone()),
        Some(alice.upn),
        "owner UPN"
    );
    ensure!(
        P,
        s.device(TENANT, "dev-none").await.or_fail(P)?.is_none(),
        "unknown device"
    );
    Ok(())
}

/// `disable_device` disables with its audit line; an unknown device returns false, no line.
pub async fn disable_device_is_audited_and_unknown_is_refused(b: &Backend) -> Outcome {
    const P: &str = "disable_device_is_audited_and_unknown_is_refused";
    let (_, d, _) = enrolled(b, P).await?;
    let s = &b.main.storage;
    let done = s
        .disable_device(TENANT, &d.id, &line(event::DEVICE_DISABLE, "disable"))
        .await
        .or_fail(P)?;
    ensure!(P, done, "disable_device returned false");
    let stored = s.device(TENANT, &d.id).await.or_fail(P)?;
    ensure!(
        P,
        stored.is_some_and(|x| x.disabled),
        "the device is not disabled"
    );
    ensure_eq!(P, audited(&**s, P, "disable").await?, 1, "audit lines");
    let unknown = s
        .disable_device(TENANT, "dev-none", &line(event::DEVICE_DISABLE, "unknown"))
        .await
        .or_fail(P)?;
    ensure!(P, !unknown, "an unknown device was disabled");
    ensure_eq!(
        P,
        audited(&**s, P, "unknown").await?,
        0,
        "an unknown disable was audited"
    );
    Ok(())
}

/// `leave_device` consumes its nonce and disables the device (audited); its nonce replayed
/// is refused.
pub async fn leave_device_consumes_the_nonce_and_disables(b: &Backend) -> Outcome {
    const P: &str = "leave_device_consumes_the_nonce_and_disables";
    let (_, d, _) = enrolled(b, P).await?;
    let s = &b.main.storage;
    s.leave_device(TENANT, &nonce("leave"), &d.id, &line(event::LEAVE, "leave"))
        .await
        .or_fail(P)?;
    let stored = s.device(TENANT, &d.id).await.or_fail(P)?;
    ensure!(
        P,
        stored.is_some_and(|x| x.disabled),
        "the device is not disabled"
    );
    ensure_eq!(P, audited(&**s, P, "leave").await?, 1, "audit lines");
    let replay = s
        .leave_device(TENANT, &nonce("leave"), &d.id, &line(event::LEAVE, "again"))
        .await;
    ensure!(
        P,
        matches!(replay, Err(StorageError::NonceReplayed)),
        "replay: {replay:?}"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "again").await?,
        0,
        "the replay was audited"
    );
    Ok(())
}
