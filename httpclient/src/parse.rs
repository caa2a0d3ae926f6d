//! Byte-level parsing and validation with no I/O, so it can be tested (and fuzzed) alone.
//!
//! Nothing here panics, whatever the input.

use crate::error::{Error, Result};
use crate::headers::latin1;

/// Python's `_MAXLINE`: the longest status, header, chunk-size or trailer line accepted.
pub const MAX_LINE: usize = 65536;
/// Python's `_MAXHEADERS`: the most header (or trailer) lines accepted.
pub const MAX_HEADERS: usize = 100;
/// The most interim (1xx) responses skipped before the final one.
pub const MAX_INTERIM_RESPONSES: usize = 100;

/// A parsed status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatusLine {
    /// 10 for HTTP/1.0 and HTTP/0.9, 11 for HTTP/1.x with x ≥ 1.
    pub version: u8,
    pub status: u16,
    pub reason: String,
}

/// Parses `HTTP/1.1 200 OK` (the line ending already removed), as Python's `_read_status` and `begin` do.
pub(crate) fn parse_status_line(line: &[u8]) -> Result<StatusLine> {
    let text = latin1(line);
    let bad = || Error::BadStatusLine(text.clone());
    // Python splits on any whitespace at most twice.
    let mut words = text.trim_start().splitn(2, char::is_whitespace);
    let version = words.next().unwrap_or("");
    let rest = words.next().unwrap_or("").trim_start();
    let (status, reason) = match rest.split_once(char::is_whitespace) {
        Some((status, reason)) => (status, reason),
        None => (rest, ""),
    };
    if !version.starts_with("HTTP/") {
        return Err(bad());
    }
    // Three digits only: Python's int() would also take "+99" or " 200".
    if status.len() != 3 || !status.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(bad());
    }
    let status: u16 = status.parse().map_err(|_| bad())?;
    if status < 100 {
        return Err(bad());
    }
    let version = match version {
        "HTTP/1.0" | "HTTP/0.9" => 10,
        _ if version.starts_with("HTTP/1.") => 11,
        _ => return Err(Error::UnknownProtocol(version.to_string())),
    };
    Ok(StatusLine {
        version,
        status,
        reason: reason.trim().to_string(),
    })
}

/// Parses a chunk-size line (line ending removed): hex digits, optional whitespace, optional `;extensions`.
///
/// Stricter than Python, whose `int(line, 16)` also takes signs, underscores and a `0x` prefix.
pub(crate) fn parse_chunk_size(line: &[u8]) -> Option<u64> {
    let size = match line.iter().position(|&byte| byte == b';') {
        Some(semicolon) => &line[..semicolon],
        None => line,
    };
    let size = crate::headers::trim(size);
    if size.is_empty() {
        return None;
    }
    // Leading zeros are allowed (RFC 9112 `1*HEXDIG`, and Python's int()); they cannot overflow.
    let first = size
        .iter()
        .position(|&byte| byte != b'0')
        .unwrap_or(size.len());
    let size = &size[first..];
    if size.len() > 16 {
        return None;
    }
    let mut value: u64 = 0;
    for &byte in size {
        let digit = char::from(byte).to_digit(16)?;
        value = value.checked_mul(16)?.checked_add(u64::from(digit))?;
    }
    Some(value)
}

/// Parses a Content-Length value; `None` (read to close) when it is not a plain non-negative number.
///
/// Several comma-separated copies of the same number are accepted; differing ones are not.
pub(crate) fn parse_content_length<'a>(values: impl Iterator<Item = &'a str>) -> Option<u64> {
    let mut length = None;
    for value in values {
        for part in value.split(',') {
            let part = part.trim();
            if part.is_empty() || !part.bytes().all(|byte| byte.is_ascii_digit()) {
                return None;
            }
            let parsed: u64 = part.parse().ok()?;
            if length.is_some_and(|previous| previous != parsed) {
                return None;
            }
            length = Some(parsed);
        }
    }
    length
}

/// Whether `transfer_encoding` ends with the `chunked` coding.
pub(crate) fn is_chunked<'a>(mut values: impl Iterator<Item = &'a str>) -> bool {
    values.any(|value| {
        value
            .rsplit(',')
            .next()
            .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
    })
}

