//! Property tests over the I/O-free core: nothing escapes the directory, listing links lead back to their files, escaping is complete, and no input panics.

use std::path::{Component, Path, PathBuf};

use proptest::prelude::*;
use simplehttp::{
    directory_redirect_location, evaluate_preconditions, guess_type, html_escape,
    list_directory_page, parse_range, send_head, translate_path, Conditions, FileRequest,
    HeadReply, ListingEntry, RangeRequest, ServeDirectory,
};

fn root() -> PathBuf {
    PathBuf::from("/srv/root")
}

/// Request paths built from the pieces that matter: separators, dots, escapes, query and fragment marks, and arbitrary text.
fn request_path() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("/".to_owned()),
        Just("..".to_owned()),
        Just(".".to_owned()),
        Just("%2e%2e".to_owned()),
        Just("%2f".to_owned()),
        Just("%5c".to_owned()),
        Just("\\".to_owned()),
        Just(" ".to_owned()),
        Just("\x01".to_owned()),
        Just("%00".to_owned()),
        Just("?".to_owned()),
        Just("#".to_owned()),
        Just("%".to_owned()),
        "[a-zA-Z0-9 ._~-]{0,4}",
        "%[0-9a-fA-F]{2}",
        any::<String>(),
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

/// A file name's bytes: anything but `/` and NUL, and not `.` or `..`.
fn file_name() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        any::<u8>().prop_filter("no separator or NUL", |byte| *byte != b'/' && *byte != 0),
        1..16,
    )
    .prop_filter("not a dot segment", |name| name != b"." && name != b"..")
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

proptest! {
    #[test]
    fn translate_path_never_escapes_the_root(path in request_path()) {
        let translated = translate_path(&path, &root());
        prop_assert!(translated.starts_with(root()));
        let rest = translated.strip_prefix(root()).unwrap();
        for component in rest.components() {
            prop_assert!(matches!(component, Component::Normal(_)), "{:?} in {:?}", component, translated);
        }
    }

    #[test]
    fn translate_path_never_escapes_a_relative_root(path in request_path()) {
        let translated = translate_path(&path, Path::new("."));
        for component in translated.components().skip(1) {
            prop_assert!(matches!(component, Component::Normal(_)));
        }
    }

    #[cfg(unix)]
    #[test]
    fn listing_links_lead_back_to_the_file(name in file_name(), is_dir in any::<bool>(), is_symlink in any::<bool>()) {
        use std::os::unix::ffi::OsStrExt;
        let entry = ListingEntry { name: name.clone(), is_dir, is_symlink, size: None, modified: None };
        let link = entry.link();
        // The page is served at a directory; a relative link resolves under it.
        let translated = translate_path(&format!("/dir/{link}"), &root());
        let expected = root().join("dir").join(std::ffi::OsStr::from_bytes(&name));
        prop_assert_eq!(translated.components().collect::<Vec<_>>(), expected.components().collect::<Vec<_>>());
        prop_assert_eq!(simplehttp::path_ends_with_slash(&translated), is_dir);
        // A link is plain ASCII with no character that would end the attribute or start a query.
        prop_assert!(link.bytes().all(|byte| byte.is_ascii_graphic() && !b"\"'<>&?#".contains(&byte)));
    }

    #[test]
    fn html_escape_is_complete_and_reversible(text in any::<String>()) {
        let escaped = html_escape(&text);
        prop_assert!(!escaped.contains('<') && !escaped.contains('>'));
        for (index, _) in escaped.match_indices('&') {
            let rest = &escaped[index..];
            prop_assert!(rest.starts_with("&amp;") || rest.starts_with("&lt;") || rest.starts_with("&gt;"));
        }
        prop_assert_eq!(unescape(&escaped), text);
    }

    #[test]
    fn listing_page_has_one_item_per_entry(
        path in request_path(),
        names in proptest::collection::vec(file_name(), 0..8),
    ) {
        let count = names.len();
        let entries = names.into_iter().map(ListingEntry::file).collect();
        let page = list_directory_page(&path, entries);
        prop_assert_eq!(page.matches("<li>").count(), count);
        prop_assert!(page.ends_with("</ul>\n<hr>\n</body>\n</html>\n"));
        let title_line = page.lines().find(|line| line.starts_with("<title>")).unwrap();
        prop_assert!(!title_line["<title>".len()..title_line.len() - "</title>".len()].contains('<'));
    }

    #[test]
    fn ranges_stay_inside_the_file(header in "(bytes|BYTES|items)?=?[0-9, -]{0,40}", length in 0u64..200) {
        match parse_range(&header, length) {
            RangeRequest::Partial(ranges) => {
                prop_assert!(!ranges.is_empty());
                let mut total = 0;
                for pair in ranges.windows(2) {
                    prop_assert!(pair[0].end + 1 < pair[1].start);
                }
                for range in &ranges {
                    prop_assert!(range.start <= range.end && range.end < length);
                    total += range.len();
                }
                prop_assert!(total <= length);
            }
            RangeRequest::Full | RangeRequest::Unsatisfiable => {}
        }
    }

    #[test]
    fn no_header_value_panics(value in any::<String>(), length in any::<u64>()) {
        let _ = parse_range(&value, length);
        let conditions = Conditions {
            if_match: Some(&value),
            if_none_match: Some(&value),
            if_modified_since: Some(&value),
            if_unmodified_since: Some(&value),
        };
        let _ = evaluate_preconditions(&conditions, true, "\"1-2\"", std::time::SystemTime::now());
        let _ = simplehttp::if_range_matches(&value, "\"1-2\"", std::time::SystemTime::now());
        let _ = guess_type(&value);
    }

    #[test]
    fn redirects_stay_on_this_host(path in request_path()) {
        let location = directory_redirect_location(&path);
        prop_assert!(!location.starts_with(|character: char| character <= ' '));
        prop_assert!(!location.starts_with("//") && !location.starts_with("/\\") && !location.starts_with('\\'));
        prop_assert!(!location.contains(['\r', '\n', '\t']));
        prop_assert!(location.contains('/'));
    }

    #[test]
    fn send_head_never_panics(path in request_path(), range in "(bytes=)?[0-9,-]{0,12}") {
        let site = site();
        let request = FileRequest {
            command: "GET",
            path: &path,
            range: Some(&range),
            ..FileRequest::default()
        };
        match send_head(&ServeDirectory(site.path().to_path_buf()), &request) {
            HeadReply::File(file) => {
                prop_assert!(file.status == 200 || file.status == 206);
                prop_assert!(file.body.content_length() > 0 || file.status == 200);
            }
            HeadReply::MovedPermanently { location } => prop_assert!(location.ends_with('/') || location.contains(['?', '#'])),
            _ => {}
        }
    }
}

/// A small tree to serve: a file, a directory with a file, and an empty file.
fn site() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("a"), b"0123456789").unwrap();
    std::fs::create_dir(root.path().join("d")).unwrap();
    std::fs::write(root.path().join("d").join("b c"), b"x").unwrap();
    std::fs::write(root.path().join("empty"), b"").unwrap();
    root
}
