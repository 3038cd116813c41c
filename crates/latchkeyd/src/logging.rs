//! Where `latchkeyd` logs: standard error, as text or one JSON object per line, at the
//! level `RUST_LOG` says (default: `info` for `serve`, so the service prints a line per
//! request; `warn` for the administration commands).

use std::io::IsTerminal;

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

/// The log line format (`--log-format`, `LATCHKEY_LOG_FORMAT`; `text` or `json` in a
/// configuration file too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines: time, level, target, message and fields.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `fields` (with `message`),
    /// and the enclosing `span`.
    Json,
}

/// The default level of `serve`.
pub const SERVE_LEVEL: &str = "info";
/// The default level of the administration commands.
pub const ADMIN_LEVEL: &str = "warn";

/// Installs the process's subscriber: `format`, filtered by `RUST_LOG` when it is set and
/// valid, else by `default_level` (an `EnvFilter` directive such as `info` or
/// `warn,latchkey::request=info`; an invalid one falls back to `info`).
pub fn init(format: LogFormat, default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter);
    // A second init (impossible in the binary) is ignored rather than fatal.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().with_current_span(true).try_init(),
    };
}
