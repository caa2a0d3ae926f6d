//! What the client sends: automatic headers, validation and body framing, mirroring test_httplib's
//! HeaderTests, TransferEncodingTest and RequestBodyTest.

mod support;

use std::io::Read;

use httpclient::{Body, Config, Error, HttpConnection};
use support::{parse_chunked, parse_request, serve_once};

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

/// Sends what `build` sends on a fresh connection, reads the answer, and returns the raw request.
fn capture(build: impl FnOnce(&mut HttpConnection) -> Result<(), Error>) -> Vec<u8> {
    let server = serve_once(OK);
    let mut conn = HttpConnection::new(&server.host()).unwrap();
    build(&mut conn).unwrap();
    conn.getresponse().unwrap().read(None).unwrap();
    drop(conn);
    server.received().remove(0)
}

fn header<'a>(lines: &'a [String], name: &str) -> Vec<&'a str> {
    lines
        .iter()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .filter(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim())
        .collect()
}

// Mirrors test_httplib: HeaderTests.test_auto_headers
#[test]
fn test_auto_headers() {
    for explicit in [true, false] {
        for name in ["Content-length", "Host", "Accept-encoding"] {
            let body = "spamspamspam";
            let length = body.len().to_string();
            let headers: Vec<(&str, &str)> = if explicit {
                vec![(name, length.as_str())]
            } else {
                vec![]
            };
            let raw = capture(|conn| conn.request("POST", "/", body, &headers));
            let (lines, _) = parse_request(&raw);
            assert_eq!(
                header(&lines, name).len(),
                1,
                "{name} explicit={explicit}: {lines:?}"
            );
        }
    }
}

// Mirrors test_httplib: HeaderTests.test_content_length_0
#[test]
fn test_content_length_0() {
    for method in ["PUT", "POST", "PATCH"] {
        for body in [Body::Empty, Body::Bytes(b"")] {
            let raw = capture(|conn| conn.request(method, "/", body, &[]));
            assert_eq!(
                header(&parse_request(&raw).0, "content-length"),
                ["0"],
                "{method}"
            );
        }
    }
    for method in ["GET", "CONNECT", "DELETE", "HEAD", "OPTIONS", "TRACE"] {
        let server = serve_once(OK);
        let mut conn = HttpConnection::new(&server.host()).unwrap();
        conn.request(method, "/", Body::Empty, &[]).unwrap();
        drop(conn);
        let raw = server.received().remove(0);
        assert!(
            header(&parse_request(&raw).0, "content-length").is_empty(),
            "{method}"
        );
        // Present but empty is still a body.
        let raw = capture(|conn| conn.request(method, "/", "", &[]).map(|_| ()));
        assert_eq!(
            header(&parse_request(&raw).0, "content-length"),
            ["0"],
            "{method}"
        );
    }
    for method in ["GET", "DELETE", "PUT", "POST", "PATCH"] {
        let raw = capture(|conn| conn.request(method, "/", " ", &[]));
        assert_eq!(
            header(&parse_request(&raw).0, "content-length"),
            ["1"],
            "{method}"
        );
    }
}

