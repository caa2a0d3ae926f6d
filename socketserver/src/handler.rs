//! Request handlers: Python's `BaseRequestHandler` life cycle for streams and datagrams.

use std::any::Any;
use std::fmt;
use std::io::{self, BufReader, Cursor};
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use crate::address::Address;
use crate::stream::{DatagramSocket, Stream};

/// Size of the buffered `rfile` (Python's `rbufsize = -1`, the io default of 8 KiB).
const RBUFSIZE: usize = 8192;

/// One connection on a stream server, as a `StreamRequestHandler` sees it (Python's handler instance state).
#[derive(Debug)]
pub struct StreamRequest {
    /// The connected socket (Python's `self.request`).
    pub request: Stream,
    /// The peer's address (Python's `self.client_address`).
    pub client_address: Address,
    /// The server's bound address (Python's `self.server.server_address`).
    pub server_address: Address,
    /// The buffered read side of the connection (Python's `self.rfile`).
    pub rfile: BufReader<Stream>,
    /// The unbuffered write side of the connection (Python's `wfile`, `wbufsize = 0`): each write goes straight to the socket.
    pub wfile: Stream,
}

/// What a connection served in [`Mode::Readiness`](crate::Mode::Readiness) waits for next (not in Python).
///
/// Each wait has a deadline: once it passes with the connection still waiting, the mode calls [`ReadyConnection::expire`] and closes it.
/// `None` waits without limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready {
    /// The client must send more first (the rest of a request); `ready` runs again once it has, or has hung up.
    Read(Option<Instant>),
    /// Between two requests: as `Read`, but when the server is at its connection limit the mode may close it
    /// to make room for a new client (idle keep-alive connections go first, as in nginx).
    Idle(Option<Instant>),
    /// The socket must take more bytes first (a response the client reads slowly); `ready` runs again once it can.
    Write(Option<Instant>),
    /// The connection is done: close it.
    Close,
}

impl Ready {
    /// The deadline of a wait; `None` for `Close` and for waits without limit.
    pub fn deadline(self) -> Option<Instant> {
        match self {
            Ready::Read(deadline) | Ready::Idle(deadline) | Ready::Write(deadline) => deadline,
            Ready::Close => None,
        }
    }
}

/// One connection as a state machine driven by [`Mode::Readiness`](crate::Mode::Readiness) (not in Python).
///
/// The mode registers the socket once and calls [`ready`](Self::ready) on a worker whenever it has become readable, writable or hung up;
/// `ready` does what can be done without waiting for the client and says what it waits for next. The value lives in the mode between
/// two calls, so it holds whatever the connection needs (a partial head, the rest of a response) with its own types.
/// A worker runs one connection's `ready` at a time, and never two calls of one connection at once.
pub trait ReadyConnection: Send + 'static {
    /// Advances the connection as far as it goes without waiting: reads what has arrived, serves it, writes what the socket takes.
    ///
    /// The registration is edge-triggered: before returning [`Ready::Read`] or [`Ready::Idle`] the connection must have read until
    /// the socket had nothing more (`WouldBlock`), and before [`Ready::Write`] written until it took nothing more, or no new report comes.
    /// An error closes the connection and is reported through `handle_error`, as a panic is.
    fn ready(&mut self) -> io::Result<Ready>;

    /// The mode closes the connection without calling `ready` again: its deadline passed (`timed_out`), or the server stops.
    /// A last word goes here (a log line, a TLS alert); the socket is still open and non-blocking use of it is fine.
    fn expire(&mut self, timed_out: bool) {
        let _ = timed_out;
    }
}

impl fmt::Debug for dyn ReadyConnection {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("ReadyConnection")
    }
}

/// One packet on a datagram server, as a `DatagramRequestHandler` sees it.
#[derive(Debug)]
pub struct DatagramRequest {
    /// The server's socket, shared by every request (the second half of Python's `self.request`).
    pub socket: DatagramSocket,
    /// The sender's address (Python's `self.client_address`).
    pub client_address: Address,
    /// The server's bound address.
    pub server_address: Address,
    /// The packet, readable from its start (Python's `self.rfile`, a `BytesIO` over the packet).
    pub rfile: Cursor<Vec<u8>>,
    /// The reply being written (Python's `self.wfile`); sent to the client once the handler has finished, even when empty.
    pub wfile: Vec<u8>,
}

impl DatagramRequest {
    /// The packet as received (the first half of Python's `self.request`).
    pub fn packet(&self) -> &[u8] {
        self.rfile.get_ref()
    }
}

