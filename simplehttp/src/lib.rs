//! Python's `SimpleHTTPServer` (`http.server.SimpleHTTPRequestHandler`): static files from a directory, and the `simplehttp` command.
//!
//! [`SimpleHttpRequestHandler`] implements basehttp's [`BaseHttpRequestHandler`](basehttp::BaseHttpRequestHandler) with `do_get` and `do_head`.
//! It is made of plain functions that other handlers reuse by composition (cgihttp does): [`serve_files`] answers a GET or HEAD through a [`SimpleHooks`] value,
//! [`send_head`] decides without writing, and below it every piece is a pure function of bytes and values, so it can be tested and fuzzed alone.
//!
//! # Example
//!
//! Serve a directory on a free port and fetch a file from it:
//!
//! ```
//! use std::io::{self, Read, Write};
//! use std::net::TcpStream;
//! use std::time::Duration;
//!
//! use basehttp::{HttpServer, ThreadingHttpServer};
//! use simplehttp::SimpleHttpRequestHandler;
//!
//! fn main() -> io::Result<()> {
//!     let directory = tempfile::tempdir()?;
//!     std::fs::write(directory.path().join("hello.txt"), "Hello Python World")?;
//!     let handler = SimpleHttpRequestHandler::new(directory.path());
//!     let httpd = HttpServer::with_config(("127.0.0.1", 0), handler, ThreadingHttpServer::default_config())?;
//!     let port = httpd.server_port();
//!     let shutdown = httpd.shutdown_handle();
//!     let client = std::thread::spawn(move || -> io::Result<String> {
//!         let mut stream = TcpStream::connect(("127.0.0.1", port))?;
//!         stream.write_all(b"GET /hello.txt HTTP/1.0\r\n\r\n")?;
//!         let mut response = String::new();
//!         stream.read_to_string(&mut response)?;
//!         shutdown.shutdown();
//!         Ok(response)
//!     });
//!     httpd.serve_forever(Duration::from_millis(50))?;
//!     let response = client.join().expect("client thread")?;
//!     assert!(response.starts_with("HTTP/1.0 200 OK\r\n"));
//!     assert!(response.contains("\r\nContent-type: text/plain\r\n"));
//!     assert!(response.ends_with("\r\n\r\nHello Python World"));
//!     Ok(())
//! }
//! ```
//!
//! # Python name → Rust item
//!
//! | Python | Rust |
//! | --- | --- |
//! | `SimpleHTTPRequestHandler` | [`SimpleHttpRequestHandler`] (settings as fields) |
//! | `class Mine(SimpleHTTPRequestHandler)` with `do_PUT` or `end_headers` | a struct holding a [`SimpleHttpRequestHandler`] and naming it in basehttp's [`BaseHttpRequestHandler::base`](basehttp::BaseHttpRequestHandler::base) (`base!(0);`); see PORTING.md |
//! | `from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer` | `use simplehttp::prelude::*;` ([`prelude`]) |
//! | `do_GET`, `do_HEAD` | [`serve_files`] (what `do_get` and `do_head` call), [`write_reply`] |
//! | `SimpleHTTPRequestHandler.send_head` | [`send_head`] over [`SimpleHooks`], answering a [`HeadReply`] |
//! | `server_version = "SimpleHTTP/0.6"` | [`SERVER_VERSION`] |
//! | `translate_path` | [`translate_path`], [`translate_path_bytes`], [`SimpleHooks::translate_path`] |
//! | `send_head`'s trailing-slash test (`/`, `%2f`, `%2F`) | [`has_trailing_slash`] |
//! | `send_head`'s 301 `Location` | [`directory_redirect_location`] |
//! | `list_directory` | [`list_directory_page`], [`read_listing_entries`], [`ListingEntry`], [`SimpleHooks::list_directory`] |
//! | `html.escape(s, quote=False)` | [`html_escape`] |
//! | `index_pages` | [`INDEX_PAGES`], [`SimpleHooks::index_pages`] |
//! | `guess_type`, `extensions_map` | [`guess_type`], [`guess_type_with`], [`EXTENSIONS_MAP`], [`SimpleHooks::guess_type`] |
//! | `copyfile` | [`FileReply::write_body`], basehttp's [`HttpRequest::send_file`](basehttp::HttpRequest::send_file) (`sendfile(2)` on plain TCP) |
//! | `If-Modified-Since` handling in `send_head` | [`evaluate_preconditions`] (also `If-Match`, `If-None-Match`, `If-Unmodified-Since`) |
//! | `date_time_string` for `Last-Modified` | [`http_date`] |
//! | `python -m http.server` (`SimpleHTTPServer` in Python 2) | the `simplehttp` command; [`CommandLine`], [`banner`] |
//! | `HTTPSServer` (Python 3.14), `--tls-cert`, `--tls-key` | basehttp's [`HttpServer::with_tls`](basehttp::HttpServer::with_tls) and [`tls_server_config`](basehttp::tls_server_config), used by [`serve_command`] |
//! | (none: Python has no Range) | [`parse_range`], [`if_range_matches`], [`MultipartByteranges`] |
//! | (none: Python sends no ETag) | [`etag_for`] |
//! | `class Mine(SimpleHTTPRequestHandler)` overriding `send_error`, or `end_headers` adding headers | [`Site`] (`--error-page`, `--header`), or basehttp's `send_error` and `end_headers` hooks |
//! | (none: Python has no authentication) | [`Site`] with basehttp's [`Authenticator`](basehttp::Authenticator); `SiteOptions` (feature `cli`): `--auth`, `--auth-file`, `--auth-digest-file`, `--realm` |
//! | a `do_OPTIONS` and `end_headers` adding `Access-Control-Allow-Origin` (the usual CORS recipe) | [`Site`] with [`Cors`] (`--cors [ORIGIN]`), [`ErrorPage`] |
//! | (none: running as a service; not in Python) | [`OperationFlags`] (`--log-format`, `--trusted-proxy`, `--metrics-bind`, `--reuse-port`, `--processes`, `--shutdown-timeout`) |
//! | (none: Prometheus metrics; not in Python) | [`start_metrics_listener`], [`render_metrics`], [`add_metrics_collector`] |
//! | (none: Python compresses nothing) | [`FileOptions::compress`], [`FileOptions::precompressed`], [`negotiate_encoding`], [`ContentCoding`], [`is_compressible`], [`compress`] |
//! | (none: Python's listing is one page) | [`FileOptions::listing`] ([`ListingStyle`]), [`FileOptions::json_listing`], [`sortable_listing_page`], [`json_listing`], [`ListingOrder`] |
//! | (none) dotfiles, symbolic links, single-page apps | [`FileOptions::hide_dotfiles`], [`FileOptions::symlinks`] ([`Symlinks`]), [`FileOptions::spa_fallback`] |
//! | `do_PUT`, `do_POST` (501 in Python) | with [`FileOptions::upload`] ([`Upload`]): PUT of a file, multipart/form-data POST of files |
//!
//! # Where this does better than Python
//!
//! - `Range` requests (206, multipart, 416), `ETag`, and every conditional request of RFC 9110, not only `If-Modified-Since`.
//! - Names that are not UTF-8 are listed with links that lead back to them, percent-encoded ([`translate_path_bytes`]).
//!   A raw byte outside ASCII, a raw `#` or another byte RFC 3986 does not allow in a request-target is refused with 400 by basehttp,
//!   where Python reads the line as Latin-1 (and looks for a garbled name) or cuts the path at `#`.
//! - The directory redirect can never point to another host, whatever the path's leading slashes, backslashes or control characters,
//!   nor for an absolute-form request (`GET http://other.example/dir`): its Location is the path alone.
//! - File bodies go out with `sendfile(2)` on plain TCP; only regular files are opened (a FIFO cannot block a thread).
//! - Times before 1970 or after 9999 are formatted instead of panicking; connections have timeouts by default (basehttp's [`Limits`](basehttp::Limits)).
#![deny(missing_docs)]
#![warn(unreachable_pub)]
#![forbid(unsafe_code)]

