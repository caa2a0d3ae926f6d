//! CPython's test_socketserver over real sockets, for the sync, threading and pool modes (forking has its own file, tests/forking.rs).

// Tests keep CPython's names, such as test_ThreadingTCPServer, so they can be found from the Python suite.
#![allow(non_snake_case)]

mod common;

use std::io::{self, BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use socketserver::{
    DatagramRequest, DatagramRequestHandler, Mode, ServerConfig, StreamRequest,
    StreamRequestHandler, TcpServer, UdpServer,
};

const POOL: Mode = Mode::Pool {
    workers: 2,
    queue: 4,
};

macro_rules! echo_tests {
    ($($(#[$comment:meta])* $name:ident: $proto:expr, $mode:expr;)*) => {
        $(
            $(#[$comment])*
            #[test]
            fn $name() {
                check_echo($proto, $mode);
            }
        )*
    };
}

echo_tests! {
    /// Mirrors test_socketserver: SocketServerTest.test_TCPServer
    test_TCPServer: Proto::Tcp, Mode::Sync;
    /// Mirrors test_socketserver: SocketServerTest.test_ThreadingTCPServer
    test_ThreadingTCPServer: Proto::Tcp, Mode::Threading;
    /// Mirrors test_socketserver: SocketServerTest.test_ThreadingTCPServer, for the pool mode Python lacks.
    test_PoolTCPServer: Proto::Tcp, POOL;
    /// Mirrors test_socketserver: SocketServerTest.test_UDPServer
    test_UDPServer: Proto::Udp, Mode::Sync;
    /// Mirrors test_socketserver: SocketServerTest.test_ThreadingUDPServer
    test_ThreadingUDPServer: Proto::Udp, Mode::Threading;
    /// Mirrors test_socketserver: SocketServerTest.test_ThreadingUDPServer, for the pool mode.
    test_PoolUDPServer: Proto::Udp, POOL;
    /// Mirrors test_socketserver: SocketServerTest.test_UnixStreamServer
    test_UnixStreamServer: Proto::UnixStream, Mode::Sync;
    /// Mirrors test_socketserver: SocketServerTest.test_ThreadingUnixStreamServer
    test_ThreadingUnixStreamServer: Proto::UnixStream, Mode::Threading;
    /// Mirrors test_socketserver: SocketServerTest.test_ThreadingUnixStreamServer, for the pool mode.
    test_PoolUnixStreamServer: Proto::UnixStream, POOL;
    /// Mirrors test_socketserver: SocketServerTest.test_UnixDatagramServer
    test_UnixDatagramServer: Proto::UnixDatagram, Mode::Sync;
    /// Mirrors test_socketserver: SocketServerTest.test_ThreadingUnixDatagramServer
    test_ThreadingUnixDatagramServer: Proto::UnixDatagram, Mode::Threading;
    /// Mirrors test_socketserver: SocketServerTest.test_ThreadingUnixDatagramServer, for the pool mode.
    test_PoolUnixDatagramServer: Proto::UnixDatagram, POOL;
}

// Mirrors test_socketserver: SocketServerTest.test_shutdown
// Twenty servers (sync, threading and pool in turn), each serving with Python's 0.5 s poll interval:
// shutdown() must return far sooner, because it wakes the loop.
#[test]
fn test_shutdown() {
    let mut latencies = Vec::new();
    for mode in [Mode::Sync, Mode::Threading, POOL]
        .into_iter()
        .cycle()
        .take(20)
    {
        let server =
            TcpServer::with_config("127.0.0.1:0", EchoLine, ServerConfig::with_mode(mode)).unwrap();
        let address = server.server_address().clone();
        thread::scope(|scope| {
            let serving = scope.spawn(|| server.serve_forever(POLL_INTERVAL));
            // One echo proves the loop is running and back to waiting.
            assert_eq!(stream_examine(&address, TEST_STR), TEST_STR);
            let started = Instant::now();
            server.shutdown();
            latencies.push(started.elapsed());
            serving.join().unwrap().unwrap();
        });
    }
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    let max = *latencies.last().unwrap();
    eprintln!(
        "shutdown latency over 20 servers (sync, threading, pool; poll interval 500 ms): median {median:?}, min {:?}, max {max:?}",
        latencies[0]
    );
    assert!(
        max < Duration::from_millis(100),
        "shutdown took {max:?}, the poll interval was {POLL_INTERVAL:?}"
    );
}

// Mirrors test_socketserver: SocketServerTest.test_close_immediately
#[test]
fn test_close_immediately() {
    let mut server = TcpServer::new("127.0.0.1:0", EchoLine).unwrap();
    assert!(server.fileno() >= 0);
    server.server_close();
    assert_eq!(server.fileno(), -1);
    assert!(server.socket_ref().is_none());
    // A closed server neither serves nor waits.
    let error = server.serve_forever(POLL_INTERVAL).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::NotConnected);
    assert_eq!(
        server.handle_request().unwrap_err().kind(),
        io::ErrorKind::NotConnected
    );
    // Closing twice is harmless, and so is shutting down a server that never served.
    server.server_close();
    server.shutdown();
}

// Mirrors test_socketserver: SocketServerTest.test_shutdown, from the serving thread.
// Python deadlocks here; this crate asks the loop to stop and returns.
#[test]
fn shutdown_from_a_handler_stops_the_loop() {
    type Slot = Arc<Mutex<Option<socketserver::ShutdownHandle>>>;
    struct StopHandler(Slot);
    impl StreamRequestHandler for StopHandler {
        fn handle(&self, request: &mut StreamRequest) -> io::Result<()> {
            if let Some(stop) = &*self.0.lock().unwrap() {
                stop.shutdown();
            }
            request.wfile.write_all(b"stopping\n")
        }
    }
    let slot = Slot::default();
    let server = TcpServer::new("127.0.0.1:0", StopHandler(slot.clone())).unwrap();
    *slot.lock().unwrap() = Some(server.shutdown_handle());
    let address = server.server_address().clone();
    thread::scope(|scope| {
        let serving = scope.spawn(|| server.serve_forever(POLL_INTERVAL));
        assert_eq!(stream_examine(&address, b""), b"stopping\n");
        let started = Instant::now();
        serving.join().unwrap().unwrap();
        assert!(started.elapsed() < Duration::from_secs(2));
    });
}

// Mirrors test_socketserver: SocketServerTest.test_tcpserver_bind_leak, the half that needs no descriptor count:
// a failed bind reports the error. The descriptor count is in tests/bind_leak.rs, alone in its process.
#[test]
fn test_tcpserver_bind_leak_reports_address_in_use() {
    let server = TcpServer::new("127.0.0.1:0", EchoLine).unwrap();
    let address = server.server_address().inet().unwrap();
    let error = TcpServer::new(address, EchoLine).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
}

/// How many handlers run at once, the highest such count, and how many finished.
#[derive(Default)]
struct Concurrency {
    running: AtomicUsize,
    highest: AtomicUsize,
    served: AtomicUsize,
}

/// A slow handler that keeps count in a shared `Concurrency`.
struct SlowCounting(Arc<Concurrency>);

impl StreamRequestHandler for SlowCounting {
    fn handle(&self, request: &mut StreamRequest) -> io::Result<()> {
        let counts = &self.0;
        let now = counts.running.fetch_add(1, Ordering::SeqCst) + 1;
        counts.highest.fetch_max(now, Ordering::SeqCst);
        thread::sleep(Duration::from_millis(30));
        counts.running.fetch_sub(1, Ordering::SeqCst);
        counts.served.fetch_add(1, Ordering::SeqCst);
        let mut line = Vec::new();
        request.rfile.read_until(b'\n', &mut line)?;
        request.wfile.write_all(&line)
    }
}

/// Ten slow clients at once through `config`: all are served, and never more than two handlers run at a time.
fn check_at_most_two_at_once(config: ServerConfig) {
    let counting = Arc::new(Concurrency::default());
    let config = ServerConfig {
        // Room in the backlog for every client, so none waits for a SYN retry.
        request_queue_size: 32,
        ..config
    };
    let mut server =
        TcpServer::with_config("127.0.0.1:0", SlowCounting(counting.clone()), config).unwrap();
    let address = server.server_address().clone();
    serve_while(&server, POLL_INTERVAL, || {
        thread::scope(|scope| {
            let clients: Vec<_> = (0..10)
                .map(|_| scope.spawn(|| stream_examine(&address, TEST_STR)))
                .collect();
            for client in clients {
                assert_eq!(client.join().unwrap(), TEST_STR);
            }
        });
    });
    server.server_close();
    assert_eq!(counting.served.load(Ordering::SeqCst), 10);
    let highest = counting.highest.load(Ordering::SeqCst);
    assert!(
        (1..=2).contains(&highest),
        "{highest} handlers ran at once, with room for two"
    );
}

// Mirrors test_socketserver: SocketServerTest.test_ThreadingTCPServer, under load, for the pool mode Python lacks:
// ten slow clients at once through two workers and a queue of one are all served, never more than two at a time.
#[test]
fn test_PoolTCPServer_bounds_threads() {
    check_at_most_two_at_once(ServerConfig::with_mode(Mode::Pool {
        workers: 2,
        queue: 1,
    }));
}

// Mirrors test_socketserver: SocketServerTest.test_ThreadingTCPServer, under load, with `max_threads` (not in Python):
// ten slow clients at once through at most two daemon threads are all served, never more than two at a time.
#[test]
fn test_ThreadingTCPServer_max_threads() {
    check_at_most_two_at_once(ServerConfig {
        daemon_threads: true,
        max_threads: Some(2),
        ..ServerConfig::with_mode(Mode::Threading)
    });
}

fn check_handled(mode: Mode, trigger: &[u8], expected: &str) {
    let hooks = RecordingHooks::default();
    let record = hooks.record.clone();
    let mut server =
        TcpServer::with_config("127.0.0.1:0", FailOnRequest, ServerConfig::with_mode(mode))
            .unwrap();
    server.set_hooks(hooks);
    let address = server.server_address().clone();
    serve_while(&server, POLL_INTERVAL, || fail_then_echo(&address, trigger));
    server.server_close();
    let errors = record.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with(expected), "{errors:?}");
    // Every connection, failed or not, was shut down through the hook.
    assert_eq!(record.shutdown_requests.load(Ordering::SeqCst), 2);
}

// Mirrors test_socketserver: ErrorHandlerTest.test_sync_handled
#[test]
fn test_sync_handled() {
    check_handled(Mode::Sync, b"error\n", "io: Other: requested error");
}

// Mirrors test_socketserver: ErrorHandlerTest.test_sync_not_handled.
// Python's uncaught BaseException becomes a panic here, and this crate hands panics to handle_error too, then keeps serving.
#[test]
fn test_sync_not_handled() {
    check_handled(Mode::Sync, b"panic\n", "panic: requested panic");
}

// Mirrors test_socketserver: ErrorHandlerTest.test_threading_handled
#[test]
fn test_threading_handled() {
    check_handled(Mode::Threading, b"error\n", "io: Other: requested error");
}

// Mirrors test_socketserver: ErrorHandlerTest.test_threading_not_handled (a panic reaches handle_error).
#[test]
fn test_threading_not_handled() {
    check_handled(Mode::Threading, b"panic\n", "panic: requested panic");
}

// Mirrors test_socketserver: ErrorHandlerTest.test_threading_handled, for the pool mode.
#[test]
fn test_pool_handled() {
    check_handled(POOL, b"error\n", "io: Other: requested error");
}

// Mirrors test_socketserver: ErrorHandlerTest.test_threading_not_handled, for the pool mode (a panic reaches handle_error).
#[test]
fn test_pool_not_handled() {
    check_handled(POOL, b"panic\n", "panic: requested panic");
}

// Mirrors test_socketserver: MiscTestCase.test_shutdown_request_called_if_verify_request_false
#[test]
fn test_shutdown_request_called_if_verify_request_false() {
    for mode in [Mode::Sync, Mode::Threading, POOL] {
        let hooks = RecordingHooks {
            refuse: true,
            ..RecordingHooks::default()
        };
        let record = hooks.record.clone();
        let mut server =
            TcpServer::with_config("127.0.0.1:0", EchoLine, ServerConfig::with_mode(mode)).unwrap();
        server.set_hooks(hooks);
        let mut client = tcp_client(server.server_address().inet().unwrap());
        server.handle_request().unwrap();
        // The refused connection is closed without a word.
        let mut reply = Vec::new();
        assert_eq!(client.read_to_end(&mut reply).unwrap(), 0, "{mode:?}");
        assert_eq!(record.shutdown_requests.load(Ordering::SeqCst), 1);
        server.server_close();
        assert!(record.errors().is_empty());
    }
}

// Mirrors test_socketserver: MiscTestCase.test_threads_reaped
// Finished request threads are joined as new ones start and on each turn of the loop, so none pile up.
#[test]
fn test_threads_reaped() {
    let mut server = TcpServer::with_config(
        "127.0.0.1:0",
        EchoLine,
        ServerConfig::with_mode(Mode::Threading),
    )
    .unwrap();
    let address = server.server_address().clone();
    serve_while(&server, Duration::from_millis(5), || {
        for _ in 0..10 {
            assert_eq!(stream_examine(&address, TEST_STR), TEST_STR);
        }
        assert!(wait_until(|| server.active_requests() == 0));
    });
    server.server_close();
}

/// How many held handlers have started and finished.
#[derive(Default)]
struct Progress {
    started: AtomicUsize,
    finished: AtomicUsize,
}

/// Holds each connection until the client sends its line.
struct Held(Arc<Progress>);

impl StreamRequestHandler for Held {
    fn handle(&self, request: &mut StreamRequest) -> io::Result<()> {
        self.0.started.fetch_add(1, Ordering::SeqCst);
        let mut line = Vec::new();
        request.rfile.read_until(b'\n', &mut line)?;
        request.wfile.write_all(&line)?;
        self.0.finished.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn held_server(daemon_threads: bool) -> (TcpServer, Arc<Progress>) {
    let held = Arc::new(Progress::default());
    let config = ServerConfig {
        daemon_threads,
        ..ServerConfig::with_mode(Mode::Threading)
    };
    let server = TcpServer::with_config("127.0.0.1:0", Held(held.clone()), config).unwrap();
    (server, held)
}

// Mirrors test_socketserver: ThreadingErrorTestServer's block_on_close (SocketServerTest.test_ThreadingTCPServer's join in server_close):
// server_close waits for a request still in flight.
#[test]
fn test_threading_block_on_close() {
    let (mut server, held) = held_server(false);
    let address = server.server_address().inet().unwrap();
    let mut client = tcp_client(address);
    serve_while(&server, POLL_INTERVAL, || {
        assert!(wait_until(|| held.started.load(Ordering::SeqCst) == 1));
    });
    assert_eq!(server.active_requests(), 1);
    let closed = AtomicBool::new(false);
    thread::scope(|scope| {
        let closing = scope.spawn(|| {
            server.server_close();
            closed.store(true, Ordering::SeqCst);
        });
        thread::sleep(Duration::from_millis(50));
        assert!(
            !closed.load(Ordering::SeqCst),
            "server_close returned while a request was in flight"
        );
        client.write_all(TEST_STR).unwrap();
        closing.join().unwrap();
    });
    assert_eq!(held.finished.load(Ordering::SeqCst), 1);
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, TEST_STR);
}

// Mirrors test_socketserver: ThreadingMixIn.daemon_threads (no CPython test of its own): server_close does not wait for daemon threads.
#[test]
fn test_threading_daemon_threads() {
    let (mut server, held) = held_server(true);
    let address = server.server_address().inet().unwrap();
    let mut client = tcp_client(address);
    serve_while(&server, POLL_INTERVAL, || {
        assert!(wait_until(|| held.started.load(Ordering::SeqCst) == 1));
    });
    // The daemon thread's request is in flight and counted, but server_close does not wait for it.
    assert_eq!(server.active_requests(), 1);
    let started = Instant::now();
    server.server_close();
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(held.finished.load(Ordering::SeqCst), 0);
    // The detached thread still serves its client.
    client.write_all(TEST_STR).unwrap();
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, TEST_STR);
}

// Mirrors test_socketserver: SocketServerTest.test_TCPServer with bind_and_activate=False (BaseServer's constructor argument).
#[test]
fn test_TCPServer_bind_and_activate_false() {
    let mut server = TcpServer::unbound("127.0.0.1:0", EchoLine, ServerConfig::default()).unwrap();
    assert!(server.fileno() >= 0);
    assert_eq!(server.server_address().inet().unwrap().port(), 0);
    server.server_bind().unwrap();
    let address = server.server_address().inet().unwrap();
    assert_ne!(address.port(), 0, "port 0 resolves to the real port");
    // Bound but not listening: connections are refused.
    let refused = TcpStream::connect(address).unwrap_err();
    assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
    server.server_activate().unwrap();
    let mut client = tcp_client(address);
    client.write_all(TEST_STR).unwrap();
    server.handle_request().unwrap();
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, TEST_STR);
}

// Mirrors test_socketserver: the allow_reuse_address and allow_reuse_port class attributes (TCPServer.server_bind).
#[test]
fn test_allow_reuse_address() {
    let plain = TcpServer::new("127.0.0.1:0", EchoLine).unwrap();
    let socket = plain.socket_ref().unwrap();
    assert!(!socket.reuse_address().unwrap());
    assert!(!socket.reuse_port().unwrap());
    let config = ServerConfig {
        allow_reuse_address: true,
        allow_reuse_port: true,
        ..ServerConfig::default()
    };
    let reusing = TcpServer::with_config("127.0.0.1:0", EchoLine, config.clone()).unwrap();
    let socket = reusing.socket_ref().unwrap();
    assert!(socket.reuse_address().unwrap());
    assert!(socket.reuse_port().unwrap());
    // With SO_REUSEADDR a port can be bound again at once after a served connection is closed (TIME_WAIT).
    let address = reusing.server_address().clone();
    let inet = address.inet().unwrap();
    serve_while(&reusing, POLL_INTERVAL, || {
        assert_eq!(stream_examine(&address, TEST_STR), TEST_STR)
    });
    drop(reusing);
    let again = TcpServer::with_config(inet, EchoLine, config).unwrap();
    assert_eq!(again.server_address().inet(), Some(inet));
}

// Mirrors test_socketserver: SocketServerTest.test_TCPServer over IPv6 (CPython runs it when socket.has_ipv6).
#[test]
fn test_TCPServer_ipv6() {
    let server = match TcpServer::new("[::1]:0", EchoLine) {
        Ok(server) => server,
        Err(error) => {
            eprintln!("skipping test_TCPServer_ipv6: ::1 is not available ({error})");
            return;
        }
    };
    let address = server.server_address().clone();
    let inet: SocketAddr = address.inet().unwrap();
    assert!(inet.is_ipv6());
    assert_ne!(inet.port(), 0);
    serve_while(&server, POLL_INTERVAL, || {
        for _ in 0..3 {
            assert_eq!(stream_examine(&address, TEST_STR), TEST_STR);
        }
    });
}

// Mirrors test_socketserver: BaseServer.handle_request's timeout path (CPython covers it through its servers' handle_timeout).
#[test]
fn test_handle_request_timeout() {
    let hooks = RecordingHooks::default();
    let record = hooks.record.clone();
    let config = ServerConfig {
        timeout: Some(Duration::from_millis(30)),
        ..ServerConfig::default()
    };
    let mut server = TcpServer::with_config("127.0.0.1:0", EchoLine, config).unwrap();
    server.set_hooks(hooks);
    let started = Instant::now();
    server.handle_request().unwrap();
    let waited = started.elapsed();
    assert_eq!(record.timeouts.load(Ordering::SeqCst), 1);
    assert!(waited >= Duration::from_millis(25), "{waited:?}");
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    // A waiting request is served instead, without a timeout.
    let mut client = tcp_client(server.server_address().inet().unwrap());
    client.write_all(TEST_STR).unwrap();
    server.handle_request().unwrap();
    assert_eq!(record.timeouts.load(Ordering::SeqCst), 1);
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, TEST_STR);
}

