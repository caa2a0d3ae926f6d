//! Running a script: a clean environment, a supervisor that outlives nothing it started, streamed input and output
//! on the request's own thread, a timeout, and no zombies.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use basehttp::RequestTarget;

use crate::output::HeaderParser;
use crate::sys::{SpawnPlan, Supervised, SupervisorMessage};
use crate::{route_script, sys, CgiError, ScriptHeaders, ScriptPath};

/// How long a script may run when nothing else is configured (`--cgi-timeout`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The user id and group id used for `nobody` when `/etc/passwd` does not name it.
pub const NOBODY_FALLBACK: (u32, u32) = (65534, 65534);

/// The longest stderr line handed to the logging callback; longer lines arrive in pieces.
const MAX_STDERR_LINE: usize = 4096;

/// How many times a script file that is busy (still open for writing somewhere) is tried before giving up.
const SPAWN_ATTEMPTS: u32 = 6;

/// How long the request's thread waits on the script's pipes before it looks whether the client has gone.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How long the script's pipes may stay open after its supervisor was told to kill everything:
/// a process it cannot kill (one that gained another user's rights) may hold them open for ever; after this the server stops waiting.
const GRACE_AFTER_KILL: Duration = Duration::from_secs(1);

/// How long a script may keep running once its output has ended (it closed its stdout, or it exited while a process it started
/// holds the pipe open), before everything it started is killed: its answer is complete, and nothing may outlive the request.
/// Apache's mod_cgi likewise kills a script still running when its request ends.
const GRACE_AFTER_OUTPUT: Duration = Duration::from_secs(1);

/// The most bytes written to the script's stdin after one readiness check; a pipe that polls writable takes this much without blocking.
const STDIN_PIECE: usize = 4096;

/// The largest piece of the script's output, or of the request body, moved at once.
const PIECE: usize = 16 * 1024;

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

