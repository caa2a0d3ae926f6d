//! [`CgiHttpRequestHandler`]: Python's `CGIHTTPRequestHandler` on simplehttp's file serving, joined from this crate's pieces.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use basehttp::{
    escape_log, format_error_message, html_escape, log_date_time_string, BaseHttpRequestHandler,
    HttpRequest, HttpVersion, Limits,
};
use simplehttp::{serve_files, SimpleHooks, SimpleHttpRequestHandler};
use socketserver::Stream;

use crate::runner::Exchange;
use crate::{
    build_environment, check_script_file, find_script, is_nph, query_arguments, Body, CgiError,
    CgiRequest, EnvironmentPolicy, Location, RunAs, ScriptCommand, ScriptHeaders, CGI_DIRECTORIES,
    DEFAULT_TIMEOUT,
};

/// How many local redirects (RFC 3875 §6.2.2) one request may follow, so two scripts cannot bounce it for ever.
pub const MAX_LOCAL_REDIRECTS: u32 = 5;

/// The largest request body a script is given by default; a bigger one is answered with 413.
pub const DEFAULT_MAX_REQUEST_BODY: u64 = 100 * 1024 * 1024;

/// Scripts allowed to run at once per core the server may use, by default ([`CgiHttpRequestHandler::max_cgi`]).
pub const CGI_PER_CORE: usize = 32;

/// What a client is told to wait before it tries again when every script slot is taken (`Retry-After`, seconds).
const RETRY_AFTER_SECONDS: u32 = 1;

/// Bodies up to this size are held in memory on their way to the script; bigger ones go through an unnamed temporary file.
const SPOOL_IN_MEMORY: usize = 64 * 1024;

/// The most stderr lines of one script that reach the log.
const MAX_LOGGED_STDERR_LINES: usize = 1000;

/// Python's `CGIHTTPRequestHandler`: serves files as [`SimpleHttpRequestHandler`] and runs scripts under `cgi_directories`.
///
/// GET and HEAD run scripts or serve files; POST runs scripts, and anywhere else gets 501 `Can only POST to CGI scripts`.
/// Beyond Python: the script's header block is parsed (`Status:`, redirects), a timeout kills it,
/// it starts from a clean environment, and its stderr is logged line by line;
/// the request body streams to it, and on HTTP/1.1 its answer is framed (chunked or by its `Content-Length`)
/// so the connection stays usable.
#[doc(alias = "CGIHTTPRequestHandler")]
#[derive(Debug, Clone)]
pub struct CgiHttpRequestHandler {
    /// The file server underneath (directory, protocol version, index pages, types, connection limits).
    pub files: SimpleHttpRequestHandler,
    /// The URL paths whose files are scripts (Python's `cgi_directories`).
    pub cgi_directories: Vec<String>,
    /// How long a script may run (`--cgi-timeout`); `None` for ever, as Python.
    pub timeout: Option<Duration>,
    /// Which server variables reach scripts, and their `PATH`.
    pub environment: EnvironmentPolicy,
    /// Which user scripts run as.
    pub run_as: RunAs,
    /// The largest request body passed to a script, else 413; `None` for no limit (`--max-body-size`).
    /// A Content-Length body is checked before it is read and then streamed; a chunked one while it is spooled,
    /// 413 as soon as its count passes the limit.
    pub max_request_body: Option<u64>,
    /// How many scripts may run at once (`--max-cgi`); a request for one more is answered with 503 and `Retry-After`.
    /// `None` for no limit. Defaults to [`CGI_PER_CORE`] per core the process may run on.
    /// Each running script holds its request's thread and a supervisor process, so this bounds both.
    /// Clones of a handler share the count.
    pub max_cgi: Option<usize>,
    /// Scripts running now, shared between clones.
    running: Arc<AtomicUsize>,
    /// Set when the server stops: running scripts are killed, new ones refused. Shared between clones.
    stopping: Arc<AtomicBool>,
}

/// The default of [`CgiHttpRequestHandler::max_cgi`]: [`CGI_PER_CORE`] per core the process may run on.
pub fn default_max_cgi() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    cores.saturating_mul(CGI_PER_CORE)
}

