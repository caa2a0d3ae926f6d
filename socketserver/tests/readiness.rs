//! The readiness mode (not in Python): echo through the shared epoll set, many parked connections on two workers,
//! slow clients, idle limits, shutdown, error reports and descriptor hygiene, over real sockets.

// Tests keep CPython's names, such as test_ReadinessTCPServer, so they can be found next to the Python suite's.
#![allow(non_snake_case)]

mod common;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use socketserver::{
    Address, Mode, Ready, ReadyConnection, ServerConfig, Stream, StreamRequest,
    StreamRequestHandler, TcpServer,
};

const READINESS: Mode = Mode::Readiness { workers: 2 };

/// Echoes every complete line as it arrives and waits without a thread in between, never waiting for the client.
#[derive(Debug)]
struct ParkingEcho {
    idle_timeout: Option<Duration>,
}

/// [`ParkingEcho`] whose connections wait between lines as idle ones, which the mode may close to make room.
#[derive(Debug)]
struct IdleEcho;

impl StreamRequestHandler for IdleEcho {
    fn handle(&self, request: &mut StreamRequest) -> io::Result<()> {
        EchoLine.handle(request)
    }

    fn ready_connection(
        &self,
        stream: &Stream,
        _: &Address,
        _: &Address,
    ) -> io::Result<Option<Box<dyn ReadyConnection>>> {
        Ok(Some(EchoConnection::boxed(stream, None, true)))
    }
}

impl StreamRequestHandler for ParkingEcho {
    fn handle(&self, request: &mut StreamRequest) -> io::Result<()> {
        // Outside the readiness mode the connection gets one line, as CPython's MyHandler does.
        EchoLine.handle(request)
    }

    fn ready_connection(
        &self,
        stream: &Stream,
        _: &Address,
        _: &Address,
    ) -> io::Result<Option<Box<dyn ReadyConnection>>> {
        Ok(Some(EchoConnection::boxed(
            stream,
            self.idle_timeout,
            false,
        )))
    }
}

/// One connection of [`ParkingEcho`]: the partial line waits in it for the next wake-up.
struct EchoConnection {
    stream: Stream,
    pending: Vec<u8>,
    idle_timeout: Option<Duration>,
    /// Waits between lines as `Ready::Idle`, which the mode may close to make room.
    evictable: bool,
}

impl EchoConnection {
    fn boxed(
        stream: &Stream,
        idle_timeout: Option<Duration>,
        evictable: bool,
    ) -> Box<dyn ReadyConnection> {
        Box::new(EchoConnection {
            stream: stream.clone(),
            pending: Vec::new(),
            idle_timeout,
            evictable,
        })
    }
}

impl ReadyConnection for EchoConnection {
    fn ready(&mut self) -> io::Result<Ready> {
        let mut chunk = [0; 4096];
        loop {
            match self.stream.read_nonblocking(&mut chunk) {
                Ok(0) => return Ok(Ready::Close),
                Ok(count) => self.pending.extend_from_slice(&chunk[..count]),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) => return Err(error),
            }
        }
        if let Some(end) = self.pending.iter().rposition(|&byte| byte == b'\n') {
            let lines: Vec<u8> = self.pending.drain(..=end).collect();
            if lines.starts_with(b"error\n") {
                return Err(io::Error::other("requested error"));
            }
            if lines.starts_with(b"panic\n") {
                panic!("requested panic");
            }
            if lines.starts_with(b"spin\n") {
                // A handler busy on the processor, not waiting for anything: another worker would not help it.
                let until = Instant::now() + HOLD / 3;
                while Instant::now() < until {
                    std::hint::spin_loop();
                }
            }
            if lines.starts_with(b"block\n") {
                // Busy-waiting, so only the call, not the thread's state, can tell the mode that this worker is held.
                socketserver::blocking(|| {
                    let until = Instant::now() + HOLD;
                    while Instant::now() < until {
                        std::hint::spin_loop();
                    }
                });
            }
            if lines.starts_with(b"hold long\n") {
                thread::sleep(HOLD_LONG);
            }
            if lines.starts_with(b"hold\n") {
                // A handler that blocks, as a slow download does: it keeps its worker.
                thread::sleep(HOLD);
            }
            (&self.stream).write_all(&lines)?;
        }
        let deadline = self.idle_timeout.map(|timeout| Instant::now() + timeout);
        Ok(if self.evictable && self.pending.is_empty() {
            Ready::Idle(deadline)
        } else {
            Ready::Read(deadline)
        })
    }
}

