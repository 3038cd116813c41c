//! `latchkey pin reset` (also `latchkey hello pin reset`): a forgotten PIN replaced after a
//! fresh MFA, keeping the key when the organisation allows PIN recovery (docs/pin-reset.md).

use anyhow::Result;
use latchkey_agent::{Agent, AgentError, Credentials};

use crate::cli::PinResetArgs;
use crate::input;

/// Runs `pin reset`.
pub fn pin_reset(agent: &Agent, args: PinResetArgs) -> Result<()> {
    let upn = agent.user_or_owner(args.user.as_deref())?;
    if agent.stored_key(&upn)?.is_none() {
        return Err(AgentError::NotProvisioned { upn }.into());
    }
    // Which kind, decided (and said) before any secret is asked for.
    let keep_key = if args.destructive {
        false
    } else {
        match agent.non_destructive_reset(&upn) {
            Ok(()) => true,
            Err(why) => {
                eprintln!("{why}");
                eprintln!(
                    "A new Hello key will be made: the old one is deleted at the service, and services that trusted it will need the new one."
                );
                false
            }
        }
    };
    // The service answers and is trusted before the password is asked for.
    agent.check_service()?;
    let password = input::password(args.password_stdin)?;
    let otp = input::otp(args.otp, !args.password_stdin)?;
    let credentials = Credentials { password, otp };
    let policy = agent.policy_for(Some(&upn))?;
    let pin = input::new_pin_checked(
        args.pin_stdin,
        &latchkey_agent::policy_view::pin_rules_summary(&policy),
        &|pin| latchkey_agent::check_pin(pin, &policy),
    )?;
    if keep_key {
        let done = agent.reset_pin(&upn, &pin, &credentials)?;
        println!(
            "PIN reset for {}. The key is unchanged: {}",
            done.upn, done.key_id
        );
        return Ok(());
    }
    let done =
        agent.reset_pin_destructive(&upn, &pin, &credentials, &mut |line| eprintln!("{line}"))?;
    println!("A new Hello key was made for {}: {}", done.upn, done.key_id);
    if let Some(old) = done.replaced_key_id {
        println!("The old key {old} was deleted; services that trusted it need the new one.");
    }
    if agent.provider().as_tpm().is_some() {
        if let Err(e) = agent.fill_pool() {
            eprintln!("warning: the TPM key pool was not refilled: {e}");
        }
    }
    Ok(())
}
