//! Running a script: a clean environment, its own process group, streamed input and output, a timeout, and no zombies.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::output::HeaderParser;
use crate::{
    is_cgi, split_script, sys, translate_decoded_path, CgiError, ScriptHeaders, ScriptPath,
};

/// How long a script may run when nothing else is configured (`--cgi-timeout`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The user id and group id used for `nobody` when `/etc/passwd` does not name it.
pub const NOBODY_FALLBACK: (u32, u32) = (65534, 65534);

/// The longest stderr line handed to the logging callback; longer lines arrive in pieces.
const MAX_STDERR_LINE: usize = 4096;

/// How many times a script file that is busy (still open for writing somewhere) is tried before giving up.
const SPAWN_ATTEMPTS: u32 = 6;

/// How often a stream wait looks whether the script was killed.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How long the script's pipes may stay open after the script was killed or has exited.
/// A process it started (and, past a kill, one that left its group with `setsid`) may hold them open for ever;
/// after this the server stops waiting for it.
const GRACE_AFTER_KILL: Duration = Duration::from_secs(1);

/// The most bytes written to the script's stdin after one readiness check; a pipe with room takes this much without blocking.
const STDIN_PIECE: usize = 4096;

/// Which user a script runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunAs {
    /// As Python: `nobody` when the server runs as root, otherwise the server's own user.
    #[default]
    Auto,
    /// The server's own user, even root.
    CurrentUser,
    /// This user and group (setting them needs root).
    User {
        /// The user id.
        uid: u32,
        /// The group id.
        gid: u32,
    },
}

impl RunAs {
    /// The user and group to switch to, or `None` to stay as we are.
    pub fn resolve(self) -> Option<(u32, u32)> {
        match self {
            RunAs::Auto => (sys::effective_uid() == 0).then(nobody_ids),
            RunAs::CurrentUser => None,
            RunAs::User { uid, gid } => Some((uid, gid)),
        }
    }
}

/// The user and group ids of `nobody`, from `/etc/passwd`, else [`NOBODY_FALLBACK`]; looked up once, as Python's `nobody_uid`.
#[doc(alias = "nobody_uid")]
pub fn nobody_ids() -> (u32, u32) {
    static NOBODY: OnceLock<(u32, u32)> = OnceLock::new();
    *NOBODY.get_or_init(|| {
        fs::read_to_string("/etc/passwd")
            .ok()
            .and_then(|passwd| passwd_user(&passwd, "nobody"))
            .unwrap_or(NOBODY_FALLBACK)
    })
}

/// The user and group ids of `user` in the text of a passwd(5) file (`name:password:uid:gid:...`).
pub fn passwd_user(passwd: &str, user: &str) -> Option<(u32, u32)> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        if fields.next()? != user {
            return None;
        }
        let _password = fields.next()?;
        let uid = fields.next()?.trim().parse().ok()?;
        let gid = fields.next()?.trim().parse().ok()?;
        Some((uid, gid))
    })
}

/// A request path that names a script: where it is, in the URL and on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptTarget {
    /// The path split into script name, `PATH_INFO` and query.
    pub path: ScriptPath,
    /// The script file under the document root (not yet checked, see [`check_script_file`]).
    pub file: PathBuf,
}

/// Finds the script a request path names under `document_root`, as Python's `is_cgi` and the first half of `run_cgi`:
/// `None` when the path is not under one of `cgi_directories` (or climbs above the root, see [`is_cgi`]).
///
/// Nested script directories are found by looking at the disk ([`split_script`] with a real directory test).
pub fn find_script<S: AsRef<str>>(
    request_path: &str,
    cgi_directories: &[S],
    document_root: &Path,
) -> Option<ScriptTarget> {
    let (directory, rest) = is_cgi(request_path, cgi_directories)?;
    let path = split_script(&directory, &rest, |url_path| {
        translate_decoded_path(document_root, url_path).is_dir()
    });
    let file = translate_decoded_path(document_root, &path.script_name);
    Some(ScriptTarget { path, file })
}

/// Why a script file cannot be run: Python's checks in `run_cgi`, before anything is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptFileError {
    /// Nothing by that name: 404 `No such CGI script`.
    Missing,
    /// A directory or other non-regular file: 403 `CGI script is not a plain file`.
    NotAFile,
    /// Nobody may execute it: 403 `CGI script is not executable`.
    NotExecutable,
}

impl ScriptFileError {
    /// The status Python answers with.
    pub fn status(self) -> u16 {
        match self {
            ScriptFileError::Missing => 404,
            ScriptFileError::NotAFile | ScriptFileError::NotExecutable => 403,
        }
    }

