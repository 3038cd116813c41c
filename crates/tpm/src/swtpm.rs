//! A private software TPM for tests (feature `swtpm`): manufactured by `swtpm_setup` with
//! EK and platform certificates from a local CA kept in the test's directory, then run by
//! `swtpm socket` on free loopback ports, and killed on drop.
//!
//! Nothing of the system's swtpm configuration is used: `swtpm_setup.conf`,
//! `swtpm-localca.conf` and `swtpm-localca.options` are written into the directory, so
//! `/var/lib/swtpm-localca` is never read or written. As root, `swtpm_setup` (0.7) runs
//! the simulator as root without `--runas`; as another user it runs as that user.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::da::{set_dictionary_attack_parameters, DaParameters};
use crate::error::TpmError;
use crate::tcti::Tcti;

/// How long `swtpm` may take to listen before [`SwTpm::start`] gives up.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How often the control port is tried while waiting.
const POLL_INTERVAL: Duration = Duration::from_millis(10);
/// How many times a port pair is chosen again when another process took it first.
const PORT_ATTEMPTS: usize = 5;

/// A running swtpm; killed (and reaped) on drop.
#[derive(Debug)]
pub struct SwTpm {
    child: Child,
    port: u16,
    dir: PathBuf,
}

fn harness(detail: impl Into<String>) -> TpmError {
    TpmError::SwTpm {
        detail: detail.into(),
    }
}

impl SwTpm {
    /// Manufacture a TPM in `dir` (which must exist; `dir/state` and `dir/ca` are made)
    /// and start it.
    pub fn start(dir: &Path) -> Result<Self, TpmError> {
        Self::manufacture(dir)?;
        Self::run(dir, true)
    }

    /// Start a TPM 1.2 (`swtpm socket` without `--tpm2`, fresh state in `dir/state`): for
    /// tests that a TPM 1.2 is reported as one and never used.
    pub fn start_tpm12(dir: &Path) -> Result<Self, TpmError> {
        let state = dir.join("state");
        fs::create_dir_all(&state)
            .map_err(|e| harness(format!("create {}: {e}", state.display())))?;
        Self::run(dir, false)
    }

    /// Start, then set the dictionary-attack parameters (tests want small numbers: a fresh
    /// swtpm locks out after 3 failures for 1000 s).
    pub fn start_with_da(dir: &Path, params: DaParameters) -> Result<Self, TpmError> {
        let tpm = Self::start(dir)?;
        set_dictionary_attack_parameters(&tpm.tcti()?, params, &[])?;
        Ok(tpm)
    }

    /// Run `swtpm_setup --tpm2 --create-ek-cert --create-platform-cert --overwrite` with a
    /// private local CA under `dir/ca`.
    fn manufacture(dir: &Path) -> Result<(), TpmError> {
        let state = dir.join("state");
        let ca = dir.join("ca");
        for d in [&state, &ca] {
            fs::create_dir_all(d).map_err(|e| harness(format!("create {}: {e}", d.display())))?;
        }
        let write = |name: &str, text: String| {
            let path = dir.join(name);
            fs::write(&path, text)
                .map_err(|e| harness(format!("write {}: {e}", path.display())))
                .map(|()| path)
        };
        let localca_conf = write(
            "swtpm-localca.conf",
            format!(
                "statedir = {ca}\nsigningkey = {ca}/signkey.pem\nissuercert = {ca}/issuercert.pem\ncertserial = {ca}/certserial\n",
                ca = ca.display()
            ),
        )?;
        let localca_options = write(
            "swtpm-localca.options",
            "--platform-manufacturer Latchkey\n--platform-version 2.1\n--platform-model swtpm-test\n"
                .to_string(),
        )?;
        let setup_conf = write(
            "swtpm_setup.conf",
            format!(
                "create_certs_tool = /usr/bin/swtpm_localca\ncreate_certs_tool_config = {}\ncreate_certs_tool_options = {}\nactive_pcr_banks = sha256\n",
                localca_conf.display(),
                localca_options.display()
            ),
        )?;
        let out = Command::new("swtpm_setup")
            .arg("--tpm2")
            .arg("--tpmstate")
            .arg(&state)
            .arg("--config")
            .arg(&setup_conf)
            .arg("--create-ek-cert")
            .arg("--create-platform-cert")
            .arg("--overwrite")
            // Keep swtpm_setup from reading or creating files under the user's config.
            .env("XDG_CONFIG_HOME", dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| harness(format!("cannot run swtpm_setup: {e}")))?;
        if !out.status.success() {
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            let text: String = text.chars().take(4000).collect();
            return Err(harness(format!(
                "swtpm_setup failed ({}): {text}",
                out.status
            )));
        }
        Ok(())
    }

