//! Uploads, off unless [`FileOptions::upload`](crate::FileOptions::upload) is set: `PUT` of one file to the path it names,
//! and a `multipart/form-data` `POST` of files to a directory (the sortable listing's form).
//!
//! What they promise (SECURITY.md):
//! - No name reaches outside the served directory: the request path may hold no `.` or `..` segment, no control character
//!   and no backslash; a posted file name is one plain name (its directories dropped, as browsers may send them); the directory
//!   written to must resolve inside the served one, whatever its symbolic links.
//! - No partial file: every body goes to a temporary file in the directory it belongs in, renamed into place only once the
//!   body ended as its framing said (and, for a form, once every part ended); an interrupted, broken or too large body
//!   leaves nothing behind.
//! - The body is capped by [`Limits::max_body_size`](basehttp::Limits::max_body_size) (413), which the command sets for uploads.

use std::fs;
use std::io::{self, BufRead, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use basehttp::{BodyTooLarge, HttpRequest};
use percent_encoding::percent_decode;
use tempfile::NamedTempFile;

use crate::head::SimpleHooks;
use crate::options::{is_dotfile, path_allowed, Symlinks, Upload};

/// Longest boundary RFC 2046 §5.1.1 allows.
const MAX_BOUNDARY: usize = 70;

/// Longest header line of a part, and most header bytes of one part.
const MAX_PART_HEAD: usize = 16 * 1024;

/// Most parts one form may have.
const MAX_PARTS: usize = 256;

/// Most bytes before the first boundary (the preamble), and of a field that is not a file (read and dropped).
const MAX_PREAMBLE: usize = 16 * 1024;

/// Longest file name accepted (bytes), as most file systems allow.
const MAX_NAME: usize = 255;

/// Why an upload is refused: the status and the message for `send_error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) status: u16,
    pub(crate) message: &'static str,
}

const fn refuse(status: u16, message: &'static str) -> Refusal {
    Refusal { status, message }
}

/// What went wrong while taking a body in: a refusal to send, or an error of the connection (a truncated or too large body)
/// for basehttp to answer (413) or to close on.
enum Failure {
    Refused(Refusal),
    Connection(io::Error),
}

impl From<Refusal> for Failure {
    fn from(refusal: Refusal) -> Failure {
        Failure::Refused(refusal)
    }
}

/// Whether a write failed because the disk (or the user's quota) is full: ENOSPC, EDQUOT.
pub(crate) fn is_disk_full(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::StorageFull || matches!(error.raw_os_error(), Some(28 | 122))
}

/// A write to the temporary file failed: 507 when the disk is full, else 500.
fn write_failure(error: &io::Error) -> Refusal {
    if is_disk_full(error) {
        refuse(507, "Not enough space to store the upload")
    } else {
        refuse(500, "Cannot store the upload")
    }
}

/// Whether a name may be created: not empty, `.` or `..`; no `/`, `\`, NUL or other control character; not too long;
/// no dotfile unless `upload.dotfiles`.
fn check_name(name: &[u8], upload: Upload) -> Result<(), Refusal> {
    if name.is_empty() || name == b"." || name == b".." || name.len() > MAX_NAME {
        return Err(refuse(400, "Bad file name"));
    }
    if name
        .iter()
        .any(|&byte| byte < 0x20 || byte == 0x7f || byte == b'/' || byte == b'\\')
    {
        return Err(refuse(400, "Bad file name"));
    }
    if is_dotfile(name) && !upload.dotfiles {
        return Err(refuse(403, "Names starting with a dot are not accepted"));
    }
    Ok(())
}

/// The segments of a request path, decoded, each checked as a name: a `.` or `..` segment is refused (400) rather than
/// resolved, so no spelling of a path (`%2e%2e`, `%2f`) climbs anywhere. Empty segments (`//`, a final `/`) are skipped.
fn checked_segments(request_path: &str, upload: Upload) -> Result<Vec<Vec<u8>>, Refusal> {
    let raw = &request_path[..request_path.find(['?', '#']).unwrap_or(request_path.len())];
    let raw = raw.strip_prefix('/').unwrap_or(raw);
    let decoded: Vec<u8> = percent_decode(raw.as_bytes()).collect();
    let mut segments = Vec::new();
    for segment in decoded.split(|&byte| byte == b'/') {
        if segment.is_empty() {
            continue;
        }
        check_name(segment, upload)?;
        segments.push(segment.to_vec());
    }
    Ok(segments)
}

