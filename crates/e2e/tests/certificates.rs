//! Certificate trust end to end with the real binaries: with UseCertificateForOnPremAuth
//! on, `latchkey hello setup` reports success only once the Hello certificate is
//! installed; OpenSSL checks the certificate and its chain; a refused enrolment leaves
//! the device without a key; a revocation by the administrator reaches the CRL.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::process::Command;

use latchkey_e2e::{Output, Service, World};

const PASSWORD: &str = "pa55word-for-tests";
const PIN: &str = "246810";

/// Joins `upn` on device `pc` with MFA (the owner's device then stands in for the
/// one-time code at setup).
fn join(world: &World, svc: &Service, upn: &str) {
    let totp = world.add_user(upn, PASSWORD);
    world.join(svc, "pc", upn, PASSWORD, &totp);
}

fn setup(world: &World) -> Output {
    world.device(
        "pc",
        &["hello", "setup", "--password-stdin", "--pin-stdin"],
        &format!("{PASSWORD}\n{PIN}\n"),
    )
}

fn openssl(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs")
}

/// Splits concatenated PEM certificates.
fn pems(text: &str) -> Vec<String> {
    text.split_inclusive("-----END CERTIFICATE-----\n")
        .filter(|p| p.contains("BEGIN CERTIFICATE"))
        .map(|p| p.trim_start().to_owned())
        .collect()
}

#[test]
fn setup_under_the_certificate_policy_installs_a_certificate_openssl_accepts() {
    let world = World::new();
    let svc = world.start_service();
    let upn = "dee@example.com";
    join(&world, &svc, upn);
    world
        .admin(
            &[
                "policy",
                "gpo",
                "set",
                "WHfB",
                "--all",
                "UseCertificateForOnPremAuth=true",
            ],
            "",
        )
        .assert_ok();
    world.device("pc", &["policy", "sync"], "").assert_ok();

    // Enrolment limited to a group the user is not in: setup fails and stores nothing.
    world.admin(&["group", "add", "wh4b-users"], "").assert_ok();
    world
        .admin(
            &[
                "cert",
                "template",
                "set",
                "Hello authentication",
                "--group",
                "wh4b-users",
            ],
            "",
        )
        .assert_ok();
    let refused = setup(&world);
    refused.assert_error("LK-AGENT-014");
    assert!(refused.stderr.contains("LK-CERT-003"), "{}", refused.stderr);
    let status = world
        .device("pc", &["status", "--json"], "")
        .assert_ok()
        .json();
    assert_eq!(status["UserState"]["NgcSet"], false, "no key on the device");
    assert_eq!(
        status["NgcPrerequisiteCheck"]["Checks"]["CertEnrollment"]["State"],
        "PENDING"
    );
    world
        .device("pc", &["cert", "show"], "")
        .assert_error("LK-AGENT-029");

    // In the group: setup succeeds, and by then the certificate is installed.
    world
        .admin(&["group", "member", "add", "wh4b-users", "--user", upn], "")
        .assert_ok();
    let done = setup(&world);
    done.assert_ok();
    assert!(
        done.stdout.contains("Certificate installed"),
        "{}",
        done.stdout
    );
    let status = world
        .device("pc", &["status", "--json"], "")
        .assert_ok()
        .json();
    assert_eq!(status["UserState"]["NgcSet"], true);
    assert_eq!(
        status["NgcPrerequisiteCheck"]["Checks"]["CertEnrollment"]["State"],
        "YES"
    );
    let shown = world
        .device("pc", &["cert", "show", "--json"], "")
        .assert_ok()
        .json();
    let serial = shown["serial"].as_str().unwrap().to_owned();
    // The fingerprint is printed the same way on the device and by the service.
    let sha_line = |text: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix("SHA-256"))
            .map(|rest| rest.trim_start_matches([' ', ':']).to_owned())
            .unwrap_or_else(|| panic!("no SHA-256 line:\n{text}"))
    };
    let on_device = world
        .device("pc", &["cert", "show"], "")
        .assert_ok()
        .stdout
        .clone();
    let by_service = world
        .admin(&["cert", "show", &serial], "")
        .assert_ok()
        .stdout
        .clone();
    assert_eq!(sha_line(&on_device), sha_line(&by_service));
    assert_eq!(sha_line(&on_device).len(), 95, "{on_device}");
    assert!(status["UserState"]["HelloCertificate"]
        .as_str()
        .unwrap()
        .contains(shown["thumbprint"].as_str().unwrap()));
    let events = world
        .device("pc", &["events", "--json"], "")
        .assert_ok()
        .json();
    let ids: Vec<u64> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_u64().unwrap())
        .collect();
    let installed = ids.iter().rposition(|&i| i == 380).expect("event 380");
    let registered = ids.iter().rposition(|&i| i == 300).expect("event 300");
    assert!(
        installed < registered,
        "certificate before provisioning: {ids:?}"
    );

    // OpenSSL: the chain to the tenant root for client authentication, the profile.
    let dir = world.root.path().join("openssl");
    std::fs::create_dir_all(&dir).unwrap();
    let pem = world
        .device("pc", &["cert", "show", "--pem"], "")
        .assert_ok()
        .stdout
        .clone();
    let certs = pems(&pem);
    assert_eq!(certs.len(), 3, "leaf, issuing CA, root: {pem}");
    std::fs::write(dir.join("leaf.pem"), &certs[0]).unwrap();
    std::fs::write(dir.join("issuing.pem"), &certs[1]).unwrap();
    std::fs::copy(world.ca_file(), dir.join("root.pem")).unwrap();
    let verify = openssl(
        &dir,
        &[
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "-purpose",
            "sslclient",
            "leaf.pem",
        ],
    );
    assert!(
        verify.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    let text = openssl(&dir, &["x509", "-in", "leaf.pem", "-noout", "-text"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("TLS Web Client Authentication"), "{text}");
    assert!(
        text.contains("Microsoft Smartcard Login") || text.contains("1.3.6.1.4.1.311.20.2.2"),
        "{text}"
    );
    assert!(text.contains(&format!("UPN::{upn}")), "{text}");

    // The service lists it; revoked by the administrator, the CRL says so.
    let listed = world
        .admin(&["cert", "list", "--user", upn, "--json"], "")
        .assert_ok()
        .json();
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["serial"] == serial.as_str() && c["state"] == "valid"));
    world
        .admin(
            &[
                "cert",
                "revoke",
                &serial,
                "--reason",
                "key-compromise",
                "--yes",
            ],
            "",
        )
        .assert_ok();
    let crl = dir.join("issuing.crl");
    world
        .admin(&["cert", "crl", "--out", crl.to_str().unwrap()], "")
        .assert_ok();
    let converted = openssl(
        &dir,
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            "issuing.crl",
            "-out",
            "issuing-crl.pem",
        ],
    );
    assert!(converted.status.success(), "the CRL is DER openssl reads");
    let checked = openssl(
        &dir,
        &[
            "verify",
            "-crl_check",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "-CRLfile",
            "issuing-crl.pem",
            "leaf.pem",
        ],
    );
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(!checked.status.success(), "{said}");
    assert!(said.contains("certificate revoked"), "{said}");
}
