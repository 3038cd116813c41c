//! The PKCS#11 module with real consumers: OpenSC's pkcs11-tool lists the token and signs
//! (CKM_RSA_PKCS over a DigestInfo, SHA256-RSA-PKCS, RSA-PKCS-PSS, SHA256-RSA-PKCS-PSS), and
//! openssl verifies each signature against the Hello certificate; a wrong PIN is counted
//! in the container like a `latchkey signin`, the lockout refuses the right PIN without
//! trying it; GnuTLS's p11tool lists and test-signs; OpenSSH signs in with `ssh -I`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "smart_card/common.rs"]
mod common;

use common::{enrolled, verified, PIN, UPN};
use sha2::{Digest, Sha256};

const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

#[test]
fn pkcs11_tool_lists_the_token_and_its_signatures_verify_with_openssl() {
    let card = enrolled(&[], &[]);
    let slots = card.tool(&["--list-slots"]);
    slots.assert_ok();
    assert!(slots.stdout.contains(UPN), "{}", slots.stdout);
    assert!(slots.stdout.contains("Latchkey"), "{}", slots.stdout);
    assert!(slots.stdout.contains("login required"), "{}", slots.stdout);

    // Before login: the certificate and the public key, no private key.
    let public = card.tool(&["--list-objects"]);
    public.assert_ok();
    assert!(
        public.stdout.contains("Certificate Object"),
        "{}",
        public.stdout
    );
    assert!(
        public.stdout.contains("Public Key Object"),
        "{}",
        public.stdout
    );
    assert!(
        !public.stdout.contains("Private Key Object"),
        "{}",
        public.stdout
    );
    let private = card.tool(&["--login", "--pin", PIN, "--list-objects"]);
    private.assert_ok();
    assert!(
        private.stdout.contains("Private Key Object"),
        "{}",
        private.stdout
    );
    assert!(private.stdout.contains("sign"), "{}", private.stdout);

    let pubkey = card.public_key_pem();
    let pubkey = pubkey.to_str().unwrap();
    let message = b"a message the Hello key signs through PKCS#11\n";
    card.write("data", message);
    let digest = Sha256::digest(message);
    card.write("digest", &digest);
    let mut info = SHA256_DIGEST_INFO.to_vec();
    info.extend_from_slice(&digest);
    card.write("digestinfo", &info);

    // CKM_RSA_PKCS over the caller's DigestInfo (what PKINIT and TLS 1.2 use).
    card.tool(&[
        "--login",
        "--pin",
        PIN,
        "--sign",
        "--mechanism",
        "RSA-PKCS",
        "--input-file",
        "digestinfo",
        "--output-file",
        "sig-pkcs1",
    ])
    .assert_ok();
    verified(&card.run(
        "openssl",
        &[
            "dgst",
            "-sha256",
            "-verify",
            pubkey,
            "-signature",
            "sig-pkcs1",
            "data",
        ],
        &[],
    ));

    // CKM_SHA256_RSA_PKCS: the module hashes.
    card.tool(&[
        "--login",
        "--pin",
        PIN,
        "--sign",
        "--mechanism",
        "SHA256-RSA-PKCS",
        "--input-file",
        "data",
        "--output-file",
        "sig-sha256",
    ])
    .assert_ok();
    assert_eq!(
        std::fs::read(card.work.join("sig-sha256")).unwrap(),
        std::fs::read(card.work.join("sig-pkcs1")).unwrap(),
        "PKCS#1 v1.5 is deterministic: the same signature both ways"
    );

    // CKM_RSA_PKCS_PSS over a SHA-256 digest (TLS 1.3), salt = hash length.
    card.tool(&[
        "--login",
        "--pin",
        PIN,
        "--sign",
        "--mechanism",
        "RSA-PKCS-PSS",
        "--hash-algorithm",
        "SHA256",
        "--mgf",
        "MGF1-SHA256",
        "--salt-len",
        "32",
        "--input-file",
        "digest",
        "--output-file",
        "sig-pss",
    ])
    .assert_ok();
    verified(&card.run(
        "openssl",
        &[
            "dgst",
            "-sha256",
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:32",
            "-sigopt",
            "rsa_mgf1_md:sha256",
            "-verify",
            pubkey,
            "-signature",
            "sig-pss",
            "data",
        ],
        &[],
    ));
    card.tool(&[
        "--login",
        "--pin",
        PIN,
        "--sign",
        "--mechanism",
        "SHA256-RSA-PKCS-PSS",
        "--salt-len",
        "32",
        "--input-file",
        "data",
        "--output-file",
        "sig-pss2",
    ])
    .assert_ok();
    verified(&card.run(
        "openssl",
        &[
            "dgst",
            "-sha256",
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:32",
            "-verify",
            pubkey,
            "-signature",
            "sig-pss2",
            "data",
        ],
        &[],
    ));
    // Another message does not verify: the check above can fail.
    card.write("other", b"another message");
    let wrong = card.run(
        "openssl",
        &[
            "dgst",
            "-sha256",
            "-verify",
            pubkey,
            "-signature",
            "sig-pkcs1",
            "other",
        ],
        &[],
    );
    assert_ne!(wrong.code, 0, "{wrong:?}");

    // Raw data that is not a DigestInfo is refused for CKM_RSA_PKCS, and a PSS salt
    // other than the hash length too.
    let raw = card.tool(&[
        "--login",
        "--pin",
        PIN,
        "--sign",
        "--mechanism",
        "RSA-PKCS",
        "--input-file",
        "data",
        "--output-file",
        "sig-raw",
    ]);
    assert_ne!(raw.code, 0, "{raw:?}");
    assert!(raw.stderr.contains("CKR_DATA_INVALID"), "{raw:?}");
    let salt = card.tool(&[
        "--login",
        "--pin",
        PIN,
        "--sign",
        "--mechanism",
        "RSA-PKCS-PSS",
        "--hash-algorithm",
        "SHA256",
        "--mgf",
        "MGF1-SHA256",
        "--salt-len",
        "20",
        "--input-file",
        "digest",
        "--output-file",
        "sig-salt",
    ]);
    assert_ne!(salt.code, 0, "{salt:?}");
    assert!(
        salt.stderr.contains("CKR_MECHANISM_PARAM_INVALID"),
        "{salt:?}"
    );
    // Each login was an event 390.
    assert!(card.events().contains(&390));
}

