//! `latchkeyd audit` arguments.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

/// `audit`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    /// Only entries since this time: RFC 3339 (2025-01-31T08:00:00Z) or a duration ago
    /// (30s, 15m, 1h, 7d).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only entries before this time (RFC 3339 or a duration ago).
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Only entries about this user: lines the user wrote (the actor), and administrators'
    /// lines about the user.
    #[arg(long, value_name = "UPN")]
    pub user: Option<String>,
    /// Only entries naming this device.
    #[arg(long, value_name = "ID")]
    pub device: Option<String>,
    /// Only this event (e.g. signin), or events starting with a prefix ending in `*`
    /// (user_*).
    #[arg(long, value_name = "EVENT")]
    pub event: Option<String>,
    /// Only this outcome: success, failure or aggregated.
    #[arg(long, value_name = "OUTCOME")]
    pub outcome: Option<String>,
    /// At most this many entries (the newest ones).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: Option<u32>,
    /// Output: a table that fits 80 columns, JSON lines, or CSV (RFC 4180).
    #[arg(long, value_enum, default_value = "table")]
    pub format: AuditFormat,
    /// In the table, a second line per entry with the device, key, source and reason.
    #[arg(long)]
    pub details: bool,
    /// `audit export`, `audit show`.
    #[command(subcommand)]
    pub action: Option<AuditCommand>,
}

/// `audit --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    /// Aligned columns for people (80 columns; `--details` for the rest).
    Table,
    /// One JSON object per line, with its id (`seq`).
    Jsonl,
    /// Comma-separated values with a header line.
    Csv,
}

/// `audit ...`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Write the lines older than a time to a new file as JSON lines (and optionally
    /// delete exactly those lines from the database afterwards).
    Export {
        /// Lines before this time: RFC 3339 or a duration ago (90d).
        #[arg(long, value_name = "WHEN")]
        before: String,
        /// The file to create (refused if it exists).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Then delete the exported lines from the database.
        #[arg(long)]
        prune: bool,
    },
    /// Show every field of one entry (its ID from the table).
    Show {
        /// The entry's id.
        id: i64,
    },
}
