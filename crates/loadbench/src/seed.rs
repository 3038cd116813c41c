//! Scale seeding (`--seed-users`, `--seed-keys`), after the service starts and before the
//! measured phases, so that the phases run with the benchmark's own devices among many.
//!
//! Users go through the real `latchkeyd user import` (a CSV file of passwordless users,
//! `seedNNNNNNN@example.com`). Devices and Hello keys are written straight into the
//! database, one `INSERT ... SELECT` per table per batch (`generate_series` on PostgreSQL,
//! a recursive CTE on SQLite), each row a copy of a model device and key that a real join
//! and registration stored just before (so every column holds what the service writes),
//! with its own device id, owner and key id. Key k (1-based) belongs to seeded user
//! `(k - 1) % users + 1`, on its own device: one Hello key per user per device, as the
//! schema requires. All share the model's RSA-2048 public key and device certificate; they
//! are never signed in with. Ids are GUID-shaped device ids and 64-hex key ids as the
//! service makes them, in a scattered order (an odd multiplier modulo 2^32 ahead of k),
//! the same on both backends. Then `ANALYZE` (PostgreSQL: `VACUUM (ANALYZE)`).

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use latchkey_e2e::World;
use latchkey_proto::api::key;
use latchkey_proto::proof::Purpose;
use sqlx::Connection;

use crate::client::Api;
use crate::database::{Backend, Db};
use crate::enrol;
use crate::sim::{DeviceKeyKind, SimDevice};

/// Devices (and as many keys) per batch: one transaction of two statements.
const BATCH: u64 = 20_000;
/// The most users the `seedNNNNNNN` names (seven digits) can tell apart.
pub const MAX_USERS: usize = 9_999_999;
/// The most keys seeded (so that k times the multiplier stays within 64 bits).
pub const MAX_KEYS: usize = 100_000_000;

/// Refuses counts the seeding cannot name or number, before anything starts.
pub fn check(users: usize, keys: usize) -> Result<()> {
    if users > MAX_USERS {
        bail!("--seed-users {users}: at most {MAX_USERS} (seven-digit names)");
    }
    if keys > MAX_KEYS {
        bail!("--seed-keys {keys}: at most {MAX_KEYS}");
    }
    if keys > 0 && users == 0 {
        bail!("--seed-keys needs --seed-users: the seeded keys belong to the seeded users");
    }
    Ok(())
}

/// Everything `--seed-users` and `--seed-keys` ask for, then `ANALYZE`: the users through
/// `latchkeyd user import`, then (with a model device of `owner`, a bench user and its
/// enrolment token) the devices and keys. Returns the notes lines, none when nothing is
/// seeded.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    backend: &Backend,
    world: &World,
    api: &Api,
    tid: &str,
    owner: (&str, &str),
    kind: DeviceKeyKind,
    users: usize,
    keys: usize,
) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    if users == 0 && keys == 0 {
        return Ok(notes);
    }
    if users > 0 {
        let note = import_users(world, users)?;
        eprintln!("{note}");
        notes.push(note);
    }
    let mut db = backend.connect(world).await?;
    if keys > 0 {
        let model = model(api, tid, owner.0, owner.1, kind).await?;
        let note = seed_keys(&mut db, tid, &model, users, keys).await?;
        eprintln!("{note}");
        notes.push(note);
    }
    let (what, took) = analyze(&mut db).await?;
    notes.push(format!(
        "seeding: {what} of the whole database in {:.1} s; the {} database is now {}",
        took.as_secs_f64(),
        backend.name(),
        db.size(world).await?
    ));
    Ok(notes)
}

/// The seeded user numbered `n` (1-based): its UPN.
fn upn(n: usize) -> String {
    format!("seed{n:07}@example.com")
}

