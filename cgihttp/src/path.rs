//! Which request paths run a script, and how a path splits into script name, `PATH_INFO` and query.
//!
//! Routing reads the request path as basehttp's [`RequestTarget`], the one reading simplehttp's file lookup uses too,
//! so a path that does not route to a script can never resolve to a file inside a CGI directory, whatever its spelling.
//! Everything here is pure work over URL paths, so it is tested without a filesystem:
//! the one question that needs the disk ("is this URL path a directory?") is a closure the caller supplies.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use basehttp::RequestTarget;
use percent_encoding::percent_decode_str;

/// Collapses `.` and `..` segments and empty segments of a URL path, after percent-decoding it, as Python's `_url_collapse_path`.
///
/// The query (after the first `?`) is kept as sent, undecoded.
/// The result always starts with `/`; its last segment is always separated from the rest by a `/`,
/// so a path with a single segment comes back as `//name` and the root as `//`, exactly as Python returns them.
/// Going above the root (`..`, `/../a`) is an error, `None`, where Python raises `IndexError`.
///
/// ```
/// use cgihttp::url_collapse_path;
///
/// assert_eq!(url_collapse_path("/a/b/c/../d/e/../../f").as_deref(), Some("/a/b/f"));
/// assert_eq!(url_collapse_path("/a/b/.").as_deref(), Some("/a/b/"));
/// assert_eq!(url_collapse_path("/../a"), None);
/// ```
#[doc(alias = "_url_collapse_path")]
pub fn url_collapse_path(path: &str) -> Option<String> {
    let (path, query) = match path.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path, None),
    };
    // Python's unquote: invalid UTF-8 after decoding becomes U+FFFD.
    let path = percent_decode_str(path).decode_utf8_lossy();

    let mut parts: Vec<&str> = path.split('/').collect();
    // `split` always yields at least one item, so the tail exists.
    let tail = parts.pop().unwrap_or("");
    let mut head: Vec<&str> = Vec::new();
    for part in parts {
        if part == ".." {
            head.pop()?;
        } else if !part.is_empty() && part != "." {
            head.push(part);
        }
    }
    let mut tail = match tail {
        ".." => {
            head.pop()?;
            String::new()
        }
        "." => String::new(),
        other => other.to_owned(),
    };
    // Python drops an empty query (`/a?` → `/a`), as `if query:` is false for it.
    if let Some(query) = query.filter(|query| !query.is_empty()) {
        tail.push('?');
        tail.push_str(query);
    }
    Some(format!("/{}/{}", head.join("/"), tail))
}

/// Tells whether `path` names a script under one of `cgi_directories`, as Python's `is_cgi`; `Some((directory, rest))` if so.
///
/// The path is read as a [`RequestTarget`] (decoded, `.` and `..` resolved, cut at `?` and `#`),
/// so `/cgi-bin%2ffile.py` and `/x/../cgi-bin/file.py` count; then each `/`-bounded prefix, shortest first,
/// is compared with `cgi_directories` (see [`route_script`] for how).
/// `directory` is the entry of `cgi_directories` that matched, as written there;
/// `rest` is everything after it and its `/`, decoded, with `?query` when the query is not empty.
///
/// `None` also when the path climbs above the root.
/// A handler must not then serve the path as a file: Python raises there, and a file server that drops `..` segments
/// would hand out the script's source (`/cgi-bin/../../cgi-bin/script.sh`). Check [`RequestTarget::climbs_above_root`] first and answer 400.
///
/// ```
/// use cgihttp::is_cgi;
///
/// let directories = ["/cgi-bin", "/htbin"];
/// assert_eq!(
///     is_cgi("/cgi-bin/file1.py/extra?x=1", &directories),
///     Some(("/cgi-bin".to_owned(), "file1.py/extra?x=1".to_owned()))
/// );
/// assert_eq!(is_cgi("/static/file1.py", &directories), None);
/// // A fragment ends the path for routing exactly as it does for files.
/// assert_eq!(is_cgi("/cgi-bin/env.sh#/../..", &directories), Some(("/cgi-bin".to_owned(), "env.sh".to_owned())));
/// ```
pub fn is_cgi<S: AsRef<str>>(path: &str, cgi_directories: &[S]) -> Option<(String, String)> {
    let target = RequestTarget::parse(path);
    if target.climbs_above_root() {
        return None;
    }
    let segments: Vec<&[u8]> = target.segments().collect();
    let (index, consumed) =
        match_cgi_directory(&segments, target.has_trailing_slash(), cgi_directories)?;
    let mut rest = join_segments(&segments[consumed..]);
    if target.has_trailing_slash() && consumed < segments.len() {
        rest.push(b'/');
    }
    let mut rest = String::from_utf8_lossy(&rest).into_owned();
    if let Some(query) = target.query().filter(|query| !query.is_empty()) {
        rest.push('?');
        rest.push_str(query);
    }
    Some((cgi_directories[index].as_ref().to_owned(), rest))
}

