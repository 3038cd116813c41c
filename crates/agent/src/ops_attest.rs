//! The device's TPM identity with the service (credential activation), at join and with
//! `latchkey tpm attest`, and the TPM2_Certify of a Hello key at `hello setup`.
//!
//! Activation: the TPM makes an AIK under its EK; the device sends the EK certificate,
//! the EK and AIK public areas and what it knows of its TPM, signed by the device key
//! (`POST /v1/devices/tpm/activate/begin`); the TPM recovers the service's secret with
//! TPM2_ActivateCredential; the device returns it, signed again (`.../finish`); the
//! service records the AIK as this device's, and the agent stores it in
//! [`crate::tpm_identity`]. A failure is recorded (file and event 372) and never undoes
//! the join.

use latchkey_proto::api::tpm::{
    activate_begin_fields, activate_finish_fields, key_attestation_extra_data, KeyAttestation,
    TpmActivateBegin, TpmActivateFinish, TpmDescription,
};
use latchkey_proto::b64;
use latchkey_proto::proof::Purpose;
use latchkey_tpm::{Tcti, Tpm};

use crate::agent::Agent;
use crate::client::{ServiceClient, TPM_ACTIVATE_BEGIN, TPM_ACTIVATE_FINISH};
use crate::error::AgentError;
use crate::events::{self, Event};
use crate::provider::StoredKey;
use crate::records::DeviceRecord;
use crate::tpm_container::derive_auth;
use crate::tpm_identity::{AttestFailure, AttestedAik, TpmIdentity, TPM_IDENTITY_VERSION};

/// What `latchkey tpm attest` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttestOutcome {
    /// The device was attested already; nothing was done.
    AlreadyAttested(AttestedAik),
    /// A new AIK was made and activated.
    Attested(AttestedAik),
}

/// The device's TPM attestation state, as `status` and the CLI show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TpmAttestationState {
    /// Not joined.
    NotJoined,
    /// The key provider in use has no TPM: keys register without attestation.
    Software,
    /// An AIK is activated (and perhaps a later attempt failed).
    Attested(Box<AttestedAik>, Option<AttestFailure>),
    /// No AIK is activated; why.
    NotAttested(String),
}

impl TpmAttestationState {
    /// The `DeviceTpmAttestation` line of `status`.
    pub fn describe(&self) -> String {
        match self {
            TpmAttestationState::NotJoined => "-".to_owned(),
            TpmAttestationState::Software => {
                "SOFTWARE (no TPM in use: Hello keys register without attestation)".to_owned()
            }
            TpmAttestationState::Attested(a, None) => format!("ATTESTED ({})", a.describe()),
            TpmAttestationState::Attested(a, Some(f)) => format!(
                "ATTESTED ({}; the last re-attestation failed: {})",
                a.describe(),
                f.message
            ),
            TpmAttestationState::NotAttested(why) => format!("NOT ATTESTED: {why}"),
        }
    }
}

impl Agent {
    /// After a join: activates the device's TPM identity when the key provider is the
    /// TPM's. Never fails the join: a failure is recorded in `tpm-identity.json` and as
    /// event 372, and [`Agent::tpm_attestation`] reports it.
    pub(crate) fn attest_tpm_after_join(&self, record: &DeviceRecord) {
        if self.provider.attestation_tcti().is_some() {
            // The outcome is recorded either way; the join stands.
            let _ = self.activate_identity(record, None);
        }
    }

    /// `latchkey tpm attest`: activates the device's TPM identity with the service. When
    /// an AIK is already activated, does nothing unless `renew` (then a new AIK is made
    /// and activated, and replaces the old one once the service accepted it).
    pub fn attest_tpm(&self, renew: bool) -> Result<AttestOutcome, AgentError> {
        let record = DeviceRecord::require(&self.state)?;
        if self.provider.attestation_tcti().is_none() {
            return Err(AgentError::TpmAttestationNeedsTpm {
                provider: self.provider.name().to_owned(),
            });
        }
        // A damaged or foreign file is replaced by a new activation only with `renew`.
        let existing = TpmIdentity::load(&self.state, &record.device_id);
        let existing = match existing {
            Ok(i) => i,
            Err(_) if renew => None,
            Err(e) => return Err(e),
        };
        if let (Some(a), false) = (existing.as_ref().and_then(|i| i.attested.clone()), renew) {
            return Ok(AttestOutcome::AlreadyAttested(a));
        }
        self.activate_identity(&record, existing)
            .map(AttestOutcome::Attested)
    }

