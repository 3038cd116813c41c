//! A throwaway swtpm for integration tests: its own state directory, free loopback ports,
//! readiness by polling the command port (bounded), killed on drop. tpm2-tools run against
//! it through the `swtpm:` TCTI.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running swtpm and the directory its tools work in.
pub struct Swtpm {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

/// Two consecutive free loopback ports (server, control), or `None`.
fn free_port_pair() -> Option<u16> {
    for _ in 0..50 {
        let l = TcpListener::bind("127.0.0.1:0").ok()?;
        let port = l.local_addr().ok()?.port();
        let next = port.checked_add(1)?;
        if TcpListener::bind(("127.0.0.1", next)).is_ok() {
            return Some(port);
        }
    }
    None
}

impl Swtpm {
    /// Start a fresh TPM 2.0 (not manufactured: no EK certificate) and wait until its
    /// command port accepts connections (at most 10 s).
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = dir.path().join("state");
        std::fs::create_dir(&state).expect("state dir");
        for _attempt in 0..5 {
            let port = free_port_pair().expect("free ports");
            let mut child = Command::new("swtpm")
                .arg("socket")
                .arg("--tpm2")
                .arg("--server")
                .arg(format!("type=tcp,port={port},bindaddr=127.0.0.1"))
                .arg("--ctrl")
                .arg(format!("type=tcp,port={},bindaddr=127.0.0.1", port + 1))
                .arg("--tpmstate")
                .arg(format!("dir={}", state.display()))
                .arg("--flags")
                .arg("not-need-init,startup-clear")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("swtpm runs (Debian package swtpm)");
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // lost the port race: try other ports
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Self { child, port, dir };
                }
                assert!(Instant::now() < deadline, "swtpm did not listen in 10 s");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("swtpm did not start on any free port");
    }

    /// The working directory for tool input and output files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A path in the working directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Run a tpm2-tools command in the working directory; returns (success, stderr).
    pub fn try_tool(&self, tool: &str, args: &[&str]) -> (bool, String) {
        let out = Command::new(tool)
            .args(args)
            .current_dir(self.dir())
            .env(
                "TPM2TOOLS_TCTI",
                format!("swtpm:host=127.0.0.1,port={}", self.port),
            )
            .output()
            .expect("tpm2-tools installed");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Run a tpm2-tools command that must succeed, then flush transient objects and
    /// sessions (there is no resource manager between the tools and swtpm).
    pub fn tool(&self, tool: &str, args: &[&str]) {
        let (ok, err) = self.try_tool(tool, args);
        assert!(ok, "{tool} {args:?} failed: {err}");
        self.flush();
    }

    /// Flush transient objects and loaded sessions.
    pub fn flush(&self) {
        for kind in ["-t", "-s"] {
            let (ok, err) = self.try_tool("tpm2_flushcontext", &[kind]);
            assert!(ok, "tpm2_flushcontext {kind}: {err}");
        }
    }

    /// Read a file of the working directory.
    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).expect("tool output")
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
