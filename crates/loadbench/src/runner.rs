//! Closed-loop and open-loop drivers that time each operation.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::stats::Summary;

/// Runs `op` once per item with `concurrency` operations in flight; returns the summary and
/// the successful results. The first few errors are printed to stderr.
pub async fn closed_loop<T, R, F, Fut>(
    name: &str,
    items: Vec<T>,
    concurrency: usize,
    op: F,
) -> (Summary, Vec<R>)
where
    T: Send + Sync + 'static,
    R: Send + 'static,
    F: Fn(Arc<T>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<R>> + Send,
{
    let items: Arc<Vec<Arc<T>>> = Arc::new(items.into_iter().map(Arc::new).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let op = Arc::new(op);
    let results = Arc::new(Mutex::new((Vec::new(), Vec::new(), 0usize)));
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (items, next, op, results) = (items.clone(), next.clone(), op.clone(), results.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let t0 = Instant::now();
                let outcome = op(item.clone()).await;
                let elapsed = t0.elapsed();
                let mut guard = results.lock().unwrap_or_else(|p| p.into_inner());
                match outcome {
                    Ok(r) => {
                        guard.0.push(elapsed);
                        guard.1.push(r);
                    }
                    Err(e) => {
                        guard.2 += 1;
                        if guard.2 <= 3 {
                            eprintln!("error: {e:#}");
                        }
                    }
                }
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
    let wall = start.elapsed();
    let (latencies, out, failed) =
        std::mem::take(&mut *results.lock().unwrap_or_else(|p| p.into_inner()));
    (
        Summary {
            name: name.to_string(),
            ok: out.len(),
            failed,
            wall,
            latencies,
        },
        out,
    )
}

/// Sends one operation per item at a fixed `rate` per second (open loop), measuring latency
/// from each operation's scheduled start, so a slow service cannot hide queueing delay.
pub async fn open_loop<T, F, Fut>(name: &str, items: Vec<T>, rate: f64, op: F) -> Summary
where
    T: Send + Sync + 'static,
    F: Fn(Arc<T>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let op = Arc::new(op);
    let start = Instant::now();
    let mut handles = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let scheduled = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(scheduled.into()).await;
        let op = op.clone();
        let item = Arc::new(item);
        handles.push(tokio::spawn(async move {
            let outcome = op(item).await;
            (outcome.is_ok(), scheduled.elapsed())
        }));
    }
    let mut latencies = Vec::new();
    let mut failed = 0;
    for h in handles {
        match h.await {
            Ok((true, d)) => latencies.push(d),
            _ => failed += 1,
        }
    }
    Summary {
        name: name.to_string(),
        ok: latencies.len(),
        failed,
        wall: start.elapsed(),
        latencies,
    }
}
