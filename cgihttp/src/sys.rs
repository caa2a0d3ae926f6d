//! The only module of this crate with `unsafe`: the two system calls std does not wrap.
//!
//! Each function is a thin, checked wrapper; each `unsafe` block says why it is sound.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

/// Sends SIGKILL to every process in the process group `group` (kill(2) with a negative pid).
///
/// Scripts are started as leaders of their own group, so this also stops whatever they started (`sleep &`),
/// unless a child moved itself to another group or session.
pub fn kill_process_group(group: u32) -> io::Result<()> {
    let group =
        libc::pid_t::try_from(group).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // Group 0 and 1 would mean "our own group" and "every process we may signal"; never send those.
    if group <= 1 {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    // SAFETY: kill takes plain integers and touches no memory of ours; a negative pid addresses a process group.
    let result = unsafe { libc::kill(-group, libc::SIGKILL) };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The effective user id of this process (geteuid(2)); 0 when running as root.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid takes no arguments, cannot fail and touches no memory of ours.
    unsafe { libc::geteuid() }
}

/// Waits up to `timeout` for `fd` to be ready for `events` (poll(2) on one descriptor, `POLLIN` or `POLLOUT`).
///
/// `Ok(true)` when it is ready, or closed or broken (`POLLHUP`, `POLLERR`), so the next read or write will not block;
/// `Ok(false)` when the time ran out.
pub fn poll_one(fd: BorrowedFd<'_>, events: libc::c_short, timeout: Duration) -> io::Result<bool> {
    let mut entry = libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    };
    let milliseconds = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: `entry` is one valid, writable pollfd for the duration of the call, and we pass a count of 1;
    // the descriptor is borrowed, so it stays open meanwhile.
    let ready = unsafe { libc::poll(&mut entry, 1, milliseconds) };
    match ready {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(false),
        _ => Ok(true),
    }
}

/// poll(2) event: data to read.
pub const READABLE: libc::c_short = libc::POLLIN;

/// poll(2) event: room to write.
pub const WRITABLE: libc::c_short = libc::POLLOUT;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_dangerous_groups() {
        for group in [0, 1, u32::MAX] {
            let error = kill_process_group(group).err().map(|error| error.kind());
            assert_eq!(error, Some(io::ErrorKind::InvalidInput), "group {group}");
        }
    }

    #[test]
    fn poll_sees_data_and_timeouts() {
        use std::io::Write;
        use std::os::fd::AsFd;
        use std::os::unix::net::UnixStream;

        let (mut writer, reader) = UnixStream::pair().unwrap_or_else(|error| panic!("{error}"));
        let wait = Duration::from_millis(10);
        assert_eq!(poll_one(reader.as_fd(), READABLE, wait).ok(), Some(false));
        assert_eq!(poll_one(writer.as_fd(), WRITABLE, wait).ok(), Some(true));
        writer
            .write_all(b"x")
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(poll_one(reader.as_fd(), READABLE, wait).ok(), Some(true));
        drop(writer);
        assert_eq!(poll_one(reader.as_fd(), READABLE, wait).ok(), Some(true));
    }

    #[test]
    fn effective_uid_matches_proc() {
        use std::os::unix::fs::MetadataExt;
        if let Ok(metadata) = std::fs::metadata("/proc/self") {
            assert_eq!(effective_uid(), metadata.uid());
        }
    }
}
