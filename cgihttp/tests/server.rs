//! [`CgiHttpRequestHandler`] over real sockets on `127.0.0.1:0`: Python's CGIHTTPServerTestCase requests, and what RFC 3875 adds.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
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
        shell(
            "length.sh",
            "printf 'Content-Type: text/plain\\nContent-Length: 5\\n\\n12345'",
        );
        shell(
            "short.sh",
            "printf 'Content-Type: text/plain\\nContent-Length: 5\\n\\nabc'",
        );
        shell(
            "long.sh",
            "printf 'Content-Type: text/plain\\nContent-Length: 5\\n\\n1234567890'",
        );
        python(
            "first.py",
            "import sys\n\
             sys.stdout.write('Content-Type: text/plain\\n\\n' + 'a' * (1024 * 1024))\n\
             sys.stdout.flush()\n\
             data = sys.stdin.buffer.read()\n\
             print('read %d' % len(data))\n",
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

/// One answer read off a persistent connection: its head (status line and headers) and its decoded body.
struct Answer {
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads one answer from `reader`, framed as HTTP/1.1 says: by Content-Length, by chunks, or (otherwise) to the end.
/// `head_only` for the answer to a HEAD request, which never has a body.
fn read_answer(reader: &mut BufReader<TcpStream>, head_only: bool) -> Answer {
    let line = |reader: &mut BufReader<TcpStream>| {
        let mut line = String::new();
        reader
            .read_line(&mut line)
            .unwrap_or_else(|error| panic!("read: {error}"));
        line
    };
    let mut head = String::new();
    loop {
        let next = line(reader);
        assert!(!next.is_empty(), "connection closed in the head: {head}");
        if next == "\r\n" {
            break;
        }
        head.push_str(&next);
    }
    let mut answer = Answer {
        head,
        body: Vec::new(),
    };
    if head_only {
        return answer;
    }
    if let Some(length) = answer.header("Content-Length") {
        let length: usize = length.parse().unwrap_or_else(|_| panic!("{length}"));
        answer.body.resize(length, 0);
        reader
            .read_exact(&mut answer.body)
            .unwrap_or_else(|error| panic!("read body: {error}"));
    } else if answer.header("Transfer-Encoding") == Some("chunked") {
        loop {
            let size = line(reader);
            let size = usize::from_str_radix(size.trim_end(), 16)
                .unwrap_or_else(|_| panic!("chunk size {size:?}"));
            let mut chunk = vec![0; size + 2];
            reader
                .read_exact(&mut chunk)
                .unwrap_or_else(|error| panic!("read chunk: {error}"));
            assert_eq!(&chunk[size..], b"\r\n");
            if size == 0 {
                break;
            }
            answer.body.extend_from_slice(&chunk[..size]);
        }
    } else {
        reader
            .read_to_end(&mut answer.body)
            .unwrap_or_else(|error| panic!("read body: {error}"));
    }
    answer
}

impl Server {
    /// A connection kept open for several requests: its writing half and a reader of answers.
    fn connect(&self) -> (TcpStream, BufReader<TcpStream>) {
        let stream = TcpStream::connect(("127.0.0.1", self.port))
            .unwrap_or_else(|error| panic!("connect: {error}"));
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap_or_else(|error| panic!("timeout: {error}"));
        let reader = stream
            .try_clone()
            .unwrap_or_else(|error| panic!("clone: {error}"));
        (stream, BufReader::new(reader))
    }
}

fn send(stream: &mut TcpStream, request: &str) {
    stream
        .write_all(request.replace('\n', "\r\n").as_bytes())
        .unwrap_or_else(|error| panic!("write: {error}"));
}

/// Whether the server has closed the connection (nothing more comes).
fn closed(reader: &mut BufReader<TcpStream>) -> bool {
    let mut rest = Vec::new();
    matches!(reader.read_to_end(&mut rest), Ok(0))
}

// Not in Python (RFC 9112 §6.3, §7.1): on HTTP/1.1 a script's answer is framed, so the connection carries the next request.
#[test]
fn test_post_keep_alive_chunked_and_content_length() {
    let server = Server::start(|handler| handler.files.protocol_version = "HTTP/1.1".into());
    let (mut stream, mut reader) = server.connect();

    // No Content-Length from the script: chunked.
    send(
        &mut stream,
        "GET /cgi-bin/file1.py HTTP/1.1\nHost: localhost\n\n",
    );
    let answer = read_answer(&mut reader, false);
    assert!(
        answer.head.starts_with("HTTP/1.1 200 OK\r\n"),
        "{}",
        answer.head
    );
    assert_eq!(answer.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(answer.header("Connection"), None);
    assert_eq!(answer.body_text(), "Hello World\n");

    // A Content-Length from the script passes through, and the same connection answers.
    send(
        &mut stream,
        "GET /cgi-bin/length.sh HTTP/1.1\nHost: localhost\n\n",
    );
    let answer = read_answer(&mut reader, false);
    assert_eq!(
        answer.header("Content-Length"),
        Some("5"),
        "{}",
        answer.head
    );
    assert_eq!(answer.header("Transfer-Encoding"), None);
    assert_eq!(answer.body_text(), "12345");

    // A chunked request body is read whole first, so the script still gets CONTENT_LENGTH.
    send(
        &mut stream,
        "POST /cgi-bin/file2.py HTTP/1.1\nHost: localhost\nTransfer-Encoding: chunked\n\n\
         a\nspam=1&egg\n15\ns=python&bacon=123456\n0\n\n",
    );
    let answer = read_answer(&mut reader, false);
    assert_eq!(answer.body_text(), "1, python, 123456\n");

    // Mirrors test_httpservers: CGIHTTPServerTestCase.test_post, on the same connection; the body streams in.
    send(
        &mut stream,
        "POST /cgi-bin/file2.py HTTP/1.1\nHost: localhost\nContent-Length: 31\n\n\
         spam=1&eggs=python&bacon=123456",
    );
    let answer = read_answer(&mut reader, false);
    assert_eq!(answer.body_text(), "1, python, 123456\n");

    // A local redirect to a file is answered on the same connection too.
    send(
        &mut stream,
        "GET /cgi-bin/local.sh HTTP/1.1\nHost: localhost\n\n",
    );
    let answer = read_answer(&mut reader, false);
    assert_eq!(answer.body_text(), "hi file", "{}", answer.head);

    // A script that writes fewer bytes than it declared: the connection closes after the short body.
    send(
        &mut stream,
        "GET /cgi-bin/short.sh HTTP/1.1\nHost: localhost\n\n",
    );
    let mut head = String::new();
    while !head.ends_with("\r\n\r\n") {
        let mut line = String::new();
        reader
            .read_line(&mut line)
            .unwrap_or_else(|error| panic!("read: {error}"));
        assert!(!line.is_empty(), "{head}");
        head.push_str(&line);
    }
    let mut rest = Vec::new();
    let _ = reader.read_to_end(&mut rest);
    assert_eq!(rest, b"abc", "{head}");
}

// Not in Python (RFC 9112 §6.3): more output than the script's Content-Length is cut, and the connection closed.
#[test]
fn script_longer_than_its_content_length_is_cut() {
    let server = Server::start(|handler| handler.files.protocol_version = "HTTP/1.1".into());
    let (mut stream, mut reader) = server.connect();
    send(
        &mut stream,
        "GET /cgi-bin/long.sh HTTP/1.1\nHost: localhost\n\n",
    );
    let answer = read_answer(&mut reader, false);
    assert_eq!(answer.body_text(), "12345");
    assert!(closed(&mut reader));
}

// Mirrors test_httpservers: CGIHTTPServerTestCase.test_headers_and_content, asked with HTTP/1.0 of an HTTP/1.1 server:
// the answer is delimited by closing the connection, as Python's always is.
#[test]
fn test_headers_and_content_http_1_0_closes() {
    let server = Server::start(|handler| handler.files.protocol_version = "HTTP/1.1".into());
    let answer = server.get("/cgi-bin/file1.py");
    assert_eq!(status_line(&answer), "HTTP/1.1 200 OK", "{answer}");
    assert!(answer.contains("\r\nConnection: close\r\n"), "{answer}");
    assert!(!answer.contains("Transfer-Encoding"), "{answer}");
    assert_eq!(body(&answer), "Hello World\n");
}

// Not in Python (RFC 9110 §9.3.2): HEAD runs the script but sends no body, and the connection carries on.
#[test]
fn head_has_no_body_and_keeps_the_connection() {
    let server = Server::start(|handler| handler.files.protocol_version = "HTTP/1.1".into());
    let (mut stream, mut reader) = server.connect();
    send(
        &mut stream,
        "HEAD /cgi-bin/file1.py HTTP/1.1\nHost: localhost\n\n",
    );
    let answer = read_answer(&mut reader, true);
    assert!(
        answer.head.starts_with("HTTP/1.1 200 OK\r\n"),
        "{}",
        answer.head
    );
    assert_eq!(answer.header("Transfer-Encoding"), Some("chunked"));
    send(
        &mut stream,
        "HEAD /cgi-bin/length.sh HTTP/1.1\nHost: localhost\n\n",
    );
    let answer = read_answer(&mut reader, true);
    assert_eq!(
        answer.header("Content-Length"),
        Some("5"),
        "{}",
        answer.head
    );
    // Had either HEAD answer carried a body, this answer's status line would not come next.
    send(
        &mut stream,
        "GET /cgi-bin/length.sh HTTP/1.1\nHost: localhost\n\n",
    );
    let answer = read_answer(&mut reader, false);
    assert!(
        answer.head.starts_with("HTTP/1.1 200 OK\r\n"),
        "{}",
        answer.head
    );
    assert_eq!(answer.body_text(), "12345");
}

// Not in Python (RFC 3875 §4.2, §6): a script that prints 1 MiB before it reads its input does not deadlock the server.
#[test]
fn script_answering_before_reading_its_input() {
    let server = Server::start(|handler| handler.files.protocol_version = "HTTP/1.1".into());
    let (mut stream, mut reader) = server.connect();
    let payload = "p".repeat(512 * 1024);
    let request = format!(
        "POST /cgi-bin/first.py HTTP/1.1\nHost: localhost\nContent-Length: {}\n\n{payload}",
        payload.len()
    );
    // The answer starts before the body is through, so the body goes out on another thread.
    let sender = thread::spawn(move || send(&mut stream, &request));
    let answer = read_answer(&mut reader, false);
    sender.join().unwrap_or_else(|_| panic!("sender panicked"));
    assert_eq!(answer.body.len(), 1024 * 1024 + "read 524288\n".len());
    assert!(answer.body_text().ends_with("aaaaread 524288\n"));
}

// Not in Python (RFC 3875 §4.2: a script need not read its input): a large body the script ignores is no hang,
// and the unread rest (past basehttp's drain limit) closes the connection rather than being read as a request.
#[test]
fn script_that_never_reads_its_input() {
    let server = Server::start(|handler| handler.files.protocol_version = "HTTP/1.1".into());
    let (mut stream, mut reader) = server.connect();
    let payload = "q".repeat(8 * 1024 * 1024);
    let request = format!(
        "POST /cgi-bin/length.sh HTTP/1.1\nHost: localhost\nContent-Length: {}\n\n{payload}",
        payload.len()
    );
    let sender = thread::spawn(move || {
        // The server stops reading, so this write may fail: that is the point.
        let _ = stream.write_all(request.as_bytes());
        stream
    });
    let answer = read_answer(&mut reader, false);
    assert!(
        answer.head.starts_with("HTTP/1.1 200 OK\r\n"),
        "{}",
        answer.head
    );
    assert_eq!(answer.body_text(), "12345");
    assert!(closed(&mut reader));
    drop(sender.join());

    // A small ignored body is drained, and the connection carries on.
    let (mut stream, mut reader) = server.connect();
    send(
        &mut stream,
        "POST /cgi-bin/length.sh HTTP/1.1\nHost: localhost\nContent-Length: 10\n\n0123456789",
    );
    assert_eq!(read_answer(&mut reader, false).body_text(), "12345");
    send(
        &mut stream,
        "GET /cgi-bin/length.sh HTTP/1.1\nHost: localhost\n\n",
    );
    assert_eq!(read_answer(&mut reader, false).body_text(), "12345");
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