/// One of the [`CgiHttpRequestHandler::max_cgi`] slots, given back when dropped.
struct CgiSlot(Arc<AtomicUsize>);

impl Drop for CgiSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl CgiHttpRequestHandler {
    /// A handler serving `directory` with Python's settings and a [`DEFAULT_TIMEOUT`].
    pub fn new(directory: impl Into<PathBuf>) -> Self {
        CgiHttpRequestHandler {
            files: SimpleHttpRequestHandler::new(directory),
            cgi_directories: CGI_DIRECTORIES
                .iter()
                .map(|dir| (*dir).to_owned())
                .collect(),
            timeout: Some(DEFAULT_TIMEOUT),
            environment: EnvironmentPolicy::default(),
            run_as: RunAs::Auto,
            max_request_body: Some(DEFAULT_MAX_REQUEST_BODY),
            max_cgi: Some(default_max_cgi()),
            running: Arc::new(AtomicUsize::new(0)),
            stopping: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The flag that stops scripts: once it is set, every running script is killed with everything it started
    /// (within a tenth of a second, its answer cut short) and requests for new ones get 503.
    ///
    /// A server that stops on a signal sets it from the signal (the `cgihttp` command does on Ctrl-C, with
    /// `signal_hook::flag::register`), so that stopping does not wait for running scripts to reach their timeout.
    /// Killing the server outright needs no flag: each script's supervisor sees the server's end of its socket close.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stopping)
    }

    /// How many scripts run now (for this handler and its clones).
    pub fn running_scripts(&self) -> usize {
        self.running.load(Ordering::Acquire)
    }

    /// Takes a script slot, or `None` when [`max_cgi`](Self::max_cgi) are running.
    fn take_slot(&self) -> Option<CgiSlot> {
        let limit = self.max_cgi.unwrap_or(usize::MAX);
        self.running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |running| {
                (running < limit).then(|| running + 1)
            })
            .ok()
            .map(|_| CgiSlot(Arc::clone(&self.running)))
    }

    /// Answers a request for a script, or `Ok(false)` when the path is not a script path (the caller serves a file).
    ///
    /// Python's `send_head` → `is_cgi` → `run_cgi`.
    pub fn run_cgi(&self, req: &mut HttpRequest<'_>) -> io::Result<bool> {
        let mut redirects = 0;
        loop {
            // One reading of the path decides both whether a script runs and, if not, which file is served.
            let request_target = req.target();
            if request_target.climbs_above_root() {
                req.send_error(400, Some("Bad request path"))?;
                return Ok(true);
            }
            let Some(target) =
                find_script(&request_target, &self.cgi_directories, self.directory())
            else {
                if redirects > 0 {
                    // A local redirect to a file: answered as the GET it now is.
                    serve_files(self, req)?;
                    return Ok(true);
                }
                return Ok(false);
            };
            if let Err(problem) = check_script_file(&target.file) {
                let message = problem.message(&target.path.script_name);
                req.send_error(problem.status(), Some(&message))?;
                return Ok(true);
            }
            match self.execute(req, &target)? {
                Some(location) if redirects < MAX_LOCAL_REDIRECTS => {
                    redirects += 1;
                    // The redirect is answered as a fresh GET (a HEAD stays a HEAD).
                    if req.command != "HEAD" {
                        req.command = "GET".to_owned();
                    }
                    req.path = location;
                }
                Some(_) => {
                    req.send_error(500, Some("Too many local redirects"))?;
                    return Ok(true);
                }
                None => return Ok(true),
            }
        }
    }

