//! Slowing down password guessing: failed logins counted per client address, and an address with too many
//! refused for a while with 429 and `Retry-After`, without its credentials being checked.
//!
//! Nothing here waits: a delayed answer would hold a worker of the readiness loop (or a thread) for each guess,
//! so a guesser with many connections would tie the server up. A refusal costs the server as little as a 404,
//! and tells a well-behaved client when to come back.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How failed logins from one address are answered: after [`free_failures`](Self::free_failures) failures,
/// each further one shuts the address out for twice as long as the one before (1 s, 2 s, 4 s, ...) up to
/// [`max_lockout`](Self::max_lockout); an address forgets its failures after [`forget_after`](Self::forget_after) without one.
///
/// IPv6 addresses count by their /64 network, which one client usually holds whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    /// Failures allowed before the first lockout (5 by default).
    pub free_failures: u32,
    /// The longest lockout (60 s by default).
    pub max_lockout: Duration,
    /// How long an address must go without a failure to start again from nothing (10 minutes by default).
    pub forget_after: Duration,
    /// The most addresses remembered at once (10 000 by default); the oldest is forgotten to make room.
    pub max_addresses: usize,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle {
            free_failures: 5,
            max_lockout: Duration::from_secs(60),
            forget_after: Duration::from_secs(600),
            max_addresses: 10_000,
        }
    }
}

impl Throttle {
    /// Never slows anyone down (for tests and for servers behind a proxy that limits logins itself).
    pub fn off() -> Self {
        Throttle {
            free_failures: u32::MAX,
            ..Throttle::default()
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last_failure: Instant,
    locked_until: Option<Instant>,
}

/// The failures of each address, and the lockouts they earned.
#[derive(Debug)]
pub(crate) struct Failures {
    settings: Throttle,
    records: Mutex<HashMap<IpAddr, Record>>,
    /// How many addresses have a record, read without the lock: a server nobody fails against takes no lock.
    tracked: AtomicUsize,
}

/// The address failures are counted under: IPv4 as it is (an IPv4-mapped IPv6 address as its IPv4), IPv6 by its /64.
fn key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

impl Failures {
    pub(crate) fn new(settings: Throttle) -> Failures {
        Failures {
            settings,
            records: Mutex::new(HashMap::new()),
            tracked: AtomicUsize::new(0),
        }
    }

    /// How long `address` is still shut out, if it is.
    pub(crate) fn locked(&self, address: IpAddr, now: Instant) -> Option<Duration> {
        if self.tracked.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        let until = records.get(&key(address))?.locked_until?;
        let left = until.saturating_duration_since(now);
        (!left.is_zero()).then_some(left)
    }

    /// Counts a failure of `address`; returns the lockout it earned, if any.
    pub(crate) fn fail(&self, address: IpAddr, now: Instant) -> Option<Duration> {
        let settings = &self.settings;
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        let address = key(address);
        if !records.contains_key(&address) && records.len() >= settings.max_addresses {
            records.retain(|_, record| {
                now.saturating_duration_since(record.last_failure) < settings.forget_after
                    || record.locked_until.is_some_and(|until| until > now)
            });
            if records.len() >= settings.max_addresses {
                let oldest = records
                    .iter()
                    .min_by_key(|(_, record)| record.last_failure)
                    .map(|(address, _)| *address);
                if let Some(oldest) = oldest {
                    records.remove(&oldest);
                }
            }
        }
        let record = records.entry(address).or_insert(Record {
            failures: 0,
            last_failure: now,
            locked_until: None,
        });
        if now.saturating_duration_since(record.last_failure) >= settings.forget_after {
            record.failures = 0;
        }
        record.failures = record.failures.saturating_add(1);
        record.last_failure = now;
        let lockout = record
            .failures
            .checked_sub(settings.free_failures)
            .filter(|over| *over > 0)
            .map(|over| {
                let seconds = 1u64 << (over - 1).min(20);
                Duration::from_secs(seconds).min(settings.max_lockout)
            });
        record.locked_until = lockout.map(|lockout| now + lockout);
        self.tracked.store(records.len(), Ordering::Relaxed);
        lockout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockouts_double_up_to_the_limit_and_are_forgotten() {
        let failures = Failures::new(Throttle {
            free_failures: 2,
            max_lockout: Duration::from_secs(5),
            forget_after: Duration::from_secs(100),
            max_addresses: 10,
        });
        let address: IpAddr = "192.0.2.1".parse().unwrap();
        let start = Instant::now();
        assert_eq!(failures.locked(address, start), None);
        assert_eq!(failures.fail(address, start), None);
        assert_eq!(failures.fail(address, start), None);
        assert_eq!(failures.fail(address, start), Some(Duration::from_secs(1)));
        assert_eq!(
            failures.locked(address, start),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            failures.locked(address, start + Duration::from_secs(1)),
            None
        );
        assert_eq!(failures.fail(address, start), Some(Duration::from_secs(2)));
        assert_eq!(failures.fail(address, start), Some(Duration::from_secs(4)));
        assert_eq!(failures.fail(address, start), Some(Duration::from_secs(5)));
        for _ in 0..100 {
            failures.fail(address, start);
        }
        assert_eq!(
            failures.locked(address, start),
            Some(Duration::from_secs(5))
        );
        // Another address is not touched; a quiet spell wipes the slate.
        assert_eq!(failures.locked("192.0.2.2".parse().unwrap(), start), None);
        assert_eq!(
            failures.fail(address, start + Duration::from_secs(200)),
            None
        );
    }

    #[test]
    fn ipv6_counts_by_its_network_and_memory_is_bounded() {
        let failures = Failures::new(Throttle {
            free_failures: 1,
            max_addresses: 3,
            ..Throttle::default()
        });
        let now = Instant::now();
        failures.fail("2001:db8::1".parse().unwrap(), now);
        assert!(failures
            .fail("2001:db8::2:3".parse().unwrap(), now)
            .is_some());
        assert!(failures
            .locked("::ffff:192.0.2.9".parse().unwrap(), now)
            .is_none());
        failures.fail("::ffff:192.0.2.9".parse().unwrap(), now);
        assert!(failures.fail("192.0.2.9".parse().unwrap(), now).is_some());
        for last in 0..50u8 {
            failures.fail(
                IpAddr::from([198, 51, 100, last]),
                now + Duration::from_millis(last.into()),
            );
        }
        assert!(failures.records.lock().unwrap().len() <= 3);
    }

    // At the limit, the addresses that failed lately keep their counts: only a quiet one, or else the oldest, makes room.
    #[test]
    fn making_room_keeps_the_counts_of_recent_failures() {
        let failures = Failures::new(Throttle {
            free_failures: 1,
            max_addresses: 2,
            forget_after: Duration::from_secs(10),
            ..Throttle::default()
        });
        let start = Instant::now();
        let [first, second, third]: [IpAddr; 3] =
            [[192, 0, 2, 1], [192, 0, 2, 2], [192, 0, 2, 3]].map(IpAddr::from);
        assert_eq!(failures.fail(first, start), None);
        assert_eq!(failures.fail(second, start + Duration::from_secs(1)), None);
        // Both are recent: the oldest, `first`, makes room for `third`, and `second` keeps its count.
        assert_eq!(failures.fail(third, start + Duration::from_secs(2)), None);
        assert_eq!(
            failures.fail(second, start + Duration::from_secs(3)),
            Some(Duration::from_secs(1))
        );
        assert_eq!(failures.fail(first, start + Duration::from_secs(4)), None);
    }
}
