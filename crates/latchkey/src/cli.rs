//! The command line of `latchkey`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Latchkey on this device: join the organisation, set up Windows Hello with a PIN, sign in,
/// and get tokens.
#[derive(Debug, Parser)]
#[command(name = "latchkey", version)]
pub struct Cli {
    /// The agent's state directory [default: $LATCHKEY_STATE_DIR, else
    /// $XDG_STATE_HOME/latchkey, else ~/.local/state/latchkey].
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// The TPM to use, as a TCTI string (`device:/dev/tpmrm0`, `swtpm:host=H,port=P`)
    /// [default: $LATCHKEY_TPM, else /dev/tpmrm0 when present].
    #[arg(long, global = true, value_name = "TCTI", env = "LATCHKEY_TPM")]
    pub tpm: Option<String>,
    /// Where Hello keys live: `tpm` (fail without a usable TPM 2.0), `software`, or
    /// `auto` (the TPM when usable, else software).
    #[arg(long, global = true, value_enum, default_value_t = KeyProviderArg::Auto)]
    pub key_provider: KeyProviderArg,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Join this device to an organisation.
    Join(JoinArgs),
    /// Windows Hello: set up a PIN-protected key.
    Hello {
        /// What to do.
        #[command(subcommand)]
        command: HelloCommand,
    },
    /// Sign in with the PIN and obtain a primary refresh token.
    Signin(SigninArgs),
    /// The smart-card signer the PKCS#11 module starts (not for interactive use): it
    /// unlocks and holds the Hello key and answers the module on stdin/stdout.
    #[command(hide = true)]
    Pkcs11Signer(Pkcs11SignerArgs),
    /// Print an access token for an audience on stdout.
    Token(TokenArgs),
    /// Show the device, user, SSO and prerequisite state (like `dsregcmd /status`).
    Status(StatusArgs),
    /// Show the client event log.
    Events(EventsArgs),
    /// Leave the organisation: the service disables the device and local state is removed.
    Leave(LeaveArgs),
    /// The policy in force: receive it from the service, show it.
    Policy {
        /// What to do.
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// The device's TPM identity with the service.
    Tpm {
        /// What to do.
        #[command(subcommand)]
        command: TpmCommand,
    },
    /// The user's Hello certificate (certificate trust): enrol, renew, show.
    Cert {
        /// What to do.
        #[command(subcommand)]
        command: CertCommand,
    },
    /// The TPM key pool: Hello keys the TPM made ahead of time (none with the software
    /// provider).
    Pool {
        /// What to do.
        #[command(subcommand)]
        command: PoolCommand,
    },
}

/// `--key-provider`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyProviderArg {
    /// Keys in the TPM, or fail.
    Tpm,
    /// Software keys.
    Software,
    /// The TPM when usable, else software.
    Auto,
}

/// How the device joins.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum JoinTypeArg {
    /// Joined to the organisation (Azure AD joined).
    Cloud,
    /// Domain joined and registered.
    Hybrid,
    /// A personal device with a work account.
    Registered,
}

/// `latchkey join`.
#[derive(Debug, Args)]
pub struct JoinArgs {
    /// The identity service, e.g. https://id.example.com:8443.
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// The joining user (becomes the device's registered owner).
    #[arg(long, value_name = "UPN")]
    pub user: String,
    /// The tenant CA certificate to trust (pins it without asking).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Trust the CA the service presents if its SHA-256 fingerprint is this.
    #[arg(long, value_name = "SHA256", conflicts_with = "ca")]
    pub ca_fingerprint: Option<String>,
    /// Join type.
    #[arg(long, value_enum, default_value = "cloud")]
    pub join_type: JoinTypeArg,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// The one-time code from the authenticator app (the join is then done with MFA).
    #[arg(long, value_name = "CODE")]
    pub otp: Option<String>,
    /// The device's display name [default: the host name].
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

/// `latchkey hello ...`.
#[derive(Debug, Subcommand)]
pub enum HelloCommand {
    /// Check the prerequisites, then create and register a PIN-protected Hello key.
    Setup(SetupArgs),
    /// The PIN of the Hello key.
    Pin {
        /// What to do.
        #[command(subcommand)]
        command: PinCommand,
    },
}

/// `latchkey hello pin ...`.
#[derive(Debug, Subcommand)]
pub enum PinCommand {
    /// Change the PIN: the key is re-protected under the new PIN and keeps its key id.
    Change(PinChangeArgs),
}

/// `latchkey hello pin change`.
#[derive(Debug, Args)]
pub struct PinChangeArgs {
    /// The user [default: the device's registered owner].
    #[arg(long, value_name = "UPN")]
    pub user: Option<String>,
    /// Read the current PIN from the first line of standard input and the new PIN from the
    /// second.
    #[arg(long)]
    pub pin_stdin: bool,
}

/// `latchkey policy ...`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Receive the effective policy from the service now and store it.
    Sync(PolicyArgs),
    /// Show the policy in force, where each setting came from, and what this device enforces.
    Show(PolicyArgs),
}

