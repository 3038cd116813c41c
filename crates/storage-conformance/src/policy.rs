//! [`latchkey_storage::PolicyStorage`]: the CSP layer and its version, groups, Group Policy,
//! admin tokens, nonce-consuming policy deliveries and device policy sessions.

use latchkey_storage::audit::event;
use latchkey_storage::policy::{
    AdminTokenRow, CspStoreWrite, GpoRow, PolicySessionRow, Versioned, ALL_PRINCIPALS,
};
use latchkey_storage::StorageError;

use crate::fixtures::*;
use crate::{ensure, ensure_eq, Backend, OrFail, Outcome};

/// A device-scope store holding `nodes` (each `(node, "int", "1")`).
pub fn device_store(nodes: &[String]) -> CspStoreWrite {
    CspStoreWrite {
        scope: "device".to_owned(),
        principal: ALL_PRINCIPALS.to_owned(),
        tenant_node: true,
        values: nodes
            .iter()
            .map(|n| (n.clone(), "int".to_owned(), "1".to_owned()))
            .collect(),
    }
}

/// `save_csp` applies only to the version it names: a save with the version read bumps it
/// by one with its line; a save naming an older version is `Unchanged` and writes nothing.
pub async fn csp_saves_apply_to_the_version_read(b: &Backend) -> Outcome {
    const P: &str = "csp_saves_apply_to_the_version_read";
    with_tenant(b, P).await?;
    let s = &b.main.storage;
    ensure_eq!(
        P,
        s.policy_version(TENANT).await.or_fail(P)?,
        0,
        "a fresh policy version"
    );
    let first = s
        .save_csp(
            TENANT,
            0,
            &[device_store(&["A/1".to_owned()])],
            &line(event::POLICY_CHANGE, "c1"),
            10,
        )
        .await
        .or_fail(P)?;
    ensure_eq!(
        P,
        first,
        Versioned::Changed {
            value: (),
            version: 1
        },
        "the first save"
    );
    let stale = s
        .save_csp(
            TENANT,
            0,
            &[device_store(&["B/1".to_owned()])],
            &line(event::POLICY_CHANGE, "c2"),
            11,
        )
        .await
        .or_fail(P)?;
    ensure_eq!(P, stale, Versioned::Unchanged, "a save on a stale version");
    ensure_eq!(
        P,
        audited(&**s, P, "c2").await?,
        0,
        "the stale save was audited"
    );
    let snap = s.load_csp(TENANT, None).await.or_fail(P)?;
    ensure_eq!(P, snap.version, 1, "version read with the values");
    let nodes: Vec<&str> = snap.rows.iter().map(|r| r.node.as_str()).collect();
    ensure_eq!(P, nodes, vec!["A/1"], "the stale save changed the values");
    ensure_eq!(P, snap.tenant_nodes.len(), 1, "tenant nodes");
    // A user's own scope is returned only when asked for.
    let alice = CspStoreWrite {
        scope: "user".to_owned(),
        principal: "alice@example.com".to_owned(),
        tenant_node: false,
        values: vec![("U/1".to_owned(), "bool".to_owned(), "true".to_owned())],
    };
    s.save_csp(TENANT, 1, &[alice], &line(event::POLICY_CHANGE, "c3"), 12)
        .await
        .or_fail(P)?;
    let without = s.load_csp(TENANT, None).await.or_fail(P)?;
    ensure_eq!(P, without.rows.len(), 1, "rows without the user");
    let with = s
        .load_csp(TENANT, Some("alice@example.com"))
        .await
        .or_fail(P)?;
    ensure_eq!(
        P,
        (with.version, with.rows.len()),
        (2, 2),
        "rows with the user"
    );
    ensure!(
        P,
        s.load_csp(OTHER_TENANT, Some("alice@example.com"))
            .await
            .or_fail(P)?
            .rows
            .is_empty(),
        "another tenant's CSP"
    );
    Ok(())
}

