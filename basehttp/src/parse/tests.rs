//! Unit tests of the request head parser, mirroring Python's `parse_request` behaviour line by line.

use super::*;

/// Parses `head` (LF written as CRLF) and compares a summary of the outcome with `expected`.
///
/// A complete head reads `command path version | Name: value | ...`; an error reads `status message`.
fn check(head: &str, expected: &str) {
    let wire = head.replace('\n', "\r\n");
    assert_eq!(outcome(wire.as_bytes()), expected, "head {head:?}");
}

/// Like [`check`] for bytes sent exactly as given.
fn check_raw(wire: &[u8], expected: &str) {
    assert_eq!(
        outcome(wire),
        expected,
        "head {:?}",
        String::from_utf8_lossy(wire)
    );
}

fn outcome(wire: &[u8]) -> String {
    let mut parser = HeadParser::new();
    match parser.parse(wire) {
        Ok(Status::Partial) => "partial".to_owned(),
        Ok(Status::Complete(head)) => {
            let mut summary = format!(
                "{} {} {}",
                head.line.command(),
                head.line.path(),
                head.line.request_version()
            );
            for (name, value) in head.headers.iter() {
                summary.push_str(&format!(" | {name}: {value}"));
            }
            match head.framing {
                BodyFraming::None => {}
                BodyFraming::Length(length) => summary.push_str(&format!(" [length {length}]")),
                BodyFraming::Chunked => summary.push_str(" [chunked]"),
            }
            summary
        }
        Err(error) => {
            let requestline = parser.requestline().unwrap_or("").to_owned();
            match error.message(&requestline) {
                Some(message) => format!("{} {message}", error.status()),
                None => format!("{} -", error.status()),
            }
        }
    }
}

#[test]
fn request_lines_parse_like_python() {
    check("GET / HTTP/1.1\nHost: x\n\n", "GET / HTTP/1.1 | Host: x");
    check("GET / HTTP/1.0\n\n", "GET / HTTP/1.0");
    check("POST /form?a=b HTTP/1.1\n\n", "POST /form?a=b HTTP/1.1");
    check("custom /x HTTP/1.1\n\n", "custom /x HTTP/1.1");
    check_raw(b"GET / HTTP/1.0\n\n", "GET / HTTP/1.0");
    check_raw(b"GET / HTTP/1.0\r\r\n\r\n", "GET / HTTP/1.0");
}

#[test]
fn test_http_0_9() {
    // Mirrors test_httpservers: BaseHTTPRequestHandlerTestCase.test_http_0_9 (no headers are read).
    check("GET /\n", "GET / HTTP/0.9");
    check_raw(b"GET /index.html\r\nignored", "GET /index.html HTTP/0.9");
}

#[test]
fn test_http_0_9_bad_request_type() {
    // Mirrors test_httpservers: BaseHTTPServerTestCase (a two-word request must be GET).
    check("POST /\n", "400 Bad HTTP/0.9 request type ('POST')");
    check("get /\n", "400 Bad HTTP/0.9 request type ('get')");
}

#[test]
fn test_version_bogus() {
    // Mirrors test_httpservers: BaseHTTPServerTestCase.test_version_bogus.
    check("GET / FUBAR\n\n", "400 Bad request version ('FUBAR')");
}

#[test]
fn test_version_digits() {
    // Mirrors test_httpservers: BaseHTTPServerTestCase.test_version_digits.
    check(
        "GET / HTTP/9.9.9\n\n",
        "400 Bad request version ('HTTP/9.9.9')",
    );
    check("GET / HTTP/1\n\n", "400 Bad request version ('HTTP/1')");
    check("GET / HTTP/1.\n\n", "400 Bad request version ('HTTP/1.')");
    check(
        "GET / HTTP/+1.1\n\n",
        "400 Bad request version ('HTTP/+1.1')",
    );
    check(
        "GET / HTTP/1.-1\n\n",
        "400 Bad request version ('HTTP/1.-1')",
    );
    check("GET / HTTP/1.1 \n\n", "GET / HTTP/1.1");
    check("GET / HTTP/1. 1\n\n", "400 Bad request version ('1')");
}

