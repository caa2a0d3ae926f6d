//! The crate's one error type, mirroring the exception hierarchy of `http.client`.

use std::fmt;
use std::io;

/// The connection states of Python's `HTTPConnection`, carried by the improper-state errors.
///
/// Python names them `_CS_IDLE`, `_CS_REQ_STARTED` and `_CS_REQ_SENT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// No request in progress: `putrequest` (or `request`) may start one.
    Idle,
    /// `putrequest` was called: headers may be added, then `endheaders` sends them.
    RequestStarted,
    /// The request was sent: `getresponse` may read the answer.
    RequestSent,
}

impl fmt::Display for State {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Python's spelling, so messages read the same as in a traceback.
        formatter.write_str(match self {
            State::Idle => "Idle",
            State::RequestStarted => "Request-started",
            State::RequestSent => "Request-sent",
        })
    }
}

/// Which of the three separate timeouts fired.
///
/// Python has one `timeout` for everything; here each phase has its own (see [`Timeouts`](crate::Timeouts)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    /// Establishing the TCP connection (and the TLS handshake).
    Connect,
    /// Waiting for bytes of the response.
    Read,
    /// Sending bytes of the request.
    Write,
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            TimeoutKind::Connect => "connect",
            TimeoutKind::Read => "read",
            TimeoutKind::Write => "write",
        })
    }
}

