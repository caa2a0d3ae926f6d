//! `cargo xtask mutants [FILE]... [--in-diff [BASE]] [--max N] [--in-place] [-- CARGO-MUTANTS-ARGS]`: mutation testing.
//!
//! Runs cargo-mutants (installed when missing) one job at a time over the parsing, framing, path and range code
//! ([`FILES`]) or the files given, prints caught / missed / timeout / unviable per file, and fails on a missed mutant.
//! Mutants that cannot change behaviour are excluded in `.cargo/mutants.toml`, each with its reason, so every miss is a new one.
//!
//! `--in-diff` tests only the code changed since the merge base with `main` (on `main` itself, since the previous commit),
//! which is what CI runs; `--max N` then tests an even sample of at most N of those mutants, to keep CI's time bounded.
//! Without `--in-place` the mutants are built in a copy of the tree, with the build directory `target/mutants-build`
//! kept between runs; `--in-place` (what CI uses, in its fresh clone) mutates the tree itself and restores each file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::shell::{cargo, exec, have};

/// The files whose every mutant must be caught (or listed in `.cargo/mutants.toml`).
pub const FILES: &[&str] = &[
    "basehttp/src/parse.rs",
    "basehttp/src/body.rs",
    "simplehttp/src/url_path.rs",
    "simplehttp/src/range.rs",
];

/// Where cargo-mutants writes `mutants.out`.
const OUTPUT: &str = "target/mutants";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub files: Vec<String>,
    /// `Some(None)`: the merge base with `main`; `Some(Some(base))`: a revision given.
    pub in_diff: Option<Option<String>>,
    pub max: Option<usize>,
    pub in_place: bool,
    pub extra: Vec<String>,
}

pub fn parse_arguments(arguments: &[String]) -> Result<Request, String> {
    let mut request = Request {
        files: Vec::new(),
        in_diff: None,
        max: None,
        in_place: false,
        extra: Vec::new(),
    };
    let mut arguments = arguments.iter().peekable();
    while let Some(argument) = arguments.next() {
        match argument.as_str() {
            "--" => {
                request.extra = arguments.cloned().collect();
                break;
            }
            "--in-diff" => {
                let base = arguments
                    .next_if(|next| !next.starts_with('-') && !next.ends_with(".rs"))
                    .cloned();
                request.in_diff = Some(base);
            }
            "--max" => {
                let value = arguments
                    .next()
                    .ok_or_else(|| "--max needs a number of mutants".to_owned())?;
                let max = value
                    .parse()
                    .map_err(|_| format!("--max wants a number of mutants, not `{value}`"))?;
                if max == 0 {
                    return Err("--max must be at least 1".into());
                }
                request.max = Some(max);
            }
            "--in-place" => request.in_place = true,
            flag if flag.starts_with('-') => {
                return Err(format!(
                    "unknown option `{flag}`; cargo-mutants' own options go after `--`"
                ))
            }
            file => request.files.push(file.to_owned()),
        }
    }
    if request.files.is_empty() && request.in_diff.is_none() {
        request.files = FILES.iter().map(|&file| file.to_owned()).collect();
    }
    Ok(request)
}

/// The outcome lists cargo-mutants writes, in the order they are printed.
const OUTCOMES: [&str; 4] = ["caught", "missed", "timeout", "unviable"];

/// Counts of each outcome per file, from the `<outcome>.txt` files of a `mutants.out` directory
/// (one mutant per line, `path:line:column: description`).
pub fn count_outcomes(read: impl Fn(&str) -> String) -> BTreeMap<String, [usize; 4]> {
    let mut counts: BTreeMap<String, [usize; 4]> = BTreeMap::new();
    for (index, outcome) in OUTCOMES.iter().enumerate() {
        for line in read(outcome).lines().filter(|line| !line.trim().is_empty()) {
            let file = line.split(':').next().unwrap_or(line).to_owned();
            counts.entry(file).or_default()[index] += 1;
        }
    }
    counts
}

/// The table printed at the end of a run.
pub fn format_counts(counts: &BTreeMap<String, [usize; 4]>) -> String {
    let mut text = format!(
        "{:<32} {:>7} {:>7} {:>7} {:>8}\n",
        "file", OUTCOMES[0], OUTCOMES[1], OUTCOMES[2], OUTCOMES[3]
    );
    for (file, [caught, missed, timeout, unviable]) in counts {
        text.push_str(&format!(
            "{file:<32} {caught:>7} {missed:>7} {timeout:>7} {unviable:>8}\n"
        ));
    }
    text
}

