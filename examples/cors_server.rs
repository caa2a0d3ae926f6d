//! Python's cors_server.py: a file server that adds CORS headers to every response by overriding `end_headers`,
//! and answers `OPTIONS` preflights with 204.
//!
//! Usage: `cors_server [ADDRESS]` (default `127.0.0.1:8082`, the Python's; port 0 picks a free one).
//! Serves the current directory.

use simplehttp::prelude::*;

struct CorsRequestHandler(SimpleHttpRequestHandler);

impl BaseHttpRequestHandler for CorsRequestHandler {
    base!(0);

    fn end_headers(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        req.send_header("Access-Control-Allow-Origin", "*")?;
        req.send_header("Cache-Control", "no-store")
    }

    fn do_options(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        req.send_response(204, None)?;
        req.send_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")?;
        req.end_headers()
    }
}

fn main() -> io::Result<()> {
    let handler = CorsRequestHandler(SimpleHttpRequestHandler::new("."));
    ThreadingHttpServer::new(address_arg("127.0.0.1:8082"), handler)?.serve_forever(POLL_INTERVAL)
}
