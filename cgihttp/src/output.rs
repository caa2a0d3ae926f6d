//! The script's answer (RFC 3875 §6): an incremental, bounded parser for the header block a script prints before its body.
//!
//! Python sends `200 Script output follows` and copies the script's output after it, so a script cannot choose its status
//! and a script printing garbage produces a garbage response. Here the header block is parsed and checked first:
//! `Status:` sets the status, `Location:` redirects, and output without a valid header block is an error (a 502).

use crate::CgiError;

/// The longest header block a script may print, in bytes, line ends included.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// The most header lines a script may print (Python's limit on a request's headers).
pub const MAX_HEADER_LINES: usize = 100;

/// Headers a script may not set: the server owns the connection and the framing of the response.
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Where a script's `Location:` points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A path (and query) on this server, starting with one `/`: without a `Status:` the server answers that path itself,
    /// as a fresh GET, instead of sending the script's output (RFC 3875 §6.2.2).
    Local(String),
    /// An absolute URL (`scheme:...`) sent to the client, with 302 unless the script gave a `Status:` (RFC 3875 §6.2.3).
    Client(String),
}

/// A script's parsed header block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScriptHeaders {
    status: Option<(u16, Option<String>)>,
    content_type: Option<String>,
    location: Option<Location>,
    headers: Vec<(String, String)>,
}

impl ScriptHeaders {
    /// Parses a complete header block: lines ending in LF or CRLF, closed by an empty line (which may be left out).
    ///
    /// ```
    /// use cgihttp::{CgiError, ScriptHeaders};
    ///
    /// let headers = ScriptHeaders::parse(b"Status: 404 Gone away\r\nContent-Type: text/plain\r\nX-A: 1\r\n\r\n")?;
    /// assert_eq!((headers.status(), headers.reason()), (404, Some("Gone away")));
    /// assert_eq!(headers.content_type(), Some("text/plain"));
    /// assert_eq!(headers.headers(), [("X-A".to_owned(), "1".to_owned())]);
    /// assert_eq!(ScriptHeaders::parse(b"hello world\n\n"), Err(CgiError::MalformedHeader));
    /// # Ok::<(), CgiError>(())
    /// ```
    pub fn parse(block: &[u8]) -> Result<ScriptHeaders, CgiError> {
        let mut parser = HeaderParser::new();
        match parser.feed(block)? {
            Some((headers, _)) => Ok(headers),
            None => parser.finish_block(),
        }
    }

    /// The status to answer with: the script's `Status:`, else 302 for a [`Location::Client`], else 200.
    pub fn status(&self) -> u16 {
        match (&self.status, &self.location) {
            (Some((code, _)), _) => *code,
            (None, Some(Location::Client(_))) => 302,
            _ => 200,
        }
    }

    /// The reason phrase the script gave with its `Status:`, if any; otherwise the server uses the standard phrase.
    pub fn reason(&self) -> Option<&str> {
        self.status
            .as_ref()
            .and_then(|(_, reason)| reason.as_deref())
    }

    /// The script's `Content-Type:`.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// The script's `Location:`.
    pub fn location(&self) -> Option<&Location> {
        self.location.as_ref()
    }

    /// The local path the server should answer instead of the script: a [`Location::Local`] with no `Status:` other than 200.
    ///
    /// With another status (`Status: 301` and `Location: /new`) the script means a client redirect, and the server sends the
    /// `Location` as it is, as Apache does.
    pub fn local_redirect(&self) -> Option<&str> {
        match (&self.location, &self.status) {
            (Some(Location::Local(path)), None) => Some(path),
            (Some(Location::Local(path)), Some((200, _))) => Some(path),
            _ => None,
        }
    }

    /// The other headers, in the script's order, to be sent as they are; hop-by-hop headers are dropped.
    ///
    /// `Content-Type` and `Location` are not in this list (see [`content_type`](Self::content_type), [`location`](Self::location)).
    /// A `Content-Length` is kept: a server that keeps the connection open must check it against the body or close after it.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    fn add(&mut self, name: &str, value: &str) -> Result<(), CgiError> {
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "status" => {
                if self.status.is_some() {
                    return Err(CgiError::MalformedHeader);
                }
                self.status = Some(parse_status(value)?);
            }
            "location" => {
                if self.location.is_some() {
                    return Err(CgiError::MalformedHeader);
                }
                self.location = Some(parse_location(value)?);
            }
            "content-type" => {
                if self.content_type.is_some() {
                    return Err(CgiError::MalformedHeader);
                }
                self.content_type = Some(value.to_owned());
            }
            other if HOP_BY_HOP.contains(&other) => {}
            _ => self.headers.push((name.to_owned(), value.to_owned())),
        }
        Ok(())
    }
}