// Mirrors test_socketserver: BaseServer.service_actions, called on every turn of serve_forever (Python 3.3+).
#[test]
fn test_service_actions() {
    let hooks = RecordingHooks::default();
    let record = hooks.record.clone();
    let mut server = TcpServer::new("127.0.0.1:0", EchoLine).unwrap();
    server.set_hooks(hooks);
    let address = server.server_address().clone();
    serve_while(&server, Duration::from_millis(5), || {
        assert!(wait_until(
            || record.service_actions.load(Ordering::SeqCst) >= 3
        ));
        // A served request is a turn of the loop too.
        let before = record.service_actions.load(Ordering::SeqCst);
        assert_eq!(stream_examine(&address, TEST_STR), TEST_STR);
        assert!(wait_until(
            || record.service_actions.load(Ordering::SeqCst) > before
        ));
    });
}

/// Reports the socket options the server set, then reads a line that never comes.
struct Options;

impl StreamRequestHandler for Options {
    const TIMEOUT: Option<Duration> = Some(Duration::from_millis(40));
    const DISABLE_NAGLE_ALGORITHM: bool = true;

    fn handle(&self, request: &mut StreamRequest) -> io::Result<()> {
        let tcp = request.request.as_tcp().unwrap();
        writeln!(
            request.wfile,
            "{:?} {:?} {}",
            tcp.read_timeout()?,
            tcp.write_timeout()?,
            tcp.nodelay()?
        )?;
        let mut line = Vec::new();
        request.rfile.read_until(b'\n', &mut line)?;
        Ok(())
    }
}

