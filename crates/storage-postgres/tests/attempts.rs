//! The failed sign-in throttling shared by replicas: two pools on one database (two
//! replicas) reserve at once, and no budget is exceeded; failures, successes, releases and
//! pruning follow the in-memory limiter's rules.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;

use latchkey_pg_harness::PgCluster;
use latchkey_storage::attempts::{AttemptEnd, AttemptLimits, AttemptStorage};
use latchkey_storage::Storage;
use latchkey_storage_conformance::fixtures;
use latchkey_storage_postgres::{PgOptions, PgStorage};

const LIMITS: AttemptLimits = AttemptLimits {
    per_pair: 5,
    per_source: 20,
    per_user_unfamiliar: 25,
    window_secs: 900,
    familiar_secs: 30 * 86_400,
    familiar_per_user: 8,
};
const NOW: i64 = 1_800_000_000;

/// Two replicas' storages on one fresh database, and the tenant id.
async fn replicas() -> (Arc<PgStorage>, Arc<PgStorage>, String) {
    let url = PgCluster::fresh_database("attempts").await.unwrap();
    let one = Arc::new(PgStorage::connect(&PgOptions::new(&url)).await.unwrap());
    let two = Arc::new(PgStorage::connect(&PgOptions::new(&url)).await.unwrap());
    let tenant = one.create_tenant(&fixtures::tenant()).await.unwrap().id;
    (one, two, tenant)
}

