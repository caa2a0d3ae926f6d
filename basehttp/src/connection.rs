//! The connection loop: Python's `handle()` and `handle_one_request()`, over any byte stream.
//!
//! It reads request heads with [`HeadParser`], answers malformed ones as Python does, dispatches to the `do_*` hooks,
//! and keeps the connection usable: an unread body is drained (up to a limit) before the next request,
//! heads and idle connections are bounded in time, and a panicking hook costs only its own request.

use std::cell::RefCell;
use std::io::{self, BufRead, BufWriter, Read, Write};
use std::net::Shutdown;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use socketserver::{Address, Stream};

use crate::body::Body;
use crate::buffer::{InputBuffer, BUFFER_SIZE};
use crate::handler::{BaseHttpRequestHandler, HttpRequest, Limits, RequestParts, Sink};
use crate::headers::Headers;
use crate::output::BlockingSink;
use crate::parse::{BodyFraming, HeadParser, ParseError, RequestHead, Status};
use crate::proxy::TrustedProxies;
use crate::version::HttpVersion;

/// The message Python logs when a read times out (`log_error("Request timed out: %r", e)`).
pub(crate) const TIMED_OUT: &str = "Request timed out: TimeoutError('timed out')";

/// What the connection loop needs to know besides the byte streams.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    /// The client's address.
    pub client_address: Address,
    /// The server's bound address.
    pub server_address: Address,
    /// The socket under the streams, used for read and write timeouts; `None` applies no timeout.
    pub socket: Option<Stream>,
    /// Whether the streams are the socket itself, so file ranges can go out by sendfile(2) (`HttpRequest::send_file`).
    /// A TLS layer sets this false.
    pub plain: bool,
    /// The connection's peer, when `client_address` is the client a trusted proxy's PROXY header named; `None` otherwise.
    pub peer_address: Option<Address>,
    /// The peers trusted to name the client in a forwarding header (`X-Forwarded-For`, `Forwarded`); `None` trusts no one.
    pub proxies: Option<Arc<TrustedProxies>>,
}

/// Serves HTTP requests on one connection until it closes (Python's `handle()`), on the calling thread.
///
/// `stream` is the connection: `&Stream` for a plain socket, a TLS session over one (`rustls::StreamOwned`), or any
/// `Read + Write` double. Output is buffered and flushed after each hook returns.
pub fn serve_connection<S: Read + Write>(
    handler: &dyn BaseHttpRequestHandler,
    stream: S,
    info: ConnectionInfo,
) -> io::Result<()> {
    let stream = RefCell::new(stream);
    let result = Connection {
        handler,
        limits: handler.limits(),
        input: Input {
            inner: Half(&stream),
            buffer: InputBuffer::lend(),
        },
        sink: BlockingSink {
            output: BufWriter::with_capacity(BUFFER_SIZE, Half(&stream)),
            socket: if info.plain {
                info.socket.as_ref()
            } else {
                None
            },
        },
        parser: HeadParser::with_max_head_size(handler.limits().max_head_size),
        socket: info.socket.as_ref(),
        read_timeout: None,
        client_address: &info.client_address,
        server_address: &info.server_address,
        peer_address: info.peer_address.as_ref(),
        proxies: info.proxies.as_deref(),
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

/// One direction of the connection's stream: the loop reads and writes it in turn, on one thread.
struct Half<'a, S>(&'a RefCell<S>);

impl<S: Read> Read for Half<'_, S> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        self.0.borrow_mut().read(buffer)
    }
}

impl<S: Write> Write for Half<'_, S> {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().write(buffer)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.borrow_mut().flush()
    }
}

pub(crate) fn is_disconnect(error: &io::Error) -> bool {
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    Continue,
    Close,
    /// Close, but first read away what the client is still sending, so the kernel does not answer it
    /// with a reset that can destroy the response before the client reads it (nginx's lingering close).
    Linger,
}

/// How long a lingering close waits for the client to stop sending.
pub(crate) const LINGER_TIME: Duration = Duration::from_millis(500);

/// How many bytes a lingering close reads away at most.
pub(crate) const LINGER_BYTES: usize = 1 << 20;

