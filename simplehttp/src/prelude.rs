//! The names a program built on the file handler uses, for one glob import: `use simplehttp::prelude::*;`.
//!
//! basehttp's prelude (the handler trait, the request, the servers, `std::io` and [`base!`](basehttp::base)) with
//! [`SimpleHttpRequestHandler`] and its [`SimpleHooks`]
//! (`translate_path`, `list_directory`, ...): Python's `from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer`.
//!
//! ```no_run
//! use simplehttp::prelude::*;
//!
//! /// Python's `class NoCache(SimpleHTTPRequestHandler)` overriding `end_headers`.
//! struct NoCache(SimpleHttpRequestHandler);
//!
//! impl BaseHttpRequestHandler for NoCache {
//!     base!(0);
//!
//!     fn end_headers(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
//!         req.send_header("Cache-Control", "no-store")
//!     }
//! }
//!
//! fn main() -> io::Result<()> {
//!     let handler = NoCache(SimpleHttpRequestHandler::new("."));
//!     ThreadingHttpServer::new("127.0.0.1:8000", handler)?.serve_forever(POLL_INTERVAL)
//! }
//! ```

pub use crate::{SimpleHooks, SimpleHttpRequestHandler};
pub use basehttp::prelude::*;
