//! Hello certificates (certificate trust): `latchkey cert enroll`, `latchkey cert renew`,
//! the enrolment right after `hello setup`, and the renewal at sign-in.
//!
//! The device makes a PKCS#10 request with the Hello key itself (in the TPM when the key
//! is), so the certificate certifies exactly the registered key. Enrolment is authorised
//! by the access token of a Hello sign-in made just before (the key and the PIN: a fresh
//! multi-factor sign-in, whose token carries the MFA claim) and the device's proof;
//! renewal, inside the renewal window only, by the Hello key and the device's proof,
//! without the user. An expired certificate is never renewed: it takes a new enrolment.

use latchkey_proto::api::cert::{
    csr_binding, enroll_fields, renew_fields, CertEnrollRequest, CertRenewRequest,
};
use latchkey_proto::b64;
use latchkey_proto::proof::Purpose;

use crate::agent::Agent;
use crate::cert_record::{CertPhase, CertRecord};
use crate::client::ServiceClient;
use crate::error::AgentError;
use crate::events::{self, Event};
use crate::hello_key::spki_of;
use crate::provider::HelloSigner;
use crate::records::DeviceRecord;
use crate::status::rfc3339;

/// What `latchkey cert renew` (or a sign-in) did about the certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Renewal {
    /// A new certificate for the same key was installed.
    Renewed(CertRecord),
    /// Not inside the renewal window: nothing was sent.
    NotDue {
        /// When the window opens (seconds since the epoch).
        renew_after: i64,
    },
}

impl Agent {
    /// `upn`'s Hello certificate, if any.
    pub fn certificate(&self, upn: &str) -> Result<Option<CertRecord>, AgentError> {
        CertRecord::load(&self.state, upn)
    }

    /// Whether `upn` holds a certificate that is not expired (the prerequisite check's
    /// CertEnrollment fact). A damaged record counts as none.
    pub(crate) fn certificate_received(&self, upn: &str) -> bool {
        matches!(self.certificate(upn), Ok(Some(c)) if c.phase(self.now()) != CertPhase::Expired)
    }

    /// `latchkey cert enroll`: a new certificate for `upn`'s Hello key, replacing any the
    /// device holds (an expired one included). The PIN unlocks the key; a Hello sign-in
    /// with it (the key and the PIN: a fresh multi-factor sign-in) gives the token that
    /// authorises the enrolment, and the key signs the request.
    pub fn cert_enroll(
        &self,
        upn: &str,
        pin: &str,
        template: Option<&str>,
    ) -> Result<CertRecord, AgentError> {
        let device = DeviceRecord::require(&self.state)?;
        // A wrong PIN is counted before the service hears of anything.
        let (_, hello) = self.unlock_hello(upn, pin)?;
        let client = ServiceClient::new(&device.server_url, &device.ca_pem)?;
        let token = self.mfa_token_by_signin(&device, &client, upn, hello.as_ref())?;
        let record = self.enroll_with(&device, &client, upn, hello.as_ref(), &token, template)?;
        self.install(&record, events::id::CERT_INSTALLED, "enrolled")?;
        Ok(record)
    }

    /// `latchkey cert renew`: inside the renewal window, a new certificate for the same
    /// key; before it, nothing is sent ([`Renewal::NotDue`]); after expiry,
    /// [`AgentError::CertificateExpired`] (enrol again).
    pub fn cert_renew(&self, upn: &str, pin: &str) -> Result<Renewal, AgentError> {
        let device = DeviceRecord::require(&self.state)?;
        let current = self.renewable(upn)?;
        if current.phase(self.now()) == CertPhase::Valid {
            return Ok(Renewal::NotDue {
                renew_after: current.renew_after,
            });
        }
        let (_, hello) = self.unlock_hello(upn, pin)?;
        let record = self.renew_with(&device, upn, &current, hello.as_ref())?;
        self.install(&record, events::id::CERT_RENEWED, "renewed")?;
        Ok(Renewal::Renewed(record))
    }

    /// At sign-in, with the key already unlocked: renews `upn`'s certificate when it is
    /// inside its renewal window. `None` when there is nothing to do (no certificate, not
    /// due, expired); a failure is recorded as event 382 and returned for the caller to
    /// report, never failing the sign-in.
    pub(crate) fn renew_at_signin(
        &self,
        device: &DeviceRecord,
        upn: &str,
        hello: &dyn HelloSigner,
    ) -> Option<Result<CertRecord, AgentError>> {
        let current = match self.certificate(upn) {
            Ok(Some(c)) if c.phase(self.now()) == CertPhase::RenewalDue => c,
            Ok(_) | Err(_) => return None,
        };
        if current.key_id != hello.key_id() {
            return None;
        }
        let outcome = self
            .renew_with(device, upn, &current, hello)
            .and_then(|record| {
                self.install(&record, events::id::CERT_RENEWED, "renewed at sign-in")?;
                Ok(record)
            });
        if let Err(e) = &outcome {
            self.record_cert_failure(events::id::CERT_RENEWAL_FAILED, upn, e);
        }
        Some(outcome)
    }

    /// The current certificate of `upn` when it may be renewed: present and not expired.
    fn renewable(&self, upn: &str) -> Result<CertRecord, AgentError> {
        let current = self
            .certificate(upn)?
            .ok_or_else(|| AgentError::NoCertificate {
                upn: upn.to_owned(),
            })?;
        if current.phase(self.now()) == CertPhase::Expired {
            return Err(AgentError::CertificateExpired {
                upn: upn.to_owned(),
                at: rfc3339(current.not_after),
            });
        }
        Ok(current)
    }

