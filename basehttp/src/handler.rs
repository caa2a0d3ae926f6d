//! [`BaseHttpRequestHandler`], the trait of overridable hooks, and [`HttpRequest`], the per-request state handed to them.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, Write};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use socketserver::{Address, Stream};

use crate::body::Body;
use crate::headers::Headers;
use crate::status::responses;
use crate::target::RequestTarget;
use crate::text::{
    date_time_string, format_error_message, html_escape, log_date_time_string, python_repr,
    DEFAULT_ERROR_CONTENT_TYPE, DEFAULT_ERROR_MESSAGE,
};

/// The Rust version this crate was built with, as Python's `sys_version` names the interpreter: `Rust/1.95.0`.
pub const SYS_VERSION: &str = concat!("Rust/", env!("BASEHTTP_RUSTC_VERSION"));

/// Python's `BaseHTTPRequestHandler.server_version`.
pub const SERVER_VERSION: &str = "BaseHTTP/0.6";

/// Limits of one connection, beyond Python's line and header limits (which are fixed: [`crate::MAX_LINE`], [`crate::MAX_HEADERS`]).
///
/// Python has no read timeout by default, so one idle client holds a thread forever, and it never drains an unread body.
/// `None` timeouts restore Python's behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long a connection may stay silent: between requests, and on each read or write inside one.
    pub idle_timeout: Option<Duration>,
    /// How long a client may take to send a whole request head once its first byte has arrived (slowloris defence).
    pub head_timeout: Option<Duration>,
    /// How many unread body bytes are read and thrown away so the connection can carry the next request;
    /// a longer rest closes the connection instead.
    ///
    /// In [`socketserver::Mode::Readiness`] it is also the largest request body (by `Content-Length`) that the connection reads
    /// whole, without a thread, before calling the hook, so a client trickling a small body holds no worker.
    pub drain_limit: u64,
    /// The most bytes a request head may take, request line and header lines together ([`crate::MAX_HEAD_SIZE`], 32 KiB, by default).
    /// A longer head is refused with 431 (414 when the request line alone is longer) as soon as its bytes pass the limit.
    pub max_head_size: usize,
    /// The most bytes a request body may have, `Content-Length` or chunked; `None` (the default) sets no cap.
    ///
    /// A larger declared `Content-Length` is refused before any of the body is read, a chunked body as soon as a chunk's
    /// declared size takes the total past the cap: reading `rfile` fails with a [`crate::BodyTooLarge`] error,
    /// which the connection loop answers with 413 when the response has not started.
    pub max_body_size: Option<u64>,
    /// In [`socketserver::Mode::Readiness`], how many response bytes a hook may write ahead of the client before a write waits for it
    /// (holding the worker); what is left when the hook returns goes out without a thread. File ranges sent with
    /// [`HttpRequest::send_file`] are not counted: they are sent from the file as the client reads.
    pub output_buffer: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            idle_timeout: Some(Duration::from_secs(60)),
            head_timeout: Some(Duration::from_secs(30)),
            drain_limit: 64 * 1024,
            max_head_size: crate::parse::MAX_HEAD_SIZE,
            max_body_size: None,
            output_buffer: 64 * 1024,
        }
    }
}

impl Limits {
    /// Python's behaviour: no timeouts and no total head size, only Python's limits per line and on the count of headers
    /// (the drain limit stays, as Python has no equivalent to keep).
    pub fn python() -> Self {
        Limits {
            idle_timeout: None,
            head_timeout: None,
            max_head_size: usize::MAX,
            ..Limits::default()
        }
    }
}

/// Writes [`BaseHttpRequestHandler::base`] returning the named field: inside `impl BaseHttpRequestHandler`,
/// `base!(0);` is Python's `class Handler(Base):` for a handler whose field `0` is the base it extends.
///
/// ```
/// use basehttp::prelude::*;
///
/// struct Hello;
/// impl BaseHttpRequestHandler for Hello {
///     fn do_get(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
///         req.send_error(418, None)
///     }
/// }
///
/// struct Extended {
///     parent: Hello,
/// }
/// impl BaseHttpRequestHandler for Extended {
///     base!(parent);
/// }
///
/// let extended = Extended { parent: Hello };
/// assert!(extended.base().is_some());
/// ```
#[macro_export]
macro_rules! base {
    ($field:tt) => {
        fn base(&self) -> ::core::option::Option<&dyn $crate::BaseHttpRequestHandler> {
            ::core::option::Option::Some(&self.$field)
        }
    };
}