    /// The device's TPM attestation state (a damaged file is reported in it, not as an
    /// error).
    pub fn tpm_attestation(&self) -> Result<TpmAttestationState, AgentError> {
        let Some(record) = self.device()? else {
            return Ok(TpmAttestationState::NotJoined);
        };
        if self.provider.attestation_tcti().is_none() {
            return Ok(TpmAttestationState::Software);
        }
        Ok(match TpmIdentity::load(&self.state, &record.device_id) {
            Err(e) => TpmAttestationState::NotAttested(e.to_string()),
            Ok(None) => TpmAttestationState::NotAttested(
                "never attempted (joined without the TPM key provider, or by an earlier version); run `latchkey tpm attest`".to_owned(),
            ),
            Ok(Some(TpmIdentity {
                attested: Some(a),
                last_failure,
                ..
            })) => TpmAttestationState::Attested(Box::new(a), last_failure),
            Ok(Some(TpmIdentity {
                last_failure: Some(f),
                ..
            })) => TpmAttestationState::NotAttested(format!(
                "{} (run `latchkey tpm attest` to try again)",
                f.message
            )),
            Ok(Some(_)) => TpmAttestationState::NotAttested("no activation recorded".to_owned()),
        })
    }

    /// Runs one activation and records its outcome (`existing`: the identity stored now,
    /// kept when the attempt fails).
    fn activate_identity(
        &self,
        record: &DeviceRecord,
        existing: Option<TpmIdentity>,
    ) -> Result<AttestedAik, AgentError> {
        let result = self
            .provider
            .attestation_tcti()
            .ok_or_else(|| AgentError::TpmAttestationNeedsTpm {
                provider: self.provider.name().to_owned(),
            })
            .and_then(|tcti| self.activation_round_trip(record, tcti));
        let mut identity = existing.unwrap_or(TpmIdentity {
            version: TPM_IDENTITY_VERSION,
            device_id: record.device_id.clone(),
            attested: None,
            last_failure: None,
        });
        identity.version = TPM_IDENTITY_VERSION;
        identity.device_id = record.device_id.clone();
        match result {
            Ok(aik) => {
                identity.attested = Some(aik.clone());
                identity.last_failure = None;
                identity.save(&self.state)?;
                events::record(
                    &self.state,
                    Event {
                        id: events::id::TPM_ATTESTED,
                        time: self.now(),
                        level: "Information".to_owned(),
                        message: "The device's TPM identity was activated by the service"
                            .to_owned(),
                        data: vec![
                            ("DeviceId".to_owned(), record.device_id.clone()),
                            ("AikName".to_owned(), aik.aik_name.clone()),
                            ("Manufacturer".to_owned(), aik.manufacturer.clone()),
                            ("Root".to_owned(), aik.root.clone()),
                        ],
                    },
                )?;
                Ok(aik)
            }
            Err(e) => {
                identity.last_failure = Some(AttestFailure {
                    code: e.code().to_owned(),
                    message: e.to_string(),
                    at: self.now(),
                });
                // Recording is best effort: the attempt's own error is what the caller
                // needs to see.
                let _ = identity.save(&self.state);
                let _ = events::record(
                    &self.state,
                    Event {
                        id: events::id::TPM_ATTESTATION_FAILED,
                        time: self.now(),
                        level: "Warning".to_owned(),
                        message: "The device's TPM identity could not be activated; the device stays joined and its Hello keys register without attestation".to_owned(),
                        data: vec![
                            ("DeviceId".to_owned(), record.device_id.clone()),
                            ("Code".to_owned(), e.code().to_owned()),
                            ("Reason".to_owned(), e.to_string()),
                        ],
                    },
                );
                Err(e)
            }
        }
    }

