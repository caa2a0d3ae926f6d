//! An HTTP connection as a state machine on socketserver's readiness loop: no thread waits for its client.
//!
//! ```text
//!            bytes arrive                head (and a small body) whole
//!   Idle ───────────────────▶ Reading ─────────────────────────────────▶ hook runs on the worker
//!    ▲                         │  ▲                                          │
//!    │ keep-alive, nothing     │  └── partial: wait for Read (deadline)      ▼
//!    │ left over               │                                       Writing ──▶ wait for Write (deadline)
//!    └─────────────────────────┴─────────────── response sent ◀──────────┘   │
//!                                                                           ▼ close
//!                                                                      Lingering ─▶ closed
//! ```
//!
//! Each state holds what it needs and no more: an idle connection holds no buffer; a partial head keeps its bytes and its parser;
//! a response the client reads slowly keeps its unsent bytes and the file ranges still to go (sent by sendfile(2) as the socket
//! drains). Every wait has a deadline the mode enforces: the head deadline from a request's first byte (for TLS, from the first
//! handshake record, so handshake and head share one limit), the idle timeout between requests and between two steps of progress.
//! Hooks run on the worker that saw the head complete; a hook that waits (a large body still arriving, output beyond
//! [`Limits::output_buffer`]) says so through [`socketserver::blocking`], so another worker takes the loop meanwhile.

use std::cell::RefCell;
use std::io::{self, BufRead, Read, Write};
use std::net::Shutdown;
use std::sync::Arc;
use std::time::{Duration, Instant};

use socketserver::{Address, Ready, ReadyConnection, Stream};

use crate::buffer::InputBuffer;
use crate::connection::{
    expects_continue, is_disconnect, log_timed_out, refuse, serve_request, with_bare_request, Next,
    Peers, LINGER_BYTES, LINGER_TIME,
};
use crate::handler::{BaseHttpRequestHandler, Limits, Sink};
use crate::output::Pending;
use crate::parse::{BodyFraming, HeadParser, ParseError, RequestHead, Status};
use crate::proxy::{read_preface, Preface, TrustedProxies};

/// A deadline `timeout` after `base`; none without a timeout, or when it is too far to add to the clock.
fn after(base: Instant, timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|timeout| base.checked_add(timeout))
}

fn earliest(first: Option<Instant>, second: Option<Instant>) -> Option<Instant> {
    match (first, second) {
        (Some(first), Some(second)) => Some(first.min(second)),
        (deadline, None) | (None, deadline) => deadline,
    }
}

/// A request on its way in.
struct Incoming {
    input: InputBuffer,
    parser: HeadParser,
    /// When its first byte (or TLS record) arrived: the head deadline runs from here.
    started: Instant,
    /// When a byte last arrived: the idle timeout runs from here.
    progress: Instant,
    /// The head, once whole, while a body the connection reads before the hook is still arriving.
    head: Option<RequestHead>,
}

thread_local! {
    /// A worker's spare request record: a connection that completes a head gives it back, the next one takes it,
    /// so a request costs no allocation for its parser.
    static SPARE_INCOMING: std::cell::Cell<Option<Box<Incoming>>> = const { std::cell::Cell::new(None) };
}

impl Incoming {
    fn new(input: InputBuffer, now: Instant, limits: &Limits) -> Box<Incoming> {
        if let Some(mut spare) = SPARE_INCOMING.take() {
            spare.input = input;
            spare.parser.reset();
            spare.parser.set_max_head_size(limits.max_head_size);
            spare.started = now;
            spare.progress = now;
            spare.head = None;
            return spare;
        }
        Box::new(Incoming {
            input,
            parser: HeadParser::with_max_head_size(limits.max_head_size),
            started: now,
            progress: now,
            head: None,
        })
    }

    /// Keeps the record for the next request on this thread, its buffer taken out first.
    fn give_back(mut self: Box<Self>) -> InputBuffer {
        let input = std::mem::take(&mut self.input);
        self.head = None;
        SPARE_INCOMING.set(Some(self));
        input
    }

    fn deadline(&self, limits: &Limits) -> Option<Instant> {
        earliest(
            after(self.started, limits.head_timeout),
            after(self.progress, limits.idle_timeout),
        )
    }
}

