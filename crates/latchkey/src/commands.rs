//! One function per subcommand: read input, call the agent, print.

use anyhow::Result;
use latchkey_agent::policy_sync::PolicyRefresh;
use latchkey_agent::status::rfc3339;
use latchkey_agent::{
    trust, Agent, AgentError, AttestOutcome, Credentials, JoinOptions, TpmAttestationState,
};
use latchkey_proto::api::device::JoinType;

use crate::cli::{
    EventsArgs, JoinArgs, JoinTypeArg, LeaveArgs, Pkcs11SignerArgs, PoolCommand, SetupArgs,
    SigninArgs, StatusArgs, TokenArgs, TpmAttestArgs,
};
use crate::input;

/// `latchkey pkcs11-signer`: serves the PKCS#11 module on stdin/stdout until it closes
/// them (docs/smart-card.md).
pub fn pkcs11_signer(agent: &Agent, args: Pkcs11SignerArgs) -> Result<()> {
    let mut input = std::io::stdin().lock();
    let mut output = std::io::stdout().lock();
    agent.pkcs11_signer(args.user.trim(), &mut input, &mut output)?;
    Ok(())
}

/// `latchkey join`.
pub fn join(agent: &Agent, args: JoinArgs) -> Result<()> {
    if let Some(existing) = agent.device()? {
        return Err(latchkey_agent::AgentError::AlreadyJoined {
            tenant: existing.tenant_id,
            device: existing.device_id,
        }
        .into());
    }
    let ca_pem = match &args.ca {
        Some(path) => trust::ca_from_file(path)?,
        None => {
            let server = args.server.clone();
            trust::ca_on_first_contact(&args.server, args.ca_fingerprint.as_deref(), &mut |fp| {
                input::confirm_fingerprint(&server, fp)
            })?
        }
    };
    // The service answers, over TLS to the CA just trusted, before any secret is asked.
    let tenant = trust::check_service(&args.server, &ca_pem)?;
    eprintln!(
        "The service at {} is trusted: tenant {}.",
        args.server.trim_end_matches('/'),
        tenant.name
    );
    let password = input::password(args.password_stdin)?;
    let otp = input::otp(args.otp, !args.password_stdin)?;
    let (record, policy) = agent.join(&JoinOptions {
        server: args.server,
        ca_pem,
        upn: args.user.trim().to_owned(),
        password,
        otp,
        join_type: match args.join_type {
            JoinTypeArg::Cloud => JoinType::Cloud,
            JoinTypeArg::Hybrid => JoinType::Hybrid,
            JoinTypeArg::Registered => JoinType::Registered,
        },
        display_name: args.name.unwrap_or_else(host_name),
        os: os_name(),
    })?;
    println!(
        "Joined {} ({}) as device {}, join type {}{}.",
        record.tenant_name,
        record.tenant_id,
        record.device_id,
        record.join_type.as_str(),
        if record.joined_with_mfa {
            ", with MFA"
        } else {
            ""
        }
    );
    report_attestation(agent)?;
    report_refresh(&policy);
    Ok(())
}

/// After a join: the device's TPM attestation, a warning on stderr when it failed.
fn report_attestation(agent: &Agent) -> Result<()> {
    match agent.tpm_attestation()? {
        TpmAttestationState::Attested(a, _) => {
            println!("TPM identity attested: {}.", a.describe());
        }
        TpmAttestationState::NotAttested(why) => eprintln!(
            "warning: the device is joined, but its TPM identity is not attested: {why}\n\
             warning: Hello keys register without TPM attestation (software keys to the \
             service) until `latchkey tpm attest` succeeds."
        ),
        TpmAttestationState::Software | TpmAttestationState::NotJoined => {}
    }
    Ok(())
}

/// `latchkey tpm attest`.
pub fn tpm_attest(agent: &Agent, args: TpmAttestArgs) -> Result<()> {
    match agent.attest_tpm(args.renew)? {
        AttestOutcome::AlreadyAttested(a) => println!(
            "TPM identity already attested: {}. Nothing done (`latchkey tpm attest --renew` \
             makes and activates a new attestation key).",
            a.describe()
        ),
        AttestOutcome::Attested(a) => {
            println!("TPM identity attested: {}.", a.describe());
            println!(
                "Hello keys set up from now on are certified by this TPM \
                 (`latchkey hello setup` to replace an unattested key)."
            );
        }
    }
    Ok(())
}