/// Finds the script a request names under `document_root`, as Python's `is_cgi` and the first half of `run_cgi`:
/// `None` when the path is not under one of `cgi_directories` (or climbs above the root, see [`is_cgi`](crate::is_cgi)).
///
/// This is [`route_script`] with the disk answering which URL paths are directories (for nested script directories),
/// over the request's [`RequestTarget`], the reading simplehttp's file lookup shares.
pub fn find_script<S: AsRef<str>>(
    target: &RequestTarget,
    cgi_directories: &[S],
    document_root: &Path,
) -> Option<ScriptTarget> {
    let location = route_script(target, cgi_directories, |segments| {
        let mut path = document_root.to_path_buf();
        for segment in segments {
            path.push(std::ffi::OsStr::from_bytes(segment));
        }
        path.is_dir()
    })?;
    Some(ScriptTarget {
        file: location.file(document_root),
        path: location.script_path(target.query().unwrap_or("")),
    })
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
    /// The script's process id (and process group id). It ran as the child of a supervisor of its own, already reaped.
    pub pid: u32,
    /// How the script exited; `None` only if it could not be waited for.
    pub exit_status: Option<ExitStatus>,
    /// The timeout struck after the answer had started, so the body is cut short: the server must close the connection.
    pub timed_out: bool,
    /// Bytes of body written to the output (for an NPH script, all of its output).
    pub body_bytes: u64,
    /// Bytes of the request body passed to the script's stdin.
    /// Fewer than the request's Content-Length means the script stopped reading and the rest is still unread:
    /// the server must then drain the rest or close the connection, never read it as the next request.
    pub request_bytes: u64,
    /// The script's output ended (it closed its stdout, or it exited while a process it started still held the pipe)
    /// but the script, or something it started, kept running, so it was killed: after a grace of one second while the script
    /// itself ran or held the output open, at once for anything else left when the request ended.
    /// The answer is complete; `exit_status` then shows the kill when the script itself was still running.
    pub lingered: bool,
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
    /// The script starts under a supervisor process of its own, in its own process group, from an empty environment plus
    /// [`env`](Self::env), in its own directory, as `nobody` when the server is root ([`RunAs::Auto`]).
    /// The supervisor is a child subreaper: whatever the script starts, even in a new session or double-forked, stays below it,
    /// and when the run ends (answered, failed, timed out, or the server gone) everything below it is killed and reaped.
    /// `on_headers` is called once, when the header block is complete and valid, before any body is written;
    /// it writes the status line and headers to the output and says whether the body is wanted.
    /// An NPH script's output goes straight to `output`, and `on_headers` is never called.
    ///
    /// Everything happens on the calling thread, which polls the script's stdin, stdout and stderr and its supervisor together:
    /// no helper thread is started. Nothing is held whole in memory: input and output move in 16 KiB pieces, the header block is bounded.
    /// While the script's stdin is full, its output is written out, so a script that prints a lot before it reads its input
    /// never deadlocks against the server; a slow client slows the script down (its stdout pipe fills) rather than filling memory.
    /// A script that exits without reading its input ends the copy (the pipe breaks); the rest of the body stays unread.
    /// When the timeout strikes, everything the script started is killed. Once its output has ended, whatever still runs of it
    /// is killed a second later ([`ScriptOutcome::lingered`]): nothing outlives the request.
    ///
    /// Reading `request_body` blocks the calling thread: give it a bounded reader
    /// (the request's Content-Length over a socket with a read timeout); the handler bounds each read by the timeout too.
    /// While it waits for the client, the script's output waits in its pipe (and then the script), so output reaches the
    /// client as the body arrives, not while the client holds back the rest of its body.
    ///
    /// # Errors
    ///
    /// Before `on_headers` has run (nothing sent yet): the [`CgiError`] to answer with ([`CgiError::status`]):
    /// a bad header block, [`CgiError::Timeout`], [`CgiError::Spawn`].
    /// After it: [`CgiError::Write`] when the client went away (the script is then killed) or [`CgiError::Read`].
    /// At any time: [`CgiError::RequestBody`] when `request_body` fails before its end (the script is then killed).
    pub fn run<R, W, H, L>(
        &self,
        request_body: R,
        output: &mut W,
        on_headers: H,
        on_stderr: L,
    ) -> Result<ScriptOutcome, CgiError>
    where
        R: Read,
        W: Write + ?Sized,
        H: FnOnce(&ScriptHeaders, &mut W) -> io::Result<Body>,
        L: FnMut(&str),
    {
        let mut exchange = Split {
            body: request_body,
            output,
        };
        self.run_exchange(&mut exchange, on_headers, on_stderr).0
    }

    /// [`run`](Self::run) over one value that is both the request body and the response (the handler's request);
    /// with the script's exit status when it ended on its own (on failure too), `None` when it was killed here.
    pub(crate) fn run_exchange<E, H, L>(
        &self,
        exchange: &mut E,
        on_headers: H,
        on_stderr: L,
    ) -> (Result<ScriptOutcome, CgiError>, Option<ExitStatus>)
    where
        E: Exchange + ?Sized,
        H: FnOnce(&ScriptHeaders, &mut E::Output) -> io::Result<Body>,
        L: FnMut(&str),
    {
        let started = Instant::now();
        let child = match self.spawn() {
            Ok(child) => child,
            Err(error) => return (Err(CgiError::Spawn(error.kind())), None),
        };
        let mut run = Run::new(
            child,
            self.timeout
                .and_then(|timeout| started.checked_add(timeout)),
        );
        let mut pump = Pump::new(self.nph, on_headers);
        let mut stderr = StderrLines::new(on_stderr);
        let request_bytes = run.exchange_output(exchange, &mut pump, &mut stderr);
        // Whether the timeout cut the output short; a timeout striking once the output has ended cuts nothing.
        let timed_out = run.timed_out;
        if pump.result.is_ok() {
            if let Some(header_parser) = &pump.parser {
                pump.result = Err(header_parser.finish());
            } else {
                pump.unflushed = true;
                pump.flush(exchange.output());
            }
        }
        if pump.result.is_err() {
            run.kill();
        }
        let mut lingered = run.lingered;
        if pump.result.is_ok() && !lingered && !timed_out {
            // The output has ended: the script should exit now; one that keeps running is stopped after a grace.
            if !run.wait_for_exit(GRACE_AFTER_OUTPUT, &mut stderr) {
                lingered = true;
            }
        }
        let leftovers = run.finish(&mut stderr);
        if !timed_out && run.timed_out {
            // The timeout struck in the grace after the output ended: the answer is whole, the kill ours.
            lingered = true;
        }
        if pump.result.is_ok() && leftovers > 0 {
            // Something the script started still ran when its answer was complete.
            lingered = true;
        }
        stderr.finish();
        let exit_status = run.exit_status;

        let answered = pump.answered || pump.body_bytes > 0;
        let result = match pump.result {
            _ if timed_out && !answered => Err(CgiError::Timeout),
            Err(error) => Err(error),
            Ok(()) => Ok(ScriptOutcome {
                pid: run.pid,
                exit_status,
                timed_out,
                body_bytes: pump.body_bytes,
                request_bytes,
                lingered,
            }),
        };
        // A failure's exit status, for the log, unless it only shows our own kill
        // (a script that had already died keeps its own status: the kill reached only what it left behind).
        let our_kill = exit_status.is_some_and(|status| status.signal() == Some(libc::SIGKILL));
        let failure_status = exit_status.filter(|_| !(run.killed_script && our_kill));
        (result, failure_status)
    }

    fn spawn(&self) -> io::Result<Supervised> {
        // An absolute path, so it is neither looked up in PATH nor read relative to the new working directory.
        let program = std::path::absolute(&self.program)?;
        let directory = program.parent().unwrap_or(Path::new("/"));
        let arg0 = program.file_name().unwrap_or(program.as_os_str());
        let plan = SpawnPlan::new(
            &program,
            arg0,
            &self.args,
            &self.env,
            directory,
            self.run_as.resolve(),
        )?;
        // A script being written is "busy" (ETXTBSY) while any process holds it open for writing, and a file just written
        // can stay open a moment longer in a process that another thread is forking; both pass quickly, so try again.
        let mut pause = Duration::from_millis(10);
        for _ in 0..SPAWN_ATTEMPTS - 1 {
            match sys::spawn_supervised(&plan) {
                Err(error) if error.raw_os_error() == Some(libc::ETXTBSY) => thread::sleep(pause),
                other => return other,
            }
            pause *= 2;
        }
        sys::spawn_supervised(&plan)
    }
}

