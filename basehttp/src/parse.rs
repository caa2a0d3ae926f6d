//! The request head parser: Python's `parse_request` and `http.client.parse_headers`, from bytes, without I/O.
//!
//! [`HeadParser`] is resumable: feed it the growing read buffer and it only looks at lines it has not seen yet,
//! so a head that trickles in byte by byte costs linear time.
//! Every line is bounded by [`MAX_LINE`] and the header count by [`MAX_HEADERS`], as in Python,
//! and the whole head by a total ([`MAX_HEAD_SIZE`] unless the parser is given another), which Python lacks.

use std::fmt;

use crate::headers::Headers;
use crate::text::python_repr;

/// The longest request or header line, terminator included (Python's `_MAXLINE`).
pub const MAX_LINE: usize = 65536;

/// The most header lines in one request (Python's `_MAXHEADERS`).
pub const MAX_HEADERS: usize = 100;

/// The default bound on a whole request head, request line and every header line included (nginx's total, 32 KiB).
///
/// Python bounds only each line and the line count, so 100 lines of 64 KiB (several MiB) are read before a refusal.
pub const MAX_HEAD_SIZE: usize = 32 * 1024;

/// Why a request head was refused; each variant maps to the status and message Python sends.
///
/// The messages that quote the request line (Python's `%r`) are rebuilt from it by [`ParseError::message`],
/// so the error stays a small `Copy` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// The request line holds no word at all; Python closes the connection without answering.
    EmptyRequestLine,
    /// The request line is longer than [`MAX_LINE`]: 414.
    UriTooLong,
    /// The version word is not `HTTP/<digits>.<digits>`: 400 `Bad request version ('...')`.
    BadRequestVersion,
    /// The version is 2.0 or newer: 505 `Invalid HTTP version (2.0)`.
    VersionNotSupported,
    /// The request line has not 2 or 3 words: 400 `Bad request syntax ('...')`.
    BadRequestSyntax,
    /// A two-word (HTTP/0.9) request whose method is not `GET`: 400 `Bad HTTP/0.9 request type ('...')`.
    BadHttp09RequestType,
    /// A header line is longer than [`MAX_LINE`]: 431 `Line too long`.
    LineTooLong,
    /// More than [`MAX_HEADERS`] header lines: 431 `Too many headers`.
    TooManyHeaders,
    /// A header line starting with whitespace (obsolete line folding): 400.
    ObsoleteLineFolding,
    /// Whitespace between a header name and its colon: 400.
    WhitespaceBeforeColon,
    /// A header line without a colon, or a name that is empty or not a token: 400.
    InvalidHeaderName,
    /// A CR or NUL byte inside a header value: 400.
    InvalidHeaderValue,
    /// Both `Content-Length` and `Transfer-Encoding`: 400.
    ContentLengthWithTransferEncoding,
    /// More than one `Content-Length` field: 400.
    MultipleContentLength,
    /// A `Content-Length` that is not a plain decimal number: 400.
    InvalidContentLength,
    /// A `Transfer-Encoding` other than exactly `chunked`: 501.
    UnsupportedTransferEncoding,
    /// The head passed its total limit ([`MAX_HEAD_SIZE`] by default) within the header lines: 431.
    /// A request line that alone passes it is [`ParseError::UriTooLong`].
    HeadTooLarge,
    /// The request-target holds a byte RFC 3986 does not allow in it (a control, space, `"`, `<`, `>`, `\`, `^`,
    /// a backtick, `{`, `|`, `}`, `#` or a non-ASCII byte), or is an absolute URI with an invalid authority: 400.
    InvalidRequestTarget,
    /// An HTTP/1.1 request without a `Host` field (RFC 9112 section 3.2): 400.
    MissingHost,
    /// More than one `Host` field: 400.
    SeveralHosts,
    /// A `Host` value that is not `host[:port]` (RFC 9112 section 3.2): 400.
    InvalidHost,
}

impl ParseError {
    /// The status code Python answers with (a silent close for [`ParseError::EmptyRequestLine`] is reported as 400).
    pub fn status(self) -> u16 {
        match self {
            ParseError::UriTooLong => 414,
            ParseError::VersionNotSupported => 505,
            ParseError::LineTooLong | ParseError::TooManyHeaders | ParseError::HeadTooLarge => 431,
            ParseError::UnsupportedTransferEncoding => 501,
            _ => 400,
        }
    }