// Mirrors test_httplib: HeaderTests.test_putheader
#[test]
fn test_putheader() {
    let raw = capture(|conn| {
        conn.putrequest("GET", "/")?;
        conn.putheader("Content-length", 42.to_string())?;
        conn.putheader("Foo", " bar ")?;
        conn.putheader("Bar", "\tbaz\t")?;
        conn.putheader("Authorization", "Bearer mytoken")?;
        conn.putheader_values("IterHeader", &[b"IterA", b"IterB"])?;
        conn.putheader("LatinHeader", b"\xFCber")?;
        conn.putheader("Utf8Header", b"\xc3\x80ber")?;
        conn.putheader("C1-Control", b"next\x85line")?;
        conn.putheader("Embedded-Fold-Space", "is\r\n allowed")?;
        conn.putheader("Embedded-Fold-Tab", "is\r\n\tallowed")?;
        conn.putheader("Key Space", "value")?;
        conn.putheader("KeySpace ", "value")?;
        conn.putheader(b"Nonbreak\xa0Space", "value")?;
        conn.putheader(b"\xa0NonbreakSpace", "value")?;
        conn.endheaders()?;
        // The 42 bytes the Content-length promised.
        conn.send(&[b'x'; 42])
    });
    for expected in [
        &b"Content-length: 42"[..],
        b"Foo:  bar ",
        b"Bar: \tbaz\t",
        b"Authorization: Bearer mytoken",
        b"IterHeader: IterA\r\n\tIterB",
        b"LatinHeader: \xFCber",
        b"Utf8Header: \xc3\x80ber",
        b"C1-Control: next\x85line",
        b"Embedded-Fold-Space: is\r\n allowed",
        b"Embedded-Fold-Tab: is\r\n\tallowed",
        b"Key Space: value",
        b"KeySpace : value",
        b"Nonbreak\xa0Space: value",
        b"\xa0NonbreakSpace: value",
    ] {
        assert!(
            support::find(&raw, expected).is_some(),
            "{:?}",
            expected.escape_ascii().to_string()
        );
    }
}

// Mirrors test_httplib: HeaderTests.test_invalid_headers: refused before anything is sent (no header injection).
#[test]
fn test_invalid_headers() {
    let server = serve_once(OK);
    let mut conn = HttpConnection::new(&server.host()).unwrap();
    conn.putrequest("GET", "/").unwrap();
    for name in [
        "Invalid\r\nName",
        "Invalid:Name",
        " InvalidName",
        ":InvalidName",
    ] {
        assert!(
            matches!(
                conn.putheader(name, "ValidValue"),
                Err(Error::InvalidHeaderName(_))
            ),
            "{name:?}"
        );
    }
    for value in ["Invalid\r\nValue", "Invalid\rValue", "InvalidValue\n"] {
        assert!(
            matches!(
                conn.putheader("ValidName", value),
                Err(Error::InvalidHeaderValue(_))
            ),
            "{value:?}"
        );
    }
    conn.close();
    // request() checks every header before sending any byte.
    let injected = [("X-Ok", "fine"), ("X-Evil", "a\r\nInjected: yes")];
    let error = conn
        .request("GET", "/", Body::Empty, &injected)
        .unwrap_err();
    assert!(matches!(error, Error::InvalidHeaderValue(_)), "{error}");
    assert!(conn.sock().is_none(), "nothing was sent");
    conn.close();
    // The server saw nothing; satisfy its script so it ends.
    conn.request("GET", "/", Body::Empty, &[]).unwrap();
    conn.getresponse().unwrap().read(None).unwrap();
    drop(conn);
    let raw = server.received().remove(0);
    assert!(support::find(&raw, b"Injected").is_none());
}

// Mirrors test_httplib: BasicTest.test_putrequest_override_validation and test_invalid_method_names.
#[test]
fn test_invalid_method_names() {
    let mut conn = HttpConnection::new("127.0.0.1:9").unwrap();
    for method in [
        "GET\r\n",
        "POST\n",
        "PUT\0",
        "GET /evil HTTP/1.1\r\nX",
        "G ET",
    ] {
        let error = conn.request(method, "/", Body::Empty, &[]).unwrap_err();
        assert!(
            matches!(error, Error::InvalidMethod(_)),
            "{method:?}: {error}"
        );
    }
}

// Mirrors test_httplib: BasicTest.test_invalid_url_characters (CVE-2019-9740 and CVE-2019-9947).
#[test]
fn test_invalid_url_characters() {
    let mut conn = HttpConnection::new("127.0.0.1:9").unwrap();
    for url in ["/ HTTP/1.1\r\nX-Injected: 1", "/a b", "/\x7f", "/\0"] {
        let error = conn.putrequest("GET", url).unwrap_err();
        assert!(matches!(error, Error::InvalidUrl(_)), "{url:?}: {error}");
    }
    for host in ["exam ple.com", "example.com\r\nX: y", "example\0.com"] {
        assert!(
            matches!(HttpConnection::new(host), Err(Error::InvalidUrl(_))),
            "{host:?}"
        );
    }
}