// Mirrors test_socketserver: StreamRequestHandler.timeout and disable_nagle_algorithm (StreamRequestHandler.setup):
// both are set before the handler runs, and a read past the timeout fails and reaches handle_error.
#[test]
fn test_StreamRequestHandler_timeout_and_nagle() {
    let hooks = RecordingHooks::default();
    let record = hooks.record.clone();
    let mut server = TcpServer::new("127.0.0.1:0", Options).unwrap();
    server.set_hooks(hooks);
    let mut client = tcp_client(server.server_address().inet().unwrap());
    server.handle_request().unwrap();
    let mut reply = String::new();
    client.read_to_string(&mut reply).unwrap();
    assert_eq!(reply, "Some(40ms) Some(40ms) true\n");
    let errors = record.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("io: WouldBlock") || errors[0].starts_with("io: TimedOut"),
        "{errors:?}"
    );
}

// Mirrors test_socketserver: DatagramRequestHandler.finish, which sends wfile even when it is empty.
#[test]
fn test_DatagramRequestHandler_empty_reply() {
    struct Silent;
    impl DatagramRequestHandler for Silent {
        fn handle(&self, _request: &mut DatagramRequest) -> io::Result<()> {
            Ok(())
        }
    }
    let server = UdpServer::new("127.0.0.1:0", Silent).unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    client
        .send_to(TEST_STR, server.server_address().inet().unwrap())
        .unwrap();
    server.handle_request().unwrap();
    let mut buffer = [0u8; 64];
    let (length, from) = client.recv_from(&mut buffer).unwrap();
    assert_eq!(length, 0);
    assert_eq!(Some(from), server.server_address().inet());
}

