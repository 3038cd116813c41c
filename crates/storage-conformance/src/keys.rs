//! Hello keys, sign-ins and primary refresh tokens ([`latchkey_storage::Storage`]).

use latchkey_storage::audit::event;
use latchkey_storage::StorageError;

use crate::fixtures::*;
use crate::{ensure, ensure_eq, Backend, OrFail, Outcome};

/// `register_key` without `allow_replace` on a device with a key is `WouldReplace` and
/// writes nothing, not even the nonce; with it, the old key goes, its id is returned and
/// the line is `key_replace`.
pub async fn register_key_replaces_only_when_allowed(b: &Backend) -> Outcome {
    const P: &str = "register_key_replaces_only_when_allowed";
    let (alice, d, k) = enrolled(b, P).await?;
    let s = &b.main.storage;
    let second = key("key-a2", &alice.id, &d.id);
    let refused = s
        .register_key(
            TENANT,
            &nonce("n-2"),
            &second,
            false,
            &line(event::KEY_REGISTER, "r2"),
            None,
        )
        .await;
    ensure!(
        P,
        matches!(&refused, Err(StorageError::WouldReplace(old)) if *old == k.key_id),
        "registration over a key without allow_replace: {refused:?}"
    );
    ensure!(
        P,
        !s.nonce_used(TENANT, "n-2").await.or_fail(P)?,
        "the refused nonce was used"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "r2").await?,
        0,
        "the refusal was audited"
    );
    let replaced = s
        .register_key(
            TENANT,
            &nonce("n-2"),
            &second,
            true,
            &line(event::KEY_REGISTER, "r2"),
            None,
        )
        .await
        .or_fail(P)?;
    ensure_eq!(P, replaced, Some(k.key_id.clone()), "the replaced key id");
    let keys: Vec<String> = s
        .list_keys(TENANT, None)
        .await
        .or_fail(P)?
        .into_iter()
        .map(|l| l.key_id)
        .collect();
    ensure_eq!(P, keys, vec!["key-a2".to_owned()], "keys after the replace");
    let lines = audit_lines(&**s, P).await?;
    let replace_line = lines.iter().find(|a| a.event == event::KEY_REPLACE);
    ensure!(P, replace_line.is_some(), "no key_replace line: {lines:?}");
    let of_bob = s
        .list_keys(TENANT, Some("bob@example.com"))
        .await
        .or_fail(P)?;
    ensure!(P, of_bob.is_empty(), "list_keys of another UPN: {of_bob:?}");
    Ok(())
}

/// A registration that fails (a key id already registered elsewhere, a replayed nonce)
/// writes nothing: the nonce stays unused, no line, the keys as before.
pub async fn register_key_conflict_writes_nothing(b: &Backend) -> Outcome {
    const P: &str = "register_key_conflict_writes_nothing";
    let (alice, _, k) = enrolled(b, P).await?;
    let s = &b.main.storage;
    let d2 = add_device(b, P, "dev-2", &alice).await?;
    let same_id = key(&k.key_id, &alice.id, &d2.id);
    let dup = s
        .register_key(
            TENANT,
            &nonce("n-dup"),
            &same_id,
            false,
            &line(event::KEY_REGISTER, "dup"),
            None,
        )
        .await;
    ensure!(
        P,
        matches!(dup, Err(StorageError::Conflict(_))),
        "duplicate key id: {dup:?}"
    );
    ensure!(
        P,
        !s.nonce_used(TENANT, "n-dup").await.or_fail(P)?,
        "the failed nonce was used"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "dup").await?,
        0,
        "the conflict was audited"
    );
    let replay = s
        .register_key(
            TENANT,
            &nonce("reg-key-a"),
            &key("key-new", &alice.id, &d2.id),
            false,
            &line(event::KEY_REGISTER, "replayed"),
            None,
        )
        .await;
    ensure!(
        P,
        matches!(replay, Err(StorageError::NonceReplayed)),
        "replay: {replay:?}"
    );
    let keys = s.list_keys(TENANT, None).await.or_fail(P)?;
    ensure_eq!(P, keys.len(), 1, "keys after the refusals");
    Ok(())
}

