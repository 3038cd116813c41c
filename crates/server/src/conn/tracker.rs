//! The table of open connections: admission under the cap, eviction of the oldest
//! connection that is not in the middle of a request, and the idle sweep.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// One open connection as the table sees it.
#[derive(Debug)]
pub(crate) struct ConnState {
    /// Requests in progress (from the end of their headers to their response).
    busy: AtomicUsize,
    /// When the last request ended, or when the connection was accepted.
    idle_since: Mutex<Instant>,
    /// Told when the table closes this connection (eviction, idle sweep).
    kill: Notify,
}

impl ConnState {
    fn new(now: Instant) -> ConnState {
        ConnState {
            busy: AtomicUsize::new(0),
            idle_since: Mutex::new(now),
            kill: Notify::new(),
        }
    }

    /// Resolves when the table wants this connection closed.
    pub(crate) async fn killed(&self) {
        self.kill.notified().await;
    }

    /// Marks a request as started; the returned guard marks it ended when dropped.
    pub(crate) fn request(self: &Arc<Self>) -> RequestGuard {
        self.busy.fetch_add(1, Ordering::SeqCst);
        RequestGuard(self.clone())
    }

    fn idle_for(&self, now: Instant) -> Option<Duration> {
        if self.busy.load(Ordering::SeqCst) > 0 {
            return None;
        }
        Some(now.saturating_duration_since(*lock(&self.idle_since)))
    }
}

/// A request in progress on a connection.
#[derive(Debug)]
pub(crate) struct RequestGuard(Arc<ConnState>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        *lock(&self.0.idle_since) = Instant::now();
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    /// Served connections by admission order (oldest first).
    live: BTreeMap<u64, Arc<ConnState>>,
    /// Connections being answered 503 because every served one was busy.
    rejecting: usize,
}

/// The connection table of one listener.
#[derive(Debug)]
pub(crate) struct Tracker {
    cap: usize,
    reject_slots: usize,
    inner: Mutex<Inner>,
}

/// What to do with a newly accepted connection.
#[derive(Debug)]
pub(crate) enum Admission {
    /// Serve it; dropping the ticket frees its place.
    Serve(Ticket),
    /// Answer its requests 503 LK-HTTP-004 and close it; dropping the ticket frees the slot.
    Reject(RejectTicket),
    /// Close it at once: the cap and the reject slots are all taken.
    Refuse,
}

/// A served connection's place in the table.
#[derive(Debug)]
pub(crate) struct Ticket {
    id: u64,
    /// The connection's state.
    pub state: Arc<ConnState>,
    tracker: Arc<Tracker>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        lock(&self.tracker.inner).live.remove(&self.id);
    }
}

/// A reject slot.
#[derive(Debug)]
pub(crate) struct RejectTicket(Arc<Tracker>);

impl Drop for RejectTicket {
    fn drop(&mut self) {
        let mut inner = lock(&self.0.inner);
        inner.rejecting = inner.rejecting.saturating_sub(1);
    }
}

impl Tracker {
    /// A table serving at most `cap` connections (at least 1), with `reject_slots` more
    /// for 503 answers.
    pub(crate) fn new(cap: usize, reject_slots: usize) -> Arc<Tracker> {
        Arc::new(Tracker {
            cap: cap.max(1),
            reject_slots,
            inner: Mutex::new(Inner::default()),
        })
    }

    /// Admits a new connection: under the cap it is served; at the cap the oldest
    /// connection with no request in progress is closed to make room; when every
    /// connection is busy it gets a reject slot, or is refused.
    pub(crate) fn admit(self: &Arc<Self>) -> Admission {
        let now = Instant::now();
        let mut inner = lock(&self.inner);
        if inner.live.len() >= self.cap {
            let victim = inner
                .live
                .iter()
                .find(|(_, c)| c.busy.load(Ordering::SeqCst) == 0)
                .map(|(id, _)| *id);
            match victim.and_then(|id| inner.live.remove(&id)) {
                Some(conn) => {
                    tracing::debug!("connection cap reached: closing the oldest idle one");
                    conn.kill.notify_one();
                }
                None if inner.rejecting < self.reject_slots => {
                    inner.rejecting += 1;
                    return Admission::Reject(RejectTicket(self.clone()));
                }
                None => return Admission::Refuse,
            }
        }
        let id = inner.next_id;
        inner.next_id += 1;
        let state = Arc::new(ConnState::new(now));
        inner.live.insert(id, state.clone());
        Admission::Serve(Ticket {
            id,
            state,
            tracker: self.clone(),
        })
    }

    /// Closes every connection with no request in progress for `idle` or longer; returns
    /// how many.
    pub(crate) fn sweep(&self, idle: Duration) -> usize {
        let now = Instant::now();
        let mut inner = lock(&self.inner);
        let stale: Vec<u64> = inner
            .live
            .iter()
            .filter(|(_, c)| c.idle_for(now).is_some_and(|d| d >= idle))
            .map(|(id, _)| *id)
            .collect();
        for id in &stale {
            if let Some(conn) = inner.live.remove(id) {
                conn.kill.notify_one();
            }
        }
        stale.len()
    }

    /// Connections served now.
    #[cfg(test)]
    pub(crate) fn live(&self) -> usize {
        lock(&self.inner).live.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(a: Admission) -> Ticket {
        match a {
            Admission::Serve(t) => t,
            other => panic!("expected Serve, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn at_the_cap_the_oldest_idle_connection_makes_room() {
        let t = Tracker::new(2, 1);
        let a = served(t.admit());
        let b = served(t.admit());
        let _busy = a.state.request();
        let c = served(t.admit());
        // `a` is busy, so `b` (the oldest idle) was closed.
        assert_eq!(t.live(), 2);
        tokio::time::timeout(Duration::from_secs(1), b.state.killed())
            .await
            .expect("b was told to close");
        drop(b);
        assert_eq!(t.live(), 2, "dropping an evicted ticket leaves the others");
        let _busy_c = c.state.request();
        // Both busy: one reject slot, then refusal.
        let r = t.admit();
        assert!(matches!(r, Admission::Reject(_)), "{r:?}");
        assert!(matches!(t.admit(), Admission::Refuse));
        drop(r);
        assert!(matches!(t.admit(), Admission::Reject(_)));
    }

    #[tokio::test(start_paused = true)]
    async fn the_sweep_closes_only_connections_idle_long_enough() {
        let t = Tracker::new(10, 0);
        let idle = served(t.admit());
        let busy = served(t.admit());
        let _req = busy.state.request();
        tokio::time::advance(Duration::from_secs(5)).await;
        let fresh = served(t.admit());
        assert_eq!(t.sweep(Duration::from_secs(5)), 1);
        tokio::time::timeout(Duration::from_secs(1), idle.state.killed())
            .await
            .expect("idle was told to close");
        assert_eq!(t.live(), 2);
        drop(fresh);
        assert_eq!(t.live(), 1);
    }
}
