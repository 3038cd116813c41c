//! Limits under abuse, against the real service over loopback HTTPS: password checks run
//! under a bounded gate, parallel guesses are counted as they arrive, and a stranger's
//! failures do not lock a user out of a source where they signed in before.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::{assert_error, Harness, PASSWORD};
use latchkey_server::ratelimit::{PER_PAIR, PER_USER_UNFAMILIAR};

/// Counts responses by error code (`"ok"` for a success).
fn tally(responses: &[(u16, serde_json::Value)]) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    for (status, body) in responses {
        let code = if *status == 200 {
            "ok".to_owned()
        } else {
            let code = body["code"].as_str().unwrap_or("?").to_owned();
            let expected = latchkey_proto::ErrorCode::from_code(&code).unwrap();
            assert_eq!(*status, expected.http_status(), "{body}");
            code
        };
        *out.entry(code).or_default() += 1;
    }
    out
}

#[tokio::test]
async fn concurrent_password_checks_never_exceed_the_gate() {
    let h = Harness::start_with(|c| c.password_concurrency = Some(2)).await;
    assert_eq!(h.passwords().size(), 2);
    let n = 12;
    let attempts = (0..n).map(|i| {
        let h = &h;
        async move {
            h.password(&format!("nobody{i}@example.com"), "wrong", None)
                .await
        }
    });
    let responses = futures_util_join_all(attempts).await;
    assert_eq!(tally(&responses).get("LK-AUTH-001"), Some(&n));
    let gate = h.passwords();
    assert_eq!(gate.started(), n as u64, "every attempt was checked");
    assert!(gate.peak() <= 2, "peak {}", gate.peak());
    assert!(gate.peak() >= 1);
    assert_eq!(gate.running(), 0);
}

#[tokio::test]
async fn a_burst_of_parallel_password_guesses_is_counted_as_it_arrives() {
    let h = Harness::start().await;
    let upn = "alice@example.com";
    h.add_user(upn).await;
    let before = h.passwords().started();
    let guesses = (0..50).map(|i| {
        let h = &h;
        async move { h.password(upn, &format!("guess {i}"), None).await }
    });
    let responses = futures_util_join_all(guesses).await;
    let counts = tally(&responses);
    assert_eq!(counts.get("LK-AUTH-001"), Some(&PER_PAIR), "{counts:?}");
    assert_eq!(
        counts.get("LK-AUTH-003"),
        Some(&(50 - PER_PAIR)),
        "{counts:?}"
    );
    assert_eq!(
        h.passwords().started() - before,
        PER_PAIR as u64,
        "only the reserved attempts reached the password check"
    );
}

#[tokio::test]
async fn a_burst_of_parallel_one_time_codes_is_counted_as_it_arrives() {
    let h = Harness::start().await;
    let upn = "bob@example.com";
    let secret = h.add_user(upn).await;
    let right = h.otp(&secret, 0);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let before = h.passwords().started();
    let guesses = (0..50).map(|_| {
        let h = &h;
        async move { h.password(upn, PASSWORD, Some(wrong)).await }
    });
    let responses = futures_util_join_all(guesses).await;
    let counts = tally(&responses);
    assert_eq!(counts.get("LK-AUTH-002"), Some(&PER_PAIR), "{counts:?}");
    assert_eq!(
        counts.get("LK-AUTH-003"),
        Some(&(50 - PER_PAIR)),
        "{counts:?}"
    );
    assert_eq!(h.passwords().started() - before, PER_PAIR as u64);
    // The right code is refused too now, from this source.
    assert_error(
        &h.password(upn, PASSWORD, Some(&right)).await,
        "LK-AUTH-003",
    );
}

