//! The four socket kinds a `BaseServer` can be: what differs between TCP, UDP, Unix stream and Unix datagram servers.

use std::io;
use std::net::{Shutdown, TcpListener};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net as unix;
use std::sync::Arc;

use socket2::{Domain, Protocol, SockAddr, SockRef, Socket, Type};

use crate::address::Address;
use crate::config::ServerConfig;
use crate::handler::{
    run_datagram_handler, run_stream_handler, DatagramRequestHandler, DynStreamHandler,
    HandlerError,
};
use crate::stream::{DatagramSocket, Stream};

pub(crate) mod sealed {
    use super::*;

    /// What a server kind must provide; sealed, so the set of kinds is this crate's to choose.
    pub trait Sealed: Send + Sync + Sized + 'static {
        /// The handler trait object this kind dispatches to.
        type Handler: ?Sized + Send + Sync + 'static;
        /// The listening or receiving socket.
        type Socket: AsRawFd + Send + Sync + 'static;
        /// One request: a connection or a packet.
        type Request: Send + 'static;
        /// Python's name of the protocol, for messages (`TCP`, `UDP`, ...).
        const NAME: &'static str;
        /// Whether the socket listens for connections (stream kinds) or receives packets.
        const LISTENS: bool;

        /// Creates an unbound socket of the family `address` needs.
        fn open(address: &Address) -> io::Result<Self::Socket>;
        /// A borrowed view for setsockopt, bind and listen.
        fn sock_ref(socket: &Self::Socket) -> SockRef<'_>;
        /// The address the socket is bound to.
        fn local_address(socket: &Self::Socket) -> io::Result<Address>;
        /// Takes one pending request without blocking (Python's `get_request`).
        fn get_request(
            socket: &Self::Socket,
            config: &ServerConfig,
        ) -> io::Result<(Self::Request, Address)>;
        /// Runs the handler on one request (Python's `finish_request`).
        fn finish_request(
            handler: &Self::Handler,
            request: &mut Self::Request,
            client_address: &Address,
            server_address: &Address,
        ) -> Result<(), HandlerError>;
        /// Closes one request (Python's `shutdown_request`).
        fn shutdown_request(request: Self::Request);
        /// The handler as a stream handler, for the readiness mode; `None` for datagram kinds.
        fn stream_handler(handler: &Arc<Self::Handler>) -> Option<Arc<dyn DynStreamHandler>>;
        /// The connection of a stream request, for the readiness mode; datagram requests come back unchanged.
        fn into_stream(request: Self::Request) -> Result<Stream, Self::Request>;
    }
}

/// A kind of server socket: [`Tcp`], [`Udp`], [`UnixStream`] or [`UnixDatagram`].
///
/// The trait is sealed; its methods are this crate's business.
pub trait ServerKind: sealed::Sealed {}

fn sock_addr(address: &Address) -> io::Result<SockAddr> {
    match address {
        Address::Inet(address) => Ok(SockAddr::from(*address)),
        Address::Unix(path) => SockAddr::unix(path),
    }
}

pub(crate) fn bind_address(address: &Address) -> io::Result<SockAddr> {
    sock_addr(address)
}

fn inet_socket(address: &Address, kind: Type, protocol: Protocol) -> io::Result<Socket> {
    let Address::Inet(inet) = address else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "an Internet server needs a host:port address",
        ));
    };
    Socket::new(Domain::for_address(*inet), kind, Some(protocol))
}

fn unix_socket(address: &Address, kind: Type) -> io::Result<Socket> {
    if !matches!(address, Address::Unix(_)) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a Unix-domain server needs a socket path",
        ));
    }
    Socket::new(Domain::UNIX, kind, None)
}

fn run_stream(
    handler: &dyn DynStreamHandler,
    request: &Stream,
    client_address: &Address,
    server_address: &Address,
) -> Result<(), HandlerError> {
    run_stream_handler(handler, request, client_address, server_address)
}

