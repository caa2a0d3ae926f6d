//! `HttpResponse`: Python's `HTTPResponse`, with body framing (length, chunked, read-to-close).

use std::fmt;
use std::io::{self, BufRead, Read};

use crate::connection::HttpConnection;
use crate::error::{Error, Result};
use crate::headers::Headers;
use crate::parse::{self, strip_line_ending};

/// Where the body stands: how its end is known and how much is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// `Content-Length` (or a body that must be empty): this many bytes left.
    Length(u64),
    /// Chunked, before a chunk-size line.
    ChunkedSize,
    /// Chunked, inside a chunk with this many bytes left.
    ChunkedData(u64),
    /// Chunked, before the CRLF that ends a chunk's data.
    ChunkedEnd,
    /// No length: the body ends when the server closes the connection.
    UntilClose,
    /// The body was read to its end (or failed).
    Done,
}

/// The parsed status line and headers, with the framing they imply.
#[derive(Debug)]
pub(crate) struct Head {
    pub status: u16,
    pub reason: String,
    pub version: u8,
    pub headers: Headers,
    pub framing: Framing,
    pub will_close: bool,
}

impl Head {
    /// No status and no headers: whatever the server sends until it closes.
    pub(crate) fn raw() -> Self {
        Head {
            status: 0,
            reason: String::new(),
            version: 10,
            headers: Headers::new(),
            framing: Framing::UntilClose,
            will_close: true,
        }
    }
}

impl HttpConnection {
    /// Python's `getresponse()`: reads the status line and headers of the answer.
    ///
    /// Skips interim 1xx responses (at most 100), except 101 Switching Protocols.
    /// Fails with [`Error::ResponseNotReady`] unless a request was sent.
    pub fn getresponse(&mut self) -> Result<HttpResponse<'_>> {
        let head = self.read_response(read_head, |_| false)?;
        Ok(HttpResponse::new(Owner::Borrowed(self), head))
    }

    /// Like [`getresponse`](Self::getresponse), but the response owns the connection, so it can be returned from a function.
    ///
    /// [`HttpResponse::into_connection`] gives the connection back.
    pub fn into_response(mut self) -> Result<HttpResponse<'static>> {
        let head = self.read_response(read_head, |_| false)?;
        Ok(HttpResponse::new(Owner::Owned(Box::new(self)), head))
    }

    /// For the legacy class: a bad status line leaves the socket open, to be read as the reply's file.
    pub(crate) fn begin_response_keeping_bad_status(&mut self) -> Result<Head> {
        self.read_response(read_head, |error| matches!(error, Error::BadStatusLine(_)))
    }
}

/// Python's `HTTPResponse.begin()`: the status line (past interim answers), the headers, and the framing they imply.
fn read_head(connection: &mut HttpConnection) -> Result<Head> {
    let mut interim = 0;
    let status = loop {
        let status = connection.read_status()?;
        if !(100..200).contains(&status.status) || status.status == 101 {
            break status;
        }
        interim += 1;
        if interim > parse::MAX_INTERIM_RESPONSES {
            return Err(Error::TooManyInterimResponses);
        }
        let skipped = connection.read_headers("header line")?;
        if connection.debuglevel > 0 {
            eprintln!("headers: {skipped:?}");
        }
    };
    let headers = connection.read_headers("header line")?;
    let chunked = parse::is_chunked(headers.get_all("transfer-encoding"));
    // An answer to a request that was not sent whole (a 401 or 413 sent early) ends the connection.
    let mut will_close = check_close(status.version, &headers) || connection.write_failed();
    let mut length = if chunked {
        None
    } else {
        parse::parse_content_length(headers.get_all("content-length"))
    };
    if status.status == 204
        || status.status == 304
        || (100..200).contains(&status.status)
        || connection.method() == "HEAD"
    {
        length = Some(0);
    }
    let framing = match length {
        Some(length) => Framing::Length(length),
        None if chunked => Framing::ChunkedSize,
        None => {
            will_close = true;
            Framing::UntilClose
        }
    };
    Ok(Head {
        status: status.status,
        reason: status.reason,
        version: status.version,
        headers,
        framing,
        will_close,
    })
}

