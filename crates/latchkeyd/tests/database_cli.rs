//! `--database` through the real binary: the refusals (a URL that is neither `sqlite` nor
//! PostgreSQL's, a pool of 0, a PostgreSQL that does not answer, a database without a
//! tenant), `config check` naming the kind without the password, and the administration
//! commands on a throwaway PostgreSQL 15 cluster (latchkey-pg-harness).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::BIN;

/// Runs `latchkeyd ARGS --data-dir DATA` with `envs` set and `stdin` piped in.
fn run_with(
    data: &Path,
    args: &[&str],
    envs: &[(&str, &str)],
    stdin: &str,
) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env_remove("LATCHKEY_DATABASE_URL")
        .envs(envs.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn run(data: &Path, args: &[&str]) -> (i32, String, String) {
    run_with(data, args, &[], "")
}

/// Exit 1 with `error: CODE: ...` on standard error (no panic, no backtrace).
fn refused(answer: &(i32, String, String), code: &str) {
    let (status, _, err) = answer;
    assert_eq!(*status, 1, "{err}");
    assert!(err.starts_with(&format!("error: {code}: ")), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_database_that_is_not_sqlite_or_postgres_is_refused_with_its_code() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for url in ["mysql://u:hunter2@db/x", "postgres:/db", "file:latchkey.db"] {
        for args in [vec!["init"], vec!["user", "list"], vec!["serve"]] {
            let mut all = args.clone();
            all.extend(["--database", url]);
            let answer = run(&data, &all);
            refused(&answer, "LK-CFG-003");
            assert!(!answer.2.contains("hunter2"), "{}", answer.2);
        }
        // The variable is read too, and a flag beats it.
        let answer = run_with(
            &data,
            &["user", "list"],
            &[("LATCHKEY_DATABASE_URL", url)],
            "",
        );
        refused(&answer, "LK-CFG-003");
    }
    let answer = run(&data, &["user", "list", "--database-max-connections", "0"]);
    refused(&answer, "LK-CFG-003");
    assert!(
        !data.exists(),
        "a refused command created the data directory"
    );
}

#[test]
fn a_postgres_that_does_not_answer_is_refused_with_its_code() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let url = "postgres://latchkey:hunter2@127.0.0.1:1/latchkey";
    for args in [vec!["init"], vec!["user", "list"]] {
        let mut all = args.clone();
        all.extend(["--database", url]);
        let answer = run(&data, &all);
        refused(&answer, "LK-SRV-006");
        assert!(answer.2.contains("postgres database"), "{}", answer.2);
        assert!(!answer.2.contains("hunter2"), "{}", answer.2);
    }
    // A parameter PostgreSQL's client refuses is a configuration error.
    let answer = run(
        &data,
        &[
            "user",
            "list",
            "--database",
            "postgres://latchkey@127.0.0.1:1/x?sslmode=sometimes",
        ],
    );
    refused(&answer, "LK-CFG-003");
}

#[test]
fn config_check_names_the_database_without_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (code, out, err) = run(
        &data,
        &[
            "config",
            "check",
            "--database",
            "postgres://lk:hunter2@db.example:5432/latchkey?sslmode=verify-full",
            "--database-max-connections",
            "7",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("hunter2"), "{out}");
    assert!(
        out.contains(
            "database = \"postgres://lk:***@db.example:5432/latchkey?sslmode=verify-full\""
        ),
        "{out}"
    );
    assert!(out.contains("database_max_connections = 7"), "{out}");
    assert!(out.contains("the database is postgres (pool of 7"), "{out}");
    let (code, out, err) = run(&data, &["config", "check"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("database = \"sqlite\""), "{out}");
    assert!(out.contains("the database is sqlite"), "{out}");
}

/// A fresh database on the test process's PostgreSQL cluster.
fn fresh_database() -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(latchkey_pg_harness::PgCluster::fresh_database("admin_cli"))
        .expect("a fresh database on the shared PostgreSQL cluster")
}

#[test]
fn admin_commands_run_on_postgres() {
    let url = fresh_database();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let pg = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--database", url.as_str()]);
        run(&data, &all)
    };
    // A database without a tenant is refused, and nothing is created in it.
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let answer = pg(&["user", "list"]);
    refused(&answer, "LK-ADM-001");
    assert!(
        answer.2.contains("the database holds no tenant"),
        "{}",
        answer.2
    );

    let (code, out, err) = pg(&["init", "--tenant-name", "Contoso"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("created tenant Contoso"), "{out}");
    assert!(
        data.join("ca.pem").is_file(),
        "ca.pem is kept in the data directory"
    );
    assert!(
        !data.join("latchkey.db").exists(),
        "init on PostgreSQL made a SQLite database"
    );
    let (code, out, _) = pg(&["init"]);
    assert_eq!(code, 0);
    assert!(out.contains("has a tenant already"), "{out}");

    for upn in ["alice@example.com", "bob@example.com"] {
        let mut args = vec!["user", "add", upn, "--password-stdin"];
        args.extend(["--database", url.as_str()]);
        let (code, _, err) = run_with(&data, &args, &[], "pa55word-for-tests\n");
        assert_eq!(code, 0, "{err}");
    }
    let (code, out, err) = pg(&["user", "list", "--json"]);
    assert_eq!(code, 0, "{err}");
    let users: serde_json::Value = serde_json::from_str(&out).unwrap();
    let upns: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["upn"].as_str().unwrap())
        .collect();
    assert_eq!(upns, ["alice@example.com", "bob@example.com"]);
    // The SQLite default in the same directory is another database: it has no tenant.
    refused(&run(&data, &["user", "list"]), "LK-ADM-001");

    let (code, _, err) = pg(&["user", "disable", "alice@example.com"]);
    assert_eq!(code, 0, "{err}");
    refused(
        &pg(&["user", "disable", "nobody@example.com"]),
        "LK-AUTH-001",
    );
    let (code, _, err) = pg(&["user", "delete", "bob@example.com", "--yes"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = pg(&["user", "list"]);
    assert_eq!(code, 0);
    assert!(!out.contains("bob@example.com"), "{out}");
    let (code, out, err) = pg(&["device", "list", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap(),
        serde_json::json!([])
    );
    refused(
        &pg(&["device", "delete", "no-such-device", "--yes"]),
        "LK-DEV-001",
    );

    let (code, out, err) = pg(&["audit", "--format", "jsonl", "--event", "user_*"]);
    assert_eq!(code, 0, "{err}");
    let events: Vec<String> = out
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["event"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        events,
        ["user_create", "user_create", "user_disable", "user_delete"],
        "{out}"
    );
}
