//! Fuzz target: simplehttp's `translate_path` and `translate_path_bytes` always give a path inside the served directory,
//! with no `..` component, and the redirect Location is never a scheme-relative `//host`.
#![no_main]

use std::path::{Component, Path};

use libfuzzer_sys::fuzz_target;
use simplehttp::{directory_redirect_location, translate_path, translate_path_bytes};

fn check_inside(path: &Path, root: &Path, input: &[u8]) {
    let rest = path
        .strip_prefix(root)
        .unwrap_or_else(|_| panic!("{input:?} left the root: {path:?}"));
    for component in rest.components() {
        assert!(
            matches!(component, Component::Normal(_)),
            "{input:?} gave {component:?} in {path:?}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let root = Path::new("/srv/www");
    let translated = translate_path_bytes(data, root);
    check_inside(&translated, root, data);

    if let Ok(text) = std::str::from_utf8(data) {
        check_inside(&translate_path(text, root), root, data);
        // A request path without a leading `/` gets a relative Location, which is harmless;
        // what must never come out is a scheme-relative `//host` (or `/\host`, which browsers read the same way).
        let location = directory_redirect_location(text);
        assert!(
            !location.starts_with("//")
                && !location.starts_with("/\\")
                && !location.starts_with('\\'),
            "{location:?}"
        );
        assert!(!location.contains(['\r', '\n']), "{location:?}");
    }
});
