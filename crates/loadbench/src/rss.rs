//! Resident memory of the service replicas, read from `/proc/PID/status` after each phase.
//!
//! `VmRSS` is what a process holds resident at the moment of reading, `VmHWM` the most it
//! ever held (the kernel's high-water mark, so a peak between two readings is not missed).

/// `VmRSS` and `VmHWM` of `pid` in KiB, if readable.
pub fn read(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line.get(name.len()..)?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// The largest `VmRSS` read of each replica so far (with the phase after which it was
/// read) and its latest `VmHWM`.
pub struct Watch {
    /// Per replica: (pid, peak VmRSS KiB, the phase of that peak, VmHWM KiB).
    replicas: Vec<(u32, u64, String, u64)>,
}

impl Watch {
    /// Watches the processes `pids`.
    pub fn new(pids: &[u32]) -> Watch {
        Watch {
            replicas: pids.iter().map(|&p| (p, 0, String::new(), 0)).collect(),
        }
    }

    /// Reads every replica now, after `phase`.
    pub fn sample(&mut self, phase: &str) {
        for (pid, peak, at, hwm) in &mut self.replicas {
            if let Some((rss, high)) = read(*pid) {
                if rss > *peak {
                    *peak = rss;
                    *at = phase.to_owned();
                }
                *hwm = high;
            }
        }
    }

    /// The notes line: each replica's peak VmRSS after a phase, and its VmHWM.
    pub fn note(&self) -> String {
        let mb = |kib: u64| kib as f64 / 1024.0;
        let each: Vec<String> = self
            .replicas
            .iter()
            .enumerate()
            .map(|(i, (_, peak, at, hwm))| {
                let who = if self.replicas.len() > 1 {
                    format!("replica {}: ", i + 1)
                } else {
                    String::new()
                };
                format!(
                    "{who}{:.1} MB after \"{at}\", VmHWM {:.1} MB",
                    mb(*peak),
                    mb(*hwm)
                )
            })
            .collect();
        format!(
            "service memory (VmRSS read after each phase, the peak; VmHWM at the end): {}",
            each.join("; ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let (rss, hwm) = read(std::process::id()).expect("/proc/self/status");
        assert!(rss > 0 && hwm >= rss, "{rss} {hwm}");
        assert!(read(u32::MAX).is_none());
        let mut watch = Watch::new(&[std::process::id()]);
        watch.sample("start");
        assert!(watch.note().contains("after \"start\""), "{}", watch.note());
    }
}
