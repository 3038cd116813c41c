//! Running the real binaries: one-shot commands and the long-running service.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Where the binaries under test are: `LATCHKEY_BIN_DIR`, else the directory above the test
/// executable's `deps/` (Cargo's layout).
pub fn bin(name: &str) -> PathBuf {
    let dir = match std::env::var_os("LATCHKEY_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let exe = std::env::current_exe().expect("test executable path");
            exe.parent()
                .and_then(Path::parent)
                .expect("target directory")
                .to_path_buf()
        }
    };
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} not found: build the binaries first (`cargo build --workspace --bins`, as scripts/test.sh does) or set LATCHKEY_BIN_DIR",
        path.display()
    );
    path
}

/// What a finished command printed, and how it exited.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Panics with everything printed unless the command succeeded.
    pub fn assert_ok(&self) -> &Self {
        assert_eq!(
            self.code, 0,
            "command failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Asserts the command failed and reported `code` (e.g. `LK-KEY-001`) on stderr.
    pub fn assert_error(&self, code: &str) -> &Self {
        assert_ne!(
            self.code, 0,
            "command unexpectedly succeeded\nstdout:\n{}",
            self.stdout
        );
        assert!(
            self.stderr.contains(code),
            "expected error {code}, got exit {}\nstderr:\n{}\nstdout:\n{}",
            self.code,
            self.stderr,
            self.stdout
        );
        self
    }

    /// Parses stdout as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// Runs `program args` with `stdin`, in an environment without SSH markers (a local
/// session), plus `env`.
pub fn run(program: &Path, args: &[String], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_remove("SSH_CONNECTION")
        .env_remove("SSH_CLIENT")
        .env_remove("SSH_TTY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()));
    // A command that refuses before reading its input exits and closes the pipe: that is
    // its answer, not a harness failure.
    if let Err(e) = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
    {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "write stdin: {e}");
    }
    let out = child.wait_with_output().expect("wait");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A running `latchkeyd serve`; killed when dropped.
pub struct Service {
    child: Child,
    data_dir: PathBuf,
    /// Base URL, e.g. `https://localhost:41234`.
    pub url: String,
    /// Everything the service printed on stdout up to and including its listening line.
    pub banner: Vec<String>,
}

impl Service {
    /// The service's process id (for the load benchmark's CPU accounting).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts the service on a free port.
    pub fn start(data_dir: &Path) -> Service {
        Self::start_on(data_dir, "127.0.0.1:0")
    }

    /// Starts the service on a free port with extra `serve` arguments.
    pub fn start_with(data_dir: &Path, args: &[&str]) -> Service {
        Self::spawn_with(data_dir, "127.0.0.1:0", Stdio::inherit(), args, &[])
    }

    /// Starts the service on a free port with its standard error (its log) written to
    /// `log`, so a test can read what it logged.
    pub fn start_logged(data_dir: &Path, log: &Path) -> Service {
        let file = std::fs::File::create(log).expect("create the service log");
        Self::spawn(data_dir, "127.0.0.1:0", Stdio::from(file))
    }

    /// [`Service::start_logged`] with extra `serve` arguments and environment variables
    /// (e.g. `RUST_LOG`, `--log-format json`).
    pub fn start_logged_with(
        data_dir: &Path,
        log: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Service {
        let file = std::fs::File::create(log).expect("create the service log");
        Self::spawn_with(data_dir, "127.0.0.1:0", Stdio::from(file), args, env)
    }

    /// Starts the service listening on `listen` (e.g. `0.0.0.0:0`).
    pub fn start_on(data_dir: &Path, listen: &str) -> Service {
        Self::spawn(data_dir, listen, Stdio::inherit())
    }

    /// [`Service::start_on`] with extra `serve` arguments (e.g. `--database URL`).
    pub fn start_on_with(data_dir: &Path, listen: &str, args: &[&str]) -> Service {
        Self::spawn_with(data_dir, listen, Stdio::inherit(), args, &[])
    }

    fn spawn(data_dir: &Path, listen: &str, stderr: Stdio) -> Service {
        Self::spawn_with(data_dir, listen, stderr, &[], &[])
    }

    fn spawn_with(
        data_dir: &Path,
        listen: &str,
        stderr: Stdio,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Service {
        let mut child = Command::new(bin("latchkeyd"))
            .args(["serve", "--data-dir"])
            .arg(data_dir)
            .args(["--listen", listen])
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn latchkeyd");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    // Keep draining so the service never blocks on a full pipe.
                    continue;
                }
            }
        });
        let mut banner = Vec::new();
        let url = loop {
            // Observing the service's own "listening" line; the timeout only bounds a hang.
            let line = rx
                .recv_timeout(Duration::from_secs(120))
                .unwrap_or_else(|_| {
                    panic!("latchkeyd did not report listening; printed: {banner:?}")
                });
            banner.push(line.clone());
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.trim().to_string();
            }
        };
        Service {
            child,
            data_dir: data_dir.to_path_buf(),
            url,
            banner,
        }
    }

    /// The `address:port` the service listens on (its URL names `localhost` for the
    /// loopback address the harness listens on).
    pub fn addr(&self) -> String {
        let host_port = self.url.split("://").nth(1).expect("scheme");
        match host_port.strip_prefix("localhost:") {
            Some(port) => format!("127.0.0.1:{port}"),
            None => host_port.to_string(),
        }
    }

    /// Stops the service and starts it again on the same port and data directory.
    pub fn restart(mut self) -> Service {
        let addr = self.addr();
        let data_dir = self.data_dir.clone();
        self.stop();
        Self::start_on(&data_dir, &addr)
    }

    /// Sends SIGTERM, as systemd and `kill` do, and waits (at most a minute) for the
    /// service to exit; its exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for latchkeyd") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "latchkeyd did not exit within a minute of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the service with SIGKILL (`kill -9`: no shutdown, no flush) and reaps it.
    pub fn kill(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}
