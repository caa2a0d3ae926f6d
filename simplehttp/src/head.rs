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

use crate::compress::{
    is_compressible, negotiate_encoding, ContentCoding, MAX_COMPRESSED_SOURCE, MIN_COMPRESSED_SIZE,
};
use crate::conditional::{etag_for, evaluate_preconditions, http_date, Conditions, Precondition};
use crate::listing::{
    json_listing, list_directory_page, read_listing_entries, read_listing_entries_with_metadata,
    sortable_listing_page, ListingEntry, ListingOrder, JSON_LISTING_CONTENT_TYPE,
    LISTING_CONTENT_TYPE,
};
use crate::mime::guess_type;
use crate::options::{
    has_dotfile, is_dotfile, open_file_allowed, path_allowed, FileOptions, ListingStyle, Symlinks,
};
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
        let entries = read_listing_entries(path)?;
        let entries = visible_entries(entries, path, self.directory(), self.options());
        Ok(list_directory_page(request_path, entries))
    }

    /// What the handler does beyond Python ([`FileOptions`]); the default is [`FileOptions::PYTHON`], nothing beyond it.
    fn options(&self) -> &FileOptions {
        &crate::options::PYTHON_OPTIONS
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
    /// `Accept-Encoding`, every value joined: the content codings the client takes.
    pub accept_encoding: Option<&'a str>,
    /// `Accept`, every value joined: JSON listings and the fallback page look at it.
    pub accept: Option<&'a str>,
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
    /// 200 with a listing: Python's page (`text/html; charset=utf-8`), the sortable page or JSON.
    Listing {
        /// The body, compressed when `Content-Encoding` says so.
        page: Vec<u8>,
        /// `Content-type`, and `Content-Encoding` and `Vary` where they apply; `Content-Length` is the page's.
        headers: ReplyHeaders,
    },
    /// 304 with these headers and no body.
    NotModified {
        /// `ETag` and `Last-Modified`, as RFC 9110 §15.4.5 asks.
        headers: ReplyHeaders,
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

/// Headers of a reply, in the order to send them; a value known when compiling is not copied.
pub type ReplyHeaders = Vec<(&'static str, Cow<'static, str>)>;

/// A file to send: the status, its headers in order, and what part of it makes the body.
#[derive(Debug)]
pub struct FileReply {
    /// The file's bytes.
    pub content: FileContent,
    /// 200 or 206.
    pub status: u16,
    /// The headers, in the order to send them (`Content-type` and `Content-Length` first, as Python).
    pub headers: ReplyHeaders,
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
/// What [`SimpleHooks::options`] turns on (compression, hidden dotfiles, symbolic links, the sortable or JSON listing, the fallback page) applies here too.
pub fn send_head<H: SimpleHooks + ?Sized>(hooks: &H, request: &FileRequest<'_>) -> HeadReply {
    let options = hooks.options();
    let reply = resolve(hooks, request, options);
    match (&reply, &options.spa_fallback) {
        (
            HeadReply::NotFound {
                message: FILE_NOT_FOUND,
            },
            Some(fallback),
        ) if accepts_html(request.accept) => {
            let path = hooks.directory().join(fallback);
            match fs::metadata(&path) {
                Ok(metadata) if metadata.is_file() => {
                    serve_file(hooks, request, options, path, Ok(metadata))
                }
                _ => reply,
            }
        }
        _ => reply,
    }
}

/// The message of a 404 for a name that is not there (or may not be shown).
const FILE_NOT_FOUND: &str = "File not found";

const NOT_FOUND: HeadReply = HeadReply::NotFound {
    message: FILE_NOT_FOUND,
};

/// Whether an `Accept` value names HTML with a weight above 0 (a browser navigating; not `*/*` alone, as scripts send).
fn accepts_html(accept: Option<&str>) -> bool {
    media_weight(accept, "text/html").is_some_and(|weight| weight > 0.0)
}

/// The weight `accept` gives a media type it names exactly (`type/subtype`); `None` when not named.
fn media_weight(accept: Option<&str>, wanted: &str) -> Option<f32> {
    accept?
        .split(',')
        .filter_map(|range| {
            let mut parts = range.split(';');
            let media = parts.next()?.trim();
            if !media.eq_ignore_ascii_case(wanted) {
                return None;
            }
            let weight = parts
                .filter_map(|parameter| parameter.trim().strip_prefix("q="))
                .filter_map(|weight| weight.trim().parse::<f32>().ok())
                .next_back()
                .unwrap_or(1.0);
            Some(weight)
        })
        .reduce(f32::max)
}

/// Whether a listing request asks for JSON: `?format=json`, or `Accept` weighing `application/json` above `text/html`.
fn wants_json(request: &FileRequest<'_>, query: Option<&str>) -> bool {
    let asked = basehttp::parse_qsl(query.unwrap_or(""), false)
        .iter()
        .any(|(name, value)| name == "format" && value == "json");
    asked
        || media_weight(request.accept, "application/json").is_some_and(|json| {
            json > 0.0 && json > media_weight(request.accept, "text/html").unwrap_or(0.0)
        })
}

fn resolve<H: SimpleHooks + ?Sized>(
    hooks: &H,
    request: &FileRequest<'_>,
    options: &FileOptions,
) -> HeadReply {
    let mut path = hooks.translate_path(request.path);
    let root = hooks.directory();
    if options.hide_dotfiles && has_dotfile(&path, root) {
        return NOT_FOUND;
    }
    if !path_allowed(&path, root, options.symlinks) {
        return NOT_FOUND;
    }
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
            .find(|candidate| {
                candidate.is_file() && path_allowed(candidate, root, options.symlinks)
            });
        match index {
            Some(index) => {
                metadata = fs::metadata(&index);
                path = index;
            }
            None => return listing_reply(hooks, request, options, &path),
        }
    }
    serve_file(hooks, request, options, path, metadata)
}

/// The listing of the directory at `path`: Python's page through [`SimpleHooks::list_directory`], or the sortable page or JSON.
fn listing_reply<H: SimpleHooks + ?Sized>(
    hooks: &H,
    request: &FileRequest<'_>,
    options: &FileOptions,
    path: &Path,
) -> HeadReply {
    const NO_PERMISSION: HeadReply = HeadReply::NotFound {
        message: "No permission to list directory",
    };
    let target = basehttp::RequestTarget::parse(request.path);
    let query = target.query();
    let json = options.json_listing && wants_json(request, query);
    let (page, content_type) = match options.listing {
        _ if json => {
            let Ok(entries) = read_listing_entries_with_metadata(path) else {
                return NO_PERMISSION;
            };
            let entries = visible_entries(entries, path, hooks.directory(), options);
            let order = ListingOrder::from_query(query);
            (json_listing(entries, order), JSON_LISTING_CONTENT_TYPE)
        }
        ListingStyle::Python => match hooks.list_directory(path, request.path) {
            Ok(page) => (page, LISTING_CONTENT_TYPE),
            Err(_) => return NO_PERMISSION,
        },
        ListingStyle::Sortable => {
            let Ok(entries) = read_listing_entries_with_metadata(path) else {
                return NO_PERMISSION;
            };
            let entries = visible_entries(entries, path, hooks.directory(), options);
            let order = ListingOrder::from_query(query);
            let page =
                sortable_listing_page(request.path, entries, order, options.upload.is_some());
            (page, LISTING_CONTENT_TYPE)
        }
    };
    let mut headers: ReplyHeaders = vec![("Content-type", content_type.into())];
    let mut page = page.into_bytes();
    if options.json_listing {
        headers.push(("Vary", "Accept".into()));
    }
    if options.compress && crate::compress::CAN_COMPRESS {
        if page.len() as u64 >= MIN_COMPRESSED_SIZE {
            if let Some(coding) = negotiate_encoding(request.accept_encoding, &ContentCoding::ALL) {
                if let Some(compressed) = crate::compress::compressed_page(coding, &page) {
                    page = compressed;
                    headers.push(("Content-Encoding", coding.token().into()));
                }
            }
        }
        match headers.iter_mut().find(|(name, _)| *name == "Vary") {
            Some((_, vary)) => vary.to_mut().push_str(", Accept-Encoding"),
            None => headers.push(("Vary", "Accept-Encoding".into())),
        }
    }
    HeadReply::Listing { page, headers }
}

/// The entries the options let a listing show: no dotfiles when they are hidden, no links that would not be followed.
pub(crate) fn visible_entries(
    mut entries: Vec<ListingEntry>,
    directory: &Path,
    root: &Path,
    options: &FileOptions,
) -> Vec<ListingEntry> {
    if options.hide_dotfiles {
        entries.retain(|entry| !is_dotfile(&entry.name));
    }
    match options.symlinks {
        Symlinks::Follow => {}
        Symlinks::Never => entries.retain(|entry| !entry.is_symlink),
        Symlinks::InRootOnly => entries.retain(|entry| {
            !entry.is_symlink
                || path_allowed(
                    &directory.join(name_path(&entry.name)),
                    root,
                    Symlinks::InRootOnly,
                )
        }),
    }
    entries
}

/// A name's bytes as a path.
fn name_path(name: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(name))
}

/// The reply for the file at `path`, whose stat is `metadata`.
fn serve_file<H: SimpleHooks + ?Sized>(
    hooks: &H,
    request: &FileRequest<'_>,
    options: &FileOptions,
    path: PathBuf,
    metadata: io::Result<fs::Metadata>,
) -> HeadReply {
    let content_type = hooks.guess_type(&path);
    if path_ends_with_slash(&path) {
        return NOT_FOUND;
    }
    // Checked before opening so a FIFO cannot block the open, nor a device be opened at all.
    let Some(metadata) = metadata.ok().filter(|metadata| metadata.is_file()) else {
        return NOT_FOUND;
    };
    let root = hooks.directory();
    let modified = |metadata: &fs::Metadata| metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    let is_get = request.command == "GET";
    // A Range request is answered from the file as it is: byte ranges of a compressed body would change with the coding.
    let may_encode = (is_get || request.command == "HEAD") && !(is_get && request.range.is_some());
    let compressible = options.compress
        && crate::compress::CAN_COMPRESS
        && is_compressible(&content_type)
        && (MIN_COMPRESSED_SIZE..=MAX_COMPRESSED_SOURCE).contains(&metadata.len());
    let vary = compressible || options.precompressed;
    if may_encode && options.precompressed {
        if let Some(reply) = precompressed(request, options, &path, &metadata, root, &content_type)
        {
            return reply;
        }
    }
    if may_encode && compressible {
        if let Some(coding) = negotiate_encoding(request.accept_encoding, &ContentCoding::ALL) {
            let identity_tag = etag_for(metadata.len(), modified(&metadata));
            let entity = Entity {
                content_type: &content_type,
                modified: modified(&metadata),
                etag: coding.entity_tag(&identity_tag),
                coding: Some(coding),
                vary,
            };
            // A client whose copy is current gets its 304 without anything being compressed.
            if let Some(reply) = check_preconditions(request, &entity) {
                return reply;
            }
            let read = || {
                let file = open_checked(&path, root, options.symlinks)?;
                let opened = file.metadata().ok()?;
                if crate::small_files::Stamp::of(&opened)
                    != crate::small_files::Stamp::of(&metadata)
                {
                    return None;
                }
                let mut bytes = vec![0; usize::try_from(opened.len()).ok()?];
                file.read_exact_at(&mut bytes, 0).ok()?;
                Some(bytes)
            };
            if let Some(bytes) = crate::compress::compressed_file(&path, &metadata, coding, read) {
                let length = bytes.len() as u64;
                return file_reply(FileContent::Cached(bytes), request, entity, length);
            }
        }
    }
    let identity = |metadata: &fs::Metadata| Entity {
        content_type: &content_type,
        modified: modified(metadata),
        etag: etag_for(metadata.len(), modified(metadata)),
        coding: None,
        vary,
    };
    if let Some(bytes) = crate::small_files::lookup(&path, &metadata) {
        let length = bytes.len() as u64;
        return file_reply(
            FileContent::Cached(bytes),
            request,
            identity(&metadata),
            length,
        );
    }
    let Some(file) = open_checked(&path, root, options.symlinks) else {
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
                identity(&metadata),
                length,
            );
        }
    }
    file_reply(
        FileContent::Open(file),
        request,
        identity(&metadata),
        length,
    )
}

