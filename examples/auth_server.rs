//! Python's auth_server.py: the file server (serving `www/`) behind HTTP Basic authentication as `admin:secret`;
//! without the right credentials, GET and HEAD get 401 with a `WWW-Authenticate` challenge.
//!
//! Usage: `auth_server [ADDRESS]` (default `127.0.0.1:8081`, the Python's; port 0 picks a free one).
//! Serves `www` under the current directory.

use simplehttp::prelude::*;

struct AuthHandler(SimpleHttpRequestHandler);

/// Python's `authorized`: it takes no state of the handler, so it is a function of the request.
fn authorized(req: &mut HttpRequest<'_>) -> io::Result<bool> {
    if matches!(req.basic_credentials(), Some(user) if user.matches("admin", "secret")) {
        return Ok(true);
    }
    req.send_response(401, None)?;
    req.send_header("WWW-Authenticate", "Basic realm=\"files\"")?;
    req.send_header("Content-Type", "text/plain")?;
    req.end_headers()?;
    req.wfile.write_all(b"Authentication required\n")?;
    Ok(false)
}

impl BaseHttpRequestHandler for AuthHandler {
    base!(0);

    fn do_head(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        if authorized(req)? {
            self.0.do_head(req)?;
        }
        Ok(())
    }

    fn do_get(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        if authorized(req)? {
            self.0.do_get(req)?;
        }
        Ok(())
    }
}

fn main() -> io::Result<()> {
    let handler = AuthHandler(SimpleHttpRequestHandler::new("www"));
    ThreadingHttpServer::new(address_arg("127.0.0.1:8081"), handler)?.serve_forever(POLL_INTERVAL)
}