/// `Status: 404` or `Status: 404 Not Found`; codes 200 to 599 (an interim 1xx answer from a script makes no sense).
fn parse_status(value: &str) -> Result<(u16, Option<String>), CgiError> {
    let bytes = value.as_bytes();
    let digits = bytes.get(..3).ok_or(CgiError::InvalidStatus)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(CgiError::InvalidStatus);
    }
    let code = digits
        .iter()
        .fold(0u16, |code, digit| code * 10 + u16::from(digit - b'0'));
    if !(200..=599).contains(&code) {
        return Err(CgiError::InvalidStatus);
    }
    let reason = &value[3..];
    if !reason.is_empty() && !reason.starts_with([' ', '\t']) {
        return Err(CgiError::InvalidStatus);
    }
    let reason = reason.trim_matches([' ', '\t']);
    Ok((code, (!reason.is_empty()).then(|| reason.to_owned())))
}

/// A local path (one leading `/`) or an absolute URL (`scheme:` then something), written as an ASCII URI reference.
///
/// Every character must be one RFC 3986 allows in a URI (unreserved, reserved, or `%` with two hex digits):
/// no spaces, no controls, nothing beyond ASCII, so what reaches the client's `Location` is exactly what any client reads.
fn parse_location(value: &str) -> Result<Location, CgiError> {
    if value.is_empty() || !is_uri_reference(value.as_bytes()) {
        return Err(CgiError::InvalidLocation);
    }
    if value.starts_with('/') {
        // `//host/path` is relative to the scheme, neither local nor absolute.
        return if value.starts_with("//") {
            Err(CgiError::InvalidLocation)
        } else {
            Ok(Location::Local(value.to_owned()))
        };
    }
    let Some((scheme, rest)) = value.split_once(':') else {
        return Err(CgiError::InvalidLocation);
    };
    let mut scheme_bytes = scheme.bytes();
    let scheme_valid = scheme_bytes
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic())
        && scheme_bytes.all(|byte| byte.is_ascii_alphanumeric() || b"+-.".contains(&byte));
    if scheme_valid && !rest.is_empty() {
        Ok(Location::Client(value.to_owned()))
    } else {
        Err(CgiError::InvalidLocation)
    }
}

/// Whether every byte is one RFC 3986 allows in a URI reference: unreserved, gen-delims, sub-delims, or a `%` escape.
fn is_uri_reference(value: &[u8]) -> bool {
    let mut index = 0;
    while let Some(&byte) = value.get(index) {
        if byte == b'%' {
            let escape = value.get(index + 1..index + 3);
            if !escape.is_some_and(|digits| digits.iter().all(u8::is_ascii_hexdigit)) {
                return false;
            }
            index += 3;
            continue;
        }
        if !(byte.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=".contains(&byte)) {
            return false;
        }
        index += 1;
    }
    true
}

/// Whether a character cannot go into a header value on the wire as it is: a C0 control other than tab, DEL,
/// a C1 control (U+0080 to U+009F, which some clients and terminals act on: U+009B is CSI, U+0085 is NEL),
/// or a character beyond ISO-8859-1, which a header cannot carry.
fn is_unsendable(character: char) -> bool {
    (character < ' ' && character != '\t')
        || ('\u{7f}'..='\u{9f}').contains(&character)
        || u32::from(character) > 0xff
}

