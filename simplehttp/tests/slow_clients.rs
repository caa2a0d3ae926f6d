//! Slow and stalled clients against the `simplehttp` command: what they cost the server, and that others are still served.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use common::Command;

/// A served directory with a small file and an 8 MiB one.
fn tree() -> tempfile::TempDir {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(directory.path().join("a.txt"), "hello").unwrap();
    std::fs::write(directory.path().join("big.bin"), vec![7u8; 8 << 20]).unwrap();
    directory
}

/// A client with a small receive buffer, so the server's sends fill up after a few hundred KiB.
fn small_window_client(port: u16) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket
        .connect(&std::net::SocketAddr::from(([127, 0, 0, 1], port)).into())
        .unwrap();
    socket.into()
}

/// One GET of `/a.txt` on a fresh connection; the time it took, or `None` when no whole answer came within `limit`.
fn fresh_get(port: u16, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(limit)).ok()?;
    stream
        .write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    answer
        .ends_with(b"\r\n\r\nhello")
        .then(|| started.elapsed())
}

// Not in Python: two clients that each stall a connection (a download never read, a request body trickled a byte a second),
// then a quiet spell longer than a spare worker lingers: a fresh request is still answered at once.
#[test]
fn two_stalled_clients_and_a_quiet_spell_do_not_stop_the_server() {
    let directory = tree();
    let server = Command::start(directory.path(), &["--workers", "2"], Stdio::null());
    let port = server.port;

    let mut download = small_window_client(port);
    download
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut trickle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    trickle
        .write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\nx")
        .unwrap();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let trickler = thread::spawn({
        let done = done.clone();
        move || {
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(1000));
                if trickle.write_all(b"x").is_err() {
                    break;
                }
            }
        }
    });
    assert!(fresh_get(port, Duration::from_secs(2)).is_some());
    thread::sleep(Duration::from_millis(5500));
    let waited = fresh_get(port, Duration::from_secs(2));
    assert!(
        waited.is_some_and(|waited| waited < Duration::from_secs(1)),
        "a fresh GET after the quiet spell: {waited:?}"
    );
    drop(download);
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    trickler.join().unwrap();
}
