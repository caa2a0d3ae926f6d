//! From a request path to a file: `translate_path`, the trailing-slash test and the directory redirect.
//!
//! Everything here is a pure function of its arguments, so it can be tested and fuzzed without a filesystem.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use basehttp::RequestTarget;
use percent_encoding::percent_decode_str;

/// The request path without its `?query` and `#fragment`, as Python cuts them (`path.split('#', 1)[0].split('?', 1)[0]`).
pub fn strip_query_and_fragment(path: &str) -> &str {
    let end = path.find(['?', '#']).unwrap_or(path.len());
    &path[..end]
}

/// Percent-decodes to bytes, like `urllib.parse.unquote_to_bytes`: a `%` not followed by two hex digits stays as it is.
pub fn unquote_to_bytes(text: &str) -> Cow<'_, [u8]> {
    percent_decode_str(text).into()
}

/// Whether the request path names a directory explicitly: its path part ends with `/`, `%2f` or `%2F`.
///
/// Python's `send_head` redirects a directory requested without one of these, and answers 404 for a file requested with one.
/// It is basehttp's [`RequestTarget::has_trailing_slash`], the reading every layer shares.
pub fn has_trailing_slash(request_path: &str) -> bool {
    RequestTarget::parse(request_path).has_trailing_slash()
}

/// The path segments that `translate_path` joins under the directory, decoded to bytes.
///
/// They are the segments of basehttp's [`RequestTarget`], the one reading of a request path that script routing shares:
/// the path is cut at `?` and `#`, percent-decoded to bytes, normalised like `posixpath.normpath` (`..` removes the segment before it and is otherwise dropped), and stripped of empty, `.` and `..` segments and of segments the platform would read as more than one name.
/// No segment is empty, `.` or `..`, or contains `/` (or, on Windows, `\` or `:`), so joining them can never leave the directory.
pub fn safe_segments(request_path: &str) -> Vec<Vec<u8>> {
    RequestTarget::parse(request_path)
        .segments()
        .map(<[u8]>::to_vec)
        .collect()
}

/// Translates a `/`-separated URL path to a file under `directory`, as Python's `SimpleHTTPRequestHandler.translate_path`.
///
/// The path is read as basehttp's [`RequestTarget`] (the same reading cgihttp routes scripts by):
/// the query and fragment are dropped, the path is percent-decoded to bytes (names that are not UTF-8 work on Unix), normalised, and its safe segments (see [`safe_segments`]) are joined under `directory`.
/// A trailing slash, also one written `%2f`, is kept, so a file asked for as a directory can be refused.
/// The result always lies inside `directory`.
///
/// A request line is read as ISO-8859-1, so a request path whose characters all lie below U+0100 is taken as the bytes that came (raw UTF-8 in a request line finds its file);
/// one with a character beyond is taken as UTF-8.
/// Unlike Python, bytes that do not decode as UTF-8 are kept as they are instead of turning into U+FFFD, so every name in a listing can be fetched.
///
/// ```
/// use std::path::Path;
/// use simplehttp::translate_path;
///
/// let root = Path::new("/srv/www");
/// assert_eq!(translate_path("/a/../b%20c?x=1", root), Path::new("/srv/www/b c"));
/// assert_eq!(translate_path("/../../etc/passwd", root), Path::new("/srv/www/etc/passwd"));
/// ```
pub fn translate_path(request_path: &str, directory: &Path) -> PathBuf {
    translate_target(&RequestTarget::parse(request_path), directory)
}

/// [`translate_path`] for the request path's raw bytes, as they came on the request line.
///
/// A request line is read as ISO-8859-1, so a raw (not percent-encoded) UTF-8 name arrives as one character per byte; give those bytes here (see [`latin1_bytes`]) and the name is found, where Python would look for a garbled one.
pub fn translate_path_bytes(raw_path: &[u8], directory: &Path) -> PathBuf {
    translate_target(&RequestTarget::parse_bytes(raw_path), directory)
}