// Mirrors test_httplib: BasicTest.test_host_port through the constructor.
#[test]
fn test_host_port() {
    for bad in ["www.python.org:abc", "user:password@www.python.org"] {
        assert!(
            matches!(HttpConnection::new(bad), Err(Error::InvalidUrl(_))),
            "{bad}"
        );
    }
    let conn = HttpConnection::new("[fe80::207:e9ff:fe9b]:8000").unwrap();
    assert_eq!((conn.host(), conn.port()), ("fe80::207:e9ff:fe9b", 8000));
    let conn = HttpConnection::new("www.python.org:").unwrap();
    assert_eq!((conn.host(), conn.port()), ("www.python.org", 80));
}

// Mirrors test_httplib: BasicTest.test_send and the Host header for a non-default port.
#[test]
fn test_send() {
    let server = serve_once(OK);
    let host = server.host();
    let mut conn = HttpConnection::new(&host).unwrap();
    conn.putrequest("GET", "/path?q=1").unwrap();
    conn.endheaders().unwrap();
    conn.getresponse().unwrap().read(None).unwrap();
    drop(conn);
    let raw = server.received().remove(0);
    let expected =
        format!("GET /path?q=1 HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: identity\r\n\r\n");
    assert_eq!(String::from_utf8(raw).unwrap(), expected);
}

// Mirrors test_httplib: RequestBodyTest.test_manual_content_length
#[test]
fn test_manual_content_length() {
    let server = serve_once(OK);
    let mut conn = HttpConnection::new(&server.host()).unwrap();
    // The server reads 42 bytes, so send them by hand after the 4 of the body.
    conn.request("PUT", "/url", "body", &[("Content-Length", "42")])
        .unwrap();
    conn.send(&[b'x'; 38]).unwrap();
    conn.getresponse().unwrap().read(None).unwrap();
    drop(conn);
    let (lines, body) = parse_request(&server.received().remove(0));
    assert_eq!(header(&lines, "content-length"), ["42"]);
    assert!(header(&lines, "transfer-encoding").is_empty());
    assert!(body.starts_with(b"body"));
}

// Mirrors test_httplib: RequestBodyTest.test_ascii_body, test_latin1_body and test_bytes_body
#[test]
fn test_bytes_body() {
    for body in [&b"body"[..], b"body\xc1", b"\x00\xff binary"] {
        let raw = capture(|conn| conn.request("PUT", "/url", body, &[]));
        let (lines, sent) = parse_request(&raw);
        assert_eq!(lines[0], "PUT /url HTTP/1.1");
        assert_eq!(
            header(&lines, "content-length"),
            [body.len().to_string().as_str()]
        );
        assert_eq!(sent, body);
    }
}

// Mirrors test_httplib: RequestBodyTest.test_binary_file_body (a reader of unknown length is chunked).
#[test]
fn test_binary_file_body() {
    let mut file = std::io::Cursor::new(b"body\xc1".to_vec());
    let raw = capture(|conn| conn.request("PUT", "/url", Body::Reader(&mut file), &[]));
    let (lines, body) = parse_request(&raw);
    assert!(header(&lines, "content-length").is_empty());
    assert_eq!(header(&lines, "transfer-encoding"), ["chunked"]);
    assert_eq!(body, b"5\r\nbody\xc1\r\n0\r\n\r\n");
}

// Better than Python: a reader whose length is known is sent with Content-Length.
#[test]
fn sized_reader_body() {
    let mut file = std::io::Cursor::new(b"0123456789".to_vec());
    let raw = capture(|conn| conn.request("POST", "/", Body::SizedReader(&mut file, 10), &[]));
    let (lines, body) = parse_request(&raw);
    assert_eq!(header(&lines, "content-length"), ["10"]);
    assert_eq!(body, b"0123456789");
}

