//! `latchkey signin` and `latchkey token`.

use latchkey_proto::api::signin::{RenewRequest, SignInRequest, SignInResponse, TokenRequest};
use latchkey_proto::proof::{prt_binding, Purpose};

use crate::agent::Agent;
use crate::client::ServiceClient;
use crate::error::AgentError;
use crate::events;
use crate::ops_pin::check_expiry_at;
use crate::policy_sync::PolicyRefresh;
use crate::records::{DeviceRecord, SsoRecord};

/// A primary refresh token closer than this to expiry is renewed before use (seconds).
pub const RENEW_MARGIN_SECS: i64 = 300;

/// The result of a sign-in.
#[derive(Debug)]
pub struct SignedIn {
    /// The primary refresh token stored.
    pub sso: SsoRecord,
    /// What became of the policy refresh that comes with every sign-in.
    pub policy: PolicyRefresh,
    /// The certificate renewal a sign-in inside the renewal window makes: `None` when
    /// none was due; a failure leaves the current certificate (event 382).
    pub certificate: Option<Result<crate::cert_record::CertRecord, AgentError>>,
}

impl Agent {
    /// Unlocks `upn`'s container with `pin`, refreshes the policy (a failure keeps the last
    /// one), refuses an expired PIN, signs a fresh nonce and stores the primary refresh
    /// token. A wrong PIN is counted before the service is contacted.
    /// Each sign-in is recorded: event 310, or 311/312/313 (see [`crate::events::id`]).
    pub fn signin(&self, upn: &str, pin: &str) -> Result<SignedIn, AgentError> {
        let done = self.signin_unrecorded(upn, pin);
        match &done {
            Ok(signed) => self.note(
                events::id::SIGNED_IN,
                "Information",
                "Signed in with Windows Hello: primary refresh token received",
                vec![
                    ("UPN".to_owned(), upn.to_owned()),
                    (
                        "PrtExpiry".to_owned(),
                        crate::status::rfc3339(signed.sso.prt_expires_at),
                    ),
                    (events::DEVICE_AUTH.to_owned(), "SUCCESS".to_owned()),
                ],
            ),
            Err(AgentError::NotJoined) => {}
            Err(e) => self.note_signin_failure(upn, e),
        }
        done
    }

    fn signin_unrecorded(&self, upn: &str, pin: &str) -> Result<SignedIn, AgentError> {
        let device = DeviceRecord::require(&self.state)?;
        let (stored, hello) = self.unlock_hello(upn, pin)?;
        let policy = self.refresh_policy(upn);
        check_expiry_at(
            upn,
            stored.pin_set_at(),
            &self.policy_for(Some(upn))?,
            self.now(),
        )?;
        let client = ServiceClient::new(&device.server_url, &device.ca_pem)?;
        let response = self.key_signin(&device, &client, upn, hello.as_ref())?;
        let sso = self.store_prt(upn, response)?;
        let certificate = self.renew_at_signin(&device, upn, hello.as_ref());
        self.renew_recovery_at_signin(&device, &client, upn, pin, stored, hello.as_ref());
        Ok(SignedIn {
            sso,
            policy,
            certificate,
        })
    }

    /// Signs `upn` in with the unlocked Hello key `hello` and the device key over a fresh
    /// nonce: the service's answer (a primary refresh token, and an access token carrying
    /// the MFA claim).
    pub(crate) fn key_signin(
        &self,
        device: &DeviceRecord,
        client: &ServiceClient,
        upn: &str,
        hello: &dyn crate::provider::HelloSigner,
    ) -> Result<SignInResponse, AgentError> {
        let nonce = client.nonce(Purpose::SignIn)?;
        let key_id = hello.key_id();
        let fields = [
            device.tenant_id.as_str(),
            device.device_id.as_str(),
            upn,
            key_id.as_str(),
        ];
        client.signin(&SignInRequest {
            upn: upn.to_owned(),
            device_id: device.device_id.clone(),
            key_id: key_id.clone(),
            nonce: nonce.clone(),
            assertion: hello.prove(Purpose::SignIn, &nonce, &fields)?,
            device_signature: self
                .device_key(device)?
                .prove(Purpose::SignIn, &nonce, &fields)?,
        })
    }

