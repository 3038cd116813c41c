//! Searching the audit trail for `latchkeyd audit`: by time (the `audit_by_time` index),
//! user, device, event and outcome, newest entries kept when a limit applies.

use sqlx::QueryBuilder;

use super::SqliteStorage;
use latchkey_storage::{AuditRecord, StorageResult};

/// What `audit_search` selects; `None` fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Entries at or after this time (Unix seconds).
    pub since: Option<i64>,
    /// Entries before this time (Unix seconds).
    pub until: Option<i64>,
    /// Entries whose actor is this UPN, or whose note is exactly this UPN (administrators'
    /// lines about the user).
    pub user: Option<String>,
    /// Entries naming this device.
    pub device: Option<String>,
    /// This event, or, ending in `*`, events starting with what precedes it.
    pub event: Option<String>,
    /// This outcome.
    pub outcome: Option<String>,
    /// At most this many entries: the newest.
    pub limit: Option<u32>,
}

/// One audit entry with its id (the sequence number).
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditEntry {
    /// The entry's id (`latchkeyd audit show ID`).
    pub seq: i64,
    /// The line.
    #[serde(flatten)]
    pub record: AuditRecord,
}

type Row = (
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
);

fn entry(r: Row) -> AuditEntry {
    AuditEntry {
        seq: r.0,
        record: AuditRecord {
            at: r.1,
            event: r.2,
            actor: r.3,
            device_id: r.4,
            key_id: r.5,
            source: r.6,
            outcome: r.7,
            reason: r.8,
        },
    }
}

const COLUMNS: &str =
    "SELECT seq, at, event, actor, device_id, key_id, source, outcome, reason FROM audit";

impl SqliteStorage {
    /// The entries `filter` selects, oldest first.
    pub async fn audit_search(
        &self,
        tenant: &str,
        filter: &AuditFilter,
    ) -> StorageResult<Vec<AuditEntry>> {
        let mut q = QueryBuilder::new(COLUMNS);
        q.push(" WHERE tenant_id = ").push_bind(tenant.to_owned());
        if let Some(since) = filter.since {
            q.push(" AND at >= ").push_bind(since);
        }
        if let Some(until) = filter.until {
            q.push(" AND at < ").push_bind(until);
        }
        if let Some(user) = &filter.user {
            q.push(" AND (actor = ")
                .push_bind(user.clone())
                .push(" OR reason = ")
                .push_bind(user.clone())
                .push(")");
        }
        if let Some(device) = &filter.device {
            q.push(" AND device_id = ").push_bind(device.clone());
        }
        match filter.event.as_deref().map(|e| (e.strip_suffix('*'), e)) {
            Some((Some(prefix), _)) => {
                // A prefix match without LIKE's wildcards: substr compares exactly.
                q.push(" AND substr(event, 1, ")
                    .push_bind(i64::try_from(prefix.len()).unwrap_or(i64::MAX))
                    .push(") = ")
                    .push_bind(prefix.to_owned());
            }
            Some((None, exact)) => {
                q.push(" AND event = ").push_bind(exact.to_owned());
            }
            None => {}
        }
        if let Some(outcome) = &filter.outcome {
            q.push(" AND outcome = ").push_bind(outcome.clone());
        }
        q.push(" ORDER BY seq DESC");
        if let Some(limit) = filter.limit {
            q.push(" LIMIT ").push_bind(i64::from(limit));
        }
        let rows: Vec<Row> = q.build_query_as().fetch_all(&self.pool).await?;
        let mut entries: Vec<AuditEntry> = rows.into_iter().map(entry).collect();
        entries.reverse();
        Ok(entries)
    }

    /// One entry by its id.
    pub async fn audit_entry(&self, tenant: &str, seq: i64) -> StorageResult<Option<AuditEntry>> {
        let row: Option<Row> =
            sqlx::query_as(&format!("{COLUMNS} WHERE tenant_id = $1 AND seq = $2"))
                .bind(tenant)
                .bind(seq)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(entry))
    }
}
