//! Python's `http.client` (`httplib` in Python 2): a blocking HTTP/1.1 client.
//!
//! The same connection object, state machine, framing rules and exceptions as Python,
//! with what Python lacks: separate connect, read and write timeouts, strict chunk sizes,
//! replacement of kept-alive sockets the server closed while idle, and HTTPS over rustls.
//!
//! | Python | Rust |
//! | --- | --- |
//! | `http.client.HTTPConnection(host, port, timeout, source_address, blocksize)`, `auto_open` | [`HttpConnection::new`], [`HttpConnection::with_config`] with [`Config`] |
//! | `timeout` | [`Timeouts`] (connect, read, write), [`Error::Timeout`] says which fired |
//! | `conn.request(method, url, body, headers)` | [`HttpConnection::request`] with a [`Body`] |
//! | `putrequest`, `putheader`, `endheaders`, `send` | [`HttpConnection::putrequest`], [`HttpConnection::putheader`], [`HttpConnection::endheaders`], [`HttpConnection::send`] |
//! | `getresponse`, `set_tunnel`, `set_debuglevel`, `close`, `connect` | [`HttpConnection::getresponse`], [`HttpConnection::set_tunnel`], [`HttpConnection::set_debuglevel`], [`HttpConnection::close`], [`HttpConnection::connect`] |
//! | `http.client.HTTPResponse` | [`HttpResponse`] (also `std::io::Read` and `BufRead`) |
//! | `resp.status`, `reason`, `version`, `headers` | [`HttpResponse::status`], [`HttpResponse::reason`], [`HttpResponse::version`], [`HttpResponse::headers`] |
//! | `getheader`, `getheaders`, `read`, `readinto`, `read1`, `peek`, `readline`, `isclosed`, `fileno` | methods of the same names on [`HttpResponse`] |
//! | `http.client.HTTPMessage` | [`Headers`] |
//! | `http.client.HTTPSConnection(host, context=...)` | `HttpsConnection::new`, `HttpsConnection::with_context` (feature `tls`, on by default) |
//! | `ssl.create_default_context()` (the system's CA certificates) | `TlsConfig::new` |
//! | `ssl.create_default_context(cafile=path)`, `context.load_verify_locations(cafile=path)` | `TlsConfig::from_ca_file`, `TlsConfig::add_ca_file` |
//! | `context.check_hostname = False; context.verify_mode = ssl.CERT_NONE` | `TlsConfig::danger_accept_invalid_certs` |
//! | `ssl.SSLCertVerificationError`, `ssl.SSLError` | `Error::Certificate` (with a `CertificateProblem`), `Error::Handshake`, `Error::Tls` |
//! | `httplib.HTTP` (Python 2): `getreply`, `getfile` | [`Http`] |
//! | `HTTPException` and its subclasses | [`Error`], one variant per exception Python raises (it never raises `UnknownTransferEncoding` or `UnimplementedFileMode`, so neither exists here) |
//! | `IncompleteRead(partial, expected)` | [`Error::IncompleteRead`], displayed as Python's repr: `IncompleteRead(7 bytes read, 3 more expected)` |
//! | `except TimeoutError`, `except ConnectionRefusedError`, `except ssl.SSLError` | [`Error::is_timeout`], [`Error::is_connect`], [`Error::is_tls`] (and `is_certificate`, `is_disconnect`, `is_protocol`, `is_invalid_input`) |
//! | `HTTP_PORT`, `HTTPS_PORT`, `_MAXLINE`, `_MAXHEADERS` | [`HTTP_PORT`], [`HTTPS_PORT`], [`MAX_LINE`], [`MAX_HEADERS`] |
//! | `urllib.request.HTTPBasicAuthHandler`, `HTTPDigestAuthHandler`, `HTTPPasswordMgr`, user info in a URL | [`Auth`], [`AuthScheme`], [`HttpConnection::request_with_auth`], [`Auth::from_url`] |
//! | `urllib.request.urlopen(url)` (the shape), `urlopen(url, context=...)` | [`get`], [`request`], [`Url`], `Url::connection_with_context` |
//!
//! # Where it departs from Python
//!
//! Each difference fixes a weak point of `http.client`; none changes what a well-behaved server sees.
//!
//! - Timeouts: connect, read and write are set apart, and [`Error::Timeout`] names the one that fired.
//! - Keep-alive: before a request on a reused socket, one non-blocking peek checks that the server has not closed it
//!   while idle; if it has, the request goes out on a new connection instead of failing with [`Error::RemoteDisconnected`].
//! - Truncation: a body cut short is [`Error::IncompleteRead`] on every read path (Python's `read(amt)` returns `b""`),
//!   and its count is of every body byte read before the end, over all calls (Python counts the failing call's only).
//! - Connecting: [`Error::Connect`] names the `host:port` it tried along with the operating system's words.
//! - Framing: chunk sizes must be plain hex (Python accepts `+a`, `0x10`, `1_0`); a `Transfer-Encoding` ending in
//!   `chunked` is decoded as chunked; differing `Content-Length` values mean read-to-close.
//! - Interim responses: every 1xx but 101 is skipped, at most 100 of them (Python skips only `100 Continue`).
//! - Validation: methods must be HTTP tokens, request targets ASCII without spaces or control characters.
//! - Recovery: a failed connection attempt or a failed response leaves the connection idle and closed, ready for the
//!   next request (Python stays in `Request-sent` until `close()`).
//!   After a failed write the state stays `Request-sent`, as in Python, so an early answer (401, 413) can still be read;
//!   that answer then closes the connection, since the server never got the whole request (Python would reuse it).
//! - The response borrows its connection, so using the connection while a response is alive does not compile;
//!   a response dropped before its end closes the socket rather than leave its rest to be read as the next answer.
//! - Debug output (`set_debuglevel`) goes to stderr, never mixing with a program's output.
//! - Certificates (feature `tls`): verified by rustls and webpki, which refuse a CA certificate (basic constraints `CA:TRUE`)
//!   as a server's certificate even when it is trusted; OpenSSL, under Python and curl, accepts a trusted self-signed one.
//!   `openssl req -x509` makes such certificates unless given `-addext basicConstraints=critical,CA:FALSE`, and the error says so.
//!   A refused certificate's message says what is wrong (the names it has, when it expired) and what can be done.
//! - The legacy [`Http`] class sends a `Host` header.
//!
//! # Example
//!
//! A server on `127.0.0.1:0` answers one request; the client reads the answer as Python would.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::TcpListener;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let address = listener.local_addr()?;
//! let server = std::thread::spawn(move || {
//!     let (mut socket, _) = listener.accept().unwrap();
//!     let mut request = [0; 1024];
//!     let _ = socket.read(&mut request).unwrap();
//!     socket.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello").unwrap();
//! });
//!
//! let mut conn = httpclient::HttpConnection::new(&address.to_string())?;
//! conn.request("GET", "/", httpclient::Body::Empty, &[])?;
//! let mut response = conn.getresponse()?;
//! assert_eq!((response.status, response.reason.as_str()), (200, "OK"));
//! assert_eq!(response.getheader("content-length").as_deref(), Some("5"));
//! assert_eq!(response.read(None)?, b"hello");
//! # server.join().unwrap();
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![warn(unreachable_pub)]

