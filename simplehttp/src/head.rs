//! Python's `send_head` as a decision: what to answer a GET or HEAD for a path under the served directory.
//!
//! [`send_head`] looks at the filesystem (stat, open, list) but writes nothing; the handler turns its [`HeadReply`] into a response.
//! The overridable parts of `SimpleHTTPRequestHandler` (`translate_path`, `index_pages`, `guess_type`, `list_directory`) are the [`SimpleHooks`] trait, so `cgihttp` can reuse all of this by composition.

use std::borrow::Cow;
use std::fs::{self, File};
use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use crate::conditional::{etag_for, evaluate_preconditions, http_date, Conditions, Precondition};
use crate::listing::{list_directory_page, read_listing_entries};
use crate::mime::guess_type;
use crate::range::{
    copy_range, if_range_matches, new_boundary, parse_range, ByteRange, MultipartByteranges,
    RangeRequest,
};
use crate::url_path::{
    directory_redirect_location, has_trailing_slash, path_ends_with_slash, translate_path,
};

/// Python's `SimpleHTTPRequestHandler.index_pages`.
pub const INDEX_PAGES: &[&str] = &["index.html", "index.htm"];

/// The overridable parts of `SimpleHTTPRequestHandler`, with Python's behavior as the defaults.
pub trait SimpleHooks {
    /// The served directory (Python's `directory`, default the current directory).
    fn directory(&self) -> &Path;

    /// Python's `translate_path`; see [`translate_path`](crate::translate_path).
    ///
    /// The request path is the request line read as ISO-8859-1, so its characters are taken as the raw bytes that came
    /// (basehttp refuses raw bytes outside ASCII in a request-target, so over basehttp the path is ASCII).
    /// The default reads the path as basehttp's [`RequestTarget`](basehttp::RequestTarget), as cgihttp's script routing does;
    /// an override that reads it otherwise must keep routing and files in agreement itself.
    fn translate_path(&self, request_path: &str) -> PathBuf {
        translate_path(request_path, self.directory())
    }

    /// Python's `index_pages`: the names tried, in order, for a directory.
    fn index_pages(&self) -> &[&str] {
        INDEX_PAGES
    }

    /// Python's `guess_type`; see [`guess_type`](crate::guess_type) and, for an own `extensions_map`, [`guess_type_with`](crate::guess_type_with).
    fn guess_type(&self, path: &Path) -> Cow<'_, str> {
        guess_type(path)
    }

    /// Python's `list_directory` without the sending: the page for the directory at `path`, requested as `request_path`.
    ///
    /// # Errors
    ///
    /// The error from reading the directory; it is answered with 404 `No permission to list directory`.
    fn list_directory(&self, path: &Path, request_path: &str) -> io::Result<String> {
        Ok(list_directory_page(
            request_path,
            read_listing_entries(path)?,
        ))
    }
}

/// A [`SimpleHooks`] with every default: serve this directory as Python does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeDirectory(pub PathBuf);

impl SimpleHooks for ServeDirectory {
    fn directory(&self) -> &Path {
        &self.0
    }
}

/// The parts of a GET or HEAD request that [`send_head`] reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileRequest<'a> {
    /// The method; `Range` is honoured only for `GET` (RFC 9110 §14.2).
    pub command: &'a str,
    /// The request path as sent.
    pub path: &'a str,
    /// `Range`.
    pub range: Option<&'a str>,
    /// `If-Range`.
    pub if_range: Option<&'a str>,
    /// `If-Match`, `If-None-Match`, `If-Modified-Since`, `If-Unmodified-Since`.
    pub conditions: Conditions<'a>,
}