/// The segments of a configured CGI directory (`/cgi-bin`, `/sub/dir/cgi-bin`), as bytes; empty segments ignored.
fn directory_segments(directory: &str) -> impl Iterator<Item = &[u8]> {
    directory
        .split('/')
        .filter(|segment| !segment.is_empty())
        .map(str::as_bytes)
}

/// Which entry of `cgi_directories` the path's segments start with, and how many segments it covers.
///
/// A prefix counts only when a `/` follows it in the path (more segments, or the trailing slash), as in Python's `is_cgi`;
/// the shortest such prefix wins. Segments compare ignoring ASCII case, so that on a case-insensitive filesystem
/// `/CGI-BIN/x` cannot reach a script's file without running it; among equal candidates an exact match, then the first listed, wins.
fn match_cgi_directory<S: AsRef<str>>(
    segments: &[&[u8]],
    trailing_slash: bool,
    cgi_directories: &[S],
) -> Option<(usize, usize)> {
    for consumed in 1..=segments.len() {
        if consumed == segments.len() && !trailing_slash {
            break;
        }
        let prefix = &segments[..consumed];
        let matches = |directory: &S, exact: bool| {
            let mut count = 0;
            let mut same = true;
            for (index, segment) in directory_segments(directory.as_ref()).enumerate() {
                count += 1;
                same &= prefix.get(index).is_some_and(|wanted| {
                    if exact {
                        *wanted == segment
                    } else {
                        wanted.eq_ignore_ascii_case(segment)
                    }
                });
            }
            same && count == consumed
        };
        let found = cgi_directories
            .iter()
            .position(|directory| matches(directory, true))
            .or_else(|| {
                cgi_directories
                    .iter()
                    .position(|directory| matches(directory, false))
            });
        if let Some(index) = found {
            return Some((index, consumed));
        }
    }
    None
}

fn join_segments(segments: &[&[u8]]) -> Vec<u8> {
    segments.join(&b'/')
}

/// Where a request path leads under the CGI directories, in URL segments (decoded bytes): what [`route_script`] finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptLocation {
    /// The segments of the directory holding the script: the matched entry of `cgi_directories` as configured,
    /// then the nested directories the request walked into, as requested.
    pub directory: Vec<Vec<u8>>,
    /// The script's file name; empty when the path ends at the directory.
    pub script: Vec<u8>,
    /// `PATH_INFO`, decoded: what follows the script name, starting with `/`, or empty.
    pub path_info: Vec<u8>,
}

impl ScriptLocation {
    /// The script's file under `document_root` (the directory itself, with a trailing `/`, when no script is named).
    pub fn file(&self, document_root: &Path) -> PathBuf {
        let mut file = document_root.to_path_buf();
        for segment in &self.directory {
            file.push(std::ffi::OsStr::from_bytes(segment));
        }
        if self.script.is_empty() {
            file.as_mut_os_string().push("/");
        } else {
            file.push(std::ffi::OsStr::from_bytes(&self.script));
        }
        file
    }

    /// The location as the text of CGI variables (bytes that are not UTF-8 replaced), with `query` as `QUERY_STRING`.
    pub fn script_path(&self, query: &str) -> ScriptPath {
        let mut directory = String::new();
        for segment in &self.directory {
            directory.push('/');
            directory.push_str(&String::from_utf8_lossy(segment));
        }
        let script = String::from_utf8_lossy(&self.script).into_owned();
        ScriptPath {
            script_name: format!("{directory}/{script}"),
            directory,
            script,
            path_info: String::from_utf8_lossy(&self.path_info).into_owned(),
            query: query.to_owned(),
        }
    }
}

