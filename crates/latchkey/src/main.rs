//! `latchkey`: the Latchkey device CLI.
//!
//! Thin by design: it parses arguments, reads secrets, calls `latchkey-agent`, prints, and
//! maps errors to exit codes (0 ok, 1 error printed as `error: LK-...: message`, 2 usage).
#![forbid(unsafe_code)]

mod cert_commands;
mod cli;
mod commands;
mod input;
mod policy_commands;

use std::process::ExitCode;

use clap::Parser;
use latchkey_agent::clock::SystemClock;
use latchkey_agent::container::KdfParams;
use latchkey_agent::provider_choice::{self, ProviderMode};
use latchkey_agent::store::StateDir;
use latchkey_agent::tpm::Tcti;
use latchkey_agent::{prereq, Agent, AgentError};

use cli::{
    CertCommand, Cli, Command, HelloCommand, KeyProviderArg, PinCommand, PolicyCommand, TpmCommand,
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let state = StateDir::new(
        cli.state_dir
            .unwrap_or_else(latchkey_agent::store::default_state_dir),
    );
    let remote = prereq::is_remote_session(|v| std::env::var(v).ok());
    let mode = match cli.key_provider {
        KeyProviderArg::Tpm => ProviderMode::Tpm,
        KeyProviderArg::Software => ProviderMode::Software,
        KeyProviderArg::Auto => ProviderMode::Auto,
    };
    let choice = cli
        .tpm
        .as_deref()
        .map(|t| Tcti::parse(t).map_err(AgentError::Tpm))
        .transpose()
        .and_then(|tcti| provider_choice::choose(mode, tcti.as_ref(), KdfParams::default()));
    let choice = match choice {
        Ok(c) => c,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(1);
        }
    };
    let agent = Agent::new(state, Box::new(SystemClock), remote).with_choice(choice);
    // Earlier versions kept plaintext pool keys: remove them before anything else.
    if let Err(err) = latchkey_agent::pool::remove_legacy(agent.state()) {
        eprintln!("error: {err}");
        return ExitCode::from(1);
    }
    let result = match cli.command {
        Command::Join(args) => commands::join(&agent, args),
        Command::Hello {
            command: HelloCommand::Setup(args),
        } => commands::hello_setup(&agent, args),
        Command::Hello {
            command:
                HelloCommand::Pin {
                    command: PinCommand::Change(args),
                },
        } => policy_commands::pin_change(&agent, args),
        Command::Policy {
            command: PolicyCommand::Sync(args),
        } => policy_commands::sync(&agent, args),
        Command::Policy {
            command: PolicyCommand::Show(args),
        } => policy_commands::show(&agent, args),
        Command::Signin(args) => commands::signin(&agent, args),
        Command::Pkcs11Signer(args) => commands::pkcs11_signer(&agent, args),
        Command::Token(args) => commands::token(&agent, args),
        Command::Status(args) => commands::status(&agent, args),
        Command::Events(args) => commands::events(&agent, args),
        Command::Leave(args) => commands::leave(&agent, args),
        Command::Pool { command } => commands::pool(&agent, command),
        Command::Tpm {
            command: TpmCommand::Attest(args),
        } => commands::tpm_attest(&agent, args),
        Command::Cert {
            command: CertCommand::Enroll(args),
        } => cert_commands::enroll(&agent, args),
        Command::Cert {
            command: CertCommand::Renew(args),
        } => cert_commands::renew(&agent, args),
        Command::Cert {
            command: CertCommand::Show(args),
        } => cert_commands::show(&agent, args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            match err.downcast_ref::<AgentError>() {
                Some(agent_err) => {
                    eprintln!("error: {agent_err}");
                    if let Some(hint) = commands::hint(agent_err) {
                        eprintln!("hint: {hint}");
                    }
                }
                None => eprintln!("error: LK-AGENT-004: {err:#}"),
            }
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_documented_flags_parse() {
        let cli = Cli::try_parse_from([
            "latchkey",
            "--state-dir",
            "/tmp/s",
            "hello",
            "setup",
            "--user",
            "a@x",
            "--pin-stdin",
            "--password-stdin",
            "--otp",
            "123456",
        ])
        .unwrap();
        assert_eq!(
            cli.state_dir.as_deref(),
            Some(std::path::Path::new("/tmp/s"))
        );
        assert!(matches!(
            cli.command,
            Command::Hello {
                command: HelloCommand::Setup(_)
            }
        ));
        let conflicting = Cli::try_parse_from([
            "latchkey",
            "join",
            "--server",
            "https://x",
            "--user",
            "a@x",
            "--ca",
            "ca.pem",
            "--ca-fingerprint",
            "AB",
        ]);
        assert!(
            conflicting.is_err(),
            "--ca and --ca-fingerprint exclude each other"
        );
        assert!(Cli::try_parse_from(["latchkey", "join", "--server", "https://x"]).is_err());
        assert!(Cli::try_parse_from([
            "latchkey",
            "join",
            "--server",
            "https://x",
            "--user",
            "a@x",
            "--join-type",
            "bogus"
        ])
        .is_err());
    }

    #[test]
    fn the_policy_and_pin_change_commands_parse() {
        let cli = Cli::try_parse_from([
            "latchkey",
            "hello",
            "pin",
            "change",
            "--user",
            "a@x",
            "--pin-stdin",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::Hello {
                command: HelloCommand::Pin {
                    command: PinCommand::Change(ref a)
                }
            } if a.pin_stdin && a.user.as_deref() == Some("a@x")
        ));
        for sub in ["sync", "show"] {
            let cli = Cli::try_parse_from(["latchkey", "policy", sub, "--json"]).unwrap();
            assert!(matches!(cli.command, Command::Policy { .. }));
        }
        assert!(Cli::try_parse_from(["latchkey", "policy", "apply"]).is_err());
        let cli = Cli::try_parse_from([
            "latchkey",
            "cert",
            "enroll",
            "--pin-stdin",
            "--template",
            "Hello authentication",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::Cert {
                command: CertCommand::Enroll(ref a)
            } if a.pin_stdin && a.template.as_deref() == Some("Hello authentication")
        ));
        assert!(Cli::try_parse_from(["latchkey", "cert", "show", "--pem", "--json"]).is_err());
        let cli = Cli::try_parse_from(["latchkey", "tpm", "attest", "--renew"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Tpm {
                command: TpmCommand::Attest(ref a)
            } if a.renew
        ));
    }
}