    /// Runs one script and answers with its output; `Some(path)` when it asked for a local redirect instead.
    fn execute(
        &self,
        req: &mut HttpRequest<'_>,
        target: &crate::ScriptTarget,
    ) -> io::Result<Option<String>> {
        // The timeout bounds the whole request body as well: a client that trickles it, however just within the
        // idle timeout each read, is cut at the CGI timeout, whether the body streams to the script or is spooled first.
        let body_deadline = self
            .timeout
            .and_then(|timeout| Instant::now().checked_add(timeout));
        let socket = req.connection_socket();
        let body = match request_body(req, self.max_request_body, body_deadline) {
            Ok(Some(body)) => body,
            Ok(None) => {
                req.send_error(413, None)?;
                req.close_connection = true;
                return Ok(None);
            }
            Err(error) if is_timeout(&error) => {
                req.log_error(format_args!(
                    "CGI request body not received within the CGI timeout"
                ));
                req.send_error(408, None)?;
                req.close_connection = true;
                return Ok(None);
            }
            Err(error) => return Err(error),
        };
        if self.stopping.load(Ordering::Acquire) {
            req.send_error(503, Some("Server stopping"))?;
            req.close_connection = true;
            return Ok(None);
        }
        // Taken once the body is in (a chunked body is spooled first), so a slow client holds no script slot while it sends.
        let Some(_slot) = self.take_slot() else {
            req.log_error(format_args!(
                "CGI script refused: {} scripts already running",
                self.running_scripts()
            ));
            send_busy(req)?;
            return Ok(None);
        };
        let mut headers: Vec<(String, String)> = req
            .headers
            .iter()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("content-length"))
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        if let Some(length) = body.length() {
            headers.push(("Content-Length".to_owned(), length.to_string()));
        }
        let client_address = req
            .client_address
            .inet()
            .unwrap_or_else(|| SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
        let server_address = req
            .server_address
            .inet()
            .unwrap_or_else(|| SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
        let request = CgiRequest {
            method: req.command.clone(),
            request_uri: req.path.clone(),
            script_name: target.path.script_name.clone(),
            path_info: target.path.path_info.clone(),
            query: target.path.query.clone(),
            script_filename: target.file.clone(),
            document_root: self.directory().to_path_buf(),
            headers,
            client_address,
            server_address,
            server_name: server_address.ip().to_string(),
            server_protocol: self.protocol_version().to_owned(),
            server_software: req.version_string(),
        };
        let mut command = ScriptCommand::new(&target.file);
        command.env = build_environment(&request, &self.environment);
        command.args = query_arguments(&target.path.query);
        command.timeout = self.timeout;
        command.run_as = self.run_as;
        command.nph = is_nph(&target.path.script);

        let is_head = req.command == "HEAD";
        // Chunked framing needs an HTTP/1.1 client; a Content-Length keeps any persistent connection usable.
        let chunked_allowed = HttpVersion::parse(self.protocol_version())
            .is_some_and(|version| version >= HttpVersion::HTTP_1_1)
            && HttpVersion::parse(&req.request_version)
                .is_some_and(|version| version >= HttpVersion::HTTP_1_1)
            && !req.is_http_0_9();
        if command.nph {
            // An NPH script owns the whole answer, framing included; only closing delimits it.
            req.close_connection = true;
        }
        let mut local_redirect = None;
        let stderr_lines = Mutex::new(Vec::new());
        let log_prefix = format!(
            "{} - - [{}] CGI {}: ",
            client_address.ip(),
            log_date_time_string(SystemTime::now()),
            escape_log(&target.path.script_name)
        );
        let mut exchange = RequestOutput {
            req: &mut *req,
            body,
            framing: Framing::UntilClose,
            read_deadline: SocketDeadline::new(socket),
            stopping: &self.stopping,
        };
        // The script holds this worker for as long as it runs: the readiness loop is told, so that another worker
        // takes the ready connections at once rather than after it notices.
        let (result, exit_status) = socketserver::blocking(|| {
            command.run_exchange(
                &mut exchange,
                |headers, output| {
                    if let Some(path) = headers.local_redirect() {
                        local_redirect = Some(path.to_owned());
                        return Ok(Body::Discard);
                    }
                    // 204 and 304 answers have no body, whatever the script prints.
                    let bodiless = matches!(headers.status(), 204 | 304);
                    output.send_headers(headers, is_head, bodiless, chunked_allowed)?;
                    Ok(if is_head || bodiless {
                        Body::Discard
                    } else {
                        Body::Forward
                    })
                },
                |line| {
                    let mut lines = stderr_lines
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    if lines.len() < MAX_LOGGED_STDERR_LINES {
                        lines.push(format!("{log_prefix}{}\n", escape_log(line)));
                    }
                },
            )
        });
        let framing = exchange.framing;
        exchange.read_deadline.restore();
        for line in stderr_lines
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            // A closed stderr must not fail the request.
            let _ = io::stderr().write_all(line.as_bytes());
        }
        match result {
            Ok(outcome) => {
                if outcome.timed_out {
                    req.log_error(format_args!("CGI script timed out, output cut short"));
                    req.close_connection = true;
                    return Ok(local_redirect);
                }
                let mut crashed = false;
                if outcome.lingered {
                    req.log_error(format_args!(
                        "CGI script (or a process it started) still running after its output ended; killed"
                    ));
                } else if let Some(status) = outcome.exit_status.filter(|status| !status.success())
                {
                    req.log_error(format_args!("CGI script exit status {status}"));
                    // Killed by a signal (a crash, the OOM killer): whatever it meant to print may be missing.
                    crashed = status.signal().is_some();
                }
                match framing {
                    // A local redirect sent nothing: the next answer decides.
                    _ if local_redirect.is_some() => {}
                    Framing::UntilClose => req.close_connection = true,
                    Framing::Chunked if crashed => {
                        // No last chunk: the client sees the body cut, as it is, rather than a complete-looking answer.
                        req.log_error(format_args!(
                            "CGI script died after its answer began, output cut short"
                        ));
                        req.close_connection = true;
                    }
                    Framing::Chunked => {
                        basehttp::write_last_chunk(&mut req.wfile)?;
                    }
                    Framing::Length { remaining, .. } if remaining > 0 => {
                        req.log_error(format_args!(
                            "CGI script output {remaining} bytes short of its Content-Length"
                        ));
                        req.close_connection = true;
                    }
                    Framing::Length { overflow: true, .. } => {
                        req.log_error(format_args!(
                            "CGI script output longer than its Content-Length, cut"
                        ));
                        req.close_connection = true;
                    }
                    Framing::Length { .. } | Framing::NoBody => {}
                }
                Ok(local_redirect)
            }
            Err(error) => {
                match exit_status.filter(|status| !status.success()) {
                    Some(status) => {
                        req.log_error(format_args!("CGI script failed: {error} ({status})"));
                    }
                    None => req.log_error(format_args!("CGI script failed: {error}")),
                }
                let client_left = matches!(
                    error,
                    CgiError::Write(_)
                        | CgiError::ClientGone
                        | CgiError::RequestBody(_)
                        | CgiError::ServerStopping
                );
                if req.response_started() || client_left {
                    // The answer is cut off, or the request was: only closing tells the client.
                    req.close_connection = true;
                }
                if !req.response_started()
                    && !matches!(error, CgiError::Write(_) | CgiError::ClientGone)
                {
                    req.send_error(error.status(), Some(&error.to_string()))?;
                }
                Ok(None)
            }
        }
    }
}

