//! The client of the identity service's HTTP API (`docs/API.md`).
//!
//! Every HTTPS connection trusts only the tenant CA pinned at join; plain HTTP is accepted
//! only for loopback addresses (a service run with `--insecure-http` for development).

use std::time::Duration;

use latchkey_proto::api::auth::{EnrollmentToken, PasswordSignIn};
use latchkey_proto::api::cert::{CertEnrollRequest, CertRenewRequest, IssuedCertificate};
use latchkey_proto::api::device::{JoinRequest, JoinResponse, LeaveRequest, LeaveResponse};
use latchkey_proto::api::key::{RegisterKeyRequest, RegisterKeyResponse};
use latchkey_proto::api::nonce::{NonceRequest, NonceResponse};
use latchkey_proto::api::pin_reset::{PinRecoveryKey, PinResetRequest, PinResetResponse};
use latchkey_proto::api::policy::{
    EffectivePolicyRequest, EffectivePolicyResponse, HEADER_DEVICE_ID, HEADER_DEVICE_SIGNATURE,
    HEADER_NEXT_NONCE, HEADER_NONCE, HEADER_POLICY_VERSION, HEADER_UPN, SYNCML_CONTENT_TYPE,
};
use latchkey_proto::api::signin::{
    RenewRequest, SignInRequest, SignInResponse, TokenRequest, TokenResponse,
};
use latchkey_proto::api::tenant::TenantInfo;
use latchkey_proto::api::tpm::{
    TpmActivateBegin, TpmActivateChallenge, TpmActivateFinish, TpmActivated,
};
use latchkey_proto::proof::Purpose;
use latchkey_proto::ApiErrorBody;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::AgentError;

/// The route that begins a TPM credential activation.
pub const TPM_ACTIVATE_BEGIN: &str = "/v1/devices/tpm/activate/begin";
/// The route that finishes it.
pub const TPM_ACTIVATE_FINISH: &str = "/v1/devices/tpm/activate/finish";

