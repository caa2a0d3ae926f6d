//! The only module of this crate with `unsafe`: the system calls std does not wrap.
//!
//! Each function is a thin, checked wrapper; each `unsafe` block says why it is sound.

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

/// What `fork` returned, seen from one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Forked {
    /// We are the parent; the child's process id.
    Parent(libc::pid_t),
    /// We are the child.
    Child,
}

/// Forks the process (fork(2)).
///
/// Sound only while the calling thread is the process's only thread that holds locks the child needs:
/// the child starts with this one thread, so a lock held by another thread at the moment of the fork stays locked forever in the child.
/// The forking mode documents that its serving loop must be the process's only busy thread.
pub(crate) fn fork() -> io::Result<Forked> {
    // SAFETY: fork has no memory-safety preconditions of its own; the hazards (locks held by other threads) are documented above
    // and on `Mode::Forking`, and the child only runs the request handler and then `exit_immediately`.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        child => Ok(Forked::Parent(child)),
    }
}

/// Ends the process at once with `status`, running no destructors or `atexit` handlers (_exit(2)).
///
/// A forked child must leave this way: unwinding or running the parent's exit handlers in the child would flush or close state the parent still owns.
pub(crate) fn exit_immediately(status: i32) -> ! {
    // SAFETY: _exit takes any status and never returns; nothing is borrowed across it.
    unsafe { libc::_exit(status) }
}

/// Waits for the child `pid` (waitpid(2)); `Ok(true)` when it was reaped, `Ok(false)` when it still runs (only without `block`).
///
/// A child that is not ours any more (ECHILD) counts as reaped, so the caller forgets it.
pub(crate) fn wait_child(pid: libc::pid_t, block: bool) -> io::Result<bool> {
    let flags = if block { 0 } else { libc::WNOHANG };
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid, writable c_int for the duration of the call.
        let reaped = unsafe { libc::waitpid(pid, &mut status, flags) };
        match reaped {
            0 => return Ok(false),
            -1 => {
                let error = io::Error::last_os_error();
                match error.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::ECHILD) => return Ok(true),
                    _ => return Err(error),
                }
            }
            _ => return Ok(true),
        }
    }
}

/// Waits until one of `fds` is readable or `timeout` passes (poll(2)); returns which are readable.
///
/// `None` waits without limit. An interrupted wait (EINTR) is resumed with the time that is left.
/// A descriptor in error or hung up counts as readable, so the caller's read reports it.
pub(crate) fn poll_readable<const N: usize>(
    fds: [RawFd; N],
    timeout: Option<Duration>,
) -> io::Result<[bool; N]> {
    // A timeout too long to add to the clock waits without limit.
    let deadline = timeout.and_then(|timeout| std::time::Instant::now().checked_add(timeout));
    let mut entries = fds.map(|fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    });
    loop {
        let millis: libc::c_int = match deadline {
            None => -1,
            Some(deadline) => {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                // Round up so a sub-millisecond remainder still waits instead of spinning.
                let millis = left.as_micros().div_ceil(1000);
                millis.min(libc::c_int::MAX as u128) as libc::c_int
            }
        };
        // SAFETY: `entries` is a valid, writable array of N pollfd structures for the duration of the call, and N fits in nfds_t.
        let ready = unsafe { libc::poll(entries.as_mut_ptr(), N as libc::nfds_t, millis) };
        if ready >= 0 {
            return Ok(entries.map(|entry| entry.revents != 0));
        }
        let error = io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::EINTR) {
            return Err(error);
        }
    }
}

/// Waits until `fd` is readable (`write` false) or writable (`write` true), or `timeout` passes (poll(2)); true when it is.
///
/// `None` waits without limit. An error or hang-up on the descriptor counts as ready, so the caller's next call reports it.
pub(crate) fn poll_one(fd: RawFd, write: bool, timeout: Option<Duration>) -> io::Result<bool> {
    let deadline = timeout.and_then(|timeout| std::time::Instant::now().checked_add(timeout));
    let mut entry = libc::pollfd {
        fd,
        events: if write { libc::POLLOUT } else { libc::POLLIN },
        revents: 0,
    };
    loop {
        let millis: libc::c_int = match deadline {
            None => -1,
            Some(deadline) => {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                left.as_micros()
                    .div_ceil(1000)
                    .min(libc::c_int::MAX as u128) as libc::c_int
            }
        };
        // SAFETY: `entry` is one valid, writable pollfd for the duration of the call.
        let ready = unsafe { libc::poll(&mut entry, 1, millis) };
        if ready >= 0 {
            return Ok(entry.revents != 0);
        }
        let error = io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::EINTR) {
            return Err(error);
        }
    }
}

/// Copies up to `count` bytes of the file `in_fd` from `offset` to the socket `out_fd` inside the kernel (sendfile(2)).
///
/// Returns how many bytes were sent; `offset` advances by that much. Zero means the file ended.
pub(crate) fn send_file(
    out_fd: RawFd,
    in_fd: RawFd,
    offset: &mut u64,
    count: usize,
) -> io::Result<usize> {
    let mut position: libc::off_t =
        libc::off_t::try_from(*offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    loop {
        // SAFETY: both descriptors are borrowed from open objects owned by the caller for the duration of the call,
        // and `position` is a valid, writable off_t.
        let sent = unsafe { libc::sendfile(out_fd, in_fd, &mut position, count) };
        if sent >= 0 {
            *offset = position as u64;
            return Ok(sent as usize);
        }
        let error = io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::EINTR) {
            return Err(error);
        }
    }
}

