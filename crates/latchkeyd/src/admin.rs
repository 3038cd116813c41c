//! The administration subcommands, over the data directory's database directly.

use std::io::BufRead;
use std::path::Path;

use anyhow::Context;
use latchkey_proto::ErrorCode;
use latchkey_server::clock::Env;
use latchkey_server::storage::Database;
use latchkeyd::data_admin::{Admin, AdminError};
use zeroize::Zeroizing;

use crate::cli::{Command, InitArgs};
use crate::coded;
use crate::output;

pub(crate) fn admin_error(err: AdminError) -> anyhow::Error {
    coded(err.code(), err.to_string())
}

/// Runs an admin command on `database` (the same `--database` as `serve`). Only `init`
/// creates a data directory and a tenant; every other command opens an existing one
/// (`LK-ADM-001` naming the path otherwise).
pub async fn run(
    database: &Database,
    data_dir: &Path,
    key_file: Option<&Path>,
    json: bool,
    command: Command,
) -> anyhow::Result<()> {
    if let Command::Init(args) = command {
        return init(database, data_dir, key_file, json, args).await;
    }
    let mut admin = Admin::open_existing_on(database, data_dir, key_file, Env::system())
        .await
        .map_err(admin_error)?;
    admin.set_actor(&crate::confirm::cli_actor());
    let result = dispatch(&mut admin, json, command).await;
    admin.close().await;
    result
}

async fn init(
    database: &Database,
    data_dir: &Path,
    key_file: Option<&Path>,
    json: bool,
    args: InitArgs,
) -> anyhow::Result<()> {
    let tenant_name = args
        .tenant_name
        .unwrap_or_else(|| latchkey_server::tenant::DEFAULT_TENANT_NAME.to_owned());
    let (admin, created) =
        Admin::create_on(database, data_dir, key_file, &tenant_name, Env::system())
            .await
            .map_err(admin_error)?;
    let t = admin.tenant();
    admin.close().await;
    if json {
        return output::json(&serde_json::json!({ "created": created, "tenant": t }));
    }
    if created {
        println!("created tenant {} ({})", t.name, t.tenant_id);
    } else {
        println!("the data directory has a tenant already; nothing was changed");
    }
    println!("tenant:         {} ({})", t.name, t.tenant_id);
    println!("CA file:        {}", t.ca_file.display());
    println!("CA SHA-256:     {}", t.ca_fingerprint_sha256);
    Ok(())
}

async fn dispatch(admin: &mut Admin, json: bool, command: Command) -> anyhow::Result<()> {
    match command {
        // Handled before a data directory is opened (main.rs).
        Command::Serve(_) | Command::Init(_) | Command::Config(_) | Command::Storage(_) => Ok(()),
        Command::Tenant(c) => crate::directory::tenant(admin, json, c).await,
        Command::User(c) => crate::directory::user(admin, json, c).await,
        Command::Device(c) => crate::directory::device(admin, json, c).await,
        Command::Key(c) => crate::directory::key(admin, json, c).await,
        Command::Audit(args) => crate::audit::audit(admin, json, args).await,
        Command::Policy(c) => crate::policy::policy(admin, json, c).await,
        Command::Group(c) => crate::policy::group(admin, json, c).await,
        Command::AdminToken(c) => crate::policy::admin_token(admin, json, c).await,
        Command::Client(c) => crate::web::client(admin, json, c).await,
        Command::Resource(c) => crate::resource::resource(admin, json, c).await,
        Command::SecurityKey(c) => crate::web::security_key(admin, json, c).await,
        Command::TpmRoots(c) => crate::tpm_roots::tpm_roots(admin, json, c).await,
        Command::PinRecovery(c) => crate::pin_recovery::pin_recovery(admin, json, c).await,
        Command::Cert(c) => crate::cert::cert(admin, json, c).await,
        Command::Kerberos(c) => crate::kerberos::kerberos(admin, json, c).await,
    }
}

/// Prints `{"ok": true, "id": ID}` or `WHAT: ID`.
pub(crate) fn done(json: bool, what: &str, id: &str) -> anyhow::Result<()> {
    if json {
        output::json(&serde_json::json!({ "ok": true, "id": id }))
    } else {
        println!("{what}: {id}");
        Ok(())
    }
}

/// Reads a password from the first line of standard input, or asks twice on the terminal.
pub(crate) fn read_password(from_stdin: bool) -> anyhow::Result<Zeroizing<String>> {
    if from_stdin {
        let mut line = Zeroizing::new(String::new());
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        let len = line.trim_end_matches(['\r', '\n']).len();
        line.truncate(len);
        return Ok(line);
    }
    let first =
        Zeroizing::new(rpassword::prompt_password("Password: ").context("reading the password")?);
    let second =
        Zeroizing::new(rpassword::prompt_password("Again: ").context("reading the password")?);
    if first != second {
        return Err(coded(ErrorCode::InvalidField, "the passwords do not match"));
    }
    Ok(first)
}
