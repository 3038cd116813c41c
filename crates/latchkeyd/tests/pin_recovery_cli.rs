//! `latchkeyd pin-recovery show|rotate`, with the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::Path;

mod common;

use common::run;

fn keys(data: &Path) -> Vec<serde_json::Value> {
    let (code, out, err) = run(data, &["pin-recovery", "show", "--json"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str::<Vec<serde_json::Value>>(&out).unwrap()
}

#[test]
fn rotate_makes_a_current_key_and_keeps_the_previous_one_in_its_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    common::init(&data);
    // A data directory made by an administration command has no key until the service
    // starts or an administrator rotates.
    assert!(keys(&data).is_empty());
    let (code, out, err) = run(&data, &["pin-recovery", "rotate"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("new PIN-recovery key "), "{out}");
    let (code, out, err) = run(
        &data,
        &["pin-recovery", "rotate", "--grace-days", "7", "--json"],
    );
    assert_eq!(code, 0, "{err}");
    let rotated: serde_json::Value = serde_json::from_str(&out).unwrap();
    let listed = keys(&data);
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["key_id"], rotated["key_id"]);
    assert_eq!(listed[0]["state"], "current");
    assert_eq!(listed[1]["state"], "grace");
    assert!(listed[1]["usable_until"].as_i64().unwrap() > 0);
    let (_, text, _) = run(&data, &["pin-recovery", "show"]);
    assert!(text.contains("KEY ID") && text.contains("grace"), "{text}");
    // No private material is printed.
    assert!(!text.contains("sealed"), "{text}");

    // A grace period outside 1..=365 is refused, and nothing is written.
    for bad in ["0", "366"] {
        let (code, _, err) = run(&data, &["pin-recovery", "rotate", "--grace-days", bad]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("LK-PINR-007"), "{err}");
    }
    assert_eq!(keys(&data).len(), 2);
}
