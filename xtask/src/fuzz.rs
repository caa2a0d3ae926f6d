//! `cargo xtask fuzz [TARGET] [--runs N | --seconds S]`: runs the cargo-fuzz targets under `fuzz/`, one at a time.
//!
//! Runs on the stable compiler with `RUSTC_BOOTSTRAP=1` (cargo-fuzz's sanitizer flags are nightly-only, and no second
//! toolchain is needed); it installs cargo-fuzz if it is missing.
//! Each target runs with `-jobs=1` (libFuzzer then writes its progress to `fuzz-0.log`) and the run fails on the first crash,
//! whose input libFuzzer leaves under `fuzz/artifacts/<target>/` and this task copies into the target's corpus as
//! `regression-<name>`, to be committed so every later run replays it.
//! CI runs each target for a few seconds of wall time (`--seconds`), from the committed corpus.

use std::path::{Path, PathBuf};
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
    /// A bound on each target's time, libFuzzer's `-max_total_time`.
    pub seconds: Option<u64>,
}

pub fn parse_arguments(given: &[String]) -> Result<Request, String> {
    let mut targets = Vec::new();
    let mut runs = DEFAULT_RUNS;
    let mut seconds = None;
    let mut arguments = given.iter();
    while let Some(argument) = arguments.next() {
        if argument == "--seconds" {
            let value = arguments
                .next()
                .ok_or_else(|| "--seconds needs a number".to_owned())?;
            seconds = Some(
                value
                    .parse()
                    .map_err(|_| format!("--seconds wants a number, not `{value}`"))?,
            );
            continue;
        }
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
    // A time bound alone runs as many executions as fit.
    if seconds.is_some() && !arguments_name_runs(given) {
        runs = u64::MAX;
    }
    Ok(Request {
        targets,
        runs,
        seconds,
    })
}

fn arguments_name_runs(arguments: &[String]) -> bool {
    arguments
        .iter()
        .any(|argument| argument == "--runs" || argument.starts_with("--runs="))
}

/// The inputs libFuzzer saved for `target` that are not yet in its corpus, copied there as `regression-<name>`.
fn keep_new_artifacts(target: &str, before: &[PathBuf]) -> Vec<PathBuf> {
    let corpus = Path::new("fuzz/corpus").join(target);
    let mut kept = Vec::new();
    for artifact in artifact_paths(target) {
        if before.contains(&artifact) {
            continue;
        }
        let Some(name) = artifact.file_name() else {
            continue;
        };
        let destination = corpus.join(format!("regression-{}", name.to_string_lossy()));
        if std::fs::copy(&artifact, &destination).is_ok() {
            kept.push(destination);
        }
    }
    kept
}

/// The crash, leak, timeout and out-of-memory inputs libFuzzer has saved for `target`.
fn artifact_paths(target: &str) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(Path::new("fuzz/artifacts").join(target))
        .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
        .unwrap_or_default();
    paths.sort();
    paths
}

pub fn run(arguments: &[String]) -> Result<(), String> {
    let request = parse_arguments(arguments)?;
    if !have("cargo-fuzz") {
        exec(cargo().args(["install", "cargo-fuzz", "--locked"]))?;
    }
    for target in &request.targets {
        let before = artifact_paths(target);
        // `cargo fuzz` is a cargo subcommand found through `PATH`; the variables the outer cargo set for itself must not leak
        // into the fuzz crate's own build.
        let mut command = Command::new("cargo");
        command
            .env_remove("RUSTUP_TOOLCHAIN")
            .env_remove("RUSTC")
            .env_remove("RUSTDOC")
            .env_remove("CARGO")
            .current_dir("fuzz");
        // The sanitizer flags cargo-fuzz passes are nightly-only; the stable compiler accepts them when told to,
        // so fuzzing needs no second toolchain (the machines CI runs on may not fetch one).
        command.env("RUSTC_BOOTSTRAP", "1");
        command
            .args(["fuzz", "run", target, "--"])
            .args(["-jobs=1", "-print_final_stats=1"]);
        if request.runs != u64::MAX {
            command.arg(format!("-runs={}", request.runs));
        }
        if let Some(seconds) = request.seconds {
            command.arg(format!("-max_total_time={seconds}"));
        }
        let result = exec(&mut command);
        let kept = keep_new_artifacts(target, &before);
        if !kept.is_empty() {
            let _ = std::fs::copy("fuzz/fuzz-0.log", "fuzz/fuzz-failed.log");
            if let Ok(log) = std::fs::read_to_string("fuzz/fuzz-0.log") {
                let tail: Vec<&str> = log.lines().rev().take(40).collect();
                eprintln!("{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
            }
            return Err(format!(
                "{target}: libFuzzer found {} failing input(s), kept as regression cases: {}; commit them with the fix",
                kept.len(),
                kept.iter()
                    .map(|path| path.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        result.map_err(|error| format!("{target}: {error}; see fuzz/fuzz-0.log"))?;
        match request.seconds {
            Some(seconds) if request.runs == u64::MAX => {
                eprintln!("xtask fuzz: {target}: {seconds} s, no crash")
            }
            _ => eprintln!(
                "xtask fuzz: {target}: {} executions, no crash",
                request.runs
            ),
        }
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
        check(&["--seconds", "20"], Ok((TARGETS.to_vec(), u64::MAX)));
        check(
            &["--seconds", "20", "--runs", "7"],
            Ok((TARGETS.to_vec(), 7)),
        );
        check(&["--seconds"], Err("--seconds needs a number"));
        check(&["--seconds", "soon"], Err("not `soon`"));
        let arguments = ["chunked".to_owned(), "--seconds".to_owned(), "5".to_owned()];
        assert_eq!(parse_arguments(&arguments).unwrap().seconds, Some(5));
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

    /// The workspace must not build the fuzz crate (it needs sanitizer flags); CI fuzzes only for a bounded time, on the one toolchain
    /// it is sure to have.
    #[test]
    fn fuzzing_stays_out_of_the_workspace_and_is_bounded_in_ci() {
        let root = crate::shell::project_root();
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
        assert!(manifest.contains("exclude = [\"fuzz\"]"));
        let fuzz_manifest = std::fs::read_to_string(root.join("fuzz/Cargo.toml")).expect("fuzz");
        assert!(fuzz_manifest.contains("\n[workspace]\n"));
        let ci = std::fs::read_to_string(root.join(".ci/run")).expect(".ci/run");
        let fuzz_lines: Vec<&str> = ci
            .lines()
            .filter(|line| line.contains("xtask fuzz"))
            .collect();
        assert!(!fuzz_lines.is_empty(), ".ci/run fuzzes");
        for line in fuzz_lines {
            assert!(
                line.contains("--seconds"),
                "unbounded fuzzing in CI: {line}"
            );
        }
        // A second toolchain may be out of reach of CI's machines: only the optional MSRV check may ask for one, and
        // CI must go on without it; fuzzing never needs nightly.
        for line in ci.lines().filter(|line| line.contains("toolchain install")) {
            assert!(
                line.trim_start().starts_with("if "),
                "CI depends on fetching a toolchain: {line}"
            );
        }
        assert!(!ci.contains("+nightly"), "CI asks for nightly");
    }
}