#[test]
fn a_wrong_pin_is_counted_like_signin_and_the_lockout_refuses_the_right_pin() {
    let card = enrolled(&[], &[]);
    assert_eq!(card.failures(), 0);
    let wrong = card.tool(&["--login", "--pin", "000000", "--list-objects"]);
    assert_ne!(wrong.code, 0, "{wrong:?}");
    assert!(wrong.stderr.contains("CKR_PIN_INCORRECT"), "{wrong:?}");
    assert_eq!(card.failures(), 1, "counted in the container");
    // The same counter `latchkey signin` uses: its wrong PIN makes it 2.
    card.world
        .device("pc", &["signin", "--pin-stdin"], "111111\n")
        .assert_error("LK-PIN-001");
    assert_eq!(card.failures(), 2);
    let flags = card.tool(&["--list-token-slots"]);
    assert!(flags.stdout.contains("PIN count low"), "{}", flags.stdout);
    for _ in 0..3 {
        let wrong = card.tool(&["--login", "--pin", "000000", "--list-objects"]);
        assert!(wrong.stderr.contains("CKR_PIN_INCORRECT"), "{wrong:?}");
    }
    assert_eq!(card.failures(), 5);
    // Locked out: the right PIN is refused without being tried (the container is not
    // written), and the token says so.
    let container = card.state_dir().join("hello").join(format!("{UPN}.json"));
    let before = std::fs::read(&container).unwrap();
    let locked = card.tool(&["--login", "--pin", PIN, "--list-objects"]);
    assert_ne!(locked.code, 0, "{locked:?}");
    assert!(locked.stderr.contains("CKR_PIN_LOCKED"), "{locked:?}");
    assert_eq!(
        std::fs::read(&container).unwrap(),
        before,
        "nothing written"
    );
    let flags = card.tool(&["--list-token-slots"]);
    assert!(flags.stdout.contains("PIN locked"), "{}", flags.stdout);
    let events = card.events();
    assert!(events.contains(&391) && events.contains(&392), "{events:?}");
    assert!(!events.contains(&390), "{events:?}");
}