/// Where the connection is.
enum State {
    /// Just accepted, with trusted proxies configured: a PROXY protocol header may come first.
    Preface {
        since: Instant,
    },
    /// Between requests, holding no buffer.
    Idle {
        since: Instant,
    },
    /// A request head (or a small body after it) is arriving.
    Reading(Box<Incoming>),
    /// A response the socket has not taken yet; then `after`.
    Writing {
        pending: Pending,
        /// Bytes of the next request that came with this one (pipelining).
        leftover: Option<InputBuffer>,
        after: Next,
        progress: Instant,
    },
    /// Reading away what the client still sends before the close, so the kernel does not reset the response away.
    Lingering {
        until: Instant,
        discarded: usize,
    },
    Closed,
}

/// What reading without waiting gave.
enum Received {
    Bytes,
    End,
    /// Nothing now; `records`: TLS records arrived without plaintext (a handshake under way).
    Nothing {
        records: bool,
    },
}

/// The socket, and the TLS session over it when there is one, borrowed for one step.
struct Wire<'a> {
    stream: &'a Stream,
    #[cfg(feature = "tls")]
    tls: Option<&'a mut rustls::ServerConnection>,
    /// The last plain read took less than it had room for: the socket held nothing more then, and anything arriving
    /// since is reported anew, so the connection can wait without reading once more.
    drained: &'a mut bool,
}

impl Wire<'_> {
    /// Reads what has arrived into `input`, never waiting.
    fn receive(&mut self, input: &mut InputBuffer) -> io::Result<Received> {
        *self.drained = false;
        #[cfg(feature = "tls")]
        if let Some(tls) = self.tls.as_deref_mut() {
            return Ok(match crate::tls::receive(tls, self.stream, input)? {
                crate::tls::Received::Plaintext(_) => Received::Bytes,
                crate::tls::Received::End => Received::End,
                crate::tls::Received::Nothing { records } => Received::Nothing { records },
            });
        }
        loop {
            let drained = &mut *self.drained;
            let read = input.read_with(|spare| {
                let count = (&*self.stream).read(spare)?;
                *drained = count < spare.len();
                Ok(count)
            });
            return match read {
                Ok(0) => Ok(Received::End),
                Ok(_) => Ok(Received::Bytes),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    Ok(Received::Nothing { records: false })
                }
                Err(error) => Err(error),
            };
        }
    }

    /// Sends what the socket takes now; true once everything went.
    fn flush(&mut self, pending: &mut Pending) -> io::Result<bool> {
        #[cfg(feature = "tls")]
        if let Some(tls) = self.tls.as_deref_mut() {
            return pending.flush_tls(self.stream, tls);
        }
        pending.flush_plain(self.stream)
    }

    /// Whether TLS records wait to be sent (a handshake message, an alert).
    fn owes_records(&mut self) -> io::Result<bool> {
        #[cfg(feature = "tls")]
        if let Some(tls) = self.tls.as_deref_mut() {
            let mut moved = 0;
            return Ok(!crate::tls::write_records(tls, self.stream, &mut moved)?);
        }
        Ok(false)
    }
}

/// The socket, the TLS session over it, and what the last read showed: what a [`Wire`] borrows.
struct Transport {
    stream: Stream,
    #[cfg(feature = "tls")]
    tls: Option<Box<rustls::ServerConnection>>,
    /// See [`Wire::drained`].
    drained: bool,
}

impl Transport {
    fn wire(&mut self) -> Wire<'_> {
        Wire {
            stream: &self.stream,
            #[cfg(feature = "tls")]
            tls: self.tls.as_deref_mut(),
            drained: &mut self.drained,
        }
    }
}

/// One HTTP connection driven by the readiness loop.
pub(crate) struct HttpConnection<H> {
    handler: Arc<H>,
    transport: Transport,
    client_address: Address,
    server_address: Address,
    /// The peer, once a trusted proxy's PROXY header named another client.
    peer_address: Option<Address>,
    proxies: Option<Arc<TrustedProxies>>,
    limits: Limits,
    state: State,
}

impl<H: BaseHttpRequestHandler> HttpConnection<H> {
    /// A connection just accepted; its socket becomes non-blocking, since every wait goes through the loop or a poll with a deadline.
    pub(crate) fn new(
        handler: Arc<H>,
        stream: &Stream,
        client_address: &Address,
        server_address: &Address,
        proxies: Option<&Arc<TrustedProxies>>,
        #[cfg(feature = "tls")] tls: Option<&Arc<rustls::ServerConfig>>,
    ) -> io::Result<Self> {
        stream.set_nonblocking(true)?;
        let limits = handler.limits();
        let now = Instant::now();
        Ok(HttpConnection {
            transport: Transport {
                stream: stream.clone(),
                #[cfg(feature = "tls")]
                tls: tls.map(crate::tls::session).transpose()?.map(Box::new),
                drained: false,
            },
            handler,
            client_address: client_address.clone(),
            server_address: server_address.clone(),
            peer_address: None,
            proxies: proxies.cloned(),
            limits,
            state: match proxies {
                Some(_) => State::Preface { since: now },
                None => State::Idle { since: now },
            },
        })
    }

