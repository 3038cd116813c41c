//! PIN rules: character classes, length fallback, the default complexity, and validation.

mod rules;
mod validate;

pub use rules::{
    classify, length_bounds_error, resolve_classes, resolve_lengths, CharClass, LengthResolution,
    DEFAULT_MAX_LENGTH, DEFAULT_MIN_LENGTH, LENGTH_BOUNDS, SPECIAL_CHARACTERS,
};
pub use validate::{validate_pin, PinRuleViolation};
