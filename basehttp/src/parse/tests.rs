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
    outcome_with(HeadParser::new(), wire)
}

/// Like [`check_raw`] with Python's limits: no total bound on the head, only Python's per line and per count.
fn check_python(wire: &[u8], expected: &str) {
    assert_eq!(
        outcome_with(HeadParser::with_max_head_size(usize::MAX), wire),
        expected,
        "head {:?}",
        String::from_utf8_lossy(wire)
    );
}

fn outcome_with(mut parser: HeadParser, wire: &[u8]) -> String {
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
    check(
        "POST /form?a=b HTTP/1.1\nHost: x\n\n",
        "POST /form?a=b HTTP/1.1 | Host: x",
    );
    check("custom /x HTTP/1.0\n\n", "custom /x HTTP/1.0");
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
    check("GET / HTTP/1.1 \nHost: x\n\n", "GET / HTTP/1.1 | Host: x");
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
        "GET / HTTP/0000000001.0000000001\nHost: x\n\n",
        "GET / HTTP/0000000001.0000000001 | Host: x",
    );
}

#[test]
fn test_version_none_get_and_invalid() {
    // Mirrors test_httpservers: BaseHTTPServerTestCase.test_version_invalid and test_version_none.
    check("GET / HTTP/2.0\n\n", "505 Invalid HTTP version (2.0)");
    check("GET / HTTP/12.3\n\n", "505 Invalid HTTP version (12.3)");
    check("GET / HTTP/02.00\n\n", "505 Invalid HTTP version (02.00)");
    check(
        "GET / HTTP/1.9999999999\nHost: x\n\n",
        "GET / HTTP/1.9999999999 | Host: x",
    );
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
    // One empty line before a request line is skipped (RFC 9112 section 2.2), so it takes a second to be an empty request line.
    check("\n", "partial");
    check("\n\n", "400 -");
    check("   \n", "400 -");
    let mut parser = HeadParser::new();
    assert_eq!(
        parser.parse(b"\r\n\r\n").unwrap_err(),
        ParseError::EmptyRequestLine
    );
}

#[test]
fn request_lines_split_on_space_only() {
    // Newest Python: a U+00A0 or a tab is not a separator.
    check_raw(b"G\xa0T /a HTTP/1.0\r\n\r\n", "G\u{a0}T /a HTTP/1.0");
    check_raw(b"GET /a\xa0b HTTP/1.0\r\n\r\n", "400 Bad request target");
    check(
        "GET\t/ HTTP/1.1\n\n",
        "400 Bad HTTP/0.9 request type ('GET\\t/')",
    );
    check("GET  /  HTTP/1.0\n\n", "GET / HTTP/1.0");
}

#[test]
fn test_path_with_double_slash_is_collapsed() {
    // Mirrors test_httpservers: SimpleHTTPServerTestCase.test_get_dir_redirect_location_domain_injection_bug (gh-87389).
    check("GET //python.org HTTP/1.0\n\n", "GET /python.org HTTP/1.0");
    check("GET ///a//b HTTP/1.0\n\n", "GET /a//b HTTP/1.0");
    check("GET // HTTP/1.0\n\n", "GET / HTTP/1.0");
    // At the end of an HTTP/0.9 line, with nothing after the path.
    check("GET //\n", "GET / HTTP/0.9");
    check("GET ///x\n", "GET /x HTTP/0.9");
    check("GET /a//b HTTP/1.0\n\n", "GET /a//b HTTP/1.0");
}

#[test]
fn test_request_line_too_long() {
    // Mirrors test_httpservers: BaseHTTPRequestHandlerTestCase.test_request_length (414).
    let long = format!("GET /{} HTTP/1.1\r\n\r\n", "x".repeat(MAX_LINE));
    check_raw(long.as_bytes(), "414 -");
    check_raw(&vec![b'a'; MAX_LINE + 1], "414 -");
    // Python has no total limit on a head, so the per-line limit shows only with a larger one than the default.
    let mut parser = HeadParser::with_max_head_size(usize::MAX);
    assert!(matches!(
        parser.parse(&vec![b'a'; MAX_LINE]),
        Ok(Status::Partial)
    ));
    // A line of exactly MAX_LINE bytes, LF included, is accepted.
    let path = "x".repeat(MAX_LINE - "GET / HTTP/1.0\r\n".len());
    let exact = format!("GET /{path} HTTP/1.0\r\n\r\n");
    let mut parser = HeadParser::with_max_head_size(usize::MAX);
    assert!(matches!(
        parser.parse(exact.as_bytes()),
        Ok(Status::Complete(_))
    ));
}

