//! What the process's servers are doing, for monitoring: connections accepted and refused (two relaxed counters on the serving
//! thread), and the readiness mode's connections and workers, read from the live sets when asked, so serving pays nothing for them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError, Weak};

use crate::readiness::Readiness;

static ACCEPTED: AtomicU64 = AtomicU64::new(0);
static REFUSED: AtomicU64 = AtomicU64::new(0);
static LIVE: Mutex<Vec<Weak<Readiness>>> = Mutex::new(Vec::new());

pub(crate) fn count_accepted() {
    ACCEPTED.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn count_refused() {
    REFUSED.fetch_add(1, Ordering::Relaxed);
}

/// Remembers a readiness set for [`server_stats`], forgetting those that ended.
pub(crate) fn track(readiness: Weak<Readiness>) {
    let mut live = LIVE.lock().unwrap_or_else(PoisonError::into_inner);
    live.retain(|set| set.strong_count() > 0);
    live.push(readiness);
}

/// The process's servers at one moment (see [`server_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStats {
    /// Connections (or packets) taken from a listening socket since the process started, by every server.
    pub accepted: u64,
    /// Of those, the ones closed without being served: refused by `verify_request`, or arriving while the server stopped.
    pub refused: u64,
    /// Connections registered in readiness mode now, waiting or being served.
    pub open: usize,
    /// Of those, the ones idle between requests.
    pub idle: usize,
    /// Readiness workers running now.
    pub workers: usize,
    /// Of those, the ones running a connection rather than waiting for one.
    pub busy_workers: usize,
}

/// Reads what the process's servers are doing now: counters since start, and the readiness mode's connections and workers
/// (not in Python).
pub fn server_stats() -> ServerStats {
    let mut stats = ServerStats {
        accepted: ACCEPTED.load(Ordering::Relaxed),
        refused: REFUSED.load(Ordering::Relaxed),
        ..ServerStats::default()
    };
    let live: Vec<_> = LIVE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    for readiness in live {
        let (open, idle) = readiness.connection_counts();
        let (workers, busy) = readiness.worker_counts();
        stats.open += open;
        stats.idle += idle;
        stats.workers += workers;
        stats.busy_workers += busy;
    }
    stats
}
