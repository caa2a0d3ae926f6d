//! Running as a service (none of it in Python): the graceful stop of the threading mode, connections refused,
//! systemd's socket activation variables, and several processes kept running by a parent.

mod common;

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use socketserver::{Address, Mode, ServerConfig, StreamRequest, StreamRequestHandler, TcpServer};

/// Reads one line, waits as long as its first byte says (in tenths of a second), then answers "done".
#[derive(Debug)]
struct Slow;

impl StreamRequestHandler for Slow {
    fn handle(&self, request: &mut StreamRequest) -> io::Result<()> {
        let mut first = [0; 1];
        request.request.read_exact(&mut first)?;
        thread::sleep(Duration::from_millis(100 * u64::from(first[0] - b'0')));
        request.request.write_all(b"done")
    }
}

fn threading_server() -> (TcpServer, std::net::SocketAddr) {
    let server = TcpServer::with_config(
        "127.0.0.1:0",
        Slow,
        ServerConfig::with_mode(Mode::Threading),
    )
    .unwrap();
    let Address::Inet(address) = server.server_address().clone() else {
        panic!("not an Internet address")
    };
    (server, address)
}

#[test]
fn drain_waits_for_a_request_thread() {
    let (mut server, address) = threading_server();
    let mut client = serve_while(&server, POLL_INTERVAL, || {
        let mut client = tcp_client(address);
        client.write_all(b"3").unwrap();
        // The request's thread has started once the server counts the connection.
        thread::sleep(Duration::from_millis(50));
        client
    });
    let started = Instant::now();
    assert!(server.drain(Some(Duration::from_secs(5))));
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "{:?}",
        started.elapsed()
    );
    let mut answer = String::new();
    client.read_to_string(&mut answer).unwrap();
    assert_eq!(answer, "done");
}

#[test]
fn drain_gives_up_on_a_request_thread_at_its_deadline() {
    let (mut server, address) = threading_server();
    let _client = serve_while(&server, POLL_INTERVAL, || {
        let mut client = tcp_client(address);
        client.write_all(b"9").unwrap();
        thread::sleep(Duration::from_millis(50));
        client
    });
    let started = Instant::now();
    assert!(!server.drain(Some(Duration::from_millis(100))));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(100) && took < Duration::from_millis(700),
        "{took:?}"
    );
}

#[test]
fn refused_connections_are_counted() {
    let (mut server, address) = threading_server();
    server.set_hooks(RecordingHooks {
        refuse: true,
        ..RecordingHooks::default()
    });
    let before = socketserver::server_stats();
    serve_while(&server, POLL_INTERVAL, || {
        for _ in 0..3 {
            let mut client = tcp_client(address);
            let mut rest = Vec::new();
            let _ = client.read_to_end(&mut rest);
        }
        assert!(wait_until(|| socketserver::server_stats().refused
            - before.refused
            == 3));
    });
    let after = socketserver::server_stats();
    assert_eq!(after.accepted - before.accepted, 3);
}

// Variables meant for another process, or none, take nothing; a bad count is an error that names it; the variables go once read.
#[test]
fn socket_activation_variables() {
    std::env::remove_var("LISTEN_PID");
    std::env::remove_var("LISTEN_FDS");
    assert!(socketserver::listen_fds().unwrap().is_empty());

    std::env::set_var("LISTEN_PID", "1");
    std::env::set_var("LISTEN_FDS", "1");
    assert!(socketserver::listen_fds().unwrap().is_empty());
    assert_eq!(
        std::env::var("LISTEN_FDS").as_deref(),
        Ok("1"),
        "not ours: left alone"
    );

    std::env::set_var("LISTEN_PID", std::process::id().to_string());
    std::env::set_var("LISTEN_FDS", "many");
    let error = socketserver::listen_fds().unwrap_err().to_string();
    assert!(error.contains("LISTEN_FDS=many"), "{error}");
    assert!(std::env::var("LISTEN_FDS").is_err(), "removed once read");
    assert!(std::env::var("LISTEN_PID").is_err(), "removed once read");

    std::env::set_var("LISTEN_PID", std::process::id().to_string());
    std::env::set_var("LISTEN_FDS", "0");
    assert!(socketserver::listen_fds().unwrap().is_empty());
}

