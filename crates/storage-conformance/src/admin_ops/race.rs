//! The device delete of the administration against sign-ins in flight
//! ([`latchkey_storage::contract`], "Revocation against sign-ins in flight").

use latchkey_storage::audit::event;

use crate::fixtures::*;
use crate::{ensure, ensure_eq, Backend, OrFail, Outcome, Violation};

/// How many sign-in tasks run against the device delete, and how many rounds each.
const SIGNERS: usize = 12;
/// Sign-ins per task.
const ROUNDS: usize = 4;

/// A device deleted (through the peer handle) while [`SIGNERS`] tasks sign in with its key
/// on both handles: no sign-in's audit line comes after the delete's, no token of the
/// device is left, and the delete reports every token it found.
pub async fn race_no_signin_commits_after_the_device_delete(b: &Backend) -> Outcome {
    const P: &str = "race_no_signin_commits_after_the_device_delete";
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
                let answer = h
                    .storage
                    .complete_signin(
                        TENANT,
                        &nonce(&format!("n{i}")),
                        &prt(&format!("h{i}"), &k, FAR),
                        &line(event::SIGNIN, "signin"),
                    )
                    .await;
                count.send_modify(|c| *c += 1);
                out.push(answer);
            }
            out
        });
    }
    let _ = answered.wait_for(|c| *c >= SIGNERS).await;
    let removed = b
        .peer
        .admin
        .remove_device(TENANT, &d.id, &line(event::DEVICE_DELETE, "revoke"))
        .await
        .or_fail(P)?;
    let Some(removed) = removed else {
        return Err(Violation::Broken {
            property: P,
            detail: "the delete found no device".into(),
        });
    };
    let mut accepted = 0_u64;
    while let Some(done) = set.join_next().await {
        let answers = done.map_err(|e| Violation::Task {
            property: P,
            detail: e.to_string(),
        })?;
        for a in answers {
            // A sign-in that lost the race may fail on the deleted rows; it must not
            // claim success.
            if matches!(a, Ok(true)) {
                accepted += 1;
            }
        }
    }
    ensure!(
        P,
        accepted >= SIGNERS as u64,
        "only {accepted} sign-ins stored, though {SIGNERS} were answered before the delete"
    );
    ensure_eq!(
        P,
        removed.sessions,
        accepted,
        "tokens the delete found vs sign-ins answered true"
    );
    let s = &b.main.storage;
    for i in 0..SIGNERS * ROUNDS {
        let h = format!("h{i}");
        ensure!(
            P,
            s.prt_context(TENANT, &h).await.or_fail(P)?.is_none(),
            "token {h} outlived its device"
        );
    }
    let page = s.audit_page(TENANT, i64::MAX, 0, 10_000).await.or_fail(P)?;
    let deleted_at = page
        .iter()
        .find(|(_, a)| a.reason.as_deref() == Some("revoke"))
        .map(|(seq, _)| *seq);
    ensure!(P, deleted_at.is_some(), "no audit line of the delete");
    let signins: Vec<i64> = page
        .iter()
        .filter(|(_, a)| a.reason.as_deref() == Some("signin"))
        .map(|(seq, _)| *seq)
        .collect();
    let after: Vec<&i64> = signins.iter().filter(|s| Some(**s) > deleted_at).collect();
    ensure!(
        P,
        after.is_empty(),
        "sign-ins committed after the delete: seq {after:?}"
    );
    ensure_eq!(
        P,
        signins.len() as u64,
        accepted,
        "sign-in audit lines vs sign-ins answered true"
    );
    Ok(())
}
