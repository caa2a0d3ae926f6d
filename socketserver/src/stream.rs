//! Connected sockets handed to request handlers: a stream (TCP or Unix) and a datagram socket (UDP or Unix).

use std::fs::File;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::sync::Arc;
use std::time::Duration;

use crate::address::Address;
use crate::sys;

#[derive(Debug)]
enum StreamSocket {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// A connected stream socket, TCP or Unix-domain (Python's `self.request` in a stream handler).
///
/// Cloning is cheap and shares the one descriptor, so `rfile`, `wfile` and `request` are the same connection without `dup(2)`.
/// The descriptor closes when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Stream {
    socket: Arc<StreamSocket>,
}

macro_rules! with_socket {
    ($stream:expr, $socket:ident => $body:expr) => {
        match &*$stream.socket {
            StreamSocket::Tcp($socket) => $body,
            StreamSocket::Unix($socket) => $body,
        }
    };
}

impl Stream {
    /// The TCP stream, when this connection is one.
    pub fn as_tcp(&self) -> Option<&TcpStream> {
        match &*self.socket {
            StreamSocket::Tcp(stream) => Some(stream),
            StreamSocket::Unix(_) => None,
        }
    }

    /// The Unix-domain stream, when this connection is one.
    pub fn as_unix(&self) -> Option<&UnixStream> {
        match &*self.socket {
            StreamSocket::Unix(stream) => Some(stream),
            StreamSocket::Tcp(_) => None,
        }
    }

    /// Sets how long a read may wait (SO_RCVTIMEO); `None` waits forever. A read that times out fails with `WouldBlock` or `TimedOut`.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        with_socket!(self, socket => socket.set_read_timeout(timeout))
    }

    /// Sets how long a write may wait (SO_SNDTIMEO); `None` waits forever.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        with_socket!(self, socket => socket.set_write_timeout(timeout))
    }

    /// Turns Nagle's algorithm off (TCP_NODELAY) on TCP; does nothing on Unix sockets, which have no such delay.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        match &*self.socket {
            StreamSocket::Tcp(stream) => stream.set_nodelay(nodelay),
            StreamSocket::Unix(_) => Ok(()),
        }
    }

    /// Shuts down one or both directions of the connection (shutdown(2)).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        with_socket!(self, socket => socket.shutdown(how))
    }

    /// The peer's address (getpeername(2)).
    pub fn peer_address(&self) -> io::Result<Address> {
        match &*self.socket {
            StreamSocket::Tcp(stream) => stream.peer_addr().map(Address::Inet),
            StreamSocket::Unix(stream) => stream
                .peer_addr()
                .map(|address| Address::from_unix(&address)),
        }
    }

    /// This end's address (getsockname(2)).
    pub fn local_address(&self) -> io::Result<Address> {
        match &*self.socket {
            StreamSocket::Tcp(stream) => stream.local_addr().map(Address::Inet),
            StreamSocket::Unix(stream) => stream
                .local_addr()
                .map(|address| Address::from_unix(&address)),
        }
    }

    /// Reads what has already arrived without waiting, whatever the socket's blocking mode (recv(2) with MSG_DONTWAIT).
    ///
    /// Fails with `WouldBlock` when nothing has arrived yet; zero means the peer closed its side.
    /// Readiness handlers use it to take a partial request head without letting a slow client hold the worker.
    pub fn read_nonblocking(&self, buffer: &mut [u8]) -> io::Result<usize> {
        sys::recv_nonblocking(self.as_raw_fd(), buffer)
    }

    /// Copies what has already arrived into `buffer` without taking it from the socket and without waiting (recv(2) with MSG_PEEK | MSG_DONTWAIT):
    /// the next read still returns it. Fails with `WouldBlock` when nothing has arrived; zero means the peer closed its side.
    pub fn peek_nonblocking(&self, buffer: &mut [u8]) -> io::Result<usize> {
        sys::peek_nonblocking(self.as_raw_fd(), buffer)
    }

    /// Moves the socket in or out of non-blocking mode (O_NONBLOCK): reads, writes and `send_file` then fail with `WouldBlock` instead of waiting.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        with_socket!(self, socket => socket.set_nonblocking(nonblocking))
    }

    /// Waits until the socket has something to read (or has hung up), at most `timeout` (`None`: without limit); false when the time ran out (poll(2)).
    pub fn wait_readable(&self, timeout: Option<Duration>) -> io::Result<bool> {
        sys::poll_one(self.as_raw_fd(), false, timeout)
    }

    /// Waits until the socket can take more bytes (or has failed), at most `timeout` (`None`: without limit); false when the time ran out (poll(2)).
    pub fn wait_writable(&self, timeout: Option<Duration>) -> io::Result<bool> {
        sys::poll_one(self.as_raw_fd(), true, timeout)
    }

    /// Sends what of `buffer` the socket takes now, without waiting, and tells the kernel that more follows at once
    /// (send(2) with MSG_DONTWAIT and MSG_MORE): a response head sent this way leaves in one segment with the start of the body after it.
    ///
    /// Fails with `WouldBlock` when the socket takes nothing; the next write without the flag pushes everything out.
    pub fn send_more(&self, buffer: &[u8]) -> io::Result<usize> {
        let socket = socket2::SockRef::from(self);
        loop {
            match socket.send_with_flags(
                buffer,
                libc::MSG_DONTWAIT | libc::MSG_MORE | libc::MSG_NOSIGNAL,
            ) {
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                result => return result,
            }
        }
    }

    /// Sends what of `buffers`, in order, the socket takes now in one call, without waiting (sendmsg(2) with MSG_DONTWAIT),
    /// with MSG_MORE when `more_follows`: a response head and its body kept in memory leave together, as one write.
    ///
    /// Fails with `WouldBlock` when the socket takes nothing.
    pub fn send_vectored(&self, buffers: &[IoSlice<'_>], more_follows: bool) -> io::Result<usize> {
        let socket = socket2::SockRef::from(self);
        let more = if more_follows { libc::MSG_MORE } else { 0 };
        loop {
            match socket
                .send_vectored_with_flags(buffers, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL | more)
            {
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                result => return result,
            }
        }
    }

    /// Sends up to `count` bytes of `file`, starting at `offset`, without copying them through user space (sendfile(2)).
    ///
    /// Returns how many bytes went out and advances `offset` by as much; zero means the file ended before `offset`.
    /// Like `write`, it may send fewer bytes than asked: call it again for the rest.
    pub fn send_file(&self, file: &File, offset: &mut u64, count: usize) -> io::Result<usize> {
        sys::send_file(self.as_raw_fd(), file.as_raw_fd(), offset, count)
    }
}