/// The directory `segments` name under `root`, if it is a directory that resolves inside `root`
/// (links that lead out are never written through, whatever the serving policy).
fn directory_of(root: &Path, segments: &[Vec<u8>], symlinks: Symlinks) -> Result<PathBuf, Refusal> {
    let mut directory = root.to_path_buf();
    for segment in segments {
        directory.push(std::ffi::OsStr::from_bytes(segment));
    }
    let policy = match symlinks {
        Symlinks::Never => Symlinks::Never,
        Symlinks::Follow | Symlinks::InRootOnly => Symlinks::InRootOnly,
    };
    if !directory.is_dir() {
        return Err(refuse(404, "No such directory"));
    }
    if !path_allowed(&directory, root, policy) {
        return Err(refuse(403, "Cannot write there"));
    }
    Ok(directory)
}

/// A temporary file in `directory`, hidden (its name starts with `.upload-`) and removed when dropped unless kept.
fn temporary_in(directory: &Path) -> Result<NamedTempFile, Refusal> {
    tempfile::Builder::new()
        .prefix(".upload-")
        .tempfile_in(directory)
        .map_err(|error| {
            if is_disk_full(&error) {
                write_failure(&error)
            } else {
                refuse(403, "Cannot write there")
            }
        })
}

/// Puts a finished temporary file at `target`: replacing what is there only when `overwrite`.
/// Returns whether something was replaced.
fn commit(file: NamedTempFile, target: &Path, overwrite: bool) -> Result<bool, Refusal> {
    // The mode an ordinary file gets (tempfile creates 0600), so the uploaded file can be served and read as any other.
    let _ = file
        .as_file()
        .set_permissions(fs::Permissions::from_mode(0o644));
    file.as_file()
        .sync_all()
        .map_err(|error| write_failure(&error))?;
    let existing = fs::symlink_metadata(target).ok();
    if existing.as_ref().is_some_and(fs::Metadata::is_dir) {
        return Err(refuse(409, "A directory has that name"));
    }
    if overwrite {
        file.persist(target)
            .map_err(|_| refuse(500, "Cannot store the upload"))?;
        Ok(existing.is_some())
    } else {
        // No check-then-rename race: the rename itself refuses an existing name.
        match file.persist_noclobber(target) {
            Ok(_) => Ok(false),
            Err(error) if error.error.kind() == io::ErrorKind::AlreadyExists => {
                Err(refuse(409, "File exists"))
            }
            Err(_) => Err(refuse(500, "Cannot store the upload")),
        }
    }
}

/// Copies the request body into `file`, telling a failure of the connection (truncated, too large) from one of the disk.
fn take_body(req: &mut HttpRequest<'_>, file: &mut fs::File) -> Result<(), Failure> {
    loop {
        let chunk = match req.rfile.fill_buf() {
            Ok(chunk) => chunk,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(Failure::Connection(error)),
        };
        if chunk.is_empty() {
            return Ok(());
        }
        let length = chunk.len();
        file.write_all(chunk)
            .map_err(|error| Failure::Refused(write_failure(&error)))?;
        req.rfile.consume(length);
    }
}

/// Sends `failure`: a refusal as an error page, a connection error back to basehttp (413 for a body over the cap, else the connection closes).
fn answer(req: &mut HttpRequest<'_>, failure: Failure) -> io::Result<()> {
    match failure {
        Failure::Refused(refusal) => {
            // What is left of the body is not read: the connection closes after the error page.
            req.close_connection = true;
            req.send_error(refusal.status, Some(refusal.message))
        }
        Failure::Connection(error) => {
            if BodyTooLarge::in_error(&error).is_none() {
                req.close_connection = true;
            }
            Err(error)
        }
    }
}