/// A next step for an error, when there is an obvious one.
pub fn hint(err: &AgentError) -> Option<&'static str> {
    match err.code() {
        "LK-HWK-013" | "LK-HWK-011" => Some(
            "the service needs a TPM-attested Hello key from this device: run `latchkey tpm \
             attest` (with the TPM key provider), then `latchkey hello setup` again",
        ),
        "LK-KEY-001" => Some(
            "the service no longer knows this Hello key (an administrator deleted it, or a \
             newer key replaced it): run `latchkey hello setup` to make a new one",
        ),
        "LK-DEV-002" => Some(
            "an administrator disabled this device: ask them to enable it again, or remove \
             it here with `latchkey leave --force` and join again",
        ),
        "LK-DEV-001" => Some(
            "the service no longer knows this device (an administrator deleted it): remove it \
             here with `latchkey leave --force`, then join again",
        ),
        "LK-AUTH-007" => Some("your account is disabled: contact your administrator"),
        "LK-PIN-003" => Some(
            "nothing was sent to the service and nothing was changed: run the command again \
             with a PIN that follows the rules",
        ),
        "LK-AGENT-039" => Some(
            "check the --server URL, and that the CA this device trusts (`--ca`, or the one \
             pinned at join) is the tenant's `ca.pem`",
        ),
        _ => None,
    }
}

/// Prints what became of a policy refresh: on stdout when received, on stderr when the last
/// policy was kept.
pub fn report_refresh(refresh: &PolicyRefresh) {
    match refresh {
        PolicyRefresh::Received { .. } => println!("{}", refresh.describe()),
        PolicyRefresh::Kept { .. } => eprintln!("{}", refresh.describe()),
    }
}

/// `latchkey hello setup`.
pub fn hello_setup(agent: &Agent, args: SetupArgs) -> Result<()> {
    let upn = agent.user_or_owner(args.user.as_deref())?;
    agent.check_prerequisites(&upn)?;
    // The service answers and is trusted before the password is asked for.
    agent.check_service()?;
    // A fresh first factor always; the one-time code too unless the registered owner's
    // device stands in for it (and there is no key to replace).
    let password = input::password(args.password_stdin)?;
    let otp = if agent.mfa_needed(&upn)? {
        input::otp(args.otp, !args.password_stdin)?
    } else {
        args.otp
    };
    let credentials = Credentials { password, otp };
    let policy = agent.policy_for(Some(&upn))?;
    let pin = input::new_pin_checked(
        args.pin_stdin,
        &latchkey_agent::policy_view::pin_rules_summary(&policy),
        &|pin| latchkey_agent::check_pin(pin, &policy),
    )?;
    let done = agent.provision(&upn, &pin, &credentials, &mut |line| eprintln!("{line}"))?;
    println!("Windows Hello key registered for {}.", done.upn);
    println!("Key id: {}", done.key_id);
    if let Some(old) = done.replaced_key_id {
        println!("Replaced key: {old}");
    }
    if let Some(cert) = &done.certificate {
        println!(
            "Certificate installed: serial {}, thumbprint {}, template {}, valid until {}.",
            cert.serial,
            cert.thumbprint,
            cert.template,
            rfc3339(cert.not_after)
        );
    }
    smart_card(agent, &upn);
    // The key is registered and the result printed: now refill the TPM key pool.
    if agent.provider().as_tpm().is_some() {
        if let Err(e) = agent.fill_pool() {
            eprintln!("warning: the TPM key pool was not refilled: {e}");
        }
    }
    Ok(())
}

/// `latchkey signin`.
pub fn signin(agent: &Agent, args: SigninArgs) -> Result<()> {
    let upn = agent.user_or_owner(args.user.as_deref())?;
    // A TPM in lockout (or a software container's delay) is reported with the wait before
    // any PIN is asked for.
    agent.check_pin_lockout(&upn)?;
    let pin = input::pin(args.pin_stdin)?;
    let done = agent.signin(&upn, &pin)?;
    println!(
        "Signed in as {}. Primary refresh token valid until {}.",
        done.sso.upn,
        rfc3339(done.sso.prt_expires_at)
    );
    report_refresh(&done.policy);
    match &done.certificate {
        Some(Ok(cert)) => println!(
            "Certificate renewed: serial {}, valid until {}.",
            cert.serial,
            rfc3339(cert.not_after)
        ),
        Some(Err(e)) => eprintln!("warning: the certificate was not renewed: {e}"),
        None => {}
    }
    smart_card(agent, &upn);
    Ok(())
}

