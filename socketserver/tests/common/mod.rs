//! Helpers shared by the integration tests: echo handlers, servers run on a scoped thread, clients for every socket kind, recording hooks and /proc probes.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use std::fs;
use std::io::{self, BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use socketserver::{
    Address, BaseServer, DatagramRequest, DatagramRequestHandler, HandlerError, Mode, ServerConfig,
    ServerHooks, ServerKind, StreamRequest, StreamRequestHandler, TcpServer, UdpServer,
    UnixDatagramServer, UnixStreamServer,
};

/// CPython's `TEST_STR`.
pub const TEST_STR: &[u8] = b"hello world\n";

/// How long a client waits for a reply before the test fails instead of hanging.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// Python's default `serve_forever(poll_interval=0.5)`: shutdown must not wait for it.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// The four socket kinds of CPython's echo tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
    UnixStream,
    UnixDatagram,
}

/// CPython's `MyHandler` for streams: echo one line.
#[derive(Debug)]
pub struct EchoLine;

impl StreamRequestHandler for EchoLine {
    fn handle(&self, request: &mut StreamRequest) -> io::Result<()> {
        let mut line = Vec::new();
        request.rfile.read_until(b'\n', &mut line)?;
        request.wfile.write_all(&line)
    }
}

/// CPython's `MyHandler` for datagrams: echo the packet.
#[derive(Debug)]
pub struct EchoPacket;

impl DatagramRequestHandler for EchoPacket {
    fn handle(&self, request: &mut DatagramRequest) -> io::Result<()> {
        let mut packet = Vec::new();
        request.rfile.read_to_end(&mut packet)?;
        request.wfile.write_all(&packet)
    }
}

/// Echoes a line, but fails on `error\n` and panics on `panic\n` (CPython's ErrorHandlerTest handler raises).
#[derive(Debug)]
pub struct FailOnRequest;

impl StreamRequestHandler for FailOnRequest {
    fn handle(&self, request: &mut StreamRequest) -> io::Result<()> {
        let mut line = Vec::new();
        request.rfile.read_until(b'\n', &mut line)?;
        match line.as_slice() {
            b"error\n" => Err(io::Error::other("requested error")),
            b"panic\n" => panic!("requested panic"),
            _ => request.wfile.write_all(&line),
        }
    }
}

/// What `RecordingHooks` saw.
#[derive(Debug, Default)]
pub struct Record {
    pub errors: Mutex<Vec<String>>,
    pub shutdown_requests: AtomicUsize,
    pub timeouts: AtomicUsize,
    pub service_actions: AtomicUsize,
}

impl Record {
    pub fn errors(&self) -> Vec<String> {
        self.errors.lock().unwrap().clone()
    }
}

/// `handle_error` as one line: `io: <kind>: <message>` or `panic: <message>`.
pub fn describe(error: &HandlerError) -> String {
    match error {
        HandlerError::Io(error) => format!("io: {:?}: {error}", error.kind()),
        HandlerError::Panic(message) => format!("panic: {message}"),
        other => format!("other: {other}"),
    }
}

/// Hooks that record every call; `refuse` makes `verify_request` say no.
#[derive(Debug, Default, Clone)]
pub struct RecordingHooks {
    pub record: Arc<Record>,
    pub refuse: bool,
}

impl ServerHooks for RecordingHooks {
    fn verify_request(&self, _client_address: &Address) -> bool {
        !self.refuse
    }

    fn handle_error(&self, _client_address: &Address, error: &HandlerError) {
        self.record.errors.lock().unwrap().push(describe(error));
    }

    fn service_actions(&self) {
        self.record.service_actions.fetch_add(1, Ordering::SeqCst);
    }

    fn handle_timeout(&self) {
        self.record.timeouts.fetch_add(1, Ordering::SeqCst);
    }

    fn shutdown_request(&self, _client_address: &Address) {
        self.record.shutdown_requests.fetch_add(1, Ordering::SeqCst);
    }
}

/// Runs `serve_forever` on a scoped thread while `client` runs, then shuts the server down, even when `client` panics.
pub fn serve_while<K: ServerKind, R>(
    server: &BaseServer<K>,
    poll_interval: Duration,
    client: impl FnOnce() -> R,
) -> R {
    thread::scope(|scope| {
        let serving = scope.spawn(|| server.serve_forever(poll_interval));
        let outcome = panic::catch_unwind(AssertUnwindSafe(client));
        server.shutdown();
        let served = serving.join().expect("the serving thread panicked");
        match outcome {
            Ok(result) => {
                served.expect("serve_forever failed");
                result
            }
            Err(payload) => panic::resume_unwind(payload),
        }
    })
}

/// Polls `condition` every few milliseconds for up to five seconds.
pub fn wait_until(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(2));
    }
}

fn exchange(mut stream: impl Read + Write, data: &[u8]) -> Vec<u8> {
    stream.write_all(data).expect("client write");
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).expect("client read");
    reply
}