/// Python's `_contains_disallowed_url_pchar_re`: control characters, space and DEL.
fn disallowed_url_byte(byte: u8) -> bool {
    byte <= 0x20 || byte == 0x7f
}

/// Python's `_validate_path`: refuses control characters and spaces in the request target.
///
/// Non-ASCII characters are refused too, as Python's ASCII encoding of the request line does: percent-encode them.
pub(crate) fn validate_path(url: &str) -> Result<()> {
    if !url.is_ascii() {
        return Err(Error::InvalidUrl(format!(
            "url can't contain non-ascii characters (percent-encode them): {url:?}"
        )));
    }
    match url.bytes().find(|&byte| disallowed_url_byte(byte)) {
        Some(found) => Err(Error::InvalidUrl(format!(
            "url can't contain control characters. {url:?} (found at least {:?})",
            char::from(found)
        ))),
        None => Ok(()),
    }
}

/// Python's `_validate_host`: refuses control characters and spaces in the host.
pub(crate) fn validate_host(host: &str) -> Result<()> {
    match host.bytes().find(|&byte| disallowed_url_byte(byte)) {
        Some(found) => Err(Error::InvalidUrl(format!(
            "url can't contain control characters. {host:?} (found at least {:?})",
            char::from(found)
        ))),
        None => Ok(()),
    }
}

/// RFC 9110 `tchar`.
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// Python's `_validate_method`, made stricter: a method must be an HTTP token, so neither control characters nor spaces get through.
pub(crate) fn validate_method(method: &str) -> Result<()> {
    if method.is_empty() || !method.bytes().all(is_token_byte) {
        return Err(Error::InvalidMethod(method.to_string()));
    }
    Ok(())
}

/// Python's `_is_legal_header_name`: `[^:\s][^:\r\n]*`.
pub(crate) fn is_legal_header_name(name: &[u8]) -> bool {
    match name.split_first() {
        None => false,
        Some((first, rest)) => {
            let bad_first = *first == b':' || first.is_ascii_whitespace() || *first == 0x0b;
            !bad_first && !rest.iter().any(|byte| matches!(byte, b':' | b'\r' | b'\n'))
        }
    }
}

/// Python's `_is_illegal_header_value`: `\n(?![ \t])|\r(?![ \t\n])`, so CR and LF appear only inside an obs-fold.
pub(crate) fn is_illegal_header_value(value: &[u8]) -> bool {
    value.iter().enumerate().any(|(index, &byte)| {
        let next = value.get(index + 1).copied();
        match byte {
            b'\n' => !matches!(next, Some(b' ' | b'\t')),
            b'\r' => !matches!(next, Some(b' ' | b'\t' | b'\n')),
            _ => false,
        }
    })
}

/// Python's `_get_hostport`: splits `host:port` and `[v6]:port`; an empty port means the default.
pub(crate) fn split_host_port(
    host: &str,
    port: Option<u16>,
    default_port: u16,
) -> Result<(String, u16)> {
    let (mut host, port) = match port {
        Some(port) => (host, port),
        None => {
            let colon = host.rfind(':');
            let bracket = host.rfind(']');
            match colon {
                Some(colon) if bracket.is_none_or(|bracket| colon > bracket) => {
                    let digits = &host[colon + 1..];
                    let port = if digits.is_empty() {
                        default_port
                    } else if digits.bytes().all(|byte| byte.is_ascii_digit()) {
                        digits.parse().map_err(|_| {
                            Error::InvalidUrl(format!("nonnumeric port: '{digits}'"))
                        })?
                    } else {
                        return Err(Error::InvalidUrl(format!("nonnumeric port: '{digits}'")));
                    };
                    (&host[..colon], port)
                }
                _ => (host, default_port),
            }
        }
    };
    if host.len() >= 2 && host.starts_with('[') && host.ends_with(']') {
        host = &host[1..host.len() - 1];
    }
    Ok((host.to_string(), port))
}

/// The value of the Host header Python's `putrequest` sends: IPv6 addresses in brackets without a zone, the port only when not the default.
pub(crate) fn host_header(host: &str, port: u16, default_port: u16) -> String {
    let mut host = host.to_string();
    if host.contains(':') {
        // Python's _strip_ipv6_iface: a zone id has no meaning to the server.
        if let Some(percent) = host.find('%') {
            host.truncate(percent);
        }
        host = format!("[{host}]");
    }
    if port == default_port {
        host
    } else {
        format!("{host}:{port}")
    }
}

