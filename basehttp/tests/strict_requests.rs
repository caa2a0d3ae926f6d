//! Socket tests of what the head parser and the body readers refuse or accept beyond Python:
//! a total head limit, request-target bytes, absolute-form targets, Host, a leading empty line,
//! chunk extensions, the body size limit, and bare-LF or mixed line endings.

mod support;

use std::fmt;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use basehttp::{BaseHttpRequestHandler, HttpRequest, Limits};
use support::{exchange, exchange_raw, start, Client};

/// An HTTP/1.1 handler answering `<path> <host>` to GET and echoing a POST's body, both with a Content-Length.
struct Strict {
    limits: Limits,
}

impl Strict {
    fn new() -> Self {
        Strict {
            limits: Limits::default(),
        }
    }

    fn with(limits: Limits) -> Self {
        Strict { limits }
    }
}

fn reply(req: &mut HttpRequest<'_>, body: &[u8]) -> io::Result<()> {
    req.send_response(200, None)?;
    req.send_header("Content-Length", &body.len().to_string())?;
    req.end_headers()?;
    req.wfile.write_all(body)
}

impl BaseHttpRequestHandler for Strict {
    fn protocol_version(&self) -> &str {
        "HTTP/1.1"
    }

    fn limits(&self) -> Limits {
        self.limits
    }

    fn do_get(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        let body = format!(
            "{} {}",
            req.path,
            req.headers.get("Host").unwrap_or("(none)")
        );
        reply(req, body.as_bytes())
    }

    fn do_post(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        let mut body = Vec::new();
        req.rfile.read_to_end(&mut body)?;
        reply(req, &body)
    }

    fn do_method(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        let mut body = Vec::new();
        req.rfile.read_to_end(&mut body)?;
        body.extend_from_slice(b" read by another method");
        reply(req, &body)
    }

    fn log_message(&self, _req: &HttpRequest<'_>, _message: fmt::Arguments<'_>) {}
}

fn status_line(response: &str) -> &str {
    response.lines().next().unwrap_or("")
}

/// Reads what the server sends until it closes or `wait` passes, to see an answer that comes before the client is done.
fn read_for(stream: &mut std::net::TcpStream, wait: Duration) -> String {
    stream.set_read_timeout(Some(wait)).expect("timeout");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

#[test]
fn head_over_the_total_limit_gets_431_before_it_ends() {
    let server = start(Strict::new());
    // Header lines each far below Python's 64 KiB, 40 KiB in all, and no blank line: the answer must not wait for one.
    let mut stream = support::connect(server.port);
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .expect("send");
    let line = format!("X-Filler: {}\r\n", "f".repeat(1000));
    for _ in 0..40 {
        if stream.write_all(line.as_bytes()).is_err() {
            break;
        }
    }
    let started = Instant::now();
    let response = read_for(&mut stream, Duration::from_secs(5));
    assert!(
        response.starts_with("HTTP/1.1 431 Request header fields too large\r\n"),
        "{response}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the refusal waited"
    );
    // One header line that never ends is refused too, once the head passes 32 KiB, long before the line's own 64 KiB.
    let mut stream = support::connect(server.port);
    stream
        .write_all(
            format!(
                "GET / HTTP/1.1\r\nHost: x\r\nX-Endless: {}",
                "e".repeat(40 * 1024)
            )
            .as_bytes(),
        )
        .expect("send");
    let response = read_for(&mut stream, Duration::from_secs(5));
    assert!(
        response.starts_with("HTTP/1.1 431 Request header fields too large\r\n"),
        "{response}"
    );
    // A head of 32 KiB and less is served.
    let filler = "f".repeat(32 * 1024 - 62);
    let response = exchange(
        server.port,
        &format!("GET /fits HTTP/1.1\nHost: x\nConnection: close\nX-Filler: {filler}\n\n"),
    );
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
}

#[test]
fn head_limit_is_settable_and_counts_every_line() {
    let limits = Limits {
        max_head_size: 200,
        ..Limits::default()
    };
    let server = start(Strict::with(limits));
    let head = |filler: usize| {
        format!(
            "GET /a HTTP/1.1\r\nHost: x\r\nX: {}\r\nConnection: close\r\n\r\n",
            "v".repeat(filler)
        )
    };
    // 26 bytes of request line and Host, 5 + filler of X, 19 of Connection, 2 of blank line.
    let exact = head(200 - 52);
    assert_eq!(exact.len(), 200);
    let response = exchange_raw(server.port, exact.as_bytes());
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    let over = head(200 - 51);
    let response = exchange_raw(server.port, over.as_bytes());
    assert!(response.starts_with("HTTP/1.1 431 "), "{response}");
    // A request line longer than the whole limit is a long URI.
    let long = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "u".repeat(200));
    let response = exchange_raw(server.port, long.as_bytes());
    assert!(
        response.starts_with("HTTP/1.1 414 URI Too Long"),
        "{response}"
    );
}