    /// The message of the error response, given the request line as Python's `requestline` holds it.
    ///
    /// `None` means the status's own phrase, as Python's `send_error(code)` without a message.
    pub fn message(self, requestline: &str) -> Option<String> {
        let words = || requestline.split(' ').filter(|word| !word.is_empty());
        Some(match self {
            ParseError::EmptyRequestLine | ParseError::UriTooLong => return None,
            ParseError::BadRequestVersion => format!(
                "Bad request version ({})",
                python_repr(words().next_back().unwrap_or(""))
            ),
            ParseError::VersionNotSupported => {
                let version = words().next_back().unwrap_or("");
                let number = version.strip_prefix("HTTP/").unwrap_or(version);
                format!("Invalid HTTP version ({number})")
            }
            ParseError::BadRequestSyntax => {
                format!("Bad request syntax ({})", python_repr(requestline))
            }
            ParseError::BadHttp09RequestType => format!(
                "Bad HTTP/0.9 request type ({})",
                python_repr(words().next().unwrap_or(""))
            ),
            ParseError::LineTooLong => "Line too long".to_owned(),
            ParseError::TooManyHeaders => "Too many headers".to_owned(),
            ParseError::ObsoleteLineFolding => "Obsolete line folding in headers".to_owned(),
            ParseError::WhitespaceBeforeColon => {
                "Whitespace between header name and colon".to_owned()
            }
            ParseError::InvalidHeaderName => "Invalid header line".to_owned(),
            ParseError::InvalidHeaderValue => "Invalid character in header value".to_owned(),
            ParseError::ContentLengthWithTransferEncoding => {
                "Content-Length with Transfer-Encoding".to_owned()
            }
            ParseError::MultipleContentLength => "Several Content-Length headers".to_owned(),
            ParseError::InvalidContentLength => "Invalid Content-Length".to_owned(),
            ParseError::UnsupportedTransferEncoding => "Unsupported Transfer-Encoding".to_owned(),
            ParseError::HeadTooLarge => "Request header fields too large".to_owned(),
            ParseError::InvalidRequestTarget => "Bad request target".to_owned(),
            ParseError::MissingHost => "Missing Host header".to_owned(),
            ParseError::SeveralHosts => "Several Host headers".to_owned(),
            ParseError::InvalidHost => "Invalid Host header".to_owned(),
        })
    }

    /// The longer explanation Python passes to `send_error`, when it passes one.
    pub fn explain(self) -> Option<&'static str> {
        match self {
            ParseError::LineTooLong => Some("got more than 65536 bytes when reading header line"),
            ParseError::TooManyHeaders => Some("got more than 100 headers"),
            _ => None,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            ParseError::EmptyRequestLine => "empty request line",
            ParseError::UriTooLong => "request line too long",
            ParseError::BadRequestVersion => "bad request version",
            ParseError::VersionNotSupported => "http version not supported",
            ParseError::BadRequestSyntax => "bad request syntax",
            ParseError::BadHttp09RequestType => "bad http/0.9 request type",
            ParseError::LineTooLong => "header line too long",
            ParseError::TooManyHeaders => "too many headers",
            ParseError::ObsoleteLineFolding => "obsolete line folding in headers",
            ParseError::WhitespaceBeforeColon => "whitespace between header name and colon",
            ParseError::InvalidHeaderName => "invalid header line",
            ParseError::InvalidHeaderValue => "invalid character in header value",
            ParseError::ContentLengthWithTransferEncoding => {
                "content-length with transfer-encoding"
            }
            ParseError::MultipleContentLength => "several content-length headers",
            ParseError::InvalidContentLength => "invalid content-length",
            ParseError::UnsupportedTransferEncoding => "unsupported transfer-encoding",
            ParseError::HeadTooLarge => "request head too large",
            ParseError::InvalidRequestTarget => "invalid request target",
            ParseError::MissingHost => "missing host header",
            ParseError::SeveralHosts => "several host headers",
            ParseError::InvalidHost => "invalid host header",
        };
        formatter.write_str(text)
    }
}

impl std::error::Error for ParseError {}

