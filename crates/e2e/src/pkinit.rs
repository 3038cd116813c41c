//! Building blocks of the PKINIT tests and the kinit benchmark: users joined with a Hello
//! key and certificate under UseCertificateForOnPremAuth, `latchkeyd kerberos kdc-setup`,
//! and the Hello key as a FILE identity for kinit.

use std::path::{Path, PathBuf};

use crate::hello_key::software_hello_key_pem;
use crate::{Service, World};

/// The users' password.
pub const PASSWORD: &str = "pa55word-for-tests";
/// The Hello PIN.
pub const PIN: &str = "246810";
/// The realm of the tests.
pub const REALM: &str = "CONTOSO.TEST";

/// Joins `upn` on `device` with MFA.
pub fn join(world: &World, svc: &Service, device: &str, upn: &str) {
    let totp = world.add_user(upn, PASSWORD);
    world.join(svc, device, upn, PASSWORD, &totp);
}

/// `hello setup` on `device` under UseCertificateForOnPremAuth: a Hello key and its
/// certificate.
pub fn setup(world: &World, device: &str) {
    world.device(device, &["policy", "sync"], "").assert_ok();
    let done = world.device(
        device,
        &["hello", "setup", "--password-stdin", "--pin-stdin"],
        &format!("{PASSWORD}\n{PIN}\n"),
    );
    done.assert_ok();
    assert!(
        done.stdout.contains("Certificate installed"),
        "{}",
        done.stdout
    );
}

/// Turns UseCertificateForOnPremAuth on for everyone (a Group Policy object).
pub fn certificate_policy(world: &World) {
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
}

/// `kdc-setup` into `world/kdc-setup`.
pub fn kdc_setup(world: &World) -> PathBuf {
    let out = world.root.path().join("kdc-setup");
    world
        .admin(
            &[
                "kerberos",
                "kdc-setup",
                "--realm",
                REALM,
                "--out",
                out.to_str().unwrap(),
                "--hostname",
                "kdc.contoso.test",
            ],
            "",
        )
        .assert_ok();
    out
}

/// A Hello certificate (leaf only) and its key as PEM files: a FILE identity for kinit.
pub struct Identity {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub serial: String,
}

/// The device's Hello certificate (leaf only) and key as PEM files in `dir`; the key
/// taken out of the software container with [`PIN`] (test-only).
pub fn identity(world: &World, device: &str, upn: &str, dir: &Path) -> Identity {
    std::fs::create_dir_all(dir).unwrap();
    let pem = world
        .device(device, &["cert", "show", "--pem"], "")
        .assert_ok()
        .stdout
        .clone();
    let leaf = pem
        .split_inclusive("-----END CERTIFICATE-----\n")
        .next()
        .unwrap()
        .trim_start()
        .to_owned();
    let serial = world
        .device(device, &["cert", "show", "--json"], "")
        .assert_ok()
        .json()["serial"]
        .as_str()
        .unwrap()
        .to_owned();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, leaf).unwrap();
    std::fs::write(
        &key,
        software_hello_key_pem(&world.device_dir(device), upn, PIN),
    )
    .unwrap();
    Identity { cert, key, serial }
}