/// How long a `hold` line keeps its worker.
const HOLD: Duration = Duration::from_millis(1500);

/// How long a `hold long` line keeps its worker: longer than a spare worker lingers without work.
const HOLD_LONG: Duration = Duration::from_secs(9);

fn parking_server(idle_timeout: Option<Duration>) -> TcpServer {
    parking_server_with(idle_timeout, READINESS)
}

fn parking_server_with(idle_timeout: Option<Duration>, mode: Mode) -> TcpServer {
    let config = ServerConfig {
        // Hundreds of clients connect at once; Python's backlog of five would have the kernel drop their SYNs and retry a second later.
        request_queue_size: 1024,
        ..ServerConfig::with_mode(mode)
    };
    TcpServer::with_config("127.0.0.1:0", ParkingEcho { idle_timeout }, config).unwrap()
}

fn inet(server: &TcpServer) -> SocketAddr {
    server.server_address().inet().unwrap()
}

/// One request and its echo on a kept-alive connection.
fn echo_once(client: &mut TcpStream, line: &[u8]) {
    client.write_all(line).unwrap();
    let mut reply = vec![0; line.len()];
    client.read_exact(&mut reply).expect("echo");
    assert_eq!(reply, line);
}

macro_rules! echo_tests {
    ($($(#[$comment:meta])* $name:ident: $proto:expr;)*) => {
        $(
            $(#[$comment])*
            #[test]
            fn $name() {
                check_echo($proto, READINESS);
            }
        )*
    };
}

echo_tests! {
    /// Mirrors test_socketserver: SocketServerTest.test_ThreadingTCPServer, for the readiness mode, with a handler that does not opt in.
    test_ReadinessTCPServer: Proto::Tcp;
    /// Mirrors test_socketserver: SocketServerTest.test_ThreadingUnixStreamServer, for the readiness mode.
    test_ReadinessUnixStreamServer: Proto::UnixStream;
    /// Mirrors test_socketserver: SocketServerTest.test_ThreadingUDPServer: datagram servers run the readiness mode as a pool.
    test_ReadinessUDPServer: Proto::Udp;
    /// Mirrors test_socketserver: SocketServerTest.test_ThreadingUnixDatagramServer, likewise.
    test_ReadinessUnixDatagramServer: Proto::UnixDatagram;
}

// Not in Python: a handler that opts in echoes through parked TCP connections.
#[test]
fn parking_handler_echoes_over_tcp() {
    let server = parking_server(None);
    let address = inet(&server);
    serve_while(&server, POLL_INTERVAL, || {
        let mut client = tcp_client(address);
        for _ in 0..3 {
            echo_once(&mut client, TEST_STR);
        }
    });
}

// Not in Python: the same through a Unix stream socket.
#[test]
fn parking_handler_echoes_over_unix_stream() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("server.sock");
    let server = socketserver::UnixStreamServer::with_config(
        &path,
        ParkingEcho { idle_timeout: None },
        ServerConfig::with_mode(READINESS),
    )
    .unwrap();
    serve_while(&server, POLL_INTERVAL, || {
        let mut client = std::os::unix::net::UnixStream::connect(&path).unwrap();
        client.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
        for _ in 0..3 {
            client.write_all(TEST_STR).unwrap();
            let mut reply = vec![0; TEST_STR.len()];
            client.read_exact(&mut reply).unwrap();
            assert_eq!(reply, TEST_STR);
        }
    });
}

// Not in Python: two hundred kept-alive connections, all open at once, served by two workers.
#[test]
fn many_keep_alive_connections_on_two_workers() {
    let server = parking_server(None);
    let address = inet(&server);
    serve_while(&server, POLL_INTERVAL, || {
        let mut clients: Vec<TcpStream> = (0..200).map(|_| tcp_client(address)).collect();
        for round in 0..3 {
            for (index, client) in clients.iter_mut().enumerate() {
                echo_once(client, format!("round {round} client {index}\n").as_bytes());
            }
        }
        assert!(wait_until(|| server.active_requests() == 200));
        // A request on every connection at once, then every answer: the workers go from one ready connection to the next.
        for client in &mut clients {
            client.write_all(b"together\n").unwrap();
        }
        for client in &mut clients {
            let mut reply = [0; 9];
            client.read_exact(&mut reply).unwrap();
            assert_eq!(&reply, b"together\n");
        }
    });
}

// Not in Python: fifty clients that send half a line do not hold the workers, so a fresh client is answered at once.
#[test]
fn half_sent_requests_do_not_block_others() {
    let server = parking_server(None);
    let address = inet(&server);
    serve_while(&server, POLL_INTERVAL, || {
        let mut slow: Vec<TcpStream> = (0..50).map(|_| tcp_client(address)).collect();
        for client in &mut slow {
            client.write_all(b"half a li").unwrap();
        }
        assert!(wait_until(|| server.active_requests() == 50));
        let started = Instant::now();
        let mut fresh = tcp_client(address);
        echo_once(&mut fresh, TEST_STR);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "a fresh client waited {:?}",
            started.elapsed()
        );
        // The half lines were kept: their ends complete them.
        for client in &mut slow {
            client.write_all(b"ne\n").unwrap();
            let mut reply = [0; 12];
            client.read_exact(&mut reply).unwrap();
            assert_eq!(&reply, b"half a line\n");
        }
    });
}

/// The readiness workers alive in this process (nextest runs each test in its own process).
fn ready_workers() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim_end() == "ready-worker")
        .count()
}

