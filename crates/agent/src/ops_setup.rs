//! `latchkey hello setup`: provision a PIN-protected Hello key and register it.

use latchkey_policy::provision::ProvisioningOutcome;
use latchkey_policy::EffectivePolicy;
use latchkey_proto::api::auth::PasswordSignIn;
use latchkey_proto::api::cert::CertRequestPart;
use latchkey_proto::api::device::JoinType;
use latchkey_proto::api::key::{register_fields, RegisterKeyRequest};
use latchkey_proto::b64;
use latchkey_proto::proof::Purpose;
use zeroize::Zeroizing;

use crate::agent::Agent;
use crate::cert_record::CertRecord;
use crate::client::ServiceClient;
use crate::error::AgentError;
use crate::events::{self, Event};
use crate::pin_history::PinHistory;
use crate::prereq;
use crate::provider::StoredKey;
use crate::records::DeviceRecord;

/// A password and, for a multi-factor sign-in, a one-time code (`Debug` shows neither).
#[derive(Clone)]
pub struct Credentials {
    /// The password (wiped when dropped).
    pub password: Zeroizing<String>,
    /// The one-time code.
    pub otp: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("otp", &self.otp.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// The result of provisioning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioned {
    /// The user.
    pub upn: String,
    /// The registered key id.
    pub key_id: String,
    /// The key it replaced, if the user had one on this device.
    pub replaced_key_id: Option<String>,
    /// The Hello certificate installed with it (certificate trust), if any.
    pub certificate: Option<crate::cert_record::CertRecord>,
}

/// Whether the seed's rule lets the device stand in for the second factor: the user is the
/// registered owner of a cloud-joined device that was joined with MFA. The owner still
/// signs in with their password, and replacing a key needs a full MFA all the same.
pub fn owner_stands_in(device: &DeviceRecord, upn: &str) -> bool {
    device.join_type == JoinType::Cloud
        && device.joined_with_mfa
        && device.owner_upn.eq_ignore_ascii_case(upn)
}

/// Checks `pin` against the PIN rules of `policy`, listing every rule it breaks and then
/// the rules in force.
pub fn check_pin(pin: &str, policy: &EffectivePolicy) -> Result<(), AgentError> {
    latchkey_policy::validate_pin(pin, policy).map_err(|broken| {
        AgentError::PinPolicy(format!(
            "{} (PIN rules in force: {})",
            broken
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
            crate::policy_view::pin_rules_summary(policy)
        ))
    })
}

/// The enrolment token of a password (and one-time code) sign-in of `upn`.
pub(crate) fn enrollment_token(
    client: &ServiceClient,
    upn: &str,
    credentials: &Credentials,
) -> Result<String, AgentError> {
    Ok(client
        .password(&PasswordSignIn {
            upn: upn.to_owned(),
            password: credentials.password.to_string(),
            otp: credentials.otp.clone(),
        })?
        .token)
}

impl Agent {
    /// Whether provisioning for `upn` needs a one-time code besides the password: always,
    /// unless `upn` is the registered owner of this cloud device joined with MFA and has no
    /// key here to replace (the service is the judge: it also knows keys this device forgot).
    pub fn mfa_needed(&self, upn: &str) -> Result<bool, AgentError> {
        let device = DeviceRecord::require(&self.state)?;
        // A container that cannot be read (damaged, say) may still stand for a registered
        // key: setting up again replaces it, which needs the full MFA.
        let has_key = self.stored_key(upn).map_or(true, |c| c.is_some());
        Ok(!owner_stands_in(&device, upn) || has_key)
    }