/// Where the children of [`supervised_children_are_restarted`] write their pids.
fn pids_in(directory: &std::path::Path) -> Vec<u32> {
    std::fs::read_dir(directory)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| !stat.contains(") Z "))
}

// Each child of `supervise` runs the function given; one that is killed is replaced, SIGHUP is passed on, and
// `terminate` stops and reaps them all.
#[test]
fn supervised_children_are_restarted() {
    static TERMINATE: AtomicBool = AtomicBool::new(false);
    static HANG_UP: AtomicBool = AtomicBool::new(false);
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().to_owned();
    let watcher = thread::spawn(move || {
        assert!(wait_until(|| pids_in(&path).len() == 2), "two children");
        let first = pids_in(&path);
        let status = std::process::Command::new("kill")
            .args(["-KILL", &first[0].to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        assert!(wait_until(|| pids_in(&path).len() == 3), "a replacement");
        // The children ignore nothing: SIGHUP's default ends them, so passing it on shows as more replacements.
        HANG_UP.store(true, Ordering::SeqCst);
        assert!(
            wait_until(|| pids_in(&path).len() == 5),
            "SIGHUP reached both"
        );
        TERMINATE.store(true, Ordering::SeqCst);
        pids_in(&path)
    });
    let supervision = socketserver::Supervision {
        processes: 2,
        terminate: &TERMINATE,
        hang_up: &HANG_UP,
        grace: Some(Duration::from_secs(2)),
    };
    let directory_path = directory.path().to_owned();
    socketserver::supervise(supervision, &mut |_| {
        let _ = std::fs::write(directory_path.join(std::process::id().to_string()), "");
        loop {
            thread::sleep(Duration::from_secs(1));
        }
    })
    .unwrap();
    let pids = watcher.join().unwrap();
    assert_eq!(pids.len(), 5, "{pids:?}");
    for pid in pids {
        assert!(!alive(pid), "{pid} still runs");
    }
}

/// Runs this test binary's `test` in a child that gets `socket` as descriptor 3, with `LISTEN_FDS=1` and `LISTEN_PID` its own pid,
/// as systemd starts a service; whether the child's test passed.
fn run_activated(test: &str, socket: std::os::fd::OwnedFd) -> bool {
    std::process::Command::new("sh")
        .args([
            "-c",
            "exec 3<&0 0</dev/null; export LISTEN_PID=$$ LISTEN_FDS=1; exec \"$0\" \"$@\"",
        ])
        .arg(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture"])
        .env("ACTIVATED_CHILD", "1")
        .stdin(std::process::Stdio::from(socket))
        .status()
        .unwrap()
        .success()
}

// The child half of `socket_activation_takes_only_listening_sockets`: listen_fds must take descriptor 3 as a listener.
#[test]
fn activated_child_with_a_listener() {
    if std::env::var_os("ACTIVATED_CHILD").is_none() {
        return;
    }
    let taken = socketserver::listen_fds().unwrap();
    assert_eq!(taken.len(), 1);
    let listener = std::net::TcpListener::from(taken.into_iter().next().unwrap());
    assert!(listener.local_addr().is_ok());
    assert!(socketserver::listen_fds().unwrap().is_empty(), "taken once");
}

// The child half for a socket that does not listen: refused with the descriptor named.
#[test]
fn activated_child_with_a_connected_socket() {
    if std::env::var_os("ACTIVATED_CHILD").is_none() {
        return;
    }
    let error = socketserver::listen_fds().unwrap_err().to_string();
    assert!(error.contains("descriptor 3"), "{error}");
}

#[test]
fn socket_activation_takes_only_listening_sockets() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let connected = std::net::TcpStream::connect(address).unwrap();
    assert!(run_activated(
        "activated_child_with_a_listener",
        std::os::fd::OwnedFd::from(listener)
    ));
    assert!(run_activated(
        "activated_child_with_a_connected_socket",
        std::os::fd::OwnedFd::from(connected)
    ));
}
