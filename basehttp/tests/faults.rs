//! Clients that leave in the middle of a request body or of a response, against a handler that reads bodies and writes large answers.
//!
//! Each test names the outcome it pins down: what is logged, that the connection is closed, and that the server keeps serving.
//! The descriptor and process checks run against the real binaries (`simplehttp/tests/faults.rs`, `cgihttp/tests/faults.rs`);
//! this file covers what those binaries cannot show: a hook that reads the body itself (Python's `rfile`).
//! Python's test_httpservers has no such tests; its handler would read a cut body as a short one.

mod support;

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use basehttp::{BaseHttpRequestHandler, HttpRequest};
use support::{connect, start, Client, Log};

/// The size of the large answer: more than the socket buffers hold, so the server is still writing when the client leaves.
const LARGE: usize = 64 * 1024 * 1024;

/// Reads the whole body and answers with its length (POST), or sends [`LARGE`] bytes (GET /large), or "ok"; logs into `log`.
struct Echo {
    log: Log,
}

impl BaseHttpRequestHandler for Echo {
    fn protocol_version(&self) -> &str {
        "HTTP/1.1"
    }

    fn do_get(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        let length = if req.path == "/large" { LARGE } else { 2 };
        req.send_response(200, None)?;
        req.send_header("Content-Length", &length.to_string())?;
        req.end_headers()?;
        if length == 2 {
            return req.wfile.write_all(b"ok");
        }
        let block = vec![b'x'; 64 * 1024];
        for _ in 0..LARGE / block.len() {
            req.wfile.write_all(&block)?;
        }
        Ok(())
    }

    fn do_post(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        let mut body = Vec::new();
        req.rfile.read_to_end(&mut body)?;
        let answer = body.len().to_string();
        req.send_response(200, None)?;
        req.send_header("Content-Length", &answer.len().to_string())?;
        req.end_headers()?;
        req.wfile.write_all(answer.as_bytes())
    }

    fn log_message(&self, _: &HttpRequest<'_>, message: std::fmt::Arguments<'_>) {
        self.log.push(message.to_string());
    }
}

/// How a test client leaves.
#[derive(Debug, Clone, Copy)]
enum Cut {
    Close,
    Reset,
}

fn cut(stream: TcpStream, how: Cut) {
    if let Cut::Reset = how {
        socket2::SockRef::from(&stream)
            .set_linger(Some(Duration::ZERO))
            .expect("SO_LINGER");
    }
    drop(stream);
}

/// Waits until a log line contains `needle`.
fn expect_log(log: &Log, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !log.lines().iter().any(|line| line.contains(needle)) {
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in the log: {:#?}",
            log.lines()
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// The server still answers on a new connection.
fn assert_serving(port: u16) {
    let mut client = Client::new(port);
    let response = client.request("POST /echo HTTP/1.1\nHost: x\nContent-Length: 5\n\nhello");
    assert_eq!(response.status(), 200);
    assert_eq!(response.body, b"5");
}

const CUT_BODIES: [&str; 2] = [
    "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nonly a little",
    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n400\r\ncut inside the chunk",
];

// Outcome: a body that ends early (the client half-closes after part of a Content-Length or chunked body)
// is a bad request: the hook's read fails, "Bad request body" is logged, 400 is answered and the connection closed.
#[test]
fn body_cut_by_a_half_close_gets_400_and_a_close() {
    let log = Log::default();
    let server = start(Echo { log: log.clone() });
    for request in CUT_BODIES {
        let mut stream = connect(server.port);
        stream.write_all(request.as_bytes()).expect("send");
        stream.shutdown(Shutdown::Write).expect("shutdown");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("read");
        assert!(
            answer.starts_with("HTTP/1.1 400 Bad request body\r\n"),
            "{answer}"
        );
        assert!(answer.contains("Connection: close\r\n"), "{answer}");
    }
    expect_log(
        &log,
        "Bad request body: connection closed inside the request body",
    );
    assert_serving(server.port);
}

// Outcome: a client that closes or resets the connection in the middle of a body has the cut logged
// ("Bad request body", a reset reads as a cut too), its connection closed, and the server keeps serving.
#[test]
fn client_leaves_mid_request_body() {
    for how in [Cut::Close, Cut::Reset] {
        for request in CUT_BODIES {
            let log = Log::default();
            let server = start(Echo { log: log.clone() });
            let mut stream = connect(server.port);
            stream.write_all(request.as_bytes()).expect("send");
            // Let the hook start reading before the client goes.
            thread::sleep(Duration::from_millis(50));
            cut(stream, how);
            let expected = match how {
                Cut::Close => "Bad request body: connection closed inside the request body",
                Cut::Reset => "Bad request body: connection reset inside the request body",
            };
            expect_log(&log, expected);
            assert_serving(server.port);
        }
    }
}

// Outcome: a client that leaves while a large answer is written fails the write: the connection is closed
// (the hook's error ends it; nothing else is attempted on it) and the server keeps serving.
#[test]
fn client_leaves_mid_response() {
    let log = Log::default();
    let server = start(Echo { log: log.clone() });
    for how in [Cut::Close, Cut::Reset] {
        let mut stream = connect(server.port);
        stream
            .write_all(b"GET /large HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("send");
        let mut first = vec![0u8; 64 * 1024];
        stream.read_exact(&mut first).expect("read");
        assert!(first.starts_with(b"HTTP/1.1 200 "));
        cut(stream, how);
        assert_serving(server.port);
    }
    expect_log(&log, "\"GET /large HTTP/1.1\" 200 -");
}