impl Default for CgiHttpRequestHandler {
    /// A handler serving the current directory (`.`), as Python's default.
    fn default() -> Self {
        CgiHttpRequestHandler::new(".")
    }
}

impl SimpleHooks for CgiHttpRequestHandler {
    fn directory(&self) -> &Path {
        self.files.directory()
    }

    fn index_pages(&self) -> &[&str] {
        self.files.index_pages()
    }

    fn guess_type(&self, path: &Path) -> Cow<'_, str> {
        self.files.guess_type(path)
    }
}

impl BaseHttpRequestHandler for CgiHttpRequestHandler {
    fn server_version(&self) -> &str {
        self.files.server_version()
    }

    fn protocol_version(&self) -> &str {
        self.files.protocol_version()
    }

    fn limits(&self) -> Limits {
        self.files.limits()
    }

    fn do_get(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        if self.run_cgi(req)? {
            return Ok(());
        }
        serve_files(self, req)
    }

    fn do_head(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        self.do_get(req)
    }

    fn do_post(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        if self.run_cgi(req)? {
            return Ok(());
        }
        req.send_error(501, Some("Can only POST to CGI scripts"))
    }
}

/// The request as the script runner sees it: the body to feed the script, the response its output goes to.
struct RequestOutput<'r, 'a> {
    req: &'r mut HttpRequest<'a>,
    body: RequestBody,
    framing: Framing,
    read_deadline: SocketDeadline<'a>,
    stopping: &'r AtomicBool,
}

