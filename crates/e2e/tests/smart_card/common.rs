//! A device with a Hello key and certificate, and the PKCS#11 module with the real
//! consumers (pkcs11-tool, p11tool, openssl, ssh) run against it.

use std::path::PathBuf;
use std::process::Command;

use latchkey_e2e::{bin, Output, Service, World};

pub const PASSWORD: &str = "pa55word-for-tests";
pub const PIN: &str = "246810";
pub const UPN: &str = "kim@example.com";

/// A world whose device `pc` holds `UPN`'s Hello key and certificate.
pub struct Card {
    pub world: World,
    pub _svc: Service,
    pub module: PathBuf,
    pub work: PathBuf,
    /// Given to every consumer (the TPM's TCTI for a TPM key).
    pub env: Vec<(String, String)>,
}

/// The module next to the binaries (`cargo test --workspace` builds it; so does
/// `cargo build -p latchkey-pkcs11`).
pub fn module_path() -> PathBuf {
    let latchkey = bin("latchkey");
    let module = latchkey.with_file_name("liblatchkey_pkcs11.so");
    assert!(
        module.is_file(),
        "{} not found: build it (`cargo build -p latchkey-pkcs11`, or `cargo test --workspace`)",
        module.display()
    );
    module
}

/// [`enrolled_with`] with a software key.
pub fn enrolled(env: &[(&str, &str)], provider: &[&str]) -> Card {
    enrolled_with(env, provider, None)
}

/// `UPN` joined and set up Hello with `provider` flags; `tpm_roots`: the TPM
/// manufacturer's root and intermediate the tenant trusts.
pub fn enrolled_with(
    env: &[(&str, &str)],
    provider: &[&str],
    tpm_roots: Option<(&std::path::Path, &std::path::Path)>,
) -> Card {
    let world = World::new();
    let svc = world.start_service();
    if let Some((root, intermediate)) = tpm_roots {
        world
            .admin(&["tpm-roots", "add", &root.display().to_string()], "")
            .assert_ok();
        world
            .admin(
                &[
                    "tpm-roots",
                    "add",
                    "--intermediate",
                    &intermediate.display().to_string(),
                ],
                "",
            )
            .assert_ok();
    }
    let totp = world.add_user(UPN, PASSWORD);
    let ca = world.ca_file().display().to_string();
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
    let mut join: Vec<&str> = provider.to_vec();
    let otp = totp.fresh();
    join.extend([
        "join",
        "--server",
        &svc.url,
        "--user",
        UPN,
        "--password-stdin",
        "--otp",
        &otp,
        "--ca",
        &ca,
    ]);
    world
        .device_env("pc", &join, &format!("{PASSWORD}\n"), env)
        .assert_ok();
    let mut setup: Vec<&str> = provider.to_vec();
    setup.extend(["hello", "setup", "--password-stdin", "--pin-stdin"]);
    let done = world.device_env("pc", &setup, &format!("{PASSWORD}\n{PIN}\n"), env);
    done.assert_ok();
    assert!(
        done.stdout.contains("Certificate installed"),
        "{}",
        done.stdout
    );
    let work = world.root.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    Card {
        module: module_path(),
        work,
        world,
        _svc: svc,
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

impl Card {
    pub fn state_dir(&self) -> PathBuf {
        self.world.device_dir("pc")
    }

    /// Runs a consumer with the module's environment (the state directory) plus `env`.
    pub fn run(&self, program: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        let state = self.state_dir().display().to_string();
        let mut all: Vec<(&str, &str)> = vec![("LATCHKEY_STATE_DIR", state.as_str())];
        all.extend(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        all.extend_from_slice(env);
        let out = Command::new(program)
            .args(args)
            .envs(all.iter().copied())
            .env_remove("LATCHKEY_AGENT_BIN")
            .current_dir(&self.work)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{program} runs: {e}"));
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `pkcs11-tool --module M args...`.
    pub fn tool(&self, args: &[&str]) -> Output {
        let module = self.module.display().to_string();
        let mut all = vec!["--module", module.as_str()];
        all.extend_from_slice(args);
        self.run("pkcs11-tool", &all, &[])
    }

    /// The certificate's public key, PEM, in the work directory (`pub.pem`), taken from
    /// `latchkey cert show --pem` by openssl.
    pub fn public_key_pem(&self) -> PathBuf {
        let pem = self
            .world
            .device("pc", &["cert", "show", "--pem"], "")
            .assert_ok()
            .stdout
            .clone();
        let first = pem
            .split_inclusive("-----END CERTIFICATE-----\n")
            .next()
            .unwrap()
            .to_owned();
        std::fs::write(self.work.join("cert.pem"), first).unwrap();
        self.run(
            "openssl",
            &[
                "x509", "-in", "cert.pem", "-pubkey", "-noout", "-out", "pub.pem",
            ],
            &[],
        )
        .assert_ok();
        self.work.join("pub.pem")
    }

    /// The container's wrong-PIN counter (`hello/<upn>.json`).
    pub fn failures(&self) -> u64 {
        let path = self.state_dir().join("hello").join(format!("{UPN}.json"));
        let c: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        c["lockout"]["failures"].as_u64().unwrap()
    }

    /// The event ids in the device's event log.
    pub fn events(&self) -> Vec<u64> {
        let out = self.world.device("pc", &["events", "--json"], "");
        out.assert_ok();
        out.json()
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_u64().unwrap())
            .collect()
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.work.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

/// openssl succeeded and said so.
pub fn verified(out: &Output) {
    out.assert_ok();
    assert!(
        out.stdout.contains("Verified OK")
            || out.stdout.contains("Signature Verified Successfully"),
        "{out:?}"
    );
}