/// Groups: create (a second create is a `Conflict`, unaudited), add and remove members
/// (`Unchanged` when already so or the group is unknown), delete; each change bumps the
/// version once with its line.
pub async fn groups_and_members_bump_the_version(b: &Backend) -> Outcome {
    const P: &str = "groups_and_members_bump_the_version";
    with_tenant(b, P).await?;
    let s = &b.main.storage;
    let g = |tag: &str| line(event::GROUP_CHANGE, tag);
    ensure!(
        P,
        matches!(
            s.create_group(TENANT, "ops", &g("g1"), 1)
                .await
                .or_fail(P)?,
            Versioned::Changed { version: 1, .. }
        ),
        "create"
    );
    let dup = s.create_group(TENANT, "ops", &g("g2"), 2).await;
    ensure!(
        P,
        matches!(dup, Err(StorageError::Conflict(_))),
        "a second create: {dup:?}"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "g2").await?,
        0,
        "the conflict was audited"
    );
    let m = ("user", "alice@example.com");
    ensure!(
        P,
        matches!(
            s.set_group_member(TENANT, "ops", m, true, &g("m1"), 3)
                .await
                .or_fail(P)?,
            Versioned::Changed { version: 2, .. }
        ),
        "add"
    );
    ensure_eq!(
        P,
        s.set_group_member(TENANT, "ops", m, true, &g("m2"), 4)
            .await
            .or_fail(P)?,
        Versioned::Unchanged,
        "add twice"
    );
    ensure_eq!(
        P,
        s.set_group_member(TENANT, "none", m, true, &g("m3"), 4)
            .await
            .or_fail(P)?,
        Versioned::Unchanged,
        "add to an unknown group"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "m2").await? + audited(&**s, P, "m3").await?,
        0,
        "no-op member changes were audited"
    );
    let members = s.list_group_members(TENANT).await.or_fail(P)?;
    ensure_eq!(P, members.len(), 1, "members");
    ensure_eq!(
        P,
        members.first().and_then(|r| r.member.clone()),
        Some(m.1.to_owned()),
        "member"
    );
    ensure!(
        P,
        matches!(
            s.set_group_member(TENANT, "ops", m, false, &g("m4"), 5)
                .await
                .or_fail(P)?,
            Versioned::Changed { version: 3, .. }
        ),
        "remove"
    );
    ensure_eq!(
        P,
        s.set_group_member(TENANT, "ops", m, false, &g("m5"), 5)
            .await
            .or_fail(P)?,
        Versioned::Unchanged,
        "remove twice"
    );
    ensure!(
        P,
        matches!(
            s.delete_group(TENANT, "ops", &g("d1"), 6)
                .await
                .or_fail(P)?,
            Versioned::Changed { version: 4, .. }
        ),
        "delete"
    );
    ensure_eq!(
        P,
        s.delete_group(TENANT, "ops", &g("d2"), 6)
            .await
            .or_fail(P)?,
        Versioned::Unchanged,
        "delete twice"
    );
    ensure!(
        P,
        s.list_group_members(TENANT).await.or_fail(P)?.is_empty(),
        "groups left"
    );
    ensure_eq!(
        P,
        s.policy_version(TENANT).await.or_fail(P)?,
        4,
        "policy version"
    );
    Ok(())
}

fn gpo(name: &str, scope: &str, group: Option<&str>) -> GpoRow {
    GpoRow {
        name: name.to_owned(),
        scope: scope.to_owned(),
        target_group: group.map(str::to_owned),
        link_order: -1,
        settings_json: "{}".to_owned(),
        updated_at: 100,
    }
}

