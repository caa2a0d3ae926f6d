//! The crate's one error type, mirroring the exception hierarchy of `http.client`.

use std::fmt;
use std::io;

#[cfg(feature = "tls")]
use crate::certificate::{self, CertificateProblem};

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

    /// Python: `IncompleteRead(partial, expected)`: the body ended before its framing said it would.
    ///
    /// Displayed as Python's repr, `IncompleteRead(7 bytes read, 3 more expected)`, counting every body byte read before the end,
    /// whichever calls read them; Python counts the failing call's bytes only, which is the same when the body is read in one call.
    #[error("IncompleteRead({read} bytes read{})", match expected { Some(more) => format!(", {more} more expected"), None => String::new() })]
    IncompleteRead {
        /// The bytes read by the failing call before the body ended (Python's `partial`).
        partial: Vec<u8>,
        /// How many body bytes arrived before the end, over every read of the response (`partial` included).
        read: u64,
        /// How many more bytes were expected, when known (Python's `expected`; unknown for chunked bodies).
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

    /// Python: `OSError` from `connect()` (`ConnectionRefusedError`, `socket.gaierror`, ...): the name did not resolve or the TCP connection failed.
    #[error("cannot connect to {address}: {source}")]
    Connect {
        /// What was connected to, `host:port`.
        address: String,
        /// The operating system's error.
        source: io::Error,
    },

    /// Python: `ssl.SSLCertVerificationError`: the server's certificate was refused during the handshake.
    ///
    /// The message says what is wrong with it (which names it has when it names another host, when it expired)
    /// and what can be done; [`problem`](Error::Certificate::problem) tells the cases apart.
    #[cfg(feature = "tls")]
    #[error("{}", certificate::Described { server, problem: *problem, error: source })]
    Certificate {
        /// The name the certificate was checked against.
        server: String,
        /// What is wrong with the certificate.
        problem: CertificateProblem,
        /// rustls's error.
        source: rustls::Error,
    },

    /// Python: `ssl.SSLError` during the handshake: the TLS session could not be set up for a reason other than the certificate.
    #[cfg(feature = "tls")]
    #[error(
        "tls handshake with {server} failed: {source}{}",
        certificate::handshake_hint(source)
    )]
    Handshake {
        /// The name the server was addressed by.
        server: String,
        /// rustls's error.
        source: rustls::Error,
    },

    /// Python: `ssl.SSLError` outside the handshake: a bad record of the session, or a rustls configuration rustls refuses.
    #[cfg(feature = "tls")]
    #[error("tls error: {0}")]
    Tls(#[source] rustls::Error),

    /// Python: `OSError` or `ssl.SSLError` from `load_verify_locations(cafile)`: a CA file that cannot be read or holds no certificate.
    #[cfg(feature = "tls")]
    #[error("cannot load CA file {}: {source}", path.display())]
    CaFile {
        /// The file.
        path: std::path::PathBuf,
        /// Why it could not be used.
        source: io::Error,
    },

    /// Python: `OSError` and its subclasses (`ConnectionResetError`, `BrokenPipeError`, ...).
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

    /// True when a timeout fired: one of the three of [`Timeouts`](crate::Timeouts), or the operating system's own (Python's `TimeoutError`).
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Timeout(_) => true,
            Error::Io(error) | Error::Connect { source: error, .. } => {
                error.kind() == io::ErrorKind::TimedOut
            }
            _ => false,
        }
    }

    /// True when the connection could not be set up, so no byte of the request reached the server:
    /// the name did not resolve, the TCP connection failed or timed out, the proxy refused the tunnel, or the TLS handshake failed.
    pub fn is_connect(&self) -> bool {
        match self {
            Error::Connect { .. }
            | Error::Timeout(TimeoutKind::Connect)
            | Error::TunnelFailed { .. } => true,
            #[cfg(feature = "tls")]
            Error::Certificate { .. } | Error::Handshake { .. } => true,
            _ => false,
        }
    }

    /// True for every TLS error (Python's `ssl.SSLError`): a refused certificate, a failed handshake, a bad record, a CA file that cannot be loaded.
    pub fn is_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        if matches!(
            self,
            Error::Certificate { .. }
                | Error::Handshake { .. }
                | Error::Tls(_)
                | Error::CaFile { .. }
        ) {
            return true;
        }
        false
    }

    /// True when the server's certificate was refused (Python's `ssl.SSLCertVerificationError`); the message says why.
    pub fn is_certificate(&self) -> bool {
        #[cfg(feature = "tls")]
        if let Error::Certificate { .. } = self {
            return true;
        }
        false
    }

    /// True when the server broke the protocol: a bad status line, an unknown version, an overlong line, too many headers
    /// or interim responses, or a body that ended before its framing said (`IncompleteRead`).
    pub fn is_protocol(&self) -> bool {
        matches!(
            self,
            Error::BadStatusLine(_)
                | Error::UnknownProtocol(_)
                | Error::LineTooLong(_)
                | Error::TooManyHeaders
                | Error::TooManyInterimResponses
                | Error::IncompleteRead { .. }
        )
    }

    /// True when the server closed or reset the connection (Python's `RemoteDisconnected`, `ConnectionResetError`, `BrokenPipeError`):
    /// on a reused connection, the one case where sending the request again on a new connection makes sense.
    pub fn is_disconnect(&self) -> bool {
        match self {
            Error::RemoteDisconnected => true,
            Error::Io(error) => matches!(
                error.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
            ),
            _ => false,
        }
    }

    /// True when the request was refused before anything was sent: an invalid URL, method, header name or value.
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            Error::InvalidUrl(_)
                | Error::InvalidMethod(_)
                | Error::InvalidHeaderName(_)
                | Error::InvalidHeaderValue(_)
        )
    }

    /// The `io::ErrorKind` this error carries when it travels through `std::io::Read`.
    fn io_kind(&self) -> io::ErrorKind {
        match self {
            Error::Io(error) | Error::Connect { source: error, .. } => error.kind(),
            Error::Timeout(_) => io::ErrorKind::TimedOut,
            Error::IncompleteRead { .. } => io::ErrorKind::UnexpectedEof,
            Error::RemoteDisconnected => io::ErrorKind::ConnectionReset,
            Error::NotConnected => io::ErrorKind::NotConnected,
            error if error.is_invalid_input() => io::ErrorKind::InvalidInput,
            _ => io::ErrorKind::InvalidData,
        }
    }
}

