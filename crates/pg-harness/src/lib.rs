//! A throwaway PostgreSQL 15 cluster for tests.
//!
//! [`PgCluster::start`] runs `initdb` into a temporary directory, starts the server with
//! `pg_ctl` listening only on `127.0.0.1` on a free port (its Unix socket in the temporary
//! directory too), waits until a connection answers `SELECT 1`, creates the database
//! [`DATABASE`] and hands back its `postgres://` URL. Dropping the cluster stops it
//! (`pg_ctl stop -m fast`) and removes the directory.
//!
//! The binaries come from `/usr/local/bin` when `initdb` is there, else from Debian's
//! `/usr/lib/postgresql/15/bin` (package `postgresql-15`). PostgreSQL refuses to run as
//! root: when the effective uid is 0 the cluster runs as the system user [`RUN_AS`]
//! (created with `useradd` when missing), which owns the temporary directory, through
//! `runuser`.
//!
//! The cluster is for tests only: authentication is `trust` for the superuser `postgres`,
//! and `fsync` is off (a crash of the machine loses it, which a throwaway cluster may).
#![forbid(unsafe_code)]

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};

mod outage;
mod shared;
mod tls;

pub use tls::foreign_ca;

/// Where the PostgreSQL binaries are looked for, in order.
pub const BIN_DIRS: &[&str] = &["/usr/local/bin", "/usr/lib/postgresql/15/bin"];
/// The unprivileged system user the cluster runs as when the tests run as root.
pub const RUN_AS: &str = "latchkey-test";
/// The database [`PgCluster::url`] names.
pub const DATABASE: &str = "latchkey";
/// The superuser of the cluster.
pub const SUPERUSER: &str = "postgres";
/// How long the server may take to accept connections.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How many free ports are tried when another process takes the one picked first.
const PORT_ATTEMPTS: usize = 5;

/// Why a cluster could not be started or used.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// Neither binary directory has `initdb`, `pg_ctl` and `postgres`.
    #[error(
        "LK-PGH-001: no PostgreSQL binaries in {dirs:?} (install the Debian package \
         postgresql-15)"
    )]
    NoBinaries {
        /// The directories looked in.
        dirs: Vec<String>,
    },
    /// A command could not be run, or failed.
    #[error("LK-PGH-002: {command} failed: {detail}")]
    Command {
        /// The command.
        command: String,
        /// Its exit status and output, or why it could not start.
        detail: String,
    },
    /// The temporary directory could not be made or handed to the cluster's user.
    #[error("LK-PGH-003: the cluster directory: {0}")]
    Io(#[from] std::io::Error),
    /// The server did not answer `SELECT 1` within [`READY_TIMEOUT`].
    #[error("LK-PGH-004: PostgreSQL on port {port} not ready after {READY_TIMEOUT:?}: {last}")]
    NotReady {
        /// The port.
        port: u16,
        /// The last connection error.
        last: String,
    },
    /// A query through the superuser connection failed.
    #[error("LK-PGH-005: {0}")]
    Database(#[from] sqlx::Error),
    /// A database name other than lower-case letters, digits and `_` (at most 63).
    #[error("LK-PGH-006: invalid database name {0:?}")]
    BadName(String),
}

/// A running throwaway cluster; stopped and removed on drop.
#[derive(Debug)]
pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    run_as: Option<String>,
    port: u16,
    /// Whether the server syncs its commits to disk (see [`PgCluster::start_durable`]).
    durable: bool,
}

impl PgCluster {
    /// Creates, starts and waits for a cluster, and creates the database [`DATABASE`].
    pub async fn start() -> Result<PgCluster, HarnessError> {
        Self::start_prepared(false, |_| Ok(())).await
    }

    /// Creates a cluster, runs `prepare` on it before its first start, starts it, waits
    /// for it and creates the database [`DATABASE`].
    async fn start_prepared(durable: bool, prepare: Prepare) -> Result<PgCluster, HarnessError> {
        let started = tokio::task::spawn_blocking(move || start_blocking_with(durable, prepare))
            .await
            .map_err(|e| HarnessError::Command {
                command: "starting the cluster".to_owned(),
                detail: e.to_string(),
            })??;
        started.wait_ready().await?;
        started.create_database(DATABASE).await?;
        Ok(started)
    }