/// A line without its `\n` or `\r\n`.
pub(crate) fn strip_line_ending(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Bytes shown the way Python's `repr` of bytes shows them, for debug output.
pub(crate) fn escape(bytes: &[u8]) -> String {
    format!("b'{}'", bytes.escape_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_status(line: &str, expected: Result<(u8, u16, &str), &str>) {
        let parsed = parse_status_line(line.as_bytes());
        match (parsed, expected) {
            (Ok(status), Ok((version, code, reason))) => {
                assert_eq!(
                    (status.version, status.status, status.reason.as_str()),
                    (version, code, reason),
                    "{line:?}"
                );
            }
            (Err(error), Err(message)) => {
                assert!(error.to_string().contains(message), "{line:?}: {error}")
            }
            (parsed, expected) => panic!("{line:?}: got {parsed:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn status_lines() {
        check_status("HTTP/1.1 200 OK", Ok((11, 200, "OK")));
        check_status("HTTP/1.0 404 Not Found", Ok((10, 404, "Not Found")));
        check_status("HTTP/1.1 200", Ok((11, 200, "")));
        check_status("HTTP/1.2 200 Future", Ok((11, 200, "Future")));
        check_status(
            "HTTP/1.1 200  spaced reason ",
            Ok((11, 200, "spaced reason")),
        );
        check_status("HTTP/2.0 200 OK", Err("unknown protocol"));
        check_status("", Err("bad status line"));
        check_status("ICY 200 OK", Err("bad status line"));
        check_status("HTTP/1.1 99 Low", Err("bad status line"));
        check_status("HTTP/1.1 +99 Sign", Err("bad status line"));
        check_status("HTTP/1.1 abc OK", Err("bad status line"));
        check_status("HTTP/1.1 1000 Big", Err("bad status line"));
    }

    // Mirrors test_httplib: BasicTest.test_bad_status_repr
    #[test]
    fn test_bad_status_repr() {
        let error = parse_status_line(b"").unwrap_err();
        assert_eq!(error.to_string(), "bad status line: \"\"");
    }

    #[test]
    fn chunk_sizes() {
        assert_eq!(parse_chunk_size(b"a"), Some(10));
        assert_eq!(parse_chunk_size(b"1F;foo=bar"), Some(31));
        assert_eq!(parse_chunk_size(b"0 ; ext"), Some(0));
        assert_eq!(parse_chunk_size(b""), None);
        assert_eq!(parse_chunk_size(b"+a"), None);
        assert_eq!(parse_chunk_size(b"0x10"), None);
        assert_eq!(parse_chunk_size(b"1_0"), None);
        assert_eq!(parse_chunk_size(b"ffffffffffffffffff"), None);
        assert_eq!(parse_chunk_size(b"00000000000000000000a"), Some(10));
        assert_eq!(parse_chunk_size(b"000"), Some(0));
        assert_eq!(
            parse_chunk_size(b"0000000000000000ffffffffffffffff"),
            Some(u64::MAX)
        );
        assert_eq!(parse_chunk_size(b"00000000000000010000000000000000"), None);
        assert_eq!(parse_chunk_size(b"foo"), None);
    }

    #[test]
    fn content_lengths() {
        assert_eq!(parse_content_length(["42"].into_iter()), Some(42));
        assert_eq!(parse_content_length(["42, 42"].into_iter()), Some(42));
        assert_eq!(parse_content_length(["42", "43"].into_iter()), None);
        assert_eq!(parse_content_length(["-1"].into_iter()), None);
        assert_eq!(parse_content_length(["x"].into_iter()), None);
        assert_eq!(parse_content_length(std::iter::empty()), None);
    }

    #[test]
    fn transfer_encodings() {
        assert!(is_chunked(["chunked"].into_iter()));
        assert!(is_chunked(["gzip, Chunked"].into_iter()));
        assert!(!is_chunked(["chunked, gzip"].into_iter()));
        assert!(!is_chunked(["identity"].into_iter()));
    }

    // Mirrors test_httplib: BasicTest.test_host_port
    #[test]
    fn test_host_port() {
        for bad in [
            "www.python.org:abc",
            "user:password@www.python.org",
            "host:99999",
        ] {
            assert!(
                matches!(split_host_port(bad, None, 80), Err(Error::InvalidUrl(_))),
                "{bad}"
            );
        }
        for (given, host, port) in [
            ("[fe80::207:e9ff:fe9b]:8000", "fe80::207:e9ff:fe9b", 8000),
            ("www.python.org:80", "www.python.org", 80),
            ("www.python.org:", "www.python.org", 80),
            ("www.python.org", "www.python.org", 80),
            ("[fe80::207:e9ff:fe9b]", "fe80::207:e9ff:fe9b", 80),
            ("[fe80::207:e9ff:fe9b]:", "fe80::207:e9ff:fe9b", 80),
        ] {
            assert_eq!(
                split_host_port(given, None, 80).unwrap(),
                (host.to_string(), port)
            );
        }
    }

    // Mirrors test_httplib: HeaderTests.test_ipv6host_header
    #[test]
    fn test_ipv6host_header() {
        assert_eq!(host_header("2001::", 81, 80), "[2001::]:81");
        assert_eq!(host_header("2001:102A::", 80, 80), "[2001:102A::]");
        assert_eq!(host_header("fe80::%2", 80, 80), "[fe80::]");
        assert_eq!(host_header("fe80::%2", 81, 80), "[fe80::]:81");
        assert_eq!(host_header("example.com", 8080, 80), "example.com:8080");
    }

    // Mirrors test_httplib: HeaderTests.test_invalid_headers
    #[test]
    fn test_invalid_headers() {
        let names: [&[u8]; 10] = [
            b"Invalid\r\nName",
            b"Invalid\rName",
            b"Invalid\nName",
            b"\r\nInvalidName",
            b"\rInvalidName",
            b"\nInvalidName",
            b" InvalidName",
            b"\tInvalidName",
            b"Invalid:Name",
            b":InvalidName",
        ];
        for name in names {
            assert!(!is_legal_header_name(name), "{name:?}");
        }
        let values: [&[u8]; 6] = [
            b"Invalid\r\nValue",
            b"Invalid\rValue",
            b"Invalid\nValue",
            b"InvalidValue\r\n",
            b"InvalidValue\r",
            b"InvalidValue\n",
        ];
        for value in values {
            assert!(is_illegal_header_value(value), "{value:?}");
        }
        assert!(!is_illegal_header_value(b"is\r\n allowed"));
        assert!(!is_illegal_header_value(b"is\r\n\tallowed"));
        assert!(is_legal_header_name(b"Key Space"));
        assert!(is_legal_header_name(b"\xa0NonbreakSpace"));
    }

    // Mirrors test_httplib: BasicTest.test_putrequest_override_validation (control characters in the method)
    #[test]
    fn test_putrequest_override_validation() {
        for method in ["GET\r\n", "GET\0", "GET ", "G ET", ""] {
            assert!(
                matches!(validate_method(method), Err(Error::InvalidMethod(_))),
                "{method:?}"
            );
        }
        assert!(validate_method("PROPFIND").is_ok());
    }

    // Mirrors test_httplib: BasicTest.test_invalid_url_characters and HTTPConnection host validation
    #[test]
    fn test_invalid_url_characters() {
        assert!(matches!(
            validate_path("/caf\u{e9}"),
            Err(Error::InvalidUrl(_))
        ));
        for url in ["/a b", "/\r\n", "/\x7f", "/\0"] {
            assert!(
                matches!(validate_path(url), Err(Error::InvalidUrl(_))),
                "{url:?}"
            );
            assert!(
                matches!(validate_host(url), Err(Error::InvalidUrl(_))),
                "{url:?}"
            );
        }
        assert!(validate_path("/a%20b?x=1").is_ok());
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = parse_status_line(&bytes);
            let _ = parse_chunk_size(&bytes);
            let text = latin1(&bytes);
            let _ = parse_content_length([text.as_str()].into_iter());
            let _ = split_host_port(&text, None, 80);
            let mut headers = crate::headers::Headers::new();
            headers.push_line(&bytes);
            headers.push_line(&bytes);
        }

        #[test]
        fn chunk_sizes_round_trip(size in proptest::prelude::any::<u64>()) {
            proptest::prop_assert_eq!(parse_chunk_size(format!("{size:x}").as_bytes()), Some(size));
            proptest::prop_assert_eq!(parse_chunk_size(format!("{size:X};name=value").as_bytes()), Some(size));
        }
    }
}
