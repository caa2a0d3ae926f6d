//! The options of a connection: Python's `HTTPConnection` arguments, with the timeout split in three.

use std::net::SocketAddr;
use std::time::Duration;

/// Python's `http.client.HTTP_PORT`.
pub const HTTP_PORT: u16 = 80;
/// Python's `http.client.HTTPS_PORT`.
pub const HTTPS_PORT: u16 = 443;

/// The three timeouts of a connection; `None` waits forever.
///
/// Python has a single `timeout`; [`Timeouts::all`] gives that behaviour.
/// When one fires the error is [`Error::Timeout`](crate::Error::Timeout) naming which.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timeouts {
    /// For establishing the TCP connection, and the TLS handshake.
    pub connect: Option<Duration>,
    /// For each wait for response bytes (`SO_RCVTIMEO`).
    pub read: Option<Duration>,
    /// For each wait while sending request bytes (`SO_SNDTIMEO`).
    pub write: Option<Duration>,
}

impl Timeouts {
    /// The same timeout for all three phases, like Python's `timeout` argument.
    pub fn all(timeout: Duration) -> Self {
        Timeouts {
            connect: Some(timeout),
            read: Some(timeout),
            write: Some(timeout),
        }
    }
}

/// The optional arguments of Python's `HTTPConnection(host, port=None, timeout=..., source_address=None, blocksize=8192)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The port; `None` takes it from `host:port` in the host, else the scheme's default.
    pub port: Option<u16>,
    /// Connect, read and write timeouts (Python's single `timeout`, split in three).
    pub timeouts: Timeouts,
    /// The local address to bind before connecting.
    pub source_address: Option<SocketAddr>,
    /// How many bytes to read at a time from a body given as a reader, and the size of the receive buffer.
    pub blocksize: usize,
    /// Python's `auto_open`: connect on first use and after a close; when false, sending without
    /// calling [`HttpConnection::connect`](crate::HttpConnection::connect) first is [`Error::NotConnected`](crate::Error::NotConnected).
    pub auto_open: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: None,
            timeouts: Timeouts::default(),
            source_address: None,
            blocksize: 8192,
            auto_open: true,
        }
    }
}
