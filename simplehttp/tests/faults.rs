//! Faults of clients against the real `simplehttp` binary: clients that leave mid-request-body, mid-response
//! (a file sent by sendfile(2), a multipart range answer), between kept-alive requests, or stop reading.
//!
//! Each test names the outcome it pins down. The common part: the connection is closed, the server logs what it could not finish,
//! goes back to the descriptors it held before the fault, and serves the next request at once.
//! Python's test_httpservers has no such tests (its server prints a traceback for a reset and goes on);
//! the outcomes follow RFC 9112 §9.6 (a connection may close at any time) and nginx ("client prematurely closed connection").

#[path = "faults/watch.rs"]
mod watch;

use std::fs;
use std::io::{Read, Write};
use std::net::Shutdown;
use std::process::Command;

use tempfile::TempDir;
use watch::{read_head, read_some, Cut, Server};

/// The size of the large file: far more than the socket buffers hold, so the server is still sending when the client leaves.
const BIG: u64 = 64 * 1024 * 1024;

/// A served directory with `a.txt` ("hello") and `big.bin` ([`BIG`] bytes, sparse).
fn site() -> TempDir {
    let directory = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    fs::write(directory.path().join("a.txt"), "hello")
        .unwrap_or_else(|error| panic!("write a.txt: {error}"));
    let big = fs::File::create(directory.path().join("big.bin"))
        .unwrap_or_else(|error| panic!("create big.bin: {error}"));
    big.set_len(BIG)
        .unwrap_or_else(|error| panic!("size big.bin: {error}"));
    directory
}

/// Starts `simplehttp` over `directory` as HTTP/1.1 (so connections are kept alive), with `extra` arguments,
/// and takes the descriptor baseline after one request.
fn serve(directory: &TempDir, extra: &[&str]) -> (Server, usize) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_simplehttp"));
    command
        .args(["0", "-b", "127.0.0.1", "-p", "HTTP/1.1"])
        .args(extra)
        .arg("-d")
        .arg(directory.path());
    let server = Server::start(command);
    assert_hello(&server);
    let baseline = server.baseline();
    (server, baseline)
}

/// A fresh request right after a fault is served whole: the server keeps serving.
fn assert_hello(server: &Server) {
    let answer = server.exchange("GET /a.txt HTTP/1.1\nHost: x\nConnection: close\n\n");
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(answer.ends_with("\r\n\r\nhello"), "{answer}");
}

/// Starts a GET of `big.bin` with `extra_headers`, reads its head and the first 64 KiB of its body.
fn start_big_download(server: &Server, extra_headers: &str) -> (std::net::TcpStream, String) {
    let mut stream = server.connect();
    write!(
        stream,
        "GET /big.bin HTTP/1.1\r\nHost: x\r\n{extra_headers}\r\n"
    )
    .unwrap_or_else(|error| panic!("send: {error}"));
    let head = read_head(&mut stream);
    read_some(&mut stream, 64 * 1024);
    (stream, head)
}

// Outcome: a client that leaves (FIN or reset) while a large file goes out by sendfile(2) fails the send;
// the server logs the cut body, closes the connection, keeps no descriptor, and serves the next request.
#[test]
fn client_leaves_during_a_sendfile_body() {
    let directory = site();
    let (server, baseline) = serve(&directory, &[]);
    for (times, cut) in [(1, Cut::Close), (2, Cut::Reset)] {
        let (stream, head) = start_big_download(&server, "");
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        assert!(
            head.contains(&format!("Content-Length: {BIG}\r\n")),
            "{head}"
        );
        cut.apply(stream);
        server.expect_log_times("Response cut short", times);
        server.assert_no_leaks(baseline, directory.path());
        assert_hello(&server);
    }
}

// Outcome: the same for a multipart/byteranges answer (RFC 9110 §14.6), written through the buffered writer, not sendfile(2).
#[test]
fn client_leaves_during_a_multipart_range_answer() {
    let directory = site();
    let (server, baseline) = serve(&directory, &[]);
    for (times, cut) in [(1, Cut::Close), (2, Cut::Reset)] {
        let (stream, head) =
            start_big_download(&server, "Range: bytes=0-19999999,30000000-59999999\r\n");
        assert!(head.starts_with("HTTP/1.1 206 "), "{head}");
        assert!(
            head.contains("Content-type: multipart/byteranges; boundary="),
            "{head}"
        );
        cut.apply(stream);
        server.expect_log_times("Response cut short", times);
        server.assert_no_leaks(baseline, directory.path());
        assert_hello(&server);
    }
}

