//! `latchkeyd user import` with the real binaries, on SQLite and on PostgreSQL: a user
//! whose Argon2id hash was exported from another system (other costs than ours) joins a
//! device with that password and the TOTP secret of the enrolment file, sets Hello up and
//! signs in; a passwordless user is refused every password; and each kind of bad file
//! imports nothing and leaves no enrolment file behind.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use argon2::password_hash::{PasswordHasher, SaltString};
use latchkey_e2e::{Service, Totp, World};

const EXPORTED_PASSWORD: &str = "exported from the old directory";
const PIN: &str = "482916";

/// An Argon2id hash as another system exports it: 8 MiB, 3 passes, 2 lanes.
fn exported_hash() -> String {
    let params = argon2::Params::new(8 * 1024, 3, 2, None).unwrap();
    let salt = SaltString::encode_b64(b"old-system-salt!").unwrap();
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password(EXPORTED_PASSWORD.as_bytes(), &salt)
        .unwrap()
        .to_string()
}

fn write(world: &World, name: &str, text: &str) -> PathBuf {
    let path = world.root.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn users(world: &World) -> Vec<serde_json::Value> {
    world
        .admin(&["--json", "user", "list"], "")
        .assert_ok()
        .json()
        .as_array()
        .unwrap()
        .clone()
}

/// The TOTP generator of `upn` in an enrolment file.
fn totp_of(enrolment: &Path, upn: &str) -> Totp {
    let text = std::fs::read_to_string(enrolment).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{upn},")))
        .unwrap_or_else(|| panic!("{upn} not in the enrolment file:\n{text}"));
    Totp::from_uri(line.split_once(',').unwrap().1)
}

fn import(world: &World, file: &Path, extra: &[&str]) -> latchkey_e2e::Output {
    let mut args = vec!["--json", "user", "import", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    world.admin(&args, "")
}

/// A device of `upn` joins with `password`, sets Hello up and signs in.
fn join_and_sign_in(world: &World, svc: &Service, upn: &str, password: &str, totp: &Totp) {
    world.join(svc, "laptop", upn, password, totp);
    world
        .device(
            "laptop",
            &["hello", "setup", "--password-stdin", "--pin-stdin"],
            &format!("{password}\n{PIN}\n"),
        )
        .assert_ok();
    world
        .device("laptop", &["signin", "--pin-stdin"], &format!("{PIN}\n"))
        .assert_ok();
}

fn imported_users_sign_in_as_their_hashes_say(world: &World) {
    let csv = format!(
        "upn,display_name,password_hash\n\
         Moved@Example.com,\"Moved, User\",\"{}\"\n\
         passwordless@example.com,,\n",
        exported_hash()
    );
    let file = write(world, "users.csv", &csv);
    let enrolment = world.root.path().join("enrolment.csv");
    let out = import(
        world,
        &file,
        &["--enrolment-out", enrolment.to_str().unwrap()],
    );
    out.assert_ok();
    let summary = out.json();
    assert_eq!(summary["imported"], 2, "{summary}");
    assert_eq!(summary["with_password"], 1);
    assert_eq!(summary["passwordless"], 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&enrolment).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the enrolment file holds secrets");
    }
    let listed = users(world);
    let moved = listed
        .iter()
        .find(|u| u["upn"] == "moved@example.com")
        .expect("the UPN is stored lowercased");
    assert_eq!(moved["display_name"], "Moved, User");
    let audit = world
        .admin(
            &["audit", "--format", "jsonl", "--event", "user_import"],
            "",
        )
        .assert_ok()
        .stdout
        .clone();
    assert_eq!(
        audit.lines().count(),
        1,
        "one audit line per import: {audit}"
    );

    let svc = world.start_service();
    let moved_totp = totp_of(&enrolment, "moved@example.com");
    join_and_sign_in(
        world,
        &svc,
        "moved@example.com",
        EXPORTED_PASSWORD,
        &moved_totp,
    );
    // The passwordless user: no password signs in, not even an empty one.
    let nobody = totp_of(&enrolment, "passwordless@example.com");
    for password in ["", "anything at all"] {
        world
            .try_join(
                &svc,
                "kiosk",
                "passwordless@example.com",
                password,
                &nobody,
                "cloud",
            )
            .assert_error("LK-AUTH-001");
    }
}

fn bad_files_import_nothing(world: &World) {
    let before = users(world).len();
    let enrolment = world.root.path().join("refused-enrolment.csv");
    let many: String = (0..1_200)
        .map(|i| format!("bulk{i:04}@example.com,Bulk {i},\n"))
        .collect();
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "bad-hash.csv",
            format!("upn,display_name,password_hash\n{many}late@example.com,Late,plaintext\n"),
            "LK-IMP-001",
            "line 1202",
        ),
        (
            "costly.jsonl",
            "{\"upn\":\"a@example.com\"}\n{\"upn\":\"b@example.com\",\"password_hash\":\
             \"$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA\"}\n"
                .to_owned(),
            "LK-IMP-001",
            "line 2",
        ),
        (
            "exists.csv",
            format!("upn,display_name,password_hash\n{many}moved@example.com,,\n"),
            "LK-IMP-002",
            "line 1202",
        ),
        (
            "twice.csv",
            format!("upn,display_name,password_hash\n{many}bulk0007@example.com,,\n"),
            "LK-IMP-002",
            "line 1202",
        ),
        (
            "users.txt",
            "upn\nz@example.com\n".to_owned(),
            "LK-IMP-003",
            "--format",
        ),
    ];
    for (name, text, code, says) in cases {
        let file = write(world, name, &text);
        let out = import(
            world,
            &file,
            &["--enrolment-out", enrolment.to_str().unwrap()],
        );
        out.assert_error(code);
        assert!(out.stderr.contains(says), "{name}: {}", out.stderr);
        assert!(
            !enrolment.exists(),
            "{name}: a refused import left its enrolment file"
        );
        assert_eq!(users(world).len(), before, "{name}: users were imported");
    }
    let missing = world.root.path().join("missing.csv");
    import(world, &missing, &[]).assert_error("LK-IMP-003");
    // An enrolment file that exists is never overwritten, and nothing is imported.
    let file = write(world, "fine.csv", "upn\nfine@example.com\n");
    std::fs::write(&enrolment, "keep me").unwrap();
    import(
        world,
        &file,
        &["--enrolment-out", enrolment.to_str().unwrap()],
    )
    .assert_error("LK-IMP-004");
    assert_eq!(std::fs::read_to_string(&enrolment).unwrap(), "keep me");
    assert_eq!(users(world).len(), before);
    // The same file imports once the name is free; a second import of it conflicts.
    import(world, &file, &[]).assert_ok();
    import(world, &file, &[]).assert_error("LK-IMP-002");
    assert_eq!(users(world).len(), before + 1);
}

#[test]
fn import_on_sqlite() {
    let world = World::new();
    imported_users_sign_in_as_their_hashes_say(&world);
    bad_files_import_nothing(&world);
}

#[test]
fn import_on_postgres() {
    let url = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(latchkey_pg_harness::PgCluster::fresh_database("import"))
        .expect("a fresh database on the shared PostgreSQL cluster");
    let world = World::on_database(&url);
    imported_users_sign_in_as_their_hashes_say(&world);
    bad_files_import_nothing(&world);
}
