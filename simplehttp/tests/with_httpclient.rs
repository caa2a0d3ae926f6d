//! httpclient against the real simplehttp server on 127.0.0.1: the two halves of the workspace must understand each other.
//!
//! The server speaks HTTP/1.1 here, so one `HttpConnection` carries many requests; the handler records the client port of every request it logs,
//! which shows how many connections the server accepted.

use std::fs;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use basehttp::{HttpRequest, HttpServer, ThreadingHttpServer};
use httpclient::{Body, HttpConnection};
use simplehttp::SimpleHttpRequestHandler;

/// simplehttp's handler, with its log lines kept instead of written to stderr.
struct Recording {
    inner: SimpleHttpRequestHandler,
    client_ports: Arc<Mutex<Vec<u16>>>,
}

impl simplehttp::SimpleHooks for Recording {
    fn directory(&self) -> &std::path::Path {
        &self.inner.directory
    }
}

impl basehttp::BaseHttpRequestHandler for Recording {
    fn server_version(&self) -> &str {
        basehttp::BaseHttpRequestHandler::server_version(&self.inner)
    }
    fn protocol_version(&self) -> &str {
        basehttp::BaseHttpRequestHandler::protocol_version(&self.inner)
    }
    fn do_get(&self, req: &mut HttpRequest<'_>) -> std::io::Result<()> {
        simplehttp::serve_files(self, req)
    }
    fn do_head(&self, req: &mut HttpRequest<'_>) -> std::io::Result<()> {
        simplehttp::serve_files(self, req)
    }
    fn log_message(&self, req: &HttpRequest<'_>, message: std::fmt::Arguments<'_>) {
        // Only `log_request`'s lines (`"GET / HTTP/1.1" 200 -`) count: an error also logs a `code 404, message …` line.
        if !message.to_string().starts_with('"') {
            return;
        }
        if let Some(address) = req.client_address.inet() {
            self.client_ports.lock().unwrap().push(address.port());
        }
    }
}

const TEXT: &[u8] = b"We are the knights who say Ni!";