pub(crate) fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// The two ends of a connection, as the hooks see them.
#[derive(Clone, Copy)]
pub(crate) struct Peers<'a> {
    /// The client: the peer, or the address a trusted proxy's PROXY protocol header gave.
    pub(crate) client_address: &'a Address,
    pub(crate) server_address: &'a Address,
    /// The peer itself, when a PROXY protocol header replaced it as the client.
    pub(crate) peer_address: Option<&'a Address>,
    /// Whose `X-Forwarded-For` or `Forwarded` header names the client.
    pub(crate) proxies: Option<&'a TrustedProxies>,
}

/// Runs `action` on a request with no parsed head, for the answers and logs of refused or timed-out requests.
pub(crate) fn with_bare_request(
    handler: &dyn BaseHttpRequestHandler,
    peers: Peers<'_>,
    requestline: String,
    sink: &mut dyn Sink,
    action: impl FnOnce(&mut HttpRequest<'_>) -> io::Result<()>,
) -> io::Result<()> {
    let parts = RequestParts {
        client_address: peers.client_address.clone(),
        server_address: peers.server_address.clone(),
        command: String::new(),
        path: String::new(),
        request_version: String::new(),
        headers: Headers::new(),
        requestline,
        http_0_9: false,
        peer_address: peers.peer_address.cloned(),
        started: Instant::now(),
    };
    let mut req = HttpRequest::new(handler, parts, Body::Empty, sink, None);
    action(&mut req)
}

/// Logs Python's `Request timed out` for a request whose head, body or answer did not arrive in time.
pub(crate) fn log_timed_out(
    handler: &dyn BaseHttpRequestHandler,
    peers: Peers<'_>,
    requestline: Option<&str>,
) {
    let mut nowhere = Vec::new();
    let _ = with_bare_request(
        handler,
        peers,
        requestline.unwrap_or("").to_owned(),
        &mut nowhere,
        |req| {
            req.log_error(format_args!("{TIMED_OUT}"));
            Ok(())
        },
    );
}

/// Answers a refused head as Python's `parse_request` does, with a status line, into `sink` (not flushed).
pub(crate) fn refuse(
    handler: &dyn BaseHttpRequestHandler,
    peers: Peers<'_>,
    parser: &HeadParser,
    error: ParseError,
    sink: &mut dyn Sink,
) -> io::Result<()> {
    let requestline = match error {
        ParseError::UriTooLong => String::new(),
        _ => parser.requestline().unwrap_or("").to_owned(),
    };
    let message = error.message(&requestline);
    with_bare_request(handler, peers, requestline, sink, |req| {
        req.send_error_owed(error.status(), message.as_deref(), error.explain());
        req.complete();
        Ok(())
    })
}

/// Python's `handle_one_request` after the head: keep-alive rules, `Expect`, dispatch, then drain the unread body.
///
/// `body` holds the bytes after the head (the caller has consumed the head) and reads on from the connection;
/// the answer goes into `sink`, flushed after the hook (so a client waiting for it before sending the rest of its body is answered)
/// and before the drain.
pub(crate) fn serve_request<'a>(
    handler: &'a dyn BaseHttpRequestHandler,
    limits: &Limits,
    peers: Peers<'_>,
    head: RequestHead,
    body: &'a mut dyn BufRead,
    sink: &'a mut dyn Sink,
    socket: Option<&'a Stream>,
) -> io::Result<Next> {
    let started = Instant::now();
    let expect_continue = expects_continue(handler, &head);
    let line = head.line;
    // Python answers without status line whenever `request_version` reads HTTP/0.9, three-word requests included.
    let http_0_9 = line.request_version() == "HTTP/0.9";
    let protocol_1_1 =
        HttpVersion::of_protocol(handler.protocol_version()) >= HttpVersion::HTTP_1_1;
    let version = line.version();
    let mut close_connection = !(version >= HttpVersion::HTTP_1_1 && protocol_1_1);
    let connection = head.headers.get("Connection").unwrap_or("");
    if connection.eq_ignore_ascii_case("close") {
        close_connection = true;
    } else if connection.eq_ignore_ascii_case("keep-alive") && protocol_1_1 {
        close_connection = false;
    }
    if head.framing == BodyFraming::Chunked && version < HttpVersion::HTTP_1_1 {
        // RFC 9112 section 6.1: chunked framing from an HTTP/1.0 client cannot be trusted to end the message.
        close_connection = true;
    }
    // A trusted proxy names the client in a header; anyone else's header is only a header.
    let forwarded = peers
        .proxies
        .and_then(|proxies| proxies.client_from_headers(peers.client_address, &head.headers));
    let (client_address, peer_address) = match forwarded {
        Some(client) => (
            client,
            Some(peers.peer_address.unwrap_or(peers.client_address).clone()),
        ),
        None => (peers.client_address.clone(), peers.peer_address.cloned()),
    };
    let parts = RequestParts {
        client_address,
        server_address: peers.server_address.clone(),
        command: line.command().to_owned(),
        path: line.path().to_owned(),
        request_version: line.request_version().to_owned(),
        headers: head.headers,
        requestline: line.into_requestline(),
        http_0_9,
        peer_address,
        started,
    };
    let rfile = Body::with_limit(body, head.framing, limits.max_body_size);
    let mut req = HttpRequest::new(handler, parts, rfile, sink, socket);
    req.close_connection = close_connection;
    let next = answer(handler, limits, &mut req, expect_continue, http_0_9);
    req.complete();
    next
}

