//! The handler over real sockets on 127.0.0.1: requests written by hand, responses read raw, as Python's SimpleHTTPServerTestCase does.

use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use simplehttp::SimpleHttpRequestHandler;

mod common;

/// The served tree of a test and the server over it.
struct Running {
    port: u16,
    root: tempfile::TempDir,
    _serving: common::Serving,
}

fn start(protocol: &str) -> Running {
    let root = tempfile::tempdir().unwrap();
    fs::write(root.path().join("test"), b"We are the knights who say Ni!").unwrap();
    fs::create_dir(root.path().join("sub")).unwrap();
    let mut handler = SimpleHttpRequestHandler::new(root.path());
    handler.protocol_version = protocol.to_owned();
    let serving = common::serve_quietly(handler);
    Running {
        port: serving.port,
        root,
        _serving: serving,
    }
}

/// Sends `request` (lines joined with CRLF, a blank line added) and reads until the server closes.
fn exchange(running: &Running, request: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect(("127.0.0.1", running.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let text = format!("{}\r\n\r\n", request.replace('\n', "\r\n"));
    stream.write_all(text.as_bytes()).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    response
}

fn split(response: &[u8]) -> (String, Vec<u8>) {
    let end = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("a blank line ends the head");
    (
        String::from_utf8_lossy(&response[..end]).into_owned(),
        response[end + 4..].to_vec(),
    )
}

fn has_line(head: &str, line: &str) -> bool {
    head.lines().any(|candidate| candidate == line)
}

fn check(running: &Running, request: &str, status_line: &str, body: Option<&[u8]>) -> String {
    let (head, data) = split(&exchange(running, request));
    assert!(head.starts_with(status_line), "{request:?} gave {head}");
    if let Some(body) = body {
        assert_eq!(data, body, "{request:?}");
    }
    head
}

// Mirrors test_httpservers: SimpleHTTPServerTestCase.test_get.
#[test]
fn test_get() {
    let running = start("HTTP/1.0");
    check(
        &running,
        "GET /test HTTP/1.0",
        "HTTP/1.0 200 OK",
        Some(b"We are the knights who say Ni!"),
    );
    check(
        &running,
        "GET /test/ HTTP/1.0",
        "HTTP/1.0 404 File not found",
        None,
    );
    check(&running, "GET /test%2f HTTP/1.0", "HTTP/1.0 404", None);
    check(&running, "GET / HTTP/1.0", "HTTP/1.0 200", None);
    check(&running, "GET %2f HTTP/1.0", "HTTP/1.0 200", None);
    let head = check(
        &running,
        "GET /sub HTTP/1.0",
        "HTTP/1.0 301 Moved Permanently",
        Some(b""),
    );
    assert!(has_line(&head, "Location: /sub/"), "{head}");
    assert!(has_line(&head, "Content-Length: 0"), "{head}");
    let head = check(&running, "GET /sub?hi=1 HTTP/1.0", "HTTP/1.0 301", None);
    assert!(has_line(&head, "Location: /sub/?hi=1"), "{head}");
    check(
        &running,
        "GET /ThisDoesNotExist HTTP/1.0",
        "HTTP/1.0 404",
        None,
    );
    fs::write(
        running.root.path().join("index.html"),
        b"Dummy index file\r\n",
    )
    .unwrap();
    check(
        &running,
        "GET / HTTP/1.0",
        "HTTP/1.0 200",
        Some(b"Dummy index file\r\n"),
    );
}

// Mirrors test_httpservers: SimpleHTTPServerTestCase.test_head.
#[test]
fn test_head() {
    let running = start("HTTP/1.0");
    let head = check(
        &running,
        "HEAD /test HTTP/1.0",
        "HTTP/1.0 200 OK",
        Some(b""),
    );
    assert!(has_line(&head, "Content-Length: 30"), "{head}");
    assert!(
        has_line(&head, "Content-type: application/octet-stream"),
        "{head}"
    );
    assert!(head.contains("\r\nServer: SimpleHTTP/0.6 "), "{head}");
}

// Mirrors test_httpservers: SimpleHTTPServerTestCase.test_invalid_requests.
#[test]
fn test_invalid_requests() {
    let running = start("HTTP/1.0");
    for method in ["FOO", "custom", "GETs", "POST", "PUT"] {
        check(
            &running,
            &format!("{method} / HTTP/1.0"),
            "HTTP/1.0 501",
            None,
        );
    }
}

#[test]
fn ranges_and_validators_over_the_wire() {
    let running = start("HTTP/1.1");
    let head = check(
        &running,
        "GET /test HTTP/1.1\nHost: x\nRange: bytes=-3\nConnection: close",
        "HTTP/1.1 206 Partial Content",
        Some(b"Ni!"),
    );
    assert!(has_line(&head, "Content-Range: bytes 27-29/30"), "{head}");
    let etag = head
        .lines()
        .find_map(|line| line.strip_prefix("ETag: "))
        .unwrap()
        .to_owned();
    check(
        &running,
        &format!("GET /test HTTP/1.1\nHost: x\nIf-None-Match: {etag}\nConnection: close"),
        "HTTP/1.1 304",
        Some(b""),
    );
    check(
        &running,
        "GET /test HTTP/1.1\nHost: x\nRange: bytes=30-\nConnection: close",
        "HTTP/1.1 416",
        Some(b""),
    );
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let running = start("HTTP/1.1");
    let response = exchange(
        &running,
        "GET /test HTTP/1.1\nHost: x\n\nGET /sub/ HTTP/1.1\nHost: x\n\nHEAD /test HTTP/1.1\nHost: x\nConnection: close",
    );
    let text = String::from_utf8_lossy(&response);
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 3, "{text}");
    assert!(
        text.contains("We are the knights who say Ni!HTTP/1.1 200 OK"),
        "{text}"
    );
}

// A thread keeps the checked headers of its last file answers; each answer must still carry its own file's headers.
#[test]
fn answers_in_a_row_carry_their_own_files_headers() {
    let running = start("HTTP/1.1");
    fs::write(
        running.root.path().join("other.html"),
        b"<p>another length</p>",
    )
    .unwrap();
    let response = exchange(
        &running,
        "GET /test HTTP/1.1\nHost: x\n\nGET /other.html HTTP/1.1\nHost: x\n\nGET /test HTTP/1.1\nHost: x\nConnection: close",
    );
    let text = String::from_utf8_lossy(&response);
    let heads: Vec<&str> = text
        .split("HTTP/1.1 200 OK\r\n")
        .skip(1)
        .map(|answer| answer.split("\r\n\r\n").next().unwrap_or(""))
        .collect();
    assert_eq!(heads.len(), 3, "{text}");
    for (head, (length, content_type)) in heads.iter().zip([
        ("30", "application/octet-stream"),
        ("21", "text/html"),
        ("30", "application/octet-stream"),
    ]) {
        assert!(
            has_line(head, &format!("Content-Length: {length}")),
            "{head}"
        );
        assert!(
            has_line(head, &format!("Content-type: {content_type}")),
            "{head}"
        );
    }
    assert!(text.ends_with("We are the knights who say Ni!"), "{text}");
}

#[test]
fn large_file_goes_out_whole() {
    let running = start("HTTP/1.0");
    let content: Vec<u8> = (0..=255u8).cycle().take(3_000_000).collect();
    fs::write(running.root.path().join("big.bin"), &content).unwrap();
    let (head, body) = split(&exchange(&running, "GET /big.bin HTTP/1.0"));
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    assert_eq!(body.len(), content.len());
    assert!(body == content);
}

// Mirrors test_httpservers: SimpleHTTPServerTestCase.test_undecodable_filename (the link leads back to the file).
#[test]
fn test_undecodable_filename() {
    use std::os::unix::ffi::OsStrExt;
    let running = start("HTTP/1.0");
    let name = std::ffi::OsStr::from_bytes(b"\xff.txt");
    fs::write(running.root.path().join(name), b"undecodable").unwrap();
    let (_, page) = split(&exchange(&running, "GET / HTTP/1.0"));
    let page = String::from_utf8(page).expect("the page is UTF-8");
    assert!(
        page.contains("<li><a href=\"%FF.txt\">\u{FFFD}.txt</a></li>"),
        "{page}"
    );
    check(
        &running,
        "GET /%FF.txt HTTP/1.0",
        "HTTP/1.0 200",
        Some(b"undecodable"),
    );
}

// Mirrors test_httpservers: SimpleHTTPServerTestCase.test_html_escape_filename.
#[test]
fn test_html_escape_filename() {
    let running = start("HTTP/1.0");
    for name in ["&amp;", "<i>", "q?", "f#", "\"dq\"", "'sq'", "%A4"] {
        fs::write(running.root.path().join(name), name.as_bytes()).unwrap();
    }
    let (_, page) = split(&exchange(&running, "GET / HTTP/1.0"));
    let page = String::from_utf8(page).unwrap();
    assert!(
        page.contains("<a href=\"%26amp%3B\">&amp;amp;</a>"),
        "{page}"
    );
    assert!(page.contains("<a href=\"%3Ci%3E\">&lt;i&gt;</a>"), "{page}");
    for (link, name) in [
        ("/%26amp%3B", "&amp;"),
        ("/%3Ci%3E", "<i>"),
        ("/q%3F", "q?"),
        ("/f%23", "f#"),
        ("/%22dq%22", "\"dq\""),
        ("/%27sq%27", "'sq'"),
        ("/%25A4", "%A4"),
    ] {
        assert!(
            page.contains(&format!("href=\"{}\"", &link[1..])),
            "{link} in {page}"
        );
        check(
            &running,
            &format!("GET {link} HTTP/1.0"),
            "HTTP/1.0 200",
            Some(name.as_bytes()),
        );
    }
}

// Mirrors test_httpservers: SimpleHTTPServerTestCase.test_get_dir_redirect_location_domain_injection_bug.
#[test]
fn test_get_dir_redirect_location_domain_injection_bug() {
    let running = start("HTTP/1.0");
    fs::create_dir_all(running.root.path().join("existing_directory")).unwrap();
    let url = "/python.org/..%2f..%2f..%2f..%2f..%2f../%0a%0d/../existing_directory";
    for attack in [url.to_owned(), format!("/{url}"), format!("//{url}")] {
        let head = check(
            &running,
            &format!("GET {attack} HTTP/1.0"),
            "HTTP/1.0 301",
            None,
        );
        assert!(
            has_line(&head, &format!("Location: {url}/")),
            "{attack}: {head}"
        );
    }
}

// Mirrors test_httpservers: SimpleHTTPServerTestCase.test_browser_cache.
#[test]
fn test_browser_cache() {
    let running = start("HTTP/1.0");
    let head = check(&running, "GET /test HTTP/1.0", "HTTP/1.0 200", None);
    let last_modified = head
        .lines()
        .find_map(|line| line.strip_prefix("Last-Modified: "))
        .unwrap()
        .to_owned();
    check(
        &running,
        &format!("GET /test HTTP/1.0\nIf-Modified-Since: {last_modified}"),
        "HTTP/1.0 304",
        Some(b""),
    );
    check(
        &running,
        "GET /test HTTP/1.0\nIf-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT",
        "HTTP/1.0 200",
        Some(b"We are the knights who say Ni!"),
    );
}

// Mirrors test_httpservers: BaseHTTPServerTestCase.test_version_none_get (an HTTP/0.9 request gets the body alone).
#[test]
fn http_0_9_gets_the_body_alone() {
    let running = start("HTTP/1.0");
    let mut stream = TcpStream::connect(("127.0.0.1", running.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(b"GET /test\r\n").unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    assert_eq!(response, b"We are the knights who say Ni!");
}

// Not in Python: raw UTF-8 in the request line is refused (RFC 3986 allows only ASCII in a request-target);
// Python reads the line as Latin-1 and looks for a garbled name. Percent-encoded, the name is found.
#[test]
fn raw_utf8_request_line_is_refused_and_its_encoding_finds_the_file() {
    let running = start("HTTP/1.0");
    fs::write(running.root.path().join("na\u{ef}ve.txt"), b"UTF-8 name").unwrap();
    check(
        &running,
        "GET /na\u{ef}ve.txt HTTP/1.0",
        "HTTP/1.0 400 Bad request target",
        None,
    );
    check(
        &running,
        "GET /na%C3%AFve.txt HTTP/1.0",
        "HTTP/1.0 200 OK",
        Some(b"UTF-8 name"),
    );
}

// Not in Python, which reads every file anew: small files are kept in memory once settled, and a change is seen at once,
// even one in place that keeps the size; ranges of a kept file come from memory too.
#[test]
fn a_small_file_kept_in_memory_is_never_served_stale() {
    let running = start("HTTP/1.0");
    let path = running.root.path().join("kept.txt");
    fs::write(&path, b"0123456789").unwrap();
    // Older than the two seconds a file must have been left alone to be kept.
    std::thread::sleep(Duration::from_millis(3200));
    for _ in 0..2 {
        let (head, body) = split(&exchange(&running, "GET /kept.txt HTTP/1.0"));
        assert!(head.starts_with("HTTP/1.0 200 "), "{head}");
        assert_eq!(body, b"0123456789");
    }
    let (head, body) = split(&exchange(
        &running,
        "GET /kept.txt HTTP/1.0\nRange: bytes=2-4",
    ));
    assert!(head.starts_with("HTTP/1.0 206 "), "{head}");
    assert_eq!(body, b"234");
    let (head, body) = split(&exchange(
        &running,
        "GET /kept.txt HTTP/1.0\nRange: bytes=0-1,8-9",
    ));
    assert!(head.starts_with("HTTP/1.0 206 "), "{head}");
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.contains("Content-Range: bytes 0-1/10\r\n\r\n01\r\n"),
        "{body}"
    );
    assert!(
        body.contains("Content-Range: bytes 8-9/10\r\n\r\n89\r\n"),
        "{body}"
    );
    // Rewritten in place, same length.
    fs::write(&path, b"abcdefghij").unwrap();
    let (_, body) = split(&exchange(&running, "GET /kept.txt HTTP/1.0"));
    assert_eq!(body, b"abcdefghij");
}
