//! `cargo xtask fuzz [TARGET] [--runs N]`: runs the cargo-fuzz targets under `fuzz/`, one at a time.
//!
//! Needs the nightly toolchain (`cargo +nightly fuzz`), so CI never runs it; it installs cargo-fuzz if it is missing.
//! Each target runs with `-jobs=1` (libFuzzer then writes its progress to `fuzz-0.log`) and the run fails on the first crash,
//! whose input libFuzzer leaves under `fuzz/artifacts/<target>/`.

use std::path::Path;
use std::process::Command;

use crate::shell::{cargo, exec, have};

/// The targets in `fuzz/Cargo.toml`, in the order `cargo xtask fuzz` runs them.
pub const TARGETS: &[&str] = &[
    "request_head",
    "chunked",
    "response",
    "translate_path",
    "cgi_header",
    "range",
    "cgi_routing",
];

/// Executions per target when `--runs` is not given.
pub const DEFAULT_RUNS: u64 = 1_000_000;

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub targets: Vec<&'static str>,
    pub runs: u64,
}

pub fn parse_arguments(arguments: &[String]) -> Result<Request, String> {
    let mut targets = Vec::new();
    let mut runs = DEFAULT_RUNS;
    let mut arguments = arguments.iter();
    while let Some(argument) = arguments.next() {
        let value = if argument == "--runs" {
            Some(
                arguments
                    .next()
                    .ok_or_else(|| "--runs needs a number".to_owned())?
                    .as_str(),
            )
        } else {
            argument.strip_prefix("--runs=")
        };
        if let Some(value) = value {
            runs = value
                .replace('_', "")
                .parse()
                .map_err(|_| format!("--runs wants a number of executions, not `{value}`"))?;
            continue;
        }
        let Some(target) = TARGETS.iter().find(|target| *target == argument) else {
            return Err(format!(
                "unknown target `{argument}`; the targets are {}",
                TARGETS.join(", ")
            ));
        };
        if !targets.contains(target) {
            targets.push(*target);
        }
    }
    if targets.is_empty() {
        targets = TARGETS.to_vec();
    }
    Ok(Request { targets, runs })
}

/// The crash, leak, timeout and out-of-memory inputs libFuzzer has saved for `target`.
fn artifacts(target: &str) -> usize {
    std::fs::read_dir(Path::new("fuzz/artifacts").join(target))
        .map(|entries| entries.flatten().count())
        .unwrap_or(0)
}

pub fn run(arguments: &[String]) -> Result<(), String> {
    let request = parse_arguments(arguments)?;
    if !have("cargo-fuzz") {
        exec(cargo().args(["install", "cargo-fuzz"]))?;
    }
    for target in &request.targets {
        let before = artifacts(target);
        // `+nightly` is read by rustup's `cargo` proxy, not by the `$CARGO` that runs xtask, so this goes through `PATH`;
        // the variables an outer cargo set for its own toolchain must not leak into the nightly build.
        let mut command = Command::new("cargo");
        command
            .env_remove("RUSTUP_TOOLCHAIN")
            .env_remove("RUSTC")
            .env_remove("RUSTDOC")
            .env_remove("CARGO")
            .current_dir("fuzz")
            .args(["+nightly", "fuzz", "run", target, "--"])
            .arg(format!("-runs={}", request.runs))
            .args(["-jobs=1", "-print_final_stats=1"]);
        let result = exec(&mut command);
        let after = artifacts(target);
        if after > before {
            return Err(format!(
                "{target}: libFuzzer saved {} new input(s) under fuzz/artifacts/{target}/; see fuzz/fuzz-0.log",
                after - before
            ));
        }
        result.map_err(|error| format!("{target}: {error}; see fuzz/fuzz-0.log"))?;
        eprintln!(
            "xtask fuzz: {target}: {} executions, no crash",
            request.runs
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(arguments: &[&str], expected: Result<(Vec<&str>, u64), &str>) {
        let arguments: Vec<String> = arguments.iter().map(|&text| text.to_owned()).collect();
        let parsed = parse_arguments(&arguments).map(|request| (request.targets, request.runs));
        match expected {
            Ok(expected) => assert_eq!(parsed, Ok(expected)),
            Err(fragment) => {
                let error = parsed.expect_err("the arguments are refused");
                assert!(error.contains(fragment), "{error}");
            }
        }
    }

    #[test]
    fn arguments() {
        check(&[], Ok((TARGETS.to_vec(), DEFAULT_RUNS)));
        check(&["range"], Ok((vec!["range"], DEFAULT_RUNS)));
        check(
            &["--runs", "10_000_000"],
            Ok((TARGETS.to_vec(), 10_000_000)),
        );
        check(
            &["chunked", "--runs=5", "response", "chunked"],
            Ok((vec!["chunked", "response"], 5)),
        );
        check(&["nope"], Err("unknown target `nope`"));
        check(&["--runs"], Err("--runs needs a number"));
        check(&["--runs", "many"], Err("not `many`"));
    }

    /// Every target named here is a `[[bin]]` of `fuzz/Cargo.toml` with a source and committed seeds, and the other way round.
    #[test]
    fn targets_match_the_fuzz_manifest_and_corpora() {
        let root = crate::shell::project_root().join("fuzz");
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("fuzz/Cargo.toml");
        let bins: Vec<&str> = manifest
            .lines()
            .filter_map(|line| line.strip_prefix("name = \""))
            .filter_map(|rest| rest.strip_suffix('"'))
            .filter(|name| *name != "pyhttp-fuzz")
            .collect();
        assert_eq!(bins, TARGETS);
        for target in TARGETS {
            assert!(root
                .join("fuzz_targets")
                .join(format!("{target}.rs"))
                .is_file());
            let seeds = std::fs::read_dir(root.join("corpus").join(target))
                .expect("a seed corpus")
                .flatten()
                .filter(|entry| entry.file_name().to_string_lossy().starts_with("seed-"))
                .count();
            assert!(seeds >= 3, "{target} has {seeds} seeds");
        }
    }

    /// The workspace must not build the fuzz crate, and CI must not run the nightly-only task.
    #[test]
    fn fuzzing_stays_out_of_the_workspace_and_ci() {
        let root = crate::shell::project_root();
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
        assert!(manifest.contains("exclude = [\"fuzz\"]"));
        let fuzz_manifest = std::fs::read_to_string(root.join("fuzz/Cargo.toml")).expect("fuzz");
        assert!(fuzz_manifest.contains("\n[workspace]\n"));
        if let Ok(ci) = std::fs::read_to_string(root.join(".ci/run")) {
            assert!(!ci.contains("xtask fuzz"), ".ci/run must not fuzz");
        }
    }
}