/// A parsed request line: Python's `requestline`, `command`, `path` and `request_version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLine {
    requestline: String,
    command: (usize, usize),
    path: (usize, usize),
    /// What an absolute-form target adds; boxed, since it is rare and every head carries this value.
    absolute: Option<Box<AbsoluteForm>>,
    version: Option<(usize, usize)>,
    version_number: (u64, u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct AbsoluteForm {
    authority: (usize, usize),
    /// The origin-form path when it is not a slice of the line: the target's path was empty or a query (`/` added).
    origin_path: Option<Box<str>>,
}

impl RequestLine {
    /// The request line without its line ending, decoded as ISO-8859-1 (Python's `requestline`).
    pub fn requestline(&self) -> &str {
        &self.requestline
    }

    /// The method, case kept (Python's `command`).
    pub fn command(&self) -> &str {
        &self.requestline[self.command.0..self.command.1]
    }

    /// The request target, with a leading `//` reduced to `/` (Python's `path`).
    ///
    /// An absolute-form target (`http://host:port/a?b`, RFC 9112 section 3.2.2) gives its origin form (`/a?b`),
    /// and its authority is [`RequestLine::authority`].
    pub fn path(&self) -> &str {
        match self
            .absolute
            .as_ref()
            .and_then(|absolute| absolute.origin_path.as_deref())
        {
            Some(path) => path,
            None => &self.requestline[self.path.0..self.path.1],
        }
    }

    /// The authority (`host[:port]`) of an absolute-form request-target, which replaces the `Host` field.
    pub fn authority(&self) -> Option<&str> {
        let (start, end) = self.absolute.as_ref()?.authority;
        Some(&self.requestline[start..end])
    }

    /// The version word, `HTTP/0.9` for a two-word request (Python's `request_version`).
    pub fn request_version(&self) -> &str {
        match self.version {
            Some((start, end)) => &self.requestline[start..end],
            None => "HTTP/0.9",
        }
    }

    /// The version as (major, minor); (0, 9) for a two-word request.
    pub fn version_number(&self) -> (u64, u64) {
        self.version_number
    }

    /// The version, HTTP/0.9 for a two-word request.
    pub fn version(&self) -> crate::HttpVersion {
        let (major, minor) = self.version_number;
        crate::HttpVersion { major, minor }
    }

    /// Whether this is a two-word HTTP/0.9 request, answered without status line or headers.
    pub fn is_http_0_9(&self) -> bool {
        self.version.is_none()
    }

    /// Gives back the owned request line text.
    pub fn into_requestline(self) -> String {
        self.requestline
    }
}

/// Decodes a raw request line as Python does: ISO-8859-1, trailing CR and LF characters stripped.
pub fn decode_request_line(raw: &[u8]) -> String {
    let mut end = raw.len();
    while end > 0 && matches!(raw[end - 1], b'\r' | b'\n') {
        end -= 1;
    }
    latin1(&raw[..end])
}

/// Decodes ISO-8859-1 bytes, each byte one character.
pub(crate) fn latin1(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) if text.is_ascii() => text.to_owned(),
        _ => bytes.iter().map(|&byte| char::from(byte)).collect(),
    }
}

/// Parses one request line (its terminator may be present) as Python's newest `parse_request`.
///
/// Words are separated by runs of SP only, so a tab or U+00A0 inside a word stays in it.
pub fn parse_request_line(raw: &[u8]) -> Result<RequestLine, ParseError> {
    if raw.len() > MAX_LINE {
        return Err(ParseError::UriTooLong);
    }
    let requestline = decode_request_line(raw);
    let spans = split_request_line(requestline.as_bytes())?;
    Ok(RequestLine::from_spans(requestline, spans))
}

/// Where the words of a request line are, over its bytes without the line ending.
///
/// Splitting the ISO-8859-1 bytes or their UTF-8 decoding gives the same words, since only SP separates them,
/// so an ASCII line is split before any string is built.
#[derive(Debug, Clone, Copy)]
struct LineSpans {
    length: usize,
    command: (usize, usize),
    path: (usize, usize),
    /// The path of an absolute-form target lacks its leading `/` (it is empty or starts with `?`).
    path_needs_root: bool,
    authority: Option<(usize, usize)>,
    version: Option<(usize, usize)>,
    version_number: (u64, u64),
}

impl RequestLine {
    fn from_spans(requestline: String, spans: LineSpans) -> Self {
        let absolute = spans.authority.map(|authority| {
            let origin_path = spans
                .path_needs_root
                .then(|| format!("/{}", &requestline[spans.path.0..spans.path.1]).into_boxed_str());
            Box::new(AbsoluteForm {
                authority,
                origin_path,
            })
        });
        RequestLine {
            requestline,
            command: spans.command,
            path: spans.path,
            absolute,
            version: spans.version,
            version_number: spans.version_number,
        }
    }
}

/// The length of a raw line without its trailing CR and LF characters (Python's `rstrip('\r\n')`).
fn trimmed_length(raw: &[u8]) -> usize {
    let mut end = raw.len();
    while end > 0 && matches!(raw[end - 1], b'\r' | b'\n') {
        end -= 1;
    }
    end
}