#[test]
fn request_targets_with_bytes_uris_do_not_allow_get_400() {
    let server = start(Strict::new());
    for target in [
        &b"/cgi-bin/env.sh#/../.."[..],
        b"/a\"b",
        b"/a<b>",
        b"/a\\b",
        b"/a^b",
        b"/a`b",
        b"/a{b}",
        b"/a|b",
        b"/a\x01b",
        b"/a\x7fb",
        b"/caf\xc3\xa9",
        b"/a\tb",
    ] {
        let mut request = b"GET ".to_vec();
        request.extend_from_slice(target);
        request.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\n\r\n");
        let response = exchange_raw(server.port, &request);
        assert!(
            response.starts_with("HTTP/1.1 400 Bad request target\r\n"),
            "{:?}: {response}",
            String::from_utf8_lossy(target)
        );
    }
    let response = exchange(
        server.port,
        "GET /a-z_0.9~!$&'()*+,;=:@%20[]?q=/? HTTP/1.1\nHost: x\nConnection: close\n\n",
    );
    assert!(
        response.ends_with("\r\n\r\n/a-z_0.9~!$&'()*+,;=:@%20[]?q=/? x"),
        "{response}"
    );
}

#[test]
fn absolute_form_is_served_with_its_authority_as_the_host() {
    let server = start(Strict::new());
    let port = server.port;
    let mut client = Client::new(port);
    let response = client.request(&format!(
        "GET http://127.0.0.1:{port}/file?x=1 HTTP/1.1\nHost: something.else\n\n"
    ));
    assert_eq!(response.status(), 200);
    assert_eq!(
        String::from_utf8_lossy(&response.body),
        format!("/file?x=1 127.0.0.1:{port}")
    );
    let response = client.request("GET HTTP://Example.ORG HTTP/1.1\nHost: example.org\n\n");
    assert_eq!(response.body, b"/ Example.ORG");
    let response = client.request("GET http://h//other.example/x HTTP/1.1\nHost: h\n\n");
    assert_eq!(response.body, b"/other.example/x h");
    for bad in ["http:///x", "http://user@h/x", "http://h:port/x"] {
        let response = exchange(server.port, &format!("GET {bad} HTTP/1.1\nHost: h\n\n"));
        assert!(
            response.starts_with("HTTP/1.1 400 Bad request target"),
            "{bad}: {response}"
        );
    }
}

#[test]
fn host_is_required_single_and_valid() {
    let server = start(Strict::new());
    for (request, status) in [
        ("GET / HTTP/1.1\n", "HTTP/1.1 400 Missing Host header"),
        (
            "GET / HTTP/1.1\nHost: a\nHost: a\n",
            "HTTP/1.1 400 Several Host headers",
        ),
        (
            "GET / HTTP/1.0\nHost: a\nhost: b\n",
            "HTTP/1.1 400 Several Host headers",
        ),
        (
            "GET / HTTP/1.1\nHost: a b\n",
            "HTTP/1.1 400 Invalid Host header",
        ),
        ("GET / HTTP/1.1\nHost: a,b\n", "HTTP/1.1 200 OK"),
        ("GET / HTTP/1.1\nHost: [::1]:8080\n", "HTTP/1.1 200 OK"),
        ("GET / HTTP/1.1\nHost:\n", "HTTP/1.1 200 OK"),
        ("GET / HTTP/1.0\n", "HTTP/1.1 200 OK"),
    ] {
        let response = exchange(server.port, &format!("{request}Connection: close\n\n"));
        assert_eq!(status_line(&response), status, "{request:?}");
    }
}

#[test]
fn one_empty_line_before_a_request_is_ignored() {
    let server = start(Strict::new());
    for request in [
        &b"\r\nGET /crlf HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"[..],
        b"\nGET /lf HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ] {
        let response = exchange_raw(server.port, request);
        assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    }
    // The usual source: a CRLF sent after a POST body, before the next request on the connection.
    let mut client = Client::new(server.port);
    let echoed = client.request("POST /p HTTP/1.1\nHost: x\nContent-Length: 2\n\nok\n");
    assert_eq!(echoed.body, b"ok");
    let next = client.request("GET /next HTTP/1.1\nHost: x\n\n");
    assert_eq!(next.body, b"/next x");
    // More than one is an empty request line: closed without an answer, as Python does.
    for request in [
        &b"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"\n\n\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
    ] {
        assert_eq!(exchange_raw(server.port, request), "");
    }
}