mod auth;
#[cfg(feature = "tls")]
mod certificate;
mod config;
mod connection;
mod error;
mod headers;
#[cfg(feature = "tls")]
mod https;
mod legacy;
mod parse;
mod response;
mod stream;
#[cfg(feature = "tls")]
mod tls;
mod url;

pub use auth::{Auth, AuthScheme};
#[cfg(feature = "tls")]
pub use certificate::CertificateProblem;
pub use config::{Config, Timeouts, HTTPS_PORT, HTTP_PORT};
pub use connection::{Body, HttpConnection};
pub use error::{Error, Result, State, TimeoutKind};
pub use headers::Headers;
#[cfg(feature = "tls")]
pub use https::HttpsConnection;
pub use legacy::Http;
pub use parse::{MAX_HEADERS, MAX_INTERIM_RESPONSES, MAX_LINE};
#[doc(hidden)]
pub use response::fuzz_response;
pub use response::HttpResponse;
/// The rustls crate this one is built on, for building a [`rustls::ClientConfig`].
#[cfg(feature = "tls")]
pub use rustls;
#[cfg(feature = "tls")]
pub use tls::{client_config, TlsConfig};
pub use url::{get, request, Url};

#[cfg(test)]
mod tests {
    fn assert_send<T: Send>() {}

    #[test]
    fn connections_and_responses_are_send() {
        assert_send::<crate::HttpConnection>();
        assert_send::<crate::HttpResponse<'static>>();
        assert_send::<crate::Http>();
        assert_send::<crate::Error>();
    }
}
