//! Differential test, not in Python: simplehttp and `python3 -m http.server` serve one tree and answer one corpus of raw requests; the answers must agree.
//!
//! Compared: the status code, `Content-Type`, `Content-Length`, `Location`, `Last-Modified` and the body.
//! Both servers speak HTTP/1.0, so each answer ends when the server closes.
//! Requests go out over raw `TcpStream`s, byte for byte, so odd paths reach each server exactly as written.
//! Every place where simplehttp answers differently on purpose (its crate docs list them) is an explicit [`Known`] exception
//! that asserts what each side does; nothing is skipped silently.
//! Without `python3` on `PATH` the test prints a note and passes; CI has python3.

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use simplehttp::SimpleHttpRequestHandler;

mod common;

fn start_simple(root: &Path) -> common::Serving {
    // HTTP/1.0 is also simplehttp's default; set it anyway, as Python's `--protocol HTTP/1.0` is.
    let mut handler = SimpleHttpRequestHandler::new(root);
    handler.protocol_version = "HTTP/1.0".to_owned();
    common::serve_quietly(handler)
}

/// `python3 -m http.server` as a child process; killed when dropped.
struct Python {
    port: u16,
    child: Child,
}

impl Drop for Python {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_python(root: &Path) -> Python {
    let mut child = Command::new("python3")
        .args(["-m", "http.server", "0", "-b", "127.0.0.1", "-d"])
        .arg(root)
        .args(["--protocol", "HTTP/1.0"])
        // The banner goes to a pipe, which Python would buffer.
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut banner = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut banner)
        .unwrap();
    // "Serving HTTP on 127.0.0.1 port 36321 (http://127.0.0.1:36321/) ..."
    let port = banner
        .split_whitespace()
        .skip_while(|word| *word != "port")
        .nth(1)
        .and_then(|word| word.parse().ok())
        .unwrap_or_else(|| panic!("no port in python's banner {banner:?}"));
    Python { port, child }
}

fn python_available() -> bool {
    Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// One parsed answer; `None` in [`exchange`]'s result means the server closed without a byte.
#[derive(Debug, Clone)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn is_listing(&self) -> bool {
        self.status == 200 && self.body.starts_with(b"<!DOCTYPE HTML>")
    }
}

/// Sends one request, byte for byte, and reads the answer until the server closes.
fn exchange(
    port: u16,
    method: &str,
    target: &[u8],
    headers: &[(&str, String)],
) -> Option<Response> {
    let mut request = format!("{method} ").into_bytes();
    request.extend_from_slice(target);
    request.extend_from_slice(b" HTTP/1.0\r\nHost: 127.0.0.1\r\n");
    for (name, value) in headers {
        request.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(&request).unwrap();
    let _ = stream.shutdown(Shutdown::Write);
    let mut raw = Vec::new();
    // A server that drops the connection may reset it; what was read so far is the answer.
    let _ = stream.read_to_end(&mut raw);
    if raw.is_empty() {
        return None;
    }
    let end = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of head in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in {head:?}"));
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_owned(), value.trim().to_owned()))
        .collect();
    Some(Response {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    })
}

/// `urllib.parse.quote(name)` for bytes: everything but letters, digits, `_.-~` and `/` as `%XX`.
fn quote(name: &[u8]) -> Vec<u8> {
    let mut quoted = Vec::new();
    for &byte in name {
        if byte.is_ascii_alphanumeric() || b"_.-~/".contains(&byte) {
            quoted.push(byte);
        } else {
            quoted.extend_from_slice(format!("%{byte:02X}").as_bytes());
        }
    }
    quoted
}

/// The content of `notes.txt`.
const NOTES: &[u8] = b"We are the knights who say Ni!\n";

/// The name that is not UTF-8: `caf` and Latin-1's é.
const NON_UTF8_NAME: &[u8] = b"caf\xe9.txt";
/// A UTF-8 name with a letter outside ASCII (ï).
const UTF8_NAME: &str = "na\u{ef}ve.txt";

