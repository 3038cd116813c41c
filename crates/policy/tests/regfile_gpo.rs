//! `.reg` import and Group Policy through to the effective policy.

use latchkey_policy::effective::{PolicySources, Source};
use latchkey_policy::gpo::{applicable_settings, GpoObject, GpoScope, GpoTarget};
use latchkey_policy::regfile::{import_reg, import_reg_bytes};
use latchkey_policy::settings::CharClassRule;
use latchkey_policy::{EffectivePolicy, PolicyDocument};

const GOOD: &str = r#"Windows Registry Editor Version 5.00

; Enable Windows Hello for Business, certificate trust, TPM required
[HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\PassportForWork]
"Enabled"=dword:00000001
"UseCertificateForOnPremAuth"=dword:00000001
"RequireSecurityDevice"=dword:00000001

[HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\PassportForWork\ExcludeSecurityDevices]
"TPM12"=dword:00000001

[HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\PassportForWork\PINComplexity]
"MinimumPINLength"=dword:00000008
"MaximumPINLength"=dword:00000010
"UppercaseLetters"=dword:00000001
"Digits"=dword:00000001
"History"=dword:00000014
"Expiration"=dword:00000046

[HKEY_CURRENT_USER\Software\Policies\Microsoft\PassportForWork]
"Enabled"=dword:00000000
"#;

#[test]
fn imports_computer_and_user_settings() {
    let r = import_reg(GOOD).expect("imports");
    assert_eq!(r.computer.use_windows_hello_for_business, Some(true));
    assert_eq!(r.computer.use_certificate_for_on_prem_auth, Some(true));
    assert_eq!(r.computer.use_hardware_security_device, Some(true));
    assert_eq!(r.computer.exclude_tpm12, Some(true));
    assert_eq!(
        (r.computer.pin.min_length, r.computer.pin.max_length),
        (Some(8), Some(16))
    );
    assert_eq!(r.computer.pin.uppercase, Some(CharClassRule::Required));
    assert_eq!(
        (r.computer.pin.history, r.computer.pin.expiration_days),
        (Some(20), Some(70))
    );
    assert_eq!(r.user.use_windows_hello_for_business, Some(false));

    // Same file as regedit writes it: UTF-16LE with BOM, CRLF.
    let mut bytes = vec![0xFF, 0xFE];
    for u in GOOD.replace('\n', "\r\n").encode_utf16() {
        bytes.extend_from_slice(&u.to_le_bytes());
    }
    assert_eq!(import_reg_bytes(&bytes).expect("utf-16"), r);

    // Through GPO objects to the effective policy: user GP beats computer GP.
    let gpos = vec![
        GpoObject::new(
            "user",
            GpoScope::User,
            GpoTarget::Group("Hello Pilot".into()),
            r.user.clone(),
        )
        .expect("ok"),
        GpoObject::new(
            "computer",
            GpoScope::Computer,
            GpoTarget::All,
            r.computer.clone(),
        )
        .expect("ok"),
    ];
    let doc = PolicyDocument::new(
        "72f988bf-86f1-41af-91ab-2d7cd011db47"
            .parse()
            .expect("tenant"),
    );
    let (c, u) = applicable_settings(&gpos, &[], &["hello pilot".into()]);
    let e = EffectivePolicy::compute(&PolicySources::new(&doc, c, u));
    assert_eq!(
        (
            e.use_passport_for_work.value,
            e.use_passport_for_work.source
        ),
        (false, Source::UserGpo)
    );
    assert_eq!(
        (e.pin.min_length.value, e.pin.min_length.source),
        (8, Source::ComputerGpo)
    );
    let (c, u) = applicable_settings(&gpos, &[], &[]);
    let e = EffectivePolicy::compute(&PolicySources::new(&doc, c, u));
    assert_eq!(
        (
            e.use_passport_for_work.value,
            e.use_passport_for_work.source
        ),
        (true, Source::ComputerGpo)
    );
}