// Mirrors test_socketserver: BaseRequestHandler.__init__'s try/finally, which runs finish() even when handle() raises.
#[test]
fn test_finish_runs_when_handle_fails() {
    struct Failing;
    impl StreamRequestHandler for Failing {
        fn handle(&self, _request: &mut StreamRequest) -> io::Result<()> {
            Err(io::Error::other("handle failed"))
        }
        fn finish(&self, request: &mut StreamRequest) -> io::Result<()> {
            request.wfile.write_all(b"finished\n")
        }
    }
    for (mode, poll) in [(Mode::Sync, true), (Mode::Threading, false)] {
        let hooks = RecordingHooks::default();
        let record = hooks.record.clone();
        let mut server =
            TcpServer::with_config("127.0.0.1:0", Failing, ServerConfig::with_mode(mode)).unwrap();
        server.set_hooks(hooks);
        let address = server.server_address().clone();
        let reply = if poll {
            let client = tcp_client(address.inet().unwrap());
            server.handle_request().unwrap();
            let mut reply = Vec::new();
            (&client).read_to_end(&mut reply).unwrap();
            reply
        } else {
            serve_while(&server, POLL_INTERVAL, || stream_examine(&address, b""))
        };
        assert_eq!(reply, b"finished\n", "{mode:?}");
        server.server_close();
        assert_eq!(record.errors(), ["io: Other: handle failed"], "{mode:?}");
    }
}