// Mirrors test_httplib: BasicTest.test_blocksize_request
#[test]
fn test_blocksize_request() {
    let server = serve_once(OK);
    let config = Config {
        blocksize: 8,
        ..Config::default()
    };
    let mut conn = HttpConnection::with_config(&server.host(), config).unwrap();
    let mut file = std::io::Cursor::new(b"0123456789abcdefghij".to_vec());
    conn.request("POST", "/", Body::Reader(&mut file), &[])
        .unwrap();
    conn.getresponse().unwrap().read(None).unwrap();
    drop(conn);
    let (_, body) = parse_request(&server.received().remove(0));
    assert_eq!(
        body,
        b"8\r\n01234567\r\n8\r\n89abcdef\r\n4\r\nghij\r\n0\r\n\r\n"
    );
}

/// The body of TransferEncodingTest: `It's just a flesh wound` arriving a few bytes at a time.
struct Trickle {
    data: &'static [u8],
    step: usize,
}

impl Read for Trickle {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let take = self.step.min(self.data.len()).min(buffer.len());
        buffer[..take].copy_from_slice(&self.data[..take]);
        self.data = &self.data[take..];
        Ok(take)
    }
}

const FLESH_WOUND: &[u8] = b"It's just a flesh wound";

// Mirrors test_httplib: TransferEncodingTest.test_endheaders_chunked
#[test]
fn test_endheaders_chunked() {
    let mut body = Trickle {
        data: FLESH_WOUND,
        step: 5,
    };
    let raw = capture(|conn| {
        conn.putrequest("POST", "/")?;
        conn.putheader("Transfer-Encoding", "chunked")?;
        conn.endheaders_with(Body::Reader(&mut body), true)
    });
    assert_eq!(parse_chunked(&parse_request(&raw).1), FLESH_WOUND);
}

// Mirrors test_httplib: TransferEncodingTest.test_explicit_headers
#[test]
fn test_explicit_headers() {
    // The caller's own Transfer-Encoding: request() adds neither header nor encoding.
    let already_chunked = b"5\r\nhello\r\n0\r\n\r\n";
    let raw = capture(|conn| {
        conn.request(
            "POST",
            "/",
            already_chunked,
            &[("Transfer-Encoding", "chunked")],
        )
    });
    let (lines, body) = parse_request(&raw);
    assert!(header(&lines, "content-length").is_empty());
    assert_eq!(header(&lines, "transfer-encoding"), ["chunked"]);
    assert_eq!(body, already_chunked);
}

// Mirrors test_httplib: TransferEncodingTest.test_request
#[test]
fn test_request() {
    for step in [1, 4, 100] {
        let mut body = Trickle {
            data: FLESH_WOUND,
            step,
        };
        let raw = capture(|conn| conn.request("POST", "/", Body::Reader(&mut body), &[]));
        let (lines, sent) = parse_request(&raw);
        assert_eq!(header(&lines, "transfer-encoding"), ["chunked"]);
        // Content-Length and Transfer-Encoding must not both be sent.
        assert!(header(&lines, "content-length").is_empty());
        assert_eq!(parse_chunked(&sent), FLESH_WOUND);
    }
}

// Mirrors test_httplib: TransferEncodingTest.test_empty_body
#[test]
fn test_empty_body() {
    let mut empty = std::io::empty();
    let raw = capture(|conn| conn.request("POST", "/", Body::Reader(&mut empty), &[]));
    let (lines, body) = parse_request(&raw);
    assert_eq!(header(&lines, "transfer-encoding"), ["chunked"]);
    assert!(header(&lines, "content-length").is_empty());
    assert_eq!(body, b"0\r\n\r\n");
}

// Mirrors test_httplib: HeaderTests.test_headers_debuglevel (debug output does not change what is sent).
#[test]
fn test_headers_debuglevel() {
    let raw = capture(|conn| {
        conn.set_debuglevel(1);
        conn.request("GET", "/", Body::Empty, &[("X-Debug", "1")])
    });
    assert!(support::find(&raw, b"X-Debug: 1\r\n").is_some());
}
