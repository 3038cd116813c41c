//! The configuration file's shape: TOML, every key optional, unknown keys refused.
//!
//! ```toml
//! data_dir = "/var/lib/latchkey"
//! key_file = "/etc/latchkey/kek"
//!
//! [serve]
//! listen = "0.0.0.0:8443"
//! public_url = "https://id.contoso.test"
//!
//! [log]
//! format = "json"
//!
//! [connections]
//! idle_timeout = "60s"
//! ```
//!
//! docs/configuration.md lists every key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The most bytes a configuration file may have (a real one is a few hundred).
pub const MAX_FILE_BYTES: u64 = 64 * 1024;

/// A parsed configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The data directory (every command).
    pub data_dir: Option<PathBuf>,
    /// The key file holding the key-encryption key (every command).
    pub key_file: Option<PathBuf>,
    /// `sqlite` (the default) or a `postgres://` URL (every command).
    pub database: Option<String>,
    /// The most PostgreSQL connections one process opens (every command).
    pub database_max_connections: Option<u32>,
    /// `latchkeyd serve`'s settings.
    #[serde(default)]
    pub serve: ServeSection,
    /// Logging.
    #[serde(default)]
    pub log: LogSection,
    /// Connection limits and network timeouts.
    #[serde(default)]
    pub connections: ConnectionsSection,
}

/// `[serve]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeSection {
    /// Address and port to listen on.
    pub listen: Option<SocketAddr>,
    /// Plain HTTP (loopback only).
    pub insecure_http: Option<bool>,
    /// The URL browsers and applications use.
    pub public_url: Option<String>,
    /// The tenant's name when the tenant is created.
    pub tenant_name: Option<String>,
    /// Days audit lines are kept.
    pub audit_retention_days: Option<u32>,
    /// `p256` or `rsa3072`, used when the issuing CA is created.
    pub issuing_ca_algorithm: Option<String>,
    /// Password verifications at once.
    pub password_concurrency: Option<usize>,
    /// How long a sign-in waits for a verification slot (`10s`).
    pub password_wait: Option<String>,
    /// Where to serve Prometheus metrics (plain HTTP); none when unset.
    pub metrics_listen: Option<SocketAddr>,
}

/// `[log]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// `text` or `json`.
    pub format: Option<String>,
    /// A `tracing` filter such as `info` or `info,latchkey_server=debug`; `RUST_LOG` wins.
    pub level: Option<String>,
}

/// `[connections]`: see `latchkey_server::config::ConnectionLimits`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionsSection {
    /// Most connections served at once.
    pub max_connections: Option<usize>,
    /// Extra connections answered 503 when every connection is busy.
    pub reject_slots: Option<usize>,
    /// Time to complete the TLS handshake.
    pub tls_handshake_timeout: Option<String>,
    /// Time to send a request's header section.
    pub header_read_timeout: Option<String>,
    /// Time for a request body to arrive.
    pub body_timeout: Option<String>,
    /// Time an idle connection is kept.
    pub idle_timeout: Option<String>,
    /// Largest header section, in bytes.
    pub max_header_bytes: Option<usize>,
    /// Most header fields.
    pub max_headers: Option<usize>,
    /// Longest request target, in bytes.
    pub max_uri_bytes: Option<usize>,
    /// At shutdown, how long the requests in flight get to finish.
    pub shutdown_timeout: Option<String>,
}

/// Why a configuration file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// It could not be opened or read.
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// It is larger than [`MAX_FILE_BYTES`].
    #[error("the configuration file {path} is larger than {MAX_FILE_BYTES} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// It is not valid TOML, or has a key or value this version does not know.
    #[error("the configuration file {path} is not valid: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The TOML parser's explanation, with the line and column.
        message: String,
    },
}

/// Reads and parses the file at `path`.
pub fn read(path: &Path) -> Result<ConfigFile, FileError> {
    use std::io::Read;
    let read_err = |source| FileError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(read_err)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(FileError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    parse(&text).map_err(|message| FileError::Invalid {
        path: path.to_path_buf(),
        message,
    })
}

/// Parses configuration text; the error is the parser's message (line, column, key).
pub fn parse(text: &str) -> Result<ConfigFile, String> {
    toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_section_parses_and_unknown_keys_are_named() {
        let file = parse(
            "data_dir = \"/var/lib/latchkey\"\n[serve]\nlisten = \"0.0.0.0:8443\"\n\
             insecure_http = false\n[log]\nformat = \"json\"\n[connections]\nidle_timeout = \"5s\"\n",
        )
        .unwrap();
        assert_eq!(
            file.data_dir.as_deref(),
            Some(Path::new("/var/lib/latchkey"))
        );
        assert_eq!(file.serve.listen, Some("0.0.0.0:8443".parse().unwrap()));
        assert_eq!(file.log.format.as_deref(), Some("json"));
        assert_eq!(file.connections.idle_timeout.as_deref(), Some("5s"));

        let err = parse("[serve]\nlisten_address = \"0.0.0.0:1\"\n").unwrap_err();
        assert!(err.contains("listen_address"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        let err = parse("[serve]\nlisten = \"not an address\"\n").unwrap_err();
        assert!(err.contains("listen"), "{err}");
        let err = parse("[serve]\naudit_retention_days = -1\n").unwrap_err();
        assert!(err.contains("audit_retention_days"), "{err}");
        assert!(parse("data_dir = ").is_err());
    }
}