// Mirrors test_socketserver: TCPServer.shutdown_request, which shuts the write side and closes once the handler is done: the client sees EOF after the reply.
#[test]
fn test_shutdown_request_half_close() {
    struct Greeter;
    impl StreamRequestHandler for Greeter {
        fn handle(&self, request: &mut StreamRequest) -> io::Result<()> {
            request.wfile.write_all(b"hi\n")
        }
    }
    let server = TcpServer::new("127.0.0.1:0", Greeter).unwrap();
    let mut client = tcp_client(server.server_address().inet().unwrap());
    server.handle_request().unwrap();
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, b"hi\n");
}

// Mirrors test_socketserver: BaseRequestHandler.__init__'s try/finally for datagrams.
// DatagramRequestHandler.finish sends wfile, and finish runs even when handle raises, so the client still gets what was written.
#[test]
fn test_DatagramRequestHandler_reply_sent_when_handle_fails() {
    struct Partial;
    impl DatagramRequestHandler for Partial {
        fn handle(&self, request: &mut DatagramRequest) -> io::Result<()> {
            request.wfile.extend_from_slice(b"partial");
            Err(io::Error::other("handle failed"))
        }
    }
    let hooks = RecordingHooks::default();
    let record = hooks.record.clone();
    let mut server = UdpServer::new("127.0.0.1:0", Partial).unwrap();
    server.set_hooks(hooks);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    client
        .send_to(TEST_STR, server.server_address().inet().unwrap())
        .unwrap();
    server.handle_request().unwrap();
    let mut buffer = [0u8; 64];
    let (length, _) = client.recv_from(&mut buffer).expect("no reply");
    assert_eq!(&buffer[..length], b"partial");
    assert_eq!(record.errors(), ["io: Other: handle failed"]);
}

