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

    /// One Markdown table row: phase | ops | failed | ops/s | p50 | p99 | max.
    pub fn row(&self) -> String {
        let rate = self.ok as f64 / self.wall.as_secs_f64().max(1e-9);
        let ms = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1000.0);
        format!(
            "| {} | {} | {} | {:.0} | {} | {} | {} |",
            self.name,
            self.ok,
            self.failed,
            rate,
            ms(self.percentile(50.0)),
            ms(self.percentile(99.0)),
            ms(self.percentile(100.0)),
        )
    }

    /// The table header matching [`Summary::row`].
    pub fn header() -> &'static str {
        "| phase | ok | failed | per second | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|---|"
    }
}