#[test]
fn p11tool_lists_the_certificate_and_key_and_test_signs() {
    let card = enrolled(&[], &[]);
    let module = card.module.display().to_string();
    let certs = card.run("p11tool", &["--provider", &module, "--list-all-certs"], &[]);
    certs.assert_ok();
    assert!(
        certs.stdout.contains("Type: X.509 Certificate"),
        "{certs:?}"
    );
    assert!(certs.stdout.contains(&format!("Label: {UPN}")), "{certs:?}");
    let keys = card.run(
        "p11tool",
        &["--provider", &module, "--login", "--list-privkeys"],
        &[("GNUTLS_PIN", PIN)],
    );
    keys.assert_ok();
    assert!(keys.stdout.contains("Private key (RSA-2048)"), "{keys:?}");
    assert!(keys.stdout.contains("CKA_SENSITIVE"), "{keys:?}");
    let url = "pkcs11:token=kim%40example.com;object=kim%40example.com;type=private";
    let signed = card.run(
        "p11tool",
        &["--provider", &module, "--login", "--test-sign", url],
        &[("GNUTLS_PIN", PIN)],
    );
    signed.assert_ok();
    let all = format!("{}{}", signed.stdout, signed.stderr);
    assert!(
        all.contains("Verifying against public key in the token... ok"),
        "{signed:?}"
    );
    // The wrong PIN: refused and counted.
    let wrong = card.run(
        "p11tool",
        &["--provider", &module, "--login", "--list-privkeys"],
        &[("GNUTLS_PIN", "999999")],
    );
    assert_ne!(wrong.code, 0, "{wrong:?}");
    assert_eq!(card.failures(), 1);
}

#[path = "smart_card/sshd.rs"]
mod sshd;

/// `ssh -I module` to the test's sshd, the PIN given through SSH_ASKPASS (what ssh asks
/// for a PKCS#11 PIN with SSH_ASKPASS_REQUIRE=force). Not IdentitiesOnly: ssh drops
/// PKCS#11 keys that no IdentityFile names when it is set.
fn ssh(card: &common::Card, port: u16, pin: &str) -> latchkey_e2e::Output {
    use std::os::unix::fs::PermissionsExt;
    let askpass = card.write(
        "askpass.sh",
        format!("#!/bin/sh\necho '{pin}'\n").as_bytes(),
    );
    std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o700)).unwrap();
    let askpass = askpass.display().to_string();
    let module = card.module.display().to_string();
    let port = port.to_string();
    let user = std::env::var("USER").unwrap_or_else(|_| "root".to_owned());
    let target = format!("{user}@127.0.0.1");
    card.run(
        "ssh",
        &[
            "-F",
            "/dev/null",
            "-I",
            &module,
            "-p",
            &port,
            "-o",
            "BatchMode=no",
            "-o",
            "IdentityAgent=none",
            "-o",
            "PreferredAuthentications=publickey",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "ConnectTimeout=20",
            &target,
            "echo",
            "signed-in-with-hello",
        ],
        &[
            ("SSH_ASKPASS", askpass.as_str()),
            ("SSH_ASKPASS_REQUIRE", "force"),
            ("DISPLAY", ":0"),
        ],
    )
}

#[test]
fn ssh_signs_in_with_the_hello_key_through_the_module() {
    let card = enrolled(&[], &[]);
    let pubkey = card.public_key_pem();
    let line = card.run(
        "ssh-keygen",
        &["-i", "-m", "PKCS8", "-f", pubkey.to_str().unwrap()],
        &[],
    );
    line.assert_ok();
    assert!(line.stdout.starts_with("ssh-rsa "), "{line:?}");
    let sshd = sshd::Sshd::start(&card.work.join("sshd"), line.stdout.trim());

    let ok = ssh(&card, sshd.port, PIN);
    assert_eq!(ok.code, 0, "{ok:?}");
    assert_eq!(ok.stdout.trim(), "signed-in-with-hello", "{ok:?}");
    assert_eq!(card.failures(), 0);

    let wrong = ssh(&card, sshd.port, "000000");
    assert_ne!(wrong.code, 0, "{wrong:?}");
    assert!(!wrong.stdout.contains("signed-in-with-hello"), "{wrong:?}");
    assert_eq!(
        card.failures(),
        1,
        "ssh's wrong PIN is counted in the container"
    );
}