/// The request handler: Python's `BaseHTTPRequestHandler`, subclassing becomes implementing this trait.
///
/// Every method has a default that reproduces Python; override the `do_*` hooks to serve methods,
/// and the settings (`server_version`, `protocol_version`, `error_message_format`, ...) as Python's class attributes.
///
/// The default `do_*` hooks answer 501 `Unsupported method ('X')`, as Python does for a missing `do_X`.
///
/// # Extending another handler (Python's subclass of a subclass)
///
/// A handler that builds on another one (Python's `class UploadHandler(SimpleHTTPRequestHandler)`) holds it
/// and names it in [`base`](Self::base). Every method it does not override then comes from that base:
/// the settings (`protocol_version`, `server_version`, `limits`, ...) and the hooks (`do_GET`, `end_headers`, ...),
/// so nothing is forwarded by hand and nothing is silently lost. Calling the base's method is Python's `super()`:
///
/// ```
/// use std::io;
///
/// use basehttp::{BaseHttpRequestHandler, HttpRequest};
///
/// /// Python: `class NoCache(SimpleHTTPRequestHandler)` with `end_headers` overridden, here over any handler.
/// struct NoCache<H>(H);
///
/// impl<H: BaseHttpRequestHandler> BaseHttpRequestHandler for NoCache<H> {
///     fn base(&self) -> Option<&dyn BaseHttpRequestHandler> {
///         Some(&self.0)
///     }
///
///     fn end_headers(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
///         req.send_header("Cache-Control", "no-store")?;
///         // Python's super().end_headers(): whatever the base adds comes after.
///         self.0.end_headers(req)
///     }
/// }
/// ```
///
/// # Shared state (Python's `self.server` and module globals)
///
/// One handler value serves every connection from every thread, so the handler itself is where shared state lives
/// (a `Mutex` or atomics in its fields), where Python keeps it on the server object or in globals;
/// per-request state lives in the [`HttpRequest`], which also names the server's address
/// ([`HttpRequest::server_address`], [`HttpRequest::server_name`], [`HttpRequest::server_port`]).
#[doc(alias = "BaseHTTPRequestHandler")]
pub trait BaseHttpRequestHandler: Send + Sync + 'static {
    /// The handler this one extends (Python's base class, what `super()` reaches); `None`, the default, extends nothing.
    ///
    /// Every other method's default asks the base first, so an extending handler overrides only what it changes.
    /// [`base!`](crate::base) writes this method for a handler that holds its base in a field.
    #[doc(alias = "super")]
    fn base(&self) -> Option<&dyn BaseHttpRequestHandler> {
        None
    }

    /// Python's `server_version`, the first word of the `Server` header.
    fn server_version(&self) -> &str {
        self.base()
            .map_or(SERVER_VERSION, |base| base.server_version())
    }

    /// Python's `sys_version`, the second word of the `Server` header ([`SYS_VERSION`]).
    fn sys_version(&self) -> &str {
        self.base().map_or(SYS_VERSION, |base| base.sys_version())
    }

    /// Python's `protocol_version`: `HTTP/1.0` closes after each response; `HTTP/1.1` keeps connections open,
    /// so every response must then carry an exact `Content-Length`.
    fn protocol_version(&self) -> &str {
        self.base()
            .map_or("HTTP/1.0", |base| base.protocol_version())
    }

    /// Python's `error_message_format`: the page `send_error` fills with `%(code)d`, `%(message)s` and `%(explain)s`.
    fn error_message_format(&self) -> &str {
        self.base()
            .map_or(DEFAULT_ERROR_MESSAGE, |base| base.error_message_format())
    }

    /// Python's `error_content_type`.
    fn error_content_type(&self) -> &str {
        self.base()
            .map_or(DEFAULT_ERROR_CONTENT_TYPE, |base| base.error_content_type())
    }

    /// Python's `responses[code]`: the phrase of the status line and the explanation of error pages.
    /// Defaults to Python's `http.HTTPStatus` table ([`crate::responses`]).
    fn responses(&self, code: u16) -> Option<(&str, &str)> {
        match self.base() {
            Some(base) => base.responses(code),
            None => responses(code),
        }
    }

    /// Timeouts and the drain limit of each connection.
    fn limits(&self) -> Limits {
        self.base()
            .map_or_else(Limits::default, |base| base.limits())
    }

    /// Runs on every response just before the blank line that ends its headers (Python's overridable `end_headers`):
    /// files, redirects, listings, 304s, error pages and refusals alike, so a header sent here is on all of them.
    ///
    /// [`HttpRequest::end_headers`] calls it, then ends the headers; so where Python's override ends with
    /// `super().end_headers()`, this one just returns (calling `req.end_headers()` from here does nothing).
    /// Send headers with [`HttpRequest::send_header`]; the status being answered is [`HttpRequest::response_status`].
    /// An error discards the buffered headers and is answered as a hook's error is (500 when nothing was sent yet),
    /// without this hook, which is not called again for that request.
    fn end_headers(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        match self.base() {
            Some(base) => base.end_headers(req),
            None => Ok(()),
        }
    }

    /// Sends an error response (Python's overridable `send_error(code, message, explain)`).
    ///
    /// [`HttpRequest::send_error`] and [`HttpRequest::send_error_explain`] call it for every error the server answers:
    /// a hook's own, refused requests, 413, 500. The default sends Python's page ([`HttpRequest::send_error_page`]);
    /// override it to send a page of your own, and call the base's (or `send_error_page`) for the codes you leave alone.
    /// Inside this hook, `req.send_error` sends the default page, so an override cannot call itself without end.
    fn send_error(
        &self,
        req: &mut HttpRequest<'_>,
        code: u16,
        message: Option<&str>,
        explain: Option<&str>,
    ) -> io::Result<()> {
        match self.base() {
            Some(base) => base.send_error(req, code, message, explain),
            None => req.send_error_page(code, message, explain),
        }
    }

    /// Serves `GET` (Python's `do_GET`).
    #[doc(alias = "do_GET")]
    fn do_get(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        match self.base() {
            Some(base) => base.do_get(req),
            None => unsupported_method(req),
        }
    }

    /// Serves `HEAD` (Python's `do_HEAD`).
    #[doc(alias = "do_HEAD")]
    fn do_head(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        match self.base() {
            Some(base) => base.do_head(req),
            None => unsupported_method(req),
        }
    }

    /// Serves `POST` (Python's `do_POST`).
    #[doc(alias = "do_POST")]
    fn do_post(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        match self.base() {
            Some(base) => base.do_post(req),
            None => unsupported_method(req),
        }
    }

    /// Serves `PUT` (Python's `do_PUT`).
    #[doc(alias = "do_PUT")]
    fn do_put(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        match self.base() {
            Some(base) => base.do_put(req),
            None => unsupported_method(req),
        }
    }

    /// Serves `DELETE` (Python's `do_DELETE`).
    #[doc(alias = "do_DELETE")]
    fn do_delete(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        match self.base() {
            Some(base) => base.do_delete(req),
            None => unsupported_method(req),
        }
    }

    /// Serves `OPTIONS` (Python's `do_OPTIONS`).
    #[doc(alias = "do_OPTIONS")]
    fn do_options(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        match self.base() {
            Some(base) => base.do_options(req),
            None => unsupported_method(req),
        }
    }

    /// Serves `PATCH` (Python's `do_PATCH`).
    #[doc(alias = "do_PATCH")]
    fn do_patch(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        match self.base() {
            Some(base) => base.do_patch(req),
            None => unsupported_method(req),
        }
    }

    /// Serves any other method, named by `req.command` (Python's `getattr(self, 'do_' + command)`).
    ///
    /// Methods are matched case-sensitively, as in Python: `get` lands here, not in `do_get`.
    fn do_method(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        match self.base() {
            Some(base) => base.do_method(req),
            None => unsupported_method(req),
        }
    }

    /// Answers `Expect: 100-continue` (Python's `handle_expect_100`): writes `HTTP/1.1 100 Continue` and returns true.
    ///
    /// Override it to refuse: send an error (Python's tests send 417) and return false; the request is then not dispatched.
    fn handle_expect_100(&self, req: &mut HttpRequest<'_>) -> io::Result<bool> {
        if let Some(base) = self.base() {
            return base.handle_expect_100(req);
        }
        req.send_response_only(100, None);
        req.end_headers()?;
        Ok(true)
    }

    /// Logs one message (Python's `log_message`): `<client ip> - - [<date>] <message>` on stderr, control characters escaped.
    ///
    /// Every log line (requests, errors) goes through here. To route them to the `log` facade, override it:
    /// `log::info!("{}", basehttp::log_line(req, message))`, or build your own line from `req.address_string()`.
    fn log_message(&self, req: &HttpRequest<'_>, message: fmt::Arguments<'_>) {
        if let Some(base) = self.base() {
            return base.log_message(req, message);
        }
        let mut line = log_line(req, message);
        line.push('\n');
        write_stderr_line(line.as_bytes());
    }
}

