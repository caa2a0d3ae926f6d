//! The connection loop: Python's `handle()` and `handle_one_request()`, over any byte stream.
//!
//! It reads request heads with [`HeadParser`], answers malformed ones as Python does, dispatches to the `do_*` hooks,
//! and keeps the connection usable: an unread body is drained (up to a limit) before the next request,
//! heads and idle connections are bounded in time, and a panicking hook costs only its own request.

use std::io::{self, BufRead, BufWriter, Read, Write};
use std::net::Shutdown;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use socketserver::{Address, Ready, Stream};

use crate::body::Body;
use crate::handler::{BaseHttpRequestHandler, HttpRequest, Limits, RequestParts};
use crate::headers::Headers;
use crate::parse::{BodyFraming, HeadParser, ParseError, RequestHead, Status};

/// The read buffer's usual size; a head longer than this grows it, and it shrinks back once idle.
const BUFFER_SIZE: usize = 8192;

/// The message Python logs when a read times out (`log_error("Request timed out: %r", e)`).
const TIMED_OUT: &str = "Request timed out: TimeoutError('timed out')";

/// What the connection loop needs to know besides the byte streams.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    /// The client's address.
    pub client_address: Address,
    /// The server's bound address.
    pub server_address: Address,
    /// The socket under the streams, used for read and write timeouts; `None` applies no timeout.
    pub socket: Option<Stream>,
    /// Whether the streams are the socket itself, so hooks may write to it directly (`HttpRequest::raw_stream`).
    /// A TLS layer sets this false.
    pub plain: bool,
}

/// Serves HTTP requests on one connection until it closes (Python's `handle()`).
///
/// `reader` and `writer` are the two directions of the connection: the socket itself for plain TCP,
/// or the halves of a TLS session. Output is buffered and flushed after each hook returns.
pub fn serve_connection<R: Read, W: Write>(
    handler: &dyn BaseHttpRequestHandler,
    reader: R,
    writer: W,
    info: ConnectionInfo,
) -> io::Result<()> {
    let result = Connection {
        handler,
        limits: handler.limits(),
        input: Input::new(reader),
        output: BufWriter::with_capacity(BUFFER_SIZE, writer),
        parser: HeadParser::with_max_head_size(handler.limits().max_head_size),
        socket: info.socket.as_ref(),
        raw_stream: if info.plain {
            info.socket.as_ref()
        } else {
            None
        },
        read_timeout: None,
        client_address: &info.client_address,
        server_address: &info.server_address,
    }
    .run();
    match result {
        Err(error) if is_disconnect(&error) => {
            // The client went away; Python reports these as tracebacks, which tell the operator nothing.
            Ok(())
        }
        other => other,
    }
}

/// What a parked connection keeps between two wake-ups in socketserver's readiness mode.
///
/// An idle connection keeps no buffer at all; one parked in the middle of a head keeps the bytes it has and when they began.
struct Parked {
    /// The unparsed bytes, with their bounds; `None` when nothing was left over.
    input: Option<(Vec<u8>, usize, usize)>,
    /// When the first byte of the pending head arrived, for the head timeout.
    head_started: Option<Instant>,
    /// The read timeout last set on the socket, which outlives the wake-up (`Connection::read_timeout`).
    read_timeout: Option<Option<Duration>>,
}