/// `p11tool --list-tokens` without `--provider`: the modules p11-kit is configured with.
/// As root (which p11-kit denies user configuration), it runs as nobody with the state
/// directory and home handed to nobody for the call.
fn p11_kit_tokens(
    card: &common::Card,
    home: &std::path::Path,
    env: &[(&str, &str)],
) -> latchkey_e2e::Output {
    let uid = std::process::Command::new("id").arg("-u").output().unwrap();
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return card.run("p11tool", &["--list-tokens"], env);
    }
    let chown = |owner: &str, path: &std::path::Path| {
        let out = std::process::Command::new("chown")
            .args(["-R", owner])
            .arg(path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    use std::os::unix::fs::PermissionsExt;
    let root = card.world.root.path();
    for dir in [root.to_path_buf(), root.join("devices"), card.work.clone()] {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711)).unwrap();
    }
    chown("65534:65534", &card.state_dir());
    chown("65534:65534", home);
    let state = card.state_dir().display().to_string();
    let out = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "p11tool",
            "--list-tokens",
        ])
        .envs(env.iter().copied())
        .env("LATCHKEY_STATE_DIR", &state)
        .current_dir("/")
        .output()
        .unwrap();
    chown("0:0", &card.state_dir());
    chown("0:0", home);
    latchkey_e2e::Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `latchkeyd policy apply` of UseHelloCertificatesAsSmartCardCertificates = `value`.
fn smart_card_policy(card: &common::Card, value: bool) {
    let t = card
        .world
        .admin(&["tenant", "show", "--json"], "")
        .assert_ok()
        .json()["tenant_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let xml = format!(
        "<SyncML xmlns=\"SYNCML:SYNCML1.2\"><SyncBody><Replace><CmdID>1</CmdID><Item><Target><LocURI>./Device/Vendor/MSFT/PassportForWork/{t}/Policies/UseHelloCertificatesAsSmartCardCertificates</LocURI></Target><Meta><Format xmlns=\"syncml:metinf\">bool</Format></Meta><Data>{value}</Data></Item></Replace><Final/></SyncBody></SyncML>"
    );
    let file = card.write("policy.xml", xml.as_bytes());
    card.world
        .admin(&["policy", "apply", file.to_str().unwrap()], "")
        .assert_ok();
}

