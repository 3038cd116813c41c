//! CPU time of the service and of the load generator, read from `/proc/PID/stat`.
//!
//! Throughput on a shared 2-core VM moves with the neighbours; the CPU time an operation
//! costs moves much less, so each phase also reports it per operation.

use std::time::Duration;

/// Linux reports `utime` and `stime` in clock ticks of 1/100 s (`USER_HZ`, fixed at 100 on
/// every mainstream architecture).
const TICKS_PER_SECOND: u64 = 100;

/// CPU time used so far by the process `pid` (user + system, all threads), if readable.
pub fn used(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name, field 3 (state) is index 0, so utime (14) and stime (15) are 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis(
        (utime + stime) * 1000 / TICKS_PER_SECOND,
    ))
}

/// The CPU time of the service and of this process at one moment.
#[derive(Clone, Copy)]
pub struct Snapshot {
    service: Option<Duration>,
    bench: Option<Duration>,
}

impl Snapshot {
    /// Reads both now.
    pub fn take(service_pid: u32) -> Snapshot {
        Snapshot {
            service: used(service_pid),
            bench: used(std::process::id()),
        }
    }

    /// CPU time used since `self` by the service and by the load generator.
    pub fn since(&self, service_pid: u32) -> (Option<Duration>, Option<Duration>) {
        let now = Snapshot::take(service_pid);
        let diff = |a: Option<Duration>, b: Option<Duration>| Some(b?.saturating_sub(a?));
        (diff(self.service, now.service), diff(self.bench, now.bench))
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
    }
}
