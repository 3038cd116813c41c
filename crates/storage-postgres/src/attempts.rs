//! [`AttemptStorage`] on PostgreSQL: the failed sign-in throttling every replica shares.
//!
//! A reservation takes two transaction-scoped advisory locks, one for the user and one for
//! the source (in a fixed order, so two reservations never wait on each other in a
//! cycle), then counts and inserts: reservations that share a user or a source run one
//! after the other, whichever replica they come from, and each sees the ones before it.
//! A success takes the user's lock too, so it and a concurrent reservation for that user
//! see each other whole.

use async_trait::async_trait;
use sqlx::PgConnection;

use crate::PgStorage;
use latchkey_storage::attempts::{AttemptEnd, AttemptId, AttemptLimits, AttemptStorage};
use latchkey_storage::StorageResult;

/// Locks the user's and the source's throttling for the rest of the transaction.
async fn lock(
    conn: &mut PgConnection,
    tenant: &str,
    upn: Option<&str>,
    source: &str,
) -> StorageResult<()> {
    sqlx::query(
        "SELECT pg_advisory_xact_lock(k) FROM (SELECT hashtextextended(v, 0) AS k \
         FROM unnest(ARRAY[$1::text || ' user ' || $2::text, $1::text || ' source ' || $3::text]) AS v \
         WHERE v IS NOT NULL) AS keys ORDER BY k",
    )
    .bind(tenant)
    .bind(upn)
    .bind(source)
    .execute(conn)
    .await?;
    Ok(())
}

impl PgStorage {
    async fn reserve_once(
        &self,
        tenant: &str,
        upn: &str,
        source: &str,
        now: i64,
        limits: &AttemptLimits,
    ) -> StorageResult<Option<AttemptId>> {
        let mut tx = self.begin().await?;
        lock(&mut tx, tenant, Some(upn), source).await?;
        let since = now - limits.window_secs;
        let (familiar, pair, by_source, by_user): (bool, i64, i64, i64) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM familiar_sources WHERE tenant_id = $1 AND upn = $2 \
               AND source = $3 AND last_success_at > $5), \
             (SELECT COUNT(*) FROM signin_attempts WHERE tenant_id = $1 AND upn = $2 \
               AND source = $3 AND at > $4 AND NOT pair_forgotten), \
             (SELECT COUNT(*) FROM signin_attempts WHERE tenant_id = $1 AND source = $3 \
               AND at > $4), \
             (SELECT COUNT(*) FROM signin_attempts WHERE tenant_id = $1 AND upn = $2 \
               AND unfamiliar AND at > $4)",
        )
        .bind(tenant)
        .bind(upn)
        .bind(source)
        .bind(since)
        .bind(now - limits.familiar_secs)
        .fetch_one(&mut *tx)
        .await?;
        let spent = pair >= limits.per_pair
            || by_source >= limits.per_source
            || (!familiar && by_user >= limits.per_user_unfamiliar);
        if spent {
            return Ok(None);
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO signin_attempts (tenant_id, upn, source, at, unfamiliar) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(tenant)
        .bind(upn)
        .bind(source)
        .bind(now)
        .bind(!familiar)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(AttemptId {
            id,
            upn: upn.to_owned(),
            source: source.to_owned(),
        }))
    }

    async fn succeed_once(
        &self,
        tenant: &str,
        attempt: &AttemptId,
        at: i64,
        limits: &AttemptLimits,
    ) -> StorageResult<()> {
        let mut tx = self.begin().await?;
        lock(&mut tx, tenant, Some(&attempt.upn), &attempt.source).await?;
        let gone = sqlx::query(
            "DELETE FROM signin_attempts WHERE tenant_id = $1 AND id = $2 AND NOT failed",
        )
        .bind(tenant)
        .bind(attempt.id)
        .execute(&mut *tx)
        .await?;
        if gone.rows_affected() == 0 {
            // Ended already.
            return Ok(());
        }
        sqlx::query(
            "UPDATE signin_attempts SET pair_forgotten = TRUE WHERE tenant_id = $1 \
             AND upn = $2 AND source = $3 AND failed AND NOT pair_forgotten",
        )
        .bind(tenant)
        .bind(&attempt.upn)
        .bind(&attempt.source)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO familiar_sources (tenant_id, upn, source, last_success_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, upn, source) \
             DO UPDATE SET last_success_at = GREATEST(familiar_sources.last_success_at, \
             EXCLUDED.last_success_at)",
        )
        .bind(tenant)
        .bind(&attempt.upn)
        .bind(&attempt.source)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        // The most recent sources only.
        sqlx::query(
            "DELETE FROM familiar_sources WHERE tenant_id = $1 AND upn = $2 AND source NOT IN \
             (SELECT source FROM familiar_sources WHERE tenant_id = $1 AND upn = $2 \
              ORDER BY last_success_at DESC, source LIMIT $3)",
        )
        .bind(tenant)
        .bind(&attempt.upn)
        .bind(limits.familiar_per_user)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl AttemptStorage for PgStorage {
    async fn reserve_attempt(
        &self,
        tenant: &str,
        upn: &str,
        source: &str,
        now: i64,
        limits: &AttemptLimits,
    ) -> StorageResult<Option<AttemptId>> {
        retrying!(self.reserve_once(tenant, upn, source, now, limits))
    }

    async fn finish_attempt(
        &self,
        tenant: &str,
        attempt: &AttemptId,
        end: AttemptEnd,
        limits: &AttemptLimits,
    ) -> StorageResult<()> {
        match end {
            AttemptEnd::Failed(at) => {
                sqlx::query(
                    "UPDATE signin_attempts SET failed = TRUE, at = $3 WHERE tenant_id = $1 \
                     AND id = $2 AND NOT failed",
                )
                .bind(tenant)
                .bind(attempt.id)
                .bind(at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }
            AttemptEnd::Released => {
                sqlx::query(
                    "DELETE FROM signin_attempts WHERE tenant_id = $1 AND id = $2 AND NOT failed",
                )
                .bind(tenant)
                .bind(attempt.id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }
            AttemptEnd::Succeeded(at) => {
                retrying!(self.succeed_once(tenant, attempt, at, limits))
            }
        }
    }

    async fn is_familiar(
        &self,
        tenant: &str,
        upn: &str,
        source: &str,
        now: i64,
        limits: &AttemptLimits,
    ) -> StorageResult<bool> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM familiar_sources WHERE tenant_id = $1 AND upn = $2 \
             AND source = $3 AND last_success_at > $4)",
        )
        .bind(tenant)
        .bind(upn)
        .bind(source)
        .bind(now - limits.familiar_secs)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn prune_attempts(
        &self,
        tenant: &str,
        now: i64,
        limits: &AttemptLimits,
    ) -> StorageResult<u64> {
        let attempts = sqlx::query("DELETE FROM signin_attempts WHERE tenant_id = $1 AND at <= $2")
            .bind(tenant)
            .bind(now - limits.window_secs)
            .execute(&self.pool)
            .await?;
        let sources = sqlx::query(
            "DELETE FROM familiar_sources WHERE tenant_id = $1 AND last_success_at <= $2",
        )
        .bind(tenant)
        .bind(now - limits.familiar_secs)
        .execute(&self.pool)
        .await?;
        Ok(attempts.rows_affected() + sources.rows_affected())
    }
}
