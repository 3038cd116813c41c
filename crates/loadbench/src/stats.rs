//! Latency samples and their summary.

use std::time::Duration;

/// Latencies of one phase, and its wall time.
pub struct Summary {
    pub name: String,
    pub ok: usize,
    pub failed: usize,
    pub wall: Duration,
    pub latencies: Vec<Duration>,
}

impl Summary {
    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
        sorted[rank.min(sorted.len() - 1)]
    }

    /// [`Summary::row_with_cpu`] without CPU times.
    pub fn row(&self) -> String {
        self.row_with_cpu((None, None))
    }

    /// One Markdown table row: phase | ops | failed | ops/s | p50 | p99 | max | service and
    /// load-generator CPU µs per successful operation, from the CPU time each used during
    /// the phase (see `crate::cpu`).
    pub fn row_with_cpu(&self, (service, bench): (Option<Duration>, Option<Duration>)) -> String {
        let rate = self.ok as f64 / self.wall.as_secs_f64().max(1e-9);
        let ms = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1000.0);
        let per_op = |cpu: Option<Duration>| match cpu {
            Some(cpu) if self.ok > 0 => format!("{:.0}", cpu.as_secs_f64() * 1e6 / self.ok as f64),
            _ => "-".to_owned(),
        };
        format!(
            "| {} | {} | {} | {:.0} | {} | {} | {} | {} | {} |",
            self.name,
            self.ok,
            self.failed,
            rate,
            ms(self.percentile(50.0)),
            ms(self.percentile(99.0)),
            ms(self.percentile(100.0)),
            per_op(service),
            per_op(bench),
        )
    }

    /// The table header matching [`Summary::row`].
    pub fn header() -> &'static str {
        "| phase | ok | failed | per second | p50 ms | p99 ms | max ms | service CPU µs/op | bench CPU µs/op |\n|---|---|---|---|---|---|---|---|---|"
    }
}