// Mirrors test_socketserver: BaseServer.serve_forever, which one thread at a time may run: a second caller is refused, not left to race.
#[test]
fn serve_forever_twice_is_refused() {
    let server = TcpServer::new("127.0.0.1:0", EchoLine).unwrap();
    let address = server.server_address().clone();
    serve_while(&server, POLL_INTERVAL, || {
        // The echo proves the first loop is running.
        assert_eq!(stream_examine(&address, TEST_STR), TEST_STR);
        let error = server.serve_forever(POLL_INTERVAL).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ResourceBusy);
        // The refusal did not disturb the running loop.
        assert_eq!(stream_examine(&address, TEST_STR), TEST_STR);
    });
}

// Mirrors test_socketserver: UDPServer.max_packet_size (recvfrom(max_packet_size) cuts longer packets).
#[test]
fn test_UDPServer_max_packet_size() {
    let config = ServerConfig {
        max_packet_size: 5,
        ..ServerConfig::default()
    };
    let server = UdpServer::with_config("127.0.0.1:0", EchoPacket, config).unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    client
        .send_to(TEST_STR, server.server_address().inet().unwrap())
        .unwrap();
    server.handle_request().unwrap();
    let mut buffer = [0u8; 64];
    let (length, _) = client.recv_from(&mut buffer).unwrap();
    assert_eq!(&buffer[..length], b"hello");
}

