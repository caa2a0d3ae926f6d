//! The only module of this crate with `unsafe`: the two system calls std does not wrap.
//!
//! Each function is a thin, checked wrapper; each `unsafe` block says why it is sound.
#![allow(unsafe_code)]

use std::io;

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
    fn effective_uid_matches_proc() {
        use std::os::unix::fs::MetadataExt;
        if let Ok(metadata) = std::fs::metadata("/proc/self") {
            assert_eq!(effective_uid(), metadata.uid());
        }
    }
}
