//! The JSON the Latchkey web pages exchange with the service around the browser's WebAuthn
//! calls (docs/security-keys.md). Binary members are base64url without padding, as in the
//! WebAuthn Level 3 JSON serialisation (`PublicKeyCredential.toJSON()`).

use serde::{Deserialize, Serialize};

/// `POST /web/security-keys/register/begin`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterBegin {
    /// The name the user gives the key (1 to 64 characters).
    pub name: String,
}

/// `POST /web/signin/key/begin`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigninBegin {
    /// The user, for "username then key"; absent or empty for a discoverable credential.
    #[serde(default)]
    pub upn: Option<String>,
}

/// What a `begin` returns: the ceremony id and the options for
/// `navigator.credentials.create()` / `.get()` (`publicKey` member, JSON form).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CeremonyStart {
    /// The ceremony id to send back with the result.
    pub ceremony: String,
    /// `PublicKeyCredentialCreationOptionsJSON` or `PublicKeyCredentialRequestOptionsJSON`.
    pub public_key: serde_json::Value,
}

/// `AuthenticatorAttestationResponseJSON` (the members Latchkey reads).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttestationJson {
    /// clientDataJSON, base64url.
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    /// The attestation object, base64url.
    pub attestation_object: String,
}

/// `AuthenticatorAssertionResponseJSON` (the members Latchkey reads).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssertionJson {
    /// clientDataJSON, base64url.
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    /// Authenticator data, base64url.
    pub authenticator_data: String,
    /// The signature, base64url.
    pub signature: String,
    /// The user handle, base64url (present for discoverable credentials).
    #[serde(default)]
    pub user_handle: Option<String>,
}

/// A credential as the page sends it back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CredentialJson<R> {
    /// The credential id, base64url.
    pub id: String,
    /// The authenticator's response.
    pub response: R,
}

/// `POST /web/security-keys/register/finish`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterFinish {
    /// The ceremony id from `begin`.
    pub ceremony: String,
    /// The key's name.
    pub name: String,
    /// The new credential.
    pub credential: CredentialJson<AttestationJson>,
}

/// `POST /web/signin/key/finish`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigninFinish {
    /// The ceremony id from `begin`.
    pub ceremony: String,
    /// The assertion.
    pub credential: CredentialJson<AssertionJson>,
    /// Where to go after signing in (a local path).
    #[serde(default)]
    pub next: Option<String>,
}

/// What a `finish` returns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CeremonyDone {
    /// The page to load next.
    pub redirect: String,
}
