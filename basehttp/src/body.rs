//! Request-body readers: bounded by `Content-Length`, or decoding `Transfer-Encoding: chunked`.
//!
//! Python's base handler hands the raw socket file to the hooks and never frames the body;
//! here `rfile` stops at the end of the body, so an unread rest can be drained before the next request.

use std::fmt;
use std::io::{self, BufRead, Read};

use crate::headers::Headers;
use crate::parse::{BodyFraming, MAX_HEADERS, MAX_LINE};

/// The longest chunk-size line, extensions included.
pub const MAX_CHUNK_LINE: usize = 4096;

/// Why a chunk-size line was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChunkSizeError {
    /// The line does not start with a hexadecimal digit, or holds something else than `;extensions` after the size.
    Invalid,
    /// The size does not fit in 64 bits.
    Overflow,
}

/// Parses a chunk-size line (line ending removed): hexadecimal digits, then chunk extensions, which are checked and ignored.
///
/// Signs, `0x`, underscores and leading blanks are refused, unlike Python's lenient `int(x, 16)`.
/// Extensions follow RFC 9112 section 7.1.1 strictly (`;name`, `;name=token` or `;name="quoted"`, blanks around `;` and `=`),
/// so a bare CR, a NUL or another byte outside that grammar is refused: a proxy in front may read such a line differently.
/// Blanks at the end of the line are tolerated.
pub fn parse_chunk_size(line: &[u8]) -> Result<u64, ChunkSizeError> {
    let digits = line
        .iter()
        .take_while(|byte| byte.is_ascii_hexdigit())
        .count();
    if digits == 0 || !valid_chunk_extensions(&line[digits..]) {
        return Err(ChunkSizeError::Invalid);
    }
    let mut size: u64 = 0;
    for &byte in &line[..digits] {
        let digit = match byte {
            b'0'..=b'9' => byte - b'0',
            b'a'..=b'f' => byte - b'a' + 10,
            _ => byte - b'A' + 10,
        };
        size = size
            .checked_mul(16)
            .and_then(|size| size.checked_add(u64::from(digit)))
            .ok_or(ChunkSizeError::Overflow)?;
    }
    Ok(size)
}

/// Whether `rest` is `*( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] )` then optional blanks.
fn valid_chunk_extensions(mut rest: &[u8]) -> bool {
    let skip_blanks = |bytes: &[u8]| -> usize {
        bytes
            .iter()
            .take_while(|byte| matches!(byte, b' ' | b'\t'))
            .count()
    };
    loop {
        rest = &rest[skip_blanks(rest)..];
        match rest.split_first() {
            None => return true,
            Some((b';', after)) => rest = after,
            Some(_) => return false,
        }
        rest = &rest[skip_blanks(rest)..];
        let name = token_length(rest);
        if name == 0 {
            return false;
        }
        rest = &rest[name..];
        let blanks = skip_blanks(rest);
        if rest.get(blanks) != Some(&b'=') {
            continue;
        }
        rest = &rest[blanks + 1..];
        rest = &rest[skip_blanks(rest)..];
        let value = match rest.first() {
            Some(b'"') => quoted_string_length(rest),
            _ => Some(token_length(rest)).filter(|&length| length > 0),
        };
        let Some(value) = value else {
            return false;
        };
        rest = &rest[value..];
    }
}

/// How many bytes at the start of `bytes` are RFC 9110 token characters.
fn token_length(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .take_while(|&&byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte))
        .count()
}

/// The length of the quoted-string (RFC 9110 section 5.6.4) that `bytes` starts with, or `None` when it is not one:
/// unclosed, or holding a control other than a tab (a bare CR, a NUL, DEL).
fn quoted_string_length(bytes: &[u8]) -> Option<usize> {
    let text_byte = |byte: u8| byte == b'\t' || (byte >= b' ' && byte != 0x7f);
    let mut index = 1;
    loop {
        match *bytes.get(index)? {
            b'"' => return Some(index + 1),
            b'\\' => {
                let escaped = *bytes.get(index + 1)?;
                if !text_byte(escaped) {
                    return None;
                }
                index += 2;
            }
            byte if text_byte(byte) => index += 1,
            _ => return None,
        }
    }
}

