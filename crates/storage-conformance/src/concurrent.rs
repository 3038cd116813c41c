//! The concurrent invariants of the isolation contract, each raced by [`TASKS`] tasks at
//! once on the multi-thread runtime, alternating between the backend's two handles (as two
//! processes or replicas would), and checked afterwards on what is stored.

use std::collections::BTreeSet;
use std::future::Future;

use latchkey_storage::audit::event;
use latchkey_storage::policy::{Versioned, ALL_PRINCIPALS};
use latchkey_storage::web::{Challenge, RegisterOutcome, Rotation};
use latchkey_storage::StorageError;

use crate::fixtures::*;
use crate::{ensure, ensure_eq, Backend, Handle, OrFail, Outcome, Violation};

/// How many tasks race in each check.
pub const TASKS: usize = 24;

/// Runs `work(i, handle)` for `i` in `0..n` at once (even `i` on the main handle, odd on the
/// peer), released together by a barrier; returns the answers by `i`.
async fn race<T, F, Fut>(
    b: &Backend,
    property: &'static str,
    n: usize,
    work: F,
) -> Result<Vec<T>, Violation>
where
    T: Send + 'static,
    F: Fn(usize, Handle) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        let handle = if i % 2 == 0 {
            b.main.clone()
        } else {
            b.peer.clone()
        };
        let fut = work(i, handle);
        let barrier = barrier.clone();
        set.spawn(async move {
            barrier.wait().await;
            (i, fut.await)
        });
    }
    let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
    while let Some(done) = set.join_next().await {
        let (i, answer) = done.map_err(|e| Violation::Task {
            property,
            detail: e.to_string(),
        })?;
        if let Some(slot) = out.get_mut(i) {
            *slot = Some(answer);
        }
    }
    Ok(out.into_iter().flatten().collect())
}

/// One nonce presented at once by [`TASKS`] operations of different kinds (sign-in, access
/// token, policy delivery, session open) on both handles: exactly one consumes it, every
/// other gets `NonceReplayed`, and exactly one audit line is written.
pub async fn race_nonce_is_consumed_once(b: &Backend) -> Outcome {
    const P: &str = "race_nonce_is_consumed_once";
    let (_, d, k) = enrolled(b, P).await?;
    let answers = race(b, P, TASKS, |i, h| {
        let (k, dev) = (k.clone(), d.id.clone());
        async move {
            let n = nonce("contested");
            let a = line(event::SIGNIN, "contested");
            match i % 4 {
                0 => h
                    .storage
                    .complete_signin(TENANT, &n, &prt(&format!("h{i}"), &k, FAR), &a)
                    .await
                    .map(|_| ()),
                1 => h
                    .storage
                    .issue_token(TENANT, &n, None, &a)
                    .await
                    .map(|_| ()),
                2 => h.storage.consume_with_audit(TENANT, &n, &a).await,
                _ => {
                    let session = latchkey_storage::policy::PolicySessionRow {
                        device_id: dev,
                        session_id: format!("s{i}"),
                        upn: None,
                        version: 0,
                        commands: 0,
                        opened_at: 1,
                        closed_at: None,
                        failed: None,
                    };
                    h.storage
                        .open_policy_session(TENANT, &n, &session, &a)
                        .await
                }
            }
        }
    })
    .await?;
    let won = answers.iter().filter(|a| a.is_ok()).count();
    let replayed = answers
        .iter()
        .filter(|a| matches!(a, Err(StorageError::NonceReplayed)))
        .count();
    ensure_eq!(
        P,
        (won, replayed),
        (1, TASKS - 1),
        "winners and replays ({answers:?})"
    );
    ensure_eq!(
        P,
        audited(&*b.main.storage, P, "contested").await?,
        1,
        "audit lines"
    );
    let c = b.main.storage.counts(TENANT).await.or_fail(P)?;
    ensure!(P, c.prts <= 1, "{} tokens stored for one nonce", c.prts);
    Ok(())
}

