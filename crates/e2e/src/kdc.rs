//! A real MIT Kerberos KDC for the PKINIT tests, made from the output of
//! `latchkeyd kerberos kdc-setup` and nothing else.
//!
//! [`Kdc::start`] writes, in its own temporary directory, a kdc.conf that `include`s the
//! setup's kdc.conf fragment unchanged and adds only what a test needs (the database, the
//! stash, a log file, `kdc_listen` / `kdc_tcp_listen` on a free loopback port), a minimal
//! krb5.conf for the KDC's own process, and a client krb5.conf that `include`s the setup's
//! krb5.conf fragment and names the KDC's address. It creates the database
//! (`kdb5_util create -s`), and runs `krb5kdc -n` (foreground). The KDC is stopped when the
//! value is dropped.
//!
//! The KDC reads `pkinit_revoke` (the CRL) when it starts and never again: a refreshed
//! CRL takes effect only after [`Kdc::restart`] (as for an administrator's KDC).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Output;

/// Debian's libfaketime (package faketime).
const FAKETIME_LIB: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// The database master password of the throwaway realm.
const MASTER_PASSWORD: &str = "kdc-master-for-tests";

/// A running `krb5kdc` on loopback.
pub struct Kdc {
    dir: tempfile::TempDir,
    realm: String,
    port: u16,
    clock_ahead_days: Option<u32>,
    child: Option<Child>,
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

impl Kdc {
    /// Sets up and starts a KDC for `realm` from the `kdc-setup` output in `setup_dir`.
    pub fn start(setup_dir: &Path, realm: &str) -> Kdc {
        let dir = tempfile::tempdir().expect("KDC directory");
        let port = free_port();
        let root = dir.path();
        let kdc_conf = format!(
            "include {fragment}\n\
             [kdcdefaults]\n    kdc_ports = {port}\n    kdc_tcp_ports = {port}\n\
             [realms]\n    {realm} = {{\n\
             \x20       key_stash_file = {stash}\n\
             \x20       kdc_listen = 127.0.0.1:{port}\n\
             \x20       kdc_tcp_listen = 127.0.0.1:{port}\n\
             \x20       max_life = 10h\n\
             \x20   }}\n\
             [dbmodules]\n    {realm} = {{\n        database_name = {db}\n    }}\n\
             [logging]\n    kdc = FILE:{log}\n",
            fragment = setup_dir.join("kdc.conf").display(),
            stash = root.join("stash").display(),
            db = root.join("principal").display(),
            log = root.join("kdc.log").display(),
        );
        std::fs::write(root.join("kdc.conf"), kdc_conf).unwrap();
        std::fs::write(
            root.join("kdc-krb5.conf"),
            format!("[libdefaults]\n    default_realm = {realm}\n"),
        )
        .unwrap();
        let client = format!(
            "include {fragment}\n\
             [libdefaults]\n    default_realm = {realm}\n    dns_lookup_kdc = false\n\
             \x20   dns_lookup_realm = false\n    rdns = false\n    udp_preference_limit = 1\n\
             [realms]\n    {realm} = {{\n        kdc = 127.0.0.1:{port}\n    }}\n",
            fragment = setup_dir.join("krb5.conf").display(),
        );
        std::fs::write(root.join("krb5.conf"), client).unwrap();
        let mut kdc = Kdc {
            dir,
            realm: realm.to_owned(),
            port,
            clock_ahead_days: None,
            child: None,
        };
        kdc.server_command("kdb5_util")
            .args(["-r", realm, "create", "-s", "-P", MASTER_PASSWORD])
            .output()
            .map(|o| {
                assert!(
                    o.status.success(),
                    "kdb5_util create: {}",
                    String::from_utf8_lossy(&o.stderr)
                )
            })
            .expect("run kdb5_util (scripts/test.sh installs krb5-kdc)");
        kdc.launch();
        kdc
    }

    /// Like [`Kdc::start`], with the KDC's clock `days` ahead of the machine's (the KDC
    /// runs with libfaketime preloaded, `FAKETIME=+Nd`; only the KDC: the service, the device and
    /// kinit keep the real time). For the test of an expired certificate.
    pub fn start_ahead(setup_dir: &Path, realm: &str, days: u32) -> Kdc {
        let mut kdc = Kdc::start(setup_dir, realm);
        kdc.clock_ahead_days = Some(days);
        kdc.restart();
        kdc
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The KDC's address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The temporary directory (configuration, database, `kdc.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The client krb5.conf (for `KRB5_CONFIG`).
    pub fn client_config(&self) -> PathBuf {
        self.dir.path().join("krb5.conf")
    }

    /// What the KDC logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("kdc.log")).unwrap_or_default()
    }

    /// A command for the KDC side (`kdb5_util`, `kadmin.local`, `krb5kdc`) with the KDC's
    /// profile.
    fn server_command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("KRB5_CONFIG", self.dir.path().join("kdc-krb5.conf"))
            .env("KRB5_KDC_PROFILE", self.dir.path().join("kdc.conf"))
            .env_remove("KRB5CCNAME")
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        cmd
    }

