//! `latchkeyd config check`: reads the configuration as `serve` would, checks it without
//! starting anything, and prints the effective settings with where each came from.
//!
//! No setting holds a secret: the key-encryption key is named by its path (`key_file`) and
//! never read here, so nothing needs redacting; the key file's presence and mode are
//! checked.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use latchkey_proto::ErrorCode;
use latchkey_server::storage::Database;

use super::{Loaded, Report};
use crate::coded;

/// What `config check` found, besides the settings.
#[derive(Debug, Default)]
pub struct Notes {
    /// Facts worth knowing that do not stop `serve`.
    pub notes: Vec<String>,
}

/// Checks the files the settings name (without reading the key).
pub fn check_paths(
    data_dir: &Path,
    key_file: Option<&Path>,
    database: &Database,
) -> anyhow::Result<Notes> {
    let mut notes = Notes::default();
    notes.notes.push(match database {
        Database::Sqlite => "the database is sqlite, in the data directory".to_owned(),
        Database::Postgres(options) => format!(
            "the database is postgres (pool of {} connections; not contacted by this check); \
             the data directory holds ca.pem and the default key file, which every replica \
             must share",
            options.max_connections
        ),
    });
    match std::fs::metadata(data_dir) {
        Ok(meta) if meta.is_dir() => {
            if *database == Database::Sqlite
                && !data_dir.join(latchkey_server::storage::sqlite::DB_FILE).exists()
            {
                notes.notes.push(format!(
                    "the data directory {} holds no database yet: serve creates the tenant on its first start",
                    data_dir.display()
                ));
            }
        }
        Ok(_) => {
            return Err(coded(
                ErrorCode::ConfigValueInvalid,
                format!("data_dir {} is not a directory", data_dir.display()),
            ))
        }
        Err(_) => notes.notes.push(format!(
            "the data directory {} does not exist: serve creates it (mode 0700) and the tenant on its first start",
            data_dir.display()
        )),
    }
    if let Some(key_file) = key_file {
        let meta = std::fs::metadata(key_file).map_err(|e| {
            coded(
                ErrorCode::ConfigValueInvalid,
                format!("key_file {}: {e}", key_file.display()),
            )
        })?;
        if !meta.is_file() {
            return Err(coded(
                ErrorCode::ConfigValueInvalid,
                format!("key_file {} is not a regular file", key_file.display()),
            ));
        }
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(coded(
                ErrorCode::ConfigValueInvalid,
                format!(
                    "key_file {} is readable by group or others: chmod 600 {}",
                    key_file.display(),
                    key_file.display()
                ),
            ));
        }
    }
    Ok(notes)
}

/// Prints the result of a check.
pub fn print(loaded: &Loaded, report: &Report, notes: &Notes, json: bool) -> anyhow::Result<()> {
    if json {
        let settings: Vec<_> = report
            .lines
            .iter()
            .map(|l| {
                serde_json::json!({
                    "section": l.section,
                    "key": l.key,
                    "value": l.value,
                    "source": format!("{:?}", l.source).to_lowercase(),
                })
            })
            .collect();
        let out = serde_json::json!({
            "file": loaded.path.as_ref().map(|p| p.display().to_string()),
            "settings": settings,
            "notes": notes.notes,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    match &loaded.path {
        Some(path) => println!("# configuration file: {}", path.display()),
        None => println!(
            "# no configuration file ({} does not exist and no --config was given)",
            super::DEFAULT_CONFIG
        ),
    }
    println!("# effective settings (file < LATCHKEY_* variable < flag):");
    print!("{}", report.to_toml());
    for note in &notes.notes {
        println!("# note: {note}");
    }
    println!("# the configuration is valid");
    Ok(())
}