/// The file a [`RequestTarget`] names under `directory`: its segments joined there, its trailing slash kept.
pub fn translate_target(target: &RequestTarget, directory: &Path) -> PathBuf {
    // Room for the separators and the trailing slash too: one allocation for every request's file name.
    let mut path = PathBuf::with_capacity(directory.as_os_str().len() + target.path().len() + 2);
    path.push(directory);
    for segment in target.segments() {
        path.push(segment_to_path(segment));
    }
    if target.has_trailing_slash() && !path_ends_with_slash(&path) {
        path.as_mut_os_string().push("/");
    }
    path
}

/// The bytes of text decoded as ISO-8859-1 (every character below U+0100 is one byte); `None` if a character does not fit.
pub fn latin1_bytes(text: &str) -> Option<Vec<u8>> {
    text.chars()
        .map(|character| u8::try_from(u32::from(character)).ok())
        .collect()
}

/// Whether the path's text ends with a separator (`Path::ends_with` compares components and cannot tell).
pub fn path_ends_with_slash(path: &Path) -> bool {
    let text = path.as_os_str().as_encoded_bytes();
    text.ends_with(b"/") || (cfg!(windows) && text.ends_with(b"\\"))
}

/// A segment's bytes as a path: as they are on Unix, where a name is any bytes; elsewhere as (lossy) UTF-8.
fn segment_to_path(segment: &[u8]) -> Cow<'_, Path> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Cow::Borrowed(Path::new(std::ffi::OsStr::from_bytes(segment)))
    }
    #[cfg(not(unix))]
    {
        Cow::Owned(PathBuf::from(String::from_utf8_lossy(segment).into_owned()))
    }
}

/// The `Location` of the 301 that sends a directory asked for without a trailing slash to the same path with one.
///
/// Python rebuilds the URL with `urlunsplit((scheme, netloc, path + '/', query, fragment))`, so the query and any fragment are kept.
/// Like `urlsplit`, tabs, CR and LF are removed; unlike Python's code alone, leading slashes and backslashes are collapsed to one `/` so the result can never be read as `//host` (an open redirect).
///
/// ```
/// use simplehttp::directory_redirect_location;
///
/// assert_eq!(directory_redirect_location("/docs?page=2"), "/docs/?page=2");
/// assert_eq!(directory_redirect_location("//evil.example/x"), "/evil.example/x/");
/// ```
pub fn directory_redirect_location(request_path: &str) -> String {
    let cleaned: String = request_path
        .chars()
        .filter(|character| !matches!(character, '\t' | '\r' | '\n'))
        .collect();
    // Like `urlsplit`, and like browsers, leading C0 controls and spaces are not part of the URL.
    let cleaned = cleaned.trim_start_matches(|character: char| character <= ' ');
    // basehttp gives hooks the origin form of an absolute-form target; a path that still names a scheme and host
    // (from a caller of its own) keeps only its path, so the Location stays on this site.
    let cleaned = strip_scheme_and_authority(cleaned);
    let (before_fragment, fragment) = cleaned.split_once('#').unwrap_or((cleaned, ""));
    let (path, query) = before_fragment
        .split_once('?')
        .unwrap_or((before_fragment, ""));
    let mut location = String::with_capacity(cleaned.len() + 2);
    // Browsers read `\` as `/`, so `/\host` would be as dangerous as `//host`.
    if path.starts_with(['/', '\\']) {
        location.push('/');
        location.push_str(path.trim_start_matches(['/', '\\']));
    } else {
        location.push_str(path);
    }
    // A path of slashes only is already the root; appending would make `//`.
    if location != "/" {
        location.push('/');
    }
    if !query.is_empty() {
        location.push('?');
        location.push_str(query);
    }
    if !fragment.is_empty() {
        location.push('#');
        location.push_str(fragment);
    }
    location
}