    /// A client command (`kinit`, `klist`, `kvno`) with the client krb5.conf and the
    /// credential cache `ccache`.
    pub fn client_command(&self, program: &str, ccache: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("KRB5_CONFIG", self.client_config())
            .env("KRB5CCNAME", format!("FILE:{}", ccache.display()))
            .env_remove("KRB5_KDC_PROFILE")
            .env_remove("KRB5_TRACE")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `kadmin.local -q QUERY`, asserting success.
    pub fn kadmin(&self, query: &str) -> Output {
        let out = self
            .server_command("kadmin.local")
            .args(["-r", &self.realm, "-q", query])
            .output()
            .expect("run kadmin.local");
        let out = Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        out.assert_ok();
        assert!(
            !out.stderr.contains("error") && !out.stdout.contains("error"),
            "kadmin.local {query}: {out:?}"
        );
        out
    }

    /// Creates a user principal that may sign in only with pre-authentication and has no
    /// password key (`addprinc +requires_preauth -nokey NAME`): PKINIT is its only way in.
    pub fn add_pkinit_user(&self, name: &str) {
        self.kadmin(&format!("addprinc +requires_preauth -nokey {name}"));
    }

    /// Creates a service principal with a random key (`addprinc -randkey NAME`).
    pub fn add_service(&self, name: &str) {
        self.kadmin(&format!("addprinc -randkey {name}"));
    }

    /// `kinit -X X509_user_identity=FILE:CERT,KEY PRINCIPAL` into `ccache`.
    pub fn kinit_file(&self, ccache: &Path, cert: &Path, key: &Path, principal: &str) -> Output {
        self.kinit_file_with(ccache, cert, key, principal, &[])
    }

    /// Like [`Kdc::kinit_file`] with more kinit arguments before the principal (for
    /// example `-X X509_anchors=FILE:...`).
    pub fn kinit_file_with(
        &self,
        ccache: &Path,
        cert: &Path,
        key: &Path,
        principal: &str,
        extra: &[&str],
    ) -> Output {
        let identity = format!(
            "X509_user_identity=FILE:{},{}",
            cert.display(),
            key.display()
        );
        let mut args = vec!["-X", identity.as_str()];
        args.extend_from_slice(extra);
        args.push(principal);
        self.run_client("kinit", ccache, &args)
    }

    /// `kinit -X X509_user_identity=IDENTITY PRINCIPAL` on a pseudo-terminal, the PIN typed
    /// at kinit's own prompt (any prompt containing `PIN`) as a person would
    /// (tests/pkinit/on_a_terminal.py), with `env` added. The transcript is stdout.
    pub fn kinit_on_terminal(
        &self,
        ccache: &Path,
        identity: &str,
        principal: &str,
        pin: &str,
        env: &[(&str, &str)],
    ) -> Output {
        let python = std::env::var("LATCHKEY_PYTHON").unwrap_or_else(|_| "python3".into());
        // Cargo's run-time variable, not `env!`: a test binary built in another checkout
        // that shares the target directory must still find this checkout's script.
        let script = format!(
            "{}/../../tests/pkinit/on_a_terminal.py",
            std::env::var("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into())
        );
        let x = format!("X509_user_identity={identity}");
        let mut cmd = self.client_command(&python, ccache);
        cmd.args([script.as_str(), "PIN", "kinit", "-X", &x, principal])
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("run python3 with pty");
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(format!("{pin}\n").as_bytes()).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs a client program with `args`.
    pub fn run_client(&self, program: &str, ccache: &Path, args: &[&str]) -> Output {
        let out = self
            .client_command(program, ccache)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("run {program} (krb5-user): {e}"));
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Stops the KDC and starts it again on the same port (so it reads the CRL again).
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    fn launch(&mut self) {
        let mut cmd = self.server_command("krb5kdc");
        if let Some(days) = self.clock_ahead_days {
            // libfaketime preloaded into krb5kdc itself (not the `faketime` wrapper, which
            // forks: killing the wrapper would leave the KDC running).
            let lib = Path::new(FAKETIME_LIB);
            assert!(
                lib.is_file(),
                "{FAKETIME_LIB} not found (scripts/test.sh installs faketime)"
            );
            cmd.env("LD_PRELOAD", lib)
                .env("FAKETIME", format!("+{days}d"))
                .env("FAKETIME_DONT_RESET", "1");
        }
        let child = cmd
            .args(["-n", "-r", &self.realm])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run krb5kdc (scripts/test.sh installs krb5-kdc and faketime)");
        self.child = Some(child);
        // The KDC is another process: poll its TCP socket, bounded.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if TcpStream::connect_timeout(&self.addr(), Duration::from_millis(200)).is_ok() {
                break;
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("krb5kdc exited ({status}); log:\n{}", self.log());
                }
            }
            assert!(
                Instant::now() < deadline,
                "krb5kdc did not listen on {}; log:\n{}",
                self.addr(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Kdc {
    fn drop(&mut self) {
        self.stop();
    }
}
