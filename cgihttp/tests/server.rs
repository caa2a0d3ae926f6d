//! [`CgiHttpRequestHandler`] over real sockets on `127.0.0.1:0`: Python's CGIHTTPServerTestCase requests, and what RFC 3875 adds.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use basehttp::{HttpServer, ThreadingHttpServer};
use cgihttp::CgiHttpRequestHandler;
use socketserver::ShutdownHandle;
use tempfile::TempDir;

/// A running server over a document root of test scripts; stopped when dropped.
struct Server {
    port: u16,
    shutdown: ShutdownHandle,
    thread: Option<JoinHandle<()>>,
    _root: TempDir,
}

impl Server {
    fn start(configure: impl FnOnce(&mut CgiHttpRequestHandler)) -> Server {
        let root = tempfile::Builder::new()
            .prefix("cgihttp-server-")
            .tempdir_in("/tmp")
            .unwrap_or_else(|error| panic!("temporary directory: {error}"));
        chmod(root.path(), 0o755);
        let bin = root.path().join("cgi-bin");
        fs::create_dir(&bin).unwrap_or_else(|error| panic!("mkdir: {error}"));
        chmod(&bin, 0o755);
        let python =
            |name: &str, text: &str| script(&bin, name, &format!("#!/usr/bin/python3\n{text}"));
        let shell = |name: &str, text: &str| script(&bin, name, &format!("#!/bin/sh\n{text}\n"));
        python(
            "file1.py",
            "print(\"Content-type: text/html\")\nprint()\nprint(\"Hello World\")\n",
        );
        python(
            "file2.py",
            "import os, sys, urllib.parse\n\
             length = int(os.environ['CONTENT_LENGTH'])\n\
             form = urllib.parse.parse_qs(sys.stdin.read(length))\n\
             print(\"Content-type: text/html\")\n\
             print()\n\
             print(\"%s, %s, %s\" % (form[\"spam\"][0], form[\"eggs\"][0], form[\"bacon\"][0]))\n",
        );
        shell(
            "status.sh",
            "printf 'Status: 404 Nothing Here\\nContent-Type: text/plain\\n\\ngone'",
        );
        shell("garbage.sh", "echo garbage");
        shell("hang.sh", "sleep 60");
        shell(
            "count.sh",
            "printf 'Content-Type: text/plain\\n\\n%s ' \"$CONTENT_LENGTH\"\nwc -c | tr -d ' '",
        );
        shell("empty.sh", "printf 'Status: 204\\n\\nignored'");
        shell("local.sh", "printf 'Location: /hello.txt\\n\\n'");
        shell("loop.sh", "printf 'Location: /cgi-bin/loop.sh\\n\\n'");
        shell("away.sh", "printf 'Location: http://example.org/\\n\\n'");
        shell("nph-raw.sh", "printf 'HTTP/1.0 299 Raw\\r\\n\\r\\nraw'");
        let plain = bin.join("plain.sh");
        fs::write(&plain, "#!/bin/sh\n").unwrap_or_else(|error| panic!("write: {error}"));
        chmod(&plain, 0o644);
        let hello = root.path().join("hello.txt");
        fs::write(&hello, "hi file").unwrap_or_else(|error| panic!("write: {error}"));
        chmod(&hello, 0o644);

        let mut handler = CgiHttpRequestHandler::new(root.path());
        configure(&mut handler);
        let server = HttpServer::with_config(
            ("127.0.0.1", 0),
            handler,
            ThreadingHttpServer::default_config(),
        )
        .unwrap_or_else(|error| panic!("bind: {error}"));
        let port = server.server_port();
        let shutdown = server.shutdown_handle();
        let thread = thread::spawn(move || {
            let _ = server.serve_forever(Duration::from_millis(50));
        });
        Server {
            port,
            shutdown,
            thread: Some(thread),
            _root: root,
        }
    }