/// CPython's `stream_examine`: connect, send `data`, read until the server closes.
pub fn stream_examine(address: &Address, data: &[u8]) -> Vec<u8> {
    match address {
        Address::Inet(address) => exchange(tcp_client(*address), data),
        Address::Unix(path) => {
            let stream = UnixStream::connect(path).expect("unix connect");
            stream.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
            exchange(stream, data)
        }
    }
}

/// A TCP connection whose reads give up after `CLIENT_TIMEOUT`.
pub fn tcp_client(address: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(address).expect("tcp connect");
    stream.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    stream
}

static CLIENT_SOCKETS: AtomicUsize = AtomicUsize::new(0);

/// CPython's `dgram_examine`: send `data` in one packet and return the reply packet.
///
/// A Unix datagram client binds a path in `directory`, so the server has an address to answer.
pub fn dgram_examine(address: &Address, directory: &Path, data: &[u8]) -> Vec<u8> {
    let mut reply = vec![0; 65536];
    let length = match address {
        Address::Inet(address) => {
            let local = if address.is_ipv6() {
                "[::1]:0"
            } else {
                "127.0.0.1:0"
            };
            let socket = UdpSocket::bind(local).unwrap();
            socket.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
            socket.send_to(data, address).unwrap();
            socket.recv_from(&mut reply).expect("udp reply").0
        }
        Address::Unix(path) => {
            let number = CLIENT_SOCKETS.fetch_add(1, Ordering::SeqCst);
            let client_path = directory.join(format!("client-{number}.sock"));
            let socket = UnixDatagram::bind(&client_path).unwrap();
            socket.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
            socket.send_to(data, path).unwrap();
            let length = socket.recv(&mut reply).expect("unix datagram reply");
            let _ = fs::remove_file(&client_path);
            length
        }
    };
    reply.truncate(length);
    reply
}

/// CPython's `run_server`: three echoes through `server`, then shutdown and `server_close`, leaving nothing running.
pub fn run_server<K: ServerKind>(mut server: BaseServer<K>, directory: &Path, datagram: bool) {
    let address = server.server_address().clone();
    // CPython checks server_address == socket.getsockname(): port 0 must have become the real port.
    if let Address::Inet(inet) = &address {
        assert_ne!(inet.port(), 0);
        assert_eq!(
            server
                .socket_ref()
                .unwrap()
                .local_addr()
                .unwrap()
                .as_socket(),
            Some(*inet)
        );
    }
    serve_while(&server, POLL_INTERVAL, || {
        for _ in 0..3 {
            let reply = if datagram {
                dgram_examine(&address, directory, TEST_STR)
            } else {
                stream_examine(&address, TEST_STR)
            };
            assert_eq!(reply, TEST_STR);
        }
    });
    server.server_close();
    assert_eq!(server.fileno(), -1);
    assert_eq!(server.active_requests(), 0);
}

/// The echo test of CPython's SocketServerTest for one socket kind and processing mode.
pub fn check_echo(proto: Proto, mode: Mode) {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("server.sock");
    let config = ServerConfig::with_mode(mode);
    match proto {
        Proto::Tcp => run_server(
            TcpServer::with_config("127.0.0.1:0", EchoLine, config).unwrap(),
            directory.path(),
            false,
        ),
        Proto::Udp => run_server(
            UdpServer::with_config("127.0.0.1:0", EchoPacket, config).unwrap(),
            directory.path(),
            true,
        ),
        Proto::UnixStream => run_server(
            UnixStreamServer::with_config(&path, EchoLine, config).unwrap(),
            directory.path(),
            false,
        ),
        Proto::UnixDatagram => run_server(
            UnixDatagramServer::with_config(&path, EchoPacket, config).unwrap(),
            directory.path(),
            true,
        ),
    }
}

/// The client side of ErrorHandlerTest: a failing request costs only its connection, then the server still echoes.
pub fn fail_then_echo(address: &Address, trigger: &[u8]) {
    assert_eq!(
        stream_examine(address, trigger),
        b"",
        "a failed request is closed without a reply"
    );
    assert_eq!(stream_examine(address, TEST_STR), TEST_STR);
}

/// The descriptors this process has open.
pub fn open_descriptors() -> usize {
    fs::read_dir("/proc/self/fd").unwrap().count()
}

/// This process's child processes, with their state letter (`Z` for a zombie), from /proc.
pub fn child_processes() -> Vec<(i32, char)> {
    let me = std::process::id() as i32;
    let mut children = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The command name is in parentheses and may hold spaces: the fields after the last `)` are state and parent.
        let Some(end) = stat.rfind(')') else { continue };
        let mut fields = stat[end + 1..].split_whitespace();
        let state = fields.next().and_then(|field| field.chars().next());
        let parent = fields.next().and_then(|field| field.parse::<i32>().ok());
        if let (Some(state), Some(parent)) = (state, parent) {
            if parent == me {
                children.push((pid, state));
            }
        }
    }
    children
}
