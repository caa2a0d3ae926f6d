//! The request target as one normalised path: the single answer to "which path does this request name".
//!
//! Every layer that maps a request to something (simplehttp's file lookup, cgihttp's choice between a script and a file)
//! reads the path from here, so no spelling of a target can be cut, decoded or collapsed one way by one layer and
//! another way by the next: `#`, `%23`, `?`, `//`, `/./`, `/../`, `%2e`, `%2f` all mean one thing.

use std::borrow::Cow;

use percent_encoding::percent_decode;

/// A request target taken apart once: its decoded, normalised path and its raw query.
///
/// How a target string becomes one:
/// 1. The path ends at the first `?` or `#`, whichever comes first (Python's `translate_path` cut);
///    the query is what follows a `?` that comes before any `#`, up to that `#`, kept raw.
/// 2. The path is percent-decoded to bytes, so `%2f` is a separator and `%2e%2e` is `..`; bytes that are not UTF-8 stay as they are.
/// 3. It is split on `/` and normalised like `posixpath.normpath`: empty and `.` segments are dropped,
///    `..` removes the segment before it, and a `..` with nothing left to remove is dropped too, but remembered
///    ([`climbs_above_root`](Self::climbs_above_root)), since a server may rather refuse such a path than clamp it.
/// 4. On Windows, segments that the platform would read as more than one name (`\`, `:`) are dropped.
/// 5. The path names a directory explicitly ([`has_trailing_slash`](Self::has_trailing_slash)) when its decoded form ends with `/`.
///
/// A request line is read as ISO-8859-1, so each character of a target string below U+0100 is taken as the byte it came as;
/// a string holding a character beyond that (set by code rather than read off the wire) is taken as UTF-8.
///
/// ```
/// use basehttp::RequestTarget;
///
/// let target = RequestTarget::parse("/cgi-bin/%2e%2e/cgi-bin//env.sh#/../..");
/// assert_eq!(target.path(), b"/cgi-bin/env.sh");
/// assert_eq!(target.query(), None);
///
/// let target = RequestTarget::parse("/a%2fb/./c/?x=1&y#frag");
/// assert_eq!(target.segments().collect::<Vec<_>>(), [&b"a"[..], b"b", b"c"]);
/// assert!(target.has_trailing_slash());
/// assert_eq!(target.query(), Some("x=1&y"));
/// assert!(RequestTarget::parse("/../etc/passwd").climbs_above_root());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestTarget {
    /// `/`, then the segments joined by `/`, then a `/` when the target ends with one (and has a segment).
    path: Vec<u8>,
    /// The number of segments in `path`.
    segment_count: usize,
    trailing_slash: bool,
    climbs_above_root: bool,
    query: Option<String>,
}

impl RequestTarget {
    /// Takes a request target (the path word of a request line, or a path set by code) apart; see the type's documentation.
    pub fn parse(target: &str) -> RequestTarget {
        let path_end = target.find(['?', '#']).unwrap_or(target.len());
        let query = target[path_end..]
            .strip_prefix('?')
            .map(|query| query.split('#').next().unwrap_or("").to_owned());
        let raw_path = &target[..path_end];
        let mut target = RequestTarget::from_path_bytes(&request_bytes(raw_path));
        target.query = query;
        target
    }

    /// [`parse`](Self::parse) for the raw bytes of a target, as they came on the request line; the query is read as ISO-8859-1.
    pub fn parse_bytes(raw: &[u8]) -> RequestTarget {
        let path_end = raw
            .iter()
            .position(|&byte| byte == b'?' || byte == b'#')
            .unwrap_or(raw.len());
        let query = match raw.get(path_end) {
            Some(b'?') => {
                let rest = &raw[path_end + 1..];
                let end = rest
                    .iter()
                    .position(|&byte| byte == b'#')
                    .unwrap_or(rest.len());
                Some(rest[..end].iter().map(|&byte| char::from(byte)).collect())
            }
            _ => None,
        };
        let mut target = RequestTarget::from_path_bytes(&raw[..path_end]);
        target.query = query;
        target
    }

