//! SIGTERM under load, with the real binaries: `latchkeyd` stops accepting, finishes the
//! sign-ins in flight, exits 0, and every sign-in a `latchkey signin` reported as done is in
//! the audit trail afterwards.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use latchkey_e2e::World;

const PASSWORD: &str = "correct horse battery";
const PIN: &str = "246813";
const DEVICES: usize = 3;

#[test]
fn sigterm_under_load_exits_0_and_keeps_every_acknowledged_sign_in() {
    let world = Arc::new(World::new());
    let svc = world.start_service();
    for d in 0..DEVICES {
        let upn = format!("user{d}@example.com");
        let totp = world.add_user(&upn, PASSWORD);
        world.join(&svc, &format!("d{d}"), &upn, PASSWORD, &totp);
        world
            .device(
                &format!("d{d}"),
                &["hello", "setup", "--password-stdin", "--pin-stdin"],
                &format!("{PASSWORD}\n{PIN}\n"),
            )
            .assert_ok();
    }

    // Each device signs in again and again until the service no longer answers.
    let total = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    let loops: Vec<_> = (0..DEVICES)
        .map(|d| {
            let (world, total, failed) = (world.clone(), total.clone(), failed.clone());
            std::thread::spawn(move || {
                let mut acknowledged = 0usize;
                loop {
                    let out = world.device(
                        &format!("d{d}"),
                        &["signin", "--pin-stdin"],
                        &format!("{PIN}\n"),
                    );
                    if out.code != 0 || !out.stdout.contains("Signed in as") {
                        failed.store(true, Ordering::SeqCst);
                        return (acknowledged, out.stderr);
                    }
                    acknowledged += 1;
                    total.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    // Once sign-ins are flowing from every loop, stop the service in the middle of them.
    while total.load(Ordering::SeqCst) < 3 * DEVICES && !failed.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    assert!(
        !failed.load(Ordering::SeqCst),
        "a sign-in failed before SIGTERM"
    );
    let status = svc.terminate();
    assert_eq!(
        status.code(),
        Some(0),
        "latchkeyd's exit after SIGTERM: {status}"
    );
    let results: Vec<(usize, String)> = loops.into_iter().map(|l| l.join().unwrap()).collect();

    // The service is gone: the loops ended with a connection error, not a refusal.
    for (_, stderr) in &results {
        assert!(
            !stderr.contains("LK-AUTH") && !stderr.contains("LK-KEY") && !stderr.contains("LK-SRV"),
            "a sign-in was refused instead of finding the service gone: {stderr}"
        );
    }
    let audit = world
        .admin(&["audit", "--since", "1h", "--json"], "")
        .assert_ok()
        .json();
    let lines = audit.as_array().expect("audit lines");
    for (d, (acknowledged, _)) in results.iter().enumerate() {
        let device = world
            .device(&format!("d{d}"), &["status", "--json"], "")
            .assert_ok()
            .json();
        let id = device.to_string();
        let stored = lines
            .iter()
            .filter(|l| {
                l["event"] == "signin"
                    && l["outcome"] == "success"
                    && l["device_id"].as_str().is_some_and(|dev| id.contains(dev))
            })
            .count();
        assert!(
            stored >= *acknowledged,
            "device d{d}: {acknowledged} sign-ins acknowledged, {stored} stored"
        );
        assert!(*acknowledged >= 1, "device d{d} never signed in");
    }
}
