//! Command-line arguments.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use crate::confirm::ConfirmArgs;

mod audit;
pub use audit::{AuditArgs, AuditCommand, AuditFormat};

/// The Latchkey identity service.
#[derive(Debug, Parser)]
#[command(name = "latchkeyd", version, about)]
pub struct Cli {
    /// The configuration file (TOML; docs/configuration.md). Default:
    /// /etc/latchkey/latchkeyd.toml when it exists. Flags and LATCHKEY_* variables override it.
    #[arg(long, global = true, env = "LATCHKEY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory (database, ca.pem) [default: the file's data_dir, else ./latchkey-data].
    #[arg(long, global = true, env = "LATCHKEY_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The key file holding the key-encryption key that seals the database's secrets.
    /// Default: the systemd credential `latchkey-kek` when the service runs with one
    /// (`LoadCredential=latchkey-kek:PATH`), else DIR/secrets.key (created on first start).
    #[arg(long, global = true, env = "LATCHKEY_KEY_FILE", value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Where the directory is stored: `sqlite` (the default: DIR/latchkey.db) or
    /// postgres://USER[:PASSWORD]@HOST:PORT/DB (TLS with ?sslmode=verify-full and
    /// &sslrootcert=FILE), which several replicas may share; every command uses the same.
    #[arg(long, global = true, env = "LATCHKEY_DATABASE_URL", value_name = "URL")]
    pub database: Option<String>,
    /// The most PostgreSQL connections this process opens [default: 16].
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_DATABASE_MAX_CONNECTIONS",
        value_name = "N"
    )]
    pub database_max_connections: Option<u32>,
    /// Print JSON instead of tables (admin commands).
    #[arg(long, global = true)]
    pub json: bool,
    /// Log line format on standard error: text, or one JSON object per line [default: the
    /// file's [log] format, else text]. The level comes from RUST_LOG, else the file's
    /// [log] level, else info for serve and warn for the other commands.
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_LOG_FORMAT",
        value_enum,
        value_name = "FORMAT"
    )]
    pub log_format: Option<crate::logging::LogFormat>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the identity service.
    Serve(ServeArgs),
    /// Create the data directory and the tenant (what the first `serve` does), print the
    /// tenant and its CA, and exit. Every other admin command needs an existing one.
    Init(InitArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Show or rename the tenant.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage devices.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Manage Hello keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Show the audit trail (filtered; a table, JSON lines or CSV), export it.
    Audit(AuditArgs),
    /// Manage policy: SyncML, Group Policy, the effective policy.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Manage security groups (Group Policy filtering).
    #[command(subcommand)]
    Group(GroupCommand),
    /// Manage administrator API tokens (for POST /v1/policy/syncml).
    #[command(subcommand, name = "admin-token")]
    AdminToken(AdminTokenCommand),
    /// Manage OpenID Connect applications.
    #[command(subcommand)]
    Client(crate::web::ClientCommand),
    /// Manage resources: the audiences access tokens may be issued for (besides the
    /// applications' client ids).
    #[command(subcommand)]
    Resource(crate::resource::ResourceCommand),
    /// Manage FIDO2 security keys and the tenant's settings for them.
    #[command(subcommand, name = "security-key")]
    SecurityKey(crate::web::SecurityKeyCommand),
    /// Manage the TPM manufacturer roots EK certificates must chain to.
    #[command(subcommand, name = "tpm-roots")]
    TpmRoots(crate::tpm_roots::TpmRootsCommand),
    /// The PIN-recovery key that lets users reset a forgotten PIN without a new key.
    #[command(subcommand, name = "pin-recovery")]
    PinRecovery(crate::pin_recovery::PinRecoveryCommand),
    /// Certificate trust: the issuing CA, templates, certificates, revocation, the CRL.
    #[command(subcommand)]
    Cert(crate::cert::CertCommand),
    /// Kerberos PKINIT: the tenant's realm and the files for an MIT KDC.
    #[command(subcommand)]
    Kerberos(crate::kerberos::KerberosCommand),
    /// The configuration file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Move the directory between storage backends.
    #[command(subcommand)]
    Storage(StorageCommand),
}

/// `storage ...`.
#[derive(Debug, Subcommand)]
pub enum StorageCommand {
    /// Copy the tenant of a SQLite data directory into an empty PostgreSQL database, every
    /// row of every table in one transaction (docs/scale.md). Devices keep their keys.
    Copy {
        /// The source: `sqlite:DIR` (a data directory).
        #[arg(long, value_name = "sqlite:DIR")]
        from: String,
        /// The target: `postgres://USER@HOST:PORT/DB` (TLS by `?sslmode=verify-full&sslrootcert=FILE`).
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

/// `config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check the configuration as `serve` would read it (the file, LATCHKEY_* variables and
    /// serve's flags given here) without starting anything, and print the effective
    /// settings with where each came from.
    Check {
        /// serve's settings, as `serve` would take them.
        #[command(flatten)]
        serve: ServeArgs,
    },
}

/// `policy ...`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Apply a SyncML (OMA-DM 1.2) message; prints one line per Status: CmdID, command,
    /// target, status code.
    Apply {
        /// The SyncML file.
        file: PathBuf,
        /// Whose ./User scope the message addresses (default: every user's).
        #[arg(long, value_name = "UPN")]
        user: Option<String>,
    },
    /// Show the effective policy, each setting with the source that set it.
    Show {
        /// For this device (its groups, computer Group Policy filtered on them).
        #[arg(long, value_name = "ID")]
        device: Option<String>,
        /// For this user.
        #[arg(long, value_name = "UPN")]
        user: Option<String>,
    },
    /// Manage Group Policy objects.
    #[command(subcommand)]
    Gpo(GpoCommand),
    /// Show a device's policy sessions.
    Sessions {
        /// Device id.
        device: String,
    },
}