// Not in Python: connections that hold their worker (a slow download, a blocking handler) do not hold up the others,
// because another worker starts when every one is held; the extra workers leave once idle.
#[test]
fn held_workers_do_not_hold_up_ready_connections() {
    let server = parking_server_with(None, Mode::Readiness { workers: 1 });
    let address = inet(&server);
    serve_while(&server, POLL_INTERVAL, || {
        // Start the workers, then hold three of them.
        echo_once(&mut tcp_client(address), TEST_STR);
        let before = ready_workers();
        let mut held: Vec<TcpStream> = (0..3).map(|_| tcp_client(address)).collect();
        for client in &mut held {
            client.write_all(b"hold\n").unwrap();
        }
        thread::sleep(Duration::from_millis(100));
        let started = Instant::now();
        let mut fresh = tcp_client(address);
        echo_once(&mut fresh, TEST_STR);
        let waited = started.elapsed();
        assert!(
            waited < HOLD / 2,
            "a fresh client waited {waited:?} behind held workers"
        );
        let during = ready_workers();
        assert!(
            during > before && during <= before + 4,
            "{before} workers before, {during} while three are held"
        );
        for client in &mut held {
            let mut reply = [0; 5];
            client.read_exact(&mut reply).unwrap();
            assert_eq!(&reply, b"hold\n");
        }
        // The spare workers leave after SPARE_WORKER_LINGER (5 s) without work.
        let deadline = Instant::now() + Duration::from_secs(10);
        while ready_workers() > before && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(ready_workers(), before, "spare workers stayed");
        echo_once(&mut fresh, TEST_STR);
    });
}

// Not in Python: every configured worker held for longer than a spare worker lingers, then a quiet spell:
// a fresh connection is still served at once. A spare that left without another worker waiting on the set
// would leave nobody to take it until a held worker came back.
#[test]
fn fresh_connection_is_served_after_a_quiet_spell_with_every_worker_held() {
    let server = parking_server_with(None, Mode::Readiness { workers: 2 });
    let address = inet(&server);
    serve_while(&server, POLL_INTERVAL, || {
        let mut held: Vec<TcpStream> = (0..2).map(|_| tcp_client(address)).collect();
        for client in &mut held {
            client.write_all(b"hold long\n").unwrap();
        }
        thread::sleep(Duration::from_millis(100));
        echo_once(&mut tcp_client(address), TEST_STR);
        // Longer than SPARE_WORKER_LINGER (5 s) without a request.
        thread::sleep(Duration::from_millis(5500));
        let mut fresh = tcp_client(address);
        fresh
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let started = Instant::now();
        fresh.write_all(TEST_STR).unwrap();
        let mut reply = vec![0; TEST_STR.len()];
        let answered = fresh.read_exact(&mut reply);
        assert!(
            answered.is_ok(),
            "a fresh client got no answer in {:?} while both workers were held",
            started.elapsed()
        );
        assert_eq!(reply, TEST_STR);
        for client in &mut held {
            let mut reply = [0; 10];
            client.read_exact(&mut reply).unwrap();
        }
    });
}

// Not in Python: a parked connection silent past the handler's idle timeout is closed by the mode; a busy one is not.
#[test]
fn idle_connections_are_closed_after_the_idle_timeout() {
    let hooks = RecordingHooks::default();
    let record = hooks.record.clone();
    let mut server = parking_server(Some(Duration::from_millis(200)));
    server.set_hooks(hooks);
    let address = inet(&server);
    serve_while(&server, Duration::from_millis(20), || {
        let mut idle = tcp_client(address);
        echo_once(&mut idle, TEST_STR);
        let started = Instant::now();
        let mut rest = Vec::new();
        assert_eq!(
            idle.read_to_end(&mut rest).unwrap(),
            0,
            "closed without a reply"
        );
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(150) && waited < Duration::from_secs(2),
            "closed after {waited:?}"
        );
        assert!(wait_until(|| server.active_requests() == 0));
    });
    assert_eq!(record.shutdown_requests.load(Ordering::SeqCst), 1);
}

