//! The effective policy: what is in force on one device for one user, and where each
//! setting came from.
//!
//! Precedence (BRIEF §4, Microsoft's documented rule for this policy set): user Group
//! Policy, then computer Group Policy, then user CSP, then device CSP. "If you deploy Windows
//! Hello for Business configuration using both Group Policy and Intune, Group Policy
//! settings take precedence, and Intune settings are ignored" (seed 003).
//!
//! - An ordinary setting takes the value of the highest-precedence source that configures it;
//!   lower sources that disagree are recorded as [`PolicyNote::Overridden`].
//! - PIN complexity is one group: when any Group Policy source configures any PIN rule, the
//!   CSP PIN rules are not applied at all (the GP/CSP conflict rule,
//!   [`PolicyNote::CspPinIgnored`]); among the sources that remain, the strictest value of
//!   each rule wins (longest minimum, shortest maximum, required > disallowed > allowed,
//!   longest history, shortest non-zero expiration), ties going to the higher source.
//! - Then the seed's fallback rules: a source whose own min/max pair is out of bounds counts
//!   as not configuring lengths; if the merged pair is inconsistent both fall back to the
//!   defaults; the default complexity replaces an all-allowed set of character rules.

use serde::{Deserialize, Serialize};

use crate::document::PolicyDocument;
use crate::node::Scope;
use crate::pin::{resolve_classes, resolve_lengths, DEFAULT_MAX_LENGTH, DEFAULT_MIN_LENGTH};
use crate::settings::{CharClassRule, PolicySettings};

/// Where an effective setting came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Nobody configured it (or a fallback rule restored the default).
    Default,
    /// `./Device/Vendor/MSFT/PassportForWork`.
    DeviceCsp,
    /// `./User/Vendor/MSFT/PassportForWork`.
    UserCsp,
    /// Computer Configuration Group Policy (HKLM).
    ComputerGpo,
    /// User Configuration Group Policy (HKCU).
    UserGpo,
}

impl Source {
    /// A short label for `policy show`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::DeviceCsp => "device CSP",
            Self::UserCsp => "user CSP",
            Self::ComputerGpo => "computer Group Policy",
            Self::UserGpo => "user Group Policy",
        }
    }

    fn is_gpo(self) -> bool {
        matches!(self, Self::ComputerGpo | Self::UserGpo)
    }
}

/// A setting's effective value and its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Effective<T> {
    /// The value in force.
    pub value: T,
    /// Who set it.
    pub source: Source,
}

impl<T> Effective<T> {
    fn default_value(value: T) -> Self {
        Self {
            value,
            source: Source::Default,
        }
    }

    /// Whether some source configured this setting (it is not the default).
    pub fn is_configured(&self) -> bool {
        self.source != Source::Default
    }
}

/// Something `policy show` should tell the administrator about how the result was reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "note", rename_all = "snake_case")]
pub enum PolicyNote {
    /// A lower-precedence source set a different value that was not applied.
    Overridden {
        /// The setting's name.
        setting: String,
        /// The source whose value is in force.
        winner: Source,
        /// The source whose value was not applied.
        ignored: Source,
    },
    /// Group Policy configures PIN complexity, so the CSP PIN rules were not applied.
    CspPinIgnored,
    /// A PIN min/max pair broke the seed's bounds; defaults used for both. `source` is the
    /// source whose own pair was bad, or `Default` when the merged pair was inconsistent.
    LengthFallback {
        /// The offending source.
        source: Source,
    },
    /// Every character set was allowed (or every one disallowed) with none required: the
    /// default complexity (digits required, others not allowed) applies.
    DefaultComplexityApplied,
}

/// The four policy sources of one device and user, already reduced to settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySources {
    /// User Configuration Group Policy.
    pub user_gpo: PolicySettings,
    /// Computer Configuration Group Policy.
    pub computer_gpo: PolicySettings,
    /// `./User/Vendor/MSFT/PassportForWork`.
    pub user_csp: PolicySettings,
    /// `./Device/Vendor/MSFT/PassportForWork`.
    pub device_csp: PolicySettings,
}

impl PolicySources {
    /// Sources from a CSP document and the Group Policy settings that apply (see
    /// [`crate::gpo::applicable_settings`]).
    pub fn new(
        doc: &PolicyDocument,
        computer_gpo: PolicySettings,
        user_gpo: PolicySettings,
    ) -> Self {
        Self {
            user_gpo,
            computer_gpo,
            user_csp: doc.settings(Scope::User),
            device_csp: doc.settings(Scope::Device),
        }
    }