/// `path` without a leading `scheme://authority` (RFC 3986 section 3), or as it is when it does not start with one.
fn strip_scheme_and_authority(path: &str) -> &str {
    let scheme_length = path
        .find(|character: char| !(character.is_ascii_alphanumeric() || "+-.".contains(character)))
        .unwrap_or(path.len());
    let starts_with_letter = path.starts_with(|character: char| character.is_ascii_alphabetic());
    match path[scheme_length..].strip_prefix("://") {
        Some(rest) if starts_with_letter => {
            &rest[rest.find(['/', '\\', '?', '#']).unwrap_or(rest.len())..]
        }
        _ => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        PathBuf::from("/srv/root")
    }

    fn check(request_path: &str, expected: &str) {
        let translated = translate_path(request_path, &root());
        assert_eq!(
            translated.as_os_str().as_encoded_bytes(),
            expected.as_bytes(),
            "translate_path({request_path:?})"
        );
        assert!(translated.starts_with(root()), "{translated:?} escaped");
    }

    // Mirrors test_httpservers: SimpleHTTPRequestHandlerTestCase.test_query_arguments.
    #[test]
    fn test_query_arguments() {
        check("/filename", "/srv/root/filename");
        check("/filename?foo=bar", "/srv/root/filename");
        check("/filename?a=b&spam=eggs#zot", "/srv/root/filename");
        check("/filename#frag?not=query", "/srv/root/filename");
    }

    // Mirrors test_httpservers: SimpleHTTPRequestHandlerTestCase.test_start_with_double_slash.
    #[test]
    fn test_start_with_double_slash() {
        check("//filename", "/srv/root/filename");
        check("//filename?foo=bar", "/srv/root/filename");
    }

    // Mirrors test_httpservers: SimpleHTTPServerTestCase.test_get (the `..` traversal and trailing-slash parts).
    #[test]
    fn dot_segments_never_escape() {
        check("/..", "/srv/root");
        check("/../", "/srv/root/");
        check("/../../etc/passwd", "/srv/root/etc/passwd");
        check("/a/../../b", "/srv/root/b");
        check("/a/b/../c", "/srv/root/a/c");
        check("/./a/./b/.", "/srv/root/a/b");
        check("/%2e%2e/%2E%2E/x", "/srv/root/x");
        check("/a/%2e%2e/b", "/srv/root/b");
        check("..", "/srv/root");
        check("a/../../..", "/srv/root");
        check("", "/srv/root");
        check("/", "/srv/root/");
    }

    #[test]
    fn trailing_slash_is_kept_including_percent_2f() {
        check("/dir/", "/srv/root/dir/");
        check("/dir%2f", "/srv/root/dir/");
        check("/dir%2F", "/srv/root/dir/");
        check("/dir/?q=1", "/srv/root/dir/");
        check("/dir/.", "/srv/root/dir");
        check("/dir/..", "/srv/root");
        check("/dir//", "/srv/root/dir/");
    }

    #[test]
    fn percent_decoding_to_bytes() {
        check("/a%20b", "/srv/root/a b");
        check("/%41", "/srv/root/A");
        check("/caf%C3%A9", "/srv/root/café");
        check("/100%", "/srv/root/100%");
        check("/%zz%4", "/srv/root/%zz%4");
        check("/a%2fb", "/srv/root/a/b");
        check("/q%3F", "/srv/root/q?");
        check("/f%23", "/srv/root/f#");
        check("/%25A4", "/srv/root/%A4");
    }

    #[cfg(unix)]
    #[test]
    fn names_that_are_not_utf8_survive() {
        let translated = translate_path("/%FF%FEx", &root());
        assert_eq!(
            translated.as_os_str().as_encoded_bytes(),
            b"/srv/root/\xff\xfex"
        );
    }

    // Outside Windows a colon or a backslash is an ordinary byte of a name, and a backslash never ends a path as a slash does.
    #[cfg(unix)]
    #[test]
    fn colons_and_backslashes_are_ordinary_bytes_outside_windows() {
        check("/c:/a:b/c%5Cd", "/srv/root/c:/a:b/c\\d");
        check("/x\\/", "/srv/root/x\\/");
        assert!(!path_ends_with_slash(Path::new("/srv/root/a\\")));
        assert!(path_ends_with_slash(Path::new("/srv/root/a/")));
        assert_eq!(
            safe_segments("/c:x/d\\e"),
            vec![b"c:x".to_vec(), b"d\\e".to_vec()]
        );
    }

    // Mirrors test_httpservers: SimpleHTTPRequestHandlerTestCase.test_windows_colon (only Windows reads `c:` and `\` as separators).
    #[cfg(windows)]
    #[test]
    fn test_windows_colon() {
        for path in [
            "c:c:c:foo/filename",
            "\\c:../filename",
            "c:\\c:..\\foo/filename",
            "c:c:foo\\c:c:bar/filename",
        ] {
            assert_eq!(
                translate_path(path, &root()),
                root().join("filename"),
                "{path:?}"
            );
        }
    }

    #[test]
    fn raw_bytes_and_latin1() {
        let translated = translate_path_bytes(b"/caf\xc3\xa9?q", &root());
        assert_eq!(translated, root().join("café"));
        assert_eq!(
            latin1_bytes("caf\u{c3}\u{a9}"),
            Some(b"caf\xc3\xa9".to_vec())
        );
        assert_eq!(latin1_bytes("\u{100}"), None);
    }

    #[test]
    fn segments_are_safe() {
        assert_eq!(
            safe_segments("/a//b/./c/.."),
            vec![b"a".to_vec(), b"b".to_vec()]
        );
        assert!(safe_segments("/../..").is_empty());
    }

    #[test]
    fn trailing_slash_test() {
        for (path, expected) in [
            ("/", true),
            ("/dir", false),
            ("/dir/", true),
            ("/dir%2f", true),
            ("/dir%2F", true),
            ("/dir%252f", false),
            ("/dir/?x", true),
            ("/dir?x/", false),
            ("/dir#/", false),
            ("", false),
        ] {
            assert_eq!(has_trailing_slash(path), expected, "{path:?}");
        }
    }

    fn check_redirect(request_path: &str, expected: &str) {
        assert_eq!(
            directory_redirect_location(request_path),
            expected,
            "{request_path:?}"
        );
    }

    // Mirrors test_httpservers: SimpleHTTPServerTestCase.test_get_dir_redirect_location_domain_injection_bug.
    #[test]
    fn test_get_dir_redirect_location_domain_injection_bug() {
        check_redirect("//python.org%2f..", "/python.org%2f../");
        check_redirect("///python.org", "/python.org/");
        check_redirect("/\t/python.org", "/python.org/");
        check_redirect("/\t/", "/");
        check_redirect(" \x0b//evil.example", "/evil.example/");
        check_redirect("/\\evil.example", "/evil.example/");
        check_redirect("\\\\evil.example", "/evil.example/");
        check_redirect("///?q", "/?q");
    }

    #[test]
    fn redirect_of_an_absolute_uri_keeps_only_its_path() {
        check_redirect("http://evil.example/dir", "/dir/");
        check_redirect("HTTPS://evil.example:443/dir?q#f", "/dir/?q#f");
        check_redirect("http://evil.example", "/");
        check_redirect("http://evil.example?q", "/?q");
        check_redirect("http://evil.example//other.example/x", "/other.example/x/");
        check_redirect("http://evil.example\\other.example", "/other.example/");
        check_redirect("svn+ssh.1://h/x", "/x/");
        // Not a scheme and an authority: kept as a path.
        check_redirect("/http://evil.example/x", "/http://evil.example/x/");
        check_redirect("1http://evil.example/x", "1http://evil.example/x/");
        check_redirect("a:b/c", "a:b/c/");
        check_redirect("ht!tp://x/y", "ht!tp://x/y/");
    }

    #[test]
    fn redirect_keeps_query_and_fragment() {
        // Python: urlunsplit(('', '', '/a/', 'b', 'c')) == '/a/?b#c'.
        check_redirect("/a?b#c", "/a/?b#c");
        check_redirect("/a#c", "/a/#c");
        check_redirect("/a?", "/a/");
        check_redirect("/a#c?d", "/a/#c?d");
        check_redirect("/a", "/a/");
        check_redirect("a", "a/");
        check_redirect("", "/");
        check_redirect("/a\tb\r\n?q", "/ab/?q");
    }
}
