//! PIN validation against the effective policy.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::rules::{classify, CharClass};
use crate::effective::EffectivePolicy;
use crate::settings::CharClassRule;

/// One PIN rule a PIN breaks. `Display` gives the words shown to the user ("The PIN ...").
///
/// No variant carries the PIN or any of its characters, so violations may be logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum PinRuleViolation {
    /// Shorter than MinimumPINLength.
    TooShort {
        /// The minimum.
        min: u32,
    },
    /// Longer than MaximumPINLength.
    TooLong {
        /// The maximum.
        max: u32,
    },
    /// A character set the policy requires is missing.
    Missing {
        /// Which set.
        class: CharClass,
    },
    /// A character set the policy does not allow is present.
    NotAllowed {
        /// Which set.
        class: CharClass,
    },
    /// A character outside every set (space, control, non-ASCII) is present.
    InvalidCharacter {
        /// 1-based position of the first such character.
        position: usize,
    },
}

fn class_words(class: CharClass) -> (&'static str, &'static str) {
    match class {
        CharClass::Uppercase => ("uppercase letter", "uppercase letters"),
        CharClass::Lowercase => ("lowercase letter", "lowercase letters"),
        CharClass::Digit => ("digit", "digits"),
        CharClass::Special => ("special character", "special characters"),
    }
}

impl fmt::Display for PinRuleViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::TooShort { min } => write!(f, "must be at least {min} characters"),
            Self::TooLong { max } => write!(f, "must be at most {max} characters"),
            Self::Missing { class } => {
                write!(f, "must contain at least one {}", class_words(class).0)
            }
            Self::NotAllowed { class } => write!(f, "must not contain {}", class_words(class).1),
            Self::InvalidCharacter { position } => write!(
                f,
                "contains a character that cannot be used in a PIN (position {position}); use letters, digits and !\"#$%&'()*+,-./:;<=>?@[\\]^_`{{|}}~"
            ),
        }
    }
}

/// Check `pin` against the PIN rules in force; every broken rule is reported, in the order:
/// length, invalid characters, then for each set (uppercase, lowercase, digits, special)
/// missing or not allowed.
///
/// Length counts characters (Unicode scalar values), as the seed's "number of characters".
pub fn validate_pin(pin: &str, effective: &EffectivePolicy) -> Result<(), Vec<PinRuleViolation>> {
    let p = &effective.pin;
    let mut out = Vec::new();
    let len = pin.chars().count();
    let min = p.min_length.value;
    let max = p.max_length.value;
    if len < min as usize {
        out.push(PinRuleViolation::TooShort { min });
    }
    if len > max as usize {
        out.push(PinRuleViolation::TooLong { max });
    }
    // One bit per character class, set when the PIN contains that class.
    let mut seen = 0u8;
    let mut invalid = None;
    for (i, c) in pin.chars().enumerate() {
        match classify(c) {
            Some(class) => seen |= bit(class),
            None => {
                invalid.get_or_insert(i + 1);
            }
        }
    }
    if let Some(position) = invalid {
        out.push(PinRuleViolation::InvalidCharacter { position });
    }
    for (class, rule) in [
        (CharClass::Uppercase, p.uppercase.value),
        (CharClass::Lowercase, p.lowercase.value),
        (CharClass::Digit, p.digits.value),
        (CharClass::Special, p.special.value),
    ] {
        let present = seen & bit(class) != 0;
        match rule {
            CharClassRule::Required if !present => out.push(PinRuleViolation::Missing { class }),
            CharClassRule::Disallowed if present => {
                out.push(PinRuleViolation::NotAllowed { class })
            }
            _ => {}
        }
    }
    if out.is_empty() {
        Ok(())
    } else {
        Err(out)
    }
}

fn bit(class: CharClass) -> u8 {
    match class {
        CharClass::Uppercase => 0b0001,
        CharClass::Lowercase => 0b0010,
        CharClass::Digit => 0b0100,
        CharClass::Special => 0b1000,
    }
}