/// Serves what one connection has to offer now, for socketserver's readiness mode (not in Python).
///
/// Complete requests are served as [`serve_connection`] serves them, with blocking reads of their bodies and the usual timeouts.
/// Request heads, though, are read only as far as they have arrived: when the next head is not complete,
/// the partial bytes go into `state` and the connection parks, so a slow client holds no worker.
pub(crate) fn serve_ready(
    handler: &dyn BaseHttpRequestHandler,
    stream: &Stream,
    info: &ConnectionInfo,
    state: &mut Option<Box<dyn std::any::Any + Send>>,
) -> io::Result<Ready> {
    let parked = state
        .take()
        .and_then(|state| state.downcast::<Parked>().ok());
    let limits = handler.limits();
    let (input, mut head_started, read_timeout) = match parked {
        Some(parked) => {
            let input = match parked.input {
                Some((buffer, start, end)) => Input {
                    inner: stream,
                    buffer,
                    start,
                    end,
                },
                None => Input::recycled(stream),
            };
            (input, parked.head_started, parked.read_timeout)
        }
        None => {
            // The first wake-up: the settings `run` makes once per connection.
            stream.set_write_timeout(limits.idle_timeout)?;
            (Input::recycled(stream), None, None)
        }
    };
    let mut connection = Connection {
        handler,
        limits,
        input,
        output: BufWriter::with_capacity(BUFFER_SIZE, stream),
        parser: HeadParser::with_max_head_size(limits.max_head_size),
        socket: Some(stream),
        raw_stream: if info.plain { Some(stream) } else { None },
        read_timeout,
        client_address: &info.client_address,
        server_address: &info.server_address,
    };
    let outcome = match connection.run_ready(&mut head_started) {
        Ok(Ready::Park) => {
            let input = &connection.input;
            let kept = (input.start < input.end).then(|| {
                let input = std::mem::replace(&mut connection.input, Input::empty(stream));
                (input.buffer, input.start, input.end)
            });
            *state = Some(Box::new(Parked {
                input: kept,
                head_started,
                read_timeout: connection.read_timeout,
            }));
            // A partial head is closed at its deadline even if the client stays silent; a limit too long for the clock is none.
            Ok(match (head_started, limits.head_timeout) {
                (Some(started), Some(limit)) => started
                    .checked_add(limit)
                    .map_or(Ready::Park, Ready::ParkUntil),
                _ => Ready::Park,
            })
        }
        Ok(Ready::ParkUntil(deadline)) => Ok(Ready::ParkUntil(deadline)),
        Ok(Ready::Close) => Ok(Ready::Close),
        Err(error) if is_disconnect(&error) => Ok(Ready::Close),
        Err(error) => Err(error),
    };
    // The next wake-up on this worker reads into the same buffer instead of allocating and zeroing a new one.
    recycle(std::mem::take(&mut connection.input.buffer));
    outcome
}

fn is_disconnect(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// How reading a head ended.
enum HeadOutcome {
    Head(RequestHead),
    Refused(ParseError),
    Closed,
    TimedOut,
}

/// What to do after a request.
enum Next {
    Continue,
    Close,
    /// Close, but first read away what the client is still sending, so the kernel does not answer it
    /// with a reset that can destroy the response before the client reads it (nginx's lingering close).
    Linger,
}

/// How long a lingering close waits for the client to stop sending.
const LINGER_TIME: Duration = Duration::from_millis(500);

/// How many bytes a lingering close reads away at most.
const LINGER_BYTES: usize = 1 << 20;

struct Connection<'a, R, W: Write> {
    handler: &'a dyn BaseHttpRequestHandler,
    limits: Limits,
    input: Input<R>,
    output: BufWriter<W>,
    parser: HeadParser,
    socket: Option<&'a Stream>,
    raw_stream: Option<&'a Stream>,
    /// The read timeout last set on the socket, to skip redundant setsockopt calls.
    read_timeout: Option<Option<Duration>>,
    client_address: &'a Address,
    server_address: &'a Address,
}

fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

impl<W: Write> Connection<'_, &Stream, W> {
    /// The readiness mode's `run`: serves requests while their heads have arrived whole, and parks otherwise.
    fn run_ready(&mut self, head_started: &mut Option<Instant>) -> io::Result<Ready> {
        loop {
            self.parser.reset();
            self.input.shrink();
            let Some(outcome) = self.read_head_nonblocking(head_started)? else {
                return Ok(Ready::Park);
            };
            *head_started = None;
            match self.answer(outcome)? {
                Next::Continue if self.input.buffered().is_empty() => {
                    // Nothing of the next request has arrived: park instead of waiting on a worker.
                    return Ok(Ready::Park);
                }
                Next::Continue => {
                    // A pipelined request is already here; its head clock starts now.
                    *head_started = Some(Instant::now());
                }
                Next::Close => {
                    self.output.flush()?;
                    return Ok(Ready::Close);
                }
                Next::Linger => {
                    self.output.flush()?;
                    self.linger();
                    return Ok(Ready::Close);
                }
            }
        }
    }

    /// Parses the head from what has arrived, reading only what the socket already holds; `None` when more must come first.
    fn read_head_nonblocking(
        &mut self,
        head_started: &mut Option<Instant>,
    ) -> io::Result<Option<HeadOutcome>> {
        loop {
            match self.parser.parse(self.input.buffered()) {
                Ok(Status::Complete(head)) => return Ok(Some(HeadOutcome::Head(head))),
                Ok(Status::Partial) => {}
                Err(error) => return Ok(Some(HeadOutcome::Refused(error))),
            }
            if let (Some(started), Some(limit)) = (*head_started, self.limits.head_timeout) {
                if started.elapsed() >= limit {
                    return Ok(Some(HeadOutcome::TimedOut));
                }
            }
            match self.input.read_more_nonblocking() {
                Ok(0) => return Ok(Some(HeadOutcome::Closed)),
                Ok(_) => {
                    head_started.get_or_insert_with(Instant::now);
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(error) => return Err(error),
            }
        }
    }
}