struct Running {
    port: u16,
    client_ports: Arc<Mutex<Vec<u16>>>,
    _root: tempfile::TempDir,
    shutdown: socketserver::ShutdownHandle,
    thread: Option<thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.shutdown();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Running {
    fn connection(&self) -> HttpConnection {
        let config = httpclient::Config {
            timeouts: httpclient::Timeouts::all(Duration::from_secs(10)),
            ..httpclient::Config::default()
        };
        HttpConnection::with_config(&format!("127.0.0.1:{}", self.port), config).unwrap()
    }
}

fn start() -> Running {
    let root = tempfile::tempdir().unwrap();
    fs::write(root.path().join("test.txt"), TEXT).unwrap();
    fs::write(root.path().join("page.html"), b"<p>hello</p>\n").unwrap();
    fs::create_dir(root.path().join("sub")).unwrap();
    fs::write(root.path().join("sub/index.html"), b"sub index\n").unwrap();
    let mut inner = SimpleHttpRequestHandler::new(root.path());
    inner.protocol_version = "HTTP/1.1".to_owned();
    let client_ports = Arc::new(Mutex::new(Vec::new()));
    let handler = Recording {
        inner,
        client_ports: Arc::clone(&client_ports),
    };
    let server = HttpServer::with_config(
        ("127.0.0.1", 0),
        handler,
        ThreadingHttpServer::default_config(),
    )
    .unwrap();
    let port = server.server_port();
    let shutdown = server.shutdown_handle();
    let thread = thread::spawn(move || {
        server.serve_forever(Duration::from_millis(20)).unwrap();
    });
    Running {
        port,
        client_ports,
        _root: root,
        shutdown,
        thread: Some(thread),
    }
}

/// One request on `connection`; answers the status, the headers and the whole body.
fn fetch(
    connection: &mut HttpConnection,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
) -> (u16, httpclient::Headers, Vec<u8>) {
    connection
        .request(method, url, Body::Empty, headers)
        .unwrap();
    let mut response = connection.getresponse().unwrap();
    let body = response.read(None).unwrap();
    (response.status, response.headers.clone(), body)
}

fn header(headers: &httpclient::Headers, name: &str) -> Option<String> {
    headers.get(name).map(str::to_owned)
}

// Mirrors test_httpservers: SimpleHTTPServerTestCase.test_get (the file, its headers and body), read through http.client as Python's test does.
#[test]
fn test_get_file_through_the_client() {
    let running = start();
    let mut connection = running.connection();
    let (status, headers, body) = fetch(&mut connection, "GET", "/test.txt", &[]);
    assert_eq!(status, 200);
    assert_eq!(body, TEXT);
    assert_eq!(
        header(&headers, "content-type").as_deref(),
        Some("text/plain")
    );
    assert_eq!(
        header(&headers, "content-length").as_deref(),
        Some(TEXT.len().to_string().as_str())
    );
    assert!(header(&headers, "last-modified").is_some());
    assert!(header(&headers, "etag").is_some());
    let (status, headers, body) = fetch(&mut connection, "GET", "/page.html", &[]);
    assert_eq!(status, 200);
    assert_eq!(body, b"<p>hello</p>\n");
    assert_eq!(
        header(&headers, "content-type").as_deref(),
        Some("text/html")
    );
}

// Mirrors test_httpservers: SimpleHTTPServerTestCase.test_head; and test_httplib: BasicTest.test_read_head (HEAD has no body whatever Content-Length says).
#[test]
fn test_head_through_the_client() {
    let running = start();
    let mut connection = running.connection();
    let (status, headers, body) = fetch(&mut connection, "HEAD", "/test.txt", &[]);
    assert_eq!(status, 200);
    assert!(body.is_empty());
    assert_eq!(
        header(&headers, "content-length").as_deref(),
        Some(TEXT.len().to_string().as_str())
    );
    // The connection is still usable: the client did not wait for a body that never comes.
    let (status, _, body) = fetch(&mut connection, "GET", "/test.txt", &[]);
    assert_eq!((status, body.as_slice()), (200, TEXT));
}

// Mirrors test_httpservers: SimpleHTTPServerTestCase.test_get (301 for a directory without its slash, 404 for a missing file).
#[test]
fn test_redirect_and_not_found_through_the_client() {
    let running = start();
    let mut connection = running.connection();
    let (status, headers, body) = fetch(&mut connection, "GET", "/sub?x=1", &[]);
    assert_eq!(status, 301);
    assert_eq!(header(&headers, "location").as_deref(), Some("/sub/?x=1"));
    assert_eq!(header(&headers, "content-length").as_deref(), Some("0"));
    assert!(body.is_empty());
    let (status, _, body) = fetch(&mut connection, "GET", "/sub/", &[]);
    assert_eq!((status, body.as_slice()), (200, &b"sub index\n"[..]));
    let (status, headers, body) = fetch(&mut connection, "GET", "/missing", &[]);
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("File not found"));
    assert_eq!(
        header(&headers, "content-length").as_deref(),
        Some(body.len().to_string().as_str())
    );
    let (status, _, _) = fetch(&mut connection, "GET", "/test.txt/", &[]);
    assert_eq!(status, 404);
}

// Not in Python: http.server has no Range; the client must read 206, multipart/byteranges and 416 bodies by their framing.
#[test]
fn range_requests_through_the_client() {
    let running = start();
    let mut connection = running.connection();
    let (status, headers, body) = fetch(
        &mut connection,
        "GET",
        "/test.txt",
        &[("Range", "bytes=7-9")],
    );
    assert_eq!((status, body.as_slice()), (206, &b"the"[..]));
    assert_eq!(
        header(&headers, "content-range").as_deref(),
        Some("bytes 7-9/30")
    );
    assert_eq!(header(&headers, "content-length").as_deref(), Some("3"));

    let (status, headers, body) = fetch(
        &mut connection,
        "GET",
        "/test.txt",
        &[("Range", "bytes=0-1,-3")],
    );
    assert_eq!(status, 206);
    let content_type = header(&headers, "content-type").unwrap();
    let boundary = content_type
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap_or_else(|| panic!("{content_type}"));
    assert_eq!(
        header(&headers, "content-length").as_deref(),
        Some(body.len().to_string().as_str())
    );
    let expected = format!(
        "\r\n--{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/30\r\n\r\nWe\
         \r\n--{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 27-29/30\r\n\r\nNi!\
         \r\n--{boundary}--\r\n"
    );
    assert_eq!(String::from_utf8_lossy(&body), expected);

    let (status, headers, _) = fetch(
        &mut connection,
        "GET",
        "/test.txt",
        &[("Range", "bytes=30-")],
    );
    assert_eq!(status, 416);
    assert_eq!(
        header(&headers, "content-range").as_deref(),
        Some("bytes */30")
    );
    // Still one connection: every answer above was framed so the client could read the next.
    let (status, _, body) = fetch(&mut connection, "GET", "/test.txt", &[]);
    assert_eq!((status, body.as_slice()), (200, TEXT));
}

