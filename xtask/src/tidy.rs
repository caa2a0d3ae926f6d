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

/// `issue 7`, `issue #12`, `Issue 3` and the like: the word, a space, an optional `#`, then a digit.
fn names_an_issue(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    lower.match_indices("issue ").any(|(at, word)| {
        let rest = lower[at + word.len()..].trim_start_matches('#');
        rest.starts_with(|character: char| character.is_ascii_digit())
    })
}

#[test]
fn code_says_why_never_which_issue() {
    assert!(names_an_issue("//! The benchmark (issue 6): requests/s"));
    assert!(names_an_issue("// see Issue #12"));
    assert!(!names_an_issue("// an issue 'the client' raised"));
    let offenders: Vec<String> = workspace_sources()
        .into_iter()
        .flat_map(|path| {
            let text = fs::read_to_string(&path).unwrap_or_default();
            text.lines()
                .enumerate()
                .filter(|(_, line)| names_an_issue(line))
                .map(|(index, _)| format!("{}:{}", path.display(), index + 1))
                .collect::<Vec<_>>()
        })
        .filter(|place| !place.contains("tidy.rs"))
        .collect();
    assert!(
        offenders.is_empty(),
        "name what the code does and why, not the issue that asked for it: {offenders:?}"
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

/// What ARCHITECTURE.md names in backticks: the files (`server.rs`, `basehttp/src/machine.rs`, `bench-results/`)
/// and the types and traits (`HttpConnection`, `Ready::Write`) must exist, so the code map cannot drift from the code.
#[test]
fn architecture_names_only_what_exists() {
    let root = crate::shell::project_root();
    let text = fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let sources: String = workspace_sources()
        .into_iter()
        .filter(|path| !path.starts_with(root.join("fuzz")))
        .map(|path| fs::read_to_string(path).unwrap_or_default())
        .collect();
    let crates = [
        "socketserver",
        "basehttp",
        "simplehttp",
        "cgihttp",
        "httpclient",
        "xtask",
        "examples",
        "fuzz",
    ];
    let mut section: Option<&str> = None;
    let mut missing = Vec::new();
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("### ") {
            section = crates
                .iter()
                .copied()
                .find(|name| heading.trim().trim_matches('`') == *name);
        } else if line.starts_with("## ") {
            section = None;
        }
        for (index, quoted) in line.split('`').enumerate() {
            if index % 2 == 0 || quoted.contains(' ') || quoted.contains("://") {
                continue;
            }
            let is_path = [".rs", ".md", ".toml"]
                .iter()
                .any(|end| quoted.ends_with(end))
                || (quoted.ends_with('/') && quoted.len() > 1);
            if is_path {
                // Relative to the root, to the crate of the section, or (outside one) to any crate's sources.
                let within = |name: &str| {
                    [
                        root.join(name).join(quoted),
                        root.join(name).join("src").join(quoted),
                    ]
                };
                let found = root.join(quoted).exists()
                    || match section {
                        Some(name) => within(name).iter().any(|path| path.exists()),
                        None => crates
                            .iter()
                            .flat_map(|name| within(name))
                            .any(|path| path.exists()),
                    };
                if !found {
                    missing.push(format!("path `{quoted}` (section {section:?})"));
                }
                continue;
            }
            // A type, trait or enum of ours, alone or with a variant or method: `HttpConnection`, `Ready::Write`, `Mode::Readiness { workers }`.
            let item = quoted.split("::").next().unwrap_or("");
            let looks_like_type = item.len() > 1
                && item.starts_with(|first: char| first.is_ascii_uppercase())
                && item
                    .chars()
                    .all(|character| character.is_ascii_alphanumeric())
                && item.chars().any(|character| character.is_ascii_lowercase());
            // Python's names, header fields and std's traits, named in the prose for what they map to.
            const NOT_OURS: &[&str] = &[
                "HTTPConnection",
                "HTTPResponse",
                "MessageClass",
                "ThreadingMixIn",
                "ForkingMixIn",
                "BaseHTTPRequestHandler",
                "SimpleHTTPRequestHandler",
                "CGIHTTPRequestHandler",
                "HTTPServer",
                "ThreadingHTTPServer",
                "HTTPSServer",
                "Host",
                "Proxy",
                "Location",
                "Status",
                "Connection",
                "Copy",
                "Send",
                "Sync",
                "Drop",
                "Deref",
            ];
            if looks_like_type && !NOT_OURS.contains(&item) {
                let defined = ["struct", "enum", "trait", "type"]
                    .iter()
                    .any(|keyword| sources.contains(&format!("{keyword} {item}")))
                    // An enum's variant: `Mode::Forking` names `Forking` on a line of its own in the enum.
                    || sources.lines().any(|source| {
                        let source = source.trim_start();
                        source.starts_with(item)
                            && matches!(source[item.len()..].chars().next(), Some(',' | ' ' | '(' | '{'))
                    });
                if !defined {
                    missing.push(format!("item `{quoted}`"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names what does not exist: {missing:#?}"
    );
}
