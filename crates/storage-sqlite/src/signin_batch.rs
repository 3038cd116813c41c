//! Group commit for the hot-path writes, sign-ins and access tokens: one writer thread takes
//! every such write waiting for the database and commits them in one transaction on its own
//! direct connection.
//!
//! Under load many sign-ins finish their checks while the previous write is in progress;
//! writing them together costs little more than writing one (a commit writes the same few
//! index pages whether it holds one sign-in or sixty), so throughput grows with load instead
//! of being capped by one transaction per sign-in. A lone sign-in is written at once; only
//! when the previous batch held more than one, a sign-in of the load that follows, does the
//! writer wait up to [`LINGER`] for more company before it commits.
//!
//! Each sign-in in a batch gets its own answer: its nonce is inserted first, and a nonce
//! already used fails that statement alone (SQLite undoes just the failed statement), so the
//! sign-in is refused as a replay and nothing else of it is written; its token is inserted
//! only if its key is still registered for its user and device and neither is disabled; its
//! audit line only if the token was inserted. An access token's write (`/v1/token`) checks
//! its audience is still registered (else nothing of it is written), then inserts its nonce
//! (a replay fails that statement alone) and its audit line. Any other failure rolls the
//! whole batch back
//! and every sign-in in it gets the error: each commits whole or not at all. Answers are sent
//! after the commit, so no caller hears "stored" for a row that is not.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, TransactionBehavior};
use tokio::sync::{oneshot, Mutex};

use latchkey_storage::audit::{self as cap, MAX_FIELD, MAX_REASON};
use latchkey_storage::{AuditRecord, ConsumedNonce, Prt, StorageError, StorageResult};

/// The most sign-ins written in one transaction.
pub const MAX_BATCH: usize = 64;

/// How long the writer waits for more sign-ins once it has one, when the previous batch
/// showed that the service is under load. Bounded by the requests in flight, the queue needs
/// no bound of its own: each queued sign-in is a request waiting for its answer.
pub const LINGER: Duration = Duration::from_millis(1);

const INSERT_NONCE: &str =
    "INSERT INTO used_nonces (tenant_id, nonce_id, expires_at) VALUES (?1, ?2, ?3)";

/// The token, guarded: only while the key is registered for this user and device and
/// neither the device nor the user is disabled.
const INSERT_PRT: &str = "INSERT INTO prts (tenant_id, token_hash, user_id, device_id, key_id, \
    issued_at, expires_at, revoked) \
    SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 FROM key_credentials k \
    JOIN devices d ON d.tenant_id = k.tenant_id AND d.id = k.device_id \
    JOIN users u ON u.tenant_id = k.tenant_id AND u.id = k.user_id \
    WHERE k.tenant_id = ?1 AND k.key_id = ?5 AND k.user_id = ?3 AND k.device_id = ?4 \
    AND d.disabled = 0 AND u.disabled = 0";

const INSERT_AUDIT: &str = "INSERT INTO audit (tenant_id, at, event, actor, device_id, key_id, \
    source, outcome, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

/// Whether the audience of an access token is registered: a resource or an application.
const AUDIENCE_KNOWN: &str =
    "SELECT EXISTS (SELECT 1 FROM resources WHERE tenant_id = ?1 AND uri = ?2) \
    OR EXISTS (SELECT 1 FROM oidc_clients WHERE tenant_id = ?1 AND client_id = ?2)";

/// What a write stores besides its nonce and audit line.
enum Kind {
    /// A sign-in: its primary refresh token, guarded.
    SignIn(Prt),
    /// An access token for this audience (`None`: the service's own, always known).
    Token(Option<String>),
}

/// One write.
struct Job {
    tenant: String,
    nonce: ConsumedNonce,
    kind: Kind,
    audit: AuditRecord,
    reply: oneshot::Sender<StorageResult<bool>>,
}

/// What the writer thread is sent.
// A flush is sent once, at shutdown: boxing every job instead would allocate per sign-in.
#[allow(clippy::large_enum_variant)]
enum Msg {
    /// A write.
    Job(Job),
    /// Answer once every write sent before this one is committed (or has failed).
    Flush(oneshot::Sender<()>),
}

/// The writer's counts, read by the metrics.
#[derive(Debug, Default)]
pub(super) struct WriterStats {
    /// Writes sent and not yet taken by the writer.
    queued: AtomicU64,
    /// Batches run.
    batches: AtomicU64,
    /// Writes taken.
    writes: AtomicU64,
}

impl WriterStats {
    /// Writes waiting for the writer.
    pub(super) fn queued(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }

    /// Batches run so far.
    pub(super) fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    /// Writes taken so far.
    pub(super) fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }
}

/// The handle on the writer thread; the thread ends when the last handle is dropped.
#[derive(Debug, Clone)]
pub(super) struct SignInWriter {
    jobs: mpsc::Sender<Msg>,
    stats: Arc<WriterStats>,
}

impl SignInWriter {
    /// Opens the writer's connection to the database at `path` and starts its thread.
    /// Batches queue on `gate` with the service's other writers.
    pub(super) fn spawn(path: &Path, gate: Arc<Mutex<()>>) -> StorageResult<SignInWriter> {
        let conn = super::direct::open(path, false)?;
        let (jobs, rx) = mpsc::channel();
        let stats = Arc::new(WriterStats::default());
        let counted = stats.clone();
        std::thread::Builder::new()
            .name("latchkey-signin-writer".into())
            .spawn(move || run(conn, &gate, rx, &counted))
            .map_err(|e| StorageError::Sqlite(format!("starting the sign-in writer: {e}")))?;
        Ok(SignInWriter { jobs, stats })
    }

