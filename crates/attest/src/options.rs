//! What the relying party expects and which policy it applies.
//!
//! Everything a verdict depends on is passed in: the RP ID, origins and challenge, the
//! trust anchors and the time. Nothing is read from the environment.

use crate::chain::TrustAnchor;
use crate::error::AttestError;

/// Most certificates accepted in an `x5c` chain (leaf included).
pub const MAX_CHAIN_LEN: usize = 8;
/// Largest attestation object or clientDataJSON accepted, in bytes.
pub const MAX_INPUT_LEN: usize = 64 * 1024;

/// What the relying party issued and expects back.
#[derive(Debug, Clone)]
pub struct Expected {
    /// The RP ID (a registrable domain); authenticator data carries its SHA-256.
    pub rp_id: String,
    /// Origins accepted in clientDataJSON, compared exactly (scheme, host and port).
    pub origins: Vec<String>,
    /// The challenge bytes the relying party issued for this ceremony.
    pub challenge: Vec<u8>,
}

impl Expected {
    /// Expectations for one RP ID, one origin and one challenge.
    pub fn new(rp_id: impl Into<String>, origin: impl Into<String>, challenge: Vec<u8>) -> Self {
        Self {
            rp_id: rp_id.into(),
            origins: vec![origin.into()],
            challenge,
        }
    }
}

/// How SHA-1 based attestation signatures are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sha1Policy {
    /// Accept RS1 (RSASSA-PKCS1-v1_5 with SHA-1) in `tpm` attestation statements only.
    /// Real Windows Hello TPMs sign their attestation this way, so this is the default.
    #[default]
    AllowTpmRs1,
    /// Refuse RS1 everywhere (strict): Windows Hello TPM registrations then fail with
    /// `LK-ATT-026`.
    Refuse,
}

/// Which attestation formats a trust anchor vouches for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttestationFormat {
    /// `packed`
    Packed,
    /// `tpm`
    Tpm,
    /// `fido-u2f`
    FidoU2f,
    /// `none`
    None,
    /// `android-key`
    AndroidKey,
    /// `apple`
    Apple,
    /// `android-safetynet`
    AndroidSafetyNet,
}

impl AttestationFormat {
    /// Map the `fmt` string of an attestation object.
    pub fn from_fmt(fmt: &str) -> Result<Self, AttestError> {
        Ok(match fmt {
            "packed" => Self::Packed,
            "tpm" => Self::Tpm,
            "fido-u2f" => Self::FidoU2f,
            "none" => Self::None,
            "android-key" => Self::AndroidKey,
            "apple" => Self::Apple,
            "android-safetynet" => Self::AndroidSafetyNet,
            other => {
                return Err(AttestError::UnsupportedFormat {
                    fmt: other.to_owned(),
                })
            }
        })
    }

    /// The `fmt` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Packed => "packed",
            Self::Tpm => "tpm",
            Self::FidoU2f => "fido-u2f",
            Self::None => "none",
            Self::AndroidKey => "android-key",
            Self::Apple => "apple",
            Self::AndroidSafetyNet => "android-safetynet",
        }
    }
}

/// Trust anchors, each optionally limited to some attestation formats.
#[derive(Debug, Clone, Default)]
pub struct TrustAnchors {
    entries: Vec<(TrustAnchor, Option<Vec<AttestationFormat>>)>,
}

impl TrustAnchors {
    /// No anchors: every attestation with a certificate chain is refused.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trust `anchor` for every format.
    pub fn add(&mut self, anchor: TrustAnchor) {
        self.entries.push((anchor, None));
    }

    /// Trust `anchor` only for the listed formats (for example the Microsoft TPM root for
    /// `tpm` only).
    pub fn add_for(&mut self, anchor: TrustAnchor, formats: &[AttestationFormat]) {
        self.entries.push((anchor, Some(formats.to_vec())));
    }

    /// The anchors that apply to `format`.
    pub fn for_format(&self, format: AttestationFormat) -> Vec<&TrustAnchor> {
        self.entries
            .iter()
            .filter(|(_, scope)| scope.as_ref().is_none_or(|f| f.contains(&format)))
            .map(|(a, _)| a)
            .collect()
    }
}

/// The registration (attestation) policy.
#[derive(Debug, Clone)]
pub struct RegistrationPolicy {
    /// Roots that attestation chains must lead to.
    pub trust_anchors: TrustAnchors,
    /// RS1 handling; default accepts it in TPM statements.
    pub sha1: Sha1Policy,
    /// Refuse when the UV flag is not set.
    pub require_user_verification: bool,
    /// Refuse when the UP flag is not set (default true).
    pub require_user_presence: bool,
    /// Accept `none` attestation (default true); when false, `none` is refused with
    /// `LK-ATT-015`.
    pub allow_none_attestation: bool,
    /// Accept packed self attestation (default true).
    pub allow_self_attestation: bool,
    /// Refuse SafetyNet verdicts with `ctsProfileMatch: false` (default true).
    pub enforce_safetynet_cts_profile_match: bool,
    /// How far the SafetyNet `timestampMs` may lie before or after the verification time,
    /// in milliseconds (default 60 000).
    pub safetynet_max_skew_ms: i64,
    /// Accept android-key attestations whose origin/purpose are only software-enforced
    /// (default false: they must be TEE- or StrongBox-enforced).
    pub android_key_allow_software_enforced: bool,
    /// Accept clientDataJSON with `crossOrigin: true` (default false).
    pub allow_cross_origin: bool,
}

impl Default for RegistrationPolicy {
    fn default() -> Self {
        Self {
            trust_anchors: TrustAnchors::new(),
            sha1: Sha1Policy::default(),
            require_user_verification: false,
            require_user_presence: true,
            allow_none_attestation: true,
            allow_self_attestation: true,
            enforce_safetynet_cts_profile_match: true,
            safetynet_max_skew_ms: 60_000,
            android_key_allow_software_enforced: false,
            allow_cross_origin: false,
        }
    }
}

/// What to do when the signature counter does not increase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CounterPolicy {
    /// Refuse the assertion with `LK-ATT-039` (default).
    #[default]
    Reject,
    /// Accept, and report the regression in the verified assertion so the caller can
    /// flag the credential.
    Report,
}

/// The authentication (assertion) options.
#[derive(Debug, Clone)]
pub struct AssertionOptions {
    /// Refuse when the UV flag is not set.
    pub require_user_verification: bool,
    /// Refuse when the UP flag is not set (default true).
    pub require_user_presence: bool,
    /// Non-increasing signature counter handling.
    pub counter: CounterPolicy,
    /// Accept clientDataJSON with `crossOrigin: true` (default false).
    pub allow_cross_origin: bool,
}

impl Default for AssertionOptions {
    fn default() -> Self {
        Self {
            require_user_verification: false,
            require_user_presence: true,
            counter: CounterPolicy::default(),
            allow_cross_origin: false,
        }
    }
}