/// RFC 9110 token characters, the only ones allowed in a header name.
fn is_token(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// Parses one header line (without its line end) into `headers`.
fn parse_line(line: &[u8], headers: &mut ScriptHeaders) -> Result<(), CgiError> {
    let colon = line
        .iter()
        .position(|&byte| byte == b':')
        .ok_or(CgiError::MalformedHeader)?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    // An empty name, a space before the colon, or a line folded onto the previous one (obs-fold) is refused.
    if name.is_empty() || !name.iter().copied().all(is_token) {
        return Err(CgiError::MalformedHeader);
    }
    let value = value.trim_ascii();
    // Controls are refused before decoding, so one hidden in bytes that are not UTF-8 is named for what it is.
    if value
        .iter()
        .any(|&byte| (byte < 0x20 && byte != b'\t') || byte == 0x7f)
    {
        return Err(CgiError::UnsendableHeader);
    }
    let name = std::str::from_utf8(name).map_err(|_| CgiError::MalformedHeader)?;
    let value = std::str::from_utf8(value).map_err(|_| CgiError::MalformedHeader)?;
    // The value is sent as ISO-8859-1, where U+0085 and U+009B would become the raw bytes 0x85 and 0x9B.
    if value.chars().any(is_unsendable) {
        return Err(CgiError::UnsendableHeader);
    }
    headers.add(name, value)
}

/// Reads a script's header block as its output arrives, in pieces of any size.
///
/// Holds at most [`MAX_HEADER_BYTES`] and [`MAX_HEADER_LINES`]; never panics, whatever the script prints.
///
/// ```
/// use cgihttp::HeaderParser;
///
/// let mut parser = HeaderParser::new();
/// assert_eq!(parser.feed(b"Content-Type: text/pl")?, None);
/// let (headers, used) = parser.feed(b"ain\n\nbody")?.expect("the block is complete");
/// assert_eq!(headers.content_type(), Some("text/plain"));
/// assert_eq!(&b"ain\n\nbody"[used..], b"body");
/// # Ok::<(), cgihttp::CgiError>(())
/// ```
#[derive(Debug, Default)]
pub struct HeaderParser {
    /// The block so far, line ends included.
    buffer: Vec<u8>,
    /// Where the line being read starts in `buffer`.
    line_start: usize,
    /// Complete header lines seen.
    lines: usize,
    /// The headers parsed so far, one line at a time.
    headers: ScriptHeaders,
}

impl HeaderParser {
    /// A parser at the start of a script's output.
    pub fn new() -> HeaderParser {
        HeaderParser::default()
    }

    /// Takes the next piece of output: `Ok(Some((headers, used)))` once the block's closing empty line is in,
    /// where `data[used..]` is the start of the body; `Ok(None)` while more is needed.
    ///
    /// After `Some` or an error the parser is spent; feeding it again starts nothing new.
    pub fn feed(&mut self, data: &[u8]) -> Result<Option<(ScriptHeaders, usize)>, CgiError> {
        let mut used = 0;
        while used < data.len() {
            let remaining = &data[used..];
            let (piece, line_ends) = match remaining.iter().position(|&byte| byte == b'\n') {
                Some(newline) => (&remaining[..=newline], true),
                None => (remaining, false),
            };
            if self.buffer.len() + piece.len() > MAX_HEADER_BYTES {
                return Err(CgiError::HeaderTooLarge);
            }
            self.buffer.extend_from_slice(piece);
            used += piece.len();
            if !line_ends {
                break;
            }
            let line = &self.buffer[self.line_start..self.buffer.len() - 1];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                return self.complete().map(|headers| Some((headers, used)));
            }
            self.lines += 1;
            if self.lines > MAX_HEADER_LINES {
                return Err(CgiError::TooManyHeaders);
            }
            parse_line(line, &mut self.headers)?;
            self.line_start = self.buffer.len();
        }
        Ok(None)
    }

    /// The output ended before the empty line: [`CgiError::IncompleteHeader`].
    ///
    /// RFC 3875 wants the empty line even when there is no body; a script that prints only headers and exits
    /// without it is refused, so a truncated header block is never taken for a complete one.
    pub fn finish(&self) -> CgiError {
        CgiError::IncompleteHeader
    }

    /// For [`ScriptHeaders::parse`]: a block given whole may leave out the final empty line.
    fn finish_block(mut self) -> Result<ScriptHeaders, CgiError> {
        let line = &self.buffer[self.line_start..];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !line.is_empty() {
            self.lines += 1;
            if self.lines > MAX_HEADER_LINES {
                return Err(CgiError::TooManyHeaders);
            }
            let line = line.to_vec();
            parse_line(&line, &mut self.headers)?;
        }
        self.complete()
    }

    fn complete(&mut self) -> Result<ScriptHeaders, CgiError> {
        let headers = std::mem::take(&mut self.headers);
        self.buffer = Vec::new();
        self.line_start = 0;
        if headers.status.is_none() && headers.location.is_none() && headers.content_type.is_none()
        {
            return Err(CgiError::MissingCgiField);
        }
        Ok(headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a parsed block looks like, flattened for comparison.
    #[derive(Debug, PartialEq, Eq)]
    struct Seen {
        status: u16,
        reason: Option<String>,
        content_type: Option<String>,
        location: Option<Location>,
        local_redirect: Option<String>,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    fn seen(headers: &ScriptHeaders, body: &[u8]) -> Seen {
        Seen {
            status: headers.status(),
            reason: headers.reason().map(str::to_owned),
            content_type: headers.content_type().map(str::to_owned),
            location: headers.location().cloned(),
            local_redirect: headers.local_redirect().map(str::to_owned),
            headers: headers.headers().to_vec(),
            body: body.to_vec(),
        }
    }

    fn document(status: u16, reason: Option<&str>, content_type: &str, body: &str) -> Seen {
        Seen {
            status,
            reason: reason.map(str::to_owned),
            content_type: Some(content_type.to_owned()),
            location: None,
            local_redirect: None,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    /// Feeds `output` whole, then byte by byte, and compares both results with `expected`;
    /// then again with every `\n` written as CRLF (in the expected body too).
    fn check(output: &str, expected: Result<Seen, CgiError>) {
        check_bytes(output.as_bytes(), &expected);
        let with_crlf = expected.map(|mut seen| {
            seen.body = String::from_utf8_lossy(&seen.body)
                .replace('\n', "\r\n")
                .into_bytes();
            seen
        });
        check_bytes(output.replace('\n', "\r\n").as_bytes(), &with_crlf);
    }

    fn check_bytes(output: &[u8], expected: &Result<Seen, CgiError>) {
        let whole = run(output, output.len().max(1));
        let bytewise = run(output, 1);
        assert_eq!(
            &whole,
            expected,
            "whole: {:?}",
            String::from_utf8_lossy(output)
        );
        assert_eq!(
            &bytewise,
            expected,
            "byte by byte: {:?}",
            String::from_utf8_lossy(output)
        );
    }

    fn run(output: &[u8], piece_size: usize) -> Result<Seen, CgiError> {
        let mut parser = HeaderParser::new();
        for (index, piece) in output.chunks(piece_size).enumerate() {
            if let Some((headers, used)) = parser.feed(piece)? {
                let start = index * piece_size + used;
                return Ok(seen(&headers, &output[start..]));
            }
        }
        Err(parser.finish())
    }

    // Mirrors test_httpservers: test_headers_and_content (the script prints a Content-type and a body).
    #[test]
    fn test_headers_and_content() {
        check(
            "Content-type: text/html\n\nHello World\n",
            Ok(document(200, None, "text/html", "Hello World\n")),
        );
        check(
            "Content-Type:text/plain\n\n",
            Ok(document(200, None, "text/plain", "")),
        );
    }

    #[test]
    fn status_sets_the_code_and_reason() {
        check(
            "Status: 404 Not Here\nContent-Type: text/plain\n\nno",
            Ok(document(404, Some("Not Here"), "text/plain", "no")),
        );
        check(
            "status:   201   \ncontent-type: a/b\n\n",
            Ok(document(201, None, "a/b", "")),
        );
        let mut only_status = document(204, None, "", "");
        only_status.content_type = None;
        check("Status: 204\n\n", Ok(only_status));
        for bad in [
            "Status: 20\n\n",
            "Status: 2000\n\n",
            "Status: abc\n\n",
            "Status: 099 x\n\n",
            "Status: 100 Continue\n\n",
            "Status: 600\n\n",
            "Status:\n\n",
            "Status: +20\n\n",
        ] {
            check(bad, Err(CgiError::InvalidStatus));
        }
        check(
            "Status: 200\nStatus: 404\n\n",
            Err(CgiError::MalformedHeader),
        );
    }

    #[test]
    fn location_redirects() {
        let client = Seen {
            status: 302,
            reason: None,
            content_type: None,
            location: Some(Location::Client("http://example.org/x?y".into())),
            local_redirect: None,
            headers: Vec::new(),
            body: Vec::new(),
        };
        check("Location: http://example.org/x?y\n\n", Ok(client));
        let moved = Seen {
            status: 301,
            reason: Some("Moved".into()),
            content_type: None,
            location: Some(Location::Client("https://example.org/".into())),
            local_redirect: None,
            headers: Vec::new(),
            body: Vec::new(),
        };
        check(
            "Status: 301 Moved\nLocation: https://example.org/\n\n",
            Ok(moved),
        );
        let local = Seen {
            status: 200,
            reason: None,
            content_type: None,
            location: Some(Location::Local("/other/page.html?q=1".into())),
            local_redirect: Some("/other/page.html?q=1".into()),
            headers: Vec::new(),
            body: Vec::new(),
        };
        check("Location: /other/page.html?q=1\n\n", Ok(local));
        let local_with_status = Seen {
            status: 303,
            reason: None,
            content_type: None,
            location: Some(Location::Local("/new".into())),
            local_redirect: None,
            headers: Vec::new(),
            body: Vec::new(),
        };
        check("Status: 303\nLocation: /new\n\n", Ok(local_with_status));
        for bad in [
            "Location: //evil.example/\n\n",
            "Location: relative/path\n\n",
            "Location: 1http://x\n\n",
            "Location: http:\n\n",
            "Location: /a b\n\n",
            "Location:\n\n",
        ] {
            check(bad, Err(CgiError::InvalidLocation));
        }
    }

    #[test]
    fn other_headers_pass_hop_by_hop_headers_do_not() {
        let mut expected = document(200, None, "text/plain", "x");
        expected.headers = vec![
            ("Set-Cookie".into(), "a=1".into()),
            ("Set-Cookie".into(), "b=2".into()),
            ("X-Empty".into(), "".into()),
            ("Content-Length".into(), "1".into()),
        ];
        check(
            "Content-Type: text/plain\nSet-Cookie: a=1\nSet-Cookie: b=2\nConnection: keep-alive\n\
             Transfer-Encoding: chunked\nX-Empty:\nContent-Length: 1\nUpgrade: h2c\n\nx",
            Ok(expected),
        );
    }

    #[test]
    fn garbage_is_refused() {
        for bad in [
            "hello world\n\n",
            "<html><body>oops</body></html>\n",
            "Content-Type : text/plain\n\n",
            ": no name\n\n",
            "Content-Type: text/plain\n folded: line\n\n",
            "Bad Name: x\nContent-Type: a/b\n\n",
            "Content-Type: a/b\nContent-Type: c/d\n\n",
        ] {
            check(bad, Err(CgiError::MalformedHeader));
        }
        check("X-Only: 1\n\nbody", Err(CgiError::MissingCgiField));
        check("\nbody", Err(CgiError::MissingCgiField));
        check(
            "Content-Type: text/plain\n",
            Err(CgiError::IncompleteHeader),
        );
        check("Content-Type: text/pl", Err(CgiError::IncompleteHeader));
        check("", Err(CgiError::IncompleteHeader));
        // A bare CR inside a value, and bytes that are not UTF-8.
        check_bytes(b"Content-Type: a\rb\n\n", &Err(CgiError::UnsendableHeader));
        check_bytes(
            b"Content-Type: text/plain\nX-A: \xff\n\n",
            &Err(CgiError::MalformedHeader),
        );
        check_bytes(b"\xff\xfe\0\0\n\n", &Err(CgiError::MalformedHeader));
    }

    // Every header value and reason phrase is checked for C0 and C1 controls (and characters a header cannot carry):
    // a script printing U+009B (CSI) or U+0085 (NEL) gets a 502, never those bytes on the wire.
    #[test]
    fn control_characters_in_values_and_reasons_are_refused() {
        for bad in [
            "Content-Type: text/plain\nX-A: a\u{1}b\n\n",
            "Content-Type: text/plain\nX-A: a\u{7f}b\n\n",
            "Content-Type: text/plain\nX-A: a\u{85}b\n\n",
            "Content-Type: text/plain\nX-A: \u{9b}31m\n\n",
            "Content-Type: text/plain\nX-A: \u{80}\n\n",
            "Content-Type: text/plain\nX-A: \u{9f}\n\n",
            "Content-Type: text/pl\u{85}ain\n\n",
            "Status: 200 O\u{9b}K\nContent-Type: text/plain\n\n",
            "Status: 404 \u{85}\nContent-Type: text/plain\n\n",
            "Content-Type: text/plain\nX-A: \u{263a}\n\n",
        ] {
            check(bad, Err(CgiError::UnsendableHeader));
        }
        // ISO-8859-1 beyond the controls, and tabs, pass.
        let mut expected = document(200, Some("D\u{e9}j\u{e0}\tvu"), "text/plain", "");
        expected.headers = vec![("X-A".into(), "caf\u{e9} \u{a0}\u{ff}".into())];
        check(
            "Status: 200 D\u{e9}j\u{e0}\tvu\nContent-Type: text/plain\nX-A: caf\u{e9} \u{a0}\u{ff}\n\n",
            Ok(expected),
        );
    }

    // Location is an ASCII URI reference: no C1 control can ride in it as a header split (`\x85Set-Cookie:`), no space, no raw non-ASCII.
    #[test]
    fn location_must_be_an_ascii_uri_reference() {
        for bad in [
            "Location: http://example.com/a\u{85}Set-Cookie:injected\n\n",
            "Location: http://example.com/a\u{9b}\n\n",
            "Location: /caf\u{e9}\n\n",
            "Location: http://example.com/a\\b\n\n",
            "Location: http://example.com/<script>\n\n",
            "Location: http://example.com/%zz\n\n",
            "Location: http://example.com/%4\n\n",
            "Location: /a\tb\n\n",
            "Location: http://example.com/\"q\"\n\n",
        ] {
            let expected = if bad.contains('\u{85}') || bad.contains('\u{9b}') {
                CgiError::UnsendableHeader
            } else {
                CgiError::InvalidLocation
            };
            check(bad, Err(expected));
        }
        for good in [
            "http://example.com/a%20b?x=1&y=%C3%A9#top",
            "https://[::1]:8443/p;q=1/~user/(x)*,+$!'@",
            "/local/path?q=a:b",
        ] {
            let headers = ScriptHeaders::parse(format!("Location: {good}\n\n").as_bytes());
            assert!(headers.is_ok(), "{good}: {headers:?}");
        }
    }

    #[test]
    fn the_block_is_bounded() {
        let mut many = String::from("Content-Type: text/plain\n");
        for index in 0..MAX_HEADER_LINES {
            many.push_str(&format!("X-{index}: {index}\n"));
        }
        many.push('\n');
        check(&many, Err(CgiError::TooManyHeaders));

        let long_value = "v".repeat(MAX_HEADER_BYTES);
        check(
            &format!("Content-Type: text/plain\nX-Long: {long_value}\n\n"),
            Err(CgiError::HeaderTooLarge),
        );
        // A line that never ends is cut off at the limit too.
        let endless = vec![b'a'; MAX_HEADER_BYTES + 1];
        check_bytes(&endless, &Err(CgiError::HeaderTooLarge));

        // Exactly at the limit is fine.
        let prefix = "Content-Type: text/plain\nX-Fill: ";
        let fill = "f".repeat(MAX_HEADER_BYTES - prefix.len() - 2);
        let mut expected = document(200, None, "text/plain", "b");
        expected.headers = vec![("X-Fill".into(), fill.clone())];
        check_bytes(format!("{prefix}{fill}\n\nb").as_bytes(), &Ok(expected));
    }

    #[test]
    fn parse_takes_a_whole_block() {
        let headers = ScriptHeaders::parse(b"Content-Type: text/plain");
        assert_eq!(
            headers.map(|headers| headers.content_type().map(str::to_owned)),
            Ok(Some("text/plain".to_owned()))
        );
        assert_eq!(
            ScriptHeaders::parse(b"Location: /x\r\n\r\nignored"),
            Ok(ScriptHeaders {
                location: Some(Location::Local("/x".into())),
                ..ScriptHeaders::default()
            })
        );
        assert_eq!(ScriptHeaders::parse(b""), Err(CgiError::MissingCgiField));
        assert_eq!(
            ScriptHeaders::parse(b"garbage"),
            Err(CgiError::MalformedHeader)
        );
    }

    #[test]
    fn no_panic_on_arbitrary_bytes() {
        // A cheap deterministic sweep over short outputs made of the bytes that matter to the parser.
        let alphabet = b"S:\r\n /a1\xff";
        let mut state: u32 = 0x1234_5678;
        for _ in 0..20_000 {
            let mut output = Vec::new();
            for _ in 0..(state % 24) {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                output.push(alphabet[(state >> 24) as usize % alphabet.len()]);
            }
            let _ = run(&output, 1);
            let _ = run(&output, 7);
            let _ = ScriptHeaders::parse(&output);
        }
    }
}
