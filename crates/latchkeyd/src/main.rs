//! `latchkeyd`: the Latchkey identity service and its administration commands.
//!
//! Thin by design: it parses arguments, calls `latchkey-server`, prints, and maps errors to
//! exit codes (0 ok, 1 error printed as `error: LK-...: message`, 2 usage).
#![forbid(unsafe_code)]

mod admin;
mod cert;
mod cli;
mod kerberos;
mod key_file;
mod logging;
mod output;
mod pin_recovery;
mod policy;
mod resource;
mod serve;
mod since;
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
    let level = match cli.command {
        cli::Command::Serve(_) => logging::SERVE_LEVEL,
        _ => logging::ADMIN_LEVEL,
    };
    logging::init(cli.log_format, level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!(
                "error: {}: cannot start the runtime: {e}",
                ErrorCode::Internal
            );
            return ExitCode::from(1);
        }
    };
    let key_file = key_file::resolve(
        cli.key_file.clone(),
        std::env::var_os("CREDENTIALS_DIRECTORY").map(std::path::PathBuf::from),
    );
    let result = runtime.block_on(async move {
        match cli.command {
            cli::Command::Serve(args) => serve::run(&cli.data_dir, key_file.as_deref(), args).await,
            other => admin::run(&cli.data_dir, key_file.as_deref(), cli.json, other).await,
        }
    });
    match result {
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