fn split_request_line(bytes: &[u8]) -> Result<LineSpans, ParseError> {
    let mut words: [(usize, usize); 3] = [(0, 0); 3];
    let mut count = 0;
    let mut last = (0, 0);
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b' ' {
            index += 1;
            continue;
        }
        let start = index;
        index = memchr::memchr(b' ', &bytes[start..]).map_or(bytes.len(), |offset| start + offset);
        if count < 3 {
            words[count] = (start, index);
        }
        last = (start, index);
        count += 1;
    }
    if count == 0 {
        return Err(ParseError::EmptyRequestLine);
    }
    let mut version_number = (0, 9);
    let mut version = None;
    if count >= 3 {
        version_number = parse_version(&bytes[last.0..last.1])?;
        if version_number >= (2, 0) {
            return Err(ParseError::VersionNotSupported);
        }
        version = Some(last);
    }
    if !(2..=3).contains(&count) {
        return Err(ParseError::BadRequestSyntax);
    }
    let command = words[0];
    let mut path = words[1];
    if count == 2 && &bytes[command.0..command.1] != b"GET" {
        return Err(ParseError::BadHttp09RequestType);
    }
    // Checked after Python's own refusals, so their messages stay Python's.
    // A raw `#` would let two readers of the path (CGI routing, the file lookup) disagree on where it ends.
    if !bytes[path.0..path.1]
        .iter()
        .all(|&byte| TARGET[usize::from(byte)])
    {
        return Err(ParseError::InvalidRequestTarget);
    }
    let mut authority = None;
    let mut path_needs_root = false;
    if let Some(scheme) = absolute_form_scheme(&bytes[path.0..path.1]) {
        // RFC 9112 section 3.2.2: absolute-form is accepted, its path serves as the origin form and its authority as the host.
        let start = path.0 + scheme;
        let end = memchr::memchr2(b'/', b'?', &bytes[start..path.1])
            .map_or(path.1, |offset| start + offset);
        if !valid_authority(&bytes[start..end], true) {
            return Err(ParseError::InvalidRequestTarget);
        }
        authority = Some((start, end));
        path.0 = end;
        path_needs_root = bytes[path.0..path.1].first() != Some(&b'/');
    }
    // gh-87389: a path starting with `//` would read as a scheme-relative URL in a redirect.
    if bytes[path.0..path.1].starts_with(b"//") {
        while path.1 - path.0 > 1 && bytes[path.0 + 1] == b'/' {
            path.0 += 1;
        }
    }
    Ok(LineSpans {
        length: bytes.len(),
        command,
        path,
        path_needs_root,
        authority,
        version,
        version_number,
    })
}

/// The bytes RFC 3986 allows in a request-target: visible ASCII but `"`, `<`, `>`, `\`, `^`, a backtick, `{`, `|`, `}`,
/// and `#`, which starts a fragment that a request must not carry.
const TARGET: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0x21;
    while byte < 0x7f {
        table[byte] = !matches!(
            byte as u8,
            b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}' | b'#'
        );
        byte += 1;
    }
    table
};

/// The length of `http://` or `https://` (any case) when `target` starts with one: an absolute-form request-target.
fn absolute_form_scheme(target: &[u8]) -> Option<usize> {
    [&b"http://"[..], &b"https://"[..]]
        .into_iter()
        .find(|scheme| {
            target
                .get(..scheme.len())
                .is_some_and(|start| start.eq_ignore_ascii_case(scheme))
        })
        .map(<[u8]>::len)
}

/// RFC 3986's unreserved and sub-delims characters, which make up a reg-name with `%XX` escapes.
const HOST: [bool; 256] = {
    let mut table = [false; 256];
    let special = b"-._~!$&'()*+,;=";
    let mut index = 0;
    while index < 256 {
        table[index] = (index as u8).is_ascii_alphanumeric();
        index += 1;
    }
    let mut index = 0;
    while index < special.len() {
        table[special[index] as usize] = true;
        index += 1;
    }
    table
};

/// Whether `value` is `uri-host [ ":" port ]` (RFC 9112 section 3.2, RFC 3986 section 3.2.2); the host may be empty
/// (a `Host` field for a URI without authority) unless `host_required`, as in an `http` URI.
fn valid_authority(value: &[u8], host_required: bool) -> bool {
    let (host, port) = if value.first() == Some(&b'[') {
        // An IP literal: IPv6 or IPvFuture, whose characters are unreserved, sub-delims and `:`.
        let Some(close) = memchr::memchr(b']', value) else {
            return false;
        };
        let literal = &value[1..close];
        if literal.is_empty()
            || !literal
                .iter()
                .all(|&byte| byte == b':' || HOST[usize::from(byte)])
        {
            return false;
        }
        (&value[..=close], &value[close + 1..])
    } else {
        let colon = memchr::memchr(b':', value).unwrap_or(value.len());
        let host = &value[..colon];
        let mut index = 0;
        while index < host.len() {
            match host[index] {
                b'%' => {
                    let escape = host.get(index + 1..index + 3);
                    if !escape.is_some_and(|digits| digits.iter().all(u8::is_ascii_hexdigit)) {
                        return false;
                    }
                    index += 3;
                }
                byte if HOST[usize::from(byte)] => index += 1,
                _ => return false,
            }
        }
        (host, &value[colon..])
    };
    if host_required && host.is_empty() {
        return false;
    }
    match port.split_first() {
        None => true,
        Some((b':', digits)) => digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    }
}

