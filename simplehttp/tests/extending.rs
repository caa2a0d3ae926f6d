//! `SimpleHttpRequestHandler` extended as Python's subclasses extend it, over real sockets:
//! an `end_headers` hook that every answer of the file handler passes through (files, HEAD, redirects, listings,
//! 304, 206, 412, 416, 404, 501), settings kept from the base (`protocol_version` above all), and `do_PUT` added.

use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use basehttp::{BaseHttpRequestHandler, HttpRequest, HttpServer, ThreadingHttpServer};
use simplehttp::{path_ends_with_slash, SimpleHooks, SimpleHttpRequestHandler};
use socketserver::{Mode, ServerConfig};

/// Python's cors_server.py and upload_server.py in one: a header on every answer, and PUT writing files.
struct Extended(SimpleHttpRequestHandler);

impl BaseHttpRequestHandler for Extended {
    fn base(&self) -> Option<&dyn BaseHttpRequestHandler> {
        Some(&self.0)
    }

    fn end_headers(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        req.send_header("Access-Control-Allow-Origin", "*")
    }

    fn do_put(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        let path = self.0.translate_path(&req.path);
        if path_ends_with_slash(&path) {
            return req.send_error(405, Some("Cannot PUT a directory"));
        }
        io::copy(&mut req.rfile, &mut fs::File::create(&path)?)?;
        req.send_response(201, Some("Created"))?;
        req.send_header("Content-Length", "0")?;
        req.end_headers()
    }

    fn log_message(&self, _: &HttpRequest<'_>, _: std::fmt::Arguments<'_>) {}
}

struct Running {
    port: u16,
    root: tempfile::TempDir,
    stop: socketserver::ShutdownHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.shutdown();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn start(config: ServerConfig) -> Running {
    let root = tempfile::tempdir().unwrap();
    fs::write(root.path().join("test"), b"We are the knights who say Ni!").unwrap();
    fs::create_dir(root.path().join("sub")).unwrap();
    let mut files = SimpleHttpRequestHandler::new(root.path());
    files.protocol_version = "HTTP/1.1".to_owned();
    let server = HttpServer::with_config(("127.0.0.1", 0), Extended(files), config).unwrap();
    let port = server.server_port();
    let stop = server.shutdown_handle();
    let thread = std::thread::spawn(move || {
        server.serve_forever(Duration::from_millis(20)).unwrap();
    });
    Running {
        port,
        root,
        stop,
        thread: Some(thread),
    }
}

/// One response read from a kept-alive connection: its head, and a body as long as its Content-Length.
fn request(reader: &mut BufReader<TcpStream>, request: &str) -> (String, Vec<u8>) {
    let text = format!("{}\r\n\r\n", request.replace('\n', "\r\n"));
    reader.get_mut().write_all(text.as_bytes()).unwrap();
    let mut head = String::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        head.push_str(&line);
    }
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("Content-Length: "))
        .and_then(|length| length.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if !request.starts_with("HEAD") {
        reader.read_exact(&mut body).unwrap();
    }
    (head, body)
}

// Mirrors test_httpservers: SimpleHTTPServerTestCase (test_get, test_head, the redirect of a directory, If-Modified-Since),
// each answer carrying the header an end_headers override adds, on one HTTP/1.1 connection that the base's protocol_version keeps open.
#[test]
fn every_answer_of_the_file_handler_passes_through_the_hook() {
    let readiness = ServerConfig {
        mode: Mode::Readiness { workers: 1 },
        ..HttpServer::default_config()
    };
    for config in [ThreadingHttpServer::default_config(), readiness] {
        let running = start(config);
        let stream = TcpStream::connect(("127.0.0.1", running.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut reader = BufReader::new(stream);
        let (head, _) = request(&mut reader, "GET /test HTTP/1.1\nHost: t");
        let etag = head
            .lines()
            .find_map(|line| line.strip_prefix("ETag: "))
            .unwrap()
            .to_owned();
        let cases = [
            ("GET /test HTTP/1.1\nHost: t", "HTTP/1.1 200 "),
            ("HEAD /test HTTP/1.1\nHost: t", "HTTP/1.1 200 "),
            ("GET /sub HTTP/1.1\nHost: t", "HTTP/1.1 301 "),
            ("GET /sub/ HTTP/1.1\nHost: t", "HTTP/1.1 200 "),
            ("GET /nothing HTTP/1.1\nHost: t", "HTTP/1.1 404 "),
            (
                &format!("GET /test HTTP/1.1\nHost: t\nIf-None-Match: {etag}"),
                "HTTP/1.1 304 ",
            ),
            (
                "GET /test HTTP/1.1\nHost: t\nIf-Match: \"other\"",
                "HTTP/1.1 412 ",
            ),
            (
                "GET /test HTTP/1.1\nHost: t\nRange: bytes=0-1",
                "HTTP/1.1 206 ",
            ),
            (
                "GET /test HTTP/1.1\nHost: t\nRange: bytes=500-",
                "HTTP/1.1 416 ",
            ),
            (
                "PUT /new.txt HTTP/1.1\nHost: t\nContent-Length: 5\n\nhello",
                "HTTP/1.1 201 Created",
            ),
        ];
        for (sent, status) in cases {
            // Error pages close their connection, so each answer gets its own.
            let stream = TcpStream::connect(("127.0.0.1", running.port)).unwrap();
            let (head, _) = request(&mut BufReader::new(stream), sent);
            assert!(head.starts_with(status), "{sent:?} gave {head}");
            assert!(
                head.contains("\r\nAccess-Control-Allow-Origin: *\r\n"),
                "{sent:?} gave {head}"
            );
            assert!(
                head.contains("\r\nServer: SimpleHTTP/0.6 "),
                "{sent:?} gave {head}"
            );
        }
        assert_eq!(
            fs::read(running.root.path().join("new.txt")).unwrap(),
            b"hello"
        );
        // The first connection is still open: HTTP/1.1 came from the base.
        let (head, body) = request(&mut reader, "GET /test HTTP/1.1\nHost: t");
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        assert_eq!(body, b"We are the knights who say Ni!");
        let stream = TcpStream::connect(("127.0.0.1", running.port)).unwrap();
        let mut reader = BufReader::new(stream);
        let (head, _) = request(&mut reader, "POST /test HTTP/1.1\nHost: t");
        assert!(head.starts_with("HTTP/1.1 501 "), "{head}");
        assert!(head.contains("\r\nAccess-Control-Allow-Origin: *\r\n"));
        let stream = TcpStream::connect(("127.0.0.1", running.port)).unwrap();
        let mut reader = BufReader::new(stream);
        let (head, _) = request(
            &mut reader,
            "PUT /sub/ HTTP/1.1\nHost: t\nContent-Length: 0",
        );
        assert!(head.starts_with("HTTP/1.1 405 "), "{head}");
    }
}