#[test]
fn chunk_extensions_outside_the_grammar_are_refused() {
    let server = start(Strict::new());
    for extension in [
        &b";a\rb"[..],
        b";a=b\r",
        b";a=\"x\0\"",
        b";",
        b";a=",
        b";a b",
    ] {
        let mut request =
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5".to_vec();
        request.extend_from_slice(extension);
        request.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
        let response = exchange_raw(server.port, &request);
        assert!(
            response.starts_with("HTTP/1.1 400 Bad request body\r\n"),
            "{:?}: {response}",
            String::from_utf8_lossy(extension)
        );
    }
    let response = exchange(
        server.port,
        "POST /echo HTTP/1.1\nHost: x\nConnection: close\nTransfer-Encoding: chunked\n\n5 ; name = \"quoted \\\" value\" ; flag\nhello\n0\n\n",
    );
    assert!(response.ends_with("\r\n\r\nhello"), "{response}");
}

#[test]
fn bodies_over_max_body_size_get_413_before_they_are_read() {
    let limits = Limits {
        max_body_size: Some(10),
        ..Limits::default()
    };
    let server = start(Strict::with(limits));
    // The head alone: the answer comes without the body, and with Expect no 100 Continue goes first.
    for head in [
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1099511627776\r\nExpect: 100-continue\r\n\r\n",
        // A chunk declaring a TiB is refused at its size line.
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000000000\r\n",
        // Several chunks: refused at the one that takes the total past the limit.
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n5\r\n",
    ] {
        let mut stream = support::connect(server.port);
        stream.write_all(head.as_bytes()).expect("send");
        let response = read_for(&mut stream, Duration::from_secs(5));
        assert!(
            status_line(&response).starts_with("HTTP/1.1 413 "),
            "{head:?}: {response}"
        );
        assert!(!response.contains("100 Continue"), "{response}");
    }
    // At the limit, both framings are read as usual.
    let mut client = Client::new(server.port);
    let response = client.request("POST /echo HTTP/1.1\nHost: x\nContent-Length: 10\n\n0123456789");
    assert_eq!(response.body, b"0123456789");
    let response = client.request(
        "POST /echo HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n6\nabcdef\n4\nghij\n0\n\n",
    );
    assert_eq!(response.body, b"abcdefghij");
}

#[test]
fn a_chunked_body_over_the_limit_after_100_continue_still_gets_413() {
    let limits = Limits {
        max_body_size: Some(10),
        ..Limits::default()
    };
    let server = start(Strict::with(limits));
    // A chunked body's size is known only as it arrives, so the 100 Continue goes first; the interim answer is not the answer.
    let mut stream = support::connect(server.port);
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n")
        .expect("send");
    let interim = read_for(&mut stream, Duration::from_millis(500));
    assert!(
        interim.starts_with("HTTP/1.1 100 Continue\r\n"),
        "{interim}"
    );
    stream
        .write_all(b"6\r\nabcdef\r\n6\r\nghijkl\r\n0\r\n\r\n")
        .expect("send");
    let response = read_for(&mut stream, Duration::from_secs(5));
    assert!(
        status_line(&response).starts_with("HTTP/1.1 413 "),
        "{response}"
    );
}

#[test]
fn without_max_body_size_large_bodies_pass() {
    let server = start(Strict::new());
    let body = "b".repeat(100_000);
    let response = exchange(
        server.port,
        &format!(
            "POST /echo HTTP/1.1\nHost: x\nContent-Length: 100000\nConnection: close\n\n{body}"
        ),
    );
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.ends_with(&body));
}

