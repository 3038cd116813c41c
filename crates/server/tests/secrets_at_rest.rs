//! Secrets at rest: the database alone reveals no secret; a data directory from before
//! sealing is sealed at start; a missing, wrong or readable key file and a data directory
//! open to others are refused with their codes, and nothing is changed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use common::{env, Harness, PASSWORD};
use latchkey_proto::ErrorCode;
use latchkey_server::clock::ManualClock;
use latchkey_server::secrets::key_file::KEY_FILE;
use latchkey_server::secrets::{KeyEncryptionKey, SecretSlot};
use latchkey_server::storage::sqlite::DB_FILE;
use latchkey_server::{RunningServer, ServerConfig, StartError};

fn kek_of(path: &Path) -> KeyEncryptionKey {
    let text = std::fs::read_to_string(path).unwrap();
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut bytes).unwrap();
    KeyEncryptionKey::from_bytes(&bytes).unwrap()
}

/// Every byte of the database: the main file, its WAL and shared memory.
fn database_bytes(data: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        if let Ok(bytes) = std::fs::read(data.join(format!("{DB_FILE}{suffix}"))) {
            all.extend(bytes);
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

struct StoredTenant {
    id: String,
    ca_key_pem: String,
    signing_key: Vec<u8>,
    nonce_secret: Vec<u8>,
    sealed_by: Option<String>,
}

fn stored_tenant(data: &Path) -> StoredTenant {
    let db = rusqlite::Connection::open(data.join(DB_FILE)).unwrap();
    db.query_row(
        "SELECT id, ca_key_pem, signing_key_pkcs8, nonce_secret, secrets_sealed_by FROM tenants",
        [],
        |row| {
            Ok(StoredTenant {
                id: row.get(0)?,
                ca_key_pem: row.get(1)?,
                signing_key: row.get(2)?,
                nonce_secret: row.get(3)?,
                sealed_by: row.get(4)?,
            })
        },
    )
    .unwrap()
}

fn stored_totp(data: &Path, upn: &str) -> (String, Vec<u8>) {
    let db = rusqlite::Connection::open(data.join(DB_FILE)).unwrap();
    db.query_row(
        "SELECT id, totp_secret FROM users WHERE upn = ?1",
        [upn],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
    .unwrap()
}

/// (role, sealed key) of the issuing CA and the RA.
fn stored_authorities(data: &Path) -> Vec<(String, String)> {
    let db = rusqlite::Connection::open(data.join(DB_FILE)).unwrap();
    let mut stmt = db
        .prepare("SELECT role, key_pem FROM cert_authorities ORDER BY role")
        .unwrap();
    let rows = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

async fn start(
    data: &Path,
    key_file: Option<PathBuf>,
    clock: &ManualClock,
) -> Result<RunningServer, StartError> {
    let mut config = ServerConfig::new(data, "127.0.0.1:0".parse().unwrap());
    config.key_file = key_file;
    latchkey_server::start(config, env(clock)).await
}

fn setup_code(result: Result<RunningServer, StartError>) -> (ErrorCode, String) {
    match result {
        Err(StartError::Setup(e)) => (e.code(), e.to_string()),
        Err(other) => panic!("expected a set-up error, got {other}"),
        Ok(_) => panic!("the service started"),
    }
}

async fn signs_in_with_totp(h: &Harness, upn: &str, secret: &[u8]) -> bool {
    h.clock.advance(time::Duration::seconds(30));
    let (status, body) = h.password(upn, PASSWORD, Some(&h.otp(secret, 0))).await;
    status == 200 && body["amr"].to_string().contains("mfa")
}

#[tokio::test]
async fn a_copy_of_the_database_reveals_no_secret() {
    let h = Harness::start().await;
    let totp = h.add_user("alice@example.com").await;
    assert!(signs_in_with_totp(&h, "alice@example.com", &totp).await);
    let data = h.data_dir();
    let kek = kek_of(&data.join(KEY_FILE));
    let t = stored_tenant(&data);
    assert_eq!(t.sealed_by.as_deref(), Some(kek.id().as_str()));
    let ca_key = kek
        .open_text(&t.id, &SecretSlot::CaKey, &t.ca_key_pem)
        .unwrap();
    let signing = kek
        .open(&t.id, &SecretSlot::SigningKey, &t.signing_key)
        .unwrap();
    let nonce = kek
        .open(&t.id, &SecretSlot::NonceSecret, &t.nonce_secret)
        .unwrap();
    assert!(ca_key.contains("PRIVATE KEY"));
    let bytes = database_bytes(&data);
    assert!(!bytes.is_empty());
    let ca_der = pem_der(&ca_key);
    let totp_b32 = latchkey_server::totp::base32(&totp);
    let needles: [(&str, &[u8]); 6] = [
        ("CA key PEM", ca_key.as_bytes()),
        ("CA key DER", &ca_der),
        ("token-signing key", &signing),
        ("nonce secret", &nonce),
        ("TOTP secret", &totp),
        ("TOTP secret (base32)", totp_b32.as_bytes()),
    ];
    for (what, needle) in needles {
        assert!(!contains(&bytes, needle), "the database holds the {what}");
    }
    // The issuing CA's and the RA's keys: sealed, neither PEM nor DER in the files.
    let authorities = stored_authorities(&data);
    assert_eq!(authorities.len(), 2);
    for (role, sealed) in &authorities {
        let slot = if role == "issuing" {
            SecretSlot::IssuingCaKey
        } else {
            SecretSlot::RaKey
        };
        let key = kek.open_text(&t.id, &slot, sealed).unwrap();
        assert!(key.contains("PRIVATE KEY"), "{role}");
        assert!(
            !contains(&bytes, key.as_bytes()),
            "the database holds the {role} key"
        );
        assert!(
            !contains(&bytes, &pem_der(&key)),
            "the database holds the {role} key DER"
        );
        // Sealed for its own slot: it does not open as the other one or the root's.
        assert!(kek.open_text(&t.id, &SecretSlot::CaKey, sealed).is_err());
    }
    assert!(!contains(&bytes, b"PRIVATE KEY"));
    // A sealed value moved to another user's row does not open for them.
    let bob_totp = h.add_user("bob@example.com").await;
    let (alice_id, alice_sealed) = stored_totp(&data, "alice@example.com");
    let (bob_id, _) = stored_totp(&data, "bob@example.com");
    let slot = |user_id: &str| SecretSlot::Totp {
        user_id: user_id.to_owned(),
    };
    assert_eq!(
        &*kek.open(&t.id, &slot(&alice_id), &alice_sealed).unwrap(),
        &totp[..]
    );
    assert!(kek.open(&t.id, &slot(&bob_id), &alice_sealed).is_err());
    rusqlite::Connection::open(data.join(DB_FILE))
        .unwrap()
        .execute(
            "UPDATE users SET totp_secret = ?1 WHERE id = ?2",
            rusqlite::params![alice_sealed, bob_id],
        )
        .unwrap();
    assert!(
        !signs_in_with_totp(&h, "bob@example.com", &totp).await,
        "alice's codes for bob"
    );
    assert!(!signs_in_with_totp(&h, "bob@example.com", &bob_totp).await);
    assert!(signs_in_with_totp(&h, "alice@example.com", &totp).await);
}

#[tokio::test]
async fn a_data_directory_from_before_sealing_is_sealed_at_its_next_start() {
    let mut h = Harness::start().await;
    let totp = h.add_user("alice@example.com").await;
    let before = h.admin.tenant();
    let data = h.data_dir();
    h.server.take().unwrap().shutdown().await;
    // Turn the data directory into one written before sealing existed: plaintext secrets,
    // no key file.
    let kek = kek_of(&data.join(KEY_FILE));
    let t = stored_tenant(&data);
    let (alice_id, sealed_totp) = stored_totp(&data, "alice@example.com");
    let slot = SecretSlot::Totp {
        user_id: alice_id.clone(),
    };
    {
        let db = rusqlite::Connection::open(data.join(DB_FILE)).unwrap();
        db.execute(
            "UPDATE tenants SET ca_key_pem = ?1, signing_key_pkcs8 = ?2, nonce_secret = ?3, \
             secrets_sealed_by = NULL",
            rusqlite::params![
                kek.open_text(&t.id, &SecretSlot::CaKey, &t.ca_key_pem)
                    .unwrap()
                    .as_str(),
                kek.open(&t.id, &SecretSlot::SigningKey, &t.signing_key)
                    .unwrap()
                    .to_vec(),
                kek.open(&t.id, &SecretSlot::NonceSecret, &t.nonce_secret)
                    .unwrap()
                    .to_vec(),
            ],
        )
        .unwrap();
        db.execute(
            "UPDATE users SET totp_secret = ?1 WHERE id = ?2",
            rusqlite::params![
                kek.open(&t.id, &slot, &sealed_totp).unwrap().to_vec(),
                alice_id
            ],
        )
        .unwrap();
    }
    {
        // Nor had it an issuing CA: those came later (migration 0012), and are created at
        // the next start of a data directory without them.
        let db = rusqlite::Connection::open(data.join(DB_FILE)).unwrap();
        for table in ["cert_templates", "cert_authorities", "cert_pki_state"] {
            db.execute(&format!("DELETE FROM {table}"), []).unwrap();
        }
    }
    std::fs::remove_file(data.join(KEY_FILE)).unwrap();
    assert!(contains(&database_bytes(&data), b"PRIVATE KEY"));

    let server = start(&data, None, &h.clock).await.unwrap();
    let new_kek = kek_of(&data.join(KEY_FILE));
    assert_ne!(new_kek.id(), kek.id(), "a new key file was made");
    let t = stored_tenant(&data);
    assert_eq!(t.sealed_by.as_deref(), Some(new_kek.id().as_str()));
    assert_eq!(
        server.ca_fingerprint, before.ca_fingerprint_sha256,
        "same CA"
    );
    let (_, sealed_totp) = stored_totp(&data, "alice@example.com");
    assert_eq!(
        &*new_kek.open(&t.id, &slot, &sealed_totp).unwrap(),
        &totp[..]
    );
    // The issuing CA and the RA were created at this start, sealed under the new key, with
    // the default template.
    let authorities = stored_authorities(&data);
    assert_eq!(
        authorities.len(),
        2,
        "issuing CA and RA created at the next start"
    );
    for (role, key_pem) in &authorities {
        let slot = if role == "issuing" {
            SecretSlot::IssuingCaKey
        } else {
            SecretSlot::RaKey
        };
        assert!(new_kek.open_text(&t.id, &slot, key_pem).is_ok(), "{role}");
    }
    let templates: i64 = rusqlite::Connection::open(data.join(DB_FILE))
        .unwrap()
        .query_row("SELECT COUNT(*) FROM cert_templates", [], |r| r.get(0))
        .unwrap();
    assert_eq!(templates, 1);
    // The plaintext is gone from the files, not only from the live rows: overwritten in
    // the database file and truncated from the WAL.
    let bytes = database_bytes(&data);
    assert!(
        !contains(&bytes, b"PRIVATE KEY"),
        "plaintext left in the database files"
    );
    assert!(
        !contains(&bytes, &totp),
        "the TOTP secret left in the database files"
    );
    h.url = server.base_url.clone();
    h.server = Some(server);
    assert!(signs_in_with_totp(&h, "alice@example.com", &totp).await);
    let jwks: serde_json::Value = serde_json::from_str(&h.get("/v1/jwks").await.1).unwrap();
    assert_eq!(
        jwks["keys"][0]["kid"],
        before.signing_kid.as_str(),
        "same token key"
    );
}

#[tokio::test]
async fn a_missing_wrong_or_readable_key_file_is_refused_and_nothing_changes() {
    let mut h = Harness::start().await;
    h.add_user("alice@example.com").await;
    h.server.take().unwrap().shutdown().await;
    let data = h.data_dir();
    let key = data.join(KEY_FILE);
    let good = std::fs::read(&key).unwrap();
    let before = stored_tenant(&data);

    std::fs::remove_file(&key).unwrap();
    let (code, message) = setup_code(start(&data, None, &h.clock).await);
    assert_eq!(code, ErrorCode::KeyFileUnusable, "{message}");
    assert!(message.contains("--key-file"), "{message}");
    assert!(!key.exists(), "no new key made up for a sealed database");

    std::fs::write(&key, format!("{}\n", hex::encode([9u8; 32]))).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, message) = setup_code(start(&data, None, &h.clock).await);
    assert_eq!(code, ErrorCode::KeyFileWrongKey, "{message}");
    assert_eq!(code.as_str(), "LK-SRV-004");

    std::fs::write(&key, &good).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let (code, message) = setup_code(start(&data, None, &h.clock).await);
    assert!(
        code == ErrorCode::KeyFileUnusable || code == ErrorCode::DataDirNotPrivate,
        "{code}: {message}"
    );
    assert!(message.contains("chmod 600"), "{message}");

    let after = stored_tenant(&data);
    assert_eq!(after.sealed_by, before.sealed_by);
    assert_eq!(after.signing_key, before.signing_key, "nothing rewritten");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    start(&data, None, &h.clock).await.unwrap().shutdown().await;
}

#[tokio::test]
async fn a_key_file_outside_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(time::OffsetDateTime::now_utc());
    let data = dir.path().join("data");
    let key = dir.path().join("elsewhere.key");
    let server = start(&data, Some(key.clone()), &clock).await.unwrap();
    server.shutdown().await;
    assert!(key.exists());
    assert!(
        !data.join(KEY_FILE).exists(),
        "the data directory holds no key"
    );
    let (code, _) = setup_code(start(&data, None, &clock).await);
    assert_eq!(
        code,
        ErrorCode::KeyFileUnusable,
        "without --key-file it cannot open"
    );
    start(&data, Some(key), &clock)
        .await
        .unwrap()
        .shutdown()
        .await;
}

#[tokio::test]
async fn a_data_directory_open_to_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(time::OffsetDateTime::now_utc());
    let data = dir.path().join("data");
    start(&data, None, &clock).await.unwrap().shutdown().await;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    let set =
        |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    set(&data, 0o755);
    let (code, message) = setup_code(start(&data, None, &clock).await);
    assert_eq!(code, ErrorCode::DataDirNotPrivate, "{message}");
    assert!(
        message.contains(&format!("chmod 700 {}", data.display())),
        "{message}"
    );
    set(&data, 0o700);
    let db = data.join(DB_FILE);
    set(&db, 0o644);
    let (code, message) = setup_code(start(&data, None, &clock).await);
    assert_eq!(code, ErrorCode::DataDirNotPrivate, "{message}");
    assert!(
        message.contains(&format!("chmod 600 {}", db.display())),
        "{message}"
    );
    // The administration commands refuse it too.
    let admin = latchkeyd::data_admin::Admin::open(&data, env(&clock)).await;
    let err = admin.expect_err("the admin interface opened a readable data directory");
    assert_eq!(err.code(), ErrorCode::DataDirNotPrivate);
    set(&db, 0o600);
    start(&data, None, &clock).await.unwrap().shutdown().await;
}
