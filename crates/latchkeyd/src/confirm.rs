//! Confirmation of irreversible actions, and who the administrator is.
//!
//! On a terminal the command asks (on standard error, so standard output stays clean for
//! `--json`); a script passes `--yes`. Without a terminal and without `--yes` the command
//! refuses (`LK-ADM-002`) before it changes anything.

use std::io::{BufRead, IsTerminal, Write};

use clap::Args;
use latchkey_proto::ErrorCode;

use crate::coded;

/// `--yes`, on every irreversible command.
#[derive(Debug, Clone, Copy, Args)]
pub struct ConfirmArgs {
    /// Do not ask for confirmation (for scripts; needed when standard input is not a
    /// terminal).
    #[arg(long)]
    pub yes: bool,
}

/// Asks "`what`? ... Type yes to continue" on a terminal, unless `--yes` was given.
pub fn confirm(args: ConfirmArgs, what: &str) -> anyhow::Result<()> {
    if args.yes {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(coded(
            ErrorCode::ConfirmationRequired,
            format!(
                "{what}: this cannot be undone; pass --yes to confirm (standard input is not \
                 a terminal, so nobody can be asked); nothing was changed"
            ),
        ));
    }
    let mut err = std::io::stderr().lock();
    write!(err, "{what}? This cannot be undone. Type yes to continue: ")?;
    err.flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    if answer.trim().eq_ignore_ascii_case("yes") {
        return Ok(());
    }
    Err(coded(
        ErrorCode::ConfirmationRequired,
        "not confirmed; nothing was changed",
    ))
}

/// [`confirm`] when the thing to change exists; when it does not, nothing is asked and the
/// command goes on to fail with the precise "no such ..." error of the operation (nobody is
/// asked to confirm the deletion of something that is not there).
pub fn confirm_if_exists(args: ConfirmArgs, exists: bool, what: &str) -> anyhow::Result<()> {
    if exists {
        confirm(args, what)
    } else {
        Ok(())
    }
}

/// The actor the command line records in the audit trail: `admin:NAME` with the name of
/// the Unix user running the command (looked up by its real uid in /etc/passwd, so the
/// environment cannot rename it), `admin:uid=N` when the uid has no entry there.
pub fn cli_actor() -> String {
    let uid = rustix::process::getuid().as_raw();
    let name = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|passwd| {
            passwd.lines().find_map(|line| {
                let mut fields = line.split(':');
                let name = fields.next()?;
                let entry_uid = fields.nth(1)?;
                (entry_uid.parse::<u32>().ok()? == uid).then(|| name.to_owned())
            })
        });
    match name {
        Some(name) => format!("admin:{name}"),
        None => format!("admin:uid={uid}"),
    }
}
