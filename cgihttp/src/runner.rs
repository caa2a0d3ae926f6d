//! Running a script: a clean environment, its own process group, streamed input and output, a timeout, and no zombies.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::output::HeaderParser;
use basehttp::RequestTarget;

use crate::{route_script, sys, CgiError, ScriptHeaders, ScriptPath};

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

/// How long a script may keep running once its output has ended (it closed its stdout, or it exited while a process it started
/// holds the pipe open), before its process group is killed: its answer is complete, and nothing may outlive the request.
/// Apache's mod_cgi likewise kills a script still running when its request ends.
const GRACE_AFTER_OUTPUT: Duration = Duration::from_secs(1);

/// The most bytes written to the script's stdin after one readiness check; a pipe with room takes this much without blocking.
const STDIN_PIECE: usize = 4096;

/// How many pieces of the script's output (of up to 16 KiB each) wait for the client at most;
/// beyond that the script waits.
pub const OUTPUT_QUEUE: usize = 8;

/// The largest piece of the script's output read at once.
const OUTPUT_PIECE: usize = 16 * 1024;

/// How long the request body copy waits for room in the script's stdin before it looks at the script's output again.
const STDIN_WAIT: Duration = Duration::from_millis(10);

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
    /// the server must then drain the rest or close the connection, never read it as the next request.
    pub request_bytes: u64,
    /// The script's output ended (it closed its stdout, or it exited while a process it started still held the pipe)
    /// but its process group kept running, so it was killed after a grace of one second.
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
    /// The script starts in its own process group, from an empty environment plus [`env`](Self::env), in its own directory,
    /// as `nobody` when the server is root ([`RunAs::Auto`]).
    /// `on_headers` is called once, when the header block is complete and valid, before any body is written;
    /// it writes the status line and headers to the output and says whether the body is wanted.
    /// An NPH script's output goes straight to `output`, and `on_headers` is never called.
    ///
    /// Nothing is held whole in memory: input and output move in 16 KiB pieces, the header block is bounded.
    /// `request_body`, `output` and both callbacks stay on the calling thread (so neither needs to be `Send`):
    /// it copies the request body into the script's stdin and, whenever the pipe is full or between pieces of the body,
    /// writes out whatever the script has printed meanwhile.
    /// A helper thread reads the script's stdout into a bounded queue ([`OUTPUT_QUEUE`] pieces of 16 KiB),
    /// so a script that prints a lot before it reads its input never blocks the server,
    /// and a slow client slows the script down rather than filling the server's memory.
    /// A script that exits without reading its input ends the copy (the pipe breaks); the rest of the body stays unread.
    /// When the timeout strikes, the whole process group gets SIGKILL. The script is always waited for, so no zombie is left.
    /// Once its output has ended (stdout closed, or the script exited while a process it started still holds the pipe),
    /// whatever of its group still runs a second later is killed too ([`ScriptOutcome::lingered`]): nothing outlives the request.
    ///
    /// Reading `request_body` blocks the calling thread: give it a bounded reader
    /// (the request's Content-Length over a socket with a read timeout).
    /// While it waits for the client, the script's output waits in the queue (and then the script), and a timeout that
    /// strikes meanwhile is answered once that read returns; so output reaches the client as the body arrives,
    /// not while the client holds back the rest of its body.
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
        L: FnMut(&str) + Send,
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
        L: FnMut(&str) + Send,
    {
        let mut child = match self.spawn() {
            Ok(child) => child,
            Err(error) => return (Err(CgiError::Spawn(error.kind())), None),
        };
        let pid = child.id();
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            // Cannot happen with three piped streams; stop the script rather than panic.
            let guard = Guard::new(pid);
            guard.kill();
            let exit_status = guard.reap(&mut child);
            return (Err(CgiError::Spawn(io::ErrorKind::Other)), exit_status);
        };
        let guard = Guard::new(pid);
        let (finished, finished_signal) = mpsc::channel::<()>();
        let (pieces, queue) = mpsc::sync_channel::<Piece>(OUTPUT_QUEUE);

        thread::scope(|scope| {
            let guard = &guard;
            let reader = scope.spawn(move || read_output(stdout, &pieces, guard));
            let logger = scope.spawn(move || log_lines(stderr, on_stderr, guard));
            if let Some(timeout) = self.timeout {
                scope.spawn(move || {
                    if let Err(RecvTimeoutError::Timeout) = finished_signal.recv_timeout(timeout) {
                        guard.time_out();
                    }
                });
            }

            let mut pump = Pump::new(self.nph, on_headers);
            let request_bytes = feed(exchange, stdin, guard, &queue, &mut pump);
            pump.drain(exchange, &queue, guard);
            // Whether the timeout cut the output short; a timeout striking once the output has ended cuts nothing.
            let timed_out = guard.timed_out();
            if pump.result.is_err() {
                guard.kill();
            }
            // The reader may wait for room in a full queue: dropping the queue lets it end.
            drop(queue);
            let mut lingered = pump.lingered;
            let exit_status = if pump.result.is_ok() && !lingered && !timed_out {
                // The output has ended: the script should exit now; one that keeps running is stopped after a grace.
                match guard.reap_within(&mut child, GRACE_AFTER_OUTPUT) {
                    Some(exit_status) => exit_status,
                    None => {
                        lingered = true;
                        guard.kill();
                        guard.reap(&mut child)
                    }
                }
            } else {
                guard.reap(&mut child)
            };
            if !timed_out && guard.timed_out() {
                // The timeout struck in the grace after the output ended: the answer is whole, the kill ours.
                lingered = true;
            }
            drop(finished);
            let _ = reader.join();
            let _ = logger.join();

            let answered = pump.answered || pump.body_bytes > 0;
            let result = match pump.result {
                _ if timed_out && !answered => Err(CgiError::Timeout),
                Err(error) => Err(error),
                Ok(()) => Ok(ScriptOutcome {
                    pid,
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
            let failure_status = exit_status.filter(|_| !(guard.killed() && our_kill));
            (result, failure_status)
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

/// The two sides of a script run as one value: where the request body comes from and where the answer goes.
///
/// One value rather than two because the handler reads `rfile` and writes `wfile` of the same request.
pub(crate) trait Exchange {
    /// Where the answer goes.
    type Output: Write + ?Sized;
    /// Reads the next piece of the request body; `Ok(0)` at its end.
    fn read_body(&mut self, buffer: &mut [u8]) -> io::Result<usize>;
    /// The answer's writer.
    fn output(&mut self) -> &mut Self::Output;
    /// Whether the client has closed or reset the connection, so no answer can reach it; asked while the script is silent.
    fn client_gone(&mut self) -> bool {
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

    fn read_body(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        self.body.read(buffer)
    }

    fn output(&mut self) -> &mut W {
        self.output
    }
}

/// One piece of the script's stdout, or the error that ended it; the reader thread ends the queue at end of file.
type Piece = Result<Vec<u8>, io::ErrorKind>;

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
    /// The script exited while its pipe was still held open (by a process it started), and its group was killed.
    lingered: bool,
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
            lingered: false,
        }
    }

    /// Takes one piece of output: through the header parser, then to `output` as the body.
    fn take<W>(&mut self, piece: Piece, output: &mut W)
    where
        W: Write + ?Sized,
        H: FnOnce(&ScriptHeaders, &mut W) -> io::Result<Body>,
    {
        if self.result.is_err() {
            return;
        }
        let data = match piece {
            Ok(data) => data,
            Err(kind) => {
                self.result = Err(CgiError::Read(kind));
                return;
            }
        };
        let mut data = &data[..];
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

    /// Takes whatever output is queued without waiting; `false` once the queue has ended (the script closed stdout).
    fn take_queued<W>(&mut self, queue: &Receiver<Piece>, output: &mut W) -> bool
    where
        W: Write + ?Sized,
        H: FnOnce(&ScriptHeaders, &mut W) -> io::Result<Body>,
    {
        loop {
            match queue.try_recv() {
                Ok(piece) => self.take(piece, output),
                Err(TryRecvError::Empty) => {
                    self.flush(output);
                    return true;
                }
                Err(TryRecvError::Disconnected) => return false,
            }
        }
    }

    /// Takes the rest of the output until the script closes its stdout (or something failed), then checks the end.
    ///
    /// While the script is silent it looks, every [`POLL_INTERVAL`], whether the client has gone (then the script is pointless:
    /// [`CgiError::ClientGone`]) and whether the script has exited while something it started still holds its stdout
    /// (then, after [`GRACE_AFTER_OUTPUT`], the group is killed so the pipe ends).
    fn drain<E>(&mut self, exchange: &mut E, queue: &Receiver<Piece>, guard: &Guard)
    where
        E: Exchange + ?Sized,
        H: FnOnce(&ScriptHeaders, &mut E::Output) -> io::Result<Body>,
    {
        let mut exited_at: Option<Instant> = None;
        while self.result.is_ok() {
            let piece = match queue.try_recv() {
                Ok(piece) => piece,
                Err(TryRecvError::Empty) => {
                    // Nothing is waiting: what was written so far goes out before the wait.
                    self.flush(exchange.output());
                    match queue.recv_timeout(POLL_INTERVAL) {
                        Ok(piece) => piece,
                        Err(RecvTimeoutError::Disconnected) => break,
                        Err(RecvTimeoutError::Timeout) => {
                            if exchange.client_gone() {
                                self.result = Err(CgiError::ClientGone);
                                break;
                            }
                            match exited_at {
                                _ if self.lingered => {}
                                Some(exited_at) if exited_at.elapsed() >= GRACE_AFTER_OUTPUT => {
                                    // Only the script's children hold the pipe now; the unreaped script keeps its group id ours.
                                    self.lingered = true;
                                    guard.kill();
                                }
                                Some(_) => {}
                                None if guard.script_exited() => exited_at = Some(Instant::now()),
                                None => {}
                            }
                            continue;
                        }
                    }
                }
                Err(TryRecvError::Disconnected) => break,
            };
            self.take(piece, exchange.output());
        }
        if self.result.is_ok() {
            if let Some(header_parser) = &self.parser {
                self.result = Err(header_parser.finish());
            } else {
                self.unflushed = true;
                self.flush(exchange.output());
            }
        }
    }
}

/// Reads the script's stdout into the queue, on a helper thread, until end of file, a read error, or the queue is dropped.
///
/// The queue is bounded, so when the client reads slower than the script writes, this waits, and the script with it.
fn read_output(mut stdout: ChildStdout, queue: &SyncSender<Piece>, guard: &Guard) {
    loop {
        if !guard.wait_ready(stdout.as_fd(), sys::READABLE) {
            return;
        }
        let mut buffer = vec![0u8; OUTPUT_PIECE];
        let piece = match stdout.read(&mut buffer) {
            Ok(0) => return,
            Ok(read) => {
                buffer.truncate(read);
                Ok(buffer)
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => Err(error.kind()),
        };
        let failed = piece.is_err();
        if queue.send(piece).is_err() || failed {
            return;
        }
    }
}

/// Copies the request body into the script's stdin until either side ends, then closes stdin; the bytes copied.
///
/// Runs on the calling thread, because the request body reader belongs to it.
/// While the pipe is full, and before each read of the body, the script's queued output is written out,
/// so a script that answers before it reads (or instead of reading) cannot deadlock against us.
/// A script that stops reading (exits, or closes stdin) ends the copy with a broken pipe, which is not an error here;
/// one that stays alive without reading holds the copy until the timeout kills it, or the client leaves.
/// A failed answer (bad header block, client gone) ends it too.
/// A request body that cannot be read whole (the client left or stalled mid-body) fails the run with [`CgiError::RequestBody`]:
/// the script must not answer a request it only got part of.
fn feed<E, H>(
    exchange: &mut E,
    mut stdin: ChildStdin,
    guard: &Guard,
    queue: &Receiver<Piece>,
    pump: &mut Pump<H>,
) -> u64
where
    E: Exchange + ?Sized,
    H: FnOnce(&ScriptHeaders, &mut E::Output) -> io::Result<Body>,
{
    let mut buffer = vec![0u8; 16 * 1024];
    let mut copied = 0;
    'reading: loop {
        pump.take_queued(queue, exchange.output());
        if pump.result.is_err() {
            break;
        }
        let read = match exchange.read_body(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => {
                pump.result = Err(CgiError::RequestBody(error.kind()));
                break;
            }
        };
        let mut data = &buffer[..read];
        while !data.is_empty() {
            match sys::poll_one(stdin.as_fd(), sys::WRITABLE, STDIN_WAIT) {
                Ok(false) => {
                    pump.take_queued(queue, exchange.output());
                    if pump.result.is_ok() && exchange.client_gone() {
                        pump.result = Err(CgiError::ClientGone);
                    }
                    if pump.result.is_err() || guard.ended_long_ago() {
                        break 'reading;
                    }
                    continue;
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                // Ready, or poll failed: let the write itself say what is wrong.
                Ok(true) | Err(_) => {}
            }
            let piece = &data[..data.len().min(STDIN_PIECE)];
            match stdin.write(piece) {
                Ok(0) => break 'reading,
                Ok(written) => {
                    copied += written as u64;
                    data = &data[written..];
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break 'reading,
            }
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
    /// The process group was sent SIGKILL from here (timeout, failure, client gone, grace over).
    killed: bool,
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
            state.killed = true;
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
            state.killed = true;
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
            if self.ended_long_ago() {
                return false;
            }
        }
    }

    /// The script ended (killed or exited) at least [`GRACE_AFTER_KILL`] ago: waiting on its pipes is pointless.
    fn ended_long_ago(&self) -> bool {
        let ended_at = self.lock().ended_at;
        ended_at.is_some_and(|ended_at| ended_at.elapsed() >= GRACE_AFTER_KILL)
    }

    fn timed_out(&self) -> bool {
        self.lock().timed_out
    }

    fn killed(&self) -> bool {
        self.lock().killed
    }

    /// Whether the script has exited, leaving it unreaped so its group may still be signalled.
    fn script_exited(&self) -> bool {
        let state = self.lock();
        !state.reaped && sys::has_exited(self.pid)
    }

    /// [`reap`](Self::reap), but giving up after `limit`: `None` when the script still runs then.
    fn reap_within(&self, child: &mut Child, limit: Duration) -> Option<Option<ExitStatus>> {
        self.wait_and_reap(child, Instant::now().checked_add(limit))
    }

    /// Waits for the script to exit and reaps it, polling so the timeout thread can still kill it meanwhile.
    fn reap(&self, child: &mut Child) -> Option<ExitStatus> {
        self.wait_and_reap(child, None).flatten()
    }

    /// Polls until the script has exited and reaps it, or until `deadline` (`None` when it passes first).
    /// `Some(None)` when it is not our child any more (ECHILD): there is nothing to wait for, and nothing to kill.
    fn wait_and_reap(
        &self,
        child: &mut Child,
        deadline: Option<Instant>,
    ) -> Option<Option<ExitStatus>> {
        let mut pause = Duration::from_millis(1);
        loop {
            {
                let mut state = self.lock();
                let ended = match child.try_wait() {
                    Ok(Some(status)) => Some(Some(status)),
                    Ok(None) => None,
                    Err(_) => Some(None),
                };
                if let Some(ended) = ended {
                    state.reaped = true;
                    state.ended_at.get_or_insert_with(Instant::now);
                    return Some(ended);
                }
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return None;
            }
            thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }
}

#[cfg(test)]
mod tests;