    /// Python's error message for the script at URL path `script_name`.
    pub fn message(self, script_name: &str) -> String {
        match self {
            ScriptFileError::Missing => format!("No such CGI script ('{script_name}')"),
            ScriptFileError::NotAFile => {
                format!("CGI script is not a plain file ('{script_name}')")
            }
            ScriptFileError::NotExecutable => {
                format!("CGI script is not executable ('{script_name}')")
            }
        }
    }
}

/// Checks that `path` is a regular file with an execute bit, as Python's `run_cgi` (with `is_executable`).
pub fn check_script_file(path: &Path) -> Result<(), ScriptFileError> {
    let metadata = fs::metadata(path).map_err(|_| ScriptFileError::Missing)?;
    if !metadata.is_file() {
        return Err(ScriptFileError::NotAFile);
    }
    if metadata.permissions().mode() & 0o111 == 0 {
        return Err(ScriptFileError::NotExecutable);
    }
    Ok(())
}

/// What to do with the body once the header block is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// Write it to the output as it arrives.
    Forward,
    /// Read and drop it (a HEAD request, a local redirect), so the script can finish.
    Discard,
}

/// How a script run ended, when it produced a usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptOutcome {
    /// The script's process id (and process group id).
    pub pid: u32,
    /// How the script exited; `None` only if it could not be waited for.
    pub exit_status: Option<ExitStatus>,
    /// The timeout struck after the answer had started, so the body is cut short: the server must close the connection.
    pub timed_out: bool,
    /// Bytes of body written to the output (for an NPH script, all of its output).
    pub body_bytes: u64,
    /// Bytes of the request body passed to the script's stdin.
    /// Fewer than the request's Content-Length means the script stopped reading and the rest is still unread:
    /// the server must then close the connection rather than read the rest as the next request.
    pub request_bytes: u64,
}

/// One script to run: what Python's `run_cgi` does after its checks, with a clean environment and a timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptCommand {
    /// The script file; its directory becomes the working directory.
    pub program: PathBuf,
    /// Command-line arguments after the script's own name (see [`query_arguments`](crate::query_arguments)).
    pub args: Vec<OsString>,
    /// The whole environment (see [`build_environment`](crate::build_environment)); nothing else is inherited.
    pub env: Vec<(OsString, OsString)>,
    /// After this long the script's process group is killed; `None` lets it run forever, as Python does.
    pub timeout: Option<Duration>,
    /// Which user the script runs as.
    pub run_as: RunAs,
    /// Pass the output through untouched (a "non-parsed header" script, see [`is_nph`](crate::is_nph)).
    pub nph: bool,
}

impl ScriptCommand {
    /// A command for `program` with no arguments, an empty environment, [`DEFAULT_TIMEOUT`] and [`RunAs::Auto`].
    pub fn new(program: impl Into<PathBuf>) -> ScriptCommand {
        ScriptCommand {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            timeout: Some(DEFAULT_TIMEOUT),
            run_as: RunAs::Auto,
            nph: false,
        }
    }

    /// Runs the script: `request_body` streams into its stdin, its header block goes to `on_headers` and its body to `output`,
    /// each stderr line to `on_stderr`.
    ///
    /// The script starts in its own process group, from an empty environment plus [`env`](Self::env), in its own directory,
    /// as `nobody` when the server is root ([`RunAs::Auto`]).
    /// `on_headers` is called once, when the header block is complete and valid, before any body is written;
    /// it writes the status line and headers to the output and says whether the body is wanted.
    /// An NPH script's output goes straight to `output`, and `on_headers` is never called.
    ///
    /// Nothing is held whole in memory: input and output move in 16 KiB pieces, the header block is bounded.
    /// When the timeout strikes, the whole process group gets SIGKILL. The script is always waited for, so no zombie is left.
    ///
    /// `request_body` is read on a helper thread that this call waits for before returning; give it a bounded reader
    /// (the request's Content-Length over a socket with a read timeout).
    ///
    /// # Errors
    ///
    /// Before `on_headers` has run (nothing sent yet): the [`CgiError`] to answer with ([`CgiError::status`]):
    /// a bad header block, [`CgiError::Timeout`], [`CgiError::Spawn`].
    /// After it: [`CgiError::Write`] when the client went away (the script is then killed) or [`CgiError::Read`].
    pub fn run<R, W, H, L>(
        &self,
        request_body: R,
        output: &mut W,
        on_headers: H,
        on_stderr: L,
    ) -> Result<ScriptOutcome, CgiError>
    where
        R: Read + Send,
        W: Write + ?Sized,
        H: FnOnce(&ScriptHeaders, &mut W) -> io::Result<Body>,
        L: FnMut(&str) + Send,
    {
        let mut child = self
            .spawn()
            .map_err(|error| CgiError::Spawn(error.kind()))?;
        let pid = child.id();
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            // Cannot happen with three piped streams; stop the script rather than panic.
            let guard = Guard::new(pid);
            guard.kill();
            let _ = guard.reap(&mut child);
            return Err(CgiError::Spawn(io::ErrorKind::Other));
        };
        let guard = Guard::new(pid);
        let (finished, finished_signal) = mpsc::channel::<()>();