/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The largest SyncML reply the agent reads (the service's own message limit).
pub const MAX_SYNCML_REPLY: usize = 512 * 1024;

/// The proof headers of one `POST /v1/policy/session` message.
#[derive(Debug, Clone)]
pub struct PolicyProof {
    /// The device id.
    pub device_id: String,
    /// The user, empty for the device alone.
    pub upn: String,
    /// A `policy_sync` nonce.
    pub nonce: String,
    /// The device-key signature over the proof message and the body's SHA-256.
    pub signature: String,
}

/// The service's reply to one policy session message.
#[derive(Debug, Clone)]
pub struct SyncMlReply {
    /// The SyncML reply.
    pub body: String,
    /// `X-Latchkey-Policy-Version`.
    pub version: Option<u64>,
    /// `X-Latchkey-Next-Nonce` (reply 1 only).
    pub next_nonce: Option<String>,
}

/// A connection to one identity service.
#[derive(Debug, Clone)]
pub struct ServiceClient {
    base: String,
    http: reqwest::blocking::Client,
}

/// Checks that `url` is `https://…`, or `http://` to a loopback address, and returns it
/// without a trailing slash.
pub fn check_url(url: &str) -> Result<String, AgentError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        AgentError::InvalidInput(format!("the server URL {url:?} is not a URL: {e}"))
    })?;
    match parsed.scheme() {
        "https" => {}
        "http" => {
            let host = parsed.host_str().unwrap_or("");
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let loopback = host == "localhost"
                || bare
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if !loopback {
                return Err(AgentError::InvalidInput(format!(
                    "plain HTTP is only allowed to a loopback address, not {url}"
                )));
            }
        }
        other => {
            return Err(AgentError::InvalidInput(format!(
                "the server URL must be https:// (got {other}://)"
            )))
        }
    }
    if parsed.host().is_none() {
        return Err(AgentError::InvalidInput(format!("{url} names no host")));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

impl ServiceClient {
    /// A client for `base` that trusts only `ca_pem`.
    pub fn new(base: &str, ca_pem: &str) -> Result<Self, AgentError> {
        let base = check_url(base)?;
        let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes())
            .map_err(|e| AgentError::BadCa(format!("the CA certificate is not usable: {e}")))?;
        let http = reqwest::blocking::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .https_only(base.starts_with("https://"))
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| AgentError::BadCa(format!("the HTTPS client cannot be made: {e}")))?;
        Ok(ServiceClient { base, http })
    }

    /// Downloads the CA certificate without checking the server's certificate, for the
    /// trust-on-first-use prompt: the result is only trusted once its fingerprint has been
    /// confirmed, and the pinned client then checks the server's certificate against it.
    pub fn fetch_ca_unverified(base: &str) -> Result<String, AgentError> {
        let base = check_url(base)?;
        let http = reqwest::blocking::Client::builder()
            .danger_accept_invalid_certs(true)
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| AgentError::BadCa(format!("the HTTPS client cannot be made: {e}")))?;
        let url = format!("{base}/v1/ca.pem");
        let response = http.get(&url).send().map_err(|e| unreachable(&url, &e))?;
        if !response.status().is_success() {
            return Err(AgentError::BadResponse {
                context: "GET /v1/ca.pem",
                reason: format!("HTTP {}", response.status()),
            });
        }
        response.text().map_err(|e| AgentError::BadResponse {
            context: "GET /v1/ca.pem",
            reason: e.to_string(),
        })
    }

    /// The service's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET /v1/tenant`.
    pub fn tenant(&self) -> Result<TenantInfo, AgentError> {
        let url = format!("{}/v1/tenant", self.base);
        let response = self
            .http
            .get(&url)
            .send()
            .map_err(|e| unreachable(&url, &e))?;
        decode(response, "GET /v1/tenant")
    }

    /// `POST /v1/nonce`.
    pub fn nonce(&self, purpose: Purpose) -> Result<String, AgentError> {
        let r: NonceResponse = self.post("/v1/nonce", &NonceRequest { purpose }, None)?;
        Ok(r.nonce)
    }

    /// `POST /v1/auth/password`.
    pub fn password(&self, req: &PasswordSignIn) -> Result<EnrollmentToken, AgentError> {
        self.post("/v1/auth/password", req, None)
    }

    /// `POST /v1/devices/join`.
    pub fn join(&self, req: &JoinRequest, token: &str) -> Result<JoinResponse, AgentError> {
        self.post("/v1/devices/join", req, Some(token))
    }

    /// `POST /v1/devices/leave`.
    pub fn leave(&self, req: &LeaveRequest) -> Result<LeaveResponse, AgentError> {
        self.post("/v1/devices/leave", req, None)
    }

    /// `POST /v1/keys`.
    pub fn register_key(
        &self,
        req: &RegisterKeyRequest,
        token: Option<&str>,
    ) -> Result<RegisterKeyResponse, AgentError> {
        self.post("/v1/keys", req, token)
    }

    /// `POST /v1/certificates/enroll` with the enrolment token of a fresh MFA sign-in.
    pub fn cert_enroll(
        &self,
        req: &CertEnrollRequest,
        token: &str,
    ) -> Result<IssuedCertificate, AgentError> {
        self.post("/v1/certificates/enroll", req, Some(token))
    }

    /// `POST /v1/certificates/renew`.
    pub fn cert_renew(&self, req: &CertRenewRequest) -> Result<IssuedCertificate, AgentError> {
        self.post("/v1/certificates/renew", req, None)
    }

    /// `POST /v1/devices/tpm/activate/begin`.
    pub fn tpm_activate_begin(
        &self,
        req: &TpmActivateBegin,
    ) -> Result<TpmActivateChallenge, AgentError> {
        self.post(TPM_ACTIVATE_BEGIN, req, None)
    }

    /// `POST /v1/devices/tpm/activate/finish`.
    pub fn tpm_activate_finish(&self, req: &TpmActivateFinish) -> Result<TpmActivated, AgentError> {
        self.post(TPM_ACTIVATE_FINISH, req, None)
    }

    /// `GET /v1/pin/recovery-key`.
    pub fn pin_recovery_key(&self) -> Result<PinRecoveryKey, AgentError> {
        let url = format!("{}/v1/pin/recovery-key", self.base);
        let response = self
            .http
            .get(&url)
            .send()
            .map_err(|e| unreachable(&url, &e))?;
        decode(response, "GET /v1/pin/recovery-key")
    }

    /// `POST /v1/pin/reset` with the enrolment token of a password and one-time code.
    pub fn pin_reset(
        &self,
        req: &PinResetRequest,
        token: &str,
    ) -> Result<PinResetResponse, AgentError> {
        self.post("/v1/pin/reset", req, Some(token))
    }

    /// `POST /v1/signin`.
    pub fn signin(&self, req: &SignInRequest) -> Result<SignInResponse, AgentError> {
        self.post("/v1/signin", req, None)
    }

    /// `POST /v1/prt/renew`.
    pub fn renew(&self, req: &RenewRequest) -> Result<SignInResponse, AgentError> {
        self.post("/v1/prt/renew", req, None)
    }

    /// `POST /v1/token`.
    pub fn token(&self, req: &TokenRequest) -> Result<TokenResponse, AgentError> {
        self.post("/v1/token", req, None)
    }

    /// `POST /v1/policy/effective`.
    pub fn policy_effective(
        &self,
        req: &EffectivePolicyRequest,
    ) -> Result<EffectivePolicyResponse, AgentError> {
        self.post("/v1/policy/effective", req, None)
    }

    /// `POST /v1/policy/session`: one SyncML message with its proof headers.
    pub fn policy_session(
        &self,
        proof: &PolicyProof,
        body: String,
    ) -> Result<SyncMlReply, AgentError> {
        const CONTEXT: &str = "/v1/policy/session";
        let url = format!("{}{CONTEXT}", self.base);
        let response = self
            .http
            .post(&url)
            .header("content-type", SYNCML_CONTENT_TYPE)
            .header(HEADER_DEVICE_ID, &proof.device_id)
            .header(HEADER_UPN, &proof.upn)
            .header(HEADER_NONCE, &proof.nonce)
            .header(HEADER_DEVICE_SIGNATURE, &proof.signature)
            .body(body)
            .send()
            .map_err(|e| unreachable(&url, &e))?;
        if !response.status().is_success() {
            let status = response.status();
            return Err(match decode::<serde_json::Value>(response, CONTEXT) {
                Err(e) => e,
                Ok(_) => AgentError::BadResponse {
                    context: CONTEXT,
                    reason: format!("HTTP {status}"),
                },
            });
        }
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let version = header(HEADER_POLICY_VERSION).and_then(|v| v.parse().ok());
        let next_nonce = header(HEADER_NEXT_NONCE);
        let bytes = response.bytes().map_err(|e| AgentError::BadResponse {
            context: CONTEXT,
            reason: e.to_string(),
        })?;
        if bytes.len() > MAX_SYNCML_REPLY {
            return Err(AgentError::BadResponse {
                context: CONTEXT,
                reason: format!("the reply is larger than {MAX_SYNCML_REPLY} bytes"),
            });
        }
        let body = String::from_utf8(bytes.to_vec()).map_err(|_| AgentError::BadResponse {
            context: CONTEXT,
            reason: "the reply is not UTF-8".to_owned(),
        })?;
        Ok(SyncMlReply {
            body,
            version,
            next_nonce,
        })
    }

    fn post<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &'static str,
        body: &Req,
        bearer: Option<&str>,
    ) -> Result<Resp, AgentError> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.post(&url).json(body);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().map_err(|e| unreachable(&url, &e))?;
        decode(response, path)
    }
}