/// The error a body read gives once the body passes `Limits::max_body_size`: the [`io::Error`]'s kind is
/// [`io::ErrorKind::FileTooLarge`] and its inner error this value, found with [`BodyTooLarge::in_error`].
///
/// The connection loop answers it with 413 Content Too Large when the response has not started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyTooLarge {
    /// The limit the body passed.
    pub limit: u64,
}

impl BodyTooLarge {
    /// The [`BodyTooLarge`] inside `error`, if that is what it is.
    pub fn in_error(error: &io::Error) -> Option<&BodyTooLarge> {
        error.get_ref()?.downcast_ref()
    }

    fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::FileTooLarge, self)
    }
}

impl fmt::Display for BodyTooLarge {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "request body larger than {} bytes", self.limit)
    }
}

impl std::error::Error for BodyTooLarge {}

fn invalid(message: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

fn truncated() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "connection closed inside the request body",
    )
}

/// A reset inside the body cuts it as surely as a close does: both are [`io::ErrorKind::UnexpectedEof`],
/// which the connection loop logs as a bad request body, where a bare reset would pass as an ordinary disconnect, unlogged.
fn cut_by(error: io::Error) -> io::Error {
    match error.kind() {
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection reset inside the request body",
        ),
        _ => error,
    }
}

/// Reads one line of at most `limit` bytes into `line` (cleared first), without its LF and one CR before it.
fn read_line_bounded<R: BufRead>(
    reader: &mut R,
    line: &mut Vec<u8>,
    limit: usize,
) -> io::Result<()> {
    line.clear();
    loop {
        let available = reader.fill_buf().map_err(cut_by)?;
        if available.is_empty() {
            return Err(truncated());
        }
        let (taken, done) = match memchr::memchr(b'\n', available) {
            Some(index) => (index + 1, true),
            None => (available.len(), false),
        };
        if line.len() + taken > limit {
            return Err(invalid("line too long in chunked body"));
        }
        line.extend_from_slice(&available[..taken]);
        reader.consume(taken);
        if done {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(());
        }
    }
}

/// Writes `data` as one chunk of a `Transfer-Encoding: chunked` body (RFC 9112 section 7.1): its size in hexadecimal,
/// CRLF, the bytes, CRLF. Nothing is written for empty data, which would end the body; [`write_last_chunk`] does that.
///
/// # Errors
///
/// The writer's error.
pub fn write_chunk<W: io::Write + ?Sized>(writer: &mut W, data: &[u8]) -> io::Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    write!(writer, "{:x}\r\n", data.len())?;
    writer.write_all(data)?;
    writer.write_all(b"\r\n")
}

/// Ends a chunked body: the last chunk and the empty trailer section (`0` CRLF CRLF).
///
/// # Errors
///
/// The writer's error.
pub fn write_last_chunk<W: io::Write + ?Sized>(writer: &mut W) -> io::Result<()> {
    writer.write_all(b"0\r\n\r\n")
}

/// A reader that yields exactly `length` bytes of the inner reader, then end of file.
///
/// The connection closing early is an `UnexpectedEof` error rather than a silent short body.
#[derive(Debug)]
pub struct LengthReader<R> {
    inner: R,
    remaining: u64,
    /// Set when the declared length passes the body limit: every read fails before taking a byte.
    refused: Option<BodyTooLarge>,
}

impl<R: BufRead> LengthReader<R> {
    /// Reads `length` bytes from `inner`.
    pub fn new(inner: R, length: u64) -> Self {
        LengthReader {
            inner,
            remaining: length,
            refused: None,
        }
    }

    /// Reads `length` bytes from `inner`, or, when `length` is over `limit`, refuses every read with [`BodyTooLarge`]
    /// without reading anything.
    pub fn with_limit(inner: R, length: u64, limit: Option<u64>) -> Self {
        LengthReader {
            inner,
            remaining: length,
            refused: limit
                .filter(|&limit| length > limit)
                .map(|limit| BodyTooLarge { limit }),
        }
    }

    /// How many body bytes are still unread.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }
}

impl<R: BufRead> Read for LengthReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let count = available.len().min(buffer.len());
        buffer[..count].copy_from_slice(&available[..count]);
        self.consume(count);
        Ok(count)
    }
}