// Mirrors test_socketserver: the commented-out Unix datagram case ("recvfrom() doesn't return a meaningful client address"):
// a client that never bound its socket cannot be answered; that reaches handle_error and the server goes on.
#[test]
fn test_UnixDatagramServer_unnamed_client() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("server.sock");
    let hooks = RecordingHooks::default();
    let record = hooks.record.clone();
    let mut server = socketserver::UnixDatagramServer::new(&path, EchoPacket).unwrap();
    server.set_hooks(hooks);
    let unnamed = std::os::unix::net::UnixDatagram::unbound().unwrap();
    unnamed.send_to(TEST_STR, &path).unwrap();
    server.handle_request().unwrap();
    let errors = record.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("io: InvalidInput"), "{errors:?}");
    let address = server.server_address().clone();
    thread::scope(|scope| {
        let reply = scope.spawn(|| dgram_examine(&address, directory.path(), TEST_STR));
        server.handle_request().unwrap();
        assert_eq!(reply.join().unwrap(), TEST_STR);
    });
}

// Mirrors test_socketserver: MiscTestCase.test_shutdown_request_called_if_verify_request_false, for a datagram server:
// a refused packet gets no reply, and the next one is served.
#[test]
fn test_shutdown_request_called_if_verify_request_false_udp() {
    let hooks = RecordingHooks {
        refuse: true,
        ..RecordingHooks::default()
    };
    let record = hooks.record.clone();
    let mut server = UdpServer::new("127.0.0.1:0", EchoPacket).unwrap();
    server.set_hooks(hooks);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    client
        .send_to(TEST_STR, server.server_address().inet().unwrap())
        .unwrap();
    server.handle_request().unwrap();
    assert_eq!(record.shutdown_requests.load(Ordering::SeqCst), 1);
    let mut buffer = [0u8; 64];
    let silence = client.recv_from(&mut buffer).unwrap_err();
    assert!(matches!(
        silence.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    ));
}