/// Files in the root: the name and its content.
fn root_files() -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend((0u8..=255).collect::<Vec<u8>>());
    let names: [(&[u8], &[u8]); 19] = [
        (b"page.html", b"<html><body>page</body></html>\n"),
        (b"notes.txt", NOTES),
        (b"UPPER.TXT", b"shouting\n"),
        (b"app.js", b"console.log('hi');\n"),
        (b"style.css", b"body { color: red; }\n"),
        (b"data.json", b"{\"spam\": 1}\n"),
        (b"image.png", &png),
        (b"archive.gz", b"\x1f\x8b\x08\x00not really gzip"),
        (b"bundle.tar.gz", b"\x1f\x8b\x08\x00not really a tarball"),
        (b"blob.xyzzy", b"an extension nobody knows\n"),
        (b"with space.txt", b"spaces\n"),
        (b"a&b.txt", b"ampersand\n"),
        (b"<i>.txt", b"angle brackets\n"),
        (b"&amp;.txt", b"an entity as a name\n"),
        (b"q?", b"a question mark\n"),
        (b"f#", b"a hash\n"),
        (b"%A4", b"a percent sign\n"),
        (NON_UTF8_NAME, b"not UTF-8\n"),
        (UTF8_NAME.as_bytes(), b"UTF-8\n"),
    ];
    names
        .iter()
        .map(|(name, content)| (name.to_vec(), content.to_vec()))
        .collect()
}

/// Directories: `site` has an index page, the others are listed.
const DIRECTORIES: [&str; 4] = ["site", "no index", "no index/deeper", "odd <dir> & q?"];

fn build_tree(root: &Path) {
    for (name, content) in root_files() {
        fs::write(root.join(std::ffi::OsStr::from_bytes(&name)), content).unwrap();
    }
    std::os::unix::fs::symlink("notes.txt", root.join("link.txt")).unwrap();
    std::os::unix::fs::symlink("site", root.join("site-link")).unwrap();
    for directory in DIRECTORIES {
        fs::create_dir(root.join(directory)).unwrap();
    }
    fs::write(root.join("site/index.html"), b"<h1>site index</h1>\n").unwrap();
    fs::write(root.join("site/other.txt"), b"beside the index\n").unwrap();
    fs::write(root.join("no index/inner.txt"), b"inner\n").unwrap();
    fs::write(root.join("no index/deeper/deep.css"), b"p {}\n").unwrap();
    fs::write(root.join("odd <dir> & q?/f#.txt"), b"odd\n").unwrap();
}

/// The deliberate differences, each asserted for what each side does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    /// A percent-encoded byte that is not UTF-8 (`%E9`): simplehttp decodes to bytes and finds the file
    /// (its crate docs: "names that are not UTF-8 are listed with links that lead back to them");
    /// Python's `unquote(errors='surrogatepass')` fails, it falls back to U+FFFD and answers 404.
    NonUtf8PercentEncoded,
    /// Raw bytes outside ASCII in the request line (UTF-8 or not): basehttp refuses them in a request-target with 400 (RFC 3986);
    /// Python reads them as Latin-1, looks for a garbled name and answers 404.
    RawNonAscii,
    /// A raw `#` in the request-target: basehttp refuses it with 400, since a request never carries a fragment and two readers
    /// of the path could disagree on where it ends; Python cuts the path at `#` and serves it.
    RawFragment,
    /// `%2f` at the end of a path: simplehttp counts it as a trailing slash, as python-stack.md §3 and newer Python do;
    /// Python 3.11 does not: it redirects a directory to `<path>%2f/` and serves a file asked for as `<file>%2f`.
    /// Either Python agrees with simplehttp (then the answers must be equal) or it gives exactly the older answer.
    EncodedTrailingSlash,
    /// `If-None-Match: *`: RFC 9110 says `*` matches an existing file, so simplehttp answers 304; Python ignores `If-None-Match` and sends 200.
    IfNoneMatchStar,
    /// `Range`: simplehttp answers 206 with the range (its docs: "Range requests"); Python ignores `Range` and sends 200 with everything.
    Range,
}

