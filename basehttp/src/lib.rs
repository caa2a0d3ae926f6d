//! Python's `http.server` base layer (`BaseHTTPServer` in Python 2): `HttpServer`, `ThreadingHttpServer` and the request-handler base.
//!
//! Issue 3 fills this crate; it builds on [`socketserver`].
#![deny(missing_docs)]
#![forbid(unsafe_code)]