/// `PUT`: the body becomes the file the path names (201 when new, 204 when replaced with `overwrite`, 409 when it exists without).
pub(crate) fn put<H: SimpleHooks + ?Sized>(
    hooks: &H,
    req: &mut HttpRequest<'_>,
    upload: Upload,
) -> io::Result<()> {
    match put_file(hooks, req, upload) {
        Ok(replaced) => {
            if replaced {
                req.send_response(204, None)?;
            } else {
                req.send_response(201, None)?;
                req.send_header("Location", &req.path.clone())?;
                req.send_header("Content-Length", "0")?;
            }
            req.end_headers()
        }
        Err(failure) => answer(req, failure),
    }
}

fn put_file<H: SimpleHooks + ?Sized>(
    hooks: &H,
    req: &mut HttpRequest<'_>,
    upload: Upload,
) -> Result<bool, Failure> {
    let root = hooks.directory();
    let options = hooks.options();
    let mut segments = checked_segments(&req.path, upload)?;
    let raw_path = &req.path[..req.path.find(['?', '#']).unwrap_or(req.path.len())];
    if raw_path.ends_with('/') || raw_path.to_ascii_lowercase().ends_with("%2f") {
        return Err(refuse(405, "Cannot PUT a directory").into());
    }
    let Some(name) = segments.pop() else {
        return Err(refuse(405, "Cannot PUT a directory").into());
    };
    if options.hide_dotfiles && is_dotfile(&name) {
        return Err(refuse(403, "Names starting with a dot are not accepted").into());
    }
    let directory = directory_of(root, &segments, options.symlinks)?;
    let target = directory.join(std::ffi::OsStr::from_bytes(&name));
    if !upload.overwrite && fs::symlink_metadata(&target).is_ok() {
        // Refused before the body is read: the client need not send it all to learn the name is taken.
        return Err(refuse(409, "File exists").into());
    }
    let mut file = temporary_in(&directory)?;
    take_body(req, file.as_file_mut())?;
    Ok(commit(file, &target, upload.overwrite)?)
}

/// The boundary of a `multipart/form-data` `Content-Type`, if it is one and names a boundary RFC 2046 allows.
fn form_boundary(content_type: &str) -> Result<Vec<u8>, Refusal> {
    let mut parameters = content_type.split(';');
    let essence = parameters.next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("multipart/form-data") {
        return Err(refuse(415, "Expected multipart/form-data"));
    }
    for parameter in parameters {
        let Some((key, value)) = parameter.split_once('=') else {
            continue;
        };
        if key.trim().eq_ignore_ascii_case("boundary") {
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|quoted| quoted.strip_suffix('"'))
                .unwrap_or(value);
            if value.is_empty()
                || value.len() > MAX_BOUNDARY
                || value.bytes().any(|byte| !(0x20..0x7f).contains(&byte))
            {
                return Err(refuse(400, "Bad multipart boundary"));
            }
            return Ok(value.as_bytes().to_vec());
        }
    }
    Err(refuse(400, "Missing multipart boundary"))
}

/// Reads from a body up to a delimiter, handing what comes before it to `sink`; bounded memory: at most one buffer
/// plus the delimiter's length is held.
struct PartReader<'b, 'r> {
    body: &'b mut basehttp::RequestBody<'r>,
    /// Bytes read from the body and not yet handed on (they may start a delimiter).
    carry: Vec<u8>,
}

impl PartReader<'_, '_> {
    /// Fills `carry` with at least `wanted` bytes, unless the body ends first; returns whether it could.
    fn fill(&mut self, wanted: usize) -> Result<bool, Failure> {
        while self.carry.len() < wanted {
            let chunk = match self.body.fill_buf() {
                Ok(chunk) => chunk,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(Failure::Connection(error)),
            };
            if chunk.is_empty() {
                return Ok(false);
            }
            let length = chunk.len();
            self.carry.extend_from_slice(chunk);
            self.body.consume(length);
        }
        Ok(true)
    }