#[cfg(feature = "cli")]
mod cli;
#[cfg(feature = "cli")]
mod command;
mod compress;
mod conditional;
mod handler;
mod head;
mod listing;
#[cfg(feature = "cli")]
mod metrics;
mod mime;
#[cfg(feature = "cli")]
mod operations;
mod options;
pub mod prelude;
mod range;
mod site;
#[cfg(feature = "cli")]
mod site_options;
mod small_files;
mod upload;
mod url_path;

#[cfg(feature = "cli")]
pub use cli::{
    banner, CommandLine, UsageError, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_WORKERS, DEFAULT_PORT,
    LISTEN_BACKLOG,
};
#[cfg(feature = "cli")]
pub use command::{serve_command, serve_command_threaded};
pub use compress::{
    compress, is_compressible, negotiate_encoding, ContentCoding, MAX_COMPRESSED_SOURCE,
    MIN_COMPRESSED_SIZE,
};
pub use conditional::{
    etag_for, evaluate_preconditions, http_date, parse_entity_tag, parse_entity_tag_list,
    parse_http_date, truncate_to_seconds, Conditions, EntityTag, EntityTagList, Precondition,
};
pub use handler::{serve_files, write_reply, SimpleHttpRequestHandler, SERVER_VERSION};
pub use head::{
    send_head, FileBody, FileContent, FileReply, FileRequest, HeadReply, ReplyHeaders,
    ServeDirectory, SimpleHooks, INDEX_PAGES,
};
pub use listing::{
    html_escape, json_listing, list_directory_page, read_listing_entries,
    read_listing_entries_with_metadata, rfc3339, sort_entries, sort_key, sort_listing,
    sortable_listing_page, ListingEntry, ListingOrder, SortKey, JSON_LISTING_CONTENT_TYPE,
    LISTING_CONTENT_TYPE,
};
#[cfg(feature = "cli")]
pub use metrics::{
    add_metrics_collector, encode_counter, encode_gauge, render_metrics, start_metrics_listener,
    METRICS_PREFIX,
};
pub use mime::{
    guess_type, guess_type_with, mimetypes_guess, splitext, DEFAULT_TYPE, EXTENSIONS_MAP,
};
#[cfg(feature = "cli")]
pub use operations::{OperationFlags, DEFAULT_SHUTDOWN_TIMEOUT};
pub use options::{FileOptions, ListingStyle, Symlinks, Upload};
/// The metrics format crate, for collectors given to [`add_metrics_collector`].
#[cfg(feature = "cli")]
pub use prometheus_client;
pub use range::{
    copy_range, if_range_matches, new_boundary, parse_range, unsatisfied_content_range, ByteRange,
    MultipartByteranges, RangeRequest, MAX_RANGES,
};
pub use site::{Cors, ErrorPage, Site, ALLOWED_METHODS};
#[cfg(feature = "cli")]
pub use site_options::{SiteOptions, DEFAULT_REALM};
pub use url_path::{
    directory_redirect_location, has_trailing_slash, latin1_bytes, path_ends_with_slash,
    safe_segments, strip_query_and_fragment, translate_path, translate_path_bytes,
    translate_target, unquote_to_bytes,
};