/// Writes `n` passwordless users as CSV into a temporary directory and imports them with
/// `latchkeyd user import` (timed). Returns the notes line.
pub fn import_users(world: &World, n: usize) -> Result<String> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("users.csv");
    let t0 = Instant::now();
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
    writeln!(out, "upn,display_name,password_hash")?;
    for i in 1..=n {
        writeln!(out, "{},Seed User {i:07},", upn(i))?;
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    let written = t0.elapsed();
    let file = path.display().to_string();
    let t0 = Instant::now();
    let done = world.admin(&["user", "import", &file, "--json"], "");
    let took = t0.elapsed();
    if done.code != 0 {
        bail!(
            "`latchkeyd user import` failed (exit {}):\n{}{}",
            done.code,
            done.stdout,
            done.stderr
        );
    }
    let summary: serde_json::Value = serde_json::from_str(&done.stdout)
        .with_context(|| format!("`user import --json` printed {:?}", done.stdout))?;
    let imported = summary["imported"].as_u64();
    if imported != Some(n as u64) {
        bail!("`latchkeyd user import` imported {imported:?} users of {n}: {summary}");
    }
    Ok(format!(
        "seeding: {n} passwordless users imported with `latchkeyd user import` (CSV, {:.1} MB, \
         written in {:.1} s) in {:.1} s = {:.0} users/s",
        std::fs::metadata(&path)?.len() as f64 / 1e6,
        written.as_secs_f64(),
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64().max(1e-9),
    ))
}

/// The device and key every seeded row copies.
pub struct Model {
    device_id: String,
    key_id: String,
}

/// Joins one more simulated device of `upn` and registers its Hello key (untimed): the
/// rows the seeded ones copy.
pub async fn model(
    api: &Api,
    tid: &str,
    upn: &str,
    token: &str,
    kind: DeviceKeyKind,
) -> Result<Model> {
    let dev = SimDevice::generate(upn, kind)?;
    enrol::join(api, tid, &dev, token).await?;
    let nonce = api.nonce(Purpose::RegisterKey).await?;
    let req = enrol::register_request(&dev, &nonce, tid)?;
    let _: key::RegisterKeyResponse = api.post("/v1/keys", &req, Some(token)).await?;
    Ok(Model {
        device_id: dev.id().to_owned(),
        key_id: dev.key_id.clone(),
    })
}

/// The batch statements of one backend: devices, then keys. Parameters: the first k, the
/// k after the last, the tenant, the model's device id or key id, the seeded users.
struct Statements {
    devices: String,
    keys: String,
}

/// The columns every statement copies or makes, with the backend's expressions for the
/// numbers `k` (`n.k`), the scattered prefix `h`, the device id, the key id and the UPN.
fn statements(series: &str, device_id: &str, key_id: &str, owner: &str) -> Statements {
    let owner_join = format!("JOIN users u ON u.tenant_id = t.tenant_id AND u.upn = {owner}");
    Statements {
        devices: format!(
            "{series} INSERT INTO devices (tenant_id, id, display_name, os, join_type, \
             owner_user_id, joined_with_mfa, public_key_spki, cert_pem, cert_thumbprint, \
             disabled, created_at) \
             SELECT t.tenant_id, {device_id}, t.display_name, t.os, t.join_type, u.id, \
             t.joined_with_mfa, t.public_key_spki, t.cert_pem, t.cert_thumbprint, t.disabled, \
             t.created_at FROM n JOIN devices t ON t.tenant_id = $3 AND t.id = $4 {owner_join}"
        ),
        keys: format!(
            "{series} INSERT INTO key_credentials (tenant_id, key_id, user_id, device_id, alg, \
             public_key, usage, attestation, created_at, tpm_manufacturer) \
             SELECT t.tenant_id, {key_id}, u.id, {device_id}, t.alg, t.public_key, t.usage, \
             t.attestation, t.created_at, t.tpm_manufacturer \
             FROM n JOIN key_credentials t ON t.tenant_id = $3 AND t.key_id = $4 {owner_join}"
        ),
    }
}

/// SQLite: the numbers from a recursive CTE, `printf` for the ids.
fn sqlite_statements() -> Statements {
    statements(
        "WITH RECURSIVE n(k) AS (SELECT $1 UNION ALL SELECT k + 1 FROM n WHERE k + 1 < $2)",
        "printf('%08x-5eed-4000-8000-%012x', (n.k * 2654435761) % 4294967296, n.k)",
        "printf('%08x%056x', (n.k * 2654435761) % 4294967296, n.k)",
        "'seed' || printf('%07d', (n.k - 1) % $5 + 1) || '@example.com'",
    )
}