/// One request of the corpus.
struct Case {
    method: &'static str,
    target: Vec<u8>,
    headers: Vec<(&'static str, String)>,
    known: Option<Known>,
}

fn case(method: &'static str, target: impl AsRef<[u8]>) -> Case {
    Case {
        method,
        target: target.as_ref().to_vec(),
        headers: Vec::new(),
        known: None,
    }
}

impl Case {
    fn header(mut self, name: &'static str, value: &str) -> Case {
        self.headers.push((name, value.to_owned()));
        self
    }

    fn known(mut self, known: Known) -> Case {
        self.known = Some(known);
        self
    }

    fn describe(&self) -> String {
        let mut text = format!("{} {}", self.method, String::from_utf8_lossy(&self.target));
        for (name, value) in &self.headers {
            text.push_str(&format!(" [{name}: {value}]"));
        }
        text
    }
}

fn corpus() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut files: Vec<Vec<u8>> = root_files()
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| name != NON_UTF8_NAME)
        .collect();
    files.extend([
        b"link.txt".to_vec(),
        b"site/index.html".to_vec(),
        b"site/other.txt".to_vec(),
        b"no index/inner.txt".to_vec(),
        b"no index/deeper/deep.css".to_vec(),
        b"odd <dir> & q?/f#.txt".to_vec(),
    ]);
    for name in &files {
        let mut target = b"/".to_vec();
        target.extend(quote(name));
        cases.push(case("GET", &target));
        cases.push(case("HEAD", &target));
        // A file asked for as a directory: 404 in both.
        target.push(b'/');
        cases.push(case("GET", &target));
    }
    let mut directories = vec!["site-link"];
    directories.extend(DIRECTORIES);
    for directory in directories {
        let target = [b"/".to_vec(), quote(directory.as_bytes())].concat();
        cases.push(case("GET", [&target[..], b"/"].concat()));
        cases.push(case("HEAD", [&target[..], b"/"].concat()));
        cases.push(case("GET", [&target[..], b"/?sort=name&x=%2F"].concat()));
        // Without the trailing slash: 301 to it, with and without a query.
        cases.push(case("GET", &target));
        cases.push(case("HEAD", &target));
        cases.push(case("GET", [&target[..], b"?q=1&r=two"].concat()));
    }
    for target in [
        "/",
        "/?x=1",
        "/notes.txt?x=1",
        // Leading double slashes, which Python collapses against open redirects.
        "//site",
        "//site?x=1",
        "///site",
        "//notes.txt",
        "//",
        // Percent-encoded letters and slashes.
        "/%6eotes.txt",
        "/%73ite/",
        "/site%2Findex.html",
        // Attempts to climb out of the root.
        "/../notes.txt",
        "/site/../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/..%2f..%2fetc%2fpasswd",
        "/site/..%2fnotes.txt",
        "/site/./../notes.txt",
        // Missing things.
        "/missing",
        "/missing/",
        "/missing.html",
        "/site/missing.txt",
    ] {
        cases.push(case("GET", target));
    }
    let future = "Tue, 01 Jan 2999 00:00:00 GMT";
    let past = "Mon, 01 Jan 1990 00:00:00 GMT";
    for (target, date) in [
        ("/notes.txt", future),
        ("/notes.txt", past),
        ("/notes.txt", "not a date"),
        ("/no%20index/", future),
        ("/site/", future),
        ("/site/", past),
    ] {
        cases.push(case("GET", target).header("If-Modified-Since", date));
        cases.push(case("HEAD", target).header("If-Modified-Since", date));
    }
    for (method, target) in [
        ("POST", "/"),
        ("POST", "/notes.txt"),
        ("PUT", "/notes.txt"),
        ("DELETE", "/notes.txt"),
    ] {
        cases.push(case(method, target));
    }

    // The deliberate differences.
    cases.push(case("GET", b"/caf%E9.txt").known(Known::NonUtf8PercentEncoded));
    cases.push(case("GET", b"/caf\xe9.txt").known(Known::RawNonAscii));
    cases.push(case("GET", format!("/{UTF8_NAME}")).known(Known::RawNonAscii));
    cases.push(case("GET", b"/#fragment").known(Known::RawFragment));
    cases.push(case("GET", b"/notes.txt#part").known(Known::RawFragment));
    for target in [
        "/site%2f",
        "/site%2F",
        "/notes.txt%2f",
        "%2f",
        "/no%20index%2F",
    ] {
        cases.push(case("GET", target).known(Known::EncodedTrailingSlash));
    }
    cases.push(
        case("GET", "/notes.txt")
            .header("If-None-Match", "*")
            .known(Known::IfNoneMatchStar),
    );
    cases.push(
        case("GET", "/notes.txt")
            .header("Range", "bytes=0-3")
            .known(Known::Range),
    );
    cases
}

