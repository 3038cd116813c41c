//! The time of `kinit` with PKINIT end to end, with a FILE identity and through the
//! PKCS#11 module (the PIN typed at kinit's prompt on a pseudo-terminal), split into the
//! KDC's share and the client's.
//!
//! Each kinit writes its `KRB5_TRACE` into a FIFO, stamped as the lines arrive. The KDC's
//! share is the sum of the gaps from "Sending TCP request" to "Received answer" (the KDC's
//! work and loopback); the client's is the rest of kinit's wall time (both kinds run on the
//! same pseudo-terminal driver, tests/pkinit/on_a_terminal.py, whose start is in both).
//! The module's share is the client's pre-authentication step (identity, DH key, and for
//! the module C_Login, which starts the signer and unlocks the container with Argon2id,
//! and C_Sign) through the module minus the same step with the FILE identity.
//!
//! ```text
//! cargo build --workspace --bins && cargo build -p latchkey-pkcs11
//! LATCHKEY_BIN_DIR=$CARGO_TARGET_DIR/debug cargo run -p latchkey-e2e --example kinit_time -- 20
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::path::Path;
use std::time::Instant;

use latchkey_e2e::kdc::Kdc;
use latchkey_e2e::pkinit::{certificate_policy, identity, join, kdc_setup, setup, PIN, REALM};
use latchkey_e2e::{bin, World};

/// Trace lines as kinit writes them into the FIFO `path`, each with the time it arrived
/// (MIT's own trace stamps are not wall-clock resolution here), read on a thread until
/// kinit closes the FIFO.
fn trace_reader(path: &Path) -> std::thread::JoinHandle<Vec<(Instant, String)>> {
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        use std::io::BufRead;
        let file = std::fs::File::open(&path).expect("open the trace FIFO");
        std::io::BufReader::new(file)
            .lines()
            .map_while(Result::ok)
            .map(|l| (Instant::now(), l))
            .collect()
    })
}

/// The KDC's share (the gaps from "Sending TCP request" to "Received answer") and the
/// client's pre-authentication work (from "Processing preauth types" to "Produced preauth
/// for next request": identity, DH key, C_Login and C_Sign), seconds.
fn shares(trace: &[(Instant, String)]) -> (f64, f64) {
    let mut sent = None;
    let mut kdc = 0.0;
    let mut preauth_from = None;
    let mut preauth = 0.0;
    for (at, line) in trace {
        if line.contains("Sending TCP request") {
            sent = Some(*at);
        } else if line.contains("Received answer") {
            if let Some(s) = sent.take() {
                kdc += at.duration_since(s).as_secs_f64();
            }
        } else if line.contains("Processing preauth types") {
            preauth_from = Some(*at);
        } else if line.contains("Produced preauth for next request") {
            if let Some(f) = preauth_from.take() {
                preauth += at.duration_since(f).as_secs_f64();
            }
        }
    }
    (kdc, preauth)
}

struct Run {
    total: f64,
    kdc: f64,
    preauth: f64,
}

/// Prints the means; returns the client's share and its pre-authentication step.
fn summary(name: &str, runs: &[Run]) -> (f64, f64) {
    let mean = |f: &dyn Fn(&Run) -> f64| runs.iter().map(f).sum::<f64>() / runs.len() as f64;
    let total = mean(&|r| r.total);
    let kdc = mean(&|r| r.kdc);
    let preauth = mean(&|r| r.preauth);
    let mut sorted: Vec<f64> = runs.iter().map(|r| r.total).collect();
    sorted.sort_by(f64::total_cmp);
    println!(
        "{name:<7} n={:<3} kinit {:>6.1} ms (median {:>6.1}) = KDC {:>5.1} + client {:>6.1}, of which pre-authentication {:>6.1} ms",
        runs.len(),
        total * 1e3,
        sorted[sorted.len() / 2] * 1e3,
        kdc * 1e3,
        (total - kdc) * 1e3,
        preauth * 1e3
    );
    (total - kdc, preauth)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("a count"))
        .unwrap_or(10);
    let world = World::new();
    let svc = world.start_service();
    let setup_dir = kdc_setup(&world);
    certificate_policy(&world);
    join(&world, &svc, "pc", "kim@contoso.test");
    setup(&world, "pc");
    let kdc = Kdc::start(&setup_dir, REALM);
    kdc.add_pkinit_user("kim");
    let id = identity(
        &world,
        "pc",
        "kim@contoso.test",
        &world.root.path().join("kim"),
    );
    let principal = format!("kim@{REALM}");
    let trace = world.root.path().join("trace");
    let ccache = world.root.path().join("ccache");
    let module = bin("latchkey").with_file_name("liblatchkey_pkcs11.so");
    let state = world.device_dir("pc").display().to_string();

    let fifo = std::process::Command::new("mkfifo")
        .arg(&trace)
        .status()
        .unwrap();
    assert!(fifo.success(), "mkfifo");
    let trace_text = trace.display().to_string();
    // Both kinds run on the same pseudo-terminal driver, so that its own cost (a Python
    // start) is in both and cancels out of the module's share.
    let mut file_runs = Vec::new();
    let file_identity = format!("FILE:{},{}", id.cert.display(), id.key.display());
    for _ in 0..n {
        let _ = std::fs::remove_file(&ccache);
        let reader = trace_reader(&trace);
        let started = Instant::now();
        let out = kdc.kinit_on_terminal(
            &ccache,
            &file_identity,
            &principal,
            PIN,
            &[("KRB5_TRACE", trace_text.as_str())],
        );
        let total = started.elapsed().as_secs_f64();
        assert_eq!(out.code, 0, "{out:?}");
        let (kdc_s, preauth) = shares(&reader.join().unwrap());
        file_runs.push(Run {
            total,
            kdc: kdc_s,
            preauth,
        });
    }
    let mut module_runs = Vec::new();
    if module.is_file() {
        let identity = format!("PKCS11:module_name={}", module.display());
        for _ in 0..n {
            let _ = std::fs::remove_file(&ccache);
            let reader = trace_reader(&trace);
            let started = Instant::now();
            let out = kdc.kinit_on_terminal(
                &ccache,
                &identity,
                &principal,
                PIN,
                &[
                    ("LATCHKEY_STATE_DIR", state.as_str()),
                    ("KRB5_TRACE", trace_text.as_str()),
                ],
            );
            let total = started.elapsed().as_secs_f64();
            assert_eq!(out.code, 0, "{out:?}");
            let (kdc_s, preauth) = shares(&reader.join().unwrap());
            module_runs.push(Run {
                total,
                kdc: kdc_s,
                preauth,
            });
        }
    } else {
        println!("{} not built: module runs skipped", module.display());
    }
    let file_client = summary("FILE", &file_runs);
    if !module_runs.is_empty() {
        let module_client = summary("PKCS11", &module_runs);
        println!(
            "the module's share per kinit: {:.1} ms of client time ({:.1} ms in the pre-authentication step)",
            (module_client.0 - file_client.0) * 1e3,
            (module_client.1 - file_client.1) * 1e3
        );
    }
}
