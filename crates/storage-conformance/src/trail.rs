//! Pruning, the audit trail and its caps, and tenant isolation ([`latchkey_storage::Storage`]).

use latchkey_storage::audit::{self, event, MAX_FIELD, MAX_REASON};
use latchkey_storage::AuditRecord;

use crate::fixtures::*;
use crate::{ensure, ensure_eq, Backend, OrFail, Outcome};

/// `prune_nonces` and `prune_prts` delete only rows that expired before the given time.
pub async fn prune_removes_only_expired_rows(b: &Backend) -> Outcome {
    const P: &str = "prune_removes_only_expired_rows";
    let (_, _, k) = enrolled(b, P).await?;
    let s = &b.main.storage;
    let mut early = nonce("early");
    early.expires_at = 2_000;
    s.consume_with_audit(TENANT, &early, &line(event::POLICY_FETCH, "e"))
        .await
        .or_fail(P)?;
    s.complete_signin(
        TENANT,
        &nonce("s1"),
        &prt("old", &k, 2_000),
        &line(event::SIGNIN, "o"),
    )
    .await
    .or_fail(P)?;
    s.complete_signin(
        TENANT,
        &nonce("s2"),
        &prt("new", &k, FAR),
        &line(event::SIGNIN, "n"),
    )
    .await
    .or_fail(P)?;
    let before = s.counts(TENANT).await.or_fail(P)?;
    ensure_eq!(
        P,
        s.prune_nonces(TENANT, 2_000).await.or_fail(P)?,
        0,
        "nonces expiring at now"
    );
    ensure_eq!(
        P,
        s.prune_nonces(TENANT, 2_001).await.or_fail(P)?,
        1,
        "expired nonces pruned"
    );
    ensure!(
        P,
        !s.nonce_used(TENANT, "early").await.or_fail(P)?,
        "the pruned nonce remains"
    );
    ensure!(
        P,
        s.nonce_used(TENANT, "s2").await.or_fail(P)?,
        "a live nonce was pruned"
    );
    ensure_eq!(
        P,
        s.prune_prts(TENANT, 2_001).await.or_fail(P)?,
        1,
        "expired tokens pruned"
    );
    ensure!(
        P,
        s.prt_context(TENANT, "new").await.or_fail(P)?.is_some(),
        "a live token went"
    );
    let after = s.counts(TENANT).await.or_fail(P)?;
    ensure_eq!(
        P,
        (after.used_nonces, after.prts),
        (before.used_nonces - 1, 1),
        "counts"
    );
    Ok(())
}

/// `audit_page` walks the trail in sequence order from `after_seq`, below `before`;
/// `prune_audit` deletes exactly the lines older than `before` and up to `up_to_seq`;
/// `append_audit` adds a line; `audit_since` starts at the given time.
pub async fn audit_pages_and_prune_follow_the_sequence(b: &Backend) -> Outcome {
    const P: &str = "audit_pages_and_prune_follow_the_sequence";
    with_tenant(b, P).await?;
    let s = &b.main.storage;
    for at in 0..10 {
        s.append_audit(
            TENANT,
            &audit::line(event::SIGNIN, 100 + at).failure(format!("f{at}")),
        )
        .await
        .or_fail(P)?;
    }
    let since: Vec<i64> = s
        .audit_since(TENANT, 105)
        .await
        .or_fail(P)?
        .iter()
        .map(|a| a.at)
        .collect();
    ensure_eq!(P, since, (105..110).collect::<Vec<_>>(), "audit_since");
    let first = s.audit_page(TENANT, 108, 0, 3).await.or_fail(P)?;
    ensure_eq!(
        P,
        first.iter().map(|(_, a)| a.at).collect::<Vec<_>>(),
        vec![100, 101, 102],
        "page 1"
    );
    let last_seq = first.last().map(|(seq, _)| *seq).unwrap_or_default();
    let rest = s.audit_page(TENANT, 108, last_seq, 100).await.or_fail(P)?;
    ensure_eq!(
        P,
        rest.iter().map(|(_, a)| a.at).collect::<Vec<_>>(),
        (103..108).collect::<Vec<_>>(),
        "page 2"
    );
    let seqs: Vec<i64> = first.iter().chain(&rest).map(|(seq, _)| *seq).collect();
    ensure!(
        P,
        seqs.windows(2).all(|w| w.first() < w.last()),
        "sequence not increasing: {seqs:?}"
    );
    let gone = s
        .prune_audit(TENANT, 108, Some(last_seq))
        .await
        .or_fail(P)?;
    ensure_eq!(P, gone, 3, "lines pruned up to the sequence");
    let gone = s.prune_audit(TENANT, 105, None).await.or_fail(P)?;
    ensure_eq!(P, gone, 2, "lines pruned before the time");
    let left: Vec<i64> = audit_lines(&**s, P).await?.iter().map(|a| a.at).collect();
    ensure_eq!(P, left, (105..110).collect::<Vec<_>>(), "lines left");
    Ok(())
}