fn git(arguments: &[&str]) -> Result<String, String> {
    let output = Command::new("git")
        .args(arguments)
        .output()
        .map_err(|error| format!("cannot run git: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "`git {}` failed: {}",
            arguments.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The revision a diff starts from: the given one, or the merge base with `main`, or, on `main` itself, the commit before;
/// `None` when there is none (a shallow clone, or the first commit).
fn diff_base(given: Option<&str>) -> Result<Option<String>, String> {
    if let Some(base) = given {
        return Ok(Some(base.to_owned()));
    }
    let head = git(&["rev-parse", "HEAD"])?;
    let merge_base = git(&["merge-base", "HEAD", "main"]).unwrap_or_else(|_| head.clone());
    if merge_base != head {
        return Ok(Some(merge_base));
    }
    Ok(git(&["rev-parse", "--verify", "--quiet", "HEAD~1"]).ok())
}

/// Whether a changed path is code cargo-mutants would mutate (`.cargo/mutants.toml` leaves out xtask and examples; fuzz is no member).
fn is_mutated_source(path: &str) -> bool {
    path.ends_with(".rs")
        && !path.starts_with("xtask/")
        && !path.starts_with("examples/")
        && !path.starts_with("fuzz/")
        && !path.contains("/tests/")
        && !path.contains("/benches/")
}

/// cargo-mutants with the options every run shares.
fn cargo_mutants(request: &Request) -> Command {
    let mut command = cargo();
    command.args(["mutants", "--output", OUTPUT]);
    if have("cargo-nextest") {
        command.args(["--test-tool", "nextest"]);
    }
    if request.in_place {
        // One tree holds one mutant at a time; cargo-mutants refuses `--jobs` with it.
        command.arg("--in-place");
    } else {
        // One build at a time: the machine is shared, and each build uses every core anyway.
        command.args(["--jobs", "1"]);
        command.env(
            "CARGO_TARGET_DIR",
            crate::shell::project_root().join("target/mutants-build"),
        );
    }
    for file in &request.files {
        command.args(["--file", file]);
    }
    command
}

/// How many mutants a command would test, from `--list`.
fn count_listed(mut command: Command) -> Result<usize, String> {
    let output = command
        .arg("--list")
        .output()
        .map_err(|error| format!("cannot run cargo mutants --list: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo mutants --list failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .count())
}

/// The shard of `shards` that a run tests: picked from the commit, so reruns agree and successive commits see other mutants.
fn pick_shard(shards: usize) -> usize {
    let head = git(&["rev-parse", "HEAD"]).unwrap_or_default();
    let seed = head.bytes().fold(0usize, |seed, byte| {
        seed.wrapping_mul(31).wrapping_add(usize::from(byte))
    });
    seed % shards
}

pub fn run(arguments: &[String]) -> Result<(), String> {
    let request = parse_arguments(arguments)?;
    let install = || -> Result<(), String> {
        if !have("cargo-mutants") {
            exec(cargo().args(["install", "cargo-mutants", "--locked"]))?;
        }
        Ok(())
    };
    if request.in_diff.is_none() {
        install()?;
    }
    let mut diff_file = None;
    if let Some(given) = &request.in_diff {
        let Some(base) = diff_base(given.as_deref())? else {
            eprintln!("xtask mutants: no earlier commit to compare with (a shallow clone?), nothing to test");
            return Ok(());
        };
        let diff = git(&["diff", &base])?;
        let changed = git(&["diff", "--name-only", &base])?;
        if !changed.lines().any(is_mutated_source) {
            eprintln!(
                "xtask mutants: no library or binary source changed since {base}, nothing to test"
            );
            return Ok(());
        }
        // Installed only now: a change to docs or automation costs CI no build of cargo-mutants.
        install()?;
        let path = PathBuf::from("target/mutants-diff.patch");
        std::fs::create_dir_all("target").map_err(|error| format!("target: {error}"))?;
        std::fs::write(&path, format!("{diff}\n"))
            .map_err(|error| format!("{}: {error}", path.display()))?;
        eprintln!("xtask mutants: testing the code changed since {base}");
        diff_file = Some(path);
    }
    let with_diff = |mut command: Command| {
        if let Some(path) = &diff_file {
            command.arg("--in-diff").arg(path);
        }
        command
    };
    let mut command = with_diff(cargo_mutants(&request));
    if let Some(max) = request.max {
        let listed = count_listed(with_diff(cargo_mutants(&request)))?;
        if listed == 0 {
            eprintln!("xtask mutants: the change holds no mutant");
            return Ok(());
        }
        let shards = listed.div_ceil(max);
        if shards > 1 {
            let shard = pick_shard(shards);
            eprintln!(
                "xtask mutants: {listed} mutants, more than --max {max}: testing every {shards}th (shard {shard}/{shards})"
            );
            command.args([
                "--shard",
                &format!("{shard}/{shards}"),
                "--sharding",
                "round-robin",
            ]);
        }
    }
    command.args(&request.extra);
    // cargo-mutants exits 2 when a mutant is missed and 3 on a timeout; the lists it writes say which, so they decide.
    eprintln!("$ cargo mutants ... (see {OUTPUT}/mutants.out/)");
    let status = command
        .status()
        .map_err(|error| format!("cannot start cargo mutants: {error}"))?;
    let directory = Path::new(OUTPUT).join("mutants.out");
    let counts = count_outcomes(|outcome| {
        std::fs::read_to_string(directory.join(format!("{outcome}.txt"))).unwrap_or_default()
    });
    print!("{}", format_counts(&counts));
    if !matches!(status.code(), Some(0 | 2 | 3)) {
        return Err(format!(
            "cargo mutants failed ({status}); see {}",
            directory.join("debug.log").display()
        ));
    }
    let missed: usize = counts.values().map(|counts| counts[1]).sum();
    if missed > 0 {
        let list = std::fs::read_to_string(directory.join("missed.txt")).unwrap_or_default();
        return Err(format!(
            "{missed} mutant(s) survived; kill each with a test, or list it with its reason in .cargo/mutants.toml:\n{list}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(arguments: &[&str]) -> Result<Request, String> {
        let arguments: Vec<String> = arguments.iter().map(|&text| text.to_owned()).collect();
        parse_arguments(&arguments)
    }

    #[test]
    fn arguments() {
        let request = parse(&[]).unwrap();
        assert_eq!(request.files, FILES);
        assert_eq!(
            (request.in_diff, request.max, request.in_place),
            (None, None, false)
        );
        let request =
            parse(&["basehttp/src/headers.rs", "--in-place", "--", "-F", "parse"]).unwrap();
        assert_eq!(request.files, ["basehttp/src/headers.rs"]);
        assert!(request.in_place);
        assert_eq!(request.extra, ["-F", "parse"]);
        let request = parse(&["--in-diff", "--max", "40"]).unwrap();
        assert_eq!(request.in_diff, Some(None));
        assert!(
            request.files.is_empty(),
            "a diff alone tests what it touches"
        );
        assert_eq!(request.max, Some(40));
        let request = parse(&["--in-diff", "origin/main", "basehttp/src/body.rs"]).unwrap();
        assert_eq!(request.in_diff, Some(Some("origin/main".to_owned())));
        assert_eq!(request.files, ["basehttp/src/body.rs"]);
        // A source file right after --in-diff is a file to test, not a base.
        let request = parse(&["--in-diff", "basehttp/src/body.rs"]).unwrap();
        assert_eq!(request.in_diff, Some(None));
        assert_eq!(request.files, ["basehttp/src/body.rs"]);
        assert!(parse(&["--max"]).unwrap_err().contains("needs a number"));
        assert!(parse(&["--max", "0"]).unwrap_err().contains("at least 1"));
        assert!(parse(&["--max", "x"]).unwrap_err().contains("not `x`"));
        assert!(parse(&["--jobs"]).unwrap_err().contains("after `--`"));
    }

    #[test]
    fn outcomes_are_counted_per_file() {
        let counts = count_outcomes(|outcome| match outcome {
            "caught" => "a.rs:1:1: replace x\na.rs:2:1: replace y\nb.rs:3:3: delete z\n".to_owned(),
            "missed" => "b.rs:4:4: replace w\n\n".to_owned(),
            "timeout" => "a.rs:9:9: replace loop\n".to_owned(),
            _ => String::new(),
        });
        assert_eq!(counts["a.rs"], [2, 0, 1, 0]);
        assert_eq!(counts["b.rs"], [1, 1, 0, 0]);
        let table = format_counts(&counts);
        assert!(table.starts_with("file"), "{table}");
        assert!(table.contains("\na.rs"), "{table}");
        assert_eq!(table.lines().count(), 3);
    }

    /// Every listed file exists, and every exclusion in the config carries a reason on the line before it.
    #[test]
    fn files_exist_and_exclusions_give_reasons() {
        let root = crate::shell::project_root();
        for file in FILES {
            assert!(root.join(file).is_file(), "{file}");
        }
        let config = std::fs::read_to_string(root.join(".cargo/mutants.toml")).expect("config");
        let lines: Vec<&str> = config.lines().collect();
        for (index, line) in lines.iter().enumerate() {
            let line = line.trim();
            if line.starts_with('"') || line.starts_with('\'') {
                let previous = lines[..index]
                    .iter()
                    .rev()
                    .map(|line| line.trim())
                    .find(|line| !line.is_empty())
                    .unwrap_or("");
                assert!(
                    previous.starts_with('#') || previous.starts_with("exclude_re"),
                    "exclusion without a reason: {line}"
                );
            }
        }
    }
}
