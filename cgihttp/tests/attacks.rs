//! What a hostile client tries against [`CgiHttpRequestHandler`], over real sockets on `127.0.0.1:0`, and the answer it gets.
//!
//! Each test names the defence it shows (SECURITY.md lists them): routing and file lookup agree on every spelling of a path,
//! a script's control characters never reach the wire, search words are never options, request bodies are bounded in size and time,
//! running scripts are capped, and nothing a script started outlives its request.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use basehttp::{HttpRequest, HttpServer, ThreadingHttpServer};
use cgihttp::CgiHttpRequestHandler;
use socketserver::ShutdownHandle;
use tempfile::TempDir;

/// A marker in every script's source: an answer holding it has handed out a script instead of running it.
const SOURCE_MARKER: &str = "SOURCE-OF-THE-SCRIPT";

/// The handler under test, with its log lines kept for the assertions.
#[derive(Clone)]
struct Logged {
    inner: CgiHttpRequestHandler,
    log: Arc<Mutex<Vec<String>>>,
}

impl basehttp::BaseHttpRequestHandler for Logged {
    fn protocol_version(&self) -> &str {
        self.inner.protocol_version()
    }
    fn limits(&self) -> basehttp::Limits {
        self.inner.limits()
    }
    fn do_get(&self, req: &mut HttpRequest<'_>) -> std::io::Result<()> {
        self.inner.do_get(req)
    }
    fn do_head(&self, req: &mut HttpRequest<'_>) -> std::io::Result<()> {
        self.inner.do_head(req)
    }
    fn do_post(&self, req: &mut HttpRequest<'_>) -> std::io::Result<()> {
        self.inner.do_post(req)
    }
    fn log_message(&self, _req: &HttpRequest<'_>, message: std::fmt::Arguments<'_>) {
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(message.to_string());
    }
}

/// A running server over a tree whose `cgi-bin` holds the scripts a test adds; stopped when dropped.
struct Site {
    root: TempDir,
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
    shutdown: ShutdownHandle,
    thread: Option<JoinHandle<()>>,
}

impl Site {
    /// Writes the scripts (`name`, shell body) into `cgi-bin`, then serves the tree with the handler as `configure` leaves it.
    fn start(scripts: &[(&str, &str)], configure: impl FnOnce(&mut CgiHttpRequestHandler)) -> Site {
        let root = tempfile::Builder::new()
            .prefix("cgihttp-attacks-")
            .tempdir_in("/tmp")
            .unwrap_or_else(|error| panic!("temporary directory: {error}"));
        let bin = root.path().join("cgi-bin");
        fs::create_dir(&bin).unwrap_or_else(|error| panic!("mkdir: {error}"));
        for directory in [root.path(), bin.as_path()] {
            chmod(directory, 0o755);
        }
        for (name, body) in scripts {
            let path = bin.join(name);
            fs::write(&path, format!("#!/bin/sh\n# {SOURCE_MARKER}\n{body}\n"))
                .unwrap_or_else(|error| panic!("write {name}: {error}"));
            chmod(&path, 0o755);
        }
        let mut handler = CgiHttpRequestHandler::new(root.path());
        handler.files.protocol_version = "HTTP/1.1".to_owned();
        configure(&mut handler);
        let log = Arc::new(Mutex::new(Vec::new()));
        let logged = Logged {
            inner: handler,
            log: Arc::clone(&log),
        };
        let server = HttpServer::with_config(
            ("127.0.0.1", 0),
            logged,
            ThreadingHttpServer::default_config(),
        )
        .unwrap_or_else(|error| panic!("bind: {error}"));
        let port = server.server_port();
        let shutdown = server.shutdown_handle();
        let thread = thread::spawn(move || {
            let _ = server.serve_forever(Duration::from_millis(50));
        });
        Site {
            root,
            port,
            log,
            shutdown,
            thread: Some(thread),
        }
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(("127.0.0.1", self.port))
            .unwrap_or_else(|error| panic!("connect: {error}"));
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap_or_else(|error| panic!("timeout: {error}"));
        stream
    }

    /// Sends `request` as raw bytes and reads the answer until the server closes the connection.
    fn exchange(&self, request: &[u8]) -> String {
        let mut stream = self.connect();
        stream
            .write_all(request)
            .unwrap_or_else(|error| panic!("send: {error}"));
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    }

