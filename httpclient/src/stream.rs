//! The byte stream under a connection: plain TCP or TLS over TCP, and how it is opened.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::error::{Error, Result, TimeoutKind};

/// A connected socket, plain or wrapped in TLS.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream {
    /// The TCP socket underneath.
    pub(crate) fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Tcp(tcp) => tcp,
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => &tls.sock,
        }
    }

    /// Whether the peer has closed (or sent something unasked) while the connection sat idle.
    ///
    /// One non-blocking `recv(MSG_PEEK)`; a server that closed an idle keep-alive connection shows up as end of file.
    #[cfg(unix)]
    pub(crate) fn is_stale(&self) -> bool {
        use std::mem::MaybeUninit;
        let socket = socket2::SockRef::from(self.tcp());
        let mut byte = [MaybeUninit::<u8>::uninit(); 1];
        match socket.recv_with_flags(&mut byte, libc::MSG_PEEK | libc::MSG_DONTWAIT) {
            // End of file: the server is done with this connection.
            Ok(0) => true,
            // Bytes nobody asked for: over plain TCP the server is out of step; over TLS they may be
            // session tickets or other records rustls reads in passing.
            Ok(_) => matches!(self, Stream::Tcp(_)),
            Err(error) => !matches!(
                error.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ),
        }
    }

    /// Without a non-blocking peek the connection is trusted.
    #[cfg(not(unix))]
    pub(crate) fn is_stale(&self) -> bool {
        false
    }
}

impl Read for Stream {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(tcp) => tcp.read(buffer),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => match tls.read(buffer) {
                // A server that closes without close_notify is taken as end of file, like Python's
                // suppress_ragged_eofs; framed bodies still detect the truncation as IncompleteRead.
                Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            },
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(tcp) => tcp.write(buffer),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.write(buffer),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(tcp) => tcp.flush(),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.flush(),
        }
    }
}

/// Whether an I/O error is a socket timeout (`EAGAIN` on Unix, `WSAETIMEDOUT` on Windows).
pub(crate) fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Maps a timeout to [`Error::Timeout`] of the given kind, anything else through `From<io::Error>`.
pub(crate) fn io_error(error: io::Error, kind: TimeoutKind) -> Error {
    if is_timeout(&error) {
        Error::Timeout(kind)
    } else {
        Error::from(error)
    }
}

/// Python's `socket.create_connection`: tries each address of `host` in turn, returns the last error.
///
/// A failure is [`Error::Connect`] naming `host:port` with the operating system's error, or [`Error::Timeout`] of the connect kind.
pub(crate) fn open_tcp(
    host: &str,
    port: u16,
    timeout: Option<Duration>,
    source_address: Option<SocketAddr>,
) -> Result<TcpStream> {
    let failed = |source: io::Error| Error::Connect {
        address: if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        },
        source,
    };
    let addresses = (host, port).to_socket_addrs().map_err(failed)?;
    let mut last_error = None;
    for address in addresses {
        match connect_one(address, timeout, source_address) {
            Ok(stream) => return Ok(stream),
            Err(error) => last_error = Some(error),
        }
    }
    Err(match last_error {
        Some(error) if is_timeout(&error) => Error::Timeout(TimeoutKind::Connect),
        Some(error) => failed(error),
        None => failed(io::Error::new(
            io::ErrorKind::NotFound,
            "the name resolved to no address",
        )),
    })
}

fn connect_one(
    address: SocketAddr,
    timeout: Option<Duration>,
    source_address: Option<SocketAddr>,
) -> io::Result<TcpStream> {
    match source_address {
        None => match timeout {
            Some(timeout) => TcpStream::connect_timeout(&address, timeout),
            None => TcpStream::connect(address),
        },
        Some(source) => {
            // std cannot bind before connecting, socket2 can.
            let socket = socket2::Socket::new(
                socket2::Domain::for_address(address),
                socket2::Type::STREAM,
                Some(socket2::Protocol::TCP),
            )?;
            socket.bind(&source.into())?;
            match timeout {
                Some(timeout) => socket.connect_timeout(&address.into(), timeout)?,
                None => socket.connect(&address.into())?,
            }
            Ok(socket.into())
        }
    }
}
