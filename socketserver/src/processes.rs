//! Several processes serving one port: a parent that forks them, starts another when one dies, and passes signals on
//! (not in Python; nginx's master and workers). Each child opens its own listening socket with `SO_REUSEPORT`
//! ([`ServerConfig::allow_reuse_port`](crate::ServerConfig::allow_reuse_port)), so the kernel spreads connections between them.
//!
//! The parent only forks, waits and signals: it starts no thread, so every fork copies a process with one thread,
//! and it reaps its children by process id, never with `waitpid(-1)`.

use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::sys::{self, Ended, Forked};

/// How often the parent looks at its children and its flags.
const LOOK_INTERVAL: Duration = Duration::from_millis(50);

/// A child that ends sooner than this after its start failed to start.
const QUICK_FAILURE: Duration = Duration::from_secs(1);

/// Failed starts in a row after which the parent gives up (a port taken, a directory gone): restarting would only spin.
const FAILED_STARTS: u32 = 5;

/// What [`supervise`] runs and how it is told to stop.
#[derive(Debug, Clone, Copy)]
pub struct Supervision<'a> {
    /// How many children serve at once (at least one).
    pub processes: usize,
    /// Set (by a signal handler) to stop: each child gets SIGTERM and `grace` to finish, then SIGKILL.
    pub terminate: &'a AtomicBool,
    /// Set (by a signal handler) to pass SIGHUP on to every child; cleared once done.
    pub hang_up: &'a AtomicBool,
    /// How long children get to stop after SIGTERM; `None` waits for them.
    pub grace: Option<Duration>,
}

/// How one child ended, for the parent's report.
fn describe(ended: Ended) -> String {
    match ended {
        Ended::Exited(status) => format!("exited with status {status}"),
        Ended::Signaled(signal) => format!("was killed by signal {signal}"),
    }
}

/// Forks `supervision.processes` children, each running `child(index)` and leaving with the status it returns
/// (by `_exit`, never returning here), and keeps that many running until `terminate` is set: a child that ends is reported on stderr
/// and started again. Returns once every child has ended after `terminate`.
///
/// Call it before the process starts any thread: fork(2) copies only the calling thread, and a lock another thread held
/// at that moment (the allocator's, stdout's) would stay locked in the child. The parent starts none itself.
///
/// # Errors
///
/// fork failing, or children failing five times in a row within a second of their start (then every child is stopped first).
pub fn supervise(
    supervision: Supervision<'_>,
    child: &mut dyn FnMut(usize) -> i32,
) -> io::Result<()> {
    let count = supervision.processes.max(1);
    let mut slots: Vec<Option<(libc::pid_t, Instant)>> = vec![None; count];
    let mut failed_starts = 0;
    let mut failure = None;
    while !supervision.terminate.load(Ordering::SeqCst) && failure.is_none() {
        for (index, slot) in slots.iter_mut().enumerate() {
            if slot.is_none() {
                match start(index, child) {
                    Ok(pid) => *slot = Some((pid, Instant::now())),
                    Err(error) => {
                        failure = Some(error);
                        break;
                    }
                }
            }
        }
        thread::sleep(LOOK_INTERVAL);
        if supervision.hang_up.swap(false, Ordering::SeqCst) {
            for (pid, _) in slots.iter().flatten() {
                let _ = sys::kill(*pid, libc::SIGHUP);
            }
        }
        for slot in &mut slots {
            let Some((pid, started)) = *slot else {
                continue;
            };
            let Some(ended) = sys::try_wait_child(pid)? else {
                continue;
            };
            *slot = None;
            if supervision.terminate.load(Ordering::SeqCst) {
                continue;
            }
            let _ = writeln!(
                io::stderr(),
                "process {pid} {}; starting another",
                describe(ended)
            );
            if started.elapsed() < QUICK_FAILURE {
                failed_starts += 1;
                if failed_starts >= FAILED_STARTS {
                    failure = Some(io::Error::other(format!(
                        "{failed_starts} processes in a row ended within a second of their start; stopping"
                    )));
                }
                // A process that cannot start is not restarted in a tight loop.
                thread::sleep(QUICK_FAILURE);
            } else {
                failed_starts = 0;
            }
        }
    }
    stop(&mut slots, supervision.grace);
    failure.map_or(Ok(()), Err)
}

/// Forks one child running `child(index)`; its process id.
fn start(index: usize, child: &mut dyn FnMut(usize) -> i32) -> io::Result<libc::pid_t> {
    match sys::fork()? {
        Forked::Parent(pid) => Ok(pid),
        Forked::Child => {
            // A panic must not unwind into the parent's loop: the child leaves here, whatever happens.
            let status = panic::catch_unwind(AssertUnwindSafe(|| child(index))).unwrap_or(101);
            let _ = io::stdout().flush();
            let _ = io::stderr().flush();
            sys::exit_immediately(status)
        }
    }
}

/// SIGTERM to every child, then SIGKILL to those still running after `grace`; every one reaped.
fn stop(slots: &mut [Option<(libc::pid_t, Instant)>], grace: Option<Duration>) {
    for (pid, _) in slots.iter().flatten() {
        let _ = sys::kill(*pid, libc::SIGTERM);
    }
    let deadline = grace.and_then(|grace| Instant::now().checked_add(grace));
    loop {
        for slot in slots.iter_mut() {
            if let Some((pid, _)) = *slot {
                if !matches!(sys::try_wait_child(pid), Ok(None)) {
                    *slot = None;
                }
            }
        }
        if slots.iter().all(Option::is_none) {
            return;
        }
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            break;
        }
        thread::sleep(Duration::from_millis(10));
    }
    for (pid, _) in slots.iter().flatten() {
        let _ = sys::kill(*pid, libc::SIGKILL);
        let _ = sys::wait_child(*pid, true);
    }
}