// Mirrors test_socketserver: SocketServerTest.test_shutdown, for a pool whose worker is busy and whose queue is full:
// the serving loop waiting for room gives way to shutdown, and the request it held is closed.
#[test]
fn test_pool_shutdown_when_full() {
    let progress = Arc::new(Progress::default());
    let config = ServerConfig::with_mode(Mode::Pool {
        workers: 1,
        queue: 0,
    });
    let mut server = TcpServer::with_config("127.0.0.1:0", Held(progress.clone()), config).unwrap();
    let address = server.server_address().inet().unwrap();
    let mut busy = tcp_client(address);
    let mut waiting = tcp_client(address);
    let took = thread::scope(|scope| {
        let serving = scope.spawn(|| server.serve_forever(POLL_INTERVAL));
        assert!(wait_until(|| progress.started.load(Ordering::SeqCst) == 1));
        // Give the loop time to take the second connection and find no room for it.
        thread::sleep(Duration::from_millis(20));
        let started = Instant::now();
        server.shutdown();
        let took = started.elapsed();
        serving.join().unwrap().unwrap();
        took
    });
    assert!(took < Duration::from_millis(100), "shutdown took {took:?}");
    let mut nothing = Vec::new();
    assert_eq!(waiting.read_to_end(&mut nothing).unwrap(), 0);
    busy.write_all(TEST_STR).unwrap();
    server.server_close();
    let mut reply = Vec::new();
    busy.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, TEST_STR);
    assert_eq!(progress.started.load(Ordering::SeqCst), 1);
}