#[test]
fn test_version_signs_and_underscores() {
    // Mirrors test_httpservers: BaseHTTPServerTestCase.test_version_signs_and_underscores.
    check(
        "GET / HTTP/-9_9_9.+9_9_9\n\n",
        "400 Bad request version ('HTTP/-9_9_9.+9_9_9')",
    );
}

#[test]
fn test_major_version_number_too_long() {
    // Mirrors test_httpservers: BaseHTTPServerTestCase.test_major_version_number_too_long.
    check(
        "GET / HTTP/2.0000000000000000000\n\n",
        "400 Bad request version ('HTTP/2.0000000000000000000')",
    );
    check(
        "GET / HTTP/00000000000000000001.1\n\n",
        "400 Bad request version ('HTTP/00000000000000000001.1')",
    );
    check(
        "GET / HTTP/0000000001.0000000001\n\n",
        "GET / HTTP/0000000001.0000000001",
    );
}

#[test]
fn test_version_none_get_and_invalid() {
    // Mirrors test_httpservers: BaseHTTPServerTestCase.test_version_invalid and test_version_none.
    check("GET / HTTP/2.0\n\n", "505 Invalid HTTP version (2.0)");
    check("GET / HTTP/12.3\n\n", "505 Invalid HTTP version (12.3)");
    check("GET / HTTP/02.00\n\n", "505 Invalid HTTP version (02.00)");
    check("GET / HTTP/1.9999999999\n\n", "GET / HTTP/1.9999999999");
}

#[test]
fn test_request_line_with_too_many_words() {
    // Mirrors test_httpservers: BaseHTTPServerTestCase.test_send_blank_and_bad_request_syntax.
    check(
        "GET /a b HTTP/1.1\n\n",
        "400 Bad request syntax ('GET /a b HTTP/1.1')",
    );
    check("GET\n", "400 Bad request syntax ('GET')");
    check("it's \n", "400 Bad request syntax (\"it's \")");
    check("a b c\td HTTP/1.0 z\n", "400 Bad request version ('z')");
}

#[test]
fn test_blank_request_line_is_silent() {
    // Mirrors test_httpservers: BaseHTTPRequestHandlerTestCase.test_with_empty_request_line (no response).
    check("\n", "400 -");
    check("   \n", "400 -");
    let mut parser = HeadParser::new();
    assert_eq!(
        parser.parse(b"\r\n").unwrap_err(),
        ParseError::EmptyRequestLine
    );
}

#[test]
fn request_lines_split_on_space_only() {
    // Newest Python: a U+00A0 or a tab is not a separator.
    check_raw(b"GET /a\xa0b HTTP/1.1\r\n\r\n", "GET /a\u{a0}b HTTP/1.1");
    check(
        "GET\t/ HTTP/1.1\n\n",
        "400 Bad HTTP/0.9 request type ('GET\\t/')",
    );
    check("GET  /  HTTP/1.1\n\n", "GET / HTTP/1.1");
}

#[test]
fn test_path_with_double_slash_is_collapsed() {
    // Mirrors test_httpservers: SimpleHTTPServerTestCase.test_get_dir_redirect_location_domain_injection_bug (gh-87389).
    check("GET //python.org HTTP/1.1\n\n", "GET /python.org HTTP/1.1");
    check("GET ///a//b HTTP/1.1\n\n", "GET /a//b HTTP/1.1");
    check("GET // HTTP/1.1\n\n", "GET / HTTP/1.1");
    check("GET /a//b HTTP/1.1\n\n", "GET /a//b HTTP/1.1");
}