/// The two sides of a script run as one value: where the request body comes from and where the answer goes.
///
/// One value rather than two because the handler reads `rfile` and writes `wfile` of the same request.
pub(crate) trait Exchange {
    /// Where the answer goes.
    type Output: Write + ?Sized;
    /// Reads the next piece of the request body; `Ok(0)` at its end.
    /// A read that would wait past `deadline` (the script's timeout) should fail rather than wait.
    fn read_body(&mut self, buffer: &mut [u8], deadline: Option<Instant>) -> io::Result<usize>;
    /// The answer's writer.
    fn output(&mut self) -> &mut Self::Output;
    /// Whether the client has closed or reset the connection, so no answer can reach it; asked while the script is silent.
    fn client_gone(&mut self) -> bool {
        false
    }
    /// Whether the server is stopping, so the script must be killed now; asked at least every [`POLL_INTERVAL`].
    fn stopping(&mut self) -> bool {
        false
    }
}

/// [`Exchange`] for a separate reader and writer, as [`ScriptCommand::run`] takes them.
struct Split<'w, R, W: ?Sized> {
    body: R,
    output: &'w mut W,
}

impl<R: Read, W: Write + ?Sized> Exchange for Split<'_, R, W> {
    type Output = W;

    fn read_body(&mut self, buffer: &mut [u8], _deadline: Option<Instant>) -> io::Result<usize> {
        self.body.read(buffer)
    }

    fn output(&mut self) -> &mut W {
        self.output
    }
}

