//! [`SimpleHttpRequestHandler`]: Python's `SimpleHTTPRequestHandler` on basehttp's [`BaseHttpRequestHandler`], and the plain functions it is made of.

use std::borrow::Cow;
use std::cell::RefCell;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use basehttp::{BaseHttpRequestHandler, HeaderBlock, HttpRequest, Limits};

use crate::conditional::Conditions;
use crate::head::{
    send_head, FileBody, FileContent, FileReply, FileRequest, HeadReply, ReplyHeaders, SimpleHooks,
    INDEX_PAGES,
};
use crate::mime::{guess_type_with, EXTENSIONS_MAP};
use crate::options::FileOptions;
use crate::range::{unsatisfied_content_range, ByteRange};

/// Python's `SimpleHTTPRequestHandler.server_version`.
pub const SERVER_VERSION: &str = "SimpleHTTP/0.6";

/// Python's `SimpleHTTPRequestHandler`: serves GET and HEAD from a directory; other methods get 501.
///
/// The settings are Python's class attributes as fields; `do_get` and `do_head` call [`serve_files`].
/// Beyond Python: `ETag`, conditional requests, `Range`, `sendfile(2)` for plain TCP, names that are not UTF-8,
/// and basehttp's default connection timeouts ([`Limits`]; set `limits` to [`Limits::python`] for Python's none).
#[doc(alias = "SimpleHTTPRequestHandler")]
#[derive(Debug, Clone)]
pub struct SimpleHttpRequestHandler {
    /// The served directory (Python's `directory`).
    pub directory: PathBuf,
    /// `HTTP/1.0` (Python's default) or `HTTP/1.1`.
    pub protocol_version: String,
    /// The index pages tried in a directory (Python's `index_pages`).
    pub index_pages: Vec<&'static str>,
    /// Content types by extension, looked up before `mimetypes` (Python's `extensions_map`).
    pub extensions_map: Vec<(String, String)>,
    /// Timeouts and the drain limit of each connection (basehttp's defaults).
    pub limits: Limits,
    /// What it does beyond Python (compression, uploads, the sortable listing, ...); nothing by default.
    pub options: FileOptions,
}

impl SimpleHttpRequestHandler {
    /// A handler serving `directory` with Python's settings.
    pub fn new(directory: impl Into<PathBuf>) -> Self {
        Self {
            directory: directory.into(),
            protocol_version: "HTTP/1.0".to_owned(),
            index_pages: INDEX_PAGES.to_vec(),
            extensions_map: EXTENSIONS_MAP
                .iter()
                .map(|(extension, content_type)| {
                    ((*extension).to_owned(), (*content_type).to_owned())
                })
                .collect(),
            limits: Limits::default(),
            options: FileOptions::default(),
        }
    }

    /// A handler serving the current directory, Python's default (`os.getcwd()`).
    ///
    /// # Errors
    ///
    /// The error from reading the current directory.
    pub fn in_current_directory() -> io::Result<Self> {
        Ok(Self::new(std::env::current_dir()?))
    }
}

impl SimpleHooks for SimpleHttpRequestHandler {
    fn directory(&self) -> &Path {
        &self.directory
    }

    fn index_pages(&self) -> &[&str] {
        &self.index_pages
    }

    fn guess_type(&self, path: &Path) -> Cow<'_, str> {
        guess_type_with(path, &self.extensions_map)
    }

    fn options(&self) -> &FileOptions {
        &self.options
    }
}

impl BaseHttpRequestHandler for SimpleHttpRequestHandler {
    fn server_version(&self) -> &str {
        SERVER_VERSION
    }

    fn protocol_version(&self) -> &str {
        &self.protocol_version
    }

    fn limits(&self) -> Limits {
        self.limits
    }

    fn do_get(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        serve_files(self, req)
    }

    fn do_head(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        serve_files(self, req)
    }

    /// With [`FileOptions::upload`], stores the body as the file the path names; else 501, as Python.
    fn do_put(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        match self.options.upload {
            Some(upload) => crate::upload::put(self, req, upload),
            None => basehttp::unsupported_method(req),
        }
    }

    /// With [`FileOptions::upload`], stores the files of a `multipart/form-data` form in the directory the path names; else 501, as Python.
    fn do_post(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
        match self.options.upload {
            Some(upload) => crate::upload::post(self, req, upload),
            None => basehttp::unsupported_method(req),
        }
    }
}

/// Joins every value of a header with `, `, as one list.
fn joined<'a>(req: &'a HttpRequest<'_>, name: &'a str) -> Option<Cow<'a, str>> {
    let mut values = req.headers.get_all(name);
    let first = values.next()?;
    // One line, the usual case, is read where it lies.
    match values.next() {
        None => Some(Cow::Borrowed(first)),
        Some(second) => {
            let mut all = [first, second].join(", ");
            for value in values {
                all.push_str(", ");
                all.push_str(value);
            }
            Some(Cow::Owned(all))
        }
    }
}

