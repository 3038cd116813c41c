//! Command-line arguments.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use latchkey_server::config::{DEFAULT_DATA_DIR, DEFAULT_LISTEN};

/// The Latchkey identity service.
#[derive(Debug, Parser)]
#[command(name = "latchkeyd", version, about)]
pub struct Cli {
    /// Data directory (database, ca.pem).
    #[arg(long, global = true, default_value = DEFAULT_DATA_DIR, value_name = "DIR")]
    pub data_dir: PathBuf,
    /// Print JSON instead of tables (admin commands).
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the identity service.
    Serve(ServeArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Show the tenant.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage devices.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Manage Hello keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Show the audit trail.
    Audit(AuditArgs),
}

/// `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on (port 0 picks a free port).
    #[arg(long, default_value = DEFAULT_LISTEN, value_name = "ADDR:PORT")]
    pub listen: SocketAddr,
    /// Serve plain HTTP instead of HTTPS (loopback addresses only).
    #[arg(long)]
    pub insecure_http: bool,
    /// Tenant name, used when the tenant is created on first start.
    #[arg(long, default_value = latchkey_server::tenant::DEFAULT_TENANT_NAME, value_name = "NAME")]
    pub tenant_name: String,
}

/// `user ...`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user with a password and a TOTP secret; prints the otpauth:// URI.
    Add {
        /// User principal name (user@domain).
        upn: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Display name (defaults to the UPN).
        #[arg(long, value_name = "NAME")]
        display_name: Option<String>,
    },
    /// List users.
    List,
    /// Disable a user.
    Disable {
        /// User principal name.
        upn: String,
    },
}

/// `tenant ...`.
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Show the tenant id, name and CA.
    Show,
}

/// `device ...`.
#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// List devices.
    List,
    /// Disable a device (takes effect at once).
    Disable {
        /// Device id.
        id: String,
    },
}

/// `key ...`.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// List Hello keys.
    List {
        /// Only this user's keys.
        #[arg(long, value_name = "UPN")]
        user: Option<String>,
    },
    /// Delete a key (takes effect at once).
    Delete {
        /// Key id (hex).
        key_id: String,
    },
}

/// `audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only entries since this time: RFC 3339 (2025-01-31T08:00:00Z) or a duration ago
    /// (30s, 15m, 1h, 7d).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
}
