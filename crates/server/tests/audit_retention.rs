//! Audit retention and export: lines older than the configured retention are deleted by
//! the housekeeping loop, and `export` writes old lines to a new file before (optionally)
//! deleting exactly those.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::{assert_error, Harness};
use latchkey_server::storage::AuditRecord;

const DAY: i64 = 86_400;

async fn fail_signins(h: &Harness, n: usize) {
    for i in 0..n {
        assert_error(
            &h.password(&format!("ghost{i}@example.com"), "x", None)
                .await,
            "LK-AUTH-001",
        );
    }
}

#[tokio::test]
async fn export_writes_the_old_lines_to_a_new_file_then_prunes_exactly_those() {
    let h = Harness::start().await;
    fail_signins(&h, 3).await;
    h.clock.advance(time::Duration::days(2));
    let cutoff = h.admin.now() - DAY;
    fail_signins(&h, 2).await;
    let all = h.audit().await;
    let old: Vec<_> = all.iter().filter(|l| l.at < cutoff).cloned().collect();
    assert!(old.len() >= 3);

    let out = h.dir.path().join("audit-old.jsonl");
    let (written, pruned) = h.admin.export_audit(cutoff, &out, true).await.unwrap();
    assert_eq!((written, pruned), (old.len() as u64, old.len() as u64));
    let text = std::fs::read_to_string(&out).unwrap();
    let exported: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        exported,
        serde_json::to_value(&old)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let left = h.audit().await;
    assert_eq!(left.len(), all.len() - old.len());
    assert!(left.iter().all(|l| l.at >= cutoff));

    // An existing file is never overwritten, and then nothing is pruned.
    let before = h.audit().await.len();
    h.clock.advance(time::Duration::days(3));
    let err = h
        .admin
        .export_audit(h.admin.now(), &out, true)
        .await
        .unwrap_err();
    assert_eq!(err.code().as_str(), "LK-AUDIT-001");
    assert_eq!(h.audit().await.len(), before);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), text);
}

async fn audit_until(h: &Harness, done: impl Fn(&[AuditRecord]) -> bool) -> Vec<AuditRecord> {
    // The housekeeping round runs in the service's own task, right after start: poll its
    // observable effect, boundedly.
    for _ in 0..250 {
        let lines = h.audit().await;
        if done(&lines) {
            return lines;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the housekeeping round did not run");
}

#[tokio::test]
async fn lines_past_the_retention_are_pruned_and_newer_ones_kept() {
    let mut h = Harness::start_with(|c| c.audit_retention_days = Some(30)).await;
    fail_signins(&h, 3).await;
    let first = h.audit().await;
    h.clock.advance(time::Duration::days(20));
    fail_signins(&h, 2).await;
    h.clock.advance(time::Duration::days(11));
    let cutoff = h.admin.now() - 30 * DAY;
    // The first round after a start prunes.
    h.restart().await;
    let left = audit_until(&h, |lines| lines.iter().all(|l| l.at >= cutoff)).await;
    assert!(left.len() >= 2, "{left:?}");
    assert!(first.iter().all(|l| l.at < cutoff));
    assert!(first.iter().all(|l| !left.contains(l)));
}