// Not in Python: http.server sends no ETag; test_httplib's BasicTest checks that a 304 has no body, which is what the client must rely on here.
#[test]
fn if_none_match_gives_304_without_a_body() {
    let running = start();
    let mut connection = running.connection();
    let (_, headers, _) = fetch(&mut connection, "GET", "/test.txt", &[]);
    let etag = header(&headers, "etag").unwrap();
    let (status, headers, body) = fetch(
        &mut connection,
        "GET",
        "/test.txt",
        &[("If-None-Match", &etag)],
    );
    assert_eq!(status, 304);
    assert!(body.is_empty());
    assert_eq!(header(&headers, "etag").as_deref(), Some(etag.as_str()));
    let (status, _, body) = fetch(&mut connection, "GET", "/test.txt", &[]);
    assert_eq!((status, body.as_slice()), (200, TEXT));
}

// Mirrors test_httpservers: BaseHTTPServerTestCase.test_head_keep_alive and test_httplib's keep-alive tests, over many requests.
#[test]
fn keep_alive_reuses_one_connection() {
    let running = start();
    let mut connection = running.connection();
    let (_, headers, _) = fetch(&mut connection, "GET", "/test.txt", &[]);
    let etag = header(&headers, "etag").unwrap();
    let local_port = connection.sock().unwrap().local_addr().unwrap().port();
    // Every answer that keeps the connection: 200, HEAD, 301, 206 and 304 (an error closes it, below).
    let requests = 50;
    for number in 0..requests {
        let (method, url, extra, expected) = match number % 5 {
            0 => ("GET", "/test.txt", ("X-Number", "0"), 200),
            1 => ("HEAD", "/page.html", ("X-Number", "1"), 200),
            2 => ("GET", "/sub", ("X-Number", "2"), 301),
            3 => ("GET", "/test.txt", ("Range", "bytes=1-2"), 206),
            _ => ("GET", "/test.txt", ("If-None-Match", etag.as_str()), 304),
        };
        let (status, _, _) = fetch(&mut connection, method, url, &[extra]);
        assert_eq!(status, expected, "request {number}");
        let socket = connection.sock().expect("the connection stays open");
        assert_eq!(
            socket.local_addr().unwrap().port(),
            local_port,
            "request {number}"
        );
    }
    // The server logged every request, all from the client's one port.
    let ports = running.client_ports.lock().unwrap().clone();
    assert_eq!(ports.len(), requests + 1);
    assert!(ports.iter().all(|&port| port == local_port), "{ports:?}");

    // As in Python, send_error sends `Connection: close`; the client sees it and opens a new connection for the next request.
    let (status, headers, _) = fetch(&mut connection, "GET", "/missing", &[]);
    assert_eq!(status, 404);
    assert_eq!(header(&headers, "connection").as_deref(), Some("close"));
    assert!(connection.sock().is_none());
    let (status, _, body) = fetch(&mut connection, "GET", "/test.txt", &[]);
    assert_eq!((status, body.as_slice()), (200, TEXT));
    let new_port = connection.sock().unwrap().local_addr().unwrap().port();
    assert_ne!(new_port, local_port);
    let ports = running.client_ports.lock().unwrap().clone();
    assert_eq!(ports[requests + 1..], [local_port, new_port]);
}
