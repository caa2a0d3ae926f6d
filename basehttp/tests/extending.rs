//! Socket tests of what a handler that builds on another one relies on: the `end_headers` hook that every response
//! passes through (Python's overridden `end_headers`), a base handler that supplies every method left alone
//! (Python's subclass of a subclass, and `super()`), and the server's address seen from a hook (Python's `self.server`).
//!
//! Each runs in the threading mode and in the readiness mode, the two ways a connection is served.

mod support;

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};

use basehttp::{BaseHttpRequestHandler, HeaderBlock, HttpRequest, HttpServer, ThreadingHttpServer};
use socketserver::{Mode, ServerConfig};
use support::{exchange, Client};

fn configs() -> [ServerConfig; 2] {
    let readiness = ServerConfig {
        mode: Mode::Readiness { workers: 1 },
        ..HttpServer::default_config()
    };
    [ThreadingHttpServer::default_config(), readiness]
}

/// A plain handler: GET answers "base" (or panics, or fails), POST answers "base post"; HTTP/1.1 and its own Server name.
struct Base;

impl BaseHttpRequestHandler for Base {
    fn server_version(&self) -> &str {
        "Base/2.0"
    }

    fn protocol_version(&self) -> &str {
        "HTTP/1.1"
    }

    fn do_get(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        match req.path.as_str() {
            "/missing" => req.send_error(404, Some("File not found")),
            "/error" => Err(io::Error::other("requested error")),
            "/panic" => panic!("requested panic"),
            _ => reply(req, b"base"),
        }
    }

    fn do_post(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        reply(req, b"base post")
    }

    fn log_message(&self, _req: &HttpRequest<'_>, _message: fmt::Arguments<'_>) {}
}

fn reply(req: &mut HttpRequest<'_>, body: &[u8]) -> io::Result<()> {
    req.send_response(200, None)?;
    req.send_header("Content-Length", &body.len().to_string())?;
    req.end_headers()?;
    req.wfile.write_all(body)
}

/// Python: `class Cors(Base)` overriding `end_headers` and `do_POST`, counting its answers in its own state.
struct Cors {
    base: Base,
    answered: AtomicUsize,
}

impl Cors {
    fn new() -> Self {
        Cors {
            base: Base,
            answered: AtomicUsize::new(0),
        }
    }
}

impl BaseHttpRequestHandler for Cors {
    fn base(&self) -> Option<&dyn BaseHttpRequestHandler> {
        Some(&self.base)
    }

    fn end_headers(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        self.answered.fetch_add(1, Ordering::SeqCst);
        req.send_header("Access-Control-Allow-Origin", "*")?;
        // Python's override ends with super().end_headers(); here that call does nothing, and the headers end once.
        req.end_headers()
    }

    fn do_post(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        if req.path == "/super" {
            // Python's super().do_POST().
            return self.base.do_post(req);
        }
        let body = format!(
            "{} {} {}",
            req.server_name(),
            req.server_port(),
            self.answered.load(Ordering::SeqCst)
        );
        reply(req, body.as_bytes())
    }
}

// Mirrors test_httpservers: BaseHTTPServerTestCase's handlers set protocol_version and server_version as class attributes;
// a subclass inherits them, and here the extending handler gets them from its base without naming them.
#[test]
fn an_extending_handler_keeps_its_bases_settings_and_hooks() {
    for config in configs() {
        let server = support::start_with_config(Cors::new(), config);
        let mut client = Client::new(server.port);
        // HTTP/1.1 from the base: the connection stays open for a second request.
        let response = client.request("GET / HTTP/1.1\nHost: t\n\n");
        assert_eq!(response.status_line, "HTTP/1.1 200 OK");
        assert_eq!(response.body, b"base");
        assert!(response
            .header("Server")
            .is_some_and(|server| server.starts_with("Base/2.0 ")));
        assert_eq!(response.header("Access-Control-Allow-Origin"), Some("*"));
        let response = client.request("POST /super HTTP/1.1\nHost: t\nContent-Length: 0\n\n");
        assert_eq!(response.body, b"base post");
        assert_eq!(response.header("Access-Control-Allow-Origin"), Some("*"));
        // A method neither overrides is the base's default: 501, with the hook's header too.
        let response = client.request("DELETE / HTTP/1.1\nHost: t\n\n");
        assert_eq!(response.status(), 501);
        assert_eq!(response.header("Access-Control-Allow-Origin"), Some("*"));
    }
}