/// The rest of [`serve_request`] once the request is built: dispatch, the answers to failures, the drain.
fn answer(
    handler: &dyn BaseHttpRequestHandler,
    limits: &Limits,
    req: &mut HttpRequest<'_>,
    expect_continue: bool,
    http_0_9: bool,
) -> io::Result<Next> {
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| -> io::Result<()> {
        req.rfile.check_declared_length()?;
        if expect_continue {
            if !handler.handle_expect_100(req)? {
                // The body may or may not follow now; only closing keeps the stream in step.
                req.close_connection = true;
                return Ok(());
            }
            req.wfile.flush()?;
            req.mark_interim();
        }
        dispatch(handler, req)
    }));
    if !matches!(outcome, Ok(Ok(()))) && !req.final_bytes_written() {
        // Headers a failing hook buffered but never sent are dropped, so the client gets a whole error page instead of nothing.
        req.abandon_head();
    }
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(error)) if is_timeout(&error) => {
            req.log_error(format_args!("{TIMED_OUT}"));
            let _ = req.wfile.flush();
            return Ok(Next::Close);
        }
        Ok(Err(error))
            if crate::body::BodyTooLarge::in_error(&error).is_some() && !req.response_started() =>
        {
            req.log_error(format_args!("Request body too large: {error}"));
            req.send_error_owed(413, None, None);
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
            req.send_error_owed(400, Some("Bad request body"), None);
            let _ = req.wfile.flush();
            return Ok(Next::Linger);
        }
        Ok(Err(error)) => {
            // Answered as a panic is, then reported to the server's handle_error, as Python reports an exception.
            if !req.response_started() {
                req.send_error_owed(500, None, None);
            }
            let _ = req.wfile.flush();
            return Err(error);
        }
        Err(_panic) => {
            // The panic hook has printed the message; answer 500 if the client has seen nothing yet.
            if !req.response_started() {
                req.send_error_owed(500, None, None);
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
    match req.rfile.drain(limits.drain_limit) {
        Ok(true) => Ok(Next::Continue),
        Ok(false) | Err(_) => Ok(Next::Linger),
    }
}

/// Whether the request asks for `100 Continue` and the handler speaks HTTP/1.1 (Python's test in `handle_one_request`).
pub(crate) fn expects_continue(handler: &dyn BaseHttpRequestHandler, head: &RequestHead) -> bool {
    HttpVersion::of_protocol(handler.protocol_version()) >= HttpVersion::HTTP_1_1
        && head.line.version() >= HttpVersion::HTTP_1_1
        && head
            .headers
            .get("Expect")
            .is_some_and(|expect| expect.eq_ignore_ascii_case("100-continue"))
}

/// A connection served by one thread from start to end, with blocking reads and writes under the socket's timeouts.
struct Connection<'a, R, W: Write> {
    handler: &'a dyn BaseHttpRequestHandler,
    limits: Limits,
    input: Input<R>,
    sink: BlockingSink<'a, W>,
    parser: HeadParser,
    socket: Option<&'a Stream>,
    /// The read timeout last set on the socket, to skip redundant setsockopt calls.
    read_timeout: Option<Option<Duration>>,
    client_address: &'a Address,
    server_address: &'a Address,
    peer_address: Option<&'a Address>,
    proxies: Option<&'a TrustedProxies>,
}

