//! Harness for Latchkey's end-to-end tests.
//!
//! Each test gets its own temporary directory, starts the real `latchkeyd` on a free loopback
//! port (`--listen 127.0.0.1:0`, the real port read from its output) and drives the real
//! `latchkey` binary with its own state directory. Binaries are found in `LATCHKEY_BIN_DIR`
//! (set by `scripts/test.sh` after `cargo build --bins`) or next to the test executable.
#![forbid(unsafe_code)]
// A test harness: a failed step should stop the test with a message, so it may unwrap,
// expect, panic and index.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod balancer;
pub mod hello_key;
pub mod kdc;
mod otp;
mod peers;
pub mod pkinit;
mod process;
mod request_balancer;
pub mod signin_load;
mod steps;
mod terminal;

pub use balancer::Balancer;
pub use otp::Totp;
pub use peers::{json_field, status_field, verify_with_pyjwt};
pub use process::{bin, run, Output, Service};
pub use request_balancer::RequestBalancer;
pub use terminal::Conversation;

use std::path::{Path, PathBuf};

/// A test's scratch space: a data directory for the service and state directories for
/// devices, all removed when the test ends.
pub struct World {
    pub root: tempfile::TempDir,
    /// The `--database` every admin command and service of this world gets (`None`: the
    /// embedded SQLite default in the data directory).
    pub database: Option<String>,
}

impl World {
    /// A new world whose data directory is created with `latchkeyd init` (admin commands
    /// need an existing one; `serve` then opens it).
    pub fn new() -> Self {
        Self::on(None)
    }

    /// A new world on the PostgreSQL database `url` (every admin command and service gets
    /// `--database url`; the data directory holds `ca.pem` and the key file).
    pub fn on_database(url: &str) -> Self {
        Self::on(Some(url.to_owned()))
    }

    fn on(database: Option<String>) -> Self {
        let world = World {
            root: tempfile::tempdir().expect("temporary directory"),
            database,
        };
        world.admin(&["init"], "").assert_ok();
        world
    }

    /// The `--database` arguments of this world (none on SQLite).
    pub fn database_args(&self) -> Vec<&str> {
        match &self.database {
            Some(url) => vec!["--database", url.as_str()],
            None => vec![],
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    pub fn device_dir(&self, name: &str) -> PathBuf {
        self.root.path().join("devices").join(name)
    }

    /// Starts `latchkeyd serve` on this world's data directory.
    pub fn start_service(&self) -> Service {
        Service::start_with(&self.data_dir(), &self.database_args())
    }

    /// Runs a `latchkeyd` admin subcommand against this world's data directory.
    pub fn admin(&self, args: &[&str], stdin: &str) -> Output {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.push("--data-dir".into());
        all.push(self.data_dir().display().to_string());
        all.extend(self.database_args().iter().map(|a| a.to_string()));
        process::run(&bin("latchkeyd"), &all, stdin, &[])
    }

    /// Creates a user with a password and returns its TOTP generator.
    pub fn add_user(&self, upn: &str, password: &str) -> Totp {
        let out = self.admin(
            &["user", "add", upn, "--password-stdin"],
            &format!("{password}\n"),
        );
        out.assert_ok();
        let uri = out
            .stdout
            .lines()
            .find(|l| l.starts_with("otpauth://"))
            .unwrap_or_else(|| panic!("no otpauth:// line in {}", out.stdout));
        Totp::from_uri(uri)
    }

    /// Runs `latchkey --state-dir DEVICE_DIR args...` with a clean, non-remote environment.
    pub fn device(&self, device: &str, args: &[&str], stdin: &str) -> Output {
        self.device_env(device, args, stdin, &[])
    }

    /// Like [`World::device`] with extra environment variables.
    pub fn device_env(
        &self,
        device: &str,
        args: &[&str],
        stdin: &str,
        env: &[(&str, &str)],
    ) -> Output {
        let mut all = vec![
            "--state-dir".to_string(),
            self.device_dir(device).display().to_string(),
        ];
        all.extend(args.iter().map(|a| a.to_string()));
        process::run(&bin("latchkey"), &all, stdin, env)
    }

    /// The tenant CA certificate the service wrote.
    pub fn ca_file(&self) -> PathBuf {
        self.data_dir().join("ca.pem")
    }
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

/// Every regular file below `dir`, relative, sorted: to assert that nothing was written.
pub fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(base, &path, out);
            } else if let Ok(bytes) = std::fs::read(&path) {
                let rel = path.strip_prefix(base).unwrap().display().to_string();
                out.push((rel, bytes));
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}