/// Every write path caps the audit fields ([`MAX_FIELD`], [`MAX_REASON`]), whatever built
/// the line (a line built without the builder's caps included).
pub async fn audit_fields_are_capped_on_every_write_path(b: &Backend) -> Outcome {
    const P: &str = "audit_fields_are_capped_on_every_write_path";
    let (alice, d, k) = enrolled(b, P).await?;
    let s = &b.main.storage;
    let long = "x".repeat(10_000);
    let raw = |ev: &str| AuditRecord {
        at: 5_000,
        event: ev.to_owned(),
        actor: Some(long.clone()),
        device_id: Some(long.clone()),
        key_id: Some(long.clone()),
        source: Some(long.clone()),
        outcome: "success".to_owned(),
        reason: Some(long.clone()),
    };
    s.append_audit(TENANT, &raw("append")).await.or_fail(P)?;
    s.password_signin(TENANT, &alice.id, None, &raw("password"))
        .await
        .or_fail(P)?;
    s.complete_signin(TENANT, &nonce("s1"), &prt("h1", &k, FAR), &raw("signin"))
        .await
        .or_fail(P)?;
    s.issue_token(TENANT, &nonce("t1"), None, &raw("token"))
        .await
        .or_fail(P)?;
    s.renew_prt(
        TENANT,
        &nonce("r1"),
        "h1",
        &prt("h2", &k, FAR),
        &raw("renew"),
    )
    .await
    .or_fail(P)?;
    s.disable_device(TENANT, &d.id, &raw("disable"))
        .await
        .or_fail(P)?;
    for a in s.audit_since(TENANT, 5_000).await.or_fail(P)? {
        for field in [&a.actor, &a.device_id, &a.key_id, &a.source] {
            let len = field.as_deref().map_or(0, str::len);
            ensure!(
                P,
                len <= MAX_FIELD,
                "{}: a field of {len} bytes was stored",
                a.event
            );
        }
        let len = a.reason.as_deref().map_or(0, str::len);
        ensure!(
            P,
            len <= MAX_REASON,
            "{}: a reason of {len} bytes was stored",
            a.event
        );
    }
    Ok(())
}

