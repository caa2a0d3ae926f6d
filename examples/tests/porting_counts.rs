//! Keeps PORTING.md true: each recipe shows the Python original and its port exactly as the files hold them,
//! and the line-count table says what the files count, every port within 1.5 times its Python's lines
//! counting every non-blank, non-comment line (lines of closing brackets alone too).

use std::fs;
use std::path::{Path, PathBuf};

const PORTS: [&str; 5] = [
    "rest_api",
    "auth_server",
    "cors_server",
    "upload_server",
    "forking_lines",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn read(path: &str) -> String {
    fs::read_to_string(root().join(path)).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// The lines PORTING.md counts, and all non-blank, non-comment lines: see its "Line counts".
fn count(text: &str, comment: &str) -> (usize, usize) {
    let mut code = 0;
    let mut raw = 0;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with(comment) {
            continue;
        }
        raw += 1;
        let closing = line.trim_end_matches([';', ',']);
        if !closing.is_empty()
            && closing
                .chars()
                .all(|character| matches!(character, '}' | ')' | ']'))
        {
            continue;
        }
        code += 1;
    }
    (code, raw)
}

/// An example's source without its leading `//!` documentation, as its recipe shows it.
fn shown_code(source: &str) -> String {
    let mut lines = source.lines().skip_while(|line| line.starts_with("//!"));
    let mut shown: Vec<&str> = Vec::new();
    for line in lines.by_ref() {
        if !(shown.is_empty() && line.is_empty()) {
            shown.push(line);
        }
    }
    shown.join("\n").trim_end().to_owned()
}

/// The body of the first fenced block opened by `fence` after `heading` in `text`.
fn block_after<'a>(text: &'a str, heading: &str, fence: &str) -> &'a str {
    let section = &text[text
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading:?}"))..];
    let start = section
        .find(fence)
        .unwrap_or_else(|| panic!("no {fence} after {heading}"))
        + fence.len();
    let body = section[start..].trim_start_matches('\n');
    let end = body.find("\n```").expect("closing fence");
    &body[..end]
}

#[test]
fn recipes_show_the_files_as_they_are() {
    let guide = read("PORTING.md");
    for name in PORTS {
        let heading = format!("### {name}.py:");
        let python = read(&format!("examples/python/{name}.py"));
        assert_eq!(
            block_after(&guide, &heading, "```python"),
            python.trim_end(),
            "PORTING.md's {name}.py"
        );
        let rust = read(&format!("examples/{name}.rs"));
        assert_eq!(
            block_after(&guide, &heading, "```rust,no_run"),
            shown_code(&rust),
            "PORTING.md's {name}.rs"
        );
    }
}

#[test]
fn the_line_count_table_is_true_and_within_one_and_a_half_times() {
    let guide = read("PORTING.md");
    for name in PORTS {
        let (python, python_raw) = count(&read(&format!("examples/python/{name}.py")), "#");
        assert_eq!(
            python, python_raw,
            "{name}.py has no lines of closing brackets alone"
        );
        let (rust, rust_raw) = count(&read(&format!("examples/{name}.rs")), "//");
        let row = format!(
            "| [{name}.py](examples/python/{name}.py) → [{name}.rs](examples/{name}.rs) | {python} | {rust} | {:.2} | {rust_raw} | {:.2} |",
            rust as f64 / python as f64,
            rust_raw as f64 / python as f64,
        );
        assert!(
            guide.contains(&row),
            "PORTING.md should have the row\n{row}"
        );
        assert!(
            rust_raw * 2 <= python * 3,
            "{name}: {rust_raw} lines of Rust, lines of closing brackets alone included, for {python} of Python"
        );
    }
}
