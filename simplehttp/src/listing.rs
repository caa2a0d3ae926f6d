//! The directory listing page, byte for byte as Python's `list_directory` writes it.
//!
//! The page is built from a list of [`ListingEntry`] values, so it can be tested without a filesystem; [`read_listing_entries`] reads a real directory into that list.

use std::fs;
use std::io;
use std::path::Path;
use std::time::SystemTime;

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
    /// The size in bytes, following links; `None` where it was not read (Python's page does not show it).
    pub size: Option<u64>,
    /// When it was last modified, following links; `None` where it was not read.
    pub modified: Option<SystemTime>,
}

impl ListingEntry {
    /// An entry for a plain file.
    pub fn file(name: impl Into<Vec<u8>>) -> Self {
        Self {
            name: name.into(),
            is_dir: false,
            is_symlink: false,
            size: None,
            modified: None,
        }
    }

    /// An entry for a directory.
    pub fn dir(name: impl Into<Vec<u8>>) -> Self {
        Self {
            name: name.into(),
            is_dir: true,
            is_symlink: false,
            size: None,
            modified: None,
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
            size: None,
            modified: None,
        });
    }
    Ok(entries)
}

/// [`read_listing_entries`] with each entry's size and modification time (one stat per name, following links;
/// a dangling link shows its own), for the sortable page and the JSON listing.
///
/// # Errors
///
/// The error from opening or reading the directory.
pub fn read_listing_entries_with_metadata(directory: &Path) -> io::Result<Vec<ListingEntry>> {
    let mut entries = read_listing_entries(directory)?;
    for entry in &mut entries {
        let path = directory.join(name_os(&entry.name));
        if let Ok(metadata) = fs::metadata(&path).or_else(|_| fs::symlink_metadata(&path)) {
            entry.size = Some(metadata.len());
            entry.modified = metadata.modified().ok();
        }
    }
    Ok(entries)
}

/// What a sortable listing is ordered by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortKey {
    /// The name, as Python sorts it ([`sort_key`]).
    #[default]
    Name,
    /// The size (directories first), then the name.
    Size,
    /// The modification time, then the name.
    Modified,
}

impl SortKey {
    fn word(self) -> &'static str {
        match self {
            SortKey::Name => "name",
            SortKey::Size => "size",
            SortKey::Modified => "modified",
        }
    }
}

/// The order of a sortable listing, read from the query: `?sort=name|size|modified&order=asc|desc`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListingOrder {
    /// What to sort by.
    pub key: SortKey,
    /// Largest, newest or last name first.
    pub descending: bool,
}

impl ListingOrder {
    /// The order a query asks for; words it does not know leave the default (by name, ascending).
    ///
    /// ```
    /// use simplehttp::{ListingOrder, SortKey};
    ///
    /// let order = ListingOrder::from_query(Some("sort=size&order=desc"));
    /// assert_eq!((order.key, order.descending), (SortKey::Size, true));
    /// assert_eq!(ListingOrder::from_query(Some("sort=%3Cb%3E")), ListingOrder::default());
    /// ```
    pub fn from_query(query: Option<&str>) -> ListingOrder {
        let mut order = ListingOrder::default();
        for (name, value) in basehttp::parse_qsl(query.unwrap_or(""), false) {
            match (name.as_str(), value.as_str()) {
                ("sort", "name") => order.key = SortKey::Name,
                ("sort", "size") => order.key = SortKey::Size,
                ("sort", "modified" | "date") => order.key = SortKey::Modified,
                ("order", "asc") => order.descending = false,
                ("order", "desc") => order.descending = true,
                _ => {}
            }
        }
        order
    }

    /// The query of the link that sorts by `key`: the other direction when already sorted by it.
    fn link_to(self, key: SortKey) -> String {
        let descending = if self.key == key {
            !self.descending
        } else {
            // Sizes and dates read best largest and newest first.
            key != SortKey::Name
        };
        let order = if descending { "desc" } else { "asc" };
        format!("?sort={}&amp;order={order}", key.word())
    }
}

