//! `cargo xtask bench`: the load harness and the criterion benches.
//!
//! The load harness arrives with the HTTP crates (issue 3); until then this runs the criterion benches.

use crate::shell::{cargo, exec};

pub fn run(extra: &[String]) -> Result<(), String> {
    exec(cargo().args(["bench", "--workspace"]).args(extra))
}