/// Who holds the connection the response reads from.
pub(crate) enum Owner<'a> {
    Borrowed(&'a mut HttpConnection),
    Owned(Box<HttpConnection>),
    Gone,
}

/// A response, Python's `http.client.HTTPResponse`: status, headers, and the body as a reader.
///
/// The body is read through Python's methods ([`read`](Self::read), [`readinto`](Self::readinto), [`read1`](Self::read1),
/// [`peek`](Self::peek), [`readline`](Self::readline)) or through [`std::io::Read`] and [`std::io::BufRead`].
/// Reading never goes past the end of the message, so the connection can carry the next request.
/// Note that the inherent `read(amt)` shadows `Read::read`; use [`readinto`](Self::readinto) or `Read::read(&mut response, buf)` for the latter.
///
/// A body cut short by the server is [`Error::IncompleteRead`]; through `std::io` it arrives as an
/// `io::Error` of kind `UnexpectedEof` wrapping that error (convert back with `Error::from`).
#[doc(alias = "HTTPResponse")]
pub struct HttpResponse<'a> {
    owner: Owner<'a>,
    /// The status code (Python's `status` and `code`).
    #[doc(alias = "code")]
    #[doc(alias = "getcode")]
    pub status: u16,
    /// The reason phrase, stripped.
    pub reason: String,
    /// 10 for HTTP/1.0, 11 for HTTP/1.1.
    pub version: u8,
    /// The headers (Python's `headers` and `msg`).
    #[doc(alias = "msg")]
    #[doc(alias = "info")]
    pub headers: Headers,
    framing: Framing,
    will_close: bool,
    trailers: Headers,
    /// Body bytes handed out so far, for [`Error::IncompleteRead`].
    body_read: u64,
}

impl fmt::Debug for HttpResponse<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("reason", &self.reason)
            .field("version", &self.version)
            .field("headers", &self.headers)
            .field("will_close", &self.will_close)
            .finish_non_exhaustive()
    }
}

impl<'a> HttpResponse<'a> {
    pub(crate) fn new(owner: Owner<'a>, head: Head) -> Self {
        let mut response = HttpResponse {
            owner,
            status: head.status,
            reason: head.reason,
            version: head.version,
            headers: head.headers,
            framing: head.framing,
            will_close: head.will_close,
            trailers: Headers::new(),
            body_read: 0,
        };
        if response.framing == Framing::Length(0) {
            response.finish();
        }
        response
    }

    fn connection(&mut self) -> Option<&mut HttpConnection> {
        match &mut self.owner {
            Owner::Borrowed(connection) => Some(connection),
            Owner::Owned(connection) => Some(connection),
            Owner::Gone => None,
        }
    }

    /// Python's `getheader(name, default=None)`: the values of `name` joined by `, `.
    pub fn getheader(&self, name: &str) -> Option<String> {
        let mut values = self.headers.get_all(name).peekable();
        values.peek()?;
        Some(values.collect::<Vec<_>>().join(", "))
    }

    /// Python's `getheaders()`: every `(name, value)` pair in order.
    pub fn getheaders(&self) -> &[(String, String)] {
        self.headers.as_slice()
    }

    /// The trailer fields of a chunked body, once it has been read to its end.
    pub fn trailers(&self) -> &Headers {
        &self.trailers
    }

    /// Python's `will_close`: whether the connection closes once this response is read.
    pub fn will_close(&self) -> bool {
        self.will_close
    }

    /// Python's `chunked`: whether the body is chunked.
    pub fn chunked(&self) -> bool {
        matches!(
            self.framing,
            Framing::ChunkedSize | Framing::ChunkedData(_) | Framing::ChunkedEnd
        )
    }

    /// Python's `length`: bytes left of a body with a Content-Length, `None` for other framings.
    pub fn length(&self) -> Option<u64> {
        match self.framing {
            Framing::Length(left) => Some(left),
            Framing::Done => Some(0),
            _ => None,
        }
    }

    /// Python's `isclosed()`: true once the body has been read to its end (or the response closed).
    pub fn isclosed(&self) -> bool {
        self.framing == Framing::Done
    }