#[test]
fn test_header_length() {
    // Mirrors test_httpservers: BaseHTTPRequestHandlerTestCase.test_header_length.
    let long = format!("GET / HTTP/1.1\r\nX-Foo: {}\r\n\r\n", "b".repeat(MAX_LINE));
    check_python(long.as_bytes(), "431 Line too long");
    let partial = format!("GET / HTTP/1.1\r\nX-Foo: {}", "b".repeat(MAX_LINE));
    check_python(partial.as_bytes(), "431 Line too long");
    // With the default total limit the same head, arriving in pieces, is refused once 32 KiB are in.
    check_raw(
        &partial.as_bytes()[..MAX_HEAD_SIZE + 1],
        "431 Request header fields too large",
    );
    assert_eq!(
        ParseError::LineTooLong.explain(),
        Some("got more than 65536 bytes when reading header line")
    );
}

#[test]
fn a_header_line_of_exactly_max_line_bytes_is_accepted() {
    // The line counts its CRLF, as Python's readline(_MAXLINE + 1) does.
    let value = "v".repeat(MAX_LINE - "X: \r\n".len());
    let exact = format!("GET / HTTP/1.0\r\nX: {value}\r\n\r\n");
    check_python(exact.as_bytes(), &format!("GET / HTTP/1.0 | X: {value}"));
    let over = format!("GET / HTTP/1.0\r\nX: {value}v\r\n\r\n");
    check_python(over.as_bytes(), "431 Line too long");
    // With a bare LF the line is one byte shorter, so one more value byte fits.
    let bare = format!("GET / HTTP/1.0\nX: {value}v\n\n");
    check_python(bare.as_bytes(), &format!("GET / HTTP/1.0 | X: {value}v"));
    // An unfinished line is refused once it is longer than the limit, not before.
    let unfinished = format!("GET / HTTP/1.0\r\nX: {value}\r");
    check_python(unfinished.as_bytes(), "partial");
    let unfinished = format!("GET / HTTP/1.0\r\nX: {value}vv");
    check_python(unfinished.as_bytes(), "partial");
    let unfinished = format!("GET / HTTP/1.0\r\nX: {value}vvv");
    check_python(unfinished.as_bytes(), "431 Line too long");
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
        "GET / HTTP/1.1\r\nHost: x\r\n{}\r\n",
        "X-Foo: bar\r\n".repeat(MAX_HEADERS - 1)
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
        b"GET / HTTP/1.0\r\nX: caf\xe9\r\n\r\n",
        "GET / HTTP/1.0 | X: caf\u{e9}",
    );
    // Bytes that happen to form UTF-8 are still ISO-8859-1, one character each.
    check_raw(
        b"GET / HTTP/1.0\r\nX: caf\xc3\xa9\r\nY: z\r\n\r\n",
        "GET / HTTP/1.0 | X: caf\u{c3}\u{a9} | Y: z",
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
        "POST / HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n",
        "POST / HTTP/1.1 | Host: x | Transfer-Encoding: chunked [chunked]",
    );
    check(
        "POST / HTTP/1.1\nHost: x\nTransfer-Encoding: CHUNKED\n\n",
        "POST / HTTP/1.1 | Host: x | Transfer-Encoding: CHUNKED [chunked]",
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
        "POST / HTTP/1.1\nHost: x\nContent-Length: 12\n\n",
        "POST / HTTP/1.1 | Host: x | Content-Length: 12 [length 12]",
    );
    check(
        "POST / HTTP/1.0\nContent-Length: 0012\n\n",
        "POST / HTTP/1.0 | Content-Length: 0012 [length 12]",
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

#[test]
fn the_whole_head_is_bounded() {
    let limited =
        |wire: &[u8], limit: usize| outcome_with(HeadParser::with_max_head_size(limit), wire);
    let head = "GET / HTTP/1.1\r\nHost: x\r\nX-A: 123\r\n\r\n";
    // Exactly at the limit passes; one byte more is refused, whichever line pushes it over.
    assert_eq!(
        limited(head.as_bytes(), head.len()),
        "GET / HTTP/1.1 | Host: x | X-A: 123"
    );
    assert_eq!(
        limited(head.as_bytes(), head.len() - 1),
        "431 Request header fields too large"
    );
    let without_blank = head.len() - 2;
    assert_eq!(
        limited(head.as_bytes(), without_blank),
        "431 Request header fields too large"
    );
    assert_eq!(
        limited(head.as_bytes(), without_blank - 1),
        "431 Request header fields too large"
    );
    // A request line that alone passes the limit is a long URI.
    assert_eq!(limited(head.as_bytes(), 15), "414 -");
    assert_eq!(
        limited(head.as_bytes(), 16),
        "431 Request header fields too large"
    );
    assert_eq!(limited(b"GET /aaaa", 8), "414 -");
    assert_eq!(limited(b"GET /aaa", 8), "partial");
    // An unfinished head is refused as soon as it is longer than the limit, before its line ends.
    assert_eq!(
        limited(b"GET / HTTP/1.1\r\nX: aaaaaa", 24),
        "431 Request header fields too large"
    );
    assert_eq!(limited(b"GET / HTTP/1.1\r\nX: aaaaa", 24), "partial");
    // Many short lines, each within Python's limits, add up: the default total is 32 KiB.
    let many = format!(
        "GET / HTTP/1.1\r\nHost: x\r\n{}\r\n",
        format!("X: {}\r\n", "v".repeat(600)).repeat(60)
    );
    check_raw(many.as_bytes(), "431 Request header fields too large");
    assert!(matches!(
        HeadParser::with_max_head_size(usize::MAX).parse(many.as_bytes()),
        Ok(Status::Complete(_))
    ));
    assert_eq!(ParseError::HeadTooLarge.status(), 431);
    assert_eq!(ParseError::HeadTooLarge.explain(), None);
}

#[test]
fn request_targets_hold_only_uri_bytes() {
    for byte in (0u8..=0x20).chain([
        b'"', b'<', b'>', b'\\', b'^', b'`', b'{', b'|', b'}', b'#', 0x7f, 0x80, 0xff,
    ]) {
        if matches!(byte, b'\r' | b'\n' | b' ') {
            continue;
        }
        let mut wire = b"GET /a".to_vec();
        wire.push(byte);
        wire.extend_from_slice(b"b HTTP/1.0\r\n\r\n");
        check_raw(&wire, "400 Bad request target");
        // The same byte in an HTTP/0.9 request.
        let mut wire = b"GET /a".to_vec();
        wire.push(byte);
        wire.extend_from_slice(b"\r\n");
        check_raw(&wire, "400 Bad request target");
    }
    check(
        "GET /cgi-bin/env.sh#/../.. HTTP/1.0\n\n",
        "400 Bad request target",
    );
    // Everything else RFC 3986 allows passes as it is, `%`-escapes and `[]` included.
    let allowed = "/AZaz09-._~:@!$&'()*+,;=%2f[]?q=/?";
    check(
        &format!("GET {allowed} HTTP/1.0\n\n"),
        &format!("GET {allowed} HTTP/1.0"),
    );
    check("OPTIONS * HTTP/1.0\n\n", "OPTIONS * HTTP/1.0");
    // Python's own refusals keep their messages.
    check("GET /a\"b\n", "400 Bad request target");
    check("POST /a\"b\n", "400 Bad HTTP/0.9 request type ('POST')");
    check("GET /a\"b FUBAR\n\n", "400 Bad request version ('FUBAR')");
}

#[test]
fn absolute_form_targets_give_the_origin_form_and_the_host() {
    check(
        "GET http://127.0.0.1:8000/file?x=1 HTTP/1.1\nHost: other\n\n",
        "GET /file?x=1 HTTP/1.1 | Host: 127.0.0.1:8000",
    );
    check(
        "GET HTTPS://Example.COM HTTP/1.1\nHost: example.com\nAccept: */*\n\n",
        "GET / HTTP/1.1 | Accept: */* | Host: Example.COM",
    );
    check("GET http://h?q HTTP/1.0\n\n", "GET /?q HTTP/1.0 | Host: h");
    check(
        "GET http://[::1]:80/ HTTP/1.0\n\n",
        "GET / HTTP/1.0 | Host: [::1]:80",
    );
    check(
        "GET http://h//evil.example/x HTTP/1.0\n\n",
        "GET /evil.example/x HTTP/1.0 | Host: h",
    );
    check(
        "GET http://h%41b/ HTTP/1.0\n\n",
        "GET / HTTP/1.0 | Host: h%41b",
    );
    check("GET http://h:/ HTTP/1.0\n\n", "GET / HTTP/1.0 | Host: h:");
    // HTTP/0.9 has no headers, but its path is the origin form too.
    check("GET http://h/x\n", "GET /x HTTP/0.9");
    let head = parse_head(b"GET http://h:1/x HTTP/1.0\r\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(head.line.authority(), Some("h:1"));
    assert_eq!(head.line.path(), "/x");
    assert_eq!(head.line.requestline(), "GET http://h:1/x HTTP/1.0");
    let origin = parse_head(b"GET /x HTTP/1.0\r\n\r\n").unwrap().unwrap();
    assert_eq!(origin.line.authority(), None);
    // Other schemes are not absolute-form for this server, and pass as Python passes them.
    check("GET ftp://h/x HTTP/1.0\n\n", "GET ftp://h/x HTTP/1.0");
    check("GET http:/x HTTP/1.0\n\n", "GET http:/x HTTP/1.0");
    check("GET httpx://h/x HTTP/1.0\n\n", "GET httpx://h/x HTTP/1.0");
    // An http URI must name a host, without userinfo, with a numeric port.
    for bad in [
        "http:///x",
        "http://",
        "http://user@h/x",
        "http://h:8a/x",
        "http://h:80:80/x",
        "http://[::1/x",
        "http://[]/x",
        "http://[::1]x/",
        "http://h%4/x",
        "http://h%zz/x",
        "http://h%/x",
        "http://ab%41%/x",
        "http://%41%/x",
    ] {
        check(&format!("GET {bad} HTTP/1.0\n\n"), "400 Bad request target");
    }
}

#[test]
fn host_is_validated_as_rfc_9112_asks() {
    check("GET / HTTP/1.1\n\n", "400 Missing Host header");
    check(
        "GET / HTTP/1.1\nHost: a\nhost: a\n\n",
        "400 Several Host headers",
    );
    check(
        "GET / HTTP/1.0\nHost: a\nHOST: b\n\n",
        "400 Several Host headers",
    );
    check("GET / HTTP/1.1\nHost: a b\n\n", "400 Invalid Host header");
    check("GET / HTTP/1.0\nHost: a/b\n\n", "400 Invalid Host header");
    check("GET / HTTP/1.1\nHost: a:b\n\n", "400 Invalid Host header");
    check("GET / HTTP/1.1\nHost: a@b\n\n", "400 Invalid Host header");
    check_raw(
        b"GET / HTTP/1.1\r\nHost: caf\xe9\r\n\r\n",
        "400 Invalid Host header",
    );
    // An absolute-form target does not excuse a missing or doubled Host.
    check("GET http://a/ HTTP/1.1\n\n", "400 Missing Host header");
    check(
        "GET http://a/ HTTP/1.1\nHost: a\nHost: a\n\n",
        "400 Several Host headers",
    );
    for good in [
        "a",
        "a:80",
        "a:",
        "",
        "[::1]",
        "[::1]:8080",
        "[v1.x]",
        "xn--bcher-kva.example",
        "a%20b",
        "1.2.3.4:5",
    ] {
        check(
            &format!("GET / HTTP/1.1\nHost: {good}\n\n"),
            &format!("GET / HTTP/1.1 | Host: {good}"),
        );
    }
    // HTTP/1.0 may leave Host out, and so may HTTP/0.9, which has no headers.
    check("GET / HTTP/1.0\n\n", "GET / HTTP/1.0");
    check("GET /\n", "GET / HTTP/0.9");
    // A version read as 1.1 or later needs it too.
    check("GET / HTTP/1.10\n\n", "400 Missing Host header");
    check("GET / HTTP/1.01\n\n", "400 Missing Host header");
    check("GET / HTTP/01.1\n\n", "400 Missing Host header");
}

#[test]
fn one_empty_line_before_the_request_line_is_skipped() {
    let head = b"\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\nrest";
    let parsed = parse_head(head).unwrap().unwrap();
    assert_eq!(parsed.line.path(), "/x");
    assert_eq!(parsed.length, head.len() - 4);
    let bare = b"\nGET /x HTTP/1.0\n\nrest";
    let parsed = parse_head(bare).unwrap().unwrap();
    assert_eq!(parsed.line.requestline(), "GET /x HTTP/1.0");
    assert_eq!(parsed.length, bare.len() - 4);
    check_raw(b"\nGET /y\r\n", "GET /y HTTP/0.9");
    assert_eq!(parse_head(b"\nGET /y\r\n").unwrap().unwrap().length, 9);
    // Only one: a second is an empty request line, closed without an answer as Python does.
    check_raw(b"\r\n\r\nGET / HTTP/1.0\r\n\r\n", "400 -");
    check_raw(b"\n\nGET / HTTP/1.0\r\n\r\n", "400 -");
    // A line of blanks, or CRs, is not an empty line.
    check_raw(b" \r\nGET / HTTP/1.0\r\n\r\n", "400 -");
    check_raw(b"\r\r\nGET / HTTP/1.0\r\n\r\n", "400 -");
    // An error after the skipped line still reports the request line alone.
    let mut parser = HeadParser::new();
    assert_eq!(
        parser.parse(b"\r\nGET / FUBAR\r\n\r\n").unwrap_err(),
        ParseError::BadRequestVersion
    );
    assert_eq!(parser.requestline(), Some("GET / FUBAR"));
    let mut parser = HeadParser::new();
    assert_eq!(
        parser
            .parse(b"\r\nGET / HTTP/1.1\r\nBad Name: x\r\n\r\n")
            .unwrap_err(),
        ParseError::InvalidHeaderName
    );
    assert_eq!(parser.requestline(), Some("GET / HTTP/1.1"));
    // A request line decoded from bytes outside ASCII is reported while its headers are still coming.
    let mut parser = HeadParser::new();
    assert!(matches!(
        parser.parse(b"G\xc9T / HTTP/1.1\r\nHost: x\r\n"),
        Ok(Status::Partial)
    ));
    assert_eq!(parser.requestline(), Some("G\u{c9}T / HTTP/1.1"));
    // Fed a byte at a time, the result is the same.
    let mut parser = HeadParser::new();
    let wire = b"\r\nGET /t HTTP/1.1\r\nHost: h\r\n\r\n";
    for end in 0..wire.len() {
        assert!(
            matches!(parser.parse(&wire[..end]), Ok(Status::Partial)),
            "at {end}"
        );
    }
    let Ok(Status::Complete(head)) = parser.parse(wire) else {
        panic!("complete");
    };
    assert_eq!((head.line.path(), head.length), ("/t", wire.len()));
}

#[test]
fn bare_lf_and_mixed_line_endings_end_every_line() {
    // Python reads lines up to LF, so a head may end lines with LF alone or mix LF and CRLF;
    // each field must end where its own line does, and the head right after its blank line.
    for wire in [
        &b"POST / HTTP/1.1\nHost: x\nContent-Length: 5\n\nhello"[..],
        b"POST / HTTP/1.1\r\nHost: x\nContent-Length: 5\r\n\nhello",
        b"POST / HTTP/1.1\nHost: x\r\nContent-Length: 5\n\r\nhello",
        b"POST / HTTP/1.1\nHost:x\nContent-Length:5\n\nhello",
        b"POST / HTTP/1.1\nHost: x \t\nContent-Length: 5\t\n\nhello",
    ] {
        let head = parse_head(wire).unwrap().unwrap();
        assert_eq!(
            head.length,
            wire.len() - 5,
            "{:?}",
            String::from_utf8_lossy(wire)
        );
        assert_eq!(head.framing, BodyFraming::Length(5));
        assert_eq!(head.headers.get("host"), Some("x"));
        assert_eq!(head.headers.len(), 2);
    }
    // A chunked framing named on a bare-LF line is seen, and so is a smuggling shape.
    check_raw(
        b"POST / HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n",
        "POST / HTTP/1.1 | Host: x | Transfer-Encoding: chunked [chunked]",
    );
    check_raw(
        b"POST / HTTP/1.1\nHost: x\nContent-Length: 1\nTransfer-Encoding: chunked\n\n",
        "400 Content-Length with Transfer-Encoding",
    );
    // A field with an empty value ends at its own LF too.
    let head = parse_head(b"GET / HTTP/1.0\nX:\nY: 1\n\n")
        .unwrap()
        .unwrap();
    assert_eq!(head.headers.get("x"), Some(""));
    assert_eq!(head.headers.get("y"), Some("1"));
    assert_eq!(head.length, 24);
    // After a bare-LF request line the blank line may be bare too.
    assert_eq!(
        parse_head(b"GET / HTTP/1.0\n\nrest")
            .unwrap()
            .unwrap()
            .length,
        16
    );
    assert_eq!(
        parse_head(b"GET / HTTP/1.0\r\n\nrest")
            .unwrap()
            .unwrap()
            .length,
        17
    );
}

#[test]
fn version_numbers_are_decimal() {
    check("GET / HTTP/10.0\n\n", "505 Invalid HTTP version (10.0)");
    check("GET / HTTP/19.0\n\n", "505 Invalid HTTP version (19.0)");
    check("GET / HTTP/1.10\nHost: x\n\n", "GET / HTTP/1.10 | Host: x");
    let head = parse_head(b"GET / HTTP/1.23\r\nHost: x\r\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(head.line.version_number(), (1, 23));
    let head = parse_head(b"GET / HTTP/0.9\r\n\r\n").unwrap().unwrap();
    assert_eq!(head.line.version_number(), (0, 9));
    assert!(
        !head.line.is_http_0_9(),
        "a three-word line is not HTTP/0.9 whatever its version"
    );
    let head = parse_head(b"GET /\r\n").unwrap().unwrap();
    assert!(head.line.is_http_0_9());
    assert_eq!(head.line.version_number(), (0, 9));
}

#[test]
fn a_line_outside_ascii_is_parsed_like_any_other() {
    // The method holds a byte outside ASCII, so the line takes the decoding path; its headers and framing still count.
    let wire = b"G\xc9T / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
    let head = parse_head(wire).unwrap().unwrap();
    assert!(!head.line.is_http_0_9());
    assert_eq!(head.line.command(), "G\u{c9}T");
    assert_eq!(head.line.requestline(), "G\u{c9}T / HTTP/1.1");
    assert_eq!(head.framing, BodyFraming::Length(5));
    assert_eq!(head.length, wire.len() - 5);
    check_raw(
        b"G\xc9T /\r\n",
        "400 Bad HTTP/0.9 request type ('G\u{c9}T')",
    );
    check_raw(b"G\xc9T / HTTP/1.1\r\n\r\n", "400 Missing Host header");
    let mut parser = HeadParser::new();
    assert_eq!(
        parser.parse(b"G\xc9T / FUBAR\r\n\r\n").unwrap_err(),
        ParseError::BadRequestVersion
    );
    assert_eq!(parser.requestline(), Some("G\u{c9}T / FUBAR"));
}

#[test]
fn a_trickled_head_costs_linear_time() {
    // Fed a byte at a time, a parser that rescanned its unfinished line on every call would do about n²/2 steps:
    // 2·10⁹ for this 64 KiB line, seconds even at memchr's speed, against milliseconds for the resumed scan.
    // The bound is loose on purpose, so a loaded machine cannot fail a linear parser.
    let mut head = b"GET / HTTP/1.0\r\nX: ".to_vec();
    head.resize(MAX_LINE, b'v');
    let mut parser = HeadParser::with_max_head_size(usize::MAX);
    let started = std::time::Instant::now();
    for end in 1..=head.len() {
        assert!(matches!(parser.parse(&head[..end]), Ok(Status::Partial)));
    }
    head.extend_from_slice(b"\r\n\r\n");
    assert!(matches!(parser.parse(&head), Ok(Status::Complete(_))));
    let elapsed = started.elapsed();
    assert!(
        elapsed < std::time::Duration::from_millis(1500),
        "{} bytes fed one at a time took {elapsed:?}",
        head.len()
    );
}

#[test]
fn public_helpers_decode_and_bound_like_the_parser() {
    // A request line of CR and LF only decodes to nothing, however many there are.
    assert_eq!(decode_request_line(b"\r\n"), "");
    assert_eq!(decode_request_line(b"\n\r\r\n"), "");
    assert_eq!(decode_request_line(b"GET /\r\r\n"), "GET /");
    assert_eq!(
        parse_request_line(b"\r\n").unwrap_err(),
        ParseError::EmptyRequestLine
    );
    // Bytes are ISO-8859-1 even when they happen to form UTF-8.
    assert_eq!(decode_request_line(b"G\xc3\xa9T"), "G\u{c3}\u{a9}T");
    let line = parse_request_line(b"G\xc3\xa9T / HTTP/1.0\r\n").unwrap();
    assert_eq!(line.command(), "G\u{c3}\u{a9}T");
    let head = parse_head(b"G\xc3\xa9T / HTTP/1.0\r\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(head.line.requestline(), "G\u{c3}\u{a9}T / HTTP/1.0");
    // parse_request_line has the parser's 64 KiB bound, line ending included.
    let mut exact = b"GET /".to_vec();
    exact.resize(MAX_LINE - " HTTP/1.0\r\n".len(), b'x');
    exact.extend_from_slice(b" HTTP/1.0\r\n");
    assert_eq!(exact.len(), MAX_LINE);
    assert!(parse_request_line(&exact).is_ok());
    exact.insert(5, b'x');
    assert_eq!(
        parse_request_line(&exact).unwrap_err(),
        ParseError::UriTooLong
    );
}

#[test]
fn errors_describe_themselves() {
    assert_eq!(
        ParseError::TooManyHeaders.explain(),
        Some("got more than 100 headers")
    );
    assert_eq!(ParseError::BadRequestSyntax.explain(), None);
    for (error, text) in [
        (ParseError::EmptyRequestLine, "empty request line"),
        (ParseError::UriTooLong, "request line too long"),
        (ParseError::HeadTooLarge, "request head too large"),
        (ParseError::InvalidRequestTarget, "invalid request target"),
        (ParseError::MissingHost, "missing host header"),
        (ParseError::SeveralHosts, "several host headers"),
        (ParseError::InvalidHost, "invalid host header"),
        (
            ParseError::UnsupportedTransferEncoding,
            "unsupported transfer-encoding",
        ),
    ] {
        assert_eq!(error.to_string(), text);
    }
}

#[test]
fn heads_cut_inside_blanks_wait_for_more() {
    // Blanks after a name or after a colon may be all that has arrived; the parser must wait, not look past the end.
    for wire in [
        &b"GET / HTTP/1.1\r\nHost "[..],
        b"GET / HTTP/1.1\r\nHost \t ",
        b"GET / HTTP/1.1\r\nHost:",
        b"GET / HTTP/1.1\r\nHost: \t ",
        b"GET / HTTP/1.1\r\nHost: x\r",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r",
        b"GET / HTTP/1.1\r\nHost",
    ] {
        assert_eq!(
            outcome(wire),
            "partial",
            "{:?}",
            String::from_utf8_lossy(wire)
        );
    }
    // Once something other than a blank follows, the line is judged.
    check_raw(
        b"GET / HTTP/1.1\r\nHost :",
        "400 Whitespace between header name and colon",
    );
    check_raw(b"GET / HTTP/1.1\r\nHost x", "400 Invalid header line");
}
