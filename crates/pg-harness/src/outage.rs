//! Taking a cluster away and bringing it back, for the tests of a service that loses its
//! database (it must answer 503 meanwhile and recover by itself).

use crate::{checked, server_options, HarnessError, PgCluster};

impl PgCluster {
    /// Stops the server with a fast shutdown (open sessions are ended, as when the
    /// database host goes down) and waits until it has stopped.
    pub fn stop(&self) -> Result<(), HarnessError> {
        let data = self.data().to_string_lossy().into_owned();
        checked(
            "pg_ctl stop",
            self.run("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"]),
        )?;
        Ok(())
    }

    /// Starts the stopped server again on the same port and data, and waits until it
    /// answers.
    pub async fn start_again(&self) -> Result<(), HarnessError> {
        let data = self.data().to_string_lossy().into_owned();
        let socket = self.dir().to_string_lossy().into_owned();
        let log = self.dir().join("server.log").to_string_lossy().into_owned();
        let options = server_options(&socket, self.port(), self.durable);
        checked(
            "pg_ctl start",
            self.run(
                "pg_ctl",
                &[
                    "-D", &data, "-l", &log, "-w", "-t", "60", "-o", &options, "start",
                ],
            ),
        )?;
        self.wait_ready().await
    }
}
