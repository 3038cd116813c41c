//! The node table as the seed documents it, and the provisioning decision.
#![allow(clippy::expect_used)]

use latchkey_policy::effective::PolicySources;
use latchkey_policy::node::{DefaultValue, Node, Op, Scope, Scopes, ValueType, NODES};
use latchkey_policy::provision::{
    decide, CheckName, CheckState, DeviceFacts, JoinType, KeyProtection, ProvisioningOutcome,
    TpmState,
};
use latchkey_policy::settings::PolicySettings;
use latchkey_policy::{EffectivePolicy, Value};

/// (path, type, default, scopes, inclusive int range)
type Row = (
    &'static str,
    ValueType,
    DefaultValue,
    Scopes,
    Option<(i64, i64)>,
);

#[test]
fn every_leaf_as_the_seed_documents_it() {
    use DefaultValue as D;
    use Scopes::{DeviceAndUser as Both, DeviceOnly as Dev};
    use ValueType::{Bool, Chr, Int};
    let table: &[Row] = &[
        (
            "{TenantId}/Policies/UsePassportForWork",
            Bool,
            D::Bool(true),
            Both,
            None,
        ),
        (
            "{TenantId}/Policies/RequireSecurityDevice",
            Bool,
            D::Bool(false),
            Both,
            None,
        ),
        (
            "{TenantId}/Policies/ExcludeSecurityDevices/TPM12",
            Bool,
            D::Bool(false),
            Dev,
            None,
        ),
        (
            "{TenantId}/Policies/EnablePinRecovery",
            Bool,
            D::Bool(false),
            Both,
            None,
        ),
        (
            "{TenantId}/Policies/UseCertificateForOnPremAuth",
            Bool,
            D::Bool(false),
            Dev,
            None,
        ),
        (
            "{TenantId}/Policies/PINComplexity/MinimumPINLength",
            Int,
            D::Int(4),
            Both,
            Some((4, 127)),
        ),
        (
            "{TenantId}/Policies/PINComplexity/MaximumPINLength",
            Int,
            D::Int(127),
            Both,
            Some((4, 127)),
        ),
        (
            "{TenantId}/Policies/PINComplexity/UppercaseLetters",
            Int,
            D::Int(2),
            Both,
            Some((0, 2)),
        ),
        (
            "{TenantId}/Policies/PINComplexity/LowercaseLetters",
            Int,
            D::Int(2),
            Both,
            Some((0, 2)),
        ),
        (
            "{TenantId}/Policies/PINComplexity/SpecialCharacters",
            Int,
            D::Int(2),
            Both,
            Some((0, 2)),
        ),
        (
            "{TenantId}/Policies/PINComplexity/Digits",
            Int,
            D::Int(1),
            Both,
            Some((0, 2)),
        ),
        (
            "{TenantId}/Policies/PINComplexity/History",
            Int,
            D::Int(0),
            Both,
            Some((0, 50)),
        ),
        (
            "{TenantId}/Policies/PINComplexity/Expiration",
            Int,
            D::Int(0),
            Both,
            Some((0, 730)),
        ),
        (
            "{TenantId}/Policies/Remote/UseRemotePassport",
            Bool,
            D::Bool(false),
            Dev,
            None,
        ),
        (
            "{TenantId}/Policies/UseHelloCertificatesAsSmartCardCertificates",
            Bool,
            D::Bool(false),
            Dev,
            None,
        ),
        ("UseBiometrics", Bool, D::Bool(true), Both, None),
        ("Biometrics/UseBiometrics", Bool, D::Bool(true), Dev, None),
        (
            "Biometrics/FacialFeaturesUseEnhancedAntiSpoofing",
            Bool,
            D::Bool(false),
            Dev,
            None,
        ),
        ("DeviceUnlock/GroupA", Chr, D::None, Dev, None),
        ("DeviceUnlock/GroupB", Chr, D::None, Dev, None),
        ("DeviceUnlock/Plugins", Chr, D::None, Dev, None),
        ("DynamicLock/DynamicLock", Bool, D::Bool(false), Dev, None),
        ("DynamicLock/Plugins", Chr, D::None, Dev, None),
        (
            "SecurityKey/UseSecurityKeyForSignin",
            Int,
            D::Int(0),
            Dev,
            Some((0, 1)),
        ),
    ];
    assert_eq!(Node::leaves().count(), table.len());
    for (path, ty, default, scopes, range) in table {
        let spec = NODES
            .iter()
            .find(|s| s.node.path() == *path)
            .unwrap_or_else(|| panic!("{path}"));
        assert_eq!(
            (spec.ty, spec.default, spec.scopes),
            (*ty, *default, *scopes),
            "{path}"
        );
        for op in [Op::Add, Op::Delete, Op::Get, Op::Replace] {
            assert!(spec.ops.allows(op), "{path} {op:?}");
        }
        if let Some((lo, hi)) = range {
            assert!(
                spec.check(&Value::Int(*lo)).is_ok() && spec.check(&Value::Int(*hi)).is_ok(),
                "{path}"
            );
            assert!(
                spec.check(&Value::Int(lo - 1)).is_err()
                    && spec.check(&Value::Int(hi + 1)).is_err(),
                "{path}"
            );
        }
        assert!(spec.scopes.contains(Scope::Device));
        assert_eq!(spec.scopes.contains(Scope::User), *scopes == Both);
    }
    assert!(Node::UseBiometricsDeprecated.spec().deprecated);
    let sk = Node::SecurityKey.spec();
    assert!(
        sk.ops.allows(Op::Get)
            && !sk.ops.allows(Op::Add)
            && !sk.ops.allows(Op::Replace)
            && !sk.ops.allows(Op::Delete)
    );
    for interior in [
        Node::ExcludeSecurityDevices,
        Node::Remote,
        Node::Biometrics,
        Node::DeviceUnlock,
        Node::DynamicLock,
        Node::SecurityKey,
    ] {
        assert_eq!(interior.spec().scopes, Dev, "{interior}");
    }
    for interior in [Node::Tenant, Node::Policies, Node::PinComplexity] {
        assert_eq!(interior.spec().scopes, Both, "{interior}");
    }
}

