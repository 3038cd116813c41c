//! The service's error type: one variant per [`ErrorCode`], sent as a JSON [`ApiErrorBody`]
//! with the code's HTTP status. Internal details are logged, never sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use latchkey_proto::{ApiErrorBody, ErrorCode};

/// Every failure the HTTP API reports. Each variant maps to exactly one [`ErrorCode`].
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// LK-REQ-001.
    #[error("the request body is not valid JSON of the expected shape: {0}")]
    MalformedRequest(String),
    /// LK-REQ-002.
    #[error("the request body is larger than {0} bytes")]
    BodyTooLarge(usize),
    /// LK-REQ-003.
    #[error("field `{0}` has an invalid value")]
    InvalidField(&'static str),
    /// LK-REQ-004.
    #[error("no such endpoint")]
    NotFound,
    /// LK-REQ-005.
    #[error("the request must be application/json")]
    UnsupportedMediaType,
    /// LK-REQ-006.
    #[error("method not allowed on this endpoint")]
    MethodNotAllowed,
    /// LK-AUTH-001.
    #[error("unknown user or wrong password")]
    InvalidCredentials,
    /// LK-AUTH-002.
    #[error("the one-time code is wrong or was already used")]
    InvalidOtp,
    /// LK-AUTH-003.
    #[error("too many failed attempts; try again later")]
    RateLimited,
    /// LK-AUTH-004.
    #[error("missing, invalid or expired bearer token: {0}")]
    InvalidToken(&'static str),
    /// LK-AUTH-005.
    #[error("a multi-factor sign-in is required: {0}")]
    MfaRequired(&'static str),
    /// LK-AUTH-006.
    #[error("the token does not name this user")]
    SubjectMismatch,
    /// LK-AUTH-007.
    #[error("the user is disabled")]
    UserDisabled,
    /// LK-AUTH-008.
    #[error("too many sign-ins are being checked right now; retry in {0} s")]
    PasswordBusy(u64),
    /// LK-NONCE-001.
    #[error("the nonce was not issued by this service")]
    NonceInvalid,
    /// LK-NONCE-002.
    #[error("the nonce has expired")]
    NonceExpired,
    /// LK-NONCE-003.
    #[error("the nonce was already used")]
    NonceReplayed,
    /// LK-NONCE-004.
    #[error("the nonce was issued for another purpose")]
    NonceWrongPurpose,
    /// LK-DEV-001.
    #[error("no such device")]
    DeviceNotFound,
    /// LK-DEV-002.
    #[error("the device is disabled")]
    DeviceDisabled,
    /// LK-DEV-003.
    #[error("the device-key signature does not verify")]
    DeviceProofInvalid,
    /// LK-DEV-004.
    #[error("the device public key is not accepted: {0}")]
    DeviceKeyInvalid(String),
    /// LK-KEY-001.
    #[error("no such key credential; it may have been deleted")]
    KeyNotFound,
    /// LK-KEY-002.
    #[error("the key is not registered for this device")]
    KeyWrongDevice,
    /// LK-KEY-003.
    #[error("the key signature does not verify")]
    AssertionInvalid,
    /// LK-KEY-004.
    #[error("the public key is not acceptable: {0}")]
    KeyInvalid(String),
    /// LK-KEY-005.
    #[error("the key is not registered for this user")]
    KeyWrongUser,
    /// LK-PRT-001.
    #[error("the primary refresh token is unknown or revoked")]
    PrtInvalid,
    /// LK-PRT-002.
    #[error("the primary refresh token has expired")]
    PrtExpired,
    /// LK-PRT-003.
    #[error(
        "using a primary refresh token needs a device-key proof: device_id, a nonce of \
         purpose `token` and device_signature"
    )]
    PrtProofRequired,
    /// LK-PRT-004.
    #[error("the primary refresh token is bound to another device than the request names")]
    PrtWrongDevice,
    /// LK-TOKEN-001.
    #[error(
        "the audience is not a registered application (latchkeyd client add) or resource \
         (latchkeyd resource add) of this tenant"
    )]
    AudienceUnknown,
    /// LK-SYNCML-001.
    #[error("the SyncML message is malformed: {0}")]
    SyncMlMalformed(String),
    /// LK-SYNCML-002.
    #[error("the request must be application/vnd.syncml.dm+xml (or application/xml)")]
    SyncMlMediaType,
    /// LK-SYNCML-003.
    #[error("no such open policy session for this device")]
    PolicySessionUnknown,
    /// LK-POLICY-001.
    #[error("{0}")]
    PolicyInvalid(String),
    /// LK-SK-001.
    #[error(
        "you already have 10 security keys, the most allowed; remove one before adding another"
    )]
    SecurityKeyLimit,
    /// LK-SK-002.
    #[error("the security key registration does not verify: {0}")]
    SecurityKeyAttestation(String),
    /// LK-SK-003.
    #[error("the security key signature does not verify: {0}")]
    SecurityKeyAssertion(String),
    /// LK-SK-004.
    #[error("this security key is not allowed: {0}")]
    SecurityKeyNotAllowed(String),
    /// LK-SK-005.
    #[error("no such security key; it may have been removed")]
    SecurityKeyNotFound,
    /// LK-SK-006.
    #[error(
        "the security key's signature counter went backwards: possible cloned key; sign-in refused"
    )]
    SecurityKeyCounterRegressed,
    /// LK-SK-007.
    #[error("security-key sign-in is not enabled (SecurityKey/UseSecurityKeyForSignin)")]
    SecurityKeySigninDisabled,
    /// LK-SK-008.
    #[error("the security key did not verify you (its PIN); user verification is required")]
    SecurityKeyUserNotVerified,
    /// LK-SK-009.
    #[error("the security key ceremony is unknown, expired or already used; try again")]
    CeremonyInvalid,
    /// LK-SK-010.
    #[error("the security key's public key is not acceptable: {0}")]
    SecurityKeyPublicKey(String),
    /// LK-HWK-001.
    #[error("the EK certificate does not chain to a TPM manufacturer root this tenant trusts (latchkeyd tpm-roots add): {0}")]
    TpmEkUntrusted(String),
    /// LK-HWK-002.
    #[error("the EK certificate or EK public area is not acceptable: {0}")]
    TpmEkInvalid(String),
    /// LK-HWK-003.
    #[error("a certificate of the EK chain is not valid now: {0}")]
    TpmEkNotValidNow(String),
    /// LK-HWK-004.
    #[error("the attestation key (AIK) is not acceptable: {0}")]
    TpmAikUnacceptable(String),
    /// LK-HWK-005.
    #[error("this attestation key is already activated for another device")]
    TpmAikOfAnotherDevice,
    /// LK-HWK-006.
    #[error("this TPM is a TPM {0}, which the policy excludes (ExcludeSecurityDevices/TPM12)")]
    TpmFamilyExcluded(String),
    /// LK-HWK-007.
    #[error("the TPM activation is unknown, for another device, or already used; begin again")]
    TpmActivationUnknown,
    /// LK-HWK-008.
    #[error("the TPM activation has expired; begin again")]
    TpmActivationExpired,
    /// LK-HWK-009.
    #[error("the activation secret is wrong: the TPM did not prove it holds the EK and the AIK")]
    TpmActivationSecretWrong,
    /// LK-HWK-010.
    #[error("credential activation is not supported for this EK: {0}")]
    TpmEkUnsupported(String),
    /// LK-HWK-011.
    #[error("this device has no activated TPM attestation key; run `latchkey tpm attest` first")]
    TpmNoActivatedAik,
    /// LK-HWK-012.
    #[error("the key's TPM attestation does not verify: {0}")]
    TpmKeyAttestationInvalid(String),
    /// LK-HWK-013.
    #[error("the policy requires a TPM-bound key (RequireSecurityDevice, set by {0}); this key has no valid TPM attestation")]
    TpmSecurityDeviceRequired(String),
    /// LK-HWK-014.
    #[error("TPM key attestation is supported for RSA Hello keys only")]
    TpmKeyAttestationAlg,
    /// LK-PINR-001.
    #[error("PIN recovery is not enabled for this user on this device")]
    PinRecoveryDisabled,
    /// LK-PINR-002.
    #[error("the recovery blob or the response key is malformed: {0}")]
    PinRecoveryRequestInvalid(String),
    /// LK-PINR-003.
    #[error("the recovery blob does not open for this device, user and key")]
    PinRecoveryBlobMismatch,
    /// LK-PINR-004.
    #[error("the recovery blob was made under a PIN-recovery key the service no longer holds")]
    PinRecoveryKeyRetired,
    /// LK-PINR-005.
    #[error("this recovery blob was already used")]
    PinRecoveryBlobUsed,
    /// LK-PINR-006.
    #[error(
        "a PIN reset needs a password and one-time code sign-in from the last ten minutes: {0}"
    )]
    PinRecoveryMfaRequired(&'static str),
    /// LK-PINR-007.
    #[error("the grace period must be 1 to 365 days")]
    PinRecoveryGraceInvalid,
    /// LK-WEB-001.
    #[error("the anti-forgery token is missing or wrong; reload the page and try again")]
    CsrfInvalid,
    /// LK-WEB-002.
    #[error("you are not signed in, or your session expired")]
    SessionRequired,
    /// LK-WEB-003.
    #[error("this page is for administrators only")]
    AdminRequired,
    /// LK-WEB-004: what an administration page or action names does not exist (the kind of
    /// object: "user", "device", ...).
    #[error("there is no such {0}; it may have been removed already")]
    AdminObjectNotFound(&'static str),
    /// LK-HTTP-001.
    #[error("the request headers are larger than {0} bytes or more than the allowed number")]
    HeaderTooLarge(usize),
    /// LK-HTTP-002.
    #[error("the request URI is longer than {0} bytes")]
    UriTooLong(usize),
    /// LK-HTTP-003.
    #[error("the request body did not arrive within {0} seconds")]
    RequestTimeout(u64),
    /// LK-HTTP-004.
    #[error("the service is at its connection limit; try again shortly")]
    TooManyConnections,
    /// LK-HTTP-005.
    #[error("the request is not valid HTTP/1: its request line or a header could not be parsed")]
    MalformedHttp,
    /// LK-CERT-001.
    #[error("the certificate request is not acceptable: {0}")]
    CertRequestInvalid(String),
    /// LK-CERT-002.
    #[error("the certificate request's key is not the Hello key registered for this user on this device")]
    CertKeyMismatch,
    /// LK-CERT-003.
    #[error("this user may not enrol on certificate template `{0}` (not in its group)")]
    CertEnrollmentNotAllowed(String),
    /// LK-CERT-004.
    #[error("no certificate template `{0}`")]
    CertTemplateNotFound(String),
    /// LK-CERT-005.
    #[error("no certificate template is assigned to this user")]
    CertNoTemplate,
    /// LK-CERT-006.
    #[error("no such certificate for this user, device and key")]
    CertNotFound,
    /// LK-CERT-007.
    #[error("the certificate is not inside its renewal window yet (it opens at {0})")]
    CertRenewalNotDue(String),
    /// LK-CERT-008.
    #[error("the certificate has expired; enrol again after a fresh multi-factor sign-in")]
    CertExpired,
    /// LK-CERT-009.
    #[error("the certificate is revoked")]
    CertRevoked,
    /// LK-CERT-010.
    #[error("the renewal is not signed by the certificate's key")]
    CertRenewalProofInvalid,
    /// LK-CERT-011. The detail is logged, never sent.
    #[error("the certificate authority did not issue the certificate: {0}")]
    CertIssuanceFailed(String),
    /// LK-CERT-012.
    #[error("the certificate template setting is not acceptable: {0}")]
    CertTemplateInvalid(String),
    /// LK-CERT-013.
    #[error("certificate enrolment needs a multi-factor sign-in from the last ten minutes")]
    CertMfaNotFresh,
    /// LK-CERT-014.
    #[error("the certificate request's key is not acceptable: {0}")]
    CertKeyUnacceptable(String),
    /// LK-CERT-015.
    #[error("the certificate is already revoked")]
    CertAlreadyRevoked,
    /// LK-CERT-016.
    #[error("the certificate was already renewed; renew its successor")]
    CertAlreadyRenewed,
    /// LK-SRV-006. The detail is logged, never sent.
    #[error("the database does not answer: {0}")]
    DatabaseUnavailable(String),
    /// LK-SRV-001. The detail is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        use ApiError::*;
        match self {
            MalformedRequest(_) => ErrorCode::MalformedRequest,
            BodyTooLarge(_) => ErrorCode::BodyTooLarge,
            InvalidField(_) => ErrorCode::InvalidField,
            NotFound => ErrorCode::NotFound,
            UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
            MethodNotAllowed => ErrorCode::MethodNotAllowed,
            InvalidCredentials => ErrorCode::InvalidCredentials,
            InvalidOtp => ErrorCode::InvalidOtp,
            RateLimited => ErrorCode::RateLimited,
            InvalidToken(_) => ErrorCode::InvalidToken,
            MfaRequired(_) => ErrorCode::MfaRequired,
            SubjectMismatch => ErrorCode::SubjectMismatch,
            UserDisabled => ErrorCode::UserDisabled,
            PasswordBusy(_) => ErrorCode::PasswordBusy,
            NonceInvalid => ErrorCode::NonceInvalid,
            NonceExpired => ErrorCode::NonceExpired,
            NonceReplayed => ErrorCode::NonceReplayed,
            NonceWrongPurpose => ErrorCode::NonceWrongPurpose,
            DeviceNotFound => ErrorCode::DeviceNotFound,
            DeviceDisabled => ErrorCode::DeviceDisabled,
            DeviceProofInvalid => ErrorCode::DeviceProofInvalid,
            DeviceKeyInvalid(_) => ErrorCode::DeviceKeyInvalid,
            KeyNotFound => ErrorCode::KeyNotFound,
            KeyWrongDevice => ErrorCode::KeyWrongDevice,
            AssertionInvalid => ErrorCode::AssertionInvalid,
            KeyInvalid(_) => ErrorCode::KeyInvalid,
            KeyWrongUser => ErrorCode::KeyWrongUser,
            PrtInvalid => ErrorCode::PrtInvalid,
            PrtExpired => ErrorCode::PrtExpired,
            PrtProofRequired => ErrorCode::PrtProofRequired,
            PrtWrongDevice => ErrorCode::PrtWrongDevice,
            AudienceUnknown => ErrorCode::AudienceUnknown,
            SyncMlMalformed(_) => ErrorCode::SyncMlMalformed,
            SyncMlMediaType => ErrorCode::SyncMlMediaType,
            PolicySessionUnknown => ErrorCode::PolicySessionUnknown,
            PolicyInvalid(_) => ErrorCode::PolicyInvalid,
            SecurityKeyLimit => ErrorCode::SecurityKeyLimit,
            SecurityKeyAttestation(_) => ErrorCode::SecurityKeyAttestationInvalid,
            SecurityKeyAssertion(_) => ErrorCode::SecurityKeyAssertionInvalid,
            SecurityKeyNotAllowed(_) => ErrorCode::SecurityKeyNotAllowed,
            SecurityKeyNotFound => ErrorCode::SecurityKeyNotFound,
            SecurityKeyCounterRegressed => ErrorCode::SecurityKeyCounterRegressed,
            SecurityKeySigninDisabled => ErrorCode::SecurityKeySigninDisabled,
            SecurityKeyUserNotVerified => ErrorCode::SecurityKeyUserNotVerified,
            CeremonyInvalid => ErrorCode::CeremonyInvalid,
            SecurityKeyPublicKey(_) => ErrorCode::SecurityKeyPublicKeyInvalid,
            TpmEkUntrusted(_) => ErrorCode::TpmEkUntrusted,
            TpmEkInvalid(_) => ErrorCode::TpmEkInvalid,
            TpmEkNotValidNow(_) => ErrorCode::TpmEkNotValidNow,
            TpmAikUnacceptable(_) => ErrorCode::TpmAikUnacceptable,
            TpmAikOfAnotherDevice => ErrorCode::TpmAikOfAnotherDevice,
            TpmFamilyExcluded(_) => ErrorCode::TpmFamilyExcluded,
            TpmActivationUnknown => ErrorCode::TpmActivationUnknown,
            TpmActivationExpired => ErrorCode::TpmActivationExpired,
            TpmActivationSecretWrong => ErrorCode::TpmActivationSecretWrong,
            TpmEkUnsupported(_) => ErrorCode::TpmEkUnsupported,
            TpmNoActivatedAik => ErrorCode::TpmNoActivatedAik,
            TpmKeyAttestationInvalid(_) => ErrorCode::TpmKeyAttestationInvalid,
            TpmSecurityDeviceRequired(_) => ErrorCode::TpmSecurityDeviceRequired,
            TpmKeyAttestationAlg => ErrorCode::TpmKeyAttestationAlg,
            PinRecoveryDisabled => ErrorCode::PinRecoveryDisabled,
            PinRecoveryRequestInvalid(_) => ErrorCode::PinRecoveryRequestInvalid,
            PinRecoveryBlobMismatch => ErrorCode::PinRecoveryBlobMismatch,
            PinRecoveryKeyRetired => ErrorCode::PinRecoveryKeyRetired,
            PinRecoveryBlobUsed => ErrorCode::PinRecoveryBlobUsed,
            PinRecoveryMfaRequired(_) => ErrorCode::PinRecoveryMfaRequired,
            PinRecoveryGraceInvalid => ErrorCode::PinRecoveryGraceInvalid,
            CsrfInvalid => ErrorCode::CsrfInvalid,
            SessionRequired => ErrorCode::SessionRequired,
            AdminRequired => ErrorCode::AdminRequired,
            AdminObjectNotFound(_) => ErrorCode::AdminObjectNotFound,
            HeaderTooLarge(_) => ErrorCode::HeaderTooLarge,
            UriTooLong(_) => ErrorCode::UriTooLong,
            RequestTimeout(_) => ErrorCode::RequestTimeout,
            TooManyConnections => ErrorCode::TooManyConnections,
            MalformedHttp => ErrorCode::MalformedHttp,
            CertRequestInvalid(_) => ErrorCode::CertRequestInvalid,
            CertKeyMismatch => ErrorCode::CertKeyMismatch,
            CertEnrollmentNotAllowed(_) => ErrorCode::CertEnrollmentNotAllowed,
            CertTemplateNotFound(_) => ErrorCode::CertTemplateNotFound,
            CertNoTemplate => ErrorCode::CertNoTemplate,
            CertNotFound => ErrorCode::CertNotFound,
            CertRenewalNotDue(_) => ErrorCode::CertRenewalNotDue,
            CertExpired => ErrorCode::CertExpired,
            CertRevoked => ErrorCode::CertRevoked,
            CertRenewalProofInvalid => ErrorCode::CertRenewalProofInvalid,
            CertIssuanceFailed(_) => ErrorCode::CertIssuanceFailed,
            CertTemplateInvalid(_) => ErrorCode::CertTemplateInvalid,
            CertMfaNotFresh => ErrorCode::CertMfaNotFresh,
            CertKeyUnacceptable(_) => ErrorCode::CertKeyUnacceptable,
            CertAlreadyRevoked => ErrorCode::CertAlreadyRevoked,
            CertAlreadyRenewed => ErrorCode::CertAlreadyRenewed,
            DatabaseUnavailable(_) => ErrorCode::DatabaseUnavailable,
            Internal(_) => ErrorCode::Internal,
        }
    }

    /// Wraps an internal failure; its text goes to the log only.
    pub fn internal(what: impl std::fmt::Display) -> ApiError {
        ApiError::Internal(what.to_string())
    }

    /// The `Retry-After` seconds to send with this error, if any.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::PasswordBusy(secs) => Some(*secs),
            ApiError::DatabaseUnavailable(_) => Some(5),
            _ => None,
        }
    }
}

