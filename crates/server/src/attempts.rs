//! The failed sign-in throttling the service runs: in memory ([`RateLimiter`]) for one
//! process on SQLite, in the database ([`AttemptStorage`]) for replicas that share a
//! PostgreSQL database, so that a burst spread over the replicas gets no more tries than
//! one replica allows. Both keep the same budgets ([`LIMITS`]).

use std::sync::Arc;

use crate::ratelimit::{
    RateLimiter, Reservation, FAMILIAR_PER_USER, FAMILIAR_SECS, PER_PAIR, PER_SOURCE,
    PER_USER_UNFAMILIAR, WINDOW_SECS,
};
use crate::storage::attempts::{AttemptEnd, AttemptId, AttemptLimits};
use crate::storage::{AttemptStorage, StorageResult};

/// The budgets of [`crate::ratelimit`], for the database's throttling.
pub const LIMITS: AttemptLimits = AttemptLimits {
    per_pair: PER_PAIR as i64,
    per_source: PER_SOURCE as i64,
    per_user_unfamiliar: PER_USER_UNFAMILIAR as i64,
    window_secs: WINDOW_SECS,
    familiar_secs: FAMILIAR_SECS,
    familiar_per_user: FAMILIAR_PER_USER as i64,
};

/// Where the attempts are counted.
pub enum Limiter {
    /// In this process.
    Local(RateLimiter),
    /// In the database every replica shares, for this tenant.
    Shared {
        /// The attempts' storage.
        storage: Arc<dyn AttemptStorage>,
        /// The tenant.
        tenant: String,
    },
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Limiter::Local(local) => f.debug_tuple("Local").field(local).finish(),
            Limiter::Shared { tenant, .. } => {
                f.debug_struct("Shared").field("tenant", tenant).finish()
            }
        }
    }
}

/// An attempt in flight: [`Attempt::failed`] counts it as a failure,
/// [`Attempt::succeeded`] releases it; dropped otherwise, it is released.
#[derive(Debug)]
pub enum Attempt {
    /// Counted in this process.
    Local(Reservation),
    /// Counted in the database.
    Shared(SharedAttempt),
}

/// An attempt counted in the database.
pub struct SharedAttempt {
    storage: Arc<dyn AttemptStorage>,
    tenant: String,
    id: AttemptId,
    done: bool,
}

impl std::fmt::Debug for SharedAttempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedAttempt")
            .field("id", &self.id.id)
            .finish()
    }
}

impl Limiter {
    /// Takes a reservation for an attempt by `upn` from `source` at `now`; `None` when a
    /// budget is spent (LK-AUTH-003).
    pub async fn reserve(
        &self,
        upn: &str,
        source: &str,
        now: i64,
    ) -> StorageResult<Option<Attempt>> {
        match self {
            Limiter::Local(local) => Ok(local.reserve(upn, source, now).ok().map(Attempt::Local)),
            Limiter::Shared { storage, tenant } => Ok(storage
                .reserve_attempt(tenant, upn, source, now, &LIMITS)
                .await?
                .map(|id| {
                    Attempt::Shared(SharedAttempt {
                        storage: storage.clone(),
                        tenant: tenant.clone(),
                        id,
                        done: false,
                    })
                })),
        }
    }

    /// Whether `source` is familiar for `upn` at `now`.
    pub async fn is_familiar(&self, upn: &str, source: &str, now: i64) -> StorageResult<bool> {
        match self {
            Limiter::Local(local) => Ok(local.is_familiar(upn, source, now)),
            Limiter::Shared { storage, tenant } => {
                storage.is_familiar(tenant, upn, source, now, &LIMITS).await
            }
        }
    }
}

impl Attempt {
    /// The attempt failed (wrong password or code) at `now`.
    pub async fn failed(self, now: i64) {
        match self {
            Attempt::Local(r) => r.failed(now),
            Attempt::Shared(s) => s.finish(AttemptEnd::Failed(now)).await,
        }
    }

    /// The attempt succeeded at `now`: released, the pair's failures forgotten, and the
    /// source remembered as familiar for the user.
    pub async fn succeeded(self, now: i64) {
        match self {
            Attempt::Local(r) => r.succeeded(now),
            Attempt::Shared(s) => s.finish(AttemptEnd::Succeeded(now)).await,
        }
    }
}

impl SharedAttempt {
    async fn finish(mut self, end: AttemptEnd) {
        self.done = true;
        if let Err(e) = self
            .storage
            .finish_attempt(&self.tenant, &self.id, end, &LIMITS)
            .await
        {
            // The reservation keeps counting until the window ends; nothing else is lost.
            tracing::warn!(error = %e, "a sign-in attempt could not be ended in the database");
        }
    }
}

impl Drop for SharedAttempt {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // Released in the background (the request that held it is gone).
        let (storage, tenant, id) = (self.storage.clone(), self.tenant.clone(), self.id.clone());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = storage
                    .finish_attempt(&tenant, &id, AttemptEnd::Released, &LIMITS)
                    .await;
            });
        }
    }
}
