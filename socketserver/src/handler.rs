//! Request handlers: Python's `BaseRequestHandler` life cycle for streams and datagrams.

use std::any::Any;
use std::fmt;
use std::io::{self, BufReader, Cursor};
use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

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
    /// The unbuffered write side of the connection (Python's `self.wfile`, `wbufsize = 0`): each write goes straight to the socket.
    pub wfile: Stream,
    /// What a readiness handler keeps between two wake-ups of a parked connection (not in Python); `None` at first.
    ///
    /// Only [`StreamRequestHandler::handle_ready`] uses it: the request lives as long as the connection, so this does too.
    pub state: Option<Box<dyn Any + Send>>,
}

/// What a connection served in [`Mode::Readiness`](crate::Mode::Readiness) needs next (not in Python).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready {
    /// Wait, without a thread, until the client sends more; then `handle_ready` runs again.
    Park,
    /// As `Park`, but the mode closes the connection once this instant passes with the client still silent
    /// (a request head's deadline); checked with the idle timeout, once per turn of the serving loop.
    ParkUntil(std::time::Instant),
    /// The connection is done: close it.
    Close,
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

    /// The read and write timeout set on the socket before `setup` (Python's `timeout = None`: no limit).
    fn timeout(&self) -> Option<Duration> {
        None
    }

    /// Whether to turn Nagle's algorithm off (TCP_NODELAY) before `setup` (Python's `disable_nagle_algorithm = False`).
    fn disable_nagle_algorithm(&self) -> bool {
        false
    }

    /// Serves what the connection has to offer now, in [`Mode::Readiness`](crate::Mode::Readiness) (not in Python).
    ///
    /// It runs each time a parked connection becomes readable (or hangs up), on a worker shared by every connection,
    /// so it should not wait for the client: return [`Ready::Park`] when the next request has not arrived yet.
    /// The default runs `setup`, `handle` and `finish` once and returns [`Ready::Close`], so every handler works in the mode unchanged,
    /// holding a worker for the whole connection; `finish` runs even when `handle` fails or panics.
    fn handle_ready(&self, request: &mut StreamRequest) -> io::Result<Ready> {
        self.setup(request)?;
        let handled = panic::catch_unwind(AssertUnwindSafe(|| self.handle(request)));
        let finished = self.finish(request);
        match handled {
            // The mode catches the panic again and reports it through `handle_error`.
            Err(payload) => panic::resume_unwind(payload),
            Ok(handled) => handled?,
        }
        finished.map(|()| Ready::Close)
    }

    /// How long a parked connection may stay silent before the readiness mode closes it (not in Python); `None` waits without limit.
    ///
    /// The default is [`timeout`](Self::timeout). The mode checks it on each turn of the serving loop, so it is exact to a poll interval.
    fn idle_timeout(&self) -> Option<Duration> {
        self.timeout()
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
    handler: &dyn StreamRequestHandler,
    stream: &Stream,
    client_address: &Address,
    server_address: &Address,
) -> io::Result<StreamRequest> {
    if let Some(timeout) = handler.timeout() {
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
    }
    if handler.disable_nagle_algorithm() {
        stream.set_nodelay(true)?;
    }
    Ok(StreamRequest {
        request: stream.clone(),
        client_address: client_address.clone(),
        server_address: server_address.clone(),
        rfile: BufReader::with_capacity(RBUFSIZE, stream.clone()),
        wfile: stream.clone(),
        state: None,
    })
}

/// Python's `BaseRequestHandler.__init__` for a stream: socket options, then `setup`, `handle` and always `finish`.
pub(crate) fn run_stream_handler(
    handler: &dyn StreamRequestHandler,
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