/// Opens `path` and checks the opened file itself against the symbolic-link policy ([`open_file_allowed`]):
/// after `path_allowed` passed the path, this refuses a link swapped in between the check and the open.
fn open_checked(path: &Path, root: &Path, policy: Symlinks) -> Option<File> {
    let file = File::open(path).ok()?;
    open_file_allowed(&file, path, root, policy).then_some(file)
}

/// The reply from a precompressed sibling (`FILE.br`, `FILE.zst`, `FILE.gz`) the request accepts, if one is there and fresh:
/// a regular file at least as new as `FILE`. `None` to answer from `FILE` itself.
fn precompressed(
    request: &FileRequest<'_>,
    options: &FileOptions,
    path: &Path,
    metadata: &fs::Metadata,
    root: &Path,
    content_type: &str,
) -> Option<HeadReply> {
    let accept_encoding = request.accept_encoding?;
    let modified = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    let sibling_of = |coding: ContentCoding| {
        let mut name = std::ffi::OsString::with_capacity(path.as_os_str().len() + 4);
        name.push(path);
        name.push(coding.extension());
        PathBuf::from(name)
    };
    let fresh = |sibling: &Path| {
        fs::metadata(sibling).ok().filter(|sibling_metadata| {
            sibling_metadata.is_file()
                && sibling_metadata
                    .modified()
                    .is_ok_and(|sibling_modified| sibling_modified >= modified)
        })
    };
    // The codings the request accepts, best first; the first with a fresh sibling is sent, so a request that accepts
    // none costs no stat, and one that accepts several costs a stat only until a sibling is found.
    let (coding, sibling, stat) =
        crate::compress::acceptable_encodings(Some(accept_encoding), &ContentCoding::ALL)
            .into_iter()
            .find_map(|(coding, _)| {
                let sibling = sibling_of(coding);
                let stat = fresh(&sibling)?;
                Some((coding, sibling, stat))
            })?;
    if (options.hide_dotfiles && has_dotfile(&sibling, root))
        || !path_allowed(&sibling, root, options.symlinks)
    {
        return None;
    }
    let entity = |sibling_metadata: &fs::Metadata| Entity {
        content_type,
        modified,
        etag: coding.entity_tag(&etag_for(
            sibling_metadata.len(),
            sibling_metadata
                .modified()
                .unwrap_or(SystemTime::UNIX_EPOCH),
        )),
        coding: Some(coding),
        vary: true,
    };
    // A sibling up to a few MiB is kept in memory while a fresh stat shows it unchanged: no open, no read, no copy.
    let read = || {
        let file = open_checked(&sibling, root, options.symlinks)?;
        let opened = file.metadata().ok()?;
        if crate::small_files::Stamp::of(&opened) != crate::small_files::Stamp::of(&stat) {
            return None;
        }
        let mut bytes = vec![0; usize::try_from(opened.len()).ok()?];
        file.read_exact_at(&mut bytes, 0).ok()?;
        Some(bytes)
    };
    if let Some(bytes) = crate::compress::kept_sibling(&sibling, &stat, coding, read) {
        let length = bytes.len() as u64;
        return Some(file_reply(
            FileContent::Cached(bytes),
            request,
            entity(&stat),
            length,
        ));
    }
    let file = open_checked(&sibling, root, options.symlinks)?;
    let sibling_metadata = file.metadata().ok().filter(|metadata| metadata.is_file())?;
    let entity = entity(&sibling_metadata);
    let length = sibling_metadata.len();
    let content = match crate::small_files::lookup(&sibling, &sibling_metadata) {
        Some(bytes) => FileContent::Cached(bytes),
        None => FileContent::Open(file),
    };
    Some(file_reply(content, request, entity, length))
}