impl From<crate::password::GateError> for ApiError {
    fn from(err: crate::password::GateError) -> ApiError {
        match err {
            crate::password::GateError::Busy { retry_after_secs } => {
                ApiError::PasswordBusy(retry_after_secs)
            }
            other => ApiError::internal(other),
        }
    }
}

/// Adds `Retry-After` to `response` when `err` carries one, and tags it with the code for
/// the request line and the metrics ([`crate::observe::tag_code`]).
pub fn with_retry_after(err: &ApiError, mut response: Response) -> Response {
    crate::observe::tag_code(&mut response, err.code());
    if let Some(secs) = err.retry_after() {
        if let Ok(value) = axum::http::HeaderValue::from_str(&secs.to_string()) {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, value);
        }
    }
    response
}

impl From<crate::storage::StorageError> for ApiError {
    fn from(err: crate::storage::StorageError) -> ApiError {
        match err {
            crate::storage::StorageError::NonceReplayed => ApiError::NonceReplayed,
            // The database is gone for now (PostgreSQL stopped or unreachable): 503
            // LK-SRV-006 with Retry-After, not a 500; the request wrote nothing.
            other if other.is_unavailable() => ApiError::DatabaseUnavailable(other.to_string()),
            other => ApiError::internal(other),
        }
    }
}

