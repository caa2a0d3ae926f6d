//! The only module of this crate with `unsafe`: the system calls std does not wrap.
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

/// Whether the peer of the socket `fd` has closed its side or reset the connection, without waiting
/// (poll(2) for `POLLRDHUP`, which also reports `POLLHUP` and `POLLERR`); data still unread does not hide it.
pub fn peer_closed(fd: BorrowedFd<'_>) -> bool {
    let mut entry = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: `entry` is one valid, writable pollfd for the duration of the call, and we pass a count of 1;
    // the descriptor is borrowed, so it stays open meanwhile. A timeout of 0 only looks.
    let ready = unsafe { libc::poll(&mut entry, 1, 0) };
    ready > 0 && entry.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0
}

/// Whether the child `pid` has exited, without reaping it (waitid(2) with `WEXITED | WNOHANG | WNOWAIT`).
///
/// The child stays a zombie, so its process id, and the id of the group it leads, cannot pass to another process
/// while the caller still signals the group. `false` when it runs, or when it cannot be asked (not our child).
pub fn has_exited(pid: u32) -> bool {
    let pid: libc::id_t = pid;
    // SAFETY: an all-zero siginfo_t is a valid value of this plain C struct.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is a valid, writable siginfo_t for the duration of the call; the other arguments are integers.
    let result = unsafe {
        libc::waitid(
            libc::P_PID,
            pid,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    // With WNOHANG and no state change, waitid leaves si_pid at 0.
    // SAFETY: si_pid reads a field of the union that waitid filled (or left zeroed).
    result == 0 && unsafe { info.si_pid() } != 0
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
    fn peer_closed_sees_a_close_behind_unread_data() {
        use std::io::Write;
        use std::os::fd::AsFd;
        use std::os::unix::net::UnixStream;

        let (mut writer, reader) = UnixStream::pair().unwrap_or_else(|error| panic!("{error}"));
        assert!(!peer_closed(reader.as_fd()));
        writer
            .write_all(b"unread")
            .unwrap_or_else(|error| panic!("{error}"));
        assert!(!peer_closed(reader.as_fd()));
        drop(writer);
        assert!(peer_closed(reader.as_fd()));
    }

    #[test]
    fn has_exited_leaves_the_child_to_be_reaped() {
        let mut child = std::process::Command::new("/bin/sh")
            .args(["-c", "exit 3"])
            .spawn()
            .unwrap_or_else(|error| panic!("{error}"));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !has_exited(child.id()) {
            assert!(std::time::Instant::now() < deadline, "child never exited");
            std::thread::sleep(Duration::from_millis(5));
        }
        // Still a zombie: the real wait reaps it and sees its status.
        let status = child.wait().unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(status.code(), Some(3));
        assert!(!has_exited(child.id()));
    }

    #[test]
    fn effective_uid_matches_proc() {
        use std::os::unix::fs::MetadataExt;
        if let Ok(metadata) = std::fs::metadata("/proc/self") {
            assert_eq!(effective_uid(), metadata.uid());
        }
    }
}