#[test]
fn test_request_line_too_long() {
    // Mirrors test_httpservers: BaseHTTPRequestHandlerTestCase.test_request_length (414).
    let long = format!("GET /{} HTTP/1.1\r\n\r\n", "x".repeat(MAX_LINE));
    check_raw(long.as_bytes(), "414 -");
    check_raw(&vec![b'a'; MAX_LINE + 1], "414 -");
    check_raw(&vec![b'a'; MAX_LINE], "partial");
    // A line of exactly MAX_LINE bytes, LF included, is accepted.
    let path = "x".repeat(MAX_LINE - "GET / HTTP/1.0\r\n".len());
    let exact = format!("GET /{path} HTTP/1.0\r\n\r\n");
    assert!(matches!(parse_head(exact.as_bytes()), Ok(Some(_))));
}

#[test]
fn test_header_length() {
    // Mirrors test_httpservers: BaseHTTPRequestHandlerTestCase.test_header_length.
    let long = format!("GET / HTTP/1.1\r\nX-Foo: {}\r\n\r\n", "b".repeat(MAX_LINE));
    check_raw(long.as_bytes(), "431 Line too long");
    let partial = format!("GET / HTTP/1.1\r\nX-Foo: {}", "b".repeat(MAX_LINE));
    check_raw(partial.as_bytes(), "431 Line too long");
    assert_eq!(
        ParseError::LineTooLong.explain(),
        Some("got more than 65536 bytes when reading header line")
    );
}

#[test]
fn test_too_many_headers() {
    // Mirrors test_httpservers: BaseHTTPRequestHandlerTestCase.test_too_many_headers.
    let many = format!(
        "GET / HTTP/1.1\r\n{}\r\n",
        "X-Foo: bar\r\n".repeat(MAX_HEADERS + 1)
    );
    check_raw(many.as_bytes(), "431 Too many headers");
    let enough = format!(
        "GET / HTTP/1.1\r\n{}\r\n",
        "X-Foo: bar\r\n".repeat(MAX_HEADERS)
    );
    assert!(
        matches!(parse_head(enough.as_bytes()), Ok(Some(head)) if head.headers.len() == MAX_HEADERS)
    );
}

#[test]
fn headers_keep_order_repeats_and_case() {
    check(
        "GET / HTTP/1.1\nHost: a\nAccept:  text/html \nX-Empty:\naccept: */*\n\n",
        "GET / HTTP/1.1 | Host: a | Accept: text/html | X-Empty:  | accept: */*",
    );
    check_raw(
        b"GET / HTTP/1.1\r\nX: caf\xe9\r\n\r\n",
        "GET / HTTP/1.1 | X: caf\u{e9}",
    );
}

#[test]
fn smuggling_shapes_are_refused() {
    check(
        "POST / HTTP/1.1\nContent-Length: 5\nTransfer-Encoding: chunked\n\n",
        "400 Content-Length with Transfer-Encoding",
    );
    check(
        "POST / HTTP/1.1\nTransfer-Encoding: chunked\nContent-Length: 5\n\n",
        "400 Content-Length with Transfer-Encoding",
    );
    check(
        "POST / HTTP/1.1\nContent-Length: 5\nContent-Length: 5\n\n",
        "400 Several Content-Length headers",
    );
    check(
        "POST / HTTP/1.1\nContent-Length: 5\nContent-Length: 6\n\n",
        "400 Several Content-Length headers",
    );
    check(
        "POST / HTTP/1.1\nContent-Length: 5, 5\n\n",
        "400 Invalid Content-Length",
    );
    check(
        "POST / HTTP/1.1\nContent-Length: +5\n\n",
        "400 Invalid Content-Length",
    );
    check(
        "POST / HTTP/1.1\nContent-Length: -1\n\n",
        "400 Invalid Content-Length",
    );
    check(
        "POST / HTTP/1.1\nContent-Length: 0x10\n\n",
        "400 Invalid Content-Length",
    );
    check(
        "POST / HTTP/1.1\nContent-Length:\n\n",
        "400 Invalid Content-Length",
    );
    check(
        "POST / HTTP/1.1\nContent-Length: 99999999999999999999\n\n",
        "400 Invalid Content-Length",
    );
    check(
        "POST / HTTP/1.1\nContent-Length : 5\n\n",
        "400 Whitespace between header name and colon",
    );
    check(
        "POST / HTTP/1.1\nTransfer-Encoding\t: chunked\n\n",
        "400 Whitespace between header name and colon",
    );
    check(
        "POST / HTTP/1.1\nHost: a\n folded\n\n",
        "400 Obsolete line folding in headers",
    );
    check(
        "POST / HTTP/1.1\nHost: a\n\tfolded\n\n",
        "400 Obsolete line folding in headers",
    );
    check_raw(
        b"POST / HTTP/1.1\r\nX: a\rb\r\n\r\n",
        "400 Invalid character in header value",
    );
    check_raw(
        b"POST / HTTP/1.1\r\nX: a\0b\r\n\r\n",
        "400 Invalid character in header value",
    );
    check_raw(
        b"POST / HTTP/1.1\r\nX\rY: a\r\n\r\n",
        "400 Invalid header line",
    );
    check(
        "POST / HTTP/1.1\nno colon here\n\n",
        "400 Invalid header line",
    );
    check(
        "POST / HTTP/1.1\n: empty name\n\n",
        "400 Invalid header line",
    );
    check(
        "POST / HTTP/1.1\nBad@Name: x\n\n",
        "400 Invalid header line",
    );
}