// Mirrors test_socketserver: SocketServerTest.test_shutdown, with parked connections: shutdown stays prompt,
// and server_close closes the parked connections.
#[test]
fn test_shutdown_with_parked_connections() {
    let mut server = parking_server(None);
    let address = inet(&server);
    let mut clients = Vec::new();
    thread::scope(|scope| {
        let serving = scope.spawn(|| server.serve_forever(POLL_INTERVAL));
        for _ in 0..20 {
            let mut client = tcp_client(address);
            echo_once(&mut client, TEST_STR);
            clients.push(client);
        }
        let started = Instant::now();
        server.shutdown();
        let latency = started.elapsed();
        serving.join().unwrap().unwrap();
        assert!(
            latency < Duration::from_millis(100),
            "shutdown took {latency:?}"
        );
    });
    let started = Instant::now();
    server.server_close();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(server.active_requests(), 0);
    for client in &mut clients {
        let mut rest = Vec::new();
        assert_eq!(client.read_to_end(&mut rest).unwrap(), 0);
    }
}

fn check_handled_ready(trigger: &[u8], expected: &str, opt_in: bool) {
    let hooks = RecordingHooks::default();
    let record = hooks.record.clone();
    let config = ServerConfig::with_mode(READINESS);
    let mut server = if opt_in {
        TcpServer::with_config("127.0.0.1:0", ParkingEcho { idle_timeout: None }, config)
    } else {
        TcpServer::with_config("127.0.0.1:0", FailOnRequest, config)
    }
    .unwrap();
    server.set_hooks(hooks);
    let address = server.server_address().clone();
    serve_while(&server, POLL_INTERVAL, || {
        assert_eq!(stream_examine(&address, trigger), b"");
        let mut client = tcp_client(address.inet().unwrap());
        echo_once(&mut client, TEST_STR);
    });
    server.server_close();
    let errors = record.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with(expected), "{errors:?}");
    assert_eq!(record.shutdown_requests.load(Ordering::SeqCst), 2);
}

// Mirrors test_socketserver: ErrorHandlerTest.test_threading_handled, for the readiness mode's default hook.
#[test]
fn test_readiness_handled() {
    check_handled_ready(b"error\n", "io: Other: requested error", false);
}

// Mirrors test_socketserver: ErrorHandlerTest.test_threading_not_handled, for the readiness mode's default hook.
#[test]
fn test_readiness_not_handled() {
    check_handled_ready(b"panic\n", "panic: requested panic", false);
}

// Mirrors test_socketserver: ErrorHandlerTest.test_threading_handled, for a handler that opts in.
#[test]
fn test_readiness_opt_in_handled() {
    check_handled_ready(b"error\n", "io: Other: requested error", true);
}

// Mirrors test_socketserver: ErrorHandlerTest.test_threading_not_handled, for a handler that opts in.
#[test]
fn test_readiness_opt_in_not_handled() {
    check_handled_ready(b"panic\n", "panic: requested panic", true);
}

// Not in Python: pipelined lines sent in one write are all answered.
#[test]
fn pipelined_lines_on_one_connection() {
    let server = parking_server(None);
    let address = inet(&server);
    serve_while(&server, POLL_INTERVAL, || {
        let mut client = tcp_client(address);
        client.write_all(b"one\ntwo\nthree\n").unwrap();
        let mut reply = [0; 14];
        client.read_exact(&mut reply).unwrap();
        assert_eq!(&reply, b"one\ntwo\nthree\n");
    });
}

// Not in Python: once clients disconnect, their connections leave the set and their descriptors close.
#[test]
fn no_descriptor_leak_after_clients_disconnect() {
    let server = parking_server(None);
    let address = inet(&server);
    serve_while(&server, POLL_INTERVAL, || {
        // The first connection starts the workers and the epoll set, which stay open.
        echo_once(&mut tcp_client(address), TEST_STR);
        assert!(wait_until(|| server.active_requests() == 0));
        let before = open_descriptors();
        for _ in 0..3 {
            let mut clients: Vec<TcpStream> = (0..50).map(|_| tcp_client(address)).collect();
            for client in &mut clients {
                echo_once(client, TEST_STR);
            }
            drop(clients);
            assert!(wait_until(|| server.active_requests() == 0));
        }
        assert!(
            wait_until(|| open_descriptors() <= before),
            "{} descriptors open, {before} before",
            open_descriptors()
        );
    });
}