    /// `GET target` exactly as given (no escaping), with `Connection: close`.
    fn get(&self, target: &str) -> String {
        self.exchange(
            format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
    }

    fn log(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Waits until a log line holds `needle` (a request's log line can follow its answer by a moment).
    fn expect_log(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.log().iter().any(|line| line.contains(needle)) {
            assert!(
                Instant::now() < deadline,
                "{needle:?} not in the log: {:#?}",
                self.log()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn directory(&self) -> &Path {
        self.root.path()
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        self.shutdown.shutdown();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|error| panic!("chmod {path:?}: {error}"));
}

fn status_line(answer: &str) -> &str {
    answer.lines().next().unwrap_or("")
}

fn body(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

// Defence: routing and file lookup read one path. Every spelling of a target either runs the script or is refused;
// none hands out its source or lists the CGI directory (Python serves both for `/cgi-bin/env.sh#/../..` and `/cgi-bin/#/..`).
#[test]
fn no_spelling_serves_a_script_or_lists_its_directory() {
    let site = Site::start(
        &[(
            "env.sh",
            "printf 'Content-Type: text/plain\\n\\nRAN %s' \"$PATH_INFO\"",
        )],
        |_| {},
    );
    let targets = [
        "/cgi-bin/env.sh#/../..",
        "/cgi-bin/#/..",
        "/cgi-bin/#",
        "/cgi-bin#/env.sh",
        "/cgi-bin/env.sh#",
        "/cgi-bin/env.sh%23/../..",
        "/cgi-bin/env.sh?#/../..",
        "/cgi-bin/env.sh?x#/../..",
        "/cgi-bin/%2e/env.sh",
        "/cgi-bin/%2E%2E/cgi-bin/env.sh",
        "/cgi-bin/.%2e/cgi-bin/env.sh",
        "//cgi-bin//env.sh",
        "/./cgi-bin/./env.sh",
        "/x/../cgi-bin/env.sh",
        "/%63gi-bin/env.sh",
        "/cgi-bin%2fenv.sh",
        "/cgi-bin%2Fenv.sh",
        "/CGI-BIN/env.sh",
        "/Cgi-Bin/env.sh",
        "/CGI-BIN/",
        "/cgi-bin/",
        "/cgi-bin/.",
        "/cgi-bin/./",
        "/cgi-bin%2f",
        "/cgi-bin",
        "/cgi-bin;x/env.sh",
        "/cgi-bin/env.sh;x",
        "/cgi-bin/env.sh/",
        "/cgi-bin/env.sh%00",
        "/cgi-bin/env.sh?x",
        "/cgi-bin/../cgi-bin/env.sh",
    ];
    let mut ran = 0;
    for target in targets {
        let answer = site.get(target);
        assert!(
            !answer.contains(SOURCE_MARKER),
            "{target} handed out the script:\n{answer}"
        );
        assert!(
            !answer
                .to_ascii_lowercase()
                .contains("directory listing for"),
            "{target} listed a CGI directory:\n{answer}"
        );
        if body(&answer).starts_with("RAN") {
            ran += 1;
        }
    }
    // The plain spellings of the script do run it.
    assert!(ran >= 10, "only {ran} spellings ran the script");
    let answer = site.get("/CGI-BIN/env.sh/a%2fb");
    assert_eq!(body(&answer), "RAN /a/b", "{answer}");
    let _ = site.directory();
}

/// Sends `request` and returns the answer's raw bytes (a lossy string would hide the very bytes these tests look for).
fn exchange_bytes(site: &Site, request: &str) -> Vec<u8> {
    let mut stream = site.connect();
    stream
        .write_all(request.as_bytes())
        .unwrap_or_else(|error| panic!("send: {error}"));
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
}

// Defence: every header value and reason phrase from a script is checked for C0 and C1 controls, and Location is an ASCII URI reference;
// a bad one is a 502 with the reason logged, and the bytes never reach the wire.
#[test]
fn control_characters_from_a_script_never_reach_the_wire() {
    // \302\233 is U+009B (CSI) in UTF-8, \302\205 is U+0085 (NEL).
    let site = Site::start(
        &[
            (
                "reason.sh",
                "printf 'Status: 200 O\\302\\233K\\nContent-Type: text/plain\\n\\nbody'",
            ),
            (
                "header.sh",
                "printf 'Content-Type: text/plain\\nX-Note: a\\302\\205b\\n\\nbody'",
            ),
            (
                "location.sh",
                "printf 'Location: http://example.com/a\\302\\205Set-Cookie:injected\\n\\n'",
            ),
            (
                "local.sh",
                "printf 'Status: 302 Found\\nLocation: /caf\\303\\251\\n\\n'",
            ),
            (
                "c0.sh",
                "printf 'Content-Type: text/plain\\nX-Note: a\\033[31mb\\n\\nbody'",
            ),
            (
                "fine.sh",
                "printf 'Content-Type: text/plain\\nX-Note: caf\\303\\251\\n\\nbody'",
            ),
        ],
        |_| {},
    );
    for script in ["reason.sh", "header.sh", "location.sh", "local.sh", "c0.sh"] {
        let answer = exchange_bytes(
            &site,
            &format!("GET /cgi-bin/{script} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        );
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 502 "), "{script}: {text}");
        assert!(
            !answer
                .iter()
                .any(|&byte| (0x80..=0x9f).contains(&byte) || byte == 0x1b),
            "{script}: a control byte reached the wire: {answer:?}"
        );
        assert!(!text.contains("Set-Cookie"), "{script}: {text}");
    }
    site.expect_log(
        "CGI script failed: control character or character beyond ISO-8859-1 in a script header",
    );
    site.expect_log("CGI script failed: invalid script Location header");
    // ISO-8859-1 text that is not a control still passes, as its one byte.
    let answer = exchange_bytes(
        &site,
        "GET /cgi-bin/fine.sh HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with(b"HTTP/1.1 200 "), "{answer:?}");
    assert!(
        answer
            .windows(12)
            .any(|window| window == b"X-Note: caf\xe9"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

// Defence: search words that start with `-` never become the script's arguments (RFC 3875 §4.4 option injection).
#[test]
fn search_words_never_become_options() {
    let site = Site::start(
        &[(
            "args.sh",
            "printf 'Content-Type: text/plain\\n\\n%s:' \"$#\"\nfor word in \"$@\"; do printf '[%s]' \"$word\"; done\nprintf ' %s' \"$QUERY_STRING\"",
        )],
        |_| {},
    );
    for (query, expected) in [
        ("-s+foo", "0: -s+foo"),
        ("foo+-s", "0: foo+-s"),
        ("%2Ds+foo", "0: %2Ds+foo"),
        ("--help", "0: --help"),
        (
            "hello+big%20world",
            "2:[hello][big world] hello+big%20world",
        ),
        ("a-b+c", "2:[a-b][c] a-b+c"),
    ] {
        let answer = site.get(&format!("/cgi-bin/args.sh?{query}"));
        assert_eq!(body(&answer), expected, "{query}: {answer}");
        assert_eq!(status_line(&answer), "HTTP/1.1 200 OK", "{query}");
    }
}

// Defence: a body streamed to a running script (Content-Length) whose client goes quiet, well within the idle timeout,
// holds its thread no longer than the CGI timeout: each read waits at most what is left of it
// (on a connection with a thread of its own, as here; on the readiness loop a read waits at most the idle timeout).
#[test]
fn a_stalled_streamed_body_is_cut_at_the_cgi_timeout() {
    let site = Site::start(
        &[(
            "slurp.sh",
            "cat > /dev/null\nprintf 'Content-Type: text/plain\\n\\ndone'",
        )],
        |handler| {
            handler.timeout = Some(Duration::from_secs(2));
            handler.files.limits.idle_timeout = Some(Duration::from_secs(30));
        },
    );
    let mut stream = site.connect();
    stream
        .write_all(b"POST /cgi-bin/slurp.sh HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nx")
        .unwrap_or_else(|error| panic!("send: {error}"));
    let started = Instant::now();
    // Nothing more is sent; the answer must come at the CGI timeout, not at the idle timeout.
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let took = started.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        status_line(&answer).starts_with("HTTP/1.1 504 "),
        "{answer}"
    );
    assert!(took < Duration::from_secs(4), "{took:?}");
}
