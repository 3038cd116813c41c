//! Stable error codes: the `code` member of every JSON error body and the prefix of every
//! message a user sees. A code, once published, keeps its meaning forever.

use serde::{Deserialize, Serialize};

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = ($code:literal, $status:literal, $message:literal), )*) => {
        /// Every failure the HTTP API can report, with its stable code and HTTP status.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrorCode {
            /// Every code, in declaration order (for documentation and exhaustive tests).
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The stable string form, e.g. `LK-AUTH-003`.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)* }
            }

            /// The HTTP status this code is sent with.
            pub fn http_status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status,)* }
            }

            /// A short default description, for people.
            pub fn default_message(self) -> &'static str {
                match self { $(ErrorCode::$variant => $message,)* }
            }

            /// Looks a code up by its string form.
            pub fn from_code(code: &str) -> Option<ErrorCode> {
                match code { $($code => Some(ErrorCode::$variant),)* _ => None }
            }
        }
    };
}

error_codes! {
    /// The request body is not valid JSON or does not have the expected shape.
    MalformedRequest = ("LK-REQ-001", 400, "the request body is not valid JSON of the expected shape"),
    /// The request body exceeds the size limit.
    BodyTooLarge = ("LK-REQ-002", 413, "the request body is too large"),
    /// A field is present but its value is not acceptable (bad base64, bad key blob, ...).
    InvalidField = ("LK-REQ-003", 400, "a field of the request has an invalid value"),
    /// The route does not exist.
    NotFound = ("LK-REQ-004", 404, "no such endpoint"),
    /// The request did not declare a JSON content type.
    UnsupportedMediaType = ("LK-REQ-005", 415, "the request must be application/json"),
    /// The HTTP method is not allowed on this route.
    MethodNotAllowed = ("LK-REQ-006", 405, "method not allowed on this endpoint"),
    /// Unknown user or wrong password (deliberately indistinguishable).
    InvalidCredentials = ("LK-AUTH-001", 401, "unknown user or wrong password"),
    /// The one-time code is wrong or was already used.
    InvalidOtp = ("LK-AUTH-002", 401, "the one-time code is wrong or was already used"),
    /// Too many failed attempts for this user or source address.
    RateLimited = ("LK-AUTH-003", 429, "too many failed attempts; try again later"),
    /// The bearer token is missing, malformed, forged or expired.
    InvalidToken = ("LK-AUTH-004", 401, "missing, invalid or expired bearer token"),
    /// This operation needs a fresh multi-factor sign-in.
    MfaRequired = ("LK-AUTH-005", 403, "a multi-factor sign-in is required for this operation"),
    /// The token names another user or device than the request.
    SubjectMismatch = ("LK-AUTH-006", 403, "the token does not name this user or device"),
    /// The user is disabled.
    UserDisabled = ("LK-AUTH-007", 403, "the user is disabled"),
    /// Too many password checks are running; none became free in time (retry later).
    PasswordBusy = ("LK-AUTH-008", 503, "too many sign-ins are being checked right now; retry shortly"),
    /// The nonce is not one this service issued.
    NonceInvalid = ("LK-NONCE-001", 400, "the nonce was not issued by this service"),
    /// The nonce has expired.
    NonceExpired = ("LK-NONCE-002", 400, "the nonce has expired"),
    /// The nonce was already used.
    NonceReplayed = ("LK-NONCE-003", 400, "the nonce was already used"),
    /// The nonce was issued for another purpose.
    NonceWrongPurpose = ("LK-NONCE-004", 400, "the nonce was issued for another purpose"),
    /// No such device in this tenant.
    DeviceNotFound = ("LK-DEV-001", 404, "no such device"),
    /// The device is disabled.
    DeviceDisabled = ("LK-DEV-002", 403, "the device is disabled"),
    /// The device-key proof does not verify.
    DeviceProofInvalid = ("LK-DEV-003", 401, "the device-key signature does not verify"),
    /// The device public key is unusable.
    DeviceKeyInvalid = ("LK-DEV-004", 400, "the device public key is not an acceptable key"),
    /// No such key credential (never registered, or deleted).
    KeyNotFound = ("LK-KEY-001", 401, "no such key credential; it may have been deleted"),
    /// The key is registered for another device.
    KeyWrongDevice = ("LK-KEY-002", 401, "the key is not registered for this device"),
    /// The key assertion signature does not verify.
    AssertionInvalid = ("LK-KEY-003", 401, "the key assertion signature does not verify"),
    /// The public key is of an unsupported type or malformed.
    KeyInvalid = ("LK-KEY-004", 400, "the public key is malformed or of an unsupported type"),
    /// The key is registered for another user.
    KeyWrongUser = ("LK-KEY-005", 401, "the key is not registered for this user"),
    /// The primary refresh token is unknown or revoked.
    PrtInvalid = ("LK-PRT-001", 401, "the primary refresh token is unknown or revoked"),
    /// The primary refresh token has expired.
    PrtExpired = ("LK-PRT-002", 401, "the primary refresh token has expired"),
    /// A primary refresh token was sent without the device-key proof that must come with it.
    PrtProofRequired = ("LK-PRT-003", 401, "using a primary refresh token needs a device-key proof over a fresh nonce"),
    /// The primary refresh token was issued to another device than the request names.
    PrtWrongDevice = ("LK-PRT-004", 401, "the primary refresh token is bound to another device"),
    /// The audience is neither a registered application nor a registered resource.
    AudienceUnknown = ("LK-TOKEN-001", 400, "the audience is not a registered application or resource of this tenant"),
    /// No such resource (administration).
    ResourceNotFound = ("LK-TOKEN-002", 404, "no such resource"),
    /// The SyncML message could not be parsed (not XML, not SyncML, over a limit).
    SyncMlMalformed = ("LK-SYNCML-001", 400, "the SyncML message is malformed"),
    /// A SyncML endpoint was called without a SyncML content type.
    SyncMlMediaType = ("LK-SYNCML-002", 415, "the request must be application/vnd.syncml.dm+xml"),
    /// The policy session named is unknown, closed, or belongs to another device.
    PolicySessionUnknown = ("LK-SYNCML-003", 404, "no such open policy session for this device"),
    /// A policy administration request names something that does not exist or is invalid
    /// (group, Group Policy object, setting).
    PolicyInvalid = ("LK-POLICY-001", 400, "the policy request is invalid"),
    /// A policy value is outside the bounds its CSP allows (`MinimumPINLength` below 4, a
    /// maximum below the minimum, ...); nothing was stored.
    PolicyOutOfBounds = ("LK-POLICY-002", 400, "a policy value is outside the bounds its CSP allows"),
    /// A user already has the most security keys allowed (10).
    SecurityKeyLimit = ("LK-SK-001", 409, "a user may register at most 10 security keys; remove one first"),
    /// The security key's registration (attestation) does not verify.
    SecurityKeyAttestationInvalid = ("LK-SK-002", 400, "the security key registration does not verify"),
    /// The security key's sign-in (assertion) does not verify.
    SecurityKeyAssertionInvalid = ("LK-SK-003", 401, "the security key signature does not verify"),
    /// The tenant's settings do not allow this security key (AAGUID list, trusted roots).
    SecurityKeyNotAllowed = ("LK-SK-004", 403, "this security key is not allowed by the tenant's settings"),
    /// No such security key (never registered, or removed).
    SecurityKeyNotFound = ("LK-SK-005", 401, "no such security key; it may have been removed"),
    /// The signature counter did not increase: a possible cloned key.
    SecurityKeyCounterRegressed = ("LK-SK-006", 401, "the security key's signature counter went backwards: possible cloned key"),
    /// Security-key sign-in is not enabled (SecurityKey/UseSecurityKeyForSignin).
    SecurityKeySigninDisabled = ("LK-SK-007", 403, "security-key sign-in is not enabled for this tenant"),
    /// The key did not verify the user (no PIN), and user verification is required.
    SecurityKeyUserNotVerified = ("LK-SK-008", 401, "the security key did not verify the user (PIN); user verification is required"),
    /// The WebAuthn ceremony is unknown, expired, already used or for another purpose.
    CeremonyInvalid = ("LK-SK-009", 400, "the security key ceremony is unknown, expired or already used"),
    /// The credential public key of a registration is not acceptable (RSA size or
    /// exponent, EC point not on its curve, duplicate COSE labels).
    SecurityKeyPublicKeyInvalid = ("LK-SK-010", 400, "the security key's public key is not acceptable"),
    /// The EK certificate does not chain to a TPM manufacturer root the tenant trusts
    /// (`latchkeyd tpm-roots add`), or a signature or CA constraint in its chain fails.
    TpmEkUntrusted = ("LK-HWK-001", 403, "the EK certificate does not chain to a TPM manufacturer root this tenant trusts"),
    /// The EK certificate or EK public area is malformed, certifies another key, or names no
    /// TPM manufacturer, model and version.
    TpmEkInvalid = ("LK-HWK-002", 400, "the EK certificate or EK public area is not acceptable"),
    /// A certificate of the EK chain is not valid at the service's time.
    TpmEkNotValidNow = ("LK-HWK-003", 403, "a certificate of the EK chain is expired or not yet valid"),
    /// The AIK's public area is not acceptable (not a restricted signing key bound to its
    /// TPM, or an unsupported algorithm).
    TpmAikUnacceptable = ("LK-HWK-004", 400, "the attestation key (AIK) is not acceptable"),
    /// The AIK is already activated for another device.
    TpmAikOfAnotherDevice = ("LK-HWK-005", 409, "this attestation key is already activated for another device"),
    /// The TPM is a TPM 1.2 and the policy sets ExcludeSecurityDevices/TPM12.
    TpmFamilyExcluded = ("LK-HWK-006", 403, "TPM 1.2 is excluded by policy (ExcludeSecurityDevices/TPM12)"),
    /// The activation is unknown, for another device, or already used.
    TpmActivationUnknown = ("LK-HWK-007", 400, "the TPM activation is unknown or already used; begin again"),
    /// The activation expired.
    TpmActivationExpired = ("LK-HWK-008", 400, "the TPM activation has expired; begin again"),
    /// The secret returned is not the one sealed to the EK for the AIK.
    TpmActivationSecretWrong = ("LK-HWK-009", 403, "the activation secret is wrong: the TPM did not prove it holds the EK and the AIK"),
    /// The service could not make a credential for this EK (unsupported EK template).
    TpmEkUnsupported = ("LK-HWK-010", 400, "credential activation is not supported for this EK"),
    /// A key registration carries a TPM attestation but the device has no activated AIK.
    TpmNoActivatedAik = ("LK-HWK-011", 403, "this device has no activated TPM attestation key; run `latchkey tpm attest` first"),
    /// The key attestation (TPM2_Certify by the device's AIK) does not verify.
    TpmKeyAttestationInvalid = ("LK-HWK-012", 400, "the key's TPM attestation does not verify"),
    /// The policy requires a security device (RequireSecurityDevice) and the key has no
    /// valid TPM attestation.
    TpmSecurityDeviceRequired = ("LK-HWK-013", 403, "the policy requires a TPM-bound key (RequireSecurityDevice); this key has no valid TPM attestation"),
    /// A TPM attestation was sent for a key that is not RSA.
    TpmKeyAttestationAlg = ("LK-HWK-014", 400, "TPM key attestation is supported for RSA Hello keys only"),
    /// No TPM root with this fingerprint (`latchkeyd tpm-roots remove`).
    TpmRootNotFound = ("LK-HWK-015", 404, "no such TPM root"),
    /// `EnablePinRecovery` is not in force for this user on this device: only a destructive
    /// reset is possible.
    PinRecoveryDisabled = ("LK-PINR-001", 403, "PIN recovery is not enabled for this user on this device; reset the PIN destructively"),
    /// The recovery blob or the response key is malformed.
    PinRecoveryRequestInvalid = ("LK-PINR-002", 400, "the recovery blob or the response key is malformed"),
    /// The recovery blob does not open for this device, user and key (made for another, or
    /// altered).
    PinRecoveryBlobMismatch = ("LK-PINR-003", 403, "the recovery blob does not open for this device, user and key"),
    /// The blob was made under a PIN-recovery key the service no longer holds (its grace
    /// period ended), or the tenant has no PIN-recovery key.
    PinRecoveryKeyRetired = ("LK-PINR-004", 409, "the recovery blob was made under a PIN-recovery key the service no longer holds; reset the PIN destructively"),
    /// The recovery blob was answered before: a recovery secret is used once.
    PinRecoveryBlobUsed = ("LK-PINR-005", 409, "this recovery blob was already used; a recovery secret is answered only once"),
    /// A reset needs a fresh enrolment token: password and one-time code, at most ten
    /// minutes old.
    PinRecoveryMfaRequired = ("LK-PINR-006", 401, "a PIN reset needs your password and a one-time code from the last ten minutes"),
    /// `latchkeyd pin-recovery rotate --grace-days` outside 1..=365.
    PinRecoveryGraceInvalid = ("LK-PINR-007", 400, "the grace period must be 1 to 365 days"),
    /// The certificate request (PKCS#10) is malformed, or its signature does not verify
    /// with its own public key.
    CertRequestInvalid = ("LK-CERT-001", 400, "the certificate request is malformed or its signature does not verify"),
    /// The request's public key is not the Hello key registered for this user on this device.
    CertKeyMismatch = ("LK-CERT-002", 403, "the certificate request's key is not the Hello key registered for this user on this device"),
    /// The user may not enrol on this template (not in its enrolment group).
    CertEnrollmentNotAllowed = ("LK-CERT-003", 403, "this user may not enrol for a certificate on this template"),
    /// No such certificate template.
    CertTemplateNotFound = ("LK-CERT-004", 404, "no such certificate template"),
    /// Certificate trust is not set up for this user: no template is assigned and none named.
    CertNoTemplate = ("LK-CERT-005", 403, "no certificate template is assigned to this user"),
    /// No such certificate (serial), or it is not this user's and device's.
    CertNotFound = ("LK-CERT-006", 404, "no such certificate"),
    /// A renewal outside the certificate's renewal window.
    CertRenewalNotDue = ("LK-CERT-007", 409, "the certificate is not yet inside its renewal window"),
    /// A renewal of an expired certificate: enrol again, with a fresh multi-factor sign-in.
    CertExpired = ("LK-CERT-008", 403, "the certificate has expired; enrol again after a fresh multi-factor sign-in"),
    /// A renewal of a revoked certificate.
    CertRevoked = ("LK-CERT-009", 403, "the certificate is revoked"),
    /// The renewal is not signed by the certificate's key.
    CertRenewalProofInvalid = ("LK-CERT-010", 401, "the renewal is not signed by the certificate's key"),
    /// The issuing CA refused the request (not countersigned by the registration
    /// authority, or the countersignature does not verify) or could not sign.
    CertIssuanceFailed = ("LK-CERT-011", 500, "the certificate authority did not issue the certificate"),
    /// A template setting is not acceptable (`latchkeyd cert template set`).
    CertTemplateInvalid = ("LK-CERT-012", 400, "a certificate template setting is not acceptable"),
    /// The MFA token for an enrolment is older than the freshness limit.
    CertMfaNotFresh = ("LK-CERT-013", 403, "certificate enrolment needs a multi-factor sign-in from the last ten minutes"),
    /// The request's key is not acceptable for a certificate (algorithm or size).
    CertKeyUnacceptable = ("LK-CERT-014", 400, "the certificate request's key is not acceptable (RSA 2048 or larger, or P-256)"),
    /// The certificate is already revoked (`latchkeyd cert revoke`).
    CertAlreadyRevoked = ("LK-CERT-015", 409, "the certificate is already revoked"),
    /// A renewal of a certificate that was already renewed (superseded by a newer one).
    CertAlreadyRenewed = ("LK-CERT-016", 409, "the certificate was already renewed; renew its successor"),
    /// `latchkeyd kerberos kdc-setup`: the realm is not acceptable (1 to 255 of
    /// `A-Z a-z 0-9 . - _`, no leading or trailing dot).
    KrbRealmInvalid = ("LK-KRB-001", 400, "the Kerberos realm is not acceptable"),
    /// `latchkeyd kerberos kdc-setup`: the KDC host name is not an acceptable DNS name.
    KrbHostnameInvalid = ("LK-KRB-002", 400, "the KDC host name is not acceptable"),
    /// `latchkeyd kerberos kdc-setup`: a file it would write exists (and `--force` was
    /// not given); nothing was written.
    KrbOutputExists = ("LK-KRB-003", 409, "a KDC setup file exists already; nothing was written (use --force to replace)"),
    /// `latchkeyd kerberos kdc-setup`: the output directory or a file in it could not be
    /// written; nothing was recorded and no file was left behind.
    KrbOutputFailed = ("LK-KRB-004", 500, "the KDC setup files could not be written"),
    /// `latchkeyd kerberos set-principal`: the name is not one component (1 to 255
    /// characters, no `/`, `@`, backslash, space or control character).
    KrbPrincipalInvalid = ("LK-KRB-005", 400, "the Kerberos principal name is not acceptable"),
    /// The audit export file could not be created or written (`latchkeyd audit export`;
    /// nothing was pruned).
    AuditExportFailed = ("LK-AUDIT-001", 500, "the audit export could not be written"),
    /// An administration command named a data directory that does not exist or holds no
    /// tenant; nothing was created (`latchkeyd init` or `serve` creates one).
    DataDirMissing = ("LK-ADM-001", 404, "no data directory with a tenant at this path; nothing was created"),
    /// An irreversible administration command was not confirmed: standard input is not a
    /// terminal and `--yes` was not given, or the prompt was not answered `yes`.
    ConfirmationRequired = ("LK-ADM-002", 409, "an irreversible action needs confirmation; pass --yes"),
    /// An id prefix matches more than one object.
    AmbiguousPrefix = ("LK-ADM-003", 409, "the id prefix matches more than one object; give more of it"),
    /// An id prefix is too short (fewer than 4 hexadecimal digits) or not hexadecimal.
    PrefixTooShort = ("LK-ADM-004", 400, "an id prefix needs at least 4 hexadecimal digits"),
    /// `user delete`: the user is the registered owner of devices; delete them first.
    UserOwnsDevices = ("LK-ADM-005", 409, "the user is the registered owner of devices; delete them first"),
    /// No application with this client id.
    ClientNotFound = ("LK-ADM-006", 404, "no such application"),
    /// `client rotate-secret` of a public client (it has no secret).
    ClientPublic = ("LK-ADM-007", 409, "a public client has no secret to rotate"),
    /// `latchkeyd user import`: a line of the file is not acceptable (a bad UPN, display
    /// name or password hash, a missing or unknown column, a line too long, not UTF-8);
    /// the message names the line. Nothing was imported.
    ImportLineInvalid = ("LK-IMP-001", 400, "a line of the import file is not acceptable; nothing was imported"),
    /// `latchkeyd user import`: a UPN of the file exists already or is listed twice.
    /// Nothing was imported.
    ImportUserExists = ("LK-IMP-002", 409, "a user of the import file exists already or is listed twice; nothing was imported"),
    /// `latchkeyd user import`: the file cannot be read, or its format is not known (give
    /// `--format`). Nothing was imported.
    ImportFileUnreadable = ("LK-IMP-003", 400, "the import file cannot be read; nothing was imported"),
    /// `latchkeyd user import --enrolment-out`: the enrolment file exists already or could
    /// not be written. Nothing was imported.
    ImportEnrolmentFailed = ("LK-IMP-004", 409, "the enrolment file exists or could not be written; nothing was imported"),
    /// `latchkeyd storage copy` refused or failed (the message carries its LK-COPY code);
    /// nothing was written to the target.
    StorageCopyFailed = ("LK-ADM-008", 409, "the storage copy did not happen; nothing was written"),
    /// A form or browser request lacked the right anti-forgery (CSRF) token.
    CsrfInvalid = ("LK-WEB-001", 403, "the anti-forgery token is missing or wrong; reload the page"),
    /// No web session, or it expired.
    SessionRequired = ("LK-WEB-002", 401, "not signed in, or the session expired"),
    /// The page is for administrators only.
    AdminRequired = ("LK-WEB-003", 403, "this page is for administrators only"),
    /// An administration page or action names an object that does not exist.
    AdminObjectNotFound = ("LK-WEB-004", 404, "there is no such object; it may have been removed already"),
    /// An OAuth/OpenID Connect request is malformed or names an unknown client or a
    /// redirect URI that is not registered (`invalid_request`).
    OidcInvalidRequest = ("LK-OIDC-001", 400, "the OpenID Connect request is invalid"),
    /// Client authentication failed (`invalid_client`).
    OidcInvalidClient = ("LK-OIDC-002", 401, "client authentication failed"),
    /// The code or refresh token is unknown, expired, used, or the PKCE verifier or
    /// redirect URI does not match (`invalid_grant`).
    OidcInvalidGrant = ("LK-OIDC-003", 400, "the authorization grant is invalid, expired or already used"),
    /// The grant type is not supported (`unsupported_grant_type`).
    OidcUnsupportedGrant = ("LK-OIDC-004", 400, "the grant type is not supported"),
    /// The request's header section (all names and values, or their number) is over the
    /// service's limit.
    HeaderTooLarge = ("LK-HTTP-001", 431, "the request headers are too large"),
    /// The request target (path and query) is over the service's limit.
    UriTooLong = ("LK-HTTP-002", 414, "the request URI is too long"),
    /// The request body did not arrive within the request-body timeout.
    RequestTimeout = ("LK-HTTP-003", 408, "the request body did not arrive in time"),
    /// The service is at its connection limit and every connection is busy.
    TooManyConnections = ("LK-HTTP-004", 503, "the service is at its connection limit; try again shortly"),
    /// The request head is not valid HTTP/1 (request line or header syntax); the connection
    /// is closed.
    MalformedHttp = ("LK-HTTP-005", 400, "the request is not valid HTTP"),
    /// An internal failure (storage, ...); details are in the service log only.
    Internal = ("LK-SRV-001", 500, "internal error"),
    /// The data directory or a file in it is accessible by group or others (start-up).
    DataDirNotPrivate = ("LK-SRV-002", 500, "the data directory or a file in it is not private to the service"),
    /// The key file (key-encryption key) is missing, malformed or not private (start-up).
    KeyFileUnusable = ("LK-SRV-003", 500, "the key file is missing, malformed or not private"),
    /// The key file holds another key than the one the database's secrets are sealed under.
    KeyFileWrongKey = ("LK-SRV-004", 500, "the key file does not belong to this database"),
    /// A sealed secret in the database does not open: altered, moved, or of an unknown format.
    SealedSecretInvalid = ("LK-SRV-005", 500, "a sealed secret in the database does not open"),
    /// The database did not answer in time (`GET /readyz`): the service is up but cannot
    /// serve; retry shortly.
    DatabaseUnavailable = ("LK-SRV-006", 503, "the database does not answer; retry shortly"),
    /// The configuration file (`--config`, `LATCHKEY_CONFIG`) cannot be read: missing,
    /// unreadable or over 64 KiB.
    ConfigUnreadable = ("LK-CFG-001", 500, "the configuration file cannot be read"),
    /// The configuration file is not valid TOML, or has an unknown key or a value of the
    /// wrong type (the message names the line and the key).
    ConfigInvalid = ("LK-CFG-002", 500, "the configuration file is not valid"),
    /// A setting, from the file, the environment or a flag, has a value the service cannot
    /// use (the message names the setting and what it accepts).
    ConfigValueInvalid = ("LK-CFG-003", 500, "a setting has a value the service cannot use"),
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JSON body of every error response: `{"code": "LK-...", "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    /// The stable error code, e.g. `LK-NONCE-003`.
    pub code: String,
    /// A human-readable explanation.
    pub message: String,
}

impl ApiErrorBody {
    /// Builds the body for `code`, with a specific message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiErrorBody {
            code: code.as_str().to_owned(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "duplicate {}", code.as_str());
            assert_eq!(ErrorCode::from_code(code.as_str()), Some(*code));
            let status = code.http_status();
            assert!((400..600).contains(&status), "{code} has status {status}");
        }
        assert_eq!(ErrorCode::from_code("LK-NOPE-000"), None);
    }
}

#[cfg(test)]
mod doc_tests {
    use super::ErrorCode;

    /// docs/API.md must list every code with its HTTP status, so the page never drifts.
    #[test]
    fn api_doc_lists_every_code() {
        let doc = include_str!("../../../docs/API.md");
        for code in ErrorCode::ALL {
            let row = format!("| `{}` | {} |", code.as_str(), code.http_status());
            assert!(doc.contains(&row), "docs/API.md lacks the row {row}");
        }
    }
}