fn policy(s: PolicySettings) -> EffectivePolicy {
    EffectivePolicy::compute(&PolicySources {
        device_csp: s,
        ..Default::default()
    })
}

const LOCAL_TPM2: DeviceFacts = DeviceFacts {
    tpm: TpmState::UsableTpm20,
    remote_session: false,
    certificate_received: false,
};

fn state(d: &latchkey_policy::ProvisioningDecision, n: CheckName) -> CheckState {
    d.checks
        .iter()
        .find(|c| c.name == n)
        .map(|c| c.state)
        .expect("check present")
}

#[test]
fn join_type_defaults() {
    let none = EffectivePolicy::default();
    assert_eq!(
        decide(JoinType::Cloud, &none, &LOCAL_TPM2).outcome,
        ProvisioningOutcome::WillProvision {
            protection: KeyProtection::Tpm,
            waits_for_certificate: false
        }
    );
    assert_eq!(
        decide(JoinType::Hybrid, &none, &LOCAL_TPM2).outcome,
        ProvisioningOutcome::WillNotProvision
    );
    assert_eq!(
        decide(JoinType::Registered, &none, &LOCAL_TPM2).outcome,
        ProvisioningOutcome::WillNotProvision
    );
    let on = policy(PolicySettings {
        use_passport_for_work: Some(true),
        ..Default::default()
    });
    assert!(matches!(
        decide(JoinType::Hybrid, &on, &LOCAL_TPM2).outcome,
        ProvisioningOutcome::WillProvision { .. }
    ));
    let r = decide(JoinType::Registered, &on, &LOCAL_TPM2);
    assert_eq!(state(&r, CheckName::IsDeviceJoined), CheckState::No);
    let off = policy(PolicySettings {
        use_passport_for_work: Some(false),
        ..Default::default()
    });
    let d = decide(JoinType::Cloud, &off, &LOCAL_TPM2);
    assert_eq!(
        (d.outcome, state(&d, CheckName::PolicyEnabled)),
        (ProvisioningOutcome::WillNotProvision, CheckState::No)
    );
}

#[test]
fn tpm_remote_and_certificate() {
    let none = EffectivePolicy::default();
    let remote = DeviceFacts {
        remote_session: true,
        ..LOCAL_TPM2
    };
    assert_eq!(
        decide(JoinType::Cloud, &none, &remote).outcome,
        ProvisioningOutcome::WillNotProvision
    );
    let no_tpm = DeviceFacts {
        tpm: TpmState::Absent,
        ..LOCAL_TPM2
    };
    assert_eq!(
        decide(JoinType::Cloud, &none, &no_tpm).outcome,
        ProvisioningOutcome::WillProvision {
            protection: KeyProtection::Software,
            waits_for_certificate: false
        }
    );
    let req = policy(PolicySettings {
        require_security_device: Some(true),
        ..Default::default()
    });
    let d = decide(JoinType::Cloud, &req, &no_tpm);
    assert_eq!(
        (
            d.outcome,
            state(&d, CheckName::DeviceEligible),
            state(&d, CheckName::RequireSecurityDevice)
        ),
        (
            ProvisioningOutcome::WillNotProvision,
            CheckState::No,
            CheckState::No
        )
    );
    let tpm12 = DeviceFacts {
        tpm: TpmState::UsableTpm12,
        ..LOCAL_TPM2
    };
    assert!(matches!(
        decide(JoinType::Cloud, &req, &tpm12).outcome,
        ProvisioningOutcome::WillProvision {
            protection: KeyProtection::Tpm,
            ..
        }
    ));
    let req_no12 = policy(PolicySettings {
        require_security_device: Some(true),
        exclude_tpm12: Some(true),
        ..Default::default()
    });
    assert_eq!(
        decide(JoinType::Cloud, &req_no12, &tpm12).outcome,
        ProvisioningOutcome::WillNotProvision
    );
    let cert = policy(PolicySettings {
        use_certificate_for_on_prem_auth: Some(true),
        ..Default::default()
    });
    let d = decide(JoinType::Cloud, &cert, &LOCAL_TPM2);
    assert_eq!(state(&d, CheckName::CertEnrollment), CheckState::Pending);
    assert_eq!(
        d.outcome,
        ProvisioningOutcome::WillProvision {
            protection: KeyProtection::Tpm,
            waits_for_certificate: true
        }
    );
    let got = DeviceFacts {
        certificate_received: true,
        ..LOCAL_TPM2
    };
    assert_eq!(
        state(
            &decide(JoinType::Cloud, &cert, &got),
            CheckName::CertEnrollment
        ),
        CheckState::Yes
    );
}