/// Writes one log line to stderr in a single write(2), without std's stderr lock.
///
/// `io::stderr()` holds a process-wide lock across the write system call, so busy request threads queue on it
/// (futex waits on every request under load). A duplicate of descriptor 2, made once, shares the same open file
/// and takes no lock; one write per line keeps lines whole. A closed stderr must not panic the way `eprintln!` would.
pub(crate) fn write_stderr_line(line: &[u8]) {
    static STDERR: std::sync::OnceLock<Option<std::fs::File>> = std::sync::OnceLock::new();
    let duplicate = STDERR.get_or_init(|| {
        use std::os::fd::AsFd;
        io::stderr()
            .as_fd()
            .try_clone_to_owned()
            .ok()
            .map(std::fs::File::from)
    });
    let _ = match duplicate {
        Some(file) => (&*file).write_all(line),
        None => io::stderr().write_all(line),
    };
}

/// The default answer of every `do_*` hook: 501 `Unsupported method ('X')`.
pub fn unsupported_method(req: &mut HttpRequest<'_>) -> io::Result<()> {
    let message = format!("Unsupported method ({})", python_repr(&req.command));
    req.send_error(501, Some(&message))
}

/// The line Python's `log_message` writes, without its newline: `127.0.0.1 - - [22/Nov/2026 10:00:00] "GET / HTTP/1.1" 200 -`.
pub fn log_line(req: &HttpRequest<'_>, message: fmt::Arguments<'_>) -> String {
    use fmt::Write as _;
    // One buffer for the whole line (and the newline `log_message` adds), the message escaped as it is written.
    let mut line = String::with_capacity(128);
    match &req.client_address {
        Address::Inet(address) => {
            let _ = write!(line, "{}", address.ip());
        }
        Address::Unix(_) => line.push_str(&req.address_string()),
    }
    line.push_str(" - - [");
    line.push_str(&log_date_time_string(SystemTime::now()));
    line.push_str("] ");
    let _ = crate::text::EscapeLog(&mut line).write_fmt(message);
    line
}

/// Refuses a header that would split the response or cannot be sent: an empty name, a colon in the name,
/// CR, LF or NUL anywhere, a character beyond ISO-8859-1. Says whether both are ASCII, to be copied as they are.
fn check_header(name: &str, value: &str) -> io::Result<bool> {
    check_header_parts(name, &[value])
}

/// [`check_header`] for a value written from `parts` in order: the name read once.
fn check_header_parts(name: &str, parts: &[&str]) -> io::Result<bool> {
    // CR, LF and NUL are single bytes in UTF-8, never part of a longer character, so only text beyond ASCII needs its
    // characters read.
    // A colon is looked for in the same pass, and refused in the name only.
    let scan = |text: &str| {
        let found = byte_classes(text.as_bytes());
        let high = found & HIGH != 0;
        let bad = found & CONTROL != 0
            || (high && text.chars().any(|character| u32::from(character) > 0xff));
        (bad, !high, found & COLON != 0)
    };
    let (mut bad, mut ascii, colon) = scan(name);
    for part in parts {
        let (bad_part, ascii_part, _) = scan(part);
        bad |= bad_part;
        ascii &= ascii_part;
    }
    if name.is_empty() || bad || colon {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "invalid header {}: {}",
                python_repr(name),
                python_repr(&parts.concat())
            ),
        ));
    }
    Ok(ascii)
}

/// Writes a checked header line; `ascii` says whether its text is ASCII, copied as it is.
fn write_header_line(buffer: &mut Vec<u8>, name: &str, parts: &[&str], ascii: bool) {
    // ISO-8859-1, as Python encodes headers.
    let latin1 = |buffer: &mut Vec<u8>, text: &str| {
        if ascii {
            buffer.extend_from_slice(text.as_bytes());
        } else {
            buffer.extend(text.chars().map(|character| u32::from(character) as u8));
        }
    };
    latin1(buffer, name);
    buffer.extend_from_slice(b": ");
    for part in parts {
        latin1(buffer, part);
    }
    buffer.extend_from_slice(b"\r\n");
}

/// What sending headers does besides buffering them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct HeaderEffect {
    /// A `Content-Length` or `Transfer-Encoding` was sent: the body's end is announced.
    framed: bool,
    /// A `Connection` header was sent.
    connection: bool,
    /// What the last `Connection: close` or `keep-alive` set `close_connection` to.
    close: Option<bool>,
}

impl HeaderEffect {
    fn of(name: &str, value: &str) -> HeaderEffect {
        let connection = name.eq_ignore_ascii_case("connection");
        HeaderEffect {
            framed: name.eq_ignore_ascii_case("content-length")
                || name.eq_ignore_ascii_case("transfer-encoding"),
            connection,
            close: if !connection {
                None
            } else if value.eq_ignore_ascii_case("close") {
                Some(true)
            } else if value.eq_ignore_ascii_case("keep-alive") {
                Some(false)
            } else {
                None
            },
        }
    }

    /// This effect, then `later`'s.
    fn then(self, later: HeaderEffect) -> HeaderEffect {
        HeaderEffect {
            framed: self.framed || later.framed,
            connection: self.connection || later.connection,
            close: later.close.or(self.close),
        }
    }
}

/// Header lines checked once, to be sent on many answers with [`HttpRequest::send_header_block`]: a file's
/// representation answered again and again costs one copy instead of a check of every header.
///
/// ```
/// let mut block = basehttp::HeaderBlock::new();
/// block.push("Content-Length", "12").unwrap();
/// assert!(block.push("X-Split", "a\r\nSet-Cookie: b").is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderBlock {
    lines: Vec<u8>,
    effect: HeaderEffect,
}