/// PostgreSQL: the numbers from `generate_series`, `to_hex` and `lpad` for the ids.
fn postgres_statements() -> Statements {
    statements(
        "WITH n(k) AS (SELECT generate_series($1::bigint, $2::bigint - 1))",
        "lpad(to_hex((n.k * 2654435761) % 4294967296), 8, '0') || '-5eed-4000-8000-' \
         || lpad(to_hex(n.k), 12, '0')",
        "lpad(to_hex((n.k * 2654435761) % 4294967296), 8, '0') || lpad(to_hex(n.k), 56, '0')",
        "'seed' || lpad(((n.k - 1) % $5 + 1)::text, 7, '0') || '@example.com'",
    )
}

/// Runs one batch (`$range`: the first k and the k after the last) on `$conn` in one
/// transaction and checks that each statement wrote a row per k (a missing seeded user
/// would make the join drop rows silently).
macro_rules! batch {
    ($conn:expr, $sql:expr, $range:expr, $tid:expr, $model:expr, $users:expr) => {{
        let mut tx = $conn.begin().await?;
        for (sql, model) in [
            (&$sql.devices, &$model.device_id),
            (&$sql.keys, &$model.key_id),
        ] {
            let done = sqlx::query(sql.as_str())
                .bind($range.0 as i64)
                .bind($range.1 as i64)
                .bind($tid)
                .bind(model.as_str())
                .bind($users as i64)
                .execute(&mut *tx)
                .await
                .with_context(|| format!("seeding k = {} to {}", $range.0, $range.1 - 1))?;
            if done.rows_affected() != $range.1 - $range.0 {
                bail!(
                    "seeding k = {} to {} wrote {} rows of {} (are the seeded users there?)",
                    $range.0,
                    $range.1 - 1,
                    done.rows_affected(),
                    $range.1 - $range.0
                );
            }
        }
        tx.commit().await?;
    }};
}

/// Seeds `keys` devices and Hello keys over the `users` seeded users (timed), copying
/// `model`, in batches of [`BATCH`]. Returns the notes line.
pub async fn seed_keys(
    db: &mut Db,
    tid: &str,
    model: &Model,
    users: usize,
    keys: usize,
) -> Result<String> {
    if let Db::Postgres(conn) = db {
        // Fresh statistics of the imported users, so that the planner looks each owner up
        // by its UPN instead of hashing the whole table per batch.
        sqlx::query("ANALYZE users").execute(&mut *conn).await?;
    }
    let (sqlite, postgres) = (sqlite_statements(), postgres_statements());
    let t0 = Instant::now();
    let total = keys as u64;
    let mut first = 1u64;
    let mut reported = 0u64;
    while first <= total {
        let range = (first, (first + BATCH).min(total + 1));
        match db {
            Db::Sqlite(conn) => batch!(conn, sqlite, range, tid, model, users),
            Db::Postgres(conn) => batch!(conn, postgres, range, tid, model, users),
        }
        first = range.1;
        let done = range.1 - 1;
        if done * 10 / total > reported {
            reported = done * 10 / total;
            eprintln!(
                "seeded {done} of {total} devices and Hello keys in {:.1} s",
                t0.elapsed().as_secs_f64()
            );
        }
    }
    let took = t0.elapsed();
    Ok(format!(
        "seeding: {keys} devices and {keys} Hello keys ({:.1} per seeded user, each on its own \
         device; copies of the rows of one more device of the first bench user, joined and \
         registered through the API) written with SQL in batches \
         of {BATCH} in {:.1} s = {:.0} keys/s",
        keys as f64 / users as f64,
        took.as_secs_f64(),
        keys as f64 / took.as_secs_f64().max(1e-9),
    ))
}

/// Brings the statistics up to date after the seeding (timed): `ANALYZE` on SQLite;
/// `VACUUM (ANALYZE)` on PostgreSQL, which also sets the visibility map and hint bits of
/// the new rows, so that autovacuum does not start on them during the measured phases.
/// Returns what ran and how long it took.
pub async fn analyze(db: &mut Db) -> Result<(&'static str, Duration)> {
    let t0 = Instant::now();
    let what = match db {
        Db::Sqlite(conn) => {
            sqlx::raw_sql("ANALYZE").execute(conn).await?;
            "ANALYZE"
        }
        Db::Postgres(conn) => {
            // Not in a transaction block: VACUUM refuses one.
            sqlx::raw_sql("VACUUM (ANALYZE)").execute(conn).await?;
            "VACUUM (ANALYZE)"
        }
    };
    Ok((what, t0.elapsed()))
}