/// Answers 503 with `Retry-After` and the error page, and closes: every script slot is taken.
fn send_busy(req: &mut HttpRequest<'_>) -> io::Result<()> {
    let message = "Too many CGI scripts running";
    let handler = req.handler();
    let explain = handler.responses(503).map_or("", |(_, explain)| explain);
    let page = format_error_message(
        handler.error_message_format(),
        503,
        &html_escape(message, false),
        &html_escape(explain, false),
    );
    let content_type = handler.error_content_type().to_owned();
    req.send_response(503, Some(message))?;
    req.send_header("Retry-After", &RETRY_AFTER_SECONDS.to_string())?;
    req.send_header("Connection", "close")?;
    req.send_header("Content-Type", &content_type)?;
    req.send_header("Content-Length", &page.len().to_string())?;
    req.end_headers()?;
    if req.command != "HEAD" {
        req.wfile.write_all(page.as_bytes())?;
    }
    req.close_connection = true;
    Ok(())
}

fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Bounds each blocking read of the request body by a deadline as well as by the idle timeout the connection set:
/// the socket's read timeout is lowered to what is left before the deadline, and put back as it was afterwards
/// (basehttp remembers what it set, and reads the next request with it).
struct SocketDeadline<'a> {
    socket: Option<&'a Stream>,
    /// The read timeout the socket had, once it was changed here.
    original: Option<Option<Duration>>,
    /// The read timeout set here last.
    current: Option<Option<Duration>>,
}

impl<'a> SocketDeadline<'a> {
    fn new(socket: Option<&'a Stream>) -> Self {
        SocketDeadline {
            socket,
            original: None,
            current: None,
        }
    }

    fn read_timeout(socket: &Stream) -> io::Result<Option<Duration>> {
        match (socket.as_tcp(), socket.as_unix()) {
            (Some(tcp), _) => tcp.read_timeout(),
            (_, Some(unix)) => unix.read_timeout(),
            _ => Ok(None),
        }
    }

    /// Before a read: a timeout error when `deadline` has passed, else the socket's read timeout at most what is left.
    fn before_read(&mut self, deadline: Option<Instant>) -> io::Result<()> {
        let (Some(socket), Some(deadline)) = (self.socket, deadline) else {
            return Ok(());
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "request body deadline passed",
            ));
        }
        let original = match self.original {
            Some(original) => original,
            None => {
                let original = Self::read_timeout(socket)?;
                self.original = Some(original);
                original
            }
        };
        let wanted = Some(original.map_or(left, |idle| idle.min(left)));
        if self.current != Some(wanted) {
            socket.set_read_timeout(wanted)?;
            self.current = Some(wanted);
        }
        Ok(())
    }

    /// Puts the socket's read timeout back as it was.
    fn restore(&mut self) {
        if let (Some(socket), Some(original)) = (self.socket, self.original.take()) {
            let _ = socket.set_read_timeout(original);
            self.current = None;
        }
    }
}

impl Drop for SocketDeadline<'_> {
    fn drop(&mut self) {
        self.restore();
    }
}

/// How the body of the script's answer is delimited on the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// By closing the connection (HTTP/1.0, NPH, or before the headers are sent).
    UntilClose,
    /// In chunks, ended by a last chunk, so the connection stays usable.
    Chunked,
    /// By the script's own `Content-Length`: exactly that many bytes pass, the rest is cut.
    Length {
        /// Bytes still expected.
        remaining: u64,
        /// The script wrote more than it declared.
        overflow: bool,
    },
    /// No body at all (HEAD, 204, 304).
    NoBody,
}