/// Where a GPO applies.
#[derive(Debug, Args)]
pub struct GpoTargetArgs {
    /// Apply only to members of this group (security filtering).
    #[arg(long, value_name = "NAME", conflicts_with = "all")]
    pub group: Option<String>,
    /// Apply to every device/user (removes the group filter).
    #[arg(long)]
    pub all: bool,
    /// Link order: lower applies first and wins (default: after the others).
    #[arg(long, value_name = "N")]
    pub order: Option<i64>,
}

/// `policy gpo ...`.
#[derive(Debug, Subcommand)]
pub enum GpoCommand {
    /// Configure settings: Enabled, UseCertificateForOnPremAuth, RequireSecurityDevice,
    /// TPM12, MinimumPINLength, MaximumPINLength, UppercaseLetters, LowercaseLetters,
    /// SpecialCharacters, Digits, History, Expiration (NAME=VALUE; true/false or a number).
    Set {
        /// GPO name.
        name: String,
        /// computer or user.
        #[arg(long, default_value = "computer")]
        scope: String,
        /// Where it applies.
        #[command(flatten)]
        target: GpoTargetArgs,
        /// NAME=VALUE settings.
        #[arg(required = true)]
        settings: Vec<String>,
    },
    /// Make settings "not configured".
    Unset {
        /// GPO name.
        name: String,
        /// computer or user.
        #[arg(long, default_value = "computer")]
        scope: String,
        /// Setting names.
        #[arg(required = true)]
        settings: Vec<String>,
    },
    /// Import a .reg file (HKLM into the computer half, HKCU into the user half).
    Import {
        /// The .reg file.
        file: PathBuf,
        /// GPO name.
        #[arg(long, default_value = "Imported", value_name = "NAME")]
        name: String,
        /// Import only this half: computer or user.
        #[arg(long)]
        scope: Option<String>,
        /// Where it applies.
        #[command(flatten)]
        target: GpoTargetArgs,
    },
    /// Delete a GPO (both halves unless --scope).
    Delete {
        /// GPO name.
        name: String,
        /// computer or user.
        #[arg(long)]
        scope: Option<String>,
        /// Confirmation.
        #[command(flatten)]
        confirm: ConfirmArgs,
    },
    /// List GPOs in link order.
    List,
}

/// `group ...`.
#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Create a group.
    Add {
        /// Group name.
        name: String,
    },
    /// Delete a group (refused while a GPO is filtered on it).
    Delete {
        /// Group name.
        name: String,
        /// Confirmation.
        #[command(flatten)]
        confirm: ConfirmArgs,
    },
    /// List groups and members.
    List,
    /// Add or remove members.
    #[command(subcommand)]
    Member(MemberCommand),
}

/// A member: a user or a device.
#[derive(Debug, Args)]
pub struct MemberArgs {
    /// Group name.
    pub group: String,
    /// A user.
    #[arg(long, value_name = "UPN")]
    pub user: Option<String>,
    /// A device.
    #[arg(long, value_name = "ID")]
    pub device: Option<String>,
}

/// `group member ...`.
#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Add a member.
    Add(MemberArgs),
    /// Remove a member.
    Remove(MemberArgs),
}

/// `admin-token ...`.
#[derive(Debug, Subcommand)]
pub enum AdminTokenCommand {
    /// Create a token (printed once).
    Create {
        /// A label, e.g. who or what uses it.
        #[arg(long, default_value = "", value_name = "TEXT")]
        label: String,
    },
    /// List tokens.
    List,
    /// Revoke a token.
    Revoke {
        /// Token id.
        id: String,
        /// Confirmation.
        #[command(flatten)]
        confirm: ConfirmArgs,
    },
}