    /// Start `swtpm socket` (a TPM 2.0 when `tpm2`, else a TPM 1.2) on a free loopback port
    /// pair and wait until it listens.
    fn run(dir: &Path, tpm2: bool) -> Result<Self, TpmError> {
        let mut last = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port_pair()?;
            let log = dir.join("swtpm.log");
            let mut command = Command::new("swtpm");
            command.arg("socket");
            if tpm2 {
                command.arg("--tpm2");
            }
            let mut child = command
                .arg("--server")
                .arg(format!("type=tcp,port={port},bindaddr=127.0.0.1"))
                .arg("--ctrl")
                .arg(format!("type=tcp,port={},bindaddr=127.0.0.1", port + 1))
                .arg("--tpmstate")
                .arg(format!("dir={}", dir.join("state").display()))
                .arg("--flags")
                .arg("not-need-init,startup-clear")
                .arg("--log")
                .arg(format!("file={},level=1", log.display()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| harness(format!("cannot run swtpm: {e}")))?;
            match wait_listening(&mut child, port) {
                Ok(()) => {
                    return Ok(SwTpm {
                        child,
                        port,
                        dir: dir.to_path_buf(),
                    })
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last = format!("{e}; log: {}", read_log(&log));
                }
            }
        }
        Err(harness(format!("swtpm did not start: {last}")))
    }

    /// `swtpm:host=127.0.0.1,port=P`.
    pub fn tcti(&self) -> Result<Tcti, TpmError> {
        Tcti::parse(&format!("swtpm:host=127.0.0.1,port={}", self.port))
    }

    /// The TPM's command port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The local CA's self-signed root certificate (PEM): the "TPM manufacturer root" of
    /// this TPM's EK certificate.
    pub fn manufacturer_root(&self) -> PathBuf {
        self.dir.join("ca").join("swtpm-localca-rootca-cert.pem")
    }

    /// The local CA's intermediate (PEM), which signed the EK certificate.
    pub fn manufacturer_intermediate(&self) -> PathBuf {
        self.dir.join("ca").join("issuercert.pem")
    }

    /// The directory holding the TPM's state.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.join("state")
    }
}

impl Drop for SwTpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_log(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap_or_default()
        .chars()
        .take(2000)
        .collect()
}

/// A port P such that P and P + 1 are both free on 127.0.0.1 right now.
fn free_port_pair() -> Result<u16, TpmError> {
    for _ in 0..50 {
        let first = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| harness(format!("bind: {e}")))?;
        let port = first
            .local_addr()
            .map_err(|e| harness(format!("local_addr: {e}")))?
            .port();
        let Some(next) = port.checked_add(1) else {
            continue;
        };
        if TcpListener::bind((Ipv4Addr::LOCALHOST, next)).is_ok() {
            return Ok(port);
        }
    }
    Err(harness("no free loopback port pair"))
}

/// Poll the control port, then the command port, until each accepts a connection, the
/// child exits, or the bound runs out; then check the child is still the one listening.
/// swtpm opens the control port before the command port, so a client that came as soon as
/// the control port answered could be refused. A probe connection that closes without a
/// command costs the TPM nothing; swtpm takes the next connection after it.
fn wait_listening(child: &mut Child, command_port: u16) -> Result<(), String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    for port in [command_port + 1, command_port] {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("swtpm exited: {status}"));
            }
            if TcpStream::connect_timeout(&addr, POLL_INTERVAL).is_ok() {
                break;
            }
            if Instant::now() >= deadline {
                return Err(format!("port {port} not listening after {READY_TIMEOUT:?}"));
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }
    // A port pair another process took first answers for that process, while this swtpm
    // exits on its failed bind.
    match child.try_wait() {
        Ok(Some(status)) => Err(format!("swtpm exited: {status}")),
        _ => Ok(()),
    }
}