/// `n` reservations at once, alternating between the replicas; `source(i)` names each
/// one's source and `upn(i)` its user. Returns the granted ones.
async fn burst(
    one: &Arc<PgStorage>,
    two: &Arc<PgStorage>,
    tenant: &str,
    n: usize,
    upn: impl Fn(usize) -> String,
    source: impl Fn(usize) -> String,
) -> Vec<latchkey_storage::attempts::AttemptId> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let storage = if i % 2 == 0 { one.clone() } else { two.clone() };
            let (tenant, upn, source) = (tenant.to_owned(), upn(i), source(i));
            tokio::spawn(async move {
                storage
                    .reserve_attempt(&tenant, &upn, &source, NOW, &LIMITS)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut granted = vec![];
    for t in tasks {
        if let Some(id) = t.await.unwrap() {
            granted.push(id);
        }
    }
    granted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_over_two_replicas_gets_one_budget_of_tries() {
    let (one, two, tenant) = replicas().await;
    let alice = |_| "alice@example.com".to_owned();
    let granted = burst(&one, &two, &tenant, 40, alice, |_| "10.0.0.1".to_owned()).await;
    assert_eq!(granted.len(), 5, "the (user, source) budget");
    // Released attempts stop counting; failed ones keep counting for the window.
    for id in &granted[..2] {
        one.finish_attempt(&tenant, id, AttemptEnd::Released, &LIMITS)
            .await
            .unwrap();
    }
    for id in &granted[2..] {
        two.finish_attempt(&tenant, id, AttemptEnd::Failed(NOW), &LIMITS)
            .await
            .unwrap();
        // Ending one twice changes nothing.
        one.finish_attempt(&tenant, id, AttemptEnd::Released, &LIMITS)
            .await
            .unwrap();
    }
    let again = burst(&one, &two, &tenant, 10, alice, |_| "10.0.0.1".to_owned()).await;
    assert_eq!(again.len(), 2, "3 failures count, 2 releases do not");
    let later = two
        .reserve_attempt(&tenant, "alice@example.com", "10.0.0.1", NOW + 901, &LIMITS)
        .await
        .unwrap();
    assert!(later.is_some(), "the failures age out of the window");

    // A source's budget over many users.
    let users = burst(
        &one,
        &two,
        &tenant,
        30,
        |i| format!("u{i}@example.com"),
        |_| "10.0.0.2".to_owned(),
    )
    .await;
    assert_eq!(users.len(), 20, "the source budget");

    // A user's budget over unfamiliar sources.
    let bob = |_| "bob@example.com".to_owned();
    let sources = burst(&one, &two, &tenant, 40, bob, |i| format!("10.1.0.{i}")).await;
    assert_eq!(
        sources.len(),
        25,
        "the user's budget over unfamiliar sources"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_success_makes_the_source_familiar_and_forgets_the_pair_only() {
    let (one, two, tenant) = replicas().await;
    let carol = "carol@example.com";
    // Four failures from home, then a success there.
    for _ in 0..4 {
        let id = one
            .reserve_attempt(&tenant, carol, "192.0.2.1", NOW, &LIMITS)
            .await
            .unwrap()
            .unwrap();
        one.finish_attempt(&tenant, &id, AttemptEnd::Failed(NOW), &LIMITS)
            .await
            .unwrap();
    }
    assert!(!two
        .is_familiar(&tenant, carol, "192.0.2.1", NOW, &LIMITS)
        .await
        .unwrap());
    let ok = two
        .reserve_attempt(&tenant, carol, "192.0.2.1", NOW, &LIMITS)
        .await
        .unwrap()
        .unwrap();
    two.finish_attempt(&tenant, &ok, AttemptEnd::Succeeded(NOW), &LIMITS)
        .await
        .unwrap();
    assert!(one
        .is_familiar(&tenant, carol, "192.0.2.1", NOW, &LIMITS)
        .await
        .unwrap());
    // The pair's failures are forgotten: five more tries from home.
    let home = burst(
        &one,
        &two,
        &tenant,
        8,
        |_| carol.to_owned(),
        |_| "192.0.2.1".to_owned(),
    )
    .await;
    assert_eq!(home.len(), 5);
    for id in &home {
        one.finish_attempt(&tenant, id, AttemptEnd::Released, &LIMITS)
            .await
            .unwrap();
    }
    // The source still counts them: 4 failures of 20 are spent there.
    let others = burst(
        &one,
        &two,
        &tenant,
        30,
        |i| format!("x{i}@example.com"),
        |_| "192.0.2.1".to_owned(),
    )
    .await;
    assert_eq!(
        others.len(),
        16,
        "the source budget keeps the forgotten failures"
    );
    for id in &others {
        two.finish_attempt(&tenant, id, AttemptEnd::Released, &LIMITS)
            .await
            .unwrap();
    }

    // Strangers spend carol's budget over unfamiliar sources, not her home's.
    let strangers = burst(
        &one,
        &two,
        &tenant,
        30,
        |_| carol.to_owned(),
        |i| format!("203.0.113.{i}"),
    )
    .await;
    // Her 4 failures from home were made while it was unfamiliar: they count here too.
    assert_eq!(strangers.len(), 21);
    assert!(
        burst(
            &one,
            &two,
            &tenant,
            1,
            |_| carol.to_owned(),
            |_| "203.0.113.200".to_owned()
        )
        .await
        .is_empty(),
        "a new stranger is refused"
    );
    assert!(
        one.reserve_attempt(&tenant, carol, "192.0.2.1", NOW, &LIMITS)
            .await
            .unwrap()
            .is_some(),
        "her familiar source is not refused by the user's budget"
    );
    // Familiarity ends after its period.
    assert!(!one
        .is_familiar(
            &tenant,
            carol,
            "192.0.2.1",
            NOW + LIMITS.familiar_secs,
            &LIMITS
        )
        .await
        .unwrap());
}

#[tokio::test]
async fn pruning_removes_what_stopped_counting() {
    let (one, _two, tenant) = replicas().await;
    let id = one
        .reserve_attempt(&tenant, "dan@example.com", "10.9.0.1", NOW, &LIMITS)
        .await
        .unwrap()
        .unwrap();
    one.finish_attempt(&tenant, &id, AttemptEnd::Succeeded(NOW), &LIMITS)
        .await
        .unwrap();
    let failed = one
        .reserve_attempt(&tenant, "dan@example.com", "10.9.0.2", NOW, &LIMITS)
        .await
        .unwrap()
        .unwrap();
    one.finish_attempt(&tenant, &failed, AttemptEnd::Failed(NOW), &LIMITS)
        .await
        .unwrap();
    assert_eq!(
        one.prune_attempts(&tenant, NOW + 10, &LIMITS)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        one.prune_attempts(&tenant, NOW + 900, &LIMITS)
            .await
            .unwrap(),
        1,
        "the failure"
    );
    assert_eq!(
        one.prune_attempts(&tenant, NOW + LIMITS.familiar_secs, &LIMITS)
            .await
            .unwrap(),
        1,
        "the familiar source"
    );
}