impl HeaderBlock {
    /// No headers.
    pub fn new() -> Self {
        HeaderBlock::default()
    }

    /// Adds a header, refused as [`HttpRequest::send_header`] refuses it (nothing is added then).
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] for a name or value that would split the response or cannot be sent.
    pub fn push(&mut self, name: &str, value: &str) -> io::Result<()> {
        let ascii = check_header(name, value)?;
        write_header_line(&mut self.lines, name, &[value], ascii);
        self.effect = self.effect.then(HeaderEffect::of(name, value));
        Ok(())
    }
}

/// `format!("{server} {system}").trim()` (Python's `version_string()`) as the pieces to write one after another.
fn version_parts<'a>(server: &'a str, system: &'a str) -> [&'a str; 3] {
    match (server.trim().is_empty(), system.trim().is_empty()) {
        (true, _) => [system.trim(), "", ""],
        (false, true) => [server.trim(), "", ""],
        (false, false) => [server.trim_start(), " ", system.trim_end()],
    }
}

/// CR, LF or NUL, in [`BYTE_CLASS`].
const CONTROL: u8 = 1;
/// A byte above ASCII, in [`BYTE_CLASS`].
const HIGH: u8 = 2;
/// A colon, in [`BYTE_CLASS`].
const COLON: u8 = 4;

/// What [`byte_classes`] looks for in each byte.
const BYTE_CLASS: [u8; 256] = {
    let mut classes = [0; 256];
    classes[b'\r' as usize] = CONTROL;
    classes[b'\n' as usize] = CONTROL;
    classes[0] = CONTROL;
    classes[b':' as usize] = COLON;
    let mut byte = 0x80;
    while byte < 256 {
        classes[byte] = HIGH;
        byte += 1;
    }
    classes
};

/// The classes ([`CONTROL`], [`HIGH`], [`COLON`]) of the bytes in `bytes`: one table lookup a byte, no branch,
/// as every header of every response passes here.
fn byte_classes(bytes: &[u8]) -> u8 {
    bytes
        .iter()
        .fold(0, |found, &byte| found | BYTE_CLASS[usize::from(byte)])
}

/// Where a response goes: bytes, and ranges of files sent by reference (sendfile(2) on a plain socket).
pub(crate) trait Sink: Write {
    /// Sends `length` bytes of `file` from `offset`, after everything written before.
    fn send_file(&mut self, file: Arc<File>, offset: u64, length: u64) -> io::Result<()>;

    /// Sends `bytes`, kept elsewhere too (a cache's entry), after everything written before.
    /// Outputs that keep no response buffer simply write them.
    fn send_shared(&mut self, bytes: Arc<[u8]>) -> io::Result<()> {
        self.write_all(&bytes)
    }
}

/// The response side of a request: a writer that counts what the hooks wrote (Python's `wfile`).
///
/// It writes into the connection's output buffer, so the headers and a small body leave in one write.
/// In [`socketserver::Mode::Readiness`] the buffer holds up to [`Limits::output_buffer`] bytes before a write waits for the client;
/// what is left when the hook returns is sent by the connection without a thread. [`flush`](Write::flush) sends what the socket takes now.
pub struct ResponseWriter<'a> {
    inner: &'a mut dyn Sink,
    written: u64,
}

impl<'a> ResponseWriter<'a> {
    pub(crate) fn new(inner: &'a mut dyn Sink) -> Self {
        ResponseWriter { inner, written: 0 }
    }

    /// How many bytes were written to the connection for this request, headers included.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }
}

impl Write for ResponseWriter<'_> {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        let count = self.inner.write(buffer)?;
        self.written += count as u64;
        Ok(count)
    }

    fn write_all(&mut self, buffer: &[u8]) -> io::Result<()> {
        self.inner.write_all(buffer)?;
        self.written += buffer.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl fmt::Debug for ResponseWriter<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ResponseWriter")
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

/// The request body reader handed to the hooks (Python's `rfile`, bounded by the body's framing).
pub type RequestBody<'a> = Body<&'a mut dyn BufRead>;

/// One request and its response, as the hooks see them: Python's per-request handler state under Python's names.
///
/// The send methods call back into the handler (`log_message`, `error_message_format`, versions),
/// so an override is seen everywhere, as with Python's subclassing.
pub struct HttpRequest<'a> {
    /// The client's address (Python's `client_address`).
    pub client_address: Address,
    /// The server's bound address (Python's `server.server_address`).
    pub server_address: Address,
    /// The method, case kept (Python's `command`); empty when the request line could not be parsed.
    pub command: String,
    /// The request target, a leading `//` reduced to `/` (Python's `path`).
    pub path: String,
    /// The version word of the request (Python's `request_version`), `HTTP/0.9` for a two-word request.
    pub request_version: String,
    /// The header fields (Python's `headers`).
    pub headers: Headers,
    /// The request line without its line ending (Python's `requestline`).
    pub requestline: String,
    /// Whether the connection closes after this response (Python's `close_connection`).
    pub close_connection: bool,
    /// The request body (Python's `rfile`), ending where the body ends.
    pub rfile: RequestBody<'a>,
    /// The response (Python's `wfile`).
    pub wfile: ResponseWriter<'a>,
    handler: &'a dyn BaseHttpRequestHandler,
    headers_buffer: Vec<u8>,
    http_0_9: bool,
    socket: Option<&'a Stream>,
    /// What the headers being buffered say about the body: see [`HttpRequest::end_headers`].
    framing: ResponseFraming,
    /// Where the handler's `end_headers` hook stands for this request.
    hook: HookState,
    /// The last final (not 1xx) status sent, for the access log and the counters.
    sent_status: Option<u16>,
    /// Bytes of response heads written, so the body's count is what the rest of `wfile` says.
    head_bytes: u64,
    /// When the head was whole (or the refusal began): a request's duration runs from here.
    started: Instant,
    /// The connection's peer, when the client address came from a trusted proxy instead.
    peer_address: Option<Address>,
    /// Bytes of interim (1xx) responses written before the final one, so a `100 Continue` does not count as the answer started.
    interim: u64,
    /// Where the handler's `send_error` hook stands for this request.
    error_hook: HookState,
    /// Headers for the next response, whichever code sends it ([`HttpRequest::queue_header`]).
    queued_headers: Vec<(String, String)>,
    /// Who the request was authenticated as, by an authentication layer.
    authenticated_user: Option<AuthenticatedUser>,
}

