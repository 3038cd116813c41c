//! Bulk user import (`latchkeyd user import`): many users in one transaction, added in
//! batches so that memory stays bounded whatever the size of the file.
//!
//! An import is one operation like every other: [`UserImport::commit`] makes every user
//! of every batch visible at once, with one audit line; dropping the import without
//! committing (a bad line further on, an error, a killed process) leaves nothing behind.
//! A UPN that exists already, or that an earlier batch of the same import holds, is a
//! [`StorageError::Conflict`] naming it; the import is then spent and must be dropped.

use std::borrow::Cow;
use std::collections::HashSet;

use async_trait::async_trait;
use sqlx::query::Query;
use sqlx::Database;

use sqlx::Row;

use crate::rows::{bind_row, PortableDb, RowValue, ToRow, INSERT_AUDIT, USER_COLUMNS};
use crate::{AuditRecord, StorageError, StorageResult, User};

/// The most users one batch statement inserts: 8 values each and the tenant, well under
/// SQLite's and PostgreSQL's limits on bound values per statement.
pub const MAX_BATCH: usize = 500;

/// An import in progress: an open write transaction of the backend.
#[async_trait]
pub trait UserImport: Send {
    /// Inserts `users` (at most [`MAX_BATCH`]). A UPN that is taken (by an existing user or
    /// an earlier batch of this import) is a `Conflict` naming the first one; the import
    /// must then be dropped (nothing is kept).
    async fn add(&mut self, users: &[User]) -> StorageResult<()>;
    /// Writes `audit` and commits: every user added becomes visible at once. Returns how
    /// many users were added.
    async fn commit(self: Box<Self>, audit: &AuditRecord) -> StorageResult<u64>;
}

/// The statement that inserts `rows` users of one tenant (`$1`) and returns the UPN of
/// each one inserted; a row whose UPN is taken is skipped, which the caller finds by
/// comparing what came back with what it sent (the same SQL on SQLite and PostgreSQL).
pub fn insert_users_sql(rows: usize) -> String {
    let columns = USER_COLUMNS.split(',').count();
    let mut sql = format!("INSERT INTO users (tenant_id, {USER_COLUMNS}) VALUES ");
    let mut next = 2;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push_str("($1");
        for _ in 0..columns {
            sql.push_str(&format!(", ${next}"));
            next += 1;
        }
        sql.push(')');
    }
    sql.push_str(" ON CONFLICT DO NOTHING RETURNING upn");
    sql
}

/// Binds the tenant and `users` to a statement of [`insert_users_sql`]`(users.len())`.
pub fn bind_users<'q, DB: PortableDb>(
    query: Query<'q, DB, <DB as Database>::Arguments<'q>>,
    tenant: &'q str,
    users: &'q [User],
) -> Query<'q, DB, <DB as Database>::Arguments<'q>> {
    let query = DB::bind_value(query, RowValue::Text(Cow::Borrowed(tenant)));
    users
        .iter()
        .fold(query, |query, user| bind_row(query, user.row()))
}

/// The first of `users` that was not inserted, judged by the UPNs the statement returned
/// (`inserted`): one whose UPN is not among them, or the second of a UPN the batch holds
/// twice. `None` when every user was inserted.
pub fn first_not_inserted<'a>(users: &'a [User], inserted: &[String]) -> Option<&'a str> {
    if inserted.len() == users.len() {
        return None;
    }
    let inserted: HashSet<&str> = inserted.iter().map(String::as_str).collect();
    let mut seen = HashSet::with_capacity(users.len());
    users
        .iter()
        .map(|u| u.upn.as_str())
        .find(|upn| !inserted.contains(upn) || !seen.insert(*upn))
}

/// The import both backends run: their write transaction (and, on SQLite, the guard of
/// the process's write gate), batches inserted with [`insert_users_sql`].
pub struct BatchImport<DB: Database, G> {
    tx: sqlx::Transaction<'static, DB>,
    tenant: String,
    added: u64,
    spent: bool,
    _guard: G,
}

impl<DB: Database, G> BatchImport<DB, G> {
    /// An import in the open transaction `tx`, holding `guard` until it ends.
    pub fn new(tx: sqlx::Transaction<'static, DB>, tenant: &str, guard: G) -> Self {
        BatchImport {
            tx,
            tenant: tenant.to_owned(),
            added: 0,
            spent: false,
            _guard: guard,
        }
    }
}

#[async_trait]
impl<DB, G> UserImport for BatchImport<DB, G>
where
    DB: PortableDb,
    G: Send + Sync,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    String: for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    async fn add(&mut self, users: &[User]) -> StorageResult<()> {
        if self.spent {
            return Err(StorageError::ImportSpent);
        }
        if users.is_empty() {
            return Ok(());
        }
        if users.len() > MAX_BATCH {
            return Err(StorageError::BatchTooLarge(users.len()));
        }
        self.spent = true;
        let sql = insert_users_sql(users.len());
        let rows = bind_users(sqlx::query::<DB>(&sql), &self.tenant, users)
            .fetch_all(&mut *self.tx)
            .await?;
        let inserted = rows
            .iter()
            .map(|row| row.try_get::<String, _>(0))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(upn) = first_not_inserted(users, &inserted) {
            return Err(StorageError::Conflict(format!("user {upn}")));
        }
        self.spent = false;
        self.added += users.len() as u64;
        Ok(())
    }

    async fn commit(mut self: Box<Self>, audit: &AuditRecord) -> StorageResult<u64> {
        if self.spent {
            return Err(StorageError::ImportSpent);
        }
        let query = DB::bind_value(
            sqlx::query::<DB>(INSERT_AUDIT),
            RowValue::Text(Cow::Borrowed(&self.tenant)),
        );
        bind_row(query, audit.row()).execute(&mut *self.tx).await?;
        let added = self.added;
        self.tx.commit().await?;
        Ok(added)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statement_numbers_every_value_once_after_the_tenant() {
        let sql = insert_users_sql(2);
        assert!(sql.contains("($1, $2, $3, $4, $5, $6, $7, $8, $9), ($1, $10,"));
        assert!(sql.contains("$17)"));
        assert!(!sql.contains("$18"));
        assert!(sql.ends_with("ON CONFLICT DO NOTHING RETURNING upn"));
    }

    fn user(upn: &str) -> User {
        User {
            id: upn.to_owned(),
            upn: upn.to_owned(),
            display_name: upn.to_owned(),
            password_hash: String::new(),
            totp_secret: Vec::new(),
            last_totp_step: None,
            disabled: false,
            created_at: 0,
        }
    }

    #[test]
    fn the_first_upn_not_returned_is_the_conflict() {
        let users = [user("a@x"), user("b@x"), user("c@x")];
        let all: Vec<String> = users.iter().map(|u| u.upn.clone()).collect();
        assert_eq!(first_not_inserted(&users, &all), None);
        let some = vec!["a@x".to_owned(), "c@x".to_owned()];
        assert_eq!(first_not_inserted(&users, &some), Some("b@x"));
        let twice = [user("a@x"), user("b@x"), user("a@x")];
        let returned = vec!["a@x".to_owned(), "b@x".to_owned()];
        assert_eq!(first_not_inserted(&twice, &returned), Some("a@x"));
    }
}