#[test]
fn transfer_encodings_other_than_chunked_are_not_implemented() {
    check(
        "POST / HTTP/1.1\nTransfer-Encoding: chunked\n\n",
        "POST / HTTP/1.1 | Transfer-Encoding: chunked [chunked]",
    );
    check(
        "POST / HTTP/1.1\nTransfer-Encoding: CHUNKED\n\n",
        "POST / HTTP/1.1 | Transfer-Encoding: CHUNKED [chunked]",
    );
    check(
        "POST / HTTP/1.1\nTransfer-Encoding: gzip\n\n",
        "501 Unsupported Transfer-Encoding",
    );
    check(
        "POST / HTTP/1.1\nTransfer-Encoding: gzip, chunked\n\n",
        "501 Unsupported Transfer-Encoding",
    );
    check(
        "POST / HTTP/1.1\nTransfer-Encoding: chunked\nTransfer-Encoding: chunked\n\n",
        "501 Unsupported Transfer-Encoding",
    );
    check(
        "POST / HTTP/1.1\nTransfer-Encoding: identity\n\n",
        "501 Unsupported Transfer-Encoding",
    );
}

#[test]
fn content_length_sets_the_framing() {
    check(
        "POST / HTTP/1.1\nContent-Length: 12\n\n",
        "POST / HTTP/1.1 | Content-Length: 12 [length 12]",
    );
    check(
        "POST / HTTP/1.1\nContent-Length: 0012\n\n",
        "POST / HTTP/1.1 | Content-Length: 0012 [length 12]",
    );
}

#[test]
fn incomplete_heads_resume_where_they_stopped() {
    let wire = b"GET / HTTP/1.1\r\nHost: example\r\nAccept: */*\r\n\r\nnext";
    let mut parser = HeadParser::new();
    for end in 0..wire.len() - 4 {
        assert!(
            matches!(parser.parse(&wire[..end]), Ok(Status::Partial)),
            "at {end}"
        );
    }
    let Ok(Status::Complete(head)) = parser.parse(wire) else {
        panic!("head should be complete");
    };
    assert_eq!(head.length, wire.len() - 4);
    assert_eq!(head.headers.get("accept"), Some("*/*"));
    parser.reset();
    assert!(matches!(parser.parse(b"GET /"), Ok(Status::Partial)));
}

#[test]
fn parser_never_panics_on_arbitrary_bytes() {
    // A small deterministic fuzz: every prefix and every single-byte mutation of a realistic head.
    let base =
        b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
            .to_vec();
    for end in 0..=base.len() {
        let _ = parse_head(&base[..end]);
    }
    for index in 0..base.len() {
        for byte in [0u8, b'\r', b'\n', b' ', b':', b'\t', 0x7f, 0xa0, 0xff] {
            let mut mutated = base.clone();
            mutated[index] = byte;
            let _ = parse_head(&mutated);
        }
    }
}