/// `latchkey policy sync|show`.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// The user [default: the device's registered owner].
    #[arg(long, value_name = "UPN")]
    pub user: Option<String>,
    /// JSON for scripts.
    #[arg(long)]
    pub json: bool,
}

/// `latchkey hello setup`.
#[derive(Debug, Args)]
pub struct SetupArgs {
    /// The user [default: the device's registered owner].
    #[arg(long, value_name = "UPN")]
    pub user: Option<String>,
    /// Read the PIN from a line of standard input (line 2 after the password with
    /// --password-stdin).
    #[arg(long)]
    pub pin_stdin: bool,
    /// Read the password (always asked: a fresh first factor) from line 1 of standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// The one-time code, when a full MFA is needed (anyone but the registered owner of a
    /// cloud device joined with MFA, and everyone replacing a key).
    #[arg(long, value_name = "CODE")]
    pub otp: Option<String>,
}

/// `latchkey signin`.
#[derive(Debug, Args)]
pub struct SigninArgs {
    /// The user [default: the device's registered owner].
    #[arg(long, value_name = "UPN")]
    pub user: Option<String>,
    /// Read the PIN from the first line of standard input.
    #[arg(long)]
    pub pin_stdin: bool,
}

/// `latchkey pkcs11-signer` (hidden).
#[derive(Debug, Args)]
pub struct Pkcs11SignerArgs {
    /// The user whose Hello key to unlock.
    #[arg(long, value_name = "UPN")]
    pub user: String,
}

/// `latchkey token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The audience the token is for, e.g. api://payroll.
    #[arg(long, value_name = "AUD")]
    pub audience: String,
    /// The user [default: the device's registered owner].
    #[arg(long, value_name = "UPN")]
    pub user: Option<String>,
}

/// `latchkey status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The user whose state to show [default: the device's registered owner].
    #[arg(long, value_name = "UPN")]
    pub user: Option<String>,
    /// JSON for scripts.
    #[arg(long)]
    pub json: bool,
}

/// `latchkey events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// JSON for scripts.
    #[arg(long)]
    pub json: bool,
}

/// `latchkey leave`.
#[derive(Debug, Args)]
pub struct LeaveArgs {
    /// Remove local state even when the service cannot be told.
    #[arg(long)]
    pub force: bool,
}

/// `latchkey pool ...`.
#[derive(Debug, Subcommand)]
pub enum PoolCommand {
    /// Make keys in the TPM until the pool is full (TPM key provider only).
    Fill,
    /// Show the pool's keys.
    Status,
}

/// `latchkey tpm ...`.
#[derive(Debug, Subcommand)]
pub enum TpmCommand {
    /// Activate this device's TPM identity with the service (credential activation with a
    /// new attestation key), for a device joined earlier or after a failed attempt. Does
    /// nothing when the device is attested already, unless --renew.
    Attest(TpmAttestArgs),
}

/// `latchkey tpm attest`.
#[derive(Debug, Args)]
pub struct TpmAttestArgs {
    /// Make and activate a new attestation key even when one is activated (it replaces the
    /// old one once the service accepted it); also replaces a damaged identity file.
    #[arg(long)]
    pub renew: bool,
}

/// `latchkey cert ...`.
#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Enrol for a certificate on the Hello key: the PIN unlocks the key, a Hello sign-in
    /// with it (a fresh multi-factor sign-in) authorises the enrolment, and the key signs
    /// the request. Replaces the certificate held, an expired one included.
    Enroll(CertEnrollArgs),
    /// Renew the certificate for the same key when it is inside its renewal window
    /// (nothing is sent before); an expired certificate needs `cert enroll`.
    Renew(CertRenewArgs),
    /// Show the user's certificate.
    Show(CertShowArgs),
}

/// `latchkey cert enroll`.
#[derive(Debug, Args)]
pub struct CertEnrollArgs {
    /// The user [default: the device's registered owner].
    #[arg(long, value_name = "UPN")]
    pub user: Option<String>,
    /// The template [default: the one the service assigns the user].
    #[arg(long, value_name = "NAME")]
    pub template: Option<String>,
    /// Read the PIN from the first line of standard input.
    #[arg(long)]
    pub pin_stdin: bool,
}

/// `latchkey cert renew`.
#[derive(Debug, Args)]
pub struct CertRenewArgs {
    /// The user [default: the device's registered owner].
    #[arg(long, value_name = "UPN")]
    pub user: Option<String>,
    /// Read the PIN from the first line of standard input.
    #[arg(long)]
    pub pin_stdin: bool,
}

/// `latchkey cert show`.
#[derive(Debug, Args)]
pub struct CertShowArgs {
    /// The user [default: the device's registered owner].
    #[arg(long, value_name = "UPN")]
    pub user: Option<String>,
    /// Print the certificate and its chain as PEM.
    #[arg(long, conflicts_with = "json")]
    pub pem: bool,
    /// JSON for scripts.
    #[arg(long)]
    pub json: bool,
}