/// What describes one representation of a file: its type, validators and coding.
struct Entity<'a> {
    content_type: &'a str,
    modified: SystemTime,
    etag: String,
    /// The content coding of the body; `None` for the file as it is.
    coding: Option<ContentCoding>,
    /// Whether the answer depends on `Accept-Encoding` (`Vary`).
    vary: bool,
}

impl Entity<'_> {
    /// `Vary`, when the representation depends on `Accept-Encoding`.
    fn vary_header(&self) -> Option<(&'static str, Cow<'static, str>)> {
        self.vary
            .then_some(("Vary", Cow::Borrowed("Accept-Encoding")))
    }
}

/// The 304 or 412 that the request's preconditions call for, if any.
fn check_preconditions(request: &FileRequest<'_>, entity: &Entity<'_>) -> Option<HeadReply> {
    let is_get_or_head = request.command == "GET" || request.command == "HEAD";
    match evaluate_preconditions(
        &request.conditions,
        is_get_or_head,
        &entity.etag,
        entity.modified,
    ) {
        Precondition::Proceed => None,
        Precondition::NotModified => {
            let mut headers = vec![
                ("ETag", entity.etag.clone().into()),
                ("Last-Modified", http_date(entity.modified).into()),
            ];
            headers.extend(entity.vary_header());
            Some(HeadReply::NotModified { headers })
        }
        Precondition::PreconditionFailed => Some(HeadReply::PreconditionFailed),
    }
}