/// A handler for connections on `TcpServer` and `UnixStreamServer` (Python's `StreamRequestHandler`).
///
/// One value serves every connection, from every thread, so per-connection state lives in the [`StreamRequest`].
/// For each connection the server calls `setup`, then `handle`, then `finish`, which runs even when `handle` fails or panics.
#[doc(alias = "BaseRequestHandler")]
pub trait StreamRequestHandler: Send + Sync + 'static {
    /// Prepares the connection before `handle` (Python's `setup()`); an error skips `handle` and `finish`.
    fn setup(&self, request: &mut StreamRequest) -> io::Result<()> {
        let _ = request;
        Ok(())
    }

    /// Serves the connection (Python's `handle()`).
    fn handle(&self, request: &mut StreamRequest) -> io::Result<()>;

    /// Cleans up after `handle` (Python's `finish()`); always runs once `setup` succeeded.
    fn finish(&self, request: &mut StreamRequest) -> io::Result<()> {
        let _ = request;
        Ok(())
    }

    /// Python's class attribute `timeout = None`, in one line of a handler: `const TIMEOUT: Option<Duration> =
    /// Some(Duration::from_secs(30));`. It is what [`timeout`](Self::timeout) gives unless that is overridden, as it is
    /// where the value is known only at run time (a command-line flag).
    const TIMEOUT: Option<Duration> = None;

    /// Python's class attribute `disable_nagle_algorithm = False`; what
    /// [`disable_nagle_algorithm`](Self::disable_nagle_algorithm) gives unless that is overridden.
    const DISABLE_NAGLE_ALGORITHM: bool = false;

    /// The read and write timeout set on the socket before `setup` (Python's `timeout`); [`TIMEOUT`](Self::TIMEOUT) by default.
    fn timeout(&self) -> Option<Duration> {
        Self::TIMEOUT
    }

    /// Whether to turn Nagle's algorithm off (TCP_NODELAY) before `setup` (Python's `disable_nagle_algorithm`);
    /// [`DISABLE_NAGLE_ALGORITHM`](Self::DISABLE_NAGLE_ALGORITHM) by default.
    fn disable_nagle_algorithm(&self) -> bool {
        Self::DISABLE_NAGLE_ALGORITHM
    }

    /// The connection as a state machine for [`Mode::Readiness`](crate::Mode::Readiness) (not in Python); `None`, the default,
    /// serves it with `setup`, `handle` and `finish` on a worker, holding it for the whole connection.
    ///
    /// Called once the connection is accepted (after `timeout` and `disable_nagle_algorithm` are applied), in the readiness mode only.
    /// A connection that returns a [`ReadyConnection`] costs no thread while it waits for its client.
    fn ready_connection(
        &self,
        stream: &Stream,
        client_address: &Address,
        server_address: &Address,
    ) -> io::Result<Option<Box<dyn ReadyConnection>>> {
        let _ = (stream, client_address, server_address);
        Ok(None)
    }
}

/// A [`StreamRequestHandler`] as a server keeps it, one pointer whatever the handler's type: the handler trait has
/// associated constants (Python's class attributes), so it cannot be a trait object itself, and this one is.
pub trait DynStreamHandler: Send + Sync + 'static {
    fn setup(&self, request: &mut StreamRequest) -> io::Result<()>;
    fn handle(&self, request: &mut StreamRequest) -> io::Result<()>;
    fn finish(&self, request: &mut StreamRequest) -> io::Result<()>;
    fn timeout(&self) -> Option<Duration>;
    fn disable_nagle_algorithm(&self) -> bool;
    fn ready_connection(
        &self,
        stream: &Stream,
        client_address: &Address,
        server_address: &Address,
    ) -> io::Result<Option<Box<dyn ReadyConnection>>>;
}

impl<H: StreamRequestHandler> DynStreamHandler for H {
    fn setup(&self, request: &mut StreamRequest) -> io::Result<()> {
        StreamRequestHandler::setup(self, request)
    }

    fn handle(&self, request: &mut StreamRequest) -> io::Result<()> {
        StreamRequestHandler::handle(self, request)
    }

    fn finish(&self, request: &mut StreamRequest) -> io::Result<()> {
        StreamRequestHandler::finish(self, request)
    }

    fn timeout(&self) -> Option<Duration> {
        StreamRequestHandler::timeout(self)
    }

    fn disable_nagle_algorithm(&self) -> bool {
        StreamRequestHandler::disable_nagle_algorithm(self)
    }

    fn ready_connection(
        &self,
        stream: &Stream,
        client_address: &Address,
        server_address: &Address,
    ) -> io::Result<Option<Box<dyn ReadyConnection>>> {
        StreamRequestHandler::ready_connection(self, stream, client_address, server_address)
    }
}

