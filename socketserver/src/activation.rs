//! systemd's socket activation (`sd_listen_fds(3)`): the listening sockets a service manager opened and passed to this process.

use std::io;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};

use socket2::SockRef;

use crate::sys;

/// The first descriptor a service manager passes (`SD_LISTEN_FDS_START`).
const LISTEN_FDS_START: i32 = 3;

/// The most descriptors taken, far above what a unit passes, so a wild `LISTEN_FDS` cannot make the loop run long.
const MAX_LISTEN_FDS: i32 = 1024;

static TAKEN: AtomicBool = AtomicBool::new(false);

/// The sockets passed by a service manager (systemd's socket activation), when `LISTEN_PID` names this process:
/// `LISTEN_FDS` descriptors from 3 on, each checked to be a listening stream socket and marked close-on-exec,
/// so programs this process starts (CGI scripts) do not inherit them. Empty when nothing was passed.
///
/// `LISTEN_PID`, `LISTEN_FDS` and `LISTEN_FDNAMES` are removed from the environment, as `sd_listen_fds(1)` does, so a child does
/// not take the variables for its own; call it before the process starts threads that read the environment.
/// Later calls return nothing: each descriptor has one owner.
///
/// # Errors
///
/// A `LISTEN_FDS` that is not a number, or a descriptor that is not open or not a listening stream socket.
pub fn listen_fds() -> io::Result<Vec<OwnedFd>> {
    let pid = std::env::var("LISTEN_PID").ok();
    let count = std::env::var("LISTEN_FDS").ok();
    let (Some(pid), Some(count)) = (pid, count) else {
        return Ok(Vec::new());
    };
    if pid.trim().parse::<u32>().ok() != Some(std::process::id()) {
        // Meant for another process (the variables leaked into this one's environment).
        return Ok(Vec::new());
    }
    for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(name);
    }
    let count = count
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|count| (0..=MAX_LISTEN_FDS).contains(count))
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("LISTEN_FDS={count}: expected a number of descriptors"),
            )
        })?;
    if TAKEN.swap(true, Ordering::SeqCst) {
        return Ok(Vec::new());
    }
    (LISTEN_FDS_START..LISTEN_FDS_START + count)
        .map(|fd| {
            let owned = sys::inherited_fd(fd).map_err(|error| {
                io::Error::new(
                    error.kind(),
                    format!("descriptor {fd} from LISTEN_FDS: {error}"),
                )
            })?;
            let socket = SockRef::from(&owned);
            let listening = socket.r#type().ok() == Some(socket2::Type::STREAM)
                && socket.is_listener().unwrap_or(false);
            if !listening {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("descriptor {fd} from LISTEN_FDS is not a listening stream socket"),
                ));
            }
            socket.set_cloexec(true)?;
            Ok(owned)
        })
        .collect()
}
