//! `echo_http [PORT] [-b ADDRESS] [-p PROTOCOL]`: a small HTTP server on basehttp, used by the smoke tests.
//!
//! `GET /` answers a greeting page, any other `GET` a 404, `POST /echo` echoes the request body
//! (`Content-Length` or chunked), and `GET /panic` panics inside the handler to show the server survives it.
//! Ctrl-C (SIGINT) stops it with exit status 0.

use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use basehttp::{
    serve_until_interrupted, serving_message, BaseHttpRequestHandler, HttpRequest, HttpServer,
};
use socketserver::{Mode, ServerConfig};

const PAGE: &str =
    "<html><head><title>Web Page</title></head><body>Hello Python World</body></html>";

struct EchoHandler {
    protocol_version: String,
}

impl BaseHttpRequestHandler for EchoHandler {
    fn protocol_version(&self) -> &str {
        &self.protocol_version
    }

    fn do_get(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        match req.path.as_str() {
            "/" => send(req, "text/html", PAGE.as_bytes()),
            "/panic" => panic!("GET /panic asked the handler to panic"),
            _ => req.send_error(404, Some("File not found")),
        }
    }

    fn do_post(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        if req.path != "/echo" {
            return req.send_error(404, Some("File not found"));
        }
        let mut body = Vec::new();
        req.rfile.read_to_end(&mut body)?;
        send(req, "application/octet-stream", &body)
    }
}

fn send(req: &mut HttpRequest<'_>, content_type: &str, body: &[u8]) -> io::Result<()> {
    req.send_response(200, None)?;
    req.send_header("Content-Type", content_type)?;
    req.send_header("Content-Length", &body.len().to_string())?;
    req.end_headers()?;
    req.wfile.write_all(body)
}

struct Arguments {
    port: u16,
    bind: String,
    protocol: String,
}

fn parse_arguments() -> Result<Arguments, String> {
    let mut arguments = Arguments {
        port: 8000,
        bind: "0.0.0.0".to_owned(),
        protocol: "HTTP/1.0".to_owned(),
    };
    let mut words = std::env::args().skip(1);
    while let Some(word) = words.next() {
        match word.as_str() {
            "-b" | "--bind" => arguments.bind = words.next().ok_or("-b needs an address")?,
            "-p" | "--protocol" => {
                arguments.protocol = words.next().ok_or("-p needs a protocol")?
            }
            "-h" | "--help" => return Err(String::new()),
            port => arguments.port = port.parse().map_err(|_| format!("invalid port: {port}"))?,
        }
    }
    Ok(arguments)
}

fn main() -> ExitCode {
    let arguments = match parse_arguments() {
        Ok(arguments) => arguments,
        Err(error) => {
            if !error.is_empty() {
                eprintln!("echo_http: {error}");
            }
            eprintln!("usage: echo_http [PORT] [-b ADDRESS] [-p PROTOCOL]");
            return ExitCode::from(2);
        }
    };
    let handler = EchoHandler {
        protocol_version: arguments.protocol,
    };
    // Readiness mode: workers on one epoll set instead of a thread per connection, which spends most of a core switching tasks
    // (see ARCHITECTURE.md, "Concurrency model and its measured cost"). One worker per core the process may run on.
    let workers = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    let config = ServerConfig {
        mode: Mode::Readiness { workers },
        request_queue_size: 1024,
        ..HttpServer::default_config()
    };
    let server =
        match HttpServer::with_config((arguments.bind.as_str(), arguments.port), handler, config) {
            Ok(server) => server,
            Err(error) => {
                eprintln!(
                    "echo_http: cannot listen on {}:{}: {error}",
                    arguments.bind, arguments.port
                );
                return ExitCode::FAILURE;
            }
        };
    let mut stdout = io::stdout();
    let _ = writeln!(stdout, "{}", serving_message(server.server_address()));
    let _ = stdout.flush();
    match serve_until_interrupted(&server, Duration::from_millis(500)) {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("echo_http: {error}");
            ExitCode::FAILURE
        }
    }
}