    /// Runs the prerequisite check for `upn` under the policy in force for them and records
    /// event 358 or 360; fails with [`AgentError::WillNotProvision`] when a check fails.
    /// A pending certificate step (UseCertificateForOnPremAuth) does not stop it:
    /// [`Agent::provision`] enrols for the certificate and completes only once it is
    /// installed.
    pub fn check_prerequisites(&self, upn: &str) -> Result<(), AgentError> {
        let decision = self.prerequisites_for(Some(upn))?;
        events::record(
            &self.state,
            prereq::decision_event(&decision, upn, self.now()),
        )?;
        match decision.outcome {
            ProvisioningOutcome::WillNotProvision => Err(AgentError::WillNotProvision {
                failed: prereq::failed_checks(&decision),
            }),
            ProvisioningOutcome::WillProvision { .. } => Ok(()),
        }
    }

    /// Provisions a Hello key for `upn` protected by `pin`. Call
    /// [`Agent::check_prerequisites`] first. The password is always needed (a fresh first
    /// factor); the one-time code too when [`Agent::mfa_needed`]: the service is the judge
    /// and refuses (LK-AUTH-005) without it. `progress` receives a line while the key is
    /// generated. A failure is recorded (event 301).
    pub fn provision(
        &self,
        upn: &str,
        pin: &str,
        credentials: &Credentials,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Provisioned, AgentError> {
        let done = self.provision_as(upn, pin, credentials, progress, false);
        match &done {
            // Event 300 is recorded with the key.
            Ok(_) | Err(AgentError::NotJoined) => {}
            Err(e) => {
                let mut data = vec![("UPN".to_owned(), upn.to_owned())];
                data.extend(events::failure_data(e));
                self.note(
                    events::id::KEY_REGISTRATION_FAILED,
                    "Error",
                    "Windows Hello for Business key registration failed",
                    data,
                );
            }
        }
        done
    }

    /// [`Agent::provision`]; `pin_reset` marks the registration as a destructive PIN reset
    /// (for the service's audit line).
    pub(crate) fn provision_as(
        &self,
        upn: &str,
        pin: &str,
        credentials: &Credentials,
        progress: &mut dyn FnMut(&str),
        pin_reset: bool,
    ) -> Result<Provisioned, AgentError> {
        let device = DeviceRecord::require(&self.state)?;
        check_pin(pin, &self.policy_for(Some(upn))?)?;
        // The activated AIK, read before anything is made: a damaged identity file stops
        // here (LK-STATE-010/011) rather than registering an unattested key.
        let aik = self.attested_aik(&device)?;
        crate::pool::remove_legacy(&self.state)?;
        let client = ServiceClient::new(&device.server_url, &device.ca_pem)?;
        let token = enrollment_token(&client, upn, credentials)?;
        // The PIN-recovery key, fetched before anything is registered, so that the recovery
        // part is made below without another round trip.
        if self.policy_for(Some(upn))?.enable_pin_recovery.value {
            self.refresh_recovery_key(&client)?;
        }
        self.record_provider(upn)?;
        // The provider makes the key (in memory for software, in the TPM for the TPM
        // provider) and its stored form together, so that once the service has the key
        // nothing slow or fallible stands between it and the stored form being written.
        // With the TPM provider, a key from the TPM key pool when there is one.
        let (mut stored, key) = self.create_hello_key(upn, pin, progress)?;
        let key_id = key.key_id();
        let nonce = client.nonce(Purpose::RegisterKey)?;
        // A TPM key of an attested device is certified by the AIK over this nonce; without
        // an AIK the key registers unattested and the service's policy decides.
        let tpm_attestation = match &aik {
            Some(aik) => self.certify_hello_key(&stored, pin, aik, &nonce)?,
            None => None,
        };
        // Under UseCertificateForOnPremAuth the certificate comes with the registration, in
        // its transaction: refused, the key is not registered either, and nothing is
        // stored here.
        let policy = self.policy_for(Some(upn))?;
        let required = policy.use_certificate_for_on_prem_auth.value;
        let request = if required {
            Some(self.certificate_request(upn, key.as_ref())?)
        } else {
            None
        };
        let fields = register_fields(
            &device.tenant_id,
            &device.device_id,
            upn,
            &key_id,
            request.as_ref().map(|(_, _, binding)| binding.as_str()),
        );
        let registered = client.register_key(
            &RegisterKeyRequest {
                device_id: device.device_id.clone(),
                upn: upn.to_owned(),
                nonce: nonce.clone(),
                public_key: key.public_key(),
                device_signature: self.device_key(&device)?.prove(
                    Purpose::RegisterKey,
                    &nonce,
                    &fields,
                )?,
                key_signature: key.prove(Purpose::RegisterKey, &nonce, &fields)?,
                tpm_attestation,
                certificate_request: request.as_ref().map(|(_, csr, _)| CertRequestPart {
                    csr: b64::encode(csr),
                    template: None,
                }),
                pin_reset,
            },
            Some(token.as_str()),
        );
        let response = match registered {
            Ok(r) => r,
            Err(e) if required && e.code().starts_with("LK-CERT-") => {
                self.record_cert_failure(events::id::CERT_ENROLLMENT_FAILED, upn, &e);
                return Err(AgentError::WaitingForCertificate {
                    detail: format!(
                        "UseCertificateForOnPremAuth is on ({}) and the service refused the certificate, so the key was not registered: {e}",
                        policy.use_certificate_for_on_prem_auth.source.label()
                    ),
                });
            }
            Err(e) => return Err(e),
        };
        if response.key_id != key_id {
            return Err(AgentError::BadResponse {
                context: "POST /v1/keys",
                reason: format!("registered key id {} is not {key_id}", response.key_id),
            });
        }
        if let StoredKey::Tpm(c) = &mut stored {
            c.attestation = Some(response.attestation.clone());
        }
        let certificate = match (&request, &response.certificate) {
            (Some((spki, _, _)), Some(issued)) => Some(CertRecord::from_issued(
                upn,
                &key_id,
                spki,
                &device.ca_pem,
                issued,
                self.now(),
            )?),
            (Some(_), None) => {
                return Err(AgentError::BadResponse {
                    context: "POST /v1/keys",
                    reason: "the certificate asked for with the key did not come".into(),
                })
            }
            // A template the service assigns the user: enrolled right after, and a
            // failure leaves Hello working without a certificate (event 383).
            (None, _) => match &response.certificate_template {
                Some(name) => self
                    .mfa_token_by_signin(&device, &client, upn, key.as_ref())
                    .and_then(|mfa| {
                        self.enroll_with(&device, &client, upn, key.as_ref(), &mfa, Some(name))
                    })
                    .map_err(|e| {
                        self.record_cert_failure(events::id::CERT_ENROLLMENT_FAILED, upn, &e)
                    })
                    .ok(),
                None => None,
            },
        };
        // The certificate first: with the policy on, a key stored here means the
        // provisioning completed.
        match &certificate {
            Some(record) => self.install(record, events::id::CERT_INSTALLED, "enrolled")?,
            // A certificate of the key this one replaces certifies a key no longer here.
            None => CertRecord::remove(&self.state, upn)?,
        }
        self.attach_recovery(
            &device,
            upn,
            &mut stored,
            key.software_key(),
            Some(pin),
            None,
        )?;
        self.save_stored(&stored)?;
        // A new key starts a new PIN history: history is not kept through a reset.
        PinHistory::forget(&self.state, upn)?;
        events::record(
            &self.state,
            Event {
                id: events::id::KEY_REGISTERED,
                time: self.now(),
                level: "Information".to_owned(),
                message: "Windows Hello for Business key registered successfully".to_owned(),
                data: vec![
                    ("UPN".to_owned(), upn.to_owned()),
                    ("KeyId".to_owned(), key_id.clone()),
                    ("Attestation".to_owned(), response.attestation.clone()),
                ],
            },
        )?;
        Ok(Provisioned {
            upn: upn.to_owned(),
            key_id,
            replaced_key_id: response.replaced_key_id,
            certificate,
        })
    }
}