/// [`TASKS`] registrations of distinct keys for one user on one device, none allowed to
/// replace: exactly one is stored, every other is `WouldReplace` and left no nonce.
pub async fn race_one_hello_key_per_user_and_device(b: &Backend) -> Outcome {
    const P: &str = "race_one_hello_key_per_user_and_device";
    with_tenant(b, P).await?;
    let alice = add_user(b, P, "alice").await?;
    let d = add_device(b, P, "dev-a", &alice).await?;
    let answers = race(b, P, TASKS, |i, h| {
        let k = key(&format!("k{i}"), &alice.id, &d.id);
        async move {
            h.storage
                .register_key(
                    TENANT,
                    &nonce(&format!("n{i}")),
                    &k,
                    false,
                    &line(event::KEY_REGISTER, "race"),
                    None,
                )
                .await
        }
    })
    .await?;
    let stored: Vec<usize> = answers
        .iter()
        .enumerate()
        .filter(|(_, a)| matches!(a, Ok(None)))
        .map(|(i, _)| i)
        .collect();
    let refused = answers
        .iter()
        .filter(|a| matches!(a, Err(StorageError::WouldReplace(_))))
        .count();
    ensure_eq!(
        P,
        (stored.len(), refused),
        (1, TASKS - 1),
        "stored and refused ({answers:?})"
    );
    let keys = b.main.storage.list_keys(TENANT, None).await.or_fail(P)?;
    let winner = stored.first().map(|i| format!("k{i}"));
    ensure_eq!(
        P,
        keys.iter().map(|k| k.key_id.clone()).collect::<Vec<_>>(),
        winner.into_iter().collect::<Vec<_>>(),
        "keys stored"
    );
    let c = b.main.storage.counts(TENANT).await.or_fail(P)?;
    // join + registration nonces only: the refused ones wrote nothing.
    ensure_eq!(P, c.used_nonces, 2, "nonces consumed");
    ensure_eq!(
        P,
        audited(&*b.main.storage, P, "race").await?,
        1,
        "audit lines"
    );
    Ok(())
}

/// [`TASKS`] registrations that may replace, for one user on one device: all succeed, one
/// key is left, exactly one found nothing to replace, and the replaced ids are every other
/// key exactly once (a chain: no replacement was lost or doubled).
pub async fn race_replacing_registrations_keep_one_key(b: &Backend) -> Outcome {
    const P: &str = "race_replacing_registrations_keep_one_key";
    with_tenant(b, P).await?;
    let alice = add_user(b, P, "alice").await?;
    let d = add_device(b, P, "dev-a", &alice).await?;
    let answers = race(b, P, TASKS, |i, h| {
        let k = key(&format!("k{i}"), &alice.id, &d.id);
        async move {
            h.storage
                .register_key(
                    TENANT,
                    &nonce(&format!("n{i}")),
                    &k,
                    true,
                    &line(event::KEY_REGISTER, "race"),
                    None,
                )
                .await
        }
    })
    .await?;
    let mut replaced = BTreeSet::new();
    let mut fresh = 0;
    for (i, a) in answers.iter().enumerate() {
        match a {
            Ok(Some(old)) => ensure!(P, replaced.insert(old.clone()), "{old} replaced twice"),
            Ok(None) => fresh += 1,
            Err(e) => ensure!(P, false, "registration {i} failed: {e}"),
        }
    }
    ensure_eq!(P, fresh, 1, "registrations that replaced nothing");
    let keys = b.main.storage.list_keys(TENANT, None).await.or_fail(P)?;
    ensure_eq!(P, keys.len(), 1, "keys left");
    let left = keys.first().map(|k| k.key_id.clone()).unwrap_or_default();
    let all: BTreeSet<String> = (0..TASKS)
        .map(|i| format!("k{i}"))
        .filter(|k| *k != left)
        .collect();
    ensure_eq!(P, replaced, all, "the replaced keys");
    Ok(())
}

/// [`TASKS`] security-key registrations for one user with a limit of 10: exactly 10 are
/// stored, the rest are `LimitReached`.
pub async fn race_security_keys_stay_within_the_limit(b: &Backend) -> Outcome {
    const P: &str = "race_security_keys_stay_within_the_limit";
    with_tenant(b, P).await?;
    let alice = add_user(b, P, "alice").await?;
    for i in 0..TASKS {
        let c = Challenge {
            id: format!("c{i}"),
            purpose: "register".to_owned(),
            user_id: Some(alice.id.clone()),
            challenge: vec![3; 32],
            expires_at: FAR,
        };
        b.main
            .web
            .store_challenge(TENANT, &c, 10)
            .await
            .or_fail(P)?;
    }
    let answers = race(b, P, TASKS, |i, h| {
        let k = security_key(&format!("cred{i}"), &alice.id);
        async move {
            h.web
                .register_security_key(
                    TENANT,
                    &format!("c{i}"),
                    &k,
                    10,
                    10,
                    &line(event::SECURITY_KEY_REGISTER, "race"),
                )
                .await
        }
    })
    .await?;
    let registered = answers
        .iter()
        .filter(|a| matches!(a, Ok(RegisterOutcome::Registered)))
        .count();
    let limited = answers
        .iter()
        .filter(|a| matches!(a, Ok(RegisterOutcome::LimitReached)))
        .count();
    ensure_eq!(
        P,
        (registered, limited),
        (10, TASKS - 10),
        "registered and refused ({answers:?})"
    );
    let keys = b
        .main
        .web
        .list_security_keys(TENANT, Some(&alice.id))
        .await
        .or_fail(P)?;
    ensure_eq!(P, keys.len(), 10, "keys stored");
    ensure_eq!(
        P,
        audited(&*b.main.storage, P, "race").await?,
        10,
        "audit lines"
    );
    Ok(())
}