// Python's self.server.server_name and server_port, and state shared by every connection on the handler value.
#[test]
fn a_hook_sees_the_servers_address_and_the_shared_state() {
    for config in configs() {
        let server = support::start_with_config(Cors::new(), config);
        let mut client = Client::new(server.port);
        client.request("GET / HTTP/1.1\nHost: t\n\n");
        let response = client.request("POST / HTTP/1.1\nHost: t\nContent-Length: 0\n\n");
        let expected = format!("127.0.0.1 {} 1", server.port);
        assert_eq!(String::from_utf8_lossy(&response.body), expected);
    }
}

// The hook is on every answer: an error page, a 501, a refused request line (Python's send_error calls end_headers too),
// and an interim 100 Continue, as Python's handle_expect_100 calls end_headers.
#[test]
fn the_end_headers_hook_is_on_errors_refusals_and_interim_answers() {
    for config in configs() {
        let server = support::start_with_config(Cors::new(), config);
        for request in [
            "GET /missing HTTP/1.1\nHost: t\n\n",
            "BREW / HTTP/1.1\nHost: t\n\n",
            "GET / HTTP/1.1 extra\nHost: t\n\n",
            "GET / HTTP/1.1\n\n",
        ] {
            let response = exchange(server.port, request);
            assert!(
                response.contains("\r\nAccess-Control-Allow-Origin: *\r\n"),
                "{request:?}: {response}"
            );
            // One blank line ends the head: the hook's nested end_headers added nothing.
            let head = response.split("\r\n\r\n").next().unwrap_or("");
            assert!(!head.contains("\r\n\r\n"), "{response}");
        }
        let response = exchange(
            server.port,
            "POST / HTTP/1.1\nHost: t\nExpect: 100-continue\nContent-Length: 0\nConnection: close\n\n",
        );
        assert!(
            response.starts_with(
                "HTTP/1.1 100 Continue\r\nAccess-Control-Allow-Origin: *\r\n\r\nHTTP/1.1 200 OK\r\n"
            ),
            "{response}"
        );
    }
}

/// A hook that fails on 200 answers (or panics, for `/panic-hook`), and adds a header otherwise.
struct FailingHook;

impl BaseHttpRequestHandler for FailingHook {
    fn base(&self) -> Option<&dyn BaseHttpRequestHandler> {
        Some(&Base)
    }

    fn end_headers(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        req.send_header("X-Hook", "ran")?;
        if req.response_status() == Some(200) {
            if req.path == "/panic-hook" {
                panic!("the hook panics");
            }
            return Err(io::Error::other("the hook fails"));
        }
        Ok(())
    }
}

// Not in Python, where an exception in end_headers drops the connection without a word:
// a failing or panicking hook is answered with 500, without the hook and without the headers it had buffered,
// and the server goes on serving.
#[test]
fn a_failing_or_panicking_hook_is_answered_with_500() {
    for config in configs() {
        let server = support::start_with_config(FailingHook, config);
        for path in ["/", "/panic-hook"] {
            let response = exchange(server.port, &format!("GET {path} HTTP/1.1\nHost: t\n\n"));
            assert!(response.starts_with("HTTP/1.1 500 "), "{path}: {response}");
            assert!(!response.contains("X-Hook"), "{path}: {response}");
            assert_eq!(response.matches("HTTP/1.1 ").count(), 1, "{response}");
        }
        // A 404 passes through the hook, which adds its header.
        let response = exchange(server.port, "GET /missing HTTP/1.1\nHost: t\n\n");
        assert!(response.starts_with("HTTP/1.1 404 "), "{response}");
        assert!(response.contains("\r\nX-Hook: ran\r\n"), "{response}");
    }
}

// A panic or an error in the base's do_GET costs its request only, with the hook still run on the 500.
#[test]
fn a_failing_base_hook_is_answered_with_500_through_the_extension() {
    for config in configs() {
        let server = support::start_with_config(Cors::new(), config);
        for path in ["/error", "/panic"] {
            let response = exchange(server.port, &format!("GET {path} HTTP/1.1\nHost: t\n\n"));
            assert!(response.starts_with("HTTP/1.1 500 "), "{path}: {response}");
            assert!(response.contains("\r\nAccess-Control-Allow-Origin: *\r\n"));
        }
        let response = exchange(
            server.port,
            "GET / HTTP/1.1\nHost: t\nConnection: close\n\n",
        );
        assert!(response.ends_with("base"), "{response}");
    }
}

