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

use latchkey_e2e::kdc::Kdc;
use latchkey_e2e::pkinit::{
    certificate_policy, identity, join, kdc_setup, setup, Identity, PIN, REALM,
};
use latchkey_e2e::{Output, Service, World};

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

/// kinit with `id` as `principal` against `kdc`, into a fresh cache in `dir`.
fn kinit(kdc: &Kdc, dir: &Path, id: &Identity, principal: &str) -> Output {
    let ccache = dir.join(format!("{}.ccache", principal.replace(['@', '/'], "_")));
    let _ = std::fs::remove_file(&ccache);
    kdc.kinit_file(&ccache, &id.cert, &id.key, principal)
}

fn assert_refused(out: &Output, kdc: &Kdc, expected: &[&str]) {
    let text = said(out);
    eprintln!("kinit refused: {}", text.trim());
    assert_ne!(out.code, 0, "kinit succeeded: {text}");
    assert!(
        expected.iter().any(|e| text.contains(e)),
        "kinit said {text:?}, expected one of {expected:?}\nKDC log:\n{}",
        kdc.log()
    );
}

fn key_id(world: &World, upn: &str) -> String {
    let keys = world
        .admin(&["key", "list", "--user", upn, "--json"], "")
        .assert_ok()
        .json();
    keys[0]["key_id"]
        .as_str()
        .or_else(|| keys[0]["key"]["key_id"].as_str())
        .unwrap_or_else(|| panic!("no key id in {keys}"))
        .to_owned()
}

#[test]
fn revoked_certificates_are_refused_once_the_kdc_has_the_new_crl() {
    let mut r = realm_with_kim();
    join(&r.world, &r.svc, "pc2", "lee@contoso.test");
    setup(&r.world, "pc2");
    r.kdc.add_pkinit_user("lee");
    let dir = r.world.root.path().join("ids");
    let kim = identity(&r.world, "pc", "kim@contoso.test", &dir.join("kim"));
    let lee = identity(&r.world, "pc2", "lee@contoso.test", &dir.join("lee"));
    let kim_p = format!("kim@{REALM}");
    let lee_p = format!("lee@{REALM}");
    kinit(&r.kdc, &dir, &kim, &kim_p).assert_ok();
    kinit(&r.kdc, &dir, &lee, &lee_p).assert_ok();

    // kim's key deleted (its certificate is revoked with it), lee's certificate revoked.
    let kid = key_id(&r.world, "kim@contoso.test");
    r.world
        .admin(&["key", "delete", &kid, "--yes"], "")
        .assert_ok();
    r.world
        .admin(
            &[
                "cert",
                "revoke",
                &lee.serial,
                "--reason",
                "key-compromise",
                "--yes",
            ],
            "",
        )
        .assert_ok();

    // The KDC still has the CRL it started with, even after crl.pem is rewritten.
    let crl = r.setup_dir.join("crl.pem");
    let before = std::fs::read(&crl).unwrap();
    r.world
        .admin(&["kerberos", "crl", "--out", crl.to_str().unwrap()], "")
        .assert_ok();
    assert_ne!(
        std::fs::read(&crl).unwrap(),
        before,
        "crl.pem was rewritten"
    );
    kinit(&r.kdc, &dir, &kim, &kim_p).assert_ok();

    // Restarted, it reads the new CRL and refuses both.
    r.kdc.restart();
    for (id, principal) in [(&kim, &kim_p), (&lee, &lee_p)] {
        let out = kinit(&r.kdc, &dir, id, principal);
        assert_refused(&out, &r.kdc, &["revoked", "Revoked"]);
    }
    assert!(
        r.kdc.log().contains("certificate revoked"),
        "{}",
        r.kdc.log()
    );
}

#[test]
fn another_users_certificate_is_refused() {
    let r = realm_with_kim();
    join(&r.world, &r.svc, "pc2", "bob@contoso.test");
    setup(&r.world, "pc2");
    r.kdc.add_pkinit_user("bob");
    let dir = r.world.root.path().join("ids");
    let bob = identity(&r.world, "pc2", "bob@contoso.test", &dir.join("bob"));
    // bob's certificate is good for bob...
    kinit(&r.kdc, &dir, &bob, &format!("bob@{REALM}")).assert_ok();
    // ...and not for kim.
    let out = kinit(&r.kdc, &dir, &bob, &format!("kim@{REALM}"));
    assert_refused(&out, &r.kdc, &["Client name mismatch"]);
}