    /// Enrols `hello` (the unlocked key of `upn`) with the enrolment token `token`; checks
    /// and returns the record without storing it.
    pub(crate) fn enroll_with(
        &self,
        device: &DeviceRecord,
        client: &ServiceClient,
        upn: &str,
        hello: &dyn HelloSigner,
        token: &str,
        template: Option<&str>,
    ) -> Result<CertRecord, AgentError> {
        let (spki, csr, binding) = self.certificate_request(upn, hello)?;
        let mut req = CertEnrollRequest {
            device_id: device.device_id.clone(),
            upn: upn.to_owned(),
            key_id: hello.key_id(),
            template: template.map(str::to_owned),
            nonce: client.nonce(Purpose::CertEnroll)?,
            csr: b64::encode(&csr),
            device_signature: String::new(),
        };
        req.device_signature = self.device_key(device)?.prove(
            Purpose::CertEnroll,
            &req.nonce,
            &enroll_fields(&device.tenant_id, &req, &binding),
        )?;
        let issued = client.cert_enroll(&req, token)?;
        CertRecord::from_issued(upn, &req.key_id, &spki, &device.ca_pem, &issued, self.now())
    }

    /// Renews `current` with the unlocked key `hello`.
    fn renew_with(
        &self,
        device: &DeviceRecord,
        upn: &str,
        current: &CertRecord,
        hello: &dyn HelloSigner,
    ) -> Result<CertRecord, AgentError> {
        let client = ServiceClient::new(&device.server_url, &device.ca_pem)?;
        let (spki, csr, binding) = self.certificate_request(upn, hello)?;
        let mut req = CertRenewRequest {
            device_id: device.device_id.clone(),
            upn: upn.to_owned(),
            key_id: hello.key_id(),
            serial: current.serial.clone(),
            nonce: client.nonce(Purpose::CertRenew)?,
            csr: b64::encode(&csr),
            device_signature: String::new(),
            key_signature: String::new(),
        };
        let fields = renew_fields(&device.tenant_id, &req, &binding).map(str::to_owned);
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        let device_signature =
            self.device_key(device)?
                .prove(Purpose::CertRenew, &req.nonce, &fields)?;
        let key_signature = hello.prove(Purpose::CertRenew, &req.nonce, &fields)?;
        req.device_signature = device_signature;
        req.key_signature = key_signature;
        let issued = client.cert_renew(&req)?;
        CertRecord::from_issued(upn, &req.key_id, &spki, &device.ca_pem, &issued, self.now())
    }

    /// A PKCS#10 request for `hello`'s key (subject CN = `upn`), signed by it: the key's
    /// SubjectPublicKeyInfo, the request DER and its [`csr_binding`].
    pub(crate) fn certificate_request(
        &self,
        upn: &str,
        hello: &dyn HelloSigner,
    ) -> Result<(Vec<u8>, Vec<u8>, String), AgentError> {
        let spki = spki_of(&hello.public_key())?;
        let mut failure = None;
        let mut sign = |tbs: &[u8]| {
            hello.sign(tbs).map_err(|e| {
                let text = e.to_string();
                failure = Some(e);
                text
            })
        };
        let built = latchkey_pki::build_request(&spki, upn, &mut sign);
        match (built, failure) {
            (Ok(der), _) => {
                let binding = csr_binding(&der);
                Ok((spki, der, binding))
            }
            // The key's own error (a TPM failure, say) keeps its code.
            (Err(_), Some(e)) => Err(e),
            (Err(e), None) => Err(AgentError::Crypto(format!(
                "the certificate request could not be built: {e}"
            ))),
        }
    }

    /// Stores `record` (replacing the user's earlier certificate) and records event `id`.
    pub(crate) fn install(
        &self,
        record: &CertRecord,
        id: u32,
        how: &str,
    ) -> Result<(), AgentError> {
        record.save(&self.state)?;
        events::record(
            &self.state,
            Event {
                id,
                time: self.now(),
                level: "Information".to_owned(),
                message: format!("Windows Hello for Business certificate {how} and installed"),
                data: vec![
                    ("UPN".to_owned(), record.upn.clone()),
                    ("KeyId".to_owned(), record.key_id.clone()),
                    ("Serial".to_owned(), record.serial.clone()),
                    ("Thumbprint".to_owned(), record.thumbprint.clone()),
                    ("Template".to_owned(), record.template.clone()),
                    ("NotAfter".to_owned(), rfc3339(record.not_after)),
                ],
            },
        )
    }

    /// Records a failed certificate step as a warning event (best effort: the failure
    /// itself is what the caller reports).
    pub(crate) fn record_cert_failure(&self, id: u32, upn: &str, error: &AgentError) {
        let _ = events::record(
            &self.state,
            Event {
                id,
                time: self.now(),
                level: "Warning".to_owned(),
                message: "Windows Hello for Business certificate step failed".to_owned(),
                data: vec![
                    ("UPN".to_owned(), upn.to_owned()),
                    ("Code".to_owned(), error.code().to_owned()),
                    ("Error".to_owned(), error.to_string()),
                ],
            },
        );
    }
}