/// Sorts entries in `order`; ties (and the name order) as [`sort_entries`], so the order never depends on the directory.
pub fn sort_listing(entries: &mut [ListingEntry], order: ListingOrder) {
    sort_entries(entries);
    match order.key {
        SortKey::Name => {}
        SortKey::Size => {
            entries.sort_by_key(|entry| (!entry.is_dir, entry.size.filter(|_| !entry.is_dir)))
        }
        SortKey::Modified => entries.sort_by_key(|entry| entry.modified),
    }
    if order.descending {
        entries.reverse();
    }
}

/// A size as people read it: `512 B`, `1.5 KiB`, `3.0 MiB`.
fn human_size(size: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if size < 1024 {
        return format!("{size} B");
    }
    let mut value = size as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A time as RFC 3339 in UTC, to the second: `2026-12-03T10:04:05Z`; times before 1970 too (basehttp's
/// [`rfc3339_date_time`](basehttp::rfc3339_date_time), which the JSON access log writes too).
pub fn rfc3339(time: SystemTime) -> String {
    basehttp::rfc3339_date_time(time)
}

/// The sortable listing page: the names (linked and escaped as on Python's page), sizes and dates in a table whose headings
/// are links that sort it (a query, no script), and, when `upload_form`, a form that posts files to this directory.
///
/// ```
/// use simplehttp::{sortable_listing_page, ListingEntry, ListingOrder};
///
/// let page = sortable_listing_page("/docs/", vec![ListingEntry::file("<b>.txt")], ListingOrder::default(), true);
/// assert!(page.contains("<a href=\"%3Cb%3E.txt\">&lt;b&gt;.txt</a>"));
/// assert!(page.contains("<a href=\"?sort=size&amp;order=desc\">Size</a>"));
/// assert!(page.contains("enctype=\"multipart/form-data\""));
/// ```
pub fn sortable_listing_page(
    request_path: &str,
    mut entries: Vec<ListingEntry>,
    order: ListingOrder,
    upload_form: bool,
) -> String {
    use std::fmt::Write as _;
    sort_listing(&mut entries, order);
    let title = format!("Directory listing for {}", display_path(request_path));
    let mut page = String::with_capacity(1024 + entries.len() * 160);
    page.push_str(
        "<!DOCTYPE HTML>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <style type=\"text/css\">\n:root {\ncolor-scheme: light dark;\n}\n\
         table {\nborder-collapse: collapse;\n}\nth, td {\npadding: 0.15em 1.5em 0.15em 0;\ntext-align: left;\n}\n\
         td.size {\ntext-align: right;\n}\n</style>\n",
    );
    let _ = write!(
        page,
        "<title>{title}</title>\n</head>\n<body>\n<h1>{title}</h1>\n<hr>\n<table>\n<thead>\n<tr>"
    );
    for (key, heading) in [
        (SortKey::Name, "Name"),
        (SortKey::Size, "Size"),
        (SortKey::Modified, "Modified"),
    ] {
        let arrow = match (order.key == key, order.descending) {
            (false, _) => "",
            (true, false) => " \u{2191}",
            (true, true) => " \u{2193}",
        };
        let _ = write!(
            page,
            "<th><a href=\"{}\">{heading}</a>{arrow}</th>",
            order.link_to(key)
        );
    }
    page.push_str("</tr>\n</thead>\n<tbody>\n");
    for entry in &entries {
        let size = match entry.size {
            Some(size) if !entry.is_dir => human_size(size),
            _ => "-".to_owned(),
        };
        let modified = entry.modified.map_or_else(
            || "-".to_owned(),
            |time| {
                rfc3339(time)
                    .replacen('T', " ", 1)
                    .trim_end_matches('Z')
                    .to_owned()
            },
        );
        let _ = writeln!(
            page,
            "<tr><td><a href=\"{}\">{}</a></td><td class=\"size\">{size}</td><td>{modified}</td></tr>",
            entry.link(),
            html_escape(&entry.display_name())
        );
    }
    page.push_str("</tbody>\n</table>\n<hr>\n");
    if upload_form {
        page.push_str(
            "<form method=\"post\" enctype=\"multipart/form-data\">\n\
             <input type=\"file\" name=\"file\" multiple required>\n\
             <button type=\"submit\">Upload</button>\n</form>\n<hr>\n",
        );
    }
    page.push_str("</body>\n</html>\n");
    page
}

/// The `Content-Type` of the JSON listing.
pub const JSON_LISTING_CONTENT_TYPE: &str = "application/json";

/// A string as a JSON string literal; `<`, `>` and `&` are escaped too (`\u003c`), as the HTML page escapes them,
/// so the listing cannot be read as markup by anything that sniffs it, and U+2028 and U+2029, which end a JavaScript line.
fn json_string(text: &str, output: &mut String) {
    use std::fmt::Write as _;
    output.push('"');
    for character in text.chars() {
        match character {
            '"' => output.push_str("\\\""),
            '\\' => output.push_str("\\\\"),
            '\n' => output.push_str("\\n"),
            '\r' => output.push_str("\\r"),
            '\t' => output.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' | '\u{0}'..='\u{1f}' | '\u{7f}' => {
                let _ = write!(output, "\\u{:04x}", u32::from(character));
            }
            other => output.push(other),
        }
    }
    output.push('"');
}

/// The listing as JSON: an array of objects with `name` (as the page shows it, without the `/` or `@`),
/// `href` (the link, percent-encoded, which leads back to the name whatever its bytes), `type` (`file` or `directory`),
/// `symlink`, `size` (bytes; `null` for a directory) and `modified` (RFC 3339, UTC), in `order`.
///
/// ```
/// use simplehttp::{json_listing, ListingEntry, ListingOrder};
///
/// let json = json_listing(vec![ListingEntry::file("a\"<b>")], ListingOrder::default());
/// assert_eq!(json, r#"[{"name":"a\"\u003cb\u003e","href":"a%22%3Cb%3E","type":"file","symlink":false,"size":null,"modified":null}]"#);
/// ```
pub fn json_listing(mut entries: Vec<ListingEntry>, order: ListingOrder) -> String {
    use std::fmt::Write as _;
    sort_listing(&mut entries, order);
    let mut json = String::with_capacity(2 + entries.len() * 128);
    json.push('[');
    for (index, entry) in entries.iter().enumerate() {
        if index > 0 {
            json.push(',');
        }
        json.push_str("{\"name\":");
        json_string(&String::from_utf8_lossy(&entry.name), &mut json);
        json.push_str(",\"href\":");
        json_string(&entry.link(), &mut json);
        let kind = if entry.is_dir { "directory" } else { "file" };
        let _ = write!(
            json,
            ",\"type\":\"{kind}\",\"symlink\":{}",
            entry.is_symlink
        );
        match entry.size {
            Some(size) if !entry.is_dir => {
                let _ = write!(json, ",\"size\":{size}");
            }
            _ => json.push_str(",\"size\":null"),
        }
        match entry.modified {
            Some(time) => {
                let _ = write!(json, ",\"modified\":\"{}\"", rfc3339(time));
            }
            None => json.push_str(",\"modified\":null"),
        }
        json.push('}');
    }
    json.push(']');
    json
}

/// A name's bytes as an OS string.
#[cfg(unix)]
fn name_os(name: &[u8]) -> &std::ffi::OsStr {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(name)
}

#[cfg(not(unix))]
fn name_os(name: &[u8]) -> std::ffi::OsString {
    String::from_utf8_lossy(name).into_owned().into()
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

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1.0 KiB");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(1024 * 1024 - 1), "1024.0 KiB");
        assert_eq!(human_size(1024 * 1024), "1.0 MiB");
        assert_eq!(human_size(5 << 30), "5.0 GiB");
        assert_eq!(human_size(3 << 40), "3.0 TiB");
        // The largest unit is PiB, however large the size.
        assert_eq!(human_size(1 << 60), "1024.0 PiB");
    }

    #[test]
    fn queries_set_the_order_and_the_last_word_wins() {
        let order = |query: &str| {
            let order = ListingOrder::from_query(Some(query));
            (order.key, order.descending)
        };
        assert_eq!(order("sort=size&sort=name"), (SortKey::Name, false));
        assert_eq!(order("sort=date"), (SortKey::Modified, false));
        assert_eq!(order("order=desc&order=asc"), (SortKey::Name, false));
        assert_eq!(order("order=desc"), (SortKey::Name, true));
        assert_eq!(ListingOrder::from_query(None), ListingOrder::default());
    }

    #[test]
    fn the_sortable_page_links_arrows_sizes_and_order() {
        let entries = || {
            vec![
                ListingEntry {
                    size: Some(5),
                    ..ListingEntry::file("five")
                },
                ListingEntry {
                    size: Some(4096),
                    ..ListingEntry::dir("folder")
                },
                ListingEntry {
                    size: Some(2048),
                    ..ListingEntry::file("two-k")
                },
            ]
        };
        let page = sortable_listing_page("/d/", entries(), ListingOrder::default(), false);
        // Sorted by name ascending now, so its link turns the order; the others start largest or newest first.
        assert!(page.contains("<th><a href=\"?sort=name&amp;order=desc\">Name</a> \u{2191}</th>"));
        assert!(page.contains("<th><a href=\"?sort=size&amp;order=desc\">Size</a></th>"));
        assert!(page.contains("<a href=\"five\">five</a></td><td class=\"size\">5 B</td>"));
        assert!(page.contains("<a href=\"two-k\">two-k</a></td><td class=\"size\">2.0 KiB</td>"));
        // A directory shows no size.
        assert!(page.contains("<a href=\"folder/\">folder/</a></td><td class=\"size\">-</td>"));
        assert!(!page.contains("<form"));
        let by_size = ListingOrder {
            key: SortKey::Size,
            descending: false,
        };
        let page = sortable_listing_page("/d/", entries(), by_size, true);
        assert!(page.contains("<th><a href=\"?sort=size&amp;order=desc\">Size</a> \u{2191}</th>"));
        assert!(page.contains("<th><a href=\"?sort=name&amp;order=asc\">Name</a></th>"));
        assert!(page.contains("<form method=\"post\" enctype=\"multipart/form-data\">"));
        // Directories first, then files by size.
        let mut sorted = entries();
        sort_listing(&mut sorted, by_size);
        let names: Vec<&[u8]> = sorted.iter().map(|entry| &entry.name[..]).collect();
        assert_eq!(names, [&b"folder"[..], b"five", b"two-k"]);
        sort_listing(
            &mut sorted,
            ListingOrder {
                key: SortKey::Size,
                descending: true,
            },
        );
        let names: Vec<&[u8]> = sorted.iter().map(|entry| &entry.name[..]).collect();
        assert_eq!(names, [&b"two-k"[..], b"five", b"folder"]);
        let page = sortable_listing_page(
            "/d/",
            entries(),
            ListingOrder {
                key: SortKey::Size,
                descending: true,
            },
            false,
        );
        assert!(page.contains("<th><a href=\"?sort=size&amp;order=asc\">Size</a> \u{2193}</th>"));
    }

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
                    is_symlink: true,
                    ..ListingEntry::dir("link")
                },
                ListingEntry {
                    is_symlink: true,
                    ..ListingEntry::file("flink")
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
                is_symlink: true,
                ..ListingEntry::dir("link")
            },
        );
        assert_eq!(entries, expected);
        assert!(read_listing_entries(&directory.path().join("missing")).is_err());
    }
}
