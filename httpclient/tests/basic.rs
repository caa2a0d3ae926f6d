//! Response parsing and body framing, mirroring test_httplib's BasicTest and ExtendedReadTest.

mod support;

use std::io::{BufRead, Read};

use httpclient::{Body, Error, HttpConnection, HttpResponse};
use support::serve_once;

/// Sends one `method` request to a server that answers `raw`, and returns the response.
fn fetch(raw: &[u8], method: &str) -> Result<HttpResponse<'static>, Error> {
    let server = serve_once(raw);
    let mut conn = HttpConnection::new(&server.host()).unwrap();
    conn.request(method, "/", Body::Empty, &[]).unwrap();
    conn.into_response()
}

fn get(raw: &str) -> HttpResponse<'static> {
    fetch(raw.as_bytes(), "GET").unwrap()
}

const CHUNKED_START: &str = "HTTP/1.1 200 OK\r\n\
    Transfer-Encoding: chunked\r\n\r\n\
    a\r\nhello worl\r\n\
    3\r\nd! \r\n\
    8\r\nand now \r\n\
    22\r\nfor something completely different\r\n";
const CHUNKED_EXPECTED: &[u8] = b"hello world! and now for something completely different";
const LAST_CHUNK: &str = "0\r\n";
const LAST_CHUNK_EXTENDED: &str = "0;foo=bar\r\n";
const TRAILERS: &str = "X-Dummy: foo\r\nX-Dumm2: bar\r\n";
const CHUNKED_END: &str = "\r\n";

// Mirrors test_httplib: BasicTest.test_dummy (status line, reason and headers).
#[test]
fn test_status_lines() {
    // Mirrors test_httplib: BasicTest.test_status_lines
    let mut response = get("HTTP/1.1 200 Ok\r\n\r\nText");
    assert_eq!(response.read(Some(0)).unwrap(), b"");
    assert!(!response.isclosed());
    assert_eq!(response.read(None).unwrap(), b"Text");
    assert!(response.isclosed());

    let error = fetch(b"HTTP/1.1 400.100 Not Ok\r\n\r\nText", "GET").unwrap_err();
    assert!(
        matches!(error, Error::BadStatusLine(ref line) if line.starts_with("HTTP/1.1 400.100")),
        "{error}"
    );
}

// Mirrors test_httplib: BasicTest.test_partial_reads
#[test]
fn test_partial_reads() {
    let mut response = get("HTTP/1.1 200 Ok\r\nContent-Length: 4\r\n\r\nText");
    assert_eq!(response.read(Some(2)).unwrap(), b"Te");
    assert!(!response.isclosed());
    assert_eq!(response.read(Some(2)).unwrap(), b"xt");
    assert!(response.isclosed());
}

// Mirrors test_httplib: BasicTest.test_mixed_reads
#[test]
fn test_mixed_reads() {
    let mut response = get("HTTP/1.1 200 Ok\r\nContent-Length: 13\r\n\r\nText\r\nAnother");
    assert_eq!(response.readline(None).unwrap(), b"Text\r\n");
    assert!(!response.isclosed());
    assert_eq!(response.read(Some(7)).unwrap(), b"Another");
    assert!(response.isclosed());
}

// Mirrors test_httplib: BasicTest.test_partial_readintos
#[test]
fn test_partial_readintos() {
    let mut response = get("HTTP/1.1 200 Ok\r\nContent-Length: 4\r\n\r\nText");
    let mut buffer = [0; 2];
    assert_eq!(response.readinto(&mut buffer).unwrap(), 2);
    assert_eq!(&buffer, b"Te");
    assert!(!response.isclosed());
    assert_eq!(response.readinto(&mut buffer).unwrap(), 2);
    assert_eq!(&buffer, b"xt");
    assert!(response.isclosed());
}

// Mirrors test_httplib: BasicTest.test_partial_reads_past_end
#[test]
fn test_partial_reads_past_end() {
    let mut response = get("HTTP/1.1 200 Ok\r\nContent-Length: 4\r\n\r\nText");
    assert_eq!(response.read(Some(10)).unwrap(), b"Text");
    assert!(response.isclosed());
    assert_eq!(response.read(Some(10)).unwrap(), b"");
}