impl<R: Read, W: Write> Connection<'_, R, W> {
    fn run(&mut self) -> io::Result<()> {
        if let Some(socket) = self.socket {
            socket.set_write_timeout(self.limits.idle_timeout)?;
        }
        loop {
            self.parser.reset();
            self.input.shrink();
            let outcome = self.read_head()?;
            match self.answer(outcome)? {
                Next::Continue => {}
                Next::Close => return self.output.flush(),
                Next::Linger => {
                    self.output.flush()?;
                    self.linger();
                    return Ok(());
                }
            }
        }
    }

    /// Serves or refuses one request once its head has been read (or failed to be).
    fn answer(&mut self, outcome: HeadOutcome) -> io::Result<Next> {
        Ok(match outcome {
            HeadOutcome::Head(head) => self.handle_one_request(head)?,
            HeadOutcome::Refused(ParseError::EmptyRequestLine) | HeadOutcome::Closed => Next::Close,
            HeadOutcome::Refused(error) => {
                self.refuse(error)?;
                Next::Linger
            }
            HeadOutcome::TimedOut => {
                let requestline = self.parser.requestline().unwrap_or("").to_owned();
                self.with_bare_request(requestline, |req| {
                    req.log_error(format_args!("{TIMED_OUT}"));
                    Ok(())
                })?;
                Next::Close
            }
        })
    }

    /// Stops sending, then reads and discards the client's bytes until it closes, for at most
    /// [`LINGER_TIME`] and [`LINGER_BYTES`].
    fn linger(&mut self) {
        let Some(socket) = self.socket else {
            return;
        };
        let _ = socket.shutdown(Shutdown::Write);
        let deadline = Instant::now() + LINGER_TIME;
        let mut discarded = 0;
        while discarded < LINGER_BYTES {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || socket.set_read_timeout(Some(left)).is_err() {
                break;
            }
            let mut reader: &Stream = socket;
            match reader.read(&mut self.input.buffer) {
                Ok(0) => break,
                Ok(count) => discarded += count,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }

    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        if self.read_timeout != Some(timeout) {
            if let Some(socket) = self.socket {
                socket.set_read_timeout(timeout)?;
            }
            self.read_timeout = Some(timeout);
        }
        Ok(())
    }

    /// Reads until a head is complete or refused, under the idle timeout and, once a byte arrived, the head deadline.
    fn read_head(&mut self) -> io::Result<HeadOutcome> {
        let mut deadline: Option<Option<Instant>> = None;
        loop {
            match self.parser.parse(self.input.buffered()) {
                Ok(Status::Complete(head)) => return Ok(HeadOutcome::Head(head)),
                Ok(Status::Partial) => {}
                Err(error) => return Ok(HeadOutcome::Refused(error)),
            }
            let timeout = if self.input.buffered().is_empty() {
                self.limits.idle_timeout
            } else {
                let deadline = *deadline.get_or_insert_with(|| {
                    // A limit too long to add to the clock is no limit.
                    self.limits
                        .head_timeout
                        .and_then(|limit| Instant::now().checked_add(limit))
                });
                match deadline {
                    None => self.limits.idle_timeout,
                    Some(deadline) => {
                        let left = deadline.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            return Ok(HeadOutcome::TimedOut);
                        }
                        Some(self.limits.idle_timeout.map_or(left, |idle| idle.min(left)))
                    }
                }
            };
            self.set_read_timeout(timeout)?;
            match self.input.read_more() {
                Ok(0) => return Ok(HeadOutcome::Closed),
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if is_timeout(&error) => return Ok(HeadOutcome::TimedOut),
                Err(error) => return Err(error),
            }
        }
    }

    /// Runs `action` on a request with no parsed head, for the answers and logs of refused or timed-out requests.
    fn with_bare_request(
        &mut self,
        requestline: String,
        action: impl FnOnce(&mut HttpRequest<'_>) -> io::Result<()>,
    ) -> io::Result<()> {
        let parts = RequestParts {
            client_address: self.client_address.clone(),
            server_address: self.server_address.clone(),
            command: String::new(),
            path: String::new(),
            request_version: String::new(),
            headers: Headers::new(),
            requestline,
            http_0_9: false,
        };
        let mut req = HttpRequest::new(self.handler, parts, Body::Empty, &mut self.output, None);
        action(&mut req)
    }

    /// Answers a refused head as Python's `parse_request` does, with a status line.
    fn refuse(&mut self, error: ParseError) -> io::Result<()> {
        let requestline = match error {
            ParseError::UriTooLong => String::new(),
            _ => self.parser.requestline().unwrap_or("").to_owned(),
        };
        let message = error.message(&requestline);
        self.with_bare_request(requestline, |req| {
            req.send_error_explain(error.status(), message.as_deref(), error.explain())
        })?;
        self.output.flush()
    }

    /// Python's `handle_one_request` after the head: keep-alive rules, `Expect`, dispatch, then drain.
    fn handle_one_request(&mut self, head: RequestHead) -> io::Result<Next> {
        self.input.consume(head.length);
        let handler = self.handler;
        let line = head.line;
        // Python answers without status line whenever `request_version` reads HTTP/0.9, three-word requests included.
        let http_0_9 = line.request_version() == "HTTP/0.9";
        let protocol_1_1 = handler.protocol_version() >= "HTTP/1.1";
        let version = line.version_number();
        let mut close_connection = !(version >= (1, 1) && protocol_1_1);
        let connection = head.headers.get("Connection").unwrap_or("");
        if connection.eq_ignore_ascii_case("close") {
            close_connection = true;
        } else if connection.eq_ignore_ascii_case("keep-alive") && protocol_1_1 {
            close_connection = false;
        }
        if head.framing == BodyFraming::Chunked && version < (1, 1) {
            // RFC 9112 section 6.1: chunked framing from an HTTP/1.0 client cannot be trusted to end the message.
            close_connection = true;
        }
        let expect_continue = protocol_1_1
            && version >= (1, 1)
            && head
                .headers
                .get("Expect")
                .is_some_and(|expect| expect.eq_ignore_ascii_case("100-continue"));
        let parts = RequestParts {
            client_address: self.client_address.clone(),
            server_address: self.server_address.clone(),
            command: line.command().to_owned(),
            path: line.path().to_owned(),
            request_version: line.request_version().to_owned(),
            headers: head.headers,
            requestline: line.into_requestline(),
            http_0_9,
        };
        self.set_read_timeout(self.limits.idle_timeout)?;
        let body_reader: &mut dyn BufRead = &mut self.input;
        let rfile = Body::with_limit(body_reader, head.framing, self.limits.max_body_size);
        let mut req = HttpRequest::new(handler, parts, rfile, &mut self.output, self.raw_stream);
        req.close_connection = close_connection;

        let outcome = panic::catch_unwind(AssertUnwindSafe(|| -> io::Result<()> {
            req.rfile.check_declared_length()?;
            if expect_continue {
                if !handler.handle_expect_100(&mut req)? {
                    // The body may or may not follow now; only closing keeps the stream in step.
                    req.close_connection = true;
                    return Ok(());
                }
                req.wfile.flush()?;
            }
            dispatch(handler, &mut req)
        }));
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(error)) if is_timeout(&error) => {
                req.log_error(format_args!("{TIMED_OUT}"));
                let _ = req.wfile.flush();
                return Ok(Next::Close);
            }
            Ok(Err(error))
                if crate::body::BodyTooLarge::in_error(&error).is_some()
                    && !req.response_started() =>
            {
                req.log_error(format_args!("Request body too large: {error}"));
                let _ = req.send_error(413, None);
                let _ = req.wfile.flush();
                return Ok(Next::Linger);
            }
            Ok(Err(error))
                if matches!(
                    error.kind(),
                    io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
                ) && !req.response_started() =>
            {
                // Most often a malformed or cut chunked body read through `rfile`: the client's fault, so 400.
                req.log_error(format_args!("Bad request body: {error}"));
                let _ = req.send_error(400, Some("Bad request body"));
                let _ = req.wfile.flush();
                return Ok(Next::Linger);
            }
            Ok(Err(error)) => {
                let _ = req.wfile.flush();
                return Err(error);
            }
            Err(_panic) => {
                // The panic hook has printed the message; answer 500 if the client has seen nothing yet.
                if !req.response_started() {
                    let _ = req.send_error(500, None);
                }
                let _ = req.wfile.flush();
                return Ok(Next::Linger);
            }
        }
        req.wfile.flush()?;
        if req.close_connection || http_0_9 {
            return Ok(if req.rfile.is_done() {
                Next::Close
            } else {
                Next::Linger
            });
        }
        // Python would parse an unread body as the next request; drain it instead, or close.
        match req.rfile.drain(self.limits.drain_limit) {
            Ok(true) => Ok(Next::Continue),
            Ok(false) | Err(_) => Ok(Next::Linger),
        }
    }
}

