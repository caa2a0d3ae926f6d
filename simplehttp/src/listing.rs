//! The directory listing page, byte for byte as Python's `list_directory` writes it.
//!
//! The page is built from a list of [`ListingEntry`] values, so it can be tested without a filesystem; [`read_listing_entries`] reads a real directory into that list.

use std::fs;
use std::io;
use std::path::Path;

use percent_encoding::{percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::url_path::{strip_query_and_fragment, unquote_to_bytes};

/// The bytes `urllib.parse.quote(name)` leaves alone: letters, digits, `_.-~`, and `/` (its default `safe`).
const QUOTE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~')
    .remove(b'/');

/// The `Content-Type` Python sends with the listing page.
pub const LISTING_CONTENT_TYPE: &str = "text/html; charset=utf-8";

/// One name in a directory, as the listing needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingEntry {
    /// The file name's bytes; on Unix they need not be UTF-8.
    pub name: Vec<u8>,
    /// Whether the name is a directory, following symbolic links (Python's `os.path.isdir`).
    pub is_dir: bool,
    /// Whether the name is itself a symbolic link (Python's `os.path.islink`).
    pub is_symlink: bool,
}

impl ListingEntry {
    /// An entry for a plain file.
    pub fn file(name: impl Into<Vec<u8>>) -> Self {
        Self {
            name: name.into(),
            is_dir: false,
            is_symlink: false,
        }
    }

    /// An entry for a directory.
    pub fn dir(name: impl Into<Vec<u8>>) -> Self {
        Self {
            name: name.into(),
            is_dir: true,
            is_symlink: false,
        }
    }

    /// The `href` Python writes: `quote(name)`, with `/` appended for a directory.
    ///
    /// Bytes that are not UTF-8 are percent-encoded as they are (`%FF`), so the link leads back to the same name through [`translate_path`](crate::translate_path).
    pub fn link(&self) -> String {
        let mut link = percent_encode(&self.name, QUOTE_SET).to_string();
        if self.is_dir {
            link.push('/');
        }
        link
    }

    /// The text Python shows: the name, with `/` for a directory, or `@` for a symbolic link (even one to a directory).
    ///
    /// Bytes that are not UTF-8 are shown as U+FFFD, so the page is always valid UTF-8.
    pub fn display_name(&self) -> String {
        let mut display = String::from_utf8_lossy(&self.name).into_owned();
        if self.is_symlink {
            display.push('@');
        } else if self.is_dir {
            display.push('/');
        }
        display
    }
}

/// Python's `html.escape(text, quote=False)`: only `&`, `<` and `>` are replaced.
pub fn html_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// The key Python sorts by, `name.lower()` on the name decoded with `surrogateescape`, as code points.
///
/// Valid UTF-8 is lowercased with Unicode's full mapping (as `str.lower`); each byte that does not decode becomes the lone surrogate U+DC80–U+DCFF, as in Python, so names that are not UTF-8 sort where Python puts them.
pub fn sort_key(name: &[u8]) -> Vec<u32> {
    let mut key = Vec::with_capacity(name.len());
    for chunk in name.utf8_chunks() {
        key.extend(chunk.valid().to_lowercase().chars().map(u32::from));
        key.extend(chunk.invalid().iter().map(|&byte| 0xDC00 + u32::from(byte)));
    }
    key
}

/// Sorts entries as Python does (`list.sort(key=lambda a: a.lower())`), breaking ties by the raw bytes so the order never depends on the directory.
pub fn sort_entries(entries: &mut [ListingEntry]) {
    entries.sort_by_cached_key(|entry| (sort_key(&entry.name), entry.name.clone()));
}

/// The title's path: the request path without query and fragment, percent-decoded and HTML-escaped.
fn display_path(request_path: &str) -> String {
    let decoded = unquote_to_bytes(strip_query_and_fragment(request_path));
    html_escape(&String::from_utf8_lossy(&decoded))
}

