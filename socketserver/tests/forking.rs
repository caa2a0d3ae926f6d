//! CPython's test_socketserver for the forking mode (ForkingMixIn), in a test process of its own.
//!
//! fork(2) copies only the forking thread: a lock another thread holds at that moment stays locked forever in the child.
//! libtest runs tests on several threads and prints results from its main thread, so these tests use their own small harness
//! (`harness = false`): each test runs on the main thread, one at a time, and nothing prints while a server forks.
//! After every test the process must have no child left, zombie or not.

// Tests keep CPython's names, such as test_ForkingTCPServer, so they can be found from the Python suite.
#![allow(non_snake_case)]

mod common;

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use socketserver::{Address, HandlerError, Mode, ServerConfig, ServerHooks, TcpServer};

// Mirrors test_socketserver: SocketServerTest.test_ForkingTCPServer
fn test_ForkingTCPServer() {
    check_echo(Proto::Tcp, Mode::Forking);
}

// Mirrors test_socketserver: SocketServerTest.test_ForkingUDPServer
fn test_ForkingUDPServer() {
    check_echo(Proto::Udp, Mode::Forking);
}

// Mirrors test_socketserver: SocketServerTest.test_ForkingUnixStreamServer
fn test_ForkingUnixStreamServer() {
    check_echo(Proto::UnixStream, Mode::Forking);
}

// Mirrors test_socketserver: SocketServerTest.test_ForkingUnixDatagramServer
fn test_ForkingUnixDatagramServer() {
    check_echo(Proto::UnixDatagram, Mode::Forking);
}

/// `handle_error` runs in the child, so it reports through a file: one line per call, with the reporting process's id.
struct FileHooks {
    path: PathBuf,
}

impl ServerHooks for FileHooks {
    fn handle_error(&self, _client_address: &Address, error: &HandlerError) {
        let line = format!("{} {}\n", std::process::id(), describe(error));
        // One short write to a file opened for appending lands whole.
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .unwrap();
        file.write_all(line.as_bytes()).unwrap();
    }
}

fn check_forking_handled(trigger: &[u8], expected: &str) {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("errors");
    let mut server = TcpServer::with_config(
        "127.0.0.1:0",
        FailOnRequest,
        ServerConfig::with_mode(Mode::Forking),
    )
    .unwrap();
    server.set_hooks(FileHooks { path: path.clone() });
    let address = server.server_address().clone();
    serve_while(&server, POLL_INTERVAL, || fail_then_echo(&address, trigger));
    server.server_close();
    assert_eq!(server.active_requests(), 0);
    let report = fs::read_to_string(&path).expect("handle_error wrote nothing");
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 1, "{report}");
    let (pid, description) = lines[0].split_once(' ').unwrap();
    assert_ne!(
        pid.parse::<u32>().unwrap(),
        std::process::id(),
        "handle_error ran in the child"
    );
    assert!(description.starts_with(expected), "{report}");
}

// Mirrors test_socketserver: ErrorHandlerTest.test_forking_handled
fn test_forking_handled() {
    check_forking_handled(b"error\n", "io: Other: requested error");
}

// Mirrors test_socketserver: ErrorHandlerTest.test_forking_not_handled.
// Python's uncaught BaseException becomes a panic here, and the child hands it to handle_error too; the parent keeps serving.
fn test_forking_not_handled() {
    check_forking_handled(b"panic\n", "panic: requested panic");
}

fn reply(mut client: TcpStream) -> Vec<u8> {
    client.write_all(TEST_STR).unwrap();
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).unwrap();
    reply
}

// Mirrors test_socketserver: ForkingMixIn.max_children (CPython has no test of its own; collect_children blocks at the limit):
// with max_children = 2 a third client waits until the oldest child ends, and then is served.
fn test_forking_max_children() {
    let config = ServerConfig {
        max_children: 2,
        ..ServerConfig::with_mode(Mode::Forking)
    };
    let mut server = TcpServer::with_config("127.0.0.1:0", EchoLine, config).unwrap();
    let address = server.server_address().inet().unwrap();
    serve_while(&server, POLL_INTERVAL, || {
        let mut clients: Vec<Option<TcpStream>> =
            (0..3).map(|_| Some(tcp_client(address))).collect();
        assert!(wait_until(|| child_processes().len() == 2));
        thread::sleep(Duration::from_millis(50));
        assert_eq!(child_processes().len(), 2, "a third child started");
        // The oldest request ends, making room for the third client's child.
        assert_eq!(reply(clients[0].take().unwrap()), TEST_STR);
        assert_eq!(reply(clients[2].take().unwrap()), TEST_STR);
        assert!(child_processes().len() <= 2);
        assert_eq!(reply(clients[1].take().unwrap()), TEST_STR);
    });
    server.server_close();
    assert_eq!(server.active_requests(), 0);
}

