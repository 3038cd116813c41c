//! Settings: the configuration file, `LATCHKEY_*` variables and flags, merged in that order
//! (a flag beats a variable, a variable beats the file, the file beats the built-in default).
//!
//! The file is `--config FILE` (or `LATCHKEY_CONFIG`), else [`DEFAULT_CONFIG`] when it
//! exists, else none. docs/configuration.md lists every key.

pub mod check;
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

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("log format must be text or json, not {other:?}")),
        }
    }
}

impl std::fmt::Display for LogFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        })
    }
}

/// The settings every command uses.
#[derive(Debug)]
pub struct Common {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The key file, when one is named (else the systemd credential or DIR/secrets.key).
    pub key_file: Option<PathBuf>,
    /// Log format.
    #[allow(dead_code)] // read by the logging set-up once it takes a format
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
    let file_format = file
        .log
        .format
        .as_deref()
        .map(str::parse::<LogFormat>)
        .transpose()
        .map_err(|e| coded(ErrorCode::ConfigValueInvalid, format!("[log] format: {e}")))?;
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
        log_format,
        log_level,
    })
}
