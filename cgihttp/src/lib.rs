//! Python's `CGIHTTPServer` (`http.server.CGIHTTPRequestHandler`), done by RFC 3875.
//!
//! [`CgiHttpRequestHandler`] serves files as simplehttp's handler does and runs the scripts under its `cgi_directories`;
//! the `cgihttp` command (`python -m http.server --cgi`) serves a directory with it.
//! Each piece underneath is usable and tested on its own:
//! which paths run a script and how they split ([`is_cgi`], [`split_script`]),
//! the script's environment ([`build_environment`]), the parser for its answer ([`HeaderParser`]),
//! and the process runner ([`ScriptCommand`]).
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//! use std::os::unix::fs::PermissionsExt;
//! use std::time::Duration;
//!
//! use basehttp::{HttpServer, ThreadingHttpServer};
//! use cgihttp::CgiHttpRequestHandler;
//!
//! # fn main() -> std::io::Result<()> {
//! // Under root, scripts run as nobody: the directories and the script must be open to everyone.
//! let root = tempfile::Builder::new().tempdir_in("/tmp")?;
//! let script = root.path().join("cgi-bin/hello.sh");
//! std::fs::create_dir(root.path().join("cgi-bin"))?;
//! std::fs::write(&script, "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nHello from CGI'\n")?;
//! for (path, mode) in [(root.path(), 0o755), (&root.path().join("cgi-bin"), 0o755), (&script, 0o755)] {
//!     std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
//! }
//!
//! let handler = CgiHttpRequestHandler::new(root.path());
//! let httpd = HttpServer::with_config(("127.0.0.1", 0), handler, ThreadingHttpServer::default_config())?;
//! let port = httpd.server_port();
//! let shutdown = httpd.shutdown_handle();
//! let client = std::thread::spawn(move || -> std::io::Result<String> {
//!     let mut stream = TcpStream::connect(("127.0.0.1", port))?;
//!     stream.write_all(b"GET /cgi-bin/hello.sh HTTP/1.0\r\n\r\n")?;
//!     let mut response = String::new();
//!     stream.read_to_string(&mut response)?;
//!     shutdown.shutdown();
//!     Ok(response)
//! });
//! httpd.serve_forever(Duration::from_millis(50))?;
//! let response = client.join().expect("client thread")?;
//! assert!(response.starts_with("HTTP/1.0 200 OK\r\n"));
//! assert!(response.ends_with("\r\n\r\nHello from CGI"));
//! # Ok(())
//! # }
//! ```
//!
//! | Python | Rust |
//! |---|---|
//! | `CGIHTTPRequestHandler` | [`CgiHttpRequestHandler`] (settings as fields) |
//! | `python -m http.server --cgi`, `python -m CGIHTTPServer` | the `cgihttp` command (`--cgi-timeout SECONDS`) |
//! | `run_cgi` | [`CgiHttpRequestHandler::run_cgi`] |
//! | `_url_collapse_path` | [`url_collapse_path`] |
//! | `CGIHTTPRequestHandler.cgi_directories` | [`CGI_DIRECTORIES`] |
//! | `CGIHTTPRequestHandler.is_cgi` | [`is_cgi`] |
//! | `CGIHTTPRequestHandler.is_python` | [`is_python`] |
//! | `run_cgi`: script, `PATH_INFO`, query | [`split_script`], [`ScriptPath`] |
//! | `run_cgi`: the environment | [`build_environment`], [`CgiRequest`], [`EnvironmentPolicy`] |
//! | `run_cgi`: the query as `argv` | [`query_arguments`] |
//! | `run_cgi`: finding the script on disk | [`find_script`], [`route_script`], [`ScriptLocation`], [`ScriptTarget`], [`translate_decoded_path`] |
//! | `run_cgi`: the checks on the script file | [`check_script_file`], [`ScriptFileError`] |
//! | `run_cgi`: fork, `setuid(nobody)`, exec | [`ScriptCommand::run`], [`RunAs`] |
//! | `nobody_uid` | [`nobody_ids`] |
//! | (RFC 3875 §6) the script's header block | [`HeaderParser`], [`ScriptHeaders`], [`Location`] |
//! | (RFC 3875 §5) NPH scripts | [`is_nph`], [`ScriptCommand::nph`] |
//!
//! ```
//! use std::io::Write;
//! use cgihttp::{is_cgi, split_script, Body, ScriptCommand, CGI_DIRECTORIES};
//!
//! let (directory, rest) = is_cgi("/cgi-bin/hello.sh/extra?name", &CGI_DIRECTORIES).expect("a CGI path");
//! let split = split_script(&directory, &rest, |_| false);
//! assert_eq!((split.script_name.as_str(), split.path_info.as_str()), ("/cgi-bin/hello.sh", "/extra"));
//!
//! // A stand-in for the script file the handler would find under its document root.
//! let mut command = ScriptCommand::new("/bin/sh");
//! command.args = vec!["-c".into(), "printf 'Status: 201\\nContent-Type: text/plain\\n\\nhi'".into()];
//! command.run_as = cgihttp::RunAs::CurrentUser;
//! let mut response = Vec::new();
//! let outcome = command.run(std::io::empty(), &mut response, |headers, output| {
//!     write!(output, "HTTP/1.0 {} \r\nContent-Type: {}\r\n\r\n", headers.status(), headers.content_type().unwrap_or(""))?;
//!     Ok(Body::Forward)
//! }, |line| eprintln!("script: {line}"))?;
//! assert_eq!(response, b"HTTP/1.0 201 \r\nContent-Type: text/plain\r\n\r\nhi");
//! assert_eq!(outcome.body_bytes, 2);
//! # Ok::<(), cgihttp::CgiError>(())
//! ```
//!
//! Where this crate departs from Python, on purpose:
//! - Routing reads the request path as basehttp's [`RequestTarget`](basehttp::RequestTarget), the reading simplehttp's file
//!   lookup shares ([`route_script`]), so no spelling of a path (`#`, `%23`, `//`, `/../`, `%2e`, case) can route as a file
//!   and resolve to a script's source, or list a CGI directory; Python serves the source of `/cgi-bin/env.sh#/../..`.
//!   CGI directories match ignoring ASCII case, and resolve to their configured spelling.
//! - The script's header block is parsed (`Status:`, `Location:`, `Content-Type:`); Python always answers `200 Script output follows`.
//!   Output without a valid header block is an error a server answers with 502, and so is a header value or reason holding a C0 or C1
//!   control character (or one beyond ISO-8859-1), and a `Location` that is not an ASCII URI reference ([`CgiError::UnsendableHeader`]).
//! - Scripts start from an empty environment (a fixed `PATH` and a pass-through list), never the server's own;
//!   every request header reaches them as `HTTP_*`, except `Proxy` (httpoxy) and credentials.
//! - Each script runs under a supervisor process of its own, a child subreaper: whatever the script starts, in its process group,
//!   in a new session (`setsid`) or double-forked, is killed and reaped when the request ends, times out, loses its client, or the server stops.
//! - The query becomes arguments as RFC 3875 §4.4 says (split on `+`, each word decoded), and `PATH_INFO` is decoded once, not twice;
//!   a word starting with `-` would be an option, so such a query gives no arguments at all ([`query_arguments`]).
//! - The query is split off before the walk down nested script directories, so a `/` in the query never names a directory.
//! - A script file briefly busy (ETXTBSY, still open for writing) is retried instead of failing the request.
//! - A running script costs one thread, its request's own, which polls the script's stdin, stdout and stderr together;
//!   at most [`CgiHttpRequestHandler::max_cgi`] scripts run at once, and a request for one more gets 503 with `Retry-After`.
//! - A request body with a Content-Length streams into the script's stdin as it arrives, never held whole
//!   (Python reads it all first): the handler's thread copies `rfile` into the pipe in pieces and writes the script's output
//!   to the client whenever the pipe is full and between pieces of the body,
//!   so a script that prints a lot before it reads cannot deadlock the server, and a slow client only slows the script.
//!   A script that never reads its input does not hang the server: once it exits the pipe breaks and the copy stops
//!   (while it lives, the CGI timeout bounds the wait); basehttp then drains the unread rest, or closes the connection.
//! - A chunked request body is read whole first (in memory up to 64 KiB, beyond that in an unnamed temporary file),
//!   because RFC 3875 §4.1.2 wants `CONTENT_LENGTH` set whenever there is a body, and only then is its length known.
//! - A body larger than [`CgiHttpRequestHandler::max_request_body`] is answered with 413: a declared Content-Length at once,
//!   before a byte is read, a chunked one as soon as its count passes the limit.
//!   The CGI timeout bounds the whole body too, however slowly it trickles: a chunked body not in by then gets 408,
//!   and each read of a streamed one waits no longer than the script may run.
//! - On an HTTP/1.1 connection the answer is framed, so the connection carries the next request (Python always closes):
//!   the script's own `Content-Length` is sent and exactly that many bytes pass (fewer: the connection closes after them;
//!   more: the rest is cut and the connection closes); without one, the body is sent with `Transfer-Encoding: chunked`.
//!   An HTTP/1.0 client gets the body delimited by closing the connection, as in Python.
//!   HEAD, 204 and 304 answers carry no body (HEAD keeps the framing headers a GET would get).
//!   NPH scripts' output passes untouched, and the connection closes after it.
//! - A path climbing above the root is answered with 400 (Python raises and drops the connection).
//! - Faults have defined outcomes (Python waits for a script for ever and sends whatever it printed):
//!   a client that closes or resets the connection while its script runs ([`CgiError::ClientGone`], checked while the script is silent)
//!   or cuts its request body short ([`CgiError::RequestBody`]) gets its script killed and the connection closed;
//!   a script whose output has ended but which keeps running (stdout closed early, or a child still holding it after the script exited)
//!   has its answer completed and everything it started killed after one second ([`ScriptOutcome::lingered`]), as Apache's mod_cgi does;
//!   a script killed by a signal after its answer began ends a chunked body without its last chunk, so the client sees the cut.
//!
//! How [`CgiHttpRequestHandler`] puts the pieces together, in Python's order:
//! 1. The request's [`RequestTarget`](basehttp::RequestTarget) is read once; a path that climbs above the root is answered with 400, never served as a file.
//! 2. [`find_script`] says whether the path names a script; if not, the file server answers from the same reading (and POST gets 501 `Can only POST to CGI scripts`).
//! 3. [`check_script_file`] gives 404 or 403 with Python's message.
//! 4. The request body is checked against its limit (413) and, when chunked, spooled within the CGI timeout (408);
//!    a script slot is taken ([`CgiHttpRequestHandler::max_cgi`], else 503).
//! 5. [`build_environment`] and [`query_arguments`] fill a [`ScriptCommand`]; [`is_nph`] sets [`ScriptCommand::nph`].
//! 6. [`ScriptCommand::run`] feeds the request body in; in `on_headers`, a [`ScriptHeaders::local_redirect`] is answered
//!    as a fresh GET of that path (at most [`MAX_LOCAL_REDIRECTS`] times), anything else with [`ScriptHeaders::status`],
//!    its reason and headers ([`Body::Discard`] for HEAD).
//! 7. An error before `on_headers` is answered with [`CgiError::status`] (502, 504, 500, 400 for a cut request body) and logged,
//!    with the script's exit status when it failed; a client that has gone gets nothing and its connection is closed.
//!    Gone means the client shut its sending side or reset the connection (poll's `POLLRDHUP`, looked at every 100 ms while
//!    the script is silent), so a client that half-closes after its request (`nc -N`) loses the answer of a script that is
//!    slow to start writing, as with nginx; Python runs the script to its end and answers.
//!    An answer cut short after it started (timeout, a crash, script output shorter than its `Content-Length`) closes the connection;
//!    a complete one on HTTP/1.1 leaves it open for the next request.
//!
//! `unsafe` lives in one private module (`sys`): the script supervisor (fork, exec, a child subreaper, kill, waitpid by process id),
//! poll(2) and geteuid(2).
#![deny(missing_docs)]
#![warn(unreachable_pub)]
#![deny(unsafe_code)]

mod env;
mod error;
mod handler;
mod output;
mod path;
mod runner;
mod sys;

pub use env::{
    build_environment, build_environment_with, CgiRequest, EnvironmentPolicy, DEFAULT_PATH,
};
pub use error::CgiError;
pub use handler::{
    default_max_cgi, CgiHttpRequestHandler, CGI_PER_CORE, DEFAULT_MAX_REQUEST_BODY,
    MAX_LOCAL_REDIRECTS,
};
pub use output::{HeaderParser, Location, ScriptHeaders, MAX_HEADER_BYTES, MAX_HEADER_LINES};
pub use path::{
    is_cgi, is_nph, is_python, query_arguments, route_script, split_script, translate_decoded_path,
    url_collapse_path, ScriptLocation, ScriptPath,
};
pub use runner::{
    check_script_file, find_script, nobody_ids, passwd_user, Body, RunAs, ScriptCommand,
    ScriptFileError, ScriptOutcome, ScriptTarget, DEFAULT_TIMEOUT, NOBODY_FALLBACK,
};

/// Python's default `cgi_directories`: the URL paths whose files are scripts.
pub const CGI_DIRECTORIES: [&str; 2] = ["/cgi-bin", "/htbin"];
