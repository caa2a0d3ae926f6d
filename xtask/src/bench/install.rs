//! Finding wrk, nginx and python3, installing the missing ones with apt-get, and reading their versions.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::shell::{exec, have};

/// A program the harness needs and the Debian package that brings it.
const TOOLS: &[(&str, &str)] = &[
    ("wrk", "wrk"),
    ("nginx", "nginx-light"),
    ("python3", "python3"),
    ("taskset", "util-linux"),
    ("openssl", "openssl"),
];

/// nginx lives in sbin, which is not always on `PATH`.
const SBIN: &[&str] = &["/usr/sbin", "/usr/local/sbin", "/sbin"];

fn found(program: &str) -> bool {
    have(program)
        || SBIN
            .iter()
            .any(|directory| Path::new(directory).join(program).is_file())
}

/// Installs whatever the harness needs and is missing.
pub fn ensure_tools() -> Result<(), String> {
    ensure(TOOLS)
}

/// Installs those of `tools` (program, Debian package) that are missing: one `apt-get update`, then one `apt-get install -y`.
pub fn ensure(tools: &[(&str, &str)]) -> Result<(), String> {
    let missing: Vec<&str> = tools
        .iter()
        .filter(|(program, _)| !found(program))
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing {}", missing.join(", "));
    if !have("apt-get") {
        return Err(format!(
            "missing {} and no apt-get to install them",
            missing.join(", ")
        ));
    }
    exec(Command::new("apt-get").arg("update"))?;
    exec(
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    match tools.iter().find(|(program, _)| !found(program)) {
        Some((program, _)) => Err(format!("{program} is still missing after apt-get install")),
        None => Ok(()),
    }
}

/// The nginx to run: from `PATH`, else from an sbin directory.
pub fn nginx_program() -> PathBuf {
    if have("nginx") {
        return "nginx".into();
    }
    SBIN.iter()
        .map(|directory| Path::new(directory).join("nginx"))
        .find(|path| path.is_file())
        .unwrap_or_else(|| "nginx".into())
}

/// The first line a program prints about its version, from stdout or stderr, whatever its exit status.
fn first_line(program: &Path, arguments: &[&str], prefix: &str) -> String {
    let Ok(output) = Command::new(program).args(arguments).output() else {
        return "not found".into();
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    text.lines()
        .map(str::trim)
        .find(|line| line.starts_with(prefix))
        .map(|line| {
            // wrk 4.1.0 [epoll] Copyright (C) 2012 Will Glozer
            line.split(" Copyright").next().unwrap_or(line).to_owned()
        })
        .unwrap_or_else(|| "unknown".into())
}

/// `wrk 4.1.0 [epoll]`, `nginx version: nginx/1.22.1`, `Python 3.11.7`, `OpenSSL 3.0.19 27 Jan 2026` (wrk's and nginx's TLS).
pub fn versions() -> [String; 4] {
    [
        first_line(Path::new("wrk"), &["-v"], "wrk"),
        first_line(&nginx_program(), &["-v"], "nginx version"),
        first_line(Path::new("python3"), &["--version"], "Python"),
        // `OpenSSL 3.0.19 27 Jan 2026 (Library: OpenSSL 3.0.19 27 Jan 2026)`: the library repeats the version.
        first_line(Path::new("openssl"), &["version"], "OpenSSL")
            .split(" (Library")
            .next()
            .unwrap_or_default()
            .to_owned(),
    ]
}