// Mirrors test_httplib: BasicTest.test_partial_reads_no_content_length
#[test]
fn test_partial_reads_no_content_length() {
    let mut response = get("HTTP/1.1 200 Ok\r\n\r\nText");
    assert!(response.will_close());
    assert_eq!(response.read(Some(2)).unwrap(), b"Te");
    assert!(!response.isclosed());
    assert_eq!(response.read(Some(2)).unwrap(), b"xt");
    assert_eq!(response.read(Some(1)).unwrap(), b"");
    assert!(response.isclosed());
}

// Mirrors test_httplib: BasicTest.test_partial_reads_incomplete_body
// Better than Python, which returns b"" here: a body cut short is IncompleteRead on every read path,
// counting the 4 bytes the earlier reads got, so read and expected add up to the Content-Length.
#[test]
fn test_partial_reads_incomplete_body() {
    let mut response = get("HTTP/1.1 200 Ok\r\nContent-Length: 10\r\n\r\nText");
    assert_eq!(response.read(Some(2)).unwrap(), b"Te");
    assert_eq!(response.read(Some(2)).unwrap(), b"xt");
    let error = response.read(Some(2)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "IncompleteRead(4 bytes read, 6 more expected)"
    );
    let Error::IncompleteRead { partial, read, .. } = error else {
        panic!("IncompleteRead expected, got {error:?}");
    };
    assert_eq!(
        (partial.len(), read),
        (0, 4),
        "partial holds the failing call's bytes"
    );
    assert!(response.isclosed());
}

// Mirrors test_httplib: BasicTest.test_incomplete_read
#[test]
fn test_incomplete_read() {
    let mut response = get("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nHello\r\n");
    match response.read(None) {
        Err(Error::IncompleteRead {
            partial,
            read,
            expected,
        }) => {
            assert_eq!(partial, b"Hello\r\n");
            assert_eq!(read, 7);
            assert_eq!(expected, Some(3));
        }
        other => panic!("IncompleteRead expected, got {other:?}"),
    }
    assert!(response.isclosed());
    let error = Error::IncompleteRead {
        partial: b"Hello\r\n".to_vec(),
        read: 7,
        expected: Some(3),
    };
    assert_eq!(
        error.to_string(),
        "IncompleteRead(7 bytes read, 3 more expected)"
    );
}

// Mirrors test_httplib: BasicTest.test_read_head
#[test]
fn test_read_head() {
    let mut response = fetch(b"HTTP/1.1 200 OK\r\nContent-Length: 14432\r\n\r\n", "HEAD").unwrap();
    assert_eq!(response.read(None).unwrap(), b"");
    assert!(response.isclosed());
}

// Mirrors test_httplib: BasicTest.test_chunked
#[test]
fn test_chunked() {
    let whole = format!("{CHUNKED_START}{LAST_CHUNK}{CHUNKED_END}");
    assert_eq!(get(&whole).read(None).unwrap(), CHUNKED_EXPECTED);

    for n in 1..12 {
        let mut response = get(&whole);
        let mut got = response.read(Some(n)).unwrap();
        got.extend(response.read(Some(n)).unwrap());
        got.extend(response.read(None).unwrap());
        assert_eq!(got, CHUNKED_EXPECTED, "read size {n}");
        assert!(response.isclosed());
    }

    for cut in ["", "foo\r\n"] {
        let mut response = get(&format!("{CHUNKED_START}{cut}"));
        match response.read(None) {
            Err(error @ Error::IncompleteRead { .. }) => {
                let expected = format!("IncompleteRead({} bytes read)", CHUNKED_EXPECTED.len());
                assert_eq!(error.to_string(), expected);
                let Error::IncompleteRead { partial, .. } = error else {
                    unreachable!()
                };
                assert_eq!(partial, CHUNKED_EXPECTED);
            }
            other => panic!("IncompleteRead expected, got {other:?}"),
        }
    }
}

// Mirrors test_httplib: BasicTest.test_readinto_chunked
#[test]
fn test_readinto_chunked() {
    let whole = format!("{CHUNKED_START}{LAST_CHUNK}{CHUNKED_END}");
    for n in 1..12 {
        let mut response = get(&whole);
        let mut buffer = vec![0; n];
        let mut got = Vec::new();
        loop {
            let read = response.readinto(&mut buffer).unwrap();
            if read == 0 {
                break;
            }
            got.extend_from_slice(&buffer[..read]);
        }
        assert_eq!(got, CHUNKED_EXPECTED);
    }
}