// Not in Python: as test_ThreadingTCPServer_max_threads in tests/socketserver.rs, for the readiness mode, where `max_threads`
// bounds registered connections, so a third client waits in the backlog until one of two connections ends.
#[test]
fn max_threads_bounds_registered_connections() {
    let config = ServerConfig {
        max_threads: Some(2),
        ..ServerConfig::with_mode(READINESS)
    };
    let server =
        TcpServer::with_config("127.0.0.1:0", ParkingEcho { idle_timeout: None }, config).unwrap();
    let address = inet(&server);
    serve_while(&server, POLL_INTERVAL, || {
        let mut first = tcp_client(address);
        let mut second = tcp_client(address);
        echo_once(&mut first, TEST_STR);
        echo_once(&mut second, TEST_STR);
        let mut third = tcp_client(address);
        third.write_all(TEST_STR).unwrap();
        third
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut reply = vec![0; TEST_STR.len()];
        let early = third.read_exact(&mut reply);
        assert!(
            early.is_err(),
            "the third client was served while two were registered"
        );
        drop(first);
        third.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
        third
            .read_exact(&mut reply)
            .expect("served once a connection ended");
        assert_eq!(reply, TEST_STR);
    });
}

// Not in Python: at `max_threads`, a connection idle between requests is closed to make room for a new client (as nginx does),
// while one in the middle of a request is not.
#[test]
fn idle_connections_make_room_at_the_connection_limit() {
    let config = ServerConfig {
        max_threads: Some(2),
        ..ServerConfig::with_mode(READINESS)
    };
    let server = TcpServer::with_config("127.0.0.1:0", IdleEcho, config).unwrap();
    let address = inet(&server);
    serve_while(&server, POLL_INTERVAL, || {
        let mut idle = tcp_client(address);
        echo_once(&mut idle, TEST_STR);
        let mut busy = tcp_client(address);
        busy.write_all(b"half a li").unwrap();
        assert!(wait_until(|| server.active_requests() == 2));
        let mut fresh = tcp_client(address);
        echo_once(&mut fresh, TEST_STR);
        let mut rest = Vec::new();
        assert_eq!(
            idle.read_to_end(&mut rest).unwrap(),
            0,
            "the idle one was closed"
        );
        busy.write_all(b"ne\n").unwrap();
        let mut reply = [0; 12];
        busy.read_exact(&mut reply).unwrap();
        assert_eq!(&reply, b"half a line\n");
    });
}

// Not in Python: a handler that says it is about to wait (`socketserver::blocking`) gets another worker onto the set,
// even when its thread does not look asleep.
#[test]
fn a_worker_that_says_it_blocks_does_not_hold_up_others() {
    let server = parking_server_with(None, Mode::Readiness { workers: 1 });
    let address = inet(&server);
    serve_while(&server, POLL_INTERVAL, || {
        echo_once(&mut tcp_client(address), TEST_STR);
        let mut held = tcp_client(address);
        held.write_all(b"block\n").unwrap();
        thread::sleep(Duration::from_millis(50));
        let started = Instant::now();
        echo_once(&mut tcp_client(address), TEST_STR);
        assert!(
            started.elapsed() < HOLD / 2,
            "waited {:?}",
            started.elapsed()
        );
        let mut reply = [0; 6];
        held.read_exact(&mut reply).unwrap();
    });
}

// Not in Python: a worker busy on the processor for a long request is not taken for a held one, so no worker is added
// (a wall-clock limit would add one per such request when cores are contended).
#[test]
fn a_worker_busy_on_the_processor_adds_no_worker() {
    let server = parking_server_with(None, Mode::Readiness { workers: 1 });
    let address = inet(&server);
    serve_while(&server, POLL_INTERVAL, || {
        echo_once(&mut tcp_client(address), TEST_STR);
        let before = ready_workers();
        let mut spinning = tcp_client(address);
        spinning.write_all(b"spin\n").unwrap();
        let mut most = before;
        let until = Instant::now() + HOLD / 3;
        while Instant::now() < until {
            most = most.max(ready_workers());
            thread::sleep(Duration::from_millis(5));
        }
        let mut reply = [0; 5];
        spinning.read_exact(&mut reply).unwrap();
        assert_eq!(
            most, before,
            "a worker was added for one busy on the processor"
        );
    });
}
