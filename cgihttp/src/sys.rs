//! The only module of this crate with `unsafe`: the system calls std does not wrap, and the script supervisor.
//!
//! Each function is a thin, checked wrapper; each `unsafe` block says why it is sound.
//!
//! # The supervisor
//!
//! [`spawn_supervised`] starts every script under a supervisor process of its own, so that nothing the script starts
//! can outlive its request: not a child that moved to a new session (`setsid sleep 300 &`), not one that double-forked.
//! The supervisor is forked from the server and never execs; it marks itself a child subreaper (`PR_SET_CHILD_SUBREAPER`),
//! so every orphan of the script's tree is re-parented to it rather than to init, then forks and execs the script.
//! When the server says so over a socket (or the server is gone: the socket reads end of file), it kills the script's
//! process group and every process below itself, found through `/proc`, reaps them, and exits.
//! The server waits for the supervisor by its process id; it never calls `waitpid(-1)`.
//!
//! This works unprivileged and as root, on any Linux since 3.4, with no cgroup delegation and no user or PID namespace
//! (both are often unavailable in containers). Its limits: a process that gains another user's rights (a setuid program)
//! cannot be killed by a supervisor that is not root, and a script that runs as the server's own user could kill its supervisor.
//! As root, the supervisor stays root while the script runs as `nobody`, so the script can do neither.
//!
//! Between `fork` and `exec` (and in the supervisor, which never execs) the server is a copy of a multi-threaded process,
//! so only async-signal-safe calls are made there: no allocation, no locks, no panics; everything is prepared before the fork.
#![allow(unsafe_code)]

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The effective user id of this process (geteuid(2)); 0 when running as root.
pub(crate) fn effective_uid() -> u32 {
    // SAFETY: geteuid takes no arguments, cannot fail and touches no memory of ours.
    unsafe { libc::geteuid() }
}