/// `delete_key` deletes with its audit line; an unknown key returns false, no line.
pub async fn delete_key_is_audited_and_unknown_is_refused(b: &Backend) -> Outcome {
    const P: &str = "delete_key_is_audited_and_unknown_is_refused";
    let (_, _, k) = enrolled(b, P).await?;
    let s = &b.main.storage;
    let done = s
        .delete_key(TENANT, &k.key_id, &line(event::KEY_DELETE, "del"))
        .await
        .or_fail(P)?;
    ensure!(P, done, "delete_key returned false");
    ensure!(
        P,
        s.list_keys(TENANT, None).await.or_fail(P)?.is_empty(),
        "the key is still there"
    );
    ensure_eq!(P, audited(&**s, P, "del").await?, 1, "audit lines");
    let again = s
        .delete_key(TENANT, &k.key_id, &line(event::KEY_DELETE, "again"))
        .await
        .or_fail(P)?;
    ensure!(P, !again, "a deleted key was deleted again");
    ensure_eq!(
        P,
        audited(&**s, P, "again").await?,
        0,
        "the second delete was audited"
    );
    Ok(())
}

/// `signin_context` reads the user, device and key; `complete_signin` stores the token and
/// its line for a live key, refuses a replayed nonce, and stores neither token nor line for
/// a deleted key, a disabled device or a disabled user.
pub async fn signin_stores_the_token_only_for_a_live_key(b: &Backend) -> Outcome {
    const P: &str = "signin_stores_the_token_only_for_a_live_key";
    let (alice, d, k) = enrolled(b, P).await?;
    let s = &b.main.storage;
    let ctx = s
        .signin_context(TENANT, &alice.upn, &d.id, &k.key_id)
        .await
        .or_fail(P)?;
    ensure!(
        P,
        ctx.user.is_some() && ctx.device.is_some() && ctx.key.is_some(),
        "signin_context: {ctx:?}"
    );
    let none = s
        .signin_context(TENANT, "x@example.com", "dev-x", "key-x")
        .await
        .or_fail(P)?;
    ensure!(
        P,
        none.user.is_none() && none.device.is_none() && none.key.is_none(),
        "signin_context of unknown ids: {none:?}"
    );
    let ok = s
        .complete_signin(
            TENANT,
            &nonce("s1"),
            &prt("h1", &k, FAR),
            &line(event::SIGNIN, "s1"),
        )
        .await
        .or_fail(P)?;
    ensure!(P, ok, "a sign-in with a live key was refused");
    ensure_eq!(P, audited(&**s, P, "s1").await?, 1, "audit of the sign-in");
    let pc = s.prt_context(TENANT, "h1").await.or_fail(P)?;
    ensure!(
        P,
        pc.as_ref()
            .is_some_and(|c| c.key.is_some() && c.user.is_some() && !c.prt.revoked),
        "prt_context: {pc:?}"
    );
    ensure!(
        P,
        s.prt_context(TENANT, "h-none").await.or_fail(P)?.is_none(),
        "unknown token"
    );
    let replay = s
        .complete_signin(
            TENANT,
            &nonce("s1"),
            &prt("h1b", &k, FAR),
            &line(event::SIGNIN, "s1b"),
        )
        .await;
    ensure!(
        P,
        matches!(replay, Err(StorageError::NonceReplayed)),
        "replay: {replay:?}"
    );
    ensure!(
        P,
        s.prt_context(TENANT, "h1b").await.or_fail(P)?.is_none(),
        "replay stored"
    );
    // A key of another device: the guard refuses.
    let mut wrong = prt("h-wrong", &k, FAR);
    wrong.device_id = "dev-other".to_owned();
    let refused = s
        .complete_signin(TENANT, &nonce("s-w"), &wrong, &line(event::SIGNIN, "sw"))
        .await
        .or_fail(P)?;
    ensure!(
        P,
        !refused,
        "a token for a key not on its device was stored"
    );
    ensure!(
        P,
        s.prt_context(TENANT, "h-wrong").await.or_fail(P)?.is_none(),
        "stored anyway"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "sw").await?,
        0,
        "the refused sign-in was audited"
    );
    s.delete_key(TENANT, &k.key_id, &line(event::KEY_DELETE, "del"))
        .await
        .or_fail(P)?;
    let gone = s
        .complete_signin(
            TENANT,
            &nonce("s2"),
            &prt("h2", &k, FAR),
            &line(event::SIGNIN, "s2"),
        )
        .await
        .or_fail(P)?;
    ensure!(P, !gone, "a sign-in with a deleted key was stored");
    ensure!(
        P,
        s.prt_context(TENANT, "h2").await.or_fail(P)?.is_none(),
        "token of deleted key"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "s2").await?,
        0,
        "the refused sign-in was audited"
    );
    // Disabled user and disabled device, each with a key of its own.
    let bob = add_user(b, P, "bob").await?;
    let db = add_device(b, P, "dev-b", &bob).await?;
    let kb = add_key(b, P, "key-b", &bob, &db).await?;
    s.disable_user(TENANT, &bob.upn, &line(event::USER_DISABLE, "off"))
        .await
        .or_fail(P)?;
    let off = s
        .complete_signin(
            TENANT,
            &nonce("s3"),
            &prt("h3", &kb, FAR),
            &line(event::SIGNIN, "s3"),
        )
        .await
        .or_fail(P)?;
    ensure!(P, !off, "a disabled user's sign-in was stored");
    let carol = add_user(b, P, "carol").await?;
    let dc = add_device(b, P, "dev-c", &carol).await?;
    let kc = add_key(b, P, "key-c", &carol, &dc).await?;
    s.disable_device(TENANT, &dc.id, &line(event::DEVICE_DISABLE, "off"))
        .await
        .or_fail(P)?;
    let off = s
        .complete_signin(
            TENANT,
            &nonce("s4"),
            &prt("h4", &kc, FAR),
            &line(event::SIGNIN, "s4"),
        )
        .await
        .or_fail(P)?;
    ensure!(P, !off, "a disabled device's sign-in was stored");
    ensure_eq!(
        P,
        s.counts(TENANT).await.or_fail(P)?.prts,
        1,
        "tokens stored in all"
    );
    Ok(())
}

