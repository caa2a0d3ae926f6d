//! Python's `CGIHTTPServer` (`http.server.CGIHTTPRequestHandler`), done by RFC 3875.
//!
//! This release holds the core of the request handler, each piece usable and tested on its own:
//! which paths run a script and how they split ([`is_cgi`], [`split_script`]),
//! the script's environment ([`build_environment`]), the parser for its answer ([`HeaderParser`]),
//! and the process runner ([`ScriptCommand`]). The handler and the `cgihttp` command join them on top of `simplehttp`.
//!
//! | Python | Rust |
//! |---|---|
//! | `_url_collapse_path` | [`url_collapse_path`] |
//! | `CGIHTTPRequestHandler.cgi_directories` | [`CGI_DIRECTORIES`] |
//! | `CGIHTTPRequestHandler.is_cgi` | [`is_cgi`] |
//! | `CGIHTTPRequestHandler.is_python` | [`is_python`] |
//! | `run_cgi`: script, `PATH_INFO`, query | [`split_script`], [`ScriptPath`] |
//! | `run_cgi`: the environment | [`build_environment`], [`CgiRequest`], [`EnvironmentPolicy`] |
//! | `run_cgi`: the query as `argv` | [`query_arguments`] |
//! | `run_cgi`: finding the script on disk | [`find_script`], [`ScriptTarget`], [`translate_decoded_path`] |
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
//! - The script's header block is parsed (`Status:`, `Location:`, `Content-Type:`); Python always answers `200 Script output follows`.
//!   Output without a valid header block is an error a server answers with 502.
//! - Scripts start from an empty environment (a fixed `PATH` and a pass-through list), never the server's own;
//!   every request header reaches them as `HTTP_*`, except `Proxy` (httpoxy) and credentials.
//! - A timeout kills the script's whole process group.
//! - The query becomes arguments as RFC 3875 §4.4 says (split on `+`, each word decoded), and `PATH_INFO` is decoded once, not twice.
//!
//! - The query is split off before the walk down nested script directories, so a `/` in the query never names a directory.
//! - A script file briefly busy (ETXTBSY, still open for writing) is retried instead of failing the request.
//!
//! How a request handler puts the pieces together, in Python's order:
//! 1. A path that [`url_collapse_path`] refuses (it climbs above the root) is answered with 400, never served as a file.
//! 2. [`find_script`] says whether the path names a script; if not, the file server answers (and POST gets 501 `Can only POST to CGI scripts`).
//! 3. [`check_script_file`] gives 404 or 403 with Python's message.
//! 4. [`build_environment`] and [`query_arguments`] fill a [`ScriptCommand`]; [`is_nph`] sets [`ScriptCommand::nph`].
//! 5. [`ScriptCommand::run`] streams the request body in; in `on_headers`, a [`ScriptHeaders::local_redirect`] is answered
//!    as a fresh GET of that path (with [`Body::Discard`]), anything else with [`ScriptHeaders::status`], its reason and headers
//!    ([`Body::Discard`] for HEAD).
//! 6. An error before `on_headers` is answered with [`CgiError::status`] and logged; after it, or when
//!    [`ScriptOutcome::timed_out`], or when [`ScriptOutcome::request_bytes`] falls short of the Content-Length, the connection is closed.
//!
//! `unsafe` lives in one private module (`sys`) that wraps kill(2) of a process group, poll(2) and geteuid(2).
#![deny(missing_docs)]
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
pub use handler::{CgiHttpRequestHandler, DEFAULT_MAX_REQUEST_BODY, MAX_LOCAL_REDIRECTS};
pub use output::{HeaderParser, Location, ScriptHeaders, MAX_HEADER_BYTES, MAX_HEADER_LINES};
pub use path::{
    is_cgi, is_nph, is_python, query_arguments, split_script, translate_decoded_path,
    url_collapse_path, ScriptPath,
};
pub use runner::{
    check_script_file, find_script, nobody_ids, passwd_user, Body, RunAs, ScriptCommand,
    ScriptFileError, ScriptOutcome, ScriptTarget, DEFAULT_TIMEOUT, NOBODY_FALLBACK,
};

/// Python's default `cgi_directories`: the URL paths whose files are scripts.
pub const CGI_DIRECTORIES: [&str; 2] = ["/cgi-bin", "/htbin"];