impl RequestOutput<'_, '_> {
    /// Sends the status line and headers for a script's header block, and picks the framing of the body.
    fn send_headers(
        &mut self,
        headers: &ScriptHeaders,
        is_head: bool,
        bodiless: bool,
        chunked_allowed: bool,
    ) -> io::Result<()> {
        let req = &mut *self.req;
        req.send_response(headers.status(), headers.reason())?;
        if let Some(content_type) = headers.content_type() {
            req.send_header("Content-Type", content_type)?;
        }
        if let Some(Location::Client(url) | Location::Local(url)) = headers.location() {
            req.send_header("Location", url)?;
        }
        let mut content_length = None;
        for (name, value) in headers.headers() {
            if name.eq_ignore_ascii_case("content-length") {
                // Only the first valid length counts; a repeated or broken one is dropped rather than passed on to confuse the client.
                if content_length.is_none() {
                    content_length = value.trim().parse::<u64>().ok();
                }
                continue;
            }
            // A header that basehttp refuses to send (outside ISO-8859-1) is left out, not fatal.
            if let Err(error) = req.send_header(name, value) {
                req.log_error(format_args!("CGI header dropped: {error}"));
            }
        }
        self.framing = if headers.status() == 204 {
            // RFC 9112 §6.1 and §6.2: a 204 carries neither Content-Length nor Transfer-Encoding.
            Framing::NoBody
        } else if let Some(length) = content_length {
            req.send_header("Content-Length", &length.to_string())?;
            if is_head || bodiless {
                Framing::NoBody
            } else {
                Framing::Length {
                    remaining: length,
                    overflow: false,
                }
            }
        } else if bodiless {
            Framing::NoBody
        } else if chunked_allowed && !req.close_connection {
            // A HEAD answer names the framing a GET would get, and sends no chunk at all.
            req.send_header("Transfer-Encoding", "chunked")?;
            if is_head {
                Framing::NoBody
            } else {
                Framing::Chunked
            }
        } else if is_head && !req.close_connection {
            // An HTTP/1.0 keep-alive HEAD: nothing follows, so the connection stays usable.
            Framing::NoBody
        } else {
            Framing::UntilClose
        };
        if self.framing == Framing::UntilClose {
            req.close_connection = true;
        }
        if req.close_connection
            && HttpVersion::parse(req.handler().protocol_version())
                .is_some_and(|version| version >= HttpVersion::HTTP_1_1)
        {
            req.send_header("Connection", "close")?;
        }
        req.end_headers()
    }
}