/// Waits up to `timeout` for `fd` to be ready for `events` (poll(2) on one descriptor, `POLLIN` or `POLLOUT`).
///
/// `Ok(true)` when it is ready, or closed or broken (`POLLHUP`, `POLLERR`), so the next read or write will not block;
/// `Ok(false)` when the time ran out.
pub(crate) fn poll_one(
    fd: BorrowedFd<'_>,
    events: libc::c_short,
    timeout: Duration,
) -> io::Result<bool> {
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
pub(crate) fn peer_closed(fd: BorrowedFd<'_>) -> bool {
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

/// poll(2) on several descriptors: how many are ready (0 when `timeout` passed), each entry's `revents` filled.
pub(crate) fn poll_many(entries: &mut [libc::pollfd], timeout: Duration) -> io::Result<usize> {
    let milliseconds = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    let count = libc::nfds_t::try_from(entries.len())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `entries` is a valid, writable slice of pollfd of exactly `count` elements for the duration of the call;
    // the descriptors in it belong to the caller, who keeps them open meanwhile.
    let ready = unsafe { libc::poll(entries.as_mut_ptr(), count, milliseconds) };
    usize::try_from(ready).map_err(|_| io::Error::last_os_error())
}

/// waitpid(2) for one process, blocking until it has exited: its raw wait status.
pub(crate) fn wait_for(pid: u32) -> io::Result<i32> {
    let pid =
        libc::pid_t::try_from(pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    if pid <= 0 {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid, writable int; a positive pid waits for that one child only, never for any child.
        let result = unsafe { libc::waitpid(pid, &mut status, 0) };
        if result == pid {
            return Ok(status);
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// What the supervisor tells the server, one 8-byte message each: a kind byte, then an `i32` in native byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SupervisorMessage {
    /// The script runs, with this process id.
    Started(u32),
    /// The script could not be started (fork, credentials, working directory or exec failed): the OS error.
    SpawnFailed(i32),
    /// The script exited: its raw wait status.
    Exited(i32),
    /// The supervisor killed what was left and is about to exit: how many processes besides the script still ran.
    Done(u32),
}

const MESSAGE_STARTED: u8 = 1;
const MESSAGE_SPAWN_FAILED: u8 = 2;
const MESSAGE_EXITED: u8 = 3;
const MESSAGE_DONE: u8 = 4;

impl SupervisorMessage {
    fn decode(bytes: [u8; 8]) -> Option<SupervisorMessage> {
        let value = i32::from_ne_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        match bytes[0] {
            MESSAGE_STARTED => u32::try_from(value).ok().map(SupervisorMessage::Started),
            MESSAGE_SPAWN_FAILED => Some(SupervisorMessage::SpawnFailed(value)),
            MESSAGE_EXITED => Some(SupervisorMessage::Exited(value)),
            MESSAGE_DONE => u32::try_from(value).ok().map(SupervisorMessage::Done),
            _ => None,
        }
    }
}

/// A script command prepared for [`spawn_supervised`]: every string already a C string, every pointer array built,
/// so that nothing needs allocating after the fork.
#[derive(Debug)]
pub(crate) struct SpawnPlan {
    program: CString,
    _arguments: Vec<CString>,
    argument_pointers: Vec<*const libc::c_char>,
    _environment: Vec<CString>,
    environment_pointers: Vec<*const libc::c_char>,
    directory: CString,
    ids: Option<(libc::uid_t, libc::gid_t)>,
    /// Whether the server runs as root, so that the script drops root's supplementary groups with its user.
    drop_groups: bool,
}

impl SpawnPlan {
    /// Prepares `program` (an absolute path) with `arg0`, `arguments` and exactly `environment`, to run in `directory`,
    /// as user and group `ids` when given.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] when a string holds a NUL byte, as std's `Command` answers.
    pub(crate) fn new(
        program: &Path,
        arg0: &OsStr,
        arguments: &[OsString],
        environment: &[(OsString, OsString)],
        directory: &Path,
        ids: Option<(u32, u32)>,
    ) -> io::Result<SpawnPlan> {
        let c_string = |bytes: &[u8]| {
            CString::new(bytes).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "nul byte found in provided data",
                )
            })
        };
        let mut argument_strings = vec![c_string(arg0.as_bytes())?];
        for argument in arguments {
            argument_strings.push(c_string(argument.as_bytes())?);
        }
        let mut environment_strings = Vec::with_capacity(environment.len());
        for (name, value) in environment {
            let mut entry = name.as_bytes().to_vec();
            entry.push(b'=');
            entry.extend_from_slice(value.as_bytes());
            environment_strings.push(c_string(&entry)?);
        }
        let pointers = |strings: &[CString]| {
            let mut pointers: Vec<*const libc::c_char> =
                strings.iter().map(|string| string.as_ptr()).collect();
            pointers.push(std::ptr::null());
            pointers
        };
        Ok(SpawnPlan {
            program: c_string(program.as_os_str().as_bytes())?,
            argument_pointers: pointers(&argument_strings),
            _arguments: argument_strings,
            environment_pointers: pointers(&environment_strings),
            _environment: environment_strings,
            directory: c_string(directory.as_os_str().as_bytes())?,
            ids,
            drop_groups: effective_uid() == 0,
        })
    }
}

/// A script started by [`spawn_supervised`]: its supervisor, its process id, and the server's ends of its pipes.
#[derive(Debug)]
pub(crate) struct Supervised {
    /// The supervisor's process id: the server's child, waited for by this id ([`wait_for`]).
    pub supervisor: u32,
    /// The script's process id (and process group id); the supervisor's child.
    pub script: u32,
    /// The socket to the supervisor: [`send_kill`] on it, [`receive_message`] from it.
    pub control: OwnedFd,
    /// The write end of the script's stdin.
    pub stdin: OwnedFd,
    /// The read end of the script's stdout.
    pub stdout: OwnedFd,
    /// The read end of the script's stderr.
    pub stderr: OwnedFd,
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid, writable array of two ints, as pipe2 requires.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn socket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid, writable array of two ints, as socketpair requires.
    let result = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: socketpair succeeded, so both descriptors are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Starts the script of `plan` under a supervisor of its own (see the module documentation), its stdin, stdout and stderr piped.
///
/// Returns once the script has been exec'd. When it cannot be (missing, not executable, busy, a bad working directory),
/// the supervisor is reaped and the OS error returned, as std's `Command::spawn` returns it.
pub(crate) fn spawn_supervised(plan: &SpawnPlan) -> io::Result<Supervised> {
    let (stdin_read, stdin_write) = pipe()?;
    let (stdout_read, stdout_write) = pipe()?;
    let (stderr_read, stderr_write) = pipe()?;
    let (control, control_child) = socket_pair()?;
    let child_fds = [
        stdin_read.as_raw_fd(),
        stdout_write.as_raw_fd(),
        stderr_write.as_raw_fd(),
        control_child.as_raw_fd(),
    ];
    let masks = SignalMasks::new();
    // SAFETY: fork has no memory-safety preconditions. In the child, `supervise` makes only async-signal-safe calls
    // over memory prepared before the fork (`plan`, `child_fds`, `masks`) and never returns.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: we are the freshly forked child; see `supervise`.
        unsafe { supervise(plan, child_fds, &masks) }
    }
    let supervisor = pid.unsigned_abs();
    // The child's ends live on in the supervisor only: closing ours lets end of file and broken pipes through.
    drop((stdin_read, stdout_write, stderr_write, control_child));
    let first = loop {
        match receive_message(control.as_fd_borrowed(), None) {
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            other => break other,
        }
    };
    match first {
        Ok(Some(SupervisorMessage::Started(script))) => Ok(Supervised {
            supervisor,
            script,
            control,
            stdin: stdin_write,
            stdout: stdout_read,
            stderr: stderr_read,
        }),
        other => {
            // The supervisor has nothing left to watch and exits at once; reap it by its id.
            let _ = wait_for(supervisor);
            Err(match other {
                Ok(Some(SupervisorMessage::SpawnFailed(errno))) => {
                    io::Error::from_raw_os_error(errno)
                }
                Err(error) => error,
                _ => io::Error::other("script supervisor ended before starting the script"),
            })
        }
    }
}

trait Borrowed {
    fn as_fd_borrowed(&self) -> BorrowedFd<'_>;
}

impl Borrowed for OwnedFd {
    fn as_fd_borrowed(&self) -> BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(self)
    }
}

/// Asks the supervisor to kill the script's group and everything below it, then exit (one byte on the control socket).
/// Nothing happens when it is already gone.
pub(crate) fn send_kill(control: BorrowedFd<'_>) {
    let byte = [b'k'];
    // SAFETY: `byte` is valid for one byte for the duration of the call; MSG_NOSIGNAL turns a closed peer into EPIPE, not SIGPIPE.
    let _ = unsafe {
        libc::send(
            control.as_raw_fd(),
            byte.as_ptr().cast(),
            1,
            libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
        )
    };
}

/// Reads the supervisor's next message; `Ok(None)` at end of file (the supervisor has exited).
/// With `Some(Duration::ZERO)` it does not wait: [`io::ErrorKind::WouldBlock`] when nothing is there.
pub(crate) fn receive_message(
    control: BorrowedFd<'_>,
    timeout: Option<Duration>,
) -> io::Result<Option<SupervisorMessage>> {
    let flags = if timeout.is_some() {
        libc::MSG_DONTWAIT
    } else {
        0
    };
    if let Some(timeout) = timeout.filter(|timeout| !timeout.is_zero()) {
        if !poll_one(control, READABLE, timeout)? {
            return Err(io::Error::from(io::ErrorKind::WouldBlock));
        }
    }
    let mut buffer = [0u8; 8];
    // SAFETY: `buffer` is valid and writable for its 8 bytes for the duration of the call.
    let received = unsafe {
        libc::recv(
            control.as_raw_fd(),
            buffer.as_mut_ptr().cast(),
            buffer.len(),
            flags,
        )
    };
    match received {
        0 => Ok(None),
        8 => Ok(SupervisorMessage::decode(buffer)),
        count if count < 0 => Err(io::Error::last_os_error()),
        _ => Err(io::Error::from(io::ErrorKind::InvalidData)),
    }
}

/// The signal sets the supervisor and the script need, made before the fork (sigset_t is opaque).
struct SignalMasks {
    /// Nothing blocked: the script's mask, and the supervisor's while it waits in ppoll.
    empty: libc::sigset_t,
    /// The signals the supervisor waits for: blocked except inside ppoll, so none slips between a check and the wait.
    watched: libc::sigset_t,
}

/// The signals that wake the supervisor: a child changed state, or someone asks it to stop.
const WATCHED_SIGNALS: [libc::c_int; 5] = [
    libc::SIGCHLD,
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
];

impl SignalMasks {
    fn new() -> SignalMasks {
        // SAFETY: an all-zero sigset_t is a valid value to hand to sigemptyset, which initialises it.
        let mut empty: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut watched: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: both sets are valid, writable sigset_t values; the signal numbers are valid.
        unsafe {
            libc::sigemptyset(&mut empty);
            libc::sigemptyset(&mut watched);
            for signal in WATCHED_SIGNALS {
                libc::sigaddset(&mut watched, signal);
            }
        }
        SignalMasks { empty, watched }
    }
}

/// Set by the supervisor's signal handler when it is asked to stop (SIGTERM, SIGINT, SIGHUP, SIGQUIT).
static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_watched_signal(signal: libc::c_int) {
    // An atomic store is async-signal-safe; SIGCHLD only needs to interrupt the wait.
    if signal != libc::SIGCHLD {
        STOP_REQUESTED.store(true, Ordering::Relaxed);
    }
}

/// The highest signal number on Linux (`_NSIG - 1`).
const LAST_SIGNAL: libc::c_int = 64;

/// How long the supervisor keeps killing and reaping before it gives up on a process that does not die (one stuck in the kernel).
const KILL_PATIENCE_NANOS: i64 = 5_000_000_000;

/// The most descendants tracked in one sweep; more are reached in the next sweeps, as the killed ones' children fall to us.
const MAX_TRACKED: usize = 2048;

fn errno() -> libc::c_int {
    // SAFETY: __errno_location returns this thread's errno slot, valid for reading.
    unsafe { *libc::__errno_location() }
}

fn sleep_nanos(nanos: i64) {
    let pause = libc::timespec {
        tv_sec: 0,
        tv_nsec: nanos.clamp(0, 999_999_999) as libc::c_long,
    };
    // SAFETY: `pause` is a valid timespec; a null remainder is allowed; nanosleep is async-signal-safe.
    unsafe { libc::nanosleep(&pause, std::ptr::null_mut()) };
}

/// Sends one message to the server; a server that has gone is no error here.
fn send_message(control: RawFd, kind: u8, value: i32) {
    let value = value.to_ne_bytes();
    let message = [kind, 0, 0, 0, value[0], value[1], value[2], value[3]];
    // SAFETY: `message` is valid for its 8 bytes for the duration of the call; MSG_NOSIGNAL avoids SIGPIPE.
    let _ = unsafe {
        libc::send(
            control,
            message.as_ptr().cast(),
            message.len(),
            libc::MSG_NOSIGNAL,
        )
    };
}

/// The supervisor's descriptors once it has arranged them: the script's stdin, stdout and stderr at 0, 1, 2, the control socket at 3.
const CONTROL_FD: RawFd = 3;

/// The supervisor: runs in the child of `fork`, never returns.
///
/// # Safety
///
/// Must be called only in the child of a fork, with `child_fds` the descriptors the child inherited
/// (script stdin read end, stdout write end, stderr write end, control socket). Makes only async-signal-safe calls.
unsafe fn supervise(plan: &SpawnPlan, child_fds: [RawFd; 4], masks: &SignalMasks) -> ! {
    // SAFETY (whole function): every call below is an async-signal-safe system call over memory prepared before the fork
    // (`plan`, `child_fds`, `masks`) or local to this stack frame; nothing allocates, locks or unwinds.
    unsafe {
        // Its own process group: a terminal's Ctrl-C, meant for the server, must not kill it before it has cleaned up.
        libc::setpgid(0, 0);
        // Wake-up signals are blocked except while waiting in ppoll, and caught there.
        libc::sigprocmask(libc::SIG_SETMASK, &masks.watched, std::ptr::null_mut());
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_watched_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        for signal in WATCHED_SIGNALS {
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }

        // Move the four descriptors out of the way first, so that placing them at 0 to 3 cannot overwrite one of them.
        let mut high = [-1; 4];
        for (slot, fd) in high.iter_mut().zip(child_fds) {
            *slot = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10);
            if *slot < 0 {
                libc::_exit(127);
            }
        }
        for (target, fd) in (0..).zip(high) {
            if libc::dup2(fd, target) < 0 {
                libc::_exit(127);
            }
        }
        // The control socket must not reach the script: close it on exec.
        libc::fcntl(CONTROL_FD, libc::F_SETFD, libc::FD_CLOEXEC);
        // Everything else the server had open (its sockets, other requests' pipes) is not ours to keep open.
        close_from(CONTROL_FD + 1);
        // Orphans of the script's tree come to us, not to init, so we can find and reap them.
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

        let mut exec_error = [0; 2];
        if libc::pipe2(exec_error.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            send_message(CONTROL_FD, MESSAGE_SPAWN_FAILED, errno());
            libc::_exit(0);
        }
        let script = libc::fork();
        if script < 0 {
            send_message(CONTROL_FD, MESSAGE_SPAWN_FAILED, errno());
            libc::_exit(0);
        }
        if script == 0 {
            libc::close(exec_error[0]);
            exec_script(plan, masks, exec_error[1]);
        }
        libc::close(exec_error[1]);
        let mut reported = [0u8; 4];
        let mut filled = 0;
        while filled < reported.len() {
            let read = libc::read(
                exec_error[0],
                reported[filled..].as_mut_ptr().cast(),
                reported.len() - filled,
            );
            if read > 0 {
                filled += read.unsigned_abs();
            } else if read == 0 || errno() != libc::EINTR {
                break;
            }
        }
        libc::close(exec_error[0]);
        if filled == reported.len() {
            let mut status = 0;
            libc::waitpid(script, &mut status, 0);
            send_message(
                CONTROL_FD,
                MESSAGE_SPAWN_FAILED,
                i32::from_ne_bytes(reported),
            );
            libc::_exit(0);
        }
        send_message(CONTROL_FD, MESSAGE_STARTED, script);
        // The script's ends of its pipes are its own now: ours would keep them open after it and its children are gone.
        for fd in 0..CONTROL_FD {
            libc::close(fd);
        }

        let mut script_reaped = false;
        loop {
            reap_children(script, &mut script_reaped);
            if STOP_REQUESTED.load(Ordering::Relaxed) {
                break;
            }
            let mut entry = libc::pollfd {
                fd: CONTROL_FD,
                events: libc::POLLIN,
                revents: 0,
            };
            let ready = libc::ppoll(&mut entry, 1, std::ptr::null(), &masks.empty);
            if ready > 0 {
                // A byte from the server, or end of file because the server is gone: either way, clean up.
                // The byte is taken off the socket: closing it unread would make the server's next read fail with
                // ECONNRESET ahead of the messages still to come.
                let mut byte = [0u8; 1];
                libc::recv(CONTROL_FD, byte.as_mut_ptr().cast(), 1, libc::MSG_DONTWAIT);
                break;
            }
        }

        let leftovers = kill_tree(script, &mut script_reaped);
        send_message(
            CONTROL_FD,
            MESSAGE_DONE,
            i32::try_from(leftovers).unwrap_or(i32::MAX),
        );
        libc::_exit(0);
    }
}