const COMPARED_HEADERS: [&str; 4] = [
    "Content-Type",
    "Content-Length",
    "Location",
    "Last-Modified",
];

/// What the running Python does where Python releases differ.
struct Context {
    python_port: u16,
    simple_port: u16,
    /// Python 3.13 added a color-scheme `<style>` block to its listing and error pages; simplehttp writes the newer pages.
    python_pages_have_style: bool,
}

/// Differences found; the test fails with all of them listed.
#[derive(Default)]
struct Report {
    mismatches: Vec<String>,
    compared: usize,
}

impl Report {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.mismatches.push(what());
        }
    }

    /// Compares the fields and bodies of two answers to `request`.
    fn compare(&mut self, request: &str, python: &Response, simple: &Response) {
        self.compared += 1;
        self.check(python.status == simple.status, || {
            format!(
                "{request}: status python {} simplehttp {}",
                python.status, simple.status
            )
        });
        for name in COMPARED_HEADERS {
            let (left, right) = (python.header(name), simple.header(name));
            self.check(left == right, || {
                format!("{request}: {name} python {left:?} simplehttp {right:?}")
            });
        }
        self.check(python.body == simple.body, || {
            format!(
                "{request}: bodies differ\n--- python\n{}\n--- simplehttp\n{}",
                String::from_utf8_lossy(&python.body),
                String::from_utf8_lossy(&simple.body)
            )
        });
    }
}

/// The `<style>` block of the listing page (Python 3.13 and later, and simplehttp).
const LISTING_STYLE: &str =
    "<style type=\"text/css\">\n:root {\ncolor-scheme: light dark;\n}\n</style>\n";
/// The `<style>` block of the error page (Python 3.13 and later, and basehttp).
const ERROR_STYLE: &str = "        <style type=\"text/css\">\n            :root {\n                color-scheme: light dark;\n            }\n        </style>\n";

/// Python's listing line for [`NON_UTF8_NAME`]: the link quotes the surrogate U+DCE9 as UTF-8 (`%ED%B3%A9`),
/// and the page carries the raw byte 0xE9 (`surrogateescape`), so the page is not valid UTF-8.
const PYTHON_NON_UTF8_LINE: &[u8] = b"<li><a href=\"caf%ED%B3%A9.txt\">caf\xe9.txt</a></li>";
/// simplehttp's line for the same name: the link holds the real byte (`%E9`) and the page shows U+FFFD, staying UTF-8.
const SIMPLE_NON_UTF8_LINE: &[u8] =
    "<li><a href=\"caf%E9.txt\">caf\u{fffd}.txt</a></li>".as_bytes();

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn replace(haystack: &[u8], needle: &[u8], replacement: &[u8]) -> Option<Vec<u8>> {
    let start = find(haystack, needle)?;
    Some(
        [
            &haystack[..start],
            replacement,
            &haystack[start + needle.len()..],
        ]
        .concat(),
    )
}

/// The text between `open` and `close`.
fn between<'a>(page: &'a [u8], open: &[u8], close: &[u8]) -> Option<&'a [u8]> {
    let start = find(page, open)? + open.len();
    let end = find(&page[start..], close)?;
    Some(&page[start..start + end])
}