/// UseHelloCertificatesAsSmartCardCertificates: registers the PKCS#11 module with p11-kit
/// or removes the registration (a failure is a warning: the operation itself succeeded).
pub fn smart_card(agent: &Agent, upn: &str) {
    use latchkey_agent::smart_card::SmartCardFile;
    match agent.apply_smart_card_policy(upn) {
        Ok(SmartCardFile::Registered(file)) => println!(
            "Smart card: the Hello certificate is offered to p11-kit programs ({}).",
            file.display()
        ),
        Ok(SmartCardFile::Unregistered) => {}
        Ok(SmartCardFile::Foreign(file)) => eprintln!(
            "warning: {} was not written by latchkey; it is left as it is",
            file.display()
        ),
        Err(e) => eprintln!("warning: {e}"),
    }
}

/// `latchkey token`.
pub fn token(agent: &Agent, args: TokenArgs) -> Result<()> {
    let upn = agent.user_or_owner(args.user.as_deref())?;
    println!("{}", agent.token(&upn, &args.audience)?);
    Ok(())
}

/// `latchkey status`.
pub fn status(agent: &Agent, args: StatusArgs) -> Result<()> {
    let report = agent.status(args.user.as_deref())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", latchkey_agent::status::render(&report));
    }
    Ok(())
}

/// `latchkey events`.
pub fn events(agent: &Agent, args: EventsArgs) -> Result<()> {
    let events = agent.events()?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&events)?);
        return Ok(());
    }
    if events.is_empty() {
        println!("No events.");
    }
    for e in events {
        println!(
            "{}  {:>4}  {:<11}  {}",
            rfc3339(e.time),
            e.id,
            e.level,
            e.message
        );
        for (k, v) in e.data {
            println!("{:>26}: {v}", k);
        }
    }
    Ok(())
}

/// `latchkey leave`.
pub fn leave(agent: &Agent, args: LeaveArgs) -> Result<()> {
    let device_id = agent.leave(args.force)?;
    println!(
        "Left the organisation: device {device_id} is disabled and local state removed \
         (the event log is kept: `latchkey events`)."
    );
    Ok(())
}

/// `latchkey pool ...`: the TPM key pool (the software provider keeps none; say why).
pub fn pool(agent: &Agent, command: PoolCommand) -> Result<()> {
    let report = match command {
        PoolCommand::Fill => agent.fill_pool()?,
        PoolCommand::Status => agent.pool_status()?,
    };
    print_pool(&report);
    Ok(())
}

fn print_pool(report: &latchkey_agent::tpm_pool::PoolReport) {
    for line in &report.skipped {
        eprintln!("warning: {line}");
    }
    match &report.no_pool {
        Some(why) => println!("Key pool: none: {why}."),
        None => {
            println!(
                "Key pool: {} of {} keys made in the TPM.",
                report.keys.len(),
                report.target
            );
            for (key_id, created) in &report.keys {
                println!("  {key_id}  made {}", rfc3339(*created));
            }
        }
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown-host".to_owned())
}

fn os_name() -> String {
    let pretty = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_owned())
        });
    match pretty {
        Some(p) => format!("{p} ({})", std::env::consts::ARCH),
        None => format!("{} ({})", std::env::consts::OS, std::env::consts::ARCH),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn what_an_administrator_did_comes_with_the_next_step() {
        for (code, next) in [
            ("LK-KEY-001", "latchkey hello setup"),
            ("LK-DEV-002", "latchkey leave --force"),
            ("LK-DEV-001", "latchkey leave --force"),
            ("LK-AUTH-007", "contact your administrator"),
        ] {
            let err = AgentError::Service {
                code: code.to_owned(),
                message: "refused".to_owned(),
                status: 403,
            };
            assert!(hint(&err).unwrap().contains(next), "{code}");
        }
    }

    #[test]
    fn a_refusal_for_want_of_attestation_suggests_tpm_attest() {
        for code in ["LK-HWK-013", "LK-HWK-011"] {
            let err = AgentError::Service {
                code: code.to_owned(),
                message: "refused".to_owned(),
                status: 403,
            };
            assert!(
                hint(&err).unwrap().contains("latchkey tpm attest"),
                "{code}"
            );
        }
        assert!(hint(&AgentError::NotJoined).is_none());
    }
}