        thread::scope(|scope| {
            let guard = &guard;
            let feeder = scope.spawn(move || feed(request_body, stdin, guard));
            let logger = scope.spawn(move || log_lines(stderr, on_stderr, guard));
            if let Some(timeout) = self.timeout {
                scope.spawn(move || {
                    if let Err(RecvTimeoutError::Timeout) = finished_signal.recv_timeout(timeout) {
                        guard.time_out();
                    }
                });
            }

            let pumped = pump(stdout, output, self.nph, on_headers, guard);
            if pumped.result.is_err() {
                guard.kill();
            }
            let exit_status = guard.reap(&mut child);
            drop(finished);
            let request_bytes = feeder.join().unwrap_or(0);
            let _ = logger.join();

            let timed_out = guard.timed_out();
            let answered = pumped.answered || pumped.body_bytes > 0;
            match pumped.result {
                _ if timed_out && !answered => Err(CgiError::Timeout),
                Err(error) => Err(error),
                Ok(()) => Ok(ScriptOutcome {
                    pid,
                    exit_status,
                    timed_out,
                    body_bytes: pumped.body_bytes,
                    request_bytes,
                }),
            }
        })
    }

    fn spawn(&self) -> io::Result<Child> {
        // An absolute path, so it is neither looked up in PATH nor read relative to the new working directory.
        let program = std::path::absolute(&self.program)?;
        let directory = program.parent().unwrap_or(Path::new("/"));
        let mut command = Command::new(&program);
        if let Some(name) = program.file_name() {
            command.arg0(name);
        }
        command
            .args(&self.args)
            .env_clear()
            .envs(self.env.iter().map(|(name, value)| (name, value)))
            .current_dir(directory)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        if let Some((uid, gid)) = self.run_as.resolve() {
            // std drops the supplementary groups when root changes uid.
            command.gid(gid).uid(uid);
        }
        // A script being written is "busy" (ETXTBSY) while any process holds it open for writing, and a file just written
        // can stay open a moment longer in a process that another thread is forking; both pass quickly, so try again.
        let mut pause = Duration::from_millis(10);
        for _ in 0..SPAWN_ATTEMPTS - 1 {
            match command.spawn() {
                Err(error) if error.raw_os_error() == Some(libc::ETXTBSY) => thread::sleep(pause),
                other => return other,
            }
            pause *= 2;
        }
        command.spawn()
    }
}

/// What the output pump saw.
struct Pumped {
    result: Result<(), CgiError>,
    /// `on_headers` ran, so something may have been sent.
    answered: bool,
    body_bytes: u64,
}

/// Reads the script's stdout: the header block through the parser, then the body to `output`.
fn pump<W, H>(
    mut stdout: ChildStdout,
    output: &mut W,
    nph: bool,
    on_headers: H,
    guard: &Guard,
) -> Pumped
where
    W: Write + ?Sized,
    H: FnOnce(&ScriptHeaders, &mut W) -> io::Result<Body>,
{
    let mut pumped = Pumped {
        result: Ok(()),
        answered: false,
        body_bytes: 0,
    };
    let mut parser = (!nph).then(HeaderParser::new);
    let mut on_headers = Some(on_headers);
    let mut body = Body::Forward;
    let mut buffer = vec![0u8; 16 * 1024];
    pumped.result = loop {
        if !guard.wait_ready(stdout.as_fd(), sys::READABLE) {
            break Ok(());
        }
        let read = match stdout.read(&mut buffer) {
            Ok(0) => break Ok(()),
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => break Err(CgiError::Read(error.kind())),
        };
        let mut data = &buffer[..read];
        if let Some(header_parser) = parser.as_mut() {
            let (headers, used) = match header_parser.feed(data) {
                Ok(Some(complete)) => complete,
                Ok(None) => continue,
                Err(error) => break Err(error),
            };
            parser = None;
            pumped.answered = true;
            if let Some(on_headers) = on_headers.take() {
                match on_headers(&headers, output) {
                    Ok(wanted) => body = wanted,
                    Err(error) => break Err(CgiError::Write(error.kind())),
                }
            }
            data = &data[used..];
        }
        if body == Body::Forward && !data.is_empty() {
            if let Err(error) = output.write_all(data) {
                break Err(CgiError::Write(error.kind()));
            }
            pumped.body_bytes += data.len() as u64;
        }
    };
    if pumped.result.is_ok() {
        if let Some(header_parser) = &parser {
            pumped.result = Err(header_parser.finish());
        } else if let Err(error) = output.flush() {
            pumped.result = Err(CgiError::Write(error.kind()));
        }
    }
    pumped
}