/// Replaces a response's body; its `Content-Length` follows when it described the old body, so a wrong length still shows.
fn set_body(response: &mut Response, body: Vec<u8>) {
    let old = response.body.len().to_string();
    for (name, value) in &mut response.headers {
        if name.eq_ignore_ascii_case("Content-Length") && *value == old {
            *value = body.len().to_string();
        }
    }
    response.body = body;
}

/// Brings the two answers together where they differ on purpose or by Python release, asserting each difference is exactly the known one.
fn normalize(
    context: &Context,
    report: &mut Report,
    request: &str,
    python: &mut Response,
    simple: &mut Response,
) -> bool {
    // Exception (Python release): before 3.13 Python's pages have no color-scheme style; simplehttp and basehttp write the newer pages.
    // Against an older Python the block is taken out of simplehttp's page (and its length) before comparing.
    if !context.python_pages_have_style {
        for style in [LISTING_STYLE, ERROR_STYLE] {
            if let Some(body) = replace(&simple.body, style.as_bytes(), b"") {
                set_body(simple, body);
            }
        }
    }
    // Exception (deliberate, RFC 9110 §15.4.5): simplehttp's 304 carries the validators a 200 would (ETag, Last-Modified); Python's carries none.
    if python.status == 304 && simple.status == 304 {
        report.check(
            python.header("Last-Modified").is_none() && simple.header("Last-Modified").is_some(),
            || {
                format!(
                    "{request}: 304 Last-Modified python {:?} simplehttp {:?}",
                    python.header("Last-Modified"),
                    simple.header("Last-Modified")
                )
            },
        );
        simple
            .headers
            .retain(|(name, _)| !name.eq_ignore_ascii_case("Last-Modified"));
    }
    if !(python.is_listing() && simple.is_listing()) {
        return false;
    }
    // Exception (Python release): Python 3.11's listing title keeps the query and fragment (`unquote(self.path)`); newer Python and simplehttp drop them.
    let python_title = between(&python.body, b"<title>", b"</title>").map(<[u8]>::to_vec);
    let simple_title = between(&simple.body, b"<title>", b"</title>").map(<[u8]>::to_vec);
    if let (Some(python_title), Some(simple_title)) = (python_title, simple_title) {
        if python_title != simple_title {
            let rest = python_title.strip_prefix(simple_title.as_slice());
            report.check(
                rest.is_some_and(|rest| rest.starts_with(b"?") || rest.starts_with(b"#")),
                || {
                    format!(
                        "{request}: listing titles python {:?} simplehttp {:?}",
                        String::from_utf8_lossy(&python_title),
                        String::from_utf8_lossy(&simple_title)
                    )
                },
            );
            let mut body = python.body.clone();
            while let Some(replaced) = replace(&body, &python_title, &simple_title) {
                body = replaced;
            }
            set_body(python, body);
        }
    }
    // Exception (deliberate, simplehttp's crate docs): the name that is not UTF-8. Each side's line must be exactly the documented one.
    let python_has_name = find(&python.body, PYTHON_NON_UTF8_LINE).is_some();
    let simple_has_name = find(&simple.body, SIMPLE_NON_UTF8_LINE).is_some();
    report.check(python_has_name == simple_has_name, || {
        format!("{request}: the non-UTF-8 name is listed by python {python_has_name}, simplehttp {simple_has_name}")
    });
    if simple_has_name {
        let body = replace(&simple.body, SIMPLE_NON_UTF8_LINE, PYTHON_NON_UTF8_LINE).unwrap();
        set_body(simple, body);
    }
    python_has_name && simple_has_name
}

/// Every `href` of a listing page, in order.
fn links(page: &[u8]) -> Vec<Vec<u8>> {
    let mut found = Vec::new();
    let mut rest = page;
    while let Some(start) = find(rest, b"href=\"") {
        rest = &rest[start + 6..];
        let end = rest.iter().position(|&byte| byte == b'"').unwrap();
        found.push(rest[..end].to_vec());
        rest = &rest[end..];
    }
    found
}