/// The listing page for `request_path`, exactly as Python's `list_directory` builds it (Python 3.14's page, with its `color-scheme` style).
///
/// Entries are sorted first (see [`sort_entries`]).
/// The page is UTF-8; where Python would copy a name's undecodable bytes into the page, this shows U+FFFD and keeps the raw bytes in the link only.
///
/// ```
/// use simplehttp::{list_directory_page, ListingEntry};
///
/// let page = list_directory_page("/docs/?x=1", vec![ListingEntry::file("b.txt"), ListingEntry::dir("A")]);
/// assert!(page.contains("<title>Directory listing for /docs/</title>"));
/// assert!(page.contains("<li><a href=\"A/\">A/</a></li>\n<li><a href=\"b.txt\">b.txt</a></li>"));
/// ```
#[doc(alias = "list_directory")]
pub fn list_directory_page(request_path: &str, mut entries: Vec<ListingEntry>) -> String {
    sort_entries(&mut entries);
    let title = format!("Directory listing for {}", display_path(request_path));
    let mut lines = vec![
        "<!DOCTYPE HTML>".to_owned(),
        "<html lang=\"en\">".to_owned(),
        "<head>".to_owned(),
        "<meta charset=\"utf-8\">".to_owned(),
        "<style type=\"text/css\">\n:root {\ncolor-scheme: light dark;\n}\n</style>".to_owned(),
        format!("<title>{title}</title>\n</head>"),
        format!("<body>\n<h1>{title}</h1>"),
        "<hr>\n<ul>".to_owned(),
    ];
    for entry in &entries {
        lines.push(format!(
            "<li><a href=\"{}\">{}</a></li>",
            entry.link(),
            html_escape(&entry.display_name())
        ));
    }
    lines.push("</ul>\n<hr>\n</body>\n</html>\n".to_owned());
    lines.join("\n")
}

/// Reads a directory into listing entries (Python's `os.listdir` plus `isdir` and `islink` per name).
///
/// A name whose type cannot be read is listed as a plain file, as Python's `isdir` and `islink` answer false on errors.
///
/// # Errors
///
/// The error from opening or reading the directory; the handler answers it with 404 `No permission to list directory`.
pub fn read_listing_entries(directory: &Path) -> io::Result<Vec<ListingEntry>> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(directory)? {
        let entry = entry?;
        let is_symlink = entry
            .file_type()
            .is_ok_and(|file_type| file_type.is_symlink());
        let is_dir = if is_symlink {
            fs::metadata(entry.path()).is_ok_and(|metadata| metadata.is_dir())
        } else {
            entry.file_type().is_ok_and(|file_type| file_type.is_dir())
        };
        entries.push(ListingEntry {
            name: name_bytes(&entry.file_name()),
            is_dir,
            is_symlink,
        });
    }
    Ok(entries)
}

#[cfg(unix)]
fn name_bytes(name: &std::ffi::OsStr) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    name.as_bytes().to_vec()
}

