//! Precedence across the four sources, the conflict rule, the strictest-PIN rule, the
//! seed's fallbacks, and PIN validation (table and property).

use latchkey_policy::effective::{PolicyNote, PolicySources, Source};
use latchkey_policy::pin::{classify, validate_pin, CharClass, PinRuleViolation};
use latchkey_policy::settings::{CharClassRule::*, PinSettings, PolicySettings};
use latchkey_policy::EffectivePolicy;
use proptest::prelude::*;

fn upfw(v: bool) -> PolicySettings {
    PolicySettings {
        use_passport_for_work: Some(v),
        ..PolicySettings::default()
    }
}

fn pin(p: PinSettings) -> PolicySettings {
    PolicySettings {
        pin: p,
        ..PolicySettings::default()
    }
}

#[test]
fn precedence_table() {
    // (user GPO, computer GPO, user CSP, device CSP) -> (value, source)
    let n = PolicySettings::default;
    let cases: Vec<([PolicySettings; 4], bool, Source)> = vec![
        ([n(), n(), n(), n()], true, Source::Default),
        ([n(), n(), n(), upfw(false)], false, Source::DeviceCsp),
        ([n(), n(), upfw(true), upfw(false)], true, Source::UserCsp),
        (
            [n(), upfw(false), upfw(true), upfw(true)],
            false,
            Source::ComputerGpo,
        ),
        (
            [upfw(true), upfw(false), upfw(false), upfw(false)],
            true,
            Source::UserGpo,
        ),
        (
            [n(), upfw(true), n(), upfw(false)],
            true,
            Source::ComputerGpo,
        ),
    ];
    for ([ug, cg, uc, dc], value, source) in cases {
        let e = EffectivePolicy::compute(&PolicySources {
            user_gpo: ug,
            computer_gpo: cg,
            user_csp: uc,
            device_csp: dc,
        });
        assert_eq!(
            (
                e.use_passport_for_work.value,
                e.use_passport_for_work.source
            ),
            (value, source)
        );
    }
    let e = EffectivePolicy::compute(&PolicySources {
        computer_gpo: upfw(true),
        device_csp: upfw(false),
        ..Default::default()
    });
    assert!(e.notes.contains(&PolicyNote::Overridden {
        setting: "UsePassportForWork".into(),
        winner: Source::ComputerGpo,
        ignored: Source::DeviceCsp
    }));
}

#[test]
fn strictest_pin_rule_within_csp_and_conflict_rule_against_gpo() {
    let user_csp = pin(PinSettings {
        min_length: Some(6),
        uppercase: Some(Allowed),
        history: Some(5),
        expiration_days: Some(90),
        ..Default::default()
    });
    let device_csp = pin(PinSettings {
        min_length: Some(8),
        max_length: Some(20),
        uppercase: Some(Required),
        history: Some(3),
        expiration_days: Some(30),
        ..Default::default()
    });
    let e = EffectivePolicy::compute(&PolicySources {
        user_csp: user_csp.clone(),
        device_csp: device_csp.clone(),
        ..Default::default()
    });
    assert_eq!(
        (e.pin.min_length.value, e.pin.min_length.source),
        (8, Source::DeviceCsp)
    );
    assert_eq!(
        (e.pin.max_length.value, e.pin.max_length.source),
        (20, Source::DeviceCsp)
    );
    assert_eq!(
        (e.pin.uppercase.value, e.pin.uppercase.source),
        (Required, Source::DeviceCsp)
    );
    assert_eq!(
        (e.pin.history.value, e.pin.history.source),
        (5, Source::UserCsp)
    );
    assert_eq!(
        (e.pin.expiration_days.value, e.pin.expiration_days.source),
        (30, Source::DeviceCsp)
    );

    // Group Policy sets PIN complexity: the CSP PIN rules are not applied, even stricter ones.
    let gpo = pin(PinSettings {
        min_length: Some(5),
        ..Default::default()
    });
    let e = EffectivePolicy::compute(&PolicySources {
        computer_gpo: gpo,
        user_csp,
        device_csp,
        ..Default::default()
    });
    assert_eq!(
        (e.pin.min_length.value, e.pin.min_length.source),
        (5, Source::ComputerGpo)
    );
    assert_eq!(e.pin.uppercase.source, Source::Default);
    assert_eq!(e.pin.history.value, 0);
    assert!(e.notes.contains(&PolicyNote::CspPinIgnored));

    // Both GPO scopes: strictest across them.
    let e = EffectivePolicy::compute(&PolicySources {
        user_gpo: pin(PinSettings {
            min_length: Some(6),
            special: Some(Allowed),
            ..Default::default()
        }),
        computer_gpo: pin(PinSettings {
            min_length: Some(10),
            special: Some(Required),
            ..Default::default()
        }),
        ..Default::default()
    });
    assert_eq!(
        (e.pin.min_length.value, e.pin.min_length.source),
        (10, Source::ComputerGpo)
    );
    assert_eq!(
        (e.pin.special.value, e.pin.special.source),
        (Required, Source::ComputerGpo)
    );
}