    /// Sends `request` (with `\n` written as CRLF) and reads the answer to the end.
    fn request(&self, request: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))
            .unwrap_or_else(|error| panic!("connect: {error}"));
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap_or_else(|error| panic!("timeout: {error}"));
        stream
            .write_all(request.replace('\n', "\r\n").as_bytes())
            .unwrap_or_else(|error| panic!("write: {error}"));
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    }

    fn get(&self, path: &str) -> String {
        self.request(&format!("GET {path} HTTP/1.0\n\n"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.shutdown();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|error| panic!("chmod {path:?}: {error}"));
}

fn script(directory: &Path, name: &str, text: &str) {
    let path = directory.join(name);
    fs::write(&path, text).unwrap_or_else(|error| panic!("write {name}: {error}"));
    chmod(&path, 0o755);
}

fn status_line(answer: &str) -> &str {
    answer.lines().next().unwrap_or("")
}

fn body(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

// Mirrors test_httpservers: test_headers_and_content.
#[test]
fn test_headers_and_content() {
    let server = Server::start(|_| {});
    let answer = server.get("/cgi-bin/file1.py");
    assert_eq!(status_line(&answer), "HTTP/1.0 200 OK", "{answer}");
    assert!(
        answer.contains("\r\nContent-Type: text/html\r\n"),
        "{answer}"
    );
    assert_eq!(body(&answer), "Hello World\n");
}

// Mirrors test_httpservers: test_post.
#[test]
fn test_post() {
    let server = Server::start(|_| {});
    let form = "spam=1&eggs=python&bacon=123456";
    let answer = server.request(&format!(
        "POST /cgi-bin/file2.py HTTP/1.0\nContent-Type: application/x-www-form-urlencoded\nContent-Length: {}\n\n{form}",
        form.len()
    ));
    assert_eq!(status_line(&answer), "HTTP/1.0 200 OK", "{answer}");
    assert_eq!(body(&answer), "1, python, 123456\n");
}

// Mirrors test_httpservers: test_invaliduri and test_issue19435.
#[test]
fn test_invaliduri() {
    let server = Server::start(|_| {});
    let answer = server.get("/cgi-bin/invalid");
    assert!(status_line(&answer).starts_with("HTTP/1.0 404"), "{answer}");
    let answer = server.get("///////////nocgi.py/../cgi-bin/nothere.sh");
    assert!(status_line(&answer).starts_with("HTTP/1.0 404"), "{answer}");
}

// Mirrors test_httpservers: test_urlquote_decoding_in_cgi_check.
#[test]
fn test_urlquote_decoding_in_cgi_check() {
    let server = Server::start(|_| {});
    assert_eq!(body(&server.get("/cgi-bin%2ffile1.py")), "Hello World\n");
}

#[test]
fn files_errors_and_methods() {
    let server = Server::start(|_| {});
    assert_eq!(body(&server.get("/hello.txt")), "hi file");
    let answer = server.get("/cgi-bin/plain.sh");
    assert!(status_line(&answer).starts_with("HTTP/1.0 403"), "{answer}");
    let answer = server.request("POST /hello.txt HTTP/1.0\nContent-Length: 0\n\n");
    assert!(status_line(&answer).starts_with("HTTP/1.0 501"), "{answer}");
    assert!(answer.contains("Can only POST to CGI scripts"), "{answer}");
    let answer = server.get("/cgi-bin/../../cgi-bin/file1.py");
    assert!(status_line(&answer).starts_with("HTTP/1.0 400"), "{answer}");
    assert!(!answer.contains("Hello World"));
    let answer = server.request("HEAD /cgi-bin/file1.py HTTP/1.0\n\n");
    assert_eq!(status_line(&answer), "HTTP/1.0 200 OK", "{answer}");
    assert_eq!(body(&answer), "");
}

#[test]
fn script_status_and_redirects() {
    let server = Server::start(|_| {});
    let answer = server.get("/cgi-bin/status.sh");
    assert_eq!(
        status_line(&answer),
        "HTTP/1.0 404 Nothing Here",
        "{answer}"
    );
    assert_eq!(body(&answer), "gone");

    let answer = server.get("/cgi-bin/away.sh");
    assert!(status_line(&answer).starts_with("HTTP/1.0 302"), "{answer}");
    assert!(
        answer.contains("\r\nLocation: http://example.org/\r\n"),
        "{answer}"
    );

    let answer = server.get("/cgi-bin/local.sh");
    assert_eq!(status_line(&answer), "HTTP/1.0 200 OK", "{answer}");
    assert_eq!(body(&answer), "hi file");

    let answer = server.get("/cgi-bin/loop.sh");
    assert!(status_line(&answer).starts_with("HTTP/1.0 500"), "{answer}");

    let answer = server.get("/cgi-bin/nph-raw.sh");
    assert_eq!(answer, "HTTP/1.0 299 Raw\r\n\r\nraw");
}

#[test]
fn broken_and_slow_scripts() {
    let server = Server::start(|handler| handler.timeout = Some(Duration::from_secs(1)));
    let answer = server.get("/cgi-bin/garbage.sh");
    assert!(status_line(&answer).starts_with("HTTP/1.0 502"), "{answer}");
    let answer = server.get("/cgi-bin/hang.sh");
    assert!(status_line(&answer).starts_with("HTTP/1.0 504"), "{answer}");
}

#[test]
fn request_body_limit() {
    let server = Server::start(|handler| handler.max_request_body = Some(10));
    let answer = server.request(
        "POST /cgi-bin/file2.py HTTP/1.0\nContent-Length: 31\n\nspam=1&eggs=python&bacon=123456",
    );
    assert!(status_line(&answer).starts_with("HTTP/1.0 413"), "{answer}");
}

#[test]
fn http_1_1_closes_after_a_script_and_takes_chunked_bodies() {
    let server = Server::start(|handler| handler.files.protocol_version = "HTTP/1.1".into());
    // read_to_end returns only because the server closes the connection after the script's answer.
    let answer = server.request("GET /cgi-bin/file1.py HTTP/1.1\nHost: localhost\n\n");
    assert_eq!(status_line(&answer), "HTTP/1.1 200 OK", "{answer}");
    assert!(answer.contains("\r\nConnection: close\r\n"), "{answer}");
    assert_eq!(body(&answer), "Hello World\n");

    let answer = server.request(
        "POST /cgi-bin/file2.py HTTP/1.1\nHost: localhost\nTransfer-Encoding: chunked\n\n\
         a\nspam=1&egg\n15\ns=python&bacon=123456\n0\n\n",
    );
    assert_eq!(status_line(&answer), "HTTP/1.1 200 OK", "{answer}");
    assert_eq!(body(&answer), "1, python, 123456\n");
}

#[test]
fn no_content_has_no_body() {
    let server = Server::start(|_| {});
    let answer = server.get("/cgi-bin/empty.sh");
    assert!(status_line(&answer).starts_with("HTTP/1.0 204"), "{answer}");
    assert_eq!(body(&answer), "");
}

#[test]
fn large_and_chunked_bodies() {
    let server = Server::start(|handler| handler.max_request_body = Some(300_000));
    // Past 64 KiB the body goes through a temporary file.
    let payload = "x".repeat(200_000);
    let answer = server.request(&format!(
        "POST /cgi-bin/count.sh HTTP/1.0\nContent-Length: {}\n\n{payload}",
        payload.len()
    ));
    assert_eq!(status_line(&answer), "HTTP/1.0 200 OK");
    assert_eq!(body(&answer), "200000 200000\n");

    let too_long = "y".repeat(300_001);
    let answer = server.request(&format!(
        "POST /cgi-bin/count.sh HTTP/1.0\nContent-Length: {}\n\n{too_long}",
        too_long.len()
    ));
    assert!(status_line(&answer).starts_with("HTTP/1.0 413"), "{answer}");
}