/// [`TASKS`] writers each add their own node to the device scope by read-modify-write
/// (`load_csp`, then `save_csp` with the version read, again on `Unchanged`): every node is
/// there at the end and the version went up once per writer.
pub async fn race_csp_updates_are_never_lost(b: &Backend) -> Outcome {
    const P: &str = "race_csp_updates_are_never_lost";
    with_tenant(b, P).await?;
    let answers = race(b, P, TASKS, |i, h| async move {
        let mine = format!("Node/{i}");
        loop {
            let snap = h.storage.load_csp(TENANT, None).await?;
            let mut nodes: Vec<String> = snap
                .rows
                .iter()
                .filter(|r| r.scope == "device" && r.principal == ALL_PRINCIPALS)
                .map(|r| r.node.clone())
                .collect();
            nodes.push(mine.clone());
            let saved = h
                .storage
                .save_csp(
                    TENANT,
                    snap.version,
                    &[crate::policy::device_store(&nodes)],
                    &line(event::POLICY_CHANGE, "race"),
                    10,
                )
                .await?;
            if let Versioned::Changed { version, .. } = saved {
                return Ok::<i64, StorageError>(version);
            }
        }
    })
    .await?;
    let mut versions = Vec::new();
    for a in answers {
        versions.push(a.or_fail(P)?);
    }
    versions.sort_unstable();
    let expected: Vec<i64> = (1..=i64::try_from(TASKS).unwrap_or(i64::MAX)).collect();
    ensure_eq!(P, versions, expected, "each save got its own version");
    let snap = b.main.storage.load_csp(TENANT, None).await.or_fail(P)?;
    let nodes: BTreeSet<String> = snap.rows.into_iter().map(|r| r.node).collect();
    let all: BTreeSet<String> = (0..TASKS).map(|i| format!("Node/{i}")).collect();
    ensure_eq!(
        P,
        nodes,
        all,
        "nodes after the race (a missing one is a lost update)"
    );
    ensure_eq!(
        P,
        audited(&*b.main.storage, P, "race").await?,
        TASKS,
        "audit lines"
    );
    Ok(())
}

/// [`TASKS`] members added to one group at once: all are members and the version went up
/// once per add.
pub async fn race_group_member_adds_are_never_lost(b: &Backend) -> Outcome {
    const P: &str = "race_group_member_adds_are_never_lost";
    with_tenant(b, P).await?;
    b.main
        .storage
        .create_group(TENANT, "ops", &line(event::GROUP_CHANGE, "g"), 1)
        .await
        .or_fail(P)?;
    let answers = race(b, P, TASKS, |i, h| async move {
        let member = format!("u{i}@example.com");
        h.storage
            .set_group_member(
                TENANT,
                "ops",
                ("user", &member),
                true,
                &line(event::GROUP_CHANGE, "race"),
                2,
            )
            .await
    })
    .await?;
    for a in answers {
        ensure!(
            P,
            matches!(a.or_fail(P)?, Versioned::Changed { .. }),
            "an add changed nothing"
        );
    }
    let members = b.main.storage.list_group_members(TENANT).await.or_fail(P)?;
    ensure_eq!(P, members.len(), TASKS, "members");
    let version = b.main.storage.policy_version(TENANT).await.or_fail(P)?;
    ensure_eq!(
        P,
        version,
        i64::try_from(TASKS + 1).unwrap_or(i64::MAX),
        "policy version"
    );
    Ok(())
}

/// Sign-in tasks raced against one revocation in [`signins_against`].
const SIGNERS: usize = 16;
/// Sign-ins each of those tasks makes, one after the other.
const ROUNDS: usize = 4;