#[test]
fn fallbacks() {
    // A source's own bad pair: both lengths fall back; another source's lengths still count.
    let e = EffectivePolicy::compute(&PolicySources {
        user_csp: pin(PinSettings {
            min_length: Some(12),
            max_length: Some(10),
            ..Default::default()
        }),
        device_csp: pin(PinSettings {
            min_length: Some(6),
            ..Default::default()
        }),
        ..Default::default()
    });
    assert_eq!((e.pin.min_length.value, e.pin.max_length.value), (6, 127));
    assert!(e.notes.contains(&PolicyNote::LengthFallback {
        source: Source::UserCsp
    }));
    // The merged pair inconsistent across sources: defaults for both.
    let e = EffectivePolicy::compute(&PolicySources {
        user_csp: pin(PinSettings {
            min_length: Some(12),
            ..Default::default()
        }),
        device_csp: pin(PinSettings {
            max_length: Some(8),
            ..Default::default()
        }),
        ..Default::default()
    });
    assert_eq!((e.pin.min_length.value, e.pin.max_length.value), (4, 127));
    assert_eq!(e.pin.min_length.source, Source::Default);
    // Every set allowed, none required: the default complexity.
    let e = EffectivePolicy::compute(&PolicySources {
        device_csp: pin(PinSettings {
            uppercase: Some(Allowed),
            lowercase: Some(Allowed),
            special: Some(Allowed),
            digits: Some(Allowed),
            ..Default::default()
        }),
        ..Default::default()
    });
    assert_eq!(
        [
            e.pin.uppercase.value,
            e.pin.lowercase.value,
            e.pin.special.value,
            e.pin.digits.value
        ],
        [Disallowed, Disallowed, Disallowed, Required]
    );
    assert!(e.notes.contains(&PolicyNote::DefaultComplexityApplied));
}

fn policy(min: i64, max: i64, u: i64, l: i64, s: i64, d: i64) -> EffectivePolicy {
    let c = |v| latchkey_policy::settings::CharClassRule::from_int(v);
    EffectivePolicy::compute(&PolicySources {
        device_csp: pin(PinSettings {
            min_length: Some(min),
            max_length: Some(max),
            uppercase: c(u),
            lowercase: c(l),
            special: c(s),
            digits: c(d),
            ..Default::default()
        }),
        ..Default::default()
    })
}

#[test]
fn pin_table() {
    use PinRuleViolation::*;
    let default = EffectivePolicy::default();
    assert_eq!(validate_pin("1234", &default), Ok(()));
    assert_eq!(
        validate_pin("123", &default),
        Err(vec![TooShort { min: 4 }])
    );
    assert_eq!(
        validate_pin("12a4", &default),
        Err(vec![NotAllowed {
            class: CharClass::Lowercase
        }])
    );
    assert_eq!(
        validate_pin("abcd", &default),
        Err(vec![
            NotAllowed {
                class: CharClass::Lowercase
            },
            Missing {
                class: CharClass::Digit
            }
        ])
    );
    assert_eq!(
        validate_pin("12 4", &default),
        Err(vec![InvalidCharacter { position: 3 }])
    );
    let strict = policy(6, 8, 1, 1, 1, 1);
    assert_eq!(validate_pin("Ab1!xy", &strict), Ok(()));
    let errs = validate_pin("ab", &strict).expect_err("weak");
    assert_eq!(
        errs,
        vec![
            TooShort { min: 6 },
            Missing {
                class: CharClass::Uppercase
            },
            Missing {
                class: CharClass::Digit
            },
            Missing {
                class: CharClass::Special
            }
        ]
    );
    assert_eq!(errs[0].to_string(), "must be at least 6 characters");
    assert_eq!(
        errs[1].to_string(),
        "must contain at least one uppercase letter"
    );
    assert_eq!(
        validate_pin("Ab1!xyzwq", &strict),
        Err(vec![TooLong { max: 8 }])
    );
    assert_eq!(
        NotAllowed {
            class: CharClass::Special
        }
        .to_string(),
        "must not contain special characters"
    );
    let letters_ok = policy(4, 127, 0, 0, 2, 0);
    assert_eq!(validate_pin("Pass", &letters_ok), Ok(()));
    assert_eq!(
        validate_pin("Pa$s", &letters_ok),
        Err(vec![NotAllowed {
            class: CharClass::Special
        }])
    );
    assert_eq!(
        validate_pin("12é4", &letters_ok),
        Err(vec![InvalidCharacter { position: 3 }])
    );
}

#[test]
fn lifetime_view() {
    let e = EffectivePolicy::compute(&PolicySources {
        device_csp: pin(PinSettings {
            history: Some(3),
            expiration_days: Some(2),
            ..Default::default()
        }),
        ..Default::default()
    });
    assert_eq!(e.pin.history_depth(), 3);
    assert!(!e.pin.is_expired(0, 2 * 86_400 - 1));
    assert!(e.pin.is_expired(0, 2 * 86_400));
    assert!(!EffectivePolicy::default().pin.is_expired(0, i64::MAX));
}

fn rule() -> impl Strategy<Value = i64> {
    0i64..=2
}

proptest! {
    #[test]
    fn accepted_pins_satisfy_every_rule(
        min in 0i64..140, max in 0i64..140, u in rule(), l in rule(), s in rule(), d in rule(),
        pin in "[A-Za-z0-9!-/ é]{0,20}",
    ) {
        let e = policy(min, max, u, l, s, d);
        let p = &e.pin;
        let ok = validate_pin(&pin, &e).is_ok();
        let n = pin.chars().count();
        let has = |c: CharClass| pin.chars().any(|x| classify(x) == Some(c));
        let class_ok = |c: CharClass, r: latchkey_policy::settings::CharClassRule| match r {
            Required => has(c),
            Disallowed => !has(c),
            Allowed => true,
        };
        let expected = n >= p.min_length.value as usize
            && n <= p.max_length.value as usize
            && pin.chars().all(|c| classify(c).is_some())
            && class_ok(CharClass::Uppercase, p.uppercase.value)
            && class_ok(CharClass::Lowercase, p.lowercase.value)
            && class_ok(CharClass::Special, p.special.value)
            && class_ok(CharClass::Digit, p.digits.value);
        prop_assert_eq!(ok, expected);
        prop_assert!(p.min_length.value >= 4 && p.min_length.value <= p.max_length.value && p.max_length.value <= 127);
    }
}