fn close_stream(request: Stream) {
    // Python's shutdown_request: shut the write side (errors ignored), then close.
    let _ = request.shutdown(Shutdown::Write);
}

fn receive(
    socket: &DatagramSocket,
    config: &ServerConfig,
) -> io::Result<((Vec<u8>, DatagramSocket), Address)> {
    let mut packet = vec![0; config.max_packet_size.max(1)];
    let (length, client_address) = socket.recv_from(&mut packet)?;
    packet.truncate(length);
    Ok(((packet, socket.clone()), client_address))
}

/// TCP over IPv4 or IPv6 (Python's `TCPServer`).
#[derive(Debug, Clone, Copy)]
pub struct Tcp;

impl ServerKind for Tcp {}

impl sealed::Sealed for Tcp {
    type Handler = dyn DynStreamHandler;
    type Socket = TcpListener;
    type Request = Stream;
    const NAME: &'static str = "TCP";
    const LISTENS: bool = true;

    fn open(address: &Address) -> io::Result<TcpListener> {
        let socket = inet_socket(address, Type::STREAM, Protocol::TCP)?;
        socket.set_nonblocking(true)?;
        Ok(TcpListener::from(OwnedFd::from(socket)))
    }

    fn sock_ref(socket: &TcpListener) -> SockRef<'_> {
        SockRef::from(socket)
    }

    fn local_address(socket: &TcpListener) -> io::Result<Address> {
        socket.local_addr().map(Address::Inet)
    }

    fn get_request(socket: &TcpListener, _config: &ServerConfig) -> io::Result<(Stream, Address)> {
        // accept4(2) on Linux does not pass the listener's O_NONBLOCK on, so the connection blocks as handlers expect.
        let (stream, client_address) = socket.accept()?;
        Ok((Stream::from(stream), Address::Inet(client_address)))
    }

    fn finish_request(
        handler: &Self::Handler,
        request: &mut Stream,
        client: &Address,
        server: &Address,
    ) -> Result<(), HandlerError> {
        run_stream(handler, request, client, server)
    }

    fn shutdown_request(request: Stream) {
        close_stream(request);
    }

    fn stream_handler(handler: &Arc<Self::Handler>) -> Option<Arc<dyn DynStreamHandler>> {
        Some(handler.clone())
    }

    fn into_stream(request: Stream) -> Result<Stream, Stream> {
        Ok(request)
    }
}

/// UDP over IPv4 or IPv6 (Python's `UDPServer`).
#[derive(Debug, Clone, Copy)]
pub struct Udp;

impl ServerKind for Udp {}

impl sealed::Sealed for Udp {
    type Handler = dyn DatagramRequestHandler;
    type Socket = DatagramSocket;
    type Request = (Vec<u8>, DatagramSocket);
    const NAME: &'static str = "UDP";
    const LISTENS: bool = false;

    fn open(address: &Address) -> io::Result<DatagramSocket> {
        let socket = inet_socket(address, Type::DGRAM, Protocol::UDP)?;
        let socket = DatagramSocket::udp(std::net::UdpSocket::from(OwnedFd::from(socket)));
        socket.set_nonblocking(true)?;
        Ok(socket)
    }

    fn sock_ref(socket: &DatagramSocket) -> SockRef<'_> {
        SockRef::from(socket)
    }

    fn local_address(socket: &DatagramSocket) -> io::Result<Address> {
        socket.local_address()
    }

    fn get_request(
        socket: &DatagramSocket,
        config: &ServerConfig,
    ) -> io::Result<(Self::Request, Address)> {
        receive(socket, config)
    }

    fn finish_request(
        handler: &Self::Handler,
        request: &mut Self::Request,
        client: &Address,
        server: &Address,
    ) -> Result<(), HandlerError> {
        run_datagram_handler(
            handler,
            std::mem::take(&mut request.0),
            &request.1,
            client,
            server,
        )
    }

    fn shutdown_request(_request: Self::Request) {
        // Python's UDPServer.shutdown_request: nothing to close per request.
    }

    fn stream_handler(_handler: &Arc<Self::Handler>) -> Option<Arc<dyn DynStreamHandler>> {
        None
    }

    fn into_stream(request: Self::Request) -> Result<Stream, Self::Request> {
        Err(request)
    }
}

