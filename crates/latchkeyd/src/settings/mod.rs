//! Settings: the configuration file, `LATCHKEY_*` variables and flags, merged in that order
//! (a flag beats a variable, a variable beats the file, the file beats the built-in default).
//!
//! The file is `--config FILE` (or `LATCHKEY_CONFIG`), else [`DEFAULT_CONFIG`] when it
//! exists, else none. docs/configuration.md lists every key.

pub mod check;
pub mod database;
pub mod duration;
pub mod file;
mod report;
pub mod serve;

use std::path::{Path, PathBuf};

use latchkey_proto::ErrorCode;

use crate::coded;
pub use file::ConfigFile;
pub use report::Report;
pub use serve::serve_config;

/// The configuration file read when no `--config` is given, if it exists.
pub const DEFAULT_CONFIG: &str = "/etc/latchkey/latchkeyd.toml";

/// The configuration file in use, if any, and what it says.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Its path (`None`: no file, every setting from flags, variables and defaults).
    pub path: Option<PathBuf>,
    /// Its contents.
    pub file: ConfigFile,
}

/// Reads `explicit` (`--config`), or [`DEFAULT_CONFIG`] when that exists, or nothing.
pub fn load(explicit: Option<&Path>) -> anyhow::Result<Loaded> {
    let path = match explicit {
        Some(path) => path.to_path_buf(),
        None if Path::new(DEFAULT_CONFIG).exists() => PathBuf::from(DEFAULT_CONFIG),
        None => return Ok(Loaded::default()),
    };
    let file = file::read(&path).map_err(|e| {
        let code = match e {
            file::FileError::Invalid { .. } => ErrorCode::ConfigInvalid,
            _ => ErrorCode::ConfigUnreadable,
        };
        coded(code, e.to_string())
    })?;
    Ok(Loaded {
        path: Some(path),
        file,
    })
}

pub use crate::logging::LogFormat;

/// The settings every command uses.
#[derive(Debug)]
pub struct Common {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The key file, when one is named (else the systemd credential or DIR/secrets.key).
    pub key_file: Option<PathBuf>,
    /// Where the directory is stored: SQLite in the data directory, or PostgreSQL.
    pub database: latchkey_server::storage::Database,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter from the file (`RUST_LOG` wins over it).
    pub log_level: Option<String>,
}

/// Flag or variable values of the settings every command uses (`None`: not given).
#[derive(Debug, Default)]
pub struct CommonOverrides {
    /// `--data-dir` / `LATCHKEY_DATA_DIR`.
    pub data_dir: Option<PathBuf>,
    /// `--key-file` / `LATCHKEY_KEY_FILE`.
    pub key_file: Option<PathBuf>,
    /// `--log-format` / `LATCHKEY_LOG_FORMAT`.
    pub log_format: Option<LogFormat>,
    /// `--database` / `LATCHKEY_DATABASE_URL`.
    pub database: Option<String>,
    /// `--database-max-connections` / `LATCHKEY_DATABASE_MAX_CONNECTIONS`.
    pub database_max_connections: Option<u32>,
}

/// Merges the settings every command uses, recording each in `report`.
pub fn common(
    over: CommonOverrides,
    file: &ConfigFile,
    report: &mut Report,
) -> anyhow::Result<Common> {
    let data_dir = report.pick(
        "",
        "data_dir",
        over.data_dir,
        file.data_dir.clone(),
        PathBuf::from(latchkey_server::config::DEFAULT_DATA_DIR),
    );
    let key_file = report.pick_optional("", "key_file", over.key_file, file.key_file.clone());
    let database = database::pick(
        over.database,
        over.database_max_connections,
        file.database.clone(),
        file.database_max_connections,
        report,
    )?;
    let file_format = file
        .log
        .format
        .as_deref()
        .map(|f| {
            <LogFormat as clap::ValueEnum>::from_str(f, false).map_err(|_| {
                coded(
                    ErrorCode::ConfigValueInvalid,
                    format!("[log] format must be text or json, not {f:?}"),
                )
            })
        })
        .transpose()?;
    let log_format = report.pick(
        "log",
        "format",
        over.log_format,
        file_format,
        LogFormat::Text,
    );
    let log_level = file.log.level.clone();
    if let Some(level) = &log_level {
        tracing_subscriber::EnvFilter::try_new(level).map_err(|e| {
            coded(
                ErrorCode::ConfigValueInvalid,
                format!("[log] level {level:?} is not a log filter (such as \"info\" or \"info,latchkey_server=debug\"): {e}"),
            )
        })?;
    }
    report.pick_optional("log", "level", None::<String>, log_level.clone());
    Ok(Common {
        data_dir,
        key_file,
        database,
        log_format,
        log_level,
    })
}