impl From<ring::error::Unspecified> for ApiError {
    fn from(_: ring::error::Unspecified) -> ApiError {
        ApiError::internal("the random number generator failed")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.code();
        let message = match &self {
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                code.default_message().to_owned()
            }
            ApiError::CertIssuanceFailed(detail) => {
                tracing::error!(error = %detail, "the certificate authority did not issue");
                code.default_message().to_owned()
            }
            ApiError::DatabaseUnavailable(detail) => {
                tracing::error!(error = %detail, "the database does not answer");
                code.default_message().to_owned()
            }
            other => other.to_string(),
        };
        let status =
            StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let response = (status, axum::Json(ApiErrorBody::new(code, message))).into_response();
        with_retry_after(&self, response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_database_is_answered_503_with_its_code() {
        let lost = crate::storage::StorageError::Database(sqlx::Error::PoolTimedOut);
        let err = ApiError::from(lost);
        assert_eq!(err.code(), ErrorCode::DatabaseUnavailable);
        assert_eq!(
            err.into_response().status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        let other = crate::storage::StorageError::Database(sqlx::Error::RowNotFound);
        assert_eq!(ApiError::from(other).code(), ErrorCode::Internal);
    }

    #[test]
    fn internal_errors_do_not_leak_details() {
        let response = ApiError::internal("secret path /x").into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