/// Decides whether a request runs a script, and which: the routing half of Python's `is_cgi` and `run_cgi`, on a [`RequestTarget`].
///
/// `None` when the path is not under one of `cgi_directories` (the file server answers it) or climbs above the root
/// (answer 400: see [`is_cgi`]). The CGI directory is found as [`is_cgi`] finds it; below it the path walks down
/// while the next segment is a directory (`is_directory` is asked with the URL segments so far, a server looks at the disk),
/// and the next segment names the script, the rest being `PATH_INFO`.
///
/// Routing and file lookup agree because both read the same [`RequestTarget`]: a path for which this says `None`
/// never resolves, through simplehttp's `translate_path`, to a file inside a CGI directory, nor to its listing.
///
/// ```
/// use basehttp::RequestTarget;
/// use cgihttp::route_script;
///
/// let target = RequestTarget::parse("/CGI-BIN/./tools/env.sh/extra/?x");
/// let location = route_script(&target, &["/cgi-bin"], |segments| segments.len() == 2).expect("a script");
/// assert_eq!(location.directory, [b"cgi-bin".to_vec(), b"tools".to_vec()]);
/// assert_eq!((location.script.as_slice(), location.path_info.as_slice()), (&b"env.sh"[..], &b"/extra/"[..]));
/// ```
pub fn route_script<S: AsRef<str>>(
    target: &RequestTarget,
    cgi_directories: &[S],
    is_directory: impl FnMut(&[Vec<u8>]) -> bool,
) -> Option<ScriptLocation> {
    if target.climbs_above_root() {
        return None;
    }
    let segments: Vec<&[u8]> = target.segments().collect();
    let (index, consumed) =
        match_cgi_directory(&segments, target.has_trailing_slash(), cgi_directories)?;
    let directory = directory_segments(cgi_directories[index].as_ref())
        .map(<[u8]>::to_vec)
        .collect();
    Some(walk_to_script(
        directory,
        &segments[consumed..],
        target.has_trailing_slash(),
        is_directory,
    ))
}

/// Python's walk in `run_cgi`: down `rest` while the next segment is a directory and a `/` follows it,
/// then the next segment is the script and the rest `PATH_INFO`.
fn walk_to_script(
    mut directory: Vec<Vec<u8>>,
    rest: &[&[u8]],
    trailing_slash: bool,
    mut is_directory: impl FnMut(&[Vec<u8>]) -> bool,
) -> ScriptLocation {
    let mut index = 0;
    // A `/` follows segment `index` when another segment does, or the path ends with one.
    while index < rest.len() && (index + 1 < rest.len() || trailing_slash) {
        directory.push(rest[index].to_vec());
        if !is_directory(&directory) {
            directory.pop();
            break;
        }
        index += 1;
    }
    let script = rest
        .get(index)
        .map(|script| script.to_vec())
        .unwrap_or_default();
    let mut path_info = Vec::new();
    if index < rest.len() {
        for segment in &rest[index + 1..] {
            path_info.push(b'/');
            path_info.extend_from_slice(segment);
        }
        if trailing_slash {
            path_info.push(b'/');
        }
    }
    ScriptLocation {
        directory,
        script,
        path_info,
    }
}

/// A CGI request path taken apart: the pieces `run_cgi` computes before it looks at the script file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptPath {
    /// The deepest directory (URL path, no trailing `/`) that holds the script, such as `/cgi-bin/child-dir`.
    pub directory: String,
    /// The script's file name, such as `file3.py`; empty when the path ends at the directory.
    pub script: String,
    /// `SCRIPT_NAME`: `directory/script`.
    pub script_name: String,
    /// `PATH_INFO`: what follows the script name, starting with `/`, or empty.
    pub path_info: String,
    /// `QUERY_STRING`: everything after the first `?`, raw (it may hold more `?`, `/` and escapes).
    pub query: String,
}