#[cfg(not(unix))]
fn name_bytes(name: &std::ffi::OsStr) -> Vec<u8> {
    name.to_string_lossy().into_owned().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "<!DOCTYPE HTML>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<style type=\"text/css\">\n:root {\ncolor-scheme: light dark;\n}\n</style>\n";

    fn check(
        request_path: &str,
        entries: Vec<ListingEntry>,
        expected_items: &[&str],
        expected_title: &str,
    ) {
        let page = list_directory_page(request_path, entries);
        let mut expected = format!(
            "{HEAD}<title>Directory listing for {expected_title}</title>\n</head>\n<body>\n<h1>Directory listing for {expected_title}</h1>\n<hr>\n<ul>\n"
        );
        for item in expected_items {
            expected.push_str(item);
            expected.push('\n');
        }
        expected.push_str("</ul>\n<hr>\n</body>\n</html>\n");
        assert_eq!(page, expected);
    }

    #[test]
    fn empty_directory() {
        check("/", vec![], &[], "/");
    }

    // Mirrors test_httpservers: SimpleHTTPServerTestCase.test_get (directory listing of a plain and a sub directory).
    #[test]
    fn files_directories_and_symlinks() {
        check(
            "/sub/",
            vec![
                ListingEntry::file("test"),
                ListingEntry::dir("dir"),
                ListingEntry {
                    name: b"link".to_vec(),
                    is_dir: true,
                    is_symlink: true,
                },
                ListingEntry {
                    name: b"flink".to_vec(),
                    is_dir: false,
                    is_symlink: true,
                },
            ],
            &[
                "<li><a href=\"dir/\">dir/</a></li>",
                "<li><a href=\"flink\">flink@</a></li>",
                "<li><a href=\"link/\">link@</a></li>",
                "<li><a href=\"test\">test</a></li>",
            ],
            "/sub/",
        );
    }

    // Mirrors test_httpservers: SimpleHTTPServerTestCase.test_html_escape_filename.
    #[test]
    fn test_html_escape_filename() {
        check(
            "/",
            vec![ListingEntry::file("&amp;"), ListingEntry::file("<i>")],
            &[
                "<li><a href=\"%26amp%3B\">&amp;amp;</a></li>",
                "<li><a href=\"%3Ci%3E\">&lt;i&gt;</a></li>",
            ],
            "/",
        );
    }

    // Mirrors test_httpservers: SimpleHTTPServerTestCase.test_list_dir_with_query_and_fragment.
    #[test]
    fn test_list_dir_with_query_and_fragment() {
        check("/?x=123", vec![], &[], "/");
        check("/#123", vec![], &[], "/");
        check("/sub%20dir/?a=<b>#c", vec![], &[], "/sub dir/");
    }

    // Mirrors test_httpservers: SimpleHTTPServerTestCase.test_undecodable_filename, with a UTF-8 page.
    #[test]
    fn test_undecodable_filename() {
        check(
            "/",
            vec![ListingEntry::file(b"\xff.txt".to_vec())],
            &["<li><a href=\"%FF.txt\">\u{FFFD}.txt</a></li>"],
            "/",
        );
    }

    #[test]
    fn title_is_unquoted_and_escaped() {
        check("/%3Cscript%3E/", vec![], &[], "/&lt;script&gt;/");
        check("/a&b/", vec![], &[], "/a&amp;b/");
        check("/%FF/", vec![], &[], "/\u{FFFD}/");
        check("/caf%C3%A9/", vec![], &[], "/café/");
    }

    // Mirrors test_httpservers: SimpleHTTPServerTestCase.test_get with the names the checklist lists.
    #[test]
    fn special_names_are_quoted_and_escaped() {
        for (name, link, shown) in [
            ("q?", "q%3F", "q?"),
            ("f#", "f%23", "f#"),
            ("\"dq\"", "%22dq%22", "\"dq\""),
            ("'sq'", "%27sq%27", "'sq'"),
            ("%A4", "%25A4", "%A4"),
            ("a b", "a%20b", "a b"),
            ("x~_-.y", "x~_-.y", "x~_-.y"),
            ("café", "caf%C3%A9", "café"),
            (
                "+=,;:@$!*()",
                "%2B%3D%2C%3B%3A%40%24%21%2A%28%29",
                "+=,;:@$!*()",
            ),
        ] {
            let item = format!("<li><a href=\"{link}\">{shown}</a></li>");
            check("/", vec![ListingEntry::file(name)], &[item.as_str()], "/");
        }
    }

    #[test]
    fn sorted_case_insensitively_like_python() {
        // python3 -c 'print(sorted(["b", "A", "a", "C", "_x", "É", "e", "ß", "Z"], key=str.lower))'
        let mut entries: Vec<_> = ["b", "A", "a", "C", "_x", "É", "e", "ß", "Z"]
            .into_iter()
            .map(ListingEntry::file)
            .collect();
        sort_entries(&mut entries);
        let names: Vec<_> = entries
            .iter()
            .map(|entry| String::from_utf8_lossy(&entry.name).into_owned())
            .collect();
        assert_eq!(names, ["_x", "A", "a", "b", "C", "e", "Z", "ß", "É"]);
    }

    #[test]
    fn undecodable_names_sort_as_surrogates() {
        // Python: sorted(["\udcff", "\ue000", "\ud7ff"]) puts the escaped byte between U+D7FF and U+E000.
        let mut entries = vec![
            ListingEntry::file("\u{E000}"),
            ListingEntry::file(b"\xff".to_vec()),
            ListingEntry::file("\u{D7FF}"),
        ];
        sort_entries(&mut entries);
        assert_eq!(entries[1].name, b"\xff");
        assert_eq!(sort_key(b"A\xffb"), vec![0x61, 0xDCFF, 0x62]);
    }

    #[test]
    fn html_escape_leaves_quotes() {
        assert_eq!(
            html_escape("<a href='x'>&\"</a>"),
            "&lt;a href='x'&gt;&amp;\"&lt;/a&gt;"
        );
    }

    #[test]
    fn reads_a_real_directory() {
        let directory = tempfile::tempdir().unwrap();
        fs::write(directory.path().join("file.txt"), b"x").unwrap();
        fs::create_dir(directory.path().join("sub")).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink("sub", directory.path().join("link")).unwrap();
        let mut entries = read_listing_entries(directory.path()).unwrap();
        sort_entries(&mut entries);
        let mut expected = vec![ListingEntry::file("file.txt"), ListingEntry::dir("sub")];
        #[cfg(unix)]
        expected.insert(
            1,
            ListingEntry {
                name: b"link".to_vec(),
                is_dir: true,
                is_symlink: true,
            },
        );
        assert_eq!(entries, expected);
        assert!(read_listing_entries(&directory.path().join("missing")).is_err());
    }
}