// Mirrors test_httplib: BasicTest.test_chunked_head
#[test]
fn test_chunked_head() {
    let raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nhello world\r\n1\r\nd\r\n";
    let mut response = fetch(raw.as_bytes(), "HEAD").unwrap();
    assert_eq!(response.read(None).unwrap(), b"");
    assert_eq!((response.status, response.reason.as_str()), (200, "OK"));
    assert!(response.isclosed());
}

// Mirrors test_httplib: BasicTest.test_chunked_extension
#[test]
fn test_chunked_extension() {
    let raw = format!("{CHUNKED_START}{LAST_CHUNK_EXTENDED}{TRAILERS}{CHUNKED_END}");
    let mut response = get(&raw);
    assert_eq!(response.read(None).unwrap(), CHUNKED_EXPECTED);
    assert_eq!(response.trailers().get("x-dummy"), Some("foo"));
}

// Mirrors test_httplib: BasicTest.test_chunked_missing_end
#[test]
fn test_chunked_missing_end() {
    // A server that closes right after the last chunk, without the final CRLF.
    let raw = format!("{CHUNKED_START}{LAST_CHUNK}");
    assert_eq!(get(&raw).read(None).unwrap(), CHUNKED_EXPECTED);
}

// Mirrors test_httplib: BasicTest.test_chunked_trailers
#[test]
fn test_chunked_trailers() {
    let raw = format!("{CHUNKED_START}{LAST_CHUNK}{TRAILERS}{CHUNKED_END}");
    let mut response = get(&raw);
    assert_eq!(response.read(None).unwrap(), CHUNKED_EXPECTED);
    assert_eq!(response.trailers().get("x-dumm2"), Some("bar"));
    assert!(response.isclosed());
}

// Mirrors test_httplib: BasicTest.test_chunked_sync: the client stops at the end of the message,
// so the next response on the connection reads correctly.
#[test]
fn test_chunked_sync() {
    let first = format!("{CHUNKED_START}{LAST_CHUNK_EXTENDED}{TRAILERS}{CHUNKED_END}");
    let server = support::serve_replies(vec![vec![
        first.as_bytes(),
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nextra",
    ]]);
    let mut conn = HttpConnection::new(&server.host()).unwrap();
    conn.request("GET", "/", Body::Empty, &[]).unwrap();
    let mut response = conn.getresponse().unwrap();
    assert_eq!(response.read(None).unwrap(), CHUNKED_EXPECTED);
    assert!(response.isclosed());
    drop(response);
    conn.request("GET", "/", Body::Empty, &[]).unwrap();
    assert_eq!(conn.getresponse().unwrap().read(None).unwrap(), b"extra");
    assert_eq!(
        server.received().len(),
        1,
        "both requests on one connection"
    );
}

// Mirrors test_httplib: BasicTest.test_content_length_sync
#[test]
fn test_content_length_sync() {
    let server = support::serve_replies(vec![vec![
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nHello\r\nWor",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nagain",
    ]]);
    let mut conn = HttpConnection::new(&server.host()).unwrap();
    conn.request("GET", "/", Body::Empty, &[]).unwrap();
    let mut response = conn.getresponse().unwrap();
    assert_eq!(response.read(None).unwrap(), b"Hello\r\nWor");
    assert!(response.isclosed());
    drop(response);
    conn.request("GET", "/", Body::Empty, &[]).unwrap();
    assert_eq!(conn.getresponse().unwrap().read(None).unwrap(), b"again");
    assert_eq!(
        server.received().len(),
        1,
        "both requests on one connection"
    );
}

// Mirrors test_httplib: BasicTest.test_overflowing_status_line
#[test]
fn test_overflowing_status_line() {
    let raw = format!("HTTP/1.1 200 Ok{}\r\n", "x".repeat(65536));
    let error = fetch(raw.as_bytes(), "GET").unwrap_err();
    assert!(
        matches!(error, Error::LineTooLong("status line")),
        "{error}"
    );
}

// Mirrors test_httplib: BasicTest.test_overflowing_header_line
#[test]
fn test_overflowing_header_line() {
    let raw = format!("HTTP/1.1 200 OK\r\nX-Foo: bar{}\r\n\r\n", "r".repeat(65536));
    let error = fetch(raw.as_bytes(), "GET").unwrap_err();
    assert!(
        matches!(error, Error::LineTooLong("header line")),
        "{error}"
    );
}