/// Sends `signal` to the process `pid` (kill(2)); a process that is already gone is not an error.
pub(crate) fn kill(pid: libc::pid_t, signal: libc::c_int) -> io::Result<()> {
    // SAFETY: kill takes plain integers; a positive pid names exactly one process, which the caller forked and has not yet reaped,
    // so the id cannot have been reused by an unrelated process.
    let result = unsafe { libc::kill(pid, signal) };
    if result == 0 {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    if error.raw_os_error() == Some(libc::ESRCH) {
        Ok(())
    } else {
        Err(error)
    }
}

/// An epoll instance (epoll_create1(2)); the descriptor closes when it is dropped.
#[derive(Debug)]
pub(crate) struct Epoll {
    fd: std::os::fd::OwnedFd,
}

/// One readiness report from `Epoll::wait`: the token the descriptor was registered with.
pub(crate) type EpollToken = u64;

/// The events a connection is registered for: readable or hung up, each reported as it happens (edge-triggered).
const CONNECTION_EVENTS: u32 = (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLET) as u32;

fn edge_events(write: bool) -> u32 {
    if write {
        CONNECTION_EVENTS | libc::EPOLLOUT as u32
    } else {
        CONNECTION_EVENTS
    }
}

impl Epoll {
    /// Creates an epoll instance, closed on exec (epoll_create1(2)).
    pub(crate) fn new() -> io::Result<Epoll> {
        // SAFETY: epoll_create1 takes a flag and returns a new descriptor or -1; it touches no memory of ours.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by epoll_create1, is open, and nothing else owns it.
        let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        Ok(Epoll { fd })
    }

    fn control(
        &self,
        operation: libc::c_int,
        fd: RawFd,
        events: u32,
        token: EpollToken,
    ) -> io::Result<()> {
        let mut event = libc::epoll_event { events, u64: token };
        let epoll = std::os::fd::AsRawFd::as_raw_fd(&self.fd);
        // SAFETY: `event` is a valid epoll_event for the duration of the call (the kernel copies it); a bad `fd` is reported as EBADF, not undefined behaviour.
        let result = unsafe { libc::epoll_ctl(epoll, operation, fd, &mut event) };
        if result < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Registers `fd` for the life of the connection under `token`: every arrival or hang-up, and with `write` every time send
    /// space frees up after a full socket, is reported once (EPOLL_CTL_ADD, edge-triggered), so a connection that stays needs no
    /// further epoll_ctl. A condition already true when it is added is reported at once.
    pub(crate) fn add_edge(&self, fd: RawFd, token: EpollToken, write: bool) -> io::Result<()> {
        self.control(libc::EPOLL_CTL_ADD, fd, edge_events(write), token)
    }

    /// Changes what an edge-triggered registration reports (EPOLL_CTL_MOD); a condition already true is reported at once.
    pub(crate) fn modify_edge(&self, fd: RawFd, token: EpollToken, write: bool) -> io::Result<()> {
        self.control(libc::EPOLL_CTL_MOD, fd, edge_events(write), token)
    }

    /// Registers `fd` level-triggered for readability, so every waiter sees it until it is read (EPOLL_CTL_ADD with EPOLLIN).
    pub(crate) fn add_level(&self, fd: RawFd, token: EpollToken) -> io::Result<()> {
        self.control(libc::EPOLL_CTL_ADD, fd, libc::EPOLLIN as u32, token)
    }

    /// Removes `fd` from the set (EPOLL_CTL_DEL).
    pub(crate) fn delete(&self, fd: RawFd) -> io::Result<()> {
        self.control(libc::EPOLL_CTL_DEL, fd, 0, 0)
    }

    /// Waits up to `timeout` (`None`: without limit) for ready descriptors and writes their tokens into `tokens` (epoll_wait(2)).
    ///
    /// Returns how many tokens were written; zero after the timeout or an interrupted wait (EINTR), which the caller's loop retries.
    pub(crate) fn wait(
        &self,
        tokens: &mut [EpollToken],
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        const MAX_EVENTS: usize = 64;
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; MAX_EVENTS];
        let capacity = tokens.len().min(MAX_EVENTS);
        let millis = timeout.map_or(-1, |timeout| {
            timeout
                .as_micros()
                .div_ceil(1000)
                .min(libc::c_int::MAX as u128) as libc::c_int
        });
        let epoll = std::os::fd::AsRawFd::as_raw_fd(&self.fd);
        // SAFETY: `events` is a valid, writable array of at least `capacity` epoll_event structures for the duration of the call,
        // and `capacity` (at most 64) fits in c_int.
        let ready = unsafe {
            libc::epoll_wait(epoll, events.as_mut_ptr(), capacity as libc::c_int, millis)
        };
        if ready < 0 {
            let error = io::Error::last_os_error();
            return if error.raw_os_error() == Some(libc::EINTR) {
                Ok(0)
            } else {
                Err(error)
            };
        }
        let ready = ready as usize;
        for (token, event) in tokens.iter_mut().zip(&events[..ready]) {
            *token = event.u64;
        }
        Ok(ready)
    }
}

/// Reads what the socket `fd` holds without waiting, whatever its blocking mode (recv(2) with MSG_DONTWAIT).
///
/// Nothing to read yet fails with `WouldBlock`; zero means the peer closed its side.
pub(crate) fn recv_nonblocking(fd: RawFd, buffer: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `buffer` is valid and writable for `buffer.len()` bytes for the duration of the call; a bad `fd` is reported as EBADF.
        let received = unsafe {
            libc::recv(
                fd,
                buffer.as_mut_ptr().cast(),
                buffer.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if received >= 0 {
            return Ok(received as usize);
        }
        let error = io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::EINTR) {
            return Err(error);
        }
    }
}
