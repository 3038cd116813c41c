//! Bulk user import ([`latchkey_storage::UserImport`]): every batch commits at once with one
//! audit line; a taken UPN (existing, or repeated within the import) or an import dropped
//! before its commit leaves nothing behind, and the write lock it held is free again.

use latchkey_storage::audit::event;
use latchkey_storage::import::MAX_BATCH;
use latchkey_storage::{StorageError, User};

use crate::fixtures::*;
use crate::{ensure, ensure_eq, Backend, OrFail, Outcome};

/// Users `prefix0000..` of one batch, `count` of them, numbered from `from`.
fn batch(prefix: &str, from: usize, count: usize) -> Vec<User> {
    (from..from + count)
        .map(|i| {
            let mut u = user(&format!("{prefix}{i:04}"));
            u.totp_secret = vec![(i % 251) as u8; 20];
            u.password_hash = if i % 2 == 0 {
                String::new()
            } else {
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".to_owned()
            };
            u
        })
        .collect()
}

/// 1,200 users in three batches are invisible until the commit, then all visible at once
/// (from the other handle too), with their fields as given, and one audit line.
pub async fn user_import_commits_every_batch_at_once(b: &Backend) -> Outcome {
    const P: &str = "user_import_commits_every_batch_at_once";
    with_tenant(b, P).await?;
    let users = batch("bulk", 0, 1_200);
    let mut import = b.main.admin.begin_user_import(TENANT).await.or_fail(P)?;
    for chunk in users.chunks(MAX_BATCH) {
        import.add(chunk).await.or_fail(P)?;
    }
    let before = b.peer.storage.counts(TENANT).await.or_fail(P)?;
    ensure_eq!(P, before.users, 0, "users seen before the commit");
    let added = import
        .commit(&line(event::USER_IMPORT, "import 1200"))
        .await
        .or_fail(P)?;
    ensure_eq!(P, added, 1_200, "users the commit reports");
    let after = b.peer.storage.counts(TENANT).await.or_fail(P)?;
    ensure_eq!(P, after.users, 1_200, "users after the commit");
    for probe in users.iter().step_by(599) {
        let found = b
            .peer
            .storage
            .user_by_upn(TENANT, &probe.upn)
            .await
            .or_fail(P)?;
        let fields = |u: &User| {
            (
                u.id.clone(),
                u.upn.clone(),
                u.display_name.clone(),
                u.password_hash.clone(),
                u.totp_secret.clone(),
                u.last_totp_step,
                u.disabled,
                u.created_at,
            )
        };
        ensure_eq!(
            P,
            found.as_ref().map(fields),
            Some(fields(probe)),
            "the imported user"
        );
    }
    ensure_eq!(
        P,
        audited(&*b.main.storage, P, "import 1200").await?,
        1,
        "audit lines of the import"
    );
    Ok(())
}

/// A UPN that exists, or that the import already holds (in the same batch or an earlier
/// one), is a conflict naming it; the import keeps nothing, writes no audit line, refuses
/// to go on, and the lock it held is free once it is dropped.
pub async fn user_import_conflict_keeps_nothing(b: &Backend) -> Outcome {
    const P: &str = "user_import_conflict_keeps_nothing";
    with_tenant(b, P).await?;
    let taken = add_user(b, P, "taken").await?;
    let mut twice = batch("twice", 0, 3);
    twice.extend(batch("twice", 1, 1).into_iter().map(|mut u| {
        u.id = "u-other".to_owned();
        u
    }));
    let mut with_taken = batch("late", 0, 2);
    let mut clash = taken.clone();
    clash.id = "u-clash".to_owned();
    with_taken.push(clash);
    let cases: [(&str, Vec<Vec<User>>, &str); 3] = [
        ("existing", vec![batch("first", 0, 10), with_taken], "taken"),
        ("same batch", vec![twice], "twice0001"),
        (
            "earlier batch",
            vec![batch("again", 0, 5), batch("again", 4, 2)],
            "again0004",
        ),
    ];
    for (case, batches, named) in cases {
        let mut import = b.main.admin.begin_user_import(TENANT).await.or_fail(P)?;
        let mut refused = None;
        for chunk in &batches {
            if let Err(e) = import.add(chunk).await {
                refused = Some(e);
                break;
            }
        }
        ensure!(
            P,
            matches!(&refused, Some(StorageError::Conflict(what)) if what.contains(named)),
            "{case}: the conflict should name {named}: {refused:?}"
        );
        let more = import.add(&batch("more", 0, 1)).await;
        ensure!(
            P,
            matches!(more, Err(StorageError::ImportSpent)),
            "{case}: a spent import went on: {more:?}"
        );
        let commit = import
            .commit(&line(event::USER_IMPORT, "import refused"))
            .await;
        ensure!(
            P,
            matches!(commit, Err(StorageError::ImportSpent)),
            "{case}: a spent import committed: {commit:?}"
        );
        let counts = b.peer.storage.counts(TENANT).await.or_fail(P)?;
        ensure_eq!(P, counts.users, 1, "{case}: users after the refused import");
    }
    ensure_eq!(
        P,
        audited(&*b.main.storage, P, "import refused").await?,
        0,
        "a refused import was audited"
    );
    // The write lock is free: an ordinary create goes through on both handles.
    add_user(b, P, "after").await?;
    let mut other = user("peer-after");
    other.id = "u-peer-after".to_owned();
    b.peer
        .storage
        .create_user(TENANT, &other, &line(event::USER_CREATE, "peer create"))
        .await
        .or_fail(P)?;
    let big = batch("big", 0, MAX_BATCH + 1);
    let mut import = b.main.admin.begin_user_import(TENANT).await.or_fail(P)?;
    let too_big = import.add(&big).await;
    ensure!(
        P,
        matches!(too_big, Err(StorageError::BatchTooLarge(n)) if n == MAX_BATCH + 1),
        "an oversized batch: {too_big:?}"
    );
    Ok(())
}

/// An import dropped without its commit (an error further on in the file, a killed
/// process) keeps none of its batches, and frees the lock.
pub async fn user_import_dropped_keeps_nothing(b: &Backend) -> Outcome {
    const P: &str = "user_import_dropped_keeps_nothing";
    with_tenant(b, P).await?;
    {
        let mut import = b.main.admin.begin_user_import(TENANT).await.or_fail(P)?;
        import.add(&batch("gone", 0, 300)).await.or_fail(P)?;
        import.add(&batch("gone", 300, 300)).await.or_fail(P)?;
    }
    let counts = b.peer.storage.counts(TENANT).await.or_fail(P)?;
    ensure_eq!(P, counts.users, 0, "users of a dropped import");
    let mut import = b.peer.admin.begin_user_import(TENANT).await.or_fail(P)?;
    import.add(&batch("gone", 0, 2)).await.or_fail(P)?;
    let added = import
        .commit(&line(event::USER_IMPORT, "import again"))
        .await
        .or_fail(P)?;
    ensure_eq!(P, added, 2, "the import after the dropped one");
    Ok(())
}