/// Reaps every child that has exited (by `waitpid(-1)`, in the supervisor only, whose children are all the script's tree),
/// reporting the script's own status to the server.
///
/// Returns `false` when there are no children left at all.
///
/// # Safety
///
/// Only in the supervisor (async-signal-safe calls only).
unsafe fn reap_children(script: libc::pid_t, script_reaped: &mut bool) -> bool {
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid, writable int; the supervisor owns every child it has.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid > 0 {
            if pid == script {
                *script_reaped = true;
                send_message(CONTROL_FD, MESSAGE_EXITED, status);
            }
            continue;
        }
        if pid == 0 {
            return true;
        }
        if errno() == libc::EINTR {
            continue;
        }
        return false;
    }
}

/// Kills the script's process group (while the script is unreaped, its group id cannot have passed to anyone else)
/// and every process below the supervisor, sweep after sweep, until it has no child left (or its patience runs out).
/// Returns how many processes other than the script were still running when it started.
///
/// # Safety
///
/// Only in the supervisor (async-signal-safe calls only).
unsafe fn kill_tree(script: libc::pid_t, script_reaped: &mut bool) -> usize {
    // With no child left there is nothing below us at all (every orphan of the tree comes to us): the common case,
    // a script that started nothing or whose children have ended, costs no look at /proc.
    // SAFETY: we are the supervisor.
    if !unsafe { reap_children(script, script_reaped) } {
        return 0;
    }
    // SAFETY: getpid is async-signal-safe and cannot fail.
    let supervisor = unsafe { libc::getpid() };
    let leftovers = sweep(supervisor, script, false);
    // Patience is counted in the time slept between sweeps, which needs no clock.
    let mut slept = 0;
    let mut pause = 200_000;
    loop {
        if !*script_reaped && script > 1 {
            // SAFETY: kill takes plain integers; a negative pid addresses the script's group. While the script is unreaped,
            // its id, and so its group's, cannot have passed to another process; above 1, it is never "all processes".
            unsafe { libc::kill(-script, libc::SIGKILL) };
        }
        sweep(supervisor, script, true);
        // SAFETY: we are the supervisor.
        if !unsafe { reap_children(script, script_reaped) } {
            break;
        }
        if slept >= KILL_PATIENCE_NANOS {
            break;
        }
        sleep_nanos(pause);
        slept += pause;
        pause = (pause * 2).min(20_000_000);
    }
    leftovers
}