/// The target of a listing's link: the listing's path (without query and fragment) plus the relative link.
fn join(directory: &[u8], link: &[u8]) -> Vec<u8> {
    let path = directory
        .split(|&byte| byte == b'?' || byte == b'#')
        .next()
        .unwrap();
    [path, link].concat()
}

/// Answers of both servers, or a mismatch noted when one of them closed without answering.
fn both(
    context: &Context,
    report: &mut Report,
    request: &str,
    method: &str,
    target: &[u8],
    headers: &[(&str, String)],
) -> Option<(Response, Response)> {
    let python = exchange(context.python_port, method, target, headers);
    let simple = exchange(context.simple_port, method, target, headers);
    match (python, simple) {
        (Some(python), Some(simple)) => Some((python, simple)),
        (python, simple) => {
            report.mismatches.push(format!(
                "{request}: no answer from python {} simplehttp {}",
                python.is_none(),
                simple.is_none()
            ));
            None
        }
    }
}

/// A HEAD answer must be its GET's answer without the body, on each server.
fn check_head(report: &mut Report, request: &str, side: &str, head: &Response, get: &Response) {
    report.check(head.status == get.status && head.body.is_empty(), || {
        format!(
            "{request}: {side}'s HEAD gave {} with {} bytes, GET {}",
            head.status,
            head.body.len(),
            get.status
        )
    });
    for name in COMPARED_HEADERS {
        // A listing's or an error page's Last-Modified is absent on both; a file's date is the same to the second.
        report.check(head.header(name) == get.header(name), || {
            format!(
                "{request}: {side}'s HEAD {name} {:?}, GET {:?}",
                head.header(name),
                get.header(name)
            )
        });
    }
}

/// Compares one case; for listings, follows every link (recursively, each page once) and compares those too.
fn run_case(
    context: &Context,
    report: &mut Report,
    current: &Case,
    visited: &mut BTreeSet<Vec<u8>>,
) {
    let request = current.describe();
    if let Some(known) = current.known {
        let python = exchange(
            context.python_port,
            current.method,
            &current.target,
            &current.headers,
        );
        let simple = exchange(
            context.simple_port,
            current.method,
            &current.target,
            &current.headers,
        );
        check_known(
            report,
            &request,
            current,
            known,
            python.as_ref(),
            simple.as_ref(),
        );
        return;
    }
    let Some((mut python, mut simple)) = both(
        context,
        report,
        &request,
        "GET",
        &current.target,
        &current.headers,
    ) else {
        return;
    };
    if current.method == "HEAD" {
        // HEAD is compared through GET: each server's HEAD must match its own GET, and the GETs are compared below.
        let Some((python_head, simple_head)) = both(
            context,
            report,
            &request,
            "HEAD",
            &current.target,
            &current.headers,
        ) else {
            return;
        };
        check_head(report, &request, "python", &python_head, &python);
        check_head(report, &request, "simplehttp", &simple_head, &simple);
    } else if current.method != "GET" {
        let Some(answers) = both(
            context,
            report,
            &request,
            current.method,
            &current.target,
            &current.headers,
        ) else {
            return;
        };
        (python, simple) = answers;
    }
    let has_non_utf8 = normalize(context, report, &request, &mut python, &mut simple);
    report.compare(&request, &python, &simple);
    if !python.is_listing() || !visited.insert(join(&current.target, b"")) {
        return;
    }
    for link in links(&python.body) {
        // The link to the non-UTF-8 name is the known difference, checked below.
        if link != b"caf%ED%B3%A9.txt" {
            run_case(
                context,
                report,
                &case("GET", join(&current.target, &link)),
                visited,
            );
        }
    }
    if has_non_utf8 {
        // Each server's own link to the non-UTF-8 name leads to the file.
        let python_file = exchange(
            context.python_port,
            "GET",
            &join(&current.target, b"caf%ED%B3%A9.txt"),
            &[],
        );
        let simple_file = exchange(
            context.simple_port,
            "GET",
            &join(&current.target, b"caf%E9.txt"),
            &[],
        );
        report.check(
            python_file
                .as_ref()
                .is_some_and(|file| file.status == 200 && file.body == b"not UTF-8\n"),
            || format!("{request}: python's surrogate link gave {python_file:?}"),
        );
        report.check(
            simple_file
                .as_ref()
                .is_some_and(|file| file.status == 200 && file.body == b"not UTF-8\n"),
            || format!("{request}: simplehttp's %E9 link gave {simple_file:?}"),
        );
        // Python's surrogate link names other bytes (ED B3 A9), which this tree does not have.
        let crossed = exchange(
            context.simple_port,
            "GET",
            &join(&current.target, b"caf%ED%B3%A9.txt"),
            &[],
        );
        report.check(
            crossed
                .as_ref()
                .is_some_and(|response| response.status == 404),
            || format!("{request}: python's surrogate link on simplehttp gave {crossed:?}"),
        );
    }
}