#[test]
fn the_smart_card_policy_registers_the_module_with_p11_kit_and_status_says_so() {
    let card = enrolled(&[], &[]);
    let home = card.work.join("home");
    let config = home.join(".config");
    std::fs::create_dir_all(&config).unwrap();
    let home_s = home.display().to_string();
    let config_s = config.display().to_string();
    // p11-kit reads no user configuration in a program running as root, so the p11-kit
    // side runs as nobody when the test runs as root: the module is linked where nobody
    // can load it and the file names that path.
    let shared = card.work.join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    let linked = shared.join("liblatchkey_pkcs11.so");
    if std::fs::hard_link(&card.module, &linked).is_err() {
        std::fs::copy(&card.module, &linked).unwrap();
    }
    let linked_s = linked.display().to_string();
    let env = [
        ("HOME", home_s.as_str()),
        ("XDG_CONFIG_HOME", config_s.as_str()),
        ("LATCHKEY_PKCS11_MODULE", linked_s.as_str()),
    ];
    let env = &env[..];
    let file = config.join("pkcs11/modules/latchkey.module");
    let tokens = || p11_kit_tokens(&card, &home, env);
    let status = || {
        card.world
            .device_env("pc", &["status", "--json"], "", env)
            .assert_ok()
            .json()["UserState"]["SmartCardCertificates"]
            .clone()
    };

    // Off (the default): no file, p11-kit programs do not see the token; the module
    // still works for a consumer given its path.
    card.world
        .device_env("pc", &["policy", "sync"], "", env)
        .assert_ok();
    assert!(!file.exists());
    assert_eq!(status(), false);
    let listed = tokens();
    assert!(!listed.stdout.contains(UPN), "{listed:?}");
    card.tool(&["--list-slots"]).assert_ok();

    // On: policy sync writes the module file naming the module next to `latchkey`, and
    // p11tool without --provider lists the token through p11-kit.
    smart_card_policy(&card, true);
    let synced = card.world.device_env("pc", &["policy", "sync"], "", env);
    synced.assert_ok();
    assert!(synced.stdout.contains("Smart card:"), "{synced:?}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(&format!("module: {linked_s}\n")), "{text}");
    assert_eq!(status(), true);
    let text_status = card.world.device_env("pc", &["status"], "", env);
    assert!(
        text_status
            .stdout
            .lines()
            .any(|l| l.contains("SmartCardCertificates") && l.contains("YES")),
        "{text_status:?}"
    );
    let listed = tokens();
    listed.assert_ok();
    assert!(
        listed.stdout.contains(&format!("Label: {UPN}")),
        "{listed:?}"
    );

    // Off again: removed at the next sync.
    smart_card_policy(&card, false);
    card.world
        .device_env("pc", &["policy", "sync"], "", env)
        .assert_ok();
    assert!(!file.exists());
    assert!(!tokens().stdout.contains(UPN));

    // A module file an administrator wrote is left alone.
    smart_card_policy(&card, true);
    std::fs::write(&file, "module: /somewhere/else.so\n").unwrap();
    let synced = card.world.device_env("pc", &["policy", "sync"], "", env);
    synced.assert_ok();
    assert!(
        synced.stderr.contains("not written by latchkey"),
        "{synced:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "module: /somewhere/else.so\n"
    );
}

#[test]
fn a_tpm_hello_key_signs_through_the_module_and_lists_only_what_the_tpm_can_do() {
    use latchkey_tpm::swtpm::SwTpm;
    let tpm_dir = tempfile::tempdir().unwrap();
    let tpm = SwTpm::start_with_da(
        tpm_dir.path(),
        latchkey_tpm::DaParameters {
            max_tries: 5,
            recovery_time: 1000,
            lockout_recovery: 1000,
        },
    )
    .unwrap();
    let tcti = tpm.tcti().unwrap().as_str().to_owned();
    let card = common::enrolled_with(
        &[("LATCHKEY_TPM", tcti.as_str())],
        &["--key-provider", "tpm"],
        Some((&tpm.manufacturer_root(), &tpm.manufacturer_intermediate())),
    );
    assert!(
        !card
            .state_dir()
            .join("hello")
            .join(format!("{UPN}.json"))
            .exists(),
        "a TPM key, not a software container"
    );
    let slots = card.tool(&["--list-token-slots"]);
    slots.assert_ok();
    assert!(slots.stdout.contains("Hello TPM 2.0"), "{slots:?}");
    let mechs = card.tool(&["--list-mechanisms"]);
    mechs.assert_ok();
    assert!(mechs.stdout.contains("RSA-PKCS"), "{mechs:?}");
    assert!(mechs.stdout.contains("SHA256-RSA-PKCS"), "{mechs:?}");
    assert!(!mechs.stdout.contains("PSS"), "{mechs:?}");
    assert!(!mechs.stdout.contains("SHA512"), "{mechs:?}");
    assert!(mechs.stdout.contains("hw"), "CKF_HW: {mechs:?}");

    let pubkey = card.public_key_pem();
    let pubkey = pubkey.to_str().unwrap();
    let message = b"signed inside the TPM\n";
    card.write("data", message);
    card.tool(&[
        "--login",
        "--pin",
        PIN,
        "--sign",
        "--mechanism",
        "SHA256-RSA-PKCS",
        "--input-file",
        "data",
        "--output-file",
        "sig",
    ])
    .assert_ok();
    verified(&card.run(
        "openssl",
        &[
            "dgst",
            "-sha256",
            "-verify",
            pubkey,
            "-signature",
            "sig",
            "data",
        ],
        &[],
    ));
    let mut info = SHA256_DIGEST_INFO.to_vec();
    info.extend_from_slice(&Sha256::digest(message));
    card.write("digestinfo", &info);
    card.tool(&[
        "--login",
        "--pin",
        PIN,
        "--sign",
        "--mechanism",
        "RSA-PKCS",
        "--input-file",
        "digestinfo",
        "--output-file",
        "sig-raw",
    ])
    .assert_ok();
    verified(&card.run(
        "openssl",
        &[
            "dgst",
            "-sha256",
            "-verify",
            pubkey,
            "-signature",
            "sig-raw",
            "data",
        ],
        &[],
    ));
    // PSS is not offered by a TPM token (its key's scheme is RSASSA-SHA256).
    card.write("digest", &Sha256::digest(message));
    let pss = card.tool(&[
        "--login",
        "--pin",
        PIN,
        "--sign",
        "--mechanism",
        "RSA-PKCS-PSS",
        "--hash-algorithm",
        "SHA256",
        "--mgf",
        "MGF1-SHA256",
        "--salt-len",
        "32",
        "--input-file",
        "digest",
        "--output-file",
        "sig-pss",
    ]);
    assert_ne!(pss.code, 0, "{pss:?}");
    assert!(pss.stderr.contains("CKR_MECHANISM_INVALID"), "{pss:?}");
    // A wrong PIN is refused by the TPM.
    let wrong = card.tool(&["--login", "--pin", "000000", "--list-objects"]);
    assert!(wrong.stderr.contains("CKR_PIN_INCORRECT"), "{wrong:?}");
}
