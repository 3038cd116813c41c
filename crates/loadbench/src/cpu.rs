//! CPU time of the service replicas, of the load generator and (when it runs here) of the
//! PostgreSQL server, read from `/proc/PID/stat`.
//!
//! Throughput on a shared 2-core VM moves with the neighbours; the CPU time an operation
//! costs moves much less, so each phase also reports it per operation. With several
//! replicas the service's CPU is the sum over all of them.

use std::time::Duration;

/// Linux reports `utime` and `stime` in clock ticks of 1/100 s (`USER_HZ`, fixed at 100 on
/// every mainstream architecture).
const TICKS_PER_SECOND: u64 = 100;

/// The fields of `/proc/PID/stat` after the command name: index 0 is field 3 (state).
fn stat_fields(pid: u32) -> Option<Vec<u64>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    // Field 3 (the state) is a letter; every later field used here is a number.
    Some(
        rest.split_whitespace()
            .skip(1)
            .map(|f| f.parse().unwrap_or(0))
            .collect(),
    )
}

/// Ticks as a duration.
fn ticks(n: u64) -> Duration {
    Duration::from_millis(n * 1000 / TICKS_PER_SECOND)
}

/// CPU time used so far by the process `pid` (user + system, all threads), if readable.
pub fn used(pid: u32) -> Option<Duration> {
    // After the state: ppid is index 0, utime (field 14) index 10, stime (15) index 11.
    let f = stat_fields(pid)?;
    Some(ticks(f.get(10)? + f.get(11)?))
}

/// CPU time used so far by `pid`, its reaped children (`cutime`, `cstime`) and its live
/// children with theirs: a PostgreSQL postmaster and its backends. A backend that exits
/// between two readings moves from the live children into the parent's `cutime`, so it is
/// counted once either way.
pub fn tree_used(pid: u32) -> Option<Duration> {
    let with_children = |f: &[u64]| -> u64 { f.iter().skip(10).take(4).sum() };
    let mut total = with_children(&stat_fields(pid)?);
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(f) = stat_fields(child) {
            if f.first() == Some(&u64::from(pid)) {
                total += with_children(&f);
            }
        }
    }
    Some(ticks(total))
}

/// The CPU time of the service replicas, of this process and of the database at one
/// moment.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// Summed over every replica; `None` when one of them could not be read.
    service: Option<Duration>,
    bench: Option<Duration>,
    database: Option<Duration>,
}

/// CPU time used between a [`Snapshot`] and now.
#[derive(Clone, Copy, Debug)]
pub struct Used {
    /// By all the service's replicas together.
    pub service: Option<Duration>,
    /// By the load generator.
    pub bench: Option<Duration>,
    /// By the PostgreSQL server (postmaster and backends), when it runs on this machine
    /// under the benchmark (`None` on SQLite or an external server).
    pub database: Option<Duration>,
}

impl Used {
    /// The service and load-generator times, as the table rows take them.
    pub fn pair(&self) -> (Option<Duration>, Option<Duration>) {
        (self.service, self.bench)
    }
}

impl Snapshot {
    /// Reads every replica in `service_pids`, this process and the database process tree
    /// `database` now.
    pub fn take(service_pids: &[u32], database: Option<u32>) -> Snapshot {
        Snapshot {
            service: service_pids.iter().map(|&p| used(p)).sum(),
            bench: used(std::process::id()),
            database: database.and_then(tree_used),
        }
    }

    /// CPU time used since `self` (taken with the same pids).
    pub fn since(&self, service_pids: &[u32], database: Option<u32>) -> Used {
        let now = Snapshot::take(service_pids, database);
        let diff = |a: Option<Duration>, b: Option<Duration>| Some(b?.saturating_sub(a?));
        Used {
            service: diff(self.service, now.service),
            bench: diff(self.bench, now.bench),
            database: diff(self.database, now.database),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process_and_sees_it_work() {
        let before = used(std::process::id()).expect("/proc/self/stat");
        // Work until the kernel has counted a tick more (bounded, should the count be stuck).
        let mut x = 0u64;
        let start = std::time::Instant::now();
        let mut after = before;
        while after == before && start.elapsed() < Duration::from_secs(30) {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
            after = used(std::process::id()).expect("/proc/self/stat");
        }
        assert!(after > before, "{before:?} -> {after:?}");
        assert!(used(u32::MAX).is_none());
        assert!(tree_used(std::process::id()).expect("the tree") >= after);
        let me = [std::process::id()];
        let snap = Snapshot::take(&me, None);
        assert!(snap.since(&me, None).database.is_none());
        assert!(Snapshot::take(&[std::process::id(), u32::MAX], None)
            .service
            .is_none());
    }
}
