//! Python's `http.server` base layer (`BaseHTTPServer` in Python 2): [`HttpServer`], [`ThreadingHttpServer`]
//! and the request-handler base [`BaseHttpRequestHandler`], built on [`socketserver`].
//!
//! Python's "subclass `BaseHTTPRequestHandler` and define `do_GET`" becomes "implement [`BaseHttpRequestHandler`]
//! and override [`do_get`](BaseHttpRequestHandler::do_get)"; the per-request state Python keeps on the handler
//! (`self.path`, `self.headers`, `self.wfile`, ...) lives in the [`HttpRequest`] handed to each hook.
//!
//! # Example
//!
//! Python's canonical `run()`:
//!
//! ```python
//! def run(server_class=HTTPServer, handler_class=BaseHTTPRequestHandler):
//!     server_address = ('', 8000)
//!     httpd = server_class(server_address, handler_class)
//!     httpd.serve_forever()
//! ```
//!
//! The same in Rust, with a handler that greets, on a free port, answered once from a client thread:
//!
//! ```
//! use std::io::{self, Read, Write};
//! use std::net::TcpStream;
//! use std::time::Duration;
//!
//! use basehttp::{BaseHttpRequestHandler, HttpRequest, HttpServer};
//!
//! struct Hello;
//!
//! impl BaseHttpRequestHandler for Hello {
//!     fn do_get(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
//!         let body = b"Hello Python World";
//!         req.send_response(200, None)?;
//!         req.send_header("Content-Type", "text/plain")?;
//!         req.send_header("Content-Length", &body.len().to_string())?;
//!         req.end_headers()?;
//!         req.wfile.write_all(body)
//!     }
//!
//!     fn log_message(&self, _req: &HttpRequest<'_>, _message: std::fmt::Arguments<'_>) {}
//! }
//!
//! fn main() -> io::Result<()> {
//!     let httpd = HttpServer::new(("127.0.0.1", 0), Hello)?;
//!     let port = httpd.server_port();
//!     let shutdown = httpd.shutdown_handle();
//!     let client = std::thread::spawn(move || -> io::Result<String> {
//!         let mut stream = TcpStream::connect(("127.0.0.1", port))?;
//!         stream.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
//!         let mut response = String::new();
//!         stream.read_to_string(&mut response)?;
//!         shutdown.shutdown();
//!         Ok(response)
//!     });
//!     httpd.serve_forever(Duration::from_millis(50))?;
//!     let response = client.join().expect("client thread")?;
//!     assert!(response.starts_with("HTTP/1.0 200 OK\r\n"));
//!     assert!(response.ends_with("\r\n\r\nHello Python World"));
//!     Ok(())
//! }
//! ```
//!
//! # Python name → Rust item
//!
//! | Python (`http.server`)                          | Rust                                                        |
//! |-------------------------------------------------|-------------------------------------------------------------|
//! | `HTTPServer`                                    | [`HttpServer`]                                              |
//! | `ThreadingHTTPServer`                           | [`ThreadingHttpServer`]                                     |
//! | `BaseHTTPRequestHandler`                        | [`BaseHttpRequestHandler`] (trait) + [`HttpRequest`] (state) |
//! | `do_GET`, `do_HEAD`, `do_POST`, ...             | [`BaseHttpRequestHandler::do_get`], `do_head`, `do_post`, ... |
//! | `do_<ANY>` found by `getattr`                   | [`BaseHttpRequestHandler::do_method`]                       |
//! | `server_version`, `sys_version`                 | [`BaseHttpRequestHandler::server_version`], [`SYS_VERSION`] |
//! | `protocol_version`                              | [`BaseHttpRequestHandler::protocol_version`]; compared as numbers with [`HttpVersion`] |
//! | `error_message_format`, `error_content_type`    | [`BaseHttpRequestHandler::error_message_format`], [`DEFAULT_ERROR_MESSAGE`] |
//! | `handle_expect_100`                             | [`BaseHttpRequestHandler::handle_expect_100`]               |
//! | overriding `end_headers` (a header on every response) | [`BaseHttpRequestHandler::end_headers`], called by [`HttpRequest::end_headers`] |
//! | `class Mine(SomeHandler)`, `super().do_GET()`   | [`BaseHttpRequestHandler::base`], written by [`base!`] (every method left alone comes from the base), then `self.base_field.do_get(req)` |
//! | `self.server` (shared state), `self.server.server_name`, `server_port` | the handler value itself (one serves every connection); [`HttpRequest::server_name`], [`HttpRequest::server_port`], [`HttpRequest::server_address`](HttpRequest#structfield.server_address) |
//! | `log_message`                                   | [`BaseHttpRequestHandler::log_message`], [`log_line`]; the access log's destination: [`set_access_log`] |
//! | `self.command`, `path`, `request_version`, `headers`, `requestline`, `close_connection`, `client_address` | fields of [`HttpRequest`] |
//! | `translate_path`'s and `_url_collapse_path`'s reading of `self.path` | [`RequestTarget`], [`HttpRequest::target`] (one reading for every layer) |
//! | `self.rfile`                                    | [`HttpRequest::rfile`], a [`Body`] ending with the body      |
//! | `self.wfile`                                    | [`HttpRequest::wfile`], buffered, sent after each hook       |
//! | `self.connection` (the socket)                  | [`HttpRequest::connection_socket`] (to watch); [`HttpRequest::send_file`] for `shutil.copyfileobj` of a file |
//! | `send_response`, `send_response_only`           | [`HttpRequest::send_response`], [`HttpRequest::send_response_only`] |
//! | `send_header`, `end_headers`, `flush_headers`   | [`HttpRequest::send_header`], [`HttpRequest::end_headers`], [`HttpRequest::flush_headers`] |
//! | `send_error(code, message, explain)`            | [`HttpRequest::send_error`], [`HttpRequest::send_error_explain`] |
//! | overriding `send_error` (a page of one's own)   | [`BaseHttpRequestHandler::send_error`], with [`HttpRequest::send_error_page`] for Python's page |
//! | (none: Python has no authentication layer) an `Authorization` check before each `do_*` | [`Authenticated`] or [`Authenticator::authorize`] over [`Users`] (htpasswd, htdigest), [`AuthSettings`], [`Throttle`]; who logged in: [`HttpRequest::authenticated_user`], [`AuthenticatedUser`] |
//! | `log_request`, `log_error`                      | [`HttpRequest::log_request`], [`HttpRequest::log_error`]    |
//! | `address_string`, `version_string`              | [`HttpRequest::address_string`], [`HttpRequest::version_string`] |
//! | `date_time_string`, `log_date_time_string`      | [`date_time_string`], [`log_date_time_string`] (UTC)        |
//! | `responses`, `http.HTTPStatus`                  | [`BaseHttpRequestHandler::responses`], [`responses`], [`RESPONSES`] |
//! | `MessageClass` (`http.client.HTTPMessage`)      | [`Headers`]                                                 |
//! | `parse_request`, `http.client.parse_headers`    | [`HeadParser`], [`parse_head`], [`parse_request_line`]      |
//! | `handle`, `handle_one_request`                  | [`serve_connection`], run by [`HttpHandler`] (a state machine per connection in readiness mode) |
//! | `urllib.parse.parse_qs`, `parse_qsl` (`keep_blank_values`, `strict_parsing`, `errors`, `max_num_fields`) | [`parse_qs`], [`parse_qsl`], [`parse_qs_with`], [`parse_qsl_with`], [`QueryOptions`] |
//! | `urllib.parse.unquote`, `unquote_plus`, `quote`, `quote_plus`, `urlencode` | [`unquote`], [`unquote_with`], [`unquote_plus`], [`quote`], [`quote_plus`], [`urlencode`] |
//! | `urllib.parse.urlsplit`, `urlparse`, `SplitResult` (`hostname`, `port`, ...) | [`urlsplit`], [`SplitResult`]; `ValueError` is [`UrlParseError`] |
//! | `self.headers.get("Authorization") == "Basic " + key` | [`HttpRequest::basic_credentials`], [`BasicCredentials::matches`] (constant time) |
//! | `from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer` | `use basehttp::prelude::*;` ([`prelude`]) |
//! | `serve_forever()` with its default `poll_interval=0.5` | [`HttpServer::serve_forever`]`(`[`POLL_INTERVAL`]`)` |
//! | `HTTPSServer` (Python 3.14)                     | [`HttpServer::with_tls`], [`HttpHandler::with_tls`], [`tls_server_config`] (feature `tls`) |
//! | `http.server.test()`'s banner and Ctrl-C        | [`serving_message`], [`serve_until_interrupted`]            |
//! | (none: a service's signals, SIGTERM's drain and SIGHUP's log reopening; not in Python) | [`serve_until_signalled`], [`Stopped`], [`reopen_access_log`] |
//! | (none: Common, Combined and JSON access lines; not in Python) | [`set_log_format`], [`LogFormat`] |
//! | (none: request counters for monitoring; not in Python) | [`http_metrics`], [`HttpMetrics`], [`record_auth_failure`] (the hook an authentication layer calls) |
//! | (none: clients behind a proxy; not in Python) | [`HttpHandler::with_trusted_proxies`], [`TrustedProxies`], [`ForwardedHeader`], [`parse_proxy_header`], [`HttpRequest::peer_address`] |
//!
//! # Better than Python
//!
//! - `rfile` ends where the request body ends (`Content-Length` or chunked); an unread body is drained before the next request,
//!   up to [`Limits::drain_limit`], or the connection is closed. Python parses a leftover body as the next request.
//! - Request smuggling shapes are refused with 400 (`Content-Length` with `Transfer-Encoding`, several or malformed
//!   `Content-Length`s, whitespace before a colon, CR or NUL in a value, obsolete line folding); a `Transfer-Encoding`
//!   other than `chunked` gets 501.
//! - [`HttpRequest::send_header`] refuses CR and LF instead of sending them.
//! - Idle connections and slow heads are timed out ([`Limits`]); Python waits forever by default.
//! - A panicking hook answers 500 (when nothing was sent yet) and the server goes on serving.
//! - TCP_NODELAY is on, and headers and a small body leave in one write.
//! - After a refusal, a panic or an unread body, the connection closes lingering (it reads away what the client
//!   still sends for a moment), so the kernel does not reset the connection under the response.
//! - A malformed chunked body read through `rfile` answers 400 when the hook has not answered yet.
//! - The whole head is bounded ([`Limits::max_head_size`], 32 KiB), bodies may be ([`Limits::max_body_size`], 413 through [`BodyTooLarge`]),
//!   and chunk extensions and trailers follow RFC 9112's grammar.
//! - RFC 9112 where Python is lenient: a request-target with a byte RFC 3986 does not allow (a raw `#`, a control, non-ASCII) gets 400,
//!   an HTTP/1.1 request without `Host`, or with two or an invalid one, gets 400, an absolute-form target (`GET http://host/path`)
//!   is served with its authority as the host, and one empty line before a request line is skipped.
//!
//! Python's `log_date_time_string` uses local time; this crate forbids `unsafe` and std has no local-time API, so logs are in UTC.
#![deny(missing_docs)]
#![warn(unreachable_pub)]
#![forbid(unsafe_code)]