// Mirrors test_httplib: BasicTest.test_overflowing_header_limit_after_100
#[test]
fn test_overflowing_header_limit_after_100() {
    let raw = format!("HTTP/1.1 100 OK\r\nr\n{}\r\n\r\n", "a: b\r\n".repeat(101));
    let error = fetch(raw.as_bytes(), "GET").unwrap_err();
    assert!(matches!(error, Error::TooManyHeaders), "{error}");
}

// Mirrors test_httplib: HeaderTests.test_headers_limit (test_too_many_headers)
#[test]
fn test_too_many_headers() {
    let exactly = format!(
        "HTTP/1.1 200 OK\r\n{}Content-Length: 0\r\n\r\n",
        "Header: Value\r\n".repeat(99)
    );
    assert_eq!(get(&exactly).getheaders().len(), 100);
    let raw = format!("HTTP/1.1 200 OK\r\n{}\r\n", "Header: Value\r\n".repeat(101));
    let error = fetch(raw.as_bytes(), "GET").unwrap_err();
    assert_eq!(error.to_string(), "got more than 100 headers");
}

// Mirrors test_httplib: BasicTest.test_overflowing_chunked_line
#[test]
fn test_overflowing_chunked_line() {
    let raw = format!(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{}\r\nhello world\r\n0\r\n\r\n",
        "0".repeat(65536) + "a"
    );
    let error = get(&raw).read(None).unwrap_err();
    assert!(matches!(error, Error::LineTooLong("chunk size")), "{error}");
}

// Mirrors test_httplib: BasicTest.test_early_eof
#[test]
fn test_early_eof() {
    let mut response = get("HTTP/1.1 200 Ok");
    assert_eq!(response.read(None).unwrap(), b"");
    assert!(response.isclosed());
}

// Mirrors test_httplib: BasicTest.test_100_close
#[test]
fn test_100_close() {
    let error = fetch(b"HTTP/1.1 100 Continue\r\n\r\n", "GET").unwrap_err();
    assert!(matches!(error, Error::RemoteDisconnected), "{error}");
}

// Interim responses are skipped (Python skips only 100; 102 and 103 are interim too).
#[test]
fn interim_responses_are_skipped() {
    let mut response = get("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    assert_eq!(response.status, 200);
    assert_eq!(response.read(None).unwrap(), b"ok");
    let many = format!(
        "{}HTTP/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 100 Continue\r\n\r\n".repeat(101)
    );
    let error = fetch(many.as_bytes(), "GET").unwrap_err();
    assert!(matches!(error, Error::TooManyInterimResponses), "{error}");
}

// Mirrors test_httplib: BasicTest.test_response_headers / test_dir: status, reason, version and headers.
#[test]
fn test_response_headers() {
    let response = get(
        "HTTP/1.0 404 Not Found\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(
        (response.status, response.reason.as_str(), response.version),
        (404, "Not Found", 10)
    );
    assert_eq!(
        response.getheader("SET-COOKIE").as_deref(),
        Some("a=1, b=2")
    );
    assert_eq!(response.getheader("missing"), None);
    assert_eq!(
        response.getheaders()[0],
        ("Set-Cookie".to_string(), "a=1".to_string())
    );
    assert!(response.will_close());
}

// Mirrors test_httplib: BasicTest.test_bad_status_repr (an unknown protocol).
#[test]
fn test_unknown_protocol() {
    let error = fetch(b"HTTP/2.0 200 OK\r\n\r\n", "GET").unwrap_err();
    assert!(
        matches!(error, Error::UnknownProtocol(ref version) if version == "HTTP/2.0"),
        "{error}"
    );
}

// Mirrors test_httplib: BasicTest.test_no_content_length / test_204 / test_304: no body whatever the headers say.
#[test]
fn test_no_body_statuses() {
    for status in ["204 No Content", "304 Not Modified"] {
        let mut response = get(&format!(
            "HTTP/1.1 {status}\r\nContent-Length: 5\r\n\r\nhello"
        ));
        assert_eq!(response.read(None).unwrap(), b"");
        assert!(response.isclosed());
        assert!(!response.will_close());
    }
}

// Mirrors test_httplib: BasicTest.test_negative_content_length
#[test]
fn test_negative_content_length() {
    let mut response = get("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nHello\r\n");
    assert_eq!(response.length(), None);
    assert_eq!(response.read(None).unwrap(), b"Hello\r\n");
    assert!(response.isclosed());
}

// Mirrors test_httplib: ExtendedReadTest.test_read1_bound_content_length and test_readline_bound_content_length:
// reads stop at the end of the body even when more bytes follow on the connection.
#[test]
fn test_read1_bound_content_length() {
    let mut response = get("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nHello\nextra\ndata");
    assert_eq!(response.read1(100).unwrap(), b"Hello\n");
    assert_eq!(response.read1(100).unwrap(), b"");
    let mut response = get("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nHello\nextra");
    assert_eq!(response.readline(None).unwrap(), b"Hel");
    assert_eq!(response.readline(None).unwrap(), b"");
    assert!(response.isclosed());
}

// Mirrors test_httplib: BasicTest.test_invalid_content_length (read to close).
#[test]
fn test_invalid_content_length() {
    let mut response = get("HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\nbody");
    assert!(response.will_close());
    assert_eq!(response.length(), None);
    assert_eq!(response.read(None).unwrap(), b"body");
}

const LINES: &str = "Hello world!\nfor this\nis a test\n";

fn extended(chunked: bool) -> HttpResponse<'static> {
    if chunked {
        get("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\nHello w\r\n14\r\norld!\nfor this\nis a \r\n5\r\ntest\n\r\n0\r\n\r\n")
    } else {
        get(&format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{LINES}",
            LINES.len()
        ))
    }
}