#[test]
fn out_of_bounds_lengths_are_imported_and_fall_back() {
    let r = import_reg("Windows Registry Editor Version 5.00\n[HKLM\\SOFTWARE\\Policies\\Microsoft\\PassportForWork\\PINComplexity]\n\"MinimumPINLength\"=dword:00000002\n").expect("imports");
    assert_eq!(r.computer.pin.min_length, Some(2));
    let e = EffectivePolicy::compute(&PolicySources {
        computer_gpo: r.computer.to_settings(),
        ..Default::default()
    });
    assert_eq!((e.pin.min_length.value, e.pin.max_length.value), (4, 127));
}

#[test]
fn errors_carry_line_numbers() {
    let cases: &[(&str, usize, &str)] = &[
        ("", 1, "header"),
        ("REGEDIT4\n", 1, "header"),
        ("Windows Registry Editor Version 5.00\n\"Enabled\"=dword:1\n", 2, "outside any key"),
        ("Windows Registry Editor Version 5.00\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows]\n", 2, "not a PassportForWork"),
        ("Windows Registry Editor Version 5.00\n[HKLM\\SOFTWARE\\Policies\\Microsoft\\PassportForWork]\n\n\"Enabled\"=dword:00000002\n", 4, "0 or 1"),
        ("Windows Registry Editor Version 5.00\n[HKLM\\SOFTWARE\\Policies\\Microsoft\\PassportForWork]\n\"Enabled\"=\"1\"\n", 3, "dword"),
        ("Windows Registry Editor Version 5.00\n[HKLM\\SOFTWARE\\Policies\\Microsoft\\PassportForWork]\n\"Enabled\"=dword:123456789\n", 3, "hexadecimal"),
        ("Windows Registry Editor Version 5.00\n[HKLM\\SOFTWARE\\Policies\\Microsoft\\PassportForWork]\n\"Frob\"=dword:1\n", 3, "not a Windows Hello"),
        ("Windows Registry Editor Version 5.00\n[HKCU\\SOFTWARE\\Policies\\Microsoft\\PassportForWork]\n\"RequireSecurityDevice\"=dword:1\n", 3, "computer setting"),
        ("Windows Registry Editor Version 5.00\n[HKLM\\SOFTWARE\\Policies\\Microsoft\\PassportForWork\\PINComplexity]\n\"Digits\"=dword:3\n", 3, "0 (allowed)"),
        ("Windows Registry Editor Version 5.00\n[HKLM\\SOFTWARE\\Policies\\Microsoft\\PassportForWork\\PINComplexity]\n\"History\"=dword:00000033\n", 3, "0..=50"),
        ("Windows Registry Editor Version 5.00\n[HKLM\\SOFTWARE\\Policies\\Microsoft\\PassportForWork\\PINComplexity]\n\"Expiration\"=dword:000002db\n", 3, "0..=730"),
        ("Windows Registry Editor Version 5.00\n[-HKLM\\SOFTWARE\\Policies\\Microsoft\\PassportForWork]\n", 2, "not supported"),
        ("Windows Registry Editor Version 5.00\n[HKLM\\SOFTWARE\\Policies\\Microsoft\\PassportForWork\n", 2, "closing"),
    ];
    for (text, line, needle) in cases {
        let e = import_reg(text).expect_err(text);
        let msg = e.to_string();
        assert!(msg.starts_with("LK-POL-022"), "{msg}");
        assert!(msg.contains(&format!("line {line}:")), "{text:?} -> {msg}");
        assert!(msg.contains(needle), "{text:?} -> {msg}");
    }
    // "Name"=- means not configured.
    let r = import_reg("Windows Registry Editor Version 5.00\n[HKLM\\SOFTWARE\\Policies\\Microsoft\\PassportForWork]\n\"Enabled\"=dword:1\n\"Enabled\"=-\n").expect("ok");
    assert_eq!(r.computer.use_windows_hello_for_business, None);
    assert!(import_reg_bytes(&[0xFF, 0xFE, 0x41]).is_err());
}