/// One running script, seen from the request's thread: its pipes, its supervisor, and where its run stands.
struct Run {
    supervisor: u32,
    pid: u32,
    control: Option<File>,
    stdin: Option<File>,
    stdout: Option<File>,
    stderr: Option<File>,
    deadline: Option<Instant>,
    /// The script's exit status, once its supervisor has reported it.
    exit_status: Option<ExitStatus>,
    /// When the script's exit was reported.
    exited_at: Option<Instant>,
    /// When the supervisor was told to kill everything.
    killed_at: Option<Instant>,
    /// The kill came while the script itself still ran, so its exit status may show our SIGKILL.
    killed_script: bool,
    timed_out: bool,
    lingered: bool,
    /// How many processes besides the script the supervisor found still running at the end.
    leftovers: Option<u32>,
    /// The supervisor has been reaped.
    finished: bool,
}

impl Drop for Run {
    /// A run left early (a panic in a callback) still ends its script and leaves no zombie:
    /// closing the socket tells the supervisor to kill everything, and it is then reaped by its id.
    fn drop(&mut self) {
        if !self.finished {
            self.control = None;
            let _ = sys::wait_for(self.supervisor);
        }
    }
}

impl Run {
    fn new(child: Supervised, deadline: Option<Instant>) -> Run {
        Run {
            supervisor: child.supervisor,
            pid: child.script,
            control: Some(File::from(child.control)),
            stdin: Some(File::from(child.stdin)),
            stdout: Some(File::from(child.stdout)),
            stderr: Some(File::from(child.stderr)),
            deadline,
            exit_status: None,
            exited_at: None,
            killed_at: None,
            killed_script: false,
            timed_out: false,
            lingered: false,
            leftovers: None,
            finished: false,
        }
    }

    /// Tells the supervisor to kill the script and everything it started (once).
    fn kill(&mut self) {
        if self.killed_at.is_none() {
            self.killed_at = Some(Instant::now());
            self.killed_script = self.exit_status.is_none();
            if let Some(control) = &self.control {
                sys::send_kill(control.as_fd());
            }
        }
    }

    /// The timeout has struck: kill, and remember it.
    fn check_deadline(&mut self) {
        if !self.timed_out
            && self
                .deadline
                .is_some_and(|deadline| Instant::now() >= deadline)
        {
            self.timed_out = true;
            self.kill();
        }
    }

    fn killed_long_ago(&self) -> bool {
        self.killed_at
            .is_some_and(|killed_at| killed_at.elapsed() >= GRACE_AFTER_KILL)
    }