/// What a revocation raced against sign-ins must leave: the sign-ins answered `true` are
/// exactly the stored tokens, and none of their audit lines comes after the revocation's.
/// [`SIGNERS`] tasks sign in [`ROUNDS`] times each, alternating between the two handles;
/// the revocation starts once [`SIGNERS`] sign-ins were answered (so some commit before it
/// and the rest are in flight around it).
#[allow(non_snake_case)]
async fn signins_against(b: &Backend, P: &'static str, revoke_event: &'static str) -> Outcome {
    let (_, d, k) = enrolled(b, P).await?;
    let (count, mut answered) = tokio::sync::watch::channel(0_usize);
    let count = std::sync::Arc::new(count);
    let mut set = tokio::task::JoinSet::new();
    for t in 0..SIGNERS {
        let h = if t % 2 == 0 {
            b.main.clone()
        } else {
            b.peer.clone()
        };
        let (k, count) = (k.clone(), count.clone());
        set.spawn(async move {
            let mut out = Vec::new();
            for r in 0..ROUNDS {
                let i = t * ROUNDS + r;
                let p = prt(&format!("h{i}"), &k, FAR);
                let a = line(event::SIGNIN, "signin");
                let answer = h
                    .storage
                    .complete_signin(TENANT, &nonce(&format!("n{i}")), &p, &a)
                    .await;
                count.send_modify(|c| *c += 1);
                out.push((i, answer));
            }
            out
        });
    }
    let _ = answered.wait_for(|c| *c >= SIGNERS).await;
    let a = line(revoke_event, "revoke");
    let revoker = if revoke_event == event::KEY_DELETE {
        b.peer.storage.delete_key(TENANT, &k.key_id, &a).await
    } else {
        b.peer.storage.disable_device(TENANT, &d.id, &a).await
    };
    ensure!(P, revoker.or_fail(P)?, "the revocation found nothing");
    let mut answers = Vec::new();
    while let Some(done) = set.join_next().await {
        answers.extend(done.map_err(|e| Violation::Task {
            property: P,
            detail: e.to_string(),
        })?);
    }
    let n = SIGNERS * ROUNDS;
    let mut accepted = BTreeSet::new();
    for (i, a) in answers {
        if a.or_fail(P)? {
            accepted.insert(format!("h{i}"));
        }
    }
    ensure!(
        P,
        accepted.len() >= SIGNERS,
        "only {} sign-ins stored, though {SIGNERS} were answered before the revocation began",
        accepted.len()
    );
    let s = &b.main.storage;
    let mut stored = BTreeSet::new();
    for i in 0..n {
        let h = format!("h{i}");
        if s.prt_context(TENANT, &h).await.or_fail(P)?.is_some() {
            stored.insert(h);
        }
    }
    ensure_eq!(
        P,
        stored,
        accepted,
        "tokens stored vs sign-ins answered true"
    );
    let page = s.audit_page(TENANT, i64::MAX, 0, 10_000).await.or_fail(P)?;
    let revoked_at = page
        .iter()
        .find(|(_, a)| a.reason.as_deref() == Some("revoke"))
        .map(|(seq, _)| *seq);
    ensure!(P, revoked_at.is_some(), "no audit line of the revocation");
    let after: Vec<i64> = page
        .iter()
        .filter(|(seq, a)| Some(*seq) > revoked_at && a.reason.as_deref() == Some("signin"))
        .map(|(seq, _)| *seq)
        .collect();
    ensure!(
        P,
        after.is_empty(),
        "sign-ins committed after the revocation: seq {after:?}"
    );
    let lines = page
        .iter()
        .filter(|(_, a)| a.reason.as_deref() == Some("signin"))
        .count();
    ensure_eq!(
        P,
        lines,
        accepted.len(),
        "sign-in audit lines vs sign-ins answered true"
    );
    // And after it, every sign-in is refused.
    let late = s
        .complete_signin(
            TENANT,
            &nonce("late"),
            &prt("late", &k, FAR),
            &line(event::SIGNIN, "late"),
        )
        .await
        .or_fail(P)?;
    ensure!(P, !late, "a sign-in after the revocation was stored");
    Ok(())
}

/// A Hello key deleted while sign-ins with it are in flight: no sign-in commits
/// after the delete commits (checked on the stored tokens and the audit order).
pub async fn race_no_signin_commits_after_the_key_delete(b: &Backend) -> Outcome {
    signins_against(
        b,
        "race_no_signin_commits_after_the_key_delete",
        event::KEY_DELETE,
    )
    .await
}

/// A device disabled while [`TASKS`]×2 sign-ins on it are in flight: as for a key delete.
pub async fn race_no_signin_commits_after_the_device_disable(b: &Backend) -> Outcome {
    signins_against(
        b,
        "race_no_signin_commits_after_the_device_disable",
        event::DEVICE_DISABLE,
    )
    .await
}