/// Unix-domain stream sockets (Python's `UnixStreamServer`).
#[derive(Debug, Clone, Copy)]
pub struct UnixStream;

impl ServerKind for UnixStream {}

impl sealed::Sealed for UnixStream {
    type Handler = dyn DynStreamHandler;
    type Socket = unix::UnixListener;
    type Request = Stream;
    const NAME: &'static str = "Unix stream";
    const LISTENS: bool = true;

    fn open(address: &Address) -> io::Result<unix::UnixListener> {
        let socket = unix_socket(address, Type::STREAM)?;
        socket.set_nonblocking(true)?;
        Ok(unix::UnixListener::from(OwnedFd::from(socket)))
    }

    fn sock_ref(socket: &unix::UnixListener) -> SockRef<'_> {
        SockRef::from(socket)
    }

    fn local_address(socket: &unix::UnixListener) -> io::Result<Address> {
        socket
            .local_addr()
            .map(|address| Address::from_unix(&address))
    }

    fn get_request(
        socket: &unix::UnixListener,
        _config: &ServerConfig,
    ) -> io::Result<(Stream, Address)> {
        let (stream, client_address) = socket.accept()?;
        Ok((Stream::from(stream), Address::from_unix(&client_address)))
    }

    fn finish_request(
        handler: &Self::Handler,
        request: &mut Stream,
        client: &Address,
        server: &Address,
    ) -> Result<(), HandlerError> {
        run_stream(handler, request, client, server)
    }

    fn shutdown_request(request: Stream) {
        close_stream(request);
    }

    fn stream_handler(handler: &Arc<Self::Handler>) -> Option<Arc<dyn DynStreamHandler>> {
        Some(handler.clone())
    }

    fn into_stream(request: Stream) -> Result<Stream, Stream> {
        Ok(request)
    }
}

/// Unix-domain datagram sockets (Python's `UnixDatagramServer`).
#[derive(Debug, Clone, Copy)]
pub struct UnixDatagram;

impl ServerKind for UnixDatagram {}

impl sealed::Sealed for UnixDatagram {
    type Handler = dyn DatagramRequestHandler;
    type Socket = DatagramSocket;
    type Request = (Vec<u8>, DatagramSocket);
    const NAME: &'static str = "Unix datagram";
    const LISTENS: bool = false;

    fn open(address: &Address) -> io::Result<DatagramSocket> {
        let socket = unix_socket(address, Type::DGRAM)?;
        let socket = DatagramSocket::unix(unix::UnixDatagram::from(OwnedFd::from(socket)));
        socket.set_nonblocking(true)?;
        Ok(socket)
    }

    fn sock_ref(socket: &DatagramSocket) -> SockRef<'_> {
        SockRef::from(socket)
    }

    fn local_address(socket: &DatagramSocket) -> io::Result<Address> {
        socket.local_address()
    }

    fn get_request(
        socket: &DatagramSocket,
        config: &ServerConfig,
    ) -> io::Result<(Self::Request, Address)> {
        receive(socket, config)
    }

    fn finish_request(
        handler: &Self::Handler,
        request: &mut Self::Request,
        client: &Address,
        server: &Address,
    ) -> Result<(), HandlerError> {
        run_datagram_handler(
            handler,
            std::mem::take(&mut request.0),
            &request.1,
            client,
            server,
        )
    }

    fn shutdown_request(_request: Self::Request) {
        // Nothing to close per packet.
    }

    fn stream_handler(_handler: &Arc<Self::Handler>) -> Option<Arc<dyn DynStreamHandler>> {
        None
    }

    fn into_stream(request: Self::Request) -> Result<Stream, Self::Request> {
        Err(request)
    }
}