    /// Python's `close()`: stops reading. A body not read to its end costs the connection its socket.
    pub fn close(&mut self) {
        if self.framing != Framing::Done {
            self.framing = Framing::Done;
            if let Some(connection) = self.connection() {
                connection.close_socket();
            }
        }
    }

    /// The socket's file descriptor while the body is being read.
    #[cfg(unix)]
    pub fn fileno(&self) -> Option<std::os::unix::io::RawFd> {
        match &self.owner {
            Owner::Borrowed(connection) => connection.fileno(),
            Owner::Owned(connection) => connection.fileno(),
            Owner::Gone => None,
        }
    }

    /// Closes the response and gives back the connection it borrowed, for the same lifetime: so a caller that looked at
    /// the response can send again on the connection without the borrow checker taking the response as still alive.
    pub(crate) fn release(mut self) -> Option<&'a mut HttpConnection> {
        self.close();
        match std::mem::replace(&mut self.owner, Owner::Gone) {
            Owner::Borrowed(connection) => Some(connection),
            _ => None,
        }
    }

    /// Closes the response and gives back the connection it owned (from [`HttpConnection::into_response`]).
    pub fn into_connection(mut self) -> Option<HttpConnection> {
        self.close();
        match std::mem::replace(&mut self.owner, Owner::Gone) {
            Owner::Owned(connection) => Some(*connection),
            _ => None,
        }
    }

    /// The end of the body: the connection stays open for the next request unless the server said it closes.
    fn finish(&mut self) {
        self.framing = Framing::Done;
        if self.will_close {
            if let Some(connection) = self.connection() {
                connection.close_socket();
            }
        }
    }

    /// Ends the body with an error: the connection is no longer in step with the server.
    fn fail(&mut self, expected: Option<u64>) -> Error {
        self.close();
        Error::IncompleteRead {
            partial: Vec::new(),
            read: self.body_read,
            expected,
        }
    }

    /// Makes body bytes available in the connection's buffer; returns how many (0 at the end of the body).
    fn fill_body(&mut self) -> Result<usize> {
        loop {
            match self.framing {
                Framing::Done => return Ok(0),
                Framing::Length(0) => {
                    self.finish();
                    return Ok(0);
                }
                Framing::Length(left) => {
                    let available = self.fill_connection()?;
                    if available == 0 {
                        return Err(self.fail(Some(left)));
                    }
                    return Ok(clamp(available, left));
                }
                Framing::UntilClose => {
                    let available = self.fill_connection()?;
                    if available == 0 {
                        self.finish();
                    }
                    return Ok(available);
                }
                Framing::ChunkedData(0) => self.framing = Framing::ChunkedEnd,
                Framing::ChunkedData(left) => {
                    let available = self.fill_connection()?;
                    if available == 0 {
                        return Err(self.fail(None));
                    }
                    return Ok(clamp(available, left));
                }
                Framing::ChunkedEnd => match self.read_line("chunk end")? {
                    Some(line) if strip_line_ending(&line).is_empty() => {
                        self.framing = Framing::ChunkedSize
                    }
                    _ => return Err(self.fail(None)),
                },
                Framing::ChunkedSize => {
                    let line = self.read_line("chunk size")?;
                    let size =
                        line.and_then(|line| parse::parse_chunk_size(strip_line_ending(&line)));
                    match size {
                        None => return Err(self.fail(None)),
                        Some(0) => {
                            self.read_trailers()?;
                            self.finish();
                            return Ok(0);
                        }
                        Some(size) => self.framing = Framing::ChunkedData(size),
                    }
                }
            }
        }
    }

    /// Python's `_read_and_discard_trailer`, except the trailer fields are kept.
    fn read_trailers(&mut self) -> Result<()> {
        let result = match self.connection() {
            Some(connection) => connection.read_headers("trailer line"),
            None => Ok(Headers::new()),
        };
        match result {
            Ok(trailers) => {
                self.trailers = trailers;
                Ok(())
            }
            Err(error) => {
                self.close();
                Err(error)
            }
        }
    }

    fn read_line(&mut self, what: &'static str) -> Result<Option<Vec<u8>>> {
        let result = match self.connection() {
            Some(connection) => connection.read_line(what),
            None => Ok(None),
        };
        result.inspect_err(|_| self.close())
    }

    fn fill_connection(&mut self) -> Result<usize> {
        let result = match self.connection() {
            Some(connection) => connection.fill(),
            None => Ok(0),
        };
        result.inspect_err(|_| self.close())
    }

    /// Counts `amount` body bytes as read.
    fn advance(&mut self, amount: usize) {
        let amount = amount as u64;
        self.body_read = self.body_read.saturating_add(amount);
        match &mut self.framing {
            Framing::Length(left) => {
                *left = left.saturating_sub(amount);
                if *left == 0 {
                    self.finish();
                }
            }
            Framing::ChunkedData(left) => *left = left.saturating_sub(amount),
            _ => {}
        }
    }

    fn consume_body(&mut self, amount: usize) {
        if let Some(connection) = self.connection() {
            connection.consume(amount);
        }
        self.advance(amount);
    }

    /// Reads some body bytes into `out`: the body-level `read(2)`.
    fn read_some(&mut self, out: &mut [u8]) -> Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        let limit = match self.framing {
            Framing::Length(left) if left > 0 => Some(left),
            Framing::ChunkedData(left) if left > 0 => Some(left),
            Framing::UntilClose => None,
            _ => Some(0),
        };
        if limit != Some(0) {
            if let Some(connection) = self.connection() {
                // A large read with nothing buffered goes straight to the socket, bounded by what the body has left.
                if connection.buffered().is_empty() && out.len() >= connection.buffer_capacity() {
                    let want = limit.map_or(out.len(), |limit| clamp(out.len(), limit));
                    let read = connection
                        .read_direct(&mut out[..want])
                        .inspect_err(|_| self.close())?;
                    if read > 0 {
                        self.advance(read);
                        return Ok(read);
                    }
                }
            }
        }
        let available = self.fill_body()?;
        let take = available.min(out.len());
        if take > 0 {
            if let Some(connection) = self.connection() {
                out[..take].copy_from_slice(&connection.buffered()[..take]);
            }
            self.consume_body(take);
        }
        Ok(take)
    }

    /// Reads until `out` is full or the body ends.
    fn read_full(&mut self, out: &mut [u8]) -> Result<usize> {
        let mut filled = 0;
        while filled < out.len() {
            match self.read_some(&mut out[filled..]) {
                Ok(0) => break,
                Ok(read) => filled += read,
                Err(Error::IncompleteRead { read, expected, .. }) => {
                    return Err(Error::IncompleteRead {
                        partial: out[..filled].to_vec(),
                        read,
                        expected,
                    })
                }
                Err(error) => return Err(error),
            }
        }
        Ok(filled)
    }

    /// Python's `read(amt=None)`: with `None` the whole (rest of the) body, else up to `amt` bytes (fewer only at its end).
    ///
    /// A body cut short is [`Error::IncompleteRead`] holding the bytes that did arrive, displayed as
    /// `IncompleteRead(7 bytes read, 3 more expected)`.
    pub fn read(&mut self, amt: Option<usize>) -> Result<Vec<u8>> {
        match amt {
            Some(amt) => {
                let mut out = vec![0; amt];
                let read = self.read_full(&mut out)?;
                out.truncate(read);
                Ok(out)
            }
            None => {
                let mut out = Vec::new();
                if let Framing::Length(left) = self.framing {
                    out.reserve(clamp(1 << 20, left));
                }
                let mut block = vec![0; 64 * 1024];
                loop {
                    match self.read_some(&mut block) {
                        Ok(0) => return Ok(out),
                        Ok(read) => out.extend_from_slice(&block[..read]),
                        Err(Error::IncompleteRead { read, expected, .. }) => {
                            return Err(Error::IncompleteRead {
                                partial: out,
                                read,
                                expected,
                            })
                        }
                        Err(error) => return Err(error),
                    }
                }
            }
        }
    }

    /// Python's `readinto(b)`: fills `buffer` as far as the body allows; returns the count.
    pub fn readinto(&mut self, buffer: &mut [u8]) -> Result<usize> {
        self.read_full(buffer)
    }

    /// Python's `read1(n)`: at most `n` bytes with at most one read from the socket.
    pub fn read1(&mut self, n: usize) -> Result<Vec<u8>> {
        let mut out = vec![0; n];
        let read = self.read_some(&mut out)?;
        out.truncate(read);
        Ok(out)
    }

    /// Python's `peek(n)`: body bytes already buffered (reading once if none are), without consuming them.
    ///
    /// Like Python, it may return more or fewer than `n` bytes; empty means the end of the body.
    pub fn peek(&mut self, _n: usize) -> Result<&[u8]> {
        let available = self.fill_body()?;
        Ok(self.buffered_body(available))
    }

    /// The first `available` buffered bytes, as counted by `fill_body`.
    fn buffered_body(&self, available: usize) -> &[u8] {
        let buffered = match &self.owner {
            Owner::Borrowed(connection) => connection.buffered(),
            Owner::Owned(connection) => connection.buffered(),
            Owner::Gone => &[],
        };
        &buffered[..available.min(buffered.len())]
    }

    /// Python's `readline(limit=-1)`: one line of the body, newline included; `None` for no limit.
    ///
    /// A body cut short is [`Error::IncompleteRead`] holding the part of the line that did arrive.
    pub fn readline(&mut self, limit: Option<usize>) -> Result<Vec<u8>> {
        let limit = limit.unwrap_or(usize::MAX);
        let mut line = Vec::new();
        while line.len() < limit {
            let available = match self.fill_body() {
                Ok(available) => available,
                Err(Error::IncompleteRead { read, expected, .. }) => {
                    return Err(Error::IncompleteRead {
                        partial: line,
                        read,
                        expected,
                    })
                }
                Err(error) => return Err(error),
            };
            if available == 0 {
                break;
            }
            let (take, done) = {
                let buffered = self.buffered_body(available);
                let window = &buffered[..buffered.len().min(limit - line.len())];
                let (take, done) = match window.iter().position(|&byte| byte == b'\n') {
                    Some(newline) => (newline + 1, true),
                    None => (window.len(), false),
                };
                line.extend_from_slice(&window[..take]);
                (take, done)
            };
            self.consume_body(take);
            if done {
                break;
            }
        }
        Ok(line)
    }
}