impl From<io::Error> for Error {
    /// Unwraps an `Error` that travelled through `std::io` (for example from `Read::read_to_end`), and recognises rustls errors.
    fn from(error: io::Error) -> Self {
        let ours = error
            .get_ref()
            .is_some_and(|inner| inner.is::<Error>() || is_tls_error(inner));
        if !ours {
            return Error::Io(error);
        }
        let kind = error.kind();
        match error.into_inner() {
            Some(inner) => match inner.downcast::<Error>() {
                Ok(ours) => *ours,
                // Whatever it holds goes back into an io::Error whole, so no text is lost.
                Err(other) => {
                    tls_error(other).unwrap_or_else(|other| Error::Io(io::Error::new(kind, other)))
                }
            },
            None => Error::Io(kind.into()),
        }
    }
}

#[cfg(feature = "tls")]
fn tls_error(
    inner: Box<dyn std::error::Error + Send + Sync>,
) -> Result<Error, Box<dyn std::error::Error + Send + Sync>> {
    inner
        .downcast::<rustls::Error>()
        .map(|tls| Error::Tls(*tls))
}

#[cfg(not(feature = "tls"))]
fn tls_error(
    inner: Box<dyn std::error::Error + Send + Sync>,
) -> Result<Error, Box<dyn std::error::Error + Send + Sync>> {
    Err(inner)
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
            read: 7,
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
    fn predicates_sort_the_errors() {
        let io = |kind| io::Error::new(kind, "os words");
        let connect = |kind| Error::Connect {
            address: "127.0.0.1:9".into(),
            source: io(kind),
        };
        // (error, timeout, connect, disconnect, protocol, invalid input)
        let table = [
            (
                Error::Timeout(TimeoutKind::Connect),
                [true, true, false, false, false],
            ),
            (
                Error::Timeout(TimeoutKind::Read),
                [true, false, false, false, false],
            ),
            (
                Error::Io(io(io::ErrorKind::TimedOut)),
                [true, false, false, false, false],
            ),
            (
                connect(io::ErrorKind::ConnectionRefused),
                [false, true, false, false, false],
            ),
            (
                connect(io::ErrorKind::TimedOut),
                [true, true, false, false, false],
            ),
            (
                Error::TunnelFailed {
                    status: 407,
                    reason: "Proxy Authentication Required".into(),
                },
                [false, true, false, false, false],
            ),
            (
                Error::RemoteDisconnected,
                [false, false, true, false, false],
            ),
            (
                Error::Io(io(io::ErrorKind::ConnectionReset)),
                [false, false, true, false, false],
            ),
            (
                Error::Io(io(io::ErrorKind::BrokenPipe)),
                [false, false, true, false, false],
            ),
            (
                Error::BadStatusLine("x".into()),
                [false, false, false, true, false],
            ),
            (
                Error::UnknownProtocol("HTTP/2".into()),
                [false, false, false, true, false],
            ),
            (
                Error::LineTooLong("header line"),
                [false, false, false, true, false],
            ),
            (Error::TooManyHeaders, [false, false, false, true, false]),
            (
                Error::IncompleteRead {
                    partial: Vec::new(),
                    read: 3,
                    expected: Some(2),
                },
                [false, false, false, true, false],
            ),
            (
                Error::InvalidUrl("x".into()),
                [false, false, false, false, true],
            ),
            (
                Error::InvalidHeaderValue("a\nb".into()),
                [false, false, false, false, true],
            ),
            (Error::NotConnected, [false, false, false, false, false]),
            (
                Error::CannotSendRequest(State::RequestSent),
                [false, false, false, false, false],
            ),
        ];
        for (error, expected) in table {
            let found = [
                error.is_timeout(),
                error.is_connect(),
                error.is_disconnect(),
                error.is_protocol(),
                error.is_invalid_input(),
            ];
            assert_eq!(found, expected, "{error:?}");
            assert!(!error.is_tls() && !error.is_certificate(), "{error:?}");
        }
        assert!(Error::CannotSendHeader(State::Idle).is_improper_connection_state());
    }

    #[test]
    fn connect_errors_keep_the_address_and_the_os_words() {
        let error = Error::Connect {
            address: "example.com:80".into(),
            source: io::Error::new(
                io::ErrorKind::ConnectionRefused,
                "Connection refused (os error 111)",
            ),
        };
        assert_eq!(
            error.to_string(),
            "cannot connect to example.com:80: Connection refused (os error 111)"
        );
        assert!(error.source().is_some());
        // Through std::io and back, the error is whole again.
        let back = Error::from(io::Error::from(error));
        assert!(matches!(back, Error::Connect { .. }), "{back:?}");
        assert_eq!(
            back.to_string(),
            "cannot connect to example.com:80: Connection refused (os error 111)"
        );
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
            Error::Connect {
                address: "h:1".into(),
                source: io::Error::other("x"),
            },
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