fn unreachable(url: &str, err: &reqwest::Error) -> AgentError {
    crate::net_error::classify(url, err)
}

fn decode<T: DeserializeOwned>(
    response: reqwest::blocking::Response,
    context: &'static str,
) -> Result<T, AgentError> {
    let status = response.status();
    let bytes = response.bytes().map_err(|e| AgentError::BadResponse {
        context,
        reason: e.to_string(),
    })?;
    if status.is_success() {
        return serde_json::from_slice(&bytes).map_err(|e| AgentError::BadResponse {
            context,
            reason: e.to_string(),
        });
    }
    match serde_json::from_slice::<ApiErrorBody>(&bytes) {
        Ok(body) => Err(AgentError::Service {
            code: body.code,
            message: body.message,
            status: status.as_u16(),
        }),
        Err(_) => Err(AgentError::BadResponse {
            context,
            reason: format!("HTTP {status} without an error body"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_https_or_loopback_http() {
        assert_eq!(
            check_url("https://id.example.com/").unwrap(),
            "https://id.example.com"
        );
        assert!(check_url("http://127.0.0.1:8443").is_ok());
        assert!(check_url("http://[::1]:8443").is_ok());
        assert!(check_url("http://localhost:8443").is_ok());
        for bad in [
            "http://id.example.com",
            "ftp://x",
            "not a url",
            "http://10.0.0.1",
        ] {
            assert_eq!(check_url(bad).unwrap_err().code(), "LK-AGENT-013", "{bad}");
        }
    }
}