    /// Like [`PgCluster::start`], but the server syncs every commit to disk, as a
    /// production server does (for benchmarks that compare with SQLite's
    /// `synchronous=FULL`).
    pub async fn start_durable() -> Result<PgCluster, HarnessError> {
        Self::start_prepared(true, |_| Ok(())).await
    }

    /// The loopback port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of the database [`DATABASE`] (superuser, no password).
    pub fn url(&self) -> String {
        self.url_of(DATABASE)
    }

    /// The URL of the database `name` on this cluster.
    pub fn url_of(&self, name: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{name}", self.port)
    }

    /// The cluster's directory (data directory, socket, server log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server log so far (for a test's failure message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Creates an empty database `name` (lower-case letters, digits, `_`) and returns its
    /// URL: one cluster can give each test a fresh database.
    pub async fn create_database(&self, name: &str) -> Result<String, HarnessError> {
        let valid = !name.is_empty()
            && name.len() <= 63
            && name
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_');
        if !valid {
            return Err(HarnessError::BadName(name.to_owned()));
        }
        let mut conn = PgConnection::connect(&self.url_of(SUPERUSER)).await?;
        // The name was checked above: an identifier cannot be bound as a parameter.
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        Ok(self.url_of(name))
    }

    /// Polls a connection to the server until `SELECT 1` answers.
    async fn wait_ready(&self) -> Result<(), HarnessError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut pause = Duration::from_millis(5);
        loop {
            let last = match PgConnection::connect(&self.url_of(SUPERUSER)).await {
                Ok(mut conn) => match sqlx::query_scalar::<_, i32>("SELECT 1")
                    .fetch_one(&mut conn)
                    .await
                {
                    Ok(1) => return Ok(()),
                    Ok(other) => format!("SELECT 1 answered {other}"),
                    Err(e) => e.to_string(),
                },
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                return Err(HarnessError::NotReady {
                    port: self.port,
                    last,
                });
            }
            // Polling the server's own answer, backing off up to 100 ms.
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    /// Runs a PostgreSQL binary as the cluster's user.
    fn run(&self, program: &str, args: &[&str]) -> Result<Output, HarnessError> {
        run(
            &self.bin,
            self.run_as.as_deref(),
            self.dir.path(),
            program,
            args,
        )
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Hands `path` (written by this process) to the cluster's user, as the server needs
    /// for its own files.
    fn give(&self, path: &Path) -> Result<(), HarnessError> {
        if let Some(user) = &self.run_as {
            let (uid, gid) = ids_of(user)?;
            std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
        }
        Ok(())
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data();
        let data = data.to_string_lossy();
        // A failure here leaves a server that the directory's removal then stops.
        let _ = self.run("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"]);
    }
}

/// What is done to a new cluster between `initdb` and its first start.
type Prepare = fn(&PgCluster) -> Result<(), HarnessError>;

/// Creates a cluster, runs `prepare` on it between `initdb` and the first start (to write
/// settings and files into its data directory), and starts it.
fn start_blocking_with(durable: bool, prepare: Prepare) -> Result<PgCluster, HarnessError> {
    let bin = bin_dir()?;
    let run_as = if rustix::process::geteuid().is_root() {
        Some(ensure_user()?)
    } else {
        None
    };
    let dir = tempfile::Builder::new().prefix("latchkey-pg-").tempdir()?;
    if let Some(user) = &run_as {
        let (uid, gid) = ids_of(user)?;
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))?;
    }
    let mut cluster = PgCluster {
        dir,
        bin,
        run_as,
        port: 0,
        durable,
    };
    let data = cluster.data().to_string_lossy().into_owned();
    checked(
        "initdb",
        cluster.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
                "--no-instructions",
            ],
        ),
    )?;
    prepare(&cluster)?;
    let socket = cluster.dir.path().to_string_lossy().into_owned();
    let log = cluster.dir.path().join("server.log");
    let log = log.to_string_lossy().into_owned();
    let mut last = String::new();
    for _ in 0..PORT_ATTEMPTS {
        let port = free_port()?;
        let options = server_options(&socket, port, cluster.durable);
        let started = cluster.run(
            "pg_ctl",
            &[
                "-D", &data, "-l", &log, "-w", "-t", "60", "-o", &options, "start",
            ],
        )?;
        if started.status.success() {
            cluster.port = port;
            return Ok(cluster);
        }
        // Another process may have taken the port between the probe and the start.
        last = describe(&started);
    }
    Err(HarnessError::Command {
        command: "pg_ctl start".to_owned(),
        detail: format!("{last}\n{}", cluster.log()),
    })
}

