//! `cargo xtask features`: every library crate built and linted on its own with its features off, and tested that way when
//! it has features to turn off, so a library user's `default-features = false` keeps working.
//!
//! The other end of the matrix, every feature on, is `cargo xtask test` and `cargo xtask ci` themselves: they pass
//! `--workspace --all-features`, so running each crate's tests again with `--all-features` would repeat them unit for unit.

use std::path::Path;

use crate::shell::{cargo, exec, have};

/// The crates a user can depend on, in dependency order, with the directory each lives in.
const CRATES: &[(&str, &str)] = &[
    ("pyhttp-socketserver", "socketserver"),
    ("pyhttp-basehttp", "basehttp"),
    ("pyhttp-simplehttp", "simplehttp"),
    ("pyhttp-cgihttp", "cgihttp"),
    ("pyhttp-httpclient", "httpclient"),
];

/// Whether the crate's manifest declares features; without any, its featureless build is the one the workspace tests ran.
fn declares_features(directory: &str) -> Result<bool, String> {
    let manifest = Path::new(directory).join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .map_err(|error| format!("cannot read {}: {error}", manifest.display()))?;
    Ok(text.lines().any(|line| line.trim() == "[features]"))
}

pub fn run(extra: &[String]) -> Result<(), String> {
    if !extra.is_empty() {
        return Err("features takes no arguments".into());
    }
    for &(krate, directory) in CRATES {
        // On its own, so a dependency feature only a sibling crate turns on cannot hide a missing one in this manifest.
        exec(cargo().args([
            "clippy",
            "-p",
            krate,
            "--no-default-features",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))?;
        if !declares_features(directory)? {
            continue;
        }
        let mut test = cargo();
        if have("cargo-nextest") {
            test.args(["nextest", "run", "--no-fail-fast"]);
        } else {
            test.args(["test", "--no-fail-fast"]);
        }
        exec(test.args(["-p", krate, "--no-default-features"]))?;
    }
    Ok(())
}