    fn ordered(&self) -> [(Source, &PolicySettings); 4] {
        [
            (Source::UserGpo, &self.user_gpo),
            (Source::ComputerGpo, &self.computer_gpo),
            (Source::UserCsp, &self.user_csp),
            (Source::DeviceCsp, &self.device_csp),
        ]
    }
}

/// The PIN rules in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinPolicy {
    /// Minimum length (characters).
    pub min_length: Effective<u32>,
    /// Maximum length (characters).
    pub max_length: Effective<u32>,
    /// Uppercase letters.
    pub uppercase: Effective<CharClassRule>,
    /// Lowercase letters.
    pub lowercase: Effective<CharClassRule>,
    /// Special characters.
    pub special: Effective<CharClassRule>,
    /// Digits.
    pub digits: Effective<CharClassRule>,
    /// History: how many PINs (the current one included) may not be reused; 0 = none kept.
    pub history: Effective<u32>,
    /// Expiration in days; 0 = never.
    pub expiration_days: Effective<u32>,
}

impl Default for PinPolicy {
    fn default() -> Self {
        let n = Effective::default_value;
        let c = Effective::default_value;
        Self {
            min_length: n(DEFAULT_MIN_LENGTH),
            max_length: n(DEFAULT_MAX_LENGTH),
            uppercase: c(CharClassRule::Disallowed),
            lowercase: c(CharClassRule::Disallowed),
            special: c(CharClassRule::Disallowed),
            digits: c(CharClassRule::Required),
            history: n(0),
            expiration_days: n(0),
        }
    }
}

impl PinPolicy {
    /// How many PIN hashes the device keeps for the history check, the current PIN
    /// included (the seed: "The current PIN of the user is included in the set of PINs
    /// associated with the user account"). A new PIN must differ from all of them.
    /// 0: "storage of previous PINs is not required". History is not kept through a reset.
    pub fn history_depth(&self) -> usize {
        self.history.value as usize
    }

    /// The PIN lifetime in seconds, `None` when PINs never expire.
    pub fn max_age_seconds(&self) -> Option<i64> {
        (self.expiration_days.value > 0).then(|| i64::from(self.expiration_days.value) * 86_400)
    }

    /// Whether a PIN set at `set_at` (Unix seconds) has expired at `now` (Unix seconds).
    pub fn is_expired(&self, set_at: i64, now: i64) -> bool {
        self.max_age_seconds()
            .is_some_and(|age| now.saturating_sub(set_at) >= age)
    }
}

/// Everything in force on one device for one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectivePolicy {
    /// Use Windows Hello for Business (UsePassportForWork / GP Enabled).
    pub use_passport_for_work: Effective<bool>,
    /// Use a hardware security device (RequireSecurityDevice).
    pub require_security_device: Effective<bool>,
    /// ExcludeSecurityDevices/TPM12.
    pub exclude_tpm12: Effective<bool>,
    /// EnablePinRecovery.
    pub enable_pin_recovery: Effective<bool>,
    /// UseCertificateForOnPremAuth.
    pub use_certificate_for_on_prem_auth: Effective<bool>,
    /// PINComplexity.
    pub pin: PinPolicy,
    /// Remote/UseRemotePassport (stored and shown; not enforced yet).
    pub use_remote_passport: Effective<bool>,
    /// UseHelloCertificatesAsSmartCardCertificates (the agent registers the PKCS#11 module
    /// with p11-kit while it is on).
    pub use_hello_certificates_as_smart_card_certificates: Effective<bool>,
    /// Biometrics/UseBiometrics (not enforced yet).
    pub use_biometrics: Effective<bool>,
    /// Biometrics/FacialFeaturesUseEnhancedAntiSpoofing (not enforced yet).
    pub facial_features_use_enhanced_anti_spoofing: Effective<bool>,
    /// DeviceUnlock/GroupA (not enforced yet).
    pub device_unlock_group_a: Effective<Option<String>>,
    /// DeviceUnlock/GroupB (not enforced yet).
    pub device_unlock_group_b: Effective<Option<String>>,
    /// DeviceUnlock/Plugins (not enforced yet).
    pub device_unlock_plugins: Effective<Option<String>>,
    /// DynamicLock/DynamicLock (not enforced yet).
    pub dynamic_lock: Effective<bool>,
    /// DynamicLock/Plugins (not enforced yet).
    pub dynamic_lock_plugins: Effective<Option<String>>,
    /// SecurityKey/UseSecurityKeyForSignin.
    pub use_security_key_for_signin: Effective<bool>,
    /// How the result was reached.
    pub notes: Vec<PolicyNote>,
}