// Mirrors test_socketserver: SocketServerTest.test_shutdown, for a forking server waiting at max_children:
// shutdown() must not wait for a child to end (Python blocks in waitpid here), as the pool mode does not wait for queue room.
fn test_forking_shutdown_at_max_children() {
    let config = ServerConfig {
        max_children: 1,
        ..ServerConfig::with_mode(Mode::Forking)
    };
    let mut server = TcpServer::with_config("127.0.0.1:0", EchoLine, config).unwrap();
    let address = server.server_address().inet().unwrap();
    let held = tcp_client(address);
    let release = held.try_clone().unwrap();
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let took = thread::scope(|scope| {
        // Should shutdown wait for the child after all, release it after a while so the test fails instead of hanging.
        scope.spawn(move || {
            let _ = finished.recv_timeout(Duration::from_secs(2));
            let _ = (&release).write_all(TEST_STR);
        });
        let serving = scope.spawn(|| server.serve_forever(POLL_INTERVAL));
        assert!(wait_until(|| child_processes().len() == 1));
        // A second client while the only child slot is taken: the loop waits for room.
        let _waiting = tcp_client(address);
        thread::sleep(Duration::from_millis(20));
        let started = Instant::now();
        server.shutdown();
        let took = started.elapsed();
        let _ = done.send(());
        serving.join().unwrap().unwrap();
        took
    });
    eprintln!("shutdown at max_children took {took:?}");
    assert!(
        took < Duration::from_millis(100),
        "shutdown waited {took:?} for a child to end"
    );
    assert_eq!(reply(held), TEST_STR);
    server.server_close();
    assert_eq!(server.active_requests(), 0);
}

// Mirrors test_socketserver: BaseServer.service_actions, for a forking server waiting at max_children:
// the hook still runs every poll interval, so one that stops the server (on a signal, say) is heard.
fn test_forking_service_actions_at_max_children() {
    let config = ServerConfig {
        max_children: 1,
        ..ServerConfig::with_mode(Mode::Forking)
    };
    let hooks = RecordingHooks::default();
    let record = hooks.record.clone();
    let mut server = TcpServer::with_config("127.0.0.1:0", EchoLine, config).unwrap();
    server.set_hooks(hooks);
    let address = server.server_address().inet().unwrap();
    let held = tcp_client(address);
    serve_while(&server, Duration::from_millis(10), || {
        assert!(wait_until(|| child_processes().len() == 1));
        let _waiting = tcp_client(address);
        thread::sleep(Duration::from_millis(20));
        let before = record.service_actions.load(Ordering::SeqCst);
        assert!(wait_until(
            || record.service_actions.load(Ordering::SeqCst) >= before + 3
        ));
    });
    assert_eq!(reply(held), TEST_STR);
    server.server_close();
}

fn held_connection() -> (TcpServer, TcpStream) {
    let server = TcpServer::with_config(
        "127.0.0.1:0",
        EchoLine,
        ServerConfig::with_mode(Mode::Forking),
    )
    .unwrap();
    let client = tcp_client(server.server_address().inet().unwrap());
    serve_while(&server, POLL_INTERVAL, || {
        assert!(wait_until(|| server.active_requests() == 1));
    });
    (server, client)
}

// Mirrors test_socketserver: ForkingMixIn.block_on_close (SocketServerTest's reap_children check): server_close waits for the child.
fn test_forking_block_on_close() {
    let (mut server, client) = held_connection();
    let closed = AtomicBool::new(false);
    let echoed = thread::scope(|scope| {
        let closing = scope.spawn(|| {
            server.server_close();
            closed.store(true, Ordering::SeqCst);
        });
        thread::sleep(Duration::from_millis(50));
        assert!(
            !closed.load(Ordering::SeqCst),
            "server_close returned while a child was serving"
        );
        let echoed = reply(client);
        closing.join().unwrap();
        echoed
    });
    assert_eq!(echoed, TEST_STR);
    assert_eq!(server.active_requests(), 0);
}