    /// The path part alone (already cut at `?` and `#`): decoded and normalised.
    ///
    /// Built in one buffer, as every request passes here: a target without `%` is read where it lies, and a `..` takes
    /// back the segment before it by cutting the buffer at that segment's `/`.
    fn from_path_bytes(raw_path: &[u8]) -> RequestTarget {
        let decoded: Cow<'_, [u8]> = percent_decode(raw_path).into();
        let mut path = Vec::with_capacity(decoded.len() + 1);
        let mut segment_count = 0;
        let mut climbs_above_root = false;
        for segment in decoded.split(|&byte| byte == b'/') {
            match segment {
                b"" | b"." => {}
                b".." => match path.iter().rposition(|&byte| byte == b'/') {
                    Some(start) => {
                        path.truncate(start);
                        segment_count -= 1;
                    }
                    None => climbs_above_root = true,
                },
                _ => {
                    path.push(b'/');
                    path.extend_from_slice(segment);
                    segment_count += 1;
                }
            }
        }
        #[cfg(windows)]
        {
            segment_count = drop_separator_segments(&mut path);
        }
        let trailing_slash = decoded.ends_with(b"/");
        if path.is_empty() || trailing_slash {
            path.push(b'/');
        }
        RequestTarget {
            path,
            segment_count,
            trailing_slash,
            climbs_above_root,
            query: None,
        }
    }

    /// The normalised, decoded path: `/`, the segments joined by `/`, and a final `/` when the target ends with one.
    ///
    /// The root is `/` whether or not the target ended with a slash; [`has_trailing_slash`](Self::has_trailing_slash) tells them apart.
    pub fn path(&self) -> &[u8] {
        &self.path
    }

    /// [`path`](Self::path) as text, bytes that are not UTF-8 replaced by U+FFFD (for logs and CGI variables, not for finding files).
    pub fn path_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.path)
    }

    /// The segments of the path, in order: never empty, `.` or `..`, never holding `/`.
    pub fn segments(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.path
            .split(|&byte| byte == b'/')
            .filter(|segment| !segment.is_empty())
    }

    /// How many segments the path has (0 for the root).
    pub fn segment_count(&self) -> usize {
        self.segment_count
    }

    /// Whether the target's decoded path ends with `/` (sent as `/`, `%2f` or `%2F`): it names a directory explicitly.
    pub fn has_trailing_slash(&self) -> bool {
        self.trailing_slash
    }

    /// Whether a `..` tried to climb above the root; the path then holds what remained, as `posixpath.normpath` would clamp it.
    pub fn climbs_above_root(&self) -> bool {
        self.climbs_above_root
    }

    /// The raw query (after the first `?`, before any `#`), `None` when there is no `?`; `Some("")` for a bare `?`.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }
}

/// The bytes a target string stands for: ISO-8859-1 when every character fits (as a request line is read), else UTF-8.
fn request_bytes(text: &str) -> Cow<'_, [u8]> {
    if text.is_ascii() {
        return Cow::Borrowed(text.as_bytes());
    }
    let latin1: Option<Vec<u8>> = text
        .chars()
        .map(|character| u8::try_from(u32::from(character)).ok())
        .collect();
    match latin1 {
        Some(bytes) => Cow::Owned(bytes),
        None => Cow::Borrowed(text.as_bytes()),
    }
}