/// `serve`. Every setting is optional here: what is not given comes from the
/// configuration file, else the default shown.
#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// Address and port to listen on (port 0 picks a free port) [default: 127.0.0.1:8443].
    #[arg(long, env = "LATCHKEY_LISTEN", value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// Serve plain HTTP instead of HTTPS (loopback addresses only); `--insecure-http=false`
    /// turns off what the file turned on.
    #[arg(long, env = "LATCHKEY_INSECURE_HTTP", value_name = "BOOL", num_args = 0..=1,
          require_equals = true, default_missing_value = "true",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub insecure_http: Option<bool>,
    /// The URL browsers and applications use (token issuer, WebAuthn origin and RP ID),
    /// e.g. http://localhost:8080; default: the listen address's URL.
    #[arg(long, env = "LATCHKEY_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Tenant name, used when the tenant is created on first start [default: Latchkey].
    #[arg(long, env = "LATCHKEY_TENANT_NAME", value_name = "NAME")]
    pub tenant_name: Option<String>,
    /// Delete audit lines older than this many days (checked once a minute); default: keep
    /// them all. Export them first with `latchkeyd audit export`.
    #[arg(long, env = "LATCHKEY_AUDIT_RETENTION_DAYS", value_name = "DAYS",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub audit_retention_days: Option<u32>,
    /// The issuing CA's algorithm (p256 or rsa3072), used only when the issuing CA is
    /// created (the first start without one) [default: p256].
    #[arg(long, env = "LATCHKEY_ISSUING_CA_ALGORITHM", value_name = "ALG")]
    pub issuing_ca_algorithm: Option<latchkey_pki::CaAlgorithm>,
    /// Serve Prometheus metrics (GET /metrics, plain HTTP) on this address; default: no
    /// metrics. Never on the public listener; bind it to loopback or a management network.
    #[arg(long, env = "LATCHKEY_METRICS_LISTEN", value_name = "ADDR:PORT")]
    pub metrics_listen: Option<SocketAddr>,
}

/// `user ...`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user with a password and a TOTP secret; prints the otpauth:// URI (and its
    /// QR code on a terminal).
    Add {
        /// User principal name (user@domain).
        upn: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Display name (defaults to the UPN).
        #[arg(long, value_name = "NAME")]
        display_name: Option<String>,
        /// Print the QR code even when standard output is not a terminal.
        #[arg(long)]
        qr: bool,
    },
    /// Create many users from a file in one transaction (all of them or, on any refused
    /// line, none): CSV with a header naming `upn`, `display_name`, `password_hash`, or
    /// JSON lines with those members. `password_hash` is an Argon2id PHC string exported
    /// from another system; empty or absent, the user has no password. Every user gets a
    /// new TOTP secret; `--enrolment-out` writes their otpauth:// URIs.
    Import {
        /// The file (`.csv`, or `.jsonl`/`.ndjson`; otherwise give `--format`).
        file: PathBuf,
        /// The file's format, when its name does not say.
        #[arg(long, value_enum)]
        format: Option<latchkeyd::data_admin::ImportFormat>,
        /// Write each user's TOTP enrolment URI (`upn,otpauth_uri`, CSV) to this new file,
        /// readable by its owner only (it holds secrets; refused if it exists).
        #[arg(long, value_name = "FILE")]
        enrolment_out: Option<PathBuf>,
    },
    /// List users.
    List,
    /// Disable a user.
    Disable {
        /// User principal name.
        upn: String,
    },
    /// Enable a disabled user.
    Enable {
        /// User principal name.
        upn: String,
    },
    /// Delete a user with its Hello keys, security keys and sessions; its certificates
    /// are revoked. Refused while the user is the registered owner of devices.
    Delete {
        /// User principal name.
        upn: String,
        /// Confirmation.
        #[command(flatten)]
        confirm: ConfirmArgs,
    },
    /// Set a new password (the user's browser sessions end).
    ResetPassword {
        /// User principal name.
        upn: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Give the user a new TOTP secret (the old one stops working at once); prints the
    /// otpauth:// URI (and its QR code on a terminal).
    ResetMfa {
        /// User principal name.
        upn: String,
        /// Print the QR code even when standard output is not a terminal.
        #[arg(long)]
        qr: bool,
        /// Confirmation.
        #[command(flatten)]
        confirm: ConfirmArgs,
    },
}

/// `tenant ...`.
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Show the tenant id, name and CA.
    Show,
    /// Rename the tenant (the TOTP issuer from now on; the service shows it from its next
    /// start).
    Rename {
        /// The new name.
        name: String,
    },
}

/// `init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Tenant name, used when the tenant is created [default: the configuration file's
    /// [serve] tenant_name, else Latchkey].
    #[arg(long, env = "LATCHKEY_TENANT_NAME", value_name = "NAME")]
    pub tenant_name: Option<String>,
}

/// `device ...`.
#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// List devices (with their OS and last activity).
    List,
    /// Disable a device (takes effect at once; final).
    Disable {
        /// Device id.
        id: String,
        /// Confirmation.
        #[command(flatten)]
        confirm: ConfirmArgs,
    },
    /// Delete a device with the Hello keys on it; its and their certificates are revoked.
    Delete {
        /// Device id.
        id: String,
        /// Confirmation.
        #[command(flatten)]
        confirm: ConfirmArgs,
    },
}

/// `key ...`.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// List Hello keys with their attestation (`tpm` and the TPM's manufacturer, or
    /// `software`); a software key is flagged when the policy requires a security device.
    List {
        /// Only this user's keys.
        #[arg(long, value_name = "UPN")]
        user: Option<String>,
    },
    /// Delete a key (takes effect at once).
    Delete {
        /// Key id (hex), or a unique prefix of it (at least 4 digits).
        key_id: String,
        /// Confirmation.
        #[command(flatten)]
        confirm: ConfirmArgs,
    },
}