/// The reply for a representation of `length` bytes.
fn file_reply(
    content: FileContent,
    request: &FileRequest<'_>,
    entity: Entity<'_>,
    length: u64,
) -> HeadReply {
    if let Some(reply) = check_preconditions(request, &entity) {
        return reply;
    }
    let content_type = entity.content_type;
    let modified = entity.modified;
    let etag = &entity.etag;
    let is_get = request.command == "GET";
    let range_applies = is_get
        && entity.coding.is_none()
        && request
            .if_range
            .is_none_or(|if_range| if_range_matches(if_range, etag, modified));
    let vary = entity.vary_header();
    let range_request = match request.range {
        Some(range) if range_applies => parse_range(range, length),
        _ => RangeRequest::Full,
    };
    // One vector for every header (at most eight), the validators after the framing, as Python orders them.
    let validators = [
        ("Last-Modified", http_date(modified).into()),
        ("ETag", entity.etag.into()),
        ("Accept-Ranges", "bytes".into()),
    ]
    .into_iter()
    .chain(vary);
    let (status, mut headers, body) = match range_request {
        RangeRequest::Unsatisfiable => {
            return HeadReply::RangeNotSatisfiable {
                complete_length: length,
            }
        }
        RangeRequest::Full => {
            let mut headers: ReplyHeaders = Vec::with_capacity(8);
            headers.push(("Content-type", content_type.to_owned().into()));
            headers.push(("Content-Length", length.to_string().into()));
            if let Some(coding) = entity.coding {
                headers.push(("Content-Encoding", coding.token().into()));
            }
            (200, headers, FileBody::Whole { length })
        }
        RangeRequest::Partial(ranges) if ranges.len() == 1 => {
            let range = ranges[0];
            (
                206,
                vec![
                    ("Content-type", content_type.to_owned().into()),
                    ("Content-Length", range.len().to_string().into()),
                    ("Content-Range", range.content_range(length).into()),
                ],
                FileBody::Range(range),
            )
        }
        RangeRequest::Partial(ranges) => {
            let layout = MultipartByteranges::new(new_boundary(), content_type, length, ranges);
            (
                206,
                vec![
                    ("Content-type", layout.content_type().into()),
                    ("Content-Length", layout.content_length().to_string().into()),
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

    fn body(reply: HeadReply) -> (u16, ReplyHeaders, Vec<u8>) {
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

    fn header<'a>(headers: &'a [(&'static str, Cow<'static, str>)], name: &str) -> &'a str {
        headers
            .iter()
            .find(|(candidate, _)| *candidate == name)
            .map(|(_, value)| value.as_ref())
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
                ..FileRequest::default()
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