    /// Hands everything before `delimiter` to `sink` (at most `limit` bytes, else `too_long`) and drops the delimiter.
    /// A body that ends before it is a broken form (400).
    fn until(
        &mut self,
        delimiter: &[u8],
        limit: Option<u64>,
        mut sink: impl FnMut(&[u8]) -> Result<(), Failure>,
        too_long: Refusal,
    ) -> Result<(), Failure> {
        let finder = memchr::memmem::Finder::new(delimiter);
        let mut handed: u64 = 0;
        loop {
            if let Some(at) = finder.find(&self.carry) {
                handed += at as u64;
                if limit.is_some_and(|limit| handed > limit) {
                    return Err(too_long.into());
                }
                sink(&self.carry[..at])?;
                self.carry.drain(..at + delimiter.len());
                return Ok(());
            }
            // Everything but the last delimiter-length bytes cannot start a delimiter: hand it on.
            let keep = delimiter.len().saturating_sub(1).min(self.carry.len());
            let ready = self.carry.len() - keep;
            if ready > 0 {
                handed += ready as u64;
                if limit.is_some_and(|limit| handed > limit) {
                    return Err(too_long.into());
                }
                sink(&self.carry[..ready])?;
                self.carry.drain(..ready);
            }
            if !self.fill(self.carry.len() + 1)? {
                return Err(refuse(400, "Truncated multipart body").into());
            }
        }
    }
}

/// A part's headers: the form field's name and the file name, if one was given.
fn part_file_name(head: &[u8]) -> Result<Option<Vec<u8>>, Refusal> {
    let head = std::str::from_utf8(head).map_err(|_| refuse(400, "Bad multipart headers"))?;
    let mut file_name = None;
    let mut disposition = false;
    for line in head.split("\r\n").filter(|line| !line.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or(refuse(400, "Bad multipart headers"))?;
        if !name.trim().eq_ignore_ascii_case("content-disposition") {
            continue;
        }
        disposition = true;
        let mut parameters = value.split(';');
        if !parameters
            .next()
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case("form-data")
        {
            return Err(refuse(400, "Bad multipart headers"));
        }
        for parameter in parameters {
            let Some((key, value)) = parameter.split_once('=') else {
                continue;
            };
            let key = key.trim();
            let value = value.trim();
            if key.eq_ignore_ascii_case("filename*") {
                // RFC 5987: charset'language'percent-encoded.
                let encoded = value.splitn(3, '\'').nth(2).unwrap_or("");
                file_name = Some(percent_decode(encoded.as_bytes()).collect());
            } else if key.eq_ignore_ascii_case("filename") && file_name.is_none() {
                let unquoted = value
                    .strip_prefix('"')
                    .and_then(|quoted| quoted.strip_suffix('"'))
                    .unwrap_or(value);
                // Browsers escape a quote as %22 (WHATWG) and a few clients as \": read both.
                let unescaped = unquoted.replace("\\\"", "\"").replace("\\\\", "\\");
                file_name = Some(unescaped.replace("%22", "\"").into_bytes());
            }
        }
    }
    if !disposition {
        return Err(refuse(400, "Multipart part without Content-Disposition"));
    }
    // A few clients send the path the file had on the client: only its last name counts.
    Ok(file_name.map(|name| {
        let start = name
            .iter()
            .rposition(|&byte| byte == b'/' || byte == b'\\')
            .map_or(0, |slash| slash + 1);
        name[start..].to_vec()
    }))
}

/// `POST` of a `multipart/form-data` form to a directory: every file part is stored under its own name in that directory;
/// 303 back to the listing once all are in place. Nothing is stored unless the whole form arrived well formed.
pub(crate) fn post<H: SimpleHooks + ?Sized>(
    hooks: &H,
    req: &mut HttpRequest<'_>,
    upload: Upload,
) -> io::Result<()> {
    match post_form(hooks, req, upload) {
        Ok(()) => {
            let raw_path = &req.path[..req.path.find(['?', '#']).unwrap_or(req.path.len())];
            let location = if raw_path.ends_with('/') {
                raw_path.to_owned()
            } else {
                format!("{raw_path}/")
            };
            req.send_response(303, None)?;
            req.send_header("Location", &location)?;
            req.send_header("Content-Length", "0")?;
            req.end_headers()
        }
        Err(failure) => answer(req, failure),
    }
}