// Outcome: a client that leaves in the middle of a request body (a Content-Length larger than what it sent,
// or a chunked body cut inside a chunk) gets its request answered (501: simplehttp has no POST or PUT, as Python),
// and then, the rest of the body never coming, the connection closed; nothing is read as a next request.
// The 501 is Python's for a method the handler lacks (test_httpservers: BaseHTTPServerTestCase.test_header_close);
// the cut body is not in Python.
#[test]
fn client_leaves_mid_request_body() {
    let directory = site();
    let (server, baseline) = serve(&directory, &[]);
    let requests = [
        "POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nonly a little",
        "PUT /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n400\r\ncut inside the chunk",
    ];
    for request in requests {
        // A half-close: the client can still read what the server answers before it closes.
        let mut stream = server.connect();
        stream
            .write_all(request.as_bytes())
            .unwrap_or_else(|error| panic!("send: {error}"));
        stream
            .shutdown(Shutdown::Write)
            .unwrap_or_else(|error| panic!("shutdown: {error}"));
        let mut answer = String::new();
        stream
            .read_to_string(&mut answer)
            .unwrap_or_else(|error| panic!("read: {error}"));
        assert!(answer.starts_with("HTTP/1.1 501 "), "{answer}");
        assert!(answer.contains("Connection: close\r\n"), "{answer}");

        for cut in [Cut::Close, Cut::Reset] {
            let mut stream = server.connect();
            stream
                .write_all(request.as_bytes())
                .unwrap_or_else(|error| panic!("send: {error}"));
            let head = read_head(&mut stream);
            assert!(head.starts_with("HTTP/1.1 501 "), "{head}");
            cut.apply(stream);
            server.assert_no_leaks(baseline, directory.path());
        }
    }
    server.expect_log("code 501");
    assert_hello(&server);
}

// Outcome: a client that leaves between two requests on a kept-alive connection, by FIN or reset, is an ordinary end:
// the connection is closed with no error logged, and nothing kept.
// Mirrors test_httpservers: BaseHTTPServerTestCase.test_header_keep_alive (an HTTP/1.1 kept-alive connection), then the client goes.
#[test]
fn client_leaves_between_kept_alive_requests() {
    let directory = site();
    let (server, baseline) = serve(&directory, &[]);
    for cut in [Cut::Close, Cut::Reset] {
        let mut stream = server.connect();
        stream
            .write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap_or_else(|error| panic!("send: {error}"));
        let head = read_head(&mut stream);
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        assert!(!head.contains("Connection: close"), "{head}");
        read_some(&mut stream, 5);
        cut.apply(stream);
        server.assert_no_leaks(baseline, directory.path());
    }
    assert_hello(&server);
    let log = server.log();
    for line in log.lines() {
        assert!(
            line.contains("\"GET /a.txt HTTP/1.1\" 200"),
            "unexpected log line {line:?} in:\n{log}"
        );
    }
}

// Outcome: a client that stops reading mid-response (and never leaves) is cut off by the write timeout (`--timeout`,
// here 0.3 s without progress; sendfile(2) waits that long per call, so it ends after a few of them):
// "Request timed out" is logged, the connection closed, nothing kept.
#[test]
fn client_that_stops_reading_is_timed_out() {
    let directory = site();
    let (server, baseline) = serve(&directory, &["--timeout", "0.3"]);
    let (mut stream, head) = start_big_download(&server, "");
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    server.expect_log("Request timed out");
    server.assert_no_leaks(baseline, directory.path());
    // What the server sent before it gave up is still readable, then the connection ends (FIN, or a reset for the unsent rest).
    let mut received = 0u64;
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => received += read as u64,
        }
    }
    assert!(received < BIG, "the whole file arrived after the timeout");
    assert_hello(&server);
}