impl From<TcpStream> for Stream {
    fn from(stream: TcpStream) -> Self {
        Stream {
            socket: Arc::new(StreamSocket::Tcp(stream)),
        }
    }
}

impl From<UnixStream> for Stream {
    fn from(stream: UnixStream) -> Self {
        Stream {
            socket: Arc::new(StreamSocket::Unix(stream)),
        }
    }
}

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        with_socket!(self, socket => socket.as_raw_fd())
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        with_socket!(self, socket => socket.as_fd())
    }
}

impl Read for &Stream {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        with_socket!(self, socket => (&*socket).read(buffer))
    }

    fn read_vectored(&mut self, buffers: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        with_socket!(self, socket => (&*socket).read_vectored(buffers))
    }
}

impl Write for &Stream {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        with_socket!(self, socket => (&*socket).write(buffer))
    }

    fn write_vectored(&mut self, buffers: &[IoSlice<'_>]) -> io::Result<usize> {
        with_socket!(self, socket => (&*socket).write_vectored(buffers))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for Stream {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buffer)
    }

    fn read_vectored(&mut self, buffers: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(buffers)
    }
}

impl Write for Stream {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        (&*self).write(buffer)
    }

    fn write_vectored(&mut self, buffers: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(buffers)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[derive(Debug)]
enum DatagramSocketInner {
    Udp(UdpSocket),
    Unix(UnixDatagram),
}

/// The server's datagram socket, UDP or Unix-domain (the second half of Python's `self.request` in a datagram handler).
///
/// Cloning is cheap and shares the server's one descriptor.
#[derive(Debug, Clone)]
pub struct DatagramSocket {
    socket: Arc<DatagramSocketInner>,
}

impl DatagramSocket {
    pub(crate) fn udp(socket: UdpSocket) -> Self {
        DatagramSocket {
            socket: Arc::new(DatagramSocketInner::Udp(socket)),
        }
    }

    pub(crate) fn unix(socket: UnixDatagram) -> Self {
        DatagramSocket {
            socket: Arc::new(DatagramSocketInner::Unix(socket)),
        }
    }

    /// Sends one datagram to `address` (sendto(2)).
    pub fn send_to(&self, data: &[u8], address: &Address) -> io::Result<usize> {
        match (&*self.socket, address) {
            (DatagramSocketInner::Udp(socket), Address::Inet(address)) => {
                socket.send_to(data, address)
            }
            (DatagramSocketInner::Unix(socket), Address::Unix(path)) => {
                if path.as_os_str().is_empty() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "the client's datagram socket is unnamed, so no reply can reach it",
                    ));
                }
                socket.send_to(data, path)
            }
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "address family does not match the socket",
            )),
        }
    }

    /// Receives one datagram (recvfrom(2)); a datagram longer than `buffer` is cut to fit, as in Python.
    pub fn recv_from(&self, buffer: &mut [u8]) -> io::Result<(usize, Address)> {
        match &*self.socket {
            DatagramSocketInner::Udp(socket) => socket
                .recv_from(buffer)
                .map(|(length, address)| (length, Address::Inet(address))),
            DatagramSocketInner::Unix(socket) => socket
                .recv_from(buffer)
                .map(|(length, address)| (length, Address::from_unix(&address))),
        }
    }

    /// This socket's own address (getsockname(2)).
    pub fn local_address(&self) -> io::Result<Address> {
        match &*self.socket {
            DatagramSocketInner::Udp(socket) => socket.local_addr().map(Address::Inet),
            DatagramSocketInner::Unix(socket) => socket
                .local_addr()
                .map(|address| Address::from_unix(&address)),
        }
    }

    pub(crate) fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        match &*self.socket {
            DatagramSocketInner::Udp(socket) => socket.set_nonblocking(nonblocking),
            DatagramSocketInner::Unix(socket) => socket.set_nonblocking(nonblocking),
        }
    }
}

impl AsRawFd for DatagramSocket {
    fn as_raw_fd(&self) -> RawFd {
        match &*self.socket {
            DatagramSocketInner::Udp(socket) => socket.as_raw_fd(),
            DatagramSocketInner::Unix(socket) => socket.as_raw_fd(),
        }
    }
}

impl AsFd for DatagramSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &*self.socket {
            DatagramSocketInner::Udp(socket) => socket.as_fd(),
            DatagramSocketInner::Unix(socket) => socket.as_fd(),
        }
    }
}