/// What [`send_head`] decided.
#[derive(Debug)]
pub enum HeadReply {
    /// 301 with `Location` and `Content-Length: 0`: a directory asked for without a trailing slash.
    MovedPermanently {
        /// The `Location` value.
        location: String,
    },
    /// 404 with this message: `File not found` or `No permission to list directory`.
    NotFound {
        /// The message for `send_error`.
        message: &'static str,
    },
    /// 200 with the listing page as `text/html; charset=utf-8`.
    Listing {
        /// The page.
        page: String,
    },
    /// 304 with these headers and no body.
    NotModified {
        /// `ETag` and `Last-Modified`, as RFC 9110 §15.4.5 asks.
        headers: Vec<(&'static str, String)>,
    },
    /// 412 Precondition Failed.
    PreconditionFailed,
    /// 416 with `Content-Range: bytes */length`.
    RangeNotSatisfiable {
        /// The file's length.
        complete_length: u64,
    },
    /// 200 or 206 with a body from the open file.
    File(FileReply),
}

/// Where a file's bytes come from.
#[derive(Debug)]
pub enum FileContent {
    /// The open file.
    Open(File),
    /// The whole file, read before: small files are kept in memory while a fresh stat shows them unchanged.
    Cached(Arc<[u8]>),
}

/// A file to send: the status, its headers in order, and what part of it makes the body.
#[derive(Debug)]
pub struct FileReply {
    /// The file's bytes.
    pub content: FileContent,
    /// 200 or 206.
    pub status: u16,
    /// The headers, in the order to send them (`Content-type` and `Content-Length` first, as Python).
    pub headers: Vec<(&'static str, String)>,
    /// The body's layout.
    pub body: FileBody,
}

/// Which bytes of a file make the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileBody {
    /// The first `length` bytes (the whole file as it was when opened).
    Whole {
        /// The file's length.
        length: u64,
    },
    /// One range.
    Range(ByteRange),
    /// Several ranges as `multipart/byteranges`.
    Multipart(MultipartByteranges),
}

impl FileBody {
    /// The exact number of body bytes, which `Content-Length` announces.
    pub fn content_length(&self) -> u64 {
        match self {
            FileBody::Whole { length } => *length,
            FileBody::Range(range) => range.len(),
            FileBody::Multipart(layout) => layout.content_length(),
        }
    }
}

impl FileReply {
    /// Copies the body to `output` (the portable path; a handler may use `sendfile` for [`FileBody::Whole`] and [`FileBody::Range`] instead).
    ///
    /// # Errors
    ///
    /// An error from the file or `output`, or [`io::ErrorKind::UnexpectedEof`] if the file shrank below the promised length.
    pub fn write_body<W: Write>(&mut self, output: &mut W) -> io::Result<()> {
        match &mut self.content {
            FileContent::Open(file) => write_layout(file, &self.body, output),
            FileContent::Cached(bytes) => {
                write_layout(&mut Cursor::new(&bytes[..]), &self.body, output)
            }
        }
    }
}

fn write_layout<R: Read + Seek, W: Write>(
    source: &mut R,
    body: &FileBody,
    output: &mut W,
) -> io::Result<()> {
    match body {
        FileBody::Whole { length } => match length.checked_sub(1) {
            None => Ok(()),
            Some(end) => copy_range(source, output, &ByteRange { start: 0, end }),
        },
        FileBody::Range(range) => copy_range(source, output, range),
        FileBody::Multipart(layout) => {
            source.seek(SeekFrom::Start(0))?;
            layout.write_to(source, output)
        }
    }
}

/// Python's `send_head` as a decision, with RFC 9110's conditional and range requests added.
///
/// In Python's order: translate the path; a directory without a trailing slash is redirected; a directory with one serves its first index page that is a regular file, or its listing; a file asked for with a trailing slash, or one that cannot be opened, is 404 `File not found`.
/// Then, where Python only checks `If-Modified-Since`, the preconditions of RFC 9110 §13.2.2 are evaluated ([`evaluate_preconditions`](crate::evaluate_preconditions)), and a GET's `Range` (guarded by `If-Range`) selects part of the file.
///
/// Unlike Python, only regular files are opened: a FIFO or device under the directory is 404 instead of blocking the handler.
pub fn send_head<H: SimpleHooks + ?Sized>(hooks: &H, request: &FileRequest<'_>) -> HeadReply {
    let mut path = hooks.translate_path(request.path);
    // One stat decides between a directory and a file; the fstat after opening decides what is sent.
    let mut metadata = fs::metadata(&path);
    if metadata.as_ref().is_ok_and(|metadata| metadata.is_dir()) {
        if !has_trailing_slash(request.path) {
            return HeadReply::MovedPermanently {
                location: directory_redirect_location(request.path),
            };
        }
        let index = hooks
            .index_pages()
            .iter()
            .map(|name| path.join(name))
            .find(|candidate| candidate.is_file());
        match index {
            Some(index) => {
                metadata = fs::metadata(&index);
                path = index;
            }
            None => {
                return match hooks.list_directory(&path, request.path) {
                    Ok(page) => HeadReply::Listing { page },
                    Err(_) => HeadReply::NotFound {
                        message: "No permission to list directory",
                    },
                };
            }
        }
    }
    let content_type = hooks.guess_type(&path);
    const NOT_FOUND: HeadReply = HeadReply::NotFound {
        message: "File not found",
    };
    if path_ends_with_slash(&path) {
        return NOT_FOUND;
    }
    // Checked before opening so a FIFO cannot block the open, nor a device be opened at all.
    let Some(metadata) = metadata.ok().filter(|metadata| metadata.is_file()) else {
        return NOT_FOUND;
    };
    let modified = |metadata: &fs::Metadata| metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    if let Some(bytes) = crate::small_files::lookup(&path, &metadata) {
        let length = bytes.len() as u64;
        return file_reply(
            FileContent::Cached(bytes),
            request,
            &content_type,
            length,
            modified(&metadata),
        );
    }
    let Ok(file) = File::open(&path) else {
        return NOT_FOUND;
    };
    let Ok(metadata) = file.metadata() else {
        return NOT_FOUND;
    };
    let length = metadata.len();
    if length <= crate::small_files::SMALL_FILE {
        let mut bytes = vec![0; length as usize];
        if file.read_exact_at(&mut bytes, 0).is_ok() {
            let bytes: Arc<[u8]> = Arc::from(bytes);
            crate::small_files::remember(&path, &metadata, &bytes);
            return file_reply(
                FileContent::Cached(bytes),
                request,
                &content_type,
                length,
                modified(&metadata),
            );
        }
    }
    file_reply(
        FileContent::Open(file),
        request,
        &content_type,
        length,
        modified(&metadata),
    )
}

/// The reply for a regular file of `length` bytes last modified at `modified`.
fn file_reply(
    content: FileContent,
    request: &FileRequest<'_>,
    content_type: &str,
    length: u64,
    modified: SystemTime,
) -> HeadReply {
    let etag = etag_for(length, modified);
    let last_modified = http_date(modified);
    let is_get = request.command == "GET";
    let is_get_or_head = is_get || request.command == "HEAD";
    match evaluate_preconditions(&request.conditions, is_get_or_head, &etag, modified) {
        Precondition::Proceed => {}
        Precondition::NotModified => {
            return HeadReply::NotModified {
                headers: vec![("ETag", etag), ("Last-Modified", last_modified)],
            }
        }
        Precondition::PreconditionFailed => return HeadReply::PreconditionFailed,
    }
    let range_applies = is_get
        && request
            .if_range
            .is_none_or(|if_range| if_range_matches(if_range, &etag, modified));
    let range_request = match request.range {
        Some(range) if range_applies => parse_range(range, length),
        _ => RangeRequest::Full,
    };
    let validators = [
        ("Last-Modified", last_modified),
        ("ETag", etag),
        ("Accept-Ranges", "bytes".to_owned()),
    ];
    let (status, mut headers, body) = match range_request {
        RangeRequest::Unsatisfiable => {
            return HeadReply::RangeNotSatisfiable {
                complete_length: length,
            }
        }
        RangeRequest::Full => (
            200,
            vec![
                ("Content-type", content_type.to_owned()),
                ("Content-Length", length.to_string()),
            ],
            FileBody::Whole { length },
        ),
        RangeRequest::Partial(ranges) if ranges.len() == 1 => {
            let range = ranges[0];
            (
                206,
                vec![
                    ("Content-type", content_type.to_owned()),
                    ("Content-Length", range.len().to_string()),
                    ("Content-Range", range.content_range(length)),
                ],
                FileBody::Range(range),
            )
        }
        RangeRequest::Partial(ranges) => {
            let layout = MultipartByteranges::new(new_boundary(), content_type, length, ranges);
            (
                206,
                vec![
                    ("Content-type", layout.content_type()),
                    ("Content-Length", layout.content_length().to_string()),
                ],
                FileBody::Multipart(layout),
            )
        }
    };
    headers.extend(validators);
    HeadReply::File(FileReply {
        content,
        status,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Site {
        root: tempfile::TempDir,
    }

    impl Site {
        fn new() -> Self {
            let root = tempfile::tempdir().unwrap();
            fs::write(root.path().join("test"), b"We are the knights who say Ni!").unwrap();
            fs::create_dir(root.path().join("sub")).unwrap();
            fs::create_dir(root.path().join("withindex")).unwrap();
            fs::write(root.path().join("withindex/index.htm"), b"<p>index</p>").unwrap();
            fs::create_dir(root.path().join("withindex/index.html")).unwrap();
            Self { root }
        }

        fn get(&self, path: &str) -> HeadReply {
            self.request(FileRequest {
                command: "GET",
                path,
                ..FileRequest::default()
            })
        }

        fn request(&self, request: FileRequest<'_>) -> HeadReply {
            send_head(&ServeDirectory(self.root.path().to_path_buf()), &request)
        }
    }

    fn body(reply: HeadReply) -> (u16, Vec<(&'static str, String)>, Vec<u8>) {
        match reply {
            HeadReply::File(mut file) => {
                let mut output = Vec::new();
                file.write_body(&mut output).unwrap();
                assert_eq!(output.len() as u64, file.body.content_length());
                (file.status, file.headers, output)
            }
            other => panic!("expected a file, got {other:?}"),
        }
    }

    fn header<'a>(headers: &'a [(&'static str, String)], name: &str) -> &'a str {
        headers
            .iter()
            .find(|(candidate, _)| *candidate == name)
            .map(|(_, value)| value.as_str())
            .unwrap_or_else(|| panic!("no {name} in {headers:?}"))
    }

    // Mirrors test_httpservers: SimpleHTTPServerTestCase.test_get.
    #[test]
    fn test_get() {
        let site = Site::new();
        let (status, headers, data) = body(site.get("/test"));
        assert_eq!(status, 200);
        assert_eq!(data, b"We are the knights who say Ni!");
        assert_eq!(header(&headers, "Content-type"), "application/octet-stream");
        assert_eq!(header(&headers, "Content-Length"), "30");
        assert_eq!(headers[0].0, "Content-type");
        assert_eq!(headers[1].0, "Content-Length");
        assert_eq!(headers[2].0, "Last-Modified");
        assert!(matches!(
            site.get("/test/"),
            HeadReply::NotFound {
                message: "File not found"
            }
        ));
        assert!(matches!(
            site.get("/test%2f"),
            HeadReply::NotFound {
                message: "File not found"
            }
        ));
        assert!(matches!(
            site.get("/nothere"),
            HeadReply::NotFound {
                message: "File not found"
            }
        ));
        assert!(matches!(site.get("/sub/"), HeadReply::Listing { .. }));
        assert!(matches!(site.get("/sub%2f"), HeadReply::Listing { .. }));
        assert!(matches!(site.get("/"), HeadReply::Listing { .. }));
        match site.get("/sub") {
            HeadReply::MovedPermanently { location } => assert_eq!(location, "/sub/"),
            other => panic!("{other:?}"),
        }
        match site.get("/sub?hi=1") {
            HeadReply::MovedPermanently { location } => assert_eq!(location, "/sub/?hi=1"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(site.get("/sub/?hi=2"), HeadReply::Listing { .. }));
        assert!(matches!(
            site.get("/ThisDoesNotExist/"),
            HeadReply::NotFound {
                message: "File not found"
            }
        ));
        fs::write(site.root.path().join("index.html"), b"Dummy index file\r\n").unwrap();
        let (status, _, data) = body(site.get("/"));
        assert_eq!(
            (status, data.as_slice()),
            (200, b"Dummy index file\r\n".as_slice())
        );
    }

    // Mirrors test_httpservers: SimpleHTTPServerTestCase.test_head.
    #[test]
    fn test_head() {
        let site = Site::new();
        let reply = site.request(FileRequest {
            command: "HEAD",
            path: "/test",
            ..FileRequest::default()
        });
        match reply {
            HeadReply::File(file) => {
                assert_eq!(file.status, 200);
                assert_eq!(header(&file.headers, "Content-Length"), "30");
                assert_eq!(
                    header(&file.headers, "Content-type"),
                    "application/octet-stream"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    // Mirrors test_httpservers: SimpleHTTPServerTestCase.test_last_modified.
    #[test]
    fn test_last_modified() {
        let site = Site::new();
        let modified = fs::metadata(site.root.path().join("test"))
            .unwrap()
            .modified()
            .unwrap();
        let (_, headers, _) = body(site.get("/test"));
        assert_eq!(header(&headers, "Last-Modified"), http_date(modified));
    }

    // Mirrors test_httpservers: SimpleHTTPServerTestCase.test_get_dir_redirect_location_domain_injection_bug.
    #[test]
    fn test_get_dir_redirect_location_domain_injection_bug() {
        let site = Site::new();
        fs::create_dir_all(site.root.path().join("tempdir/existing_directory")).unwrap();
        let url = "/python.org/..%2f..%2f..%2f..%2f..%2f../%0a%0d/../tempdir/existing_directory";
        let expected = format!("{url}/");
        let location_of = |path: &str| match site.get(path) {
            HeadReply::MovedPermanently { location } => location,
            other => panic!("{path:?}: {other:?}"),
        };
        assert_eq!(location_of(url), expected);
        assert_eq!(location_of(&format!("/{url}")), expected);
        assert_eq!(location_of(&format!("//{url}")), expected);
        // Python keeps the scheme and host of such a path in the Location; here it keeps the path alone,
        // so a redirect can never name a host, whatever the target said.
        assert_eq!(location_of(&format!("https://pypi.org/{url}")), expected);
    }

    // Mirrors test_httpservers: SimpleHTTPServerTestCase.test_path_without_leading_slash.
    #[test]
    fn test_path_without_leading_slash() {
        let site = Site::new();
        assert_eq!(body(site.get("test")).0, 200);
        match site.get("sub?x=1") {
            HeadReply::MovedPermanently { location } => assert_eq!(location, "sub/?x=1"),
            other => panic!("{other:?}"),
        }
    }

    // Mirrors test_httpservers: SimpleHTTPServerTestCase.test_get (index.html is a directory, so index.htm is served).
    #[test]
    fn index_page_must_be_a_regular_file() {
        let site = Site::new();
        let (status, headers, data) = body(site.get("/withindex/"));
        assert_eq!(status, 200);
        assert_eq!(data, b"<p>index</p>");
        assert_eq!(header(&headers, "Content-type"), "text/html");
    }

    #[cfg(unix)]
    #[test]
    fn unreadable_directory_is_404() {
        let site = Site::new();
        let hooks = ServeDirectory(site.root.path().to_path_buf());
        struct Refuse(ServeDirectory);
        impl SimpleHooks for Refuse {
            fn directory(&self) -> &Path {
                self.0.directory()
            }
            fn list_directory(&self, _: &Path, _: &str) -> io::Result<String> {
                Err(io::Error::from(io::ErrorKind::PermissionDenied))
            }
        }
        let request = FileRequest {
            command: "GET",
            path: "/sub/",
            ..FileRequest::default()
        };
        assert!(matches!(
            send_head(&Refuse(hooks), &request),
            HeadReply::NotFound {
                message: "No permission to list directory"
            }
        ));
    }

    #[test]
    fn conditional_and_range_requests() {
        let site = Site::new();
        let (_, headers, _) = body(site.get("/test"));
        let etag = header(&headers, "ETag").to_owned();
        let last_modified = header(&headers, "Last-Modified").to_owned();
        let request = |conditions, range, if_range| {
            site.request(FileRequest {
                command: "GET",
                path: "/test",
                range,
                if_range,
                conditions,
            })
        };
        let not_modified = request(
            Conditions {
                if_modified_since: Some(&last_modified),
                ..Conditions::default()
            },
            None,
            None,
        );
        assert!(matches!(not_modified, HeadReply::NotModified { .. }));
        let not_modified = request(
            Conditions {
                if_none_match: Some(&etag),
                ..Conditions::default()
            },
            None,
            None,
        );
        assert!(matches!(not_modified, HeadReply::NotModified { .. }));
        let failed = request(
            Conditions {
                if_match: Some("\"nope\""),
                ..Conditions::default()
            },
            None,
            None,
        );
        assert!(matches!(failed, HeadReply::PreconditionFailed));

        let (status, headers, data) = body(request(Conditions::default(), Some("bytes=0-5"), None));
        assert_eq!((status, data.as_slice()), (206, b"We are".as_slice()));
        assert_eq!(header(&headers, "Content-Range"), "bytes 0-5/30");
        assert_eq!(header(&headers, "Content-Length"), "6");

        let (status, _, data) = body(request(
            Conditions::default(),
            Some("bytes=-3"),
            Some(&etag),
        ));
        assert_eq!((status, data.as_slice()), (206, b"Ni!".as_slice()));

        let (status, _, data) = body(request(
            Conditions::default(),
            Some("bytes=-3"),
            Some("\"old\""),
        ));
        assert_eq!((status, data.len()), (200, 30));

        let (status, headers, data) =
            body(request(Conditions::default(), Some("bytes=0-1,-1"), None));
        assert_eq!(status, 206);
        let content_type = header(&headers, "Content-type");
        let boundary = content_type
            .strip_prefix("multipart/byteranges; boundary=")
            .unwrap();
        let expected = format!(
            "\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 0-1/30\r\n\r\nWe\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 29-29/30\r\n\r\n!\r\n--{boundary}--\r\n"
        );
        assert_eq!(String::from_utf8(data).unwrap(), expected);

        assert!(matches!(
            request(Conditions::default(), Some("bytes=30-"), None),
            HeadReply::RangeNotSatisfiable {
                complete_length: 30
            }
        ));
    }

    #[test]
    fn head_ignores_range() {
        let site = Site::new();
        let reply = site.request(FileRequest {
            command: "HEAD",
            path: "/test",
            range: Some("bytes=0-1"),
            ..FileRequest::default()
        });
        match reply {
            HeadReply::File(file) => {
                assert_eq!(file.status, 200);
                assert_eq!(file.body, FileBody::Whole { length: 30 });
            }
            other => panic!("{other:?}"),
        }
    }

    #[cfg(unix)]
    #[test]
    fn only_regular_files_are_opened() {
        let site = Site::new();
        let _listener =
            std::os::unix::net::UnixListener::bind(site.root.path().join("socket")).unwrap();
        assert!(matches!(site.get("/socket"), HeadReply::NotFound { .. }));
    }

    /// Symbolic links are followed, as in Python, even when they point outside the directory:
    /// `translate_path` keeps the request inside the root, but a link placed there by the operator is trusted.
    /// SECURITY.md lists this as a known gap.
    #[cfg(unix)]
    #[test]
    fn symlinks_out_of_the_root_are_followed() {
        let site = Site::new();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), b"outside").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), site.root.path().join("link"))
            .unwrap();
        let (status, _, data) = body(site.get("/link"));
        assert_eq!((status, data.as_slice()), (200, &b"outside"[..]));
    }
}