// Mirrors test_socketserver: SocketServerTest's tearDown reap_children, through terminate_children (not in Python):
// a child held by a client that never sends is ended, reaped, and its connection closed.
fn test_forking_terminate_children() {
    let (mut server, mut client) = held_connection();
    let started = Instant::now();
    server.terminate_children(Duration::from_millis(500));
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(server.active_requests(), 0);
    let mut rest = Vec::new();
    assert!(matches!(client.read_to_end(&mut rest), Ok(0) | Err(_)));
    server.server_close();
}

type Test = (&'static str, fn());

const TESTS: &[Test] = &[
    ("test_ForkingTCPServer", test_ForkingTCPServer),
    ("test_ForkingUDPServer", test_ForkingUDPServer),
    ("test_ForkingUnixStreamServer", test_ForkingUnixStreamServer),
    (
        "test_ForkingUnixDatagramServer",
        test_ForkingUnixDatagramServer,
    ),
    ("test_forking_handled", test_forking_handled),
    ("test_forking_not_handled", test_forking_not_handled),
    ("test_forking_max_children", test_forking_max_children),
    (
        "test_forking_shutdown_at_max_children",
        test_forking_shutdown_at_max_children,
    ),
    (
        "test_forking_service_actions_at_max_children",
        test_forking_service_actions_at_max_children,
    ),
    ("test_forking_block_on_close", test_forking_block_on_close),
    (
        "test_forking_terminate_children",
        test_forking_terminate_children,
    ),
];

/// libtest's options that take a value, so the value is not mistaken for a filter.
const OPTIONS_WITH_VALUE: &[&str] = &[
    "--test-threads",
    "--skip",
    "--color",
    "--format",
    "--logfile",
    "-Z",
];

fn main() -> ExitCode {
    let mut filters = Vec::new();
    let mut skips = Vec::new();
    let mut list = false;
    let mut exact = false;
    // nextest asks for the ignored tests with a second `--list --ignored`; this harness has none.
    let mut only_ignored = false;
    let mut arguments = std::env::args().skip(1);
    while let Some(argument) = arguments.next() {
        if argument == "--list" {
            list = true;
        } else if argument == "--ignored" {
            only_ignored = true;
        } else if argument == "--exact" {
            exact = true;
        } else if argument == "--skip" {
            skips.extend(arguments.next());
        } else if OPTIONS_WITH_VALUE.contains(&argument.as_str()) {
            arguments.next();
        } else if !argument.starts_with('-') {
            filters.push(argument);
        }
    }
    let matches = |name: &str, pattern: &String| {
        if exact {
            name == pattern
        } else {
            name.contains(pattern.as_str())
        }
    };
    let selected: Vec<&Test> = TESTS
        .iter()
        .filter(|_| !only_ignored)
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| matches(name, f)))
        .filter(|(name, _)| !skips.iter().any(|skip| name.contains(skip.as_str())))
        .collect();
    if list {
        for (name, _) in &selected {
            println!("{name}: test");
        }
        return ExitCode::SUCCESS;
    }
    // The handlers' requested panics are expected: keep them out of the output (and away from stderr's lock in the child).
    let report_panic = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&"requested panic") {
            report_panic(info);
        }
    }));
    println!("\nrunning {} tests, one at a time", selected.len());
    let mut failed = Vec::new();
    let started = Instant::now();
    for (name, test) in &selected {
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            test();
            let left = child_processes();
            assert!(left.is_empty(), "child processes left: {left:?}");
        }));
        match outcome {
            Ok(()) => println!("test {name} ... ok"),
            Err(_) => {
                println!("test {name} ... FAILED");
                failed.push(*name);
            }
        }
    }
    let result = if failed.is_empty() { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {result}. {} passed; {} failed; 0 ignored; 0 measured; {} filtered out; finished in {:.2}s\n",
        selected.len() - failed.len(),
        failed.len(),
        TESTS.len() - selected.len(),
        started.elapsed().as_secs_f64()
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        println!("failures:\n    {}", failed.join("\n    "));
        ExitCode::FAILURE
    }
}