/// Answers a GET or HEAD from files (Python's `do_GET` and `do_HEAD` around `send_head`), through `hooks`.
///
/// This is how another handler reuses `SimpleHTTPRequestHandler` without inheritance: implement [`SimpleHooks`] (overriding what Python's subclass would),
/// and call this from `do_get` and `do_head`.
///
/// ```
/// use std::io;
/// use std::path::{Path, PathBuf};
///
/// use basehttp::{BaseHttpRequestHandler, HttpRequest};
/// use simplehttp::{serve_files, SimpleHooks};
///
/// /// Serves a directory with `default.html` as its only index page.
/// struct Site {
///     root: PathBuf,
/// }
///
/// impl SimpleHooks for Site {
///     fn directory(&self) -> &Path {
///         &self.root
///     }
///
///     fn index_pages(&self) -> &[&str] {
///         &["default.html"]
///     }
/// }
///
/// impl BaseHttpRequestHandler for Site {
///     fn server_version(&self) -> &str {
///         "Site/1.0"
///     }
///
///     fn do_get(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
///         serve_files(self, req)
///     }
///
///     fn do_head(&self, req: &mut HttpRequest<'_>) -> io::Result<()> {
///         serve_files(self, req)
///     }
/// }
/// ```
pub fn serve_files<H: SimpleHooks + ?Sized>(
    hooks: &H,
    req: &mut HttpRequest<'_>,
) -> io::Result<()> {
    let if_match = joined(req, "If-Match");
    let if_none_match = joined(req, "If-None-Match");
    let accept_encoding = joined(req, "Accept-Encoding");
    let accept = joined(req, "Accept");
    let reply = {
        let request = FileRequest {
            command: &req.command,
            path: &req.path,
            range: req.headers.get("Range"),
            if_range: req.headers.get("If-Range"),
            conditions: Conditions {
                if_match: if_match.as_deref(),
                if_none_match: if_none_match.as_deref(),
                if_modified_since: req.headers.get("If-Modified-Since"),
                if_unmodified_since: req.headers.get("If-Unmodified-Since"),
            },
            accept_encoding: accept_encoding.as_deref(),
            accept: accept.as_deref(),
        };
        send_head(hooks, &request)
    };
    write_reply(req, reply)
}

/// Sends a [`HeadReply`]: status, headers, and for GET the body.
pub fn write_reply(req: &mut HttpRequest<'_>, reply: HeadReply) -> io::Result<()> {
    let is_head = req.command == "HEAD";
    match reply {
        HeadReply::MovedPermanently { location } => {
            req.send_response(301, None)?;
            req.send_header("Location", &location)?;
            req.send_header("Content-Length", "0")?;
            req.end_headers()
        }
        HeadReply::NotFound { message } => req.send_error(404, Some(message)),
        HeadReply::Listing { page, headers } => {
            req.send_response(200, None)?;
            let mut headers = headers.iter();
            // Content-type first and Content-Length second, as Python's page.
            if let Some((name, value)) = headers.next() {
                req.send_header(name, value)?;
            }
            req.send_header("Content-Length", &page.len().to_string())?;
            for (name, value) in headers {
                req.send_header(name, value)?;
            }
            req.end_headers()?;
            if !is_head {
                req.wfile.write_all(&page)?;
            }
            Ok(())
        }
        HeadReply::NotModified { headers } => {
            req.send_response(304, None)?;
            for (name, value) in &headers {
                req.send_header(name, value)?;
            }
            req.end_headers()
        }
        HeadReply::PreconditionFailed => req.send_error(412, None),
        HeadReply::RangeNotSatisfiable { complete_length } => {
            req.send_response(416, None)?;
            req.send_header("Content-Range", &unsatisfied_content_range(complete_length))?;
            req.send_header("Content-Length", "0")?;
            req.end_headers()
        }
        HeadReply::File(mut file) => {
            req.send_response(file.status, None)?;
            send_file_headers(req, std::mem::take(&mut file.headers))?;
            req.end_headers()?;
            if is_head {
                return Ok(());
            }
            write_file_body(req, file).inspect_err(|error| {
                // The status line is logged already and says 200; say that the body did not all go.
                // A timeout is logged by the connection loop, as Python's "Request timed out".
                if !matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) {
                    req.log_error(format_args!("File body cut short: {error}"));
                }
            })
        }
    }
}

/// How many distinct file answers' headers each thread keeps checked.
const KEPT_HEADER_BLOCKS: usize = 4;

