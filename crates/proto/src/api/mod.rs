//! JSON bodies of the HTTP API, one module per resource. Binary members are unpadded
//! base64url strings (see [`crate::b64`]); unknown members are refused so that a typo in a
//! client shows up as an error instead of being silently ignored.
//!
//! | route | request | response |
//! |---|---|---|
//! | `GET /v1/tenant` | – | [`tenant::TenantInfo`] |
//! | `GET /v1/ca.pem` | – | PEM text |
//! | `POST /v1/nonce` | [`nonce::NonceRequest`] | [`nonce::NonceResponse`] |
//! | `POST /v1/auth/password` | [`auth::PasswordSignIn`] | [`auth::EnrollmentToken`] |
//! | `POST /v1/devices/join` | [`device::JoinRequest`] (Bearer token) | [`device::JoinResponse`] |
//! | `POST /v1/devices/leave` | [`device::LeaveRequest`] | [`device::LeaveResponse`] |
//! | `POST /v1/devices/tpm/activate/begin` | [`tpm::TpmActivateBegin`] | [`tpm::TpmActivateChallenge`] |
//! | `POST /v1/devices/tpm/activate/finish` | [`tpm::TpmActivateFinish`] | [`tpm::TpmActivated`] |
//! | `POST /v1/keys` | [`key::RegisterKeyRequest`] (Bearer token when MFA is needed) | [`key::RegisterKeyResponse`] |
//! | `POST /v1/certificates/enroll` | [`cert::CertEnrollRequest`] (Bearer token with the MFA claim) | [`cert::IssuedCertificate`] |
//! | `POST /v1/certificates/renew` | [`cert::CertRenewRequest`] | [`cert::IssuedCertificate`] |
//! | `GET /v1/pin/recovery-key` | – | [`pin_reset::PinRecoveryKey`] |
//! | `POST /v1/pin/reset` | [`pin_reset::PinResetRequest`] (Bearer enrolment token) | [`pin_reset::PinResetResponse`] |
//! | `POST /v1/signin` | [`signin::SignInRequest`] | [`signin::SignInResponse`] |
//! | `POST /v1/prt/renew` | [`signin::RenewRequest`] | [`signin::SignInResponse`] |
//! | `POST /v1/token` | [`signin::TokenRequest`] | [`signin::TokenResponse`] |
//! | `POST /v1/policy/effective` | [`policy::EffectivePolicyRequest`] | [`policy::EffectivePolicyResponse`] |
//! | `POST /v1/policy/session` | SyncML (device proof in headers) | SyncML |
//! | `POST /v1/policy/syncml` | SyncML (admin Bearer token) | SyncML |
//! | `GET /.well-known/openid-configuration` | – | OpenID Provider metadata |
//! | `GET /v1/jwks` | – | JWK Set |

pub mod auth;
pub mod cert;
pub mod device;
pub mod key;
pub mod nonce;
pub mod oidc;
pub mod pin_reset;
pub mod policy;
pub mod signin;
pub mod tenant;
pub mod tpm;
pub mod webauthn;