    /// Reads what the supervisor has said, without waiting.
    fn read_messages(&mut self) {
        while let Some(control) = &self.control {
            match sys::receive_message(control.as_fd(), Some(Duration::ZERO)) {
                Ok(Some(SupervisorMessage::Exited(status))) => {
                    self.exit_status = Some(ExitStatus::from_raw(status));
                    self.exited_at = Some(Instant::now());
                }
                Ok(Some(SupervisorMessage::Done(count))) => self.leftovers = Some(count),
                Ok(Some(_)) => {}
                // A reset is reported once, ahead of what is still queued (the supervisor closed with something unread).
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionReset
                    ) => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
                // End of file, or a broken socket: the supervisor has gone.
                Ok(None) | Err(_) => self.control = None,
            }
        }
    }

    /// The poll entry for `file` with `events`, or one that poll ignores when the file is closed.
    fn entry(file: Option<&File>, events: libc::c_short) -> libc::pollfd {
        libc::pollfd {
            fd: file.map_or(-1, std::os::fd::AsRawFd::as_raw_fd),
            events,
            revents: 0,
        }
    }

    /// Reads one piece of stderr into `stderr`; closes it at end of file.
    fn read_stderr<L: FnMut(&str)>(&mut self, stderr: &mut StderrLines<L>, buffer: &mut [u8]) {
        if let Some(file) = &mut self.stderr {
            match file.read(buffer) {
                Ok(0) => self.stderr = None,
                Ok(read) => stderr.feed(&buffer[..read]),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => self.stderr = None,
            }
        }
    }

    /// Feeds the request body into the script's stdin and its output to `pump`, until the output ends
    /// (end of file, or given up after a kill) or something fails; the number of body bytes the script took.
    ///
    /// While the script is silent it looks, every [`POLL_INTERVAL`], whether the client has gone (then the script is pointless:
    /// [`CgiError::ClientGone`]) and whether the script has exited while something it started still holds its stdout
    /// (then, after [`GRACE_AFTER_OUTPUT`], everything is killed so the pipe ends).
    fn exchange_output<E, H, L>(
        &mut self,
        exchange: &mut E,
        pump: &mut Pump<H>,
        stderr: &mut StderrLines<L>,
    ) -> u64
    where
        E: Exchange + ?Sized,
        H: FnOnce(&ScriptHeaders, &mut E::Output) -> io::Result<Body>,
        L: FnMut(&str),
    {
        let mut body = vec![0u8; PIECE];
        let mut pending = 0..0;
        let mut copied = 0;
        let mut output = vec![0u8; PIECE];
        loop {
            self.check_deadline();
            if pump.result.is_ok() && exchange.stopping() {
                pump.result = Err(CgiError::ServerStopping);
            }
            if pump.result.is_err() || self.stdout.is_none() {
                break;
            }
            if self.killed_long_ago() {
                // Only what the supervisor could not kill holds the pipes now: stop waiting for them.
                self.stdout = None;
                break;
            }
            if self.stdin.is_some() && pending.is_empty() && self.killed_at.is_none() {
                // What the script printed goes out before the wait for more of the body.
                pump.flush(exchange.output());
                match exchange.read_body(&mut body, self.deadline) {
                    Ok(0) => self.stdin = None,
                    Ok(read) => pending = 0..read,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    // The read waited until the timeout: that is the timeout, not a broken body.
                    Err(_)
                        if self
                            .deadline
                            .is_some_and(|deadline| Instant::now() >= deadline) =>
                    {
                        self.check_deadline();
                    }
                    Err(error) => pump.result = Err(CgiError::RequestBody(error.kind())),
                }
                continue;
            }
            pump.flush(exchange.output());
            let writing = !pending.is_empty() && self.stdin.is_some();
            let mut entries = [
                Run::entry(self.stdout.as_ref(), libc::POLLIN),
                Run::entry(self.stderr.as_ref(), libc::POLLIN),
                Run::entry(self.control.as_ref(), libc::POLLIN),
                Run::entry(self.stdin.as_ref().filter(|_| writing), libc::POLLOUT),
            ];
            let mut wait = POLL_INTERVAL;
            if let Some(deadline) = self.deadline.filter(|_| !self.timed_out) {
                wait = wait.min(deadline.saturating_duration_since(Instant::now()));
            }
            let ready = match sys::poll_many(&mut entries, wait) {
                Ok(ready) => ready,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    pump.result = Err(CgiError::Read(error.kind()));
                    break;
                }
            };
            if ready == 0 {
                self.on_silence(exchange, pump);
                continue;
            }
            let [stdout_ready, stderr_ready, control_ready, stdin_ready] =
                entries.map(|entry| entry.revents != 0);
            if control_ready {
                self.read_messages();
            }
            if stderr_ready {
                self.read_stderr(stderr, &mut output);
            }
            if stdout_ready {
                if let Some(file) = &mut self.stdout {
                    match file.read(&mut output) {
                        Ok(0) => self.stdout = None,
                        Ok(read) => pump.take(&output[..read], exchange.output()),
                        Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                        Err(error) => pump.result = Err(CgiError::Read(error.kind())),
                    }
                }
            }
            if stdin_ready {
                if let Some(stdin) = &mut self.stdin {
                    let end = pending.end.min(pending.start + STDIN_PIECE);
                    match stdin.write(&body[pending.start..end]) {
                        Ok(written) if written > 0 => {
                            copied += written as u64;
                            pending.start += written;
                        }
                        Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                        // The script closed its stdin or exited: the rest of the body is not for it.
                        Ok(_) | Err(_) => {
                            self.stdin = None;
                            pending = 0..0;
                        }
                    }
                }
            }
        }
        self.stdin = None;
        copied
    }

    /// Nothing happened for a poll interval: is the client gone, has the script exited while its pipe is still held?
    fn on_silence<E, H>(&mut self, exchange: &mut E, pump: &mut Pump<H>)
    where
        E: Exchange + ?Sized,
    {
        if pump.result.is_ok() && self.killed_at.is_none() && exchange.client_gone() {
            pump.result = Err(CgiError::ClientGone);
            return;
        }
        if !self.lingered && self.killed_at.is_none() {
            if let Some(exited_at) = self.exited_at {
                if exited_at.elapsed() >= GRACE_AFTER_OUTPUT {
                    // Only what the script started holds the pipe now.
                    self.lingered = true;
                    self.kill();
                }
            }
        }
    }

    /// Waits up to `grace` (and the deadline) for the script to exit, logging its stderr meanwhile; `false` when it still runs,
    /// and then it has been killed.
    fn wait_for_exit<L: FnMut(&str)>(
        &mut self,
        grace: Duration,
        stderr: &mut StderrLines<L>,
    ) -> bool {
        let give_up_at = Instant::now() + grace;
        let mut buffer = vec![0u8; PIECE];
        loop {
            self.read_messages();
            if self.exit_status.is_some() || self.control.is_none() {
                return true;
            }
            self.check_deadline();
            if self.timed_out {
                return false;
            }
            let now = Instant::now();
            if now >= give_up_at {
                self.kill();
                return false;
            }
            let mut wait = give_up_at - now;
            if let Some(deadline) = self.deadline {
                wait = wait.min(deadline.saturating_duration_since(now));
            }
            let mut entries = [
                Run::entry(self.control.as_ref(), libc::POLLIN),
                Run::entry(self.stderr.as_ref(), libc::POLLIN),
            ];
            if matches!(sys::poll_many(&mut entries, wait), Ok(ready) if ready > 0)
                && entries[1].revents != 0
            {
                self.read_stderr(stderr, &mut buffer);
            }
        }
    }

    /// Ends the run: the supervisor kills whatever is left and exits; the rest of stderr is logged;
    /// the supervisor is reaped by its process id. Returns how many processes besides the script were still running.
    fn finish<L: FnMut(&str)>(&mut self, stderr: &mut StderrLines<L>) -> u32 {
        self.kill();
        self.stdout = None;
        let mut buffer = vec![0u8; PIECE];
        // The supervisor's own patience with processes that do not die is bounded; so is ours with it.
        let give_up_at = Instant::now() + GRACE_AFTER_KILL + Duration::from_secs(10);
        while self.control.is_some() || (self.stderr.is_some() && !self.killed_long_ago()) {
            let now = Instant::now();
            if now >= give_up_at {
                break;
            }
            let mut entries = [
                Run::entry(self.control.as_ref(), libc::POLLIN),
                Run::entry(self.stderr.as_ref(), libc::POLLIN),
            ];
            match sys::poll_many(&mut entries, (give_up_at - now).min(POLL_INTERVAL)) {
                Ok(ready) if ready > 0 => {
                    if entries[0].revents != 0 {
                        self.read_messages();
                    }
                    if entries[1].revents != 0 {
                        self.read_stderr(stderr, &mut buffer);
                    }
                }
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        self.stderr = None;
        self.control = None;
        // Its end of the socket closed (or it never answered): it has exited or is about to; no zombie stays.
        let _ = sys::wait_for(self.supervisor);
        self.finished = true;
        self.leftovers.unwrap_or(0)
    }
}

/// Where the script's output stands, on the calling thread: the header block, then the body.
struct Pump<H> {
    parser: Option<HeaderParser>,
    on_headers: Option<H>,
    body: Body,
    result: Result<(), CgiError>,
    /// `on_headers` ran, so something may have been sent.
    answered: bool,
    body_bytes: u64,
    /// Written since the last flush.
    unflushed: bool,
}

impl<H> Pump<H> {
    fn new(nph: bool, on_headers: H) -> Self {
        Pump {
            parser: (!nph).then(HeaderParser::new),
            on_headers: Some(on_headers),
            body: Body::Forward,
            result: Ok(()),
            answered: false,
            body_bytes: 0,
            unflushed: false,
        }
    }

    /// Takes one piece of output: through the header parser, then to `output` as the body.
    fn take<W>(&mut self, data: &[u8], output: &mut W)
    where
        W: Write + ?Sized,
        H: FnOnce(&ScriptHeaders, &mut W) -> io::Result<Body>,
    {
        if self.result.is_err() {
            return;
        }
        let mut data = data;
        if let Some(header_parser) = self.parser.as_mut() {
            let (headers, used) = match header_parser.feed(data) {
                Ok(Some(complete)) => complete,
                Ok(None) => return,
                Err(error) => {
                    self.result = Err(error);
                    return;
                }
            };
            self.parser = None;
            self.answered = true;
            self.unflushed = true;
            if let Some(on_headers) = self.on_headers.take() {
                match on_headers(&headers, output) {
                    Ok(wanted) => self.body = wanted,
                    Err(error) => {
                        self.result = Err(CgiError::Write(error.kind()));
                        return;
                    }
                }
            }
            data = &data[used..];
        }
        if self.body == Body::Forward && !data.is_empty() {
            if let Err(error) = output.write_all(data) {
                self.result = Err(CgiError::Write(error.kind()));
                return;
            }
            self.unflushed = true;
            self.body_bytes += data.len() as u64;
        }
    }

    /// Sends what was written so far on its way to the client.
    fn flush<W: Write + ?Sized>(&mut self, output: &mut W) {
        if self.unflushed && self.result.is_ok() {
            self.unflushed = false;
            if let Err(error) = output.flush() {
                self.result = Err(CgiError::Write(error.kind()));
            }
        }
    }
}

/// Hands each line of the script's stderr (without its line end, invalid UTF-8 replaced) to a callback.
///
/// Lines longer than [`MAX_STDERR_LINE`] are passed on in pieces, so a script cannot make the server buffer without end.
struct StderrLines<L> {
    line: Vec<u8>,
    on_line: L,
}

impl<L: FnMut(&str)> StderrLines<L> {
    fn new(on_line: L) -> Self {
        StderrLines {
            line: Vec::new(),
            on_line,
        }
    }

    fn emit(&mut self) {
        let text = self.line.strip_suffix(b"\r").unwrap_or(&self.line);
        (self.on_line)(&String::from_utf8_lossy(text));
        self.line.clear();
    }

    fn feed(&mut self, data: &[u8]) {
        for &byte in data {
            if byte == b'\n' {
                self.emit();
            } else {
                self.line.push(byte);
                if self.line.len() >= MAX_STDERR_LINE {
                    self.emit();
                }
            }
        }
    }

    /// The last line, if it had no line end.
    fn finish(&mut self) {
        if !self.line.is_empty() {
            self.emit();
        }
    }
}

#[cfg(test)]
mod tests;