    fn peers(&self) -> Peers<'_> {
        Peers {
            client_address: &self.client_address,
            server_address: &self.server_address,
            peer_address: self.peer_address.as_ref(),
            proxies: self.proxies.as_deref(),
        }
    }

    /// Reads what has arrived between requests or within a head: a client that reset the connection has simply gone,
    /// and a TLS session that fails (a bad handshake, a forged record) is logged in one line and ends.
    fn receive(&mut self, input: &mut InputBuffer) -> io::Result<Received> {
        match self.transport.wire().receive(input) {
            Err(error) if is_disconnect(&error) => Ok(Received::End),
            Err(error) if error.kind() == io::ErrorKind::InvalidData => {
                let handler: &dyn BaseHttpRequestHandler = &*self.handler;
                let mut nowhere = Vec::new();
                let _ =
                    with_bare_request(handler, self.peers(), String::new(), &mut nowhere, |req| {
                        req.log_error(format_args!("{error}"));
                        Ok(())
                    });
                // Send the alert rustls queued, if the socket takes it.
                let _ = self.transport.wire().owes_records();
                Ok(Received::End)
            }
            other => other,
        }
    }

    /// Logs a response that stopped partway (the client left, the file shrank): the request's log line said it all went.
    fn log_cut_short(&self, error: &io::Error) {
        let handler: &dyn BaseHttpRequestHandler = &*self.handler;
        let mut nowhere = Vec::new();
        let _ = with_bare_request(handler, self.peers(), String::new(), &mut nowhere, |req| {
            req.log_error(format_args!("Response cut short: {error}"));
            Ok(())
        });
    }

    /// Waits for the client to send, unless TLS records are owed to it first (then for the socket to take them).
    fn wait_read(&mut self, ready: Ready) -> io::Result<Ready> {
        if self.transport.wire().owes_records()? {
            return Ok(Ready::Write(ready.deadline()));
        }
        Ok(ready)
    }

    /// Ends the session cleanly (TLS close_notify, if the socket takes it) before the mode closes the socket.
    fn close(&mut self) -> Ready {
        #[cfg(feature = "tls")]
        if let Some(tls) = self.transport.tls.as_deref_mut() {
            tls.send_close_notify();
            let _ = self.transport.wire().owes_records();
        }
        self.state = State::Closed;
        Ready::Close
    }

    /// One step of the state machine: `None` to go on with the next state, or what to wait for.
    fn step(&mut self) -> io::Result<Option<Ready>> {
        match std::mem::replace(&mut self.state, State::Closed) {
            State::Preface { since } => self.on_preface(since),
            State::Idle { since } => self.on_idle(since),
            State::Reading(incoming) => self.on_reading(incoming),
            State::Writing {
                pending,
                leftover,
                after,
                progress,
            } => self.on_writing(pending, leftover, after, progress),
            State::Lingering { until, discarded } => self.on_lingering(until, discarded),
            State::Closed => Ok(Some(Ready::Close)),
        }
    }

    /// Reads away a trusted proxy's PROXY header, taking the client it names; refuses anyone else's.
    /// The header must come within the head deadline from the accept.
    fn on_preface(&mut self, since: Instant) -> io::Result<Option<Ready>> {
        let Some(proxies) = self.proxies.clone() else {
            self.state = State::Idle { since };
            return Ok(None);
        };
        let preface = match read_preface(&self.transport.stream, &self.client_address, &proxies) {
            Ok(preface) => preface,
            Err(error) if is_disconnect(&error) => return Ok(Some(self.close())),
            Err(error) => return Err(error),
        };
        match preface {
            Preface::Client(source) => {
                if let Some(source) = source {
                    let peer = std::mem::replace(&mut self.client_address, Address::Inet(source));
                    self.peer_address = Some(peer);
                }
                self.state = State::Idle { since };
                Ok(None)
            }
            Preface::Wait => {
                let deadline = earliest(
                    after(since, self.limits.head_timeout),
                    after(since, self.limits.idle_timeout),
                );
                if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                    self.log_error("PROXY header not received within the head timeout");
                    return Ok(Some(self.close()));
                }
                self.state = State::Preface { since };
                Ok(Some(Ready::Read(deadline)))
            }
            Preface::Refuse(reason) => {
                self.log_error(&reason);
                Ok(Some(self.close()))
            }
        }
    }

    /// Logs one error line about this connection.
    fn log_error(&self, message: &str) {
        let handler: &dyn BaseHttpRequestHandler = &*self.handler;
        let mut nowhere = Vec::new();
        let _ = with_bare_request(handler, self.peers(), String::new(), &mut nowhere, |req| {
            req.log_error(format_args!("{message}"));
            Ok(())
        });
    }

    fn on_idle(&mut self, since: Instant) -> io::Result<Option<Ready>> {
        let mut input = InputBuffer::lend();
        match self.receive(&mut input)? {
            Received::Bytes => {
                self.state = State::Reading(Incoming::new(input, Instant::now(), &self.limits));
                Ok(None)
            }
            Received::End => {
                input.give_back();
                Ok(Some(self.close()))
            }
            Received::Nothing { records: true } => {
                // A handshake under way: the request's clock starts with its first record.
                input.give_back();
                let incoming = Incoming::new(InputBuffer::default(), Instant::now(), &self.limits);
                let deadline = incoming.deadline(&self.limits);
                self.state = State::Reading(incoming);
                self.wait_read(Ready::Read(deadline)).map(Some)
            }
            Received::Nothing { records: false } => {
                input.give_back();
                self.state = State::Idle { since };
                let deadline = after(since, self.limits.idle_timeout);
                self.wait_read(Ready::Idle(deadline)).map(Some)
            }
        }
    }

    /// The body length the connection reads before the hook, when there is one to wait for: a `Content-Length` body up to
    /// the drain limit, unless the client waits for `100 Continue` before sending it.
    fn body_to_wait_for(&self, head: &RequestHead) -> u64 {
        match head.framing {
            // A body over `max_body_size` is not read at all: the hook's first read refuses it with 413.
            BodyFraming::Length(length)
                if length <= self.limits.drain_limit
                    && self
                        .limits
                        .max_body_size
                        .is_none_or(|limit| length <= limit)
                    && !expects_continue(&*self.handler, head) =>
            {
                length
            }
            _ => 0,
        }
    }

    fn on_reading(&mut self, mut incoming: Box<Incoming>) -> io::Result<Option<Ready>> {
        loop {
            if incoming.head.is_none() {
                match incoming.parser.parse(incoming.input.buffered()) {
                    Ok(Status::Complete(head)) => incoming.head = Some(head),
                    Ok(Status::Partial) => {}
                    Err(ParseError::EmptyRequestLine) => return Ok(Some(self.close())),
                    Err(error) => return self.refuse(incoming, error),
                }
            }
            if let Some(head) = &incoming.head {
                let arrived = incoming.input.buffered().len() - head.length;
                if arrived as u64 >= self.body_to_wait_for(head) {
                    return self.dispatch(incoming);
                }
            }
            if incoming
                .deadline(&self.limits)
                .is_some_and(|deadline| Instant::now() >= deadline)
            {
                self.state = State::Reading(incoming);
                self.expire(true);
                return Ok(Some(self.close()));
            }
            match self.receive(&mut incoming.input)? {
                Received::Bytes => incoming.progress = Instant::now(),
                // Closed in the middle of a request: nothing to answer, as Python does.
                Received::End => return Ok(Some(self.close())),
                Received::Nothing { records } => {
                    if records {
                        incoming.progress = Instant::now();
                    }
                    let deadline = incoming.deadline(&self.limits);
                    self.state = State::Reading(incoming);
                    return self.wait_read(Ready::Read(deadline)).map(Some);
                }
            }
        }
    }

    /// Answers a refused head as Python's `parse_request` does, then closes lingering.
    fn refuse(&mut self, incoming: Box<Incoming>, error: ParseError) -> io::Result<Option<Ready>> {
        let mut pending = Pending::default();
        {
            let handler: &dyn BaseHttpRequestHandler = &*self.handler;
            let peers = Peers {
                client_address: &self.client_address,
                server_address: &self.server_address,
                peer_address: self.peer_address.as_ref(),
                proxies: self.proxies.as_deref(),
            };
            let wire = RefCell::new(self.transport.wire());
            let mut sink = LoopSink {
                pending: &mut pending,
                wire: &wire,
                limit: self.limits.output_buffer,
                timeout: self.limits.idle_timeout,
            };
            refuse(handler, peers, &incoming.parser, error, &mut sink)?;
        }
        incoming.input.give_back();
        self.state = State::Writing {
            pending,
            leftover: None,
            after: Next::Linger,
            progress: Instant::now(),
        };
        Ok(None)
    }

    /// Runs the hook on this worker, with the request's body and the response's buffer, then goes on to write what is left.
    fn dispatch(&mut self, mut incoming: Box<Incoming>) -> io::Result<Option<Ready>> {
        let head = incoming.head.take();
        let mut input = incoming.give_back();
        let Some(head) = head else {
            return Ok(Some(self.close()));
        };
        input.consume(head.length);
        let mut pending = Pending::default();
        // The hook watches the socket while the wire borrows it (an Arc clone, no system call).
        let stream = self.transport.stream.clone();
        let served = {
            let handler: &dyn BaseHttpRequestHandler = &*self.handler;
            let peers = Peers {
                client_address: &self.client_address,
                server_address: &self.server_address,
                peer_address: self.peer_address.as_ref(),
                proxies: self.proxies.as_deref(),
            };
            let wire = RefCell::new(self.transport.wire());
            let mut body = LoopInput {
                input: &mut input,
                wire: &wire,
                stream: &stream,
                timeout: self.limits.idle_timeout,
            };
            let mut sink = LoopSink {
                pending: &mut pending,
                wire: &wire,
                limit: self.limits.output_buffer,
                timeout: self.limits.idle_timeout,
            };
            serve_request(
                handler,
                &self.limits,
                peers,
                head,
                &mut body,
                &mut sink,
                Some(&stream),
            )
        };
        let after = match served {
            Ok(next) => next,
            Err(error) if is_disconnect(&error) => {
                if pending.sent() > 0 {
                    self.log_cut_short(&error);
                }
                return Ok(Some(self.close()));
            }
            Err(error) => return Err(error),
        };
        input.shrink();
        let leftover = if input.is_empty() {
            input.give_back();
            None
        } else {
            Some(input)
        };
        self.state = State::Writing {
            pending,
            leftover,
            after,
            progress: Instant::now(),
        };
        Ok(None)
    }

    fn on_writing(
        &mut self,
        mut pending: Pending,
        leftover: Option<InputBuffer>,
        after_writing: Next,
        mut progress: Instant,
    ) -> io::Result<Option<Ready>> {
        let before = pending.sent();
        match self.transport.wire().flush(&mut pending) {
            Ok(true) => {}
            Ok(false) => {
                if pending.sent() > before {
                    progress = Instant::now();
                }
                let deadline = after(progress, self.limits.idle_timeout);
                self.state = State::Writing {
                    pending,
                    leftover,
                    after: after_writing,
                    progress,
                };
                return Ok(Some(Ready::Write(deadline)));
            }
            Err(error) if pending.sent() == 0 && is_disconnect(&error) => {
                // The client left before any of the answer reached it: nothing was cut.
                return Ok(Some(self.close()));
            }
            Err(error) => {
                // The head went out saying how long the body is; the connection cannot carry on short of it.
                self.log_cut_short(&error);
                return Ok(Some(self.close()));
            }
        }
        match after_writing {
            Next::Continue => {
                let now = Instant::now();
                match leftover {
                    // A pipelined request is already here; its head clock starts now.
                    Some(input) => {
                        self.state = State::Reading(Incoming::new(input, now, &self.limits))
                    }
                    None => {
                        self.state = State::Idle { since: now };
                        if self.transport.drained {
                            return Ok(Some(Ready::Idle(after(now, self.limits.idle_timeout))));
                        }
                        // Look once more before waiting: the registration only reports what arrives from now on.
                    }
                }
                Ok(None)
            }
            Next::Close => Ok(Some(self.close())),
            Next::Linger => {
                #[cfg(feature = "tls")]
                if let Some(tls) = self.transport.tls.as_deref_mut() {
                    tls.send_close_notify();
                    let _ = self.transport.wire().owes_records();
                }
                let _ = self.transport.stream.shutdown(Shutdown::Write);
                self.state = State::Lingering {
                    until: Instant::now() + LINGER_TIME,
                    discarded: 0,
                };
                Ok(None)
            }
        }
    }

    fn on_lingering(&mut self, until: Instant, mut discarded: usize) -> io::Result<Option<Ready>> {
        let mut scratch = InputBuffer::lend();
        let outcome = loop {
            if discarded >= LINGER_BYTES || Instant::now() >= until {
                break None;
            }
            match (&self.transport.stream).read(scratch.scratch()) {
                Ok(0) => break None,
                Ok(count) => discarded += count,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    break Some(Ready::Read(Some(until)));
                }
                Err(_) => break None,
            }
        };
        scratch.give_back();
        match outcome {
            Some(wait) => {
                self.state = State::Lingering { until, discarded };
                Ok(Some(wait))
            }
            None => {
                self.state = State::Closed;
                Ok(Some(Ready::Close))
            }
        }
    }
}