    /// The access token (MFA claim) of a Hello sign-in of `upn` with `hello`, storing the
    /// primary refresh token that comes with it: what authorises a certificate enrolment.
    pub(crate) fn mfa_token_by_signin(
        &self,
        device: &DeviceRecord,
        client: &ServiceClient,
        upn: &str,
        hello: &dyn crate::provider::HelloSigner,
    ) -> Result<String, AgentError> {
        let response = self.key_signin(device, client, upn, hello)?;
        let token = response.access_token.clone();
        self.store_prt(upn, response)?;
        Ok(token)
    }

    pub(crate) fn store_prt(
        &self,
        upn: &str,
        response: SignInResponse,
    ) -> Result<SsoRecord, AgentError> {
        let record = SsoRecord {
            version: crate::records::RECORD_VERSION,
            upn: upn.to_owned(),
            prt: response.prt,
            prt_expires_at: response.prt_expires_at,
            obtained_at: self.now(),
            id_token: response.id_token,
        };
        self.save_sso(&record)?;
        Ok(record)
    }

    /// Renews `upn`'s primary refresh token with a fresh device-key proof.
    pub fn renew(&self, upn: &str) -> Result<SsoRecord, AgentError> {
        let device = DeviceRecord::require(&self.state)?;
        let sso = self.sso(upn)?.ok_or_else(|| AgentError::NoPrt {
            upn: upn.to_owned(),
        })?;
        let client = ServiceClient::new(&device.server_url, &device.ca_pem)?;
        let nonce = client.nonce(Purpose::RenewPrt)?;
        let device_signature = self.device_key(&device)?.prove(
            Purpose::RenewPrt,
            &nonce,
            &[&device.tenant_id, &device.device_id, &prt_binding(&sso.prt)],
        )?;
        let response = client.renew(&RenewRequest {
            prt: sso.prt,
            device_id: device.device_id.clone(),
            nonce,
            device_signature,
        })?;
        self.store_prt(upn, response)
    }

    /// An access token for `audience`, renewing the primary refresh token first when it is
    /// within [`RENEW_MARGIN_SECS`] of expiry. The primary refresh token is sent with a
    /// device-key proof over a fresh nonce, the token and the audience (it is not a bearer
    /// token: the service refuses it alone).
    ///
    /// Each token asked for is recorded: event 320 (the audience, never the token) or 321.
    pub fn token(&self, upn: &str, audience: &str) -> Result<String, AgentError> {
        let audience = audience.trim();
        let done = self.token_unrecorded(upn, audience);
        let mut data = vec![
            ("UPN".to_owned(), upn.to_owned()),
            ("Audience".to_owned(), audience.to_owned()),
        ];
        match &done {
            Ok(_) => {
                data.push((events::DEVICE_AUTH.to_owned(), "SUCCESS".to_owned()));
                self.note(
                    events::id::TOKEN_ISSUED,
                    "Information",
                    "Access token issued",
                    data,
                );
            }
            Err(AgentError::NotJoined) => {}
            Err(e) => {
                data.extend(events::failure_data(e));
                self.note(
                    events::id::TOKEN_FAILED,
                    "Error",
                    "Access token not issued",
                    data,
                );
            }
        }
        done
    }

    fn token_unrecorded(&self, upn: &str, audience: &str) -> Result<String, AgentError> {
        let device = DeviceRecord::require(&self.state)?;
        let mut sso = self.sso(upn)?.ok_or_else(|| AgentError::NoPrt {
            upn: upn.to_owned(),
        })?;
        if sso.prt_expires_at - self.now() < RENEW_MARGIN_SECS {
            sso = self.renew(upn)?;
        }
        let client = ServiceClient::new(&device.server_url, &device.ca_pem)?;
        let nonce = client.nonce(Purpose::Token)?;
        let device_signature = self.device_key(&device)?.prove(
            Purpose::Token,
            &nonce,
            &[
                &device.tenant_id,
                &device.device_id,
                &prt_binding(&sso.prt),
                audience,
            ],
        )?;
        let response = client.token(&TokenRequest {
            prt: sso.prt,
            audience: audience.to_owned(),
            device_id: Some(device.device_id.clone()),
            nonce: Some(nonce),
            device_signature: Some(device_signature),
        })?;
        Ok(response.access_token)
    }
}
