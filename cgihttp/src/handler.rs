//! [`CgiHttpRequestHandler`]: Python's `CGIHTTPRequestHandler` on simplehttp's file serving, joined from this crate's pieces.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use basehttp::{escape_log, log_date_time_string, BaseHttpRequestHandler, HttpRequest, Limits};
use simplehttp::{serve_files, SimpleHooks, SimpleHttpRequestHandler};

use crate::{
    build_environment, check_script_file, find_script, is_nph, query_arguments, url_collapse_path,
    Body, CgiError, CgiRequest, EnvironmentPolicy, Location, RunAs, ScriptCommand, ScriptHeaders,
    CGI_DIRECTORIES, DEFAULT_TIMEOUT,
};

/// How many local redirects (RFC 3875 §6.2.2) one request may follow, so two scripts cannot bounce it for ever.
pub const MAX_LOCAL_REDIRECTS: u32 = 5;

/// The largest request body a script is given by default; a bigger one is answered with 413.
pub const DEFAULT_MAX_REQUEST_BODY: u64 = 100 * 1024 * 1024;

/// Bodies up to this size are held in memory on their way to the script; bigger ones go through an unnamed temporary file.
const SPOOL_IN_MEMORY: usize = 64 * 1024;

/// The most stderr lines of one script that reach the log.
const MAX_LOGGED_STDERR_LINES: usize = 1000;

/// Python's `CGIHTTPRequestHandler`: serves files as [`SimpleHttpRequestHandler`] and runs scripts under `cgi_directories`.
///
/// GET and HEAD run scripts or serve files; POST runs scripts, and anywhere else gets 501 `Can only POST to CGI scripts`.
/// Beyond Python: the script's header block is parsed (`Status:`, redirects), a timeout kills it,
/// it starts from a clean environment, and its stderr is logged line by line.
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
    /// The largest request body passed to a script; `None` for no limit.
    pub max_request_body: Option<u64>,
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
        }
    }

    /// Answers a request for a script, or `Ok(false)` when the path is not a script path (the caller serves a file).
    ///
    /// Python's `send_head` → `is_cgi` → `run_cgi`.
    pub fn run_cgi(&self, req: &mut HttpRequest<'_>) -> io::Result<bool> {
        let mut redirects = 0;
        loop {
            if url_collapse_path(&req.path).is_none() {
                req.send_error(400, Some("Bad request path"))?;
                return Ok(true);
            }
            let Some(target) = find_script(&req.path, &self.cgi_directories, self.directory())
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
        let body = match spool_body(req, self.max_request_body)? {
            Spooled::Body(body) => body,
            Spooled::TooLarge => {
                req.send_error(413, None)?;
                req.close_connection = true;
                return Ok(None);
            }
        };
        let body_length = body.length;
        let mut headers: Vec<(String, String)> = req
            .headers
            .iter()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("content-length"))
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        if body_length > 0 || req.headers.contains("Content-Length") {
            headers.push(("Content-Length".to_owned(), body_length.to_string()));
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
        let close = self.protocol_version() != "HTTP/1.0";
        let mut local_redirect = None;
        let stderr_lines = Mutex::new(Vec::new());
        let log_prefix = format!(
            "{} - - [{}] CGI {}: ",
            client_address.ip(),
            log_date_time_string(SystemTime::now()),
            escape_log(&target.path.script_name)
        );
        let result = {
            let mut output = RequestOutput { req: &mut *req };
            command.run(
                body,
                &mut output,
                |headers, output| {
                    if let Some(path) = headers.local_redirect() {
                        local_redirect = Some(path.to_owned());
                        return Ok(Body::Discard);
                    }
                    output.send_headers(headers, close)?;
                    // 204 and 304 answers have no body, whatever the script prints.
                    let bodiless = matches!(headers.status(), 204 | 304);
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
        };
        for line in stderr_lines
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            // A closed stderr must not fail the request.
            let _ = io::stderr().write_all(line.as_bytes());
        }
        req.close_connection = true;
        match result {
            Ok(outcome) => {
                if outcome.timed_out {
                    req.log_error(format_args!("CGI script timed out, output cut short"));
                } else if let Some(status) = outcome.exit_status.filter(|status| !status.success())
                {
                    req.log_error(format_args!("CGI script exit status {status}"));
                }
                Ok(local_redirect)
            }
            Err(error) => {
                req.log_error(format_args!("CGI script failed: {error}"));
                if !req.response_started() && !matches!(error, CgiError::Write(_)) {
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

/// The response, as the script runner's output: body bytes go to `wfile`, and the header callback can still send headers.
struct RequestOutput<'r, 'a> {
    req: &'r mut HttpRequest<'a>,
}

impl RequestOutput<'_, '_> {
    /// Sends the status line and headers for a script's header block.
    fn send_headers(&mut self, headers: &ScriptHeaders, close: bool) -> io::Result<()> {
        let req = &mut *self.req;
        req.send_response(headers.status(), headers.reason())?;
        if let Some(content_type) = headers.content_type() {
            req.send_header("Content-Type", content_type)?;
        }
        if let Some(Location::Client(url) | Location::Local(url)) = headers.location() {
            req.send_header("Location", url)?;
        }
        for (name, value) in headers.headers() {
            // A header that basehttp refuses to send (outside ISO-8859-1) is left out, not fatal.
            if let Err(error) = req.send_header(name, value) {
                req.log_error(format_args!("CGI header dropped: {error}"));
            }
        }
        if close {
            req.send_header("Connection", "close")?;
        }
        req.end_headers()
    }
}

impl Write for RequestOutput<'_, '_> {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        self.req.wfile.write(buffer)
    }

    fn write_all(&mut self, buffer: &[u8]) -> io::Result<()> {
        self.req.wfile.write_all(buffer)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.req.wfile.flush()
    }
}

/// The request body, read whole before the script starts: in memory when small, else in an unnamed temporary file.
///
/// basehttp's body reader is tied to the connection's thread, while the script's stdin is fed from a helper thread;
/// reading it first also gives the script an exact `CONTENT_LENGTH`, even for a chunked body.
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

/// Reads the request body into a [`SpooledBody`], or answers [`Spooled::TooLarge`] past `limit` bytes.
fn spool_body(req: &mut HttpRequest<'_>, limit: Option<u64>) -> io::Result<Spooled> {
    let limit = limit.unwrap_or(u64::MAX);
    // A declared length over the limit is refused before a byte of it is read.
    let declared = req
        .headers
        .get("Content-Length")
        .and_then(|length| length.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Ok(Spooled::TooLarge);
    }
    let mut memory = Vec::new();
    (&mut req.rfile)
        .take(SPOOL_IN_MEMORY as u64 + 1)
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
        &mut (&mut req.rfile).take(limit.saturating_sub(memory.len() as u64).saturating_add(1)),
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