impl<H: BaseHttpRequestHandler> ReadyConnection for HttpConnection<H> {
    fn ready(&mut self) -> io::Result<Ready> {
        loop {
            if let Some(ready) = self.step()? {
                return Ok(ready);
            }
        }
    }

    /// A request whose head, small body or response did not get through in time is logged as Python logs a read timeout.
    fn expire(&mut self, timed_out: bool) {
        if !timed_out {
            return;
        }
        let requestline = match &self.state {
            State::Reading(incoming) => {
                Some(incoming.parser.requestline().unwrap_or("").to_owned())
            }
            State::Writing { .. } => Some(String::new()),
            State::Preface { .. }
            | State::Idle { .. }
            | State::Lingering { .. }
            | State::Closed => None,
        };
        if let Some(requestline) = requestline {
            log_timed_out(&*self.handler, self.peers(), Some(&requestline));
        }
    }
}

/// The request body as the hook reads it: what has arrived, then reads that wait for the client under the idle timeout,
/// telling the loop that this worker is held meanwhile.
struct LoopInput<'a, 'w> {
    input: &'a mut InputBuffer,
    wire: &'a RefCell<Wire<'w>>,
    stream: &'a Stream,
    timeout: Option<Duration>,
}

impl Read for LoopInput<'_, '_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let count = available.len().min(buffer.len());
        buffer[..count].copy_from_slice(&available[..count]);
        self.consume(count);
        Ok(count)
    }
}