fn post_form<H: SimpleHooks + ?Sized>(
    hooks: &H,
    req: &mut HttpRequest<'_>,
    upload: Upload,
) -> Result<(), Failure> {
    let root = hooks.directory();
    let options = hooks.options();
    let segments = checked_segments(&req.path, upload)?;
    let directory = directory_of(root, &segments, options.symlinks)?;
    let content_type = req.headers.get("Content-Type").unwrap_or("").to_owned();
    let boundary = form_boundary(&content_type)?;
    let mut reader = PartReader {
        body: &mut req.rfile,
        carry: Vec::new(),
    };
    // The first delimiter may come at the very start, without the CRLF that precedes the others.
    let mut first = b"--".to_vec();
    first.extend_from_slice(&boundary);
    let mut delimiter = b"\r\n".to_vec();
    delimiter.extend_from_slice(&first);
    if !reader.fill(first.len())? {
        return Err(refuse(400, "Truncated multipart body").into());
    }
    if reader.carry.starts_with(&first) {
        reader.carry.drain(..first.len());
    } else {
        reader.until(
            &delimiter,
            Some(MAX_PREAMBLE as u64),
            |_| Ok(()),
            refuse(400, "Multipart preamble too long"),
        )?;
    }
    let mut stored: Vec<(NamedTempFile, PathBuf)> = Vec::new();
    loop {
        // After a delimiter: `--` ends the form, else optional white space and CRLF start a part.
        if !reader.fill(2)? {
            return Err(refuse(400, "Truncated multipart body").into());
        }
        if reader.carry.starts_with(b"--") {
            break;
        }
        reader.until(
            b"\r\n",
            Some(256),
            |padding| {
                if padding.iter().all(|&byte| byte == b' ' || byte == b'\t') {
                    Ok(())
                } else {
                    Err(refuse(400, "Bad multipart delimiter").into())
                }
            },
            refuse(400, "Bad multipart delimiter"),
        )?;
        if stored.len() >= MAX_PARTS {
            return Err(refuse(400, "Too many multipart parts").into());
        }
        let mut head = Vec::new();
        // A part with no headers starts straight with the blank line.
        if reader.fill(2)? && reader.carry.starts_with(b"\r\n") {
            reader.carry.drain(..2);
        } else {
            reader.until(
                b"\r\n\r\n",
                Some(MAX_PART_HEAD as u64),
                |bytes| {
                    head.extend_from_slice(bytes);
                    Ok(())
                },
                refuse(431, "Multipart part headers too long"),
            )?;
        }
        let file_name = part_file_name(&head)?;
        match file_name {
            Some(name) if !name.is_empty() => {
                check_name(&name, upload)?;
                if options.hide_dotfiles && is_dotfile(&name) {
                    return Err(refuse(403, "Names starting with a dot are not accepted").into());
                }
                let target = directory.join(std::ffi::OsStr::from_bytes(&name));
                if stored.iter().any(|(_, other)| *other == target) {
                    return Err(refuse(400, "The same file name twice").into());
                }
                let mut file = temporary_in(&directory)?;
                reader.until(
                    &delimiter,
                    None,
                    |bytes| {
                        file.write_all(bytes)
                            .map_err(|error| Failure::Refused(write_failure(&error)))
                    },
                    refuse(413, "Upload too large"),
                )?;
                stored.push((file, target));
            }
            // A field, or a file input left empty: read past it.
            _ => reader.until(
                &delimiter,
                Some(MAX_PREAMBLE as u64),
                |_| Ok(()),
                refuse(400, "Form field too long"),
            )?,
        }
    }
    // The epilogue after the final delimiter is ignored, but read (within the body's cap) so the connection can go on.
    let _ = io::copy(reader.body, &mut io::sink());
    if !upload.overwrite
        && stored
            .iter()
            .any(|(_, target)| fs::symlink_metadata(target).is_ok())
    {
        return Err(refuse(409, "File exists").into());
    }
    for (file, target) in stored {
        commit(file, &target, upload.overwrite)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let plain = Upload::new();
        assert!(check_name(b"report.pdf", plain).is_ok());
        assert!(check_name("naïve café.txt".as_bytes(), plain).is_ok());
        for bad in [
            &b""[..],
            b".",
            b"..",
            b"a/b",
            b"a\\b",
            b"a\nb",
            b"a\0b",
            b"tab\t",
            b"del\x7f",
        ] {
            assert_eq!(check_name(bad, plain).unwrap_err().status, 400, "{bad:?}");
        }
        assert_eq!(check_name(&[b'a'; 256], plain).unwrap_err().status, 400);
        assert_eq!(check_name(b".htaccess", plain).unwrap_err().status, 403);
        assert!(check_name(b".htaccess", plain.with_dotfiles(true)).is_ok());
        assert!(check_name(b"..", plain.with_dotfiles(true)).is_err());
    }

    #[test]
    fn paths_never_climb() {
        let plain = Upload::new();
        assert_eq!(
            checked_segments("/a/b.txt?x=1", plain).unwrap(),
            [b"a".to_vec(), b"b.txt".to_vec()]
        );
        assert_eq!(checked_segments("//a//", plain).unwrap(), [b"a".to_vec()]);
        for bad in [
            "/../x",
            "/a/../../x",
            "/%2e%2e/x",
            "/a%2f..%2fx",
            "/./x",
            "/a%00b",
            "/a%0ab",
            "/a%5c..%5cx",
        ] {
            assert!(checked_segments(bad, plain).is_err(), "{bad}");
        }
    }

    #[test]
    fn boundaries() {
        assert_eq!(
            form_boundary("multipart/form-data; boundary=abc").unwrap(),
            b"abc"
        );
        assert_eq!(
            form_boundary("Multipart/Form-Data;boundary=\"a b\"").unwrap(),
            b"a b"
        );
        assert_eq!(
            form_boundary("multipart/form-data").unwrap_err().status,
            400
        );
        assert_eq!(
            form_boundary("multipart/form-data; boundary=")
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(
            form_boundary(&format!("multipart/form-data; boundary={}", "x".repeat(71)))
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(form_boundary("text/plain").unwrap_err().status, 415);
    }

    #[test]
    fn file_names_of_parts() {
        let name = |head: &str| part_file_name(head.as_bytes());
        assert_eq!(
            name("Content-Disposition: form-data; name=\"file\"; filename=\"a.txt\"").unwrap(),
            Some(b"a.txt".to_vec())
        );
        assert_eq!(
            name("content-disposition: form-data; name=\"file\"; filename=\"C:\\\\dir\\\\a.txt\"\r\nContent-Type: text/plain").unwrap(),
            Some(b"a.txt".to_vec())
        );
        assert_eq!(
            name("Content-Disposition: form-data; name=\"f\"; filename=\"../../etc/passwd\"")
                .unwrap(),
            Some(b"passwd".to_vec())
        );
        assert_eq!(
            name("Content-Disposition: form-data; name=\"f\"; filename*=UTF-8''na%C3%AFve.txt")
                .unwrap(),
            Some("naïve.txt".as_bytes().to_vec())
        );
        assert_eq!(
            name("Content-Disposition: form-data; name=\"field\"").unwrap(),
            None
        );
        assert!(name("Content-Type: text/plain").is_err());
        assert!(name("garbage").is_err());
    }

    #[test]
    fn disk_full_is_recognised() {
        assert!(is_disk_full(&io::Error::from_raw_os_error(28)));
        assert!(is_disk_full(&io::Error::from_raw_os_error(122)));
        assert!(!is_disk_full(&io::Error::from_raw_os_error(13)));
        assert_eq!(write_failure(&io::Error::from_raw_os_error(28)).status, 507);
        assert_eq!(write_failure(&io::Error::from_raw_os_error(5)).status, 500);
    }
}