/// Parses `HTTP/<major>.<minor>`, each part 1 to 10 ASCII digits.
fn parse_version(word: &[u8]) -> Result<(u64, u64), ParseError> {
    let number = word
        .strip_prefix(b"HTTP/")
        .ok_or(ParseError::BadRequestVersion)?;
    let dot = memchr::memchr(b'.', number).ok_or(ParseError::BadRequestVersion)?;
    let part = |digits: &[u8]| -> Result<u64, ParseError> {
        if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
            return Err(ParseError::BadRequestVersion);
        }
        Ok(digits
            .iter()
            .fold(0, |total, &digit| total * 10 + u64::from(digit - b'0')))
    };
    Ok((part(&number[..dot])?, part(&number[dot + 1..])?))
}

/// How the request body is framed, decided from the headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body: neither `Content-Length` nor `Transfer-Encoding`.
    None,
    /// Exactly this many bytes (`Content-Length`).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A complete request head.
#[derive(Debug, Clone)]
pub struct RequestHead {
    /// The request line.
    pub line: RequestLine,
    /// The header fields (empty for HTTP/0.9).
    pub headers: Headers,
    /// How the body that follows is framed.
    pub framing: BodyFraming,
    /// How many bytes of the buffer the head took, blank line included.
    pub length: usize,
}

/// The result of feeding bytes to a [`HeadParser`].
#[derive(Debug)]
pub enum Status {
    /// More bytes are needed.
    Partial,
    /// The head is complete.
    Complete(RequestHead),
}

const TOKEN: [bool; 256] = {
    let mut table = [false; 256];
    let special = b"!#$%&'*+-.^_`|~";
    let mut index = 0;
    while index < 256 {
        let byte = index as u8;
        table[index] = byte.is_ascii_alphanumeric();
        index += 1;
    }
    let mut index = 0;
    while index < special.len() {
        table[special[index] as usize] = true;
        index += 1;
    }
    table
};

#[derive(Debug, Clone, Copy)]
struct RawField {
    name: (usize, usize),
    value: (usize, usize),
}

/// A resumable request-head parser.
///
/// Call [`HeadParser::parse`] with the whole buffer read so far each time more bytes arrive;
/// it resumes after the last complete line it saw, and skips bytes already searched for a line end,
/// so a head that trickles in costs linear time.
///
/// One empty line before the request line is skipped (RFC 9112 section 2.2); a second one is an empty request line.
#[derive(Debug)]
pub struct HeadParser {
    position: usize,
    scanned: usize,
    /// Where the request line starts: after the empty line skipped before it, if any.
    line_start: usize,
    line: Option<PendingLine>,
    fields: Vec<RawField>,
    requestline: Option<String>,
    max_head_size: usize,
}

impl Default for HeadParser {
    fn default() -> Self {
        HeadParser::with_max_head_size(MAX_HEAD_SIZE)
    }
}

/// A request line read but not yet turned into a [`RequestLine`]: an ASCII line stays spans over the buffer
/// until the head completes, so parsing allocates nothing before then.
#[derive(Debug)]
enum PendingLine {
    Ascii(LineSpans),
    Decoded(RequestLine),
}

/// What one step of header parsing found.
enum Step {
    Field(RawField, usize),
    End(usize),
    Partial,
}

impl HeadParser {
    /// A parser at the start of a request, with the default total limit [`MAX_HEAD_SIZE`].
    pub fn new() -> Self {
        HeadParser::default()
    }

    /// A parser whose whole head, request line and header lines together, may be at most `max_head_size` bytes
    /// (see `Limits::max_head_size`); [`MAX_LINE`] and [`MAX_HEADERS`] still bound each line and the count.
    pub fn with_max_head_size(max_head_size: usize) -> Self {
        HeadParser {
            position: 0,
            scanned: 0,
            line_start: 0,
            line: None,
            fields: Vec::with_capacity(16),
            requestline: None,
            max_head_size,
        }
    }

