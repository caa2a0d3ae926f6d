//! `HttpConnection`: Python's `HTTPConnection`, its state machine, request framing and socket handling.

use std::fmt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use crate::config::{Config, Timeouts, HTTP_PORT};
use crate::error::{Error, Result, State, TimeoutKind};
use crate::headers::{latin1, Headers};
use crate::parse::{self, escape, strip_line_ending, StatusLine, MAX_HEADERS, MAX_LINE};
use crate::stream::{io_error, open_tcp, Stream};

/// A request body, the `body` argument of Python's `request` and `endheaders`.
pub enum Body<'a> {
    /// No body (Python's `None`): POST, PUT and PATCH still get `Content-Length: 0`.
    Empty,
    /// Bytes of known length, sent with `Content-Length`.
    Bytes(&'a [u8]),
    /// A reader of unknown length (Python's file or iterable), sent with `Transfer-Encoding: chunked`.
    Reader(&'a mut dyn Read),
    /// A reader of known length, sent as is with `Content-Length` (Python needs the header set by hand for this).
    SizedReader(&'a mut dyn Read, u64),
}

impl fmt::Debug for Body<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Empty => formatter.write_str("Empty"),
            Body::Bytes(bytes) => write!(formatter, "Bytes({} bytes)", bytes.len()),
            Body::Reader(_) => formatter.write_str("Reader(..)"),
            Body::SizedReader(_, length) => write!(formatter, "SizedReader(.., {length})"),
        }
    }
}

impl<'a> From<&'a [u8]> for Body<'a> {
    fn from(bytes: &'a [u8]) -> Self {
        Body::Bytes(bytes)
    }
}

impl<'a, const N: usize> From<&'a [u8; N]> for Body<'a> {
    fn from(bytes: &'a [u8; N]) -> Self {
        Body::Bytes(bytes)
    }
}

impl<'a> From<&'a str> for Body<'a> {
    fn from(text: &'a str) -> Self {
        Body::Bytes(text.as_bytes())
    }
}

impl<'a> From<&'a String> for Body<'a> {
    fn from(text: &'a String) -> Self {
        Body::Bytes(text.as_bytes())
    }
}

impl<'a> From<&'a Vec<u8>> for Body<'a> {
    fn from(bytes: &'a Vec<u8>) -> Self {
        Body::Bytes(bytes)
    }
}

impl<'a> From<Option<&'a [u8]>> for Body<'a> {
    fn from(bytes: Option<&'a [u8]>) -> Self {
        bytes.map_or(Body::Empty, Body::Bytes)
    }
}

/// The CONNECT proxy target set by `set_tunnel`.
#[derive(Debug, Clone)]
struct Tunnel {
    host: String,
    port: u16,
    headers: Vec<(String, String)>,
}

/// Python's methods that expect a body, and so get `Content-Length: 0` without one.
const METHODS_EXPECTING_BODY: [&str; 3] = ["PATCH", "POST", "PUT"];

/// A blocking HTTP/1.1 connection to one server, Python's `http.client.HTTPConnection`.
///
/// Either call [`request`](Self::request), or build the request by hand with
/// [`putrequest`](Self::putrequest), [`putheader`](Self::putheader), [`endheaders`](Self::endheaders) and [`send`](Self::send);
/// then [`getresponse`](Self::getresponse).
/// The socket is opened on first use and again after the server closed it, so one value serves many requests.
///
/// The response borrows the connection, so the borrow checker enforces what Python checks at run time:
/// a response is finished (or dropped) before the next request starts.
/// A response dropped before its end closes the socket, so nothing of it is mistaken for the next answer.
#[doc(alias = "HTTPConnection")]
#[doc(alias = "httplib.HTTPConnection")]
pub struct HttpConnection {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) default_port: u16,
    timeouts: Timeouts,
    source_address: Option<SocketAddr>,
    blocksize: usize,
    auto_open: bool,
    pub(crate) stream: Option<Stream>,
    /// Receive buffer: bytes `start..end` are read from the socket and not yet used.
    buffer: Vec<u8>,
    start: usize,
    end: usize,
    /// True once a response completed on the current socket, so a new request reuses it.
    reused: bool,
    /// True once a write on the current socket failed: the server never got the whole request, so the socket
    /// must not carry another one (the next request would be read as the rest of this one).
    write_failed: bool,
    state: State,
    method: String,
    output: Vec<u8>,
    /// False for the legacy `HTTP` class, which speaks HTTP/1.0.
    pub(crate) http11: bool,
    tunnel: Option<Tunnel>,
    proxy_headers: Option<Headers>,
    pub(crate) debuglevel: u32,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::tls::TlsSettings>,
}