/// Python drops a segment when `os.path.dirname(word)` is not empty: on Windows a backslash or a drive letter.
/// It does so after normalising, so a `..` took one of them back like any other segment. Returns the segments left.
#[cfg(windows)]
fn drop_separator_segments(path: &mut Vec<u8>) -> usize {
    let kept: Vec<Vec<u8>> = path
        .split(|&byte| byte == b'/')
        .filter(|segment| {
            !segment.is_empty() && !segment.iter().any(|&byte| byte == b'\\' || byte == b':')
        })
        .map(<[u8]>::to_vec)
        .collect();
    path.clear();
    for segment in &kept {
        path.push(b'/');
        path.extend_from_slice(segment);
    }
    kept.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(target: &str, path: &str, trailing_slash: bool, query: Option<&str>) {
        let parsed = RequestTarget::parse(target);
        assert_eq!(
            (
                parsed.path_lossy().as_ref(),
                parsed.has_trailing_slash(),
                parsed.query()
            ),
            (path, trailing_slash, query),
            "RequestTarget::parse({target:?})"
        );
        assert_eq!(parsed.segments().count(), parsed.segment_count());
    }

    #[test]
    fn fragment_and_query_end_the_path_wherever_they_are() {
        check("/cgi-bin/env.sh#/../..", "/cgi-bin/env.sh", false, None);
        check("/cgi-bin/#/..", "/cgi-bin/", true, None);
        check("/a?b#c", "/a", false, Some("b"));
        check("/a#c?d", "/a", false, None);
        check("/a?", "/a", false, Some(""));
        check("/a?b?c", "/a", false, Some("b?c"));
        check("/a?x=%2F/../y", "/a", false, Some("x=%2F/../y"));
        // Escaped, they are part of a name.
        check("/f%23/../g%3Fh", "/g?h", false, None);
    }

    #[test]
    fn dot_segments_and_empty_segments_collapse() {
        check("", "/", false, None);
        check("/", "/", true, None);
        check("//", "/", true, None);
        check("/a//b/./c/..", "/a/b", false, None);
        check("/a/b/.", "/a/b", false, None);
        check("/a/b/./", "/a/b/", true, None);
        check("/%2e%2E/x", "/x", false, None);
        check("/a%2fb%2F", "/a/b/", true, None);
        check("a/b", "/a/b", false, None);
        check("/;x/../a;b", "/a;b", false, None);
    }

    #[test]
    fn climbing_above_the_root_is_clamped_and_remembered() {
        for target in [
            "..",
            "/..",
            "/../a",
            "/a/../..",
            "/%2e%2e/etc/passwd",
            "../a/b",
        ] {
            assert!(
                RequestTarget::parse(target).climbs_above_root(),
                "{target:?}"
            );
        }
        for target in ["/a/..", "/a/b/../..", "/...", "/a/..b"] {
            assert!(
                !RequestTarget::parse(target).climbs_above_root(),
                "{target:?}"
            );
        }
        check("/../../etc/passwd", "/etc/passwd", false, None);
    }

    #[test]
    fn bytes_that_are_not_utf8_survive() {
        assert_eq!(RequestTarget::parse("/%FF%fe").path(), b"/\xff\xfe");
        // A request line read as ISO-8859-1: raw UTF-8 comes back as its bytes.
        assert_eq!(
            RequestTarget::parse("/caf\u{c3}\u{a9}").path(),
            "/café".as_bytes()
        );
        // A path set by code beyond ISO-8859-1 is UTF-8.
        assert_eq!(
            RequestTarget::parse("/\u{263a}").path(),
            "/\u{263a}".as_bytes()
        );
        assert_eq!(
            RequestTarget::parse_bytes(b"/caf\xc3\xa9?q=\xe9#x"),
            RequestTarget {
                path: "/café".as_bytes().to_vec(),
                segment_count: 1,
                trailing_slash: false,
                climbs_above_root: false,
                query: Some("q=\u{e9}".to_owned()),
            }
        );
    }

    #[test]
    fn string_and_bytes_agree() {
        let alphabet = [
            "/", ".", "..", "%2e", "%2f", "%2F", "?", "#", "%23", "a", "\u{e9}", "%", "%ff",
        ];
        let mut state: u32 = 0x2545_f491;
        for _ in 0..20_000 {
            let mut target = String::new();
            for _ in 0..(state % 12) {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                target.push_str(alphabet[(state >> 24) as usize % alphabet.len()]);
            }
            let bytes: Vec<u8> = target.chars().map(|character| character as u8).collect();
            assert_eq!(
                RequestTarget::parse(&target),
                RequestTarget::parse_bytes(&bytes),
                "{target:?}"
            );
        }
    }
}