/// Who a request was authenticated as, and how: set by an authentication layer
/// ([`Authenticator`](crate::Authenticator)) once the credentials proved right, and only then.
///
/// CGI's `REMOTE_USER` and `AUTH_TYPE` come from here (RFC 3875 section 4.1.1 and 4.1.11), never from the unchecked header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedUser {
    /// The user name, as the password file or the command line spells it.
    pub user: String,
    /// The scheme the credentials came by: `Basic` or `Digest` (CGI's `AUTH_TYPE`).
    pub scheme: &'static str,
}

/// Where the handler's `end_headers` hook stands: it must not run inside itself, nor again after it failed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum HookState {
    #[default]
    Idle,
    Running,
    Failed,
}

/// What the response whose headers are being buffered has said so far about where its body ends.
#[derive(Debug, Default, Clone, Copy)]
struct ResponseFraming {
    /// The status of the response line buffered last.
    status: Option<u16>,
    /// A `Content-Length` or `Transfer-Encoding` header was sent.
    framed: bool,
    /// A `Connection` header was sent.
    connection: bool,
}

impl fmt::Debug for HttpRequest<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("HttpRequest")
            .field("client_address", &self.client_address)
            .field("requestline", &self.requestline)
            .field("command", &self.command)
            .field("path", &self.path)
            .field("request_version", &self.request_version)
            .field("headers", &self.headers)
            .field("close_connection", &self.close_connection)
            .finish_non_exhaustive()
    }
}

/// Everything a request is built from, besides the handler and the streams.
pub(crate) struct RequestParts {
    pub client_address: Address,
    pub server_address: Address,
    pub command: String,
    pub path: String,
    pub request_version: String,
    pub headers: Headers,
    pub requestline: String,
    pub http_0_9: bool,
    /// The connection's peer when `client_address` came from a trusted proxy.
    pub peer_address: Option<Address>,
    pub started: Instant,
}

impl<'a> HttpRequest<'a> {
    pub(crate) fn new(
        handler: &'a dyn BaseHttpRequestHandler,
        parts: RequestParts,
        rfile: RequestBody<'a>,
        wfile: &'a mut dyn Sink,
        socket: Option<&'a Stream>,
    ) -> Self {
        HttpRequest {
            client_address: parts.client_address,
            server_address: parts.server_address,
            command: parts.command,
            path: parts.path,
            request_version: parts.request_version,
            headers: parts.headers,
            requestline: parts.requestline,
            close_connection: true,
            rfile,
            wfile: ResponseWriter::new(wfile),
            handler,
            // Room for a typical response head, so the headers go in without regrowing.
            headers_buffer: Vec::with_capacity(512),
            http_0_9: parts.http_0_9,
            socket,
            framing: ResponseFraming::default(),
            hook: HookState::Idle,
            sent_status: None,
            head_bytes: 0,
            started: parts.started,
            peer_address: parts.peer_address,
            error_hook: HookState::Idle,
            queued_headers: Vec::new(),
            authenticated_user: None,
            interim: 0,
        }
    }

    /// The address of the connection's other end: a trusted proxy when [`client_address`](Self::client_address) came from one
    /// (a PROXY protocol header, `X-Forwarded-For` or `Forwarded`), else the client itself.
    pub fn peer_address(&self) -> &Address {
        self.peer_address.as_ref().unwrap_or(&self.client_address)
    }

    /// Counts the request and writes its access line in a format other than Python's, once its answer was handed to the connection.
    pub(crate) fn complete(&self) {
        let took = self.started.elapsed();
        let written = self.wfile.written;
        crate::metrics::record_request(&self.command, self.sent_status, written, took);
        if crate::log::log_format() == crate::log::LogFormat::Python {
            return;
        }
        let remote_addr = self.address_string();
        crate::log::log_completed(&crate::log::Completed {
            remote_addr: &remote_addr,
            requestline: &self.requestline,
            method: &self.command,
            path: &self.path,
            protocol: &self.request_version,
            status: self.sent_status,
            body_bytes: written.saturating_sub(self.head_bytes),
            started: self.started,
            referer: self.headers.get("Referer"),
            user_agent: self.headers.get("User-Agent"),
        });
    }

    /// Marks everything written so far as an interim response (`100 Continue`): the final answer has not started.
    pub(crate) fn mark_interim(&mut self) {
        self.interim = self.wfile.written;
    }

    /// Whether bytes of the final answer (not only interim responses) went out.
    pub(crate) fn final_bytes_written(&self) -> bool {
        self.wfile.written > self.interim
    }

    /// Queues a header for the next response this request sends, whichever code sends it (a hook, an error page, a refusal):
    /// it goes out just before the `end_headers` hook runs. An authentication layer queues its `WWW-Authenticate` challenges
    /// this way and then calls [`send_error`](Self::send_error), so a page of the operator's still carries them.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] for a name or value [`send_header`](Self::send_header) would refuse; nothing is queued then.
    pub fn queue_header(&mut self, name: &str, value: &str) -> io::Result<()> {
        check_header(name, value)?;
        self.queued_headers
            .push((name.to_owned(), value.to_owned()));
        Ok(())
    }

    /// Who an authentication layer found this request's credentials to belong to; `None` when no layer checked any.
    pub fn authenticated_user(&self) -> Option<&AuthenticatedUser> {
        self.authenticated_user.as_ref()
    }

    /// Records who the request is authenticated as; for an authentication layer, once the credentials proved right.
    pub fn set_authenticated_user(&mut self, user: AuthenticatedUser) {
        self.authenticated_user = Some(user);
    }