impl fmt::Debug for HttpConnection {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("HttpConnection")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("state", &self.state)
            .field("connected", &self.stream.is_some())
            .finish_non_exhaustive()
    }
}

impl HttpConnection {
    /// Python's `HTTPConnection(host)`: `host` may carry a port (`example.com:8080`, `[::1]:8080`).
    ///
    /// Nothing is connected yet. A non-numeric port, or control characters or spaces in the host, are [`Error::InvalidUrl`].
    pub fn new(host: &str) -> Result<Self> {
        Self::with_config(host, Config::default())
    }

    /// Python's `HTTPConnection(host, port, timeout, source_address, blocksize)`.
    pub fn with_config(host: &str, config: Config) -> Result<Self> {
        Self::with_default_port(host, config, HTTP_PORT)
    }

    pub(crate) fn with_default_port(host: &str, config: Config, default_port: u16) -> Result<Self> {
        let (host, port) = parse::split_host_port(host, config.port, default_port)?;
        parse::validate_host(&host)?;
        Ok(HttpConnection {
            host,
            port,
            default_port,
            timeouts: config.timeouts,
            source_address: config.source_address,
            blocksize: config.blocksize.max(1),
            auto_open: config.auto_open,
            stream: None,
            buffer: vec![0; config.blocksize.clamp(1024, 1 << 20)],
            start: 0,
            end: 0,
            reused: false,
            write_failed: false,
            state: State::Idle,
            method: String::new(),
            output: Vec::new(),
            http11: true,
            tunnel: None,
            proxy_headers: None,
            debuglevel: 0,
            #[cfg(feature = "tls")]
            tls: None,
        })
    }

    /// The host this connection talks to (the proxy, when tunnelling).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port this connection talks to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The connection's state in Python's state machine.
    pub fn state(&self) -> State {
        self.state
    }

    /// The three timeouts.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Changes the timeouts; an open socket gets the new read and write timeouts at once.
    pub fn set_timeouts(&mut self, timeouts: Timeouts) -> Result<()> {
        self.timeouts = timeouts;
        if let Some(stream) = &self.stream {
            stream.tcp().set_read_timeout(timeouts.read)?;
            stream.tcp().set_write_timeout(timeouts.write)?;
        }
        Ok(())
    }

    /// Python's `set_debuglevel`: above 0, what is sent and received is printed (to stderr, so it never mixes with a program's output).
    pub fn set_debuglevel(&mut self, level: u32) {
        self.debuglevel = level;
    }

    /// The socket, when connected (Python's `conn.sock`).
    pub fn sock(&self) -> Option<&TcpStream> {
        self.stream.as_ref().map(Stream::tcp)
    }

    /// The socket's file descriptor, when connected.
    #[cfg(unix)]
    pub fn fileno(&self) -> Option<std::os::unix::io::RawFd> {
        use std::os::unix::io::AsRawFd;
        self.sock().map(AsRawFd::as_raw_fd)
    }

