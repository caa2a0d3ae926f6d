//! Project automation, run as `cargo xtask <task>` (the alias lives in `.cargo/config.toml`).
//!
//! Each task is one module; with no argument the task list is printed.

mod bench;
mod browser;
mod ci;
mod features;
mod fuzz;
mod machine;
mod mutants;
mod shell;
mod soak;
mod test;
#[cfg(test)]
mod tidy;

use std::process::ExitCode;

/// A task: its name, a one-line summary and its entry point.
struct Task {
    name: &'static str,
    summary: &'static str,
    run: fn(&[String]) -> Result<(), String>,
}

const TASKS: &[Task] = &[
    Task {
        name: "test",
        summary: "unit, integration, doc and example-smoke tests across all crates",
        run: test::run,
    },
    Task {
        name: "ci",
        summary: "fmt --check, clippy -D warnings, doc -D warnings, then test",
        run: ci::run,
    },
    Task {
        name: "features",
        summary: "each library crate linted and tested with --no-default-features and with --all-features",
        run: features::run,
    },
    Task {
        name: "bench",
        summary: "load harness against python3 and nginx (wrk), plus criterion benches",
        run: bench::run,
    },
    Task {
        name: "browser",
        summary: "a listing of odd names in headless chromium: screenshot, then every rendered link must answer 200",
        run: browser::run,
    },
    Task {
        name: "soak",
        summary: "[--duration S] [--quick] [--server NAME]... [-- ARGS]: wrk + 50 resetting clients; fds, RSS, children must not leak",
        run: soak::run,
    },
    Task {
        name: "stalls",
        summary: "[--enforce-tls] [-- ARGS]: simplehttp --timeout 2 with 1000 half heads and slowloris, then 1000/10 000 idle connections; TLS trickle and 1000 idle TLS",
        run: soak::stalls::run,
    },
    Task {
        name: "mutants",
        summary: "[FILE]... [--in-diff [BASE]] [--max N] [--in-place] [-- ARGS]: cargo-mutants -j 1, fails on a missed mutant",
        run: mutants::run,
    },
    Task {
        name: "fuzz",
        summary:
            "cargo fuzz (stable, RUSTC_BOOTSTRAP=1): [TARGET] [--runs N] [--seconds S], -jobs=1, fails on a crash",
        run: fuzz::run,
    },
];

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let Some(name) = arguments.first() else {
        print_tasks();
        return ExitCode::SUCCESS;
    };
    let Some(task) = TASKS.iter().find(|task| task.name == name) else {
        eprintln!("xtask: unknown task `{name}`");
        print_tasks();
        return ExitCode::FAILURE;
    };
    if let Err(message) = shell::enter_project_root() {
        eprintln!("xtask: {message}");
        return ExitCode::FAILURE;
    }
    match (task.run)(&arguments[1..]) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask {}: {message}", task.name);
            ExitCode::FAILURE
        }
    }
}

fn print_tasks() {
    println!("usage: cargo xtask <task> [options]\n\ntasks:");
    for task in TASKS {
        println!("  {:<8} {}", task.name, task.summary);
    }
}
