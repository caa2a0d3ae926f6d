//! What every request adds to the process's counters, for a monitoring scrape (the commands' `--metrics-bind`).
//!
//! Counting sits on every request's path, so it is a handful of relaxed atomic additions into fixed arrays: no lock,
//! no map lookup, no allocation. Methods outside the common seven count as `other`, so a client cannot grow the set.
//! The counters are read, not reset, by [`http_metrics`]; the format of a scrape is the caller's business.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The methods counted under their own name; every other one counts as `other` (the last label).
pub const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "other",
];

/// The status classes requests are counted by.
pub const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// Upper bounds, in seconds, of the request duration histogram's buckets (Prometheus's default buckets, with finer steps below 5 ms
/// where a file from the page cache lands).
pub const DURATION_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

struct Counters {
    requests: [[AtomicU64; STATUS_CLASSES.len()]; METHODS.len()],
    bytes_sent: AtomicU64,
    /// Requests per bucket, not cumulative; the last one is beyond every bound.
    durations: [AtomicU64; DURATION_BUCKETS.len() + 1],
    duration_micros: AtomicU64,
    auth_failures: AtomicU64,
    proxy_refusals: AtomicU64,
}

static COUNTERS: Counters = Counters {
    requests: [const { [const { AtomicU64::new(0) }; STATUS_CLASSES.len()] }; METHODS.len()],
    bytes_sent: AtomicU64::new(0),
    durations: [const { AtomicU64::new(0) }; DURATION_BUCKETS.len() + 1],
    duration_micros: AtomicU64::new(0),
    auth_failures: AtomicU64::new(0),
    proxy_refusals: AtomicU64::new(0),
};

/// The row of `method`: its own, or the last (`other`), which a method literally named `other` shares.
fn method_index(method: &str) -> usize {
    METHODS
        .iter()
        .position(|known| *known == method)
        .unwrap_or(METHODS.len() - 1)
}

/// Counts one answered request: its method, the class of its status (none for a request answered without one),
/// the bytes written for it (head and body) and how long it took.
pub(crate) fn record_request(method: &str, status: Option<u16>, bytes: u64, took: Duration) {
    if let Some(class) = status.and_then(|status| (status / 100).checked_sub(1)) {
        if let Some(counter) = COUNTERS.requests[method_index(method)].get(usize::from(class)) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }
    COUNTERS.bytes_sent.fetch_add(bytes, Ordering::Relaxed);
    let seconds = took.as_secs_f64();
    let bucket = DURATION_BUCKETS
        .iter()
        .position(|bound| seconds <= *bound)
        .unwrap_or(DURATION_BUCKETS.len());
    COUNTERS.durations[bucket].fetch_add(1, Ordering::Relaxed);
    let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
    COUNTERS
        .duration_micros
        .fetch_add(micros, Ordering::Relaxed);
}

/// Counts one failed authentication (a missing, malformed or wrong credential answered with 401 or 403),
/// for whatever layer checks credentials.
pub fn record_auth_failure() {
    COUNTERS.auth_failures.fetch_add(1, Ordering::Relaxed);
}

/// Counts one connection refused for a PROXY protocol header it should not have sent.
pub(crate) fn record_proxy_refusal() {
    COUNTERS.proxy_refusals.fetch_add(1, Ordering::Relaxed);
}

/// What the process's HTTP counters hold now (see [`http_metrics`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HttpMetrics {
    /// Requests answered, by index into [`METHODS`] and then into [`STATUS_CLASSES`].
    pub requests: [[u64; STATUS_CLASSES.len()]; METHODS.len()],
    /// Bytes written for requests, heads and bodies (file ranges included).
    pub bytes_sent: u64,
    /// Cumulative counts per bound of [`DURATION_BUCKETS`], as a histogram reports them.
    pub duration_buckets: [u64; DURATION_BUCKETS.len()],
    /// Requests whose duration was counted (the `+Inf` bucket).
    pub duration_count: u64,
    /// The durations added up, in seconds.
    pub duration_sum: f64,
    /// Failed authentications ([`record_auth_failure`]).
    pub auth_failures: u64,
    /// Connections refused because they sent a PROXY protocol header without being a trusted proxy.
    pub proxy_refusals: u64,
    /// Access lines dropped because the log file's queue was full (a slow or full disk).
    pub access_log_dropped: u64,
}

/// Reads the process's HTTP counters: requests by method and status class, bytes sent, the duration histogram, failures.
///
/// A request is counted once its answer has been handed to the connection (what is left of a large file still goes out afterwards).
pub fn http_metrics() -> HttpMetrics {
    let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    let requests = COUNTERS
        .requests
        .each_ref()
        .map(|row| row.each_ref().map(load));
    let mut duration_buckets = [0; DURATION_BUCKETS.len()];
    let mut running = 0u64;
    for (index, bucket) in duration_buckets.iter_mut().enumerate() {
        running += load(&COUNTERS.durations[index]);
        *bucket = running;
    }
    let duration_count = running + load(&COUNTERS.durations[DURATION_BUCKETS.len()]);
    HttpMetrics {
        requests,
        bytes_sent: load(&COUNTERS.bytes_sent),
        duration_buckets,
        duration_count,
        duration_sum: load(&COUNTERS.duration_micros) as f64 / 1e6,
        auth_failures: load(&COUNTERS.auth_failures),
        proxy_refusals: load(&COUNTERS.proxy_refusals),
        access_log_dropped: crate::log::dropped_lines(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_and_classes_land_in_their_cells() {
        let before = http_metrics();
        record_request("GET", Some(200), 10, Duration::from_micros(300));
        record_request("BREW", Some(418), 5, Duration::from_secs(20));
        record_request("GET", Some(999), 0, Duration::ZERO);
        record_request("GET", Some(42), 0, Duration::ZERO);
        record_request("HEAD", None, 0, Duration::ZERO);
        let after = http_metrics();
        assert_eq!(after.requests[0][1] - before.requests[0][1], 1);
        assert_eq!(after.requests[7][3] - before.requests[7][3], 1);
        assert!(after.bytes_sent - before.bytes_sent >= 15);
        assert!(after.duration_count - before.duration_count >= 5);
        assert!(after.duration_buckets[0] - before.duration_buckets[0] >= 4);
        assert!(after.duration_sum - before.duration_sum >= 20.0);
        // Cumulative buckets never decrease.
        assert!(after
            .duration_buckets
            .windows(2)
            .all(|pair| pair[0] <= pair[1]));
        assert!(after.duration_count >= after.duration_buckets[DURATION_BUCKETS.len() - 1]);
    }
}