    /// Sets the bound on the whole head for the next request (see [`HeadParser::with_max_head_size`]).
    pub(crate) fn set_max_head_size(&mut self, max_head_size: usize) {
        self.max_head_size = max_head_size;
    }

    /// Forgets the previous request, keeping allocations and the limit, to parse the next one on the connection.
    pub fn reset(&mut self) {
        self.position = 0;
        self.scanned = 0;
        self.line_start = 0;
        self.line = None;
        self.fields.clear();
        self.requestline = None;
    }

    /// The request line after an error (for logging and the error page, as Python's `requestline`),
    /// or once it has been decoded.
    pub fn requestline(&self) -> Option<&str> {
        match &self.line {
            Some(PendingLine::Decoded(line)) => Some(line.requestline()),
            _ => self.requestline.as_deref(),
        }
    }

    /// Builds the request line's text, once, from the buffer it was parsed in.
    fn take_line(&mut self, buffer: &[u8]) -> Option<RequestLine> {
        match self.line.take()? {
            PendingLine::Decoded(line) => Some(line),
            PendingLine::Ascii(spans) => Some(RequestLine::from_spans(
                latin1(&buffer[self.line_start..self.line_start + spans.length]),
                spans,
            )),
        }
    }

    /// Keeps the request line's text for [`HeadParser::requestline`] before reporting `error`.
    fn fail(&mut self, buffer: &[u8], error: ParseError) -> Result<Status, ParseError> {
        if let Some(line) = self.take_line(buffer) {
            self.requestline = Some(line.into_requestline());
        }
        Err(error)
    }

    /// Parses as much of `buffer` (everything read so far for this request) as possible.
    pub fn parse(&mut self, buffer: &[u8]) -> Result<Status, ParseError> {
        if self.no_new_line_end(buffer) {
            self.scanned = buffer.len();
            return self.partial(buffer);
        }
        if self.line.is_none() {
            let Some(mut end) = memchr::memchr(b'\n', &buffer[self.position..]) else {
                self.scanned = buffer.len();
                return self.partial(buffer);
            };
            end += self.position;
            if self.position == 0 && matches!(&buffer[..=end], b"\n" | b"\r\n") {
                // RFC 9112 section 2.2: one empty line before the request line is ignored (some clients send a CRLF after a body).
                self.position = end + 1;
                self.line_start = end + 1;
                return self.parse(buffer);
            }
            let raw = &buffer[self.line_start..=end];
            if raw.len() > MAX_LINE || end >= self.max_head_size {
                self.requestline = Some(String::new());
                return Err(ParseError::UriTooLong);
            }
            let trimmed = &raw[..trimmed_length(raw)];
            let line = if trimmed.is_ascii() {
                match split_request_line(trimmed) {
                    Ok(spans) => PendingLine::Ascii(spans),
                    Err(error) => {
                        self.requestline = Some(latin1(trimmed));
                        return Err(error);
                    }
                }
            } else {
                match parse_request_line(raw) {
                    Ok(line) => PendingLine::Decoded(line),
                    Err(error) => {
                        self.requestline = Some(decode_request_line(raw));
                        return Err(error);
                    }
                }
            };
            self.position = end + 1;
            let http_0_9 = match &line {
                PendingLine::Ascii(spans) => spans.version.is_none(),
                PendingLine::Decoded(line) => line.is_http_0_9(),
            };
            self.line = Some(line);
            if http_0_9 {
                let Some(line) = self.take_line(buffer) else {
                    return Ok(Status::Partial);
                };
                return Ok(Status::Complete(RequestHead {
                    line,
                    headers: Headers::new(),
                    framing: BodyFraming::None,
                    length: end + 1,
                }));
            }
        }
        loop {
            let step = match parse_field(buffer, self.position, self.fields.len()) {
                Ok(step) => step,
                Err(error) => return self.fail(buffer, error),
            };
            match step {
                Step::Field(_, next) | Step::End(next) if next > self.max_head_size => {
                    return self.fail(buffer, ParseError::HeadTooLarge);
                }
                Step::Field(field, next) => {
                    self.position = next;
                    self.fields.push(field);
                }
                Step::End(next) => {
                    self.position = next;
                    return self.finish(buffer);
                }
                Step::Partial => {
                    self.scanned = buffer.len();
                    return self.partial(buffer);
                }
            }
        }
    }

    /// Whether no line can have ended since the last call: nothing past where the last search stopped is an LF.
    /// Nothing can complete until a new line end arrives; checking that first keeps trickling input linear.
    fn no_new_line_end(&self, buffer: &[u8]) -> bool {
        self.scanned > self.position
            && memchr::memchr(b'\n', buffer.get(self.scanned..).unwrap_or(&[])).is_none()
    }