// Mirrors test_httplib: ExtendedReadTest.test_peek (and ExtendedReadTestChunked)
#[test]
fn test_peek() {
    for chunked in [false, true] {
        let mut response = extended(chunked);
        let mut all = Vec::new();
        loop {
            let peeked = response.peek(1).unwrap().to_vec();
            if peeked.is_empty() {
                break;
            }
            let read = response.read(Some(1)).unwrap();
            assert_eq!(read[0], peeked[0]);
            all.extend(read);
        }
        assert_eq!(all, LINES.as_bytes());
    }
}

// Mirrors test_httplib: ExtendedReadTest.test_readline
#[test]
fn test_readline() {
    for chunked in [false, true] {
        let mut response = extended(chunked);
        let mut lines = Vec::new();
        loop {
            let line = response.readline(None).unwrap();
            if line.is_empty() {
                break;
            }
            lines.push(String::from_utf8(line).unwrap());
        }
        assert_eq!(lines, ["Hello world!\n", "for this\n", "is a test\n"]);
    }
}

// Mirrors test_httplib: ExtendedReadTest.test_readline_without_limit / readline with a limit.
#[test]
fn test_readline_limit() {
    let mut response = extended(true);
    assert_eq!(response.readline(Some(5)).unwrap(), b"Hello");
    assert_eq!(response.readline(Some(100)).unwrap(), b" world!\n");
}

// Mirrors test_httplib: ExtendedReadTest.test_read1
#[test]
fn test_read1() {
    for chunked in [false, true] {
        let mut response = extended(chunked);
        let mut all = Vec::new();
        loop {
            let data = response.read1(3).unwrap();
            assert!(data.len() <= 3);
            if data.is_empty() {
                break;
            }
            all.extend(data);
        }
        assert_eq!(all, LINES.as_bytes());
    }
}

// Mirrors test_httplib: ExtendedReadTest.test_read1_bounded (through std's BufRead).
#[test]
fn std_read_and_bufread() {
    for chunked in [false, true] {
        let response = extended(chunked);
        let lines: Vec<String> = response.lines().map(Result::unwrap).collect();
        assert_eq!(lines, ["Hello world!", "for this", "is a test"]);
    }
    let mut response = get("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nHello");
    let mut body = Vec::new();
    let error = response.read_to_end(&mut body).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof);
    assert!(matches!(
        Error::from(error),
        Error::IncompleteRead {
            expected: Some(5),
            ..
        }
    ));
}

// Large bodies take the direct path around the buffer and still stop at the message's end.
#[test]
fn large_body_reads_exactly() {
    let body: Vec<u8> = (0..300_000u32).map(|index| (index % 251) as u8).collect();
    let mut raw = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    raw.extend_from_slice(&body);
    raw.extend_from_slice(b"trailing garbage");
    let mut response = fetch(&raw, "GET").unwrap();
    let mut got = Vec::new();
    response.read_to_end(&mut got).unwrap();
    assert_eq!(got.len(), body.len());
    assert!(got == body);
}
