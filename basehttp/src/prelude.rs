//! The names nearly every handler program uses, for one glob import: `use basehttp::prelude::*;`.
//!
//! Python's `from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer` in one line, with what a hook's
//! signature and body need from `std::io` (the module for `io::Result`, and the `Read`, `Write` and `BufRead` traits of
//! `rfile` and `wfile`), [`base!`](crate::base) for a handler that extends another, and
//! [`address_arg`] for the address a program is run on.
//!
//! ```
//! use basehttp::prelude::*;
//!
//! struct Hello;
//!
//! impl BaseHttpRequestHandler for Hello {
//!     fn do_get(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
//!         req.send_response(200, None)?;
//!         req.send_header("Content-Length", "6")?;
//!         req.end_headers()?;
//!         req.wfile.write_all(b"hello\n")
//!     }
//! }
//! # let _ = ThreadingHttpServer::new("127.0.0.1:0", Hello)?;
//! # Ok::<(), io::Error>(())
//! ```

pub use crate::{
    base, BaseHttpRequestHandler, HttpRequest, HttpServer, ThreadingHttpServer, POLL_INTERVAL,
};
pub use socketserver::address_arg;
pub use std::io::{self, BufRead, Read, Write};