/// Splits the `rest` that [`is_cgi`] found under `directory` into script, `PATH_INFO` and query, as Python's `run_cgi`.
///
/// Python walks down the path while the next prefix is a directory on disk, so scripts in nested directories are found
/// (`/cgi-bin/child-dir/file3.py`); `is_directory` answers that question for a URL path such as `/cgi-bin/child-dir`
/// (a server maps it with its `translate_path`).
///
/// Unlike Python, the query is split off before the walk, so a `/` inside the query is never taken for a directory boundary
/// (Python's walk could otherwise move into `dir?x` and name a script inside the query).
///
/// ```
/// use cgihttp::split_script;
///
/// let split = split_script("/cgi-bin", "child-dir/file3.py/a/b?x=1?y", |path| path == "/cgi-bin/child-dir");
/// assert_eq!(split.script_name, "/cgi-bin/child-dir/file3.py");
/// assert_eq!(split.path_info, "/a/b");
/// assert_eq!(split.query, "x=1?y");
/// ```
pub fn split_script(
    directory: &str,
    rest: &str,
    mut is_directory: impl FnMut(&str) -> bool,
) -> ScriptPath {
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let segments: Vec<&[u8]> = rest
        .split('/')
        .filter(|segment| !segment.is_empty())
        .map(str::as_bytes)
        .collect();
    let directory_segments = directory_segments(directory).map(<[u8]>::to_vec).collect();
    let location = walk_to_script(
        directory_segments,
        &segments,
        rest.ends_with('/'),
        |candidate| {
            let mut url_path = String::new();
            for segment in candidate {
                url_path.push('/');
                url_path.push_str(&String::from_utf8_lossy(segment));
            }
            is_directory(&url_path)
        },
    );
    location.script_path(query)
}

/// Tells whether a script is a "non-parsed header" script: its file name starts with `nph-` (RFC 3875 §5).
///
/// Such a script writes the whole HTTP response, status line included; the server passes its output through untouched.
pub fn is_nph(script: &str) -> bool {
    let file_name = script.rsplit('/').next().unwrap_or(script);
    file_name.starts_with("nph-")
}

/// Tells whether a script is a Python script (`.py` or `.pyw`), as Python's `is_python`.
pub fn is_python(script: &str) -> bool {
    script.ends_with(".py") || script.ends_with(".pyw")
}

/// The command-line arguments a query gives a script (RFC 3875 §4.4): none when the query holds an `=`.
///
/// Otherwise the query is an "indexed" search string: split on `+`, each word percent-decoded (as raw bytes), empty words dropped.
/// A word that decodes to a NUL byte cannot be an argument, and then, as RFC 3875 asks, no arguments are given at all.
///
/// A word that starts with `-` (after decoding, so `%2D` too) would reach the script as an option:
/// `GET /cgi-bin/search.sh?-s+foo` would run it with `-s foo`, the option-injection hole behind PHP-CGI's CVE-2012-1823.
/// The client, not the script's author, chooses those words, so such a query gives no arguments at all,
/// as RFC 3875 §4.4 has it for any word the server cannot pass ("MUST NOT generate any command line information");
/// the script still reads the whole query from `QUERY_STRING`.
///
/// Python instead passes one argument, the whole query with `+` turned into spaces and not decoded,
/// and passes an empty argument when there is no query at all; RFC 3875 is followed here.
///
/// ```
/// use cgihttp::query_arguments;
///
/// assert_eq!(query_arguments("hello+big%20world"), ["hello", "big world"]);
/// assert!(query_arguments("a=b+c").is_empty());
/// assert!(query_arguments("-s+foo").is_empty());
/// assert!(query_arguments("foo+%2Dn").is_empty());
/// ```
pub fn query_arguments(query: &str) -> Vec<OsString> {
    if query.contains('=') {
        return Vec::new();
    }
    let words: Vec<Vec<u8>> = query
        .split('+')
        .filter(|word| !word.is_empty())
        .map(|word| percent_decode_str(word).collect())
        .collect();
    if words
        .iter()
        .any(|word| word.contains(&0) || word.starts_with(b"-"))
    {
        return Vec::new();
    }
    words.into_iter().map(OsString::from_vec).collect()
}

