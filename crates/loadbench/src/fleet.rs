//! The service under test: `--replicas` `latchkeyd serve` processes on one data directory
//! and one database, with what each phase reads of them (CPU time, resident memory).

use std::net::{Ipv4Addr, TcpListener};

use anyhow::Result;
use latchkey_e2e::{Service, World};

use crate::cpu;
use crate::rss;
use crate::stats::Summary;
use crate::wire::Pool;

/// The running replicas; each is killed when this is dropped.
pub struct Fleet {
    /// Kept for their `Drop` (which kills the process).
    services: Vec<Service>,
    /// Every replica's base URL, in start order.
    pub urls: Vec<String>,
    pids: Vec<u32>,
    /// The database server's process tree counted with each phase, if it runs here.
    database: Option<u32>,
    memory: rss::Watch,
}

impl Fleet {
    /// Starts `replicas` services on `world` (its data directory holds `ca.pem` and the key
    /// file every replica needs, as in `crates/e2e/tests/postgres.rs`), one after another;
    /// `database` is the postmaster whose CPU each phase also reads.
    ///
    /// One replica listens on a port of its choosing, as before. Several listen on ports
    /// picked here and share one `--public-url` (the first one's address), as replicas
    /// behind a balancer share its name: the URL is the issuer of the tokens they sign and
    /// check, so without it an enrolment token from one replica is refused by the next.
    pub fn start(world: &World, replicas: usize, database: Option<u32>) -> Result<Fleet> {
        let (services, urls): (Vec<Service>, Vec<String>) = if replicas == 1 {
            let service = world.start_service();
            let url = service.url.clone();
            (vec![service], vec![url])
        } else {
            let ports = free_ports(replicas)?;
            let urls: Vec<String> = ports
                .iter()
                .map(|p| format!("https://localhost:{p}"))
                .collect();
            let mut args = world.database_args();
            args.extend(["--public-url", urls[0].as_str()]);
            let services = ports
                .iter()
                .map(|p| {
                    Service::start_on_with(&world.data_dir(), &format!("127.0.0.1:{p}"), &args)
                })
                .collect();
            (services, urls)
        };
        let pids: Vec<u32> = services.iter().map(Service::pid).collect();
        let mut memory = rss::Watch::new(&pids);
        memory.sample("start");
        Ok(Fleet {
            urls,
            services,
            database,
            memory,
            pids,
        })
    }

    /// How many replicas run.
    pub fn replicas(&self) -> usize {
        self.services.len()
    }

    /// CPU times now, to pass to [`Fleet::finish`] at the end of a phase.
    pub fn cpu(&self) -> cpu::Snapshot {
        cpu::Snapshot::take(&self.pids, self.database)
    }

    /// The phase `summary` ended: reads the CPU used since `start` and every replica's
    /// memory; returns the phase's table row and the CPU used.
    pub fn finish(&mut self, summary: &Summary, start: &cpu::Snapshot) -> (String, cpu::Used) {
        let used = start.since(&self.pids, self.database);
        self.memory.sample(&summary.name);
        (summary.row_with_cpu(used.pair()), used)
    }

    /// Reads every replica's memory after a step that is not a table row (seeding).
    pub fn sample_memory(&mut self, step: &str) {
        self.memory.sample(step);
    }

    /// The last notes lines: the replicas' memory and, with several replicas, how the lean
    /// client `wire` spread its requests over them.
    pub fn closing_notes(&self, wire: &Pool) -> Vec<String> {
        let mut notes = vec![self.memory.note()];
        if self.replicas() > 1 {
            let spread: Vec<String> = wire
                .spread()
                .iter()
                .enumerate()
                .map(|(i, (requests, conns))| {
                    format!("replica {}: {requests} over {conns} connections", i + 1)
                })
                .collect();
            notes.push(format!(
                "timed requests per replica (each request to the next replica in turn): {}",
                spread.join("; ")
            ));
        }
        notes
    }
}

/// `n` distinct ports free on 127.0.0.1 at this moment (held together while picked, then
/// released for the replicas to bind).
fn free_ports(n: usize) -> Result<Vec<u16>> {
    let probes = (0..n)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<std::io::Result<Vec<_>>>()?;
    Ok(probes
        .iter()
        .map(|p| p.local_addr().map(|a| a.port()))
        .collect::<std::io::Result<Vec<_>>>()?)
}