    /// Begin, TPM2_ActivateCredential, finish.
    fn activation_round_trip(
        &self,
        record: &DeviceRecord,
        tcti: &Tcti,
    ) -> Result<AttestedAik, AgentError> {
        // swtpm serves one connection at a time: each TPM step opens and closes it.
        let (info, ek, aik) = {
            let mut tpm = Tpm::open(tcti).map_err(AgentError::Tpm)?;
            let info = tpm.info().map_err(AgentError::Tpm)?;
            let ek = tpm.endorsement().map_err(AgentError::Tpm)?;
            let aik = tpm.create_aik().map_err(AgentError::Tpm)?;
            (info, ek, aik)
        };
        let aik_public = aik.public_area().map_err(AgentError::Tpm)?;
        let aik_name = hex::encode(aik.name().map_err(AgentError::Tpm)?);
        let client = ServiceClient::new(&record.server_url, &record.ca_pem)?;
        let device_key = self.device_key(record)?;
        let nonce = client.nonce(Purpose::TpmActivate)?;
        let fields = activate_begin_fields(
            &record.tenant_id,
            &record.device_id,
            &ek.public_area,
            &aik_public,
        );
        let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
        let challenge = client
            .tpm_activate_begin(&TpmActivateBegin {
                device_id: record.device_id.clone(),
                device_signature: device_key.prove(Purpose::TpmActivate, &nonce, &refs)?,
                nonce,
                ek_public: b64::encode(&ek.public_area),
                ek_certificate: b64::encode(&ek.certificate),
                ek_chain: Vec::new(),
                aik_public: b64::encode(&aik_public),
                tpm: TpmDescription {
                    family: info.family.clone(),
                    manufacturer: info.manufacturer.clone(),
                    firmware: info.firmware(),
                },
            })
            .map_err(|e| unsupported(e, record, TPM_ACTIVATE_BEGIN))?;
        let bad = |what: &str, e: String| AgentError::BadResponse {
            context: TPM_ACTIVATE_BEGIN,
            reason: format!("{what}: {e}"),
        };
        let blob = b64::decode("credential_blob", &challenge.credential_blob)
            .map_err(|e| bad("credential_blob", e.to_string()))?;
        let secret_in = b64::decode("encrypted_secret", &challenge.encrypted_secret)
            .map_err(|e| bad("encrypted_secret", e.to_string()))?;
        let secret = Tpm::open(tcti)
            .and_then(|mut tpm| tpm.activate_credential(&aik, &blob, &secret_in))
            .map_err(AgentError::Tpm)?;
        let nonce = client.nonce(Purpose::TpmActivate)?;
        let fields =
            activate_finish_fields(&record.tenant_id, &record.device_id, &challenge.activation);
        let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
        let done = client
            .tpm_activate_finish(&TpmActivateFinish {
                device_id: record.device_id.clone(),
                activation: challenge.activation.clone(),
                secret: b64::encode(&secret),
                device_signature: device_key.prove(Purpose::TpmActivate, &nonce, &refs)?,
                nonce,
            })
            .map_err(|e| unsupported(e, record, TPM_ACTIVATE_FINISH))?;
        if done.aik_name != aik_name {
            return Err(AgentError::BadResponse {
                context: TPM_ACTIVATE_FINISH,
                reason: format!(
                    "the service activated AIK {} instead of {aik_name}",
                    done.aik_name
                ),
            });
        }
        Ok(AttestedAik {
            aik_private: b64::encode(aik.private_bytes()),
            aik_public: b64::encode(&aik_public),
            aik_name,
            manufacturer: done.manufacturer,
            model: done.model,
            firmware: done.version,
            root: done.root,
            tcti: tcti.to_string(),
            attested_at: self.now(),
        })
    }

    /// The activated AIK, when the device has one (for `hello setup`); a damaged or
    /// foreign identity file is an error, so a key is never registered as unattested by
    /// accident of a broken file.
    pub(crate) fn attested_aik(
        &self,
        record: &DeviceRecord,
    ) -> Result<Option<AttestedAik>, AgentError> {
        if self.provider.attestation_tcti().is_none() {
            return Ok(None);
        }
        Ok(TpmIdentity::load(&self.state, &record.device_id)?.and_then(|i| i.attested))
    }

    /// TPM2_Certify of the new Hello key `stored` (protected by `pin`) by `aik`, over the
    /// registration `nonce`; `None` for a software key.
    pub(crate) fn certify_hello_key(
        &self,
        stored: &StoredKey,
        pin: &str,
        aik: &AttestedAik,
        nonce: &str,
    ) -> Result<Option<KeyAttestation>, AgentError> {
        let (StoredKey::Tpm(c), Some(tcti)) = (stored, self.provider.attestation_tcti()) else {
            return Ok(None);
        };
        let path = self
            .state
            .path(crate::tpm_identity::TPM_IDENTITY_FILE)
            .display()
            .to_string();
        let aik_blob = aik.blob(&path)?;
        let container = format!("the TPM container of {}", c.upn);
        let key = c.blob(&container)?;
        let auth = derive_auth(&c.salt(&container)?, pin);
        let extra = key_attestation_extra_data(nonce);
        let certified = Tpm::open(tcti)
            .and_then(|mut tpm| tpm.certify(&key, &auth, &aik_blob, &extra))
            .map_err(|e| AgentError::TpmCertifyFailed {
                detail: e.to_string(),
            })?;
        Ok(Some(KeyAttestation {
            key_public: b64::encode(key.public_area().map_err(AgentError::Tpm)?),
            certify_info: b64::encode(&certified.attest),
            signature: b64::encode(&certified.signature),
        }))
    }
}

/// A 404 from the activation route: the service predates TPM attestation.
fn unsupported(e: AgentError, record: &DeviceRecord, route: &'static str) -> AgentError {
    match e {
        AgentError::Service {
            status: 404, code, ..
        } => AgentError::TpmAttestationUnsupported {
            url: record.server_url.clone(),
            route,
            code,
        },
        other => other,
    }
}
