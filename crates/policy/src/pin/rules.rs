//! The seed's PIN rules as pure functions.

use crate::settings::CharClassRule;

/// "Valid special characters for Windows Hello for Business PIN gestures include:
/// ! " \# $ % & ' ( ) \* + , - . / : ; &lt; = &gt; ? @ \[ \\ \] ^ \_ \` { | } ~ ."
///
/// (All 32 ASCII punctuation characters; the space is not among them.)
pub const SPECIAL_CHARACTERS: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// "Default value is 4."
pub const DEFAULT_MIN_LENGTH: u32 = 4;
/// "Default value is 127."
pub const DEFAULT_MAX_LENGTH: u32 = 127;
/// "The lowest number you can configure ... is 4"; "The largest number ... is 127".
pub const LENGTH_BOUNDS: std::ops::RangeInclusive<i64> = 4..=127;

/// The four character sets of PINComplexity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CharClass {
    /// `A`-`Z`.
    Uppercase,
    /// `a`-`z`.
    Lowercase,
    /// `0`-`9`.
    Digit,
    /// One of [`SPECIAL_CHARACTERS`].
    Special,
}

/// The character set `c` belongs to, or `None` when it may not appear in a PIN at all
/// (space, control characters, anything outside ASCII).
pub fn classify(c: char) -> Option<CharClass> {
    match c {
        'A'..='Z' => Some(CharClass::Uppercase),
        'a'..='z' => Some(CharClass::Lowercase),
        '0'..='9' => Some(CharClass::Digit),
        c if SPECIAL_CHARACTERS.contains(c) => Some(CharClass::Special),
        _ => None,
    }
}

/// The outcome of the length fallback rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LengthResolution {
    /// Effective minimum length.
    pub min: u32,
    /// Effective maximum length.
    pub max: u32,
    /// Whether the configured pair broke the rules and both fell back to the defaults.
    pub fell_back: bool,
}

/// Why a configured PIN length pair is refused when an administrator sets it, naming the
/// bound (`MinimumPINLength must be between 4 and 127`), or `None` when it is acceptable: each
/// configured value in [`LENGTH_BOUNDS`], and the maximum not below the minimum (an
/// unconfigured one counting as its default). [`resolve_lengths`] is the same rule applied
/// to what is stored: there a broken pair falls back to the defaults.
pub fn length_bounds_error(min: Option<i64>, max: Option<i64>) -> Option<String> {
    let (lo, hi) = (LENGTH_BOUNDS.start(), LENGTH_BOUNDS.end());
    for (name, value) in [("MinimumPINLength", min), ("MaximumPINLength", max)] {
        if let Some(v) = value {
            if !LENGTH_BOUNDS.contains(&v) {
                return Some(format!("{name} must be between {lo} and {hi} (not {v})"));
            }
        }
    }
    let min_v = min.unwrap_or(i64::from(DEFAULT_MIN_LENGTH));
    let max_v = max.unwrap_or(i64::from(DEFAULT_MAX_LENGTH));
    (min_v > max_v)
        .then(|| format!("MaximumPINLength ({max_v}) must not be below MinimumPINLength ({min_v})"))
}

/// Apply the seed's length rule to a configured pair (`None` = not configured).
///
/// The seed: minimum "The lowest number you can configure ... is 4. The largest number you
/// can configure must be less than the number configured in the Maximum PIN length policy
/// setting or the number 127, whichever is the lowest." and "If the conditions specified
/// above ... are not met, default values will be used for both the maximum and minimum PIN
/// lengths." (and the mirror image for the maximum).
///
/// Decision: "less than" is read as "less than or equal to" (min ≤ max, both in 4..=127).
/// Read strictly, a minimum of 127 could never be configured although 127 is named as its
/// upper bound, and a PIN of exactly one length (min = max) could never be required;
/// Windows' own Group Policy editor accepts equal values.
pub fn resolve_lengths(min: Option<i64>, max: Option<i64>) -> LengthResolution {
    let lo = min.unwrap_or(i64::from(DEFAULT_MIN_LENGTH));
    let hi = max.unwrap_or(i64::from(DEFAULT_MAX_LENGTH));
    let ok = LENGTH_BOUNDS.contains(&lo) && LENGTH_BOUNDS.contains(&hi) && lo <= hi;
    match (ok, u32::try_from(lo), u32::try_from(hi)) {
        (true, Ok(min), Ok(max)) => LengthResolution {
            min,
            max,
            fell_back: false,
        },
        _ => LengthResolution {
            min: DEFAULT_MIN_LENGTH,
            max: DEFAULT_MAX_LENGTH,
            fell_back: min.is_some() || max.is_some(),
        },
    }
}

