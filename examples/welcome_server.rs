//! The classic BaseHTTPServer welcome page: `GET /` answers "Hello Python World", anything else 404.
//!
//! ```python
//! class WelcomeHandler(BaseHTTPServer.BaseHTTPRequestHandler):
//!     def do_GET(self):
//!         if self.path == "/":
//!             self.send_response(200)
//!             self.send_header("Content-type", "text/html")
//!             self.end_headers()
//!             self.wfile.write("<html><head><title>Web Page</title></head><body>Hello Python World</body></html>")
//!         else:
//!             self.send_error(404, "File not found")
//!
//! BaseHTTPServer.HTTPServer(("", 80), WelcomeHandler).serve_forever()
//! ```
//!
//! Usage: `welcome_server [PORT]` (default 8000; the original bound port 80).

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use basehttp::{
    serve_until_interrupted, serving_message, BaseHttpRequestHandler, HttpRequest, HttpServer,
};

struct WelcomeHandler;

impl BaseHttpRequestHandler for WelcomeHandler {
    fn do_get(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        if req.path == "/" {
            req.send_response(200, None)?;
            req.send_header("Content-type", "text/html")?;
            req.end_headers()?;
            req.wfile.write_all(
                b"<html><head><title>Web Page</title></head><body>Hello Python World</body></html>",
            )
        } else {
            req.send_error(404, Some("File not found"))
        }
    }
}

fn main() -> ExitCode {
    let port = match std::env::args().nth(1).map(|port| port.parse::<u16>()) {
        None => 8000,
        Some(Ok(port)) => port,
        Some(Err(_)) => {
            eprintln!("usage: welcome_server [PORT]");
            return ExitCode::from(2);
        }
    };
    let server = match HttpServer::new(("0.0.0.0", port), WelcomeHandler) {
        Ok(server) => server,
        Err(error) => {
            eprintln!("welcome_server: cannot listen on port {port}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = io::stdout();
    let _ = writeln!(stdout, "{}", serving_message(server.server_address()));
    let _ = stdout.flush();
    match serve_until_interrupted(&server, Duration::from_millis(500)) {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("welcome_server: {error}");
            ExitCode::FAILURE
        }
    }
}
