//! `cargo xtask features`: every library crate built, linted and tested with its features off and all on,
//! so a library user's `default-features = false` and a binary's full build both keep working.

use crate::shell::{cargo, exec, have};

/// The crates a user can depend on, in dependency order.
const CRATES: &[&str] = &[
    "pyhttp-socketserver",
    "pyhttp-basehttp",
    "pyhttp-simplehttp",
    "pyhttp-cgihttp",
    "pyhttp-httpclient",
];

pub fn run(extra: &[String]) -> Result<(), String> {
    if !extra.is_empty() {
        return Err("features takes no arguments".into());
    }
    for krate in CRATES {
        for features in ["--no-default-features", "--all-features"] {
            exec(cargo().args([
                "clippy",
                "-p",
                krate,
                features,
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]))?;
            let mut test = cargo();
            if have("cargo-nextest") {
                test.args(["nextest", "run", "--no-fail-fast"]);
            } else {
                test.args(["test", "--no-fail-fast"]);
            }
            exec(test.args(["-p", krate, features]))?;
        }
    }
    Ok(())
}