#[tokio::test]
async fn a_stranger_cannot_lock_a_user_out_of_a_familiar_source() {
    let h = Harness::start().await;
    let upn = "alice@example.com";
    h.add_user(upn).await;
    let home = h.client_from("127.0.0.1");
    // Alice signs in from 127.0.0.1: it becomes familiar.
    let (status, body) = h.password_via(&home, upn, PASSWORD, None).await;
    assert_eq!(status, 200, "{body}");

    // An attacker on 127.0.0.2 ..: five failures per address, across enough addresses to
    // spend the per-user budget for unfamiliar sources.
    let mut responses = vec![];
    let addresses = PER_USER_UNFAMILIAR / PER_PAIR + 1;
    for a in 0..addresses {
        let attacker = h.client_from(&format!("127.0.0.{}", a + 2));
        for _ in 0..PER_PAIR {
            responses.push(h.password_via(&attacker, upn, "wrong", None).await);
        }
    }
    let counts = tally(&responses);
    assert_eq!(
        counts.get("LK-AUTH-001"),
        Some(&PER_USER_UNFAMILIAR),
        "{counts:?}"
    );
    assert_eq!(
        counts.get("LK-AUTH-003"),
        Some(&(addresses * PER_PAIR - PER_USER_UNFAMILIAR)),
        "{counts:?}"
    );
    // The attacker's first address is limited, even with the right password.
    let first = h.client_from("127.0.0.2");
    assert_error(
        &h.password_via(&first, upn, PASSWORD, None).await,
        "LK-AUTH-003",
    );
    // Alice at her familiar address is not.
    let (status, body) = h.password_via(&home, upn, PASSWORD, None).await;
    assert_eq!(status, 200, "{body}");
    // Another user is not affected from the attacker's addresses once the pair budget
    // is fresh (the per-source budget is not spent by five failures).
    h.add_user("carol@example.com").await;
    let (status, body) = h
        .password_via(&first, "carol@example.com", PASSWORD, None)
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_user_name_longer_than_256_bytes_is_refused_before_any_work() {
    let h = Harness::start().await;
    let before_rows = h.audit().await.len();
    let before = h.passwords().started();
    let long = format!("{}@example.com", "a".repeat(300));
    assert_error(&h.password(&long, "x", None).await, "LK-REQ-003");
    assert_eq!(h.passwords().started(), before, "no password check ran");
    assert_eq!(h.audit().await.len(), before_rows, "no audit line");
}

/// Awaits every future (all run concurrently on the test's runtime).
async fn futures_util_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let handles: Vec<_> = futures.collect();
    let mut set = Vec::with_capacity(handles.len());
    for f in handles {
        set.push(Box::pin(f));
    }
    join_all(set).await
}

async fn join_all<F: std::future::Future + Unpin>(mut futures: Vec<F>) -> Vec<F::Output> {
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, out) in futures.iter_mut().zip(outputs.iter_mut()) {
            if out.is_none() {
                match std::pin::Pin::new(&mut *f).poll(cx) {
                    std::task::Poll::Ready(v) => *out = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

fn audit_bytes(lines: &[latchkey_server::storage::AuditRecord]) -> usize {
    lines
        .iter()
        .map(|l| {
            l.event.len()
                + l.outcome.len()
                + [&l.actor, &l.device_id, &l.key_id, &l.source, &l.reason]
                    .iter()
                    .map(|f| f.as_deref().map_or(0, str::len))
                    .sum::<usize>()
        })
        .sum()
}

#[tokio::test]
async fn refused_sign_ins_add_a_bounded_number_of_audit_rows_and_bytes() {
    use latchkey_server::audit::{MAX_FIELD, MAX_REASON};
    use latchkey_server::audit_throttle::{AGGREGATED, IDENTICAL_PER_MINUTE};
    let mut h = Harness::start().await;
    let before = h.audit().await;
    // 60 KB user names: refused as invalid before any work, no line at all.
    let huge = format!("{}@example.com", "x".repeat(60 * 1024));
    for _ in 0..1000 {
        assert_error(&h.password(&huge, "x", None).await, "LK-REQ-003");
    }
    assert_eq!(h.audit().await.len(), before.len());

    // 2,000 refused sign-ins with the longest accepted, all different user names.
    let n = 2000;
    let mut codes = std::collections::BTreeMap::<String, usize>::new();
    for i in 0..n {
        let upn = format!("{i:0>240}@example.com");
        let (_, body) = h.password(&upn, "x", None).await;
        *codes
            .entry(body["code"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(codes.values().sum::<usize>(), n);
    let after = h.audit().await;
    let added = &after[before.len()..];
    // At most IDENTICAL_PER_MINUTE lines per (source, event, code) in this minute.
    assert!(
        added.len() <= codes.len() * IDENTICAL_PER_MINUTE as usize,
        "{} rows for {codes:?}",
        added.len()
    );
    let bound = added.len() * (4 * MAX_FIELD + MAX_REASON + 64);
    assert!(audit_bytes(added) <= bound);

    // The rest is not lost: aggregated lines with the counts are written at shutdown.
    h.restart().await;
    let after = h.audit().await;
    let added = &after[before.len()..];
    assert!(added.len() <= codes.len() * (IDENTICAL_PER_MINUTE as usize + 1));
    let counted: usize = added
        .iter()
        .map(|l| {
            if l.outcome == AGGREGATED {
                let reason = l.reason.as_deref().unwrap();
                reason
                    .split(" x ")
                    .nth(1)
                    .unwrap()
                    .split(' ')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap()
            } else {
                1
            }
        })
        .sum();
    assert_eq!(counted, n, "every refusal is written or counted: {added:?}");
    assert!(added.iter().any(|l| l.outcome == AGGREGATED));
}
