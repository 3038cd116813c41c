//! Failed sign-in throttling kept in the database, for replicas that share one: every
//! replica counts the same attempts, so a burst spread over replicas gets no more tries
//! than one replica allows. (One process on SQLite keeps these counters in memory.)
//!
//! The rules are those of the service's in-memory limiter: an attempt takes a
//! reservation that counts at once; a failure keeps counting for the window; a success
//! releases it, forgets the failures of its (user, source) pair and makes the source
//! familiar for the user. Budgets are per (user, source), per source, and per user over
//! unfamiliar sources only.

use async_trait::async_trait;

use crate::StorageResult;

/// The budgets and windows, as the service sets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptLimits {
    /// Failures and attempts in flight per (user, source) in the window.
    pub per_pair: i64,
    /// Failures and attempts in flight per source in the window.
    pub per_source: i64,
    /// Failures and attempts in flight per user from unfamiliar sources in the window.
    pub per_user_unfamiliar: i64,
    /// The window, in seconds.
    pub window_secs: i64,
    /// How long a source stays familiar after a successful sign-in from it.
    pub familiar_secs: i64,
    /// Familiar sources kept per user (the most recent).
    pub familiar_per_user: i64,
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptEnd {
    /// A wrong password or code at this time: it keeps counting for the window.
    Failed(i64),
    /// A successful sign-in at this time.
    Succeeded(i64),
    /// Neither (an internal error, a client that went away): it stops counting.
    Released,
}

/// A reservation: what [`AttemptStorage::finish_attempt`] ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptId {
    /// The attempt row.
    pub id: i64,
    /// The user name of the attempt.
    pub upn: String,
    /// The source address of the attempt.
    pub source: String,
}

/// Sign-in attempts shared by every process on the database.
#[async_trait]
pub trait AttemptStorage: Send + Sync + 'static {
    /// Counts an attempt by `upn` from `source` at `now`, unless one of its budgets is
    /// spent (`None`). Concurrent reservations for the same user or source are ordered, so
    /// no budget is exceeded however many processes reserve at once.
    async fn reserve_attempt(
        &self,
        tenant: &str,
        upn: &str,
        source: &str,
        now: i64,
        limits: &AttemptLimits,
    ) -> StorageResult<Option<AttemptId>>;
    /// Ends a reservation (see [`AttemptEnd`]); ending one twice changes nothing.
    async fn finish_attempt(
        &self,
        tenant: &str,
        attempt: &AttemptId,
        end: AttemptEnd,
        limits: &AttemptLimits,
    ) -> StorageResult<()>;
    /// Whether `source` is familiar for `upn` at `now`.
    async fn is_familiar(
        &self,
        tenant: &str,
        upn: &str,
        source: &str,
        now: i64,
        limits: &AttemptLimits,
    ) -> StorageResult<bool>;
    /// Deletes attempts that stopped counting before `before` and familiar sources that
    /// stopped being familiar; returns how many rows.
    async fn prune_attempts(
        &self,
        tenant: &str,
        now: i64,
        limits: &AttemptLimits,
    ) -> StorageResult<u64>;
}
