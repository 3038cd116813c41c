//! `latchkey cert enroll|renew|show`: the user's Hello certificate.

use anyhow::Result;
use latchkey_agent::cert_record::CertRecord;
use latchkey_agent::status::rfc3339;
use latchkey_agent::{Agent, AgentError, Renewal};

use crate::cli::{CertEnrollArgs, CertRenewArgs, CertShowArgs};
use crate::input;

/// `latchkey cert enroll`.
pub fn enroll(agent: &Agent, args: CertEnrollArgs) -> Result<()> {
    let upn = agent.user_or_owner(args.user.as_deref())?;
    agent.check_pin_lockout(&upn)?;
    let pin = input::pin(args.pin_stdin)?;
    let record = agent.cert_enroll(&upn, &pin, args.template.as_deref())?;
    print_installed("enrolled", &record);
    Ok(())
}

/// `latchkey cert renew`.
pub fn renew(agent: &Agent, args: CertRenewArgs) -> Result<()> {
    let upn = agent.user_or_owner(args.user.as_deref())?;
    // Whether anything is due is known before a PIN is asked for.
    let current = agent
        .certificate(&upn)?
        .ok_or_else(|| AgentError::NoCertificate { upn: upn.clone() })?;
    if current.renew_after > agent.now() {
        println!(
            "The certificate of {upn} is not due for renewal until {}; nothing was sent.",
            rfc3339(current.renew_after)
        );
        return Ok(());
    }
    agent.check_pin_lockout(&upn)?;
    let pin = input::pin(args.pin_stdin)?;
    match agent.cert_renew(&upn, &pin)? {
        Renewal::Renewed(record) => print_installed("renewed", &record),
        Renewal::NotDue { renew_after } => println!(
            "The certificate of {upn} is not due for renewal until {}; nothing was sent.",
            rfc3339(renew_after)
        ),
    }
    Ok(())
}

/// `latchkey cert show`.
pub fn show(agent: &Agent, args: CertShowArgs) -> Result<()> {
    let upn = agent.user_or_owner(args.user.as_deref())?;
    let record = agent
        .certificate(&upn)?
        .ok_or(AgentError::NoCertificate { upn })?;
    if args.pem {
        print!("{}", record.certificate_pem);
        for pem in &record.chain_pem {
            print!("{pem}");
        }
    } else if args.json {
        println!("{}", serde_json::to_string_pretty(&record)?);
    } else {
        println!("User       : {}", record.upn);
        println!("Certificate: {}", record.describe(agent.now()));
        if let Some(sha) = record.sha256() {
            // The form `latchkeyd cert show` prints.
            println!("SHA-256    : {sha}");
        }
        println!("Key id     : {}", record.key_id);
    }
    Ok(())
}

fn print_installed(how: &str, record: &CertRecord) {
    println!("Certificate {how} and installed for {}.", record.upn);
    println!("Serial     : {}", record.serial);
    println!("Thumbprint : {}", record.thumbprint);
    println!("Template   : {}", record.template);
    println!(
        "Valid      : {} to {} (renews from {})",
        rfc3339(record.not_before),
        rfc3339(record.not_after),
        rfc3339(record.renew_after)
    );
}
