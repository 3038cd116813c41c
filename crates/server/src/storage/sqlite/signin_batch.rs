//! Group commit for the sign-in write: one writer task takes every sign-in waiting for the
//! database and writes them in one transaction, one round trip to SQLite.
//!
//! Under load many sign-ins finish their checks while the previous write is in progress;
//! writing them together costs little more than writing one, so throughput grows with load
//! instead of being capped by one transaction per sign-in. A lone sign-in is written at once
//! (nothing waits for company). Rows are guarded exactly as in [`super::signin`]: the token
//! is inserted only if its key is still registered for its user and device and neither is
//! disabled, and the audit line only if the token was inserted. If any nonce in a batch was
//! already used, the batch is rolled back and its sign-ins are written one by one, so each
//! gets its own answer.

use std::collections::HashSet;
use std::sync::Arc;

use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::storage::{AuditRecord, ConsumedNonce, Prt, StorageError, StorageResult};

/// The most sign-ins written in one transaction (23 bound values each, well within SQLite's
/// limit on bound parameters).
pub const MAX_BATCH: usize = 64;

/// How many sign-ins may wait for the writer before callers wait to enqueue.
const QUEUE: usize = 4096;

/// One sign-in's write.
struct Job {
    tenant: String,
    nonce: ConsumedNonce,
    prt: Prt,
    audit: AuditRecord,
    reply: oneshot::Sender<StorageResult<bool>>,
}

/// The handle on the writer task.
#[derive(Debug, Clone)]
pub(super) struct SignInWriter {
    jobs: mpsc::Sender<Job>,
}

impl SignInWriter {
    /// Starts the writer task on the current runtime.
    pub(super) fn spawn(pool: SqlitePool, gate: Arc<Mutex<()>>) -> SignInWriter {
        let (jobs, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(pool, gate, rx));
        SignInWriter { jobs }
    }

    /// Writes one sign-in; `Ok(false)` when the guard refused the token.
    pub(super) async fn write(
        &self,
        tenant: &str,
        nonce: &ConsumedNonce,
        prt: &Prt,
        audit: &AuditRecord,
    ) -> StorageResult<bool> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            tenant: tenant.to_owned(),
            nonce: nonce.clone(),
            prt: prt.clone(),
            audit: audit.clone(),
            reply,
        };
        let stopped = || StorageError::Database(sqlx::Error::PoolClosed);
        self.jobs.send(job).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run(pool: SqlitePool, gate: Arc<Mutex<()>>, mut rx: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let _gate = gate.lock().await;
        let jobs = std::mem::take(&mut batch);
        if jobs.len() > 1 {
            if let Ok(inserted) = write_batch(&pool, &jobs).await {
                for job in jobs {
                    let ok = inserted.contains(&(job.tenant.clone(), job.prt.token_hash.clone()));
                    let _ = job.reply.send(Ok(ok));
                }
                continue;
            }
        }
        // One sign-in, or a batch that failed (a replayed nonce, most likely): one by one.
        for job in jobs {
            let result =
                super::signin::complete(&pool, &job.tenant, &job.nonce, &job.prt, &job.audit).await;
            let _ = job.reply.send(result);
        }
    }
}

/// The batch script for `n` sign-ins (positional `?` parameters, bound in [`write_batch`]).
fn script(n: usize) -> String {
    let rows = |width: usize| {
        let row = format!("({})", vec!["?"; width].join(", "));
        vec![row; n].join(", ")
    };
    format!(
        "BEGIN IMMEDIATE; \
         INSERT INTO used_nonces (tenant_id, nonce_id, expires_at) VALUES {nonces}; \
         INSERT INTO prts (tenant_id, token_hash, user_id, device_id, key_id, issued_at, \
           expires_at, revoked) \
           SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, \
             v.column7, v.column8 FROM (VALUES {prts}) AS v \
           JOIN key_credentials k ON k.tenant_id = v.column1 AND k.key_id = v.column5 \
             AND k.user_id = v.column3 AND k.device_id = v.column4 \
           JOIN devices d ON d.tenant_id = k.tenant_id AND d.id = k.device_id \
           JOIN users u ON u.tenant_id = k.tenant_id AND u.id = k.user_id \
           WHERE d.disabled = 0 AND u.disabled = 0; \
         INSERT INTO audit (tenant_id, at, event, actor, device_id, key_id, source, outcome, \
           reason) \
           SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, \
             v.column7, v.column8, v.column9 FROM (VALUES {audits}) AS v \
           WHERE EXISTS (SELECT 1 FROM prts p WHERE p.tenant_id = v.column1 \
             AND p.token_hash = v.column10); \
         SELECT v.column1, v.column2 FROM (VALUES {hashes}) AS v \
           WHERE EXISTS (SELECT 1 FROM prts p WHERE p.tenant_id = v.column1 \
             AND p.token_hash = v.column2); \
         COMMIT;",
        nonces = rows(3),
        prts = rows(8),
        audits = rows(10),
        hashes = rows(2),
    )
}

/// Writes `jobs` in one transaction; returns the (tenant, token hash) pairs inserted.
async fn write_batch(pool: &SqlitePool, jobs: &[Job]) -> StorageResult<HashSet<(String, String)>> {
    let sql = script(jobs.len());
    let mut query = sqlx::query_as::<_, (String, String)>(&sql);
    for j in jobs {
        query = query
            .bind(&j.tenant)
            .bind(&j.nonce.id)
            .bind(j.nonce.expires_at);
    }
    for j in jobs {
        query = query
            .bind(&j.tenant)
            .bind(&j.prt.token_hash)
            .bind(&j.prt.user_id)
            .bind(&j.prt.device_id)
            .bind(&j.prt.key_id)
            .bind(j.prt.issued_at)
            .bind(j.prt.expires_at)
            .bind(j.prt.revoked);
    }
    for j in jobs {
        let a = &j.audit;
        query = query
            .bind(&j.tenant)
            .bind(a.at)
            .bind(&a.event)
            .bind(&a.actor)
            .bind(&a.device_id)
            .bind(&a.key_id)
            .bind(&a.source)
            .bind(&a.outcome)
            .bind(&a.reason)
            .bind(&j.prt.token_hash);
    }
    for j in jobs {
        query = query.bind(&j.tenant).bind(&j.prt.token_hash);
    }
    let mut conn = pool.acquire().await?;
    match query.fetch_all(&mut *conn).await {
        Ok(rows) => Ok(rows.into_iter().collect()),
        Err(err) => {
            if let Err(e) = sqlx::query("ROLLBACK").execute(&mut *conn).await {
                tracing::debug!(error = %e, "rollback after a failed sign-in batch");
            }
            Err(err.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::script;

    #[test]
    fn the_script_has_one_placeholder_per_bound_value() {
        for n in [1, 2, super::MAX_BATCH] {
            assert_eq!(script(n).matches('?').count(), n * 23);
        }
    }
}