#[test]
fn a_certificate_from_a_ca_the_kdc_does_not_trust_is_refused() {
    let r = realm_with_kim();
    // Another tenant (its own service, root and issuing CA), with the same realm and a
    // user of the same name.
    let other = World::new();
    let other_svc = other.start_service();
    let other_setup = kdc_setup(&other);
    certificate_policy(&other);
    join(&other, &other_svc, "pc", "kim@contoso.test");
    setup(&other, "pc");
    let dir = r.world.root.path().join("ids");
    let foreign = identity(&other, "pc", "kim@contoso.test", &dir.join("foreign"));
    let principal = format!("kim@{REALM}");
    // With only this realm's anchors, kinit itself finds no chain for the certificate and
    // sends nothing.
    let out = kinit(&r.kdc, &dir, &foreign, &principal);
    assert_refused(&out, &r.kdc, &["Failed to verify own certificate"]);
    // Trusting the other tenant's CA as well (so that it sends its chain), the KDC
    // refuses it.
    let anchors = |d: &Path| format!("X509_anchors=FILE:{}", d.join("anchors.pem").display());
    let (own_anchors, other_anchors) = (anchors(&r.setup_dir), anchors(&other_setup));
    let ccache = dir.join("foreign.ccache");
    let out = r.kdc.kinit_file_with(
        &ccache,
        &foreign.cert,
        &foreign.key,
        &principal,
        &["-X", &own_anchors, "-X", &other_anchors],
    );
    assert_refused(&out, &r.kdc, &["Can't verify certificate"]);
    assert!(
        r.kdc
            .log()
            .contains("unable to get local issuer certificate"),
        "{}",
        r.kdc.log()
    );
    // kim's own certificate still works against this KDC.
    let own = identity(&r.world, "pc", "kim@contoso.test", &dir.join("own"));
    kinit(&r.kdc, &dir, &own, &format!("kim@{REALM}")).assert_ok();
}

#[test]
fn an_expired_certificate_is_refused() {
    // Certificates valid one day; the KDC's clock two days ahead.
    let world = World::new();
    let svc = world.start_service();
    let setup_dir = kdc_setup(&world);
    world
        .admin(
            &[
                "cert",
                "template",
                "set",
                "Hello authentication",
                "--validity-days",
                "1",
            ],
            "",
        )
        .assert_ok();
    certificate_policy(&world);
    join(&world, &svc, "pc", "kim@contoso.test");
    setup(&world, "pc");
    let dir = world.root.path().join("ids");
    let kim = identity(&world, "pc", "kim@contoso.test", &dir.join("kim"));
    let principal = format!("kim@{REALM}");
    {
        // Today the certificate is good.
        let kdc = Kdc::start(&setup_dir, REALM);
        kdc.add_pkinit_user("kim");
        kinit(&kdc, &dir, &kim, &principal).assert_ok();
    }
    let kdc = Kdc::start_ahead(&setup_dir, REALM, 2);
    kdc.add_pkinit_user("kim");
    let out = kinit(&kdc, &dir, &kim, &principal);
    // kinit reports only "Invalid certificate"; the KDC's log says why.
    assert_refused(&out, &kdc, &["Invalid certificate"]);
    assert!(
        kdc.log().contains("certificate has expired"),
        "{}",
        kdc.log()
    );
}

/// The module next to the binaries (`cargo build -p latchkey-pkcs11`).
fn module_path() -> PathBuf {
    let module = latchkey_e2e::bin("latchkey").with_file_name("liblatchkey_pkcs11.so");
    assert!(
        module.is_file(),
        "{} not found: build it (`cargo build -p latchkey-pkcs11`)",
        module.display()
    );
    module
}