    /// Reports an incomplete head, or the line-length or head-size error once the unfinished line or head cannot fit.
    fn partial(&mut self, buffer: &[u8]) -> Result<Status, ParseError> {
        let line_too_long = buffer.len().saturating_sub(self.position) > MAX_LINE;
        if line_too_long || buffer.len() > self.max_head_size {
            if self.line.is_none() {
                self.requestline = Some(String::new());
                return Err(ParseError::UriTooLong);
            }
            if line_too_long {
                return self.fail(buffer, ParseError::LineTooLong);
            }
            return self.fail(buffer, ParseError::HeadTooLarge);
        }
        Ok(Status::Partial)
    }

    fn finish(&mut self, buffer: &[u8]) -> Result<Status, ParseError> {
        // The header lines, from the first field (the blank line alone when there is none).
        let headers_start = self
            .fields
            .first()
            .map_or(self.position, |field| field.name.0);
        let block = &buffer[headers_start..self.position];
        let headers = match std::str::from_utf8(block) {
            Ok(text) if text.is_ascii() => {
                let base = headers_start;
                Headers::from_spans(
                    text.to_owned(),
                    self.fields.iter().map(|field| {
                        (
                            (field.name.0 - base, field.name.1 - base),
                            (field.value.0 - base, field.value.1 - base),
                        )
                    }),
                )
            }
            _ => {
                let mut headers = Headers::with_capacity(block.len() * 2, self.fields.len());
                for field in &self.fields {
                    let name = &buffer[field.name.0..field.name.1];
                    let value = &buffer[field.value.0..field.value.1];
                    headers.push_raw(name, value, false);
                }
                headers
            }
        };
        let framing = match raw_framing(buffer, &self.fields) {
            Ok(framing) => framing,
            Err(error) => return self.fail(buffer, error),
        };
        let version = match &self.line {
            Some(PendingLine::Ascii(spans)) => spans.version_number,
            Some(PendingLine::Decoded(line)) => line.version_number(),
            None => return Ok(Status::Partial),
        };
        if let Err(error) = check_host(buffer, &self.fields, version) {
            return self.fail(buffer, error);
        }
        let Some(line) = self.take_line(buffer) else {
            return Ok(Status::Partial);
        };
        let mut headers = headers;
        if let Some(authority) = line.authority() {
            // RFC 9112 section 3.2.2: the target's authority replaces whatever Host says, so hooks see one host.
            headers.replace("Host", authority);
        }
        Ok(Status::Complete(RequestHead {
            line,
            headers,
            framing,
            length: self.position,
        }))
    }
}

/// Refuses what RFC 9112 section 3.2 asks a server to refuse: no `Host` in an HTTP/1.1 request, several `Host` fields,
/// or a value that is not `host[:port]` (an empty one is allowed, for a URI without authority).
fn check_host(buffer: &[u8], fields: &[RawField], version: (u64, u64)) -> Result<(), ParseError> {
    let mut host = None;
    for field in fields {
        if buffer[field.name.0..field.name.1].eq_ignore_ascii_case(b"host") {
            if host.is_some() {
                return Err(ParseError::SeveralHosts);
            }
            host = Some(&buffer[field.value.0..field.value.1]);
        }
    }
    match host {
        None if version >= (1, 1) => Err(ParseError::MissingHost),
        Some(value) if !valid_authority(value, false) => Err(ParseError::InvalidHost),
        _ => Ok(()),
    }
}

/// How many bytes at the start of `bytes` are token characters, eight at a time with one branch per eight.
fn token_length(bytes: &[u8]) -> usize {
    let mut length = 0;
    for chunk in bytes.chunks_exact(8) {
        let all = TOKEN[chunk[0] as usize]
            & TOKEN[chunk[1] as usize]
            & TOKEN[chunk[2] as usize]
            & TOKEN[chunk[3] as usize]
            & TOKEN[chunk[4] as usize]
            & TOKEN[chunk[5] as usize]
            & TOKEN[chunk[6] as usize]
            & TOKEN[chunk[7] as usize];
        if !all {
            break;
        }
        length += 8;
    }
    bytes[length..]
        .iter()
        .position(|&byte| !TOKEN[byte as usize])
        .map_or(bytes.len(), |offset| length + offset)
}

