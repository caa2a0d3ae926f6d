//! Fuzz target: cgihttp's script routing and simplehttp's file lookup agree on every request target.
//!
//! A target that does not route to a script never resolves, through `translate_path`, to a file inside a CGI directory
//! or to its listing (case aside, as a case-insensitive filesystem would read it); a target that routes to a script
//! names that same script to the file layer, with `PATH_INFO` below it; one that climbs above the root is refused by both.
#![no_main]

use std::path::{Component, Path};

use basehttp::RequestTarget;
use cgihttp::{is_cgi, route_script};
use libfuzzer_sys::fuzz_target;

const DIRECTORIES: [&str; 3] = ["/cgi-bin", "/htbin", "/sub/dir/cgi-bin"];

fn segments(directory: &str) -> Vec<&[u8]> {
    directory
        .split('/')
        .filter(|segment| !segment.is_empty())
        .map(str::as_bytes)
        .collect()
}

fn components(file: &Path, root: &Path) -> Vec<Vec<u8>> {
    let rest = file
        .strip_prefix(root)
        .unwrap_or_else(|_| panic!("{file:?} left the root"));
    rest.components()
        .map(|component| match component {
            Component::Normal(name) => name.as_encoded_bytes().to_vec(),
            other => panic!("{other:?} in {file:?}"),
        })
        .collect()
}

fn starts_with_ignoring_case(components: &[Vec<u8>], prefix: &[&[u8]]) -> bool {
    components.len() >= prefix.len()
        && components
            .iter()
            .zip(prefix)
            .all(|(component, segment)| component.eq_ignore_ascii_case(segment))
}

fuzz_target!(|data: &[u8]| {
    // A request line is read as ISO-8859-1: every byte is one character.
    let text: String = data.iter().map(|&byte| char::from(byte)).collect();
    let root = Path::new("/srv/www");
    let target = RequestTarget::parse(&text);
    assert_eq!(target, RequestTarget::parse_bytes(data));
    let route = route_script(&target, &DIRECTORIES, |walked| {
        walked.last().is_some_and(|segment| segment == b"nested")
    });
    assert_eq!(route.is_some(), is_cgi(&text, &DIRECTORIES).is_some(), "{text:?}");
    let file = simplehttp::translate_path(&text, root);
    let found = components(&file, root);
    assert_eq!(simplehttp::has_trailing_slash(&text), target.has_trailing_slash());
    if target.climbs_above_root() {
        assert!(route.is_none(), "{text:?}");
        return;
    }
    let ends_with_slash = file.as_os_str().as_encoded_bytes().ends_with(b"/");
    match route {
        None => {
            for directory in DIRECTORIES {
                let directory = segments(directory);
                let reaches = starts_with_ignoring_case(&found, &directory)
                    && (found.len() > directory.len() || ends_with_slash);
                assert!(!reaches, "{text:?} is not routed, yet the file layer serves {file:?}");
            }
        }
        Some(location) => {
            let configured = DIRECTORIES
                .iter()
                .map(|directory| segments(directory))
                .find(|directory| {
                    location.directory.len() >= directory.len()
                        && location.directory.iter().zip(directory).all(|(a, b)| a == b)
                })
                .unwrap_or_else(|| panic!("{text:?} routed outside the CGI directories: {location:?}"));
            let mut script = location.directory.clone();
            if !location.script.is_empty() {
                script.push(location.script.clone());
            }
            let path_info: Vec<&[u8]> = location
                .path_info
                .split(|&byte| byte == b'/')
                .filter(|segment| !segment.is_empty())
                .collect();
            assert_eq!(found.len(), script.len() + path_info.len(), "{text:?}: {file:?} against {location:?}");
            for (index, (component, expected)) in found.iter().zip(&script).enumerate() {
                if index < configured.len() {
                    assert!(component.eq_ignore_ascii_case(expected), "{text:?}");
                } else {
                    assert_eq!(component, expected, "{text:?}");
                }
            }
            for (component, expected) in found[script.len()..].iter().zip(&path_info) {
                assert_eq!(component.as_slice(), *expected, "{text:?}");
            }
            assert!(location.file(root).starts_with(root));
        }
    }
});