#[test]
fn kinit_through_the_pkcs11_module_with_the_pin_typed_at_its_prompt() {
    let r = realm_with_kim();
    let module = module_path();
    let identity = format!("PKCS11:module_name={}", module.display());
    let state = r.world.device_dir("pc");
    let state_text = state.display().to_string();
    let env = [("LATCHKEY_STATE_DIR", state_text.as_str())];
    let principal = format!("kim@{REALM}");
    let ccache = r.world.root.path().join("kim-p11.ccache");

    let got = r
        .kdc
        .kinit_on_terminal(&ccache, &identity, &principal, PIN, &env);
    assert_eq!(
        got.code,
        0,
        "kinit: {}\nKDC log:\n{}",
        said(&got),
        r.kdc.log()
    );
    assert!(got.stdout.contains("[typed]"), "{}", got.stdout);
    assert!(
        !got.stdout.contains(PIN),
        "the PIN is not echoed: {}",
        got.stdout
    );
    assert_eq!(
        latchkey_e2e::hello_key::pin_failures(&state, "kim@contoso.test"),
        0
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
    let service = format!("host/svc.test@{REALM}");
    let ticket = r.kdc.run_client("kvno", &ccache, &[&service]);
    assert_eq!(ticket.code, 0, "kvno: {}", said(&ticket));

    // A wrong PIN: no ticket, and the container counts it.
    let wrong_cache = r.world.root.path().join("wrong.ccache");
    let wrong = r
        .kdc
        .kinit_on_terminal(&wrong_cache, &identity, &principal, "000000", &env);
    assert_ne!(wrong.code, 0, "kinit with a wrong PIN: {}", said(&wrong));
    assert!(wrong.stdout.contains("[typed]"), "{}", wrong.stdout);
    eprintln!("kinit refused: {}", said(&wrong).trim());
    assert!(!wrong_cache.exists(), "no ticket cache");
    assert_eq!(
        latchkey_e2e::hello_key::pin_failures(&state, "kim@contoso.test"),
        1,
        "the wrong PIN is counted in the container"
    );
}

fn has_principal_san(cert: &Path) -> bool {
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(cert)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("UPN::"),
        "the UPN SAN is always there: {text}"
    );
    text.contains("1.3.6.1.5.2.2")
}

#[test]
fn certificates_carry_the_principal_from_kdc_setup_on_and_the_kdc_needs_it() {
    let world = World::new();
    let svc = world.start_service();
    certificate_policy(&world);
    // Enrolled before the tenant has a realm: the UPN SAN only.
    join(&world, &svc, "pc", "kim@contoso.test");
    setup(&world, "pc");
    let dir = world.root.path().join("ids");
    let before = identity(&world, "pc", "kim@contoso.test", &dir.join("before"));
    assert!(!has_principal_san(&before.cert));

    let setup_dir = kdc_setup(&world);
    join(&world, &svc, "pc2", "lee@contoso.test");
    setup(&world, "pc2");
    let after = identity(&world, "pc2", "lee@contoso.test", &dir.join("after"));
    assert!(has_principal_san(&after.cert));

    let kdc = Kdc::start(&setup_dir, REALM);
    kdc.add_pkinit_user("kim");
    kdc.add_pkinit_user("lee");
    kinit(&kdc, &dir, &after, &format!("lee@{REALM}")).assert_ok();
    // MIT 1.20 with pkinit_allow_upn matches the UPN only against the principal's own
    // name: a certificate without the principal SAN is refused for kim@REALM.
    let out = kinit(&kdc, &dir, &before, &format!("kim@{REALM}"));
    assert_refused(&out, &kdc, &["Client name mismatch"]);
}

#[test]
fn a_per_user_principal_name_replaces_the_upn_local_part() {
    let world = World::new();
    let svc = world.start_service();
    let setup_dir = kdc_setup(&world);
    certificate_policy(&world);
    join(&world, &svc, "pc", "kim@contoso.test");
    world
        .admin(
            &["kerberos", "set-principal", "kim@contoso.test", "kim.smith"],
            "",
        )
        .assert_ok();
    setup(&world, "pc");
    let dir = world.root.path().join("ids");
    let kim = identity(&world, "pc", "kim@contoso.test", &dir.join("kim"));
    let kdc = Kdc::start(&setup_dir, REALM);
    kdc.add_pkinit_user("kim");
    kdc.add_pkinit_user("kim.smith");
    kinit(&kdc, &dir, &kim, &format!("kim.smith@{REALM}")).assert_ok();
    let out = kinit(&kdc, &dir, &kim, &format!("kim@{REALM}"));
    assert_refused(&out, &kdc, &["Client name mismatch"]);
}