/// Copies the request body into the script's stdin until either side ends, then closes stdin; the bytes copied.
///
/// A script that stops reading (exits, or closes stdin) ends the copy with a broken pipe, which is not an error here.
/// Writes wait until the pipe has room, so a killed script's stdin held open by an escaped child cannot block the server for ever.
fn feed<R: Read>(mut request_body: R, mut stdin: ChildStdin, guard: &Guard) -> u64 {
    let mut buffer = vec![0u8; 16 * 1024];
    let mut copied = 0;
    'reading: loop {
        let read = match request_body.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        for piece in buffer[..read].chunks(STDIN_PIECE) {
            if !guard.wait_ready(stdin.as_fd(), sys::WRITABLE) || stdin.write_all(piece).is_err() {
                break 'reading;
            }
            copied += piece.len() as u64;
        }
    }
    copied
}

/// Hands each line of the script's stderr (without its line end, invalid UTF-8 replaced) to `on_line`.
///
/// Lines longer than [`MAX_STDERR_LINE`] are passed on in pieces, so a script cannot make the server buffer without end.
fn log_lines(mut stderr: ChildStderr, mut on_line: impl FnMut(&str), guard: &Guard) {
    let mut line = Vec::new();
    let mut buffer = [0u8; 4096];
    let mut emit = |line: &mut Vec<u8>| {
        let text = line.strip_suffix(b"\r").unwrap_or(line);
        on_line(&String::from_utf8_lossy(text));
        line.clear();
    };
    loop {
        if !guard.wait_ready(stderr.as_fd(), sys::READABLE) {
            break;
        }
        let read = match stderr.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        for &byte in &buffer[..read] {
            if byte == b'\n' {
                emit(&mut line);
            } else {
                line.push(byte);
                if line.len() >= MAX_STDERR_LINE {
                    emit(&mut line);
                }
            }
        }
    }
    if !line.is_empty() {
        emit(&mut line);
    }
}

/// Who may still signal the script's process group: the timeout thread and the caller share it,
/// and nobody signals after the script was reaped (its id, and so its group's, could then belong to another process).
struct Guard {
    pid: u32,
    state: Mutex<GuardState>,
}

#[derive(Default)]
struct GuardState {
    reaped: bool,
    timed_out: bool,
    /// When the script was killed or reaped: from then on its pipes get [`GRACE_AFTER_KILL`] more.
    ended_at: Option<Instant>,
}

impl Guard {
    fn new(pid: u32) -> Guard {
        Guard {
            pid,
            state: Mutex::new(GuardState::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GuardState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Kills the process group unless the script was already reaped.
    fn kill(&self) {
        let mut state = self.lock();
        if !state.reaped {
            // The group may already be gone (ESRCH); there is nothing else to do then.
            let _ = sys::kill_process_group(self.pid);
            state.ended_at.get_or_insert_with(Instant::now);
        }
    }

    /// The timeout struck: kill and remember it.
    fn time_out(&self) {
        let mut state = self.lock();
        if !state.reaped {
            state.timed_out = true;
            let _ = sys::kill_process_group(self.pid);
            state.ended_at.get_or_insert_with(Instant::now);
        }
    }

    /// Waits until `fd` is ready for `events`; `false` when the script ended (killed or exited) long enough ago that waiting is pointless.
    fn wait_ready(&self, fd: BorrowedFd<'_>, events: libc::c_short) -> bool {
        loop {
            match sys::poll_one(fd, events, POLL_INTERVAL) {
                Ok(true) => return true,
                Ok(false) => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                // Let the read or write itself report the problem.
                Err(_) => return true,
            }
            let ended_at = self.lock().ended_at;
            if ended_at.is_some_and(|ended_at| ended_at.elapsed() >= GRACE_AFTER_KILL) {
                return false;
            }
        }
    }

    fn timed_out(&self) -> bool {
        self.lock().timed_out
    }

    /// Waits for the script to exit and reaps it, polling so the timeout thread can still kill it meanwhile.
    fn reap(&self, child: &mut Child) -> Option<ExitStatus> {
        let mut pause = Duration::from_millis(1);
        loop {
            {
                let mut state = self.lock();
                match child.try_wait() {
                    Ok(Some(status)) => {
                        state.reaped = true;
                        state.ended_at.get_or_insert_with(Instant::now);
                        return Some(status);
                    }
                    Ok(None) => {}
                    Err(_) => {
                        // Not our child any more (ECHILD): there is nothing to wait for, and nothing to kill.
                        state.reaped = true;
                        state.ended_at.get_or_insert_with(Instant::now);
                        return None;
                    }
                }
            }
            thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }
}

#[cfg(test)]
mod tests;