    /// The handler serving this request.
    pub fn handler(&self) -> &'a dyn BaseHttpRequestHandler {
        self.handler
    }

    /// Whether anything of the answer was written for this request yet (headers still buffered count too);
    /// an interim `100 Continue` sent for `Expect: 100-continue` does not, so a body refused after it still gets its 413 or 400.
    pub fn response_started(&self) -> bool {
        self.final_bytes_written() || !self.headers_buffer.is_empty()
    }

    /// The status of the response whose headers are being sent, `None` before `send_response` (or for HTTP/0.9).
    ///
    /// For the [`end_headers`](BaseHttpRequestHandler::end_headers) hook, which may add headers to some answers only.
    pub fn response_status(&self) -> Option<u16> {
        self.framing.status
    }

    /// The server's host as an IP address (Python's `self.server.server_name`; no DNS lookup, as [`crate::HttpServer::server_name`]).
    /// A Unix socket's path.
    pub fn server_name(&self) -> String {
        match &self.server_address {
            Address::Inet(address) => address.ip().to_string(),
            Address::Unix(path) => path.display().to_string(),
        }
    }

    /// The server's port (Python's `self.server.server_port`); 0 on a Unix socket.
    pub fn server_port(&self) -> u16 {
        match &self.server_address {
            Address::Inet(address) => address.port(),
            Address::Unix(_) => 0,
        }
    }

    /// Whether this is an HTTP/0.9 request, answered with the body alone.
    pub fn is_http_0_9(&self) -> bool {
        self.http_0_9
    }

    /// Logs the request, then buffers the status line, `Server` and `Date` (Python's `send_response`).
    ///
    /// `message` defaults to the status's phrase from [`crate::responses`].
    pub fn send_response(&mut self, code: u16, message: Option<&str>) -> io::Result<()> {
        self.log_request(Some(code), None);
        self.send_response_only(code, message);
        // What `version_string()` and `date_time_string()` give, written where they lie instead of built first.
        let version = version_parts(self.handler.server_version(), self.handler.sys_version());
        self.push_header_line("Server", &version)?;
        crate::text::with_date_time_string(SystemTime::now(), |date| {
            self.push_header_line("Date", &[date])
        })
    }

    /// Buffers the status line alone (Python's `send_response_only`); nothing for HTTP/0.9.
    ///
    /// CR and LF in `message` become spaces, and characters outside ISO-8859-1 become `?`,
    /// where Python would send them as they are or raise.
    pub fn send_response_only(&mut self, code: u16, message: Option<&str>) {
        if code >= 200 {
            self.sent_status = Some(code);
        }
        if self.http_0_9 {
            return;
        }
        let message = match message {
            Some(message) => message,
            None => self
                .handler
                .responses(code)
                .map_or("", |(phrase, _)| phrase),
        };
        self.framing = ResponseFraming {
            status: Some(code),
            ..ResponseFraming::default()
        };
        let protocol = self.handler.protocol_version();
        self.headers_buffer.extend_from_slice(protocol.as_bytes());
        // The digits by hand: `format!` here would cost an allocation on every response.
        self.headers_buffer.push(b' ');
        let mut digits = [0u8; 5];
        let mut start = digits.len();
        let mut rest = code;
        loop {
            start -= 1;
            digits[start] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        self.headers_buffer.extend_from_slice(&digits[start..]);
        self.headers_buffer.push(b' ');
        for character in message.chars() {
            let byte = match character {
                '\r' | '\n' => b' ',
                _ => u8::try_from(u32::from(character)).unwrap_or(b'?'),
            };
            self.headers_buffer.push(byte);
        }
        self.headers_buffer.extend_from_slice(b"\r\n");
    }

    /// Buffers one header line (Python's `send_header`); a `Connection` header sets `close_connection`.
    ///
    /// Unlike Python, a name or value holding CR, LF or NUL (header injection), or a character outside ISO-8859-1,
    /// is refused with an [`io::ErrorKind::InvalidInput`] error and nothing is buffered.
    pub fn send_header(&mut self, name: &str, value: &str) -> io::Result<()> {
        self.push_header_line(name, &[value])?;
        self.apply(HeaderEffect::of(name, value));
        Ok(())
    }

    /// Buffers header lines checked before, as [`send_header`](Self::send_header) would buffer each, with the same effect
    /// on the framing and on `close_connection`: for answers that send the same headers again and again.
    pub fn send_header_block(&mut self, block: &HeaderBlock) -> io::Result<()> {
        if !self.http_0_9 {
            self.headers_buffer.extend_from_slice(&block.lines);
        }
        self.apply(block.effect);
        Ok(())
    }

    fn apply(&mut self, effect: HeaderEffect) {
        self.framing.framed |= effect.framed;
        self.framing.connection |= effect.connection;
        if let Some(close) = effect.close {
            self.close_connection = close;
        }
    }

    /// Checks a header and buffers its line, the value written from `parts` in order (nothing for HTTP/0.9).
    fn push_header_line(&mut self, name: &str, parts: &[&str]) -> io::Result<()> {
        let ascii = check_header_parts(name, parts)?;
        if !self.http_0_9 {
            write_header_line(&mut self.headers_buffer, name, parts, ascii);
        }
        Ok(())
    }

    /// Ends the headers with a blank line and writes them to `wfile` in one write (Python's `end_headers`).
    ///
    /// Unlike Python, a response that may have a body but says neither `Content-Length` nor `Transfer-Encoding`
    /// ends with the connection: `close_connection` is set (with `Connection: close` when the handler speaks HTTP/1.1),
    /// where Python would keep the connection open and leave the client waiting for a body end that never comes.
    ///
    /// First it runs the handler's [`end_headers`](BaseHttpRequestHandler::end_headers) hook, Python's override,
    /// so the headers it sends are on every response; called from inside that hook, it does nothing.
    pub fn end_headers(&mut self) -> io::Result<()> {
        if !self.http_0_9 {
            match self.hook {
                HookState::Running => return Ok(()),
                HookState::Failed => {}
                HookState::Idle => {
                    for (name, value) in std::mem::take(&mut self.queued_headers) {
                        self.send_header(&name, &value)?;
                    }
                    self.hook = HookState::Running;
                    let handler = self.handler;
                    if let Err(error) = handler.end_headers(self) {
                        self.abandon_head();
                        self.hook = HookState::Failed;
                        return Err(error);
                    }
                    self.hook = HookState::Idle;
                }
            }
            let framing = std::mem::take(&mut self.framing);
            let has_body = framing
                .status
                .is_some_and(|code| code >= 200 && !matches!(code, 204 | 304))
                && self.command != "HEAD";
            if has_body && !framing.framed && !self.close_connection {
                self.close_connection = true;
                if !framing.connection
                    && crate::HttpVersion::of_protocol(self.handler.protocol_version())
                        >= crate::HttpVersion::HTTP_1_1
                {
                    self.headers_buffer
                        .extend_from_slice(b"Connection: close\r\n");
                }
            }
            self.headers_buffer.extend_from_slice(b"\r\n");
            self.flush_headers()?;
        }
        Ok(())
    }

    /// Drops the headers buffered but not written yet, after a hook failed, so its error can still be answered cleanly.
    ///
    /// A hook that panicked inside the `end_headers` hook left it running: it is marked failed, so the answer skips it.
    pub(crate) fn abandon_head(&mut self) {
        self.headers_buffer.clear();
        self.queued_headers.clear();
        self.framing = ResponseFraming::default();
        if self.hook == HookState::Running {
            self.hook = HookState::Failed;
        }
        if self.error_hook == HookState::Running {
            self.error_hook = HookState::Failed;
        }
    }

    /// Sends an error page that the connection owes the client (a refusal, 413, 500), even when the `end_headers` hook fails
    /// or panics: the page then goes out a second time without the hook. Errors are left to the caller's next write.
    pub(crate) fn send_error_owed(
        &mut self,
        code: u16,
        message: Option<&str>,
        explain: Option<&str>,
    ) {
        for _ in 0..2 {
            let sent = panic::catch_unwind(AssertUnwindSafe(|| {
                self.send_error_explain(code, message, explain)
            }));
            match sent {
                Ok(Ok(())) => return,
                // Nothing written yet and the hook now skipped: a second try can succeed.
                _ if self.wfile.written == 0 => {
                    self.abandon_head();
                    self.hook = HookState::Failed;
                    self.error_hook = HookState::Failed;
                }
                _ => return,
            }
        }
    }

    /// Writes the buffered headers to `wfile` (Python's `flush_headers`).
    pub fn flush_headers(&mut self) -> io::Result<()> {
        if !self.headers_buffer.is_empty() {
            self.head_bytes += self.headers_buffer.len() as u64;
            let result = self.wfile.write_all(&self.headers_buffer);
            self.headers_buffer.clear();
            result?;
        }
        Ok(())
    }

    /// Sends an error response with Python's default page (Python's `send_error(code, message)`).
    pub fn send_error(&mut self, code: u16, message: Option<&str>) -> io::Result<()> {
        self.send_error_explain(code, message, None)
    }

    /// Sends an error response (Python's `send_error(code, message, explain)`) through the handler's
    /// [`send_error`](BaseHttpRequestHandler::send_error) hook, whose default is [`send_error_page`](Self::send_error_page).
    pub fn send_error_explain(
        &mut self,
        code: u16,
        message: Option<&str>,
        explain: Option<&str>,
    ) -> io::Result<()> {
        if self.error_hook != HookState::Idle {
            return self.send_error_page(code, message, explain);
        }
        self.error_hook = HookState::Running;
        let handler = self.handler;
        let result = handler.send_error(self, code, message, explain);
        if self.error_hook == HookState::Running {
            self.error_hook = HookState::Idle;
        }
        result
    }

    /// The body of Python's `send_error`, the default of the handler's hook: logs `code N, message M`,
    /// sends the status and `Connection: close`, and for codes of 200 and above other than 204, 205 and 304
    /// the handler's error page (message and explanation HTML-escaped) with its type and exact length;
    /// for `HEAD` the page is left out but its headers are kept. Unknown codes read `???`.
    pub fn send_error_page(
        &mut self,
        code: u16,
        message: Option<&str>,
        explain: Option<&str>,
    ) -> io::Result<()> {
        let (short, long) = self.handler.responses(code).unwrap_or(("???", "???"));
        let message = message.unwrap_or(short);
        let explain = explain.unwrap_or(long);
        self.log_error(format_args!("code {code}, message {message}"));
        self.send_response(code, Some(message))?;
        self.send_header("Connection", "close")?;
        let mut body = None;
        if code >= 200 && !matches!(code, 204 | 205 | 304) {
            let page = format_error_message(
                self.handler.error_message_format(),
                code,
                &html_escape(message, false),
                &html_escape(explain, false),
            );
            let content_type = self.handler.error_content_type().to_owned();
            self.send_header("Content-Type", &content_type)?;
            self.send_header("Content-Length", &page.len().to_string())?;
            body = Some(page);
        }
        self.end_headers()?;
        if let Some(page) = body {
            if self.command != "HEAD" && !page.is_empty() {
                self.wfile.write_all(page.as_bytes())?;
            }
        }
        Ok(())
    }

    /// Logs an accepted request (Python's `log_request(code='-', size='-')`): `"<requestline>" code size`.
    ///
    /// It goes through the handler's `log_message` (to stderr by default, as in Python), unless [`set_access_log`](crate::set_access_log)
    /// sent the access log to a file or turned it off.
    pub fn log_request(&self, code: Option<u16>, size: Option<u64>) {
        /// A number, or Python's `-` for none, formatted without a String of its own.
        struct OrDash<T>(Option<T>);
        impl<T: fmt::Display> fmt::Display for OrDash<T> {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                match &self.0 {
                    Some(value) => value.fmt(formatter),
                    None => formatter.write_str("-"),
                }
            }
        }
        if crate::log::log_format() != crate::log::LogFormat::Python {
            // The line is written once the answer is out, with its size and duration (`complete`).
            return;
        }
        // A closure taking the Arguments, because format_args! cannot be bound to a
        // `let` and used later before Rust 1.89 (its temporaries die with the statement).
        let emit = |message: fmt::Arguments<'_>| match crate::log::route() {
            crate::log::Route::Handler => self.log_message(message),
            crate::log::Route::Writer => {
                let mut line = log_line(self, message);
                line.push('\n');
                crate::log::queue_line(line.into_bytes());
            }
            crate::log::Route::Nowhere => {}
        };
        emit(format_args!(
            "\"{}\" {} {}",
            self.requestline,
            OrDash(code),
            OrDash(size)
        ));
    }

    /// Logs an error (Python's `log_error`), through `log_message`.
    pub fn log_error(&self, message: fmt::Arguments<'_>) {
        self.log_message(message);
    }

    /// Logs through the handler's `log_message`.
    pub fn log_message(&self, message: fmt::Arguments<'_>) {
        self.handler.log_message(self, message);
    }

    /// The client's IP address, no DNS lookup (Python's `address_string()`); a Unix client's path.
    pub fn address_string(&self) -> String {
        match &self.client_address {
            Address::Inet(address) => address.ip().to_string(),
            Address::Unix(path) => path.display().to_string(),
        }
    }

    /// `server_version sys_version` (Python's `version_string()`), the `Server` header.
    pub fn version_string(&self) -> String {
        // Built by hand, not with format!: this runs for every response.
        let (server, system) = (self.handler.server_version(), self.handler.sys_version());
        let mut version = String::with_capacity(server.len() + 1 + system.len());
        version.push_str(server);
        version.push(' ');
        version.push_str(system);
        let trimmed = version.trim();
        if trimmed.len() == version.len() {
            version
        } else {
            trimmed.to_owned()
        }
    }

    /// The current time as an HTTP date (Python's `date_time_string()`); see [`crate::date_time_string`] for another time.
    pub fn date_time_string(&self) -> String {
        date_time_string(SystemTime::now())
    }

    /// The current time as Python's `log_date_time_string()` writes it (in UTC; see [`crate::log_date_time_string`]).
    pub fn log_date_time_string(&self) -> String {
        log_date_time_string(SystemTime::now())
    }

    /// The request path read once for every layer: decoded, normalised, cut at `?` and `#` ([`RequestTarget`]).
    ///
    /// File lookup and script routing both start from this, so a target cannot name one thing to one layer and another to the next.
    /// It is computed from [`path`](Self::path) on each call, so it always follows a rewritten `path`;
    /// a hook that needs it twice keeps the value.
    pub fn target(&self) -> RequestTarget {
        RequestTarget::parse(&self.path)
    }

    /// The connection's socket, to watch but not to read or write: for example to poll it for a hang-up
    /// while the answer is still being prepared. `None` for a test double.
    ///
    /// Under TLS the socket carries encrypted records: readable does not mean a request byte has arrived.
    pub fn connection_socket(&self) -> Option<&'a Stream> {
        self.socket
    }

    /// Sends `length` bytes of `file` from `offset` as the next part of the response, after the buffered headers and output
    /// (Python's `shutil.copyfileobj(f, self.wfile)` in `SimpleHTTPRequestHandler`, without copying through this process).
    ///
    /// On a plain socket the kernel copies the pages with sendfile(2), the head leaving with MSG_MORE so it shares a segment
    /// with the start of the body; under TLS the file is read and encrypted as the client takes it. In [`socketserver::Mode::Readiness`]
    /// nothing waits here: the connection sends the range as the client reads it, without holding a thread.
    ///
    /// # Errors
    ///
    /// An error from the socket; a file shorter than the range ends the connection once its end is reached
    /// ([`io::ErrorKind::UnexpectedEof`] in the log), since the promised length can no longer be kept.
    pub fn send_file(&mut self, file: Arc<File>, offset: u64, length: u64) -> io::Result<()> {
        self.flush_headers()?;
        if length == 0 {
            return Ok(());
        }
        self.wfile.inner.send_file(file, offset, length)?;
        self.wfile.written += length;
        Ok(())
    }

    /// Sends `bytes` as the next part of the response, after the buffered headers and output, by reference:
    /// for a body kept in memory and shared (a cache's entry, such as a compressed file).
    ///
    /// Unlike a write to [`wfile`](Self::wfile), these bytes do not count against [`Limits::output_buffer`]: in
    /// [`socketserver::Mode::Readiness`] nothing waits here, the connection sends them as the client reads without holding a thread,
    /// and they are not copied.
    ///
    /// # Errors
    ///
    /// An error from the socket (on a connection served by a thread, which writes them at once).
    pub fn send_shared(&mut self, bytes: Arc<[u8]>) -> io::Result<()> {
        self.flush_headers()?;
        let length = bytes.len() as u64;
        if length == 0 {
            return Ok(());
        }
        self.wfile.inner.send_shared(bytes)?;
        self.wfile.written += length;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_parts_are_the_trimmed_version_string() {
        let words = ["", " ", "SimpleHTTP/0.6", " a ", "b\t", "\u{a0}c", "d e"];
        for server in words {
            for system in words {
                assert_eq!(
                    version_parts(server, system).concat(),
                    format!("{server} {system}").trim(),
                    "{server:?} {system:?}"
                );
            }
        }
    }

    #[test]
    fn byte_classes_agree_with_a_byte_by_byte_reading() {
        let naive = |bytes: &[u8]| {
            let has = |class: u8, wanted: fn(u8) -> bool| {
                if bytes.iter().any(|&byte| wanted(byte)) {
                    class
                } else {
                    0
                }
            };
            has(CONTROL, |byte| matches!(byte, b'\r' | b'\n' | b'\0'))
                | has(HIGH, |byte| byte >= 0x80)
                | has(COLON, |byte| byte == b':')
        };
        for length in 0..26 {
            let plain: Vec<u8> = (0..length).map(|index| b'a' + (index % 26) as u8).collect();
            assert_eq!(byte_classes(&plain), 0);
            for at in 0..length {
                for byte in [
                    b'\r', b'\n', b'\0', b'\t', 0x0b, 0x0c, 0x0e, 0x1f, 0x7f, 0x80, 0xc3, 0xff,
                    0x01, b':', b';', b'9',
                ] {
                    let mut bytes = plain.clone();
                    bytes[at] = byte;
                    assert_eq!(byte_classes(&bytes), naive(&bytes), "{bytes:?}");
                    bytes[(at + 1) % length] = b':';
                    assert_eq!(byte_classes(&bytes), naive(&bytes), "{bytes:?}");
                }
            }
        }
    }

    #[test]
    fn headers_with_breaks_or_wide_characters_are_refused() {
        assert_eq!(check_header("X-A", "b").ok(), Some(true));
        assert_eq!(check_header("X-A", "caf\u{e9}").ok(), Some(false));
        assert_eq!(check_header("X-A", "\u{ff}").ok(), Some(false));
        // A colon is refused in a name only.
        assert_eq!(check_header("Location", "http://a:8/").ok(), Some(true));
        for (name, value) in [
            ("", "v"),
            ("X:A", "v"),
            ("X-A", "one\r\ntwo"),
            ("X-A", "nul\0"),
            ("X\nA", "v"),
            ("X-A", "\u{100}"),
            ("X-A", "a long value that runs past eight bytes\r"),
        ] {
            assert!(check_header(name, value).is_err(), "{name:?}: {value:?}");
        }
    }
}
