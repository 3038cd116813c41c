//! The Ngc prerequisite check on this device: joined, policy, local session, eligible.

use latchkey_policy::provision::{
    CheckName, CheckState, DeviceFacts, ProvisioningDecision, ProvisioningOutcome, TpmState,
};
use latchkey_policy::EffectivePolicy;
use latchkey_proto::api::device::JoinType;

use crate::events::{self, Event};
use crate::records::DeviceRecord;

/// The environment variables that mark a remote (SSH) session.
pub const REMOTE_SESSION_VARS: [&str; 3] = ["SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY"];

/// Whether the session is remote, judged from the environment (`lookup` reads a variable).
pub fn is_remote_session(lookup: impl Fn(&str) -> Option<String>) -> bool {
    REMOTE_SESSION_VARS
        .iter()
        .any(|v| lookup(v).is_some_and(|value| !value.is_empty()))
}

fn policy_join_type(join: JoinType) -> latchkey_policy::JoinType {
    match join {
        JoinType::Cloud => latchkey_policy::JoinType::Cloud,
        JoinType::Hybrid => latchkey_policy::JoinType::Hybrid,
        JoinType::Registered => latchkey_policy::JoinType::Registered,
    }
}

/// The TPM state the prerequisite check judges by. Latchkey makes keys in TPM 2.0 only, so
/// a TPM 1.2 never holds a key: when policy excludes it (`ExcludeSecurityDevices/TPM12`)
/// it is reported as the excluded TPM 1.2 it is; otherwise as not usable, so that
/// `RequireSecurityDevice` refuses here rather than at the service after a software key
/// was made.
pub fn tpm_as_judged(found: TpmState, policy: &EffectivePolicy) -> TpmState {
    match found {
        TpmState::UsableTpm12 if !policy.exclude_tpm12.value => TpmState::NotUsable,
        other => other,
    }
}

/// Runs the check for `device` (`None`: not joined) under `policy`; `certificate_received`:
/// the user holds a Hello certificate that has not expired (UseCertificateForOnPremAuth).
pub fn check(
    device: Option<&DeviceRecord>,
    policy: &EffectivePolicy,
    remote_session: bool,
    tpm: TpmState,
    certificate_received: bool,
) -> ProvisioningDecision {
    let facts = DeviceFacts {
        tpm,
        remote_session,
        certificate_received,
    };
    match device {
        Some(d) => latchkey_policy::decide(policy_join_type(d.join_type), policy, &facts),
        None => {
            let mut decision =
                latchkey_policy::decide(latchkey_policy::JoinType::Registered, policy, &facts);
            for c in &mut decision.checks {
                if c.name == CheckName::IsDeviceJoined {
                    c.detail = "the device is not joined to an organisation".to_owned();
                }
            }
            decision
        }
    }
}

/// Whether the decision is `WillProvision`.
pub fn will_provision(decision: &ProvisioningDecision) -> bool {
    matches!(decision.outcome, ProvisioningOutcome::WillProvision { .. })
}

/// The name `dsregcmd /status` gives a check.
pub fn check_label(name: CheckName) -> &'static str {
    match name {
        CheckName::IsDeviceJoined => "IsDeviceJoined",
        CheckName::PolicyEnabled => "PolicyEnabled",
        CheckName::SessionIsNotRemote => "SessionIsNotRemote",
        CheckName::DeviceEligible => "DeviceEligible",
        CheckName::RequireSecurityDevice => "RequireSecurityDevice",
        CheckName::CertEnrollment => "CertEnrollment",
    }
}

/// The word for a check's state.
pub fn state_word(state: CheckState) -> &'static str {
    match state {
        CheckState::Yes => "YES",
        CheckState::No => "NO",
        CheckState::Pending => "PENDING",
        CheckState::NotRequired => "NOT REQUIRED",
    }
}

/// The event that records the decision: 358 when provisioning will launch, 360 (with a
/// yes/no per check) when it will not.
pub fn decision_event(decision: &ProvisioningDecision, upn: &str, now: i64) -> Event {
    let mut data = vec![("UPN".to_owned(), upn.to_owned())];
    for c in &decision.checks {
        data.push((
            check_label(c.name).to_owned(),
            format!("{} ({})", state_word(c.state), c.detail),
        ));
    }
    if will_provision(decision) {
        Event {
            id: events::id::PREREQUISITES_PASSED,
            time: now,
            level: "Information".to_owned(),
            message: "Windows Hello for Business prerequisites check passed: provisioning will be launched".to_owned(),
            data,
        }
    } else {
        Event {
            id: events::id::WILL_NOT_LAUNCH,
            time: now,
            level: "Warning".to_owned(),
            message: "Windows Hello for Business provisioning will not be launched".to_owned(),
            data,
        }
    }
}

/// The failed checks, in words, for an error message.
pub fn failed_checks(decision: &ProvisioningDecision) -> String {
    decision
        .checks
        .iter()
        .filter(|c| c.state == CheckState::No)
        .map(|c| format!("{}: {}", check_label(c.name), c.detail))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(join_type: JoinType) -> DeviceRecord {
        DeviceRecord {
            version: crate::records::RECORD_VERSION,
            server_url: "https://x".into(),
            ca_pem: String::new(),
            tenant_id: "t".into(),
            tenant_name: "T".into(),
            device_id: "d".into(),
            join_type,
            owner_upn: "a@x".into(),
            joined_with_mfa: true,
            joined_at: 0,
            device_certificate_pem: String::new(),
            device_key: String::new(),
            device_key_sealed: None,
            device_key_tpm: None,
        }
    }

    #[test]
    fn defaults_by_join_type_and_session() {
        let policy = EffectivePolicy::default();
        let cloud = device(JoinType::Cloud);
        let ok = check(Some(&cloud), &policy, false, TpmState::Absent, false);
        assert!(will_provision(&ok));
        assert_eq!(decision_event(&ok, "a@x", 5).id, 358);

        for d in [device(JoinType::Hybrid), device(JoinType::Registered)] {
            let no = check(Some(&d), &policy, false, TpmState::Absent, false);
            assert!(!will_provision(&no), "{:?}", d.join_type);
            let event = decision_event(&no, "a@x", 5);
            assert_eq!(event.id, 360);
            assert!(event.data.iter().any(|(_, v)| v.starts_with("NO")));
        }
        let remote = check(Some(&cloud), &policy, true, TpmState::Absent, false);
        assert!(!will_provision(&remote));
        assert!(failed_checks(&remote).contains("SessionIsNotRemote"));
        let none = check(None, &policy, false, TpmState::Absent, false);
        assert!(!will_provision(&none));
        assert!(failed_checks(&none).contains("not joined"));
    }

    #[test]
    fn ssh_variables_mark_a_remote_session() {
        assert!(!is_remote_session(|_| None));
        assert!(is_remote_session(
            |v| (v == "SSH_CONNECTION").then(|| "10.0.0.1 5555 10.0.0.2 22".to_owned())
        ));
        assert!(!is_remote_session(|_| Some(String::new())));
    }
}
