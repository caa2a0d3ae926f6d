//! House-style checks that run as an ordinary test, so `cargo test` enforces them (rust-analyzer's tidy.rs).

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(directory: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(directory) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            found.push(path);
        }
    }
}

fn workspace_sources() -> Vec<PathBuf> {
    let mut found = Vec::new();
    rust_files(&crate::shell::project_root(), &mut found);
    assert!(found.len() > 5, "tidy found too few sources: {found:?}");
    found
}

#[test]
fn every_file_starts_with_a_module_doc() {
    let missing: Vec<_> = workspace_sources()
        .into_iter()
        .filter(|path| {
            let text = fs::read_to_string(path).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .collect();
    assert!(
        missing.is_empty(),
        "files without a leading //! doc comment: {missing:?}"
    );
}

#[test]
fn no_ignored_or_should_panic_tests() {
    // Built from pieces so this file does not match itself.
    let forbidden = [format!("#[{}", "ignore"), format!("#[{}", "should_panic")];
    let offenders: Vec<_> = workspace_sources()
        .into_iter()
        .filter(|path| {
            let text = fs::read_to_string(path).unwrap_or_default();
            forbidden
                .iter()
                .any(|pattern| text.contains(pattern.as_str()))
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "assert the Err you expect instead: {offenders:?}"
    );
}

#[test]
fn unsafe_lives_only_in_sys_modules() {
    let offenders: Vec<_> = workspace_sources()
        .into_iter()
        .filter(|path| !path.ends_with("sys.rs") && !path.ends_with("tidy.rs"))
        .filter(|path| {
            let text = fs::read_to_string(path).unwrap_or_default();
            text.lines().any(|line| {
                let code = line.split("//").next().unwrap_or("");
                code.contains("unsafe {")
                    || code.contains("unsafe fn")
                    || code.contains("unsafe impl")
            })
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "unsafe outside a sys.rs module: {offenders:?}"
    );
}
