//! `cargo xtask ci`: what CI checks, in the order that fails fastest.

use crate::shell::{cargo, exec};

pub fn run(extra: &[String]) -> Result<(), String> {
    // `--checks-only` leaves the tests out, for .ci/run, which then runs the README's test command itself.
    let checks_only = match extra {
        [] => false,
        [flag] if flag == "--checks-only" => true,
        _ => return Err("ci takes no arguments but --checks-only".into()),
    };
    exec(cargo().args(["fmt", "--all", "--check"]))?;
    exec(cargo().args([
        "clippy",
        "--workspace",
        "--all-features",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    exec(
        cargo()
            .args(["doc", "--workspace", "--all-features", "--no-deps"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )?;
    if checks_only {
        return Ok(());
    }
    crate::test::run_tests(&[])
}