/// The inner reader's buffered bytes, cut to the `remaining` bytes the body still owns; an early end of stream is an error.
fn window<R: BufRead>(inner: &mut R, remaining: u64) -> io::Result<&[u8]> {
    let available = inner.fill_buf().map_err(cut_by)?;
    if available.is_empty() {
        return Err(truncated());
    }
    let count = usize::try_from(remaining)
        .map_or(available.len(), |remaining| remaining.min(available.len()));
    Ok(&available[..count])
}

/// Consumes `amount` bytes of the body, never more than it still owns, so the next message's bytes stay in the buffer.
fn consume_within<R: BufRead>(inner: &mut R, remaining: &mut u64, amount: usize) {
    let amount = u64::try_from(amount).unwrap_or(u64::MAX).min(*remaining);
    *remaining -= amount;
    inner.consume(amount as usize);
}

impl<R: BufRead> BufRead for LengthReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if let Some(refused) = self.refused {
            return Err(refused.into_io());
        }
        if self.remaining == 0 {
            return Ok(&[]);
        }
        window(&mut self.inner, self.remaining)
    }

    fn consume(&mut self, amount: usize) {
        consume_within(&mut self.inner, &mut self.remaining, amount);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    Size,
    Data,
    DataEnd,
    Trailers,
    Done,
}

/// A reader decoding `Transfer-Encoding: chunked` from the inner reader.
///
/// Chunk extensions are ignored; trailer fields are kept (at most [`MAX_HEADERS`] lines of [`MAX_LINE`] bytes)
/// and available from [`ChunkedReader::trailers`] once the body is read.
#[derive(Debug)]
pub struct ChunkedReader<R> {
    inner: R,
    state: ChunkState,
    remaining: u64,
    line: Vec<u8>,
    trailers: Headers,
    /// The sum of the chunk sizes declared so far, and the most it may reach.
    declared: u64,
    limit: Option<u64>,
}

impl<R: BufRead> ChunkedReader<R> {
    /// Decodes a chunked body from `inner`.
    pub fn new(inner: R) -> Self {
        ChunkedReader::with_limit(inner, None)
    }

    /// Decodes a chunked body of at most `limit` bytes from `inner`: a chunk whose declared size takes the total past it
    /// is refused with [`BodyTooLarge`] before any of its data is read.
    pub fn with_limit(inner: R, limit: Option<u64>) -> Self {
        ChunkedReader {
            inner,
            state: ChunkState::Size,
            remaining: 0,
            line: Vec::new(),
            trailers: Headers::new(),
            declared: 0,
            limit,
        }
    }

    /// The trailer fields received after the last chunk.
    pub fn trailers(&self) -> &Headers {
        &self.trailers
    }

    /// Whether the whole body, trailers included, has been read.
    pub fn is_done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Moves through sizes, chunk ends and trailers until data is ready or the body is done.
    fn advance(&mut self) -> io::Result<()> {
        loop {
            match self.state {
                ChunkState::Data if self.remaining > 0 => return Ok(()),
                ChunkState::Done => return Ok(()),
                ChunkState::Data => self.state = ChunkState::DataEnd,
                ChunkState::Size => {
                    read_line_bounded(&mut self.inner, &mut self.line, MAX_CHUNK_LINE)?;
                    let size = parse_chunk_size(&self.line).map_err(|error| match error {
                        ChunkSizeError::Overflow => invalid("chunk size too large"),
                        _ => invalid("invalid chunk size"),
                    })?;
                    self.declared = self.declared.saturating_add(size);
                    if let Some(limit) = self.limit.filter(|&limit| self.declared > limit) {
                        return Err(BodyTooLarge { limit }.into_io());
                    }
                    if size == 0 {
                        self.state = ChunkState::Trailers;
                    } else {
                        self.remaining = size;
                        self.state = ChunkState::Data;
                    }
                }
                ChunkState::DataEnd => {
                    read_line_bounded(&mut self.inner, &mut self.line, 2)?;
                    if !self.line.is_empty() {
                        return Err(invalid("missing CRLF after chunk data"));
                    }
                    self.state = ChunkState::Size;
                }
                ChunkState::Trailers => {
                    read_line_bounded(&mut self.inner, &mut self.line, MAX_LINE)?;
                    if self.line.is_empty() {
                        self.state = ChunkState::Done;
                        continue;
                    }
                    if self.trailers.len() >= MAX_HEADERS {
                        return Err(invalid("too many trailer fields"));
                    }
                    // The head's rules: a token name right before the colon, no CR or NUL in the value.
                    let line = &self.line;
                    let name_length = token_length(line);
                    if name_length == 0
                        || line.get(name_length) != Some(&b':')
                        || line.contains(&b'\r')
                        || line.contains(&0)
                    {
                        return Err(invalid("invalid trailer field"));
                    }
                    let colon = name_length;
                    let name = &line[..colon];
                    let value = line[colon + 1..].trim_ascii();
                    self.trailers.push_raw(name, value, false);
                }
            }
        }
    }
}