thread_local! {
    /// The headers of this thread's last few file answers, each with its lines as [`HeaderBlock`] checked them.
    static RECENT_HEADERS: RefCell<Vec<(ReplyHeaders, HeaderBlock)>> = const { RefCell::new(Vec::new()) };
}

/// Sends a file answer's headers: lines equal to those of a recent answer (the same file and version, asked for again)
/// go out as they were checked then, one copy instead of a check of each header.
fn send_file_headers(req: &mut HttpRequest<'_>, headers: ReplyHeaders) -> io::Result<()> {
    RECENT_HEADERS.with_borrow_mut(|recent| {
        if let Some((_, block)) = recent.iter().find(|(kept, _)| *kept == headers) {
            return req.send_header_block(block);
        }
        let mut block = HeaderBlock::new();
        for (name, value) in &headers {
            block.push(name, value)?;
        }
        req.send_header_block(&block)?;
        if recent.len() == KEPT_HEADER_BLOCKS {
            recent.remove(0);
        }
        recent.push((headers, block));
        Ok(())
    })
}

/// Sends a file's body: one kept in memory with its headers in one write, anything else by reference
/// ([`HttpRequest::send_file`]: sendfile(2) on a plain socket, sent as the client reads without holding a thread in the readiness mode).
fn write_file_body(req: &mut HttpRequest<'_>, file: FileReply) -> io::Result<()> {
    let whole;
    let ranges: &[ByteRange] = match &file.body {
        FileBody::Whole { length: 0 } => &[],
        FileBody::Whole { length } => {
            whole = ByteRange {
                start: 0,
                end: length - 1,
            };
            std::slice::from_ref(&whole)
        }
        FileBody::Range(range) => std::slice::from_ref(range),
        FileBody::Multipart(layout) => layout.ranges(),
    };
    let multipart = match &file.body {
        FileBody::Multipart(layout) => Some(layout),
        _ => None,
    };
    let source = match file.content {
        FileContent::Cached(bytes) => Source::Memory(bytes),
        FileContent::Open(file) => Source::File(Arc::new(file)),
    };
    for range in ranges {
        if let Some(layout) = multipart {
            req.wfile.write_all(layout.part_header(range).as_bytes())?;
        }
        match &source {
            // A large body kept in memory (a compressed file) goes by reference: no copy, and no wait for the client.
            Source::Memory(bytes)
                if multipart.is_none()
                    && range.start == 0
                    && range.len() == bytes.len() as u64
                    && range.len() > crate::small_files::SMALL_FILE =>
            {
                req.send_shared(Arc::clone(bytes))?;
            }
            Source::Memory(bytes) => {
                let slice = usize::try_from(range.start)
                    .ok()
                    .zip(usize::try_from(range.end).ok())
                    .and_then(|(start, end)| bytes.get(start..=end))
                    .ok_or_else(|| {
                        io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "file shorter than the range promised",
                        )
                    })?;
                req.wfile.write_all(slice)?;
            }
            Source::File(file) => req.send_file(Arc::clone(file), range.start, range.len())?,
        }
    }
    if let Some(layout) = multipart {
        req.wfile.write_all(layout.trailer().as_bytes())?;
    }
    Ok(())
}

/// A body's bytes: kept in memory, or read from the open file as they are sent.
enum Source {
    Memory(Arc<[u8]>),
    File(Arc<std::fs::File>),
}

#[cfg(test)]
mod tests {
    use super::*;

    // Mirrors test_httpservers: SimpleHTTPRequestHandlerTestCase (class attributes: server_version, protocol_version, extensions_map).
    #[test]
    fn python_settings() {
        let mut handler = SimpleHttpRequestHandler::new("/srv");
        assert_eq!(
            BaseHttpRequestHandler::server_version(&handler),
            "SimpleHTTP/0.6"
        );
        assert_eq!(
            BaseHttpRequestHandler::protocol_version(&handler),
            "HTTP/1.0"
        );
        assert_eq!(
            SimpleHooks::index_pages(&handler),
            ["index.html", "index.htm"]
        );
        assert_eq!(
            SimpleHooks::guess_type(&handler, Path::new("a.gz")),
            "application/gzip"
        );
        handler
            .extensions_map
            .push((".md".to_owned(), "text/markdown; charset=utf-8".to_owned()));
        assert_eq!(
            SimpleHooks::guess_type(&handler, Path::new("README.md")),
            "text/markdown; charset=utf-8"
        );
        assert_eq!(
            SimpleHooks::translate_path(&handler, "/a/../b"),
            Path::new("/srv/b")
        );
        assert!(SimpleHttpRequestHandler::in_current_directory().is_ok());
    }
}