fn check_known(
    report: &mut Report,
    request: &str,
    current: &Case,
    known: Known,
    python: Option<&Response>,
    simple: Option<&Response>,
) {
    report.compared += 1;
    let (Some(python), Some(simple)) = (python, simple) else {
        report.mismatches.push(format!(
            "{request} ({known:?}): no answer from python {} simplehttp {}",
            python.is_none(),
            simple.is_none()
        ));
        return;
    };
    let file_name =
        String::from_utf8_lossy(current.target.strip_prefix(b"/").unwrap_or(&current.target))
            .into_owned();
    let (python_ok, simple_ok) = match known {
        Known::NonUtf8PercentEncoded => (
            python.status == 404,
            simple.status == 200 && (simple.body == b"not UTF-8\n" || simple.body == b"UTF-8\n"),
        ),
        Known::RawNonAscii => (python.status == 404, simple.status == 400),
        Known::RawFragment => (python.status == 200, simple.status == 400),
        Known::IfNoneMatchStar => (
            python.status == 200 && python.body == NOTES,
            simple.status == 304 && simple.body.is_empty(),
        ),
        Known::Range => (
            python.status == 200 && python.body == NOTES,
            simple.status == 206
                && simple.body[..] == NOTES[..4]
                && simple.header("Content-Range") == Some("bytes 0-3/31"),
        ),
        Known::EncodedTrailingSlash => {
            // Newer Python agrees with simplehttp: then the answers must be equal.
            if python.status == simple.status {
                report.compare(request, python, simple);
                return;
            }
            let older_python = if file_name.starts_with("notes.txt") {
                python.status == 200 && python.body == NOTES
            } else {
                python.status == 301
                    && python.header("Location")
                        == Some(&format!("{}/", String::from_utf8_lossy(&current.target)))
            };
            (older_python, matches!(simple.status, 200 | 404))
        }
    };
    report.check(python_ok && simple_ok, || {
        format!(
            "{request} ({known:?}): python {} {:?}, simplehttp {} {:?}",
            python.status,
            String::from_utf8_lossy(&python.body),
            simple.status,
            String::from_utf8_lossy(&simple.body)
        )
    });
}

#[test]
fn simplehttp_answers_as_python_http_server_does() {
    if !python_available() {
        eprintln!("note: python3 is not on PATH; the differential test against python3 -m http.server is skipped");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    build_tree(root.path());
    let python = start_python(root.path());
    let simple = start_simple(root.path());
    let probe = exchange(python.port, "GET", b"/missing", &[]).expect("python answers");
    let context = Context {
        python_port: python.port,
        simple_port: simple.port,
        python_pages_have_style: find(&probe.body, b"color-scheme").is_some(),
    };
    let mut report = Report::default();
    let mut visited = BTreeSet::new();
    for case in corpus() {
        run_case(&context, &mut report, &case, &mut visited);
    }
    eprintln!(
        "differential: {} answers compared, {} listings followed",
        report.compared,
        visited.len()
    );
    assert!(report.compared > 150, "{}", report.compared);
    assert!(
        report.mismatches.is_empty(),
        "{} differences from python3 -m http.server:\n\n{}",
        report.mismatches.len(),
        report.mismatches.join("\n\n")
    );
}