/// For fuzzing only, not part of the API (it may change or go away): reads `bytes` as the answer to a `method` request,
/// head and whole body, as if a server had sent exactly these bytes and then closed the connection.
///
/// The bytes go into the receive buffer of a connection that has no socket, so the status line, header and body
/// framing code of [`HttpConnection::getresponse`] and [`HttpResponse::readinto`] runs on them unchanged.
/// Returns the status and the body.
#[doc(hidden)]
pub fn fuzz_response(bytes: &[u8], method: &str) -> Result<(u16, Vec<u8>)> {
    let mut connection = HttpConnection::answered_with(bytes, method)?;
    let mut response = connection.getresponse()?;
    let mut body = Vec::new();
    let mut block = [0; 4096];
    loop {
        let read = response.readinto(&mut block)?;
        if read == 0 {
            return Ok((response.status, body));
        }
        body.extend_from_slice(&block[..read]);
    }
}

/// Python's `HTTPResponse._check_close`.
fn check_close(version: u8, headers: &Headers) -> bool {
    let has_token = |name: &str, token: &str| {
        headers
            .get_all(name)
            .any(|value| value.to_ascii_lowercase().contains(token))
    };
    if version == 11 {
        return has_token("connection", "close");
    }
    // HTTP/1.0 stays open only when the server says keep-alive, in one of the ways servers say it.
    !(headers.contains("keep-alive")
        || has_token("connection", "keep-alive")
        || has_token("proxy-connection", "keep-alive"))
}

/// `min(available, left)` without overflow on 32-bit targets.
fn clamp(available: usize, left: u64) -> usize {
    usize::try_from(left).map_or(available, |left| available.min(left))
}

impl Read for HttpResponse<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        self.read_some(buffer).map_err(io::Error::from)
    }
}

impl BufRead for HttpResponse<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.peek(0).map_err(io::Error::from)
    }

    fn consume(&mut self, amount: usize) {
        self.consume_body(amount);
    }
}

impl Drop for HttpResponse<'_> {
    fn drop(&mut self) {
        // A body not read to its end would be taken for the next response: give up the socket instead.
        self.close();
    }
}