#[test]
fn bare_lf_and_mixed_line_endings_frame_the_body() {
    // Python reads a line up to LF, so a head may end its lines with LF alone, or mix the two.
    let server = start(Strict::new());
    for head in [
        "POST /echo HTTP/1.1\nHost: x\nContent-Length: 5\n\n",
        "POST /echo HTTP/1.1\r\nHost: x\nContent-Length: 5\r\n\n",
        "POST /echo HTTP/1.1\nHost: x\r\nContent-Length: 5\n\r\n",
        "POST /echo HTTP/1.1\nContent-Length: 5\nHost: x\n\n",
    ] {
        let mut client = Client::new(server.port);
        let mut wire = head.as_bytes().to_vec();
        wire.extend_from_slice(b"helloGET /after HTTP/1.1\nHost: x\n\n");
        client.send(&wire);
        let echoed = support::read_response(&mut client.reader).expect("echo");
        assert_eq!(echoed.body, b"hello", "{head:?}");
        let after = support::read_response(&mut client.reader).expect("next request");
        assert_eq!(after.body, b"/after x", "{head:?}");
    }
    // Chunked framing named on a bare-LF line is honoured, and the chunks may end lines with LF too.
    let mut client = Client::new(server.port);
    client.send(b"POST /echo HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\nGET /z HTTP/1.1\nHost: x\n\n");
    assert_eq!(
        support::read_response(&mut client.reader)
            .expect("echo")
            .body,
        b"abc"
    );
    assert_eq!(
        support::read_response(&mut client.reader)
            .expect("next")
            .body,
        b"/z x"
    );
}

#[test]
fn version_numbers_are_read_in_decimal() {
    let server = start(Strict::new());
    for (version, status) in [
        ("HTTP/10.0", "HTTP/1.1 505 Invalid HTTP version (10.0)"),
        ("HTTP/2.0", "HTTP/1.1 505 Invalid HTTP version (2.0)"),
        ("HTTP/1.10", "HTTP/1.1 200 OK"),
        ("HTTP/0.10", "HTTP/1.1 200 OK"),
    ] {
        let response = exchange(
            server.port,
            &format!("GET / {version}\nHost: x\nConnection: close\n\n"),
        );
        assert_eq!(status_line(&response), status, "{version}");
    }
    // HTTP/1.10 is read as 1.10, later than 1.1, so it needs a Host; 0.10 and 1.0 do not.
    let response = exchange(server.port, "GET / HTTP/1.10\n\n");
    assert_eq!(status_line(&response), "HTTP/1.1 400 Missing Host header");
    let response = exchange(server.port, "GET / HTTP/0.10\nConnection: close\n\n");
    assert_eq!(status_line(&response), "HTTP/1.1 200 OK");
}

#[test]
fn a_method_outside_ascii_still_has_its_headers_read() {
    // Such a line is decoded as ISO-8859-1 on a slower path; it must still read headers and framing, not pass as HTTP/0.9.
    let server = start(Strict::new());
    let mut client = Client::new(server.port);
    client.send(b"G\xc9T / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /after HTTP/1.1\r\nHost: x\r\n\r\n");
    let answered = support::read_response(&mut client.reader).expect("answer");
    assert_eq!(answered.body, b"hello read by another method");
    let after = support::read_response(&mut client.reader).expect("next");
    assert_eq!(after.body, b"/after x");
}

/// The readiness mode reads heads, and small bodies, on its own loop before a worker runs the hook: the same limits hold there.
#[test]
fn limits_hold_in_the_readiness_mode() {
    use basehttp::HttpServer;
    use socketserver::{Mode, ServerConfig};
    let config = ServerConfig {
        mode: Mode::Readiness { workers: 2 },
        ..HttpServer::default_config()
    };
    let limits = Limits {
        max_head_size: 1024,
        max_body_size: Some(10),
        ..Limits::default()
    };
    let server = support::start_with_config(Strict::with(limits), config);
    // A head that never ends is refused once it passes the limit.
    let mut stream = support::connect(server.port);
    stream
        .write_all(format!("GET / HTTP/1.1\r\nHost: x\r\nX: {}", "v".repeat(2000)).as_bytes())
        .expect("send");
    let response = read_for(&mut stream, Duration::from_secs(5));
    assert!(
        response.starts_with("HTTP/1.1 431 Request header fields too large\r\n"),
        "{response}"
    );
    // A body over the limit gets 413 though the loop would read a body that small itself; one within it is served.
    let mut stream = support::connect(server.port);
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n")
        .expect("send");
    let response = read_for(&mut stream, Duration::from_secs(5));
    assert!(
        status_line(&response).starts_with("HTTP/1.1 413 "),
        "{response}"
    );
    let mut client = Client::new(server.port);
    let response = client.request("POST /echo HTTP/1.1\nHost: x\nContent-Length: 10\n\n0123456789");
    assert_eq!(response.body, b"0123456789");
    let response = client.request(&format!(
        "GET http://127.0.0.1:{}/abs HTTP/1.1\nHost: x\n\n",
        server.port
    ));
    assert_eq!(
        String::from_utf8_lossy(&response.body),
        format!("/abs 127.0.0.1:{}", server.port)
    );
    let response = client.request("GET / HTTP/1.1\n\n");
    assert_eq!(response.status(), 400);
}