/// Group Policy: put (new ones go last; a filter on an unknown group is `Unchanged`), list in
/// link order, delete one half or both; a group a GPO filters on cannot be deleted.
pub async fn gpos_are_put_listed_and_deleted(b: &Backend) -> Outcome {
    const P: &str = "gpos_are_put_listed_and_deleted";
    with_tenant(b, P).await?;
    let s = &b.main.storage;
    let l = |tag: &str| line(event::GPO_CHANGE, tag);
    s.put_gpo(TENANT, &gpo("first", "computer", None), &l("p1"))
        .await
        .or_fail(P)?;
    s.put_gpo(TENANT, &gpo("second", "computer", None), &l("p2"))
        .await
        .or_fail(P)?;
    s.put_gpo(TENANT, &gpo("first", "user", None), &l("p3"))
        .await
        .or_fail(P)?;
    let unknown = s
        .put_gpo(TENANT, &gpo("third", "user", Some("nogroup")), &l("p4"))
        .await
        .or_fail(P)?;
    ensure_eq!(
        P,
        unknown,
        Versioned::Unchanged,
        "a GPO filtered on an unknown group"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "p4").await?,
        0,
        "the refused GPO was audited"
    );
    let names: Vec<(String, String)> = s
        .list_gpos(TENANT)
        .await
        .or_fail(P)?
        .into_iter()
        .map(|g| (g.name, g.scope))
        .collect();
    let expected = [
        ("first", "computer"),
        ("first", "user"),
        ("second", "computer"),
    ]
    .map(|(n, sc)| (n.to_owned(), sc.to_owned()));
    ensure_eq!(P, names, expected.to_vec(), "GPOs in link order");
    s.create_group(TENANT, "ops", &line(event::GROUP_CHANGE, "g"), 1)
        .await
        .or_fail(P)?;
    s.put_gpo(TENANT, &gpo("third", "user", Some("ops")), &l("p5"))
        .await
        .or_fail(P)?;
    let busy = s
        .delete_group(TENANT, "ops", &line(event::GROUP_CHANGE, "gd"), 2)
        .await;
    ensure!(
        P,
        matches!(busy, Err(StorageError::Conflict(_))),
        "deleting a filtering group: {busy:?}"
    );
    let one = s
        .delete_gpo(TENANT, "first", Some("user"), &l("d1"), 3)
        .await
        .or_fail(P)?;
    ensure!(
        P,
        matches!(one, Versioned::Changed { value: 1, .. }),
        "delete one half: {one:?}"
    );
    let none = s
        .delete_gpo(TENANT, "nothing", None, &l("d2"), 3)
        .await
        .or_fail(P)?;
    ensure_eq!(P, none, Versioned::Unchanged, "delete an unknown GPO");
    ensure_eq!(
        P,
        audited(&**s, P, "d2").await?,
        0,
        "the unknown delete was audited"
    );
    ensure_eq!(
        P,
        s.list_gpos(TENANT).await.or_fail(P)?.len(),
        3,
        "GPOs left"
    );
    Ok(())
}

/// Admin tokens: stored (a second token with the same hash is a `Conflict`), found by hash,
/// listed, revoked once (audited); an unknown id is not revoked.
pub async fn admin_tokens_are_stored_by_hash_and_revoked(b: &Backend) -> Outcome {
    const P: &str = "admin_tokens_are_stored_by_hash_and_revoked";
    with_tenant(b, P).await?;
    let s = &b.main.storage;
    let token = |id: &str, hash: &str| AdminTokenRow {
        id: id.to_owned(),
        token_hash: hash.to_owned(),
        label: format!("label {id}"),
        created_at: 1,
        revoked: false,
    };
    s.create_admin_token(
        TENANT,
        &token("t1", "hash1"),
        &line(event::ADMIN_TOKEN_CREATE, "a1"),
    )
    .await
    .or_fail(P)?;
    let dup = s
        .create_admin_token(
            TENANT,
            &token("t2", "hash1"),
            &line(event::ADMIN_TOKEN_CREATE, "a2"),
        )
        .await;
    ensure!(
        P,
        matches!(dup, Err(StorageError::Conflict(_))),
        "same hash twice: {dup:?}"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "a2").await?,
        0,
        "the conflict was audited"
    );
    let found = s.admin_token_by_hash(TENANT, "hash1").await.or_fail(P)?;
    ensure_eq!(
        P,
        found.map(|t| t.id),
        Some("t1".to_owned()),
        "admin_token_by_hash"
    );
    ensure!(
        P,
        s.admin_token_by_hash(OTHER_TENANT, "hash1")
            .await
            .or_fail(P)?
            .is_none(),
        "another tenant's token"
    );
    ensure_eq!(
        P,
        s.list_admin_tokens(TENANT).await.or_fail(P)?.len(),
        1,
        "list"
    );
    ensure!(
        P,
        s.revoke_admin_token(TENANT, "t1", &line(event::ADMIN_TOKEN_REVOKE, "r1"))
            .await
            .or_fail(P)?,
        "revoke"
    );
    let after = s.admin_token_by_hash(TENANT, "hash1").await.or_fail(P)?;
    ensure!(
        P,
        after.is_some_and(|t| t.revoked),
        "the token is not revoked"
    );
    ensure!(
        P,
        !s.revoke_admin_token(TENANT, "t9", &line(event::ADMIN_TOKEN_REVOKE, "r2"))
            .await
            .or_fail(P)?,
        "an unknown token was revoked"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "r2").await?,
        0,
        "the unknown revoke was audited"
    );
    Ok(())
}