impl<R: Read, W: Write> Connection<'_, R, W> {
    fn peers(&self) -> Peers<'_> {
        Peers {
            client_address: self.client_address,
            server_address: self.server_address,
            peer_address: self.peer_address,
            proxies: self.proxies,
        }
    }

    fn run(&mut self) -> io::Result<()> {
        if let Some(socket) = self.socket {
            socket.set_write_timeout(self.limits.idle_timeout)?;
        }
        loop {
            self.parser.reset();
            self.input.buffer.shrink();
            let next = match self.read_head()? {
                HeadOutcome::Head(head) => {
                    self.input.buffer.consume(head.length);
                    self.set_read_timeout(self.limits.idle_timeout)?;
                    let peers = Peers {
                        client_address: self.client_address,
                        server_address: self.server_address,
                        peer_address: self.peer_address,
                        proxies: self.proxies,
                    };
                    serve_request(
                        self.handler,
                        &self.limits,
                        peers,
                        head,
                        &mut self.input,
                        &mut self.sink,
                        self.socket,
                    )?
                }
                HeadOutcome::Refused(ParseError::EmptyRequestLine) | HeadOutcome::Closed => {
                    Next::Close
                }
                HeadOutcome::Refused(error) => {
                    let peers = Peers {
                        client_address: self.client_address,
                        server_address: self.server_address,
                        peer_address: self.peer_address,
                        proxies: self.proxies,
                    };
                    refuse(self.handler, peers, &self.parser, error, &mut self.sink)?;
                    Next::Linger
                }
                HeadOutcome::TimedOut => {
                    log_timed_out(self.handler, self.peers(), self.parser.requestline());
                    Next::Close
                }
            };
            match next {
                Next::Continue => {}
                Next::Close => return self.sink.flush(),
                Next::Linger => {
                    self.sink.flush()?;
                    self.linger();
                    return Ok(());
                }
            }
        }
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
            match reader.read(self.input.buffer.scratch()) {
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
            match self.parser.parse(self.input.buffer.buffered()) {
                Ok(Status::Complete(head)) => return Ok(HeadOutcome::Head(head)),
                Ok(Status::Partial) => {}
                Err(error) => return Ok(HeadOutcome::Refused(error)),
            }
            let timeout = if self.input.buffer.is_empty() {
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
            let inner = &mut self.input.inner;
            match self.input.buffer.read_with(|spare| inner.read(spare)) {
                Ok(0) => return Ok(HeadOutcome::Closed),
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if is_timeout(&error) => return Ok(HeadOutcome::TimedOut),
                Err(error) => return Err(error),
            }
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

/// The blocking read side: the buffer the head parser sees whole, and a `BufRead` for the body after it.
struct Input<R> {
    inner: R,
    buffer: InputBuffer,
}

impl<R: Read> Read for Input<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let count = available.len().min(buffer.len());
        buffer[..count].copy_from_slice(&available[..count]);
        self.consume(count);
        Ok(count)
    }
}

impl<R: Read> BufRead for Input<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.buffer.is_empty() {
            let inner = &mut self.inner;
            loop {
                match self.buffer.refill_with(|spare| inner.read(spare)) {
                    Ok(_) => break,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(error) => return Err(error),
                }
            }
        }
        Ok(self.buffer.buffered())
    }

    fn consume(&mut self, amount: usize) {
        self.buffer.consume(amount);
    }
}