/// Parses the header line starting at `start`: a field, the blank line ending the head, or not enough bytes yet.
fn parse_field(buffer: &[u8], start: usize, count: usize) -> Result<Step, ParseError> {
    let line_too_long = |end: usize| end - start > MAX_LINE;
    let index = start + token_length(buffer.get(start..).unwrap_or(&[]));
    let Some(&stop) = buffer.get(index) else {
        return Ok(Step::Partial);
    };
    if index == start {
        match stop {
            b'\n' => return Ok(Step::End(index + 1)),
            b'\r' => {
                return match buffer.get(index + 1) {
                    Some(b'\n') => Ok(Step::End(index + 2)),
                    Some(_) => Err(ParseError::InvalidHeaderName),
                    None => Ok(Step::Partial),
                }
            }
            _ => {}
        }
    }
    if count >= MAX_HEADERS {
        return Err(ParseError::TooManyHeaders);
    }
    match stop {
        b':' if index > start => {}
        b' ' | b'\t' if index == start => return Err(ParseError::ObsoleteLineFolding),
        b' ' | b'\t' => {
            let mut after = index;
            while after < buffer.len() && matches!(buffer[after], b' ' | b'\t') {
                after += 1;
            }
            return match buffer.get(after) {
                Some(b':') => Err(ParseError::WhitespaceBeforeColon),
                Some(_) => Err(ParseError::InvalidHeaderName),
                None => Ok(Step::Partial),
            };
        }
        _ => return Err(ParseError::InvalidHeaderName),
    }
    let name = (start, index);
    let mut value_start = index + 1;
    while value_start < buffer.len() && matches!(buffer[value_start], b' ' | b'\t') {
        value_start += 1;
    }
    // One vector search finds the line end and any CR or NUL inside the value.
    let Some(found) = memchr::memchr3(b'\n', b'\r', 0, &buffer[value_start..]) else {
        return Ok(Step::Partial);
    };
    let mut value_end = value_start + found;
    let next = match buffer[value_end] {
        b'\n' => value_end + 1,
        b'\r' => match buffer.get(value_end + 1) {
            Some(b'\n') => value_end + 2,
            Some(_) => return Err(ParseError::InvalidHeaderValue),
            None => return Ok(Step::Partial),
        },
        _ => return Err(ParseError::InvalidHeaderValue),
    };
    if line_too_long(next) {
        return Err(ParseError::LineTooLong);
    }
    while value_end > value_start && matches!(buffer[value_end - 1], b' ' | b'\t') {
        value_end -= 1;
    }
    Ok(Step::Field(
        RawField {
            name,
            value: (value_start, value_end),
        },
        next,
    ))
}

/// Decides the body framing from the parser's raw field spans, before any text is built, and refuses the request-smuggling shapes.
fn raw_framing(buffer: &[u8], fields: &[RawField]) -> Result<BodyFraming, ParseError> {
    let mut content_length = None;
    let mut transfer_encoding: Option<&[u8]> = None;
    let mut several_encodings = false;
    for field in fields {
        let name = &buffer[field.name.0..field.name.1];
        if name.len() != 14 && name.len() != 17 {
            continue;
        }
        let value = &buffer[field.value.0..field.value.1];
        if name.eq_ignore_ascii_case(b"content-length") {
            if content_length.is_some() {
                return Err(ParseError::MultipleContentLength);
            }
            content_length = Some(parse_content_length_bytes(value)?);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            several_encodings |= transfer_encoding.is_some();
            transfer_encoding = Some(value);
        }
    }
    match (content_length, transfer_encoding) {
        (Some(_), Some(_)) => Err(ParseError::ContentLengthWithTransferEncoding),
        (None, Some(encoding)) => {
            if !several_encodings && encoding.eq_ignore_ascii_case(b"chunked") {
                Ok(BodyFraming::Chunked)
            } else {
                Err(ParseError::UnsupportedTransferEncoding)
            }
        }
        (Some(length), None) => Ok(BodyFraming::Length(length)),
        (None, None) => Ok(BodyFraming::None),
    }
}

/// Parses a `Content-Length` value: one or more ASCII digits, nothing else, no overflow.
fn parse_content_length_bytes(value: &[u8]) -> Result<u64, ParseError> {
    if value.is_empty() || !value.iter().all(|byte| byte.is_ascii_digit()) {
        return Err(ParseError::InvalidContentLength);
    }
    value.iter().try_fold(0u64, |total, &byte| {
        total
            .checked_mul(10)
            .and_then(|total| total.checked_add(u64::from(byte - b'0')))
            .ok_or(ParseError::InvalidContentLength)
    })
}

/// Parses a whole head in one call; `Ok(None)` means the bytes end before the head does.
pub fn parse_head(buffer: &[u8]) -> Result<Option<RequestHead>, ParseError> {
    match HeadParser::new().parse(buffer)? {
        Status::Partial => Ok(None),
        Status::Complete(head) => Ok(Some(head)),
    }
}

#[cfg(test)]
mod tests;