/// A handler for packets on `UdpServer` and `UnixDatagramServer` (Python's `DatagramRequestHandler`).
///
/// For each packet the server calls `setup`, `handle` and `finish`, then sends `wfile` back to the client.
/// As in Python, where `finish` sends the reply from a `finally`, the reply goes out even when `handle` fails or panics (not when `finish` does).
pub trait DatagramRequestHandler: Send + Sync + 'static {
    /// Prepares the request before `handle` (Python's `setup()`).
    fn setup(&self, request: &mut DatagramRequest) -> io::Result<()> {
        let _ = request;
        Ok(())
    }

    /// Serves the packet (Python's `handle()`): read `rfile`, write the reply into `wfile`.
    fn handle(&self, request: &mut DatagramRequest) -> io::Result<()>;

    /// Runs after `handle` (Python's `finish()`), even when `handle` failed, before the reply is sent.
    fn finish(&self, request: &mut DatagramRequest) -> io::Result<()> {
        let _ = request;
        Ok(())
    }
}

/// What went wrong while a handler served one request; `handle_error` receives it.
#[derive(Debug)]
#[non_exhaustive]
pub enum HandlerError {
    /// The handler returned an error.
    Io(io::Error),
    /// The handler panicked; the panic's message.
    Panic(String),
}

impl fmt::Display for HandlerError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandlerError::Io(error) => write!(formatter, "{error}"),
            HandlerError::Panic(message) => write!(formatter, "handler panicked: {message}"),
        }
    }
}

impl std::error::Error for HandlerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HandlerError::Io(error) => Some(error),
            HandlerError::Panic(_) => None,
        }
    }
}

impl From<io::Error> for HandlerError {
    fn from(error: io::Error) -> Self {
        HandlerError::Io(error)
    }
}

/// Runs `step`, turning a panic into a `HandlerError` so it costs only this request.
pub(crate) fn guarded<T>(step: impl FnOnce() -> io::Result<T>) -> Result<T, HandlerError> {
    match panic::catch_unwind(AssertUnwindSafe(step)) {
        Ok(result) => result.map_err(HandlerError::Io),
        Err(payload) => Err(HandlerError::Panic(panic_message(payload.as_ref()))),
    }
}

/// The text of a panic payload (`&str` or `String`, as `panic!` makes them).
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

/// The first half of Python's `BaseRequestHandler.__init__` for a stream: socket options, and the request value.
pub(crate) fn new_stream_request(
    handler: &dyn DynStreamHandler,
    stream: &Stream,
    client_address: &Address,
    server_address: &Address,
) -> io::Result<StreamRequest> {
    apply_socket_options(handler, stream)?;
    Ok(stream_request(stream, client_address, server_address))
}

/// The socket options a handler asks for (Python's `timeout` and `disable_nagle_algorithm`), set before `setup`.
pub(crate) fn apply_socket_options(
    handler: &dyn DynStreamHandler,
    stream: &Stream,
) -> io::Result<()> {
    if let Some(timeout) = handler.timeout() {
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
    }
    if handler.disable_nagle_algorithm() {
        stream.set_nodelay(true)?;
    }
    Ok(())
}

/// The request value of a connection whose socket options are set.
pub(crate) fn stream_request(
    stream: &Stream,
    client_address: &Address,
    server_address: &Address,
) -> StreamRequest {
    StreamRequest {
        request: stream.clone(),
        client_address: client_address.clone(),
        server_address: server_address.clone(),
        rfile: BufReader::with_capacity(RBUFSIZE, stream.clone()),
        wfile: stream.clone(),
    }
}

/// Python's `BaseRequestHandler.__init__` for a stream: socket options, then `setup`, `handle` and always `finish`.
pub(crate) fn run_stream_handler(
    handler: &dyn DynStreamHandler,
    stream: &Stream,
    client_address: &Address,
    server_address: &Address,
) -> Result<(), HandlerError> {
    let mut request = new_stream_request(handler, stream, client_address, server_address)?;
    guarded(|| handler.setup(&mut request))?;
    let handled = guarded(|| handler.handle(&mut request));
    let finished = guarded(|| handler.finish(&mut request));
    handled.and(finished)
}

/// The same for a datagram, then the reply goes out with sendto.
pub(crate) fn run_datagram_handler(
    handler: &dyn DatagramRequestHandler,
    packet: Vec<u8>,
    socket: &DatagramSocket,
    client_address: &Address,
    server_address: &Address,
) -> Result<(), HandlerError> {
    let mut request = DatagramRequest {
        socket: socket.clone(),
        client_address: client_address.clone(),
        server_address: server_address.clone(),
        rfile: Cursor::new(packet),
        wfile: Vec::new(),
    };
    guarded(|| handler.setup(&mut request))?;
    let handled = guarded(|| handler.handle(&mut request));
    let finished = guarded(|| handler.finish(&mut request));
    // Python sends the reply in DatagramRequestHandler.finish, which runs in a `finally`: what was written goes out even when handle failed.
    let sent = finished.and_then(|()| {
        socket
            .send_to(&request.wfile, client_address)
            .map(drop)
            .map_err(HandlerError::Io)
    });
    handled.and(sent)
}