/// One TOTP step presented at once by [`TASKS`] sign-ins (API password sign-ins and web
/// sessions, on both handles): exactly one is accepted, with one audit line and (when it
/// was a web sign-in) one session.
pub async fn race_totp_step_is_used_once(b: &Backend) -> Outcome {
    const P: &str = "race_totp_step_is_used_once";
    with_tenant(b, P).await?;
    let alice = add_user(b, P, "alice").await?;
    let answers = race(b, P, TASKS, |i, h| {
        let uid = alice.id.clone();
        async move {
            let a = line(event::PASSWORD_SIGNIN, "race");
            if i % 3 == 0 {
                h.web
                    .password_session(TENANT, 777, &session(&format!("s{i}"), &uid), &a)
                    .await
            } else {
                h.storage.password_signin(TENANT, &uid, Some(777), &a).await
            }
        }
    })
    .await?;
    let mut accepted = Vec::new();
    for (i, a) in answers.into_iter().enumerate() {
        if a.or_fail(P)? {
            accepted.push(i);
        }
    }
    ensure_eq!(
        P,
        accepted.len(),
        1,
        "sign-ins accepted with one step ({accepted:?})"
    );
    ensure_eq!(
        P,
        audited(&*b.main.storage, P, "race").await?,
        1,
        "audit lines"
    );
    let mut sessions = 0;
    for i in (0..TASKS).step_by(3) {
        if b.main
            .web
            .session(TENANT, &format!("s{i}"), 10)
            .await
            .or_fail(P)?
            .is_some()
        {
            sessions += 1;
        }
    }
    let web_won = accepted.first().is_some_and(|i| i % 3 == 0);
    ensure_eq!(P, sessions, usize::from(web_won), "sessions stored");
    Ok(())
}

/// One primary refresh token renewed by [`TASKS`] tasks at once: exactly one renewal is
/// stored.
pub async fn race_prt_renewal_happens_once(b: &Backend) -> Outcome {
    const P: &str = "race_prt_renewal_happens_once";
    let (_, _, k) = enrolled(b, P).await?;
    b.main
        .storage
        .complete_signin(
            TENANT,
            &nonce("s0"),
            &prt("h0", &k, FAR),
            &line(event::SIGNIN, "s0"),
        )
        .await
        .or_fail(P)?;
    let answers = race(b, P, TASKS, |i, h| {
        let k = k.clone();
        async move {
            h.storage
                .renew_prt(
                    TENANT,
                    &nonce(&format!("r{i}")),
                    "h0",
                    &prt(&format!("new{i}"), &k, FAR),
                    &line(event::PRT_RENEW, "race"),
                )
                .await
        }
    })
    .await?;
    let mut won = 0;
    for a in answers {
        won += usize::from(a.or_fail(P)?);
    }
    ensure_eq!(P, won, 1, "renewals accepted");
    ensure_eq!(
        P,
        b.main.storage.counts(TENANT).await.or_fail(P)?.prts,
        2,
        "tokens stored"
    );
    ensure_eq!(
        P,
        audited(&*b.main.storage, P, "race").await?,
        1,
        "audit lines"
    );
    Ok(())
}

/// One refresh token presented by [`TASKS`] rotations at once: exactly one rotates; the
/// others see a reuse (and revoke the family) or nothing; no two new tokens stay live.
pub async fn race_refresh_token_rotates_once(b: &Backend) -> Outcome {
    const P: &str = "race_refresh_token_rotates_once";
    with_tenant(b, P).await?;
    let alice = add_user(b, P, "alice").await?;
    let grant = crate::web::redeemed_code(b, P, &alice.id).await?;
    b.main
        .web
        .store_refresh(
            TENANT,
            &crate::web::refresh("rt0", "code", &grant),
            &line(event::OIDC_TOKEN, "rt0"),
        )
        .await
        .or_fail(P)?;
    let answers = race(b, P, TASKS, |i, h| {
        let new = crate::web::refresh(&format!("rt-new{i}"), "code", &grant);
        async move {
            h.web
                .rotate_refresh(
                    TENANT,
                    "rt0",
                    "app",
                    &new,
                    10,
                    &line(event::OIDC_GRANT_REUSE, "reuse"),
                )
                .await
        }
    })
    .await?;
    let mut rotated = 0;
    for a in answers {
        match a.or_fail(P)? {
            Rotation::Rotated(_) => rotated += 1,
            Rotation::Reused { .. } | Rotation::Invalid => {}
        }
    }
    ensure_eq!(P, rotated, 1, "rotations accepted");
    let live = b
        .main
        .storage
        .counts(TENANT)
        .await
        .or_fail(P)?
        .live_refresh_tokens;
    ensure!(
        P,
        live <= 1,
        "{live} live refresh tokens after one rotation"
    );
    Ok(())
}
