//! What the socket tests of simplehttp share: a handler that does not log, served on a free port until dropped.

// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::thread;
use std::time::Duration;

use basehttp::{HttpRequest, HttpServer, ThreadingHttpServer};
use simplehttp::SimpleHttpRequestHandler;

/// A quiet handler, so test output stays readable: the file handler as its base, with only `log_message` changed.
pub struct Quiet(pub SimpleHttpRequestHandler);

impl basehttp::BaseHttpRequestHandler for Quiet {
    fn base(&self) -> Option<&dyn basehttp::BaseHttpRequestHandler> {
        Some(&self.0)
    }
    fn log_message(&self, _: &HttpRequest<'_>, _: std::fmt::Arguments<'_>) {}
}

/// A server in this process on 127.0.0.1 and a free port, serving a quiet handler; shut down when dropped.
pub struct Serving {
    pub port: u16,
    shutdown: socketserver::ShutdownHandle,
    thread: Option<thread::JoinHandle<()>>,
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.shutdown.shutdown();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves `handler`, without its log, from a threading server on a free port.
pub fn serve_quietly(handler: SimpleHttpRequestHandler) -> Serving {
    let server = HttpServer::with_config(
        ("127.0.0.1", 0),
        Quiet(handler),
        ThreadingHttpServer::default_config(),
    )
    .unwrap();
    let port = server.server_port();
    let shutdown = server.shutdown_handle();
    let thread = thread::spawn(move || {
        server.serve_forever(Duration::from_millis(20)).unwrap();
    });
    Serving {
        port,
        shutdown,
        thread: Some(thread),
    }
}

/// The `simplehttp` command running as a child process; killed when dropped.
#[cfg(feature = "cli")]
pub struct Command {
    pub child: std::process::Child,
    pub port: u16,
}

#[cfg(feature = "cli")]
impl Drop for Command {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(feature = "cli")]
impl Command {
    /// Starts `simplehttp 0 -b 127.0.0.1 ARGUMENTS -d DIRECTORY` and reads its port from the banner.
    pub fn start(
        directory: &std::path::Path,
        arguments: &[&str],
        stderr: std::process::Stdio,
    ) -> Command {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_simplehttp"))
            .args(["0", "-b", "127.0.0.1"])
            .args(arguments)
            .arg("-d")
            .arg(directory)
            .stdout(std::process::Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut banner = String::new();
        stdout.read_line(&mut banner).unwrap();
        let port = banner
            .split(" port ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("unexpected banner {banner:?}"));
        // The rest of stdout is not read; keep the pipe open so the server never gets EPIPE on it.
        std::mem::forget(stdout);
        Command { child, port }
    }

    /// How many threads the server process has now.
    pub fn threads(&self) -> usize {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("Threads:"))
            .and_then(|count| count.trim().parse().ok())
            .unwrap()
    }
}

/// One answer read whole: status, headers (names lowercased, in order) and body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    /// The first value of a header, by its name in any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(candidate, _)| *candidate == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Sends `method path` with `headers` (and `body`) over HTTP/1.0 on a fresh connection and reads the answer until the server closes.
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut head = format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    parse_answer(&response)
}

/// GET with `headers`.
pub fn get(port: u16, path: &str, headers: &[(&str, &str)]) -> Answer {
    request(port, "GET", path, headers, b"")
}

/// Reads a whole HTTP/1.x answer from bytes.
pub fn parse_answer(response: &[u8]) -> Answer {
    let end = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {:?}", String::from_utf8_lossy(response)));
    let head = String::from_utf8_lossy(&response[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: response[end + 4..].to_vec(),
    }
}

/// A handler serving `directory` with `options`.
pub fn handler_with(
    directory: &std::path::Path,
    options: simplehttp::FileOptions,
) -> SimpleHttpRequestHandler {
    let mut handler = SimpleHttpRequestHandler::new(directory);
    handler.options = options;
    handler
}
