//! Running a transaction again when PostgreSQL aborts it as a deadlock (`40P01`) or a
//! serialization failure (`40001`): nothing of the aborted attempt was written, so the
//! operation is repeated whole with the same inputs, a bounded number of times.

use latchkey_storage::StorageError;

/// How many times one operation is attempted.
pub const MAX_ATTEMPTS: u32 = 5;

/// Whether `err` is an abort that a new attempt may not meet.
pub fn is_transient(err: &StorageError) -> bool {
    match err {
        StorageError::Database(sqlx::Error::Database(db)) => {
            matches!(db.code().as_deref(), Some("40001") | Some("40P01"))
        }
        _ => false,
    }
}

/// Evaluates `$attempt` (an `async` block that begins, uses and commits its own
/// transaction, returning a `StorageResult`) and awaits it, again while it fails with a
/// transient abort ([`is_transient`]), up to [`MAX_ATTEMPTS`] times.
#[macro_export]
macro_rules! retrying {
    ($attempt:expr) => {{
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            match $attempt.await {
                Err(e)
                    if attempt < $crate::retry::MAX_ATTEMPTS && $crate::retry::is_transient(&e) =>
                {
                    continue
                }
                other => break other,
            }
        }
    }};
}