/// Everything that can go wrong, one variant per exception of Python's `http.client`.
///
/// Python's `HTTPException` is this whole enum.
/// The three `ImproperConnectionState` subclasses are recognised by [`Error::is_improper_connection_state`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Python: `NotConnected`, raised by `send` when there is no socket and auto-connect is off.
    #[error("not connected")]
    NotConnected,

    /// Python: `InvalidURL`: a non-numeric port, or control characters or spaces in the URL or host.
    #[error("invalid url: {0}")]
    InvalidUrl(String),

    /// Python: `UnknownProtocol`: the status line names a version other than HTTP/1.x (or HTTP/0.9).
    #[error("unknown protocol: {0}")]
    UnknownProtocol(String),

    /// Python: `UnknownTransferEncoding`.
    ///
    /// Python 3 never raises it and neither does this crate: a response whose transfer coding does not end in `chunked` is read until the connection closes.
    /// It is here so code ported from Python can name it.
    #[error("unknown transfer encoding")]
    UnknownTransferEncoding,

    /// Python: `UnimplementedFileMode`, never raised by Python 3 either; kept for porters.
    #[error("unimplemented file mode")]
    UnimplementedFileMode,

    /// Python: `IncompleteRead(partial, expected)`: the body ended before its framing said it would.
    ///
    /// `partial` holds the bytes this call managed to read; `expected` the bytes still missing when that is known (it is not for chunked bodies).
    #[error("IncompleteRead({} bytes read{})", partial.len(), match expected { Some(more) => format!(", {more} more expected"), None => String::new() })]
    IncompleteRead {
        /// The bytes read by the failing call before the body ended.
        partial: Vec<u8>,
        /// How many more bytes were expected, when known.
        expected: Option<u64>,
    },

    /// Python: `CannotSendRequest` (an `ImproperConnectionState`): `putrequest` outside the idle state.
    #[error("cannot send request (state: {0})")]
    CannotSendRequest(State),

    /// Python: `CannotSendHeader` (an `ImproperConnectionState`): `putheader` or `endheaders` when no request was started.
    #[error("cannot send header (state: {0})")]
    CannotSendHeader(State),

    /// Python: `ResponseNotReady` (an `ImproperConnectionState`): `getresponse` before a request was sent.
    #[error("response not ready (state: {0})")]
    ResponseNotReady(State),

    /// Python: `BadStatusLine(line)`: the server's first line is not `HTTP/x.y NNN reason`.
    #[error("bad status line: {0:?}")]
    BadStatusLine(String),

    /// Python: `LineTooLong(what)`: a status, header, chunk-size or trailer line longer than 65536 bytes.
    #[error("got more than 65536 bytes when reading {0}")]
    LineTooLong(&'static str),

    /// Python: `HTTPException("got more than 100 headers")`, for headers and for trailers.
    #[error("got more than 100 headers")]
    TooManyHeaders,

    /// Python: `HTTPException`: more than 100 interim (1xx) responses before the final one.
    #[error("got more than 100 interim responses")]
    TooManyInterimResponses,

    /// Python: `RemoteDisconnected` (also a `ConnectionResetError`): the server closed the connection without answering.
    #[error("remote end closed connection without response")]
    RemoteDisconnected,

    /// Python: `ValueError("method can't contain control characters ...")`: the method is not an HTTP token.
    #[error("invalid method {0:?}: it must be a token without spaces or control characters")]
    InvalidMethod(String),

    /// Python: `ValueError("Invalid header name ...")`, checked before anything is sent.
    #[error("invalid header name {0:?}")]
    InvalidHeaderName(String),

    /// Python: `ValueError("Invalid header value ...")`: CR or LF outside an obs-fold (header injection).
    #[error("invalid header value {0:?}")]
    InvalidHeaderValue(String),

    /// Python: `OSError("Tunnel connection failed: 407 Proxy Authentication Required")`.
    #[error("tunnel connection failed: {status} {reason}")]
    TunnelFailed {
        /// The proxy's status code.
        status: u16,
        /// The proxy's reason phrase.
        reason: String,
    },

    /// Python: `RuntimeError("Can't set up tunnel for established connection")`.
    #[error("can't set up tunnel for established connection")]
    TunnelAfterConnect,

    /// Python: `TimeoutError` (`socket.timeout`); here it says which of the three timeouts fired.
    #[error("{0} timed out")]
    Timeout(TimeoutKind),

    /// Python: `ssl.SSLError` and `ssl.SSLCertVerificationError`.
    #[cfg(feature = "tls")]
    #[error("tls error: {0}")]
    Tls(#[source] rustls::Error),

    /// Python: `OSError` and its subclasses (`ConnectionRefusedError`, ...).
    #[error("{0}")]
    Io(#[source] io::Error),
}

impl Error {
    /// True for Python's `ImproperConnectionState` subclasses: `CannotSendRequest`, `CannotSendHeader` and `ResponseNotReady`.
    pub fn is_improper_connection_state(&self) -> bool {
        matches!(
            self,
            Error::CannotSendRequest(_) | Error::CannotSendHeader(_) | Error::ResponseNotReady(_)
        )
    }

    /// The `io::ErrorKind` this error carries when it travels through `std::io::Read`.
    fn io_kind(&self) -> io::ErrorKind {
        match self {
            Error::Io(error) => error.kind(),
            Error::Timeout(_) => io::ErrorKind::TimedOut,
            Error::IncompleteRead { .. } => io::ErrorKind::UnexpectedEof,
            Error::RemoteDisconnected => io::ErrorKind::ConnectionReset,
            Error::NotConnected => io::ErrorKind::NotConnected,
            Error::InvalidUrl(_)
            | Error::InvalidMethod(_)
            | Error::InvalidHeaderName(_)
            | Error::InvalidHeaderValue(_) => io::ErrorKind::InvalidInput,
            _ => io::ErrorKind::InvalidData,
        }
    }
}

impl From<io::Error> for Error {
    /// Unwraps an `Error` that travelled through `std::io` (for example from `Read::read_to_end`), and recognises rustls errors.
    fn from(error: io::Error) -> Self {
        let kind = error.kind();
        let ours = error
            .get_ref()
            .is_some_and(|inner| inner.is::<Error>() || is_tls_error(inner));
        if !ours {
            return Error::Io(error);
        }
        match error.into_inner() {
            Some(inner) => match inner.downcast::<Error>() {
                Ok(ours) => *ours,
                Err(other) => tls_error(other).unwrap_or_else(|| Error::Io(kind.into())),
            },
            None => Error::Io(kind.into()),
        }
    }
}

#[cfg(feature = "tls")]
fn tls_error(inner: Box<dyn std::error::Error + Send + Sync>) -> Option<Error> {
    inner
        .downcast::<rustls::Error>()
        .ok()
        .map(|tls| Error::Tls(*tls))
}

#[cfg(not(feature = "tls"))]
fn tls_error(_inner: Box<dyn std::error::Error + Send + Sync>) -> Option<Error> {
    None
}

#[cfg(feature = "tls")]
fn is_tls_error(inner: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    inner.is::<rustls::Error>()
}

#[cfg(not(feature = "tls"))]
fn is_tls_error(_inner: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    false
}

impl From<Error> for io::Error {
    /// Wraps the error so it can travel through `std::io::Read`; `From<io::Error>` unwraps it again.
    fn from(error: Error) -> Self {
        match error {
            Error::Io(error) => error,
            other => io::Error::new(other.io_kind(), other),
        }
    }
}

#[cfg(feature = "tls")]
impl From<rustls::Error> for Error {
    fn from(error: rustls::Error) -> Self {
        Error::Tls(error)
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn io_errors_keep_their_source_and_round_trip() {
        let error = Error::from(io::Error::new(io::ErrorKind::ConnectionReset, "reset"));
        assert!(error.source().is_some());
        assert_eq!(error.to_string(), "reset");
        let incomplete = Error::IncompleteRead {
            partial: vec![0; 7],
            expected: Some(3),
        };
        let through_io = io::Error::from(incomplete);
        assert_eq!(through_io.kind(), io::ErrorKind::UnexpectedEof);
        let back = Error::from(through_io);
        assert_eq!(
            back.to_string(),
            "IncompleteRead(7 bytes read, 3 more expected)"
        );
        let timeout = io::Error::from(Error::Timeout(TimeoutKind::Connect));
        assert_eq!(timeout.kind(), io::ErrorKind::TimedOut);
        assert_eq!(Error::from(timeout).to_string(), "connect timed out");
    }

    #[test]
    fn messages_are_lowercase_without_trailing_period() {
        let errors = [
            Error::NotConnected,
            Error::InvalidUrl("x".into()),
            Error::CannotSendRequest(State::RequestSent),
            Error::ResponseNotReady(State::Idle),
            Error::LineTooLong("status line"),
            Error::TooManyHeaders,
            Error::RemoteDisconnected,
            Error::TunnelAfterConnect,
            Error::Timeout(TimeoutKind::Read),
        ];
        for error in errors {
            let message = error.to_string();
            assert!(
                message.starts_with(|first: char| first.is_lowercase()),
                "{message}"
            );
            assert!(!message.ends_with('.'), "{message}");
        }
    }
}