mod auth;
mod body;
mod buffer;
mod connection;
mod handler;
mod headers;
mod log;
mod machine;
mod metrics;
mod output;
mod parse;
pub mod prelude;
mod proxy;
mod server;
mod status;
mod target;
mod text;
#[cfg(feature = "tls")]
mod tls;
mod urlparse;
mod version;

pub use auth::{
    AuthSettings, Authenticated, Authenticator, BasicCredentials, PasswordFileError, Throttle,
    Users,
};
pub use body::{
    parse_chunk_size, write_chunk, write_last_chunk, Body, BodyTooLarge, ChunkSizeError,
    ChunkedReader, LengthReader, MAX_CHUNK_LINE,
};
pub use connection::{serve_connection, ConnectionInfo};
pub use handler::{
    log_line, unsupported_method, AuthenticatedUser, BaseHttpRequestHandler, HeaderBlock,
    HttpRequest, Limits, RequestBody, ResponseWriter, SERVER_VERSION, SYS_VERSION,
};
pub use headers::Headers;
pub use log::{
    flush_access_log, reopen_access_log, set_access_log, set_log_format, AccessLog, LogFormat,
};
pub use metrics::{
    http_metrics, record_auth_failure, HttpMetrics, DURATION_BUCKETS, METHODS, STATUS_CLASSES,
};
pub use parse::{
    decode_request_line, parse_head, parse_request_line, BodyFraming, HeadParser, ParseError,
    RequestHead, RequestLine, Status, MAX_HEADERS, MAX_HEAD_SIZE, MAX_LINE,
};
pub use proxy::{
    parse_proxy_header, ForwardedHeader, IpNet, ProxyHeader, TrustedProxies, MAX_PROXY_HEADER,
};
pub use server::{
    serve_until_interrupted, serve_until_signalled, serving_message, HttpHandler, HttpServer,
    Stopped, ThreadingHttpServer,
};
/// Python's default `poll_interval` of `serve_forever`, for [`HttpServer::serve_forever`] (socketserver's).
pub use socketserver::POLL_INTERVAL;
pub use status::{responses, RESPONSES};
pub use target::RequestTarget;
pub use text::{
    date_time_string, escape_log, format_error_message, html_escape, log_date_time_string,
    python_repr, rfc3339_date_time, DEFAULT_ERROR_CONTENT_TYPE, DEFAULT_ERROR_MESSAGE,
};
#[cfg(feature = "tls")]
pub use tls::{tls_server_config, ALPN_PROTOCOLS};
pub use urlparse::{
    parse_qs, parse_qs_with, parse_qsl, parse_qsl_with, quote, quote_plus, unquote, unquote_plus,
    unquote_with, urlencode, urlsplit, DecodeErrors, QueryOptions, SplitResult, UrlParseError,
};
pub use version::HttpVersion;