/// Maps an already-decoded URL path under `root` as a file server's `translate_path` does:
/// empty, `.` and `..` segments dropped, a trailing `/` kept, so the result never leaves `root`.
///
/// The pieces [`split_script`] returns are decoded already (by [`url_collapse_path`]); Python's `translate_path` decodes them
/// a second time, so `%2541` in a request reaches the disk as `A`. Here it is decoded once and reaches the disk as `%41`.
///
/// ```
/// use std::path::Path;
/// use cgihttp::translate_decoded_path;
///
/// assert_eq!(translate_decoded_path(Path::new("/srv"), "/cgi-bin/../x.py"), Path::new("/srv/cgi-bin/x.py"));
/// ```
pub fn translate_decoded_path(root: &Path, path: &str) -> PathBuf {
    let mut translated = root.to_path_buf();
    for segment in path.split('/') {
        if !segment.is_empty() && segment != "." && segment != ".." {
            translated.push(segment);
        }
    }
    if path.ends_with('/') && path.len() > 1 {
        let mut with_slash = translated.into_os_string();
        with_slash.push("/");
        translated = PathBuf::from(with_slash);
    }
    translated
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Option<&str>) {
        assert_eq!(
            url_collapse_path(input).as_deref(),
            expected,
            "url_collapse_path({input:?})"
        );
    }

    // Mirrors test_httpservers: CGIHTTPServerTestCase.test_url_collapse_path (every vector, IndexError as None).
    #[test]
    fn test_url_collapse_path() {
        let vectors: &[(&str, Option<&str>)] = &[
            ("", Some("//")),
            ("..", None),
            ("/.//..", None),
            ("/", Some("//")),
            ("//", Some("//")),
            ("/\\", Some("//\\")),
            ("/.//", Some("//")),
            ("cgi-bin/file1.py", Some("/cgi-bin/file1.py")),
            ("/cgi-bin/file1.py", Some("/cgi-bin/file1.py")),
            ("a", Some("//a")),
            ("/a", Some("//a")),
            ("//a", Some("//a")),
            ("./a", Some("//a")),
            ("./C:/", Some("/C:/")),
            ("/a/b", Some("/a/b")),
            ("/a/b/", Some("/a/b/")),
            ("/a/b/.", Some("/a/b/")),
            ("/a/b/c/..", Some("/a/b/")),
            ("/a/b/c/../d", Some("/a/b/d")),
            ("/a/b/c/../d/e/../f", Some("/a/b/d/f")),
            ("/a/b/c/../d/e/../../f", Some("/a/b/f")),
            ("/a/b/c/../d/e/.././././..//f", Some("/a/b/f")),
            ("../a/b/c/../d/e/.././././..//f", None),
            ("/a/b/c/../d/e/../../../f", Some("/a/f")),
            ("/a/b/c/../d/e/../../../../f", Some("//f")),
            ("/a/b/c/../d/e/../../../../../f", None),
            ("/a/b/c/../d/e/../../../../f/..", Some("//")),
            ("/a/b/c/../d/e/../../../../f/../.", Some("//")),
        ];
        for &(input, expected) in vectors {
            check(input, expected);
        }
    }

    #[test]
    fn collapse_keeps_the_query_raw_and_decodes_the_path() {
        check("/a/./b?x=%2F/../y", Some("/a/b?x=%2F/../y"));
        check("/a%2fb/%2e%2e/c", Some("/a/c"));
        check("/%2e%2e/etc/passwd", None);
        check("/a?", Some("//a"));
        check("/a?b?c", Some("//a?b?c"));
        // Invalid UTF-8 after decoding becomes U+FFFD, as Python's unquote.
        check("/a/%ff", Some("/a/\u{fffd}"));
        check("/a/%zz%", Some("/a/%zz%"));
    }

    const DIRECTORIES: [&str; 2] = ["/cgi-bin", "/htbin"];

    fn check_cgi(path: &str, expected: Option<(&str, &str)>) {
        let found = is_cgi(path, &DIRECTORIES);
        let found = found
            .as_ref()
            .map(|(directory, rest)| (directory.as_str(), rest.as_str()));
        assert_eq!(found, expected, "is_cgi({path:?})");
    }

    #[test]
    fn is_cgi_finds_the_directory_prefix() {
        check_cgi("/cgi-bin/file1.py", Some(("/cgi-bin", "file1.py")));
        check_cgi("/htbin/a/b?c", Some(("/htbin", "a/b?c")));
        check_cgi("/cgi-bin/", Some(("/cgi-bin", "")));
        check_cgi("/cgi-bin", None);
        check_cgi("/cgi-binx/file1.py", None);
        check_cgi("/x/cgi-bin/file1.py", None);
        check_cgi("/", None);
        check_cgi("", None);
        check_cgi("/../cgi-bin/file1.py", None);
        check_cgi("/cgi-bin/./../htbin/x", Some(("/htbin", "x")));
    }

    // Mirrors test_httpservers: test_urlquote_decoding_in_cgi_check.
    #[test]
    fn test_urlquote_decoding_in_cgi_check() {
        check_cgi("/cgi-bin%2ffile1.py", Some(("/cgi-bin", "file1.py")));
        check_cgi("/cgi-bin%2Ffile1.py", Some(("/cgi-bin", "file1.py")));
        check_cgi("/%63gi-bin/file1.py", Some(("/cgi-bin", "file1.py")));
    }

    // Mirrors test_httpservers: test_no_leading_slash.
    #[test]
    fn test_no_leading_slash() {
        check_cgi("cgi-bin/file1.py", Some(("/cgi-bin", "file1.py")));
    }

    // Mirrors test_httpservers: test_issue19435 (the collapsed path names a script that does not exist).
    #[test]
    fn test_issue19435() {
        check_cgi(
            "///////////nocgi.py/../cgi-bin/nothere.sh",
            Some(("/cgi-bin", "nothere.sh")),
        );
    }

    // Mirrors test_httpservers: test_cgi_path_in_sub_directories.
    #[test]
    fn test_cgi_path_in_sub_directories() {
        let directories = ["/cgi-bin", "/htbin", "/sub/dir/cgi-bin"];
        assert_eq!(
            is_cgi("/sub/dir/cgi-bin/file5.py", &directories),
            Some(("/sub/dir/cgi-bin".to_owned(), "file5.py".to_owned()))
        );
        assert_eq!(is_cgi("/sub/dir/file5.py", &directories), None);
        // The shortest listed prefix wins, as Python's left-to-right search.
        let nested = ["/a", "/a/b"];
        assert_eq!(
            is_cgi("/a/b/c", &nested),
            Some(("/a".to_owned(), "b/c".to_owned()))
        );
    }

    fn check_split(rest: &str, directories_on_disk: &[&str], expected: (&str, &str, &str, &str)) {
        let split = split_script("/cgi-bin", rest, |path| directories_on_disk.contains(&path));
        assert_eq!(
            (
                split.directory.as_str(),
                split.script_name.as_str(),
                split.path_info.as_str(),
                split.query.as_str()
            ),
            expected,
            "split_script({rest:?})"
        );
        assert_eq!(
            split.script_name,
            format!("{}/{}", split.directory, split.script)
        );
    }

    #[test]
    fn split_script_separates_path_info_and_query() {
        check_split("file1.py", &[], ("/cgi-bin", "/cgi-bin/file1.py", "", ""));
        check_split(
            "file1.py/a/b/",
            &[],
            ("/cgi-bin", "/cgi-bin/file1.py", "/a/b/", ""),
        );
        check_split(
            "file1.py?x=1",
            &[],
            ("/cgi-bin", "/cgi-bin/file1.py", "", "x=1"),
        );
        check_split("", &[], ("/cgi-bin", "/cgi-bin/", "", ""));
        check_split("?x", &[], ("/cgi-bin", "/cgi-bin/", "", "x"));
    }

    // Mirrors test_httpservers: test_nested_cgi_path_issue21323.
    #[test]
    fn test_nested_cgi_path_issue21323() {
        check_split(
            "child-dir/file3.py",
            &["/cgi-bin/child-dir"],
            ("/cgi-bin/child-dir", "/cgi-bin/child-dir/file3.py", "", ""),
        );
        check_split(
            "a/b/c.sh/d/e",
            &["/cgi-bin/a", "/cgi-bin/a/b"],
            ("/cgi-bin/a/b", "/cgi-bin/a/b/c.sh", "/d/e", ""),
        );
        // The walk stops at the first prefix that is not a directory.
        check_split(
            "x/a/b",
            &["/cgi-bin/x/a"],
            ("/cgi-bin", "/cgi-bin/x", "/a/b", ""),
        );
    }

    // Mirrors test_httpservers: test_query_with_multiple_question_mark.
    #[test]
    fn test_query_with_multiple_question_mark() {
        let (directory, rest) =
            is_cgi("/cgi-bin/file4.py?a=b?c=d", &DIRECTORIES).unwrap_or_default();
        let split = split_script(&directory, &rest, |_| false);
        assert_eq!(split.script_name, "/cgi-bin/file4.py");
        assert_eq!(split.query, "a=b?c=d");
    }

    // Mirrors test_httpservers: test_query_with_continuous_slashes.
    #[test]
    fn test_query_with_continuous_slashes() {
        let (directory, rest) = is_cgi(
            "/cgi-bin/file4.py?k=aa%2F%2Fbb&//q//p//=//a//b//",
            &DIRECTORIES,
        )
        .unwrap_or_default();
        let mut asked = Vec::new();
        let split = split_script(&directory, &rest, |path| {
            asked.push(path.to_owned());
            false
        });
        assert_eq!(split.script_name, "/cgi-bin/file4.py");
        assert_eq!(split.path_info, "");
        assert_eq!(split.query, "k=aa%2F%2Fbb&//q//p//=//a//b//");
        assert!(asked.is_empty(), "the query is never walked: {asked:?}");
    }

    #[test]
    fn no_panic_on_arbitrary_paths() {
        // A deterministic sweep over short paths made of the characters that matter here.
        let alphabet = [
            '/', '.', '?', '%', '2', 'f', 'F', 'c', '=', '+', '\u{e9}', '\0',
        ];
        let directories = ["/c", "/c/c", "/."];
        let mut state: u32 = 0x9e37_79b9;
        for _ in 0..20_000 {
            let mut path = String::new();
            for _ in 0..(state % 16) {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                path.push(alphabet[(state >> 24) as usize % alphabet.len()]);
            }
            if let Some(collapsed) = url_collapse_path(&path) {
                assert!(collapsed.starts_with('/'), "{path:?} gave {collapsed:?}");
                let query_start = collapsed.find('?').unwrap_or(collapsed.len());
                let segments = &collapsed[..query_start];
                assert!(
                    segments
                        .split('/')
                        .all(|segment| segment != ".." && segment != "."),
                    "{path:?} gave {collapsed:?}"
                );
            }
            if let Some((directory, rest)) = is_cgi(&path, &directories) {
                assert!(directories.contains(&directory.as_str()));
                let split = split_script(&directory, &rest, |candidate| candidate.len() % 2 == 0);
                assert_eq!(
                    split.script_name,
                    format!("{}/{}", split.directory, split.script)
                );
                assert!(split.path_info.is_empty() || split.path_info.starts_with('/'));
            }
            let _ = query_arguments(&path);
            let _ = translate_decoded_path(Path::new("/root"), &path);
        }
    }

    #[test]
    fn nph_and_python_scripts() {
        assert!(is_nph("nph-test.sh"));
        assert!(is_nph("/cgi-bin/nph-x"));
        assert!(!is_nph("/cgi-bin/x-nph-y"));
        assert!(!is_nph("/nph-dir/x.sh"));
        assert!(is_python("/cgi-bin/file1.py"));
        assert!(is_python("x.pyw"));
        assert!(!is_python("x.pyc"));
    }

    fn check_arguments(query: &str, expected: &[&[u8]]) {
        let found: Vec<Vec<u8>> = query_arguments(query)
            .into_iter()
            .map(OsString::into_vec)
            .collect();
        assert_eq!(found, expected, "query_arguments({query:?})");
    }

    #[test]
    fn query_without_equals_becomes_arguments() {
        check_arguments("", &[]);
        check_arguments("a", &[b"a"]);
        check_arguments("a+b", &[b"a", b"b"]);
        check_arguments("a++b+", &[b"a", b"b"]);
        check_arguments("a%2Bb+%ff", &[b"a+b", b"\xff"]);
        check_arguments("a+%00", &[]);
        check_arguments("a=b", &[]);
        check_arguments("x+a%3Db", &[b"x", b"a=b"]);
        check_arguments("a-b+c-", &[b"a-b", b"c-"]);
    }

    // A search word starting with `-` would be an option to the script: the query then gives no arguments at all.
    #[test]
    fn search_words_never_become_options() {
        check_arguments("-s+foo", &[]);
        check_arguments("foo+-s", &[]);
        check_arguments("%2ds", &[]);
        check_arguments("%2Dn+x", &[]);
        check_arguments("--", &[]);
        check_arguments("-", &[]);
        check_arguments("+-x", &[]);
    }
}