/// The server's settings: loopback on `port`, its socket in `socket`, room for many pools,
/// and, unless `durable`, no durability (a throwaway cluster).
fn server_options(socket: &str, port: u16, durable: bool) -> String {
    let durability = if durable {
        "-c fsync=on -c synchronous_commit=on -c full_page_writes=on"
    } else {
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    };
    format!(
        "-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={socket} \
         {durability} -c max_connections=200"
    )
}

fn bin_dir() -> Result<PathBuf, HarnessError> {
    BIN_DIRS
        .iter()
        .map(PathBuf::from)
        .find(|d| {
            ["initdb", "pg_ctl", "postgres"]
                .iter()
                .all(|b| d.join(b).is_file())
        })
        .ok_or_else(|| HarnessError::NoBinaries {
            dirs: BIN_DIRS.iter().map(|d| (*d).to_owned()).collect(),
        })
}

/// A port free on 127.0.0.1 at this moment.
fn free_port() -> Result<u16, HarnessError> {
    let probe = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(probe.local_addr()?.port())
}

/// Makes sure the system user [`RUN_AS`] exists. Clusters started at once in this process
/// take turns; `useradd` of another process holding the password-file lock is tried again.
fn ensure_user() -> Result<String, HarnessError> {
    static CREATING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = CREATING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut last = String::new();
    for _ in 0..20 {
        if ids_of(RUN_AS).is_ok() {
            return Ok(RUN_AS.to_owned());
        }
        let made = output(
            Command::new("useradd")
                .args([
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                ])
                .arg(RUN_AS),
            "useradd",
        )?;
        if made.status.success() {
            return Ok(RUN_AS.to_owned());
        }
        last = describe(&made);
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(HarnessError::Command {
        command: format!("useradd {RUN_AS}"),
        detail: last,
    })
}

/// The uid and gid of `user`.
fn ids_of(user: &str) -> Result<(u32, u32), HarnessError> {
    let id = |flag: &str| -> Result<u32, HarnessError> {
        let out = checked("id", output(Command::new("id").arg(flag).arg(user), "id"))?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|e: std::num::ParseIntError| HarnessError::Command {
                command: format!("id {flag} {user}"),
                detail: e.to_string(),
            })
    };
    Ok((id("-u")?, id("-g")?))
}

fn run(
    bin: &Path,
    run_as: Option<&str>,
    cwd: &Path,
    program: &str,
    args: &[&str],
) -> Result<Output, HarnessError> {
    let path = bin.join(program);
    let mut cmd = match run_as {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--"]).arg(&path);
            c
        }
        None => Command::new(&path),
    };
    // A directory the cluster's user can enter (it cannot enter the caller's, e.g. /root).
    cmd.args(args).current_dir(cwd).env("LC_ALL", "C");
    output(&mut cmd, program)
}

fn output(cmd: &mut Command, name: &str) -> Result<Output, HarnessError> {
    cmd.output().map_err(|e| HarnessError::Command {
        command: name.to_owned(),
        detail: e.to_string(),
    })
}

fn checked(name: &str, out: Result<Output, HarnessError>) -> Result<Output, HarnessError> {
    let out = out?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(HarnessError::Command {
            command: name.to_owned(),
            detail: describe(&out),
        })
    }
}

fn describe(out: &Output) -> String {
    format!(
        "{}: {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
