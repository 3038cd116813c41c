//! Reading secrets: lines of standard input for scripts, prompts without echo for people.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{bail, Context, Result};
use latchkey_agent::AgentError;
use zeroize::Zeroizing;

/// Reads one line of standard input, without its line ending.
pub fn stdin_line(what: &str) -> Result<Zeroizing<String>> {
    let mut line = Zeroizing::new(String::new());
    let n = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .with_context(|| format!("reading the {what} from standard input"))?;
    if n == 0 {
        bail!(AgentError::InvalidInput(format!(
            "standard input ended before the {what}"
        )));
    }
    let len = line.trim_end_matches(['\r', '\n']).len();
    line.truncate(len);
    Ok(line)
}

/// Prompts on the terminal without echo.
pub fn hidden(prompt: &str) -> Result<Zeroizing<String>> {
    rpassword::prompt_password(prompt)
        .map(Zeroizing::new)
        .with_context(|| format!("reading {prompt:?}"))
}

/// The password: from standard input, or prompted.
pub fn password(from_stdin: bool) -> Result<Zeroizing<String>> {
    if from_stdin {
        stdin_line("password")
    } else {
        hidden("Password: ")
    }
}

/// A one-time code given on the command line, or prompted for when a person is there.
pub fn otp(given: Option<String>, prompt_if_terminal: bool) -> Result<Option<String>> {
    if given.is_some() || !prompt_if_terminal || !std::io::stdin().is_terminal() {
        return Ok(given);
    }
    eprint!("One-time code from your authenticator app: ");
    std::io::stderr().flush().ok();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the one-time code")?;
    let code = line.trim().to_owned();
    Ok((!code.is_empty()).then_some(code))
}

/// A new PIN: one line of standard input, or prompted twice without echo.
pub fn new_pin(from_stdin: bool) -> Result<Zeroizing<String>> {
    if from_stdin {
        return stdin_line("PIN");
    }
    let first = hidden("New PIN: ")?;
    let second = hidden("Confirm PIN: ")?;
    if first != second {
        bail!(AgentError::PinMismatch);
    }
    Ok(first)
}

/// How many times a person at the terminal may choose a new PIN that breaks the rules (or
/// does not match its confirmation) before the command gives up; the password and code
/// typed before are kept meanwhile.
pub const NEW_PIN_TRIES: u32 = 3;

/// A new PIN that passes `check` (the PIN rules in force, summarised in `rules`). On a
/// terminal the rules are shown before the first prompt, and a PIN that breaks them (or
/// does not match its confirmation) is asked for again, up to [`NEW_PIN_TRIES`] times,
/// keeping everything typed before. From standard input the first line is checked and a
/// failure ends the command before anything is sent.
pub fn new_pin_checked(
    from_stdin: bool,
    rules: &str,
    check: &dyn Fn(&str) -> Result<(), AgentError>,
) -> Result<Zeroizing<String>> {
    if from_stdin {
        let pin = stdin_line("PIN")?;
        check(&pin)?;
        return Ok(pin);
    }
    eprintln!("PIN rules: {rules}.");
    let mut tries = 0;
    loop {
        tries += 1;
        let failure = match new_pin(false) {
            Ok(pin) => match check(&pin) {
                Ok(()) => return Ok(pin),
                Err(e) => e,
            },
            Err(e) => match e.downcast::<AgentError>() {
                Ok(e @ AgentError::PinMismatch) => e,
                Ok(other) => return Err(other.into()),
                Err(other) => return Err(other),
            },
        };
        if tries >= NEW_PIN_TRIES {
            return Err(failure.into());
        }
        eprintln!("{failure}");
        eprintln!(
            "Choose another PIN ({} of {NEW_PIN_TRIES} tries left).",
            NEW_PIN_TRIES - tries
        );
    }
}

/// The current and the new PIN for a PIN change: lines 1 and 2 of standard input, or
/// prompted (the new one twice) without echo.
/// The new PIN is checked as [`new_pin_checked`] does.
pub fn pin_change(
    from_stdin: bool,
    rules: &str,
    check: &dyn Fn(&str) -> Result<(), AgentError>,
) -> Result<(Zeroizing<String>, Zeroizing<String>)> {
    if from_stdin {
        let old = stdin_line("current PIN")?;
        let new = stdin_line("new PIN")?;
        check(&new)?;
        return Ok((old, new));
    }
    let old = hidden("Current PIN: ")?;
    let new = new_pin_checked(false, rules, check)?;
    Ok((old, new))
}

/// The PIN for a sign-in.
pub fn pin(from_stdin: bool) -> Result<Zeroizing<String>> {
    if from_stdin {
        stdin_line("PIN")
    } else {
        hidden("PIN: ")
    }
}

/// Asks the person at the terminal whether to trust a CA fingerprint.
pub fn confirm_fingerprint(server: &str, fingerprint: &str) -> Result<bool, AgentError> {
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|_| {
            AgentError::UntrustedCa(
                "there is no terminal to confirm it on; pass --ca FILE or --ca-fingerprint SHA256"
                    .to_owned(),
            )
        })?;
    let mut out = &tty;
    let _ = write!(
        out,
        "The service at {server} presents a CA with SHA-256 fingerprint\n  {fingerprint}\nCompare it with the one your administrator published (`latchkeyd tenant show`).\nTrust this CA? [y/N] "
    );
    let mut answer = String::new();
    std::io::BufReader::new(&tty)
        .read_line(&mut answer)
        .map_err(|e| AgentError::UntrustedCa(format!("no answer: {e}")))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}
