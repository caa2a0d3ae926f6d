//! `Http`: the Python 2 `httplib.HTTP` class, kept for code ported from Python 1.5 and 2.

use crate::config::Config;
use crate::connection::HttpConnection;
use crate::error::{Error, Result};
use crate::headers::Headers;
use crate::response::{Head, HttpResponse, Owner};

/// Python 2's `httplib.HTTP(host, port)`: one HTTP/1.0 request at a time, answered by [`getreply`](Self::getreply).
///
/// Better than Python 2: the request carries a `Host` header, without which name-based virtual hosts cannot answer.
///
/// ```no_run
/// # fn main() -> Result<(), httpclient::Error> {
/// use std::io::Read;
/// let mut host = httpclient::Http::new("www.example.com")?;
/// host.putrequest("GET", "/default.html")?;
/// host.putheader("Accept", "text/html")?;
/// host.endheaders()?;
/// let (errcode, _errmsg, _headers) = host.getreply()?;
/// assert_eq!(errcode, 200);
/// let mut page = Vec::new();
/// if let Some(file) = host.getfile() {
///     file.read_to_end(&mut page)?;
/// }
/// # Ok(())
/// # }
/// ```
#[doc(alias = "HTTP")]
#[doc(alias = "httplib.HTTP")]
#[derive(Debug)]
pub struct Http {
    connection: Option<HttpConnection>,
    file: Option<HttpResponse<'static>>,
}

impl Http {
    /// Python's `HTTP(host)`: `host` may carry `:port`.
    pub fn new(host: &str) -> Result<Self> {
        Self::with_port(host, None)
    }

    /// Python's `HTTP(host, port)`; port 0 counts as none, as in Python.
    pub fn with_port(host: &str, port: Option<u16>) -> Result<Self> {
        let config = Config {
            port: port.filter(|&port| port != 0),
            ..Config::default()
        };
        let mut connection = HttpConnection::with_config(host, config)?;
        connection.http11 = false;
        Ok(Http {
            connection: Some(connection),
            file: None,
        })
    }

    /// The connection, taken back from the last reply's file if need be.
    fn connection(&mut self) -> Result<&mut HttpConnection> {
        if let Some(file) = self.file.take() {
            self.connection = file.into_connection();
        }
        self.connection.as_mut().ok_or(Error::NotConnected)
    }

    /// Python's `connect()`.
    pub fn connect(&mut self) -> Result<()> {
        self.connection()?.connect()
    }

    /// Python's `set_debuglevel`.
    pub fn set_debuglevel(&mut self, level: u32) -> Result<()> {
        self.connection()?.set_debuglevel(level);
        Ok(())
    }

    /// Python's `putrequest(request, selector)`: starts an HTTP/1.0 request (with a `Host` header).
    pub fn putrequest(&mut self, method: &str, url: &str) -> Result<()> {
        let connection = self.connection()?;
        connection.putrequest(method, url)?;
        connection.put_legacy_host()
    }

    /// Python's `putheader(header, *values)`.
    pub fn putheader(&mut self, name: &str, value: &str) -> Result<()> {
        self.connection()?.putheader(name, value)
    }

    /// Python's `endheaders()`: sends the request head.
    pub fn endheaders(&mut self) -> Result<()> {
        self.connection()?.endheaders()
    }

    /// Python's `send(data)`: sends body bytes after `endheaders`.
    pub fn send(&mut self, data: &[u8]) -> Result<()> {
        self.connection()?.send(data)
    }

    /// Python's `getreply()`: `(status, reason, headers)`, or `(-1, line, None)` when the status line is bad.
    ///
    /// The body is then read from [`getfile`](Self::getfile); after a bad status line the file holds what followed it.
    pub fn getreply(&mut self) -> Result<(i32, String, Option<Headers>)> {
        let mut connection = self.connection.take().ok_or(Error::NotConnected)?;
        match connection.begin_response_keeping_bad_status() {
            Ok(head) => {
                let response = HttpResponse::new(Owner::Owned(Box::new(connection)), head);
                let reply = (
                    i32::from(response.status),
                    response.reason.clone(),
                    Some(response.headers.clone()),
                );
                self.file = Some(response);
                Ok(reply)
            }
            Err(Error::BadStatusLine(line)) => {
                let raw = HttpResponse::new(Owner::Owned(Box::new(connection)), Head::raw());
                self.file = Some(raw);
                Ok((-1, line, None))
            }
            Err(error) => {
                self.connection = Some(connection);
                Err(error)
            }
        }
    }

    /// Python's `getfile()`: the body of the last reply, as a reader.
    pub fn getfile(&mut self) -> Option<&mut HttpResponse<'static>> {
        self.file.as_mut()
    }

    /// Python's `close()`: closes the connection and forgets the file.
    pub fn close(&mut self) {
        if let Ok(connection) = self.connection() {
            connection.close();
        }
    }
}
