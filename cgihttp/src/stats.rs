//! What the process's CGI runs came to, for monitoring (the command's `--metrics-bind`): three relaxed counters,
//! added to once per script run, so counting costs the request nothing it would notice.

use std::sync::atomic::{AtomicU64, Ordering};

static RUNS: AtomicU64 = AtomicU64::new(0);
static TIMEOUTS: AtomicU64 = AtomicU64::new(0);
static FAILURES: AtomicU64 = AtomicU64::new(0);

/// The process's CGI counters since it started (see [`cgi_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CgiStats {
    /// Scripts started.
    pub runs: u64,
    /// Of those, the ones killed at the CGI timeout.
    pub timeouts: u64,
    /// Of those, the ones that failed otherwise: a non-zero exit, a crash, bad headers, a script that could not start.
    pub failures: u64,
}

/// Reads the process's CGI counters (not in Python).
pub fn cgi_stats() -> CgiStats {
    CgiStats {
        runs: RUNS.load(Ordering::Relaxed),
        timeouts: TIMEOUTS.load(Ordering::Relaxed),
        failures: FAILURES.load(Ordering::Relaxed),
    }
}

pub(crate) fn count_run() {
    RUNS.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn count_timeout() {
    TIMEOUTS.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn count_failure() {
    FAILURES.fetch_add(1, Ordering::Relaxed);
}