/// Python's auth_server.py and rest_api.py in miniature: Basic credentials checked, then the query read with parse_qs.
struct Guarded;

impl BaseHttpRequestHandler for Guarded {
    fn do_get(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        let authorized = req
            .basic_credentials()
            .is_some_and(|credentials| credentials.matches("admin", "secret"));
        if !authorized {
            req.send_response(401, None)?;
            req.send_header("WWW-Authenticate", "Basic realm=\"files\"")?;
            req.send_header("Content-Length", "0")?;
            return req.end_headers();
        }
        let url = basehttp::urlsplit(&req.path)?;
        let query = basehttp::parse_qs(&url.query, false);
        let name = query.get("name").map_or("nobody", |values| &values[0]);
        reply(
            req,
            format!("{} {name}", basehttp::unquote(&url.path)).as_bytes(),
        )
    }

    fn log_message(&self, _req: &HttpRequest<'_>, _message: fmt::Arguments<'_>) {}
}

// The helpers a handler uses over the wire: credentials from the Authorization header, and a query as Python's parse_qs reads it.
#[test]
fn basic_credentials_and_queries_over_the_wire() {
    let server = support::start(Guarded);
    let response = exchange(server.port, "GET / HTTP/1.0\n\n");
    assert!(response.starts_with("HTTP/1.0 401 "), "{response}");
    assert!(response.contains("\r\nWWW-Authenticate: Basic realm=\"files\"\r\n"));
    let wrong = exchange(
        server.port,
        "GET / HTTP/1.0\nAuthorization: Basic YWRtaW46d3Jvbmc=\n\n",
    );
    assert!(wrong.starts_with("HTTP/1.0 401 "), "{wrong}");
    let response = exchange(
        server.port,
        "GET /a%2Fb?name=J%C3%BCrgen+M&name=x&empty= HTTP/1.0\nAuthorization: basic YWRtaW46c2VjcmV0\n\n",
    );
    assert!(response.starts_with("HTTP/1.0 200 "), "{response}");
    assert!(response.ends_with("\r\n\r\n/a/b Jürgen M"), "{response}");
}

/// Python's `send_error` overridden: its own page for 404, the base's for the rest, and a header queued before an error.
struct OwnPages;

impl BaseHttpRequestHandler for OwnPages {
    fn base(&self) -> Option<&dyn BaseHttpRequestHandler> {
        Some(&Base)
    }

    fn send_error(
        &self,
        req: &mut HttpRequest<'_>,
        code: u16,
        message: Option<&str>,
        explain: Option<&str>,
    ) -> io::Result<()> {
        if code != 404 {
            return Base.send_error(req, code, message, explain);
        }
        // Calling send_error from inside the hook sends the default page rather than coming back here.
        if req.path == "/missing-inner" {
            return req.send_error(404, Some("inner"));
        }
        req.send_response(404, message)?;
        req.send_header("Content-Type", "text/plain")?;
        req.send_header("Content-Length", "4")?;
        req.end_headers()?;
        req.wfile.write_all(b"gone")
    }

    fn do_get(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        req.queue_header("X-Queued", "yes")?;
        match req.path.as_str() {
            "/missing" | "/missing-inner" => req.send_error(404, None),
            "/teapot" => req.send_error(418, None),
            _ => Base.do_get(req),
        }
    }
}

// Python's send_error is a method subclasses override for their own pages; here it is a hook every error goes through,
// refusals included, and a header queued before it goes out on whatever answer follows.
#[test]
fn send_error_is_a_hook_and_queued_headers_go_out_with_the_answer() {
    for config in configs() {
        let server = support::start_with_config(OwnPages, config);
        let response = exchange(server.port, "GET /missing HTTP/1.1\nHost: t\n\n");
        assert!(
            response.starts_with("HTTP/1.1 404 Not Found\r\n"),
            "{response}"
        );
        assert!(response.contains("\r\nX-Queued: yes\r\n"), "{response}");
        assert!(response.ends_with("\r\n\r\ngone"), "{response}");
        let response = exchange(server.port, "GET /missing-inner HTTP/1.1\nHost: t\n\n");
        assert!(response.starts_with("HTTP/1.1 404 inner\r\n"), "{response}");
        assert!(response.contains("<p>Message: inner.</p>"), "{response}");
        let response = exchange(server.port, "GET /teapot HTTP/1.1\nHost: t\n\n");
        assert!(response.starts_with("HTTP/1.1 418 "), "{response}");
        assert!(response.contains("\r\nX-Queued: yes\r\n"), "{response}");
        assert!(response.contains("Error code: 418"), "{response}");
        // A header queued once goes out once: the next answer on the connection does not repeat it.
        let mut client = Client::new(server.port);
        let first = client.request("GET / HTTP/1.1\nHost: t\n\n");
        assert_eq!(first.header("X-Queued"), Some("yes"));
        // A refused request goes through the hook too.
        let response = exchange(server.port, "GET / HTTP/1.1\n\n");
        assert!(response.starts_with("HTTP/1.1 400 "), "{response}");
    }
}