/// Under another tenant's id every read is empty and every change finds nothing (false,
/// nothing written); the tenant's own rows stay as they were.
pub async fn another_tenant_sees_and_changes_nothing(b: &Backend) -> Outcome {
    const P: &str = "another_tenant_sees_and_changes_nothing";
    let (alice, d, k) = enrolled(b, P).await?;
    let s = &b.main.storage;
    s.complete_signin(
        TENANT,
        &nonce("s1"),
        &prt("h1", &k, FAR),
        &line(event::SIGNIN, "s1"),
    )
    .await
    .or_fail(P)?;
    let before = s.counts(TENANT).await.or_fail(P)?;
    let o = OTHER_TENANT;
    ensure!(
        P,
        s.user_by_upn(o, &alice.upn).await.or_fail(P)?.is_none(),
        "user_by_upn"
    );
    ensure!(
        P,
        b.main
            .web
            .user_by_id(o, &alice.id)
            .await
            .or_fail(P)?
            .is_none(),
        "user_by_id"
    );
    ensure!(
        P,
        s.list_users(o).await.or_fail(P)?.is_empty(),
        "list_users"
    );
    ensure!(P, s.device(o, &d.id).await.or_fail(P)?.is_none(), "device");
    ensure!(
        P,
        s.list_devices(o).await.or_fail(P)?.is_empty(),
        "list_devices"
    );
    ensure!(
        P,
        s.list_keys(o, None).await.or_fail(P)?.is_empty(),
        "list_keys"
    );
    let ctx = s
        .signin_context(o, &alice.upn, &d.id, &k.key_id)
        .await
        .or_fail(P)?;
    ensure!(
        P,
        ctx.user.is_none() && ctx.device.is_none() && ctx.key.is_none(),
        "signin_context"
    );
    ensure!(
        P,
        s.prt_context(o, "h1").await.or_fail(P)?.is_none(),
        "prt_context"
    );
    ensure!(P, !s.nonce_used(o, "s1").await.or_fail(P)?, "nonce_used");
    ensure!(
        P,
        s.audit_since(o, i64::MIN).await.or_fail(P)?.is_empty(),
        "audit_since"
    );
    ensure!(
        P,
        s.audit_page(o, i64::MAX, 0, 100)
            .await
            .or_fail(P)?
            .is_empty(),
        "audit_page"
    );
    ensure_eq!(
        P,
        s.policy_version(o).await.or_fail(P)?,
        0,
        "policy_version"
    );
    ensure!(
        P,
        s.list_resources(o).await.or_fail(P)?.is_empty(),
        "list_resources"
    );
    ensure_eq!(
        P,
        s.counts(o).await.or_fail(P)?,
        latchkey_storage::Counts::default(),
        "counts"
    );
    let changed = [
        s.delete_key(o, &k.key_id, &line(event::KEY_DELETE, "x"))
            .await
            .or_fail(P)?,
        s.disable_device(o, &d.id, &line(event::DEVICE_DISABLE, "x"))
            .await
            .or_fail(P)?,
        s.disable_user(o, &alice.upn, &line(event::USER_DISABLE, "x"))
            .await
            .or_fail(P)?,
        s.password_signin(o, &alice.id, Some(9), &line(event::PASSWORD_SIGNIN, "x"))
            .await
            .or_fail(P)?,
    ];
    ensure_eq!(P, changed, [false; 4], "changes under another tenant's id");
    // A sign-in or renewal under another tenant's id stores nothing (false or an error).
    let signin = s
        .complete_signin(
            o,
            &nonce("s-o"),
            &prt("h-o", &k, FAR),
            &line(event::SIGNIN, "x"),
        )
        .await;
    ensure!(
        P,
        !matches!(signin, Ok(true)),
        "a sign-in under another tenant was stored"
    );
    let renew = s
        .renew_prt(
            o,
            &nonce("r-o"),
            "h1",
            &prt("h-o2", &k, FAR),
            &line(event::PRT_RENEW, "x"),
        )
        .await;
    ensure!(
        P,
        !matches!(renew, Ok(true)),
        "a renewal under another tenant was stored"
    );
    ensure_eq!(
        P,
        s.prune_prts(o, i64::MAX).await.or_fail(P)?,
        0,
        "prune_prts"
    );
    ensure_eq!(
        P,
        s.prune_nonces(o, i64::MAX).await.or_fail(P)?,
        0,
        "prune_nonces"
    );
    ensure_eq!(
        P,
        s.prune_audit(o, i64::MAX, None).await.or_fail(P)?,
        0,
        "prune_audit"
    );
    let after = s.counts(TENANT).await.or_fail(P)?;
    ensure_eq!(
        P,
        after,
        before,
        "the tenant's rows after the other tenant's calls"
    );
    let pc = s.prt_context(TENANT, "h1").await.or_fail(P)?;
    ensure!(
        P,
        pc.is_some_and(|c| !c.prt.revoked),
        "the tenant's token was revoked"
    );
    Ok(())
}
