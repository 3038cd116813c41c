//! One cluster for a whole test process, started by the first test that asks for it and
//! stopped when the process ends, however it ends.
//!
//! A static is never dropped, so the cluster's own `Drop` cannot stop it. Instead a
//! watchdog shell reads a pipe whose write end only this process holds: when the process
//! exits (even by `kill -9`), the pipe closes, the watchdog's `cat` returns, and it stops
//! the server (`pg_ctl stop -m immediate`) and removes the cluster's directory.

use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use tokio::sync::OnceCell;

use crate::{HarnessError, PgCluster};

static CLUSTER: OnceCell<PgCluster> = OnceCell::const_new();
/// The watchdog, whose stdin (the pipe) lives as long as the process.
static WATCHDOG: Mutex<Option<Child>> = Mutex::new(None);
static NEXT_DATABASE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

impl PgCluster {
    /// The process's shared cluster, started on first use.
    pub async fn shared() -> Result<&'static PgCluster, HarnessError> {
        CLUSTER
            .get_or_try_init(|| async {
                let cluster = PgCluster::start().await?;
                cluster.watch_parent()?;
                Ok(cluster)
            })
            .await
    }

    /// A fresh, empty database on the process's shared cluster; returns its URL. Each
    /// call makes a new one (`PREFIX_N`), so tests of one process never share data.
    pub async fn fresh_database(prefix: &str) -> Result<String, HarnessError> {
        let cluster = PgCluster::shared().await?;
        let n = NEXT_DATABASE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        cluster.create_database(&format!("{prefix}_{n}")).await
    }

    /// Starts the watchdog that stops this cluster when the process ends.
    fn watch_parent(&self) -> Result<(), HarnessError> {
        let pg_ctl = self.bin.join("pg_ctl");
        let data = self.data();
        let stop = match &self.run_as {
            Some(user) => format!(
                "runuser -u {user} -- {} -D {} -m immediate stop",
                pg_ctl.display(),
                data.display()
            ),
            None => format!(
                "{} -D {} -m immediate stop",
                pg_ctl.display(),
                data.display()
            ),
        };
        let script = format!(
            "cat > /dev/null; {stop} > /dev/null 2>&1; rm -rf {}",
            self.dir().display()
        );
        let child = Command::new("sh")
            .args(["-c", &script])
            .current_dir(self.dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| HarnessError::Command {
                command: "the cluster's watchdog".to_owned(),
                detail: e.to_string(),
            })?;
        *WATCHDOG
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(child);
        Ok(())
    }
}
