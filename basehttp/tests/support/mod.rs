//! Shared helpers of the socket tests: a server on 127.0.0.1:0 in a thread, raw exchanges, and a small response reader.

#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use basehttp::{BaseHttpRequestHandler, HttpServer, ThreadingHttpServer};
use socketserver::{ServerConfig, ShutdownHandle};

/// A running server, shut down when dropped.
pub struct Running {
    pub port: u16,
    shutdown: ShutdownHandle,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.shutdown();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts `handler` on a threading server bound to 127.0.0.1:0.
pub fn start(handler: impl BaseHttpRequestHandler) -> Running {
    let server = ThreadingHttpServer::new(("127.0.0.1", 0), handler).expect("bind 127.0.0.1:0");
    run(server.into_inner())
}

/// Starts `handler` on a server bound to 127.0.0.1:0 with `config`.
pub fn start_with_config(handler: impl BaseHttpRequestHandler, config: ServerConfig) -> Running {
    run(HttpServer::with_config(("127.0.0.1", 0), handler, config).expect("bind 127.0.0.1:0"))
}

/// Serves `server` (built by the caller: a handler set up with TLS or trusted proxies) from a thread.
pub fn run_server(server: HttpServer) -> Running {
    run(server)
}

fn run(server: HttpServer) -> Running {
    let port = server.server_port();
    let shutdown = server.shutdown_handle();
    let thread = std::thread::spawn(move || {
        server
            .serve_forever(Duration::from_millis(20))
            .expect("serve_forever");
    });
    Running {
        port,
        shutdown,
        thread: Some(thread),
    }
}

/// Connects to the server with a generous read timeout, so a broken test fails instead of hanging.
pub fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
}

/// Sends `request` exactly as given, then reads until the server closes the connection.
pub fn exchange_raw(port: u16, request: &[u8]) -> String {
    let mut stream = connect(port);
    stream.write_all(request).expect("send");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

/// Like [`exchange_raw`] with LF written as CRLF, so fixtures read naturally.
pub fn exchange(port: u16, request: &str) -> String {
    exchange_raw(port, request.replace('\n', "\r\n").as_bytes())
}

/// One response read from a kept-alive connection.
#[derive(Debug)]
pub struct Response {
    pub status_line: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name`, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn status(&self) -> u16 {
        self.status_line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0)
    }
}

/// Reads one response whose body is framed by `Content-Length` (absent means empty, for HEAD, 1xx, 204, 304).
pub fn read_response(reader: &mut impl BufRead) -> io::Result<Response> {
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    if status_line.is_empty() {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "no response"));
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
    let mut response = Response {
        status_line: status_line.trim_end().to_owned(),
        headers,
        body: Vec::new(),
    };
    let length: usize = response
        .header("Content-Length")
        .and_then(|length| length.parse().ok())
        .unwrap_or(0);
    response.body = vec![0; length];
    reader.read_exact(&mut response.body)?;
    Ok(response)
}

/// A keep-alive client connection.
pub struct Client {
    pub reader: BufReader<TcpStream>,
    pub writer: TcpStream,
}

impl Client {
    pub fn new(port: u16) -> Self {
        let stream = connect(port);
        Client {
            writer: stream.try_clone().expect("clone"),
            reader: BufReader::new(stream),
        }
    }

    /// Sends `request` (LF written as CRLF) and reads one response.
    pub fn request(&mut self, request: &str) -> Response {
        self.send(request.replace('\n', "\r\n").as_bytes());
        read_response(&mut self.reader).expect("response")
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("send");
    }

    /// Whether the server has closed the connection (end of file with nothing more).
    pub fn is_closed(&mut self) -> bool {
        let mut rest = Vec::new();
        matches!(self.reader.read_to_end(&mut rest), Ok(0))
    }
}

/// Log lines captured by a handler's `log_message` override.
#[derive(Clone, Default)]
pub struct Log(pub Arc<Mutex<Vec<String>>>);

impl Log {
    pub fn push(&self, line: String) {
        self.0
            .lock()
            .unwrap_or_else(|error| error.into_inner())
            .push(line);
    }

    pub fn lines(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(|error| error.into_inner())
            .clone()
    }
}