impl<R: BufRead> Read for ChunkedReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let count = available.len().min(buffer.len());
        buffer[..count].copy_from_slice(&available[..count]);
        self.consume(count);
        Ok(count)
    }
}

impl<R: BufRead> BufRead for ChunkedReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.advance()?;
        if self.state == ChunkState::Done {
            return Ok(&[]);
        }
        window(&mut self.inner, self.remaining)
    }

    fn consume(&mut self, amount: usize) {
        consume_within(&mut self.inner, &mut self.remaining, amount);
    }
}

/// A request body as its framing says: empty, `Content-Length` bytes, or chunked (Python's `rfile`, bounded).
#[derive(Debug)]
pub enum Body<R> {
    /// No body.
    Empty,
    /// A `Content-Length` body.
    Length(LengthReader<R>),
    /// A chunked body.
    Chunked(ChunkedReader<R>),
}

impl<R: BufRead> Body<R> {
    /// The body reader for `framing` over `inner`.
    pub fn new(inner: R, framing: BodyFraming) -> Self {
        Body::with_limit(inner, framing, None)
    }

    /// The body reader for `framing` over `inner`, refusing a body over `limit` bytes with [`BodyTooLarge`]
    /// (`Limits::max_body_size`): a longer `Content-Length` before anything is read, a chunked body at the first chunk
    /// whose declared size passes it.
    pub fn with_limit(inner: R, framing: BodyFraming, limit: Option<u64>) -> Self {
        match framing {
            BodyFraming::None => Body::Empty,
            BodyFraming::Length(0) => Body::Empty,
            BodyFraming::Length(length) => {
                Body::Length(LengthReader::with_limit(inner, length, limit))
            }
            BodyFraming::Chunked => Body::Chunked(ChunkedReader::with_limit(inner, limit)),
        }
    }

    /// Fails with [`BodyTooLarge`] when the declared `Content-Length` is over the limit, without reading:
    /// the connection loop calls it before `Expect: 100-continue` and the hook, so such a body is refused with 413 at once.
    pub fn check_declared_length(&self) -> io::Result<()> {
        match self {
            Body::Length(LengthReader {
                refused: Some(refused),
                ..
            }) => Err(refused.into_io()),
            _ => Ok(()),
        }
    }

    /// Whether every byte of the body has been read.
    pub fn is_done(&self) -> bool {
        match self {
            Body::Empty => true,
            Body::Length(reader) => reader.remaining() == 0,
            Body::Chunked(reader) => reader.is_done(),
        }
    }

    /// The trailer fields of a chunked body (empty otherwise, or before the body is read).
    pub fn trailers(&self) -> Option<&Headers> {
        match self {
            Body::Chunked(reader) => Some(reader.trailers()),
            _ => None,
        }
    }

    /// Reads the rest of the body into a new vector: Python's `self.rfile.read(int(self.headers["Content-Length"]))`,
    /// for chunked bodies too. Room grows with what arrives, not with what the client declares. Like Python, it holds
    /// the whole body in memory: set [`Limits::max_body_size`](crate::Limits::max_body_size) (no limit by default) to bound it.
    pub fn read_all(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        self.read_to_end(&mut body)?;
        Ok(body)
    }

    /// Reads and discards the rest of the body, at most `limit` bytes; returns whether the body is now done.
    pub fn drain(&mut self, limit: u64) -> io::Result<bool> {
        let mut drained: u64 = 0;
        while !self.is_done() {
            let available = self.fill_buf()?.len();
            if available == 0 {
                break;
            }
            if drained + available as u64 > limit {
                return Ok(false);
            }
            drained += available as u64;
            self.consume(available);
        }
        Ok(true)
    }
}

