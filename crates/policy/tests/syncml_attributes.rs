//! The attribute cap keeps the parser linear: quick-xml's duplicate-attribute check is
//! quadratic in the attributes of one element (45,000 cost 1.3 s of CPU before the cap).

mod common;

use common::*;
use latchkey_policy::syncml::{parse_message, Limits};

/// `<Final/>` carrying `n` distinct attributes (SyncML ignores unknown ones).
fn with_attributes(n: usize) -> String {
    let attrs: String = (0..n).map(|i| format!(" a{i}=\"v\"")).collect();
    message("").replace("<Final/>", &format!("<Final{attrs}/>"))
}

#[test]
fn the_cap_is_32_attributes_per_element() {
    let limits = Limits::default();
    assert_eq!(limits.max_attributes, 32);
    assert!(parse_message(&with_attributes(32), &limits).is_ok());
    let err = parse_message(&with_attributes(33), &limits).expect_err("33 attributes");
    assert_eq!(err.code(), "LK-POL-020");
    assert!(err.to_string().contains("number of attributes"), "{err}");
    // The root's own xmlns counts too: a root with 32 more attributes is refused.
    let root = message("").replacen(
        "<SyncML xmlns=\"SYNCML:SYNCML1.2\"",
        &format!(
            "<SyncML xmlns=\"SYNCML:SYNCML1.2\"{}",
            (0..32).map(|i| format!(" r{i}=\"v\"")).collect::<String>()
        ),
        1,
    );
    assert_eq!(
        parse_message(&root, &limits)
            .expect_err("33 on the root")
            .code(),
        "LK-POL-020"
    );
}

#[test]
fn forty_five_thousand_attributes_are_refused_with_the_limit_error() {
    // Within the message-size limit only with short names: raise it so the attribute cap,
    // not the size, is what refuses.
    let limits = Limits {
        max_message_bytes: 8 * 1024 * 1024,
        ..Limits::default()
    };
    let attrs: String = (0..45_000).map(|i| format!(" a{i}=\"\"")).collect();
    let input = message("").replace("<Final/>", &format!("<Final{attrs}/>"));
    let err = parse_message(&input, &limits).expect_err("45,000 attributes");
    assert_eq!(err.code(), "LK-POL-020");
    assert!(err.to_string().contains("number of attributes"), "{err}");
}

#[test]
fn a_large_legal_message_still_parses() {
    let body: String = (1..=900)
        .map(|i| cmd("Get", i, &dev("UsePassportForWork"), None, None))
        .collect();
    let input = message(&body);
    assert!(input.len() > 100_000, "{}", input.len());
    let parsed = parse_message(&input, &Limits::default()).expect("900 commands parse");
    assert_eq!(parsed.commands.len(), 900);
}