impl Default for EffectivePolicy {
    fn default() -> Self {
        Self::compute(&PolicySources::default())
    }
}

impl EffectivePolicy {
    /// Apply precedence, the conflict rule, the strictest-PIN rule and the seed's fallbacks.
    pub fn compute(sources: &PolicySources) -> Self {
        let mut notes = Vec::new();
        let ordered = sources.ordered();
        let mut pick_bool = |name: &str, f: fn(&PolicySettings) -> Option<bool>, default: bool| {
            pick(&ordered, name, f, default, &mut notes)
        };
        let use_passport_for_work =
            pick_bool("UsePassportForWork", |s| s.use_passport_for_work, true);
        let require_security_device = pick_bool(
            "RequireSecurityDevice",
            |s| s.require_security_device,
            false,
        );
        let exclude_tpm12 = pick_bool("ExcludeSecurityDevices/TPM12", |s| s.exclude_tpm12, false);
        let enable_pin_recovery = pick_bool("EnablePinRecovery", |s| s.enable_pin_recovery, false);
        let use_certificate_for_on_prem_auth = pick_bool(
            "UseCertificateForOnPremAuth",
            |s| s.use_certificate_for_on_prem_auth,
            false,
        );
        let use_remote_passport =
            pick_bool("Remote/UseRemotePassport", |s| s.use_remote_passport, false);
        let use_hello_certificates_as_smart_card_certificates = pick_bool(
            "UseHelloCertificatesAsSmartCardCertificates",
            |s| s.use_hello_certificates_as_smart_card_certificates,
            false,
        );
        let use_biometrics = pick_bool("Biometrics/UseBiometrics", |s| s.use_biometrics, true);
        let facial_features_use_enhanced_anti_spoofing = pick_bool(
            "Biometrics/FacialFeaturesUseEnhancedAntiSpoofing",
            |s| s.facial_features_use_enhanced_anti_spoofing,
            false,
        );
        let dynamic_lock = pick_bool("DynamicLock/DynamicLock", |s| s.dynamic_lock, false);
        let use_security_key_for_signin = pick_bool(
            "SecurityKey/UseSecurityKeyForSignin",
            |s| s.use_security_key_for_signin,
            false,
        );
        let mut pick_str = |name: &str, f: fn(&PolicySettings) -> Option<String>| {
            pick(&ordered, name, |s| f(s).map(Some), None, &mut notes)
        };
        let device_unlock_group_a =
            pick_str("DeviceUnlock/GroupA", |s| s.device_unlock_group_a.clone());
        let device_unlock_group_b =
            pick_str("DeviceUnlock/GroupB", |s| s.device_unlock_group_b.clone());
        let device_unlock_plugins =
            pick_str("DeviceUnlock/Plugins", |s| s.device_unlock_plugins.clone());
        let dynamic_lock_plugins =
            pick_str("DynamicLock/Plugins", |s| s.dynamic_lock_plugins.clone());
        let pin = merge_pin(&ordered, &mut notes);
        Self {
            use_passport_for_work,
            require_security_device,
            exclude_tpm12,
            enable_pin_recovery,
            use_certificate_for_on_prem_auth,
            pin,
            use_remote_passport,
            use_hello_certificates_as_smart_card_certificates,
            use_biometrics,
            facial_features_use_enhanced_anti_spoofing,
            device_unlock_group_a,
            device_unlock_group_b,
            device_unlock_plugins,
            dynamic_lock,
            dynamic_lock_plugins,
            use_security_key_for_signin,
            notes,
        }
    }
}

/// First configured value in precedence order; disagreeing lower sources become notes.
fn pick<T: Clone + PartialEq>(
    ordered: &[(Source, &PolicySettings); 4],
    name: &str,
    f: impl Fn(&PolicySettings) -> Option<T>,
    default: T,
    notes: &mut Vec<PolicyNote>,
) -> Effective<T> {
    let mut winner: Option<Effective<T>> = None;
    for (source, settings) in ordered {
        let Some(v) = f(settings) else { continue };
        match &winner {
            None => {
                winner = Some(Effective {
                    value: v,
                    source: *source,
                })
            }
            Some(w) if w.value != v => notes.push(PolicyNote::Overridden {
                setting: name.to_owned(),
                winner: w.source,
                ignored: *source,
            }),
            Some(_) => {}
        }
    }
    winner.unwrap_or(Effective::default_value(default))
}

