//! Python's upload_server.py: the file server extended with `do_PUT` (and `do_POST`, the same) writing the request body
//! to the file the path names, creating its directories; `PUT` of a directory is refused with 405.
//!
//! Usage: `upload_server [ADDRESS]` (default `127.0.0.1:8083`, the Python's; port 0 picks a free one).
//! Serves the current directory.

use simplehttp::{path_ends_with_slash, prelude::*};
use std::fs;

struct UploadHandler(SimpleHttpRequestHandler);

impl BaseHttpRequestHandler for UploadHandler {
    base!(0);

    fn do_put(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        let path = self.0.translate_path(&req.path);
        if path_ends_with_slash(&path) {
            return req.send_error(405, Some("Cannot PUT a directory"));
        }
        fs::create_dir_all(path.parent().unwrap_or(&path))?;
        io::copy(&mut req.rfile, &mut fs::File::create(&path)?)?;
        req.send_response(201, Some("Created"))?;
        req.send_header("Content-Length", "0")?;
        req.end_headers()
    }

    fn do_post(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        self.do_put(req)
    }
}

fn main() -> io::Result<()> {
    let handler = UploadHandler(SimpleHttpRequestHandler::new("."));
    ThreadingHttpServer::new(address_arg("127.0.0.1:8083"), handler)?.serve_forever(POLL_INTERVAL)
}