impl BufRead for LoopInput<'_, '_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.input.is_empty() {
            match self.wire.borrow_mut().receive(self.input)? {
                Received::Bytes | Received::End => break,
                Received::Nothing { .. } => {}
            }
            if self.wire.borrow_mut().owes_records()? {
                continue;
            }
            let stream = self.stream;
            let timeout = self.timeout;
            if !socketserver::blocking(|| stream.wait_readable(timeout))? {
                return Err(io::ErrorKind::TimedOut.into());
            }
        }
        Ok(self.input.buffered())
    }

    fn consume(&mut self, amount: usize) {
        self.input.consume(amount);
    }
}

/// The response as the hook writes it: kept until the hook returns, up to `limit` bytes; beyond that a write waits,
/// telling the loop, until the client has taken enough.
struct LoopSink<'a, 'w> {
    pending: &'a mut Pending,
    wire: &'a RefCell<Wire<'w>>,
    limit: usize,
    timeout: Option<Duration>,
}

impl LoopSink<'_, '_> {
    fn make_room(&mut self) -> io::Result<()> {
        while self.pending.buffered() > self.limit {
            let before = self.pending.sent();
            if self.wire.borrow_mut().flush(self.pending)? {
                return Ok(());
            }
            if self.pending.sent() > before {
                continue;
            }
            let stream = self.wire.borrow().stream;
            let timeout = self.timeout;
            if !socketserver::blocking(|| stream.wait_writable(timeout))? {
                return Err(io::ErrorKind::TimedOut.into());
            }
        }
        Ok(())
    }
}

impl Write for LoopSink<'_, '_> {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        self.pending.push_bytes(buffer);
        self.make_room()?;
        Ok(buffer.len())
    }

    /// Sends what the socket takes now, without waiting (an interim `100 Continue`, output a script streams).
    fn flush(&mut self) -> io::Result<()> {
        self.wire.borrow_mut().flush(self.pending).map(drop)
    }
}

impl Sink for LoopSink<'_, '_> {
    fn send_file(&mut self, file: Arc<std::fs::File>, offset: u64, length: u64) -> io::Result<()> {
        self.pending.push_file(file, offset, length);
        Ok(())
    }

    fn send_shared(&mut self, bytes: Arc<[u8]>) -> io::Result<()> {
        self.pending.push_shared(bytes);
        Ok(())
    }
}
