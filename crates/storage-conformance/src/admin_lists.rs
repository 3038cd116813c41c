//! The paged lists of the web administration ([`latchkey_storage::directory::DirectoryAdmin`]):
//! users by UPN prefix, devices and Hello keys in id order, all or one owner's, a page at a
//! time from the last id of the previous page.

use crate::fixtures::*;
use crate::{ensure, ensure_eq, Backend, OrFail, Outcome, Violation};

/// Walks `page` from the start in pages of `limit`, the next page after the last id of the
/// previous one, and returns every id seen, in order. Stops after `guard` pages (a backend
/// that never ends a walk fails the check instead of hanging it).
async fn walk<F, Fut>(
    property: &'static str,
    limit: i64,
    mut page: F,
) -> Result<Vec<String>, Violation>
where
    F: FnMut(Option<String>, i64) -> Fut,
    Fut: std::future::Future<Output = latchkey_storage::StorageResult<Vec<String>>>,
{
    let mut seen = Vec::new();
    let mut after = None;
    for _ in 0..100 {
        let ids = page(after.clone(), limit).await.or_fail(property)?;
        ensure!(
            property,
            ids.len() as i64 <= limit,
            "a page of {limit} held {} rows",
            ids.len()
        );
        let Some(last) = ids.last().cloned() else {
            return Ok(seen);
        };
        seen.extend(ids);
        after = Some(last);
    }
    Err(Violation::Broken {
        property,
        detail: "the walk did not end after 100 pages".into(),
    })
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// Devices and Hello keys page in id order: every one exactly once across the pages, one
/// owner's only with `owner`, nothing for an unknown owner or another tenant, and the page
/// size capped below by 1.
pub async fn devices_and_keys_page_in_id_order_all_or_by_owner(b: &Backend) -> Outcome {
    const P: &str = "devices_and_keys_page_in_id_order_all_or_by_owner";
    let (alice, _, _) = enrolled(b, P).await?;
    let bob = add_user(b, P, "bob").await?;
    let mut all_devices = vec!["dev-a".to_owned()];
    let mut all_keys = vec!["key-a".to_owned()];
    let mut alice_devices = vec!["dev-a".to_owned()];
    let mut alice_keys = vec!["key-a".to_owned()];
    // Ids whose order differs from the order they are created in.
    for (i, owner) in [&bob, &alice, &bob, &alice, &bob, &alice, &bob]
        .iter()
        .enumerate()
    {
        let id = format!("dev-{}", (b'z' - i as u8) as char);
        let d = add_device(b, P, &id, owner).await?;
        let key_id = format!("key-{}", (b'm' + i as u8) as char);
        add_key(b, P, &key_id, owner, &d).await?;
        all_devices.push(id.clone());
        all_keys.push(key_id.clone());
        if owner.id == alice.id {
            alice_devices.push(id);
            alice_keys.push(key_id);
        }
    }
    let dir = &b.main.directory;
    let devices = |owner: Option<&'static str>, tenant: &'static str| {
        move |after: Option<String>, limit: i64| async move {
            let page = dir
                .devices_page(tenant, owner, after.as_deref(), limit)
                .await?;
            Ok(page.into_iter().map(|d| d.id).collect::<Vec<_>>())
        }
    };
    let keys = |owner: Option<&'static str>, tenant: &'static str| {
        move |after: Option<String>, limit: i64| async move {
            let page = dir
                .keys_page(tenant, owner, after.as_deref(), limit)
                .await?;
            Ok(page.into_iter().map(|k| k.key_id).collect::<Vec<_>>())
        }
    };

    ensure_eq!(
        P,
        walk(P, 3, devices(None, TENANT)).await?,
        sorted(all_devices),
        "all devices"
    );
    ensure_eq!(
        P,
        walk(P, 2, keys(None, TENANT)).await?,
        sorted(all_keys),
        "all keys"
    );
    let alice_upn = "alice@example.com";
    ensure_eq!(
        P,
        walk(P, 2, devices(Some(alice_upn), TENANT)).await?,
        sorted(alice_devices),
        "alice's devices"
    );
    ensure_eq!(
        P,
        walk(P, 3, keys(Some(alice_upn), TENANT)).await?,
        sorted(alice_keys),
        "alice's keys"
    );
    for (what, ids) in [
        (
            "an unknown owner's devices",
            walk(P, 5, devices(Some("nobody@example.com"), TENANT)).await?,
        ),
        (
            "an unknown owner's keys",
            walk(P, 5, keys(Some("nobody@example.com"), TENANT)).await?,
        ),
        (
            "another tenant's devices",
            walk(P, 5, devices(None, OTHER_TENANT)).await?,
        ),
        (
            "another tenant's keys",
            walk(P, 5, keys(None, OTHER_TENANT)).await?,
        ),
    ] {
        ensure!(P, ids.is_empty(), "{what}: {ids:?}");
    }
    let one = dir.devices_page(TENANT, None, None, 0).await.or_fail(P)?;
    ensure_eq!(P, one.len(), 1, "a page size of 0 is taken as 1");
    ensure_eq!(
        P,
        one.first().map(|d| d.owner.as_str()),
        Some("alice@example.com"),
        "the listing names the owner's UPN"
    );
    Ok(())
}

/// `device_owner` names the owner's UPN, and nothing for an unknown device or another
/// tenant's.
pub async fn device_owner_names_the_owner(b: &Backend) -> Outcome {
    const P: &str = "device_owner_names_the_owner";
    let (_, d, _) = enrolled(b, P).await?;
    let s = &b.main.storage;
    ensure_eq!(
        P,
        s.device_owner(TENANT, &d.id).await.or_fail(P)?.as_deref(),
        Some("alice@example.com"),
        "the owner of {}",
        d.id
    );
    ensure_eq!(
        P,
        s.device_owner(TENANT, "nope").await.or_fail(P)?,
        None,
        "an unknown device"
    );
    ensure_eq!(
        P,
        s.device_owner(OTHER_TENANT, &d.id).await.or_fail(P)?,
        None,
        "another tenant's device"
    );
    Ok(())
}

/// Users page by UPN prefix: every user with the prefix exactly once across the pages, in
/// UPN order, none without it.
pub async fn users_page_by_upn_prefix(b: &Backend) -> Outcome {
    const P: &str = "users_page_by_upn_prefix";
    with_tenant(b, P).await?;
    for name in ["carol", "ann", "bert", "amy", "al", "zed", "abe"] {
        add_user(b, P, name).await?;
    }
    let dir = &b.main.directory;
    let users = |prefix: &'static str| {
        move |after: Option<String>, limit: i64| async move {
            let page = dir
                .search_users(TENANT, prefix, after.as_deref(), limit)
                .await?;
            Ok(page.into_iter().map(|u| u.upn).collect::<Vec<_>>())
        }
    };
    let a_users: Vec<String> = ["abe", "al", "amy", "ann"]
        .iter()
        .map(|n| format!("{n}@example.com"))
        .collect();
    ensure_eq!(P, walk(P, 2, users("a")).await?, a_users, "prefix a");
    ensure_eq!(P, walk(P, 3, users("")).await?.len(), 7, "every user once");
    ensure!(
        P,
        walk(P, 3, users("q")).await?.is_empty(),
        "prefix q matches nobody"
    );
    Ok(())
}