/// Calls the hook for the request's method (case-sensitive, as Python's `do_` + command lookup).
fn dispatch(handler: &dyn BaseHttpRequestHandler, req: &mut HttpRequest<'_>) -> io::Result<()> {
    type Hook = fn(&dyn BaseHttpRequestHandler, &mut HttpRequest<'_>) -> io::Result<()>;
    let hook: Hook = match req.command.as_str() {
        "GET" => |handler, req| handler.do_get(req),
        "HEAD" => |handler, req| handler.do_head(req),
        "POST" => |handler, req| handler.do_post(req),
        "PUT" => |handler, req| handler.do_put(req),
        "DELETE" => |handler, req| handler.do_delete(req),
        "OPTIONS" => |handler, req| handler.do_options(req),
        "PATCH" => |handler, req| handler.do_patch(req),
        _ => |handler, req| handler.do_method(req),
    };
    hook(handler, req)
}

thread_local! {
    /// A readiness worker's spare input buffer: a parked connection keeps none, so each wake-up takes this one.
    static SPARE_BUFFER: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Keeps a buffer of the usual size for the next [`Input::recycled`] on this thread.
fn recycle(buffer: Vec<u8>) {
    if buffer.len() == BUFFER_SIZE {
        SPARE_BUFFER.set(buffer);
    }
}

/// The connection's read side: a buffer the head parser sees whole, and a `BufRead` for the body after it.
struct Input<R> {
    inner: R,
    buffer: Vec<u8>,
    start: usize,
    end: usize,
}

impl<R: Read> Input<R> {
    fn new(inner: R) -> Self {
        Input {
            inner,
            buffer: vec![0; BUFFER_SIZE],
            start: 0,
            end: 0,
        }
    }

    /// [`Input::new`] with this thread's spare buffer, if it has one; only `start..end` of a buffer is ever read.
    fn recycled(inner: R) -> Self {
        let buffer = SPARE_BUFFER.take();
        if buffer.len() != BUFFER_SIZE {
            return Input::new(inner);
        }
        Input {
            inner,
            buffer,
            start: 0,
            end: 0,
        }
    }

    /// An input with no buffer, left behind when a parked connection takes its buffer along.
    fn empty(inner: R) -> Self {
        Input {
            inner,
            buffer: Vec::new(),
            start: 0,
            end: 0,
        }
    }

    /// Makes room after the buffered bytes: moves them to the front, or grows the buffer when it is full.
    fn make_room(&mut self) {
        if self.start > 0 {
            self.buffer.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buffer.len() {
            let grown = (self.buffer.len() * 2).max(BUFFER_SIZE);
            self.buffer.resize(grown, 0);
        }
    }

    fn buffered(&self) -> &[u8] {
        &self.buffer[self.start..self.end]
    }

    /// Reads more bytes after the buffered ones, moving them to the front or growing the buffer when it is full.
    /// The head parser bounds how far it grows (a line over its limit is refused before the next read).
    fn read_more(&mut self) -> io::Result<usize> {
        self.make_room();
        let count = self.inner.read(&mut self.buffer[self.end..])?;
        self.end += count;
        Ok(count)
    }

    /// Gives a grown buffer back once it holds little, so an idle connection keeps only the usual size.
    fn shrink(&mut self) {
        let held = self.end - self.start;
        if self.buffer.len() > BUFFER_SIZE && held <= BUFFER_SIZE {
            self.buffer.copy_within(self.start..self.end, 0);
            self.start = 0;
            self.end = held;
            self.buffer.truncate(BUFFER_SIZE);
            self.buffer.shrink_to_fit();
        }
    }
}

impl Input<&Stream> {
    /// `read_more`, but only what the socket already holds: `WouldBlock` when nothing has arrived.
    fn read_more_nonblocking(&mut self) -> io::Result<usize> {
        self.make_room();
        let count = self.inner.read_nonblocking(&mut self.buffer[self.end..])?;
        self.end += count;
        Ok(count)
    }
}

impl<R: Read> Read for Input<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if self.start == self.end && buffer.len() >= self.buffer.len() {
            return self.inner.read(buffer);
        }
        let available = self.fill_buf()?;
        let count = available.len().min(buffer.len());
        buffer[..count].copy_from_slice(&available[..count]);
        self.consume(count);
        Ok(count)
    }
}

impl<R: Read> BufRead for Input<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            loop {
                match self.inner.read(&mut self.buffer) {
                    Ok(count) => {
                        self.end = count;
                        break;
                    }
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(error) => return Err(error),
                }
            }
        }
        Ok(&self.buffer[self.start..self.end])
    }

    fn consume(&mut self, amount: usize) {
        self.start = (self.start + amount).min(self.end);
    }
}
