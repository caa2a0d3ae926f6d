//! `cargo xtask ci`: what CI checks, in the order that fails fastest.

use crate::shell::{cargo, exec};

pub fn run(extra: &[String]) -> Result<(), String> {
    if !extra.is_empty() {
        return Err("ci takes no arguments".into());
    }
    exec(cargo().args(["fmt", "--all", "--check"]))?;
    exec(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    exec(
        cargo()
            .args(["doc", "--workspace", "--no-deps"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )?;
    crate::test::run_tests(&[])
}