/// The strictest configured value (`stricter(a, b)`: a is strictly stricter than b); ties go
/// to the earlier (higher-precedence) source.
fn strictest<T: Copy>(
    cands: &[(Source, Option<T>)],
    stricter: impl Fn(T, T) -> bool,
) -> Option<Effective<T>> {
    let mut best: Option<Effective<T>> = None;
    for &(source, v) in cands {
        let Some(v) = v else { continue };
        if best.is_none_or(|b| stricter(v, b.value)) {
            best = Some(Effective { value: v, source });
        }
    }
    best
}

fn merge_pin(ordered: &[(Source, &PolicySettings); 4], notes: &mut Vec<PolicyNote>) -> PinPolicy {
    let gpo_sets_pin = ordered
        .iter()
        .any(|(s, p)| s.is_gpo() && p.pin.is_configured());
    if gpo_sets_pin
        && ordered
            .iter()
            .any(|(s, p)| !s.is_gpo() && p.pin.is_configured())
    {
        notes.push(PolicyNote::CspPinIgnored);
    }
    let active: Vec<(Source, &PolicySettings)> = ordered
        .iter()
        .filter(|(s, _)| s.is_gpo() == gpo_sets_pin)
        .copied()
        .collect();
    let mut out = PinPolicy::default();

    // Lengths: drop each source's pair that breaks the bounds, then merge strictest.
    let mut mins = Vec::new();
    let mut maxs = Vec::new();
    for (source, s) in &active {
        let r = resolve_lengths(s.pin.min_length, s.pin.max_length);
        if r.fell_back {
            notes.push(PolicyNote::LengthFallback { source: *source });
            continue;
        }
        mins.push((*source, s.pin.min_length.map(|_| r.min)));
        maxs.push((*source, s.pin.max_length.map(|_| r.max)));
    }
    let min = strictest(&mins, |a, b| a > b);
    let max = strictest(&maxs, |a, b| a < b);
    let lo = min.map_or(DEFAULT_MIN_LENGTH, |e| e.value);
    let hi = max.map_or(DEFAULT_MAX_LENGTH, |e| e.value);
    if lo <= hi {
        out.min_length = min.unwrap_or(out.min_length);
        out.max_length = max.unwrap_or(out.max_length);
    } else {
        notes.push(PolicyNote::LengthFallback {
            source: Source::Default,
        });
    }

    // Character sets: strictest per set, then the default-complexity rule.
    let class = |f: fn(&PolicySettings) -> Option<CharClassRule>| {
        let cands: Vec<_> = active.iter().map(|(s, p)| (*s, f(p))).collect();
        strictest(&cands, |a: CharClassRule, b| {
            a.strictness() > b.strictness()
        })
    };
    let upper = class(|s| s.pin.uppercase).unwrap_or(out.uppercase);
    let lower = class(|s| s.pin.lowercase).unwrap_or(out.lowercase);
    let special = class(|s| s.pin.special).unwrap_or(out.special);
    let digits = class(|s| s.pin.digits).unwrap_or(out.digits);
    let (_, defaulted) = resolve_classes([upper.value, lower.value, special.value, digits.value]);
    if defaulted {
        notes.push(PolicyNote::DefaultComplexityApplied);
    } else {
        out.uppercase = upper;
        out.lowercase = lower;
        out.special = special;
        out.digits = digits;
    }

    let cands: Vec<_> = active.iter().map(|(s, p)| (*s, p.pin.history)).collect();
    if let Some(h) = strictest(&cands, |a, b| a > b) {
        out.history = h;
    }
    // Expiration: a shorter non-zero lifetime is stricter; 0 (never) is the least strict.
    let cands: Vec<_> = active
        .iter()
        .map(|(s, p)| (*s, p.pin.expiration_days))
        .collect();
    let rank = |d: u32| if d == 0 { u32::MAX } else { d };
    if let Some(e) = strictest(&cands, |a, b| rank(a) < rank(b)) {
        out.expiration_days = e;
    }
    out
}