/// Apply the default-complexity rule to the four character-set rules, in the order
/// uppercase, lowercase, special, digits. Returns the rules in force and whether the
/// default was substituted.
///
/// The seed: "Default PIN complexity behavior is that digits are required and all other
/// character sets are not allowed. If all character sets are allowed but none are
/// explicitly required, then the default PIN complexity behavior will apply."
///
/// Decision (the seed is silent): when every set is disallowed no PIN could be chosen at
/// all, so the default applies in that case too.
pub fn resolve_classes(rules: [CharClassRule; 4]) -> ([CharClassRule; 4], bool) {
    use CharClassRule::{Allowed, Disallowed, Required};
    let all_allowed = rules.iter().all(|&r| r == Allowed);
    let all_disallowed = rules.iter().all(|&r| r == Disallowed);
    if all_allowed || all_disallowed {
        ([Disallowed, Disallowed, Disallowed, Required], true)
    } else {
        (rules, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_bounds_name_the_bound() {
        assert_eq!(
            length_bounds_error(Some(3), None).as_deref(),
            Some("MinimumPINLength must be between 4 and 127 (not 3)")
        );
        assert_eq!(
            length_bounds_error(None, Some(128)).as_deref(),
            Some("MaximumPINLength must be between 4 and 127 (not 128)")
        );
        assert_eq!(
            length_bounds_error(Some(10), Some(6)).as_deref(),
            Some("MaximumPINLength (6) must not be below MinimumPINLength (10)")
        );
        assert_eq!(length_bounds_error(Some(6), Some(6)), None);
        assert_eq!(length_bounds_error(None, Some(4)), None);
        assert_eq!(length_bounds_error(Some(127), None), None);
    }
    use CharClassRule::{Allowed, Disallowed, Required};

    #[test]
    fn special_set_is_exactly_ascii_punctuation() {
        assert_eq!(SPECIAL_CHARACTERS.len(), 32);
        for b in 0u8..=127 {
            let c = char::from(b);
            assert_eq!(
                SPECIAL_CHARACTERS.contains(c),
                c.is_ascii_punctuation(),
                "{c:?}"
            );
        }
        assert_eq!(classify(' '), None);
        assert_eq!(classify('é'), None);
        assert_eq!(classify('~'), Some(CharClass::Special));
    }

    #[test]
    fn length_table() {
        let r = |a, b| {
            let x = resolve_lengths(a, b);
            (x.min, x.max, x.fell_back)
        };
        assert_eq!(r(None, None), (4, 127, false));
        assert_eq!(r(Some(4), Some(4)), (4, 4, false));
        assert_eq!(r(Some(127), None), (127, 127, false));
        assert_eq!(r(Some(8), Some(16)), (8, 16, false));
        assert_eq!(r(Some(3), Some(16)), (4, 127, true));
        assert_eq!(r(Some(8), Some(128)), (4, 127, true));
        assert_eq!(r(Some(10), Some(9)), (4, 127, true));
        assert_eq!(r(None, Some(3)), (4, 127, true));
        assert_eq!(r(Some(128), None), (4, 127, true));
        assert_eq!(r(Some(-1), None), (4, 127, true));
    }

    #[test]
    fn default_complexity() {
        assert_eq!(
            resolve_classes([Allowed; 4]),
            ([Disallowed, Disallowed, Disallowed, Required], true)
        );
        assert!(resolve_classes([Disallowed; 4]).1);
        let mixed = [Allowed, Allowed, Allowed, Disallowed];
        assert_eq!(resolve_classes(mixed), (mixed, false));
        let one_req = [Allowed, Required, Allowed, Allowed];
        assert_eq!(resolve_classes(one_req), (one_req, false));
    }
}
