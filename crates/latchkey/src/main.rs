//! `latchkey`: the Latchkey device CLI.
//!
//! Thin by design: it parses arguments, reads secrets, calls `latchkey-agent`, prints, and
//! maps errors to exit codes (0 ok, 1 error printed as `error: LK-...: message`, 2 usage).
#![forbid(unsafe_code)]

mod background;
mod cli;
mod commands;
mod input;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use latchkey_agent::clock::SystemClock;
use latchkey_agent::store::StateDir;
use latchkey_agent::{prereq, Agent, AgentError};

use cli::{Cli, Command, HelloCommand};

fn default_state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LATCHKEY_STATE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(dir).join("latchkey");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".local/state/latchkey")
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let state = StateDir::new(cli.state_dir.unwrap_or_else(default_state_dir));
    let remote = prereq::is_remote_session(|v| std::env::var(v).ok());
    let agent = Agent::new(state, Box::new(SystemClock), remote);
    let result = match cli.command {
        Command::Join(args) => commands::join(&agent, args),
        Command::Hello {
            command: HelloCommand::Setup(args),
        } => commands::hello_setup(&agent, args),
        Command::Signin(args) => commands::signin(&agent, args),
        Command::Token(args) => commands::token(&agent, args),
        Command::Status(args) => commands::status(&agent, args),
        Command::Events(args) => commands::events(&agent, args),
        Command::Leave(args) => commands::leave(&agent, args),
        Command::Pool { command } => commands::pool(&agent, command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            match err.downcast_ref::<AgentError>() {
                Some(agent_err) => eprintln!("error: {agent_err}"),
                None => eprintln!("error: LK-AGENT-004: {err:#}"),
            }
            ExitCode::from(1)
        }
    }
}