/// Answers with the same headers sent one by one (`/lines`) or as a [`HeaderBlock`] checked once (`/block...`).
struct Blocks;

impl BaseHttpRequestHandler for Blocks {
    fn protocol_version(&self) -> &str {
        "HTTP/1.1"
    }

    fn do_get(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        let headers: &[(&str, &str)] = match req.path.as_str() {
            "/lines" | "/block" => &[("Content-Length", "2"), ("X-Name", "caf\u{e9}")],
            // The last of several Connection headers decides, as with send_header.
            "/block-close" => &[
                ("Content-Length", "2"),
                ("Connection", "keep-alive"),
                ("Connection", "close"),
            ],
            "/block-keep" => &[
                ("Content-Length", "2"),
                ("Connection", "close"),
                ("Connection", "keep-alive"),
            ],
            // Said by the handler: the Connection header the server adds to an answer without a length is not doubled.
            "/unframed-upgrade" => &[("X-Name", "unframed"), ("Connection", "upgrade")],
            // Without a length the answer can only end with the connection.
            _ => &[("X-Name", "unframed")],
        };
        req.send_response(200, None)?;
        if req.path == "/lines" {
            for (name, value) in headers {
                req.send_header(name, value)?;
            }
        } else {
            let mut block = HeaderBlock::new();
            for (name, value) in headers {
                block.push(name, value)?;
            }
            req.send_header_block(&block)?;
        }
        req.end_headers()?;
        req.wfile.write_all(b"ok")
    }

    fn log_message(&self, _req: &HttpRequest<'_>, _message: fmt::Arguments<'_>) {}
}

#[test]
fn a_header_block_sends_what_send_header_would() {
    let without_date = |response: String| {
        response
            .split("\r\n")
            .filter(|line| !line.starts_with("Date: "))
            .collect::<Vec<_>>()
            .join("\r\n")
    };
    for config in configs() {
        let server = support::start_with_config(Blocks, config);
        let lines = exchange(
            server.port,
            "GET /lines HTTP/1.1\nHost: t\nConnection: close\n\n",
        );
        let block = exchange(
            server.port,
            "GET /block HTTP/1.1\nHost: t\nConnection: close\n\n",
        );
        // Sent as ISO-8859-1: one byte for the é, which the lossy reading shows as U+FFFD.
        assert!(lines.contains("\r\nX-Name: caf\u{fffd}\r\n"), "{lines:?}");
        assert_eq!(without_date(block), without_date(lines));

        let mut client = Client::new(server.port);
        assert_eq!(
            client.request("GET /block-keep HTTP/1.1\nHost: t\n\n").body,
            b"ok"
        );
        // keep-alive came last: the connection answers again.
        assert_eq!(
            client
                .request("GET /block-close HTTP/1.1\nHost: t\n\n")
                .body,
            b"ok"
        );
        assert!(client.is_closed(), "close came last");

        // A block without a length does not frame the answer: it ends with the connection, which says so.
        let unframed = exchange(server.port, "GET /unframed HTTP/1.1\nHost: t\n\n");
        assert!(
            unframed.contains("\r\nConnection: close\r\n"),
            "{unframed:?}"
        );
        assert!(unframed.ends_with("\r\n\r\nok"), "{unframed:?}");
        let said = exchange(server.port, "GET /unframed-upgrade HTTP/1.1\nHost: t\n\n");
        assert_eq!(said.matches("Connection:").count(), 1, "{said:?}");
        assert!(said.ends_with("\r\n\r\nok"), "{said:?}");
        // HTTP/0.9 has no headers at all.
        assert_eq!(exchange(server.port, "GET /block\n"), "ok");
    }
}