    /// The writer's counts.
    pub(super) fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// Writes one sign-in; `Ok(false)` when the guard refused the token (the nonce stays
    /// consumed: the request raced a revocation and must be retried with a fresh nonce).
    pub(super) async fn write(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        prt: &Prt,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        self.send(tenant, nonce, Kind::SignIn(prt.clone()), audit)
            .await
    }

    /// Writes one access token's issue; `Ok(false)` when `audience` is no longer registered
    /// (nothing is written, the nonce stays unused).
    pub(super) async fn issue_token(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        audience: Option<&str>,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        let kind = Kind::Token(audience.map(str::to_owned));
        self.send(tenant, nonce, kind, audit).await
    }

    async fn send(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        kind: Kind,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            tenant: tenant.to_owned(),
            nonce: nonce.clone(),
            kind,
            audit: audit.clone(),
            reply,
        };
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        if self.jobs.send(Msg::Job(job)).is_err() {
            self.stats.queued.fetch_sub(1, Ordering::Relaxed);
            return Err(StorageError::WriterStopped);
        }
        answer.await.map_err(|_| StorageError::WriterStopped)?
    }

    /// Returns once every write sent before the call is committed or has failed (at
    /// shutdown, before the database is closed). A writer already stopped has nothing left.
    pub(super) async fn flush(&self) {
        let (reply, done) = oneshot::channel();
        if self.jobs.send(Msg::Flush(reply)).is_ok() {
            let _ = done.await;
        }
    }
}

fn run(mut conn: Connection, gate: &Mutex<()>, rx: mpsc::Receiver<Msg>, stats: &WriterStats) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    let mut under_load = false;
    while let Ok(first) = rx.recv() {
        let mut flushed = None;
        match first {
            Msg::Job(job) => jobs.push(job),
            Msg::Flush(reply) => {
                let _ = reply.send(());
                continue;
            }
        }
        let deadline = under_load.then(|| Instant::now() + LINGER);
        while jobs.len() < MAX_BATCH {
            let next = match deadline {
                Some(deadline) => {
                    rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
                }
                None => rx.try_recv().map_err(|_| mpsc::RecvTimeoutError::Timeout),
            };
            match next {
                Ok(Msg::Job(job)) => jobs.push(job),
                // Commit what came before the flush, then answer it.
                Ok(Msg::Flush(reply)) => {
                    flushed = Some(reply);
                    break;
                }
                Err(_) => break,
            }
        }
        under_load = jobs.len() > 1;
        let taken = u64::try_from(jobs.len()).unwrap_or(u64::MAX);
        stats.queued.fetch_sub(taken, Ordering::Relaxed);
        stats.writes.fetch_add(taken, Ordering::Relaxed);
        stats.batches.fetch_add(1, Ordering::Relaxed);
        let written = {
            let _gate = gate.blocking_lock();
            write_batch(&mut conn, &jobs)
        };
        match written {
            Ok(answers) => {
                for (job, answer) in jobs.drain(..).zip(answers) {
                    let _ = job.reply.send(answer);
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, writes = jobs.len(), "hot-path batch rolled back");
                let message = err.to_string();
                for job in jobs.drain(..) {
                    let _ = job.reply.send(Err(StorageError::Sqlite(message.clone())));
                }
            }
        }
        if let Some(reply) = flushed {
            let _ = reply.send(());
        }
    }
}

/// Writes `jobs` in one transaction; returns each one's answer, in order.
fn write_batch(conn: &mut Connection, jobs: &[Job]) -> rusqlite::Result<Vec<StorageResult<bool>>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut answers = Vec::with_capacity(jobs.len());
    {
        let mut nonce = tx.prepare_cached(INSERT_NONCE)?;
        let mut prt = tx.prepare_cached(INSERT_PRT)?;
        let mut audit = tx.prepare_cached(INSERT_AUDIT)?;
        let mut known = tx.prepare_cached(AUDIENCE_KNOWN)?;
        for j in jobs {
            if let Kind::Token(Some(audience)) = &j.kind {
                // Inside the transaction, so a resource or application removed meanwhile
                // gets no more tokens.
                let registered: bool = known.query_row((&j.tenant, audience), |r| r.get(0))?;
                if !registered {
                    answers.push(Ok(false));
                    continue;
                }
            }
            match nonce.execute((&j.tenant, &j.nonce.id, j.nonce.expires_at)) {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    answers.push(Err(StorageError::NonceReplayed));
                    continue;
                }
                Err(e) => return Err(e),
            }
            let stored = match &j.kind {
                Kind::SignIn(p) => {
                    prt.execute((
                        &j.tenant,
                        &p.token_hash,
                        &p.user_id,
                        &p.device_id,
                        &p.key_id,
                        p.issued_at,
                        p.expires_at,
                        p.revoked,
                    ))? == 1
                }
                Kind::Token(_) => true,
            };
            if stored {
                // Capped as on every other write path, whatever built the line.
                let a = &j.audit;
                audit.execute((
                    &j.tenant,
                    a.at,
                    &a.event,
                    cap::stored(&a.actor, MAX_FIELD),
                    cap::stored(&a.device_id, MAX_FIELD),
                    cap::stored(&a.key_id, MAX_FIELD),
                    cap::stored(&a.source, MAX_FIELD),
                    &a.outcome,
                    cap::stored(&a.reason, MAX_REASON),
                ))?;
            }
            answers.push(Ok(stored));
        }
    }
    tx.commit()?;
    Ok(answers)
}

fn is_unique_violation(err: &rusqlite::Error) -> bool {
    matches!(
        err,
        rusqlite::Error::SqliteFailure(e, _)
            if e.code == ErrorCode::ConstraintViolation
                && (e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
    )
}
