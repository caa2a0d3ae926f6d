//! Script routing and file lookup agree on every request target: a target that does not route to a script never resolves,
//! through simplehttp's `translate_path`, to a file inside a CGI directory or to that directory's listing,
//! and a target that routes to a script names, to the file layer, that same script (and its `PATH_INFO` below it).
//!
//! Both sides read the path as basehttp's `RequestTarget`; this checks the property on the public functions a server runs,
//! over targets built from the spellings that have split them before: `#`, `%23`, `?`, `//`, `/./`, `/../`, `%2e`, `%2f`,
//! case, trailing `/`, `;params`, bytes that are not UTF-8.
//! The case count defaults to 4096; `PROPTEST_CASES=1000000` runs the long version.

use std::path::{Component, Path, PathBuf};

use basehttp::RequestTarget;
use cgihttp::{is_cgi, route_script};
use proptest::prelude::*;

const DIRECTORIES: [&str; 3] = ["/cgi-bin", "/htbin", "/sub/dir/cgi-bin"];

fn root() -> PathBuf {
    PathBuf::from("/srv/root")
}

/// The fake disk: a URL path is a directory when its last segment is `nested` (so nested script directories are walked).
fn is_directory(segments: &[Vec<u8>]) -> bool {
    segments.last().is_some_and(|segment| segment == b"nested")
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(4096);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// Request targets made of the pieces that matter for routing, and now and then arbitrary text.
fn request_target() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        8 => prop::sample::select(vec![
            "/", "//", ".", "..", "%2e", "%2E", "%2e%2e", ".%2e", "%2f", "%2F", "#", "%23", "?", ";", ";x=1",
            "cgi-bin", "CGI-BIN", "Cgi-Bin", "cgi-bin%2f", "%63gi-bin", "htbin", "HTBIN", "sub", "dir", "nested",
            "env.sh", "ENV.SH", "%00", "%ff", "%", "%2", "\\", "a", "\u{e9}", "\u{263a}", "+", " ", "%20",
        ]).prop_map(str::to_owned),
        2 => "[a-zA-Z0-9._~%/?#;-]{0,4}",
        1 => any::<String>(),
    ];
    proptest::collection::vec(piece, 0..14).prop_map(|pieces| pieces.concat())
}

/// The file's path below the root, as byte components; `None` if it left the root (which translate_path never does).
fn below_root(file: &Path) -> Option<Vec<Vec<u8>>> {
    let rest = file.strip_prefix(root()).ok()?;
    rest.components()
        .map(|component| match component {
            Component::Normal(name) => Some(name.as_encoded_bytes().to_vec()),
            _ => None,
        })
        .collect()
}

fn directory_segments(directory: &str) -> Vec<&[u8]> {
    directory
        .split('/')
        .filter(|segment| !segment.is_empty())
        .map(str::as_bytes)
        .collect()
}

/// Whether the file layer, given `file`, would reach into a CGI directory: one of its files, or its listing
/// (the directory itself with a trailing slash; without one it only redirects).
fn reaches_a_cgi_directory(file: &Path, components: &[Vec<u8>]) -> bool {
    let ends_with_slash = file.as_os_str().as_encoded_bytes().ends_with(b"/");
    DIRECTORIES.iter().any(|directory| {
        let directory = directory_segments(directory);
        components.len() >= directory.len()
            && components
                .iter()
                .zip(&directory)
                .all(|(component, segment)| component.eq_ignore_ascii_case(segment))
            && (components.len() > directory.len() || ends_with_slash)
    })
}

fn check_agreement(target_text: &str) -> Result<(), TestCaseError> {
    let target = RequestTarget::parse(target_text);
    let route = route_script(&target, &DIRECTORIES, is_directory);
    // The file layer as the handler runs it (SimpleHooks::translate_path's default).
    let file = simplehttp::translate_path(target_text, &root());
    let components = below_root(&file);
    prop_assert!(
        components.is_some(),
        "{target_text:?} left the root: {file:?}"
    );
    let components = components.unwrap_or_default();
    prop_assert_eq!(
        simplehttp::has_trailing_slash(target_text),
        target.has_trailing_slash()
    );
    prop_assert_eq!(
        route.is_some(),
        is_cgi(target_text, &DIRECTORIES).is_some(),
        "is_cgi and route_script disagree on {:?}",
        target_text
    );
    if target.climbs_above_root() {
        // cgihttp answers 400 before routing or serving anything.
        prop_assert!(route.is_none());
        return Ok(());
    }
    match route {
        None => prop_assert!(
            !reaches_a_cgi_directory(&file, &components),
            "{target_text:?} is not routed to a script, but the file layer serves {file:?}"
        ),
        Some(location) => {
            // The script lies in a configured CGI directory, spelled as configured.
            let configured = DIRECTORIES
                .iter()
                .map(|directory| directory_segments(directory))
                .find(|directory| {
                    location.directory.len() >= directory.len()
                        && location
                            .directory
                            .iter()
                            .zip(directory)
                            .all(|(a, b)| a == b)
                });
            prop_assert!(
                configured.is_some(),
                "{target_text:?} routed to {location:?}"
            );
            let configured_length = configured.map_or(0, |directory| directory.len());
            // The file layer names the same script (the CGI directory's case aside), with PATH_INFO below it.
            let mut script: Vec<Vec<u8>> = location.directory.clone();
            if !location.script.is_empty() {
                script.push(location.script.clone());
            }
            let path_info: Vec<&[u8]> = location
                .path_info
                .split(|&byte| byte == b'/')
                .filter(|segment| !segment.is_empty())
                .collect();
            prop_assert_eq!(
                components.len(),
                script.len() + path_info.len(),
                "{:?}",
                target_text
            );
            for (index, (component, expected)) in components.iter().zip(&script).enumerate() {
                let same = if index < configured_length {
                    component.eq_ignore_ascii_case(expected)
                } else {
                    component == expected
                };
                prop_assert!(same, "{target_text:?}: file {file:?}, script {location:?}");
            }
            for (component, expected) in components[script.len()..].iter().zip(&path_info) {
                prop_assert_eq!(component.as_slice(), *expected);
            }
            prop_assert!(location.file(&root()).starts_with(root()));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn routing_and_file_lookup_agree(target in request_target()) {
        check_agreement(&target)?;
    }
}

/// The spellings that split routing from file lookup before, checked by name.
#[test]
fn known_spellings_agree() {
    for target in [
        "/cgi-bin/env.sh#/../..",
        "/cgi-bin/#/..",
        "/cgi-bin/env.sh%23/../..",
        "/cgi-bin/env.sh?#/../..",
        "/cgi-bin#/env.sh",
        "/CGI-BIN/env.sh",
        "/Cgi-Bin/",
        "/cgi-bin%2f",
        "/cgi-bin/.",
        "/cgi-bin/./",
        "/cgi-bin;x/env.sh",
        "/%63gi-bin/env.sh",
        "//cgi-bin//env.sh",
        "/x/../cgi-bin/env.sh",
        "/cgi-bin/nested/env.sh/a/",
        "/sub/dir/CGI-BIN/env.sh",
    ] {
        if let Err(error) = check_agreement(target) {
            panic!("{target:?}: {error}");
        }
    }
}