/// `renew_prt` revokes the old token and stores the new one with its line; renewing the
/// revoked one again, or a token whose key was deleted, returns false and stores nothing.
pub async fn renew_prt_revokes_the_old_token_once(b: &Backend) -> Outcome {
    const P: &str = "renew_prt_revokes_the_old_token_once";
    let (_, _, k) = enrolled(b, P).await?;
    let s = &b.main.storage;
    s.complete_signin(
        TENANT,
        &nonce("s1"),
        &prt("h1", &k, FAR),
        &line(event::SIGNIN, "s1"),
    )
    .await
    .or_fail(P)?;
    let renewed = s
        .renew_prt(
            TENANT,
            &nonce("r1"),
            "h1",
            &prt("h2", &k, FAR),
            &line(event::PRT_RENEW, "r1"),
        )
        .await
        .or_fail(P)?;
    ensure!(P, renewed, "renewal of a live token was refused");
    let old = s.prt_context(TENANT, "h1").await.or_fail(P)?;
    ensure!(
        P,
        old.is_some_and(|c| c.prt.revoked),
        "the old token is not revoked"
    );
    ensure_eq!(P, audited(&**s, P, "r1").await?, 1, "audit of the renewal");
    let again = s
        .renew_prt(
            TENANT,
            &nonce("r2"),
            "h1",
            &prt("h3", &k, FAR),
            &line(event::PRT_RENEW, "r2"),
        )
        .await
        .or_fail(P)?;
    ensure!(P, !again, "a revoked token was renewed");
    ensure!(
        P,
        s.prt_context(TENANT, "h3").await.or_fail(P)?.is_none(),
        "stored anyway"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "r2").await?,
        0,
        "the refused renewal was audited"
    );
    s.delete_key(TENANT, &k.key_id, &line(event::KEY_DELETE, "del"))
        .await
        .or_fail(P)?;
    let gone = s
        .renew_prt(
            TENANT,
            &nonce("r3"),
            "h2",
            &prt("h4", &k, FAR),
            &line(event::PRT_RENEW, "r3"),
        )
        .await
        .or_fail(P)?;
    ensure!(P, !gone, "a token of a deleted key was renewed");
    ensure!(
        P,
        s.prt_context(TENANT, "h4").await.or_fail(P)?.is_none(),
        "stored anyway"
    );
    let live = s.prt_context(TENANT, "h2").await.or_fail(P)?;
    ensure!(
        P,
        live.is_some_and(|c| !c.prt.revoked),
        "a refused renewal revoked the old token"
    );
    Ok(())
}