/// One pass over `/proc`, repeated while it finds more: every live process whose parent is the supervisor or one already found.
/// With `kill`, each is sent SIGKILL as it is found. Returns how many were found, the script not counted.
fn sweep(supervisor: libc::pid_t, script: libc::pid_t, kill: bool) -> usize {
    let mut tracked = [0 as libc::pid_t; MAX_TRACKED];
    tracked[0] = supervisor;
    let mut count = 1;
    let mut found_others = 0;
    for _ in 0..64 {
        let before = count;
        for_each_process(|pid, parent, state| {
            let known = tracked[..count].contains(&pid);
            if known || matches!(state, b'Z' | b'X' | b'x') || !tracked[..count].contains(&parent) {
                return;
            }
            if count < MAX_TRACKED {
                tracked[count] = pid;
                count += 1;
            }
            if pid != script {
                found_others += 1;
            }
            if kill {
                // SAFETY: kill takes plain integers; `pid` is a positive process id found below the supervisor.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        });
        if count == before {
            break;
        }
    }
    found_others
}

/// Calls `visit(pid, parent pid, state letter)` for every process listed in `/proc`, reading nothing but fixed buffers.
fn for_each_process(mut visit: impl FnMut(libc::pid_t, libc::pid_t, u8)) {
    // SAFETY: a valid NUL-terminated path; open is async-signal-safe.
    let proc_fd = unsafe {
        libc::open(
            c"/proc".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if proc_fd < 0 {
        return;
    }
    let mut entries = [0u8; 4096];
    loop {
        // SAFETY: `entries` is valid and writable for its length; getdents64 fills it with whole records.
        let read = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                proc_fd,
                entries.as_mut_ptr(),
                entries.len(),
            )
        };
        let Ok(read) = usize::try_from(read) else {
            break;
        };
        if read == 0 {
            break;
        }
        let mut offset = 0;
        // Each record: d_ino (8 bytes), d_off (8), d_reclen (2), d_type (1), then the NUL-terminated name.
        while let Some(record) = entries.get(offset..read) {
            let Some(&[low, high]) = record.get(16..18) else {
                break;
            };
            let length = usize::from(u16::from_ne_bytes([low, high]));
            if length == 0 {
                break;
            }
            let name = record.get(19..length.min(record.len())).unwrap_or(&[]);
            let name = name.split(|&byte| byte == 0).next().unwrap_or(&[]);
            if let Some(pid) = parse_pid(name) {
                if let Some((parent, state)) = read_parent(proc_fd, name) {
                    visit(pid, parent, state);
                }
            }
            offset += length;
        }
    }
    // SAFETY: `proc_fd` is ours and open.
    unsafe { libc::close(proc_fd) };
}

fn parse_pid(name: &[u8]) -> Option<libc::pid_t> {
    if name.is_empty() || name.len() > 10 || !name.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut pid: libc::pid_t = 0;
    for &digit in name {
        pid = pid
            .checked_mul(10)?
            .checked_add(libc::pid_t::from(digit - b'0'))?;
    }
    Some(pid)
}

/// The parent pid and state letter of `/proc/<name>/stat`: `pid (comm) S ppid ...`, the name possibly holding spaces and `)`.
fn read_parent(proc_fd: RawFd, name: &[u8]) -> Option<(libc::pid_t, u8)> {
    let mut path = [0u8; 24];
    let suffix = b"/stat\0";
    let end = name.len() + suffix.len();
    path.get_mut(..name.len())?.copy_from_slice(name);
    path.get_mut(name.len()..end)?.copy_from_slice(suffix);
    // SAFETY: `path` holds a NUL-terminated relative path; openat is async-signal-safe.
    let fd = unsafe {
        libc::openat(
            proc_fd,
            path.as_ptr().cast(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return None;
    }
    let mut stat = [0u8; 512];
    // SAFETY: `stat` is valid and writable for its length.
    let read = unsafe { libc::read(fd, stat.as_mut_ptr().cast(), stat.len()) };
    // SAFETY: `fd` is ours and open.
    unsafe { libc::close(fd) };
    let stat = stat.get(..usize::try_from(read).ok()?)?;
    let close = stat.iter().rposition(|&byte| byte == b')')?;
    let mut fields = stat
        .get(close + 1..)?
        .split(|&byte| byte == b' ')
        .filter(|field| !field.is_empty());
    let state = *fields.next()?.first()?;
    let parent = parse_pid(fields.next()?)?;
    Some((parent, state))
}

/// Closes every descriptor from `first` up: close_range(2), or one by one up to the descriptor limit on older kernels.
///
/// # Safety
///
/// Closes descriptors this process may still think open: only in a forked child.
unsafe fn close_from(first: RawFd) {
    let Ok(first) = libc::c_uint::try_from(first) else {
        return;
    };
    // SAFETY: close_range takes plain integers.
    if unsafe { libc::syscall(libc::SYS_close_range, first, libc::c_uint::MAX, 0) } == 0 {
        return;
    }
    // SAFETY: an all-zero rlimit is a valid value for getrlimit to overwrite.
    let mut limit: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: `limit` is a valid, writable rlimit.
    let top = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        limit.rlim_cur.min(1 << 20)
    } else {
        1024
    };
    let top = libc::c_uint::try_from(top).unwrap_or(1 << 20);
    for fd in first..top {
        // SAFETY: closing a descriptor number that may not be open is harmless (EBADF).
        unsafe { libc::close(fd as libc::c_int) };
    }
}

/// The script's side of the fork: signals back to their defaults, its own process group, its user, its directory, exec.
/// On failure the errno goes down `error_pipe` and the process exits.
///
/// # Safety
///
/// Only in the script's child of the supervisor's fork (async-signal-safe calls only).
unsafe fn exec_script(plan: &SpawnPlan, masks: &SignalMasks, error_pipe: RawFd) -> ! {
    // SAFETY (whole function): async-signal-safe system calls over memory prepared before the server's fork.
    unsafe {
        // Handlers reset on exec by themselves, but ignored signals (the server ignores SIGPIPE) would stay ignored.
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        for signal in 1..=LAST_SIGNAL {
            libc::sigaction(signal, &default, std::ptr::null_mut());
        }
        libc::sigprocmask(libc::SIG_SETMASK, &masks.empty, std::ptr::null_mut());
        let fail = |error: libc::c_int| -> ! {
            let bytes = error.to_ne_bytes();
            libc::write(error_pipe, bytes.as_ptr().cast(), bytes.len());
            libc::_exit(127);
        };
        if libc::setpgid(0, 0) != 0 {
            fail(errno());
        }
        if let Some((uid, gid)) = plan.ids {
            if libc::setgid(gid) != 0 {
                fail(errno());
            }
            // Root's supplementary groups must not stay with the script's new user.
            if plan.drop_groups && libc::setgroups(0, std::ptr::null()) != 0 {
                fail(errno());
            }
            if libc::setuid(uid) != 0 {
                fail(errno());
            }
        }
        if libc::chdir(plan.directory.as_ptr()) != 0 {
            fail(errno());
        }
        libc::execve(
            plan.program.as_ptr(),
            plan.argument_pointers.as_ptr(),
            plan.environment_pointers.as_ptr(),
        );
        fail(errno());
    }
}

/// poll(2) event: data to read.
pub(crate) const READABLE: libc::c_short = libc::POLLIN;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_sees_data_and_timeouts() {
        use std::io::Write;
        use std::os::fd::AsFd;
        use std::os::unix::net::UnixStream;

        let (mut writer, reader) = UnixStream::pair().unwrap_or_else(|error| panic!("{error}"));
        let wait = Duration::from_millis(10);
        assert_eq!(poll_one(reader.as_fd(), READABLE, wait).ok(), Some(false));
        assert_eq!(
            poll_one(writer.as_fd(), libc::POLLOUT, wait).ok(),
            Some(true)
        );
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
    fn effective_uid_matches_proc() {
        use std::os::unix::fs::MetadataExt;
        if let Ok(metadata) = std::fs::metadata("/proc/self") {
            assert_eq!(effective_uid(), metadata.uid());
        }
    }
}
