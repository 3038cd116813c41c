//! `latchkey policy sync|show` and `latchkey hello pin change`.

use anyhow::Result;
use latchkey_agent::{policy_view, Agent};

use crate::cli::{PinChangeArgs, PolicyArgs};
use crate::input;
use latchkey_agent::status::rfc3339;

/// `latchkey policy sync`: fails when the service cannot be asked (the last policy stays).
pub fn sync(agent: &Agent, args: PolicyArgs) -> Result<()> {
    let upn = agent.user_or_owner(args.user.as_deref())?;
    let previous = agent.policy_in_force(Some(&upn))?.version();
    let stored = agent.sync_policy(&upn)?;
    if !args.json {
        crate::commands::smart_card(agent, &upn);
    } else if let Err(e) = agent.apply_smart_card_policy(&upn) {
        eprintln!("warning: {e}");
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "version": stored.version,
                "previous_version": previous,
                "user": stored.upn,
                "session_id": stored.session_id,
                "commands": stored.commands,
                "failed": stored.failed,
            }))?
        );
        return Ok(());
    }
    println!(
        "Policy version {} received for {} ({} setting(s) configured{}){}.",
        stored.version,
        stored.upn,
        stored.commands,
        if stored.failed > 0 {
            format!(", {} could not be applied", stored.failed)
        } else {
            String::new()
        },
        match previous {
            Some(p) if p == stored.version => " (unchanged)".to_owned(),
            Some(p) => format!("; was version {p}"),
            None => String::new(),
        }
    );
    Ok(())
}

/// `latchkey policy show`.
pub fn show(agent: &Agent, args: PolicyArgs) -> Result<()> {
    let upn = agent.user_or_owner(args.user.as_deref()).ok();
    let in_force = agent.policy_in_force(upn.as_deref())?;
    let view = policy_view::view(&in_force);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&view)?);
    } else {
        print!(
            "{}",
            policy_view::render(&view, view.synced_at.map(rfc3339))
        );
    }
    Ok(())
}

/// `latchkey hello pin change`.
pub fn pin_change(agent: &Agent, args: PinChangeArgs) -> Result<()> {
    let upn = agent.user_or_owner(args.user.as_deref())?;
    if agent.stored_key(&upn)?.is_none() {
        return Err(latchkey_agent::AgentError::NotProvisioned { upn }.into());
    }
    let policy = agent.policy_for(Some(&upn))?;
    let (old, new) = input::pin_change(
        args.pin_stdin,
        &policy_view::pin_rules_summary(&policy),
        &|pin| latchkey_agent::check_pin(pin, &policy),
    )?;
    let done = agent.change_pin(&upn, &old, &new)?;
    println!(
        "PIN changed for {}. Key id unchanged: {}",
        done.upn, done.key_id
    );
    Ok(())
}