impl<R: BufRead> Read for Body<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        match self {
            Body::Empty => Ok(0),
            Body::Length(reader) => reader.read(buffer),
            Body::Chunked(reader) => reader.read(buffer),
        }
    }
}

impl<R: BufRead> BufRead for Body<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        match self {
            Body::Empty => Ok(&[]),
            Body::Length(reader) => reader.fill_buf(),
            Body::Chunked(reader) => reader.fill_buf(),
        }
    }

    fn consume(&mut self, amount: usize) {
        match self {
            Body::Empty => {}
            Body::Length(reader) => reader.consume(amount),
            Body::Chunked(reader) => reader.consume(amount),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `input` (LF written as CRLF) as a chunked body; returns the body or the error text.
    fn check(input: &str, expected: Result<&str, &str>) {
        let wire = input.replace('\n', "\r\n");
        let mut reader = ChunkedReader::new(wire.as_bytes());
        let mut body = Vec::new();
        let result = reader
            .read_to_end(&mut body)
            .map(|_| String::from_utf8_lossy(&body).into_owned());
        match (result, expected) {
            (Ok(body), Ok(expected)) => assert_eq!(body, expected, "input {input:?}"),
            (Err(error), Err(expected)) => {
                assert_eq!(error.to_string(), expected, "input {input:?}")
            }
            (result, expected) => panic!("input {input:?}: got {result:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn written_chunks_decode_to_the_same_bytes() {
        let mut body = Vec::new();
        for part in [&b"hello "[..], b"", b"world", &[b'x'; 300]] {
            write_chunk(&mut body, part).unwrap();
        }
        write_last_chunk(&mut body).unwrap();
        assert!(body.starts_with(b"6\r\nhello \r\n5\r\nworld\r\n12c\r\n"));
        assert!(body.ends_with(b"\r\n0\r\n\r\n"));
        let mut decoded = Vec::new();
        let mut reader = Body::new(&body[..], BodyFraming::Chunked);
        reader.read_to_end(&mut decoded).unwrap();
        let mut expected = b"hello world".to_vec();
        expected.extend_from_slice(&[b'x'; 300]);
        assert_eq!(decoded, expected);
        assert!(reader.is_done());
    }

    #[test]
    fn read_all_returns_the_whole_body_of_each_framing() {
        let wire = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nNEXT";
        let mut chunked = Body::new(&wire[..], BodyFraming::Chunked);
        assert_eq!(chunked.read_all().unwrap(), b"hello world");
        let mut length = Body::new(&b"hello worldNEXT"[..], BodyFraming::Length(11));
        assert_eq!(length.read_all().unwrap(), b"hello world");
        assert!(length.is_done());
        let mut empty = Body::new(&b"NEXT"[..], BodyFraming::None);
        assert_eq!(empty.read_all().unwrap(), b"");
        let mut short = Body::new(&b"hel"[..], BodyFraming::Length(5));
        assert!(
            short.read_all().is_err(),
            "a body cut short is an error, not a short body"
        );
    }

    #[test]
    fn chunked_bodies_decode() {
        check("5\nhello\n0\n\n", Ok("hello"));
        check("5\nhello\n6\n world\n0\n\n", Ok("hello world"));
        check("5;name=value\nhello\n0;last\n\n", Ok("hello"));
        check("A\n0123456789\n0\n\n", Ok("0123456789"));
        check("a \nabcdefghij\n0\n\n", Ok("abcdefghij"));
        check("0\n\n", Ok(""));
        check("0000000000000000000003\nabc\n0\n\n", Ok("abc"));
    }

    #[test]
    fn chunked_bodies_refuse_lenient_sizes() {
        check("0x5\nhello\n0\n\n", Err("invalid chunk size"));
        check("+5\nhello\n0\n\n", Err("invalid chunk size"));
        check(" 5\nhello\n0\n\n", Err("invalid chunk size"));
        check("5_0\nhello\n0\n\n", Err("invalid chunk size"));
        check("\nhello\n0\n\n", Err("invalid chunk size"));
        check("g\nhello\n0\n\n", Err("invalid chunk size"));
        check("10000000000000000\nx\n0\n\n", Err("chunk size too large"));
        check("5\nhelloX\n0\n\n", Err("line too long in chunked body"));
        check("5\nhel", Err("connection closed inside the request body"));
        check(
            "5\nhello\n0\n",
            Err("connection closed inside the request body"),
        );
    }

    #[test]
    fn chunked_trailers_are_kept_and_bounded() {
        let wire = "3\r\nabc\r\n0\r\nChecksum: 42\r\nX-Other:  y \r\n\r\n";
        let mut reader = ChunkedReader::new(wire.as_bytes());
        let mut body = String::new();
        reader.read_to_string(&mut body).unwrap();
        assert_eq!(body, "abc");
        assert_eq!(reader.trailers().get("checksum"), Some("42"));
        assert_eq!(reader.trailers().get("x-other"), Some("y"));
        check("0\nbad trailer\n\n", Err("invalid trailer field"));
        for bad in [
            &b"0\r\n: empty name\r\n\r\n"[..],
            b"0\r\nBad@Name: v\r\n\r\n",
            b"0\r\nSpace : v\r\n\r\n",
            b"0\r\n Folded: v\r\n\r\n",
            b"0\r\nName: a\rb\r\n\r\n",
            b"0\r\nName\r: v\r\n\r\n",
            b"0\r\nName: a\0b\r\n\r\n",
            b"0\r\nNa\0me: v\r\n\r\n",
            b"0\r\nName\xe9: v\r\n\r\n",
        ] {
            let error = ChunkedReader::new(bad)
                .read_to_end(&mut Vec::new())
                .unwrap_err();
            assert_eq!(
                error.to_string(),
                "invalid trailer field",
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let mut reader = ChunkedReader::new(&b"0\r\nX-Caf\xe9!#: caf\xe9 \r\nT:\r\n\r\n"[..]);
        reader.read_to_end(&mut Vec::new()).unwrap_err();
        let mut reader = ChunkedReader::new(&b"0\r\nX-A!#: caf\xe9 \r\nT:\r\n\r\n"[..]);
        reader.read_to_end(&mut Vec::new()).unwrap();
        assert_eq!(reader.trailers().get("x-a!#"), Some("caf\u{e9}"));
        assert_eq!(reader.trailers().get("t"), Some(""));
        let many = format!("0\n{}\n", "T: v\n".repeat(MAX_HEADERS + 1));
        check(&many, Err("too many trailer fields"));
    }

    #[test]
    fn a_chunked_body_gives_its_trailers_and_others_none() {
        let wire = b"1\r\na\r\n0\r\nChecksum: 42\r\n\r\n";
        let mut body = Body::new(&wire[..], BodyFraming::Chunked);
        assert_eq!(body.trailers().map(Headers::len), Some(0));
        body.read_to_end(&mut Vec::new()).unwrap();
        assert_eq!(
            body.trailers()
                .and_then(|trailers| trailers.get("checksum")),
            Some("42")
        );
        let body = Body::new(&b"abc"[..], BodyFraming::Length(3));
        assert!(body.trailers().is_none());
        assert!(Body::new(&b""[..], BodyFraming::None).trailers().is_none());
    }

    #[test]
    fn chunked_reader_stops_at_the_end_of_the_body() {
        let wire = b"2\r\nab\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
        let mut inner: &[u8] = wire;
        let mut reader = ChunkedReader::new(&mut inner);
        let mut body = Vec::new();
        reader.read_to_end(&mut body).unwrap();
        assert_eq!(body, b"ab");
        assert_eq!(inner, b"GET / HTTP/1.1\r\n");
    }

    #[test]
    fn chunk_sizes_parse_strictly() {
        assert_eq!(parse_chunk_size(b"ff"), Ok(255));
        assert_eq!(parse_chunk_size(b"FF ; ext"), Ok(255));
        assert_eq!(parse_chunk_size(b"ffffffffffffffff"), Ok(u64::MAX));
        assert_eq!(
            parse_chunk_size(b"1ffffffffffffffff"),
            Err(ChunkSizeError::Overflow)
        );
        assert_eq!(parse_chunk_size(b"-1"), Err(ChunkSizeError::Invalid));
        assert_eq!(parse_chunk_size(b"1 2"), Err(ChunkSizeError::Invalid));
    }

    #[test]
    fn chunk_extensions_follow_the_grammar() {
        for line in [
            &b"5;a"[..],
            b"5;a=b",
            b"5 ; a = b ; c",
            b"5;a=\"q \\\" \tx\"",
            b"5;a=\"\"",
            b"5;a=\"\\\"\"",
            b"5;a=\"x\\\\\";b",
            b"5;a=\"\xe9\"",
            b"5;!#$%&'*+-.^_`|~09AZaz=!#$%&'*+-.^_`|~",
            b"5\t;\ta\t=\tb\t",
            b"5;a ",
        ] {
            assert_eq!(
                parse_chunk_size(line),
                Ok(5),
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
        for line in [
            &b"5;"[..],
            b"5;;a",
            b"5;a=",
            b"5;a b",
            b"5;a=b c",
            b"5;a\r",
            b"5;a=b\rX",
            b"5;a\rb",
            b"5\r",
            b"5;a=\"unclosed",
            b"5;a=\"bare\rcr\"",
            b"5;a=\"nul\0\"",
            b"5;a=\"del\x7f\"",
            b"5;a=\"esc\\\r\"",
            b"5;a=\"esc\\",
            b"5;a=\"x\"y",
            b"5;a@b",
            b"5;a=b@",
            b"5;\xe9",
            b"5 x",
            b"5;a=\"x\";",
        ] {
            assert_eq!(
                parse_chunk_size(line),
                Err(ChunkSizeError::Invalid),
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
        // A bare CR in an extension cuts the line for one reader and not for another: refused in a body too.
        let wire = b"5;ext\rX\r\nhello\r\n0\r\n\r\n";
        let error = ChunkedReader::new(&wire[..])
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert_eq!(error.to_string(), "invalid chunk size");
    }

    #[test]
    fn bodies_over_the_limit_are_refused() {
        let too_large = |error: io::Error| {
            assert_eq!(error.kind(), io::ErrorKind::FileTooLarge);
            *BodyTooLarge::in_error(&error).expect("a BodyTooLarge inside")
        };
        // A Content-Length over the limit is refused before a byte is read.
        let mut inner: &[u8] = b"0123456789";
        let mut body = Body::with_limit(&mut inner, BodyFraming::Length(10), Some(9));
        let error = body.check_declared_length().unwrap_err();
        assert_eq!(too_large(error), BodyTooLarge { limit: 9 });
        assert_eq!(too_large(body.read(&mut [0; 4]).unwrap_err()).limit, 9);
        assert!(!body.is_done());
        assert_eq!(inner.len(), 10, "nothing was read");
        // At the limit it is read as usual.
        let mut body = Body::with_limit(&b"0123456789"[..], BodyFraming::Length(10), Some(10));
        body.check_declared_length().unwrap();
        let mut read = Vec::new();
        body.read_to_end(&mut read).unwrap();
        assert_eq!(read, b"0123456789");
        // A chunked body is refused at the chunk whose declared size passes the total, before its data.
        let wire = b"4\r\nabcd\r\n5\r\nefghi\r\n0\r\n\r\n";
        let mut body = Body::with_limit(&wire[..], BodyFraming::Chunked, Some(8));
        body.check_declared_length().unwrap();
        let mut read = Vec::new();
        let error = body.read_to_end(&mut read).unwrap_err();
        assert_eq!(too_large(error).limit, 8);
        assert_eq!(read, b"abcd");
        let mut body = Body::with_limit(&wire[..], BodyFraming::Chunked, Some(9));
        let mut read = Vec::new();
        body.read_to_end(&mut read).unwrap();
        assert_eq!(read, b"abcdefghi");
        // One chunk declaring a TiB is refused at once, with nothing after it needed.
        let mut body =
            Body::with_limit(&b"10000000000\r\n"[..], BodyFraming::Chunked, Some(1 << 20));
        assert_eq!(too_large(body.fill_buf().unwrap_err()).limit, 1 << 20);
        // Sizes that would overflow the running total still count as over the limit.
        let wire = b"ffffffffffffffff\r\n";
        let mut body = Body::with_limit(&wire[..], BodyFraming::Chunked, Some(u64::MAX - 1));
        assert!(BodyTooLarge::in_error(&body.fill_buf().unwrap_err()).is_some());
        // No limit, no refusal; other errors are not a BodyTooLarge.
        let mut body = Body::with_limit(&b"3\r\nabc\r\n0\r\n\r\n"[..], BodyFraming::Chunked, None);
        assert!(body.drain(100).unwrap());
        assert!(BodyTooLarge::in_error(&io::Error::other("other")).is_none());
        assert!(BodyTooLarge::in_error(&io::Error::from(io::ErrorKind::FileTooLarge)).is_none());
        assert_eq!(
            BodyTooLarge { limit: 7 }.to_string(),
            "request body larger than 7 bytes"
        );
    }

    #[test]
    fn length_reader_stops_at_the_length_and_reports_truncation() {
        let mut inner: &[u8] = b"hello world";
        let mut reader = LengthReader::new(&mut inner, 5);
        let mut body = String::new();
        reader.read_to_string(&mut body).unwrap();
        assert_eq!(body, "hello");
        assert_eq!(inner, b" world");

        let mut reader = LengthReader::new(&b"abc"[..], 10);
        let error = reader.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn drain_counts_a_body_that_arrives_in_several_reads() {
        // Four bytes per read: no single read passes the limit, their sum does.
        let wire = b"0123456789abcdefghij";
        let mut body = Body::new(
            io::BufReader::with_capacity(4, &wire[..]),
            BodyFraming::Length(20),
        );
        assert!(!body.drain(10).unwrap());
        assert!(!body.is_done());
        let mut body = Body::new(
            io::BufReader::with_capacity(4, &wire[..]),
            BodyFraming::Length(20),
        );
        assert!(body.drain(20).unwrap());
        assert!(body.is_done());
        let chunked = b"4\r\nabcd\r\n4\r\nefgh\r\n4\r\nijkl\r\n0\r\n\r\n";
        let mut body = Body::new(
            io::BufReader::with_capacity(4, &chunked[..]),
            BodyFraming::Chunked,
        );
        assert!(!body.drain(11).unwrap());
        let mut body = Body::new(
            io::BufReader::with_capacity(4, &chunked[..]),
            BodyFraming::Chunked,
        );
        assert!(body.drain(12).unwrap());
        assert!(body.is_done());
    }

    #[test]
    fn drain_respects_its_limit() {
        let mut body = Body::new(&b"0123456789"[..], BodyFraming::Length(10));
        assert!(!body.drain(4).unwrap());
        let mut body = Body::new(&b"0123456789"[..], BodyFraming::Length(10));
        assert!(body.drain(10).unwrap());
        assert!(body.is_done());
        let mut body = Body::new(&b"3\r\nabc\r\n0\r\n\r\n"[..], BodyFraming::Chunked);
        assert!(body.drain(100).unwrap());
        assert!(body.is_done());
    }

    /// A reader that hands out `data`, then fails as a reset connection does.
    struct ResetAfter<'a>(&'a [u8]);

    impl Read for ResetAfter<'_> {
        fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::Error::from(io::ErrorKind::ConnectionReset));
            }
            let count = self.0.len().min(buffer.len());
            buffer[..count].copy_from_slice(&self.0[..count]);
            self.0 = &self.0[count..];
            Ok(count)
        }
    }

    #[test]
    fn a_reset_inside_the_body_cuts_it_like_a_close() {
        for (wire, framing) in [
            (&b"01234"[..], BodyFraming::Length(10)),
            (&b"a\r\n01234"[..], BodyFraming::Chunked),
            (&b"5\r\n01234\r\n"[..], BodyFraming::Chunked),
        ] {
            let mut body = Body::new(io::BufReader::new(ResetAfter(wire)), framing);
            let mut read = Vec::new();
            let error = body.read_to_end(&mut read).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof, "{wire:?}");
            assert_eq!(
                error.to_string(),
                "connection reset inside the request body"
            );
            assert_eq!(read, b"01234");
        }
        // Other errors, a timeout among them, keep their kind.
        let mut body = Body::new(
            io::BufReader::new(io::repeat(0).take(0).chain(TimedOut)),
            BodyFraming::Length(3),
        );
        let error = body.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
    }

    struct TimedOut;

    impl Read for TimedOut {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::from(io::ErrorKind::WouldBlock))
        }
    }
}
