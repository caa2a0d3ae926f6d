//! `cargo xtask test`: every test of every crate.
//!
//! Unit and integration tests, example smoke tests (the `examples` package's tests start the built examples) and doc tests.
//! Benches are left to `cargo xtask bench`: a `harness = false` bench is not a test binary.
//! Extra arguments go to the test runner, so `cargo xtask test -p pyhttp-basehttp` narrows the run.

use crate::shell::{cargo, exec, have};

pub fn run_tests(extra: &[String]) -> Result<(), String> {
    let narrowed = !extra.is_empty();
    // The smoke tests start the example programs, so they must exist as ordinary binaries under target/debug/examples.
    exec(cargo().args(["build", "--workspace", "--all-features", "--examples"]))?;
    if have("cargo-nextest") {
        let mut command = cargo();
        command.args([
            "nextest",
            "run",
            "--lib",
            "--bins",
            "--tests",
            "--no-fail-fast",
        ]);
        if !narrowed {
            command.args(["--workspace", "--all-features"]);
        }
        exec(command.args(extra))?;
    } else {
        let mut command = cargo();
        command.args(["test", "--lib", "--bins", "--tests", "--no-fail-fast"]);
        if !narrowed {
            command.args(["--workspace", "--all-features"]);
        }
        exec(command.args(extra))?;
    }
    // nextest does not run doc tests; cargo test --doc does.
    let mut doc = cargo();
    doc.args(["test", "--doc"]);
    if !narrowed {
        doc.args(["--workspace", "--all-features"]);
    }
    exec(doc.args(extra))
}

pub fn run(extra: &[String]) -> Result<(), String> {
    run_tests(extra)
}