    /// Python's `set_tunnel(host, port=None, headers=None)`: talk to `host:port` through this connection's host, an HTTP proxy, with `CONNECT`.
    ///
    /// Adds `Host` to the proxy headers unless given. Fails with [`Error::TunnelAfterConnect`] once connected.
    pub fn set_tunnel(
        &mut self,
        host: &str,
        port: Option<u16>,
        headers: &[(&str, &str)],
    ) -> Result<()> {
        if self.stream.is_some() {
            return Err(Error::TunnelAfterConnect);
        }
        let (host, port) = parse::split_host_port(host, port, self.default_port)?;
        parse::validate_host(&host)?;
        let mut tunnel_headers = Vec::with_capacity(headers.len() + 1);
        for &(name, value) in headers {
            check_header(name.as_bytes(), value.as_bytes())?;
            tunnel_headers.push((name.to_string(), value.to_string()));
        }
        if !headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("host"))
        {
            let wrapped = if host.contains(':') {
                format!("[{host}]")
            } else {
                host.clone()
            };
            tunnel_headers.push(("Host".to_string(), format!("{wrapped}:{port}")));
        }
        self.tunnel = Some(Tunnel {
            host,
            port,
            headers: tunnel_headers,
        });
        Ok(())
    }

    /// Python's `get_proxy_response_headers()`: the headers of the proxy's answer to `CONNECT`.
    pub fn get_proxy_response_headers(&self) -> Option<&Headers> {
        self.proxy_headers.as_ref()
    }

    /// Python's `connect()`: opens the socket (through the tunnel and TLS when set). Called automatically when needed.
    pub fn connect(&mut self) -> Result<()> {
        self.close_socket();
        let tcp = open_tcp(
            &self.host,
            self.port,
            self.timeouts.connect,
            self.source_address,
        )?;
        // Python ignores a platform without TCP_NODELAY too.
        let _ = tcp.set_nodelay(true);
        tcp.set_read_timeout(self.timeouts.read)?;
        tcp.set_write_timeout(self.timeouts.write)?;
        self.stream = Some(Stream::Tcp(tcp));
        if let Err(error) = self.finish_connect() {
            self.close_socket();
            return Err(error);
        }
        Ok(())
    }

    fn finish_connect(&mut self) -> Result<()> {
        if self.tunnel.is_some() {
            self.tunnel_handshake()?;
        }
        #[cfg(feature = "tls")]
        if let Some(settings) = &self.tls {
            let host = match &self.tunnel {
                Some(tunnel) => tunnel.host.clone(),
                None => self.host.clone(),
            };
            let Some(Stream::Tcp(tcp)) = self.stream.take() else {
                return Err(Error::NotConnected);
            };
            self.stream = Some(crate::tls::wrap(settings, tcp, &host, self.timeouts)?);
        }
        Ok(())
    }

    /// Python's `_tunnel`: one `CONNECT` request, then the proxy's answer; anything but 200 fails.
    fn tunnel_handshake(&mut self) -> Result<()> {
        let Some(tunnel) = self.tunnel.clone() else {
            return Ok(());
        };
        let host = if tunnel.host.contains(':') {
            format!("[{}]", tunnel.host)
        } else {
            tunnel.host.clone()
        };
        let mut request =
            format!("CONNECT {host}:{} {}\r\n", tunnel.port, self.version_str()).into_bytes();
        for (name, value) in &tunnel.headers {
            request.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        request.extend_from_slice(b"\r\n");
        // One write, so the request leaves in as few packets as possible.
        self.write_all(&request)?;
        let status = self.read_status()?;
        let headers = self.read_headers("header line")?;
        self.proxy_headers = Some(headers);
        if status.status != 200 {
            return Err(Error::TunnelFailed {
                status: status.status,
                reason: status.reason,
            });
        }
        Ok(())
    }

    /// Python's `close()`: closes the socket and returns to the idle state; the next request reconnects.
    pub fn close(&mut self) {
        self.close_socket();
        self.state = State::Idle;
    }

    pub(crate) fn close_socket(&mut self) {
        self.stream = None;
        self.start = 0;
        self.end = 0;
        self.reused = false;
        self.write_failed = false;
    }

    fn version_str(&self) -> &'static str {
        if self.http11 {
            "HTTP/1.1"
        } else {
            "HTTP/1.0"
        }
    }

    /// Python's `request(method, url, body=None, headers={})`: sends a whole request.
    ///
    /// Adds `Host` and `Accept-Encoding: identity` unless given; `Content-Length` for a body of known length
    /// (0 for POST, PUT and PATCH without a body); `Transfer-Encoding: chunked` for a [`Body::Reader`]; never both,
    /// and neither when the caller set one of them.
    /// Every header name and value is checked before anything is sent.
    pub fn request<'b>(
        &mut self,
        method: &str,
        url: &str,
        body: impl Into<Body<'b>>,
        headers: &[(&str, &str)],
    ) -> Result<()> {
        let body = body.into();
        for &(name, value) in headers {
            check_header(name.as_bytes(), value.as_bytes())?;
        }
        let has = |wanted: &str| {
            headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case(wanted))
        };
        self.putrequest_with_skips(method, url, has("host"), has("accept-encoding"))?;
        let mut encode_chunked = false;
        if !has("content-length") && !has("transfer-encoding") {
            let length = match &body {
                Body::Empty => {
                    let upper = method.to_ascii_uppercase();
                    METHODS_EXPECTING_BODY
                        .contains(&upper.as_str())
                        .then_some(0)
                }
                Body::Bytes(bytes) => Some(bytes.len() as u64),
                Body::SizedReader(_, length) => Some(*length),
                Body::Reader(_) => None,
            };
            match length {
                Some(length) => self.putheader("Content-Length", length.to_string())?,
                None if matches!(body, Body::Reader(_)) => {
                    encode_chunked = true;
                    self.putheader("Transfer-Encoding", "chunked")?;
                }
                None => {}
            }
        }
        for &(name, value) in headers {
            self.putheader(name, value)?;
        }
        self.endheaders_with(body, encode_chunked)
    }

    /// Python's `putrequest(method, url)`: starts a request; adds `Host` and `Accept-Encoding: identity` for HTTP/1.1.
    pub fn putrequest(&mut self, method: &str, url: &str) -> Result<()> {
        self.putrequest_with_skips(method, url, false, false)
    }

    /// Python's `putrequest(method, url, skip_host, skip_accept_encoding)`.
    pub fn putrequest_with_skips(
        &mut self,
        method: &str,
        url: &str,
        skip_host: bool,
        skip_accept_encoding: bool,
    ) -> Result<()> {
        if self.state != State::Idle {
            return Err(Error::CannotSendRequest(self.state));
        }
        parse::validate_method(method)?;
        let url = if url.is_empty() { "/" } else { url };
        parse::validate_path(url)?;
        self.output.clear();
        self.output.extend_from_slice(method.as_bytes());
        self.output.push(b' ');
        self.output.extend_from_slice(url.as_bytes());
        self.output.push(b' ');
        self.output.extend_from_slice(self.version_str().as_bytes());
        self.output.extend_from_slice(b"\r\n");
        self.method.clear();
        self.method.push_str(method);
        self.state = State::RequestStarted;
        if self.http11 && !skip_host {
            let host = match absolute_url_netloc(url) {
                Some(netloc) => {
                    let mut netloc = netloc.to_string();
                    // Python's _strip_ipv6_iface.
                    if let (Some(percent), Some(bracket)) = (netloc.find('%'), netloc.find(']')) {
                        if percent < bracket {
                            netloc.replace_range(percent..bracket, "");
                        }
                    }
                    netloc
                }
                None => match &self.tunnel {
                    Some(tunnel) => {
                        parse::host_header(&tunnel.host, tunnel.port, self.default_port)
                    }
                    None => parse::host_header(&self.host, self.port, self.default_port),
                },
            };
            self.putheader("Host", host)?;
        }
        if self.http11 && !skip_accept_encoding {
            self.putheader("Accept-Encoding", "identity")?;
        }
        Ok(())
    }

    /// Adds the Host header the legacy HTTP/1.0 class sends (Python 2 sent none, which virtual hosts refuse).
    pub(crate) fn put_legacy_host(&mut self) -> Result<()> {
        let host = parse::host_header(&self.host, self.port, self.default_port);
        self.putheader("Host", host)
    }

    /// Python's `putheader(header, value)`. Name and value are checked at once (no header injection).
    pub fn putheader(&mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        self.putheader_values(name, &[value.as_ref()])
    }

    /// Python's `putheader(header, *values)`: several values are joined as folded lines.
    pub fn putheader_values(&mut self, name: impl AsRef<[u8]>, values: &[&[u8]]) -> Result<()> {
        if self.state != State::RequestStarted {
            return Err(Error::CannotSendHeader(self.state));
        }
        let name = name.as_ref();
        for value in values {
            check_header(name, value)?;
        }
        self.output.extend_from_slice(name);
        self.output.extend_from_slice(b": ");
        for (index, value) in values.iter().enumerate() {
            if index > 0 {
                self.output.extend_from_slice(b"\r\n\t");
            }
            self.output.extend_from_slice(value);
        }
        self.output.extend_from_slice(b"\r\n");
        Ok(())
    }

    /// Python's `endheaders()`: sends the request line and headers.
    pub fn endheaders(&mut self) -> Result<()> {
        self.endheaders_with(Body::Empty, false)
    }

    /// Python's `endheaders(message_body, encode_chunked)`: sends the headers, then the body, chunk-encoded when asked.
    pub fn endheaders_with<'b>(
        &mut self,
        body: impl Into<Body<'b>>,
        encode_chunked: bool,
    ) -> Result<()> {
        if self.state != State::RequestStarted {
            return Err(Error::CannotSendHeader(self.state));
        }
        self.state = State::RequestSent;
        self.output.extend_from_slice(b"\r\n");
        let mut output = std::mem::take(&mut self.output);
        let result = self.send_output(&mut output, body.into(), encode_chunked);
        output.clear();
        self.output = output;
        if result.is_err() && self.stream.is_none() {
            // Nothing reached a server (connecting failed), so there is no answer to wait for: unlike
            // Python, which stays in Request-sent until close(), the next request can simply be made.
            // After a failed write the state stays Request-sent, so getresponse() can read an early answer.
            self.state = State::Idle;
        }
        result
    }

    fn send_output(
        &mut self,
        head: &mut Vec<u8>,
        body: Body<'_>,
        encode_chunked: bool,
    ) -> Result<()> {
        self.drop_stale_socket();
        match body {
            Body::Empty if encode_chunked => {
                head.extend_from_slice(b"0\r\n\r\n");
                self.send(head)
            }
            Body::Empty => self.send(head),
            Body::Bytes(bytes) => {
                // Head and a small body in one write, to dodge the delayed-ACK and Nagle interplay Python also avoids.
                if encode_chunked {
                    if !bytes.is_empty() {
                        head.extend_from_slice(format!("{:X}\r\n", bytes.len()).as_bytes());
                        head.extend_from_slice(bytes);
                        head.extend_from_slice(b"\r\n");
                    }
                    head.extend_from_slice(b"0\r\n\r\n");
                    self.send(head)
                } else if bytes.len() <= 64 * 1024 {
                    head.extend_from_slice(bytes);
                    self.send(head)
                } else {
                    self.send(head)?;
                    self.send(bytes)
                }
            }
            Body::Reader(reader) | Body::SizedReader(reader, _) => {
                self.send(head)?;
                let mut block = vec![0; self.blocksize];
                loop {
                    let read = match reader.read(&mut block) {
                        Ok(read) => read,
                        Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(error) => return Err(Error::Io(error)),
                    };
                    if read == 0 {
                        break;
                    }
                    if encode_chunked {
                        let mut chunk = format!("{read:X}\r\n").into_bytes();
                        chunk.extend_from_slice(&block[..read]);
                        chunk.extend_from_slice(b"\r\n");
                        self.send(&chunk)?;
                    } else {
                        self.send(&block[..read])?;
                    }
                }
                if encode_chunked {
                    self.send(b"0\r\n\r\n")?;
                }
                Ok(())
            }
        }
    }

    /// Better than Python: a kept-alive socket that the server closed while idle is replaced before the request is sent,
    /// instead of failing with [`Error::RemoteDisconnected`].
    fn drop_stale_socket(&mut self) {
        if !self.reused {
            return;
        }
        let stale = match &self.stream {
            Some(stream) => self.start != self.end || stream.is_stale(),
            None => false,
        };
        if stale {
            self.close_socket();
        }
    }

    /// Python's `send(data)`: writes bytes to the socket, connecting first when needed.
    pub fn send(&mut self, data: &[u8]) -> Result<()> {
        if self.stream.is_none() {
            if !self.auto_open {
                return Err(Error::NotConnected);
            }
            self.connect()?;
        }
        if self.debuglevel > 0 {
            eprintln!("send: {}", escape(data));
        }
        self.write_all(data)
    }

    fn write_all(&mut self, data: &[u8]) -> Result<()> {
        let Some(stream) = self.stream.as_mut() else {
            return Err(Error::NotConnected);
        };
        // The socket stays open after a failed write: a server that refuses a body early (401, 413)
        // has often sent its answer already, and getresponse() can still read it, as in Python.
        let result = stream.write_all(data).and_then(|()| stream.flush());
        if result.is_err() {
            self.write_failed = true;
        }
        result.map_err(|error| io_error(error, TimeoutKind::Write))
    }

    /// Reads the answer to the request sent, as Python's `getresponse()` does, with `read` (which reads its head).
    ///
    /// Fails with [`Error::ResponseNotReady`] unless a request was sent.
    /// Once the head is read the connection is idle again and its socket counts as reused.
    /// An error for which `keeps_socket` holds leaves the socket open for the caller to read what follows;
    /// any other resets the connection so the next request can reconnect (Python stays in `Request-sent` instead).
    pub(crate) fn read_response<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<T>,
        keeps_socket: impl FnOnce(&Error) -> bool,
    ) -> Result<T> {
        if self.state != State::RequestSent {
            return Err(Error::ResponseNotReady(self.state));
        }
        match read(self) {
            Ok(head) => {
                self.state = State::Idle;
                self.reused = true;
                Ok(head)
            }
            Err(error) if keeps_socket(&error) => {
                self.state = State::Idle;
                Err(error)
            }
            Err(error) => {
                self.close();
                Err(error)
            }
        }
    }

    /// The method of the request sent last (a response to HEAD has no body).
    pub(crate) fn method(&self) -> &str {
        &self.method
    }

    /// Whether a write on the current socket failed, so the server never got the whole request.
    pub(crate) fn write_failed(&self) -> bool {
        self.write_failed
    }

    /// A connection without a socket that has sent a `method` request and holds `bytes` as the whole answer, for fuzzing.
    pub(crate) fn answered_with(bytes: &[u8], method: &str) -> Result<Self> {
        let mut connection = HttpConnection::new("fuzz.invalid")?;
        connection.buffer = bytes.to_vec();
        connection.buffer.resize(bytes.len().max(1024), 0);
        connection.start = 0;
        connection.end = bytes.len();
        connection.state = State::RequestSent;
        connection.method = method.to_owned();
        Ok(connection)
    }

    /// Python's `_read_status`.
    pub(crate) fn read_status(&mut self) -> Result<StatusLine> {
        let debug = self.debuglevel > 0;
        self.next_line("status line", |line| {
            let Some(line) = line else {
                return Err(Error::RemoteDisconnected);
            };
            if debug {
                eprintln!("reply: {}", escape(line));
            }
            parse::parse_status_line(strip_line_ending(line))
        })?
    }

    /// Python's `_read_headers` and `parse_headers`: lines up to a blank one (or the end of the stream).
    pub(crate) fn read_headers(&mut self, what: &'static str) -> Result<Headers> {
        let debug = self.debuglevel > 0;
        let mut headers = Headers::new();
        let mut lines = 0;
        loop {
            let more = self.next_line(what, |line| {
                let Some(line) = line.map(strip_line_ending).filter(|line| !line.is_empty()) else {
                    return Ok(false);
                };
                lines += 1;
                if lines > MAX_HEADERS {
                    return Err(Error::TooManyHeaders);
                }
                if debug {
                    eprintln!("header: {}", latin1(line));
                }
                headers.push_line(line);
                Ok(true)
            })??;
            if !more {
                return Ok(headers);
            }
        }
    }

    /// Hands the next line (line ending included; `None` at end of stream) to `handle`.
    ///
    /// A line already in the buffer is lent in place, without copying; [`read_line`](Self::read_line) assembles the rest.
    fn next_line<R>(
        &mut self,
        what: &'static str,
        handle: impl FnOnce(Option<&[u8]>) -> R,
    ) -> Result<R> {
        if self.start == self.end {
            self.fill()?;
        }
        let buffered = &self.buffer[self.start..self.end];
        if let Some(newline) = buffered.iter().position(|&byte| byte == b'\n') {
            if newline + 1 > MAX_LINE {
                return Err(Error::LineTooLong(what));
            }
            let result = handle(Some(&buffered[..=newline]));
            self.start += newline + 1;
            return Ok(result);
        }
        let line = self.read_line(what)?;
        Ok(handle(line.as_deref()))
    }

    /// Fills the receive buffer when empty; returns how many unread bytes it holds (0 at end of stream).
    pub(crate) fn fill(&mut self) -> Result<usize> {
        if self.start < self.end {
            return Ok(self.end - self.start);
        }
        let Some(stream) = self.stream.as_mut() else {
            return Ok(0);
        };
        loop {
            match stream.read(&mut self.buffer) {
                Ok(read) => {
                    self.start = 0;
                    self.end = read;
                    return Ok(read);
                }
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) => return Err(io_error(error, TimeoutKind::Read)),
            }
        }
    }

    /// Reads straight into `out`, bypassing the empty buffer (for large reads).
    pub(crate) fn read_direct(&mut self, out: &mut [u8]) -> Result<usize> {
        debug_assert_eq!(self.start, self.end);
        let Some(stream) = self.stream.as_mut() else {
            return Ok(0);
        };
        loop {
            match stream.read(out) {
                Ok(read) => return Ok(read),
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) => return Err(io_error(error, TimeoutKind::Read)),
            }
        }
    }

    /// The unread bytes of the buffer.
    pub(crate) fn buffered(&self) -> &[u8] {
        &self.buffer[self.start..self.end]
    }

    /// The size of the receive buffer.
    pub(crate) fn buffer_capacity(&self) -> usize {
        self.buffer.len()
    }

    /// Marks `amount` buffered bytes as used.
    pub(crate) fn consume(&mut self, amount: usize) {
        self.start = (self.start + amount).min(self.end);
    }

    /// Reads one line, line ending included; `None` at end of stream. Longer than [`MAX_LINE`] is [`Error::LineTooLong`].
    pub(crate) fn read_line(&mut self, what: &'static str) -> Result<Option<Vec<u8>>> {
        let mut line = Vec::new();
        loop {
            let available = self.fill()?;
            if available == 0 {
                return Ok(if line.is_empty() { None } else { Some(line) });
            }
            let buffered = self.buffered();
            let (take, done) = match buffered.iter().position(|&byte| byte == b'\n') {
                Some(newline) => (newline + 1, true),
                None => (buffered.len(), false),
            };
            if line.len() + take > MAX_LINE {
                return Err(Error::LineTooLong(what));
            }
            line.extend_from_slice(&buffered[..take]);
            self.consume(take);
            if done {
                return Ok(Some(line));
            }
        }
    }
}

/// Checks a header as Python's `putheader` does, before anything is sent.
fn check_header(name: &[u8], value: &[u8]) -> Result<()> {
    if !parse::is_legal_header_name(name) {
        return Err(Error::InvalidHeaderName(latin1(name)));
    }
    if parse::is_illegal_header_value(value) {
        return Err(Error::InvalidHeaderValue(latin1(value)));
    }
    Ok(())
}

/// The authority of an absolute-form request target (`http://host:port/path`), which then becomes the Host header.
fn absolute_url_netloc(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let netloc = &rest[..end];
    (!netloc.is_empty()).then_some(netloc)
}
