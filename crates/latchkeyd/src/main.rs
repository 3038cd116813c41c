//! `latchkeyd`: the Latchkey identity service and its administration commands.
//!
//! Thin by design: it parses arguments, calls `latchkey-server`, prints, and maps errors to
//! exit codes (0 ok, 1 error printed as `error: LK-...: message`, 2 usage).
#![forbid(unsafe_code)]

mod admin;
mod audit;
mod cert;
mod cli;
mod confirm;
mod directory;
mod kerberos;
mod key_file;
mod logging;
mod output;
mod pin_recovery;
mod policy;
mod qr;
mod resource;
mod serve;
mod settings;
mod since;
mod storage_copy;
mod tpm_roots;
mod web;

use std::process::ExitCode;

use clap::Parser;
use latchkey_proto::ErrorCode;

/// An error carrying the stable code to print.
#[derive(Debug)]
pub struct Coded {
    /// The code.
    pub code: ErrorCode,
    /// The message.
    pub message: String,
}

impl std::fmt::Display for Coded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Coded {}

/// Builds a coded error.
pub fn coded(code: ErrorCode, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Coded {
        code,
        message: message.into(),
    })
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let code = err
                .downcast_ref::<Coded>()
                .map(|c| c.code)
                .unwrap_or(ErrorCode::Internal);
            eprintln!("error: {code}: {err:#}");
            ExitCode::from(1)
        }
    }
}

/// Reads the settings, starts logging and the runtime, and runs the command.
fn run(cli: cli::Cli) -> anyhow::Result<()> {
    let loaded = settings::load(cli.config.as_deref())?;
    let mut report = settings::Report::default();
    let common = settings::common(
        settings::CommonOverrides {
            data_dir: cli.data_dir.clone(),
            key_file: cli.key_file.clone(),
            log_format: cli.log_format,
            database: cli.database.clone(),
            database_max_connections: cli.database_max_connections,
        },
        &loaded.file,
        &mut report,
    )?;
    let default_level = common.log_level.as_deref().unwrap_or(match cli.command {
        cli::Command::Serve(_) => logging::SERVE_LEVEL,
        _ => logging::ADMIN_LEVEL,
    });
    logging::init(common.log_format, default_level);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            coded(
                ErrorCode::Internal,
                format!("cannot start the runtime: {e}"),
            )
        })?;
    let key_file = key_file::resolve(
        common.key_file.clone(),
        std::env::var_os("CREDENTIALS_DIRECTORY").map(std::path::PathBuf::from),
    );
    runtime.block_on(async move {
        match cli.command {
            cli::Command::Serve(args) => {
                let serve = settings::serve_config(&common, args, &loaded.file, &mut report)?;
                serve::run(serve, key_file).await
            }
            cli::Command::Config(cli::ConfigCommand::Check { serve }) => {
                settings::serve_config(&common, serve, &loaded.file, &mut report)?;
                let notes = settings::check::check_paths(
                    &common.data_dir,
                    common.key_file.as_deref(),
                    &common.database,
                )?;
                settings::check::print(&loaded, &report, &notes, cli.json)
            }
            cli::Command::Storage(cli::StorageCommand::Copy { from, to }) => {
                storage_copy::run(&from, &to, cli.json).await
            }
            other => {
                // A file with a bad serve setting is refused by every command, so an
                // administrator hears of it before the next restart of the service.
                let serve = settings::serve_config(
                    &common,
                    cli::ServeArgs::default(),
                    &loaded.file,
                    &mut report,
                )?;
                // `init` names the tenant as serve would: its flag, else the settings.
                let other = match other {
                    cli::Command::Init(mut args) => {
                        args.tenant_name.get_or_insert(serve.config.tenant_name);
                        cli::Command::Init(args)
                    }
                    other => other,
                };
                admin::run(
                    &common.database,
                    &common.data_dir,
                    key_file.as_deref(),
                    cli.json,
                    other,
                )
                .await
            }
        }
    })
}