impl Write for RequestOutput<'_, '_> {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        self.write_all(buffer)?;
        Ok(buffer.len())
    }

    fn write_all(&mut self, buffer: &[u8]) -> io::Result<()> {
        if buffer.is_empty() {
            return Ok(());
        }
        let wfile = &mut self.req.wfile;
        match &mut self.framing {
            Framing::UntilClose => wfile.write_all(buffer),
            Framing::NoBody => Ok(()),
            Framing::Chunked => basehttp::write_chunk(wfile, buffer),
            Framing::Length {
                remaining,
                overflow,
            } => {
                let allowed = buffer
                    .len()
                    .min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                if allowed < buffer.len() {
                    *overflow = true;
                }
                *remaining -= allowed as u64;
                wfile.write_all(&buffer[..allowed])
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.req.wfile.flush()
    }
}

impl Exchange for RequestOutput<'_, '_> {
    type Output = Self;

    fn read_body(&mut self, buffer: &mut [u8], deadline: Option<Instant>) -> io::Result<usize> {
        match &mut self.body {
            RequestBody::Streamed { .. } => {
                self.read_deadline.before_read(deadline)?;
                self.req.rfile.read(buffer)
            }
            RequestBody::Spooled(spooled) => spooled.read(buffer),
        }
    }

    fn output(&mut self) -> &mut Self {
        self
    }

    fn client_gone(&mut self) -> bool {
        self.req
            .connection_socket()
            .is_some_and(|socket| crate::sys::peer_closed(socket.as_fd()))
    }

    fn stopping(&mut self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }
}

/// Where the script's stdin comes from.
enum RequestBody {
    /// Straight from the connection (`rfile`), as it arrives: a body with a Content-Length (or none).
    Streamed {
        /// The declared length, `None` without a body.
        length: Option<u64>,
    },
    /// A chunked body, read whole first so that `CONTENT_LENGTH` can be set as RFC 3875 §4.1.2 requires.
    Spooled(SpooledBody),
}

impl RequestBody {
    /// The script's `CONTENT_LENGTH`, `None` when there is no body.
    fn length(&self) -> Option<u64> {
        match self {
            RequestBody::Streamed { length } => *length,
            RequestBody::Spooled(spooled) => Some(spooled.length),
        }
    }
}

/// Decides how the request body reaches the script; `None` when it is larger than `limit` (answered with 413).
///
/// A Content-Length body streams through as it arrives, refused up front when it declares more than the limit.
/// A chunked body has no length until it ends, and RFC 3875 §4.1.2 wants `CONTENT_LENGTH` whenever there is a body,
/// so it is read first, in memory up to 64 KiB and beyond that in an unnamed temporary file (as Apache's mod_cgi does),
/// never more than `limit` bytes of it, and never past `deadline` (a timeout error then).
fn request_body(
    req: &mut HttpRequest<'_>,
    limit: Option<u64>,
    deadline: Option<Instant>,
) -> io::Result<Option<RequestBody>> {
    let limit = limit.unwrap_or(u64::MAX);
    if req.headers.contains("Transfer-Encoding") {
        let mut bounded = DeadlineReader {
            deadline: SocketDeadline::new(req.connection_socket()),
            when: deadline,
            req: &mut *req,
        };
        return Ok(match spool_body(&mut bounded, limit)? {
            Spooled::Body(body) => Some(RequestBody::Spooled(body)),
            Spooled::TooLarge => None,
        });
    }
    // basehttp has refused a missing, broken or conflicting Content-Length on a request with a body.
    let declared = req
        .headers
        .get("Content-Length")
        .and_then(|length| length.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Ok(None);
    }
    Ok(Some(RequestBody::Streamed { length: declared }))
}

/// A chunked request body, read whole before the script starts: in memory when small, else in an unnamed temporary file.
struct SpooledBody {
    reader: SpooledReader,
    length: u64,
}

enum SpooledReader {
    Memory(Cursor<Vec<u8>>),
    File(File),
}

enum Spooled {
    Body(SpooledBody),
    TooLarge,
}

impl Read for SpooledBody {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        match &mut self.reader {
            SpooledReader::Memory(cursor) => cursor.read(buffer),
            SpooledReader::File(file) => file.read(buffer),
        }
    }
}

/// The request body, each read bounded by a deadline (see [`SocketDeadline`]).
struct DeadlineReader<'r, 'a> {
    req: &'r mut HttpRequest<'a>,
    deadline: SocketDeadline<'a>,
    when: Option<Instant>,
}

impl Read for DeadlineReader<'_, '_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        self.deadline.before_read(self.when)?;
        self.req.rfile.read(buffer)
    }
}

/// Reads the request body into a [`SpooledBody`], or answers [`Spooled::TooLarge`] as soon as it passes `limit` bytes.
fn spool_body(body: &mut impl Read, limit: u64) -> io::Result<Spooled> {
    let mut memory = Vec::new();
    body.take(SPOOL_IN_MEMORY.min(usize::try_from(limit).unwrap_or(usize::MAX)) as u64 + 1)
        .read_to_end(&mut memory)?;
    if memory.len() <= SPOOL_IN_MEMORY {
        if memory.len() as u64 > limit {
            return Ok(Spooled::TooLarge);
        }
        let length = memory.len() as u64;
        return Ok(Spooled::Body(SpooledBody {
            reader: SpooledReader::Memory(Cursor::new(memory)),
            length,
        }));
    }
    let mut file = tempfile::tempfile()?;
    file.write_all(&memory)?;
    let rest = io::copy(
        &mut body.take(limit.saturating_sub(memory.len() as u64).saturating_add(1)),
        &mut file,
    )?;
    let length = memory.len() as u64 + rest;
    if length > limit {
        return Ok(Spooled::TooLarge);
    }
    file.seek(SeekFrom::Start(0))?;
    Ok(Spooled::Body(SpooledBody {
        reader: SpooledReader::File(file),
        length,
    }))
}
