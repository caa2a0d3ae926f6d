//! Which request paths run a script, and how a path splits into script name, `PATH_INFO` and query.
//!
//! Everything here is pure string work over URL paths, so it is tested without a filesystem:
//! the one question that needs the disk ("is this URL path a directory?") is a closure the caller supplies.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

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
/// The path is first collapsed with [`url_collapse_path`] (so `/cgi-bin%2ffile.py` and `/x/../cgi-bin/file.py` count);
/// then each `/`-bounded prefix, shortest first, is looked up in `cgi_directories`.
/// `rest` is everything after the directory and its `/`, query included.
///
/// `None` also when the path climbs above the root.
/// A handler must not then serve the path as a file: Python raises there, and a file server that drops `..` segments
/// would hand out the script's source (`/cgi-bin/../../cgi-bin/script.sh`). Check [`url_collapse_path`] first and answer 400.
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
/// ```
pub fn is_cgi<S: AsRef<str>>(path: &str, cgi_directories: &[S]) -> Option<(String, String)> {
    let collapsed = url_collapse_path(path)?;
    let mut search_from = 1;
    while let Some(offset) = collapsed.get(search_from..).and_then(|tail| tail.find('/')) {
        let separator = search_from + offset;
        let head = &collapsed[..separator];
        if cgi_directories
            .iter()
            .any(|directory| directory.as_ref() == head)
        {
            return Some((head.to_owned(), collapsed[separator + 1..].to_owned()));
        }
        search_from = separator + 1;
    }
    None
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
    let (mut rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut directory = directory.to_owned();
    while let Some((segment, after)) = rest.split_once('/') {
        let candidate = format!("{directory}/{segment}");
        if !is_directory(&candidate) {
            break;
        }
        directory = candidate;
        rest = after;
    }
    let (script, path_info) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, ""),
    };
    ScriptPath {
        script_name: format!("{directory}/{script}"),
        directory,
        script: script.to_owned(),
        path_info: path_info.to_owned(),
        query: query.to_owned(),
    }
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
/// Python instead passes one argument, the whole query with `+` turned into spaces and not decoded,
/// and passes an empty argument when there is no query at all; RFC 3875 is followed here.
///
/// ```
/// use cgihttp::query_arguments;
///
/// assert_eq!(query_arguments("hello+big%20world"), ["hello", "big world"]);
/// assert!(query_arguments("a=b+c").is_empty());
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
    if words.iter().any(|word| word.contains(&0)) {
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
    }
}