/// Policy deliveries consume their nonce once (`consume_with_audit`); a session opens once
/// per SessionID, closes once, and a close of an unknown or closed session writes nothing.
pub async fn policy_sessions_open_once_and_close_once(b: &Backend) -> Outcome {
    const P: &str = "policy_sessions_open_once_and_close_once";
    let (_, d, _) = enrolled(b, P).await?;
    let s = &b.main.storage;
    s.consume_with_audit(TENANT, &nonce("f1"), &line(event::POLICY_FETCH, "f1"))
        .await
        .or_fail(P)?;
    let replay = s
        .consume_with_audit(TENANT, &nonce("f1"), &line(event::POLICY_FETCH, "f2"))
        .await;
    ensure!(
        P,
        matches!(replay, Err(StorageError::NonceReplayed)),
        "replay: {replay:?}"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "f2").await?,
        0,
        "the replay was audited"
    );
    let session = PolicySessionRow {
        device_id: d.id.clone(),
        session_id: "1".to_owned(),
        upn: Some("alice@example.com".to_owned()),
        version: 0,
        commands: 3,
        opened_at: 100,
        closed_at: None,
        failed: None,
    };
    let open = |n: &str, tag: &str| {
        let session = session.clone();
        let (n, tag) = (nonce(n), line(event::POLICY_SESSION_OPEN, tag));
        async move { s.open_policy_session(TENANT, &n, &session, &tag).await }
    };
    open("o1", "o1").await.or_fail(P)?;
    let dup = open("o2", "o2").await;
    ensure!(
        P,
        matches!(dup, Err(StorageError::Conflict(_))),
        "a reused SessionID: {dup:?}"
    );
    ensure!(
        P,
        !s.nonce_used(TENANT, "o2").await.or_fail(P)?,
        "the refused open used its nonce"
    );
    let close = |n: &str, sid: &str, tag: &str| {
        let (n, sid, tag) = (
            nonce(n),
            sid.to_owned(),
            line(event::POLICY_SESSION_CLOSE, tag),
        );
        let dev = d.id.clone();
        async move {
            s.close_policy_session(TENANT, &n, &dev, &sid, 1, &tag)
                .await
        }
    };
    ensure!(P, close("c1", "1", "c1").await.or_fail(P)?, "close");
    ensure!(
        P,
        !close("c2", "1", "c2").await.or_fail(P)?,
        "a closed session closed again"
    );
    ensure!(
        P,
        !close("c3", "9", "c3").await.or_fail(P)?,
        "an unknown session closed"
    );
    ensure!(
        P,
        !s.nonce_used(TENANT, "c3").await.or_fail(P)?,
        "the refused close used its nonce"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "c2").await? + audited(&**s, P, "c3").await?,
        0,
        "refused closes audited"
    );
    let listed = s.policy_sessions(TENANT, &d.id).await.or_fail(P)?;
    ensure_eq!(
        P,
        listed
            .iter()
            .map(|r| (r.closed_at, r.failed))
            .collect::<Vec<_>>(),
        vec![(Some(1_000), Some(1))],
        "sessions"
    );
    Ok(())
}
